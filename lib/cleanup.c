/*
 * cleanup.c: removing what a run recorded: the finish of a run that swapped,
 * the failure path of one that did not, and --cleanup of dead runs; and
 * reading the runs of every role for --status.
 */
#include "cleanup.h"

#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "backoff.h"
#include "cancel.h"
#include "catalog.h"
#include "clock.h"
#include "connect.h"
#include "ident.h"
#include "log.h"
#include "objects.h"
#include "preflight.h"
#include "state.h"
#include "test_hooks.h"

/* "trigger pgrebuild_capture on s.t", "log table s.log_1", for messages */
static char *
describe(const RunObject *o)
{
	if (!o->known_kind)
		return ident_quote_qualified(o->schema, o->name);
	if (o->kind == OBJ_TRIGGER || o->kind == OBJ_CHECK || o->kind == OBJ_VALIDATE)
	{
		char	   *tq = ident_quote_qualified(o->table_schema ? o->table_schema : "?",
											   o->table_name ? o->table_name : "?");
		char	   *out = pgr_psprintf("%s %s on %s", object_kind_noun(o->kind), o->name, tq);

		free(tq);
		return out;
	}
	{
		char	   *q = ident_quote_qualified(o->schema, o->name);
		char	   *out = pgr_psprintf("%s %s", object_kind_noun(o->kind), q);

		free(q);
		return out;
	}
}

/*
 * Why o, recorded by run (table relid) in s, cannot be proven the run's
 * own (newly allocated), or NULL when it is.  See objects.h.
 */
static char *
not_proven(const StateSchema *s, unsigned int relid, const RunObject *o)
{
	char	   *mark;
	bool		marked;

	if (o->kind != OBJ_VALIDATE && !object_name_matches(o->kind, relid, o->name))
		return pgr_psprintf("its name is not the one pg_rebuild gives a %s of table OID %u",
							object_kind_noun(o->kind), relid);
	if (o->kind != OBJ_VALIDATE && o->owner != s->owner)
		return pgr_psprintf("it is owned by role %s, not by role %s, whose state schema %s records it",
							o->owner_name ? o->owner_name : "?", s->owner_name, s->name);
	switch (o->kind)
	{
		case OBJ_TRIGGER:
		case OBJ_CHECK:
			if (o->table_oid != relid)
				return pgr_psprintf("it is on the table with OID %u, not on the run's table (OID %u)",
									o->table_oid, relid);
			break;
		case OBJ_FUNCTION:
		case OBJ_LOG:
			if (strcmp(o->schema, s->name) != 0)
				return pgr_psprintf("it is in schema %s, not in the state schema %s", o->schema, s->name);
			break;
		case OBJ_OLD:
			if (o->oid != relid)
				return pgr_psprintf("it is not the run's original table (OID %u)", relid);
			break;
		case OBJ_VALIDATE:
			if (o->what == NULL || strcmp(o->what, "f") != 0)
				return pgr_strdup("it is not a foreign key");
			return NULL;
		default:
			break;
	}
	if ((o->kind == OBJ_LOG || o->kind == OBJ_SHADOW || o->kind == OBJ_OLD) &&
		(o->what == NULL || strcmp(o->what, "r") != 0))
		return pgr_strdup("it is not an ordinary table");
	if (o->kind == OBJ_CHECK && (o->what == NULL || strcmp(o->what, "c") != 0))
		return pgr_strdup("it is not a CHECK constraint");
	if (s->legacy)
		return NULL;			/* format 1 put no mark: its name, table OID and owner are the proof */
	mark = object_mark(o->kind, relid);
	marked = o->mark != NULL && strcmp(o->mark, mark) == 0;
	free(mark);
	if (!marked)
		return pgr_strdup("it does not carry pg_rebuild's mark (its COMMENT)");
	return NULL;
}

/* Whether the object with this OID (of kind k) is gone (a foreign key: validated); false on failure. */
static bool
removed_now(Conn *c, const RunObject *o, bool *gone)
{
	static const char *const sql[OBJ_COUNT] = {
		[OBJ_TRIGGER] = "SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE oid OPERATOR(pg_catalog.=) %oid)",
		[OBJ_CHECK] = "SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE oid OPERATOR(pg_catalog.=) %oid)",
		[OBJ_FUNCTION] = "SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE oid OPERATOR(pg_catalog.=) %oid)",
		[OBJ_LOG] = "SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) %oid)",
		[OBJ_SHADOW] = "SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) %oid)",
		[OBJ_OLD] = "SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) %oid)",
		[OBJ_VALIDATE] = "SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint "
		"WHERE oid OPERATOR(pg_catalog.=) %oid AND NOT convalidated)",
	};
	PGresult   *res = conn_queryf(c, sql[o->kind], o->oid);

	if (res == NULL)
		return false;
	*gone = res_bool(res, 0, 0);
	PQclear(res);
	return true;
}

