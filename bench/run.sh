#!/bin/sh
# make bench: every benchmark of the performance issue, each figure with its
# p50, p99 and its ratio to a limit measured in the same run (see
# docs/bench.md), then the application suite (issue 14).  Takes about 4
# minutes on 2 cores (215 s before the class A job was added, load average 2).
#
#   bench/run.sh [--json] [--quick] [--out DIR] [apps]
#
#   --json   print one JSON document (every program's figures) instead of
#            the tables
#   --quick  fewer repetitions and samples, smaller kernels: a smoke test
#   --out    where the logs, the JSON, the per-sample files and the kernel
#            tables go (default build/bench-results); bench/plot draws from there
#   apps     only the application suite (make bench BENCH_ARGS=apps)
#   noapps   everything but the application suite (make bench BENCH_ARGS=noapps)
#
# The suite (bin/app_bench) runs in three jobs, of 1, 2 and 4 ranks; each
# measures its own serial and pthreads-2 baselines.  Kernels and classes:
# BENCH_APPS (default below), BENCH_APPS4 for the 4-rank job (default the
# same; 4 ranks on 2 cores take longer); repetitions BENCH_APPS_REPS
# (default 3) and BENCH_APPS4_REPS (default 1).  A fourth job runs class A
# of CG, FT and IS on 2 ranks once (BENCH_APPS_A).
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
only=
out=build/bench-results
while [ $# -gt 0 ]; do
	case $1 in
	--json) json=1 ;;
	--quick) quick=1 ;;
	--out) out=$2; shift ;;
	apps) only=apps ;;
	noapps) only=noapps ;;
	*) echo "usage: bench/run.sh [--json] [--quick] [--out DIR] [apps|noapps]" >&2; exit 2 ;;
	esac
	shift
done

reps=${BENCH_REPS:-5}
scan_reps=${BENCH_SCAN_REPS:-$reps}
budget=${BENCH_BUDGET:-480}
fl_pages=2000 busy_pages=500 idle_s=5 inv4_pages=1000 inv8_pages=500 scan_mib=256 scan_rand=16384 sync_iters=2000 ft_mib=64
rc_phases=200 rc_items=1000
apps=${BENCH_APPS:-jacobi,matmul,sort,cg:W,ft:W,is:W,ep:W}
apps4=${BENCH_APPS4:-$apps}
apps_reps=${BENCH_APPS_REPS:-3}
hb_reps=${BENCH_HB_REPS:-3} hb_iters=2000 hb_idle=2
apps4_reps=${BENCH_APPS4_REPS:-1}
if [ $quick = 1 ]; then
	reps=2 scan_reps=1 fl_pages=300 busy_pages=100 idle_s=2 inv4_pages=200 inv8_pages=100 scan_mib=32 scan_rand=1024 sync_iters=300 ft_mib=16
	rc_phases=50 rc_items=200
	hb_reps=1 hb_iters=500 hb_idle=1
	apps_reps=1 apps4_reps=1 apps=${BENCH_APPS:-all} apps4=${BENCH_APPS4:-all}
	export BENCH_CLASS=S
	export BENCH_JACOBI_N=${BENCH_JACOBI_N:-512} BENCH_JACOBI_ITERS=${BENCH_JACOBI_ITERS:-20}
	export BENCH_MATMUL_N=${BENCH_MATMUL_N:-256} BENCH_SORT_N=${BENCH_SORT_N:-262144}
fi

for p in limits fault_latency scan_bench sync_bench first_touch busy_bench idle_cpu heartbeat app_bench rc_bench; do
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

