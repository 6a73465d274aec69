/*
 * conn.h: a connection (Conn) and its query layer (libpq + libpqtypes).
 *
 * Connections are opened by conn_open (connect.h), which sets every session
 * up the same way.  Query functions do not log errors: the last error is
 * kept in the Conn so that callers can tell an expected failure (a lock
 * timeout) from a real one and report it with context (conn_report).
 *
 * The same functions also serve two modes of a Conn, each in its own file:
 * batches, which send statements now and read their results later in one
 * round trip (pipeline.h), and recordings, which keep what a series of
 * reads returned so that it can be checked again later (record.h).
 */
#ifndef PGR_CONN_H
#define PGR_CONN_H

#include <libpq-fe.h>
#include <libpqtypes.h>
#include <stdbool.h>
#include <stddef.h>

#include "str.h"

/* See record.h. */
typedef struct ConnRecording ConnRecording;

/*
 * One connection.  Callers read pg (for libpq calls of their own), label
 * and the last failure's fields; the rest belongs to the connection layer.
 */
typedef struct Conn
{
	PGconn		  *pg;			 /* the libpq connection */
	char		   label[32];	 /* "main", "copy 2", ... for --echo and messages */
	char		   sqlstate[6];	 /* of the last failure, "" if none */
	char		  *message;		 /* of the last failure */
	char		  *detail;		 /* its detail */
	char		  *hint;		 /* its hint */
	char		  *column;		 /* its PG_DIAG_COLUMN_NAME */
	char		  *constraint;	 /* its PG_DIAG_CONSTRAINT_NAME */
	int			   cancel_slot;	 /* index in the interrupt registry, -1 if none */
	bool		   busy;		 /* a statement is running (the wait hook must not use it) */
	bool		   quiet_skips;	 /* within conn_command_if_exists */
	ConnRecording *recording;	 /* see record.h */
	bool		   batching;	 /* see pipeline.h */
	bool		   batch_failed; /* a statement of the batch could not be sent */
	int			   batch_n;		 /* statements sent in the batch */
	int			   batch_keep;	 /* the one whose rows conn_batch_end returns */
	PGresult	  *batch_kept;	 /* its rows, without pipeline mode */
} Conn;

/* True when the connection is still usable. */
bool	  conn_ok(const Conn *c);
int		  conn_server_version(const Conn *c);
/* The server process of the connection. */
int		  conn_backend_pid(const Conn *c);

/*
 * True when the last failure on c means the connection (or the server) went
 * away, so that reconnecting may let the run go on: the connection is
 * broken, or the error is of class 08 (connection exception) or 57P01-57P03
 * (administrator or crash shutdown, cannot connect now).
 */
bool	  conn_lost(const Conn *c);

/*
 * Runs sql (typically ROLLBACK) ignoring any failure, and keeps the error
 * recorded from before, so it can still be reported.  A ROLLBACK is not
 * sent when the session is in no transaction.  Leaves a pipeline left open
 * by a failure first.
 */
void	  conn_best_effort(Conn *c, const char *sql);

/* Runs one or more statements that return no rows; false on failure. */
bool	  conn_command(Conn *c, const char *sql) __attribute__((warn_unused_result));
/*
 * The same, for the tool's own DROP ... IF EXISTS: the server's notice that
 * the object does not exist ("..., skipping") is not shown, even with
 * --verbose; every other notice and warning is.
 */
bool	  conn_command_if_exists(Conn *c, const char *sql) __attribute__((warn_unused_result));
bool	  conn_commandv(Conn *c, const char *fmt, ...) PGR_PRINTF(2, 3) __attribute__((warn_unused_result));
/*
 * Runs one statement with text parameters $1..$n (for generated SQL that
 * holds user identifiers and so must not pass through a libpqtypes spec).
 * *affected (may be NULL) gets the number of rows affected.
 */
