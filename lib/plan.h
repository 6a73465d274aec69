/*
 * plan.h: the rebuild as SQL, generated from the table's description and
 * the requested changes.  Pure: no connection, no I/O, so every statement can
 * be unit-tested and printed by --dry-run exactly as it would run.
 *
 * Object names are deterministic, derived from the table's OID, so that a
 * killed run's leftovers can be found and removed by --cleanup:
 *   shadow table   <schema>.pgrebuild_new_<oid>
 *   old table      <schema>.pgrebuild_old_<oid>          (after the swap)
 *   log table      <state schema>.log_<oid>
 *   capture func   <state schema>.capture_<oid>()
 *   triggers       pgrebuild_capture, pgrebuild_truncate  (on the table)
 *   reconcile idx  <schema>.pgrebuild_k<key index oid>    (copy to index phase, on the shadow)
 *   new indexes    <schema>.pgrebuild_i<index oid>        (until the swap)
 *   old indexes    <schema>.pgrebuild_old_i<index oid>    (after the swap)
 *   identity seqs  <schema>.pgrebuild_seq_<oid>_<attnum>, old ones pgrebuild_oldseq_<oid>_<attnum>
 *   statistics     <its schema>.pgrebuild_st<oid>, old ones pgrebuild_old_st<oid>
 * (objects.h names the recorded ones); plan_reserved_names lists them all.
 * The run's recorded objects carry its mark (objects.h), a COMMENT: the
 * shadow until the swap gives the table its own comment back, the old table
 * from the swap on.
 */
#ifndef PGR_PLAN_H
#define PGR_PLAN_H

#include <stdbool.h>

#include "catalog.h"
#include "changes.h"
#include "dependents.h"
#include "ident.h"
#include "objects.h"
#include "str.h"

/* One statement and the lock it takes, for --dry-run and --echo. */
typedef struct PlanStmt
{
	char	   *sql;
	char	   *lock;
} PlanStmt;

typedef struct StmtList
{
	PlanStmt   *items;
	int			n;
	int			cap;
} StmtList;

typedef struct PlanInput
{
	const TableDesc *table;
	const ChangeSet *changes;	/* may be NULL: none */
	const char *tool_schema;
	long long	lock_key;		/* advisory lock key of runs on this table */
	const char *db_tablespace;	/* the database's default tablespace: the shadow names it when the
								 * table is there (NULL: say none) */
	int			lock_timeout_ms;	/* one lock attempt */
	int			server_version;
	bool		throwaway;		/* an empty copy to try --alter on (alter.h): no autovacuum setting */
	bool		keep_old;		/* --keep-old or --archive-old: the swap leaves the old table's rows (the
								 * finish archives them, drops its foreign keys) */
	bool		keep_old_table; /* --keep-old: the finish does not drop the old table */
} PlanInput;

typedef struct Plan
{
	/* names, raw and quoted */
	char	   *shadow_name;
	char	   *shadow_q;
	char	   *old_name;
	char	   *old_q;
	char	   *log_name;
	char	   *log_q;
	char	   *log_id_q;		/* the log's own id column (never a key column's name) */
	char	   *func_name;
	char	   *func_q;
	const char *capture_trigger;
	const char *truncate_trigger;

	StmtList	install;		/* log table, capture function, triggers: one transaction */
	char	   *drop_shadow;	/* a shadow left by an interrupted copy, before the copy starts over */
	StmtList	shadow;			/* CREATE TABLE and column settings: one transaction */
	char	   *copy_sql;		/* INSERT ... SELECT ... FROM ONLY t (chunk predicate appended) */
	char	   *copy_select;	/* its SELECT ... FROM ONLY t, which preflight has the server check */
	char	   *copy_order_by;	/* " ORDER BY <list>" (changes_row_order), or NULL */
	char	   *reconcile_index;	/* the replay key's index without UNIQUE, for the reconcile */
	char	   *reconcile_drop; /* its DROP, first in the transaction of the constraints */
	StmtList	indexes;		/* one build each, independent of each other */
	StmtList	constraints;	/* after the builds: constraints on the indexes, comments, ... */
	char	   *replay_delete;	/* $1 = highest log id of the batch */
	char	   *replay_insert;
	char	   *replay_trim;
	char	   *replay_key_check;	/* when a key column changes type: a query planning the match, or NULL */
	/*
	 * Finding the row a change cannot be applied to (replay.h): the rows
	 * (ctid, key as text) whose keys are logged, then all rows; and the
	 * copy of one row (ctid in the PL/pgSQL variable r.c) into
	 * pg_temp.pgrebuild_probe, made LIKE the shadow.
	 */
	char	   *probe_rows_logged;
	char	   *probe_rows_all;
	char	   *probe_insert;
	char	   *analyze;		/* ANALYZE of the shadow, before the swap */
	char	   *lock_timeout;	/* SET LOCAL lock_timeout = <--lock-timeout> */
	char	   *guard_lock;		/* the holder's SHARE UPDATE EXCLUSIVE, install to swap */
	char	   *swap_lock;		/* the swap's ACCESS EXCLUSIVE */
	StmtList	swap;			/* after LOCK and the final replay: triggers, sequences, renames */
	StmtList	grants;			/* then: privileges and flags of the new table */
	StmtList	finish;			/* after COMMIT of the swap, in the order of objects.h */
	int			n_copy_columns;
} Plan;

