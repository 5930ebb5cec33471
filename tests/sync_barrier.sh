#!/bin/sh
# Description: 1,000 consecutive barriers with 4 ranks (and 300 with 3, not a
# power of two: the dissemination barrier's rounds wrap around); after each
# one every rank checks, in a shared phase table, that every rank has entered
# it and none has passed the next (no rank leaves a barrier early).  Then
# release-consistent memory on 3 and 5 ranks: every rank writes its word of
# one page before each barrier and must read every rank's word after it (the
# barrier's rounds carry the union of the write notices).
# Backends: uffd sigsegv
# Timeout: 180
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/sync_prog
[ -x "$BIN/dsmexec" ] && [ -x "$P" ] || fail "build first: make tests"

# run N TEST ROUNDS EXPECT
run() {
	rc=0
	timeout -k 5 100 "$BIN/dsmexec" -n "$1" "$P" "$2" "$3" >"$TMP/out" 2>&1 || rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "$2 on $1 ranks exited $rc"
	expect_grep "$4" "$TMP/out" "$2 on $1 ranks"
}

run 4 barrier 1000 "barrier: 1000 barriers, nobody early: OK"
run 3 barrier 300 "barrier: 300 barriers, nobody early: OK"
run 3 barrier-rc 200 "barrier-rc: 200 barriers on 3 ranks, every write seen: OK"
run 5 barrier-rc 100 "barrier-rc: 100 barriers on 5 ranks, every write seen: OK"
