/*
 * log.h: the one way pg_rebuild talks to its user.
 *
 * Diagnostics (error, detail, hint, warning) go to stderr prefixed with
 * "pg_rebuild: <level>: ", as PostgreSQL's own client programs do.  Normal
 * output (the plan, phase lines, the summary) goes to stdout and is silenced
 * by --quiet.  A live progress line is drawn on stderr only when it is a
 * terminal; any other output first erases it.  Each of these is an event
 * (event.h): with --log-format=json each is one JSON object on stdout.
 */
#ifndef PGR_LOG_H
#define PGR_LOG_H

#include <stdbool.h>

#include "str.h"

typedef enum LogLevel
{
	LOG_QUIET = 0, /* errors only */
	LOG_NORMAL = 1,
	LOG_VERBOSE = 2
} LogLevel;

void	 log_set_level(LogLevel level);
LogLevel log_get_level(void);
void	 log_set_echo(bool echo);
bool	 log_get_echo(void);

void	 log_error(const char *fmt, ...) PGR_PRINTF(1, 2);
/* An error the server reported, with its SQLSTATE (given in the JSON event). */
void	 log_error_code(const char *sqlstate, const char *fmt, ...) PGR_PRINTF(2, 3);
void	 log_detail(const char *fmt, ...) PGR_PRINTF(1, 2);
void	 log_hint(const char *fmt, ...) PGR_PRINTF(1, 2);
void	 log_warning(const char *fmt, ...) PGR_PRINTF(1, 2);
/* Normal output on stdout, unless --quiet. */
void	 log_info(const char *fmt, ...) PGR_PRINTF(1, 2);
/* Only with --verbose. */
void	 log_verbose(const char *fmt, ...) PGR_PRINTF(1, 2);
/* An SQL statement sent to the server, with --echo (on stdout). */
void	 log_echo_sql(const char *label, const char *sql);

/*
 * From log_hold to log_release, diagnostics (error, detail, hint, warning)
 * are kept instead of printed: a program that tries something whose
 * failure may be an expected answer (a table of a selection that cannot be
 * rebuilt) prints them only when they turn out to be an error.
 * log_release prints them (print) or drops them, and returns the first
 * error held (newly allocated; NULL when none).
 */
void	 log_hold(void);
char	*log_release(bool print);

/*
 * Draws (or redraws) the single live progress line; a no-op unless stderr is
 * a terminal and the level is at least LOG_NORMAL.
 */
void	 log_progress(const char *fmt, ...) PGR_PRINTF(1, 2);
/* Erases the progress line if one is shown. */
void	 log_progress_clear(void);

#endif /* PGR_LOG_H */
