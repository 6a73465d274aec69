/* options.c: command-line parsing and validation, free of side effects. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
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
	OPT_KEEP_OLD,
	OPT_ARCHIVE_OLD,
	OPT_COUNT					/* one past the last code: short options are below 256 */
};

static const struct option long_options[] = {
	{"table", required_argument, NULL, 't'},
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

static void
options_init(RebuildOptions *o)
{
	memset(o, 0, sizeof(*o));
	sv_init(&o->set_not_null);
	sv_init(&o->alter);
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
 * values count and the other vanish: a usage error naming both (only
 * --set-not-null and --alter take many).
 */
static bool
check_given_once(ParseState *ps, int c, const char *arg, char **err)
{
	char	   *name;

	if (c < 0 || c >= OPT_COUNT || c == OPT_SET_NOT_NULL || c == OPT_ALTER || !takes_value(c))
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
	else if (c == 't')
		*err = pgr_psprintf("%s is given twice (\"%s\", then \"%s\"): this version rebuilds one table per "
							"command; run pg_rebuild once for each table", name, ps->given[c], arg);
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
			replace(&o->table_arg, arg);
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
	if (o->table_arg)
	{
		if (!ident_parse_qualified(o->table_arg, &o->table_schema, &o->table_name, &perr))
		{
			*err = pgr_psprintf("invalid table name \"%s\": %s", o->table_arg, perr);
			free(perr);
			return false;
		}
	}
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
	if (o->cleanup || o->status)
	{
		if (o->set_not_null.n > 0 || o->order_by_arg || o->no_order || o->kill_blockers || o->alter.n > 0 ||
			o->method || o->max_lock_given || o->allow_old_snapshots || o->keep_old ||
			o->archive_old)
		{
			*err = pgr_psprintf("%s cannot be combined with --set-not-null, --alter, --method, --order-by, "
								"--no-order, --kill-blockers, --allow-old-snapshots, --max-lock-time, --keep-old or --archive-old",
								o->cleanup ? "--cleanup" : "--status");
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
	if (o->table_arg == NULL)
	{
		*err = pgr_strdup("no table given: use -t TABLE (or --cleanup, --status)");
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

	while ((c = getopt_long(argc, argv, ":t:o:j:nT:evqd:h:p:U:wWV?", long_options, NULL)) != -1)
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
	free(o->table_arg);
	free(o->archive_old);
	free(o->table_schema);
	free(o->table_name);
	sv_free(&o->set_not_null);
	sv_free(&o->alter);
	free(o->method);
	free(o->order_by_arg);
	free(o->dbname);
	free(o->host);
	free(o->port);
	free(o->username);
	memset(o, 0, sizeof(*o));
}
