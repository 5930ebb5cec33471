#!/bin/sh
# Description: threads of several ranks on one lock (cached at its last
# holder, recalled by its home) - 2 threads per rank take it with dsm_lock and
# dsm_trylock and increment a shared counter: no two holders at once, the
# total exact; on 1 rank (the lock never leaves the cache) and on 3 ranks.
# Backends: uffd sigsegv
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/sync_prog
[ -x "$BIN/dsmexec" ] && [ -x "$P" ] || fail "build first: make tests"

for run in "1 4000" "3 300"; do
	set -- $run
	run_job "$TMP/out" -n $1 "$P" threads $2
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "threads with $1 ranks exited $rc"
	expect_grep "threads: $1 ranks x 2 threads x $2 rounds = $(($1 * 2 * $2)) increments: OK" "$TMP/out" \
		"threads with $1 ranks"
done
echo "ok"
