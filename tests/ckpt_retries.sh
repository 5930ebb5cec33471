#!/bin/sh
# Description: dsmexec --retries N --checkpoint DIR: when a rank dies after
# the job started (by its own SIGKILL at a chosen step, or kill -9 from
# outside at random moments, three times in one job), dsmexec says which rank
# died and from which checkpoint it restarts, starts the whole job again from
# the last committed checkpoint, and the job ends with the result of an
# undisturbed run.  --retries without --checkpoint is a usage error.
# Backends: uffd sigsegv
# Timeout: 180
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
D=$BIN/ckpt_demo
[ -x "$BIN/dsmexec" ] && [ -x "$D" ] || fail "build first: make"
args="-s 60 -k 10 -c 30000"

run_job "$TMP/ref" -n 3 "$D" $args "$TMP/ref.ck"
[ $rc -eq 0 ] || { cat "$TMP/ref"; fail "the undisturbed run exited $rc"; }
want=$(sed -n 's/.*result \([0-9a-f]*\),.*/\1/p' "$TMP/ref")
[ -n "$want" ] || fail "the undisturbed run printed no result"

# rank 1 kills itself at step 35: one restart from gen.3 (after step 30)
run_job "$TMP/out" -n 3 --retries 2 --checkpoint "$TMP/ck" "$D" $args -x 1@35 "$TMP/ck"
cat "$TMP/out"
[ $rc -eq 0 ] || fail "the job with --retries exited $rc"
expect_grep "rank 1 (host .*) killed by signal 9" "$TMP/out" "the dead rank is named"
expect_grep "restarting the job from .*/ck/gen.3 (retry 1 of 2)" "$TMP/out" "the restart point"
expect_grep "resumed from the checkpoint after step 30" "$TMP/out" "the resumed job"
expect_grep "result $want, 1800000 updates: matches a one-process run" "$TMP/out" "the result"

# kill -9 of a random rank at random moments, three times
cp "$D" "$TMP/ckpt_demo" || fail "cannot copy $D"
timeout -k 5 150 "$BIN/dsmexec" -n 3 --retries 5 --checkpoint "$TMP/ck2" "$TMP/ckpt_demo" $args -d 25 "$TMP/ck2" \
	>"$TMP/rnd" 2>&1 &
job=$!
for k in 1 2 3; do
	i=0
	# after a committed checkpoint of this attempt
	until [ "$(grep -c "checkpoint after step" "$TMP/rnd")" -ge $((2 * k - 1)) ]; do
		kill -0 $job 2>/dev/null || break
		i=$((i + 1)); [ $i -lt 600 ] || break
		sleep 0.05
	done
	sleep "0.$(( $(od -An -N1 -tu1 /dev/urandom) % 4 ))"
	victims=$(pgrep -f "^$TMP/ckpt_demo " || true)
	[ -n "$victims" ] || break
	set -- $victims
	shift $(( $(od -An -N1 -tu1 /dev/urandom) % $# ))
	echo "kill $k: pid $1"
	kill -9 "$1" 2>/dev/null
	until grep -q "retry $k of 5" "$TMP/rnd"; do
		kill -0 $job 2>/dev/null || break
		sleep 0.05
	done
done
rc=0
wait $job || rc=$?
cat "$TMP/rnd"
[ $rc -eq 0 ] || fail "the job killed 3 times exited $rc"
expect_grep "retry 3 of 5" "$TMP/rnd" "three restarts"
expect_grep "result $want, 1800000 updates: matches a one-process run" "$TMP/rnd" "the result after 3 kills"

"$BIN/dsmexec" -n 1 --retries 1 "$D" "$TMP/x" >"$TMP/usage" 2>&1
rc=$?
expect_eq $rc 2 "--retries without --checkpoint: exit status"
expect_grep "retries needs --checkpoint" "$TMP/usage" "the usage error"
