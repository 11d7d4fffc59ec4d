/* embed.c - a text file's ELMo layers, one sentence per line, written as safetensors (one tensor
 * per sentence) or as text (see seqlm/elmo.h for both formats).
 *
 * Two steps: every line is read and tokenised first (ids and, for text output, the tokens kept:
 * 4 bytes a token, so the input may be standard input and errors come before any output); the
 * safetensors header, which needs every tensor's shape, is then written, and the sentences go
 * through seqlm_elmo_forward in batches of consecutive lines whose values are streamed out, so
 * memory holds one batch's layers, not the file's.
 * Not here: the forward pass (model.c) or the mix (mix.c). */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elmo/elmo_internal.h"
#include "util/outfile.h"

#define TOKENS_PER_SENTENCE 64 /* a batch's budget: batch * this many positions */

seqlm_elmo_embed_config seqlm_elmo_embed_default_config(void) {
    seqlm_elmo_embed_config c;
    memset(&c, 0, sizeof c);
    c.batch = 32;
    c.format = SEQLM_ELMO_OUT_SAFETENSORS;
    c.gamma = 1.0f;
    return c;
}

/* ---- the text, tokenised ------------------------------------------------------------------ */

typedef struct {
    int32_t *ids; /* (n_tokens) */
    size_t n_ids, cap_ids;
    size_t *start; /* (n_sent + 1) offsets into ids */
    size_t n_sent, cap_sent;
    char *text; /* tokens (text output only), each NUL-terminated, in ids' order */
    size_t text_len, text_cap;
    size_t *tok_at; /* (n_tokens) offsets into text (text output only) */
    int max_len;
    uint64_t unknown;
} corpus;

static void corpus_free(corpus *c) {
    free(c->ids);
    free(c->start);
    free(c->text);
    free(c->tok_at);
    memset(c, 0, sizeof *c);
}

static int grow(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * size);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

static seqlm_status read_corpus(const seqlm_elmo *e, const char *path, int keep_text, corpus *c,
                                seqlm_error *err) {
    memset(c, 0, sizeof *c);
    seqlm_unit unit = e->cfg.unit;
    seqlm_reader *r = seqlm_reader_open(path, unit != SEQLM_UNIT_BYTE, err);
    if (!r) return err ? err->status : SEQLM_ERR_IO;
    seqlm_tokens toks = {0};
    seqlm_status st = SEQLM_OK;
    const char *line;
    size_t len;
    int rc;
    size_t cap_tok = 0;
    if (grow((void **)&c->start, &c->cap_sent, 1, sizeof *c->start)) goto nomem;
    c->start[0] = 0;
    while ((rc = seqlm_reader_next(r, &line, &len, err)) == 1) {
        if (seqlm_tokenize(line, len, unit, &toks) < 0) goto nomem;
        if (toks.count == 0) {
            st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                 "%s: line %" PRIu64 ": empty sentence: ELMo embeds the tokens of "
                                 "each line (remove blank lines)",
                                 path, seqlm_reader_line(r));
            goto fail;
        }
        if (toks.count > (1u << 20)) {
            st = seqlm_error_set(err, SEQLM_ERR_DATA,
                                 "%s: line %" PRIu64 ": %zu tokens, over the limit of %u for a "
                                 "sentence",
                                 path, seqlm_reader_line(r), toks.count, 1u << 20);
            goto fail;
        }
        if (grow((void **)&c->ids, &c->cap_ids, c->n_ids + toks.count, sizeof *c->ids) ||
            grow((void **)&c->start, &c->cap_sent, c->n_sent + 2, sizeof *c->start) ||
            (keep_text &&
             (grow((void **)&c->tok_at, &cap_tok, c->n_ids + toks.count, sizeof *c->tok_at) ||
              grow((void **)&c->text, &c->text_cap, c->text_len + toks.text_len, 1))))
            goto nomem;
        for (size_t i = 0; i < toks.count; i++) {
            const char *tok = seqlm_token(&toks, i);
            int64_t id = seqlm_vocab_find(e->lm[0]->vocab, tok);
            if (id == SEQLM_BOS || id == SEQLM_EOS) {
                st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                     "%s: line %" PRIu64 ": the sentence markers <s> and </s> are "
                                     "added by seqlm and may not appear in the text",
                                     path, seqlm_reader_line(r));
                goto fail;
            }
            if (id <= (int64_t)SEQLM_UNK) {
                id = SEQLM_UNK;
                c->unknown++;
            }
            if (keep_text) {
                size_t n = strlen(tok) + 1;
                c->tok_at[c->n_ids] = c->text_len;
                memcpy(c->text + c->text_len, tok, n);
                c->text_len += n;
            }
            c->ids[c->n_ids++] = (int32_t)id;
        }
        if ((int)toks.count > c->max_len) c->max_len = (int)toks.count;
        c->start[++c->n_sent] = c->n_ids;
    }
    if (rc < 0) {
        st = err ? err->status : SEQLM_ERR_IO;
        goto fail;
    }
    seqlm_tokens_free(&toks);
    seqlm_reader_free(r);
    if (c->n_sent == 0) {
        corpus_free(c);
        return seqlm_error_set(err, SEQLM_ERR_DATA, "%s: no sentences to embed", path);
    }
    return SEQLM_OK;
