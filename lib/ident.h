/*
 * ident.h: quoting and parsing of SQL identifiers and literals, with no
 * server round trip, so that the DDL generator stays pure and testable.
 *
 * Quoting always double-quotes (as PQescapeIdentifier does): the result is
 * correct whatever the name holds, including upper case, spaces, quotes and
 * non-ASCII letters.  All returned strings are newly allocated; the caller
 * frees them.
 */
#ifndef PGR_IDENT_H
#define PGR_IDENT_H

#include <stdbool.h>

#include "str.h"

#define PGR_NAMEDATALEN 64 /* PostgreSQL's NAMEDATALEN */

/* "name" with embedded double quotes doubled. */
char *ident_quote(const char *name);
/*
 * The name as the server prints it in messages: bare when it is a plain
 * lower-case identifier, quoted otherwise (keywords are not checked: for
 * display only, never for SQL).
 */
char *ident_display(const char *name);
/* "schema"."name" */
char *ident_quote_qualified(const char *schema, const char *name);
/* Appends the quoted identifier to sb. */
void  ident_append(StrBuf *sb, const char *name);
void  ident_append_qualified(StrBuf *sb, const char *schema, const char *name);

/*
 * A string literal safe whatever standard_conforming_strings says:
 * 'it''s', or E'a\\b' when the text holds a backslash.
 */
char *ident_literal(const char *text);

/*
 * Parses a possibly schema-qualified name as SQL does: unquoted parts are
 * folded to lower case (ASCII only), quoted parts keep their case and may
 * hold anything ("" stands for one quote).  *schema is set to NULL when the
 * name is unqualified.  Names longer than 63 bytes are truncated, as the
 * server does.  On failure returns false and sets *err to a message.
 */
bool  ident_parse_qualified(const char *input, char **schema, char **name,
							char **err);
/* Parses exactly one identifier. */
bool  ident_parse_one(const char *input, char **name, char **err);

/* s for a POSIX shell: 'text', with ' written as '\''. */
char *ident_shell_quote(const char *s);

/* One item of --order-by. */
typedef struct OrderItem
{
	char *column;
	bool  descending;
	int	  nulls; /* 0 = default, 1 = NULLS FIRST, 2 = NULLS LAST */
} OrderItem;

/*
 * Parses "col [ASC|DESC] [NULLS FIRST|LAST], ...".  On success *items is a
 * newly allocated array of *nitems entries (free with order_items_free).
 */
bool  ident_parse_order_by(const char *input, OrderItem **items, int *nitems,
						   char **err);
void  order_items_free(OrderItem *items, int nitems);
/* Renders the parsed items as SQL, identifiers quoted. */
char *order_items_sql(const OrderItem *items, int nitems, const char *qualifier);

#endif /* PGR_IDENT_H */
