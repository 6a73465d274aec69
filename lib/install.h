/*
 * install.h: the install phase.
 *
 * Creates the tool schema's objects if missing (state.h), then in one
 * transaction under --lock-timeout: the run's record, the log table, the
 * capture function and the triggers on the table (SHARE ROW EXCLUSIVE),
 * each object recorded in the same transaction.  A lock timeout rolls it
 * all back; it is tried again with backoff until --wait-timeout, naming the
 * sessions in the way.
 */
#ifndef PGR_INSTALL_H
#define PGR_INSTALL_H

#include <stdbool.h>

#include "run.h"

bool		install_phase(Run *r) __attribute__((warn_unused_result));

/*
 * The acting role's state schema, created if missing and checked, into
 * r->state (state.h).  False (logged) when it cannot be used.
 */
bool		install_state(Run *r) __attribute__((warn_unused_result));

/*
 * Begins the transaction that records the run (in phase p) and creates its
 * first objects: BEGIN under --lock-timeout, the state schema locked and
 * checked, the run's row (r->run_id).  False on failure: the caller rolls
 * back (r->state_untrusted when the schema was found unsound, logged).
 */
bool		install_begin_run(Run *r, Phase p) __attribute__((warn_unused_result));

#endif							/* PGR_INSTALL_H */