# heartbeats: bin/heartbeat's chatty and idle-ish jobs with the detector on
# and off, one after the other, hb_reps times; prints medians per setting
# against the detector off: the time's ratio (1.00: no cost) and the bytes
# more (a heartbeat is one message header on a link quiet for
# DSM_TIMEOUT / 4; the default DSM_TIMEOUT sends one at the start).
heartbeats() {
	hb=$out/log/heartbeat.txt
	: >"$hb"
	for i in $(seq "$hb_reps"); do
		for t in default 1 inf; do
			for m in chatty idle; do
				arg=$hb_iters
				[ $m = idle ] && arg=$hb_idle
				if [ $t = default ]; then
					env -u DSM_TIMEOUT DSM_BACKEND=$be $dsmexec -n 2 bin/heartbeat $m $arg
				else
					env DSM_TIMEOUT=$t DSM_BACKEND=$be $dsmexec -n 2 bin/heartbeat $m $arg
				fi | sed "s/^/$t /" >>"$hb" || status=1
			done
		done
	done
	[ $json = 1 ] || awk '
	function med(k, n,   a, i, j, t) {
		for (i = 1; i <= n; i++) a[i] = v[k, i]
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	$2 == "heartbeat" { k = $3 SUBSEP $1; c[k]++; v[k "s", c[k]] = $5; v[k "b", c[k]] = $7 }
	END {
		printf "  %-7s %-16s %5s %9s %11s %9s %9s\n", "job", "DSM_TIMEOUT", "jobs", "p50 s", "p50 bytes", "time/off", "bytes-off"
		split("chatty idle", ms, " "); split("default 1 inf", ts, " ")
		for (i = 1; i <= 2; i++) for (j = 1; j <= 3; j++) {
			k = ms[i] SUBSEP ts[j]; o = ms[i] SUBSEP "inf"
			if (!c[k] || !c[o]) { printf "  %-7s %-16s  (failed: see the log)\n", ms[i], ts[j]; continue }
			s = med(k "s", c[k]); b = med(k "b", c[k]); so = med(o "s", c[o]); bo = med(o "b", c[o])
			printf "  %-7s %-16s %5d %9.3f %11d %9.2f %+9d\n", ms[i],
				ts[j] == "default" ? "default (on)" : ts[j] == "inf" ? "inf (off)" : ts[j] " (on)",
				c[k], s, b, s / so, b - bo
		}
	}' "$hb"
	say ""
}

say "dsm benchmarks, $(date '+%Y-%m-%d %H:%M:%S %Z'), $(uname -n), $(nproc) cores, $(uname -sr)"
say "load average at the start: $load_start"
say ""
be=${BENCH_BACKEND:-uffd}
backends="uffd sigsegv"
if [ "$only" != apps ]; then
say "== limits: what the machine does without dsm"
run limits bin/limits
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
if [ "$backends" != sigsegv ] && DSM_BACKEND=uffd-sigbus bin/dsmexec -n 1 bin/hello >/dev/null 2>&1; then
	run fault-uffd-sigbus-2 env DSM_BACKEND=uffd-sigbus $dsmexec -n 2 bin/fault_latency $fl_pages
fi
say "== answering while busy: rank 0 reads rank 1's pages while rank 1 spins on every CPU of its set"
run busy env DSM_BACKEND=$be $dsmexec -n 2 bin/busy_bench $busy_pages
say "   the same with the service thread left at the application's priority (DSM_SERVICE_PRIORITY=off; auto, the"
say "   default, raises it while it waits for a CPU), then at nice -20 throughout (DSM_SERVICE_PRIORITY=nice)"
run busy-off env DSM_BACKEND=$be DSM_SERVICE_PRIORITY=off $dsmexec -n 2 bin/busy_bench $busy_pages
run busy-nice env DSM_BACKEND=$be DSM_SERVICE_PRIORITY=nice $dsmexec -n 2 bin/busy_bench $busy_pages
say "== an idle rank's CPU ($idle_s s per repetition; the issue's 30 s shortened to keep make bench short)"
reps_saved=$reps
reps=1
run idle env DSM_BACKEND=$be $dsmexec -n 2 bin/idle_cpu $idle_s
reps=$reps_saved
say "== invalidation: the owner writes a page that 1, 3 and 7 other ranks read"
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
say "== release consistency (issue 16), 4 ranks: false sharing and a producer/consumer ring, SC against RC"
run rc-falseshare env DSM_BACKEND=$be $dsmexec -n 4 bin/rc_bench falseshare --phases $rc_phases
run rc-ring env DSM_BACKEND=$be $dsmexec -n 4 bin/rc_bench ring --items $rc_items
say "== first touch of fresh memory on one rank, each backend: dsm region against mmap"
for b in $backends; do
	run first-touch-$b env DSM_BACKEND=$b $dsmexec -n 1 bin/first_touch $ft_mib
done
say "== the failure detector (issue 19): heartbeats on (default DSM_TIMEOUT, and DSM_TIMEOUT=1) against off"
say "   (DSM_TIMEOUT=inf), 2 ranks; $hb_reps jobs of each, alternating; medians; bytes: sent by every rank"
heartbeats
elif [ -z "${BENCH_BACKEND:-}" ] && ! DSM_BACKEND=uffd bin/dsmexec -n 1 bin/hello >/dev/null 2>&1; then
	be=sigsegv
	say "userfaultfd is not permitted here: every job uses the sigsegv backend"
	say ""
fi
[ "$only" = noapps ] || say "== the application suite (issue 14): serial, pthreads-2, dsm and hybrid in each job"
reps_saved=$reps
[ "$only" = noapps ] || for n in 1 2 4; do
	list=$apps reps=$apps_reps
	[ $n = 4 ] && list=$apps4 reps=$apps4_reps
	if [ $n = 4 ] && [ "$(elapsed)" -gt "$budget" ]; then
		say "apps on 4 ranks: skipped, the run has taken $(elapsed) s (BENCH_BUDGET=$budget)"
		say ""
		continue
	fi
	run apps-$n env DSM_BACKEND=$be DSM_SIZE=2G bin/dsmexec --no-prefix --timeout 420 -n $n bin/app_bench "$list"
done
# Issue 16: CG and IS again with every shared array release-consistent
# (DSM_CONSISTENCY=release); compare with apps-2's dsm rows (BENCH_APPS_RC:
# the kernels; empty skips it).
rc_apps=${BENCH_APPS_RC-cg:W,is:W}
[ $quick = 1 ] && rc_apps=${BENCH_APPS_RC-cg:S,is:S}
if [ "$only" != noapps ] && [ -n "$rc_apps" ]; then
	say "== CG and IS with release-consistent shared arrays (DSM_CONSISTENCY=release), 2 ranks"
	run apps-rc-2 env DSM_BACKEND=$be DSM_SIZE=2G DSM_CONSISTENCY=release bin/dsmexec --no-prefix --timeout 420 \
		-n 2 bin/app_bench "$rc_apps"
fi
# Issue 14 asks for class A in make bench too: the kernels that communicate
# most, on 2 ranks, one repetition (about 25 s here; BENCH_APPS_A: the
# kernels; empty skips it; --quick skips it).
a_apps=${BENCH_APPS_A-cg:A,ft:A,is:A}
[ $quick = 1 ] && a_apps=${BENCH_APPS_A-}
if [ "$only" != noapps ] && [ -n "$a_apps" ]; then
	say "== class A of CG, FT and IS, 2 ranks, one repetition"
	reps=1
	run apps-A-2 env DSM_BACKEND=$be DSM_SIZE=2G bin/dsmexec --no-prefix --timeout 420 -n 2 bin/app_bench "$a_apps"
fi
reps=$reps_saved

load_end=$(uptime | sed 's/.*load average: //')
# kernel, job's ranks, variant, width, p50 s, p99 s, speedup (bench/plot reads
# these), then threads per rank, class, speedup / pthreads-2's, faults,
# pages in, MiB in, fault ms, barrier ms, barriers.
for n in 1 2 4; do
	[ -f "$out/apps-$n.kernels.tsv" ] && awk -v n=$n -F '\t' -v OFS='\t' '{ $2 = n OFS $2; print }' \
		"$out/apps-$n.kernels.tsv"
done >"$out/speedup.tsv"

# The suite's summary from speedup.tsv: one table of every kernel in every
# job, the one-rank table (issue 20) and the targets of issue 14 per kernel.
# Every ratio is within one job, or, across jobs, between speedups over each
# job's own serial run.
suite_tables() {
	awk -F '\t' '
	function count(n) {
		return n >= 1e6 ? sprintf("%.1fM", n / 1e6) : n >= 1e4 ? sprintf("%.1fk", n / 1e3) : sprintf("%d", n)
	}
	# What stands in the way: the share of the ranks time the run (job n,
	# variant v) spent in faults and barriers, their numbers and unit costs.
	function profile(k, n, v,   key, span, fp, bp) {
		key = k SUBSEP n SUBSEP v
		if (!(key in t) || !(t[key] > 0))
			return ""
		span = t[key] * 1000 * n
		fp = 100 * fms[key] / span
		bp = 100 * bms[key] / span
		return sprintf("%s %dx%d, %.3f s: %.0f%% of time in faults (%s faults, %.0f us each, %.1f MiB in), " \
			"%.0f%% in barriers (%s, %.0f us each), %.0f%% computing or waiting for a CPU", k, n, thr[key],
			t[key], fp, count(nf[key]), nf[key] > 0 ? fms[key] * 1000 / nf[key] : 0, mib[key], bp,
			count(nb[key]), nb[key] > 0 ? bms[key] * 1000 / nb[key] : 0, fp + bp < 100 ? 100 - fp - bp : 0)
	}
	function verdict(what, k, value, op, goal, why,   met) {
		if (value == "") {
			printf "  %-7s %-48s %s %4.2f  got    -   (not measured)\n", k, what, op, goal
			return
		}
		met = op == ">=" ? value >= goal : value <= goal
		printf "  %-7s %-48s %s %4.2f  got %6.2f  %s", k, what, op, goal, value, met ? "met" : "MISSED"
		if (!met)
			printf " (by %.2fx)", op == ">=" ? goal / value : value / goal
		printf "\n"
		if (!met && why != "")
			printf "  %-7s   in the way: %s\n", "", why
	}
	{
		k = $1; n = $2; v = $3
		if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
		key = k SUBSEP n SUBSEP v
		t[key] = $5; sp[key] = $7; vs[key] = $10; cls[k, n] = $9
		thr[key] = $8; nf[key] = $11; mib[key] = $13; fms[key] = $14; bms[key] = $15; nb[key] = $16
		if (v == "dsm" || v == "hybrid")
			rows[k] = rows[k] sprintf("  %-7s %2s  %-11s %3s %9.3f %7.2fx %7.2f %9d %9d %8.1f %9.1f %9.1f\n",
				k, $9, sprintf("dsm %dx%d", $4, $8), n "r", $5, $7, $10, $11, $12, $13, $14, $15)
		else if (n == 1)
			rows[k] = rows[k] sprintf("  %-7s %2s  %-11s %3s %9.3f %7.2fx %7.2f\n", k, $9,
				v == "serial" ? "serial" : sprintf("%s-%d", v, $4), n "r", $5, $7, $10)
	}
	END {
		print "== the application suite: every kernel in every job (speedup over the serial run of the"
		print "   same job; vs-thr = speedup / the same job'"'"'s pthreads-2 speedup; counters summed over ranks)"
		printf "  %-7s %2s  %-11s %3s %9s %8s %7s %9s %9s %8s %9s %9s\n", "kernel", "cl", "config", "job",
			"p50 s", "speedup", "vs-thr", "faults", "pages-in", "MiB-in", "fault-ms", "barr-ms"
		for (i = 1; i <= nk; i++)
			printf "%s", rows[order[i]]
		print ""
		print "== one rank (issue 20): each kernel on 1 rank of dsm against the same code without dsm, same job"
		printf "  %-7s %2s %10s %10s %8s\n", "kernel", "cl", "serial s", "dsm 1x1 s", "ratio"
		for (i = 1; i <= nk; i++) {
			k = order[i]
			if ((k, 1, "dsm") in t)
				printf "  %-7s %2s %10.3f %10.3f %7.2fx  target <= 1.10: %s\n", k, cls[k, 1], t[k, 1, "serial"],
					t[k, 1, "dsm"], t[k, 1, "dsm"] / t[k, 1, "serial"],
					t[k, 1, "dsm"] / t[k, 1, "serial"] <= 1.1 ? "met" : "MISSED"
		}
		print ""
		print "== project targets, issue 14 (ratios within one job; \"not slower\": speedups over each job'"'"'s serial run)"
		for (i = 1; i <= nk; i++) {
			k = order[i]
			if (k == "cg" || k == "ft" || k == "is" || k == "jacobi")
				verdict("2 ranks: speedup / pthreads-2 speedup", k, vs[k, 2, "dsm"], ">=", 0.8,
					profile(k, 2, "dsm"))
			r2 = (k, 2, "dsm") in sp && (k, 1, "dsm") in sp ? sp[k, 2, "dsm"] / sp[k, 1, "dsm"] : ""
			r4 = (k, 4, "dsm") in sp && (k, 1, "dsm") in sp ? sp[k, 4, "dsm"] / sp[k, 1, "dsm"] : ""
			c4 = cls[k, 4] != cls[k, 1] && cls[k, 4] != "" ? " (class " cls[k, 4] " on 4)" : ""
			verdict("2 ranks: not slower than 1 rank", k, r2, ">=", 1.0, profile(k, 2, "dsm"))
			verdict("1 rank x 2 threads: speedup / pthreads-2 speedup", k, vs[k, 1, "hybrid"], ">=", 0.9,
				profile(k, 1, "hybrid"))
			verdict("4 ranks: not slower than 1 rank" c4, k, r4, ">=", 1.0, profile(k, 4, "dsm"))
		}
	}' "$1"
}

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

