/* state.c: tool schema, run records, advisory locks, cleanup of leftovers. */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "cancel.h"
#include "clock.h"
#include "ident.h"
#include "log.h"
#include "sqlsrc.h"

long long
state_lock_key(unsigned int table_oid)
{
	return (PGR_LOCK_CLASS << 32) | (long long) table_oid;
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

bool
state_schema_exists(Conn *c, const char *tool_schema, bool *exists)
{
	PGresult   *res = conn_queryf(c, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class r "
								  "JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace "
								  "WHERE n.nspname = %text AND r.relname = 'runs')",
								  tool_schema);

	if (res == NULL)
	{
		conn_report(c, "could not look for the pg_rebuild schema");
		return false;
	}
	*exists = res_bool(res, 0, 0);
	PQclear(res);
	return true;
}

static bool
install_fail(Conn *c, const char *what)
{
	conn_report(c, what);
	log_detail("Nothing was changed.");
	conn_best_effort(c, "ROLLBACK");
	return false;
}

bool
state_install(Conn *c, const char *tool_schema)
{
	PGresult   *res;
	char	   *sql;
	char	   *q = ident_quote(tool_schema);
	bool		have_schema;
	bool		have_meta;
	bool		can_use;

	/* One installer at a time per database (transaction-level advisory lock). */
	if (!conn_commandv(c, "BEGIN; SELECT pg_catalog.pg_advisory_xact_lock(%lld)", PGR_LOCK_CLASS << 32))
	{
		free(q);
		return install_fail(c, "could not start installing the pg_rebuild schema");
	}
	res = conn_queryf(c,
					  "SELECT n.oid IS NOT NULL, "
					  "pg_catalog.to_regclass(pg_catalog.quote_ident(%text) || '.meta') IS NOT NULL, "
					  "n.oid IS NULL OR (pg_catalog.has_schema_privilege(n.oid, 'USAGE') "
					  "  AND pg_catalog.has_schema_privilege(n.oid, 'CREATE')) "
					  "FROM (SELECT 1) x LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = %text",
					  tool_schema, tool_schema);
	if (res == NULL)
	{
		free(q);
		return install_fail(c, "could not check the pg_rebuild schema");
	}
	have_schema = res_bool(res, 0, 0);
	have_meta = res_bool(res, 0, 1);
	can_use = res_bool(res, 0, 2);
	PQclear(res);
	if (!can_use)
	{
		log_error("cannot use schema %s: the current role lacks USAGE or CREATE on it", q);
		log_detail("pg_rebuild keeps its run records and log tables there. Nothing was changed.");
		log_hint("Run pg_rebuild as the role that created schema %s, or have it run "
				 "GRANT USAGE, CREATE ON SCHEMA %s TO <this role> (and grant the tables in it).", q, q);
		conn_best_effort(c, "ROLLBACK");
		free(q);
		return false;
	}
	if (!have_schema && !conn_commandv(c, "CREATE SCHEMA %s", q))
	{
		free(q);
		return install_fail(c, "could not create the pg_rebuild schema");
	}
	if (have_meta)
	{
		char	   *spec = pgr_psprintf("SELECT pg_catalog.max(version) FROM %s.meta", q);

		res = conn_query(c, spec);
		free(spec);
		if (res == NULL)
		{
			free(q);
			return install_fail(c, "could not read the pg_rebuild schema's version");
		}
		if (PQgetisnull(res, 0, 0) || atoi(PQgetvalue(res, 0, 0)) != PGR_SCHEMA_VERSION)
		{
			log_error("schema %s holds pg_rebuild objects of format version %s; this pg_rebuild uses version %d",
					  q, PQgetisnull(res, 0, 0) ? "(none)" : PQgetvalue(res, 0, 0), PGR_SCHEMA_VERSION);
			log_detail("Nothing was changed.");
			log_hint("Finish or clean up the runs of the other pg_rebuild version, then drop schema %s.", q);
			PQclear(res);
			conn_best_effort(c, "ROLLBACK");
			free(q);
			return false;
		}
		PQclear(res);
		free(q);
		return conn_command(c, "COMMIT") || install_fail(c, "could not install the pg_rebuild schema");
	}
	sql = expand_schema(sql_pgrebuild, tool_schema);
	if (!conn_command(c, sql))
	{
		free(sql);
		free(q);
		return install_fail(c, "could not install the pg_rebuild schema");
	}
	free(sql);
	if (!conn_commandv(c, "REVOKE ALL ON SCHEMA %s FROM PUBLIC; COMMIT", q))
	{
		free(q);
		return install_fail(c, "could not install the pg_rebuild schema");
	}
	log_verbose("installed the pg_rebuild schema %s (format version %d)", q, PGR_SCHEMA_VERSION);
	free(q);
	return true;
}

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
					  " || coalesce(nullif(a.application_name, ''), '?') || ', connected since '"
					  " || to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ') "
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

static bool
read_objects(Conn *c, const char *q, RunInfo *r)
{
	char	   *spec = pgr_psprintf("SELECT kind || ' ' || CASE WHEN kind IN ('trigger', 'validate') "
									"THEN quote_ident(object_name) "
									"ELSE quote_ident(schema_name) || '.' || quote_ident(object_name) END "
									"|| coalesce(' on ' || quote_ident(table_schema) || '.' || quote_ident(table_name), '') "
									"FROM %s.run_objects WHERE run_id = %%int8 "
									"ORDER BY array_position(ARRAY['trigger','function','log','shadow','old','validate'], kind), 1",
									q);
	PGresult   *res = conn_queryf(c, spec, (PGint8) r->run_id);

	free(spec);
	if (res == NULL)
	{
		conn_report(c, "could not read the objects of a pg_rebuild run");
		return false;
	}
	for (int i = 0; i < PQntuples(res); i++)
		sv_push_owned(&r->objects, res_text(res, i, 0));
	PQclear(res);
	return true;
}

bool
state_list_runs(Conn *c, const char *tool_schema, const char *schema, const char *table,
				RunInfo **runs, int *nruns)
{
	char	   *q = ident_quote(tool_schema);
	char	   *spec = pgr_psprintf("SELECT run_id, relid, schema_name, table_name, lock_key, phase, pid, "
									"to_char(started, 'YYYY-MM-DD HH24:MI:SS TZ'), "
									"to_char(updated, 'YYYY-MM-DD HH24:MI:SS TZ'), %s.run_alive(lock_key) "
									"FROM %s.runs WHERE (%%text IS NULL OR schema_name = %%text) "
									"AND (%%text IS NULL OR table_name = %%text) ORDER BY run_id",
									q, q);
	PGresult   *res = conn_queryf(c, spec, schema, schema, table, table);
	bool		ok = true;

	free(spec);
	*runs = NULL;
	*nruns = 0;
	if (res == NULL)
	{
		conn_report(c, "could not read the pg_rebuild runs");
		free(q);
		return false;
	}
	*nruns = PQntuples(res);
	*runs = pgr_calloc((size_t) *nruns, sizeof(RunInfo));
	for (int i = 0; i < *nruns; i++)
	{
		RunInfo    *r = &(*runs)[i];

		r->run_id = res_int8(res, i, 0);
		r->relid = res_oid(res, i, 1);
		r->schema_name = res_text(res, i, 2);
		r->table_name = res_text(res, i, 3);
		r->lock_key = res_int8(res, i, 4);
		r->phase = res_text(res, i, 5);
		r->pid = res_int4(res, i, 6);
		r->started = res_text(res, i, 7);
		r->updated = res_text(res, i, 8);
		r->alive = res_bool(res, i, 9);
		sv_init(&r->objects);
	}
	PQclear(res);
	for (int i = 0; i < *nruns && ok; i++)
		ok = read_objects(c, q, &(*runs)[i]);
	free(q);
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
		free(runs[i].started);
		free(runs[i].updated);
		sv_free(&runs[i].objects);
	}
	free(runs);
}

