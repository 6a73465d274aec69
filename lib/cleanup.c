/*
 * cleanup.c: removing what a run recorded: the finish of a run that swapped,
 * the failure path of one that did not, and --cleanup of dead runs.
 */
#include "cleanup.h"

#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "cancel.h"
#include "catalog.h"
#include "clock.h"
#include "connect.h"
#include "ident.h"
#include "log.h"
#include "objects.h"
#include "state.h"
#include "test_hooks.h"

/*
 * Whether the recorded object still needs its statement: a trigger that is
 * gone needs no DROP, a foreign key already validated no VALIDATE (the
 * other kinds are dropped with IF EXISTS).  False when the check itself
 * failed (error kept in c).
 */
static bool
still_there(Conn *c, ObjKind k, const char *name, const char *tschema, const char *tname, bool *there)
{
	PGresult   *res = NULL;

	*there = true;
	if (k == OBJ_TRIGGER)
		res = conn_queryf(c, "SELECT 1 FROM pg_catalog.pg_trigger tg "
						  "JOIN pg_catalog.pg_class r ON r.oid = tg.tgrelid "
						  "JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace "
						  "WHERE n.nspname = %text AND r.relname = %text AND tg.tgname = %text",
						  tschema, tname, name);
	else if (k == OBJ_VALIDATE)
		res = conn_queryf(c, "SELECT 1 FROM pg_catalog.pg_constraint co "
						  "JOIN pg_catalog.pg_class r ON r.oid = co.conrelid "
						  "JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace "
						  "WHERE n.nspname = %text AND r.relname = %text AND co.conname = %text "
						  "AND NOT co.convalidated",
						  tschema, tname, name);
	else
		return true;
	if (res == NULL)
		return false;
	*there = PQntuples(res) > 0;
	PQclear(res);
	return true;
}

/* Removes one object and forgets it, retrying lock timeouts until the deadline. */
static bool
drop_one(Conn *c, const char *tool_schema, long long run_id, ObjKind k, const char *schema,
		 const char *name, const char *tschema, const char *tname, int lock_timeout_ms, double deadline)
{
	Backoff		b;

	backoff_init(&b, 50, 2000, (uint64_t) run_id * 7919u + (uint64_t) pgr_now());
	for (;;)
	{
		bool		there;
		bool		ok;

		if (!conn_commandv(c, "BEGIN; SET LOCAL lock_timeout = '%dms'", lock_timeout_ms))
			return false;
		ok = still_there(c, k, name, tschema, tname, &there);
		if (ok && there)
		{
			char	   *sql = object_finish_sql(k, schema, name, tschema, tname);

			ok = conn_command_if_exists(c, sql);
			free(sql);
		}
		ok = ok && state_forget(c, tool_schema, run_id, k, schema, name) &&
			conn_command(c, "COMMIT");
		if (ok)
			return true;
		if (!conn_ok(c))
			return false;
		if (!conn_failed_with(c, "55P03") || pgr_now() >= deadline || pgr_interrupted)
			return false;
		conn_best_effort(c, "ROLLBACK");
		pgr_sleep_ms(backoff_clamp(backoff_next(&b), (deadline - pgr_now()) * 1000));
	}
}

/*
 * A leftover trigger that cannot be dropped (ACCESS EXCLUSIVE refused by a
 * long transaction) can often still be disabled (SHARE ROW EXCLUSIVE, which
 * readers do not block), so it costs the application nothing until
 * --cleanup drops it.
 */
static void
disable_trigger(Conn *c, const char *name, const char *tschema, const char *tname, int lock_timeout_ms)
{
	char	   *tq = ident_quote_qualified(tschema, tname);
	char	   *nq = ident_quote(name);

	if (conn_commandv(c, "BEGIN; SET LOCAL lock_timeout = '%dms'; ALTER TABLE %s DISABLE TRIGGER %s; COMMIT",
					  lock_timeout_ms * 5, tq, nq))
		log_detail("The trigger %s on %s was disabled meanwhile: it no longer fires.", name, tq);
	else
		conn_best_effort(c, "ROLLBACK");
	free(tq);
	free(nq);
}

