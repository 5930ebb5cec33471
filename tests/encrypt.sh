# Description: DSM_ENCRYPT=1 seals every message between ranks; jobs give the
# same results as without it, and a job where only some ranks encrypt is
# refused with a message that says so.
# Backends: uffd sigsegv
# Timeout: 240
. "$DSM_TOP/tests/lib.sh"

[ -x "$TBIN/stripe" ] && [ -x "$BIN/counter" ] || fail "build first: make tests"
DSM_ENCRYPT=1 run_job "$TMP/s" -n 3 "$TBIN/stripe" 2
[ "$rc" = 0 ] || { cat "$TMP/s"; fail "encrypted stripe job: exit status $rc"; }
expect_eq "$(grep -c 'checked .*: ok$' "$TMP/s")" 3 "encrypted stripe: ranks that found every word"
DSM_ENCRYPT=1 DSM_FAULTS="drop=0.02,cut=0-1@0.2s,seed=3" run_job "$TMP/c" -n 3 "$BIN/counter" 200
[ "$rc" = 0 ] || { cat "$TMP/c"; fail "encrypted counter under faults: exit status $rc"; }
expect_grep "expected 600, 0 overlaps: OK" "$TMP/c" "encrypted counter under faults"

# Only rank 0 encrypts: started by hand, so each rank has its own setting.
mixed_encrypt 1 "$TMP/m"
expect_grep "set DSM_ENCRYPT=1 on every rank or on none" "$TMP/m" "mixed DSM_ENCRYPT refused"
if grep -q "OK$" "$TMP/m"; then cat "$TMP/m"; fail "a job with mixed DSM_ENCRYPT ran to the end"; fi
