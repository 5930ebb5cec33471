#!/bin/sh
# Description: the application suite of make bench, smoke run: class S of
# every kernel of bin/app_bench (NPB CG, FT, IS and EP, verified against the
# published values of the class; jacobi, matmul and sort, against a serial
# run) on 2 ranks, and on 1 rank with 2 threads (the hybrid variant, whose
# threads meet in a spinning team barrier around dsm_barrier), through
# dsmexec.  Every kernel's verification must pass in both jobs.
# Backends: uffd sigsegv
# Timeout: 400
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

KERNELS="jacobi matmul sort cg ft is ep"

# job OUT RANKS VARIANT: the suite at class S, one repetition.
job() {
	rc=0
	timeout -k 5 180 "$BIN/dsmexec" -n "$2" "$BIN/app_bench" all --class S --reps 1 --variants "$3" \
		>"$1" 2>&1 || rc=$?
	cat "$1"
	expect_eq "$rc" 0 "app_bench on $2 rank(s), $3: exit status"
	if grep -q "FAILED" "$1"; then
		fail "a kernel failed its verification on $2 rank(s), $3"
	fi
}

job "$TMP/two" 2 dsm
for k in $KERNELS; do
	expect_grep "^\[0\] verify: $k class S dsm 2x1: ok" "$TMP/two" "$k verified on 2 ranks"
done
expect_grep "^\[0\] verify: cg class S dsm 2x1: ok: zeta 8.59717750786" "$TMP/two" "CG's zeta"

job "$TMP/hybrid" 1 hybrid
for k in $KERNELS; do
	expect_grep "^\[0\] verify: $k class S hybrid 1x2: ok" "$TMP/hybrid" "$k verified on 1 rank x 2 threads"
done
exit 0
