/*
 * state.c: the state schemas of the roles that run pg_rebuild, the checks
 * that decide whether to trust one, run records, advisory locks.
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "cancel.h"
#include "clock.h"
#include "connect.h"
#include "ident.h"
#include "log.h"
#include "sqlsrc.h"

long long
state_lock_key(unsigned int table_oid)
{
	return (PGR_LOCK_CLASS << 32) | (long long) table_oid;
}

char *
state_schema_name(unsigned int role_oid)
{
	return pgr_psprintf(PGR_STATE_PREFIX "%u", role_oid);
}

/* Replaces every @schema@ in src by the quoted schema name. */
static char *
expand_schema(const char *src, const char *schema)
{
	StrBuf		sb;
	char	   *q = ident_quote(schema);
	const char *p = src;
	const char *hit;

	sb_init(&sb);
	while ((hit = strstr(p, "@schema@")) != NULL)
	{
		sb_append_n(&sb, p, (size_t) (hit - p));
		sb_append(&sb, q);
		p = hit + strlen("@schema@");
	}
	sb_append(&sb, p);
	free(q);
	return sb_steal(&sb);
}

/* ------------------------------------------------------------------------
 * Finding the state schemas
 * ------------------------------------------------------------------------ */

/* Whether the current role may SET ROLE to the owner (membership; the SET option from 16 on). */
static const VersionedSql can_act_sql[] = {
	{160000, "pg_catalog.pg_has_role(n.nspowner, 'SET')"},
	{0, "pg_catalog.pg_has_role(n.nspowner, 'MEMBER')"}
};

static bool
read_schemas(Conn *c, const char *only, StateSchema **out, int *n)
{
	char	   *spec = pgr_psprintf("SELECT n.nspname::text, n.oid, n.nspowner, "
									"pg_catalog.pg_get_userbyid(n.nspowner)::text, "
									"n.nspname OPERATOR(pg_catalog.=) %%text, %s, "
									"(SELECT pg_catalog.count(*) FROM pg_catalog.pg_class r "
									" WHERE r.relnamespace OPERATOR(pg_catalog.=) n.oid AND r.relkind OPERATOR(pg_catalog.=) 'r' "
									" AND r.relname OPERATOR(pg_catalog.~) '^log_[0-9]+$')::int4, "
									"(SELECT pg_catalog.count(*) FROM pg_catalog.pg_class r "
									" WHERE r.relnamespace OPERATOR(pg_catalog.=) n.oid "
									" AND r.relname OPERATOR(pg_catalog.=) ANY (ARRAY['runs', 'run_objects']::pg_catalog.name[])) "
									"  OPERATOR(pg_catalog.=) 2 "
									"FROM pg_catalog.pg_namespace n "
									"WHERE (%%text::text IS NULL AND (n.nspname OPERATOR(pg_catalog.=) %%text "
									"  OR n.nspname OPERATOR(pg_catalog.~) '^pgrebuild_[0-9]+$')) "
									"OR n.nspname OPERATOR(pg_catalog.=) %%text::text "
									"ORDER BY n.nspname",
									conn_versioned(c, can_act_sql));
	PGresult   *res = conn_queryf(c, spec, PGR_LEGACY_SCHEMA, only, PGR_LEGACY_SCHEMA, only);

	free(spec);
	*out = NULL;
	*n = 0;
	if (res == NULL)
	{
		conn_report(c, "could not look for pg_rebuild's state schemas");
		return false;
	}
	*n = PQntuples(res);
	*out = pgr_calloc((size_t) (*n > 0 ? *n : 1), sizeof(StateSchema));
	for (int i = 0; i < *n; i++)
	{
		StateSchema *s = &(*out)[i];

		s->name = res_text(res, i, 0);
		s->oid = res_oid(res, i, 1);
		s->owner = res_oid(res, i, 2);
		s->owner_name = res_text(res, i, 3);
		s->legacy = res_bool(res, i, 4);
		s->can_act = res_bool(res, i, 5);
		s->nlogs = res_int4(res, i, 6);
		s->has_runs = res_bool(res, i, 7);
	}
	PQclear(res);
	return true;
}

bool
state_find_schema(Conn *c, const char *name, StateSchema *out, bool *found)
{
	StateSchema *all;
	int			n;

	memset(out, 0, sizeof(*out));
	*found = false;
	if (!read_schemas(c, name, &all, &n))
		return false;
	if (n > 0)
	{
		*out = all[0];
		*found = true;
		memset(&all[0], 0, sizeof(all[0]));
	}
	state_free_schemas(all, n);
	return true;
}

bool
state_find_schemas(Conn *c, StateSchema **out, int *n)
{
	return read_schemas(c, NULL, out, n);
}

void
state_schema_free(StateSchema *s)
{
	if (s == NULL)
		return;
	free(s->name);
	free(s->owner_name);
	memset(s, 0, sizeof(*s));
}

void
state_free_schemas(StateSchema *s, int n)
{
	for (int i = 0; i < n; i++)
		state_schema_free(&s[i]);
	free(s);
}

/* ------------------------------------------------------------------------
 * Trust
 * ------------------------------------------------------------------------ */

/*
 * One line per reason not to trust the schema with OID $1.  A state schema
 * may hold only what pg_rebuild creates there: ordinary tables, their
 * indexes and identity sequences, and functions, all owned by the schema's
 * owner.  Another role may at most read (SELECT on a table or sequence,
 * USAGE on the schema).  Nothing may run code when pg_rebuild reads or
 * writes the tables: no trigger but PostgreSQL's own (foreign keys), no
 * rule, no row level security, no inheritance, no column type, default,
 * constraint or index that uses a function, operator or type outside
 * pg_catalog, no foreign key to a table outside the schema.
 */
