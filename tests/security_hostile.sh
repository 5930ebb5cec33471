#!/bin/sh
# Description: every connection to a rank is authenticated.  While a job of
# 3 ranks (hostile victim) works and checks its results, hostile throws at
# the listening sockets of ranks 1 and 0, at once: random bytes, an HTTP
# request, a handshake with a random secret, a HELLO of another job, HELLOs
# of protocol versions 0, 2 and 255, headers whose length field is
# 0xffffffff or beyond what the type allows, HELLOs claiming rank ids 0-3,
# 1000 and 0xffffffff, a replayed handshake, a silent and a trickling client,
# and 100 clients at once.  Every attempt is turned away (REFUSE or closed,
# never let on to the link), malformed headers at once; every one is logged
# by the rank as "refused a connection" with its reason (one line each); the
# job makes progress while a silent client holds the door, and ends with
# status 0, its checks passed, no rank crashed.  Then with the secret in
# hand (a job started by hand with DSM_SECRET_FILE): a valid AUTH claiming an
# id no rank has, or the rank's own, is refused after the handshake; a valid
# AUTH recorded from one session and replayed in the next is refused; and,
# the control, a valid handshake as rank 2 gets in (RESUME) and the job
# recovers when the real rank 2 takes its link back.
# Backends: uffd sigsegv
# Timeout: 120
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
. "$DSM_TOP/tests/security/lib.sh"

# rank_port DIR R [ROOT]: the port rank R of the job writing DIR listens on
# for its peers: its only listening socket but for the rendezvous at port
# ROOT (rank 0 of a job started by hand keeps that one open to the end).
rank_port() {
	_pid=$(cat "$1/pid.$2")
	_socks=$("$H" listening "$_pid" | grep -v " ${3:-0}\$")
	[ "$(echo "$_socks" | grep -c .)" = 1 ] || fail "rank $2 (pid $_pid): expected one listening socket, found: $_socks"
	echo "${_socks#* }"
}

# wait_job_files DIR OUT JOBPID: wait_ranks, and rank 0's first progress.
wait_job_files() {
	wait_ranks "$1" "$2" "$3" progress "the job ended before it was attacked"
}

# expect_job_ok OUT WHAT: the victim's 3 ranks checked their results; nothing
# died or crashed.
expect_job_ok() {
	for _r in 0 1 2; do
		expect_grep "hostile victim: rank $_r: [0-9]* rounds, counter [0-9]*: ok\$" "$1" "$2: rank $_r's checks"
	done
	if grep -E "fatal|FAIL|signal|core dumped|Sanitizer" "$1"; then
		fail "$2: a rank failed or crashed (above)"
	fi
}

# refused_lines OUT R: rank R's "refused a connection" lines in a dsmexec
# job's output (prefixed "[R] ").
refused_lines() {
	grep "^\[$2\] \[dsm $2\] refused a connection: " "$1" || true
}

# ---- 1. a job started by dsmexec; the attacker knows its id, not its secret

mkdir "$TMP/v"
DSM_LOG=warn timeout -k 5 90 "$BIN/dsmexec" -n 3 "$H" victim "$TMP/v" 80 >"$TMP/job" 2>&1 &
job=$!
wait_job_files "$TMP/v" "$TMP/job" $job
jobid=$(tr '\0' '\n' <"/proc/$(cat "$TMP/v/pid.1")/environ" | sed -n 's/^DSM_JOB_ID=//p')
[ -n "$jobid" ] || fail "no DSM_JOB_ID in rank 1's environment"

