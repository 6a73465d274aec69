/* catalog.c: reading the table's description and its dependents. */
#include "catalog.h"

#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "log.h"
#include "record.h"

/* Version-specific fragments (chosen by conn_versioned). */
static const VersionedSql attcompression_sql[] = {
	{140000, "a.attcompression::text"},
	{0, "''::text"}
};

/* The named NOT NULL constraints of PostgreSQL 18; none before. */
static const VersionedSql not_null_sql[] = {
	{180000,
	 "SELECT co.conkey[1]::int4, co.conname::text, NOT co.convalidated, co.connoinherit, "
	 "pg_catalog.obj_description(co.oid, 'pg_constraint') "
	 "FROM pg_catalog.pg_constraint co WHERE co.conrelid OPERATOR(pg_catalog.=) %oid "
	 "AND co.contype OPERATOR(pg_catalog.=) 'n' ORDER BY 1"},
	{0, NULL}};

/*
 * The constraints built from their definition rather than on an index:
 * EXCLUDE, and on PostgreSQL 18 the temporal (WITHOUT OVERLAPS) PRIMARY KEY
 * and UNIQUE, whose GiST index cannot be made UNIQUE by CREATE INDEX.
 */
static const VersionedSql direct_constraint_sql[] = {
	{180000, "co.contype OPERATOR(pg_catalog.=) 'x' OR co.conperiod"},
	{0, "co.contype OPERATOR(pg_catalog.=) 'x'"}};

static const VersionedSql schema_publications_sql[] = {
	{150000,
		"SELECT 'publication ' || pg_catalog.quote_ident(p.pubname) || ' publishes every table of schema ' "
		"|| pg_catalog.quote_ident(n.nspname) || ' (FOR TABLES IN SCHEMA): the shadow and log tables would be published' "
		"FROM pg_catalog.pg_publication_namespace pn "
		"JOIN pg_catalog.pg_publication p ON p.oid OPERATOR(pg_catalog.=) pn.pnpubid "
		"JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) pn.pnnspid "
		"WHERE n.nspname::text OPERATOR(pg_catalog.=) ANY (ARRAY[%text, %text])"},
	{0, NULL}
};

long long
catalog_resolve_table(Conn *c, const char *schema, const char *name, char **found_schema)
{
	PGresult   *res;
	long long	oid = 0;

	*found_schema = NULL;
	if (schema)
	{
		res = conn_queryf(c,
						  "SELECT c.oid, n.nspname::text FROM pg_catalog.pg_class c "
						  "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
						  "WHERE n.nspname OPERATOR(pg_catalog.=) %text AND c.relname OPERATOR(pg_catalog.=) %text",
						  schema, name);
	}
	else
	{
		/*
		 * An unqualified name is looked up along the search_path the session
		 * started with (role and database defaults), as psql would; our own
		 * sessions run with search_path = pg_catalog, so it is set back for
		 * this one read-only transaction.
		 */
		if (!conn_command(c, "BEGIN READ ONLY; "
						  "SELECT pg_catalog.set_config('search_path', s.reset_val, true) "
						  "FROM pg_catalog.pg_settings s WHERE s.name OPERATOR(pg_catalog.=) 'search_path'"))
		{
			conn_report(c, "could not read the default search_path");
			conn_best_effort(c, "ROLLBACK");
			return -1;
		}
		res = conn_queryf(c,
						  "SELECT c.oid, n.nspname::text FROM pg_catalog.pg_class c "
						  "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
						  "JOIN pg_catalog.unnest(pg_catalog.current_schemas(false)) WITH ORDINALITY AS s(nsp, ord) "
						  "  ON s.nsp OPERATOR(pg_catalog.=) n.nspname "
						  "WHERE c.relname OPERATOR(pg_catalog.=) %text ORDER BY s.ord LIMIT 1",
						  name);
		if (!conn_command(c, "ROLLBACK"))
		{
			PQclear(res);
			conn_report(c, "could not resolve the table name");
			return -1;
		}
	}
	if (res == NULL)
	{
		conn_report(c, "could not look up the table");
		return -1;
	}
	if (PQntuples(res) > 0)
	{
		oid = (long long) res_oid(res, 0, 0);
		*found_schema = res_text(res, 0, 1);
	}
	PQclear(res);
	return oid;
}

/*
 * "name='value', ..." from a reloptions array, in the array's order: it is
 * the order the user wrote them in, which pg_dump shows and schema-drift
 * checks compare.
 */
static bool
read_options(Conn *c, unsigned int oid, bool toast, char **out, bool *autovacuum_set)
{
	PGresult   *res;
	StrBuf		sb;

	*out = NULL;
	if (autovacuum_set)
		*autovacuum_set = false;
	res = conn_queryf(c,
					  toast ?
					  "SELECT o.option_name, o.option_value FROM pg_catalog.pg_class c "
					  "JOIN pg_catalog.pg_class tc ON tc.oid OPERATOR(pg_catalog.=) c.reltoastrelid, "
					  "pg_catalog.pg_options_to_table(tc.reloptions) WITH ORDINALITY o(option_name, option_value, ord) "
					  "WHERE c.oid OPERATOR(pg_catalog.=) %oid ORDER BY o.ord" :
					  "SELECT o.option_name, o.option_value FROM pg_catalog.pg_class c, "
					  "pg_catalog.pg_options_to_table(c.reloptions) WITH ORDINALITY o(option_name, option_value, ord) "
					  "WHERE c.oid OPERATOR(pg_catalog.=) %oid ORDER BY o.ord",
					  oid);
	if (res == NULL)
	{
		conn_report(c, "could not read the table's storage parameters");
		return false;
	}
	if (PQntuples(res) > 0)
	{
		sb_init(&sb);
		for (int i = 0; i < PQntuples(res); i++)
		{
			char	   *k = res_text(res, i, 0);
			char	   *v = res_text(res, i, 1);
			char	   *lit = ident_literal(v ? v : "");

			if (i > 0)
				sb_append(&sb, ", ");
			if (toast)
				sb_append(&sb, "toast.");
			ident_append(&sb, k);
			if (autovacuum_set && k && strcmp(k, "autovacuum_enabled") == 0)
				*autovacuum_set = true;
			sb_appendf(&sb, "=%s", lit);
			free(k);
			free(v);
			free(lit);
		}
		*out = sb_steal(&sb);
	}
	PQclear(res);
	return true;
}

