/* test_ident.c: quoting and parsing of identifiers, literals, --order-by. */
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "tap.h"

/* is_str on a newly allocated string, which it then frees. */
#define is_str_free(got, expected, ...) \
	do \
	{ \
		char *got_ = (got); \
		is_str(got_, (expected), __VA_ARGS__); \
		free(got_); \
	} while (0)

static void
check_quote(void)
{
	is_str_free(ident_quote("abc"), "\"abc\"", "plain name is double-quoted");
	is_str_free(ident_quote("we\"ird"), "\"we\"\"ird\"", "embedded double quote is doubled");
	is_str_free(ident_quote("x\"; DROP TABLE t; --"), "\"x\"\"; DROP TABLE t; --\"",
				"injection attempt stays inside one identifier");
	is_str_free(ident_quote_qualified("My Schema", "Tâble"), "\"My Schema\".\"Tâble\"",
				"qualified name with space and non-ASCII letters");
}

static void
check_literal(void)
{
	is_str_free(ident_literal("it's"), "'it''s'", "single quote doubled");
	is_str_free(ident_literal("a\\b'c"), "E'a\\\\b''c'", "backslash makes an E'' literal with doubled backslash");
	is_str_free(ident_literal(""), "''", "empty literal");
}

static void
check_parse(void)
{
	char *s;
	char *n;
	char *err;

	ok(ident_parse_qualified("Public.Orders", &s, &n, &err), "schema.table parses");
	is_str(s, "public", "unquoted schema folded to lower case");
	is_str(n, "orders", "unquoted table folded to lower case");
	free(s);
	free(n);

	ok(ident_parse_qualified("\"My Schema\".\"We\"\"ird\"", &s, &n, &err), "quoted parts parse");
	is_str(s, "My Schema", "quoted schema keeps case and space");
	is_str(n, "We\"ird", "doubled quote becomes one");
	free(s);
	free(n);

	ok(ident_parse_qualified("  tâble  ", &s, &n, &err), "unqualified with spaces around");
	ok(s == NULL, "no schema for an unqualified name");
	is_str(n, "tâble", "non-ASCII letters kept, not folded");
	free(n);

	ok(!ident_parse_qualified("a.b.c", &s, &n, &err), "three parts refused");
	ok(err && strstr(err, "too many") != NULL, "message says too many parts: %s", err ? err : "");
	free(err);
	ok(!ident_parse_qualified("\"open", &s, &n, &err), "unterminated quote refused");
	free(err);
	ok(!ident_parse_qualified("x\"; DROP TABLE t; --", &s, &n, &err), "injection text refused as a name");
	free(err);
	ok(!ident_parse_qualified("", &s, &n, &err), "empty name refused");
	free(err);
	ok(!ident_parse_qualified("\"\"", &s, &n, &err), "zero-length quoted name refused");
	free(err);

	{
		char longname[100];

		memset(longname, 'a', 80);
		longname[80] = '\0';
		ok(ident_parse_qualified(longname, &s, &n, &err), "long name parses");
		is_int((long long) strlen(n), 63, "long name truncated to 63 bytes like the server");
		free(n);
	}
	ok(ident_parse_one("\"Col One\"", &n, &err), "one quoted identifier");
	is_str(n, "Col One", "its text");
	free(n);
	ok(!ident_parse_one("a b", &n, &err), "two words refused as one identifier");
	free(err);
}

static void
check_shell(void)
{
	is_str_free(ident_shell_quote("\"public\".\"it's\""), "'\"public\".\"it'\\''s\"'",
				"shell quoting closes, escapes and reopens around a quote");
	is_str_free(ident_shell_quote("a b;$(rm -rf /)"), "'a b;$(rm -rf /)'",
				"shell metacharacters stay inside single quotes");
}

static void
check_order_by(void)
{
	OrderItem *items;
	int		   n;
	char	  *err;
	char	  *sql;

	ok(ident_parse_order_by("a, \"B c\" DESC NULLS LAST, d nulls first", &items, &n, &err), "order-by parses");
	is_int(n, 3, "three items");
	sql = order_items_sql(items, n, NULL);
	is_str(sql, "\"a\", \"B c\" DESC NULLS LAST, \"d\" NULLS FIRST", "rendered with quoting");
	free(sql);
	order_items_free(items, n);

	ok(!ident_parse_order_by("a; DROP TABLE t", &items, &n, &err), "SQL after a column refused");
	free(err);
	ok(!ident_parse_order_by("a NULLS", &items, &n, &err), "NULLS without FIRST/LAST refused");
	free(err);
	ok(!ident_parse_order_by("lower(a)", &items, &n, &err), "expressions refused");
	free(err);
	ok(!ident_parse_order_by("", &items, &n, &err), "empty list refused");
	free(err);
}

int
main(void)
{
	check_quote();
	check_literal();
	check_parse();
	check_order_by();
	check_shell();
	return done_testing();
}
