/* ident.c: identifier and literal quoting and parsing, pure. */
#include "ident.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
ident_append(StrBuf *sb, const char *name)
{
	sb_append_char(sb, '"');
	for (const char *p = name; *p; p++)
	{
		if (*p == '"')
			sb_append_char(sb, '"');
		sb_append_char(sb, *p);
	}
	sb_append_char(sb, '"');
}

void
ident_append_qualified(StrBuf *sb, const char *schema, const char *name)
{
	ident_append(sb, schema);
	sb_append_char(sb, '.');
	ident_append(sb, name);
}

char *
ident_quote(const char *name)
{
	StrBuf		sb;

	sb_init(&sb);
	ident_append(&sb, name);
	return sb_steal(&sb);
}

char *
ident_quote_qualified(const char *schema, const char *name)
{
	StrBuf		sb;

	sb_init(&sb);
	ident_append_qualified(&sb, schema, name);
	return sb_steal(&sb);
}

char *
ident_display(const char *name)
{
	bool		plain = name[0] != '\0' && ((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_');

	for (const char *p = name; plain && *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '$'))
			plain = false;
	return plain ? pgr_strdup(name) : ident_quote(name);
}

char *
ident_literal(const char *text)
{
	StrBuf		sb;
	bool		backslash = strchr(text, '\\') != NULL;

	sb_init(&sb);
	if (backslash)
		sb_append_char(&sb, 'E');
	sb_append_char(&sb, '\'');
	for (const char *p = text; *p; p++)
	{
		if (*p == '\'' || (*p == '\\' && backslash))
			sb_append_char(&sb, *p);
		sb_append_char(&sb, *p);
	}
	sb_append_char(&sb, '\'');
	return sb_steal(&sb);
}

char *
ident_shell_quote(const char *s)
{
	StrBuf		sb;

	sb_init(&sb);
	sb_append_char(&sb, '\'');
	for (const char *p = s; *p; p++)
	{
		if (*p == '\'')
			sb_append(&sb, "'\\''");
		else
			sb_append_char(&sb, *p);
	}
	sb_append_char(&sb, '\'');
	return sb_steal(&sb);
}

/* Cuts s to at most NAMEDATALEN-1 bytes without splitting a UTF-8 character. */
static void
truncate_name(char *s)
{
	size_t		len = strlen(s);
	size_t		cut;

	if (len < PGR_NAMEDATALEN)
		return;
	cut = PGR_NAMEDATALEN - 1;
	while (cut > 0 && ((unsigned char) s[cut] & 0xC0) == 0x80)
		cut--;
	s[cut] = '\0';
}

/* The length of s cut to at most max bytes, not inside a UTF-8 character. */
static size_t
clip_len(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char) s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

char *
ident_object_name(const char *name1, const char *name2, const char *label)
{
	size_t len1 = strlen(name1);
	size_t len2 = strlen(name2);
	size_t room = PGR_NAMEDATALEN - 1 - 2 - strlen(label); /* two "_" */
	size_t keep1 = len1;
	size_t keep2 = len2;

	while (keep1 + keep2 > room)
	{
		if (keep1 > keep2)
			keep1--;
		else
			keep2--;
	}
	keep1 = clip_len(name1, len1, keep1);
	keep2 = clip_len(name2, len2, keep2);
	return pgr_psprintf("%.*s_%.*s_%s", (int) keep1, name1, (int) keep2, name2, label);
}

static bool
is_ident_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

static bool
is_ident_cont(unsigned char c)
{
	return is_ident_start(c) || isdigit(c) || c == '$';
}

static const char *
skip_space(const char *p)
{
	while (*p && isspace((unsigned char) *p))
		p++;
	return p;
}

/*
 * Reads one identifier at *pp; advances *pp past it.  Returns the name or
 * NULL with *err set.
 */
static char *
read_ident(const char **pp, char **err)
{
	const char *p = skip_space(*pp);
	StrBuf		sb;

	sb_init(&sb);
	if (*p == '"')
	{
		p++;
		for (;;)
		{
			if (*p == '\0')
			{
				*err = pgr_strdup("unterminated quoted identifier");
				sb_free(&sb);
				return NULL;
			}
			if (*p == '"')
			{
				if (p[1] == '"')
				{
					sb_append_char(&sb, '"');
					p += 2;
					continue;
				}
				p++;
				break;
			}
			sb_append_char(&sb, *p++);
		}
		if (sb.len == 0)
		{
			*err = pgr_strdup("zero-length quoted identifier");
			sb_free(&sb);
			return NULL;
		}
	}
	else
	{
		if (!is_ident_start((unsigned char) *p))
		{
			*err = *p ? pgr_psprintf("unexpected character \"%c\" where a name was expected", *p)
				: pgr_strdup("a name was expected");
			sb_free(&sb);
			return NULL;
		}
		while (is_ident_cont((unsigned char) *p))
		{
			unsigned char c = (unsigned char) *p++;

			sb_append_char(&sb, (char) (c < 0x80 ? tolower(c) : c));
		}
	}
	truncate_name(sb.data);
	*pp = p;
	return sb_steal(&sb);
}

bool
ident_parse_qualified(const char *input, char **schema, char **name, char **err)
{
	const char *p = input;
	char	   *first;
	char	   *second = NULL;

	*schema = *name = NULL;
	*err = NULL;
	if ((first = read_ident(&p, err)) == NULL)
		return false;
	p = skip_space(p);
	if (*p == '.')
	{
		p++;
		if ((second = read_ident(&p, err)) == NULL)
		{
			free(first);
			return false;
		}
		p = skip_space(p);
	}
	if (*p != '\0')
	{
		*err = (*p == '.')
			? pgr_strdup("too many dotted parts (expected [schema.]table)")
			: pgr_psprintf("unexpected text after the name: \"%s\"", p);
		free(first);
		free(second);
		return false;
	}
	if (second)
	{
		*schema = first;
		*name = second;
	}
	else
		*name = first;
	return true;
}

bool
ident_parse_one(const char *input, char **name, char **err)
{
	const char *p = input;
	char	   *n;

	*err = NULL;
	if ((n = read_ident(&p, err)) == NULL)
		return false;
	p = skip_space(p);
	if (*p != '\0')
	{
		*err = pgr_psprintf("unexpected text after the name: \"%s\"", p);
		free(n);
		return false;
	}
	*name = n;
	return true;
}
