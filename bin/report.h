/*
 * report.h: what the program prints about a run, from the data the engine
 * returns: the intro before the phases, the --dry-run plan, the summary, and
 * the --status listing.  Diagnostics are not here: they go through log.h.
 */
#ifndef PGR_REPORT_H
#define PGR_REPORT_H

#include <stdbool.h>

#include "cleanup.h"
#include "run.h"
#include "selection.h"
#include <stdio.h>

/* The table, its size, the changes and the settings, before the first phase. */
void		report_intro(const Run *r);
/* Every statement of the plan with the lock it takes (r prepared). */
void		report_dry_run(const Run *r);
/* Rows, sizes before and after, time, and the lock held at the swap. */
void		report_summary(const Run *r);
/*
 * The "run_end" event, last of a run: its exit code and figures (JSON only:
 * the text output has said it in its summary or its error).  A run that
 * failed runs its failure hooks first, with this event on their stdin.
 */
void		report_end(Run *r);
/* The recorded runs, as lines or as a JSON array. */
void		report_status(const RunList *l, bool json);

/*
 * One line per table of a selection (with --dry-run: its size, what it is
 * expected to give back and how that was measured, chosen or skipped and
 * why; after the runs: its result, sizes, reclaimed space, wall time and
 * ACCESS EXCLUSIVE held), then the totals.
 */
void		report_selection(const SelectionRun *sr);
/*
 * The same as JSON (docs/report-format.md, "format" 1) on f.  False when
 * writing failed (errno says why).
 */
bool		report_selection_json(const SelectionRun *sr, FILE *f);

#endif							/* PGR_REPORT_H */
