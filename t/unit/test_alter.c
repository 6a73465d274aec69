/* test_alter.c: splitting --alter at its top-level commas, and what a catalog difference means. */
#include <stdlib.h>
#include <string.h>

#include "alter.h"
#include "sqllex.h"
#include "tap.h"

static char *
s(const char *v)
{
	return v ? strdup(v) : NULL;
}

/* Splits text and joins the pieces with " | ". */
static char *
split(const char *text)
{
	StrVec v;
	char  *err = NULL;
	char  *out;

	sv_init(&v);
	if (!sqllex_split(text, &v, &err))
		out = pgr_psprintf("error: %s", err);
	else
		out = sv_join(&v, " | ");
	free(err);
	sv_free(&v);
	return out;
}

#define SPLITS(text, expect, name) \
	do \
	{ \
		char *r_ = split(text); \
		is_str(r_, expect, name); \
		free(r_); \
	} while (0)

static void
test_split(void)
{
	SPLITS("ALTER COLUMN id TYPE bigint", "ALTER COLUMN id TYPE bigint", "one subcommand");
	SPLITS(" ALTER COLUMN a TYPE numeric(12,2) , DROP COLUMN b ",
		   "ALTER COLUMN a TYPE numeric(12,2) | DROP COLUMN b", "a comma inside parentheses does not split");
	SPLITS("ADD CONSTRAINT c CHECK (k <> ','), SET (fillfactor=70, autovacuum_enabled=off)",
		   "ADD CONSTRAINT c CHECK (k <> ',') | SET (fillfactor=70, autovacuum_enabled=off)",
		   "nor a comma in a string or a parameter list");
	SPLITS("ALTER a TYPE text USING a || ',' || E'\\',', DROP x",
		   "ALTER a TYPE text USING a || ',' || E'\\',' | DROP x", "an escaped quote in E'' does not end the string");
	SPLITS("ALTER a TYPE text USING $q$,$q$ || a, DROP x", "ALTER a TYPE text USING $q$,$q$ || a | DROP x",
		   "dollar quotes");
	SPLITS("ALTER \"a,b\" TYPE text, DROP x -- a, comment\n", "ALTER \"a,b\" TYPE text | DROP x -- a, comment",
		   "quoted names and comments");
	SPLITS("ALTER a TYPE int[] USING ARRAY[a, 1], DROP /* x, /* nested, */ y */ z",
		   "ALTER a TYPE int[] USING ARRAY[a, 1] | DROP /* x, /* nested, */ y */ z", "brackets and nested comments");
	SPLITS("ALTER a TYPE int USING $1", "ALTER a TYPE int USING $1", "$1 is no dollar quote");
	SPLITS("DROP a; DROP TABLE t", "error: it holds a semicolon: give subcommands of one ALTER TABLE, separated by commas",
		   "a semicolon is refused");
	SPLITS("DROP a,", "error: it ends with a comma", "a trailing comma");
	SPLITS("DROP a,, DROP b", "error: it has an empty subcommand", "an empty subcommand");
	SPLITS("ADD CHECK (a > 0", "error: a parenthesis is not closed", "unbalanced");
	SPLITS("SET DEFAULT 'x", "error: a quoted string or name is not closed", "unterminated string");
	SPLITS("DROP a /* x", "error: a comment is not closed", "unterminated comment");
	SPLITS("   ", "error: it is empty", "empty");

	is_int(sqllex_find_keyword("ALTER c TYPE jsonb USING c::jsonb", "using"), 19, "USING found");
	is_int(sqllex_find_keyword("ALTER \"using\" TYPE int", "USING"), -1, "a quoted name is not the keyword");
	is_int(sqllex_find_keyword("ALTER c TYPE t USING f('USING', (using_x))", "USING"), 15,
		   "the first bare one, before strings and parentheses");
	is_int(sqllex_find_keyword("SET DEFAULT 'a USING b'", "USING"), -1, "not inside a string");
	is_int(sqllex_find_keyword("ALTER c TYPE t /* USING */ USING 1", "USING"), 27, "not inside a comment");
}

