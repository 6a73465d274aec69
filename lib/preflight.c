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
#include "clock.h"
#include "connect.h"
#include "backoff.h"
#include "fingerprint.h"
#include "inplace.h"
#include "ident.h"
#include "log.h"
#include "state.h"
#include "swap.h"

/* The table cannot be rebuilt, whatever the command asks of it (RunResult.refused). */
static bool
refused(Run *r)
{
	r->result.refused = true;
	return false;
}

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

bool
preflight_check_server(Conn *c, const char *job, bool writes)
{
	PGresult   *res;
	bool		standby;
	bool		read_only;
	char	   *source;

	res = conn_query(c, "SELECT pg_catalog.pg_is_in_recovery(), "
					 "pg_catalog.current_setting('default_transaction_read_only')::bool, "
					 "(SELECT s.source FROM pg_catalog.pg_settings s "
					 " WHERE s.name OPERATOR(pg_catalog.=) 'default_transaction_read_only')");
	if (res == NULL)
	{
		conn_report(c, "could not ask whether the server is a standby");
		return false;
	}
	standby = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	read_only = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	source = pgr_strdup(PQgetvalue(res, 0, 2));
	PQclear(res);
	if (standby)
	{
		free(source);
		if (job == NULL)
		{
			log_error("connected to a read-only standby: run against the primary");
			return refuse("The server is in recovery; a rebuild writes to the table.",
						  "Point -h/-p (or the connection string) at the primary server.");
		}
		log_error("connected to a standby: %s must run against the primary", job);
		return refuse("A standby does not see the sessions of the primary, so it cannot tell a live run from a "
					  "dead one, and it cannot remove anything.",
					  "Point -h/-p (or the connection string) at the primary server.");
	}
	if (read_only && writes)
	{
		const char *where = strcmp(source, "database") == 0 ? "the database" :
			strcmp(source, "user") == 0 ? "the role" :
			strcmp(source, "database user") == 0 ? "the role in this database" :
			strcmp(source, "client") == 0 ? "this connection (PGOPTIONS or the connection string)" :
			"the server's configuration";

		log_error("the server accepts only read-only transactions from this session: default_transaction_read_only "
				  "is on, set for %s", where);
		free(source);
		return refuse(job ? "Nothing can be removed in a read-only transaction." :
					  "A rebuild creates tables and triggers, which a read-only transaction refuses. "
					  "A provider's maintenance mode sets it this way.",
					  "Run again when the maintenance is over. If the setting is your own, pg_rebuild may "
					  "override it for its sessions: PGOPTIONS='-c default_transaction_read_only=off'.");
	}
	free(source);
	return true;
}

