/*
 * selection.h: a command that chooses several tables (several -t,
 * --schema, --all, thresholds, --report): each chosen table is its own run,
 * one after the other, so two tables' locks are never held together; the
 * end lists every table with what happened to it.
 */
#ifndef PGR_SELECTION_H
#define PGR_SELECTION_H

#include "options.h"
#include "run.h"
#include "select.h"

/* What happened to one table of the selection. */
typedef enum Outcome
{
	OUT_REBUILT,	 /* the swap committed (and nothing was left) */
	OUT_SKIPPED,	 /* left alone: a threshold, or it cannot be rebuilt (why says which) */
	OUT_FAILED,		 /* failed; the table is as it was, nothing left behind */
	OUT_LEFTOVERS,	 /* failed or finished with objects left: --cleanup */
	OUT_NOT_STARTED, /* a run before it failed with --stop-on-error, or the user stopped */
	OUT_DEFERRED,	 /* not expected to finish before the deadline, or reached it before its swap */
	OUT_PLANNED		 /* --dry-run: would be rebuilt */
} Outcome;

typedef struct TableOutcome
{
	const Candidate *cand; /* the selection's entry (owned by the Selection) */
	Outcome			 outcome;
	char			*why; /* newly allocated, or NULL */
	bool			 ran; /* a run started its phases: result is filled */
	RunResult		 result;
} TableOutcome;

/* The whole command, for the summary and the report. */
typedef struct SelectionRun
{
	Selection	  sel;
	TableOutcome *tables; /* one per sel.items, in the same order */
	int			  n;
	bool		  dry_run;
	double		  seconds;	/* wall time of the whole command */
	double		  deadline; /* pgr_now() of --deadline / --max-duration (the earlier); 0: none */
	int			  exit_code;
} SelectionRun;

/*
 * Runs the command o describes over its selection, connecting with params
 * and running each table with s and cs (changes only with one table: the
 * options refuse them with several); prints each run's lines as a single -t
 * would, then the summary; writes --report.  Returns the exit code: 0 when
 * every chosen table was rebuilt or skipped by choice, 1 when some failed
 * and left nothing, 3 when some left objects for --cleanup.
 */
int selection_command(const RebuildOptions *o, ConnParams *params, const RunSettings *settings,
					  const ChangeSet *cs);

/* The exit code of a finished selection (see selection_command). */
int selection_exit_code(const SelectionRun *sr);

#endif /* PGR_SELECTION_H */
