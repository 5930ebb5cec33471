#!/bin/sh
# Description: DSM_SHARED globals - variables of many types and sizes (one
# byte to 5 MiB, spanning pages, initialised and zeroed) in the program and
# in a shared library it links start as rank 0's copy, are written by one
# rank and read by all, and leave the private variables beside them private;
# function pointers and addresses of globals kept in shared globals and
# passed in an RPC that calls them on the far side; the same program built
# non-PIE and with clang; the ported pthreads example; a program holding a private copy of a library's
# shared variable (a copy relocation) is refused.
# Backends: uffd sigsegv
# Timeout: 240
. "$DSM_TOP/tests/lib.sh"
P=$TBIN/globals_prog
[ -x "$BIN/dsmexec" ] && [ -x "$P" ] || fail "build first: make tests"

job() { # OUT dsmexec-args...: run_job, then show its output
	run_job "$@"
	cat "$1"
}
# expect_ok NAME PROG MODE RANKS
expect_ok() {
	job "$TMP/$1.out" -n "$4" "$2" "$3"
	[ $rc -eq 0 ] || fail "$1: the job exited $rc"
	n=$(grep -c "$3: .*OK" "$TMP/$1.out")
	expect_eq "$n" "$4" "$1: ranks that said OK"
}

expect_ok check "$P" check 4
expect_ok fnptr "$P" fnptr 3
# The ported pthreads example (docs/porting.md).
job "$TMP/port.out" -n 4 "$BIN/port_histogram"
[ $rc -eq 0 ] || fail "port_histogram exited $rc"
expect_grep "^\[0\] 4 workers counted 1048576 values" "$TMP/port.out" "port_histogram's count"

# The same sources built other ways: non-PIE, clang (PIE and not).  Not under
# a sanitizer, whose runtime the plain compilers would have to be told of.
if nm "$DSM_TOP/lib/libdsm.a" 2>/dev/null | grep -q "__asan_\|__tsan_\|__ubsan_"; then
	echo "sanitizer build: only the Makefile's variant"
	exit 0
fi
S=$DSM_TOP/tests/progs
# variant NAME CC CFLAGS...: the library and the program, built with CC
variant() {
	_name=$1 _cc=$2
	shift 2
	mkdir -p "$TMP/$_name"
	"$_cc" -O2 -g -I"$DSM_TOP/include" -fPIC -shared -o "$TMP/$_name/libglobals_lib.so" \
		"$S/libglobals_lib.c" || fail "$_name: building the library"
	"$_cc" -O2 -g -pthread -I"$DSM_TOP/include" "$@" -o "$TMP/$_name/globals_prog" "$S/globals_prog.c" \
		-L"$TMP/$_name" -lglobals_lib -Wl,-rpath,"$TMP/$_name" "$DSM_TOP/lib/libdsm.a" -lsodium -llz4 \
		|| fail "$_name: building the program"
}
variant gcc_nopie gcc -fno-pie -no-pie -mno-direct-extern-access
readelf -h "$TMP/gcc_nopie/globals_prog" | grep -q "EXEC" || fail "gcc_nopie is not a non-PIE executable"
expect_ok gcc_nopie "$TMP/gcc_nopie/globals_prog" check 3
if command -v clang >/dev/null 2>&1; then
	variant clang_pie clang -fPIE -pie
	expect_ok clang_pie "$TMP/clang_pie/globals_prog" check 3
	expect_ok clang_pie_fn "$TMP/clang_pie/globals_prog" fnptr 2
	variant clang_nopie clang -fno-pie -no-pie -fno-direct-access-external-data
	expect_ok clang_nopie "$TMP/clang_nopie/globals_prog" check 3
else
	echo "no clang: its variants not tried"
fi

# Without the flag a non-PIE program copies the library's variables into
# itself: dsm_init refuses it, naming a variable.
variant copyreloc gcc -fno-pie -no-pie
job "$TMP/copy.out" -n 2 "$TMP/copyreloc/globals_prog" check
[ $rc -ne 0 ] || fail "a program with a copy of a library's DSM_SHARED variable was not refused"
expect_grep "the program holds its own copy of lib_[a-z]*, a DSM_SHARED variable of .*libglobals_lib.so" \
	"$TMP/copy.out" "the copy-relocation message"
echo "globals_shared: OK"
