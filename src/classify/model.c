/* model.c - the sentence classifier: layers, one batch forward and backward, pooling over time,
 * encoding texts to ids, model files.
 *
 * Shapes: B sentences, T steps (the longest in the batch), E embedding, Hc character BiLSTM
 * units per direction (0 without character features), X extra per-token features,
 * I = E + 2Hc + X encoder input, H units per direction, D directions, F = D*H, C classes.
 *
 *   x      = dropout([embedding(ids) | charword(word) | extra])   (T, B, I)   encoder_input()
 *   y      = rnn_stack(x, lengths)                      (T, B, F)   zero at padded steps
 *   pooled = dropout(pool(y, lengths))                  (B, F)
 *   logits = pooled W^T + b                             (B, C)
 *   loss   = mean over counted b of -log softmax(logits_b)[target_b]
 *
 * Backward runs the same chain in reverse; each layer's backward accumulates, so every input
 * gradient buffer is zeroed before the layer writes into it. Not here: the training loop,
 * prediction over a data set and metrics (train.c), reading files (data.c). */
#include <cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify_internal.h"
#include "lm/model_internal.h"
#include "seqlm/kernels.h"
#include "seqlm/modelfile.h"
#include "util/assert.h"

/* ---- names and defaults ---------------------------------------------------------------------- */

static const char *const pool_names[] = {"last", "mean", "max"};

const char *seqlm_pool_name(seqlm_pool p) {
    return (unsigned)p < 3 ? pool_names[p] : "?";
}

int seqlm_pool_parse(const char *name, seqlm_pool *p) {
    for (int i = 0; i < 3; i++)
        if (strcmp(name, pool_names[i]) == 0) {
            *p = (seqlm_pool)i;
            return 0;
        }
    return -1;
}

seqlm_classify_config seqlm_classify_default_config(void) {
    seqlm_classify_config c;
    memset(&c, 0, sizeof c);
    c.cell = SEQLM_CELL_LSTM;
    c.layers = 1;
    c.hidden = 150;
    c.embedding = 100;
    c.bidirectional = 1;
    c.pool = SEQLM_POOL_MAX;
    c.dropout = 0.5f;
    c.unit = SEQLM_UNIT_WORD;
    c.char_hidden = 25;
    c.max_word_chars = 24;
    return c;
}

static seqlm_status check_config(const seqlm_classify_config *c, size_t n_labels,
                                 seqlm_error *err) {
    if (!seqlm_cell_gates(c->cell))
        return seqlm_error_set(err, SEQLM_ERR_ARG, "unknown recurrent cell");
    if (c->layers < 1 || c->layers > SEQLM_MAX_LAYERS)
        return seqlm_error_set(err, SEQLM_ERR_ARG, "layers must be in [1, %d], not %d",
                               SEQLM_MAX_LAYERS, c->layers);
    if (c->hidden < 1 || c->embedding < 1 || c->extra < 0 || c->hidden > (1 << 20) ||
        c->embedding > (1 << 20) || c->extra > (1 << 20))
        return seqlm_error_set(err, SEQLM_ERR_ARG, "hidden and embedding sizes must be >= 1");
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return seqlm_error_set(err, SEQLM_ERR_ARG, "dropout must be in [0, 1)");
    if ((unsigned)c->pool > SEQLM_POOL_MAX)
        return seqlm_error_set(err, SEQLM_ERR_ARG, "unknown pooling");
    if (c->unit != SEQLM_UNIT_WORD && c->unit != SEQLM_UNIT_CHAR)
        return seqlm_error_set(err, SEQLM_ERR_ARG, "the unit must be word or char");
    if (c->char_dim < 0 || c->char_dim > (1 << 16) ||
        (c->char_dim > 0 && (c->char_hidden < 1 || c->char_hidden > (1 << 16) ||
                             c->max_word_chars < 2 || c->max_word_chars > 4096)))
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               "character features: char_dim must be >= 0, char_hidden >= 1 and "
                               "max_word_chars in [2, 4096]");
    if (c->char_dim > 0 && c->unit != SEQLM_UNIT_WORD)
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               "character features are for word units (a char unit's tokens are "
                               "characters already)");
    if (n_labels < 2)
        return seqlm_error_set(err, SEQLM_ERR_DATA,
                               "a classifier needs at least 2 labels (the data has %zu)", n_labels);
    return SEQLM_OK;
}

/* ---- create, free, reset ------------------------------------------------------------------- */

/* The character vocabulary of the words of v: "<unk>", then their characters in id order. */
static int chars_of_vocab(strmap *chars, const seqlm_vocab *v) {
    strmap_init(chars);
    if (strmap_add(chars, "<unk>", 5, 0) < 0) return -1;
    for (size_t i = 0; i < seqlm_vocab_size(v); i++) {
        const char *w = seqlm_vocab_word(v, (uint32_t)i);
        if (!seqlm_vocab_is_special(w) && charword_vocab_add(chars, w)) return -1;
    }
    return 0;
}

/* seqlm_classifier_create with the ELMo features f (owned from here on; may be NULL), which
 * make the extra block, and the character vocabulary chars (moved into the model: *chars is
 * left empty; NULL or empty without character features). */