static bool
read_relation(Conn *c, unsigned int oid, TableDesc *t)
{
	PGresult   *res;
	char	   *s;

	res = conn_queryf(c,
					  "SELECT n.nspname::text, c.relname::text, pg_catalog.pg_get_userbyid(c.relowner)::text, "
					  "pg_catalog.pg_get_userbyid(c.relowner) OPERATOR(pg_catalog.=) CURRENT_USER, "
					  "pg_catalog.pg_has_role(c.relowner, 'MEMBER'), c.relkind::text, c.relpersistence::text, "
					  "c.relispartition, c.reloftype OPERATOR(pg_catalog.<>) 0, "
					  "CASE WHEN am.amname OPERATOR(pg_catalog.<>) 'heap' THEN am.amname::text END, "
					  "ts.spcname::text, pg_catalog.obj_description(c.oid, 'pg_class'), c.relreplident::text, "
					  "c.relrowsecurity, c.relforcerowsecurity, c.reltuples::float8, "
					  "c.relpages::int8, "
					  "pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' "
					  "  OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) "
					  "FROM pg_catalog.pg_class c "
					  "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
					  "LEFT JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) c.relam "
					  "LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid OPERATOR(pg_catalog.=) c.reltablespace "
					  "WHERE c.oid OPERATOR(pg_catalog.=) %oid",
					  oid);
	if (res == NULL)
	{
		conn_report(c, "could not read the table's definition");
		return false;
	}
	if (PQntuples(res) != 1)
	{
		log_error("the table with OID %u disappeared while it was being read", oid);
		log_detail("Nothing was changed.");
		log_hint("Someone dropped or replaced the table; check what it is now and run pg_rebuild again.");
		PQclear(res);
		return false;
	}
	t->oid = oid;
	t->schema = res_text(res, 0, 0);
	t->name = res_text(res, 0, 1);
	t->qname = ident_quote_qualified(t->schema, t->name);
	t->owner = res_text(res, 0, 2);
	t->owner_is_current = res_bool(res, 0, 3);
	t->can_act_as_owner = res_bool(res, 0, 4);
	s = res_text(res, 0, 5);
	t->relkind = s ? s[0] : 0;
	free(s);
	s = res_text(res, 0, 6);
	t->persistence = s ? s[0] : 'p';
	free(s);
	t->is_partition = res_bool(res, 0, 7);
	t->is_typed = res_bool(res, 0, 8);
	t->access_method = res_text(res, 0, 9);
	t->tablespace = res_text(res, 0, 10);
	t->comment = res_text(res, 0, 11);
	s = res_text(res, 0, 12);
	t->replident = s ? s[0] : 'd';
	free(s);
	t->rls_enabled = res_bool(res, 0, 13);
	t->rls_forced = res_bool(res, 0, 14);
	t->reltuples = res_float8(res, 0, 15);
	t->relpages = res_int8(res, 0, 16);
	t->qname_deparsed = res_text(res, 0, 17);
	PQclear(res);

	/*
	 * The sizes change with every write: never part of a recorded read (the
	 * swap's check under its lock would always find them changed).
	 */
	{
		ConnRecording *rec = conn_record_suspend(c);

		res = conn_queryf(c, "SELECT pg_catalog.pg_relation_size(%oid)::int8, "
						  "pg_catalog.pg_total_relation_size(%oid)::int8", oid, oid);
		conn_record_resume(c, rec);
	}
	if (res == NULL)
	{
		conn_report(c, "could not read the table's size");
		return false;
	}
	t->heap_bytes = res_int8(res, 0, 0);
	t->total_bytes = res_int8(res, 0, 1);
	PQclear(res);
	return read_options(c, oid, false, &t->reloptions, &t->autovacuum_set) &&
		read_options(c, oid, true, &t->toast_reloptions, NULL);
}

