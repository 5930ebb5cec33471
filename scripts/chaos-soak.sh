#!/bin/sh
# chaos-soak.sh [JOBS]: the attacks of issue 19, JOBS jobs each (default 5),
# with random victims, moments, errnos and damage; prints one table:
#   attack  jobs  exact  named  wrong  hung  secs
# exact: the job's result is that of an undisturbed run (attacks the job must
# survive); named: the job ended and named the right cause (the rank killed
# or stopped, the damaged file, the bad setting); wrong: anything else; hung:
# the job outlived its safety timeout.  Exit status 0 when no job was wrong
# or hung.  `make chaos-soak CHAOS_JOBS=N` runs it (after `make tests`).
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=$top/bin
TBIN=$top/build/tests
JOBS=${1:-5}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dsmchaos.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
for p in "$BIN/dsmexec" "$BIN/counter" "$BIN/ckpt_demo" "$TBIN/silent" "$TBIN/launcher_prog" "$TBIN/idleconn" "$TBIN/single" \
	"$TBIN/stripe"; do
	[ -x "$p" ] || { echo "chaos-soak: build first: make tests ($p is missing)"; exit 2; }
done
export DSM_LOG=warn

rnd() { echo $(( $(od -An -N2 -tu2 /dev/urandom) % $1 )); }
table=""
total_bad=0

# job LIMIT OUT ARGS...: a job under a safety timeout; sets rc (124: hung)
job() {
	_lim=$1 _out=$2
	shift 2
	rc=0
	timeout -k 5 "$_lim" "$BIN/dsmexec" "$@" >"$_out" 2>&1 || rc=$?
}

# classify: after one job, count it; $1 = exact|named|wrong (the verdict when
# not hung)
count() {
	if [ "$rc" = 124 ]; then hung=$((hung + 1)) # timeout(1): the job outlived its limit
	else case $1 in exact) exact=$((exact + 1));; named) named=$((named + 1));; *) wrong=$((wrong + 1))
		echo "--- $attack: wrong"; tail -5 "$TMP/o";; esac
	fi
}

attack_begin() { attack=$1 exact=0 named=0 wrong=0 hung=0 t0=$(date +%s); }
attack_end() {
	table="$table$(printf '%-26s %5d %6d %6d %6d %5d %6d' "$attack" "$JOBS" $exact $named $wrong $hung \
		$(($(date +%s) - t0)))
"
	total_bad=$((total_bad + wrong + hung))
}

