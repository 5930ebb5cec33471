/*
 * fault_latency - what one page fault costs, against the network it rides on.
 *
 *   dsmexec -n 2 bin/fault_latency [pages] [--reps N] [--json] [--out DIR]
 *   dsmexec -n 4 bin/fault_latency [pages]     (invalidation of 3 readers)
 *
 * In each repetition rank 0 measures, each over `pages` pages (default 2000)
 * in random order:
 *   tcp rtt 16B/4KiB  a plain TCP round trip between ranks 0 and 1 (a 16-byte
 *                     request answered with 4 KiB, a page's worth): the limit
 *   cold read         read a page rank 1 holds writable (fetch + downgrade)
 *   write miss        write a page rank 1 holds writable (fetch + ownership)
 *   upgrade           write a page rank 0 already holds read-only, rank 1
 *                     owning it with a read copy
 *   invalidate N      write, on its owner, a page that the N other ranks
 *                     hold read copies of (N = ranks - 1): the home revokes
 *                     N copies before the write proceeds
 *   invalidate 1      (more than 2 ranks) the same with one reader, rank 1:
 *                     against invalidate N it shows whether the readers are
 *                     revoked in parallel
 * With more than 2 ranks only the round trip and the invalidations are
 * measured.  Every repetition uses fresh pages.  Each figure's p50 is
 * printed over the round trip's p50 of the same run.
 */
#include "bench.h"

/* Barriers that age rank 0's first writes past rewrite's memory (below). */
#define FORGET_PHASES 9

struct header {
	struct bench_rendezvous rv;
};

static char *base;
static size_t ps;

static char *page(size_t i)
{
	return base + i * ps;
}

/* Rank 0 touches set[order[i]] for every i and times each touch. */
static void timed_touch(size_t set, uint64_t *order, int n, int writing, double *t)
{
	volatile char sink;

	for (int i = 0; i < n; i++) {
		char *p = page(set + order[i]);
		double t0 = bench_now_us();
		if (writing)
			*p = 2;
		else
			sink = *p;
		t[i] = bench_now_us() - t0;
	}
	(void)sink;
}

