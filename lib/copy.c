/* copy.c: the copy phase, in block ranges, each under its own snapshot. */
#include "copy.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ident.h"
#include "log.h"
#include "pool.h"
#include "progress.h"
#include "run.h"
#include "state.h"
#include "test_hooks.h"

int
copy_chunking(long long nblocks, int nworkers, long long *chunk_blocks)
{
	long long	size;
	long long	test = pgr_test_setting("COPY_CHUNK_BLOCKS");

	/*
	 * About 64 chunks per worker, each between 2 MB and 128 MB of heap:
	 * enough for a steady progress line and for an even split over the
	 * workers, few enough that the per-transaction cost stays negligible.
	 */
	if (nworkers < 1)
		nworkers = 1;
	size = nblocks / (64LL * nworkers);
	if (size < 256)
		size = 256;
	if (size > 16384)
		size = 16384;
	if (test > 0)
		size = test;
	*chunk_blocks = size;
	/* the last chunk is open-ended, to catch a relation that grew */
	return (int) ((nblocks + size - 1) / size) + (nblocks == 0 ? 1 : 0);
}

typedef struct CopyProgress
{
	long long  rows;
	long long  blocks_done;
	long long  blocks_total;
	long long  chunk_blocks;
	double	   started;
	Throttle  *throttle;
	Conn	  *coord; /* reads the replication lag */
	bool	   stop;  /* the throttle failed (logged): the pool stops at its next tick */
	PoolTickFn tick;  /* the caller's */
	void	  *tick_arg;
} CopyProgress;

/* The caller's tick, and a stop after a failed throttle. */
static bool
copy_tick(void *arg)
{
	CopyProgress *cp = arg;

	if (cp->stop)
		return false;
	return cp->tick == NULL || cp->tick(cp->tick_arg);
}

/*
 * With --max-rate, chunks of about half a second's rows, so that the pace
 * is even (the default chunks may hold a minute's worth).
 */
static long long
throttled_chunk(const TableDesc *t, const ThrottleLimits *limits, long long chunk)
{
	double	  per_block;
	long long want;

	if (limits == NULL || limits->max_rate <= 0 || t->relpages <= 0 || t->reltuples <= 0)
		return chunk;
	per_block = t->reltuples / (double) t->relpages;
	want = (long long) (limits->max_rate / 2.0 / per_block);
	if (want < 1)
		want = 1;
	return want < chunk ? want : chunk;
}

static void
copy_done(void *arg, int task, long long affected)
{
	CopyProgress *cp = arg;
	double		  el = pgr_now() - cp->started;
	double		  frac;

	(void) task;
	cp->rows += affected;
	cp->blocks_done += cp->chunk_blocks;
	if (cp->blocks_done > cp->blocks_total)
		cp->blocks_done = cp->blocks_total;
	frac = cp->blocks_total ? (double) cp->blocks_done / (double) cp->blocks_total : 1.0;
	progress_report(&(ProgressFigures) {
		.phase = PHASE_COPY,
		.unit = "rows",
		.done = cp->rows,
		.total = -1,
		.percent = 100.0 * frac,
		.rate = el > 0 ? (double) cp->rows / el : -1,
		.eta_s = progress_eta(el, frac),
		.backlog = -1,
	});
	pgr_test_pause("COPY_CHUNK");
	if (!cp->stop && !throttle_after(cp->throttle, cp->coord, affected))
		cp->stop = true;
}

bool
copy_run(Conn *coord, Conn **workers, int nworkers, const TableDesc *t, const Plan *plan,
		 Throttle *th, PoolTickFn tick, void *tick_arg, CopyResult *out, Conn **failed)
{
	PGresult   *res;
	long long	nblocks;
	long long	chunk;
	int			nchunks;
	char	  **tasks;
	CopyProgress cp = {0};
	bool		ok;
	bool		ranges = plan->copy_order_by == NULL && conn_server_version(coord) >= 140000;

	memset(out, 0, sizeof(*out));
	*failed = NULL;

	/*
	 * No snapshot is shared: each chunk is one statement in its own
	 * transaction, under its own snapshot, so the database's xmin horizon
	 * moves on from chunk to chunk.  A row version left unchanged since the
	 * capture trigger was installed stays in its block, so exactly one chunk
	 * copies it; any other is logged, and the reconcile (replay.h) makes the
	 * shadow consistent before a unique index is built.  Every block that
	 * exists now is in a range, and the last range is open-ended.
	 */
	res = conn_queryf(coord, "SELECT (pg_catalog.pg_relation_size(%oid) / "
					  "pg_catalog.current_setting('block_size')::pg_catalog.int8)::pg_catalog.int8", t->oid);
	if (res == NULL)
	{
		*failed = coord;
		return false;
	}
	nblocks = res_int8(res, 0, 0);
	PQclear(res);

	if (ranges)
	{
		nchunks = copy_chunking(nblocks, nworkers, &chunk);
		if (throttled_chunk(t, th->limits, chunk) < chunk)
		{
			chunk = throttled_chunk(t, th->limits, chunk);
			nchunks = (int) ((nblocks + chunk - 1) / chunk) + (nblocks == 0 ? 1 : 0);
		}
	}
	else
	{
		nchunks = 1;
		chunk = nblocks;
	}
	tasks = pgr_calloc((size_t) nchunks, sizeof(char *));
	for (int i = 0; i < nchunks; i++)
	{
		StrBuf		sb;

		sb_init(&sb);
		sb_append(&sb, plan->copy_sql);
		if (ranges)
		{
			sb_appendf(&sb, " WHERE ctid >= '(%lld,0)'::pg_catalog.tid", (long long) i * chunk);
			if (i < nchunks - 1)
				sb_appendf(&sb, " AND ctid < '(%lld,0)'::pg_catalog.tid", (long long) (i + 1) * chunk);
		}
		if (plan->copy_order_by)
			sb_append(&sb, plan->copy_order_by);
		tasks[i] = sb_steal(&sb);
	}
	cp.blocks_total = nblocks;
	cp.chunk_blocks = chunk;
	cp.started = pgr_now();
	cp.coord = coord;
	cp.tick = tick;
	cp.tick_arg = tick_arg;
	cp.throttle = th;
	log_verbose("copy: %lld blocks in %d chunk(s) of %lld blocks on %d connection(s), each under its own snapshot",
				nblocks, nchunks, chunk, ranges ? nworkers : 1);
	ok = conn_pool_run(workers, ranges ? nworkers : 1, tasks, nchunks, copy_done, &cp, copy_tick, &cp, failed);
	log_progress_clear();
	for (int i = 0; i < nchunks; i++)
		free(tasks[i]);
	free(tasks);
	out->rows = cp.rows;
	out->throttle_failed = cp.stop;
	out->blocks = nblocks;
	out->chunks = nchunks;
	return ok;
}

