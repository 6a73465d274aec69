/* phases.c: the phases of a run, in order, with their functions. */
#include "phases.h"

#include <string.h>

#include "cleanup.h"
#include "copy.h"
#include "index.h"
#include "install.h"
#include "replay.h"
#include "swap.h"

static const PhaseDef phases[PHASE_COUNT] = {
	{PHASE_PREFLIGHT, "preflight", NULL, NULL, PHASE_PREFLIGHT},
	{PHASE_INSTALL, "install", "install", install_phase, PHASE_INSTALL},
	{PHASE_COPY, "copy", "copy", copy_phase, PHASE_COPY},
	{PHASE_INDEX, "index", "index", index_phase, PHASE_COPY},	/* the shadow is made again */
	{PHASE_REPLAY, "replay", "replay", replay_phase, PHASE_REPLAY},
	{PHASE_SWAP, "swap", "swap", swap_phase, PHASE_SWAP},
	{PHASE_FINISH, "finish", "swapped", finish_phase, PHASE_FINISH},
};

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
