/* swap.c: lock, final replay, rename, carry over; all in one short transaction. */
#include "swap.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "cancel.h"
#include "clock.h"
#include "dependents.h"
#include "fingerprint.h"
#include "ident.h"
#include "event.h"
#include "log.h"
#include "pipeline.h"
#include "record.h"
#include "replay.h"
#include "run.h"
#include "state.h"
#include "test_hooks.h"

/* A "lock_wait" event: a lock attempt of phase what timed out. */
static void
lock_wait_event(Event *e, const char *what, int attempt, double waited)
{
	event_init(e, "lock_wait", SINK_STDOUT, LOG_NORMAL);
	event_str(e, "phase", what);
	event_int(e, "attempt", attempt);
	event_num(e, "waited_s", waited, false);
}

/* Names the sessions holding locks on the table (after a failed attempt). */
void
swap_report_blockers(Conn *c, const TableDesc *t, const char *what, int attempt, double waited)
{
	PGresult   *res;

	/*
	 * Another role's session shows its transaction and query only to its
	 * members and to pg_read_all_stats (as pg_stat_activity decides):
	 * otherwise its age is unknown, not zero.
	 */
	res = conn_queryf(c,
					  "SELECT l.pid, l.mode, "
					  "extract(epoch FROM clock_timestamp() - a.xact_start)::float8, "
					  "coalesce(a.state, '?'), "
					  "left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 80), "
					  "coalesce(a.usename::text, '?'), "
					  "a.pid IS NOT NULL AND (pg_catalog.pg_has_role(a.usesysid, 'USAGE') "
					  "  OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')), current_user::text "
					  TABLE_LOCKS_SQL "AND l.granted AND l.pid <> pg_backend_pid() ORDER BY a.xact_start NULLS LAST LIMIT 5",
					  t->oid);
	if (res == NULL)
		return;
	if (PQntuples(res) == 0)
	{
		Event e;

		lock_wait_event(&e, what, attempt, waited);
		event_textf(&e, "%s: attempt %d could not lock %s within the lock timeout (waited %.1f s so far); "
						"the holder is gone already",
					what, attempt, t->qname, waited);
		event_emit(&e);
	}
	for (int i = 0; i < PQntuples(res); i++)
	{
		char  *mode = res_text(res, i, 1);
		char  *state = res_text(res, i, 3);
		char  *query = res_text(res, i, 4);
		char  *user = res_text(res, i, 5);
		char  *me = res_text(res, i, 7);
		int	   pid = res_int4(res, i, 0);
		bool   visible = res_bool(res, i, 6);
		bool   age_known = visible && !res_isnull(res, i, 2);
		double age = age_known ? res_float8(res, i, 2) : -1;
		Event  e;

		lock_wait_event(&e, what, attempt, waited);
		event_int(&e, "blocker_pid", pid);
		event_str(&e, "blocker_mode", mode);
		event_str(&e, "blocker_role", user);
		event_num(&e, "blocker_xact_age_s", age, true);
		event_str(&e, "blocker_state", visible ? state : NULL);
		event_str(&e, "blocker_query", visible ? query : NULL);
		if (!visible)
			event_textf(&e, "%s: attempt %d waiting for a lock on %s (%.1f s so far): blocked by pid %d holding %s, "
							"a session of role %s: how long its transaction has been open, and its query, are not "
							"visible to role %s (members of pg_read_all_stats see them)",
						what, attempt, t->qname, waited, pid, mode, user, me);
		else if (!age_known)
			event_textf(&e, "%s: attempt %d waiting for a lock on %s (%.1f s so far): blocked by pid %d holding %s, "
							"transaction age unknown (role %s), %s: %s",
						what, attempt, t->qname, waited, pid, mode, user, state,
						query && *query ? query : "(no query)");
		else
			event_textf(&e, "%s: attempt %d waiting for a lock on %s (%.1f s so far): blocked by pid %d holding %s, "
							"transaction open %.1f s, %s: %s",
						what, attempt, t->qname, waited, pid, mode, age, state, query && *query ? query : "(no query)");
		event_emit(&e);
		free(mode);
		free(state);
		free(query);
		free(user);
		free(me);
	}
	PQclear(res);
}

/*
 * Default privileges may have granted the shadow rights the table does not
 * have: before the lock, the statements that revoke every grant on it but
 * its owner's (run under the lock once it has the table's name, before the
 * table's own grants).
 */
static bool
plan_revokes(Conn *c, const TableDesc *t, const Plan *plan, StmtList *out)
{
	PGresult   *res = conn_queryf(c,
								  "SELECT DISTINCT CASE WHEN a.grantee = 0 THEN NULL "
								  "  ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END "
								  "FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a "
								  "WHERE c.oid = pg_catalog.to_regclass(%text) AND a.grantee <> c.relowner",
								  plan->shadow_q);

	if (res == NULL)
		return false;
	for (int i = 0; i < PQntuples(res); i++)
	{
		char	   *who = res_text(res, i, 0);
		char	   *q = who ? ident_quote(who) : pgr_strdup("PUBLIC");

		stmts_add(out, "ACCESS EXCLUSIVE on the new table (held)", "REVOKE ALL ON TABLE %s FROM %s",
				  t->qname, q);
		free(who);
		free(q);
	}
	PQclear(res);
	return true;
}

