/* changes.c: the requested changes, what each column becomes, and their refusals. */
#include "changes.h"

#include <stdlib.h>
#include <string.h>

void
changes_init(ChangeSet *cs)
{
	memset(cs, 0, sizeof(*cs));
}

void
changes_free(ChangeSet *cs)
{
	for (int i = 0; i < cs->ncolumns; i++)
	{
		free(cs->columns[i].column);
		free(cs->columns[i].new_type);
		free(cs->columns[i].using_expr);
		free(cs->columns[i].given_as);
	}
	free(cs->columns);
	free(cs->order_by);
	memset(cs, 0, sizeof(*cs));
}

const ColumnChange *
changes_for(const ChangeSet *cs, const char *column)
{
	for (int i = 0; cs && i < cs->ncolumns; i++)
		if (strcmp(cs->columns[i].column, column) == 0)
			return &cs->columns[i];
	return NULL;
}

/* The entry of column, added (with given_as) when missing. */
static ColumnChange *
change_slot(ChangeSet *cs, const char *column, const char *given_as)
{
	ColumnChange *cc = (ColumnChange *) changes_for(cs, column);

	if (cc)
		return cc;
	cs->columns = pgr_realloc(cs->columns, sizeof(ColumnChange) * (size_t) (cs->ncolumns + 1));
	cc = &cs->columns[cs->ncolumns++];
	memset(cc, 0, sizeof(*cc));
	cc->column = pgr_strdup(column);
	cc->given_as = pgr_strdup(given_as);
	return cc;
}

bool
changes_add_not_null(ChangeSet *cs, const char *column, char **err)
{
	ColumnChange *cc = change_slot(cs, column, "--set-not-null");

	if (cc->set_not_null)
	{
		*err = pgr_psprintf("column \"%s\" is given twice to --set-not-null", column);
		return false;
	}
	cc->set_not_null = true;
	return true;
}

void
changes_set_order(ChangeSet *cs, const char *order_by)
{
	free(cs->order_by);
	cs->order_by = pgr_strdup(order_by);
	cs->order = ROW_ORDER_GIVEN;
}

void
changes_set_no_order(ChangeSet *cs)
{
	free(cs->order_by);
	cs->order_by = NULL;
	cs->order = ROW_ORDER_NONE;
}

/* The index of t marked for CLUSTER, or NULL. */
static const IndexDesc *
cluster_index(const TableDesc *t)
{
	for (int i = 0; i < t->nindexes; i++)
		if (t->indexes[i].clustered)
			return &t->indexes[i];
	return NULL;
}

char *
changes_row_order(const ChangeSet *cs, const TableDesc *t, char **why)
{
	RowOrder	order = cs ? cs->order : ROW_ORDER_DEFAULT;
	const IndexDesc *ci = cluster_index(t);
	char	   *list = NULL;
	char	   *text = NULL;

	if (order == ROW_ORDER_GIVEN)
	{
		list = pgr_strdup(cs->order_by);
		text = pgr_psprintf("in the order of %s (--order-by)", list);
	}
	else if (order == ROW_ORDER_NONE)
		text = ci ? pgr_psprintf("as they come (--no-order: the CLUSTER index %s is not followed)", ci->name)
			: pgr_strdup("as they come (--no-order)");
	else if (ci && t->cluster_order)
	{
		list = pgr_strdup(t->cluster_order);
		text = pgr_psprintf("in the order of the CLUSTER index %s (%s), as CLUSTER would; --no-order keeps "
							"them as they come", ci->name, list);
	}
	else if (ci)
		text = pgr_psprintf("as they come: the CLUSTER index %s is a %s index, whose order no ORDER BY list "
							"can express; give one with --order-by", ci->name,
							t->cluster_am ? t->cluster_am : "non-btree");
	if (why)
		*why = text;
	else
		free(text);
	return list;
}

bool
changes_none(const ChangeSet *cs)
{
	return cs == NULL || cs->ncolumns == 0;
}

bool
changes_keeps(const ChangeSet *cs, const ColumnDesc *col)
{
	const ColumnChange *cc = changes_for(cs, col->name);

	return cc == NULL || !cc->drop;
}

const char *
changes_target_type(const ChangeSet *cs, const ColumnDesc *col)
{
	const ColumnChange *cc = changes_for(cs, col->name);

	return cc && cc->new_type ? cc->new_type : col->type;
}

bool
changes_not_null(const ChangeSet *cs, const ColumnDesc *col)
{
	const ColumnChange *cc = changes_for(cs, col->name);

	return col->notnull || (cc && cc->set_not_null);
}

char *
changes_source_expr(const ChangeSet *cs, const ColumnDesc *col, const char *alias)
{
	const ColumnChange *cc = changes_for(cs, col->name);
	StrBuf		sb;

	if (cc && cc->using_expr)
		return pgr_psprintf("(%s)", cc->using_expr);
	sb_init(&sb);
	if (alias)
		sb_appendf(&sb, "%s.", alias);
	ident_append(&sb, col->name);
	if (cc && cc->new_type)
		sb_appendf(&sb, "::%s", cc->new_type);
	return sb_steal(&sb);
}

void
changes_new_not_null(const ChangeSet *cs, const TableDesc *t, StrVec *out)
{
	for (int i = 0; cs && i < cs->ncolumns; i++)
	{
		const ColumnDesc *col = catalog_find_column(t, cs->columns[i].column);

		if (cs->columns[i].set_not_null && col && !col->notnull)
			sv_push(out, col->name);
	}
}

bool
changes_check(const ChangeSet *cs, const TableDesc *t, char **error, char **hint)
{
	*error = NULL;
	*hint = NULL;
	for (int i = 0; cs && i < cs->ncolumns; i++)
	{
		const ColumnChange *cc = &cs->columns[i];

		if (catalog_find_column(t, cc->column) == NULL)
		{
			char	   *q = ident_quote(cc->column);

			*error = pgr_psprintf("column %s of table %s does not exist (given to %s)", q, t->qname,
								  cc->given_as);
			*hint = pgr_psprintf("Column names are case-sensitive when quoted: %s '\"MyColumn\"'.",
								 cc->given_as);
			free(q);
			return false;
		}
	}
	return true;
}

char *
changes_describe(const ChangeSet *cs)
{
	StrBuf		sb;

	if (changes_none(cs))
		return NULL;
	sb_init(&sb);
	for (int i = 0; i < cs->ncolumns; i++)
	{
		const ColumnChange *cc = &cs->columns[i];

		if (cc->set_not_null)
		{
			sb_append(&sb, sb.len ? "; NOT NULL on " : "NOT NULL on ");
			ident_append(&sb, cc->column);
		}
		if (cc->new_type)
		{
			sb_append(&sb, sb.len ? "; " : "");
			ident_append(&sb, cc->column);
			sb_appendf(&sb, " becomes %s", cc->new_type);
			if (cc->using_expr)
				sb_appendf(&sb, " USING %s", cc->using_expr);
		}
		if (cc->drop)
		{
			sb_append(&sb, sb.len ? "; drop column " : "drop column ");
			ident_append(&sb, cc->column);
		}
	}
	return sb_steal(&sb);
}