static const char trust_sql[] =
"WITH s AS (SELECT n.oid, n.nspname, n.nspowner, n.nspacl FROM pg_catalog.pg_namespace n "
"           WHERE n.oid OPERATOR(pg_catalog.=) %oid), "
"rels AS (SELECT c.oid, c.relname, c.relkind, c.relowner, c.relacl, c.relrowsecurity, "
"                pg_catalog.quote_ident(s.nspname) OPERATOR(pg_catalog.||) '.' "
"                  OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) AS q "
"         FROM pg_catalog.pg_class c, s WHERE c.relnamespace OPERATOR(pg_catalog.=) s.oid), "
"who(oid, name) AS (SELECT r.oid, pg_catalog.quote_ident(r.rolname) FROM pg_catalog.pg_roles r "
"                   UNION ALL SELECT 0::oid, 'PUBLIC') "
"SELECT 'schema ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(s.nspname) OPERATOR(pg_catalog.||) ' grants ' "
"  OPERATOR(pg_catalog.||) a.privilege_type OPERATOR(pg_catalog.||) ' to ' OPERATOR(pg_catalog.||) w.name "
"FROM s, pg_catalog.aclexplode(s.nspacl) a, who w "
"WHERE w.oid OPERATOR(pg_catalog.=) a.grantee AND a.grantee OPERATOR(pg_catalog.<>) s.nspowner "
"  AND a.privilege_type OPERATOR(pg_catalog.<>) 'USAGE' "
"UNION ALL "
"SELECT CASE r.relkind WHEN 'r' THEN 'table ' WHEN 'i' THEN 'index ' WHEN 'S' THEN 'sequence ' "
"  ELSE 'relation ' END OPERATOR(pg_catalog.||) r.q OPERATOR(pg_catalog.||) ' is owned by role ' "
"  OPERATOR(pg_catalog.||) pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r.relowner)::text) "
"FROM rels r, s WHERE r.relowner OPERATOR(pg_catalog.<>) s.nspowner "
"UNION ALL "
"SELECT r.q OPERATOR(pg_catalog.||) ' is ' OPERATOR(pg_catalog.||) CASE r.relkind WHEN 'v' THEN 'a view' "
"  WHEN 'm' THEN 'a materialized view' WHEN 'f' THEN 'a foreign table' WHEN 'p' THEN 'a partitioned table' "
"  WHEN 'c' THEN 'a composite type' ELSE 'not an ordinary table' END "
"FROM rels r WHERE r.relkind OPERATOR(pg_catalog.<>) ALL (ARRAY['r', 'i', 'S']::\"char\"[]) "
"UNION ALL "
"SELECT r.q OPERATOR(pg_catalog.||) ' grants ' OPERATOR(pg_catalog.||) a.privilege_type "
"  OPERATOR(pg_catalog.||) ' to ' OPERATOR(pg_catalog.||) w.name "
"FROM rels r, pg_catalog.aclexplode(r.relacl) a, who w "
"WHERE w.oid OPERATOR(pg_catalog.=) a.grantee AND a.grantee OPERATOR(pg_catalog.<>) r.relowner "
"  AND a.privilege_type OPERATOR(pg_catalog.<>) 'SELECT' "
"UNION ALL "
"SELECT 'table ' OPERATOR(pg_catalog.||) r.q OPERATOR(pg_catalog.||) ' has row level security enabled' "
"FROM rels r WHERE r.relrowsecurity "
"UNION ALL "
"SELECT 'table ' OPERATOR(pg_catalog.||) r.q OPERATOR(pg_catalog.||) ' has rule ' "
"  OPERATOR(pg_catalog.||) pg_catalog.quote_ident(w.rulename) "
"FROM pg_catalog.pg_rewrite w JOIN rels r ON r.oid OPERATOR(pg_catalog.=) w.ev_class "
"UNION ALL "
"SELECT 'table ' OPERATOR(pg_catalog.||) r.q OPERATOR(pg_catalog.||) ' has trigger ' "
"  OPERATOR(pg_catalog.||) pg_catalog.quote_ident(t.tgname) "
"FROM pg_catalog.pg_trigger t JOIN rels r ON r.oid OPERATOR(pg_catalog.=) t.tgrelid WHERE NOT t.tgisinternal "
"UNION ALL "
"SELECT 'table ' OPERATOR(pg_catalog.||) r.q OPERATOR(pg_catalog.||) ' has policy ' "
"  OPERATOR(pg_catalog.||) pg_catalog.quote_ident(p.polname) "
"FROM pg_catalog.pg_policy p JOIN rels r ON r.oid OPERATOR(pg_catalog.=) p.polrelid "
"UNION ALL "
"SELECT 'table ' OPERATOR(pg_catalog.||) r.q OPERATOR(pg_catalog.||) ' is part of an inheritance tree' "
"FROM rels r WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i "
"  WHERE i.inhrelid OPERATOR(pg_catalog.=) r.oid OR i.inhparent OPERATOR(pg_catalog.=) r.oid) "
"UNION ALL "
"SELECT 'column ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(a.attname) OPERATOR(pg_catalog.||) ' of ' "
"  OPERATOR(pg_catalog.||) r.q OPERATOR(pg_catalog.||) ' has type ' "
"  OPERATOR(pg_catalog.||) pg_catalog.format_type(a.atttypid, a.atttypmod) "
"  OPERATOR(pg_catalog.||) ', which is not a built-in type' "
"FROM pg_catalog.pg_attribute a JOIN rels r ON r.oid OPERATOR(pg_catalog.=) a.attrelid "
"JOIN pg_catalog.pg_type ty ON ty.oid OPERATOR(pg_catalog.=) a.atttypid "
"WHERE a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped "
"  AND ty.typnamespace OPERATOR(pg_catalog.<>) 'pg_catalog'::pg_catalog.regnamespace::pg_catalog.oid "
"UNION ALL "
"SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) OPERATOR(pg_catalog.||) ' uses ' "
"  OPERATOR(pg_catalog.||) pg_catalog.pg_describe_object(d.refclassid, d.refobjid, 0) "
"  OPERATOR(pg_catalog.||) ', which is not built in' "
"FROM pg_catalog.pg_depend d "
"WHERE d.refclassid OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog.pg_proc'::pg_catalog.regclass, "
"    'pg_catalog.pg_operator'::pg_catalog.regclass, 'pg_catalog.pg_type'::pg_catalog.regclass]::pg_catalog.oid[]) "
"  AND coalesce((SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE d.refclassid OPERATOR(pg_catalog.=) "
"      'pg_catalog.pg_proc'::pg_catalog.regclass AND p.oid OPERATOR(pg_catalog.=) d.refobjid), "
"    (SELECT o.oprnamespace FROM pg_catalog.pg_operator o WHERE d.refclassid OPERATOR(pg_catalog.=) "
"      'pg_catalog.pg_operator'::pg_catalog.regclass AND o.oid OPERATOR(pg_catalog.=) d.refobjid), "
"    (SELECT t.typnamespace FROM pg_catalog.pg_type t WHERE d.refclassid OPERATOR(pg_catalog.=) "
"      'pg_catalog.pg_type'::pg_catalog.regclass AND t.oid OPERATOR(pg_catalog.=) d.refobjid)) "
"    OPERATOR(pg_catalog.<>) 'pg_catalog'::pg_catalog.regnamespace::pg_catalog.oid "
"  AND ((d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
"        AND d.objid OPERATOR(pg_catalog.=) ANY (SELECT r.oid FROM rels r)) "
"    OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_attrdef'::pg_catalog.regclass "
"        AND d.objid OPERATOR(pg_catalog.=) ANY (SELECT ad.oid FROM pg_catalog.pg_attrdef ad "
"          JOIN rels r ON r.oid OPERATOR(pg_catalog.=) ad.adrelid)) "
"    OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass "
"        AND d.objid OPERATOR(pg_catalog.=) ANY (SELECT co.oid FROM pg_catalog.pg_constraint co "
"          JOIN rels r ON r.oid OPERATOR(pg_catalog.=) co.conrelid))) "
"UNION ALL "
"SELECT 'constraint ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(co.conname) OPERATOR(pg_catalog.||) ' of ' "
"  OPERATOR(pg_catalog.||) r.q OPERATOR(pg_catalog.||) ' refers to a table outside the schema' "
"FROM pg_catalog.pg_constraint co JOIN rels r ON r.oid OPERATOR(pg_catalog.=) co.conrelid "
"WHERE co.confrelid OPERATOR(pg_catalog.<>) 0 "
"  AND co.confrelid OPERATOR(pg_catalog.<>) ALL (SELECT r2.oid FROM rels r2) "
"UNION ALL "
"SELECT 'function ' OPERATOR(pg_catalog.||) p.oid::pg_catalog.regprocedure::text "
"  OPERATOR(pg_catalog.||) ' is owned by role ' "
"  OPERATOR(pg_catalog.||) pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(p.proowner)::text) "
"FROM pg_catalog.pg_proc p, s WHERE p.pronamespace OPERATOR(pg_catalog.=) s.oid "
"  AND p.proowner OPERATOR(pg_catalog.<>) s.nspowner "
"UNION ALL "
"SELECT 'type ' OPERATOR(pg_catalog.||) t.oid::pg_catalog.regtype::text OPERATOR(pg_catalog.||) ' is owned by role ' "
"  OPERATOR(pg_catalog.||) pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(t.typowner)::text) "
"FROM pg_catalog.pg_type t, s WHERE t.typnamespace OPERATOR(pg_catalog.=) s.oid "
"  AND t.typowner OPERATOR(pg_catalog.<>) s.nspowner "
"UNION ALL "
"SELECT r.q OPERATOR(pg_catalog.||) ' is not an ordinary table' FROM rels r "
"WHERE r.relname OPERATOR(pg_catalog.=) ANY (ARRAY['meta', 'runs', 'run_objects']) "
"  AND r.relkind OPERATOR(pg_catalog.<>) 'r'";

