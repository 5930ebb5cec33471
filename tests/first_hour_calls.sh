#!/bin/sh
# Description: early, late and forgotten calls.  A program that returns from
# main without dsm_finalize ends normally with all its output (status 0), or
# with its own status and the launcher's one message naming the rank; calls
# made before dsm_init or after dsm_finalize say so on stderr, naming the call;
# a rank that dies of SIGSEGV is named once, by the launcher, and no other
# rank talks of reconnecting to it or of a connection it closed.
# Backends: uffd sigsegv
# Timeout: 240
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
ulimit -c 0
# detect_leaks=0: the forked child of "forget" exits through LeakSanitizer,
# which can deadlock on an allocator lock another thread held at fork time
# (gcc 12's libsanitizer); leaks are checked by every other test.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0:detect_leaks=0"
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}handle_segv=0"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}handle_segv=0"
prog=$TBIN/first_hour
unset DSM_RANK DSM_NRANKS DSM_ROOT DSM_RENDEZVOUS

# Lines a consequence of someone else's failure must not print.
no_noise() { # FILE WHAT
	! grep -q "closed its connection unexpectedly" "$1" || { cat "$1"; fail "$2: an innocent rank blamed a peer"; }
	! grep -q "reconnect" "$1" || { cat "$1"; fail "$2: a rank talked of reconnecting"; }
	! grep -q "refused a control connection" "$1" || { cat "$1"; fail "$2: dsmexec reported a refusal"; }
}

# Forgotten dsm_finalize, normal program: several runs (it failed 3 in 5).
for i in 1 2 3 4 5; do
	run_job "$TMP/out" -t 60 -n 3 "$prog" forget
	cat "$TMP/out"
	expect_eq $rc 0 "forget, run $i: exit status"
	for r in 0 1 2; do
		expect_grep "^\[$r\] rank $r of 3: done, without dsm_finalize$" "$TMP/out" "forget, run $i: rank $r's output"
	done
	no_noise "$TMP/out" "forget, run $i"
done

# Forgotten dsm_finalize, failing program: rank 1 returns 3.
for i in 1 2; do
	run_job "$TMP/out" -t 60 -n 3 "$prog" forget-fail
	cat "$TMP/out"
	expect_eq $rc 3 "forget-fail, run $i: exit status (rank 1's)"
	expect_grep "^\[1\] rank 1 of 3: done, without dsm_finalize$" "$TMP/out" "forget-fail, run $i: rank 1's output"
	expect_grep "^dsmexec: rank 1 (host .*) exited with status 3$" "$TMP/out" "forget-fail, run $i: rank 1 named"
	expect_eq "$(grep -c "^dsmexec:" "$TMP/out")" 1 "forget-fail, run $i: dsmexec's messages"
	no_noise "$TMP/out" "forget-fail, run $i"
done

# Calls at the wrong time, alone and as one rank of two.
timeout 30 "$prog" early >"$TMP/out" 2>&1
rc=$?
cat "$TMP/out"
expect_eq $rc 0 "early: exit status"
for call in dsm_malloc dsm_lock dsm_barrier dsm_finalize; do
	expect_grep "^\[dsm\] $call called before dsm_init$" "$TMP/out" "early: $call before dsm_init"
done
expect_grep "^before: dsm_malloc Invalid argument$" "$TMP/out" "early: dsm_malloc's errno"
expect_grep "^before: dsm_lock -22$" "$TMP/out" "early: dsm_lock's return"
expect_grep "^\[dsm 0\] dsm_malloc called after dsm_finalize$" "$TMP/out" "early: dsm_malloc after dsm_finalize"
expect_grep "^\[dsm 0\] dsm_sem_post called after dsm_finalize$" "$TMP/out" "early: dsm_sem_post after dsm_finalize"
expect_grep "^after: dsm_sem_post -22$" "$TMP/out" "early: dsm_sem_post's return"
expect_grep "dsm_init called after dsm_finalize" "$TMP/out" "early: dsm_init again"
expect_eq "$(grep -c "called" "$TMP/out")" 7 "early: one line per wrong call"

run_job "$TMP/out" -t 60 -n 2 "$prog" early
cat "$TMP/out"
expect_eq $rc 0 "early, 2 ranks: exit status"
expect_grep "^\[1\] \[dsm\] dsm_lock called before dsm_init$" "$TMP/out" "early, 2 ranks: rank 1's dsm_lock"
expect_grep "^\[1\] \[dsm 1\] dsm_malloc called after dsm_finalize$" "$TMP/out" "early, 2 ranks: rank 1 after"

# A SIGSEGV outside the region: named once, by dsmexec.
for i in 1 2; do
	run_job "$TMP/out" -t 60 -n 3 "$prog" segv
	cat "$TMP/out"
	expect_eq $rc 139 "segv, run $i: exit status"
	expect_grep "^dsmexec: rank 1 (host .*) killed by signal 11" "$TMP/out" "segv, run $i: rank 1 named"
	expect_eq "$(grep -c "signal 11\|rank 1" "$TMP/out")" 2 "segv, run $i: lines naming rank 1 (its own and dsmexec's)"
	no_noise "$TMP/out" "segv, run $i"
done
exit 0
