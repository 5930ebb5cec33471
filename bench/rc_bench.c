/*
 * rc_bench - release consistency against sequential consistency, in one job
 * (issue 16; see docs/bench.md).
 *
 *   rc_bench falseshare [--phases P] [--incs K] [--reps R]
 *       Every rank increments its own counter K times, then all meet in a
 *       dsm_barrier, P times.  Four layouts, alternated R times: the
 *       counters adjacent on one page (packed) or one page each (padded),
 *       sequentially consistent (dsm_alloc_named) or release-consistent
 *       (dsm_alloc_named_rc).  Prints each layout's median and the ratios
 *       to SC padded (the layout without false sharing), and checks the
 *       totals.
 *   rc_bench ring [--items N] [--reps R]
 *       Ranks in pairs (0 -> 1, 2 -> 3, ...): the even rank produces N items
 *       into a ring of 32 slots, the odd one consumes them, with semaphores
 *       for full and empty slots; every pair's ring (indices and slots) on
 *       one shared page.  SC and RC alternated with a third variant, the
 *       SC ring that spins on its indices instead of the semaphores;
 *       medians, ratios, and every item checked.
 */
#include <dsm.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE 4096
#define SLOTS 32

static int me, nr;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void *alloc(const char *name, size_t size, int rc)
{
	void *p = rc ? dsm_alloc_named_rc(name, size) : dsm_alloc_named(name, size);

	if (!p) {
		fprintf(stderr, "rc_bench: allocating %s: %s\n", name, strerror(errno));
		exit(1);
	}
	return p;
}

static void barrier(void)
{
	int rc = dsm_barrier();

	if (rc) {
		fprintf(stderr, "rc_bench: dsm_barrier: %s\n", strerror(-rc));
		exit(1);
	}
}

/* ---- false sharing ------------------------------------------------------ */

static const char *const fs_names[4] = { "SC packed", "SC padded", "RC packed", "RC padded" };

static double fs_run(volatile uint64_t *c, int stride, long phases, long incs, uint64_t *total)
{
	volatile uint64_t *mine = c + (size_t)me * (size_t)stride;
	double t0;

	barrier();
	t0 = now();
	for (long p = 0; p < phases; p++) {
		for (long i = 0; i < incs; i++)
			(*mine)++;
		barrier();
	}
	*total = 0;
	for (int r = 0; r < nr; r++)
		*total += c[(size_t)r * (size_t)stride];
	return now() - t0;
}

static int falseshare(long phases, long incs, int reps)
{
	volatile uint64_t *c[4];
	double *t[4];
	int bad = 0;

	for (int v = 0; v < 4; v++) {
		char name[32];
		int padded = v & 1;
		snprintf(name, sizeof(name), "rc_bench.fs%d", v);
		c[v] = alloc(name, padded ? (size_t)nr * PAGE : PAGE, v >= 2);
		t[v] = calloc((size_t)reps, sizeof(double));
		if (!t[v])
			return 1;
	}
	if (me == 0)
		printf("rc_bench: false sharing, %d ranks x %ld increments x %ld phases (a barrier each), %d reps\n",
		       nr, incs, phases, reps);
	for (int r = 0; r < reps; r++)
		for (int v = 0; v < 4; v++) {
			uint64_t total;
			t[v][r] = fs_run(c[v], (v & 1) ? PAGE / 8 : 1, phases, incs, &total);
			if (total != (uint64_t)nr * (uint64_t)phases * (uint64_t)incs * (uint64_t)(r + 1)) {
				fprintf(stderr, "rc_bench: rank %d: %s total %lu, expected %lu\n", me, fs_names[v],
					(unsigned long)total,
					(unsigned long)((uint64_t)nr * phases * incs * (r + 1)));
				bad = 1;
			}
		}
	if (me == 0) {
		double m[4];
		for (int v = 0; v < 4; v++)
			m[v] = median(t[v], reps);
		for (int v = 0; v < 4; v++) {
			printf("rc_bench: falseshare %-9s median %8.3f s  (%.2fx SC padded)\n", fs_names[v], m[v],
			       m[v] / m[1]);
		}
		printf("targets: issue 16's project targets, see docs/bench.md\n");
		printf("target: RC packed within 1.2x of padded: %.2fx of SC padded, %.2fx of RC padded;"
		       " SC packed %.2fx\n", m[2] / m[1], m[2] / m[3], m[0] / m[1]);
	}
	return bad;
}

/* ---- producer/consumer ring ------------------------------------------- */

struct ring {
	uint64_t head, tail;
	uint64_t slot[SLOTS];
};

