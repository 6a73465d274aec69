/* exact.c: the space a rebuild would give back, measured with pgstattuple (--measure=exact). */
#include "exact.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "str.h"

#define PAGE_HEADER				 24 /* SizeOfPageHeaderData */
#define LINE_POINTER			 4	/* sizeof(ItemIdData) */
#define BTREE_DEFAULT_FILLFACTOR 90

long long
exact_heap_after(double tuples, double tuple_bytes, int fillfactor, int block_size)
{
	double usable = (double) (block_size - PAGE_HEADER) * (fillfactor > 0 ? fillfactor : 100) / 100.0;
	double bytes = tuple_bytes + tuples * LINE_POINTER;

	if (tuples <= 0 || usable <= 0)
		return 0;
	return (long long) ceil(bytes / usable) * block_size;
}

long long
exact_btree_after(long long leaf_pages, long long internal_pages, double avg_leaf_density, int fillfactor,
				  int block_size)
{
	double ff = fillfactor > 0 ? fillfactor : BTREE_DEFAULT_FILLFACTOR;
	double leaves;

	if (isnan(avg_leaf_density) || avg_leaf_density <= 0)
		return (leaf_pages + internal_pages + 1) * block_size;
	leaves = ceil((double) leaf_pages * avg_leaf_density / ff);
	if (leaves < 1)
		leaves = 1;
	return ((long long) leaves + internal_pages + 1) * block_size;
}

bool
exact_find_extension(Conn *c, char **schema)
{
	PGresult *res = conn_query(c, "SELECT n.nspname::text FROM pg_catalog.pg_extension e "
								  "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace "
								  "WHERE e.extname OPERATOR(pg_catalog.=) 'pgstattuple'");

	*schema = NULL;
	if (res == NULL)
		return false;
	if (PQntuples(res) == 1)
		*schema = pgr_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

/* The heap: pgstattuple_approx, the table's fillfactor and the block size. */
static bool
measure_heap(Conn *c, const char *qext, unsigned int oid, SizeEstimate *out, int *block_size)
{
	char *spec = pgr_psprintf(
		"SELECT a.table_len, a.approx_tuple_count::float8, a.approx_tuple_len::float8, "
		"  pg_catalog.current_setting('block_size')::int4, "
		"  COALESCE((SELECT o.option_value::int4 FROM pg_catalog.pg_options_to_table(c.reloptions) o "
		"    WHERE o.option_name OPERATOR(pg_catalog.=) 'fillfactor'), 100), "
		"  COALESCE((SELECT pg_catalog.pg_total_relation_size(c.reltoastrelid) WHERE c.reltoastrelid "
		"    OPERATOR(pg_catalog.<>) 0), 0) "
		"FROM pg_catalog.pg_class c CROSS JOIN LATERAL %s.pgstattuple_approx(c.oid::pg_catalog.regclass) a "
		"WHERE c.oid OPERATOR(pg_catalog.=) %%oid AND c.relkind OPERATOR(pg_catalog.=) 'r'",
		qext);
	PGresult *res = conn_queryf(c, spec, (Oid) oid);

	free(spec);
	if (res == NULL)
		return false;
	if (PQntuples(res) == 1)
	{
		out->heap_now = res_int8(res, 0, 0);
		out->rows = res_float8(res, 0, 1);
		*block_size = res_int4(res, 0, 3);
		out->fillfactor = res_int4(res, 0, 4);
		out->heap_after = exact_heap_after(out->rows, res_float8(res, 0, 2), out->fillfactor, *block_size);
		out->toast_now = res_int8(res, 0, 5);
	}
	PQclear(res);
	return true;
}

/* Each index: a btree measured with pgstatindex, any other counted as it is. */
static bool
measure_indexes(Conn *c, const char *qext, unsigned int oid, int block_size, SizeEstimate *out)
{
	char *spec = pgr_psprintf(
		"SELECT i.indexrelid, am.amname::text, pg_catalog.pg_relation_size(i.indexrelid), "
		"  COALESCE((SELECT o.option_value::int4 FROM pg_catalog.pg_options_to_table(ic.reloptions) o "
		"    WHERE o.option_name OPERATOR(pg_catalog.=) 'fillfactor'), 0) "
		"FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid "
		"JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) ic.relam "
		"WHERE i.indrelid OPERATOR(pg_catalog.=) %%oid AND ic.relkind OPERATOR(pg_catalog.=) 'i' ORDER BY 1");
	PGresult *res = conn_queryf(c, spec, (Oid) oid);
	bool	  ok = true;

	free(spec);
	if (res == NULL)
		return false;
	spec = pgr_psprintf("SELECT s.leaf_pages, s.internal_pages, s.avg_leaf_density "
						"FROM %s.pgstatindex(%%oid::pg_catalog.regclass) s",
						qext);
	for (int i = 0; ok && i < PQntuples(res); i++)
	{
		char	 *am = res_text(res, i, 1);
		long long now = res_int8(res, i, 2);
		PGresult *st;

		out->indexes_now += now;
		if (am == NULL || strcmp(am, "btree") != 0)
		{
			out->indexes_after += now;
			out->indexes_unchanged++;
		}
		else if ((st = conn_queryf(c, spec, res_oid(res, i, 0))) == NULL)
			ok = false;
		else
		{
			out->indexes_after += exact_btree_after(res_int8(st, 0, 0), res_int8(st, 0, 1), res_float8(st, 0, 2),
													res_int4(res, i, 3), block_size);
			out->indexes_estimated++;
			PQclear(st);
		}
		free(am);
	}
	free(spec);
	PQclear(res);
	return ok;
}

/* The schema's quoted name, with % doubled: it goes into a libpqtypes spec. */
static char *
spec_ident(const char *name)
{
	char  *q = ident_quote(name);
	StrBuf sb;

	sb_init(&sb);
	for (const char *p = q; *p; p++)
		sb_append(&sb, *p == '%' ? "%%" : (char[]) {*p, '\0'});
	free(q);
	return sb_steal(&sb);
}

bool
exact_measure(Conn *c, const char *ext_schema, unsigned int oid, SizeEstimate *out)
{
	char *qext = spec_ident(ext_schema);
	int	  block_size = 8192;
	bool  ok;

	memset(out, 0, sizeof(*out));
	ok = measure_heap(c, qext, oid, out, &block_size) && measure_indexes(c, qext, oid, block_size, out);
	free(qext);
	out->known = ok;
	out->rows_source = EST_ROWS_ACTIVITY;
	return ok;
}