int main(int argc, char **argv)
{
	struct bench_fig *rtt, *prtt, *cold = NULL, *miss = NULL, *upg = NULL, *inv, *inv1 = NULL;
	struct header *h;
	uint64_t *order, seed = 42;
	double *t;
	size_t sets, next = 0;
	int n, me, nr, fd;
	char name[64];
	volatile char sink;

	if (bench_init("fault_latency", &argc, &argv))
		return 1;
	n = argc > 1 ? atoi(argv[1]) : 2000;
	me = dsm_rank();
	nr = dsm_size();
	if (nr < 2 || n < 10) {
		fprintf(stderr, "fault_latency: run with 2 or more ranks (dsmexec -n 2) and >= 10 pages\n");
		return 2;
	}
	ps = dsm_page_size();
	base = dsm_base();
	h = (struct header *)base;
	base += ps; /* page 0 holds the header */
	sets = nr == 2 ? 4 : 2;
	if ((size_t)bench.reps * sets * (size_t)n + 1 > dsm_region_size() / ps) {
		fprintf(stderr, "fault_latency: %d repetitions of %zu x %d pages do not fit the region\n",
			bench.reps, sets, n);
		return 2;
	}
	order = malloc(sizeof(uint64_t) * (size_t)n);
	t = malloc(sizeof(double) * (size_t)n);
	if (!order || !t)
		bench_die("malloc", ENOMEM);
	bench_context("%d ranks, backend %s, %d pages per figure per repetition", nr, bench_backend(), n);

	rtt = bench_fig("tcp_rtt_4k", "tcp rtt 16B/4KiB", "us", 0);
	prtt = bench_fig("tcp_rtt_4k_poll", "tcp rtt 16B/4KiB, polling", "us", 0);
	if (nr == 2) {
		cold = bench_fig("cold_read", "cold read fault", "us", 0);
		miss = bench_fig("write_miss", "write miss fault", "us", 0);
		upg = bench_fig("upgrade", "write upgrade fault", "us", 0);
		cold->limit = miss->limit = upg->limit = rtt;
	}
	snprintf(name, sizeof(name), "invalidate: write, %d reader%s", nr - 1, nr > 2 ? "s" : "");
	inv = bench_fig("invalidate", name, "us", 0);
	inv->limit = rtt;
	if (nr > 2) {
		inv1 = bench_fig("invalidate_1", "invalidate: write, 1 reader", "us", 0);
		inv1->limit = rtt;
	}

	fd = bench_rank_pair(&h->rv, 1, 0);
	for (int r = 0; r < bench.reps; r++) {
		size_t a = next, b = a + (size_t)n, c = b + (size_t)n, d = nr == 2 ? c + (size_t)n : a;
		size_t e = d + (size_t)n; /* nr > 2: the one-reader set */

		next += sets * (size_t)n;
		if (me <= 1)
			bench_tcp_rtt(fd, me == 0, 16, 4096, n, 100, t);
		if (me == 0)
			bench_rep(rtt, t, (size_t)n);
		if (me <= 1)
			bench_tcp_rtt_how(fd, me == 0, 16, 4096, n, 100, t, 1);
		if (me == 0)
			bench_rep(prtt, t, (size_t)n);
		/* Rank 1 takes sets a, b, c writable; rank 0 takes set d. */
		if (nr == 2 && me == 1)
			for (size_t i = a; i < d; i++)
				*page(i) = (char)(i | 1);
		if (me == 0)
			for (size_t i = d; i < d + (size_t)n * (nr > 2 ? 2 : 1); i++)
				*page(i) = (char)(i | 1);
		/* Rewrite (coherence.c) takes back with one write fault every
		 * page near it that this rank wrote in the same one of its last
		 * WROTE_PHASES (8) phases and others read since: the timed
		 * writes below would each find the page back already, and the
		 * figures would show that bundle, not an invalidation.  Writes
		 * older than that are one invalidation each. */
		for (int i = 0; i < FORGET_PHASES; i++)
			dsm_barrier();
		if (nr == 2 && me == 0) {
			for (int i = 0; i < n; i++)
				order[i] = (uint64_t)i;
			bench_shuffle(order, (size_t)n, &seed);
			timed_touch(a, order, n, 0, t);
			bench_rep(cold, t, (size_t)n);
			bench_shuffle(order, (size_t)n, &seed);
			timed_touch(b, order, n, 1, t);
			bench_rep(miss, t, (size_t)n);
			bench_shuffle(order, (size_t)n, &seed);
			for (int i = 0; i < n; i++) /* hold them read-only first */
				sink = *page(c + order[i]);
			bench_shuffle(order, (size_t)n, &seed);
			timed_touch(c, order, n, 1, t);
			bench_rep(upg, t, (size_t)n);
		}
		dsm_barrier();
		/* Invalidation: every other rank reads set d, then its owner writes. */
		if (me != 0)
			for (size_t i = d; i < d + (size_t)n; i++)
				sink = *page(i);
		dsm_barrier();
		if (me == 0) {
			for (int i = 0; i < n; i++)
				order[i] = (uint64_t)i;
			bench_shuffle(order, (size_t)n, &seed);
			timed_touch(d, order, n, 1, t);
			bench_rep(inv, t, (size_t)n);
		}
		dsm_barrier();
		if (!inv1)
			continue;
		if (me == 1)
			for (size_t i = e; i < e + (size_t)n; i++)
				sink = *page(i);
		dsm_barrier();
		if (me == 0) {
			bench_shuffle(order, (size_t)n, &seed);
			timed_touch(e, order, n, 1, t);
			bench_rep(inv1, t, (size_t)n);
		}
		dsm_barrier();
	}
	(void)sink;
	if (fd >= 0)
		close(fd);
	if (me == 0) {
		if (cold) {
			bench_target("cold read fault p50 / tcp rtt 16B/4KiB", bench_p50(cold) / bench_p50(rtt), 1, 1.5);
			bench_target("cold read fault p99 / p50", bench_p99(cold) / bench_p50(cold), 1, 3);
			bench_target("write miss fault p99 / p50", bench_p99(miss) / bench_p50(miss), 1, 3);
			bench_target("write upgrade fault p99 / p50", bench_p99(upg) / bench_p50(upg), 1, 3);
		}
		bench_report();
		if (inv1 && !bench.json)
			printf("invalidation of %d readers / of 1 reader: %.2fx (1.00x: fully parallel)\n", nr - 1,
			       bench_p50(inv) / bench_p50(inv1));
	}
	free(order);
	free(t);
	return dsm_finalize() ? 1 : 0;
}
