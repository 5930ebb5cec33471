/*
 * classic.c - app_bench's first three kernels: Jacobi relaxation, matrix
 * multiply and a sample sort.  Sizes from the environment (defaults in
 * brackets) for classes W and larger; class S is a small fixed size for
 * smoke runs:
 *   jacobi  an N x N grid of doubles, I sweeps, a barrier between sweeps;
 *           each worker updates a band of rows (BENCH_JACOBI_N [2048],
 *           BENCH_JACOBI_ITERS [100]; S: 256, 20)
 *   matmul  C = A x B, N x N doubles; each worker computes a band of rows of
 *           C and reads all of B (BENCH_MATMUL_N [1024]; S: 192)
 *   sort    sample sort of N 64-bit keys: each worker sorts its block
 *           (qsort), regular samples give splitters, each worker gathers its
 *           bucket from every block and merges the runs into the output
 *           (BENCH_SORT_N [4194304]; S: 65536)
 * Each is exact: its digest, which does not depend on how the work was
 * divided (per-row sums added in row order; the keys' sum and order), must
 * equal the serial run's.
 */
#include "apps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLES 64 /* per worker, for the sort's splitters */

struct classic_par {
	size_t n;
	long iters;
};

static struct classic_par jacobi_par, matmul_par, sort_par;

static size_t env_size(const char *name, size_t def)
{
	const char *v = getenv(name);

	return v && *v ? (size_t)strtoull(v, NULL, 10) : def;
}

/* What the three setups share: n is small for class S, else from the
 * environment. */
static struct classic_par *classic_setup(struct app_data *d, struct classic_par *p, char cls, size_t small,
					 const char *env, size_t def, int nbuf, const char *const *names)
{
	p->n = cls == 'S' ? small : env_size(env, def);
	d->par = p;
	d->nbuf = nbuf;
	d->names = names;
	return p;
}

/* The digest of per-row sums: the bits of their sum, in row order. */
static void rowsums(struct worker *w, const double *g, double *rowsum)
{
	size_t n = ((const struct classic_par *)w->d->par)->n, lo, hi;

	app_range(n, w->id, w->nw, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		double s = 0;
		for (size_t j = 0; j < n; j++)
			s += g[i * n + j];
		rowsum[i] = s;
	}
}

static int rowsum_digest(const struct app_data *d, int rowsum_buf, uint64_t *digest, char *msg, size_t len)
{
	const struct classic_par *p = d->par;
	const double *rowsum = d->buf[rowsum_buf];
	double s = 0;

	for (size_t i = 0; i < p->n; i++)
		s += rowsum[i];
	memcpy(digest, &s, sizeof(*digest));
	snprintf(msg, len, "sum of the result %.17g, bit for bit the serial run's", s);
	return 1;
}

/* ---- jacobi --------------------------------------------------------------- */

enum { J_G0, J_G1, J_ROWSUM, J_NBUF };
static const char *const j_names[] = { "grid0", "grid1", "rowsum" };

static int jacobi_setup(struct app_data *d, char cls)
{
	struct classic_par *p = classic_setup(d, &jacobi_par, cls, 256, "BENCH_JACOBI_N", 2048, J_NBUF, j_names);

	p->iters = cls == 'S' ? 20 : (long)env_size("BENCH_JACOBI_ITERS", 100);
	d->size[J_G0] = d->size[J_G1] = p->n * p->n * sizeof(double);
	d->size[J_ROWSUM] = p->n * sizeof(double);
	return 0;
}

static void sweep(const double *old, double *new, size_t n, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++) {
		if (i == 0 || i == n - 1)
			continue; /* the edges stay fixed */
		for (size_t j = 1; j < n - 1; j++)
			new[i * n + j] = 0.25 * (old[(i - 1) * n + j] + old[(i + 1) * n + j] + old[i * n + j - 1] +
						 old[i * n + j + 1]);
	}
}

static void jacobi_init(struct worker *w)
{
	size_t n = jacobi_par.n, lo, hi;

	app_range(n, w->id, w->nw, &lo, &hi);
	for (int k = 0; k < 2; k++) {
		double *g = w->d->buf[J_G0 + k];
		for (size_t i = lo; i < hi; i++)
			for (size_t j = 0; j < n; j++)
				g[i * n + j] = i == 0 ? 1.0 : 0.0;
	}
}

