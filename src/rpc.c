/*
 * sync.c - remote procedure calls (placeholder until the RPC work
 * lands: every request fails with -ENOSYS and every message is refused).
 */
#include "rpc.h"

#include <errno.h>

#include "mailbox.h"
#include "runtime.h"
#include "wire.h"

int rpc_init(void) { return 0; }
void rpc_fini(void) { }

void rpc_request(struct mbox_req *req)
{
	mbox_complete(req, -ENOSYS);
}

void rpc_handle(const struct wire_hdr *h, const uint8_t *payload)
{
	(void)payload;
	rt_fatal("rank %u sent an unexpected %s message", h->src, wire_type_name(h->type));
}
