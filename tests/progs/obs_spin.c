/*
 * obs_spin - keep a job busy until told to stop, for the live view's test.
 *
 *   obs_spin STOPFILE STRIDE
 *
 * Every rank writes one page in every STRIDE pages of the whole region, the
 * ranks taking turns (page k * STRIDE belongs to rank k mod size), so the
 * pages in use span the region however large it is (those in its third
 * quarter, the release-consistent arena, go to their homes as diffs at the
 * barrier that follows); then the ranks pass one
 * counter page back and forth under a lock, a thousand times a second, until
 * STOPFILE exists (or 60 s have passed).  Rank 0 prints "spin: started" once
 * the region is written and "spin: N rounds" at the end.
 */
#include "testutil.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *stop = argc > 1 ? argv[1] : "stop";
	long stride = argc > 2 ? strtol(argv[2], NULL, 10) : 64;
	volatile char *base;
	volatile uint64_t *counter;
	size_t ps, npages;
	uint64_t rounds = 0;
	time_t t0 = time(NULL);
	int me;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	CHECK(stride > 0, "STRIDE must be positive");
	base = dsm_base();
	ps = dsm_page_size();
	npages = dsm_region_size() / ps;
	counter = (volatile uint64_t *)(base + ps);
	for (size_t k = 2; k * (size_t)stride < npages; k++)
		if ((int)(k % (size_t)dsm_size()) == me)
			base[k * (size_t)stride * ps] = (char)(me + 1);
	CALL(dsm_barrier());
	if (me == 0) {
		printf("spin: started\n");
		fflush(stdout);
	}
	while (access(stop, F_OK) != 0 && time(NULL) - t0 < 60) {
		CALL(dsm_lock(1));
		*counter = *counter + 1;
		CALL(dsm_unlock(1));
		rounds++;
		usleep(1000);
	}
	CALL(dsm_barrier());
	if (me == 0)
		printf("spin: %lu rounds\n", (unsigned long)*counter);
	return finish(me, 0);
}
