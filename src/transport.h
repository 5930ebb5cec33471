/*
 * transport.h - messages between the ranks of a job, and the service thread
 * that carries them.
 */
#ifndef DSM_TRANSPORT_H
#define DSM_TRANSPORT_H

#include <stdint.h>

#include "rendezvous.h"
#include "wire.h"

/* Start-up, before tp_start(): connect to every peer in `table` (a full mesh,
 * each connection authenticated), using the listening socket lfd for the
 * peers that connect to us.  Blocking, with a deadline. */
int tp_mesh(const struct rdv_entry *table, int lfd, int64_t deadline);

/* Start the service thread (it polls the peers, the mailbox and the fault
 * backend), and later wait for it to finish and close everything. */
int tp_start(void);
void tp_join(void);

/* An application thread's request (mailbox.h), made by the thread itself
 * where it can: it serves its rank while it waits (the requesting thread
 * drives, see transport_tcp.c), else through the service thread as
 * mbox_call().  Not signal-safe: fault handlers use mbox_call().  tp_wait()
 * is mbox_wait() for a request parked where another thread completes it,
 * the same way. */
struct mbox_req;
int tp_call(struct mbox_req *req);
int tp_wait(struct mbox_req *req);

/* Service thread only (or a thread driving in its place, tp_call): */
/* Send a message (src is filled in).  A message to this rank is queued and
 * handled after the current one.  Never blocks: what the socket does not
 * take now waits in the peer's output buffer. */
void tp_send(int to, struct wire_hdr *h, const void *payload);
/* Leave the service loop once the current events are handled. */
void tp_stop(void);
/* A thread the service thread created (it inherits the service thread's
 * raised priority, DSM_SERVICE_PRIORITY) goes back to the application's. */
void tp_normal_priority(void);

/* A protocol's handler of the messages it owns, run by the service thread. */
typedef void (*tp_handler)(const struct wire_hdr *h, const uint8_t *payload);

/* Before tp_start() (each protocol's init): deliver the message types first
 * to last to fn.  -EINVAL for a range outside the wire's types, -EEXIST if a
 * type in it already goes to another handler (registering the same handler
 * again is allowed: an init retried after a failed dsm_init).  A type nobody
 * registered goes to rt_handle(), the runtime's own messages. */
int tp_register(uint16_t first, uint16_t last, tp_handler fn);

#endif
