/*
 * control.h: steering a live run from outside, through its record in the
 * state schema (format 3: runs.paused, runs.swap_postponed).
 *
 * pg_rebuild --pause / --resume / --postpone-swap / --release-swap -t TABLE
 * sets the flag on the run of TABLE, acting as the table's owner (the only
 * role that may write its state schema).  The run reads the flags between
 * copy chunks and replay batches (a pause) and before its swap (a
 * postponed swap: it keeps replaying meanwhile).
 */
#ifndef PGR_CONTROL_H
#define PGR_CONTROL_H

#include <stdbool.h>

#include "conn.h"
#include "connect.h"

typedef enum ControlAction
{
	CONTROL_NONE = 0,
	CONTROL_PAUSE,
	CONTROL_RESUME,
	CONTROL_POSTPONE_SWAP,
	CONTROL_RELEASE_SWAP
} ControlAction;

/* The option that asks for a (--pause, ...). */
const char *control_option(ControlAction a);

/*
 * Sets a's flag on the run of table (schema may be NULL: the search_path);
 * returns the exit code: 0 done, 1 no such table, no run recorded for it,
 * or its record could not be written (all logged).
 */
int			control_main(ConnParams *params, const char *schema, const char *table, ControlAction a);

/*
 * The flags of run_id in state_schema, read on c (outside any snapshot
 * older than the statement).  False (error kept in c) on failure.
 */
bool		control_read(Conn *c, const char *state_schema, long long run_id, bool *paused, bool *swap_postponed)
	__attribute__((warn_unused_result));

#endif /* PGR_CONTROL_H */
