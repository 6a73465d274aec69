/*
 * connect.h: opening and closing connections, with retry, a password
 * prompt and the session settings every connection gets.
 *
 * Every connection is set up the same way: application_name pg_rebuild,
 * client_encoding UTF8, a search_path of pg_catalog then pg_temp (so every
 * name we do not qualify resolves to the system catalog, never to an object
 * an application role could plant), row_security off (so a forced policy
 * makes our reads fail loudly instead of dropping rows), and no
 * statement_timeout / idle_in_transaction_session_timeout inherited from the
 * server's defaults.
 */
#ifndef PGR_CONNECT_H
#define PGR_CONNECT_H

#include <stdbool.h>

#include "conn.h"

typedef enum PromptPassword
{
	PROMPT_DEFAULT = 0, /* ask only when the server wants one */
	PROMPT_NEVER,		/* -w */
	PROMPT_ALWAYS		/* -W */
} PromptPassword;

/*
 * Where to connect; filled from the options.  Owned by the caller, who frees
 * password and startup_options (which conn_open may fill) when done.
 */
typedef struct ConnParams
{
	const char	  *dbname;
	const char	  *host;
	const char	  *port;
	const char	  *user;
	PromptPassword prompt;
	char		  *password;		/* prompted once, then reused for every connection */
	double		   retry_timeout_s; /* keep retrying an unreachable server this long */
	char		  *startup_options; /* computed by conn_open: the user's options plus ours */
} ConnParams;

/*
 * Opens a connection with the session settings above.  While the server
 * cannot be reached (down, restarting, not accepting connections yet) it
 * retries with exponential backoff and jitter, reporting each wait, for at
 * most params->retry_timeout_s; a refusal by a running server (bad password,
 * unknown database or role) is not retried.  Logs the failure and returns
 * NULL when it cannot connect.  The caller owns the Conn and closes
 * it with conn_close.
 */
Conn *conn_open(ConnParams *params, const char *label) __attribute__((warn_unused_result));
/* Closes c and frees it, with whatever it holds; c may be NULL. */
void  conn_close(Conn *c);

/*
 * Where params point, for messages: the value of keyword ("dbname", "host",
 * "port" or "user") given by an option or inside a connection string, or
 * NULL (libpq's defaults then apply).  Never the password.  Caller frees.
 */
char *conn_target_value(const ConnParams *p, const char *keyword);

/* Sets the role on the connection (SET ROLE), when role is not NULL. */
bool  conn_set_role(Conn *c, const char *role) __attribute__((warn_unused_result));

#endif /* PGR_CONNECT_H */
