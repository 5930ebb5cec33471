# Description: DSM_COMPRESSION=1 sends page payloads LZ4-compressed when they
# shrink (raw otherwise); results are the same as without it.
# Backends: uffd sigsegv
# Timeout: 120
. "$DSM_TOP/tests/lib.sh"

[ -x "$BIN/jacobi" ] && [ -x "$TBIN/stripe" ] || fail "build first: make tests"
DSM_COMPRESSION=1 DSM_LOG=debug run_job "$TMP/j" -n 3 "$BIN/jacobi"
[ "$rc" = 0 ] || { tail -20 "$TMP/j"; fail "jacobi with compression: exit status $rc"; }
expect_grep "jacobi: .*: OK" "$TMP/j" "jacobi with compression: result"
expect_grep "LZ4 [0-9]* bytes" "$TMP/j" "jacobi with compression: some page travelled compressed"
DSM_COMPRESSION=1 run_job "$TMP/s" -n 3 "$TBIN/stripe" 2
[ "$rc" = 0 ] || { cat "$TMP/s"; fail "stripe with compression: exit status $rc"; }
expect_eq "$(grep -c 'checked .*: ok$' "$TMP/s")" 3 "stripe with compression: ranks that found every word"
