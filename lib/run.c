/* run.c: the run object, its connections and its failure path. */
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "cancel.h"
#include "cleanup.h"
#include "clock.h"
#include "connect.h"
#include "ident.h"
#include "log.h"
#include "replay.h"
#include "state.h"

Run *
run_new(const RunSettings *s, ConnParams *params, const char *schema, const char *table,
		const ChangeSet *changes)
{
	Run		   *r = pgr_calloc(1, sizeof(Run));

	r->s = s;
	r->params = params;
	r->want_schema = schema;
	r->want_name = table;
	r->changes = changes;
	phase_clock_init(&r->clock);
	r->failed_phase = -1;
	return r;
}

void
run_free(Run *r)
{
	if (r == NULL)
		return;
	run_close_workers(r);
	run_close_holder(r);
	if (r->main && r->locked && conn_ok(r->main))
		state_unlock(r->main, r->lock_key);
	if (r->main && r->new_locked && conn_ok(r->main))
		state_unlock(r->main, r->new_lock_key);
	conn_close(r->main);
	state_schema_free(&r->state);
	free(r->tool_schema_name);
	free(r->role_name);
	free(r->session_role);
	free(r->db_tablespace);
	free(r->taken_over_by);
	if (r->plan)
		plan_free(r->plan);
	if (r->dplan)
		dep_plan_free(r->dplan);
	if (r->deps)
		dependents_free(r->deps);
	if (r->t)
		catalog_free_table(r->t);
	estimate_free(&r->size);
	if (r->own_changes)
		changes_free(r->own_changes);
	free(r->method_note);
	free(r->own_changes);
	free(r->plan);
	free(r->dplan);
	free(r->deps);
	free(r->t);
	free(r);
}

bool
run_record_phase(Run *r, Phase p)
{
	return state_set_phase(r->main, r->tool_schema, r->run_id, phase_def(p)->recorded);
}

bool
run_enter_phase(Run *r, Phase p)
{
	phase_begin(&r->clock, p);
	if (!run_ensure_guard(r))
		return false;
	if (!run_record_phase(r, p))
	{
		run_report_failure(r, r->main, "could not record the phase");
		return false;
	}
	return true;
}

/* Opens a connection acting as the table's owner. */
Conn *
run_open_as_owner(Run *r, const char *label)
{
	Conn	   *c = conn_open(r->params, label);

	if (c && !conn_set_role(c, r->role))
	{
		conn_report(c, "could not act as the table's owner");
		conn_close(c);
		return NULL;
	}
	return c;
}

void
run_close_workers(Run *r)
{
	for (int i = 0; i < r->nworkers; i++)
		conn_close(r->workers[i]);
	free(r->workers);
	r->workers = NULL;
	r->nworkers = 0;
}

void
run_close_holder(Run *r)
{
	if (r->holder)
	{
		conn_best_effort(r->holder, "ROLLBACK");
		conn_close(r->holder);
	}
	r->holder = NULL;
	r->guard.holder = NULL;
}

/*
 * Makes sure the holder connection keeps SHARE UPDATE EXCLUSIVE on the table
 * (again, after a lost connection).
 */
bool
run_ensure_guard(Run *r)
{
	if (r->holder && conn_ok(r->holder) && r->guard.holder == r->holder)
		return true;
	run_close_holder(r);
	r->holder = run_open_as_owner(r, "holder");
	if (r->holder == NULL)
		return false;
	if (!guard_acquire(&r->guard, r->holder, r->s->wait_timeout_s))
	{
		r->guard.holder = NULL;
		return false;
	}
	return true;
}

/* The guard's check, for the pool's wait loop. */
bool
run_tick(void *arg)
{
	Run		   *r = arg;

	return guard_tick(&r->guard);
}

bool
run_open_workers(Run *r)
{
	r->workers = pgr_calloc((size_t) r->s->jobs, sizeof(Conn *));
	for (int i = 0; i < r->s->jobs; i++)
	{
		char		label[32];

		snprintf(label, sizeof(label), "worker %d", i + 1);
		r->workers[i] = run_open_as_owner(r, label);
		if (r->workers[i] == NULL)
			return false;
		guard_add_pid(&r->guard, conn_backend_pid(r->workers[i]));
		r->nworkers++;
	}
	return true;
}

