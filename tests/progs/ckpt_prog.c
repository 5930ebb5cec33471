/*
 * Description: the heap across a checkpoint and a restart.
 *   ckpt_prog save DIR    every rank allocates (named, large and small
 *                         blocks), fills them, frees some, records the live
 *                         ones in a named table; then dsm_checkpoint(DIR).
 *   ckpt_prog check DIR   run with --restart DIR: the named blocks are at
 *                         the same addresses with the same contents, a name
 *                         asked for with another size is refused, every
 *                         recorded block is intact, new allocations overlap
 *                         nothing in use, restored blocks can be freed, and
 *                         the job can checkpoint again.
 *   ckpt_prog flag        prints what dsm_checkpoint_restored() says.
 */
#include <dsm.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define TABLE_LOCK 7
#define MAX_ENT 4096
#define ALPHA_SIZE 10000
#define BETA_SIZE 5000

struct ent {
	uint64_t addr, size;
	int32_t owner;
	uint8_t pattern, live;
};

struct table {
	uint64_t self, alpha, beta;
	uint64_t n;
	struct ent e[MAX_ENT];
};

static int me;

static void fill(void *p, size_t n, uint8_t v)
{
	memset(p, v, n);
}

static int intact(const void *p, size_t n, uint8_t v)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return 0;
	return 1;
}

static struct table *table(void)
{
	struct table *t = dsm_alloc_named("ckpt_table", sizeof(struct table));

	CHECK(t, "dsm_alloc_named(ckpt_table): %s", strerror(errno));
	return t;
}

/* Record a block (under the table's lock); returns its index. */
static uint64_t record(struct table *t, void *p, size_t size, uint8_t pattern)
{
	uint64_t i;

	CALL(dsm_lock(TABLE_LOCK));
	i = t->n++;
	CHECK(i < MAX_ENT, "table full");
	t->e[i] = (struct ent){ .addr = (uint64_t)(uintptr_t)p, .size = size, .owner = me, .pattern = pattern,
				.live = 1 };
	CALL(dsm_unlock(TABLE_LOCK));
	return i;
}

static void *alloc_filled(size_t size, uint8_t pattern)
{
	void *p = dsm_malloc(size);

	CHECK(p, "dsm_malloc(%zu): %s", size, strerror(errno));
	fill(p, size, pattern);
	return p;
}

static int save(const char *dir)
{
	static const size_t small[] = { 24, 100, 700, 2048 };
	struct table *t = table();
	char *alpha, *beta;
	void *freed[8];
	int nf = 0;

	if (me == 0) {
		alpha = dsm_alloc_named("alpha", ALPHA_SIZE);
		CHECK(alpha, "dsm_alloc_named(alpha): %s", strerror(errno));
		fill(alpha, ALPHA_SIZE, 0xa1);
		t->self = (uint64_t)(uintptr_t)t;
		t->alpha = (uint64_t)(uintptr_t)alpha;
	}
	if (me == 1 % dsm_size()) {
		beta = dsm_alloc_named("beta", BETA_SIZE);
		CHECK(beta, "dsm_alloc_named(beta): %s", strerror(errno));
		fill(beta, BETA_SIZE, 0xb2);
		t->beta = (uint64_t)(uintptr_t)beta;
	}
	for (int i = 0; i < 4; i++) {
		uint8_t pat = (uint8_t)(me * 32 + i + 1);
		void *p = alloc_filled(3 * 4096 + 100, pat);
		if (i == 2)
			freed[nf++] = p;
		else
			record(t, p, 3 * 4096 + 100, pat);
	}
	for (int i = 0; i < 40; i++) {
		size_t sz = small[i % 4];
		uint8_t pat = (uint8_t)(me * 32 + 8 + i % 16);
		void *p = alloc_filled(sz, pat);
		if (i % 9 == 4 && nf < 8)
			freed[nf++] = p;
		else
			record(t, p, sz, pat);
	}
	for (int i = 0; i < nf; i++)
		CALL(dsm_free(freed[i]));
	CALL(dsm_barrier());
	CALL(dsm_checkpoint(dir));
	CHECK(!dsm_checkpoint_restored(), "a fresh job says it was restored");
	if (me == 0)
		printf("save: %d ranks, %lu blocks recorded, checkpoint written: OK\n", dsm_size(),
		       (unsigned long)t->n);
	return 0;
}

static int overlaps(const struct ent *a, const struct ent *b)
{
	return a->addr < b->addr + b->size && b->addr < a->addr + a->size;
}