/* A table with columns a (int, attnum 1), b (text, 2), c (int, 4). */
static void
make_table(TableDesc *t)
{
	memset(t, 0, sizeof(*t));
	t->oid = 100;
	t->schema = s("public");
	t->name = s("t");
	t->qname = s("\"public\".\"t\"");
	t->ncolumns = 3;
	t->columns = calloc(3, sizeof(ColumnDesc));
	t->columns[0].attnum = 1;
	t->columns[0].name = s("a");
	t->columns[1].attnum = 2;
	t->columns[1].name = s("b");
	t->columns[2].attnum = 4;
	t->columns[2].name = s("c");
	t->nindexes = 1;
	t->indexes = calloc(1, sizeof(IndexDesc));
	t->indexes[0].oid = 200;
	t->indexes[0].name = s("t_c_idx");
	t->key_index = -1;
}

static bool
classify(const TableDesc *t, AlterDiff *d, int nd, const char *using_expr, ChangeSet *cs, char **effect,
		 char **error)
{
	return alter_classify(t, d, nd, using_expr, "--alter 'x'", cs, effect, error);
}

static void
test_classify(void)
{
	TableDesc t;
	ChangeSet cs;
	char	 *effect;
	char	 *error;

	make_table(&t);

	changes_init(&cs);
	{
		AlterDiff d[] = {
			{"col:00001:default", "0", "'0'::bigint"},
			{"col:00001:type", "integer", "bigint"},
			{"index:pgrebuild_i200", "CREATE INDEX ... (a)", "CREATE INDEX ... (a) "},
		};

		ok(classify(&t, d, 3, NULL, &cs, &effect, &error), "a type change explains its default and its index");
		is_str(effect, "type of \"a\": integer -> bigint", "the type change is described");
		ok(changes_for(&cs, "a") && strcmp(changes_for(&cs, "a")->new_type, "bigint") == 0, "and recorded");
		ok(cs.alter_other, "more than NOT NULL");
		free(effect);
	}
	changes_free(&cs);

	changes_init(&cs);
	{
		AlterDiff d[] = {{"col:00002:type", "text", "jsonb"}};

		ok(classify(&t, d, 1, "b::jsonb", &cs, &effect, &error), "a type change with USING");
		is_str(changes_for(&cs, "b")->using_expr, "b::jsonb", "the USING expression is recorded");
		free(effect);
	}
	changes_free(&cs);

	changes_init(&cs);
	{
		AlterDiff d[] = {{"col:00004:not null", "false", "true"}};

		ok(classify(&t, d, 1, NULL, &cs, &effect, &error), "SET NOT NULL");
		ok(changes_for(&cs, "c")->set_not_null, "recorded as NOT NULL");
		ok(changes_only_not_null(&cs), "nothing but NOT NULL");
		is_str(effect, "\"c\" becomes NOT NULL", "described");
		free(effect);
	}
	changes_free(&cs);

	/* PostgreSQL 18: a dropped NOT NULL column takes its NOT NULL constraint along */
	changes_init(&cs);
	{
		AlterDiff d[] = {{"col:00004:dropped", "false", "true"},
						 {"col:00004:name", "c", NULL},
						 {"col:00004:not null", "true", NULL},
						 {"constraint:t_c_not_null", "n NOT NULL c valid=true", NULL}};

		ok(classify(&t, d, 4, NULL, &cs, &effect, &error), "DROP COLUMN of a NOT NULL column on 18 (%s)",
		   error ? error : "ok");
		ok(changes_for(&cs, "c")->drop, "recorded as a drop");
		free(effect);
		free(error);
		error = NULL;
	}
	changes_free(&cs);

	/* PostgreSQL 18: the NOT NULL constraint's name, given or chosen by the server for the copy */
	changes_init(&cs);
	{
		AlterDiff d[] = {{"col:00004:not null", "false", "true"},
						 {"constraint:c_given", NULL, "n NOT NULL c valid=true"}};

		ok(classify(&t, d, 2, NULL, &cs, &effect, &error), "ADD CONSTRAINT c_given NOT NULL c");
		is_str(changes_for(&cs, "c")->not_null_name, "c_given", "the given name is kept");
		free(effect);
	}
	changes_free(&cs);
	changes_init(&cs);
	{
		AlterDiff d[] = {{"col:00004:not null", "false", "true"},
						 {"constraint:pgrebuild_new_100_c_not_null1", NULL, "n NOT NULL c valid=true"}};

		ok(classify(&t, d, 2, NULL, &cs, &effect, &error), "SET NOT NULL on 18");
		ok(changes_for(&cs, "c")->not_null_name == NULL, "the name the server gave the copy is not kept");
		free(effect);
	}
	changes_free(&cs);
	changes_init(&cs);
	{
		AlterDiff d[] = {{"col:00004:not null", "false", "true"},
						 {"constraint:c_later", NULL, "n NOT NULL c NOT VALID valid=false"}};

		ok(!classify(&t, d, 2, NULL, &cs, &effect, &error), "a NOT VALID NOT NULL is refused");
		free(error);
		error = NULL;
	}
	changes_free(&cs);

	changes_init(&cs);
	{
		AlterDiff d[] = {
			{"col:00004:dropped", "false", "true"},
			{"col:00004:name", "c", NULL},
			{"col:00004:type", "integer", NULL},
		};

		ok(classify(&t, d, 3, NULL, &cs, &effect, &error), "DROP COLUMN");
		ok(changes_for(&cs, "c")->drop, "recorded as a drop");
		free(effect);
	}
	changes_free(&cs);

	/* refusals */
	changes_init(&cs);
	{
		AlterDiff d[] = {
			{"col:00004:dropped", "false", "true"},
			{"index:pgrebuild_i200", "CREATE INDEX ...", NULL},
		};

		ok(!classify(&t, d, 2, NULL, &cs, &effect, &error), "a drop that takes an index along is refused");
		is_str(error, "it drops index \"t_c_idx\" along with the column: drop it first if that is meant",
			   "naming the table's index, not the copy's");
		free(error);
	}
	changes_free(&cs);

	changes_init(&cs);
	{
		AlterDiff d[] = {{"col:00005:dropped", NULL, "false"}, {"col:00005:name", NULL, "z"}};

		ok(!classify(&t, d, 2, NULL, &cs, &effect, &error), "ADD COLUMN is refused");
		is_str(error, "it adds a column (\"z\")", "naming the column");
		free(error);
	}
	changes_free(&cs);

	changes_init(&cs);
	{
		AlterDiff d[] = {{"col:00001:name", "a", "aa"}};

		ok(!classify(&t, d, 1, NULL, &cs, &effect, &error), "RENAME COLUMN is refused");
		is_str(error, "it renames column \"a\" to \"aa\"", "said so");
		free(error);
	}
	changes_free(&cs);

	changes_init(&cs);
	{
		AlterDiff d[] = {{"col:00001:not null", "true", "false"}};

		ok(!classify(&t, d, 1, NULL, &cs, &effect, &error), "DROP NOT NULL is refused");
		free(error);
	}
	changes_free(&cs);

	changes_init(&cs);
	{
		AlterDiff d[] = {{"constraint:u", NULL, "u UNIQUE (a) valid=true"}, {"index:u", NULL, "CREATE ..."}};

		ok(!classify(&t, d, 2, NULL, &cs, &effect, &error), "ADD CONSTRAINT UNIQUE is refused");
		is_str(error, "it adds constraint \"u\", which is not a CHECK constraint", "said so");
		free(error);
	}
	changes_free(&cs);

	changes_init(&cs);
	{
		AlterDiff d[] = {{"rel:persistence", "p", "u"}};

		ok(!classify(&t, d, 1, NULL, &cs, &effect, &error), "SET UNLOGGED is refused");
		is_str(error, "it changes LOGGED / UNLOGGED", "said so");
		free(error);
	}
	changes_free(&cs);

	changes_init(&cs);
	ok(!classify(&t, NULL, 0, "a + 1", &cs, &effect, &error), "a USING without a type change is refused");
	free(error);
	ok(classify(&t, NULL, 0, NULL, &cs, &effect, &error), "a subcommand that changes nothing is accepted");
	is_str(effect, "changes nothing", "and said to change nothing");
	free(effect);
	changes_free(&cs);

	catalog_free_table(&t);
}

int
main(void)
{
	test_split();
	test_classify();
	return done_testing();
}
