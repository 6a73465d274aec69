/*
 * report.c: everything pg_rebuild prints on standard output about a run:
 * the intro, the --dry-run plan, the summary, and --status.
 */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "ident.h"
#include "inplace.h"
#include "log.h"
#include "replay.h"

/* Whether the changes make a column NOT NULL that is not (a scan for NULLs). */
static bool
has_new_not_null(const Run *r)
{
	StrVec		cols;
	bool		any;

	sv_init(&cols);
	changes_new_not_null(r->changes, r->t, &cols);
	any = cols.n > 0;
	sv_free(&cols);
	return any;
}

void
report_intro(const Run *r)
{
	const TableDesc *t = r->t;
	const IndexDesc *key = &t->indexes[t->key_index];
	char		rows[32];
	char		heap[32];
	char		total[32];
	char	   *changes = changes_describe(r->changes);
	char	   *order = NULL;

	char	   *space = estimate_describe(&r->size);

	log_info("rebuilding table %s in database %s: about %s rows%s, heap %s, total %s with %d index%s",
			 t->qname, PQdb(r->main->pg), format_count((long long) r->size.rows, rows, sizeof(rows)),
			 r->size.rows_source == EST_ROWS_SIZE ? " (estimated from its size: never vacuumed or analyzed)" : "",
			 format_bytes(t->heap_bytes, heap, sizeof(heap)), format_bytes(t->total_bytes, total, sizeof(total)),
			 t->nindexes, t->nindexes == 1 ? "" : "es");
	log_info("  space: %s", space);
	free(space);
	log_info("  changes: %s", changes ? changes : "none (compaction only)");
	free(changes);
	if (r->method_note)
		log_info("  method: %s", r->method_note);
	if (r->mode == MODE_IN_PLACE)
	{
		log_info("  lock timeout %d ms; wait timeout %.0f s", r->s->lock_timeout_ms, r->s->wait_timeout_s);
		return;
	}
	free(changes_row_order(r->changes, t, &order));
	if (order)
		log_info("  rows: stored %s", order);
	free(order);
	if (r->plan->copy_order_by && r->s->jobs > 1)
		log_info("  copy: one ordered statement on one connection (rows copied by several at once would "
				 "interleave); --jobs %d applies to the index builds", r->s->jobs);
	log_info("  replay key: %s (%s); jobs %d; lock timeout %d ms; wait timeout %.0f s",
			 key->name, key->primary ? "primary key" : "unique index", r->s->jobs,
			 r->s->lock_timeout_ms, r->s->wait_timeout_s);
}

static void
print_list(const char *phase, const StmtList *l)
{
	for (int i = 0; i < l->n; i++)
		printf("-- [%s] lock: %s\n%s;\n\n", phase, l->items[i].lock, l->items[i].sql);
}

/* The changes, one line each, as the server read them (--dry-run). */
static void
report_changes(const Run *r)
{
	const ChangeSet *cs = r->changes;

	if (cs == NULL || changes_none(cs))
	{
		printf("-- changes: none (compaction only)\n\n");
		return;
	}
	printf("-- changes (--alter as the server read it on an empty copy of the table, in a transaction "
		   "rolled back at preflight):\n");
	for (int i = 0; i < cs->npieces; i++)
		printf("--   %s: %s\n", cs->pieces[i].text, cs->pieces[i].effect);
	for (int i = 0; i < cs->ncolumns; i++)
		if (strcmp(cs->columns[i].given_as, "--set-not-null") == 0 && cs->columns[i].set_not_null)
			printf("--   --set-not-null %s: becomes NOT NULL\n", cs->columns[i].column);
	printf("\n");
}

