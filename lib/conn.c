/* conn.c: connections, session setup, queries, cancel on interrupt. */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "ident.h"
#include "log.h"

volatile sig_atomic_t pgr_interrupted = 0;

static bool batch_send(Conn *c, const char *sql, int nparams, const char *const *values);
#ifdef HAVE_PQ_PIPELINE
static void pipeline_abandon(Conn *c);
#endif

/*
 * Cancel objects of open connections, for the signal handler.  Slots are
 * filled and emptied with the signals blocked, so the handler never sees a
 * half-freed entry.
 */
#define MAX_CANCEL_SLOTS 128
static PGcancel *volatile cancel_slots[MAX_CANCEL_SLOTS];

static void
handle_signal(int signo)
{
	char		errbuf[256];

	(void) signo;
	pgr_interrupted = 1;
	for (int i = 0; i < MAX_CANCEL_SLOTS; i++)
		if (cancel_slots[i])
			(void) PQcancel(cancel_slots[i], errbuf, sizeof(errbuf));
}

void
conn_install_signal_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handle_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void
block_signals(sigset_t *old)
{
	sigset_t	set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, old);
}

static int
register_cancel(PGconn *pg)
{
	sigset_t	old;
	int			slot = -1;

	block_signals(&old);
	for (int i = 0; i < MAX_CANCEL_SLOTS; i++)
		if (cancel_slots[i] == NULL)
		{
			cancel_slots[i] = PQgetCancel(pg);
			slot = i;
			break;
		}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return slot;
}

static void
unregister_cancel(int slot)
{
	sigset_t	old;
	PGcancel   *cancel;

	if (slot < 0)
		return;
	block_signals(&old);
	cancel = cancel_slots[slot];
	cancel_slots[slot] = NULL;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (cancel)
		PQfreeCancel(cancel);
}

static bool (*wait_hook) (void *) = NULL;
static void *wait_hook_arg = NULL;
static bool in_wait_hook = false;

void
conn_set_wait_hook(bool (*hook) (void *arg), void *arg)
{
	wait_hook = hook;
	wait_hook_arg = arg;
}

/* Calls the wait hook unless it is running already; its verdict. */
static bool
call_wait_hook(void)
{
	bool		ok;

	if (wait_hook == NULL || in_wait_hook)
		return true;
	in_wait_hook = true;
	ok = wait_hook(wait_hook_arg);
	in_wait_hook = false;
	return ok;
}

