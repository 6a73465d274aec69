/* pool.c: several connections working at once, one statement in flight on each. */
#include "pool.h"

#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include "cancel.h"
#include "clock.h"
#include "conn_int.h"
#include "log.h"
#include "str.h"

bool
conn_send(Conn *c, const char *sql)
{
	conn_clear_error(c);
	log_echo_sql(c->label, sql);
	if (!PQsendQuery(c->pg, sql))
	{
		conn_set_error(c, NULL);
		return false;
	}
	return true;
}

bool
conn_collect(Conn *c, bool *ok, long long *affected)
{
	PGresult *res;

	if (!PQconsumeInput(c->pg))
	{
		conn_set_error(c, NULL);
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
				conn_set_error(c, NULL);
			*ok = c->sqlstate[0] == '\0';
			return true;
		}
		if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			if (c->sqlstate[0] == '\0')
				conn_set_error(c, res);
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
	fd_set		   rfds;
	int			   maxfd = -1;
	struct timeval tv;

	FD_ZERO(&rfds);
	for (int i = 0; i < n; i++)
	{
		int fd;

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
conn_pool_run(Conn **conns, int nconns, char *const *tasks, int ntasks,
			  PoolDoneFn on_done, void *arg, PoolTickFn tick, void *tick_arg, Conn **failed)
{
	int *running = pgr_malloc(sizeof(int) * (size_t) nconns);
	int	 next = 0;
	int	 busy = 0;
	bool ok = true;
	bool stopped = false;

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
					cancel_request(conns[i]->pg);
		}
		for (int i = 0; i < nconns; i++)
		{
			bool	  task_ok;
			long long affected;

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
		conn_set_error_text(conns[0], "57014", pgr_strdup("canceled by a signal"));
		*failed = conns[0];
	}
	return ok;
}
