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

/* Service thread only: */
/* Send a message (src is filled in).  A message to this rank is queued and
 * handled after the current one.  Never blocks: what the socket does not
 * take now waits in the peer's output buffer. */
void tp_send(int to, struct wire_hdr *h, const void *payload);
/* Leave the service loop once the current events are handled. */
void tp_stop(void);
/* A thread the service thread created (it inherits the service thread's
 * raised priority, DSM_SERVICE_PRIORITY) goes back to the application's. */
void tp_normal_priority(void);

#endif