/* Appends " flag 'value'" to sb, shell-quoted. */
static void
append_arg(StrBuf *sb, const char *flag, const char *value)
{
	char	   *q = ident_shell_quote(value);

	sb_appendf(sb, " %s %s", flag, q);
	free(q);
}

char *
run_connection_args(const Conn *c, const ConnParams *params)
{
	StrBuf		sb;

	sb_init(&sb);
	if (c && c->pg && conn_ok(c))
	{
		/* never the connection string itself: it may hold a password */
		append_arg(&sb, "-d", PQdb(c->pg));
		if (PQhost(c->pg) && *PQhost(c->pg))
			append_arg(&sb, "-h", PQhost(c->pg));
		if (PQport(c->pg) && *PQport(c->pg))
			append_arg(&sb, "-p", PQport(c->pg));
		if (PQuser(c->pg))
			append_arg(&sb, "-U", PQuser(c->pg));
	}
	else
	{
		/* the connection is gone: what the options and connection string said */
		static const char *const keys[][2] = {{"-d", "dbname"}, {"-h", "host"}, {"-p", "port"}, {"-U", "user"}};

		for (int i = 0; i < 4; i++)
		{
			char	   *v = conn_target_value(params, keys[i][1]);

			if (v)
				append_arg(&sb, keys[i][0], v);
			free(v);
		}
	}
	return sb_steal(&sb);
}

void
run_print_cleanup_hint(const Run *r)
{
	char	   *args = run_connection_args(r->main, r->params);
	char	   *tq = r->t ? ident_quote_qualified(r->t->schema, r->t->name) : NULL;
	char	   *tsh = tq ? ident_shell_quote(tq) : NULL;

	log_hint("Run: pg_rebuild --cleanup%s%s%s", args, tsh ? " -t " : "", tsh ? tsh : "");
	free(args);
	free(tq);
	free(tsh);
}

/* The sizes of the rebuilt table, for the summary. */
void
run_read_sizes(Run *r)
{
	PGresult   *res = conn_queryf(r->main, "SELECT pg_catalog.pg_relation_size(c.oid)::int8, "
								  "pg_catalog.pg_total_relation_size(c.oid)::int8 FROM pg_catalog.pg_class c "
								  "WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(%text)", r->t->qname);

	if (res && PQntuples(res) == 1)
	{
		r->result.heap_after = res_int8(res, 0, 0);
		r->result.total_after = res_int8(res, 0, 1);
	}
	PQclear(res);
}

/*
 * Whether the swap committed although this run did not see its COMMIT
 * succeed (the connection was lost during it): the table's name leads to
 * another table now, and the original one is gone or carries the old
 * table's name.
 */
static bool
swap_committed(Run *r)
{
	PGresult   *res = conn_queryf(r->main,
								  "SELECT coalesce(pg_catalog.to_regclass(%text)::pg_catalog.oid OPERATOR(pg_catalog.<>) %oid, false) "
								  "AND coalesce((SELECT c.relname::text FROM pg_catalog.pg_class c "
								  "  WHERE c.oid OPERATOR(pg_catalog.=) %oid) OPERATOR(pg_catalog.=) %text, true)",
								  r->t->qname, r->t->oid, r->t->oid, r->plan->old_name);
	bool		committed = res != NULL && res_bool(res, 0, 0);

	PQclear(res);
	return committed;
}

/* Whether this run is still recorded (its objects not all removed). */
static bool
still_recorded(Run *r)
{
	RunInfo    *runs;
	int			n;
	bool		found = false;

	if (r->state.name == NULL || !state_list_runs(r->main, &r->state, r->t->oid, NULL, NULL, &runs, &n))
		return true;			/* cannot tell: say what is safe */
	for (int i = 0; i < n; i++)
		found = found || runs[i].run_id == r->run_id;
	state_free_runs(runs, n);
	return found;
}

/*
 * Another session (a --cleanup) took the run's table over while this run
 * was disconnected: say what became of the table, and leave the run's
 * objects to that session.
 */