bool	  conn_command_params(Conn *c, const char *sql, int nparams, const char *const *values,
							  long long *affected) __attribute__((warn_unused_result));
/* Runs a query returning rows (text format); NULL on failure.  Caller PQclear()s. */
PGresult *conn_query(Conn *c, const char *sql) __attribute__((warn_unused_result));
/*
 * Has the server parse and analyse one statement without running or
 * planning it (the extended protocol's Parse, as the unnamed statement): it
 * must be a single statement, and every name in it must resolve.  False
 * (error recorded) when the server refuses it.
 */
bool	  conn_parse_only(Conn *c, const char *sql) __attribute__((warn_unused_result));
/*
 * Runs a libpqtypes spec ("SELECT ... WHERE c.oid = %oid") with its values
 * as parameters; the result is in binary format for PQgetf.  NULL on
 * failure.  Caller PQclear()s.
 */
PGresult *conn_queryf(Conn *c, const char *spec, ...) __attribute__((warn_unused_result));
/* Same, for commands (no rows wanted). */
bool	  conn_execf(Conn *c, const char *spec, ...) __attribute__((warn_unused_result));

/* Logs the last error as "error: <what>: <message>", then its detail and hint. */
void	  conn_report(const Conn *c, const char *what);
/* The last failure's SQLSTATE equals code. */
bool	  conn_failed_with(const Conn *c, const char *code);
/* Clears the recorded error. */
void	  conn_clear_error(Conn *c);

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

/*
 * Typed readers over a binary result of conn_queryf (libpqtypes PQgetf).
 * res_text returns a newly allocated string (caller frees), or NULL for SQL
 * NULL; the others return 0 (false) for SQL NULL.
 */
char	   *res_text(const PGresult *res, int row, int col);
int			res_int4(const PGresult *res, int row, int col);
long long	res_int8(const PGresult *res, int row, int col);
double		res_float8(const PGresult *res, int row, int col);
bool		res_bool(const PGresult *res, int row, int col);
Oid			res_oid(const PGresult *res, int row, int col);
bool		res_isnull(const PGresult *res, int row, int col);
char		res_char(const PGresult *res, int row, int col);

/*
 * A row read into a struct: for each column of the result, in the order of
 * the SELECT, how it fills which field (RES_SKIP: the caller reads it).
 * The readers of pg_catalog list their columns this way, so that a query
 * and the fields it fills read side by side and no loop is written twice.
 */
typedef enum ResFieldType
{
	RF_SKIP,
	RF_TEXT,					/* char *, newly allocated, NULL for SQL NULL */
	RF_OID,
	RF_BOOL,
	RF_INT4,
	RF_CHAR						/* the first byte of a "char" or text, 0 when empty or NULL */
} ResFieldType;

typedef struct ResField
{
	ResFieldType type;
	size_t		offset;
} ResField;

#define RES_TEXT(T, m) {RF_TEXT, offsetof(T, m)}
#define RES_OID(T, m) {RF_OID, offsetof(T, m)}
#define RES_BOOL(T, m) {RF_BOOL, offsetof(T, m)}
#define RES_INT4(T, m) {RF_INT4, offsetof(T, m)}
#define RES_CHAR(T, m) {RF_CHAR, offsetof(T, m)}
#define RES_SKIP {RF_SKIP, 0}
#define RES_NFIELDS(f) ((int) (sizeof(f) / sizeof((f)[0])))

void		res_fill(const PGresult *res, int row, void *dst, const ResField *fields, int nfields);

/*
 * Every row of res read (res_fill) into a new zeroed array of elements of
 * elem bytes: *items and *n; res is freed.  When res is NULL (the query
 * failed) reports the error on c with what (the message's first line) and
 * returns false.
 */
bool		conn_read_rows(Conn *c, PGresult *res, const char *what, size_t elem, const ResField *fields,
						   int nfields, void **items, int *n);

#endif /* PGR_CONN_H */
