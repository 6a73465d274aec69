/*
 * rebuild.h: one run of one table, from preflight to finish.
 *
 * The phases, in order (phases.h has the table; each phase in its own file):
 *   preflight  (preflight.c)  checks and refusals, the plan; nothing is changed
 *   install    (install.c)    run record, log table, capture trigger
 *   copy       (copy.c)       shadow table and its rows
 *   index      (index.c)      the shadow's indexes and constraints
 *   replay     (replay.c)     the captured changes, until the backlog is small
 *   swap       (swap.c)       the short ACCESS EXCLUSIVE transaction
 *   finish     (cleanup.c)    drop the old table and this run's objects
 *
 * A program rebuilds a table with:
 *   Run *r = run_new(&settings, &params, schema, table, &changes);
 *   if (rebuild_prepare(r))      -- preflight; r->t, r->plan are then set
 *       rebuild_table(r);        -- everything else; r->result says what happened
 *   run_free(r);
 * and may do so for several tables one after the other in one process.
 */
#ifndef PGR_REBUILD_H
#define PGR_REBUILD_H

#include <stdbool.h>

#include "run.h"

/*
 * Preflight: connects, reads and checks the table, makes the plan.  False
 * when the run must not go on (logged; r->result.exit_code is
 * PGR_EXIT_FAILED and nothing was changed).  The preflight phase ends when
 * rebuild_table starts, so that a caller can print the plan or an intro
 * between the two.
 */
bool		rebuild_prepare(Run *r) __attribute__((warn_unused_result));

/*
 * Runs the phases after preflight, going on after lost connections (at most
 * PGR_MAX_RECOVERIES times, each for --retry-timeout).  On failure the
 * table is left as it was and the run's objects are removed, or the message
 * names the --cleanup command.  Fills r->result and returns its exit code.
 */
int			rebuild_table(Run *r);

#endif							/* PGR_REBUILD_H */
