#!/bin/sh
# Description: a torn checkpoint - every rank killed while writing its pages,
# after its pages are in place but before the MANIFEST, or (rank 0) after the
# MANIFEST but before current moves (DSM_CKPT_TEST_CRASH) - leaves the
# previous checkpoint current and usable: the restart resumes from it and
# gets the uninterrupted result; the next checkpoint clears the debris.
# Backends: uffd sigsegv
# Timeout: 150
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
D=$BIN/ckpt_demo
[ -x "$BIN/dsmexec" ] && [ -x "$D" ] || fail "build first: make"
args="-s 40 -k 10 -c 30000"

run_job "$TMP/ref" -n 3 "$D" $args "$TMP/ref.ck"
[ $rc -eq 0 ] || { cat "$TMP/ref"; fail "the uninterrupted run exited $rc"; }
want=$(sed -n 's/.*result \([0-9a-f]*\),.*/\1/p' "$TMP/ref")
[ -n "$want" ] || fail "the uninterrupted run printed no result"

for stage in mid-pages after-pages before-switch; do
	ck=$TMP/ck.$stage
	# The third checkpoint (after step 30) is torn.
	DSM_CKPT_TEST_CRASH=$stage@3 run_job "$TMP/out" -n 3 "$D" $args "$ck"
	cat "$TMP/out"
	[ $rc -ne 0 ] || fail "$stage: the job survived its crash"
	expect_grep "DSM_CKPT_TEST_CRASH=$stage: exiting in the middle of checkpoint 3" "$TMP/out" "$stage: the crash"
	! grep -q "checkpoint after step 30" "$TMP/out" || fail "$stage: checkpoint 3 was reported done"
	expect_eq "$(readlink "$ck/current")" gen.2 "$stage: current after the crash"
	[ -d "$ck/gen.3" ] || fail "$stage: the torn generation left nothing behind (did the hook fire?)"
	case $stage in
	mid-pages) ls "$ck/gen.3" | grep -q '\.tmp$' || fail "mid-pages: no half-written file" ;;
	# (the first rank to reach the hook has its file in place; the
	# launcher may end the others before they get there)
	after-pages) ls "$ck/gen.3" | grep -q '^rank\.[0-9]*\.pages$' && [ ! -f "$ck/gen.3/MANIFEST" ] ||
		fail "after-pages: expected a rank's pages and no MANIFEST" ;;
	before-switch) [ -f "$ck/gen.3/MANIFEST" ] || fail "before-switch: no MANIFEST" ;;
	esac

	run_job "$TMP/out" -n 3 --restart "$ck" "$D" $args "$ck"
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "$stage: the restarted job exited $rc"
	expect_grep "resumed from the checkpoint after step 20" "$TMP/out" "$stage: the resume point"
	expect_grep "result $want, 1200000 updates: matches a one-process run" "$TMP/out" "$stage: the result"
	expect_eq "$(cd "$ck" && echo gen.*)" gen.3 "$stage: generations after the next checkpoint"
done
exit 0