/* The privileges of the old and new tables (and their columns) are the same. */
static bool
privileges_match(Conn *c, unsigned int old_oid, const char *new_qname, bool *same)
{
	/* columns of the old table that --alter dropped are not in the new one: their grants went with them */
	static const char *const acl_set =
		"SELECT a.grantee, a.privilege_type, a.is_grantable, NULL::name AS col "
		"FROM pg_catalog.pg_class c, pg_catalog.aclexplode(coalesce(c.relacl, "
		"  pg_catalog.acldefault('r', c.relowner))) a WHERE c.oid = %s "
		"UNION ALL SELECT a.grantee, a.privilege_type, a.is_grantable, att.attname "
		"FROM pg_catalog.pg_attribute att, pg_catalog.aclexplode(att.attacl) a "
		"WHERE att.attrelid = %s AND att.attnum > 0 AND NOT att.attisdropped "
		"AND att.attname IN (SELECT n.attname FROM pg_catalog.pg_attribute n "
		"  WHERE n.attrelid = pg_catalog.to_regclass(%%text) AND NOT n.attisdropped)";
	char	   *old_set = pgr_psprintf(acl_set, "%oid", "%oid");
	char	   *new_set = pgr_psprintf(acl_set, "pg_catalog.to_regclass(%text)", "pg_catalog.to_regclass(%text)");
	char	   *spec = pgr_psprintf("SELECT NOT EXISTS ((%s) EXCEPT ALL (%s)) AND NOT EXISTS ((%s) EXCEPT ALL (%s))",
									old_set, new_set, new_set, old_set);
	PGresult   *res = conn_queryf(c, spec, old_oid, old_oid, new_qname,	/* old */
								  new_qname, new_qname, new_qname,	/* new */
								  new_qname, new_qname, new_qname,	/* new */
								  old_oid, old_oid, new_qname);	/* old */

	free(old_set);
	free(new_set);
	free(spec);
	if (res == NULL)
		return false;
	*same = res_bool(res, 0, 0);
	PQclear(res);
	return true;
}

/*
 * Updates the run's record: the shadow is now the table, the old table is
 * ours, and the foreign keys re-added NOT VALID must be validated (by the
 * finish, or by --cleanup if the run dies before).
 */
static bool
record_swapped(Conn *c, const TableDesc *t, const Plan *plan, const SwapSettings *s, const Dependents *deps)
{
	for (int i = 0; i < deps->n; i++)
	{
		const DepObject *o = &deps->items[i];

		if (!o->validated)
			continue;
		if ((o->kind == DEP_FK_OUT || o->kind == DEP_FK_SELF) &&
			!state_record(c, s->tool_schema, s->run_id, OBJ_VALIDATE, o->name, t->qname))
			return false;
		if (o->kind == DEP_FK_IN &&
			!state_record(c, s->tool_schema, s->run_id, OBJ_VALIDATE, o->name, o->rel_q))
			return false;
	}
	return state_forget(c, s->tool_schema, s->run_id, OBJ_SHADOW, 0) &&
		state_forget(c, s->tool_schema, s->run_id, OBJ_TRIGGER, 0) &&
		state_record(c, s->tool_schema, s->run_id, OBJ_OLD, plan->old_q, NULL) &&
		state_set_phase(c, s->tool_schema, s->run_id, phase_def(PHASE_FINISH)->recorded);
}

/*
 * Runs every statement of the lists, in order, as one multi-statement
 * string: one round trip under the lock; false at the first failure.
 */
static bool
run_lists(Conn *c, const StmtList *const *lists, int nlists)
{
	StrBuf		sql;
	bool		ok;

	sb_init(&sql);
	for (int k = 0; k < nlists; k++)
		for (int i = 0; i < lists[k]->n; i++)
			sb_appendf(&sql, "%s;\n", lists[k]->items[i].sql);
	ok = sql.len == 0 || conn_command(c, sql.data);
	sb_free(&sql);
	return ok;
}

typedef enum Attempt
{
	ATTEMPT_DONE,
	ATTEMPT_RETRY,				/* a lock timeout: try again */
	ATTEMPT_OVER_BUDGET,		/* locked, but more changes wait than the lock may apply: given back */
	ATTEMPT_FAILED
} Attempt;

static Attempt
fail_attempt(Conn *c, const char *what, bool report)
{
	if (conn_lost(c))
	{
		log_warning("%s: lost the connection: %s", what, c->message ? c->message : "connection closed");
		return ATTEMPT_FAILED;
	}
	if (conn_failed_with(c, "55P03"))
	{
		/* back to before this attempt: the SHARE UPDATE EXCLUSIVE lock stays */
		conn_best_effort(c, "ROLLBACK TO SAVEPOINT pgr_swap");
		return ATTEMPT_RETRY;
	}
	if (report)
		conn_report(c, what);
	conn_best_effort(c, "ROLLBACK");
	return ATTEMPT_FAILED;
}

