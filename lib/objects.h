/*
 * objects.h: the kinds of object a run creates and records, the names and
 * the mark a run gives them, the order in which they are removed, and the
 * statement that removes each (pure).
 *
 * The plan names the run's objects and lists the finish's statements with
 * these functions, the finish and --cleanup run them from what the run
 * recorded, and --dry-run prints the plan's list: one generator, so what is
 * printed is what runs, and what --cleanup accepts as a run's own is what a
 * run creates.
 *
 * An object is a run's own, and may be removed, only when all of these
 * hold (lib/cleanup.c checks them, in the transaction that removes it):
 *  - it is the object recorded by OID in the run's state schema;
 *  - its name is the one the run gives that kind for the run's table OID;
 *  - its owner is the state schema's owner (for a trigger: its table's);
 *  - it carries the run's mark, a COMMENT written when it was created
 *    (object_mark; foreign keys to validate carry none: validating one
 *    removes nothing).
 */
#ifndef PGR_OBJECTS_H
#define PGR_OBJECTS_H

#include <stdbool.h>

/* In the order they are removed: triggers first, foreign keys validated last. */
typedef enum ObjKind
{
	OBJ_TRIGGER,				/* on the table: pgrebuild_capture, pgrebuild_truncate */
	OBJ_CHECK,					/* on the table: a CHECK (c IS NOT NULL) of --method=in-place */
	OBJ_FUNCTION,				/* the capture function */
	OBJ_LOG,					/* the log table */
	OBJ_SHADOW,					/* the shadow table, before the swap */
	OBJ_OLD,					/* the old table, after the swap */
	OBJ_VALIDATE,				/* a foreign key re-added NOT VALID by the swap */
	OBJ_COUNT
} ObjKind;

/* The name recorded in run_objects.kind ("trigger", "function", ...). */
const char *object_kind_recorded(ObjKind k);
bool		object_kind_from_recorded(const char *s, ObjKind *k);
/* For messages: "trigger", "function", "log table", "shadow table", ... */
const char *object_kind_noun(ObjKind k);

/* The names of the two triggers a run puts on its table. */
#define PGR_CAPTURE_TRIGGER "pgrebuild_capture"
#define PGR_TRUNCATE_TRIGGER "pgrebuild_truncate"

/*
 * The name a run gives its object of kind k for the table with OID relid
 * ("pgrebuild_new_16384", "log_16384", "capture_16384", ...), newly
 * allocated; NULL for triggers (two fixed names) and foreign keys (the
 * user's names).
 */
char	   *object_name(ObjKind k, unsigned int relid);
/* Whether name is a name a run gives an object of kind k for table relid. */
bool		object_name_matches(ObjKind k, unsigned int relid, const char *name);
/*
 * The mark (the text of a COMMENT) a run puts on its object of kind k for
 * table relid, newly allocated; NULL for OBJ_VALIDATE, which carries none.
 */
char	   *object_mark(ObjKind k, unsigned int relid);

/*
 * The statement that removes the object (for OBJ_VALIDATE: validates the
 * foreign key), newly allocated.  schema.name is the object; for a trigger
 * or a foreign key, tschema.tname is its table.
 */
char	   *object_finish_sql(ObjKind k, const char *schema, const char *name, const char *tschema,
							  const char *tname);
/* The lock that statement takes, for --dry-run. */
const char *object_finish_lock(ObjKind k);

#endif							/* PGR_OBJECTS_H */