bool
state_check_trust(Conn *c, const StateSchema *s, StrVec *problems)
{
	PGresult   *res;

	if (!s->legacy)
	{
		char	   *want = state_schema_name(s->owner);

		/* a schema named for one role and owned by another was made by that other */
		if (strcmp(want, s->name) != 0)
			sv_push_owned(problems, pgr_psprintf("schema %s is named for the role with OID %s but is owned by "
												 "role %s", s->name, s->name + strlen(PGR_STATE_PREFIX),
												 s->owner_name));
		free(want);
	}
	res = conn_queryf(c, trust_sql, s->oid);
	if (res == NULL)
		return false;
	for (int i = 0; i < PQntuples(res); i++)
		sv_push_owned(problems, res_text(res, i, 0));
	PQclear(res);
	return true;
}

bool
state_lock_and_check(Conn *c, const StateSchema *s, const char *mode, StrVec *problems)
{
	char	   *q = ident_quote(s->name);
	bool		ok;

	/*
	 * Only the tables that exist: a schema without them is reported by the
	 * check itself.  The lock keeps out, until the caller's transaction
	 * ends, every DDL that could add code to them (CREATE TRIGGER, RULE,
	 * POLICY, INDEX, ALTER TABLE).
	 */
	ok = conn_commandv(c,
					   "DO $pgr$BEGIN "
					   "IF pg_catalog.to_regclass('%s.runs') IS NOT NULL "
					   "AND pg_catalog.to_regclass('%s.run_objects') IS NOT NULL "
					   "AND pg_catalog.to_regclass('%s.meta') IS NOT NULL THEN "
					   "LOCK TABLE %s.meta, %s.runs, %s.run_objects IN %s MODE; END IF; END$pgr$",
					   q, q, q, q, q, q, mode);
	free(q);
	if (!ok)
		return false;
	if (!state_check_trust(c, s, problems))
		return false;
	return problems->n == 0;
}

void
state_report_untrusted(const StateSchema *s, const StrVec *problems)
{
	char	   *q = ident_quote(s->name);
	char	   *oq = ident_quote(s->owner_name);

	log_error("pg_rebuild does not trust schema %s (owner %s): another role could make pg_rebuild run its code "
			  "or act on its records", q, s->owner_name);
	for (size_t i = 0; i < problems->n; i++)
		log_detail("%s", problems->items[i]);
	log_detail("Nothing in it was read or changed.");
	if (s->legacy)
		log_hint("It is the shared schema of an earlier pg_rebuild. Fix what is listed (drop the objects that "
				 "pg_rebuild did not create, REVOKE what was granted to other roles), or, once no run of it "
				 "matters any more, drop it: DROP SCHEMA %s CASCADE.", q);
	else
		log_hint("A state schema must hold only what pg_rebuild created there, owned by %s and granted to no "
				 "other role. Fix what is listed; if the schema was not made by pg_rebuild, check what it "
				 "holds, then drop it (DROP SCHEMA %s CASCADE): the next run creates it again.", oq, q);
	free(q);
	free(oq);
}

/* ------------------------------------------------------------------------
 * Installing a role's state schema
 * ------------------------------------------------------------------------ */

static bool
install_fail(Conn *c, const char *what)
{
	conn_report(c, what);
	conn_best_effort(c, "ROLLBACK");
	return false;
}

