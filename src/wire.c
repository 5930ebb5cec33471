/*
 * wire.c - header codec and the per-type table of allowed payload lengths.
 */
#include "wire.h"

#include <errno.h>
#include <stddef.h>

#define PAGE_MAX 4096u

static const struct wire_rule {
	const char *name;
	uint32_t min_len, max_len;
} rules[256] = {
	[WIRE_HELLO] = { "HELLO", 40, 40 },
	[WIRE_CHALLENGE] = { "CHALLENGE", 64, 64 },
	[WIRE_AUTH] = { "AUTH", 32, 32 },
	[WIRE_REFUSE] = { "REFUSE", 0, 256 },
	[WIRE_RDV_REGISTER] = { "RDV_REGISTER", 4, 4 + 255 },
	[WIRE_RDV_TABLE] = { "RDV_TABLE", 0, WIRE_MAX_PAYLOAD },
	[WIRE_READ_REQ] = { "READ_REQ", 0, 0 },
	[WIRE_WRITE_REQ] = { "WRITE_REQ", 0, 0 },
	[WIRE_FWD_READ] = { "FWD_READ", 0, 0 },
	[WIRE_FWD_WRITE] = { "FWD_WRITE", 0, 0 },
	[WIRE_INV] = { "INV", 0, 0 },
	[WIRE_INV_ACK] = { "INV_ACK", 0, 0 },
	[WIRE_PAGE] = { "PAGE", 0, PAGE_MAX },
	[WIRE_DONE] = { "DONE", 0, 0 },
	[WIRE_BARRIER_ENTER] = { "BARRIER_ENTER", 0, WIRE_MAX_PAYLOAD }, /* write notices (rc.c) */
	[WIRE_BARRIER_RELEASE] = { "BARRIER_RELEASE", 0, WIRE_MAX_PAYLOAD }, /* write notices (rc.c) */
	[WIRE_BYE] = { "BYE", 0, 0 },
	[WIRE_ABORT] = { "ABORT", 0, 512 },
	[WIRE_ACK] = { "ACK", 0, 0 },
	[WIRE_RESUME] = { "RESUME", 0, 0 },
	[WIRE_LOCK_REQ] = { "LOCK_REQ", 0, 0 },
	[WIRE_LOCK_GRANT] = { "LOCK_GRANT", 0, WIRE_MAX_PAYLOAD }, /* write notices (rc.c) */
	[WIRE_UNLOCK] = { "UNLOCK", 0, WIRE_MAX_PAYLOAD }, /* write notices (rc.c) */
	[WIRE_SEM_WAIT] = { "SEM_WAIT", 0, 0 },
	[WIRE_SEM_GRANT] = { "SEM_GRANT", 0, WIRE_MAX_PAYLOAD }, /* write notices (rc.c) */
	[WIRE_SEM_POST] = { "SEM_POST", 0, WIRE_MAX_PAYLOAD }, /* write notices (rc.c) */
	[WIRE_ALLOC_REQ] = { "ALLOC_REQ", 0, 255 },
	[WIRE_ALLOC_REPLY] = { "ALLOC_REPLY", 16, 16 },
	[WIRE_BARRIER_ROUND] = { "BARRIER_ROUND", 0, WIRE_MAX_PAYLOAD }, /* write notices (rc.c) */
	[WIRE_BARRIER_DATA] = { "BARRIER_DATA", 1, WIRE_MAX_PAYLOAD }, /* dsm_allgather (sync.c) */
	[WIRE_RPC_CALL] = { "RPC_CALL", 0, WIRE_MAX_PAYLOAD },
	[WIRE_RPC_REPLY] = { "RPC_REPLY", 0, WIRE_MAX_PAYLOAD },
	[WIRE_LAYOUT] = { "LAYOUT", 1, 65536 },
	[WIRE_CTL_READY] = { "CTL_READY", 0, WIRE_MAX_PAYLOAD },
	[WIRE_CTL_FAIL] = { "CTL_FAIL", 0, WIRE_MAX_PAYLOAD },
	[WIRE_CTL_GO] = { "CTL_GO", 0, WIRE_MAX_PAYLOAD },
	[WIRE_CTL_SIGNAL] = { "CTL_SIGNAL", 0, WIRE_MAX_PAYLOAD },
	[WIRE_CTL_EXITED] = { "CTL_EXITED", 0, WIRE_MAX_PAYLOAD },
	[WIRE_CTL_SETUP] = { "CTL_SETUP", 0, WIRE_MAX_PAYLOAD },
	[WIRE_LOCK_RECALL] = { "LOCK_RECALL", 0, 0 },
	[WIRE_LOCK_BUSY] = { "LOCK_BUSY", 0, 0 },
	[WIRE_COND_WAIT] = { "COND_WAIT", 0, 0 },
	[WIRE_COND_QUEUED] = { "COND_QUEUED", 0, 0 },
	[WIRE_COND_SIGNAL] = { "COND_SIGNAL", 0, 0 },
	[WIRE_COND_WAKE] = { "COND_WAKE", 0, 0 },
	[WIRE_HEARTBEAT] = { "HEARTBEAT", 0, 0 },
	[WIRE_RC_FETCH] = { "RC_FETCH", 0, (WIRE_RC_FETCH_PAGES - 1) * 8 },
	[WIRE_RC_PAGE] = { "RC_PAGE", 0, PAGE_MAX },
	[WIRE_RC_DIFF] = { "RC_DIFF", 10, WIRE_MAX_PAYLOAD },
	[WIRE_RC_DIFF_ACK] = { "RC_DIFF_ACK", 0, 0 },
	[WIRE_RC_NOTICES] = { "RC_NOTICES", 4, WIRE_MAX_PAYLOAD },
	[WIRE_COH_BUNDLE] = { "COH_BUNDLE", 2 * WIRE_HDR_SIZE, WIRE_MAX_PAYLOAD },
};