/* --dry-run of --method=in-place. */
static void
report_in_place(const Run *r)
{
	InPlacePlan ip;

	inplace_plan(r->t, r->changes, &ip);
	printf("-- [add check] one transaction, SET LOCAL lock_timeout = '%dms', retried with backoff up to %.0f s "
		   "(blockers named); the run and each constraint are recorded in %s.runs / run_objects\n",
		   r->s->lock_timeout_ms, r->s->wait_timeout_s, r->tool_schema);
	print_list("add check", &ip.check);
	printf("-- [validate] each in its own transaction, SET LOCAL lock_timeout, retried\n");
	print_list("validate", &ip.validate);
	printf("-- [set not null] one transaction, retried like the others; under the lock, the constraints are "
		   "checked to be there and valid, and a statement_timeout guards against a scan\n"
		   "BEGIN;\n%s;\n-- lock: ACCESS EXCLUSIVE on the table (held until COMMIT)\n%s;\n\n",
		   r->plan->lock_timeout, r->plan->swap_lock);
	print_list("set not null", &ip.set);
	printf("COMMIT;\n\n-- [finish] the run's record is removed\n");
	inplace_plan_free(&ip);
}

void
report_dry_run(const Run *r)
{
	const Plan *p = r->plan;
	const TableDesc *t = r->t;
	char	   *order = NULL;

	char	   *space = estimate_describe(&r->size);

	free(changes_row_order(r->changes, t, &order));
	printf("-- pg_rebuild plan for %s (dry run: nothing was changed)\n-- space: %s\n\n", t->qname, space);
	free(space);
	report_changes(r);
	if (r->method_note)
		printf("-- method: %s\n\n", r->method_note);
	if (r->mode == MODE_IN_PLACE)
	{
		printf("-- [preflight] lock: ACCESS SHARE on the table (catalog reads; one scan counting NULLs)\n\n");
		report_in_place(r);
		return;
	}
	printf("-- [preflight] lock: ACCESS SHARE on the table (catalog reads%s)\n\n",
		   has_new_not_null(r) ? "; one scan counting NULLs" : "");
	printf("-- [install] one transaction, SET LOCAL lock_timeout = '%dms', retried with backoff "
		   "up to %.0f s; the run and each object are recorded in %s.runs / run_objects\n",
		   r->s->lock_timeout_ms, r->s->wait_timeout_s, r->tool_schema);
	print_list("install", &p->install);
	printf("-- [install] then, on a second connection, held until the swap commits (lets the application's "
		   "reads and writes through; makes DDL, VACUUM FULL, CLUSTER and CREATE INDEX on the table wait, and "
		   "pg_rebuild cancels such a waiter so the application does not queue behind it)\n"
		   "-- lock: SHARE UPDATE EXCLUSIVE on the table, waiting at most --wait-timeout\n"
		   "BEGIN;\n%s;\n\n", p->guard_lock);
	print_list("copy", &p->shadow);
	if (p->copy_order_by)
		printf("-- [copy] lock: ACCESS SHARE on the table; one statement on one connection, one snapshot for the "
			   "whole copy: the rows are stored %s%s\n%s%s;\n\n", order,
			   r->s->jobs > 1 ? " (rows copied by several connections at once would interleave: --jobs applies "
			   "to the index builds)" : "", p->copy_sql, p->copy_order_by);
	else if (conn_server_version(r->main) < 140000)
		printf("-- [copy] lock: ACCESS SHARE on the table; one statement on one connection, one snapshot for the "
			   "whole copy (block ranges need PostgreSQL 14)%s%s\n%s;\n\n", order ? ": the rows are stored " : "",
			   order ? order : "", p->copy_sql);
	else
		printf("-- [copy] lock: ACCESS SHARE on the table; one transaction per block range, each under its "
			   "own snapshot (%d connection%s)%s%s\n%s WHERE ctid >= '(<first block>,0)' AND "
			   "ctid < '(<next range>,0)';\n\n", r->s->jobs, r->s->jobs > 1 ? "s" : "",
			   order ? ": the rows are stored " : "", order ? order : "", p->copy_sql);
	free(order);
	printf("-- [reconcile] the replay key's index without UNIQUE (the shadow may hold two versions of one key "
		   "until the log is applied); lock: SHARE on the shadow table only\n%s;\n"
		   "-- [reconcile] replay batches (below) while they are full, then one batch with every entry its "
		   "snapshot sees: the shadow is then the table at that snapshot, and unique indexes can be built\n\n",
		   p->reconcile_index);
	print_list("index", &p->indexes);
	printf("-- [index] then, in one transaction with the constraints below, the reconcile's index goes\n"
		   "-- lock: ACCESS EXCLUSIVE on the shadow table only\n%s;\n\n", p->reconcile_drop);
	print_list("index", &p->constraints);
	if (r->dplan->prepare.n > 0)
		printf("-- [index] one transaction, SET LOCAL lock_timeout, retried with backoff:\n\n");
	print_list("index", &r->dplan->prepare);
	printf("-- [replay] lock: ROW EXCLUSIVE on the shadow table, ACCESS SHARE on the table; "
		   "batches of %d log entries, each in one REPEATABLE READ transaction ($1 = last entry of the batch)\n"
		   "%s;\n%s;\n%s;\n\n", REPLAY_BATCH_DEFAULT, p->replay_delete, p->replay_insert, p->replay_trim);
	printf("-- [replay] lock: SHARE UPDATE EXCLUSIVE on the shadow table only\n%s;\n\n", p->analyze);
	printf("-- [swap] in the second connection's transaction, before the lock: re-read the table's definition "
		   "and the objects around it (they must match preflight's; their definitions are captured now), "
		   "recorded and prepared; read the grants the shadow got from default privileges; replay batches "
		   "until one is small\n"
		   "-- on lock timeout: ROLLBACK TO SAVEPOINT, name the blockers, replay a batch, back off with jitter, "
		   "retry, up to %.0f s\n"
		   "SAVEPOINT pgr_swap;\n%s;\n"
		   "-- lock: ACCESS EXCLUSIVE on the table (held until COMMIT)\n%s;\n"
		   "-- one round trip: the recorded reads again, each result compared with the first "
		   "(any difference: read and check everything again under the lock)\n"
		   "-- one round trip: replay the rest of the log (same statements as above, all entries)\n"
		   "-- one round trip: the statements below, then revoke any grant the new table got from default "
		   "privileges, then its own grants:\n\n",
		   r->s->wait_timeout_s, p->lock_timeout, p->swap_lock);
	print_list("swap", &r->dplan->before_renames);
	print_list("swap", &p->swap);
	print_list("swap", &r->dplan->after_renames);
	print_list("swap", &p->grants);
	printf("-- [swap] record the swap (one round trip); check: same privileges as before; nothing depends on "
		   "the old table but its own parts\nCOMMIT;\n\n");
	if (r->s->archive_old)
		printf("-- [finish] ACCESS SHARE on the old table: its rows into %s (gzip, docs/archive-format.md); "
			   "if that fails, the old table is kept and nothing below drops it\nCOPY %s TO STDOUT;\n\n",
			   r->s->archive_old, p->old_q);
	if (r->s->keep_old)
		printf("-- [finish] --keep-old: the old table %s stays, its foreign keys dropped; pg_rebuild --cleanup "
			   "drops it\n\n",
			   p->old_q);
	printf("-- [finish] each statement in its own transaction, under lock_timeout, retried with backoff\n\n");
	print_list("finish", &p->finish);
	print_list("finish", &r->dplan->validate);
}

