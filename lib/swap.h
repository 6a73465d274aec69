/*
 * swap.h: the swap phase, one short transaction.
 *
 *   -- (the holder's transaction, with SHARE UPDATE EXCLUSIVE since the install)
 *   SAVEPOINT pgr_swap; SET LOCAL lock_timeout = <--lock-timeout>;
 *   LOCK TABLE t IN ACCESS EXCLUSIVE MODE;
 *   -- the table's definition must be what preflight read (fingerprint)
 *   -- replay what is left of the log (nothing new can arrive now)
 *   -- drop the capture triggers, move sequences, rename t and its indexes
 *   -- away, rename the shadow and its indexes to the original names,
 *   -- grants, RLS flag; check privileges and pg_depend; record the state
 *   COMMIT;
 *
 * A lock attempt that times out is rolled back (to the savepoint) at once, so the application
 * never queues behind us for longer than the lock timeout; we then name the
 * sessions in the way, replay a batch so the backlog stays small, back off
 * with jitter and try again, until --wait-timeout.
 *
 * The work under the lock is bounded: before each attempt the backlog is
 * replayed (without the lock) until what is left fits --max-lock-time at
 * the measured apply rate; under the lock it is counted again first (a
 * transaction that committed while the lock was awaited adds its changes
 * only then), and when it is over the budget the lock is given back at once
 * and the rest replayed first.
 */
#ifndef PGR_SWAP_H
#define PGR_SWAP_H

#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "changes.h"
#include "conn.h"
#include "guard.h"
#include "plan.h"
#include "replay.h"

typedef struct SwapSettings
{
	int			lock_timeout_ms;
	double		wait_timeout_s;
	const char *tool_schema;
	long long	run_id;
	uint64_t	fingerprint;	/* of the table's description at preflight */
	uint64_t	dep_fingerprint;	/* of the dependents at preflight */
	const PlanInput *plan_input;	/* to plan the dependents again from what the swap reads */
	bool		kill_blockers;	/* after wait_timeout: cancel, then terminate, the blockers */
	const ChangeSet *changes;	/* to name an application NULL met by the last replay */
	Guard	   *guard;			/* its holder connection runs the swap transaction */
	int			max_lock_ms;	/* --max-lock-time: the backlog applied under the lock must fit it */
	double		catchup_timeout_s;	/* a backlog that stays above the budget this long stops the run */
	ReplayRate *rate;			/* the measured apply rate, updated by the swap's own batches */
	double		swap_deadline;	/* pgr_now() after which no lock attempt starts; 0: none */
} SwapSettings;

typedef struct SwapResult
{
	int			attempts;
	double		lock_held_ms;	/* from LOCK granted to COMMIT done */
	long long	final_entries;	/* log entries applied under the lock */
	long long	budget_entries; /* the most the last attempt would apply under the lock */
	bool		deadline_passed;	/* stopped before a lock attempt: swap_deadline had passed */
	int			released;		/* locks given back at once: more had arrived than the budget allows */
	bool		committed;
	bool		commit_unknown; /* the connection was lost during COMMIT: it may have gone through */
	bool		timed_out;		/* gave up after --wait-timeout */
} SwapResult;

typedef struct Run Run;

/* The swap phase: swap_run with the run's settings, in the holder's transaction. */
bool		swap_phase(Run *r) __attribute__((warn_unused_result));

/*
 * Runs the swap in the transaction that s->guard's holder opened (it holds
 * SHARE UPDATE EXCLUSIVE): each attempt is a savepoint, so a timed-out
 * attempt keeps that lock.  Between attempts, work replays a batch.  False
 * on failure (logged; the holder's transaction is rolled back, the table
 * unchanged).  *out is filled in either case.
 */
bool		swap_run(Conn *work, const TableDesc *t, const Plan *plan, const SwapSettings *s,
					 SwapResult *out) __attribute__((warn_unused_result));

/*
 * Logs the sessions that hold locks on the table (pid, mode, age of their
 * transaction, their query shortened), after a lock attempt for `what`
 * timed out.
 */
void		swap_report_blockers(Conn *c, const TableDesc *t, const char *what, int attempt,
								 double waited);

#endif							/* PGR_SWAP_H */
