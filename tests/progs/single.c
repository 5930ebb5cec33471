/*
 * Description: a program started without dsmexec is a job of one rank that
 * owns the whole region.
 *   single [base size]    expected dsm_base() and dsm_region_size()
 *                         (defaults, or base "default": 0x200000000000,
 *                         0x550000000000 under ThreadSanitizer; 4 GiB)
 * Checks rank 0 of 1 and the region's address and size, then writes a
 * pattern into pages spread over the whole region (the first page, the last
 * page up to its last byte, and 1021 pages between, a prime stride so the
 * offsets within the pages vary too), reads untouched pages as zeros, checks
 * everything after a barrier, and finalizes.
 */
#include <dsm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define SPREAD 1021
#if defined(__SANITIZE_THREAD__)
#define DEFAULT_BASE 0x550000000000ull /* inside ThreadSanitizer's application range */
#else
#define DEFAULT_BASE 0x200000000000ull
#endif

static uint64_t pattern(uint64_t page, uint64_t word) { return (page << 20) ^ (word * 0x9e3779b97f4a7c15ull) ^ 0x5a; }

int main(int argc, char **argv)
{
	uint64_t want_base = argc > 2 && strcmp(argv[1], "default") ? strtoull(argv[1], NULL, 0) : DEFAULT_BASE;
	uint64_t want_size = argc > 2 ? strtoull(argv[2], NULL, 0) : 4ull << 30;
	int rc, bad = 0;
	uint64_t npages, page_size, touched = 0;
	char *base;

	init_or_exit(&argc, &argv);
	if (dsm_rank() != 0 || dsm_size() != 1) {
		fprintf(stderr, "single: rank %d of %d, expected rank 0 of 1\n", dsm_rank(), dsm_size());
		return 1;
	}
	base = dsm_base();
	page_size = dsm_page_size();
	if ((uint64_t)(uintptr_t)base != want_base || dsm_region_size() != want_size || page_size != 4096) {
		fprintf(stderr, "single: region %p + %zu (pages of %lu), expected %#lx + %lu (pages of 4096)\n",
			(void *)base, dsm_region_size(), (unsigned long)page_size, (unsigned long)want_base,
			(unsigned long)want_size);
		return 1;
	}
	npages = want_size / page_size;

	/* pages 0, npages-1 and SPREAD-1 between; one 8-byte word in each, at an
	 * offset that varies, and the last page's last word. */
	for (uint64_t k = 0; k <= SPREAD; k++) {
		uint64_t page = k == SPREAD ? npages - 1 : k * (npages - 1) / SPREAD;
		uint64_t word = k == SPREAD ? page_size / 8 - 1 : (k * 37) % (page_size / 8);
		uint64_t *w = (uint64_t *)(base + page * page_size) + word;
		if (*w != 0 && bad++ < 5)
			fprintf(stderr, "single: page %lu word %lu holds %#lx before any write\n", (unsigned long)page,
				(unsigned long)word, (unsigned long)*w);
		*w = pattern(page, word);
		touched++;
	}
	base[want_size - 1] = 0x7f; /* the very last byte */
	/* An untouched page in the middle reads as zeros. */
	const uint64_t *mid = (const uint64_t *)(base + (npages / 2 + 1) * page_size);
	for (uint64_t i = 0; i < page_size / 8; i++)
		if (mid[i] != 0 && bad++ < 5)
			fprintf(stderr, "single: untouched page word %lu holds %#lx\n", (unsigned long)i,
				(unsigned long)mid[i]);
	rc = dsm_barrier();
	if (rc) {
		fprintf(stderr, "single: dsm_barrier: %s\n", strerror(-rc));
		return 1;
	}
	for (uint64_t k = 0; k <= SPREAD; k++) {
		uint64_t page = k == SPREAD ? npages - 1 : k * (npages - 1) / SPREAD;
		uint64_t word = k == SPREAD ? page_size / 8 - 1 : (k * 37) % (page_size / 8);
		uint64_t *w = (uint64_t *)(base + page * page_size) + word;
		uint64_t want = pattern(page, word);
		if (k == SPREAD)
			want = (want & ~(0xffull << 56)) | (0x7full << 56);
		if (*w != want && bad++ < 5)
			fprintf(stderr, "single: page %lu word %lu holds %#lx, expected %#lx\n", (unsigned long)page,
				(unsigned long)word, (unsigned long)*w, (unsigned long)want);
	}
	printf("single: rank 0 of 1, region %p + %zu, %lu pages touched, last byte at %p: %s\n", (void *)base,
	       dsm_region_size(), (unsigned long)touched, (void *)(base + want_size - 1), bad ? "WRONG" : "ok");
	rc = dsm_finalize();
	if (rc) {
		fprintf(stderr, "single: dsm_finalize: %s\n", strerror(-rc));
		return 1;
	}
	if (dsm_base() != NULL) {
		fprintf(stderr, "single: dsm_base() is still %p after dsm_finalize\n", dsm_base());
		return 1;
	}
	return bad ? 1 : 0;
}
