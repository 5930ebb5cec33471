#!/bin/sh
# Description: the shared heap under concurrency - 4 ranks with 2 threads each
# allocate small and large blocks at the same time, fill them with their own
# pattern and free each other's; every rank checks every block, and no two
# blocks overlap.  Then the same with 8 ranks.
# Backends: uffd sigsegv
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/alloc_prog
[ -x "$BIN/dsmexec" ] && [ -x "$P" ] || fail "build first: make tests"

for run in "4 4 150" "8 2 40"; do
	set -- $run
	run_job "$TMP/out" -n $1 "$P" stress $2 $3
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "heap stress with $1 ranks exited $rc"
	expect_grep "stress: $1 ranks x 2 threads x $3 blocks x $2 rounds, no overlap: OK" "$TMP/out" \
		"heap stress with $1 ranks"
done