static bool
read_columns(Conn *c, TableDesc *t)
{
	static const ResField column_fields[] = {
		RES_INT4(ColumnDesc, attnum), RES_TEXT(ColumnDesc, name), RES_TEXT(ColumnDesc, type),
		RES_TEXT(ColumnDesc, collation), RES_BOOL(ColumnDesc, notnull), RES_TEXT(ColumnDesc, default_expr),
		RES_CHAR(ColumnDesc, identity), RES_CHAR(ColumnDesc, generated), RES_CHAR(ColumnDesc, storage),
		RES_CHAR(ColumnDesc, type_storage), RES_CHAR(ColumnDesc, compression), RES_INT4(ColumnDesc, stattarget),
		RES_TEXT(ColumnDesc, attoptions), RES_TEXT(ColumnDesc, comment), RES_TEXT(ColumnDesc, sequence_schema),
		RES_TEXT(ColumnDesc, sequence_name), RES_TEXT(ColumnDesc, identity_options)
	};
	PGresult   *res;
	StrBuf		sql;
	void	   *rows;

	sb_init(&sql);
	sb_appendf(&sql,
			   "SELECT a.attnum::int4, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), "
			   "CASE WHEN a.attcollation OPERATOR(pg_catalog.<>) t.typcollation "
			   "  AND a.attcollation OPERATOR(pg_catalog.<>) 0 "
			   "  THEN pg_catalog.quote_ident(cn.nspname) OPERATOR(pg_catalog.||) '.' "
			   "       OPERATOR(pg_catalog.||) pg_catalog.quote_ident(co.collname) END, "
			   "a.attnotnull, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), a.attidentity::text, "
			   "a.attgenerated::text, a.attstorage::text, t.typstorage::text, %s, coalesce(a.attstattarget::int4, -1), "
			   "(SELECT pg_catalog.string_agg(pg_catalog.quote_ident(o.option_name) OPERATOR(pg_catalog.||) '=' "
			   "   OPERATOR(pg_catalog.||) pg_catalog.quote_literal(o.option_value), ', ' ORDER BY o.ord) "
			   "   FROM pg_catalog.pg_options_to_table(a.attoptions) WITH ORDINALITY o(option_name, option_value, ord) "
			   "   WHERE left(o.option_name, 3) <> 'pg_'), "
			   "pg_catalog.col_description(a.attrelid, a.attnum), sq.nspname, sq.relname, "
			   "CASE WHEN a.attidentity OPERATOR(pg_catalog.<>) '' THEN "
			   "  'START WITH ' OPERATOR(pg_catalog.||) sq.seqstart::text "
			   "  OPERATOR(pg_catalog.||) ' INCREMENT BY ' OPERATOR(pg_catalog.||) sq.seqincrement::text "
			   "  OPERATOR(pg_catalog.||) ' MINVALUE ' OPERATOR(pg_catalog.||) sq.seqmin::text "
			   "  OPERATOR(pg_catalog.||) ' MAXVALUE ' OPERATOR(pg_catalog.||) sq.seqmax::text "
			   "  OPERATOR(pg_catalog.||) ' CACHE ' OPERATOR(pg_catalog.||) sq.seqcache::text "
			   "  OPERATOR(pg_catalog.||) CASE WHEN sq.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END END "
			   "FROM pg_catalog.pg_attribute a "
			   "JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid "
			   "LEFT JOIN pg_catalog.pg_collation co ON co.oid OPERATOR(pg_catalog.=) a.attcollation "
			   "LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid OPERATOR(pg_catalog.=) co.collnamespace "
			   "LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid OPERATOR(pg_catalog.=) a.attrelid "
			   "  AND ad.adnum OPERATOR(pg_catalog.=) a.attnum "
			   "LEFT JOIN LATERAL (SELECT sn.nspname::text, s.relname::text, ps.seqtypid, ps.seqstart, "
			   "    ps.seqincrement, ps.seqmin, ps.seqmax, ps.seqcache, ps.seqcycle "
			   "  FROM pg_catalog.pg_depend d "
			   "  JOIN pg_catalog.pg_class s ON s.oid OPERATOR(pg_catalog.=) d.objid AND s.relkind OPERATOR(pg_catalog.=) 'S' "
			   "  JOIN pg_catalog.pg_namespace sn ON sn.oid OPERATOR(pg_catalog.=) s.relnamespace "
			   "  JOIN pg_catalog.pg_sequence ps ON ps.seqrelid OPERATOR(pg_catalog.=) s.oid "
			   "  WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
			   "    AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
			   "    AND d.refobjid OPERATOR(pg_catalog.=) a.attrelid AND d.refobjsubid OPERATOR(pg_catalog.=) a.attnum "
			   "    AND d.deptype OPERATOR(pg_catalog.=) ANY (ARRAY['a','i']::\"char\"[]) LIMIT 1) sq ON true "
			   "WHERE a.attrelid OPERATOR(pg_catalog.=) %%oid AND a.attnum OPERATOR(pg_catalog.>) 0 "
			   "AND NOT a.attisdropped ORDER BY a.attnum",
			   conn_versioned(c, attcompression_sql));
	res = conn_queryf(c, sql.data, t->oid);
	sb_free(&sql);
	if (!conn_read_rows(c, res, "could not read the table's columns", sizeof(ColumnDesc), column_fields,
						RES_NFIELDS(column_fields), &rows, &t->ncolumns))
		return false;
	t->columns = rows;
	for (int i = 0; i < t->ncolumns; i++)
	{
		ColumnDesc *col = &t->columns[i];

		if (col->sequence_name)
			col->sequence = ident_quote_qualified(col->sequence_schema, col->sequence_name);
	}
	return true;
}

static ColumnDesc *
column_by_attnum(TableDesc *t, int attnum)
{
	for (int i = 0; i < t->ncolumns; i++)
		if (t->columns[i].attnum == attnum)
			return &t->columns[i];
	return NULL;
}

/* PostgreSQL 18: each column's NOT NULL constraint (name, NOT VALID, NO INHERIT, comment). */
static bool
read_not_nulls(Conn *c, TableDesc *t)
{
	const char *sql = conn_versioned(c, not_null_sql);
	PGresult   *res;

	if (sql == NULL)
		return true;
	res = conn_queryf(c, sql, t->oid);
	if (res == NULL)
	{
		conn_report(c, "could not read the table's NOT NULL constraints");
		return false;
	}
	for (int i = 0; i < PQntuples(res); i++)
	{
		ColumnDesc *col = column_by_attnum(t, res_int4(res, i, 0));

		if (col == NULL)
			continue;
		col->notnull_name = res_text(res, i, 1);
		col->notnull_invalid = res_bool(res, i, 2);
		col->notnull_noinherit = res_bool(res, i, 3);
		col->notnull_comment = res_text(res, i, 4);
	}
	PQclear(res);
	return true;
}

