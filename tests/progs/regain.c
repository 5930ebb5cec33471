/*
 * regain - a consumer that rereads, in random order, what producers
 * rewrote since (coherence.c, "Regain").
 *
 *   regain ROUNDS
 *
 * Each round the ranks other than 0 write every page of `hot` (HOT pages,
 * split among them) and of `once` (ONCE pages); after a barrier rank 0
 * reads one word of every hot page in a shuffled order, and in the first
 * round also every page of `once`, checking each value; then a barrier.
 * Rank 0 prints its read faults and pages received after the first round,
 * which tests/core_regain.sh bounds: with regain most hot pages come in the
 * bundle of a round's first fault; the once pages, never read again, are
 * not fetched with every rewrite.  The writers write their pages in a
 * shuffled order too, and rank 1 prints its write faults after the first
 * round (coherence.c, "Rewrite"): each round it writes again the hot pages
 * that rank 0 read since, and with rewrite most come in the bundle of its
 * first write fault.
 */
#include "testutil.h"

#define HOT 32
#define ONCE 32

static void shuffle(int *a, unsigned *seed)
{
	for (int i = HOT - 1; i > 0; i--) {
		int j = (int)(rand_r(seed) % (unsigned)(i + 1)), t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

int main(int argc, char **argv)
{
	init_or_exit(&argc, &argv);
	long rounds = argc > 1 ? atol(argv[1]) : 100;
	int me = dsm_rank(), n = dsm_size();
	size_t pg = dsm_page_size();
	volatile long *hot = dsm_alloc_named("regain.hot", HOT * pg);
	volatile long *once = dsm_alloc_named("regain.once", ONCE * pg);
	int order[HOT], worder[HOT];
	struct dsm_stats s0, s1;
	unsigned seed = 7, wseed = 11 + (unsigned)me;

	CHECK(hot && once, "dsm_alloc_named failed");
	CHECK(n >= 2, "needs 2 ranks or more");
	for (int i = 0; i < HOT; i++)
		order[i] = worder[i] = i;
	CALL(dsm_barrier());
	for (long r = 1; r <= rounds; r++) {
		if (me > 0) {
			if (r == 2)
				dsm_stats(&s0);
			shuffle(worder, &wseed);
			for (int k = 0; k < HOT; k++) {
				int i = worder[k];
				if (i % (n - 1) == me - 1)
					hot[(size_t)i * pg / sizeof(long)] = r * 1000 + i;
			}
			for (int i = me - 1; i < ONCE; i += n - 1)
				once[(size_t)i * pg / sizeof(long)] = r * 1000 + i;
		}
		CALL(dsm_barrier());
		if (me == 0) {
			if (r == 2)
				dsm_stats(&s0);
			shuffle(order, &seed);
			for (int k = 0; k < HOT; k++) {
				long v = hot[(size_t)order[k] * pg / sizeof(long)];
				CHECK(v == r * 1000 + order[k], "round %ld: hot page %d holds %ld", r, order[k], v);
			}
			for (int i = 0; r == 1 && i < ONCE; i++) {
				long v = once[(size_t)i * pg / sizeof(long)];
				CHECK(v == r * 1000 + i, "round %ld: once page %d holds %ld", r, i, v);
			}
		}
		CALL(dsm_barrier());
	}
	if (me == 0) {
		dsm_stats(&s1);
		printf("regain: %ld rounds of %d pages: %lu read faults, %lu pages in\n", rounds - 1, HOT,
		       (unsigned long)(s1.read_faults - s0.read_faults), (unsigned long)(s1.pages_in - s0.pages_in));
	}
	if (me == 1) {
		dsm_stats(&s1);
		printf("rewrite: %ld rounds of %d pages: %lu write faults\n", rounds - 1, (HOT + n - 2) / (n - 1),
		       (unsigned long)(s1.write_faults - s0.write_faults));
	}
	return finish(me, 0);
}
