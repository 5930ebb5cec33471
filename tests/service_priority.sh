#!/bin/sh
# Description: DSM_SERVICE_PRIORITY: with nice the service thread runs at
# nice -20 where the process may raise it, and nothing else does (an RPC
# handler runs at the application's priority); off leaves every thread at
# the application's; auto (the default) runs the service thread at
# SCHED_FIFO where the host's ranks outnumber its CPUs or DSM_BIND
# gave each rank its share of them, elsewhere only while it waits for a CPU
# that the rank's own threads fill; fifo runs; a
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
# auto where it chose off: a rank whose threads fill its CPU (one spins,
# one waits in a barrier) and whose service thread therefore waits for that
# CPU raises the service thread while rank 0 reads its pages (prio busy);
# off never does.  Where the scheduler lets it in at once (under
# ADAPT_WAIT_NS, 1 ms a run) there is nothing to raise.
if [ "$(nproc)" -ge 2 ] && [ "$(id -u)" = 0 ]; then
	for how in auto off; do
		DSM_SERVICE_PRIORITY=$how DSM_BIND=off DSM_READAHEAD=0 "$BIN/dsmexec" -t 60 -n 2 "$TBIN/prio" busy \
			>"$TMP/out" 2>&1 || { cat "$TMP/out"; fail "prio busy, $how: exit status $?"; }
		cat "$TMP/out"
		waited=$(sed -n 's/^\[1\] busy: waited \([0-9]*\) us a run, raised [01]$/\1/p' "$TMP/out")
		raised=$(sed -n 's/^\[1\] busy: waited [0-9]* us a run, raised \([01]\)$/\1/p' "$TMP/out")
		[ -n "$raised" ] || fail "prio busy, $how: no line \"busy: waited W us a run, raised R\" from rank 1"
		if [ $how = off ]; then
			expect_eq "$raised" 0 "DSM_SERVICE_PRIORITY=off, busy rank: its service thread raised"
		elif [ "$raised" = 0 ] && [ "$waited" -ge 1000 ]; then
			fail "auto, busy rank: its service thread waited $waited us a run for the CPU and was not raised"
		elif [ "$raised" = 0 ]; then
			echo "note: auto, busy rank: the service thread waited only $waited us a run: nothing to raise"
		fi
	done
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
