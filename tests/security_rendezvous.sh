#!/bin/sh
# Description: the rendezvous never waits on a stranger.  Ranks started by
# hand (DSM_ROOT: rank 0 hosts the rendezvous, on a port as open as the
# network) meet while 200 idle connections (no byte sent, opened before
# ranks 1 and 2 arrive), clients sending random bytes and an HTTP request,
# a client trickling a HELLO a byte at a time and 100 quick hostile
# clients crowd that port: each handshake is a state machine in the
# server's poll loop (capped, oldest silent one pushed out, its own 5 s
# deadline), so the job of 3 ranks starts and its stripes check exactly.
# Before, the server authenticated one connection at a time with a 5 s
# deadline each: 200 idle ones kept the ranks out for 1000 s.
# (No times are asserted: each rank's bound is DSM_TIMEOUT=30.)
# Timeout: 150
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
. "$DSM_TOP/tests/security/lib.sh"
P=$TBIN/stripe
I=$TBIN/idleconn
[ -x "$P" ] && [ -x "$I" ] || fail "build first: make tests"
unset DSM_SECRET_FD DSM_SECRET_FILE DSM_JOB_ID DSM_RENDEZVOUS DSM_ROOT
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/secret"
chmod 600 "$TMP/secret"

# rank R [ENV...]: start rank R of 3 in the background, output in $TMP/rank.R
rank() {
	_r=$1
	shift
	env DSM_RANK=$_r DSM_NRANKS=3 DSM_ROOT=127.0.0.1:$rport DSM_SECRET_FILE="$TMP/secret" DSM_TIMEOUT=30 \
		DSM_LOG=warn "$@" timeout -k 5 100 "$P" 2 >"$TMP/rank.$_r" 2>&1 &
	eval "pid$_r=\$!"
}

# 1. rank 0 alone, until its rendezvous port listens (another port if taken)
try=0
while :; do
	rport=$((20000 + ($$ + try * 7919) % 12000))
	rank 0
	i=0
	# (a stranger of its own: one connection, closed at once)
	until "$I" 127.0.0.1 $rport 1 0 2>/dev/null | grep -q "1 open"; do
		kill -0 $pid0 2>/dev/null || break
		i=$((i + 1)); [ $i -lt 300 ] || break
		sleep 0.1
	done
	"$I" 127.0.0.1 $rport 1 0 2>/dev/null | grep -q "1 open" && break
	kill $pid0 2>/dev/null; wait $pid0 2>/dev/null
	cat "$TMP/rank.0"
	try=$((try + 1)); [ $try -lt 4 ] || fail "rank 0 never listened for the rendezvous"
done

# 2. the crowd: 200 idle, garbage, a trickle, a flood
"$I" 127.0.0.1 $rport 200 60 >"$TMP/idle" 2>&1 &
idle=$!
i=0
until grep -q "open" "$TMP/idle"; do
	i=$((i + 1)); [ $i -lt 600 ] || break
	sleep 0.05
done
strangers=
for m in garbage garbage slow flood; do
	"$H" 127.0.0.1 $rport $m >"$TMP/h.$m.$$" 2>&1 &
	strangers="$strangers $!"
done

# 3. the other ranks arrive
rank 1
rank 2
rcs=
for r in 0 1 2; do
	eval "p=\$pid$r"
	rc=0
	wait $p || rc=$?
	rcs="$rcs $rc"
done
kill $idle $strangers 2>/dev/null
wait $idle $strangers 2>/dev/null
cat "$TMP/idle" "$TMP/rank.0" "$TMP/rank.1" "$TMP/rank.2"
expect_grep "idleconn: 200 open" "$TMP/idle" "200 strangers connected to the rendezvous"
expect_eq "$rcs" " 0 0 0" "exit statuses of the 3 ranks with strangers at the rendezvous"
for r in 0 1 2; do
	expect_grep "^stripe: rank $r checked [0-9]* words x 2 rounds: ok\$" "$TMP/rank.$r" "rank $r's stripes"
done
exit 0
