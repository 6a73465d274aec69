/* options.c: command-line parsing and validation, free of side effects. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

enum
{
	OPT_SET_NOT_NULL = 256,
	OPT_LOCK_TIMEOUT,
	OPT_CLEANUP,
	OPT_HELP,
	OPT_STATUS,
	OPT_JSON,
	OPT_RETRY_TIMEOUT,
	OPT_KILL_BLOCKERS,
	OPT_ALLOW_OLD_SNAPSHOTS,
	OPT_CATCHUP_TIMEOUT,
	OPT_NO_ORDER,
	OPT_ALTER,
	OPT_METHOD,
	OPT_MAX_LOCK_TIME,
	OPT_SCHEMA,
	OPT_ALL,
	OPT_EXCLUDE_TABLE,
	OPT_STOP_ON_ERROR,
	OPT_MIN_BLOAT,
	OPT_MIN_SIZE,
	OPT_MIN_RECLAIM,
	OPT_REPORT,
	OPT_DEADLINE,
	OPT_MAX_DURATION,
	OPT_MEASURE,
	/* control of a run (when and how hard): kept together */
	OPT_LOG_FORMAT,
	OPT_MAX_RATE,
	OPT_MAX_REPLICA_LAG,
	OPT_SWAP_WINDOW,
	OPT_PAUSE,
	OPT_RESUME,
	OPT_POSTPONE_SWAP,
	OPT_RELEASE_SWAP,
	OPT_HOOK,
	OPT_HOOK_TIMEOUT,
	OPT_KEEP_OLD,
	OPT_ARCHIVE_OLD,
	OPT_COUNT					/* one past the last code: short options are below 256 */
};

static const struct option long_options[] = {
	{"table", required_argument, NULL, 't'},
	{"schema", required_argument, NULL, OPT_SCHEMA},
	{"all", no_argument, NULL, OPT_ALL},
	{"exclude-table", required_argument, NULL, OPT_EXCLUDE_TABLE},
	{"exclude-schema", required_argument, NULL, 'N'},
	{"stop-on-error", no_argument, NULL, OPT_STOP_ON_ERROR},
	{"min-bloat", required_argument, NULL, OPT_MIN_BLOAT},
	{"min-size", required_argument, NULL, OPT_MIN_SIZE},
	{"min-reclaim", required_argument, NULL, OPT_MIN_RECLAIM},
	{"report", required_argument, NULL, OPT_REPORT},
	{"deadline", required_argument, NULL, OPT_DEADLINE},
	{"max-duration", required_argument, NULL, OPT_MAX_DURATION},
	{"measure", required_argument, NULL, OPT_MEASURE},
	{"set-not-null", required_argument, NULL, OPT_SET_NOT_NULL},
	{"alter", required_argument, NULL, OPT_ALTER},
	{"method", required_argument, NULL, OPT_METHOD},
	{"order-by", required_argument, NULL, 'o'},
	{"no-order", no_argument, NULL, OPT_NO_ORDER},
	{"jobs", required_argument, NULL, 'j'},
	{"dry-run", no_argument, NULL, 'n'},
	{"wait-timeout", required_argument, NULL, 'T'},
	{"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
	{"cleanup", no_argument, NULL, OPT_CLEANUP},
	{"status", no_argument, NULL, OPT_STATUS},
	{"json", no_argument, NULL, OPT_JSON},
	{"retry-timeout", required_argument, NULL, OPT_RETRY_TIMEOUT},
	{"kill-blockers", no_argument, NULL, OPT_KILL_BLOCKERS},
	{"allow-old-snapshots", no_argument, NULL, OPT_ALLOW_OLD_SNAPSHOTS},
	{"catchup-timeout", required_argument, NULL, OPT_CATCHUP_TIMEOUT},
	{"max-lock-time", required_argument, NULL, OPT_MAX_LOCK_TIME},
	{"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	{"max-rate", required_argument, NULL, OPT_MAX_RATE},
	{"max-replica-lag", required_argument, NULL, OPT_MAX_REPLICA_LAG},
	{"swap-window", required_argument, NULL, OPT_SWAP_WINDOW},
	{"pause", no_argument, NULL, OPT_PAUSE},
	{"resume", no_argument, NULL, OPT_RESUME},
	{"postpone-swap", no_argument, NULL, OPT_POSTPONE_SWAP},
	{"release-swap", no_argument, NULL, OPT_RELEASE_SWAP},
	{"hook", required_argument, NULL, OPT_HOOK},
	{"hook-timeout", required_argument, NULL, OPT_HOOK_TIMEOUT},
	{"keep-old", no_argument, NULL, OPT_KEEP_OLD},
	{"archive-old", required_argument, NULL, OPT_ARCHIVE_OLD},
	{"echo", no_argument, NULL, 'e'},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"dbname", required_argument, NULL, 'd'},
	{"host", required_argument, NULL, 'h'},
	{"port", required_argument, NULL, 'p'},
	{"username", required_argument, NULL, 'U'},
	{"no-password", no_argument, NULL, 'w'},
	{"password", no_argument, NULL, 'W'},
	{"version", no_argument, NULL, 'V'},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0}
};

