/*
 * sqllex.h: PostgreSQL's lexical rules, client-side, for exactly two jobs:
 * splitting the text given to --alter into its top-level subcommands (at
 * commas outside parentheses, brackets, quotes and comments) and finding a
 * bare keyword in one of them (the USING of a type change).
 *
 * Nothing here decides what a subcommand means: the server applies each
 * piece and the catalog says what changed (alter.c).  The server keeps no
 * USING expression anywhere it can be read back, so its text is the one
 * thing taken from the user's text, verbatim, after the server accepted it.
 */
#ifndef PGR_SQLLEX_H
#define PGR_SQLLEX_H

#include <stdbool.h>

#include "str.h"

/*
 * Splits text at its top-level commas into pieces (whitespace around each
 * trimmed; comments kept).  False with *err (newly allocated) when the text
 * is not well formed (an unterminated quote or comment, unbalanced
 * parentheses, an empty piece, a semicolon).
 */
bool sqllex_split(const char *text, StrVec *pieces, char **err) __attribute__((warn_unused_result));

/*
 * The byte offset in piece of the first bare (unquoted, outside any
 * parentheses, string or comment) identifier token equal to keyword,
 * compared case-insensitively; -1 when there is none.
 */
int	 sqllex_find_keyword(const char *piece, const char *keyword);

#endif /* PGR_SQLLEX_H */
