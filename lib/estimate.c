/* estimate.c: the size of a table and its indexes if rebuilt now, from catalog data. */
#include "estimate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "str.h"

/* Page layout of heap and btree pages (bufpage.h, htup_details.h, nbtree.h). */
#define PAGE_HEADER		24		/* SizeOfPageHeaderData */
#define LINE_POINTER	4		/* sizeof(ItemIdData) */
#define HEAP_HEADER		23		/* SizeofHeapTupleHeader, before the NULL bitmap */
#define INDEX_HEADER	8		/* sizeof(IndexTupleData) */
#define BTREE_SPECIAL	16		/* MAXALIGN(sizeof(BTPageOpaqueData)) */
#define BTREE_LEAF_FILLFACTOR 90	/* BTREE_DEFAULT_FILLFACTOR */
#define BTREE_NONLEAF_FILLFACTOR 70
#define HEAP_TID		6		/* sizeof(ItemPointerData), one per entry of a posting list */
#define MAXIMUM_ALIGNOF 8

static double
align_up(double off, int a)
{
	return ceil(off / a) * a;
}

static int
align_of(char typalign)
{
	switch (typalign)
	{
		case 's':
			return 2;
		case 'i':
			return 4;
		case 'd':
			return 8;
		default:
			return 1;
	}
}

static double
maxalign(double v)
{
	return align_up(v, MAXIMUM_ALIGNOF);
}

/*
 * A variable-width column without statistics, when only a row count is
 * wanted: the planner's default width (get_typavgwidth).
 */
#define GUESSED_WIDTH	32

/* Where the data of a tuple ends, for the MAXALIGN padding after it. */
typedef enum DataEnd
{
	END_EXACT,					/* fixed widths, never NULL: every tuple has the computed width */
	END_ALIGNED,				/* every tuple's data ends on an 8-byte boundary: no padding */
	END_VARYING					/* anywhere within 8 bytes: 3.5 bytes of padding on average */
} DataEnd;

/*
 * The average width of the data of one tuple of these columns, laid out as
 * the heap (or an index entry) does: each column at its average stored
 * width, after its alignment padding.  Short varlena values (under 127
 * bytes) have a 1-byte header and no alignment.  Once a column of varying
 * width (a varlena, or one that may be NULL) has been placed, the padding
 * before an aligned column is no longer known: it is taken as its mean,
 * (alignment - 1) / 2.  A NULL takes no room: each column's width is then
 * taken off in the share of rows where it is NULL; *with_null is the share
 * of tuples that hold a NULL (and so a NULL bitmap).  *end says how the data
 * ends (see DataEnd).  False when a column has no statistics and no fixed
 * width (*missing names it), unless guess.
 */
static bool
data_width(const EstColumn *cols, int n, bool guess, double *width, double *with_null, DataEnd *end,
		   const char **missing)
{
	double		off = 0;
	double		nulls = 0;
	bool		known = true;
	double		none_null = 1;

	*end = END_EXACT;
	for (int i = 0; i < n; i++)
	{
		const EstColumn *c = &cols[i];
		double		present = c->has_stats ? 1 - c->null_frac : 1;
		double		w;
		int			a;

		if (c->has_stats)
			w = c->avg_width;
		else if (c->typlen > 0)
			w = c->typlen;
		else if (guess)
			w = GUESSED_WIDTH;
		else
		{
			*missing = c->name;
			return false;
		}
		a = (c->typlen == -1 && w < 127) ? 1 : align_of(c->typalign);
		off = (known ? align_up(off, a) : off + (a - 1) / 2.0) + w;
		nulls += (1 - present) * w;
		if (c->typlen <= 0 || present < 1)
			known = false;
		none_null *= present;
		if (known)
			*end = END_EXACT;
		else if (c->typlen > 0 && a == MAXIMUM_ALIGNOF && c->typlen % MAXIMUM_ALIGNOF == 0 && present == 1)
			*end = END_ALIGNED;	/* a bigint, timestamptz, ... last: every row ends on a boundary */
		else
			*end = END_VARYING;
	}
	*width = off - nulls;
	*with_null = 1 - none_null;	/* the share of tuples with a NULL (taken as independent) */
	return true;
}

