/* conn.c: the query layer: statements, results, errors, typed readers. */
#include "conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include "cancel.h"
#include "clock.h"
#include "conn_int.h"
#include "log.h"

void
conn_clear_error(Conn *c)
{
	c->sqlstate[0] = '\0';
	free(c->message);
	free(c->detail);
	free(c->hint);
	free(c->column);
	free(c->constraint);
	c->message = c->detail = c->hint = c->column = c->constraint = NULL;
}

bool
conn_ok(const Conn *c)
{
	return c && c->pg && PQstatus(c->pg) == CONNECTION_OK;
}

int
conn_server_version(const Conn *c)
{
	return PQserverVersion(c->pg);
}

const char *
conn_versioned(const Conn *c, const VersionedSql *list)
{
	int v = conn_server_version(c);

	for (;; list++)
		if (v >= list->min_version)
			return list->sql;
}

int
conn_backend_pid(const Conn *c)
{
	return c && c->pg ? PQbackendPID(c->pg) : 0;
}

bool
conn_lost(const Conn *c)
{
	if (c == NULL || c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK)
		return true;
	return strncmp(c->sqlstate, "08", 2) == 0 || strcmp(c->sqlstate, "57P01") == 0 ||
		strcmp(c->sqlstate, "57P02") == 0 || strcmp(c->sqlstate, "57P03") == 0;
}

static char *
field_dup(const PGresult *res, int code)
{
	const char *v = res ? PQresultErrorField(res, code) : NULL;

	return v ? pgr_strdup(v) : NULL;
}

void
conn_set_error(Conn *c, const PGresult *res)
{
	const char *state;

	conn_clear_error(c);
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", state ? state : "");
	c->message = field_dup(res, PG_DIAG_MESSAGE_PRIMARY);
	if (c->message == NULL)
	{
		const char *m = PQerrorMessage(c->pg);

		c->message = pgr_strdup(m && *m ? m : "unknown error");
		c->message[strcspn(c->message, "\n")] = '\0';
		if (PQstatus(c->pg) != CONNECTION_OK && c->sqlstate[0] == '\0')
			snprintf(c->sqlstate, sizeof(c->sqlstate), "08006");
	}
	c->detail = field_dup(res, PG_DIAG_MESSAGE_DETAIL);
	c->hint = field_dup(res, PG_DIAG_MESSAGE_HINT);
	c->column = field_dup(res, PG_DIAG_COLUMN_NAME);
	c->constraint = field_dup(res, PG_DIAG_CONSTRAINT_NAME);
}

static bool
check_result(Conn *c, PGresult *res, ExecStatusType want)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st == want || (want == PGRES_COMMAND_OK && st == PGRES_TUPLES_OK))
	{
		conn_clear_error(c);
		return true;
	}
	conn_set_error(c, res);
	return false;
}

void
conn_best_effort(Conn *c, const char *sql)
{
	PGresult *res;

	if (c == NULL || c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK)
		return;
	pipeline_abandon(c);
	/* a ROLLBACK outside a transaction only puts a WARNING in the server log */
	if (strcmp(sql, "ROLLBACK") == 0 && PQtransactionStatus(c->pg) == PQTRANS_IDLE)
		return;
	log_echo_sql(c->label, sql);
	res = PQexec(c->pg, sql);
	PQclear(res);
	/* drain anything left of a multi-statement string */
	while ((res = PQgetResult(c->pg)) != NULL)
		PQclear(res);
}

void
conn_await(Conn *c)
{
	double start = pgr_now();
	double last_hook = start;
	bool   canceled = false;

	c->busy = true;
	while (PQisBusy(c->pg))
	{
		fd_set		   rfds;
		struct timeval tv = {0, 100000};
		int			   fd = PQsocket(c->pg);

		if (fd < 0)
			break;
		FD_ZERO(&rfds);
		FD_SET(fd, &rfds);
		(void) select(fd + 1, &rfds, NULL, NULL, &tv);
		if (!PQconsumeInput(c->pg))
			break;
		if (!canceled && pgr_now() - last_hook >= 0.2)
		{
			last_hook = pgr_now();
			if (!cancel_call_wait_hook())
			{
				cancel_request(c->pg);
				canceled = true;
			}
		}
	}
	c->busy = false;
}

