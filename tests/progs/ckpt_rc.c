/*
 * Description: release-consistent memory across a checkpoint and a restart.
 *   ckpt_rc save DIR    every rank writes its own words of one page of a
 *                       dsm_malloc_rc block and of a dsm_alloc_named_rc block
 *                       and of a DSM_SHARED_RC array (several writers on
 *                       each page, no lock), adds to a
 *                       counter under a lock, and writes one more word just
 *                       before dsm_checkpoint(DIR), with no barrier between
 *                       (the checkpoint must flush it).  After the checkpoint
 *                       every rank overwrites its words, so a restart that
 *                       shows them did not restore the checkpoint.
 *                       Besides, each rank alone writes a page of its own
 *                       of a named block, in 3 epochs, so that with
 *                       DSM_RC_HOMES=migrate its home has moved to it by
 *                       the checkpoint.
 *   ckpt_rc check DIR   run with --restart DIR: every rank reads every word
 *                       the checkpoint saved; the named block is where it
 *                       was; the name is refused as sequentially consistent;
 *                       a new dsm_malloc_rc block overlaps neither; the
 *                       ranks write the page again (release consistency
 *                       still works) and the job checkpoints again.
 */
#include <dsm.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define LOCK_COUNT 31
#define WORDS (4096 / 8)
#define ADDS 100
#define RC_PAGES 3
#define OWN_PAGES 8 /* one per rank, at most 8 ranks */

/* Sequentially consistent: where the unnamed block is. */
struct table {
	uint64_t blk, named;
};

static int me, nr;
DSM_SHARED_RC uint64_t g_words[WORDS];

static uint64_t val(int r, int k)
{
	return ((uint64_t)(r + 1) << 32) | (uint64_t)(k * 7 + 1);
}

/* Rank r's words of a page: r, r + nr, r + 2 nr ... */
static void write_mine(uint64_t *w, uint64_t junk)
{
	for (int k = me; k < WORDS; k += nr)
		w[k] = junk ? junk : val(me, k);
}

/* Rank r's own page of the block `own`, written the e-th time. */
static void write_own(uint64_t *own, uint64_t e)
{
	for (int k = 0; k < WORDS; k++)
		own[me * WORDS + k] = val(me, k) + e;
}

static int check_own(const uint64_t *own, uint64_t e, const char *what)
{
	for (int r = 0; r < nr; r++)
		for (int k = 0; k < WORDS; k++)
			CHECK(own[r * WORDS + k] == val(r, k) + e, "%s: word %d of rank %d's page is %#llx, expected "
			      "%#llx", what, k, r, (unsigned long long)own[r * WORDS + k],
			      (unsigned long long)(val(r, k) + e));
	return 0;
}

static int check_words(const uint64_t *w, const char *what)
{
	for (int k = 0; k < WORDS; k++)
		CHECK(w[k] == val(k % nr, k), "%s: word %d is %#llx, expected %#llx (written by rank %d)", what, k,
		      (unsigned long long)w[k], (unsigned long long)val(k % nr, k), k % nr);
	return 0;
}

