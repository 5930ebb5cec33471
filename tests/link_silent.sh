# Description: the failure detector.  A rank stopped (SIGSTOP) while the
# others wait for it in a barrier, or for a lock it holds, ends the job with
# one message naming it ("rank 2 silent for 2 s (stopped?)") although nobody
# has a request outstanding to it; a rank that computes, or sleeps in a
# system call, for 3 x DSM_TIMEOUT is not taken for dead; DSM_TIMEOUT=inf
# switches the detector off, so a stopped rank (as in a debugger) is waited
# for and the job goes on when it continues.
# Backends: uffd sigsegv
# Timeout: 180
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/silent
[ -x "$P" ] || fail "build first: make tests"

for what in barrier lock; do
	victim=2; [ $what = lock ] && victim=1
	DSM_TIMEOUT=2 run_job "$TMP/o" --grace 1 -n 3 "$P" $what
	cat "$TMP/o"
	[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "$what: exit status $rc, expected the job to end with an error"
	expect_grep "fatal: rank $victim silent for [0-9]* s (stopped?)" "$TMP/o" "$what: the stopped rank is named"
	if grep -q "passed the barrier\|got the lock" "$TMP/o"; then fail "$what: a rank went past the stopped one"; fi
done
expect_no_leftovers "$P"

for what in compute syscall; do
	DSM_TIMEOUT=2 run_job "$TMP/o" -n 3 "$P" $what 6
	[ "$rc" = 0 ] || { cat "$TMP/o"; fail "$what for 6 s: exit status $rc"; }
	expect_eq "$(grep -c 'silent: rank . done' "$TMP/o")" 3 "$what for 6 s: ranks done"
	if grep -q "silent for" "$TMP/o"; then cat "$TMP/o"; fail "$what: a busy rank was declared dead"; fi
done

# DSM_TIMEOUT=inf: the stopped rank is waited for; continued, it joins.
DSM_TIMEOUT=inf timeout -k 5 60 "$BIN/dsmexec" -n 3 "$P" barrier >"$TMP/inf" 2>&1 &
job=$!
i=0
until grep -q "rank 2 stops" "$TMP/inf"; do
	i=$((i + 1)); [ $i -lt 300 ] || { cat "$TMP/inf"; fail "DSM_TIMEOUT=inf: rank 2 never stopped"; }
	sleep 0.1
done
sleep 5
kill -0 $job 2>/dev/null || { cat "$TMP/inf"; fail "DSM_TIMEOUT=inf: the job ended while rank 2 was stopped"; }
stopped=$(ps -eo pid=,stat=,args= | awk -v p="$P" '$2 ~ /^T/ && index($0, p) { print $1 }')
[ -n "$stopped" ] || fail "DSM_TIMEOUT=inf: cannot find the stopped rank"
kill -CONT $stopped
wait $job
cat "$TMP/inf"
expect_eq "$(grep -c 'passed the barrier' "$TMP/inf")" 3 "DSM_TIMEOUT=inf: ranks past the barrier once rank 2 continued"
if grep -q "silent for" "$TMP/inf"; then fail "DSM_TIMEOUT=inf: the detector fired"; fi