/* The mean size a tuple of header hdr and data of this average width takes once MAXALIGNed. */
static double
aligned_size(double hdr, double width, DataEnd end)
{
	switch (end)
	{
		case END_EXACT:
			return maxalign(hdr + width);
		case END_ALIGNED:
			return hdr + width;
		default:
			return hdr + width + (MAXIMUM_ALIGNOF - 1) / 2.0;
	}
}

static double
rows_now(const EstimateInput *in, double per_page, EstRowsSource *source)
{
	double		pages_now = (double) in->heap_bytes / in->block_size;

	if (in->has_activity)
	{
		*source = EST_ROWS_ACTIVITY;
		return in->n_live_tup;
	}
	if (in->reltuples >= 0 && (in->relpages > 0 || in->reltuples > 0))
	{
		*source = EST_ROWS_RELTUPLES;
		return in->relpages > 0 ? in->reltuples / (double) in->relpages * pages_now : in->reltuples;
	}
	*source = EST_ROWS_SIZE;
	return floor(pages_now * per_page);
}

/* Heap tuples per page of a table filled to fillfactor (heap_insert's test). */
static double
heap_tuples_per_page(int block_size, int fillfactor, double tuple)
{
	double		reserve = (double) block_size * (100 - fillfactor) / 100;
	double		n = floor((block_size - PAGE_HEADER - reserve) / (tuple + LINE_POINTER));
	double		max = floor((double) (block_size - PAGE_HEADER) / (maxalign(HEAP_HEADER) + LINE_POINTER));

	if (n < 1)
		n = 1;
	return n > max ? max : n;
}

/* Pages of the internal levels above leaf_pages leaves, and the metapage. */
static double
btree_upper_pages(int block_size, double leaf_pages, double pivot)
{
	double		fanout = floor((block_size - PAGE_HEADER - BTREE_SPECIAL) * BTREE_NONLEAF_FILLFACTOR / 100.0 /
							   (pivot + LINE_POINTER));
	double		level = leaf_pages;
	double		pages = 1;		/* the metapage */

	if (fanout < 2)
		fanout = 2;
	while (level > 1)
	{
		level = ceil(level / fanout);
		pages += level;
	}
	return pages;
}

/*
 * The size of a btree index of entries rows after a build, or -1 when a
 * column has no statistics.
 */
static double
btree_bytes(const EstIndex *ix, int block_size, double entries)
{
	double		keyw;
	double		allw;
	double		key_null;
	double		all_null;
	DataEnd		key_end;
	DataEnd		all_end;
	const char *missing;
	double		hdr;
	double		leaf_tuple;
	double		pivot;
	int			ff = ix->fillfactor > 0 ? ix->fillfactor : BTREE_LEAF_FILLFACTOR;
	double		room = (block_size - PAGE_HEADER - BTREE_SPECIAL) - (double) block_size * (100 - ff) / 100;
	double		leaf_bytes;
	double		leaf_pages;
	bool		dedup = !ix->unique && !ix->dedup_off && ix->ncolumns == ix->nkeys;

	if (!data_width(ix->columns, ix->nkeys, false, &keyw, &key_null, &key_end, &missing) ||
		!data_width(ix->columns, ix->ncolumns, false, &allw, &all_null, &all_end, &missing))
		return -1;
	/* a NULL in the entry adds its bitmap, which MAXALIGNs the header to 16 */
	hdr = INDEX_HEADER + all_null * (maxalign(INDEX_HEADER + 4) - INDEX_HEADER);
	leaf_tuple = aligned_size(hdr, allw, all_end);
	pivot = aligned_size(INDEX_HEADER + key_null * (maxalign(INDEX_HEADER + 4) - INDEX_HEADER), keyw, key_end);
	for (int i = 0; i < ix->nkeys; i++)
		dedup = dedup && ix->columns[i].equalimage && ix->columns[i].has_stats;
	if (dedup)
	{
		/*
		 * Repeated keys are merged into posting lists: one tuple holds the key
		 * once and 6 bytes per row, up to about a third of a page.  The
		 * distinct keys of several columns are taken as the product of each
		 * one's (an upper bound: correlation makes them fewer).
		 */
		double		distinct = 1;

		for (int i = 0; i < ix->nkeys; i++)
		{
			double		nd = ix->columns[i].n_distinct;

			distinct *= nd > 0 ? nd : (nd < 0 ? -nd * entries : entries);
		}
		if (distinct > entries)
			distinct = entries;
		if (distinct > 0 && entries / distinct >= 2)
		{
			double		per_key = entries / distinct;
			double		max_tids = floor((block_size / 3.0 - 2 * MAXIMUM_ALIGNOF - leaf_tuple) / HEAP_TID);
			double		tuples_per_key = ceil(per_key / (max_tids > 1 ? max_tids : 1));
			double		posting = maxalign(leaf_tuple + HEAP_TID * per_key / tuples_per_key);

			leaf_bytes = distinct * tuples_per_key * (posting + LINE_POINTER);
			leaf_pages = ceil(leaf_bytes / (room - pivot - LINE_POINTER));
			if (leaf_pages < 1)
				leaf_pages = 1;
			return (leaf_pages + btree_upper_pages(block_size, leaf_pages, pivot)) * block_size;
		}
	}
	/* each leaf but the rightmost also keeps a high key */
	leaf_pages = ceil(entries / floor((room - pivot - LINE_POINTER) / (leaf_tuple + LINE_POINTER)));
	if (leaf_pages < 1)
		leaf_pages = 1;
	return (leaf_pages + btree_upper_pages(block_size, leaf_pages, pivot)) * block_size;
}

