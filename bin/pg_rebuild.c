/*
 * pg_rebuild: rebuild a PostgreSQL table online.
 *
 * The program reads the command line, hands each job to the engine in lib/
 * (rebuild.h for a rebuild, cleanup.h for --cleanup and --status), and
 * prints what the engine returns (report.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cancel.h"
#include "changes.h"
#include "cleanup.h"
#include "connect.h"
#include "control.h"
#include "event.h"
#include "gzfile.h"
#include "log.h"
#include "options.h"
#include "rebuild.h"
#include "report.h"
#include "selection.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

static void
print_help(void)
{
	printf("pg_rebuild rebuilds a PostgreSQL table online: it copies the table into a new one that\n"
		   "carries the wanted changes, replays the writes made meanwhile, and swaps the two in a\n"
		   "transaction that holds ACCESS EXCLUSIVE for milliseconds.\n\n"
		   "Usage:\n"
		   "  pg_rebuild [OPTION]... -t TABLE\n"
		   "  pg_rebuild [OPTION]... {-t TABLE... | --schema=SCHEMA... | --all} [--min-bloat=PERCENT]...\n"
		   "  pg_rebuild [OPTION]... --cleanup [-t TABLE]\n"
		   "  pg_rebuild [OPTION]... --status [--json] [-t TABLE]\n"
		   "  pg_rebuild [OPTION]... {--pause|--resume|--postpone-swap|--release-swap} -t TABLE\n\n"
		   "Options:\n"
		   "  -t, --table=TABLE          table to rebuild (schema-qualified, quoted names allowed);\n"
		   "                             repeatable: each table its own run, one after the other\n"
		   "                             (pg_repack -t, vacuumdb -t)\n"
		   "\nChoosing several tables (each its own run, one at a time; a summary line per table at the end):\n"
		   "      --schema=SCHEMA        every table of SCHEMA the role may rebuild (repeatable;\n"
		   "                             pg_repack -c/--schema, vacuumdb -n/--schema)\n"
		   "      --all                  every table of the database the role may rebuild (unlike\n"
		   "                             pg_repack -a and vacuumdb -a, this database only)\n"
		   "      --exclude-table=TABLE  leave TABLE out of --all or --schema (repeatable; no match\n"
		   "                             in pg_repack or vacuumdb)\n"
		   "  -N, --exclude-schema=SCHEMA leave SCHEMA out of --all (repeatable; vacuumdb -N)\n"
		   "      --min-bloat=PERCENT    only tables expected to give back at least PERCENT of heap\n"
		   "                             and indexes (no match in pg_repack or vacuumdb)\n"
		   "      --measure=METHOD       estimate (from the statistics; the default) or exact (pgstattuple:\n"
		   "                             pgstattuple_approx, pgstatindex; must be installed)\n"
		   "      --min-size=SIZE        only tables of at least SIZE (e.g. 100MB; vacuumdb has no match)\n"
		   "      --min-reclaim=SIZE     only tables expected to give back at least SIZE\n"
		   "      --stop-on-error        stop at the first table that fails (default: go on with the next)\n"
		   "      --deadline=HH:MM       start no table not expected to finish by then (at the rate of the\n"
		   "                             tables done so far), never a swap after it; the rest is deferred\n"
		   "                             (no match in pg_repack or vacuumdb)\n"
		   "      --max-duration=DURATION the same, counted from the start: 3600, 90min, 2h\n"
		   "      --report=FILE          write the summary as JSON to FILE (docs/report-format.md)\n"
		   "\nChanging one table (with exactly one -t):\n"
		   "      --set-not-null=COLUMN  rebuilt table has NOT NULL on COLUMN (repeatable)\n"
		   "      --alter=SUBCOMMANDS    change the table as ALTER TABLE TABLE SUBCOMMANDS would, online\n"
		   "                             (repeatable): ALTER COLUMN c TYPE t [USING e], SET NOT NULL,\n"
		   "                             SET/DROP DEFAULT, SET STORAGE, SET COMPRESSION; ADD CONSTRAINT\n"
		   "                             ... CHECK (...); DROP COLUMN c; SET/RESET (...); SET TABLESPACE\n"
		   "      --method=METHOD        how to make a column NOT NULL: rebuild (a new table), in-place\n"
		   "                             (a validated CHECK, then SET NOT NULL: no copy), or auto\n"
		   "                             (in-place when NOT NULL is the only change and there is little\n"
		   "                             to reclaim; the default)\n"
		   "  -o, --order-by=LIST        store the rows in this order: an ORDER BY list, as in SELECT\n"
		   "                             (default: the order of the index marked for CLUSTER, if any)\n"
		   "      --no-order             store the rows as they come, even with a CLUSTER index\n"
		   "  -j, --jobs=N               connections for the copy and the index builds (default 1)\n"
		   "  -n, --dry-run              print the plan, each statement with the lock it takes; change nothing\n"
		   "  -T, --wait-timeout=SECS    total time to keep trying for a lock (default %.0f)\n"
		   "      --lock-timeout=MS      one lock attempt (default %d)\n"
		   "      --cleanup              remove what dead runs left behind (all, or those of -t TABLE);\n"
		   "                             with --dry-run, list it\n"
		   "      --status               list the runs recorded in the database (exit 3 if one is dead)\n"
		   "      --json                 with --status: print JSON\n"
		   "      --kill-blockers        after --wait-timeout, cancel then terminate the sessions that\n"
		   "                             hold locks on the table and block the swap (off by default)\n"
		   "      --allow-old-snapshots  swap even when transactions that began before the rebuilt rows\n"
		   "                             were written are still open (they would see the table empty\n"
		   "                             or in part); by default the swap waits for them up to\n"
		   "                             --wait-timeout, then the run fails and changes nothing\n"
		   "      --keep-old             keep the old table after the swap, renamed pgrebuild_old_OID\n"
		   "                             (the table's OID before the rebuild) in the table's schema and\n"
		   "                             recorded as the run's: pg_rebuild --cleanup drops it\n"
		   "      --archive-old=FILE     before the old table is dropped (or kept), write its rows into\n"
		   "                             FILE, gzip-compressed (docs/archive-format.md); a failed\n"
		   "                             archive keeps the old table (exit 3)\n"
		   "      --retry-timeout=SECS   keep retrying a lost or refused connection (default %.0f)\n"
		   "      --catchup-timeout=SECS stop when the replay backlog has not shrunk for this long\n"
		   "                             (default %.0f)\n"
		   "      --max-lock-time=MS     take the swap's ACCESS EXCLUSIVE only when the changes left to\n"
		   "                             apply under it fit this time at the measured rate; replay\n"
		   "                             the rest first (default %d)\n"
		   "      --max-rate=N           copy and replay at most N rows a second\n"
		   "      --max-replica-lag=LAG  pause the copy and the replay while a standby (pg_stat_replication)\n"
		   "                             or an active logical slot is further behind: a duration (30s,\n"
		   "                             500ms, 2min) or WAL bytes (64MB, 1GB)\n"
		   "      --swap-window=HH:MM-HH:MM  swap only in this window (server time); replay until it opens,\n"
		   "                             give up (exit 1, nothing left) if it closes before the swap\n"
		   "      --pause, --resume      pause the running rebuild of -t TABLE after its current chunk or\n"
		   "                             batch, or let it go on (written to its record)\n"
		   "      --postpone-swap, --release-swap\n"
		   "                             keep the running rebuild of -t TABLE replaying before its swap,\n"
		   "                             or let it swap\n"
		   "      --hook=COMMAND         run COMMAND (with /bin/sh -c; repeatable, in the order given) at\n"
		   "                             before-copy, before-swap, after-swap and failure: the event as\n"
		   "                             JSON on its stdin, PGR_EVENT, PGR_TABLE, ... in its environment;\n"
		   "                             a before-swap hook that exits non-zero postpones the swap\n"
		   "      --hook-timeout=SECS    kill a hook (SIGTERM, then SIGKILL) that runs longer (default %.0f)\n"
		   "      --log-format=FORMAT    text (the default) or json: every event (phases, progress with an\n"
		   "                             ETA, lock waits and their blockers, warnings, errors with their\n"
		   "                             SQLSTATE, the summary) as one JSON object per line on stdout\n"
		   "  -e, --echo                 print the SQL sent to the server\n"
		   "  -v, --verbose              say more\n"
		   "  -q, --quiet                print errors only\n"
		   "  -V, --version              print the version and exit\n"
		   "  -?, --help                 print this help and exit\n\n"
		   "Connection options:\n"
		   "  -d, --dbname=DBNAME        database name, or a connection string or URI\n"
		   "  -h, --host=HOSTNAME        database server host or socket directory\n"
		   "  -p, --port=PORT            database server port\n"
		   "  -U, --username=USERNAME    user name to connect as (the table's owner, or a member of its role)\n"
		   "  -w, --no-password          never prompt for a password\n"
		   "  -W, --password             force a password prompt\n"
		   "PG* environment variables and ~/.pgpass are used as by psql.\n\n"
		   "Several tables: 0 when every chosen table was rebuilt, skipped (a threshold, or it cannot be\n"
		   "rebuilt) or deferred (--deadline); 1 when one failed (or was not started after --stop-on-error) and left nothing; 3 when\n"
		   "one left objects for --cleanup.\n"
		   "Exit status: 0 rebuilt, nothing left behind; 1 failed, the table is unchanged and nothing is left\n"
		   "behind; 2 bad usage; 3 leftovers remain (the run failed, or the table was rebuilt but some of its\n"
		   "objects remain; the message says which and names the --cleanup command).  --cleanup: 0 nothing\n"
		   "dead left, 3 some left (with --dry-run: dead runs to clean up).  --status: 3 when a run is dead.\n\n"
		   "Examples:\n"
		   "  pg_rebuild -d shop -t orders --alter 'ALTER COLUMN id TYPE bigint'\n"
		   "  pg_rebuild -d shop -t events --alter 'ALTER COLUMN payload TYPE jsonb USING payload::jsonb' \\\n"
		   "             --alter 'ADD CONSTRAINT events_kind_check CHECK (kind <> '''')'\n"
		   "  pg_rebuild -d shop -t orders --set-not-null customer_id --method in-place\n\n"
		   "See the pg_rebuild(1) manual page.\n",
		   PGR_DEFAULT_WAIT_TIMEOUT_S, PGR_DEFAULT_LOCK_TIMEOUT_MS, PGR_DEFAULT_RETRY_TIMEOUT_S,
		   PGR_DEFAULT_CATCHUP_TIMEOUT_S, PGR_DEFAULT_MAX_LOCK_MS, PGR_DEFAULT_HOOK_TIMEOUT_S);
}

static void
params_from_options(ConnParams *p, const RebuildOptions *o)
{
	memset(p, 0, sizeof(*p));
	p->dbname = o->dbname;
	p->host = o->host;
	p->port = o->port;
	p->user = o->username;
	p->prompt = o->prompt;
	p->retry_timeout_s = o->retry_timeout_s;
}

static void
params_free(ConnParams *p)
{
	free(p->password);
	free(p->startup_options);
}

/* The requested changes, from the options (which refused duplicates already). */
static void
changes_from_options(ChangeSet *cs, const RebuildOptions *o)
{
	changes_init(cs);
	for (size_t i = 0; i < o->set_not_null.n; i++)
	{
		char	   *err = NULL;

		if (!changes_add_not_null(cs, o->set_not_null.items[i], &err))
			free(err);			/* cannot happen: options_parse refused it */
	}
	if (o->order_by_arg)
		changes_set_order(cs, o->order_by_arg);
	else if (o->no_order)
		changes_set_no_order(cs);
	for (size_t i = 0; i < o->alter.n; i++)
		changes_add_alter(cs, o->alter.items[i]);
	if (o->method && strcmp(o->method, "rebuild") == 0)
		cs->method = METHOD_REBUILD;
	else if (o->method && strcmp(o->method, "in-place") == 0)
		cs->method = METHOD_IN_PLACE;
	else if (o->swap_window.set)
		cs->method = METHOD_REBUILD;	/* the window is for a swap: in place has none */
	else
		cs->method = METHOD_AUTO;
}

