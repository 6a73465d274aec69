/* window.c: --swap-window: when the swap may happen, and waiting for it. */
#include "window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cancel.h"
#include "clock.h"
#include "control.h"
#include "event.h"
#include "hook.h"
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

/*
 * The "swap_ready" event (the swap may go as far as the window, --postpone-swap
 * and --pause are concerned), and the before-swap hooks asked with it.  Its
 * first ask is in the log; the next ones only with --verbose.
 */
static bool
ask_hooks(Run *r, int attempt, HookResult *refusal, const char **by)
{
	Event e;
	char *json;
	bool  ok;

	event_init(&e, "swap_ready", SINK_NONE, attempt == 1 ? LOG_NORMAL : LOG_VERBOSE);
	event_str(&e, "phase", "swap");
	event_int(&e, "attempt", attempt);
	json = event_render_json(&e);
	event_emit(&e);
	ok = run_hooks(r, HOOK_BEFORE_SWAP, json, refusal, by);
	free(json);
	return ok;
}

/* The "swap_wait" event with reason "hook": said when the hook's answer changes. */
static void
hook_wait_event(Run *r, const char *by, const HookResult *res, const char *how)
{
	const SwapWindow *w = &r->s->swap_window;
	Event			  e;
	char			  limit[96];

	if (w->set)
		snprintf(limit, sizeof(limit), "until the swap window %s closes", w->text);
	else
		snprintf(limit, sizeof(limit), "for at most --wait-timeout %g s", r->s->wait_timeout_s);
	event_init(&e, "swap_wait", SINK_STDOUT, LOG_NORMAL);
	event_str(&e, "reason", "hook");
	event_str(&e, "command", by);
	if (res->exit_code >= 0)
		event_int(&e, "exit_code", res->exit_code);
	else
		event_str(&e, "exit_code", NULL);
	event_bool(&e, "timed_out", res->timed_out);
	event_textf(&e, "swap: postponed by the before-swap hook \"%s\", which %s; replaying, and asking it again "
					"every %d s %s",
				by, how, WINDOW_POLL_MS / 1000, limit);
	event_emit(&e);
	if (res->output && res->output[0])
		log_detail("Its output ended with: %s", res->output);
}

/*
 * Whether the before-swap hooks have refused for too long: --wait-timeout
 * since the first refusal, or with --swap-window the window's closing (the
 * swap happens inside the window or not at all).  Logged.
 */
static bool
hook_gave_up(Run *r, double since, double now_s, const char *by)
{
	const SwapWindow *w = &r->s->swap_window;

	if (w->set ? window_inside(w, now_s) : pgr_now() - since < r->s->wait_timeout_s)
		return false;
	if (w->set)
		log_error("the swap window %s (server time) closed while the before-swap hook \"%s\" postponed the "
				  "swap: nothing was swapped",
				  w->text, by);
	else
		log_error("the before-swap hook \"%s\" postponed the swap for --wait-timeout %g s: nothing was swapped",
				  by, r->s->wait_timeout_s);
	log_hint("Make the hook exit 0 when the swap may go%s.",
			 w->set ? ", or choose a longer --swap-window" : ", or give a longer --wait-timeout");
	return true;
}

bool
window_wait(Run *r, double *open_for)
{
	const SwapWindow *w = &r->s->swap_window;
	const char		 *said = NULL;
	char			 *hook_said = NULL; /* the refusal said last */
	char			 *hook_by = NULL;
	double			  hook_since = -1; /* when the hooks began to refuse */
	int				  asks = 0;
	bool			  ok = false;

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
			break;
		}
		if (hook_since >= 0 && hook_gave_up(r, hook_since, now, hook_by))
			break;
		why = w->set && !window_inside(w, now) ? "window" : postponed ? "postponed"
			: paused												  ? "paused"
																	  : NULL;
		if (why != NULL)
			hook_since = -1; /* the operator or the window decides meanwhile */
		else if (r->s->hooks.n > 0)
		{
			HookResult	res;
			const char *by = NULL;

			if (ask_hooks(r, ++asks, &res, &by))
				hook_since = -1;
			else
			{
				char *how = hook_describe(&res, r->s->hooks.timeout_s);
				char *key = pgr_psprintf("%s\n%s", by, how);

				if (hook_since < 0)
					hook_since = pgr_now();
				free(hook_by);
				hook_by = pgr_strdup(by);
				why = "hook";
				if (hook_said == NULL || strcmp(hook_said, key) != 0 || said == NULL || strcmp(said, "hook") != 0)
				{
					hook_wait_event(r, by, &res, how);
					free(hook_said);
					hook_said = key;
					key = NULL;
				}
				said = why;
				free(key);
				free(how);
				hook_result_free(&res);
			}
		}
		if (why == NULL)
		{
			if (w->set)
				*open_for = window_until_close(w, now);
			if (said && strcmp(said, "hook") == 0)
				log_info("swap: the before-swap hooks exited 0: going on");
			else if (said)
				log_info("swap: %s", w->set ? "the swap window is open" : "going on");
			ok = true;
			break;
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
			break;
		pgr_test_pause("SWAP_WAIT");
		pgr_sleep_ms(WINDOW_POLL_MS);
		if (pgr_interrupted)
		{
			log_error("interrupted while waiting to swap");
			break;
		}
	}
	free(hook_said);
	free(hook_by);
	return ok;
}
