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

#endif							/* PGR_INSTALL_H */