/* Rebuilds the table of -t (or each table of a selection), or prints its plan; returns the exit code. */
static int
rebuild_command(const RebuildOptions *o)
{
	ConnParams	params;
	ChangeSet	changes;
	RunSettings s = {
		.jobs = o->jobs,
		.wait_timeout_s = o->wait_timeout_s,
		.lock_timeout_ms = o->lock_timeout_ms,
		.retry_timeout_s = o->retry_timeout_s,
		.kill_blockers = o->kill_blockers,
		.allow_old_snapshots = o->allow_old_snapshots,
		.catchup_timeout_s = o->catchup_timeout_s,
		.max_lock_ms = o->max_lock_ms,
		.throttle = o->throttle,
		.swap_window = o->swap_window,
		/* --dry-run changes nothing, and runs no hook */
		.hooks = {.commands = o->dry_run ? NULL : o->hooks.items,
				  .n = o->dry_run ? 0 : (int) o->hooks.n,
				  .timeout_s = o->hook_timeout_s},
		.keep_old = o->keep_old,
		.archive_old = o->archive_old,
	};
	Run		   *r;
	int			code;
	char	   *why = NULL;

	/* before anything is created: an archive that cannot be written would keep the old table */
	if (o->archive_old && !gzfile_can_create(o->archive_old, &why))
	{
		log_error("cannot write the archive of the old table to %s: %s", o->archive_old, why);
		log_detail("Nothing was changed: the table was not touched.");
		log_hint("Give --archive-old a file that does not exist yet, in a directory pg_rebuild may write to.");
		free(why);
		return PGR_EXIT_FAILED;
	}
	params_from_options(&params, o);
	changes_from_options(&changes, o);
	if (options_is_selection(o))
	{
		code = selection_command(o, &params, &s, &changes);
		changes_free(&changes);
		params_free(&params);
		return code;
	}
	r = run_new(&s, &params, o->table_schema, o->table_name, &changes);
	if (!rebuild_prepare(r))
		code = r->result.exit_code;
	else if (o->dry_run)
	{
		report_dry_run(r);
		code = PGR_EXIT_OK;
	}
	else
	{
		report_intro(r);
		code = rebuild_table(r);
		if (code == PGR_EXIT_OK)
			report_summary(r);
	}
	report_end(r);
	run_free(r);
	changes_free(&changes);
	params_free(&params);
	return code;
}

