/*
 * jacobi - Jacobi relaxation of Laplace's equation on an N x N grid in the
 * shared region: the top edge is held at 1, the other edges at 0.  Each rank
 * updates a band of rows from the previous grid into the next one, and a
 * barrier separates the sweeps; only the rows at the edges of the bands move
 * between ranks.  Rank 0 then sums the grid and checks the sum against the
 * same computation done in one process, in private memory: the arithmetic is
 * the same, so the results must agree to the last bit.
 *
 *   dsmexec -n 4 bin/jacobi [N [sweeps]]      (default 512 x 512, 200 sweeps)
 */
#include <dsm.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void sweep(const double *old, double *new, size_t n, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++) {
		if (i == 0 || i == n - 1)
			continue; /* the edges stay fixed */
		for (size_t j = 1; j < n - 1; j++)
			new[i * n + j] = 0.25 * (old[(i - 1) * n + j] + old[(i + 1) * n + j] +
						 old[i * n + j - 1] + old[i * n + j + 1]);
	}
}

static void set_edges(double *g, size_t n)
{
	for (size_t j = 0; j < n; j++)
		g[j] = 1.0;
}

static double sum(const double *g, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n * n; i++)
		s += g[i];
	return s;
}

/* The same computation in one process. */
static double reference(size_t n, long sweeps)
{
	double *g[2] = { calloc(n * n, sizeof(double)), calloc(n * n, sizeof(double)) }, s;

	if (!g[0] || !g[1]) {
		fprintf(stderr, "jacobi: out of memory for the reference grids\n");
		exit(1);
	}
	set_edges(g[0], n);
	set_edges(g[1], n);
	for (long t = 0; t < sweeps; t++)
		sweep(g[t & 1], g[(t + 1) & 1], n, 0, n);
	s = sum(g[sweeps & 1], n);
	free(g[0]);
	free(g[1]);
	return s;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 512;
	long sweeps = argc > 2 ? strtol(argv[2], NULL, 10) : 200;
	int rc = dsm_init(&argc, &argv), me, workers;
	double *g[2], t0, t1;
	size_t per, lo, hi;

	if (rc) {
		fprintf(stderr, "dsm_init: %s\n", strerror(-rc));
		return 1;
	}
	if (n < 3 || n > 65536 || sweeps < 0) {
		fprintf(stderr, "jacobi: need 3 <= N <= 65536 and sweeps >= 0\n");
		return 1;
	}
	me = dsm_rank();
	workers = dsm_size() - dsm_num_servers();
	g[0] = dsm_alloc_named("jacobi.grid0", (size_t)n * (size_t)n * sizeof(double));
	g[1] = dsm_alloc_named("jacobi.grid1", (size_t)n * (size_t)n * sizeof(double));
	if (!g[0] || !g[1]) {
		fprintf(stderr, "dsm_alloc_named: %s\n", strerror(errno));
		return 1;
	}
	if (me == 0) {
		set_edges(g[0], (size_t)n);
		set_edges(g[1], (size_t)n);
	}
	per = ((size_t)n + (size_t)workers - 1) / (size_t)workers;
	lo = (size_t)me * per;
	hi = lo + per < (size_t)n ? lo + per : (size_t)n;
	dsm_barrier();
	t0 = now();
	for (long t = 0; t < sweeps; t++) {
		sweep(g[t & 1], g[(t + 1) & 1], (size_t)n, lo, hi);
		dsm_barrier();
	}
	t1 = now();
	if (me == 0) {
		double got = sum(g[sweeps & 1], (size_t)n), want = reference((size_t)n, sweeps);
		rc = got != want;
		printf("jacobi: %ldx%ld grid, %ld sweeps on %d ranks in %.2f s: checksum %.12f, "
		       "single process %.12f: %s\n", n, n, sweeps, workers, t1 - t0, got, want,
		       rc ? "WRONG" : "OK");
	}
	dsm_barrier();
	return dsm_finalize() || rc ? 1 : 0;
}