bool
options_parse_seconds(const char *s, double *out)
{
	char	   *end;
	double		v;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || end == s || !isfinite(v) || v < 0 || v > 31536000.0)
		return false;
	*out = v;
	return true;
}

bool
options_parse_int(const char *s, long min, long max, long *out)
{
	char	   *end;
	long		v;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool
options_parse_size(const char *s, long long *out)
{
	static const struct
	{
		const char *unit;
		int			shift;
	} units[] = {{"", 0}, {"B", 0}, {"kB", 10}, {"MB", 20}, {"GB", 30}, {"TB", 40}};
	char	 *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0)
		return false;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].unit) == 0)
		{
			if (v > (LLONG_MAX >> units[i].shift))
				return false;
			*out = v << units[i].shift;
			return true;
		}
	return false;
}

bool
options_parse_duration(const char *s, double *out)
{
	static const struct
	{
		const char *unit;
		double		seconds;
	}			units[] = {{"", 1}, {"s", 1}, {"min", 60}, {"h", 3600}, {"d", 86400}};
	char	   *end;
	double		v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || !isfinite(v))
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].unit) == 0 && v * units[i].seconds <= 31536000.0)
		{
			*out = v * units[i].seconds;
			return true;
		}
	return false;
}

double
options_seconds_until(int minute_of_day, double now_s)
{
	double		d = minute_of_day * 60.0 - now_s;

	return d > 0 ? d : d + 86400.0;
}

/* "HH:MM" as minutes after midnight; false on anything else. */
static bool
parse_clock(const char *s, int *minute)
{
	int			h;
	int			m;
	char		end;

	if (strlen(s) != 5 || s[2] != ':' || sscanf(s, "%2d:%2d%c", &h, &m, &end) != 2 || h < 0 || h > 23 || m < 0 ||
		m > 59 || s[0] < '0' || s[0] > '9' || s[3] < '0' || s[3] > '9')
		return false;
	*minute = h * 60 + m;
	return true;
}

bool
options_is_selection(const RebuildOptions *o)
{
	return o->tables.n > 1 || o->schemas.n > 0 || o->all || o->exclude_tables.n > 0 ||
		o->exclude_schemas.n > 0 || o->stop_on_error || o->min_bloat > 0 || o->min_size > 0 ||
		o->min_reclaim > 0 || o->report_file != NULL || o->deadline_minute >= 0 || o->max_duration_s >= 0 || o->measure_exact;
}

