/* options.c: command-line parsing and validation, free of side effects. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
	OPT_CATCHUP_TIMEOUT,
	OPT_MAX_LOCK_TIME
};

static const struct option long_options[] = {
	{"table", required_argument, NULL, 't'},
	{"set-not-null", required_argument, NULL, OPT_SET_NOT_NULL},
	{"order-by", required_argument, NULL, 'o'},
	{"jobs", required_argument, NULL, 'j'},
	{"dry-run", no_argument, NULL, 'n'},
	{"wait-timeout", required_argument, NULL, 'T'},
	{"lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT},
	{"cleanup", no_argument, NULL, OPT_CLEANUP},
	{"status", no_argument, NULL, OPT_STATUS},
	{"json", no_argument, NULL, OPT_JSON},
	{"retry-timeout", required_argument, NULL, OPT_RETRY_TIMEOUT},
	{"kill-blockers", no_argument, NULL, OPT_KILL_BLOCKERS},
	{"catchup-timeout", required_argument, NULL, OPT_CATCHUP_TIMEOUT},
	{"max-lock-time", required_argument, NULL, OPT_MAX_LOCK_TIME},
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
	o->jobs = 1;
	o->wait_timeout_s = PGR_DEFAULT_WAIT_TIMEOUT_S;
	o->lock_timeout_ms = PGR_DEFAULT_LOCK_TIMEOUT_MS;
	o->verbosity = LOG_NORMAL;
	o->retry_timeout_s = PGR_DEFAULT_RETRY_TIMEOUT_S;
	o->catchup_timeout_s = PGR_DEFAULT_CATCHUP_TIMEOUT_S;
	o->max_lock_ms = PGR_DEFAULT_MAX_LOCK_MS;
	o->prompt = PROMPT_DEFAULT;
}

static void
replace(char **slot, const char *value)
{
	free(*slot);
	*slot = pgr_strdup(value);
}

/* Applies one option; returns false with *err set on a bad value. */
static bool
apply_option(RebuildOptions *o, int c, const char *arg, bool *quiet_seen, bool *verbose_seen,
			 char **err)
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
		case 'o':
			replace(&o->order_by_arg, arg);
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
			*verbose_seen = true;
			o->verbosity = LOG_VERBOSE;
			return true;
		case 'q':
			*quiet_seen = true;
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
			o->prompt = PROMPT_NEVER;
			return true;
		case 'W':
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
validate(RebuildOptions *o, bool quiet_seen, bool verbose_seen, char **err)
{
	char	   *perr = NULL;

	if (quiet_seen && verbose_seen)
	{
		*err = pgr_strdup("--quiet and --verbose cannot be used together");
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
	if (o->order_by_arg)
	{
		if (!ident_parse_order_by(o->order_by_arg, &o->order_by, &o->n_order_by, &perr))
		{
			*err = pgr_psprintf("invalid --order-by \"%s\": %s", o->order_by_arg, perr);
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
		if (o->set_not_null.n > 0 || o->order_by_arg || o->kill_blockers || o->max_lock_given)
		{
			*err = pgr_psprintf("%s cannot be combined with --set-not-null, --order-by, --kill-blockers or "
								"--max-lock-time", o->cleanup ? "--cleanup" : "--status");
			return false;
		}
		if (o->status && o->dry_run)
		{
			*err = pgr_strdup("--status changes nothing: --dry-run does not apply");
			return false;
		}
		return true;
	}
	if (o->table_arg == NULL)
	{
		*err = pgr_strdup("no table given: use -t TABLE (or --cleanup, --status)");
		return false;
	}
	return true;
}

OptionsResult
options_parse(int argc, char **argv, RebuildOptions *o, char **err)
{
	int			c;
	bool		quiet_seen = false;
	bool		verbose_seen = false;

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
		if (!apply_option(o, c, optarg, &quiet_seen, &verbose_seen, err))
			return OPTIONS_USAGE_ERROR;
	}
	if (o->show_help || o->show_version)
		return OPTIONS_EXIT;
	if (optind < argc)
	{
		*err = pgr_psprintf("too many command-line arguments (first is \"%s\")", argv[optind]);
		return OPTIONS_USAGE_ERROR;
	}
	if (!validate(o, quiet_seen, verbose_seen, err))
		return OPTIONS_USAGE_ERROR;
	return OPTIONS_OK;
}

void
options_free(RebuildOptions *o)
{
	free(o->table_arg);
	free(o->table_schema);
	free(o->table_name);
	sv_free(&o->set_not_null);
	free(o->order_by_arg);
	order_items_free(o->order_by, o->n_order_by);
	free(o->dbname);
	free(o->host);
	free(o->port);
	free(o->username);
	memset(o, 0, sizeof(*o));
}
