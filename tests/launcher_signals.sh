#!/bin/sh
# Description: SIGINT and SIGTERM to dsmexec reach every rank; a second one
# kills the job; --timeout ends a job; dsmexec killed outright takes its
# ranks with it (each dsmwrap ends its program when its link drops).
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
. "$DSM_TOP/tests/launcher/common.sh"

cd "$TMP" || fail "cd $TMP"

# start_job NAME dsmexec-args...: in the background; $job is its pid.
start_job() {
	_n=$1
	shift
	DSM_TEST_TAG=$TAG "$BIN/dsmexec" "$@" >out.$_n 2>err.$_n &
	job=$!
}
# finish_job NAME: wait for it (it must end by itself), set $rc.
finish_job() {
	rc=0
	wait $job || rc=$?
	_out=out.$1 _err=err.$1
}

# SIGINT is forwarded: every rank records it and dies of it -> 130.
mkdir m1 s1
start_job int -n 3 "$PROG" trap="$TMP/s1" mark="$TMP/m1" sleep=60
wait_for m1/started.0 m1/started.1 m1/started.2
kill -INT $job
finish_job int
expect_rc 130 "SIGINT"
for r in 0 1 2; do [ -e s1/sig.$r.2 ] || fail "rank $r did not get SIGINT"; done
expect_grep "^dsmexec: rank [0-2] (host 127.0.0.1) killed by signal 2 (Interrupt)\$" err.int "SIGINT line"
expect_no_job_left "SIGINT"

# SIGTERM likewise -> 143.
mkdir m2 s2
start_job term -n 2 "$PROG" trap="$TMP/s2" mark="$TMP/m2" sleep=60
wait_for m2/started.0 m2/started.1
kill -TERM $job
finish_job term
expect_rc 143 "SIGTERM"
for r in 0 1; do [ -e s2/sig.$r.15 ] || fail "rank $r did not get SIGTERM"; done
expect_no_job_left "SIGTERM"

# Ranks that only note SIGINT keep running; a second SIGINT kills the job.
mkdir m3 s3
start_job twice -n 2 "$PROG" note="$TMP/s3" ignore=15 mark="$TMP/m3" sleep=60
wait_for m3/started.0 m3/started.1
kill -INT $job
wait_for s3/sig.0.2 s3/sig.1.2
kill -0 $job 2>/dev/null || fail "the job ended after one SIGINT that its ranks handled"
kill -INT $job
finish_job twice
expect_rc 130 "second SIGINT"
expect_grep "^dsmexec: signal 2 (Interrupt) received twice: job killed\$" err.twice "second SIGINT line"
expect_no_job_left "second SIGINT"

# Ranks that handle SIGINT and then exit 0 make a job that succeeds.
mkdir m4 s4
start_job clean -n 2 "$PROG" note="$TMP/s4" mark="$TMP/m4" @0:until="$TMP/s4/sig.0.2" @1:until="$TMP/s4/sig.1.2"
wait_for m4/started.0 m4/started.1
kill -INT $job
finish_job clean
expect_rc 0 "SIGINT handled by the ranks"
expect_eq "$(cat err.clean)" "" "no launcher message"
expect_no_job_left "SIGINT handled"

# --timeout ends a job that runs too long.
run_job out err --timeout 1 -n 2 "$PROG" sleep=60
expect_rc 124 "--timeout"
expect_grep "^dsmexec: job timed out after 1 s\$" err "timeout line"
expect_no_job_left "--timeout"

# ... also when the ranks ignore SIGTERM.
run_job out err --timeout 0.5 --grace 0.2 -n 2 "$PROG" ignore=15 sleep=60
expect_rc 124 "--timeout, SIGTERM ignored"
expect_no_job_left "--timeout, SIGTERM ignored"

# A job that ends in time is not affected by --timeout.
run_job out err --timeout 50 -n 2 "$PROG" info
expect_rc 0 "--timeout not reached"

# dsmexec killed with SIGKILL: each dsmwrap sees its link drop and ends its
# rank (SIGTERM, then SIGKILL after the grace period).
mkdir m5
start_job killed --grace 0.5 -n 3 "$PROG" @1:ignore=15 mark="$TMP/m5" sleep=60
wait_for m5/started.0 m5/started.1 m5/started.2
kill -KILL $job
finish_job killed
expect_rc 137 "dsmexec killed"
expect_no_job_left "dsmexec killed"

echo "ok"