/* "removed trigger x on t", "validated foreign key x on t", "removed log table s.x" */
static char *
removed_line(ObjKind k, const char *schema, const char *name, const char *tschema, const char *tname)
{
	char	   *what = ident_quote_qualified(schema, name);
	char	   *line;

	if (k == OBJ_TRIGGER || k == OBJ_VALIDATE)
	{
		char	   *tq = ident_quote_qualified(tschema, tname);

		line = pgr_psprintf("%s %s %s on %s", k == OBJ_TRIGGER ? "removed" : "validated",
							object_kind_noun(k), name, tq);
		free(tq);
	}
	else
		line = pgr_psprintf("removed %s %s", object_kind_noun(k), what);
	free(what);
	return line;
}

/*
 * Says why an object could not be removed: an error on the last try, a
 * warning when the caller tries again.
 */
static void
report_not_removed(Conn *c, ObjKind k, const char *schema, const char *name, const char *tschema,
				   const char *tname, bool last_try)
{
	char	   *what = ident_quote_qualified(schema, name);
	const char *then = last_try ? "it stays recorded for pg_rebuild --cleanup" : "pg_rebuild tries again";
	const char *failed = k == OBJ_VALIDATE ? "could not validate a foreign key re-added by the swap"
		: "could not remove a leftover object";

	if (last_try)
		conn_report(c, failed);
	else
	{
		log_warning("%s: %s", failed, c->message ? c->message : "unknown error");
		if (c->detail)
			log_detail("%s", c->detail);
	}
	if (k == OBJ_VALIDATE)
		log_detail("Foreign key %s on %s.%s is marked NOT VALID; %s.", name, tschema, tname, then);
	else
		log_detail("The object is %s %s%s%s; %s.", object_kind_noun(k), k == OBJ_TRIGGER ? name : what,
				   k == OBJ_TRIGGER ? " on " : "", k == OBJ_TRIGGER ? tname : "", then);
	free(what);
}

bool
cleanup_run_objects(Conn *c, const char *tool_schema, long long run_id, int lock_timeout_ms,
					double wait_timeout_s, bool last_try, StrVec *removed)
{
	char	   *q = ident_quote(tool_schema);
	StrBuf		order;
	char	   *spec;
	PGresult   *res;
	double		deadline = pgr_now() + wait_timeout_s;
	bool		all = true;
	bool		trigger_stuck = false;

	/* the kinds' own order (objects.h): constants, so they can be written in */
	sb_init(&order);
	for (int k = 0; k < OBJ_COUNT; k++)
		sb_appendf(&order, "%s'%s'", k ? ", " : "", object_kind_recorded((ObjKind) k));
	spec = pgr_psprintf("SELECT kind, schema_name, object_name, table_schema, table_name "
						"FROM %s.run_objects WHERE run_id = %%int8 "
						"ORDER BY array_position(ARRAY[%s], kind)", q, order.data);
	sb_free(&order);
	conn_best_effort(c, "ROLLBACK");	/* leave any failed transaction */
	res = conn_queryf(c, spec, (PGint8) run_id);
	free(spec);
	if (res == NULL)
	{
		conn_report(c, "could not read the objects of the pg_rebuild run");
		free(q);
		return false;
	}
	for (int i = 0; i < PQntuples(res); i++)
	{
		char	   *kind = res_text(res, i, 0);
		char	   *schema = res_text(res, i, 1);
		char	   *name = res_text(res, i, 2);
		char	   *tschema = res_text(res, i, 3);
		char	   *tname = res_text(res, i, 4);
		ObjKind		k;

		if (!object_kind_from_recorded(kind, &k))
		{
			log_error("run %lld records an object of an unknown kind \"%s\" (%s.%s): left alone", run_id, kind,
					  schema, name);
			all = false;
		}
		else if (trigger_stuck && (k == OBJ_FUNCTION || k == OBJ_LOG))
		{
			/* a trigger still uses them: they must stay as long as it does */
		}
		else if (drop_one(c, tool_schema, run_id, k, schema, name, tschema, tname, lock_timeout_ms, deadline))
			sv_push_owned(removed, removed_line(k, schema, name, tschema, tname));
		else
		{
			bool		lock = conn_failed_with(c, "55P03");

			report_not_removed(c, k, schema, name, tschema, tname, last_try);
			conn_best_effort(c, "ROLLBACK");
			if (k == OBJ_TRIGGER)
			{
				trigger_stuck = true;
				if (lock)
					disable_trigger(c, name, tschema, tname, lock_timeout_ms);
			}
			all = false;
		}
		free(kind);
		free(schema);
		free(name);
		free(tschema);
		free(tname);
	}
	PQclear(res);
	if (all)
	{
		char	   *del = pgr_psprintf("DELETE FROM %s.runs WHERE run_id = %%int8", q);

		all = conn_execf(c, del, (PGint8) run_id);
		if (!all)
			conn_report(c, "could not delete the record of the pg_rebuild run");
		free(del);
	}
	free(q);
	return all;
}

