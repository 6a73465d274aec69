/* test_plan.c: DDL generation from a table description, without a server. */
#include <stdlib.h>
#include <string.h>

#include "copy.h"
#include "plan.h"
#include "tap.h"

static bool
list_has(const StmtList *l, const char *needle)
{
	for (int i = 0; i < l->n; i++)
		if (strstr(l->items[i].sql, needle))
			return true;
	return false;
}

static int
list_pos(const StmtList *l, const char *needle)
{
	for (int i = 0; i < l->n; i++)
		if (strstr(l->items[i].sql, needle))
			return i;
	return -1;
}

static char *
s(const char *v)
{
	return v ? strdup(v) : NULL;
}

/* A table "Sales"."Orders" with a bit of everything. */
static void
make_table(TableDesc *t)
{
	ColumnDesc *c;
	IndexDesc  *ix;

	memset(t, 0, sizeof(*t));
	t->oid = 16390;
	t->schema = s("Sales");
	t->name = s("Orders");
	t->qname = s("\"Sales\".\"Orders\"");
	t->owner = s("app owner");
	t->relkind = 'r';
	t->persistence = 'p';
	t->replident = 'd';
	t->reloptions = s("\"autovacuum_enabled\"='true', \"fillfactor\"='70'");
	t->autovacuum_set = true;
	t->comment = s("it's the orders");
	t->ncolumns = 4;
	t->columns = calloc(4, sizeof(ColumnDesc));
	c = &t->columns[0];
	c->attnum = 1;
	c->name = s("id");
	c->type = s("bigint");
	c->notnull = true;
	c->identity = 'a';
	c->sequence = s("\"Sales\".\"Orders_id_seq\"");
	c->sequence_schema = s("Sales");
	c->sequence_name = s("Orders_id_seq");
	c->identity_options = s("AS bigint START WITH 1 INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 CACHE 1 NO CYCLE");
	c->stattarget = -1;
	c = &t->columns[1];
	c->attnum = 2;
	c->name = s("Note \"x\"");
	c->type = s("text");
	c->collation = s("\"pg_catalog\".\"C\"");
	c->storage = 'm';
	c->type_storage = 'x';
	c->stattarget = 500;
	c->comment = s("free text");
	c = &t->columns[2];
	c->attnum = 4;
	c->name = s("total");
	c->type = s("numeric(12,2)");
	c->default_expr = s("0");
	c->stattarget = -1;
	c = &t->columns[3];
	c->attnum = 5;
	c->name = s("total2");
	c->type = s("numeric");
	c->generated = 's';
	c->default_expr = s("(total * (2)::numeric)");
	c->stattarget = -1;

	t->nindexes = 2;
	t->indexes = calloc(2, sizeof(IndexDesc));
	ix = &t->indexes[0];
	ix->oid = 16400;
	ix->name = s("Orders_pkey");
	ix->def = s("CREATE UNIQUE INDEX \"Orders_pkey\" ON \"Sales\".\"Orders\" USING btree (id)");
	ix->def_prefix_name = s("\"Orders_pkey\"");
	ix->def_prefix_table = s("\"Sales\".\"Orders\"");
	ix->primary = ix->unique = ix->valid = ix->keys_notnull = true;
	ix->contype = 'p';
	ix->conname = s("Orders_pkey");
	ix->nkeys = 1;
	ix->key_columns = calloc(1, sizeof(char *));
	ix->key_columns[0] = s("id");
	ix->key_ops = calloc(1, sizeof(char *));
	ix->key_ops[0] = s("pg_catalog.=");
	ix->key_ops_known = true;
	ix->clustered = true;
	ix = &t->indexes[1];
	ix->oid = 16401;
	ix->name = s("big totals");
	ix->def = s("CREATE INDEX \"big totals\" ON \"Sales\".\"Orders\" USING btree (total) WHERE (total > (100)::numeric)");
	ix->def_prefix_name = s("\"big totals\"");
	ix->def_prefix_table = s("\"Sales\".\"Orders\"");
	ix->valid = true;
	ix->partial = true;
	ix->tablespace = s("fast ssd");
	ix->comment = s("partial");

	t->nchecks = 2;
	t->checks = calloc(2, sizeof(CheckDesc));
	t->checks[0].name = s("positive");
	t->checks[0].def = s("CHECK ((total >= (0)::numeric))");
	t->checks[0].validated = true;
	t->checks[1].name = s("later");
	t->checks[1].def = s("CHECK ((total < (1000000)::numeric)) NOT VALID");
	t->checks[1].validated = false;

	t->ngrants = 2;
	t->grants = calloc(2, sizeof(GrantDesc));
	t->grants[0].grantee = s("reader");
	t->grants[0].privilege = s("SELECT");
	t->grants[1].grantee = NULL;
	t->grants[1].privilege = s("UPDATE");
	t->grants[1].column = s("total");
	t->key_index = 0;
}