typedef enum Removal
{
	REMOVED,					/* removed (or already gone) and forgotten */
	LEFT_ALONE,					/* not proven the run's own, or still in use: stays recorded (logged) */
	REMOVAL_FAILED				/* the statement failed (error kept in c) */
} Removal;

/*
 * The object of run_id that was recorded as o, read again in the
 * transaction that removes it.  *now is NULL when it is no longer recorded.
 */
static bool
read_again(Conn *c, const StateSchema *s, long long run_id, const RunObject *o, RunObject **all, int *n,
		   const RunObject **now)
{
	*now = NULL;
	if (!state_read_objects(c, s, run_id, all, n))
		return false;
	for (int i = 0; i < *n; i++)
		if (strcmp((*all)[i].recorded_kind, o->recorded_kind) == 0 &&
			(*all)[i].recorded_oid == o->recorded_oid &&
			strcmp((*all)[i].recorded_name, o->recorded_name) == 0)
			*now = &(*all)[i];
	return true;
}

/*
 * One attempt, in one transaction: lock and check the state schema, read
 * the object again, prove it the run's own, remove it, make sure the
 * removed object is the recorded one (or roll everything back), forget it.
 */
static Removal
remove_once(Conn *c, const StateSchema *s, long long run_id, unsigned int relid, const RunObject *o,
			int lock_timeout_ms, bool *validated_only)
{
	StrVec		problems;
	RunObject  *all = NULL;
	int			n = 0;
	const RunObject *now;
	Removal		result = REMOVAL_FAILED;
	char	   *why;
	bool		gone;

	*validated_only = false;
	sv_init(&problems);
	if (!conn_commandv(c, "BEGIN; SET LOCAL lock_timeout = '%dms'", lock_timeout_ms))
		goto out;
	if (!state_lock_and_check(c, s, "ROW EXCLUSIVE", &problems))
	{
		if (problems.n > 0)
		{
			conn_best_effort(c, "ROLLBACK");
			state_report_untrusted(s, &problems);
			result = LEFT_ALONE;
		}
		goto out;
	}
	if (!read_again(c, s, run_id, o, &all, &n, &now))
		goto out;
	if (now == NULL || now->oid == 0 || (now->kind == OBJ_VALIDATE && !now->flag))
	{
		/* gone already (or validated), or forgotten meanwhile: nothing to remove */
		result = (now == NULL || state_forget_object(c, s, run_id, now)) && conn_command(c, "COMMIT")
			? REMOVED : REMOVAL_FAILED;
		goto out;
	}
	why = not_proven(s, relid, now);
	if (why == NULL && now->flag && (now->kind == OBJ_FUNCTION || now->kind == OBJ_LOG))
		why = pgr_strdup(now->kind == OBJ_FUNCTION ? "a trigger still calls it"
						 : "the capture function that writes into it still exists");
	if (why)
	{
		char	   *d = describe(now);

		conn_best_effort(c, "ROLLBACK");
		log_warning("left alone: %s (OID %u), recorded by run %lld in %s: %s", d, now->oid, run_id, s->name, why);
		log_detail("pg_rebuild removes only what it can prove is the run's own; the record stays.");
		free(d);
		free(why);
		result = LEFT_ALONE;
		goto out;
	}
	{
		char	   *sql = object_finish_sql(now->kind, now->schema, now->name, now->table_schema, now->table_name);
		bool		ok = conn_command_if_exists(c, sql);

		free(sql);
		if (!ok || !removed_now(c, now, &gone))
			goto out;
	}
	if (!gone)
	{
		/* the statement reached another object of that name: undo it */
		char	   *d = describe(now);

		conn_best_effort(c, "ROLLBACK");
		log_warning("left alone: %s (OID %u): its name now leads to another object", d, now->oid);
		free(d);
		result = LEFT_ALONE;
		goto out;
	}
	*validated_only = now->kind == OBJ_VALIDATE;
	if (state_forget_object(c, s, run_id, now) && conn_command(c, "COMMIT"))
		result = REMOVED;
out:
	state_free_objects(all, n);
	sv_free(&problems);
	return result;
}

