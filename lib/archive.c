/* archive.c: the old table's rows, through COPY TO STDOUT, into a gzip file. */
#include "archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gzfile.h"
#include "ident.h"
#include "str.h"
#include "test_hooks.h"

/* The header (docs/archive-format.md): columns, and the COPY line. */
static bool
header(Conn *c, unsigned int relid, const char *source_q, const char *table_q, StrBuf *hdr, char **copy_sql,
	   char **why)
{
	PGresult *res = conn_queryf(c,
								"SELECT a.attname::pg_catalog.text, "
								"pg_catalog.format_type(a.atttypid, a.atttypmod)::pg_catalog.text "
								"FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) %oid "
								"AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped ORDER BY a.attnum",
								relid);
	StrBuf	  cols;

	if (res == NULL)
	{
		*why = pgr_psprintf("could not read the columns of the old table: %s", c->message ? c->message : "");
		return false;
	}
	sb_init(&cols);
	sb_append(hdr, "-- pg_rebuild archive, format 1\n");
	sb_appendf(hdr, "-- table: %s\n", table_q);
	sb_append(hdr, "-- copy format: text\n");
	for (int i = 0; i < PQntuples(res); i++)
	{
		char *name = res_text(res, i, 0);
		char *type = res_text(res, i, 1);
		char *nq = ident_quote(name);

		sb_appendf(hdr, "-- column: %s %s\n", nq, type);
		sb_appendf(&cols, "%s%s", i ? ", " : "", nq);
		free(name);
		free(type);
		free(nq);
	}
	PQclear(res);
	sb_appendf(hdr, "COPY %s (%s) FROM STDIN;\n", table_q, cols.data);
	*copy_sql = pgr_psprintf("COPY %s (%s) TO STDOUT", source_q, cols.data);
	sb_free(&cols);
	return true;
}

/* Streams the COPY's rows into f; false with *why on failure. */
static bool
stream_rows(Conn *c, GzFile *f, const char *copy_sql, long long *rows, char **why)
{
	PGresult *res;
	char	 *buf;
	int		  n;

	res = PQexec(c->pg, copy_sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
	{
		*why = pgr_psprintf("could not read the old table: %s", PQerrorMessage(c->pg));
		PQclear(res);
		return false;
	}
	PQclear(res);
	while ((n = PQgetCopyData(c->pg, &buf, 0)) > 0)
	{
		bool ok = gzfile_write(f, buf, (size_t) n, why);

		PQfreemem(buf);
		if (!ok)
			break;
		(*rows)++;
		if (*rows == 1)
			pgr_test_pause("ARCHIVE");
	}
	if (n == -2)
		*why = pgr_psprintf("could not read the old table: %s", PQerrorMessage(c->pg));
	while ((res = PQgetResult(c->pg)) != NULL)
	{
		if (n == -1 && *why == NULL && PQresultStatus(res) != PGRES_COMMAND_OK)
			*why = pgr_psprintf("could not read the old table: %s", PQresultErrorMessage(res));
		PQclear(res);
	}
	return *why == NULL;
}

bool
archive_table(Conn *c, unsigned int relid, const char *source_q, const char *table_q, const char *path,
			  long long *rows, char **why)
{
	StrBuf	hdr;
	char   *copy_sql = NULL;
	GzFile *f = NULL;
	bool	ok;
	char	trailer[64];

	*rows = 0;
	*why = NULL;
	sb_init(&hdr);
	ok = header(c, relid, source_q, table_q, &hdr, &copy_sql, why);
	if (ok)
		ok = (f = gzfile_open(path, why)) != NULL;
	ok = ok && gzfile_write(f, hdr.data, hdr.len, why) && stream_rows(c, f, copy_sql, rows, why);
	snprintf(trailer, sizeof(trailer), "\\.\n-- rows: %lld\n", *rows);
	ok = ok && gzfile_write(f, trailer, strlen(trailer), why);
	if (f && ok)
		ok = gzfile_close(f, why);
	else if (f)
		gzfile_abort(f);
	sb_free(&hdr);
	free(copy_sql);
	return ok;
}
