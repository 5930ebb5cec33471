#!/bin/sh
# Description: a rank killed by SIGKILL (while the others wait in a barrier,
# fault on pages it owns, or fault on pages whose home it is) ends the whole
# job by itself within seconds, the dead rank named on stderr, no process
# left behind; without the launcher the survivors notice on their own.
# Backends: uffd sigsegv
# Timeout: 150
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

# A private copy, so that expect_no_leftovers sees this run's processes only
# (not those of a concurrent run of the suite).
cp "$TBIN/killself" "$TMP/killself" || fail "cannot copy $TBIN/killself"
prog=$TMP/killself
# No rank may survive: the liveness bound is dsmexec's -t (status 124), far
# below the library's own deadlines (DSM_TIMEOUT, 120 s by default), so a
# job that only ends because a wait timed out fails here.
bound=20

for job in "2 barrier" "2 fault" "3 fault" "3 home"; do
	set -- $job
	n=$1 mode=$2
	what="$mode on $n ranks"
	"$BIN/dsmexec" -t $bound -n "$n" "$prog" "$mode" >"$TMP/out" 2>&1
	rc=$?
	cat "$TMP/out"
	expect_no_leftovers "$prog"
	[ $rc -ne 124 ] || fail "$what: the job did not end within $bound s of rank 1's death"
	[ $rc -ne 0 ] || fail "$what: the job succeeded although rank 1 was killed"
	expect_grep '^\[1\] killself: rank 1 dies$' "$TMP/out" "$what: rank 1 reached its death"
	! grep -q survived "$TMP/out" || fail "$what: a rank finished without rank 1"
	expect_grep 'rank 1\b.*\(signal 9\|closed its connection\)' "$TMP/out" "$what: rank 1 named as the cause"
	echo "$what: exit status $rc" >>"$TMP/statuses"
done

# Without the launcher nobody ends the survivor: the library must notice.
unset DSM_SECRET_FD DSM_SECRET_FILE DSM_JOB_ID DSM_RENDEZVOUS
try=0
while :; do
	# below the usual ephemeral range (32768-60999), so rarely taken
	port=$((20000 + ($$ + try * 7919) % 12000))
	for i in 0 1; do
		DSM_INSECURE=1 DSM_ROOT=127.0.0.1:$port DSM_RANK=$i DSM_NRANKS=2 \
			timeout -k 5 $bound "$prog" barrier >"$TMP/rank$i" 2>&1 &
		eval "pid$i=\$!"
	done
	wait "$pid0"; rc0=$?
	retry=no
	if grep -q "cannot listen" "$TMP/rank0" && [ $try -lt 3 ]; then
		retry=yes
		kill "$pid1" 2>/dev/null # it would wait for the rendezvous until the bound
	fi
	wait "$pid1"; rc1=$?
	cat "$TMP/rank0" "$TMP/rank1"
	[ $retry = yes ] || break
	try=$((try + 1))
done
expect_no_leftovers "$prog"
expect_eq "$rc1" 137 "rank 1 started by hand: exit status (SIGKILL)"
[ "$rc0" -ne 124 ] && [ "$rc0" -ne 137 ] || fail "rank 0 started by hand did not notice rank 1's death within $bound s"
[ "$rc0" -ne 0 ] || fail "rank 0 started by hand succeeded although rank 1 died"
expect_grep "rank 1" "$TMP/rank0" "rank 0 started by hand: rank 1 named"

# Last, the launcher's choice of culprit: rank 1's SIGKILL (137), not a
# survivor's exit that follows from it.
while read -r line; do
	case $line in
	*"status 137") ;;
	*) fail "$line: dsmexec did not report rank 1's SIGKILL (137) but a consequence of it" ;;
	esac
done <"$TMP/statuses"
exit 0
