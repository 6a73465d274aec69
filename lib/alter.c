/* alter.c: the server's reading of --alter, on an empty copy of the table. */
#include "alter.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "log.h"
#include "objects.h"
#include "sqllex.h"

static const VersionedSql compression_sql[] = {
	{140000, "a.attcompression::text"},
	{0, "''::text"}};

/*
 * Every catalog entry of the copy that an ALTER TABLE subcommand can change,
 * one (key, value) row each, sorted by key.  Keys of columns carry the
 * attnum (which a drop keeps), so a dropped or renamed column shows as such.
 */
static const char *const snapshot_sql =
	"WITH r AS (SELECT c.* FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) %%oid) "
	"SELECT k, v FROM ("
	" SELECT 'rel:name' AS k, r.relname::text AS v FROM r"
	" UNION ALL SELECT 'rel:schema', r.relnamespace::pg_catalog.regnamespace::text FROM r"
	" UNION ALL SELECT 'rel:owner', r.relowner::pg_catalog.regrole::text FROM r"
	" UNION ALL SELECT 'rel:persistence', r.relpersistence::text FROM r"
	" UNION ALL SELECT 'rel:kind', r.relkind::text FROM r"
	" UNION ALL SELECT 'rel:access method', (SELECT am.amname::text FROM pg_catalog.pg_am am"
	"   WHERE am.oid OPERATOR(pg_catalog.=) r.relam) FROM r"
	" UNION ALL SELECT 'rel:tablespace', coalesce((SELECT ts.spcname::text FROM pg_catalog.pg_tablespace ts"
	"   WHERE ts.oid OPERATOR(pg_catalog.=) r.reltablespace), '(default)') FROM r"
	" UNION ALL SELECT 'rel:storage parameters', r.reloptions::text FROM r"
	" UNION ALL SELECT 'rel:toast storage parameters', (SELECT tc.reloptions::text FROM pg_catalog.pg_class tc"
	"   WHERE tc.oid OPERATOR(pg_catalog.=) r.reltoastrelid) FROM r"
	" UNION ALL SELECT 'rel:replica identity', r.relreplident::text FROM r"
	" UNION ALL SELECT 'rel:row level security', r.relrowsecurity::text || '/' || r.relforcerowsecurity::text FROM r"
	" UNION ALL SELECT 'rel:type', r.reloftype::pg_catalog.regtype::text FROM r"
	" UNION ALL SELECT 'rel:privileges', r.relacl::text FROM r"
	" UNION ALL SELECT 'rel:triggers', (SELECT pg_catalog.string_agg(tg.tgname::text || ' ' || tg.tgenabled::text, ','"
	"   ORDER BY tg.tgname) FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid OPERATOR(pg_catalog.=) r.oid) FROM r"
	" UNION ALL SELECT 'rel:rules', (SELECT pg_catalog.string_agg(rw.rulename::text, ',' ORDER BY rw.rulename)"
	"   FROM pg_catalog.pg_rewrite rw WHERE rw.ev_class OPERATOR(pg_catalog.=) r.oid) FROM r"
	" UNION ALL SELECT 'rel:inherits', (SELECT pg_catalog.string_agg(ih.inhparent::pg_catalog.regclass::text, ','"
	"   ORDER BY ih.inhseqno) FROM pg_catalog.pg_inherits ih WHERE ih.inhrelid OPERATOR(pg_catalog.=) r.oid) FROM r"
	" UNION ALL SELECT 'col:' || pg_catalog.lpad(a.attnum::text, 5, '0') || ':' || x.k, x.v"
	"  FROM r JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) r.oid"
	"    AND a.attnum OPERATOR(pg_catalog.>) 0"
	"  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid"
	"    AND d.adnum OPERATOR(pg_catalog.=) a.attnum"
	"  CROSS JOIN LATERAL (VALUES ('dropped', a.attisdropped::text), ('name', a.attname::text),"
	"   ('type', pg_catalog.format_type(a.atttypid, a.atttypmod)),"
	"   ('collation', (SELECT co.collname::text FROM pg_catalog.pg_collation co"
	"     WHERE co.oid OPERATOR(pg_catalog.=) a.attcollation)),"
	"   ('not null', a.attnotnull::text), ('default', pg_catalog.pg_get_expr(d.adbin, d.adrelid)),"
	"   ('identity', a.attidentity::text), ('generated', a.attgenerated::text),"
	"   ('storage', a.attstorage::text), ('compression', %s), ('statistics', a.attstattarget::text),"
	"   ('options', (SELECT pg_catalog.string_agg(o, ',') FROM pg_catalog.unnest(a.attoptions) o"
	"     WHERE pg_catalog.left(o, 3) OPERATOR(pg_catalog.<>) 'pg_')), ('privileges', a.attacl::text),"
	"   ('identity sequence', (SELECT ps.seqtypid::pg_catalog.regtype::text || ' ' || ps.seqstart || ' '"
	"     || ps.seqincrement || ' ' || ps.seqmin || ' ' || ps.seqmax || ' ' || ps.seqcache || ' ' || ps.seqcycle"
	"     FROM pg_catalog.pg_depend dep JOIN pg_catalog.pg_sequence ps ON ps.seqrelid OPERATOR(pg_catalog.=) dep.objid"
	"     WHERE dep.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
	"     AND dep.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
	"     AND dep.refobjid OPERATOR(pg_catalog.=) a.attrelid AND dep.refobjsubid OPERATOR(pg_catalog.=) a.attnum"
	"     AND dep.deptype OPERATOR(pg_catalog.=) 'i'))) AS x(k, v)"
	"  WHERE NOT a.attisdropped OR x.k OPERATOR(pg_catalog.=) 'dropped'"
	" UNION ALL SELECT 'constraint:' || co.conname::text, co.contype::text || ' ' || pg_catalog.pg_get_constraintdef(co.oid)"
	"   || ' valid=' || co.convalidated::text FROM r JOIN pg_catalog.pg_constraint co"
	"   ON co.conrelid OPERATOR(pg_catalog.=) r.oid"
	" UNION ALL SELECT 'index:' || ic.relname::text, pg_catalog.pg_get_indexdef(i.indexrelid)"
	"   || ' clustered=' || i.indisclustered::text || ' replica identity=' || i.indisreplident::text"
	"   || ' tablespace=' || ic.reltablespace::text"
	"  FROM r JOIN pg_catalog.pg_index i ON i.indrelid OPERATOR(pg_catalog.=) r.oid"
	"  JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid"
	") s ORDER BY k COLLATE \"C\"";

