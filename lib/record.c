/* record.c: recordings of catalog reads, and their check in one round trip. */
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_int.h"
#include "log.h"
#include "str.h"

/* One statement of a recording, with the image of what it returned. */
typedef struct RecordedQuery
{
	char	*stmt;
	PGparam *param;
	char	 name[32]; /* its prepared statement, "" if run unnamed */
	StrBuf	 image;
} RecordedQuery;

struct ConnRecording
{
	RecordedQuery *items;
	int			   n;
	int			   cap;
	bool		   broken; /* a statement failed while recorded */
};

/* Prepared statements of recordings are named pgr_rec_<n>. */
static unsigned int record_prepared_seq = 0;

/*
 * The parameter types of a libpqtypes spec, in order, as type OIDs, for
 * PQprepare: the server must not guess them, since libpqtypes sends binary
 * values of its own types.  false when the spec uses a type not listed
 * here or when the count differs from the PGparam's (then the statement is
 * not prepared).
 */
static bool
spec_param_types(const char *spec, PGparam *param, Oid *types, int max, int *n)
{
	static const struct
	{
		const char *name;
		Oid			oid;
	} known[] = {
		{"bool", 16},
		{"int8", 20},
		{"int2", 21},
		{"int4", 23},
		{"text", 25},
		{"oid", 26},
		{"float8", 701},
		{"name", 19},
	};

	*n = 0;
	for (const char *p = strchr(spec, '%'); p != NULL; p = strchr(p + 1, '%'))
	{
		size_t len = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz0123456789_.[]");
		bool   found = false;

		if (len == 0)
			return false;
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (strlen(known[k].name) == len && strncmp(known[k].name, p + 1, len) == 0)
			{
				if (*n == max)
					return false;
				types[(*n)++] = known[k].oid;
				found = true;
				break;
			}
		if (!found)
			return false;
	}
	return *n == PQparamCount(param);
}

/*
 * Sends stmt with param, as the prepared statement name when name is not
 * empty; false on failure (error recorded in c).
 */
static bool
send_param(Conn *c, PGparam *param, const char *stmt, const char *name)
{
	if (name[0] ? PQparamSendQueryPrepared(c->pg, param, name, 1) : PQparamSendQuery(c->pg, param, stmt, 1))
		return true;
	conn_set_error(c, NULL);
	return false;
}

/*
 * Runs a statement for a recording: prepared (generic plans being wanted,
 * the planning is paid now, not when the recording is checked), unless its
 * parameter types cannot be told.  Same statement text, same prepared
 * statement.
 */
static PGresult *
run_recorded(Conn *c, ExecStatusType want, const char *spec, const char *stmt, PGparam *param,
			 char *name, size_t namelen)
{
	ConnRecording *r = c->recording;
	Oid			   types[64];
	int			   ntypes;
	PGresult	  *res;

	name[0] = '\0';
	for (int i = 0; i < r->n; i++)
		if (r->items[i].name[0] && strcmp(r->items[i].stmt, stmt) == 0)
		{
			snprintf(name, namelen, "%s", r->items[i].name);
			break;
		}
	if (name[0] == '\0' && spec_param_types(spec, param, types, 64, &ntypes))
	{
		snprintf(name, namelen, "pgr_rec_%u", ++record_prepared_seq);
		if (!PQsendPrepare(c->pg, name, stmt, ntypes, types))
		{
			conn_set_error(c, NULL);
			name[0] = '\0';
			return NULL;
		}
		res = conn_await_results(c, PGRES_COMMAND_OK);
		if (res == NULL)
		{
			name[0] = '\0'; /* nothing to deallocate */
			return NULL;
		}
		PQclear(res);
	}
	if (!send_param(c, param, stmt, name))
		return NULL;
	return conn_await_results(c, want);
}

/*
 * An exact image of a result: status, shape, column types and formats,
 * every value with its length (binary values may hold zero bytes).
 */
static void
result_image(const PGresult *res, StrBuf *sb)
{
	int nrows = PQntuples(res);
	int ncols = PQnfields(res);

	sb_appendf(sb, "%d %d %d\n", (int) PQresultStatus(res), nrows, ncols);
	for (int j = 0; j < ncols; j++)
		sb_appendf(sb, "%u %d\n", (unsigned int) PQftype(res, j), PQfformat(res, j));
	for (int i = 0; i < nrows; i++)
		for (int j = 0; j < ncols; j++)
		{
			if (PQgetisnull(res, i, j))
			{
				sb_append(sb, "N\n");
				continue;
			}
			sb_appendf(sb, "%d:", PQgetlength(res, i, j));
			sb_append_n(sb, PQgetvalue(res, i, j), (size_t) PQgetlength(res, i, j));
			sb_append_char(sb, '\n');
		}
}

/* Keeps stmt and param (the recording owns them now) and the result's image. */
static void
record_query(ConnRecording *r, char *stmt, PGparam *param, const char *name, const PGresult *res)
{
	RecordedQuery *q;

	if (res == NULL)
		r->broken = true;
	if (r->n == r->cap)
	{
		r->cap = r->cap ? r->cap * 2 : 16;
		r->items = pgr_realloc(r->items, sizeof(RecordedQuery) * (size_t) r->cap);
	}
	q = &r->items[r->n++];
	q->stmt = stmt;
	q->param = param;
	snprintf(q->name, sizeof(q->name), "%s", name);
	sb_init(&q->image);
	if (res)
		result_image(res, &q->image);
}

PGresult *
record_run(Conn *c, ExecStatusType want, const char *spec, char *stmt, PGparam *param)
{
	char	  name[32];
	PGresult *res = run_recorded(c, want, spec, stmt, param, name, sizeof(name));

	record_query(c->recording, stmt, param, name, res);
	return res;
}

