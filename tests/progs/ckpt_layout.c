/*
 * Description: a program with DSM_SHARED variables that checkpoints them
 * (tests/ckpt_layout.sh); ckpt_layout2.c is the same program rebuilt with one
 * variable more, `balance`, so its layout differs.
 *   ckpt_layout DIR     rank 0 sets steps_done = 7, total = 42 and zeroes
 *                       left[], initially 5, 6 (or, when
 *                       restarted, prints what it found); every rank
 *                       checkpoints into DIR
 */
#include <dsm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

DSM_SHARED long steps_done;
#ifdef CKPT_LAYOUT_EXTRA
DSM_SHARED long balance;
#endif
DSM_SHARED long total;
/* on a page of its own, initially not zero, zeroed before the checkpoint:
 * a restart must not bring back the program's initial values */
DSM_SHARED long left[512] __attribute__((aligned(4096))) = { 5, 6 };

int main(int argc, char **argv)
{
	int me;

	init_or_exit(&argc, &argv);
	me = dsm_rank();
	CHECK(argc == 2, "usage: ckpt_layout DIR");
	if (dsm_checkpoint_restored()) {
		if (me == 0)
			printf("ckpt_layout: restored steps_done=%ld total=%ld left=%ld,%ld\n", steps_done, total,
			       left[0], left[1]);
	} else if (me == 0) {
		steps_done = 7;
		total = 42;
		left[0] = left[1] = 0;
	}
	CALL(dsm_barrier());
	CALL(dsm_checkpoint(argv[1]));
	CALL(dsm_finalize());
	return 0;
}
