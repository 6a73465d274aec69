/*
 * state.h: where a role keeps its runs, how pg_rebuild decides to trust it,
 * the record of runs and their objects, and the per-table advisory lock.
 *
 * Each role keeps its runs in its own schema, pgrebuild_<role OID>, owned by
 * that role and granted to nobody (docs/architecture.md, "Roles and state").
 * A run acts as its table's owner, so the state of a table's runs is in the
 * owner's schema; no other role can write it.  A database may also hold the
 * shared schema "pgrebuild" of format version 1, from an earlier release:
 * its dead runs are listed and cleaned up, and no new run uses it.
 *
 * Nothing read from a state schema is used before state_check_trust has
 * found it sound (every object owned by the schema's owner, no grant to
 * another role, no trigger, rule, policy, inheritance, nor any function,
 * operator or type outside pg_catalog), in the transaction that uses it,
 * with its tables locked so that no DDL can slip in between.  pg_rebuild
 * never calls a function of a state schema.
 *
 * Rules that make --cleanup possible:
 *  - every object a run creates is recorded by OID in <state>.run_objects in
 *    the same transaction that creates it, and carries the run's mark
 *    (objects.h);
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

/* A role's state schema is PGR_STATE_PREFIX followed by the role's OID. */
#define PGR_STATE_PREFIX "pgrebuild_"
/* The shared schema of format version 1 (earlier releases). */
#define PGR_LEGACY_SCHEMA "pgrebuild"
/* High 32 bits of every pg_rebuild advisory lock key ('pgrb'). */
#define PGR_LOCK_CLASS 0x70677262LL

/* The advisory lock key of runs on table oid. */
long long	state_lock_key(unsigned int table_oid);

/* The name of the state schema of the role with OID role_oid; newly allocated. */
char	   *state_schema_name(unsigned int role_oid);

/* A state schema, as the catalog describes it. */
typedef struct StateSchema
{
	char	   *name;
	unsigned int oid;
	unsigned int owner;			/* the role that owns it: runs recorded there act as it */
	char	   *owner_name;
	bool		legacy;			/* "pgrebuild", format version 1 */
	bool		can_act;		/* the current role may SET ROLE to its owner */
	int			nlogs;			/* log tables in it: runs are recorded there */
	bool		has_runs;		/* it has the tables runs and run_objects (a schema made empty for a
								 * role, by an administrator, has none until its first run) */
} StateSchema;

/*
 * Finds the state schema called name.  *found is false when there is no
 * such schema.  False (logged) on a query failure.  Free with
 * state_schema_free.
 */
bool		state_find_schema(Conn *c, const char *name, StateSchema *out, bool *found)
			__attribute__((warn_unused_result));
/*
 * Every state schema of the database: pgrebuild_<digits> and the format-1
 * "pgrebuild", ordered by name.  Free with state_free_schemas.
 */
bool		state_find_schemas(Conn *c, StateSchema **out, int *n) __attribute__((warn_unused_result));
void		state_schema_free(StateSchema *s);
void		state_free_schemas(StateSchema *s, int n);

/*
 * Appends to problems one line for each reason not to trust schema s
 * ("table pgrebuild_16384.runs has trigger t (not pg_rebuild's)", ...); an
 * empty list means it is sound.  Catalog reads only.  To rely on the
 * answer, call it in the transaction that uses the schema, after
 * state_lock_tables.  False (error kept in c) on a query failure.
 */
bool		state_check_trust(Conn *c, const StateSchema *s, StrVec *problems)
			__attribute__((warn_unused_result));

/*
 * In the caller's transaction: locks the state tables of s in mode ("ACCESS
 * SHARE" to read, "ROW EXCLUSIVE" to write: both keep out the DDL that could
 * add a trigger, a rule or a policy until the transaction ends), then
 * checks the schema (state_check_trust).  Returns false when it may not be
 * used: *problems then holds the reasons, or is empty after a query failure
 * (error kept in c).
 */
bool		state_lock_and_check(Conn *c, const StateSchema *s, const char *mode, StrVec *problems)
			__attribute__((warn_unused_result));

/*
 * Logs why schema s is not trusted (an error, one detail per problem) and
 * what to do, saying that nothing in it was used.
 */
void		state_report_untrusted(const StateSchema *s, const StrVec *problems);

/*
 * Makes sure the current role (the table's owner a run acts as, role_oid)
 * has a usable state schema, named name: creates it if missing (as the
 * current role when it may create schemas in the database, else as the
 * session user with AUTHORIZATION the current role), installs or upgrades
 * its objects (idempotent, safe against concurrent runs), refuses a schema
 * owned by another role or of another format.  False on failure (logged,
 * without a "Nothing was changed" line, which the caller prints).
 */
bool		state_install(Conn *c, const char *name, unsigned int role_oid) __attribute__((warn_unused_result));

