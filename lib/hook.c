/* hook.c: running the user's --hook commands, bounded in time, fed the event as data. */
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cancel.h"
#include "clock.h"
#include "event.h"
#include "log.h"
#include "str.h"

extern char **environ;

/* How much of a hook's output is kept: its end, where failures are said. */
#define HOOK_OUTPUT_MAX 2048

static const char *const event_names[HOOK_EVENT_COUNT] = {
	[HOOK_BEFORE_COPY] = "before-copy",
	[HOOK_BEFORE_SWAP] = "before-swap",
	[HOOK_AFTER_SWAP] = "after-swap",
	[HOOK_FAILURE] = "failure",
};

const char *
hook_event_name(HookEvent ev)
{
	return ev >= 0 && ev < HOOK_EVENT_COUNT ? event_names[ev] : "?";
}

/*
 * The hook's environment: ours without the variables vars names, then vars.
 * Built before fork, so the child only calls async-signal-safe functions.
 */
static char **
build_env(const HookVar *vars, int nvars)
{
	int	   n = 0;
	int	   k = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = pgr_calloc((size_t) (n + nvars + 1), sizeof(char *));
	for (int i = 0; i < n; i++)
	{
		bool replaced = false;

		for (int j = 0; j < nvars && !replaced; j++)
		{
			size_t len = strlen(vars[j].name);

			replaced = strncmp(environ[i], vars[j].name, len) == 0 && environ[i][len] == '=';
		}
		if (!replaced)
			env[k++] = pgr_strdup(environ[i]);
	}
	for (int j = 0; j < nvars; j++)
		env[k++] = pgr_psprintf("%s=%s", vars[j].name, vars[j].value ? vars[j].value : "");
	env[k] = NULL;
	return env;
}

static void
free_env(char **env)
{
	for (int i = 0; env[i]; i++)
		free(env[i]);
	free(env);
}

/* In the child: its own process group, the pipes as stdin and stdout/stderr, nothing else of ours. */
static void
exec_child(const char *command, char **env, int in_fd, int out_fd)
{
	char *argv[] = {"sh", "-c", (char *) command, NULL};
	long  maxfd = sysconf(_SC_OPEN_MAX);

	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(127);
	/* no connection of ours may be held open by a hook */
	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;
	for (long fd = 3; fd < maxfd; fd++)
		close((int) fd);
	execve("/bin/sh", argv, env);
	_exit(127);
}

/*
 * Keeps the end of the output in buf (at most HOOK_OUTPUT_MAX bytes);
 * *fd becomes -1 at its end (poll ignores it then, instead of waking at once).
 */
static void
read_output(int *fd, char *buf, size_t *len)
{
	char	chunk[HOOK_OUTPUT_MAX / 2]; /* smaller than buf: a chunk always fits */
	ssize_t got;

	if (*fd < 0)
		return;
	while ((got = read(*fd, chunk, sizeof(chunk))) > 0)
	{
		size_t g = (size_t) got;

		if (*len + g > HOOK_OUTPUT_MAX)
		{
			size_t drop = *len + g - HOOK_OUTPUT_MAX;

			memmove(buf, buf + drop, *len - drop);
			*len -= drop;
		}
		memcpy(buf + *len, chunk, g);
		*len += g;
	}
	if (got == 0)
		*fd = -1; /* closed by hook_run */
}

/* Ends the hook's process group: SIGTERM, then SIGKILL after the grace if any of it is left. */
static void
kill_group(pid_t pid, int *status, bool *reaped, bool *sigkilled, int *out_fd, char *buf, size_t *len)
{
	double grace_end = pgr_now() + PGR_HOOK_KILL_GRACE_S;

	kill(-pid, SIGTERM);
	/* the shell may go at once while what it started stays: wait for the whole group */
	while ((!*reaped || kill(-pid, 0) == 0) && pgr_now() < grace_end)
	{
		struct pollfd p = {.fd = *out_fd, .events = POLLIN};

		(void) poll(&p, 1, 50);
		read_output(out_fd, buf, len);
		if (!*reaped)
			*reaped = waitpid(pid, status, WNOHANG) == pid;
	}
	if (kill(-pid, 0) == 0)
		*sigkilled = kill(-pid, SIGKILL) == 0;
	if (!*reaped)
		*reaped = waitpid(pid, status, 0) == pid;
}

/* Feeds the JSON as the hook reads it, keeps its output, and waits for its end or its deadline. */
static void
supervise(pid_t pid, int in_fd, int out_fd, const char *json, double timeout_s, HookResult *res)
{
	double deadline = pgr_now() + timeout_s;
	bool   was_interrupted = pgr_interrupted;
	size_t to_write = json ? strlen(json) : 0;
	size_t written = 0;
	char   buf[HOOK_OUTPUT_MAX];
	size_t len = 0;
	int	   status = 0;
	bool   reaped = false;
	bool   stop = false;
	double next_tick = pgr_now() + 0.1;

	if (to_write == 0)
	{
		close(in_fd);
		in_fd = -1;
	}
	while (!reaped)
	{
		struct pollfd p[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = in_fd, .events = POLLOUT}};

		(void) poll(p, 2, 50);
		if (in_fd >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP)))
		{
			ssize_t w = write(in_fd, json + written, to_write - written);

			if (w > 0)
				written += (size_t) w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == to_write)
			{
				/* done, or the hook closed its stdin: it need not read it */
				close(in_fd);
				in_fd = -1;
			}
		}
		read_output(&out_fd, buf, &len);
		reaped = waitpid(pid, &status, WNOHANG) == pid;
		/* the guard goes on watching the table meanwhile (a DDL queued behind the run's lock), as in a sleep */
		if (!reaped && pgr_now() >= next_tick)
		{
			stop = !cancel_call_wait_hook();
			next_tick = pgr_now() + 0.1;
		}
		if (!reaped && (pgr_now() >= deadline || stop || (pgr_interrupted && !was_interrupted)))
		{
			res->interrupted = pgr_now() < deadline;
			res->timed_out = true;
			kill_group(pid, &status, &reaped, &res->sigkilled, &out_fd, buf, &len);
		}
	}
	read_output(&out_fd, buf, &len);
	if (in_fd >= 0)
		close(in_fd);
	if (WIFEXITED(status))
		res->exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		res->signal = WTERMSIG(status);
	res->ok = !res->timed_out && res->exit_code == 0;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	res->output = pgr_malloc(len + 1);
	memcpy(res->output, buf, len);
	res->output[len] = '\0';
}

