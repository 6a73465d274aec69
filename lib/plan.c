/* plan.c: the rebuild as SQL, from the table's description (pure). */
#include "plan.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void
stmts_add(StmtList *l, const char *lock, const char *fmt, ...)
{
	StrBuf		sb;
	va_list		ap;

	if (l->n == l->cap)
	{
		l->cap = l->cap ? l->cap * 2 : 16;
		l->items = pgr_realloc(l->items, sizeof(PlanStmt) * (size_t) l->cap);
	}
	sb_init(&sb);
	va_start(ap, fmt);
	sb_vappendf(&sb, fmt, ap);
	va_end(ap);
	l->items[l->n].sql = sb_steal(&sb);
	l->items[l->n].lock = pgr_strdup(lock);
	l->n++;
}

void
stmts_free(StmtList *l)
{
	for (int i = 0; i < l->n; i++)
	{
		free(l->items[i].sql);
		free(l->items[i].lock);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

char *
plan_shadow_name(unsigned int table_oid)
{
	return object_name(OBJ_SHADOW, table_oid);
}

char *
plan_old_name(unsigned int table_oid)
{
	return object_name(OBJ_OLD, table_oid);
}

char *
plan_temp_index_name(unsigned int index_oid)
{
	return pgr_psprintf("pgrebuild_i%u", index_oid);
}

/* What the old table's index index_oid is renamed to in the swap. */
static char *
old_index_name(unsigned int index_oid)
{
	return pgr_psprintf("pgrebuild_old_i%u", index_oid);
}

/* What a statistics object is built as on the shadow, and what the old one is renamed to. */
static char *
temp_statistics_name(unsigned int stat_oid)
{
	return pgr_psprintf("pgrebuild_st%u", stat_oid);
}

static char *
old_statistics_name(unsigned int stat_oid)
{
	return pgr_psprintf("pgrebuild_old_st%u", stat_oid);
}

/*
 * The plain (never unique) index on the replay key that the reconcile uses
 * (replay.h) while the shadow may hold two versions of one key.
 */
static char *
reconcile_index_name(unsigned int index_oid)
{
	return pgr_psprintf("pgrebuild_k%u", index_oid);
}

static char *rewrite_indexdef(const char *def, const char *expect_name, const char *expect_table,
							  const char *new_name_q, const char *target_q, bool keep_unique);

char *
plan_rewrite_indexdef(const char *def, const char *expect_name, const char *expect_table,
					  const char *new_name_q, const char *target_q)
{
	return rewrite_indexdef(def, expect_name, expect_table, new_name_q, target_q, true);
}

/* plan_rewrite_indexdef; without keep_unique, a UNIQUE index is built as a plain one. */
static char *
rewrite_indexdef(const char *def, const char *expect_name, const char *expect_table,
				 const char *new_name_q, const char *target_q, bool keep_unique)
{
	static const char *const heads[] = {"CREATE UNIQUE INDEX ", "CREATE INDEX "};
	const char *p = NULL;
	const char *head = NULL;
	size_t		n;

	for (int i = 0; i < 2; i++)
		if (strncmp(def, heads[i], strlen(heads[i])) == 0)
		{
			head = heads[i];
			p = def + strlen(head);
			break;
		}
	if (p == NULL)
		return NULL;
	n = strlen(expect_name);
	if (strncmp(p, expect_name, n) != 0 || strncmp(p + n, " ON ", 4) != 0)
		return NULL;
	p += n + 4;
	n = strlen(expect_table);
	if (strncmp(p, expect_table, n) != 0 || strncmp(p + n, " USING ", 7) != 0)
		return NULL;
	p += n;
	return pgr_psprintf("%s%s ON %s%s", keep_unique ? head : heads[1], new_name_q, target_q, p);
}

char *
plan_dollar_tag(const char *body)
{
	char	   *tag = pgr_strdup("$pgrebuild$");

	for (int i = 1; strstr(body, tag) != NULL; i++)
	{
		free(tag);
		tag = pgr_psprintf("$pgrebuild%d$", i);
	}
	return tag;
}

/* The column is written by the copy and the replay (generated ones compute themselves). */
static bool
copied(const PlanInput *in, const ColumnDesc *col)
{
	return !col->generated && changes_keeps(in->changes, col);
}

/* The columns the copy and the replay write: "a", "b", ... */
static char *
target_list(const PlanInput *in, int *count)
{
	const TableDesc *t = in->table;
	StrBuf		sb;
	int			n = 0;

	sb_init(&sb);
	for (int i = 0; i < t->ncolumns; i++)
	{
		if (!copied(in, &t->columns[i]))
			continue;
		if (n++ > 0)
			sb_append(&sb, ", ");
		ident_append(&sb, t->columns[i].name);
	}
	if (count)
		*count = n;
	return sb_steal(&sb);
}

/*
 * What the copy and the replay select from a row of the table (alias may be
 * NULL) for the columns of target_list, in the same order: each column's
 * source expression (changes.h).
 */
static char *
source_list(const PlanInput *in, const char *alias)
{
	const TableDesc *t = in->table;
	StrBuf		sb;
	int			n = 0;

	sb_init(&sb);
	for (int i = 0; i < t->ncolumns; i++)
	{
		char	   *e;

		if (!copied(in, &t->columns[i]))
			continue;
		if (n++ > 0)
			sb_append(&sb, ", ");
		e = changes_source_expr(in->changes, &t->columns[i], alias);
		sb_append(&sb, e);
		free(e);
	}
	return sb_steal(&sb);
}

static bool
has_identity(const TableDesc *t)
{
	for (int i = 0; i < t->ncolumns; i++)
		if (t->columns[i].identity)
			return true;
	return false;
}

static const char *
storage_name(char s)
{
	switch (s)
	{
		case 'p':
			return "PLAIN";
		case 'e':
			return "EXTERNAL";
		case 'm':
			return "MAIN";
		default:
			return "EXTENDED";
	}
}

static char *
identity_sequence_name(const TableDesc *t, const ColumnDesc *col)
{
	return pgr_psprintf("pgrebuild_seq_%u_%d", t->oid, col->attnum);
}

/* What the old table's identity sequence is renamed to in the swap. */
static char *
old_sequence_name(const TableDesc *t, const ColumnDesc *col)
{
	return pgr_psprintf("pgrebuild_oldseq_%u_%d", t->oid, col->attnum);
}

/* Appends the COMMENT that marks a run's object as its own (objects.h). */
static void
add_mark(StmtList *l, const char *lock, ObjKind k, const char *what, unsigned int relid)
{
	char	   *mark = object_mark(k, relid);
	char	   *lit = ident_literal(mark);

	stmts_add(l, lock, "COMMENT ON %s IS %s", what, lit);
	free(lit);
	free(mark);
}

/* Appends " TABLESPACE <name>": the table's own, or the database's default, always named. */
static void
append_tablespace(StrBuf *sb, const char *tablespace, const char *db_default)
{
	const char *ts = tablespace ? tablespace : db_default;

	if (ts == NULL)
		return;
	sb_append(sb, " TABLESPACE ");
	ident_append(sb, ts);
}

/*
 * The name of a column's NOT NULL constraint in the rebuilt table
 * (PostgreSQL 18): the original's, or the one ALTER TABLE would give a new
 * one; NULL before 18.
 */
static const char *
not_null_name(const PlanInput *in, const ColumnDesc *src)
{
	const ColumnChange *cc = changes_for(in->changes, src->name);

	if (src->notnull_name)
		return src->notnull_name;
	return cc ? cc->not_null_name : NULL;
}

/* " NOT NULL", named on PostgreSQL 18 as in the original (with its NO INHERIT). */
static void
append_not_null(StrBuf *sb, const PlanInput *in, const ColumnDesc *src)
{
	const char *name = not_null_name(in, src);

	if (name)
	{
		sb_append(sb, " CONSTRAINT ");
		ident_append(sb, name);
	}
	sb_append(sb, " NOT NULL");
	if (src->notnull_noinherit)
		sb_append(sb, " NO INHERIT");
}

/*
 * A column of the shadow: its name, and its definition as the changes leave
 * it (the target's column: type, collation, default, identity options).
 */
static void
append_column_def(StrBuf *sb, const PlanInput *in, const ColumnDesc *src)
{
	const TableDesc *t = in->table;
	const ColumnDesc *col = changes_target_column(in->changes, src);

	sb_append(sb, "    ");
	ident_append(sb, src->name);
	sb_appendf(sb, " %s", changes_target_type(in->changes, src));
	if (col->collation)
		sb_appendf(sb, " COLLATE %s", col->collation);
	if (col->generated)
		sb_appendf(sb, " GENERATED ALWAYS AS (%s) %s", col->default_expr ? col->default_expr : "NULL",
				   col->generated == 'v' ? "VIRTUAL" : "STORED");
	else if (col->identity)
	{
		char	   *seq = identity_sequence_name(t, col);

		sb_appendf(sb, " GENERATED %s AS IDENTITY (SEQUENCE NAME ",
				   col->identity == 'a' ? "ALWAYS" : "BY DEFAULT");
		ident_append_qualified(sb, t->schema, seq);
		if (col->identity_options)
			sb_appendf(sb, " %s", col->identity_options);
		sb_append(sb, ")");
		free(seq);
	}
	else if (col->default_expr)
		sb_appendf(sb, " DEFAULT %s", col->default_expr);
	if (changes_not_null(in->changes, src))
		append_not_null(sb, in, src);
}

static void
plan_shadow(const PlanInput *in, Plan *p)
{
	const TableDesc *t = in->table;
	const TableDesc *tt = changes_target_table(in->changes, t);	/* settings after the changes */
	StrBuf		sb;
	bool		first = true;
	bool		with = false;

	sb_init(&sb);
	sb_appendf(&sb, "CREATE %sTABLE %s (\n", t->persistence == 'u' ? "UNLOGGED " : "", p->shadow_q);
	for (int i = 0; i < t->ncolumns; i++)
	{
		if (!changes_keeps(in->changes, &t->columns[i]))
			continue;
		if (!first)
			sb_append(&sb, ",\n");
		first = false;
		append_column_def(&sb, in, &t->columns[i]);
	}
	for (int i = 0; i < tt->nchecks; i++)
	{
		if (!tt->checks[i].validated)
			continue;			/* added NOT VALID after the copy */
		if (!first)
			sb_append(&sb, ",\n");
		first = false;
		sb_append(&sb, "    CONSTRAINT ");
		ident_append(&sb, tt->checks[i].name);
		sb_appendf(&sb, " %s", tt->checks[i].def);
	}
	sb_append(&sb, "\n)");
	if (tt->access_method)
	{
		sb_append(&sb, " USING ");
		ident_append(&sb, tt->access_method);
	}
	if (tt->reloptions || tt->toast_reloptions)
	{
		sb_append(&sb, " WITH (");
		if (tt->reloptions)
		{
			sb_append(&sb, tt->reloptions);
			with = true;
		}
		if (tt->toast_reloptions)
			sb_appendf(&sb, "%s%s", with ? ", " : "", tt->toast_reloptions);
		sb_append(&sb, ")");
	}
	/*
	 * Always named: without it the shadow would go where default_tablespace
	 * (a setting of the role or the database) says, not where the table is
	 * (or where --alter SET TABLESPACE puts it).
	 */
	append_tablespace(&sb, tt->tablespace, in->db_tablespace);
	stmts_add(&p->shadow, "none on the table (creates the shadow table)", "%s", sb.data);
	sb_free(&sb);

	for (int i = 0; i < t->ncolumns; i++)
	{
		const ColumnDesc *src = &t->columns[i];
		const ColumnDesc *col = changes_target_column(in->changes, src);
		char	   *qc;

		if (!changes_keeps(in->changes, src))
			continue;
		qc = ident_quote(src->name);
		if (col->storage && col->type_storage && col->storage != col->type_storage)
			stmts_add(&p->shadow, "ACCESS EXCLUSIVE on the shadow table only",
					  "ALTER TABLE %s ALTER COLUMN %s SET STORAGE %s", p->shadow_q, qc,
					  storage_name(col->storage));
		if (col->compression == 'p' || col->compression == 'l')
			stmts_add(&p->shadow, "ACCESS EXCLUSIVE on the shadow table only",
					  "ALTER TABLE %s ALTER COLUMN %s SET COMPRESSION %s", p->shadow_q, qc,
					  col->compression == 'l' ? "lz4" : "pglz");
		if (col->stattarget >= 0)
			stmts_add(&p->shadow, "SHARE UPDATE EXCLUSIVE on the shadow table only",
					  "ALTER TABLE %s ALTER COLUMN %s SET STATISTICS %d", p->shadow_q, qc,
					  col->stattarget);
		if (col->attoptions)
			stmts_add(&p->shadow, "SHARE UPDATE EXCLUSIVE on the shadow table only",
					  "ALTER TABLE %s ALTER COLUMN %s SET (%s)", p->shadow_q, qc, col->attoptions);
		if (src->comment)
		{
			char	   *lit = ident_literal(src->comment);

			stmts_add(&p->shadow, "SHARE UPDATE EXCLUSIVE on the shadow table only",
					  "COMMENT ON COLUMN %s.%s IS %s", p->shadow_q, qc, lit);
			free(lit);
		}
		free(qc);
	}
	{
		char	   *what = pgr_psprintf("TABLE %s", p->shadow_q);

		/* the run's mark until the swap, which gives the table's own comment back */
		add_mark(&p->shadow, "SHARE UPDATE EXCLUSIVE on the shadow table only", OBJ_SHADOW, what, t->oid);
		free(what);
	}
	/*
	 * Autovacuum has nothing to do on a table being filled, and its locks
	 * would only delay the swap's renames; ANALYZE runs before the swap, and
	 * the swap gives the table back its own setting.
	 */
	if (!in->throwaway)
		stmts_add(&p->shadow, "SHARE UPDATE EXCLUSIVE on the shadow table only",
				  "ALTER TABLE %s SET (autovacuum_enabled = false)", p->shadow_q);
}

static void
plan_copy(const PlanInput *in, Plan *p)
{
	const TableDesc *t = in->table;
	char	   *cols = target_list(in, &p->n_copy_columns);
	char	   *src = source_list(in, NULL);
	char	   *order = changes_row_order(in->changes, t, NULL);

	p->copy_select = pgr_psprintf("SELECT %s FROM ONLY %s", src, t->qname);
	p->copy_sql = pgr_psprintf("INSERT INTO %s (%s)%s %s", p->shadow_q, cols,
							   has_identity(t) ? " OVERRIDING SYSTEM VALUE" : "", p->copy_select);
	if (order)
		p->copy_order_by = pgr_psprintf(" ORDER BY %s", order);
	free(order);
	free(cols);
	free(src);
}

/*
 * PostgreSQL 18: a NOT VALID NOT NULL is added after the copy, as a NOT
 * VALID CHECK is (the rows may hold NULLs); comments on NOT NULL constraints.
 */
static void
plan_not_null_extras(const PlanInput *in, Plan *p)
{
	const TableDesc *t = in->table;

	for (int i = 0; i < t->ncolumns; i++)
	{
		const ColumnDesc *col = &t->columns[i];
		bool			  later;
		char			 *q;

		if (!col->notnull_name || !changes_keeps(in->changes, col))
			continue;
		later = col->notnull_invalid && !changes_not_null(in->changes, col);
		q = ident_quote(col->notnull_name);
		if (later)
		{
			char *cq = ident_quote(col->name);

			stmts_add(&p->constraints, "ACCESS EXCLUSIVE on the shadow table only",
					  "ALTER TABLE %s ADD CONSTRAINT %s NOT NULL %s%s NOT VALID", p->shadow_q, q, cq,
					  col->notnull_noinherit ? " NO INHERIT" : "");
			free(cq);
		}
		if (col->notnull_comment)
		{
			char *lit = ident_literal(col->notnull_comment);

			stmts_add(&p->constraints, "SHARE UPDATE EXCLUSIVE on the shadow table only",
					  "COMMENT ON CONSTRAINT %s ON %s IS %s", q, p->shadow_q, lit);
			free(lit);
		}
		free(q);
	}
}

/*
 * The reconcile's index (replay.h): the replay key's own definition without
 * UNIQUE, so that the replay's key match probes it while the shadow may
 * still hold two versions of one key; dropped in the transaction that adds
 * the constraints (not one of them: --alter's empty copy runs those).
 */
static bool
plan_reconcile(const PlanInput *in, Plan *p, char **err)
{
	const TableDesc *t = in->table;
	const IndexDesc *key = &t->indexes[t->key_index];
	char	   *name = reconcile_index_name(key->oid);
	char	   *name_q = ident_quote(name);
	char	   *qualified = ident_quote_qualified(t->schema, name);
	char	   *ts = ident_literal(key->tablespace ? key->tablespace : "");
	char	   *build = rewrite_indexdef(key->def, key->def_prefix_name, key->def_prefix_table, name_q,
										 p->shadow_q, false);

	if (build == NULL)
		*err = pgr_psprintf("the definition of index \"%s\" has an unexpected shape: %s", key->name, key->def);
	else
	{
		/* on the main connection, which goes on with other work: the setting is put back */
		p->reconcile_index = pgr_psprintf("SET default_tablespace = %s; %s; RESET default_tablespace", ts, build);
		p->reconcile_drop = pgr_psprintf("DROP INDEX %s", qualified);
	}
	free(build);
	free(ts);
	free(qualified);
	free(name_q);
	free(name);
	return p->reconcile_index != NULL;
}

static bool
plan_indexes(const PlanInput *in, Plan *p, char **err)
{
	const TableDesc *t = in->table;
	const TableDesc *tt = changes_target_table(in->changes, t);

	for (int i = 0; i < t->nindexes; i++)
	{
		const IndexDesc *ix = &t->indexes[i];
		char	   *tmp = plan_temp_index_name(ix->oid);
		char	   *tmp_q = ident_quote(tmp);
		char	   *ts = ident_literal(ix->tablespace ? ix->tablespace : "");
		char	   *build = NULL;

		if (ix->condef)
			build = pgr_psprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", p->shadow_q, tmp_q, ix->condef);
		else
		{
			char	   *sql = plan_rewrite_indexdef(ix->def, ix->def_prefix_name, ix->def_prefix_table,
													tmp_q, p->shadow_q);

			if (sql == NULL)
			{
				*err = pgr_psprintf("the definition of index \"%s\" has an unexpected shape: %s",
									ix->name, ix->def);
				free(tmp);
				free(tmp_q);
				free(ts);
				return false;
			}
			build = sql;
		}
		/* The index definition omits its tablespace: default_tablespace places it. */
		stmts_add(&p->indexes, "SHARE on the shadow table only (no lock on the table)",
				  "SET default_tablespace = %s; %s", ts, build);
		free(build);

		if ((ix->contype == 'p' || ix->contype == 'u') && !ix->condef)
			stmts_add(&p->constraints, "ACCESS EXCLUSIVE on the shadow table only",
					  "ALTER TABLE %s ADD CONSTRAINT %s %s USING INDEX %s%s", p->shadow_q, tmp_q,
					  ix->contype == 'p' ? "PRIMARY KEY" : "UNIQUE", tmp_q,
					  ix->deferrable ? (ix->deferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE") : "");
		if (ix->comment)
		{
			char	   *lit = ident_literal(ix->comment);
			char	   *iq = ident_quote_qualified(t->schema, tmp);

			stmts_add(&p->constraints, "SHARE UPDATE EXCLUSIVE on the new index only",
					  "COMMENT ON INDEX %s IS %s", iq, lit);
			free(iq);
			free(lit);
		}
		if (ix->con_comment)
		{
			char	   *lit = ident_literal(ix->con_comment);

			stmts_add(&p->constraints, "SHARE UPDATE EXCLUSIVE on the shadow table only",
					  "COMMENT ON CONSTRAINT %s ON %s IS %s", tmp_q, p->shadow_q, lit);
			free(lit);
		}
		if (ix->clustered)
			stmts_add(&p->constraints, "SHARE UPDATE EXCLUSIVE on the shadow table only",
					  "ALTER TABLE %s CLUSTER ON %s", p->shadow_q, tmp_q);
		if (ix->replident && t->replident == 'i')
			stmts_add(&p->constraints, "ACCESS EXCLUSIVE on the shadow table only",
					  "ALTER TABLE %s REPLICA IDENTITY USING INDEX %s", p->shadow_q, tmp_q);
		free(tmp);
		free(tmp_q);
		free(ts);
	}
	if (t->replident == 'f' || t->replident == 'n')
		stmts_add(&p->constraints, "ACCESS EXCLUSIVE on the shadow table only",
				  "ALTER TABLE %s REPLICA IDENTITY %s", p->shadow_q, t->replident == 'f' ? "FULL" : "NOTHING");
	for (int i = 0; i < tt->nchecks; i++)
	{
		char	   *q;

		if (tt->checks[i].validated)
			continue;
		q = ident_quote(tt->checks[i].name);
		stmts_add(&p->constraints, "ACCESS EXCLUSIVE on the shadow table only",
				  "ALTER TABLE %s ADD CONSTRAINT %s %s", p->shadow_q, q, tt->checks[i].def);
		free(q);
	}
	plan_not_null_extras(in, p);
	for (int i = 0; i < tt->nchecks; i++)
	{
		char	   *q;
		char	   *lit;

		if (!tt->checks[i].comment)
			continue;
		q = ident_quote(tt->checks[i].name);
		lit = ident_literal(tt->checks[i].comment);
		stmts_add(&p->constraints, "SHARE UPDATE EXCLUSIVE on the shadow table only",
				  "COMMENT ON CONSTRAINT %s ON %s IS %s", q, p->shadow_q, lit);
		free(q);
		free(lit);
	}
	return true;
}

/* "<a>.k1 OPERATOR(op) <b>.k1 AND ..." over the replay key. */
static char *
key_match(const IndexDesc *key, const char *a, const char *b)
{
	StrBuf		sb;

	sb_init(&sb);
	for (int i = 0; i < key->nkeys; i++)
	{
		char	   *q = ident_quote(key->key_columns[i]);

		if (i > 0)
			sb_append(&sb, " AND ");
		sb_appendf(&sb, "%s.%s OPERATOR(%s) %s.%s", a, q, key->key_ops[i], b, q);
		free(q);
	}
	return sb_steal(&sb);
}

static char *
key_list(const IndexDesc *key, const char *alias)
{
	StrBuf		sb;

	sb_init(&sb);
	for (int i = 0; i < key->nkeys; i++)
	{
		if (i > 0)
			sb_append(&sb, ", ");
		if (alias)
			sb_appendf(&sb, "%s.", alias);
		ident_append(&sb, key->key_columns[i]);
	}
	return sb_steal(&sb);
}

static void
plan_capture(const PlanInput *in, Plan *p)
{
	const TableDesc *t = in->table;
	const IndexDesc *key = &t->indexes[t->key_index];
	StrBuf		cols;
	StrBuf		body;
	char	   *keys = key_list(key, NULL);
	char	   *new_keys = key_list(key, "NEW");
	char	   *old_keys = key_list(key, "OLD");
	char	   *same = key_match(key, "NEW", "OLD");
	char	   *tag;
	char	   *tool_q = ident_quote(in->tool_schema);
	char	   *what;

	sb_init(&cols);
	sb_appendf(&cols, "%s bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY", p->log_id_q);
	for (int i = 0; i < key->nkeys; i++)
	{
		const ColumnDesc *col = catalog_find_column(t, key->key_columns[i]);

		sb_append(&cols, ", ");
		ident_append(&cols, col->name);
		sb_appendf(&cols, " %s", col->type);
		if (col->collation)
			sb_appendf(&cols, " COLLATE %s", col->collation);
		sb_append(&cols, " NOT NULL");
	}
	sb_appendf(&cols, ") WITH (autovacuum_vacuum_scale_factor = 0.01)");
	append_tablespace(&cols, NULL, in->db_tablespace);
	stmts_add(&p->install, "none on the table (creates the log table)",
			  "CREATE %sTABLE %s (%s", t->persistence == 'u' ? "UNLOGGED " : "", p->log_q, cols.data);
	what = pgr_psprintf("TABLE %s", p->log_q);
	add_mark(&p->install, "none on the table", OBJ_LOG, what, t->oid);
	free(what);

	/*
	 * The capture function logs only the replay key: the old key for DELETE,
	 * the new key for INSERT, the old key for UPDATE and the new one too when
	 * the update changed it.  Replay re-reads rows from the table, so what
	 * the row held is never copied twice.
	 */
	sb_init(&body);
	sb_appendf(&body,
			   "\nBEGIN\n"
			   "    IF TG_OP = 'INSERT' THEN\n"
			   "        INSERT INTO %s (%s) VALUES (%s);\n"
			   "    ELSE\n"
			   "        INSERT INTO %s (%s) VALUES (%s);\n"
			   "        IF TG_OP = 'UPDATE' AND NOT (%s) THEN\n"
			   "            INSERT INTO %s (%s) VALUES (%s);\n"
			   "        END IF;\n"
			   "    END IF;\n"
			   "    RETURN NULL;\n"
			   "END\n",
			   p->log_q, keys, new_keys, p->log_q, keys, old_keys, same, p->log_q, keys, new_keys);
	tag = plan_dollar_tag(body.data);
	stmts_add(&p->install, "none on the table (creates the capture function)",
			  "CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
			  "SET search_path = pg_catalog, pg_temp AS %s%s%s",
			  p->func_q, tag, body.data, tag);
	stmts_add(&p->install, "none (the function is not callable by PUBLIC)",
			  "REVOKE ALL ON FUNCTION %s() FROM PUBLIC", p->func_q);
	what = pgr_psprintf("FUNCTION %s()", p->func_q);
	add_mark(&p->install, "none on the table", OBJ_FUNCTION, what, t->oid);
	free(what);
	stmts_add(&p->install, "SHARE ROW EXCLUSIVE on the table, under lock_timeout",
			  "CREATE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE ON %s "
			  "FOR EACH ROW EXECUTE FUNCTION %s()",
			  p->capture_trigger, t->qname, p->func_q);
	stmts_add(&p->install, "SHARE ROW EXCLUSIVE on the table (same transaction)",
			  "ALTER TABLE %s ENABLE ALWAYS TRIGGER %s", t->qname, p->capture_trigger);
	stmts_add(&p->install, "SHARE ROW EXCLUSIVE on the table (same transaction)",
			  "CREATE TRIGGER %s BEFORE TRUNCATE ON %s FOR EACH STATEMENT "
			  "EXECUTE FUNCTION %s.truncate_guard('%lld')",
			  p->truncate_trigger, t->qname, tool_q, in->lock_key);
	stmts_add(&p->install, "SHARE ROW EXCLUSIVE on the table (same transaction)",
			  "ALTER TABLE %s ENABLE ALWAYS TRIGGER %s", t->qname, p->truncate_trigger);
	for (int i = 0; i < 2; i++)
	{
		what = pgr_psprintf("TRIGGER %s ON %s", i == 0 ? p->capture_trigger : p->truncate_trigger, t->qname);
		add_mark(&p->install, "SHARE ROW EXCLUSIVE on the table (same transaction)", OBJ_TRIGGER, what, t->oid);
		free(what);
	}

	free(tag);
	sb_free(&body);
	sb_free(&cols);
	free(keys);
	free(new_keys);
	free(old_keys);
	free(same);
	free(tool_q);
}

/* The equality operator of the key's column i after the changes (the target's new index). */
static const char *
new_key_op(const PlanInput *in, const IndexDesc *key, int i)
{
	const TableDesc *tt = changes_target_table(in->changes, in->table);
	char	   *name = plan_temp_index_name(key->oid);
	const char *op = key->key_ops[i];

	for (int k = 0; tt != in->table && k < tt->nindexes; k++)
		if (strcmp(tt->indexes[k].name, name) == 0 && tt->indexes[k].key_ops_known && i < tt->indexes[k].nkeys)
			op = tt->indexes[k].key_ops[i];
	free(name);
	return op;
}

/*
 * "s.k1 OPERATOR(op) l.k1 AND ..." matching the shadow's key (new types) with
 * the log's (old types).  A key column whose type changes is matched with
 * the new type's equality operator against the log's value converted as the
 * copy converts it: by a cast, or by its USING expression applied to the
 * logged key (it may use only the key's columns).  *changed says whether
 * any key column changes type.
 */
static char *
shadow_key_match(const PlanInput *in, const IndexDesc *key, bool *changed)
{
	StrBuf		sb;
	char	   *tq = ident_quote(in->table->name);

	*changed = false;
	sb_init(&sb);
	for (int i = 0; i < key->nkeys; i++)
	{
		const ColumnChange *cc = changes_for(in->changes, key->key_columns[i]);
		char	   *q = ident_quote(key->key_columns[i]);

		if (i > 0)
			sb_append(&sb, " AND ");
		if (cc == NULL || (cc->new_type == NULL && cc->using_expr == NULL))
			sb_appendf(&sb, "s.%s OPERATOR(%s) l.%s", q, key->key_ops[i], q);
		else if (cc->using_expr == NULL)
		{
			sb_appendf(&sb, "s.%s OPERATOR(%s) (l.%s)::%s", q, new_key_op(in, key, i), q, cc->new_type);
			*changed = true;
		}
		else
		{
			char	   *cols = key_list(key, NULL);
			char	   *lcols = key_list(key, "l");

			sb_appendf(&sb, "s.%s OPERATOR(%s) (SELECT (%s\n) FROM (SELECT %s) AS %s (%s))", q,
					   new_key_op(in, key, i), cc->using_expr, lcols, tq, cols);
			*changed = true;
			free(cols);
			free(lcols);
		}
		free(q);
	}
	free(tq);
	return sb_steal(&sb);
}

static void
plan_replay(const PlanInput *in, Plan *p)
{
	const TableDesc *t = in->table;
	const IndexDesc *key = &t->indexes[t->key_index];
	bool		key_changed;
	char	   *match_s = shadow_key_match(in, key, &key_changed);
	char	   *tq = ident_quote(t->name);
	char	   *match_o = key_match(key, tq, "pgrebuild_log");
	char	   *cols = target_list(in, NULL);
	char	   *ocols = source_list(in, tq);

	/*
	 * One batch = every log entry up to $1 visible to one REPEATABLE READ
	 * snapshot: delete those keys from the shadow, re-insert what the table
	 * holds for them now, forget the entries.  All three statements see the
	 * same snapshot, so an entry is forgotten only if the change it records
	 * was read.  The table is read under its own name, as a USING expression
	 * may refer to it.
	 */
	p->replay_delete = pgr_psprintf("DELETE FROM %s s WHERE EXISTS (SELECT FROM %s l "
									"WHERE l.%s <= $1 AND %s)", p->shadow_q, p->log_q, p->log_id_q, match_s);
	p->replay_insert = pgr_psprintf("INSERT INTO %s (%s)%s SELECT %s FROM ONLY %s AS %s "
									"WHERE EXISTS (SELECT FROM %s pgrebuild_log WHERE pgrebuild_log.%s <= $1 AND %s)",
									p->shadow_q, cols, has_identity(t) ? " OVERRIDING SYSTEM VALUE" : "",
									ocols, t->qname, tq, p->log_q, p->log_id_q, match_o);
	p->replay_trim = pgr_psprintf("DELETE FROM %s WHERE %s <= $1", p->log_q, p->log_id_q);
	{
		char	   *keys = key_list(key, tq);

		p->probe_rows_all = pgr_psprintf("SELECT %s.ctid AS c, ROW(%s)::text AS k FROM ONLY %s AS %s", tq, keys,
										 t->qname, tq);
		p->probe_rows_logged = pgr_psprintf("%s WHERE EXISTS (SELECT FROM %s pgrebuild_log WHERE %s)",
											p->probe_rows_all, p->log_q, match_o);
		p->probe_insert = pgr_psprintf("INSERT INTO pg_temp.pgrebuild_probe (%s) SELECT %s FROM ONLY %s AS %s "
									   "WHERE %s.ctid OPERATOR(pg_catalog.=) r.c", cols, ocols, t->qname, tq, tq);
		free(keys);
	}
	if (key_changed)
	{
		StrBuf		sb;

		/* a log row of the old types, matched against the shadow: planned at preflight */
		sb_init(&sb);
		sb_appendf(&sb, "EXPLAIN (COSTS OFF) SELECT FROM %s s, (SELECT ", p->shadow_q);
		for (int i = 0; i < key->nkeys; i++)
		{
			const ColumnDesc *col = catalog_find_column(t, key->key_columns[i]);

			sb_appendf(&sb, "%sNULL::%s AS ", i > 0 ? ", " : "", col->type);
			ident_append(&sb, col->name);
		}
		sb_appendf(&sb, ") l WHERE %s", match_s);
		p->replay_key_check = sb_steal(&sb);
	}
	free(match_s);
	free(match_o);
	free(cols);
	free(ocols);
	free(tq);
}

static void
plan_swap(const PlanInput *in, Plan *p)
{
	const TableDesc *t = in->table;
	char	   *new_name_q = ident_quote(t->name);
	char	   *old_name_q = ident_quote(p->old_name);

	stmts_add(&p->swap, "ACCESS EXCLUSIVE on the table (held)", "DROP TRIGGER %s ON %s",
			  p->capture_trigger, t->qname);
	stmts_add(&p->swap, "ACCESS EXCLUSIVE on the table (held)", "DROP TRIGGER %s ON %s",
			  p->truncate_trigger, t->qname);

	/* Sequences: serial ones move to the new table, identity ones continue. */
	for (int i = 0; i < t->ncolumns; i++)
	{
		const ColumnDesc *col = &t->columns[i];
		char	   *qc = ident_quote(col->name);

		if (!changes_keeps(in->changes, col))
			;					/* a dropped column's sequence goes with the old table */
		else if (col->sequence && !col->identity)
			stmts_add(&p->swap, "SHARE ROW EXCLUSIVE on the sequence",
					  "ALTER SEQUENCE %s OWNED BY %s.%s", col->sequence, p->shadow_q, qc);
		else if (col->sequence && col->identity)
		{
			char	   *newseq = identity_sequence_name(t, col);
			char	   *newseq_q = ident_quote_qualified(t->schema, newseq);
			char	   *lit = ident_literal(newseq_q);

			stmts_add(&p->swap, "ROW EXCLUSIVE on the sequences",
					  "SELECT pg_catalog.setval(%s::pg_catalog.regclass, s.last_value, s.is_called) FROM %s s",
					  lit, col->sequence);
			free(newseq);
			free(newseq_q);
			free(lit);
		}
		free(qc);
	}

	stmts_add(&p->swap, "ACCESS EXCLUSIVE on the table (held)", "ALTER TABLE %s RENAME TO %s",
			  t->qname, old_name_q);
	for (int i = 0; i < t->nindexes; i++)
	{
		char	   *iq = ident_quote_qualified(t->schema, t->indexes[i].name);

		char	   *old = old_index_name(t->indexes[i].oid);
		char	   *oq = ident_quote(old);

		stmts_add(&p->swap, "ACCESS EXCLUSIVE on the old index", "ALTER INDEX %s RENAME TO %s", iq, oq);
		free(iq);
		free(old);
		free(oq);
	}
	for (int i = 0; i < t->ncolumns; i++)
	{
		const ColumnDesc *col = &t->columns[i];

		if (col->sequence && col->identity && changes_keeps(in->changes, col))
		{
			char	   *old = old_sequence_name(t, col);
			char	   *oq = ident_quote(old);

			stmts_add(&p->swap, "ACCESS EXCLUSIVE on the old sequence", "ALTER SEQUENCE %s RENAME TO %s",
					  col->sequence, oq);
			free(old);
			free(oq);
		}
	}
	stmts_add(&p->swap, "ACCESS EXCLUSIVE on the shadow table", "ALTER TABLE %s RENAME TO %s",
			  p->shadow_q, new_name_q);
	for (int i = 0; i < t->nindexes; i++)
	{
		char	   *tmp = plan_temp_index_name(t->indexes[i].oid);
		char	   *tq = ident_quote_qualified(t->schema, tmp);
		char	   *nq = ident_quote(t->indexes[i].name);

		stmts_add(&p->swap, "ACCESS EXCLUSIVE on the new index", "ALTER INDEX %s RENAME TO %s", tq, nq);
		free(tmp);
		free(tq);
		free(nq);
	}
	for (int i = 0; i < t->ncolumns; i++)
	{
		const ColumnDesc *col = &t->columns[i];

		if (col->sequence && col->identity && changes_keeps(in->changes, col))
		{
			char	   *newseq = identity_sequence_name(t, col);
			char	   *newseq_q = ident_quote_qualified(t->schema, newseq);
			char	   *orig_q = ident_quote(col->sequence_name);

			stmts_add(&p->swap, "ACCESS EXCLUSIVE on the new sequence",
					  "ALTER SEQUENCE %s RENAME TO %s", newseq_q, orig_q);
			free(newseq);
			free(newseq_q);
			free(orig_q);
		}
	}
	/* the table's own comment (the shadow carried the run's mark), and the old table now marked */
	{
		char	   *lit = t->comment ? ident_literal(t->comment) : pgr_strdup("NULL");
		char	   *what = pgr_psprintf("TABLE %s", p->old_q);

		stmts_add(&p->swap, "ACCESS EXCLUSIVE on the new table (held)", "COMMENT ON TABLE %s IS %s", t->qname, lit);
		add_mark(&p->swap, "ACCESS EXCLUSIVE on the old table (held)", OBJ_OLD, what, t->oid);
		free(lit);
		free(what);
	}
	for (int i = 0; i < t->ngrants; i++)
	{
		const GrantDesc *g = &t->grants[i];
		const ColumnDesc *gc = g->column ? catalog_find_column(t, g->column) : NULL;
		char	   *who;
		char	   *col;

		if (gc && !changes_keeps(in->changes, gc))
			continue;			/* privileges on a dropped column go with it */
		who = g->grantee ? ident_quote(g->grantee) : pgr_strdup("PUBLIC");
		col = g->column ? ident_quote(g->column) : NULL;

		stmts_add(&p->grants, "none (catalog update of the new table)",
				  "GRANT %s%s%s%s ON TABLE %s TO %s%s", g->privilege, col ? " (" : "", col ? col : "",
				  col ? ")" : "", t->qname, who, g->grantable ? " WITH GRANT OPTION" : "");
		free(who);
		free(col);
	}
	/*
	 * The shadow was created WITH the table's storage parameters (as the
	 * changes leave them), in their order, then given autovacuum_enabled =
	 * false, which SET moves to the end of the array.  Setting every
	 * parameter again, in the table's order, puts back exactly its array (SET
	 * keeps, in front, only the parameters it does not name, and here it
	 * names them all); without a setting of its own, RESET removes ours and
	 * leaves the others in place.  No rewrite.
	 */
	{
		const TableDesc *tt = changes_target_table(in->changes, t);

		if (tt->autovacuum_set)
			stmts_add(&p->grants, "ACCESS EXCLUSIVE on the new table (held)", "ALTER TABLE %s SET (%s)",
					  t->qname, tt->reloptions);
		else
			stmts_add(&p->grants, "ACCESS EXCLUSIVE on the new table (held)",
					  "ALTER TABLE %s RESET (autovacuum_enabled)", t->qname);
	}
	if (t->rls_enabled)
		stmts_add(&p->grants, "ACCESS EXCLUSIVE on the new table (held)",
				  "ALTER TABLE %s ENABLE ROW LEVEL SECURITY", t->qname);

	free(new_name_q);
	free(old_name_q);
}

/* The statements that take the run's locks on the table, and the shadow's ANALYZE. */
static void
plan_locks(const PlanInput *in, Plan *p)
{
	const TableDesc *t = in->table;

	p->lock_timeout = pgr_psprintf("SET LOCAL lock_timeout = '%dms'", in->lock_timeout_ms);
	p->guard_lock = pgr_psprintf("LOCK TABLE %s IN SHARE UPDATE EXCLUSIVE MODE", t->qname);
	p->swap_lock = pgr_psprintf("LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", t->qname);
	p->analyze = pgr_psprintf("ANALYZE %s", p->shadow_q);
	p->drop_shadow = object_finish_sql(OBJ_SHADOW, t->schema, p->shadow_name, NULL, NULL);
}

/* Adds the statement that removes a recorded object to l. */
static void
add_finish(StmtList *l, ObjKind k, const char *schema, const char *name, const char *tschema,
		   const char *tname)
{
	char	   *sql = object_finish_sql(k, schema, name, tschema, tname);

	stmts_add(l, object_finish_lock(k), "%s", sql);
	free(sql);
}

/*
 * What the finish removes, in the order it removes recorded objects
 * (objects.h): the triggers went with the swap, the shadow became the
 * table; the foreign keys to validate are the dependents' (DepPlan).
 */
static void
plan_finish(const PlanInput *in, Plan *p)
{
	add_finish(&p->finish, OBJ_FUNCTION, in->tool_schema, p->func_name, NULL, NULL);
	add_finish(&p->finish, OBJ_LOG, in->tool_schema, p->log_name, NULL, NULL);
	if (!in->keep_old_table)
		add_finish(&p->finish, OBJ_OLD, in->table->schema, p->old_name, NULL, NULL);
}

bool
plan_build(const PlanInput *in, Plan *p, char **err)
{
	const TableDesc *t = in->table;
	char	   *tool_q = ident_quote(in->tool_schema);

	memset(p, 0, sizeof(*p));
	*err = NULL;
	if (t->key_index < 0)
	{
		*err = pgr_strdup("the table has no replay key");
		free(tool_q);
		return false;
	}
	p->shadow_name = object_name(OBJ_SHADOW, t->oid);
	p->shadow_q = ident_quote_qualified(t->schema, p->shadow_name);
	p->old_name = object_name(OBJ_OLD, t->oid);
	p->old_q = ident_quote_qualified(t->schema, p->old_name);
	p->log_name = object_name(OBJ_LOG, t->oid);
	p->log_q = ident_quote_qualified(in->tool_schema, p->log_name);
	p->func_name = object_name(OBJ_FUNCTION, t->oid);
	p->func_q = ident_quote_qualified(in->tool_schema, p->func_name);
	{
		const IndexDesc *key = &t->indexes[t->key_index];
		StrBuf		id;
		bool		clash = true;

		sb_init(&id);
		sb_append(&id, "log_id");
		while (clash)
		{
			clash = false;
			for (int i = 0; i < key->nkeys; i++)
				if (strcmp(key->key_columns[i], id.data) == 0)
					clash = true;
			if (clash)
				sb_append_char(&id, '_');
		}
		p->log_id_q = ident_quote(id.data);
		sb_free(&id);
	}
	p->capture_trigger = PGR_CAPTURE_TRIGGER;
	p->truncate_trigger = PGR_TRUNCATE_TRIGGER;
	free(tool_q);

	plan_capture(in, p);
	plan_shadow(in, p);
	plan_copy(in, p);
	if (!plan_reconcile(in, p, err) || !plan_indexes(in, p, err))
	{
		plan_free(p);
		return false;
	}
	plan_replay(in, p);
	plan_swap(in, p);
	plan_locks(in, p);
	plan_finish(in, p);
	return true;
}

void
plan_free(Plan *p)
{
	free(p->shadow_name);
	free(p->shadow_q);
	free(p->old_name);
	free(p->old_q);
	free(p->log_name);
	free(p->log_q);
	free(p->func_name);
	free(p->func_q);
	free(p->log_id_q);
	stmts_free(&p->install);
	stmts_free(&p->shadow);
	free(p->copy_sql);
	free(p->copy_select);
	free(p->copy_order_by);
	free(p->reconcile_index);
	free(p->reconcile_drop);
	stmts_free(&p->indexes);
	stmts_free(&p->constraints);
	free(p->replay_delete);
	free(p->replay_insert);
	free(p->replay_trim);
	free(p->replay_key_check);
	free(p->probe_rows_logged);
	free(p->probe_rows_all);
	free(p->probe_insert);
	free(p->lock_timeout);
	free(p->guard_lock);
	free(p->swap_lock);
	free(p->analyze);
	free(p->drop_shadow);
	stmts_free(&p->swap);
	stmts_free(&p->grants);
	stmts_free(&p->finish);
	memset(p, 0, sizeof(*p));
}

/* ------------------------------------------------------------------------
 * Dependents
 * ------------------------------------------------------------------------ */

void
dep_plan_free(DepPlan *dp)
{
	stmts_free(&dp->prepare);
	stmts_free(&dp->before_renames);
	stmts_free(&dp->after_renames);
	stmts_free(&dp->validate);
}

/* A foreign key definition that ends in exactly one " NOT VALID". */
static char *
fk_not_valid(const char *def)
{
	size_t		n = strlen(def);
	const char *suffix = " NOT VALID";
	size_t		k = strlen(suffix);

	if (n >= k && strcmp(def + n - k, suffix) == 0)
		return pgr_strdup(def);
	return pgr_psprintf("%s%s", def, suffix);
}

static void
add_comment(StmtList *l, const char *what, const char *comment)
{
	char	   *lit;

	if (comment == NULL)
		return;
	lit = ident_literal(comment);
	stmts_add(l, "none (catalog)", "COMMENT ON %s IS %s", what, lit);
	free(lit);
}

static const char *
enable_clause(char state)
{
	switch (state)
	{
		case 'D':
			return "DISABLE";
		case 'R':
			return "ENABLE REPLICA";
		case 'A':
			return "ENABLE ALWAYS";
		default:
			return NULL;		/* 'O': enabled, the default */
	}
}

static const char *
policy_command(char c)
{
	switch (c)
	{
		case 'r':
			return "SELECT";
		case 'a':
			return "INSERT";
		case 'w':
			return "UPDATE";
		case 'd':
			return "DELETE";
		default:
			return "ALL";
	}
}

/* Rewrites "CREATE STATISTICS <name> ... FROM <table>" for the shadow. */
static char *
rewrite_statistics(const DepObject *o, const char *table_q, const char *tmp_q, const char *shadow_q)
{
	size_t		plen = strlen(o->stats_prefix);
	char	   *from = pgr_psprintf(" FROM %s", table_q);
	size_t		dlen = strlen(o->def);
	size_t		flen = strlen(from);
	char	   *out = NULL;

	if (strncmp(o->def, o->stats_prefix, plen) == 0 && dlen > plen + flen &&
		strcmp(o->def + dlen - flen, from) == 0)
		out = pgr_psprintf("CREATE STATISTICS %s %.*s FROM %s", tmp_q, (int) (dlen - plen - flen),
						   o->def + plen, shadow_q);
	free(from);
	return out;
}

static bool
plan_dep(const PlanInput *in, const Plan *p, const DepObject *o, bool recreate, DepPlan *out,
		 bool *truncate_old, char **err)
{
	const TableDesc *t = in->table;
	char	   *nq = o->name ? ident_quote(o->name) : NULL;
	char	   *what;

	switch (o->kind)
	{
		case DEP_FK_OUT:
			{
				char	   *def = fk_not_valid(o->def);

				stmts_add(&out->prepare, "SHARE ROW EXCLUSIVE on the shadow table and on the referenced table",
						  "ALTER TABLE %s ADD CONSTRAINT %s %s", p->shadow_q, nq, def);
				what = pgr_psprintf("CONSTRAINT %s ON %s", nq, p->shadow_q);
				add_comment(&out->prepare, what, o->comment);
				free(what);
				if (o->validated)
					add_finish(&out->validate, OBJ_VALIDATE, t->schema, o->name, t->schema, t->name);
				*truncate_old = true;
				free(def);
				break;
			}
		case DEP_FK_SELF:
			{
				char	   *def = fk_not_valid(o->def);

				stmts_add(&out->after_renames, "ACCESS EXCLUSIVE on the new table (held)",
						  "ALTER TABLE %s ADD CONSTRAINT %s %s", t->qname, nq, def);
				what = pgr_psprintf("CONSTRAINT %s ON %s", nq, t->qname);
				add_comment(&out->after_renames, what, o->comment);
				free(what);
				if (o->validated)
					add_finish(&out->validate, OBJ_VALIDATE, t->schema, o->name, t->schema, t->name);
				*truncate_old = true;
				free(def);
				break;
			}
		case DEP_FK_IN:
			{
				char	   *def = fk_not_valid(o->def);

				stmts_add(&out->before_renames, "ACCESS EXCLUSIVE on the referencing table, under lock_timeout",
						  "LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", o->rel_q);
				stmts_add(&out->after_renames, "ACCESS EXCLUSIVE on the referencing table (held)",
						  "ALTER TABLE %s DROP CONSTRAINT %s, ADD CONSTRAINT %s %s", o->rel_q, nq, nq, def);
				what = pgr_psprintf("CONSTRAINT %s ON %s", nq, o->rel_q);
				add_comment(&out->after_renames, what, o->comment);
				free(what);
				if (o->validated)
					add_finish(&out->validate, OBJ_VALIDATE, o->rel_schema, o->name, o->rel_schema, o->rel_name);
				free(def);
				break;
			}
		case DEP_STATISTICS:
			{
				char	   *tmp = temp_statistics_name(o->oid);
				char	   *old = old_statistics_name(o->oid);
				char	   *old_q = ident_quote(old);
				char	   *tmp_q = ident_quote_qualified(o->stats_schema, tmp);
				char	   *sql = rewrite_statistics(o, t->qname_deparsed ? t->qname_deparsed : t->qname,
													 tmp_q, p->shadow_q);

				if (sql == NULL)
				{
					*err = pgr_psprintf("the definition of statistics object %s has an unexpected shape: %s",
										o->qname, o->def);
					free(tmp);
					free(old);
					free(old_q);
					free(tmp_q);
					free(nq);
					return false;
				}
				stmts_add(&out->prepare, "SHARE UPDATE EXCLUSIVE on the shadow table only", "%s", sql);
				if (o->stattarget >= 0)
					stmts_add(&out->prepare, "none (catalog)", "ALTER STATISTICS %s SET STATISTICS %d", tmp_q,
							  o->stattarget);
				if (o->owner && strcmp(o->owner, t->owner) != 0)
				{
					char	   *oq = ident_quote(o->owner);

					stmts_add(&out->prepare, "none (catalog)", "ALTER STATISTICS %s OWNER TO %s", tmp_q, oq);
					free(oq);
				}
				what = pgr_psprintf("STATISTICS %s", tmp_q);
				add_comment(&out->prepare, what, o->comment);
				free(what);
				stmts_add(&out->after_renames, "none (catalog)", "ALTER STATISTICS %s RENAME TO %s", o->qname,
						  old_q);
				stmts_add(&out->after_renames, "none (catalog)", "ALTER STATISTICS %s RENAME TO %s", tmp_q, nq);
				free(sql);
				free(tmp);
				free(old);
				free(old_q);
				free(tmp_q);
				break;
			}
		case DEP_PUBLICATION:
			stmts_add(&out->before_renames, "SHARE UPDATE EXCLUSIVE on the table (held)",
					  "ALTER PUBLICATION %s DROP TABLE %s", o->qname, t->qname);
			stmts_add(&out->after_renames, "SHARE UPDATE EXCLUSIVE on the new table (held)",
					  "ALTER PUBLICATION %s ADD TABLE %s%s%s%s%s%s", o->qname, t->qname,
					  o->pub_columns ? " (" : "", o->pub_columns ? o->pub_columns : "", o->pub_columns ? ")" : "",
					  o->pub_where ? " WHERE " : "", o->pub_where ? o->pub_where : "");
			break;
		case DEP_PARENT:
			stmts_add(&out->after_renames, "SHARE UPDATE EXCLUSIVE on the parent, under lock_timeout",
					  "ALTER TABLE %s NO INHERIT %s", p->old_q, o->rel_q);
			stmts_add(&out->after_renames, "SHARE UPDATE EXCLUSIVE on the parent (held)",
					  "ALTER TABLE %s INHERIT %s", t->qname, o->rel_q);
			break;
		case DEP_TRIGGER:
			stmts_add(&out->after_renames, "SHARE ROW EXCLUSIVE on the new table (held)", "%s", o->def);
			if (enable_clause(o->enabled))
				stmts_add(&out->after_renames, "none (held)", "ALTER TABLE %s %s TRIGGER %s", t->qname,
						  enable_clause(o->enabled), nq);
			what = pgr_psprintf("TRIGGER %s ON %s", nq, t->qname);
			add_comment(&out->after_renames, what, o->comment);
			free(what);
			break;
		case DEP_RULE:
			stmts_add(&out->after_renames, "ACCESS EXCLUSIVE on the new table (held)", "%s", o->def);
			if (enable_clause(o->enabled))
				stmts_add(&out->after_renames, "none (held)", "ALTER TABLE %s %s RULE %s", t->qname,
						  enable_clause(o->enabled), nq);
			what = pgr_psprintf("RULE %s ON %s", nq, t->qname);
			add_comment(&out->after_renames, what, o->comment);
			free(what);
			break;
		case DEP_OTHER_RULE:
			if (strncmp(o->def, "CREATE RULE ", 12) != 0)
			{
				*err = pgr_psprintf("the definition of rule %s on %s has an unexpected shape", o->name, o->rel_q);
				free(nq);
				return false;
			}
			stmts_add(&out->after_renames, "ACCESS EXCLUSIVE on the rule's table, under lock_timeout",
					  "CREATE OR REPLACE RULE %s", o->def + 12);
			break;
		case DEP_POLICY:
			{
				StrBuf		sb;

				sb_init(&sb);
				sb_appendf(&sb, "CREATE POLICY %s ON %s AS %s FOR %s TO %s", nq, t->qname,
						   o->permissive ? "PERMISSIVE" : "RESTRICTIVE", policy_command(o->policy_cmd),
						   o->roles ? o->roles : "PUBLIC");
				if (o->def)
					sb_appendf(&sb, " USING (%s)", o->def);
				if (o->with_check)
					sb_appendf(&sb, " WITH CHECK (%s)", o->with_check);
				stmts_add(&out->after_renames, "ACCESS EXCLUSIVE on the new table (held)", "%s", sb.data);
				sb_free(&sb);
				what = pgr_psprintf("POLICY %s ON %s", nq, t->qname);
				add_comment(&out->after_renames, what, o->comment);
				free(what);
				break;
			}
		case DEP_OTHER_POLICY:
			if (o->def || o->with_check)
			{
				StrBuf		sb;

				sb_init(&sb);
				sb_appendf(&sb, "ALTER POLICY %s ON %s", nq, o->rel_q);
				if (o->def)
					sb_appendf(&sb, " USING (%s)", o->def);
				if (o->with_check)
					sb_appendf(&sb, " WITH CHECK (%s)", o->with_check);
				stmts_add(&out->after_renames, "ACCESS EXCLUSIVE on the policy's table, under lock_timeout",
						  "%s", sb.data);
				sb_free(&sb);
			}
			break;
		case DEP_VIEW:
			if (recreate)
			{
				stmts_add(&out->after_renames, "none (creates the view again)", "CREATE VIEW %s%s%s%s AS %s", o->qname,
						  o->view_options ? " WITH (" : "", o->view_options ? o->view_options : "", o->view_options ? ")" : "", o->def);
				if (o->owner && strcmp(o->owner, t->owner) != 0)
				{
					char	   *oq = ident_quote(o->owner);

					stmts_add(&out->after_renames, "ACCESS EXCLUSIVE on the view (held)", "ALTER VIEW %s OWNER TO %s",
							  o->qname, oq);
					free(oq);
				}
				if (o->grants)
					stmts_add(&out->after_renames, "none (catalog)", "%s", o->grants);
				if (o->comments)
					stmts_add(&out->after_renames, "none (catalog)", "%s", o->comments);
			}
			else if (o->depth <= 1)	/* a view on the table itself (0: not read by dependents.c) */
				stmts_add(&out->after_renames, "ACCESS EXCLUSIVE on the view, under lock_timeout",
						  "CREATE OR REPLACE VIEW %s%s%s%s AS %s", o->qname, o->view_options ? " WITH (" : "",
						  o->view_options ? o->view_options : "", o->view_options ? ")" : "", o->def);
			break;
		case DEP_FUNCTION:
			/*
			 * The unchanged text, run again: sessions that cached the
			 * function's plans (or its %ROWTYPE) recompile it.  PL/pgSQL
			 * bodies name tables as the function's own search_path sees
			 * them, so they are not compiled here (check_function_bodies).
			 */
			if (o->can_own)
				stmts_add(&out->after_renames, "none heavy (catalog)",
						  "SET LOCAL check_function_bodies = off; %s", o->def);
			break;
	}
	free(nq);
	return true;
}

/* Whether the set "{1,5,7}" holds v. */
static bool
set_has(const char *set, long v)
{
	const char *p = set;

	while (p && *p)
	{
		char	   *end;
		long		x;

		while (*p == '{' || *p == ',')
			p++;
		x = strtol(p, &end, 10);
		if (end == p)
			break;
		if (x == v)
			return true;
		p = end;
	}
	return false;
}

void
plan_views_to_recreate(const PlanInput *in, const Dependents *d, bool *flags)
{
	const TableDesc *t = in->table;

	/* the views come in order of depth: those a view reads are decided before it */
	for (int i = 0; i < d->n; i++)
	{
		const DepObject *o = &d->items[i];

		flags[i] = false;
		if (o->kind != DEP_VIEW)
			continue;
		for (int k = 0; in->changes && k < in->changes->ncolumns && !flags[i]; k++)
		{
			const ColumnChange *cc = &in->changes->columns[k];
			const ColumnDesc *col = catalog_find_column(t, cc->column);

			if (col && (cc->retyped || cc->using_expr) && set_has(o->attnums, col->attnum))
				flags[i] = true;
		}
		for (int k = 0; k < i && !flags[i]; k++)
			if (flags[k] && set_has(o->view_deps, (long) d->items[k].oid))
				flags[i] = true;
	}
}

bool
plan_dependents(const PlanInput *in, const Plan *p, const Dependents *d, DepPlan *out, char **err)
{
	bool		truncate_old = false;
	bool	   *recreate = pgr_calloc((size_t) d->n + 1, sizeof(bool));

	memset(out, 0, sizeof(*out));
	*err = NULL;
	plan_views_to_recreate(in, d, recreate);
	for (int i = 0; i < d->n; i++)
	{
		const DepObject *o = &d->items[i];

		if (recreate[i] && (!o->can_own || o->relkind_note))
		{
			*err = pgr_psprintf("view %s reads a column whose type changes, so it must be dropped and created "
								"again, and %s%s", o->qname, o->relkind_note ? o->relkind_note : "it is owned by ",
								o->relkind_note ? "" : o->owner);
			free(recreate);
			return false;
		}
	}
	/* views first, then functions: the order of dependents.c's reads is kept within a kind */
	for (int pass = 0; pass < 2; pass++)
	{
		if (pass == 1)
			/* the views to make again are dropped first, those on top first */
			for (int i = d->n - 1; i >= 0; i--)
				if (recreate[i])
					stmts_add(&out->after_renames, "ACCESS EXCLUSIVE on the view, under lock_timeout",
							  "DROP VIEW %s", d->items[i].qname);
		for (int i = 0; i < d->n; i++)
		{
			bool		late = d->items[i].kind == DEP_VIEW || d->items[i].kind == DEP_FUNCTION ||
				d->items[i].kind == DEP_OTHER_RULE || d->items[i].kind == DEP_OTHER_POLICY;

			if ((pass == 0) == late)
				continue;
			if (!plan_dep(in, p, &d->items[i], recreate[i], out, &truncate_old, err))
			{
				dep_plan_free(out);
				free(recreate);
				return false;
			}
		}
	}
	free(recreate);
	if (in->table->rls_forced)
		stmts_add(&out->after_renames, "ACCESS EXCLUSIVE on the new table (held)",
				  "ALTER TABLE %s FORCE ROW LEVEL SECURITY", in->table->qname);
	if (truncate_old && !in->keep_old)
	{
		/*
		 * The old table's foreign keys stay live until it is dropped: empty
		 * it.  With --keep-old the finish drops them instead (cleanup.c).
		 */
		stmts_add(&out->after_renames, "ACCESS EXCLUSIVE on the old table (held)",
				  "ALTER TABLE %s DISABLE TRIGGER USER", p->old_q);
		stmts_add(&out->after_renames, "ACCESS EXCLUSIVE on the old table (held)", "TRUNCATE %s", p->old_q);
	}
	return true;
}

/* One name the run needs free (plan_reserved_names). */
static void
reserve(StrVec *kinds, StrVec *schemas, StrVec *names, const char *kind, const char *schema, char *name)
{
	sv_push(kinds, kind);
	sv_push(schemas, schema);
	sv_push_owned(names, name);
}

void
plan_reserved_names(const PlanInput *in, const Plan *p, const Dependents *d, StrVec *kinds, StrVec *schemas,
					StrVec *names)
{
	const TableDesc *t = in->table;

	/* the shadow and the old table, with their row types */
	reserve(kinds, schemas, names, "relation", t->schema, pgr_strdup(p->shadow_name));
	reserve(kinds, schemas, names, "type", t->schema, pgr_strdup(p->shadow_name));
	reserve(kinds, schemas, names, "relation", t->schema, pgr_strdup(p->old_name));
	reserve(kinds, schemas, names, "type", t->schema, pgr_strdup(p->old_name));
	for (int i = 0; i < t->nindexes; i++)
	{
		reserve(kinds, schemas, names, "relation", t->schema, plan_temp_index_name(t->indexes[i].oid));
		reserve(kinds, schemas, names, "relation", t->schema, old_index_name(t->indexes[i].oid));
	}
	reserve(kinds, schemas, names, "relation", t->schema, reconcile_index_name(t->indexes[t->key_index].oid));
	for (int i = 0; i < t->ncolumns; i++)
	{
		const ColumnDesc *col = &t->columns[i];

		if (!col->sequence || !col->identity)
			continue;
		reserve(kinds, schemas, names, "relation", t->schema, identity_sequence_name(t, col));
		reserve(kinds, schemas, names, "relation", col->sequence_schema ? col->sequence_schema : t->schema,
				old_sequence_name(t, col));
	}
	for (int i = 0; d && i < d->n; i++)
	{
		const DepObject *o = &d->items[i];

		if (o->kind != DEP_STATISTICS)
			continue;
		reserve(kinds, schemas, names, "statistics object", o->stats_schema, temp_statistics_name(o->oid));
		reserve(kinds, schemas, names, "statistics object", o->stats_schema, old_statistics_name(o->oid));
	}
	/* the log table and the capture function, in the state schema */
	reserve(kinds, schemas, names, "relation", in->tool_schema, pgr_strdup(p->log_name));
	reserve(kinds, schemas, names, "function", in->tool_schema, pgr_strdup(p->func_name));
}