# attack R: every mode in turn at rank R; output in $TMP/attack.R, the modes
# that went wrong in $TMP/bad.R, the progress before and after `slow` in
# $TMP/slow.R.
attack() {
	_port=$(rank_port "$TMP/v" "$1") || { echo "$_port" >"$TMP/bad.$1"; return; }
	: >"$TMP/bad.$1"
	for _m in garbage wrong-secret wrong-job version oversized claim replay flood nojob slow; do
		if [ $_m = nojob ]; then
			"$H" 127.0.0.1 "$_port" claim >>"$TMP/attack.$1" 2>&1 || echo "claim without -j" >>"$TMP/bad.$1"
			continue
		fi
		[ $_m = slow ] && cat "$TMP/v/progress" >"$TMP/slow.$1"
		"$H" -j "$jobid" 127.0.0.1 "$_port" $_m >>"$TMP/attack.$1" 2>&1 || echo "$_m" >>"$TMP/bad.$1"
		[ $_m = slow ] && cat "$TMP/v/progress" >>"$TMP/slow.$1"
	done
}
attack 1 &
a1=$!
attack 0 &
a0=$!
wait $a1 $a0
touch "$TMP/v/stop"
rc=0
wait $job || rc=$?
cat "$TMP/job"
for r in 1 0; do
	echo "--- attacks on rank $r:"
	cat "$TMP/attack.$r"
done