static seqlm_classifier *create_with(const seqlm_classify_config *cfg, seqlm_vocab *vocab,
                                     const char *const *labels, size_t n_labels, elmo_features *f,
                                     strmap *chars, seqlm_error *err) {
    strmap ch;
    strmap_init(&ch);
    if (chars) {
        ch = *chars;
        strmap_init(chars);
    }
    if (check_config(cfg, n_labels, err) != SEQLM_OK) {
        seqlm_vocab_free(vocab);
        elmo_features_free(f);
        strmap_free(&ch);
        return NULL;
    }
    if (cfg->char_dim > 0 && ch.n < 1) {
        seqlm_vocab_free(vocab);
        elmo_features_free(f);
        strmap_free(&ch);
        seqlm_error_set(err, SEQLM_ERR_ARG, "character features without a character vocabulary");
        return NULL;
    }
    seqlm_classifier *m = calloc(1, sizeof *m);
    if (!m) {
        seqlm_vocab_free(vocab);
        elmo_features_free(f);
        strmap_free(&ch);
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    m->chars = ch;
    m->cfg = *cfg;
    m->elmo = f;
    m->cfg.elmo = f ? elmo_features_path(f) : NULL;
    if (f) m->cfg.extra = elmo_features_dim(f);
    m->vocab = vocab;
    m->V = (int)seqlm_vocab_size(vocab);
    m->C = (int)n_labels;
    m->I = m->cfg.embedding + (cfg->char_dim > 0 ? 2 * cfg->char_hidden : 0) + m->cfg.extra;
    m->D = cfg->bidirectional ? 2 : 1;
    m->F = m->D * cfg->hidden;
    m->labels = calloc(n_labels, sizeof *m->labels);
    m->p = seqlm_params_create();
    int ok = m->labels && m->p;
    for (size_t i = 0; ok && i < n_labels; i++) {
        if (!labels[i] || !*labels[i] || strpbrk(labels[i], "\t\n")) {
            seqlm_error_set(err, SEQLM_ERR_ARG, "label %zu is empty or holds a tab or newline", i);
            seqlm_classifier_free(m);
            return NULL;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[i], labels[j]) == 0) {
                seqlm_error_set(err, SEQLM_ERR_ARG, "label '%s' given twice", labels[i]);
                seqlm_classifier_free(m);
                return NULL;
            }
        ok = (m->labels[i] = strdup(labels[i])) != NULL;
    }
    /* Registration order = the model file's tensor order. */
    ok = ok && seqlm_embedding_init(&m->emb, m->p, "embedding", m->V, cfg->embedding) == 0 &&
         (cfg->char_dim <= 0 ||
          charword_init(&m->cw, m->p, (int)m->chars.n, cfg->char_dim, cfg->char_hidden) == 0) &&
         seqlm_rnn_stack_init(&m->rnn, m->p, "rnn", cfg->cell, m->I, cfg->hidden, cfg->layers,
                              cfg->bidirectional, cfg->dropout) == 0 &&
         seqlm_linear_init(&m->out, m->p, "output", m->F, m->C, 1) == 0 &&
         (!f || elmo_features_register(f, m->p) == 0);
    if (!ok || seqlm_params_alloc(m->p, err) != SEQLM_OK) {
        if (!ok) seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory building the classifier");
        seqlm_classifier_free(m);
        return NULL;
    }
    if (f) elmo_features_reset(f);
    return m;
}

/* seqlm_classifier_create, the character vocabulary (with char_dim > 0) made of the words of
 * char_src (the vocabulary itself, or every training word). */
