/* dependents.c: reading what the swap must carry over or rewire. */
#include "dependents.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "log.h"

/* Version-specific fragments (chosen by conn_versioned). */
static const VersionedSql sqlbody_sql[] = {
	{140000, "p.prosqlbody IS NOT NULL"},
	{0, "false"}
};

static const VersionedSql publication_sql[] = {
	{150000,
		"SELECT p.oid, p.pubname::text, pg_get_userbyid(p.pubowner)::text, pg_has_role(p.pubowner, 'MEMBER'), "
		"pg_get_expr(pr.prqual, pr.prrelid), "
		"(SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a "
		"  WHERE a.attrelid = pr.prrelid AND a.attnum = ANY (pr.prattrs)) "
		"FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid "
		"WHERE pr.prrelid = %oid ORDER BY p.pubname"},
	{0,
		"SELECT p.oid, p.pubname::text, pg_get_userbyid(p.pubowner)::text, pg_has_role(p.pubowner, 'MEMBER'), "
		"NULL::text, NULL::text "
		"FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid "
		"WHERE pr.prrelid = %oid ORDER BY p.pubname"}
};

static const VersionedSql stattarget_sql[] = {
	{130000, "coalesce(s.stxstattarget::int4, -1)"},
	{0, "-1"}
};

static DepObject *
add(Dependents *d, DepKind kind)
{
	DepObject  *o;

	d->items = pgr_realloc(d->items, sizeof(DepObject) * (size_t) (d->n + 1));
	o = &d->items[d->n++];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->can_own = true;
	o->stattarget = -1;
	return o;
}

#define TEXT_F(m) RES_TEXT(DepObject, m)
#define OID_F(m) RES_OID(DepObject, m)
#define BOOL_F(m) RES_BOOL(DepObject, m)
#define INT4_F(m) RES_INT4(DepObject, m)
#define CHAR_F(m) RES_CHAR(DepObject, m)
#define SKIP_F RES_SKIP
#define NFIELDS(f) RES_NFIELDS(f)

/* The kind of the object of a row, when the row says it (NULL: always the same). */
typedef DepKind (*KindOfRow) (const PGresult *res, int row);

/*
 * Adds one DepObject per row of res (of kind, or of kind_of's choice), its
 * fields read as fields says, and frees res.  Returns the index of the
 * first one added (d->n when none), or -1 when the query failed (res NULL).
 */
static int
add_rows(PGresult *res, Dependents *d, DepKind kind, KindOfRow kind_of, const ResField *fields, int nfields)
{
	int			first = d->n;

	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
		res_fill(res, i, add(d, kind_of ? kind_of(res, i) : kind), fields, nfields);
	PQclear(res);
	return first;
}

/*
 * The views that read the table, and the views on those, to any depth
 * (each once, at its greatest depth, so creation order is by depth).  For
 * each: its definition and options, the table's columns it reads, the views
 * of the chain it reads, and what re-creating it takes (grants, comments);
 * relkind_note says what would keep it from being dropped and re-created.
 */