static int by_addr(const void *x, const void *y)
{
	const struct ent *a = x, *b = y;

	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

static int check(const char *dir)
{
	static const size_t small[] = { 16, 24, 100, 700, 2048 };
	struct table *t = table();
	char *alpha, *beta;
	uint64_t old_n;

	CHECK(dsm_checkpoint_restored() == 1, "dsm_checkpoint_restored() is not 1 after --restart");
	CHECK((uint64_t)(uintptr_t)t == t->self, "the table moved: %p, was %#lx", (void *)t, (unsigned long)t->self);
	alpha = dsm_alloc_named("alpha", ALPHA_SIZE);
	beta = dsm_alloc_named("beta", BETA_SIZE);
	CHECK(alpha && (uint64_t)(uintptr_t)alpha == t->alpha, "alpha moved: %p, was %#lx", (void *)alpha,
	      (unsigned long)t->alpha);
	CHECK(beta && (uint64_t)(uintptr_t)beta == t->beta, "beta moved");
	CHECK(intact(alpha, ALPHA_SIZE, 0xa1) && intact(beta, BETA_SIZE, 0xb2), "a named block lost its content");
	errno = 0;
	CHECK(!dsm_alloc_named("alpha", 5) && errno == EINVAL, "alpha with another size was not refused");
	old_n = t->n;
	for (uint64_t i = 0; i < old_n; i++)
		CHECK(intact((void *)(uintptr_t)t->e[i].addr, t->e[i].size, t->e[i].pattern),
		      "block %lu (%#lx, %lu bytes) lost its content", (unsigned long)i, (unsigned long)t->e[i].addr,
		      (unsigned long)t->e[i].size);
	CALL(dsm_barrier());

	/* New allocations must not land on anything in use. */
	for (int i = 0; i < 6; i++) {
		uint8_t pat = (uint8_t)(0x80 + me * 8 + i);
		record(t, alloc_filled(5000 + 4096 * (size_t)i, pat), 5000 + 4096 * (size_t)i, pat);
	}
	for (int i = 0; i < 300; i++) {
		size_t sz = small[i % 5];
		uint8_t pat = (uint8_t)(0xc0 + me * 8 + i % 8);
		record(t, alloc_filled(sz, pat), sz, pat);
	}
	CALL(dsm_barrier());
	if (me == 0) {
		struct ent *all = malloc((t->n + 3) * sizeof(*all));
		uint64_t n = t->n;
		CHECK(all, "out of memory");
		memcpy(all, t->e, n * sizeof(*all));
		all[n++] = (struct ent){ .addr = t->self, .size = sizeof(struct table) };
		all[n++] = (struct ent){ .addr = t->alpha, .size = ALPHA_SIZE };
		all[n++] = (struct ent){ .addr = t->beta, .size = BETA_SIZE };
		qsort(all, n, sizeof(*all), by_addr);
		for (uint64_t i = 1; i < n; i++)
			CHECK(!overlaps(&all[i - 1], &all[i]), "blocks %#lx (+%lu) and %#lx (+%lu) overlap",
			      (unsigned long)all[i - 1].addr, (unsigned long)all[i - 1].size, (unsigned long)all[i].addr,
			      (unsigned long)all[i].size);
		free(all);
	}
	for (uint64_t i = 0; i < t->n; i++)
		CHECK(intact((void *)(uintptr_t)t->e[i].addr, t->e[i].size, t->e[i].pattern),
		      "block %lu was overwritten", (unsigned long)i);
	CALL(dsm_barrier());
	/* Blocks from before the checkpoint can be freed, by their owner. */
	for (uint64_t i = 0; i < old_n; i++)
		if (t->e[i].owner == me)
			CALL(dsm_free((void *)(uintptr_t)t->e[i].addr));
	CALL(dsm_barrier());
	CALL(dsm_checkpoint(dir));
	if (me == 0)
		printf("check: %lu restored blocks intact, %lu new ones overlap nothing, freed, checkpointed again: "
		       "OK\n", (unsigned long)old_n, (unsigned long)(t->n - old_n));
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int rc;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	if (!strcmp(mode, "save") && argc > 2) {
		rc = save(argv[2]);
	} else if (!strcmp(mode, "check") && argc > 2) {
		rc = check(argv[2]);
	} else if (!strcmp(mode, "flag")) {
		printf("rank %d: dsm_checkpoint_restored() = %d\n", me, dsm_checkpoint_restored());
		rc = 0;
	} else {
		fprintf(stderr, "usage: ckpt_prog save|check DIR | flag\n");
		return 2;
	}
	return finish(me, rc);
}
