/*
 * rc.h - release consistency with multiple writers (rc.c), beside the
 * sequentially consistent protocol (coherence.c), and the small interface
 * through which the fault path picks one of the two for a page.
 */
#ifndef DSM_RC_H
#define DSM_RC_H

#include <stddef.h>
#include <stdint.h>

struct mbox_req;
struct wire_hdr;

/*
 * One protocol's entry points for the fault path, chosen per page by
 * coh_ops_for() (as the fault backends are a struct of operations chosen per
 * job).  fault: the application touched `page` (write: to write it); the
 * waiter, when not NULL, is completed once the access is allowed.
 * holds_readable: the racy hint of the SIGSEGV backend.
 */
struct coh_ops {
	const char *name;
	void (*fault)(uint64_t page, int write, struct mbox_req *waiter);
	int (*holds_readable)(uint64_t page);
};

extern const struct coh_ops coh_sc_ops, coh_rc_ops;

/* The release-consistent pages: the arena, pages [rc_first, rc_end) of the
 * region, the same on every rank (derived from the region's size), and the
 * pages of the DSM_SHARED_RC variables, [rc_gfirst, rc_gend) (numbered after
 * the region's, globals.c).  Set by rc_init(); read by signal handlers, so
 * plain globals. */
extern uint64_t rc_first, rc_end, rc_gfirst, rc_gend;

static inline int rc_page(uint64_t page)
{
	return (page >= rc_first && page < rc_end) || (page >= rc_gfirst && page < rc_gend);
}

static inline const struct coh_ops *coh_ops_for(uint64_t page)
{
	return rc_page(page) ? &coh_rc_ops : &coh_sc_ops;
}

/* This rank's view of each release-consistent page (the arena's, index
 * page - rc_first, then the globals', index (rc_end - rc_first) + page -
 * rc_gfirst), in
 * coh_page_states()'s code: 0 invalid, 1 read-only, 2 writable; NULL when
 * there is no arena.  The service thread writes it; stats.c's snapshots read
 * it without a lock. */
const uint8_t *rc_page_states(void);

/* dsm_init, after the configuration was read: DSM_CONSISTENCY, the arena.
 * 0 or -EINVAL after a message. */
int rc_init(void);
void rc_fini(void);
/* DSM_CONSISTENCY=release: dsm_malloc and dsm_alloc_named give RC memory. */
int rc_default(void);

/* Service thread: a message of type WIRE_RC_FIRST..WIRE_RC_LAST, and a
 * mailbox request of kind MBOX_RC_FIRST..MBOX_RC_LAST. */
void rc_handle(const struct wire_hdr *h, const uint8_t *payload);
void rc_request(struct mbox_req *req);

/*
 * Write notices that travel with synchronisation (service thread only).
 * rc_notices_out: the payload a message of `type` to rank `to` carries: the
 *   intervals this rank knows and `to` may not (NULL, *len = 0: none, or a
 *   type that carries none).  The buffer lives until the next call.
 * rc_notices_in: take in the notices a message carries (any type; those
 *   that carry none are ignored).
 */
const void *rc_notices_out(int to, int type, uint32_t *len);
/* Send message `type` (arg) to `to` with its notices once this rank's dirty
 * pages are flushed (at once when none are): a cached lock that leaves. */
void rc_send_flushed(int to, int type, uint64_t arg);
/* Send `to` the notices it may lack, as RC_NOTICES (nothing when none): put
 * ahead of an RPC call or reply, whose payload is the application's. */
void rc_send_notices(int to);
void rc_notices_in(const struct wire_hdr *h, const uint8_t *payload);
/* rc_barrier_entered: this rank entered an application barrier (sync.c);
 * rc_barrier_left: it left a barrier (that one or dsm_init's): the homes
 * of pages one rank wrote move to it, old intervals are dropped. */
void rc_barrier_entered(void);
void rc_barrier_left(void);

/* Application threads, at the release and acquire points of dsm_unlock,
 * dsm_lock, dsm_sem_post, dsm_sem_wait, dsm_barrier (and the public fences
 * dsm_release/dsm_acquire).  Nothing to do costs two atomic loads. */
int rc_release(void);
/* Service thread: the release of a request (a barrier's) that goes on with
 * then(req) once this rank's writes are at their homes; 0 when there is
 * nothing to flush (the caller goes on at once), 1 when then() runs later
 * (or ran already). */
int rc_release_then(struct mbox_req *req, void (*then)(struct mbox_req *));
int rc_acquire(void);

/*
 * Checkpoint support (checkpoint.c), like coh_ckpt_list/coh_ckpt_install.
 * rc_ckpt_list: service thread.  The release-consistent pages homed here
 *   that have a master copy (every other one is all zeros), unsorted, in a
 *   malloc'd array.
 * rc_ckpt_install: before the service thread starts.  `page`'s master copy
 *   (this rank is its home, or was when the checkpoint was taken) begins as
 *   `data`; every rank's first touch fetches it.  -EINVAL for a page that is
 *   not release-consistent or homed elsewhere, -EEXIST for one installed
 *   already.
 */
int rc_ckpt_list(uint64_t **pages, size_t *n);
int rc_ckpt_install(uint64_t page, const void *data);
/* After the last rc_ckpt_install: this rank's claims on homes that had
 * moved (pages of other static homes) go out with dsm_init's barrier. */
void rc_ckpt_restored(void);

#endif