/*
 * Revokes every grant on the relation (quoted qualified name) and on the
 * sequences it owns to any role but its owner: default privileges may have
 * granted a new table of a state schema to other roles.  In the caller's
 * transaction; false (error kept in c) on failure.
 */
bool		state_revoke_grants(Conn *c, const char *rel_q) __attribute__((warn_unused_result));

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
	char	   *schema_name;	/* the table's, when recorded */
	char	   *table_name;
	char	   *phase;
	int			backend_pid;	/* alive: the session holding its lock; dead: the last recorded */
	int			client_pid;		/* the pg_rebuild process; 0 when unknown (format 1) */
	char	   *client_host;	/* the machine it ran on; NULL when unknown */
	char	   *started;
	char	   *updated;
	bool		alive;
	char	   *state_schema;	/* where it is recorded */
	char	   *role;			/* the role it acted as (the state schema's owner) */
	bool		legacy;			/* recorded in the format-1 schema */
	bool		paused;			/* pg_rebuild --pause (format 3) */
	bool		swap_postponed; /* pg_rebuild --postpone-swap (format 3) */
	StrVec		objects;		/* "kind name" lines */
} RunInfo;

/*
 * Lists the runs recorded in s: all of them (relid 0 and table NULL), or
 * those of the table with OID relid or recorded under the name
 * schema.table (schema NULL: any).  Reads only: the caller has locked and
 * checked s in its transaction.  The caller frees with state_free_runs.
 */
bool		state_list_runs(Conn *c, const StateSchema *s, unsigned int relid, const char *schema,
							const char *table, RunInfo **runs, int *nruns) __attribute__((warn_unused_result));
void		state_free_runs(RunInfo *runs, int nruns);

/* One recorded object of a run, and what it is now. */
typedef struct RunObject
{
	char	   *recorded_kind;	/* as written in run_objects */
	bool		known_kind;		/* recorded_kind is one of objects.h (kind is then set) */
	ObjKind		kind;
	unsigned int recorded_oid;	/* as recorded (format 1: found by its name; 0 when not found) */
	char	   *recorded_schema;	/* schema_name and object_name as recorded */
	char	   *recorded_name;
	unsigned int oid;			/* recorded_oid when that object still exists, else 0 */
	char	   *schema;			/* its names now (as recorded when it is gone) */
	char	   *name;
	unsigned int table_oid;		/* triggers and foreign keys: their table */
	char	   *table_schema;
	char	   *table_name;
	unsigned int owner;			/* its owner now; a trigger's or a foreign key's: its table's */
	char	   *owner_name;
	char	   *mark;			/* its COMMENT now */
	char	   *what;			/* a relation's relkind, a constraint's contype */
	bool		flag;			/* function: a trigger still calls it; log: its capture function still
								 * exists; foreign key: still NOT VALID */
} RunObject;

/*
 * The objects recorded for run_id in s, in removal order (objects.h).
 * Format 1 recorded names only: each is found again by the name the run
 * gave it (derived from the run's table OID).  Free with
 * state_free_objects.
 */
bool		state_read_objects(Conn *c, const StateSchema *s, long long run_id, RunObject **objs, int *n)
			__attribute__((warn_unused_result));
void		state_free_objects(RunObject *objs, int n);

/*
 * Inserts the run's row, in the caller's transaction, with this process's
 * pid and host.  Returns the run id, or 0 on failure (not logged: the
 * caller reports).
 */
long long	state_create_run(Conn *c, const char *state_schema, unsigned int relid, const char *schema,
							 const char *table, const char *phase) __attribute__((warn_unused_result));
/*
 * Records an object just created, by its OID, in the caller's transaction
 * (it may be part of a batch).  name says which object: for a log, shadow
 * or old table its quoted qualified name, for the function its quoted
 * qualified name (no argument list), for a trigger or a foreign key its
 * (unquoted) name on the table table_q (quoted qualified; NULL for the
 * other kinds).  Fails (a NOT NULL violation) when no such object exists.
 */
bool		state_record(Conn *c, const char *state_schema, long long run_id, ObjKind kind, const char *name,
						 const char *table_q) __attribute__((warn_unused_result));
/* Forgets the object (oid 0: every object of that kind), in the caller's transaction. */
bool		state_forget(Conn *c, const char *state_schema, long long run_id, ObjKind kind, unsigned int oid)
			__attribute__((warn_unused_result));
/* Forgets o, as state_read_objects returned it (format 1 too), in the caller's transaction. */
bool		state_forget_object(Conn *c, const StateSchema *s, long long run_id, const RunObject *o)
			__attribute__((warn_unused_result));
/* Records the run's phase, its progress time and its current server session. */
bool		state_set_phase(Conn *c, const char *state_schema, long long run_id, const char *phase)
			__attribute__((warn_unused_result));
/* Deletes the run's record (its objects are gone), in the caller's transaction. */
bool		state_delete_run(Conn *c, const StateSchema *s, long long run_id) __attribute__((warn_unused_result));

#endif							/* PGR_STATE_H */