static void
options_init(RebuildOptions *o)
{
	memset(o, 0, sizeof(*o));
	sv_init(&o->tables);
	o->deadline_minute = -1;
	o->max_duration_s = -1;
	sv_init(&o->schemas);
	sv_init(&o->exclude_tables);
	sv_init(&o->exclude_schemas);
	sv_init(&o->set_not_null);
	sv_init(&o->alter);
	sv_init(&o->hooks);
	o->hook_timeout_s = PGR_DEFAULT_HOOK_TIMEOUT_S;
	o->jobs = 1;
	o->wait_timeout_s = PGR_DEFAULT_WAIT_TIMEOUT_S;
	o->lock_timeout_ms = PGR_DEFAULT_LOCK_TIMEOUT_MS;
	o->verbosity = LOG_NORMAL;
	o->retry_timeout_s = PGR_DEFAULT_RETRY_TIMEOUT_S;
	o->catchup_timeout_s = PGR_DEFAULT_CATCHUP_TIMEOUT_S;
	o->max_lock_ms = PGR_DEFAULT_MAX_LOCK_MS;
	o->prompt = PROMPT_DEFAULT;
}

/* What the parser has met so far, for the checks that span options. */
typedef struct ParseState
{
	bool		quiet_seen;
	bool		verbose_seen;
	bool		no_password_seen;	/* -w */
	bool		password_seen;	/* -W */
	const char *given[OPT_COUNT];	/* the value of each single-valued option met */
} ParseState;

/* "-t/--table", or "--lock-timeout" for an option with no short form. */
static char *
option_name(int c)
{
	for (const struct option *lo = long_options; lo->name; lo++)
		if (lo->val == c)
			return c < 256 ? pgr_psprintf("-%c/--%s", c, lo->name) : pgr_psprintf("--%s", lo->name);
	return pgr_psprintf("-%c", c);
}

static bool
takes_value(int c)
{
	for (const struct option *lo = long_options; lo->name; lo++)
		if (lo->val == c)
			return lo->has_arg == required_argument;
	return false;
}

/*
 * An option that takes one value and is given again would make one of its
 * values count and the other vanish: a usage error naming both (-t,
 * --schema, the exclusions, --set-not-null, --alter and --hook take many).
 */
static bool
repeatable(int c)
{
	return c == 't' || c == OPT_SCHEMA || c == OPT_EXCLUDE_TABLE || c == 'N' || c == OPT_SET_NOT_NULL ||
		c == OPT_ALTER || c == OPT_HOOK;
}

static bool
check_given_once(ParseState *ps, int c, const char *arg, char **err)
{
	char	   *name;

	if (c < 0 || c >= OPT_COUNT || repeatable(c) || !takes_value(c))
		return true;
	if (ps->given[c] == NULL)
	{
		ps->given[c] = arg;
		return true;
	}
	name = option_name(c);
	if (c == 'd')
		/* a connection string may hold a password: never echoed */
		*err = pgr_psprintf("%s is given twice: it takes one database name, connection string or URI; "
							"give it once", name);
	else
		*err = pgr_psprintf("%s is given twice (\"%s\", then \"%s\"): it takes one value; give it once",
							name, ps->given[c], arg);
	free(name);
	return false;
}

static void
replace(char **slot, const char *value)
{
	free(*slot);
	*slot = pgr_strdup(value);
}

/* A schema name of --schema or --exclude-schema, parsed, once. */
static bool
add_schema(StrVec *v, const char *opt, const char *arg, char **err)
{
	char *name = NULL;
	char *perr = NULL;

	if (!ident_parse_one(arg, &name, &perr))
	{
		*err = pgr_psprintf("invalid schema name \"%s\" for %s: %s", arg, opt, perr);
		free(perr);
		return false;
	}
	if (sv_contains(v, name))
	{
		*err = pgr_psprintf("schema \"%s\" is given twice to %s", name, opt);
		free(name);
		return false;
	}
	sv_push_owned(v, name);
	return true;
}

