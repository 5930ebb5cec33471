#!/bin/sh
# Description: the consistency checker (tests/progs/sccheck.c) on
# release-consistent memory with every access inside the word's own lock
# (sccheck -l, a data-race-free program): the history must be sequentially
# consistent.  3 ranks x 2 threads, and 4 ranks x 2 threads with block homes.
# Set SCCHECK_SEED to repeat a run.
# Backends: uffd sigsegv
# Timeout: 180
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

seed=${SCCHECK_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
for job in "3 2 3000 cyclic" "4 2 2000 block"; do
	set -- $job
	n=$1 threads=$2 ops=$3 home=$4
	mkdir -p "$TMP/logs"
	DSM_HOME=$home run_job "$TMP/out" -t 100 -n "$n" "$TBIN/sccheck" -l -t "$threads" -o "$ops" -s "$seed" \
		-d "$TMP/logs"
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "sccheck -l on $n ranks x $threads threads, $home homes, seed $seed: exit status $rc"
	want=$((n * threads * ops))
	expect_grep "^\[0\] sccheck: ok ($want operations verified, seed $seed)$" "$TMP/out" \
		"sccheck -l verdict on $n ranks"
	rm -rf "$TMP/logs"
done
exit 0