typedef struct Snapshot
{
	char **keys;
	char **values;
	int	   n;
} Snapshot;

static void
snapshot_free(Snapshot *s)
{
	for (int i = 0; i < s->n; i++)
	{
		free(s->keys[i]);
		free(s->values[i]);
	}
	free(s->keys);
	free(s->values);
	memset(s, 0, sizeof(*s));
}

static bool
snapshot_read(Conn *c, unsigned int oid, Snapshot *s)
{
	char	 *spec = pgr_psprintf(snapshot_sql, conn_versioned(c, compression_sql));
	PGresult *res = conn_queryf(c, spec, oid);

	free(spec);
	memset(s, 0, sizeof(*s));
	if (res == NULL)
		return false;
	s->n = PQntuples(res);
	s->keys = pgr_calloc((size_t) s->n + 1, sizeof(char *));
	s->values = pgr_calloc((size_t) s->n + 1, sizeof(char *));
	for (int i = 0; i < s->n; i++)
	{
		s->keys[i] = res_text(res, i, 0);
		s->values[i] = res_text(res, i, 1);
	}
	PQclear(res);
	return true;
}

static bool
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* The differences from a to b (both sorted by key, byte order). */
static void
snapshot_diff(const Snapshot *a, const Snapshot *b, AlterDiff **out, int *nout)
{
	int		   i = 0;
	int		   j = 0;
	int		   n = 0;
	AlterDiff *d = pgr_calloc((size_t) (a->n + b->n) + 1, sizeof(AlterDiff));

	while (i < a->n || j < b->n)
	{
		int cmp = i >= a->n ? 1 : j >= b->n ? -1
											: strcmp(a->keys[i], b->keys[j]);

		if (cmp == 0)
		{
			if (!same_text(a->values[i], b->values[j]))
			{
				d[n].key = pgr_strdup(a->keys[i]);
				d[n].before = a->values[i] ? pgr_strdup(a->values[i]) : NULL;
				d[n].after = b->values[j] ? pgr_strdup(b->values[j]) : NULL;
				n++;
			}
			i++, j++;
		}
		else if (cmp < 0)
		{
			d[n].key = pgr_strdup(a->keys[i]);
			d[n].before = a->values[i] ? pgr_strdup(a->values[i]) : pgr_strdup("");
			n++;
			i++;
		}
		else
		{
			d[n].key = pgr_strdup(b->keys[j]);
			d[n].after = b->values[j] ? pgr_strdup(b->values[j]) : pgr_strdup("");
			n++;
			j++;
		}
	}
	*out = d;
	*nout = n;
}

static void
diffs_free(AlterDiff *d, int n)
{
	for (int i = 0; i < n; i++)
	{
		free(d[i].key);
		free(d[i].before);
		free(d[i].after);
	}
	free(d);
}

/* ------------------------------------------------------------------------
 * Classification (pure)
 * ------------------------------------------------------------------------ */

/* "col:00002:type" -> attnum 2, *what "type"; false for another key. */
static bool
column_key(const char *key, int *attnum, const char **what)
{
	if (strncmp(key, "col:", 4) != 0 || strlen(key) < 11 || key[9] != ':')
		return false;
	*attnum = atoi(key + 4);
	*what = key + 10;
	return true;
}

static const ColumnDesc *
column_by_attnum(const TableDesc *t, int attnum)
{
	for (int i = 0; i < t->ncolumns; i++)
		if (t->columns[i].attnum == attnum)
			return &t->columns[i];
	return NULL;
}

/* The value of key in the differences, before (or after) the subcommand. */
static const AlterDiff *
find_diff(const AlterDiff *d, int nd, const char *key)
{
	for (int i = 0; i < nd; i++)
		if (strcmp(d[i].key, key) == 0)
			return &d[i];
	return NULL;
}

/* The name of the table's index that the copy's index name stands for. */
static char *
source_index_name(const TableDesc *t, const char *copy_name)
{
	for (int i = 0; i < t->nindexes; i++)
	{
		char *tmp = plan_temp_index_name(t->indexes[i].oid);
		bool  same = strcmp(tmp, copy_name) == 0;

		free(tmp);
		if (same)
			return ident_quote(t->indexes[i].name);
	}
	return ident_quote(copy_name);
}