static seqlm_classifier *create_chars_from(const seqlm_classify_config *cfg, seqlm_vocab *vocab,
                                           const char *const *labels, size_t n_labels,
                                           const seqlm_vocab *char_src, seqlm_error *err) {
    elmo_features *f = NULL;
    strmap chars;
    strmap_init(&chars);
    if (cfg->char_dim > 0 && chars_of_vocab(&chars, char_src)) {
        strmap_free(&chars);
        seqlm_vocab_free(vocab);
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (cfg->elmo && cfg->extra) {
        strmap_free(&chars);
        seqlm_vocab_free(vocab);
        seqlm_error_set(err, SEQLM_ERR_ARG, "ELMo makes the extra features: extra must be 0");
        return NULL;
    }
    if (cfg->elmo && !(f = elmo_features_open(cfg->elmo, cfg->unit, err))) {
        strmap_free(&chars);
        seqlm_vocab_free(vocab);
        return NULL;
    }
    return create_with(cfg, vocab, labels, n_labels, f, &chars, err);
}

seqlm_classifier *seqlm_classifier_create(const seqlm_classify_config *cfg, seqlm_vocab *vocab,
                                          const char *const *labels, size_t n_labels,
                                          seqlm_error *err) {
    return create_chars_from(cfg, vocab, labels, n_labels, vocab, err);
}

void seqlm_classifier_free(seqlm_classifier *m) {
    if (!m) return;
    seqlm_vocab_free(m->vocab);
    if (m->labels)
        for (int i = 0; i < m->C; i++) free(m->labels[i]);
    free(m->labels);
    seqlm_params_free(m->p);
    elmo_features_free(m->elmo);
    strmap_free(&m->chars);
    charword_free(&m->cw);
    free(m);
}

void seqlm_classifier_reset(seqlm_classifier *m, seqlm_rng *rng) {
    seqlm_embedding_reset(&m->emb, m->p, rng);
    if (m->cfg.char_dim > 0) charword_reset(&m->cw, m->p, rng);
    seqlm_rnn_stack_reset(&m->rnn, m->p, rng);
    seqlm_linear_reset(&m->out, m->p, rng);
    if (m->elmo) elmo_features_reset(m->elmo);
}

const seqlm_classify_config *seqlm_classifier_config(const seqlm_classifier *m) {
    return &m->cfg;
}
const seqlm_vocab *seqlm_classifier_vocab(const seqlm_classifier *m) {
    return m->vocab;
}
size_t seqlm_classifier_labels(const seqlm_classifier *m, const char *const **labels) {
    if (labels) *labels = (const char *const *)m->labels;
    return (size_t)m->C;
}
seqlm_params *seqlm_classifier_params(seqlm_classifier *m) {
    return m->p;
}
size_t seqlm_classifier_n_chars(const seqlm_classifier *m) {
    return m->cfg.char_dim > 0 ? m->chars.n : 0;
}
int seqlm_classifier_label_index(const seqlm_classifier *m, const char *label) {
    for (int i = 0; i < m->C; i++)
        if (strcmp(m->labels[i], label) == 0) return i;
    return -1;
}

/* ---- tokens -------------------------------------------------------------------------------- */

/* Tokenises text for the config's unit, ASCII-lower-casing first with cfg->lower. */
int classify_tokenize(const seqlm_classify_config *cfg, const char *text, seqlm_tokens *tok,
                      char **scratch, size_t *scratch_cap) {
    size_t len = strlen(text);
    if (cfg->lower) {
        if (len + 1 > *scratch_cap) {
            char *p = realloc(*scratch, len + 1);
            if (!p) return -1;
            *scratch = p;
            *scratch_cap = len + 1;
        }
        for (size_t i = 0; i <= len; i++) {
            char ch = text[i];
            (*scratch)[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
        }
        text = *scratch;
    }
    return seqlm_tokenize(text, len, cfg->unit, tok);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

seqlm_classifier *seqlm_classifier_create_for(const seqlm_classify_config *cfg,
                                              const seqlm_classify_data *data, uint64_t min_count,
                                              seqlm_error *err) {
    if (check_config(cfg, data->n_labels, err) != SEQLM_OK) return NULL;
    for (size_t i = 0; i < data->n; i++)
        if (data->label[i] < 0) {
            seqlm_error_set(err, SEQLM_ERR_DATA,
                            "%s: line %" PRIu64 ": a training text without a label",
                            data->files[data->file[i]], data->line[i]);
            return NULL;
        }
    seqlm_vocab *all = seqlm_vocab_create();
    seqlm_tokens tok = {0};
    char *scratch = NULL;
    size_t scap = 0;
    int ok = all != NULL;
    for (size_t i = 0; ok && i < data->n; i++) {
        int n = classify_tokenize(cfg, data->text[i], &tok, &scratch, &scap);
        ok = n >= 0;
        for (int k = 0; ok && k < n; k++) ok = seqlm_vocab_add(all, seqlm_token(&tok, k), 1) >= 0;
    }
    seqlm_tokens_free(&tok);
    free(scratch);
    if (!ok) {
        seqlm_vocab_free(all);
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory building the vocabulary");
        return NULL;
    }
    seqlm_vocab *v = seqlm_vocab_prune(all, min_count ? min_count : 1, 0, err);
    const char **labels = v ? malloc(data->n_labels * sizeof *labels) : NULL;
    if (!labels) {
        if (v) seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
        seqlm_vocab_free(v);
        seqlm_vocab_free(all);
        return NULL;
    }
    memcpy(labels, data->labels, data->n_labels * sizeof *labels);
    qsort(labels, data->n_labels, sizeof *labels, cmp_str);
    /* characters: of every training word, in first-seen order (all, not v) */
    seqlm_classifier *m = create_chars_from(cfg, v, labels, data->n_labels, all, err);
    free(labels);
    seqlm_vocab_free(all);
    return m;
}

seqlm_status seqlm_classify_encode(const seqlm_classifier *m, const seqlm_classify_data *data,
                                   int allow_unknown_labels, seqlm_classify_encoded *out,
                                   seqlm_error *err) {
    memset(out, 0, sizeof *out);
    /* the data's label indices -> the model's classes */
    int32_t *map = malloc((data->n_labels + 1) * sizeof *map);
    size_t cap = 1024, used = 0;
    out->n = data->n;
    out->ids = malloc(cap * sizeof *out->ids);
    out->start = malloc((data->n + 1) * sizeof *out->start);
    out->label = malloc((data->n + 1) * sizeof *out->label);
    if (m->elmo) out->elmo_ids = malloc(cap * sizeof *out->elmo_ids);
    const int chars = m->cfg.char_dim > 0;
    strmap types; /* chars: the data's distinct tokens */
    strmap_init(&types);
    if (chars) out->type_ids = malloc(cap * sizeof *out->type_ids);
    seqlm_tokens tok = {0}, etok = {0};
    char *scratch = NULL;
    size_t scap = 0;
    seqlm_status st = SEQLM_OK;
    if (!map || !out->ids || !out->start || !out->label || (m->elmo && !out->elmo_ids) ||
        (chars && !out->type_ids))
        goto nomem;
    for (size_t k = 0; k < data->n_labels; k++)
        map[k] = seqlm_classifier_label_index(m, data->labels[k]);
    for (size_t i = 0; i < data->n; i++) {
        int32_t lab = data->label[i] >= 0 ? map[data->label[i]] : -1;
        if (data->label[i] >= 0 && lab < 0 && !allow_unknown_labels) {
            char known[256] = "";
            size_t kl = 0;
            for (int c = 0; c < m->C && kl + 1 < sizeof known; c++)
                kl += (size_t)snprintf(known + kl, sizeof known - kl, "%s'%s'", c ? ", " : "",
                                       m->labels[c]);
            st = seqlm_error_set(err, SEQLM_ERR_DATA,
                                 "%s: line %" PRIu64 ": label '%s' is not one the model knows (%s)",
                                 data->files[data->file[i]], data->line[i],
                                 data->labels[data->label[i]], known);
            goto done;
        }
        out->label[i] = lab;
        int n = classify_tokenize(&m->cfg, data->text[i], &tok, &scratch, &scap);
        if (n < 0) goto nomem;
        size_t need = used + (size_t)(n ? n : 1);
        if (need > cap) {
            while (need > cap) cap *= 2;
            int32_t *p = realloc(out->ids, cap * sizeof *p);
            if (!p) goto nomem;
            out->ids = p;
            if (m->elmo) {
                if (!(p = realloc(out->elmo_ids, cap * sizeof *p))) goto nomem;
                out->elmo_ids = p;
            }
            if (chars) {
                if (!(p = realloc(out->type_ids, cap * sizeof *p))) goto nomem;
                out->type_ids = p;
            }
        }
        if (chars) { /* an empty text is the empty word (one <unk> character) */
            for (int k = 0; k < n; k++) {
                const char *s = seqlm_token(&tok, k);
                int64_t id = strmap_add(&types, s, strlen(s), 1);
                if (id < 0) goto nomem;
                out->type_ids[used + (size_t)k] = (int32_t)id;
            }
            if (n == 0) {
                int64_t id = strmap_add(&types, "", 0, 1);
                if (id < 0) goto nomem;
                out->type_ids[used] = (int32_t)id;
            }
        }
        if (m->elmo) {
            /* ELMo reads the text's own tokens: the model's unit, without --lower (its ids
             * fall back to the lower-cased form themselves); an empty text is one <unk> */
            size_t at = used;
            const char *text = data->text[i];
            int ne = seqlm_tokenize(text, strlen(text), m->cfg.unit, &etok);
            if (ne < 0) goto nomem;
            SEQLM_ASSERT(ne == n);
            for (int k = 0; k < ne; k++)
                out->elmo_ids[at++] =
                    elmo_features_id(m->elmo, seqlm_token(&etok, k), &out->elmo_unknown);
            if (ne == 0) out->elmo_ids[at] = (int32_t)SEQLM_UNK;
        }
        out->start[i] = used;
        for (int k = 0; k < n; k++)
            out->ids[used++] = (int32_t)seqlm_vocab_lookup(m->vocab, seqlm_token(&tok, k));
        if (n == 0) out->ids[used++] = (int32_t)SEQLM_UNK; /* an empty text is one <unk> */
        if ((int)(used - out->start[i]) > out->max_len) out->max_len = (int)(used - out->start[i]);
    }
    out->start[data->n] = used;
    if (chars) {
        if (!(out->char_types = malloc(sizeof *out->char_types)) ||
            charword_types_init(out->char_types, types.n, m->cfg.max_word_chars)) {
            free(out->char_types);
            out->char_types = NULL;
            goto nomem;
        }
        for (size_t t = 0; t < types.n; t++)
            charword_types_set(out->char_types, t, &m->chars, strmap_str(&types, t));
    }
    goto done;
nomem:
    st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory encoding the texts");
done:
    free(map);
    strmap_free(&types);
    seqlm_tokens_free(&tok);
    seqlm_tokens_free(&etok);
    free(scratch);
    if (st != SEQLM_OK) seqlm_classify_encoded_free(out);
    return st;
}

void seqlm_classify_encoded_free(seqlm_classify_encoded *e) {
    free(e->ids);
    free(e->start);
    free(e->label);
    free(e->elmo_ids);
    free(e->type_ids);
    if (e->char_types) charword_types_free(e->char_types);
    free(e->char_types);
    memset(e, 0, sizeof *e);
}

/* ---- pooling over time ---------------------------------------------------------------------- */

void seqlm_pool_forward(seqlm_pool kind, const float *y, int T, int B, int D, int H,
                        const int32_t *lengths, float *out, int32_t *arg) {
    const int F = D * H;
    for (int b = 0; b < B; b++) {
        int len = lengths[b];
        SEQLM_ASSERT(len >= 1 && len <= T);
        float *o = out + (size_t)b * F;
        if (kind == SEQLM_POOL_LAST) {
            /* forward direction: after the last real step; backward: after t = 0 */
            memcpy(o, y + ((size_t)(len - 1) * B + b) * F, (size_t)H * sizeof *o);
            if (D == 2) memcpy(o + H, y + (size_t)b * F + H, (size_t)H * sizeof *o);
        } else if (kind == SEQLM_POOL_MEAN) {
            for (int j = 0; j < F; j++) {
                double s = 0;
                for (int t = 0; t < len; t++) s += y[((size_t)t * B + b) * F + j];
                o[j] = (float)(s / len);
            }
        } else {
            int32_t *a = arg + (size_t)b * F;
            memcpy(o, y + (size_t)b * F, (size_t)F * sizeof *o);
            for (int j = 0; j < F; j++) a[j] = 0;
            for (int t = 1; t < len; t++) {
                const float *yt = y + ((size_t)t * B + b) * F;
                for (int j = 0; j < F; j++)
                    if (yt[j] > o[j]) {
                        o[j] = yt[j];
                        a[j] = t;
                    }
            }
        }
    }
}

void seqlm_pool_backward(seqlm_pool kind, const float *dout, int T, int B, int D, int H,
                         const int32_t *lengths, const int32_t *arg, float *dy) {
    const int F = D * H;
    (void)T;
    for (int b = 0; b < B; b++) {
        int len = lengths[b];
        const float *g = dout + (size_t)b * F;
        if (kind == SEQLM_POOL_LAST) {
            float *d0 = dy + ((size_t)(len - 1) * B + b) * F;
            for (int j = 0; j < H; j++) d0[j] += g[j];
            if (D == 2) {
                float *d1 = dy + (size_t)b * F + H;
                for (int j = 0; j < H; j++) d1[j] += g[H + j];
            }
        } else if (kind == SEQLM_POOL_MEAN) {
            float inv = 1.0f / (float)len;
            for (int t = 0; t < len; t++) {
                float *dt = dy + ((size_t)t * B + b) * F;
                for (int j = 0; j < F; j++) dt[j] += g[j] * inv;
            }
        } else {
            const int32_t *a = arg + (size_t)b * F;
            for (int j = 0; j < F; j++) dy[((size_t)a[j] * B + b) * F + j] += g[j];
        }
    }
}

/* ---- the workspace and one batch ----------------------------------------------------------- */

seqlm_classify_work *seqlm_classify_work_create(seqlm_classifier *m, int T_max, int B_max,
                                                seqlm_error *err) {
    seqlm_classify_work *w = calloc(1, sizeof *w);
    if (!w || T_max < 1 || B_max < 1) {
        free(w);
        seqlm_error_set(err, T_max < 1 || B_max < 1 ? SEQLM_ERR_ARG : SEQLM_ERR_NOMEM,
                        "cannot make a classifier workspace for %d x %d", T_max, B_max);
        return NULL;
    }
    size_t TB = (size_t)T_max * B_max;
    w->m = m;
    w->T_max = T_max;
    w->B_max = B_max;
    w->cache = seqlm_stack_cache_create(&m->rnn, T_max, B_max);
    w->ids = malloc(TB * sizeof *w->ids);
    w->x = malloc(TB * m->I * sizeof *w->x);
    w->x_mask = malloc(TB * m->I);
    w->dx = malloc(TB * m->I * sizeof *w->dx);
    const int chars = m->cfg.char_dim > 0;
    w->emb = m->cfg.extra || chars ? malloc(TB * m->cfg.embedding * sizeof *w->emb) : NULL;
    w->uniq = chars ? malloc(TB * sizeof *w->uniq) : NULL;
    w->cw = m->cw; /* the layer; its scratch (none in the model) grows in the workspace */
    w->y = malloc(TB * m->F * sizeof *w->y);
    w->dy = malloc(TB * m->F * sizeof *w->dy);
    w->pooled = malloc((size_t)B_max * m->F * sizeof *w->pooled);
    w->dpooled = malloc((size_t)B_max * m->F * sizeof *w->dpooled);
    w->pool_mask = malloc((size_t)B_max * m->F);
    w->arg = malloc((size_t)B_max * m->F * sizeof *w->arg);
    w->logits = malloc((size_t)B_max * m->C * sizeof *w->logits);
    w->dlogits = malloc((size_t)B_max * m->C * sizeof *w->dlogits);
    if (!w->cache || !w->ids || !w->x || !w->x_mask || !w->dx ||
        ((m->cfg.extra || chars) && !w->emb) || (chars && !w->uniq) || !w->y || !w->dy ||
        !w->pooled || !w->dpooled || !w->pool_mask || !w->arg || !w->logits || !w->dlogits) {
        seqlm_classify_work_free(w);
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory for a batch of %d x %d tokens", B_max,
                        T_max);
        return NULL;
    }
    return w;
}

void seqlm_classify_work_free(seqlm_classify_work *w) {
    if (!w) return;
    seqlm_stack_cache_free(w->cache);
    free(w->ids);
    free(w->x);
    free(w->x_mask);
    free(w->dx);
    free(w->emb);
    free(w->uniq);
    charword_free(&w->cw);
    charword_batch_free(&w->cb);
    free(w->y);
    free(w->dy);
    free(w->pooled);
    free(w->dpooled);
    free(w->pool_mask);
    free(w->arg);
    free(w->logits);
    free(w->dlogits);
    free(w);
}

/* The one place the encoder's per-token input is built: x (T, B, I) = [embedding | character
 * representation | extra], where the character representation (2Hc) of each word comes from
 * the character BiLSTM run once over the batch's distinct words (words, with char features),
 * and extra (T, B, X) are features from elsewhere (contextual embeddings) when X > 0. Padded
 * positions look up <unk> (id 0) and get zero characters; the recurrent layers never read
 * them. -1 when out of memory. */
static int encoder_input(seqlm_classifier *m, seqlm_classify_work *w, const int32_t *ids,
                         const classify_words *words, const int32_t *lengths, const float *extra,
                         int T, int B) {
    const int E = m->cfg.embedding, X = m->cfg.extra, I = m->I;
    const int Hc2 = m->cfg.char_dim > 0 ? 2 * m->cfg.char_hidden : 0;
    const size_t N = (size_t)T * B;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            int32_t id = t < lengths[b] ? ids[(size_t)t * B + b] : 0;
            SEQLM_ASSERT(id >= 0 && id < m->V);
            w->ids[(size_t)t * B + b] = id;
        }
    if (!X && !Hc2) {
        seqlm_embedding_forward(&m->emb, m->p, w->ids, N, w->x);
        return 0;
    }
    SEQLM_ASSERT(!X || extra);
    SEQLM_ASSERT(!Hc2 || words);
    if (Hc2) { /* the batch's distinct words, sentence by sentence, then their representations */
        charword_batch_begin(&w->cb, words->types);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                size_t k = (size_t)t * B + b;
                if (t >= lengths[b]) {
                    w->uniq[k] = -1;
                    continue;
                }
                int32_t ty = words->tids[k];
                SEQLM_ASSERT(ty >= 0 && (size_t)ty < words->types->n);
                if ((w->uniq[k] = charword_batch_add(&w->cb, words->types, (size_t)ty)) < 0)
                    return -1;
            }
        if (charword_batch_finish(&w->cb, words->types) || charword_forward(&w->cw, m->p, &w->cb))
            return -1;
    }
    seqlm_embedding_forward(&m->emb, m->p, w->ids, N, w->emb);
    for (size_t n = 0; n < N; n++) {
        float *row = w->x + n * I;
        memcpy(row, w->emb + n * E, (size_t)E * sizeof(float));
        if (Hc2) {
            if (w->uniq[n] >= 0)
                charword_get(&w->cw, &w->cb, w->uniq[n], row + E);
            else
                memset(row + E, 0, (size_t)Hc2 * sizeof(float));
        }
        if (X) memcpy(row + E + Hc2, extra + n * X, (size_t)X * sizeof(float));
    }
    return 0;
}