/* What the swap read of the catalog, and the plan made from it. */
typedef struct SwapRead
{
	Dependents	deps;
	DepPlan		dp;
	StmtList	revokes;		/* the shadow's grants from default privileges */
	bool		valid;
} SwapRead;

static void
swap_read_free(SwapRead *r)
{
	if (!r->valid)
		return;
	dep_plan_free(&r->dp);
	dependents_free(&r->deps);
	stmts_free(&r->revokes);
	r->valid = false;
}

/*
 * Reads the table and the objects around it, checks both against what
 * preflight read (fingerprints), and plans the re-creation of the
 * dependents.  Runs before the lock, recorded, and again under the lock
 * only if the recorded reads no longer return the same.
 */
static Attempt
read_and_check(Conn *c, const TableDesc *t, const Plan *plan, const SwapSettings *s, SwapRead *r)
{
	TableDesc	now;
	char	   *canon;
	uint64_t	fp;
	char	   *err = NULL;

	memset(r, 0, sizeof(*r));
	/* the definition is still what preflight read */
	if (!catalog_read_table(c, t->oid, &now))
		return fail_attempt(c, "could not re-read the table at the swap", true);
	canon = catalog_canonical_text(&now);
	fp = fingerprint_text(canon);
	free(canon);
	catalog_free_table(&now);
	if (fp != s->fingerprint)
	{
		conn_best_effort(c, "ROLLBACK");
		log_error("the definition of %s changed while it was being rebuilt", t->qname);
		log_detail("Some DDL (ALTER TABLE, CREATE INDEX, COMMENT, GRANT, ...) ran on the table after "
				   "pg_rebuild read it; the rebuilt copy would not match. Nothing was swapped: "
				   "the table is unchanged.");
		log_hint("Run pg_rebuild again once the DDL is done.");
		return ATTEMPT_FAILED;
	}

	/* and so are the objects around it; capture their definitions now */
	if (!dependents_read(c, t, &r->deps))
		return fail_attempt(c, "could not re-read the objects around the table at the swap", true);
	canon = dependents_canonical_text(&r->deps);
	fp = fingerprint_text(canon);
	free(canon);
	if (fp != s->dep_fingerprint)
	{
		dependents_free(&r->deps);
		conn_best_effort(c, "ROLLBACK");
		log_error("the objects around %s (views, triggers, foreign keys, policies, ...) changed while it "
				  "was being rebuilt", t->qname);
		log_detail("Nothing was swapped: the table is unchanged.");
		log_hint("Run pg_rebuild again once the DDL is done.");
		return ATTEMPT_FAILED;
	}
	if (!plan_dependents(s->plan_input, plan, &r->deps, &r->dp, &err))
	{
		dependents_free(&r->deps);
		conn_best_effort(c, "ROLLBACK");
		log_error("cannot carry over the objects around %s: %s", t->qname, err);
		log_detail("Nothing was swapped: the table is unchanged.");
		free(err);
		return ATTEMPT_FAILED;
	}
	r->valid = true;
	if (!plan_revokes(c, t, plan, &r->revokes))
	{
		swap_read_free(r);
		return fail_attempt(c, "could not read the rebuilt table's privileges", true);
	}
	return ATTEMPT_DONE;
}

static Attempt swap_apply(Conn *c, const TableDesc *t, const Plan *plan, const SwapSettings *s,
						  const SwapRead *r, SwapResult *out);

/*
 * Everything after the lock is granted, up to and including COMMIT.  pre
 * is what read_and_check found just before the lock, and rec the recording
 * of its reads.
 */
static Attempt
swap_locked(Conn *c, const TableDesc *t, const Plan *plan, const SwapSettings *s, const SwapRead *pre,
			const ConnRecording *rec, SwapResult *out)
{
	bool		same;
	SwapRead	again = {0};
	const SwapRead *r = pre;
	Attempt		a;

	/*
	 * 0. what the lock would apply fits the budget: a transaction that
	 * committed while the lock was awaited shows its changes only now.
	 * Counted up to the budget, so a burst costs no more than that to find.
	 */
	{
		long long	waiting = replay_backlog_upto(c, plan, out->budget_entries);

		if (waiting < 0)
			return fail_attempt(c, "could not count the changes left for the swap", true);
		if (waiting > out->budget_entries)
		{
			conn_best_effort(c, "ROLLBACK TO SAVEPOINT pgr_swap");
			return ATTEMPT_OVER_BUDGET;
		}
	}

	/*
	 * 1. the catalog is still what was read just before the lock: all the
	 * reads again in one round trip, each result compared with the first;
	 * on any difference, read it all again under the lock
	 */
	if (!conn_record_check(c, rec, &same))
		return fail_attempt(c, "could not check the table's definition at the swap", true);
	if (!same)
	{
		log_verbose("the catalog changed between the read before the lock and the lock: reading it again");
		a = read_and_check(c, t, plan, s, &again);
		if (a != ATTEMPT_DONE)
			return a;
		r = &again;
	}
	a = swap_apply(c, t, plan, s, r, out);
	swap_read_free(&again);
	return a;
}

