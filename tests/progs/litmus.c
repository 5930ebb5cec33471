/*
 * Description: memory-model litmus tests that sequential consistency decides.
 *   litmus [trials] [seed]        (defaults: 2000, from the pid)
 *
 * Ranks 0 and 1 play (iriw: ranks 0 to 3); any other ranks only join the
 * barriers, and when there are more than two the pages in play have their
 * home on the last rank, so requests go through a third party (forwarding
 * paths).
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
 *   lb (load buffering): in trial t rank 0 reads y then writes x = t, rank
 *     1 reads x then writes y = t; both reading t (each saw a write made
 *     after its own read) is forbidden.
 *   2+2w: in trial t rank 0 writes x = A then y = B, rank 1 writes y = A
 *     then x = B (A and B name the trial); after a barrier x == A and y == A
 *     together (each first write came last) is forbidden.
 *   iriw (independent reads of independent writes; needs 4 ranks, skipped
 *     with fewer): rank 0 writes x = t, rank 1 writes y = t; rank 2 reads x
 *     then y, rank 3 reads y then x.  Rank 2 seeing x new and y old while
 *     rank 3 sees y new and x old (the readers disagree on which write came
 *     first) is forbidden.
 * Each runs with the two variables on different pages and on one page.  A
 * random spin before each trial's accesses (seeded; the seed is printed)
 * varies who comes first.  Readings reach rank 0 through the region.
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

/* Rank `from`'s v[0..n-1] reaches rank 0's v through the region; every
 * rank calls it. */
static void to_rank0(int from, uint64_t *v, uint64_t n)
{
	volatile uint64_t *res = (volatile uint64_t *)fresh_page();

	next_page += n * sizeof(uint64_t) / PAGE + 1;
	if (me == from && from != 0)
		for (uint64_t i = 0; i < n; i++)
			res[i] = v[i];
	barrier();
	if (me == 0 && from != 0)
		for (uint64_t i = 0; i < n; i++)
			v[i] = res[i];
	barrier();
}

static uint64_t *alloc_results(uint64_t n)
{
	uint64_t *v = calloc(n, sizeof(uint64_t));

	if (!v) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return v;
}

