#!/bin/sh
# Description: jobs started by a real Slurm's srun instead of dsmexec, on a
# one-node cluster this test sets up for itself (munged, slurmctld and slurmd
# with a private configuration, ports and state, stopped at the end).  The
# stripe test and the lock counter on 4 tasks meeting at Slurm's default
# rendezvous (the step's first host, a port from the job and step ids); a job
# through srun --mpi=pmix meeting and sharing its secret through PMIx; a job
# without a secret refused; a task killed ends the job, named; scancel (the
# scheduler's kill) ends every task; no process is left behind.
# Needs root and Debian's slurm-wlm and munge; skipped without them.
# Backends: uffd sigsegv
# Timeout: 150
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

for c in slurmctld slurmd srun scancel sinfo munged; do
	command -v $c >/dev/null 2>&1 || skip "$c not found (Debian: apt-get install slurm-wlm munge)"
done
[ "$(id -u)" = 0 ] || skip "slurmd must run as root to start tasks"
[ -x "$TBIN/stripe" ] && [ -x "$TBIN/cluster_wait" ] && [ -x "$BIN/counter" ] || fail "build first: make tests"

. "$DSM_TOP/tests/cluster/lib.sh"
# This test's own Slurm, not one the machine may have.
unset_slurm_env
tag_jobs slurm
# What a job leaves gets 10 s to go, not 5.
LEFT_WAIT=100
DAEMONS=""
stop_daemons() {
	for p in $DAEMONS; do kill -TERM "$p" 2>/dev/null; done
	for p in $DAEMONS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	DAEMONS=""
}
cleanup() {
	[ -n "$DAEMONS" ] && scancel -n "$JOB" 2>/dev/null
	kill_left_behind
	stop_daemons
	rm -rf "$TMP"
}

# ---- a one-node cluster ---------------------------------------------------
S=$TMP/slurm
mkdir -p "$S/state" "$S/spool" "$S/munge"
chmod 700 "$S/munge"
head -c 1024 /dev/urandom >"$S/munge/key"
chmod 600 "$S/munge/key"
host=$(hostname -s)
node=$host
# The step's node list names the node; rank 0's default rendezvous is there.
getent hosts "$node" >/dev/null 2>&1 || node=localhost
# Ports and job ids of this run, so that two runs at once do not meet.
base=$((20000 + ($$ % 5000) * 2))
first_job=$((1000 + ($$ % 100000)))
JOB="dsmtest$$"
cat >"$S/slurm.conf" <<EOF
ClusterName=dsmtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$S/munge/socket
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
FirstJobId=$first_job
KillWait=5
ReturnToService=2
SlurmdParameters=config_overrides
NodeName=$node NodeAddr=127.0.0.1 CPUs=8 State=UNKNOWN
PartitionName=dsm Nodes=$node Default=YES MaxTime=10 State=UP OverSubscribe=YES
EOF
export SLURM_CONF="$S/slurm.conf"
munged -F -f --socket="$S/munge/socket" --key-file="$S/munge/key" --log-file="$S/munge/log" \
	--pid-file="$S/munge/pid" --seed-file="$S/munge/seed" >"$S/munged.out" 2>&1 &
