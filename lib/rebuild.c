/* rebuild.c: one run of pg_rebuild, phase after phase, and --cleanup. */
#include "rebuild.h"

#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "cancel.h"
#include "catalog.h"
#include "clock.h"
#include "conn.h"
#include "connect.h"
#include "copy.h"
#include "dependents.h"
#include "fingerprint.h"
#include "guard.h"
#include "ident.h"
#include "log.h"
#include "plan.h"
#include "pool.h"
#include "progress.h"
#include "replay.h"
#include "state.h"
#include "swap.h"
#include "test_hooks.h"

/* Replay until a batch consumes fewer entries than this, then try the swap. */
#define SWAP_BACKLOG_THRESHOLD 1000
/* Reconnections allowed in one run (each bounded by --retry-timeout). */
#define MAX_RECOVERIES 5

typedef struct Run
{
	const RebuildOptions *o;
	ConnParams	params;
	Conn	   *main;
	Conn	  **workers;
	int			nworkers;
	Conn	   *holder;			/* holds SHARE UPDATE EXCLUSIVE from install to swap */
	Guard		guard;
	int			recoveries;		/* reconnections after a lost connection */
	TableDesc	t;
	bool		have_table;
	Plan		plan;
	bool		have_plan;
	PlanInput	plan_input;
	Dependents	deps;
	bool		have_deps;
	DepPlan		dplan;
	bool		have_dplan;
	uint64_t	dep_fingerprint;
	const char *role;			/* owner to SET ROLE to, or NULL */
	long long	lock_key;
	bool		locked;
	long long	run_id;			/* 0 until the run is recorded */
	bool		swapped;
	uint64_t	fingerprint;
	PhaseClock	clock;
	CopyResult	copy;
	SwapResult	swap;
	long long	replayed;
	long long	new_heap;
	long long	new_total;
} Run;

static const char *const tool_schema = PGR_TOOL_SCHEMA;

/* ------------------------------------------------------------------------
 * Connections
 * ------------------------------------------------------------------------ */

static void
params_from_options(ConnParams *p, const RebuildOptions *o)
{
	memset(p, 0, sizeof(*p));
	p->dbname = o->dbname;
	p->host = o->host;
	p->port = o->port;
	p->user = o->username;
	p->prompt = o->prompt;
	p->retry_timeout_s = o->retry_timeout_s;
}

/* Opens a connection acting as the table's owner. */
static Conn *
open_as_owner(Run *r, const char *label)
{
	Conn	   *c = conn_open(&r->params, label);

	if (c && !conn_set_role(c, r->role))
	{
		conn_report(c, "could not act as the table's owner");
		conn_close(c);
		return NULL;
	}
	return c;
}

static void
close_workers(Run *r)
{
	for (int i = 0; i < r->nworkers; i++)
		conn_close(r->workers[i]);
	free(r->workers);
	r->workers = NULL;
	r->nworkers = 0;
}

static void
close_holder(Run *r)
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
static bool
ensure_guard(Run *r)
{
	if (r->holder && conn_ok(r->holder) && r->guard.holder == r->holder)
		return true;
	close_holder(r);
	r->holder = open_as_owner(r, "holder");
	if (r->holder == NULL)
		return false;
	if (!guard_acquire(&r->guard, r->holder, r->o->wait_timeout_s))
	{
		r->guard.holder = NULL;
		return false;
	}
	return true;
}

/* The guard's check, for the pool's wait loop. */
static bool
run_tick(void *arg)
{
	Run		   *r = arg;

	return guard_tick(&r->guard);
}

static bool
open_workers(Run *r)
{
	r->workers = pgr_calloc((size_t) r->o->jobs, sizeof(Conn *));
	for (int i = 0; i < r->o->jobs; i++)
	{
		char		label[32];

		snprintf(label, sizeof(label), "worker %d", i + 1);
		r->workers[i] = open_as_owner(r, label);
		if (r->workers[i] == NULL)
			return false;
		guard_add_pid(&r->guard, conn_backend_pid(r->workers[i]));
		r->nworkers++;
	}
	return true;
}

/* ------------------------------------------------------------------------
 * Failure: leave the table as it was, remove what this run created
 * ------------------------------------------------------------------------ */

/* Appends " flag 'value'" to sb, shell-quoted. */
static void
append_arg(StrBuf *sb, const char *flag, const char *value)
{
	char	   *q = ident_shell_quote(value);

	sb_appendf(sb, " %s %s", flag, q);
	free(q);
}

static void
print_cleanup_command(const Run *r)
{
	StrBuf		sb;
	Conn	   *c = r->main;

	sb_init(&sb);
	sb_append(&sb, "pg_rebuild --cleanup");
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
			char	   *v = conn_target_value(&r->params, keys[i][1]);

			if (v)
				append_arg(&sb, keys[i][0], v);
			free(v);
		}
	}
	if (r->have_table)
	{
		char	   *tq = ident_quote_qualified(r->t.schema, r->t.name);

		append_arg(&sb, "-t", tq);
		free(tq);
	}
	log_hint("Run: %s", sb.data);
	sb_free(&sb);
}

/*
 * Called on any failure.  Before the swap committed: remove this run's
 * objects, and say the table is as it was.  After: the table is rebuilt, but
 * what is left must go through --cleanup.  Returns the exit code.
 */
static int
fail_run(Run *r)
{
	StrVec		removed;
	bool		clean;

	conn_set_wait_hook(NULL, NULL);
	close_workers(r);
	close_holder(r);			/* its lock would block our own cleanup */
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
		r->main = open_as_owner(r, "main");
		if (r->main == NULL)
		{
			log_detail("The table itself was %s, but this run's objects are still in the database.",
					   r->swapped ? "rebuilt" : "not changed");
			print_cleanup_command(r);
			return PGR_EXIT_LEFTOVERS;
		}
	}
	sv_init(&removed);
	/*
	 * Removing the trigger needs ACCESS EXCLUSIVE on the table, which a long
	 * transaction can refuse for ever: try for a bounded time (the user may
	 * have interrupted us), then leave the rest to --cleanup.
	 */
	clean = state_cleanup_run(r->main, tool_schema, r->run_id, r->o->lock_timeout_ms,
							  r->o->wait_timeout_s < 3 ? 3 : r->o->wait_timeout_s > 15 ? 15 : r->o->wait_timeout_s,
							  &removed);
	for (size_t i = 0; i < removed.n; i++)
		log_verbose("%s", removed.items[i]);
	sv_free(&removed);
	if (clean && !r->swapped)
	{
		log_detail("Nothing was changed: %s is as it was, and every object of this run was removed.",
				   r->t.qname);
		return PGR_EXIT_FAILED;
	}
	if (r->swapped)
		log_detail("The swap had committed: %s is rebuilt.%s", r->t.qname,
				   clean ? " Its leftovers were removed." : " Some leftovers remain.");
	else
		log_detail("The table %s was not changed, but some of this run's objects remain.", r->t.qname);
	if (!clean)
	{
		print_cleanup_command(r);
		return PGR_EXIT_LEFTOVERS;
	}
	return r->swapped ? PGR_EXIT_OK : PGR_EXIT_FAILED;
}

/*
 * An application NULL in a --set-not-null column during the run makes the
 * copy or replay fail with not_null_violation: name the column and a key.
 */
