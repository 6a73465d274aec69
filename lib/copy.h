/*
 * copy.h: the copy phase.  Rows go from the table to the shadow table on the
 * server (INSERT ... SELECT), never through the client.
 *
 * The workers copy ranges of blocks (ctid ranges, PostgreSQL 14 and later),
 * each range one statement in its own transaction under its own snapshot:
 * no snapshot lives for the whole copy, so VACUUM elsewhere in the database
 * goes on removing dead rows.  A row unchanged since the capture trigger was
 * installed is copied exactly once; a row changed meanwhile may be copied
 * twice (two versions of one key) or not at all, and its key is logged: the
 * reconcile (replay.h) makes the shadow equal to the table at one snapshot
 * before any unique index is built.  With --order-by, or before PostgreSQL
 * 14, the copy is one sorted statement (one snapshot for the whole copy).
 */
#ifndef PGR_COPY_H
#define PGR_COPY_H

#include <stdbool.h>

#include "catalog.h"
#include "conn.h"
#include "plan.h"
#include "pool.h"
#include "throttle.h"

typedef struct CopyResult
{
	long long rows;
	long long blocks;
	int		  chunks;
	bool	  throttle_failed; /* stopped by --max-replica-lag's check (logged) */
} CopyResult;

typedef struct Run Run;

/*
 * The copy phase: (re)creates the shadow table, recorded in the same
 * transaction (a shadow left by an interrupted copy is dropped first, so a
 * copy can start over), then copies the rows with copy_run on the --jobs
 * worker connections.
 */
bool		copy_phase(Run *r) __attribute__((warn_unused_result));

/*
 * Copies the table into the shadow.  workers are open connections (at
 * least one) with the table owner's role; coord reads the table's size.
 * An ordered copy (plan->copy_order_by) is one statement on the first
 * worker: rows inserted by several connections at once would interleave in
 * the heap.  On failure the error is in *failed and
 * false is returned; the shadow may hold part of the rows (it is dropped by
 * cleanup).  Between chunks it keeps to th (throttle.h, begun by the
 * caller), reading the replication lag on coord.
 */
bool			   copy_run(Conn *coord, Conn **workers, int nworkers, const TableDesc *t, const Plan *plan,
							Throttle *th, PoolTickFn tick, void *tick_arg, CopyResult *out,
							Conn **failed) __attribute__((warn_unused_result));

/*
 * The ctid ranges for nblocks blocks: returns the number of chunks and sets
 * *chunk_blocks.  Pure, for unit tests.
 */
int			copy_chunking(long long nblocks, int nworkers, long long *chunk_blocks);

#endif							/* PGR_COPY_H */
