/* replay.c: set-based replay of the key log. */
#include "replay.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "ident.h"
#include "log.h"
#include "pipeline.h"

/* Runs sql with $1 = upto; returns affected rows or -1. */
static long long
exec_upto(Conn *c, const char *sql, long long upto)
{
	char		val[32];
	const char *params[1];
	long long	n = 0;

	snprintf(val, sizeof(val), "%lld", upto);
	params[0] = val;
	if (!conn_command_params(c, sql, 1, params, &n))
		return -1;
	return n;
}

/* The highest id among the first limit visible entries (0 when none). */
static long long
batch_upto(Conn *c, const Plan *plan, long long limit)
{
	char	   *sql;
	PGresult   *res;
	long long	upto = 0;

	if (limit > 0)
		sql = pgr_psprintf("SELECT max(b.i) FROM (SELECT %s AS i FROM %s ORDER BY 1 LIMIT %lld) b",
						   plan->log_id_q, plan->log_q, limit);
	else
		sql = pgr_psprintf("SELECT max(%s) FROM %s", plan->log_id_q, plan->log_q);
	res = conn_query(c, sql);
	free(sql);
	if (res == NULL)
		return -1;
	if (!PQgetisnull(res, 0, 0))
		upto = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return upto;
}

/* Delete, re-insert, and (when trim) forget the entries up to upto. */
static long long
apply_upto(Conn *c, const Plan *plan, long long upto, bool trim)
{
	long long	consumed;

	/* Key lookups by index: never let a small batch scan the whole table. */
	if (!conn_command(c, "SET LOCAL enable_hashjoin = off") || !conn_command(c, "SET LOCAL enable_mergejoin = off"))
		return -1;
	if (exec_upto(c, plan->replay_delete, upto) < 0 || exec_upto(c, plan->replay_insert, upto) < 0)
		return -1;
	if (!trim)
		return 0;
	consumed = exec_upto(c, plan->replay_trim, upto);
	return consumed;
}

static long long replay_batch_once(Conn *c, const Plan *plan, long long limit);

long long
replay_batch(Conn *c, const Plan *plan, long long limit)
{
	/*
	 * Under REPLAY's REPEATABLE READ snapshot, a foreign key check of the
	 * shadow can meet a referenced row changed since the snapshot (40001),
	 * and a deadlock with the application is possible in principle (40P01):
	 * the batch is simply taken again with a new snapshot.
	 */
	for (int attempt = 1;; attempt++)
	{
		long long	n = replay_batch_once(c, plan, limit);

		if (n >= 0 || attempt >= 10 || !(conn_failed_with(c, "40001") || conn_failed_with(c, "40P01")))
			return n;
		log_verbose("replay: batch retried after %s (%s)", c->sqlstate, c->message ? c->message : "");
		pgr_sleep_ms(10.0 * attempt);
	}
}

static long long
replay_batch_once(Conn *c, const Plan *plan, long long limit)
{
	long long	upto;
	long long	consumed;

	if (!conn_command(c, "BEGIN ISOLATION LEVEL REPEATABLE READ"))
		return -1;
	upto = batch_upto(c, plan, limit);
	if (upto <= 0)
	{
		if (upto < 0)
		{
			conn_best_effort(c, "ROLLBACK");
			return -1;
		}
		return conn_command(c, "COMMIT") ? 0 : -1;
	}
	consumed = apply_upto(c, plan, upto, true);
	if (consumed < 0)
	{
		conn_best_effort(c, "ROLLBACK");
		return -1;
	}
	if (!conn_command(c, "COMMIT"))
		return -1;
	return consumed;
}

long long
replay_rest_in_transaction(Conn *c, const Plan *plan)
{
	/*
	 * The table is locked: nothing new reaches the log, so every entry is
	 * applied (no upper bound), and the count read after, all in one round
	 * trip.
	 */
	char	   *sql = pgr_psprintf("SELECT count(*) FROM %s", plan->log_q);
	PGresult   *res = NULL;
	bool		queued;
	long long	n;

	if (!conn_batch_begin(c))
	{
		free(sql);
		return -1;
	}
	queued = apply_upto(c, plan, LLONG_MAX, false) >= 0 && conn_batch_query(c, sql);
	free(sql);
	if (!conn_batch_end(c, &res) || !queued || res == NULL)
	{
		PQclear(res);
		return -1;
	}
	n = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

long long
replay_backlog(Conn *c, const Plan *plan)
{
	char	   *sql = pgr_psprintf("SELECT coalesce(max(%s) - min(%s) + 1, 0) FROM %s", plan->log_id_q,
									plan->log_id_q, plan->log_q);
	PGresult   *res = conn_query(c, sql);
	long long	n;

	free(sql);
	if (res == NULL)
		return -1;
	n = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

bool
replay_report_null(const Conn *failed, Conn *q, const TableDesc *t, const StrVec *set_not_null)
{
	const IndexDesc *key;
	StrBuf		sql;
	StrBuf		keys;
	PGresult   *res;
	char	   *col_q;
	char	   *row = NULL;

	if (!conn_failed_with(failed, "23502") || failed->column == NULL ||
		!sv_contains(set_not_null, failed->column) || t->key_index < 0)
		return false;
	key = &t->indexes[t->key_index];
	col_q = ident_quote(failed->column);
	sb_init(&keys);
	sb_init(&sql);
	sb_append(&sql, "SELECT ROW(");
	for (int i = 0; i < key->nkeys; i++)
	{
		char	   *d = ident_display(key->key_columns[i]);

		if (i > 0)
		{
			sb_append(&keys, ", ");
			sb_append(&sql, ", ");
		}
		sb_append(&keys, d);
		ident_append(&sql, key->key_columns[i]);
		free(d);
	}
	sb_appendf(&sql, ")::text FROM ONLY %s WHERE %s IS NULL LIMIT 1", t->qname, col_q);
	if (q && conn_ok(q))
	{
		res = conn_query(q, sql.data);
		if (res && PQntuples(res) > 0)
			row = pgr_strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	log_error("the application wrote NULL into column %s of %s during the run, "
			  "so --set-not-null %s cannot be applied", col_q, t->qname, col_q);
	if (row)
		log_detail("The row with key (%s)=%s holds NULL in %s now.", keys.data, row, col_q);
	log_hint("Fix the application (or the rows) so that it no longer writes NULL there, then run again.");
	free(row);
	free(col_q);
	sb_free(&sql);
	sb_free(&keys);
	return true;
}
