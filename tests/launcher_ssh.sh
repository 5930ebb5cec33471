#!/bin/sh
# Description: dsmexec over real ssh: a private sshd on 127.0.0.2-4 and a
# machinefile of those hosts; the environment contract on remote ranks,
# placement with slots and -n, a failing remote rank, Ctrl-C, dsmexec
# killed, a real dsm program, and nothing left on the "remote" hosts.
# Timeout: 150
. "$DSM_TOP/tests/lib.sh"
. "$DSM_TOP/tests/launcher/common.sh"

mkdir "$TMP/hidden"
start_sshd "$TMP/hidden"
cd "$TMP" || fail "cd $TMP"
here=$(pwd -P)
# Remote dsmwraps run from a link under $TMP, so a leftover one is found
# by its command line.
mkdir wrap && ln -s "$BIN/dsmwrap" wrap/dsmwrap
W="--wrap $TMP/wrap/dsmwrap"
printf '# three "hosts"\n127.0.0.2\n127.0.0.3\n127.0.0.4\n' >hosts

# Three ranks, one per host.
DSM_TEST_VAR="over ssh" run_job out err $W -f hosts "$PROG" info
expect_rc 0 "3 ranks over ssh"
for r in 0 1 2; do
	h=127.0.0.$((r + 2))
	expect_grep "^\[$r\] info rank=$r DSM_RANK=$r DSM_NRANKS=3 DSM_LOCAL_RANK=0 DSM_LOCAL_SIZE=1 DSM_JOB_ID=[0-9a-f]\{16\} DSM_RENDEZVOUS=127\.0\.0\.1:[0-9]* DSM_HOST=$h DSM_LAUNCHER=dsmexec DSM_TEST_VAR=over ssh " \
		out "remote rank $r's environment"
	expect_grep "^\[$r\] info rank=$r .* secret=[0-9a-f]\{64\} stdin=devnull cwd=$here ssh=yes\$" out "remote rank $r"
	expect_grep "^\[$r\] stderr of rank $r\$" err "remote rank $r's stderr"
done
expect_eq "$(grep -o ' secret=[^ ]*' out | sort -u | wc -l | tr -d ' ')" 1 "one secret for every rank"
expect_eq "$(grep -o ' DSM_JOB_ID=[^ ]*' out | sort -u | wc -l | tr -d ' ')" 1 "one job id"
expect_eq "$(grep -c . err)" 3 "nothing else on stderr"
expect_no_job_left "3 ranks over ssh"

# Positional machinefile, slots and -n: round-robin over the slots.
printf '127.0.0.2 slots=2\n127.0.0.3\n' >slots
run_job out err $W -n 4 slots "$PROG" info
expect_rc 0 "-n 4 over slots"
for want in "0 127.0.0.2 0 3" "1 127.0.0.2 1 3" "2 127.0.0.3 0 1" "3 127.0.0.2 2 3"; do
	set -- $want
	expect_grep "^\[$1\] info rank=$1 DSM_RANK=$1 DSM_NRANKS=4 DSM_LOCAL_RANK=$3 DSM_LOCAL_SIZE=$4 .* DSM_HOST=$2 " \
		out "placement of rank $1"
done

# Many ranks on one host: ssh sessions start a few at a time, within what
# sshd accepts (MaxStartups).
printf '127.0.0.2 slots=12\n' >many
run_job out err $W -f many "$PROG" info
expect_rc 0 "12 ranks on one host"
expect_eq "$(grep -c 'info rank=.* DSM_LOCAL_SIZE=12 .* ssh=yes$' out)" 12 "12 remote ranks"
expect_no_job_left "12 ranks on one host"

# A local and a remote rank in one job.
printf 'localhost\n127.0.0.2\n' >mixed
run_job out err $W --address 127.0.0.1 -f mixed "$PROG" info
expect_rc 0 "mixed job"
expect_grep "^\[0\] info rank=0 .* DSM_HOST=127\.0\.0\.1 .* ssh=no\$" out "local rank of a mixed job"
expect_grep "^\[1\] info rank=1 .* DSM_RENDEZVOUS=127\.0\.0\.1:[0-9]* DSM_HOST=127\.0\.0\.2 .* ssh=yes\$" out \
	"remote rank of a mixed job"