/* The swap proper, under the lock, with the dependents read and planned. */
static Attempt
swap_apply(Conn *c, const TableDesc *t, const Plan *plan, const SwapSettings *s, const SwapRead *r,
		   SwapResult *out)
{
	StrVec		problems;
	bool		same;
	long long	n;
	const StmtList *lists[5];

	/* 2. the rest of the log: the table is locked, nothing new arrives */
	n = replay_rest_in_transaction(c, plan);
	if (n < 0)
	{
		if (conn_failed_with(c, "23502"))
		{
			conn_best_effort(c, "ROLLBACK");
			if (replay_report_null(c, c, t, s->changes))
				return ATTEMPT_FAILED;
		}
		if (strncmp(c->sqlstate, "22", 2) == 0 || conn_failed_with(c, "23514"))
		{
			Conn		copy = *c;	/* the error, kept while c looks for the row */

			conn_best_effort(c, "ROLLBACK");
			if (replay_report_row(&copy, c, t, s->changes, plan))
				return ATTEMPT_FAILED;
		}
		return fail_attempt(c, "could not apply the last changes at the swap", true);
	}
	out->final_entries = n;

	/*
	 * 3. locks on the referencing tables, the renames, the dependents
	 * re-created against the new table, then privileges (default privileges
	 * revoked first): one round trip
	 */
	lists[0] = &r->dp.before_renames;
	lists[1] = &plan->swap;
	lists[2] = &r->dp.after_renames;
	lists[3] = &r->revokes;
	lists[4] = &plan->grants;
	if (!run_lists(c, lists, 5))
		return fail_attempt(c, "a statement of the swap failed", true);
	/* 3b. the record, in the same transaction, in one round trip */
	if (!conn_batch_begin(c))
		return fail_attempt(c, "could not record the swap", true);
	{
		bool		queued = record_swapped(c, t, plan, s, &r->deps);

		if (!conn_batch_end(c, NULL) || !queued)
			return fail_attempt(c, "could not record the swap", true);
	}

	/* 4. safety nets: same privileges, nothing left pointing at the old table */
	if (!privileges_match(c, t->oid, t->qname, &same))
		return fail_attempt(c, "could not compare privileges at the swap", true);
	if (!same)
	{
		conn_best_effort(c, "ROLLBACK");
		log_error("the privileges of %s could not be reproduced on the rebuilt table", t->qname);
		log_detail("The swap was rolled back; the table is unchanged.");
		log_hint("Check the table's grants (\\dp in psql): grants made by roles other than the owner "
				 "or revoked from the owner are not reproduced by this version.");
		return ATTEMPT_FAILED;
	}
	sv_init(&problems);
	/* t->oid is the old table's now: the renames kept the OIDs */
	if (!catalog_unsupported_dependents(c, t, s->tool_schema, true, &problems))
	{
		sv_free(&problems);
		return fail_attempt(c, "could not check dependencies at the swap", false);
	}
	if (problems.n > 0)
	{
		conn_best_effort(c, "ROLLBACK");
		log_error("objects still depend on the old table at the swap: the swap was rolled back");
		for (size_t i = 0; i < problems.n; i++)
			log_detail("%s", problems.items[i]);
		log_hint("Something was created during the run; run pg_rebuild again.");
		sv_free(&problems);
		return ATTEMPT_FAILED;
	}
	sv_free(&problems);

	/* 5. COMMIT */
	pgr_test_pause("BEFORE_SWAP_COMMIT");
	if (!conn_command(c, "COMMIT"))
	{
		out->commit_unknown = conn_lost(c);
		return fail_attempt(c, "could not commit the swap", true);
	}
	out->committed = true;
	return ATTEMPT_DONE;
}

/* --kill-blockers, once the wait is over: cancel, then terminate. */
static void
kill_blockers(const SwapSettings *s, Conn *work, int *stage, double *next_stage_at)
{
	if (*stage >= 2 || pgr_now() < *next_stage_at)
		return;
	if (guard_signal_blockers(s->guard, work, *stage == 1) >= 0)
		(*stage)++;
	else
		*stage = 2;
	/* give the signals a moment, then keep trying the lock */
	*next_stage_at = pgr_now() + 1.0;
}

/* Reports a failed replay batch (when says when) and rolls back the holder c. */
static void
report_replay_failure(Conn *work, Conn *c, const TableDesc *t, const Plan *plan, const SwapSettings *s,
					  const char *when)
{
	/* a NULL the application wrote in a new NOT NULL column, a row a change cannot take: say which */
	if ((conn_failed_with(work, "23502") && replay_report_null(work, work, t, s->changes)) ||
		replay_report_row(work, work, t, s->changes, plan))
		;
	else if (conn_lost(work))
		log_warning("could not apply changes %s: lost the connection: %s", when,
					work->message ? work->message : "connection closed");
	else
	{
		char	   *what = pgr_psprintf("could not apply changes %s", when);

		conn_report(work, what);
		free(what);
	}
	conn_best_effort(c, "ROLLBACK");
}

