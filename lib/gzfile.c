/* gzfile.c: a gzip file written in a stream, made durable on close. */
#include "gzfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "str.h"

#define GZ_CHUNK 65536

struct GzFile
{
	int			  fd;
	char		 *path;	   /* the final name */
	char		 *partial; /* where it is written until closed */
	z_stream	  z;
	unsigned char out[GZ_CHUNK];
};

static char *
dir_of(const char *path)
{
	char *copy = pgr_strdup(path);
	char *dir = pgr_strdup(dirname(copy));

	free(copy);
	return dir;
}

bool
gzfile_can_create(const char *path, char **why)
{
	char	   *dir = dir_of(path);
	char	   *partial = pgr_psprintf("%s.partial", path);
	struct stat st;
	bool		ok = false;

	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		*why = pgr_psprintf("directory \"%s\" does not exist", dir);
	else if (access(dir, W_OK | X_OK) != 0)
		*why = pgr_psprintf("directory \"%s\" is not writable: %s", dir, strerror(errno));
	else if (lstat(path, &st) == 0)
		*why = pgr_psprintf("\"%s\" exists already", path);
	else if (lstat(partial, &st) == 0)
		*why = pgr_psprintf("\"%s\" exists already (an earlier archive that did not finish)", partial);
	else
		ok = true;
	free(dir);
	free(partial);
	return ok;
}

/* Writes what deflate produced into out; false with *why on failure. */
static bool
drain(GzFile *f, char **why)
{
	size_t have = GZ_CHUNK - f->z.avail_out;
	size_t done = 0;

	while (done < have)
	{
		ssize_t w = write(f->fd, f->out + done, have - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
		{
			*why = pgr_psprintf("could not write \"%s\": %s", f->partial, strerror(errno));
			return false;
		}
		done += (size_t) w;
	}
	f->z.next_out = f->out;
	f->z.avail_out = GZ_CHUNK;
	return true;
}

GzFile *
gzfile_open(const char *path, char **why)
{
	GzFile *f = pgr_calloc(1, sizeof(GzFile));

	f->path = pgr_strdup(path);
	f->partial = pgr_psprintf("%s.partial", path);
	f->fd = open(f->partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (f->fd < 0)
	{
		*why = pgr_psprintf("could not create \"%s\": %s", f->partial, strerror(errno));
		free(f->path);
		free(f->partial);
		free(f);
		return NULL;
	}
	/* 15 + 16: the largest window, with a gzip header and trailer (CRC-32, length) */
	if (deflateInit2(&f->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
	{
		*why = pgr_strdup("could not start zlib's deflate: out of memory");
		close(f->fd);
		unlink(f->partial);
		free(f->path);
		free(f->partial);
		free(f);
		return NULL;
	}
	f->z.next_out = f->out;
	f->z.avail_out = GZ_CHUNK;
	return f;
}

bool
gzfile_write(GzFile *f, const void *data, size_t n, char **why)
{
	f->z.next_in = (Bytef *) (uintptr_t) data;
	f->z.avail_in = (uInt) n;
	while (f->z.avail_in > 0)
	{
		if (deflate(&f->z, Z_NO_FLUSH) == Z_STREAM_ERROR)
		{
			*why = pgr_strdup("zlib's deflate failed");
			return false;
		}
		if (f->z.avail_out == 0 && !drain(f, why))
			return false;
	}
	return true;
}

static void
gz_free(GzFile *f)
{
	deflateEnd(&f->z);
	free(f->path);
	free(f->partial);
	free(f);
}

bool
gzfile_close(GzFile *f, char **why)
{
	int	  rc;
	int	  dfd;
	char *dir;

	do
	{
		rc = deflate(&f->z, Z_FINISH);
		if (rc == Z_STREAM_ERROR)
		{
			*why = pgr_strdup("zlib's deflate failed");
			gzfile_abort(f);
			return false;
		}
		if (!drain(f, why))
		{
			gzfile_abort(f);
			return false;
		}
	} while (rc != Z_STREAM_END);
	if (fsync(f->fd) != 0 || close(f->fd) != 0)
	{
		*why = pgr_psprintf("could not fsync \"%s\": %s", f->partial, strerror(errno));
		f->fd = -1;
		gzfile_abort(f);
		return false;
	}
	f->fd = -1;
	if (rename(f->partial, f->path) != 0)
	{
		*why = pgr_psprintf("could not rename \"%s\" to \"%s\": %s", f->partial, f->path, strerror(errno));
		gzfile_abort(f);
		return false;
	}
	dir = dir_of(f->path);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = dfd >= 0 ? fsync(dfd) : -1;
	if (rc != 0)
		*why = pgr_psprintf("could not fsync directory \"%s\": %s", dir, strerror(errno));
	if (dfd >= 0)
		close(dfd);
	free(dir);
	gz_free(f);
	return rc == 0;
}

void
gzfile_abort(GzFile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	unlink(f->partial);
	gz_free(f);
}