static void jacobi_run(struct worker *w)
{
	size_t lo, hi;

	app_range(jacobi_par.n, w->id, w->nw, &lo, &hi);
	for (long t = 0; t < jacobi_par.iters; t++) {
		sweep(w->d->buf[J_G0 + (t & 1)], w->d->buf[J_G0 + ((t + 1) & 1)], jacobi_par.n, lo, hi);
		app_barrier(w);
	}
}

static void jacobi_finish(struct worker *w)
{
	rowsums(w, w->d->buf[J_G0 + (jacobi_par.iters & 1)], w->d->buf[J_ROWSUM]);
}

static int jacobi_verify(const struct app_data *d, int nw, uint64_t *digest, char *msg, size_t len)
{
	(void)nw;
	return rowsum_digest(d, J_ROWSUM, digest, msg, len);
}

const struct app_kernel app_jacobi = { "jacobi", 1, jacobi_setup, jacobi_init, jacobi_run, jacobi_finish,
				       jacobi_verify };

/* ---- matmul --------------------------------------------------------------- */

enum { M_A, M_B, M_C, M_ROWSUM, M_NBUF };
static const char *const m_names[] = { "a", "b", "c", "rowsum" };

static int matmul_setup(struct app_data *d, char cls)
{
	struct classic_par *p = classic_setup(d, &matmul_par, cls, 192, "BENCH_MATMUL_N", 1024, M_NBUF, m_names);

	d->size[M_A] = d->size[M_B] = d->size[M_C] = p->n * p->n * sizeof(double);
	d->size[M_ROWSUM] = p->n * sizeof(double);
	return 0;
}

