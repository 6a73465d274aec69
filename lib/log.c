/*
 * log.c: diagnostics, normal output, --echo and the progress line, each an
 * event of event.h (which writes it as text or JSON).
 */
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

static LogLevel current_level = LOG_NORMAL;
static bool		echo_sql = false;
static bool		holding = false;
static StrVec	held;			/* diagnostics held (log_hold): "type\ntext" each */
static char	   *held_error;		/* the first error held */

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

/* One diagnostic of type (its prefix too) kept instead of emitted (log_hold). */
static void
hold(const char *type, const char *fmt, va_list ap)
{
	StrBuf		sb;

	sb_init(&sb);
	sb_vappendf(&sb, fmt, ap);
	if (held_error == NULL && strcmp(type, "error") == 0)
		held_error = pgr_strdup(sb.data);
	sv_push_owned(&held, pgr_psprintf("%s\n%s", type, sb.data));
	sb_free(&sb);
}

void
log_hold(void)
{
	free(log_release(true));
	sv_init(&held);
	holding = true;
}

char *
log_release(bool print)
{
	char	   *first = held_error;

	if (!holding)
		return NULL;
	holding = false;
	for (size_t i = 0; print && i < held.n; i++)
	{
		char	   *text = strchr(held.items[i], '\n');
		Event		e;

		*text++ = '\0';
		event_init(&e, held.items[i], SINK_STDERR, LOG_QUIET);
		e.prefix = held.items[i];
		event_textf(&e, "%s", text);
		event_emit(&e);
	}
	sv_free(&held);
	held_error = NULL;
	return first;
}

/* One message event: its type is its level ("error", "info", ...). */
static void
message(const char *type, const char *prefix, EventSink sink, LogLevel min, const char *sqlstate,
		const char *fmt, va_list ap)
{
	Event		e;

	if (holding && sink == SINK_STDERR && prefix)
	{
		hold(type, fmt, ap);
		return;
	}
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