/* Words for a difference that is not a supported change. */
static char *
unsupported_words(const TableDesc *t, const AlterDiff *x, const char *colname)
{
	const char *key = x->key;
	int			attnum;
	const char *what;

	if (column_key(key, &attnum, &what))
	{
		char *q = ident_quote(colname ? colname : "?");
		char *s;

		if (x->before == NULL && strcmp(what, "dropped") == 0)
			s = pgr_psprintf("it adds a column (%s)", q);
		else if (strcmp(what, "name") == 0)
			s = pgr_psprintf("it renames column %s to \"%s\"", q, x->after ? x->after : "");
		else if (strcmp(what, "not null") == 0)
			s = pgr_psprintf("it drops NOT NULL from column %s", q);
		else if (strcmp(what, "generated") == 0 || strcmp(what, "identity") == 0 ||
				 strcmp(what, "identity sequence") == 0)
			s = pgr_psprintf("it changes the identity or generation of column %s", q);
		else if (strcmp(what, "default") == 0)
			s = pgr_psprintf("it changes the generation expression of column %s", q);
		else
			s = pgr_psprintf("it changes the %s of column %s", what, q);
		free(q);
		return s;
	}
	if (strncmp(key, "constraint:", 11) == 0)
	{
		char *q = ident_quote(key + 11);
		char *s;

		if (x->before == NULL)
			s = pgr_psprintf("it adds constraint %s, which is not a CHECK constraint", q);
		else if (x->after == NULL)
			s = pgr_psprintf("it drops constraint %s", q);
		else
			s = pgr_psprintf("it changes constraint %s (%s)", q, x->after);
		free(q);
		return s;
	}
	if (strncmp(key, "index:", 6) == 0)
	{
		char *q = source_index_name(t, key + 6);
		char *s;

		if (x->before == NULL)
			s = pgr_psprintf("it adds an index (%s)", x->after);
		else if (x->after == NULL)
			s = pgr_psprintf("it drops index %s", q);
		else
			s = pgr_psprintf("it changes index %s (CLUSTER, REPLICA IDENTITY)", q);
		free(q);
		return s;
	}
	if (strcmp(key, "rel:name") == 0)
		return pgr_strdup("it renames the table");
	if (strcmp(key, "rel:schema") == 0)
		return pgr_strdup("it moves the table to another schema");
	if (strcmp(key, "rel:persistence") == 0)
		return pgr_strdup("it changes LOGGED / UNLOGGED");
	if (strcmp(key, "rel:inherits") == 0)
		return pgr_strdup("it changes the table's inheritance");
	if (strcmp(key, "rel:triggers") == 0)
		return pgr_strdup("it adds or changes triggers (a foreign key has them)");
	if (strcmp(key, "rel:type") == 0)
		return pgr_strdup("it changes OF / NOT OF");
	return pgr_psprintf("it changes the table's %s", key + 4);
}

/* Appends "<what>: <before> -> <after>" to the effect. */
static void
append_change(StrBuf *eff, const char *what, const char *col_q, const char *before, const char *after)
{
	sb_appendf(eff, "%s%s%s%s: %s -> %s", eff->len ? "; " : "", what, col_q ? " of " : "", col_q ? col_q : "",
			   before && *before ? before : "(none)", after && *after ? after : "(none)");
}

/*
 * PostgreSQL 18 records NOT NULL as a constraint.  ADD CONSTRAINT name NOT
 * NULL gives it a name, which the rebuilt table keeps; SET NOT NULL lets
 * the server name it after the copy (its name, the column, "not_null" and
 * maybe a number), and preflight names it after the table instead.
 */
static void
keep_given_not_null_name(const TableDesc *t, const char *conname, int attnum, ChangeSet *cs, const char *label)
{
	const ColumnDesc *col = column_by_attnum(t, attnum);
	char			 *copy = object_name(OBJ_SHADOW, t->oid);
	char			 *chosen = col ? ident_object_name(copy, col->name, "not_null") : NULL;
	size_t			  n = chosen ? strlen(chosen) : 0;

	if (chosen && (strncmp(conname, chosen, n) != 0 || strspn(conname + n, "0123456789") != strlen(conname + n)))
	{
		ColumnChange *cc = changes_column(cs, col->name, label);

		free(cc->not_null_name);
		cc->not_null_name = pgr_strdup(conname);
	}
	free(chosen);
	free(copy);
}

