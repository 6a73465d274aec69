/* phases.c: the phases of a run, in order, with their functions. */
#include "phases.h"

#include <string.h>

#include "cleanup.h"
#include "copy.h"
#include "index.h"
#include "inplace.h"
#include "install.h"
#include "replay.h"
#include "swap.h"

static const PhaseDef phases[PHASE_COUNT] = {
	{PHASE_PREFLIGHT, "preflight", NULL, NULL, PHASE_PREFLIGHT},
	{PHASE_INSTALL, "install", "install", install_phase, PHASE_INSTALL},
	{PHASE_COPY, "copy", "copy", copy_phase, PHASE_COPY},
	/* the shadow is made again */
	{PHASE_RECONCILE, "reconcile", "reconcile", reconcile_phase, PHASE_COPY},
	{PHASE_INDEX, "index", "index", index_phase, PHASE_COPY},
	{PHASE_REPLAY, "replay", "replay", replay_phase, PHASE_REPLAY},
	{PHASE_SWAP, "swap", "swap", swap_phase, PHASE_SWAP},
	{PHASE_FINISH, "finish", "swapped", finish_phase, PHASE_FINISH},
	/* in place: a lost connection stops the run (its failure path drops the CHECK) */
	{PHASE_NN_CHECK, "add check", "in-place check", inplace_check_phase, PHASE_NN_CHECK},
	{PHASE_NN_VALIDATE, "validate", "in-place validate", inplace_validate_phase, PHASE_NN_VALIDATE},
	{PHASE_NN_SET, "set not null", "in-place set", inplace_set_phase, PHASE_NN_SET},
};

static const Phase rebuild_phases[] = {
	PHASE_INSTALL, PHASE_COPY, PHASE_RECONCILE, PHASE_INDEX, PHASE_REPLAY, PHASE_SWAP, PHASE_FINISH
};

static const Phase in_place_phases[] = {
	PHASE_NN_CHECK, PHASE_NN_VALIDATE, PHASE_NN_SET, PHASE_FINISH
};

const Phase *
phase_list(RunMode m, int *n)
{
	if (m == MODE_IN_PLACE)
	{
		*n = (int) (sizeof(in_place_phases) / sizeof(in_place_phases[0]));
		return in_place_phases;
	}
	*n = (int) (sizeof(rebuild_phases) / sizeof(rebuild_phases[0]));
	return rebuild_phases;
}

const PhaseDef *
phase_def(Phase p)
{
	return (p >= 0 && p < PHASE_COUNT) ? &phases[p] : NULL;
}

const char *
phase_name(Phase p)
{
	return (p >= 0 && p < PHASE_COUNT) ? phases[p].name : "?";
}

bool
phase_from_recorded(const char *s, Phase *p)
{
	for (int i = 0; i < PHASE_COUNT; i++)
		if (phases[i].recorded && s && strcmp(phases[i].recorded, s) == 0)
		{
			*p = phases[i].phase;
			return true;
		}
	return false;
}