static int
taken_over(Run *r)
{
	bool		recorded = still_recorded(r);
	const char *who = r->taken_over_by ? r->taken_over_by : "another session";

	if (r->swapped)
	{
		log_detail("The swap had committed: %s is rebuilt. The rest of the run (removing the old table and the "
				   "run's objects) was taken over by %s.", r->t->qname, who);
		if (!recorded)
		{
			log_detail("That session has finished it: nothing of this run is left.");
			run_read_sizes(r);
			return PGR_EXIT_OK;
		}
		log_detail("That session is still removing this run's objects.");
	}
	else
	{
		log_detail("%s was not changed: the run had not swapped. It was taken over by %s, which removes the "
				   "run's objects.", r->t->qname, who);
		if (!recorded)
		{
			log_detail("Nothing of this run is left.");
			return PGR_EXIT_FAILED;
		}
	}
	log_hint("pg_rebuild --status shows when they are gone. If that session stops before, remove them with "
			 "pg_rebuild --cleanup (the same connection options and -t %s).", r->t->qname);
	return PGR_EXIT_LEFTOVERS;
}

/* run_fail, returning the exit code. */
static int
fail(Run *r)
{
	StrVec		removed;
	bool		clean;

	conn_set_wait_hook(NULL, NULL);
	run_close_workers(r);
	run_close_holder(r);		/* its lock would block our own cleanup */
	if (pgr_interrupted)
		r->result.interrupted = true;
	pgr_interrupted = 0;		/* a second signal interrupts the cleanup itself */
	if (r->run_id == 0)
	{
		log_detail("Nothing was changed: the table is as it was.");
		return PGR_EXIT_FAILED;
	}
	if (!conn_ok(r->main))
	{
		conn_close(r->main);
		log_info("reconnecting to remove this run's objects");
		r->main = run_open_as_owner(r, "main");
		if (r->main == NULL)
		{
			if (r->swapped)
				log_detail("The table itself was rebuilt, but this run's objects are still in the database.");
			else if (r->swap.commit_unknown)
				log_detail("The connection was lost while the swap committed: the table may have been rebuilt "
						   "(pg_rebuild --status says: phase \"swapped\"), and this run's objects are still in "
						   "the database.");
			else
				log_detail("The table itself was not changed, but this run's objects are still in the database.");
			run_print_cleanup_hint(r);
			return PGR_EXIT_LEFTOVERS;
		}
	}
	if (!r->swapped && r->plan && swap_committed(r))
	{
		log_info("the swap had committed before the connection was lost: %s is rebuilt", r->t->qname);
		r->swapped = true;
	}
	if (r->taken_over)
		return taken_over(r);
	if (r->swapped)
	{
		log_info("the swap had committed: %s is rebuilt; removing what is left of this run, once more",
				 r->t->qname);
		if (r->clock.started[PHASE_FINISH] == 0)
			phase_begin(&r->clock, PHASE_FINISH);	/* the finish had not begun */
	}
	sv_init(&removed);
	/*
	 * Removing the trigger needs ACCESS EXCLUSIVE on the table, which a long
	 * transaction can refuse for ever: try for a bounded time (the user may
	 * have interrupted us), then leave the rest to --cleanup.
	 */
	clean = cleanup_run_objects(r->main, &r->state, r->run_id, r->t->oid, r->s->lock_timeout_ms,
							  r->s->wait_timeout_s < 3 ? 3 : r->s->wait_timeout_s > 15 ? 15 : r->s->wait_timeout_s,
							  true, r->swapped && r->keep_old, &removed);
	for (size_t i = 0; i < removed.n; i++)
		log_verbose("%s", removed.items[i]);
	sv_free(&removed);
	if (r->swapped && clean)
	{
		/* a rebuilt table with nothing left: the run succeeded (exit 0) */
		finish_done(r, "every object of the run removed, on another try");
		return PGR_EXIT_OK;
	}
	if (r->swapped)
	{
		log_error("%s is rebuilt, but some objects of this run could not be removed", r->t->qname);
		log_detail("The swap committed: the rebuilt table is in use.  What is left (named above) takes "
				   "space and nothing else.");
		run_print_cleanup_hint(r);
		return PGR_EXIT_LEFTOVERS;
	}
	if (clean)
	{
		log_detail("Nothing was changed: %s is as it was, and every object of this run was removed.",
				   r->t->qname);
		return PGR_EXIT_FAILED;
	}
	log_detail("The table %s was not changed, but some of this run's objects remain.", r->t->qname);
	run_print_cleanup_hint(r);
	return PGR_EXIT_LEFTOVERS;
}

