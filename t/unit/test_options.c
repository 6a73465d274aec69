/* test_options.c: command-line parsing and validation. */
#include <stdlib.h>
#include <string.h>

#include "connect.h"
#include "options.h"
#include "tap.h"

#define ARGV(...) ((char *[]) {"pg_rebuild", __VA_ARGS__, NULL})
#define ARGC(...) ((int) (sizeof((char *[]) {"pg_rebuild", __VA_ARGS__}) / sizeof(char *)))

static OptionsResult
parse(int argc, char **argv, RebuildOptions *o, char **err)
{
	*err = NULL;
	return options_parse(argc, argv, o, err);
}

#define EXPECT_USAGE(msgpart, ...) \
	do \
	{ \
		RebuildOptions o_; \
		char		  *e_; \
		OptionsResult  r_ = parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), &o_, &e_); \
		ok(r_ == OPTIONS_USAGE_ERROR && e_ && strstr(e_, msgpart), "usage error mentioning '%s' (%s)", \
		   msgpart, e_ ? e_ : "no message"); \
		free(e_); \
		options_free(&o_); \
	} while (0)

int
main(void)
{
	RebuildOptions o;
	char		  *err;

	ok(parse(ARGC("-t", "Public.\"Orders\"", "--set-not-null", "note", "--set-not-null=\"Other\"",
				  "-o", "id DESC", "-j", "2", "-n", "-T", "2.5", "--lock-timeout", "250", "-e", "-v",
				  "-d", "postgresql://u@h/db", "-h", "host", "-p", "5433", "-U", "me", "-w"),
			 ARGV("-t", "Public.\"Orders\"", "--set-not-null", "note", "--set-not-null=\"Other\"",
				  "-o", "id DESC", "-j", "2", "-n", "-T", "2.5", "--lock-timeout", "250", "-e", "-v",
				  "-d", "postgresql://u@h/db", "-h", "host", "-p", "5433", "-U", "me", "-w"),
			 &o, &err) == OPTIONS_OK,
	   "a full command line parses");
	is_str(o.table_schema, "public", "schema parsed and folded");
	is_str(o.table_name, "Orders", "quoted table keeps case");
	is_int((long long) o.set_not_null.n, 2, "two --set-not-null");
	is_str(o.set_not_null.items[1], "Other", "quoted column name");
	is_str(o.order_by_arg, "id DESC", "the --order-by list kept as given, for the server to check");
	is_int(o.jobs, 2, "--jobs");
	ok(o.dry_run, "--dry-run");
	ok(o.wait_timeout_s == 2.5, "--wait-timeout takes fractions");
	is_int(o.lock_timeout_ms, 250, "--lock-timeout");
	ok(o.echo, "--echo");
	is_int(o.verbosity, LOG_VERBOSE, "--verbose");
	is_str(o.dbname, "postgresql://u@h/db", "-d keeps a URI as given");
	is_str(o.port, "5433", "-p");
	is_int(o.prompt, PROMPT_NEVER, "-w");
	options_free(&o);

	ok(parse(ARGC("-t", "t"), ARGV("-t", "t"), &o, &err) == OPTIONS_OK, "defaults");
	is_int(o.jobs, 1, "jobs default 1");
	ok(o.wait_timeout_s == 60, "wait timeout default 60 s");
	is_int(o.lock_timeout_ms, 100, "lock timeout default 100 ms");
	ok(o.table_schema == NULL, "unqualified table");
	options_free(&o);

	ok(parse(ARGC("--help"), ARGV("--help"), &o, &err) == OPTIONS_EXIT && o.show_help, "--help");
	options_free(&o);
	ok(parse(ARGC("-?"), ARGV("-?"), &o, &err) == OPTIONS_EXIT && o.show_help, "-?");
	options_free(&o);
	ok(parse(ARGC("-V"), ARGV("-V"), &o, &err) == OPTIONS_EXIT && o.show_version, "-V");
	options_free(&o);
	ok(parse(ARGC("--cleanup"), ARGV("--cleanup"), &o, &err) == OPTIONS_OK && o.cleanup,
	   "--cleanup needs no table");
	options_free(&o);

	EXPECT_USAGE("no table", "-d", "db");
	EXPECT_USAGE("unrecognized option", "--bogus");
	EXPECT_USAGE("invalid option", "-Z");
	EXPECT_USAGE("requires a value", "-t");
	EXPECT_USAGE("--jobs", "-t", "t", "-j", "0");
	EXPECT_USAGE("--jobs", "-t", "t", "-j", "two");
	EXPECT_USAGE("--jobs", "-t", "t", "-j", "-3");
	EXPECT_USAGE("--wait-timeout", "-t", "t", "-T", "-1");
	EXPECT_USAGE("--wait-timeout", "-t", "t", "-T", "soon");
	EXPECT_USAGE("--wait-timeout", "-t", "t", "-T", "nan");
	EXPECT_USAGE("--lock-timeout", "-t", "t", "--lock-timeout", "0");
	EXPECT_USAGE("--lock-timeout", "-t", "t", "--lock-timeout", "1.5");
	EXPECT_USAGE("given twice", "-t", "t", "--set-not-null", "a", "--set-not-null", "A");
	EXPECT_USAGE("--order-by needs an ORDER BY list", "-t", "t", "-o", " ");
	EXPECT_USAGE("--order-by and --no-order cannot be used together", "-t", "t", "-o", "id", "--no-order");
	EXPECT_USAGE("cannot be combined", "--cleanup", "--no-order");
	EXPECT_USAGE("-w/--no-password and -W/--password cannot be used together", "-t", "t", "-w", "-W");

	/* an option that takes one value, given twice: never one of the two dropped */
	/* -t is repeatable: each table its own run */
	ok(parse(ARGC("-t", "orders", "--table=small", "-t", "s.\"Big\""), ARGV("-t", "orders", "--table=small", "-t", "s.\"Big\""),
			 &o, &err) == OPTIONS_OK &&
		   o.tables.n == 3 && strcmp(o.table_name, "orders") == 0 &&
		   options_is_selection(&o),
	   "-t repeatable: a selection of three");
	options_free(&o);
	ok(parse(ARGC("-t", "orders"), ARGV("-t", "orders"), &o, &err) == OPTIONS_OK && !options_is_selection(&o),
	   "one -t alone: not a selection");
	options_free(&o);
	ok(parse(ARGC("--schema", "app", "--schema", "\"Audit\"", "-N", "x", "--exclude-table", "app.t", "--min-bloat",
				  "20", "--min-size", "10MB", "--min-reclaim", "1GB"),
			 ARGV("--schema", "app", "--schema", "\"Audit\"", "-N", "x", "--exclude-table", "app.t", "--min-bloat",
				  "20", "--min-size", "10MB", "--min-reclaim", "1GB"),
			 &o, &err) == OPTIONS_OK &&
		   o.schemas.n == 2 && strcmp(o.schemas.items[1], "Audit") == 0 && o.min_bloat == 20 &&
		   o.min_size == 10LL << 20 && o.min_reclaim == 1LL << 30,
	   "--schema, exclusions and thresholds");
	options_free(&o);
	ok(parse(ARGC("--all"), ARGV("--all"), &o, &err) == OPTIONS_OK && o.all, "--all needs no -t");
	options_free(&o);
	EXPECT_USAGE("schema \"app\" is given twice to --schema", "--schema", "app", "--schema", "app");
	EXPECT_USAGE("invalid table name \"a.b.c\"", "-t", "t", "-t", "a.b.c");
	EXPECT_USAGE("invalid table name \"a.b.c\" for --exclude-table", "--all", "--exclude-table", "a.b.c");
	EXPECT_USAGE("--all takes every table of the database", "--all", "-t", "t");
	EXPECT_USAGE("narrow --all or --schema", "-t", "t", "--exclude-table", "u");
	EXPECT_USAGE("change one table's columns", "-t", "a", "-t", "b", "--set-not-null", "c");
	EXPECT_USAGE("change one table's columns", "--schema", "s", "--alter", "DROP COLUMN c");
	EXPECT_USAGE("change one table's columns", "--all", "-o", "id");
	EXPECT_USAGE("--min-bloat", "--all", "--min-bloat", "120");
	EXPECT_USAGE("--min-size", "--all", "--min-size", "10 parsecs");
	EXPECT_USAGE("--min-reclaim", "--all", "--min-reclaim", "-1MB");
	EXPECT_USAGE("--min-bloat is given twice", "--all", "--min-bloat", "1", "--min-bloat", "2");
	EXPECT_USAGE("--report is given twice", "--all", "--report", "a", "--report", "b");
	EXPECT_USAGE("--deadline: expected a time of day HH:MM", "--all", "--deadline", "25:00");
	EXPECT_USAGE("--deadline: expected a time of day HH:MM", "--all", "--deadline", "6:30");
	EXPECT_USAGE("--max-duration: expected a duration", "--all", "--max-duration", "-5");
	ok(parse(ARGC("-t", "t", "--deadline", "06:30"), ARGV("-t", "t", "--deadline", "06:30"), &o, &err) == OPTIONS_OK &&
		   o.deadline_minute == 390 && options_is_selection(&o),
	   "--deadline: minutes after midnight; a selection");
	options_free(&o);
	EXPECT_USAGE("-o/--order-by is given twice (\"a\", then \"b\")", "-t", "t", "-o", "a", "--order-by", "b");
	EXPECT_USAGE("-j/--jobs is given twice (\"2\", then \"2\")", "-t", "t", "-j", "2", "-j2");
	EXPECT_USAGE("-T/--wait-timeout is given twice", "-t", "t", "-T", "1", "--wait-timeout=2");
	EXPECT_USAGE("--lock-timeout is given twice", "-t", "t", "--lock-timeout", "1", "--lock-timeout=2");
	EXPECT_USAGE("--retry-timeout is given twice", "-t", "t", "--retry-timeout", "1", "--retry-timeout=2");
	EXPECT_USAGE("--catchup-timeout is given twice", "-t", "t", "--catchup-timeout", "1", "--catchup-timeout=2");
	EXPECT_USAGE("-d/--dbname is given twice: it takes one", "-t", "t", "-d", "a", "-d", "b password=x");
	EXPECT_USAGE("-h/--host is given twice", "-t", "t", "-h", "a", "--host", "b");
	EXPECT_USAGE("-p/--port is given twice", "-t", "t", "-p", "1", "-p", "2");
	EXPECT_USAGE("-U/--username is given twice", "-t", "t", "-U", "a", "--username=b");
	EXPECT_USAGE("--cleanup takes at most one -t TABLE", "--cleanup", "-t", "a", "-t", "b");
	EXPECT_USAGE("--status takes at most one -t TABLE", "--status", "--all");
	EXPECT_USAGE("--pause takes at most one -t TABLE", "--pause", "-t", "a", "-t", "b");
	EXPECT_USAGE("--release-swap takes at most one -t TABLE", "--release-swap", "--schema", "s");
	ok(parse(ARGC("-t", "t", "--set-not-null", "a", "--set-not-null", "b", "-v", "-v", "-n", "-n"),
			 ARGV("-t", "t", "--set-not-null", "a", "--set-not-null", "b", "-v", "-v", "-n", "-n"),
			 &o, &err) == OPTIONS_OK, "--set-not-null takes many columns; a flag given twice drops nothing");
	options_free(&o);
	EXPECT_USAGE("invalid table name", "-t", "x\"; DROP TABLE t; --");
	EXPECT_USAGE("invalid table name", "-t", "a.b.c");
	EXPECT_USAGE("cannot be combined", "--cleanup", "--set-not-null", "a");
	EXPECT_USAGE("together", "-t", "t", "-q", "-v");
	EXPECT_USAGE("too many", "-t", "t", "extra");
	EXPECT_USAGE("invalid column name", "-t", "t", "--set-not-null", "");

	{
		long   v;
		double d;

		ok(options_parse_int("42", 1, 100, &v) && v == 42, "int in range");
		ok(!options_parse_int("101", 1, 100, &v), "int above range");
		ok(!options_parse_int("4x", 1, 100, &v), "trailing junk");
		ok(options_parse_seconds("0", &d) && d == 0, "zero seconds allowed");
		ok(!options_parse_seconds("inf", &d), "infinity refused");
		{
			long long sz;

			ok(options_parse_size("512", &sz) && sz == 512, "size in bytes");
			ok(options_parse_size("3kB", &sz) && sz == 3072, "size in kB");
			ok(options_parse_size("2 GB", &sz) && sz == 2LL << 30, "size in GB, with a space");
			ok(!options_parse_size("2gb", &sz), "units as PostgreSQL spells them");
			ok(!options_parse_size("99999999999TB", &sz), "size overflow refused");
			ok(options_parse_duration("90min", &d) && d == 5400, "duration in minutes");
			ok(options_parse_duration("1.5h", &d) && d == 5400, "duration in hours");
			ok(options_parse_duration("600", &d) && d == 600, "duration in seconds");
			ok(!options_parse_duration("2 weeks", &d), "duration: unknown unit refused");
			ok(options_seconds_until(6 * 60, 2 * 3600.0) == 4 * 3600.0, "deadline later today");
			ok(options_seconds_until(6 * 60, 23 * 3600.0) == 7 * 3600.0, "deadline tomorrow morning");
			ok(options_seconds_until(6 * 60, 6 * 3600.0) == 86400.0, "deadline now: the next one");
		}
	}
	ok(parse(ARGC("-t", "t", "--alter", "ALTER COLUMN id TYPE bigint", "--alter=DROP COLUMN x", "--method", "in-place"),
			 ARGV("-t", "t", "--alter", "ALTER COLUMN id TYPE bigint", "--alter=DROP COLUMN x", "--method", "in-place"),
			 &o, &err) == OPTIONS_OK, "--alter twice and --method");
	is_int((long long) o.alter.n, 2, "both --alter kept, in order");
	is_str(o.alter.items[1], "DROP COLUMN x", "as given");
	is_str(o.method, "in-place", "--method");
	options_free(&o);
	EXPECT_USAGE("--method is given twice", "-t", "t", "--method", "auto", "--method", "rebuild");
	EXPECT_USAGE("expected auto, rebuild or in-place", "-t", "t", "--method", "fast");
	EXPECT_USAGE("--alter needs ALTER TABLE subcommands", "-t", "t", "--alter", "  ");
	EXPECT_USAGE("cannot store the rows in a new order", "-t", "t", "--method", "in-place", "-o", "id");
	EXPECT_USAGE("--cleanup cannot be combined with --set-not-null, --alter", "--cleanup", "--alter", "DROP COLUMN x");

	/* --max-replica-lag: a duration or a size, each with its unit */
	{
		double	  sec;
		long long bytes;

		ok(throttle_parse_lag("30s", &sec, &bytes) && sec == 30 && bytes == 0, "lag 30s");
		ok(throttle_parse_lag("500ms", &sec, &bytes) && sec == 0.5, "lag 500ms");
		ok(throttle_parse_lag("2min", &sec, &bytes) && sec == 120, "lag 2min");
		ok(throttle_parse_lag("64MB", &sec, &bytes) && bytes == 64LL * 1024 * 1024 && sec == 0, "lag 64MB");
		ok(throttle_parse_lag("1.5kB", &sec, &bytes) && bytes == 1536, "lag 1.5kB");
		ok(!throttle_parse_lag("30", &sec, &bytes), "lag without a unit is refused");
		ok(!throttle_parse_lag("0s", &sec, &bytes), "lag 0 is refused");
		ok(!throttle_parse_lag("5 parsecs", &sec, &bytes), "lag with an unknown unit is refused");
	}
	/* --swap-window: HH:MM-HH:MM, across midnight too */
	{
		SwapWindow w;

		ok(window_parse("02:00-04:30", &w) && w.start_s == 7200 && w.end_s == 16200, "window 02:00-04:30");
		ok(window_inside(&w, 7200) && window_inside(&w, 16199) && !window_inside(&w, 16200) && !window_inside(&w, 7199),
		   "inside 02:00-04:30: from the start, up to the end");
		ok(window_until_open(&w, 3600) == 3600 && window_until_close(&w, 9000) == 7200,
		   "02:00-04:30: opens in an hour at 01:00, closes in two at 02:30");
		ok(window_parse("23:00-01:00", &w) && window_inside(&w, 23 * 3600 + 1) && window_inside(&w, 1800) &&
			   !window_inside(&w, 3600) && window_until_close(&w, 23 * 3600) == 7200,
		   "23:00-01:00 spans midnight");
		ok(window_until_open(&w, 3600) == 22 * 3600, "23:00-01:00: at 01:00 it opens in 22 hours");
		ok(!window_parse("10:00-10:00", &w) && !window_parse("24:00-01:00", &w) && !window_parse("1:00-02:00", &w) &&
			   !window_parse("10:00", &w) && !window_parse("10:00-11:00x", &w),
		   "bad windows are refused");
	}
	EXPECT_USAGE("--max-rate", "-t", "t", "--max-rate", "0");
	EXPECT_USAGE("given twice", "-t", "t", "--swap-window", "01:00-02:00", "--swap-window", "03:00-04:00");
	EXPECT_USAGE("cannot be used together", "-t", "t", "--postpone-swap", "--release-swap");
	EXPECT_USAGE("give it with -t TABLE", "--resume");
	EXPECT_USAGE("--log-format", "-t", "t", "--log-format", "xml");
	/* --hook: repeatable, kept in order; --hook-timeout bounds them, once */
	ok(parse(ARGC("-t", "t", "--hook", "first $PGR_EVENT", "--hook=second", "--hook-timeout", "2.5"),
			 ARGV("-t", "t", "--hook", "first $PGR_EVENT", "--hook=second", "--hook-timeout", "2.5"), &o,
			 &err) == OPTIONS_OK,
	   "two --hook and a --hook-timeout parse");
	ok(o.hooks.n == 2 && strcmp(o.hooks.items[0], "first $PGR_EVENT") == 0 && strcmp(o.hooks.items[1], "second") == 0,
	   "the hooks are kept as given, in order");
	ok(o.hook_timeout_s == 2.5, "--hook-timeout takes fractions");
	options_free(&o);
	ok(parse(ARGC("-t", "t", "--hook", "x"), ARGV("-t", "t", "--hook", "x"), &o, &err) == OPTIONS_OK &&
		   o.hook_timeout_s == PGR_DEFAULT_HOOK_TIMEOUT_S,
	   "--hook-timeout defaults to 30 s");
	options_free(&o);
	EXPECT_USAGE("given twice", "-t", "t", "--hook", "x", "--hook-timeout", "1", "--hook-timeout", "2");
	EXPECT_USAGE("without --hook", "-t", "t", "--hook-timeout", "1");
	EXPECT_USAGE("--hook needs a command", "-t", "t", "--hook", "");
	EXPECT_USAGE("cannot be combined", "--cleanup", "--hook", "x");
	return done_testing();
}
