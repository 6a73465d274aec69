/*
 * options.h: the command line, parsed into one struct without side effects
 * (nothing is printed, nothing is connected), so it can be unit-tested.
 */
#ifndef PGR_OPTIONS_H
#define PGR_OPTIONS_H

#include <stdbool.h>

#include "connect.h"
#include "ident.h"
#include "log.h"
#include "str.h"


typedef struct RebuildOptions
{
	/* what to rebuild */
	char	   *table_arg;		/* -t as given */
	char	   *table_schema;	/* parsed; NULL when unqualified */
	char	   *table_name;		/* parsed */
	StrVec		set_not_null;	/* parsed column names, no duplicates */
	StrVec		alter;			/* --alter texts (ALTER TABLE subcommands), in order */
	char	   *method;			/* --method: "auto", "rebuild" or "in-place"; NULL: auto */
	char	   *order_by_arg;	/* -o as given: an ORDER BY list, checked by the server */
	bool		no_order;		/* --no-order: rows as they come, even with a CLUSTER index */

	/* how */
	int			jobs;
	bool		dry_run;
	double		wait_timeout_s;
	int			lock_timeout_ms;
	bool		cleanup;
	bool		status;			/* --status: list the runs */
	bool		json;			/* --json, with --status */
	double		retry_timeout_s;	/* total time to retry lost connections */
	bool		kill_blockers;	/* cancel/terminate swap blockers after --wait-timeout */
	bool		allow_old_snapshots;	/* swap although older snapshots would see the table empty */
	double		catchup_timeout_s;	/* replay that does not converge for this long stops */
	int			max_lock_ms;	/* the longest ACCESS EXCLUSIVE the swap may expect to hold */
	bool		max_lock_given;
	bool		keep_old;		/* --keep-old: the finish keeps the old table, for --cleanup to drop */
	char	   *archive_old;	/* --archive-old=FILE: the old table's rows into this gzip file first */

	/* output */
	bool		echo;
	LogLevel	verbosity;

	/* connection */
	char	   *dbname;			/* a name, or a connection string / URI */
	char	   *host;
	char	   *port;
	char	   *username;
	PromptPassword prompt;

	bool		show_help;
	bool		show_version;
} RebuildOptions;

#define PGR_DEFAULT_WAIT_TIMEOUT_S	60.0
#define PGR_DEFAULT_LOCK_TIMEOUT_MS 100
#define PGR_MAX_JOBS				64
#define PGR_DEFAULT_RETRY_TIMEOUT_S 60.0
#define PGR_DEFAULT_CATCHUP_TIMEOUT_S 600.0

typedef enum OptionsResult
{
	OPTIONS_OK,					/* run with these options */
	OPTIONS_EXIT,				/* --help or --version asked */
	OPTIONS_USAGE_ERROR			/* *err says what is wrong */
} OptionsResult;

/*
 * Parses argv into *opts (which it initialises first).  On a usage error
 * returns OPTIONS_USAGE_ERROR with *err set to a newly allocated message.
 * Resets getopt's state, so it may be called more than once.
 */
OptionsResult options_parse(int argc, char **argv, RebuildOptions *opts, char **err);
void		options_free(RebuildOptions *opts);

/*
 * Parses a number of seconds ("60", "0.5").  Returns false on anything else,
 * negative values included.
 */
bool		options_parse_seconds(const char *s, double *out);
/* Parses a base-10 integer within [min, max]. */
bool		options_parse_int(const char *s, long min, long max, long *out);

#endif							/* PGR_OPTIONS_H */
