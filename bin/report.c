/*
 * report.c: everything pg_rebuild prints on standard output about a run:
 * the intro, the --dry-run plan, the summary, and --status.
 */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

	log_info("rebuilt %s: %s rows; heap %s -> %s; total %s -> %s; %s in all; "
			 "ACCESS EXCLUSIVE held %.0f ms at the swap",
			 r->t->qname, format_count(res->rows, rows, sizeof(rows)),
			 format_bytes(res->heap_before, h0, sizeof(h0)), format_bytes(res->heap_after, h1, sizeof(h1)),
			 format_bytes(res->total_before, t0, sizeof(t0)), format_bytes(res->total_after, t1, sizeof(t1)),
			 format_duration(res->seconds, all, sizeof(all)), res->lock_held_ms);
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

		printf("run %lld  table %s  phase %s  started %s  last progress %s  %s", r->run_id, tq, r->phase,
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
