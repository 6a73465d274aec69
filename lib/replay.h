/*
 * replay.h: applying the capture log to the shadow table.
 *
 * A batch takes the first N log entries visible to one REPEATABLE READ
 * snapshot (up to id U), deletes their keys from the shadow, re-inserts what
 * the table holds for those keys in that same snapshot, and deletes the
 * entries.  Because the three statements share one snapshot, an entry is
 * deleted only when the change it records has been read; entries of
 * transactions still in flight (even with smaller ids) stay for a later
 * batch.  Re-applying a key is harmless, so the order of batches does not
 * matter and a change logged twice is applied correctly.
 */
#ifndef PGR_REPLAY_H
#define PGR_REPLAY_H

#include <stdbool.h>

#include "catalog.h"
#include "changes.h"
#include "conn.h"
#include "plan.h"

typedef struct Run Run;

/*
 * The reconcile phase, between the copy and the index builds.  The copy's
 * chunks each had their own snapshot, so the shadow may hold two versions
 * of one key, or one unique value twice, or miss a row; each such key is
 * logged.  The replay key's index is built without UNIQUE (the replay's key
 * match probes it), batches run while they are full, then one batch applies
 * every entry its snapshot S sees.  After it the shadow holds exactly what
 * the table holds in S (docs/architecture.md, "The copy"), so the unique
 * indexes can be built.  The plain index is dropped with the constraints.
 */
bool		reconcile_phase(Run *r) __attribute__((warn_unused_result));

/*
 * The replay phase: batches until one is small, ANALYZE of the shadow,
 * batches again (the swap replays the rest under its lock), measuring the
 * apply rate (r->rate).  Stops the run when the backlog has not shrunk for
 * --catchup-timeout.
 */
bool		replay_phase(Run *r) __attribute__((warn_unused_result));

/*
 * Applies one batch of at most limit entries (limit 0: every entry its
 * snapshot sees).  Returns the number of log
 * entries consumed (0 when none was visible), or -1 on failure (error kept
 * in c; the transaction was rolled back).
 */
long long	replay_batch(Conn *c, const Plan *plan, long long limit) __attribute__((warn_unused_result));

/*
 * Applies every remaining entry inside the caller's transaction (the swap,
 * with the table locked so nothing new arrives).  Returns the entries
 * applied, or -1 on failure.
 */
long long	replay_rest_in_transaction(Conn *c, const Plan *plan) __attribute__((warn_unused_result));

/* Estimated number of entries waiting in the log; -1 on failure. */
long long	replay_backlog(Conn *c, const Plan *plan) __attribute__((warn_unused_result));

/*
 * The number of entries in the log that c's statement sees, counting at
 * most limit + 1 (so that a burst of millions costs no more than the budget
 * to count): a cheap "more than limit?" that can run under the swap's lock.
 * -1 on failure.
 */
long long	replay_backlog_upto(Conn *c, const Plan *plan, long long limit) __attribute__((warn_unused_result));

/*
 * How fast this run applies log entries, measured on its own batches, so
 * that the swap can tell how long a backlog would hold ACCESS EXCLUSIVE.
 */
typedef struct ReplayRate
{
	double		entries;		/* measured so far (decaying: recent batches weigh most) */
	double		seconds;
} ReplayRate;

/* Applies one batch (replay_batch) and adds its entries and duration to rate. */
long long	replay_batch_timed(Conn *c, const Plan *plan, long long limit, ReplayRate *rate)
			__attribute__((warn_unused_result));
/* Entries per second; a cautious guess until a batch of some size was measured. */
double		replay_rate_per_s(const ReplayRate *rate);
/*
 * How many entries may be left for the swap to apply under ACCESS
 * EXCLUSIVE so that applying them is expected to take at most half of
 * max_lock_ms (the other half is the rest of the swap); at least 1.
 */
long long	replay_lock_budget(const ReplayRate *rate, int max_lock_ms);

#define REPLAY_BATCH_DEFAULT 20000

typedef struct Run Run;

/* Replays batches until the backlog is small (as the replay phase ends); false (reported) on failure. */
bool		replay_keep_up(Run *r) __attribute__((warn_unused_result));

/*
 * When failed's last error is a not-null violation in one of the
 * columns made NOT NULL by the changes (the application wrote a NULL there during the
 * run), reports it as such, naming the column and the key of a row that holds
 * the NULL now (read on q, outside any failed transaction), and returns true.
 * Otherwise reports nothing and returns false.
 */
bool		replay_report_null(const Conn *failed, Conn *q, const TableDesc *t, const ChangeSet *changes);

/*
 * With --alter, when failed's last error is one a change can raise on a row
 * (a USING expression or an assignment cast failing: class 22; a new CHECK:
 * 23514), finds the row on q (outside any failed transaction): one by one,
 * the rows whose keys are logged (written during the run), then the others,
 * are copied into a temporary table shaped like the shadow until one fails
 * with the same error; reports it with its key and returns true.  Otherwise
 * (or when no row fails any more) reports nothing and returns false.  The
 * transaction it runs in on q is rolled back.
 */
bool		replay_report_row(const Conn *failed, Conn *q, const TableDesc *t, const ChangeSet *changes,
							  const Plan *plan);

#endif							/* PGR_REPLAY_H */
