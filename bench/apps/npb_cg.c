/*
 * npb_cg.c - CG of the NAS Parallel Benchmarks, written from the published
 * specification: the inverse power method on a random sparse symmetric
 * positive definite matrix, each of its NITER steps solving A z = x with 25
 * iterations of conjugate gradient; zeta = shift + 1 / (x . z) converges to
 * the class's reference value, which verifies the run (within 1e-10).
 *
 * The matrix is NPB's: A = sum over i of size_i * v_i v_i^T + (rcond -
 * shift) I, where v_i is a sparse vector of nonzer random entries (plus
 * 0.5 at position i) drawn from the NPB generator (seed 314159265, one
 * number skipped) and size_i falls geometrically from 1 to rcond.  Each
 * process builds it once, privately (makea below), and each worker copies
 * its band of rows into the kernel's arrays before the clock starts.
 *
 * Parallel: rows in bands, one per worker, each band whole pages of the
 * vectors (app_range_paged: bands that end mid-page put a page of each
 * vector under two writers, the hot-page report's FALSE SHARING; it cost
 * 40 % of a 2-rank run); the vectors x, z, p, q, r are
 * arrays of the kernel, each worker writing its band; q = A p reads all of
 * p.  Dot products go through app_sum (threads: one slot per worker on one
 * page, as an OpenMP reduction array would; dsm ranks: dsm_allgather, no
 * page; 2-rank W: 4.9k -> 2.8k faults), three barriers per CG iteration.
 */
#include "apps.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CGITMAX 25
#define RCOND 0.1
#define CG_SEED 314159265ULL

enum { C_ROW, C_COL, C_A, C_X, C_Z, C_P, C_Q, C_R, C_RED, C_RES, C_NBUF };
static const char *const c_names[] = { "rowstr", "colidx", "a", "x", "z", "p", "q", "r", "red", "res" };

struct cg_res {
	double zeta, rnorm;
};

static struct cg_par {
	int n, nonzer, niter;
	double shift, zeta;   /* zeta: the published value */
	size_t nnz;
	int *rowstr, *col;    /* the matrix, this process's copy (CSR, 0-based) */
	double *a;
} cg_par;

