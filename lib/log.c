/* log.c: diagnostics on stderr, normal output on stdout, one progress line. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static LogLevel current_level = LOG_NORMAL;
static bool		echo_sql = false;
static bool		progress_shown = false;
static bool		holding = false;
static StrVec	held;		/* diagnostics held, each a whole line with its prefix */
static char	   *held_error; /* the first error held, without its prefix */

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
	if (progress_shown)
	{
		fputs("\r\033[K", stderr);
		fflush(stderr);
		progress_shown = false;
	}
}

/* Keeps one diagnostic line instead of printing it (log_hold). */
static void
hold(const char *prefix, const char *fmt, va_list ap)
{
	StrBuf sb;

	sb_init(&sb);
	sb_vappendf(&sb, fmt, ap);
	if (held_error == NULL && strcmp(prefix, "error") == 0)
		held_error = pgr_strdup(sb.data);
	sv_push_owned(&held, pgr_psprintf("pg_rebuild: %s: %s", prefix, sb.data));
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
	char *first = held_error;

	if (!holding)
		return NULL;
	holding = false;
	if (print)
	{
		log_progress_clear();
		for (size_t i = 0; i < held.n; i++)
			fprintf(stderr, "%s\n", held.items[i]);
		fflush(stderr);
	}
	sv_free(&held);
	held_error = NULL;
	return first;
}

static void
emit(FILE *out, const char *prefix, const char *fmt, va_list ap)
{
	if (holding && out == stderr && prefix)
	{
		hold(prefix, fmt, ap);
		return;
	}
	log_progress_clear();
	if (prefix)
		fprintf(out, "pg_rebuild: %s: ", prefix);
	vfprintf(out, fmt, ap);
	fputc('\n', out);
	fflush(out);
}

#define EMIT(out, prefix) \
	do \
	{ \
		va_list ap; \
		va_start(ap, fmt); \
		emit(out, prefix, fmt, ap); \
		va_end(ap); \
	} while (0)

void
log_error(const char *fmt, ...)
{
	EMIT(stderr, "error");
}

void
log_detail(const char *fmt, ...)
{
	EMIT(stderr, "detail");
}

void
log_hint(const char *fmt, ...)
{
	EMIT(stderr, "hint");
}

void
log_warning(const char *fmt, ...)
{
	EMIT(stderr, "warning");
}

void
log_info(const char *fmt, ...)
{
	if (current_level >= LOG_NORMAL)
		EMIT(stdout, NULL);
}

void
log_verbose(const char *fmt, ...)
{
	if (current_level >= LOG_VERBOSE)
		EMIT(stdout, NULL);
}

void
log_echo_sql(const char *label, const char *sql)
{
	if (!echo_sql)
		return;
	log_progress_clear();
	if (label && *label)
		fprintf(stdout, "-- [%s]\n%s;\n", label, sql);
	else
		fprintf(stdout, "%s;\n", sql);
	fflush(stdout);
}

void
log_progress(const char *fmt, ...)
{
	va_list ap;

	if (current_level < LOG_NORMAL || !isatty(fileno(stderr)))
		return;
	fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
	progress_shown = true;
}
