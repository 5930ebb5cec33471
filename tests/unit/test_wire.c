/*
 * Description: the wire codec (src/wire.h): every header field survives a
 * round trip for several message types; a header shorter than 40 bytes, bad
 * magic, another version, an unknown type and a
 * payload length outside the type's bounds are each refused with their own
 * error; the little-endian helpers put bytes where the format says.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "wire.h"

#include "unit.h"

static const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case -EAGAIN: return "-EAGAIN";
	case -EPROTO: return "-EPROTO";
	case -EPROTONOSUPPORT: return "-EPROTONOSUPPORT";
	case -EBADMSG: return "-EBADMSG";
	default: return "another error";
	}
}

#define CHECK_RC(got, want, what)                                                          \
	CHECK((got) == (want), "%s: expected %s, got %d (%s)", what, errname(want), got, \
	      errname(got))

/* A header with every field distinct and using all its bytes. */
static struct wire_hdr sample(uint8_t type, uint32_t len)
{
	return (struct wire_hdr){
		.type = type,
		.flags = 0x25c3, /* every flag bit but WIRE_F_SEALED */
		.len = len,
		.src = 0x81828384u,
		.aux = 0xf1e2d3c4u,
		.seq = 0x91929394u,
		.id = 0x0102030405060708ull,
		.arg = 0xfedcba9876543210ull,
	};
}

static void test_round_trip(void)
{
	static const struct {
		uint8_t type;
		uint32_t len;
	} cases[] = {
		{ WIRE_HELLO, 40 },      { WIRE_CHALLENGE, 64 },        { WIRE_AUTH, 32 },
		{ WIRE_REFUSE, 0 },      { WIRE_REFUSE, 256 },          { WIRE_READ_REQ, 0 },
		{ WIRE_WRITE_REQ, 0 },   { WIRE_FWD_READ, 0 },          { WIRE_FWD_WRITE, 0 },
		{ WIRE_INV, 0 },         { WIRE_INV_ACK, 0 },           { WIRE_PAGE, 0 },
		{ WIRE_PAGE, 4096 },     { WIRE_DONE, 0 },              { WIRE_BARRIER_ENTER, 0 },
		{ WIRE_BYE, 0 },         { WIRE_ABORT, 512 },           { WIRE_RDV_TABLE, WIRE_MAX_PAYLOAD },
		{ WIRE_CTL_SETUP, 1234 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wire_hdr in = sample(cases[i].type, cases[i].len), out;
		uint8_t buf[WIRE_HDR_SIZE + 8];
		const char *name = wire_type_name(cases[i].type);
		int rc;

		/* A decoder that reads past the header would see this. */
		memset(buf, 0xee, sizeof(buf));
		wire_encode_hdr(buf, &in);
		memset(&out, 0x5a, sizeof(out));
		rc = wire_decode_hdr(buf, WIRE_HDR_SIZE, &out);
		CHECK_RC(rc, 0, name);
		if (rc)
			continue;
		CHECK(out.magic == WIRE_MAGIC, "%s: magic %#x", name, out.magic);
		CHECK(out.version == WIRE_VERSION, "%s: version %u", name, out.version);
		CHECK(out.type == in.type, "%s: type %u", name, out.type);
		CHECK(out.flags == in.flags, "%s: flags %#x", name, out.flags);
		CHECK(out.len == in.len, "%s: len %u", name, out.len);
		CHECK(out.src == in.src, "%s: src %#x", name, out.src);
		CHECK(out.aux == in.aux, "%s: aux %#x", name, out.aux);
		CHECK(out.seq == in.seq, "%s: seq %#x", name, out.seq);
		CHECK(out.id == in.id, "%s: id %#llx", name, (unsigned long long)out.id);
		CHECK(out.arg == in.arg, "%s: arg %#llx", name, (unsigned long long)out.arg);
		CHECK(buf[WIRE_HDR_SIZE] == 0xee, "%s: encoder wrote past 40 bytes", name);
		/* Extra bytes after the header (the payload) do not matter. */
		rc = wire_decode_hdr(buf, sizeof(buf), &out);
		CHECK_RC(rc, 0, "header followed by payload bytes");
	}

	/* Zero fields, and the encoder fills magic and version itself. */
	struct wire_hdr z = { .type = WIRE_INV, .magic = 0, .version = 99 }, out;
	uint8_t buf[WIRE_HDR_SIZE];
	wire_encode_hdr(buf, &z);
	CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), 0, "all-zero INV with junk magic/version fields");
	CHECK(out.flags == 0 && out.len == 0 && out.src == 0 && out.aux == 0 && out.seq == 0 && out.id == 0 &&
	      out.arg == 0,
	      "all-zero INV did not decode to zeros");
}