DAEMONS="$!"
i=0
while [ ! -S "$S/munge/socket" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
slurmctld -D -i >"$S/slurmctld.out" 2>&1 &
DAEMONS="$! $DAEMONS"
slurmd -D -N "$node" >"$S/slurmd.out" 2>&1 &
DAEMONS="$! $DAEMONS"
i=0
while ! sinfo -h -o %t 2>/dev/null | grep -q idle && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
if [ $i -ge 150 ]; then
	tail -n 20 "$S"/*.out "$S"/*.log
	fail "the one-node Slurm cluster did not come up within 30 s"
fi
echo "Slurm $(srun --version | cut -d' ' -f2): node $node, slurmctld port $base, first job $first_job"

# srun under a safety timeout (--foreground: srun gets one SIGTERM, not two)
SRUN="timeout --foreground -k 5 60 srun -J $JOB --label"
make_secret
suppress_pmix_leaks

# 1. stripe at Slurm's default rendezvous
job "$TMP/out" DSM_LOG=info DSM_SECRET_FILE="$TMP/secret" $SRUN -n 4 "$TBIN/stripe" 8
[ $rc -eq 0 ] || fail "stripe under srun: exit status $rc"
for r in 0 1 2 3; do
	expect_grep "^ *$r: stripe: rank $r checked 1048576 words x 2 rounds: ok$" "$TMP/out" \
		"stripe: Slurm's task $r is dsm rank $r, and ok"
done
expect_eq "$(grep -c 'started by Slurm$' "$TMP/out")" 4 "stripe: tasks that found Slurm's variables"
expect_grep "the rendezvous is at $node:6[0-9]*: Slurm's default" "$TMP/out" "stripe: the default rendezvous"
expect_none_left "stripe"

# 2. counter
job "$TMP/out" DSM_SECRET_FILE="$TMP/secret" $SRUN -n 4 "$BIN/counter" 200
[ $rc -eq 0 ] || fail "counter under srun: exit status $rc"
expect_grep "^ *0: counter: rank 0: 800 increments by 4 ranks, expected 800, 0 overlaps: OK$" "$TMP/out" \
	"counter on 4 tasks"
expect_none_left "counter"

# 3. srun --mpi=pmix: PMIx alone, no secret file
if ! grep -a -q 'libpmix\.so\.2' "$DSM_TOP/lib/libdsm.a"; then
	echo "(libdsm built without PMIx: no srun --mpi=pmix job)"
elif ! srun --mpi=list 2>&1 | grep -q pmix; then
	echo "(this Slurm has no PMIx plugin: no srun --mpi=pmix job)"
else
	job "$TMP/out" DSM_LOG=info $SRUN --mpi=pmix -n 4 "$TBIN/stripe" 2
	[ $rc -eq 0 ] || fail "stripe under srun --mpi=pmix: exit status $rc"
	expect_eq "$(grep -c 'stripe: rank .* ok$' "$TMP/out")" 4 "stripe through PMIx: tasks ok"
	expect_eq "$(grep -c 'started by PMIx (Slurm)$' "$TMP/out")" 4 "tasks that found PMIx"
	expect_eq "$(grep -c 'job secret comes from rank 0 through PMIx' "$TMP/out")" 4 "tasks with PMIx's secret"
	expect_none_left "srun --mpi=pmix"
fi

# 4. no secret: refused
job "$TMP/out" $SRUN -n 2 "$TBIN/stripe" 2
[ $rc -ne 0 ] || fail "a job without a secret ran"
[ $secs -le 15 ] || fail "a job without a secret took $secs s to be refused"
expect_grep "no job secret for this job started by Slurm: set DSM_SECRET_FILE" "$TMP/out" "no secret: the message"
expect_none_left "no secret"

# 5. a task killed (SIGKILL) ends the job, named
job "$TMP/out" DSM_SECRET_FILE="$TMP/secret" $SRUN -n 3 "$TBIN/killself" barrier
[ $rc -ne 0 ] || fail "killed task: the job succeeded"
[ $secs -le 15 ] || fail "killed task: the job took $secs s to end (exit status $rc)"
expect_grep "killself: rank 1 dies" "$TMP/out" "killed task: rank 1 reached its death"
expect_grep "rank 1 closed its connection" "$TMP/out" "killed task: the others name rank 1"
expect_grep "task 1: Killed" "$TMP/out" "killed task: srun names task 1"
! grep -q survived "$TMP/out" || fail "killed task: a task finished without rank 1"
expect_none_left "killed task"

# 6. scancel ends every task
env DSM_TEST_TAG="$TAG" DSM_SECRET_FILE="$TMP/secret" srun -J "$JOB" --label -n 4 "$TBIN/cluster_wait" 60 \
	>"$TMP/out" 2>&1 </dev/null &
pid=$!
scancel_job() { scancel -n "$JOB" || fail "scancel -n $JOB: exit status $?"; }
expect_job_stopped scancel srun task scancel_job
expect_none_left "scancel"
exit 0
