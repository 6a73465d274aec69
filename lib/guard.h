/*
 * guard.h: watching over the table while it is being rebuilt.
 *
 * From the end of the install to the swap, a dedicated connection (the
 * holder) keeps SHARE UPDATE EXCLUSIVE on the table in an open READ COMMITTED
 * transaction.  That lock lets every read and write of the application
 * through, but makes ALTER TABLE, VACUUM FULL, CLUSTER, CREATE INDEX or a
 * second pg_rebuild wait instead of racing the rebuild.  Idle between
 * statements, the transaction holds no snapshot, so it does not hold back
 * vacuum.  The swap upgrades the lock to ACCESS EXCLUSIVE in that same
 * transaction (under a savepoint, so a timed-out attempt keeps the lock),
 * which is why the holder cannot deadlock with our own swap.
 *
 * A DDL statement waiting behind that lock is dangerous: its waiting
 * ACCESS EXCLUSIVE (or SHARE) request makes every later query of the
 * application queue behind it.  guard_tick finds such waiters, reports them
 * and cancels their statement; if it may not cancel them, it stops the run so
 * that the application is blocked for at most one tick.
 */
#ifndef PGR_GUARD_H
#define PGR_GUARD_H

#include <stdbool.h>

#include "catalog.h"
#include "conn.h"

#define GUARD_MAX_PIDS 80

/*
 * The locks that sessions hold or wait for on one table (the query's
 * parameter %oid, at this place in its text) in this database, each beside
 * what pg_stat_activity shows of its session (a.*, NULL where it shows
 * nothing to this role): the FROM and WHERE of every query that names who
 * blocks the table or waits on it.  Append " AND ..." and the rest.
 */
#define TABLE_LOCKS_SQL \
	"FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid " \
	"WHERE l.locktype = 'relation' AND l.relation = %oid " \
	"AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) "

typedef struct Guard
{
	Conn	   *holder;			/* owned by the caller */
	const TableDesc *table;
	const char *lock_sql;		/* LOCK TABLE ... IN SHARE UPDATE EXCLUSIVE MODE (the plan's) */
	int			our_pids[GUARD_MAX_PIDS];	/* our own sessions: never reported or canceled */
	int			n_our_pids;
	double		last_tick;
	bool		stop;			/* the run must stop (already logged) */
} Guard;

/* lock_sql is the plan's statement for the lock; it must outlive g. */
void		guard_init(Guard *g, const TableDesc *t, const char *lock_sql);
void		guard_add_pid(Guard *g, int pid);

/*
 * Takes SHARE UPDATE EXCLUSIVE on the table in a transaction left open on
 * holder, waiting at most wait_timeout_s.  (A waiting SHARE UPDATE EXCLUSIVE
 * request blocks no application read or write, so it may wait long; it
 * outlasts deadlock_timeout, which makes an ordinary autovacuum of the table
 * give way.)  False on failure, logged.
 */
bool		guard_acquire(Guard *g, Conn *holder, double wait_timeout_s) __attribute__((warn_unused_result));

/*
 * Checks (at most every 200 ms) for sessions queued behind our lock with a
 * request that would block the application, reports and cancels them.
 * Returns false when the run must stop (g->stop, logged) or the holder
 * connection was lost (the caller checks conn_lost(g->holder)).
 */
/* The run's own backend pids as "{1,2,3}", for an int4[] parameter (newly allocated). */
char	   *guard_pid_array(const Guard *g);

bool		guard_tick(Guard *g);

/*
 * Warns about transactions that already hold a lock on the table and have
 * been open for more than a second: the trigger install and the swap must
 * wait for them.
 */
void		guard_report_long_transactions(Conn *c, const TableDesc *t);

/*
 * --kill-blockers: cancels (terminate == false) or terminates the sessions
 * holding a lock on the table, except ours, logging each pid and query.
 * Returns how many were signalled, -1 on a query failure.
 */
int			guard_signal_blockers(Guard *g, Conn *c, bool terminate);

#endif							/* PGR_GUARD_H */
