/*
 * rebuild.c: one run of one table, from preflight to finish: the phases in
 * the order of phases.h, and going on after a lost connection.
 */
#include "rebuild.h"

#include <stdlib.h>
#include <string.h>

#include "cancel.h"
#include "clock.h"
#include "event.h"
#include "log.h"
#include "preflight.h"
#include "state.h"

bool
rebuild_prepare(Run *r)
{
	char *given = r->want_schema ? pgr_psprintf("%s.%s", r->want_schema, r->want_name) : pgr_strdup(r->want_name);

	/* as given until preflight has found the table */
	event_set_table(given);
	free(given);
	if (preflight_run(r))
	{
		event_set_table(r->t->qname);
		return true;
	}
	if (pgr_interrupted)
		r->result.interrupted = true;
	r->result.exit_code = PGR_EXIT_FAILED;
	return false;
}

static bool
any_connection_lost(const Run *r)
{
	if (r->main == NULL || conn_lost(r->main))
		return true;
	if (r->holder && conn_lost(r->holder))
		return true;
	for (int i = 0; i < r->nworkers; i++)
		if (conn_lost(r->workers[i]))
			return true;
	return false;
}

/*
 * One try at taking the run back after a lost connection: reconnect (the
 * main connection too, unless a round trip shows it alive), take the table's
 * lock again, find out from the run's record where the run is, and choose
 * the phase to go on from.  *lost says that it failed on a lost connection
 * again (worth another try).
 */
static bool
recover_once(Run *r, Phase *p, bool *lost)
{
	Phase		recorded;
	RunInfo    *runs;
	int			n;
	bool		got;
	RunInfo    *mine = NULL;
	PGresult   *res;

	*lost = false;
	run_close_workers(r);
	run_close_holder(r);
	conn_best_effort(r->main, "ROLLBACK");
	res = r->main ? conn_query(r->main, "SELECT 1") : NULL;
	if (res == NULL)
	{
		conn_close(r->main);
		r->locked = false;		/* the session locks went with the session */
		r->new_locked = false;
		r->main = run_open_as_owner(r, "main");
		if (r->main == NULL)
			return false;
	}
	PQclear(res);
	r->guard.n_our_pids = 0;
	guard_add_pid(&r->guard, conn_backend_pid(r->main));
	if (!r->locked)
	{
		if (!state_try_lock(r->main, r->lock_key, &got))
		{
			*lost = conn_lost(r->main);
			return false;
		}
		if (!got)
		{
			free(r->taken_over_by);
			r->taken_over_by = state_describe_holder(r->main, r->lock_key);
			log_error("after reconnecting, the table's pg_rebuild lock is held by %s: this run stops",
					  r->taken_over_by);
			r->taken_over = true;	/* its objects are that session's now (run_fail says what became of the table) */
			return false;
		}
		r->locked = true;
	}
	if (r->new_lock_key != 0 && !r->new_locked)
	{
		if (!state_try_lock(r->main, r->new_lock_key, &got))
		{
			*lost = conn_lost(r->main);
			return false;
		}
		r->new_locked = got;
	}
	if (r->run_id == 0)
	{
		*p = PHASE_INSTALL;
		return true;
	}
	if (!state_list_runs(r->main, &r->state, r->t->oid, NULL, NULL, &runs, &n))
	{
		*lost = conn_lost(r->main);
		if (!*lost)
			conn_report(r->main, "could not read the record of this run");
		return false;
	}
	for (int i = 0; i < n; i++)
		if (runs[i].run_id == r->run_id)
			mine = &runs[i];
	if (mine == NULL)
	{
		state_free_runs(runs, n);
		if (*p == PHASE_INSTALL)
		{
			r->run_id = 0;		/* the install did not commit */
			return true;
		}
		if (*p == PHASE_FINISH)
		{
			*p = PHASE_COUNT;	/* the finish had completed */
			r->run_id = 0;
			log_info("reconnected: the finish of this run was already done (by a --cleanup meanwhile, or by this "
					 "run just before it lost the connection): %s is rebuilt", r->t->qname);
			run_read_sizes(r);
			return true;
		}
		log_error("the record of this run disappeared while it was disconnected: someone ran pg_rebuild "
				  "--cleanup meanwhile, and this run stops");
		r->taken_over = true;	/* run_fail says what became of the table */
		return false;
	}
	if (phase_from_recorded(mine->phase, &recorded) && recorded == PHASE_FINISH)
	{
		r->swapped = true;
		*p = PHASE_FINISH;		/* the swap had committed */
	}
	else if (*p == PHASE_INSTALL)
		*p = PHASE_COPY;		/* the install had committed */
	else
		*p = phase_def(*p)->resume_at;
	state_free_runs(runs, n);
	log_info("reconnected: going on with the %s phase", phase_name(*p));
	return true;
}

/* Takes the run back after a lost connection, for at most --retry-timeout. */
static bool
recover(Run *r, Phase *p)
{
	double		deadline = pgr_now() + r->s->retry_timeout_s;

	r->recoveries++;
	log_warning("lost a connection during the %s phase: reconnecting (attempt %d of %d, "
				"each up to --retry-timeout %.0f s)", phase_name(*p), r->recoveries, PGR_MAX_RECOVERIES,
				r->s->retry_timeout_s);
	for (;;)
	{
		bool		lost;

		if (recover_once(r, p, &lost))
			return true;
		if (!lost || pgr_now() >= deadline || pgr_interrupted)
			return false;
		pgr_sleep_ms(500);
	}
}


/* The figures of the run, for the summary and the caller. */
static void
fill_result(Run *r)
{
	RunResult  *res = &r->result;

	res->rebuilt = r->swapped;
	res->rows = r->copy.rows;
	res->changes = r->replayed;
	res->heap_before = r->t->heap_bytes;
	res->total_before = r->t->total_bytes;
	res->seconds = pgr_now() - r->clock.run_started;
	res->lock_held_ms = r->swap.lock_held_ms;
	res->lock_attempts = r->swap.attempts;
}

/* Where p is in list (n when p is PHASE_COUNT: all done). */
static int
list_index(const Phase *list, int n, Phase p)
{
	for (int i = 0; i < n; i++)
		if (list[i] == p)
			return i;
	return n;
}

int
rebuild_table(Run *r)
{
	int			n;
	const Phase *list = phase_list(r->mode, &n);
	int			i = 0;

	phase_end(&r->clock, PHASE_PREFLIGHT, NULL);
	/* in place, no SHARE UPDATE EXCLUSIVE is held: VALIDATE CONSTRAINT takes it itself */
	guard_init(&r->guard, r->t, r->plan->guard_lock);
	guard_add_pid(&r->guard, conn_backend_pid(r->main));
	conn_set_wait_hook(run_tick, r);
	guard_report_long_transactions(r->main, r->t);

	while (i < n)
	{
		Phase		p = list[i];

		if (phase_def(p)->run(r))
		{
			i++;
			continue;
		}
		/* only a rebuild goes on after a lost connection; in place, the failure path undoes it */
		if (r->mode != MODE_REBUILD || r->guard.stop || pgr_interrupted || !any_connection_lost(r) ||
			r->recoveries >= PGR_MAX_RECOVERIES || !recover(r, &p))
			break;
		i = list_index(list, n, p);
	}
	if (i == n)
		r->result.exit_code = r->archive_failed ? PGR_EXIT_LEFTOVERS : PGR_EXIT_OK;
	else
		(void) run_fail(r);		/* after the swap: tries once more, then says what is left */
	conn_set_wait_hook(NULL, NULL);
	fill_result(r);
	return r->result.exit_code;
}