static bool
read_views(Conn *c, const TableDesc *t, Dependents *d)
{
	PGresult   *res = conn_queryf(c,
								  "WITH RECURSIVE chain(oid, depth) AS ("
								  "  SELECT DISTINCT r.ev_class, 1 FROM pg_catalog.pg_depend dp "
								  "  JOIN pg_catalog.pg_rewrite r ON r.oid = dp.objid "
								  "  WHERE dp.classid = 'pg_catalog.pg_rewrite'::regclass "
								  "  AND dp.refclassid = 'pg_catalog.pg_class'::regclass AND dp.refobjid = %oid "
								  "  AND r.rulename = '_RETURN' AND r.ev_class <> %oid "
								  " UNION "
								  "  SELECT r.ev_class, ch.depth + 1 FROM chain ch JOIN pg_catalog.pg_depend dp "
								  "    ON dp.refclassid = 'pg_catalog.pg_class'::regclass AND dp.refobjid = ch.oid "
								  "  JOIN pg_catalog.pg_rewrite r ON r.oid = dp.objid "
								  "  WHERE dp.classid = 'pg_catalog.pg_rewrite'::regclass AND r.rulename = '_RETURN' "
								  "  AND r.ev_class <> ch.oid AND ch.depth < 100), "
								  " deepest AS (SELECT ch.oid, max(ch.depth) AS depth FROM chain ch GROUP BY ch.oid) "
								  "SELECT v.oid, v.relname::text, "
								  "quote_ident(vn.nspname) || '.' || quote_ident(v.relname), "
								  "pg_get_userbyid(v.relowner)::text, pg_has_role(v.relowner, 'MEMBER'), "
								  "pg_get_viewdef(v.oid), "
								  "(SELECT string_agg(quote_ident(o.option_name) || '=' || quote_literal(o.option_value), ', ' "
								  "   ORDER BY o.ord) FROM pg_catalog.pg_options_to_table(v.reloptions) "
								  "   WITH ORDINALITY o(option_name, option_value, ord)), "
								  "dd.depth, "
								  "(SELECT '{' || string_agg(DISTINCT dp.refobjsubid::text, ',') || '}' "
								  "   FROM pg_catalog.pg_depend dp JOIN pg_catalog.pg_rewrite r ON r.oid = dp.objid "
								  "   WHERE dp.classid = 'pg_catalog.pg_rewrite'::regclass AND r.ev_class = v.oid "
								  "   AND dp.refclassid = 'pg_catalog.pg_class'::regclass AND dp.refobjid = %oid "
								  "   AND dp.refobjsubid > 0), "
								  "(SELECT '{' || string_agg(DISTINCT dp.refobjid::text, ',') || '}' "
								  "   FROM pg_catalog.pg_depend dp JOIN pg_catalog.pg_rewrite r ON r.oid = dp.objid "
								  "   WHERE dp.classid = 'pg_catalog.pg_rewrite'::regclass AND r.ev_class = v.oid "
								  "   AND dp.refclassid = 'pg_catalog.pg_class'::regclass "
								  "   AND dp.refobjid IN (SELECT oid FROM deepest) AND dp.refobjid <> v.oid), "
								  "(SELECT string_agg('GRANT ' || g.privilege_type || g.col || ' ON TABLE ' "
								  "     || quote_ident(vn.nspname) || '.' || quote_ident(v.relname) || ' TO ' "
								  "     || CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(g.grantee)) END "
								  "     || CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END, '; ' "
								  "     ORDER BY g.col, g.grantee, g.privilege_type) "
								  "   FROM (SELECT a.grantee, a.privilege_type, a.is_grantable, ''::text AS col "
								  "         FROM pg_catalog.aclexplode(v.relacl) a WHERE a.grantee <> v.relowner "
								  "         UNION ALL SELECT a.grantee, a.privilege_type, a.is_grantable, "
								  "           ' (' || quote_ident(att.attname) || ')' "
								  "         FROM pg_catalog.pg_attribute att, pg_catalog.aclexplode(att.attacl) a "
								  "         WHERE att.attrelid = v.oid AND att.attnum > 0) g), "
								  "(SELECT string_agg(CASE WHEN ds.objsubid = 0 "
								  "     THEN 'COMMENT ON VIEW ' || quote_ident(vn.nspname) || '.' || quote_ident(v.relname) "
								  "       || ' IS ' || quote_literal(ds.description) "
								  "     ELSE 'COMMENT ON COLUMN ' || quote_ident(vn.nspname) || '.' || quote_ident(v.relname) || '.' "
								  "       || quote_ident((SELECT att.attname FROM pg_catalog.pg_attribute att WHERE att.attrelid = v.oid "
								  "        AND att.attnum = ds.objsubid)) || ' IS ' || quote_literal(ds.description) END, '; ' "
								  "     ORDER BY ds.objsubid) "
								  "   FROM pg_catalog.pg_description ds WHERE ds.classoid = 'pg_catalog.pg_class'::regclass "
								  "   AND ds.objoid = v.oid), "
								  "(SELECT string_agg(x, '; ') FROM ("
								  "   SELECT 'it has rule ' || quote_ident(r.rulename) AS x FROM pg_catalog.pg_rewrite r "
								  "   WHERE r.ev_class = v.oid AND r.rulename <> '_RETURN' "
								  "   UNION ALL SELECT 'it has trigger ' || quote_ident(tg.tgname) FROM pg_catalog.pg_trigger tg "
								  "   WHERE tg.tgrelid = v.oid "
								  "   UNION ALL SELECT 'column ' || quote_ident(ad_att.attname) || ' has a default' "
								  "   FROM pg_catalog.pg_attrdef ad JOIN pg_catalog.pg_attribute ad_att "
								  "     ON ad_att.attrelid = ad.adrelid AND ad_att.attnum = ad.adnum WHERE ad.adrelid = v.oid "
								  "   UNION ALL SELECT pg_describe_object(dp.classid, dp.objid, dp.objsubid) || ' depends on it' "
								  "   FROM pg_catalog.pg_depend dp WHERE dp.refclassid = 'pg_catalog.pg_class'::regclass "
								  "   AND dp.refobjid = v.oid AND dp.deptype = 'n' AND NOT (dp.classid = 'pg_catalog.pg_rewrite'::regclass "
								  "     AND EXISTS (SELECT FROM pg_catalog.pg_rewrite r WHERE r.oid = dp.objid "
								  "       AND (r.ev_class = v.oid OR r.ev_class IN (SELECT oid FROM deepest))))) n) "
								  "FROM deepest dd JOIN pg_catalog.pg_class v ON v.oid = dd.oid "
								  "JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace "
								  "WHERE v.relkind = 'v' ORDER BY dd.depth, v.oid",
								  t->oid, t->oid, t->oid);
	static const ResField fields[] = {
		OID_F(oid), TEXT_F(name), TEXT_F(qname), TEXT_F(owner), BOOL_F(can_own), TEXT_F(def),
		TEXT_F(view_options), INT4_F(depth), TEXT_F(attnums), TEXT_F(view_deps), TEXT_F(grants),
		TEXT_F(comments), TEXT_F(relkind_note)
	};

	return add_rows(res, d, DEP_VIEW, NULL, fields, NFIELDS(fields)) >= 0;
}

