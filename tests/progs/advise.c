/*
 * Description: dsm_advise(DSM_ADV_WILL_OVERWRITE).  The last rank writes N
 * pages, the ranks between read them (read copies to invalidate), then rank
 * 0 advises and overwrites them whole: the call itself must ask for every
 * one of them (its `prefetched` grows by N), its page_bytes_in must not grow
 * (no page data travelled), every rank must then read rank 0's contents.  The
 * same overwrite without advice must fetch the data (the counter measures
 * what it seems to).  The hint is spent by one write fault: a later partial
 * write of an advised page keeps what another rank wrote since; a page only
 * partly inside the range keeps its other bytes; a page already writable
 * when advised gets no hint that a later phase could trip over.  Read
 * advice (DSM_ADV_WILL_READ) asks for every page of its range that rank 0
 * lacks, in the call, and nothing it holds; the values read are right.
 *   advise [pages]   (default 48)
 */
#include <dsm.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#define PAGE 4096
#define WORDS (PAGE / 8)
#define GAP 600

static int me;

static uint64_t val(uint64_t tag, uint64_t pg, uint64_t w)
{
	return tag << 48 | pg << 16 | w;
}

static void fill(volatile uint64_t *p, uint64_t npages, uint64_t tag)
{
	for (uint64_t pg = 0; pg < npages; pg++)
		for (uint64_t w = 0; w < WORDS; w++)
			p[pg * WORDS + w] = val(tag, pg, w);
}

