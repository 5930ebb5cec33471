/*
 * limits - what the machine itself can do, without dsm: the figures every
 * dsm benchmark is held against.
 *
 *   bin/limits [--reps N] [--json] [--out DIR] [--tag TAG]
 *
 *   tcp rtt 16B/16B     a 16-byte request answered with 16 bytes, between
 *                       this process and a child over loopback TCP
 *                       (TCP_NODELAY, blocking sockets)
 *   tcp rtt 16B/4KiB    the same, answered with 4 KiB (a page's worth)
 *   tcp stream 4KiB     one way, 4 KiB per write, 256 MiB: GB/s per MiB
 *   uffd fault          a local userfaultfd fault: a thread touches a
 *                       missing page of its own registered anonymous range,
 *                       a handler thread resolves it with UFFDIO_COPY
 *   uffd SIGBUS fault   the same range opened with UFFD_FEATURE_SIGBUS: the
 *                       faulting thread takes SIGBUS and its handler resolves
 *                       the page with UFFDIO_COPY itself (no thread hand-off)
 *   sigsegv fault       a local SIGSEGV whose handler mprotects the page
 *                       read-write
 *   memcpy 4KiB         hot (the same two buffers) and cold (random 4 KiB
 *                       blocks of two 64 MiB pools); the clock's own cost is
 *                       subtracted
 *
 * A remote page fault can cost no less than a local fault, a 16B/4KiB round
 * trip and a 4 KiB copy: bench/run.sh prints that sum beside the faults.
 */
#include "bench.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#define PAGE 4096
#define RTT_N 5000
#define FAULT_N 5000
#define STREAM_BYTES (256u << 20)
#define CHUNK (1u << 20)
#define POOL (64u << 20)

/* The child's side of the TCP measurements, rep by rep. */
static void serve(int fd, int reps)
{
	for (int r = 0; r < reps; r++) {
		bench_tcp_rtt(fd, 0, 16, 16, RTT_N, 200, NULL);
		bench_tcp_rtt(fd, 0, 16, PAGE, RTT_N, 200, NULL);
		bench_tcp_rtt_how(fd, 0, 16, 16, RTT_N, 200, NULL, 1);
		bench_tcp_rtt_how(fd, 0, 16, PAGE, RTT_N, 200, NULL, 1);
		bench_tcp_stream(fd, 0, PAGE, STREAM_BYTES, CHUNK, NULL);
	}
}

struct uffd_job {
	int fd, n;
	char *src;
};

static void *uffd_handler(void *arg)
{
	struct uffd_job *j = arg;
	struct uffd_msg msg;

	for (int i = 0; i < j->n;) {
		ssize_t k = read(j->fd, &msg, sizeof(msg));
		if (k < 0 && errno == EINTR)
			continue;
		if (k != sizeof(msg))
			bench_die("read(userfaultfd)", k < 0 ? errno : EIO);
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		struct uffdio_copy c = {
			.dst = msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1),
			.src = (uintptr_t)j->src,
			.len = PAGE,
		};
		if (ioctl(j->fd, UFFDIO_COPY, &c) < 0 && errno != EEXIST)
			bench_die("UFFDIO_COPY", errno);
		i++;
	}
	return NULL;
}

/* One repetition of n local userfaultfd faults into t; 0, or -1 when this
 * process may not use userfaultfd (*why says so). */
static int uffd_faults(double *t, int n, const char **why)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffd_job j = { .n = n };
	pthread_t th;
	char *p;
	volatile char sink;

	j.fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (j.fd < 0 && errno == EPERM)
		j.fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (j.fd < 0) {
		*why = strerror(errno);
		return -1;
	}
	if (ioctl(j.fd, UFFDIO_API, &api) < 0) {
		*why = "UFFDIO_API refused";
		close(j.fd);
		return -1;
	}
	p = mmap(NULL, (size_t)n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	j.src = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || j.src == MAP_FAILED)
		bench_die("mmap", errno);
	memset(j.src, 7, PAGE);
	madvise(p, (size_t)n * PAGE, MADV_NOHUGEPAGE);
	struct uffdio_register reg = { .range = { .start = (uintptr_t)p, .len = (uint64_t)n * PAGE },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	if (ioctl(j.fd, UFFDIO_REGISTER, &reg) < 0)
		bench_die("UFFDIO_REGISTER", errno);
	if (pthread_create(&th, NULL, uffd_handler, &j))
		bench_die("pthread_create", EAGAIN);
	for (int i = 0; i < n; i++) {
		double t0 = bench_now_us();
		sink = p[(size_t)i * PAGE];
		t[i] = bench_now_us() - t0;
	}
	(void)sink;
	pthread_join(th, NULL);
	munmap(p, (size_t)n * PAGE);
	munmap(j.src, PAGE);
	close(j.fd);
	return 0;
}

