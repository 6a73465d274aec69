/* objects.c: the objects a run records, and the statements that remove them. */
#include "objects.h"

#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "str.h"

static const struct
{
	const char *recorded;
	const char *noun;
	const char *lock;
}			kinds[OBJ_COUNT] = {
	[OBJ_TRIGGER] = {"trigger", "trigger", "ACCESS EXCLUSIVE on the table, under lock_timeout"},
	[OBJ_CHECK] = {"check", "CHECK constraint", "ACCESS EXCLUSIVE on the table, under lock_timeout"},
	[OBJ_FUNCTION] = {"function", "function", "none on the table"},
	[OBJ_LOG] = {"log", "log table", "ACCESS EXCLUSIVE on the log table only"},
	[OBJ_SHADOW] = {"shadow", "shadow table", "ACCESS EXCLUSIVE on the shadow table only"},
	[OBJ_OLD] = {"old", "old table", "ACCESS EXCLUSIVE on the old table only, under lock_timeout"},
	[OBJ_VALIDATE] = {"validate", "foreign key", "SHARE UPDATE EXCLUSIVE on the referencing table, "
	"ROW SHARE on the referenced table"},
};

const char *
object_kind_recorded(ObjKind k)
{
	return kinds[k].recorded;
}

bool
object_kind_from_recorded(const char *s, ObjKind *k)
{
	for (int i = 0; i < OBJ_COUNT; i++)
		if (strcmp(kinds[i].recorded, s) == 0)
		{
			*k = (ObjKind) i;
			return true;
		}
	return false;
}

const char *
object_kind_noun(ObjKind k)
{
	return kinds[k].noun;
}

char *
object_name(ObjKind k, unsigned int relid)
{
	switch (k)
	{
		case OBJ_FUNCTION:
			return pgr_psprintf("capture_%u", relid);
		case OBJ_LOG:
			return pgr_psprintf("log_%u", relid);
		case OBJ_SHADOW:
			return pgr_psprintf("pgrebuild_new_%u", relid);
		case OBJ_OLD:
			return pgr_psprintf("pgrebuild_old_%u", relid);
		default:
			return NULL;
	}
}

bool
object_name_matches(ObjKind k, unsigned int relid, const char *name)
{
	char	   *want;
	bool		same;

	if (name == NULL)
		return false;
	if (k == OBJ_TRIGGER)
		return strcmp(name, PGR_CAPTURE_TRIGGER) == 0 || strcmp(name, PGR_TRUNCATE_TRIGGER) == 0;
	if (k == OBJ_CHECK)
	{
		/* pgrebuild_nn_<relid>_<attnum> (inplace.c) */
		char	   *prefix = pgr_psprintf("pgrebuild_nn_%u_", relid);
		size_t		n = strlen(prefix);

		same = strncmp(name, prefix, n) == 0 && name[n] != '\0' && strspn(name + n, "0123456789") == strlen(name + n);
		free(prefix);
		return same;
	}
	want = object_name(k, relid);
	same = want != NULL && strcmp(want, name) == 0;
	free(want);
	return same;
}

char *
object_mark(ObjKind k, unsigned int relid)
{
	if (k == OBJ_VALIDATE || k >= OBJ_COUNT)
		return NULL;
	return pgr_psprintf("pg_rebuild %s of table %u", kinds[k].noun, relid);
}

const char *
object_finish_lock(ObjKind k)
{
	return kinds[k].lock;
}

char *
object_finish_sql(ObjKind k, const char *schema, const char *name, const char *tschema, const char *tname)
{
	char	   *obj = ident_quote_qualified(schema, name);
	char	   *table = tschema && tname ? ident_quote_qualified(tschema, tname) : NULL;
	char	   *nq = ident_quote(name);
	char	   *sql;

	switch (k)
	{
		case OBJ_TRIGGER:
			sql = pgr_psprintf("DROP TRIGGER %s ON %s", nq, table);
			break;
		case OBJ_FUNCTION:
			sql = pgr_psprintf("DROP FUNCTION IF EXISTS %s()", obj);
			break;
		case OBJ_VALIDATE:
			sql = pgr_psprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s", table, nq);
			break;
		case OBJ_CHECK:
			sql = pgr_psprintf("ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s", table, nq);
			break;
		case OBJ_OLD:
			sql = pgr_psprintf("DROP TABLE IF EXISTS %s RESTRICT", obj);
			break;
		default:
			sql = pgr_psprintf("DROP TABLE IF EXISTS %s", obj);
			break;
	}
	free(obj);
	free(table);
	free(nq);
	return sql;
}