PGresult *
conn_await_results(Conn *c, ExecStatusType want)
{
	PGresult *res;
	PGresult *last = NULL;
	bool	  ok = true;

	conn_await(c);
	while ((res = PQgetResult(c->pg)) != NULL)
	{
		if (ok && !check_result(c, res, want))
			ok = false;
		PQclear(last);
		last = res;
	}
	if (ok && last == NULL)
	{
		conn_set_error(c, NULL);
		ok = false;
	}
	if (!ok)
	{
		PQclear(last);
		return NULL;
	}
	return last;
}

bool
conn_command(Conn *c, const char *sql)
{
	PGresult *res;

	if (c->batching)
		return batch_send(c, sql, 0, NULL);
	log_echo_sql(c->label, sql);
	if (!PQsendQuery(c->pg, sql))
	{
		conn_set_error(c, NULL);
		return false;
	}
	res = conn_await_results(c, PGRES_COMMAND_OK);
	PQclear(res);
	return res != NULL;
}

bool
conn_commandv(Conn *c, const char *fmt, ...)
{
	StrBuf	sb;
	va_list ap;
	bool	ok;

	sb_init(&sb);
	va_start(ap, fmt);
	sb_vappendf(&sb, fmt, ap);
	va_end(ap);
	ok = conn_command(c, sb.data);
	sb_free(&sb);
	return ok;
}

bool
conn_command_params(Conn *c, const char *sql, int nparams, const char *const *values,
					long long *affected)
{
	PGresult *res;

	if (c->batching)
	{
		if (affected)
			*affected = 0;
		return batch_send(c, sql, nparams, values);
	}
	log_echo_sql(c->label, sql);
	if (!PQsendQueryParams(c->pg, sql, nparams, NULL, values, NULL, NULL, 0))
	{
		conn_set_error(c, NULL);
		return false;
	}
	res = conn_await_results(c, PGRES_COMMAND_OK);
	if (res == NULL)
		return false;
	if (affected)
		*affected = atoll(PQcmdTuples(res));
	PQclear(res);
	return true;
}

bool
conn_command_if_exists(Conn *c, const char *sql)
{
	bool ok;

	c->quiet_skips = true;
	ok = conn_command(c, sql);
	c->quiet_skips = false;
	return ok;
}

bool
conn_parse_only(Conn *c, const char *sql)
{
	PGresult *res;

	log_echo_sql(c->label, sql);
	if (!PQsendPrepare(c->pg, "", sql, 0, NULL))
	{
		conn_set_error(c, NULL);
		return false;
	}
	res = conn_await_results(c, PGRES_COMMAND_OK);
	PQclear(res);
	return res != NULL;
}

PGresult *
conn_query(Conn *c, const char *sql)
{
	log_echo_sql(c->label, sql);
	if (!PQsendQuery(c->pg, sql))
	{
		conn_set_error(c, NULL);
		return NULL;
	}
	return conn_await_results(c, PGRES_TUPLES_OK);
}

void
conn_set_error_text(Conn *c, const char *sqlstate, char *message)
{
	conn_clear_error(c);
	c->message = message;
	snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", sqlstate);
}

PGparam *
conn_spec_statement(Conn *c, const char *spec, va_list ap, char **stmt)
{
	PGparam *param = PQparamCreate(c->pg);
	size_t	 buflen = strlen(spec) + 64;

	*stmt = pgr_malloc(buflen);
	if (param == NULL || !PQputvf(param, *stmt, buflen, spec, ap))
	{
		conn_set_error_text(c, "XX000", pgr_psprintf("internal error preparing a query: %s", PQgeterror()));
		free(*stmt);
		*stmt = NULL;
		if (param)
			PQparamClear(param);
		return NULL;
	}
	log_echo_sql(c->label, *stmt);
	return param;
}

/* Runs a libpqtypes spec; want says which result status is success. */
static PGresult *
run_spec(Conn *c, ExecStatusType want, const char *spec, va_list ap)
{
	char	 *stmt;
	PGparam	 *param = conn_spec_statement(c, spec, ap, &stmt);
	PGresult *res = NULL;

	if (param == NULL)
		return NULL;
	if (c->recording)
		return record_run(c, want, spec, stmt, param);
	if (!PQparamSendQuery(c->pg, param, stmt, 1))
	{
		PQparamClear(param);
		free(stmt);
		conn_set_error(c, NULL);
		return NULL;
	}
	res = conn_await_results(c, want);
	PQparamClear(param);
	free(stmt);
	return res;
}