void
report_summary(const Run *r)
{
	const RunResult *res = &r->result;

	if (r->mode == MODE_IN_PLACE)
	{
		char		all[32];
		char	   *d = changes_describe(r->changes);

		log_info("%s %s in place: %s; %s in all; ACCESS EXCLUSIVE held %.0f ms for SET NOT NULL (%d lock "
				 "attempt%s)", r->swapped ? "changed" : "nothing to change on", r->t->qname, d ? d : "",
				 format_duration(res->seconds, all, sizeof(all)), res->lock_held_ms, res->lock_attempts,
				 res->lock_attempts == 1 ? "" : "s");
		free(d);
		return;
	}
	char		rows[32];
	char		h0[32];
	char		h1[32];
	char		t0[32];
	char		t1[32];
	char		all[32];

	Event e;

	event_init(&e, "summary", SINK_STDOUT, LOG_NORMAL);
	event_int(&e, "rows", res->rows);
	event_int(&e, "changes", res->changes);
	event_int(&e, "heap_bytes_before", res->heap_before);
	event_int(&e, "heap_bytes_after", res->heap_after);
	event_int(&e, "total_bytes_before", res->total_before);
	event_int(&e, "total_bytes_after", res->total_after);
	event_num(&e, "duration_s", res->seconds, false);
	event_num(&e, "lock_held_ms", res->lock_held_ms, false);
	event_int(&e, "lock_attempts", res->lock_attempts);
	event_textf(&e, "rebuilt %s: %s rows; heap %s -> %s; total %s -> %s; %s in all; "
					"ACCESS EXCLUSIVE held %.0f ms at the swap",
				r->t->qname, format_count(res->rows, rows, sizeof(rows)),
				format_bytes(res->heap_before, h0, sizeof(h0)), format_bytes(res->heap_after, h1, sizeof(h1)),
				format_bytes(res->total_before, t0, sizeof(t0)), format_bytes(res->total_after, t1, sizeof(t1)),
				format_duration(res->seconds, all, sizeof(all)), res->lock_held_ms);
	event_emit(&e);
}

