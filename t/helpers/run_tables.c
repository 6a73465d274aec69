/*
 * run_tables.c: rebuilds the tables named on the command line one after the
 * other in one process, through the engine's API (run.h, rebuild.h), and
 * prints one line per table with what its RunResult says.  t/018_run_object.pl
 * uses it to show that a run leaves nothing behind that changes the next.
 *
 *   run_tables CONNINFO [--set-not-null=TABLE.COLUMN]... TABLE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes.h"
#include "cancel.h"
#include "conn.h"
#include "connect.h"
#include "ident.h"
#include "log.h"
#include "rebuild.h"

int
main(int argc, char **argv)
{
	RunSettings s = {
		.jobs = 1, .wait_timeout_s = 10, .lock_timeout_ms = 100, .retry_timeout_s = 5,
		.catchup_timeout_s = 60, .max_lock_ms = 200,
	};
	ConnParams	params;
	int			worst = 0;
	const char *nn[16];
	int			nnn = 0;

	if (argc < 3)
	{
		fprintf(stderr, "usage: run_tables CONNINFO [--set-not-null=TABLE.COLUMN]... TABLE...\n");
		return 2;
	}
	memset(&params, 0, sizeof(params));
	params.dbname = argv[1];
	params.prompt = PROMPT_NEVER;
	params.retry_timeout_s = 5;
	conn_install_signal_handlers();
	for (int i = 2; i < argc; i++)
	{
		if (strncmp(argv[i], "--set-not-null=", 15) == 0)
		{
			if (nnn < 16)
				nn[nnn++] = argv[i] + 15;
			continue;
		}
		{
			ChangeSet	cs;
			char	   *schema = NULL;
			char	   *table = NULL;
			char	   *err = NULL;
			Run		   *r;
			size_t		tlen = strlen(argv[i]);

			if (!ident_parse_qualified(argv[i], &schema, &table, &err))
			{
				fprintf(stderr, "bad table name %s: %s\n", argv[i], err);
				return 2;
			}
			changes_init(&cs);
			cs.method = METHOD_REBUILD;	/* this helper proves runs of whole rebuilds */
			for (int k = 0; k < nnn; k++)
				if (strncmp(nn[k], argv[i], tlen) == 0 && nn[k][tlen] == '.' &&
					!changes_add_not_null(&cs, nn[k] + tlen + 1, &err))
					return 2;
			r = run_new(&s, &params, schema, table, &cs);
			if (rebuild_prepare(r))
				(void) rebuild_table(r);
			printf("table %s: exit %d rebuilt %s rows %lld interrupted %s\n", argv[i], r->result.exit_code,
				   r->result.rebuilt ? "yes" : "no", r->result.rows, r->result.interrupted ? "yes" : "no");
			fflush(stdout);
			if (r->result.exit_code > worst)
				worst = r->result.exit_code;
			run_free(r);
			changes_free(&cs);
			free(schema);
			free(table);
		}
	}
	free(params.password);
	free(params.startup_options);
	return worst;
}
