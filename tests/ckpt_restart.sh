#!/bin/sh
# Description: checkpoint and restart - a job killed by SIGKILL of one rank in
# the middle of its run, restarted with dsmexec --restart, resumes from its
# last checkpoint and ends with the result of an uninterrupted run; the
# resumed job checkpoints into the same directory and keeps one generation.
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

# DSM_RESTART in the environment does the same as --restart.
DSM_RESTART=$ck run_job "$TMP/out" -n 3 "$D" $args "$TMP/ck2"
cat "$TMP/out"
[ $rc -eq 0 ] || fail "the job with DSM_RESTART exited $rc"
expect_grep "resumed from the checkpoint after step 50" "$TMP/out" "DSM_RESTART's resume point"
expect_grep "result $want," "$TMP/out" "DSM_RESTART's result"
exit 0
