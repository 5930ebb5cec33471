/*
 * log.h - one-line diagnostics that name who speaks: "[dsm 2] ..." in a rank,
 * "dsmexec: ..." in the launcher.  Each line goes out in one write(2), so lines
 * from threads and processes never interleave, and log_raw() is safe in signal
 * handlers.  The level comes from DSM_LOG (error, warn, info, debug); the
 * default is warn: quiet unless something is wrong.
 */
#ifndef DSM_LOG_H
#define DSM_LOG_H

#include <stddef.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int log_level;

/* "dsm 3" gives "[dsm 3] "; a name without a space ("dsmexec") gives "dsmexec: ". */
void log_set_ident(const char *ident);
void log_init_from_env(void);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Async-signal-safe: writes prefix + msg + newline with one write(2). */
void log_raw(const char *msg);

#define log_err(...)   log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  do { if (log_level >= LOG_WARN)  log_msg(LOG_WARN, __VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_level >= LOG_INFO)  log_msg(LOG_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_level >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
