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

int main(void)
{
	int rc;

	rc = tp_register(200, 209, h1);
	CHECK(rc == 0, "register 200..209: got %d", rc);
	rc = tp_register(210, 219, h2);
	CHECK(rc == 0, "register the adjacent 210..219 to another handler: got %d", rc);
	rc = tp_register(205, 212, h2);
	CHECK(rc == -EEXIST, "205..212 overlaps h1's 200..209: expected -EEXIST, got %d", rc);
	rc = tp_register(209, 209, h2);
	CHECK(rc == -EEXIST, "209 alone is h1's: expected -EEXIST, got %d", rc);
	/* the refused range changed nothing: h1 still owns 200..209, h2 210..219 */
	rc = tp_register(200, 209, h1);
	CHECK(rc == 0, "h1 registering its own range again: got %d", rc);
	rc = tp_register(210, 219, h2);
	CHECK(rc == 0, "h2 registering its own range again: got %d", rc);
	rc = tp_register(219, 220, h1);
	CHECK(rc == -EEXIST, "219..220 overlaps h2's 219: expected -EEXIST, got %d", rc);
	rc = tp_register(220, 220, h1);
	CHECK(rc == 0, "220 was left free by the refused 219..220: got %d", rc);
	rc = tp_register(250, 256, h1);
	CHECK(rc == -EINVAL, "250..256 passes the one-byte type: expected -EINVAL, got %d", rc);
	rc = tp_register(240, 230, h1);
	CHECK(rc == -EINVAL, "a reversed range: expected -EINVAL, got %d", rc);
	rc = tp_register(230, 231, NULL);
	CHECK(rc == -EINVAL, "no handler: expected -EINVAL, got %d", rc);
	return unit_result("test_dispatch: ", "test_dispatch: ok");
}
