#!/bin/sh
# Description: DSM_SERVICE_PRIORITY: with nice the service thread runs at
# nice -20 where the process may raise it, and nothing else does (an RPC
# handler runs at the application's priority); off (the default) leaves
# every thread at the application's; fifo runs; a value it does not take is
# refused, naming the variable.
# Timeout: 90
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

run() { # what [VAR=value...]: the job's output in $TMP/out
	what=$1
	shift
	env "$@" "$BIN/dsmexec" -t 60 -n 2 "$TBIN/prio" >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] || fail "$what: exit status $rc"
}

# field FIELD RANK: from rank RANK's "prio: lowest L main M rpc R" line
field() {
	sed -n "s/^\[$2\] prio: lowest \(-*[0-9]*\) main \(-*[0-9]*\) rpc \(-*[0-9]*\)$/\\$1/p" "$TMP/out"
}

for how in off default; do
	if [ $how = off ]; then run "DSM_SERVICE_PRIORITY=off" DSM_SERVICE_PRIORITY=off; else run "the default"; fi
	for r in 0 1; do
		expect_eq "$(field 1 $r)" "$(field 2 $r)" "rank $r, $how: the lowest nice value of its threads (its main thread's)"
	done
	expect_eq "$(field 3 0)" "$(field 2 0)" "$how: the RPC handler's nice value (the application's)"
done

run "DSM_SERVICE_PRIORITY=fifo" DSM_SERVICE_PRIORITY=fifo

env DSM_SERVICE_PRIORITY=bogus "$BIN/dsmexec" -t 60 -n 1 "$TBIN/prio" >"$TMP/bad" 2>&1 &&
	fail "DSM_SERVICE_PRIORITY=bogus was accepted"
expect_grep 'DSM_SERVICE_PRIORITY=bogus: expected nice, fifo or off' "$TMP/bad" "the refusal"

run "DSM_SERVICE_PRIORITY=nice" DSM_SERVICE_PRIORITY=nice
expect_eq "$(field 3 0)" "$(field 2 1)" "the RPC handler's nice value on rank 1 (its main thread's)"
if [ "$(id -u)" != 0 ]; then
	[ "$(field 1 0)" = -20 ] || skip "this process may not raise a thread's priority (not root); the rest passed"
fi
for r in 0 1; do
	expect_eq "$(field 1 $r)" -20 "rank $r: the service thread's nice value"
done