bool
alter_classify(const TableDesc *t, const AlterDiff *d, int nd, const char *using_expr, const char *label,
			   ChangeSet *cs, char **effect, char **error)
{
	StrBuf eff;
	bool   typed = false;
	bool   dropped = false;
	bool   not_null = false;
	int	   not_null_attnum = 0;

	*effect = NULL;
	*error = NULL;
	sb_init(&eff);
	/* first what the subcommand is: a type change or a drop explains the rest */
	for (int i = 0; i < nd; i++)
	{
		int			attnum;
		const char *what;

		if (!column_key(d[i].key, &attnum, &what))
			continue;
		if (strcmp(what, "type") == 0 || (strcmp(what, "collation") == 0 && d[i].before && d[i].after))
			typed = true;
		else if (strcmp(what, "dropped") == 0 && d[i].before && d[i].after && strcmp(d[i].after, "true") == 0)
			dropped = true;
		else if (strcmp(what, "not null") == 0 && d[i].after && strcmp(d[i].after, "true") == 0)
		{
			not_null = true;
			not_null_attnum = attnum;
		}
	}
	/* a column that was not there: ADD COLUMN (its "dropped" entry is new) */
	for (int i = 0; i < nd; i++)
	{
		int			attnum;
		const char *what;

		if (column_key(d[i].key, &attnum, &what) && strcmp(what, "dropped") == 0 && d[i].before == NULL)
		{
			char			 key[32];
			const AlterDiff *n;

			snprintf(key, sizeof(key), "col:%05d:name", attnum);
			n = find_diff(d, nd, key);
			*error = unsupported_words(t, &d[i], n && n->after ? n->after : "?");
			sb_free(&eff);
			return false;
		}
	}
	if (using_expr && !typed)
	{
		*error = pgr_strdup("its USING clause changes the data but not the column's type: pg_rebuild changes "
							"the schema; change data with an UPDATE");
		sb_free(&eff);
		return false;
	}
	for (int i = 0; i < nd; i++)
	{
		const AlterDiff	 *x = &d[i];
		int				  attnum;
		const char		 *what;
		const ColumnDesc *col = NULL;
		const char		 *colname = NULL;
		ColumnChange	 *cc;
		char			 *q = NULL;

		if (column_key(x->key, &attnum, &what))
		{
			const AlterDiff *n;
			char			 key[32];

			col = column_by_attnum(t, attnum);
			snprintf(key, sizeof(key), "col:%05d:name", attnum);
			n = find_diff(d, nd, key);
			colname = col ? col->name : n && n->after ? n->after
													  : NULL;
			q = ident_quote(colname ? colname : "?");
		}
		if (col && strcmp(what, "dropped") == 0 && x->after && strcmp(x->after, "true") == 0)
		{
			cc = changes_column(cs, col->name, label);
			cc->drop = true;
			sb_appendf(&eff, "%sdrops column %s", eff.len ? "; " : "", q);
			cs->alter_other = true;
		}
		else if (col && dropped && x->after == NULL)
			; /* the dropped column's attributes */
		else if (col && strcmp(what, "type") == 0)
		{
			cc = changes_column(cs, col->name, label);
			if (cc->new_type || cc->drop)
			{
				*error = pgr_psprintf("column %s is changed by another subcommand too", q);
				free(q);
				sb_free(&eff);
				return false;
			}
			cc->new_type = pgr_strdup(x->after);
			cc->retyped = true;
			cc->using_expr = using_expr ? pgr_strdup(using_expr) : NULL;
			sb_appendf(&eff, "%stype of %s: %s -> %s%s", eff.len ? "; " : "", q, x->before, x->after,
					   using_expr ? ", computed by the USING expression" : "");
			cs->alter_other = true;
		}
		else if (col && typed && strcmp(what, "collation") == 0)
		{
			cc = changes_column(cs, col->name, label);
			cc->retyped = true;
			if (x->after) /* not when the new type has no collation */
				append_change(&eff, what, q, x->before, x->after);
			cs->alter_other = true;
		}
		else if (col && typed && (strcmp(what, "storage") == 0 || strcmp(what, "default") == 0 || strcmp(what, "identity sequence") == 0))
			; /* what a type change does to the column */
		else if (col && strcmp(what, "not null") == 0 && x->after && strcmp(x->after, "true") == 0)
		{
			cc = changes_column(cs, col->name, label);
			cc->set_not_null = true;
			sb_appendf(&eff, "%s%s becomes NOT NULL", eff.len ? "; " : "", q);
		}
		else if (col && ((strcmp(what, "default") == 0 && !col->generated) || strcmp(what, "storage") == 0 || strcmp(what, "compression") == 0))
		{
			append_change(&eff, what, q, x->before, x->after);
			cs->alter_other = true;
		}
		else if (strcmp(x->key, "rel:storage parameters") == 0 || strcmp(x->key, "rel:toast storage parameters") == 0 ||
				 strcmp(x->key, "rel:tablespace") == 0)
		{
			append_change(&eff, x->key + 4, NULL, x->before, x->after);
			cs->alter_other = true;
		}
		else if (strncmp(x->key, "constraint:", 11) == 0 && x->before == NULL && x->after &&
				 strncmp(x->after, "c ", 2) == 0)
		{
			char	   *cq = ident_quote(x->key + 11);
			const char *v = strstr(x->after, " valid=");

			/* "c CHECK (...) [NOT VALID] valid=...": the definition */
			sb_appendf(&eff, "%sadds constraint %s %.*s", eff.len ? "; " : "", cq,
					   (int) (v ? (size_t) (v - x->after - 2) : strlen(x->after + 2)), x->after + 2);
			cs->alter_other = true;
			free(cq);
		}
		else if (strncmp(x->key, "constraint:", 11) == 0 && x->before == NULL && x->after &&
				 strncmp(x->after, "n ", 2) == 0 && not_null && strstr(x->after, " valid=false") == NULL)
			keep_given_not_null_name(t, x->key + 11, not_null_attnum, cs, label);
		else if (strncmp(x->key, "constraint:", 11) == 0 && dropped && x->after == NULL && x->before &&
				 strncmp(x->before, "n ", 2) == 0)
			; /* PostgreSQL 18: the dropped column's NOT NULL constraint */
		else if ((strncmp(x->key, "constraint:", 11) == 0 || strncmp(x->key, "index:", 6) == 0) &&
				 x->before && x->after && typed)
			; /* re-made by the type change */
		else
		{
			char *words = unsupported_words(t, x, colname);

			if (dropped && x->after == NULL &&
				(strncmp(x->key, "index:", 6) == 0 || strncmp(x->key, "constraint:", 11) == 0))
				*error = pgr_psprintf("%s along with the column: drop it first if that is meant", words);
			else
				*error = words, words = NULL;
			free(words);
			free(q);
			sb_free(&eff);
			return false;
		}
		free(q);
	}
	if (eff.len == 0)
		sb_append(&eff, "changes nothing");
	*effect = sb_steal(&eff);
	return true;
}

