/*
 * conn.h: connections and the query layer (libpq + libpqtypes).
 *
 * Every connection is set up the same way: application_name pg_rebuild,
 * client_encoding UTF8, a search_path of pg_catalog then pg_temp (so every
 * name we do not qualify resolves to the system catalog, never to an object
 * an application role could plant), row_security off (so a forced policy
 * makes our reads fail loudly instead of dropping rows), and no
 * statement_timeout / idle_in_transaction_session_timeout inherited from the
 * server's defaults.
 *
 * Query functions do not log errors: the last error is kept in the Conn so
 * that callers can tell an expected failure (a lock timeout) from a real one
 * and report it with context (conn_report).
 */
#ifndef PGR_CONN_H
#define PGR_CONN_H

#include <libpq-fe.h>
#include <libpqtypes.h>
#include <signal.h>
#include <stdbool.h>

#include "options.h"
#include "str.h"

/* Where to connect; filled from the options.  Owned by the caller. */
typedef struct ConnParams
{
	const char *dbname;
	const char *host;
	const char *port;
	const char *user;
	PromptPassword prompt;
	char	   *password;		/* prompted once, then reused for every connection */
	double		retry_timeout_s;	/* keep retrying an unreachable server this long */
	char	   *startup_options;	/* computed by conn_open: the user's options plus ours */
} ConnParams;

typedef struct ConnRecording ConnRecording;

typedef struct Conn
{
	PGconn	   *pg;
	char		label[32];		/* "main", "copy 2", ... for --echo and messages */
	char		sqlstate[6];	/* of the last failure, "" if none */
	char	   *message;		/* of the last failure */
	char	   *detail;
	char	   *hint;
	char	   *column;			/* PG_DIAG_COLUMN_NAME of the last failure */
	char	   *constraint;
	int			cancel_slot;	/* index in the interrupt registry, -1 if none */
	bool		busy;			/* a statement is running (the wait hook must not use it) */
	ConnRecording *recording;	/* see conn_record_start */
	bool		batching;		/* see conn_batch_begin */
	bool		batch_failed;	/* a statement of the batch could not be sent */
	int			batch_n;		/* statements sent in the batch */
	int			batch_keep;		/* the one whose rows conn_batch_end returns */
	PGresult   *batch_kept;		/* its rows, without pipeline mode */
} Conn;

/* Set by SIGINT / SIGTERM (see conn_install_signal_handlers). */
extern volatile sig_atomic_t pgr_interrupted;

/*
 * Installs SIGINT and SIGTERM handlers that set pgr_interrupted and send a
 * cancel request to every open connection, so a long copy or index build
 * stops at once and the caller's error path can clean up.
 */
void		conn_install_signal_handlers(void);

/*
 * Opens a connection with the session settings above.  While the server
 * cannot be reached (down, restarting, not accepting connections yet) it
 * retries with exponential backoff and jitter, reporting each wait, for at
 * most params->retry_timeout_s; a refusal by a running server (bad password,
 * unknown database or role) is not retried.  Logs the failure and returns
 * NULL when it cannot connect.  The caller owns the Conn and closes
 * it with conn_close.
 */
Conn	   *conn_open(ConnParams *params, const char *label) __attribute__((warn_unused_result));
void		conn_close(Conn *c);
/*
 * Where params point, for messages: the value of keyword ("dbname", "host",
 * "port" or "user") given by an option or inside a connection string, or
 * NULL (libpq's defaults then apply).  Never the password.  Caller frees.
 */
char	   *conn_target_value(const ConnParams *p, const char *keyword);
/* True when the connection is still usable. */
bool		conn_ok(const Conn *c);
int			conn_server_version(const Conn *c);
/* The server process of the connection. */
int			conn_backend_pid(const Conn *c);

/*
 * True when the last failure on c means the connection (or the server) went
 * away, so that reconnecting may let the run go on: the connection is
 * broken, or the error is of class 08 (connection exception) or 57P01-57P03
 * (administrator or crash shutdown, cannot connect now).
 */
bool		conn_lost(const Conn *c);

