#!/bin/sh
# Description: dsm_advise(DSM_ADV_WILL_OVERWRITE) on 2 and 3 ranks (3: the
# owner, the home and the writer differ, and a reader holds copies): the
# advised pages are asked for by the call itself and overwritten with no page
# data fetched, every rank reads the new contents, and a spent hint, a page
# only partly advised and a page advised while writable keep what other
# ranks wrote; read advice (DSM_ADV_WILL_READ) asks for every page rank 0
# lacks, in the call, and the values read are right (tests/progs/advise.c).
# Backends: uffd sigsegv
# Timeout: 120
. "${DSM_TOP:=$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

for n in 2 3; do
	run_job "$TMP/out" -t 50 -n $n "$TBIN/advise" 48
	cat "$TMP/out"
	expect_eq $rc 0 "advise on $n ranks: exit status"
	expect_grep "advise: 48 advised pages overwritten with 0 bytes fetched" "$TMP/out" "rank 0's transfer check"
	expect_grep "advise: read advice asked for 48 pages at once" "$TMP/out" "rank 0's read advice"
	expect_ranks_ok advise $n "$TMP/out"
done
exit 0
