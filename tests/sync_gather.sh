#!/bin/sh
# Description: dsm_allgather and dsm_allreduce on 1, 2, 3 and 5 ranks (the
# dissemination rounds wrap around when the count is not a power of two)
# and on 2 ranks beside a serve-only rank: 80 rounds each of an allgather
# whose length changes every round (1 byte to 16 KiB, buffers private and in
# the shared region, every byte checked) and of allreduce of every type with
# every operation (checked against what each rank computes alone), with a
# release-consistent word per rank that must be read back after every
# collective.  Bad arguments are refused with -EINVAL; a rank that calls
# dsm_barrier where the others call dsm_allgather, or passes another
# length, ends the job with a message that says so.
# Backends: uffd sigsegv
# Timeout: 180
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/sync_prog
[ -x "$BIN/dsmexec" ] && [ -x "$P" ] || fail "build first: make tests"

for n in 1 2 3 5; do
	rc=0
	timeout -k 5 100 "$BIN/dsmexec" -n $n "$P" gather 80 >"$TMP/out" 2>&1 || rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "gather on $n ranks exited $rc"
	expect_grep "gather: 80 rounds on $n ranks: OK" "$TMP/out" "gather on $n ranks"
done

rc=0
DSM_SERVERS=1 timeout -k 5 100 "$BIN/dsmexec" -n 3 "$P" gather 40 >"$TMP/out" 2>&1 || rc=$?
cat "$TMP/out"
[ $rc -eq 0 ] || fail "gather beside a server exited $rc"
expect_grep "gather: 40 rounds on 2 ranks: OK" "$TMP/out" "gather on 2 ranks and a server"

rc=0
timeout -k 5 60 "$BIN/dsmexec" -n 3 "$P" gather-args >"$TMP/out" 2>&1 || rc=$?
cat "$TMP/out"
[ $rc -eq 0 ] || fail "gather-args exited $rc"
expect_grep "gather-args: OK" "$TMP/out" "bad arguments refused"

# mismatch WHAT MESSAGE
mismatch() {
	rc=0
	timeout -k 5 60 "$BIN/dsmexec" -n 3 "$P" "$1" >"$TMP/out" 2>&1 || rc=$?
	cat "$TMP/out"
	[ $rc -ne 0 ] || fail "$1: the job exited 0"
	[ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "$1: the job hung"
	expect_grep "$2" "$TMP/out" "$1: the message"
	if grep -q "FAIL" "$TMP/out"; then fail "$1: a mismatched collective returned"; fi
}
mismatch gather-mismatch "called dsm_allgather (or dsm_allreduce) where this rank called dsm_barrier\|called dsm_barrier where this rank called dsm_allgather"
mismatch gather-length "every rank must pass the same length"
echo "ok"