void
report_end(Run *r)
{
	const RunResult *res = &r->result;
	Event			 e;
	char			*json;
	int				 failed = r->failed_phase >= 0 ? r->failed_phase : r->clock.current;

	event_init(&e, "run_end", SINK_NONE, LOG_QUIET);
	event_int(&e, "exit_code", res->exit_code);
	event_bool(&e, "rebuilt", res->rebuilt);
	event_bool(&e, "interrupted", res->interrupted);
	event_num(&e, "duration_s", res->seconds, false);
	event_int(&e, "rows", res->rows);
	event_int(&e, "changes", res->changes);
	event_num(&e, "lock_held_ms", res->lock_held_ms, false);
	event_int(&e, "lock_attempts", res->lock_attempts);
	event_int(&e, "reconnections", r->recoveries);
	event_str(&e, "failed_phase", res->exit_code != PGR_EXIT_OK && failed >= 0 ? phase_name((Phase) failed) : NULL);
	/* the failure hooks read this very event, and come before it: run_end stays the last event */
	json = event_render_json(&e);
	if (res->exit_code != PGR_EXIT_OK)
		(void) run_hooks(r, HOOK_FAILURE, json, NULL, NULL);
	free(json);
	event_emit(&e);
}

static void
status_json(const RunInfo *runs, int n)
{
	StrBuf		sb;

	sb_init(&sb);
	sb_append(&sb, "[");
	for (int i = 0; i < n; i++)
	{
		const RunInfo *r = &runs[i];

		sb_appendf(&sb, "%s\n  {\"run_id\": %lld, \"schema\": ", i ? "," : "", r->run_id);
		sb_append_json(&sb, r->schema_name);
		sb_append(&sb, ", \"table\": ");
		sb_append_json(&sb, r->table_name);
		sb_append(&sb, ", \"phase\": ");
		sb_append_json(&sb, r->phase);
		sb_append(&sb, ", \"started\": ");
		sb_append_json(&sb, r->started);
		sb_append(&sb, ", \"last_progress\": ");
		sb_append_json(&sb, r->updated);
		sb_append(&sb, ", \"role\": ");
		sb_append_json(&sb, r->role);
		sb_append(&sb, ", \"state_schema\": ");
		sb_append_json(&sb, r->state_schema);
		sb_appendf(&sb, ", \"format\": %d, \"alive\": %s, \"pid\": %d, \"client_pid\": ", r->legacy ? 1 : 2,
				   r->alive ? "true" : "false", r->backend_pid);
		if (r->client_pid > 0)
			sb_appendf(&sb, "%d", r->client_pid);
		else
			sb_append(&sb, "null");
		sb_append(&sb, ", \"client_host\": ");
		sb_append_json(&sb, r->client_host);
		sb_appendf(&sb, ", \"paused\": %s, \"swap_postponed\": %s", r->paused ? "true" : "false",
				   r->swap_postponed ? "true" : "false");
		sb_append(&sb, ", \"objects\": [");
		for (size_t k = 0; k < r->objects.n; k++)
		{
			if (k)
				sb_append(&sb, ", ");
			sb_append_json(&sb, r->objects.items[k]);
		}
		sb_append(&sb, "]}");
	}
	sb_append(&sb, n ? "\n]\n" : "]\n");
	fputs(sb.data, stdout);
	sb_free(&sb);
}


