/* select.c: the tables a command chooses, measured, filtered and ordered. */
#include "select.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "exact.h"
#include "ident.h"
#include "log.h"
#include "progress.h"

/*
 * The tables of --all or --schema: ordinary and partitioned tables whose
 * owner the role may act as, outside the system's schemas and the state
 * schemas of pg_rebuild itself (pgrebuild_<role OID>, and the format-1
 * pgrebuild).  Partitioned tables and partitions are read so that they are
 * listed as skipped, with preflight's reason.  $1: all schemas; $2: the
 * schemas wanted; $3: the schemas excluded.
 */
static const char schema_tables_sql[] =
	"SELECT c.oid, n.nspname::text, c.relname::text, "
	"  n.nspname OPERATOR(pg_catalog.=) ANY (%text::text[]) AS excluded "
	"FROM pg_catalog.pg_class c "
	"JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
	"WHERE c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::\"char\"[]) "
	"  AND c.relpersistence OPERATOR(pg_catalog.<>) 't' "
	"  AND pg_catalog.pg_has_role(c.relowner, 'MEMBER') "
	"  AND n.nspname OPERATOR(pg_catalog.<>) ALL ('{pg_catalog,information_schema}'::text[]) "
	"  AND n.nspname OPERATOR(pg_catalog.!~) '^(pg_toast|pg_temp_|pg_toast_temp_|pgrebuild$|pgrebuild_[0-9]+$)' "
	"  AND (%bool OR n.nspname OPERATOR(pg_catalog.=) ANY (%text::text[])) "
	"ORDER BY 2, 3";

static void
candidate_free(Candidate *c)
{
	free(c->arg);
	free(c->schema);
	free(c->name);
	free(c->qname);
	free(c->why);
	estimate_free(&c->size);
}

static int
find_oid(const Selection *sel, unsigned int oid)
{
	for (int i = 0; i < sel->n; i++)
		if (sel->items[i].oid == oid && oid != 0)
			return i;
	return -1;
}

static Candidate *
push(Selection *sel)
{
	Candidate *c;

	sel->items = pgr_realloc(sel->items, sizeof(Candidate) * (size_t) (sel->n + 1));
	c = &sel->items[sel->n++];
	memset(c, 0, sizeof(*c));
	return c;
}

/* The OID of a table named as given (-t or --exclude-table): 0 none, -1 error (logged). */
static long long
resolve_arg(Conn *c, const char *arg, char **schema, char **name)
{
	char	 *perr = NULL;
	char	 *want_schema = NULL;
	long long oid;

	*schema = NULL;
	*name = NULL;
	if (!ident_parse_qualified(arg, &want_schema, name, &perr))
	{
		/* the options checked it: cannot happen */
		free(perr);
		return 0;
	}
	oid = catalog_resolve_table(c, want_schema, *name, schema);
	free(want_schema);
	return oid;
}

/* The tables of the -t arguments, each once; false (logged) on a query failure. */
static bool
read_named(Conn *c, const SelectRequest *req, Selection *sel)
{
	for (size_t i = 0; i < req->tables->n; i++)
	{
		const char *arg = req->tables->items[i];
		char	   *schema;
		char	   *name;
		long long	oid = resolve_arg(c, arg, &schema, &name);
		Candidate  *cand;

		if (oid < 0)
		{
			free(name);
			return false;
		}
		if (oid > 0 && find_oid(sel, (unsigned int) oid) >= 0)
		{
			log_verbose("-t %s names a table already chosen: rebuilt once", arg);
			free(schema);
			free(name);
			continue;
		}
		cand = push(sel);
		cand->arg = pgr_strdup(arg);
		cand->oid = (unsigned int) oid;
		if (oid == 0)
		{
			cand->state = CAND_MISSING;
			cand->qname = pgr_strdup(arg);
			cand->why = pgr_strdup("no such table (unquoted names are folded to lower case; a name outside "
								   "the search_path needs its schema)");
			free(schema);
			free(name);
			continue;
		}
		cand->schema = schema;
		cand->name = name;
		cand->qname = ident_quote_qualified(schema, name);
	}
	return true;
}