/* A batch this small is what a steady load leaves between two batches. */
#define SWAP_SMALL_BATCH 50

/*
 * Replays batches on work, outside the lock: at least one (what arrived
 * meanwhile), then more while they keep finding much (a few rounds: at a
 * steady write rate they stop shrinking), and in any case until what is
 * left fits the lock's budget (*budget_out: --max-lock-time at the rate
 * measured so far, which these batches measure too).  A backlog that stays
 * above the budget, without shrinking, for --catchup-timeout stops the
 * run.  Adds the time spent to *spent.  On failure reports it and rolls
 * back the holder c.
 */
static bool
replay_before_lock(Conn *work, Conn *c, const TableDesc *t, const Plan *plan, const SwapSettings *s,
				   const char *when, long long *budget_out, double *spent)
{
	long long	budget = replay_lock_budget(s->rate, s->max_lock_ms);
	double		t0 = pgr_now();
	double		best_at = t0;
	long long	best = -1;
	bool		said = false;

	for (int round = 1;; round++)
	{
		long long	n = replay_batch_timed(work, plan, REPLAY_BATCH_DEFAULT, s->rate);
		long long	waiting;
		long long	backlog;

		if (n < 0)
		{
			report_replay_failure(work, c, t, plan, s, when);
			return false;
		}
		pgr_test_pause("SWAP_CATCHUP");
		/* the rate is measured as it goes: the budget follows it */
		budget = replay_lock_budget(s->rate, s->max_lock_ms);
		*budget_out = budget;
		waiting = replay_backlog_upto(work, plan, budget);
		if (waiting < 0)
		{
			report_replay_failure(work, c, t, plan, s, when);
			return false;
		}
		if (waiting <= budget && (n <= SWAP_SMALL_BATCH || round >= 4))
			break;
		if (waiting <= budget)
			continue;			/* fits, but another batch leaves less for the lock */
		backlog = replay_backlog(work, plan);
		if (!said)
		{
			log_info("swap: about %lld changes wait, more than the %lld that --max-lock-time (%d ms) lets the "
					 "lock apply at %.0f changes/s: applying them first, without the lock",
					 backlog, budget, s->max_lock_ms, replay_rate_per_s(s->rate));
			said = true;
		}
		if (best < 0 || backlog < best)
		{
			best = backlog;
			best_at = pgr_now();
		}
		else if (pgr_now() - best_at > s->catchup_timeout_s)
		{
			log_error("the changes waiting for the swap do not get within --max-lock-time: about %lld wait, the "
					  "lock may apply %lld (%d ms at %.0f changes/s), and the backlog has not shrunk for %.0f s "
					  "(--catchup-timeout)", backlog, budget, s->max_lock_ms, replay_rate_per_s(s->rate),
					  s->catchup_timeout_s);
			log_hint("Run it at a quieter time, give it more time (--catchup-timeout), or let the swap hold the "
					 "lock longer (--max-lock-time: the application waits that long for the table).");
			conn_best_effort(c, "ROLLBACK");
			return false;
		}
		if (!guard_tick(s->guard) || pgr_interrupted)
		{
			if (pgr_interrupted)
				log_error("interrupted while applying changes before the swap");
			conn_best_effort(c, "ROLLBACK");
			return false;
		}
		progress_report(&(ProgressFigures) {
			.phase = PHASE_SWAP,
			.unit = "changes",
			.done = 0,
			.total = -1,
			.percent = -1,
			.rate = replay_rate_per_s(s->rate),
			.eta_s = -1,
			.backlog = backlog,
			.step = "catching up before the lock",
		});
	}
	if (said)
		log_progress_clear();
	*spent += pgr_now() - t0;
	return true;
}

