/*
 * common.c - the worker's barrier and sums, and the NAS Parallel
 * Benchmarks' random number generator, for every kernel of bench/apps/.
 *
 * Design.  app_barrier() is the only place that knows whether the workers
 * are threads, ranks or both: the team barrier (spin, then sleep) for the
 * threads of a process, then dsm_barrier() from thread 0 of each rank, then
 * the team barrier again so that no thread runs ahead of its rank.  Thread 0
 * is the application's main thread of the rank: dsm allows one thread at a
 * time in dsm_barrier().
 */
#include "apps.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void app_die(const char *what, int err)
{
	fprintf(stderr, "app_bench: %s%s%s\n", what, err ? ": " : "", err ? strerror(err) : "");
	exit(1);
}

void *app_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		app_die("malloc", ENOMEM);
	return p;
}

double app_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

void app_team_init(struct app_team *t, int n, int dsm)
{
	const char *s = getenv("BENCH_SPIN"), *pol = getenv("OMP_WAIT_POLICY"), *gs = getenv("GOMP_SPINCOUNT");

	t->n = n;
	t->spin = 300000;
	/* A team of dsm ranks spins as libgomp would in the environment
	 * dsmexec gives it (dsmwrap's quiet_openmp); the serial and pthreads
	 * baselines as a program started without dsmexec. */
	if (dsm && pol && !strcasecmp(pol, "passive"))
		t->spin = 0;
	else if (dsm && gs && *gs)
		t->spin = atol(gs);
	if (s && *s)
		t->spin = atol(s);
	atomic_init(&t->count, 0);
	atomic_init(&t->gen, 0);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
}

void app_team_destroy(struct app_team *t)
{
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void team_wait(struct app_team *t)
{
	unsigned gen = atomic_load(&t->gen);

	if (t->n < 2)
		return;
	if (atomic_fetch_add(&t->count, 1) + 1 == (unsigned)t->n) {
		/* Reset before the release: nobody arrives at the next barrier
		 * before seeing gen move. */
		atomic_store(&t->count, 0);
		pthread_mutex_lock(&t->mu);
		atomic_store(&t->gen, gen + 1);
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
		return;
	}
	for (long i = 0; i < t->spin; i++) {
		if (atomic_load_explicit(&t->gen, memory_order_acquire) != gen)
			return;
		cpu_relax();
	}
	pthread_mutex_lock(&t->mu);
	while (atomic_load(&t->gen) == gen)
		pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);
}

void app_barrier(struct worker *w)
{
	int rc;

	team_wait(w->team);
	if (!w->dsm)
		return;
	if (w->thread == 0 && (rc = dsm_barrier()))
		app_die("dsm_barrier", -rc);
	team_wait(w->team);
}

void app_range(size_t n, int id, int nw, size_t *lo, size_t *hi)
{
	*lo = n * (size_t)id / (size_t)nw;
	*hi = n * (size_t)(id + 1) / (size_t)nw;
}

void app_range_paged(size_t n, size_t esize, int id, int nw, size_t *lo, size_t *hi)
{
	size_t per = 4096 / esize, units = (n + per - 1) / per;

	*lo = units * (size_t)id / (size_t)nw * per;
	*hi = units * (size_t)(id + 1) / (size_t)nw * per;
	if (*lo > n)
		*lo = n;
	if (*hi > n || id == nw - 1)
		*hi = n;
}

void app_sum(struct worker *w, struct app_red *r, double *v, int k)
{
	double (*slot)[APP_REDW] = r->v[w->red_turn];

	if (w->dsm) {
		struct app_team *t = w->team;
		int turn = w->red_turn, rc;

		w->red_turn ^= 1;
		memcpy(&t->red[turn][w->thread * k], v, sizeof(double) * (size_t)k);
		team_wait(t);
		if (w->thread == 0 &&
		    (rc = dsm_allgather(t->red[turn], sizeof(double) * (size_t)(t->n * k), t->all[turn])))
			app_die("dsm_allgather", -rc);
		team_wait(t);
		for (int j = 0; j < k; j++) {
			double s = 0;
			for (int i = 0; i < w->nw; i++)
				s += t->all[turn][i * k + j];
			v[j] = s;
		}
		return;
	}
	w->red_turn ^= 1;
	memcpy(slot[w->id], v, sizeof(double) * (size_t)k);
	app_barrier(w);
	for (int j = 0; j < k; j++) {
		double s = 0;
		for (int i = 0; i < w->nw; i++)
			s += slot[i][j];
		v[j] = s;
	}
}

#define MASK46 ((1ULL << 46) - 1)

uint64_t npb_mul46(uint64_t a, uint64_t b)
{
	return (uint64_t)(((unsigned __int128)a * b) & MASK46);
}

double npb_randlc(uint64_t *x, uint64_t a)
{
	*x = npb_mul46(*x, a);
	return (double)*x * 0x1p-46;
}

void npb_vranlc(size_t n, uint64_t *x, uint64_t a, double *y)
{
	uint64_t v = *x;

	for (size_t i = 0; i < n; i++) {
		v = npb_mul46(v, a);
		y[i] = (double)v * 0x1p-46;
	}
	*x = v;
}

uint64_t npb_pow46(uint64_t a, uint64_t e)
{
	uint64_t r = 1;

	for (; e; e >>= 1) {
		if (e & 1)
			r = npb_mul46(r, a);
		a = npb_mul46(a, a);
	}
	return r;
}

double app_relerr(double got, double want)
{
	return fabs(got - want) / fabs(want);
}

int app_class_index(char cls)
{
	const char *names = "SWAB", *c = cls ? strchr(names, cls) : NULL;

	return c ? (int)(c - names) : -EINVAL;
}

/* BENCH_ADVISE=0 leaves the advice out, to measure what it saves. */
static void advise(struct worker *w, const void *p, size_t len, int advice)
{
	const char *e = getenv("BENCH_ADVISE");
	int rc;

	if (w->dsm && len && !(e && !strcmp(e, "0")) && (rc = dsm_advise((void *)p, len, advice)))
		app_die("dsm_advise", -rc);
}

void app_will_overwrite(struct worker *w, void *p, size_t len)
{
	advise(w, p, len, DSM_ADV_WILL_OVERWRITE);
}

void app_will_read(struct worker *w, const void *p, size_t len)
{
	advise(w, p, len, DSM_ADV_WILL_READ);
}