/* The tables of --all or --schema; false (logged) on a query failure. */
static bool
read_schemas(Conn *c, const SelectRequest *req, Selection *sel)
{
	char	 *excl = sv_text_array(req->exclude_schemas);
	char	 *want = sv_text_array(req->schemas);
	PGresult *res = conn_queryf(c, schema_tables_sql, excl, req->all, want);

	free(excl);
	free(want);
	if (res == NULL)
	{
		conn_report(c, "could not list the tables of the database");
		log_detail("Nothing was changed.");
		return false;
	}
	for (int i = 0; i < PQntuples(res); i++)
	{
		unsigned int oid = res_oid(res, i, 0);
		Candidate	*cand;

		if (res_bool(res, i, 3))
		{
			sel->excluded++;
			continue;
		}
		if (find_oid(sel, oid) >= 0)
			continue;
		cand = push(sel);
		cand->oid = oid;
		cand->schema = res_text(res, i, 1);
		cand->name = res_text(res, i, 2);
		cand->qname = ident_quote_qualified(cand->schema, cand->name);
	}
	PQclear(res);
	return true;
}

/* Drops the tables --exclude-table names; false (logged) on a query failure. */
static bool
apply_exclusions(Conn *c, const SelectRequest *req, Selection *sel)
{
	for (size_t i = 0; i < req->exclude_tables->n; i++)
	{
		char	 *schema;
		char	 *name;
		long long oid = resolve_arg(c, req->exclude_tables->items[i], &schema, &name);
		int		  k;

		free(schema);
		free(name);
		if (oid < 0)
			return false;
		if (oid == 0)
		{
			/* not an error: the table may come back tomorrow; but never silent */
			log_warning("--exclude-table %s names no table: nothing is excluded by it",
						req->exclude_tables->items[i]);
			continue;
		}
		k = find_oid(sel, (unsigned int) oid);
		if (k < 0)
			continue;
		candidate_free(&sel->items[k]);
		memmove(&sel->items[k], &sel->items[k + 1], sizeof(Candidate) * (size_t) (sel->n - k - 1));
		sel->n--;
		sel->excluded++;
	}
	return true;
}

/* With --measure=exact: pgstattuple; false (logged) when it fails, which stops the command. */
static bool
measure_exact(Conn *c, const char *ext_schema, Candidate *cand)
{
	if (!exact_measure(c, ext_schema, cand->oid, &cand->size))
	{
		conn_report(c, "could not measure a table with pgstattuple (--measure=exact)");
		log_detail("Table %s.  Nothing was changed.", cand->qname);
		log_hint("pgstattuple's functions need a superuser or a member of pg_stat_scan_tables; or leave "
				 "--measure out: the estimate from the statistics needs no extension.");
		return false;
	}
	cand->measured = true;
	cand->exact = true;
	return true;
}

/* Reads what the estimate needs; a table whose statistics cannot be read is measured by its size alone. */
static void
measure(Conn *c, Candidate *cand)
{
	EstimateInput in;

	if (estimate_read(c, cand->oid, &in))
		estimate_compute(&in, &cand->size);
	else
	{
		memset(&cand->size, 0, sizeof(cand->size));
		cand->size.unknown_why = pgr_psprintf("its statistics could not be read: %s",
											  c->message ? c->message : "unknown error");
		conn_clear_error(c);
	}
	estimate_input_free(&in);
	cand->measured = true;
}

bool
select_read(Conn *c, const SelectRequest *req, Selection *out)
{
	memset(out, 0, sizeof(*out));
	out->dbname = pgr_strdup(PQdb(c->pg));
	if (!read_named(c, req, out))
		return false;
	if ((req->all || req->schemas->n > 0) && !read_schemas(c, req, out))
		return false;
	if (!apply_exclusions(c, req, out))
		return false;
	for (int i = 0; i < out->n; i++)
	{
		if (out->items[i].state == CAND_MISSING)
			continue;
		if (req->exact_schema == NULL)
			measure(c, &out->items[i]);
		else if (!measure_exact(c, req->exact_schema, &out->items[i]))
			return false;
	}
	return true;
}