static int sigbus_fd = -1;
static char *sigbus_src;

static void sigbus_handler(int sig, siginfo_t *si, void *ctx)
{
	struct uffdio_copy c = {
		.dst = (uintptr_t)si->si_addr & ~(uint64_t)(PAGE - 1),
		.src = (uintptr_t)sigbus_src,
		.len = PAGE,
	};

	(void)sig;
	(void)ctx;
	if (ioctl(sigbus_fd, UFFDIO_COPY, &c) < 0 && errno != EEXIST)
		_exit(98);
}

/* One repetition of n local faults in SIGBUS mode into t; 0, or -1 when the
 * kernel or this process cannot (*why says so). */
static int uffd_sigbus_faults(double *t, int n, const char **why)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_SIGBUS };
	struct sigaction sa = { .sa_sigaction = sigbus_handler, .sa_flags = SA_SIGINFO }, old;
	volatile char sink;
	char *p;

	sigbus_fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (sigbus_fd < 0 && errno == EPERM)
		sigbus_fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (sigbus_fd < 0) {
		*why = strerror(errno);
		return -1;
	}
	if (ioctl(sigbus_fd, UFFDIO_API, &api) < 0 || !(api.features & UFFD_FEATURE_SIGBUS)) {
		*why = "no UFFD_FEATURE_SIGBUS";
		close(sigbus_fd);
		return -1;
	}
	p = mmap(NULL, (size_t)n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sigbus_src = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || sigbus_src == MAP_FAILED)
		bench_die("mmap", errno);
	memset(sigbus_src, 7, PAGE);
	madvise(p, (size_t)n * PAGE, MADV_NOHUGEPAGE);
	struct uffdio_register reg = { .range = { .start = (uintptr_t)p, .len = (uint64_t)n * PAGE },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	if (ioctl(sigbus_fd, UFFDIO_REGISTER, &reg) < 0)
		bench_die("UFFDIO_REGISTER", errno);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	for (int i = 0; i < n; i++) {
		double t0 = bench_now_us();
		sink = p[(size_t)i * PAGE];
		t[i] = bench_now_us() - t0;
	}
	(void)sink;
	sigaction(SIGBUS, &old, NULL);
	munmap(p, (size_t)n * PAGE);
	munmap(sigbus_src, PAGE);
	close(sigbus_fd);
	return 0;
}

static void segv_handler(int sig, siginfo_t *si, void *ctx)
{
	uintptr_t a = (uintptr_t)si->si_addr & ~(uintptr_t)(PAGE - 1);

	(void)sig;
	(void)ctx;
	if (mprotect((void *)a, PAGE, PROT_READ | PROT_WRITE) < 0)
		_exit(99);
}

static void segv_faults(double *t, int n)
{
	struct sigaction sa = { .sa_sigaction = segv_handler, .sa_flags = SA_SIGINFO }, old;
	char *p = mmap(NULL, (size_t)n * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile char sink;

	if (p == MAP_FAILED)
		bench_die("mmap", errno);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old);
	for (int i = 0; i < n; i++) {
		double t0 = bench_now_us();
		sink = p[(size_t)i * PAGE];
		t[i] = bench_now_us() - t0;
	}
	(void)sink;
	sigaction(SIGSEGV, &old, NULL);
	munmap(p, (size_t)n * PAGE);
}

/* The clock's own cost: the median of back-to-back readings. */
static double clock_cost(void)
{
	double t[1001];

	for (int i = 0; i < 1001; i++) {
		double t0 = bench_now_us();
		t[i] = bench_now_us() - t0;
	}
	return bench_pct(t, 1001, 0.5);
}

static void copies(double *hot, double *cold, int n, char *spool, char *dpool, uint64_t *seed)
{
	double c = clock_cost();

	for (int i = 0; i < n; i++) {
		double t0 = bench_now_us();
		memcpy(dpool, spool, PAGE);
		__asm__ volatile("" : : "r"(dpool) : "memory");
		hot[i] = bench_now_us() - t0 - c;
		if (hot[i] < 0)
			hot[i] = 0;
	}
	for (int i = 0; i < n; i++) {
		size_t s, d;
		*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
		s = (size_t)(*seed >> 33) % (POOL / PAGE) * PAGE;
		d = (size_t)((*seed >> 13) & 0xfffff) % (POOL / PAGE) * PAGE;
		double t0 = bench_now_us();
		memcpy(dpool + d, spool + s, PAGE);
		__asm__ volatile("" : : "r"(dpool) : "memory");
		cold[i] = bench_now_us() - t0 - c;
		if (cold[i] < 0)
			cold[i] = 0;
	}
}