if [ -s "$out/speedup.tsv" ]; then
	suite_tables "$out/speedup.tsv"
	echo ""
fi
# Issue 16: each kernel of apps-rc-2 (release-consistent arrays) against
# the same kernel of apps-2 (sequentially consistent), 2 ranks: the ratio of
# their speedups over each job's own serial run, target >= 1 (RC at least
# as fast as SC).
if [ -s "$out/apps-rc-2.kernels.tsv" ] && [ -s "$out/apps-2.kernels.tsv" ]; then
	echo "== project targets, issue 16: release-consistent arrays at least as fast as sequentially consistent (2 ranks)"
	awk -F '\t' 'FNR == 1 { f++ }
	$2 == "dsm" && f == 1 { sc[$1] = $6; sct[$1] = $4 }
	$2 == "dsm" && f == 2 && ($1 in sc) {
		r = sc[$1] > 0 ? $6 / sc[$1] : 0
		printf "  %-7s RC %.3f s (%.2fx, %d faults) against SC %.3f s (%.2fx): RC speedup / SC speedup %.2f, target >= 1.00: %s\n",
			$1, $4, $6, $10, sct[$1], sc[$1], r, (r >= 1 ? "met" : "MISSED")
	}' "$out/apps-2.kernels.tsv" "$out/apps-rc-2.kernels.tsv"
	echo ""