/* Removes one object and forgets it, retrying lock timeouts until the deadline. */
static Removal
remove_one(Conn *c, const StateSchema *s, long long run_id, unsigned int relid, const RunObject *o,
		   int lock_timeout_ms, double deadline)
{
	Backoff		b;

	backoff_init(&b, 50, 2000, (uint64_t) run_id * 7919u + (uint64_t) pgr_now());
	for (;;)
	{
		bool		validated_only;
		Removal		r = remove_once(c, s, run_id, relid, o, lock_timeout_ms, &validated_only);

		if (r != REMOVAL_FAILED)
			return r;
		if (!conn_ok(c) || !conn_failed_with(c, "55P03") || pgr_now() >= deadline || pgr_interrupted)
			return REMOVAL_FAILED;
		conn_best_effort(c, "ROLLBACK");
		pgr_sleep_ms(backoff_clamp(backoff_next(&b), (deadline - pgr_now()) * 1000));
	}
}

/*
 * A leftover trigger that cannot be dropped (ACCESS EXCLUSIVE refused by a
 * long transaction) can often still be disabled (SHARE ROW EXCLUSIVE, which
 * readers do not block), so it costs the application nothing until
 * --cleanup drops it.  When even that is refused (a transaction that wrote
 * to the table is still open), it keeps logging: say so.
 */
static void
disable_trigger(Conn *c, const RunObject *o, int lock_timeout_ms)
{
	char	   *tq = ident_quote_qualified(o->table_schema, o->table_name);
	char	   *nq = ident_quote(o->name);

	if (conn_commandv(c, "BEGIN; SET LOCAL lock_timeout = '%dms'; ALTER TABLE %s DISABLE TRIGGER %s; COMMIT",
					  lock_timeout_ms * 5, tq, nq))
		log_detail("The trigger %s on %s was disabled meanwhile: it no longer fires.", o->name, tq);
	else
	{
		conn_best_effort(c, "ROLLBACK");
		if (strcmp(o->name, PGR_CAPTURE_TRIGGER) == 0)
			log_detail("The trigger %s on %s could not be disabled either (a transaction that wrote to the "
					   "table is still open): it stays enabled, so every write to %s also writes the row's key "
					   "into the run's log table, which keeps growing until pg_rebuild --cleanup removes them. "
					   "Application writes are not affected otherwise.", o->name, tq, tq);
		else
			log_detail("The trigger %s on %s could not be disabled either: it stays, and lets TRUNCATE through "
					   "now that the run is over.", o->name, tq);
	}
	free(tq);
	free(nq);
}

/* "removed trigger x on t", "validated foreign key x on t", "removed log table s.x" */
static char *
removed_line(const RunObject *o)
{
	char	   *d = describe(o);
	char	   *line = pgr_psprintf("%s %s", o->kind == OBJ_VALIDATE ? "validated" : "removed", d);

	free(d);
	return line;
}

/*
 * Says why an object could not be removed: an error on the last try, a
 * warning when the caller tries again.
 */
static void
report_not_removed(Conn *c, const RunObject *o, bool last_try)
{
	char	   *d = describe(o);
	const char *then = last_try ? "it stays recorded for pg_rebuild --cleanup" : "pg_rebuild tries again";
	const char *failed = o->kind == OBJ_VALIDATE ? "could not validate a foreign key re-added by the swap"
		: "could not remove a leftover object";

	if (conn_lost(c))
	{
		log_warning("could not remove the %s: lost the connection: %s", d,
					c->message ? c->message : "connection closed");
		free(d);
		return;
	}
	if (last_try)
		conn_report(c, failed);
	else
	{
		log_warning("%s: %s", failed, c->message ? c->message : "unknown error");
		if (c->detail)
			log_detail("%s", c->detail);
	}
	if (o->kind == OBJ_VALIDATE)
		log_detail("The %s is marked NOT VALID; %s.", d, then);
	else
		log_detail("The object is the %s; %s.", d, then);
	free(d);
}