/* Backward of encoder_input: dx (T, B, I) to the embedding gradient, the character BiLSTM
 * (each token's gradient summed into its word's) and dextra (T, B, X). */
static void encoder_input_backward(seqlm_classifier *m, seqlm_classify_work *w, int T, int B,
                                   float *dextra) {
    const int E = m->cfg.embedding, X = m->cfg.extra, I = m->I;
    const int Hc2 = m->cfg.char_dim > 0 ? 2 * m->cfg.char_hidden : 0;
    const size_t N = (size_t)T * B;
    if (!X && !Hc2) {
        seqlm_embedding_backward(&m->emb, m->p, w->ids, N, w->dx);
        return;
    }
    if (Hc2) charword_zero_dh(&w->cw, &w->cb);
    for (size_t n = 0; n < N; n++) {
        memcpy(w->emb + n * E, w->dx + n * I, (size_t)E * sizeof(float));
        if (Hc2 && w->uniq[n] >= 0) charword_add_dh(&w->cw, &w->cb, w->uniq[n], w->dx + n * I + E);
        if (X && dextra)
            for (int k = 0; k < X; k++) dextra[n * X + k] += w->dx[n * I + E + Hc2 + k];
    }
    seqlm_embedding_backward(&m->emb, m->p, w->ids, N, w->emb);
    if (Hc2) charword_backward(&w->cw, m->p, &w->cb);
}