/* ------------------------------------------------------------------------
 * On the server
 * ------------------------------------------------------------------------ */

static void
supported_hint(void)
{
	log_hint("Supported: ALTER COLUMN c TYPE t [USING e], SET NOT NULL, SET DEFAULT, DROP DEFAULT, SET STORAGE, "
			 "SET COMPRESSION; ADD CONSTRAINT ... CHECK (...); DROP COLUMN c; SET (...) / RESET (...); "
			 "SET TABLESPACE. Do anything else with ALTER TABLE before or after the rebuild.");
}

static bool
rollback_false(Conn *c)
{
	/* the whole preflight transaction: a refusal ends the preflight */
	conn_best_effort(c, "ROLLBACK");
	return false;
}

/* Creates the empty copy under the shadow's name; its OID in *oid. */
static bool
make_copy(Conn *c, const PlanInput *base, unsigned int *oid)
{
	PlanInput in = *base;
	Plan	  p;
	char	 *err = NULL;
	bool	  ok = true;
	PGresult *res;

	in.changes = NULL;
	in.throwaway = true;
	if (!plan_build(&in, &p, &err))
	{
		log_error("cannot make an empty copy of %s to try --alter on: %s", base->table->qname, err);
		free(err);
		return false;
	}
	for (int i = 0; ok && i < p.shadow.n; i++)
		ok = conn_command(c, p.shadow.items[i].sql);
	for (int i = 0; ok && i < p.indexes.n; i++)
		ok = conn_command(c, p.indexes.items[i].sql);
	for (int i = 0; ok && i < p.constraints.n; i++)
		ok = conn_command(c, p.constraints.items[i].sql);
	res = ok ? conn_queryf(c, "SELECT pg_catalog.to_regclass(%text)::pg_catalog.oid", p.shadow_q) : NULL;
	if (res)
		*oid = res_oid(res, 0, 0);
	else
		conn_report(c, "could not make an empty copy of the table to try --alter on");
	PQclear(res);
	plan_free(&p);
	return res != NULL;
}

/* ALTER TABLE <copy> <text>, as one statement (the extended protocol allows no second one). */
static bool
apply_text(Conn *c, const char *copy_q, const char *text)
{
	char *sql = pgr_psprintf("ALTER TABLE %s %s", copy_q, text);
	bool  ok = conn_command_params(c, sql, 0, NULL, NULL);

	free(sql);
	return ok;
}

/* The USING expression of a subcommand, verbatim, or NULL. */
static char *
using_expression(const char *piece)
{
	int			at = sqllex_find_keyword(piece, "USING");
	const char *e;

	if (at < 0)
		return NULL;
	e = piece + at + 5;
	while (*e == ' ' || *e == '\t' || *e == '\n' || *e == '\r')
		e++;
	return pgr_strdup(e);
}

static void
add_piece(ChangeSet *cs, const char *text, char *effect)
{
	cs->pieces = pgr_realloc(cs->pieces, sizeof(AlterPiece) * (size_t) (cs->npieces + 1));
	cs->pieces[cs->npieces].text = pgr_strdup(text);
	cs->pieces[cs->npieces].effect = effect;
	cs->npieces++;
}

/*
 * One --alter text: applied whole (the server's verdict on it), rolled back,
 * then piece by piece, each compared with the state before it; the end
 * state must be the same as the whole text's.
 */
static bool
resolve_text(Conn *c, const TableDesc *t, const char *copy_q, unsigned int oid, const char *text,
			 ChangeSet *cs)
{
	StrVec	 pieces;
	char	*err = NULL;
	Snapshot whole;
	Snapshot prev;
	bool	 ok = false;
	char	*tq = ident_literal(text);

	sv_init(&pieces);
	memset(&prev, 0, sizeof(prev));
	memset(&whole, 0, sizeof(whole));
	if (!sqllex_split(text, &pieces, &err))
	{
		log_error("--alter %s cannot be read: %s", tq, err);
		log_detail("Nothing was changed.");
		supported_hint();
		goto done;
	}
	if (!conn_command(c, "SAVEPOINT pgr_alter"))
		goto server_error;
	if (!apply_text(c, copy_q, text))
	{
		log_error_code(c->sqlstate, "the server refused --alter %s: %s", tq, c->message ? c->message : "");
		if (c->detail)
			log_detail("%s", c->detail);
		log_detail("It was tried on an empty copy of %s (same columns, CHECK constraints and indexes, the indexes "
				   "under temporary names) with search_path = pg_catalog.",
				   t->qname);
		log_detail("Nothing was changed.");
		log_hint("Qualify the names of types and functions with their schema (public.mytype).");
		goto done;
	}
	if (!snapshot_read(c, oid, &whole) || !conn_command(c, "ROLLBACK TO SAVEPOINT pgr_alter") ||
		!snapshot_read(c, oid, &prev))
		goto server_error;
	for (size_t i = 0; i < pieces.n; i++)
	{
		const char *piece = pieces.items[i];
		char	   *label = pgr_psprintf("--alter '%s'", piece);
		char	   *pq = ident_literal(piece);
		Snapshot	now;
		AlterDiff  *d;
		int			nd;
		char	   *effect;
		char	   *error;
		char	   *using_expr = NULL;

		if (!apply_text(c, copy_q, piece))
		{
			log_error_code(c->sqlstate, "the subcommand %s of --alter %s fails on its own: %s", pq, tq, c->message ? c->message : "");
			log_detail("pg_rebuild splits --alter at its top-level commas to tell what each subcommand does; "
					   "the text as a whole is accepted.");
			log_detail("Nothing was changed.");
			log_hint("Give each subcommand its own --alter.");
			free(label);
			free(pq);
			goto done;
		}
		if (!snapshot_read(c, oid, &now))
		{
			free(label);
			free(pq);
			goto server_error;
		}
		snapshot_diff(&prev, &now, &d, &nd);
		using_expr = using_expression(piece);
		if (!alter_classify(t, d, nd, using_expr, label, cs, &effect, &error))
		{
			log_error("--alter subcommand %s is not supported: %s", pq, error);
			log_detail("Nothing was changed.");
			supported_hint();
			free(error);
			diffs_free(d, nd);
			snapshot_free(&now);
			free(using_expr);
			free(label);
			free(pq);
			goto done;
		}
		if (strcmp(effect, "changes nothing") == 0)
			log_warning("--alter subcommand %s changes nothing on %s", pq, t->qname);
		add_piece(cs, piece, effect);
		diffs_free(d, nd);
		free(using_expr);
		free(label);
		free(pq);
		snapshot_free(&prev);
		prev = now;
	}
	{
		AlterDiff *d;
		int		   nd;

		snapshot_diff(&whole, &prev, &d, &nd);
		diffs_free(d, nd);
		if (nd > 0)
		{
			log_error("--alter %s does not do the same as its subcommands one after the other", tq);
			log_detail("pg_rebuild splits --alter at its top-level commas to tell what each subcommand does.");
			log_detail("Nothing was changed.");
			log_hint("Give each subcommand its own --alter.");
			goto done;
		}
	}
	ok = true;
	goto done;
server_error:
	conn_report(c, "could not try --alter on an empty copy of the table");
done:
	snapshot_free(&prev);
	snapshot_free(&whole);
	sv_free(&pieces);
	free(err);
	free(tq);
	return ok;
}