/* A POSIX regex matching the table's name as a word, for PL/pgSQL sources. */
static char *
name_regex(const char *name)
{
	StrBuf		sb;

	sb_init(&sb);
	sb_append(&sb, "\\m");
	for (const char *p = name; *p; p++)
	{
		if (strchr("\\^$.|?*+()[]{}", *p))
			sb_append_char(&sb, '\\');
		sb_append_char(&sb, *p);
	}
	sb_append(&sb, "\\M");
	return sb_steal(&sb);
}

static bool
read_functions(Conn *c, const TableDesc *t, Dependents *d)
{
	char	   *re = name_regex(t->name);
	char	   *spec = pgr_psprintf(
									"SELECT p.oid, p.proname::text, p.oid::regprocedure::text, "
									"pg_get_userbyid(p.proowner)::text, pg_has_role(p.proowner, 'MEMBER'), "
									"pg_get_functiondef(p.oid) "
									"FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
									"WHERE p.prokind IN ('f', 'p') "
									"AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgrebuild') "
									/* pg_rebuild's own functions, in the state schemas (state.h) */
									"AND n.nspname !~ '^pgrebuild_[0-9]+$' "
									"AND ((%s AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend d "
									"      WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid "
									"      AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = %%oid)) "
									"  OR (p.prolang = (SELECT l.oid FROM pg_catalog.pg_language l WHERE l.lanname = 'plpgsql') "
									"      AND p.prosrc ~* %%text)) ORDER BY 1",
									conn_versioned(c, sqlbody_sql));
	PGresult   *res = conn_queryf(c, spec, t->oid, re);
	static const ResField fields[] = {
		OID_F(oid), TEXT_F(name), TEXT_F(qname), TEXT_F(owner), BOOL_F(can_own), TEXT_F(def)
	};

	free(spec);
	free(re);
	return add_rows(res, d, DEP_FUNCTION, NULL, fields, NFIELDS(fields)) >= 0;
}

/* A rule on the table, or a rule of another table that mentions it. */
static DepKind
rule_kind(const PGresult *res, int row)
{
	return res_bool(res, row, 5) ? DEP_RULE : DEP_OTHER_RULE;
}