/* Applies one option; returns false with *err set on a bad value. */
static bool
apply_option(RebuildOptions *o, int c, const char *arg, ParseState *ps, char **err)
{
	long		n;
	char	   *perr = NULL;
	char	   *col = NULL;

	switch (c)
	{
		case 't':
			sv_push(&o->tables, arg);
			return true;
		case OPT_EXCLUDE_TABLE:
			sv_push(&o->exclude_tables, arg);
			return true;
		case OPT_SCHEMA:
			return add_schema(&o->schemas, "--schema", arg, err);
		case 'N':
			return add_schema(&o->exclude_schemas, "-N/--exclude-schema", arg, err);
		case OPT_ALL:
			o->all = true;
			return true;
		case OPT_STOP_ON_ERROR:
			o->stop_on_error = true;
			return true;
		case OPT_MIN_BLOAT:
			if (!options_parse_seconds(arg, &o->min_bloat) || o->min_bloat > 100)
			{
				*err = pgr_psprintf("invalid value \"%s\" for --min-bloat: expected a percentage from 0 to 100", arg);
				return false;
			}
			return true;
		case OPT_MIN_SIZE:
		case OPT_MIN_RECLAIM:
			if (!options_parse_size(arg, c == OPT_MIN_SIZE ? &o->min_size : &o->min_reclaim))
			{
				*err = pgr_psprintf("invalid value \"%s\" for %s: expected a size such as 500MB (bytes, kB, MB, "
									"GB or TB)",
									arg, c == OPT_MIN_SIZE ? "--min-size" : "--min-reclaim");
				return false;
			}
			return true;
		case OPT_DEADLINE:
			if (!parse_clock(arg, &o->deadline_minute))
			{
				*err = pgr_psprintf("invalid value \"%s\" for --deadline: expected a time of day HH:MM, such as 06:30",
									arg);
				return false;
			}
			return true;
		case OPT_MEASURE:
			if (strcmp(arg, "estimate") != 0 && strcmp(arg, "exact") != 0)
			{
				*err = pgr_psprintf("invalid value \"%s\" for --measure: expected estimate or exact", arg);
				return false;
			}
			o->measure_exact = strcmp(arg, "exact") == 0;
			return true;
		case OPT_MAX_DURATION:
			if (!options_parse_duration(arg, &o->max_duration_s))
			{
				*err = pgr_psprintf("invalid value \"%s\" for --max-duration: expected a duration such as 3600, 90min "
									"or 2h", arg);
				return false;
			}
			return true;
		case OPT_REPORT:
			if (*arg == '\0')
			{
				*err = pgr_strdup("--report needs a file name");
				return false;
			}
			replace(&o->report_file, arg);
			return true;
		case OPT_SET_NOT_NULL:
			if (!ident_parse_one(arg, &col, &perr))
			{
				*err = pgr_psprintf("invalid column name \"%s\" for --set-not-null: %s", arg, perr);
				free(perr);
				return false;
			}
			if (sv_contains(&o->set_not_null, col))
			{
				*err = pgr_psprintf("column \"%s\" is given twice to --set-not-null", col);
				free(col);
				return false;
			}
			sv_push_owned(&o->set_not_null, col);
			return true;
		case OPT_ALTER:
			if (arg[strspn(arg, " \t\r\n")] == '\0')
			{
				*err = pgr_strdup("--alter needs ALTER TABLE subcommands, e.g. --alter 'ALTER COLUMN id TYPE bigint'");
				return false;
			}
			sv_push(&o->alter, arg);
			return true;
		case OPT_METHOD:
			if (o->method)
			{
				*err = pgr_psprintf("--method is given twice (\"%s\" and \"%s\")", o->method, arg);
				return false;
			}
			if (strcmp(arg, "auto") != 0 && strcmp(arg, "rebuild") != 0 && strcmp(arg, "in-place") != 0)
			{
				*err = pgr_psprintf("invalid value \"%s\" for --method: expected auto, rebuild or in-place", arg);
				return false;
			}
			o->method = pgr_strdup(arg);
			return true;
		case 'o':
			/* checked by the server, which alone knows what an ORDER BY list is (preflight.c) */
			if (arg[strspn(arg, " \t\n\r\f\v")] == '\0')
			{
				*err = pgr_strdup("--order-by needs an ORDER BY list, such as \"created_at DESC, id\"");
				return false;
			}
			replace(&o->order_by_arg, arg);
			return true;
		case OPT_NO_ORDER:
			o->no_order = true;
			return true;
		case 'j':
			if (!options_parse_int(arg, 1, PGR_MAX_JOBS, &n))
			{
				*err = pgr_psprintf("invalid value \"%s\" for --jobs: expected a whole number from 1 to %d",
									arg, PGR_MAX_JOBS);
				return false;
			}
			o->jobs = (int) n;
			return true;
		case 'n':
			o->dry_run = true;
			return true;
		case 'T':
			if (!options_parse_seconds(arg, &o->wait_timeout_s))
			{
				*err = pgr_psprintf("invalid value \"%s\" for --wait-timeout: expected a number of seconds, 0 or more",
									arg);
				return false;
			}
			return true;
		case OPT_LOCK_TIMEOUT:
			if (!options_parse_int(arg, 1, 600000, &n))
			{
				*err = pgr_psprintf("invalid value \"%s\" for --lock-timeout: expected milliseconds from 1 to 600000",
									arg);
				return false;
			}
			o->lock_timeout_ms = (int) n;
			return true;
		case OPT_CLEANUP:
			o->cleanup = true;
			return true;
		case OPT_STATUS:
			o->status = true;
			return true;
		case OPT_JSON:
			o->json = true;
			return true;
		case OPT_KILL_BLOCKERS:
			o->kill_blockers = true;
			return true;
		case OPT_ALLOW_OLD_SNAPSHOTS:
			o->allow_old_snapshots = true;
			return true;
		case OPT_KEEP_OLD:
			if (o->keep_old)
			{
				*err = pgr_strdup("--keep-old is given twice: give it once");
				return false;
			}
			o->keep_old = true;
			return true;
		case OPT_ARCHIVE_OLD:
			if (o->archive_old)
			{
				*err = pgr_psprintf("--archive-old is given twice (\"%s\", then \"%s\"): it takes one file; give it "
									"once",
									o->archive_old, arg);
				return false;
			}
			if (*arg == '\0')
			{
				*err = pgr_strdup("--archive-old needs a file name");
				return false;
			}
			o->archive_old = pgr_strdup(arg);
			return true;
		case OPT_RETRY_TIMEOUT:
			if (!options_parse_seconds(arg, &o->retry_timeout_s))
			{
				*err = pgr_psprintf("invalid value \"%s\" for --retry-timeout: expected a number of seconds, 0 or more",
									arg);
				return false;
			}
			return true;
		case OPT_CATCHUP_TIMEOUT:
			if (!options_parse_seconds(arg, &o->catchup_timeout_s) || o->catchup_timeout_s <= 0)
			{
				*err = pgr_psprintf("invalid value \"%s\" for --catchup-timeout: expected a number of seconds above 0",
									arg);
				return false;
			}
			return true;
		case OPT_MAX_LOCK_TIME:
			if (!options_parse_int(arg, 1, 600000, &n))
			{
				*err = pgr_psprintf("invalid value \"%s\" for --max-lock-time: expected milliseconds from 1 to 600000",
									arg);
				return false;
			}
			o->max_lock_ms = (int) n;
			o->max_lock_given = true;
			return true;
		case OPT_LOG_FORMAT:
			if (strcmp(arg, "text") != 0 && strcmp(arg, "json") != 0)
			{
				*err = pgr_psprintf("invalid value \"%s\" for --log-format: expected text or json", arg);
				return false;
			}
			o->log_json = strcmp(arg, "json") == 0;
			return true;
		case OPT_MAX_RATE:
			if (!options_parse_int(arg, 1, 1000000000L, &n))
			{
				*err = pgr_psprintf("invalid value \"%s\" for --max-rate: expected rows a second, a whole number "
									"from 1 to 1000000000",
									arg);
				return false;
			}
			o->throttle.max_rate = (double) n;
			return true;
		case OPT_MAX_REPLICA_LAG:
			if (!throttle_parse_lag(arg, &o->throttle.max_lag_s, &o->throttle.max_lag_bytes))
			{
				*err = pgr_psprintf("invalid value \"%s\" for --max-replica-lag: expected a duration with its unit "
									"(500ms, 30s, 2min, 1h) or a size with its unit (512kB, 64MB, 1GB)",
									arg);
				return false;
			}
			return true;
		case OPT_SWAP_WINDOW:
			if (!window_parse(arg, &o->swap_window))
			{
				*err = pgr_psprintf("invalid value \"%s\" for --swap-window: expected HH:MM-HH:MM (server time, "
									"24-hour clock, start and end different), such as 02:00-04:30", arg);
				return false;
			}
			return true;
		case OPT_PAUSE:
		case OPT_RESUME:
		case OPT_POSTPONE_SWAP:
		case OPT_RELEASE_SWAP:
			if (o->control != CONTROL_NONE)
			{
				*err = pgr_psprintf("%s and %s cannot be used together: give one per command", control_option(o->control),
									control_option(CONTROL_PAUSE + (c - OPT_PAUSE)));
				return false;
			}
			o->control = CONTROL_PAUSE + (c - OPT_PAUSE);
			return true;
		case OPT_HOOK:
			if (arg[strspn(arg, " \t\r\n")] == '\0')
			{
				*err = pgr_strdup("--hook needs a command, run with /bin/sh -c, e.g. --hook '/usr/local/bin/notify'");
				return false;
			}
			sv_push(&o->hooks, arg);
			return true;
		case OPT_HOOK_TIMEOUT:
			if (!options_parse_seconds(arg, &o->hook_timeout_s) || o->hook_timeout_s <= 0)
			{
				*err = pgr_psprintf("invalid value \"%s\" for --hook-timeout: expected a number of seconds above 0",
									arg);
				return false;
			}
			o->hook_timeout_given = true;
			return true;
		case 'e':
			o->echo = true;
			return true;
		case 'v':
			ps->verbose_seen = true;
			o->verbosity = LOG_VERBOSE;
			return true;
		case 'q':
			ps->quiet_seen = true;
			o->verbosity = LOG_QUIET;
			return true;
		case 'd':
			replace(&o->dbname, arg);
			return true;
		case 'h':
			replace(&o->host, arg);
			return true;
		case 'p':
			replace(&o->port, arg);
			return true;
		case 'U':
			replace(&o->username, arg);
			return true;
		case 'w':
			ps->no_password_seen = true;
			o->prompt = PROMPT_NEVER;
			return true;
		case 'W':
			ps->password_seen = true;
			o->prompt = PROMPT_ALWAYS;
			return true;
		case 'V':
			o->show_version = true;
			return true;
		default:
			*err = pgr_strdup("unknown option");
			return false;
	}
}