_Static_assert(WIRE_HDR_SIZE == 40, "wire header is 40 bytes");

void wire_encode_hdr(uint8_t out[WIRE_HDR_SIZE], const struct wire_hdr *h)
{
	put_le32(out + 0, WIRE_MAGIC);
	out[4] = WIRE_VERSION;
	out[5] = h->type;
	put_le16(out + 6, h->flags);
	put_le32(out + 8, h->len);
	put_le32(out + 12, h->src);
	put_le32(out + 16, h->aux);
	put_le32(out + 20, h->seq);
	put_le64(out + 24, h->id);
	put_le64(out + 32, h->arg);
}

int wire_decode_hdr(const uint8_t *buf, size_t len, struct wire_hdr *h)
{
	const struct wire_rule *r;
	uint32_t plain;

	if (len < WIRE_HDR_SIZE)
		return -EAGAIN;
	h->magic = get_le32(buf + 0);
	if (h->magic != WIRE_MAGIC)
		return -EPROTO;
	h->version = buf[4];
	if (h->version != WIRE_VERSION)
		return -EPROTONOSUPPORT;
	h->type = buf[5];
	h->flags = get_le16(buf + 6);
	h->len = get_le32(buf + 8);
	h->src = get_le32(buf + 12);
	h->aux = get_le32(buf + 16);
	h->seq = get_le32(buf + 20);
	h->id = get_le64(buf + 24);
	h->arg = get_le64(buf + 32);
	r = &rules[h->type];
	plain = h->len;
	if (h->flags & WIRE_F_SEALED) {
		if (plain < WIRE_SEAL_OVERHEAD)
			return -EBADMSG;
		plain -= WIRE_SEAL_OVERHEAD;
	}
	if (!r->name || plain < r->min_len || plain > r->max_len)
		return -EBADMSG;
	return 0;
}

const char *wire_type_name(unsigned type)
{
	if (type < 256 && rules[type].name)
		return rules[type].name;
	return "UNKNOWN";
}

const char *wire_strerror(int err)
{
	switch (err) {
	case -EAGAIN: return "truncated header";
	case -EPROTO: return "bad magic (not a dsm peer?)";
	case -EPROTONOSUPPORT: return "protocol version mismatch";
	case -EBADMSG: return "unknown message type or bad payload length";
	default: return "malformed message";
	}
}
