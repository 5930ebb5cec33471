/*
 * sync_bench - latency of the synchronization primitives and RPC between two
 * ranks, against a plain TCP round trip between the same two processes,
 * measured in the same run:
 *
 *   tcp      16-byte request, 16-byte reply over a TCP connection of our own
 *            (TCP_NODELAY, blocking sockets, no service thread involved)
 *   lock     dsm_lock + dsm_unlock by rank 0 of a lock whose home is rank 1
 *            (uncontended)
 *   barrier  dsm_barrier with 2 ranks, timed at rank 0
 *   sem      rank 0 posts A and waits on B; rank 1 waits on A and posts B
 *            (one post+wait pair each way: a semaphore round trip); A's home
 *            is rank 1, B's rank 0
 *   rpc      a null dsm_rpc_call from rank 0 to rank 1
 * and, to show where the time goes:
 *   lock     dsm_lock alone (one round trip to the home; the unlock that
 *            follows sends its message without waiting for an answer)
 *   mailbox  dsm_unlock of a lock this rank does not hold: the application
 *            thread hands a request to its service thread and is woken with
 *            the answer (-EPERM), no message; every primitive pays this once
 *
 * Prints p50 and p99 of each in microseconds, and each p50 over the TCP p50.
 *
 *   dsmexec -n 2 bin/sync_bench [iterations]     (default 5000)
 */
#include <dsm.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sync.h" /* the home of a lock or a semaphore */

#define WARMUP 200
#define NULL_RPC 1

struct shared {
	char addr[64];
	int port;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "sync_bench: rank %d: %s: %s\n", dsm_rank(), what, strerror(err));
	exit(1);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(int64_t *v, long n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), cmp64);
	return (double)v[(long)(p * (double)(n - 1))] / 1000.0;
}

static int null_rpc(const void *arg, size_t len, void *reply, size_t *reply_len)
{
	(void)arg;
	(void)len;
	(void)reply;
	*reply_len = 0;
	return 0;
}

static void full_io(int fd, void *buf, size_t len, int writing)
{
	size_t done = 0;

	while (done < len) {
		ssize_t k = writing ? write(fd, (char *)buf + done, len - done) : read(fd, (char *)buf + done, len - done);
		if (k <= 0)
			die(writing ? "write" : "read", k < 0 ? errno : EPIPE);
		done += (size_t)k;
	}
}

/* Rank 1 listens, rank 0 connects; ping-pong. */
static void bench_tcp(struct shared *sh, long iters, int64_t *t)
{
	uint8_t msg[16] = { 0 };
	int one = 1, fd = -1;

	if (dsm_rank() == 1) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		socklen_t alen = sizeof(a);
		const char *host = getenv("DSM_HOST");
		int lfd = socket(AF_INET, SOCK_STREAM, 0);

		if (!host || inet_pton(AF_INET, host, &a.sin_addr) != 1)
			host = "127.0.0.1";
		inet_pton(AF_INET, host, &a.sin_addr);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1) ||
		    getsockname(lfd, (struct sockaddr *)&a, &alen))
			die("listen", errno);
		snprintf(sh->addr, sizeof(sh->addr), "%s", host);
		sh->port = ntohs(a.sin_port);
		dsm_barrier();
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			die("accept", errno);
		close(lfd);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (long i = 0; i < iters + WARMUP; i++) {
			full_io(fd, msg, sizeof(msg), 0);
			full_io(fd, msg, sizeof(msg), 1);
		}
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET };

		dsm_barrier();
		a.sin_port = htons((uint16_t)sh->port);
		inet_pton(AF_INET, sh->addr, &a.sin_addr);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
			die("connect", errno);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (long i = 0; i < iters + WARMUP; i++) {
			int64_t t0 = now_ns();
			full_io(fd, msg, sizeof(msg), 1);
			full_io(fd, msg, sizeof(msg), 0);
			if (i >= WARMUP)
				t[i - WARMUP] = now_ns() - t0;
		}
	}
	close(fd);
	dsm_barrier();
}

