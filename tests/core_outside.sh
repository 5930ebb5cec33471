#!/bin/sh
# Description: after dsm_init an access outside the shared region (NULL, an
# munmapped page, a read-only page, the pages just below and just above the
# region) still dies of SIGSEGV, alone and through dsmexec; a SIGSEGV handler
# the program installed before dsm_init still gets outside faults (plain,
# SA_SIGINFO, and SA_ONSTACK for a stack overflow), never the region's.
# Backends: uffd sigsegv
# Timeout: 120
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
ulimit -c 0
# Under a sanitizer build, let SIGSEGV kill as it does without one.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0"
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}handle_segv=0"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}handle_segv=0"

# A private copy, so that expect_no_leftovers sees this run's processes only
# (not those of a concurrent run of the suite).
cp "$TBIN/outside" "$TMP/outside" || fail "cannot copy $TBIN/outside"
prog=$TMP/outside
# Run alone: a job of one rank.
unset DSM_RANK DSM_NRANKS DSM_ROOT DSM_RENDEZVOUS

for mode in null unmapped readonly below above; do
	timeout 30 "$prog" "$mode" >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	if [ $rc -eq 77 ]; then
		echo "($mode: $(tail -n 1 "$TMP/out"))"
		continue
	fi
	expect_grep "^outside: $mode: now$" "$TMP/out" "$mode, alone: the access was reached"
	expect_eq $rc 139 "$mode, alone: exit status (128 + SIGSEGV)"
done

# The application's own handlers.
for mode in handler plain altstack; do
	timeout 30 "$prog" "$mode" >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "$mode, alone: exit status $rc"
	expect_grep "^outside: $mode: rank 0: ok$" "$TMP/out" "$mode, alone"

	"$BIN/dsmexec" -t 60 -n 2 "$prog" "$mode" >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "$mode, 2 ranks: exit status $rc"
	expect_grep "^\[0\] outside: $mode: rank 0: ok$" "$TMP/out" "$mode, rank 0"
	expect_grep "^\[1\] outside: $mode: rank 1: ok$" "$TMP/out" "$mode, rank 1"
done

# Through the launcher: one rank, and rank 1 of two while rank 0 waits in a
# barrier (last: the launcher's choice of culprit is checked here).
for mode in null unmapped; do
	"$BIN/dsmexec" -t 60 -n 1 "$prog" "$mode" >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	expect_grep "^\[0\] outside: $mode: now$" "$TMP/out" "$mode, dsmexec -n 1: the access was reached"
	expect_eq $rc 139 "$mode, dsmexec -n 1: exit status"

	"$BIN/dsmexec" -t 60 -n 2 "$prog" "$mode" 1 >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	expect_grep "^\[1\] outside: $mode: now$" "$TMP/out" "$mode, dsmexec -n 2: the access was reached"
	! grep -q "left the barrier" "$TMP/out" || fail "$mode, dsmexec -n 2: rank 0 left its barrier"
	# The first failure is rank 1's SIGSEGV; rank 0's exit when it loses
	# rank 1 is a consequence, and must not be what the job reports.
	if [ $rc -eq 1 ] && grep -q "rank 0 .*exited with status 1" "$TMP/out"; then
		fail "$mode, dsmexec -n 2: dsmexec reported rank 0's exit (status 1), a consequence of" \
			"rank 1's SIGSEGV, instead of rank 1's signal (139)"
	fi
	expect_eq $rc 139 "$mode, dsmexec -n 2: exit status"
	expect_grep "rank 1 .*signal 11" "$TMP/out" "$mode, dsmexec -n 2: rank 1's death named"
done
expect_no_leftovers "$prog"

exit 0
