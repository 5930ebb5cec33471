/*
 * alloc.h - the shared heap (alloc.c): dsm_malloc, dsm_free, dsm_alloc_named.
 */
#ifndef DSM_ALLOC_H
#define DSM_ALLOC_H

#include <stddef.h>
#include <stdint.h>

struct mbox_req;
struct wire_hdr;

#define ALLOC_SLAB_SIZE (16u * 1024) /* small objects of one class; aligned to its size */
#define ALLOC_MIN_SHIFT 4           /* the smallest class: 16 bytes */
#define ALLOC_NCLASSES 8            /* 16, 32, ..., 2048 = DSM_SMALL_MAX */

/* ALLOC_REQ operations (the message's aux). */
enum alloc_op {
	ALLOC_OP_PAGES = 1, /* arg = bytes -> arg = offset of whole pages */
	ALLOC_OP_SLAB = 2,  /* arg = class -> arg = offset of a slab */
	ALLOC_OP_FREE = 3,  /* arg = offset -> p0 = 0: freed; else the offset lies
	                     * in a slab: arg = the slab, p0 = class + 1 */
	ALLOC_OP_NAMED = 4, /* arg = bytes, payload = name -> arg = offset,
	                     * p0 = enum alloc_named; on EINVAL p0 = the size the
	                     * name has */
	ALLOC_OP_READY = 5, /* arg = offset: the creator has zeroed it; no reply */
	ALLOC_OP_RC_PAGES = 6, /* as PAGES, NAMED, from the release-consistent */
	ALLOC_OP_RC_NAMED = 7, /* arena (rc.c), which has a heap of its own */
};

enum alloc_named {
	ALLOC_NAMED_EXISTS = 0,  /* made by someone else, ready */
	ALLOC_NAMED_CREATED = 1, /* yours: zero it, then send READY */
	ALLOC_NAMED_FRESH = 2,   /* yours, never used before, so already zeros */
};

int alloc_init(void);
void alloc_fini(void);
/* Service thread: a MBOX_ALLOC request, and ALLOC_REQ/ALLOC_REPLY messages. */
void alloc_request(struct mbox_req *req);
void alloc_handle(const struct wire_hdr *h, const uint8_t *payload);

/*
 * The extent allocator behind the heap (rank 0's service thread; pure, so
 * unit-tested on its own).  Offsets are bytes from the region's base.  Free
 * space is a list of extents sorted by offset; a request takes the highest
 * place that fits, so the heap grows down from the top of the region.
 */
struct heap_ext {
	struct heap_ext *prev, *next;
	uint64_t start, end;
};

struct heap {
	uint64_t lo, hi;
	uint64_t fresh;          /* [lo, fresh) has never been handed out */
	uint64_t free_bytes;
	size_t n_ext;
	struct heap_ext head;    /* sentinel of the circular list */
};

void heap_init(struct heap *hp, uint64_t lo, uint64_t hi);
/* Right after heap_init: [lo, hi), inside, is never handed out (rc.c's
 * arena, which has a heap of its own).  0 or -ENOMEM. */
int heap_carve(struct heap *hp, uint64_t lo, uint64_t hi);
void heap_fini(struct heap *hp);
/* Take `size` bytes at an offset that is a multiple of `align` (a power of
 * two), from the highest place that fits.  0 with *off set, and *fresh = 1
 * when the bytes lie wholly below anything ever handed out (so they are still
 * zero; an alignment gap higher up does not count); -ENOMEM when nothing
 * fits. */
int heap_take(struct heap *hp, uint64_t size, uint64_t align, uint64_t *off, int *fresh);
/* Give back what heap_take gave; merges with free neighbours.  -EINVAL when
 * the range is not wholly in use (a double free). */
int heap_give(struct heap *hp, uint64_t off, uint64_t size);

#endif

/*
 * Checkpoint support (checkpoint.c): the heap's state as a byte image and
 * back.  Each *_save returns a malloc'd image; each *_load checks an image
 * completely before it changes anything, and logs what is wrong with it,
 * naming `file`, before returning -EINVAL.
 *   heap:  rank 0's extents and block table (the release-consistent
 *          arena's too).  Save on rank 0's service
 *          thread; load before the service thread starts.
 *   cache: this rank's free small objects and the slabs it knows.  Any
 *          thread; load before the application runs.
 */
int alloc_heap_save(uint8_t **buf, size_t *len);
int alloc_heap_load(const uint8_t *buf, size_t len, const char *file);
int alloc_cache_save(uint8_t **buf, size_t *len);
int alloc_cache_load(const uint8_t *buf, size_t len, const char *file);
