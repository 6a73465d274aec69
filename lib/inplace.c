/* inplace.c: NOT NULL in place: a CHECK NOT VALID, VALIDATE, then SET NOT NULL without a scan. */
#include "inplace.h"

#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "install.h"
#include "cancel.h"
#include "clock.h"
#include "ident.h"
#include "log.h"
#include "state.h"
#include "swap.h"
#include "test_hooks.h"

void
inplace_plan(const TableDesc *t, const ChangeSet *cs, InPlacePlan *out)
{
	StrVec cols;
	StrBuf add;
	StrBuf set;

	memset(out, 0, sizeof(*out));
	sv_init(&cols);
	changes_new_not_null(cs, t, &cols);
	out->n = (int) cols.n;
	out->names = pgr_calloc(cols.n + 1, sizeof(char *));
	sb_init(&add);
	sb_init(&set);
	sb_appendf(&add, "ALTER TABLE %s", t->qname);
	sb_appendf(&set, "ALTER TABLE %s", t->qname);
	for (size_t i = 0; i < cols.n; i++)
	{
		const ColumnDesc *col = catalog_find_column(t, cols.items[i]);
		char			 *cq = ident_quote(col->name);
		char			 *nq;

		out->names[i] = pgr_psprintf("pgrebuild_nn_%u_%d", t->oid, col->attnum);
		nq = ident_quote(out->names[i]);
		sb_appendf(&add, "%s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID", i ? "," : "", nq, cq);
		sb_appendf(&set, "%s ALTER COLUMN %s SET NOT NULL", i ? "," : "", cq);
		stmts_add(&out->validate, "SHARE UPDATE EXCLUSIVE on the table (reads and writes go on), one scan",
				  "ALTER TABLE %s VALIDATE CONSTRAINT %s", t->qname, nq);
		free(cq);
		free(nq);
	}
	if (out->n > 0)
	{
		stmts_add(&out->check, "ACCESS EXCLUSIVE on the table, under lock_timeout (a catalog change, no scan)",
				  "%s", add.data);
		/* the run's mark on each, so that --cleanup can prove it the run's own (objects.h) */
		for (int i = 0; i < out->n; i++)
		{
			char *nq = ident_quote(out->names[i]);
			char *mark = object_mark(OBJ_CHECK, t->oid);
			char *lit = ident_literal(mark);

			stmts_add(&out->check, "none (catalog)", "COMMENT ON CONSTRAINT %s ON %s IS %s", nq, t->qname, lit);
			free(nq);
			free(mark);
			free(lit);
		}
		stmts_add(&out->set, "ACCESS EXCLUSIVE on the table (held): no scan, the valid CHECK proves it", "%s",
				  set.data);
		/*
		 * A statement of its own: in one ALTER TABLE the DROP CONSTRAINT
		 * would run first (ALTER TABLE's passes drop before they set), and
		 * SET NOT NULL would then scan the table.
		 */
		sb_reset(&set);
		sb_appendf(&set, "ALTER TABLE %s", t->qname);
		for (int i = 0; i < out->n; i++)
		{
			char *nq = ident_quote(out->names[i]);

			sb_appendf(&set, "%s DROP CONSTRAINT %s", i ? "," : "", nq);
			free(nq);
		}
		stmts_add(&out->set, "ACCESS EXCLUSIVE on the table (held)", "%s", set.data);
	}
	sb_free(&add);
	sb_free(&set);
	sv_free(&cols);
}

void
inplace_plan_free(InPlacePlan *p)
{
	stmts_free(&p->check);
	stmts_free(&p->validate);
	stmts_free(&p->set);
	for (int i = 0; i < p->n; i++)
		free(p->names[i]);
	free(p->names);
	memset(p, 0, sizeof(*p));
}

/*
 * Whether a rebuild would give back little: under a fifth of the heap, by
 * the size estimate preflight made (estimate.h).  *why (newly allocated)
 * says what the choice rests on.  An estimate that could not be made counts
 * as not little: the rebuild is the safe choice when nothing is known.
 */
