/*
 * npb_ft.c - FT of the NAS Parallel Benchmarks, written from the published
 * specification: a 3-D complex array of NPB random numbers (seed 314159265,
 * real and imaginary parts in turn, x fastest) is transformed forward once;
 * then NITER times the spectrum is multiplied by exp(-4 alpha pi^2 |k|^2)
 * (alpha 1e-6, cumulatively), transformed back (unnormalised), and a
 * checksum of 1024 fixed elements, divided by the number of points, is
 * taken.  Verified: every checksum within 1e-12 of the class's values.
 *
 * Parallel as NPB's one-dimensional layout: the array in space, X[z][y][x],
 * is divided in slabs of z planes; the spectrum, U[y][z][x], in slabs of y.
 * Each worker transforms along x and y in its planes, along z in its slab
 * of the transposed array, and the transposes between the two are an
 * all-to-all: each worker pulls the rows (nx complex numbers, 4 KiB in
 * class A) of its slab from every other worker's planes.
 *
 * The 1-D transforms are radix-2 Stockham (no bit reversal) on 16 lines at
 * a time, copied into a worker's scratch so that strided lines are read a
 * cache line at a time.
 */
#include "apps.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FT_SEED 314159265ULL
#define FT_ALPHA 1e-6
#define NITER 6
#define LANES 16

typedef struct {
	double re, im;
} cplx;

enum { F_X, F_U, F_W, F_TW, F_RED, F_RES, F_NBUF };
static const char *const f_names[] = { "x", "u", "w", "twiddle", "red", "res" };

struct ft_res {
	double chk[NITER][2];
};

static struct ft_par {
	int nx, ny, nz;
	double chk[NITER][2];     /* the published checksums */
	cplx *root[3];            /* exp(-2 pi i k / n), k < n/2, for nx, ny, nz */
} ft_par;

static const struct ft_par ft_classes[] = {
	{ 64, 64, 64,
	  { { 5.546087004964e+02, 4.845363331978e+02 }, { 5.546385409189e+02, 4.865304269511e+02 },
	    { 5.546148406171e+02, 4.883910722336e+02 }, { 5.545423607415e+02, 4.901273169046e+02 },
	    { 5.544255039624e+02, 4.917475857993e+02 }, { 5.542683411902e+02, 4.932597244941e+02 } },
	  { NULL, NULL, NULL } },
	{ 128, 128, 32,
	  { { 5.673612178944e+02, 5.293246849175e+02 }, { 5.631436885271e+02, 5.282149986629e+02 },
	    { 5.594024089970e+02, 5.270996558037e+02 }, { 5.560698047020e+02, 5.260027904925e+02 },
	    { 5.530898991250e+02, 5.249400845633e+02 }, { 5.504159734538e+02, 5.239212247086e+02 } },
	  { NULL, NULL, NULL } },
	{ 256, 256, 128,
	  { { 5.046735008193e+02, 5.114047905510e+02 }, { 5.059412319734e+02, 5.098809666433e+02 },
	    { 5.069376896287e+02, 5.098144042213e+02 }, { 5.077892868474e+02, 5.101336130759e+02 },
	    { 5.085233095391e+02, 5.104914655194e+02 }, { 5.091487099959e+02, 5.107917842803e+02 } },
	  { NULL, NULL, NULL } },
};

static int ft_setup(struct app_data *d, char cls)
{
	int c = app_class_index(cls);
	size_t pts;

	if (c < 0 || c >= (int)(sizeof(ft_classes) / sizeof(ft_classes[0])))
		return -EINVAL;
	for (int k = 0; k < 3; k++)
		free(ft_par.root[k]);
	ft_par = ft_classes[c];
	for (int k = 0; k < 3; k++) {
		int n = k == 0 ? ft_par.nx : k == 1 ? ft_par.ny : ft_par.nz;
		ft_par.root[k] = app_xmalloc(sizeof(cplx) * (size_t)(n / 2));
		for (int t = 0; t < n / 2; t++) {
			double a = -2.0 * M_PI * t / n;
			ft_par.root[k][t] = (cplx){ cos(a), sin(a) };
		}
	}
	pts = (size_t)ft_par.nx * ft_par.ny * ft_par.nz;
	d->par = &ft_par;
	d->nbuf = F_NBUF;
	d->names = f_names;
	d->size[F_X] = d->size[F_U] = d->size[F_W] = sizeof(cplx) * pts;
	d->size[F_TW] = sizeof(double) * pts;
	d->size[F_RED] = sizeof(struct app_red);
	d->size[F_RES] = sizeof(struct ft_res);
	return 0;
}

/* nb transforms of length n side by side (element t of line l at x[t*nb+l]),
 * y as the second buffer; returns the buffer that holds the result. */
