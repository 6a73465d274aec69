/*
 * conn_int.h: what the files of the connection layer (conn.c, connect.c,
 * pipeline.c, record.c, pool.c) share with one another; not for callers.
 *
 * The query functions of conn.c behave differently in a batch or while
 * recording, and the batch and recording code reads results the way conn.c
 * does: these are the few functions they call across files.
 */
#ifndef PGR_CONN_INT_H
#define PGR_CONN_INT_H

#include <stdarg.h>

#include "conn.h"

/* conn.c */

/* Records the error of res (or of the connection if res is NULL) in c. */
void	  conn_set_error(Conn *c, const PGresult *res);
/* Records an error of pg_rebuild's own with this SQLSTATE; takes message. */
void	  conn_set_error_text(Conn *c, const char *sqlstate, char *message);
/*
 * Waits for the statement sent on c, reading input as it comes, and calls
 * the wait hook while it runs long; cancels the statement when the hook says
 * so.
 */
void	  conn_await(Conn *c);
/*
 * Reads every result of the statement(s) sent on c; the first failure
 * counts.  Returns the last result when all succeeded (caller clears it),
 * NULL otherwise (error recorded in c).
 */
PGresult *conn_await_results(Conn *c, ExecStatusType want);
/*
 * The parameters and the statement ($1, $2, ...) of a libpqtypes spec; NULL
 * (error recorded in c) when the spec cannot be used.  On success the caller
 * owns both (PQparamClear, free).
 */
PGparam	 *conn_spec_statement(Conn *c, const char *spec, va_list ap, char **stmt);

/* pipeline.c */

/* In a batch: sends sql with text parameters; the result is read at the end. */
bool	  batch_send(Conn *c, const char *sql, int nparams, const char *const *values);
/* In a batch: sends a libpqtypes spec; the result is read at the end. */
bool	  batch_send_spec(Conn *c, const char *spec, va_list ap);
/*
 * After a failure in pipeline mode: sync, read and drop whatever is left,
 * leave pipeline mode, so that the connection can run the caller's
 * ROLLBACK.  Does nothing when the connection is broken or not in a
 * pipeline (or libpq has no pipeline mode).
 */
void	  pipeline_abandon(Conn *c);

#ifdef HAVE_PQ_PIPELINE
/*
 * Ends a pipeline of n statements sent on c: syncs, reads each statement's
 * result and hands it to each(c, i, res, arg, &ok) (which records the first
 * failure and clears ok; res is cleared after the call), reads the sync and
 * leaves pipeline mode.  false when a statement failed or the connection
 * broke (error recorded in c).
 */
typedef void (*PipelineResultFn)(Conn *c, int i, PGresult *res, void *arg, bool *ok);

bool pipeline_finish(Conn *c, int n, PipelineResultFn each, void *arg);
/* For a PipelineResultFn: success is a command or rows. */
void pipeline_expect_success(Conn *c, PGresult *res, bool *ok);
#endif

/* record.c */

/*
 * Runs a statement of a libpqtypes spec for c's recording and keeps it with
 * an image of its result.  Takes stmt and param (the recording owns them).
 * Returns the result (caller PQclear()s) or NULL (error recorded in c).
 */
PGresult *record_run(Conn *c, ExecStatusType want, const char *spec, char *stmt, PGparam *param);

#endif /* PGR_CONN_INT_H */