static void
little_to_reclaim(const Run *r, bool *little, char **why)
{
	const SizeEstimate *e = &r->size;
	long long	heap_back;
	char		back[32];
	char		heap[32];

	*little = false;
	if (!e->known)
	{
		*why = pgr_psprintf("how much a rebuild would reclaim is unknown (%s)",
							e->unknown_why ? e->unknown_why : "no estimate");
		return;
	}
	heap_back = e->heap_now > e->heap_after ? e->heap_now - e->heap_after : 0;
	*little = (double) heap_back < 0.2 * (double) e->heap_now;
	*why = pgr_psprintf("a rebuild would reclaim about %s of its %s heap (%.0f%%; estimated from the "
						"statistics and the catalog)",
						format_bytes(heap_back, back, sizeof(back)), format_bytes(e->heap_now, heap, sizeof(heap)),
						e->heap_now > 0 ? 100.0 * (double) heap_back / (double) e->heap_now : 0.0);
}

bool
inplace_choose(Run *r)
{
	StrVec		 cols;
	bool		 only = changes_only_not_null(r->changes);
	ChangeMethod m = r->changes ? r->changes->method : METHOD_AUTO;
	bool		 little;
	char		*why = NULL;

	r->mode = MODE_REBUILD;
	sv_init(&cols);
	changes_new_not_null(r->changes, r->t, &cols);
	if (m == METHOD_REBUILD)
	{
		if (only)
			r->method_note = pgr_strdup("rebuild (asked with --method=rebuild)");
	}
	else if (m == METHOD_IN_PLACE)
	{
		if (!only)
		{
			char *d = changes_describe(r->changes);

			log_error("--method=in-place makes columns NOT NULL and nothing else, and this run asks for %s",
					  d ? d : "no NOT NULL");
			log_detail("Nothing was changed.");
			log_hint("Use --method=rebuild (or leave --method out) for these changes.");
			free(d);
			sv_free(&cols);
			return false;
		}
		r->mode = MODE_IN_PLACE;
		r->method_note = pgr_strdup(cols.n ? "in place (asked with --method=in-place)" : "in place (asked with --method=in-place): every column given is NOT NULL already, "
																						 "nothing to do");
	}
	else if (only && cols.n > 0 && (r->s->keep_old || r->s->archive_old))
		r->method_note = pgr_psprintf("rebuild (--method=auto: %s asks for the old table, which only a "
									  "rebuild leaves)",
									  r->s->keep_old ? "--keep-old" : "--archive-old");
	else if (only && cols.n > 0)
	{
		little_to_reclaim(r, &little, &why);
		r->mode = little ? MODE_IN_PLACE : MODE_REBUILD;
		r->method_note = pgr_psprintf("%s (--method=auto: NOT NULL is the only change, and %s%s)",
									  little ? "in place" : "rebuild", why,
									  little ? "" : "; --method=in-place would skip the rebuild");
		free(why);
	}
	sv_free(&cols);
	return true;
}

typedef bool (*OnceFn)(Run *r, const InPlacePlan *ip, int item, double *locked_at);

/*
 * Runs once() until it succeeds, retrying lock timeouts with backoff and
 * jitter up to --wait-timeout and naming the blockers, as the install and
 * the swap do.  False (reported as "could not <what>") otherwise.
 */
static bool
with_retries(Run *r, Phase p, const char *what, OnceFn once, const InPlacePlan *ip, int item, double *locked_at)
{
	double	start = pgr_now();
	double	deadline = start + r->s->wait_timeout_s;
	double	last_report = 0;
	Backoff b;
	int		attempt = 0;

	backoff_init(&b, r->s->lock_timeout_ms / 2.0 + 1, 5000, (uint64_t) (start * 1e6) + (uint64_t) p);
	for (;;)
	{
		attempt++;
		r->swap.attempts++;
		if (once(r, ip, item, locked_at))
			return true;
		if (conn_lost(r->main) || !conn_failed_with(r->main, "55P03") || pgr_interrupted)
		{
			char *msg = pgr_psprintf("could not %s", what);

			if (r->main->message) /* else once() said why */
				run_report_failure(r, r->main, msg);
			conn_best_effort(r->main, "ROLLBACK");
			free(msg);
			return false;
		}
		conn_best_effort(r->main, "ROLLBACK");
		if (pgr_now() - last_report >= 1.0 || attempt == 1)
		{
			swap_report_blockers(r->main, r->t, phase_name(p), attempt, pgr_now() - start);
			last_report = pgr_now();
		}
		if (pgr_now() >= deadline)
		{
			log_error("could not lock %s to %s within --wait-timeout (%.0f s, %d attempts of %d ms)", r->t->qname,
					  what, r->s->wait_timeout_s, attempt, r->s->lock_timeout_ms);
			log_detail("Other sessions kept conflicting locks on the table (see the sessions named above).");
			log_hint("Run again when the long transactions are over, or give more time with --wait-timeout.");
			return false;
		}
		pgr_sleep_ms(backoff_clamp(backoff_next(&b), (deadline - pgr_now()) * 1000.0));
	}
}

