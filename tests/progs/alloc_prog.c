/*
 * Description: one rank of the shared-heap tests; the first argument chooses
 * the test.
 *
 *   stress ROUNDS PER   two threads per rank each allocate PER blocks of mixed
 *                       sizes (small and large) at the same time as every
 *                       other rank, fill them with a pattern of their own and
 *                       publish them; every rank then checks every block's
 *                       pattern and alignment, rank 0 checks that no two
 *                       blocks overlap, and each rank frees its neighbour's
 *                       blocks (freeing what another rank allocated).
 *                       ROUNDS times, so freed space is reused.
 *   named               dsm_alloc_named from every rank gives one address,
 *                       zero-filled (also when the space was used before);
 *                       another size is refused; bad frees are refused.
 */
#include <dsm.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define THREADS 2

static int me, n;

struct blk {
	uint8_t *p;
	uint64_t size;
};

static struct blk *table;  /* [rank][thread][PER], in the region */
static long per;
static int round_no;

static struct blk *slot(int rank, int t, long i)
{
	return &table[((size_t)rank * THREADS + (size_t)t) * (size_t)per + (size_t)i];
}

static uint8_t tag(int rank, int t, long i)
{
	return (uint8_t)(rank * 131 + t * 17 + i * 7 + round_no * 3 + 1);
}

/* Mostly small objects of every class, some large ones. */
static uint64_t size_for(int rank, int t, long i)
{
	uint64_t h = ((uint64_t)rank * 1000003 + (uint64_t)t * 7919 + (uint64_t)i * 104729 + (uint64_t)round_no) *
		     0x9e3779b97f4a7c15ULL;

	h >>= 32;
	if (h % 8 == 0)
		return 2049 + h % (3 * 4096);
	return 1 + h % 2048;
}

static void *alloc_thread(void *arg)
{
	int t = (int)(intptr_t)arg;

	for (long i = 0; i < per; i++) {
		uint64_t size = size_for(me, t, i);
		uint8_t *p = dsm_malloc(size), v = tag(me, t, i);

		CHECK(p, "dsm_malloc(%llu): %s", (unsigned long long)size, strerror(errno));
		CHECK(((uintptr_t)p & 15) == 0, "dsm_malloc(%llu) = %p is not 16-byte aligned",
		      (unsigned long long)size, (void *)p);
		CHECK(size <= DSM_SMALL_MAX || ((uintptr_t)p & (dsm_page_size() - 1)) == 0,
		      "dsm_malloc(%llu) = %p is not page-aligned", (unsigned long long)size, (void *)p);
		for (uint64_t j = 0; j < size; j++)
			p[j] = (uint8_t)(v + j);
		slot(me, t, i)->p = p;
		slot(me, t, i)->size = size;
	}
	return NULL;
}

static void *free_thread(void *arg)
{
	int t = (int)(intptr_t)arg, victim = (me + 1) % n;

	for (long i = 0; i < per; i++) {
		int rc = dsm_free(slot(victim, t, i)->p);
		CHECK(rc == 0, "dsm_free of rank %d's block: %s", victim, strerror(-rc));
	}
	return NULL;
}

static void run_threads(void *(*fn)(void *))
{
	pthread_t th[THREADS];

	for (int t = 0; t < THREADS; t++)
		CHECK(pthread_create(&th[t], NULL, fn, (void *)(intptr_t)t) == 0, "pthread_create");
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
}

static int by_address(const void *a, const void *b)
{
	const struct blk *x = a, *y = b;

	return x->p < y->p ? -1 : x->p > y->p;
}

static int test_stress(long rounds)
{
	size_t nblk = (size_t)n * THREADS * (size_t)per;

	table = dsm_alloc_named("alloc.table", nblk * sizeof(struct blk));
	CHECK(table, "dsm_alloc_named: %s", strerror(errno));
	for (round_no = 0; round_no < rounds; round_no++) {
		dsm_barrier();
		run_threads(alloc_thread);
		dsm_barrier();
		for (int r = 0; r < n; r++)
			for (int t = 0; t < THREADS; t++)
				for (long i = 0; i < per; i++) {
					struct blk *b = slot(r, t, i);
					uint8_t v = tag(r, t, i);
					CHECK(b->size == size_for(r, t, i), "rank %d's block %d.%ld has size %llu", r, t,
					      i, (unsigned long long)b->size);
					for (uint64_t j = 0; j < b->size; j++)
						CHECK(b->p[j] == (uint8_t)(v + j),
						      "round %d: byte %llu of rank %d's block %d.%ld (%p, %llu bytes) "
						      "was overwritten", round_no, (unsigned long long)j, r, t, i,
						      (void *)b->p, (unsigned long long)b->size);
				}
		if (me == 0) {
			struct blk *all = malloc(nblk * sizeof(*all));
			CHECK(all, "out of memory");
			memcpy(all, table, nblk * sizeof(*all));
			qsort(all, nblk, sizeof(*all), by_address);
			for (size_t k = 1; k < nblk; k++)
				CHECK(all[k - 1].p + all[k - 1].size <= all[k].p, "blocks %p (%llu bytes) and %p overlap",
				      (void *)all[k - 1].p, (unsigned long long)all[k - 1].size, (void *)all[k].p);
			free(all);
		}
		dsm_barrier();
		run_threads(free_thread);
	}
	dsm_barrier();
	if (me == 0)
		printf("stress: %d ranks x %d threads x %ld blocks x %ld rounds, no overlap: OK\n", n, THREADS, per,
		       rounds);
	return 0;
}