void
report_status(const RunList *l, bool json)
{
	if (json)
	{
		status_json(l->runs, l->n);
		return;
	}
	if (l->n == 0)
	{
		printf("no pg_rebuild run in database %s\n", l->dbname);
		return;
	}
	for (int i = 0; i < l->n; i++)
	{
		const RunInfo *r = &l->runs[i];
		char	   *tq = ident_quote_qualified(r->schema_name, r->table_name);

		char	   *who = r->client_pid > 0 ?
			pgr_psprintf("pg_rebuild pid %d on host %s, server pid %d, role %s", r->client_pid,
						 r->client_host ? r->client_host : "?", r->backend_pid, r->role) :
			pgr_psprintf("server pid %d, role %s, recorded by an earlier pg_rebuild", r->backend_pid, r->role);

		printf("run %lld  table %s  phase %s%s%s  started %s  last progress %s  %s", r->run_id, tq, r->phase,
			   r->paused ? " (paused: --resume)" : "", r->swap_postponed ? " (swap postponed: --release-swap)" : "",
			   r->started, r->updated, r->alive ? "alive" : "DEAD");
		if (r->alive)
			printf(" (%s)\n", who);
		else
		{
			char	   *sq = ident_shell_quote(tq);

			printf(" (was %s): run pg_rebuild --cleanup%s -t %s\n", who, l->connection_args, sq);
			free(sq);
		}
		free(who);
		for (size_t k = 0; k < r->objects.n; k++)
			printf("    %s\n", r->objects.items[k]);
		free(tq);
	}
}

static const char *
outcome_name(Outcome o)
{
	switch (o)
	{
		case OUT_REBUILT:
			return "rebuilt";
		case OUT_SKIPPED:
			return "skipped";
		case OUT_FAILED:
			return "failed";
		case OUT_LEFTOVERS:
			return "leftovers";
		case OUT_NOT_STARTED:
			return "not-started";
		case OUT_DEFERRED:
			return "deferred";
		case OUT_PLANNED:
			return "chosen";
	}
	return "?";
}

/* "expected back 4.1 MB (41%, estimated from the statistics)" or why there is no estimate. */
static char *
expected_text(const Candidate *c)
{
	char b[32];

	if (!c->measured)
		return pgr_strdup("not measured");
	if (!c->size.known)
		return pgr_psprintf("expected back: no estimate (%s)", c->size.unknown_why ? c->size.unknown_why : "?");
	return pgr_psprintf("expected back %s (%.0f%%, %s)", format_bytes(candidate_reclaim(c), b, sizeof(b)),
						candidate_bloat_percent(c),
						c->exact ? "measured with pgstattuple_approx and pgstatindex" : "estimated from the statistics");
}