/* The run's record and the CHECK constraints, recorded in the transaction that adds them. */
static bool
check_once(Run *r, const InPlacePlan *ip, int item, double *locked_at)
{
	const char *ts = r->tool_schema;

	(void) item;
	(void) locked_at;
	if (!install_begin_run(r, PHASE_NN_CHECK))
		goto failed;
	for (int i = 0; i < ip->check.n; i++)
		if (!conn_command(r->main, ip->check.items[i].sql))
			goto failed;
	/* each constraint recorded by OID in the transaction that adds it (it carries the run's mark) */
	for (int i = 0; i < ip->n; i++)
		if (!state_record(r->main, ts, r->run_id, OBJ_CHECK, ip->names[i], r->t->qname))
			goto failed;
	pgr_test_pause("INPLACE_CHECK");
	if (conn_command(r->main, "COMMIT"))
		return true;
failed:
	r->run_id = 0; /* rolled back with the transaction */
	return false;
}

bool
inplace_check_phase(Run *r)
{
	InPlacePlan ip;
	bool		ok = true;
	char		note[64];

	phase_begin(&r->clock, PHASE_NN_CHECK);
	inplace_plan(r->t, r->changes, &ip);
	if (ip.n > 0)
		ok = install_state(r) &&
			with_retries(r, PHASE_NN_CHECK, "add the CHECK constraints", check_once, &ip, 0, NULL);
	snprintf(note, sizeof(note), "%d constraint%s, NOT VALID", ip.n, ip.n == 1 ? "" : "s");
	inplace_plan_free(&ip);
	if (ok)
		phase_end(&r->clock, PHASE_NN_CHECK, note);
	return ok;
}

static bool
validate_once(Run *r, const InPlacePlan *ip, int item, double *locked_at)
{
	(void) locked_at;
	return conn_command(r->main, "BEGIN") && conn_command(r->main, r->plan->lock_timeout) &&
		conn_command(r->main, ip->validate.items[item].sql) && conn_command(r->main, "COMMIT");
}

/* A NULL that slipped in between the NULL count and the CHECK: named by its key. */
static void
report_null_found(Run *r)
{
	StrVec cols;

	sv_init(&cols);
	changes_new_not_null(r->changes, r->t, &cols);
	conn_best_effort(r->main, "ROLLBACK");
	for (size_t i = 0; i < cols.n; i++)
	{
		const IndexDesc *k = &r->t->indexes[r->t->key_index];
		StrBuf			 sql;
		PGresult		*res;

		sb_init(&sql);
		sb_append(&sql, "SELECT ROW(");
		for (int j = 0; j < k->nkeys; j++)
		{
			if (j > 0)
				sb_append(&sql, ", ");
			ident_append(&sql, k->key_columns[j]);
		}
		sb_append(&sql, ")::text FROM ONLY ");
		sb_append(&sql, r->t->qname);
		sb_append(&sql, " WHERE ");
		ident_append(&sql, cols.items[i]);
		sb_append(&sql, " IS NULL LIMIT 1");
		res = conn_query(r->main, sql.data);
		if (res && PQntuples(res) > 0)
		{
			char *q = ident_quote(cols.items[i]);

			log_error("column %s of %s holds NULL in the row with key %s: it cannot be made NOT NULL", q,
					  r->t->qname, PQgetvalue(res, 0, 0));
			log_detail("The row was written after pg_rebuild counted the NULLs and before its CHECK constraint "
					   "was in place.");
			free(q);
		}
		PQclear(res);
		sb_free(&sql);
	}
	sv_free(&cols);
}

