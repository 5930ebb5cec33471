#!/bin/sh
# Description: condition variables - a bounded queue (4 slots) with "not
# full" and "not empty" conditions, one producer and one consumer thread per
# rank, every item received exactly once, on 1 and 3 ranks; one
# dsm_cond_broadcast wakes 2 waiting threads on each of 3 ranks; dsm_cond_wait
# without the lock is -EPERM.
# Backends: uffd sigsegv
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/sync_prog
[ -x "$BIN/dsmexec" ] && [ -x "$P" ] || fail "build first: make tests"

for run in "1 2000" "3 200"; do
	set -- $run
	run_job "$TMP/q$1" -n $1 "$P" cond $2
	cat "$TMP/q$1"
	[ $rc -eq 0 ] || fail "cond with $1 ranks exited $rc"
	expect_grep "cond: $1 ranks x (1 producer + 1 consumer), $(($1 * $2)) items through 4 slots, each received once: OK" \
		"$TMP/q$1" "cond with $1 ranks"
done

for n in 1 3; do
	run_job "$TMP/b$n" -n $n "$P" broadcast
	cat "$TMP/b$n"
	[ $rc -eq 0 ] || fail "broadcast with $n ranks exited $rc"
	expect_grep "broadcast: one broadcast woke all $((n * 2)) waiters of $n ranks: OK" "$TMP/b$n" \
		"broadcast with $n ranks"
done
echo "ok"
