/* window.c: --swap-window: when the swap may happen, and waiting for it. */
#include "window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cancel.h"
#include "clock.h"
#include "control.h"
#include "event.h"
#include "log.h"
#include "replay.h"
#include "run.h"
#include "test_hooks.h"

#define DAY_S 86400.0

/* How often a run waiting for its window replays and looks at the time. */
#define WINDOW_POLL_MS 1000

static bool
parse_hhmm(const char *s, size_t len, int *out)
{
	int	 h;
	int	 m;
	char buf[8];
	char tail;

	if (len != 5 || s[2] != ':')
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (sscanf(buf, "%2d:%2d%c", &h, &m, &tail) != 2 || h < 0 || h > 23 || m < 0 || m > 59)
		return false;
	*out = h * 3600 + m * 60;
	return true;
}

bool
window_parse(const char *s, SwapWindow *w)
{
	const char *dash = s ? strchr(s, '-') : NULL;

	memset(w, 0, sizeof(*w));
	if (dash == NULL || !parse_hhmm(s, (size_t) (dash - s), &w->start_s) ||
		!parse_hhmm(dash + 1, strlen(dash + 1), &w->end_s) || w->start_s == w->end_s)
		return false;
	snprintf(w->text, sizeof(w->text), "%s", s);
	w->set = true;
	return true;
}

static double
day_mod(double s)
{
	while (s < 0)
		s += DAY_S;
	while (s >= DAY_S)
		s -= DAY_S;
	return s;
}

bool
window_inside(const SwapWindow *w, double now_s)
{
	if (w->start_s < w->end_s)
		return now_s >= w->start_s && now_s < w->end_s;
	return now_s >= w->start_s || now_s < w->end_s;
}

double
window_until_open(const SwapWindow *w, double now_s)
{
	return window_inside(w, now_s) ? 0 : day_mod(w->start_s - now_s);
}

double
window_until_close(const SwapWindow *w, double now_s)
{
	return window_inside(w, now_s) ? day_mod(w->end_s - now_s) : 0;
}

double
window_server_time(Run *r)
{
	PGresult *res = conn_query(r->main, "SELECT pg_catalog.date_part('epoch', LOCALTIME)::float8");
	double	  s;

	if (res == NULL)
		return -1;
	s = atof(PQgetvalue(res, 0, 0));
	PQclear(res);
	/*
	 * PGR_TEST_CLOCK_START_S: the time of day the run sees when it first
	 * looks; from then on the server's clock runs on from it.
	 */
	if (pgr_test_setting("CLOCK_START_S") > 0)
	{
		static double first = -1;

		if (first < 0)
			first = s;
		s = (double) pgr_test_setting("CLOCK_START_S") + day_mod(s - first);
	}
	return day_mod(s);
}

/* The "swap_wait" event: the swap waits for the window, for --release-swap, or for --resume. */
static void
wait_event(const char *why, const char *text, double opens_in)
{
	Event e;

	event_init(&e, "swap_wait", SINK_STDOUT, LOG_NORMAL);
	event_str(&e, "reason", why);
	if (opens_in >= 0)
		event_num(&e, "opens_in_s", opens_in, false);
	event_textf(&e, "%s", text);
	event_emit(&e);
}

bool
window_wait(Run *r, double *open_for)
{
	const SwapWindow *w = &r->s->swap_window;
	const char		 *said = NULL;

	*open_for = 1e12;
	for (;;)
	{
		double		now = w->set ? window_server_time(r) : 0;
		bool		paused;
		bool		postponed;
		const char *why;
		char		d[32];
		char	   *text;

		if (now < 0 || !control_read(r->main, r->tool_schema, r->run_id, &paused, &postponed))
		{
			run_report_failure(r, r->main, "could not read the server's time or the run's record before the swap");
			return false;
		}
		why = w->set && !window_inside(w, now) ? "window" : postponed ? "postponed"
			: paused												  ? "paused"
																	  : NULL;
		if (why == NULL)
		{
			if (w->set)
				*open_for = window_until_close(w, now);
			if (said)
				log_info("swap: %s", w->set ? "the swap window is open" : "going on");
			return true;
		}
		if (said == NULL || strcmp(said, why) != 0)
		{
			if (strcmp(why, "window") == 0)
				text = pgr_psprintf("swap: waiting for the swap window %s (server time), which opens in %s; "
									"replaying meanwhile",
									w->text, format_duration(window_until_open(w, now), d, sizeof(d)));
			else if (strcmp(why, "postponed") == 0)
				text = pgr_strdup("swap: postponed by pg_rebuild --postpone-swap; replaying until "
								  "pg_rebuild --release-swap");
			else
				text = pgr_strdup("swap: paused by pg_rebuild --pause; pg_rebuild --resume lets it go on");
			wait_event(why, text, strcmp(why, "window") == 0 ? window_until_open(w, now) : -1);
			free(text);
			said = why;
		}
		if (strcmp(why, "paused") != 0 && !replay_keep_up(r))
			return false;
		pgr_test_pause("SWAP_WAIT");
		pgr_sleep_ms(WINDOW_POLL_MS);
		if (pgr_interrupted)
		{
			log_error("interrupted while waiting to swap");
			return false;
		}
	}
}
