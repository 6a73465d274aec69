/* replay.c: set-based replay of the key log. */
#include "replay.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cancel.h"
#include "clock.h"
#include "ident.h"
#include "log.h"
#include "pipeline.h"
#include "run.h"
#include "state.h"
#include "test_hooks.h"

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

/* Runs sql (which it frees), a query of one number; -1 on failure. */
static long long
query_number(Conn *c, char *sql)
{
	PGresult   *res = conn_query(c, sql);
	long long	n;

	free(sql);
	if (res == NULL)
		return -1;
	n = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

long long
replay_backlog(Conn *c, const Plan *plan)
{
	return query_number(c, pgr_psprintf("SELECT coalesce(max(%s) - min(%s) + 1, 0) FROM %s", plan->log_id_q,
										plan->log_id_q, plan->log_q));
}

long long
replay_backlog_upto(Conn *c, const Plan *plan, long long limit)
{
	return query_number(c, pgr_psprintf("SELECT pg_catalog.count(*) FROM (SELECT FROM %s LIMIT %lld) b",
										plan->log_q, limit + 1));
}

/* Until a batch this big was measured, the rate is a guess. */
#define RATE_MIN_ENTRIES 500
/* The guess: slow, so that a first swap errs on the short side. */
#define RATE_GUESS_PER_S 5000.0

long long
replay_batch_timed(Conn *c, const Plan *plan, long long limit, ReplayRate *rate)
{
	double		t0 = pgr_now();
	long long	n = replay_batch(c, plan, limit);
	double		dt = pgr_now() - t0;

	if (n > 0 && rate)
	{
		/* the last few thousand entries weigh most: the load changes */
		if (rate->entries > 50000)
		{
			rate->seconds *= 0.5;
			rate->entries *= 0.5;
		}
		rate->entries += (double) n;
		rate->seconds += dt;
	}
	return n;
}

double
replay_rate_per_s(const ReplayRate *rate)
{
	if (rate == NULL || rate->entries < RATE_MIN_ENTRIES || rate->seconds <= 0)
		return RATE_GUESS_PER_S;
	return rate->entries / rate->seconds;
}

long long
replay_lock_budget(const ReplayRate *rate, int max_lock_ms)
{
	double		n = replay_rate_per_s(rate) * (max_lock_ms / 1000.0) / 2.0;

	return n < 1 ? 1 : (long long) n;
}

bool
replay_report_null(const Conn *failed, Conn *q, const TableDesc *t, const ChangeSet *changes)
{
	const ColumnChange *cc;
	const IndexDesc *key;
	StrBuf		sql;
	StrBuf		keys;
	PGresult   *res;
	char	   *col_q;
	char	   *row = NULL;

	if (!conn_failed_with(failed, "23502") || failed->column == NULL || t->key_index < 0)
		return false;
	cc = changes_for(changes, failed->column);
	if (cc == NULL || !cc->set_not_null)
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
	if (strcmp(cc->given_as, "--set-not-null") == 0)
		log_error("the application wrote NULL into column %s of %s during the run, "
				  "so --set-not-null %s cannot be applied", col_q, t->qname, col_q);
	else
		log_error("the application wrote NULL into column %s of %s during the run, "
				  "so %s cannot be applied", col_q, t->qname, cc->given_as);
	if (row)
		log_detail("The row with key (%s)=%s holds NULL in %s now.", keys.data, row, col_q);
	log_hint("Fix the application (or the rows) so that it no longer writes NULL there, then run again.");
	free(row);
	free(col_q);
	sb_free(&sql);
	sb_free(&keys);
	return true;
}

/*
 * One pass of the search for the failing row over rows (a query giving c,
 * the ctid, and k, the key as text): true when a row fails with sqlstate,
 * its key and the error in *key and *error.
 */
static bool
probe_rows(Conn *q, const Plan *plan, const char *rows, const char *sqlstate, char **key, char **error)
{
	StrBuf		body;
	char	   *tag;
	bool		found = false;

	sb_init(&body);
	sb_appendf(&body,
			   "\nDECLARE r record; k text;\nBEGIN\n"
			   "    BEGIN\n"
			   "        FOR r IN %s LOOP\n"
			   "            k := r.k;\n"
			   "            %s;\n"
			   "        END LOOP;\n"
			   "    EXCEPTION WHEN SQLSTATE '%s' THEN\n"
			   "        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'pgrebuild: row found', DETAIL = k, HINT = SQLERRM;\n"
			   "    END;\n"
			   "END\n", rows, plan->probe_insert, sqlstate);
	tag = plan_dollar_tag(body.data);
	if (conn_command(q, "BEGIN") &&
		conn_commandv(q, "SET LOCAL client_min_messages = warning; "
					  "CREATE TEMPORARY TABLE pgrebuild_probe (LIKE %s INCLUDING CONSTRAINTS) ON COMMIT DROP",
					  plan->shadow_q) &&
		!conn_commandv(q, "DO %s%s%s", tag, body.data, tag) && conn_failed_with(q, "P0001") && q->detail)
	{
		*key = pgr_strdup(q->detail);
		*error = pgr_strdup(q->hint ? q->hint : "");
		found = true;
	}
	conn_best_effort(q, "ROLLBACK");
	free(tag);
	sb_free(&body);
	return found;
}

bool
replay_report_row(const Conn *failed, Conn *q, const TableDesc *t, const ChangeSet *changes, const Plan *plan)
{
	char		sqlstate[6];
	char	   *key = NULL;
	char	   *error = NULL;
	bool		logged = true;
	StrBuf		keys;
	const IndexDesc *k;

	if (changes == NULL || changes->npieces == 0 || q == NULL || !conn_ok(q) || t->key_index < 0 ||
		!(strncmp(failed->sqlstate, "22", 2) == 0 || strcmp(failed->sqlstate, "23514") == 0))
		return false;
	memcpy(sqlstate, failed->sqlstate, sizeof(sqlstate));
	conn_best_effort(q, "ROLLBACK");
	log_verbose("looking for the row the changes cannot be applied to (%s)", sqlstate);
	if (!probe_rows(q, plan, plan->probe_rows_logged, sqlstate, &key, &error))
	{
		logged = false;
		if (!probe_rows(q, plan, plan->probe_rows_all, sqlstate, &key, &error))
			return false;
	}
	k = &t->indexes[t->key_index];
	sb_init(&keys);
	for (int i = 0; i < k->nkeys; i++)
	{
		char	   *d = ident_display(k->key_columns[i]);

		sb_appendf(&keys, "%s%s", i > 0 ? ", " : "", d);
		free(d);
	}
	log_error("the changes of --alter cannot be applied to the row with key (%s)=%s of %s: %s", keys.data, key,
			  t->qname, error);
	log_detail(logged ? "The row was written by the application during the run." :
			   "The row was in the table before the run.");
	log_hint("Fix the row (or the USING expression or CHECK constraint) and run again.");
	sb_free(&keys);
	free(key);
	free(error);
	return true;
}

/* Replay until a batch consumes fewer entries than this, then try the swap. */
#define SWAP_BACKLOG_THRESHOLD 1000

/* The highest log id handed out so far (what was captured), -1 on failure. */
static long long
captured_so_far(Run *r)
{
	return query_number(r->main, pgr_psprintf("SELECT coalesce(max(%s), 0) FROM %s", r->plan->log_id_q,
											  r->plan->log_q));
}

/*
 * The replay's progress line.  Its ETA comes from how fast the backlog
 * shrank since first_backlog was seen (the application keeps adding to
 * it): unknown while it does not shrink.
 */
static void
report_replay_progress(const Run *r, Phase phase, long long backlog, long long first_backlog, double since_first, double rate)
{
	double shrink = since_first > 0 && first_backlog > backlog ? (double) (first_backlog - backlog) / since_first : 0;

	progress_report(&(ProgressFigures) {
		.phase = phase,
		.unit = "changes",
		.done = r->replayed,
		.total = -1,
		.percent = -1,
		.rate = rate,
		.eta_s = shrink > 0 && backlog >= 0 ? (double) backlog / shrink : -1,
		.backlog = backlog < 0 ? 0 : backlog,
	});
}

/*
 * Replays batches until one consumes fewer than threshold entries.  Stops
 * the run when the backlog has not shrunk for --catchup-timeout.
 */
static bool
replay_until_small(Run *r, Phase phase, long long threshold)
{
	double	  start = pgr_now();
	long long best_backlog = -1;
	double	  best_at = start;
	long long captured_at_start = captured_so_far(r);
	long long applied_at_start = r->replayed;
	double	  last_touch = start;
	long long first_backlog = -1;
	double	  first_at = start;
	Throttle  th;
	/* with --max-rate, batches of about half a second's changes, for an even pace */
	long long batch = r->s->throttle.max_rate > 0 && r->s->throttle.max_rate / 2 < REPLAY_BATCH_DEFAULT ? (long long) (r->s->throttle.max_rate / 2) + 1 : REPLAY_BATCH_DEFAULT;

	if (batch <= threshold)
		batch = threshold + 1; /* a full batch must still say the backlog is not small */
	throttle_begin(&th, &r->s->throttle, phase, "changes", r->main, r->tool_schema, r->run_id);
	for (;;)
	{
		long long n = replay_batch_timed(r->main, r->plan, batch, &r->rate);
		double	  paused_before = th.paused_s;
		long long backlog;
		double	  now;

		if (n < 0)
		{
			run_report_failure(r, r->main, "could not apply the captured changes");
			return false;
		}
		r->replayed += n;
		pgr_test_pause(phase == PHASE_RECONCILE ? "RECONCILE_BATCH" : "REPLAY_BATCH");
		if (!throttle_after(&th, r->main, n))
			return false;
		/* time paused for replication lag does not count against --catchup-timeout */
		best_at += th.paused_s - paused_before;
		if (!guard_tick(&r->guard))
		{
			if (!r->guard.stop)
				run_report_failure(r, r->holder, "lost the lock on the table");
			return false;
		}
		if (n < threshold)
			return true;
		if (pgr_interrupted)
		{
			log_error("interrupted during the replay");
			return false;
		}
		backlog = replay_backlog(r->main, r->plan);
		now = pgr_now();
		if (backlog >= 0 && (best_backlog < 0 || backlog < best_backlog))
		{
			best_backlog = backlog;
			best_at = now;
		}
		else if (now - best_at > r->s->catchup_timeout_s)
		{
			long long	captured = captured_so_far(r);
			double		el = now - start;

			char		n[32];
			char		in[32];
			char		out[32];

			log_error("the replay is not catching up with the application's writes: the backlog "
					  "(about %s changes) has not shrunk for %.0f s (--catchup-timeout)",
					  format_count(backlog, n, sizeof(n)), r->s->catchup_timeout_s);
			log_detail("Changes were captured at %s per second and applied at %s per second.",
					   format_count(captured >= 0 && captured_at_start >= 0 ?
									(long long) ((double) (captured - captured_at_start) / el) : 0, in, sizeof(in)),
					   format_count((long long) ((double) (r->replayed - applied_at_start) / el), out, sizeof(out)));
			log_hint("Run it at a quieter time, or with more time (--catchup-timeout).");
			return false;
		}
		if (now - last_touch >= 1.0)
		{
			/* last progress, for --status */
			if (!run_record_phase(r, phase))
			{
				run_report_failure(r, r->main, "could not record the progress");
				return false;
			}
			last_touch = now;
		}
		if (first_backlog < 0 && backlog >= 0)
		{
			first_backlog = backlog;
			first_at = now;
		}
		report_replay_progress(r, phase, backlog, first_backlog, now - first_at,
							   (double) (r->replayed - applied_at_start) / (now - start + 1e-9));
	}
}

/*
 * Notes when the shadow became whole: a snapshot whose xmin is this xid or
 * later sees every row written to the shadow so far.
 */
static bool
reconcile_mark(Run *r)
{
	PGresult   *res = conn_query(r->main, "SELECT (pg_catalog.txid_snapshot_xmax(pg_catalog.txid_current_snapshot()) "
								 "OPERATOR(pg_catalog.%) 4294967296)::pg_catalog.text, "
								 "pg_catalog.clock_timestamp()::pg_catalog.text");

	if (res == NULL)
	{
		run_report_failure(r, r->main, "could not read the transaction horizon");
		return false;
	}
	snprintf(r->whole_xid, sizeof(r->whole_xid), "%s", PQgetvalue(res, 0, 0));
	snprintf(r->whole_at, sizeof(r->whole_at), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	return true;
}

bool
reconcile_phase(Run *r)
{
	long long	before = r->replayed;
	long long	n;
	char		note[96];
	char		count[32];

	if (!run_enter_phase(r, PHASE_RECONCILE))
		return false;
	pgr_test_pause("RECONCILE");
	/* Plain (not unique): the shadow may hold two versions of one key until the pass below. */
	if (!conn_command(r->main, r->plan->reconcile_index))
	{
		run_report_failure(r, r->main, "could not build the replay key's index on the shadow table");
		return false;
	}
	/* Batches first while there is much, so that the last pass is short ... */
	if (!replay_until_small(r, PHASE_RECONCILE, REPLAY_BATCH_DEFAULT))
		return false;
	/* ... then one pass that applies every entry its snapshot sees. */
	n = replay_batch_timed(r->main, r->plan, 0, &r->rate);
	if (n < 0)
	{
		run_report_failure(r, r->main, "could not apply the captured changes");
		return false;
	}
	r->replayed += n;
	if (!reconcile_mark(r))
		return false;
	log_progress_clear();
	snprintf(note, sizeof(note), "%s changes applied; the shadow is the table at one snapshot",
			 format_count(r->replayed - before, count, sizeof(count)));
	phase_end(&r->clock, PHASE_RECONCILE, note);
	return true;
}

bool
replay_keep_up(Run *r)
{
	return replay_until_small(r, PHASE_SWAP, SWAP_BACKLOG_THRESHOLD);
}

bool
replay_phase(Run *r)
{
	long long	before = r->replayed;
	char		note[96];
	char		n[32];

	if (!run_enter_phase(r, PHASE_REPLAY))
		return false;
	if (!replay_until_small(r, PHASE_REPLAY, SWAP_BACKLOG_THRESHOLD))
		return false;
	/* Statistics before the swap, so the first queries on the new table plan well. */
	if (!conn_command(r->main, r->plan->analyze))
	{
		run_report_failure(r, r->main, "could not analyze the shadow table");
		return false;
	}
	if (!replay_until_small(r, PHASE_REPLAY, SWAP_BACKLOG_THRESHOLD))
		return false;
	log_progress_clear();
	snprintf(note, sizeof(note), "%s changes applied", format_count(r->replayed - before, n, sizeof(n)));
	phase_end(&r->clock, PHASE_REPLAY, note);
	return true;
}