int main(int argc, char **argv)
{
	struct table *t;
	uint64_t *blk, *named, *own;
	const char *dir;
	int save;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	nr = dsm_size();
	CHECK(argc == 3 && (!strcmp(argv[1], "save") || !strcmp(argv[1], "check")), "usage: ckpt_rc save|check DIR");
	save = !strcmp(argv[1], "save");
	dir = argv[2];
	CHECK(dsm_checkpoint_restored() == !save, "dsm_checkpoint_restored() = %d in %s", dsm_checkpoint_restored(),
	      argv[1]);

	t = dsm_alloc_named("ckpt_rc.table", sizeof(*t));
	CHECK(t, "dsm_alloc_named(table): %s", strerror(errno));
	named = dsm_alloc_named_rc("ckpt_rc.named", RC_PAGES * 4096);
	CHECK(named, "dsm_alloc_named_rc: %s", strerror(errno));
	own = dsm_alloc_named_rc("ckpt_rc.own", OWN_PAGES * 4096);
	CHECK(own && nr <= OWN_PAGES, "dsm_alloc_named_rc(own): %s", own ? "too many ranks" : strerror(errno));

	if (save) {
		if (me == 0) {
			blk = dsm_malloc_rc(2 * 4096);
			CHECK(blk, "dsm_malloc_rc: %s", strerror(errno));
			t->blk = (uint64_t)(uintptr_t)blk;
			t->named = (uint64_t)(uintptr_t)named;
		}
		CALL(dsm_barrier());
		for (uint64_t e = 1; e <= 3; e++) { /* one writer per page, 3 epochs */
			write_own(own, e);
			CALL(dsm_barrier());
		}
		blk = (uint64_t *)(uintptr_t)t->blk;
		write_mine(blk, 0);
		write_mine(named, 0);
		write_mine(g_words, 0);
		for (int i = 0; i < ADDS; i++) {
			CALL(dsm_lock(LOCK_COUNT));
			named[WORDS]++; /* the second page: one counter */
			CALL(dsm_unlock(LOCK_COUNT));
		}
		CALL(dsm_barrier());
		/* Dirty at the checkpoint: only its own flush publishes it. */
		named[2 * WORDS + me] = 1000 + (uint64_t)me;
		CALL(dsm_checkpoint(dir));
		write_mine(blk, 0xdeadULL);
		write_mine(named, 0xdeadULL);
		write_mine(g_words, 0xdeadULL);
		write_own(own, 0xdead);
		CALL(dsm_barrier());
		if (me == 0)
			printf("save: %d ranks wrote one page of each block and global, %d adds each, checkpoint "
			       "written: OK\n",
			       nr, ADDS);
		return finish(me, 0);
	}

	blk = (uint64_t *)(uintptr_t)t->blk;
	CHECK(t->named == (uint64_t)(uintptr_t)named, "the named block is at %p, was at %#llx", (void *)named,
	      (unsigned long long)t->named);
	check_words(blk, "dsm_malloc_rc block");
	check_words(named, "named block");
	check_words(g_words, "DSM_SHARED_RC array");
	check_own(own, 3, "own pages");
	CHECK(named[WORDS] == (uint64_t)ADDS * (uint64_t)nr, "the counter is %llu, expected %llu",
	      (unsigned long long)named[WORDS], (unsigned long long)ADDS * (uint64_t)nr);
	for (int r = 0; r < nr; r++)
		CHECK(named[2 * WORDS + r] == 1000 + (uint64_t)r, "rank %d's word written just before the checkpoint "
		      "is %llu", r, (unsigned long long)named[2 * WORDS + r]);
	errno = 0;
	CHECK(!dsm_alloc_named("ckpt_rc.named", RC_PAGES * 4096) && errno == EINVAL,
	      "the release-consistent name was given as sequentially consistent (errno %d)", errno);
	CALL(dsm_barrier());
	if (me == 0) {
		char *q = dsm_malloc_rc(4096), *b = (char *)blk, *n = (char *)named;
		CHECK(q, "dsm_malloc_rc after the restart: %s", strerror(errno));
		CHECK((q + 4096 <= b || q >= b + 2 * 4096) && (q + 4096 <= n || q >= n + RC_PAGES * 4096),
		      "a new block at %p overlaps a restored one (%p, %p)", (void *)q, (void *)b, (void *)n);
	}
	/* Release consistency after the restart: the same words, once more. */
	for (int k = me; k < WORDS; k += nr)
		blk[k] = 0;
	CALL(dsm_barrier());
	write_mine(blk, 0);
	write_own(own, 4);
	CALL(dsm_barrier());
	check_words(blk, "dsm_malloc_rc block written again");
	check_own(own, 4, "own pages written again");
	CALL(dsm_checkpoint(dir));
	CALL(dsm_barrier());
	if (me == 0)
		printf("check: every word of %d writers restored on every rank, blocks where they were, written and "
		       "checkpointed again: OK\n", nr);
	return finish(me, 0);
}