PGresult *
conn_queryf(Conn *c, const char *spec, ...)
{
	va_list	  ap;
	PGresult *res;

	if (c->batching)
	{
		if (!c->batch_failed)
			conn_set_error_text(c, "XX000", pgr_strdup("internal error: a query that returns rows inside a batch"));
		c->batch_failed = true;
		return NULL;
	}
	va_start(ap, spec);
	res = run_spec(c, PGRES_TUPLES_OK, spec, ap);
	va_end(ap);
	return res;
}

bool
conn_execf(Conn *c, const char *spec, ...)
{
	va_list	  ap;
	PGresult *res;

	va_start(ap, spec);
	if (c->batching)
	{
		bool ok = batch_send_spec(c, spec, ap);

		va_end(ap);
		return ok;
	}
	res = run_spec(c, PGRES_COMMAND_OK, spec, ap);
	va_end(ap);
	PQclear(res);
	return res != NULL;
}

void
conn_report(const Conn *c, const char *what)
{
	log_error_code(c->sqlstate, "%s: %s", what, c->message ? c->message : "unknown error");
	if (c->detail)
		log_detail("%s", c->detail);
	if (c->hint)
		log_hint("%s", c->hint);
}

bool
conn_failed_with(const Conn *c, const char *code)
{
	return strcmp(c->sqlstate, code) == 0;
}

bool
res_isnull(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) != 0;
}

/*
 * Reads the value at (row, col) with the libpqtypes type spec ("%int4") into
 * *out; false for SQL NULL or a value of another type (*out is then unused).
 */
static bool
res_get(const PGresult *res, int row, int col, const char *spec, void *out)
{
	return !PQgetisnull(res, row, col) && PQgetf(res, row, spec, col, out);
}

char *
res_text(const PGresult *res, int row, int col)
{
	PGtext v = NULL;

	return res_get(res, row, col, "%text", &v) && v != NULL ? pgr_strdup(v) : NULL;
}

int
res_int4(const PGresult *res, int row, int col)
{
	PGint4 v = 0;

	return res_get(res, row, col, "%int4", &v) ? v : 0;
}

long long
res_int8(const PGresult *res, int row, int col)
{
	PGint8 v = 0;

	return res_get(res, row, col, "%int8", &v) ? (long long) v : 0;
}

double
res_float8(const PGresult *res, int row, int col)
{
	PGfloat8 v = 0;

	return res_get(res, row, col, "%float8", &v) ? v : 0;
}

bool
res_bool(const PGresult *res, int row, int col)
{
	PGbool v = 0;

	return res_get(res, row, col, "%bool", &v) && v != 0;
}

Oid
res_oid(const PGresult *res, int row, int col)
{
	Oid v = 0;

	return res_get(res, row, col, "%oid", &v) ? v : 0;
}

char
res_char(const PGresult *res, int row, int col)
{
	char	   *s = res_text(res, row, col);
	char		c = s && *s ? s[0] : 0;

	free(s);
	return c;
}

bool
conn_read_rows(Conn *c, PGresult *res, const char *what, size_t elem, const ResField *fields, int nfields,
			   void **items, int *n)
{
	if (res == NULL)
	{
		conn_report(c, what);
		return false;
	}
	*n = PQntuples(res);
	*items = pgr_calloc((size_t) *n, elem);
	for (int i = 0; i < *n; i++)
		res_fill(res, i, (char *) *items + elem * (size_t) i, fields, nfields);
	PQclear(res);
	return true;
}

void
res_fill(const PGresult *res, int row, void *dst, const ResField *fields, int nfields)
{
	for (int col = 0; col < nfields; col++)
	{
		char	   *at = (char *) dst + fields[col].offset;

		switch (fields[col].type)
		{
			case RF_SKIP:
				break;
			case RF_TEXT:
				*(char **) at = res_text(res, row, col);
				break;
			case RF_OID:
				*(Oid *) at = res_oid(res, row, col);
				break;
			case RF_BOOL:
				*(bool *) at = res_bool(res, row, col);
				break;
			case RF_INT4:
				*(int *) at = res_int4(res, row, col);
				break;
			case RF_CHAR:
				*(char *) at = res_char(res, row, col);
				break;
		}
	}
}
