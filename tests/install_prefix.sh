#!/bin/sh
# Description: make install into a temporary prefix, then use it as a new
# user would: make install prints the PATH, PKG_CONFIG_PATH and MANPATH lines
# to add; with them, the README's example builds with pkg-config alone, both
# shared (it finds libdsm.so.0 through its rpath, with no LD_LIBRARY_PATH)
# and --static (no libdsm.so.0 needed), and with the installed dsmcc (plain
# and --share-globals), and each runs on 2 ranks under the installed dsmexec
# and alone; `man dsmexec` and `man dsm_sem_wait` show their pages; in the
# tree every man page, the redirects included, reads with `man ./man/X`.
# Timeout: 240
. "$DSM_TOP/tests/lib.sh"
[ -x "$BIN/dsmexec" ] && [ -f "$DSM_TOP/lib/libdsm.so" ] || fail "build first: make"
command -v pkg-config >/dev/null 2>&1 || skip "no pkg-config"
if nm "$DSM_TOP/lib/libdsm.a" 2>/dev/null | grep -q "__asan_\|__tsan_\|__ubsan_"; then
	skip "sanitizer build: an installed libdsm.so with a sanitizer runtime cannot load into a plain program"
fi

# The pages in the tree, every one (the redirects are links to the page
# that documents them).
for p in "$DSM_TOP"/man/*.[13]; do
	name=$(basename "$p")
	name=${name%.*}
	MANWIDTH=80 man -l "$p" 2>"$TMP/man.err" >"$TMP/man.out" || fail "man -l man/$(basename "$p") failed"
	grep -q "$name" "$TMP/man.out" || { cat "$TMP/man.err"; fail "man -l man/$(basename "$p") does not show $name"; }
done
echo "every man page in the tree reads"

P=$TMP/opt/dsm
# -o all: install what the tree has built; whatever make check was run
# with, nothing is rebuilt here.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u PKG_CONFIG_PATH -u MANPATH \
	make -s -C "$DSM_TOP" -o all install PREFIX="$P" >"$TMP/install.out" 2>&1 ||
	{ cat "$TMP/install.out"; fail "make install PREFIX=$P"; }
cat "$TMP/install.out"
for v in PATH PKG_CONFIG_PATH MANPATH; do
	expect_grep "^ *export $v=\"$P/" "$TMP/install.out" "make install's $v line"
done

# A fresh environment with only the lines make install printed.
unset PKG_CONFIG_PATH MANPATH LD_LIBRARY_PATH DSM_TOP_UNUSED
PATH=/usr/local/bin:/usr/bin:/bin
eval "$(grep '^ *export ' "$TMP/install.out")"
expect_eq "$(command -v dsmexec)" "$P/bin/dsmexec" "dsmexec in PATH"
expect_eq "$(command -v dsmcc)" "$P/bin/dsmcc" "dsmcc in PATH"
expect_eq "$(pkg-config --modversion dsm)" "0.1" "pkg-config --modversion dsm"
if command -v man >/dev/null 2>&1; then
	expect_eq "$(man -w dsmexec)" "$P/share/man/man1/dsmexec.1" "man -w dsmexec"
	MANWIDTH=80 man dsmexec 2>/dev/null | grep -q "dsmexec - start a dsm job" || fail "man dsmexec"
	MANWIDTH=80 man dsm_sem_wait 2>/dev/null | grep -q "dsm_sem_wait" || fail "man dsm_sem_wait"
	MANWIDTH=80 man dsmcc 2>/dev/null | grep -q "share-globals" || fail "man dsmcc"
fi

# The README's example, as a user copies it.
cd "$TMP" || fail "cd $TMP"
awk '/^## A program/ { f = 1 } f && /^```c/ { g = 1; next } g && /^```/ { exit } g' "$DSM_TOP/README.md" >ex.c
grep -q "dsm_init" ex.c || fail "no C example under the README's '## A program'"

# run NAME PROG: alone, then 2 ranks under the installed dsmexec.
run() {
	./"$2" >"$1.alone" 2>&1 || { cat "$1.alone"; fail "$1 alone exited $?"; }
	expect_grep "^sum 523776$" "$1.alone" "$1 alone"
	rc=0
	timeout -k 5 60 dsmexec -n 2 ./"$2" >"$1.out" 2>&1 || rc=$?
	cat "$1.out"
	[ $rc -eq 0 ] || fail "$1 under dsmexec exited $rc"
	expect_eq "$(grep -c '^\[[01]\] sum 523776$' "$1.out")" 2 "$1: ranks that printed the sum"
}

# shellcheck disable=SC2046
cc -o ex_shared ex.c $(pkg-config --cflags --libs dsm) || fail "cc ex.c \$(pkg-config --cflags --libs dsm)"
readelf -d ex_shared | grep -q "NEEDED.*libdsm.so.0" || fail "ex_shared does not use libdsm.so.0"
run shared ex_shared

# shellcheck disable=SC2046
cc -o ex_static ex.c $(pkg-config --static --cflags --libs dsm) || fail "cc ex.c \$(pkg-config --static ...)"
readelf -d ex_static >dyn
if grep -q "libdsm" dyn; then
	cat dyn
	fail "pkg-config --static linked libdsm.so"
fi
run static ex_static

dsmcc -o ex_dsmcc ex.c || fail "dsmcc ex.c"
run dsmcc ex_dsmcc
dsmcc --share-globals -o ex_share ex.c || fail "dsmcc --share-globals ex.c"
run share ex_share
echo "install_prefix: OK"