# 1. kill -9 of a random rank at a random moment: the job ends naming it
attack_begin "kill -9 rank"
cp "$BIN/counter" "$TMP/victim"
for i in $(seq "$JOBS"); do
	timeout -k 5 60 "$BIN/dsmexec" -n 3 "$TMP/victim" 20000 >"$TMP/o" 2>&1 &
	j=$!
	for k in $(seq 200); do [ "$(pgrep -fc "^$TMP/victim ")" -ge 3 ] && break; sleep 0.02; done
	sleep "0.$(rnd 5)$(rnd 10)"
	set -- $(pgrep -f "^$TMP/victim " || true)
	if [ $# = 0 ]; then wait $j; rc=$?; count wrong; continue; fi
	v=$1; shift $(rnd $#) 2>/dev/null || true; v=${1:-$v}
	r=$(tr '\0' '\n' </proc/$v/environ 2>/dev/null | sed -n 's/^DSM_RANK=//p')
	kill -9 "$v" 2>/dev/null
	rc=0; wait $j || rc=$?
	if grep -q "expected 60000, 0 overlaps: OK" "$TMP/o"; then count exact # finished first
	elif [ -n "$r" ] && grep -q "rank $r (host .*) killed by signal 9" "$TMP/o"; then count named
	else count wrong; fi
done
attack_end

# 2-3. SIGSTOP of a rank that others wait for in a barrier / for a lock
for what in barrier lock; do
	attack_begin "SIGSTOP in $what"
	v=2; [ $what = lock ] && v=1
	for i in $(seq "$JOBS"); do
		DSM_TIMEOUT=1 job 60 "$TMP/o" --grace 1 -n 3 "$TBIN/silent" $what
		if [ $rc != 0 ] && grep -q "rank $v silent for" "$TMP/o" && ! grep -q "passed\|got the lock" "$TMP/o"
		then count named; else count wrong; fi
	done
	attack_end
done

# 4. a busy rank (computing 3 x DSM_TIMEOUT) is not declared dead
attack_begin "busy rank (not dead)"
for i in $(seq "$JOBS"); do
	DSM_TIMEOUT=1 job 60 "$TMP/o" -n 3 "$TBIN/silent" compute 3
	[ $rc = 0 ] && [ "$(grep -c 'silent: rank . done' "$TMP/o")" = 3 ] && count exact || count wrong
done
attack_end

# 5. every link errno, at a random moment
attack_begin "link errno"
set -- ECONNRESET ECONNABORTED EPIPE ETIMEDOUT EHOSTUNREACH ENETUNREACH ENETDOWN ENETRESET EHOSTDOWN EIO \
	ENOTCONN ECONNREFUSED EPROTO ENOBUFS ESHUTDOWN
errs="$*"
for i in $(seq "$JOBS"); do
	set -- $errs; shift $(rnd $#); e=$1
	# (DSM_LOG=info says "link to rank N lost ...": a job that ended before
	# its cut tested nothing, and counts as wrong)
	DSM_LOG=info DSM_TIMEOUT=20 DSM_FAULTS="cut=$(rnd 2)-2@0.$(rnd 3)s/$e" job 120 "$TMP/o" -n 3 "$BIN/counter" 300
	grep -q "expected 900, 0 overlaps: OK" "$TMP/o" && [ $rc = 0 ] && grep -q "link to rank . lost" "$TMP/o" &&
		count exact || count wrong
done
attack_end

# 6. lost, duplicated, reordered, delayed messages
attack_begin "drop/dup/reorder/delay"
for i in $(seq "$JOBS"); do
	DSM_FAULTS="drop=0.0$(rnd 3),dup=0.0$(rnd 5),reorder=0.0$(rnd 5),delay=10us..200us,seed=$(rnd 1000)" \
		job 120 "$TMP/o" -n 3 "$BIN/counter" 300
	grep -q "expected 900, 0 overlaps: OK" "$TMP/o" && [ $rc = 0 ] && count exact || count wrong
done
attack_end

# 7. idle strangers at the control port of a chatty job
attack_begin "strangers at control port"
for i in $(seq "$JOBS"); do
	DSM_LOG=info timeout -k 5 120 "$BIN/dsmexec" -n 2 "$TBIN/launcher_prog" lines=20000 >"$TMP/o" 2>&1 &
	j=$!
	port=
	for k in $(seq 100); do
		port=$(sed -n 's/.*control port \([0-9]*\),.*/\1/p' "$TMP/o" 2>/dev/null)
		[ -n "$port" ] && break
		sleep 0.02
	done
	[ -n "$port" ] && { "$TBIN/idleconn" 127.0.0.1 "$port" $((1 + $(rnd 100))) 30 >/dev/null 2>&1 & }
	s=$!
	rc=0; wait $j || rc=$?
	kill $s 2>/dev/null; wait $s 2>/dev/null
	[ $rc = 0 ] && [ "$(grep -c '^\[[01]\] line [0-9]* of rank' "$TMP/o")" = 40000 ] && count exact || count wrong
done
attack_end

# 8. damaged checkpoints: refused naming the file
attack_begin "damaged checkpoint"
DSM_SIZE=64M job 60 "$TMP/o" -n 3 "$BIN/ckpt_demo" -s 20 -k 10 -c 30000 "$TMP/ck"
for i in $(seq "$JOBS"); do
	rm -rf "$TMP/bad" && cp -a "$TMP/ck" "$TMP/bad"
	g=$TMP/bad/$(readlink "$TMP/bad/current")
	set -- heap rank.0.pages rank.1.pages rank.2.pages MANIFEST; shift $(rnd $#); f=$1
	case $(rnd 5) in
	0) rm "$g/$f" && mkfifo "$g/$f";;
	1) rm "$g/$f" && ln -s /dev/zero "$g/$f";;
	2) printf '\377' | dd of="$g/$f" bs=1 seek=$(rnd 40) conv=notrunc 2>/dev/null;;
	3) truncate -s -1 "$g/$f";;
	4) rm "$g/$f";;
	esac
	DSM_SIZE=64M job 30 "$TMP/o" -n 3 --restart "$TMP/bad" "$BIN/ckpt_demo" -s 20 -k 10 -c 30000 "$TMP/unused"
	[ $rc != 0 ] && grep -q "$f" "$TMP/o" && ! grep -q "result" "$TMP/o" && count named || count wrong
done
attack_end

