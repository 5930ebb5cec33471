/*
 * alloc.c - the shared heap: dsm_malloc, dsm_free, dsm_alloc_named.
 *
 * Design.  The heap's bookkeeping lives at rank 0, in private memory of its
 * service thread, never in the region: the service thread must not touch the
 * region through the application's view, and metadata on shared pages would
 * make every allocation move pages between ranks.  Ranks ask rank 0 with
 * ALLOC_REQ (op in aux) and get ALLOC_REPLY (status in aux, offset in arg,
 * two u64 in the payload); the data itself is only ever touched by the
 * application.  Rank 0 hands out space from the top of the region down
 * (struct heap, below), so the low end stays free for programs that use
 * dsm_base() directly.
 *
 *   large (> DSM_SMALL_MAX): ALLOC_OP_PAGES, whole pages of its own.
 *   small: each rank keeps, per size class (16 .. 2048 bytes, powers of two),
 *          a private stack of free objects.  When it runs dry the rank takes
 *          a 16 KiB slab (ALLOC_OP_SLAB, aligned to 16 KiB) and cuts it up,
 *          so one small allocation in 1024 (16-byte objects) to one in 8
 *          (2 KiB objects) costs a message, and the small objects of
 *          different ranks seldom share a page (only when a rank reuses an
 *          object it freed for another).  Slabs are never
 *          given back; an object freed by any rank goes onto that rank's own
 *          stack.  To free an object the rank must know its class: the slab
 *          (offset rounded down to 16 KiB) is looked up in the rank's table
 *          of slabs it knows, else rank 0 answers ALLOC_OP_FREE with the slab
 *          and its class (or frees a large block, or says EINVAL).
 *   named: rank 0 keeps name -> block.  The first ALLOC_OP_NAMED creates the
 *          block.  Space never handed out before is still zero (FRESH, ready
 *          at once); otherwise the creator zeroes it and sends READY, and
 *          requests for the name that arrive meanwhile wait at rank 0.
 *
 * Locking: `cache_lock` guards the size-class stacks and the slab table (any
 * application thread); it is never held across a message.  The block table,
 * the heap and `pending` belong to the service thread.
 */
#include "alloc.h"

#include <dsm.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "log.h"
#include "mailbox.h"
#include "rc.h"
#include "runtime.h"
#include "stats.h"
#include "transport.h"
#include "wire.h"

/* ---- the extent allocator (pure) ------------------------------------- */

void heap_init(struct heap *hp, uint64_t lo, uint64_t hi)
{
	hp->lo = lo;
	hp->hi = hi;
	hp->fresh = hi;
	hp->free_bytes = 0;
	hp->n_ext = 0;
	hp->head.prev = hp->head.next = &hp->head;
	if (hi > lo) {
		struct heap_ext *e = malloc(sizeof(*e));
		if (!e)
			return; /* an empty heap: every take fails with -ENOMEM */
		e->start = lo;
		e->end = hi;
		e->prev = e->next = &hp->head;
		hp->head.next = hp->head.prev = e;
		hp->free_bytes = hi - lo;
		hp->n_ext = 1;
	}
}

int heap_carve(struct heap *hp, uint64_t lo, uint64_t hi)
{
	struct heap_ext *e = hp->head.next;

	if (hi <= lo || e == &hp->head || e->next != &hp->head || lo < e->start || hi > e->end)
		return -EINVAL;
	if (hi < e->end) {
		struct heap_ext *x = malloc(sizeof(*x));
		if (!x)
			return -ENOMEM;
		x->start = hi;
		x->end = e->end;
		x->prev = e;
		x->next = &hp->head;
		e->next = x;
		hp->head.prev = x;
		hp->n_ext++;
	}
	e->end = lo;
	hp->free_bytes -= hi - lo;
	if (e->end == e->start) {
		e->prev->next = e->next;
		e->next->prev = e->prev;
		hp->n_ext--;
		free(e);
	}
	return 0;
}

void heap_fini(struct heap *hp)
{
	struct heap_ext *e = hp->head.next;

	while (e != &hp->head) {
		struct heap_ext *nx = e->next;
		free(e);
		e = nx;
	}
	hp->head.prev = hp->head.next = &hp->head;
	hp->n_ext = 0;
	hp->free_bytes = 0;
}

static void ext_unlink(struct heap *hp, struct heap_ext *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	hp->n_ext--;
	free(e);
}

