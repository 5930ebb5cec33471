/*
 * apps.h - what the application kernels of app_bench are written against: a
 * worker (its index among all workers, their number, a barrier that works
 * across threads and ranks alike), a kernel's arrays, and a kernel's four
 * steps.  Each kernel is one file of bench/apps/, written once; app_bench.c
 * runs it serial, with a team of threads in one process, on dsm ranks, and
 * on dsm ranks with a team of threads in each.
 *
 * Design.  Workers are numbered rank-major: worker id = rank * threads +
 * thread, nw = ranks * threads.  A kernel divides its work by id and nw only,
 * and meets the others in app_barrier(), so it cannot tell the variants
 * apart.  The threads of one process form a team whose barrier spins for a
 * while and then sleeps, as OpenMP's does (libgomp spins GOMP_SPINCOUNT,
 * 300000 rounds by default, before it waits on a futex); on dsm the team's
 * thread 0 calls dsm_barrier() between two team barriers while the others
 * wait in the team barrier: the way an OpenMP program on a DSM uses one.
 * A kernel's arrays are laid out by app_bench (in the shared region, or in
 * private memory at the same distances) from the sizes its setup asks for;
 * what a kernel computes once per process and only reads afterwards (CG's
 * matrix, FFT roots) stays private to the process, in the kernel's file.
 */
#ifndef DSM_BENCH_APPS_H
#define DSM_BENCH_APPS_H

#include <dsm.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define APP_MAXW 16   /* workers at most */
#define APP_MAXBUF 12 /* arrays of one kernel at most */
#define APP_REDW 16   /* values one app_sum() adds at most */

/* The threads of one process, and their barrier. */
struct app_team {
	int n;
	long spin;                /* rounds to spin before sleeping */
	atomic_uint count, gen;
	pthread_mutex_t mu;       /* Locking: guards the sleep on cv; gen changes under it */
	pthread_cond_t cv;
	/* app_sum on dsm, in turn: the team's values (thread-major), and
	 * every worker's, in worker order, from dsm_allgather */
	double red[2][APP_MAXW * APP_REDW], all[2][APP_MAXW * APP_REDW];
};

/* Slots for sums across workers: two sets, used in turn, so a worker may
 * write the next sum while a slower one still reads the last. */
struct app_red {
	double v[2][APP_MAXW][APP_REDW];
};

/* A kernel's arrays and parameters. */
struct app_data {
	char cls;                 /* problem class: S, W, A, B */
	int nbuf;
	size_t size[APP_MAXBUF];  /* bytes, set by setup */
	const char *const *names; /* the arrays' names, set by setup */
	void *buf[APP_MAXBUF];    /* set by app_bench */
	const void *par;          /* the kernel's parameters, private, read-only */
};

struct worker {
	int id, nw;               /* among all workers of the run */
	int thread;               /* within its process's team */
	int dsm;                  /* 1: the ranks meet in dsm_barrier() */
	int red_turn;             /* which set of app_red slots is next */
	struct app_team *team;
	struct app_data *d;
	double t0, t1;            /* worker 0: the timed span, microseconds */
	struct dsm_stats s0, s1;  /* thread 0 of each rank: its rank's counters */
};

struct app_kernel {
	const char *name;
	/* 1: every variant computes the same bits, and they are checked
	 * against the serial run's; 0: the kernel checks itself against the
	 * published verification values of its class. */
	int exact;
	/* Per process: the class's parameters into d->par, the arrays' sizes,
	 * names and count into d->size, d->names and d->nbuf.  0, or -EINVAL for an unknown
	 * class. */
	int (*setup)(struct app_data *d, char cls);
	void (*init)(struct worker *w);   /* untimed: each worker writes its part first */
	void (*run)(struct worker *w);    /* timed */
	void (*finish)(struct worker *w); /* untimed: the pieces verification needs */
	/* After the run, on one worker: 1 when the result verifies; its digest
	 * (compared with the serial run's when exact); one line on what was
	 * checked. */
	int (*verify)(const struct app_data *d, int nw, uint64_t *digest, char *msg, size_t len);
};

extern const struct app_kernel app_jacobi, app_matmul, app_sort, app_cg, app_ft, app_is, app_ep;

void app_die(const char *what, int err) __attribute__((noreturn));
void *app_xmalloc(size_t size);
double app_now_us(void);

/* dsm: the team of a dsm rank, whose spinning follows OMP_WAIT_POLICY and
 * GOMP_SPINCOUNT as libgomp's does (BENCH_SPIN overrides both). */
void app_team_init(struct app_team *t, int n, int dsm);
void app_team_destroy(struct app_team *t);
void app_barrier(struct worker *w);

/* The worker will write every byte of [p, p + len) before it reads any:
 * on dsm, its pages are taken without their old contents
 * (dsm_advise(DSM_ADV_WILL_OVERWRITE)); elsewhere nothing. */
void app_will_overwrite(struct worker *w, void *p, size_t len);
/* dsm_advise(DSM_ADV_WILL_READ): the worker will read [p, p + len) soon. */
void app_will_read(struct worker *w, const void *p, size_t len);

/* [*lo, *hi) of n items for worker id of nw. */
void app_range(size_t n, int id, int nw, size_t *lo, size_t *hi);

/* The same for an array of n elements of esize bytes that starts on a page:
 * the boundaries fall on 4 KiB pages, so no two workers write one page (the
 * way a program is partitioned for a page-based DSM; the hot-page report of
 * dsmexec --stats names the pages that two ranks write otherwise). */
void app_range_paged(size_t n, size_t esize, int id, int nw, size_t *lo, size_t *hi);

/* Collective: v[0..k) summed over every worker, in worker order, into v on
 * every worker.  Includes a barrier.  Threads and processes meet in slots
 * of r; dsm ranks in dsm_allgather(), as an OpenMP reduction meets in its
 * runtime, and add up the same slots in the same order. */
void app_sum(struct worker *w, struct app_red *r, double *v, int k);

/* The NAS Parallel Benchmarks' generator: x <- a * x mod 2^46, returns
 * x / 2^46.  Exact in integers, so every process gets the same stream. */
#define NPB_A 1220703125ULL /* 5^13 */
double npb_randlc(uint64_t *x, uint64_t a);
void npb_vranlc(size_t n, uint64_t *x, uint64_t a, double *y);
uint64_t npb_pow46(uint64_t a, uint64_t e); /* a^e mod 2^46 */
uint64_t npb_mul46(uint64_t a, uint64_t b);

/* 0, 1, 2, 3 for the classes S, W, A, B; -EINVAL for another. */
int app_class_index(char cls);

/* Relative error of got against want. */
double app_relerr(double got, double want);

#endif
