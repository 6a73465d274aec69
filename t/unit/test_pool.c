/*
 * test_pool.c: the parallel pool counts a task as failed whenever its
 * statement failed, whether or not the error carries a SQLSTATE.
 *
 * A real server always sends one, so this runs against a fake server: a
 * child process that speaks just enough of the protocol (v3 startup, simple
 * queries) to answer each statement as scripted below, including a server
 * error without a SQLSTATE and a malformed row, on which libpq itself reports
 * an error (no SQLSTATE) and keeps the connection usable.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conn.h"
#include "connect.h"
#include "pool.h"
#include "tap.h"

#define FAKE_PORT "5499"
#define MAX_CLIENTS 8

/* ------------------------------------------------------------------------
 * The fake server
 * ------------------------------------------------------------------------ */

typedef struct Out
{
	char		buf[8192];
	size_t		len;
} Out;

static void
put_bytes(Out *o, const void *p, size_t n)
{
	if (o->len + n <= sizeof(o->buf))
	{
		memcpy(o->buf + o->len, p, n);
		o->len += n;
	}
}

static void
put_int32(Out *o, uint32_t v)
{
	unsigned char b[4] = {v >> 24, v >> 16, v >> 8, v};

	put_bytes(o, b, 4);
}

static void
put_int16(Out *o, uint16_t v)
{
	unsigned char b[2] = {v >> 8, v};

	put_bytes(o, b, 2);
}

static void
put_str(Out *o, const char *s)
{
	put_bytes(o, s, strlen(s) + 1);
}

/* Starts a message of type t; end_msg fills in its length. */
static size_t
begin_msg(Out *o, char t)
{
	size_t		at;

	put_bytes(o, &t, 1);
	at = o->len;
	put_int32(o, 0);
	return at;
}

static void
end_msg(Out *o, size_t at)
{
	uint32_t	n = (uint32_t) (o->len - at);
	unsigned char b[4] = {n >> 24, n >> 16, n >> 8, n};

	memcpy(o->buf + at, b, 4);
}

static void
command_complete(Out *o, const char *tag)
{
	size_t		m = begin_msg(o, 'C');

	put_str(o, tag);
	end_msg(o, m);
}

/* An ErrorResponse; sqlstate NULL leaves the 'C' field out. */
static void
error_response(Out *o, const char *sqlstate, const char *message)
{
	size_t		m = begin_msg(o, 'E');

	put_bytes(o, "S", 1);
	put_str(o, "ERROR");
	put_bytes(o, "V", 1);
	put_str(o, "ERROR");
	if (sqlstate)
	{
		put_bytes(o, "C", 1);
		put_str(o, sqlstate);
	}
	put_bytes(o, "M", 1);
	put_str(o, message);
	put_bytes(o, "\0", 1);
	end_msg(o, m);
}

/* A RowDescription of n text columns. */
static void
row_description(Out *o, int n)
{
	size_t		m = begin_msg(o, 'T');

	put_int16(o, (uint16_t) n);
	for (int i = 0; i < n; i++)
	{
		char		name[16];

		snprintf(name, sizeof(name), "c%d", i + 1);
		put_str(o, name);
		put_int32(o, 0);		/* table */
		put_int16(o, 0);		/* column */
		put_int32(o, 25);		/* text */
		put_int16(o, (uint16_t) -1);
		put_int32(o, (uint32_t) -1);
		put_int16(o, 0);		/* text format */
	}
	end_msg(o, m);
}

/* A DataRow of n copies of value. */
static void
data_row(Out *o, int n, const char *value)
{
	size_t		m = begin_msg(o, 'D');

	put_int16(o, (uint16_t) n);
	for (int i = 0; i < n; i++)
	{
		put_int32(o, (uint32_t) strlen(value));
		put_bytes(o, value, strlen(value));
	}
	end_msg(o, m);
}

/* The script: what the fake server answers to a statement. */
static void
answer(Out *o, const char *sql)
{
	if (strstr(sql, "set_config"))
	{
		/* the session set-up of conn_open: one row of six values */
		row_description(o, 6);
		data_row(o, 6, "x");
		command_complete(o, "SELECT 1");
	}
	else if (strstr(sql, "fake:ok"))
		command_complete(o, "INSERT 0 5");
	else if (strstr(sql, "fake:error-without-sqlstate"))
		error_response(o, NULL, "injected failure without a SQLSTATE");
	else if (strstr(sql, "fake:malformed-row"))
	{
		/* two fields where the description announced one */
		row_description(o, 1);
		data_row(o, 2, "y");
		command_complete(o, "SELECT 1");
	}
	else if (strstr(sql, "fake:error"))
		error_response(o, "42P01", "relation \"nowhere\" does not exist");
	else
		error_response(o, "XX000", "the fake server has no answer for this statement");
	{
		size_t		m = begin_msg(o, 'Z');

		put_bytes(o, "I", 1);
		end_msg(o, m);
	}
}