# 9. garbage in a random setting: refused naming it
attack_begin "garbage setting"
vars="DSM_ENCRYPT DSM_COMPRESSION DSM_STATS DSM_INSECURE DSM_TIMEOUT DSM_SPIN_US DSM_READAHEAD DSM_BASE DSM_SIZE
      DSM_HOME DSM_BACKEND DSM_FAULTS DSM_MONITOR DSM_OBS_TOKEN"
for i in $(seq "$JOBS"); do
	set -- $vars; shift $(rnd $#); v=$1
	set -- garbage -1 99999999999999999999999 nan 2 0x1001; shift $(rnd $#); val=$1
	[ "$v" = DSM_TIMEOUT ] && [ "$val" = 2 ] && val=-2
	[ "$v" = DSM_READAHEAD ] || [ "$v" = DSM_SPIN_US ] || [ "$v" = DSM_MONITOR ] && [ "$val" = 2 ] && val=x2
	rc=0; env "$v=$val" timeout -k 5 30 "$TBIN/single" >"$TMP/o" 2>&1 || rc=$?
	[ $rc != 0 ] && grep -qF "$v=" "$TMP/o" && count named || count wrong
done
attack_end

# 10. dsmexec --retries: kill -9 of a random rank of a checkpointing job
attack_begin "kill -9 with --retries"
job 120 "$TMP/ref" -n 3 "$BIN/ckpt_demo" -s 40 -k 5 -c 20000 "$TMP/refck"
want=$(sed -n 's/.*result \([0-9a-f]*\),.*/\1/p' "$TMP/ref")
cp "$BIN/ckpt_demo" "$TMP/cdemo"
for i in $(seq "$JOBS"); do
	rm -rf "$TMP/rck"
	timeout -k 5 120 "$BIN/dsmexec" -n 3 --retries 3 --checkpoint "$TMP/rck" "$TMP/cdemo" -s 40 -k 5 -c 20000 -d 20 \
		"$TMP/rck" >"$TMP/o" 2>&1 &
	j=$!
	for k in $(seq 200); do [ -e "$TMP/rck/current" ] && break; sleep 0.02; done
	sleep "0.$(rnd 6)"
	set -- $(pgrep -f "^$TMP/cdemo " || true)
	[ $# -gt 0 ] && { shift $(rnd $#); kill -9 "$1" 2>/dev/null; }
	rc=0; wait $j || rc=$?
	[ $rc = 0 ] && [ -n "$want" ] && grep -q "result $want," "$TMP/o" && count exact || count wrong
done
attack_end

# 11. idle strangers at the rendezvous port of ranks started by hand
attack_begin "strangers at rendezvous"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/secret"
chmod 600 "$TMP/secret"
for i in $(seq "$JOBS"); do
	for try in 1 2 3; do
		port=$((20000 + $(rnd 12000)))
		pids=
		for r in 0 1 2; do
			env -u DSM_RENDEZVOUS -u DSM_SECRET_FD DSM_RANK=$r DSM_NRANKS=3 DSM_ROOT=127.0.0.1:$port \
				DSM_SECRET_FILE="$TMP/secret" DSM_TIMEOUT=30 timeout -k 5 60 "$TBIN/stripe" 2 \
				>"$TMP/r.$r" 2>&1 &
			pids="$pids $!"
			if [ $r = 0 ]; then # the crowd arrives before ranks 1 and 2
				for k in $(seq 100); do
					"$TBIN/idleconn" 127.0.0.1 $port 1 0 2>/dev/null | grep -q "1 open" && break
					sleep 0.02
				done
				"$TBIN/idleconn" 127.0.0.1 $port $((1 + $(rnd 200))) 30 >/dev/null 2>&1 &
				s=$!
				sleep 0.1
			fi
		done
		rc=0
		for p in $pids; do wait $p || rc=$?; done
		kill $s 2>/dev/null; wait $s 2>/dev/null
		grep -q "cannot listen" "$TMP/r.0" || break
	done
	cat "$TMP/r.0" "$TMP/r.1" "$TMP/r.2" >"$TMP/o"
	[ $rc = 0 ] && [ "$(grep -c '^stripe: rank . checked .* rounds: ok$' "$TMP/o")" = 3 ] && count exact || count wrong
done
attack_end

printf '%-26s %5s %6s %6s %6s %5s %6s\n' attack jobs exact named wrong hung secs
printf '%s' "$table"
[ $total_bad = 0 ]