static bool
read_index_keys(Conn *c, IndexDesc *ix)
{
	PGresult   *res;

	res = conn_queryf(c,
					  "SELECT a.attname::text, quote_ident(opn.nspname) || '.' || op.oprname::text "
					  "FROM pg_catalog.pg_index i, "
					  "unnest(i.indkey::int2[], i.indclass::oid[]) WITH ORDINALITY AS k(attnum, opclass, ord) "
					  "JOIN pg_catalog.pg_attribute a ON a.attnum = k.attnum "
					  "LEFT JOIN pg_catalog.pg_opclass oc ON oc.oid = k.opclass "
					  "LEFT JOIN pg_catalog.pg_amop ao ON ao.amopfamily = oc.opcfamily "
					  "  AND ao.amoplefttype = oc.opcintype AND ao.amoprighttype = oc.opcintype "
					  "  AND ao.amopstrategy = 3 AND ao.amopmethod = oc.opcmethod "
					  "LEFT JOIN pg_catalog.pg_operator op ON op.oid = ao.amopopr "
					  "LEFT JOIN pg_catalog.pg_namespace opn ON opn.oid = op.oprnamespace "
					  "WHERE i.indexrelid = %oid AND a.attrelid = i.indrelid "
					  "AND k.ord <= i.indnkeyatts ORDER BY k.ord",
					  ix->oid);
	if (res == NULL)
	{
		conn_report(c, "could not read an index's columns");
		return false;
	}
	ix->nkeys = PQntuples(res);
	ix->key_columns = pgr_calloc((size_t) ix->nkeys, sizeof(char *));
	ix->key_ops = pgr_calloc((size_t) ix->nkeys, sizeof(char *));
	ix->key_ops_known = true;
	for (int i = 0; i < ix->nkeys; i++)
	{
		ix->key_columns[i] = res_text(res, i, 0);
		ix->key_ops[i] = res_text(res, i, 1);
		if (ix->key_ops[i] == NULL)
			ix->key_ops_known = false;
	}
	PQclear(res);
	return true;
}

static bool
read_indexes(Conn *c, TableDesc *t)
{
	static const ResField index_fields[] = {
		RES_OID(IndexDesc, oid), RES_TEXT(IndexDesc, name), RES_TEXT(IndexDesc, def),
		RES_TEXT(IndexDesc, def_prefix_name), RES_TEXT(IndexDesc, def_prefix_table), RES_BOOL(IndexDesc, primary),
		RES_BOOL(IndexDesc, unique), RES_BOOL(IndexDesc, valid), RES_BOOL(IndexDesc, clustered),
		RES_BOOL(IndexDesc, replident), RES_BOOL(IndexDesc, partial), RES_BOOL(IndexDesc, expressions),
		RES_BOOL(IndexDesc, keys_notnull), RES_CHAR(IndexDesc, contype), RES_TEXT(IndexDesc, conname),
		RES_TEXT(IndexDesc, condef), RES_BOOL(IndexDesc, deferrable), RES_BOOL(IndexDesc, deferred),
		RES_TEXT(IndexDesc, tablespace), RES_TEXT(IndexDesc, comment), RES_TEXT(IndexDesc, con_comment)
	};
	PGresult   *res;
	char	   *sql;
	void	   *rows;

	sql = pgr_psprintf("SELECT i.indexrelid, ic.relname::text, pg_catalog.pg_get_indexdef(i.indexrelid), "
					   "pg_catalog.quote_ident(ic.relname), "
					   "pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' "
					   "  OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname), "
					   "i.indisprimary, i.indisunique, (i.indisvalid AND i.indisready AND i.indislive), "
					   "i.indisclustered, i.indisreplident, i.indpred IS NOT NULL, i.indexprs IS NOT NULL, "
					   "COALESCE((SELECT pg_catalog.bool_and(a.attnotnull) FROM pg_catalog.pg_attribute a "
					   "  WHERE a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
					   "  AND a.attnum OPERATOR(pg_catalog.=) ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])), false), "
					   "co.contype::text, co.conname::text, "
					   "CASE WHEN %s THEN pg_catalog.pg_get_constraintdef(co.oid) END, "
					   "COALESCE(co.condeferrable, false), COALESCE(co.condeferred, false), ts.spcname::text, "
					   "pg_catalog.obj_description(i.indexrelid, 'pg_class'), "
					   "pg_catalog.obj_description(co.oid, 'pg_constraint') "
					   "FROM pg_catalog.pg_index i "
					   "JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid "
					   "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indrelid "
					   "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
					   "LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid OPERATOR(pg_catalog.=) ic.reltablespace "
					   "LEFT JOIN pg_catalog.pg_constraint co ON co.conindid OPERATOR(pg_catalog.=) i.indexrelid "
					   "  AND co.conrelid OPERATOR(pg_catalog.=) i.indrelid "
					   "  AND co.contype OPERATOR(pg_catalog.=) ANY (ARRAY['p','u','x']::\"char\"[]) "
					   "WHERE i.indrelid OPERATOR(pg_catalog.=) %%oid ORDER BY ic.relname",
					   conn_versioned(c, direct_constraint_sql));

	res = conn_queryf(c, sql, t->oid);
	free(sql);
	if (!conn_read_rows(c, res, "could not read the table's indexes", sizeof(IndexDesc), index_fields,
						RES_NFIELDS(index_fields), &rows, &t->nindexes))
		return false;
	t->indexes = rows;
	for (int i = 0; i < t->nindexes; i++)
		if (!t->indexes[i].expressions && !read_index_keys(c, &t->indexes[i]))
			return false;
	return true;
}