void
estimate_compute(const EstimateInput *in, SizeEstimate *out)
{
	double		width = 0;
	double		with_null;
	DataEnd		end;
	const char *missing = NULL;
	bool		width_known;
	double		hoff;
	double		per_page;
	double		table_rows;

	memset(out, 0, sizeof(*out));
	out->fillfactor = in->fillfactor;
	out->heap_now = in->heap_bytes;
	for (int i = 0; i < in->ncolumns; i++)
		out->widths_from_stats = out->widths_from_stats || in->columns[i].has_stats;
	out->toast_now = in->toast_bytes;
	width_known = data_width(in->columns, in->ncolumns, false, &width, &with_null, &end, &missing);
	if (!width_known)
		(void) data_width(in->columns, in->ncolumns, true, &width, &with_null, &end, &missing);
	/* the NULL bitmap, one bit per column, in the tuples that hold a NULL */
	hoff = maxalign(HEAP_HEADER) +
		with_null * (maxalign(HEAP_HEADER + (in->ncolumns + 7) / 8) - maxalign(HEAP_HEADER));
	out->row_bytes = aligned_size(hoff, width, end) + LINE_POINTER;
	per_page = heap_tuples_per_page(in->block_size, in->fillfactor, out->row_bytes - LINE_POINTER);
	/* without any count, the table is taken as full pages of such rows */
	out->rows = rows_now(in, per_page, &out->rows_source);
	if (out->rows < 0)
		out->rows = 0;
	if (!width_known)
		out->unknown_why = pgr_psprintf("column %s has no statistics (the table was never analyzed, or the "
										"column was added since): ANALYZE the table for an estimate", missing);
	else
	{
		out->known = true;
		out->heap_after = (long long) (ceil(out->rows / per_page) * in->block_size);
	}

	/* indexes: a partial one holds the share of the rows it held at its last count */
	table_rows = in->reltuples > 0 ? in->reltuples : out->rows;
	for (int i = 0; i < in->nindexes; i++)
	{
		const EstIndex *ix = &in->indexes[i];
		double		entries = out->rows;
		double		bytes = -1;

		out->indexes_now += ix->bytes;
		if (ix->partial)
			entries = ix->reltuples >= 0 && table_rows > 0 ?
				out->rows * (ix->reltuples < table_rows ? ix->reltuples / table_rows : 1) : -1;
		if (strcmp(ix->am, "btree") == 0 && entries >= 0)
			bytes = btree_bytes(ix, in->block_size, entries);
		if (bytes < 0)
		{
			out->indexes_after += ix->bytes;
			out->indexes_unchanged++;
		}
		else
		{
			out->indexes_after += (long long) bytes;
			out->indexes_estimated++;
		}
	}
}

