/*
 * preflight.c: the first phase of a run: read the table, check everything
 * that can be checked before anything is created, refuse with the reason,
 * and make the plan.  Changes nothing in the database.
 */
#include "preflight.h"

#include <stdlib.h>
#include <string.h>

#include "alter.h"
#include "cancel.h"
#include "connect.h"
#include "fingerprint.h"
#include "inplace.h"
#include "ident.h"
#include "log.h"
#include "state.h"

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

	if (r->t->owner_is_current)
		return true;
	res = conn_query(r->main, "SELECT current_user::text");
	if (res)
	{
		me = pgr_strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	if (!r->t->can_act_as_owner)
	{
		char	   *oq = ident_quote(r->t->owner);

		log_error("must be the owner of table %s to rebuild it (its owner is %s, you are %s)",
				  r->t->qname, r->t->owner, me ? me : "?");
		refuse("pg_rebuild creates a table that replaces this one, and triggers on it: that takes ownership.",
			   NULL);
		log_hint("Connect as %s, or as a member of role %s (GRANT %s TO <you>).", oq, oq, oq);
		free(oq);
		free(me);
		return false;
	}
	free(me);
	r->role = r->t->owner;
	if (!conn_set_role(r->main, r->role))
	{
		conn_report(r->main, "could not act as the table's owner");
		return false;
	}
	log_verbose("acting as role %s, the table's owner", r->t->owner);
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

/* The requested changes: every refusal of a change is made by changes_check. */
static bool
check_changes(const Run *r)
{
	char	   *error;
	char	   *hint;

	if (changes_check(r->changes, r->t, &error, &hint))
		return true;
	log_error("%s", error);
	refuse(NULL, hint);
	free(error);
	free(hint);
	return false;
}

static bool
check_dependents(Run *r)
{
	StrVec		problems;

	if (r->t->rls_forced)
	{
		PGresult   *res = conn_query(r->main, "SELECT rolbypassrls OR rolsuper FROM pg_catalog.pg_roles "
									 "WHERE rolname = current_user");
		bool		bypass;

		if (res == NULL)
		{
			/* the question went unanswered: say so, never "does not bypass" */
			conn_report(r->main, "could not check whether the run's role bypasses row level security");
			return refuse(NULL, NULL);
		}
		bypass = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (!bypass)
		{
			log_error("%s has FORCE ROW LEVEL SECURITY and the run's role does not bypass row level security",
					  r->t->qname);
			return refuse("The policies would hide rows from the copy.",
						  "Run as a role with BYPASSRLS (or a superuser), or turn FORCE off for the rebuild.");
		}
	}
	sv_init(&problems);
	r->deps = pgr_calloc(1, sizeof(Dependents));
	if (!catalog_unsupported_dependents(r->main, r->t, r->tool_schema, false, &problems) ||
		!dependents_read(r->main, r->t, r->deps))
	{
		sv_free(&problems);
		return false;
	}
	dependents_refusals(r->deps, conn_server_version(r->main), &problems);
	for (int i = 0; i < r->deps->n; i++)
		if (r->deps->items[i].kind == DEP_FUNCTION && !r->deps->items[i].can_own)
			log_warning("function %s mentions %s but is owned by %s, whom the run's role cannot act as: it will not "
						"be re-created, so sessions that cached its plans may fail once after the swap",
						r->deps->items[i].qname, r->t->qname, r->deps->items[i].owner);
	if (problems.n > 0)
	{
		log_error("%s cannot be rebuilt: %zu thing%s around it would not survive the swap",
				  r->t->qname, problems.n, problems.n > 1 ? "s" : "");
		for (size_t i = 0; i < problems.n; i++)
			log_detail("%s", problems.items[i]);
		refuse(NULL, "Deal with these first (or rebuild the table with VACUUM FULL in a maintenance window).");
		sv_free(&problems);
		return false;
	}
	sv_free(&problems);
	return true;
}

/*
 * Its rows and the space the rebuild should give back (estimate.h), for the
 * intro and the plan.  A statistics view that cannot be read costs the
 * estimate, not the run.
 */
static void
estimate_size(Run *r)
{
	EstimateInput in;

	if (estimate_read(r->main, r->t->oid, &in))
		estimate_compute(&in, &r->size);
	else
	{
		log_warning("could not estimate the space the rebuild gives back: %s",
					r->main->message ? r->main->message : "the table's statistics could not be read");
		memset(&r->size, 0, sizeof(r->size));
		r->size.heap_now = r->t->heap_bytes;
		r->size.rows = r->t->reltuples > 0 ? r->t->reltuples : 0;
		r->size.unknown_why = pgr_strdup("its statistics could not be read");
	}
	estimate_input_free(&in);
	if (r->size.known)
		log_verbose("estimate: heap %lld -> %lld bytes, indexes %lld -> %lld bytes (%d estimated, %d as they "
					"are), %.0f rows", r->size.heap_now, r->size.heap_after, r->size.indexes_now,
					r->size.indexes_after, r->size.indexes_estimated, r->size.indexes_unchanged, r->size.rows);
}

/* The table's advisory lock: one run per table at a time. */
static bool
take_table_lock(Run *r)
{
	bool		got;

	r->lock_key = state_lock_key(r->t->oid);
	if (!state_try_lock(r->main, r->lock_key, &got))
		return false;
	if (!got)
	{
		char	   *who = state_describe_holder(r->main, r->lock_key);

		log_error("another pg_rebuild run is active on %s", r->t->qname);
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

	if (!state_schema_exists(r->main, r->tool_schema, &exists))
		return false;
	if (exists)
	{
		if (!state_list_runs(r->main, r->tool_schema, r->t->schema, r->t->name, &runs, &n))
			return false;
		if (n > 0)
		{
			log_error("a previous pg_rebuild run on %s did not finish and left objects behind", r->t->qname);
			for (int i = 0; i < n; i++)
				for (size_t k = 0; k < runs[i].objects.n; k++)
					log_detail("run %lld (phase %s, started %s): %s", runs[i].run_id, runs[i].phase,
							   runs[i].started, runs[i].objects.items[k]);
			log_detail("Nothing was changed.");
			run_print_cleanup_hint(r);
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
	char	   *shadow = plan_shadow_name(r->t->oid);
	char	   *old = plan_old_name(r->t->oid);

	{
		PGresult   *res = conn_queryf(r->main,
									  "SELECT c.relname::text FROM pg_catalog.pg_class c "
									  "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
									  "WHERE n.nspname = %text AND c.relname = ANY (ARRAY[%text, %text])",
									  r->t->schema, shadow, old);

		free(shadow);
		free(old);
		if (res == NULL)
		{
			conn_report(r->main, "could not check the names of the run's tables");
			return false;
		}
		if (PQntuples(res) > 0)
		{
			char	   *q = ident_quote_qualified(r->t->schema, PQgetvalue(res, 0, 0));

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
	StrVec		columns;
	const StrVec *cols = &columns;

	sv_init(&columns);
	changes_new_not_null(r->changes, r->t, &columns);
	if (cols->n == 0)
	{
		sv_free(&columns);
		return true;
	}
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
	sb_appendf(&sql, " FROM ONLY %s", r->t->qname);
	log_verbose("counting NULLs in %zu column(s) of %s", cols->n, r->t->qname);
	res = conn_query(r->main, sql.data);
	sb_free(&sql);
	if (res == NULL)
	{
		conn_report(r->main, "could not count the NULLs of the --set-not-null columns");
		sv_free(&columns);
		return false;
	}
	for (size_t i = 0; i < cols->n; i++)
	{
		long long	n = atoll(PQgetvalue(res, 0, (int) i));

		if (n > 0)
		{
			char	   *q = ident_quote(cols->items[i]);
			char		buf[32];

			log_error("column %s of %s holds %s NULL value%s: it cannot be made NOT NULL", q, r->t->qname,
					  format_count(n, buf, sizeof(buf)), n > 1 ? "s" : "");
			ok = false;
			free(q);
		}
	}
	PQclear(res);
	sv_free(&columns);
	if (!ok)
		refuse(NULL, "Update those rows (or give the column a value) first, then run again.");
	return ok;
}

/* The plan's input: the table, the changes, the settings. */
static void
set_plan_input(Run *r)
{
	r->plan_input = (PlanInput) {
		.table = r->t,
		.changes = r->changes,
		.tool_schema = r->tool_schema,
		.lock_key = state_lock_key(r->t->oid),
		.lock_timeout_ms = r->s->lock_timeout_ms,
		.server_version = conn_server_version(r->main),
	};
}

/*
 * --alter: the server's reading of the subcommands, into this run's own copy
 * of the changes (the transaction it opens is closed by check_plan).
 */
static bool
resolve_alter(Run *r)
{
	r->own_changes = pgr_calloc(1, sizeof(ChangeSet));
	changes_copy(r->own_changes, r->changes);
	r->changes = r->own_changes;
	set_plan_input(r);
	if (alter_resolve(r->main, r->t, &r->plan_input, r->own_changes))
		return true;
	if (pgr_interrupted)
		log_error("interrupted");
	return false;
}

static bool
make_plan(Run *r)
{
	char	   *err = NULL;

	set_plan_input(r);
	r->plan = pgr_calloc(1, sizeof(Plan));
	if (!plan_build(&r->plan_input, r->plan, &err))
	{
		free(r->plan);
		r->plan = NULL;
		log_error("%s cannot be rebuilt by this version: %s", r->t->qname, err);
		refuse(NULL, NULL);
		free(err);
		return false;
	}
	r->dplan = pgr_calloc(1, sizeof(DepPlan));
	if (!plan_dependents(&r->plan_input, r->plan, r->deps, r->dplan, &err))
	{
		log_error("%s cannot be rebuilt by this version: %s", r->t->qname, err);
		refuse(NULL, NULL);
		free(err);
		return false;
	}
	return true;
}

/*
 * The rows' order (--order-by, or the CLUSTER index's) is SQL text that the
 * copy's statement will hold, so the server checks it first, without running
 * or planning anything (conn_parse_only), in two places:
 *  - inside an aggregate's ORDER BY, where only an ORDER BY list can stand
 *    before the closing parenthesis: LIMIT, OFFSET, FETCH, FOR UPDATE, ON
 *    CONFLICT, RETURNING, a second statement, or a comment or a quote that
 *    would swallow the parenthesis are syntax errors there, and window and
 *    set-returning functions are refused;
 *  - after the copy's own SELECT, as the copy will run it: a parenthesis
 *    that closed the aggregate early would have nothing to close there, and
 *    names and positions resolve as they will in the copy.
 * Text accepted in both places is one ORDER BY list and nothing else, read
 * the same way by the copy.  Our sessions' search_path is pg_catalog, pg_temp.
 */
static bool
check_order(Run *r)
{
	char	   *why = NULL;
	char	   *list = changes_row_order(r->changes, r->t, &why);
	char	   *in_aggregate;
	char	   *in_copy;
	bool		ok;

	free(why);
	if (list == NULL)
		return true;
	in_aggregate = pgr_psprintf("SELECT pg_catalog.array_agg(NULL::pg_catalog.int4 ORDER BY %s) FROM ONLY %s",
								list, r->t->qname);
	in_copy = pgr_psprintf("%s%s", r->plan->copy_select, r->plan->copy_order_by);
	ok = conn_parse_only(r->main, in_aggregate) && conn_parse_only(r->main, in_copy);
	free(in_aggregate);
	free(in_copy);
	if (ok)
		log_verbose("the server accepts the order of the rows: %s", list);
	else if (r->changes && r->changes->order == ROW_ORDER_GIVEN)
	{
		log_error("--order-by \"%s\" is not an ORDER BY list of %s that the server accepts: %s", list,
				  r->t->qname, r->main->message ? r->main->message : "unknown error");
		if (r->main->detail)
			log_detail("%s", r->main->detail);
		log_detail("It must be one ORDER BY list and nothing else; the server parsed it without running anything.");
		refuse(NULL, "Write it as after ORDER BY in a SELECT on the table: expressions, each with ASC or DESC "
			   "or USING an operator, NULLS FIRST or LAST, COLLATE.  Names are looked up with search_path = "
			   "pg_catalog, pg_temp: qualify your own functions, operators and collations with their schema.");
	}
	else
	{
		log_error("the order of the CLUSTER index of %s (%s) cannot be used by the copy: %s", r->t->qname, list,
				  r->main->message ? r->main->message : "unknown error");
		refuse(NULL, "Give the order with --order-by, or keep the rows as they come with --no-order.");
	}
	free(list);
	return ok;
}

/* Finds the table; false (logged) when it does not exist or cannot be read. */
static bool
find_table(Run *r)
{
	long long	oid;
	char	   *found_schema = NULL;

	oid = catalog_resolve_table(r->main, r->want_schema, r->want_name, &found_schema);
	free(found_schema);
	if (oid < 0)
		return false;
	if (oid == 0)
	{
		char	   *q = r->want_schema ? ident_quote_qualified(r->want_schema, r->want_name)
			: ident_quote(r->want_name);

		log_error("table %s does not exist%s", q, r->want_schema ? "" : " in any schema of the search_path");
		refuse(NULL, "Check the name and the database (-d). Unquoted names are folded to lower case: "
			   "use -t '\"MyTable\"' for a mixed-case name, and schema.table outside the search_path.");
		free(q);
		return false;
	}
	r->t = pgr_calloc(1, sizeof(TableDesc));
	if (!catalog_read_table(r->main, (unsigned int) oid, r->t) || !catalog_read_cluster_order(r->main, r->t))
	{
		catalog_free_table(r->t);
		free(r->t);
		r->t = NULL;
		return false;
	}
	return true;
}

bool
preflight_run(Run *r)
{
	char	   *canon;

	phase_begin(&r->clock, PHASE_PREFLIGHT);
	r->main = conn_open(r->params, "main");
	if (r->main == NULL || !check_server(r) || !find_table(r))
		return false;
	if (!check_relation_kind(r->t) || !check_ownership(r) || !take_table_lock(r) ||
		!check_recorded_runs(r) || !check_key_and_indexes(r->t) || !check_changes(r) || !check_names(r))
		return false;
	estimate_size(r);
	/* from resolve_alter to alter_check_plan, one transaction that is rolled back */
	if (!resolve_alter(r) || !check_dependents(r) || !make_plan(r) ||
		!alter_check_plan(r->main, &r->plan_input, r->deps, r->plan))
	{
		conn_best_effort(r->main, "ROLLBACK");
		return false;
	}
	if (!check_order(r) || !check_nulls(r) || !inplace_choose(r))
		return false;
	canon = catalog_canonical_text(r->t);
	r->fingerprint = fingerprint_text(canon);
	free(canon);
	canon = dependents_canonical_text(r->deps);
	r->dep_fingerprint = fingerprint_text(canon);
	free(canon);
	return true;
}
