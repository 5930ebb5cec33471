/*
 * coherence.h - the page coherence engine: sequential consistency through a
 * home-based directory with a single writer or many readers per page.
 * Everything here runs on the service thread (see coherence.c).
 */
#ifndef DSM_COHERENCE_H
#define DSM_COHERENCE_H

#include <stdint.h>

struct mbox_req;
struct wire_hdr;

/* The most pages one first touch at home makes this rank's own at once
 * (coherence.c, fault_around()). */
#define COH_ZERO_RUN 64

int coh_init(void);
void coh_fini(void);

/* The application touched `page` (write: wants to write).  `waiter`, when
 * not NULL, is completed once the access is allowed. */
void coh_fault(uint64_t page, int write, struct mbox_req *waiter);
/* The service thread has let this rank out of a barrier (regain's phases). */
void coh_barrier_left(void);

/* SIGSEGV handler, back from the wait for its fault (signal-safe): its
 * request's `b` as the engine left it.  Ends the page's hold (coherence.c). */
void coh_fault_returned(uint64_t token);

/* Service thread: thread `tid` called into the library (`page`
 * UINT64_MAX), or faulted on `page`: it has made the accesses it faulted
 * for before, so its holds on other pages end (coherence.c, holds). */
void coh_thread_moved(int32_t tid, uint64_t page);

/* MBOX_ADVISE (dsm_advise): pages [a, a + b) will be overwritten;
 * MBOX_ADVISE_READ: they will be read. */
void coh_advise(struct mbox_req *req);

/* A coherence message from a peer (or from this rank to itself). */
void coh_handle(const struct wire_hdr *h, const uint8_t *payload);
/* Around the handling of several messages in a row (a batch of the service
 * loop's events, the rank's messages to itself): what they make this rank
 * send goes out bundled per peer, and the copies they drop or open for
 * writing go to the kernel in runs, when the last one is handled. */
void coh_batch_begin(void);
void coh_batch_end(void);

/* Does this rank wait for answers (worth polling for)?  Deadlines, and
 * requests held back for a thread (a short wait, not worth a CPU), are
 * checked with coh_check_deadlines() no later than coh_deadline(now)
 * (INT64_MAX: nothing to check). */
int coh_busy(void);
/* Does a thread of this rank wait for a page (not only requests made ahead)? */
int coh_thread_waits(void);
int64_t coh_deadline(int64_t now);
void coh_check_deadlines(int64_t now);

/* Racy hint for the SIGSEGV backend on CPUs without a write bit. */
int coh_holds_readable(uint64_t page);

/* This rank's view of every page: 0 invalid, 1 read-only, 2 writable.  The
 * service thread writes it; stats.c's snapshots read it without a lock. */
const uint8_t *coh_page_states(void);

/*
 * Checkpoint support (checkpoint.c).
 * coh_ckpt_list: service thread.  The pages whose home is this rank and
 *   which were ever written (their directory entry is not virgin), sorted, in
 *   a malloc'd array; every other page of this home is all zeros.
 * coh_ckpt_install: before the service thread starts.  `page`, whose home is
 *   this rank and which nobody holds yet, begins as `data`: owned by its
 *   home, writable there.  -EINVAL for a page homed elsewhere, -EEXIST for
 *   one installed already.
 */
#include <stddef.h>
int coh_ckpt_list(uint64_t **pages, size_t *n);
int coh_ckpt_install(uint64_t page, const void *data);

#endif
