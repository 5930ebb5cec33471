/*
 * layout - the same work with shared data laid out two ways, to show what
 * "one page per independently written datum" is worth (README, "Laying out
 * shared data for speed").
 *
 *   dsmexec -n 4 bin/layout packed [P]   each rank adds 1 to its own counter
 *   dsmexec -n 4 bin/layout padded [P]   1000 times, then waits in a barrier;
 *                                        P (default 2000) such phases
 *
 * `packed` keeps the ranks' counters in one array, each padded to a
 * 64-byte cache line as a multicore program would, so they share a page and
 * every phase moves the page to every rank; `padded` gives each counter a
 * page of its own.  Rank 0 prints the time and the job's write faults.
 */
#include <dsm.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PHASE_ADDS 1000

struct line_counter {                  /* padded to a cache line, as on a multicore */
	volatile long v;
	char pad[64 - sizeof(long)];
};

struct padded_counter {
	volatile long v;
	char pad[4096 - sizeof(long)]; /* the rest of the page: nobody else's */
};

struct result {
	double seconds;
	uint64_t write_faults;
	long check;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *named(const char *name, size_t size)
{
	void *p = dsm_alloc_named(name, size);

	if (!p) {
		fprintf(stderr, "layout: dsm_alloc_named(%s): %s\n", name, strerror(errno));
		exit(1);
	}
	return p;
}

/* Each rank's own counter: `phases` rounds of PHASE_ADDS increments, a
 * barrier after each (as a solver's sweeps); returns the rank's count. */
static long counters(int padded, long phases, int me, int nr)
{
	volatile long *mine;

	if (padded)
		mine = &((struct padded_counter *)named("layout.padded", (size_t)nr * sizeof(struct padded_counter)))[me].v;
	else
		mine = &((struct line_counter *)named("layout.packed", (size_t)nr * sizeof(struct line_counter)))[me].v;
	dsm_barrier();
	for (long p = 0; p < phases; p++) {
		for (int i = 0; i < PHASE_ADDS; i++)
			*mine += 1;
		dsm_barrier();
	}
	return *mine;
}

int main(int argc, char **argv)
{
	int rc = dsm_init(&argc, &argv), me, nr, padded;
	struct dsm_stats st;
	struct result *res;
	double t0;
	long n, got, want;

	if (rc) {
		fprintf(stderr, "dsm_init: %s\n", strerror(-rc));
		return 1;
	}
	me = dsm_rank();
	nr = dsm_size();
	padded = argc > 1 && !strcmp(argv[1], "padded");
	if (argc > 1 && !padded && strcmp(argv[1], "packed")) {
		if (me == 0)
			fprintf(stderr, "usage: layout packed|padded [PHASES]\n");
		dsm_finalize();
		return 2;
	}
	n = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
	res = named("layout.results", (size_t)nr * sizeof(*res));
	t0 = now();
	got = counters(padded, n, me, nr);
	want = n * PHASE_ADDS;
	dsm_stats(&st);
	/* once per rank: that these share a page costs a few transfers */
	res[me].seconds = now() - t0;
	res[me].write_faults = st.write_faults;
	res[me].check = got == want;
	dsm_barrier();
	if (me == 0) {
		double worst = 0;
		uint64_t wf = 0;
		int ok = 1;

		for (int r = 0; r < nr; r++) {
			worst = res[r].seconds > worst ? res[r].seconds : worst;
			wf += res[r].write_faults;
			ok &= res[r].check == 1;
		}
		printf("layout: %s, %d ranks, %ld phases: %.2f s, %llu write faults: %s\n",
		       padded ? "padded" : "packed", nr, n, worst, (unsigned long long)wf, ok ? "OK" : "WRONG");
		if (!ok)
			rc = 1;
	}
	if (dsm_finalize())
		return 1;
	return rc;
}
