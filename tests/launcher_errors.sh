#!/bin/sh
# Description: bad input to dsmexec gets a clear message and a non-zero
# status before any rank starts: machinefile errors, bad options, a program
# that is missing or not executable, a host ssh cannot reach.  Also checks
# that --help and the man page document every option.
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
. "$DSM_TOP/tests/launcher/common.sh"

cd "$TMP" || fail "cd $TMP"
mkdir marks

# expect_error STATUS PATTERN WHAT dsmexec-args...
expect_error() {
	_st=$1 _pat=$2 _what=$3
	shift 3
	run_job out err "$@"
	expect_rc "$_st" "$_what"
	expect_grep "$_pat" err "$_what"
	[ -z "$(ls marks)" ] || fail "$_what: a rank started: $(ls marks)"
}
RUN="$PROG mark=$TMP/marks"

# machinefiles
expect_error 2 "^dsmexec: cannot read machinefile 'nosuch': No such file or directory\$" "missing machinefile" \
	-f nosuch $RUN
mkdir adir
expect_error 2 "^dsmexec: cannot read machinefile 'adir': it is a directory\$" "directory machinefile" -f adir $RUN
: >empty
expect_error 2 "^dsmexec: empty: no hosts (the file is empty or has only comments)\$" "empty machinefile" -f empty $RUN
printf '# comment only\n\n' >comments
expect_error 2 "^dsmexec: comments: no hosts" "comment-only machinefile" -f comments $RUN
printf 'localhost\n# two\nlocalhost slots=x\n' >bad3
expect_error 2 "^dsmexec: bad3:3: slots=x: not a number\$" "malformed line" -f bad3 $RUN
printf 'localhost extra\n' >bad1
expect_error 2 "^dsmexec: bad1:1: unexpected 'extra' after the host name" "extra word" -f bad1 $RUN
# the positional form says why the file was read as a machinefile
expect_error 2 "was read as a machinefile" "positional machinefile hint" bad1 $RUN

# the positional form: a non-executable file followed by the program
printf 'localhost\nlocalhost\n' >hosts2
run_job out err hosts2 "$PROG" info
expect_rc 0 "positional machinefile"
expect_eq "$(grep -c 'info rank=' out)" 2 "positional machinefile: ranks"
# -n with a machinefile: round-robin over its lines
run_job out err -n 3 -f hosts2 "$PROG" info
expect_rc 0 "-n with a machinefile"
expect_grep "^\[2\] info rank=2 DSM_RANK=2 DSM_NRANKS=3 DSM_LOCAL_RANK=2 DSM_LOCAL_SIZE=3 " out "-n 3 over 2 lines"
printf 'localhost slots=2\n' >slots
run_job out err -f slots "$PROG" info
expect_rc 0 "slots"
expect_eq "$(grep -c 'info rank=' out)" 2 "slots=2 gives two ranks"

# options
expect_error 2 "^dsmexec: -n 0: the number of ranks must be" "-n 0" -n 0 $RUN
expect_error 2 "^dsmexec: -n -3: the number of ranks must be" "-n -3" -n -3 $RUN
expect_error 2 "^dsmexec: -n two: the number of ranks must be" "-n two" -n two $RUN
expect_error 2 "^dsmexec: no program to run" "no program" -n 2
expect_error 2 "Try 'dsmexec --help'" "unknown option" --frobnicate $RUN
expect_error 2 "^dsmexec: --timeout 0: expected a number of seconds above 0" "--timeout 0" --timeout 0 $RUN
expect_error 2 "^dsmexec: --grace x: expected a number of seconds" "--grace x" --grace x $RUN
: >notadir
expect_error 255 "^dsmexec: --output-dir notadir/sub:" "bad --output-dir" -o notadir/sub -n 1 $RUN

