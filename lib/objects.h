/*
 * objects.h: the kinds of object a run creates and records, the order in
 * which they are removed, and the statement that removes each (pure).
 *
 * The plan lists the finish's statements with these functions, the finish
 * and --cleanup run them from what the run recorded, and --dry-run prints
 * the plan's list: one generator, so what is printed is what runs.
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
