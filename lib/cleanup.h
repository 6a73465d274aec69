/*
 * cleanup.h: removing what a run recorded.
 *
 * Every object a run creates is recorded by OID (state.h) in the
 * transaction that creates it.  The finish of a run that swapped, the
 * failure path of one that did not, and --cleanup of a dead run all remove
 * a run's objects the same way: in the order of objects.h, each in its own
 * short transaction under --lock-timeout, and only when it is proven the
 * run's own (objects.h: recorded OID, name, owner, mark), forgotten in the
 * transaction that removes it.
 *
 * --status and --cleanup look at every state schema of the database (each
 * role's, and the shared one of format version 1).  Each is read and
 * written only as its owner (SET ROLE), only after state_lock_and_check
 * found it sound, and no function of it is ever called.  A schema whose
 * owner the current role may not act as is not read: they say so, with the
 * GRANT or the role that would let them.
 */
#ifndef PGR_CLEANUP_H
#define PGR_CLEANUP_H

#include <stdbool.h>

#include "connect.h"
#include "run.h"
#include "state.h"
#include "str.h"

/*
 * Removes every object recorded for run_id (on the table with OID relid) in
 * s, acting as s's owner (the caller's connection is); lock waits use
 * lock_timeout_ms per attempt and give up after wait_timeout_s.  Adds one
 * line per object to removed ("removed trigger ...", "validated foreign key
 * ...").  When everything is gone, deletes the run's record too.  Returns
 * false if anything remains, after logging why: as an error on the last
 * try, as a warning saying it will be tried again otherwise (last_try
 * false: the caller tries again).  An object that cannot be proven the
 * run's own is left alone and stays recorded.  A capture trigger that
 * cannot be dropped is disabled instead if it can be (the message says
 * whether it still logs), and its function and log table stay with it: a
 * trigger never writes into a table that is gone.
 *
 * keep_old (--keep-old): the old table is left as it is, and with it the
 * run's record, so that --cleanup drops it later; true then means that
 * everything else is gone.
 */
bool		cleanup_run_objects(Conn *c, const StateSchema *s, long long run_id, unsigned int relid,
								int lock_timeout_ms, double wait_timeout_s, bool last_try, bool keep_old,
								StrVec *removed)
			__attribute__((warn_unused_result));

/*
 * The finish phase: remove the run's objects (the old table among them) and
 * read the new sizes.  What it cannot remove, it leaves to the failure path
 * (run_fail), which tries once more.
 */
bool		finish_phase(Run *r) __attribute__((warn_unused_result));

/*
 * Once the objects of a run whose swap committed are all removed (by the
 * finish, or by the failure path's second try, which passes note): forgets
 * the run, reads the new sizes and ends the finish phase's line.
 */
void		finish_done(Run *r, const char *note);

/* What --cleanup and --status look at. */
typedef struct CleanupRequest
{
	ConnParams *params;
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
	char	   *dbname;
	char	   *connection_args;	/* " -d ... -h ... -p ... -U ...", for the --cleanup hint */
	RunInfo    *runs;
	int			n;
	int			nschemas;		/* state schemas in the database */
	int			nunseen;		/* of which the role may not read (a warning said which) */
	int			nuntrusted;		/* of which were not trusted (an error said why) */
	bool		table_unseen;	/* -t: the table's runs may be in a schema the role may not read */
} RunList;

/*
 * --cleanup: removes what the dead runs (of req->table, or all) left.
 * Returns the exit code: 0 when no dead run's object is left, 3 when some
 * remain (not all could be removed; with --dry-run, as --status does:
 * there are dead runs to clean up), 1 on failure or when a state schema
 * could not be used (not trusted, or the table's runs are in a schema the
 * role may not read).  A live run's objects are not touched and do not
 * count.
 */
int			cleanup_main(const CleanupRequest *req);

/* --status: reads the recorded runs; false (logged) on failure. */
bool		status_read(const CleanupRequest *req, RunList *out) __attribute__((warn_unused_result));
void		run_list_free(RunList *l);

#endif							/* PGR_CLEANUP_H */