# programs: checked on every host before any rank starts
expect_error 127 "^dsmexec: cannot start rank [01] on host 127.0.0.1: program 'no-such-program-dsm' not found in PATH" \
	"program not in PATH" -n 2 no-such-program-dsm
expect_error 127 "^dsmexec: cannot start rank [01] on host 127.0.0.1: program '$TMP/nosuch': No such file or directory" \
	"missing program path" -n 2 ./nosuch
printf '#!/bin/sh\necho hi\n' >noexec
expect_error 126 "^dsmexec: cannot start rank 0 on host 127.0.0.1: program '$TMP/noexec' is not executable" \
	"program not executable" -n 1 ./noexec
expect_error 126 "^dsmexec: cannot start rank 0 on host 127.0.0.1: program '$TMP/adir' is a directory" \
	"program is a directory" -n 1 ./adir

# unreachable hosts: the host is named and ssh's own message shown; the
# local rank of the same job never starts.
printf 'localhost\nnosuchhost.invalid\n' >unresolvable
expect_error 255 \
	"^dsmexec: cannot start rank 1 on host nosuchhost.invalid: ssh: Could not resolve hostname nosuchhost.invalid: " \
	"unresolvable host" --ssh "ssh -F /dev/null" -f unresolvable $RUN
printf '127.0.0.1\n127.0.0.5\n' >refused
printf '127.0.0.1\n127.0.0.9\n' >silent
expect_error 255 "^dsmexec: cannot start rank 1 on host 127.0.0.5: ssh: connect to host 127.0.0.5 port 1: Connection refused" \
	"connection refused" --ssh "ssh -F /dev/null -p 1" -f refused $RUN
DSM_SSH="ssh -F /dev/null -p 1" expect_error 255 "^dsmexec: cannot start rank 1 on host 127.0.0.5: ssh: connect to host" \
	"DSM_SSH is used" -f refused $RUN
expect_error 255 "^dsmexec: cannot find the ssh command 'no-such-ssh'" "missing ssh command" \
	--ssh no-such-ssh -f refused $RUN
# A host that never answers: --start-timeout ends the wait, with what the
# ssh command said so far; the stuck ssh is ended.
printf '#!/bin/sh\necho "connecting slowly" >&2\nexec sleep 60\n' >slowssh
chmod +x slowssh
expect_error 255 "^dsmexec: cannot start rank 1 on host 127.0.0.9: no answer within 0.5 s (see --start-timeout) (connecting slowly)\$" \
	"start timeout" --ssh "$TMP/slowssh" --start-timeout 0.5 -f silent $RUN
expect_no_job_left "bad input"

# --help and the man page document every option.
"$BIN/dsmexec" --help >help || fail "--help failed"
expect_grep "^usage: dsmexec" help "--help"
opts=$(grep -o -- '--[a-z][a-z-]*' help | sort -u)
[ -n "$opts" ] || fail "no options in --help"
for o in $opts; do
	man_o=$(echo "$o" | sed 's/-/\\\\-/g')
	grep -q -- "$man_o" "$DSM_TOP/man/dsmexec.1" || fail "man/dsmexec.1 does not document $o"
done
for v in DSM_SSH DSM_RANK DSM_NRANKS DSM_SECRET_FD DSM_RENDEZVOUS DSM_HOST DSM_LOCAL_RANK; do
	grep -q "$v" "$DSM_TOP/man/dsmexec.1" || fail "man/dsmexec.1 does not mention $v"
done
if command -v man >/dev/null 2>&1; then
	MANWIDTH=80 man -l "$DSM_TOP/man/dsmexec.1" 2>manerr | grep -q "dsmexec" || fail "man -l man/dsmexec.1"
	MANWIDTH=80 man -l "$DSM_TOP/man/dsmwrap.1" 2>manerr | grep -q "dsmwrap" || fail "man -l man/dsmwrap.1"
fi
"$BIN/dsmwrap" --help | grep -q "usage: dsmwrap" || fail "dsmwrap --help"

echo "ok"
