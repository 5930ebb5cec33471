#!/bin/sh
# Description: a rank listens only on the address the machinefile names for
# its host.  A private sshd on 127.0.0.2-4 and a machinefile of those three
# "hosts", one rank each: rank R's only listening socket is on 127.0.0.(R+2),
# its port refuses connections on 127.0.0.1, and the job ends with its
# checks passed and nothing left behind.  Skipped where sshd cannot run.
# Timeout: 90
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
. "$DSM_TOP/tests/launcher/common.sh"

H=$TBIN/hostile
[ -x "$H" ] || fail "build first: make tests"
start_sshd
# Remote dsmwraps run from a link under $TMP, so a leftover one is found by
# its command line.
mkdir "$TMP/wrap" "$TMP/v" && ln -s "$BIN/dsmwrap" "$TMP/wrap/dsmwrap"
printf '127.0.0.2\n127.0.0.3\n127.0.0.4\n' >"$TMP/hosts"

DSM_TEST_TAG=$TAG DSM_LOG=warn timeout -k 5 60 "$BIN/dsmexec" --wrap "$TMP/wrap/dsmwrap" -f "$TMP/hosts" \
	"$H" victim "$TMP/v" 40 >"$TMP/job" 2>&1 &
job=$!
i=0
until [ -s "$TMP/v/pid.0" ] && [ -s "$TMP/v/pid.1" ] && [ -s "$TMP/v/pid.2" ]; do
	kill -0 $job 2>/dev/null || { cat "$TMP/job"; fail "the job ended early"; }
	[ $i -lt 300 ] || { cat "$TMP/job"; fail "the job did not start within 30 s"; }
	sleep 0.1
	i=$((i + 1))
done
for r in 0 1 2; do
	addr=127.0.0.$((r + 2))
	pid=$(cat "$TMP/v/pid.$r")
	"$H" listening "$pid" >"$TMP/socks.$r" || fail "rank $r: cannot read its sockets"
	echo "rank $r (pid $pid, host $addr) listens on: $(tr '\n' ' ' <"$TMP/socks.$r")"
	expect_eq "$(grep -c . "$TMP/socks.$r")" 1 "rank $r: listening sockets"
	expect_grep "^$addr [0-9]*\$" "$TMP/socks.$r" "rank $r's listening address"
	port=$(awk '{ print $2 }' "$TMP/socks.$r")
	rc=0
	"$H" 127.0.0.1 "$port" garbage >"$TMP/other" 2>&1 || rc=$?
	expect_eq "$rc" 2 "hostile's status connecting to rank $r's port on 127.0.0.1"
	expect_grep "cannot connect to 127.0.0.1:$port: Connection refused" "$TMP/other" \
		"rank $r's port on 127.0.0.1"
done
touch "$TMP/v/stop"
rc=0
wait $job || rc=$?
cat "$TMP/job"
[ $rc -eq 0 ] || fail "the job exited with status $rc"
expect_eq "$(grep -c "hostile victim: rank [0-2]: .*: ok\$" "$TMP/job")" 3 "ranks that checked ok"
expect_no_job_left "the job over ssh"
exit 0
