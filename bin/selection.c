/*
 * selection.c: several tables in one command, each its own run, one after
 * the other (see selection.h).
 */
#include "selection.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "exact.h"
#include "log.h"
#include "progress.h"
#include "rebuild.h"
#include "report.h"

/* --measure=exact: where pgstattuple is; false (logged) when it is not installed. */
static bool
find_pgstattuple(Conn *c, char **schema)
{
	if (!exact_find_extension(c, schema))
	{
		conn_report(c, "could not look for the pgstattuple extension");
		log_detail("Nothing was changed.");
		return false;
	}
	if (*schema == NULL)
	{
		log_error("--measure=exact needs the pgstattuple extension, which is not installed in database %s",
				  PQdb(c->pg));
		log_detail("Nothing was changed: no table was looked at.");
		log_hint("Run CREATE EXTENSION pgstattuple (as a role that may), or leave --measure out: the estimate "
				 "from the statistics needs no extension.");
		return false;
	}
	return true;
}

/* Reads and chooses the tables; false (logged) when the database could not be read. */
static bool
read_selection(const RebuildOptions *o, ConnParams *params, Selection *sel)
{
	SelectRequest req = {
		.tables = &o->tables,
		.schemas = &o->schemas,
		.all = o->all,
		.exclude_tables = &o->exclude_tables,
		.exclude_schemas = &o->exclude_schemas,
	};
	SelectFilter f = {.min_bloat = o->min_bloat, .min_size = o->min_size, .min_reclaim = o->min_reclaim};
	Conn		*c = conn_open(params, "select");
	char		*ext = NULL;
	bool		 ok;

	memset(sel, 0, sizeof(*sel));
	if (c == NULL)
		return false;
	ok = !o->measure_exact || find_pgstattuple(c, &ext);
	req.exact_schema = ext;
	ok = ok && select_read(c, &req, sel);
	free(ext);
	conn_close(c);
	if (ok)
		select_choose(sel, &f);
	return ok;
}

static void
outcomes_init(SelectionRun *sr)
{
	sr->n = sr->sel.n;
	sr->tables = pgr_calloc((size_t) (sr->n > 0 ? sr->n : 1), sizeof(TableOutcome));
	for (int i = 0; i < sr->n; i++)
	{
		TableOutcome *t = &sr->tables[i];

		t->cand = &sr->sel.items[i];
		t->outcome = t->cand->state == CAND_SKIPPED ? OUT_SKIPPED : t->cand->state == CAND_MISSING ? OUT_FAILED
																								   : OUT_NOT_STARTED;
		t->why = t->cand->why ? pgr_strdup(t->cand->why) : NULL;
	}
}

static void
outcomes_free(SelectionRun *sr)
{
	for (int i = 0; i < sr->n; i++)
		free(sr->tables[i].why);
	free(sr->tables);
	select_free(&sr->sel);
}

/*
 * Preflight of one table with its diagnostics held: a table that cannot be
 * rebuilt is an answer (skipped, with preflight's first error as the
 * reason), any other failure is printed as it came.  Returns the prepared
 * run, or NULL (t says why).
 */
static Run *
prepare_one(TableOutcome *t, const RunSettings *s, ConnParams *params, const ChangeSet *cs)
{
	Run	 *r = run_new(s, params, t->cand->schema, t->cand->name, cs);
	char *first;

	log_hold();
	if (rebuild_prepare(r))
	{
		free(log_release(true));
		return r;
	}
	first = log_release(!r->result.refused);
	free(t->why);
	if (r->result.refused)
	{
		t->outcome = OUT_SKIPPED;
		t->why = pgr_psprintf("cannot be rebuilt: %s", first ? first : "refused at preflight");
		free(first);
	}
	else
	{
		t->outcome = r->result.exit_code == PGR_EXIT_LEFTOVERS ? OUT_LEFTOVERS : OUT_FAILED;
		t->why = first ? first : pgr_strdup("failed at preflight");
	}
	t->result = r->result;
	run_free(r);
	return NULL;
}