long long
estimate_reclaim(const SizeEstimate *e)
{
	long long	r;

	if (!e->known)
		return 0;
	r = (e->heap_now - e->heap_after) + (e->indexes_now - e->indexes_after);
	return r > 0 ? r : 0;
}

char *
estimate_describe(const SizeEstimate *e)
{
	char		reclaim[32];
	char		now[32];
	char		h0[32];
	char		h1[32];
	char		i0[32];
	char		i1[32];
	char		rows[32];
	long long	total_now = e->heap_now + e->indexes_now;
	long long	r = estimate_reclaim(e);
	StrBuf		sb;

	if (!e->known)
		return pgr_psprintf("no estimate of the space the rebuild gives back: %s", e->unknown_why);
	sb_init(&sb);
	format_bytes(r, reclaim, sizeof(reclaim));
	format_bytes(total_now, now, sizeof(now));
	/* under a tenth, the estimate's own error (docs/architecture.md) could be all of it */
	if (r < total_now / 10)
		sb_appendf(&sb, "expected to give back little: about %s of %s (the table is about as compact as a "
				   "rebuild would make it)", reclaim, now);
	else
		sb_appendf(&sb, "expected to give back about %s of %s", reclaim, now);
	sb_appendf(&sb, "; heap %s -> %s, indexes %s -> %s", format_bytes(e->heap_now, h0, sizeof(h0)),
			   format_bytes(e->heap_after, h1, sizeof(h1)), format_bytes(e->indexes_now, i0, sizeof(i0)),
			   format_bytes(e->indexes_after, i1, sizeof(i1)));
	sb_appendf(&sb, "; estimated from %s live rows (%s) of about %.0f bytes (%s), fillfactor %d",
			   format_count((long long) e->rows, rows, sizeof(rows)),
			   e->rows_source == EST_ROWS_ACTIVITY ? "pg_stat_all_tables" :
			   e->rows_source == EST_ROWS_RELTUPLES ? "pg_class.reltuples" : "the size and column types",
			   e->row_bytes, e->widths_from_stats ? "pg_stats" : "column types", e->fillfactor);
	if (e->indexes_unchanged > 0)
		sb_appendf(&sb, "; %d index%s counted as unchanged", e->indexes_unchanged,
				   e->indexes_unchanged == 1 ? "" : "es");
	if (e->toast_now > 0)
		sb_append(&sb, "; TOAST counted as unchanged");
	return sb_steal(&sb);
}

void
estimate_free(SizeEstimate *e)
{
	free(e->unknown_why);
	memset(e, 0, sizeof(*e));
}

/* ------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------ */

/* Fills col from a row of name, typlen, typalign, has_stats, avg_width, null_frac, n_distinct[, equalimage]. */
static void
column_from_row(EstColumn *col, const PGresult *res, int row, bool with_equalimage)
{
	char	   *a;

	col->name = res_text(res, row, 0);
	col->typlen = res_int4(res, row, 1);
	a = res_text(res, row, 2);
	col->typalign = a ? a[0] : 'i';
	free(a);
	col->has_stats = res_bool(res, row, 3);
	col->avg_width = res_float8(res, row, 4);
	col->null_frac = res_float8(res, row, 5);
	col->n_distinct = res_float8(res, row, 6);
	col->equalimage = with_equalimage && res_bool(res, row, 7);
}

/* The columns of res (rows as for column_from_row); takes res, false when it is NULL (a failed query). */
static bool
columns_from_result(PGresult *res, bool with_equalimage, EstColumn **cols, int *n)
{
	if (res == NULL)
		return false;
	*n = PQntuples(res);
	*cols = pgr_calloc((size_t) *n + 1, sizeof(EstColumn));
	for (int i = 0; i < *n; i++)
		column_from_row(&(*cols)[i], res, i, with_equalimage);
	PQclear(res);
	return true;
}

