/*
 * catalog.h: what pg_rebuild knows about the table, read from pg_catalog.
 *
 * The description is read once at preflight and again inside the swap
 * transaction; the two are compared through their fingerprint, so DDL that
 * slipped in between makes the swap roll back.  All text read here (types,
 * default expressions, index and constraint definitions) is deparsed by the
 * server under search_path = pg_catalog, so every name in it is
 * schema-qualified.
 */
#ifndef PGR_CATALOG_H
#define PGR_CATALOG_H

#include <stdbool.h>

#include "conn.h"
#include "str.h"

typedef struct ColumnDesc
{
	int			attnum;
	char	   *name;
	char	   *type;			/* format_type(), qualified */
	char	   *collation;		/* quoted "schema"."name" when not the type's default, else NULL */
	bool		notnull;
	char	   *default_expr;	/* NULL if none */
	char		identity;		/* 'a' ALWAYS, 'd' BY DEFAULT, 0 */
	char		generated;		/* 's' STORED, 0 */
	char	   *sequence;		/* owned (serial) or identity sequence, quoted qualified; NULL if none */
	char	   *sequence_schema;	/* raw names of that sequence */
	char	   *sequence_name;
	char	   *identity_options;	/* "AS bigint START WITH 1 INCREMENT BY 1 ..." for identity */
	char		storage;		/* attstorage */
	char		type_storage;	/* typstorage: the default */
	char		compression;	/* attcompression, 0 if default */
	int			stattarget;		/* -1 = default */
	char	   *attoptions;		/* "n_distinct=100, ..." or NULL */
	char	   *comment;
	/*
	 * PostgreSQL 18 keeps NOT NULL as a named constraint (pg_constraint,
	 * contype 'n'); before 18 the name is NULL.  attnotnull (notnull above)
	 * is true for a NOT VALID one too, whose rows may still hold NULLs.
	 */
	char *notnull_name;
	bool  notnull_invalid;	 /* NOT VALID */
	bool  notnull_noinherit; /* NO INHERIT */
	char *notnull_comment;
} ColumnDesc;

typedef struct IndexDesc
{
	unsigned int oid;
	char	   *name;
	char	   *def;			/* pg_get_indexdef */
	char	   *def_prefix_name;	/* what pg_get_indexdef prints for the name and table */
	char	   *def_prefix_table;
	bool		primary;
	bool		unique;
	bool		valid;
	bool		clustered;
	bool		replident;
	bool		partial;
	bool		expressions;
	int			nkeys;
	bool		keys_notnull;	/* all key columns NOT NULL */
	char	  **key_columns;	/* nkeys names, when no expressions */
	char	  **key_ops;		/* their btree equality operators, "schema".= */
	bool		key_ops_known;
	char		contype;		/* 'p', 'u', 'x' or 0 */
	char	   *conname;
	char		*condef; /* pg_get_constraintdef for 'x' and temporal 'p'/'u' (18): made from it */
	bool		deferrable;
	bool		deferred;
	char	   *tablespace;		/* NULL = the database default */
	char	   *comment;
	char	   *con_comment;
} IndexDesc;

typedef struct CheckDesc
{
	char	   *name;
	char	   *def;			/* pg_get_constraintdef: "CHECK (...)" [NO INHERIT] [NOT VALID] */
	bool		validated;
	char	   *comment;
} CheckDesc;

typedef struct GrantDesc
{
	char	   *grantee;		/* role name, or NULL for PUBLIC */
	char	   *privilege;		/* SELECT, INSERT, ... */
	char	   *column;			/* NULL for a table privilege */
	bool		grantable;
} GrantDesc;

typedef struct TableDesc
{
	unsigned int oid;
	char	   *schema;
	char	   *name;
	char	   *qname;			/* "schema"."name" */
	char	   *qname_deparsed; /* as the server's deparser prints it (quote_ident) */
	char	   *owner;
	bool		owner_is_current;	/* current_user is the owner */
	bool		can_act_as_owner;	/* member of the owner role */
	char		relkind;
	char		persistence;	/* 'p', 'u', 't' */
	bool		is_partition;
	bool		is_typed;
	char	   *access_method;	/* NULL when heap (the default) */
	char	   *reloptions;		/* "fillfactor"='70', ... in the array's order, or NULL */
	bool		autovacuum_set; /* autovacuum_enabled is one of them */
	char	   *toast_reloptions;	/* "toast.name"='value', ... likewise */
	char	   *tablespace;		/* NULL = database default */
	char	   *comment;
	char		replident;		/* relreplident */
	bool		rls_enabled;
	bool		rls_forced;
	double		reltuples;
	long long	heap_bytes;
	long long	total_bytes;
	long long	relpages;

	ColumnDesc *columns;
	int			ncolumns;
	IndexDesc  *indexes;
	int			nindexes;
	CheckDesc  *checks;
	int			nchecks;
	GrantDesc  *grants;
	int			ngrants;

	int			key_index;		/* index in indexes[] of the replay key, -1 if none */

	/* The index marked for CLUSTER: filled by catalog_read_cluster_order only. */
	char	   *cluster_am;		/* its access method; NULL when no index is marked */
	char	   *cluster_order;	/* its order as an ORDER BY list; NULL when the method has none */
} TableDesc;

/*
 * Resolves the table named by schema (may be NULL: search the connection's
 * default search_path) and name.  Returns the OID, 0 if there is no such
 * table, or -1 after an error was logged.
 */
long long	catalog_resolve_table(Conn *c, const char *schema, const char *name,
								  char **found_schema) __attribute__((warn_unused_result));

/* Reads the description; false (logged) on failure.  The caller frees it. */
bool		catalog_read_table(Conn *c, unsigned int oid, TableDesc *t) __attribute__((warn_unused_result));
void		catalog_free_table(TableDesc *t);

/*
 * Appends to problems one line for each thing that depends on the table
 * (or its row type) and cannot be carried through a rename swap
 * (materialized views, row-type users, inheritance children, ...).  With
 * at_swap (the safety net inside the swap, on the old table), anything but
 * the old table's own parts counts.  False (logged) on a query failure.
 */
bool		catalog_unsupported_dependents(Conn *c, const TableDesc *t, const char *tool_schema,
										   bool at_swap, StrVec *problems) __attribute__((warn_unused_result));

/*
 * Reads the order of the index marked for CLUSTER, if any, into
 * t->cluster_am and t->cluster_order: for a btree index, each key (column
 * or expression, as pg_get_indexdef prints it) with its collation, and ASC /
 * DESC for the default operator class or USING its ordering operator for
 * another one, and NULLS FIRST / LAST where not the default.  False (logged)
 * on a query failure.
 */
bool		catalog_read_cluster_order(Conn *c, TableDesc *t) __attribute__((warn_unused_result));

/* A canonical text of everything read, for the fingerprint. */
char	   *catalog_canonical_text(const TableDesc *t);
/* The column by name, or NULL. */
const ColumnDesc *catalog_find_column(const TableDesc *t, const char *name);

#endif							/* PGR_CATALOG_H */
