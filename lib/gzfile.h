/*
 * gzfile.h: a gzip file written in a stream with constant memory (zlib's
 * deflate with a gzip header and trailer), made durable on close: written
 * to NAME.partial, fsync'd, renamed to NAME, the directory fsync'd.  A
 * file that was not closed successfully never appears under NAME.
 */
#ifndef PGR_GZFILE_H
#define PGR_GZFILE_H

#include <stdbool.h>
#include <stddef.h>

/* The struct definition appears in gzfile.c. */
typedef struct GzFile GzFile;

/*
 * Whether path could be created: its directory exists and is writable, and
 * nothing is there yet (neither path nor path.partial).  False with *why set
 * (newly allocated) otherwise.  Creates nothing.
 */
bool				  gzfile_can_create(const char *path, char **why) __attribute__((warn_unused_result));

/*
 * Opens path.partial for writing (it must not exist).  NULL with *why set
 * (newly allocated) on failure.  The caller owns the result and must pass
 * it to gzfile_close or gzfile_abort.
 */
GzFile				 *gzfile_open(const char *path, char **why) __attribute__((warn_unused_result));
/* Compresses and writes n bytes.  False with *why set on failure. */
bool				  gzfile_write(GzFile *f, const void *data, size_t n, char **why) __attribute__((warn_unused_result));
/*
 * Finishes the stream, fsyncs, renames to the final name and fsyncs the
 * directory; frees f.  False with *why set on failure (then the partial
 * file is removed).
 */
bool				  gzfile_close(GzFile *f, char **why) __attribute__((warn_unused_result));
/* Removes the partial file and frees f. */
void				  gzfile_abort(GzFile *f);

#endif /* PGR_GZFILE_H */
