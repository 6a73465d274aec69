/*
 * log.c: diagnostics, normal output, --echo and the progress line, each an
 * event of event.h (which writes it as text or JSON).
 */
#include "log.h"

#include <stdarg.h>

#include "event.h"

static LogLevel current_level = LOG_NORMAL;
static bool		echo_sql = false;

void
log_set_level(LogLevel level)
{
	current_level = level;
}

LogLevel
log_get_level(void)
{
	return current_level;
}

void
log_set_echo(bool echo)
{
	echo_sql = echo;
}

bool
log_get_echo(void)
{
	return echo_sql;
}

void
log_progress_clear(void)
{
	event_progress_clear();
}

/* One message event: its type is its level ("error", "info", ...). */
static void
message(const char *type, const char *prefix, EventSink sink, LogLevel min, const char *sqlstate,
		const char *fmt, va_list ap)
{
	Event e;

	event_init(&e, type, sink, min);
	e.prefix = prefix;
	if (sqlstate && *sqlstate)
		event_str(&e, "sqlstate", sqlstate);
	event_vtextf(&e, fmt, ap);
	event_emit(&e);
}

#define MESSAGE(type, prefix, sink, min, sqlstate) \
	do \
	{ \
		va_list ap; \
		va_start(ap, fmt); \
		message(type, prefix, sink, min, sqlstate, fmt, ap); \
		va_end(ap); \
	} while (0)

void
log_error(const char *fmt, ...)
{
	MESSAGE("error", "error", SINK_STDERR, LOG_QUIET, NULL);
}

void
log_error_code(const char *sqlstate, const char *fmt, ...)
{
	MESSAGE("error", "error", SINK_STDERR, LOG_QUIET, sqlstate);
}

void
log_detail(const char *fmt, ...)
{
	MESSAGE("detail", "detail", SINK_STDERR, LOG_QUIET, NULL);
}

void
log_hint(const char *fmt, ...)
{
	MESSAGE("hint", "hint", SINK_STDERR, LOG_QUIET, NULL);
}

void
log_warning(const char *fmt, ...)
{
	MESSAGE("warning", "warning", SINK_STDERR, LOG_QUIET, NULL);
}

void
log_info(const char *fmt, ...)
{
	MESSAGE("info", NULL, SINK_STDOUT, LOG_NORMAL, NULL);
}

void
log_verbose(const char *fmt, ...)
{
	MESSAGE("verbose", NULL, SINK_STDOUT, LOG_VERBOSE, NULL);
}

void
log_echo_sql(const char *label, const char *sql)
{
	Event e;

	if (!echo_sql)
		return;
	event_init(&e, "sql", SINK_STDOUT, LOG_QUIET);
	if (label && *label)
	{
		event_str(&e, "label", label);
		event_textf(&e, "-- [%s]\n%s;", label, sql);
	}
	else
		event_textf(&e, "%s;", sql);
	event_str(&e, "sql", sql);
	event_emit(&e);
}

void
log_progress(const char *fmt, ...)
{
	MESSAGE("progress", NULL, SINK_PROGRESS, LOG_NORMAL, NULL);
}
