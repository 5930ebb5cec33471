/*
 * npb_ep.c - EP of the NAS Parallel Benchmarks, written from the published
 * specification: 2^M pairs of uniform numbers from the NPB generator (seed
 * 271828183), each pair inside the unit circle turned into two Gaussian
 * deviates by the Marsaglia polar method; the sums of the deviates and the
 * counts of pairs per square annulus.  The pairs come in batches of 2^16,
 * each batch's seed reached by a jump (a power of the multiplier), so a
 * worker takes a range of batches and needs nothing from the others until
 * the final sum.  Verified: both sums within 1e-8 of the class's values.
 */
#include "apps.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MK 16
#define NK (1 << MK)
#define NQ 10
#define EP_SEED 271828183ULL

enum { E_RED, E_RES, E_NBUF };
static const char *const e_names[] = { "red", "res" };

struct ep_res {
	double sx, sy, q[NQ];
};

static struct ep_par {
	int m;
	double sx, sy; /* the published sums */
} ep_par;

static int ep_setup(struct app_data *d, char cls)
{
	static const struct ep_par classes[] = {
		{ 24, -3.247834652034740e+3, -6.958407078382297e+3 },  /* S */
		{ 25, -2.863319731645753e+3, -6.320053679109499e+3 },  /* W */
		{ 28, -4.295875165629892e+3, -1.580732573678431e+4 },  /* A */
		{ 30, 4.033815542441498e+4, -2.660669192809235e+4 },   /* B */
	};
	int c = app_class_index(cls);

	if (c < 0)
		return c;
	ep_par = classes[c];
	d->par = &ep_par;
	d->nbuf = E_NBUF;
	d->names = e_names;
	d->size[E_RED] = sizeof(struct app_red);
	d->size[E_RES] = sizeof(struct ep_res);
	return 0;
}

static void ep_init(struct worker *w)
{
	(void)w;
}

static void ep_run(struct worker *w)
{
	size_t batches = (size_t)1 << (ep_par.m - MK), lo, hi;
	uint64_t an = npb_pow46(NPB_A, 2 * NK);
	double *x = app_xmalloc(sizeof(double) * 2 * NK), v[2 + NQ] = { 0 };

	app_range(batches, w->id, w->nw, &lo, &hi);
	for (size_t k = lo; k < hi; k++) {
		uint64_t t = npb_mul46(EP_SEED, npb_pow46(an, k));

		npb_vranlc(2 * NK, &t, NPB_A, x);
		for (int i = 0; i < NK; i++) {
			double x1 = 2.0 * x[2 * i] - 1.0, x2 = 2.0 * x[2 * i + 1] - 1.0;
			double t1 = x1 * x1 + x2 * x2;
			if (t1 <= 1.0) {
				double t2 = sqrt(-2.0 * log(t1) / t1), t3 = x1 * t2, t4 = x2 * t2;
				int l = (int)fmax(fabs(t3), fabs(t4));
				v[2 + l] += 1.0;
				v[0] += t3;
				v[1] += t4;
			}
		}
	}
	free(x);
	app_sum(w, w->d->buf[E_RED], v, 2 + NQ);
	if (w->id == 0) {
		struct ep_res *r = w->d->buf[E_RES];
		r->sx = v[0];
		r->sy = v[1];
		memcpy(r->q, v + 2, sizeof(r->q));
	}
}

static void ep_finish(struct worker *w)
{
	(void)w;
}

static int ep_verify(const struct app_data *d, int nw, uint64_t *digest, char *msg, size_t len)
{
	const struct ep_res *r = d->buf[E_RES];
	double ex = app_relerr(r->sx, ep_par.sx), ey = app_relerr(r->sy, ep_par.sy), pairs = 0;

	(void)nw;
	for (int l = 0; l < NQ; l++)
		pairs += r->q[l];
	memcpy(digest, &r->sx, sizeof(*digest));
	snprintf(msg, len, "sx %.15e sy %.15e, %.0f pairs; rel. errors %.1e %.1e (<= 1e-8)", r->sx, r->sy, pairs,
		 ex, ey);
	return ex <= 1e-8 && ey <= 1e-8;
}

const struct app_kernel app_ep = { "ep", 0, ep_setup, ep_init, ep_run, ep_finish, ep_verify };