expect_no_job_left "mixed job"

# Remote hosts that reach this one over IPv6 (--address ::1): dsmexec
# listens on both families when remote hosts take part.
if grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; then
	run_job out err $W --address ::1 -f hosts "$PROG" info
	expect_rc 0 "--address ::1"
	expect_eq "$(grep -c ' DSM_RENDEZVOUS=\[::1\]:[0-9]* .* ssh=yes$' out)" 3 "rendezvous over IPv6"
	echo "IPv6 connect-back: checked"
else
	echo "IPv6 connect-back: not checked (no ::1 here)"
fi

# A remote rank fails: its status is the job's, the others are ended.
mkdir m1 s1
run_job out err $W -f hosts "$PROG" trap="$TMP/s1" mark="$TMP/m1" @1:waitmarks="$TMP/m1:3" @1:exit=3 sleep=60
expect_rc 3 "failing remote rank"
expect_grep "^dsmexec: rank 1 (host 127.0.0.3) exited with status 3\$" err "failure line"
for r in 0 2; do [ -e s1/sig.$r.15 ] || fail "remote rank $r was not sent SIGTERM"; done
expect_no_job_left "failing remote rank"

# A remote rank killed by a signal.
run_job out err $W -f hosts "$PROG" @2:kill=9 sleep=60
expect_rc 137 "remote rank killed"
expect_grep "^dsmexec: rank 2 (host 127.0.0.4) killed by signal 9 (Killed)\$" err "signal line"
expect_no_job_left "remote rank killed"

# Ctrl-C reaches the remote ranks.
mkdir m2 s2
DSM_TEST_TAG=$TAG "$BIN/dsmexec" $W -f hosts "$PROG" trap="$TMP/s2" mark="$TMP/m2" sleep=60 >out 2>err &
job=$!
wait_for m2/started.0 m2/started.1 m2/started.2
kill -INT $job
rc=0
wait $job || rc=$?
expect_rc 130 "SIGINT to a remote job"
for r in 0 1 2; do [ -e s2/sig.$r.2 ] || fail "remote rank $r did not get SIGINT"; done
expect_no_job_left "SIGINT to a remote job"

# dsmexec killed outright: every remote dsmwrap ends its rank.
mkdir m3
DSM_TEST_TAG=$TAG "$BIN/dsmexec" $W --grace 0.5 -f hosts "$PROG" @0:ignore=15 mark="$TMP/m3" sleep=60 >out 2>err &
job=$!
wait_for m3/started.0 m3/started.1 m3/started.2
kill -KILL $job
wait $job 2>/dev/null
expect_no_job_left "dsmexec killed during a remote job"

# The working directory must exist on every host: $TMP/hidden/work exists
# here but not in the sshd's mount namespace.
if [ $SSHD_HIDES = 1 ]; then
	mkdir -p hidden/work m4
	(cd hidden/work && run_job ../../out ../../err $W -f ../../hosts "$PROG" mark="$TMP/m4" && echo $rc >../../rc)
	rc=$(cat rc)
	expect_rc 255 "working directory missing on the remote hosts"
	expect_grep "^dsmexec: cannot start rank [0-2] on host 127\.0\.0\.[2-4]: working directory '$here/hidden/work' is not usable on this host: No such file or directory\$" \
		err "missing remote working directory"
	[ -z "$(ls m4)" ] || fail "a rank started although the working directory is missing"
	expect_no_job_left "working directory missing"
	echo "missing remote working directory: checked"
else
	echo "missing remote working directory: not checked (no mount namespace here)"
fi

# A real dsm program over ssh: dsm_init reads what dsmwrap set up.
if [ -x "$BIN/hello" ]; then
	run_job out err $W -f hosts "$BIN/hello"
	expect_rc 0 "hello over ssh"
	for r in 0 1 2; do expect_grep "^\[$r\] hello from rank $r of 3\$" out "hello from rank $r"; done
	expect_no_job_left "hello over ssh"
fi

echo "ok"