bool
cleanup_run_objects(Conn *c, const StateSchema *s, long long run_id, unsigned int relid, int lock_timeout_ms,
					double wait_timeout_s, bool last_try, bool keep_old, StrVec *removed)
{
	RunObject  *objs;
	int			n;
	double		deadline = pgr_now() + wait_timeout_s;
	bool		all = true;
	bool		trigger_stuck = false;
	bool		kept = false;

	conn_best_effort(c, "ROLLBACK");	/* leave any failed transaction */
	if (!state_read_objects(c, s, run_id, &objs, &n))
	{
		if (conn_lost(c))
			log_warning("could not read the objects of the pg_rebuild run: lost the connection: %s",
						c->message ? c->message : "connection closed");
		else
			conn_report(c, "could not read the objects of the pg_rebuild run");
		return false;
	}
	for (int i = 0; i < n; i++)
	{
		const RunObject *o = &objs[i];
		Removal		r;

		if (!o->known_kind)
		{
			log_warning("left alone: run %lld records an object of an unknown kind \"%s\" (%s.%s)", run_id,
						o->recorded_kind, o->schema, o->name);
			all = false;
			continue;
		}
		if (keep_old && o->kind == OBJ_OLD && o->oid != 0)
		{
			kept = true;		/* stays recorded: --cleanup drops it */
			continue;
		}
		if (trigger_stuck && (o->kind == OBJ_FUNCTION || o->kind == OBJ_LOG))
		{
			all = false;		/* a trigger still uses them: they stay as long as it does */
			continue;
		}
		r = remove_one(c, s, run_id, relid, o, lock_timeout_ms, deadline);
		if (r == REMOVED)
		{
			if (o->oid != 0)
				sv_push_owned(removed, removed_line(o));
			continue;
		}
		all = false;
		if (r == REMOVAL_FAILED)
		{
			bool		lock = conn_failed_with(c, "55P03");

			report_not_removed(c, o, last_try);
			conn_best_effort(c, "ROLLBACK");
			if (o->kind == OBJ_TRIGGER && lock)
				disable_trigger(c, o, lock_timeout_ms);
			if (o->kind == OBJ_TRIGGER)
				trigger_stuck = true;
		}
	}
	state_free_objects(objs, n);
	if (all && !kept)
	{
		StrVec		problems;

		sv_init(&problems);
		all = conn_command(c, "BEGIN") && state_lock_and_check(c, s, "ROW EXCLUSIVE", &problems) &&
			state_delete_run(c, s, run_id) && conn_command(c, "COMMIT");
		if (!all)
		{
			if (problems.n > 0)
				state_report_untrusted(s, &problems);
			else
				conn_report(c, "could not delete the record of the pg_rebuild run");
			conn_best_effort(c, "ROLLBACK");
		}
		sv_free(&problems);
	}
	return all;
}

/* ------------------------------------------------------------------------
 * The finish of a run whose swap committed
 * ------------------------------------------------------------------------ */

/*
 * One try at dropping the foreign keys of the old table (relid: it is the
 * table's OID before the swap), in one transaction under lock_timeout.
 * The old table is proven by OID and name before anything is dropped.
 */
static bool
detach_old_once(Conn *c, unsigned int relid, int lock_timeout_ms, bool truncate, int *dropped)
{
	PGresult   *res;
	char	   *want = object_name(OBJ_OLD, relid);
	char	   *old_q = NULL;
	bool		ok = false;

	*dropped = 0;
	if (!conn_commandv(c, "BEGIN; SET LOCAL lock_timeout = '%dms'", lock_timeout_ms))
		goto out;
	res = conn_queryf(c,
					  "SELECT n.nspname::pg_catalog.text, c.relname::pg_catalog.text FROM pg_catalog.pg_class c "
					  "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
					  "WHERE c.oid OPERATOR(pg_catalog.=) %oid",
					  relid);
	if (res == NULL)
		goto out;
	if (PQntuples(res) == 1)
	{
		char	   *schema = res_text(res, 0, 0);
		char	   *name = res_text(res, 0, 1);

		if (schema && name && strcmp(name, want) == 0)
			old_q = ident_quote_qualified(schema, name);
		free(schema);
		free(name);
	}
	PQclear(res);
	if (old_q == NULL)
	{
		ok = conn_command(c, "ROLLBACK");	/* no old table of this run: nothing to detach */
		goto out;
	}
	if (truncate)
	{
		/* locks the old table only, unlike dropping its foreign keys */
		ok = conn_commandv(c, "TRUNCATE %s", old_q) && conn_command(c, "COMMIT");
		goto out;
	}
	res = conn_queryf(c,
					  "SELECT conname::pg_catalog.text FROM pg_catalog.pg_constraint "
					  "WHERE conrelid OPERATOR(pg_catalog.=) %oid AND contype OPERATOR(pg_catalog.=) 'f' "
					  "ORDER BY conname",
					  relid);
	if (res == NULL)
		goto out;
	ok = true;
	for (int i = 0; ok && i < PQntuples(res); i++)
	{
		char	   *con = res_text(res, i, 0);
		char	   *con_q;

		if (con == NULL)
			continue;
		con_q = ident_quote(con);
		ok = conn_commandv(c, "ALTER TABLE %s DROP CONSTRAINT %s", old_q, con_q);
		free(con);
		free(con_q);
		if (ok)
			(*dropped)++;
	}
	PQclear(res);
	ok = ok && conn_command(c, "COMMIT");
out:
	if (!ok)
		*dropped = 0;
	free(want);
	free(old_q);
	return ok;
}