static void sem(int post, uint64_t key)
{
	int rc = post ? dsm_sem_post(key) : dsm_sem_wait(key);

	if (rc) {
		fprintf(stderr, "rc_bench: semaphore: %s\n", strerror(-rc));
		exit(1);
	}
}

/* Semaphore keys of pair p: full and empty slots; distinct per run.  With
 * spin, no semaphores: the producer waits for a free slot and the consumer
 * for an item by reading the other's index, as a program written for
 * sequentially consistent memory may (the ring; it is not data-race
 * free, so it runs on SC memory only). */
static double ring_run(struct ring *rings, long items, uint64_t keybase, int spin, int *bad)
{
	int pair = me / 2;
	volatile struct ring *g = &rings[pair];
	uint64_t full = keybase + 2 * (uint64_t)pair, empty = full + 1;
	double t0;

	barrier();
	t0 = now();
	if (pair < nr / 2) {
		for (long i = 0; i < items; i++) {
			if (me % 2 == 0) {
				if (spin)
					while (g->head - g->tail >= SLOTS)
						;
				else if (i >= SLOTS)
					sem(0, empty);
				g->slot[g->head % SLOTS] = (uint64_t)i * 7 + 1;
				g->head = g->head + 1;
				if (!spin)
					sem(1, full);
			} else {
				uint64_t v;
				if (spin)
					while (g->tail == g->head)
						;
				else
					sem(0, full);
				v = g->slot[g->tail % SLOTS];
				if (v != (uint64_t)i * 7 + 1 && (*bad)++ < 3)
					fprintf(stderr, "rc_bench: rank %d: item %ld is %lu\n", me, i, (unsigned long)v);
				g->tail = g->tail + 1;
				if (!spin)
					sem(1, empty);
			}
		}
	}
	barrier();
	return now() - t0;
}

/* Three variants, alternated: SC with semaphores, RC with semaphores, and
 * the SC ring that spins on its indices. */
static int ring(long items, int reps)
{
	static const char *const what[3] = {"SC", "RC", "SC spinning"};
	double *t[3], med[3];
	int bad = 0;

	if ((size_t)(nr / 2) * sizeof(struct ring) > PAGE) {
		fprintf(stderr, "rc_bench: too many ranks for one page of rings\n");
		return 1;
	}
	for (int v = 0; v < 3; v++) {
		t[v] = calloc((size_t)reps, sizeof(double));
		if (!t[v])
			return 1;
	}
	if (me == 0)
		printf("rc_bench: ring, %d pairs x %ld items, %d slots, every ring on one page, %d reps\n", nr / 2,
		       items, SLOTS, reps);
	for (int r = 0; r < reps; r++)
		for (int v = 0; v < 3; v++) {
			char name[32];
			/* A fresh ring each run: indices from zero, no credits left. */
			snprintf(name, sizeof(name), "rc_bench.ring%d.%d", v, r);
			t[v][r] = ring_run(alloc(name, PAGE, v == 1), items, 1000 + (uint64_t)(r * 3 + v) * 64, v == 2,
					   &bad);
		}
	if (me == 0) {
		for (int v = 0; v < 3; v++) {
			med[v] = median(t[v], reps);
			printf("rc_bench: ring %-11s median %8.3f s\n", what[v], med[v]);
		}
		printf("targets: issue 16's project targets, see docs/bench.md\n");
		printf("target: ring RC at least 10x faster than SC: %.1fx against the SC spinning ring, %.1fx against SC "
		       "with semaphores\n", med[2] / med[1], med[0] / med[1]);
	}
	return bad != 0;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	long phases = 500, incs = 1000, items = 5000;
	int reps = 3, rc;

	if ((rc = dsm_init(&argc, &argv))) {
		fprintf(stderr, "dsm_init: %s\n", strerror(-rc));
		return 1;
	}
	me = dsm_rank();
	nr = dsm_size();
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--phases"))
			phases = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--incs"))
			incs = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--items"))
			items = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--reps"))
			reps = atoi(argv[i + 1]);
	}
	if (reps < 1 || phases < 1 || incs < 0 || items < 1) {
		fprintf(stderr, "rc_bench: bad arguments\n");
		return 2;
	}
	if (!strcmp(what, "falseshare"))
		rc = falseshare(phases, incs, reps);
	else if (!strcmp(what, "ring"))
		rc = ring(items, reps);
	else {
		fprintf(stderr, "usage: rc_bench falseshare|ring [--phases P] [--incs K] [--items N] [--reps R]\n");
		rc = 2;
	}
	if (dsm_finalize())
		return 1;
	return rc;
}
