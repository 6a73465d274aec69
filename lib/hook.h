/*
 * hook.h: --hook=COMMAND, a command of the user's run at named moments of a
 * run (before the copy, before the swap, after the swap, on failure).
 *
 * A hook is run with /bin/sh -c COMMAND, as given: nothing of the run is
 * ever put into the command's text.  What it needs comes as data: the
 * event's JSON object (docs/events.md) on its standard input, and
 * environment variables (PGR_EVENT, PGR_TABLE, ...).  It runs in a process
 * group of its own; its standard output and standard error are captured
 * (the end of them is reported), so that it never writes into pg_rebuild's
 * own output.  One that outlives --hook-timeout is sent SIGTERM, then
 * SIGKILL, as a group.
 */
#ifndef PGR_HOOK_H
#define PGR_HOOK_H

#include <stdbool.h>

#define PGR_DEFAULT_HOOK_TIMEOUT_S 30.0
/* Between SIGTERM and SIGKILL to a hook that outlived its timeout. */
#define PGR_HOOK_KILL_GRACE_S 2.0

typedef enum HookEvent
{
	HOOK_BEFORE_COPY,
	HOOK_BEFORE_SWAP, /* the one whose refusal (exit not 0) postpones the swap */
	HOOK_AFTER_SWAP,
	HOOK_FAILURE,
	HOOK_EVENT_COUNT
} HookEvent;

/* The hooks of a command, in the order given (the commands are borrowed). */
typedef struct HookSettings
{
	char **commands;
	int	   n;
	double timeout_s;
} HookSettings;

/* One environment variable given to a hook (both strings borrowed). */
typedef struct HookVar
{
	const char *name;
	const char *value;
} HookVar;

/* How one hook ended. */
typedef struct HookResult
{
	bool   ok;			 /* exited 0 */
	int	   exit_code;	 /* when it exited; -1 otherwise */
	int	   signal;		 /* the signal that ended it, or 0 */
	bool   timed_out;	 /* outlived the timeout and was killed */
	bool   sigkilled;	 /* ... and SIGTERM did not end it: SIGKILL did */
	bool   interrupted;	 /* ended so because the run stops (SIGINT, SIGTERM, the guard), not for its time */
	bool   start_failed; /* could not be started (errno_text says why) */
	char   errno_text[128];
	double seconds;
	char  *output; /* the end of what it wrote on stdout and stderr; owned */
} HookResult;

/* "before-copy", "before-swap", "after-swap", "failure". */
const char *hook_event_name(HookEvent ev);

/*
 * Runs command with json on its standard input and vars added to the
 * environment (replacing variables of the same names), waits for it at
 * most timeout_s, and fills *res (free with hook_result_free).  Returns
 * res->ok.  The wait hook (cancel.h) is called about every 100 ms
 * meanwhile, as in a sleep; when it says stop, or a signal to pg_rebuild
 * (SIGINT, SIGTERM) is met, the hook is ended as a timeout does.
 */
bool		hook_run(const char *command, const char *json, const HookVar *vars, int nvars, double timeout_s,
					 HookResult *res);
void		hook_result_free(HookResult *res);

/* "exited with code 3", "was killed by signal 9", "did not finish within --hook-timeout 30 s: killed". */
char	   *hook_describe(const HookResult *res, double timeout_s);

/*
 * Runs the hooks of hs for ev in turn, each reported as a "hook" event
 * (shown with --verbose).  At before-swap the first hook that fails stops
 * the round: false, with its result in *refusal (free it) and its command
 * in *refused_by, for the caller to postpone the swap.  At the other
 * events a failing hook is a warning, the run goes on, the other hooks
 * run, and the return is true.  No hooks: true.
 */
bool		hooks_fire(const HookSettings *hs, HookEvent ev, const char *json, const HookVar *vars, int nvars,
					   HookResult *refusal, const char **refused_by);

#endif /* PGR_HOOK_H */
