#!/bin/sh
# Description: the consistency checker (tests/progs/sccheck.c): first the
# checker itself on made-up histories with known verdicts (it must find every
# forbidden one), then real jobs: every thread of every rank runs a random,
# seeded mix of reads and writes on 16 words over 4 pages and rank 0 checks
# the whole history for sequential consistency per location (and a necessary
# condition across locations).  3 ranks x 3 threads, and 4 ranks x 2 threads
# with block homes.  Set SCCHECK_SEED to repeat a run.
# Backends: uffd sigsegv
# Timeout: 120
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

"$TBIN/sccheck" --selftest >"$TMP/self" 2>&1
rc=$?
cat "$TMP/self"
[ $rc -eq 0 ] || fail "the checker's self-test: exit status $rc"
expect_grep '^sccheck: selftest: .* histories: ok$' "$TMP/self" "the checker's self-test"

seed=${SCCHECK_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
total=0
for job in "3 3 40000 cyclic" "4 2 40000 block"; do
	set -- $job
	n=$1 threads=$2 ops=$3 home=$4
	mkdir -p "$TMP/logs"
	DSM_HOME=$home "$BIN/dsmexec" -t 100 -n "$n" "$TBIN/sccheck" -t "$threads" -o "$ops" -s "$seed" \
		-d "$TMP/logs" >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "sccheck on $n ranks x $threads threads, $home homes, seed $seed: exit status $rc" \
		"(replay: DSM_HOME=$home dsmexec -n $n sccheck -t $threads -o $ops -s $seed)"
	want=$((n * threads * ops))
	expect_grep "^\[0\] sccheck: ok ($want operations verified, seed $seed)$" "$TMP/out" \
		"sccheck verdict on $n ranks"
	total=$((total + want))
	rm -rf "$TMP/logs"
done
echo "sccheck: $total operations verified in all (seed $seed)"
exit 0