/*
 * --keep-old: a kept old table must not hold the application back, and its
 * foreign keys would (deleting a row of a referenced table that an old row
 * still points to would fail): drop them, retrying lock timeouts until
 * --wait-timeout.  False (logged as a warning): they stay, and the old table
 * is dropped as without --keep-old, emptied first if may_empty (else it
 * stays, with its rows and its foreign keys: an archive failed).
 */
static bool
detach_old(Run *r, bool may_empty)
{
	Backoff		b;
	double		deadline = pgr_now() + r->s->wait_timeout_s;
	int			dropped = 0;

	backoff_init(&b, 50, 2000, (uint64_t) r->run_id * 7927u + (uint64_t) pgr_now());
	for (;;)
	{
		if (detach_old_once(r->main, r->t->oid, r->s->lock_timeout_ms, false, &dropped))
			break;
		if (!conn_ok(r->main) || !conn_failed_with(r->main, "55P03") || pgr_now() >= deadline || pgr_interrupted)
		{
			bool		emptied = false;

			conn_report(r->main, "could not drop the foreign keys of the old table, to keep it");
			conn_best_effort(r->main, "ROLLBACK");
			if (!may_empty)
			{
				log_detail("The old table keeps its rows and its foreign keys until pg_rebuild --cleanup drops "
						   "it: meanwhile, deleting a row that one of its rows references fails.");
				return false;
			}
			emptied = conn_ok(r->main) && detach_old_once(r->main, r->t->oid, r->s->lock_timeout_ms, true, &dropped);
			if (!emptied)
				conn_best_effort(r->main, "ROLLBACK");
			log_detail("A kept old table with its foreign keys would make deleting rows they reference fail.  "
					   "The rebuilt table is in use; the old table %s, and is dropped as without --keep-old.",
					   emptied ? "was emptied" : "could not be emptied either");
			return false;
		}
		conn_best_effort(r->main, "ROLLBACK");
		pgr_sleep_ms(backoff_clamp(backoff_next(&b), (deadline - pgr_now()) * 1000));
	}
	if (dropped > 0)
		log_verbose("dropped the %d foreign key%s of the old table: it is kept, and references nothing", dropped,
					dropped == 1 ? "" : "s");
	return true;
}

/*
 * --archive-old: the old table's rows into the file, before anything drops
 * it.  False (logged): the old table is kept, with its rows and its foreign
 * keys, recorded for --cleanup.
 */
static bool
archive_old(Run *r)
{
	char	   *old_q = ident_quote_qualified(r->t->schema, r->plan->old_name);
	char	   *why = NULL;
	long long	rows = 0;
	bool		ok;

	conn_best_effort(r->main, "ROLLBACK");	/* COPY runs outside any transaction left open */
	ok = archive_table(r->main, r->t->oid, old_q, r->t->qname, r->s->archive_old, &rows, &why);
	if (ok)
		log_info("archived the old table's %lld row%s into %s", rows, rows == 1 ? "" : "s", r->s->archive_old);
	else
	{
		log_error("could not archive the old table %s into %s: %s", old_q, r->s->archive_old, why ? why : "");
		log_detail("The swap committed: %s is rebuilt and in use.  The old table was kept, with its rows, and "
				   "no archive file was left: nothing that could not be archived was dropped.",
				   r->t->qname);
		log_hint("Archive it once the cause is fixed (docs/archive-format.md), then drop it with "
				 "pg_rebuild --cleanup.");
		run_print_cleanup_hint(r);
	}
	free(why);
	free(old_q);
	return ok;
}

bool
finish_phase(Run *r)
{
	StrVec		removed;
	bool		ok;

	phase_begin(&r->clock, PHASE_FINISH);
	pgr_test_pause("FINISH");
	sv_init(&removed);
	if (r->s->archive_old && r->mode == MODE_REBUILD && r->run_id != 0 && !r->archive_failed && !archive_old(r))
		r->archive_failed = true;
	if (r->archive_failed)
	{
		r->keep_old = true;		/* never drop what could not be archived */
		(void) detach_old(r, false);
	}
	else
		r->keep_old = r->s->keep_old && r->mode == MODE_REBUILD && r->run_id != 0 && detach_old(r, true);
	if (r->s->archive_old && !r->keep_old && r->mode == MODE_REBUILD && r->run_id != 0)
	{
		int			unused;

		/* archived: empty it now, as the swap does without --archive-old, in case the drop must wait */
		if (!detach_old_once(r->main, r->t->oid, r->s->lock_timeout_ms, true, &unused))
			conn_best_effort(r->main, "ROLLBACK");
	}
	/* no record: an in-place run that had nothing to do */
	ok = r->run_id == 0 || cleanup_run_objects(r->main, &r->state, r->run_id, r->t->oid, r->s->lock_timeout_ms,
											   r->s->wait_timeout_s, false, r->keep_old, &removed);
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
	if (r->keep_old && r->plan)
	{
		char	   *kq = ident_quote_qualified(r->t->schema, r->plan->old_name);

		log_info("kept the old table as %s (its rows as they were at the swap); \"pg_rebuild --cleanup\" "
				 "drops it", kq);
		free(kq);
	}
	r->run_id = 0;
	run_read_sizes(r);
	phase_end(&r->clock, PHASE_FINISH, note);
}

