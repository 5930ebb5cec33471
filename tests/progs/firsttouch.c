/*
 * Description: DSM_HOME=first-touch.  (1) Rank 1 writes N fresh pages
 * first, rank 2 (or rank 0 on 2 ranks) reads them, then rank 1 writes
 * them again: rank 1 is now every page's home, so it is rank 1 that revokes
 * the reader's copies (its inv_sent grows by N, no other rank's does),
 * whatever rank each page's directory is.  (2) Every rank writes its own
 * word of the same N fresh pages at once, so first touches race at the
 * directories; then every rank reads every word, several rounds.  Every
 * value is checked on every rank.
 *   firsttouch [pages] [rounds]   (default 32, 20)
 */
#include <dsm.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define PAGE 4096
#define WORDS (PAGE / 8)

static int me;

static uint64_t inv_sent(void)
{
	struct dsm_stats st;

	CALL(dsm_stats(&st));
	return st.inv_sent;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 32, rounds = argc > 2 ? strtoull(argv[2], NULL, 10) : 20;
	volatile uint64_t *a, *b, *inv;
	int nr, reader, ft;
	uint64_t i0;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	nr = dsm_size();
	CHECK(nr >= 2, "run on 2 ranks or more");
	ft = getenv("DSM_HOME") && !strcmp(getenv("DSM_HOME"), "first-touch");
	reader = nr > 2 ? 2 : 0;
	a = (volatile uint64_t *)((char *)dsm_base() + 64 * PAGE);
	b = a + (n + 600) * WORDS; /* past any write-ahead from a */
	inv = b + (n + 600) * WORDS; /* one word per rank: the inv_sent deltas */

	/* 1 */
	if (me == 1)
		for (uint64_t p = 0; p < n; p++)
			for (uint64_t w = 0; w < WORDS; w += 64)
				a[p * WORDS + w] = p * 1000 + w;
	CALL(dsm_barrier());
	if (me == reader)
		for (uint64_t p = 0; p < n; p++)
			for (uint64_t w = 0; w < WORDS; w += 64)
				CHECK(a[p * WORDS + w] == p * 1000 + w, "page %lu word %lu read %lu", (unsigned long)p,
				      (unsigned long)w, (unsigned long)a[p * WORDS + w]);
	CALL(dsm_barrier());
	i0 = inv_sent();
	CALL(dsm_barrier());
	if (me == 1)
		for (uint64_t p = 0; p < n; p++)
			a[p * WORDS + 1] = p + 7;
	CALL(dsm_barrier());
	inv[me * 8] = inv_sent() - i0;
	CALL(dsm_barrier());
	for (uint64_t p = 0; p < n; p++) {
		CHECK(a[p * WORDS + 1] == p + 7, "page %lu word 1 read %lu", (unsigned long)p,
		      (unsigned long)a[p * WORDS + 1]);
		CHECK(a[p * WORDS] == p * 1000, "page %lu word 0 read %lu", (unsigned long)p,
		      (unsigned long)a[p * WORDS]);
	}
	if (me == 0) {
		printf("firsttouch: copies revoked by rank:");
		for (int r = 0; r < nr; r++)
			printf(" %lu", (unsigned long)inv[r * 8]);
		printf("\n");
		if (ft)
			for (int r = 0; r < nr; r++)
				/* (rank 1 may revoke a few more: pages its write-ahead
				 * took past the end, which the reader read ahead) */
				CHECK(r == 1 ? inv[r * 8] >= n : inv[r * 8] == 0,
				      "first-touch homes: rank %d revoked %lu copies, expected %s%lu", r,
				      (unsigned long)inv[r * 8], r == 1 ? "at least " : "", (unsigned long)(r == 1 ? n : 0));
	}
	CALL(dsm_barrier());

	/* 2 */
	for (uint64_t k = 0; k < rounds; k++) {
		for (uint64_t p = 0; p < n; p++)
			b[p * WORDS + (uint64_t)me * 8] = k * 100000 + p * 100 + (uint64_t)me;
		CALL(dsm_barrier());
		for (uint64_t p = 0; p < n; p++)
			for (int r = 0; r < nr; r++) {
				uint64_t want = k * 100000 + p * 100 + (uint64_t)r, got = b[p * WORDS + (uint64_t)r * 8];
				CHECK(got == want, "round %lu page %lu rank %d's word: %lu, not %lu", (unsigned long)k,
				      (unsigned long)p, r, (unsigned long)got, (unsigned long)want);
			}
		CALL(dsm_barrier());
	}
	printf("firsttouch: rank %d of %d: ok\n", me, nr);
	return finish(me, 0);
}