/* One table's line: before the runs (--dry-run) or after. */
static void
selection_line(const TableOutcome *t)
{
	const Candidate *c = t->cand;
	const RunResult *res = &t->result;
	char			 a[32];
	char			 b[32];
	char			 d[32];
	char			 g[32];

	if (t->outcome == OUT_REBUILT)
	{
		printf("  %-11s %s  %s -> %s  reclaimed %s  %s  ACCESS EXCLUSIVE %.0f ms\n", outcome_name(t->outcome),
			   c->qname, format_bytes(res->total_before, a, sizeof(a)), format_bytes(res->total_after, b, sizeof(b)),
			   format_bytes(res->total_before - res->total_after, g, sizeof(g)),
			   format_duration(res->seconds, d, sizeof(d)), res->lock_held_ms);
		return;
	}
	if (c->state == CAND_MISSING)
	{
		printf("  %-11s %s  %s\n", outcome_name(t->outcome), c->qname, t->why ? t->why : "");
		return;
	}
	{
		char *exp = expected_text(c);

		printf("  %-11s %s  size %s  %s%s%s", outcome_name(t->outcome), c->qname,
			   format_bytes(candidate_size(c), a, sizeof(a)), exp, t->why ? "  " : "", t->why ? t->why : "");
		if (t->ran)
			printf("  (%s, ACCESS EXCLUSIVE %.0f ms)", format_duration(res->seconds, d, sizeof(d)), res->lock_held_ms);
		printf("\n");
		free(exp);
	}
}

/* What the tables of a selection add up to. */
typedef struct Totals
{
	int		  count[OUT_PLANNED + 1]; /* tables per outcome */
	long long reclaimed;			  /* by the rebuilt ones */
	double	  lock_all;				  /* ACCESS EXCLUSIVE, ms, summed */
	double	  lock_max;
} Totals;

static void
selection_totals(const SelectionRun *sr, Totals *tot)
{
	memset(tot, 0, sizeof(*tot));
	for (int i = 0; i < sr->n; i++)
	{
		const TableOutcome *t = &sr->tables[i];

		tot->count[t->outcome]++;
		if (t->outcome == OUT_REBUILT)
			tot->reclaimed += t->result.total_before - t->result.total_after;
		tot->lock_all += t->result.lock_held_ms;
		if (t->result.lock_held_ms > tot->lock_max)
			tot->lock_max = t->result.lock_held_ms;
	}
}

void
report_selection(const SelectionRun *sr)
{
	Totals	   tot;
	const int *count = tot.count;
	char	   a[32];
	char	   d[32];
	char	   excl[48] = "";

	if (log_get_level() < LOG_NORMAL)
		return;
	if (sr->sel.excluded > 0)
		snprintf(excl, sizeof(excl), " (%d more excluded)", sr->sel.excluded);
	printf("%s %d table%s in database %s%s:\n", sr->dry_run ? "selection (dry run: nothing was changed):" : "summary:",
		   sr->n, sr->n == 1 ? "" : "s", sr->sel.dbname, excl);
	selection_totals(sr, &tot);
	for (int i = 0; i < sr->n; i++)
		selection_line(&sr->tables[i]);
	if (sr->dry_run)
		printf("totals: %d chosen, %d skipped, %d failed\n", count[OUT_PLANNED], count[OUT_SKIPPED],
			   count[OUT_FAILED] + count[OUT_LEFTOVERS]);
	else
		printf("totals: %d rebuilt, %d skipped, %d deferred, %d failed, %d not started; reclaimed %s; %s in all; "
			   "ACCESS EXCLUSIVE %.0f ms in all, %.0f ms at most\n",
			   count[OUT_REBUILT], count[OUT_SKIPPED], count[OUT_DEFERRED],
			   count[OUT_FAILED] + count[OUT_LEFTOVERS], count[OUT_NOT_STARTED],
			   format_bytes(tot.reclaimed, a, sizeof(a)), format_duration(sr->seconds, d, sizeof(d)), tot.lock_all,
			   tot.lock_max);
	fflush(stdout);
}

