#!/bin/sh
# Description: 1,000 consecutive barriers with 4 ranks; after each one every
# rank checks, in a shared phase table, that every rank has entered it and
# none has passed the next (no rank leaves a barrier early).
# Backends: uffd sigsegv
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/sync_prog
[ -x "$BIN/dsmexec" ] && [ -x "$P" ] || fail "build first: make tests"

rc=0
timeout -k 5 100 "$BIN/dsmexec" -n 4 "$P" barrier 1000 >"$TMP/out" 2>&1 || rc=$?
cat "$TMP/out"
[ $rc -eq 0 ] || fail "barrier test exited $rc"
expect_grep "barrier: 1000 barriers, nobody early: OK" "$TMP/out" "barriers"
