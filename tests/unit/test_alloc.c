/*
 * Description: the shared heap's extent allocator (struct heap in
 * src/alloc.h): takes come from the top down, honour alignment, never
 * overlap and fail with -ENOMEM only when nothing fits; gives merge with
 * their neighbours so the free space returns to one extent; a double or
 * stray give is refused; the "fresh" flag is set only for space never
 * handed out before; a carved hole (the release-consistent arena) is never
 * handed out.  A random sequence of takes and gives is checked
 * against a byte map of the same heap.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#include "unit.h"

#define PAGE 4096u
#define UNITS 1024u /* the random test's heap: 1024 pages */

static void test_basics(void)
{
	struct heap h;
	uint64_t a, b, c, d;
	int fresh;

	heap_init(&h, 0, 64 * PAGE);
	CHECK(h.free_bytes == 64 * PAGE && h.n_ext == 1, "a new heap is one extent of everything");
	CHECK(heap_take(&h, PAGE, PAGE, &a, &fresh) == 0 && a == 63 * PAGE && fresh, "first take: %llu",
	      (unsigned long long)a);
	CHECK(heap_take(&h, 2 * PAGE, PAGE, &b, &fresh) == 0 && b == 61 * PAGE && fresh, "second take: %llu",
	      (unsigned long long)b);
	/* 16 KiB alignment skips down to the next multiple. */
	CHECK(heap_take(&h, 4 * PAGE, 4 * PAGE, &c, &fresh) == 0 && c == 56 * PAGE && fresh,
	      "aligned take: %llu", (unsigned long long)c);
	CHECK(h.n_ext == 2, "the alignment gap is an extent of its own (%zu extents)", h.n_ext);
	/* The gap [60, 61) is used by a fitting request.  It lies above the
	 * lowest offset handed out, so it does not count as fresh (fresh is
	 * conservative: at worst a creator zeroes what was zero already). */
	CHECK(heap_take(&h, PAGE, PAGE, &d, &fresh) == 0 && d == 60 * PAGE && !fresh, "gap take: %llu",
	      (unsigned long long)d);
	CHECK(heap_give(&h, b, 2 * PAGE) == 0, "give b");
	CHECK(heap_give(&h, b, 2 * PAGE) == -EINVAL, "a second give of b is refused");
	CHECK(heap_give(&h, b + PAGE, PAGE) == -EINVAL, "a give inside free space is refused");
	CHECK(heap_give(&h, 60 * PAGE, 2 * PAGE) == -EINVAL, "a give overlapping free space is refused");
	CHECK(heap_give(&h, 64 * PAGE, PAGE) == -EINVAL, "a give beyond the heap is refused");
	/* Reused space is not fresh. */
	CHECK(heap_take(&h, PAGE, PAGE, &b, &fresh) == 0 && b == 62 * PAGE && !fresh, "reuse: %llu fresh %d",
	      (unsigned long long)b, fresh);
	CHECK(heap_give(&h, a, PAGE) == 0 && heap_give(&h, b, PAGE) == 0 && heap_give(&h, c, 4 * PAGE) == 0 &&
		      heap_give(&h, d, PAGE) == 0,
	      "give the rest");
	CHECK(h.n_ext == 1 && h.free_bytes == 64 * PAGE, "everything given back merges into one extent "
	      "(%zu extents, %llu bytes)", h.n_ext, (unsigned long long)h.free_bytes);
	CHECK(heap_take(&h, 65 * PAGE, PAGE, &a, &fresh) == -ENOMEM, "more than the heap");
	CHECK(heap_take(&h, 64 * PAGE, PAGE, &a, &fresh) == 0 && a == 0 && !fresh, "all of it");
	CHECK(heap_take(&h, PAGE, PAGE, &b, &fresh) == -ENOMEM, "a full heap");
	heap_fini(&h);
}

