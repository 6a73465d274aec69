/*
 * pool.h: parallel work over several connections (the copy's chunks, the
 * index builds), one statement in flight per connection.
 */
#ifndef PGR_POOL_H
#define PGR_POOL_H

#include <stdbool.h>

#include "conn.h"

/*
 * Sends sql without waiting (for parallel work); collect with conn_collect.
 * false when it could not be sent (error recorded in c).
 */
bool conn_send(Conn *c, const char *sql) __attribute__((warn_unused_result));
/*
 * Reads whatever input has arrived; returns true when the command sent by
 * conn_send is complete, then *ok says whether it succeeded (the first
 * failure recorded in c) and *affected holds the sum of rows affected.
 * Returns false while still busy.
 */
bool conn_collect(Conn *c, bool *ok, long long *affected);
/*
 * Blocks until one of the sockets is readable or timeout_ms passes; NULL
 * entries are skipped.
 */
void conn_wait_any(Conn **conns, int n, int timeout_ms);

/*
 * Runs each of tasks[0..ntasks) on one of the nconns connections, at most
 * one task per connection at a time, until all are done or one fails.  A
 * task is a string of SQL that may hold several statements (its own BEGIN
 * and COMMIT).  After each finished task, on_done(arg, task, affected) is
 * called (may be NULL).  On failure of a task it waits for the others in
 * flight, rolls back the failed connection's transaction, stores the error
 * in *failed (which points to the failing Conn) and returns false.  An
 * interrupt (see cancel.h) ends the pool the same way, its error recorded
 * on the first connection (SQLSTATE 57014).  Connections and tasks stay the
 * caller's.
 */
typedef void (*PoolDoneFn)(void *arg, int task, long long affected);
/*
 * Called about every 200 ms while the pool waits; returning false stops the
 * pool: tasks in flight are canceled, and conn_pool_run returns false with
 * *failed = NULL (the tick function reported why).
 */
typedef bool (*PoolTickFn)(void *arg);
bool conn_pool_run(Conn **conns, int nconns, char *const *tasks, int ntasks,
				   PoolDoneFn on_done, void *arg, PoolTickFn tick, void *tick_arg,
				   Conn **failed) __attribute__((warn_unused_result));

#endif /* PGR_POOL_H */
