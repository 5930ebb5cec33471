/*
 * DSM_SHARED_RC globals (tests/globals_rc.sh): variables in release-consistent
 * memory beside sequentially consistent DSM_SHARED ones.
 *
 *   globals_rc [adds]   an initialised DSM_SHARED_RC struct starts as rank
 *                       0's copy on every rank; every rank adds `adds` times
 *                       to one counter under a lock and writes its own words
 *                       of one page (no lock, several writers at once); after
 *                       a barrier every rank reads the exact total and every
 *                       word; a message passed through a lock arrives; the
 *                       writes made twins (release consistency, not SC) and a
 *                       DSM_SHARED counter beside them stays exact too.
 */
#include "testutil.h"

#include <errno.h>
#include <stdint.h>

#define LOCK_TOTAL 11
#define LOCK_MSG 12
#define WORDS 512

struct conf {
	int n;
	char name[12];
};

DSM_SHARED_RC struct conf rc_conf = { .n = 7, .name = "release" };
DSM_SHARED_RC uint64_t rc_total;
DSM_SHARED_RC uint64_t rc_words[WORDS];
DSM_SHARED_RC uint64_t rc_msg[2];
DSM_SHARED uint64_t sc_total;

int main(int argc, char **argv)
{
	struct dsm_stats st;
	uint64_t adds = 200;
	int me = 0, nr;

	if (argc > 1)
		adds = strtoull(argv[1], NULL, 10);
	init_or_exit(&argc, &argv);
	me = dsm_rank();
	nr = dsm_size();
	CHECK(rc_conf.n == 7 && !strcmp(rc_conf.name, "release"), "rc_conf starts as {%d, %s}", rc_conf.n,
	      rc_conf.name);
	CHECK((char *)&rc_total < (char *)dsm_base() || (char *)&rc_total >= (char *)dsm_base() + dsm_region_size(),
	      "a DSM_SHARED_RC variable lies in the region");

	for (uint64_t i = 0; i < adds; i++) {
		CALL(dsm_lock(LOCK_TOTAL));
		rc_total++;
		sc_total++;
		CALL(dsm_unlock(LOCK_TOTAL));
	}
	for (int k = me; k < WORDS; k += nr)
		rc_words[k] = (uint64_t)me << 32 | (uint64_t)k;
	CALL(dsm_barrier());
	CHECK(rc_total == adds * (uint64_t)nr, "rc_total is %llu, expected %llu", (unsigned long long)rc_total,
	      (unsigned long long)(adds * (uint64_t)nr));
	CHECK(sc_total == adds * (uint64_t)nr, "sc_total is %llu", (unsigned long long)sc_total);
	for (int k = 0; k < WORDS; k++)
		CHECK(rc_words[k] == ((uint64_t)(k % nr) << 32 | (uint64_t)k), "word %d is %#llx", k,
		      (unsigned long long)rc_words[k]);

	/* Message passing through a lock: rank 0 writes, the last rank waits. */
	if (me == 0) {
		CALL(dsm_lock(LOCK_MSG));
		rc_msg[0] = 4242;
		rc_msg[1] = 1;
		CALL(dsm_unlock(LOCK_MSG));
	} else if (me == nr - 1) {
		uint64_t seen = 0;
		while (!seen) {
			CALL(dsm_lock(LOCK_MSG));
			seen = rc_msg[1];
			CALL(dsm_unlock(LOCK_MSG));
		}
		CHECK(rc_msg[0] == 4242, "the message is %llu", (unsigned long long)rc_msg[0]);
	}
	CALL(dsm_stats(&st));
	CHECK(st.twins > 0 && st.diffs_sent > 0, "no twins (%llu) or diffs (%llu): the variables are not "
	      "release-consistent", (unsigned long long)st.twins, (unsigned long long)st.diffs_sent);
	CALL(dsm_barrier());
	printf("globals_rc rank %d of %d: total %llu, %d words, message: OK\n", me, nr,
	       (unsigned long long)rc_total, WORDS);
	return finish(me, 0);
}
