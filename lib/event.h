/*
 * event.h: the one place every event of pg_rebuild goes through.
 *
 * An event has a type ("error", "phase_end", "progress", "lock_wait", ...),
 * named fields, and the line of text a person reads.  event_emit writes it
 * once, in the format chosen for the process: the text line (on stdout, on
 * stderr, or as the live progress line of a terminal), or, with
 * --log-format=json, one JSON object per line on stdout whose fields are
 * documented in docs/events.md (schema version PGR_EVENT_SCHEMA).  Adding a
 * field is compatible; renaming or removing one bumps the version.
 */
#ifndef PGR_EVENT_H
#define PGR_EVENT_H

#include <stdbool.h>

#include "log.h"
#include "str.h"

#define PGR_EVENT_SCHEMA 1
#define EVENT_MAX_FIELDS 24

typedef enum EventFormat
{
	EVENT_TEXT,
	EVENT_JSON
} EventFormat;

/* Where the text of an event goes in the text format. */
typedef enum EventSink
{
	SINK_NONE, /* JSON only (a phase's start, say) */
	SINK_STDOUT,
	SINK_STDERR,
	SINK_PROGRESS /* the live line, drawn on a terminal only */
} EventSink;

typedef struct EventField
{
	const char *key;
	char		kind; /* 's' string, 'i' integer, 'n' number, 'b' boolean */
	const char *s;	  /* borrowed until event_emit; NULL is JSON null */
	long long	i;
	double		n; /* below 0 with kind 'n' and unknown set: null */
} EventField;

/*
 * An event being built: on the caller's stack, filled by event_init and the
 * event_* setters, written and released by event_emit.  Strings given to the
 * setters are borrowed and must live until event_emit.
 */
typedef struct Event
{
	const char *type;
	EventSink	sink;
	LogLevel	min_level; /* shown from this level on (LOG_QUIET: always) */
	const char *prefix;	   /* text format: "pg_rebuild: <prefix>: " before the text */
	char	   *text;	   /* owned; "message" in JSON */
	char	   *json;	   /* owned; the JSON object once rendered (event_render_json) */
	int			nfields;
	EventField	fields[EVENT_MAX_FIELDS];
} Event;

void		event_set_format(EventFormat f);
EventFormat event_get_format(void);

/*
 * The table the events are about from now on (its qualified name, copied),
 * given as "table" in every JSON event; NULL when none.
 */
void		event_set_table(const char *qname);

void		event_init(Event *e, const char *type, EventSink sink, LogLevel min_level);
void		event_textf(Event *e, const char *fmt, ...) PGR_PRINTF(2, 3);
void		event_vtextf(Event *e, const char *fmt, va_list ap);
void		event_str(Event *e, const char *key, const char *value);
void		event_int(Event *e, const char *key, long long value);
/* A number; a negative one is written as null (unknown) when unknown_if_negative. */
void		event_num(Event *e, const char *key, double value, bool unknown_if_negative);
void		event_bool(Event *e, const char *key, bool value);

/*
 * The JSON object of e as event_emit will write it (same time stamp), in
 * whatever format the process writes: for a hook to read.  Newly
 * allocated; call before event_emit.
 */
char	   *event_render_json(Event *e);

/* Writes e in the current format and releases its text. */
void		event_emit(Event *e);

/* Erases the live progress line if one is shown. */
void		event_progress_clear(void);

#endif /* PGR_EVENT_H */
