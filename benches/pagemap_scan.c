/*
 * What one PAGEMAP_SCAN ioctl costs, the call wasmtime's pooling allocator
 * makes to find the pages a guest wrote when it resets a slot (see
 * vendor/README.md). A mapping laid out like a slot: anonymous memory with
 * an "image" mapped from a memfd over part of it; some image pages only
 * read (present, file-backed), some written (private copies), some zero
 * pages read. Each line times the same scan many times.
 *
 *   benches/pagemap_scan.sh          (builds this with cc and runs it)
 *
 * Linux 6.7+ (the ioctl; its structures are in pagemap_scan.h).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pagemap_scan.h"

#define SLOT_PAGES 528 /* a Rust guest's 33 Wasm pages */
#define IMAGE_AT 256
#define IMAGE_PAGES 256
#define REPS 20000

static int pagemap;

/* Median of 5 runs of REPS scans, in ns a scan. */
static double scan_ns(char *base, size_t pages, int ask_file)
{
	struct page_region regions[32];
	struct pm_scan_arg a;
	double runs[5];
	memset(&a, 0, sizeof a);
	a.size = sizeof a;
	a.start = (uint64_t)base;
	a.end = (uint64_t)base + pages * PAGE;
	a.vec = (uint64_t)regions;
	a.vec_len = 32;
	/* wasmtime's question: present, written, not the zero page, not a file page */
	a.category_mask = PAGE_IS_WRITTEN | PAGE_IS_PRESENT | PAGE_IS_PFNZERO | (ask_file ? PAGE_IS_FILE : 0);
	a.category_inverted = PAGE_IS_PFNZERO | (ask_file ? PAGE_IS_FILE : 0);
	for (int r = 0; r < 5; r++) {
		double t0 = now_ns();
		for (int i = 0; i < REPS; i++)
			if (ioctl(pagemap, PAGEMAP_SCAN, &a) < 0) {
				perror("PAGEMAP_SCAN");
				exit(1);
			}
		runs[r] = (now_ns() - t0) / REPS;
	}
	return median5(runs);
}

/* A fresh slot-like mapping, 2 MiB aligned, with the image mapped in. */
static char *slot(int memfd)
{
	char *raw = mmap(NULL, SLOT_PAGES * PAGE + (4UL << 20), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *base = (char *)(((uintptr_t)raw + (2UL << 20) - 1) & ~((2UL << 20) - 1));
	if (raw == MAP_FAILED || mprotect(base, SLOT_PAGES * PAGE, PROT_READ | PROT_WRITE) ||
	    mmap(base + IMAGE_AT * PAGE, IMAGE_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, memfd, 0) == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return base;
}

int main(void)
{
	volatile char sink = 0;
	char page[PAGE];
	int memfd = memfd_create("image", 0);
	pagemap = open("/proc/self/pagemap", O_RDONLY);
	if (memfd < 0 || pagemap < 0) {
		perror("open");
		return 1;
	}
	memset(page, 7, sizeof page);
	for (int i = 0; i < IMAGE_PAGES; i++)
		if (pwrite(memfd, page, PAGE, i * PAGE) != (ssize_t)PAGE)
			return 1;

	printf("PAGEMAP_SCAN over a %lu-page slot (%d image pages), median of 5 x %d scans\n",
	       (unsigned long)SLOT_PAGES, IMAGE_PAGES, REPS);
	printf("%-52s %12s %12s\n", "slot state", "with FILE", "without FILE");

	char *a = slot(memfd);
	printf("%-52s %9.0f ns %9.0f ns\n", "nothing touched (no page table)", scan_ns(a, SLOT_PAGES, 1), scan_ns(a, SLOT_PAGES, 0));
	a[0] = 1;
	printf("%-52s %9.0f ns %9.0f ns\n", "1 page written (a page table of 512 entries)", scan_ns(a, SLOT_PAGES, 1), scan_ns(a, SLOT_PAGES, 0));
	for (int i = 0; i < 64; i++)
		sink += a[(IMAGE_AT + i) * PAGE];
	printf("%-52s %9.0f ns %9.0f ns\n", "+ 64 image pages read (present, file-backed)", scan_ns(a, SLOT_PAGES, 1), scan_ns(a, SLOT_PAGES, 0));
	for (int i = 64; i < IMAGE_PAGES; i++)
		sink += a[(IMAGE_AT + i) * PAGE];
	printf("%-52s %9.0f ns %9.0f ns\n", "+ all 256 image pages read", scan_ns(a, SLOT_PAGES, 1), scan_ns(a, SLOT_PAGES, 0));
	for (int i = 0; i < 64; i++)
		a[(IMAGE_AT + i * 4) * PAGE] = 1;
	printf("%-52s %9.0f ns %9.0f ns\n", "+ 64 of them written (private copies)", scan_ns(a, SLOT_PAGES, 1), scan_ns(a, SLOT_PAGES, 0));
	(void)sink;
	printf("(without FILE the scan cannot tell an image page only read from one written: shown for its cost)\n");
	return 0;
}
