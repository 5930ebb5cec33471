/*
 * sync_bench - latency of the synchronization primitives and RPC, against a
 * plain TCP round trip between ranks 0 and 1 measured in the same run:
 *
 *   dsmexec -n 1 bin/sync_bench [iterations]   (what a rank does alone)
 *   dsmexec -n 2 bin/sync_bench [iterations]   (default 2000 per repetition)
 *   dsmexec -n 4 bin/sync_bench [iterations]   (contended lock, 4-rank barrier)
 *
 * With 1 rank, against a pthread mutex in the same process (each sample is
 * the mean of a batch of BATCH operations: one is shorter than the clock's
 * own cost):
 *   mutex    pthread_mutex_lock + pthread_mutex_unlock
 *   cached   dsm_lock + dsm_unlock of one lock, again and again (the lock
 *            stays cached at this rank: no message, no other thread)
 *   sem      dsm_sem_post + dsm_sem_wait of a semaphore homed here
 *   signal   dsm_cond_signal of a condition variable nobody waits on
 *   first    dsm_lock + dsm_unlock of a lock never used before (taken at its
 *            home, this rank, by the calling thread)
 * With 2 ranks:
 *   tcp      16-byte request, 16-byte reply over a TCP connection of our own
 *            (TCP_NODELAY, blocking sockets, no service thread involved)
 *   lock     dsm_lock + dsm_unlock by rank 0 of a lock whose home is rank 1,
 *            a new lock id each time: the first use of a lock, so always
 *            a round trip to its home
 *   moved    dsm_lock + dsm_unlock by rank 0 of a lock whose home is rank 1
 *            and that rank 1 took and released last (so it is cached
 *            there): without caching a round trip to the home, with it the
 *            home recalls the lock from rank 1 first (a message to itself)
 *   own      both ranks at once, each dsm_lock + dsm_unlock of its own lock
 *            (rank 0's homed at rank 1 and rank 1's at rank 0), again and
 *            again, timed at rank 0 in batches as with 1 rank, against a
 *            pthread mutex timed the same way
 *   barrier  dsm_barrier with 2 ranks, timed at rank 0
 *   sem      rank 0 posts A and waits on B; rank 1 waits on A and posts B
 *            (one post+wait pair each way: a semaphore round trip); A's home
 *            is rank 1, B's rank 0
 *   rpc      a null dsm_rpc_call from rank 0 to rank 1
 * and, to show where the time goes:
 *   lock     dsm_lock alone of a new lock id (one round trip to the home;
 *            the unlock that follows keeps the lock cached here, no message)
 *   post     dsm_sem_post of a semaphore homed at rank 1: the application
 *            thread hands the request to its service thread, which sends
 *            it (no answer) and wakes the thread; every remote primitive
 *            pays this hop
 * With 4 ranks:
 *   tcp      as above, ranks 0 and 1
 *   lock     every rank takes and releases one lock (home rank 1) in a loop;
 *            each times its own acquire+release: the samples of all 4
 *   barrier  dsm_barrier with 4 ranks, timed at rank 0
 *   moved    as with 2 ranks, but the lock was last held by rank 2: the
 *            home recalls it from a third rank (two round trips where
 *            there was one without caching)
 *   (with every lock cached at its last holder, the contended figure counts
 *   each rank's acquisitions while it holds the lock in a burst as well as
 *   the hand-offs: its p50 is a cached acquisition, its p99 a hand-off)
 */
#include "bench.h"

#include <pthread.h>

#include "sync.h" /* the home of a lock or a semaphore */

#define WARMUP 200
#define BATCH 100 /* operations per sample, where one is shorter than the clock */
#define NULL_RPC 1

struct shared {
	struct bench_rendezvous rv;
};

static int null_rpc(const void *arg, size_t len, void *reply, size_t *reply_len)
{
	(void)arg;
	(void)len;
	(void)reply;
	*reply_len = 0;
	return 0;
}