bool
inplace_validate_phase(Run *r)
{
	InPlacePlan ip;
	bool		ok = true;

	phase_begin(&r->clock, PHASE_NN_VALIDATE);
	pgr_test_pause("INPLACE_VALIDATE");
	inplace_plan(r->t, r->changes, &ip);
	if (ip.n > 0 && !run_record_phase(r, PHASE_NN_VALIDATE))
	{
		run_report_failure(r, r->main, "could not record the phase");
		ok = false;
	}
	for (int i = 0; ok && i < ip.n; i++)
	{
		ok = validate_once(r, &ip, i, NULL);
		if (!ok && conn_failed_with(r->main, "23514"))
			report_null_found(r);
		else if (!ok)
		{
			conn_best_effort(r->main, "ROLLBACK");
			ok = with_retries(r, PHASE_NN_VALIDATE, "validate the CHECK constraints", validate_once, &ip, i, NULL);
		}
	}
	inplace_plan_free(&ip);
	if (ok)
		phase_end(&r->clock, PHASE_NN_VALIDATE, NULL);
	return ok;
}

static bool
set_once(Run *r, const InPlacePlan *ip, int item, double *locked_at)
{
	PGresult *res;
	bool	  valid;

	(void) item;
	if (!conn_command(r->main, "BEGIN") || !conn_command(r->main, r->plan->lock_timeout) ||
		!conn_command(r->main, r->plan->swap_lock))
		return false;
	*locked_at = pgr_now();
	/*
	 * The constraints must still be there and valid, or SET NOT NULL would
	 * scan the table under the lock; the statement_timeout is a second
	 * guard.
	 */
	res = conn_queryf(r->main, "SELECT count(*)::int4 FROM pg_catalog.pg_constraint co "
							   "WHERE co.conrelid OPERATOR(pg_catalog.=) %oid AND co.convalidated "
							   "AND pg_catalog.starts_with(co.conname::text, 'pgrebuild_nn_')",
					  r->t->oid);
	valid = res && res_int4(res, 0, 0) == ip->n;
	PQclear(res);
	if (res == NULL)
		return false;
	if (!valid)
	{
		conn_best_effort(r->main, "ROLLBACK");
		log_error("the CHECK constraints pg_rebuild validated on %s are gone or changed", r->t->qname);
		log_detail("Without them SET NOT NULL would scan the table under ACCESS EXCLUSIVE: not done.");
		log_hint("Someone ran DDL on the table meanwhile; run pg_rebuild again.");
		conn_clear_error(r->main);
		return false;
	}
	if (!conn_commandv(r->main, "SET LOCAL statement_timeout = '%dms'",
					   r->s->lock_timeout_ms * 2 > 1000 ? r->s->lock_timeout_ms * 2 : 1000))
		return false;
	for (int i = 0; i < ip->set.n; i++)
		if (!conn_command(r->main, ip->set.items[i].sql))
			return false;
	if (!state_forget(r->main, r->tool_schema, r->run_id, OBJ_CHECK, 0))
		return false;
	if (!state_set_phase(r->main, r->tool_schema, r->run_id, phase_def(PHASE_FINISH)->recorded))
		return false;
	pgr_test_pause("INPLACE_SET");
	return conn_command(r->main, "COMMIT");
}

bool
inplace_set_phase(Run *r)
{
	InPlacePlan ip;
	bool		ok = true;
	double		locked_at = 0;
	char		note[128];

	phase_begin(&r->clock, PHASE_NN_SET);
	inplace_plan(r->t, r->changes, &ip);
	r->swap.attempts = 0;
	if (ip.n > 0)
	{
		if (!run_record_phase(r, PHASE_NN_SET))
		{
			run_report_failure(r, r->main, "could not record the phase");
			ok = false;
		}
		ok = ok && with_retries(r, PHASE_NN_SET, "set NOT NULL", set_once, &ip, 0, &locked_at);
		if (ok)
		{
			r->swap.lock_held_ms = (pgr_now() - locked_at) * 1000.0;
			r->swapped = true;
		}
	}
	inplace_plan_free(&ip);
	if (!ok)
		return false;
	snprintf(note, sizeof(note), "ACCESS EXCLUSIVE held %.0f ms, %d attempt%s", r->swap.lock_held_ms,
			 r->swap.attempts, r->swap.attempts == 1 ? "" : "s");
	phase_end(&r->clock, PHASE_NN_SET, note);
	return true;
}
