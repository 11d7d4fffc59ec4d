/* fuzz_text.c - libFuzzer target for the text layer: seqlm_reader, seqlm_tokenize (all three
 * units), seqlm_token_surface, and the vocabulary file reader and corpus counter.
 *
 * The input is written to a temporary file (the reader takes paths; gzip is detected from the
 * bytes, so gzipped inputs are exercised too) and read back with and without UTF-8 validation.
 * Beyond "no crash, no leak", the invariants the rest of seqlm relies on are checked, and a
 * violation aborts with a message:
 *   - the reader returns exactly the lines of a plain input (split at LF, one trailing CR
 *     removed), each without NUL bytes; it fails only at a line holding a NUL byte or, when
 *     validating, invalid UTF-8; every error is one line with a status;
 *   - every token is non-empty and holds no white space or NUL; the char and byte units
 *     undo exactly (surfaces concatenated give the line back); the word unit loses only the
 *     white space; on valid UTF-8 the char unit gives one token per code point;
 *   - a vocabulary loaded from the input, or counted from it, survives save + load unchanged.
 * It is not a test of the n-gram code (fuzz_arpa.c covers model files).
 *
 *   sh fuzz/run.sh text        (builds into build-fuzz/, seeds a corpus, runs FUZZ_SECONDS) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seqlm/text.h"
#include "seqlm/vocab.h"

static char in_path[256], vocab_path[256];

static void die(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_text: invariant broken: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

static void cleanup(void) {
    if (in_path[0]) unlink(in_path);
    if (vocab_path[0]) unlink(vocab_path);
}

/* Creates the two temporary files once per process (in /dev/shm when there is one). */
static int make_paths(void) {
    if (in_path[0]) return 0;
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (!dir || strlen(dir) > 200) dir = "/tmp";
    snprintf(in_path, sizeof in_path, "%s/fuzz_text-XXXXXX", dir);
    snprintf(vocab_path, sizeof vocab_path, "%s/fuzz_text-vocab-XXXXXX", dir);
    int a = mkstemp(in_path), b = mkstemp(vocab_path);
    if (a < 0 || b < 0) return -1;
    close(a);
    close(b);
    atexit(cleanup);
    return 0;
}