static uint64_t key_homed_at(int rank, int sem)
{
	for (uint64_t k = 1000;; k++)
		if ((sem ? sync_sem_home(k) : sync_lock_home(k)) == rank)
			return k;
}

/* What the timed operations work on. */
struct ops {
	uint64_t lk, sem_a, sem_b, sem_c, cond;
	int me;
};

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static uint64_t fresh_lock; /* op_lock_fresh: the next new lock id */
static int fresh_home = 1;  /* ... whose home is this rank */
static uint64_t *rids;      /* op_lock_recalled: locks another rank holds cached */
static long rnext;

/* rids[0..n-1]: lock ids of repetition `rep` whose home is `home`, the same
 * on every rank. */
static void recall_ids(int rep, int home, long n)
{
	uint64_t k = (uint64_t)(rep + 1) << 32;

	for (long i = 0; i < n; i++) {
		while (sync_lock_home(++k) != home)
			;
		rids[i] = k;
	}
	rnext = 0;
}

/* the rank that caches them takes and releases each once */
static void cache_ids(long n)
{
	for (long i = 0; i < n; i++)
		if (dsm_lock(rids[i]) || dsm_unlock(rids[i]))
			bench_die("dsm_lock", EIO);
}

static void op_lock_recalled(const struct ops *o)
{
	uint64_t id = rids[rnext++];

	(void)o;
	if (dsm_lock(id) || dsm_unlock(id))
		bench_die("dsm_lock", EIO);
}

typedef void op_fn(const struct ops *o);

/*
 * t[0..iters-1]: op timed, after WARMUP untimed ones; after, when given, runs
 * untimed after each.
 */
static void time_op(long iters, double *t, op_fn *op, op_fn *after, const struct ops *o)
{
	for (long i = -WARMUP; i < iters; i++) {
		double t0 = bench_now_us();
		op(o);
		if (i >= 0)
			t[i] = bench_now_us() - t0;
		if (after)
			after(o);
	}
}

/* Rank 0 times lock+unlock of locks homed at rank 1 that rank `holder`
 * took and released last (each recalled from its cache), into fig. */
static void time_recalled(int rep, int holder, int me, long iters, double *t, struct bench_fig *fig,
			  const struct ops *o)
{
	recall_ids(rep, 1, iters + WARMUP);
	if (me == holder)
		cache_ids(iters + WARMUP);
	dsm_barrier();
	if (me == 0) {
		time_op(iters, t, op_lock_recalled, NULL, o);
		bench_rep(fig, t, (size_t)iters);
	}
	dsm_barrier();
}

/* As time_op, but each sample is the mean of BATCH operations. */
static void time_batch(long iters, double *t, op_fn *op, const struct ops *o)
{
	for (long i = -WARMUP / 10; i < iters; i++) {
		double t0 = bench_now_us();
		for (int k = 0; k < BATCH; k++)
			op(o);
		if (i >= 0)
			t[i] = (bench_now_us() - t0) / BATCH;
	}
}

static void op_mutex(const struct ops *o)
{
	(void)o;
	pthread_mutex_lock(&mutex);
	/* the same compiler barrier a call into the library is */
	__asm__ __volatile__("" ::: "memory");
	pthread_mutex_unlock(&mutex);
}

static void op_sem_local(const struct ops *o)
{
	if (dsm_sem_post(o->sem_b) || dsm_sem_wait(o->sem_b))
		bench_die("semaphores", EIO);
}

static void op_signal(const struct ops *o)
{
	if (dsm_cond_signal(o->cond))
		bench_die("dsm_cond_signal", EIO);
}

/* a lock id never used before whose home is rank fresh_home */
static void op_lock_fresh(const struct ops *o)
{
	(void)o;
	while (sync_lock_home(++fresh_lock) != fresh_home)
		;
	if (dsm_lock(fresh_lock) || dsm_unlock(fresh_lock))
		bench_die("dsm_lock", EIO);
}

