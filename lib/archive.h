/*
 * archive.h: the old table's rows streamed into a gzip file before it is
 * dropped (--archive-old).  The file format is in docs/archive-format.md.
 */
#ifndef PGR_ARCHIVE_H
#define PGR_ARCHIVE_H

#include <stdbool.h>

#include "conn.h"

/*
 * Writes the rows of the table with OID relid, quoted name source_q, into
 * path, as docs/archive-format.md describes, naming it table_q (the name
 * to load it back under, in the header and the COPY line); *rows is the
 * count.  False with *why set (newly allocated) on failure: then no file is
 * left under path.  c must be idle, outside a transaction.
 */
bool archive_table(Conn *c, unsigned int relid, const char *source_q, const char *table_q, const char *path,
				   long long *rows, char **why) __attribute__((warn_unused_result));

#endif /* PGR_ARCHIVE_H */
