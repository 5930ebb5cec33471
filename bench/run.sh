#!/bin/sh
# make bench: every benchmark, each on 2 local ranks, figures as ratios to
# the TCP round trip measured in the same run.
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
status=0
for b in uffd sigsegv; do
	echo "== page faults, $b backend"
	DSM_BACKEND=$b bin/dsmexec --no-prefix -n 2 bin/fault_latency 2000 || status=1
done
if [ -x bin/sync_bench ]; then
	echo "== synchronization and RPC"
	bin/dsmexec --no-prefix -n 2 bin/sync_bench || status=1
fi
exit $status