int
run_fail(Run *r)
{
	if (r->failed_phase < 0)
		r->failed_phase = r->clock.current; /* before the failure path begins its finish */
	r->result.exit_code = fail(r);
	return r->result.exit_code;
}

/*
 * An application NULL in a --set-not-null column during the run makes the
 * copy or replay fail with not_null_violation: name the column and a key.
 */
void
run_report_failure(Run *r, Conn *failed, const char *what)
{
	if (r->guard.stop)
		return;					/* the guard said why already */
	if (failed && conn_failed_with(failed, "23502") && conn_ok(r->main))
	{
		conn_best_effort(r->main, "ROLLBACK");
		if (replay_report_null(failed, r->main, r->t, r->changes))
			return;
	}
	if (failed && r->plan && conn_ok(r->main) && replay_report_row(failed, r->main, r->t, r->changes, r->plan))
		return;
	if (failed && conn_lost(failed) && !pgr_interrupted && r->recoveries < PGR_MAX_RECOVERIES)
	{
		log_warning("%s: lost the connection: %s", what, failed->message ? failed->message : "connection closed");
		return;
	}
	if (failed && conn_failed_with(failed, "57014") && pgr_interrupted)
	{
		log_error("%s: interrupted by a signal", what);
		return;
	}
	if (failed)
		conn_report(failed, what);
	else
		log_error("%s", what);
}

bool
run_with_lock_retries(Run *r, const StmtList *l, const char *what)
{
	double		start = pgr_now();
	double		deadline = start + r->s->wait_timeout_s;
	Backoff		b;

	if (l->n == 0)
		return true;
	backoff_init(&b, r->s->lock_timeout_ms / 2.0 + 1, 5000, (uint64_t) (start * 1e6) + 17);
	for (;;)
	{
		bool		ok = conn_commandv(r->main, "BEGIN; SET LOCAL lock_timeout = '%dms'", r->s->lock_timeout_ms);

		for (int i = 0; ok && i < l->n; i++)
			ok = conn_command(r->main, l->items[i].sql);
		if (ok && conn_command(r->main, "COMMIT"))
			return true;
		if (!conn_failed_with(r->main, "55P03") || pgr_now() >= deadline || pgr_interrupted)
		{
			char	   *msg = pgr_psprintf("could not %s", what);

			run_report_failure(r, r->main, msg);
			free(msg);
			conn_best_effort(r->main, "ROLLBACK");
			return false;
		}
		conn_best_effort(r->main, "ROLLBACK");
		pgr_sleep_ms(backoff_clamp(backoff_next(&b), (deadline - pgr_now()) * 1000.0));
	}
}

bool
run_hooks(Run *r, HookEvent ev, const char *json, HookResult *refusal, const char **refused_by)
{
	char	run_id[32] = "";
	char	exit_code[16];
	int		phase = ev == HOOK_FAILURE && r->failed_phase >= 0 ? r->failed_phase : r->clock.current;
	HookVar vars[] = {
		{"PGR_EVENT", hook_event_name(ev)},
		{"PGR_TABLE", r->t ? r->t->qname : r->want_name},
		{"PGR_SCHEMA", r->t ? r->t->schema : r->want_schema},
		{"PGR_TABLE_NAME", r->t ? r->t->name : r->want_name},
		{"PGR_RUN_ID", run_id},
		{"PGR_PHASE", phase >= 0 ? phase_name((Phase) phase) : ""},
		{"PGR_EXIT_CODE", exit_code},
	};

	if (r->s->hooks.n == 0)
		return true;
	if (r->run_id > 0)
		snprintf(run_id, sizeof(run_id), "%lld", r->run_id);
	snprintf(exit_code, sizeof(exit_code), "%d", r->result.exit_code);
	return hooks_fire(&r->s->hooks, ev, json, vars, ev == HOOK_FAILURE ? 7 : 6, refusal, refused_by);
}