long long
candidate_reclaim(const Candidate *c)
{
	return c->size.known ? estimate_reclaim(&c->size) : 0;
}

long long
candidate_size(const Candidate *c)
{
	return c->size.heap_now + c->size.indexes_now + c->size.toast_now;
}

double
candidate_bloat_percent(const Candidate *c)
{
	long long size = c->size.heap_now + c->size.indexes_now; /* as estimate.h counts it */

	return size > 0 ? 100.0 * (double) candidate_reclaim(c) / (double) size : 0;
}

/* Why c is under a threshold of f (newly allocated), or NULL. */
static char *
under_threshold(const Candidate *c, const SelectFilter *f)
{
	char a[32];
	char b[32];

	if (f->min_size > 0 && candidate_size(c) < f->min_size)
		return pgr_psprintf("smaller than --min-size %s", format_bytes(f->min_size, a, sizeof(a)));
	if ((f->min_bloat > 0 || f->min_reclaim > 0) && !c->size.known)
		return pgr_psprintf("no estimate of what it would give back (%s): --min-bloat and --min-reclaim need "
							"one; ANALYZE it",
							c->size.unknown_why ? c->size.unknown_why : "unknown");
	if (f->min_bloat > 0 && candidate_bloat_percent(c) < f->min_bloat)
		return pgr_psprintf("expected to give back %.0f%%, under --min-bloat %g%%", candidate_bloat_percent(c),
							f->min_bloat);
	if (f->min_reclaim > 0 && candidate_reclaim(c) < f->min_reclaim)
		return pgr_psprintf("expected to give back %s, under --min-reclaim %s",
							format_bytes(candidate_reclaim(c), a, sizeof(a)),
							format_bytes(f->min_reclaim, b, sizeof(b)));
	return NULL;
}

/* Chosen first; among them the biggest expected gain, then the biggest, then by name. */
static int
by_gain(const void *pa, const void *pb)
{
	const Candidate *a = pa;
	const Candidate *b = pb;
	long long		 ga;
	long long		 gb;

	if ((a->state == CAND_CHOSEN) != (b->state == CAND_CHOSEN))
		return a->state == CAND_CHOSEN ? -1 : 1;
	if (a->state != CAND_CHOSEN)
		return 0;
	ga = candidate_reclaim(a);
	gb = candidate_reclaim(b);
	if (ga != gb)
		return ga > gb ? -1 : 1;
	ga = candidate_size(a);
	gb = candidate_size(b);
	if (ga != gb)
		return ga > gb ? -1 : 1;
	return strcmp(a->qname, b->qname);
}

void
select_choose(Selection *sel, const SelectFilter *f)
{
	Candidate *sorted;
	int		   k = 0;

	for (int i = 0; i < sel->n; i++)
	{
		Candidate *c = &sel->items[i];

		if (c->state == CAND_CHOSEN && (c->why = under_threshold(c, f)) != NULL)
			c->state = CAND_SKIPPED;
	}
	/* chosen ones sorted by gain; the others keep their order (qsort is not stable) */
	sorted = pgr_malloc(sizeof(Candidate) * (size_t) (sel->n > 0 ? sel->n : 1));
	for (int i = 0; i < sel->n; i++)
		if (sel->items[i].state == CAND_CHOSEN)
			sorted[k++] = sel->items[i];
	qsort(sorted, (size_t) k, sizeof(Candidate), by_gain);
	for (int i = 0; i < sel->n; i++)
		if (sel->items[i].state != CAND_CHOSEN)
			sorted[k++] = sel->items[i];
	free(sel->items);
	sel->items = sorted;
}

double
select_expected_seconds(long long size, long long bytes_done, double seconds_done)
{
	if (bytes_done <= 0 || seconds_done <= 0)
		return -1;
	return (double) size * seconds_done / (double) bytes_done;
}

void
select_free(Selection *sel)
{
	for (int i = 0; i < sel->n; i++)
		candidate_free(&sel->items[i]);
	free(sel->items);
	free(sel->dbname);
	memset(sel, 0, sizeof(*sel));
}