/* A number of bytes, or null. */
static void
json_bytes(StrBuf *sb, const char *key, bool known, long long v)
{
	if (known)
		sb_appendf(sb, ", \"%s\": %lld", key, v);
	else
		sb_appendf(sb, ", \"%s\": null", key);
}

static void
json_table(StrBuf *sb, const TableOutcome *t)
{
	const Candidate *c = t->cand;
	const RunResult *res = &t->result;
	bool			 rebuilt = t->outcome == OUT_REBUILT;

	sb_append(sb, "\n    {\"schema\": ");
	sb_append_json(sb, c->schema);
	sb_append(sb, ", \"table\": ");
	sb_append_json(sb, c->name);
	sb_append(sb, ", \"given_as\": ");
	sb_append_json(sb, c->arg);
	sb_appendf(sb, ", \"result\": \"%s\", \"reason\": ", outcome_name(t->outcome));
	sb_append_json(sb, t->why);
	json_bytes(sb, "size_before", c->measured || rebuilt, rebuilt ? res->total_before : candidate_size(c));
	json_bytes(sb, "size_after", rebuilt, res->total_after);
	json_bytes(sb, "reclaimed", rebuilt, res->total_before - res->total_after);
	json_bytes(sb, "expected_reclaim", c->size.known, candidate_reclaim(c));
	if (c->size.known)
		sb_appendf(sb, ", \"expected_percent\": %.1f, \"measured_by\": \"%s\"", candidate_bloat_percent(c),
				   c->exact ? "pgstattuple" : "estimate");
	else
		sb_append(sb, ", \"expected_percent\": null, \"measured_by\": null");
	if (t->ran)
		sb_appendf(sb, ", \"rows\": %lld, \"seconds\": %.3f, \"lock_held_ms\": %.1f}", res->rows, res->seconds,
				   res->lock_held_ms);
	else
		sb_append(sb, ", \"rows\": null, \"seconds\": null, \"lock_held_ms\": null}");
}

bool
report_selection_json(const SelectionRun *sr, FILE *f)
{
	StrBuf	   sb;
	Totals	   tot;
	const int *count = tot.count;
	bool	   ok;

	sb_init(&sb);
	sb_appendf(&sb, "{\n  \"format\": 1,\n  \"database\": ");
	sb_append_json(&sb, sr->sel.dbname);
	sb_appendf(&sb, ",\n  \"dry_run\": %s,\n  \"exit_code\": %d,\n  \"seconds\": %.3f,\n  \"excluded\": %d,\n"
					"  \"tables\": [",
			   sr->dry_run ? "true" : "false", sr->exit_code, sr->seconds, sr->sel.excluded);
	selection_totals(sr, &tot);
	for (int i = 0; i < sr->n; i++)
	{
		if (i > 0)
			sb_append_char(&sb, ',');
		json_table(&sb, &sr->tables[i]);
	}
	sb_appendf(&sb, "%s],\n  \"totals\": {\"rebuilt\": %d, \"chosen\": %d, \"skipped\": %d, \"failed\": %d, "
					"\"leftovers\": %d, \"not_started\": %d, \"deferred\": %d, \"reclaimed\": %lld, \"lock_held_ms\": %.1f, "
					"\"lock_held_ms_max\": %.1f}\n}\n",
			   sr->n ? "\n  " : "", count[OUT_REBUILT], count[OUT_PLANNED],
			   count[OUT_SKIPPED], count[OUT_FAILED], count[OUT_LEFTOVERS], count[OUT_NOT_STARTED], count[OUT_DEFERRED], tot.reclaimed,
			   tot.lock_all, tot.lock_max);
	ok = fputs(sb.data, f) >= 0;
	sb_free(&sb);
	return ok;
}
