/*
 * checkpoint.h - checkpoints of the shared region and the heap, and
 * restarting a job from one (checkpoint.c).  The public side is
 * dsm_checkpoint() and dsm_checkpoint_restored() in dsm.h.
 */
#ifndef DSM_CHECKPOINT_H
#define DSM_CHECKPOINT_H

struct mbox_req;

/* dsm_init, after the mesh is up and before the service thread starts: with
 * DSM_RESTART set, check the checkpoint against this job and install this
 * rank's part of it.  0 (also when DSM_RESTART is unset), or a negative
 * errno after logging what was wrong and in which file. */
int ckpt_restore(void);

/* Service thread: a MBOX_CKPT_* request (routed by runtime.c). */
void ckpt_request(struct mbox_req *req);

#endif