static void expect(volatile uint64_t *p, uint64_t npages, uint64_t tag, const char *what)
{
	for (uint64_t pg = 0; pg < npages; pg++)
		for (uint64_t w = 0; w < WORDS; w++)
			CHECK(p[pg * WORDS + w] == val(tag, pg, w), "%s: page %lu word %lu is %#lx, not %#lx", what,
			      (unsigned long)pg, (unsigned long)w, (unsigned long)p[pg * WORDS + w],
			      (unsigned long)val(tag, pg, w));
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct dsm_stats stats_now(void)
{
	struct dsm_stats st;

	CALL(dsm_stats(&st));
	return st;
}

static uint64_t bytes_in(void)
{
	return stats_now().page_bytes_in;
}

static uint64_t prefetched(void)
{
	return stats_now().prefetched;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 48, b0, got;
	volatile uint64_t *a, *c, *d;
	int nr, last;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	nr = dsm_size();
	last = nr - 1;
	CHECK(nr >= 2, "run on 2 ranks or more");
	/* a: the advised pages; c: the control; d: partial and stale cases.
	 * Between them GAP pages nobody writes: a writer's write-ahead runs
	 * past the end of its range (up to DSM_READAHEAD pages), and it
	 * must find zero pages there, not the next part of the test. */
	a = (volatile uint64_t *)((char *)dsm_base() + 16 * PAGE);
	c = a + (n + GAP) * WORDS;
	d = c + (n + GAP) * WORDS;
	CHECK(dsm_advise((void *)a, 0, 99) == -EINVAL, "unknown advice accepted");
	CHECK(dsm_advise((char *)dsm_base() - PAGE, PAGE, DSM_ADV_WILL_OVERWRITE) == -EINVAL,
	      "a range outside the region accepted");

	/* 1: the last rank writes, the ranks between read. */
	if (me == last) {
		fill(a, n, 1);
		fill(c, n, 1);
	}
	CALL(dsm_barrier());
	if (me != 0 && me != last) {
		expect(a, n, 1, "read copy");
		expect(c, n, 1, "read copy");
	}
	CALL(dsm_barrier());

	/* 2: rank 0 overwrites a with advice, c without. */
	if (me == 0) {
		double t0 = now_ms(), t1, t2;
		uint64_t ahead = prefetched();
		CALL(dsm_advise((void *)a, n * PAGE, DSM_ADV_WILL_OVERWRITE));
		/* The call itself asks for every advised page (none is writable
		 * here): the writer does not fault its way through them. */
		ahead = prefetched() - ahead;
		CHECK(ahead == n, "dsm_advise over %lu pages asked for %lu of them ahead", (unsigned long)n,
		      (unsigned long)ahead);
		b0 = bytes_in();
		fill(a, n, 2);
		t1 = now_ms();
		got = bytes_in() - b0;
		CHECK(got == 0, "overwriting %lu advised pages fetched %lu bytes of page data", (unsigned long)n,
		      (unsigned long)got);
		b0 = bytes_in();
		t1 -= t0;
		t0 = now_ms();
		fill(c, n, 2);
		t2 = now_ms() - t0;
		got = bytes_in() - b0;
		CHECK(got >= PAGE, "overwriting %lu pages without advice fetched only %lu bytes", (unsigned long)n,
		      (unsigned long)got);
		printf("advise: %lu advised pages overwritten with 0 bytes fetched; without advice %lu bytes "
		       "(%.1f ms against %.1f ms, not checked)\n", (unsigned long)n, (unsigned long)got, t1, t2);
	}
	CALL(dsm_barrier());
	expect(a, n, 2, "after the advised overwrite");
	expect(c, n, 2, "after the plain overwrite");
	CALL(dsm_barrier());

	/* 3: the hint was spent: the last rank writes one word of each page,
	 * then rank 0 one other word, without advice; both survive. */
	if (me == last)
		for (uint64_t pg = 0; pg < n; pg++)
			a[pg * WORDS + 1] = val(3, pg, 1);
	CALL(dsm_barrier());
	if (me == 0)
		for (uint64_t pg = 0; pg < n; pg++)
			a[pg * WORDS + 2] = val(3, pg, 2);
	CALL(dsm_barrier());
	for (uint64_t pg = 0; pg < n; pg++)
		for (uint64_t w = 0; w < WORDS; w++) {
			uint64_t want = w == 1 || w == 2 ? val(3, pg, w) : val(2, pg, w);
			CHECK(a[pg * WORDS + w] == want, "spent hint: page %lu word %lu is %#lx, not %#lx",
			      (unsigned long)pg, (unsigned long)w, (unsigned long)a[pg * WORDS + w],
			      (unsigned long)want);
		}
	CALL(dsm_barrier());

	/* 4: d[0..1] pages: the last rank writes both; rank 0 advises from the
	 * middle of page 0 to the end of page 1 and overwrites just that: page
	 * 0's first half must keep the last rank's data. */
	if (me == last)
		fill(d, 2, 4);
	CALL(dsm_barrier());
	if (me == 0) {
		CALL(dsm_advise((void *)(d + WORDS / 2), PAGE + PAGE / 2, DSM_ADV_WILL_OVERWRITE));
		for (uint64_t w = WORDS / 2; w < 2 * WORDS; w++)
			d[w] = val(5, w / WORDS, w % WORDS);
	}
	CALL(dsm_barrier());
	for (uint64_t w = 0; w < 2 * WORDS; w++) {
		uint64_t want = w < WORDS / 2 ? val(4, 0, w) : val(5, w / WORDS, w % WORDS);
		CHECK(d[w] == want, "partly advised page: word %lu is %#lx, not %#lx", (unsigned long)w,
		      (unsigned long)d[w], (unsigned long)want);
	}
	CALL(dsm_barrier());

	/* 5: a page rank 0 holds writable when it advises gets no hint: after
	 * the last rank took it and wrote a word, rank 0's next (partial)
	 * write must not start from zeros. */
	if (me == 0) {
		fill(d + 2 * WORDS, 1, 6);
		CALL(dsm_advise((void *)(d + 2 * WORDS), PAGE, DSM_ADV_WILL_OVERWRITE));
	}
	CALL(dsm_barrier());
	if (me == last)
		d[2 * WORDS + 7] = val(7, 0, 7);
	CALL(dsm_barrier());
	if (me == 0)
		d[2 * WORDS + 8] = val(7, 0, 8);
	CALL(dsm_barrier());
	for (uint64_t w = 0; w < WORDS; w++) {
		uint64_t want = w == 7 || w == 8 ? val(7, 0, w) : val(6, 0, w);
		CHECK(d[2 * WORDS + w] == want, "advised while writable: word %lu is %#lx, not %#lx",
		      (unsigned long)w, (unsigned long)d[2 * WORDS + w], (unsigned long)want);
	}
	CALL(dsm_barrier());

	/* 6: DSM_ADV_WILL_READ.  The last rank rewrites c, which takes every
	 * copy of it from the others; rank 0's read advice then asks for all
	 * n pages in the call itself, it reads the last rank's values, and
	 * the same advice again asks for nothing (it holds them all). */
	if (me == last)
		fill(c, n, 8);
	CALL(dsm_barrier());
	if (me == 0) {
		uint64_t ahead = prefetched();
		CALL(dsm_advise((void *)c, n * PAGE, DSM_ADV_WILL_READ));
		ahead = prefetched() - ahead;
		CHECK(ahead == n, "read advice over %lu pages asked for %lu of them ahead", (unsigned long)n,
		      (unsigned long)ahead);
		expect(c, n, 8, "after the read advice");
		ahead = prefetched();
		CALL(dsm_advise((void *)c, n * PAGE, DSM_ADV_WILL_READ));
		CHECK(prefetched() == ahead, "read advice over pages held here asked for %lu of them",
		      (unsigned long)(prefetched() - ahead));
		printf("advise: read advice asked for %lu pages at once\n", (unsigned long)n);
	}
	CALL(dsm_barrier());
	expect(c, n, 8, "after the advised read");
	printf("advise: rank %d of %d: ok\n", me, nr);
	return finish(me, 0);
}