double
pgr_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
pgr_sleep_ms(double ms)
{
	double		until = pgr_now() + ms / 1000.0;

	while (!pgr_interrupted)
	{
		double		left = until - pgr_now();
		struct timespec ts;

		if (left <= 0)
			break;
		if (!call_wait_hook())
			break;
		if (left > 0.1)
			left = 0.1;
		ts.tv_sec = (time_t) left;
		ts.tv_nsec = (long) ((left - (double) ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

/* Reads a password from the terminal without echo; NULL if there is none. */
static char *
prompt_password(const char *user)
{
	FILE	   *tty = fopen("/dev/tty", "r+");
	struct termios t_orig, t;
	char		buf[1024];
	bool		ok;

	if (tty == NULL)
		return NULL;
	if (user)
		fprintf(tty, "Password for user %s: ", user);
	else
		fputs("Password: ", tty);
	fflush(tty);
	tcgetattr(fileno(tty), &t_orig);
	t = t_orig;
	t.c_lflag &= ~(tcflag_t) ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &t);
	ok = fgets(buf, sizeof(buf), tty) != NULL;
	tcsetattr(fileno(tty), TCSAFLUSH, &t_orig);
	fputc('\n', tty);
	fclose(tty);
	if (!ok)
		return NULL;
	buf[strcspn(buf, "\r\n")] = '\0';
	return pgr_strdup(buf);
}

/*
 * Server settings sent in the startup packet, so that no role or database
 * default (a statement_timeout of 1 ms, say) applies even to our first
 * statement; appended to the options the user gave (in the connection
 * string, or PGOPTIONS).
 */
static const char *const our_startup_options =
"-c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0";

/* The value of keyword in a connection string or URI, or NULL. */
static char *
conninfo_value(const char *conninfo, const char *keyword)
{
	PQconninfoOption *opts;
	char	   *err = NULL;
	char	   *v = NULL;

	if (conninfo == NULL || (strchr(conninfo, '=') == NULL && strncmp(conninfo, "postgres", 8) != 0))
		return NULL;
	opts = PQconninfoParse(conninfo, &err);
	if (opts == NULL)
	{
		PQfreemem(err);
		return NULL;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0 && o->val && *o->val)
			v = pgr_strdup(o->val);
	PQconninfoFree(opts);
	return v;
}

char *
conn_target_value(const ConnParams *p, const char *keyword)
{
	const char *explicit = strcmp(keyword, "host") == 0 ? p->host :
		strcmp(keyword, "port") == 0 ? p->port :
		strcmp(keyword, "user") == 0 ? p->user : NULL;
	char	   *v;

	if (explicit)
		return pgr_strdup(explicit);
	v = conninfo_value(p->dbname, keyword);
	if (v == NULL && strcmp(keyword, "dbname") == 0 && p->dbname && *p->dbname &&
		strchr(p->dbname, '=') == NULL && strncmp(p->dbname, "postgres", 8) != 0)
		v = pgr_strdup(p->dbname);
	return v;
}

static char *
merged_startup_options(const ConnParams *p)
{
	char	   *user = conninfo_value(p->dbname, "options");
	const char *env = getenv("PGOPTIONS");
	char	   *out;

	if (user == NULL && env && *env)
		user = pgr_strdup(env);
	out = user ? pgr_psprintf("%s %s", user, our_startup_options) : pgr_strdup(our_startup_options);
	free(user);
	return out;
}

/* A port list ("5432" or "5432,5433") that libpq would refuse, or NULL. */
static const char *
bad_port(const char *ports)
{
	if (ports == NULL)
		return NULL;
	for (const char *p = ports; *p; p++)
		if (!(*p >= '0' && *p <= '9') && *p != ',' && *p != ' ')
			return ports;
	return NULL;
}

/* Fills keys/vals for libpq; returns the count (arrays hold 12). */
static int
connect_keywords(const ConnParams *p, const char **keys, const char **vals)
{
	int			n = 0;

#define ADD(k, v) do { if ((v) != NULL) { keys[n] = (k); vals[n] = (v); n++; } } while (0)
	ADD("dbname", p->dbname);
	ADD("host", p->host);
	ADD("port", p->port);
	ADD("user", p->user);
	ADD("password", p->password);
	ADD("application_name", "pg_rebuild");
	ADD("client_encoding", "UTF8");
	ADD("connect_timeout", "10");
	ADD("options", p->startup_options);
#undef ADD
	keys[n] = NULL;
	vals[n] = NULL;
	return n;
}

static PGconn *
connect_once(ConnParams *p)
{
	const char *keys[12];
	const char *vals[12];

	connect_keywords(p, keys, vals);
	return PQconnectdbParams(keys, vals, 1);
}

/*
 * Whether a failed connection is worth retrying: the server did not answer,
 * or answered that it is not accepting connections (starting up, shutting
 * down, in crash recovery).  A running server that refused us (password,
 * database, role, pg_hba.conf) will refuse again.
 */
static bool
worth_retrying(ConnParams *p, PGPing *ping)
{
	const char *keys[12];
	const char *vals[12];

	connect_keywords(p, keys, vals);
	*ping = PQpingParams(keys, vals, 1);
	return *ping == PQPING_NO_RESPONSE || *ping == PQPING_REJECT;
}

/* The connection's error message on one line (libpq's may span several). */
static char *
trimmed_error(PGconn *pg)
{
	StrBuf		sb;
	bool		space = false;

	sb_init(&sb);
	for (const char *p = PQerrorMessage(pg); *p; p++)
	{
		if (*p == '\n' || *p == '\t' || *p == ' ')
			space = sb.len > 0;
		else
		{
			if (space)
				sb_append_char(&sb, ' ');
			space = false;
			sb_append_char(&sb, *p);
		}
	}
	return sb_steal(&sb);
}

/* Server notices are shown only with --verbose. */
static void
notice_to_verbose(void *arg, const char *message)
{
	(void) arg;
	if (log_get_level() >= LOG_VERBOSE)
	{
		size_t		n = strlen(message);

		log_verbose("server: %.*s", (int) (n > 0 && message[n - 1] == '\n' ? n - 1 : n), message);
	}
}

static const char *const session_setup =
"SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false), "
"pg_catalog.set_config('row_security', 'off', false), "
"pg_catalog.set_config('statement_timeout', '0', false), "
"pg_catalog.set_config('idle_in_transaction_session_timeout', '0', false), "
"pg_catalog.set_config('lock_timeout', '0', false), "
/* each statement of the swap's transaction sees what committed before it */
"pg_catalog.set_config('default_transaction_isolation', 'read committed', false)";

Conn *
conn_open(ConnParams *params, const char *label)
{
	PGconn	   *pg;
	Conn	   *c;
	PGresult   *res;

	double		start = pgr_now();
	Backoff		b;
	bool		tried_since_ready = false;

	backoff_init(&b, 250, 10000, (uint64_t) (start * 1e6) ^ (uint64_t) getpid());
	{
		/* a mistake in the parameters is not worth retrying */
		char	   *cport = conninfo_value(params->dbname, "port");
		const char *bad = bad_port(params->port) ? params->port : bad_port(cport);

		if (bad)
		{
			log_error("invalid port \"%s\": expected a number (or a comma-separated list of numbers)", bad);
			log_detail("Nothing was changed.");
			free(cport);
			return NULL;
		}
		free(cport);
	}
	if (params->startup_options == NULL)
		params->startup_options = merged_startup_options(params);
	if (params->prompt == PROMPT_ALWAYS && params->password == NULL)
		params->password = prompt_password(params->user);
	for (;;)
	{
		char	   *m;
		double		left;
		double		wait;
		PGPing		ping = PQPING_OK;

		pg = connect_once(params);
		if (PQstatus(pg) == CONNECTION_OK)
			break;
		if (PQconnectionNeedsPassword(pg) && params->password == NULL &&
			params->prompt != PROMPT_NEVER)
		{
			char	   *pw = prompt_password(PQuser(pg));

			if (pw != NULL)
			{
				PQfinish(pg);
				params->password = pw;
				continue;
			}
		}
		m = trimmed_error(pg);
		PQfinish(pg);
		left = params->retry_timeout_s - (pgr_now() - start);
		if (!worth_retrying(params, &ping) || pgr_interrupted)
		{
			/*
			 * The server accepts connections now: either it refuses ours
			 * (authentication, no such database), or it became ready just
			 * after refusing it ("starting up"): one more try tells.
			 */
			if (ping == PQPING_OK && !tried_since_ready && !pgr_interrupted && left > 0)
			{
				tried_since_ready = true;
				free(m);
				continue;
			}
			left = 0;
		}
		else
			tried_since_ready = false;
		if (left > 0)
		{
			wait = backoff_clamp(backoff_next(&b), left * 1000.0);
			log_warning("could not connect to the database (%s): retrying in %.1f s (%.0f s left of --retry-timeout)",
						m, wait / 1000.0, left);
			free(m);
			pgr_sleep_ms(wait);
			continue;
		}
		log_error("could not connect to the database: %s", m);
		free(m);
		if (ping == PQPING_REJECT)
		{
			/* the server is there, and says it cannot take connections now */
			log_detail("The server is running but does not accept connections: it is starting up, recovering "
					   "from a crash, shutting down, or a standby without hot_standby. Nothing was changed by "
					   "this connection attempt.");
			log_hint("Run again once the server accepts connections (its log says when recovery ends); "
					 "--retry-timeout (%.0f s) is how long pg_rebuild keeps trying.", params->retry_timeout_s);
			return NULL;
		}
		log_detail("Nothing was changed by this connection attempt.");
		log_hint("Check -d/-h/-p/-U, the PG* environment variables and ~/.pgpass; "
				 "the server must accept connections from this host.");
		return NULL;
	}

	c = pgr_calloc(1, sizeof(Conn));
	c->pg = pg;
	snprintf(c->label, sizeof(c->label), "%s", label);
	c->cancel_slot = register_cancel(pg);
	PQsetNoticeProcessor(pg, notice_to_verbose, NULL);
	if (!PQinitTypes(pg))
	{
		log_error("could not initialise libpqtypes on the connection: %s", PQgeterror());
		conn_close(c);
		return NULL;
	}
	res = PQexec(pg, session_setup);
	log_echo_sql(c->label, session_setup);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		char	   *m = trimmed_error(pg);

		log_error("could not set up the session: %s", m);
		log_detail("Nothing was changed.");
		free(m);
		PQclear(res);
		conn_close(c);
		return NULL;
	}
	PQclear(res);
	return c;
}

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

void
conn_close(Conn *c)
{
	if (c == NULL)
		return;
	unregister_cancel(c->cancel_slot);
	conn_record_free(NULL, c->recording);
	PQclear(c->batch_kept);
	if (c->pg)
		PQfinish(c->pg);
	conn_clear_error(c);
	free(c);
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
	int			v = conn_server_version(c);

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

/* Records the error of res (or of the connection if res is NULL). */
static void
record_error(Conn *c, const PGresult *res)
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
	record_error(c, res);
	return false;
}

void
conn_best_effort(Conn *c, const char *sql)
{
	PGresult   *res;

	if (c == NULL || c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK)
		return;
#ifdef HAVE_PQ_PIPELINE
	pipeline_abandon(c);
#endif
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


/* Sends a cancel request for whatever runs on c. */
static void
cancel_running(Conn *c)
{
	PGcancel   *cancel = PQgetCancel(c->pg);
	char		errbuf[256];

	if (cancel)
	{
		(void) PQcancel(cancel, errbuf, sizeof(errbuf));
		PQfreeCancel(cancel);
	}
}

/*
 * Waits for the statement sent on c, reading input as it comes, and calls
 * the wait hook while it runs long; cancels the statement when the hook says
 * so.
 */
static void
await_result(Conn *c)
{
	double		start = pgr_now();
	double		last_hook = start;
	bool		canceled = false;

	c->busy = true;
	while (PQisBusy(c->pg))
	{
		fd_set		rfds;
		struct timeval tv = {0, 100000};
		int			fd = PQsocket(c->pg);

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
			if (!call_wait_hook())
			{
				cancel_running(c);
				canceled = true;
			}
		}
	}
	c->busy = false;
}

/*
 * Reads every result of the statement(s) sent on c; the first failure
 * counts.  Returns the last result when all succeeded (caller clears it),
 * NULL otherwise (error recorded in c).
 */
static PGresult *
collect_results(Conn *c, ExecStatusType want)
{
	PGresult   *res;
	PGresult   *last = NULL;
	bool		ok = true;

	await_result(c);
	while ((res = PQgetResult(c->pg)) != NULL)
	{
		if (ok && !check_result(c, res, want))
			ok = false;
		PQclear(last);
		last = res;
	}
	if (ok && last == NULL)
	{
		record_error(c, NULL);
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
	PGresult   *res;

	if (c->batching)
		return batch_send(c, sql, 0, NULL);
	log_echo_sql(c->label, sql);
	if (!PQsendQuery(c->pg, sql))
	{
		record_error(c, NULL);
		return false;
	}
	res = collect_results(c, PGRES_COMMAND_OK);
	PQclear(res);
	return res != NULL;
}

bool
conn_commandv(Conn *c, const char *fmt, ...)
{
	StrBuf		sb;
	va_list		ap;
	bool		ok;

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
	PGresult   *res;

	if (c->batching)
	{
		if (affected)
			*affected = 0;
		return batch_send(c, sql, nparams, values);
	}
	log_echo_sql(c->label, sql);
	if (!PQsendQueryParams(c->pg, sql, nparams, NULL, values, NULL, NULL, 0))
	{
		record_error(c, NULL);
		return false;
	}
	res = collect_results(c, PGRES_COMMAND_OK);
	if (res == NULL)
		return false;
	if (affected)
		*affected = atoll(PQcmdTuples(res));
	PQclear(res);
	return true;
}

PGresult *
conn_query(Conn *c, const char *sql)
{
	log_echo_sql(c->label, sql);
	if (!PQsendQuery(c->pg, sql))
	{
		record_error(c, NULL);
		return NULL;
	}
	return collect_results(c, PGRES_TUPLES_OK);
}

/* One statement of a recording, with the image of what it returned. */
typedef struct RecordedQuery
{
	char	   *stmt;
	PGparam    *param;
	char		name[32];		/* its prepared statement, "" if run unnamed */
	StrBuf		image;
} RecordedQuery;

struct ConnRecording
{
	RecordedQuery *items;
	int			n;
	int			cap;
	bool		broken;			/* a statement failed while recorded */
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
	}			known[] = {
		{"bool", 16}, {"int8", 20}, {"int2", 21}, {"int4", 23}, {"text", 25}, {"oid", 26},
		{"float8", 701}, {"name", 19},
	};

	*n = 0;
	for (const char *p = strchr(spec, '%'); p != NULL; p = strchr(p + 1, '%'))
	{
		size_t		len = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz0123456789_.[]");
		bool		found = false;

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
	record_error(c, NULL);
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
	Oid			types[64];
	int			ntypes;
	PGresult   *res;

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
			record_error(c, NULL);
			name[0] = '\0';
			return NULL;
		}
		res = collect_results(c, PGRES_COMMAND_OK);
		if (res == NULL)
		{
			name[0] = '\0';	/* nothing to deallocate */
			return NULL;
		}
		PQclear(res);
	}
	if (!send_param(c, param, stmt, name))
		return NULL;
	return collect_results(c, want);
}

/*
 * An exact image of a result: status, shape, column types and formats,
 * every value with its length (binary values may hold zero bytes).
 */
static void
result_image(const PGresult *res, StrBuf *sb)
{
	int			nrows = PQntuples(res);
	int			ncols = PQnfields(res);

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
	StrBuf		sql;

	if (r == NULL)
		return;
	sb_init(&sql);
	for (int i = 0; i < r->n; i++)
	{
		bool		first = r->items[i].name[0] != '\0';

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
	StrBuf		now;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		/* a NULL result: the failure is recorded already (collect_results) */
		if (*ok && res != NULL)
			record_error(c, res);
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
/*
 * After a failure in pipeline mode: sync, read and drop whatever is left,
 * leave pipeline mode, so that the connection can run the caller's
 * ROLLBACK.  Does nothing when the connection is broken or not in a
 * pipeline.
 */
static void
pipeline_abandon(Conn *c)
{
	if (c->pg == NULL || PQpipelineStatus(c->pg) == PQ_PIPELINE_OFF)
		return;
	if (PQstatus(c->pg) == CONNECTION_OK && PQpipelineSync(c->pg))
	{
		for (;;)
		{
			PGresult   *res;

			await_result(c);
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
}

/*
 * Ends a pipeline of n statements sent on c: syncs, reads each statement's
 * result and hands it to each(c, i, res, arg, &ok) (which records the first
 * failure and clears ok), reads the sync and leaves pipeline mode.  false
 * when a statement failed or the connection broke (error recorded in c).
 */
typedef void (*PipelineResultFn) (Conn *c, int i, PGresult *res, void *arg, bool *ok);

static bool
pipeline_finish(Conn *c, int n, PipelineResultFn each, void *arg)
{
	bool		ok = true;

	if (!PQpipelineSync(c->pg))
	{
		record_error(c, NULL);
		pipeline_abandon(c);
		return false;
	}
	for (int i = 0; i < n; i++)
	{
		PGresult   *res;

		await_result(c);
		res = PQgetResult(c->pg);
		if (res == NULL)
		{
			if (ok)
				record_error(c, NULL);
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
		PGresult   *res;
		ExecStatusType st;

		await_result(c);
		res = PQgetResult(c->pg);
		if (res == NULL)
		{
			if (PQstatus(c->pg) != CONNECTION_OK)
			{
				if (ok)
					record_error(c, NULL);
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
			record_error(c, NULL);
		pipeline_abandon(c);
		return false;
	}
	return ok;
}
#endif

/* Any statement of a pipeline: success is a command or rows. */
static void
expect_success(Conn *c, PGresult *res, bool *ok)
{
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && *ok)
	{
		record_error(c, res);
		*ok = false;
	}
}

typedef struct CheckState
{
	const ConnRecording *r;
	bool	   *same;
} CheckState;

/* The SET, the recorded statements, the RESET. */
static void
check_result_of(Conn *c, int i, PGresult *res, void *arg, bool *ok)
{
	CheckState *cs = arg;

	if (i >= 1 && i <= cs->r->n)
		check_one(c, &cs->r->items[i - 1], res, ok, cs->same);
	else
		expect_success(c, res, ok);
}

bool
conn_record_check(Conn *c, const ConnRecording *r, bool *same)
{
	bool		ok = true;
	int			sent = 0;

	*same = false;
	if (r == NULL || r->broken || r->n == 0)
		return true;
	*same = true;
#ifdef HAVE_PQ_PIPELINE
	{
		CheckState	cs = {r, same};

		if (!PQenterPipelineMode(c->pg))
		{
			record_error(c, NULL);
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
			record_error(c, NULL);
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
		PGresult   *res;

		if (!send_recorded(c, &r->items[sent]))
		{
			ok = false;
			break;
		}
		res = collect_results(c, PGRES_TUPLES_OK);
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

/*
 * Batches: see conn_batch_begin.  Statements are sent as they come; their
 * results are read at conn_batch_end.
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
		record_error(c, NULL);
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
		record_error(c, NULL);
		c->batch_failed = true;
	}
	if (ok)
		c->batch_n++;
	return true;
}

static bool
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
	PGresult  **kept = arg;

	expect_success(c, res, ok);
	if (*ok && i == c->batch_keep && PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		*kept = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
		if (*kept == NULL)
		{
			c->message = pgr_strdup("out of memory");
			*ok = false;
		}
	}
}
#endif

bool
conn_batch_end(Conn *c, PGresult **kept)
{
	bool		ok = true;
	PGresult   *res = NULL;

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

/* Records an error of pg_rebuild's own (SQLSTATE XX000); takes message. */
static void
internal_error(Conn *c, char *message)
{
	conn_clear_error(c);
	c->message = message;
	snprintf(c->sqlstate, sizeof(c->sqlstate), "XX000");
}

/*
 * The parameters and the statement ($1, $2, ...) of a libpqtypes spec; NULL
 * (error recorded in c) when the spec cannot be used.
 */
static PGparam *
spec_statement(Conn *c, const char *spec, va_list ap, char **stmt)
{
	PGparam    *param = PQparamCreate(c->pg);
	size_t		buflen = strlen(spec) + 64;

	*stmt = pgr_malloc(buflen);
	if (param == NULL || !PQputvf(param, *stmt, buflen, spec, ap))
	{
		internal_error(c, pgr_psprintf("internal error preparing a query: %s", PQgeterror()));
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
	char	   *stmt;
	PGparam    *param = spec_statement(c, spec, ap, &stmt);
	PGresult   *res = NULL;

	if (param == NULL)
		return NULL;
	if (c->recording)
	{
		char		name[32];

		res = run_recorded(c, want, spec, stmt, param, name, sizeof(name));
		record_query(c->recording, stmt, param, name, res);
		return res;
	}
	if (!PQparamSendQuery(c->pg, param, stmt, 1))
	{
		PQparamClear(param);
		free(stmt);
		record_error(c, NULL);
		return NULL;
	}
	res = collect_results(c, want);
	PQparamClear(param);
	free(stmt);
	return res;
}

/* conn_execf inside a batch: the statement is sent, its result read later. */
static bool
batch_spec(Conn *c, const char *spec, va_list ap)
{
	char	   *stmt;
	PGparam    *param;

	if (c->batch_failed)
		return true;			/* the first failure is the one reported */
	param = spec_statement(c, spec, ap, &stmt);
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

PGresult *
conn_queryf(Conn *c, const char *spec, ...)
{
	va_list		ap;
	PGresult   *res;

	if (c->batching)
	{
		if (!c->batch_failed)
			internal_error(c, pgr_strdup("internal error: a query that returns rows inside a batch"));
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
	va_list		ap;
	PGresult   *res;

	va_start(ap, spec);
	if (c->batching)
	{
		bool		ok = batch_spec(c, spec, ap);

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
	log_error("%s: %s", what, c->message ? c->message : "unknown error");
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
conn_send(Conn *c, const char *sql)
{
	conn_clear_error(c);
	log_echo_sql(c->label, sql);
	if (!PQsendQuery(c->pg, sql))
	{
		record_error(c, NULL);
		return false;
	}
	return true;
}

bool
conn_collect(Conn *c, bool *ok, long long *affected)
{
	PGresult   *res;

	if (!PQconsumeInput(c->pg))
	{
		record_error(c, NULL);
		*ok = false;
		return true;
	}
	*ok = true;
	*affected = 0;
	while (!PQisBusy(c->pg))
	{
		res = PQgetResult(c->pg);
		if (res == NULL)
		{
			if (PQstatus(c->pg) != CONNECTION_OK && c->sqlstate[0] == '\0')
				record_error(c, NULL);
			*ok = c->sqlstate[0] == '\0';
			return true;
		}
		if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			if (c->sqlstate[0] == '\0')
				record_error(c, res);
		}
		else
		{
			const char *n = PQcmdTuples(res);

			if (n && *n)
				*affected += atoll(n);
		}
		PQclear(res);
	}
	return false;
}

void
conn_wait_any(Conn **conns, int n, int timeout_ms)
{
	fd_set		rfds;
	int			maxfd = -1;
	struct timeval tv;

	FD_ZERO(&rfds);
	for (int i = 0; i < n; i++)
	{
		int			fd;

		if (conns[i] == NULL || conns[i]->pg == NULL)
			continue;
		fd = PQsocket(conns[i]->pg);
		if (fd < 0)
			continue;
		FD_SET(fd, &rfds);
		if (fd > maxfd)
			maxfd = fd;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (maxfd < 0)
	{
		pgr_sleep_ms(timeout_ms);
		return;
	}
	(void) select(maxfd + 1, &rfds, NULL, NULL, &tv);
}

bool
res_isnull(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) != 0;
}

char *
res_text(const PGresult *res, int row, int col)
{
	PGtext		v = NULL;

	if (PQgetisnull(res, row, col) || !PQgetf(res, row, "%text", col, &v) || v == NULL)
		return NULL;
	return pgr_strdup(v);
}

int
res_int4(const PGresult *res, int row, int col)
{
	PGint4		v = 0;

	if (PQgetisnull(res, row, col) || !PQgetf(res, row, "%int4", col, &v))
		return 0;
	return v;
}

long long
res_int8(const PGresult *res, int row, int col)
{
	PGint8		v = 0;

	if (PQgetisnull(res, row, col) || !PQgetf(res, row, "%int8", col, &v))
		return 0;
	return (long long) v;
}

double
res_float8(const PGresult *res, int row, int col)
{
	PGfloat8	v = 0;

	if (PQgetisnull(res, row, col) || !PQgetf(res, row, "%float8", col, &v))
		return 0;
	return v;
}

bool
res_bool(const PGresult *res, int row, int col)
{
	PGbool		v = 0;

	if (PQgetisnull(res, row, col) || !PQgetf(res, row, "%bool", col, &v))
		return false;
	return v != 0;
}

Oid
res_oid(const PGresult *res, int row, int col)
{
	Oid			v = 0;

	if (PQgetisnull(res, row, col) || !PQgetf(res, row, "%oid", col, &v))
		return 0;
	return v;
}

bool
conn_pool_run(Conn **conns, int nconns, char *const *tasks, int ntasks,
			  PoolDoneFn on_done, void *arg, PoolTickFn tick, void *tick_arg, Conn **failed)
{
	int		   *running = pgr_malloc(sizeof(int) * (size_t) nconns);
	int			next = 0;
	int			busy = 0;
	bool		ok = true;
	bool		stopped = false;

	*failed = NULL;
	for (int i = 0; i < nconns; i++)
		running[i] = -1;
	while ((ok && next < ntasks) || busy > 0)
	{
		/* hand out work */
		for (int i = 0; i < nconns && ok && next < ntasks && !pgr_interrupted; i++)
		{
			if (running[i] >= 0)
				continue;
			if (!conn_send(conns[i], tasks[next]))
			{
				ok = false;
				*failed = conns[i];
				break;
			}
			running[i] = next++;
			busy++;
		}
		if (pgr_interrupted && ok)
		{
			ok = false;
			/* the signal handler has sent cancel requests already */
		}
		if (busy == 0)
			break;
		conn_wait_any(conns, nconns, 200);
		if (ok && tick && !tick(tick_arg))
		{
			ok = false;
			stopped = true;
			for (int i = 0; i < nconns; i++)
				if (running[i] >= 0)
					cancel_running(conns[i]);
		}
		for (int i = 0; i < nconns; i++)
		{
			bool		task_ok;
			long long	affected;

			if (running[i] < 0)
				continue;
			if (!conn_collect(conns[i], &task_ok, &affected))
				continue;
			busy--;
			if (task_ok)
			{
				if (on_done)
					on_done(arg, running[i], affected);
			}
			else
			{
				if (*failed == NULL && !stopped)
					*failed = conns[i];
				ok = false;
				conn_best_effort(conns[i], "ROLLBACK");
			}
			running[i] = -1;
		}
	}
	free(running);
	if (!ok && *failed == NULL && nconns > 0 && !stopped)
	{
		/* interrupted between tasks: report it on the first connection */
		conn_clear_error(conns[0]);
		conns[0]->message = pgr_strdup("canceled by a signal");
		snprintf(conns[0]->sqlstate, sizeof(conns[0]->sqlstate), "57014");
		*failed = conns[0];
	}
	return ok;
}

void
pgr_test_pause(const char *point)
{
	static struct
	{
		char		point[64];
		int			count;
	}			seen[32];
	char		name[128];
	const char *v;
	const char *wait_for;
	const char *times;
	int			k;

	snprintf(name, sizeof(name), "PGR_TEST_WAIT_%s", point);
	wait_for = getenv(name);
	snprintf(name, sizeof(name), "PGR_TEST_SLEEP_%s", point);
	v = getenv(name);
	if ((v == NULL || *v == '\0') && (wait_for == NULL || *wait_for == '\0'))
		return;
	/* PGR_TEST_SLEEP_<POINT>_TIMES=n: only the first n times */
	snprintf(name, sizeof(name), "PGR_TEST_SLEEP_%s_TIMES", point);
	times = getenv(name);
	for (k = 0; k < 32 && seen[k].point[0] && strcmp(seen[k].point, point) != 0; k++)
		;
	if (k < 32)
	{
		if (seen[k].point[0] == '\0')
			snprintf(seen[k].point, sizeof(seen[k].point), "%s", point);
		if (times && *times && seen[k].count >= atoi(times))
			return;
		seen[k].count++;
	}
	/* a marker the tests wait for before they strike */
	fprintf(stderr, "pg_rebuild: test: pausing at %s\n", point);
	fflush(stderr);
	if (wait_for && *wait_for)
	{
		/* PGR_TEST_WAIT_<POINT>=file: until the test creates the file (an event, not a time) */
		while (access(wait_for, F_OK) != 0 && !pgr_interrupted)
			pgr_sleep_ms(20);
		return;
	}
	pgr_sleep_ms(atof(v));
}

bool
conn_set_role(Conn *c, const char *role)
{
	char	   *q;
	bool		ok;

	if (role == NULL)
		return true;
	q = ident_quote(role);
	ok = conn_commandv(c, "SET ROLE %s", q);
	free(q);
	return ok;
}
