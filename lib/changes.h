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
 *
 * --alter gives ALTER TABLE subcommands as text.  The server resolves them
 * at preflight (alter.h): it applies them to an empty copy of the table in a
 * transaction that is rolled back, and the catalog says what each changed.
 * The result is kept here: the column changes above, each subcommand with
 * what the server made of it, and the table as the changes leave it (the
 * target), from which the shadow takes its columns' definitions, its CHECK
 * constraints, storage parameters and tablespace.
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
	bool		retyped;		/* its type or collation changes (views on it are made again) */
	char	   *given_as;		/* the option that asked for it, for messages ("--set-not-null") */
	/*
	 * PostgreSQL 18: the name of the new NOT NULL constraint, as ALTER TABLE
	 * ... SET NOT NULL on the original table would choose it (preflight
	 * fills it in; NULL before 18, or when the column has one already).
	 */
	char *not_null_name;
} ColumnChange;

/* The order the rows are stored in. */
typedef enum RowOrder
{
	ROW_ORDER_DEFAULT = 0,		/* as CLUSTER: the order of the index marked for CLUSTER, if any */
	ROW_ORDER_GIVEN,			/* order_by, given with --order-by */
	ROW_ORDER_NONE				/* --no-order: as they come */
} RowOrder;

/* One subcommand of --alter and what the server made of it. */
typedef struct AlterPiece
{
	char	   *text;			/* as given */
	char	   *effect;			/* "type of "id": integer -> bigint", ... */
} AlterPiece;

/* How a NOT NULL is made (--method). */
typedef enum ChangeMethod
{
	METHOD_AUTO = 0,			/* in place when only NOT NULL changes and little is to reclaim */
	METHOD_REBUILD,				/* always the shadow table */
	METHOD_IN_PLACE				/* CHECK NOT VALID, VALIDATE, SET NOT NULL: no copy */
} ChangeMethod;

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
	StrVec		alter;			/* --alter texts, as given, in order */
	ChangeMethod method;

	/* Filled by alter_resolve (the server's reading of --alter). */
	AlterPiece *pieces;
	int			npieces;
	TableDesc  *target;			/* the table as the changes leave it; NULL without --alter */
	bool		alter_other;	/* --alter changes more than NOT NULL */
} ChangeSet;

void		changes_init(ChangeSet *cs);
void		changes_free(ChangeSet *cs);
/* A deep copy of what was asked (not what alter_resolve filled in). */
void		changes_copy(ChangeSet *dst, const ChangeSet *src);
/* Adds the text of one --alter. */
void		changes_add_alter(ChangeSet *cs, const char *text);
/*
 * The change of column, added when missing (given_as names the option, for
 * messages).  Used by alter_resolve to record what the server found.
 */
ColumnChange *changes_column(ChangeSet *cs, const char *column, const char *given_as);

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

/*
 * The column of the target with the attnum of col (its definition after the
 * changes: type, collation, default, storage, compression, identity), or
 * col itself when there is no --alter.
 */
const ColumnDesc *changes_target_column(const ChangeSet *cs, const ColumnDesc *col);
/* The table whose table-level settings the rebuilt table takes (target, or t). */
const TableDesc *changes_target_table(const ChangeSet *cs, const TableDesc *t);
/* True when nothing but NOT NULL on existing columns is asked (--method in-place applies). */
bool		changes_only_not_null(const ChangeSet *cs);

/* The change of one column, or NULL when the column is left as it is. */
const ColumnChange *changes_for(const ChangeSet *cs, const char *column);
/* True when no column changes: the rebuild compacts (and may reorder) the rows. */
bool		changes_none(const ChangeSet *cs);

/* --- what the plan asks of each column ----------------------------------- */

/* The column is in the rebuilt table. */
bool		changes_keeps(const ChangeSet *cs, const ColumnDesc *col);
/* Its type in the rebuilt table (format_type text). */
const char *changes_target_type(const ChangeSet *cs, const ColumnDesc *col);
/*
 * It is NOT NULL in the rebuilt table from the copy on.  Not a NOT VALID
 * NOT NULL of PostgreSQL 18, which is added after the copy (its rows may
 * hold NULLs), unless the change asks for NOT NULL.
 */
bool		changes_not_null(const ChangeSet *cs, const ColumnDesc *col);
/*
 * The expression that computes its value in the rebuilt table from a row of
 * the original one: the column itself (alias.column when alias is not NULL;
 * a new type is reached by INSERT's assignment cast, as ALTER COLUMN TYPE
 * without USING does), or the USING expression, which refers to the row by
 * the table's own name.  Newly allocated.
 */
char	   *changes_source_expr(const ChangeSet *cs, const ColumnDesc *col, const char *alias);

/* The columns whose NOT NULL is new or becomes valid (they must hold no NULL now). */
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