/*
 * A dropped column must not be used by anything but its own default and
 * sequence: views, index expressions, policies, publication column lists,
 * statistics, triggers, constraints, generated columns are named.
 */
static bool
check_dropped_columns(Conn *c, const TableDesc *t, const ChangeSet *cs)
{
	StrBuf	  attnums;
	PGresult *res;
	bool	  ok;

	sb_init(&attnums);
	for (int i = 0; i < cs->ncolumns; i++)
	{
		const ColumnDesc *col = cs->columns[i].drop ? catalog_find_column(t, cs->columns[i].column) : NULL;

		if (col)
			sb_appendf(&attnums, "%s%d", attnums.len ? "," : "{", col->attnum);
	}
	if (attnums.len == 0)
	{
		sb_free(&attnums);
		return true;
	}
	sb_append(&attnums, "}");
	res = conn_queryf(c,
					  "SELECT DISTINCT a.attname::text, pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) "
					  "FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_attribute a "
					  "  ON a.attrelid OPERATOR(pg_catalog.=) d.refobjid AND a.attnum OPERATOR(pg_catalog.=) d.refobjsubid "
					  "WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
					  "AND d.refobjid OPERATOR(pg_catalog.=) %oid "
					  "AND d.refobjsubid OPERATOR(pg_catalog.=) ANY (%text::pg_catalog.int2[]) "
					  "AND NOT (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_attrdef'::pg_catalog.regclass "
					  "  AND EXISTS (SELECT FROM pg_catalog.pg_attrdef ad WHERE ad.oid OPERATOR(pg_catalog.=) d.objid "
					  "  AND ad.adnum OPERATOR(pg_catalog.=) d.refobjsubid)) "
					  "AND NOT (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
					  "  AND EXISTS (SELECT FROM pg_catalog.pg_class s WHERE s.oid OPERATOR(pg_catalog.=) d.objid "
					  "  AND s.relkind OPERATOR(pg_catalog.=) 'S')) "
					  "ORDER BY 1, 2",
					  t->oid, attnums.data);
	sb_free(&attnums);
	if (res == NULL)
	{
		conn_report(c, "could not read what uses the columns to drop");
		return false;
	}
	ok = PQntuples(res) == 0;
	if (!ok)
	{
		log_error("%s cannot be rebuilt with --alter: %d object%s use%s a column it drops", t->qname,
				  PQntuples(res), PQntuples(res) > 1 ? "s" : "", PQntuples(res) > 1 ? "" : "s");
		for (int i = 0; i < PQntuples(res); i++)
		{
			char *col = res_text(res, i, 0);
			char *obj = res_text(res, i, 1);
			char *q = ident_quote(col);

			log_detail("column %s is used by %s", q, obj);
			free(col);
			free(obj);
			free(q);
		}
		log_detail("Nothing was changed.");
		log_hint("Drop or change those first (a view, an index, a policy, a publication's column list, ...), "
				 "then run again.");
	}
	PQclear(res);
	return ok;
}

