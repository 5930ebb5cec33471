#!/bin/sh
# Description: serve-only ranks (dsmexec --serve N, which sets DSM_SERVERS=N
# on every rank): the last N ranks never return from dsm_init but serve
# pages, locks and RPCs; application barriers count the other ranks only;
# every server exits 0 once the others have finalized, and nothing is left.
# DSM_SERVERS must leave rank 0 to run the program (the library refuses it
# too, when set by hand).
# Backends: uffd sigsegv
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
[ -x "$BIN/dsmexec" ] && [ -x "$TBIN/rpc_prog" ] && [ -x "$TBIN/sync_prog" ] || fail "build first: make tests"
TAG="rs.$$.$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"

# job SERVERS OUT dsmexec-args...: run a job with dsmexec --serve SERVERS,
# set $rc.
job() {
	_s=$1 _out=$2
	shift 2
	rc=0
	DSM_TEST_TAG=$TAG timeout -k 5 60 "$BIN/dsmexec" --serve "$_s" "$@" >"$_out" 2>&1 || rc=$?
	cat "$_out"
}
left_behind() {
	grep -lzx "DSM_TEST_TAG=$TAG" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -v -x "$$"
}

job 1 "$TMP/p" -n 4 "$BIN/rpc_ping"
[ $rc -eq 0 ] || fail "rpc_ping with a server exited $rc"
expect_grep "rpc_ping: 3 ranks answered (servers included): OK" "$TMP/p" "rpc_ping with a server"

job 1 "$TMP/c" -n 4 "$BIN/counter" 300
[ $rc -eq 0 ] || fail "counter with a server exited $rc"
expect_grep "counter: rank 0: 900 increments by 3 ranks, expected 900, 0 overlaps: OK" "$TMP/c" \
	"counter with a server (only the other 3 ranks count)"
if grep -q "^\[3\] counter" "$TMP/c"; then fail "the server rank ran the program"; fi

job 2 "$TMP/r" -n 5 "$TBIN/rpc_prog" concurrent 4 200
[ $rc -eq 0 ] || fail "calls to servers exited $rc"
expect_grep "concurrent: 3 ranks x 4 threads x 200 calls to 5 ranks, every reply matched: OK" "$TMP/r" \
	"calls to servers"

job 2 "$TMP/b" -n 5 "$TBIN/sync_prog" barrier 300
[ $rc -eq 0 ] || fail "barriers with servers exited $rc"
expect_grep "barrier: 300 barriers, nobody early: OK" "$TMP/b" "barriers without the servers"

job 1 "$TMP/j" -n 3 "$BIN/jacobi" 256 100
[ $rc -eq 0 ] || fail "jacobi with a server exited $rc"
expect_grep "jacobi: 256x256 grid, 100 sweeps on 2 ranks .*: OK" "$TMP/j" "jacobi with a server"

i=0
while [ -n "$(left_behind)" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(left_behind)" ] || fail "processes left behind"

# The variable by hand, as a job without --serve would pass it on.
rc=0
DSM_TEST_TAG=$TAG DSM_SERVERS=1 timeout -k 5 60 "$BIN/dsmexec" -n 3 "$BIN/rpc_ping" >"$TMP/v" 2>&1 || rc=$?
cat "$TMP/v"
[ $rc -eq 0 ] || fail "rpc_ping with DSM_SERVERS=1 exited $rc"
expect_grep "rpc_ping: 2 ranks answered (servers included): OK" "$TMP/v" "DSM_SERVERS set by hand"

rc=0
DSM_SERVERS=3 timeout -k 5 60 "$BIN/dsmexec" -n 3 "$BIN/rpc_ping" >"$TMP/x" 2>&1 || rc=$?
cat "$TMP/x"
[ $rc -ne 0 ] || fail "DSM_SERVERS=3 with 3 ranks was accepted"
expect_grep "DSM_SERVERS=3: expected an integer from 0 to 2" "$TMP/x" "the library's refusal"
echo "ok"