bool
swap_run(Conn *work, const TableDesc *t, const Plan *plan, const SwapSettings *s, SwapResult *out)
{
	Conn	   *c = s->guard->holder;
	double		start = pgr_now();
	double		deadline = start + s->wait_timeout_s;
	double		caught_up = 0;	/* time spent replaying before the lock: not waiting for it */
	double		last_report = 0;
	int			kill_stage = 0;
	double		next_kill = deadline;
	Backoff		b;

	memset(out, 0, sizeof(*out));
	backoff_init(&b, s->lock_timeout_ms / 2.0 + 1, 5000, ((uint64_t) getpid() << 20) ^ (uint64_t) (start * 1e6));
	for (;;)
	{
		double		locked_at;
		Attempt		a;
		char	   *lock_sql;
		SwapRead	pre;
		ConnRecording *rec;
		double		give_up = (s->kill_blockers ? deadline + 6.0 : deadline) + caught_up;

		if (pgr_interrupted)
		{
			log_error("interrupted while waiting for the swap lock");
			conn_best_effort(c, "ROLLBACK");
			return false;
		}
		out->attempts++;
		/*
		 * Read and plan before the lock, recorded: under the lock one round
		 * trip checks that the reads still return the same.
		 */
		if (!conn_record_start(c))
		{
			conn_report(c, "could not prepare the swap");
			conn_best_effort(c, "ROLLBACK");
			return false;
		}
		a = read_and_check(c, t, plan, s, &pre);
		if (!conn_record_stop(c, &rec) && a == ATTEMPT_DONE)
		{
			conn_report(c, "could not prepare the swap");
			conn_best_effort(c, "ROLLBACK");
			a = ATTEMPT_FAILED;
		}
		if (a != ATTEMPT_DONE)
		{
			if (a == ATTEMPT_RETRY)
			{
				/* a lock timeout while reading the catalog: not expected, not retried */
				conn_report(c, "could not read the table's definition before the swap");
				conn_best_effort(c, "ROLLBACK");
			}
			swap_read_free(&pre);
			conn_record_free(c, rec);
			return false;
		}
		/* what arrived during the read: applied now, not under the lock */
		if (!replay_before_lock(work, c, t, plan, s, "before the swap lock", &out->budget_entries, &caught_up))
		{
			conn_record_free(c, rec);
			swap_read_free(&pre);
			return false;
		}
		pgr_test_pause("SWAP_PREREAD");
		if (pgr_deadline_passed(s->swap_deadline))
		{
			/* a swap is never started after the deadline: the run stops, nothing swapped */
			log_error("the deadline of the command (--deadline, --max-duration) passed before the swap of %s",
					  t->qname);
			log_detail("A swap is never started after the deadline; the run stops here and removes what it made.");
			log_hint("Run it again in the next window, or give it a later deadline.");
			conn_record_free(c, rec);
			swap_read_free(&pre);
			conn_best_effort(c, "ROLLBACK");
			out->deadline_passed = true;
			return false;
		}
		lock_sql = pgr_psprintf("SAVEPOINT pgr_swap; %s; %s", plan->lock_timeout, plan->swap_lock);
		if (conn_command(c, lock_sql))
		{
			free(lock_sql);
			locked_at = pgr_now();
			a = swap_locked(c, t, plan, s, &pre, rec, out);
			swap_read_free(&pre);
			conn_record_free(c, rec);
			if (a == ATTEMPT_DONE)
			{
				out->lock_held_ms = (pgr_now() - locked_at) * 1000.0;
				return true;
			}
			if (a == ATTEMPT_FAILED)
				return false;
			if (a == ATTEMPT_OVER_BUDGET)
			{
				/* a transaction committed its changes while the lock was awaited: apply them first */
				out->released++;
				log_info("swap: attempt %d got the lock but more than %lld changes had arrived meanwhile (a "
						 "transaction committed while the lock was awaited): gave it back after %.0f ms, to apply "
						 "them first", out->attempts, out->budget_entries, (pgr_now() - locked_at) * 1000.0);
				continue;
			}
		}
		else
		{
			free(lock_sql);
			swap_read_free(&pre);
			if (conn_lost(c))
			{
				log_warning("could not lock the table for the swap: lost the connection: %s",
							c->message ? c->message : "connection closed");
				conn_record_free(c, rec);
				return false;
			}
			if (!conn_failed_with(c, "55P03"))
			{
				conn_report(c, "could not lock the table for the swap");
				conn_best_effort(c, "ROLLBACK");
				conn_record_free(c, rec);
				return false;
			}
			conn_best_effort(c, "ROLLBACK TO SAVEPOINT pgr_swap");
			/* the transaction is sound again: its prepared statements can go */
			conn_record_free(c, rec);
		}

		/* a lock timeout: who is in the way, then back off */
		if (pgr_now() - last_report >= 1.0 || out->attempts == 1)
		{
			swap_report_blockers(c, t, phase_name(PHASE_SWAP), out->attempts, pgr_now() - start);
			last_report = pgr_now();
		}
		if (pgr_now() >= give_up)
		{
			out->timed_out = true;
			log_error("could not get ACCESS EXCLUSIVE on %s within --wait-timeout (%.0f s, %d attempts of %d ms)",
					  t->qname, s->wait_timeout_s, out->attempts, s->lock_timeout_ms);
			log_detail("Other sessions kept conflicting locks on the table (see the sessions named above).");
			log_hint(s->kill_blockers ?
					 "Even after canceling and terminating them the lock could not be had; run again later." :
					 "Run again when the long transactions are over, give more time with --wait-timeout, "
					 "or let pg_rebuild cancel them with --kill-blockers.");
			conn_best_effort(c, "ROLLBACK");
			return false;
		}
		if (s->kill_blockers && pgr_now() >= deadline + caught_up)
			kill_blockers(s, work, &kill_stage, &next_kill);
		/* once past the wait, keep trying often: the blockers were just signalled */
		if (!guard_tick(s->guard))
		{
			conn_best_effort(c, "ROLLBACK");
			return false;
		}
		/* keep the backlog small while waiting */
		if (!replay_before_lock(work, c, t, plan, s, "while waiting for the swap lock", &out->budget_entries,
								&caught_up))
			return false;
		{
			double		wait = backoff_next(&b);

			if (s->kill_blockers && pgr_now() >= deadline + caught_up && wait > 250)
				wait = 250;
			pgr_sleep_ms(backoff_clamp(wait, (give_up - pgr_now()) * 1000.0));
		}
	}
}

