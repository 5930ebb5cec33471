#!/bin/sh
# Description: `make stress`: the consistency checker (sccheck) and the litmus
# tests on real ranks, over and over with fresh seeds, for a given time.
#   verify/stress.sh [SECONDS [SEED]]     (defaults: 300, a random seed)
# Each run uses the next seed (SEED, SEED+1, ...) and one of several shapes
# (ranks, threads per rank, words, pages, homes, fault backend); a failure
# prints the command that replays it exactly and keeps its logs.  The last
# line sums up: runs, operations verified, failures.  Exit 1 on any failure.
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-300}
seed=${2:-}
[ -n "$seed" ] || seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
case "$secs$seed" in *[!0-9]*) echo "usage: verify/stress.sh [SECONDS [SEED]]"; exit 2;; esac
bin=$top/bin tbin=$top/build/tests
for f in "$bin/dsmexec" "$tbin/sccheck" "$tbin/litmus"; do
	[ -x "$f" ] || { echo "stress: $f is missing: run make tests first"; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/dsmstress.XXXXXX")
keep=0
trap '[ $keep = 1 ] || rm -rf "$work"' EXIT

# ranks threads ops words pages homes read%
shapes="3 3 30000 16 4 cyclic 50
4 2 30000 16 4 block 50
2 4 30000 4 2 cyclic 30
5 1 20000 32 8 cyclic 70
3 2 30000 8 8 block 50
4 3 15000 16 3 cyclic 50"
nshapes=$(echo "$shapes" | wc -l)
backends="auto sigsegv"
if [ -r /proc/sys/vm/unprivileged_userfaultfd ] && [ "$(id -u)" != 0 ] &&
   [ "$(cat /proc/sys/vm/unprivileged_userfaultfd)" = 0 ]; then
	backends="sigsegv" # auto would be sigsegv as well
fi

start=$(date +%s)
runs=0 ops=0 fails=0 litmus=0 k=0
echo "stress: ${secs}s from seed $seed, work in $work"
while [ $(( $(date +%s) - start )) -lt "$secs" ]; do
	i=$((k % nshapes + 1))
	set -- $(echo "$shapes" | sed -n "${i}p")
	n=$1 t=$2 o=$3 w=$4 p=$5 home=$6 rd=$7
	b=$(echo $backends | cut -d' ' -f$(( (k / nshapes) % $(echo $backends | wc -w) + 1 )))
	s=$((seed + k))
	k=$((k + 1))
	d=$work/run$k
	mkdir -p "$d"
	cmd="DSM_BACKEND=$b DSM_HOME=$home $bin/dsmexec -t 300 -n $n $tbin/sccheck -t $t -o $o -w $w -p $p -r $rd -s $s"
	if env DSM_BACKEND="$b" DSM_HOME="$home" "$bin/dsmexec" -t 300 -n "$n" "$tbin/sccheck" -t "$t" -o "$o" \
		-w "$w" -p "$p" -r "$rd" -s "$s" -d "$d" >"$d/out" 2>&1 &&
	   grep -q '^\[0\] sccheck: ok (' "$d/out"; then
		v=$(sed -n 's/^\[0\] sccheck: ok (\([0-9]*\) operations verified.*/\1/p' "$d/out")
		ops=$((ops + v))
		rm -rf "$d"
	else
		fails=$((fails + 1))
		keep=1
		tail -n 30 "$d/out"
		echo "stress: FAILED: sccheck, seed $s; replay: $cmd"
		echo "stress: output and logs kept in $d"
	fi
	runs=$((runs + 1))
	# every fourth run, the litmus tests on 4 ranks with this seed
	if [ $((k % 4)) = 0 ]; then
		if env DSM_BACKEND="$b" "$bin/dsmexec" -t 300 -n 4 "$tbin/litmus" 1000 "$s" >"$work/litmus.out" 2>&1 &&
		   grep -q '^\[0\] litmus: ok$' "$work/litmus.out"; then
			litmus=$((litmus + 1))
		else
			fails=$((fails + 1))
			keep=1
			cp "$work/litmus.out" "$work/litmus.$s.out"
			grep -E 'WRONG|forbidden|FAIL|error' "$work/litmus.out" | head -n 20
			echo "stress: FAILED: litmus, seed $s; replay: DSM_BACKEND=$b $bin/dsmexec -n 4 $tbin/litmus 1000 $s"
			echo "stress: output kept in $work/litmus.$s.out"
		fi
	fi
done
echo "stress: $runs sccheck runs ($ops operations verified), $litmus litmus runs, $fails failure(s)," \
	"seeds $seed..$((seed + k - 1)), $(( $(date +%s) - start ))s"
[ $fails = 0 ]
