/* connect.c: connections: parameters, password prompt, retry, session setup, close. */
#include "connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "backoff.h"
#include "cancel.h"
#include "clock.h"
#include "ident.h"
#include "log.h"
#include "record.h"
#include "str.h"
#include "test_hooks.h"

/* Reads a password from the terminal without echo; NULL if there is none. */
static char *
prompt_password(const char *user)
{
	FILE		  *tty = fopen("/dev/tty", "r+");
	struct termios t_orig, t;
	char		   buf[1024];
	bool		   ok;

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
	char			 *err = NULL;
	char			 *v = NULL;

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

/* The value of keyword given by an option (-h, -p, -U), or NULL. */
static const char *
option_value(const ConnParams *p, const char *keyword)
{
	if (strcmp(keyword, "host") == 0)
		return p->host;
	if (strcmp(keyword, "port") == 0)
		return p->port;
	if (strcmp(keyword, "user") == 0)
		return p->user;
	return NULL;
}

char *
conn_target_value(const ConnParams *p, const char *keyword)
{
	const char *explicit = option_value(p, keyword);
	char *v;

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
	const char *const all[][2] = {
		{"dbname", p->dbname},
		{"host", p->host},
		{"port", p->port},
		{"user", p->user},
		{"password", p->password},
		{"application_name", "pg_rebuild"},
		{"client_encoding", "UTF8"},
		{"connect_timeout", "10"},
		{"options", p->startup_options},
	};
	int n = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i][1] != NULL)
		{
			keys[n] = all[i][0];
			vals[n] = all[i][1];
			n++;
		}
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
 * database, role, pg_hba.conf) will refuse again.  The ping comes after the
 * failed attempt, so a server that finished starting up in between answers
 * it as running although the attempt met "the database system is starting
 * up": a refusal by a running server is therefore tried once more at once
 * (*refused_before counts them in a row; the caller retries quietly when it
 * is 1) before it is taken as final.
 */
static bool
worth_retrying(ConnParams *p, int *refused_before, PGPing *ping)
{
	const char *keys[12];
	const char *vals[12];

	connect_keywords(p, keys, vals);
	*ping = PQpingParams(keys, vals, 1);
	if (*ping == PQPING_NO_RESPONSE || *ping == PQPING_REJECT)
	{
		*refused_before = 0;
		return true;
	}
	return *ping == PQPING_OK && ++(*refused_before) == 1;
}

/* The connection's error message on one line (libpq's may span several). */
static char *
trimmed_error(PGconn *pg)
{
	StrBuf sb;
	bool   space = false;

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

/*
 * The notice "... does not exist, skipping" of a DROP ... IF EXISTS, told by
 * where the server raised it (not by its text, which lc_messages
 * translates): tablecmds.c's DropErrorMsgNonExistent for relations,
 * dropcmds.c's does_not_exist_skipping for functions and triggers.
 */
static bool
is_skip_notice(const PGresult *res)
{
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *routine = PQresultErrorField(res, PG_DIAG_SOURCE_FUNCTION);

	return severity && strcmp(severity, "NOTICE") == 0 && sqlstate && strcmp(sqlstate, "00000") == 0 &&
		   routine &&
		   (strcmp(routine, "DropErrorMsgNonExistent") == 0 || strcmp(routine, "does_not_exist_skipping") == 0);
}

/*
 * Server notices are shown only with --verbose, but never the skip notices
 * of the tool's own IF EXISTS statements (conn_command_if_exists), which say
 * nothing the tool does not expect.  Warnings and every other notice are
 * shown, during those statements too.
 */
static void
notice_to_verbose(void *arg, const PGresult *res)
{
	const Conn *c = arg;
	const char *message = PQresultErrorMessage(res);
	size_t		n = strlen(message);

	if (log_get_level() < LOG_VERBOSE || (c->quiet_skips && is_skip_notice(res)))
		return;
	log_verbose("server: %.*s", (int) (n > 0 && message[n - 1] == '\n' ? n - 1 : n), message);
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
	PGconn	 *pg;
	Conn	 *c;
	PGresult *res;

	double	  start = pgr_now();
	Backoff	  b;
	int		  refused = 0;	/* refusals in a row by a running server */

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
		char  *m;
		double left;
		double wait;
		PGPing ping = PQPING_OK;

		pgr_test_pause("CONNECT");
		pg = connect_once(params);
		if (PQstatus(pg) == CONNECTION_OK)
			break;
		if (PQconnectionNeedsPassword(pg) && params->password == NULL &&
			params->prompt != PROMPT_NEVER)
		{
			char *pw = prompt_password(PQuser(pg));

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
		if (worth_retrying(params, &refused, &ping) && left > 0 && !pgr_interrupted)
		{
			if (ping == PQPING_OK)
			{
				/* refused by a running server: once more at once, quietly */
				free(m);
				continue;
			}
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
	c->cancel_slot = cancel_register(pg);
	PQsetNoticeReceiver(pg, notice_to_verbose, c);
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
		char *m = trimmed_error(pg);

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
conn_close(Conn *c)
{
	if (c == NULL)
		return;
	cancel_unregister(c->cancel_slot);
	conn_record_free(NULL, c->recording);
	PQclear(c->batch_kept);
	if (c->pg)
		PQfinish(c->pg);
	conn_clear_error(c);
	free(c);
}

bool
conn_set_role(Conn *c, const char *role)
{
	char *q;
	bool  ok;

	if (role == NULL)
		return true;
	q = ident_quote(role);
	ok = conn_commandv(c, "SET ROLE %s", q);
	free(q);
	return ok;
}