static void
startup_reply(Out *o)
{
	static const char *const params[][2] = {
		{"server_version", "15.0"}, {"client_encoding", "UTF8"}, {"standard_conforming_strings", "on"},
		{"integer_datetimes", "on"}, {"DateStyle", "ISO, MDY"}, {"server_encoding", "UTF8"}};
	size_t		m = begin_msg(o, 'R');

	put_int32(o, 0);			/* AuthenticationOk */
	end_msg(o, m);
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
	{
		m = begin_msg(o, 'S');
		put_str(o, params[i][0]);
		put_str(o, params[i][1]);
		end_msg(o, m);
	}
	m = begin_msg(o, 'K');
	put_int32(o, 4242);
	put_int32(o, 1234);
	end_msg(o, m);
	m = begin_msg(o, 'Z');
	put_bytes(o, "I", 1);
	end_msg(o, m);
}

typedef struct Client
{
	int			fd;
	bool		started;
	char		in[65536];
	size_t		len;
} Client;

static uint32_t
get_int32(const char *p)
{
	const unsigned char *u = (const unsigned char *) p;

	return (uint32_t) u[0] << 24 | (uint32_t) u[1] << 16 | (uint32_t) u[2] << 8 | u[3];
}

static void
write_all(int fd, const Out *o)
{
	size_t		done = 0;

	while (done < o->len)
	{
		ssize_t		n = write(fd, o->buf + done, o->len - done);

		if (n <= 0)
			return;
		done += (size_t) n;
	}
}

/* Handles the complete messages in c's buffer; false when the client is gone. */
static bool
serve(Client *c)
{
	for (;;)
	{
		Out			o = {.len = 0};
		uint32_t	n;

		if (!c->started)
		{
			uint32_t	code;

			if (c->len < 8 || c->len < (n = get_int32(c->in)))
				return true;
			code = get_int32(c->in + 4);
			if (code == 80877103 || code == 80877104)	/* SSL or GSS encryption: no */
				put_bytes(&o, "N", 1);
			else if (code >> 16 == 3)
			{
				startup_reply(&o);
				c->started = true;
			}
			else
				return false;	/* a cancel request, or garbage */
		}
		else
		{
			char		type;

			if (c->len < 5 || c->len < (n = get_int32(c->in + 1) + 1))
				return true;
			type = c->in[0];
			if (type == 'X')
				return false;
			if (type == 'Q')
				answer(&o, c->in + 5);
			else
				return false;	/* not spoken here */
		}
		write_all(c->fd, &o);
		memmove(c->in, c->in + n, c->len - n);
		c->len -= n;
	}
}