/* One batch: the chain of the file's opening comment. NaN when out of memory (err set). */
static double batch_core(seqlm_classifier *m, seqlm_classify_work *w, const int32_t *ids,
                         const classify_words *words, const float *extra, const int32_t *lengths,
                         int T, int B, const int32_t *targets, int training, int backward,
                         seqlm_rng *rng, float *logits, float *dextra, seqlm_error *err) {
    SEQLM_ASSERT(T >= 1 && B >= 1 && T <= w->T_max && B <= w->B_max);
    const int I = m->I, F = m->F, C = m->C;
    const size_t TB = (size_t)T * B;
    const float rate = training ? m->cfg.dropout : 0.0f;
    if (encoder_input(m, w, ids, words, lengths, extra, T, B)) {
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory for the character BiLSTM");
        return NAN;
    }
    if (rate > 0) seqlm_dropout_forward(w->x, w->x_mask, TB * I, rate, rng);
    seqlm_rnn_stack_forward(&m->rnn, m->p, w->cache, w->x, T, B, lengths, NULL, NULL, w->y, NULL,
                            NULL, training, rng);
    seqlm_pool_forward(m->cfg.pool, w->y, T, B, m->D, m->cfg.hidden, lengths, w->pooled, w->arg);
    if (rate > 0) seqlm_dropout_forward(w->pooled, w->pool_mask, (size_t)B * F, rate, rng);
    seqlm_linear_forward(&m->out, m->p, w->pooled, (size_t)B, w->logits);
    if (logits) memcpy(logits, w->logits, (size_t)B * C * sizeof *logits);
    if (!targets) return 0.0;
    double loss = seqlm_softmax_xent(w->logits, targets, (size_t)B, C, -100,
                                     backward ? w->dlogits : NULL, NULL);
    if (!backward) return loss;
    memset(w->dpooled, 0, (size_t)B * F * sizeof *w->dpooled);
    seqlm_linear_backward(&m->out, m->p, w->pooled, (size_t)B, w->dlogits, w->dpooled);
    if (rate > 0) seqlm_dropout_backward(w->dpooled, w->pool_mask, (size_t)B * F, rate);
    memset(w->dy, 0, TB * F * sizeof *w->dy);
    seqlm_pool_backward(m->cfg.pool, w->dpooled, T, B, m->D, m->cfg.hidden, lengths, w->arg, w->dy);
    memset(w->dx, 0, TB * I * sizeof *w->dx);
    seqlm_rnn_stack_backward(&m->rnn, m->p, w->cache, w->dy, NULL, NULL, w->dx, NULL, NULL);
    if (rate > 0) seqlm_dropout_backward(w->dx, w->x_mask, TB * I, rate);
    encoder_input_backward(m, w, T, B, dextra);
    return loss;
}

