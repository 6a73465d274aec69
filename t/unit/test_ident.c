/* test_ident.c: quoting and parsing of identifiers and literals. */
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "tap.h"

static void
check_quote(void)
{
	char	   *q;

	q = ident_quote("abc");
	is_str(q, "\"abc\"", "plain name is double-quoted");
	free(q);
	q = ident_quote("we\"ird");
	is_str(q, "\"we\"\"ird\"", "embedded double quote is doubled");
	free(q);
	q = ident_quote("x\"; DROP TABLE t; --");
	is_str(q, "\"x\"\"; DROP TABLE t; --\"", "injection attempt stays inside one identifier");
	free(q);
	q = ident_quote_qualified("My Schema", "Tâble");
	is_str(q, "\"My Schema\".\"Tâble\"", "qualified name with space and non-ASCII letters");
	free(q);
}

static void
check_literal(void)
{
	char	   *l;

	l = ident_literal("it's");
	is_str(l, "'it''s'", "single quote doubled");
	free(l);
	l = ident_literal("a\\b'c");
	is_str(l, "E'a\\\\b''c'", "backslash makes an E'' literal with doubled backslash");
	free(l);
	l = ident_literal("");
	is_str(l, "''", "empty literal");
	free(l);
}

static void
check_parse(void)
{
	char	   *s;
	char	   *n;
	char	   *err;

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
		char		longname[100];

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
	char	   *q = ident_shell_quote("\"public\".\"it's\"");

	is_str(q, "'\"public\".\"it'\\''s\"'", "shell quoting closes, escapes and reopens around a quote");
	free(q);
	q = ident_shell_quote("a b;$(rm -rf /)");
	is_str(q, "'a b;$(rm -rf /)'", "shell metacharacters stay inside single quotes");
	free(q);
}

static void
check_object_name(void)
{
	char *n;

	n = ident_object_name("orders", "customer_id", "not_null");
	is_str(n, "orders_customer_id_not_null", "short names are joined whole");
	free(n);
	/* 63 - 2 - 8 = 53 bytes for the names: the longer one gives way first */
	n = ident_object_name("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
						  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "not_null");
	is_str(n, "aaaaaaaaaaaaaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbb_not_null",
		   "long names are shortened as the server does (PostgreSQL 18 gave this name)");
	free(n);
	n = ident_object_name("tt", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
								"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
						  "not_null");
	/* 53 - 2 leaves 51 bytes for 2-byte characters: 50 are kept */
	is_int((long long) strlen(n), 3 + 50 + 9, "a multibyte name is cut between two characters");
	free(n);
}

int
main(void)
{
	check_quote();
	check_literal();
	check_parse();
	check_shell();
	check_object_name();
	return done_testing();
}