static bool
read_checks(Conn *c, TableDesc *t)
{
	static const ResField check_fields[] = {
		RES_TEXT(CheckDesc, name), RES_TEXT(CheckDesc, def), RES_BOOL(CheckDesc, validated),
		RES_TEXT(CheckDesc, comment)
	};
	PGresult   *res;
	void	   *rows;

	res = conn_queryf(c,
					  "SELECT co.conname::text, pg_catalog.pg_get_constraintdef(co.oid), co.convalidated, "
					  "pg_catalog.obj_description(co.oid, 'pg_constraint') "
					  "FROM pg_catalog.pg_constraint co WHERE co.conrelid OPERATOR(pg_catalog.=) %oid "
					  "AND co.contype OPERATOR(pg_catalog.=) 'c' ORDER BY co.conname",
					  t->oid);
	if (!conn_read_rows(c, res, "could not read the table's CHECK constraints", sizeof(CheckDesc), check_fields,
						RES_NFIELDS(check_fields), &rows, &t->nchecks))
		return false;
	t->checks = rows;
	return true;
}

static bool
read_grants(Conn *c, TableDesc *t)
{
	static const ResField grant_fields[] = {
		RES_TEXT(GrantDesc, grantee), RES_TEXT(GrantDesc, privilege), RES_TEXT(GrantDesc, column),
		RES_BOOL(GrantDesc, grantable)
	};
	PGresult   *res;
	void	   *rows;

	res = conn_queryf(c,
					  "SELECT CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN NULL "
					  "  ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END, a.privilege_type, NULL::text, "
					  "  a.is_grantable "
					  "FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a "
					  "WHERE c.oid OPERATOR(pg_catalog.=) %oid AND a.grantee OPERATOR(pg_catalog.<>) c.relowner "
					  "UNION ALL "
					  "SELECT CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN NULL "
					  "  ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END, a.privilege_type, att.attname::text, "
					  "  a.is_grantable "
					  "FROM pg_catalog.pg_attribute att, pg_catalog.aclexplode(att.attacl) a "
					  "WHERE att.attrelid OPERATOR(pg_catalog.=) %oid AND att.attnum OPERATOR(pg_catalog.>) 0 "
					  "AND NOT att.attisdropped ORDER BY 3 NULLS FIRST, 1 NULLS FIRST, 2",
					  t->oid, t->oid);
	if (!conn_read_rows(c, res, "could not read the table's privileges", sizeof(GrantDesc), grant_fields,
						RES_NFIELDS(grant_fields), &rows, &t->ngrants))
		return false;
	t->grants = rows;
	return true;
}

/* Some key column's NOT NULL is NOT VALID (PostgreSQL 18): it may hold NULLs. */
static bool
key_may_hold_null(const TableDesc *t, const IndexDesc *ix)
{
	for (int k = 0; k < ix->nkeys; k++)
	{
		const ColumnDesc *col = catalog_find_column(t, ix->key_columns[k]);

		if (col && col->notnull_invalid)
			return true;
	}
	return false;
}

/* The replay key: the primary key, else a plain unique index on NOT NULL columns. */
static void
choose_key(TableDesc *t)
{
	t->key_index = -1;
	for (int pass = 0; pass < 2 && t->key_index < 0; pass++)
		for (int i = 0; i < t->nindexes; i++)
		{
			IndexDesc  *ix = &t->indexes[i];

			/* a temporal key (condef) is unique by overlap, not equality */
			if (!ix->valid || !ix->unique || ix->partial || ix->expressions || !ix->keys_notnull || ix->condef ||
				!ix->key_ops_known || ix->nkeys == 0 || key_may_hold_null(t, ix))
				continue;
			if (pass == 0 && !ix->primary)
				continue;
			t->key_index = i;
			break;
		}
}

bool
catalog_read_table(Conn *c, unsigned int oid, TableDesc *t)
{
	memset(t, 0, sizeof(*t));
	t->key_index = -1;
	if (!read_relation(c, oid, t) || !read_columns(c, t) || !read_not_nulls(c, t) || !read_indexes(c, t) ||
		!read_checks(c, t) || !read_grants(c, t))
		return false;
	choose_key(t);
	return true;
}

/* Appends one key of a btree index's order: the row of catalog_read_cluster_order's query. */
static void
append_order_key(StrBuf *sb, const PGresult *res, int row)
{
	char	   *key = res_text(res, row, 0);
	char	   *collation = res_text(res, row, 1);
	bool		default_opclass = res_bool(res, row, 2);
	bool		desc = res_bool(res, row, 3);
	bool		nulls_first = res_bool(res, row, 4);
	char	   *op_schema = res_text(res, row, 5);
	char	   *op_name = res_text(res, row, 6);

	sb_appendf(sb, "%s%s", row > 0 ? ", " : "", key ? key : "?");
	if (collation)
		sb_appendf(sb, " COLLATE %s", collation);
	if (default_opclass || op_name == NULL)
	{
		if (desc)
			sb_append(sb, " DESC");
		if (nulls_first != desc)
			sb_append(sb, nulls_first ? " NULLS FIRST" : " NULLS LAST");
	}
	else
		/* another operator class sorts with its own operator (e.g. text_pattern_ops: ~<~) */
		sb_appendf(sb, " USING OPERATOR(%s.%s) NULLS %s", op_schema, op_name, nulls_first ? "FIRST" : "LAST");
	free(key);
	free(collation);
	free(op_schema);
	free(op_name);
}