/* --cleanup or --status; returns the exit code. */
static int
runs_command(const RebuildOptions *o)
{
	ConnParams	params;
	CleanupRequest req;
	int			code;

	params_from_options(&params, o);
	req = (CleanupRequest) {
		.params = &params,
		.schema = o->table_schema,
		.table = o->table_name,
		.table_arg = o->table_arg,
		.dry_run = o->dry_run,
		.lock_timeout_ms = o->lock_timeout_ms,
		.wait_timeout_s = o->wait_timeout_s,
	};
	if (o->cleanup)
		code = cleanup_main(&req);
	else
	{
		RunList		l;

		if (!status_read(&req, &l))
			code = PGR_EXIT_FAILED;
		else
		{
			int			dead = 0;

			report_status(&l, o->json);
			for (int i = 0; i < l.n; i++)
				dead += !l.runs[i].alive;
			/*
			 * a dead run's leftovers: a scheduler can alert on it; so it can
			 * on state it could not vouch for (said above)
			 */
			code = dead > 0 ? PGR_EXIT_LEFTOVERS :
				(l.nuntrusted > 0 || l.table_unseen) ? PGR_EXIT_FAILED : PGR_EXIT_OK;
		}
		run_list_free(&l);
	}
	params_free(&params);
	return code;
}

int
main(int argc, char **argv)
{
	RebuildOptions opts;
	char	   *err = NULL;
	int			code;

	switch (options_parse(argc, argv, &opts, &err))
	{
		case OPTIONS_EXIT:
			if (opts.show_help)
				print_help();
			else
				printf("pg_rebuild %s\n", PACKAGE_VERSION);
			options_free(&opts);
			return PGR_EXIT_OK;
		case OPTIONS_USAGE_ERROR:
			log_error("%s", err);
			log_hint("Try \"pg_rebuild --help\" for more information.");
			free(err);
			options_free(&opts);
			return PGR_EXIT_USAGE;
		case OPTIONS_OK:
			break;
	}
	log_set_level(opts.verbosity);
	log_set_echo(opts.echo);
	event_set_format(opts.log_json ? EVENT_JSON : EVENT_TEXT);
	conn_install_signal_handlers();
	if (opts.control != CONTROL_NONE)
	{
		ConnParams	params;

		params_from_options(&params, &opts);
		code = control_main(&params, opts.table_schema, opts.table_name, opts.control);
		params_free(&params);
	}
	else if (opts.status || opts.cleanup)
		code = runs_command(&opts);
	else
		code = rebuild_command(&opts);
	options_free(&opts);
	return code;
}
