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

#define PGR_NAMEDATALEN 64		/* PostgreSQL's NAMEDATALEN */

/* "name" with embedded double quotes doubled. */
char	   *ident_quote(const char *name);
/*
 * The name as the server prints it in messages: bare when it is a plain
 * lower-case identifier, quoted otherwise (keywords are not checked: for
 * display only, never for SQL).
 */
char	   *ident_display(const char *name);
/* "schema"."name" */
char	   *ident_quote_qualified(const char *schema, const char *name);
/* Appends the quoted identifier to sb. */
void		ident_append(StrBuf *sb, const char *name);
void		ident_append_qualified(StrBuf *sb, const char *schema, const char *name);

/*
 * A string literal safe whatever standard_conforming_strings says:
 * 'it''s', or E'a\\b' when the text holds a backslash.
 */
char	   *ident_literal(const char *text);

/*
 * Parses a possibly schema-qualified name as SQL does: unquoted parts are
 * folded to lower case (ASCII only), quoted parts keep their case and may
 * hold anything ("" stands for one quote).  *schema is set to NULL when the
 * name is unqualified.  Names longer than 63 bytes are truncated, as the
 * server does.  On failure returns false and sets *err to a message.
 */
bool		ident_parse_qualified(const char *input, char **schema, char **name,
								  char **err);
/* Parses exactly one identifier. */
bool		ident_parse_one(const char *input, char **name, char **err);

/*
 * The name the server makes for an object from two names and a label, as
 * for a NOT NULL constraint "table_column_not_null": name1, name2 and label
 * joined by "_", the longer of name1 and name2 shortened first (a byte at a
 * time, never inside a UTF-8 character) until the whole fits in 63 bytes.
 * Newly allocated.
 */
char *ident_object_name(const char *name1, const char *name2, const char *label);

/* s for a POSIX shell: 'text', with ' written as '\''. */
char	   *ident_shell_quote(const char *s);

#endif							/* PGR_IDENT_H */
