#!/bin/sh
# Description: a rank that dies while the others wait - on a lock it holds, in
# a barrier, on a semaphore - ends the whole job: dsmexec returns non-zero
# within seconds, a message names the dead rank, and no process is left.
# Backends: uffd sigsegv
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/sync_prog
[ -x "$BIN/dsmexec" ] && [ -x "$P" ] || fail "build first: make tests"
TAG="sd.$$.$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"

left_behind() {
	grep -lzx "DSM_TEST_TAG=$TAG" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -v -x "$$"
}

for what in die-lock die-barrier die-sem; do
	start=$(date +%s)
	rc=0
	DSM_TEST_TAG=$TAG timeout -k 5 30 "$BIN/dsmexec" -n 3 "$P" $what >"$TMP/out" 2>&1 || rc=$?
	secs=$(( $(date +%s) - start ))
	cat "$TMP/out"
	[ $rc -ne 0 ] || fail "$what: the job exited 0"
	[ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "$what: the job hung"
	[ $secs -le 10 ] || fail "$what: the job took $secs s to end"
	expect_grep "rank 1 dies now" "$TMP/out" "$what: rank 1 reached its exit"
	expect_grep "rank 1 closed its connection unexpectedly\|rank 1 (host [^)]*) exited with status 7" \
		"$TMP/out" "$what: a message naming rank 1"
	if grep -q "FAIL" "$TMP/out"; then fail "$what: a wait returned"; fi
	i=0
	while [ -n "$(left_behind)" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	[ -z "$(left_behind)" ] || { ps -o pid,args -p "$(left_behind | tr '\n' ',' | sed 's/,$//')"; fail "$what: processes left behind"; }
done
echo "ok"