/*
 * Takes the advisory lock of the table that replaces this one (the
 * shadow's OID) before the swap, so that from the swap's COMMIT to the end
 * of the run a second run on the table meets a held lock whichever OID the
 * name leads it to.
 */
static bool
lock_new_table(Run *r)
{
	PGresult   *res;
	bool		got;

	if (r->new_locked)
		return true;
	res = conn_queryf(r->main, "SELECT pg_catalog.to_regclass(%text)::pg_catalog.oid", r->plan->shadow_q);
	if (res == NULL || PQntuples(res) != 1 || res_isnull(res, 0, 0))
	{
		PQclear(res);
		run_report_failure(r, r->main, "could not find the shadow table before the swap");
		return false;
	}
	r->new_lock_key = state_lock_key(res_oid(res, 0, 0));
	PQclear(res);
	if (!state_try_lock(r->main, r->new_lock_key, &got))
		return false;
	r->new_locked = got;		/* not got: a session holds a lock of that OID; the run does not need it */
	return true;
}

/*
 * The client sessions of this database, but the run's own, whose snapshot
 * may be older than the moment the shadow became whole (Run.whole_xid,
 * whole_at): an xmin before that transaction id, in a transaction that
 * began before it (or whose start another role's session does not show).
 * Such a session, if it reads the table only after the swap, would see the
 * new table's rows in part or not at all.  A session holding a lock on the
 * table is left to the lock wait: the swap cannot commit before it ends.
 */
static PGresult *
old_snapshots(Run *r)
{
	char	   *pids = guard_pid_array(&r->guard);
	PGresult   *res = conn_queryf(
		r->main,
		"SELECT a.pid, coalesce(a.application_name, ''), pg_catalog.age(a.backend_xmin)::pg_catalog.int8, "
		"coalesce(extract(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) a.xact_start)::pg_catalog.int8, -1), "
		"coalesce(a.state, '?') "
		"FROM pg_catalog.pg_stat_activity a "
		"WHERE a.datname OPERATOR(pg_catalog.=) pg_catalog.current_database() "
		"AND a.backend_type OPERATOR(pg_catalog.=) 'client backend' "
		"AND a.pid OPERATOR(pg_catalog.<>) ALL (%text::pg_catalog.int4[]) AND a.backend_xmin IS NOT NULL "
		"AND pg_catalog.age(a.backend_xmin) OPERATOR(pg_catalog.>) pg_catalog.age(%text::pg_catalog.xid) "
		"AND (a.xact_start IS NULL OR a.xact_start OPERATOR(pg_catalog.<) %text::pg_catalog.timestamptz) "
		"AND NOT EXISTS (SELECT FROM pg_catalog.pg_locks l WHERE l.pid OPERATOR(pg_catalog.=) a.pid "
		"AND l.locktype OPERATOR(pg_catalog.=) 'relation' AND l.relation OPERATOR(pg_catalog.=) %oid AND l.granted) "
		"ORDER BY a.xact_start NULLS FIRST, a.pid",
		pids, r->whole_xid, r->whole_at, r->t->oid);

	free(pids);
	return res;
}

/* One line per session of old_snapshots' result, prefixed by what. */
static void
name_old_snapshots(const PGresult *res, void (*say) (const char *,...), const char *what)
{
	for (int i = 0; i < PQntuples(res); i++)
	{
		char	   *app = res_text(res, i, 1);
		char	   *state = res_text(res, i, 4);
		long long	age = res_int8(res, i, 3);
		char		started[48];

		if (age >= 0)
			snprintf(started, sizeof(started), "transaction %lld s old", age);
		else
			snprintf(started, sizeof(started), "another role's transaction, age not shown");
		say("%s: pid %d (application_name \"%s\", %s, %s, xmin %lld transactions old)", what, res_int4(res, i, 0),
			app, started, state, res_int8(res, i, 2));
		free(app);
		free(state);
	}
}

/*
 * Before the swap: waits, up to --wait-timeout, for the transactions whose
 * snapshot is older than the shadow's rows, naming them, replaying the log
 * meanwhile; false (the run fails, nothing changed) if some are still
 * there, unless --allow-old-snapshots accepts them.
 */