static void
fake_server(int listener)
{
	Client		clients[MAX_CLIENTS];
	int			nclients = 0;

	for (;;)
	{
		struct pollfd fds[MAX_CLIENTS + 1];

		fds[0] = (struct pollfd) {.fd = listener, .events = POLLIN};
		for (int i = 0; i < nclients; i++)
			fds[i + 1] = (struct pollfd) {.fd = clients[i].fd, .events = POLLIN};
		if (poll(fds, (nfds_t) nclients + 1, -1) < 0 && errno != EINTR)
			_exit(1);
		if ((fds[0].revents & POLLIN) && nclients < MAX_CLIENTS)
		{
			int			fd = accept(listener, NULL, NULL);

			if (fd >= 0)
				clients[nclients++] = (Client) {.fd = fd};
		}
		for (int i = nclients - 1; i >= 0; i--)
		{
			Client	   *c = &clients[i];
			ssize_t		n;

			if (!(fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(c->fd, c->in + c->len, sizeof(c->in) - c->len);
			if (n > 0)
				c->len += (size_t) n;
			if (n <= 0 || !serve(c))
			{
				close(c->fd);
				clients[i] = clients[--nclients];
			}
		}
	}
}

/* Starts the fake server on a socket in dir; returns its pid. */
static pid_t
start_fake_server(const char *dir)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int			listener = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t		pid;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/.s.PGSQL.%s", dir, FAKE_PORT);
	if (listener < 0 || bind(listener, (struct sockaddr *) &addr, sizeof(addr)) != 0 ||
		listen(listener, 8) != 0)
	{
		perror("fake server");
		exit(1);
	}
	pid = fork();
	if (pid == 0)
		fake_server(listener);
	close(listener);
	return pid;
}

/* ------------------------------------------------------------------------
 * The tests
 * ------------------------------------------------------------------------ */

typedef struct Done
{
	int			count;
	long long	affected;
} Done;

static void
on_done(void *arg, int task, long long affected)
{
	Done	   *d = arg;

	(void) task;
	d->count++;
	d->affected += affected;
}

/* Runs the tasks on the pool; returns its result, with what it did. */
static bool
run_pool(Conn **conns, int nconns, char **tasks, int ntasks, Done *done, Conn **failed)
{
	memset(done, 0, sizeof(*done));
	return conn_pool_run(conns, nconns, tasks, ntasks, on_done, done, NULL, NULL, failed);
}

int
main(void)
{
	char		dir[] = "/tmp/pgr-fake-XXXXXX";
	char		conninfo[256];
	ConnParams	params;
	Conn	   *conns[2];
	Conn	   *failed;
	Done		done;
	pid_t		server;

	if (mkdtemp(dir) == NULL)
	{
		perror("mkdtemp");
		return 1;
	}
	server = start_fake_server(dir);
	snprintf(conninfo, sizeof(conninfo), "host=%s port=%s dbname=fake user=fake sslmode=disable", dir,
			 FAKE_PORT);
	memset(&params, 0, sizeof(params));
	params.dbname = conninfo;
	params.prompt = PROMPT_NEVER;
	conns[0] = conn_open(&params, "worker 1");
	conns[1] = conn_open(&params, "worker 2");
	if (!ok(conns[0] && conns[1], "two connections to the fake server"))
		goto out;

	{
		char	   *tasks[] = {"fake:ok 1", "fake:ok 2", "fake:ok 3"};

		ok(run_pool(conns, 2, tasks, 3, &done, &failed), "three tasks that succeed: the pool succeeds");
		is_int(done.count, 3, "each task is counted done");
		is_int(done.affected, 15, "with the rows it affected");
	}
	{
		char	   *tasks[] = {"fake:error"};

		ok(!run_pool(conns, 2, tasks, 1, &done, &failed), "a server error: the pool fails");
		ok(failed && conn_failed_with(failed, "42P01"), "with the server's SQLSTATE");
	}
	{
		char	   *tasks[] = {"fake:ok 1", "fake:error-without-sqlstate", "fake:ok 3"};

		ok(!run_pool(conns, 2, tasks, 3, &done, &failed), "a server error without a SQLSTATE: the pool fails");
		ok(failed == conns[1], "on the connection that ran the failing task");
		ok(failed && failed->message && strstr(failed->message, "injected failure without a SQLSTATE"),
		   "and keeps its message (%s)", failed && failed->message ? failed->message : "none");
		ok(done.count < 3, "the failing task is not counted done (%d done)", done.count);
	}
	{
		char	   *tasks[] = {"fake:malformed-row"};

		ok(!run_pool(conns, 2, tasks, 1, &done, &failed),
		   "an error libpq finds itself on a live connection (a malformed row): the pool fails");
		ok(failed && failed->message && strstr(failed->message, "unexpected field count"),
		   "and keeps libpq's message (%s)", failed && failed->message ? failed->message : "none");
		ok(failed && failed->sqlstate[0] == '\0' && conn_ok(failed) && !conn_lost(failed),
		   "an error without a SQLSTATE, on a connection still usable, not taken for a lost one");
		is_int(done.count, 0, "no task counted done");
	}
	{
		char	   *tasks[] = {"fake:ok again"};

		ok(run_pool(conns, 1, tasks, 1, &done, &failed) && done.count == 1,
		   "after the failures the connection runs the next task");
	}

out:
	conn_close(conns[0]);
	conn_close(conns[1]);
	kill(server, SIGTERM);
	waitpid(server, NULL, 0);
	{
		char		path[sizeof(dir) + 32];

		snprintf(path, sizeof(path), "%s/.s.PGSQL.%s", dir, FAKE_PORT);
		unlink(path);
		rmdir(dir);
	}
	return done_testing();
}
