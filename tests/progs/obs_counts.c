/*
 * obs_counts - the counters of a known access pattern, on 2 ranks.
 *
 *   obs_counts K
 *
 * Rank 0 writes K pages at the bottom of the region (untouched before);
 * rank 1 reads them; rank 0 writes them again.  With cyclic homes and K even
 * that is, exactly:
 *   rank 0: K + K write faults (K virgin pages, then K upgrades of the copies
 *           it kept when it served rank 1), 0 read faults, K pages out
 *           (rank 1's copies), K/2 pages in (the zero pages homed at rank 1);
 *   rank 1: K read faults, 0 write faults, K pages in with K * 4096 bytes of
 *           data, K copies invalidated;
 *   job:    K invalidations sent (K/2 INV messages from rank 0, as home, and
 *           K/2 copies rank 1, as home, dropped itself).
 * That holds with DSM_READAHEAD=0.  With read-ahead (and write-ahead) on,
 * rank 1's sequential reads and rank 0's sequential writes become a few
 * faults plus pages requested ahead (and the windows may run past page K,
 * into zero pages, which rank 0's writes then take back from rank 1); then
 * rank 1 checks that read_faults + prefetched >= pages_in >= K with
 * read_faults < K / 2 and at least K copies invalidated, and rank 0 that
 * write_faults + prefetched >= 2K with write_faults < K and that it sent at
 * least K pages, K of them with data.
 * Each rank prints its counters as "counts rank R: name=value ..." and checks
 * them with dsm_stats(); then rank 0 takes lock 7 twice and both wait on
 * semaphore 9 once each way, so the wait counters move too.
 */
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

