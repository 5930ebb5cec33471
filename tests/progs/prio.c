/*
 * Description: the service thread's priority (DSM_SERVICE_PRIORITY).
 *   prio
 * Each rank reads the nice value of every thread of its process from
 * /proc/self/task/TID/stat and prints the lowest one, the main thread's, and
 * that of an RPC worker (rank 0 calls a handler on the last rank that
 * answers with its own thread's nice value): "prio: lowest L main M rpc R".
 * tests/service_priority.sh says what they must be.
 *
 *   prio busy
 * Answering while busy (2 ranks, 2 CPUs or more, DSM_BIND=off), as in a
 * rank whose one thread waits in dsm_barrier while OpenMP's others spin:
 * each rank binds itself to a CPU of its own; rank 1 starts a thread that
 * spins on its CPU with no library call and waits in a barrier, while rank
 * 0 reads BUSY_PAGES of rank 1's pages one by one, each a request that rank
 * 1's service thread must answer from that CPU.  The spinner prints how
 * long the service thread ("dsm-service") waited for the CPU per run
 * meanwhile (its schedstat) and whether it saw it at SCHED_FIFO: "busy:
 * waited W us a run, raised R" ("busy: one CPU" with one CPU).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testutil.h"

#define NICE_RPC 77

static int me;

/* Field 19 of /proc/self/task/TID/stat, counted after the ')' of the name. */
static int thread_nice(long tid)
{
	char path[64], buf[512], *p;
	int nice = 99;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", tid);
	if (!(f = fopen(path, "r")))
		return 99; /* the thread is gone */
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %d", &nice);
	fclose(f);
	return nice;
}

static int nice_rpc(const void *arg, size_t arg_len, void *reply, size_t *reply_len)
{
	int32_t n = thread_nice(syscall(SYS_gettid));

	(void)arg;
	(void)arg_len;
	if (*reply_len < sizeof(n))
		return -EMSGSIZE;
	memcpy(reply, &n, sizeof(n));
	*reply_len = sizeof(n);
	return 0;
}

#define BUSY_PAGES 300

/* The threads of this process: opened, the next one's id (0 at the end). */
static DIR *threads(void)
{
	DIR *d = opendir("/proc/self/task");

	CHECK(d != NULL, "opendir /proc/self/task: %s", strerror(errno));
	return d;
}

static long next_thread(DIR *d)
{
	struct dirent *e;

	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			return atol(e->d_name);
	return 0;
}

/* The thread of this process named `name`, or 0. */
static long thread_named(const char *name)
{
	char path[64], comm[32];
	long tid, found = 0;
	FILE *f;
	DIR *d = threads();

	while (!found && (tid = next_thread(d))) {
		snprintf(path, sizeof(path), "/proc/self/task/%ld/comm", tid);
		if (!(f = fopen(path, "r")))
			continue; /* the thread is gone */
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, name, strlen(name)) && comm[strlen(name)] == '\n')
			found = tid;
		fclose(f);
	}
	closedir(d);
	return found;
}

/* Thread `tid`'s time waiting for a CPU (ns) and its runs, from schedstat. */
static void waits(long tid, unsigned long long *delay, unsigned long long *runs)
{
	char path[64];
	unsigned long long on_cpu;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/schedstat", tid);
	CHECK((f = fopen(path, "r")) != NULL, "cannot open %s", path);
	CHECK(fscanf(f, "%llu %llu %llu", &on_cpu, delay, runs) == 3, "cannot read %s", path);
	fclose(f);
}

/* Every thread of this process on CPU `cpu`. */
static void bind_to(int cpu)
{
	cpu_set_t set;
	DIR *d = threads();
	long tid;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	while ((tid = next_thread(d)))
		CHECK(sched_setaffinity((pid_t)tid, sizeof(set), &set) == 0, "sched_setaffinity: %s",
		      strerror(errno));
	closedir(d);
}

static atomic_int busy_stop, busy_spinning;
static long busy_svc;

/* Rank 1's spinner: plain compute, and a look at the service thread's policy. */
static void *spin(void *arg)
{
	unsigned long long d0, r0, d1, r1;
	int raised = 0;

	(void)arg;
	waits(busy_svc, &d0, &r0);
	atomic_store(&busy_spinning, 1);
	for (unsigned long i = 0; !atomic_load_explicit(&busy_stop, memory_order_relaxed); i++)
		if (i % 65536 == 0)
			raised |= sched_getscheduler((pid_t)busy_svc) == SCHED_FIFO;
	waits(busy_svc, &d1, &r1);
	printf("busy: waited %llu us a run, raised %d\n", r1 > r0 ? (d1 - d0) / (r1 - r0) / 1000 : 0, raised);
	return NULL;
}

static int busy(void)
{
	size_t ps = dsm_page_size();
	volatile char *p = dsm_alloc_named("busy", BUSY_PAGES * ps);
	int cpus[2], k = 0;
	pthread_t th;
	cpu_set_t all;

	CHECK(p != NULL, "dsm_alloc_named failed");
	CHECK(dsm_size() == 2, "prio busy: run it on 2 ranks");
	CHECK(sched_getaffinity(0, sizeof(all), &all) == 0, "sched_getaffinity: %s", strerror(errno));
	for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
		if (CPU_ISSET(c, &all))
			cpus[k++] = c;
	if (k < 2) {
		printf("busy: one CPU\n");
		return dsm_finalize() ? 1 : 0;
	}
	if (me == 1) {
		for (int i = 0; i < BUSY_PAGES; i++)
			p[i * ps] = 1;
		CHECK((busy_svc = thread_named("dsm-service")) != 0, "no thread named dsm-service");
	}
	CALL(dsm_barrier());
	bind_to(cpus[me]);
	if (me == 1) {
		CHECK(pthread_create(&th, NULL, spin, NULL) == 0, "pthread_create");
		while (!atomic_load(&busy_spinning))
			sched_yield();
	}
	CALL(dsm_barrier()); /* rank 1's main thread waits in here while rank 0 reads */
	if (me == 0)
		for (int i = 0; i < BUSY_PAGES; i++)
			CHECK(p[i * ps] == 1, "page %d: read %d, not 1", i, p[i * ps]);
	CALL(dsm_barrier());
	if (me == 1) {
		atomic_store(&busy_stop, 1);
		pthread_join(th, NULL);
	}
	return dsm_finalize() ? 1 : 0;
}

int main(int argc, char **argv)
{
	int lowest = 99, rpc_nice = 99, fifo = 0;
	long tid;
	DIR *d;

	CALL(dsm_rpc_register(NICE_RPC, nice_rpc));
	init_or_exit(&argc, &argv);
	me = dsm_rank();
	if (argc > 1 && !strcmp(argv[1], "busy"))
		return busy();
	CALL(dsm_barrier()); /* the service thread has started and set itself */
	d = threads();
	while ((tid = next_thread(d))) {
		int n = thread_nice(tid);
		if (n < lowest)
			lowest = n;
		fifo += sched_getscheduler((pid_t)tid) == SCHED_FIFO;
	}
	closedir(d);
	if (me == 0) {
		int32_t n;
		size_t len = sizeof(n);
		CALL(dsm_rpc_call(dsm_size() - 1, NICE_RPC, NULL, 0, &n, &len));
		CHECK(len == sizeof(n), "reply of %zu bytes", len);
		rpc_nice = n;
	}
	printf("prio: lowest %d main %d rpc %d fifo %d\n", lowest, thread_nice(getpid()), rpc_nice, fifo);
	CALL(dsm_barrier());
	return dsm_finalize() ? 1 : 0;
}
