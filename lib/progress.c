/* progress.c: phase timing and human-readable figures. */
#include "progress.h"

#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "event.h"
#include "log.h"

void
phase_clock_init(PhaseClock *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->run_started = pgr_now();
	pc->current = -1;
}

char *
phase_begin_json(PhaseClock *pc, Phase p)
{
	Event e;
	char *json;

	pc->started[p] = pgr_now();
	pc->current = (int) p;
	event_init(&e, "phase_start", SINK_NONE, LOG_NORMAL);
	event_str(&e, "phase", phase_name(p));
	json = event_render_json(&e);
	event_emit(&e);
	return json;
}

void
phase_begin(PhaseClock *pc, Phase p)
{
	free(phase_begin_json(pc, p));
}

void
phase_end(PhaseClock *pc, Phase p, const char *note)
{
	free(phase_end_json(pc, p, note));
}

char *
phase_end_json(PhaseClock *pc, Phase p, const char *note)
{
	char  d[32];
	Event e;
	char *json;

	pc->seconds[p] += pgr_now() - pc->started[p];
	event_init(&e, "phase_end", SINK_STDOUT, LOG_NORMAL);
	event_str(&e, "phase", phase_name(p));
	event_num(&e, "duration_s", pc->seconds[p], false);
	event_str(&e, "note", note && *note ? note : NULL);
	event_textf(&e, "phase %-9s %10s%s%s", phase_name(p), format_duration(pc->seconds[p], d, sizeof(d)),
				note && *note ? "  " : "", note ? note : "");
	json = event_render_json(&e);
	event_emit(&e);
	return json;
}

double
progress_eta(double elapsed, double fraction_done)
{
	if (fraction_done <= 0 || elapsed <= 0)
		return -1;
	if (fraction_done >= 1)
		return 0;
	return elapsed * (1 - fraction_done) / fraction_done;
}

void
progress_report(const ProgressFigures *f)
{
	Event  e;
	StrBuf sb;
	char   a[32];
	char   b[32];

	event_init(&e, "progress", SINK_PROGRESS, LOG_NORMAL);
	event_str(&e, "phase", phase_name(f->phase));
	event_str(&e, "unit", f->unit);
	event_int(&e, "done", f->done);
	if (f->total >= 0)
		event_int(&e, "total", f->total);
	else
		event_str(&e, "total", NULL);
	event_num(&e, "percent", f->percent, true);
	event_num(&e, "rate_per_s", f->rate, true);
	event_num(&e, "eta_s", f->eta_s, true);
	if (f->backlog >= 0)
		event_int(&e, "backlog", f->backlog);
	if (f->step)
		event_str(&e, "step", f->step);

	sb_init(&sb);
	sb_appendf(&sb, "%s: ", phase_name(f->phase));
	if (f->percent >= 0)
		sb_appendf(&sb, "%3.0f%%  ", f->percent);
	if (f->step)
		sb_appendf(&sb, "%s  ", f->step);
	sb_appendf(&sb, "%s %s", format_count(f->done, a, sizeof(a)), f->unit);
	if (f->total >= 0)
		sb_appendf(&sb, " of %s", format_count(f->total, b, sizeof(b)));
	if (f->backlog >= 0)
		sb_appendf(&sb, ", backlog about %s", format_count(f->backlog, a, sizeof(a)));
	if (f->rate >= 0)
		sb_appendf(&sb, "  %s %s/s", format_count((long long) f->rate, a, sizeof(a)), f->unit);
	if (f->eta_s >= 0)
		sb_appendf(&sb, "  ETA %s", format_duration(f->eta_s, b, sizeof(b)));
	e.text = sb_steal(&sb);
	event_emit(&e);
}

const char *
format_bytes(long long bytes, char *buf, size_t len)
{
	static const char *const units[] = {"kB", "MB", "GB", "TB"};
	double		v = (double) bytes;
	int			u = -1;

	if (bytes < 1024)
	{
		snprintf(buf, len, "%lld B", bytes);
		return buf;
	}
	while (v >= 1024 && u < 3)
	{
		v /= 1024;
		u++;
	}
	snprintf(buf, len, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

const char *
format_duration(double s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 10)
		snprintf(buf, len, "%.2f s", s);
	else if (s < 60)
		snprintf(buf, len, "%.1f s", s);
	else if (s < 3600)
		snprintf(buf, len, "%d min %02d s", (int) (s / 60), (int) s % 60);
	else
		snprintf(buf, len, "%d h %02d min", (int) (s / 3600), ((int) s % 3600) / 60);
	return buf;
}

const char *
format_count(long long n, char *buf, size_t len)
{
	char		digits[32];
	int			nd;
	size_t		o = 0;
	bool		neg = n < 0;

	snprintf(digits, sizeof(digits), "%lld", neg ? -n : n);
	nd = (int) strlen(digits);
	if (neg && o + 1 < len)
		buf[o++] = '-';
	for (int i = 0; i < nd && o + 1 < len; i++)
	{
		if (i > 0 && (nd - i) % 3 == 0 && o + 1 < len)
			buf[o++] = ',';
		if (o + 1 < len)
			buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}
