/*
 * Would userfaultfd write-protection make a kept instance's reset cheaper?
 * A statement's reset as the pooling allocator does it today against the
 * same reset with exact dirty tracking, on a mapping laid out like the
 * JavaScript engine's slot (352 pages, all of them an image mapped from a
 * memfd and read by every statement; EVER of them written at some time,
 * WRITE of them by this statement).
 *
 *   today:  PAGEMAP_SCAN for present private pages (the FILE question
 *           tells an image page only read from a private copy), then the
 *           image copied back over each: a page once written is copied
 *           at every reset, written again or not.
 *   uffd:   the range registered for asynchronous write-protection
 *           (UFFD_FEATURE_WP_ASYNC, Linux 6.7+; unprivileged processes
 *           with UFFD_USER_MODE_ONLY); the kernel resolves the fault on
 *           a protected page's first write and marks it; the reset asks
 *           only for WRITTEN pages (no FILE lookups), copies them back and
 *           protects them again (a second scan with PM_SCAN_WP_MATCHING).
 *           Each page a statement writes costs a fault.
 *
 *   benches/uffd_reset.sh          (builds this with cc and runs it)
 *
 * The ioctl's structures are in pagemap_scan.h.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pagemap_scan.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

#define PAGES 352
#define EVER 32
#define REPS 5000

static int pagemap;
static char image[PAGES * PAGE];

/* One scan; copies the image back over each page found when `copy`. */
static void scan(char *base, uint64_t flags, uint64_t inverted, uint64_t mask, int copy)
{
	struct page_region r[PAGES];
	struct pm_scan_arg a;
	memset(&a, 0, sizeof a);
	a.size = sizeof a;
	a.flags = flags;
	a.start = (uint64_t)base;
	a.end = (uint64_t)base + PAGES * PAGE;
	a.vec = (uint64_t)r;
	a.vec_len = PAGES;
	a.category_inverted = inverted;
	a.category_mask = mask;
	a.return_mask = mask;
	long n = ioctl(pagemap, PAGEMAP_SCAN, &a);
	if (n < 0) {
		perror("PAGEMAP_SCAN");
		exit(1);
	}
	for (long i = 0; copy && i < n; i++)
		memcpy((char *)r[i].start, image + (r[i].start - (uint64_t)base), r[i].end - r[i].start);
}

static void reset_today(char *base)
{
	scan(base, 0, PAGE_IS_PFNZERO | PAGE_IS_FILE,
	     PAGE_IS_WRITTEN | PAGE_IS_PRESENT | PAGE_IS_PFNZERO | PAGE_IS_FILE, 1);
}

static void reset_uffd(char *base)
{
	scan(base, 0, 0, PAGE_IS_WRITTEN, 1);
	scan(base, PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, 0, PAGE_IS_WRITTEN, 0);
}

/* The EVER pages some statement writes, spread over the mapping. */
static size_t page_no(int i) { return (size_t)(i * 11) % PAGES; }

/* Median of 5 runs of REPS statements (write `write` pages, reset), in µs. */
static double statement_us(char *base, int write, void (*reset)(char *))
{
	double runs[5];
	for (int r = 0; r < 5; r++) {
		double t0 = now_ns();
		for (int k = 0; k < REPS; k++) {
			for (int i = 0; i < write; i++)
				base[page_no(i) * PAGE + (k % 4000)] = (char)k;
			reset(base);
		}
		runs[r] = (now_ns() - t0) / REPS / 1000;
	}
	return median5(runs);
}

static char *slot(int memfd)
{
	volatile char sink = 0;
	char *base = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, memfd, 0);
	if (base == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	for (size_t i = 0; i < PAGES; i++)
		sink += base[i * PAGE];
	(void)sink;
	return base;
}

int main(void)
{
	pagemap = open("/proc/self/pagemap", O_RDONLY);
	int memfd = memfd_create("image", 0);
	for (size_t i = 0; i < sizeof image; i++)
		image[i] = (char)(i * 7 + 1);
	if (pagemap < 0 || memfd < 0 || pwrite(memfd, image, sizeof image, 0) != (ssize_t)sizeof image) {
		perror("setup");
		return 1;
	}

	char *today = slot(memfd);
	for (int i = 0; i < EVER; i++)
		today[page_no(i) * PAGE] = 1;

	char *tracked = slot(memfd);
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC};
	struct uffdio_register reg = {.range = {(uint64_t)tracked, PAGES * PAGE}, .mode = UFFDIO_REGISTER_MODE_WP};
	struct uffdio_writeprotect wp = {.range = {(uint64_t)tracked, PAGES * PAGE}, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg) ||
	    ioctl(uffd, UFFDIO_WRITEPROTECT, &wp)) {
		perror("userfaultfd");
		return 1;
	}
	for (int i = 0; i < EVER; i++)
		tracked[page_no(i) * PAGE] = 1;
	reset_uffd(tracked);

	printf("a statement's reset, %d-page slot all read, %d pages ever written; median of 5 x %d statements\n",
	       PAGES, EVER, REPS);
	printf("%-34s %12s %16s\n", "pages the statement writes", "today (µs)", "userfaultfd (µs)");
	for (int w = 1; w <= EVER; w *= 2)
		printf("%-34d %12.2f %16.2f\n", w, statement_us(today, w, reset_today),
		       statement_us(tracked, w, reset_uffd));
	return 0;
}
