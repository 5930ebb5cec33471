# Description: jobs under injected network faults (DSM_FAULTS): dropped,
# duplicated, reordered and delayed messages and a cut link, each alone and
# all together, for several seeds.  Every job must complete with correct
# results: the stripe test's pattern on every rank, the lock counter exact,
# release-consistent counters on one page exact.
# `make chaos` runs a longer version (DSM_CHAOS_LONG=1).
# Backends: uffd sigsegv
# Timeout: 900
. "$DSM_TOP/tests/lib.sh"

[ -x "$TBIN/stripe" ] && [ -x "$BIN/counter" ] && [ -x "$TBIN/rc_litmus" ] || fail "build first: make tests"
if [ "${DSM_CHAOS_LONG:-0}" = 1 ]; then
	seeds="1 2 3 4 5 6 7 8"; mib=4; k=500; n=4
else
	seeds="11 12"; mib=1; k=100; n=3
fi
kinds="drop=0.02 dup=0.05 reorder=0.05 delay=20us..300us cut=1-2@0.2s
       drop=0.01,dup=0.01,reorder=0.01,delay=20us..200us,cut=0-2@0.3s"
runs=0
for kind in $kinds; do
	for seed in $seeds; do
		f="$kind,seed=$seed"
		DSM_FAULTS=$f timeout -k 5 300 "$BIN/dsmexec" -n $n "$TBIN/stripe" $mib >"$TMP/s" 2>&1 ||
			{ cat "$TMP/s"; fail "stripe under DSM_FAULTS=$f: exit status $?"; }
		oks=$(grep -c "stripe: rank [0-9]* checked .*: ok$" "$TMP/s")
		expect_eq "$oks" "$n" "stripe under DSM_FAULTS=$f: ranks that found every word"
		DSM_FAULTS=$f timeout -k 5 300 "$BIN/dsmexec" -n $n "$BIN/counter" $k >"$TMP/c" 2>&1 ||
			{ cat "$TMP/c"; fail "counter under DSM_FAULTS=$f: exit status $?"; }
		expect_grep "expected $((n * k)), 0 overlaps: OK" "$TMP/c" "counter under DSM_FAULTS=$f"
		# release consistency: counters of one page under a lock each
		DSM_FAULTS=$f timeout -k 5 300 "$BIN/dsmexec" -n $n "$TBIN/rc_litmus" counters $((k * 3)) \
			>"$TMP/r" 2>&1 || { cat "$TMP/r"; fail "rc_litmus counters under DSM_FAULTS=$f: exit status $?"; }
		expect_eq "$(grep -c "rc_litmus: counters rank [0-9]* of $n: ok$" "$TMP/r")" "$n" \
			"rc_litmus counters under DSM_FAULTS=$f"
		runs=$((runs + 3))
	done
done
# A bad specification is refused before the job starts, naming the item.
DSM_FAULTS="drop=2" "$BIN/dsmexec" -n 2 "$BIN/hello" >"$TMP/bad" 2>&1 && fail "DSM_FAULTS=drop=2 accepted"
expect_grep "DSM_FAULTS=drop=2: cannot read 'drop=2'" "$TMP/bad" "bad DSM_FAULTS named"
expect_no_leftovers "$TBIN/stripe"
echo "chaos: $runs jobs correct under injected faults"
