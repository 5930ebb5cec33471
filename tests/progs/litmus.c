/*
 * Description: memory-model litmus tests that sequential consistency decides.
 *   litmus [trials] [seed]        (defaults: 2000, from the pid)
 *
 * Ranks 0 and 1 play; any other ranks only join the barriers, and when there
 * are more than two the pages in play have their home on the last rank, so
 * every request goes through a third party (forwarding paths).
 *
 *   mp (message passing), barrier-separated: in trial t rank 0 writes
 *     data = t then flag = t; rank 1 spins until flag == t and must read
 *     data == t.
 *   mp-stream: rank 0 writes data = i, flag = i for i = 1..N without
 *     barriers; rank 1 reads flag then data over and over: data >= flag, and
 *     neither ever goes backwards.  Rank 1 reports how far it has read in a
 *     third variable, and rank 0 stays at most 64 writes ahead of it.
 *   sb (store buffering / Dekker): in trial t rank 0 writes x = t then reads
 *     y, rank 1 writes y = t then reads x.  Values below t are older writes,
 *     so "both read below t" is the outcome SC forbids.  Every variable holds
 *     the number of its last trial, which is the reset between trials.
 * Each runs with the two variables on different pages and on one page.  A
 * random spin before each trial's accesses (seeded; the seed is printed)
 * varies who comes first.
 */
#include <dsm.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define PAGE 4096

static int me, nr, bad;
static char *base;
static uint64_t rng;
static uint64_t next_page = 16; /* every variant gets fresh pages */

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void jitter(void)
{
	unsigned n = (unsigned)(xorshift() % 1500);

	for (volatile unsigned i = 0; i < n; i++)
		;
}

/* A fresh page whose home is the last rank (cyclic homes). */
static volatile uint64_t *fresh_page(void)
{
	uint64_t p = next_page;

	while (p % (uint64_t)nr != (uint64_t)(nr - 1))
		p++;
	next_page = p + 1;
	return (volatile uint64_t *)(base + p * PAGE);
}

/* Two variables: on two pages, or 64 bytes apart on one. */
static void place(int same_page, volatile uint64_t **a, volatile uint64_t **b)
{
	*a = fresh_page();
	*b = same_page ? *a + 8 : fresh_page();
}

static void barrier(void)
{
	int rc = dsm_barrier();

	if (rc) {
		fprintf(stderr, "rank %d: dsm_barrier: %s\n", me, strerror(-rc));
		exit(1);
	}
}

static void mp(uint64_t trials, int same_page)
{
	volatile uint64_t *data, *flag;
	const char *name = same_page ? "mp, one page" : "mp, two pages";
	uint64_t wrong = 0;

	place(same_page, &data, &flag);
	barrier();
	for (uint64_t t = 1; t <= trials; t++) {
		barrier();
		jitter();
		if (me == 0) {
			*data = t;
			*flag = t;
		} else if (me == 1) {
			while (*flag != t)
				sched_yield(); /* spinning ranks starve the service threads */
			uint64_t d = *data;
			if (d != t && wrong++ < 5)
				fprintf(stderr, "%s: trial %lu: saw flag %lu but data %lu\n", name,
					(unsigned long)t, (unsigned long)t, (unsigned long)d);
		}
	}
	barrier();
	if (me == 1) {
		printf("litmus: %s: %lu trials: %s\n", name, (unsigned long)trials, wrong ? "WRONG" : "ok");
		bad += wrong != 0;
	}
}