static uint64_t key_homed_at(int rank, int sem)
{
	for (uint64_t k = 1000;; k++)
		if ((sem ? sync_sem_home(k) : sync_lock_home(k)) == rank)
			return k;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 5000;
	static const char *names[] = { "tcp round trip", "lock+unlock (remote home)", "barrier (2 ranks)",
				       "sem post+wait round trip", "null rpc", "  lock alone (remote home)",
				       "  mailbox round trip" };
	int64_t *t[7];
	struct shared *sh;
	uint64_t lock, sem_a, sem_b;
	int rc, me;

	dsm_rpc_register(NULL_RPC, null_rpc);
	if ((rc = dsm_init(&argc, &argv)))
		die("dsm_init", -rc);
	me = dsm_rank();
	if (dsm_size() != 2 || iters < 10) {
		fprintf(stderr, "sync_bench: run it with 2 ranks (dsmexec -n 2) and at least 10 iterations\n");
		return 1;
	}
	for (int k = 0; k < 7; k++)
		if (!(t[k] = calloc((size_t)iters, sizeof(int64_t))))
			die("calloc", ENOMEM);
	sh = dsm_alloc_named("sync_bench", sizeof(*sh));
	if (!sh)
		die("dsm_alloc_named", errno);
	lock = key_homed_at(1, 0);
	sem_a = key_homed_at(1, 1);
	sem_b = key_homed_at(0, 1);
	dsm_barrier();

	bench_tcp(sh, iters, t[0]);

	if (me == 0)
		for (long i = 0; i < iters + WARMUP; i++) {
			int64_t t0 = now_ns();
			if (dsm_lock(lock) || dsm_unlock(lock))
				die("dsm_lock", EIO);
			if (i >= WARMUP)
				t[1][i - WARMUP] = now_ns() - t0;
		}
	dsm_barrier();

	for (long i = 0; i < iters + WARMUP; i++) {
		int64_t t0 = now_ns();
		if (dsm_barrier())
			die("dsm_barrier", EIO);
		if (i >= WARMUP)
			t[2][i - WARMUP] = now_ns() - t0;
	}

	for (long i = 0; i < iters + WARMUP; i++) {
		int64_t t0 = now_ns();
		if (me == 0 ? dsm_sem_post(sem_a) || dsm_sem_wait(sem_b) : dsm_sem_wait(sem_a) || dsm_sem_post(sem_b))
			die("semaphores", EIO);
		if (i >= WARMUP)
			t[3][i - WARMUP] = now_ns() - t0;
	}
	dsm_barrier();

	if (me == 0)
		for (long i = 0; i < iters + WARMUP; i++) {
			int64_t t0 = now_ns();
			if ((rc = dsm_rpc_call(1, NULL_RPC, NULL, 0, NULL, NULL)))
				die("dsm_rpc_call", -rc);
			if (i >= WARMUP)
				t[4][i - WARMUP] = now_ns() - t0;
		}
	dsm_barrier();

	if (me == 0)
		for (long i = 0; i < iters + WARMUP; i++) {
			int64_t t0 = now_ns();
			if (dsm_lock(lock))
				die("dsm_lock", EIO);
			if (i >= WARMUP)
				t[5][i - WARMUP] = now_ns() - t0;
			dsm_unlock(lock);
			t0 = now_ns();
			if (dsm_unlock(lock) != -EPERM)
				die("dsm_unlock of a lock not held", EIO);
			if (i >= WARMUP)
				t[6][i - WARMUP] = now_ns() - t0;
		}
	dsm_barrier();

	if (me == 0) {
		double tcp50 = pct(t[0], iters, 0.5);

		printf("sync_bench: 2 ranks, %ld iterations each (after %d warm-up), microseconds\n", iters, WARMUP);
		printf("  %-28s %9s %9s %9s\n", "", "p50", "p99", "p50/tcp");
		for (int k = 0; k < 7; k++) {
			double p50 = pct(t[k], iters, 0.5), p99 = pct(t[k], iters, 0.99);
			printf("  %-28s %9.1f %9.1f %9.2f\n", names[k], p50, p99, p50 / tcp50);
		}
	}
	for (int k = 0; k < 7; k++)
		free(t[k]);
	return dsm_finalize() ? 1 : 0;
}
