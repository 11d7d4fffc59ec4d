/* outfile.h - write a file so that it appears whole or not at all (internal).
 *
 * Output goes to a temporary file beside the destination ("OUT.tmp.XXXXXX"), optionally through
 * gzip; seqlm_outfile_commit flushes, closes and renames it over the destination, and
 * seqlm_outfile_abort removes it. A reader never sees a half-written model, and a failed or
 * interrupted run leaves whatever the user had at that path untouched. */
#ifndef SEQLM_OUTFILE_H
#define SEQLM_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

#include "seqlm/error.h"

typedef struct seqlm_outfile seqlm_outfile;

/* Opens a temporary file for path; gzip compresses what is written (level 6). NULL on error. */
seqlm_outfile *seqlm_outfile_open(const char *path, int gzip, seqlm_error *err);
/* Buffered writes; errors are remembered and reported by commit. */
void seqlm_outfile_write(seqlm_outfile *f, const void *data, size_t len);
void seqlm_outfile_puts(seqlm_outfile *f, const char *s);
void seqlm_outfile_printf(seqlm_outfile *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Flushes, fsyncs, renames into place and frees f. On failure the temporary is removed. */
seqlm_status seqlm_outfile_commit(seqlm_outfile *f, seqlm_error *err);
/* Removes the temporary file and frees f; NULL is a no-op. */
void seqlm_outfile_abort(seqlm_outfile *f);

/* 1 if path ends with suffix. */
int seqlm_has_suffix(const char *path, const char *suffix);

#endif