static void
report_failure(Run *r, Conn *failed, const char *what)
{
	if (r->guard.stop)
		return;					/* the guard said why already */
	if (failed && conn_failed_with(failed, "23502") && conn_ok(r->main))
	{
		conn_best_effort(r->main, "ROLLBACK");
		if (replay_report_null(failed, r->main, &r->t, &r->o->set_not_null))
			return;
	}
	if (failed && conn_lost(failed) && !pgr_interrupted && r->recoveries < MAX_RECOVERIES)
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

/* ------------------------------------------------------------------------
 * Preflight: read, check, refuse.  Changes nothing.
 * ------------------------------------------------------------------------ */

static bool
refuse(const char *detail_fmt_extra, const char *hint)
{
	if (detail_fmt_extra)
		log_detail("%s", detail_fmt_extra);
	log_detail("Nothing was changed.");
	if (hint)
		log_hint("%s", hint);
	return false;
}

static bool
check_server(Run *r)
{
	PGresult   *res;
	int			v = conn_server_version(r->main);

	if (v < 120000)
	{
		log_error("the server runs PostgreSQL %d.%d, and pg_rebuild needs PostgreSQL 12 or later",
				  v / 10000, (v / 100) % 100);
		return refuse(NULL, "Upgrade the server, or rebuild the table with VACUUM FULL in a maintenance window.");
	}
	res = conn_query(r->main, "SELECT pg_catalog.pg_is_in_recovery()");
	if (res == NULL)
	{
		conn_report(r->main, "could not ask whether the server is a standby");
		return false;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
	{
		PQclear(res);
		log_error("connected to a read-only standby: run against the primary");
		return refuse("The server is in recovery; a rebuild writes to the table.",
					  "Point -h/-p (or the connection string) at the primary server.");
	}
	PQclear(res);
	return true;
}

static bool
check_relation_kind(const TableDesc *t)
{
	const char *what = NULL;

	switch (t->relkind)
	{
		case 'r':
			break;
		case 'p':
			what = "a partitioned table (rebuild its partitions one by one instead)";
			break;
		case 'v':
			what = "a view";
			break;
		case 'm':
			what = "a materialized view (use REFRESH MATERIALIZED VIEW CONCURRENTLY)";
			break;
		case 'f':
			what = "a foreign table";
			break;
		case 'S':
			what = "a sequence";
			break;
		case 'i':
		case 'I':
			what = "an index (use REINDEX CONCURRENTLY)";
			break;
		default:
			what = "not an ordinary table";
			break;
	}
	if (what)
	{
		log_error("%s is %s: pg_rebuild rebuilds ordinary tables only", t->qname, what);
		return refuse(NULL, NULL);
	}
	if (t->persistence == 't')
	{
		log_error("%s is a temporary table: other sessions cannot see it, so pg_rebuild cannot rebuild it",
				  t->qname);
		return refuse(NULL, NULL);
	}
	if (t->is_partition)
	{
		log_error("%s is a partition: this version does not rebuild partitions", t->qname);
		return refuse("Swapping a partition needs DETACH and ATTACH, which this version does not do.", NULL);
	}
	if (t->is_typed)
	{
		log_error("%s is a typed table (CREATE TABLE ... OF type): this version does not rebuild those",
				  t->qname);
		return refuse(NULL, NULL);
	}
	return true;
}

static bool
check_ownership(Run *r)
{
	PGresult   *res;
	char	   *me = NULL;

	if (r->t.owner_is_current)
		return true;
	res = conn_query(r->main, "SELECT current_user::text");
	if (res)
	{
		me = pgr_strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	if (!r->t.can_act_as_owner)
	{
		char	   *oq = ident_quote(r->t.owner);

		log_error("must be the owner of table %s to rebuild it (its owner is %s, you are %s)",
				  r->t.qname, r->t.owner, me ? me : "?");
		refuse("pg_rebuild creates a table that replaces this one, and triggers on it: that takes ownership.",
			   NULL);
		log_hint("Connect as %s, or as a member of role %s (GRANT %s TO <you>).", oq, oq, oq);
		free(oq);
		free(me);
		return false;
	}
	free(me);
	r->role = r->t.owner;
	if (!conn_set_role(r->main, r->role))
	{
		conn_report(r->main, "could not act as the table's owner");
		return false;
	}
	log_verbose("acting as role %s, the table's owner", r->t.owner);
	return true;
}

static bool
check_key_and_indexes(const TableDesc *t)
{
	for (int i = 0; i < t->nindexes; i++)
		if (!t->indexes[i].valid)
		{
			char	   *iq = ident_quote_qualified(t->schema, t->indexes[i].name);

			log_error("index %s of %s is invalid (a failed CREATE INDEX CONCURRENTLY?)", iq, t->qname);
			refuse(NULL, NULL);
			log_hint("Rebuild it with REINDEX INDEX CONCURRENTLY %s, or drop it, then run pg_rebuild again.", iq);
			free(iq);
			return false;
		}
	if (t->key_index < 0)
	{
		log_error("%s has no replay key: pg_rebuild needs a primary key, or a unique index that is "
				  "not partial, has no expressions and covers only NOT NULL columns", t->qname);
		return refuse("Changes made during the rebuild are found again by that key.",
					  "Add a primary key (ALTER TABLE ... ADD PRIMARY KEY USING INDEX on a unique index "
					  "built CONCURRENTLY), then run pg_rebuild again.");
	}
	return true;
}

static bool
check_requested_columns(const Run *r)
{
	const TableDesc *t = &r->t;

	for (size_t i = 0; i < r->o->set_not_null.n; i++)
	{
		const char *name = r->o->set_not_null.items[i];

		if (catalog_find_column(t, name) == NULL)
		{
			char	   *q = ident_quote(name);

			log_error("column %s of table %s does not exist (given to --set-not-null)", q, t->qname);
			refuse(NULL, "Column names are case-sensitive when quoted: --set-not-null '\"MyColumn\"'.");
			free(q);
			return false;
		}
	}
	for (int i = 0; i < r->o->n_order_by; i++)
	{
		const char *name = r->o->order_by[i].column;

		if (catalog_find_column(t, name) == NULL)
		{
			char	   *q = ident_quote(name);

			log_error("column %s of table %s does not exist (given to --order-by)", q, t->qname);
			refuse(NULL, NULL);
			free(q);
			return false;
		}
	}
	return true;
}

static bool
check_dependents(Run *r)
{
	StrVec		problems;

	if (r->t.rls_forced)
	{
		PGresult   *res = conn_query(r->main, "SELECT rolbypassrls OR rolsuper FROM pg_catalog.pg_roles "
									 "WHERE rolname = current_user");
		bool		bypass = res && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;

		PQclear(res);
		if (!bypass)
		{
			log_error("%s has FORCE ROW LEVEL SECURITY and the run's role does not bypass row level security",
					  r->t.qname);
			return refuse("The policies would hide rows from the copy.",
						  "Run as a role with BYPASSRLS (or a superuser), or turn FORCE off for the rebuild.");
		}
	}
	sv_init(&problems);
	if (!catalog_unsupported_dependents(r->main, &r->t, tool_schema, false, &problems) ||
		!dependents_read(r->main, &r->t, &r->deps))
	{
		sv_free(&problems);
		return false;
	}
	r->have_deps = true;
	dependents_refusals(&r->deps, conn_server_version(r->main), &problems);
	for (int i = 0; i < r->deps.n; i++)
		if (r->deps.items[i].kind == DEP_FUNCTION && !r->deps.items[i].can_own)
			log_warning("function %s mentions %s but is owned by %s, whom the run's role cannot act as: it will not "
						"be re-created, so sessions that cached its plans may fail once after the swap",
						r->deps.items[i].qname, r->t.qname, r->deps.items[i].owner);
	if (problems.n > 0)
	{
		log_error("%s cannot be rebuilt: %zu thing%s around it would not survive the swap",
				  r->t.qname, problems.n, problems.n > 1 ? "s" : "");
		for (size_t i = 0; i < problems.n; i++)
			log_detail("%s", problems.items[i]);
		refuse(NULL, "Deal with these first (or rebuild the table with VACUUM FULL in a maintenance window).");
		sv_free(&problems);
		return false;
	}
	sv_free(&problems);
	return true;
}

/* The table's advisory lock: one run per table at a time. */
static bool
take_table_lock(Run *r)
{
	bool		got;

	r->lock_key = state_lock_key(r->t.oid);
	if (!state_try_lock(r->main, r->lock_key, &got))
		return false;
	if (!got)
	{
		char	   *who = state_describe_holder(r->main, r->lock_key);

		log_error("another pg_rebuild run is active on %s", r->t.qname);
		log_detail("It is held by %s. Nothing was changed.", who);
		log_hint("Wait for it to finish (pg_rebuild --status would show it), then run again.");
		free(who);
		return false;
	}
	r->locked = true;
	return true;
}

/* A dead run of this table must be cleaned up first. */
static bool
check_recorded_runs(Run *r)
{
	bool		exists;
	RunInfo    *runs;
	int			n;

	if (!state_schema_exists(r->main, tool_schema, &exists))
		return false;
	if (exists)
	{
		if (!state_list_runs(r->main, tool_schema, r->t.schema, r->t.name, &runs, &n))
			return false;
		if (n > 0)
		{
			log_error("a previous pg_rebuild run on %s did not finish and left objects behind", r->t.qname);
			for (int i = 0; i < n; i++)
				for (size_t k = 0; k < runs[i].objects.n; k++)
					log_detail("run %lld (phase %s, started %s): %s", runs[i].run_id, runs[i].phase,
							   runs[i].started, runs[i].objects.items[k]);
			log_detail("Nothing was changed.");
			print_cleanup_command(r);
			state_free_runs(runs, n);
			return false;
		}
		state_free_runs(runs, n);
	}
	return true;
}

/* The run's deterministic names must be free. */
static bool
check_names(Run *r)
{
	{
		PGresult   *res = conn_queryf(r->main,
									  "SELECT c.relname::text FROM pg_catalog.pg_class c "
									  "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
									  "WHERE n.nspname = %text AND c.relname = ANY (ARRAY[%text, %text])",
									  r->t.schema, r->plan.shadow_name, r->plan.old_name);

		if (res == NULL)
		{
			conn_report(r->main, "could not check the names of the run's tables");
			return false;
		}
		if (PQntuples(res) > 0)
		{
			char	   *q = ident_quote_qualified(r->t.schema, PQgetvalue(res, 0, 0));

			log_error("a table named %s already exists, and pg_rebuild needs that name for this run", q);
			refuse(NULL, "If it is a leftover of pg_rebuild, drop it after checking it holds nothing you need.");
			free(q);
			PQclear(res);
			return false;
		}
		PQclear(res);
	}
	return true;
}

/* --set-not-null: the columns must hold no NULL now (one scan for all). */
static bool
check_nulls(Run *r)
{
	StrBuf		sql;
	PGresult   *res;
	bool		ok = true;
	const StrVec *cols = &r->o->set_not_null;

	if (cols->n == 0)
		return true;
	sb_init(&sql);
	sb_append(&sql, "SELECT ");
	for (size_t i = 0; i < cols->n; i++)
	{
		if (i > 0)
			sb_append(&sql, ", ");
		sb_append(&sql, "count(*) FILTER (WHERE ");
		ident_append(&sql, cols->items[i]);
		sb_append(&sql, " IS NULL)");
	}
	sb_appendf(&sql, " FROM ONLY %s", r->t.qname);
	log_verbose("counting NULLs in %zu column(s) of %s", cols->n, r->t.qname);
	res = conn_query(r->main, sql.data);
	sb_free(&sql);
	if (res == NULL)
	{
		conn_report(r->main, "could not count the NULLs of the --set-not-null columns");
		return false;
	}
	for (size_t i = 0; i < cols->n; i++)
	{
		long long	n = atoll(PQgetvalue(res, 0, (int) i));

		if (n > 0)
		{
			char	   *q = ident_quote(cols->items[i]);
			char		buf[32];

			log_error("column %s of %s holds %s NULL value%s: it cannot be made NOT NULL", q, r->t.qname,
					  format_count(n, buf, sizeof(buf)), n > 1 ? "s" : "");
			ok = false;
			free(q);
		}
	}
	PQclear(res);
	if (!ok)
		refuse(NULL, "Update those rows (or give the column a value) first, then run again.");
	return ok;
}

static bool
make_plan(Run *r)
{
	char	   *err = NULL;

	r->plan_input = (PlanInput) {
		.table = &r->t,
		.set_not_null = &r->o->set_not_null,
		.order_by = r->o->order_by,
		.n_order_by = r->o->n_order_by,
		.tool_schema = tool_schema,
		.lock_key = state_lock_key(r->t.oid),
		.server_version = conn_server_version(r->main),
	};
	if (!plan_build(&r->plan_input, &r->plan, &err))
	{
		log_error("%s cannot be rebuilt by this version: %s", r->t.qname, err);
		refuse(NULL, NULL);
		free(err);
		return false;
	}
	r->have_plan = true;
	if (!plan_dependents(&r->plan_input, &r->plan, &r->deps, &r->dplan, &err))
	{
		log_error("%s cannot be rebuilt by this version: %s", r->t.qname, err);
		refuse(NULL, NULL);
		free(err);
		return false;
	}
	r->have_dplan = true;
	return true;
}

static bool
preflight(Run *r)
{
	long long	oid;
	char	   *found_schema = NULL;
	char	   *canon;

	phase_begin(&r->clock, PHASE_PREFLIGHT);
	r->main = conn_open(&r->params, "main");
	if (r->main == NULL || !check_server(r))
		return false;
	oid = catalog_resolve_table(r->main, r->o->table_schema, r->o->table_name, &found_schema);
	if (oid < 0)
		return false;
	if (oid == 0)
	{
		char	   *q = r->o->table_schema ? ident_quote_qualified(r->o->table_schema, r->o->table_name)
			: ident_quote(r->o->table_name);

		log_error("table %s does not exist%s", q,
				  r->o->table_schema ? "" : " in any schema of the search_path");
		refuse(NULL, "Check the name and the database (-d). Unquoted names are folded to lower case: "
			   "use -t '\"MyTable\"' for a mixed-case name, and schema.table outside the search_path.");
		free(q);
		return false;
	}
	free(found_schema);
	if (!catalog_read_table(r->main, (unsigned int) oid, &r->t))
		return false;
	r->have_table = true;
	if (!check_relation_kind(&r->t) || !check_ownership(r) || !take_table_lock(r) ||
		!check_recorded_runs(r) || !check_key_and_indexes(&r->t) || !check_requested_columns(r) ||
		!check_dependents(r) || !make_plan(r) || !check_names(r) || !check_nulls(r))
		return false;
	canon = catalog_canonical_text(&r->t);
	r->fingerprint = fingerprint_text(canon);
	free(canon);
	canon = dependents_canonical_text(&r->deps);
	r->dep_fingerprint = fingerprint_text(canon);
	free(canon);
	return true;
}

static void
print_intro(const Run *r)
{
	const TableDesc *t = &r->t;
	const IndexDesc *key = &t->indexes[t->key_index];
	char		rows[32];
	char		heap[32];
	char		total[32];
	StrBuf		changes;

	if (t->reltuples >= 0)
		format_count((long long) t->reltuples, rows, sizeof(rows));
	else
		snprintf(rows, sizeof(rows), "an unknown number of");	/* never analyzed */
	log_info("rebuilding table %s in database %s: about %s rows, heap %s, total %s with %d index%s",
			 t->qname, PQdb(r->main->pg), rows,
			 format_bytes(t->heap_bytes, heap, sizeof(heap)), format_bytes(t->total_bytes, total, sizeof(total)),
			 t->nindexes, t->nindexes == 1 ? "" : "es");
	sb_init(&changes);
	for (size_t i = 0; i < r->o->set_not_null.n; i++)
	{
		sb_append(&changes, changes.len ? "; NOT NULL on " : "NOT NULL on ");
		ident_append(&changes, r->o->set_not_null.items[i]);
	}
	if (r->o->n_order_by > 0)
	{
		char	   *ob = order_items_sql(r->o->order_by, r->o->n_order_by, NULL);

		sb_appendf(&changes, "%srows stored in order of %s", changes.len ? "; " : "", ob);
		free(ob);
	}
	log_info("  changes: %s", changes.len ? changes.data : "none (compaction only)");
	sb_free(&changes);
	log_info("  replay key: %s (%s); jobs %d; lock timeout %d ms; wait timeout %.0f s",
			 key->name, key->primary ? "primary key" : "unique index", r->o->jobs,
			 r->o->lock_timeout_ms, r->o->wait_timeout_s);
}

/* ------------------------------------------------------------------------
 * --dry-run: the plan, each statement with its lock
 * ------------------------------------------------------------------------ */

static void
print_list(const char *phase, const StmtList *l)
{
	for (int i = 0; i < l->n; i++)
		printf("-- [%s] lock: %s\n%s;\n\n", phase, l->items[i].lock, l->items[i].sql);
}

static void
print_dry_run(const Run *r)
{
	const Plan *p = &r->plan;
	const TableDesc *t = &r->t;

	printf("-- pg_rebuild plan for %s (dry run: nothing was changed)\n\n", t->qname);
	printf("-- [preflight] lock: ACCESS SHARE on the table (catalog reads%s)\n\n",
		   r->o->set_not_null.n ? "; one scan counting NULLs" : "");
	printf("-- [install] one transaction, SET LOCAL lock_timeout = '%dms', retried with backoff "
		   "up to %.0f s; the run and each object are recorded in %s.runs / run_objects\n",
		   r->o->lock_timeout_ms, r->o->wait_timeout_s, tool_schema);
	print_list("install", &p->install);
	printf("-- [install] then, on a second connection, held until the swap commits (lets the application's "
		   "reads and writes through; makes DDL, VACUUM FULL, CLUSTER and CREATE INDEX on the table wait, and "
		   "pg_rebuild cancels such a waiter so the application does not queue behind it)\n"
		   "-- lock: SHARE UPDATE EXCLUSIVE on the table, waiting at most --wait-timeout\n"
		   "BEGIN;\nLOCK TABLE %s IN SHARE UPDATE EXCLUSIVE MODE;\n\n", t->qname);
	print_list("copy", &p->shadow);
	printf("-- [copy] lock: ACCESS SHARE on the table; one transaction per block range, "
		   "all under one exported snapshot (%d connection%s)\n%s%s%s;\n\n",
		   r->o->jobs, r->o->jobs > 1 ? "s" : "", p->copy_sql,
		   (p->copy_order_by || conn_server_version(r->main) < 140000) ? "" :
		   " WHERE ctid >= '(<first block>,0)' AND ctid < '(<next range>,0)'",
		   p->copy_order_by ? p->copy_order_by : "");
	print_list("index", &p->indexes);
	print_list("index", &p->constraints);
	if (r->dplan.prepare.n > 0)
		printf("-- [index] one transaction, SET LOCAL lock_timeout, retried with backoff:\n\n");
	print_list("index", &r->dplan.prepare);
	printf("-- [replay] lock: ROW EXCLUSIVE on the shadow table, ACCESS SHARE on the table; "
		   "batches of %d log entries, each in one REPEATABLE READ transaction ($1 = last entry of the batch)\n"
		   "%s;\n%s;\n%s;\n\n", REPLAY_BATCH_DEFAULT, p->replay_delete, p->replay_insert, p->replay_trim);
	printf("-- [replay] lock: SHARE UPDATE EXCLUSIVE on the shadow table only\nANALYZE %s;\n\n", p->shadow_q);
	printf("-- [swap] in the second connection's transaction, before the lock: re-read the table's definition "
		   "and the objects around it (they must match preflight's; their definitions are captured now), "
		   "recorded and prepared; read the grants the shadow got from default privileges; replay batches "
		   "until one is small\n"
		   "-- on lock timeout: ROLLBACK TO SAVEPOINT, name the blockers, replay a batch, back off with jitter, "
		   "retry, up to %.0f s\n"
		   "SAVEPOINT pgr_swap;\nSET LOCAL lock_timeout = '%dms';\n"
		   "-- lock: ACCESS EXCLUSIVE on the table (held until COMMIT)\nLOCK TABLE %s IN ACCESS EXCLUSIVE MODE;\n"
		   "-- one round trip: the recorded reads again, each result compared with the first "
		   "(any difference: read and check everything again under the lock)\n"
		   "-- one round trip: replay the rest of the log (same statements as above, all entries)\n"
		   "-- one round trip: the statements below, then revoke any grant the new table got from default "
		   "privileges, then its own grants:\n\n",
		   r->o->wait_timeout_s, r->o->lock_timeout_ms, t->qname);
	print_list("swap", &r->dplan.before_renames);
	print_list("swap", &p->swap);
	print_list("swap", &r->dplan.after_renames);
	print_list("swap", &p->grants);
	printf("-- [swap] record the swap (one round trip); check: same privileges as before; nothing depends on "
		   "the old table but its own parts\nCOMMIT;\n\n");
	print_list("finish", &p->finish);
	printf("-- [finish] lock: none on the table\nDROP FUNCTION %s();\nDROP TABLE %s;\n\n",
		   p->func_q, p->log_q);
	print_list("finish", &r->dplan.validate);
}

/* ------------------------------------------------------------------------
 * Install: run record, log table, capture trigger (SHARE ROW EXCLUSIVE)
 * ------------------------------------------------------------------------ */

static bool
install_once(Run *r)
{
	const Plan *p = &r->plan;
	const char *ts = tool_schema;

	if (!conn_commandv(r->main, "BEGIN; SET LOCAL lock_timeout = '%dms'", r->o->lock_timeout_ms))
		return false;
	r->run_id = state_create_run(r->main, ts, r->t.oid, r->t.schema, r->t.name, r->lock_key);
	if (r->run_id == 0 ||
		!state_record(r->main, ts, r->run_id, "log", ts, p->log_name, NULL, NULL) ||
		!state_record(r->main, ts, r->run_id, "function", ts, p->func_name, NULL, NULL) ||
		!state_record(r->main, ts, r->run_id, "trigger", r->t.schema, p->capture_trigger, r->t.schema, r->t.name) ||
		!state_record(r->main, ts, r->run_id, "trigger", r->t.schema, p->truncate_trigger, r->t.schema, r->t.name))
		return false;
	for (int i = 0; i < p->install.n; i++)
		if (!conn_command(r->main, p->install.items[i].sql))
			return false;
	pgr_test_pause("BEFORE_INSTALL_COMMIT");
	return conn_command(r->main, "COMMIT");
}

static bool
install(Run *r)
{
	double		start = pgr_now();
	double		deadline = start + r->o->wait_timeout_s;
	Backoff		b;
	int			attempt = 0;

	phase_begin(&r->clock, PHASE_INSTALL);
	if (!state_install(r->main, tool_schema))
		return false;
	backoff_init(&b, r->o->lock_timeout_ms / 2.0 + 1, 5000, (uint64_t) (start * 1e6));
	for (;;)
	{
		attempt++;
		if (install_once(r))
			break;
		if (conn_lost(r->main))
		{
			report_failure(r, r->main, "could not install the capture trigger");
			return false;		/* the recovery finds out whether it committed */
		}
		r->run_id = 0;			/* the transaction rolled back with its record */
		if (!conn_failed_with(r->main, "55P03") || pgr_interrupted)
		{
			conn_report(r->main, "could not install the capture trigger");
			conn_best_effort(r->main, "ROLLBACK");
			return false;
		}
		conn_best_effort(r->main, "ROLLBACK");
		swap_report_blockers(r->main, &r->t, "install", attempt, pgr_now() - start);
		if (pgr_now() >= deadline)
		{
			log_error("could not lock %s to install the capture trigger within --wait-timeout (%.0f s)",
					  r->t.qname, r->o->wait_timeout_s);
			log_detail("Creating a trigger needs SHARE ROW EXCLUSIVE, which waits for every open "
					   "transaction that wrote to the table.");
			log_hint("Run again when the long transactions are over, or give more time with --wait-timeout.");
			return false;
		}
		pgr_sleep_ms(backoff_clamp(backoff_next(&b), (deadline - pgr_now()) * 1000.0));
	}
	pgr_test_pause("AFTER_INSTALL");
	phase_end(&r->clock, PHASE_INSTALL, NULL);
	return true;
}

/* ------------------------------------------------------------------------
 * Copy and index
 * ------------------------------------------------------------------------ */

/*
 * Creates the shadow table (recorded in the same transaction); drops a
 * shadow left by an interrupted copy first, so a copy can start over.
 */
static bool
create_shadow(Run *r)
{
	const Plan *p = &r->plan;

	if (!conn_command(r->main, "BEGIN") ||
		!conn_commandv(r->main, "DROP TABLE IF EXISTS %s", p->shadow_q) ||
		!state_forget(r->main, tool_schema, r->run_id, "shadow", r->t.schema, p->shadow_name) ||
		!state_record(r->main, tool_schema, r->run_id, "shadow", r->t.schema, p->shadow_name, NULL, NULL) ||
		!state_set_phase(r->main, tool_schema, r->run_id, "copy"))
		return false;
	for (int i = 0; i < p->shadow.n; i++)
		if (!conn_command(r->main, p->shadow.items[i].sql))
			return false;
	return conn_command(r->main, "COMMIT");
}

static bool
copy_phase(Run *r)
{
	Conn	   *failed = NULL;
	char		rows[32];
	char		note[96];

	phase_begin(&r->clock, PHASE_COPY);
	if (!ensure_guard(r))
		return false;
	if (!create_shadow(r))
	{
		report_failure(r, r->main, "could not create the shadow table");
		conn_best_effort(r->main, "ROLLBACK");
		return false;
	}
	if (!open_workers(r))
		return false;
	pgr_test_pause("COPY_START");
	if (!copy_run(r->main, r->workers, r->nworkers, &r->t, &r->plan, r->o->n_order_by > 0,
				  run_tick, r, &r->copy, &failed))
	{
		if (failed || !r->guard.stop)
			report_failure(r, failed ? failed : r->holder, "could not copy the rows");
		return false;
	}
	snprintf(note, sizeof(note), "%s rows in %d chunk%s", format_count(r->copy.rows, rows, sizeof(rows)),
			 r->copy.chunks, r->copy.chunks == 1 ? "" : "s");
	phase_end(&r->clock, PHASE_COPY, note);
	return true;
}

/*
 * Runs l in one transaction under --lock-timeout, retried with backoff up to
 * --wait-timeout (statements that lock other tables, such as adding a
 * foreign key, must never make the application queue behind them).
 */
static bool
run_with_lock_retries(Run *r, const StmtList *l, const char *what)
{
	double		start = pgr_now();
	double		deadline = start + r->o->wait_timeout_s;
	Backoff		b;

	if (l->n == 0)
		return true;
	backoff_init(&b, r->o->lock_timeout_ms / 2.0 + 1, 5000, (uint64_t) (start * 1e6) + 17);
	for (;;)
	{
		bool		ok = conn_commandv(r->main, "BEGIN; SET LOCAL lock_timeout = '%dms'", r->o->lock_timeout_ms);

		for (int i = 0; ok && i < l->n; i++)
			ok = conn_command(r->main, l->items[i].sql);
		if (ok && conn_command(r->main, "COMMIT"))
			return true;
		if (!conn_failed_with(r->main, "55P03") || pgr_now() >= deadline || pgr_interrupted)
		{
			char	   *msg = pgr_psprintf("could not %s", what);

			report_failure(r, r->main, msg);
			free(msg);
			conn_best_effort(r->main, "ROLLBACK");
			return false;
		}
		conn_best_effort(r->main, "ROLLBACK");
		pgr_sleep_ms(backoff_clamp(backoff_next(&b), (deadline - pgr_now()) * 1000.0));
	}
}

static bool
index_phase(Run *r)
{
	const Plan *p = &r->plan;
	char	  **tasks = pgr_calloc((size_t) (p->indexes.n + 1), sizeof(char *));
	Conn	   *failed = NULL;
	bool		ok;
	char		note[64];

	phase_begin(&r->clock, PHASE_INDEX);
	if (!ensure_guard(r) || (r->nworkers == 0 && !open_workers(r)))
	{
		free(tasks);
		return false;
	}
	if (!state_set_phase(r->main, tool_schema, r->run_id, "index"))
	{
		free(tasks);
		report_failure(r, r->main, "could not record the phase");
		return false;
	}
	for (int i = 0; i < p->indexes.n; i++)
		tasks[i] = p->indexes.items[i].sql;
	ok = conn_pool_run(r->workers, r->nworkers, tasks, p->indexes.n, NULL, NULL, run_tick, r, &failed);
	free(tasks);
	if (!ok)
	{
		if (failed || !r->guard.stop)
			report_failure(r, failed ? failed : r->holder, "could not build an index on the shadow table");
		return false;
	}
	if (!conn_command(r->main, "BEGIN"))
	{
		report_failure(r, r->main, "could not add the constraints");
		return false;
	}
	for (int i = 0; i < p->constraints.n; i++)
		if (!conn_command(r->main, p->constraints.items[i].sql))
		{
			report_failure(r, r->main, "could not add a constraint or setting to the shadow table");
			conn_best_effort(r->main, "ROLLBACK");
			return false;
		}
	if (!conn_command(r->main, "COMMIT"))
	{
		report_failure(r, r->main, "could not add the constraints");
		return false;
	}
	close_workers(r);
	if (!run_with_lock_retries(r, &r->dplan.prepare, "add the foreign keys and statistics to the shadow table"))
		return false;
	snprintf(note, sizeof(note), "%d index%s", p->indexes.n, p->indexes.n == 1 ? "" : "es");
	phase_end(&r->clock, PHASE_INDEX, note);
	return true;
}

/* ------------------------------------------------------------------------
 * Replay, swap, finish
 * ------------------------------------------------------------------------ */

/* The highest log id handed out so far (what was captured), -1 on failure. */
static long long
captured_so_far(Run *r)
{
	char	   *sql = pgr_psprintf("SELECT coalesce(max(%s), 0) FROM %s", r->plan.log_id_q, r->plan.log_q);
	PGresult   *res = conn_query(r->main, sql);
	long long	n = -1;

	free(sql);
	if (res)
	{
		n = atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	return n;
}

/*
 * Replays batches until one consumes fewer than threshold entries.  Stops
 * the run when the backlog has not shrunk for --catchup-timeout.
 */
static bool
replay_until_small(Run *r, long long threshold)
{
	double		start = pgr_now();
	long long	best_backlog = -1;
	double		best_at = start;
	long long	captured_at_start = captured_so_far(r);
	long long	applied_at_start = r->replayed;
	double		last_touch = start;

	for (;;)
	{
		long long	n = replay_batch(r->main, &r->plan, REPLAY_BATCH_DEFAULT);
		long long	backlog;
		char		a[32];
		char		b[32];
		double		now;

		if (n < 0)
		{
			report_failure(r, r->main, "could not apply the captured changes");
			return false;
		}
		r->replayed += n;
		pgr_test_pause("REPLAY_BATCH");
		if (!guard_tick(&r->guard))
		{
			if (!r->guard.stop)
				report_failure(r, r->holder, "lost the lock on the table");
			return false;
		}
		if (n < threshold)
			return true;
		if (pgr_interrupted)
		{
			log_error("interrupted during the replay");
			return false;
		}
		backlog = replay_backlog(r->main, &r->plan);
		now = pgr_now();
		if (backlog >= 0 && (best_backlog < 0 || backlog < best_backlog))
		{
			best_backlog = backlog;
			best_at = now;
		}
		else if (now - best_at > r->o->catchup_timeout_s)
		{
			long long	captured = captured_so_far(r);
			double		el = now - start;

			log_error("the replay is not catching up with the application's writes: the backlog "
					  "(about %lld changes) has not shrunk for %.0f s (--catchup-timeout)", backlog,
					  r->o->catchup_timeout_s);
			log_detail("Changes were captured at %.0f per second and applied at %.0f per second.",
					   captured >= 0 && captured_at_start >= 0 ? (double) (captured - captured_at_start) / el : 0.0,
					   (double) (r->replayed - applied_at_start) / el);
			log_hint("Run it at a quieter time, or with more time (--catchup-timeout).");
			return false;
		}
		if (now - last_touch >= 1.0)
		{
			/* last progress, for --status */
			if (!state_set_phase(r->main, tool_schema, r->run_id, "replay"))
			{
				report_failure(r, r->main, "could not record the progress");
				return false;
			}
			last_touch = now;
		}
		log_progress("replay: %s changes applied, backlog about %s, %.0f changes/s",
					 format_count(r->replayed, a, sizeof(a)), format_count(backlog < 0 ? 0 : backlog, b, sizeof(b)),
					 (double) (r->replayed - applied_at_start) / (now - start + 1e-9));
	}
}

static bool
replay_phase(Run *r)
{
	char		note[96];
	char		n[32];

	phase_begin(&r->clock, PHASE_REPLAY);
	if (!ensure_guard(r))
		return false;
	if (!state_set_phase(r->main, tool_schema, r->run_id, "replay"))
	{
		report_failure(r, r->main, "could not record the phase");
		return false;
	}
	if (!replay_until_small(r, SWAP_BACKLOG_THRESHOLD))
		return false;
	/* Statistics before the swap, so the first queries on the new table plan well. */
	if (!conn_commandv(r->main, "ANALYZE %s", r->plan.shadow_q))
	{
		report_failure(r, r->main, "could not analyze the shadow table");
		return false;
	}
	if (!replay_until_small(r, SWAP_BACKLOG_THRESHOLD))
		return false;
	log_progress_clear();
	snprintf(note, sizeof(note), "%s changes applied", format_count(r->replayed, n, sizeof(n)));
	phase_end(&r->clock, PHASE_REPLAY, note);
	return true;
}

static bool
swap_phase(Run *r)
{
	SwapSettings s = {
		.lock_timeout_ms = r->o->lock_timeout_ms,
		.wait_timeout_s = r->o->wait_timeout_s,
		.tool_schema = tool_schema,
		.run_id = r->run_id,
		.fingerprint = r->fingerprint,
		.dep_fingerprint = r->dep_fingerprint,
		.plan_input = &r->plan_input,
		.kill_blockers = r->o->kill_blockers,
		.set_not_null = &r->o->set_not_null,
		.guard = &r->guard,
	};
	char		note[128];

	phase_begin(&r->clock, PHASE_SWAP);
	if (!ensure_guard(r))
		return false;
	if (!state_set_phase(r->main, tool_schema, r->run_id, "swap"))
	{
		report_failure(r, r->main, "could not record the phase");
		return false;
	}
	pgr_test_pause("BEFORE_SWAP");
	if (!swap_run(r->main, &r->t, &r->plan, &s, &r->swap))
	{
		if (conn_lost(r->holder))
			report_failure(r, r->holder, "the swap was interrupted");
		return false;
	}
	r->swapped = true;
	close_holder(r);			/* its transaction committed with the swap */
	r->replayed += r->swap.final_entries;
	snprintf(note, sizeof(note), "ACCESS EXCLUSIVE held %.0f ms, %d attempt%s, %lld changes applied under the lock",
			 r->swap.lock_held_ms, r->swap.attempts, r->swap.attempts == 1 ? "" : "s", r->swap.final_entries);
	phase_end(&r->clock, PHASE_SWAP, note);
	return true;
}

static bool
finish_phase(Run *r)
{
	StrVec		removed;
	bool		ok;
	PGresult   *res;

	phase_begin(&r->clock, PHASE_FINISH);
	pgr_test_pause("FINISH");
	sv_init(&removed);
	ok = state_cleanup_run(r->main, tool_schema, r->run_id, r->o->lock_timeout_ms,
						   r->o->wait_timeout_s, &removed);
	for (size_t i = 0; i < removed.n; i++)
		log_verbose("%s", removed.items[i]);
	sv_free(&removed);
	if (!ok)
		return false;
	r->run_id = 0;
	res = conn_queryf(r->main, "SELECT pg_catalog.pg_relation_size(c.oid)::int8, "
					  "pg_catalog.pg_total_relation_size(c.oid)::int8 FROM pg_catalog.pg_class c "
					  "WHERE c.oid = pg_catalog.to_regclass(%text)", r->t.qname);
	if (res && PQntuples(res) == 1)
	{
		r->new_heap = res_int8(res, 0, 0);
		r->new_total = res_int8(res, 0, 1);
	}
	PQclear(res);
	phase_end(&r->clock, PHASE_FINISH, NULL);
	return true;
}

static void
print_summary(const Run *r)
{
	char		rows[32];
	char		h0[32];
	char		h1[32];
	char		t0[32];
	char		t1[32];
	char		all[32];

	log_info("rebuilt %s: %s rows; heap %s -> %s; total %s -> %s; %s in all; "
			 "ACCESS EXCLUSIVE held %.0f ms at the swap",
			 r->t.qname, format_count(r->copy.rows, rows, sizeof(rows)),
			 format_bytes(r->t.heap_bytes, h0, sizeof(h0)), format_bytes(r->new_heap, h1, sizeof(h1)),
			 format_bytes(r->t.total_bytes, t0, sizeof(t0)), format_bytes(r->new_total, t1, sizeof(t1)),
			 format_duration(pgr_now() - r->clock.run_started, all, sizeof(all)), r->swap.lock_held_ms);
}

static void
run_free(Run *r)
{
	close_workers(r);
	close_holder(r);
	if (r->main && r->locked && conn_ok(r->main))
		state_unlock(r->main, r->lock_key);
	conn_close(r->main);
	if (r->have_plan)
		plan_free(&r->plan);
	if (r->have_dplan)
		dep_plan_free(&r->dplan);
	if (r->have_deps)
		dependents_free(&r->deps);
	if (r->have_table)
		catalog_free_table(&r->t);
	free(r->params.password);
	free(r->params.startup_options);
}

/* ------------------------------------------------------------------------
 * The steps of a run, and going on after a lost connection
 * ------------------------------------------------------------------------ */

typedef enum Step
{
	STEP_INSTALL,
	STEP_COPY,
	STEP_INDEX,
	STEP_REPLAY,
	STEP_SWAP,
	STEP_FINISH,
	STEP_DONE
} Step;

static bool
run_step(Run *r, Step step)
{
	switch (step)
	{
		case STEP_INSTALL:
			return install(r);
		case STEP_COPY:
			return copy_phase(r);
		case STEP_INDEX:
			return index_phase(r);
		case STEP_REPLAY:
			return replay_phase(r);
		case STEP_SWAP:
			return swap_phase(r);
		case STEP_FINISH:
			return finish_phase(r);
		case STEP_DONE:
			break;
	}
	return true;
}

static bool
any_connection_lost(const Run *r)
{
	if (r->main == NULL || conn_lost(r->main))
		return true;
	if (r->holder && conn_lost(r->holder))
		return true;
	for (int i = 0; i < r->nworkers; i++)
		if (conn_lost(r->workers[i]))
			return true;
	return false;
}

/*
 * One try at taking the run back after a lost connection: reconnect (the
 * main connection too, unless a round trip shows it alive), take the table's
 * lock again, find out from the run's record where the run is, and choose
 * the step to go on from.  *lost says that it failed on a lost connection
 * again (worth another try).
 */
static bool
recover_once(Run *r, Step *step, bool *lost)
{
	RunInfo    *runs;
	int			n;
	bool		got;
	RunInfo    *mine = NULL;
	PGresult   *res;

	*lost = false;
	close_workers(r);
	close_holder(r);
	conn_best_effort(r->main, "ROLLBACK");
	res = r->main ? conn_query(r->main, "SELECT 1") : NULL;
	if (res == NULL)
	{
		conn_close(r->main);
		r->locked = false;		/* the session lock went with the session */
		r->main = open_as_owner(r, "main");
		if (r->main == NULL)
			return false;
	}
	PQclear(res);
	r->guard.n_our_pids = 0;
	guard_add_pid(&r->guard, conn_backend_pid(r->main));
	if (!r->locked)
	{
		if (!state_try_lock(r->main, r->lock_key, &got))
		{
			*lost = conn_lost(r->main);
			return false;
		}
		if (!got)
		{
			char	   *who = state_describe_holder(r->main, r->lock_key);

			log_error("after reconnecting, the table's pg_rebuild lock is held by %s", who);
			log_detail("Another pg_rebuild (perhaps a --cleanup) took over this run's table; this run stops.");
			free(who);
			r->run_id = 0;		/* not ours to clean any more */
			return false;
		}
		r->locked = true;
	}
	if (r->run_id == 0)
	{
		*step = STEP_INSTALL;
		return true;
	}
	if (!state_list_runs(r->main, tool_schema, r->t.schema, r->t.name, &runs, &n))
	{
		*lost = conn_lost(r->main);
		return false;
	}
	for (int i = 0; i < n; i++)
		if (runs[i].run_id == r->run_id)
			mine = &runs[i];
	if (mine == NULL)
	{
		state_free_runs(runs, n);
		if (*step == STEP_INSTALL)
		{
			r->run_id = 0;		/* the install did not commit */
			return true;
		}
		if (*step == STEP_FINISH)
		{
			*step = STEP_DONE;	/* the finish had completed */
			r->run_id = 0;
			return true;
		}
		log_error("the record of this run disappeared while it was disconnected");
		log_detail("Someone ran pg_rebuild --cleanup meanwhile; this run stops.");
		r->run_id = 0;
		return false;
	}
	if (strcmp(mine->phase, "swapped") == 0)
	{
		r->swapped = true;
		*step = STEP_FINISH;	/* the swap had committed */
	}
	else if (*step == STEP_INSTALL)
		*step = STEP_COPY;		/* the install had committed */
	else if (*step == STEP_INDEX)
		*step = STEP_COPY;		/* a copy starts over (the shadow is re-created) */
	state_free_runs(runs, n);
	log_info("reconnected: going on with the %s phase", *step == STEP_COPY ? "copy" : *step == STEP_REPLAY ?
			 "replay" : *step == STEP_SWAP ? "swap" : *step == STEP_FINISH ? "finish" : "install");
	return true;
}

static const char *
step_name(Step s)
{
	static const char *const names[] = {"install", "copy", "index", "replay", "swap", "finish", "done"};

	return names[s];
}

/* Takes the run back after a lost connection, for at most --retry-timeout. */
static bool
recover(Run *r, Step *step)
{
	double		deadline = pgr_now() + r->o->retry_timeout_s;

	r->recoveries++;
	log_warning("lost a connection during the %s phase: reconnecting (attempt %d of %d, "
				"each up to --retry-timeout %.0f s)", step_name(*step), r->recoveries, MAX_RECOVERIES,
				r->o->retry_timeout_s);
	for (;;)
	{
		bool		lost;

		if (recover_once(r, step, &lost))
			return true;
		if (!lost || pgr_now() >= deadline || pgr_interrupted)
			return false;
		pgr_sleep_ms(500);
	}
}

int
rebuild_main(const RebuildOptions *o)
{
	Run			r;
	int			code = PGR_EXIT_OK;
	Step		step = STEP_INSTALL;

	memset(&r, 0, sizeof(r));
	r.o = o;
	params_from_options(&r.params, o);
	phase_clock_init(&r.clock);

	if (!preflight(&r))
	{
		run_free(&r);
		return PGR_EXIT_FAILED;
	}
	if (o->dry_run)
	{
		print_dry_run(&r);
		run_free(&r);
		return PGR_EXIT_OK;
	}
	print_intro(&r);
	phase_end(&r.clock, PHASE_PREFLIGHT, NULL);
	guard_init(&r.guard, &r.t);
	guard_add_pid(&r.guard, conn_backend_pid(r.main));
	conn_set_wait_hook(run_tick, &r);
	guard_report_long_transactions(r.main, &r.t);

	while (step != STEP_DONE)
	{
		if (run_step(&r, step))
		{
			step++;
			continue;
		}
		if (r.guard.stop || pgr_interrupted || !any_connection_lost(&r) ||
			r.recoveries >= MAX_RECOVERIES || !recover(&r, &step))
			break;
	}
	if (step == STEP_DONE)
		print_summary(&r);
	else if (step == STEP_FINISH)
	{
		log_error("the table was rebuilt, but this run's leftovers could not all be removed");
		code = fail_run(&r);
		if (code == PGR_EXIT_OK)
			print_summary(&r);
	}
	else
		code = fail_run(&r);
	conn_set_wait_hook(NULL, NULL);
	run_free(&r);
	return code;
}

/* ------------------------------------------------------------------------
 * --cleanup and --status
 * ------------------------------------------------------------------------ */

static int
cleanup_one(Conn *c, const RebuildOptions *o, RunInfo *run, bool *left)
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
	if (o->dry_run)
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
	if (strcmp(run->phase, "swapped") == 0)
		log_info("  its swap had committed: %s is the rebuilt table; finishing its work", tq);
	sv_init(&removed);
	ok = state_cleanup_run(c, tool_schema, run->run_id, o->lock_timeout_ms, o->wait_timeout_s, &removed);
	for (size_t i = 0; i < removed.n; i++)
		log_info("  %s", removed.items[i]);
	sv_free(&removed);
	state_unlock(c, run->lock_key);
	if (!ok)
		*left = true;
	free(tq);
	return ok ? 1 : 0;
}

/*
 * Connects and lists the recorded runs (of -t TABLE, if given).  Returns
 * false on failure (logged); *exists says whether the tool schema exists.
 */
static bool
list_recorded_runs(const RebuildOptions *o, ConnParams *params, Conn **c, bool *exists,
				   RunInfo **runs, int *n)
{
	char	   *found = NULL;
	const char *schema = o->table_schema;
	bool		ok;

	*runs = NULL;
	*n = 0;
	params_from_options(params, o);
	*c = conn_open(params, "main");
	if (*c == NULL || !state_schema_exists(*c, tool_schema, exists))
		return false;
	if (!*exists)
		return true;
	if (o->table_name && schema == NULL && catalog_resolve_table(*c, NULL, o->table_name, &found) > 0)
		schema = found;
	ok = state_list_runs(*c, tool_schema, schema, o->table_name, runs, n);
	free(found);
	return ok;
}

int
rebuild_cleanup_main(const RebuildOptions *o)
{
	ConnParams	params;
	Conn	   *c = NULL;
	bool		exists = false;
	RunInfo    *runs = NULL;
	int			n = 0;
	int			cleaned = 0;
	bool		left = false;
	bool		failed = false;

	if (!list_recorded_runs(o, &params, &c, &exists, &runs, &n))
		failed = true;
	else if (!exists)
		log_info("nothing to clean up: database %s has no pg_rebuild schema", PQdb(c->pg));
	else
	{
		for (int i = 0; i < n && !failed; i++)
		{
			int			res = cleanup_one(c, o, &runs[i], &left);

			if (res < 0)
				failed = true;
			cleaned += res > 0;
		}
		if (!failed && n == 0)
			log_info("nothing to clean up: no pg_rebuild run is recorded%s%s", o->table_name ? " for table " : "",
					 o->table_name ? o->table_arg : "");
		else if (!failed && !o->dry_run)
			log_info("cleaned up %d dead run%s", cleaned, cleaned == 1 ? "" : "s");
	}
	state_free_runs(runs, n);
	conn_close(c);
	free(params.password);
	free(params.startup_options);
	if (failed)
		return PGR_EXIT_FAILED;
	return left ? PGR_EXIT_LEFTOVERS : PGR_EXIT_OK;
}

static void
print_status_json(const RunInfo *runs, int n)
{
	StrBuf		sb;

	sb_init(&sb);
	sb_append(&sb, "[");
	for (int i = 0; i < n; i++)
	{
		const RunInfo *r = &runs[i];

		sb_appendf(&sb, "%s\n  {\"run_id\": %lld, \"schema\": ", i ? "," : "", r->run_id);
		sb_append_json(&sb, r->schema_name);
		sb_append(&sb, ", \"table\": ");
		sb_append_json(&sb, r->table_name);
		sb_append(&sb, ", \"phase\": ");
		sb_append_json(&sb, r->phase);
		sb_append(&sb, ", \"started\": ");
		sb_append_json(&sb, r->started);
		sb_append(&sb, ", \"last_progress\": ");
		sb_append_json(&sb, r->updated);
		sb_appendf(&sb, ", \"alive\": %s, \"pid\": %d, \"objects\": [", r->alive ? "true" : "false", r->pid);
		for (size_t k = 0; k < r->objects.n; k++)
		{
			if (k)
				sb_append(&sb, ", ");
			sb_append_json(&sb, r->objects.items[k]);
		}
		sb_append(&sb, "]}");
	}
	sb_append(&sb, n ? "\n]\n" : "]\n");
	fputs(sb.data, stdout);
	sb_free(&sb);
}

int
rebuild_status_main(const RebuildOptions *o)
{
	ConnParams	params;
	Conn	   *c = NULL;
	bool		exists = false;
	RunInfo    *runs = NULL;
	int			n = 0;
	int			dead = 0;

	if (!list_recorded_runs(o, &params, &c, &exists, &runs, &n))
	{
		state_free_runs(runs, n);
		conn_close(c);
		free(params.password);
	free(params.startup_options);
		return PGR_EXIT_FAILED;
	}
	for (int i = 0; i < n; i++)
		dead += !runs[i].alive;
	if (o->json)
		print_status_json(runs, n);
	else if (n == 0)
		printf("no pg_rebuild run in database %s\n", PQdb(c->pg));
	else
		for (int i = 0; i < n; i++)
		{
			const RunInfo *r = &runs[i];
			char	   *tq = ident_quote_qualified(r->schema_name, r->table_name);

			printf("run %lld  table %s  phase %s  started %s  last progress %s  %s", r->run_id, tq, r->phase,
				   r->started, r->updated, r->alive ? "alive" : "DEAD");
			if (r->alive)
				printf(" (pid %d)\n", r->pid);
			else
			{
				char	   *sq = ident_shell_quote(tq);

				printf(" (was pid %d): run pg_rebuild --cleanup -t %s\n", r->pid, sq);
				free(sq);
			}
			for (size_t k = 0; k < r->objects.n; k++)
				printf("    %s\n", r->objects.items[k]);
			free(tq);
		}
	state_free_runs(runs, n);
	conn_close(c);
	free(params.password);
	free(params.startup_options);
	return dead > 0 ? PGR_EXIT_LEFTOVERS : PGR_EXIT_OK;
}
