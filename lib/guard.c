/* guard.c: SHARE UPDATE EXCLUSIVE for the whole run, and what waits behind it. */
#include "guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

void
guard_init(Guard *g, const TableDesc *t, const char *lock_sql)
{
	memset(g, 0, sizeof(*g));
	g->table = t;
	g->lock_sql = lock_sql;
}

void
guard_add_pid(Guard *g, int pid)
{
	if (pid > 0 && g->n_our_pids < GUARD_MAX_PIDS)
		g->our_pids[g->n_our_pids++] = pid;
}

char *
guard_pid_array(const Guard *g)
{
	StrBuf		sb;

	sb_init(&sb);
	sb_append_char(&sb, '{');
	for (int i = 0; i < g->n_our_pids; i++)
		sb_appendf(&sb, "%s%d", i ? "," : "", g->our_pids[i]);
	sb_append_char(&sb, '}');
	return sb_steal(&sb);
}

bool
guard_acquire(Guard *g, Conn *holder, double wait_timeout_s)
{
	char	   *sql;
	bool		ok;

	g->holder = holder;
	guard_add_pid(g, conn_backend_pid(holder));
	sql = pgr_psprintf("BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = '%.0fms'; "
					   "%s; SET LOCAL lock_timeout = 0",
					   wait_timeout_s * 1000.0 < 1 ? 1 : wait_timeout_s * 1000.0, g->lock_sql);
	ok = conn_command(holder, sql);
	free(sql);
	if (!ok)
	{
		if (conn_failed_with(holder, "55P03"))
		{
			log_error("could not get SHARE UPDATE EXCLUSIVE on %s within --wait-timeout (%.0f s)",
					  g->table->qname, wait_timeout_s);
			log_detail("Another session holds a lock that conflicts with it: a VACUUM (an anti-wraparound "
					   "autovacuum does not give way), ANALYZE, CREATE INDEX, or DDL on the table.");
			log_hint("Run again later, or give more time with --wait-timeout.");
		}
		else
			conn_report(holder, "could not lock the table against concurrent DDL");
		conn_best_effort(holder, "ROLLBACK");
		return false;
	}
	return true;
}

bool
guard_tick(Guard *g)
{
	PGresult   *res;
	char	   *pids;
	double		now = pgr_now();

	if (g->holder == NULL || g->stop)
		return !g->stop;
	if (g->holder->busy)
		return true;			/* the swap runs on it */
	if (!conn_ok(g->holder))
		return false;			/* the lock is gone: the run recovers or stops */
	if (now - g->last_tick < 0.2)
		return true;
	g->last_tick = now;
	pids = guard_pid_array(g);
	/* savepoint: a failing check must not abort the lock-holding transaction */
	if (!conn_command(g->holder, "SAVEPOINT pgr_guard"))
	{
		free(pids);
		return false;
	}
	res = conn_queryf(g->holder,
					  "SELECT l.pid, l.mode, coalesce(a.usename::text, '?'), "
					  "left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 100), "
					  "pg_catalog.pg_cancel_backend(l.pid) "
					  TABLE_LOCKS_SQL "AND NOT l.granted "
					  "AND l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock') "
					  "AND l.pid <> ALL (%text::int4[])",
					  g->table->oid, pids);
	free(pids);
	if (res == NULL)
	{
		if (conn_failed_with(g->holder, "42501"))
		{
			/* we may not cancel that session: stop, so the application is not blocked */
			conn_best_effort(g->holder, "ROLLBACK TO SAVEPOINT pgr_guard");
			log_error("a session waits to lock %s behind pg_rebuild, and pg_rebuild may not cancel it",
					  g->table->qname);
			log_detail("Its waiting lock request would make every query of the application on the table queue "
					   "behind it, so pg_rebuild stops and releases its lock.");
			log_hint("Run pg_rebuild again when the DDL is done, or as a role allowed to cancel it "
					 "(the same role, or a member of pg_signal_backend).");
			g->stop = true;
			return false;
		}
		conn_best_effort(g->holder, "ROLLBACK TO SAVEPOINT pgr_guard");
		conn_report(g->holder, "could not check for sessions waiting on the table");
		return false;
	}
	for (int i = 0; i < PQntuples(res); i++)
	{
		char	   *mode = res_text(res, i, 1);
		char	   *user = res_text(res, i, 2);
		char	   *query = res_text(res, i, 3);

		log_warning("pid %d (user %s) waited for %s on %s behind pg_rebuild's lock, which made the "
					"application's queries queue behind it: canceled its statement: %s",
					res_int4(res, i, 0), user, mode, g->table->qname, query);
		free(mode);
		free(user);
		free(query);
	}
	PQclear(res);
	return conn_command(g->holder, "RELEASE SAVEPOINT pgr_guard");
}

void
guard_report_long_transactions(Conn *c, const TableDesc *t)
{
	PGresult   *res = conn_queryf(c,
								  "SELECT DISTINCT ON (l.pid) l.pid, l.mode, "
								  "extract(epoch FROM clock_timestamp() - a.xact_start)::float8, coalesce(a.state, '?'), "
								  "left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 80) "
								  TABLE_LOCKS_SQL "AND l.granted AND l.pid <> pg_backend_pid() "
								  "AND a.xact_start < clock_timestamp() - interval '1 second' ORDER BY l.pid",
								  t->oid);

	if (res == NULL)
		return;
	for (int i = 0; i < PQntuples(res); i++)
	{
		char	   *mode = res_text(res, i, 1);
		char	   *state = res_text(res, i, 3);
		char	   *query = res_text(res, i, 4);

		log_warning("pid %d has had a transaction open for %.1f s holding %s on %s (%s: %s); "
					"the trigger install and the swap wait for it to end, up to --wait-timeout",
					res_int4(res, i, 0), res_float8(res, i, 2), mode, t->qname, state, query);
		free(mode);
		free(state);
		free(query);
	}
	PQclear(res);
}

int
guard_signal_blockers(Guard *g, Conn *c, bool terminate)
{
	char	   *pids = guard_pid_array(g);
	PGresult   *res = conn_queryf(c,
								  "SELECT DISTINCT ON (l.pid) l.pid, l.mode, "
								  "left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 100), "
								  "CASE WHEN %bool THEN pg_catalog.pg_terminate_backend(l.pid) "
								  "ELSE pg_catalog.pg_cancel_backend(l.pid) END " TABLE_LOCKS_SQL
								  "AND l.granted AND l.pid <> ALL (%text::int4[]) ORDER BY l.pid",
								  (PGbool) terminate, g->table->oid, pids);
	int			n;

	free(pids);
	if (res == NULL)
	{
		conn_report(c, terminate ? "could not terminate the blocking sessions"
					: "could not cancel the blocking sessions");
		return -1;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
	{
		char	   *mode = res_text(res, i, 1);
		char	   *query = res_text(res, i, 2);

		log_warning("--kill-blockers: %s pid %d (holding %s on %s): %s%s",
					terminate ? "terminated" : "canceled the statement of", res_int4(res, i, 0), mode,
					g->table->qname, query, res_bool(res, i, 3) ? "" : " (the signal could not be sent)");
		free(mode);
		free(query);
	}
	PQclear(res);
	return n;
}
