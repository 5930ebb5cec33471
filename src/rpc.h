/*
 * rpc.h - remote procedure calls: a function registered under an id runs on
 * a worker thread of the rank it is called on (rpc.c).
 */
#ifndef DSM_RPC_H
#define DSM_RPC_H

#include <stdint.h>

struct mbox_req;
struct wire_hdr;

int rpc_init(void);
void rpc_fini(void);
/* Service thread: an application request (kind MBOX_RPC_FIRST..LAST). */
void rpc_request(struct mbox_req *req);
/* Service thread: a message of type WIRE_RPC_FIRST..LAST. */
void rpc_handle(const struct wire_hdr *h, const uint8_t *payload);

#endif
