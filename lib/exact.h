/*
 * exact.h: the space a rebuild would give back, measured rather than
 * estimated (--measure=exact): the heap with pgstattuple_approx (which
 * reads only the pages the visibility map does not say are all-visible),
 * each btree index with pgstatindex; other index methods and the TOAST
 * table are counted as unchanged, as the estimate does (estimate.h).
 *
 * It needs the pgstattuple extension in the database and the right to run
 * its functions (superuser, or a member of pg_stat_scan_tables).  The
 * arithmetic (exact_heap_after, exact_btree_after) is pure and unit-tested.
 */
#ifndef PGR_EXACT_H
#define PGR_EXACT_H

#include <stdbool.h>

#include "conn.h"
#include "estimate.h"

/*
 * The schema pgstattuple is installed in (newly allocated) in *schema, or
 * NULL when it is not installed.  False (the error kept in c) on a query
 * failure.
 */
bool exact_find_extension(Conn *c, char **schema) __attribute__((warn_unused_result));

/*
 * Measures table oid with the functions of pgstattuple in ext_schema and
 * fills *out as estimate_compute would (known, heap and indexes now and
 * after, rows).  False (the error kept in c) on a query failure.  Free out
 * with estimate_free.
 */
bool exact_measure(Conn *c, const char *ext_schema, unsigned int oid, SizeEstimate *out)
	__attribute__((warn_unused_result));

/*
 * The heap a rebuild would write: live tuples of tuple_bytes in all (their
 * headers included), tuples of them, each with its line pointer, packed into
 * pages of block_size to fillfactor.
 */
long long exact_heap_after(double tuples, double tuple_bytes, int fillfactor, int block_size);

/*
 * A btree index rebuilt: its leaf pages at avg_leaf_density percent full
 * repacked to fillfactor (90 by default), its internal pages and the
 * metapage as they are.
 */
long long exact_btree_after(long long leaf_pages, long long internal_pages, double avg_leaf_density,
							int fillfactor, int block_size);

#endif /* PGR_EXACT_H */
