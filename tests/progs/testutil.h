/*
 * Helpers shared by the test programs.  CHECK and CALL name the rank from
 * the program's own variable `me`; a failed one ends the rank with status 1.
 */
#ifndef DSM_TESTUTIL_H
#define DSM_TESTUTIL_H

#include <dsm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "rank %d: FAIL: ", me);                 \
			fprintf(stderr, __VA_ARGS__);                           \
			fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__);      \
			exit(1);                                                \
		}                                                               \
	} while (0)

/* expr returns 0 or a negative errno. */
#define CALL(expr)                                                              \
	do {                                                                    \
		int rc_ = (expr);                                               \
		CHECK(rc_ == 0, "%s: %s", #expr, strerror(-rc_));               \
	} while (0)

/* dsm_init, or end the program with status 1 saying why. */
static inline void init_or_exit(int *argc, char ***argv)
{
	int rc = dsm_init(argc, argv);

	if (rc) {
		fprintf(stderr, "dsm_init: %s\n", strerror(-rc));
		exit(1);
	}
}

/* The end of main for a program that runs one test as rank `me`: the test's
 * own failure status is the program's; otherwise dsm_finalize must succeed. */
static inline int finish(int me, int rc)
{
	if (rc)
		return rc;
	rc = dsm_finalize();
	CHECK(rc == 0, "dsm_finalize: %s", strerror(-rc));
	return 0;
}

#endif