static void op_lock_fresh_alone(const struct ops *o)
{
	(void)o;
	while (sync_lock_home(++fresh_lock) != 1)
		;
	if (dsm_lock(fresh_lock))
		bench_die("dsm_lock", EIO);
}

static void op_unlock_fresh(const struct ops *o)
{
	(void)o;
	dsm_unlock(fresh_lock);
}

static void op_post_remote(const struct ops *o)
{
	if (dsm_sem_post(o->sem_c))
		bench_die("dsm_sem_post", EIO);
}

static void op_barrier(const struct ops *o)
{
	(void)o;
	if (dsm_barrier())
		bench_die("dsm_barrier", EIO);
}

static void op_lock_unlock(const struct ops *o)
{
	if (dsm_lock(o->lk) || dsm_unlock(o->lk))
		bench_die("dsm_lock", EIO);
}

/* rank 0 posts A and waits on B, rank 1 the other way round */
static void op_sem_round_trip(const struct ops *o)
{
	if (o->me == 0 ? dsm_sem_post(o->sem_a) || dsm_sem_wait(o->sem_b)
		       : dsm_sem_wait(o->sem_a) || dsm_sem_post(o->sem_b))
		bench_die("semaphores", EIO);
}

static void op_null_rpc(const struct ops *o)
{
	int rc;

	(void)o;
	if ((rc = dsm_rpc_call(1, NULL_RPC, NULL, 0, NULL, NULL)))
		bench_die("dsm_rpc_call", -rc);
}

/* A rank alone: dsm's lock, semaphore and condition variable against a
 * pthread mutex. */
static void one_rank(long iters, double *t)
{
	struct bench_fig *mtx, *cached, *sem, *sig, *first;
	struct ops o = { .lk = 1, .sem_b = 2, .cond = 3 };

	fresh_home = 0;
	fresh_lock = 1ULL << 40;

	mtx = bench_fig("mutex", "pthread mutex lock+unlock", "us", 0);
	cached = bench_fig("lock_cached", "dsm lock+unlock, 1 rank", "us", 0);
	sem = bench_fig("sem_local", "dsm sem post+wait, 1 rank", "us", 0);
	sig = bench_fig("cond_signal", "dsm cond signal, nobody waits", "us", 0);
	first = bench_fig("lock_first_1", "dsm lock+unlock, first use, 1 rank", "us", 0);
	cached->limit = sem->limit = sig->limit = first->limit = mtx;
	for (int r = 0; r < bench.reps; r++) {
		time_batch(iters, t, op_mutex, &o);
		bench_rep(mtx, t, (size_t)iters);
		time_batch(iters, t, op_lock_unlock, &o);
		bench_rep(cached, t, (size_t)iters);
		time_batch(iters, t, op_sem_local, &o);
		bench_rep(sem, t, (size_t)iters);
		time_batch(iters, t, op_signal, &o);
		bench_rep(sig, t, (size_t)iters);
		time_batch(iters, t, op_lock_fresh, &o);
		bench_rep(first, t, (size_t)iters);
	}
	bench_target("lock+unlock (1 rank) p50 / pthread mutex", bench_p50(cached) / bench_p50(mtx), 1, 5);
}

