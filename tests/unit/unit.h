/*
 * Helpers shared by the unit tests.  A failed CHECK says where and why and
 * counts; the test goes on, and unit_result gives the exit status at the end.
 * Failures go to stderr, or to stdout in a test that defines UNIT_STDOUT
 * before it includes this file (those lines then start with "FAIL ").
 */
#ifndef DSM_UNIT_H
#define DSM_UNIT_H

#include <stdio.h>

#ifdef UNIT_STDOUT
#define UNIT_OUT stdout
#define UNIT_FAIL "FAIL "
#else
#define UNIT_OUT stderr
#define UNIT_FAIL ""
#endif

static int failures;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(UNIT_OUT, UNIT_FAIL "%s:%d: ", __FILE__, __LINE__); \
			fprintf(UNIT_OUT, __VA_ARGS__);                         \
			fputc('\n', UNIT_OUT);                                  \
			failures++;                                             \
		}                                                               \
	} while (0)

/* The end of main: 1 after any failed check, with their count (after
 * `prefix`); else `ok` on stdout and 0. */
static inline int unit_result(const char *prefix, const char *ok)
{
	if (failures) {
		fprintf(UNIT_OUT, "%s%d check(s) failed\n", prefix, failures);
		return 1;
	}
	printf("%s\n", ok);
	return 0;
}

#endif
