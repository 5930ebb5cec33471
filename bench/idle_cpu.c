/*
 * idle_cpu - what an idle rank costs: CPU time used while nothing happens.
 *
 *   dsmexec -n 2 bin/idle_cpu [seconds] [--reps N] [--json] [--out DIR]
 *
 * After a barrier every rank sleeps `seconds` (default 5; the issue asks
 * for 30, the suite uses 5 to stay short) and reads its own user + system
 * time from /proc/PID/stat (every thread: the service thread's polling
 * would show here) before and after.  Rank 0 prints each rank's CPU use
 * as a percentage of one CPU.  The clock ticks of /proc are 10 ms: over
 * 5 s one tick is 0.2%.
 */
#include "bench.h"

/* utime + stime of this process, in seconds. */
static double cpu_seconds(void)
{
	char buf[1024], *p;
	unsigned long ut, st;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t k;

	if (!f)
		bench_die("/proc/self/stat", errno);
	k = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[k] = 0;
	/* after "pid (comm) ": the comm may hold spaces, so from the last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		bench_die("/proc/self/stat: unexpected format", 0);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int main(int argc, char **argv)
{
	struct bench_fig *fig[2];
	double *pct, secs, c0;
	int me, nr;

	if (bench_init("idle_cpu", &argc, &argv))
		return 1;
	secs = argc > 1 ? atof(argv[1]) : 5;
	me = dsm_rank();
	nr = dsm_size();
	if (nr < 2 || secs <= 0) {
		fprintf(stderr, "idle_cpu: run with 2 ranks or more and a positive number of seconds\n");
		return 2;
	}
	pct = dsm_alloc_named("idle_cpu", sizeof(double) * (size_t)nr);
	if (!pct)
		bench_die("dsm_alloc_named", errno);
	bench_context("%d ranks, backend %s, %g s idle per repetition", nr, bench_backend(), secs);
	fig[0] = bench_fig("idle_cpu_0", "idle CPU, rank 0", "%", 0);
	fig[1] = bench_fig("idle_cpu_1", "idle CPU, rank 1", "%", 0);
	for (int r = 0; r < bench.reps; r++) {
		double t0;

		dsm_barrier();
		t0 = bench_now_us();
		c0 = cpu_seconds();
		usleep((useconds_t)(secs * 1e6));
		pct[me] = (cpu_seconds() - c0) / ((bench_now_us() - t0) / 1e6) * 100;
		dsm_barrier();
		if (me == 0)
			for (int k = 0; k < 2; k++)
				bench_rep_value(fig[k], pct[k], pct[k]);
		dsm_barrier();
	}
	if (me == 0) {
		bench_target("idle rank 1 CPU % (one /proc tick over the run is noise)", bench_p50(fig[1]), 1,
			     100.0 / (double)sysconf(_SC_CLK_TCK) / secs);
		bench_report();
	}
	return dsm_finalize() ? 1 : 0;
}
