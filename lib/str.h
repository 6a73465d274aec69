/*
 * str.h: growable strings and string vectors, with allocation that never
 * returns NULL (out of memory aborts: a half-built SQL statement is useless).
 */
#ifndef PGR_STR_H
#define PGR_STR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define PGR_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Allocation helpers: abort with a message on out-of-memory. */
void *pgr_malloc(size_t size);
void *pgr_calloc(size_t n, size_t size);
void *pgr_realloc(void *ptr, size_t size);
char *pgr_strdup(const char *s);
/* Returns a newly allocated formatted string; the caller frees it. */
char *pgr_psprintf(const char *fmt, ...) PGR_PRINTF(1, 2);

/*
 * A growable, always NUL-terminated buffer.  The struct is owned by the
 * caller; sb_free releases the data, sb_steal hands it over.
 */
typedef struct StrBuf
{
	char  *data;
	size_t len;
	size_t cap;
} StrBuf;

void  sb_init(StrBuf *sb);
void  sb_reset(StrBuf *sb);
void  sb_free(StrBuf *sb);
void  sb_append(StrBuf *sb, const char *s);
void  sb_append_n(StrBuf *sb, const char *s, size_t n);
void  sb_append_char(StrBuf *sb, char c);
void  sb_appendf(StrBuf *sb, const char *fmt, ...) PGR_PRINTF(2, 3);
void  sb_vappendf(StrBuf *sb, const char *fmt, va_list ap);
/* Appends s as a JSON string literal (quoted, escaped). */
void  sb_append_json(StrBuf *sb, const char *s);
/* Returns the buffer's string and leaves sb empty; the caller frees it. */
char *sb_steal(StrBuf *sb);

/* A vector of owned strings. */
typedef struct StrVec
{
	char **items;
	size_t n;
	size_t cap;
} StrVec;

void  sv_init(StrVec *sv);
/* Pushes a copy of s. */
void  sv_push(StrVec *sv, const char *s);
/* Pushes s itself; the vector takes ownership. */
void  sv_push_owned(StrVec *sv, char *s);
bool  sv_contains(const StrVec *sv, const char *s);
void  sv_free(StrVec *sv);
/* Joins the items with sep into a new string; the caller frees it. */
char *sv_join(const StrVec *sv, const char *sep);
/* "{"a","b"}": a text[] literal of v, to pass as one parameter.  Newly allocated. */
char *sv_text_array(const StrVec *v);

#endif /* PGR_STR_H */
