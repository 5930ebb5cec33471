/*
 * Description: the --stats report (stats_job_*): a job whose ranks never
 * reported says so instead of printing zeros; a rank known only from a
 * snapshot is marked; a hot page of a freed block keeps its call site; a
 * page of DSM_SHARED variables names them; a release-consistent page says
 * so, counts fetches and diffs and gets no sharing hint, and the counters of
 * release consistency get a table of their own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stats.h"

#include "unit.h"

/* The report of j, as text. */
static char *report(struct stats_job *j)
{
	static char buf[16384];
	FILE *f = tmpfile();
	size_t n;

	if (!f)
		return strcpy(buf, "(no tmpfile)");
	stats_job_report(j, fileno(f), 1.5);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void line(struct stats_job *j, int rank, const char *text)
{
	char l[1024];
	int n = snprintf(l, sizeof(l), "%s%s", OBS_MAGIC, text);

	CHECK(stats_job_line(j, rank, l, (size_t)n) == 0, "line '%s' refused", text);
}

int main(void)
{
	struct stats_job *j = stats_job_new(2);
	char *r;

	r = report(j);
	CHECK(strstr(r, "dsm stats: 2 ranks, 1.50 s: the job ended before any rank reported its counters"),
	      "no counters: %s", r);
	CHECK(!strstr(r, "rd-flt") && !strstr(r, "total"), "no counters, yet a table: %s", r);
	stats_job_free(j);

	j = stats_job_new(2);
	line(j, 0, "S r=0 read_faults=5 write_faults=7");
	line(j, 1, "C r=1 read_faults=1 write_faults=2");
	/* rank 0 freed a 16 KiB block; rank 0 also reports two variables on page 9 */
	line(j, 0, "A r=0 off=8192 size=16384 obj=0 freed=1 site=6d61696e2b30783130"); /* main+0x10 */
	line(j, 0, "A r=0 off=36864 size=8 obj=0 var=636f756e74"); /* count */
	line(j, 0, "A r=0 off=36928 size=8 obj=0 var=666c616773"); /* flags */
	line(j, 1, "H r=1 p=3 a=0x3000 n=40 k=0:10:10:1:1,1:10:10:2:2");
	line(j, 0, "H r=0 p=9 a=0x9000 n=30 k=0:5:5:1:1,1:5:5:2:2");
	r = report(j);
	CHECK(strstr(r, "(the job ended before 1 of its ranks reached dsm_finalize"), "the note: %s", r);
	CHECK(strstr(r, "\n   0*        5        7"), "rank 0's row, marked: %s", r);
	CHECK(strstr(r, "\n    1        1        2"), "rank 1's row: %s", r);
	CHECK(strstr(r, "dsm_malloc(16384) +0x1000 by rank 0 at main+0x10 (freed before the end)"),
	      "the freed block: %s", r);
	CHECK(strstr(r, "DSM_SHARED variables count and flags\n"), "the variables: %s", r);
	stats_job_free(j);

	j = stats_job_new(2);
	line(j, 0, "C r=0 read_faults=1 twins=12 diffs_sent=10 diff_bytes_sent=2048 diffs_applied=20 "
		   "diff_bytes_applied=4096 notices_applied=7");
	line(j, 1, "C r=1 read_faults=2 twins=11 diffs_sent=10 diff_bytes_sent=2048 notices_applied=8");
	line(j, 0, "H r=0 p=4 a=0x4000 n=50 c=r k=0:2:20:0:1,1:3:20:0:2");
	line(j, 1, "H r=1 p=5 a=0x5000 n=20 c=s k=0:5:5:1:0,1:5:5:0:2");
	r = report(j);
	CHECK(strstr(r, "page 4 (0x4000, home 0, release)"), "the release-consistent page: %s", r);
	CHECK(strstr(r, "rank 0: 2 fetches, 20 diffs, lines 0; rank 1: 3 fetches, 20 diffs, lines 1"),
	      "its fetches and diffs: %s", r);
	CHECK(strstr(r, "page 5 (0x5000, home 1, sequential)"), "the sequentially consistent page: %s", r);
	CHECK(strstr(r, "page 4 (") < strstr(r, "page 5 (") && strstr(r, "FALSE SHARING likely") > strstr(r, "page 5 ("),
	      "the hint only for the SC page: %s", r);
	CHECK(strstr(r, "\n    0       12       10       2.0       20       4.0        7\n"), "rank 0's RC row: %s", r);
	CHECK(strstr(r, "\ntotal       23       20       4.0       20       4.0       15\n"), "the RC total: %s", r);
	stats_job_free(j);
	j = stats_job_new(1);
	{
		char l[] = OBS_MAGIC "H r=0 p=4 a=0x4000 n=5 c=x k=0:1:1:0:0";
		CHECK(stats_job_line(j, 0, l, strlen(l)) == -EINVAL, "a consistency 'x' was taken");
	}
	stats_job_free(j);
	return unit_result("", "all stats report checks passed");
}
