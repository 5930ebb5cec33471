#!/bin/sh
# Description: RPC - 4 ranks x 8 threads calling every rank (itself included)
# at once, each reply matched to its call; handlers that touch shared memory,
# take a lock and call back their caller; arguments and replies in the
# region; an unregistered id (-ENOENT), payload limits (-EMSGSIZE), a
# handler's own error, unregistering; a target that dies during a call
# ends the job instead of leaving the caller waiting.
# Backends: uffd sigsegv
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/rpc_prog
[ -x "$BIN/dsmexec" ] && [ -x "$P" ] && [ -x "$BIN/rpc_ping" ] || fail "build first: make tests"

# job OUT dsmexec-args...: run_job, then show its output.
job() {
	run_job "$@"
	cat "$1"
}

job "$TMP/c" -n 4 "$P" concurrent 8 300
[ $rc -eq 0 ] || fail "concurrent calls exited $rc"
expect_grep "concurrent: 4 ranks x 8 threads x 300 calls to 4 ranks, every reply matched: OK" "$TMP/c" \
	"concurrent calls"

job "$TMP/s" -n 3 "$P" shm
[ $rc -eq 0 ] || fail "handlers on shared memory exited $rc"
expect_grep "shm: .*: OK" "$TMP/s" "handlers on shared memory"

job "$TMP/e" -n 2 "$P" errors
[ $rc -eq 0 ] || fail "error cases exited $rc"
expect_grep "errors: OK" "$TMP/e" "error cases"
expect_grep "RPC 5 from rank 0: the handler's reply (9 bytes) exceeds the caller's buffer (8 bytes)" "$TMP/e" \
	"the oversized reply message"

job "$TMP/p" -n 4 "$BIN/rpc_ping"
[ $rc -eq 0 ] || fail "rpc_ping exited $rc"
expect_grep "rpc_ping: 3 ranks answered: OK" "$TMP/p" "rpc_ping"

start=$(date +%s)
job "$TMP/d" -n 3 "$P" die
secs=$(( $(date +%s) - start ))
[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "a call to a dying rank: the job exited $rc"
[ $secs -le 10 ] || fail "a call to a dying rank: the job took $secs s to end"
expect_grep "rank 1 dies in a handler" "$TMP/d" "the handler ran"
expect_grep "rank 1 closed its connection unexpectedly\|rank 1 (host [^)]*) exited with status 7" "$TMP/d" \
	"a message naming rank 1"
if grep -q "FAIL" "$TMP/d"; then fail "a wait returned although rank 1 died"; fi