static bool
read_triggers_and_rules(Conn *c, const TableDesc *t, Dependents *d)
{
	PGresult   *res = conn_queryf(c,
								  "SELECT tg.oid, tg.tgname::text, pg_get_triggerdef(tg.oid), tg.tgenabled::text, "
								  "obj_description(tg.oid, 'pg_trigger') FROM pg_catalog.pg_trigger tg "
								  "WHERE tg.tgrelid = %oid AND NOT tg.tgisinternal "
								  "AND tg.tgname NOT IN ('pgrebuild_capture', 'pgrebuild_truncate') ORDER BY tg.tgname",
								  t->oid);
	static const ResField trigger_fields[] = {
		OID_F(oid), TEXT_F(name), TEXT_F(def), CHAR_F(enabled), TEXT_F(comment)
	};
	static const ResField rule_fields[] = {
		OID_F(oid), TEXT_F(name), TEXT_F(def), CHAR_F(enabled), TEXT_F(comment), SKIP_F, TEXT_F(rel_q),
		TEXT_F(owner), BOOL_F(can_own)
	};
	int			first = add_rows(res, d, DEP_TRIGGER, NULL, trigger_fields, NFIELDS(trigger_fields));

	if (first < 0)
		return false;
	for (int i = first; i < d->n; i++)
		d->items[i].owner = pgr_strdup(t->owner);

	res = conn_queryf(c,
					  "SELECT DISTINCT r.oid, r.rulename::text, pg_get_ruledef(r.oid), r.ev_enabled::text, "
					  "obj_description(r.oid, 'pg_rewrite'), r.ev_class = %oid, "
					  "quote_ident(n.nspname) || '.' || quote_ident(c.relname), "
					  "pg_get_userbyid(c.relowner)::text, pg_has_role(c.relowner, 'MEMBER') "
					  "FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class "
					  "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
					  "WHERE r.rulename <> '_RETURN' AND c.relkind IN ('r', 'p') AND (r.ev_class = %oid OR EXISTS ("
					  "  SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass "
					  "  AND d.objid = r.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = %oid)) "
					  "ORDER BY 1",
					  t->oid, t->oid, t->oid);
	return add_rows(res, d, DEP_RULE, rule_kind, rule_fields, NFIELDS(rule_fields)) >= 0;
}

/* A policy on the table, or a policy of another table that mentions it. */
static DepKind
policy_kind(const PGresult *res, int row)
{
	return res_bool(res, row, 8) ? DEP_POLICY : DEP_OTHER_POLICY;
}

static bool
read_policies(Conn *c, const TableDesc *t, Dependents *d)
{
	PGresult   *res = conn_queryf(c,
								  "SELECT DISTINCT pol.oid, pol.polname::text, pol.polcmd::text, pol.polpermissive, "
								  "(SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END, "
								  "  ', ' ORDER BY r) FROM unnest(pol.polroles) r), "
								  "pg_get_expr(pol.polqual, pol.polrelid), pg_get_expr(pol.polwithcheck, pol.polrelid), "
								  "obj_description(pol.oid, 'pg_policy'), pol.polrelid = %oid, "
								  "quote_ident(n.nspname) || '.' || quote_ident(c.relname), "
								  "pg_get_userbyid(c.relowner)::text, pg_has_role(c.relowner, 'MEMBER') "
								  "FROM pg_catalog.pg_policy pol JOIN pg_catalog.pg_class c ON c.oid = pol.polrelid "
								  "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
								  "WHERE pol.polrelid = %oid OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend d "
								  "  WHERE d.classid = 'pg_catalog.pg_policy'::regclass AND d.objid = pol.oid "
								  "  AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = %oid) ORDER BY 1",
								  t->oid, t->oid, t->oid);
	static const ResField fields[] = {
		OID_F(oid), TEXT_F(name), CHAR_F(policy_cmd), BOOL_F(permissive), TEXT_F(roles), TEXT_F(def),
		TEXT_F(with_check), TEXT_F(comment), SKIP_F, TEXT_F(rel_q), TEXT_F(owner), BOOL_F(can_own)
	};

	return add_rows(res, d, DEP_POLICY, policy_kind, fields, NFIELDS(fields)) >= 0;
}

static bool
read_publications(Conn *c, const TableDesc *t, Dependents *d)
{
	PGresult   *res = conn_queryf(c, conn_versioned(c, publication_sql), t->oid);
	static const ResField fields[] = {
		OID_F(oid), TEXT_F(name), TEXT_F(owner), BOOL_F(can_own), TEXT_F(pub_where), TEXT_F(pub_columns)
	};
	int			first = add_rows(res, d, DEP_PUBLICATION, NULL, fields, NFIELDS(fields));

	for (int i = first; first >= 0 && i < d->n; i++)
		d->items[i].qname = ident_quote(d->items[i].name);
	return first >= 0;
}

/* A foreign key of the table to itself, of the table, or of another table to it. */
static DepKind
fk_kind(const PGresult *res, int row)
{
	return res_bool(res, row, 4) ? DEP_FK_SELF : res_bool(res, row, 5) ? DEP_FK_OUT : DEP_FK_IN;
}

