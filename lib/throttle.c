/* throttle.c: --max-rate and --max-replica-lag, between chunks and batches. */
#include "throttle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cancel.h"
#include "clock.h"
#include "control.h"
#include "event.h"
#include "log.h"
#include "progress.h"
#include "test_hooks.h"

/* How often a paused run reads the lag again. */
#define LAG_RECHECK_MS 1000

/*
 * The replicas and slots, furthest behind first.  Behind means WAL this
 * server wrote that a standby has not replayed, or that an active logical
 * slot of this database has not confirmed (an inactive slot has no
 * consumer to wait for).  A standby's positions are visible only to
 * superusers and members of pg_read_all_stats: "visible" says whether they
 * are.
 */
static const char lag_sql[] =
	"SELECT kind, name, lag_bytes, lag_s, visible FROM ("
	" SELECT 'standby' AS kind, coalesce(application_name, '') || coalesce(' at ' || client_addr::text, '') AS name,"
	"  pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), replay_lsn)::int8 AS lag_bytes,"
	"  coalesce(extract(epoch FROM replay_lag), 0)::float8 AS lag_s,"
	"  replay_lsn IS NOT NULL OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE') AS visible"
	" FROM pg_catalog.pg_stat_replication"
	" UNION ALL"
	" SELECT 'slot', slot_name::text,"
	"  pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::int8, NULL, true"
	" FROM pg_catalog.pg_replication_slots"
	" WHERE slot_type = 'logical' AND active AND database = pg_catalog.current_database()"
	") s ORDER BY lag_bytes DESC NULLS LAST, lag_s DESC NULLS LAST";

void
throttle_begin(Throttle *th, const ThrottleLimits *limits, Phase phase, const char *unit, Conn *state_conn,
			   const char *state_schema, long long run_id)
{
	memset(th, 0, sizeof(*th));
	th->state_conn = state_conn;
	th->state_schema = state_schema;
	th->run_id = run_id;
	th->limits = limits;
	th->phase = phase;
	th->unit = unit;
	th->started = pgr_now();
	if (limits && limits->max_rate > 0)
		log_verbose("%s: at most %.0f %s a second (--max-rate)", phase_name(phase), limits->max_rate, unit);
}

/* Sleeps until the units done fit --max-rate since the phase began. */
static void
rate_sleep(Throttle *th)
{
	double due = th->started + th->paused_s + (double) th->units / th->limits->max_rate;
	double now = pgr_now();

	if (due > now)
		pgr_sleep_ms((due - now) * 1000.0);
}

/* What is behind, and by how much, when over the limit. */
typedef struct Lag
{
	bool	  over;
	char	 *kind; /* "standby" or "slot" */
	char	 *name;
	long long bytes;
	double	  seconds;
} Lag;

static void
lag_free(Lag *l)
{
	free(l->kind);
	free(l->name);
	memset(l, 0, sizeof(*l));
}

/* Reads the lag; false (logged) when it cannot be read or seen. */
static bool
read_lag(const Throttle *th, Conn *c, Lag *out)
{
	const ThrottleLimits *lim = th->limits;
	PGresult			 *res = conn_query(c, lag_sql);

	memset(out, 0, sizeof(*out));
	if (res == NULL)
	{
		conn_report(c, "could not read the replication lag (--max-replica-lag)");
		return false;
	}
	for (int i = 0; i < PQntuples(res) && !out->over; i++)
	{
		char *name = res_text(res, i, 1);

		if (!res_bool(res, i, 4))
		{
			log_error("cannot see how far standby \"%s\" is behind: its position in pg_stat_replication is "
					  "shown only to superusers and members of pg_read_all_stats",
					  name);
			log_detail("--max-replica-lag cannot be kept without it, so the run stops.");
			log_hint("GRANT pg_read_all_stats TO the role that runs pg_rebuild, or run without "
					 "--max-replica-lag.");
			free(name);
			PQclear(res);
			return false;
		}
		out->bytes = res_isnull(res, i, 2) ? 0 : res_int8(res, i, 2);
		out->seconds = res_isnull(res, i, 3) ? 0 : res_float8(res, i, 3);
		out->over = (lim->max_lag_bytes > 0 && out->bytes > lim->max_lag_bytes) ||
			(lim->max_lag_s > 0 && out->seconds > lim->max_lag_s);
		if (out->over)
		{
			out->kind = res_text(res, i, 0);
			out->name = name;
		}
		else
			free(name);
	}
	PQclear(res);
	return true;
}

/* The limit, as given: "16.0 MB" or "30 s". */
static void
describe_limit(const ThrottleLimits *lim, char *buf, size_t len)
{
	if (lim->max_lag_bytes > 0)
		format_bytes(lim->max_lag_bytes, buf, len);
	else
		format_duration(lim->max_lag_s, buf, len);
}

