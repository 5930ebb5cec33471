#!/bin/sh
# Description: a failing rank's status becomes the job's and the other ranks
# are ended (SIGTERM, then SIGKILL after --grace); a rank killed by a signal;
# processes a rank leaves behind are ended; nothing is left afterwards.
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
. "$DSM_TOP/tests/launcher/common.sh"

cd "$TMP" || fail "cd $TMP"

# Rank 2 exits 3 once all four ranks run; the others sleep, trap SIGTERM
# (they record it, then die of it).
mkdir m1 s1
run_job out err -n 4 "$PROG" trap="$TMP/s1" mark="$TMP/m1" @2:waitmarks="$TMP/m1:4" @2:exit=3 sleep=60
expect_rc 3 "failing rank"
expect_grep "^dsmexec: rank 2 (host 127.0.0.1) exited with status 3\$" err "failure line"
expect_eq "$(grep -c '^dsmexec:' err)" 1 "exactly one launcher line"
for r in 0 1 3; do
	[ -e s1/sig.$r.15 ] || fail "rank $r was not sent SIGTERM"
done
expect_no_job_left "failing rank"

# The others ignore SIGTERM: SIGKILL ends them after the grace period.
mkdir m2
run_job out err --grace 0.5 -n 3 "$PROG" ignore=15 mark="$TMP/m2" @0:waitmarks="$TMP/m2:3" @0:exit=42 sleep=60
expect_rc 42 "failing rank, others ignore SIGTERM"
expect_grep "^dsmexec: rank 0 (host 127.0.0.1) exited with status 42\$" err "failure line"
expect_no_job_left "SIGTERM ignored"

# A rank killed by a signal: 128 + signal, and the signal named.
mkdir m3
run_job out err -n 3 "$PROG" mark="$TMP/m3" @1:waitmarks="$TMP/m3:3" @1:kill=9 sleep=60
expect_rc 137 "rank killed by SIGKILL"
expect_grep "^dsmexec: rank 1 (host 127.0.0.1) killed by signal 9 (Killed)\$" err "signal line"
expect_no_job_left "SIGKILL"

run_job out err -n 2 "$PROG" @0:kill=11 sleep=60
expect_rc 139 "rank killed by SIGSEGV"
expect_grep "^dsmexec: rank 0 (host 127.0.0.1) killed by signal 11 (Segmentation fault" err "SIGSEGV line"
expect_no_job_left "SIGSEGV"

# All ranks fail: the job's status is one of theirs, reported once.
run_job out err -n 4 "$PROG" exit=5
expect_rc 5 "all ranks fail"
expect_eq "$(grep -c '^dsmexec: rank [0-3] (host 127.0.0.1) exited with status 5$' err)" 1 "one failure line"

# A rank that leaves a child in its process group and a grandchild in a new
# session: the job still ends, with status 0, and takes both with it.
run_job out err -n 2 "$PROG" child orphan info
expect_rc 0 "rank with children left behind"
expect_eq "$(grep -c 'info rank=' out)" 2 "both ranks ran"
expect_no_job_left "children of a rank"

# Output written just before a failure is not lost.
run_job out err -n 2 "$PROG" lines=500 @1:exit=7 @0:sleep=60
expect_rc 7 "output before failure"
expect_eq "$(grep -c '^\[1\] line' out)" 500 "rank 1's lines before it failed"
expect_no_job_left "output before failure"

# A rank's dsmwrap dies: the job fails with the rank named, the program
# of that rank dies with its dsmwrap, the others are ended.
mkdir m4
DSM_TEST_TAG=$TAG "$BIN/dsmexec" -n 3 "$PROG" mark="$TMP/m4" sleep=60 >out 2>err &
job=$!
wait_for m4/started.0 m4/started.1 m4/started.2
wrap1=
for p in $(job_procs); do
	if tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | grep -q "dsmwrap .*--rank 1 *\$"; then wrap1=$p; fi
done
[ -n "$wrap1" ] || fail "no dsmwrap for rank 1"
kill -KILL $wrap1
rc=0
wait $job || rc=$?
_out=out _err=err
expect_rc 255 "dsmwrap killed"
expect_grep "^dsmexec: rank 1 (host 127.0.0.1) lost contact with its dsmwrap (dsmwrap killed by signal 9 (Killed))\$" \
	err "lost dsmwrap line"
expect_no_job_left "dsmwrap killed"

echo "ok"
