/*
 * index.h: the index phase.
 *
 * Builds the shadow's indexes on the worker connections (one build per
 * connection at a time, --jobs of them), then in one transaction the
 * constraints that use them (primary key, unique, exclusion), CLUSTER mark,
 * replica identity and comments; then, under --lock-timeout with retries,
 * the dependents that must exist before the replay (foreign keys of the
 * table, added NOT VALID; extended statistics).  Takes no lock on the table.
 */
#ifndef PGR_INDEX_H
#define PGR_INDEX_H

#include <stdbool.h>

#include "run.h"

bool		index_phase(Run *r) __attribute__((warn_unused_result));

#endif							/* PGR_INDEX_H */
