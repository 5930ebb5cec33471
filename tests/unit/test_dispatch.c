/*
 * Description: the transport's table of message handlers (tp_register in
 * src/transport.h): a range goes to its handler, a range that overlaps
 * another handler's is refused with -EEXIST and changes nothing, the same
 * handler may register its range again, and a range outside the wire's
 * one-byte types or reversed is refused with -EINVAL.
 */
#include <errno.h>
#include <stdio.h>

#include "transport.h"

#include "unit.h"

static void h1(const struct wire_hdr *h, const uint8_t *payload)
{
	(void)h;
	(void)payload;
}

static void h2(const struct wire_hdr *h, const uint8_t *payload)
{
	(void)h;
	(void)payload;
}

/* Each call in order, with the result it must have. */
static const struct {
	uint16_t first, last;
	tp_handler fn;
	int want;
	const char *what;
} calls[] = {
	{ 200, 209, h1, 0, "register 200..209" },
	{ 210, 219, h2, 0, "register the adjacent 210..219 to another handler" },
	{ 205, 212, h2, -EEXIST, "205..212 overlaps h1's 200..209" },
	{ 209, 209, h2, -EEXIST, "209 alone is h1's" },
	/* the refused ranges changed nothing: h1 still owns 200..209, h2 210..219 */
	{ 200, 209, h1, 0, "h1 registering its own range again" },
	{ 210, 219, h2, 0, "h2 registering its own range again" },
	{ 219, 220, h1, -EEXIST, "219..220 overlaps h2's 219" },
	{ 220, 220, h1, 0, "220 was left free by the refused 219..220" },
	{ 250, 256, h1, -EINVAL, "250..256 passes the one-byte type" },
	{ 240, 230, h1, -EINVAL, "a reversed range" },
	{ 230, 231, NULL, -EINVAL, "no handler" },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		int rc = tp_register(calls[i].first, calls[i].last, calls[i].fn);

		CHECK(rc == calls[i].want, "%s: expected %d, got %d", calls[i].what, calls[i].want, rc);
	}
	return unit_result("test_dispatch: ", "test_dispatch: ok");
}