static void two_ranks(int fd, long iters, double *t)
{
	struct bench_fig *tcp, *ptcp, *lock, *barrier, *sem, *rpc, *lock1, *post, *mtx, *own, *moved;
	struct ops o = { .lk = key_homed_at(1, 0), .sem_a = key_homed_at(1, 1), .sem_b = key_homed_at(0, 1),
			 .me = dsm_rank() };
	struct ops mine = { .lk = key_homed_at(!dsm_rank(), 0) + 1000000 };
	int me = o.me;

	while (sync_lock_home(mine.lk) != !me)
		mine.lk++;
	o.sem_c = o.sem_a + 1;
	while (sync_sem_home(o.sem_c) != 1)
		o.sem_c++;
	fresh_lock = 1ULL << 40;
	tcp = bench_fig("tcp_rtt_16", "tcp rtt 16B/16B", "us", 0);
	ptcp = bench_fig("tcp_rtt_16_poll", "tcp rtt 16B/16B, polling", "us", 0);
	lock = bench_fig("lock", "lock+unlock, first use, remote home", "us", 0);
	barrier = bench_fig("barrier_2", "barrier, 2 ranks", "us", 0);
	sem = bench_fig("sem", "sem post+wait round trip", "us", 0);
	rpc = bench_fig("null_rpc", "null rpc", "us", 0);
	lock1 = bench_fig("lock_alone", "  lock alone (remote home)", "us", 0);
	post = bench_fig("post_remote", "  sem post (remote home)", "us", 0);
	mtx = bench_fig("mutex", "pthread mutex lock+unlock", "us", 0);
	own = bench_fig("lock_own", "lock+unlock, each rank its own", "us", 0);
	moved = bench_fig("lock_moved", "lock+unlock, last held by rank 1", "us", 0);
	lock->limit = barrier->limit = sem->limit = rpc->limit = lock1->limit = post->limit = moved->limit = tcp;
	own->limit = mtx;

	for (int r = 0; r < bench.reps; r++) {
		bench_tcp_rtt(fd, me == 0, 16, 16, (int)iters, WARMUP, t);
		if (me == 0)
			bench_rep(tcp, t, (size_t)iters);
		bench_tcp_rtt_how(fd, me == 0, 16, 16, (int)iters, WARMUP, t, 1);
		if (me == 0)
			bench_rep(ptcp, t, (size_t)iters);
		dsm_barrier();

		if (me == 0) {
			time_op(iters, t, op_lock_fresh, NULL, &o);
			bench_rep(lock, t, (size_t)iters);
		}
		dsm_barrier();

		time_batch(iters, t, op_mutex, &mine);
		if (me == 0)
			bench_rep(mtx, t, (size_t)iters);
		dsm_barrier();
		time_batch(iters, t, op_lock_unlock, &mine);
		if (me == 0)
			bench_rep(own, t, (size_t)iters);
		dsm_barrier();

		time_recalled(r, 1, me, iters, t, moved, &o);

		time_op(iters, t, op_barrier, NULL, &o);
		if (me == 0)
			bench_rep(barrier, t, (size_t)iters);

		time_op(iters, t, op_sem_round_trip, NULL, &o);
		if (me == 0)
			bench_rep(sem, t, (size_t)iters);
		dsm_barrier();

		if (me == 0) {
			time_op(iters, t, op_null_rpc, NULL, &o);
			bench_rep(rpc, t, (size_t)iters);
			time_op(iters, t, op_lock_fresh_alone, op_unlock_fresh, &o);
			bench_rep(lock1, t, (size_t)iters);
			time_op(iters, t, op_post_remote, NULL, &o);
			bench_rep(post, t, (size_t)iters);
		}
		dsm_barrier();
	}
	if (me == 0) {
		double rtt = bench_p50(tcp);
		bench_target("lock+unlock p50 / tcp rtt 16B/16B", bench_p50(lock) / rtt, 1, 1.5);
		bench_target("null rpc p50 / tcp rtt 16B/16B", bench_p50(rpc) / rtt, 1, 1.5);
		bench_target("barrier (2 ranks) p50 / tcp rtt 16B/16B", bench_p50(barrier) / rtt, 1, 2);
		bench_target("sem post+wait p50 / tcp rtt 16B/16B", bench_p50(sem) / rtt, 1, 2);
		bench_target("lock+unlock (own lock, 2 ranks) p50 / pthread mutex", bench_p50(own) / bench_p50(mtx),
			     1, 5);
	}
}

