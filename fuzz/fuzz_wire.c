/*
 * fuzz_wire.c - libFuzzer target for the wire header decoder (src/wire.c).
 *
 * Any bytes go to wire_decode_hdr().  It must never read past the buffer,
 * and a header it accepts must encode back to the same 40 bytes (nothing it
 * accepts is lost or invented) and carry a payload length its type allows:
 * at most WIRE_MAX_PAYLOAD, plus WIRE_SEAL_OVERHEAD (and at least that) when
 * sealed.  The names and reasons it hands out must be strings.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_hdr h;
	uint8_t again[WIRE_HDR_SIZE];
	/* A copy of exactly `size` bytes, so AddressSanitizer sees any read
	 * past the end. */
	uint8_t *buf = malloc(size ? size : 1);
	int rc;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	rc = wire_decode_hdr(buf, size, &h);
	if (rc == 0) {
		if (size < WIRE_HDR_SIZE || h.magic != WIRE_MAGIC || h.version != WIRE_VERSION)
			abort();
		wire_encode_hdr(again, &h);
		if (memcmp(again, buf, WIRE_HDR_SIZE) != 0)
			abort(); /* decode and encode disagree */
		uint32_t plain = h.len;
		if (h.flags & WIRE_F_SEALED) {
			if (plain < WIRE_SEAL_OVERHEAD)
				abort();
			plain -= WIRE_SEAL_OVERHEAD;
		}
		if (plain > WIRE_MAX_PAYLOAD)
			abort();
		if (strlen(wire_type_name(h.type)) == 0)
			abort();
	} else if (rc != -EAGAIN && rc != -EPROTO && rc != -EPROTONOSUPPORT && rc != -EBADMSG) {
		abort(); /* an error the header does not document */
	} else if (strlen(wire_strerror(rc)) == 0) {
		abort();
	}
	(void)strlen(wire_type_name(size ? buf[0] : 0));
	free(buf);
	return 0;
}
