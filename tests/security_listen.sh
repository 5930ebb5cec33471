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
. "$DSM_TOP/tests/security/lib.sh"

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
expect_job_done "$TMP/v" $job "$TMP/job" "the local job"

# ---- 2. started by hand with DSM_HOST=127.0.0.2

head -c 64 /dev/urandom >"$TMP/secret"
chmod 600 "$TMP/secret"
mkdir "$TMP/w"
start_by_hand "$TMP/w" 127.0.0.2 50 40 DSM_HOST=127.0.0.2
set -- $pids
wait_ranks "$TMP/w" "$TMP/hand.0" $1
for r in 0 1 2; do
	expect_listen_only "rank $r with DSM_HOST=127.0.0.2" "$(cat "$TMP/w/pid.$r")" 127.0.0.2
done
port=$("$H" listening "$(cat "$TMP/w/pid.1")" | awk '{ print $2 }')
expect_loopback_refused 1 "$port"
touch "$TMP/w/stop"
wait_by_hand "with DSM_HOST=127.0.0.2"
for r in 0 1 2; do
	expect_grep "hostile victim: rank $r: .*: ok\$" "$TMP/hand.$r" "rank $r with DSM_HOST=127.0.0.2"
done
exit 0
