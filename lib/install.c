/* install.c: the install phase: the run's record, log table and capture trigger. */
#include "install.h"

#include "backoff.h"
#include "cancel.h"
#include "clock.h"
#include "log.h"
#include "state.h"
#include "swap.h"
#include "test_hooks.h"

bool
install_state(Run *r)
{
	bool		found;

	if (!state_install(r->main, r->tool_schema, r->role_oid))
		return false;
	state_schema_free(&r->state);
	if (!state_find_schema(r->main, r->tool_schema, &r->state, &found) || !found)
	{
		if (conn_ok(r->main))
			log_error("pg_rebuild's state schema %s disappeared just after it was installed", r->tool_schema);
		return false;
	}
	return true;
}

bool
install_begin_run(Run *r, Phase p)
{
	StrVec		problems;
	bool		ok;

	if (!conn_command(r->main, "BEGIN") || !conn_command(r->main, r->plan->lock_timeout))
		return false;
	/* the state schema is sound, and stays so until COMMIT (state.h) */
	sv_init(&problems);
	ok = state_lock_and_check(r->main, &r->state, "ROW EXCLUSIVE", &problems);
	if (!ok && problems.n > 0)
	{
		conn_best_effort(r->main, "ROLLBACK");
		state_report_untrusted(&r->state, &problems);
		r->state_untrusted = true;
	}
	sv_free(&problems);
	if (!ok)
		return false;
	r->run_id = state_create_run(r->main, r->tool_schema, r->t->oid, r->t->schema, r->t->name,
								 phase_def(p)->recorded);
	return r->run_id != 0;
}

static bool
install_once(Run *r)
{
	const Plan *p = r->plan;
	const char *ts = r->tool_schema;

	if (!install_begin_run(r, PHASE_INSTALL))
		return false;
	for (int i = 0; i < p->install.n; i++)
		if (!conn_command(r->main, p->install.items[i].sql))
			return false;
	/* each object recorded by OID, in the transaction that creates it */
	if (!state_revoke_grants(r->main, p->log_q) ||
		!state_record(r->main, ts, r->run_id, OBJ_LOG, p->log_q, NULL) ||
		!state_record(r->main, ts, r->run_id, OBJ_FUNCTION, p->func_q, NULL) ||
		!state_record(r->main, ts, r->run_id, OBJ_TRIGGER, p->capture_trigger, r->t->qname) ||
		!state_record(r->main, ts, r->run_id, OBJ_TRIGGER, p->truncate_trigger, r->t->qname))
		return false;
	pgr_test_pause("BEFORE_INSTALL_COMMIT");
	return conn_command(r->main, "COMMIT");
}

bool
install_phase(Run *r)
{
	double		start = pgr_now();
	double		deadline = start + r->s->wait_timeout_s;
	Backoff		b;
	int			attempt = 0;

	phase_begin(&r->clock, PHASE_INSTALL);
	if (!install_state(r))
		return false;
	backoff_init(&b, r->s->lock_timeout_ms / 2.0 + 1, 5000, (uint64_t) (start * 1e6));
	for (;;)
	{
		attempt++;
		if (install_once(r))
			break;
		if (conn_lost(r->main))
		{
			run_report_failure(r, r->main, "could not install the capture trigger");
			return false;		/* the recovery finds out whether it committed */
		}
		r->run_id = 0;			/* the transaction rolled back with its record */
		if (r->state_untrusted)
			return false;
		if (!conn_failed_with(r->main, "55P03") || pgr_interrupted)
		{
			conn_report(r->main, "could not install the capture trigger");
			conn_best_effort(r->main, "ROLLBACK");
			return false;
		}
		conn_best_effort(r->main, "ROLLBACK");
		swap_report_blockers(r->main, r->t, phase_name(PHASE_INSTALL), attempt, pgr_now() - start);
		if (pgr_now() >= deadline)
		{
			log_error("could not lock %s to install the capture trigger within --wait-timeout (%.0f s)",
					  r->t->qname, r->s->wait_timeout_s);
			log_detail("Creating a trigger needs SHARE ROW EXCLUSIVE, which waits for every open "
					   "transaction that wrote to the table.");
			log_hint("Run again when the long transactions are over, or give more time with --wait-timeout.");
			return false;
		}
		pgr_sleep_ms(backoff_clamp(backoff_next(&b), (deadline - pgr_now()) * 1000.0));
	}
	pgr_test_pause("AFTER_INSTALL");
	phase_end(&r->clock, PHASE_INSTALL, NULL);
	return true;
}

