#!/bin/sh
# Description: a rank listens only on the address the machinefile names for
# its host.  A private sshd on 127.0.0.2-4 and a machinefile of those three
# "hosts", one rank each: rank R's only listening socket is on 127.0.0.(R+2),
# its port refuses connections on 127.0.0.1, and the job ends with its
# checks passed and nothing left behind.  Skipped where sshd cannot run.
# Timeout: 90
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
. "$DSM_TOP/tests/launcher/common.sh"
. "$DSM_TOP/tests/security/lib.sh"
start_sshd
# Remote dsmwraps run from a link under $TMP, so a leftover one is found by
# its command line.
mkdir "$TMP/wrap" "$TMP/v" && ln -s "$BIN/dsmwrap" "$TMP/wrap/dsmwrap"
printf '127.0.0.2\n127.0.0.3\n127.0.0.4\n' >"$TMP/hosts"

DSM_TEST_TAG=$TAG DSM_LOG=warn timeout -k 5 60 "$BIN/dsmexec" --wrap "$TMP/wrap/dsmwrap" -f "$TMP/hosts" \
	"$H" victim "$TMP/v" 40 >"$TMP/job" 2>&1 &
job=$!
wait_ranks "$TMP/v" "$TMP/job" $job
for r in 0 1 2; do
	addr=127.0.0.$((r + 2))
	pid=$(cat "$TMP/v/pid.$r")
	"$H" listening "$pid" >"$TMP/socks.$r" || fail "rank $r: cannot read its sockets"
	echo "rank $r (pid $pid, host $addr) listens on: $(tr '\n' ' ' <"$TMP/socks.$r")"
	expect_eq "$(grep -c . "$TMP/socks.$r")" 1 "rank $r: listening sockets"
	expect_grep "^$addr [0-9]*\$" "$TMP/socks.$r" "rank $r's listening address"
	port=$(awk '{ print $2 }' "$TMP/socks.$r")
	expect_loopback_refused $r "$port"
done
expect_job_done "$TMP/v" $job "$TMP/job" "the job"
expect_no_job_left "the job over ssh"
exit 0
