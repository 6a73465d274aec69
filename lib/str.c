/* str.c: growable strings and string vectors. */
#include "str.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
out_of_memory(void)
{
	fputs("pg_rebuild: error: out of memory\n", stderr);
	abort();
}

void *
pgr_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

void *
pgr_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

void *
pgr_realloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

char *
pgr_strdup(const char *s)
{
	char *p;

	if (s == NULL)
		return NULL;
	p = strdup(s);
	if (p == NULL)
		out_of_memory();
	return p;
}

char *
pgr_psprintf(const char *fmt, ...)
{
	StrBuf	sb;
	va_list ap;

	sb_init(&sb);
	va_start(ap, fmt);
	sb_vappendf(&sb, fmt, ap);
	va_end(ap);
	return sb_steal(&sb);
}

void
sb_init(StrBuf *sb)
{
	sb->cap = 64;
	sb->len = 0;
	sb->data = pgr_malloc(sb->cap);
	sb->data[0] = '\0';
}

void
sb_reset(StrBuf *sb)
{
	sb->len = 0;
	sb->data[0] = '\0';
}

void
sb_free(StrBuf *sb)
{
	free(sb->data);
	sb->data = NULL;
	sb->len = sb->cap = 0;
}

static void
sb_reserve(StrBuf *sb, size_t extra)
{
	size_t need = sb->len + extra + 1;

	if (need <= sb->cap)
		return;
	while (sb->cap < need)
		sb->cap *= 2;
	sb->data = pgr_realloc(sb->data, sb->cap);
}

void
sb_append_n(StrBuf *sb, const char *s, size_t n)
{
	sb_reserve(sb, n);
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

void
sb_append(StrBuf *sb, const char *s)
{
	sb_append_n(sb, s, strlen(s));
}

void
sb_append_char(StrBuf *sb, char c)
{
	sb_append_n(sb, &c, 1);
}

void
sb_vappendf(StrBuf *sb, const char *fmt, va_list ap)
{
	for (;;)
	{
		va_list aq;
		size_t	avail = sb->cap - sb->len;
		int		n;

		va_copy(aq, ap);
		n = vsnprintf(sb->data + sb->len, avail, fmt, aq);
		va_end(aq);
		if (n < 0)
			out_of_memory();
		if ((size_t) n < avail)
		{
			sb->len += (size_t) n;
			return;
		}
		sb_reserve(sb, (size_t) n);
	}
}

void
sb_appendf(StrBuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vappendf(sb, fmt, ap);
	va_end(ap);
}

void
sb_append_json(StrBuf *sb, const char *s)
{
	sb_append_char(sb, '"');
	for (const unsigned char *p = (const unsigned char *) (s ? s : ""); *p; p++)
	{
		switch (*p)
		{
			case '"':
				sb_append(sb, "\\\"");
				break;
			case '\\':
				sb_append(sb, "\\\\");
				break;
			case '\n':
				sb_append(sb, "\\n");
				break;
			case '\r':
				sb_append(sb, "\\r");
				break;
			case '\t':
				sb_append(sb, "\\t");
				break;
			default:
				if (*p < 0x20)
					sb_appendf(sb, "\\u%04x", *p);
				else
					sb_append_char(sb, (char) *p);
		}
	}
	sb_append_char(sb, '"');
}

char *
sb_steal(StrBuf *sb)
{
	char *s = sb->data;

	sb->data = NULL;
	sb->len = sb->cap = 0;
	return s;
}

void
sv_init(StrVec *sv)
{
	sv->items = NULL;
	sv->n = sv->cap = 0;
}

void
sv_push_owned(StrVec *sv, char *s)
{
	if (sv->n == sv->cap)
	{
		sv->cap = sv->cap ? sv->cap * 2 : 8;
		sv->items = pgr_realloc(sv->items, sv->cap * sizeof(char *));
	}
	sv->items[sv->n++] = s;
}

void
sv_push(StrVec *sv, const char *s)
{
	sv_push_owned(sv, pgr_strdup(s));
}

bool
sv_contains(const StrVec *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->items[i], s) == 0)
			return true;
	return false;
}

void
sv_free(StrVec *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->items[i]);
	free(sv->items);
	sv_init(sv);
}

char *
sv_join(const StrVec *sv, const char *sep)
{
	StrBuf sb;

	sb_init(&sb);
	for (size_t i = 0; i < sv->n; i++)
	{
		if (i > 0)
			sb_append(&sb, sep);
		sb_append(&sb, sv->items[i]);
	}
	return sb_steal(&sb);
}

char *
sv_text_array(const StrVec *v)
{
	StrBuf sb;

	sb_init(&sb);
	sb_append_char(&sb, '{');
	for (size_t i = 0; i < v->n; i++)
	{
		if (i > 0)
			sb_append_char(&sb, ',');
		sb_append_char(&sb, '"');
		for (const char *p = v->items[i]; *p; p++)
		{
			if (*p == '"' || *p == '\\')
				sb_append_char(&sb, '\\');
			sb_append_char(&sb, *p);
		}
		sb_append_char(&sb, '"');
	}
	sb_append_char(&sb, '}');
	return sb_steal(&sb);
}