/* ------------------------------------------------------------------------
 * --cleanup and --status: every role's state schema
 * ------------------------------------------------------------------------ */

/* What a visit of the state schemas found and did. */
typedef struct Visit
{
	const CleanupRequest *req;
	bool		cleanup;
	Conn	   *c;
	char	   *me;				/* the current role when connected, to come back to */
	unsigned int relid;			/* -t: the table's OID now (0: it does not exist) */
	char	   *schema;			/* -t: the table's schema (as given, or found) */
	unsigned int table_owner;	/* -t: its owner (0: unknown) */
	RunList		list;
	int			cleaned;
	bool		left;
	bool		failed;
} Visit;

/* Cleans one recorded run; 1 cleaned, 0 left (alive, dry run, or not all removed), -1 failed. */
static int
cleanup_one(Visit *v, const StateSchema *s, RunInfo *run)
{
	const CleanupRequest *req = v->req;
	bool		got;
	StrVec		removed;
	char	   *tq = ident_quote_qualified(run->schema_name, run->table_name);
	long long	key = state_lock_key(run->relid);
	bool		ok;

	if (run->alive)
	{
		log_info("run %lld on %s is alive (pid %d, phase %s): not touched", run->run_id, tq, run->backend_pid,
				 run->phase);
		free(tq);
		return 0;
	}
	if (req->dry_run)
	{
		log_info("run %lld on %s (role %s) is dead (phase %s, started %s); would remove:", run->run_id, tq,
				 s->owner_name, run->phase, run->started);
		for (size_t i = 0; i < run->objects.n; i++)
			log_info("  %s", run->objects.items[i]);
		v->left = true;
		free(tq);
		return 0;
	}
	/* take the run's lock so that no new run starts on the table meanwhile */
	if (!state_try_lock(v->c, key, &got))
	{
		free(tq);
		return -1;
	}
	if (!got)
	{
		log_info("run %lld on %s came back to life or is being cleaned by another session: not touched",
				 run->run_id, tq);
		v->left = true;
		free(tq);
		return 0;
	}
	log_info("run %lld on %s (role %s) is dead (phase %s, started %s): removing its objects", run->run_id, tq,
			 s->owner_name, run->phase, run->started);
	if (strcmp(run->phase, phase_def(PHASE_FINISH)->recorded) == 0)
		log_info("  its swap had committed: %s is the rebuilt table; finishing its work", tq);
	sv_init(&removed);
	ok = cleanup_run_objects(v->c, s, run->run_id, run->relid, req->lock_timeout_ms, req->wait_timeout_s,
							 true, false, &removed);
	for (size_t i = 0; i < removed.n; i++)
		log_info("  %s", removed.items[i]);
	sv_free(&removed);
	state_unlock(v->c, key);
	if (!ok)
		v->left = true;
	free(tq);
	return ok ? 1 : 0;
}

/* A state schema the current role may not read: say so, and what would let it. */
static void
report_unseen(Visit *v, const StateSchema *s)
{
	char	   *oq = ident_quote(s->owner_name);
	char	   *mq = ident_quote(v->me);
	const char *job = v->cleanup ? "--cleanup" : "--status";

	v->list.nunseen++;
	if (v->req->table && v->table_owner == s->owner)
		v->list.table_unseen = true;
	log_warning("the runs of role %s (schema %s%s) were not looked at: role %s may not act as %s",
				s->owner_name, s->name, s->nlogs > 0 ? ", which holds the log table of a recorded run" : "",
				v->me, s->owner_name);
	log_hint("Run pg_rebuild %s as %s, or as a member of it (GRANT %s TO %s), or as a superuser.", job, oq, oq, mq);
	free(oq);
	free(mq);
}