/*
 * Drops the shadow an interrupted copy of this run left (so that the copy
 * can start over), only when it is the one the run recorded; a table of
 * that name that the run did not make stops the run.
 */
static bool
drop_earlier_shadow(Run *r)
{
	char	   *q = ident_quote(r->tool_schema);
	char	   *spec = pgr_psprintf("SELECT pg_catalog.to_regclass(%%text)::pg_catalog.oid, "
									"(SELECT o.object_oid FROM %s.run_objects o WHERE o.run_id OPERATOR(pg_catalog.=) %%int8 "
									" AND o.kind OPERATOR(pg_catalog.=) 'shadow')",
									q);
	PGresult   *res = conn_queryf(r->main, spec, r->plan->shadow_q, (PGint8) r->run_id);
	bool		ok;

	free(spec);
	free(q);
	if (res == NULL)
		return false;
	if (res_isnull(res, 0, 0))
		ok = true;				/* nothing there */
	else if (res_isnull(res, 0, 1) || res_oid(res, 0, 0) != res_oid(res, 0, 1))
	{
		log_error("a table named %s exists that this run did not create", r->plan->shadow_q);
		log_detail("pg_rebuild drops only what it can prove it created.");
		ok = false;
	}
	else
		ok = conn_command_if_exists(r->main, r->plan->drop_shadow);
	PQclear(res);
	return ok && state_forget(r->main, r->tool_schema, r->run_id, OBJ_SHADOW, 0);
}

/*
 * Creates the shadow table, recorded by OID in the same transaction; drops
 * a shadow left by an interrupted copy first, so a copy can start over.
 */
static bool
create_shadow(Run *r)
{
	const Plan *p = r->plan;

	if (!conn_command(r->main, "BEGIN") || !drop_earlier_shadow(r))
		return false;
	for (int i = 0; i < p->shadow.n; i++)
		if (!conn_command(r->main, p->shadow.items[i].sql))
			return false;
	return state_record(r->main, r->tool_schema, r->run_id, OBJ_SHADOW, p->shadow_q, NULL) &&
		run_record_phase(r, PHASE_COPY) && conn_command(r->main, "COMMIT");
}

bool
copy_phase(Run *r)
{
	Conn	   *failed = NULL;
	Throttle	th;
	char		rows[32];
	char		note[96];
	char	   *json = phase_begin_json(&r->clock, PHASE_COPY);

	/* the before-copy hooks: once a run; one that fails is a warning (the run goes on) */
	if (!r->copy_hook_done)
	{
		r->copy_hook_done = true;
		(void) run_hooks(r, HOOK_BEFORE_COPY, json, NULL, NULL);
	}
	free(json);
	if (!run_ensure_guard(r))
		return false;
	if (!create_shadow(r))
	{
		run_report_failure(r, r->main, "could not create the shadow table");
		conn_best_effort(r->main, "ROLLBACK");
		return false;
	}
	if (!run_open_workers(r))
		return false;
	pgr_test_pause("COPY_START");
	/* the main connection holds the copy's snapshot: the record is read by the holder's statements */
	throttle_begin(&th, &r->s->throttle, PHASE_COPY, "rows", r->holder, r->tool_schema, r->run_id);
	if (!copy_run(r->main, r->workers, r->nworkers, r->t, r->plan, &th, run_tick, r, &r->copy, &failed))
	{
		if (failed || (!r->guard.stop && !r->copy.throttle_failed))
			run_report_failure(r, failed ? failed : r->holder, "could not copy the rows");
		return false;
	}
	if (r->plan->copy_order_by)
		snprintf(note, sizeof(note), "%s rows, in order, in one statement",
				 format_count(r->copy.rows, rows, sizeof(rows)));
	else
		snprintf(note, sizeof(note), "%s rows in %d chunk%s", format_count(r->copy.rows, rows, sizeof(rows)),
				 r->copy.chunks, r->copy.chunks == 1 ? "" : "s");
	phase_end(&r->clock, PHASE_COPY, note);
	return true;
}

