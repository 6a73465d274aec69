/* index.c: the index phase: the shadow's indexes, constraints and prepared dependents. */
#include "index.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "pool.h"
#include "test_hooks.h"

/* The index builds' progress, read from pg_stat_progress_create_index. */
typedef struct IndexProgress
{
	Run	  *r;
	int	   done; /* builds finished */
	int	   total;
	double started;
	double last; /* last progress line */
} IndexProgress;

static void
index_done(void *arg, int task, long long affected)
{
	(void) task;
	(void) affected;
	((IndexProgress *) arg)->done++;
}

/*
 * How far the running builds are, as a fraction of one build each: the scan
 * of the table is counted as the first half, the sort and the load as the
 * second.  The server's view is read on the main connection, idle while the
 * workers build; a failed read only skips the line.
 */
static void
report_index_progress(IndexProgress *ip)
{
	PGresult *res;
	long long running;
	long long bdone;
	long long btotal;
	long long tdone;
	long long ttotal;
	char	 *step;
	double	  f = 0;
	double	  el = pgr_now() - ip->started;
	double	  frac;

	res = conn_queryf(ip->r->main,
					  "SELECT count(*)::int8, coalesce(sum(blocks_done), 0)::int8, "
					  "coalesce(sum(blocks_total), 0)::int8, coalesce(sum(tuples_done), 0)::int8, "
					  "coalesce(sum(tuples_total), 0)::int8, coalesce(string_agg(DISTINCT phase, ', '), '') "
					  "FROM pg_catalog.pg_stat_progress_create_index "
					  "WHERE relid = pg_catalog.to_regclass(%text)",
					  ip->r->plan->shadow_q);
	if (res == NULL)
		return;
	running = res_int8(res, 0, 0);
	bdone = res_int8(res, 0, 1);
	btotal = res_int8(res, 0, 2);
	tdone = res_int8(res, 0, 3);
	ttotal = res_int8(res, 0, 4);
	step = res_text(res, 0, 5);
	PQclear(res);
	if (strstr(step, "scanning table") && btotal > 0)
		f = 0.5 * (double) bdone / (double) btotal;
	else if (ttotal > 0)
		f = 0.5 + 0.5 * (double) tdone / (double) ttotal;
	frac = ip->total > 0 ? ((double) ip->done + (double) running * f) / ip->total : 1;
	progress_report(&(ProgressFigures) {
		.phase = PHASE_INDEX,
		.unit = "indexes",
		.done = ip->done,
		.total = ip->total,
		.percent = 100.0 * frac,
		.rate = -1,
		.eta_s = progress_eta(el, frac),
		.backlog = -1,
		.step = *step ? step : NULL,
	});
	free(step);
}

static bool
index_tick(void *arg)
{
	IndexProgress *ip = arg;

	if (!run_tick(ip->r))
		return false;
	/* PGR_TEST_INDEX_PROGRESS_MS: a test sees a line however fast the builds are */
	if ((pgr_now() - ip->last) * 1000.0 >= (pgr_test_setting("INDEX_PROGRESS_MS") > 0 ? pgr_test_setting("INDEX_PROGRESS_MS") : 1000))
	{
		ip->last = pgr_now();
		report_index_progress(ip);
	}
	return true;
}

bool
index_phase(Run *r)
{
	const Plan	 *p = r->plan;
	char		**tasks = pgr_calloc((size_t) (p->indexes.n + 1), sizeof(char *));
	Conn		 *failed = NULL;
	bool		  ok;
	char		  note[64];
	IndexProgress ip;

	phase_begin(&r->clock, PHASE_INDEX);
	if (!run_ensure_guard(r) || (r->nworkers == 0 && !run_open_workers(r)))
	{
		free(tasks);
		return false;
	}
	if (!run_record_phase(r, PHASE_INDEX))
	{
		free(tasks);
		run_report_failure(r, r->main, "could not record the phase");
		return false;
	}
	for (int i = 0; i < p->indexes.n; i++)
		tasks[i] = p->indexes.items[i].sql;
	ip = (IndexProgress) {
		.r = r, .total = p->indexes.n, .started = pgr_now(), .last = pgr_now()};
	ok = conn_pool_run(r->workers, r->nworkers, tasks, p->indexes.n, index_done, &ip, index_tick, &ip, &failed);
	log_progress_clear();
	free(tasks);
	if (!ok)
	{
		if (failed || !r->guard.stop)
			run_report_failure(r, failed ? failed : r->holder, "could not build an index on the shadow table");
		return false;
	}
	if (!conn_command(r->main, "BEGIN") || !conn_command(r->main, p->reconcile_drop))
	{
		run_report_failure(r, r->main, "could not add the constraints");
		conn_best_effort(r->main, "ROLLBACK");
		return false;
	}
	for (int i = 0; i < p->constraints.n; i++)
		if (!conn_command(r->main, p->constraints.items[i].sql))
		{
			run_report_failure(r, r->main, "could not add a constraint or setting to the shadow table");
			conn_best_effort(r->main, "ROLLBACK");
			return false;
		}
	if (!conn_command(r->main, "COMMIT"))
	{
		run_report_failure(r, r->main, "could not add the constraints");
		return false;
	}
	run_close_workers(r);
	if (!run_with_lock_retries(r, &r->dplan->prepare, "add the foreign keys and statistics to the shadow table"))
		return false;
	snprintf(note, sizeof(note), "%d index%s", p->indexes.n, p->indexes.n == 1 ? "" : "es");
	phase_end(&r->clock, PHASE_INDEX, note);
	return true;
}

