/*
 * options.h: the command line, parsed into one struct without side effects
 * (nothing is printed, nothing is connected), so it can be unit-tested.
 */
#ifndef PGR_OPTIONS_H
#define PGR_OPTIONS_H

#include <stdbool.h>

#include "connect.h"
#include "control.h"
#include "hook.h"
#include "ident.h"
#include "log.h"
#include "str.h"
#include "throttle.h"
#include "window.h"


typedef struct RebuildOptions
{
	/* what to rebuild */
	char	   *table_arg;		/* the first -t as given */
	char	   *table_schema;	/* parsed; NULL when unqualified */
	char	   *table_name;		/* parsed */
	StrVec		tables;			/* every -t as given, in order (checked to parse) */
	StrVec		schemas;		/* --schema: parsed schema names */
	bool		all;			/* --all: every table the role may rebuild in the database */
	StrVec		exclude_tables; /* --exclude-table as given (checked to parse) */
	StrVec		exclude_schemas;	/* -N/--exclude-schema: parsed schema names */
	bool		stop_on_error;	/* --stop-on-error: a failed table stops the command */
	double		min_bloat;		/* --min-bloat: percent of heap and indexes expected back; 0: any */
	long long	min_size;		/* --min-size: bytes, heap, indexes and TOAST; 0: any */
	long long	min_reclaim;	/* --min-reclaim: bytes expected back; 0: any */
	char	   *report_file;	/* --report FILE: the JSON report of a selection */
	int			deadline_minute;	/* --deadline HH:MM as minutes after midnight, local time; -1: none */
	double		max_duration_s; /* --max-duration, seconds; -1: none */
	bool		measure_exact;	/* --measure=exact: pgstattuple instead of the estimate */
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
	ThrottleLimits throttle;	/* --max-rate, --max-replica-lag */
	SwapWindow	swap_window;	/* --swap-window */
	ControlAction control;		/* --pause, --resume, --postpone-swap, --release-swap */
	StrVec		hooks;			/* --hook commands, in order (repeatable) */
	double		hook_timeout_s; /* --hook-timeout */
	bool		hook_timeout_given;
	bool		keep_old;		/* --keep-old: the finish keeps the old table, for --cleanup to drop */
	char	   *archive_old;	/* --archive-old=FILE: the old table's rows into this gzip file first */

	/* output */
	bool		   echo;
	LogLevel	   verbosity;
	bool		   log_json; /* --log-format=json: every event a JSON object (event.h) */

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
/*
 * Parses a size: a whole number of bytes, or with a unit kB, MB, GB, TB
 * (powers of 1024, as PostgreSQL's size settings).  False on anything else.
 */
bool		options_parse_size(const char *s, long long *out);

/*
 * Parses a duration: seconds, or a number with a unit s, min, h or d
 * ("90min", "2h", "1.5h").  False on anything else.
 */
bool		options_parse_duration(const char *s, double *out);
/*
 * Seconds from now_minute_s (seconds since local midnight) to the next
 * minute_of_day (minutes since midnight): today if it is still ahead,
 * else tomorrow.  Pure.
 */
double		options_seconds_until(int minute_of_day, double now_s);

/*
 * Whether the command names a selection of tables (several -t, --schema,
 * --all, or an option that filters or reports on one): then each table is
 * its own run, one after the other, and the end lists them all.
 */
bool		options_is_selection(const RebuildOptions *o);

#endif							/* PGR_OPTIONS_H */