static int ext_insert_after(struct heap *hp, struct heap_ext *at, uint64_t start, uint64_t end)
{
	struct heap_ext *e = malloc(sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->start = start;
	e->end = end;
	e->prev = at;
	e->next = at->next;
	at->next->prev = e;
	at->next = e;
	hp->n_ext++;
	return 0;
}

int heap_take(struct heap *hp, uint64_t size, uint64_t align, uint64_t *off, int *fresh)
{
	if (size == 0 || size > hp->free_bytes)
		return -ENOMEM;
	for (struct heap_ext *e = hp->head.prev; e != &hp->head; e = e->prev) {
		uint64_t s, end;

		if (e->end - e->start < size)
			continue;
		s = (e->end - size) & ~(align - 1);
		if (s < e->start)
			continue;
		end = s + size;
		/* Split e into [e->start, s) and [end, e->end). */
		if (end < e->end) {
			if (s > e->start) {
				if (ext_insert_after(hp, e, end, e->end))
					return -ENOMEM;
				e->end = s;
			} else {
				e->start = end;
			}
		} else if (s > e->start) {
			e->end = s;
		} else {
			ext_unlink(hp, e);
		}
		hp->free_bytes -= size;
		*fresh = end <= hp->fresh;
		if (s < hp->fresh)
			hp->fresh = s;
		*off = s;
		return 0;
	}
	return -ENOMEM;
}

int heap_give(struct heap *hp, uint64_t off, uint64_t size)
{
	uint64_t end = off + size;
	struct heap_ext *prev = &hp->head, *next;

	if (size == 0 || off < hp->lo || end > hp->hi || end < off)
		return -EINVAL;
	/* prev: the last extent that starts before off (or the sentinel). */
	for (struct heap_ext *e = hp->head.prev; e != &hp->head; e = e->prev)
		if (e->start < off) {
			prev = e;
			break;
		}
	next = prev->next;
	if ((prev != &hp->head && prev->end > off) || (next != &hp->head && next->start < end))
		return -EINVAL;
	if (prev != &hp->head && prev->end == off) {
		prev->end = end;
		if (next != &hp->head && next->start == end) {
			prev->end = next->end;
			ext_unlink(hp, next);
		}
	} else if (next != &hp->head && next->start == end) {
		next->start = off;
	} else if (ext_insert_after(hp, prev, off, end)) {
		return -ENOMEM;
	}
	hp->free_bytes += size;
	return 0;
}

/* ---- rank 0: the block table ------------------------------------------ */

struct nwait {
	struct nwait *next;
	int32_t rank;
	uint64_t req;
};

struct blk {
	struct hlink link;      /* in blks, by off */
	uint64_t off, size;     /* what heap_take gave */
	uint8_t cls;            /* 0: whole pages; else a slab of class cls - 1 */
	uint8_t ready;          /* named: zeroed and usable */
	int32_t creator;        /* named: who must send READY */
	uint64_t asked;         /* named: the size asked for */
	char *name;             /* NULL unless named */
	struct blk *nnext;      /* list of named blocks */
	struct nwait *waiters;  /* named requests waiting for READY */
};

static struct heap heap, rc_heap; /* rc_heap: the release-consistent arena */
static struct htab blks;
static struct blk *named;

static uint64_t off_hash(uint64_t off)
{
	return ((off >> DSM_PAGE_SHIFT) * 0x9e3779b97f4a7c15ULL) >> 20;
}

static uint64_t blk_hash(const struct hlink *l)
{
	return off_hash(htab_entry(l, struct blk, link)->off);
}

static struct blk *blk_find(uint64_t off)
{
	for (struct hlink *l = htab_chain(&blks, off_hash(off)); l; l = l->next) {
		struct blk *b = htab_entry(l, struct blk, link);
		if (b->off == off)
			return b;
	}
	return NULL;
}

static struct blk *blk_add(uint64_t off, uint64_t size, int cls)
{
	struct blk *b;

	if (htab_reserve(&blks))
		rt_fatal("out of memory for the heap's block table");
	b = calloc(1, sizeof(*b));
	if (!b)
		rt_fatal("out of memory for the heap's block table");
	b->off = off;
	b->size = size;
	b->cls = (uint8_t)cls;
	b->ready = 1;
	htab_add(&blks, &b->link, off_hash(off));
	return b;
}

static void blk_remove(struct blk *b)
{
	htab_del(&blks, &b->link, off_hash(b->off));
	if (b->name) {
		struct blk **np = &named;
		while (*np != b)
			np = &(*np)->nnext;
		*np = b->nnext;
		free(b->name);
	}
	while (b->waiters) {
		struct nwait *w = b->waiters;
		b->waiters = w->next;
		free(w);
	}
	free(b);
}

static void blk_drop(struct hlink *l)
{
	blk_remove(htab_entry(l, struct blk, link));
}

static void reply(int to, uint64_t req, uint32_t err, uint64_t arg, uint64_t p0, uint64_t p1)
{
	struct wire_hdr h = { .type = WIRE_ALLOC_REPLY, .id = req, .aux = err, .arg = arg, .len = 16 };
	uint8_t pl[16];

	put_le64(pl, p0);
	put_le64(pl + 8, p1);
	tp_send(to, &h, pl);
}

static uint64_t round_pages(uint64_t n)
{
	return (n + DSM_PAGE_SIZE - 1) & ~(uint64_t)(DSM_PAGE_SIZE - 1);
}

/* The heap that hands out (or took back) the block at `off`. */
static struct heap *heap_of(uint64_t off)
{
	return rc_page(off >> DSM_PAGE_SHIFT) ? &rc_heap : &heap;
}

static void serve_pages(int32_t from, uint64_t req, uint64_t size, struct heap *hp)
{
	uint64_t off;
	int fresh;

	if (size == 0 || size > rt.region_size || heap_take(hp, round_pages(size), DSM_PAGE_SIZE, &off, &fresh)) {
		reply(from, req, ENOMEM, 0, 0, 0);
		return;
	}
	blk_add(off, round_pages(size), 0);
	reply(from, req, 0, off, 0, round_pages(size));
}

static void serve_slab(int32_t from, uint64_t req, uint64_t cls)
{
	uint64_t off;
	int fresh;

	if (cls >= ALLOC_NCLASSES)
		rt_fatal("rank %d asked for a slab of size class %" PRIu64 ", which does not exist", from, cls);
	if (heap_take(&heap, ALLOC_SLAB_SIZE, ALLOC_SLAB_SIZE, &off, &fresh)) {
		reply(from, req, ENOMEM, 0, 0, 0);
		return;
	}
	blk_add(off, ALLOC_SLAB_SIZE, (int)cls + 1);
	reply(from, req, 0, off, 0, ALLOC_SLAB_SIZE);
}

static void serve_free(int32_t from, uint64_t req, uint64_t off)
{
	struct blk *b = blk_find(off);
	uint64_t slab = off & ~(uint64_t)(ALLOC_SLAB_SIZE - 1);

	if (b && b->cls == 0) {
		if (!b->ready) {
			reply(from, req, EBUSY, 0, 0, 0); /* its creator is still zeroing it */
			return;
		}
		if (heap_give(heap_of(b->off), b->off, b->size))
			rt_fatal("the heap lost track of block %#" PRIx64 " (internal error)", b->off);
		blk_remove(b);
		reply(from, req, 0, off, 0, 0);
		return;
	}
	b = blk_find(slab);
	if (b && b->cls > 0 && (off - slab) % (1u << (ALLOC_MIN_SHIFT + b->cls - 1)) == 0) {
		reply(from, req, 0, slab, b->cls, 0);
		return;
	}
	reply(from, req, EINVAL, 0, 0, 0);
}

static void serve_named(int32_t from, uint64_t req, uint64_t size, const uint8_t *name, uint32_t len,
			struct heap *hp)
{
	struct blk *b;
	uint64_t off;
	int fresh;

	if (len == 0 || memchr(name, 0, len))
		rt_fatal("rank %d asked for a named allocation with a malformed name", from);
	for (b = named; b; b = b->nnext)
		if (strlen(b->name) == len && !memcmp(b->name, name, len))
			break;
	if (b) {
		if (b->asked != size || heap_of(b->off) != hp) {
			reply(from, req, EINVAL, 0, b->asked, 0);
		} else if (b->ready) {
			reply(from, req, 0, b->off, ALLOC_NAMED_EXISTS, b->size);
		} else {
			struct nwait *w = malloc(sizeof(*w));
			if (!w)
				rt_fatal("out of memory for a named allocation");
			*w = (struct nwait){ .next = b->waiters, .rank = from, .req = req };
			b->waiters = w; /* answered in READY; order among them does not matter */
		}
		return;
	}
	if (size == 0 || size > rt.region_size || heap_take(hp, round_pages(size), DSM_PAGE_SIZE, &off, &fresh)) {
		reply(from, req, ENOMEM, 0, 0, 0);
		return;
	}
	b = blk_add(off, round_pages(size), 0);
	b->name = malloc(len + 1);
	if (!b->name)
		rt_fatal("out of memory for a named allocation");
	memcpy(b->name, name, len);
	b->name[len] = '\0';
	b->asked = size;
	b->creator = from;
	b->ready = (uint8_t)fresh;
	b->nnext = named;
	named = b;
	reply(from, req, 0, off, fresh ? ALLOC_NAMED_FRESH : ALLOC_NAMED_CREATED, b->size);
}

static void serve_ready(int32_t from, uint64_t off)
{
	struct blk *b = blk_find(off);

	if (!b || !b->name || b->ready || b->creator != from)
		rt_fatal("rank %d said named block %#" PRIx64 " is ready, but it did not create one there "
			 "(protocol error)", from, off);
	b->ready = 1;
	while (b->waiters) {
		struct nwait *w = b->waiters;
		b->waiters = w->next;
		reply(w->rank, w->req, 0, b->off, ALLOC_NAMED_EXISTS, b->size);
		free(w);
	}
}

/* ---- the requester's side (service thread) ----------------------------- */

static struct mbox_req *pending; /* waiting for ALLOC_REPLY; b = request id */
static uint64_t next_req;

void alloc_request(struct mbox_req *req)
{
	struct wire_hdr h = { .type = WIRE_ALLOC_REQ, .aux = (uint32_t)req->a, .arg = req->b };
	const char *name = req->p;

	if (name)
		h.len = (uint32_t)strlen(name);
	if (req->a == ALLOC_OP_READY) {
		tp_send(0, &h, NULL);
		mbox_complete(req, 0);
		return;
	}
	h.id = ++next_req;
	req->b = h.id;
	req->next = pending;
	pending = req;
	tp_send(0, &h, name);
}

static void got_reply(const struct wire_hdr *h, const uint8_t *payload)
{
	struct mbox_req **pp = &pending, *req;

	while (*pp && (*pp)->b != h->id)
		pp = &(*pp)->next;
	req = *pp;
	if (!req || h->src != 0)
		rt_fatal("rank %u answered heap request %" PRIu64 ", which this rank did not send to it "
			 "(protocol error)", h->src, h->id);
	if (h->aux > 4095)
		rt_fatal("rank %u answered a heap request with status %u", h->src, h->aux);
	*pp = req->next;
	req->a = h->arg;
	req->b = get_le64(payload);
	mbox_complete(req, -(int)h->aux);
}

void alloc_handle(const struct wire_hdr *h, const uint8_t *payload)
{
	int32_t src = (int32_t)h->src;

	if (h->type == WIRE_ALLOC_REPLY) {
		got_reply(h, payload);
		return;
	}
	if (rt.rank != 0)
		rt_fatal("rank %d sent a heap request to rank %d, not to rank 0", src, rt.rank);
	if (h->aux != ALLOC_OP_NAMED && h->aux != ALLOC_OP_RC_NAMED && h->len)
		rt_fatal("rank %d sent a heap request (op %u) with an unexpected payload", src, h->aux);
	switch (h->aux) {
	case ALLOC_OP_PAGES:
	case ALLOC_OP_RC_PAGES:
		serve_pages(src, h->id, h->arg, h->aux == ALLOC_OP_PAGES ? &heap : &rc_heap);
		break;
	case ALLOC_OP_SLAB:
		serve_slab(src, h->id, h->arg);
		break;
	case ALLOC_OP_FREE:
		serve_free(src, h->id, h->arg);
		break;
	case ALLOC_OP_NAMED:
	case ALLOC_OP_RC_NAMED:
		serve_named(src, h->id, h->arg, payload, h->len, h->aux == ALLOC_OP_NAMED ? &heap : &rc_heap);
		break;
	case ALLOC_OP_READY:
		serve_ready(src, h->arg);
		break;
	default:
		rt_fatal("rank %d sent a heap request with unknown operation %u", src, h->aux);
	}
}

/* ---- this rank's caches (application threads) ------------------------- */

struct stack {
	uint64_t *v;
	size_t n, cap;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stack cache[ALLOC_NCLASSES]; /* free objects, as offsets */
static struct {
	uint64_t *v;          /* slab offset | (class + 1); 0 = empty slot */
	size_t cap, n;
} slabs;

static int push(struct stack *s, uint64_t off)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = off;
	return 0;
}

static size_t slab_slot(uint64_t slab, size_t cap)
{
	return (size_t)(((slab / ALLOC_SLAB_SIZE) * 0x9e3779b97f4a7c15ULL) >> 24) & (cap - 1);
}

/* The class of a slab this rank knows, or -1. */
static int slab_class(uint64_t slab)
{
	if (!slabs.cap)
		return -1;
	for (size_t i = slab_slot(slab, slabs.cap);; i = (i + 1) & (slabs.cap - 1)) {
		uint64_t v = slabs.v[i];
		if (!v)
			return -1;
		if ((v & ~(uint64_t)(ALLOC_SLAB_SIZE - 1)) == slab)
			return (int)(v & (ALLOC_SLAB_SIZE - 1)) - 1;
	}
}

static int slab_learn(uint64_t slab, int cls)
{
	if (slab_class(slab) >= 0)
		return 0;
	if (2 * (slabs.n + 1) > slabs.cap) {
		size_t cap = slabs.cap ? 2 * slabs.cap : 64;
		uint64_t *v = calloc(cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < slabs.cap; i++) {
			uint64_t x = slabs.v[i];
			size_t j;
			if (!x)
				continue;
			for (j = slab_slot(x & ~(uint64_t)(ALLOC_SLAB_SIZE - 1), cap); v[j]; j = (j + 1) & (cap - 1))
				;
			v[j] = x;
		}
		free(slabs.v);
		slabs.v = v;
		slabs.cap = cap;
	}
	for (size_t i = slab_slot(slab, slabs.cap);; i = (i + 1) & (slabs.cap - 1))
		if (!slabs.v[i]) {
			slabs.v[i] = slab | (uint64_t)(cls + 1);
			slabs.n++;
			return 0;
		}
}

/* Forget this rank's free-object caches and slab table. */
static void slabs_reset(void)
{
	for (int i = 0; i < ALLOC_NCLASSES; i++) {
		free(cache[i].v);
		cache[i] = (struct stack){ 0 };
	}
	free(slabs.v);
	slabs.v = NULL;
	slabs.cap = slabs.n = 0;
}

int alloc_init(void)
{
	slabs_reset();
	pending = NULL;
	next_req = 0;
	htab_init(&blks, 256, blk_hash);
	named = NULL;
	if (rt.rank == 0) {
		uint64_t lo = rc_first << DSM_PAGE_SHIFT, hi = rc_end << DSM_PAGE_SHIFT;
		heap_init(&heap, 0, rt.region_size);
		heap_init(&rc_heap, lo, hi);
		if (hi > lo && heap_carve(&heap, lo, hi))
			return -ENOMEM;
	}
	return 0;
}

void alloc_fini(void)
{
	htab_clear(&blks, blk_drop);
	named = NULL;
	if (rt.rank == 0) {
		heap_fini(&heap);
		heap_fini(&rc_heap);
	}
	slabs_reset();
}

/* ---- public API -------------------------------------------------------- */

/* Ask rank 0; *arg and *p0 get the answer. */
static int alloc_call(int op, uint64_t arg, const char *name, uint64_t *out_arg, uint64_t *out_p0)
{
	struct mbox_req req = { .kind = MBOX_ALLOC, .a = (uint64_t)op, .b = arg, .p = (void *)name };
	int rc = tp_call(&req);

	if (out_arg)
		*out_arg = req.a;
	if (out_p0)
		*out_p0 = req.b;
	return rc;
}

static int class_of(size_t size)
{
	int c = 0;

	while (((size_t)1 << (ALLOC_MIN_SHIFT + c)) < size)
		c++;
	return c;
}

static void *fail_null(int err)
{
	errno = err;
	return NULL;
}

/* Release-consistent memory: whole pages of the arena (rc.c), so no
 * sequentially consistent data shares them. */
static void *malloc_rc(const char *call, size_t size, void *caller)
{
	uint64_t off;
	int rc;

	if (!rt_live(call))
		return fail_null(EINVAL);
	if (size == 0)
		size = 1;
	if (size > (rc_end - rc_first) << DSM_PAGE_SHIFT)
		return fail_null(ENOMEM);
	rc = alloc_call(ALLOC_OP_RC_PAGES, size, NULL, &off, NULL);
	if (rc == 0)
		stats_note_alloc(off, size, NULL, 0, caller);
	return rc ? fail_null(-rc) : (char *)dsm_base() + off;
}

void *dsm_malloc_rc(size_t size)
{
	return malloc_rc("dsm_malloc_rc", size, __builtin_return_address(0));
}

static void *alloc_named(const char *call, const char *name, size_t size, int op);

void *dsm_alloc_named_rc(const char *name, size_t size)
{
	return alloc_named("dsm_alloc_named_rc", name, size, ALLOC_OP_RC_NAMED);
}

void *dsm_malloc(size_t size)
{
	char *base = dsm_base();
	uint64_t off;
	size_t osize;
	int rc, cls;

	if (!rt_live("dsm_malloc"))
		return fail_null(EINVAL);
	if (rc_default())
		return malloc_rc("dsm_malloc", size, __builtin_return_address(0));
	if (size == 0)
		size = 1;
	if (size > DSM_SMALL_MAX) {
		if (size > dsm_region_size())
			return fail_null(ENOMEM);
		rc = alloc_call(ALLOC_OP_PAGES, size, NULL, &off, NULL);
		if (rc == 0)
			stats_note_alloc(off, size, NULL, 0, __builtin_return_address(0));
		return rc ? fail_null(-rc) : base + off;
	}
	cls = class_of(size);
	osize = (size_t)1 << (ALLOC_MIN_SHIFT + cls);
	pthread_mutex_lock(&cache_lock);
	if (cache[cls].n) {
		off = cache[cls].v[--cache[cls].n];
		pthread_mutex_unlock(&cache_lock);
		return base + off;
	}
	pthread_mutex_unlock(&cache_lock);
	rc = alloc_call(ALLOC_OP_SLAB, (uint64_t)cls, NULL, &off, NULL);
	if (rc)
		return fail_null(-rc);
	stats_note_alloc(off, ALLOC_SLAB_SIZE, NULL, (uint32_t)osize, __builtin_return_address(0));
	pthread_mutex_lock(&cache_lock);
	rc = slab_learn(off, cls);
	/* Highest first, so the objects go out in address order. */
	for (size_t i = ALLOC_SLAB_SIZE / osize - 1; rc == 0 && i > 0; i--)
		rc = push(&cache[cls], off + i * osize);
	pthread_mutex_unlock(&cache_lock);
	if (rc)
		return fail_null(ENOMEM);
	return base + off;
}

int dsm_free(void *ptr)
{
	uintptr_t base = (uintptr_t)dsm_base(), a = (uintptr_t)ptr;
	uint64_t off, slab, cls;
	int c, rc;

	if (!ptr)
		return 0;
	if (!rt_live("dsm_free"))
		return -EINVAL;
	if (a < base || a - base >= dsm_region_size() || (a & 15))
		return -EINVAL;
	off = a - base;
	slab = off & ~(uint64_t)(ALLOC_SLAB_SIZE - 1);
	pthread_mutex_lock(&cache_lock);
	c = slab_class(slab);
	if (c >= 0) {
		rc = (off - slab) % ((uint64_t)1 << (ALLOC_MIN_SHIFT + c)) ? -EINVAL : push(&cache[c], off);
		pthread_mutex_unlock(&cache_lock);
		return rc;
	}
	pthread_mutex_unlock(&cache_lock);
	rc = alloc_call(ALLOC_OP_FREE, off, NULL, &slab, &cls);
	if (rc == 0 && cls == 0)
		stats_note_free(off);
	if (rc || cls == 0)
		return rc; /* a large block: rank 0 has freed it */
	pthread_mutex_lock(&cache_lock);
	rc = slab_learn(slab, (int)cls - 1);
	if (rc == 0)
		rc = push(&cache[cls - 1], off);
	pthread_mutex_unlock(&cache_lock);
	return rc;
}

void *dsm_alloc_named(const char *name, size_t size)
{
	return alloc_named("dsm_alloc_named", name, size, rt_live("dsm_alloc_named") && rc_default() ?
							      ALLOC_OP_RC_NAMED : ALLOC_OP_NAMED);
}

static void *alloc_named(const char *call, const char *name, size_t size, int op)
{
	char *base = dsm_base(), buf[DSM_NAME_MAX + 1];
	uint64_t off, state;
	size_t n;
	int rc;

	if (!rt_live(call))
		return fail_null(EINVAL);
	if (!name || size == 0)
		return fail_null(EINVAL);
	n = strnlen(name, DSM_NAME_MAX + 1);
	if (n == 0)
		return fail_null(EINVAL);
	if (n > DSM_NAME_MAX)
		return fail_null(ENAMETOOLONG);
	/* The name may sit in the region, which the service thread must not read. */
	memcpy(buf, name, n);
	buf[n] = '\0';
	rc = alloc_call(op, size, buf, &off, &state);
	if (rc == -EINVAL)
		log_err("%s(\"%s\", %zu): that name is already allocated with %" PRIu64 " bytes, or with "
			"the other consistency", call, buf, size, state);
	if (rc)
		return fail_null(-rc);
	stats_note_alloc(off, size, buf, 0, NULL);
	if (state == ALLOC_NAMED_CREATED) {
		memset(base + off, 0, size);
		alloc_call(ALLOC_OP_READY, off, NULL, NULL, NULL);
	}
	return base + off;
}

/* ---- checkpoint support: the heap's state as bytes ---------------------
 *
 * Two images, both little-endian with a magic in front, written into a
 * checkpoint by checkpoint.c (which checksums the files; the decoders here
 * check the structure, so a file that passes its checksum but was written by
 * something else is still refused):
 *   heap  (rank 0): "DSMHEAP2", the main heap, the release-consistent
 *                   arena's heap, n_blk, n_blk x (off, size, asked, u8 cls,
 *                   u8 ready, u16 name_len, name) (the blocks of both);
 *                   each heap is lo, hi, fresh, free_bytes, n_ext,
 *                   n_ext x (start, end).  "DSMHEAP1" (read, no longer
 *                   written) has the main heap only.
 *   cache (every rank): "DSMCACH1", n_slab, n_slab x (slab | class + 1),
 *                   ALLOC_NCLASSES x (n, n x offset)
 */

struct img {
	uint8_t *b;
	size_t n, cap;
	int err;
};

static void img_put(struct img *m, const void *p, size_t n)
{
	if (m->err)
		return;
	if (m->n + n > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		uint8_t *b;
		while (cap < m->n + n)
			cap *= 2;
		b = realloc(m->b, cap);
		if (!b) {
			m->err = -ENOMEM;
			return;
		}
		m->b = b;
		m->cap = cap;
	}
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void img_u64(struct img *m, uint64_t v)
{
	uint8_t b[8];

	put_le64(b, v);
	img_put(m, b, 8);
}

static int img_done(struct img *m, uint8_t **buf, size_t *len)
{
	if (m->err) {
		free(m->b);
		return m->err;
	}
	*buf = m->b;
	*len = m->n;
	return 0;
}

/* A bounds-checked reader over an image; `bad` says what went wrong first. */
struct rd {
	const uint8_t *p;
	size_t n, off;
	const char *bad;
};

static const uint8_t *rd_take(struct rd *r, size_t n, const char *what)
{
	const uint8_t *p;

	if (r->bad)
		return NULL;
	if (r->n - r->off < n) {
		r->bad = what;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

static uint64_t rd_u64(struct rd *r, const char *what)
{
	const uint8_t *p = rd_take(r, 8, what);

	return p ? get_le64(p) : 0;
}

/* One heap's bounds, marks and free extents, as the image holds them. */
static void img_heap(struct img *m, const struct heap *hp)
{
	img_u64(m, hp->lo);
	img_u64(m, hp->hi);
	img_u64(m, hp->fresh);
	img_u64(m, hp->free_bytes);
	img_u64(m, hp->n_ext);
	for (struct heap_ext *e = hp->head.next; e != &hp->head; e = e->next) {
		img_u64(m, e->start);
		img_u64(m, e->end);
	}
}

int alloc_heap_save(uint8_t **buf, size_t *len)
{
	struct img m = { 0 };

	if (rt.rank != 0)
		return -EINVAL;
	img_put(&m, "DSMHEAP2", 8);
	img_heap(&m, &heap);
	img_heap(&m, &rc_heap);
	img_u64(&m, blks.n);
	for (size_t i = 0; i < blks.nb; i++)
		for (struct hlink *l = blks.b[i]; l; l = l->next) {
			struct blk *b = htab_entry(l, struct blk, link);
			uint8_t small[4];
			size_t nl = b->name ? strlen(b->name) : 0;

			img_u64(&m, b->off);
			img_u64(&m, b->size);
			img_u64(&m, b->asked);
			small[0] = b->cls;
			small[1] = b->ready;
			put_le16(small + 2, (uint16_t)nl);
			img_put(&m, small, 4);
			img_put(&m, b->name ? b->name : "", nl);
		}
	return img_done(&m, buf, len);
}

struct span {
	uint64_t start, end;
	int free; /* 1: a free extent, 0: a block */
};

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

struct blk_img {
	uint64_t off, size, asked;
	uint8_t cls, ready;
	uint16_t name_len;
	const uint8_t *name;
};

/* One heap as an image gives it (ext: malloc'd). */
struct heap_img {
	uint64_t lo, hi, fresh, free_bytes, n_ext;
	struct span *ext;
};

/* Read a heap's bounds, marks and extents; the reason it is bad, or NULL
 * (r->bad says whether the image ended first).  The bounds must be
 * [lo, hi), this job's. */
static const char *rd_heap(struct rd *r, struct heap_img *h, uint64_t lo, uint64_t hi, const char *file)
{
	h->lo = rd_u64(r, "the bounds");
	h->hi = rd_u64(r, "the bounds");
	h->fresh = rd_u64(r, "the fresh mark");
	h->free_bytes = rd_u64(r, "the free count");
	h->n_ext = rd_u64(r, "the extent count");
	if (r->bad)
		return NULL;
	if (h->lo != lo || h->hi != hi) {
		log_err("%s: a heap spans %#" PRIx64 "..%#" PRIx64 ", this job's %#" PRIx64 "..%#" PRIx64
			" (the region is %zu bytes)", file, h->lo, h->hi, lo, hi, rt.region_size);
		return "its bounds are another job's";
	}
	if (h->fresh > hi || h->free_bytes > hi - lo || h->n_ext > (r->n - r->off) / 16)
		return "a count is out of range";
	if (!(h->ext = malloc((h->n_ext + 1) * sizeof(*h->ext))))
		return "out of memory";
	for (uint64_t i = 0; !r->bad && i < h->n_ext; i++) {
		struct span *e = &h->ext[i];
		e->start = rd_u64(r, "an extent");
		e->end = rd_u64(r, "an extent");
		e->free = 1;
		if (!r->bad && (e->start >= e->end || e->start < lo || e->end > hi || (i && e->start < e[-1].end)))
			return "its free extents are not sorted, disjoint ranges in the heap";
	}
	return NULL;
}

/* Check that a heap's free extents and its blocks (those in the
 * release-consistent arena for the arena's heap, the others for the main
 * heap, which has the arena carved out) tile [lo, hi) without overlap. */
static const char *heap_img_check(const struct heap_img *h, const struct blk_img *bi, size_t n_blk, int arena)
{
	struct span *all = malloc((h->n_ext + n_blk + 1) * sizeof(*all));
	uint64_t at = h->lo, sum_free = 0;
	const char *bad = NULL;
	size_t n = 0;

	if (!all)
		return "out of memory checking it";
	for (size_t i = 0; i < h->n_ext; i++)
		all[n++] = h->ext[i];
	for (size_t i = 0; i < n_blk; i++)
		if (rc_page(bi[i].off >> DSM_PAGE_SHIFT) == arena)
			all[n++] = (struct span){ bi[i].off, bi[i].off + bi[i].size, 0 };
	if (!arena && rc_end > rc_first) /* carved out (heap_carve) */
		all[n++] = (struct span){ rc_first << DSM_PAGE_SHIFT, rc_end << DSM_PAGE_SHIFT, 0 };
	qsort(all, n, sizeof(*all), span_cmp);
	for (size_t i = 0; i < n && !bad; i++) {
		if (all[i].start != at)
			bad = all[i].start < at ? "two ranges overlap" : "a range is neither free nor in use";
		at = all[i].end;
		if (all[i].free)
			sum_free += all[i].end - all[i].start;
	}
	if (!bad && at != h->hi)
		bad = "the ranges do not reach the end of the heap";
	if (!bad && sum_free != h->free_bytes)
		bad = "its count of free bytes is wrong";
	free(all);
	return bad;
}

/* Replace *hp (as alloc_init made it) by the image's heap. */
static int heap_from_img(struct heap *hp, const struct heap_img *h)
{
	int rc;

	heap_fini(hp);
	hp->lo = h->lo;
	hp->hi = h->hi;
	for (uint64_t i = 0; i < h->n_ext; i++)
		if ((rc = ext_insert_after(hp, hp->head.prev, h->ext[i].start, h->ext[i].end)))
			return rc;
	hp->free_bytes = h->free_bytes;
	hp->fresh = h->fresh;
	return 0;
}

/* Both formats: DSMHEAP1 (before checkpoints saved release-consistent
 * memory: the arena starts empty) and DSMHEAP2. */
int alloc_heap_load(const uint8_t *buf, size_t len, const char *file)
{
	struct rd r = { .p = buf, .n = len };
	const uint8_t *magic = rd_take(&r, 8, "the magic");
	uint64_t rlo = rc_first << DSM_PAGE_SHIFT, rhi = rc_end << DSM_PAGE_SHIFT, n_blk = 0;
	struct heap_img h = { 0 }, rh = { 0 };
	struct blk_img *bi = NULL;
	const char *bad = NULL;
	int rc = -EINVAL, v2;

	if (magic && memcmp(magic, "DSMHEAP1", 8) && memcmp(magic, "DSMHEAP2", 8)) {
		log_err("%s: not a dsm heap image (bad magic)", file);
		return -EINVAL;
	}
	v2 = magic && !memcmp(magic, "DSMHEAP2", 8);
	bad = rd_heap(&r, &h, 0, rt.region_size, file);
	if (v2 && !r.bad && !bad)
		bad = rd_heap(&r, &rh, rlo, rhi, file);
	if (!r.bad && !bad)
		n_blk = rd_u64(&r, "the block count");
	if (!r.bad && !bad && n_blk > (len - r.off) / 28)
		bad = "the block count is out of range";
	if (!r.bad && !bad && !(bi = calloc(n_blk + 1, sizeof(*bi))))
		bad = "out of memory";
	for (uint64_t i = 0; !r.bad && !bad && i < n_blk; i++) {
		struct blk_img *b = &bi[i];
		const uint8_t *small;

		b->off = rd_u64(&r, "a block");
		b->size = rd_u64(&r, "a block");
		b->asked = rd_u64(&r, "a block");
		small = rd_take(&r, 4, "a block");
		if (!small)
			break;
		b->cls = small[0];
		b->ready = small[1];
		b->name_len = get_le16(small + 2);
		b->name = rd_take(&r, b->name_len, "a block's name");
		if (r.bad)
			break;
		if (b->size == 0 || b->off >= h.hi || b->size > h.hi - b->off)
			bad = "a block lies outside the region";
		else if (b->cls > ALLOC_NCLASSES)
			bad = "a block has an unknown size class";
		else if (b->cls == 0 && ((b->off | b->size) & (DSM_PAGE_SIZE - 1)))
			bad = "a block of whole pages is not page-aligned";
		else if (b->cls > 0 && (b->size != ALLOC_SLAB_SIZE || (b->off & (ALLOC_SLAB_SIZE - 1))))
			bad = "a slab has the wrong size or alignment";
		else if (b->cls > 0 && rc_page(b->off >> DSM_PAGE_SHIFT))
			bad = "a slab lies in the release-consistent arena";
		else if (!v2 && rc_page(b->off >> DSM_PAGE_SHIFT))
			bad = "a block lies in the release-consistent arena";
		else if (b->name_len > DSM_NAME_MAX || (b->name_len && (b->cls || memchr(b->name, 0, b->name_len))))
			bad = "a block has a malformed name";
		else if (b->name_len && (b->asked == 0 || b->asked > b->size || b->size - b->asked >= DSM_PAGE_SIZE))
			bad = "a named block's size does not match the size asked for";
		for (uint64_t j = 0; !bad && b->name_len && j < i; j++)
			if (bi[j].name_len == b->name_len && !memcmp(bi[j].name, b->name, b->name_len))
				bad = "two blocks have one name";
	}
	if (!r.bad && !bad && r.off != len)
		bad = "bytes follow the last block";
	if (!r.bad && !bad)
		bad = heap_img_check(&h, bi, n_blk, 0);
	if (!r.bad && !bad && v2)
		bad = heap_img_check(&rh, bi, n_blk, 1);
	if (r.bad || bad) {
		log_err("%s: the heap image is %s%s", file, r.bad ? "truncated in " : "inconsistent: ",
			r.bad ? r.bad : bad);
		goto out;
	}

	/* Valid: replace the empty heaps alloc_init() made. */
	htab_clear(&blks, blk_drop);
	htab_init(&blks, 256, blk_hash);
	named = NULL;
	if ((rc = heap_from_img(&heap, &h)) || (v2 && (rc = heap_from_img(&rc_heap, &rh))))
		goto out;
	for (uint64_t i = 0; i < n_blk; i++) {
		struct blk *b = blk_add(bi[i].off, bi[i].size, bi[i].cls);
		b->asked = bi[i].asked;
		/* A named block whose creator had not finished zeroing it when
		 * the checkpoint was taken (the program broke the rule that no
		 * thread allocates during one) is taken as it was saved: its
		 * creator is gone and nobody else would ever mark it ready. */
		b->ready = 1;
		if (bi[i].name_len) {
			b->name = malloc(bi[i].name_len + 1u);
			if (!b->name) {
				rc = -ENOMEM;
				goto out;
			}
			memcpy(b->name, bi[i].name, bi[i].name_len);
			b->name[bi[i].name_len] = '\0';
			b->creator = 0;
			b->nnext = named;
			named = b;
		}
	}
	rc = 0;
out:
	free(h.ext);
	free(rh.ext);
	free(bi);
	return rc;
}

int alloc_cache_save(uint8_t **buf, size_t *len)
{
	struct img m = { 0 };

	pthread_mutex_lock(&cache_lock);
	img_put(&m, "DSMCACH1", 8);
	img_u64(&m, slabs.n);
	for (size_t i = 0; i < slabs.cap; i++)
		if (slabs.v[i])
			img_u64(&m, slabs.v[i]);
	for (int c = 0; c < ALLOC_NCLASSES; c++) {
		img_u64(&m, cache[c].n);
		for (size_t i = 0; i < cache[c].n; i++)
			img_u64(&m, cache[c].v[i]);
	}
	pthread_mutex_unlock(&cache_lock);
	return img_done(&m, buf, len);
}

int alloc_cache_load(const uint8_t *buf, size_t len, const char *file)
{
	struct rd r = { .p = buf, .n = len };
	const uint8_t *magic = rd_take(&r, 8, "the magic");
	uint64_t n = rd_u64(&r, "the slab count");
	const char *bad = NULL;
	int rc = 0;

	if (magic && memcmp(magic, "DSMCACH1", 8)) {
		log_err("%s: not a dsm allocator cache image (bad magic)", file);
		return -EINVAL;
	}
	pthread_mutex_lock(&cache_lock);
	slabs_reset();
	if (!r.bad && n > (len - r.off) / 8)
		bad = "the slab count is out of range";
	for (uint64_t i = 0; !r.bad && !bad && rc == 0 && i < n; i++) {
		uint64_t v = rd_u64(&r, "the slab table");
		uint64_t slab = v & ~(uint64_t)(ALLOC_SLAB_SIZE - 1), cls = v & (ALLOC_SLAB_SIZE - 1);

		if (r.bad)
			break;
		if (cls < 1 || cls > ALLOC_NCLASSES || slab >= rt.region_size ||
		    rt.region_size - slab < ALLOC_SLAB_SIZE || slab_class(slab) >= 0)
			bad = "a slab is out of range, of an unknown class, or listed twice";
		else
			rc = slab_learn(slab, (int)cls - 1);
	}
	for (int c = 0; c < ALLOC_NCLASSES && !r.bad && !bad && rc == 0; c++) {
		uint64_t k = rd_u64(&r, "a free list");

		if (!r.bad && k > (len - r.off) / 8)
			bad = "a free list's length is out of range";
		for (uint64_t i = 0; !r.bad && !bad && rc == 0 && i < k; i++) {
			uint64_t off = rd_u64(&r, "a free list");
			uint64_t slab = off & ~(uint64_t)(ALLOC_SLAB_SIZE - 1);

			if (r.bad)
				break;
			if (off >= rt.region_size || slab_class(slab) != c ||
			    (off - slab) % ((uint64_t)1 << (ALLOC_MIN_SHIFT + c)))
				bad = "a free object lies outside the slabs of its class";
			else
				rc = push(&cache[c], off);
		}
	}
	if (!r.bad && !bad && rc == 0 && r.off != len)
		bad = "bytes follow the last free list";
	if (r.bad || bad || rc) {
		slabs_reset();
		pthread_mutex_unlock(&cache_lock);
		if (rc)
			return rc;
		log_err("%s: the allocator cache image is %s%s", file, r.bad ? "truncated in " : "inconsistent: ",
			r.bad ? r.bad : bad);
		return -EINVAL;
	}
	pthread_mutex_unlock(&cache_lock);
	return 0;
}
