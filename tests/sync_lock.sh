#!/bin/sh
# Description: locks - mutual exclusion under contention with 2, 4 and 8 ranks
# (the shared counter comes out exact), FIFO fairness by acquisition counts,
# dsm_trylock, and dsm_unlock of a lock the rank does not hold (-EPERM).
# Backends: uffd sigsegv
# Timeout: 180
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/sync_prog
[ -x "$BIN/dsmexec" ] && [ -x "$BIN/counter" ] && [ -x "$P" ] || fail "build first: make tests"

for n in 2 4 8; do
	run_job "$TMP/c$n" -n $n "$BIN/counter" 400
	[ $rc -eq 0 ] || { cat "$TMP/c$n"; fail "counter with $n ranks exited $rc"; }
	expect_grep "^\[0\] counter: rank 0: $((n * 400)) increments by $n ranks, expected $((n * 400)), 0 overlaps: OK\$" \
		"$TMP/c$n" "counter with $n ranks"
done

for n in 4 8; do
	run_job "$TMP/f$n" -n $n "$P" fair 60
	[ $rc -eq 0 ] || { cat "$TMP/f$n"; fail "fairness with $n ranks exited $rc"; }
	expect_grep "fair: $n ranks x 60 acquisitions" "$TMP/f$n" "fairness with $n ranks"
	cat "$TMP/f$n"
done

run_job "$TMP/t" -n 3 "$P" trylock
[ $rc -eq 0 ] || { cat "$TMP/t"; fail "trylock exited $rc"; }
expect_grep "trylock: OK" "$TMP/t" "trylock"

run_job "$TMP/u" -n 3 "$P" unlock
[ $rc -eq 0 ] || { cat "$TMP/u"; fail "unlock exited $rc"; }
expect_grep "unlock: OK" "$TMP/u" "unlock errors"
echo "ok"
