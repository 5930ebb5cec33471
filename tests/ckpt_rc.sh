#!/bin/sh
# Description: checkpoints save release-consistent memory.  Three ranks write
# disjoint words of one page of a dsm_malloc_rc block, of a named
# release-consistent block and of a DSM_SHARED_RC array, add to a counter under a lock, and write once
# more just before dsm_checkpoint (no barrier between: the checkpoint flushes
# it); a job restarted from it reads every saved word on every rank, finds
# its blocks where they were, and can write and checkpoint again; so does a
# job of one rank (whose barriers publish nothing).  With
# DSM_RC_HOMES=migrate the pages each rank alone wrote have moved their homes
# to it by the checkpoint; the restart claims them again (and a restart with
# static homes is refused, naming the page).  Then
# ckpt_demo with all its memory release-consistent (DSM_CONSISTENCY=release)
# is killed at step 35, restarted from its checkpoint after step 30, and ends
# with the result of an uninterrupted run.
# Backends: uffd sigsegv
# Timeout: 150
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
P=$TBIN/ckpt_rc
D=$BIN/ckpt_demo
[ -x "$BIN/dsmexec" ] && [ -x "$P" ] && [ -x "$D" ] || fail "build first: make tests"
ck=$TMP/ck

run_job "$TMP/out" -n 3 "$P" save "$ck"
cat "$TMP/out"
[ $rc -eq 0 ] || fail "save exited $rc"
expect_grep "save: 3 ranks wrote one page of each block and global, 100 adds each, checkpoint written: OK" "$TMP/out" "save"
expect_eq "$(readlink "$ck/current")" gen.1 "the checkpoint's generation"
expect_grep "^dsm-checkpoint 2$" "$ck/gen.1/MANIFEST" "the checkpoint's format"

run_job "$TMP/out" -n 3 --restart "$ck" "$P" check "$ck"
cat "$TMP/out"
[ $rc -eq 0 ] || fail "check after --restart exited $rc"
expect_grep "check: every word of 3 writers restored on every rank, blocks where they were, written and checkpointed again: OK" \
	"$TMP/out" "check"
expect_eq "$(readlink "$ck/current")" gen.2 "the restarted job's checkpoint"

# Homes that moved (DSM_RC_HOMES=migrate): each rank's own page is homed at
# it by the checkpoint; the restart claims those homes again.
DSM_RC_HOMES=migrate DSM_LOG=debug run_job "$TMP/out" -n 3 "$P" save "$TMP/mig"
[ $rc -eq 0 ] || { tail -30 "$TMP/out"; fail "save with moving homes exited $rc"; }
expect_grep "rc: [0-9]* pages changed home" "$TMP/out" "homes that moved before the checkpoint"
DSM_RC_HOMES=migrate DSM_LOG=debug run_job "$TMP/out" -n 3 --restart "$TMP/mig" "$P" check "$TMP/mig"
[ $rc -eq 0 ] || { grep -v "\] \[dsm" "$TMP/out" | tail -30; fail "check with moving homes exited $rc"; }
expect_grep "changed home at the end of barrier epoch 0" "$TMP/out" "the restart's claims"
expect_grep "check: every word of 3 writers restored on every rank" "$TMP/out" "check with moving homes"
DSM_RC_HOMES=static run_job "$TMP/out" -n 3 --restart "$TMP/mig" "$P" check "$TMP/mig"
[ $rc -ne 0 ] || fail "a checkpoint with moved homes restarted with static homes"
expect_grep "home had moved to rank [0-9] when the checkpoint was taken" "$TMP/out" "the refusal of static homes"

# One rank: no barrier publishes its writes, the checkpoint must.
run_job "$TMP/out" -n 1 "$P" save "$TMP/one"
cat "$TMP/out"
[ $rc -eq 0 ] || fail "save on one rank exited $rc"
run_job "$TMP/out" -n 1 --restart "$TMP/one" "$P" check "$TMP/one"
cat "$TMP/out"
[ $rc -eq 0 ] || fail "check on one rank exited $rc"
expect_grep "check: every word of 1 writers restored" "$TMP/out" "check on one rank"

# The whole of ckpt_demo in release-consistent memory: killed, restarted.
args="-s 60 -k 10 -c 30000"
run_job "$TMP/ref" -n 3 "$D" $args "$TMP/ref.ck"
[ $rc -eq 0 ] || { cat "$TMP/ref"; fail "the uninterrupted run exited $rc"; }
want=$(sed -n 's/.*result \([0-9a-f]*\),.*/\1/p' "$TMP/ref")
[ -n "$want" ] || fail "the uninterrupted run printed no result"
export DSM_CONSISTENCY=release
run_job "$TMP/out" -n 3 "$D" $args -x 1@35 "$TMP/rc.ck"
cat "$TMP/out"
expect_eq $rc 137 "the killed release-consistent job's exit status"
expect_eq "$(readlink "$TMP/rc.ck/current")" gen.3 "the release-consistent job's last checkpoint"
run_job "$TMP/out" -n 3 --restart "$TMP/rc.ck" "$D" $args "$TMP/rc.ck"
cat "$TMP/out"
[ $rc -eq 0 ] || fail "the restarted release-consistent job exited $rc"
expect_grep "resumed from the checkpoint after step 30" "$TMP/out" "the resume point"
expect_grep "result $want, 1800000 updates: matches a one-process run" "$TMP/out" "the restarted result"
exit 0