long long
state_create_run(Conn *c, const char *tool_schema, unsigned int relid, const char *schema,
				 const char *table, long long key, const char *phase)
{
	char	   *q = ident_quote(tool_schema);
	char	   *spec = pgr_psprintf("INSERT INTO %s.runs (relid, schema_name, table_name, lock_key, phase, client) "
									"VALUES (%%oid, %%text, %%text, %%int8, %%text, "
									"coalesce(host(inet_client_addr()), 'local socket')) RETURNING run_id",
									q);
	PGresult   *res = conn_queryf(c, spec, relid, schema, table, (PGint8) key, phase);
	long long	id = 0;

	free(spec);
	free(q);
	if (res != NULL)
	{
		id = res_int8(res, 0, 0);
		PQclear(res);
	}
	return id;
}

bool
state_record(Conn *c, const char *tool_schema, long long run_id, ObjKind kind,
			 const char *schema, const char *name, const char *table_schema, const char *table_name)
{
	char	   *q = ident_quote(tool_schema);
	char	   *spec = pgr_psprintf("INSERT INTO %s.run_objects VALUES (%%int8, %%text, %%text, %%text, %%text, %%text)", q);
	bool		ok = conn_execf(c, spec, (PGint8) run_id, object_kind_recorded(kind), schema, name, table_schema,
							  table_name);

	free(spec);
	free(q);
	return ok;
}

bool
state_forget(Conn *c, const char *tool_schema, long long run_id, ObjKind kind,
			 const char *schema, const char *name)
{
	char	   *q = ident_quote(tool_schema);
	char	   *spec = pgr_psprintf("DELETE FROM %s.run_objects WHERE run_id = %%int8 AND kind = %%text "
									"AND schema_name = %%text AND object_name = %%text", q);
	bool		ok = conn_execf(c, spec, (PGint8) run_id, object_kind_recorded(kind), schema, name);

	free(spec);
	free(q);
	return ok;
}

bool
state_set_phase(Conn *c, const char *tool_schema, long long run_id, const char *phase)
{
	char	   *q = ident_quote(tool_schema);
	char	   *spec = pgr_psprintf("UPDATE %s.runs SET phase = %%text, updated = now() WHERE run_id = %%int8", q);
	bool		ok = conn_execf(c, spec, phase, (PGint8) run_id);

	free(spec);
	free(q);
	return ok;
}