/* The encoding is the documented byte layout, little-endian. */
static void test_layout(void)
{
	struct wire_hdr in = sample(WIRE_PAGE, 4096);
	uint8_t buf[WIRE_HDR_SIZE];
	static const uint8_t want[WIRE_HDR_SIZE] = {
		'D', 'S', 'M', '1',                             /* magic */
		WIRE_VERSION, WIRE_PAGE, 0xc3, 0x25,            /* version, type, flags */
		0x00, 0x10, 0x00, 0x00,                         /* len 4096 */
		0x84, 0x83, 0x82, 0x81,                         /* src */
		0xc4, 0xd3, 0xe2, 0xf1,                         /* aux */
		0x94, 0x93, 0x92, 0x91,                         /* seq */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* id */
		0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, /* arg */
	};

	wire_encode_hdr(buf, &in);
	for (int i = 0; i < WIRE_HDR_SIZE; i++)
		CHECK(buf[i] == want[i], "encoded byte %d is %#x, expected %#x", i, buf[i], want[i]);
}

/* A sealed message (DSM_ENCRYPT) carries 40 bytes more than its type's
 * payload: nonce and tag.  The bounds apply to what is inside. */
static void test_sealed(void)
{
	struct wire_hdr h = sample(WIRE_READ_REQ, 0), out;
	uint8_t buf[WIRE_HDR_SIZE];

	h.flags = WIRE_F_SEALED;
	h.len = WIRE_SEAL_OVERHEAD;
	wire_encode_hdr(buf, &h);
	CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), 0, "sealed READ_REQ of 40 bytes");
	h.len = WIRE_SEAL_OVERHEAD - 1;
	wire_encode_hdr(buf, &h);
	CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), -EBADMSG, "sealed READ_REQ shorter than the seal");
	h.len = WIRE_SEAL_OVERHEAD + 1;
	wire_encode_hdr(buf, &h);
	CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), -EBADMSG, "sealed READ_REQ with a payload");
	h = sample(WIRE_PAGE, 4096 + WIRE_SEAL_OVERHEAD);
	h.flags |= WIRE_F_SEALED;
	wire_encode_hdr(buf, &h);
	CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), 0, "sealed PAGE of 4096 bytes");
	h.len++;
	wire_encode_hdr(buf, &h);
	CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), -EBADMSG, "sealed PAGE of 4097 bytes");
}

static void test_truncated(void)
{
	struct wire_hdr in = sample(WIRE_READ_REQ, 0), out;
	uint8_t buf[WIRE_HDR_SIZE];

	wire_encode_hdr(buf, &in);
	for (size_t n = 0; n < WIRE_HDR_SIZE; n++) {
		char what[64];
		snprintf(what, sizeof(what), "header of %zu bytes", n);
		CHECK_RC(wire_decode_hdr(buf, n, &out), -EAGAIN, what);
	}
	/* Even a garbage prefix is only "not enough yet". */
	memset(buf, 0xff, sizeof(buf));
	CHECK_RC(wire_decode_hdr(buf, WIRE_HDR_SIZE - 1, &out), -EAGAIN, "39 garbage bytes");
	CHECK_RC(wire_decode_hdr(NULL, 0, &out), -EAGAIN, "NULL buffer of 0 bytes");
}

