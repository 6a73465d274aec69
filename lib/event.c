/* event.c: every event written once, as a line of text or as one JSON object. */
#include "event.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static EventFormat format = EVENT_TEXT;
static char		  *table_context = NULL;
static bool		   progress_shown = false;
static double	   last_json_progress = -1e9;
static char		   last_progress_phase[32];

/*
 * A JSON consumer gets at most one progress event a second for each phase
 * (the first of a phase always): enough for an ETA on a dashboard, few
 * enough that the log of a day-long run stays small.  A progress event's
 * first field is its phase.
 */
#define JSON_PROGRESS_INTERVAL_S 1.0

void
event_set_format(EventFormat f)
{
	format = f;
}

EventFormat
event_get_format(void)
{
	return format;
}

void
event_set_table(const char *qname)
{
	free(table_context);
	table_context = qname ? pgr_strdup(qname) : NULL;
}

void
event_init(Event *e, const char *type, EventSink sink, LogLevel min_level)
{
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->sink = sink;
	e->min_level = min_level;
}

void
event_vtextf(Event *e, const char *fmt, va_list ap)
{
	StrBuf sb;

	sb_init(&sb);
	sb_vappendf(&sb, fmt, ap);
	free(e->text);
	e->text = sb_steal(&sb);
}

void
event_textf(Event *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	event_vtextf(e, fmt, ap);
	va_end(ap);
}

static EventField *
add_field(Event *e, const char *key, char kind)
{
	EventField *f;

	if (e->nfields >= EVENT_MAX_FIELDS)
		abort(); /* a programming error: raise EVENT_MAX_FIELDS */
	f = &e->fields[e->nfields++];
	memset(f, 0, sizeof(*f));
	f->key = key;
	f->kind = kind;
	return f;
}

void
event_str(Event *e, const char *key, const char *value)
{
	add_field(e, key, 's')->s = value;
}

void
event_int(Event *e, const char *key, long long value)
{
	add_field(e, key, 'i')->i = value;
}

void
event_num(Event *e, const char *key, double value, bool unknown_if_negative)
{
	EventField *f = add_field(e, key, 'n');

	f->n = value;
	if (unknown_if_negative && value < 0)
		f->kind = 'z'; /* null */
}

void
event_bool(Event *e, const char *key, bool value)
{
	add_field(e, key, 'b')->i = value;
}

void
event_progress_clear(void)
{
	if (progress_shown)
	{
		fputs("\r\033[K", stderr);
		fflush(stderr);
		progress_shown = false;
	}
}

/* "2026-12-02T13:50:01.123Z" */
static void
append_time(StrBuf *sb)
{
	struct timespec ts;
	struct tm		tm;
	char			buf[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	sb_appendf(sb, "\"%s.%03ldZ\"", buf, ts.tv_nsec / 1000000L);
}

static void
append_field(StrBuf *sb, const EventField *f)
{
	sb_append(sb, ",");
	sb_append_json(sb, f->key);
	sb_append(sb, ":");
	switch (f->kind)
	{
		case 's':
			if (f->s)
				sb_append_json(sb, f->s);
			else
				sb_append(sb, "null");
			break;
		case 'i':
			sb_appendf(sb, "%lld", f->i);
			break;
		case 'b':
			sb_append(sb, f->i ? "true" : "false");
			break;
		case 'n':
			if (isfinite(f->n))
				sb_appendf(sb, "%.3f", f->n);
			else
				sb_append(sb, "null");
			break;
		default:
			sb_append(sb, "null");
	}
}

static char *
render_json(const Event *e)
{
	StrBuf sb;

	sb_init(&sb);
	sb_appendf(&sb, "{\"schema\":%d,\"time\":", PGR_EVENT_SCHEMA);
	append_time(&sb);
	sb_append(&sb, ",\"event\":");
	sb_append_json(&sb, e->type);
	if (table_context)
	{
		sb_append(&sb, ",\"table\":");
		sb_append_json(&sb, table_context);
	}
	for (int i = 0; i < e->nfields; i++)
		append_field(&sb, &e->fields[i]);
	if (e->text)
	{
		sb_append(&sb, ",\"message\":");
		sb_append_json(&sb, e->text);
	}
	sb_append(&sb, "}");
	return sb_steal(&sb);
}

char *
event_render_json(Event *e)
{
	if (e->json == NULL)
		e->json = render_json(e);
	return pgr_strdup(e->json);
}

static void
emit_json(Event *e)
{
	if (e->sink == SINK_PROGRESS)
	{
		double		now = pgr_now();
		const char *phase = e->nfields > 0 && e->fields[0].s ? e->fields[0].s : "";

		if (now - last_json_progress < JSON_PROGRESS_INTERVAL_S && strcmp(phase, last_progress_phase) == 0)
			return;
		last_json_progress = now;
		snprintf(last_progress_phase, sizeof(last_progress_phase), "%s", phase);
	}
	if (e->json == NULL)
		e->json = render_json(e);
	fputs(e->json, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

static void
emit_text(const Event *e)
{
	FILE *out = e->sink == SINK_STDOUT ? stdout : stderr;

	if (e->text == NULL || e->sink == SINK_NONE)
		return;
	if (e->sink == SINK_PROGRESS)
	{
		if (!isatty(fileno(stderr)))
			return;
		fputs("\r\033[K", stderr);
		fputs(e->text, stderr);
		fflush(stderr);
		progress_shown = true;
		return;
	}
	event_progress_clear();
	if (e->prefix)
		fprintf(out, "pg_rebuild: %s: ", e->prefix);
	fputs(e->text, out);
	fputc('\n', out);
	fflush(out);
}

void
event_emit(Event *e)
{
	if (log_get_level() >= e->min_level)
	{
		if (format == EVENT_JSON)
			emit_json(e);
		else
			emit_text(e);
	}
	free(e->text);
	e->text = NULL;
	free(e->json);
	e->json = NULL;
}
