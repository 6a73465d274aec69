/*
 * cleanup.h: removing what a run recorded.
 *
 * Every object a run creates is recorded (state.h) in the transaction that
 * creates it.  The finish of a run that swapped, the failure path of one
 * that did not, and --cleanup of a dead run all remove a run's objects the
 * same way: in the order of objects.h, each in its own short transaction
 * under --lock-timeout, forgotten in the transaction that removes it.
 */
#ifndef PGR_CLEANUP_H
#define PGR_CLEANUP_H

#include <stdbool.h>

#include "connect.h"
#include "run.h"
#include "state.h"
#include "str.h"

/*
 * Removes every object recorded for run_id; lock waits use lock_timeout_ms
 * per attempt and give up after wait_timeout_s.  Adds one line per object to
 * removed ("removed trigger ...", "validated foreign key ...").  When
 * everything is gone, deletes the run's record too.  Returns false if
 * anything remains (the reason was logged).  A capture trigger that cannot
 * be dropped is disabled instead, and its function and log table stay with
 * it (a trigger must never write into a table that is gone).
 */
bool		cleanup_run_objects(Conn *c, const char *tool_schema, long long run_id, int lock_timeout_ms,
								double wait_timeout_s, StrVec *removed) __attribute__((warn_unused_result));

/* The finish phase: remove the run's objects (the old table among them) and read the new sizes. */
bool		finish_phase(Run *r) __attribute__((warn_unused_result));

/* What --cleanup and --status look at. */
typedef struct CleanupRequest
{
	ConnParams *params;
	const char *tool_schema;
	const char *schema;			/* the table's, or NULL */
	const char *table;			/* NULL: every run */
	const char *table_arg;		/* -t as given, for messages */
	bool		dry_run;		/* --cleanup --dry-run: say what would be removed */
	int			lock_timeout_ms;
	double		wait_timeout_s;
} CleanupRequest;

/* The recorded runs, for --status. */
typedef struct RunList
{
	bool		schema_exists;	/* false: the database has never seen a run */
	char	   *dbname;
	RunInfo    *runs;
	int			n;
} RunList;

/*
 * --cleanup: removes what the dead runs (of req->table, or all) left.
 * Returns the exit code: 0 when nothing is left, 3 when something remains
 * (a live run's objects are not touched, but a dry run counts as left), 1
 * on failure.
 */
int			cleanup_main(const CleanupRequest *req);

/* --status: reads the recorded runs; false (logged) on failure. */
bool		status_read(const CleanupRequest *req, RunList *out) __attribute__((warn_unused_result));
void		run_list_free(RunList *l);

#endif							/* PGR_CLEANUP_H */