double classify_batch_ex(seqlm_classifier *m, seqlm_classify_work *w, const int32_t *ids,
                         const float *extra, const int32_t *lengths, int T, int B,
                         const int32_t *targets, int training, int backward, seqlm_rng *rng,
                         float *logits, float *dextra) {
    SEQLM_ASSERT(m->cfg.char_dim == 0);
    return batch_core(m, w, ids, NULL, extra, lengths, T, B, targets, training, backward, rng,
                      logits, dextra, NULL);
}

double classify_batch_full(seqlm_classifier *m, seqlm_classify_work *w, const int32_t *ids,
                           const classify_words *words, const int32_t *eids, const int32_t *lengths,
                           int T, int B, const int32_t *targets, int training, int backward,
                           seqlm_rng *rng, float *logits, seqlm_error *err) {
    SEQLM_ASSERT(m->cfg.char_dim == 0 || words);
    if (!m->elmo)
        return batch_core(m, w, ids, words, NULL, lengths, T, B, targets, training, backward, rng,
                          logits, NULL, err);
    const float *x = elmo_features_forward(m->elmo, eids, lengths, T, B, err);
    if (!x) return NAN;
    backward = backward && targets;
    double loss = batch_core(m, w, ids, words, x, lengths, T, B, targets, training, backward, rng,
                             logits, backward ? elmo_features_grad(m->elmo) : NULL, err);
    if (backward && !isnan(loss)) elmo_features_backward(m->elmo);
    return loss;
}

