/* index.c: the index phase: the shadow's indexes, constraints and prepared dependents. */
#include "index.h"

#include <stdlib.h>

#include "log.h"
#include "pool.h"

bool
index_phase(Run *r)
{
	const Plan *p = r->plan;
	char	  **tasks = pgr_calloc((size_t) (p->indexes.n + 1), sizeof(char *));
	Conn	   *failed = NULL;
	bool		ok;
	char		note[64];

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
	ok = conn_pool_run(r->workers, r->nworkers, tasks, p->indexes.n, NULL, NULL, run_tick, r, &failed);
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