/* NPB's sprnvc: nz distinct random positions below n, with random values. */
static void sprnvc(int n, int nz, int nn1, double *v, int *iv, uint64_t *tran)
{
	int nzv = 0;

	while (nzv < nz) {
		double val = npb_randlc(tran, NPB_A), loc = npb_randlc(tran, NPB_A);
		int i = (int)(nn1 * loc), dup = 0;

		if (i >= n)
			continue;
		for (int k = 0; k < nzv && !dup; k++)
			dup = iv[k] == i;
		if (dup)
			continue;
		v[nzv] = val;
		iv[nzv++] = i;
	}
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/*
 * NPB's makea and sparse: the outer products summed, duplicates added in
 * the order they are generated (vector by vector), columns sorted per row.
 */
static void makea(struct cg_par *p)
{
	int n = p->n, per = p->nonzer + 1, nn1 = 1;
	int *arow = app_xmalloc(sizeof(int) * (size_t)n), *acol = app_xmalloc(sizeof(int) * (size_t)n * per);
	double *aelt = app_xmalloc(sizeof(double) * (size_t)n * per);
	size_t *start = calloc((size_t)n + 1, sizeof(size_t)), total, *fill;
	int *tcol, *mark, *cols;
	double *tval, *acc, size = 1.0, ratio = pow(RCOND, 1.0 / n);
	uint64_t tran = CG_SEED;

	if (!start)
		app_die("calloc", ENOMEM);
	npb_randlc(&tran, NPB_A);
	do
		nn1 *= 2;
	while (nn1 < n);
	for (int i = 0; i < n; i++) {
		int *iv = acol + (size_t)i * per, nzv = p->nonzer, k;
		double *v = aelt + (size_t)i * per;

		sprnvc(n, nzv, nn1, v, iv, &tran);
		for (k = 0; k < nzv && iv[k] != i; k++)
			;
		if (k == nzv)
			iv[nzv++] = i;
		v[k] = 0.5;
		arow[i] = nzv;
	}
	/* Row j gets arow[i] entries from each vector i that holds j. */
	for (int i = 0; i < n; i++)
		for (int k = 0; k < arow[i]; k++)
			start[acol[(size_t)i * per + k] + 1] += (size_t)arow[i];
	for (int j = 0; j < n; j++)
		start[j + 1] += start[j];
	total = start[n];
	tcol = app_xmalloc(sizeof(int) * total);
	tval = app_xmalloc(sizeof(double) * total);
	fill = app_xmalloc(sizeof(size_t) * (size_t)n);
	memcpy(fill, start, sizeof(size_t) * (size_t)n);
	for (int i = 0; i < n; i++) {
		const int *iv = acol + (size_t)i * per;
		const double *v = aelt + (size_t)i * per;
		for (int k = 0; k < arow[i]; k++) {
			int j = iv[k];
			double scale = size * v[k];
			for (int m = 0; m < arow[i]; m++) {
				double va = v[m] * scale;
				if (iv[m] == j && j == i)
					va = va + RCOND - p->shift;
				tcol[fill[j]] = iv[m];
				tval[fill[j]++] = va;
			}
		}
		size *= ratio;
	}

	/* Sum the duplicates of each row, in generation order. */
	p->rowstr = app_xmalloc(sizeof(int) * ((size_t)n + 1));
	p->col = app_xmalloc(sizeof(int) * total);
	p->a = app_xmalloc(sizeof(double) * total);
	acc = calloc((size_t)n, sizeof(double));
	mark = malloc(sizeof(int) * (size_t)n);
	cols = malloc(sizeof(int) * (size_t)n);
	if (!acc || !mark || !cols)
		app_die("malloc", ENOMEM);
	memset(mark, 0xff, sizeof(int) * (size_t)n);
	p->nnz = 0;
	for (int j = 0; j < n; j++) {
		int nc = 0;
		p->rowstr[j] = (int)p->nnz;
		for (size_t t = start[j]; t < start[j + 1]; t++) {
			int c = tcol[t];
			if (mark[c] != j) {
				mark[c] = j;
				acc[c] = 0;
				cols[nc++] = c;
			}
			acc[c] += tval[t];
		}
		qsort(cols, (size_t)nc, sizeof(int), cmp_int);
		for (int k = 0; k < nc; k++) {
			p->col[p->nnz] = cols[k];
			p->a[p->nnz++] = acc[cols[k]];
		}
	}
	p->rowstr[n] = (int)p->nnz;
	free(arow);
	free(acol);
	free(aelt);
	free(start);
	free(fill);
	free(tcol);
	free(tval);
	free(acc);
	free(mark);
	free(cols);
}

static int cg_setup(struct app_data *d, char cls)
{
	static const struct cg_par classes[] = {
		{ 1400, 7, 15, 10.0, 8.5971775078648, 0, NULL, NULL, NULL },    /* S */
		{ 7000, 8, 15, 12.0, 10.362595087124, 0, NULL, NULL, NULL },    /* W */
		{ 14000, 11, 15, 20.0, 17.130235054029, 0, NULL, NULL, NULL },  /* A */
		{ 75000, 13, 75, 60.0, 22.712745482631, 0, NULL, NULL, NULL },  /* B */
	};
	int c = app_class_index(cls);
	size_t vec;

	if (c < 0)
		return c;
	free(cg_par.rowstr);
	free(cg_par.col);
	free(cg_par.a);
	cg_par = classes[c];
	makea(&cg_par);
	vec = sizeof(double) * (size_t)cg_par.n;
	d->par = &cg_par;
	d->nbuf = C_NBUF;
	d->names = c_names;
	d->size[C_ROW] = sizeof(int) * ((size_t)cg_par.n + 1);
	d->size[C_COL] = sizeof(int) * cg_par.nnz;
	d->size[C_A] = sizeof(double) * cg_par.nnz;
	d->size[C_X] = d->size[C_Z] = d->size[C_P] = d->size[C_Q] = d->size[C_R] = vec;
	d->size[C_RED] = sizeof(struct app_red);
	d->size[C_RES] = sizeof(struct cg_res);
	return 0;
}

/* q[lo..hi) = A v */
static void matvec(void **b, const double *v, double *q, size_t lo, size_t hi)
{
	const int *rowstr = b[C_ROW], *col = b[C_COL];
	const double *a = b[C_A];

	for (size_t j = lo; j < hi; j++) {
		double s = 0;
		for (int k = rowstr[j]; k < rowstr[j + 1]; k++)
			s += a[k] * v[col[k]];
		q[j] = s;
	}
}

/* 25 CG iterations towards A z = x; returns ||x - A z||. */
static double conj_grad(struct worker *w, size_t lo, size_t hi)
{
	void **b = w->d->buf;
	double *x = b[C_X], *z = b[C_Z], *p = b[C_P], *q = b[C_Q], *r = b[C_R];
	struct app_red *red = b[C_RED];
	double rho = 0, s[1];

	for (size_t j = lo; j < hi; j++) {
		q[j] = z[j] = 0;
		r[j] = p[j] = x[j];
		rho += r[j] * r[j];
	}
	s[0] = rho;
	app_sum(w, red, s, 1);
	rho = s[0];
	for (int it = 0; it < CGITMAX; it++) {
		double d = 0, alpha, rho0 = rho;

		matvec(b, p, q, lo, hi);
		for (size_t j = lo; j < hi; j++)
			d += p[j] * q[j];
		s[0] = d;
		app_sum(w, red, s, 1);
		alpha = rho0 / s[0];
		rho = 0;
		for (size_t j = lo; j < hi; j++) {
			z[j] += alpha * p[j];
			r[j] -= alpha * q[j];
			rho += r[j] * r[j];
		}
		s[0] = rho;
		app_sum(w, red, s, 1);
		rho = s[0];
		for (size_t j = lo; j < hi; j++)
			p[j] = r[j] + rho / rho0 * p[j];
		if (it < CGITMAX - 1)
			app_barrier(w); /* all of p before the next A p */
	}
	/* ||x - A z||: every z was written before the last sum's barrier. */
	matvec(b, z, r, lo, hi);
	s[0] = 0;
	for (size_t j = lo; j < hi; j++)
		s[0] += (x[j] - r[j]) * (x[j] - r[j]);
	app_sum(w, red, s, 1);
	return sqrt(s[0]);
}

/* NITER steps of the inverse power method from x = 1 (or one, untimed). */
static void cg_steps(struct worker *w, int steps)
{
	void **b = w->d->buf;
	double *x = b[C_X], *z = b[C_Z], zeta = 0, rnorm = 0;
	size_t lo, hi;

	app_range_paged((size_t)cg_par.n, sizeof(double), w->id, w->nw, &lo, &hi);
	for (size_t j = lo; j < hi; j++)
		x[j] = 1.0;
	for (int it = 0; it < steps; it++) {
		double s[2] = { 0, 0 };

		rnorm = conj_grad(w, lo, hi);
		for (size_t j = lo; j < hi; j++) {
			s[0] += x[j] * z[j];
			s[1] += z[j] * z[j];
		}
		app_sum(w, b[C_RED], s, 2);
		zeta = cg_par.shift + 1.0 / s[0];
		s[1] = 1.0 / sqrt(s[1]);
		for (size_t j = lo; j < hi; j++)
			x[j] = s[1] * z[j];
	}
	if (w->id == 0) {
		struct cg_res *res = b[C_RES];
		res->zeta = zeta;
		res->rnorm = rnorm;
	}
}

/* Each worker's rows of the matrix, then one untimed step, as NPB does. */
static void cg_init(struct worker *w)
{
	void **b = w->d->buf;
	int *rowstr = b[C_ROW], *col = b[C_COL];
	double *a = b[C_A];
	size_t lo, hi, k0, k1;

	app_range_paged((size_t)cg_par.n, sizeof(double), w->id, w->nw, &lo, &hi);
	k0 = (size_t)cg_par.rowstr[lo];
	k1 = (size_t)cg_par.rowstr[hi];
	memcpy(rowstr + lo, cg_par.rowstr + lo, sizeof(int) * (hi - lo + (hi == (size_t)cg_par.n)));
	memcpy(col + k0, cg_par.col + k0, sizeof(int) * (k1 - k0));
	memcpy(a + k0, cg_par.a + k0, sizeof(double) * (k1 - k0));
	app_barrier(w);
	cg_steps(w, 1);
}

static void cg_run(struct worker *w)
{
	cg_steps(w, cg_par.niter);
}

static void cg_finish(struct worker *w)
{
	(void)w;
}

static int cg_verify(const struct app_data *d, int nw, uint64_t *digest, char *msg, size_t len)
{
	const struct cg_res *r = d->buf[C_RES];
	double err = app_relerr(r->zeta, cg_par.zeta);

	(void)nw;
	memcpy(digest, &r->zeta, sizeof(*digest));
	snprintf(msg, len, "zeta %.13f, reference %.13f, rel. error %.1e (<= 1e-10); rnorm %.2e", r->zeta,
		 cg_par.zeta, err, r->rnorm);
	return err <= 1e-10;
}

const struct app_kernel app_cg = { "cg", 0, cg_setup, cg_init, cg_run, cg_finish, cg_verify };