static cplx *stockham(cplx *x, cplx *y, int n, int nb, const cplx *root, int inverse)
{
	for (int len = n, s = 1; len > 1; len /= 2, s *= 2) {
		int m = len / 2;
		cplx *t;

		for (int p = 0; p < m; p++) {
			cplx wp = root[p * s];
			if (inverse)
				wp.im = -wp.im;
			for (int q = 0; q < s; q++) {
				const cplx *a = x + (size_t)(q + s * p) * nb, *b = x + (size_t)(q + s * (p + m)) * nb;
				cplx *sum = y + (size_t)(q + s * 2 * p) * nb, *dif = y + (size_t)(q + s * (2 * p + 1)) * nb;
				for (int l = 0; l < nb; l++) {
					double dr = a[l].re - b[l].re, di = a[l].im - b[l].im;
					sum[l].re = a[l].re + b[l].re;
					sum[l].im = a[l].im + b[l].im;
					dif[l].re = dr * wp.re - di * wp.im;
					dif[l].im = dr * wp.im + di * wp.re;
				}
			}
		}
		t = x;
		x = y;
		y = t;
	}
	return x;
}

/* Transform nlines lines of length n in place: element t of line l at
 * base[l * ls + t * es]. */
static void fft_lines(cplx *base, int n, size_t es, size_t ls, size_t nlines, int dim, int inverse, cplx *scr)
{
	for (size_t l0 = 0; l0 < nlines; l0 += LANES) {
		int nb = nlines - l0 < LANES ? (int)(nlines - l0) : LANES;
		cplx *r;

		for (int t = 0; t < n; t++)
			for (int l = 0; l < nb; l++)
				scr[t * nb + l] = base[(l0 + (size_t)l) * ls + (size_t)t * es];
		r = stockham(scr, scr + (size_t)n * LANES, n, nb, ft_par.root[dim], inverse);
		for (int t = 0; t < n; t++)
			for (int l = 0; l < nb; l++)
				base[(l0 + (size_t)l) * ls + (size_t)t * es] = r[t * nb + l];
	}
}

/* Along x and y in the worker's z planes of X. */
static void fft_xy(struct worker *w, int inverse, cplx *scr)
{
	size_t nx = (size_t)ft_par.nx, ny = (size_t)ft_par.ny, lo, hi;
	cplx *x = w->d->buf[F_X];

	app_range((size_t)ft_par.nz, w->id, w->nw, &lo, &hi);
	for (size_t k = lo; k < hi; k++) {
		fft_lines(x + k * ny * nx, ft_par.nx, 1, nx, ny, 0, inverse, scr);
		fft_lines(x + k * ny * nx, ft_par.ny, nx, 1, nx, 1, inverse, scr);
	}
}

/* Along z in the worker's y slab of the transposed array t. */
static void fft_z(struct worker *w, cplx *t, int inverse, cplx *scr)
{
	size_t nx = (size_t)ft_par.nx, nz = (size_t)ft_par.nz, lo, hi;

	app_range((size_t)ft_par.ny, w->id, w->nw, &lo, &hi);
	for (size_t j = lo; j < hi; j++)
		fft_lines(t + j * nz * nx, ft_par.nz, nx, 1, nx, 2, inverse, scr);
}

/* The all-to-all: the worker's part of dst from every worker's part of src.
 * to_spectrum: dst = U-like [y][z][x] (slab of y) from X [z][y][x];
 * otherwise dst = X (planes of z) from a [y][z][x] array. */
static void transpose(struct worker *w, cplx *dst, const cplx *src, int to_spectrum)
{
	size_t nx = (size_t)ft_par.nx, ny = (size_t)ft_par.ny, nz = (size_t)ft_par.nz, lo, hi;
	size_t row = sizeof(cplx) * nx;

	if (to_spectrum) {
		app_range(ny, w->id, w->nw, &lo, &hi);
		app_will_overwrite(w, dst + lo * nz * nx, (hi - lo) * nz * row);
		for (size_t k = 0; k < nz; k++) /* the rows it pulls from each plane */
			app_will_read(w, src + (k * ny + lo) * nx, (hi - lo) * row);
		for (size_t j = lo; j < hi; j++)
			for (size_t k = 0; k < nz; k++)
				memcpy(dst + (j * nz + k) * nx, src + (k * ny + j) * nx, row);
	} else {
		app_range(nz, w->id, w->nw, &lo, &hi);
		app_will_overwrite(w, dst + lo * ny * nx, (hi - lo) * ny * row);
		for (size_t j = 0; j < ny; j++)
			app_will_read(w, src + (j * nz + lo) * nx, (hi - lo) * row);
		for (size_t k = lo; k < hi; k++)
			for (size_t j = 0; j < ny; j++)
				memcpy(dst + (k * ny + j) * nx, src + (j * nz + k) * nx, row);
	}
}