static bool
read_foreign_keys(Conn *c, const TableDesc *t, Dependents *d)
{
	PGresult   *res = conn_queryf(c,
								  "SELECT co.oid, co.conname::text, pg_get_constraintdef(co.oid), co.convalidated, "
								  "co.conrelid = co.confrelid, co.conrelid = %oid, "
								  "quote_ident(n.nspname) || '.' || quote_ident(c.relname), "
								  "pg_get_userbyid(c.relowner)::text, "
								  "CASE WHEN co.conrelid = %oid THEN has_table_privilege(co.confrelid, 'REFERENCES') "
								  "  ELSE pg_has_role(c.relowner, 'MEMBER') END, c.relkind = 'p', "
								  "obj_description(co.oid, 'pg_constraint'), n.nspname::text, c.relname::text "
								  "FROM pg_catalog.pg_constraint co "
								  "JOIN pg_catalog.pg_class c ON c.oid = CASE WHEN co.conrelid = %oid THEN co.confrelid "
								  "  ELSE co.conrelid END "
								  "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
								  "WHERE co.contype = 'f' AND co.conparentid = 0 "
								  "AND (co.conrelid = %oid OR co.confrelid = %oid) ORDER BY 1",
								  t->oid, t->oid, t->oid, t->oid, t->oid);
	static const ResField fields[] = {
		OID_F(oid), TEXT_F(name), TEXT_F(def), BOOL_F(validated), SKIP_F, SKIP_F, TEXT_F(rel_q),
		TEXT_F(owner), BOOL_F(can_own), BOOL_F(rel_partitioned), TEXT_F(comment), TEXT_F(rel_schema),
		TEXT_F(rel_name)
	};

	return add_rows(res, d, DEP_FK_IN, fk_kind, fields, NFIELDS(fields)) >= 0;
}

static bool
read_statistics(Conn *c, const TableDesc *t, Dependents *d)
{
	char	   *spec = pgr_psprintf("SELECT s.oid, s.stxname::text, "
									"quote_ident(n.nspname) || '.' || quote_ident(s.stxname), "
									"pg_get_userbyid(s.stxowner)::text, pg_has_role(s.stxowner, 'MEMBER'), "
									"pg_get_statisticsobjdef(s.oid), %s, obj_description(s.oid, 'pg_statistic_ext'), "
									"n.nspname::text "
									"FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace "
									"WHERE s.stxrelid = %%oid ORDER BY 1",
									conn_versioned(c, stattarget_sql));
	PGresult   *res = conn_queryf(c, spec, t->oid);
	static const ResField fields[] = {
		OID_F(oid), TEXT_F(name), TEXT_F(qname), TEXT_F(owner), BOOL_F(can_own), TEXT_F(def),
		INT4_F(stattarget), TEXT_F(comment), TEXT_F(stats_schema)
	};
	int			first = add_rows(res, d, DEP_STATISTICS, NULL, fields, NFIELDS(fields));

	free(spec);
	for (int i = first; first >= 0 && i < d->n; i++)
		d->items[i].stats_prefix = pgr_psprintf("CREATE STATISTICS %s ", d->items[i].qname);
	return first >= 0;
}

static bool
read_parents(Conn *c, const TableDesc *t, Dependents *d)
{
	PGresult   *res = conn_queryf(c,
								  "SELECT ih.inhparent, quote_ident(n.nspname) || '.' || quote_ident(p.relname), "
								  "pg_get_userbyid(p.relowner)::text, pg_has_role(p.relowner, 'MEMBER') "
								  "FROM pg_catalog.pg_inherits ih JOIN pg_catalog.pg_class p ON p.oid = ih.inhparent "
								  "JOIN pg_catalog.pg_namespace n ON n.oid = p.relnamespace "
								  "WHERE ih.inhrelid = %oid ORDER BY ih.inhseqno",
								  t->oid);
	static const ResField fields[] = {OID_F(oid), TEXT_F(rel_q), TEXT_F(owner), BOOL_F(can_own)};
	int			first = add_rows(res, d, DEP_PARENT, NULL, fields, NFIELDS(fields));

	for (int i = first; first >= 0 && i < d->n; i++)
		d->items[i].qname = pgr_strdup(d->items[i].rel_q);
	return first >= 0;
}

