/*
 * rebuild.h: one run of pg_rebuild, phase after phase, and --cleanup.
 *
 * Phases, in the order of a run (each in its own file):
 *   preflight (here)  checks and refusals; nothing is changed
 *   install   (state.c, plan.c)  tool schema, run record, log table, capture trigger
 *   copy      (copy.c)   shadow table and its rows
 *   index     (here)     the shadow's indexes and constraints
 *   replay    (replay.c) the captured changes, until the backlog is small
 *   swap      (swap.c)   the short ACCESS EXCLUSIVE transaction
 *   finish    (state.c)  drop the old table and this run's objects
 */
#ifndef PGR_REBUILD_H
#define PGR_REBUILD_H

#include "options.h"

/* Exit codes (see the man page). */
#define PGR_EXIT_OK			0	/* rebuilt (or: nothing to do) */
#define PGR_EXIT_FAILED		1	/* failed; the table is unchanged, nothing left behind */
#define PGR_EXIT_USAGE		2	/* bad command line */
#define PGR_EXIT_LEFTOVERS	3	/* failed and objects remain: run --cleanup */

/* Rebuilds opts->table (or prints the plan with --dry-run); returns the exit code. */
int			rebuild_main(const RebuildOptions *opts);

/* Removes what dead runs left behind (--cleanup); returns the exit code. */
int			rebuild_cleanup_main(const RebuildOptions *opts);

/*
 * Lists the recorded runs (--status [--json]); returns 0 when none is dead,
 * PGR_EXIT_LEFTOVERS when some are (a scheduler can alert on it).
 */
int			rebuild_status_main(const RebuildOptions *opts);

#endif							/* PGR_REBUILD_H */
