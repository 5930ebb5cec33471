/*
 * wire.h - the one definition of what crosses a socket, between ranks and
 * between the launcher and its wrappers.
 *
 * Every message is a fixed 40-byte header followed by `len` payload bytes.
 * All integers are little-endian and encoded field by field: no C struct is
 * ever sent raw.  Decoding is a pure function over a byte buffer that checks
 * magic, version, type and the payload length the type allows before anything
 * else reads the message, so it can be fuzzed.
 *
 *  off size field
 *    0  4   magic    "DSM1"
 *    4  1   version  WIRE_VERSION; a peer with another version is refused
 *    5  1   type     enum wire_type; numbers are never reused
 *    6  2   flags    WIRE_F_*
 *    8  4   len      payload bytes that follow the header
 *   12  4   src      sender's rank (WIRE_SRC_LAUNCHER for dsmexec/dsmwrap)
 *   16  4   aux      type-specific (requester rank, status kind, ...)
 *   20  4   seq      link sequence number (transport_tcp.c); 0: not sequenced
 *   24  8   id       request id: replies carry the id of their request
 *   32  8   arg      type-specific (page number, epoch, signal, ...)
 */
#ifndef DSM_WIRE_H
#define DSM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC        0x314d5344u /* bytes 'D' 'S' 'M' '1' */
#define WIRE_VERSION      1
#define WIRE_HDR_SIZE     40
#define WIRE_MAX_PAYLOAD  (1u << 20)
#define WIRE_SRC_LAUNCHER 0xffffffffu

enum wire_type {
	/* connection handshake (net.c) */
	WIRE_HELLO = 1,          /* payload: job id u64, nonce[32]; src = claimed id */
	WIRE_CHALLENGE = 2,      /* payload: nonce[32], mac[32] */
	WIRE_AUTH = 3,           /* payload: mac[32] */
	WIRE_REFUSE = 4,         /* payload: reason text */

	/* rendezvous (rendezvous.c) */
	WIRE_RDV_REGISTER = 10,  /* payload: see rendezvous.c */
	WIRE_RDV_TABLE = 11,

	/* page coherence (coherence.c); arg = page number, id = request id */
	WIRE_READ_REQ = 20,      /* requester -> home */
	WIRE_WRITE_REQ = 21,     /* requester -> home */
	WIRE_FWD_READ = 22,      /* home -> owner; aux = requester */
	WIRE_FWD_WRITE = 23,     /* home -> owner; aux = requester */
	WIRE_INV = 24,           /* home -> sharer */
	WIRE_INV_ACK = 25,       /* sharer -> home */
	WIRE_PAGE = 26,          /* owner/home -> requester; payload: page data */
	WIRE_DONE = 27,          /* requester -> home: installed */

	/* collectives and lifetime (runtime.c) */
	WIRE_BARRIER_ENTER = 40, /* -> rank 0; arg = epoch (1: dsm_init's barrier,
	                          * the only one that goes through rank 0; the
	                          * application's are BARRIER_ROUND) */
	WIRE_BARRIER_RELEASE = 41,
	WIRE_BYE = 42,           /* sender has finalized; its EOF is expected */
	WIRE_ABORT = 43,         /* payload: reason text; the job is ending */

	/* the link's session layer (transport_tcp.c); never sequenced */
	WIRE_ACK = 44,           /* arg = every seq up to this one arrived */
	WIRE_RESUME = 45,        /* first on a new connection: arg = next seq expected */