int
main(void)
{
	TableDesc	t;
	Plan		p;
	ChangeSet	cs;
	char	   *err = NULL;
	const char *create;
	PlanInput	in;

	make_table(&t);
	changes_init(&cs);
	ok(changes_add_not_null(&cs, "Note \"x\"", &err), "NOT NULL requested");
	ok(!changes_add_not_null(&cs, "Note \"x\"", &err), "the same column twice refused");
	free(err);
	err = NULL;
	changes_set_order(&cs, "total DESC NULLS LAST, lower(\"Note \"\"x\"\"\")");
	in = (PlanInput) {
		.table = &t,
		.changes = &cs,
		.tool_schema = "pgrebuild",
		.lock_key = 42,
		.lock_timeout_ms = 100,
		.server_version = 150000,
		.db_tablespace = "pg_default",
	};
	ok(plan_build(&in, &p, &err), "plan builds (%s)", err ? err : "ok");

	is_str(p.shadow_q, "\"Sales\".\"pgrebuild_new_16390\"", "shadow name from the OID, in the table's schema");
	is_str(p.log_q, "\"pgrebuild\".\"log_16390\"", "log table in the tool schema");

	create = p.shadow.items[0].sql;
	{
		const char *head = "CREATE TABLE \"Sales\".\"pgrebuild_new_16390\" (";

		ok(strncmp(create, head, strlen(head)) == 0, "CREATE TABLE of the shadow");
	}
	ok(strstr(create, "\"Note \"\"x\"\"\" text COLLATE \"pg_catalog\".\"C\" NOT NULL") != NULL,
	   "requested NOT NULL, collation and quoting on the column");
	ok(strstr(create, "GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME \"Sales\".\"pgrebuild_seq_16390_1\" AS bigint") != NULL,
	   "identity column keeps its options under a temporary sequence name");
	ok(strstr(create, "\"total\" numeric(12,2) DEFAULT 0") != NULL, "default kept");
	ok(strstr(create, "\"total2\" numeric GENERATED ALWAYS AS ((total * (2)::numeric)) STORED") != NULL,
	   "generated column re-created");
	ok(strstr(create, "CONSTRAINT \"positive\" CHECK ((total >= (0)::numeric))") != NULL, "valid CHECK in CREATE");
	ok(strstr(create, "\"later\"") == NULL, "NOT VALID CHECK not in CREATE");
	ok(strstr(create, "WITH (\"autovacuum_enabled\"='true', \"fillfactor\"='70')") != NULL,
	   "storage parameters, in the table's order");
	ok(list_has(&p.shadow, "SET (autovacuum_enabled = false)"), "no autovacuum on the shadow while it fills");
	ok(list_has(&p.shadow, "ALTER COLUMN \"Note \"\"x\"\"\" SET STORAGE MAIN"), "column storage");
	ok(list_has(&p.shadow, "SET STATISTICS 500"), "statistics target");
	ok(list_has(&p.shadow, "COMMENT ON COLUMN \"Sales\".\"pgrebuild_new_16390\".\"Note \"\"x\"\"\" IS 'free text'"),
	   "column comment");
	ok(strstr(create, ") TABLESPACE \"pg_default\"") != NULL,
	   "the shadow names its tablespace, the database's default (not default_tablespace's)");
	ok(list_has(&p.shadow, "COMMENT ON TABLE \"Sales\".\"pgrebuild_new_16390\" IS 'pg_rebuild shadow table of table 16390'"),
	   "the shadow carries the run's mark until the swap");
	ok(!list_has(&p.shadow, "it''s the orders"), "... not the table's comment yet");
	{
		int			new_rename = list_pos(&p.swap, "ALTER TABLE \"Sales\".\"pgrebuild_new_16390\" RENAME TO \"Orders\"");
		int			comment = list_pos(&p.swap, "COMMENT ON TABLE \"Sales\".\"Orders\" IS 'it''s the orders'");

		ok(new_rename >= 0 && comment > new_rename, "the swap gives the new table the table's comment, quoted literal");
	}
	ok(list_has(&p.swap, "COMMENT ON TABLE \"Sales\".\"pgrebuild_old_16390\" IS 'pg_rebuild old table of table 16390'"),
	   "the swap marks the old table as the run's");
	ok(list_has(&p.install, "COMMENT ON TABLE \"pgrebuild\".\"log_16390\" IS 'pg_rebuild log table of table 16390'") &&
	   list_has(&p.install, "COMMENT ON FUNCTION \"pgrebuild\".\"capture_16390\"() IS 'pg_rebuild function of table 16390'") &&
	   list_has(&p.install, "COMMENT ON TRIGGER pgrebuild_capture ON \"Sales\".\"Orders\" IS 'pg_rebuild trigger of table 16390'") &&
	   list_has(&p.install, "COMMENT ON TRIGGER pgrebuild_truncate ON \"Sales\".\"Orders\" IS 'pg_rebuild trigger of table 16390'"),
	   "the install marks the log table, the function and both triggers");
	ok(list_has(&p.install, "WITH (autovacuum_vacuum_scale_factor = 0.01) TABLESPACE \"pg_default\""),
	   "the log table names its tablespace");
	{
		StrVec		kinds;
		StrVec		schemas;
		StrVec		names;
		StrBuf		all;

		sv_init(&kinds);
		sv_init(&schemas);
		sv_init(&names);
		sb_init(&all);
		plan_reserved_names(&in, &p, NULL, &kinds, &schemas, &names);
		for (size_t i = 0; i < names.n; i++)
			sb_appendf(&all, "%s %s.%s;", kinds.items[i], schemas.items[i], names.items[i]);
		ok(strstr(all.data, "relation Sales.pgrebuild_new_16390;type Sales.pgrebuild_new_16390;") != NULL &&
		   strstr(all.data, "relation Sales.pgrebuild_old_16390;type Sales.pgrebuild_old_16390;") != NULL &&
		   strstr(all.data, "relation Sales.pgrebuild_i16400;relation Sales.pgrebuild_old_i16400;") != NULL &&
		   strstr(all.data, "relation Sales.pgrebuild_i16401;relation Sales.pgrebuild_old_i16401;") != NULL &&
		   strstr(all.data, "relation Sales.pgrebuild_seq_16390_1;") != NULL &&
		   strstr(all.data, "relation Sales.pgrebuild_oldseq_16390_1;") != NULL &&
		   strstr(all.data, "relation pgrebuild.log_16390;function pgrebuild.capture_16390;") != NULL &&
		   strstr(all.data, "relation Sales.pgrebuild_k16400;") != NULL,
		   "reserved names: shadow, old table, their row types, index and sequence names, the reconcile's "
		   "index, log, function (%s)",
		   all.data);
		sv_free(&kinds);
		sv_free(&schemas);
		sv_free(&names);
		sb_free(&all);
	}

	ok(strstr(p.copy_sql, "OVERRIDING SYSTEM VALUE") != NULL, "identity ALWAYS copied with OVERRIDING SYSTEM VALUE");
	ok(strstr(p.copy_sql, "\"total2\"") == NULL, "generated column left out of the copy");
	ok(strstr(p.copy_sql, "FROM ONLY \"Sales\".\"Orders\"") != NULL, "copy reads ONLY the table");
	is_str(p.copy_order_by, " ORDER BY total DESC NULLS LAST, lower(\"Note \"\"x\"\"\")",
		   "the --order-by list as given (checked by the server in preflight)");
	ok(strlen(p.copy_sql) > strlen(p.copy_select) &&
	   strcmp(p.copy_sql + strlen(p.copy_sql) - strlen(p.copy_select), p.copy_select) == 0,
	   "the copy ends with the SELECT that preflight checks");

	is_int(p.indexes.n, 2, "two index builds");
	ok(strstr(p.indexes.items[0].sql,
			  "CREATE UNIQUE INDEX \"pgrebuild_i16400\" ON \"Sales\".\"pgrebuild_new_16390\" USING btree (id)") != NULL,
	   "pkey index built under a temporary name on the shadow");
	ok(strstr(p.indexes.items[1].sql, "SET default_tablespace = 'fast ssd'") != NULL, "index tablespace kept");
	ok(strstr(p.indexes.items[1].sql, "WHERE (total > (100)::numeric)") != NULL, "partial predicate kept");
	ok(list_has(&p.constraints, "ADD CONSTRAINT \"pgrebuild_i16400\" PRIMARY KEY USING INDEX \"pgrebuild_i16400\""),
	   "primary key attached to its index");
	ok(list_has(&p.constraints, "CLUSTER ON \"pgrebuild_i16400\""), "CLUSTER mark");
	ok(list_has(&p.constraints, "ADD CONSTRAINT \"later\" CHECK ((total < (1000000)::numeric)) NOT VALID"),
	   "NOT VALID check added after the copy");
	ok(list_has(&p.constraints, "COMMENT ON INDEX \"Sales\".\"pgrebuild_i16401\" IS 'partial'"), "index comment");
	ok(strcmp(p.reconcile_index, "SET default_tablespace = ''; CREATE INDEX \"pgrebuild_k16400\" ON "
			  "\"Sales\".\"pgrebuild_new_16390\" USING btree (id); RESET default_tablespace") == 0,
	   "reconcile: the replay key's index without UNIQUE (%s)", p.reconcile_index);
	ok(strcmp(p.reconcile_drop, "DROP INDEX \"Sales\".\"pgrebuild_k16400\"") == 0,
	   "reconcile: its index is dropped by name (%s)", p.reconcile_drop);
	ok(!list_has(&p.constraints, "pgrebuild_k16400"), "reconcile: not among the constraints, which --alter tries");

	ok(list_has(&p.install, "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"),
	   "capture function: SECURITY DEFINER, pinned search_path");
	ok(list_has(&p.install, "ENABLE ALWAYS TRIGGER pgrebuild_capture"), "capture trigger fires ALWAYS");
	ok(list_has(&p.install, "BEFORE TRUNCATE"), "TRUNCATE guard");
	ok(list_has(&p.install, "NOT (NEW.\"id\" OPERATOR(pg_catalog.=) OLD.\"id\")"),
	   "a key change logs the new key too, with the index's own operator");
	ok(strstr(p.replay_delete, "s.\"id\" OPERATOR(pg_catalog.=) l.\"id\"") != NULL, "replay matches keys by operator");
	ok(strstr(p.replay_insert, "FROM ONLY \"Sales\".\"Orders\" AS \"Orders\"") != NULL,
	   "replay re-reads the table, under its own name");
	ok(p.replay_key_check == NULL, "no key check when the key keeps its type");

	{
		int old_rename = list_pos(&p.swap, "ALTER TABLE \"Sales\".\"Orders\" RENAME TO \"pgrebuild_old_16390\"");
		int new_rename = list_pos(&p.swap, "ALTER TABLE \"Sales\".\"pgrebuild_new_16390\" RENAME TO \"Orders\"");
		int idx_new = list_pos(&p.swap, "ALTER INDEX \"Sales\".\"pgrebuild_i16400\" RENAME TO \"Orders_pkey\"");
		int idx_old = list_pos(&p.swap, "ALTER INDEX \"Sales\".\"Orders_pkey\" RENAME TO \"pgrebuild_old_i16400\"");
		int drop_trig = list_pos(&p.swap, "DROP TRIGGER pgrebuild_capture");

		ok(drop_trig >= 0 && drop_trig < old_rename, "capture trigger dropped first");
		ok(old_rename >= 0 && idx_old > old_rename && new_rename > idx_old && idx_new > new_rename,
		   "renames in order: old table, old indexes, shadow, new indexes");
	}
	ok(list_has(&p.swap, "pg_catalog.setval('\"Sales\".\"pgrebuild_seq_16390_1\"'::pg_catalog.regclass, s.last_value, s.is_called) FROM \"Sales\".\"Orders_id_seq\" s"),
	   "identity sequence continues from the old one");
	ok(list_has(&p.swap, "ALTER SEQUENCE \"Sales\".\"pgrebuild_seq_16390_1\" RENAME TO \"Orders_id_seq\""),
	   "identity sequence takes the original name");
	ok(list_has(&p.grants, "GRANT SELECT ON TABLE \"Sales\".\"Orders\" TO \"reader\""), "table grant");
	ok(list_has(&p.grants, "GRANT UPDATE (\"total\") ON TABLE \"Sales\".\"Orders\" TO PUBLIC"), "column grant to PUBLIC");
	ok(list_has(&p.grants, "ALTER TABLE \"Sales\".\"Orders\" SET (\"autovacuum_enabled\"='true', \"fillfactor\"='70')"),
	   "the table's own parameters set again, all, in its order (autovacuum_enabled back in place)");
	ok(list_has(&p.finish, "DROP TABLE IF EXISTS \"Sales\".\"pgrebuild_old_16390\" RESTRICT"), "old table dropped RESTRICT");
	ok(list_pos(&p.finish, "DROP FUNCTION IF EXISTS \"pgrebuild\".\"capture_16390\"()") == 0 &&
	   list_pos(&p.finish, "DROP TABLE IF EXISTS \"pgrebuild\".\"log_16390\"") == 1 &&
	   list_pos(&p.finish, "pgrebuild_old_16390") == 2,
	   "finish in the order of the recorded objects: function, log, old table");
	is_str(p.swap_lock, "LOCK TABLE \"Sales\".\"Orders\" IN ACCESS EXCLUSIVE MODE", "the swap's lock");
	is_str(p.guard_lock, "LOCK TABLE \"Sales\".\"Orders\" IN SHARE UPDATE EXCLUSIVE MODE", "the holder's lock");
	is_str(p.lock_timeout, "SET LOCAL lock_timeout = '100ms'", "lock timeout of one attempt");
	plan_free(&p);

	/* serial column, no order: OWNED BY moves, no OVERRIDING */
	t.columns[0].identity = 0;
	free(t.columns[0].identity_options);
	t.columns[0].identity_options = NULL;
	changes_set_no_order(&cs);
	ok(plan_build(&in, &p, &err), "plan with a serial column");
	ok(list_has(&p.swap, "ALTER SEQUENCE \"Sales\".\"Orders_id_seq\" OWNED BY \"Sales\".\"pgrebuild_new_16390\".\"id\""),
	   "serial sequence moves to the new table");
	ok(strstr(p.copy_sql, "OVERRIDING") == NULL, "no OVERRIDING without identity");
	ok(p.copy_order_by == NULL, "no ORDER BY with --no-order, though an index is marked for CLUSTER");
	t.autovacuum_set = false;
	free(t.reloptions);
	t.reloptions = s("\"fillfactor\"='70'");
	plan_free(&p);
	ok(plan_build(&in, &p, &err), "plan without an autovacuum setting of the table's own");
	ok(list_has(&p.grants, "ALTER TABLE \"Sales\".\"Orders\" RESET (autovacuum_enabled)") &&
	   !list_has(&p.grants, "\"fillfactor\""), "the shadow's setting is RESET, the others stay in place");
	plan_free(&p);

	/* the change model: the plan asks each column its type and its source */
	{
		ChangeSet	c2;
		PlanInput	in2 = in;

		changes_init(&c2);
		c2.ncolumns = 2;
		c2.columns = calloc(2, sizeof(ColumnChange));
		c2.columns[0].column = s("total");
		c2.columns[0].new_type = s("bigint");
		c2.columns[0].using_expr = s("round(total)::bigint");
		c2.columns[1].column = s("Note \"x\"");
		c2.columns[1].drop = true;
		in2.changes = &c2;
		ok(plan_build(&in2, &p, &err), "plan with a type change and a dropped column");
		ok(strstr(p.shadow.items[0].sql, "\"total\" bigint DEFAULT 0") != NULL, "the new type in the shadow");
		ok(strstr(p.shadow.items[0].sql, "Note") == NULL, "the dropped column is not in the shadow");
		ok(!list_has(&p.shadow, "Note"), "nor its column settings");
		ok(strstr(p.copy_sql, "(\"id\", \"total\") SELECT \"id\", (round(total)::bigint\n) FROM") != NULL,
		   "the copy writes the kept columns from their source expressions, a newline closing a "
		   "trailing comment (%s)", p.copy_sql);
		ok(strstr(p.replay_insert, "SELECT \"Orders\".\"id\", (round(total)::bigint\n) FROM ONLY") != NULL,
		   "the replay too (%s)", p.replay_insert);
		plan_free(&p);
		free(c2.columns[0].using_expr);
		c2.columns[0].using_expr = NULL;
		ok(plan_build(&in2, &p, &err), "plan with a type change without USING");
		ok(strstr(p.copy_sql, "SELECT \"id\", \"total\" FROM") != NULL,
		   "no cast: INSERT's assignment cast, as ALTER COLUMN TYPE without USING (%s)", p.copy_sql);
		plan_free(&p);

		/* the key changes type: the log keeps the old type */
		free(c2.columns[1].column);
		c2.columns[1].column = s("id");
		c2.columns[1].drop = false;
		c2.columns[1].new_type = s("numeric");
		ok(plan_build(&in2, &p, &err), "plan with a key type change");
		ok(strstr(p.replay_delete, "s.\"id\" OPERATOR(pg_catalog.=) (l.\"id\")::numeric") != NULL,
		   "the replay matches the shadow's key with the logged key cast to the new type (%s)", p.replay_delete);
		ok(strstr(p.replay_insert, "\"Orders\".\"id\" OPERATOR(pg_catalog.=) pgrebuild_log.\"id\"") != NULL,
		   "and reads the table with the old type (%s)", p.replay_insert);
		ok(p.replay_key_check && strstr(p.replay_key_check, "(SELECT NULL::bigint AS \"id\") l WHERE") != NULL,
		   "the key's match is planned at preflight (%s)", p.replay_key_check ? p.replay_key_check : "none");
		ok(list_has(&p.install, "\"id\" bigint NOT NULL"), "the log keeps the old type");
		plan_free(&p);
		c2.columns[1].using_expr = s("id * 10");
		ok(plan_build(&in2, &p, &err), "plan with a key type change by USING");
		ok(strstr(p.replay_delete, "s.\"id\" OPERATOR(pg_catalog.=) (SELECT (id * 10\n) FROM (SELECT l.\"id\") AS "
				  "\"Orders\" (\"id\"))") != NULL,
		   "the USING expression converts the logged key, under the table's name (%s)", p.replay_delete);
		plan_free(&p);
		changes_free(&c2);
	}

	/* the rows' order: the CLUSTER index's by default, unless --no-order or --order-by */
	{
		ChangeSet	c3;
		PlanInput	in3 = in;
		char	   *why = NULL;
		char	   *list;

		changes_init(&c3);
		in3.changes = &c3;
		list = changes_row_order(&c3, &t, &why);
		ok(list == NULL && why && strstr(why, "as they come") && strstr(why, "non-btree"),
		   "a CLUSTER index whose order is unknown: as they come, and said (%s)", why ? why : "nothing");
		free(why);
		t.cluster_am = s("btree");
		t.cluster_order = s("total DESC NULLS LAST");
		list = changes_row_order(&c3, &t, &why);
		is_str(list, "total DESC NULLS LAST", "by default the order of the CLUSTER index");
		ok(why && strstr(why, "the CLUSTER index Orders_pkey (total DESC NULLS LAST), as CLUSTER would"),
		   "and it says so (%s)", why ? why : "nothing");
		free(list);
		free(why);
		ok(plan_build(&in3, &p, &err), "plan with the CLUSTER index's order");
		is_str(p.copy_order_by, " ORDER BY total DESC NULLS LAST", "the copy follows the CLUSTER index");
		plan_free(&p);
		changes_set_no_order(&c3);
		list = changes_row_order(&c3, &t, &why);
		ok(list == NULL && why && strstr(why, "--no-order"), "--no-order: as they come (%s)", why ? why : "");
		free(why);
		changes_set_order(&c3, "id");
		list = changes_row_order(&c3, &t, &why);
		is_str(list, "id", "--order-by wins over the CLUSTER index");
		free(list);
		free(why);
		t.indexes[0].clustered = false;
		changes_free(&c3);
		changes_init(&c3);
		list = changes_row_order(&c3, &t, &why);
		ok(list == NULL && why == NULL, "no CLUSTER index, no --order-by: as they come, nothing to say");
		t.indexes[0].clustered = true;
		changes_free(&c3);
	}

	/* a key column named like the log's id column */
	free(t.indexes[0].key_columns[0]);
	t.indexes[0].key_columns[0] = s("log_id");
	free(t.columns[0].name);
	t.columns[0].name = s("log_id");
	ok(plan_build(&in, &p, &err), "plan with a key column named log_id");
	is_str(p.log_id_q, "\"log_id_\"", "the log's own id column gets another name");
	plan_free(&p);

	/* index definitions of an unexpected shape are refused, not rewritten blindly */
	{
		char *r = plan_rewrite_indexdef("CREATE INDEX i ON ONLY s.t USING btree (a)", "i", "s.t", "\"n\"", "\"s\".\"x\"");

		ok(r == NULL, "ON ONLY (partitioned) is not rewritten");
		r = plan_rewrite_indexdef("CREATE INDEX i ON s.t USING btree (a)", "i", "s.t", "\"n\"", "\"s\".\"x\"");
		is_str(r, "CREATE INDEX \"n\" ON \"s\".\"x\" USING btree (a)", "simple rewrite");
		free(r);
	}
	{
		char *tag = plan_dollar_tag("body with $pgrebuild$ inside");

		is_str(tag, "$pgrebuild1$", "dollar tag avoids text in the body");
		free(tag);
	}
	{
		long long size;
		int		  n = copy_chunking(1000000, 2, &size);

		ok(size >= 256 && size <= 16384, "chunk size within bounds (%lld)", size);
		ok(n * size >= 1000000, "chunks cover the table");
		n = copy_chunking(0, 1, &size);
		is_int(n, 1, "an empty table still gets one (open-ended) chunk");
	}

	/* dependents: one of each kind */
	{
		Dependents d = {0};
		DepPlan	   dp;
		DepObject *o;

		ok(plan_build(&in, &p, &err), "plan for the dependents");
		d.n = 9;
		d.items = calloc(9, sizeof(DepObject));
		o = &d.items[0];
		o->kind = DEP_VIEW;
		o->qname = s("public.v");
		o->def = s(" SELECT id FROM \"Sales\".\"Orders\";");
		o->view_options = s("security_barrier='true'");
		o = &d.items[1];
		o->kind = DEP_FK_IN;
		o->name = s("r_fk");
		o->rel_q = s("public.r");
		o->rel_schema = s("public");
		o->rel_name = s("r");
		o->def = s("FOREIGN KEY (oid) REFERENCES \"Sales\".\"Orders\"(id)");
		o->validated = true;
		o = &d.items[2];
		o->kind = DEP_FK_OUT;
		o->name = s("p_fk");
		o->rel_q = s("public.p");
		o->def = s("FOREIGN KEY (pid) REFERENCES public.p(id) NOT VALID");
		o->validated = false;
		o = &d.items[3];
		o->kind = DEP_TRIGGER;
		o->name = s("trg");
		o->def = s("CREATE TRIGGER trg BEFORE INSERT ON \"Sales\".\"Orders\" FOR EACH ROW EXECUTE FUNCTION f()");
		o->enabled = 'R';
		o->comment = s("fires");
		o = &d.items[4];
		o->kind = DEP_POLICY;
		o->name = s("pol");
		o->policy_cmd = 'r';
		o->permissive = true;
		o->roles = s("reader");
		o->def = s("(total > (0)::numeric)");
		o = &d.items[5];
		o->kind = DEP_PUBLICATION;
		o->name = s("pub");
		o->qname = s("pub");
		o->pub_columns = s("id, total");
		o->pub_where = s("(total > 1)");
		o = &d.items[6];
		o->kind = DEP_STATISTICS;
		o->oid = 777;
		o->name = s("st");
		o->qname = s("\"Sales\".st");
		o->stats_schema = s("Sales");
		o->owner = s("app owner");
		o->stats_prefix = s("CREATE STATISTICS \"Sales\".st ");
		o->def = s("CREATE STATISTICS \"Sales\".st (ndistinct) ON total, id FROM \"Sales\".\"Orders\"");
		o->stattarget = 200;
		o = &d.items[7];
		o->kind = DEP_FUNCTION;
		o->can_own = true;
		o->def = s("CREATE OR REPLACE FUNCTION public.f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$");
		o = &d.items[8];
		o->kind = DEP_PARENT;
		o->rel_q = s("public.base");
		t.qname_deparsed = s("\"Sales\".\"Orders\"");
		ok(plan_dependents(&in, &p, &d, &dp, &err), "dependents planned (%s)", err ? err : "ok");
		ok(list_has(&dp.after_renames, "CREATE OR REPLACE VIEW public.v WITH (security_barrier='true') AS  SELECT id"),
		   "view replaced with its options");
		ok(list_has(&dp.before_renames, "LOCK TABLE public.r IN ACCESS EXCLUSIVE MODE"), "referencing table locked");
		ok(list_has(&dp.after_renames, "ALTER TABLE public.r DROP CONSTRAINT \"r_fk\", ADD CONSTRAINT \"r_fk\" FOREIGN KEY (oid) REFERENCES \"Sales\".\"Orders\"(id) NOT VALID"),
		   "incoming foreign key dropped and re-added NOT VALID");
		ok(list_has(&dp.validate, "ALTER TABLE \"public\".\"r\" VALIDATE CONSTRAINT \"r_fk\""), "validated after the swap");
		ok(list_has(&dp.prepare, "ADD CONSTRAINT \"p_fk\" FOREIGN KEY (pid) REFERENCES public.p(id) NOT VALID") &&
			   !list_has(&dp.prepare, "NOT VALID NOT VALID"),
		   "outgoing foreign key on the shadow, one NOT VALID");
		ok(!list_has(&dp.validate, "p_fk"), "a foreign key that was NOT VALID is not validated");
		ok(list_has(&dp.after_renames, "ALTER TABLE \"Sales\".\"Orders\" ENABLE REPLICA TRIGGER \"trg\""),
		   "trigger's enabled state");
		ok(list_has(&dp.after_renames, "COMMENT ON TRIGGER \"trg\" ON \"Sales\".\"Orders\" IS 'fires'"), "trigger comment");
		ok(list_has(&dp.after_renames, "CREATE POLICY \"pol\" ON \"Sales\".\"Orders\" AS PERMISSIVE FOR SELECT TO reader USING ((total > (0)::numeric))"),
		   "policy");
		ok(list_has(&dp.before_renames, "ALTER PUBLICATION pub DROP TABLE \"Sales\".\"Orders\"") &&
			   list_has(&dp.after_renames, "ALTER PUBLICATION pub ADD TABLE \"Sales\".\"Orders\" (id, total) WHERE (total > 1)"),
		   "publication membership with column list and row filter");
		ok(list_has(&dp.prepare, "CREATE STATISTICS \"Sales\".\"pgrebuild_st777\" (ndistinct) ON total, id FROM \"Sales\".\"pgrebuild_new_16390\""),
		   "statistics built on the shadow under a temporary name");
		ok(list_has(&dp.prepare, "SET STATISTICS 200"), "statistics target");
		ok(list_has(&dp.after_renames, "ALTER STATISTICS \"Sales\".\"pgrebuild_st777\" RENAME TO \"st\""), "statistics renamed");
		ok(list_has(&dp.after_renames, "SET LOCAL check_function_bodies = off; CREATE OR REPLACE FUNCTION public.f()"),
		   "function re-created without compiling its body");
		ok(list_has(&dp.after_renames, "NO INHERIT public.base") && list_has(&dp.after_renames, "INHERIT public.base"),
		   "inheritance moves to the new table");
		ok(list_has(&dp.after_renames, "TRUNCATE \"Sales\".\"pgrebuild_old_16390\""),
		   "old table emptied: its stale foreign keys must not block the application");
		{
			int view = list_pos(&dp.after_renames, "CREATE OR REPLACE VIEW");
			int trig = list_pos(&dp.after_renames, "CREATE TRIGGER");

			ok(trig >= 0 && view > trig, "views and functions come after the table's own objects");
		}
		dep_plan_free(&dp);
		free(d.items[6].def);
		d.items[6].def = s("CREATE STATISTICS other.st (ndistinct) ON a, b FROM other.x");
		ok(!plan_dependents(&in, &p, &d, &dp, &err) && err && strstr(err, "unexpected shape"),
		   "statistics of an unexpected shape are refused");
		free(err);
		err = NULL;
		dependents_free(&d);
		plan_free(&p);
	}

	/* what --cleanup accepts as a run's own object (objects.h) */
	ok(object_name_matches(OBJ_SHADOW, 16390, "pgrebuild_new_16390"), "the shadow's name matches");
	ok(!object_name_matches(OBJ_SHADOW, 16390, "precious"), "a user's table is no shadow");
	ok(!object_name_matches(OBJ_SHADOW, 16390, "pgrebuild_new_16391"), "another table's shadow is not this run's");
	ok(!object_name_matches(OBJ_SHADOW, 16390, "pgrebuild_new_16390x"), "a longer name does not match");
	ok(object_name_matches(OBJ_TRIGGER, 16390, "pgrebuild_capture") &&
	   object_name_matches(OBJ_TRIGGER, 16390, "pgrebuild_truncate") &&
	   !object_name_matches(OBJ_TRIGGER, 16390, "audit"), "trigger names: the run's two only");
	ok(object_name_matches(OBJ_LOG, 7, "log_7") && object_name_matches(OBJ_FUNCTION, 7, "capture_7") &&
	   object_name_matches(OBJ_OLD, 7, "pgrebuild_old_7") && !object_name_matches(OBJ_LOG, 7, NULL),
	   "log, function and old table names");
	{
		char	   *m = object_mark(OBJ_LOG, 7);

		is_str(m, "pg_rebuild log table of table 7", "the mark of a log table");
		free(m);
		ok(object_mark(OBJ_VALIDATE, 7) == NULL, "foreign keys to validate carry no mark");
	}

	/* PostgreSQL 18: named NOT NULL constraints, NOT VALID ones, virtual generated columns */
	{
		ChangeSet	c4;
		PlanInput	in4 = in;

		changes_init(&c4);
		ok(changes_add_not_null(&c4, "Note \"x\"", &err), "NOT NULL requested on 18");
		c4.columns[0].not_null_name = s("Orders_Note \"x\"_not_null");
		in4.changes = &c4;
		in4.server_version = 180000;
		t.columns[0].notnull_name = s("Orders_id_not_null");
		t.columns[2].notnull = true;
		t.columns[2].notnull_invalid = true;
		t.columns[2].notnull_noinherit = true;
		t.columns[2].notnull_name = s("total_nn");
		t.columns[2].notnull_comment = s("not yet");
		t.columns[3].generated = 'v';
		ok(plan_build(&in4, &p, &err), "plan on 18 builds (%s)", err ? err : "ok");
		create = p.shadow.items[0].sql;
		ok(strstr(create, "\" bigint CONSTRAINT \"Orders_id_not_null\" NOT NULL,") != NULL,
		   "a NOT NULL keeps its constraint's name");
		ok(strstr(create, "text COLLATE \"pg_catalog\".\"C\" CONSTRAINT \"Orders_Note \"\"x\"\"_not_null\" NOT NULL") !=
			   NULL,
		   "a new NOT NULL gets the name preflight chose");
		ok(strstr(create, "\"total\" numeric(12,2) DEFAULT 0,") != NULL, "a NOT VALID NOT NULL is not in CREATE");
		ok(list_has(&p.constraints, "ADD CONSTRAINT \"total_nn\" NOT NULL \"total\" NO INHERIT NOT VALID"),
		   "... it is added after the copy, NOT VALID and NO INHERIT");
		ok(list_has(&p.constraints, "COMMENT ON CONSTRAINT \"total_nn\" ON \"Sales\".\"pgrebuild_new_16390\" IS 'not yet'"),
		   "... with its comment");
		ok(strstr(create, "GENERATED ALWAYS AS ((total * (2)::numeric)) VIRTUAL") != NULL,
		   "a virtual generated column stays virtual");
		ok(strstr(p.copy_sql, "total2") == NULL, "... and is not copied");
		plan_free(&p);
		changes_free(&c4);
		t.columns[3].generated = 's';
	}

	t.key_index = -1;
	ok(!plan_build(&in, &p, &err) && err && strstr(err, "replay key"), "no replay key: refused");
	free(err);
	changes_free(&cs);
	catalog_free_table(&t);
	return done_testing();
}
