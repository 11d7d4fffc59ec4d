/* reader.c - the line reader: streams a (possibly gzipped) file, validates as it goes, and
 * optionally converts each line from another (ASCII-compatible) encoding to UTF-8 with iconv.
 * It is not a tokenizer (tokenize.c) and keeps at most one line in memory. */
#include "seqlm/text.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
    /* encoding conversion (seqlm_reader_open_encoding); cd == (iconv_t)-1 when reading UTF-8 */
    iconv_t cd;
    char *encoding;
    char *conv; /* the current line converted to UTF-8, NUL-terminated */
    size_t conv_cap;
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
    r->cd = (iconv_t)-1;
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
    if (r->cd != (iconv_t)-1) iconv_close(r->cd);
    free(r->encoding);
    free(r->conv);
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

/* ---- encodings ---------------------------------------------------------------------------- */

static int is_utf8_name(const char *e) {
    return !e || strcasecmp(e, "UTF-8") == 0 || strcasecmp(e, "UTF8") == 0;
}

/* Opens a conversion from encoding to UTF-8 and checks that the encoding is ASCII-compatible:
 * tab, CR, LF and the printable ASCII bytes must convert to themselves, one for one. */
static iconv_t open_conversion(const char *encoding, seqlm_error *err) {
    iconv_t cd = iconv_open("UTF-8", encoding);
    if (cd == (iconv_t)-1) {
        seqlm_error_set(err, SEQLM_ERR_ARG,
                        "unknown encoding '%s' (an iconv name such as CP1252, LATIN1, EUC-KR; "
                        "'iconv -l' lists them)",
                        encoding);
        return cd;
    }
    char in[100], out[400];
    size_t n = 0;
    in[n++] = '\t';
    in[n++] = '\n';
    in[n++] = '\r';
    for (int c = 0x20; c < 0x7f; c++) in[n++] = (char)c;
    char *ip = in, *op = out;
    size_t il = n, ol = sizeof out;
    size_t rc = iconv(cd, &ip, &il, &op, &ol);
    iconv(cd, NULL, NULL, NULL, NULL);
    if (rc == (size_t)-1 || il != 0 || (size_t)(op - out) != n || memcmp(in, out, n) != 0) {
        iconv_close(cd);
        seqlm_error_set(err, SEQLM_ERR_ARG,
                        "encoding '%s' is not ASCII-compatible (lines are split on the byte "
                        "0x0A): convert the file to UTF-8 first (e.g. with iconv)",
                        encoding);
        return (iconv_t)-1;
    }
    return cd;
}

seqlm_status seqlm_encoding_check(const char *encoding, seqlm_error *err) {
    if (is_utf8_name(encoding)) return SEQLM_OK;
    iconv_t cd = open_conversion(encoding, err);
    if (cd == (iconv_t)-1) return SEQLM_ERR_ARG;
    iconv_close(cd);
    return SEQLM_OK;
}

seqlm_reader *seqlm_reader_open_encoding(const char *path, const char *encoding, int validate_utf8,
                                         seqlm_error *err) {
    if (is_utf8_name(encoding)) return seqlm_reader_open(path, validate_utf8, err);
    iconv_t cd = open_conversion(encoding, err);
    if (cd == (iconv_t)-1) return NULL;
    seqlm_reader *r = seqlm_reader_open(path, 0, err);
    if (!r) {
        iconv_close(cd);
        return NULL;
    }
    r->cd = cd;
    r->validate_utf8 = validate_utf8;
    r->encoding = strdup(encoding);
    if (!r->encoding) {
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
        seqlm_reader_free(r);
        return NULL;
    }
    return r;
}

/* Converts the raw line (used bytes in r->line) to UTF-8 in r->conv. */
static int convert_line(seqlm_reader *r, size_t used, const char **line, size_t *len,
                        seqlm_error *err) {
    size_t need = used * 4 + 8; /* no ASCII-compatible encoding grows a byte past 4 */
    if (need > r->conv_cap) {
        char *p = realloc(r->conv, need);
        if (!p) {
            seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: line %llu: out of memory", r->path,
                            (unsigned long long)r->line_no);
            return -1;
        }
        r->conv = p;
        r->conv_cap = need;
    }
    char *ip = r->line, *op = r->conv;
    size_t il = used, ol = r->conv_cap - 1;
    iconv(r->cd, NULL, NULL, NULL, NULL); /* every line starts in the initial shift state */
    size_t rc = iconv(r->cd, &ip, &il, &op, &ol);
    if (rc != (size_t)-1) rc = iconv(r->cd, NULL, NULL, &op, &ol); /* flush shift sequences */
    if (rc == (size_t)-1) {
        size_t at = (size_t)(ip - r->line);
        const char *why = errno == EINVAL ? "incomplete byte sequence" : "invalid byte sequence";
        if (at < used)
            seqlm_error_set(
                err, SEQLM_ERR_FORMAT, "%s: line %llu, byte %llu: %s in %s (byte 0x%02x)", r->path,
                (unsigned long long)r->line_no, (unsigned long long)(r->line_offset + at), why,
                r->encoding, (unsigned)(unsigned char)r->line[at]);
        else
            seqlm_error_set(err, SEQLM_ERR_FORMAT, "%s: line %llu, byte %llu: %s in %s", r->path,
                            (unsigned long long)r->line_no,
                            (unsigned long long)(r->line_offset + at), why, r->encoding);
        return -1;
    }
    size_t n = (size_t)(op - r->conv);
    r->conv[n] = '\0';
    if (memchr(r->conv, '\0', n)) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT,
                        "%s: line %llu: NUL character after conversion from %s", r->path,
                        (unsigned long long)r->line_no, r->encoding);
        return -1;
    }
    if (r->validate_utf8) {
        size_t bad;
        if (seqlm_utf8_validate(r->conv, n, &bad) == (size_t)-1) {
            seqlm_error_set(err, SEQLM_ERR_FORMAT,
                            "%s: line %llu: the conversion from %s gave invalid UTF-8", r->path,
                            (unsigned long long)r->line_no, r->encoding);
            return -1;
        }
    }
    *line = r->conv;
    *len = n;
    return 1;
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
    if (r->validate_utf8 && r->cd == (iconv_t)-1) {
        size_t bad;
        if (seqlm_utf8_validate(r->line, used, &bad) == (size_t)-1) {
            seqlm_error_set(
                err, SEQLM_ERR_FORMAT, "%s: line %llu, byte %llu: invalid UTF-8 (byte 0x%02x)",
                r->path, (unsigned long long)r->line_no, (unsigned long long)(r->line_offset + bad),
                (unsigned)(unsigned char)r->line[bad]);
            return -1;
        }
    }
    if (r->cd != (iconv_t)-1) return convert_line(r, used, line, len, err);
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