static void test_random(void)
{
	static uint8_t used[UNITS];
	static struct { uint64_t off, size; } live[UNITS];
	size_t nlive = 0;
	struct heap h;
	uint64_t seed = 12345;

	heap_init(&h, 0, (uint64_t)UNITS * PAGE);
	for (int step = 0; step < 200000 && !failures; step++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		uint64_t r = seed >> 33;
		if (nlive && (r % 3 == 0 || nlive == UNITS)) {
			size_t k = (size_t)(r / 3) % nlive;
			CHECK(heap_give(&h, live[k].off, live[k].size) == 0, "give %llu+%llu",
			      (unsigned long long)live[k].off, (unsigned long long)live[k].size);
			for (uint64_t u = live[k].off / PAGE; u < (live[k].off + live[k].size) / PAGE; u++)
				used[u] = 0;
			live[k] = live[--nlive];
		} else {
			uint64_t size = (1 + (r >> 4) % 8) * PAGE, align = (r & 1) ? 4 * PAGE : PAGE, off;
			int fresh, fits = 0;
			for (uint64_t s = 0; s + size / PAGE <= UNITS && !fits; s += align / PAGE) {
				fits = 1;
				for (uint64_t u = s; u < s + size / PAGE; u++)
					fits &= !used[u];
			}
			int rc = heap_take(&h, size, align, &off, &fresh);
			CHECK(rc == (fits ? 0 : -ENOMEM), "take %llu aligned %llu: %d, but it %s",
			      (unsigned long long)size, (unsigned long long)align, rc, fits ? "fits" : "does not fit");
			if (rc)
				continue;
			CHECK(off % align == 0 && off + size <= (uint64_t)UNITS * PAGE, "take gave %llu",
			      (unsigned long long)off);
			for (uint64_t u = off / PAGE; u < (off + size) / PAGE; u++) {
				CHECK(!used[u], "take gave page %llu, which is in use", (unsigned long long)u);
				used[u] = 1;
			}
			live[nlive].off = off;
			live[nlive].size = size;
			nlive++;
		}
		uint64_t free_pages = 0;
		for (unsigned u = 0; u < UNITS; u++)
			free_pages += !used[u];
		CHECK(h.free_bytes == free_pages * PAGE, "step %d: the heap counts %llu free bytes, the map %llu",
		      step, (unsigned long long)h.free_bytes, (unsigned long long)(free_pages * PAGE));
	}
	while (nlive) {
		nlive--;
		CHECK(heap_give(&h, live[nlive].off, live[nlive].size) == 0, "final give");
	}
	CHECK(h.n_ext == 1 && h.free_bytes == (uint64_t)UNITS * PAGE, "after the random run: %zu extents",
	      h.n_ext);
	heap_fini(&h);
}

/* heap_carve: the release-consistent arena's hole is never handed out. */
static void test_carve(void)
{
	struct heap h;
	uint64_t a, b;
	int fresh;

	heap_init(&h, 0, 64 * PAGE);
	CHECK(heap_carve(&h, 32 * PAGE, 48 * PAGE) == 0, "carve the middle");
	CHECK(h.n_ext == 2 && h.free_bytes == 48 * PAGE, "two extents, 48 pages free (%zu, %llu)", h.n_ext,
	      (unsigned long long)h.free_bytes);
	CHECK(heap_take(&h, 16 * PAGE, PAGE, &a, &fresh) == 0 && a == 48 * PAGE, "the top first: %llu",
	      (unsigned long long)a);
	CHECK(heap_take(&h, PAGE, PAGE, &b, &fresh) == 0 && b == 31 * PAGE, "then below the hole: %llu",
	      (unsigned long long)b);
	CHECK(heap_take(&h, 32 * PAGE, PAGE, &b, &fresh) == -ENOMEM, "nothing spans the hole");
	heap_fini(&h);
	heap_init(&h, 0, 64 * PAGE);
	CHECK(heap_carve(&h, 48 * PAGE, 64 * PAGE) == 0 && h.n_ext == 1 && h.free_bytes == 48 * PAGE,
	      "carve the top");
	CHECK(heap_carve(&h, 40 * PAGE, 56 * PAGE) == -EINVAL, "a hole beyond the free space is refused");
	heap_fini(&h);
}

int main(void)
{
	test_basics();
	test_carve();
	test_random();
	return unit_result("", "test_alloc: ok");
}