double seqlm_classify_batch(seqlm_classifier *m, seqlm_classify_work *w, const int32_t *ids,
                            const int32_t *lengths, int T, int B, const int32_t *targets,
                            int training, int backward, seqlm_rng *rng, float *logits) {
    SEQLM_ASSERT(m->cfg.extra == 0 && !m->elmo && m->cfg.char_dim == 0);
    return classify_batch_ex(m, w, ids, NULL, lengths, T, B, targets, training, backward, rng,
                             logits, NULL);
}

/* ---- model files ------------------------------------------------------------------------------
 */

/* The config as JSON; the character fields only with char_dim > 0 (files without them are
 * models without character features). */
static char *config_json(const seqlm_classify_config *c) {
    char buf[640], chars[128] = "";
    if (c->char_dim > 0)
        snprintf(chars, sizeof chars,
                 ", \"char_dim\": %d, \"char_hidden\": %d, \"max_word_chars\": %d", c->char_dim,
                 c->char_hidden, c->max_word_chars);
    snprintf(buf, sizeof buf,
             "{\"arch\": \"%s\", \"layers\": %d, \"hidden\": %d, \"embedding\": %d, "
             "\"bidirectional\": %s, \"pool\": \"%s\", \"dropout\": %.9g, \"unit\": \"%s\", "
             "\"lower\": %s, \"extra\": %d%s}",
             seqlm_cell_name(c->cell), c->layers, c->hidden, c->embedding,
             c->bidirectional ? "true" : "false", seqlm_pool_name(c->pool), (double)c->dropout,
             seqlm_unit_name(c->unit), c->lower ? "true" : "false", c->extra, chars);
    return strdup(buf);
}

/* Reads the character vocabulary's lines (strmap_join_lines) into chars (initialised here); -1
 * when garbled (a repeated line, no "<unk>" first) or out of memory. */
static int parse_chars(const char *text, strmap *chars) {
    strmap_init(chars);
    if (strmap_split_lines(chars, text)) return -1;
    return chars->n > 0 && strcmp(strmap_str(chars, 0), "<unk>") == 0 ? 0 : -1;
}

seqlm_status seqlm_classifier_save(const seqlm_classifier *m, const char *path,
                                   const seqlm_metadata *extra, seqlm_error *err) {
    seqlm_metadata meta = {0};
    if (extra)
        for (size_t i = 0; i < extra->count; i++)
            seqlm_metadata_set(&meta, extra->keys[i], extra->values[i]);
    char *cfg = config_json(&m->cfg), *voc = lm_vocab_text(m->vocab);
    char *chars = m->cfg.char_dim > 0 ? strmap_join_lines(&m->chars) : NULL;
    size_t len = 1;
    for (int i = 0; i < m->C; i++) len += strlen(m->labels[i]) + 1;
    char *labels = malloc(len), *q = labels;
    seqlm_status st;
    if (!cfg || !voc || !labels || (m->cfg.char_dim > 0 && !chars)) {
        st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < m->C; i++) q += sprintf(q, "%s\n", m->labels[i]);
    *q = '\0';
    seqlm_metadata_set(&meta, "seqlm.kind", "classifier");
    seqlm_metadata_set(&meta, "seqlm.classify.config", cfg);
    seqlm_metadata_set(&meta, "seqlm.vocab", voc);
    seqlm_metadata_set(&meta, "seqlm.labels", labels);
    if (chars) seqlm_metadata_set(&meta, "seqlm.classify.chars", chars);
    if (m->elmo) elmo_features_metadata(m->elmo, &meta);
    st = seqlm_safetensors_write(path, m->p, &meta, err);
done:
    free(cfg);
    free(voc);
    free(chars);
    free(labels);
    seqlm_metadata_free(&meta);
    return st;
}

static int json_int(const cJSON *o, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble) return -1;
    *out = (int)v->valuedouble;
    return 0;
}

static int json_bool(const cJSON *o, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsBool(v)) return -1;
    *out = cJSON_IsTrue(v);
    return 0;
}

static seqlm_status parse_config(const char *path, const char *text, seqlm_classify_config *c,
                                 seqlm_error *err) {
    *c = seqlm_classify_default_config();
    cJSON *j = cJSON_Parse(text);
    seqlm_status st = SEQLM_OK;
    const cJSON *v;
    if (!cJSON_IsObject(j)) {
        st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                             "%s: garbled seqlm.classify.config (not a JSON object)", path);
        goto done;
    }
    v = cJSON_GetObjectItemCaseSensitive(j, "arch");
    if (!cJSON_IsString(v) || seqlm_cell_parse(v->valuestring, &c->cell)) {
        st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                             "%s: seqlm.classify.config: \"arch\" missing or unknown", path);
        goto done;
    }
    v = cJSON_GetObjectItemCaseSensitive(j, "pool");
    if (v && (!cJSON_IsString(v) || seqlm_pool_parse(v->valuestring, &c->pool))) {
        st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                             "%s: seqlm.classify.config: \"pool\" must be last, mean or max", path);
        goto done;
    }
    v = cJSON_GetObjectItemCaseSensitive(j, "unit");
    if (v && (!cJSON_IsString(v) || seqlm_unit_parse(v->valuestring, &c->unit))) {
        st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                             "%s: seqlm.classify.config: \"unit\" must be word or char", path);
        goto done;
    }
    v = cJSON_GetObjectItemCaseSensitive(j, "dropout");
    if (v) {
        if (!cJSON_IsNumber(v)) {
            st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                 "%s: seqlm.classify.config: \"dropout\" must be a number", path);
            goto done;
        }
        c->dropout = (float)v->valuedouble;
    }
    if (json_int(j, "layers", &c->layers) || json_int(j, "hidden", &c->hidden) ||
        json_int(j, "embedding", &c->embedding) || json_int(j, "extra", &c->extra) ||
        json_int(j, "char_dim", &c->char_dim) || json_int(j, "char_hidden", &c->char_hidden) ||
        json_int(j, "max_word_chars", &c->max_word_chars) ||
        json_bool(j, "bidirectional", &c->bidirectional) || json_bool(j, "lower", &c->lower)) {
        st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                             "%s: seqlm.classify.config: a field has the wrong type", path);
        goto done;
    }