fi
# The floor of a remote fault: the backend's fastest local fault (uffd:
# SIGBUS mode where the kernel has it), a polling 16B/4KiB round trip and a
# cold 4 KiB copy.  Each fault of each fault-BACKEND-2 job over it, target
# 1.3x (issue 15).
rt=$(p50 limits tcp_rtt_4k_poll) mc=$(p50 limits memcpy_4k_cold) sg=$(p50 limits segv_fault)
uf=$(p50 limits uffd_fault) ub=$(p50 limits uffd_sigbus_fault)
[ -n "$ub" ] && [ -n "$uf" ] && uf=$(awk -v a="$uf" -v b="$ub" 'BEGIN { print a < b ? a : b }')
if [ -n "$rt" ] && [ -n "$mc" ]; then
	echo "== the floor of a remote fault (limits: fastest local fault + polling tcp rtt 16B/4KiB + memcpy 4KiB, cold)"
	for job in fault-uffd-2 fault-uffd-sigbus-2 fault-sigsegv-2; do
		[ -f "$out/$job.json" ] || continue
		lf=$uf
		[ $job = fault-sigsegv-2 ] && lf=$sg
		[ -n "$lf" ] || continue
		for k in cold_read write_miss upgrade; do
			v=$(p50 $job $k)
			[ -n "$v" ] || continue
			awk -v j=$job -v k=$k -v lf="$lf" -v rt="$rt" -v mc="$mc" -v v="$v" 'BEGIN {
				f = lf + rt + mc
				printf "  %-20s %-10s %.1f + %.1f + %.2f = %5.1f us; p50 %6.1f us = %5.2fx the floor (target <= 1.3: %s)\n",
					j, k, lf, rt, mc, f, v, v / f, v / f <= 1.3 ? "met" : "MISSED" }'
		done
	done
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
