/*
 * state.h: the tool schema, the record of runs and their objects, the
 * per-table advisory lock, and removing what a run left behind.
 *
 * Rules that make --cleanup possible:
 *  - every object a run creates is recorded in <tool schema>.run_objects in
 *    the same transaction that creates it;
 *  - a run holds a session advisory lock on its table for its whole life, so
 *    a run whose lock nobody holds is dead;
 *  - cleanup drops in a fixed order (triggers, function, log, shadow, old)
 *    and forgets each object in the transaction that drops it.
 */
#ifndef PGR_STATE_H
#define PGR_STATE_H

#include <stdbool.h>

#include "conn.h"
#include "objects.h"
#include "str.h"

#define PGR_TOOL_SCHEMA "pgrebuild"
/* High 32 bits of every pg_rebuild advisory lock key ('pgrb'). */
#define PGR_LOCK_CLASS 0x70677262LL

/* The advisory lock key of runs on table oid. */
long long	state_lock_key(unsigned int table_oid);

/*
 * Creates the tool schema and its objects if missing (idempotent, safe
 * against concurrent runs); refuses a schema of another format version.
 */
bool		state_install(Conn *c, const char *tool_schema) __attribute__((warn_unused_result));
/* Whether the tool schema exists (and so may hold runs). */
bool		state_schema_exists(Conn *c, const char *tool_schema, bool *exists) __attribute__((warn_unused_result));

/*
 * Tries to take the table's session advisory lock.  *got says whether it
 * was taken; false only on a query failure (logged).
 */
bool		state_try_lock(Conn *c, long long key, bool *got) __attribute__((warn_unused_result));
void		state_unlock(Conn *c, long long key);
/* "pid 123, user u, from host h, since 12:00:01" for whoever holds key. */
char	   *state_describe_holder(Conn *c, long long key);

typedef struct RunInfo
{
	long long	run_id;
	unsigned int relid;
	char	   *schema_name;
	char	   *table_name;
	long long	lock_key;
	char	   *phase;
	int			pid;
	char	   *started;
	char	   *updated;
	bool		alive;
	StrVec		objects;		/* "kind name" lines */
} RunInfo;

/*
 * Lists the recorded runs, all of them or those of one table by name (schema
 * or table NULL: any).  The caller frees with state_free_runs.
 */
bool		state_list_runs(Conn *c, const char *tool_schema, const char *schema, const char *table,
							RunInfo **runs, int *nruns) __attribute__((warn_unused_result));
void		state_free_runs(RunInfo *runs, int nruns);

/*
 * Inserts the run's row; runs in the caller's transaction.  Returns the
 * run id, or 0 on failure (not logged: the caller reports).
 */
long long	state_create_run(Conn *c, const char *tool_schema, unsigned int relid, const char *schema,
							 const char *table, long long key, const char *phase) __attribute__((warn_unused_result));
/* Records an object, in the caller's transaction. */
bool		state_record(Conn *c, const char *tool_schema, long long run_id, ObjKind kind,
						 const char *schema, const char *name, const char *table_schema,
						 const char *table_name) __attribute__((warn_unused_result));
/* Forgets an object, in the caller's transaction. */
bool		state_forget(Conn *c, const char *tool_schema, long long run_id, ObjKind kind,
						 const char *schema, const char *name) __attribute__((warn_unused_result));
bool		state_set_phase(Conn *c, const char *tool_schema, long long run_id, const char *phase) __attribute__((warn_unused_result));

#endif							/* PGR_STATE_H */