/* Every table name in v parses; else *err names the first that does not. */
static bool
check_table_names(const StrVec *v, const char *what, char **err)
{
	for (size_t i = 0; i < v->n; i++)
	{
		char *schema = NULL;
		char *name = NULL;
		char *perr = NULL;

		if (!ident_parse_qualified(v->items[i], &schema, &name, &perr))
		{
			*err = pgr_psprintf("invalid table name \"%s\"%s: %s", v->items[i], what, perr);
			free(perr);
			return false;
		}
		free(schema);
		free(name);
	}
	return true;
}

/*
 * How the options that choose tables go together.  A change (--alter,
 * --set-not-null, --method, the order of the rows) is about one table's
 * columns: it is refused with anything that may choose several.
 */
static bool
check_selection(const RebuildOptions *o, char **err)
{
	bool several = o->tables.n > 1 || o->schemas.n > 0 || o->all;

	if ((o->cleanup || o->status || o->control != CONTROL_NONE) && options_is_selection(o))
	{
		*err = pgr_psprintf("%s takes at most one -t TABLE, and none of --schema, --all, --exclude-table, "
							"--exclude-schema, --stop-on-error, --min-bloat, --min-size, --min-reclaim, --report, --deadline, "
							"--max-duration, --measure",
							o->cleanup ? "--cleanup" : o->status ? "--status" : control_option(o->control));
		return false;
	}
	if (o->all && (o->tables.n > 0 || o->schemas.n > 0))
	{
		*err = pgr_strdup("--all takes every table of the database: it cannot be combined with -t or --schema "
						  "(narrow it with --exclude-table and --exclude-schema)");
		return false;
	}
	if ((o->exclude_tables.n > 0 || o->exclude_schemas.n > 0) && !o->all && o->schemas.n == 0)
	{
		*err = pgr_strdup("--exclude-table and --exclude-schema narrow --all or --schema: give one of them");
		return false;
	}
	if (several && o->archive_old)
	{
		*err = pgr_strdup("--archive-old names one file, for one table: give it with exactly one -t TABLE, not "
						  "with several tables, --schema or --all");
		return false;
	}
	if (several && (o->set_not_null.n > 0 || o->alter.n > 0 || o->method || o->order_by_arg || o->no_order))
	{
		*err = pgr_strdup("--set-not-null, --alter, --method, --order-by and --no-order change one table's "
						  "columns: give them with exactly one -t TABLE, not with several tables, --schema or --all");
		return false;
	}
	return true;
}