/* ------------------------------------------------------------------------
 * The finish of a run whose swap committed
 * ------------------------------------------------------------------------ */

bool
finish_phase(Run *r)
{
	StrVec		removed;
	bool		ok;

	phase_begin(&r->clock, PHASE_FINISH);
	pgr_test_pause("FINISH");
	sv_init(&removed);
	/* no record: an in-place run that had nothing to do */
	ok = r->run_id == 0 || cleanup_run_objects(r->main, r->tool_schema, r->run_id, r->s->lock_timeout_ms,
											   r->s->wait_timeout_s, false, &removed);
	for (size_t i = 0; i < removed.n; i++)
		log_verbose("%s", removed.items[i]);
	sv_free(&removed);
	if (!ok)
		return false;
	finish_done(r, NULL);
	return true;
}

void
finish_done(Run *r, const char *note)
{
	PGresult   *res;

	r->run_id = 0;
	res = conn_queryf(r->main, "SELECT pg_catalog.pg_relation_size(c.oid)::int8, "
					  "pg_catalog.pg_total_relation_size(c.oid)::int8 FROM pg_catalog.pg_class c "
					  "WHERE c.oid = pg_catalog.to_regclass(%text)", r->t->qname);
	if (res && PQntuples(res) == 1)
	{
		r->result.heap_after = res_int8(res, 0, 0);
		r->result.total_after = res_int8(res, 0, 1);
	}
	PQclear(res);
	phase_end(&r->clock, PHASE_FINISH, note);
}

/* ------------------------------------------------------------------------
 * --cleanup and --status
 * ------------------------------------------------------------------------ */