bool
state_revoke_grants(Conn *c, const char *rel_q)
{
	/* the relation and the sequences it owns (identity columns) */
	PGresult   *res = conn_queryf(c,
								  "WITH r AS (SELECT pg_catalog.to_regclass(%text)::pg_catalog.oid AS oid), "
								  "rels AS (SELECT r.oid FROM r UNION SELECT d.objid FROM pg_catalog.pg_depend d, r "
								  "  WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
								  "  AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
								  "  AND d.refobjid OPERATOR(pg_catalog.=) r.oid "
								  "  AND d.deptype OPERATOR(pg_catalog.=) ANY (ARRAY['a', 'i']::\"char\"[])) "
								  "SELECT DISTINCT CASE c.relkind WHEN 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END "
								  "  OPERATOR(pg_catalog.||) c.oid::pg_catalog.regclass::text OPERATOR(pg_catalog.||) ' FROM ' "
								  "  OPERATOR(pg_catalog.||) CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC' "
								  "  ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)::text) END "
								  "FROM rels JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) rels.oid, "
								  "pg_catalog.aclexplode(c.relacl) a WHERE a.grantee OPERATOR(pg_catalog.<>) c.relowner",
								  rel_q);
	bool		ok = res != NULL;

	for (int i = 0; ok && i < PQntuples(res); i++)
	{
		char	   *what = res_text(res, i, 0);

		ok = conn_commandv(c, "REVOKE ALL ON %s", what);
		free(what);
	}
	PQclear(res);
	return ok;
}

/*
 * Default privileges (ALTER DEFAULT PRIVILEGES) may have granted the new
 * tables and their sequences to other roles: nobody but the owner keeps a
 * right on them.
 */
static bool
revoke_state_grants(Conn *c, const char *schema_q)
{
	static const char *const rels[] = {"meta", "runs", "run_objects"};

	for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++)
	{
		char	   *rq = pgr_psprintf("%s.%s", schema_q, rels[i]);
		bool		ok = state_revoke_grants(c, rq);

		free(rq);
		if (!ok)
			return false;
	}
	return conn_commandv(c, "REVOKE ALL ON SCHEMA %s FROM PUBLIC", schema_q);
}

/*
 * Creates the schema for the current role.  When that role may not create
 * schemas in the database but the session user may (an administrator
 * running pg_rebuild on a table of a role it is a member of), the session
 * user creates it for the role: it is owned by the role all the same.
 */
static bool
create_schema(Conn *c, const char *q)
{
	PGresult   *res = conn_query(c, "SELECT pg_catalog.has_database_privilege(current_user, "
								 "pg_catalog.current_database(), 'CREATE'), "
								 "pg_catalog.has_database_privilege(session_user, pg_catalog.current_database(), 'CREATE'), "
								 "current_user::text, session_user::text");
	bool		me;
	bool		session;
	char	   *role;
	char	   *sess;
	bool		ok;

	if (res == NULL)
		return install_fail(c, "could not check the right to create the state schema");
	me = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	session = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	role = pgr_strdup(PQgetvalue(res, 0, 2));
	sess = pgr_strdup(PQgetvalue(res, 0, 3));
	PQclear(res);
	if (me || !session)
		ok = conn_commandv(c, "CREATE SCHEMA %s", q);
	else
	{
		char	   *rq = ident_quote(role);

		ok = conn_set_role(c, sess) && conn_commandv(c, "CREATE SCHEMA %s AUTHORIZATION %s", q, rq) &&
			conn_set_role(c, role);
		free(rq);
	}
	if (ok)
	{
		char	   *lit;
		char	   *text = pgr_psprintf("pg_rebuild: the runs of role %s (see pg_rebuild --status)", role);

		lit = ident_literal(text);
		ok = conn_commandv(c, "COMMENT ON SCHEMA %s IS %s", q, lit);
		free(lit);
		free(text);
	}
	free(role);
	free(sess);
	return ok || install_fail(c, "could not create the state schema");
}

