/*
 * inplace.h: NOT NULL without a new table (--method=in-place).
 *
 * PostgreSQL 12 and later skip the scan of ALTER COLUMN ... SET NOT NULL
 * when a valid CHECK constraint proves the column holds no NULL.  So:
 *   check     ADD CONSTRAINT pgrebuild_nn_<table>_<attnum> CHECK (c IS NOT NULL)
 *             NOT VALID: ACCESS EXCLUSIVE for a catalog change, under
 *             --lock-timeout, retried with backoff, blockers named; from
 *             then on the application cannot write a NULL there;
 *   validate  VALIDATE CONSTRAINT: one scan under SHARE UPDATE EXCLUSIVE, reads
 *             and writes go on;
 *   set       LOCK ... ACCESS EXCLUSIVE, check that the constraints are still
 *             there and valid, SET NOT NULL (no scan) and DROP CONSTRAINT, in
 *             one transaction of milliseconds (a statement_timeout guards it),
 *             under --lock-timeout, retried;
 *   finish    the run's record goes.
 * Each constraint is recorded with the run in the transaction that adds it:
 * the failure path and --cleanup drop it.  A lost connection is not resumed:
 * the failure path undoes what was done.
 */
#ifndef PGR_INPLACE_H
#define PGR_INPLACE_H

#include <stdbool.h>

#include "plan.h"
#include "run.h"

/* The statements of the in-place method (pure; printed by --dry-run). */
typedef struct InPlacePlan
{
	StmtList check;	   /* one transaction */
	StmtList validate; /* one transaction each */
	StmtList set;	   /* one transaction, after LOCK TABLE */
	char   **names;	   /* the constraints' names, one per column */
	int		 n;
} InPlacePlan;

void inplace_plan(const TableDesc *t, const ChangeSet *cs, InPlacePlan *out);
void inplace_plan_free(InPlacePlan *p);

/*
 * Chooses the run's mode from --method and the changes (preflight, after
 * the NULL count), setting r->mode and r->method_note.  False (logged)
 * when --method=in-place was asked for changes it cannot make, or the
 * estimate could not be read.
 */
bool inplace_choose(Run *r) __attribute__((warn_unused_result));

bool inplace_check_phase(Run *r) __attribute__((warn_unused_result));
bool inplace_validate_phase(Run *r) __attribute__((warn_unused_result));
bool inplace_set_phase(Run *r) __attribute__((warn_unused_result));

#endif /* PGR_INPLACE_H */
