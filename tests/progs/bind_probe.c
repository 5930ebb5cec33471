/*
 * Description: after dsm_init, print the CPUs every thread of this rank may
 * run on (sched_getaffinity of each task in /proc/self/task: the service
 * thread and the fault handler's too), as "bind rank R: CPUS" when they all
 * agree, and "bind rank R: threads disagree" otherwise; then a barrier.
 *   bind_probe
 */
#include <dirent.h>
#include <dsm.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void cpus_of(pid_t tid, char *out, size_t cap)
{
	cpu_set_t set;
	size_t n = 0;

	out[0] = 0;
	if (sched_getaffinity(tid, sizeof(set), &set) < 0) {
		snprintf(out, cap, "?");
		return;
	}
	for (int c = 0; c < CPU_SETSIZE && n + 8 < cap; c++)
		if (CPU_ISSET(c, &set))
			n += (size_t)snprintf(out + n, cap - n, "%s%d", n ? "," : "", c);
}

int main(int argc, char **argv)
{
	char first[512] = "", cur[512];
	int agree = 1, me, threads = 0;
	DIR *d;
	struct dirent *e;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	CHECK((d = opendir("/proc/self/task")) != NULL, "cannot open /proc/self/task");
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		cpus_of((pid_t)atoi(e->d_name), cur, sizeof(cur));
		if (!threads++)
			strcpy(first, cur);
		else if (strcmp(first, cur))
			agree = 0;
	}
	closedir(d);
	CHECK(threads >= 2, "only %d thread: no service thread?", threads);
	if (agree)
		printf("bind rank %d: %s\n", me, first);
	else
		printf("bind rank %d: threads disagree\n", me);
	CALL(dsm_barrier());
	return finish(me, 0);
}
