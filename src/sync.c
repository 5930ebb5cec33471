/*
 * sync.c - locks and semaphores (placeholder until the synchronization work
 * lands: every request fails with -ENOSYS and every message is refused).
 */
#include "sync.h"

#include <errno.h>

#include "mailbox.h"
#include "runtime.h"
#include "wire.h"

int sync_init(void) { return 0; }
void sync_fini(void) { }

void sync_request(struct mbox_req *req)
{
	mbox_complete(req, -ENOSYS);
}

void sync_handle(const struct wire_hdr *h, const uint8_t *payload)
{
	(void)payload;
	rt_fatal("rank %u sent an unexpected %s message", h->src, wire_type_name(h->type));
}
