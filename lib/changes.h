/*
 * changes.h: the changes a run makes to the table, as data.
 *
 * A rebuild copies the table into a shadow that already carries the
 * requested changes.  Each change is recorded here once, and every other
 * part of the engine asks this module instead of threading options by hand:
 * the plan asks each column its target type, its source expression (what the
 * copy and the replay select from the original row) and whether it is NOT
 * NULL; preflight asks which columns must be scanned for NULLs; the report
 * asks for a description; and every refusal of a change is made in one
 * place, changes_check.
 *
 * Per column: a new type with an optional USING expression, NOT NULL, drop.
 * Per table: the order the rows are stored in.
 */
#ifndef PGR_CHANGES_H
#define PGR_CHANGES_H

#include <stdbool.h>

#include "catalog.h"
#include "ident.h"
#include "str.h"

typedef struct ColumnChange
{
	char	   *column;			/* the column's name in the original table */
	bool		set_not_null;
	bool		drop;
	char	   *new_type;		/* SQL type text as the server prints it, or NULL: unchanged */
	char	   *using_expr;		/* over the original row's columns, or NULL: the column cast */
	char	   *given_as;		/* the option that asked for it, for messages ("--set-not-null") */
} ColumnChange;

/* The order the rows are stored in. */
typedef enum RowOrder
{
	ROW_ORDER_DEFAULT = 0,		/* as CLUSTER: the order of the index marked for CLUSTER, if any */
	ROW_ORDER_GIVEN,			/* order_by, given with --order-by */
	ROW_ORDER_NONE				/* --no-order: as they come */
} RowOrder;

typedef struct ChangeSet
{
	ColumnChange *columns;
	int			ncolumns;
	RowOrder	order;
	/*
	 * With ROW_ORDER_GIVEN: an ORDER BY list as the user wrote it.  It is SQL
	 * text from outside: preflight has the server check that it is one ORDER
	 * BY list and nothing else before any statement holds it
	 * (preflight.c, check_order).
	 */
	char	   *order_by;
} ChangeSet;

void		changes_init(ChangeSet *cs);
void		changes_free(ChangeSet *cs);

/*
 * Requests NOT NULL on column.  False with *err (newly allocated) when the
 * same column is given twice.
 */
bool		changes_add_not_null(ChangeSet *cs, const char *column, char **err);
/* Rows stored in the order of an ORDER BY list (--order-by; copied). */
void		changes_set_order(ChangeSet *cs, const char *order_by);
/* Rows stored as they come, even when an index is marked for CLUSTER (--no-order). */
void		changes_set_no_order(ChangeSet *cs);

/*
 * The order of t's rows in the rebuilt table, as an ORDER BY list (newly
 * allocated), or NULL when they are stored as they come.  *why (when not
 * NULL) gets what the intro and the plan say about it, newly allocated, or
 * NULL when there is nothing to say (no order asked, no CLUSTER index).
 */
char	   *changes_row_order(const ChangeSet *cs, const TableDesc *t, char **why);

/* The change of one column, or NULL when the column is left as it is. */
const ColumnChange *changes_for(const ChangeSet *cs, const char *column);
/* True when no column changes: the rebuild compacts (and may reorder) the rows. */
bool		changes_none(const ChangeSet *cs);

/* --- what the plan asks of each column ----------------------------------- */

/* The column is in the rebuilt table. */
bool		changes_keeps(const ChangeSet *cs, const ColumnDesc *col);
/* Its type in the rebuilt table (format_type text). */
const char *changes_target_type(const ChangeSet *cs, const ColumnDesc *col);
/* It is NOT NULL in the rebuilt table. */
bool		changes_not_null(const ChangeSet *cs, const ColumnDesc *col);
/*
 * The expression that computes its value in the rebuilt table from a row of
 * the original one: the column itself (alias.column when alias is not NULL),
 * or the USING expression.  Newly allocated.
 */
char	   *changes_source_expr(const ChangeSet *cs, const ColumnDesc *col, const char *alias);

/* The columns whose NOT NULL is new (they must hold no NULL now). */
void		changes_new_not_null(const ChangeSet *cs, const TableDesc *t, StrVec *out);

/*
 * Refusals, all of them: false when a change cannot be made to t (a column
 * that does not exist, a change this version does not carry through the
 * swap), with *error and *hint (NULL when there is none) newly allocated
 * for the first such change.
 */
bool		changes_check(const ChangeSet *cs, const TableDesc *t, char **error, char **hint);

/* "NOT NULL on "a"; drop column "b"", or NULL when no column changes. */
char	   *changes_describe(const ChangeSet *cs);

#endif							/* PGR_CHANGES_H */
