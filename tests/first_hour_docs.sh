#!/bin/sh
# Description: the README and man pages match the program.  The README's
# example checks dsm_init's result, builds and runs; its --stats sample has
# the columns dsmexec prints and explains every one; dsm_init(3) lists every
# DSM_* setting the library reads; the benchmarks' targets carry their context.
# Timeout: 120
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
R=$DSM_TOP/README.md

# The example: the first C block of the README.
awk '/^```c$/ { on = 1; next } on && /^```$/ { exit } on' "$R" >"$TMP/example.c"
grep -q "int rc = dsm_init(&argc, &argv);" "$TMP/example.c" || fail "README example: dsm_init's result is not kept"
grep -q "if (rc)" "$TMP/example.c" || fail "README example: dsm_init's result is not checked"
# A sanitizer build's library needs the sanitizer at link time too.
san=$(grep -o -- '-fsanitize=[a-z,]*' "$DSM_TOP/build/flags" 2>/dev/null | head -1)
${CC:-cc} -Wall -Werror $san -I"$DSM_TOP/include" "$TMP/example.c" "$DSM_TOP/lib/libdsm.a" -lsodium -llz4 -pthread \
	-o "$TMP/example" || fail "README example: does not build"
run_job "$TMP/out" -n 2 "$TMP/example"
cat "$TMP/out"
expect_eq $rc 0 "README example: exit status"
expect_eq "$(grep -c '^\[[01]\] sum 523776$' "$TMP/out")" 2 "README example: both ranks' sums"

# The --stats table: the README's header is the program's, every column
# explained.
run_job "$TMP/stats" -n 2 --stats "$BIN/hello"
expect_eq $rc 0 "hello --stats: exit status"
header=$(grep '^ rank ' "$TMP/stats" | head -1)
[ -n "$header" ] || { cat "$TMP/stats"; fail "no header in dsmexec --stats"; }
grep -qxF -- "$header" "$R" || fail "README's --stats sample lacks the header dsmexec prints: '$header'"
for col in $header; do
	[ "$col" = rank ] && continue
	grep -q "^| .*\`$col\`.* | " "$R" || fail "README does not explain the --stats column $col"
done

# Every DSM_* setting the library and launcher read is in dsm_init(3)
# (dsmexec's own DSM_SSH in dsmexec(1)); a test-only hook is exempt.
for v in $(grep -rho 'getenv("DSM_[A-Z_]*")\|env_[a-z]*("DSM_[A-Z_]*"' "$DSM_TOP/src" "$DSM_TOP/launcher" |
	   grep -o 'DSM_[A-Z_]*' | sort -u); do
	case $v in
	DSM_CKPT_TEST_CRASH) continue ;;
	DSM_SSH) grep -q "DSM_SSH" "$DSM_TOP/man/dsmexec.1" || fail "dsmexec(1) lacks DSM_SSH"; continue ;;
	esac
	grep -q "$v" "$DSM_TOP/man/dsm_init.3" || fail "dsm_init(3) lacks $v"
done
# A benchmark prints its targets only after the line that says whose they
# are and where they are described.
run_job "$TMP/bench" -n 2 "$BIN/fault_latency" --reps 1
expect_eq $rc 0 "fault_latency: exit status"
awk '/targets: .*project targets, see docs\/bench.md/ { ctx = 1 } / target: / && !ctx { bad = 1 } END { exit bad }' \
	"$TMP/bench" || { cat "$TMP/bench"; fail "fault_latency: a target without its context"; }
grep -q " target: " "$TMP/bench" || { cat "$TMP/bench"; fail "fault_latency: no targets printed"; }
grep -q "target" "$DSM_TOP/docs/bench.md" || fail "docs/bench.md does not describe the targets"
man_ok=1
command -v man >/dev/null 2>&1 || man_ok=0
if [ $man_ok = 1 ]; then
	MANWIDTH=80 man -l "$DSM_TOP/man/dsm_finalize.3" 2>/dev/null | grep -q "without dsm_finalize" ||
		fail "man/dsm_finalize.3 does not render, or says nothing of a forgotten dsm_finalize"
fi
exit 0