/* Cleans one recorded run; 1 cleaned, 0 left (alive, dry run, or not all removed), -1 failed. */
static int
cleanup_one(Conn *c, const CleanupRequest *req, RunInfo *run, bool *left)
{
	bool		got;
	StrVec		removed;
	char	   *tq = ident_quote_qualified(run->schema_name, run->table_name);
	bool		ok;

	if (run->alive)
	{
		log_info("run %lld on %s is alive (pid %d, phase %s): not touched", run->run_id, tq, run->pid, run->phase);
		free(tq);
		return 0;
	}
	if (req->dry_run)
	{
		log_info("run %lld on %s is dead (phase %s, started %s); would remove:", run->run_id, tq, run->phase,
				 run->started);
		for (size_t i = 0; i < run->objects.n; i++)
			log_info("  %s", run->objects.items[i]);
		*left = true;
		free(tq);
		return 0;
	}
	/* take the run's lock so that no new run starts on the table meanwhile */
	if (!state_try_lock(c, run->lock_key, &got))
	{
		free(tq);
		return -1;
	}
	if (!got)
	{
		log_info("run %lld on %s came back to life or is being cleaned by another session: not touched",
				 run->run_id, tq);
		*left = true;
		free(tq);
		return 0;
	}
	log_info("run %lld on %s is dead (phase %s, started %s): removing its objects", run->run_id, tq,
			 run->phase, run->started);
	if (strcmp(run->phase, phase_def(PHASE_FINISH)->recorded) == 0)
		log_info("  its swap had committed: %s is the rebuilt table; finishing its work", tq);
	sv_init(&removed);
	ok = cleanup_run_objects(c, req->tool_schema, run->run_id, req->lock_timeout_ms, req->wait_timeout_s,
							 true, &removed);
	for (size_t i = 0; i < removed.n; i++)
		log_info("  %s", removed.items[i]);
	sv_free(&removed);
	state_unlock(c, run->lock_key);
	if (!ok)
		*left = true;
	free(tq);
	return ok ? 1 : 0;
}

/* Connects and lists the recorded runs (of req's table, if given); false (logged) on failure. */
static bool
list_runs(const CleanupRequest *req, Conn **c, RunList *out)
{
	char	   *found = NULL;
	const char *schema = req->schema;
	bool		ok;

	memset(out, 0, sizeof(*out));
	*c = conn_open(req->params, "main");
	if (*c == NULL || !state_schema_exists(*c, req->tool_schema, &out->schema_exists))
		return false;
	out->dbname = pgr_strdup(PQdb((*c)->pg));
	out->connection_args = run_connection_args(*c, req->params);
	if (!out->schema_exists)
		return true;
	if (req->table && schema == NULL && catalog_resolve_table(*c, NULL, req->table, &found) > 0)
		schema = found;
	ok = state_list_runs(*c, req->tool_schema, schema, req->table, &out->runs, &out->n);
	free(found);
	return ok;
}

void
run_list_free(RunList *l)
{
	state_free_runs(l->runs, l->n);
	free(l->dbname);
	free(l->connection_args);
	memset(l, 0, sizeof(*l));
}

int
cleanup_main(const CleanupRequest *req)
{
	Conn	   *c = NULL;
	RunList		l;
	int			cleaned = 0;
	bool		left = false;
	bool		failed = false;

	if (!list_runs(req, &c, &l))
		failed = true;
	else if (!l.schema_exists)
		log_info("nothing to clean up: database %s has no pg_rebuild schema", l.dbname);
	else
	{
		for (int i = 0; i < l.n && !failed; i++)
		{
			int			res = cleanup_one(c, req, &l.runs[i], &left);

			if (res < 0)
				failed = true;
			cleaned += res > 0;
		}
		if (!failed && l.n == 0)
			log_info("nothing to clean up: no pg_rebuild run is recorded%s%s", req->table ? " for table " : "",
					 req->table ? req->table_arg : "");
		else if (!failed && !req->dry_run)
			log_info("cleaned up %d dead run%s", cleaned, cleaned == 1 ? "" : "s");
		else if (!failed)
		{
			int			dead = 0;

			for (int i = 0; i < l.n; i++)
				dead += !l.runs[i].alive;
			/* exit 3 as --status: dead runs' objects remain (a scheduler can alert on it) */
			log_info("dry run: nothing was removed; %d dead run%s to clean up (run again without --dry-run)",
					 dead, dead == 1 ? "" : "s");
		}
	}
	run_list_free(&l);
	conn_close(c);
	if (failed)
		return PGR_EXIT_FAILED;
	return left ? PGR_EXIT_LEFTOVERS : PGR_EXIT_OK;
}

bool
status_read(const CleanupRequest *req, RunList *out)
{
	Conn	   *c = NULL;
	bool		ok = list_runs(req, &c, out);

	conn_close(c);
	return ok;
}