bool
catalog_read_cluster_order(Conn *c, TableDesc *t)
{
	PGresult   *res;
	unsigned int oid = 0;
	StrBuf		sb;

	for (int i = 0; i < t->nindexes; i++)
		if (t->indexes[i].clustered)
			oid = t->indexes[i].oid;
	if (oid == 0)
		return true;
	res = conn_queryf(c,
					  "SELECT am.amname::text FROM pg_catalog.pg_class ic "
					  "JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) ic.relam "
					  "WHERE ic.oid OPERATOR(pg_catalog.=) %oid", oid);
	if (res == NULL || PQntuples(res) != 1)
	{
		if (res == NULL)
			conn_report(c, "could not read the access method of the table's CLUSTER index");
		else
			log_error("the CLUSTER index of %s disappeared while it was being read", t->qname);
		PQclear(res);
		return false;
	}
	t->cluster_am = res_text(res, 0, 0);
	PQclear(res);
	if (t->cluster_am == NULL || strcmp(t->cluster_am, "btree") != 0)
		return true;			/* no ORDER BY list says what order a gist index keeps */

	/*
	 * One row per key column.  A plain column's collation is written only
	 * when the index's differs from the column's; an expression's always
	 * (saying its own collation again changes nothing).  The ordering
	 * operator of a non-default operator class is its btree strategy 1 (less)
	 * or, for DESC, 5 (greater).
	 */
	res = conn_queryf(c,
					  "SELECT pg_catalog.pg_get_indexdef(i.indexrelid, k.ord::int4, false), "
					  "CASE WHEN k.coll OPERATOR(pg_catalog.<>) 0 AND (k.attnum OPERATOR(pg_catalog.=) 0 "
					  "  OR k.coll OPERATOR(pg_catalog.<>) a.attcollation) "
					  "  THEN pg_catalog.quote_ident(cn.nspname) OPERATOR(pg_catalog.||) '.' "
					  "    OPERATOR(pg_catalog.||) pg_catalog.quote_ident(co.collname) END, "
					  "oc.opcdefault, (k.opt OPERATOR(pg_catalog.&) 1) OPERATOR(pg_catalog.<>) 0, "
					  "(k.opt OPERATOR(pg_catalog.&) 2) OPERATOR(pg_catalog.<>) 0, "
					  "pg_catalog.quote_ident(opn.nspname), op.oprname::text "
					  "FROM pg_catalog.pg_index i, "
					  "ROWS FROM (pg_catalog.unnest(i.indkey::pg_catalog.int2[]), "
					  "  pg_catalog.unnest(i.indcollation::pg_catalog.oid[]), "
					  "  pg_catalog.unnest(i.indclass::pg_catalog.oid[]), "
					  "  pg_catalog.unnest(i.indoption::pg_catalog.int2[])) "
					  "  WITH ORDINALITY AS k(attnum, coll, opclass, opt, ord) "
					  "JOIN pg_catalog.pg_opclass oc ON oc.oid OPERATOR(pg_catalog.=) k.opclass "
					  "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) %oid "
					  "  AND a.attnum OPERATOR(pg_catalog.=) k.attnum "
					  "LEFT JOIN pg_catalog.pg_collation co ON co.oid OPERATOR(pg_catalog.=) k.coll "
					  "LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid OPERATOR(pg_catalog.=) co.collnamespace "
					  "LEFT JOIN pg_catalog.pg_amop ao ON ao.amopfamily OPERATOR(pg_catalog.=) oc.opcfamily "
					  "  AND ao.amoplefttype OPERATOR(pg_catalog.=) oc.opcintype "
					  "  AND ao.amoprighttype OPERATOR(pg_catalog.=) oc.opcintype "
					  "  AND ao.amopmethod OPERATOR(pg_catalog.=) oc.opcmethod "
					  "  AND ao.amopstrategy OPERATOR(pg_catalog.=) CASE WHEN (k.opt OPERATOR(pg_catalog.&) 1) "
					  "    OPERATOR(pg_catalog.<>) 0 THEN 5 ELSE 1 END "
					  "LEFT JOIN pg_catalog.pg_operator op ON op.oid OPERATOR(pg_catalog.=) ao.amopopr "
					  "LEFT JOIN pg_catalog.pg_namespace opn ON opn.oid OPERATOR(pg_catalog.=) op.oprnamespace "
					  "WHERE i.indexrelid OPERATOR(pg_catalog.=) %oid "
					  "AND k.ord OPERATOR(pg_catalog.<=) i.indnkeyatts ORDER BY k.ord",
					  t->oid, oid);
	if (res == NULL)
	{
		conn_report(c, "could not read the order of the table's CLUSTER index");
		return false;
	}
	sb_init(&sb);
	for (int i = 0; i < PQntuples(res); i++)
		append_order_key(&sb, res, i);
	PQclear(res);
	if (sb.len > 0)
		t->cluster_order = sb_steal(&sb);
	else
		sb_free(&sb);
	return true;
}

void
catalog_free_table(TableDesc *t)
{
	free(t->schema);
	free(t->name);
	free(t->qname);
	free(t->qname_deparsed);
	free(t->owner);
	free(t->access_method);
	free(t->reloptions);
	free(t->toast_reloptions);
	free(t->cluster_am);
	free(t->cluster_order);
	free(t->tablespace);
	free(t->comment);
	for (int i = 0; i < t->ncolumns; i++)
	{
		ColumnDesc *col = &t->columns[i];

		free(col->name);
		free(col->type);
		free(col->collation);
		free(col->default_expr);
		free(col->sequence);
		free(col->sequence_schema);
		free(col->sequence_name);
		free(col->identity_options);
		free(col->attoptions);
		free(col->comment);
		free(col->notnull_name);
		free(col->notnull_comment);
	}
	free(t->columns);
	for (int i = 0; i < t->nindexes; i++)
	{
		IndexDesc  *ix = &t->indexes[i];

		free(ix->name);
		free(ix->def);
		free(ix->def_prefix_name);
		free(ix->def_prefix_table);
		for (int k = 0; k < ix->nkeys; k++)
		{
			if (ix->key_columns)
				free(ix->key_columns[k]);
			if (ix->key_ops)
				free(ix->key_ops[k]);
		}
		free(ix->key_columns);
		free(ix->key_ops);
		free(ix->conname);
		free(ix->condef);
		free(ix->tablespace);
		free(ix->comment);
		free(ix->con_comment);
	}
	free(t->indexes);
	for (int i = 0; i < t->nchecks; i++)
	{
		free(t->checks[i].name);
		free(t->checks[i].def);
		free(t->checks[i].comment);
	}
	free(t->checks);
	for (int i = 0; i < t->ngrants; i++)
	{
		free(t->grants[i].grantee);
		free(t->grants[i].privilege);
		free(t->grants[i].column);
	}
	free(t->grants);
	memset(t, 0, sizeof(*t));
}