/* A "throttle" event: paused (with what is behind) or going on again. */
static void
throttle_event(const Throttle *th, const Lag *l, double paused_for)
{
	Event e;
	char  lim[32];
	char  b[32];
	char  d[32];
	bool  paused = paused_for < 0;

	describe_limit(th->limits, lim, sizeof(lim));
	event_init(&e, "throttle", SINK_STDOUT, LOG_NORMAL);
	event_str(&e, "phase", phase_name(th->phase));
	event_str(&e, "state", paused ? "paused" : "resumed");
	event_str(&e, "reason", strcmp(l->kind, "slot") == 0 ? "slot_lag" : "replica_lag");
	event_str(&e, "source", l->name);
	event_int(&e, "lag_bytes", l->bytes);
	event_num(&e, "lag_s", l->seconds, false);
	if (th->limits->max_lag_bytes > 0)
		event_int(&e, "limit_bytes", th->limits->max_lag_bytes);
	else
		event_num(&e, "limit_s", th->limits->max_lag_s, false);
	if (!paused)
		event_num(&e, "paused_s", paused_for, false);
	if (paused)
		event_textf(&e, "%s: paused: %s %s is %s (%s) behind, more than --max-replica-lag %s",
					phase_name(th->phase), strcmp(l->kind, "slot") == 0 ? "logical replication slot" : "standby",
					l->name, format_bytes(l->bytes, b, sizeof(b)), format_duration(l->seconds, d, sizeof(d)), lim);
	else
		event_textf(&e, "%s: going on after %s paused for replication lag", phase_name(th->phase),
					format_duration(paused_for, d, sizeof(d)));
	event_emit(&e);
}

/* Pauses while a standby or slot is over the limit. */
static bool
lag_wait(Throttle *th, Conn *c)
{
	Lag	   l;
	Lag	   first;
	double since;

	if (!read_lag(th, c, &l))
		return false;
	if (!l.over)
		return true;
	first = l; /* first owns the strings now */
	memset(&l, 0, sizeof(l));
	throttle_event(th, &first, -1);
	since = pgr_now();
	do
	{
		lag_free(&l);
		pgr_sleep_ms(LAG_RECHECK_MS);
		pgr_test_pause("THROTTLE_RECHECK");
		if (pgr_interrupted)
		{
			log_error("interrupted while paused for replication lag");
			lag_free(&first);
			return false;
		}
		if (!read_lag(th, c, &l))
		{
			lag_free(&first);
			return false;
		}
	} while (l.over);
	th->paused_s += pgr_now() - since;
	throttle_event(th, &first, pgr_now() - since);
	lag_free(&first);
	return true;
}

/* A "throttle" event of a pause asked from outside. */
static void
pause_event(const Throttle *th, double paused_for)
{
	Event e;
	char  d[32];

	event_init(&e, "throttle", SINK_STDOUT, LOG_NORMAL);
	event_str(&e, "phase", phase_name(th->phase));
	event_str(&e, "state", paused_for < 0 ? "paused" : "resumed");
	event_str(&e, "reason", "pause");
	if (paused_for >= 0)
	{
		event_num(&e, "paused_s", paused_for, false);
		event_textf(&e, "%s: going on after %s paused (pg_rebuild --resume)", phase_name(th->phase),
					format_duration(paused_for, d, sizeof(d)));
	}
	else
		event_textf(&e, "%s: paused by pg_rebuild --pause; pg_rebuild --resume lets it go on", phase_name(th->phase));
	event_emit(&e);
}

bool
throttle_wait_paused(Throttle *th)
{
	bool   paused;
	bool   postponed;
	double since = -1;

	if (th->state_conn == NULL)
		return true;
	for (;;)
	{
		if (!control_read(th->state_conn, th->state_schema, th->run_id, &paused, &postponed))
		{
			conn_report(th->state_conn, "could not read the run's record (--pause)");
			return false;
		}
		if (!paused)
			break;
		if (since < 0)
		{
			since = pgr_now();
			pause_event(th, -1);
		}
		pgr_sleep_ms(LAG_RECHECK_MS);
		pgr_test_pause("PAUSED");
		if (pgr_interrupted)
		{
			log_error("interrupted while paused");
			return false;
		}
	}
	if (since >= 0)
	{
		th->paused_s += pgr_now() - since;
		pause_event(th, pgr_now() - since);
	}
	return true;
}

bool
throttle_after(Throttle *th, Conn *c, long long n)
{
	const ThrottleLimits *lim = th->limits;

	th->units += n;
	if (!throttle_wait_paused(th))
		return false;
	if (lim == NULL)
		return true;
	if (lim->max_rate > 0)
		rate_sleep(th);
	if (lim->max_lag_bytes > 0 || lim->max_lag_s > 0)
		return lag_wait(th, c);
	return true;
}

bool
throttle_parse_lag(const char *s, double *seconds, long long *bytes)
{
	static const struct
	{
		const char *unit;
		double		factor;
		bool		is_bytes;
	} units[] = {
		{"ms", 0.001, false},
		{"s", 1, false},
		{"min", 60, false},
		{"h", 3600, false},
		{"B", 1, true},
		{"kB", 1024.0, true},
		{"MB", 1024.0 * 1024, true},
		{"GB", 1024.0 * 1024 * 1024, true},
		{"TB", 1024.0 * 1024 * 1024 * 1024, true},
	};
	char  *end;
	double v;

	*seconds = 0;
	*bytes = 0;
	if (s == NULL || *s == '\0')
		return false;
	v = strtod(s, &end);
	if (end == s || !isfinite(v) || v <= 0)
		return false;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].unit) == 0)
		{
			if (units[i].is_bytes)
			{
				if (v * units[i].factor >= 9.2e18 || v * units[i].factor < 1)
					return false;
				*bytes = (long long) (v * units[i].factor);
			}
			else
			{
				if (v * units[i].factor > 31536000.0)
					return false;
				*seconds = v * units[i].factor;
			}
			return true;
		}
	return false;
}
