/*
 * dependents.h: the objects around the table that a rename swap must carry
 * over or rewire, read from pg_catalog (swap-checklist items 10-19, 27, 28,
 * 31).  They are read at preflight (for the plan, the refusals and --dry-run)
 * and again inside the swap transaction, where their definitions are
 * captured under the old name and re-run after the renames, so they bind to
 * the new table by name (no string rewriting).
 */
#ifndef PGR_DEPENDENTS_H
#define PGR_DEPENDENTS_H

#include <stdbool.h>

#include "catalog.h"
#include "conn.h"
#include "str.h"

typedef enum DepKind
{
	DEP_VIEW,					/* a view reading the table, or a view on such a view (depth > 1):
								 * CREATE OR REPLACE VIEW, or DROP and CREATE when a column it uses
								 * changes type */
	DEP_FUNCTION,				/* SQL-standard body or PL/pgSQL naming the table: CREATE OR REPLACE */
	DEP_TRIGGER,				/* a user trigger on the table: CREATE TRIGGER + enabled state */
	DEP_RULE,					/* a rule on the table: CREATE RULE + enabled state */
	DEP_OTHER_RULE,				/* a rule of another table mentioning it: CREATE OR REPLACE RULE */
	DEP_POLICY,					/* a policy on the table: CREATE POLICY */
	DEP_OTHER_POLICY,			/* a policy of another table mentioning it: ALTER POLICY */
	DEP_PUBLICATION,			/* membership: ALTER PUBLICATION ADD TABLE (cols) WHERE (...) */
	DEP_FK_OUT,					/* a foreign key of the table: re-added NOT VALID, validated after */
	DEP_FK_SELF,				/* a foreign key of the table to itself: re-added in the swap */
	DEP_FK_IN,					/* a foreign key of another table to it: dropped and re-added in the swap */
	DEP_STATISTICS,				/* an extended statistics object: built on the shadow, renamed in the swap */
	DEP_PARENT					/* an inheritance parent: NO INHERIT / INHERIT in the swap */
} DepKind;

/*
 * One dependent.  The first fields hold the same thing for every kind; the
 * others are each read for the kinds named, and stay 0 or NULL for the rest.
 * Strings are owned by the Dependents (dependents_free).
 */
typedef struct DepObject
{
	DepKind		kind;
	unsigned int oid;
	char	   *name;			/* raw name (trigger, rule, policy, constraint, statistics, publication) */
	char	   *qname;			/* quoted, qualified name for messages and SQL (view, function, statistics, publication, parent) */
	char	   *owner;
	bool		can_own;		/* the run's role may act as its owner */
	char	   *def;			/* the captured definition (policies: the USING expression, NULL if none) */
	char	   *comment;

	/* the other table: of another table's rule or policy, of a foreign key, the parent */
	char	   *rel_q;			/* quoted, qualified */
	char	   *rel_schema;		/* FK in: the referencing table, raw names */
	char	   *rel_name;
	bool		rel_partitioned;	/* FK in: the referencing table is partitioned */

	char		enabled;		/* triggers, rules: tgenabled / ev_enabled */
	bool		validated;		/* foreign keys: convalidated */
	char	   *view_options;	/* views: "name='value', ..." for WITH (...), NULL if none */
	char		policy_cmd;		/* policies: polcmd ('*', 'r', 'a', 'w', 'd') */
	bool		permissive;		/* policies: PERMISSIVE, else RESTRICTIVE */
	char	   *roles;			/* policies: quoted role list, NULL = PUBLIC */
	char	   *with_check;		/* policies: the WITH CHECK expression, NULL if none */
	char	   *pub_columns;	/* publications: quoted column list, NULL = all */
	char	   *pub_where;		/* publications: row filter, NULL if none */
	int			stattarget;		/* statistics: the statistics target, -1 if not set */
	char	   *stats_schema;	/* statistics: the object's schema, raw */
	char	   *stats_prefix;	/* statistics: the "CREATE STATISTICS <name> " pg_get_statisticsobjdef prints */

	/* views, read with the whole chain of views on the table (dependents.c) */
	int			depth;			/* views: 1 reads the table, 2 reads such a view, ... */
	char	   *attnums;		/* views: the table's columns it reads, "{1,3}" */
	char	   *view_deps;		/* views: the views of the chain it reads, "{16500}" */
	char	   *grants;			/* views: GRANT statements that give its privileges again */
	char	   *comments;		/* views: COMMENT statements for it and its columns */
	char	   *relkind_note;	/* views: what stands in the way of re-creating it, or NULL */
} DepObject;

typedef struct Dependents
{
	DepObject  *items;
	int			n;
} Dependents;

/* Reads them; false (logged) on failure.  Free with dependents_free. */
bool		dependents_read(Conn *c, const TableDesc *t, Dependents *d) __attribute__((warn_unused_result));
void		dependents_free(Dependents *d);
/* A canonical text of all of them (names, definitions, states), for the fingerprint. */
char	   *dependents_canonical_text(const Dependents *d);
/*
 * Adds a refusal for each dependent that cannot be carried over (an owner
 * the run cannot act as, a partitioned referencing table before PG 18).
 */
void		dependents_refusals(const Dependents *d, int server_version, StrVec *problems);
const char *dependents_kind_name(DepKind k);

#endif							/* PGR_DEPENDENTS_H */