/* Rebuilds one prepared table; true when the command may go on to the next. */
static bool
rebuild_one(TableOutcome *t, Run *r)
{
	int code;

	report_intro(r);
	code = rebuild_table(r);
	t->ran = true;
	t->result = r->result;
	if (code == PGR_EXIT_OK)
	{
		report_summary(r);
		t->outcome = OUT_REBUILT;
	}
	else if (r->swap.deadline_passed && code == PGR_EXIT_FAILED)
	{
		t->outcome = OUT_DEFERRED;
		t->why = pgr_strdup("reached the deadline before its swap: stopped, the table is as it was");
	}
	else
	{
		t->outcome = code == PGR_EXIT_LEFTOVERS ? OUT_LEFTOVERS : OUT_FAILED;
		if (r->result.interrupted)
			t->why = pgr_strdup("stopped by a signal");
		else
			t->why = pgr_strdup(code == PGR_EXIT_LEFTOVERS ? "failed; objects remain: run --cleanup"
														   : "failed; the table is as it was");
	}
	return !r->result.interrupted;
}

/* Marks every table after i that was to be rebuilt as not started, saying why. */
static void
stop_after(SelectionRun *sr, int i, const char *why)
{
	for (int k = i + 1; k < sr->n; k++)
		if (sr->tables[k].outcome == OUT_NOT_STARTED)
		{
			free(sr->tables[k].why);
			sr->tables[k].why = pgr_strdup(why);
		}
}

/*
 * With a deadline, whether table i must wait for another night: the
 * deadline passed, or the table is not expected to finish before it at the
 * rate of the tables rebuilt so far (t->why says which).  With no table
 * done yet there is no rate: the table starts, and its swap still never
 * starts after the deadline.
 */
static bool
defer(SelectionRun *sr, int i)
{
	TableOutcome *t = &sr->tables[i];
	long long	  bytes = 0;
	double		  secs = 0;
	double		  left = sr->deadline - pgr_now();
	double		  expected;
	char		  a[32];
	char		  b[32];

	if (sr->deadline <= 0)
		return false;
	if (pgr_deadline_passed(sr->deadline))
	{
		t->why = pgr_strdup("not started: the deadline has passed");
		return true;
	}
	for (int k = 0; k < i; k++)
		if (sr->tables[k].outcome == OUT_REBUILT)
		{
			bytes += sr->tables[k].result.total_before;
			secs += sr->tables[k].result.seconds;
		}
	expected = select_expected_seconds(candidate_size(t->cand), bytes, secs);
	if (expected < 0 || expected <= left)
		return false;
	t->why = pgr_psprintf("not started: expected to take %s at the rate of the tables rebuilt tonight, %s left "
						  "before the deadline",
						  format_duration(expected, a, sizeof(a)),
						  format_duration(left, b, sizeof(b)));
	return true;
}

/* Each chosen table in turn: its own run, its own connections and locks, freed before the next. */
static void
run_tables(SelectionRun *sr, const RebuildOptions *o, ConnParams *params, const RunSettings *s, const ChangeSet *cs)
{
	for (int i = 0; i < sr->n; i++)
	{
		TableOutcome *t = &sr->tables[i];
		Run			 *r;
		bool		  go_on;

		if (t->outcome != OUT_NOT_STARTED)
			continue;
		if (defer(sr, i))
		{
			t->outcome = OUT_DEFERRED;
			continue;
		}
		r = prepare_one(t, s, params, cs);
		if (r == NULL)
			go_on = t->outcome == OUT_SKIPPED || !o->stop_on_error;
		else
		{
			go_on = rebuild_one(t, r);
			if (!go_on)
			{
				run_free(r);
				stop_after(sr, i, "not started: the command was stopped by a signal");
				return;
			}
			go_on = t->outcome == OUT_REBUILT || !o->stop_on_error;
			run_free(r);
		}
		if (!go_on)
		{
			stop_after(sr, i, "not started: a table before it failed (--stop-on-error)");
			return;
		}
	}
}

/*
 * --dry-run: every chosen table through preflight (which changes nothing),
 * so that those that cannot be rebuilt are listed as skipped; the plan of
 * the first one that can.
 */
