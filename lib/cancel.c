/* cancel.c: signal handlers, the registry of connections to cancel, the wait hook. */
#include "cancel.h"

#include <string.h>

volatile sig_atomic_t pgr_interrupted = 0;

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
	char errbuf[256];

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
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, old);
}

int
cancel_register(PGconn *pg)
{
	sigset_t old;
	int		 slot = -1;

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

void
cancel_unregister(int slot)
{
	sigset_t  old;
	PGcancel *cancel;

	if (slot < 0)
		return;
	block_signals(&old);
	cancel = cancel_slots[slot];
	cancel_slots[slot] = NULL;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (cancel)
		PQfreeCancel(cancel);
}

static bool (*wait_hook)(void *) = NULL;
static void *wait_hook_arg = NULL;
static bool	 in_wait_hook = false;

void
conn_set_wait_hook(bool (*hook)(void *arg), void *arg)
{
	wait_hook = hook;
	wait_hook_arg = arg;
}

bool
cancel_call_wait_hook(void)
{
	bool ok;

	if (wait_hook == NULL || in_wait_hook)
		return true;
	in_wait_hook = true;
	ok = wait_hook(wait_hook_arg);
	in_wait_hook = false;
	return ok;
}

void
cancel_request(PGconn *pg)
{
	PGcancel *cancel = PQgetCancel(pg);
	char	  errbuf[256];

	if (cancel)
	{
		(void) PQcancel(cancel, errbuf, sizeof(errbuf));
		PQfreeCancel(cancel);
	}
}
