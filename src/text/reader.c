/* reader.c - the line reader: streams a (possibly gzipped) file, validates as it goes.
 * It is not a tokenizer (tokenize.c) and keeps at most one line in memory. */
#include "seqlm/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* Bytes per read. The fuzzer builds with a tiny value so that lines span many reads. */
#ifndef SEQLM_READ_CHUNK
#define SEQLM_READ_CHUNK (1 << 18)
#endif
#define READ_CHUNK SEQLM_READ_CHUNK

struct seqlm_reader {
    char *path;
    gzFile gz;
    int validate_utf8;
    char *chunk; /* raw bytes read from the file */
    size_t chunk_len, chunk_pos;
    int eof;
    char *line; /* the current line, NUL-terminated */
    size_t line_cap;
    uint64_t line_no;
    uint64_t line_offset; /* byte offset of the current line's first byte */
    uint64_t next_offset; /* byte offset of the next unread byte */
};

seqlm_reader *seqlm_reader_open(const char *path, int validate_utf8, seqlm_error *err) {
    seqlm_reader *r = calloc(1, sizeof *r);
    if (!r) {
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    r->path = strdup(path);
    r->chunk = malloc(READ_CHUNK);
    r->line_cap = 4096;
    r->line = malloc(r->line_cap);
    if (!r->path || !r->chunk || !r->line) {
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
        seqlm_reader_free(r);
        return NULL;
    }
    r->validate_utf8 = validate_utf8;
    if (strcmp(path, "-") == 0)
        r->gz = gzdopen(dup(0), "rb");
    else
        r->gz = gzopen(path, "rb");
    if (!r->gz) {
        seqlm_error_set(err, SEQLM_ERR_IO, "%s: cannot open: %s", path,
                        errno ? strerror(errno) : "unknown error");
        seqlm_reader_free(r);
        return NULL;
    }
    gzbuffer(r->gz, READ_CHUNK);
    return r;
}

void seqlm_reader_free(seqlm_reader *r) {
    if (!r) return;
    if (r->gz) gzclose(r->gz);
    free(r->path);
    free(r->chunk);
    free(r->line);
    free(r);
}

static int fill(seqlm_reader *r, seqlm_error *err) {
    int n = gzread(r->gz, r->chunk, READ_CHUNK);
    if (n < 0) {
        int zerr;
        const char *msg = gzerror(r->gz, &zerr);
        seqlm_error_set(err, SEQLM_ERR_IO, "%s: read failed after byte %llu: %s", r->path,
                        (unsigned long long)r->next_offset,
                        zerr == Z_ERRNO ? strerror(errno) : msg);
        return -1;
    }
    if (n == 0) {
        /* zlib reports a gzip stream cut short as a soft error (Z_BUF_ERROR): gzread hands out
         * what it could decompress and then returns 0 as if at the end. Without this check a
         * truncated corpus or model would be read as a shorter, valid one. */
        int zerr;
        gzerror(r->gz, &zerr);
        if (zerr == Z_BUF_ERROR) {
            seqlm_error_set(err, SEQLM_ERR_FORMAT,
                            "%s: unexpected end of file after byte %llu (truncated gzip data)",
                            r->path, (unsigned long long)r->next_offset);
            return -1;
        }
    }
    r->chunk_len = (size_t)n;
    r->chunk_pos = 0;
    if (n == 0) r->eof = 1;
    return 0;
}

int seqlm_reader_next(seqlm_reader *r, const char **line, size_t *len, seqlm_error *err) {
    size_t used = 0;
    int got_any = 0;
    r->line_offset = r->next_offset;
    for (;;) {
        if (r->chunk_pos == r->chunk_len) {
            if (r->eof) break;
            if (fill(r, err) < 0) return -1;
            if (r->eof) break;
        }
        got_any = 1;
        const char *start = r->chunk + r->chunk_pos;
        size_t avail = r->chunk_len - r->chunk_pos;
        const char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        if (used + take + 1 > r->line_cap) {
            size_t cap = r->line_cap;
            while (used + take + 1 > cap) cap *= 2;
            char *p = realloc(r->line, cap);
            if (!p) {
                seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: line %llu: out of memory", r->path,
                                (unsigned long long)(r->line_no + 1));
                return -1;
            }
            r->line = p;
            r->line_cap = cap;
        }
        memcpy(r->line + used, start, take);
        used += take;
        r->chunk_pos += take + (nl ? 1 : 0);
        r->next_offset += take + (nl ? 1 : 0);
        if (nl) break;
    }
    if (!got_any) return 0;
    r->line_no++;
    if (used > 0 && r->line[used - 1] == '\r') used--;
    r->line[used] = '\0';
    const char *nul = memchr(r->line, '\0', used);
    if (nul) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT, "%s: line %llu, byte %llu: NUL byte in text",
                        r->path, (unsigned long long)r->line_no,
                        (unsigned long long)(r->line_offset + (uint64_t)(nul - r->line)));
        return -1;
    }
    if (r->validate_utf8) {
        size_t bad;
        if (seqlm_utf8_validate(r->line, used, &bad) == (size_t)-1) {
            seqlm_error_set(
                err, SEQLM_ERR_FORMAT, "%s: line %llu, byte %llu: invalid UTF-8 (byte 0x%02x)",
                r->path, (unsigned long long)r->line_no, (unsigned long long)(r->line_offset + bad),
                (unsigned)(unsigned char)r->line[bad]);
            return -1;
        }
    }
    *line = r->line;
    *len = used;
    return 1;
}

uint64_t seqlm_reader_line(const seqlm_reader *r) {
    return r->line_no;
}
uint64_t seqlm_reader_offset(const seqlm_reader *r) {
    return r->line_offset;
}
const char *seqlm_reader_path(const seqlm_reader *r) {
    return r->path;
}
