/* test_estimate.c: the arithmetic of the size estimate, against PostgreSQL's page layout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimate.h"
#include "exact.h"
#include "tap.h"

static EstColumn
fixed(const char *name, int len, char align)
{
	return (EstColumn) {.name = (char *) name, .typlen = len, .typalign = align};
}

static EstColumn
analyzed(const char *name, int len, char align, double width, double null_frac, double n_distinct)
{
	return (EstColumn) {.name = (char *) name, .typlen = len, .typalign = align, .has_stats = true,
		.avg_width = width, .null_frac = null_frac, .n_distinct = n_distinct, .equalimage = true};
}

int
main(void)
{
	EstColumn	two_bigints[2] = {fixed("id", 8, 'd'), fixed("val", 8, 'd')};
	EstColumn	pk_key[1] = {analyzed("id", 8, 'd', 8, 0, -1)};
	EstColumn	grp_key[1] = {analyzed("grp", 4, 'i', 4, 0, 10)};
	EstIndex	indexes[3] = {
		{.name = "t_pkey", .am = "btree", .unique = true, .nkeys = 1, .ncolumns = 1, .columns = pk_key,
		.bytes = 1000000, .reltuples = 10000},
		{.name = "t_grp", .am = "btree", .nkeys = 1, .ncolumns = 1, .columns = grp_key, .bytes = 500000,
		.reltuples = 10000},
		{.name = "t_gist", .am = "gist", .nkeys = 1, .ncolumns = 1, .columns = grp_key, .bytes = 300000,
		.reltuples = 10000},
	};
	EstimateInput in = {
		.block_size = 8192, .heap_bytes = 400 * 8192, .relpages = 400, .reltuples = 10000,
		.has_activity = true, .n_live_tup = 10000, .fillfactor = 100, .ncolumns = 2, .columns = two_bigints,
		.nindexes = 1, .indexes = indexes,
	};
	SizeEstimate e;
	char	   *d;

	/* two bigints: tuples of MAXALIGN(24 + 16) = 40 bytes and a 4-byte line pointer, 185 to a page */
	estimate_compute(&in, &e);
	ok(e.known, "fixed-width columns need no statistics");
	is_int((long long) e.rows, 10000, "live rows from pg_stat_all_tables");
	is_int((long long) e.row_bytes, 44, "a row of two bigints takes 44 bytes with its line pointer");
	is_int(e.heap_after, 55 * 8192LL, "10,000 such rows fill 55 pages (185 a page)");
	/* a unique int8 btree: 16-byte entries, 365 to a leaf at fillfactor 90, 28 leaves, a root, a metapage */
	is_int(e.indexes_after, 30 * 8192LL, "its primary key is 30 pages, as PostgreSQL builds it");
	is_int(estimate_reclaim(&e), 400 * 8192LL - 55 * 8192LL + 1000000 - 30 * 8192LL, "what it gives back");
	d = estimate_describe(&e);
	ok(strstr(d, "expected to give back about 3.41 MB of 4.08 MB; heap 3.12 MB -> 440 kB, indexes 977 kB -> 240 kB; "
			   "estimated from 10,000 live rows (pg_stat_all_tables) of about 44 bytes (column types), fillfactor 100") != NULL,
	   "described (%s)", d);
	free(d);
	estimate_free(&e);

	in.fillfactor = 50;
	estimate_compute(&in, &e);
	is_int(e.heap_after, 109 * 8192LL, "fillfactor 50: 92 rows a page, 109 pages");
	estimate_free(&e);
	in.fillfactor = 100;

	/* a compact table */
	in.heap_bytes = 55 * 8192LL;
	indexes[0].bytes = 30 * 8192LL;
	estimate_compute(&in, &e);
	d = estimate_describe(&e);
	ok(estimate_reclaim(&e) == 0 && strstr(d, "expected to give back little"), "a compact table: little (%s)", d);
	free(d);
	estimate_free(&e);

	/* deduplication: 10 distinct keys in 10,000 entries take a few pages, not 28 */
	in.nindexes = 2;
	estimate_compute(&in, &e);
	ok(e.indexes_after - 30 * 8192LL <= 12 * 8192LL && e.indexes_after - 30 * 8192LL >= 4 * 8192LL,
	   "a non-unique index with 10 distinct keys is deduplicated (%lld pages)",
	   (e.indexes_after - 30 * 8192LL) / 8192);
	estimate_free(&e);
	indexes[1].dedup_off = true;
	estimate_compute(&in, &e);
	is_int(e.indexes_after - 30 * 8192LL, 30 * 8192LL, "deduplicate_items = off: as many pages as unique");
	estimate_free(&e);
	indexes[1].dedup_off = false;

	/* other methods are counted as they are */
	in.nindexes = 3;
	estimate_compute(&in, &e);
	ok(e.indexes_unchanged == 1 && e.indexes_estimated == 2, "a gist index is counted as unchanged");
	d = estimate_describe(&e);
	ok(strstr(d, "1 index counted as unchanged") != NULL, "and said (%s)", d);
	free(d);
	estimate_free(&e);
	in.nindexes = 1;

	/* row counts without activity statistics */
	in.has_activity = false;
	in.relpages = 10;
	in.reltuples = 1850;
	in.heap_bytes = 20 * 8192LL;
	estimate_compute(&in, &e);
	ok(e.rows_source == EST_ROWS_RELTUPLES && (long long) e.rows == 3700,
	   "reltuples scaled to the current size (%.0f)", e.rows);
	estimate_free(&e);
	in.relpages = 0;
	in.reltuples = -1;
	estimate_compute(&in, &e);
	ok(e.rows_source == EST_ROWS_SIZE && (long long) e.rows == 20 * 185,
	   "never vacuumed or analyzed: full pages of rows of the column types' width (%.0f)", e.rows);
	estimate_free(&e);

	/* a variable-width column without statistics: rows yes, no heap estimate */
	{
		EstColumn	cols[2] = {fixed("id", 8, 'd'), {.name = "doc", .typlen = -1, .typalign = 'i'}};

		in.columns = cols;
		estimate_compute(&in, &e);
		ok(!e.known && e.rows > 0, "a text column never analyzed: rows estimated, the heap not");
		d = estimate_describe(&e);
		ok(strstr(d, "no estimate of the space the rebuild gives back: column doc has no statistics") != NULL &&
		   strstr(d, "ANALYZE the table") != NULL, "and it says why (%s)", d);
		free(d);
		estimate_free(&e);

		/* analyzed: short varlena values are not aligned, NULLs add the bitmap */
		cols[1] = analyzed("doc", -1, 'i', 33, 0.5, -0.5);
		in.has_activity = true;
		estimate_compute(&in, &e);
		ok(e.known, "analyzed: estimated");
		/*
		 * header 24 (23 + 1 bitmap byte), 8 + 0.5 * 33 = 24.5 data, 3.5 padding on average, 4 line
		 * pointer: rows with doc take MAXALIGN(24 + 41) = 72, rows without 32, 52 on average
		 */
		ok(e.row_bytes == 56, "rows of 24 + 24.5 + 3.5 + 4 bytes (%.2f)", e.row_bytes);
		estimate_free(&e);
		in.columns = two_bigints;
	}
	/* --measure=exact's arithmetic (exact.h) */
	is_int(exact_heap_after(1000, 1000 * 36.0, 100, 8192), 8192 * 5,
		   "exact heap: 1000 tuples of 36 bytes and their line pointers fit 5 pages");
	is_int(exact_heap_after(1000, 1000 * 36.0, 50, 8192), 8192 * 10, "exact heap: fillfactor 50 doubles it");
	is_int(exact_heap_after(0, 0, 100, 8192), 0, "exact heap: no tuple, no page");
	is_int(exact_btree_after(100, 1, 45.0, 0, 8192), 8192 * (50 + 1 + 1),
		   "exact btree: leaves at 45%% repacked to 90%%, plus the internal page and the metapage");
	is_int(exact_btree_after(10, 1, NAN, 0, 8192), 8192 * 12, "exact btree: an empty index as it is");
	return done_testing();
}
