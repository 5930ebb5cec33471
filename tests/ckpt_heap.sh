#!/bin/sh
# Description: the heap across a checkpoint and a restart - named blocks come
# back at the same address with the same content, blocks from dsm_malloc stay
# intact and can be freed, new allocations overlap nothing in use, and the
# restarted job can checkpoint again; dsm_checkpoint_restored() says which
# job was restored.
# Backends: uffd sigsegv
# Timeout: 120
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
P=$TBIN/ckpt_prog
[ -x "$BIN/dsmexec" ] && [ -x "$P" ] || fail "build first: make tests"
ck=$TMP/ck

run_job "$TMP/out" -n 3 "$P" save "$ck"
cat "$TMP/out"
[ $rc -eq 0 ] || fail "save exited $rc"
expect_grep "save: 3 ranks, .* blocks recorded, checkpoint written: OK" "$TMP/out" "save"
expect_eq "$(readlink "$ck/current")" gen.1 "the first checkpoint's generation"

run_job "$TMP/out" -n 3 --restart "$ck" "$P" check "$ck"
cat "$TMP/out"
[ $rc -eq 0 ] || fail "check after --restart exited $rc"
expect_grep "check: .* restored blocks intact, .* new ones overlap nothing, freed, checkpointed again: OK" \
	"$TMP/out" "check"
expect_eq "$(readlink "$ck/current")" gen.2 "the restarted job's checkpoint"
[ ! -e "$ck/gen.1" ] || fail "gen.1 was not deleted once gen.2 was committed"

# The second checkpoint restores too (the heap saved after a restore).
run_job "$TMP/out" -n 3 --restart "$ck" "$P" flag
cat "$TMP/out"
[ $rc -eq 0 ] || fail "flag after --restart exited $rc"
[ "$(grep -c 'dsm_checkpoint_restored() = 1$' "$TMP/out")" -eq 3 ] || fail "not every rank says it was restored"

run_job "$TMP/out" -n 2 "$P" flag
cat "$TMP/out"
[ $rc -eq 0 ] || fail "flag exited $rc"
[ "$(grep -c 'dsm_checkpoint_restored() = 0$' "$TMP/out")" -eq 2 ] || fail "a job without --restart says it was restored"
exit 0