/* Acts as the owner of s (SET ROLE); false (logged) on failure. */
static bool
act_as(Visit *v, const char *role)
{
	if (conn_set_role(v->c, role))
		return true;
	conn_report(v->c, "could not act as the owner of a state schema");
	return false;
}

/* Reads the runs of s as its owner, after checking it; appends them to the list.  False: skip s. */
static bool
read_schema(Visit *v, const StateSchema *s, RunInfo **runs, int *n)
{
	StrVec		problems;
	bool		ok;

	*runs = NULL;
	*n = 0;
	sv_init(&problems);
	ok = conn_commandv(v->c, "BEGIN ISOLATION LEVEL REPEATABLE READ; SET LOCAL lock_timeout = '%dms'",
					   v->req->lock_timeout_ms < 1000 ? 1000 : v->req->lock_timeout_ms);
	if (ok && !state_lock_and_check(v->c, s, "ACCESS SHARE", &problems))
	{
		if (problems.n > 0)
			state_report_untrusted(s, &problems);
		else
		{
			/* whatever is in it: the other schemas are still looked at */
			char	   *what = pgr_psprintf("could not lock and check state schema %s (owner %s)", s->name,
											s->owner_name);

			conn_report(v->c, what);
			log_detail("Nothing in it was read or changed.");
			free(what);
		}
		v->list.nuntrusted++;
		ok = false;
	}
	else if (ok && !state_list_runs(v->c, s, v->relid, v->schema, v->req->table, runs, n))
	{
		conn_report(v->c, "could not read the pg_rebuild runs");
		v->failed = true;
		ok = false;
	}
	sv_free(&problems);
	if (!ok)
	{
		conn_best_effort(v->c, "ROLLBACK");
		return false;
	}
	return conn_command(v->c, "COMMIT");
}

/*
 * The shared schema of format version 1 holds no run any more: it is not
 * used by this version; remove what pg_rebuild created in it and the
 * schema, only when nothing else is there (RESTRICT).
 */
static void
drop_legacy_schema(Visit *v, const StateSchema *s)
{
	char	   *q = ident_quote(s->name);
	StrVec		problems;
	bool		ok;

	sv_init(&problems);
	ok = conn_command(v->c, "BEGIN") && state_lock_and_check(v->c, s, "ACCESS EXCLUSIVE", &problems);
	if (ok)
	{
		PGresult   *res;
		char	   *sql = pgr_psprintf("SELECT (SELECT pg_catalog.count(*) FROM %s.runs) OPERATOR(pg_catalog.=) 0", q);

		res = conn_query(v->c, sql);
		free(sql);
		ok = res != NULL && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
	}
	ok = ok && conn_commandv(v->c, "DROP TABLE %s.run_objects, %s.runs, %s.meta RESTRICT; "
							 "DROP FUNCTION IF EXISTS %s.run_alive(bigint) RESTRICT; "
							 "DROP FUNCTION IF EXISTS %s.truncate_guard() RESTRICT; DROP SCHEMA %s RESTRICT; COMMIT",
							 q, q, q, q, q, q);
	if (ok)
		log_info("removed schema %s, the shared state of an earlier pg_rebuild (format 1): it held no run any "
				 "more; this version keeps each role's runs in a schema of its own", q);
	else
	{
		if (problems.n == 0 && conn_ok(v->c))
		{
			log_warning("schema %s, the shared state of an earlier pg_rebuild (format 1), holds no run but "
						"could not be removed: %s", q, v->c->message ? v->c->message : "it holds other objects");
			log_hint("pg_rebuild no longer uses it; drop it by hand once you have checked what it holds.");
		}
		conn_best_effort(v->c, "ROLLBACK");
	}
	sv_free(&problems);
	free(q);
}

/* Visits one state schema: reads its runs; with --cleanup, cleans the dead ones. */
static void
visit_schema(Visit *v, StateSchema *s)
{
	RunInfo    *runs;
	int			n;
	bool		other = strcmp(s->owner_name, v->me) != 0;

	if (!s->can_act)
	{
		report_unseen(v, s);
		return;
	}
	if (!s->has_runs)
		return;					/* made for a role that has not run pg_rebuild yet: no run in it */
	if (other && !act_as(v, s->owner_name))
	{
		v->failed = true;
		return;
	}
	if (read_schema(v, s, &runs, &n))
	{
		bool		cleaned_all = true;

		for (int i = 0; v->cleanup && i < n && !v->failed; i++)
		{
			int			res = cleanup_one(v, s, &runs[i]);

			if (res < 0)
				v->failed = true;
			cleaned_all = cleaned_all && res > 0;
			v->cleaned += res > 0;
		}
		if (v->cleanup && s->legacy && cleaned_all && !v->req->dry_run && !v->failed && v->req->table == NULL)
			drop_legacy_schema(v, s);
		/* keep them for --status */
		v->list.runs = pgr_realloc(v->list.runs, sizeof(RunInfo) * (size_t) (v->list.n + n + 1));
		memcpy(&v->list.runs[v->list.n], runs, sizeof(RunInfo) * (size_t) n);
		v->list.n += n;
		free(runs);
	}
	if (other && !act_as(v, v->me))
		v->failed = true;
}