/* The frequency of index i of n: i, or i - n above n/2. */
static long freq(size_t i, size_t n)
{
	return (long)((i + n / 2) % n) - (long)(n / 2);
}

static void ft_init(struct worker *w)
{
	size_t nx = (size_t)ft_par.nx, ny = (size_t)ft_par.ny, nz = (size_t)ft_par.nz, lo, hi;
	cplx *x = w->d->buf[F_X], *u = w->d->buf[F_U], *wk = w->d->buf[F_W];
	double *tw = w->d->buf[F_TW], ap = -4.0 * FT_ALPHA * M_PI * M_PI;

	/* Plane k starts 2 nx ny k numbers into the stream. */
	app_range(nz, w->id, w->nw, &lo, &hi);
	for (size_t k = lo; k < hi; k++) {
		uint64_t seed = npb_mul46(FT_SEED, npb_pow46(NPB_A, 2 * nx * ny * k));
		npb_vranlc(2 * nx * ny, &seed, NPB_A, (double *)(x + k * nx * ny));
	}
	app_range(ny, w->id, w->nw, &lo, &hi);
	for (size_t j = lo; j < hi; j++)
		for (size_t k = 0; k < nz; k++)
			for (size_t i = 0; i < nx; i++) {
				long fi = freq(i, nx), fj = freq(j, ny), fk = freq(k, nz);
				size_t e = (j * nz + k) * nx + i;
				tw[e] = exp(ap * (double)(fk * fk + fj * fj + fi * fi));
				u[e] = wk[e] = (cplx){ 0, 0 };
			}
}

static void ft_run(struct worker *w)
{
	size_t nx = (size_t)ft_par.nx, ny = (size_t)ft_par.ny, nz = (size_t)ft_par.nz, lo, hi, zlo, zhi;
	int nmax = ft_par.nx > ft_par.ny ? ft_par.nx : ft_par.ny;
	cplx *x = w->d->buf[F_X], *u = w->d->buf[F_U], *wk = w->d->buf[F_W];
	cplx *scr = app_xmalloc(sizeof(cplx) * 2 * LANES * (size_t)(nmax > ft_par.nz ? nmax : ft_par.nz));
	const double *tw = w->d->buf[F_TW];
	struct ft_res *res = w->d->buf[F_RES];

	app_range(ny, w->id, w->nw, &lo, &hi);
	app_range(nz, w->id, w->nw, &zlo, &zhi);
	fft_xy(w, 0, scr);
	app_barrier(w);
	transpose(w, u, x, 1);
	fft_z(w, u, 0, scr);
	for (int it = 0; it < NITER; it++) {
		double v[2] = { 0, 0 };

		app_will_overwrite(w, wk + lo * nz * nx, (hi - lo) * nz * nx * sizeof(cplx));
		for (size_t e = lo * nz * nx; e < hi * nz * nx; e++) {
			u[e].re *= tw[e];
			u[e].im *= tw[e];
			wk[e] = u[e];
		}
		fft_z(w, wk, 1, scr);
		app_barrier(w);
		transpose(w, x, wk, 0);
		fft_xy(w, 1, scr);
		for (size_t j = 1; j <= 1024; j++) {
			size_t q = j % nx, r = 3 * j % ny, s = 5 * j % nz;
			if (s >= zlo && s < zhi) {
				v[0] += x[(s * ny + r) * nx + q].re;
				v[1] += x[(s * ny + r) * nx + q].im;
			}
		}
		app_sum(w, w->d->buf[F_RED], v, 2);
		if (w->id == 0) {
			res->chk[it][0] = v[0] / (double)(nx * ny * nz);
			res->chk[it][1] = v[1] / (double)(nx * ny * nz);
		}
	}
	free(scr);
}

static void ft_finish(struct worker *w)
{
	(void)w;
}

static int ft_verify(const struct app_data *d, int nw, uint64_t *digest, char *msg, size_t len)
{
	const struct ft_res *r = d->buf[F_RES];
	double worst = 0;

	(void)nw;
	for (int it = 0; it < NITER; it++) {
		double dr = r->chk[it][0] - ft_par.chk[it][0], di = r->chk[it][1] - ft_par.chk[it][1];
		double err = hypot(dr, di) / hypot(ft_par.chk[it][0], ft_par.chk[it][1]);
		worst = err > worst ? err : worst;
	}
	memcpy(digest, &r->chk[NITER - 1][0], sizeof(*digest));
	snprintf(msg, len, "checksum %d: %.12e %.12e; worst rel. error of %d %.1e (<= 1e-12)", NITER,
		 r->chk[NITER - 1][0], r->chk[NITER - 1][1], NITER, worst);
	return worst <= 1e-12;
}

const struct app_kernel app_ft = { "ft", 0, ft_setup, ft_init, ft_run, ft_finish, ft_verify };
