#!/bin/sh
# Description: the launcher's first-hour mistakes.  `dsmexec a.out` hints at
# ./a.out; loopback addresses, LOCALHOST and this host's own name start
# locally unless ssh is asked for (--ssh); `host:N` is `host slots=N`;
# failing jobs report no refused control connections of their own ranks;
# --help shows the -f FILE form.
# Timeout: 180
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
unset DSM_SSH DSM_RANK DSM_NRANKS DSM_ROOT DSM_RENDEZVOUS
cd "$TMP" || fail "cd $TMP"

# A program in the working directory, named without ./
cp "$TBIN/launcher_prog" a.out || fail "copy"
run_job out -n 2 a.out info
cat out
expect_eq $rc 127 "a.out: exit status"
expect_grep "^dsmexec: cannot start rank [01] on host 127.0.0.1: program 'a.out' not found in PATH (.*); did you mean ./a.out?\$" \
	out "a.out: the hint"
run_job out -n 2 nosuch.out info
expect_eq $rc 127 "nosuch.out: exit status"
! grep -q "did you mean" out || fail "nosuch.out: a hint for a file that does not exist"

# Every name of this machine starts locally, and host:N gives N slots.
printf 'LOCALHOST:2\n127.0.0.2\n::1\n%s slots=1\n' "$(hostname)" >mf
run_job out -f mf "$TBIN/launcher_prog" info
cat out
expect_eq $rc 0 "this host's names: exit status"
expect_eq "$(grep -c '^\[[0-4]\] info rank=[0-4] .*DSM_LOCAL_SIZE=5 .* ssh=no$' out)" 5 \
	"this host's names: 5 local ranks, one group"
# ... unless the user asks for ssh: then 127.0.0.2 goes through it.
printf 'localhost\n127.0.0.2\n' >mf2
run_job out --ssh /bin/false -f mf2 "$TBIN/launcher_prog" info
cat out
expect_eq $rc 255 "--ssh: exit status"
expect_grep "^dsmexec: cannot start rank 1 on host 127.0.0.2: ssh exited with status 1\$" out "--ssh: 127.0.0.2 through ssh"
# A bad host:N names the line.
printf 'localhost\nlocalhost:0\n' >badmf
run_job out -f badmf "$TBIN/launcher_prog" info
expect_eq $rc 2 "host:0: exit status"
expect_grep "^dsmexec: badmf:2: slots=0: must be between 1 and 65536\$" out "host:0: the line named"

# Failing jobs: no "refused a control connection" from the job's own ranks
# ended in their handshake (it showed in 3-4 runs of 10).
for i in 1 2 3 4 5; do
	run_job out -n 8 nosuchprog
	expect_eq $rc 127 "missing program, run $i: exit status"
	! grep -q "refused" out || { cat out; fail "missing program, run $i: a refusal reported"; }
	run_job out --ssh /bin/false -f mf "$TBIN/launcher_prog" info
	expect_eq $rc 255 "ssh failure, run $i: exit status"
	! grep -q "refused" out || { cat out; fail "ssh failure, run $i: a refusal reported"; }
done

"$BIN/dsmexec" --help >help || fail "--help"
expect_grep "^       dsmexec \[options\] -f FILE program \[args...\]\$" help "--help: the -f FILE form"
expect_grep "host:K" help "--help: host:K"
exit 0