/* -t TABLE: its OID, schema and owner now, when it exists. */
static bool
resolve_table(Visit *v)
{
	char	   *found = NULL;
	long long	oid;
	PGresult   *res;

	if (v->req->table == NULL)
		return true;
	oid = catalog_resolve_table(v->c, v->req->schema, v->req->table, &found);
	if (oid < 0)
		return false;
	v->relid = (unsigned int) oid;
	v->schema = v->req->schema ? pgr_strdup(v->req->schema) : found;
	if (v->req->schema)
		free(found);
	if (oid == 0)
		return true;
	res = conn_queryf(v->c, "SELECT relowner FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) %oid",
					  v->relid);
	if (res == NULL)
	{
		conn_report(v->c, "could not look up the table");
		return false;
	}
	if (PQntuples(res) > 0)
		v->table_owner = res_oid(res, 0, 0);
	PQclear(res);
	return true;
}

/* Connects, checks the server, and visits every state schema. */
static void
visit(Visit *v)
{
	StateSchema *schemas = NULL;
	int			n = 0;
	PGresult   *res;

	v->c = conn_open(v->req->params, "main");
	if (v->c == NULL ||
		!preflight_check_server(v->c, v->cleanup ? "pg_rebuild --cleanup" : "pg_rebuild --status", v->cleanup &&
								!v->req->dry_run))
	{
		v->failed = true;
		return;
	}
	v->list.dbname = pgr_strdup(PQdb(v->c->pg));
	v->list.connection_args = run_connection_args(v->c, v->req->params);
	res = conn_query(v->c, "SELECT current_user::text");
	if (res == NULL)
	{
		conn_report(v->c, "could not read the current role");
		v->failed = true;
		return;
	}
	v->me = pgr_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!resolve_table(v) || !state_find_schemas(v->c, &schemas, &n))
	{
		v->failed = true;
		return;
	}
	v->list.nschemas = n;
	for (int i = 0; i < n && !v->failed && !pgr_interrupted; i++)
		visit_schema(v, &schemas[i]);
	state_free_schemas(schemas, n);
	if (v->list.table_unseen)
		log_error("the runs of table %s may be recorded in a state schema that role %s may not read (see above)",
				  v->req->table_arg, v->me);
}

static void
visit_free(Visit *v)
{
	conn_close(v->c);
	free(v->me);
	free(v->schema);
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
	Visit		v = {.req = req, .cleanup = true};
	int			code;

	visit(&v);
	if (!v.failed && v.list.nuntrusted == 0 && !v.list.table_unseen)
	{
		if (v.list.nschemas == 0)
			log_info("nothing to clean up: database %s holds no pg_rebuild state", v.list.dbname);
		else if (v.list.n == 0)
			log_info("nothing to clean up: no pg_rebuild run is recorded%s%s%s", req->table ? " for table " : "",
					 req->table ? req->table_arg : "", v.list.nunseen > 0 ? " in the state this role may read" : "");
		else if (!req->dry_run)
			log_info("cleaned up %d dead run%s", v.cleaned, v.cleaned == 1 ? "" : "s");
		else
		{
			int			dead = 0;

			for (int i = 0; i < v.list.n; i++)
				dead += !v.list.runs[i].alive;
			/* exit 3 as --status: dead runs' objects remain (a scheduler can alert on it) */
			log_info("dry run: nothing was removed; %d dead run%s to clean up (run again without --dry-run)",
					 dead, dead == 1 ? "" : "s");
		}
	}
	if (v.failed || v.list.nuntrusted > 0 || v.list.table_unseen)
		code = PGR_EXIT_FAILED;
	else
		code = v.left ? PGR_EXIT_LEFTOVERS : PGR_EXIT_OK;
	run_list_free(&v.list);
	visit_free(&v);
	return code;
}

bool
status_read(const CleanupRequest *req, RunList *out)
{
	Visit		v = {.req = req, .cleanup = false};

	visit(&v);
	*out = v.list;
	visit_free(&v);
	return !v.failed;
}
