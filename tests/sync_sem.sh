#!/bin/sh
# Description: counting semaphores - producers and consumers pass items through
# a ring buffer in shared memory, with semaphores keyed 0 (free slots), 1 (a
# binary semaphore guarding the indexes) and UINT64_MAX (filled slots); every
# item must be received exactly once.  4 ranks (2 + 2) and 5 ranks (2 + 3).
# Backends: uffd sigsegv
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/sync_prog
[ -x "$BIN/dsmexec" ] && [ -x "$P" ] || fail "build first: make tests"

for run in "4 300" "5 300"; do
	set -- $run
	run_job "$TMP/out" -n $1 "$P" sem $2
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "semaphores with $1 ranks exited $rc"
	expect_grep "items, each received once: OK" "$TMP/out" "semaphores with $1 ranks"
done