nomem:
    st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: line %" PRIu64 ": out of memory", path,
                         seqlm_reader_line(r));
fail:
    seqlm_tokens_free(&toks);
    seqlm_reader_free(r);
    corpus_free(c);
    return st;
}

/* ---- the safetensors header ---------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
    int nomem;
} strbuf;

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *b, const char *fmt, ...) {
    if (b->nomem) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->nomem = 1;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->len + (size_t)n + 1) nc *= 2;
        char *q = realloc(b->s, nc);
        if (!q) {
            b->nomem = 1;
            return;
        }
        b->s = q;
        b->cap = nc;
    }
}

/* Metadata values here are plain ASCII without quotes or backslashes: no escaping needed. */
static void header(strbuf *h, const corpus *c, int K, int D, int mixed, const char *mix_desc,
                   const char *fp) {
    sb_printf(h,
              "{\"__metadata__\":{\"seqlm.kind\":\"elmo-embeddings\",\"seqlm.elmo.sentences\":"
              "\"%zu\",\"seqlm.elmo.layers\":\"%d\",\"seqlm.elmo.dim\":\"%d\",\"seqlm.elmo.mix\":"
              "\"%s\",\"seqlm.elmo.model\":\"%s\",\"seqlm.elmo.unknown\":\"%" PRIu64 "\"}",
              c->n_sent, K, D, mix_desc, fp, c->unknown);
    uint64_t off = 0;
    for (size_t i = 0; i < c->n_sent; i++) {
        size_t n = c->start[i + 1] - c->start[i];
        uint64_t bytes = (uint64_t)(mixed ? 1 : K) * n * (uint64_t)D * 4;
        if (mixed)
            sb_printf(h, ",\"sentence.%zu\":{\"dtype\":\"F32\",\"shape\":[%zu,%d]", i, n, D);
        else
            sb_printf(h, ",\"sentence.%zu\":{\"dtype\":\"F32\",\"shape\":[%d,%zu,%d]", i, K, n, D);
        sb_printf(h, ",\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off, off + bytes);
        off += bytes;
    }
    sb_printf(h, "}");
    while (!h->nomem && h->len % 8) sb_printf(h, " "); /* the data starts 8-byte aligned */
}

/* n floats as little-endian F32 */
static void write_floats(seqlm_outfile *f, const float *v, size_t n) {
    unsigned char buf[4096];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        for (int b = 0; b < 4; b++) buf[k++] = (unsigned char)(u >> (8 * b));
        if (k == sizeof buf) {
            seqlm_outfile_write(f, buf, k);
            k = 0;
        }
    }
    seqlm_outfile_write(f, buf, k);
}

/* ---- the whole file ------------------------------------------------------------------------ */