static int write_file(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void check_error(const seqlm_error *err, const char *where) {
    if (err->status == SEQLM_OK) die("a failure without a status", where);
    if (err->msg[0] == '\0') die("a failure without a message", where);
    if (strchr(err->msg, '\n')) die("an error message with a newline", err->msg);
}

static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Tokenizes line for every unit and checks the tokens (see the file comment). */
static void check_tokens(const char *line, size_t len, int valid_utf8, seqlm_tokens *toks) {
    for (int u = 0; u < 3; u++) {
        seqlm_unit unit = (seqlm_unit)u;
        /* A NUL byte would end a word token early; lines from the reader never hold one. */
        if (unit == SEQLM_UNIT_WORD && memchr(line, '\0', len)) continue;
        int n = seqlm_tokenize(line, len, unit, toks);
        if (n < 0) return; /* out of memory */
        if ((size_t)n != toks->count) die("tokenize's count and return value differ", NULL);
        /* Surfaces (char, byte) or tokens (word), concatenated. */
        char *joined = malloc(len + 1);
        size_t jl = 0, cps = 0;
        if (!joined) return;
        for (size_t i = 0; i < toks->count; i++) {
            const char *tok = seqlm_token(toks, i);
            size_t tl = strlen(tok);
            if (tl == 0) die("an empty token", seqlm_unit_name(unit));
            for (size_t k = 0; k < tl; k++)
                if (is_space((unsigned char)tok[k]))
                    die("white space in a token", seqlm_unit_name(unit));
            if (unit == SEQLM_UNIT_WORD) {
                if (jl + tl > len) die("word tokens longer than the line", NULL);
                memcpy(joined + jl, tok, tl);
                jl += tl;
                continue;
            }
            char *surface = malloc(tl); /* exactly the room the header promises is enough */
            if (!surface) break;
            size_t sl = seqlm_token_surface(tok, unit, surface);
            if (sl == 0 || sl > tl) die("a surface of bad length", tok);
            if (jl + sl > len) die("surfaces longer than the line", seqlm_unit_name(unit));
            memcpy(joined + jl, surface, sl);
            jl += sl;
            free(surface);
            cps++;
        }
        if (unit == SEQLM_UNIT_WORD) {
            size_t k = 0;
            for (size_t i = 0; i < len; i++)
                if (!is_space((unsigned char)line[i])) {
                    if (k >= jl || joined[k] != line[i])
                        die("word tokens are not the line without white space", NULL);
                    k++;
                }
            if (k != jl) die("word tokens are not the line without white space", NULL);
        } else {
            if (jl != len || memcmp(joined, line, len) != 0)
                die("surfaces do not give the line back", seqlm_unit_name(unit));
            if (unit == SEQLM_UNIT_BYTE && toks->count != len)
                die("the byte unit does not give one token per byte", NULL);
            if (unit == SEQLM_UNIT_CHAR && valid_utf8) {
                size_t want = 0;
                for (size_t i = 0; i < len; i++) want += ((unsigned char)line[i] & 0xC0) != 0x80;
                if (cps != want) die("the char unit does not give one token per code point", NULL);
            }
        }
        free(joined);
    }
}

/* The lines a plain (not gzipped) input must give: split at LF, one trailing CR removed. */
typedef struct {
    const uint8_t *data;
    size_t size, pos;
} splitter;

static int next_expected(splitter *s, const uint8_t **line, size_t *len) {
    if (s->pos >= s->size) return 0;
    const uint8_t *start = s->data + s->pos;
    const uint8_t *nl = memchr(start, '\n', s->size - s->pos);
    size_t n = nl ? (size_t)(nl - start) : s->size - s->pos;
    s->pos += n + (nl ? 1 : 0);
    if (n > 0 && start[n - 1] == '\r') n--;
    *line = start;
    *len = n;
    return 1;
}

static void read_lines(const uint8_t *data, size_t size, int validate, seqlm_tokens *toks) {
    int plain = !(size >= 2 && data[0] == 0x1f && data[1] == 0x8b);
    seqlm_error err;
    seqlm_error_clear(&err);
    seqlm_reader *r = seqlm_reader_open(in_path, validate, &err);
    if (!r) {
        check_error(&err, "seqlm_reader_open");
        return;
    }
    splitter sp = {data, size, 0};
    const char *line;
    size_t len;
    int rc;
    uint64_t n = 0, last_offset = 0;
    while ((rc = seqlm_reader_next(r, &line, &len, &err)) == 1) {
        n++;
        if (seqlm_reader_line(r) != n) die("line numbers do not count up by one", NULL);
        if (n > 1 && seqlm_reader_offset(r) <= last_offset) die("line offsets do not grow", NULL);
        last_offset = seqlm_reader_offset(r);
        if (line[len] != '\0') die("a line that is not NUL-terminated", NULL);
        if (memchr(line, '\0', len)) die("a line with a NUL byte", NULL);
        if (memchr(line, '\n', len)) die("a line with a newline", NULL);
        size_t bad;
        int valid = seqlm_utf8_validate(line, len, &bad) == len;
        if (validate && !valid) die("invalid UTF-8 got through validation", NULL);
        if (plain) {
            const uint8_t *want;
            size_t wl;
            if (!next_expected(&sp, &want, &wl)) die("more lines than the input holds", NULL);
            if (wl != len || memcmp(want, line, len) != 0)
                die("a line differs from the input", NULL);
            if (seqlm_reader_offset(r) != (uint64_t)(want - data))
                die("a line's offset is not where it starts", NULL);
        }
        check_tokens(line, len, valid, toks);
    }
    if (rc < 0) {
        check_error(&err, "seqlm_reader_next");
        if (plain) { /* the failing line must really be bad */
            const uint8_t *want;
            size_t wl, bad;
            if (!next_expected(&sp, &want, &wl)) die("an error past the last line", err.msg);
            int has_nul = memchr(want, '\0', wl) != NULL;
            int bad_utf8 = seqlm_utf8_validate((const char *)want, wl, &bad) == (size_t)-1;
            if (!has_nul && !(validate && bad_utf8)) die("an error on a good line", err.msg);
        }
    } else if (plain) {
        const uint8_t *want;
        size_t wl;
        if (next_expected(&sp, &want, &wl)) die("the reader stopped before the end", NULL);
    }
    seqlm_reader_free(r);
}

/* save + load gives the same vocabulary back. */
static void check_roundtrip(const seqlm_vocab *v) {
    seqlm_error err;
    if (seqlm_vocab_save(v, vocab_path, &err) != SEQLM_OK) {
        check_error(&err, "seqlm_vocab_save");
        return;
    }
    seqlm_vocab *w = seqlm_vocab_load(vocab_path, &err);
    if (!w) {
        /* A known limit of seqlm_vocab_load: tokens of 4096 bytes or more. */
        for (uint32_t id = 0; id < seqlm_vocab_size(v); id++)
            if (strlen(seqlm_vocab_word(v, id)) >= 4096) return;
        die("a saved vocabulary does not load", err.msg);
    }
    if (seqlm_vocab_size(w) != seqlm_vocab_size(v)) die("save + load changed the size", NULL);
    for (uint32_t id = 0; id < seqlm_vocab_size(v); id++)
        if (strcmp(seqlm_vocab_word(v, id), seqlm_vocab_word(w, id)) != 0 ||
            seqlm_vocab_count(v, id) != seqlm_vocab_count(w, id))
            die("save + load changed an entry", seqlm_vocab_word(v, id));
    seqlm_vocab_free(w);
}

static void check_vocab(const seqlm_vocab *v) {
    static const char *specials[3] = {"<unk>", "<s>", "</s>"};
    if (seqlm_vocab_size(v) < 3) die("a vocabulary without the special tokens", NULL);
    for (uint32_t id = 0; id < seqlm_vocab_size(v); id++) {
        const char *w = seqlm_vocab_word(v, id);
        if (!w) die("a vocabulary id without a token", NULL);
        if (id < 3 && strcmp(w, specials[id]) != 0) die("special tokens out of place", w);
        if (seqlm_vocab_find(v, w) != (int64_t)id) die("a token not found under its id", w);
    }
    if (seqlm_vocab_word(v, (uint32_t)seqlm_vocab_size(v)) != NULL)
        die("a token past the end of the vocabulary", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (make_paths() < 0 || write_file(in_path, data, size) < 0) return 0;
    seqlm_tokens toks = {0};

    read_lines(data, size, 0, &toks);
    read_lines(data, size, 1, &toks);
    /* The tokenizer on the raw bytes too: newlines, NULs and all. */
    check_tokens((const char *)data, size, 0, &toks);
    seqlm_tokens_free(&toks);

    seqlm_error err;
    seqlm_vocab *v = seqlm_vocab_load(in_path, &err);
    if (v) {
        check_vocab(v);
        check_roundtrip(v);
        seqlm_vocab_free(v);
    } else {
        check_error(&err, "seqlm_vocab_load");
    }

    for (int u = 0; u < 3; u++) {
        seqlm_vocab *all = seqlm_vocab_from_corpus(in_path, (seqlm_unit)u, &err);
        if (!all) {
            check_error(&err, "seqlm_vocab_from_corpus");
            continue;
        }
        check_vocab(all);
        seqlm_vocab *pruned = seqlm_vocab_prune(all, 2, 8, &err);
        if (pruned) {
            check_vocab(pruned);
            if (seqlm_vocab_size(pruned) > 8) die("prune kept more than max_vocab", NULL);
            check_roundtrip(pruned);
            seqlm_vocab_free(pruned);
        }
        check_roundtrip(all);
        seqlm_vocab_free(all);
    }
    return 0;
}
