#!/bin/sh
# Description: litmus tests of sequential consistency (message passing, store
# buffering / Dekker, load buffering, 2+2W, and IRIW on 4 ranks; variables on
# two pages and on one page), on 2 ranks, on 3 ranks where a third rank is the
# pages' home, and on 4 ranks.
# Backends: uffd sigsegv
# Timeout: 90
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

# The seed varies the spin before each trial; set LITMUS_SEED to repeat one.
seed=${LITMUS_SEED:-$$}
for job in "2 4000" "3 1000" "4 1000"; do
	set -- $job
	n=$1 trials=$2
	"$BIN/dsmexec" -t 80 -n "$n" "$TBIN/litmus" "$trials" "$seed" >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "litmus on $n ranks, $trials trials, seed $seed: exit status $rc"
	! grep -q WRONG "$TMP/out" || fail "litmus on $n ranks, seed $seed: a forbidden outcome (see WRONG above)"
	# mp, mp-stream, sb, lb and 2+2w (and iriw on 4 ranks), each on two
	# pages and on one page.
	want=10
	[ "$n" -ge 4 ] && want=12
	expect_eq "$(grep -c '^\[[01]\] litmus: .*: ok$' "$TMP/out")" $want "litmus verdicts on $n ranks"
	expect_grep '^\[0\] litmus: ok$' "$TMP/out" "litmus on $n ranks"
done
exit 0