/* Cross-option checks once everything is read. */
static bool
validate(RebuildOptions *o, const ParseState *ps, char **err)
{
	char	   *perr = NULL;

	if (ps->quiet_seen && ps->verbose_seen)
	{
		*err = pgr_strdup("--quiet and --verbose cannot be used together");
		return false;
	}
	if (ps->no_password_seen && ps->password_seen)
	{
		*err = pgr_strdup("-w/--no-password and -W/--password cannot be used together");
		return false;
	}
	if (o->order_by_arg && o->no_order)
	{
		*err = pgr_strdup("--order-by and --no-order cannot be used together");
		return false;
	}
	if (!check_table_names(&o->tables, "", err) || !check_table_names(&o->exclude_tables, " for --exclude-table", err))
		return false;
	if (o->tables.n > 0)
	{
		o->table_arg = pgr_strdup(o->tables.items[0]);
		if (!ident_parse_qualified(o->table_arg, &o->table_schema, &o->table_name, &perr))
			free(perr); /* cannot happen: checked above */
	}
	if (!check_selection(o, err))
		return false;
	if (o->json && !o->status)
	{
		*err = pgr_strdup("--json goes with --status");
		return false;
	}
	if (o->cleanup && o->status)
	{
		*err = pgr_strdup("--cleanup and --status cannot be used together");
		return false;
	}
	if (o->control != CONTROL_NONE && (o->cleanup || o->status || o->dry_run || o->table_arg == NULL))
	{
		*err = pgr_psprintf("%s steers the run of one table: give it with -t TABLE, without --cleanup, --status "
							"or --dry-run", control_option(o->control));
		return false;
	}
	if (o->cleanup || o->status || o->control != CONTROL_NONE)
	{
		if (o->set_not_null.n > 0 || o->order_by_arg || o->no_order || o->kill_blockers || o->alter.n > 0 ||
			o->method || o->max_lock_given || o->allow_old_snapshots || o->throttle.max_rate > 0 ||
			o->throttle.max_lag_s > 0 || o->throttle.max_lag_bytes > 0 || o->swap_window.set || o->hooks.n > 0 ||
			o->hook_timeout_given || o->keep_old || o->archive_old)
		{
			*err = pgr_psprintf("%s cannot be combined with --set-not-null, --alter, --method, --order-by, "
								"--no-order, --kill-blockers, --allow-old-snapshots, --max-lock-time, --max-rate, "
								"--max-replica-lag, --swap-window, --hook, --hook-timeout, --keep-old or --archive-old",
								o->cleanup ? "--cleanup" : o->status ? "--status" : control_option(o->control));
			return false;
		}
		if (o->status && o->dry_run)
		{
			*err = pgr_strdup("--status changes nothing: --dry-run does not apply");
			return false;
		}
		return true;
	}
	if ((o->keep_old || o->archive_old) && o->method && strcmp(o->method, "in-place") == 0)
	{
		*err = pgr_psprintf("%s cannot be combined with --method=in-place: an in-place run leaves no old "
							"table to %s",
							o->keep_old ? "--keep-old" : "--archive-old", o->keep_old ? "keep" : "archive");
		return false;
	}
	if (o->table_arg == NULL && !o->all && o->schemas.n == 0)
	{
		*err = pgr_strdup("no table given: use -t TABLE, --schema SCHEMA or --all (or --cleanup, --status)");
		return false;
	}
	if (o->method && strcmp(o->method, "in-place") == 0 && o->swap_window.set)
	{
		*err = pgr_strdup("--method=in-place has no swap, so --swap-window cannot apply: drop one of them "
						  "(--swap-window makes --method=auto a rebuild)");
		return false;
	}
	if (o->hook_timeout_given && o->hooks.n == 0)
	{
		*err = pgr_strdup("--hook-timeout is given without --hook: there is no hook for it to bound; give "
						  "--hook=COMMAND, or drop --hook-timeout");
		return false;
	}
	if (o->method && strcmp(o->method, "in-place") == 0 && o->order_by_arg)
	{
		*err = pgr_strdup("--method=in-place rewrites nothing, so it cannot store the rows in a new order: "
						  "drop --order-by, or use --method=rebuild");
		return false;
	}
	return true;
}

