#!/bin/sh
# Description: dsmexec -n 1, 2 and 4 local ranks: tagged output lines, the
# launcher environment contract, --no-prefix, --output-dir, line integrity.
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"
. "$DSM_TOP/tests/launcher/common.sh"

cd "$TMP" || fail "cd $TMP"
here=$(pwd -P)

for n in 1 2 4; do
	DSM_TEST_VAR="passed on" run_job out.$n err.$n -n $n "$PROG" info
	expect_rc 0 "-n $n"
	expect_eq "$(wc -l <out.$n | tr -d ' ')" "$n" "stdout lines of -n $n"
	expect_eq "$(wc -l <err.$n | tr -d ' ')" "$n" "stderr lines of -n $n"
	r=0
	while [ $r -lt $n ]; do
		expect_grep "^\[$r\] info rank=$r DSM_RANK=$r DSM_NRANKS=$n DSM_LOCAL_RANK=$r DSM_LOCAL_SIZE=$n " out.$n \
			"rank $r of $n"
		expect_grep "^\[$r\] stderr of rank $r\$" err.$n "stderr of rank $r of $n"
		r=$((r + 1))
	done
	# One job: one id, one secret, one rendezvous for every rank.
	for key in DSM_JOB_ID DSM_RENDEZVOUS secret; do
		expect_eq "$(grep -o " $key=[^ ]*" out.$n | sort -u | wc -l | tr -d ' ')" 1 "$key the same on every rank"
	done
	expect_grep " DSM_JOB_ID=[0-9a-f]\{16\} " out.$n "DSM_JOB_ID is 16 hex digits"
	expect_grep " DSM_RENDEZVOUS=127\.0\.0\.1:[0-9][0-9]* " out.$n "DSM_RENDEZVOUS of a local job"
	expect_grep " secret=[0-9a-f]\{64\} " out.$n "DSM_SECRET_FD holds the 32-byte secret"
	expect_grep " DSM_HOST=127\.0\.0\.1 DSM_LAUNCHER=dsmexec DSM_TEST_VAR=passed on " out.$n "contract"
	expect_grep " stdin=devnull cwd=$here ssh=no\$" out.$n "stdin and working directory"
	if grep -q "BAD" out.$n; then fail "secret descriptor unreadable"; fi
	expect_no_job_left "-n $n"
done

# Two jobs have different secrets and ids.
run_job out.again err.again -n 1 "$PROG" info
[ "$(grep -o ' secret=[^ ]*' out.1)" != "$(grep -o ' secret=[^ ]*' out.again)" ] || fail "secret reused across jobs"

# --no-prefix, a partial last line, and --output-dir with the raw streams.
run_job out.np err.np --no-prefix -n 2 --output-dir "$TMP/logs" "$PROG" info partial=tail
expect_rc 0 "--no-prefix"
expect_grep "^info rank=1 " out.np "unprefixed line"
if grep -q '^\[' out.np; then fail "--no-prefix still prefixes"; fi
expect_eq "$(grep -c '^tail$' out.np)" 2 "partial last lines flushed with a newline"
for r in 0 1; do
	[ -f logs/rank.$r.out ] && [ -f logs/rank.$r.err ] || fail "--output-dir files of rank $r"
	expect_grep "^info rank=$r " logs/rank.$r.out "rank.$r.out"
	expect_eq "$(tail -n 1 logs/rank.$r.out)" "tail" "rank.$r.out ends with the partial line"
	expect_eq "$(cat logs/rank.$r.err)" "stderr of rank $r" "rank.$r.err"
done
# and with prefixes on the terminal, the files stay raw
run_job out.od err.od -n 2 -o "$TMP/logs2" "$PROG" info
expect_grep "^\[1\] info rank=1 " out.od "prefixed terminal output with --output-dir"
expect_grep "^info rank=1 " logs2/rank.1.out "raw file output"

# Many lines from 4 ranks at once, each written in pieces: every line arrives
# whole, once, in order per rank.
run_job out.many err.many -n 4 "$PROG" lines=3000
expect_rc 0 "lines"
expect_eq "$(wc -l <out.many | tr -d ' ')" 12000 "line count"
bad=$(grep -v -c '^\[\([0-3]\)\] line [0-9]* of rank \1 abcdefghijklmnopqrstuvwxyz0123456789$' out.many || true)
expect_eq "$bad" 0 "mangled lines"
for r in 0 1 2 3; do
	grep "^\[$r\]" out.many | sed 's/^\[[0-9]\] line \([0-9]*\) .*/\1/' >seq.$r
	seq 0 2999 | cmp -s - seq.$r || fail "rank $r's lines are not all there in order"
done

# A line longer than the 64 KiB line buffer is split, not lost.
run_job out.long err.long -n 1 "$PROG" long=150000 info
expect_rc 0 "long line"
expect_eq "$(grep -c '^\[0\] x*$' out.long)" 3 "a 150000-byte line comes out as 3 pieces"
expect_eq "$(grep '^\[0\] x*$' out.long | tr -d '[0] \n' | wc -c | tr -d ' ')" 150000 "every byte of the long line"
expect_grep "^\[0\] info rank=0 " out.long "the line after the long one"

# A program found in PATH, and arguments passed as they are.
run_job out.path err.path -n 2 sh -c 'echo "args: $0 $1 [$2]"' zero "one two" ""
expect_rc 0 "program from PATH"
expect_eq "$(grep -c '^\[[01]\] args: zero one two \[\]$' out.path)" 2 "arguments"

# --serve N becomes DSM_SERVERS=N on every rank (over one from the environment).
DSM_SERVERS=7 run_job out.srv err.srv --serve 1 -n 3 "$PROG" info
expect_rc 0 "--serve"
expect_eq "$(grep -c ' DSM_SERVERS=1 ' out.srv)" 3 "DSM_SERVERS on every rank"
run_job out.srv err.srv --serve 3 -n 3 "$PROG" info
expect_rc 2 "--serve as many as the ranks"
expect_grep "^dsmexec: --serve 3: rank 0 runs the program, so at most 2 of the 3 ranks can be servers\$" err.srv \
	"--serve too many"

# The default -n is the number of cores.
run_job out.def err.def "$PROG" info
expect_rc 0 "default -n"
expect_eq "$(wc -l <out.def | tr -d ' ')" "$(nproc)" "default -n is the number of cores"

# The secret is on no command line and in no environment while a job runs.
mkdir marks
DSM_TEST_TAG=$TAG "$BIN/dsmexec" -n 2 -o "$TMP/sec" "$PROG" info mark="$TMP/marks" waitmarks="$TMP/go:1" \
	>out.sec 2>err.sec &
job=$!
wait_for marks/started.0 marks/started.1
secret=$(sed -n 's/.* secret=\([0-9a-f]*\) .*/\1/p' sec/rank.0.out)
[ ${#secret} -eq 64 ] || fail "no secret in the output: '$secret'"
seen=$(grep -laF "$secret" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null || true)
[ -z "$seen" ] || fail "the secret is visible in $seen"
mkdir go && touch go/started.0
wait $job || fail "job with the secret check failed"

expect_no_job_left "basic jobs"
echo "ok"