bool
alter_resolve(Conn *c, const TableDesc *t, const PlanInput *base, ChangeSet *cs)
{
	unsigned int oid = 0;
	char		*copy_name;
	char		*copy_q;
	bool		 ok;

	if (cs == NULL || cs->alter.n == 0)
		return true;
	/* inside preflight's transaction: undone by alter_check_plan (or by its ROLLBACK) */
	if (!conn_commandv(c, "SAVEPOINT pgr_alter_trial; SET LOCAL lock_timeout = '%dms'", base->lock_timeout_ms))
	{
		conn_report(c, "could not start trying --alter");
		return rollback_false(c);
	}
	if (!make_copy(c, base, &oid))
		return rollback_false(c);
	copy_name = plan_shadow_name(t->oid);
	copy_q = ident_quote_qualified(t->schema, copy_name);
	ok = true;
	for (size_t i = 0; ok && i < cs->alter.n; i++)
		ok = resolve_text(c, t, copy_q, oid, cs->alter.items[i], cs);
	free(copy_name);
	free(copy_q);
	if (!ok || !check_dropped_columns(c, t, cs))
		return rollback_false(c);
	cs->target = pgr_calloc(1, sizeof(TableDesc));
	if (!catalog_read_table(c, oid, cs->target))
	{
		conn_report(c, "could not read the changed copy of the table");
		return rollback_false(c);
	}
	return true;
}

/*
 * def with every whole occurrence of the qualified name from replaced by
 * to.  Only for the trial of a view on the changed copy: the swap runs the
 * view's own text against the renamed table.
 */
static char *
replace_name(const char *def, const char *from, const char *to)
{
	StrBuf		sb;
	size_t		n = strlen(from);
	const char *p = def;

	sb_init(&sb);
	while (*p)
	{
		const char	 *hit = strstr(p, from);
		unsigned char before = hit && hit > def ? (unsigned char) hit[-1] : ' ';
		unsigned char after = hit ? (unsigned char) hit[n] : ' ';

		if (hit == NULL)
		{
			sb_append(&sb, p);
			break;
		}
		sb_append_n(&sb, p, (size_t) (hit - p));
		if (strchr("_$\".", before) || isalnum(before) || before >= 0x80 || after == '_' || after == '$' ||
			after == '"' || isalnum(after) || after >= 0x80)
			sb_append_n(&sb, hit, n);
		else
			sb_append(&sb, to);
		p = hit + n;
	}
	return sb_steal(&sb);
}

/* pg_temp and the bare name of a qualified name as the deparser prints it ("public.v" -> "pg_temp.v"). */
static char *
temp_name(const char *qname)
{
	const char *dot = strchr(qname, '.');

	/* a quoted schema name may hold a dot: the name part is what follows the last quote-free dot */
	if (qname[0] == '"')
	{
		const char *p = qname + 1;

		while (*p && !(p[0] == '"' && p[1] != '"'))
			p += (p[0] == '"') ? 2 : 1;
		dot = *p ? p + 1 : NULL;
	}
	return pgr_psprintf("pg_temp.%s", dot ? dot + 1 : qname);
}

/*
 * The views the swap makes again, tried in order on the changed copy: a
 * temporary table named like the table (so the view's text, whose columns
 * are qualified by the table's bare name, reads it unchanged but for the
 * schema) and temporary views named like the views.
 */
static bool
check_views(Conn *c, const PlanInput *in, const Dependents *deps, const Plan *p)
{
	bool  *recreate = pgr_calloc((size_t) deps->n + 1, sizeof(bool));
	StrVec from;
	StrVec to;
	bool   ok = true;
	bool   any = false;

	sv_init(&from);
	sv_init(&to);
	plan_views_to_recreate(in, deps, recreate);
	for (int i = 0; i < deps->n; i++)
		any = any || recreate[i];
	if (any)
	{
		char *tmp = temp_name(in->table->qname_deparsed);

		sv_push(&from, in->table->qname_deparsed);
		sv_push_owned(&to, tmp);
		ok = conn_commandv(c, "SET LOCAL client_min_messages = warning; CREATE TEMPORARY TABLE %s (LIKE %s)", tmp,
						   p->shadow_q);
		if (!ok)
			conn_report(c, "could not make a temporary copy of the changed table to try its views on");
	}
	for (int i = 0; ok && i < deps->n; i++)
	{
		const DepObject *o = &deps->items[i];
		char			*def;
		char			*q;
		char			*sql;

		if (!recreate[i])
			continue;
		def = pgr_strdup(o->def);
		for (size_t k = 0; k < from.n; k++)
		{
			char *next = replace_name(def, from.items[k], to.items[k]);

			free(def);
			def = next;
		}
		q = temp_name(o->qname);
		sql = pgr_psprintf("CREATE VIEW %s%s%s%s AS %s", q, o->view_options ? " WITH (" : "", o->view_options ? o->view_options : "",
						   o->view_options ? ")" : "", def);
		if (!conn_command(c, sql))
		{
			log_error_code(c->sqlstate, "view %s reads a column whose type changes, and cannot be created again on the new "
										"types: %s",
						   o->qname, c->message ? c->message : "");
			log_detail("The swap drops and creates such views again (CREATE OR REPLACE VIEW cannot change a "
					   "column's type); this was tried on an empty copy of the table with the changes.");
			log_detail("Nothing was changed.");
			log_hint("Change or drop the view first (or change the column with its view in a maintenance "
					 "window).");
			ok = false;
		}
		sv_push(&from, o->qname);
		sv_push_owned(&to, q);
		free(sql);
		free(def);
	}
	free(recreate);
	sv_free(&from);
	sv_free(&to);
	return ok;
}

/*
 * Foreign keys of other tables on a column whose type changes: said, and
 * tried against the changed copy (PostgreSQL accepts an integer column
 * referencing a bigint key, not every pair of types).
 */