# What the attacker saw.
for r in 1 0; do
	[ -s "$TMP/bad.$r" ] && fail "attacks on rank $r that were not turned away as they should be: $(cat "$TMP/bad.$r")"
	a=$TMP/attack.$r
	expect_grep "garbage: 256 random bytes: closed by the rank" "$a" "rank $r, random bytes"
	expect_grep "garbage: an HTTP request: closed by the rank" "$a" "rank $r, an HTTP request"
	expect_grep "wrong-secret: handshake as id 2 with a random secret: closed by the rank" "$a" \
		"rank $r, a made-up AUTH"
	expect_grep "wrong-secret: net_auth_connect .*(\"peer does not know the job secret\"): closed" "$a" \
		"rank $r, net_auth_connect with a random secret"
	expect_grep "wrong-job: HELLO for another job: REFUSE \"wrong job id\"" "$a" "rank $r, another job"
	for v in 0 2 255; do
		expect_grep "version: HELLO in protocol version $v: REFUSE \"protocol version mismatch\"" "$a" \
			"rank $r, protocol version $v"
	done
	expect_eq "$(grep -c "oversized: .*: closed by the rank" "$a")" 4 "rank $r, oversized headers closed"
	for id in 0 1 2 3 1000 4294967295; do
		expect_grep "claim: HELLO claiming id $id, a made-up AUTH: closed by the rank" "$a" "rank $r, claiming id $id"
		expect_grep "claim: HELLO claiming id $id, a made-up AUTH: HELLO: REFUSE \"wrong job id\"" "$a" \
			"rank $r, claiming id $id without the job id"
	done
	expect_grep "replay: session 2: session 1's HELLO and AUTH replayed (fresh nonce): closed" "$a" \
		"rank $r, a replayed handshake"
	expect_grep "flood: 100 clients at once .*: 100 turned away as they should be, 0 not" "$a" "rank $r, flood"
	expect_grep "slow: connected, sent nothing: closed by the rank" "$a" "rank $r, a silent client"
	expect_grep "slow: a HELLO a byte every 250 ms: closed by the rank" "$a" "rank $r, a trickling client"
	set -- $(cat "$TMP/slow.$r")
	[ $# = 2 ] && [ "$2" -gt "$1" ] ||
		fail "rank $r: the job made no progress while silent clients held its door (rounds: $*)"
	echo "rank $r: rounds done while silent clients held the door: $1 -> $2"
done

# What the job did: exit 0, results checked, one log line per attempt.
[ $rc -eq 0 ] || fail "the job under attack exited with status $rc"
expect_job_ok "$TMP/job" "the job under attack"
for r in 1 0; do
	made=$(sed -n 's/^hostile: [a-z-]*: \([0-9]*\) connections: .*/\1/p' "$TMP/attack.$r" | awk '{ n += $1 } END { print n }')
	refused_lines "$TMP/job" $r >"$TMP/refused.$r"
	expect_eq "$(grep -c . "$TMP/refused.$r")" "$made" "rank $r: \"refused a connection\" lines for $made connections"
	l=$TMP/refused.$r
	expect_grep "reading HELLO: bad magic" "$l" "rank $r's reason for garbage"
	expect_grep "id 2 failed authentication" "$l" "rank $r's reason for a wrong secret"
	expect_grep "HELLO from id 2 belongs to another job" "$l" "rank $r's reason for another job"
	expect_grep "peer speaks another protocol version (we speak 1)" "$l" "rank $r's reason for another version"
	expect_grep "reading HELLO: unknown message type or bad payload length" "$l" "rank $r's reason for a length"
	expect_grep "reading HELLO: Message too long" "$l" "rank $r's reason for a 1 MiB length"
	expect_grep "id 1000 failed authentication" "$l" "rank $r's reason for claiming id 1000"
	expect_grep "id 4294967295 failed authentication" "$l" "rank $r's reason for claiming id 0xffffffff"
	expect_grep "reading HELLO: timed out" "$l" "rank $r's reason for a silent client"
done
expect_eq "$(refused_lines "$TMP/job" 2 | grep -c .)" 0 "refusals logged by rank 2, which nobody attacked"

# ---- 2. a job started by hand with a secret file; the attacker holds it

head -c 64 /dev/urandom >"$TMP/secret"
chmod 600 "$TMP/secret"
jobid=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
mkdir "$TMP/w"
start_by_hand "$TMP/w" 127.0.0.1 60 50 DSM_JOB_ID=$jobid
set -- $pids
wait_job_files "$TMP/w" "$TMP/hand.0" $1
for r in 1 0; do
	port=$(rank_port "$TMP/w" $r $rport) || fail "$port"
	for m in claim replay; do
		"$H" -j "$jobid" -s "$TMP/secret" 127.0.0.1 "$port" $m >>"$TMP/held.$r" 2>&1 ||
			echo "$m" >>"$TMP/heldbad.$r"
	done
done
# The control: the same client with the secret and a real id gets in (the
# rank sends it RESUME), so "closed" above is the door, not the client.  The
# real rank 2 then reconnects and takes its link back.
"$H" -j "$jobid" -s "$TMP/secret" -i 2 127.0.0.1 "$(rank_port "$TMP/w" 1 $rport)" member >"$TMP/member" 2>&1 ||
	{ cat "$TMP/member"; fail "a valid handshake with the job's secret did not get in"; }
cat "$TMP/member"
expect_grep "member: valid handshake as id 2: GOT IN: the rank sent RESUME" "$TMP/member" "the control"
touch "$TMP/w/stop"
wait_by_hand "of the job started by hand"
cat "$TMP/hand.0" "$TMP/hand.1" "$TMP/hand.2" >"$TMP/hand"
for r in 1 0; do
	echo "--- attacks with the secret on rank $r:"
	cat "$TMP/held.$r"
	[ -s "$TMP/heldbad.$r" ] && fail "attacks with the secret on rank $r not turned away: $(cat "$TMP/heldbad.$r")"
	a=$TMP/held.$r
	for what in "id 1000" "id 4294967294" "id 4294967295" "id $r, the rank's own"; do
		expect_grep "claim: valid AUTH claiming $what: closed by the rank" "$a" "rank $r, a valid AUTH claiming $what"
	done
	expect_grep "replay: session 1 as id 2: CHALLENGE verified; the valid AUTH recorded, not sent" "$a" \
		"rank $r, recording a valid AUTH"
	expect_grep "replay: session 2: .*replayed (fresh nonce): closed by the rank" "$a" "rank $r, replaying it"
	# the job's ranks log without the launcher's "[R] " prefix here
	l=$TMP/hand.$r
	for id in 1000 4294967294 4294967295 $r; do
		expect_grep "^\[dsm $r\] refused a connection: connection claims rank $id\$" "$l" \
			"rank $r's reason for a valid AUTH claiming id $id"
	done
	expect_grep "^\[dsm $r\] refused a connection: id 2 failed authentication" "$l" "rank $r's reason for the replay"
done
expect_job_ok "$TMP/hand" "the job started by hand"
exit 0
