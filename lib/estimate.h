/*
 * estimate.h: how big a table and its indexes would be if rebuilt now, and so
 * how much space a rebuild would give back, from what the catalog and the
 * statistics views already hold: no scan, no extension, no superuser.
 *
 * Reading (estimate_read) is apart from the arithmetic (estimate_compute),
 * which is pure and unit-tested.  The method and its expected error are in
 * docs/architecture.md ("Estimating the space a rebuild gives back"):
 *   - live rows: pg_stat_all_tables.n_live_tup (kept current by every
 *     write), else pg_class.reltuples scaled to the current size, else the
 *     size divided by a row width from the column types;
 *   - the heap: rows of the average width pg_stats gives each column (with
 *     its NULL fraction and alignment), tuple headers and line pointers,
 *     packed into pages to the table's fillfactor;
 *   - each btree index: entries of its keys' average width packed to its
 *     fillfactor (90 by default), deduplication of repeated keys (from
 *     n_distinct), the internal levels and the metapage;
 *   - other index methods, the TOAST table and the free space and
 *     visibility maps are counted as unchanged.
 */
#ifndef PGR_ESTIMATE_H
#define PGR_ESTIMATE_H

#include <stdbool.h>

#include "conn.h"

/* A column of the rebuilt table, or a column of an index entry. */
typedef struct EstColumn
{
	char	   *name;
	int			typlen;			/* pg_type.typlen: > 0 fixed, -1 varlena, -2 cstring */
	char		typalign;		/* 'c', 's', 'i', 'd' */
	bool		has_stats;		/* pg_stats has a row for it */
	double		avg_width;		/* pg_stats.avg_width: of the non-NULL values, as stored */
	double		null_frac;
	double		n_distinct;		/* pg_stats.n_distinct: > 0 a count, < 0 a fraction of the rows */
	bool		equalimage;		/* an index key whose operator class allows deduplication */
} EstColumn;

typedef struct EstIndex
{
	char	   *name;
	char	   *am;				/* "btree", "gist", ... */
	bool		unique;
	bool		partial;
	bool		dedup_off;		/* WITH (deduplicate_items = off) */
	int			fillfactor;		/* 0: the method's default */
	int			nkeys;			/* key columns, then INCLUDE columns up to ncolumns */
	int			ncolumns;
	EstColumn  *columns;
	long long	bytes;			/* pg_relation_size now */
	double		reltuples;		/* pg_class.reltuples of the index, -1 unknown */
} EstIndex;

typedef struct EstimateInput
{
	int			block_size;
	long long	heap_bytes;		/* pg_relation_size now (main fork) */
	long long	relpages;		/* pg_class.relpages (as of the last VACUUM or ANALYZE) */
	double		reltuples;		/* pg_class.reltuples, -1 unknown */
	bool		has_activity;	/* pg_stat_all_tables counts writes or maintenance */
	double		n_live_tup;
	int			fillfactor;		/* the table's, 100 by default */
	int			ncolumns;		/* the rebuilt table's columns (not the dropped ones) */
	EstColumn  *columns;
	int			nindexes;
	EstIndex   *indexes;
	long long	toast_bytes;	/* the TOAST table and its index, 0 when it holds nothing; counted as unchanged */
} EstimateInput;

typedef enum EstRowsSource
{
	EST_ROWS_ACTIVITY,			/* pg_stat_all_tables.n_live_tup */
	EST_ROWS_RELTUPLES,			/* pg_class.reltuples, scaled to the current size */
	EST_ROWS_SIZE				/* the size and the column types: never vacuumed or analyzed */
} EstRowsSource;

typedef struct SizeEstimate
{
	double		rows;
	EstRowsSource rows_source;
	bool		known;			/* heap_after (and so the reclaim) could be estimated */
	char	   *unknown_why;	/* when not known: why (newly allocated), e.g. a column without statistics */
	double		row_bytes;		/* the average heap tuple, header and line pointer included */
	bool		widths_from_stats;	/* pg_stats gave a column's width (else the types alone) */
	int			fillfactor;
	long long	heap_now;
	long long	heap_after;
	long long	indexes_now;
	long long	indexes_after;	/* the estimated ones, plus the others as they are */
	int			indexes_estimated;	/* btree indexes with statistics for every column */
	int			indexes_unchanged;	/* the others, counted as they are */
	long long	toast_now;		/* counted as unchanged */
} SizeEstimate;

/*
 * Reads what the estimate needs about table oid on c (pg_class, pg_stats,
 * pg_stat_all_tables, pg_index, pg_amproc).  False on a query failure (the
 * error is kept in c; nothing is logged: the caller decides whether an
 * estimate is worth an error).  Free with estimate_input_free, whatever it
 * returned.
 */
bool		estimate_read(Conn *c, unsigned int oid, EstimateInput *in) __attribute__((warn_unused_result));
void		estimate_input_free(EstimateInput *in);

/* The estimate, from in alone.  Free with estimate_free. */
void		estimate_compute(const EstimateInput *in, SizeEstimate *out);
void		estimate_free(SizeEstimate *e);

/* The space the rebuild is expected to give back (now - after, at least 0). */
long long	estimate_reclaim(const SizeEstimate *e);

/*
 * One line for the user: how much space the rebuild is expected to give
 * back, and from what (or why there is no estimate).  Newly allocated.
 */
char	   *estimate_describe(const SizeEstimate *e);

#endif							/* PGR_ESTIMATE_H */