static bool
check_foreign_keys(Conn *c, const PlanInput *in, const Plan *p)
{
	StrBuf			 attnums;
	PGresult		*res;
	bool			 ok = true;
	const ChangeSet *cs = in->changes;

	sb_init(&attnums);
	for (int i = 0; i < cs->ncolumns; i++)
	{
		const ColumnDesc *col = catalog_find_column(in->table, cs->columns[i].column);

		if (col && cs->columns[i].retyped)
			sb_appendf(&attnums, "%s%d", attnums.len ? "," : "{", col->attnum);
	}
	if (attnums.len == 0)
	{
		sb_free(&attnums);
		return true;
	}
	sb_append(&attnums, "}");
	res = conn_queryf(c,
					  "SELECT co.oid, co.conname::text, co.conrelid::pg_catalog.regclass::text, "
					  "(SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname) || ' ' "
					  "   || pg_catalog.format_type(a.atttypid, a.atttypmod), ', ' ORDER BY k.i) "
					  "   FROM pg_catalog.unnest(co.conkey) WITH ORDINALITY AS k(n, i) "
					  "   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) co.conrelid "
					  "   AND a.attnum OPERATOR(pg_catalog.=) k.n), "
					  "(SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.i) "
					  "   FROM pg_catalog.unnest(co.conkey) WITH ORDINALITY AS k(n, i) "
					  "   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) co.conrelid "
					  "   AND a.attnum OPERATOR(pg_catalog.=) k.n), "
					  "(SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.i) "
					  "   FROM pg_catalog.unnest(co.confkey) WITH ORDINALITY AS k(n, i) "
					  "   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) co.confrelid "
					  "   AND a.attnum OPERATOR(pg_catalog.=) k.n) "
					  "FROM pg_catalog.pg_constraint co WHERE co.contype OPERATOR(pg_catalog.=) 'f' "
					  "AND co.confrelid OPERATOR(pg_catalog.=) %oid "
					  "AND co.confkey OPERATOR(pg_catalog.&&) %text::pg_catalog.int2[] ORDER BY 2",
					  in->table->oid, attnums.data);
	sb_free(&attnums);
	if (res == NULL)
	{
		conn_report(c, "could not read the foreign keys on the changed columns");
		return false;
	}
	for (int i = 0; ok && i < PQntuples(res); i++)
	{
		char *name = res_text(res, i, 1);
		char *rel = res_text(res, i, 2);
		char *cols = res_text(res, i, 3);
		char *fk = res_text(res, i, 4);
		char *pk = res_text(res, i, 5);
		char *tmp = pgr_psprintf("pgrebuild_fk%u", res_oid(res, i, 0));
		char *tmp_q = ident_quote_qualified(in->table->schema, tmp);
		char *nq = ident_quote(name);
		char *sql = pgr_psprintf("CREATE TABLE %s (%s, FOREIGN KEY (%s) REFERENCES %s (%s))", tmp_q, cols, fk,
								 p->shadow_q, pk);

		if (conn_command(c, sql))
			log_info("foreign key %s of %s references a column whose type changes: it goes on working "
					 "(re-added NOT VALID in the swap, validated after it)",
					 nq, rel);
		else
		{
			log_error_code(c->sqlstate, "foreign key %s of %s references a column whose type changes, and cannot reference the "
										"new type: %s",
						   nq, rel, c->message ? c->message : "");
			log_detail("This was tried on an empty copy of the table with the changes.");
			log_detail("Nothing was changed.");
			log_hint("Change the type of the referencing column first.");
			ok = false;
		}
		free(sql);
		free(nq);
		free(tmp);
		free(tmp_q);
		free(name);
		free(rel);
		free(cols);
		free(fk);
		free(pk);
	}
	PQclear(res);
	return ok;
}

bool
alter_check_plan(Conn *c, const PlanInput *in, const Dependents *deps, const Plan *p)
{
	const TableDesc *t = in->table;
	char			*sql;
	PGresult		*res;

	if (in->changes == NULL || in->changes->alter.n == 0)
		return true;
	/* the copy into the changed copy of the table: every expression, every assignment cast */
	sql = pgr_psprintf("EXPLAIN (COSTS OFF) %s", p->copy_sql);
	res = conn_query(c, sql);
	free(sql);
	if (res == NULL)
	{
		log_error_code(c->sqlstate, "the changes of --alter cannot be applied to the rows of %s: %s", t->qname,
					   c->message ? c->message : "");
		if (c->detail)
			log_detail("%s", c->detail);
		log_detail("The copy's statement was planned against an empty copy of the table with the changes: %s",
				   p->copy_sql);
		log_detail("Nothing was changed.");
		log_hint("A USING expression refers to the table's columns as they are now (qualify them with the "
				 "table's name, not with an alias), and to functions and types by their schema.");
		return rollback_false(c);
	}
	PQclear(res);
	if (p->replay_key_check)
	{
		res = conn_query(c, p->replay_key_check);
		if (res == NULL)
		{
			log_error_code(c->sqlstate, "the replay key of %s cannot be matched across its type change: %s", t->qname,
						   c->message ? c->message : "");
			log_detail("Captured changes are logged with the key's old type and matched with its new one.");
			log_detail("Nothing was changed.");
			log_hint("A USING expression on a key column may use only the key's columns.");
			return rollback_false(c);
		}
		PQclear(res);
	}
	if (!check_views(c, in, deps, p) || !check_foreign_keys(c, in, p))
		return rollback_false(c);
	if (!conn_command(c, "ROLLBACK TO SAVEPOINT pgr_alter_trial; RELEASE SAVEPOINT pgr_alter_trial"))
	{
		conn_report(c, "could not roll back the trial of --alter");
		return false;
	}
	return true;
}
