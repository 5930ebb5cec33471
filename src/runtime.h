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

struct dsm_rt {
	int rank, size;
	uintptr_t base;          /* the region, page aligned */
	size_t region_size;
	uint64_t npages;
	uint64_t pages_per_home; /* block distribution; 0 for cyclic */
	int64_t timeout_ns;      /* every wait's deadline (DSM_TIMEOUT) */
	const struct fault_backend *be;
	struct job_auth auth;
};

extern struct dsm_rt rt;

static inline int page_home(uint64_t page)
{
	return rt.pages_per_home ? (int)(page / rt.pages_per_home) : (int)(page % (uint64_t)rt.size);
}

static inline void *page_addr(uint64_t page)
{
	return (void *)(rt.base + (page << DSM_PAGE_SHIFT));
}

/* Print "[dsm R] fatal: ..." and end the process: the launcher ends the rest
 * of the job.  Safe from the service thread. */
void rt_fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* A peer's connection broke: it died, or the network failed.  Like
 * rt_fatal(), but waits a moment first, so that a launcher watching the job
 * sees and reports the failure that caused this one before this rank's own
 * exit reaches it. */
void rt_peer_lost(int peer, const char *why) __attribute__((noreturn));

/* Service-thread hooks for collective messages (runtime.c). */
struct wire_hdr;
void rt_handle(const struct wire_hdr *h, const uint8_t *payload);
struct mbox_req;
void rt_request(struct mbox_req *req);
void rt_peer_closed(int peer);

#endif
