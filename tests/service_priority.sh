#!/bin/sh
# Description: DSM_SERVICE_PRIORITY: with nice the service thread runs at
# nice -20 where the process may raise it, and nothing else does (an RPC
# handler runs at the application's priority); off leaves every thread at
# the application's; auto (the default) runs the service thread at
# SCHED_FIFO only where the host's ranks outnumber its CPUs or DSM_BIND
# gave each rank its share of them; fifo runs; a
# value it does not take is refused, naming the variable.
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

# field FIELD RANK: from rank RANK's "prio: lowest L main M rpc R fifo F" line
field() {
	sed -n "s/^\[$2\] prio: lowest \(-*[0-9]*\) main \(-*[0-9]*\) rpc \(-*[0-9]*\) fifo \([0-9]*\)$/\\$1/p" "$TMP/out"
}

for how in off default; do
	if [ $how = off ]; then run "DSM_SERVICE_PRIORITY=off" DSM_SERVICE_PRIORITY=off; else run "the default"; fi
	for r in 0 1; do
		expect_eq "$(field 1 $r)" "$(field 2 $r)" "rank $r, $how: the lowest nice value of its threads (its main thread's)"
	done
	expect_eq "$(field 3 0)" "$(field 2 0)" "$how: the RPC handler's nice value (the application's)"
	if [ $how = off ]; then
		for r in 0 1; do
			expect_eq "$(field 4 $r)" 0 "rank $r, DSM_SERVICE_PRIORITY=off: threads at SCHED_FIFO"
		done
	fi
done

run "DSM_SERVICE_PRIORITY=fifo" DSM_SERVICE_PRIORITY=fifo

# auto (the default): SCHED_FIFO only where the host's ranks outnumber its
# CPUs or DSM_BIND gave each its share of them: 2 unbound ranks on the CPUs
# of this process (2 or more: none), the same bound (the service thread of
# each), then 2 ranks held to one CPU by taskset (the same).
if [ "$(nproc)" -ge 2 ]; then
	run "the default with DSM_BIND=off, 2 ranks on $(nproc) CPUs" DSM_BIND=off
	for r in 0 1; do
		expect_eq "$(field 4 $r)" 0 "rank $r, auto, unbound, with a CPU per rank: threads at SCHED_FIFO"
	done
	if [ "$(id -u)" = 0 ]; then
		run "the default, 2 ranks on $(nproc) CPUs" DSM_LOG=info
		expect_grep "each on its share: the service thread asks for SCHED_FIFO" "$TMP/out" "auto, bound: the reason"
		for r in 0 1; do
			expect_eq "$(field 4 $r)" 1 "rank $r, auto, bound to its share: threads at SCHED_FIFO"
		done
	fi
fi
if command -v taskset >/dev/null; then
	DSM_LOG=info taskset -c 0 "$BIN/dsmexec" -t 60 -n 2 "$TBIN/prio" >"$TMP/out" 2>&1 ||
		{ cat "$TMP/out"; fail "auto on one CPU: exit status $?"; }
	cat "$TMP/out"
	expect_grep "2 ranks on this host's 1 CPUs: the service thread asks for SCHED_FIFO" "$TMP/out" "auto on one CPU: the reason"
	if [ "$(id -u)" = 0 ]; then
		for r in 0 1; do
			expect_eq "$(field 4 $r)" 1 "rank $r, auto, 2 ranks on one CPU: threads at SCHED_FIFO"
		done
	fi
fi

env DSM_SERVICE_PRIORITY=bogus "$BIN/dsmexec" -t 60 -n 1 "$TBIN/prio" >"$TMP/bad" 2>&1 &&
	fail "DSM_SERVICE_PRIORITY=bogus was accepted"
expect_grep 'DSM_SERVICE_PRIORITY=bogus: expected auto, nice, fifo or off' "$TMP/bad" "the refusal"

run "DSM_SERVICE_PRIORITY=nice" DSM_SERVICE_PRIORITY=nice
expect_eq "$(field 3 0)" "$(field 2 1)" "the RPC handler's nice value on rank 1 (its main thread's)"
if [ "$(id -u)" != 0 ]; then
	[ "$(field 1 0)" = -20 ] || skip "this process may not raise a thread's priority (not root); the rest passed"
fi
for r in 0 1; do
	expect_eq "$(field 1 $r)" -20 "rank $r: the service thread's nice value"
done
