#!/bin/sh
# Description: dsmcc --share-globals - an unannotated program with plain
# globals (initialised and zero, static and extern, arrays of several pages,
# a function's static, one file handed in as an object built by plain cc)
# runs on 3 ranks and every rank sees every rank's stores, while DSM_PRIVATE
# and thread-local variables stay each rank's own; its 64 MiB zeroed array
# stays NOBITS and does not grow the file; the same program built without
# --share-globals fails (the ranks do not share); dsmcc -c objects linked by
# plain cc work too, and so does a shared library made of them;
# docs/porting.md's histogram_share runs; -flto is refused with a reason.
# Backends: uffd sigsegv
# Timeout: 240
. "$DSM_TOP/tests/lib.sh"
D=$BIN/dsmcc
S=$DSM_TOP/tests/progs/dsmcc
[ -x "$D" ] && [ -x "$BIN/dsmexec" ] || fail "build first: make"
command -v objcopy >/dev/null 2>&1 || skip "no objcopy (binutils)"
if nm "$DSM_TOP/lib/libdsm.a" 2>/dev/null | grep -q "__asan_\|__tsan_\|__ubsan_"; then
	# The sanitizer's own bookkeeping of the program's globals lives among
	# them and would be shared too.
	skip "sanitizer build: --share-globals is tried in the plain build"
fi
cd "$TMP" || fail "cd $TMP"

# expect_shared NAME PROG: 3 ranks, each says OK, all print the same values.
expect_shared() {
	run_job "$TMP/$1.out" -n 3 "$2"
	cat "$TMP/$1.out"
	[ $rc -eq 0 ] || fail "$1: the job exited $rc"
	expect_eq "$(grep -c '^\[[0-9]\] rank [0-9]: OK$' "$TMP/$1.out")" 3 "$1: ranks that said OK"
	expect_eq "$(grep -c '^\[[0-9]\] values: counter=13 s_init=45 sum=44988000 init=2$' "$TMP/$1.out")" 3 \
		"$1: ranks that saw every rank's stores"
}

cc -O2 -c "$S/share_part.c" -o part.o || fail "cc -c share_part.c"
"$D" --share-globals -O2 -Wall -Werror "$S/share_main.c" part.o -o prog || fail "dsmcc --share-globals"
expect_shared shared ./prog

# The zeroed 64 MiB stay NOBITS: memory, not file.
readelf -SW prog >sections || fail "readelf -S prog"
cat sections
bss=$(awk '$2 == "dsm_shared_bss" || $3 == "dsm_shared_bss"' sections)
echo "$bss" | grep -q NOBITS || fail "dsm_shared_bss is missing or not NOBITS: $bss"
size=$(echo "$bss" | sed 's/.*NOBITS *[0-9a-f]* [0-9a-f]* \([0-9a-f]*\) .*/\1/')
[ $((0x$size)) -ge $((64 << 20)) ] || fail "dsm_shared_bss holds $((0x$size)) bytes, not the 64 MiB array"
bytes=$(wc -c <prog)
[ "$bytes" -lt $((8 << 20)) ] || fail "the program is $bytes bytes: the zeroed array went into the file"
echo "prog: $bytes bytes on disk, $((0x$size)) bytes of shared .bss"

# The same sources without --share-globals: the ranks do not share.
"$D" -O2 "$S/share_main.c" part.o -o plain || fail "dsmcc without --share-globals"
run_job "$TMP/plain.out" -n 3 ./plain
cat "$TMP/plain.out"
[ $rc -ne 0 ] || fail "the program passed without --share-globals: the test cannot tell sharing"
expect_grep "FAIL: pre_init 100[12], not rank 0's 1000" "$TMP/plain.out" "the unshared program's failure"

# Objects made by dsmcc -c are complete: plain cc links them.
"$D" --share-globals -c -O2 "$S/share_main.c" || fail "dsmcc --share-globals -c"
"$D" --share-globals -c "$S/share_part.c" -o part_shared.o || fail "dsmcc --share-globals -c -o"
cc share_main.o part_shared.o -o prog_cc $("$D" --libs) || fail "cc with dsmcc's objects"
expect_shared objects ./prog_cc

# A shared library made of dsmcc --share-globals objects: its globals are
# shared too (a data and a bss section in one library).
"$D" --share-globals -fPIC -c "$S/share_lib.c" -o lib.o || fail "dsmcc --share-globals -fPIC -c share_lib.c"
cc -shared lib.o -o libshare.so || fail "cc -shared"
"$D" "$S/share_libmain.c" -L. -lshare -Wl,-rpath,"$TMP" -o libmain || fail "dsmcc share_libmain.c"
run_job "$TMP/lib.out" -n 3 ./libmain
cat "$TMP/lib.out"
[ $rc -eq 0 ] || fail "the library's program exited $rc"
expect_eq "$(grep -c '^\[[0-9]\] rank [0-9]: OK$' "$TMP/lib.out")" 3 "ranks that saw the library's globals shared"

# docs/porting.md's example, ported with --share-globals.
"$D" --share-globals -O2 -Wall -Wextra -Werror "$DSM_TOP/examples/pthreads_port/histogram_share.c" -o hist ||
	fail "dsmcc --share-globals histogram_share.c"
run_job "$TMP/hist.out" -n 2 ./hist
cat "$TMP/hist.out"
[ $rc -eq 0 ] || fail "histogram_share exited $rc"
expect_grep "^\[0\] 2 workers counted 1048576 values" "$TMP/hist.out" "histogram_share's count"

# -flto objects have no sections to rename.
if "$D" --share-globals -flto "$S/share_part.c" -c -o lto.o 2>lto.err; then
	fail "-flto was accepted with --share-globals"
fi
expect_grep "drop -flto" lto.err "the -flto refusal"
echo "dsmcc_share: OK"