static bool
wait_old_snapshots(Run *r)
{
	double		start = pgr_now();
	double		last_report = -1;
	int			last_n = -1;

	if (r->whole_xid[0] == '\0')
		return true;			/* no shadow was made in this process */
	for (;;)
	{
		PGresult   *res = old_snapshots(r);
		int			n;
		long long	applied;

		if (res == NULL)
		{
			run_report_failure(r, r->main, "could not look for transactions older than the rebuilt rows");
			return false;
		}
		n = PQntuples(res);
		if (n == 0)
		{
			PQclear(res);
			return true;
		}
		if (r->s->allow_old_snapshots)
		{
			log_warning("%d transaction%s began before the rebuilt rows were written: if %s the table only "
						"after the swap, %s it empty or in part (--allow-old-snapshots)", n, n == 1 ? "" : "s",
						n == 1 ? "it reads" : "they read", n == 1 ? "it sees" : "they see");
			name_old_snapshots(res, log_warning, "old snapshot");
			PQclear(res);
			return true;
		}
		if (pgr_now() - start >= r->s->wait_timeout_s)
		{
			log_error("refusing to swap: %d transaction%s that began before the rebuilt rows were written "
					  "%s still open after --wait-timeout (%.0f s)", n, n == 1 ? "" : "s", n == 1 ? "is" : "are",
					  r->s->wait_timeout_s);
			name_old_snapshots(res, log_detail, "old snapshot");
			log_detail("A snapshot older than the rebuilt table's rows sees that table empty or in part: "
					   "had the swap gone on, such a transaction reading the table afterwards would have "
					   "counted rows missing.");
			log_hint("Let them finish or end them (pg_terminate_backend), and run again; give more time with "
					 "--wait-timeout; or accept it with --allow-old-snapshots.");
			PQclear(res);
			return false;
		}
		if (n != last_n || pgr_now() - last_report >= 5.0)
		{
			log_info("swap: waiting for %d transaction%s that began before the rebuilt rows were written "
					 "(up to --wait-timeout %.0f s):", n, n == 1 ? "" : "s", r->s->wait_timeout_s);
			name_old_snapshots(res, log_info, "swap: waiting for");
			last_report = pgr_now();
			last_n = n;
		}
		PQclear(res);
		/* keep the backlog small while waiting */
		applied = replay_batch_timed(r->main, r->plan, REPLAY_BATCH_DEFAULT, &r->rate);
		if (applied < 0)
		{
			run_report_failure(r, r->main, "could not apply the captured changes");
			return false;
		}
		r->replayed += applied;
		if (!guard_tick(&r->guard))
		{
			if (!r->guard.stop)
				run_report_failure(r, r->holder, "lost the lock on the table");
			return false;
		}
		if (pgr_interrupted)
		{
			log_error("interrupted while waiting for old transactions before the swap");
			return false;
		}
		pgr_sleep_ms(200);
	}
}

bool
swap_phase(Run *r)
{
	SwapSettings s = {
		.lock_timeout_ms = r->s->lock_timeout_ms,
		.wait_timeout_s = r->s->wait_timeout_s,
		.tool_schema = r->tool_schema,
		.run_id = r->run_id,
		.fingerprint = r->fingerprint,
		.dep_fingerprint = r->dep_fingerprint,
		.plan_input = &r->plan_input,
		.kill_blockers = r->s->kill_blockers,
		.changes = r->changes,
		.guard = &r->guard,
		.max_lock_ms = r->s->max_lock_ms > 0 ? r->s->max_lock_ms : PGR_DEFAULT_MAX_LOCK_MS,
		.catchup_timeout_s = r->s->catchup_timeout_s,
		.rate = &r->rate,
		.swap_deadline = r->s->swap_deadline,
	};
	char		note[192];
	double		open_for;
	char	   *json;

	if (!run_enter_phase(r, PHASE_SWAP))
		return false;
	if (!window_wait(r, &open_for))
		return false;
	if (open_for < s.wait_timeout_s)
		s.wait_timeout_s = open_for;	/* the swap happens inside the window or not at all */
	if (!lock_new_table(r) || !wait_old_snapshots(r))
		return false;
	pgr_test_pause("BEFORE_SWAP");
	if (!swap_run(r->main, r->t, r->plan, &s, &r->swap))
	{
		if (r->swap.timed_out && s.wait_timeout_s < r->s->wait_timeout_s)
			log_detail("The swap window %s (server time) closed before the swap could take its lock: nothing "
					   "was swapped.", r->s->swap_window.text);
		if (conn_lost(r->holder))
			run_report_failure(r, r->holder, "the swap was interrupted");
		return false;
	}
	r->swapped = true;
	run_close_holder(r);			/* its transaction committed with the swap */
	r->replayed += r->swap.final_entries;
	snprintf(note, sizeof(note), "ACCESS EXCLUSIVE held %.0f ms, %d attempt%s, %lld changes applied under the "
			 "lock (at most %lld for --max-lock-time %d ms)", r->swap.lock_held_ms, r->swap.attempts,
			 r->swap.attempts == 1 ? "" : "s", r->swap.final_entries, r->swap.budget_entries, s.max_lock_ms);
	json = phase_end_json(&r->clock, PHASE_SWAP, note);
	/* a failing after-swap hook is a warning: the table is rebuilt, the finish goes on */
	(void) run_hooks(r, HOOK_AFTER_SWAP, json, NULL, NULL);
	free(json);
	return true;
}

