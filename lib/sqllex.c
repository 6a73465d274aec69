/* sqllex.c: top-level commas and bare keywords, by PostgreSQL's lexical rules. */
#include "sqllex.h"

#include <ctype.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

static bool
ident_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

static bool
ident_cont(unsigned char c)
{
	return ident_start(c) || isdigit(c) || c == '$';
}

/*
 * The end of the quoted token that starts at p (a ' or " quote); escapes
 * says backslashes escape (E'...').  NULL when it is not terminated.
 */
static const char *
skip_quoted(const char *p, char quote, bool escapes)
{
	for (p++; *p; p++)
	{
		if (escapes && *p == '\\' && p[1])
			p++;
		else if (*p == quote)
		{
			if (p[1] == quote)
				p++; /* doubled: part of the token */
			else
				return p + 1;
		}
	}
	return NULL;
}

/* A dollar quote's tag at p ("$", "$tag$"), its length, or 0 when p is no tag. */
static size_t
dollar_tag(const char *p)
{
	const char *q = p + 1;

	if (*p != '$')
		return 0;
	if (*q == '$')
		return 2;
	if (!ident_start((unsigned char) *q))
		return 0; /* $1: a parameter */
	while (ident_cont((unsigned char) *q) && *q != '$')
		q++;
	return *q == '$' ? (size_t) (q - p + 1) : 0;
}

typedef enum Tok
{
	TOK_END,
	TOK_IDENT, /* a bare identifier or keyword */
	TOK_OPEN,
	TOK_CLOSE,
	TOK_COMMA,
	TOK_SEMI,
	TOK_OTHER, /* literals, quoted names, operators, numbers */
	TOK_ERROR
} Tok;

/*
 * The token at *pp (after whitespace and comments); *start is where it
 * begins, *pp moves past it.  *err is set with TOK_ERROR.
 */
static Tok
next_token(const char **pp, const char **start, const char **err)
{
	const char *p = *pp;
	size_t		n;

	for (;;)
	{
		while (isspace((unsigned char) *p))
			p++;
		if (p[0] == '-' && p[1] == '-')
		{
			while (*p && *p != '\n')
				p++;
			continue;
		}
		if (p[0] == '/' && p[1] == '*')
		{
			int depth = 1;

			for (p += 2; *p && depth > 0; p++)
			{
				if (p[0] == '/' && p[1] == '*')
					depth++, p++;
				else if (p[0] == '*' && p[1] == '/')
					depth--, p++;
			}
			if (depth > 0)
			{
				*err = "a comment is not closed";
				return TOK_ERROR;
			}
			continue;
		}
		break;
	}
	*start = p;
	if (*p == '\0')
	{
		*pp = p;
		return TOK_END;
	}
	/* literals and quoted identifiers with a prefix: E'', B'', X'', N'', U&'', U&"" */
	if ((p[0] == 'u' || p[0] == 'U') && p[1] == '&' && (p[2] == '\'' || p[2] == '"'))
	{
		*pp = skip_quoted(p + 2, p[2], false);
		if (*pp == NULL)
			goto unterminated;
		return TOK_OTHER;
	}
	if (strchr("eEbBxXnN", p[0]) && p[0] != '\0' && p[1] == '\'')
	{
		*pp = skip_quoted(p + 1, '\'', p[0] == 'e' || p[0] == 'E');
		if (*pp == NULL)
			goto unterminated;
		return TOK_OTHER;
	}
	if (*p == '\'' || *p == '"')
	{
		*pp = skip_quoted(p, *p, false);
		if (*pp == NULL)
			goto unterminated;
		return TOK_OTHER;
	}
	if ((n = dollar_tag(p)) > 0)
	{
		const char *end = p + n;

		for (;; end++)
		{
			if (*end == '\0')
				goto unterminated;
			if (strncmp(end, p, n) == 0)
				break;
		}
		*pp = end + n;
		return TOK_OTHER;
	}
	if (ident_start((unsigned char) *p))
	{
		while (ident_cont((unsigned char) *p))
			p++;
		*pp = p;
		return TOK_IDENT;
	}
	*pp = p + 1;
	switch (*p)
	{
		case '(':
		case '[':
			return TOK_OPEN;
		case ')':
		case ']':
			return TOK_CLOSE;
		case ',':
			return TOK_COMMA;
		case ';':
			return TOK_SEMI;
		default:
			if (isdigit((unsigned char) *p) || *p == '.')
			{
				/* a number, possibly with letters glued on (1e5, 0x1F): one token */
				while (isalnum((unsigned char) **pp) || **pp == '.' || **pp == '_')
					(*pp)++;
			}
			return TOK_OTHER;
	}
unterminated:
	*err = "a quoted string or name is not closed";
	return TOK_ERROR;
}

/* Appends text[from, to) with surrounding whitespace removed. */
static void
push_trimmed(StrVec *out, const char *from, const char *to)
{
	while (from < to && isspace((unsigned char) *from))
		from++;
	while (to > from && isspace((unsigned char) to[-1]))
		to--;
	sv_push_owned(out, pgr_psprintf("%.*s", (int) (to - from), from));
}

bool
sqllex_split(const char *text, StrVec *pieces, char **err)
{
	const char *p = text;
	const char *piece = text;
	const char *start;
	const char *why = NULL;
	int			depth = 0;
	bool		tokens = false;

	*err = NULL;
	for (;;)
	{
		Tok t = next_token(&p, &start, &why);

		switch (t)
		{
			case TOK_ERROR:
				*err = pgr_strdup(why);
				return false;
			case TOK_SEMI:
				*err = pgr_strdup("it holds a semicolon: give subcommands of one ALTER TABLE, separated by commas");
				return false;
			case TOK_OPEN:
				depth++;
				break;
			case TOK_CLOSE:
				if (--depth < 0)
				{
					*err = pgr_strdup("a parenthesis is closed that was not opened");
					return false;
				}
				break;
			case TOK_COMMA:
				if (depth > 0)
					break;
				if (!tokens)
				{
					*err = pgr_strdup("it has an empty subcommand");
					return false;
				}
				push_trimmed(pieces, piece, start);
				piece = p;
				tokens = false;
				continue;
			case TOK_END:
				if (depth > 0)
				{
					*err = pgr_strdup("a parenthesis is not closed");
					return false;
				}
				if (!tokens)
				{
					*err = pgr_strdup(pieces->n ? "it ends with a comma" : "it is empty");
					return false;
				}
				push_trimmed(pieces, piece, p);
				return true;
			default:
				break;
		}
		tokens = true;
	}
}

int
sqllex_find_keyword(const char *piece, const char *keyword)
{
	const char *p = piece;
	const char *start;
	const char *why;
	int			depth = 0;
	size_t		n = strlen(keyword);

	for (;;)
	{
		Tok t = next_token(&p, &start, &why);

		if (t == TOK_END || t == TOK_ERROR)
			return -1;
		if (t == TOK_OPEN)
			depth++;
		else if (t == TOK_CLOSE)
			depth--;
		else if (t == TOK_IDENT && depth == 0 && (size_t) (p - start) == n && strncasecmp(start, keyword, n) == 0)
			return (int) (start - piece);
	}
}
