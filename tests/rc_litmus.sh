#!/bin/sh
# Description: release consistency (dsm_malloc_rc memory): message passing
# through a lock and through semaphores, the transitive chain of 3 ranks
# through two locks, many writers of one page (interleaved bytes), false
# sharing by 4 ranks x 5000 increments of adjacent counters under one lock
# each (with an SC array beside it in the same job), release and acquire
# through an RPC call and its reply, dsm_release/dsm_acquire around a flag in
# SC memory, a release by another thread while a rank is inside a barrier
# whose release carried its diffs in the rounds, a carried write read through
# a lock by a rank that may not have left the barrier yet, a page kept open
# across barriers that another thread of its rank writes during the release,
# releases with nothing written that send nothing,
# DSM_CONSISTENCY=release
# for dsm_alloc_named, and a malformed DSM_CONSISTENCY refused; every job
# again with homes that move to their pages' writers (DSM_RC_HOMES=migrate),
# and a malformed DSM_RC_HOMES refused; DSM_RC_KEEP_OPEN=off (every page
# closes at every release), and a malformed one refused.
# Backends: uffd sigsegv
# Timeout: 300
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

for homes in static migrate; do
	export DSM_RC_HOMES=$homes
	for job in "2 mp-lock 150" "2 mp-sem 300" "3 chain 100" "2 writers 20" "4 writers 10" "2 rpc 200" "2 fence 100" "2 escape 50" "3 early 100" "3 open 100" "2 quiet 1000" "4 counters 5000"; do
		set -- $job
		n=$1 t=$2 rounds=$3
		run_job "$TMP/out" -t 120 -n "$n" "$TBIN/rc_litmus" "$t" "$rounds"
		cat "$TMP/out"
		[ $rc -eq 0 ] || fail "rc_litmus $t on $n ranks ($homes homes): exit status $rc"
		expect_eq "$(grep -c "^\[[0-9]\] rc_litmus: $t rank [0-9] of $n: ok$" "$TMP/out")" "$n" "rc_litmus $t verdicts"
	done
done
unset DSM_RC_HOMES
DSM_RC_HOMES=wander run_job "$TMP/out" -t 60 -n 2 "$TBIN/rc_litmus" mp-lock 1
[ $rc -ne 0 ] || fail "DSM_RC_HOMES=wander was accepted"
expect_grep 'DSM_RC_HOMES=wander: expected migrate or static' "$TMP/out" "the refusal"

DSM_RC_KEEP_OPEN=sometimes run_job "$TMP/out" -t 60 -n 2 "$TBIN/rc_litmus" mp-lock 1
[ $rc -ne 0 ] || fail "DSM_RC_KEEP_OPEN=sometimes was accepted"
expect_grep 'DSM_RC_KEEP_OPEN=sometimes: expected off or on' "$TMP/out" "the refusal"

# Every page closes at every release (the release before open pages).
DSM_RC_KEEP_OPEN=off run_job "$TMP/out" -t 120 -n 3 "$TBIN/rc_litmus" open 30
cat "$TMP/out"
[ $rc -eq 0 ] || fail "rc_litmus open with DSM_RC_KEEP_OPEN=off: exit status $rc"
expect_eq "$(grep -c '^\[[0-9]\] rc_litmus: open rank [0-9] of 3: ok$' "$TMP/out")" 3 "DSM_RC_KEEP_OPEN=off verdicts"

DSM_CONSISTENCY=release run_job "$TMP/out" -t 120 -n 2 "$TBIN/rc_litmus" default 200
cat "$TMP/out"
[ $rc -eq 0 ] || fail "rc_litmus default (DSM_CONSISTENCY=release): exit status $rc"
expect_eq "$(grep -c '^\[[0-9]\] rc_litmus: mp-lock rank [0-9] of 2: ok$' "$TMP/out")" 2 "DSM_CONSISTENCY=release verdicts"

DSM_CONSISTENCY=relaxed run_job "$TMP/out" -t 60 -n 2 "$TBIN/rc_litmus" default 1
[ $rc -ne 0 ] || fail "DSM_CONSISTENCY=relaxed was accepted"
expect_grep 'DSM_CONSISTENCY=relaxed: expected release or sequential' "$TMP/out" "the refusal"
exit 0