/*
 * The recorded statements are prepared with generic plans (their planning
 * happens while recording, not at the check); only they: a generic plan for
 * other parameterized statements of the transaction could be a poor one.
 */
static const char *const generic_plans_on = "SET LOCAL plan_cache_mode = force_generic_plan";
static const char *const generic_plans_off = "SET LOCAL plan_cache_mode TO DEFAULT";

bool
conn_record_start(Conn *c)
{
	conn_record_free(c, c->recording);
	c->recording = NULL;
	if (!conn_command(c, generic_plans_on))
		return false;
	c->recording = pgr_calloc(1, sizeof(ConnRecording));
	return true;
}

ConnRecording *
conn_record_suspend(Conn *c)
{
	ConnRecording *r = c->recording;

	c->recording = NULL;
	return r;
}

void
conn_record_resume(Conn *c, ConnRecording *r)
{
	c->recording = r;
}

bool
conn_record_stop(Conn *c, ConnRecording **out)
{
	*out = c->recording;
	c->recording = NULL;
	/* after a failure the transaction may be over (or failed): nothing to reset */
	if (c->pg == NULL || PQtransactionStatus(c->pg) != PQTRANS_INTRANS)
		return true;
	return conn_command(c, generic_plans_off);
}

void
conn_record_free(Conn *c, ConnRecording *r)
{
	StrBuf sql;

	if (r == NULL)
		return;
	sb_init(&sql);
	for (int i = 0; i < r->n; i++)
	{
		bool first = r->items[i].name[0] != '\0';

		for (int k = 0; k < i && first; k++)
			if (strcmp(r->items[k].name, r->items[i].name) == 0)
				first = false;
		if (first)
			sb_appendf(&sql, "DEALLOCATE %s;", r->items[i].name);
		free(r->items[i].stmt);
		PQparamClear(r->items[i].param);
		sb_free(&r->items[i].image);
	}
	/* the prepared statements, unless the session is gone or its transaction failed */
	if (c && sql.len > 0 && c->pg && PQstatus(c->pg) == CONNECTION_OK &&
		PQtransactionStatus(c->pg) != PQTRANS_INERROR)
		conn_best_effort(c, sql.data);
	sb_free(&sql);
	free(r->items);
	free(r);
}

/*
 * Compares one result of a check with its recorded image: *same becomes
 * false on any difference; a failed statement is recorded in c (the first
 * one) and makes *ok false.
 */
static void
check_one(Conn *c, const RecordedQuery *q, PGresult *res, bool *ok, bool *same)
{
	StrBuf now;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		/* a NULL result: the failure is recorded already (conn_await_results) */
		if (*ok && res != NULL)
			conn_set_error(c, res);
		*ok = false;
		*same = false;
		return;
	}
	sb_init(&now);
	result_image(res, &now);
	if (now.len != q->image.len || memcmp(now.data, q->image.data, now.len) != 0)
		*same = false;
	sb_free(&now);
}

/* Sends one recorded statement again (its prepared statement if it has one). */
static bool
send_recorded(Conn *c, const RecordedQuery *q)
{
	log_echo_sql(c->label, q->name[0] ? q->name : q->stmt);
	return send_param(c, q->param, q->stmt, q->name);
}

#ifdef HAVE_PQ_PIPELINE
typedef struct CheckState
{
	const ConnRecording *r;
	bool				*same;
} CheckState;

/* The SET, the recorded statements, the RESET. */
static void
check_result_of(Conn *c, int i, PGresult *res, void *arg, bool *ok)
{
	CheckState *cs = arg;

	if (i >= 1 && i <= cs->r->n)
		check_one(c, &cs->r->items[i - 1], res, ok, cs->same);
	else
		pipeline_expect_success(c, res, ok);
}
#endif

bool
conn_record_check(Conn *c, const ConnRecording *r, bool *same)
{
	bool ok = true;
	int	 sent = 0;

	*same = false;
	if (r == NULL || r->broken || r->n == 0)
		return true;
	*same = true;
#ifdef HAVE_PQ_PIPELINE
	{
		CheckState cs = {r, same};

		if (!PQenterPipelineMode(c->pg))
		{
			conn_set_error(c, NULL);
			*same = false;
			return false;
		}
		log_echo_sql(c->label, generic_plans_on);
		ok = PQsendQueryParams(c->pg, generic_plans_on, 0, NULL, NULL, NULL, NULL, 0);
		for (; ok && sent < r->n; sent++)
			ok = send_recorded(c, &r->items[sent]);
		log_echo_sql(c->label, generic_plans_off);
		ok = ok && PQsendQueryParams(c->pg, generic_plans_off, 0, NULL, NULL, NULL, NULL, 0);
		if (!ok)
		{
			conn_set_error(c, NULL);
			pipeline_abandon(c);
			*same = false;
			return false;
		}
		ok = pipeline_finish(c, r->n + 2, check_result_of, &cs);
	}
#else
	if (!conn_command(c, generic_plans_on))
		return false;
	for (; sent < r->n && ok; sent++)
	{
		PGresult *res;

		if (!send_recorded(c, &r->items[sent]))
		{
			ok = false;
			break;
		}
		res = conn_await_results(c, PGRES_TUPLES_OK);
		check_one(c, &r->items[sent], res, &ok, same);
		PQclear(res);
	}
	if (ok && !conn_command(c, generic_plans_off))
		return false;
#endif
	if (!ok)
		*same = false;
	else
		conn_clear_error(c);
	return ok;
}