void		stmts_add(StmtList *l, const char *lock, const char *fmt, ...) PGR_PRINTF(3, 4);
void		stmts_free(StmtList *l);

/*
 * Builds the plan.  Returns false and sets *err (newly allocated) when the
 * table has a shape this version cannot reproduce.  The caller frees the
 * plan with plan_free.
 */
bool		plan_build(const PlanInput *in, Plan *plan, char **err);
void		plan_free(Plan *plan);

/*
 * What the swap does to the objects around the table (dependents.h), in
 * four moments.
 */
typedef struct DepPlan
{
	StmtList	prepare;		/* before the replay: outgoing foreign keys NOT VALID, statistics */
	StmtList	before_renames; /* in the swap: locks on referencing tables, publications */
	StmtList	after_renames;	/* in the swap: re-create, re-point, rename */
	StmtList	validate;		/* after the swap: VALIDATE CONSTRAINT */
} DepPlan;

/*
 * Generates the statements for the dependents d.  False with *err (newly
 * allocated) when a definition has an unexpected shape.
 */
bool		plan_dependents(const PlanInput *in, const Plan *p, const Dependents *d, DepPlan *out,
							char **err);
void		dep_plan_free(DepPlan *dp);

/*
 * Which views of d (flags, one per item of d, false for other kinds) must be
 * dropped and re-created in the swap: those that read a column whose type
 * or collation changes, and the views on them.  CREATE OR REPLACE VIEW
 * cannot change a column's type.
 */
void		plan_views_to_recreate(const PlanInput *in, const Dependents *d, bool *flags);

/* The names of the shadow table and of the old table after the swap (newly allocated). */
char	   *plan_shadow_name(unsigned int table_oid);
char	   *plan_old_name(unsigned int table_oid);

/*
 * Every name the run will create, or rename something to, for preflight to
 * check that each is free before anything is created: one entry per name
 * in the three vectors, kinds[i] being "relation", "type", "function" or
 * "statistics object", in schemas[i].
 */
void		plan_reserved_names(const PlanInput *in, const Plan *p, const Dependents *d, StrVec *kinds,
								StrVec *schemas, StrVec *names);

/* The name of the new index that will replace index oid until the swap. */
char	   *plan_temp_index_name(unsigned int index_oid);

/*
 * Rewrites pg_get_indexdef output "CREATE [UNIQUE] INDEX <name> ON <table>
 * USING ..." to build the same index under new_name on target (both already
 * quoted).  Returns NULL when the text does not have the expected shape.
 */
char	   *plan_rewrite_indexdef(const char *def, const char *expect_name, const char *expect_table,
								  const char *new_name_q, const char *target_q);

/*
 * A dollar-quoting tag that does not occur in body ("$pgrebuild$", or with a
 * number added).  Newly allocated.
 */
char	   *plan_dollar_tag(const char *body);

#endif							/* PGR_PLAN_H */
