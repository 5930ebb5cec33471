/*
 * monitor.h - dsmexec's side of observability (monitor.c): it takes the
 * ranks' observation lines out of their stderr (src/stats.h says what they
 * hold), prints the job's statistics at the end (--stats), joins the trace
 * parts (--trace), and serves the live view (--monitor PORT) on 127.0.0.1.
 */
#ifndef DSM_LAUNCHER_MONITOR_H
#define DSM_LAUNCHER_MONITOR_H

#include <poll.h>
#include <stddef.h>

/* After the options: --stats (or DSM_STATS=1 already set), --trace FILE (or
 * DSM_TRACE), --monitor PORT (0: none).  Sets the DSM_* variables every rank
 * gets (DSM_STATS, DSM_TRACE as an absolute path, DSM_TRACE_EPOCH,
 * DSM_MONITOR) and opens the live view's socket.  0, or -1 after saying why. */
int obs_setup(int nranks, int stats, const char *trace, int port);

/* A line a rank wrote to stderr: returns how many of its leading bytes are
 * the program's own output (n: all of it; 0: it was an observation line,
 * taken).  An observation line glued to a program's unfinished line is
 * split off it. */
size_t obs_take(int rank, const char *p, size_t n);

/* The event loop: add the live view's descriptors to p (at most max),
 * returning how many; hand the poll results back; the longest the loop may
 * sleep for us (-1: forever). */
int obs_pollfds(struct pollfd *p, int max);
void obs_poll(const struct pollfd *p, int n);
int obs_timeout_ms(void);
#define OBS_MAX_FDS 17

/* The job is over: print the statistics (when asked for), join the trace,
 * close the live view. */
void obs_finish(int exit_code, double elapsed_s);

#endif
