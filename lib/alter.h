/*
 * alter.h: what the subcommands of --alter do, as the server says.
 *
 * At preflight, in one transaction that is rolled back: an empty copy of
 * the table (its columns, CHECK constraints and indexes, under the shadow's
 * name) is made, each --alter text is applied to it whole (the server parses
 * and validates it), then again subcommand by subcommand, and after each one
 * the copy's catalog entries are compared with what they were before.  The
 * differences say what the subcommand does; anything but the supported
 * changes is refused, naming the subcommand.  The changes are recorded in
 * the ChangeSet (changes.h), with the copy's final description as the
 * target.  The transaction stays open so that the plan's copy statement can
 * be checked against the changed copy (alter_check_plan), then it is rolled
 * back: nothing is left in the database.
 *
 * Supported: ALTER COLUMN c TYPE t [COLLATE x] [USING e], SET NOT NULL,
 * SET DEFAULT / DROP DEFAULT, SET STORAGE, SET COMPRESSION; ADD CONSTRAINT
 * ... CHECK (...) [NOT VALID]; DROP COLUMN; SET (...) / RESET (...) storage
 * parameters; SET TABLESPACE.
 */
#ifndef PGR_ALTER_H
#define PGR_ALTER_H

#include <stdbool.h>

#include "catalog.h"
#include "changes.h"
#include "conn.h"
#include "dependents.h"
#include "plan.h"

/*
 * Resolves cs->alter for table t (nothing to do without --alter).  base is
 * the plan input of the run (its changes are not used: the copy is made
 * as the table is now).  On success the transaction on c is left open for
 * alter_check_plan; on failure it is rolled back and the reason logged
 * (ending with "Nothing was changed.").
 */
bool alter_resolve(Conn *c, const TableDesc *t, const PlanInput *base, ChangeSet *cs)
	__attribute__((warn_unused_result));

/*
 * With --alter: plans the copy of p (and the replay's match of the key)
 * against the changed copy, so that a USING expression or a type with no
 * assignment cast fails now; creates the views the swap will make again
 * (plan_views_to_recreate) on the changed copy, and the foreign keys of
 * other tables on a changed key column against it; then rolls the
 * transaction back.  Says which foreign keys reference a changed column.
 * Without --alter: does nothing.  False (logged, ending with "Nothing was
 * changed.") on failure.
 */
bool alter_check_plan(Conn *c, const PlanInput *in, const Dependents *deps, const Plan *p)
	__attribute__((warn_unused_result));

/* One difference between two readings of the copy's catalog. */
typedef struct AlterDiff
{
	char *key;	  /* "col:00002:type", "rel:tablespace", "constraint:x", "index:y" */
	char *before; /* NULL: absent before */
	char *after;  /* NULL: absent after */
} AlterDiff;

/*
 * What one subcommand did, from its differences (pure, unit-tested).
 * Fills cs (column changes; alter_other) and returns true with *effect set
 * when every difference is a supported change, false with *error set (the
 * reason, to follow "subcommand X is not supported: ") otherwise.  t is the
 * table as it is; has_using says the subcommand has a USING clause, whose
 * expression using_expr is recorded with the type change; label names the
 * subcommand in messages.  *effect and *error are newly allocated.
 */
bool alter_classify(const TableDesc *t, const AlterDiff *d, int nd, const char *using_expr,
					const char *label, ChangeSet *cs, char **effect, char **error);

#endif /* PGR_ALTER_H */
