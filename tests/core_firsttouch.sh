#!/bin/sh
# Description: DSM_HOME=first-touch: a page's home is the rank that touched
# it first (tests/progs/firsttouch.c: the first toucher revokes the copies
# as home, first touches racing at the directories keep every write), the
# consistency checker (sccheck: 3 ranks x 2 threads, history checked for
# sequential consistency), false sharing, and dsm_advise's overwrites, all
# under first-touch homes; dsm_checkpoint is refused (-ENOTSUP).
# Backends: uffd sigsegv
# Timeout: 300
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
export DSM_HOME=first-touch

for n in 2 3; do
	run_job "$TMP/out" -t 50 -n $n "$TBIN/firsttouch" 32 20
	cat "$TMP/out"
	expect_eq $rc 0 "firsttouch on $n ranks: exit status"
	expect_ranks_ok firsttouch $n "$TMP/out"
done

seed=${SCCHECK_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
mkdir -p "$TMP/logs"
run_job "$TMP/out" -t 100 -n 3 "$TBIN/sccheck" -t 2 -o 20000 -s "$seed" -d "$TMP/logs"
cat "$TMP/out"
expect_eq $rc 0 "sccheck under first-touch homes, seed $seed (replay: DSM_HOME=first-touch dsmexec -n 3 sccheck -t 2 -o 20000 -s $seed): exit status"
expect_grep "^\[0\] sccheck: ok (120000 operations verified, seed $seed)$" "$TMP/out" "sccheck verdict"

run_job "$TMP/out" -t 50 -n 3 "$TBIN/falseshare" 3000
cat "$TMP/out"
expect_eq $rc 0 "falseshare under first-touch homes: exit status"
expect_grep "^\[2\] falseshare: rank 2 of 3, 3000 increments x 2 pages.*: ok$" "$TMP/out" "falseshare verdict"

run_job "$TMP/out" -t 50 -n 3 "$TBIN/advise" 48
cat "$TMP/out"
expect_eq $rc 0 "advise under first-touch homes: exit status"
expect_grep "^\[0\] advise: rank 0 of 3: ok$" "$TMP/out" "advise verdict"

# A checkpoint would restore each page at its static home: refused, saying why.
run_job "$TMP/out" -t 50 -n 2 "$BIN/ckpt_demo" -s 5 -k 2 "$TMP/ck"
cat "$TMP/out"
[ $rc != 0 ] || fail "dsm_checkpoint under first-touch homes: the job succeeded"
expect_grep "dsm_checkpoint: not with DSM_HOME=first-touch" "$TMP/out" "the refusal's reason"
expect_grep "ckpt_demo: dsm_checkpoint: Operation not supported" "$TMP/out" "dsm_checkpoint's -ENOTSUP"
exit 0
