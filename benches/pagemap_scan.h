/*
 * What benches/pagemap_scan.c and benches/uffd_reset.c share: the
 * PAGEMAP_SCAN ioctl's structures (Linux 6.7+; declared here because older
 * kernel headers, Debian 12's, do not have them), a monotonic clock and a
 * median of five runs.
 */
#ifndef PG_WASM_PAGEMAP_SCAN_H
#define PG_WASM_PAGEMAP_SCAN_H

#include <stdint.h>
#include <sys/ioctl.h>
#include <time.h>

struct page_region { uint64_t start, end, categories; };
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_PFNZERO (1 << 5)
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)

#define PAGE 4096UL

static inline double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

/* The median of five runs (sorts them in place). */
static inline double median5(double runs[5])
{
	for (int i = 0; i < 5; i++)
		for (int j = i + 1; j < 5; j++)
			if (runs[j] < runs[i]) {
				double t = runs[i];
				runs[i] = runs[j];
				runs[j] = t;
			}
	return runs[2];
}

#endif
