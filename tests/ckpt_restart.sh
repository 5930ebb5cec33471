#!/bin/sh
# Description: checkpoint and restart - a job one of whose ranks dies by
# SIGKILL in the middle of its run (by its own hand at a chosen step, or
# kill -9 from outside), restarted with dsmexec --restart (or DSM_RESTART),
# resumes from its last checkpoint and ends with the result of an
# uninterrupted run; the resumed job checkpoints into the same directory and
# keeps one generation.
# Backends: uffd sigsegv
# Timeout: 120
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
D=$BIN/ckpt_demo
[ -x "$BIN/dsmexec" ] && [ -x "$D" ] || fail "build first: make"
args="-s 60 -k 10 -c 30000"

run_job "$TMP/ref" -n 3 "$D" $args "$TMP/ref.ck"
cat "$TMP/ref"
[ $rc -eq 0 ] || fail "the uninterrupted run exited $rc"
want=$(sed -n 's/.*result \([0-9a-f]*\),.*/\1/p' "$TMP/ref")
[ -n "$want" ] || fail "the uninterrupted run printed no result"

# Rank 1 dies at step 35: the last checkpoint is the one after step 30.
ck=$TMP/ck
run_job "$TMP/out" -n 3 "$D" $args -x 1@35 "$ck"
cat "$TMP/out"
expect_eq $rc 137 "the killed job's exit status (rank 1's SIGKILL)"
expect_grep "rank 1 kills itself at step 35" "$TMP/out" "the kill"
! grep -q "result" "$TMP/out" || fail "the killed job finished"
expect_eq "$(readlink "$ck/current")" gen.3 "the last committed checkpoint"

run_job "$TMP/out" -n 3 --restart "$ck" "$D" $args "$ck"
cat "$TMP/out"
[ $rc -eq 0 ] || fail "the restarted job exited $rc"
expect_grep "resumed from the checkpoint after step 30" "$TMP/out" "the resume point"
expect_grep "result $want, 1800000 updates: matches a one-process run" "$TMP/out" "the restarted result"
expect_eq "$(readlink "$ck/current")" gen.5 "the restarted job's last checkpoint"
expect_eq "$(cd "$ck" && echo gen.*)" gen.5 "generations kept"

# kill -9 from outside, at whatever moment: a slow run (30 ms a step) on a
# private copy of the program, so that only this test's ranks are found.
cp "$D" "$TMP/ckpt_demo" || fail "cannot copy $D"
ck=$TMP/ck.ext
timeout -k 5 60 "$BIN/dsmexec" -n 3 "$TMP/ckpt_demo" $args -d 30 "$ck" >"$TMP/out" 2>&1 &
job=$!
i=0
until grep -q "checkpoint after step 20" "$TMP/out"; do
	i=$((i + 1))
	[ $i -lt 300 ] || { kill $job; cat "$TMP/out"; fail "the slow run did not reach its second checkpoint"; }
	sleep 0.05
done
victim=$(pgrep -f "^$TMP/ckpt_demo" | sed -n 2p)
[ -n "$victim" ] || fail "no rank of the slow run found"
kill -9 "$victim"
wait $job
rc=$?
cat "$TMP/out"
expect_eq $rc 137 "the slow run's exit status after kill -9 of pid $victim"
! grep -q "result" "$TMP/out" || fail "the slow run finished although a rank was killed"
expect_no_leftovers "$TMP/ckpt_demo"
run_job "$TMP/out" -n 3 --restart "$ck" "$TMP/ckpt_demo" $args "$ck"
cat "$TMP/out"
[ $rc -eq 0 ] || fail "the job restarted after kill -9 exited $rc"
expect_grep "resumed from the checkpoint after step [2-5]0$" "$TMP/out" "the resume point after kill -9"
expect_grep "result $want, 1800000 updates: matches a one-process run" "$TMP/out" "the result after kill -9"

# DSM_RESTART in the environment does the same as --restart.
DSM_RESTART=$ck run_job "$TMP/out" -n 3 "$D" $args "$TMP/ck2"
cat "$TMP/out"
[ $rc -eq 0 ] || fail "the job with DSM_RESTART exited $rc"
expect_grep "resumed from the checkpoint after step 50" "$TMP/out" "DSM_RESTART's resume point"
expect_grep "result $want," "$TMP/out" "DSM_RESTART's result"
exit 0
