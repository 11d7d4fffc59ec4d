/* data.c - a text file as one stream of ids for the neural models (see seqlm/lm.h):
 * each line's tokens, then </s>, as ../shared/BENCHMARKS.md has it.
 *
 * Lines come through seqlm_reader (plain or gzip; UTF-8 checked except in the byte unit) and the
 * unit's tokenizer; tokens missing from the vocabulary become <unk> and are counted as OOVs, and
 * so is a literal "<unk>" in the text (as the n-gram evaluation counts it, after KenLM). A
 * literal <s> or </s> is an error naming the line: seqlm adds the markers itself. Reversed
 * reading (seqlm_stream_read_ex) turns each line's tokens around before its </s>.
 * Not here: cutting the stream into columns and windows (the training loop and eval.c do). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "seqlm/lm.h"

static int push(seqlm_stream *s, size_t *cap, int32_t id) {
    if (s->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4096;
        int32_t *q = realloc(s->ids, nc * sizeof *q);
        if (!q) return -1;
        s->ids = q;
        *cap = nc;
    }
    s->ids[s->n++] = id;
    return 0;
}

seqlm_status seqlm_stream_read(const char *path, const seqlm_vocab *v, seqlm_unit unit,
                               seqlm_stream *out, uint64_t *oov, seqlm_error *err) {
    return seqlm_stream_read_ex(path, v, unit, 0, out, oov, err);
}

seqlm_status seqlm_stream_read_ex(const char *path, const seqlm_vocab *v, seqlm_unit unit,
                                  int reverse, seqlm_stream *out, uint64_t *oov, seqlm_error *err) {
    seqlm_stream s = {NULL, 0};
    size_t cap = 0;
    uint64_t n_oov = 0;
    out->ids = NULL;
    out->n = 0;
    if (oov) *oov = 0;
    seqlm_reader *r = seqlm_reader_open(path, unit != SEQLM_UNIT_BYTE, err);
    if (!r) return err ? err->status : SEQLM_ERR_IO;
    seqlm_tokens toks = {0};
    seqlm_status st = SEQLM_OK;
    const char *line;
    size_t len;
    int rc;
    while ((rc = seqlm_reader_next(r, &line, &len, err)) == 1) {
        if (seqlm_tokenize(line, len, unit, &toks) < 0) goto nomem;
        size_t first = s.n; /* the line's first token in the stream */
        for (size_t i = 0; i < toks.count; i++) {
            int64_t id = seqlm_vocab_find(v, seqlm_token(&toks, i));
            if (id == SEQLM_BOS || id == SEQLM_EOS) {
                st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                     "%s: line %" PRIu64 ": the sentence markers <s> and </s> are "
                                     "added by seqlm and may not appear in the text",
                                     path, seqlm_reader_line(r));
                goto fail;
            }
            if (id <= (int64_t)SEQLM_UNK) {
                id = SEQLM_UNK;
                n_oov++;
            }
            if (push(&s, &cap, (int32_t)id)) goto nomem;
        }
        for (size_t i = first, j = s.n; reverse && i + 1 < j; i++, j--) {
            int32_t tmp = s.ids[i];
            s.ids[i] = s.ids[j - 1];
            s.ids[j - 1] = tmp;
        }
        if (push(&s, &cap, (int32_t)SEQLM_EOS)) goto nomem;
    }
    if (rc < 0) {
        st = err ? err->status : SEQLM_ERR_IO;
        goto fail;
    }
    seqlm_tokens_free(&toks);
    seqlm_reader_free(r);
    *out = s;
    if (oov) *oov = n_oov;
    return SEQLM_OK;
nomem:
    st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: line %" PRIu64 ": out of memory", path,
                         seqlm_reader_line(r));
fail:
    seqlm_tokens_free(&toks);
    seqlm_reader_free(r);
    free(s.ids);
    return st;
}

void seqlm_stream_free(seqlm_stream *s) {
    if (!s) return;
    free(s->ids);
    s->ids = NULL;
    s->n = 0;
}
