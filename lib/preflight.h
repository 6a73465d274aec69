/*
 * preflight.h: the first phase of a run: checks and refusals, then the plan.
 *
 * In this order: the server (version, not a standby), the table (it exists,
 * is an ordinary table, the role may act as its owner), the table's
 * pg_rebuild lock (one run per table), dead runs of it, its replay key and
 * indexes, the requested changes (changes.h), the objects around it
 * (dependents.h), the plan (plan.h), the names the run will need, and the
 * data the changes need (no NULL in a column that becomes NOT NULL).
 * Nothing is changed in the database.
 */
#ifndef PGR_PREFLIGHT_H
#define PGR_PREFLIGHT_H

#include <stdbool.h>

#include "run.h"

/*
 * Connects r->main, reads and checks the table and makes r->plan and
 * r->dplan.  False when the run must not go on (the reason was logged,
 * ending with "Nothing was changed.").
 */
bool		preflight_run(Run *r) __attribute__((warn_unused_result));

#endif							/* PGR_PREFLIGHT_H */
