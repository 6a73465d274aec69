/*
 * preflight.h: the first phase of a run: checks and refusals, then the plan.
 *
 * In this order: the server (version, not a standby, not read-only), the
 * table's OID and owner (the role must be it or a member of it: the run
 * acts as it), the table's pg_rebuild lock (one run per table), then, in
 * one REPEATABLE READ snapshot under ACCESS SHARE: the table's description,
 * its kind, the owner's state schema (its own and sound, or creatable),
 * dead runs of it, its replay key and indexes, the requested changes
 * (changes.h), the objects around it (dependents.h), the plan (plan.h),
 * every name the run will create and the rights it needs to, and the data
 * the changes need (no NULL in a column that becomes NOT NULL).  Nothing is
 * changed in the database.
 */
#ifndef PGR_PREFLIGHT_H
#define PGR_PREFLIGHT_H

#include <stdbool.h>

#include "run.h"

/*
 * The server may serve job (NULL: a rebuild; else "pg_rebuild --status",
 * ...): not a standby (which cannot tell a live run from a dead one), and,
 * when the job writes, not refusing writes (default_transaction_read_only,
 * a provider's maintenance mode).  False after logging why, ending with
 * "Nothing was changed." and a hint.
 */
bool		preflight_check_server(Conn *c, const char *job, bool writes) __attribute__((warn_unused_result));

/*
 * Connects r->main, reads and checks the table and makes r->plan and
 * r->dplan.  False when the run must not go on (the reason was logged,
 * ending with "Nothing was changed.").
 */
bool		preflight_run(Run *r) __attribute__((warn_unused_result));

#endif							/* PGR_PREFLIGHT_H */
