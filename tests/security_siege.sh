#!/bin/sh
# Description: silent connections held open at a rank's listening socket, by
# a client that knows nothing of the job, must not keep a cut link from being
# re-established.  Two jobs of 3 ranks (hostile victim), each with the link
# between ranks 0 and 1 cut at 3 s (DSM_FAULTS=cut=0-1@3s) and
# DSM_TIMEOUT=10.  Alone, the link comes back and the job ends with its
# checks passed.  With hostile keeping 6 silent connections open at rank 0's
# listening socket for 16 s (siege: each one the rank drops is replaced at
# once), it must do the same.
#
# This found a bug, now fixed: the link manager took one connection at a
# time and gave each up to 5 s to complete its handshake, so rank 1's
# reconnection waited behind the silent ones until DSM_TIMEOUT ended the job.
# Handshakes now run concurrently (transport_tcp.c, handshake_start).
# Timeout: 90
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

H=$TBIN/hostile
[ -x "$H" ] || fail "build first: make tests"

# run_cut NAME SIEGE: a job with the 0-1 link cut at 3 s; with SIEGE=1,
# hostile besieges rank 0 from before the cut until DSM_TIMEOUT has passed
# after it.  Sets $rc; the job's output in $TMP/NAME.out.
run_cut() {
	_d=$TMP/$1
	mkdir "$_d"
	DSM_TIMEOUT=10 DSM_FAULTS=cut=0-1@3s DSM_LOG=info timeout -k 5 60 "$BIN/dsmexec" -n 3 "$H" victim "$_d" 50 \
		>"$_d.out" 2>&1 &
	_job=$!
	_i=0
	until [ -s "$_d/pid.0" ] && [ -s "$_d/progress" ]; do
		kill -0 $_job 2>/dev/null || { cat "$_d.out"; fail "$1: the job ended early"; }
		[ $_i -lt 300 ] || { cat "$_d.out"; fail "$1: the job did not start within 30 s"; }
		sleep 0.1
		_i=$((_i + 1))
	done
	if [ "$2" = 1 ]; then
		_socks=$("$H" listening "$(cat "$_d/pid.0")")
		[ "$(echo "$_socks" | grep -c .)" = 1 ] || fail "rank 0: expected one listening socket: $_socks"
		_src=0
		"$H" -t 16 127.0.0.1 "${_socks#* }" siege >"$_d.siege" 2>&1 || _src=$?
		cat "$_d.siege"
		# 2: the rank stopped listening, the job is over; 1: a silent
		# connection was sent something
		[ $_src -ne 1 ] || fail "$1: the rank wrote to a connection that never said a word"
	else
		sleep 6
	fi
	touch "$_d/stop"
	rc=0
	wait $_job || rc=$?
	cat "$_d.out"
}

# expect_survived NAME WHAT: the job ended with status 0, its checks passed,
# and the cut link came back.
expect_survived() {
	[ $rc -eq 0 ] || fail "$2: the job exited with status $rc"
	expect_eq "$(grep -c "hostile victim: rank [0-2]: .*: ok\$" "$TMP/$1.out")" 3 "$2: ranks that checked ok"
	expect_grep "^\[1\] \[dsm 1\] link to rank 0 re-established" "$TMP/$1.out" "$2: rank 1's link to rank 0"
}

run_cut alone 0
expect_survived alone "a cut link alone"
run_cut siege 1
expect_survived siege "a cut link under siege"
exit 0