static bool
read_table(Conn *c, unsigned int oid, EstimateInput *in)
{
	PGresult   *res = conn_queryf(c,
								  "SELECT c.relpages::pg_catalog.int8, c.reltuples::pg_catalog.float8, "
								  "pg_catalog.pg_relation_size(c.oid)::pg_catalog.int8, "
								  "pg_catalog.current_setting('block_size')::pg_catalog.int4, "
								  "COALESCE((SELECT o.option_value FROM pg_catalog.pg_options_to_table(c.reloptions) o "
								  "  WHERE o.option_name = 'fillfactor')::pg_catalog.int4, 100), "
								  "COALESCE(s.n_tup_ins + s.n_tup_upd + s.n_tup_del + s.n_live_tup + s.n_dead_tup "
								  "  + s.vacuum_count + s.autovacuum_count + s.analyze_count + s.autoanalyze_count, 0) > 0, "
								  "COALESCE(s.n_live_tup, 0)::pg_catalog.float8, "
								  "CASE WHEN c.reltoastrelid <> 0 AND pg_catalog.pg_relation_size(c.reltoastrelid) > 0 "
								  "  THEN pg_catalog.pg_total_relation_size(c.reltoastrelid) ELSE 0 END::pg_catalog.int8 "
								  "FROM pg_catalog.pg_class c "
								  "LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid "
								  "WHERE c.oid = %oid", oid);

	if (res == NULL)
		return false;
	if (PQntuples(res) != 1)
	{
		PQclear(res);
		return false;
	}
	in->relpages = res_int8(res, 0, 0);
	in->reltuples = res_float8(res, 0, 1);
	in->heap_bytes = res_int8(res, 0, 2);
	in->block_size = res_int4(res, 0, 3);
	in->fillfactor = res_int4(res, 0, 4);
	in->has_activity = res_bool(res, 0, 5);
	in->n_live_tup = res_float8(res, 0, 6);
	in->toast_bytes = res_int8(res, 0, 7);
	PQclear(res);
	if (in->block_size <= 0)
		in->block_size = 8192;
	return true;
}

static bool
read_columns(Conn *c, unsigned int oid, EstimateInput *in)
{
	PGresult   *res = conn_queryf(c,
								  "SELECT a.attname::text, t.typlen::pg_catalog.int4, t.typalign::text, "
								  "s.avg_width IS NOT NULL, COALESCE(s.avg_width, 0)::pg_catalog.float8, "
								  "COALESCE(s.null_frac, 0)::pg_catalog.float8, COALESCE(s.n_distinct, 0)::pg_catalog.float8 "
								  "FROM pg_catalog.pg_attribute a "
								  "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
								  "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
								  "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
								  "LEFT JOIN pg_catalog.pg_stats s ON s.schemaname = n.nspname "
								  "  AND s.tablename = c.relname AND s.attname = a.attname AND NOT s.inherited "
								  "WHERE a.attrelid = %oid AND a.attnum > 0 AND NOT a.attisdropped "
								  "ORDER BY a.attnum", oid);

	return columns_from_result(res, false, &in->columns, &in->ncolumns);
}

/*
 * An index entry's columns: a plain column's statistics are the table's,
 * an expression's those ANALYZE keeps under the index's name.  A key whose
 * operator class has an equalimage support function (btree procedure 4) may
 * be deduplicated.
 */
static bool
read_index_columns(Conn *c, unsigned int index_oid, EstIndex *ix)
{
	PGresult   *res = conn_queryf(c,
								  "SELECT ia.attname::text, t.typlen::pg_catalog.int4, t.typalign::text, "
								  "COALESCE(ts.avg_width, xs.avg_width) IS NOT NULL, "
								  "COALESCE(ts.avg_width, xs.avg_width, 0)::pg_catalog.float8, "
								  "COALESCE(ts.null_frac, xs.null_frac, 0)::pg_catalog.float8, "
								  "COALESCE(ts.n_distinct, xs.n_distinct, 0)::pg_catalog.float8, "
								  "k.ord <= i.indnkeyatts AND EXISTS (SELECT 1 FROM pg_catalog.pg_opclass oc "
								  "  JOIN pg_catalog.pg_amproc p ON p.amprocfamily = oc.opcfamily "
								  "  AND p.amproclefttype = oc.opcintype AND p.amprocrighttype = oc.opcintype "
								  "  AND p.amprocnum = 4 WHERE oc.oid = i.indclass[k.ord - 1]) "
								  "FROM pg_catalog.pg_index i "
								  "CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(i.indkey::pg_catalog.int2[])) "
								  "  WITH ORDINALITY AS k(attnum, ord) "
								  "JOIN pg_catalog.pg_attribute ia ON ia.attrelid = i.indexrelid AND ia.attnum = k.ord "
								  "JOIN pg_catalog.pg_type t ON t.oid = ia.atttypid "
								  "JOIN pg_catalog.pg_class c ON c.oid = i.indrelid "
								  "JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
								  "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
								  "LEFT JOIN pg_catalog.pg_attribute ta ON ta.attrelid = i.indrelid "
								  "  AND ta.attnum = k.attnum AND k.attnum > 0 "
								  "LEFT JOIN pg_catalog.pg_stats ts ON k.attnum > 0 AND ts.schemaname = n.nspname "
								  "  AND ts.tablename = c.relname AND ts.attname = ta.attname AND NOT ts.inherited "
								  "LEFT JOIN pg_catalog.pg_stats xs ON k.attnum = 0 AND xs.schemaname = n.nspname "
								  "  AND xs.tablename = ic.relname AND xs.attname = ia.attname "
								  "WHERE i.indexrelid = %oid ORDER BY k.ord", index_oid);

	return columns_from_result(res, true, &ix->columns, &ix->ncolumns);
}

