/*
 * progress - forward progress of a faulting access.
 *
 *   progress ROUNDS
 *
 * Rounds: each round every rank writes a word of its own page, all ranks
 * meet at a barrier, and each reads a word of the next rank's page.  Each
 * rank needs one write fault and one read fault a round; more means a page
 * was taken back before the faulting instruction had used it, and the
 * thread had to fault again.
 *
 * Contention: then every rank writes its own word of one shared page
 * ROUNDS times, with a little work between writes, all at once, so the
 * page goes from rank to rank all the time.  A write takes at most one
 * fault; more means the page went to another rank before this one's store.
 *
 * Without holds both ping-pong: hundreds of accesses fault again, many
 * three times or more.  A hold is bounded (a thread that did not run for
 * its whole hold loses the page: the job must go on), so on a loaded
 * machine an access may rarely fault once more.  Fails when an access
 * faulted twice more (a round over 3 faults, a write over 2), or when more
 * than 1% of them faulted once more.  Checks every value read, and each
 * rank's word of the shared page at the end.  Run with DSM_READAHEAD=0 so
 * that every request counts as a fault.
 */
#include "testutil.h"

static uint64_t faults(void)
{
	struct dsm_stats s;

	dsm_stats(&s);
	return s.read_faults + s.write_faults;
}

struct tally {
	long faulted, worst, worst_at, again; /* accesses that faulted, the most faults, where, over `need` */
};

static void count(struct tally *t, long f, long need, long at)
{
	t->faulted += f > 0;
	if (f > t->worst)
		t->worst = f, t->worst_at = at;
	t->again += f > need;
}

/* Print the tally of `what` and fail if it broke the rule above. */
static void judge(int me, const char *what, const struct tally *t, long need, long n)
{
	printf("progress: %s: %ld, %ld faulted, worst %ld faults (at %ld), %ld over %ld\n", what, n, t->faulted,
	       t->worst, t->worst_at, t->again, need);
	CHECK(t->worst <= need + 1, "%s: an access took %ld faults (at %ld), more than %ld", what, t->worst,
	      t->worst_at, need + 1);
	CHECK(t->again * 100 <= n, "%s: %ld of %ld took more than %ld faults", what, t->again, n, need);
}

int main(int argc, char **argv)
{
	init_or_exit(&argc, &argv);
	long rounds = argc > 1 ? atol(argv[1]) : 2000;
	int me = dsm_rank(), n = dsm_size();
	size_t words = dsm_page_size() / sizeof(long);
	volatile long *pages = dsm_alloc_named("progress", (size_t)(n + 1) * dsm_page_size());
	volatile long *shared = pages + (size_t)n * words;
	struct tally tr = { 0 }, tc = { 0 };

	CHECK(pages, "dsm_alloc_named failed");
	CHECK(n <= (int)(words / 8), "more ranks (%d) than the shared page has lines", n);
	CALL(dsm_barrier());
	for (long i = 1; i <= rounds; i++) {
		uint64_t f0 = faults();
		pages[(size_t)me * words] = i;
		CALL(dsm_barrier());
		long v = pages[(size_t)((me + 1) % n) * words];
		/* the next rank may have gone on to write round i + 1 */
		CHECK(v == i || v == i + 1, "round %ld: read %ld from rank %d's page", i, v, (me + 1) % n);
		count(&tr, (long)(faults() - f0), 2, i);
	}
	CALL(dsm_barrier());
	for (long i = 1; i <= rounds; i++) {
		uint64_t f0 = faults();
		shared[me * 8] = i; /* a line each */
		count(&tc, (long)(faults() - f0), 1, i);
		for (volatile int k = 0; k < 20000; k++)
			;
	}
	CALL(dsm_barrier());
	for (int r = 0; r < n; r++)
		CHECK(shared[r * 8] == rounds, "rank %d's word of the shared page is %ld, not %ld", r,
		      shared[r * 8], rounds);
	judge(me, "rounds", &tr, 2, rounds);
	judge(me, "writes", &tc, 1, rounds);
	return finish(me, 0);
}