static void test_refused(void)
{
	struct wire_hdr in = sample(WIRE_DONE, 0), out;
	uint8_t good[WIRE_HDR_SIZE], buf[WIRE_HDR_SIZE];

	wire_encode_hdr(good, &in);
	CHECK_RC(wire_decode_hdr(good, sizeof(good), &out), 0, "unmodified DONE");

	for (int i = 0; i < 4; i++) {
		char what[64];
		memcpy(buf, good, sizeof(buf));
		buf[i] ^= 0x20;
		snprintf(what, sizeof(what), "magic byte %d changed", i);
		CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), -EPROTO, what);
	}
	static const uint8_t versions[] = { 0, 2, 3, 0x81, 0xff };
	for (size_t i = 0; i < sizeof(versions); i++) {
		char what[64];
		memcpy(buf, good, sizeof(buf));
		buf[4] = versions[i];
		snprintf(what, sizeof(what), "version %u", versions[i]);
		CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), -EPROTONOSUPPORT, what);
	}
	/* Every type number no message has. */
	for (unsigned t = 0; t < 256; t++) {
		char what[64];
		if (strcmp(wire_type_name(t), "UNKNOWN") != 0)
			continue;
		memcpy(buf, good, sizeof(buf));
		buf[5] = (uint8_t)t;
		snprintf(what, sizeof(what), "unknown type %u", t);
		CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), -EBADMSG, what);
	}
	CHECK(strcmp(wire_type_name(0), "UNKNOWN") == 0, "type 0 has a name");
	CHECK(strcmp(wire_type_name(1000), "UNKNOWN") == 0, "type 1000 has a name");
	CHECK(strcmp(wire_type_name(WIRE_PAGE), "PAGE") == 0, "WIRE_PAGE is named %s", wire_type_name(WIRE_PAGE));
	CHECK(strcmp(wire_type_name(WIRE_INV), "INV") == 0, "WIRE_INV is named %s", wire_type_name(WIRE_INV));

	/* Payload lengths at and beyond each type's bounds. */
	static const struct {
		uint8_t type;
		uint32_t min, max;
	} bounds[] = {
		{ WIRE_HELLO, 40, 40 },     { WIRE_CHALLENGE, 64, 64 }, { WIRE_AUTH, 32, 32 },
		{ WIRE_REFUSE, 0, 256 },    { WIRE_READ_REQ, 0, 0 },    { WIRE_INV, 0, 0 },
		{ WIRE_PAGE, 0, 4096 },     { WIRE_DONE, 0, 0 },
		{ WIRE_BARRIER_ENTER, 0, WIRE_MAX_PAYLOAD }, /* write notices (rc.c) */
		{ WIRE_BARRIER_ROUND, 0, WIRE_MAX_PAYLOAD }, /* write notices (rc.c) */
		{ WIRE_ABORT, 0, 512 },     { WIRE_RDV_REGISTER, 4, 259 },
		{ WIRE_RDV_TABLE, 0, WIRE_MAX_PAYLOAD },
		{ WIRE_RC_FETCH, 0, (WIRE_RC_FETCH_PAGES - 1) * 8 }, /* pages asked ahead (rc.c) */
		{ WIRE_RC_PAGE, 0, 4096 },  { WIRE_RC_DIFF, 10, WIRE_MAX_PAYLOAD },
		{ WIRE_RC_DIFF_ACK, 0, 0 }, { WIRE_RC_NOTICES, 4, WIRE_MAX_PAYLOAD },
	};
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		const char *name = wire_type_name(bounds[i].type);
		char what[96];
		struct wire_hdr h = sample(bounds[i].type, 0);

		h.len = bounds[i].min;
		wire_encode_hdr(buf, &h);
		snprintf(what, sizeof(what), "%s with its minimum payload %u", name, h.len);
		CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), 0, what);

		h.len = bounds[i].max;
		wire_encode_hdr(buf, &h);
		snprintf(what, sizeof(what), "%s with its maximum payload %u", name, h.len);
		CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), 0, what);

		h.len = bounds[i].max + 1;
		wire_encode_hdr(buf, &h);
		snprintf(what, sizeof(what), "%s with payload %u, one over its maximum", name, h.len);
		CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), -EBADMSG, what);

		h.len = 0xffffffffu;
		wire_encode_hdr(buf, &h);
		snprintf(what, sizeof(what), "%s with payload 4 GiB - 1", name);
		CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), -EBADMSG, what);

		if (bounds[i].min > 0) {
			h.len = bounds[i].min - 1;
			wire_encode_hdr(buf, &h);
			snprintf(what, sizeof(what), "%s with payload %u, one under its minimum", name, h.len);
			CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), -EBADMSG, what);
			h.len = 0;
			wire_encode_hdr(buf, &h);
			snprintf(what, sizeof(what), "%s with no payload", name);
			CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), -EBADMSG, what);
		}
	}

	/* Checks come in the documented order: magic before version before type. */
	memcpy(buf, good, sizeof(buf));
	buf[0] = 'X';
	buf[4] = 7;
	buf[5] = 0;
	CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), -EPROTO, "bad magic, version and type together");
	memcpy(buf, good, sizeof(buf));
	buf[4] = 7;
	buf[5] = 0;
	CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), -EPROTONOSUPPORT, "bad version and type together");

	/* Every error has its own readable reason. */
	const char *r1 = wire_strerror(-EAGAIN), *r2 = wire_strerror(-EPROTO),
		   *r3 = wire_strerror(-EPROTONOSUPPORT), *r4 = wire_strerror(-EBADMSG);
	CHECK(r1 && r2 && r3 && r4 && *r1 && *r2 && *r3 && *r4, "wire_strerror gave an empty reason");
	if (r1 && r2 && r3 && r4) {
		CHECK(strcmp(r1, r2) && strcmp(r1, r3) && strcmp(r1, r4) && strcmp(r2, r3) && strcmp(r2, r4) &&
			      strcmp(r3, r4),
		      "wire_strerror gives the same reason for two errors");
		CHECK(strstr(r3, "version") != NULL, "version mismatch reason '%s' does not say 'version'", r3);
	}
}