/* The schema's format version (0 without meta), -1 on failure (error kept in c). */
static int
schema_version(Conn *c, const char *q)
{
	PGresult   *res;
	char	   *sql;
	int			v;

	sql = pgr_psprintf("SELECT CASE WHEN pg_catalog.to_regclass('%s.meta') IS NULL THEN 0 END", q);
	res = conn_query(c, sql);
	free(sql);
	if (res == NULL)
		return -1;
	if (!PQgetisnull(res, 0, 0))
	{
		PQclear(res);
		return 0;
	}
	PQclear(res);
	sql = pgr_psprintf("SELECT coalesce(pg_catalog.max(version), 0) FROM %s.meta", q);
	res = conn_query(c, sql);
	free(sql);
	if (res == NULL)
		return -1;
	v = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/*
 * Runs triggers/pgrebuild.sql on the schema (format version 0: empty, or
 * an older one of this line: every statement runs again without harm) and
 * records the version; false (reported, rolled back) on failure.
 */
static bool
install_objects(Conn *c, const char *name, const char *q, int version)
{
	char	   *sql = expand_schema(sql_pgrebuild, name);
	bool		ok = conn_command(c, sql);

	free(sql);
	if (ok && version > 0)
		ok = conn_commandv(c, "UPDATE %s.meta SET version = %d", q, PGR_SCHEMA_VERSION);
	if (!ok || !revoke_state_grants(c, q))
		return install_fail(c, "could not install pg_rebuild's state schema");
	log_verbose("installed pg_rebuild's state schema %s (format version %d)", q, PGR_SCHEMA_VERSION);
	return true;
}

bool
state_install(Conn *c, const char *name, unsigned int role_oid)
{
	char	   *q = ident_quote(name);
	StateSchema s;
	bool		found;
	StrVec		problems;
	int			version;
	bool		ok = false;

	/* One installer at a time per database (transaction-level advisory lock). */
	if (!conn_commandv(c, "BEGIN; SELECT pg_catalog.pg_advisory_xact_lock(%lld)", PGR_LOCK_CLASS << 32))
	{
		free(q);
		return install_fail(c, "could not start installing pg_rebuild's state schema");
	}
	if (!state_find_schema(c, name, &s, &found))
	{
		conn_best_effort(c, "ROLLBACK");
		free(q);
		return false;
	}
	if (found && s.owner != role_oid)
	{
		log_error("schema %s is owned by role %s, not by the role it is named for: pg_rebuild does not use it",
				  q, s.owner_name);
		log_detail("pg_rebuild keeps a role's runs in a schema that only that role owns.");
		log_hint("If you did not make it, check what it holds, then drop it (DROP SCHEMA %s CASCADE); "
				 "the next run creates it.", q);
		conn_best_effort(c, "ROLLBACK");
		goto done;
	}
	if (!found && !create_schema(c, q))
		goto done;
	version = schema_version(c, q);
	if (version < 0)
	{
		install_fail(c, "could not read the state schema's format version");
		goto done;
	}
	if (version > PGR_SCHEMA_VERSION || version == 1)
	{
		log_error("schema %s holds pg_rebuild objects of format version %d; this pg_rebuild uses version %d",
				  q, version, PGR_SCHEMA_VERSION);
		log_hint("Use the pg_rebuild that made it, or finish its runs (pg_rebuild --status, --cleanup) and "
				 "drop it: DROP SCHEMA %s CASCADE.", q);
		conn_best_effort(c, "ROLLBACK");
		goto done;
	}
	if (version < PGR_SCHEMA_VERSION && !install_objects(c, name, q, version))
		goto done;
	/* what the check says now holds until COMMIT, and then for the run: only the owner can change it */
	state_schema_free(&s);
	if (!state_find_schema(c, name, &s, &found) || !found)
	{
		install_fail(c, "could not read back pg_rebuild's state schema");
		goto done;
	}
	sv_init(&problems);
	if (!state_lock_and_check(c, &s, "ROW EXCLUSIVE", &problems))
	{
		if (problems.n > 0)
		{
			state_report_untrusted(&s, &problems);
			conn_best_effort(c, "ROLLBACK");
		}
		else
			install_fail(c, "could not check pg_rebuild's state schema");
		sv_free(&problems);
		goto done;
	}
	sv_free(&problems);
	ok = conn_command(c, "COMMIT") || install_fail(c, "could not install pg_rebuild's state schema");
done:
	state_schema_free(&s);
	free(q);
	return ok;
}

/* ------------------------------------------------------------------------
 * Advisory locks
 * ------------------------------------------------------------------------ */

bool
state_try_lock(Conn *c, long long key, bool *got)
{
	PGresult   *res = conn_queryf(c, "SELECT pg_catalog.pg_try_advisory_lock(%int8)", (PGint8) key);

	if (res == NULL)
	{
		conn_report(c, "could not take the table's pg_rebuild lock");
		return false;
	}
	*got = res_bool(res, 0, 0);
	PQclear(res);
	return true;
}

void
state_unlock(Conn *c, long long key)
{
	PGresult   *res = conn_queryf(c, "SELECT pg_catalog.pg_advisory_unlock(%int8)", (PGint8) key);

	PQclear(res);
}

char *
state_describe_holder(Conn *c, long long key)
{
	PGresult   *res;
	char	   *out;

	res = conn_queryf(c,
					  "SELECT 'pid ' || a.pid || ', user ' || coalesce(a.usename::text, '?') || ', from '"
					  " || coalesce(host(a.client_addr), 'local socket') || ', application '"
					  " || coalesce(nullif(a.application_name, ''), '?') || coalesce(', connected since '"
					  " || to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ'), '') "
					  "FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
					  "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
					  "AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) "
					  "AND l.classid = (%int8 >> 32)::oid AND l.objid = (%int8 & 4294967295)::oid LIMIT 1",
					  (PGint8) key, (PGint8) key);
	if (res == NULL || PQntuples(res) == 0)
	{
		PQclear(res);
		return pgr_strdup("a session that could not be identified");
	}
	out = res_text(res, 0, 0);
	PQclear(res);
	return out;
}

/* ------------------------------------------------------------------------
 * Reading runs and objects
 * ------------------------------------------------------------------------ */

/* The session holding the advisory lock of the run's table (relid), if any. */
#define HOLDER_SQL \
	"(SELECT lk.pid FROM pg_catalog.pg_locks lk WHERE lk.locktype OPERATOR(pg_catalog.=) 'advisory' " \
	"AND lk.granted AND lk.objsubid OPERATOR(pg_catalog.=) 1 " \
	"AND lk.database OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d " \
	"  WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()) " \
	"AND lk.classid OPERATOR(pg_catalog.=) %%oid AND lk.objid OPERATOR(pg_catalog.=) r.relid LIMIT 1)"

/*
 * The recorded objects of run $1 (table OID $2) as (kind, oid, recorded
 * schema, name, table oid, table schema, table name).  Format 1 recorded
 * names only: each is found again by its name, a trigger on the run's
 * table by OID.
 */
static const char objects_v1_sql[] =
"SELECT o.kind, CASE o.kind "
"  WHEN 'trigger' THEN (SELECT tg.oid FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid OPERATOR(pg_catalog.=) %%oid "
"    AND tg.tgname OPERATOR(pg_catalog.=) o.object_name) "
"  WHEN 'function' THEN (SELECT p.oid FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace pn "
"    ON pn.oid OPERATOR(pg_catalog.=) p.pronamespace WHERE pn.nspname OPERATOR(pg_catalog.=) o.schema_name "
"    AND p.proname OPERATOR(pg_catalog.=) o.object_name AND p.pronargs OPERATOR(pg_catalog.=) 0) "
"  WHEN 'validate' THEN (SELECT co.oid FROM pg_catalog.pg_constraint co "
"    JOIN pg_catalog.pg_class cc ON cc.oid OPERATOR(pg_catalog.=) co.conrelid "
"    JOIN pg_catalog.pg_namespace cn ON cn.oid OPERATOR(pg_catalog.=) cc.relnamespace "
"    WHERE cn.nspname OPERATOR(pg_catalog.=) o.table_schema AND cc.relname OPERATOR(pg_catalog.=) o.table_name "
"    AND co.conname OPERATOR(pg_catalog.=) o.object_name) "
"  ELSE (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace cn "
"    ON cn.oid OPERATOR(pg_catalog.=) c.relnamespace WHERE cn.nspname OPERATOR(pg_catalog.=) o.schema_name "
"    AND c.relname OPERATOR(pg_catalog.=) o.object_name) END AS object_oid, "
"  o.schema_name, o.object_name, "
"  CASE WHEN o.kind OPERATOR(pg_catalog.=) 'trigger' THEN %%oid END AS table_oid, o.table_schema, o.table_name "
"FROM %s.run_objects o WHERE o.run_id OPERATOR(pg_catalog.=) %%int8";

static const char objects_v2_sql[] =
"SELECT o.kind, o.object_oid, o.schema_name, o.object_name, o.table_oid, o.table_schema, o.table_name "
"FROM %s.run_objects o WHERE o.run_id OPERATOR(pg_catalog.=) %%int8";

/*
 * What each object is now, by its OID: name, table, owner, mark, kind of
 * relation or constraint, and a flag: a function still called by a
 * trigger, a log table whose capture function still exists, a foreign key
 * still NOT VALID.
 */
static const char objects_now_sql[] =
"SELECT o.kind, o.object_oid, o.schema_name, o.object_name, o.table_oid, o.table_schema, o.table_name, "
"  x.found IS NOT NULL, x.nsp, x.name, x.parent, x.tnsp, x.tname, x.owner, x.mark, x.what::text, "
"  coalesce(x.flag, false), pg_catalog.pg_get_userbyid(x.owner)::text "
"FROM (%s) o LEFT JOIN LATERAL ("
"  SELECT true AS found, n.nspname::text AS nsp, c.relname::text AS name, NULL::oid AS parent, "
"    NULL::text AS tnsp, NULL::text AS tname, c.relowner AS owner, "
"    pg_catalog.obj_description(c.oid, 'pg_class') AS mark, c.relkind::text AS what, "
"    o.kind OPERATOR(pg_catalog.=) 'log' AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc p "
"      WHERE p.pronamespace OPERATOR(pg_catalog.=) c.relnamespace "
"      AND p.proname OPERATOR(pg_catalog.=) ('capture_' OPERATOR(pg_catalog.||) %%oid::text)) AS flag "
"  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
"  WHERE o.kind OPERATOR(pg_catalog.=) ANY (ARRAY['log', 'shadow', 'old']) "
"    AND c.oid OPERATOR(pg_catalog.=) o.object_oid "
"  UNION ALL "
"  SELECT true, n.nspname::text, p.proname::text, NULL, NULL, NULL, p.proowner, "
"    pg_catalog.obj_description(p.oid, 'pg_proc'), NULL, "
"    EXISTS (SELECT 1 FROM pg_catalog.pg_trigger tg WHERE tg.tgfoid OPERATOR(pg_catalog.=) p.oid) "
"  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace "
"  WHERE o.kind OPERATOR(pg_catalog.=) 'function' AND p.oid OPERATOR(pg_catalog.=) o.object_oid "
"  UNION ALL "
"  SELECT true, tn.nspname::text, tg.tgname::text, tg.tgrelid, tn.nspname::text, tc.relname::text, tc.relowner, "
"    pg_catalog.obj_description(tg.oid, 'pg_trigger'), NULL, NULL "
"  FROM pg_catalog.pg_trigger tg JOIN pg_catalog.pg_class tc ON tc.oid OPERATOR(pg_catalog.=) tg.tgrelid "
"  JOIN pg_catalog.pg_namespace tn ON tn.oid OPERATOR(pg_catalog.=) tc.relnamespace "
"  WHERE o.kind OPERATOR(pg_catalog.=) 'trigger' AND tg.oid OPERATOR(pg_catalog.=) o.object_oid "
"  UNION ALL "
"  SELECT true, tn.nspname::text, co.conname::text, co.conrelid, tn.nspname::text, tc.relname::text, "
"    tc.relowner, CASE WHEN o.kind OPERATOR(pg_catalog.=) 'check' "
"      THEN pg_catalog.obj_description(co.oid, 'pg_constraint') END, co.contype::text, NOT co.convalidated "
"  FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class tc ON tc.oid OPERATOR(pg_catalog.=) co.conrelid "
"  JOIN pg_catalog.pg_namespace tn ON tn.oid OPERATOR(pg_catalog.=) tc.relnamespace "
"  WHERE o.kind OPERATOR(pg_catalog.=) ANY (ARRAY['validate', 'check']) AND co.oid OPERATOR(pg_catalog.=) o.object_oid "
") x ON true "
"ORDER BY pg_catalog.array_position(ARRAY['trigger', 'check', 'function', 'log', 'shadow', 'old', 'validate'], o.kind), "
"  o.object_oid";

bool
state_read_objects(Conn *c, const StateSchema *s, long long run_id, RunObject **objs, int *n)
{
	/* needs the run's table OID: read it first */
	char	   *q = ident_quote(s->name);
	char	   *spec = pgr_psprintf("SELECT r.relid FROM %s.runs r WHERE r.run_id OPERATOR(pg_catalog.=) %%int8", q);
	PGresult   *res = conn_queryf(c, spec, (PGint8) run_id);
	unsigned int relid = 0;
	char	   *inner;

	free(spec);
	*objs = NULL;
	*n = 0;
	if (res == NULL)
	{
		free(q);
		return false;
	}
	if (PQntuples(res) > 0)
		relid = res_oid(res, 0, 0);
	PQclear(res);
	inner = pgr_psprintf(s->legacy ? objects_v1_sql : objects_v2_sql, q);
	spec = pgr_psprintf(objects_now_sql, inner);
	free(inner);
	free(q);
	/* parameters: objects_v1's (relid, relid, run) or objects_v2's (run); then the log's flag (relid) */
	res = s->legacy ? conn_queryf(c, spec, relid, relid, (PGint8) run_id, relid)
		: conn_queryf(c, spec, (PGint8) run_id, relid);
	free(spec);
	if (res == NULL)
		return false;
	*n = PQntuples(res);
	*objs = pgr_calloc((size_t) (*n > 0 ? *n : 1), sizeof(RunObject));
	for (int i = 0; i < *n; i++)
	{
		RunObject  *o = &(*objs)[i];
		bool		found = res_bool(res, i, 7);

		o->recorded_kind = res_text(res, i, 0);
		o->known_kind = object_kind_from_recorded(o->recorded_kind, &o->kind);
		o->oid = found ? res_oid(res, i, 1) : 0;
		o->schema = found ? res_text(res, i, 8) : res_text(res, i, 2);
		o->name = found ? res_text(res, i, 9) : res_text(res, i, 3);
		o->table_oid = found && !res_isnull(res, i, 10) ? res_oid(res, i, 10) : res_oid(res, i, 4);
		o->table_schema = found && !res_isnull(res, i, 11) ? res_text(res, i, 11) : res_text(res, i, 5);
		o->table_name = found && !res_isnull(res, i, 12) ? res_text(res, i, 12) : res_text(res, i, 6);
		o->recorded_oid = res_isnull(res, i, 1) ? 0 : res_oid(res, i, 1);
		o->recorded_schema = res_text(res, i, 2);
		o->recorded_name = res_text(res, i, 3);
		o->owner = found ? res_oid(res, i, 13) : 0;
		o->mark = found ? res_text(res, i, 14) : NULL;
		o->what = found ? res_text(res, i, 15) : NULL;
		o->flag = res_bool(res, i, 16);
		o->owner_name = found ? res_text(res, i, 17) : NULL;
	}
	PQclear(res);
	return true;
}

void
state_free_objects(RunObject *objs, int n)
{
	for (int i = 0; i < n; i++)
	{
		free(objs[i].recorded_kind);
		free(objs[i].recorded_schema);
		free(objs[i].recorded_name);
		free(objs[i].schema);
		free(objs[i].name);
		free(objs[i].table_schema);
		free(objs[i].table_name);
		free(objs[i].mark);
		free(objs[i].owner_name);
		free(objs[i].what);
	}
	free(objs);
}

/* Appends schema.name as the server prints names in messages. */
static void
append_display(StrBuf *sb, const char *schema, const char *name)
{
	char	   *n = ident_display(name);

	if (schema)
	{
		char	   *sd = ident_display(schema);

		sb_appendf(sb, "%s.", sd);
		free(sd);
	}
	sb_append(sb, n);
	free(n);
}

/* "trigger pgrebuild_capture on s.t", "log pgrebuild_10.log_16384", for --status */
static char *
object_line(const RunObject *o)
{
	StrBuf		sb;

	sb_init(&sb);
	sb_appendf(&sb, "%s ", o->recorded_kind);
	append_display(&sb, o->known_kind && (o->kind == OBJ_TRIGGER || o->kind == OBJ_VALIDATE) ? NULL : o->schema,
				   o->name);
	if (o->table_name)
	{
		sb_append(&sb, " on ");
		append_display(&sb, o->table_schema, o->table_name);
	}
	if (o->oid == 0)
		sb_append(&sb, " (gone)");
	return sb_steal(&sb);
}

bool
state_list_runs(Conn *c, const StateSchema *s, unsigned int relid, const char *schema, const char *table,
				RunInfo **runs, int *nruns)
{
	char	   *q = ident_quote(s->name);
	char	   *spec = pgr_psprintf("SELECT r.run_id, r.relid, r.schema_name, r.table_name, r.phase, "
									"coalesce(" HOLDER_SQL ", r.%s), %s, %s, "
									"pg_catalog.to_char(r.started, 'YYYY-MM-DD HH24:MI:SS TZ'), "
									"pg_catalog.to_char(r.updated, 'YYYY-MM-DD HH24:MI:SS TZ'), "
									HOLDER_SQL " IS NOT NULL, "
									/* format 3's flags, read so that a format-2 record has none */
									"coalesce(pg_catalog.jsonb_extract_path_text(pg_catalog.to_jsonb(r), 'paused')"
									"::pg_catalog.bool, false), "
									"coalesce(pg_catalog.jsonb_extract_path_text(pg_catalog.to_jsonb(r), 'swap_postponed')"
									"::pg_catalog.bool, false) "
									"FROM %s.runs r WHERE (%%oid OPERATOR(pg_catalog.=) 0 AND %%text::text IS NULL) "
									"OR r.relid OPERATOR(pg_catalog.=) %%oid "
									"OR (r.table_name OPERATOR(pg_catalog.=) %%text::text "
									"  AND (%%text::text IS NULL OR r.schema_name OPERATOR(pg_catalog.=) %%text::text)) "
									"ORDER BY r.run_id",
									s->legacy ? "pid" : "backend_pid",
									s->legacy ? "NULL::int4" : "r.client_pid",
									s->legacy ? "NULL::text" : "r.client_host", q);
	PGresult   *res = conn_queryf(c, spec, (Oid) PGR_LOCK_CLASS, (Oid) PGR_LOCK_CLASS, relid, table, relid,
								  table, schema, schema);
	bool		ok = true;

	free(spec);
	free(q);
	*runs = NULL;
	*nruns = 0;
	if (res == NULL)
		return false;
	*nruns = PQntuples(res);
	*runs = pgr_calloc((size_t) (*nruns > 0 ? *nruns : 1), sizeof(RunInfo));
	for (int i = 0; i < *nruns; i++)
	{
		RunInfo    *r = &(*runs)[i];

		r->run_id = res_int8(res, i, 0);
		r->relid = res_oid(res, i, 1);
		r->schema_name = res_text(res, i, 2);
		r->table_name = res_text(res, i, 3);
		r->phase = res_text(res, i, 4);
		r->paused = res_bool(res, i, 11);
		r->swap_postponed = res_bool(res, i, 12);
		r->backend_pid = res_int4(res, i, 5);
		r->client_pid = res_int4(res, i, 6);
		r->client_host = res_text(res, i, 7);
		r->started = res_text(res, i, 8);
		r->updated = res_text(res, i, 9);
		r->alive = res_bool(res, i, 10);
		r->state_schema = pgr_strdup(s->name);
		r->role = pgr_strdup(s->owner_name);
		r->legacy = s->legacy;
		sv_init(&r->objects);
	}
	PQclear(res);
	for (int i = 0; i < *nruns && ok; i++)
	{
		RunObject  *objs;
		int			n;

		ok = state_read_objects(c, s, (*runs)[i].run_id, &objs, &n);
		for (int k = 0; ok && k < n; k++)
			sv_push_owned(&(*runs)[i].objects, object_line(&objs[k]));
		if (ok)
			state_free_objects(objs, n);
	}
	return ok;
}

void
state_free_runs(RunInfo *runs, int nruns)
{
	for (int i = 0; i < nruns; i++)
	{
		free(runs[i].schema_name);
		free(runs[i].table_name);
		free(runs[i].phase);
		free(runs[i].client_host);
		free(runs[i].started);
		free(runs[i].updated);
		free(runs[i].state_schema);
		free(runs[i].role);
		sv_free(&runs[i].objects);
	}
	free(runs);
}

/* ------------------------------------------------------------------------
 * Writing the record of a run
 * ------------------------------------------------------------------------ */

long long
state_create_run(Conn *c, const char *state_schema, unsigned int relid, const char *schema,
				 const char *table, const char *phase)
{
	char	   *q = ident_quote(state_schema);
	char		host[256];
	char	   *spec = pgr_psprintf("INSERT INTO %s.runs (relid, schema_name, table_name, phase, client_pid, "
									"client_host, client_addr) "
									"VALUES (%%oid, %%text, %%text, %%text, %%int4, %%text, "
									"coalesce(pg_catalog.host(pg_catalog.inet_client_addr()), 'local socket')) "
									"RETURNING run_id",
									q);
	PGresult   *res;
	long long	id = 0;

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	res = conn_queryf(c, spec, relid, schema, table, phase, (PGint4) getpid(), host);
	free(spec);
	free(q);
	if (res != NULL)
	{
		id = res_int8(res, 0, 0);
		PQclear(res);
	}
	return id;
}

/*
 * How state_record finds the OID (and the names) of a new object: $1 is
 * its name as documented in state.h, $2 the OID of its table.
 */
static const char *const record_lookup[OBJ_COUNT] = {
	[OBJ_TRIGGER] =
	"(SELECT tg.oid FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid OPERATOR(pg_catalog.=) x.t "
	" AND tg.tgname OPERATOR(pg_catalog.=) x.n), "
	"(SELECT tn.nspname::text FROM pg_catalog.pg_class tc JOIN pg_catalog.pg_namespace tn "
	" ON tn.oid OPERATOR(pg_catalog.=) tc.relnamespace WHERE tc.oid OPERATOR(pg_catalog.=) x.t), x.n",
	[OBJ_FUNCTION] =
	"pg_catalog.to_regprocedure(x.n OPERATOR(pg_catalog.||) '()')::oid, "
	"(SELECT pn.nspname::text FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace pn "
	" ON pn.oid OPERATOR(pg_catalog.=) p.pronamespace "
	" WHERE p.oid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure(x.n OPERATOR(pg_catalog.||) '()')), "
	"(SELECT p.proname::text FROM pg_catalog.pg_proc p "
	" WHERE p.oid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure(x.n OPERATOR(pg_catalog.||) '()'))",
	[OBJ_CHECK] =
	"(SELECT co.oid FROM pg_catalog.pg_constraint co WHERE co.conrelid OPERATOR(pg_catalog.=) x.t "
	" AND co.conname OPERATOR(pg_catalog.=) x.n AND co.contype OPERATOR(pg_catalog.=) 'c'), "
	"(SELECT tn.nspname::text FROM pg_catalog.pg_class tc JOIN pg_catalog.pg_namespace tn "
	" ON tn.oid OPERATOR(pg_catalog.=) tc.relnamespace WHERE tc.oid OPERATOR(pg_catalog.=) x.t), x.n",
	[OBJ_VALIDATE] =
	"(SELECT co.oid FROM pg_catalog.pg_constraint co WHERE co.conrelid OPERATOR(pg_catalog.=) x.t "
	" AND co.conname OPERATOR(pg_catalog.=) x.n AND co.contype OPERATOR(pg_catalog.=) 'f'), "
	"(SELECT tn.nspname::text FROM pg_catalog.pg_class tc JOIN pg_catalog.pg_namespace tn "
	" ON tn.oid OPERATOR(pg_catalog.=) tc.relnamespace WHERE tc.oid OPERATOR(pg_catalog.=) x.t), x.n",
};

static const char record_relation[] =
"pg_catalog.to_regclass(x.n)::oid, "
"(SELECT rn.nspname::text FROM pg_catalog.pg_class rc JOIN pg_catalog.pg_namespace rn "
" ON rn.oid OPERATOR(pg_catalog.=) rc.relnamespace WHERE rc.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(x.n)), "
"(SELECT rc.relname::text FROM pg_catalog.pg_class rc WHERE rc.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(x.n))";

bool
state_record(Conn *c, const char *state_schema, long long run_id, ObjKind kind, const char *name,
			 const char *table_q)
{
	char	   *q = ident_quote(state_schema);
	const char *lookup = record_lookup[kind] ? record_lookup[kind] : record_relation;
	char	   *spec = pgr_psprintf("INSERT INTO %s.run_objects (run_id, kind, object_oid, schema_name, object_name, "
									"table_oid, table_schema, table_name) "
									"SELECT %%int8, %%text, %s, t.oid, tn.nspname::text, t.relname::text "
									"FROM (SELECT %%text::text AS n, pg_catalog.to_regclass(%%text)::pg_catalog.oid AS t) x "
									"LEFT JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) x.t "
									"LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid OPERATOR(pg_catalog.=) t.relnamespace",
									q, lookup);
	bool		ok = conn_execf(c, spec, (PGint8) run_id, object_kind_recorded(kind), name, table_q);

	free(spec);
	free(q);
	return ok;
}

bool
state_forget(Conn *c, const char *state_schema, long long run_id, ObjKind kind, unsigned int oid)
{
	char	   *q = ident_quote(state_schema);
	char	   *spec = pgr_psprintf("DELETE FROM %s.run_objects WHERE run_id OPERATOR(pg_catalog.=) %%int8 "
									"AND kind OPERATOR(pg_catalog.=) %%text "
									"AND (%%oid OPERATOR(pg_catalog.=) 0 OR object_oid OPERATOR(pg_catalog.=) %%oid)", q);
	bool		ok = conn_execf(c, spec, (PGint8) run_id, object_kind_recorded(kind), oid, oid);

	free(spec);
	free(q);
	return ok;
}

bool
state_forget_object(Conn *c, const StateSchema *s, long long run_id, const RunObject *o)
{
	char	   *q;
	char	   *spec;
	bool		ok;

	if (!s->legacy)
		return state_forget(c, s->name, run_id, o->kind, o->recorded_oid);
	/* format 1 recorded names: forget the row by what it recorded */
	q = ident_quote(s->name);
	spec = pgr_psprintf("DELETE FROM %s.run_objects WHERE run_id OPERATOR(pg_catalog.=) %%int8 "
						"AND kind OPERATOR(pg_catalog.=) %%text AND schema_name OPERATOR(pg_catalog.=) %%text "
						"AND object_name OPERATOR(pg_catalog.=) %%text",
						q);
	ok = conn_execf(c, spec, (PGint8) run_id, o->recorded_kind, o->recorded_schema, o->recorded_name);
	free(spec);
	free(q);
	return ok;
}

bool
state_set_phase(Conn *c, const char *state_schema, long long run_id, const char *phase)
{
	char	   *q = ident_quote(state_schema);
	char	   *spec = pgr_psprintf("UPDATE %s.runs SET phase = %%text, updated = pg_catalog.now(), "
									"backend_pid = pg_catalog.pg_backend_pid() "
									"WHERE run_id OPERATOR(pg_catalog.=) %%int8", q);
	bool		ok = conn_execf(c, spec, phase, (PGint8) run_id);

	free(spec);
	free(q);
	return ok;
}

bool
state_delete_run(Conn *c, const StateSchema *s, long long run_id)
{
	char	   *q = ident_quote(s->name);
	char	   *spec = pgr_psprintf("DELETE FROM %s.runs WHERE run_id OPERATOR(pg_catalog.=) %%int8", q);
	bool		ok = conn_execf(c, spec, (PGint8) run_id);

	free(spec);
	free(q);
	return ok;
}
