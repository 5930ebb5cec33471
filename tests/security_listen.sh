#!/bin/sh
# Description: ranks listen only where they should, not on every interface.
# A local job of 3 ranks under dsmexec: each rank has one listening socket,
# on 127.0.0.1, and dsmexec's own (control; the rendezvous has closed) is on 127.0.0.1
# too; nothing on 0.0.0.0 or ::.  A job started by hand with DSM_HOST=
# 127.0.0.2 (rendezvous at DSM_ROOT=127.0.0.2:PORT): every listening socket
# of every rank is on 127.0.0.2, and rank 1's port refuses a connection on
# 127.0.0.1.  Both jobs end with their checks passed.  (The addresses a
# machinefile names: security_listen_ssh.)
# Timeout: 60
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

H=$TBIN/hostile
[ -x "$H" ] || fail "build first: make tests"

# wait_ranks DIR OUT PID: until the 3 ranks wrote their pid files (at most
# 30 s), unless the job (PID) ends first.
wait_ranks() {
	_i=0
	until [ -s "$1/pid.0" ] && [ -s "$1/pid.1" ] && [ -s "$1/pid.2" ]; do
		kill -0 "$3" 2>/dev/null || { cat "$2"; fail "the job ended early"; }
		[ $_i -lt 300 ] || { cat "$2"; fail "the job did not start within 30 s"; }
		sleep 0.1
		_i=$((_i + 1))
	done
}

# expect_listen_only WHO PID ADDR [COUNT]: every listening TCP socket of PID
# is on ADDR (and there are COUNT of them).
expect_listen_only() {
	"$H" listening "$2" >"$TMP/socks" || fail "$1: cannot read its sockets"
	echo "$1 (pid $2) listens on: $(tr '\n' ' ' <"$TMP/socks")"
	[ -s "$TMP/socks" ] || fail "$1: no listening socket found"
	[ -z "${4:-}" ] || expect_eq "$(grep -c . "$TMP/socks")" "$4" "$1: listening sockets"
	if grep -v "^$3 " "$TMP/socks"; then
		fail "$1 listens on the address(es) above, not only on $3"
	fi
}

ppid_of() { awk '{ print $4 }' "/proc/$1/stat"; }

# ---- 1. a local job under dsmexec: loopback only

mkdir "$TMP/v"
DSM_LOG=warn timeout -k 5 60 "$BIN/dsmexec" -n 3 "$H" victim "$TMP/v" 40 >"$TMP/job" 2>&1 &
job=$!
wait_ranks "$TMP/v" "$TMP/job" $job
for r in 0 1 2; do
	expect_listen_only "rank $r" "$(cat "$TMP/v/pid.$r")" 127.0.0.1 1
done
# rank -> dsmwrap -> dsmexec
exec_pid=$(ppid_of "$(ppid_of "$(cat "$TMP/v/pid.0")")")
expect_eq "$(tr '\0' ' ' <"/proc/$exec_pid/cmdline" | awk '{ print $1 }')" "$BIN/dsmexec" "the ranks' launcher"
# the control socket; the rendezvous stops listening once every rank joined
expect_listen_only "dsmexec" "$exec_pid" 127.0.0.1 1
touch "$TMP/v/stop"
rc=0
wait $job || rc=$?
cat "$TMP/job"
[ $rc -eq 0 ] || fail "the local job exited with status $rc"
expect_eq "$(grep -c "hostile victim: rank [0-2]: .*: ok\$" "$TMP/job")" 3 "ranks of the local job that checked ok"

# ---- 2. started by hand with DSM_HOST=127.0.0.2

head -c 64 /dev/urandom >"$TMP/secret"
chmod 600 "$TMP/secret"
mkdir "$TMP/w"
try=0
while :; do
	rport=$((20000 + ($$ + try * 7919) % 12000))
	pids=
	for r in 0 1 2; do
		DSM_RANK=$r DSM_NRANKS=3 DSM_HOST=127.0.0.2 DSM_ROOT=127.0.0.2:$rport DSM_SECRET_FILE="$TMP/secret" \
			DSM_TIMEOUT=20 DSM_LOG=warn timeout -k 5 50 "$H" victim "$TMP/w" 40 >"$TMP/hand.$r" 2>&1 &
		pids="$pids $!"
	done
	sleep 0.5
	grep -q "cannot listen on 127.0.0.2:$rport" "$TMP/hand.0" && [ $try -lt 3 ] || break
	kill $pids 2>/dev/null
	wait $pids 2>/dev/null
	rm -f "$TMP"/w/*
	try=$((try + 1))
done
set -- $pids
wait_ranks "$TMP/w" "$TMP/hand.0" $1
for r in 0 1 2; do
	expect_listen_only "rank $r with DSM_HOST=127.0.0.2" "$(cat "$TMP/w/pid.$r")" 127.0.0.2
done
port=$("$H" listening "$(cat "$TMP/w/pid.1")" | awk '{ print $2 }')
rc=0
"$H" 127.0.0.1 "$port" garbage >"$TMP/other" 2>&1 || rc=$?
cat "$TMP/other"
expect_eq "$rc" 2 "hostile's status connecting to rank 1's port on 127.0.0.1"
expect_grep "cannot connect to 127.0.0.1:$port: Connection refused" "$TMP/other" "rank 1's port on 127.0.0.1"
touch "$TMP/w/stop"
for r in 0 1 2; do
	rc=0
	wait $1 || rc=$?
	shift
	cat "$TMP/hand.$r"
	[ $rc -eq 0 ] || fail "rank $r with DSM_HOST=127.0.0.2 exited with status $rc"
	expect_grep "hostile victim: rank $r: .*: ok\$" "$TMP/hand.$r" "rank $r with DSM_HOST=127.0.0.2"
done
exit 0
