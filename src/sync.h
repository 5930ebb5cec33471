/*
 * sync.h - locks, counting semaphores and condition variables keyed by any
 * 64-bit id, each managed
 * at a home rank chosen by hashing the id (sync.c).
 */
#ifndef DSM_SYNC_H
#define DSM_SYNC_H

#include <stdint.h>

struct mbox_req;
struct wire_hdr;

int sync_init(void);
void sync_fini(void);
/* Service thread: an application request (kind MBOX_SYNC_FIRST..LAST). */
void sync_request(struct mbox_req *req);
/* dsm_allgather's request (req->p of an MBOX_BARRIER; NULL for a plain
 * barrier): this rank's len bytes, and where every rank's go (a private
 * buffer of the caller: the service thread writes it). */
struct sync_gather {
	const void *mine;
	void *all;
	uint32_t len;
};
/* Service thread: an application barrier (dsm_barrier after dsm_init's, or
 * dsm_allgather): req is completed once every rank that is not a server
 * entered it. */
void sync_barrier(struct mbox_req *req);
/* Called as this rank leaves any barrier (sync.c, runtime.c). */
void sync_barrier_left(void);
/* Service thread: a message of type WIRE_SYNC_FIRST..LAST. */
void sync_handle(const struct wire_hdr *h, const uint8_t *payload);

/* The home rank of a lock or a semaphore (after dsm_init). */
int sync_lock_home(uint64_t id);
int sync_sem_home(uint64_t key);
int sync_cond_home(uint64_t cond);

#endif
