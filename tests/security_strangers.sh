# Description: the launcher's control port never waits on a stranger.
# Control connections authenticate as state machines inside dsmexec's event
# loop, so an idle connection (no byte sent, no secret known) held open while
# a chatty job of 2 ranks prints 40000 lines each delays nothing: the job ends
# with status 0 and every line.  And 200 idle connections made before the
# ranks connect (their ssh is slow) do not keep the job from starting: the
# oldest silent ones are pushed out, the ranks get in, the job ends with
# status 0.  The live view (--monitor) with 100 idle connections still
# answers a real request, and a request with a NUL byte gets 400 at once.
# (No times are asserted.)
# Timeout: 180
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/launcher_prog
I=$TBIN/idleconn
[ -x "$P" ] && [ -x "$I" ] || fail "build first: make tests"

# control_port OUT PID: dsmexec's control port, from its DSM_LOG=info line
control_port() {
	_i=0
	until port=$(sed -n 's/.*control port \([0-9]*\),.*/\1/p' "$1" 2>/dev/null) && [ -n "$port" ]; do
		kill -0 "$2" 2>/dev/null || { cat "$1"; fail "dsmexec ended before it said its control port"; }
		_i=$((_i + 1)); [ $_i -lt 300 ] || fail "dsmexec never said its control port"
		sleep 0.05
	done
	echo "$port"
}

# with_strangers OUT N DSMEXEC-ARGS...: run dsmexec in the background, hold N
# idle connections to its control port (their report in OUT.idle) until it
# ends; rc is its exit status
with_strangers() {
	_out=$1 _n=$2
	shift 2
	DSM_LOG=info timeout -k 5 120 "$BIN/dsmexec" "$@" >"$_out" 2>&1 &
	job=$!
	port=$(control_port "$_out" $job)
	"$I" 127.0.0.1 "$port" "$_n" 60 >"$_out.idle" 2>&1 &
	idle=$!
	rc=0
	wait $job || rc=$?
	kill $idle 2>/dev/null
	wait $idle 2>/dev/null
}

# 1. a chatty job with a stranger connected to the control port
with_strangers "$TMP/chatty" 1 -n 2 "$P" lines=40000
[ $rc = 0 ] || { tail -20 "$TMP/chatty"; fail "the chatty job with a stranger: exit status $rc"; }
for r in 0 1; do
	expect_eq "$(grep -c "^\[$r\] line [0-9]* of rank $r abcdefghijklmnopqrstuvwxyz0123456789\$" "$TMP/chatty")" 40000 \
		"lines of rank $r with a stranger at the control port"
	expect_grep "^\[$r\] line 39999 of rank $r " "$TMP/chatty" "rank $r's last line"
done

# 2. 200 strangers before the ranks connect (an "ssh" that takes 2 s)
cat >"$TMP/slowssh" <<'EOS'
#!/bin/sh
# a stand-in for ssh: the last argument is the command; run it here, late
while [ $# -gt 1 ]; do shift; done
sleep 2
exec sh -c "$1"
EOS
chmod +x "$TMP/slowssh"
printf '127.0.0.5\n127.0.0.5\n' >"$TMP/hosts"
with_strangers "$TMP/crowd" 200 --ssh "$TMP/slowssh" --address 127.0.0.1 -f "$TMP/hosts" "$P" lines=10
cat "$TMP/crowd.idle"
expect_grep "idleconn: 200 open" "$TMP/crowd.idle" "200 strangers connected"
[ $rc = 0 ] || { tail -20 "$TMP/crowd"; fail "the job with 200 strangers: exit status $rc"; }
for r in 0 1; do
	expect_grep "^\[$r\] line 9 of rank $r " "$TMP/crowd" "rank $r ran with 200 strangers at the door"
done

# 3. the live view: 100 idle clients, then a browser's request; a NUL byte
for try in 1 2 3; do
	mport=$((20000 + ($$ * 13 + try * 977) % 10000))
	timeout -k 5 120 "$BIN/dsmexec" --monitor $mport -n 2 "$P" sleep=8 >"$TMP/mon" 2>&1 &
	job=$!
	i=0
	until "$I" 127.0.0.1 $mport get / >"$TMP/first" 2>&1; do
		kill -0 $job 2>/dev/null || break
		i=$((i + 1)); [ $i -lt 100 ] || break
		sleep 0.05
	done
	grep -q "HTTP/1.1 200" "$TMP/first" && break
	kill $job 2>/dev/null; wait $job 2>/dev/null
done
expect_grep "HTTP/1.1 200" "$TMP/first" "the live view answers"
"$I" 127.0.0.1 $mport 100 30 >"$TMP/idlemon" 2>&1 &
idle=$!
i=0
until grep -q "open" "$TMP/idlemon"; do # (a full backlog makes connect(2) wait)
	i=$((i + 1)); [ $i -lt 400 ] || break
	sleep 0.05
done
"$I" 127.0.0.1 $mport get /data.json >"$TMP/real" 2>&1
"$I" 127.0.0.1 $mport nul >"$TMP/nul" 2>&1
kill $idle 2>/dev/null
wait $idle 2>/dev/null
cat "$TMP/idlemon" "$TMP/real" "$TMP/nul"
expect_grep "idleconn: 100 open" "$TMP/idlemon" "100 idle clients connected"
expect_grep "^HTTP/1.1 200 OK" "$TMP/real" "a real request with 100 idle clients"
expect_grep "^HTTP/1.1 400 Bad Request" "$TMP/nul" "a request with a NUL byte"
rc=0
wait $job || rc=$?
[ $rc = 0 ] || { cat "$TMP/mon"; fail "the monitored job: exit status $rc"; }
