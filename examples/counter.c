/*
 * counter - every rank adds 1 to one shared counter K times, each time under
 * one dsm lock; the total must come out exactly N * K.  Inside the critical
 * section each rank also leaves its mark and checks that nobody overwrote it,
 * so two ranks inside at once are caught even when the sum happens to agree.
 *
 *   dsmexec -n 4 bin/counter [K]      (K defaults to 1000)
 */
#include <dsm.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNTER_LOCK 1

struct shared {
	uint64_t count;
	int64_t inside;   /* rank + 1 of the rank in the critical section */
	uint64_t overlaps;
};

int main(int argc, char **argv)
{
	long k = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
	int rc = dsm_init(&argc, &argv), me, workers;
	struct shared *s;
	uint64_t want;

	if (rc) {
		fprintf(stderr, "dsm_init: %s\n", strerror(-rc));
		return 1;
	}
	me = dsm_rank();
	workers = dsm_size() - dsm_num_servers();
	s = dsm_alloc_named("counter", sizeof(*s));
	if (!s || k < 0) {
		fprintf(stderr, "counter: %s\n", s ? "K must not be negative" : strerror(errno));
		return 1;
	}
	dsm_barrier();
	for (long i = 0; i < k; i++) {
		if ((rc = dsm_lock(COUNTER_LOCK))) {
			fprintf(stderr, "dsm_lock: %s\n", strerror(-rc));
			return 1;
		}
		if (s->inside)
			s->overlaps++;
		s->inside = me + 1;
		s->count = s->count + 1;
		if (s->inside != me + 1)
			s->overlaps++;
		s->inside = 0;
		if ((rc = dsm_unlock(COUNTER_LOCK))) {
			fprintf(stderr, "dsm_unlock: %s\n", strerror(-rc));
			return 1;
		}
	}
	dsm_barrier();
	want = (uint64_t)workers * (uint64_t)k;
	rc = s->count != want || s->overlaps;
	if (me == 0 || rc)
		printf("counter: rank %d: %llu increments by %d ranks, expected %llu, %llu overlaps: %s\n", me,
		       (unsigned long long)s->count, workers, (unsigned long long)want,
		       (unsigned long long)s->overlaps, rc ? "WRONG" : "OK");
	dsm_barrier();
	return dsm_finalize() || rc ? 1 : 0;
}