	/* locks and semaphores (sync.c): 50..59; RPC (rpc.c): 60..69.
	 * The sync/RPC modules define their payloads; see wire.c's table. */
	WIRE_SYNC_FIRST = 50,
	WIRE_SYNC_LAST = 59,
	WIRE_RPC_FIRST = 60,
	WIRE_RPC_LAST = 69,
	/* id = request id; replies carry it.  aux of a reply: 0 or an errno (> 0). */
	WIRE_LOCK_REQ = 50,      /* -> home(lock); arg = lock id, aux = 1 for trylock */
	WIRE_LOCK_GRANT = 51,    /* home -> requester; aux = 0 granted, EBUSY (trylock) */
	WIRE_UNLOCK = 52,        /* holder -> home; arg = lock id; no reply */
	WIRE_SEM_WAIT = 53,      /* -> home(key); arg = key */
	WIRE_SEM_GRANT = 54,     /* home -> waiter; arg = key */
	WIRE_SEM_POST = 55,      /* -> home(key); arg = key; no reply */
	WIRE_ALLOC_REQ = 56,     /* -> rank 0 (alloc.c); aux = op, arg = size or
	                          * offset; payload: a name for named allocations */
	WIRE_ALLOC_REPLY = 57,   /* rank 0 -> requester; aux = errno, arg = offset;
	                          * payload: u64 x 2, op-specific */
	WIRE_BARRIER_ROUND = 58, /* an application barrier's round (sync.c):
	                          * rank r -> r + 2^aux; arg = epoch, aux = round;
	                          * payload: write notices (rc.c) */
	WIRE_BARRIER_DATA = 59,  /* dsm_allgather's data, just before the round's
	                          * BARRIER_ROUND: arg = epoch, aux = round, id =
	                          * first rank << 32 | ranks; payload: their data */
	WIRE_RPC_CALL = 60,      /* caller -> target; arg = function id, aux = reply
	                          * capacity; payload: argument */
	WIRE_RPC_REPLY = 61,     /* target -> caller; aux = handler result (s32);
	                          * payload: reply */

	/* DSM_SHARED globals (globals.c): 70..79 */
	WIRE_LAYOUT = 70,        /* -> rank 0 before the first BARRIER_ENTER;
	                          * payload: the sender's layout, text lines */

	/* launcher control between dsmexec and dsmwrap (launcher/) */
	WIRE_CTL_READY = 80,
	WIRE_CTL_FAIL = 81,
	WIRE_CTL_GO = 82,
	WIRE_CTL_SIGNAL = 83,
	WIRE_CTL_EXITED = 84,
	WIRE_CTL_SETUP = 85,
	WIRE_CTL_RESERVED_LAST = 99,

	/* locks and condition variables, continued (sync.c): 110..119 */
	WIRE_SYNC2_FIRST = 110,
	WIRE_SYNC2_LAST = 119,
	WIRE_LOCK_RECALL = 110,  /* home -> holder; arg = lock id, id = the request
	                          * id of the holder's grant, aux = 1: a trylock
	                          * waits, answer LOCK_BUSY if held */
	WIRE_LOCK_BUSY = 111,    /* holder -> home; arg = lock id: held, given back
	                          * at its release */
	WIRE_COND_WAIT = 112,    /* -> home(cond); arg = cond id */
	WIRE_COND_QUEUED = 113,  /* home -> waiter; arg = cond id: queued */
	WIRE_COND_SIGNAL = 114,  /* -> home(cond); arg = cond id, aux = 1 for a
	                          * broadcast; no reply */
	WIRE_COND_WAKE = 115,    /* home -> waiter; arg = cond id */

	/* failure detector (transport_tcp.c): 120..124 */
	WIRE_HEARTBEAT = 120,    /* link level, unsequenced, no payload: "alive";
	                          * sent on a link that carried nothing for
	                          * DSM_TIMEOUT / 4 */

	/* release consistency (rc.c): 130..139; arg = page, id = request id */
	WIRE_RC_FIRST = 130,
	WIRE_RC_LAST = 139,
	WIRE_RC_FETCH = 130,     /* -> home: the page's master copy, please;
	                          * aux = the barriers the sender has left;
	                          * payload: more pages (u64 each), at most
	                          * WIRE_RC_FETCH_PAGES - 1 */
	WIRE_RC_PAGE = 131,      /* home -> requester; payload: the page, or
	                          * none with WIRE_F_ZERO */
	WIRE_RC_DIFF = 132,      /* releaser -> home; payload: diffs (rc.c);
	                          * aux as RC_FETCH's */
	WIRE_RC_DIFF_ACK = 133,  /* home -> releaser: applied */
	WIRE_RC_NOTICES = 134,   /* write notices alone, ahead of a message that
	                          * has a payload of its own (RPC call, reply) */