/*
 * Runs sql (typically ROLLBACK) ignoring any failure, and keeps the error
 * recorded from before, so it can still be reported.  A ROLLBACK is not
 * sent when the session is in no transaction.
 */
void		conn_best_effort(Conn *c, const char *sql);

/* Runs one or more statements that return no rows; false on failure. */
bool		conn_command(Conn *c, const char *sql) __attribute__((warn_unused_result));
bool		conn_commandv(Conn *c, const char *fmt, ...) PGR_PRINTF(2, 3) __attribute__((warn_unused_result));
/*
 * Runs one statement with text parameters $1..$n (for generated SQL that
 * holds user identifiers and so must not pass through a libpqtypes spec).
 * *affected (may be NULL) gets the number of rows affected.
 */
bool		conn_command_params(Conn *c, const char *sql, int nparams, const char *const *values,
								long long *affected) __attribute__((warn_unused_result));
/* Runs a query returning rows (text format); NULL on failure.  Caller PQclear()s. */
PGresult   *conn_query(Conn *c, const char *sql) __attribute__((warn_unused_result));
/*
 * Runs a libpqtypes spec ("SELECT ... WHERE c.oid = %oid") with its values
 * as parameters; the result is in binary format for PQgetf.  NULL on failure.
 */
PGresult   *conn_queryf(Conn *c, const char *spec, ...) __attribute__((warn_unused_result));
/* Same, for commands (no rows wanted). */
bool		conn_execf(Conn *c, const char *spec, ...) __attribute__((warn_unused_result));

/*
 * Recording: from conn_record_start to conn_record_stop, every conn_queryf
 * and conn_execf on c is kept, its statement, its parameters and an exact
 * image of its result.  conn_record_check later runs them all again in one
 * round trip (libpq pipeline mode; one by one with an older libpq) and sets
 * *same when every one of them returned exactly what it returned the first
 * time.  While recording, statements whose parameter types are known are
 * prepared (named pgr_rec_<n>) with generic plans (plan_cache_mode is
 * force_generic_plan from start to stop, and during the check, with SET
 * LOCAL: c must be in a transaction block), so the check runs no planner.  Statements that read the catalog one after the other, each taking
 * its parameters from the results before, are then known to give the same
 * answers as a fresh read: the swap reads the catalog before it takes its
 * lock, and under the lock only checks that nothing changed.
 * conn_record_start and conn_record_stop return false on a failure
 * (error recorded in c; stop still hands the recording over).
 * conn_record_check returns false on a failure (error recorded in c);
 * *same is false when the recording cannot vouch (a statement failed while
 * it was recorded).
 */
bool		conn_record_start(Conn *c) __attribute__((warn_unused_result));
bool		conn_record_stop(Conn *c, ConnRecording **out) __attribute__((warn_unused_result));
bool		conn_record_check(Conn *c, const ConnRecording *r, bool *same)
			__attribute__((warn_unused_result));
/*
 * Batches: between conn_batch_begin and conn_batch_end, conn_command (one
 * statement per call), conn_command_params, conn_execf and conn_batch_query
 * only send their statement and return true (rows affected read as 0); the
 * results are read by conn_batch_end, all in one round trip (libpq pipeline
 * mode), which returns false at the first failure (error recorded in c) and
 * gives the rows of the conn_batch_query statement in *kept (may be NULL;
 * caller PQclear()s).  conn_queryf fails inside a batch.  Without pipeline
 * mode (libpq before 14) everything runs as it comes.
 */
bool		conn_batch_begin(Conn *c) __attribute__((warn_unused_result));
bool		conn_batch_query(Conn *c, const char *sql) __attribute__((warn_unused_result));
bool		conn_batch_end(Conn *c, PGresult **kept) __attribute__((warn_unused_result));

/*
 * Reads that must not be recorded (sizes, which change with every write):
 * between conn_record_suspend and conn_record_resume(c, what it returned).
 */
ConnRecording *conn_record_suspend(Conn *c);
void		conn_record_resume(Conn *c, ConnRecording *r);

/* Frees r and deallocates its prepared statements on c (c may be NULL). */
void		conn_record_free(Conn *c, ConnRecording *r);