bool
dependents_read(Conn *c, const TableDesc *t, Dependents *d)
{
	memset(d, 0, sizeof(*d));
	if (read_views(c, t, d) && read_functions(c, t, d) && read_triggers_and_rules(c, t, d) &&
		read_policies(c, t, d) && read_publications(c, t, d) && read_foreign_keys(c, t, d) &&
		read_statistics(c, t, d) && read_parents(c, t, d))
		return true;
	conn_report(c, "could not read the objects that depend on the table");
	return false;
}

void
dependents_free(Dependents *d)
{
	for (int i = 0; i < d->n; i++)
	{
		DepObject  *o = &d->items[i];

		free(o->name);
		free(o->qname);
		free(o->owner);
		free(o->def);
		free(o->comment);
		free(o->rel_q);
		free(o->rel_schema);
		free(o->rel_name);
		free(o->view_options);
		free(o->roles);
		free(o->with_check);
		free(o->pub_columns);
		free(o->pub_where);
		free(o->stats_schema);
		free(o->stats_prefix);
		free(o->attnums);
		free(o->view_deps);
		free(o->grants);
		free(o->comments);
		free(o->relkind_note);
	}
	free(d->items);
	memset(d, 0, sizeof(*d));
}

const char *
dependents_kind_name(DepKind k)
{
	static const char *const names[] = {
		"view", "function", "trigger", "rule", "rule", "policy", "policy", "publication",
		"foreign key", "foreign key", "foreign key", "statistics object", "inheritance parent"
	};

	return names[k];
}

static void
canon(StrBuf *sb, const char *label, const char *v)
{
	sb_appendf(sb, "%s=%zu:%s\n", label, v ? strlen(v) : (size_t) 0, v ? v : "<null>");
}

char *
dependents_canonical_text(const Dependents *d)
{
	StrBuf		sb;

	sb_init(&sb);
	for (int i = 0; i < d->n; i++)
	{
		const DepObject *o = &d->items[i];

		sb_appendf(&sb, "dep %d oid=%u own=%d enabled=%d validated=%d cmd=%d permissive=%d st=%d\n",
				   o->kind, o->oid, o->can_own, o->enabled, o->validated, o->policy_cmd, o->permissive,
				   o->stattarget);
		canon(&sb, "name", o->name);
		canon(&sb, "qname", o->qname);
		canon(&sb, "owner", o->owner);
		canon(&sb, "def", o->def);
		canon(&sb, "comment", o->comment);
		canon(&sb, "rel", o->rel_q);
		canon(&sb, "view_options", o->view_options);
		canon(&sb, "roles", o->roles);
		canon(&sb, "with_check", o->with_check);
		canon(&sb, "pub_columns", o->pub_columns);
		canon(&sb, "pub_where", o->pub_where);
		canon(&sb, "stats_schema", o->stats_schema);
		sb_appendf(&sb, "depth=%d\n", o->depth);
		canon(&sb, "attnums", o->attnums);
		canon(&sb, "view_deps", o->view_deps);
		canon(&sb, "grants", o->grants);
		canon(&sb, "comments", o->comments);
		canon(&sb, "note", o->relkind_note);
	}
	return sb_steal(&sb);
}

void
dependents_refusals(const Dependents *d, int server_version, StrVec *problems)
{
	for (int i = 0; i < d->n; i++)
	{
		const DepObject *o = &d->items[i];
		const char *what = o->qname ? o->qname : o->name;

		if (o->kind == DEP_FK_IN && o->rel_partitioned && server_version < 180000)
			sv_push_owned(problems, pgr_psprintf("foreign key %s of partitioned table %s references the table: "
												 "it cannot be re-added NOT VALID before PostgreSQL 18",
												 o->name, o->rel_q));
		else if (!o->can_own && o->kind == DEP_FK_OUT)
			sv_push_owned(problems, pgr_psprintf("foreign key %s references %s, on which the table's owner lacks "
												 "the REFERENCES privilege needed to re-create it", o->name, o->rel_q));
		else if (!o->can_own && o->kind != DEP_FUNCTION && !(o->kind == DEP_VIEW && o->depth > 1))
			sv_push_owned(problems, pgr_psprintf("%s %s%s%s is owned by %s, and the run's role is not a member of "
												 "that role, so it cannot be re-created", dependents_kind_name(o->kind),
												 what, o->rel_q && o->kind != DEP_PARENT ? " on " : "",
												 o->rel_q && o->kind != DEP_PARENT ? o->rel_q : "", o->owner));
	}
}
