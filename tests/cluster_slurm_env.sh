#!/bin/sh
# Description: ranks started with the variables srun gives its tasks, set by
# this script (no Slurm needed; cluster_slurm runs the real one): 4 tasks on
# two "nodes" from a compressed node list (127.0.0.[1-2]) meet at Slurm's
# default rendezvous, the first host and a port from the job and step ids,
# and listen on an address other hosts could reach; a task killed ends the
# others, named; a malformed node list, rank 0 on another host than the
# list's first, and a batch script (SLURM_PROCID without a step) are handled
# with a message or as a job of one rank.
# Backends: uffd sigsegv
# Timeout: 120
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

[ -x "$TBIN/stripe" ] && [ -x "$TBIN/killself" ] && [ -x "$TBIN/single" ] || fail "build first: make tests"
. "$DSM_TOP/tests/cluster/lib.sh"
unset PMIX_NAMESPACE PMIX_RANK OMPI_COMM_WORLD_RANK OMPI_COMM_WORLD_SIZE PMI_RANK PMI_SIZE
unset_slurm_env
tag_jobs slurmenv
make_secret

# task RANK NODEID LOCALID NODE PROGRAM ARGS...: start one task in the
# background, its output in $TMP/task.RANK, with the variables srun sets
# (job: JOBID, NTASKS, NNODES, NODELIST, TPN), and DSM_* from the caller.
PIDS=""
task() {
	_r=$1 _n=$2 _l=$3 _node=$4
	shift 4
	env DSM_TEST_TAG="$TAG" SLURM_JOB_ID=$JOBID SLURM_JOBID=$JOBID SLURM_STEP_ID=0 SLURM_STEPID=0 \
		SLURM_PROCID=$_r SLURM_TASK_PID=$$ SLURM_LOCALID=$_l SLURM_NODEID=$_n SLURMD_NODENAME=$_node \
		SLURM_NTASKS=$NTASKS SLURM_NPROCS=$NTASKS SLURM_STEP_NUM_TASKS=$NTASKS \
		SLURM_STEP_NUM_NODES=$NNODES SLURM_NNODES=$NNODES SLURM_JOB_NUM_NODES=$NNODES \
		SLURM_STEP_NODELIST="$NODELIST" SLURM_NODELIST="$NODELIST" SLURM_JOB_NODELIST="$NODELIST" \
		SLURM_STEP_TASKS_PER_NODE="$TPN" SLURM_TASKS_PER_NODE="$TPN" SLURM_CLUSTER_NAME=dsmtest \
		timeout -k 5 30 "$@" >"$TMP/task.$_r" 2>&1 </dev/null &
	PIDS="$PIDS $!"
}
# wait_tasks: wait for every task; $rcs lists their statuses in rank order
wait_tasks() {
	rcs=""
	for p in $PIDS; do
		_rc=0
		wait "$p" || _rc=$?
		rcs="$rcs $_rc"
	done
	rcs=${rcs# }
	PIDS=""
	cat "$TMP"/task.*
}
new_job() { # a job id of its own, and with it a port of its own
	JOBID=$((100000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ')))
	PORT=$((61000 + (16 * JOBID + 0) % 4000))
}

# 1. two nodes, 4 tasks in blocks, Slurm's default rendezvous
NTASKS=4 NNODES=2 NODELIST="127.0.0.[1-2]" TPN="2(x2)"
try=0
while :; do
	new_job
	rm -f "$TMP"/task.*
	export DSM_SECRET_FILE="$TMP/secret" DSM_LOG=info
	task 0 0 0 127.0.0.1 "$TBIN/stripe" 4
	task 1 0 1 127.0.0.1 "$TBIN/stripe" 4
	task 2 1 0 127.0.0.2 "$TBIN/stripe" 4
	task 3 1 1 127.0.0.2 "$TBIN/stripe" 4
	unset DSM_SECRET_FILE DSM_LOG
	wait_tasks
	grep -q "cannot host the rendezvous" "$TMP/task.0" && [ $try -lt 3 ] || break
	try=$((try + 1))
done
expect_eq "$rcs" "0 0 0 0" "two nodes: exit statuses of the tasks"
for r in 0 1 2 3; do
	expect_grep "^stripe: rank $r checked 524288 words x 2 rounds: ok$" "$TMP/task.$r" "two nodes: rank $r"
	expect_grep "rank $r of 4, started by Slurm$" "$TMP/task.$r" "two nodes: rank $r found Slurm's variables"
	expect_grep "the rendezvous is at 127.0.0.1:$PORT: Slurm's default" "$TMP/task.$r" \
		"two nodes: rank $r meets at the first host, port 61000 + (16 x $JOBID + 0) mod 4000"
	# not the loopback address every host has: an interface's (or a warning)
	expect_grep "listening on [0-9.]*, th\|no network interface is up" "$TMP/task.$r" \
		"two nodes: rank $r chose an address others can reach"
done

# 2. a task killed (SIGKILL) while the others wait: they end, naming it
NTASKS=3 NNODES=1 NODELIST=localhost TPN=3
new_job
rm -f "$TMP"/task.*
start=$(date +%s)
export DSM_SECRET_FILE="$TMP/secret"
for r in 0 1 2; do task $r 0 $r localhost "$TBIN/killself" barrier; done
unset DSM_SECRET_FILE
wait_tasks
secs=$(($(date +%s) - start))
set -- $rcs
expect_eq "$2" 137 "killed task: rank 1's exit status (SIGKILL)"
for r in 0 2; do
	eval "st=\${$((r + 1))}"
	[ "$st" -ne 0 ] && [ "$st" -ne 124 ] && [ "$st" -ne 137 ] ||
		fail "killed task: rank $r exit status $st (0: went on; 124/137: hung)"
	expect_grep "rank 1 closed its connection" "$TMP/task.$r" "killed task: rank $r names rank 1"
done
[ $secs -le 15 ] || fail "killed task: the others took $secs s to end"

# 3. a malformed node list and no DSM_ROOT: refused, saying where
NTASKS=2 NNODES=3 NODELIST="node[1-3" TPN="1(x2)"
new_job
rm -f "$TMP"/task.*
export DSM_INSECURE=1
task 0 0 0 node1 "$TBIN/stripe" 1
wait_tasks
[ "$rcs" -ne 0 ] || fail "malformed node list: rank 0 ran"
expect_grep "SLURM_NTASKS=2 but nothing says where the job meets: set DSM_ROOT=host:port.*SLURM_STEP_NODELIST=node\[1-3: column 5: '\[' is not closed" \
	"$TMP/task.0" "malformed node list: the message"

# 4. rank 0 on another host than the node list's first (an arbitrary distribution)
NTASKS=2 NNODES=2 NODELIST="node[01-02]" TPN="1(x2)"
rm -f "$TMP"/task.*
task 0 1 0 node02 "$TBIN/stripe" 1
unset DSM_INSECURE
wait_tasks
[ "$rcs" -ne 0 ] || fail "rank 0 elsewhere: rank 0 ran"
expect_grep "rank 0 runs on node02, not on node01, the first host of SLURM_STEP_NODELIST" "$TMP/task.0" \
	"rank 0 elsewhere: the message"

# 5. a batch script: SLURM_PROCID and SLURM_NTASKS, but no step: one rank
rm -f "$TMP/batch"
env DSM_TEST_TAG="$TAG" SLURM_JOB_ID=$JOBID SLURM_PROCID=0 SLURM_LOCALID=0 SLURM_NTASKS=4 SLURM_NODELIST=node01 \
	timeout -k 5 30 "$TBIN/single" >"$TMP/batch" 2>&1 </dev/null
rc=$?
cat "$TMP/batch"
expect_eq "$rc" 0 "a program run by the batch script itself: a job of one rank"

i=0
while [ -n "$(left_behind)" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(left_behind)" ] || fail "processes left behind: $(left_behind | tr '\n' ' ')"
exit 0