int main(int argc, char **argv)
{
	long k = argc > 1 ? strtol(argv[1], NULL, 10) : 64;
	const char *ra = getenv("DSM_READAHEAD");
	int ahead = !ra || strcmp(ra, "0") != 0;
	struct dsm_stats s;
	volatile char *base;
	size_t ps;
	int me;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	CHECK(dsm_size() == 2, "run with 2 ranks");
	CHECK(k > 0 && k % 2 == 0, "K must be even and positive");
	CHECK(dsm_stats(NULL) == -EINVAL, "dsm_stats(NULL) must fail");
	ps = dsm_page_size();
	base = dsm_base();

	if (me == 0)
		for (long i = 0; i < k; i++)
			base[i * ps] = (char)(i | 1);
	CALL(dsm_barrier());
	if (me == 1)
		for (long i = 0; i < k; i++)
			CHECK(base[i * ps] == (char)(i | 1), "page %ld holds %d", i, base[i * ps]);
	CALL(dsm_barrier());
	if (me == 0)
		for (long i = 0; i < k; i++)
			base[i * ps] = 2;
	CALL(dsm_barrier());

	CALL(dsm_stats(&s));
	printf("counts rank %d: read_faults=%" PRIu64 " write_faults=%" PRIu64 " pages_in=%" PRIu64
	       " pages_out=%" PRIu64 " page_bytes_in=%" PRIu64 " inv_sent=%" PRIu64 " inv_received=%" PRIu64
	       " barriers=%" PRIu64 " prefetched=%" PRIu64 "\n",
	       me, s.read_faults, s.write_faults, s.pages_in, s.pages_out, s.page_bytes_in, s.inv_sent,
	       s.inv_received, s.barriers, s.prefetched);
	CHECK(s.barriers == 3, "barriers %" PRIu64 ", expected 3", s.barriers);
	CHECK(s.barrier_ns > 0, "no time spent in barriers");
	for (size_t i = 0; i < sizeof(s.reserved) / sizeof(s.reserved[0]); i++)
		CHECK(s.reserved[i] == 0, "reserved[%zu] is not zero", i);
	if (ahead && me == 0) {
		CHECK(s.read_faults == 0, "rank 0 read faults %" PRIu64, s.read_faults);
		CHECK(s.write_faults < (uint64_t)k && s.write_faults + s.prefetched >= (uint64_t)(2 * k),
		      "rank 0: %" PRIu64 " write faults + %" PRIu64 " written ahead, for %ld pages written twice",
		      s.write_faults, s.prefetched, k);
		CHECK(s.pages_out >= (uint64_t)k, "rank 0 pages out %" PRIu64 ", expected %ld or more", s.pages_out,
		      k);
		CHECK(s.page_bytes_out == (uint64_t)k * ps, "rank 0 page bytes out %" PRIu64, s.page_bytes_out);
	} else if (ahead) {
		CHECK(s.read_faults < (uint64_t)k / 2, "rank 1 read faults %" PRIu64 ": nothing was read ahead",
		      s.read_faults);
		/* pages read ahead past K may still be on their way */
		CHECK(s.read_faults + s.prefetched >= s.pages_in && s.pages_in >= (uint64_t)k,
		      "rank 1: %" PRIu64 " read faults + %" PRIu64 " read ahead, %" PRIu64 " pages in", s.read_faults,
		      s.prefetched, s.pages_in);
		CHECK(s.page_bytes_in == (uint64_t)k * ps, "rank 1 page bytes in %" PRIu64, s.page_bytes_in);
		CHECK(s.inv_received >= (uint64_t)k, "rank 1 invalidations %" PRIu64 ", expected %ld or more",
		      s.inv_received, k);
	} else if (me == 0) {
		CHECK(s.read_faults == 0, "rank 0 read faults %" PRIu64, s.read_faults);
		CHECK(s.write_faults == (uint64_t)(2 * k), "rank 0 write faults %" PRIu64 ", expected %ld",
		      s.write_faults, 2 * k);
		CHECK(s.pages_out == (uint64_t)k, "rank 0 pages out %" PRIu64 ", expected %ld", s.pages_out, k);
		CHECK(s.pages_in == (uint64_t)(k / 2), "rank 0 pages in %" PRIu64 ", expected %ld", s.pages_in, k / 2);
		CHECK(s.page_bytes_out == (uint64_t)k * ps, "rank 0 page bytes out %" PRIu64, s.page_bytes_out);
		CHECK(s.inv_received == 0, "rank 0 invalidated %" PRIu64, s.inv_received);
	} else {
		CHECK(s.read_faults == (uint64_t)k, "rank 1 read faults %" PRIu64 ", expected %ld", s.read_faults, k);
		CHECK(s.write_faults == 0, "rank 1 write faults %" PRIu64, s.write_faults);
		CHECK(s.pages_in == (uint64_t)k, "rank 1 pages in %" PRIu64 ", expected %ld", s.pages_in, k);
		CHECK(s.page_bytes_in == (uint64_t)k * ps, "rank 1 page bytes in %" PRIu64, s.page_bytes_in);
		CHECK(s.inv_received == (uint64_t)k, "rank 1 invalidations %" PRIu64 ", expected %ld", s.inv_received,
		      k);
		CHECK(s.fault_ns > 0, "rank 1 waited no time for %ld pages", k);
		CHECK(s.prefetched == 0, "rank 1 read %" PRIu64 " pages ahead with DSM_READAHEAD=0", s.prefetched);
	}

	/* waits: a lock taken twice by rank 0; a semaphore posted by each rank
	 * for the other */
	if (me == 0) {
		for (int i = 0; i < 2; i++) {
			CALL(dsm_lock(7));
			CALL(dsm_unlock(7));
		}
	}
	CALL(dsm_sem_post(9 + (uint64_t)(1 - me)));
	CALL(dsm_sem_wait(9 + (uint64_t)me));
	CALL(dsm_stats(&s));
	CHECK(s.locks == (me == 0 ? 2u : 0u), "locks %" PRIu64, s.locks);
	CHECK(s.sem_waits == 1, "sem waits %" PRIu64, s.sem_waits);
	printf("counts rank %d: ok\n", me);
	return finish(me, 0);
}