done:
    cJSON_Delete(j);
    return st;
}

seqlm_classifier *seqlm_classifier_load(const char *path, seqlm_metadata *meta, seqlm_error *err) {
    return seqlm_classifier_load_ex(path, NULL, meta, err);
}

seqlm_classifier *seqlm_classifier_load_ex(const char *path, const char *elmo, seqlm_metadata *meta,
                                           seqlm_error *err) {
    seqlm_error local;
    if (!err) err = &local; /* elmo_features_reopen's status tells "no ELMo" from a failure */
    seqlm_metadata md = {0};
    seqlm_classifier *m = NULL;
    char **labels = NULL;
    size_t n_labels = 0;
    strmap chars; /* the character vocabulary (char_dim > 0) */
    strmap_init(&chars);
    seqlm_params *file = seqlm_safetensors_read(path, &md, err);
    if (!file) goto done;
    seqlm_params_free(file);
    const char *kind = seqlm_metadata_get(&md, "seqlm.kind");
    const char *cfg_text = seqlm_metadata_get(&md, "seqlm.classify.config");
    const char *voc_text = seqlm_metadata_get(&md, "seqlm.vocab");
    const char *lab_text = seqlm_metadata_get(&md, "seqlm.labels");
    if (!kind || strcmp(kind, "classifier") != 0 || !cfg_text) {
        if (kind && strcmp(kind, "classifier") != 0)
            seqlm_error_set(err, SEQLM_ERR_FORMAT,
                            "%s: not a classifier but a seqlm model of kind '%s'", path, kind);
        else if (seqlm_metadata_get(&md, "seqlm.config"))
            seqlm_error_set(err, SEQLM_ERR_FORMAT,
                            "%s: not a classifier but a seqlm language model (seqlm train "
                            "wrote it; use seqlm eval)",
                            path);
        else
            seqlm_error_set(err, SEQLM_ERR_FORMAT,
                            "%s: not a seqlm classifier (a safetensors file without "
                            "seqlm.kind = classifier in its metadata)",
                            path);
        goto done;
    }
    if (!voc_text || !lab_text) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT, "%s: incomplete classifier (no %s in its metadata)",
                        path, voc_text ? "seqlm.labels" : "seqlm.vocab");
        goto done;
    }
    seqlm_classify_config cfg;
    if (parse_config(path, cfg_text, &cfg, err) != SEQLM_OK) goto done;
    const char *chars_meta = seqlm_metadata_get(&md, "seqlm.classify.chars");
    if (cfg.char_dim > 0 && (!chars_meta || parse_chars(chars_meta, &chars))) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT,
                        "%s: a model with character features but %s seqlm.classify.chars in its "
                        "metadata",
                        path, chars_meta ? "a garbled" : "no");
        goto done;
    }
    for (const char *p = lab_text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        char **q = realloc(labels, (n_labels + 1) * sizeof *q);
        if (!q || !(q[n_labels] = strndup(p, l))) {
            if (q) labels = q;
            seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        labels = q;
        n_labels++;
        p += l + (nl ? 1 : 0);
    }
    elmo_features *f = elmo_features_reopen(&md, path, elmo, cfg.unit, err);
    if (!f && err && err->status != SEQLM_OK) goto done;
    if (!f && elmo) {
        seqlm_error_set(err, SEQLM_ERR_ARG, "%s was trained without ELMo: --elmo %s does not apply",
                        path, elmo);
        goto done;
    }
    if (f && cfg.extra != elmo_features_dim(f)) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT,
                        "%s: %d extra features, but its ELMo model %s has %d", path, cfg.extra,
                        elmo_features_path(f), elmo_features_dim(f));
        elmo_features_free(f);
        goto done;
    }
    if (f) cfg.extra = 0;
    seqlm_vocab *v = lm_parse_vocab(path, voc_text, err);
    if (!v) {
        elmo_features_free(f);
        goto done;
    }
    m = create_with(&cfg, v, (const char *const *)labels, n_labels, f, &chars, err);
    if (!m) {
        seqlm_error_prefix(err, "%s", path);
        goto done;
    }
    seqlm_metadata tmp = {0};
    if (seqlm_safetensors_load_into(path, m->p, meta ? meta : &tmp, err) != SEQLM_OK) {
        seqlm_classifier_free(m);
        m = NULL;
    }
    seqlm_metadata_free(&tmp);
done:
    for (size_t i = 0; i < n_labels; i++) free(labels[i]);
    free(labels);
    strmap_free(&chars);
    seqlm_metadata_free(&md);
    return m;
}