static bool
read_indexes(Conn *c, unsigned int oid, EstimateInput *in)
{
	PGresult   *res = conn_queryf(c,
								  "SELECT i.indexrelid, ic.relname::text, am.amname::text, i.indisunique, "
								  "i.indpred IS NOT NULL, i.indnkeyatts::pg_catalog.int4, "
								  "pg_catalog.pg_relation_size(i.indexrelid)::pg_catalog.int8, "
								  "ic.reltuples::pg_catalog.float8, "
								  "COALESCE((SELECT o.option_value FROM pg_catalog.pg_options_to_table(ic.reloptions) o "
								  "  WHERE o.option_name = 'fillfactor')::pg_catalog.int4, 0), "
								  "COALESCE((SELECT o.option_value FROM pg_catalog.pg_options_to_table(ic.reloptions) o "
								  "  WHERE o.option_name = 'deduplicate_items')::pg_catalog.bool, true) = false "
								  "FROM pg_catalog.pg_index i "
								  "JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
								  "JOIN pg_catalog.pg_am am ON am.oid = ic.relam "
								  "WHERE i.indrelid = %oid ORDER BY ic.relname", oid);
	unsigned int *oids;

	if (res == NULL)
		return false;
	in->nindexes = PQntuples(res);
	in->indexes = pgr_calloc((size_t) in->nindexes + 1, sizeof(EstIndex));
	oids = pgr_calloc((size_t) in->nindexes + 1, sizeof(unsigned int));
	for (int i = 0; i < in->nindexes; i++)
	{
		EstIndex   *ix = &in->indexes[i];

		oids[i] = res_oid(res, i, 0);
		ix->name = res_text(res, i, 1);
		ix->am = res_text(res, i, 2);
		ix->unique = res_bool(res, i, 3);
		ix->partial = res_bool(res, i, 4);
		ix->nkeys = res_int4(res, i, 5);
		ix->bytes = res_int8(res, i, 6);
		ix->reltuples = res_float8(res, i, 7);
		ix->fillfactor = res_int4(res, i, 8);
		ix->dedup_off = res_bool(res, i, 9);
	}
	PQclear(res);
	for (int i = 0; i < in->nindexes; i++)
		if (!read_index_columns(c, oids[i], &in->indexes[i]))
		{
			free(oids);
			return false;
		}
	free(oids);
	return true;
}

bool
estimate_read(Conn *c, unsigned int oid, EstimateInput *in)
{
	memset(in, 0, sizeof(*in));
	return read_table(c, oid, in) && read_columns(c, oid, in) && read_indexes(c, oid, in);
}

static void
free_columns(EstColumn *cols, int n)
{
	for (int i = 0; i < n; i++)
		free(cols[i].name);
	free(cols);
}

void
estimate_input_free(EstimateInput *in)
{
	free_columns(in->columns, in->ncolumns);
	for (int i = 0; i < in->nindexes; i++)
	{
		free(in->indexes[i].name);
		free(in->indexes[i].am);
		free_columns(in->indexes[i].columns, in->indexes[i].ncolumns);
	}
	free(in->indexes);
	memset(in, 0, sizeof(*in));
}
