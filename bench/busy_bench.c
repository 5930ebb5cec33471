/*
 * busy_bench - does a rank whose CPUs are all busy still answer its peers?
 *
 *   dsmexec -n 2 bin/busy_bench [pages] [--reps N] [--json] [--out DIR]
 *
 * Rank 1 takes pages writable; rank 0 then reads them (cold read faults:
 * every one needs rank 1's service thread to answer).  Each repetition
 * times `pages` reads (default 500) with rank 1 idle, then `pages` more
 * while rank 1 runs one spinning thread on every CPU of its CPU set.  The
 * spinners never call the library: they stand for OpenMP threads at a
 * barrier or plain compute.  Rank 0's fault p50/p99 under the busy peer is
 * printed over its value with an idle peer.
 *
 * Where the machine has 2 CPUs or more, rank 0 is pinned to the first CPU
 * of its set and rank 1 to the others (BUSY_PIN=0: not pinned, rank 1 then
 * spins on every CPU, rank 0's included), so the spinners compete with
 * rank 1's service thread and not with rank 0.
 */
#include "bench.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>

struct header {
	struct bench_rendezvous rv;
};

static char *base;
static size_t ps;
static atomic_int stop_spinning;
static atomic_int spinning;

static char *page(size_t i)
{
	return base + i * ps;
}

/* Plain compute that never calls the library nor the kernel. */
static void *spin(void *arg)
{
	volatile uint64_t x = (uint64_t)(uintptr_t)arg;

	atomic_fetch_add(&spinning, 1);
	while (!atomic_load_explicit(&stop_spinning, memory_order_relaxed))
		for (int i = 0; i < 10000; i++)
			x = x * 6364136223846793005ULL + 1;
	return NULL;
}

/* Every thread of this process (the service thread included) onto set. */
static void pin_process(const cpu_set_t *set)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	if (!d)
		bench_die("opendir /proc/self/task", errno);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && sched_setaffinity(atoi(e->d_name), sizeof(*set), set) < 0)
			bench_die("sched_setaffinity", errno);
	closedir(d);
}

/* Rank 0 reads pages [first, first + n) in a random order, timing each. */
static void timed_reads(size_t first, uint64_t *order, int n, double *t, uint64_t *seed)
{
	volatile char sink;

	for (int i = 0; i < n; i++)
		order[i] = (uint64_t)i;
	bench_shuffle(order, (size_t)n, seed);
	for (int i = 0; i < n; i++) {
		double t0 = bench_now_us();
		sink = *page(first + order[i]);
		t[i] = bench_now_us() - t0;
	}
	(void)sink;
}

int main(int argc, char **argv)
{
	struct bench_fig *idle, *busy;
	cpu_set_t all, mine;
	pthread_t th[CPU_SETSIZE];
	uint64_t *order, seed = 7;
	int n, me, ncpu, nspin = 0, pin;
	const char *pe = getenv("BUSY_PIN");
	size_t next = 0;
	double *t;
	char name[80];

	setenv("DSM_BIND", "off", 0); /* this program places its ranks itself, below */
	if (bench_init("busy_bench", &argc, &argv))
		return 1;
	n = argc > 1 ? atoi(argv[1]) : 500;
	me = dsm_rank();
	if (dsm_size() != 2 || n < 10) {
		fprintf(stderr, "busy_bench: run with 2 ranks (dsmexec -n 2) and >= 10 pages\n");
		return 2;
	}
	ps = dsm_page_size();
	base = (char *)dsm_base() + ps; /* page 0: the header */
	if ((size_t)bench.reps * 2 * (size_t)n + 1 > dsm_region_size() / ps) {
		fprintf(stderr, "busy_bench: %d repetitions of 2 x %d pages do not fit the region\n", bench.reps, n);
		return 2;
	}
	order = malloc(sizeof(uint64_t) * (size_t)n);
	t = malloc(sizeof(double) * (size_t)n);
	if (!order || !t)
		bench_die("malloc", ENOMEM);
	if (sched_getaffinity(0, sizeof(all), &all) < 0)
		bench_die("sched_getaffinity", errno);
	ncpu = CPU_COUNT(&all);
	pin = ncpu >= 2 && !(pe && !strcmp(pe, "0"));
	CPU_ZERO(&mine);
	for (int c = 0, k = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &all))
			continue;
		if (!pin || (me == 0) == (k == 0))
			CPU_SET(c, &mine);
		k++;
	}
	if (pin)
		pin_process(&mine);
	if (me == 1)
		nspin = CPU_COUNT(&mine);
	bench_context("2 ranks, backend %s, %d pages per figure per repetition; %s; rank 1 spins on %d CPU%s",
		      bench_backend(), n, pin ? "rank 0 on 1 CPU, rank 1 on the others" : "not pinned",
		      pin ? ncpu - 1 : ncpu, (pin ? ncpu - 1 : ncpu) > 1 ? "s" : "");
	idle = bench_fig("cold_read_idle_peer", "cold read, peer idle", "us", 0);
	snprintf(name, sizeof(name), "cold read, peer busy on %d CPU%s", pin ? ncpu - 1 : ncpu,
		 (pin ? ncpu - 1 : ncpu) > 1 ? "s" : "");
	busy = bench_fig("cold_read_busy_peer", name, "us", 0);
	busy->limit = idle;

	for (int r = 0; r < bench.reps; r++) {
		size_t a = next, b = a + (size_t)n;

		next += 2 * (size_t)n;
		if (me == 1)
			for (size_t i = a; i < b + (size_t)n; i++)
				*page(i) = (char)(i | 1);
		dsm_barrier();
		if (me == 0) {
			timed_reads(a, order, n, t, &seed);
			bench_rep(idle, t, (size_t)n);
		}
		dsm_barrier();
		if (me == 1) {
			atomic_store(&stop_spinning, 0);
			atomic_store(&spinning, 0);
			for (int i = 0; i < nspin; i++)
				if (pthread_create(&th[i], NULL, spin, (void *)(uintptr_t)(i + 1)))
					bench_die("pthread_create", EAGAIN);
			while (atomic_load(&spinning) < nspin)
				sched_yield();
		}
		dsm_barrier(); /* rank 1's main thread sleeps in here while rank 0 reads */
		if (me == 0) {
			timed_reads(b, order, n, t, &seed);
			bench_rep(busy, t, (size_t)n);
		}
		dsm_barrier();
		if (me == 1) {
			atomic_store(&stop_spinning, 1);
			for (int i = 0; i < nspin; i++)
				pthread_join(th[i], NULL);
		}
	}
	if (me == 0) {
		bench_target("cold read p50, peer busy / peer idle", bench_p50(busy) / bench_p50(idle), 1, 2);
		bench_report();
	}
	free(order);
	free(t);
	return dsm_finalize() ? 1 : 0;
}