	/* page coherence, continued (coherence.c): 150..159 */
	WIRE_COH2_FIRST = 150,
	WIRE_COH2_LAST = 159,
	WIRE_COH_BUNDLE = 150,   /* several coherence messages (READ_REQ..DONE) to
	                          * one rank in one: payload = each one encoded
	                          * whole (header and payload), in order; arg =
	                          * their number.  Handled as if they had come one
	                          * by one */
};

/* flags */
#define WIRE_RC_FETCH_PAGES 32 /* the most pages one RC_FETCH asks for */

#define WIRE_F_ZERO   0x0001 /* WIRE_PAGE: the page is all zeros, no payload */
#define WIRE_F_LZ4    0x0002 /* WIRE_PAGE: payload is LZ4-compressed */
#define WIRE_F_WRITE  0x0004 /* WIRE_PAGE: grant is exclusive (writable) */
#define WIRE_F_NODATA 0x0008 /* WIRE_PAGE: ownership only, keep your copy */
#define WIRE_F_OVERWRITE 0x0010 /* WIRE_WRITE_REQ: the requester overwrites the
                              * whole page (dsm_advise): ownership without
                              * data.  WIRE_INV: drop the page even if held
                              * writable, its data is not needed.  WIRE_PAGE
                              * (with WIRE_F_ZERO): such a grant */
#define WIRE_F_ROUTED 0x0020 /* READ_REQ/WRITE_REQ from a page's directory to its
                              * first-touch home (DSM_HOME=first-touch): aux =
                              * the requester */
#define WIRE_F_MOVED  0x0040 /* RC_PAGE: no data; the page's home moved at a
                              * barrier the requester had not left when it
                              * asked: ask its new home */
#define WIRE_F_LATE   0x0080 /* RC_DIFF: diffs made inside a barrier, for
                              * pages whose home may become the receiver at
                              * its end (rc.c) */
#define WIRE_F_SETTLE 0x0100 /* RC_DIFF: diffs a barrier's rounds carry too
                              * (rc.c: carried intervals), sent early because
                              * another thread released: arg = their
                              * interval; the home applies them once */
#define WIRE_F_SETTLED 0x0200 /* RC_PAGE: the home's copy took a settled
                              * diff since its last barrier (rc.c) */
#define WIRE_F_SEALED 0x8000 /* DSM_ENCRYPT: payload is nonce + ciphertext + tag */

/* What sealing adds to a payload: a 24-byte nonce and a 16-byte tag. */
#define WIRE_SEAL_OVERHEAD 40u

struct wire_hdr {
	uint32_t magic;
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t len;
	uint32_t src;
	uint32_t aux;
	uint32_t seq;
	uint64_t id;
	uint64_t arg;
};

/* Little-endian field access. */
static inline void put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put_le32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline void put_le64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get_le64(const uint8_t *p) { return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32; }

/* Fill magic and version and encode. */
void wire_encode_hdr(uint8_t out[WIRE_HDR_SIZE], const struct wire_hdr *h);

/*
 * Decode and validate a header from the first `len` bytes of `buf`.
 * Returns 0; -EAGAIN when fewer than WIRE_HDR_SIZE bytes are there;
 * -EPROTO bad magic; -EPROTONOSUPPORT another version;
 * -EBADMSG unknown type or a payload length the type does not allow.
 */
int wire_decode_hdr(const uint8_t *buf, size_t len, struct wire_hdr *h);

/* "PAGE", "INV", ...; "UNKNOWN" for a number no message has. */
const char *wire_type_name(unsigned type);

/* A readable reason for a wire_decode_hdr() error. */
const char *wire_strerror(int err);

#endif