OptionsResult
options_parse(int argc, char **argv, RebuildOptions *o, char **err)
{
	int			c;
	ParseState	ps;

	memset(&ps, 0, sizeof(ps));
	options_init(o);
	*err = NULL;
	optind = 0;					/* glibc: full re-initialisation */
	opterr = 0;

	while ((c = getopt_long(argc, argv, ":t:o:j:nN:T:evqd:h:p:U:wWV?", long_options, NULL)) != -1)
	{
		if (c == OPT_HELP)
		{
			o->show_help = true;
			continue;
		}
		if (c == '?')
		{
			/* -? asks for help; anything else is an unknown option */
			const char *bad = argv[optind - 1];

			if (bad && strcmp(bad, "-?") == 0)
			{
				o->show_help = true;
				continue;
			}
			if (optopt)
				*err = pgr_psprintf("invalid option -- '%c'", optopt);
			else
				*err = pgr_psprintf("unrecognized option \"%s\"", bad);
			return OPTIONS_USAGE_ERROR;
		}
		if (c == ':')
		{
			*err = pgr_psprintf("option \"%s\" requires a value", argv[optind - 1]);
			return OPTIONS_USAGE_ERROR;
		}
		if (!check_given_once(&ps, c, optarg, err) || !apply_option(o, c, optarg, &ps, err))
			return OPTIONS_USAGE_ERROR;
	}
	if (o->show_help || o->show_version)
		return OPTIONS_EXIT;
	if (optind < argc)
	{
		*err = pgr_psprintf("too many command-line arguments (first is \"%s\")", argv[optind]);
		return OPTIONS_USAGE_ERROR;
	}
	if (!validate(o, &ps, err))
		return OPTIONS_USAGE_ERROR;
	return OPTIONS_OK;
}

void
options_free(RebuildOptions *o)
{
	sv_free(&o->tables);
	sv_free(&o->schemas);
	sv_free(&o->exclude_tables);
	sv_free(&o->exclude_schemas);
	free(o->report_file);
	free(o->table_arg);
	free(o->archive_old);
	free(o->table_schema);
	free(o->table_name);
	sv_free(&o->set_not_null);
	sv_free(&o->alter);
	sv_free(&o->hooks);
	free(o->method);
	free(o->order_by_arg);
	free(o->dbname);
	free(o->host);
	free(o->port);
	free(o->username);
	memset(o, 0, sizeof(*o));
}