bool
hook_run(const char *command, const char *json, const HookVar *vars, int nvars, double timeout_s, HookResult *res)
{
	int	   in[2];
	int	   out[2];
	char **env;
	pid_t  pid;
	char  *line;
	double started = pgr_now();

	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	if (pipe(in) != 0)
		goto no_start;
	if (pipe(out) != 0)
	{
		close(in[0]);
		close(in[1]);
		goto no_start;
	}
	env = build_env(vars, nvars);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
		exec_child(command, env, in[0], out[1]);
	free_env(env);
	close(in[0]);
	close(out[1]);
	if (pid < 0)
	{
		close(in[1]);
		close(out[0]);
		goto no_start;
	}
	setpgid(pid, pid); /* also in the child: whichever runs first */
	fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
	fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
	fcntl(in[1], F_SETFD, FD_CLOEXEC);
	fcntl(out[0], F_SETFD, FD_CLOEXEC);
	line = pgr_psprintf("%s\n", json ? json : "{}"); /* a line, as in the log: `read` needs its newline */
	supervise(pid, in[1], out[0], line, timeout_s, res);
	free(line);
	close(out[0]);
	res->seconds = pgr_now() - started;
	return res->ok;

no_start:
	res->start_failed = true;
	snprintf(res->errno_text, sizeof(res->errno_text), "%s", strerror(errno));
	res->output = pgr_strdup("");
	return false;
}

void
hook_result_free(HookResult *res)
{
	free(res->output);
	res->output = NULL;
}

char *
hook_describe(const HookResult *res, double timeout_s)
{
	if (res->start_failed)
		return pgr_psprintf("could not be started: %s", res->errno_text);
	if (res->interrupted)
		return pgr_psprintf("was ended because the run stops (interrupted, or the table's guard gave up): its "
							"process group was sent SIGTERM%s",
							res->sigkilled ? ", then SIGKILL" : "");
	if (res->timed_out && res->sigkilled)
		return pgr_psprintf("did not finish within --hook-timeout %g s: its process group was sent SIGTERM, "
							"then SIGKILL %g s later",
							timeout_s, PGR_HOOK_KILL_GRACE_S);
	if (res->timed_out)
		return pgr_psprintf("did not finish within --hook-timeout %g s: its process group was sent SIGTERM",
							timeout_s);
	if (res->signal)
		return pgr_psprintf("was killed by signal %d (%s)", res->signal, strsignal(res->signal));
	if (res->exit_code == 127)
		return pgr_strdup("exited with code 127 (the shell could not find or run the command)");
	return pgr_psprintf("exited with code %d", res->exit_code);
}

/* The "hook" event: how one hook ended, with its figures (text with --verbose). */
static void
hook_event(HookEvent ev, const char *command, const HookResult *res, double timeout_s)
{
	Event e;
	char *how = hook_describe(res, timeout_s);

	event_init(&e, "hook", SINK_STDOUT, LOG_VERBOSE);
	event_str(&e, "hook", hook_event_name(ev));
	event_str(&e, "command", command);
	if (res->exit_code >= 0)
		event_int(&e, "exit_code", res->exit_code);
	else
		event_str(&e, "exit_code", NULL);
	if (res->signal)
		event_int(&e, "signal", res->signal);
	else
		event_str(&e, "signal", NULL);
	event_bool(&e, "timed_out", res->timed_out);
	event_num(&e, "duration_s", res->seconds, false);
	event_str(&e, "output", res->output);
	event_textf(&e, "hook %s: \"%s\" %s (%.2f s)", hook_event_name(ev), command, how, res->seconds);
	event_emit(&e);
	free(how);
}

bool
hooks_fire(const HookSettings *hs, HookEvent ev, const char *json, const HookVar *vars, int nvars,
		   HookResult *refusal, const char **refused_by)
{
	for (int i = 0; hs && i < hs->n; i++)
	{
		HookResult res;
		char	  *how;

		hook_run(hs->commands[i], json, vars, nvars, hs->timeout_s, &res);
		hook_event(ev, hs->commands[i], &res, hs->timeout_s);
		if (res.ok)
		{
			hook_result_free(&res);
			continue;
		}
		if (ev == HOOK_BEFORE_SWAP)
		{
			*refusal = res;
			*refused_by = hs->commands[i];
			return false;
		}
		how = hook_describe(&res, hs->timeout_s);
		if (ev == HOOK_FAILURE)
			log_warning("the failure hook \"%s\" %s; the run's exit code stays what it was", hs->commands[i], how);
		else
			log_warning("the %s hook \"%s\" %s; the run goes on", hook_event_name(ev), hs->commands[i], how);
		if (res.output[0])
			log_detail("Its output ended with: %s", res.output);
		free(how);
		hook_result_free(&res);
	}
	return true;
}