static void expect_zero(const uint8_t *p, size_t size, const char *what)
{
	for (size_t j = 0; j < size; j++)
		CHECK(p[j] == 0, "%s: byte %zu is %u, not zero", what, j, p[j]);
}

static int test_named(void)
{
	uint8_t **addr = dsm_alloc_named("named.addr", (size_t)n * sizeof(void *)), *a, *b, *p;
	char longname[DSM_NAME_MAX + 2];
	int rc;

	CHECK(addr, "dsm_alloc_named: %s", strerror(errno));
	a = dsm_alloc_named("alpha", 10000);
	CHECK(a, "dsm_alloc_named(alpha): %s", strerror(errno));
	CHECK(((uintptr_t)a & (dsm_page_size() - 1)) == 0, "a named block is not page-aligned");
	addr[me] = a;
	expect_zero(a, 10000, "alpha");
	dsm_barrier();
	for (int r = 0; r < n; r++)
		CHECK(addr[r] == a, "rank %d got %p for alpha, this rank %p", r, (void *)addr[r], (void *)a);
	dsm_barrier();
	if (me == 0)
		for (int j = 0; j < 10000; j++)
			a[j] = (uint8_t)(j * 7 + 1);
	dsm_barrier();
	for (int j = 0; j < 10000; j++)
		CHECK(a[j] == (uint8_t)(j * 7 + 1), "alpha[%d] = %u after rank 0 wrote it", j, a[j]);

	/* Another size: refused, with a message. */
	errno = 0;
	p = dsm_alloc_named("alpha", 5);
	CHECK(!p && errno == EINVAL, "dsm_alloc_named(alpha, 5) gave %p, errno %d", (void *)p, errno);

	/* A name on space used before: the creator zeroes it first. */
	dsm_barrier();
	if (me == 0) {
		p = dsm_malloc(3 * 4096);
		CHECK(p, "dsm_malloc: %s", strerror(errno));
		memset(p, 0xff, 3 * 4096);
		CHECK(dsm_free(p) == 0, "dsm_free");
	}
	dsm_barrier();
	b = dsm_alloc_named("beta", 3 * 4096);
	CHECK(b, "dsm_alloc_named(beta): %s", strerror(errno));
	expect_zero(b, 3 * 4096, "beta");
	dsm_barrier();

	/* Bad arguments and bad frees. */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	errno = 0;
	CHECK(!dsm_alloc_named(longname, 8) && errno == ENAMETOOLONG, "a long name: errno %d", errno);
	errno = 0;
	CHECK(!dsm_alloc_named("", 8) && errno == EINVAL, "an empty name: errno %d", errno);
	CHECK(dsm_free(NULL) == 0, "dsm_free(NULL)");
	rc = dsm_free(&rc);
	CHECK(rc == -EINVAL, "dsm_free of a stack address returned %d", rc);
	/* One rank at a time: another could be given the freed block at once. */
	if (me == 0) {
		p = dsm_malloc(3 * 4096);
		CHECK(p, "dsm_malloc: %s", strerror(errno));
		rc = dsm_free(p + 4096);
		CHECK(rc == -EINVAL, "dsm_free inside a block returned %d", rc);
		CHECK(dsm_free(p) == 0, "dsm_free");
		rc = dsm_free(p);
		CHECK(rc == -EINVAL, "a second dsm_free of a large block returned %d", rc);
		p = dsm_malloc(100);
		CHECK(p, "dsm_malloc: %s", strerror(errno));
		rc = dsm_free(p + 16);
		CHECK(rc == -EINVAL, "dsm_free inside a small object returned %d", rc);
		CHECK(dsm_free(p) == 0, "dsm_free");
	}
	errno = 0;
	p = dsm_malloc(dsm_region_size() + 1);
	CHECK(!p && errno == ENOMEM, "dsm_malloc(more than the region) gave %p, errno %d", (void *)p, errno);
	dsm_barrier();
	if (me == 0)
		printf("named: %d ranks, one address, zero-filled: OK\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 3;
	int rc;

	per = argc > 3 ? strtol(argv[3], NULL, 10) : 40;
	errno = 0;
	CHECK(!dsm_malloc(16) && errno == EINVAL, "dsm_malloc before dsm_init");
	rc = dsm_init(&argc, &argv);
	CHECK(rc == 0, "dsm_init: %s", strerror(-rc));
	me = dsm_rank();
	n = dsm_size() - dsm_num_servers();
	if (!strcmp(what, "stress"))
		rc = test_stress(rounds);
	else if (!strcmp(what, "named"))
		rc = test_named();
	else
		CHECK(0, "unknown test '%s'", what);
	return finish(me, rc);
}