static void sb(uint64_t trials, int same_page)
{
	volatile uint64_t *x, *y;
	const char *name = same_page ? "sb, one page" : "sb, two pages";
	uint64_t *r0 = alloc_results(trials + 1), *r1 = alloc_results(trials + 1);

	place(same_page, &x, &y);
	barrier();
	for (uint64_t t = 1; t <= trials; t++) {
		barrier();
		jitter();
		if (me == 0) {
			*x = t;
			r0[t] = *y;
		} else if (me == 1) {
			*y = t;
			r1[t] = *x;
		}
	}
	/* Rank 1's readings go to rank 0 through the region as well. */
	to_rank0(1, r1, trials + 1);
	if (me == 0) {
		uint64_t seen[2][2] = { { 0 } }, wrong = 0;
		for (uint64_t t = 1; t <= trials; t++) {
			uint64_t a = r0[t], b = r1[t];
			int new0 = a >= t, new1 = b >= t;
			if (a > t || b > t || a + 1 < t || b + 1 < t) {
				if (wrong++ < 5)
					fprintf(stderr, "%s: trial %lu: read values %lu and %lu from other trials\n",
						name, (unsigned long)t, (unsigned long)a, (unsigned long)b);
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
	free(r0);
	free(r1);
}

static void report(const char *name, const char *what, uint64_t wrong)
{
	printf("litmus: %s: %s: %s\n", name, what, wrong ? "WRONG" : "ok");
	bad += wrong != 0;
}

static void lb(uint64_t trials, int same_page)
{
	volatile uint64_t *x, *y;
	const char *name = same_page ? "lb, one page" : "lb, two pages";
	uint64_t *r0 = alloc_results(trials + 1), *r1 = alloc_results(trials + 1);

	place(same_page, &x, &y);
	barrier();
	for (uint64_t t = 1; t <= trials; t++) {
		barrier();
		jitter();
		if (me == 0) {
			r0[t] = *y;
			*x = t;
		} else if (me == 1) {
			r1[t] = *x;
			*y = t;
		}
	}
	to_rank0(1, r1, trials + 1);
	if (me == 0) {
		uint64_t seen[2][2] = { { 0 } }, wrong = 0;
		char what[200];
		for (uint64_t t = 1; t <= trials; t++) {
			uint64_t a = r0[t], b = r1[t];
			if (a > t || b > t || a + 1 < t || b + 1 < t) {
				if (wrong++ < 5)
					fprintf(stderr, "%s: trial %lu: read values %lu and %lu from other trials\n",
						name, (unsigned long)t, (unsigned long)a, (unsigned long)b);
				continue;
			}
			seen[a == t][b == t]++;
			if (a == t && b == t && wrong++ < 5)
				fprintf(stderr, "%s: trial %lu: both ranks read the write made after their read "
					"(forbidden)\n", name, (unsigned long)t);
		}
		snprintf(what, sizeof(what), "%lu trials, outcomes old/old %lu, old/new %lu, new/old %lu, "
			 "new/new %lu", (unsigned long)trials, (unsigned long)seen[0][0],
			 (unsigned long)seen[0][1], (unsigned long)seen[1][0], (unsigned long)seen[1][1]);
		report(name, what, wrong);
	}
	barrier();
	free(r0);
	free(r1);
}

static void two_plus_two_w(uint64_t trials, int same_page)
{
	volatile uint64_t *x, *y;
	const char *name = same_page ? "2+2w, one page" : "2+2w, two pages";
	uint64_t seen[2][2] = { { 0 } }, wrong = 0;

	place(same_page, &x, &y);
	barrier();
	for (uint64_t t = 1; t <= trials; t++) {
		uint64_t first = 2 * t, second = 2 * t + 1;
		barrier();
		jitter();
		if (me == 0) {
			*x = first;
			*y = second;
		} else if (me == 1) {
			*y = first;
			*x = second;
		}
		barrier();
		if (me == 0) {
			uint64_t fx = *x, fy = *y;
			if ((fx != first && fx != second) || (fy != first && fy != second)) {
				if (wrong++ < 5)
					fprintf(stderr, "%s: trial %lu: final x %lu, y %lu are not this trial's\n", name,
						(unsigned long)t, (unsigned long)fx, (unsigned long)fy);
				continue;
			}
			seen[fx == first][fy == first]++;
			if (fx == first && fy == first && wrong++ < 5)
				fprintf(stderr, "%s: trial %lu: both first writes came last (forbidden)\n", name,
					(unsigned long)t);
		}
	}
	if (me == 0) {
		char what[200];
		snprintf(what, sizeof(what), "%lu trials, final x/y second/second %lu, second/first %lu, "
			 "first/second %lu, first/first %lu", (unsigned long)trials, (unsigned long)seen[0][0],
			 (unsigned long)seen[0][1], (unsigned long)seen[1][0], (unsigned long)seen[1][1]);
		report(name, what, wrong);
	}
	barrier();
}

static void iriw(uint64_t trials, int same_page)
{
	volatile uint64_t *x, *y;
	const char *name = same_page ? "iriw, one page" : "iriw, two pages";
	uint64_t *r2 = alloc_results(2 * (trials + 1)), *r3 = alloc_results(2 * (trials + 1));

	place(same_page, &x, &y);
	barrier();
	for (uint64_t t = 1; t <= trials; t++) {
		barrier();
		jitter();
		if (me == 0) {
			*x = t;
		} else if (me == 1) {
			*y = t;
		} else if (me == 2) {
			r2[2 * t] = *x;
			r2[2 * t + 1] = *y;
		} else if (me == 3) {
			r3[2 * t] = *y;
			r3[2 * t + 1] = *x;
		}
	}
	to_rank0(2, r2, 2 * (trials + 1));
	to_rank0(3, r3, 2 * (trials + 1));
	if (me == 0) {
		uint64_t wrong = 0, mixed = 0;
		char what[200];
		for (uint64_t t = 1; t <= trials; t++) {
			uint64_t a = r2[2 * t], b = r2[2 * t + 1], c = r3[2 * t], d = r3[2 * t + 1];
			uint64_t v[4] = { a, b, c, d };
			int other = 0;
			for (int i = 0; i < 4; i++)
				other |= v[i] > t || v[i] + 1 < t;
			if (other) {
				if (wrong++ < 5)
					fprintf(stderr, "%s: trial %lu: read values from other trials: %lu %lu %lu %lu\n",
						name, (unsigned long)t, (unsigned long)a, (unsigned long)b,
						(unsigned long)c, (unsigned long)d);
				continue;
			}
			/* rank 2: x new, y old; rank 3: y new, x old */
			if (a == t && b < t && c == t && d < t) {
				if (wrong++ < 5)
					fprintf(stderr, "%s: trial %lu: rank 2 saw x before y, rank 3 y before x "
						"(forbidden)\n", name, (unsigned long)t);
				continue;
			}
			mixed += (a == t) != (b == t) || (c == t) != (d == t);
		}
		snprintf(what, sizeof(what), "%lu trials, %lu with a reader between the writes", (unsigned long)trials,
			 (unsigned long)mixed);
		report(name, what, wrong);
	}
	barrier();
	free(r2);
	free(r3);
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
		lb(trials, same);
		two_plus_two_w(trials, same);
		if (nr >= 4)
			iriw(trials, same);
		else if (me == 0)
			printf("litmus: iriw: skipped (needs 4 ranks)\n");
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