static bool
check_server(Run *r)
{
	int			v = conn_server_version(r->main);

	if (v < 130000)
	{
		log_error("the server runs PostgreSQL %d.%d, and pg_rebuild needs PostgreSQL 13 or later",
				  v / 10000, (v / 100) % 100);
		return refuse("pg_rebuild is tested on PostgreSQL 13 to 18 only; it reads catalog columns that older "
					  "servers do not have.",
					  "Upgrade the server, or rebuild the table with VACUUM FULL in a maintenance window.");
	}
	return preflight_check_server(r->main, NULL, true);
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

/* What preflight needs to know of the table before it takes the run's lock. */
typedef struct TablePeek
{
	unsigned int oid;
	char	   *qname;			/* "schema"."name" */
	char	   *owner;
	bool		owner_is_current;
	bool		can_act_as_owner;
	bool		has_maintain;	/* PostgreSQL 17's MAINTAIN privilege on it */
	char		relkind;
} TablePeek;

/*
 * Whether the caller may act as the table's owner: SET ROLE to it needs
 * membership before PostgreSQL 16, and from 16 on a membership granted WITH
 * SET (one granted WITH SET FALSE still gives the owner's rights through
 * INHERIT, but not SET ROLE, which the run uses).
 */
static const VersionedSql can_set_owner_sql[] = {
	{160000, "pg_catalog.pg_has_role(c.relowner, 'SET')"},
	{0, "pg_catalog.pg_has_role(c.relowner, 'MEMBER')"}};

/* PostgreSQL 17's MAINTAIN privilege, named when it is all the caller has. */
static const VersionedSql has_maintain_sql[] = {
	{170000, "pg_catalog.has_table_privilege(c.oid, 'MAINTAIN')"},
	{0, "false"}};

static void
peek_free(TablePeek *pk)
{
	free(pk->qname);
	free(pk->owner);
	memset(pk, 0, sizeof(*pk));
}

/*
 * The caller must own the table or be a member of its owner's role; the
 * run then acts as the owner (SET ROLE), and keeps its state in the
 * owner's state schema.
 */
static bool
check_ownership(Run *r, const TablePeek *pk)
{
	PGresult   *res;

	if (!pk->owner_is_current && !pk->can_act_as_owner)
	{
		char	   *oq = ident_quote(pk->owner);
		char	   *me = NULL;

		res = conn_query(r->main, "SELECT current_user::text");
		if (res)
		{
			me = pgr_strdup(PQgetvalue(res, 0, 0));
			PQclear(res);
		}
		log_error("must be the owner of table %s to rebuild it (its owner is %s, you are %s)",
				  pk->qname, pk->owner, me ? me : "?");
		if (pk->has_maintain)
			log_detail("You hold the MAINTAIN privilege on it, which allows VACUUM, ANALYZE, CLUSTER, REINDEX "
					   "and LOCK TABLE, but not renaming or dropping the table, which the swap does.");
		refuse("pg_rebuild creates a table that replaces this one, and triggers on it: that takes ownership.",
			   NULL);
		log_hint("Connect as %s, or as a member of role %s that may SET ROLE to it (GRANT %s TO <you>; "
				 "from PostgreSQL 16 not WITH SET FALSE).", oq, oq, oq);
		free(oq);
		free(me);
		return false;
	}
	if (!pk->owner_is_current)
	{
		free(r->role_name);
		r->role_name = pgr_strdup(pk->owner);
		r->role = r->role_name;
		if (!conn_set_role(r->main, r->role))
		{
			conn_report(r->main, "could not act as the table's owner");
			return false;
		}
		log_verbose("acting as role %s, the table's owner", pk->owner);
	}
	res = conn_query(r->main, "SELECT r.oid, session_user::text, r.rolsuper, "
					 "(SELECT s.rolsuper FROM pg_catalog.pg_roles s WHERE s.rolname OPERATOR(pg_catalog.=) session_user) "
					 "FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user");
	if (res == NULL || PQntuples(res) != 1)
	{
		PQclear(res);
		conn_report(r->main, "could not read the role the run acts as");
		return false;
	}
	r->role_oid = (unsigned int) strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	free(r->session_role);
	r->session_role = pgr_strdup(PQgetvalue(res, 0, 1));
	if (r->role && strcmp(PQgetvalue(res, 0, 2), "f") == 0 && strcmp(PQgetvalue(res, 0, 3), "t") == 0)
	{
		log_warning("acting as role %s, the table's owner, from a session of superuser %s", pk->owner,
					r->session_role);
		log_detail("Code that %s wrote and the rebuild runs (a default, a CHECK, an index expression, or a trigger "
				   "it adds meanwhile) runs in this session as %s, and PostgreSQL lets such code take back the "
				   "session's rights (RESET ROLE).", pk->owner, pk->owner);
		log_hint("To rebuild the tables of a role you do not trust, connect as that role (-U %s).", pk->owner);
	}
	PQclear(res);
	free(r->tool_schema_name);
	r->tool_schema_name = state_schema_name(r->role_oid);
	r->tool_schema = r->tool_schema_name;
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
		for (int i = 0; i < t->nindexes; i++)
		{
			const IndexDesc *ix = &t->indexes[i];

			/* PostgreSQL 18's temporal keys: unique as ranges that do not overlap */
			if ((ix->contype == 'p' || ix->contype == 'u') && ix->condef)
			{
				char	   *cq = ident_quote(ix->conname);

				log_detail("Constraint %s (%s) is a temporal key: WITHOUT OVERLAPS makes rows unique by "
						   "ranges that do not overlap, not by equal values, so it cannot find a row again.",
						   cq, ix->condef);
				free(cq);
			}
		}
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
		return refused(r);
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
take_table_lock(Run *r, const TablePeek *pk)
{
	bool		got;

	r->lock_key = state_lock_key(pk->oid);
	if (!state_try_lock(r->main, r->lock_key, &got))
		return false;
	if (!got)
	{
		char	   *who = state_describe_holder(r->main, r->lock_key);

		log_error("another pg_rebuild run is active on %s", pk->qname);
		log_detail("It is held by %s. Nothing was changed.", who);
		log_hint("Wait for it to finish (pg_rebuild --status would show it), then run again.");
		free(who);
		return false;
	}
	r->locked = true;
	return true;
}

/*
 * The acting role's state schema: when it exists, it must be the role's
 * own and sound (state.h); when it does not, the role (or the session user,
 * for it) must be allowed to create it.  The install checks it again,
 * under a lock.
 */
static bool
check_state(Run *r)
{
	bool		found;
	StrVec		problems;
	PGresult   *res;
	char	   *q = ident_quote(r->tool_schema);

	state_schema_free(&r->state);
	if (!state_find_schema(r->main, r->tool_schema, &r->state, &found))
	{
		free(q);
		return false;
	}
	if (!found)
	{
		bool		can;

		res = conn_query(r->main, "SELECT pg_catalog.has_database_privilege(current_user, "
						 "pg_catalog.current_database(), 'CREATE') OR pg_catalog.has_database_privilege("
						 "session_user, pg_catalog.current_database(), 'CREATE'), current_user::text, "
						 "pg_catalog.current_database()::text");
		if (res == NULL)
		{
			conn_report(r->main, "could not check the right to create the state schema");
			free(q);
			return false;
		}
		can = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		if (!can)
		{
			char	   *rq = ident_quote(PQgetvalue(res, 0, 1));
			char	   *dq = ident_quote(PQgetvalue(res, 0, 2));

			log_error("role %s may not create schemas in database %s, and pg_rebuild keeps the runs of %s in a "
					  "schema of its own, %s, which does not exist yet", PQgetvalue(res, 0, 1),
					  PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 1), r->tool_schema);
			refuse(NULL, NULL);
			log_hint("Have the database's owner or an administrator run once either GRANT CREATE ON DATABASE %s "
					 "TO %s, or CREATE SCHEMA %s AUTHORIZATION %s.", dq, rq, q, rq);
			free(rq);
			free(dq);
		}
		PQclear(res);
		free(q);
		return can;
	}
	free(q);
	sv_init(&problems);
	if (r->state.owner != r->role_oid)
		sv_push_owned(&problems, pgr_psprintf("schema %s is owned by role %s, not by the role it is named for",
											  r->state.name, r->state.owner_name));
	if (!state_check_trust(r->main, &r->state, &problems))
	{
		conn_report(r->main, "could not check pg_rebuild's state schema");
		sv_free(&problems);
		return false;
	}
	if (problems.n > 0)
	{
		state_report_untrusted(&r->state, &problems);
		log_detail("Nothing was changed.");
		sv_free(&problems);
		return false;
	}
	sv_free(&problems);
	return true;
}

/*
 * Whether the run recorded of an earlier table of this name (another OID)
 * left nothing but that table, kept by --keep-old (or not dropped yet): it
 * touches nothing a run on the table now creates, so it does not stand in
 * the way.  --cleanup drops it.
 */
static bool
only_old_table_left(const RunInfo *run, unsigned int relid)
{
	if (run->alive || run->relid == relid || run->objects.n == 0)
		return false;
	for (size_t k = 0; k < run->objects.n; k++)
		if (strncmp(run->objects.items[k], "old ", 4) != 0)
			return false;
	return true;
}

/* Refuses when runs of this table are recorded in s (read after s was checked). */
static bool
no_runs_recorded_in(Run *r, const StateSchema *s)
{
	RunInfo    *runs;
	int			n;
	int			kept = 0;

	if (!state_list_runs(r->main, s, r->t->oid, r->t->schema, r->t->name, &runs, &n))
	{
		conn_report(r->main, "could not read the pg_rebuild runs");
		return false;
	}
	for (int i = 0; i < n; i++)
		if (only_old_table_left(&runs[i], r->t->oid))
		{
			log_verbose("run %lld left the old table of %s, %s: it stays until pg_rebuild --cleanup", runs[i].run_id,
						r->t->qname, runs[i].objects.items[0]);
			kept++;
		}
	if (n > kept)
	{
		log_error("a previous pg_rebuild run on %s did not finish and left objects behind", r->t->qname);
		for (int i = 0; i < n; i++)
			for (size_t k = 0; k < runs[i].objects.n && !only_old_table_left(&runs[i], r->t->oid); k++)
				log_detail("run %lld (phase %s, started %s): %s", runs[i].run_id, runs[i].phase,
						   runs[i].started, runs[i].objects.items[k]);
		log_detail("Nothing was changed.");
		run_print_cleanup_hint(r);
	}
	state_free_runs(runs, n);
	return n == kept;
}

/*
 * A dead run of this table must be cleaned up first: one recorded in the
 * acting role's schema, or in the shared schema of format 1 when the role
 * owns it.  (A dead run of another role, the table's owner before, left
 * objects whose names check_names finds.)
 */
static bool
check_recorded_runs(Run *r)
{
	StateSchema legacy;
	bool		found;
	bool		ok = true;

	if (r->state.name && r->state.has_runs && !no_runs_recorded_in(r, &r->state))
		return false;
	if (!state_find_schema(r->main, PGR_LEGACY_SCHEMA, &legacy, &found))
		return false;
	if (found && legacy.owner == r->role_oid && legacy.has_runs)
	{
		StrVec		problems;

		sv_init(&problems);
		ok = state_check_trust(r->main, &legacy, &problems);
		if (!ok)
			conn_report(r->main, "could not check the state schema of an earlier pg_rebuild");
		else if (problems.n == 0)
			ok = no_runs_recorded_in(r, &legacy);
		sv_free(&problems);
	}
	state_schema_free(&legacy);
	return ok;
}

/* What exists already under a name the run needs, one line each. */
static const char taken_sql[] =
"SELECT w.k OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(w.s) "
"  OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(w.n) "
"FROM ROWS FROM (pg_catalog.unnest(%text::text[]), pg_catalog.unnest(%text::text[]), "
"  pg_catalog.unnest(%text::text[])) AS w(k, s, n) "
"WHERE (w.k OPERATOR(pg_catalog.=) 'relation' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c "
"    JOIN pg_catalog.pg_namespace ns ON ns.oid OPERATOR(pg_catalog.=) c.relnamespace "
"    WHERE ns.nspname OPERATOR(pg_catalog.=) w.s AND c.relname OPERATOR(pg_catalog.=) w.n)) "
"  OR (w.k OPERATOR(pg_catalog.=) 'type' AND EXISTS (SELECT 1 FROM pg_catalog.pg_type t "
"    JOIN pg_catalog.pg_namespace ns ON ns.oid OPERATOR(pg_catalog.=) t.typnamespace "
"    WHERE ns.nspname OPERATOR(pg_catalog.=) w.s AND t.typname OPERATOR(pg_catalog.=) w.n)) "
"  OR (w.k OPERATOR(pg_catalog.=) 'function' AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc p "
"    JOIN pg_catalog.pg_namespace ns ON ns.oid OPERATOR(pg_catalog.=) p.pronamespace "
"    WHERE ns.nspname OPERATOR(pg_catalog.=) w.s AND p.proname OPERATOR(pg_catalog.=) w.n)) "
"  OR (w.k OPERATOR(pg_catalog.=) 'statistics object' AND EXISTS (SELECT 1 FROM pg_catalog.pg_statistic_ext x "
"    JOIN pg_catalog.pg_namespace ns ON ns.oid OPERATOR(pg_catalog.=) x.stxnamespace "
"    WHERE ns.nspname OPERATOR(pg_catalog.=) w.s AND x.stxname OPERATOR(pg_catalog.=) w.n)) "
"UNION ALL "
"SELECT 'trigger ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(tg.tgname) "
"  OPERATOR(pg_catalog.||) ' on the table (it calls ' "
"  OPERATOR(pg_catalog.||) tg.tgfoid::pg_catalog.regprocedure::text OPERATOR(pg_catalog.||) ')' "
"FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid OPERATOR(pg_catalog.=) %oid "
"  AND tg.tgname OPERATOR(pg_catalog.=) ANY (ARRAY[%text, %text]::pg_catalog.name[]) "
"UNION ALL "
"SELECT 'no CREATE right on schema ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(n.nspname) "
"  OPERATOR(pg_catalog.||) ', where the new table is built' "
"FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) %text "
"  AND NOT pg_catalog.has_schema_privilege(n.oid, 'CREATE') "
"UNION ALL "
"SELECT 'no CREATE right on tablespace ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(ts.spcname) "
"  OPERATOR(pg_catalog.||) ', where the table or one of its indexes is' "
"FROM pg_catalog.pg_tablespace ts WHERE ts.spcname OPERATOR(pg_catalog.=) ANY (%text::text[]) "
"  AND ts.oid OPERATOR(pg_catalog.<>) (SELECT d.dattablespace FROM pg_catalog.pg_database d "
"    WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()) "
"  AND NOT pg_catalog.has_tablespace_privilege(ts.oid, 'CREATE')";

/*
 * Before anything is created: every name the run will create or rename to
 * is free, no trigger of a run is on the table already, and the role may
 * create in the table's schema and tablespaces.
 */
static bool
check_names(Run *r)
{
	StrVec		kinds;
	StrVec		schemas;
	StrVec		names;
	StrVec		spaces;
	char	   *ak;
	char	   *as;
	char	   *an;
	char	   *ats;
	PGresult   *res;

	sv_init(&kinds);
	sv_init(&schemas);
	sv_init(&names);
	sv_init(&spaces);
	plan_reserved_names(&r->plan_input, r->plan, r->deps, &kinds, &schemas, &names);
	if (r->t->tablespace)
		sv_push(&spaces, r->t->tablespace);
	if (changes_target_table(r->changes, r->t)->tablespace &&
		!sv_contains(&spaces, changes_target_table(r->changes, r->t)->tablespace))
		sv_push(&spaces, changes_target_table(r->changes, r->t)->tablespace);
	for (int i = 0; i < r->t->nindexes; i++)
		if (r->t->indexes[i].tablespace && !sv_contains(&spaces, r->t->indexes[i].tablespace))
			sv_push(&spaces, r->t->indexes[i].tablespace);
	ak = sv_text_array(&kinds);
	as = sv_text_array(&schemas);
	an = sv_text_array(&names);
	ats = sv_text_array(&spaces);
	res = conn_queryf(r->main, taken_sql, ak, as, an, r->t->oid, PGR_CAPTURE_TRIGGER, PGR_TRUNCATE_TRIGGER,
					  r->t->schema, ats);
	free(ak);
	free(as);
	free(an);
	free(ats);
	sv_free(&kinds);
	sv_free(&schemas);
	sv_free(&names);
	sv_free(&spaces);
	if (res == NULL)
	{
		conn_report(r->main, "could not check the names the run needs");
		return false;
	}
	if (PQntuples(res) > 0)
	{
		log_error("%s cannot be rebuilt: %d thing%s in the way of what the run creates", r->t->qname,
				  PQntuples(res), PQntuples(res) > 1 ? "s are" : " is");
		for (int i = 0; i < PQntuples(res); i++)
		{
			char	   *line = res_text(res, i, 0);

			log_detail("%s", line);
			free(line);
		}
		refuse(NULL, "A relation, trigger or function named pgrebuild_* is most likely left by a run of "
			   "pg_rebuild that was killed: pg_rebuild --status shows the dead runs, and pg_rebuild --cleanup "
			   "(as the role that ran it) removes them; otherwise rename or drop it after checking what it holds. "
			   "A missing right is granted by the owner of the schema or tablespace.");
		PQclear(res);
		return false;
	}
	PQclear(res);
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
/* The database's default tablespace, which the plan names for the shadow. */
static bool
read_db_tablespace(Run *r)
{
	PGresult   *res = conn_query(r->main, "SELECT ts.spcname::text FROM pg_catalog.pg_tablespace ts "
								 "WHERE ts.oid OPERATOR(pg_catalog.=) (SELECT d.dattablespace FROM pg_catalog.pg_database d "
								 "WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())");

	if (res == NULL || PQntuples(res) != 1)
	{
		PQclear(res);
		conn_report(r->main, "could not read the database's default tablespace");
		return false;
	}
	free(r->db_tablespace);
	r->db_tablespace = pgr_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

static void
set_plan_input(Run *r)
{
	r->plan_input = (PlanInput) {
		.table = r->t,
		.changes = r->changes,
		.tool_schema = r->tool_schema,
		.db_tablespace = r->db_tablespace,
		.lock_key = state_lock_key(r->t->oid),
		.lock_timeout_ms = r->s->lock_timeout_ms,
		.server_version = conn_server_version(r->main),
		.keep_old = r->s->keep_old || r->s->archive_old != NULL,
		.keep_old_table = r->s->keep_old,
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

/* Whether the table's schema has a constraint of a name (PostgreSQL 18: NOT NULL names matter). */
static const VersionedSql constraint_name_taken_sql[] = {
	{180000,
	 "SELECT EXISTS (SELECT FROM pg_catalog.pg_constraint co "
	 "WHERE co.connamespace OPERATOR(pg_catalog.=) (SELECT c.relnamespace FROM pg_catalog.pg_class c "
	 "  WHERE c.oid OPERATOR(pg_catalog.=) %oid) AND co.conname OPERATOR(pg_catalog.=) %text)"},
	{0, NULL}};

/*
 * PostgreSQL 18 keeps NOT NULL as a named constraint.  A new one (from
 * --set-not-null or --alter) is named as ALTER TABLE ... SET NOT NULL on
 * the table names it: table_column_not_null, with 1, 2, ... after the label
 * while a constraint of that name is in the schema.
 */
static bool
name_not_nulls(Run *r)
{
	const char *sql = conn_versioned(r->main, constraint_name_taken_sql);

	for (int i = 0; sql && i < r->own_changes->ncolumns; i++)
	{
		ColumnChange	 *cc = &r->own_changes->columns[i];
		const ColumnDesc *col = catalog_find_column(r->t, cc->column);

		if (!cc->set_not_null || col == NULL || col->notnull_name)
			continue;
		for (int pass = 0; cc->not_null_name == NULL; pass++)
		{
			char	 *label = pass ? pgr_psprintf("not_null%d", pass) : pgr_strdup("not_null");
			char	 *name = ident_object_name(r->t->name, col->name, label);
			PGresult *res = conn_queryf(r->main, sql, r->t->oid, name);

			free(label);
			if (res == NULL)
			{
				free(name);
				conn_report(r->main, "could not choose the name of a NOT NULL constraint");
				return refuse(NULL, NULL);
			}
			if (res_bool(res, 0, 0))
				free(name);
			else
				cc->not_null_name = name;
			PQclear(res);
		}
	}
	return true;
}

static bool
make_plan(Run *r)
{
	char	   *err = NULL;

	if (!name_not_nulls(r))
		return false;
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
		log_error_code(r->main->sqlstate, "--order-by \"%s\" is not an ORDER BY list of %s that the server accepts: %s", list,
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
		log_error_code(r->main->sqlstate, "the order of the CLUSTER index of %s (%s) cannot be used by the copy: %s", r->t->qname, list,
					   r->main->message ? r->main->message : "unknown error");
		refuse(NULL, "Give the order with --order-by, or keep the rows as they come with --no-order.");
	}
	free(list);
	return ok;
}

/* Finds the table; false (logged) when it does not exist or cannot be read. */
/*
 * Finds the table by name: its OID and owner (nothing else is read before
 * the run's lock is taken).  False (logged) when it does not exist.
 */
static bool
find_table(Run *r, TablePeek *pk)
{
	long long	oid;
	char	   *found_schema = NULL;
	PGresult   *res;

	oid = catalog_resolve_table(r->main, r->want_schema, r->want_name, &found_schema);
	free(found_schema);
	if (oid < 0)
		return false;
	if (oid != 0)
	{
		char	   *sql = pgr_psprintf("SELECT n.nspname::text, c.relname::text, "
									   "pg_catalog.pg_get_userbyid(c.relowner)::text, "
									   "c.relowner OPERATOR(pg_catalog.=) (SELECT o.oid FROM pg_catalog.pg_roles o "
									   "  WHERE o.rolname OPERATOR(pg_catalog.=) current_user), "
									   "%s, c.relkind::text, %s "
									   "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
									   "  ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
									   "WHERE c.oid OPERATOR(pg_catalog.=) %%oid",
									   conn_versioned(r->main, can_set_owner_sql),
									   conn_versioned(r->main, has_maintain_sql));

		res = conn_queryf(r->main, sql, (Oid) oid);
		free(sql);
	}
	else
		res = NULL;
	if (oid != 0 && res == NULL)
	{
		conn_report(r->main, "could not look up the table");
		return false;
	}
	if (oid == 0 || PQntuples(res) == 0)
	{
		char	   *q = r->want_schema ? ident_quote_qualified(r->want_schema, r->want_name)
			: ident_quote(r->want_name);

		PQclear(res);
		log_error("table %s does not exist%s", q, r->want_schema ? "" : " in any schema of the search_path");
		refuse(NULL, "Check the name and the database (-d). Unquoted names are folded to lower case: "
			   "use -t '\"MyTable\"' for a mixed-case name, and schema.table outside the search_path.");
		free(q);
		return false;
	}
	{
		char	   *schema = res_text(res, 0, 0);
		char	   *name = res_text(res, 0, 1);
		char	   *kind = res_text(res, 0, 5);

		pk->qname = ident_quote_qualified(schema, name);
		pk->relkind = kind ? kind[0] : 0;
		free(schema);
		free(name);
		free(kind);
	}
	pk->oid = (unsigned int) oid;
	pk->owner = res_text(res, 0, 2);
	pk->owner_is_current = res_bool(res, 0, 3);
	pk->can_act_as_owner = res_bool(res, 0, 4);
	pk->has_maintain = res_bool(res, 0, 6);
	PQclear(res);
	return true;
}

/*
 * In a REPEATABLE READ transaction: ACCESS SHARE on the table (so no DDL
 * changes it while it is read), retried under --lock-timeout up to
 * --wait-timeout.  LOCK takes no snapshot: the reads after it all see the
 * table as it is once locked.
 */
static bool
lock_for_reading(Run *r, const TablePeek *pk)
{
	double		start = pgr_now();
	double		deadline = start + r->s->wait_timeout_s;
	Backoff		b;
	TableDesc	t = {.oid = pk->oid, .qname = pk->qname};

	backoff_init(&b, r->s->lock_timeout_ms / 2.0 + 1, 5000, (uint64_t) (start * 1e6) + 3);
	if (!conn_commandv(r->main, "BEGIN ISOLATION LEVEL REPEATABLE READ; SET LOCAL lock_timeout = '%dms'",
					   r->s->lock_timeout_ms))
	{
		conn_report(r->main, "could not start reading the table");
		return false;
	}
	if (pk->relkind != 'r')
		return true;			/* not a table: read it to refuse it (LOCK would refuse some kinds first) */
	for (int attempt = 1;; attempt++)
	{
		if (conn_commandv(r->main, "SAVEPOINT pgr_read; LOCK TABLE %s IN ACCESS SHARE MODE; "
						  "RELEASE SAVEPOINT pgr_read", pk->qname))
			return true;
		if (!conn_failed_with(r->main, "55P03") || pgr_now() >= deadline || pgr_interrupted)
		{
			if (conn_failed_with(r->main, "55P03"))
			{
				log_error("could not lock %s to read its definition within --wait-timeout (%.0f s)", pk->qname,
						  r->s->wait_timeout_s);
				refuse("Another session holds ACCESS EXCLUSIVE on it (DDL, VACUUM FULL, CLUSTER).",
					   "Run again when that is over, or give more time with --wait-timeout.");
			}
			else
				conn_report(r->main, "could not lock the table to read its definition");
			return false;
		}
		conn_best_effort(r->main, "ROLLBACK TO SAVEPOINT pgr_read");
		swap_report_blockers(r->main, &t, phase_name(PHASE_PREFLIGHT), attempt, pgr_now() - start);
		pgr_sleep_ms(backoff_clamp(backoff_next(&b), (deadline - pgr_now()) * 1000.0));
	}
}

typedef enum Described
{
	DESCRIBED,
	MOVED,						/* the name leads to another table now (a swap just ended): look again */
	DESCRIBE_FAILED
} Described;

/* With the run's lock held: the table's description, in one snapshot. */
static Described
describe_table(Run *r, const TablePeek *pk)
{
	PGresult   *res;
	bool		same;

	if (!lock_for_reading(r, pk))
		return DESCRIBE_FAILED;
	res = conn_queryf(r->main, "SELECT coalesce(pg_catalog.to_regclass(%text)::pg_catalog.oid "
					  "OPERATOR(pg_catalog.=) %oid, false)", pk->qname, pk->oid);
	if (res == NULL)
	{
		conn_report(r->main, "could not look up the table");
		return DESCRIBE_FAILED;
	}
	same = res_bool(res, 0, 0);
	PQclear(res);
	if (!same)
	{
		conn_best_effort(r->main, "ROLLBACK");
		return MOVED;
	}
	r->t = pgr_calloc(1, sizeof(TableDesc));
	if (!catalog_read_table(r->main, pk->oid, r->t) || !catalog_read_cluster_order(r->main, r->t))
	{
		catalog_free_table(r->t);
		free(r->t);
		r->t = NULL;
		return DESCRIBE_FAILED;
	}
	return DESCRIBED;
}

/*
 * The run's lock on the table first, then its description in one
 * snapshot: a run started while another swaps or finishes is told that
 * another run is active, never what a half-renamed table looks like.
 * Each run holds the lock of its table's OID, and from before the swap the
 * lock of the table that replaces it, so whichever OID the name leads to, a
 * second run meets the first one's lock; a name that leads elsewhere once
 * locked (the first run ended meanwhile) is looked up again.
 */
static bool
find_and_lock(Run *r)
{
	for (int attempt = 0;; attempt++)
	{
		TablePeek	pk = {0};
		Described	d;

		if (!find_table(r, &pk) || !check_ownership(r, &pk) || !take_table_lock(r, &pk))
		{
			peek_free(&pk);
			return false;
		}
		d = describe_table(r, &pk);
		if (d == MOVED)
		{
			state_unlock(r->main, r->lock_key);
			r->locked = false;
			if (attempt < 5)
			{
				peek_free(&pk);
				continue;
			}
			log_error("table %s was replaced again and again while pg_rebuild looked at it", pk.qname);
			refuse(NULL, "Run again when whatever replaces it is done.");
		}
		peek_free(&pk);
		return d == DESCRIBED;
	}
}

bool
preflight_run(Run *r)
{
	char	   *canon;

	phase_begin(&r->clock, PHASE_PREFLIGHT);
	r->main = conn_open(r->params, "main");
	if (r->main == NULL || !check_server(r) || !find_and_lock(r))
		return false;
	if (!check_relation_kind(r->t))
		return refused(r);
	if (!check_state(r) || !check_recorded_runs(r))
		return false;
	if (!check_key_and_indexes(r->t))
		return refused(r);
	if (!check_changes(r) || !read_db_tablespace(r))
		return false;
	estimate_size(r);
	/*
	 * From resolve_alter to alter_check_plan, a savepoint that is rolled back:
	 * --alter is tried on an empty copy of the table under the shadow's name.
	 */
	if (!resolve_alter(r) || !check_dependents(r) || !make_plan(r) ||
		!alter_check_plan(r->main, &r->plan_input, r->deps, r->plan))
	{
		conn_best_effort(r->main, "ROLLBACK");
		return false;
	}
	if (!check_names(r) || !check_order(r) || !check_nulls(r) || !inplace_choose(r))
		return false;
	if (!conn_command(r->main, "COMMIT"))
	{
		conn_report(r->main, "could not end the preflight's transaction");
		return false;
	}
	canon = catalog_canonical_text(r->t);
	r->fingerprint = fingerprint_text(canon);
	free(canon);
	canon = dependents_canonical_text(r->deps);
	r->dep_fingerprint = fingerprint_text(canon);
	free(canon);
	return true;
}