static void four_ranks(int fd, long iters, double *t)
{
	struct bench_fig *tcp, *lock, *barrier, *moved;
	struct ops o = { .lk = key_homed_at(1, 0), .me = dsm_rank() };
	int me = o.me, nr = dsm_size();
	size_t per = ((size_t)iters * sizeof(double) + 4095) & ~(size_t)4095; /* a rank's own pages */
	char *all = dsm_alloc_named("sync_bench.samples", per * (size_t)nr);
	char name[64];

	if (!all)
		bench_die("dsm_alloc_named", errno);
	tcp = bench_fig("tcp_rtt_16", "tcp rtt 16B/16B", "us", 0);
	snprintf(name, sizeof(name), "lock+unlock, %d ranks contending", nr);
	lock = bench_fig("lock_contended", name, "us", 0);
	snprintf(name, sizeof(name), "barrier, %d ranks", nr);
	barrier = bench_fig("barrier_n", name, "us", 0);
	moved = bench_fig("lock_moved_3", "lock+unlock, home 1, last held by 2", "us", 0);
	lock->limit = barrier->limit = moved->limit = tcp;

	for (int r = 0; r < bench.reps; r++) {
		if (me <= 1)
			bench_tcp_rtt(fd, me == 0, 16, 16, (int)iters, WARMUP, t);
		if (me == 0)
			bench_rep(tcp, t, (size_t)iters);
		dsm_barrier();

		time_op(iters, t, op_lock_unlock, NULL, &o);
		memcpy(all + per * (size_t)me, t, (size_t)iters * sizeof(double));
		dsm_barrier();
		if (me == 0) {
			double *every = malloc(sizeof(double) * (size_t)iters * (size_t)nr);
			if (!every)
				bench_die("malloc", ENOMEM);
			for (int k = 0; k < nr; k++)
				memcpy(every + (size_t)k * (size_t)iters, all + per * (size_t)k,
				       (size_t)iters * sizeof(double));
			bench_rep(lock, every, (size_t)iters * (size_t)nr);
			free(every);
		}
		dsm_barrier();

		time_op(iters, t, op_barrier, NULL, &o);
		if (me == 0)
			bench_rep(barrier, t, (size_t)iters);

		time_recalled(r, 2, me, iters, t, moved, &o);
	}
	if (me == 0) {
		snprintf(name, sizeof(name), "barrier (%d ranks) p50 / tcp rtt 16B/16B", nr);
		bench_target(name, bench_p50(barrier) / bench_p50(tcp), 1, nr <= 2 ? 2 : 3);
	}
}

int main(int argc, char **argv)
{
	struct shared *sh;
	long iters;
	double *t;
	int fd;

	dsm_rpc_register(NULL_RPC, null_rpc);
	if (bench_init("sync_bench", &argc, &argv))
		return 1;
	iters = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
	if (iters < 10) {
		fprintf(stderr, "sync_bench: run it with at least 10 iterations\n");
		return 2;
	}
	if (!(t = calloc((size_t)iters, sizeof(double))) || !(rids = calloc((size_t)(iters + WARMUP), sizeof(*rids))))
		bench_die("calloc", ENOMEM);
	sh = dsm_alloc_named("sync_bench", sizeof(*sh));
	if (!sh)
		bench_die("dsm_alloc_named", errno);
	bench_context("%d ranks, backend %s, %ld iterations per repetition after %d warm-up", dsm_size(),
		      bench_backend(), iters, WARMUP);
	fd = dsm_size() > 1 ? bench_rank_pair(&sh->rv, 1, 0) : -1;
	if (dsm_size() == 1)
		one_rank(iters, t);
	else if (dsm_size() == 2)
		two_ranks(fd, iters, t);
	else
		four_ranks(fd, iters, t);
	if (fd >= 0)
		close(fd);
	if (dsm_rank() == 0)
		bench_report();
	free(t);
	free(rids);
	return dsm_finalize() ? 1 : 0;
}
