/*
 * Description: false sharing.  Every rank increments its own 8-byte word,
 * next to the other ranks' words on one page, `count` times (read, add one,
 * write back), so the page ping-pongs between the ranks on almost every
 * increment.  Each rank checks before every increment that its word still
 * holds what it last wrote (no write of its own was lost or rolled back),
 * and at the end every rank checks that every word equals `count` exactly.
 * A second page repeats this with the words spread over the page (first
 * word, last word, middle), so writes at both ends of a page survive.
 *   falseshare [count]   (default 20000)
 */
#include <dsm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>

#include "testutil.h"

#define PAGE 4096
#define WORDS (PAGE / 8)
#define SLACK 4

/* The word rank r increments on page k. */
static uint64_t word_of(int k, int r, int nr)
{
	if (k == 0)
		return (uint64_t)r;
	return nr == 1 ? 0 : (uint64_t)r * (WORDS - 1) / (uint64_t)(nr - 1);
}

int main(int argc, char **argv)
{
	uint64_t count = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000;
	int rc, me, nr;
	uint64_t bad = 0, switches = 0;
	volatile uint64_t *pg[2], *mine[2];

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	nr = dsm_size();
	if (nr > WORDS) {
		fprintf(stderr, "falseshare: at most %d ranks\n", WORDS);
		return 1;
	}
	/* Page 5: adjacent words.  Page 6: spread out, rank 0 at the first word
	 * and the last rank at the last word. */
	pg[0] = (volatile uint64_t *)((char *)dsm_base() + 5 * PAGE);
	pg[1] = (volatile uint64_t *)((char *)dsm_base() + 6 * PAGE);
	mine[0] = &pg[0][word_of(0, me, nr)];
	mine[1] = &pg[1][word_of(1, me, nr)];

	for (int k = 0; k < 2; k++) {
		dsm_barrier();
		volatile uint64_t *next = &pg[k][word_of(k, (me + 1) % nr, nr)];
		uint64_t last = 0;
		for (uint64_t i = 0; i < count; i++) {
			uint64_t v = *mine[k], o;
			if (v != i && bad++ < 5)
				fprintf(stderr, "rank %d, page %d: before increment %lu my word holds %lu\n", me,
					k, (unsigned long)i, (unsigned long)v);
			*mine[k] = i + 1;
			/* Stay at most SLACK increments ahead of the next rank, so
			 * the page changes hands every few increments.  The rank
			 * furthest behind never waits, so the ring cannot stall. */
			while ((o = *next) + SLACK < i + 1)
				sched_yield(); /* the service threads need the core */
			switches += o != last;
			last = o;
		}
		dsm_barrier();
		for (int r = 0; r < nr; r++) {
			uint64_t w = word_of(k, r, nr);
			uint64_t v = pg[k][w];
			if (v != count && bad++ < 10)
				fprintf(stderr, "rank %d, page %d: rank %d's word %lu holds %lu, expected %lu\n", me,
					k, r, (unsigned long)w, (unsigned long)v, (unsigned long)count);
		}
		/* Every other word of the page is still zero. */
		for (uint64_t w = 0; w < WORDS; w++) {
			int used = 0;
			for (int r = 0; r < nr && !used; r++)
				used = w == word_of(k, r, nr);
			if (!used && pg[k][w] != 0 && bad++ < 10)
				fprintf(stderr, "rank %d, page %d: unused word %lu holds %lu\n", me, k,
					(unsigned long)w, (unsigned long)pg[k][w]);
		}
	}
	printf("falseshare: rank %d of %d, %lu increments x 2 pages, saw the next rank's word change %lu "
	       "times: %s\n", me, nr, (unsigned long)count, (unsigned long)switches, bad ? "WRONG" : "ok");
	rc = dsm_finalize();
	if (rc)
		fprintf(stderr, "rank %d: dsm_finalize: %s\n", me, strerror(-rc));
	return bad || rc ? 1 : 0;
}
