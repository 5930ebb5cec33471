/*
 * progress - forward progress of a faulting access.
 *
 *   progress ROUNDS
 *
 * Each round every rank writes a word of its own page, all ranks meet at a
 * barrier, and each reads a word of the next rank's page.  Each rank needs
 * one write fault and one read fault a round; more means a page was taken
 * back before the faulting instruction had used it, and the thread had to
 * fault again.  Prints the worst round and fails when some round took more
 * than 2 faults on this rank.  Run with DSM_READAHEAD=0 so that every
 * request counts as a fault.
 */
#include "testutil.h"

static uint64_t faults(void)
{
	struct dsm_stats s;

	dsm_stats(&s);
	return s.read_faults + s.write_faults;
}

int main(int argc, char **argv)
{
	init_or_exit(&argc, &argv);
	long rounds = argc > 1 ? atol(argv[1]) : 2000;
	int me = dsm_rank(), n = dsm_size();
	size_t words = dsm_page_size() / sizeof(long);
	volatile long *pages = dsm_alloc_named("progress", (size_t)n * dsm_page_size());
	long worst = 0, worst_round = 0, over = 0;

	CHECK(pages, "dsm_alloc_named failed");
	CALL(dsm_barrier());
	for (long i = 1; i <= rounds; i++) {
		uint64_t f0 = faults();
		pages[(size_t)me * words] = i;
		CALL(dsm_barrier());
		long v = pages[(size_t)((me + 1) % n) * words];
		long f = (long)(faults() - f0);
		/* the next rank may have gone on to write round i + 1 */
		CHECK(v == i || v == i + 1, "round %ld: read %ld from rank %d's page", i, v, (me + 1) % n);
		if (f > worst)
			worst = f, worst_round = i;
		over += f > 2;
	}
	CALL(dsm_barrier());
	printf("progress: %ld rounds, worst %ld faults (round %ld), %ld rounds over 2\n", rounds, worst,
	       worst_round, over);
	CHECK(over == 0, "%ld of %ld rounds took more than 2 faults", over, rounds);
	return finish(me, 0);
}
