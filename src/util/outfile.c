/* outfile.c - temporary file + rename, with an optional gzip stream in between. */
#include "util/outfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define OUT_BUF_SIZE (1 << 18)

struct seqlm_outfile {
    char *path;
    char *tmp_path;
    int fd;
    gzFile gz; /* when compressing */
    char *buf;
    size_t used;
    int failed; /* errno of the first failure, or -1 for a zlib failure */
};

int seqlm_has_suffix(const char *path, const char *suffix) {
    size_t n = strlen(path), m = strlen(suffix);
    return n >= m && strcmp(path + n - m, suffix) == 0;
}

seqlm_outfile *seqlm_outfile_open(const char *path, int gzip, seqlm_error *err) {
    seqlm_outfile *f = calloc(1, sizeof *f);
    if (!f) {
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    size_t n = strlen(path);
    f->path = malloc(n + 1);
    f->tmp_path = malloc(n + 16);
    f->buf = malloc(OUT_BUF_SIZE);
    if (!f->path || !f->tmp_path || !f->buf) {
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    memcpy(f->path, path, n + 1);
    snprintf(f->tmp_path, n + 16, "%s.tmp.XXXXXX", path);
    f->fd = mkstemp(f->tmp_path);
    if (f->fd < 0) {
        seqlm_error_set(err, SEQLM_ERR_IO, "%s: cannot create output file: %s", path,
                        strerror(errno));
        goto fail;
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(f->fd, 0666 & ~mask);
    if (gzip) {
        f->gz = gzdopen(dup(f->fd), "wb6");
        if (!f->gz) {
            seqlm_error_set(err, SEQLM_ERR_IO, "%s: cannot start gzip stream", path);
            close(f->fd);
            unlink(f->tmp_path);
            goto fail;
        }
    }
    return f;
fail:
    free(f->path);
    free(f->tmp_path);
    free(f->buf);
    free(f);
    return NULL;
}

static void flush_buffer(seqlm_outfile *f) {
    if (f->failed || f->used == 0) {
        f->used = 0;
        return;
    }
    if (f->gz) {
        if (gzwrite(f->gz, f->buf, (unsigned)f->used) != (int)f->used) f->failed = -1;
    } else {
        size_t off = 0;
        while (off < f->used) {
            ssize_t w = write(f->fd, f->buf + off, f->used - off);
            if (w < 0) {
                if (errno == EINTR) continue;
                f->failed = errno;
                break;
            }
            off += (size_t)w;
        }
    }
    f->used = 0;
}

void seqlm_outfile_write(seqlm_outfile *f, const void *data, size_t len) {
    if (len <= OUT_BUF_SIZE - f->used) { /* the common case: it fits */
        memcpy(f->buf + f->used, data, len);
        f->used += len;
        return;
    }
    const char *p = data;
    while (len > 0) {
        if (f->used == OUT_BUF_SIZE) flush_buffer(f);
        size_t take = OUT_BUF_SIZE - f->used;
        if (take > len) take = len;
        memcpy(f->buf + f->used, p, take);
        f->used += take;
        p += take;
        len -= take;
    }
}

void seqlm_outfile_puts(seqlm_outfile *f, const char *s) {
    seqlm_outfile_write(f, s, strlen(s));
}

void seqlm_outfile_printf(seqlm_outfile *f, const char *fmt, ...) {
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        seqlm_outfile_write(f, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        f->failed = ENOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    seqlm_outfile_write(f, big, (size_t)n);
    free(big);
}

static void release(seqlm_outfile *f) {
    free(f->path);
    free(f->tmp_path);
    free(f->buf);
    free(f);
}

seqlm_status seqlm_outfile_commit(seqlm_outfile *f, seqlm_error *err) {
    flush_buffer(f);
    if (f->gz && gzclose(f->gz) != Z_OK && !f->failed) f->failed = -1;
    f->gz = NULL;
    if (!f->failed && fsync(f->fd) != 0 && errno != EINVAL) f->failed = errno;
    if (close(f->fd) != 0 && !f->failed) f->failed = errno;
    if (!f->failed && rename(f->tmp_path, f->path) != 0) f->failed = errno;
    if (f->failed) {
        seqlm_status st = seqlm_error_set(err, SEQLM_ERR_IO, "%s: write failed: %s", f->path,
                                          f->failed > 0 ? strerror(f->failed) : "gzip error");
        unlink(f->tmp_path);
        release(f);
        return st;
    }
    release(f);
    return SEQLM_OK;
}

void seqlm_outfile_abort(seqlm_outfile *f) {
    if (!f) return;
    if (f->gz) gzclose(f->gz);
    close(f->fd);
    unlink(f->tmp_path);
    release(f);
}
