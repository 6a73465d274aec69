/*
 * phases.h: the one table of a run's phases.
 *
 * Everything that names or orders the phases reads this table: the
 * orchestrator (which function runs each phase, and where a run goes on
 * after a lost connection), the phase lines of the output, and the phase
 * recorded in the runs table for --status and --cleanup.
 */
#ifndef PGR_PHASES_H
#define PGR_PHASES_H

#include <stdbool.h>

typedef enum Phase
{
	PHASE_PREFLIGHT,
	PHASE_INSTALL,
	PHASE_COPY,
	PHASE_RECONCILE,
	PHASE_INDEX,
	PHASE_REPLAY,
	PHASE_SWAP,
	PHASE_FINISH,
	/* --method=in-place (inplace.h): NOT NULL without a new table */
	PHASE_NN_CHECK,
	PHASE_NN_VALIDATE,
	PHASE_NN_SET,
	PHASE_COUNT
} Phase;

/* What a run does after preflight: each mode is its own list of phases. */
typedef enum RunMode
{
	MODE_REBUILD,				/* install, copy, reconcile, index, replay, swap, finish */
	MODE_IN_PLACE				/* CHECK NOT VALID, VALIDATE, SET NOT NULL, finish */
} RunMode;

typedef struct Run Run;

typedef struct PhaseDef
{
	Phase		phase;
	const char *name;			/* in phase lines and messages */
	/*
	 * What the runs table says while the run is in this phase (NULL: the
	 * run is not recorded yet).  The finish's "swapped" is written by the
	 * swap's own transaction: it means that the swap committed.
	 */
	const char *recorded;
	bool		(*run) (Run *r);	/* NULL for preflight, which runs before the others */
	/*
	 * After a lost connection during this phase, the run goes on from
	 * resume_at (the copy starts over, for one).  The install and the swap
	 * first find out from the run's record whether they committed.
	 */
	Phase		resume_at;
} PhaseDef;

/* The phases of mode m after preflight, in order; *n gets their number. */
const Phase *phase_list(RunMode m, int *n);

/* The definition of p. */
const PhaseDef *phase_def(Phase p);
const char *phase_name(Phase p);
/* The phase whose recorded name is s; false when none is. */
bool		phase_from_recorded(const char *s, Phase *p);

#endif							/* PGR_PHASES_H */