seqlm_status seqlm_elmo_embed_file(seqlm_elmo *e, const char *in_path,
                                   const seqlm_elmo_embed_config *cfg, const char *out_path,
                                   FILE *out, uint64_t *sentences, uint64_t *unknown,
                                   seqlm_error *err) {
    seqlm_elmo_embed_config dflt = seqlm_elmo_embed_default_config();
    if (!cfg) cfg = &dflt;
    const int tsv = cfg->format == SEQLM_ELMO_OUT_TSV, mixed = cfg->weights != NULL;
    const int K = seqlm_elmo_layers(e), D = seqlm_elmo_dim(e);
    if (cfg->batch < 1) return seqlm_error_set(err, SEQLM_ERR_ARG, "batch must be >= 1");
    if (tsv ? !out : !out_path)
        return seqlm_error_set(err, SEQLM_ERR_ARG, "no output for the embeddings");
    corpus c;
    seqlm_status st = read_corpus(e, in_path, tsv, &c, err);
    if (st != SEQLM_OK) return st;
    if (sentences) *sentences = c.n_sent;
    if (unknown) *unknown = c.unknown;

    char fp[17], mix_desc[1024] = "layers";
    seqlm_elmo_fingerprint_hex(e->fingerprint, fp);
    if (mixed) {
        size_t at = 0;
        for (int k = 0; k < K && at < sizeof mix_desc; k++)
            at += (size_t)snprintf(mix_desc + at, sizeof mix_desc - at, "%s%.9g", k ? "," : "",
                                   (double)cfg->weights[k]);
        if (at < sizeof mix_desc)
            snprintf(mix_desc + at, sizeof mix_desc - at, ":%.9g", (double)cfg->gamma);
    }

    /* batches: consecutive sentences, at most cfg->batch, within the position budget */
    size_t budget = (size_t)cfg->batch * TOKENS_PER_SENTENCE;
    seqlm_elmo_work *w = NULL;
    seqlm_outfile *f = NULL;
    float *layers = NULL, *mix = NULL;
    int32_t *ids = NULL, *lengths = NULL;
    size_t cap_layers = 0, cap_ids = 0, cap_mix = 0;
    if (!(lengths = malloc((size_t)cfg->batch * sizeof *lengths))) goto nomem;
    if (!tsv) {
        strbuf h = {0};
        header(&h, &c, K, D, mixed, mix_desc, fp);
        if (h.nomem) {
            free(h.s);
            goto nomem;
        }
        if (!(f = seqlm_outfile_open(out_path, 0, err))) {
            free(h.s);
            st = err ? err->status : SEQLM_ERR_IO;
            goto done;
        }
        unsigned char b8[8];
        for (int i = 0; i < 8; i++) b8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
        seqlm_outfile_write(f, b8, 8);
        seqlm_outfile_write(f, h.s, h.len);
        free(h.s);
    }
    int wT = 0, wB = 0;
    for (size_t s0 = 0; s0 < c.n_sent;) {
        if (seqlm_stop_requested()) {
            st = seqlm_error_set(err, SEQLM_ERR_INTERRUPT, "interrupted; nothing written");
            goto done;
        }
        int B = 0, T = 0;
        while (s0 + (size_t)B < c.n_sent && B < cfg->batch) {
            int n = (int)(c.start[s0 + B + 1] - c.start[s0 + B]), t = n > T ? n : T;
            if (B > 0 && (size_t)(B + 1) * (size_t)t > budget) break;
            T = t;
            B++;
        }
        if (T > wT || B > wB) { /* a work that fits this batch */
            seqlm_elmo_work_free(w);
            wT = T > wT ? T : wT;
            wB = B > wB ? B : wB;
            if ((size_t)wT * wB > budget && wB > 1) wT = T, wB = B; /* not both maxima */
            if (!(w = seqlm_elmo_work_create(e, wT, wB, err))) {
                st = err ? err->status : SEQLM_ERR_NOMEM;
                goto done;
            }
        }
        size_t need = (size_t)K * T * B * D;
        if (grow((void **)&layers, &cap_layers, need, sizeof *layers) ||
            grow((void **)&ids, &cap_ids, (size_t)T * B, sizeof *ids))
            goto nomem;
        if (mixed && grow((void **)&mix, &cap_mix, (size_t)T * B * D, sizeof *mix)) goto nomem;
        for (int b = 0; b < B; b++) {
            size_t a = c.start[s0 + b];
            lengths[b] = (int32_t)(c.start[s0 + b + 1] - a);
            for (int t = 0; t < T; t++)
                ids[(size_t)t * B + b] = t < lengths[b] ? c.ids[a + t] : (int32_t)SEQLM_UNK;
        }
        seqlm_elmo_forward(e, w, ids, lengths, T, B, layers);
        if (mixed)
            seqlm_scalar_mix_fixed(cfg->weights, K, cfg->gamma, layers, (size_t)T * B, D, mix);
        for (int b = 0; b < B; b++) {
            size_t sent = s0 + (size_t)b, a = c.start[sent];
            int nk = mixed ? 1 : K;
            for (int k = 0; k < nk; k++)
                for (int t = 0; t < lengths[b]; t++) {
                    const float *row = mixed ? mix + ((size_t)t * B + b) * D
                                             : layers + (((size_t)k * T + t) * B + b) * D;
                    if (!tsv) {
                        write_floats(f, row, (size_t)D);
                        continue;
                    }
                    fprintf(out, "%zu\t%d\t%s\t", sent, t, c.text + c.tok_at[a + t]);
                    if (mixed)
                        fputs("mix\t", out);
                    else
                        fprintf(out, "%d\t", k);
                    for (int j = 0; j < D; j++) fprintf(out, j ? " %.9g" : "%.9g", (double)row[j]);
                    fputc('\n', out);
                }
        }
        s0 += (size_t)B;
        if (cfg->progress) cfg->progress(cfg->progress_ctx, "embedding", s0, c.n_sent);
        if (tsv && ferror(out)) {
            st = seqlm_error_set(err, SEQLM_ERR_IO, "cannot write the embeddings");
            goto done;
        }
    }
    if (f) {
        st = seqlm_outfile_commit(f, err);
        f = NULL;
    } else if (fflush(out) != 0 || ferror(out)) {
        st = seqlm_error_set(err, SEQLM_ERR_IO, "cannot write the embeddings");
    }
    goto done;
nomem:
    st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
done:
    seqlm_outfile_abort(f);
    seqlm_elmo_work_free(w);
    free(layers);
    free(mix);
    free(ids);
    free(lengths);
    corpus_free(&c);
    return st;
}