int main(int argc, char **argv)
{
	struct bench_fig *rtt16, *rtt4k, *prtt16, *prtt4k, *stream, *uffd, *ubus, *segv, *mhot, *mcold;
	double *t = malloc(sizeof(double) * RTT_N * 2), *t2 = t + RTT_N;
	const char *why = NULL, *why_bus = NULL;
	uint64_t seed = 42;
	char addr[64], *spool, *dpool;
	int lfd, fd, port, status;
	pid_t child;

	argc = bench_args("limits", argc, argv);
	if (argc > 1) {
		fprintf(stderr, "usage: limits [--reps N] [--json] [--out DIR] [--tag TAG]\n");
		return 2;
	}
	bench_context("one process and a child, no dsm; loopback TCP");
	spool = mmap(NULL, POOL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dpool = mmap(NULL, POOL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!t || spool == MAP_FAILED || dpool == MAP_FAILED)
		bench_die("out of memory", ENOMEM);
	memset(spool, 1, POOL);
	memset(dpool, 2, POOL);

	lfd = bench_listen(&port, addr, sizeof(addr));
	fflush(stdout);
	child = fork();
	if (child < 0)
		bench_die("fork", errno);
	if (child == 0) {
		close(lfd);
		fd = bench_connect(addr, port);
		serve(fd, bench.reps);
		_exit(0);
	}
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		bench_die("accept", errno);
	bench_nodelay(fd);
	close(lfd);

	bench_section("network: loopback TCP between two processes");
	rtt16 = bench_fig("tcp_rtt_16", "tcp rtt 16B/16B", "us", 0);
	rtt4k = bench_fig("tcp_rtt_4k", "tcp rtt 16B/4KiB", "us", 0);
	prtt16 = bench_fig("tcp_rtt_16_poll", "tcp rtt 16B/16B, polling", "us", 0);
	prtt4k = bench_fig("tcp_rtt_4k_poll", "tcp rtt 16B/4KiB, polling", "us", 0);
	stream = bench_fig("tcp_stream_4k", "tcp stream 4KiB msgs", "GB/s", 1);
	bench_section("local faults and copies");
	uffd = bench_fig("uffd_fault", "uffd fault + UFFDIO_COPY (local)", "us", 0);
	ubus = bench_fig("uffd_sigbus_fault", "uffd SIGBUS fault + UFFDIO_COPY (local)", "us", 0);
	segv = bench_fig("segv_fault", "SIGSEGV + mprotect fault (local)", "us", 0);
	mhot = bench_fig("memcpy_4k_hot", "memcpy 4KiB, cache-hot", "us", 0);
	mcold = bench_fig("memcpy_4k_cold", "memcpy 4KiB, cold (64MiB pools)", "us", 0);

	for (int r = 0; r < bench.reps; r++) {
		size_t nchunk = STREAM_BYTES / CHUNK;

		bench_tcp_rtt(fd, 1, 16, 16, RTT_N, 200, t);
		bench_rep(rtt16, t, RTT_N);
		bench_tcp_rtt(fd, 1, 16, PAGE, RTT_N, 200, t);
		bench_rep(rtt4k, t, RTT_N);
		bench_tcp_rtt_how(fd, 1, 16, 16, RTT_N, 200, t, 1);
		bench_rep(prtt16, t, RTT_N);
		bench_tcp_rtt_how(fd, 1, 16, PAGE, RTT_N, 200, t, 1);
		bench_rep(prtt4k, t, RTT_N);
		bench_tcp_stream(fd, 1, PAGE, STREAM_BYTES, CHUNK, t);
		bench_rep_rate(stream, t, nchunk, CHUNK, 1e-3);
		if (!why && uffd_faults(t, FAULT_N, &why) == 0)
			bench_rep(uffd, t, FAULT_N);
		if (!why_bus && uffd_sigbus_faults(t, FAULT_N, &why_bus) == 0)
			bench_rep(ubus, t, FAULT_N);
		segv_faults(t, FAULT_N);
		bench_rep(segv, t, FAULT_N);
		copies(t, t2, RTT_N, spool, dpool, &seed);
		bench_rep(mhot, t, RTT_N);
		bench_rep(mcold, t2, RTT_N);
	}
	close(fd);
	waitpid(child, &status, 0);
	if (why)
		fprintf(stderr, "limits: skip: userfaultfd: %s\n", why);
	else if (why_bus)
		fprintf(stderr, "limits: skip: userfaultfd SIGBUS mode: %s\n", why_bus);
	bench_report();
	free(t);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
