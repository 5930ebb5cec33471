/*
 * pagevec.h - a growing array of page numbers, and their order for qsort(),
 * shared by the coherence engines and checkpoints.
 *
 * Locking: none; each vector belongs to one thread (the service thread).
 */
#ifndef DSM_PAGEVEC_H
#define DSM_PAGEVEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "runtime.h"

struct pvec {
	uint64_t *v;
	size_t n, cap;
};

static inline void pvec_push(struct pvec *v, uint64_t page)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 64;
		uint64_t *nv = realloc(v->v, cap * sizeof(*nv));
		if (!nv)
			rt_fatal("out of memory for a list of %zu pages", cap);
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n++] = page;
}

/* Ascending page numbers, for qsort(). */
static inline int page_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#endif
