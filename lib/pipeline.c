/* pipeline.c: batches of statements read back in one round trip (libpq pipeline mode). */
#include "pipeline.h"

#include <stdlib.h>

#include "conn_int.h"
#include "log.h"
#include "str.h"

void
pipeline_abandon(Conn *c)
{
#ifdef HAVE_PQ_PIPELINE
	if (c->pg == NULL || PQpipelineStatus(c->pg) == PQ_PIPELINE_OFF)
		return;
	if (PQstatus(c->pg) == CONNECTION_OK && PQpipelineSync(c->pg))
	{
		for (;;)
		{
			PGresult *res;

			conn_await(c);
			res = PQgetResult(c->pg);
			if (res == NULL)
			{
				if (PQstatus(c->pg) != CONNECTION_OK)
					break;
				continue;
			}
			if (PQresultStatus(res) == PGRES_PIPELINE_SYNC)
			{
				PQclear(res);
				break;
			}
			PQclear(res);
		}
	}
	(void) PQexitPipelineMode(c->pg);
#else
	(void) c;
#endif
}

#ifdef HAVE_PQ_PIPELINE
bool
pipeline_finish(Conn *c, int n, PipelineResultFn each, void *arg)
{
	bool ok = true;

	if (!PQpipelineSync(c->pg))
	{
		conn_set_error(c, NULL);
		pipeline_abandon(c);
		return false;
	}
	for (int i = 0; i < n; i++)
	{
		PGresult *res;

		conn_await(c);
		res = PQgetResult(c->pg);
		if (res == NULL)
		{
			if (ok)
				conn_set_error(c, NULL);
			pipeline_abandon(c);
			return false;
		}
		each(c, i, res, arg, &ok);
		PQclear(res);
		/* each statement's results end with a NULL */
		while ((res = PQgetResult(c->pg)) != NULL)
			PQclear(res);
	}
	for (;;)
	{
		PGresult	  *res;
		ExecStatusType st;

		conn_await(c);
		res = PQgetResult(c->pg);
		if (res == NULL)
		{
			if (PQstatus(c->pg) != CONNECTION_OK)
			{
				if (ok)
					conn_set_error(c, NULL);
				return false;
			}
			continue;
		}
		st = PQresultStatus(res);
		PQclear(res);
		if (st == PGRES_PIPELINE_SYNC)
			break;
	}
	if (!PQexitPipelineMode(c->pg))
	{
		if (ok)
			conn_set_error(c, NULL);
		pipeline_abandon(c);
		return false;
	}
	return ok;
}

void
pipeline_expect_success(Conn *c, PGresult *res, bool *ok)
{
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && *ok)
	{
		conn_set_error(c, res);
		*ok = false;
	}
}
#endif

/*
 * Batches (see pipeline.h): statements are sent as they come; their results
 * are read at conn_batch_end.
 */
bool
conn_batch_begin(Conn *c)
{
	c->batch_n = 0;
	c->batch_keep = -1;
	c->batch_failed = false;
	c->batch_kept = NULL;
#ifdef HAVE_PQ_PIPELINE
	if (!PQenterPipelineMode(c->pg))
	{
		conn_set_error(c, NULL);
		return false;
	}
	c->batching = true;
#endif
	return true;
}

/* In a batch: counts a statement sent (ok) or records the failure to send it. */
static bool
batch_sent(Conn *c, int ok)
{
	if (!ok && !c->batch_failed)
	{
		conn_set_error(c, NULL);
		c->batch_failed = true;
	}
	if (ok)
		c->batch_n++;
	return true;
}

bool
batch_send(Conn *c, const char *sql, int nparams, const char *const *values)
{
	log_echo_sql(c->label, sql);
	return batch_sent(c, PQsendQueryParams(c->pg, sql, nparams, NULL, values, NULL, NULL, 0));
}

bool
conn_batch_query(Conn *c, const char *sql)
{
	if (!c->batching)
	{
		PQclear(c->batch_kept);
		c->batch_kept = conn_query(c, sql);
		return c->batch_kept != NULL;
	}
	c->batch_keep = c->batch_n;
	return batch_send(c, sql, 0, NULL);
}

#ifdef HAVE_PQ_PIPELINE
static void
batch_result_of(Conn *c, int i, PGresult *res, void *arg, bool *ok)
{
	PGresult **kept = arg;

	pipeline_expect_success(c, res, ok);
	if (*ok && i == c->batch_keep && PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		*kept = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
		if (*kept == NULL)
		{
			conn_set_error_text(c, "XX000", pgr_strdup("out of memory"));
			*ok = false;
		}
	}
}
#endif

bool
conn_batch_end(Conn *c, PGresult **kept)
{
	bool	  ok = true;
	PGresult *res = NULL;

	if (kept)
		*kept = NULL;
	if (!c->batching)
	{
		/* without pipeline mode, everything ran as it came */
		if (kept)
			*kept = c->batch_kept;
		else
			PQclear(c->batch_kept);
		c->batch_kept = NULL;
		return true;
	}
#ifdef HAVE_PQ_PIPELINE
	c->batching = false;
	if (c->batch_failed)
	{
		pipeline_abandon(c);
		return false;
	}
	ok = pipeline_finish(c, c->batch_n, batch_result_of, &res);
#endif
	if (!ok)
	{
		PQclear(res);
		return false;
	}
	conn_clear_error(c);
	if (kept)
		*kept = res;
	else
		PQclear(res);
	return true;
}

bool
batch_send_spec(Conn *c, const char *spec, va_list ap)
{
	char	*stmt;
	PGparam *param;

	if (c->batch_failed)
		return true; /* the first failure is the one reported */
	param = conn_spec_statement(c, spec, ap, &stmt);
	if (param == NULL)
	{
		c->batch_failed = true;
		return true;
	}
	(void) batch_sent(c, PQparamSendQuery(c->pg, param, stmt, 1));
	PQparamClear(param);
	free(stmt);
	return true;
}