static void matmul_init(struct worker *w)
{
	size_t n = matmul_par.n, lo, hi;
	double *a = w->d->buf[M_A], *b = w->d->buf[M_B], *c = w->d->buf[M_C];

	app_range(n, w->id, w->nw, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		for (size_t j = 0; j < n; j++) {
			a[i * n + j] = (double)((i * 7 + j * 3) % 17) * 0.25;
			b[i * n + j] = (double)((i * 5 + j * 11) % 13) * 0.5;
			c[i * n + j] = 0;
		}
}

/* Blocked so that a tile of B stays in cache: compute-bound, not memory-bound.
 * Each C[i][j] still adds its products in k order, so every variant gets the
 * same bits. */
#define TILE_J 256
#define TILE_K 64

static void matmul_run(struct worker *w)
{
	size_t n = matmul_par.n, lo, hi;
	const double *a = w->d->buf[M_A], *b = w->d->buf[M_B];
	double *c = w->d->buf[M_C];

	app_range(n, w->id, w->nw, &lo, &hi);
	for (size_t jj = 0; jj < n; jj += TILE_J) {
		size_t je = jj + TILE_J < n ? jj + TILE_J : n;
		for (size_t kk = 0; kk < n; kk += TILE_K) {
			size_t ke = kk + TILE_K < n ? kk + TILE_K : n;
			for (size_t i = lo; i < hi; i++) {
				double *ci = c + i * n;
				for (size_t k = kk; k < ke; k++) {
					double aik = a[i * n + k];
					const double *bk = b + k * n;
					for (size_t j = jj; j < je; j++)
						ci[j] += aik * bk[j];
				}
			}
		}
	}
}

static void matmul_finish(struct worker *w)
{
	rowsums(w, w->d->buf[M_C], w->d->buf[M_ROWSUM]);
}

static int matmul_verify(const struct app_data *d, int nw, uint64_t *digest, char *msg, size_t len)
{
	(void)nw;
	return rowsum_digest(d, M_ROWSUM, digest, msg, len);
}

const struct app_kernel app_matmul = { "matmul", 1, matmul_setup, matmul_init, matmul_run, matmul_finish,
				       matmul_verify };

/* ---- sort ----------------------------------------------------------------- */

enum { S_IN, S_OUT, S_META, S_NBUF };
static const char *const s_names[] = { "in", "out", "meta" };

struct sort_meta {
	uint64_t samples[APP_MAXW * SAMPLES];
	uint64_t pos[APP_MAXW][APP_MAXW + 1]; /* worker r's block: bucket b is [pos[r][b], pos[r][b+1]) */
	uint64_t sum[APP_MAXW];
	uint64_t bad[APP_MAXW];               /* out of order pairs seen */
};

static int sort_setup(struct app_data *d, char cls)
{
	struct classic_par *p = classic_setup(d, &sort_par, cls, 65536, "BENCH_SORT_N", 4194304, S_NBUF, s_names);

	d->size[S_IN] = d->size[S_OUT] = p->n * sizeof(uint64_t);
	d->size[S_META] = sizeof(struct sort_meta);
	return 0;
}

static uint64_t key_at(uint64_t i)
{
	uint64_t z = i + 0x9e3779b97f4a7c15ULL; /* splitmix64 */

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static size_t lower_bound(const uint64_t *v, size_t n, uint64_t key)
{
	size_t l = 0, h = n;

	while (l < h) {
		size_t m = l + (h - l) / 2;
		if (v[m] < key)
			l = m + 1;
		else
			h = m;
	}
	return l;
}

static void sort_init(struct worker *w)
{
	uint64_t *in = w->d->buf[S_IN];
	size_t lo, hi;

	app_range(sort_par.n, w->id, w->nw, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		in[i] = key_at(i);
}

static void sort_run(struct worker *w)
{
	struct sort_meta *m = w->d->buf[S_META];
	uint64_t *in = w->d->buf[S_IN];
	uint64_t all[APP_MAXW * SAMPLES], sp[APP_MAXW], head[APP_MAXW], end[APP_MAXW], *tmp, *out;
	size_t lo, hi, mine, size = 0, off = 0, k = 0;
	int nw = w->nw, id = w->id;

	app_range(sort_par.n, id, nw, &lo, &hi);
	mine = hi - lo;
	qsort(in + lo, mine, sizeof(uint64_t), cmp_u64);
	for (int i = 0; i < SAMPLES; i++)
		m->samples[id * SAMPLES + i] = in[lo + (size_t)i * mine / SAMPLES];
	app_barrier(w);
	memcpy(all, m->samples, sizeof(uint64_t) * (size_t)(nw * SAMPLES));
	qsort(all, (size_t)(nw * SAMPLES), sizeof(uint64_t), cmp_u64);
	for (int b = 1; b < nw; b++)
		sp[b] = all[b * SAMPLES];
	m->pos[id][0] = lo;
	for (int b = 1; b < nw; b++)
		m->pos[id][b] = lo + lower_bound(in + lo, mine, sp[b]);
	m->pos[id][nw] = hi;
	app_barrier(w);

	/* Worker id gathers bucket id from every block and merges the runs. */
	for (int r = 0; r < nw; r++)
		for (int b = 0; b <= id; b++) {
			size_t len = m->pos[r][b + 1] - m->pos[r][b];
			if (b < id)
				off += len;
			else
				size += len;
		}
	tmp = app_xmalloc(sizeof(uint64_t) * size);
	for (int r = 0; r < nw; r++) {
		size_t len = m->pos[r][id + 1] - m->pos[r][id];
		memcpy(tmp + k, in + m->pos[r][id], len * sizeof(uint64_t));
		head[r] = k;
		k += len;
		end[r] = k;
	}
	out = (uint64_t *)w->d->buf[S_OUT] + off;
	app_will_overwrite(w, out, sizeof(uint64_t) * size);
	for (size_t i = 0; i < size; i++) {
		int best = -1;
		for (int r = 0; r < nw; r++)
			if (head[r] < end[r] && (best < 0 || tmp[head[r]] < tmp[head[best]]))
				best = r;
		out[i] = tmp[head[best]++];
	}
	free(tmp);
}

static void sort_finish(struct worker *w)
{
	struct sort_meta *m = w->d->buf[S_META];
	const uint64_t *out = w->d->buf[S_OUT];
	size_t a = m->pos[0][0], s = 0;
	uint64_t sum = 0, bad = 0;

	for (int r = 0; r < w->nw; r++)
		for (int b = 0; b < w->id; b++)
			a += m->pos[r][b + 1] - m->pos[r][b];
	for (int r = 0; r < w->nw; r++)
		s += m->pos[r][w->id + 1] - m->pos[r][w->id];
	for (size_t i = a; i < a + s; i++) {
		sum += out[i];
		bad += i > 0 && out[i - 1] > out[i];
	}
	m->sum[w->id] = sum;
	m->bad[w->id] = bad;
}

static int sort_verify(const struct app_data *d, int nw, uint64_t *digest, char *msg, size_t len)
{
	const struct sort_meta *m = d->buf[S_META];
	uint64_t sum = 0, bad = 0;

	for (int r = 0; r < nw; r++) {
		sum += m->sum[r];
		bad += m->bad[r];
	}
	*digest = sum;
	snprintf(msg, len, "%llu keys out of order, key sum %#llx as the serial run's", (unsigned long long)bad,
		 (unsigned long long)sum);
	return bad == 0;
}

const struct app_kernel app_sort = { "sort", 1, sort_setup, sort_init, sort_run, sort_finish, sort_verify };