/* A bundle of coherence messages holds at least two whole headers and at
 * most what any message may carry. */
static void test_bundle_lengths(void)
{
	static const struct { uint32_t len; int rc; } cases[] = {
		{ 0, -EBADMSG }, { WIRE_HDR_SIZE, -EBADMSG }, { 2 * WIRE_HDR_SIZE - 1, -EBADMSG },
		{ 2 * WIRE_HDR_SIZE, 0 }, { 32 * (WIRE_HDR_SIZE + 4096), 0 }, { WIRE_MAX_PAYLOAD, 0 },
		{ WIRE_MAX_PAYLOAD + 1, -EBADMSG },
	};
	uint8_t buf[WIRE_HDR_SIZE];
	struct wire_hdr out;

	CHECK(strcmp(wire_type_name(WIRE_COH_BUNDLE), "COH_BUNDLE") == 0, "COH_BUNDLE's name");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wire_hdr in = sample(WIRE_COH_BUNDLE, cases[i].len);
		char what[64];
		in.flags = 0;
		wire_encode_hdr(buf, &in);
		snprintf(what, sizeof(what), "COH_BUNDLE of %u bytes", cases[i].len);
		CHECK_RC(wire_decode_hdr(buf, sizeof(buf), &out), cases[i].rc, what);
	}
}

static void test_le_helpers(void)
{
	uint8_t b[8];

	memset(b, 0, sizeof(b));
	put_le16(b, 0xbeef);
	CHECK(b[0] == 0xef && b[1] == 0xbe && b[2] == 0, "put_le16 wrote %02x %02x %02x", b[0], b[1], b[2]);
	CHECK(get_le16(b) == 0xbeef, "get_le16 read %#x", get_le16(b));

	memset(b, 0, sizeof(b));
	put_le32(b, 0xdeadbeefu);
	CHECK(b[0] == 0xef && b[1] == 0xbe && b[2] == 0xad && b[3] == 0xde && b[4] == 0,
	      "put_le32 wrote %02x %02x %02x %02x", b[0], b[1], b[2], b[3]);
	CHECK(get_le32(b) == 0xdeadbeefu, "get_le32 read %#x", get_le32(b));

	put_le64(b, 0x8877665544332211ull);
	for (int i = 0; i < 8; i++)
		CHECK(b[i] == 0x11 * (i + 1), "put_le64 byte %d is %#x", i, b[i]);
	CHECK(get_le64(b) == 0x8877665544332211ull, "get_le64 read %#llx", (unsigned long long)get_le64(b));

	/* High bits must not sign-extend. */
	static const uint8_t ff[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	CHECK(get_le16(ff) == 0xffff, "get_le16 of ff ff is %#x", get_le16(ff));
	CHECK(get_le32(ff) == 0xffffffffu, "get_le32 of ff.. is %#x", get_le32(ff));
	CHECK(get_le64(ff) == ~0ull, "get_le64 of ff.. is %#llx", (unsigned long long)get_le64(ff));
	static const uint8_t hi[8] = { 0, 0, 0, 0x80, 0, 0, 0, 0x80 };
	CHECK(get_le32(hi) == 0x80000000u, "get_le32 of 00 00 00 80 is %#x", get_le32(hi));
	CHECK(get_le64(hi) == 0x8000000080000000ull, "get_le64 of a high-bit pattern is %#llx",
	      (unsigned long long)get_le64(hi));

	/* Unaligned positions. */
	uint8_t u[11];
	put_le64(u + 3, 0x0123456789abcdefull);
	CHECK(get_le64(u + 3) == 0x0123456789abcdefull, "unaligned le64 round trip");
	put_le32(u + 1, 0x13579bdfu);
	CHECK(get_le32(u + 1) == 0x13579bdfu, "unaligned le32 round trip");
}

int main(void)
{
	test_round_trip();
	test_layout();
	test_truncated();
	test_sealed();
	test_refused();
	test_bundle_lengths();
	test_le_helpers();
	return unit_result("test_wire: ", "test_wire: ok");
}
