#!/bin/sh
# Description: named allocations - every rank asking for one name gets one
# address, zero-filled even on reused space; asking with another size fails
# with EINVAL and a message naming both sizes; bad frees and bad names are
# refused; vector_add passes pointers to dsm_malloc'd vectors through a
# named block.
# Backends: uffd sigsegv
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/alloc_prog
[ -x "$BIN/dsmexec" ] && [ -x "$P" ] && [ -x "$BIN/vector_add" ] || fail "build first: make tests"

run_job "$TMP/out" -n 4 "$P" named
cat "$TMP/out"
[ $rc -eq 0 ] || fail "named allocations exited $rc"
expect_grep "named: 4 ranks, one address, zero-filled: OK" "$TMP/out" "named allocations"
expect_grep 'dsm_alloc_named("alpha", 5): that name is already allocated with 10000 bytes' "$TMP/out" \
	"the size mismatch message"

run_job "$TMP/out" -n 3 "$BIN/vector_add" 100000
cat "$TMP/out"
[ $rc -eq 0 ] || fail "vector_add exited $rc"
expect_grep "vector_add: 100000 elements added by 3 ranks: OK" "$TMP/out" "vector_add"