const ColumnDesc *
catalog_find_column(const TableDesc *t, const char *name)
{
	for (int i = 0; i < t->ncolumns; i++)
		if (strcmp(t->columns[i].name, name) == 0)
			return &t->columns[i];
	return NULL;
}

static void
canon_str(StrBuf *sb, const char *label, const char *v)
{
	sb_appendf(sb, "%s=%zu:%s\n", label, v ? strlen(v) : (size_t) 0, v ? v : "<null>");
}

char *
catalog_canonical_text(const TableDesc *t)
{
	StrBuf		sb;

	sb_init(&sb);
	sb_appendf(&sb, "oid=%u kind=%c persistence=%c replident=%c rls=%d/%d\n", t->oid,
			   t->relkind, t->persistence, t->replident, t->rls_enabled, t->rls_forced);
	canon_str(&sb, "schema", t->schema);
	canon_str(&sb, "name", t->name);
	canon_str(&sb, "owner", t->owner);
	canon_str(&sb, "am", t->access_method);
	canon_str(&sb, "reloptions", t->reloptions);
	canon_str(&sb, "toast", t->toast_reloptions);
	canon_str(&sb, "tablespace", t->tablespace);
	canon_str(&sb, "comment", t->comment);
	for (int i = 0; i < t->ncolumns; i++)
	{
		const ColumnDesc *col = &t->columns[i];

		sb_appendf(&sb, "col %d notnull=%d id=%d gen=%d st=%d/%d comp=%d stat=%d\n", col->attnum,
				   col->notnull, col->identity, col->generated, col->storage, col->type_storage,
				   col->compression, col->stattarget);
		canon_str(&sb, "name", col->name);
		canon_str(&sb, "type", col->type);
		canon_str(&sb, "coll", col->collation);
		canon_str(&sb, "default", col->default_expr);
		canon_str(&sb, "seq", col->sequence);
		canon_str(&sb, "idopts", col->identity_options);
		canon_str(&sb, "attopts", col->attoptions);
		canon_str(&sb, "comment", col->comment);
		sb_appendf(&sb, "notnull invalid=%d noinherit=%d\n", col->notnull_invalid, col->notnull_noinherit);
		canon_str(&sb, "notnull", col->notnull_name);
		canon_str(&sb, "nncomment", col->notnull_comment);
	}
	for (int i = 0; i < t->nindexes; i++)
	{
		const IndexDesc *ix = &t->indexes[i];

		sb_appendf(&sb, "index %u valid=%d clu=%d ri=%d con=%d def=%d/%d\n", ix->oid, ix->valid,
				   ix->clustered, ix->replident, ix->contype, ix->deferrable, ix->deferred);
		canon_str(&sb, "name", ix->name);
		canon_str(&sb, "def", ix->def);
		canon_str(&sb, "conname", ix->conname);
		canon_str(&sb, "condef", ix->condef);
		canon_str(&sb, "ts", ix->tablespace);
		canon_str(&sb, "comment", ix->comment);
		canon_str(&sb, "concomment", ix->con_comment);
	}
	for (int i = 0; i < t->nchecks; i++)
	{
		canon_str(&sb, "check", t->checks[i].name);
		canon_str(&sb, "def", t->checks[i].def);
		canon_str(&sb, "comment", t->checks[i].comment);
	}
	for (int i = 0; i < t->ngrants; i++)
	{
		const GrantDesc *g = &t->grants[i];

		sb_appendf(&sb, "grant grantable=%d\n", g->grantable);
		canon_str(&sb, "grantee", g->grantee);
		canon_str(&sb, "priv", g->privilege);
		canon_str(&sb, "col", g->column);
	}
	return sb_steal(&sb);
}

/*
 * Everything that depends on the table (or on its row type) and that the
 * rebuild cannot carry over.  Each row is a finished sentence for the refusal
 * message.  $2 (at_swap) narrows what is accepted: at preflight, the objects
 * that the swap re-creates or rewires (views, rules, triggers, policies,
 * foreign keys, publications, statistics, SQL functions) are fine; inside the
 * swap, checked against the old table, only the old table's own parts are,
 * since everything else must have been moved to the new table by then.
 */