static void
dry_run_tables(SelectionRun *sr, ConnParams *params, const RunSettings *s, const ChangeSet *cs)
{
	int first = -1;

	for (int i = 0; i < sr->n; i++)
	{
		TableOutcome *t = &sr->tables[i];
		Run			 *r;

		if (t->outcome != OUT_NOT_STARTED)
			continue;
		r = prepare_one(t, s, params, cs);
		if (r == NULL)
			continue;
		t->outcome = OUT_PLANNED;
		if (first < 0)
			first = i;
		run_free(r); /* its connections and its table's advisory lock go before the next table's */
	}
	report_selection(sr);
	if (first >= 0)
	{
		/* prepared again: no run is kept open while another table is read */
		TableOutcome again = sr->tables[first];
		Run			*r;

		again.why = NULL;
		r = prepare_one(&again, s, params, cs);
		if (r != NULL)
		{
			printf("\n");
			report_dry_run(r);
			run_free(r);
		}
		free(again.why);
	}
}

int
selection_exit_code(const SelectionRun *sr)
{
	int code = PGR_EXIT_OK;

	for (int i = 0; i < sr->n; i++)
	{
		Outcome out = sr->tables[i].outcome;

		if (out == OUT_LEFTOVERS)
			return PGR_EXIT_LEFTOVERS;
		if (out == OUT_FAILED || (out == OUT_NOT_STARTED && !sr->dry_run))
			code = PGR_EXIT_FAILED;
	}
	return code;
}

/*
 * Opens --report's file before anything is done, so that a report that
 * cannot be written stops the command before it changes anything.
 */
static FILE *
open_report(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
	{
		log_error("could not open the report file \"%s\": %s", path, strerror(errno));
		log_detail("Nothing was changed: no table was looked at.");
		log_hint("Give --report a file the user running pg_rebuild may write.");
	}
	return f;
}

/*
 * The deadline of --deadline and --max-duration (the earlier), as a
 * pgr_now() value; 0 when neither is given.  Said on stdout.
 */
static double
command_deadline(const RebuildOptions *o, double start)
{
	double	  d = 0;
	time_t	  now = time(NULL);
	struct tm lt;
	char	  when[32];
	char	  in[32];

	if (o->max_duration_s >= 0)
		d = start + o->max_duration_s;
	if (o->deadline_minute >= 0 && localtime_r(&now, &lt) != NULL)
	{
		double at = start + options_seconds_until(o->deadline_minute, lt.tm_hour * 3600.0 + lt.tm_min * 60.0 + lt.tm_sec);

		if (d == 0 || at < d)
			d = at;
	}
	if (d > 0)
	{
		time_t wall = now + (time_t) (d - start);

		if (localtime_r(&wall, &lt) == NULL || strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &lt) == 0)
			snprintf(when, sizeof(when), "?");
		log_info("deadline %s (in %s): a table is started only when it is expected to finish by then, "
				 "and no swap starts after it",
				 when, format_duration(round(d - start), in, sizeof(in)));
	}
	return d;
}

int
selection_command(const RebuildOptions *o, ConnParams *params, const RunSettings *settings, const ChangeSet *cs)
{
	SelectionRun	   sr;
	FILE			  *report = NULL;
	double			   start = pgr_now();
	RunSettings		   s_copy = *settings;
	const RunSettings *s = &s_copy;

	memset(&sr, 0, sizeof(sr));
	sr.dry_run = o->dry_run;
	if (!o->dry_run)
		sr.deadline = s_copy.swap_deadline = command_deadline(o, start);
	if (o->report_file && (report = open_report(o->report_file)) == NULL)
		return PGR_EXIT_FAILED;
	if (!read_selection(o, params, &sr.sel))
	{
		select_free(&sr.sel);
		if (report)
			fclose(report);
		return PGR_EXIT_FAILED;
	}
	outcomes_init(&sr);
	if (o->dry_run)
		dry_run_tables(&sr, params, s, cs);
	else
	{
		run_tables(&sr, o, params, s, cs);
		sr.seconds = pgr_now() - start;
		report_selection(&sr);
	}
	sr.seconds = pgr_now() - start;
	sr.exit_code = selection_exit_code(&sr);
	if (report)
	{
		bool ok = report_selection_json(&sr, report);

		if (fclose(report) != 0 || !ok)
		{
			log_error("could not write the report file \"%s\": %s", o->report_file, strerror(errno));
			log_detail("The tables are as the lines above say; only the report is missing.");
			if (sr.exit_code == PGR_EXIT_OK)
				sr.exit_code = PGR_EXIT_FAILED;
		}
	}
	outcomes_free(&sr);
	return sr.exit_code;
}