/* Logs the last error as "error: <what>: <message>", then its detail and hint. */
void		conn_report(const Conn *c, const char *what);
/* The last failure's SQLSTATE equals code. */
bool		conn_failed_with(const Conn *c, const char *code);
/* Clears the recorded error. */
void		conn_clear_error(Conn *c);

/*
 * Sends sql without waiting (for parallel work); collect with conn_collect.
 */
bool		conn_send(Conn *c, const char *sql) __attribute__((warn_unused_result));
/*
 * Reads whatever input has arrived; returns true when the command sent by
 * conn_send is complete, then *ok says whether it succeeded and *affected
 * holds the sum of rows affected.  Returns false while still busy.
 */
bool		conn_collect(Conn *c, bool *ok, long long *affected);
/* Blocks until one of the sockets is readable or timeout_ms passes. */
void		conn_wait_any(Conn **conns, int n, int timeout_ms);

/*
 * A function called about every 200 ms while a statement runs long or
 * pg_rebuild sleeps (the guard's check, so that a DDL statement queued
 * behind our lock is noticed whatever we are doing).  When it returns false,
 * the running statement is canceled and the sleep ends.  It is never called
 * from within itself.  NULL to remove.
 */
void		conn_set_wait_hook(bool (*hook) (void *arg), void *arg);

/*
 * Version-specific SQL is kept in tables of these, newest first, ending with
 * an entry of min_version 0; conn_versioned picks the first entry the
 * server of c reaches.
 */
typedef struct VersionedSql
{
	int			min_version;
	const char *sql;
} VersionedSql;

const char *conn_versioned(const Conn *c, const VersionedSql *list);

/* Sleeps for ms milliseconds unless interrupted. */
void		pgr_sleep_ms(double ms);
/* Monotonic clock in seconds. */
double		pgr_now(void);



/*
 * Typed readers over a binary result of conn_queryf (libpqtypes PQgetf).
 * res_text returns a newly allocated string, or NULL for SQL NULL.
 */
char	   *res_text(const PGresult *res, int row, int col);
int			res_int4(const PGresult *res, int row, int col);
long long	res_int8(const PGresult *res, int row, int col);
double		res_float8(const PGresult *res, int row, int col);
bool		res_bool(const PGresult *res, int row, int col);
Oid			res_oid(const PGresult *res, int row, int col);
bool		res_isnull(const PGresult *res, int row, int col);

/*
 * Runs each of tasks[0..ntasks) on one of the nconns connections, at most
 * one task per connection at a time, until all are done or one fails.  A
 * task is a string of SQL that may hold several statements (its own BEGIN
 * and COMMIT).  After each finished task, on_done(arg, task, affected) is
 * called (may be NULL).  On failure of a task it waits for the others in
 * flight, rolls back the failed connection's transaction, stores the error
 * in *failed (which points to the failing Conn) and returns false.
 */
typedef void (*PoolDoneFn) (void *arg, int task, long long affected);
/*
 * Called about every 200 ms while the pool waits; returning false stops the
 * pool: tasks in flight are canceled, and conn_pool_run returns false with
 * *failed = NULL (the tick function reported why).
 */
typedef bool (*PoolTickFn) (void *arg);
bool		conn_pool_run(Conn **conns, int nconns, char *const *tasks, int ntasks,
						  PoolDoneFn on_done, void *arg, PoolTickFn tick, void *tick_arg,
						  Conn **failed) __attribute__((warn_unused_result));

/*
 * Test-only: when the environment variable PGR_TEST_SLEEP_<POINT> holds a
 * number of milliseconds, sleeps that long at the named point.  Lets tests
 * make a phase last long enough for concurrent writes to overlap it.  With
 * PGR_TEST_SLEEP_<POINT>_TIMES=n, only the first n times.  With
 * PGR_TEST_WAIT_<POINT>=FILE it waits instead until FILE exists, so that a
 * test acts on the paused run and then lets it go on (no time window).
 */
void		pgr_test_pause(const char *point);

/* Sets the role on the connection (SET ROLE), when role is not NULL. */
bool		conn_set_role(Conn *c, const char *role) __attribute__((warn_unused_result));

#endif							/* PGR_CONN_H */
