/*
 * Description: the service thread's priority (DSM_SERVICE_PRIORITY).
 *   prio
 * Each rank reads the nice value of every thread of its process from
 * /proc/self/task/TID/stat and prints the lowest one, the main thread's, and
 * that of an RPC worker (rank 0 calls a handler on the last rank that
 * answers with its own thread's nice value): "prio: lowest L main M rpc R".
 * tests/service_priority.sh says what they must be.
 */
#include <dirent.h>
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

int main(int argc, char **argv)
{
	int lowest = 99, rpc_nice = 99, fifo = 0;
	struct dirent *e;
	DIR *d;

	CALL(dsm_rpc_register(NICE_RPC, nice_rpc));
	init_or_exit(&argc, &argv);
	me = dsm_rank();
	CALL(dsm_barrier()); /* the service thread has started and set itself */
	CHECK((d = opendir("/proc/self/task")) != NULL, "opendir /proc/self/task");
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			int n = thread_nice(atol(e->d_name));
			if (n < lowest)
				lowest = n;
			fifo += sched_getscheduler((pid_t)atol(e->d_name)) == SCHED_FIFO;
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
