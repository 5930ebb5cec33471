#!/bin/sh
# make bench: every benchmark of the performance issue, each figure with its
# p50, p99 and its ratio to a limit measured in the same run (see
# docs/bench.md).  Takes 3 to 5 minutes on 2 cores.
#
#   bench/run.sh [--json] [--quick] [--out DIR]
#
#   --json   print one JSON document (every program's figures) instead of
#            the tables
#   --quick  fewer repetitions and samples, smaller kernels: a smoke test
#   --out    where the logs, the JSON, the per-sample files and the kernel
#            tables go (default build/bench-results); bench/plot draws from there
#
# Every program runs its repetitions inside one job (BENCH_REPS, default 5;
# BENCH_SCAN_REPS for the 256 MiB scan, default the same) and alternates what
# it compares, so a busy machine slows both alike.  The 4-rank application
# kernels are skipped when the run has used more than BENCH_BUDGET seconds
# (default 330) before them.  The jobs other than the per-backend fault
# latencies use userfaultfd, or the SIGSEGV backend where this process may
# not use userfaultfd (or with BENCH_BACKEND=sigsegv).
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

json=0
quick=0
out=build/bench-results
while [ $# -gt 0 ]; do
	case $1 in
	--json) json=1 ;;
	--quick) quick=1 ;;
	--out) out=$2; shift ;;
	*) echo "usage: bench/run.sh [--json] [--quick] [--out DIR]" >&2; exit 2 ;;
	esac
	shift
done

reps=${BENCH_REPS:-5}
scan_reps=${BENCH_SCAN_REPS:-$reps}
budget=${BENCH_BUDGET:-330}
fl_pages=2000 inv4_pages=1000 inv8_pages=500 scan_mib=256 scan_rand=16384 sync_iters=2000
if [ $quick = 1 ]; then
	reps=2 scan_reps=1 fl_pages=300 inv4_pages=200 inv8_pages=100 scan_mib=32 scan_rand=1024 sync_iters=300
	export BENCH_JACOBI_N=${BENCH_JACOBI_N:-512} BENCH_JACOBI_ITERS=${BENCH_JACOBI_ITERS:-20}
	export BENCH_MATMUL_N=${BENCH_MATMUL_N:-256} BENCH_SORT_N=${BENCH_SORT_N:-262144}
fi

