/*
 * heartbeat - what the failure detector costs (issue 19): one job of a
 * chatty or an idle-ish program, timed and its bytes on the wire counted;
 * bench/run.sh runs it with the detector on (the default DSM_TIMEOUT, and
 * DSM_TIMEOUT=1 where heartbeats flow every 0.25 s on a quiet link) and off
 * (DSM_TIMEOUT=inf), alternating, and prints the medians side by side.
 *
 *   bin/heartbeat chatty [ITERS]   (default 2000) ITERS rounds: one rank
 *                                  (in turn) increments a counter, then all
 *                                  meet in a barrier: the page and the
 *                                  barrier's messages every few tens of
 *                                  microseconds, the same ones every run
 *   bin/heartbeat idle [SECONDS]   (default 2) every rank computes alone,
 *                                  calling nothing, then a barrier: links
 *                                  that carry nothing but heartbeats
 *
 * Rank 0 prints one line: "heartbeat MODE seconds S bytes B" (B: every
 * byte sent by every rank from the start to the end of the timed part,
 * headers included), after checking the result (the counter's value).
 */
#include "bench.h"

int main(int argc, char **argv)
{
	struct dsm_stats st;
	volatile uint64_t *counter, *sent;
	double t0, secs;
	uint64_t bytes = 0, before;
	const char *mode;
	int rc, me, n;

	if ((rc = dsm_init(&argc, &argv))) {
		fprintf(stderr, "heartbeat: dsm_init: %s\n", strerror(-rc));
		return 1;
	}
	mode = argc > 1 ? argv[1] : "chatty";
	if (strcmp(mode, "chatty") && strcmp(mode, "idle")) {
		fprintf(stderr, "usage: heartbeat chatty [ITERS] | idle [SECONDS]\n");
		return 2;
	}
	me = dsm_rank();
	n = dsm_size();
	counter = dsm_base();
	sent = (volatile uint64_t *)((char *)dsm_base() + 4096);
	dsm_barrier();
	dsm_stats(&st);
	before = st.net_bytes_out;
	t0 = bench_now_us();
	if (!strcmp(mode, "chatty")) {
		long iters = argc > 2 ? atol(argv[2]) : 2000;
		for (long i = 0; i < iters; i++) {
			if (i % n == me)
				(*counter)++;
			dsm_barrier();
		}
		if (*counter != (uint64_t)iters) {
			fprintf(stderr, "heartbeat: the counter is %llu, expected %llu\n",
				(unsigned long long)*counter, (unsigned long long)iters);
			return 1;
		}
	} else {
		double until = t0 + (argc > 2 ? atof(argv[2]) : 2.0) * 1e6;
		volatile double x = 1.0;
		while (bench_now_us() < until)
			for (int i = 0; i < 10000; i++)
				x = x * 1.0000001 + 1e-9;
		dsm_barrier();
	}
	secs = (bench_now_us() - t0) / 1e6;
	dsm_stats(&st);
	sent[me] = st.net_bytes_out - before;
	dsm_barrier();
	for (int r = 0; r < n; r++)
		bytes += sent[r];
	if (me == 0)
		printf("heartbeat %s seconds %.3f bytes %llu\n", mode, secs, (unsigned long long)bytes);
	rc = dsm_finalize();
	return rc ? 1 : 0;
}
