#!/bin/sh
# Description: `make fuzz`: builds the fuzz targets with clang and libFuzzer
# (AddressSanitizer and UndefinedBehaviorSanitizer on) and runs each one.
#   fuzz/run.sh [SECONDS [RUNS [TARGET...]]]   (defaults: 60 per target, no
#                                               run limit, every target)
# Targets: wire (wire_decode_hdr), accept (net_auth_accept), connect
# (net_auth_connect); see fuzz/fuzz_*.c.  Each starts from fuzz/corpus/TARGET
# and grows a working corpus in build/fuzz/corpus-TARGET.  A crash is saved
# as build/fuzz/crash-TARGET-*; copy it into fuzz/corpus/TARGET/ once fixed,
# and `make check` replays it from then on.  Prints the executions of each
# target and their total.  FUZZ_CC picks the compiler (default clang).
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
runs=${2:-}
[ $# -gt 2 ] && shift 2 || set --
targets=${*:-"wire accept connect"}
cc=${FUZZ_CC:-clang}
out=$top/build/fuzz
mkdir -p "$out"
command -v "$cc" >/dev/null 2>&1 || { echo "fuzz: $cc not found (Debian: apt-get install clang)"; exit 1; }
total=0 bad=0
for t in $targets; do
	src=$top/fuzz/fuzz_$t.c
	[ -f "$src" ] || { echo "fuzz: no target $t"; exit 2; }
	echo "fuzz: building $t"
	$cc -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-I"$top/include" -I"$top/src" "$src" "$top/src/wire.c" "$top/src/net.c" "$top/src/log.c" \
		-o "$out/fuzz_$t" -lsodium || exit 1
	mkdir -p "$out/corpus-$t"
	log=$out/fuzz_$t.log
	(cd "$out" && ./fuzz_$t -max_total_time="$secs" ${runs:+-runs=$runs} -print_final_stats=1 \
		-artifact_prefix="$out/crash-$t-" "corpus-$t" "$top/fuzz/corpus/$t" >"$log" 2>&1)
	rc=$?
	n=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
	n=${n:-0}
	total=$((total + n))
	if [ $rc -ne 0 ]; then
		bad=1
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -n 10
		echo "fuzz: $t: FOUND A BUG after $n executions (log: $log)"
	else
		echo "fuzz: $t: $n executions, no crash ($(ls "$out/corpus-$t" | wc -l) inputs in the working corpus)"
	fi
done
echo "fuzz: $total executions in all"
exit $bad