static void mp_stream(uint64_t n, int same_page)
{
	volatile uint64_t *data, *flag, *ack;
	const char *name = same_page ? "mp-stream, one page" : "mp-stream, two pages";
	uint64_t wrong = 0, reads = 0, f = 0, d = 0;

	place(same_page, &data, &flag);
	ack = fresh_page();
	barrier();
	if (me == 0) {
		for (uint64_t i = 1; i <= n; i++) {
			*data = i;
			*flag = i;
			/* Keep the reader close behind, so reads and writes interleave. */
			if ((i & 15) == 0) {
				jitter();
				while (*ack + 64 < i)
					sched_yield();
			}
		}
	} else if (me == 1) {
		uint64_t lastf = 0, lastd = 0;
		while (f != n) {
			f = *flag;
			d = *data;
			reads++;
			if ((d < f || f < lastf || d < lastd) && wrong++ < 5)
				fprintf(stderr, "%s: read flag %lu, data %lu after flag %lu, data %lu\n", name,
					(unsigned long)f, (unsigned long)d, (unsigned long)lastf,
					(unsigned long)lastd);
			if (f != lastf)
				*ack = f;
			else if ((reads & 63) == 0)
				sched_yield();
			lastf = f;
			lastd = d;
		}
	}
	barrier();
	if (me == 1) {
		printf("litmus: %s: %lu writes, %lu reads: %s\n", name, (unsigned long)n, (unsigned long)reads,
		       wrong ? "WRONG" : "ok");
		bad += wrong != 0;
	}
}

static void sb(uint64_t trials, int same_page)
{
	volatile uint64_t *x, *y, *res;
	const char *name = same_page ? "sb, one page" : "sb, two pages";
	uint64_t *mine = calloc(trials + 1, sizeof(uint64_t));

	if (!mine) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	place(same_page, &x, &y);
	barrier();
	for (uint64_t t = 1; t <= trials; t++) {
		barrier();
		jitter();
		if (me == 0) {
			*x = t;
			mine[t] = *y;
		} else if (me == 1) {
			*y = t;
			mine[t] = *x;
		}
	}
	/* Rank 1's readings go to rank 0 through the region as well. */
	res = (volatile uint64_t *)fresh_page();
	next_page += (trials + 1) * sizeof(uint64_t) / PAGE + 1;
	if (me == 1)
		for (uint64_t t = 1; t <= trials; t++)
			res[t] = mine[t];
	barrier();
	if (me == 0) {
		uint64_t seen[2][2] = { { 0 } }, wrong = 0;
		for (uint64_t t = 1; t <= trials; t++) {
			uint64_t r0 = mine[t], r1 = res[t];
			int new0 = r0 >= t, new1 = r1 >= t;
			if (r0 > t || r1 > t || r0 + 1 < t || r1 + 1 < t) {
				if (wrong++ < 5)
					fprintf(stderr, "%s: trial %lu: read values %lu and %lu from other trials\n",
						name, (unsigned long)t, (unsigned long)r0, (unsigned long)r1);
				continue;
			}
			seen[new0][new1]++;
			if (!new0 && !new1 && wrong++ < 5)
				fprintf(stderr, "%s: trial %lu: neither rank saw the other's write (forbidden)\n",
					name, (unsigned long)t);
		}
		printf("litmus: %s: %lu trials, outcomes old/new %lu, new/old %lu, new/new %lu, "
		       "old/old %lu: %s\n", name, (unsigned long)trials, (unsigned long)seen[0][1],
		       (unsigned long)seen[1][0], (unsigned long)seen[1][1], (unsigned long)seen[0][0],
		       wrong ? "WRONG" : "ok");
		bad += wrong != 0;
	}
	barrier();
	free(mine);
}

int main(int argc, char **argv)
{
	uint64_t trials = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : (uint64_t)getpid();
	int rc;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	nr = dsm_size();
	base = dsm_base();
	if (nr < 2) {
		fprintf(stderr, "litmus needs at least 2 ranks\n");
		return 1;
	}
	rng = seed * 2654435761u + (uint64_t)me * 0x9e3779b97f4a7c15ull + 1;
	if (me == 0)
		printf("litmus: %d ranks, %lu trials, seed %lu\n", nr, (unsigned long)trials, (unsigned long)seed);
	for (int same = 0; same < 2; same++) {
		mp(trials, same);
		mp_stream(trials * 4, same);
		sb(trials, same);
	}
	/* Every rank learns whether a test failed. */
	volatile int *verdict = (volatile int *)fresh_page();
	if (bad)
		*verdict = 1;
	barrier();
	bad = *verdict;
	if (me == 0)
		printf("litmus: %s\n", bad ? "FAILED" : "ok");
	rc = dsm_finalize();
	if (rc)
		fprintf(stderr, "rank %d: dsm_finalize: %s\n", me, strerror(-rc));
	return bad || rc ? 1 : 0;
}
