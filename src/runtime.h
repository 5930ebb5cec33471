/*
 * runtime.h - the state of this rank's membership in a job, shared by the
 * library's modules.  Written once by dsm_init() before the service thread
 * starts, read-only afterwards (no lock needed).
 */
#ifndef DSM_RUNTIME_H
#define DSM_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "net.h"

#define DSM_PAGE_SIZE 4096u
#define DSM_PAGE_SHIFT 12
/* rt.timeout_ns for DSM_TIMEOUT=inf: far enough never to come, small enough
 * that now_ns() + it cannot overflow. */
#define DSM_TIMEOUT_NEVER (1LL << 60)

struct dsm_rt {
	int rank, size;
	uintptr_t base;          /* the region, page aligned */
	size_t region_size;
	uint64_t npages;         /* the region's pages, then the DSM_SHARED globals' */
	uint64_t region_pages;   /* the region's pages: page numbers below are in it */
	uint64_t pages_per_home; /* block distribution; 0 for cyclic */
	int first_touch;         /* DSM_HOME=first-touch: page_home() is the page's
	                          * directory, which makes its first toucher its
	                          * home (coherence.c) */
	int64_t timeout_ns;      /* every wait's deadline (DSM_TIMEOUT) */
	int64_t spin_ns;         /* poll this long before sleeping (DSM_SPIN_US) */
	uint32_t readahead;      /* most pages a read fault requests ahead (DSM_READAHEAD) */
	const struct fault_backend *be;
	struct job_auth auth;
};

extern struct dsm_rt rt;

/* Pages of DSM_SHARED globals (globals.c): where page `page` is, and which
 * page holds address `a` (GLOBALS_NO_PAGE: none).  Signal-safe. */
#define GLOBALS_NO_PAGE UINT64_MAX
void *globals_page_addr(uint64_t page);
uint64_t globals_addr_page(uintptr_t a);

static inline int page_home(uint64_t page)
{
	if (__builtin_expect(page >= rt.region_pages, 0))
		return 0; /* DSM_SHARED globals: rank 0's initial values live there */
	return rt.pages_per_home ? (int)(page / rt.pages_per_home) : (int)(page % (uint64_t)rt.size);
}

/* Is the page of bytes at p all zeros?  (Any alignment.) */
static inline int page_all_zero(const void *p)
{
	const uint8_t *b = p;
	uint64_t any = 0;

	for (size_t i = 0; i < DSM_PAGE_SIZE; i += 8) {
		uint64_t w;
		__builtin_memcpy(&w, b + i, 8);
		any |= w;
	}
	return any == 0;
}

static inline void *page_addr(uint64_t page)
{
	if (__builtin_expect(page >= rt.region_pages, 0))
		return globals_page_addr(page);
	return (void *)(rt.base + (page << DSM_PAGE_SHIFT));
}

/* The page of the region or of the globals that holds `a`, or
 * GLOBALS_NO_PAGE.  Signal-safe. */
static inline uint64_t addr_page(uintptr_t a)
{
	if (__builtin_expect(a - rt.base < rt.region_size, 1))
		return (a - rt.base) >> DSM_PAGE_SHIFT;
	return globals_addr_page(a);
}

/* Print "[dsm R] fatal: ..." and end the process: the launcher ends the rest
 * of the job.  Safe from the service thread. */
void rt_fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* A peer's connection broke: it died, or the network failed.  Like
 * rt_fatal(), but waits a moment first, so that a launcher watching the job
 * sees and reports the failure that caused this one before this rank's own
 * exit reaches it. */
void rt_peer_lost(int peer, const char *why) __attribute__((noreturn));

/* 1 when the library is initialized; else 0, after one line on stderr that
 * names `call` (a public function) and why it cannot run now ("dsm_malloc
 * called before dsm_init").  The guard of every public call that needs the
 * job. */
int rt_live(const char *call);
/* The public function behind a mailbox request kind (MBOX_LOCK: "dsm_lock"). */
const char *rt_call_name(int kind);

/* Service-thread hooks for collective messages (runtime.c). */
struct wire_hdr;
void rt_handle(const struct wire_hdr *h, const uint8_t *payload);
struct mbox_req;
void rt_request(struct mbox_req *req);
void rt_peer_closed(int peer);

#endif