for p in limits fault_latency scan_bench sync_bench app_bench; do
	[ -x bin/$p ] || { echo "bench/run.sh: bin/$p is missing: run make first" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out/log" || exit 1
start=$(date +%s)
load_start=$(uptime | sed 's/.*load average: //')
status=0

say() {
	[ $json = 1 ] || printf '%s\n' "$*"
}

# run TAG COMMAND...: the program's table goes to the screen (unless --json)
# and to $out/log/TAG.txt; its JSON and samples to $out.
run() {
	tag=$1
	shift
	"$@" --reps "$reps" --out "$out" --tag "$tag" >"$out/log/$tag.txt" 2>&1
	rc=$?
	[ $json = 1 ] || cat "$out/log/$tag.txt"
	if [ $rc != 0 ]; then
		echo "bench/run.sh: $tag failed (exit $rc); its output is in $out/log/$tag.txt" >&2
		status=1
	fi
	say ""
}

elapsed() {
	echo $(($(date +%s) - start))
}

dsmexec="bin/dsmexec --no-prefix --timeout 240"

say "dsm benchmarks, $(date '+%Y-%m-%d %H:%M:%S %Z'), $(uname -n), $(nproc) cores, $(uname -sr)"
say "load average at the start: $load_start"
say ""
say "== limits: what the machine does without dsm"
run limits bin/limits
be=${BENCH_BACKEND:-uffd}
backends="uffd sigsegv"
if grep -q 'skip: userfaultfd' "$out/log/limits.txt"; then
	be=sigsegv
	backends=sigsegv
	say "userfaultfd is not permitted here (see above): every job uses the sigsegv backend"
	say ""
fi
say "== page faults, 2 ranks, each backend"
for b in $backends; do
	run fault-$b-2 env DSM_BACKEND=$b $dsmexec -n 2 bin/fault_latency $fl_pages
done
say "== invalidation: the owner writes a page that 3 and 7 other ranks read"
run fault-$be-4 env DSM_BACKEND=$be $dsmexec -n 4 bin/fault_latency $inv4_pages
run fault-$be-8 env DSM_BACKEND=$be $dsmexec -n 8 bin/fault_latency $inv8_pages
say "== bulk and random reads of remote memory"
reps_saved=$reps
reps=$scan_reps
run scan env DSM_BACKEND=$be DSM_SIZE=2G $dsmexec -n 2 bin/scan_bench $scan_mib $scan_rand
reps=$reps_saved
say "== synchronization and RPC"
run sync-2 env DSM_BACKEND=$be $dsmexec -n 2 bin/sync_bench $sync_iters
run sync-4 env DSM_BACKEND=$be $dsmexec -n 4 bin/sync_bench $sync_iters
say "== a rank alone: lock, semaphore and condition variable against a pthread mutex, each backend"
for b in $backends; do
	run sync-1-$b env DSM_BACKEND=$b $dsmexec -n 1 bin/sync_bench $sync_iters
done
say "== application kernels: dsm against the same kernel in one process"
for n in 1 2 4; do
	if [ $n = 4 ] && [ "$(elapsed)" -gt "$budget" ]; then
		say "apps on 4 ranks: skipped, the run has taken $(elapsed) s (BENCH_BUDGET=$budget)"
		say ""
		continue
	fi
	run apps-$n env DSM_BACKEND=$be DSM_SIZE=2G $dsmexec -n $n bin/app_bench
done

load_end=$(uptime | sed 's/.*load average: //')
# kernel, job's ranks, variant, width, p50 s, p99 s, speedup: bench/plot reads it.
for n in 1 2 4; do
	[ -f "$out/apps-$n.kernels.tsv" ] && awk -v n=$n -F '\t' -v OFS='\t' '{ print $1, n, $2, $3, $4, $5, $6 }' \
		"$out/apps-$n.kernels.tsv"
done >"$out/speedup.tsv"

# p50 of figure KEY in $out/TAG.json (one figure per line there).
p50() {
	sed -n "s/.*\"key\":\"$2\".*\"p50\":\([^,}]*\).*/\1/p" "$out/$1.json" 2>/dev/null | head -n 1
}

if [ $json = 1 ]; then
	printf '{"date":"%s","host":"%s","cores":%s,"kernel":"%s","load_start":"%s","load_end":"%s","seconds":%s,"runs":[\n' \
		"$(date '+%Y-%m-%d %H:%M:%S %Z')" "$(uname -n)" "$(nproc)" "$(uname -r)" "$load_start" "$load_end" "$(elapsed)"
	first=1
	for f in "$out"/*.json; do
		[ -f "$f" ] || continue
		[ $first = 1 ] || printf ',\n'
		first=0
		cat "$f"
	done
	printf ']}\n'
	exit $status
fi

echo "== speedups: serial p50 / p50, each job against the serial runs of its own"
printf '  %-8s %4s  %-13s %6s %10s %10s %9s\n' kernel job variant width "p50 s" "p99 s" speedup
sort -s -k1,1 "$out/speedup.tsv" | awk -F '\t' '
	{ printf "  %-8s %4s  %-13s %6d %10.3f %10.3f %8.2fx\n", $1, $2 "r", $3, $4, $5, $6, $7 }'
echo ""
rt=$(p50 limits tcp_rtt_4k) uf=$(p50 limits uffd_fault) sg=$(p50 limits segv_fault) mc=$(p50 limits memcpy_4k_cold)
cu=$(p50 fault-uffd-2 cold_read) cs=$(p50 fault-sigsegv-2 cold_read)
if [ -n "$rt" ] && [ -n "$mc" ] && { [ -n "$cu" ] || [ -n "$cs" ]; }; then
	echo "== the floor of a remote read fault (limits: local fault + tcp rtt 16B/4KiB + memcpy 4KiB, cold)"
	awk -v rt="$rt" -v uf="$uf" -v sg="$sg" -v mc="$mc" -v cu="$cu" -v cs="$cs" 'BEGIN {
		if (cu != "" && uf != "")
			printf "  uffd:    %.1f + %.1f + %.2f = %.1f us; cold read p50 %.1f us = %.2fx the floor\n", uf, rt, mc, uf + rt + mc, cu, cu / (uf + rt + mc)
		if (cs != "" && sg != "")
			printf "  sigsegv: %.1f + %.1f + %.2f = %.1f us; cold read p50 %.1f us = %.2fx the floor\n", sg, rt, mc, sg + rt + mc, cs, cs / (sg + rt + mc) }'
	echo ""
fi
echo "== targets of the performance issue (job, target)"
for f in "$out"/log/*.txt; do
	t=$(basename "$f" .txt)
	grep '^target:' "$f" | sed 's/^target: //' | awk -v t="$t" '{ printf "  %-16s %s\n", t, $0 }'
done
echo ""
echo "load average at the end: $load_end; $(elapsed) s in all; files in $out (bench/plot draws them)"
exit $status