static const char *const dependents_sql =
"WITH t AS ("
"  SELECT c.oid, c.reltype, c.reltoastrelid, ty.typarray FROM pg_catalog.pg_class c"
"  JOIN pg_catalog.pg_type ty ON ty.oid = c.reltype WHERE c.oid = %oid),"
" d AS ("
"  SELECT d.classid, d.objid, d.objsubid, d.deptype, d.refclassid FROM pg_catalog.pg_depend d, t"
"  WHERE ((d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = t.oid)"
"      OR (d.refclassid = 'pg_catalog.pg_type'::regclass AND d.refobjid IN (t.reltype, t.typarray)))"
"    AND d.deptype <> 'e'"
"    AND NOT (d.classid = 'pg_catalog.pg_type'::regclass AND d.objid IN (t.reltype, t.typarray))"
"    AND NOT (d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = t.oid)" /* PG13: generated column on column */
"    AND NOT (d.classid = 'pg_catalog.pg_attrdef'::regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_attrdef ad"
"         WHERE ad.oid = d.objid AND ad.adrelid = t.oid))"
"    AND NOT (d.classid = 'pg_catalog.pg_class'::regclass AND (d.objid = t.reltoastrelid"
"         OR EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indexrelid = d.objid AND i.indrelid = t.oid)"
"         OR EXISTS (SELECT 1 FROM pg_catalog.pg_class s WHERE s.oid = d.objid AND s.relkind = 'S'"
"                    AND d.deptype IN ('a','i'))))"
/* the table's own parts: constraints, triggers, rules, policies, statistics */
"    AND NOT (d.classid = 'pg_catalog.pg_constraint'::regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co"
"         WHERE co.oid = d.objid AND co.conrelid = t.oid))"
"    AND NOT (d.classid = 'pg_catalog.pg_trigger'::regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_trigger tg"
"         WHERE tg.oid = d.objid AND (tg.tgisinternal OR (tg.tgrelid = t.oid"
"               AND (%bool OR tg.tgname NOT LIKE 'pgrebuild\\_%%')))))"
"    AND NOT (d.classid = 'pg_catalog.pg_rewrite'::regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r"
"         WHERE r.oid = d.objid AND r.ev_class = t.oid))"
"    AND NOT (d.classid = 'pg_catalog.pg_policy'::regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_policy pol"
"         WHERE pol.oid = d.objid AND pol.polrelid = t.oid))"
"    AND NOT (d.classid = 'pg_catalog.pg_statistic_ext'::regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_statistic_ext st"
"         WHERE st.oid = d.objid AND st.stxrelid = t.oid))"
/* at preflight: what the swap carries over or rewires */
"    AND (%bool OR NOT ("
"         (d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass"
"          AND EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class"
"            WHERE r.oid = d.objid AND ((c.relkind = 'v' AND r.rulename = '_RETURN')"
"                                       OR (c.relkind IN ('r', 'p') AND r.rulename <> '_RETURN'))))"
"      OR (d.classid = 'pg_catalog.pg_constraint'::regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co"
"            WHERE co.oid = d.objid AND co.contype = 'f'))"
"      OR (d.classid = 'pg_catalog.pg_policy'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass)"
"      OR d.classid = 'pg_catalog.pg_publication_rel'::regclass"
"      OR (d.classid = 'pg_catalog.pg_proc'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass)))"
")"
" SELECT DISTINCT CASE"
"   WHEN d.classid = 'pg_catalog.pg_rewrite'::regclass THEN"
"     (SELECT CASE WHEN r.rulename = '_RETURN' THEN"
"        (CASE rc.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END)"
"        || quote_ident(rn.nspname) || '.' || quote_ident(rc.relname)"
"        || (CASE rc.relkind WHEN 'm' THEN ' depends on the table (a materialized view cannot be re-pointed:'"
"             || ' drop it and re-create it after the rebuild)'"
"            ELSE ' still depends on the old table' END)"
"      ELSE 'rule ' || quote_ident(r.rulename) || ' on ' || quote_ident(rn.nspname) || '.' || quote_ident(rc.relname)"
"        || ' still refers to the old table' END"
"      FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class rc ON rc.oid = r.ev_class"
"      JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace WHERE r.oid = d.objid)"
"   WHEN d.classid = 'pg_catalog.pg_trigger'::regclass THEN"
"     pg_describe_object(d.classid, d.objid, 0) || ' is a leftover of a pg_rebuild run that has no record:'"
"     || ' check it, then drop it'"
"   WHEN d.refclassid = 'pg_catalog.pg_type'::regclass THEN"
"     pg_describe_object(d.classid, d.objid, d.objsubid) || ' uses the table''s row type'"
"     || ' (it would keep the old type: change or drop it first)'"
"   WHEN d.classid = 'pg_catalog.pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits ih"
"        WHERE ih.inhrelid = d.objid) THEN"
"     pg_describe_object(d.classid, d.objid, 0) || ' inherits from the table (tables with inheritance children are refused)'"
"   ELSE pg_describe_object(d.classid, d.objid, d.objsubid) || ' depends on the table'"
"        || ' (it would be left pointing at the old table)'"
" END FROM d"
" UNION ALL"
" SELECT 'the table belongs to extension ' || quote_ident(e.extname) || ' (extension member tables are refused)'"
" FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid, t"
" WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = t.oid AND d.deptype = 'e'"
" UNION ALL"
" SELECT 'the table has a security label from provider ' || quote_ident(sl.provider)"
" || ' (security labels cannot be carried over)'"
" FROM pg_catalog.pg_seclabel sl, t WHERE sl.classoid = 'pg_catalog.pg_class'::regclass AND sl.objoid = t.oid"
" UNION ALL"
" SELECT 'publication ' || quote_ident(p.pubname) || ' is FOR ALL TABLES: it would publish the shadow and log tables'"
" FROM pg_catalog.pg_publication p WHERE p.puballtables"
" UNION ALL"
" SELECT 'the table is the target of a logical replication subscription'"
" FROM pg_catalog.pg_subscription_rel sr, t WHERE sr.srrelid = t.oid";

bool
catalog_unsupported_dependents(Conn *c, const TableDesc *t, const char *tool_schema, bool at_swap,
							   StrVec *problems)
{
	PGresult   *res;
	const char *schema_pubs = conn_versioned(c, schema_publications_sql);

	res = conn_queryf(c, dependents_sql, t->oid, (PGbool) at_swap, (PGbool) at_swap);
	if (res == NULL)
	{
		conn_report(c, "could not read what depends on the table");
		return false;
	}
	for (int i = 0; i < PQntuples(res); i++)
		sv_push_owned(problems, res_text(res, i, 0));
	PQclear(res);

	if (schema_pubs)
	{
		res = conn_queryf(c, schema_pubs, t->schema, tool_schema);
		if (res == NULL)
		{
			conn_report(c, "could not read the publications");
			return false;
		}
		for (int i = 0; i < PQntuples(res); i++)
			sv_push_owned(problems, res_text(res, i, 0));
		PQclear(res);
	}
	return true;
}
