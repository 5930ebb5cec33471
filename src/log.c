/*
 * log.c - see log.h.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int log_level = LOG_WARN;
static char log_prefix[64] = "[dsm] ";

void log_set_ident(const char *ident)
{
	if (strchr(ident, ' '))
		snprintf(log_prefix, sizeof(log_prefix), "[%s] ", ident);
	else
		snprintf(log_prefix, sizeof(log_prefix), "%s: ", ident);
}

void log_init_from_env(void)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	const char *v = getenv("DSM_LOG");

	if (!v || !*v)
		return;
	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(v, names[i])) {
			log_level = i;
			return;
		}
	}
	log_level = LOG_WARN;
	log_msg(LOG_WARN, "DSM_LOG=%s: unknown level (use error, warn, info or debug); using warn", v);
}

static void write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void log_msg(int level, const char *fmt, ...)
{
	char line[1024];
	int saved = errno;
	size_t off;
	va_list ap;

	if (level > log_level)
		return;
	off = (size_t)snprintf(line, sizeof(line), "%s", log_prefix);
	va_start(ap, fmt);
	vsnprintf(line + off, sizeof(line) - off - 1, fmt, ap);
	va_end(ap);
	off = strlen(line);
	line[off++] = '\n';
	write_all(line, off);
	errno = saved;
}

void log_raw(const char *msg)
{
	char line[512];
	size_t p = strlen(log_prefix), m = strlen(msg);

	if (p + m + 1 > sizeof(line))
		m = sizeof(line) - p - 1;
	memcpy(line, log_prefix, p);
	memcpy(line + p, msg, m);
	line[p + m] = '\n';
	write_all(line, p + m + 1);
}
