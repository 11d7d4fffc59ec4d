/* tagger.c - the BiLSTM(-CRF) tagger: vocabularies, parameters, batches, forward/backward,
 * decoding, model files.
 *
 * Per token, the BiLSTM's input row is built in one place (build_input):
 *   x = [ word embedding (E) | char BiLSTM: forward final | backward final state (2 Hc) |
 *         extra features (X) ]                                           (T, B, Din)
 * then dropout -> BiLSTM stack (lengths: padding never changes a result) -> dropout ->
 * linear (K) -> per-token softmax cross-entropy, or the CRF of crf.c. Shapes: T steps, B
 * sentences, K tags, U distinct words of a batch, Tc characters (a word's first and last
 * max_word_chars/2 when longer).
 *
 * The character BiLSTM (Lample et al. 2016; nn/charword.c, shared with the classifier) runs
 * once per distinct word of a batch, not per token, and its gradient sums over the tokens of
 * that word. Scratch memory is sized for the largest batch seen and reused: nothing is
 * allocated per sentence.
 * Not here: the training loop (train.c), reading files (conll.c), scoring (conlleval.c). */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "elmo/features.h"
#include "nn/charword.h"
#include "seqlm/kernels.h"
#include "seqlm/modelfile.h"
#include "seqlm/tag.h"
#include "util/batching.h"
#include "util/strmap.h"
#include "util/assert.h"

struct seqlm_tagger {
    seqlm_tagger_config cfg;
    strmap words, chars, tags; /* words[0] = chars[0] = "<unk>" */
    seqlm_params *p;
    seqlm_embedding wemb;
    charword cw; /* "char_embedding", "char_lstm" (with char_dim > 0) */
    seqlm_rnn_stack lstm;
    seqlm_linear out;
    int trans, start,
        end; /* CRF: (K, K) "crf.transitions" [from][to], (K) "crf.start", "crf.end" */
    int K, Din;
    elmo_features *elmo; /* owned; NULL without ELMo ("elmo_mix.*" registered last) */
    /* scratch, sized for (T_max, B_max) */
    int T_max, B_max;
    float *x, *dx; /* (T, B, Din) */
    uint8_t *xmask, *ymask;
    float *y, *dy;       /* (T, B, 2H) */
    float *emit, *demit; /* (T, B, K) */
    seqlm_stack_cache *sc;
    seqlm_crf_work *crf;
};

struct seqlm_tag_batch {
    int T, B;
    int32_t *len;      /* (B) */
    int32_t *word;     /* (T, B) word ids */
    int32_t *tag;      /* (T, B) model tag ids, -1 unknown or padding */
    int32_t *target;   /* (T, B) tag or -100 (softmax) */
    int32_t *uniq;     /* (T, B) index of the token's distinct word in cb */
    size_t *tok;       /* (T, B) corpus token index */
    charword_batch cb; /* the distinct words (U) and their char ids (Tc, U) */
    int32_t *eid;      /* (T, B) ELMo ids (models with ELMo) */
    size_t cap_tb, cap_b;
    int has_unknown_tag;
};

struct seqlm_tag_map {
    const seqlm_tag_corpus *c;
    int32_t *word;     /* (n_types) */
    charword_types ct; /* (n_types) char ids; its stamps find a batch's distinct words */
    int32_t *tag;      /* (n_tags) corpus tag -> model tag or -1 */
    int32_t *eword;    /* (n_types) ELMo ids (models with ELMo) */
};

seqlm_tagger_config seqlm_tagger_default_config(void) {
    seqlm_tagger_config c = {0};
    c.embedding = 100;
    c.char_dim = 0;
    c.char_hidden = 25;
    c.max_word_chars = 24;
    c.hidden = 200;
    c.layers = 1;
    c.dropout = 0.5f;
    c.crf = 0;
    c.lower = 0;
    c.min_count = 2;
    c.extra_dim = 0;
    c.metric_f1 = 0;
    c.tag_column = 0;
    return c;
}

/* ---- UTF-8 code points ------------------------------------------------------------------ */

static size_t cp_len(unsigned char c) {
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* The string looked up for word s: s itself, or (into buf, at most cap - 1 bytes) s with ASCII
 * letters lower-cased (lower) and ASCII digits mapped to '0' (cfg->zero_digits). Characters
 * are looked up in the zero_digits form only (lower = 0). */
static const char *normalize(const seqlm_tagger_config *cfg, const char *s, int lower, char *buf,
                             size_t cap) {
    if (!lower && !cfg->zero_digits) return s;
    size_t i = 0;
    while (s[i]) { /* whole code points only */
        size_t n = cp_len((unsigned char)s[i]);
        if (i + n >= cap) break;
        for (size_t e = i + n; i < e; i++) {
            unsigned char c = (unsigned char)s[i];
            if (cfg->zero_digits && c >= '0' && c <= '9') c = '0';
            buf[i] = (char)(lower ? tolower(c) : c);
        }
    }
    buf[i] = '\0';
    return buf;
}

/* ---- construction ----------------------------------------------------------------------- */

static seqlm_tagger *build(const seqlm_tagger_config *cfg, seqlm_tagger *m, seqlm_error *err) {
    m->cfg = *cfg;
    if (m->elmo) {
        m->cfg.elmo = elmo_features_path(m->elmo);
        m->cfg.extra_dim = elmo_features_dim(m->elmo);
    }
    cfg = &m->cfg;
    m->K = (int)m->tags.n;
    if (m->K < 1) {
        seqlm_error_set(err, SEQLM_ERR_DATA, "no tags in the training data");
        goto fail;
    }
    int Hc2 = cfg->char_dim > 0 ? 2 * cfg->char_hidden : 0;
    m->Din = cfg->embedding + Hc2 + cfg->extra_dim;
    m->p = seqlm_params_create();
    if (!m->p) goto nomem;
    int bad =
        seqlm_embedding_init(&m->wemb, m->p, "word_embedding", (int)m->words.n, cfg->embedding);
    if (cfg->char_dim > 0)
        bad |= charword_init(&m->cw, m->p, (int)m->chars.n, cfg->char_dim, cfg->char_hidden);
    bad |= seqlm_rnn_stack_init(&m->lstm, m->p, "lstm", SEQLM_CELL_LSTM, m->Din, cfg->hidden,
                                cfg->layers, 1, cfg->dropout);
    bad |= seqlm_linear_init(&m->out, m->p, "output", 2 * cfg->hidden, m->K, 1);
    m->trans = m->start = m->end = -1;
    if (cfg->crf) {
        m->trans = seqlm_params_add(m->p, "crf.transitions", 2, (int64_t[]){m->K, m->K});
        m->start = seqlm_params_add(m->p, "crf.start", 1, (int64_t[]){m->K});
        m->end = seqlm_params_add(m->p, "crf.end", 1, (int64_t[]){m->K});
        bad |= m->trans < 0 || m->start < 0 || m->end < 0;
    }
    if (m->elmo) bad |= elmo_features_register(m->elmo, m->p) != 0;
    if (bad) {
        seqlm_error_set(err, SEQLM_ERR_ARG,
                        "cannot build the tagger (sizes: embedding %d, char %d/%d, hidden %d, "
                        "layers %d, dropout %g)",
                        cfg->embedding, cfg->char_dim, cfg->char_hidden, cfg->hidden, cfg->layers,
                        (double)cfg->dropout);
        goto fail;
    }
    if (seqlm_params_alloc(m->p, err) != SEQLM_OK) goto fail;
    if (m->elmo) elmo_features_reset(m->elmo);
    return m;
nomem:
    seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
fail:
    seqlm_tagger_free(m);
    return NULL;
}

static int check_config(const seqlm_tagger_config *c, seqlm_error *err) {
    if (c->embedding < 1 || c->hidden < 1 || c->layers < 1 || c->layers > SEQLM_MAX_LAYERS ||
        c->char_dim < 0 || (c->char_dim > 0 && c->char_hidden < 1) || c->max_word_chars < 2 ||
        !(c->dropout >= 0 && c->dropout < 1) || c->extra_dim < 0 || c->min_count < 1) {
        seqlm_error_set(err, SEQLM_ERR_ARG, "bad tagger configuration");
        return -1;
    }
    return 0;
}

seqlm_tagger *seqlm_tagger_create_from(const seqlm_tagger_config *cfg,
                                       const seqlm_tag_corpus *train, seqlm_error *err) {
    if (check_config(cfg, err)) return NULL;
    if (!train->has_tags || train->n_tok == 0) {
        seqlm_error_set(err, SEQLM_ERR_DATA, "%s: no tagged tokens", train->path);
        return NULL;
    }
    if (cfg->elmo && cfg->extra_dim) {
        seqlm_error_set(err, SEQLM_ERR_ARG, "ELMo makes the extra features: extra_dim must be 0");
        return NULL;
    }
    seqlm_tagger *m = calloc(1, sizeof *m);
    if (!m) goto nomem;
    if (cfg->elmo && !(m->elmo = elmo_features_open(cfg->elmo, SEQLM_UNIT_WORD, err))) {
        free(m);
        return NULL;
    }
    strmap_init(&m->words);
    strmap_init(&m->chars);
    strmap_init(&m->tags);
    /* word counts (after lower-casing) in first-seen order, then the frequent ones */
    strmap counts;
    strmap_init(&counts);
    char buf[1024];
    for (size_t i = 0; i < train->n_tok; i++) {
        const char *w = normalize(cfg, train->types[train->type[i]], cfg->lower, buf, sizeof buf);
        if (strmap_add(&counts, w, strlen(w), 1) < 0) {
            strmap_free(&counts);
            goto nomem;
        }
    }
    int bad = strmap_add(&m->words, "<unk>", 5, 0) < 0 || strmap_add(&m->chars, "<unk>", 5, 0) < 0;
    for (size_t i = 0; i < counts.n && !bad; i++)
        if (counts.count[i] >= (uint64_t)cfg->min_count) {
            const char *w = strmap_str(&counts, i);
            bad |= strmap_add(&m->words, w, strlen(w), counts.count[i]) < 0;
        }
    strmap_free(&counts);
    for (size_t t = 0; t < train->n_types && !bad && cfg->char_dim > 0; t++)
        bad |= charword_vocab_add(&m->chars, normalize(cfg, train->types[t], 0, buf, sizeof buf));
    for (size_t t = 0; t < train->n_tags && !bad; t++)
        bad |= strmap_add(&m->tags, train->tag_names[t], strlen(train->tag_names[t]), 1) < 0;
    if (bad) goto nomem;
    return build(cfg, m, err);
nomem:
    seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
    seqlm_tagger_free(m);
    return NULL;
}

static void free_scratch(seqlm_tagger *m) {
    free(m->x);
    free(m->dx);
    free(m->xmask);
    free(m->ymask);
    free(m->y);
    free(m->dy);
    free(m->emit);
    free(m->demit);
    seqlm_stack_cache_free(m->sc);
    seqlm_crf_work_free(m->crf);
    m->x = m->dx = m->y = m->dy = m->emit = m->demit = NULL;
    m->xmask = m->ymask = NULL;
    m->sc = NULL;
    m->crf = NULL;
    m->T_max = m->B_max = 0;
}

void seqlm_tagger_free(seqlm_tagger *m) {
    if (!m) return;
    free_scratch(m);
    charword_free(&m->cw);
    seqlm_params_free(m->p);
    strmap_free(&m->words);
    strmap_free(&m->chars);
    strmap_free(&m->tags);
    elmo_features_free(m->elmo);
    free(m);
}

void seqlm_tagger_reset(seqlm_tagger *m, seqlm_rng *rng) {
    seqlm_embedding_reset(&m->wemb, m->p, rng);
    if (m->cfg.char_dim > 0) charword_reset(&m->cw, m->p, rng);
    seqlm_rnn_stack_reset(&m->lstm, m->p, rng);
    seqlm_linear_reset(&m->out, m->p, rng);
    if (m->elmo) elmo_features_reset(m->elmo);
    if (m->cfg.crf) {
        memset(seqlm_params_value(m->p, m->trans), 0, (size_t)m->K * m->K * sizeof(float));
        memset(seqlm_params_value(m->p, m->start), 0, (size_t)m->K * sizeof(float));
        memset(seqlm_params_value(m->p, m->end), 0, (size_t)m->K * sizeof(float));
    }
}

const seqlm_tagger_config *seqlm_tagger_config_of(const seqlm_tagger *m) {
    return &m->cfg;
}
seqlm_params *seqlm_tagger_params(seqlm_tagger *m) {
    return m->p;
}
size_t seqlm_tagger_n_tags(const seqlm_tagger *m) {
    return (size_t)m->K;
}
const char *seqlm_tagger_tag_name(const seqlm_tagger *m, int32_t id) {
    return id >= 0 && id < m->K ? strmap_str(&m->tags, (size_t)id) : NULL;
}
size_t seqlm_tagger_n_words(const seqlm_tagger *m) {
    return m->words.n;
}
size_t seqlm_tagger_n_chars(const seqlm_tagger *m) {
    return m->chars.n;
}

/* ---- scratch ------------------------------------------------------------------------------ */

static int ensure(seqlm_tagger *m, int T, int B) {
    if (T <= m->T_max && B <= m->B_max) return 0;
    T = T > m->T_max ? T : m->T_max;
    B = B > m->B_max ? B : m->B_max;
    free_scratch(m);
    size_t tb = (size_t)T * B, H2 = 2 * (size_t)m->cfg.hidden;
    m->x = malloc(tb * m->Din * sizeof(float));
    m->dx = malloc(tb * m->Din * sizeof(float));
    m->xmask = malloc(tb * m->Din);
    m->y = malloc(tb * H2 * sizeof(float));
    m->dy = malloc(tb * H2 * sizeof(float));
    m->ymask = malloc(tb * H2);
    m->emit = malloc(tb * m->K * sizeof(float));
    m->demit = malloc(tb * m->K * sizeof(float));
    m->sc = seqlm_stack_cache_create(&m->lstm, T, B);
    int ok = m->x && m->dx && m->xmask && m->y && m->dy && m->ymask && m->emit && m->demit && m->sc;
    if (m->cfg.crf) ok &= (m->crf = seqlm_crf_work_create(T, B, m->K)) != NULL;
    if (!ok) {
        free_scratch(m);
        return -1;
    }
    m->T_max = T;
    m->B_max = B;
    return 0;
}

/* ---- corpus maps and batches ------------------------------------------------------------ */

seqlm_tag_map *seqlm_tag_map_create(const seqlm_tagger *m, const seqlm_tag_corpus *c) {
    seqlm_tag_map *map = calloc(1, sizeof *map);
    if (!map) return NULL;
    map->c = c;
    size_t nt = c->n_types ? c->n_types : 1;
    map->word = malloc(nt * sizeof *map->word);
    map->tag = malloc((c->n_tags ? c->n_tags : 1) * sizeof *map->tag);
    if (!map->word || !map->tag ||
        charword_types_init(&map->ct, c->n_types, m->cfg.max_word_chars)) {
        seqlm_tag_map_free(map);
        return NULL;
    }
    char buf[1024];
    for (size_t t = 0; t < c->n_types; t++) {
        const char *w = normalize(&m->cfg, c->types[t], m->cfg.lower, buf, sizeof buf);
        int64_t id = strmap_find(&m->words, w, strlen(w));
        map->word[t] = id < 0 ? 0 : (int32_t)id;
        charword_types_set(&map->ct, t, &m->chars,
                           normalize(&m->cfg, c->types[t], 0, buf, sizeof buf));
    }
    if (m->elmo) { /* the token as written; elmo_features_id tries its lower-cased form */
        if (!(map->eword = malloc(nt * sizeof *map->eword))) {
            seqlm_tag_map_free(map);
            return NULL;
        }
        for (size_t t = 0; t < c->n_types; t++)
            map->eword[t] = elmo_features_id(m->elmo, c->types[t], NULL);
    }
    for (size_t t = 0; t < c->n_tags; t++) {
        int64_t id = strmap_find(&m->tags, c->tag_names[t], strlen(c->tag_names[t]));
        map->tag[t] = id < 0 ? -1 : (int32_t)id;
    }
    return map;
}

void seqlm_tag_map_free(seqlm_tag_map *map) {
    if (!map) return;
    free(map->word);
    charword_types_free(&map->ct);
    free(map->tag);
    free(map->eword);
    free(map);
}

seqlm_tag_batch *seqlm_tag_batch_create(void) {
    return calloc(1, sizeof(seqlm_tag_batch));
}

void seqlm_tag_batch_free(seqlm_tag_batch *b) {
    if (!b) return;
    free(b->len);
    free(b->word);
    free(b->tag);
    free(b->target);
    free(b->uniq);
    free(b->tok);
    charword_batch_free(&b->cb);
    free(b->eid);
    free(b);
}

int seqlm_tagger_word_is_singleton(const seqlm_tagger *m, int32_t id) {
    return id > 0 && (size_t)id < m->words.n && m->words.count[id] == 1;
}

int seqlm_tag_batch_unk_replace(seqlm_tag_batch *b, const seqlm_tagger *m, float p,
                                seqlm_rng *rng) {
    if (!(p > 0)) return 0;
    int n = 0;
    for (int t = 0; t < b->T; t++)
        for (int i = 0; i < b->B; i++) {
            size_t k = (size_t)t * b->B + i;
            if (t < b->len[i] && seqlm_tagger_word_is_singleton(m, b->word[k]) &&
                seqlm_rng_uniform(rng) < (double)p) {
                b->word[k] = 0;
                n++;
            }
        }
    return n;
}

int seqlm_tag_batch_T(const seqlm_tag_batch *b) {
    return b->T;
}
int seqlm_tag_batch_B(const seqlm_tag_batch *b) {
    return b->B;
}

#define GROW(ptr, cap, need)                                                                       \
    do {                                                                                           \
        if ((need) > (cap)) {                                                                      \
            void *q_ = realloc((ptr), (need) * sizeof *(ptr));                                     \
            if (!q_) return -1;                                                                    \
            (ptr) = q_;                                                                            \
        }                                                                                          \
    } while (0)

int seqlm_tag_batch_fill(seqlm_tag_batch *b, const seqlm_tagger *m, const seqlm_tag_map *mapc,
                         const size_t *idx, int n) {
    seqlm_tag_map *map = (seqlm_tag_map *)mapc; /* the stamps are scratch */
    const seqlm_tag_corpus *c = map->c;
    int T = 0;
    for (int i = 0; i < n; i++) {
        int len = (int)(c->sent_start[idx[i] + 1] - c->sent_start[idx[i]]);
        if (len > T) T = len;
    }
    size_t tb = (size_t)T * n;
    GROW(b->word, b->cap_tb, tb);
    GROW(b->tag, b->cap_tb, tb);
    GROW(b->target, b->cap_tb, tb);
    GROW(b->uniq, b->cap_tb, tb);
    GROW(b->tok, b->cap_tb, tb);
    GROW(b->eid, b->cap_tb, tb);
    if (tb > b->cap_tb) b->cap_tb = tb;
    GROW(b->len, b->cap_b, (size_t)n);
    if ((size_t)n > b->cap_b) b->cap_b = (size_t)n;
    b->T = T;
    b->B = n;
    b->has_unknown_tag = 0;
    charword_batch_begin(&b->cb, &map->ct);
    for (int i = 0; i < n; i++) {
        size_t s0 = c->sent_start[idx[i]];
        int len = (int)(c->sent_start[idx[i] + 1] - s0);
        b->len[i] = len;
        for (int t = 0; t < T; t++) {
            size_t k = (size_t)t * n + i;
            if (t >= len) {
                b->word[k] = 0;
                b->tag[k] = -1;
                b->target[k] = -100;
                b->uniq[k] = -1;
                b->tok[k] = SIZE_MAX;
                b->eid[k] = 0;
                continue;
            }
            size_t tok = s0 + (size_t)t;
            uint32_t ty = c->type[tok];
            b->tok[k] = tok;
            b->word[k] = map->word[ty];
            b->eid[k] = map->eword ? map->eword[ty] : 0;
            int32_t tg = c->tag[tok] >= 0 ? map->tag[c->tag[tok]] : -1;
            if (c->has_tags && tg < 0) b->has_unknown_tag = 1;
            b->tag[k] = tg;
            b->target[k] = tg >= 0 ? tg : -100;
            if ((b->uniq[k] = charword_batch_add(&b->cb, &map->ct, ty)) < 0) return -1;
        }
    }
    if (m->cfg.char_dim > 0 && charword_batch_finish(&b->cb, &map->ct)) return -1;
    return 0;
}

/* ---- forward and backward ------------------------------------------------------------------ */

/* The BiLSTM's input rows: [word embedding | char representation | extra], padding rows 0. */
static void build_input(seqlm_tagger *m, const seqlm_tag_batch *b, const float *extra) {
    const int T = b->T, B = b->B, E = m->cfg.embedding, Din = m->Din;
    const int Hc = m->cfg.char_dim > 0 ? m->cfg.char_hidden : 0;
    const float *W = seqlm_params_value(m->p, m->wemb.weight);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < B; i++) {
            size_t k = (size_t)t * B + i;
            float *row = m->x + k * Din;
            if (t >= b->len[i]) {
                memset(row, 0, (size_t)Din * sizeof *row);
                continue;
            }
            memcpy(row, W + (size_t)b->word[k] * E, (size_t)E * sizeof *row);
            if (Hc) charword_get(&m->cw, &b->cb, b->uniq[k], row + E);
            if (m->cfg.extra_dim)
                memcpy(row + E + 2 * Hc, extra + k * m->cfg.extra_dim,
                       (size_t)m->cfg.extra_dim * sizeof *row);
        }
}

/* The gradient of the input rows back to the embeddings, the char BiLSTM and dextra. */
static void input_backward(seqlm_tagger *m, const seqlm_tag_batch *b, float *dextra) {
    const int T = b->T, B = b->B, E = m->cfg.embedding, Din = m->Din;
    const int Hc = m->cfg.char_dim > 0 ? m->cfg.char_hidden : 0;
    float *dW = seqlm_params_grad(m->p, m->wemb.weight);
    if (Hc) charword_zero_dh(&m->cw, &b->cb);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < B; i++) {
            if (t >= b->len[i]) continue;
            size_t k = (size_t)t * B + i;
            const float *row = m->dx + k * Din;
            float *dw = dW + (size_t)b->word[k] * E;
            for (int e = 0; e < E; e++) dw[e] += row[e];
            if (Hc) charword_add_dh(&m->cw, &b->cb, b->uniq[k], row + E);
            if (m->cfg.extra_dim && dextra)
                for (int x = 0; x < m->cfg.extra_dim; x++)
                    dextra[k * m->cfg.extra_dim + x] += row[E + 2 * Hc + x];
        }
    if (Hc) charword_backward(&m->cw, m->p, &b->cb);
}

/* Emission scores of the batch into m->emit (T, B, K). */
static int forward(seqlm_tagger *m, const seqlm_tag_batch *b, const float *extra, int train,
                   seqlm_rng *rng) {
    if (ensure(m, b->T, b->B)) return -1;
    const int T = b->T, B = b->B;
    if (m->elmo && !(extra = elmo_features_forward(m->elmo, b->eid, b->len, T, B, NULL))) return -1;
    const size_t tb = (size_t)T * B, H2 = 2 * (size_t)m->cfg.hidden;
    if (m->cfg.char_dim > 0 && charword_forward(&m->cw, m->p, &b->cb)) return -1;
    build_input(m, b, extra);
    float rate = train ? m->cfg.dropout : 0.0f;
    if (rate > 0) seqlm_dropout_forward(m->x, m->xmask, tb * m->Din, rate, rng);
    seqlm_rnn_stack_forward(&m->lstm, m->p, m->sc, m->x, T, B, b->len, NULL, NULL, m->y, NULL, NULL,
                            train, rng);
    if (rate > 0) seqlm_dropout_forward(m->y, m->ymask, tb * H2, rate, rng);
    seqlm_linear_forward(&m->out, m->p, m->y, tb, m->emit);
    return 0;
}

double seqlm_tagger_loss(seqlm_tagger *m, seqlm_tag_batch *b, const float *extra, float *dextra,
                         int train, float scale, seqlm_rng *rng, seqlm_error *err) {
    if (m->cfg.crf && b->has_unknown_tag) {
        seqlm_error_set(err, SEQLM_ERR_DATA, "a CRF loss needs every tag known to the model");
        return NAN;
    }
    if (forward(m, b, extra, train, rng)) {
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
        return NAN;
    }
    const int T = b->T, B = b->B, K = m->K;
    const size_t tb = (size_t)T * B, H2 = 2 * (size_t)m->cfg.hidden;
    double loss;
    if (m->cfg.crf) {
        if (train) memset(m->demit, 0, tb * K * sizeof(float));
        loss =
            seqlm_crf_nll(m->crf, m->emit, b->tag, b->len, T, B, seqlm_params_value(m->p, m->trans),
                          seqlm_params_value(m->p, m->start), seqlm_params_value(m->p, m->end),
                          scale, train ? m->demit : NULL, seqlm_params_grad(m->p, m->trans),
                          seqlm_params_grad(m->p, m->start), seqlm_params_grad(m->p, m->end));
    } else {
        size_t counted = 0;
        double mean =
            seqlm_softmax_xent(m->emit, b->target, tb, K, -100, train ? m->demit : NULL, &counted);
        loss = mean * (double)counted;
        if (train)
            for (size_t i = 0; i < tb * K; i++) m->demit[i] *= scale * (float)counted;
    }
    if (!train) return loss;
    float rate = m->cfg.dropout;
    memset(m->dy, 0, tb * H2 * sizeof(float));
    seqlm_linear_backward(&m->out, m->p, m->y, tb, m->demit, m->dy);
    if (rate > 0) seqlm_dropout_backward(m->dy, m->ymask, tb * H2, rate);
    memset(m->dx, 0, tb * m->Din * sizeof(float));
    seqlm_rnn_stack_backward(&m->lstm, m->p, m->sc, m->dy, NULL, NULL, m->dx, NULL, NULL);
    if (rate > 0) seqlm_dropout_backward(m->dx, m->xmask, tb * m->Din, rate);
    input_backward(m, b, m->elmo ? elmo_features_grad(m->elmo) : dextra);
    if (m->elmo) elmo_features_backward(m->elmo);
    return loss;
}

seqlm_status seqlm_tagger_decode(seqlm_tagger *m, seqlm_tag_batch *b, const float *extra,
                                 int32_t *best, seqlm_error *err) {
    if (forward(m, b, extra, 0, NULL))
        return seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
    const int T = b->T, B = b->B, K = m->K;
    if (m->cfg.crf) {
        seqlm_crf_viterbi(m->crf, m->emit, b->len, T, B, seqlm_params_value(m->p, m->trans),
                          seqlm_params_value(m->p, m->start), seqlm_params_value(m->p, m->end),
                          best);
        return SEQLM_OK;
    }
    for (int t = 0; t < T; t++)
        for (int i = 0; i < B; i++) {
            size_t k = (size_t)t * B + i;
            if (t >= b->len[i]) {
                best[k] = -1;
                continue;
            }
            const float *e = m->emit + k * K;
            int arg = 0;
            for (int j = 1; j < K; j++)
                if (e[j] > e[arg]) arg = j;
            best[k] = arg;
        }
    return SEQLM_OK;
}

typedef struct {
    size_t len, idx;
} len_idx;

static int cmp_len_idx(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

seqlm_status seqlm_tagger_predict(seqlm_tagger *m, const seqlm_tag_corpus *c, int batch,
                                  int32_t *pred, seqlm_error *err) {
    seqlm_tag_map *map = seqlm_tag_map_create(m, c);
    seqlm_tag_batch *b = seqlm_tag_batch_create();
    len_idx *order = malloc((c->n_sent ? c->n_sent : 1) * sizeof *order);
    size_t *lens = malloc((c->n_sent ? c->n_sent : 1) * sizeof *lens);
    size_t *idx = malloc((size_t)batch * sizeof *idx);
    int32_t *best = NULL;
    seqlm_status st = SEQLM_OK;
    size_t maxlen = seqlm_tag_corpus_max_len(c);
    best = malloc((maxlen ? maxlen : 1) * (size_t)batch * sizeof *best);
    /* the scratch for the longest batch at once: batches come shortest first, and growing it
     * batch by batch cost more in page faults than the forward passes of short sentences */
    size_t bmax = c->n_sent < (size_t)batch ? c->n_sent : (size_t)batch;
    if (!map || !b || !order || !lens || !idx || !best ||
        (maxlen && bmax && ensure(m, (int)maxlen, (int)bmax))) {
        st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t s = 0; s < c->n_sent; s++) {
        order[s].len = c->sent_start[s + 1] - c->sent_start[s];
        order[s].idx = s;
    }
    qsort(order, c->n_sent, sizeof *order, cmp_len_idx);
    for (size_t s = 0; s < c->n_sent; s++) lens[s] = order[s].len;
    for (size_t s0 = 0; s0 < c->n_sent;) {
        int n = (int)length_batch(lens + s0, c->n_sent - s0, (size_t)batch);
        for (int i = 0; i < n; i++) idx[i] = order[s0 + i].idx;
        s0 += (size_t)n;
        if (seqlm_tag_batch_fill(b, m, map, idx, n)) {
            st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
            goto done;
        }
        if ((st = seqlm_tagger_decode(m, b, NULL, best, err)) != SEQLM_OK) goto done;
        for (int t = 0; t < b->T; t++)
            for (int i = 0; i < n; i++) {
                size_t k = (size_t)t * n + i;
                if (t < b->len[i]) pred[b->tok[k]] = best[k];
            }
    }
done:
    free(best);
    free(idx);
    free(lens);
    free(order);
    seqlm_tag_batch_free(b);
    seqlm_tag_map_free(map);
    return st;
}

double seqlm_tagger_score(const seqlm_tagger *m, const seqlm_tag_corpus *c, const int32_t *pred,
                          seqlm_conlleval *e) {
    uint64_t ok = 0;
    const char **gold = NULL, **guess = NULL;
    size_t cap = 0;
    if (e) seqlm_conlleval_init(e);
    for (size_t s = 0; s < c->n_sent; s++) {
        size_t s0 = c->sent_start[s], n = c->sent_start[s + 1] - s0;
        if (e && n > cap) {
            cap = n;
            const char **g = realloc(gold, cap * sizeof *g);
            if (g) gold = g;
            const char **q = realloc(guess, cap * sizeof *q);
            if (q) guess = q;
            if (!g || !q) {
                seqlm_conlleval_free(e);
                e = NULL; /* out of memory: accuracy only */
            }
        }
        for (size_t i = 0; i < n; i++) {
            const char *gt = c->tag[s0 + i] >= 0 ? c->tag_names[c->tag[s0 + i]] : "";
            const char *pt = seqlm_tagger_tag_name(m, pred[s0 + i]);
            if (!pt) pt = "O";
            ok += strcmp(gt, pt) == 0;
            if (e) {
                gold[i] = gt;
                guess[i] = pt;
            }
        }
        if (e) seqlm_conlleval_sentence(e, gold, guess, n);
    }
    if (e) seqlm_conlleval_finish(e);
    free(gold);
    free(guess);
    return c->n_tok ? 100.0 * (double)ok / (double)c->n_tok : 0.0;
}

/* ---- model files ------------------------------------------------------------------------- */

seqlm_status seqlm_tagger_save(const seqlm_tagger *m, const char *path, seqlm_error *err) {
    const seqlm_tagger_config *c = &m->cfg;
    char cfg[640];
    snprintf(cfg, sizeof cfg,
             "{\"kind\":\"tagger\",\"embedding\":%d,\"char_dim\":%d,\"char_hidden\":%d,"
             "\"max_word_chars\":%d,\"hidden\":%d,\"layers\":%d,\"dropout\":%.9g,\"crf\":%d,"
             "\"lower\":%d,\"min_count\":%d,\"extra_dim\":%d,\"metric\":\"%s\","
             "\"tag_column\":%d,\"zero_digits\":%d}",
             c->embedding, c->char_dim, c->char_hidden, c->max_word_chars, c->hidden, c->layers,
             (double)c->dropout, c->crf, c->lower, c->min_count, c->extra_dim,
             c->metric_f1 ? "f1" : "accuracy", c->tag_column, c->zero_digits);
    seqlm_metadata meta = {0};
    char *w = strmap_join_lines(&m->words), *ch = strmap_join_lines(&m->chars),
         *tg = strmap_join_lines(&m->tags);
    seqlm_status st;
    if (!w || !ch || !tg) {
        st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
    } else {
        seqlm_metadata_set(&meta, "seqlm.tagger", cfg);
        seqlm_metadata_set(&meta, "seqlm.tagger.words", w);
        seqlm_metadata_set(&meta, "seqlm.tagger.chars", ch);
        seqlm_metadata_set(&meta, "seqlm.tagger.tags", tg);
        if (m->elmo) elmo_features_metadata(m->elmo, &meta);
        st = seqlm_safetensors_write(path, m->p, &meta, err);
    }
    free(w);
    free(ch);
    free(tg);
    seqlm_metadata_free(&meta);
    return st;
}

static int jint(const cJSON *o, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0; /* keep the default */
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble) return -1;
    *out = (int)v->valuedouble;
    return 0;
}

seqlm_tagger *seqlm_tagger_load(const char *path, seqlm_error *err) {
    return seqlm_tagger_load_ex(path, NULL, err);
}

seqlm_tagger *seqlm_tagger_load_ex(const char *path, const char *elmo, seqlm_error *err) {
    seqlm_error local;
    if (!err) err = &local; /* elmo_features_reopen's status tells "no ELMo" from a failure */
    seqlm_metadata meta = {0};
    seqlm_params *file = seqlm_safetensors_read(path, &meta, err);
    seqlm_tagger *m = NULL;
    cJSON *j = NULL;
    if (!file) goto done;
    const char *cfg_text = seqlm_metadata_get(&meta, "seqlm.tagger");
    if (!cfg_text) {
        int classifier = 0;
        for (size_t i = 0; i < meta.count; i++)
            if (strncmp(meta.keys[i], "seqlm.class", 11) == 0) classifier = 1;
        if (seqlm_metadata_get(&meta, "seqlm.config"))
            seqlm_error_set(err, SEQLM_ERR_FORMAT,
                            "%s: a seqlm language model, not a tagger (make one with seqlm tag "
                            "train)",
                            path);
        else if (classifier)
            seqlm_error_set(err, SEQLM_ERR_FORMAT,
                            "%s: a seqlm classifier, not a tagger (make one with seqlm tag train)",
                            path);
        else
            seqlm_error_set(err, SEQLM_ERR_FORMAT,
                            "%s: not a seqlm tagger (no seqlm.tagger in its safetensors metadata)",
                            path);
        goto done;
    }
    seqlm_tagger_config c = seqlm_tagger_default_config();
    j = cJSON_Parse(cfg_text);
    const cJSON *dr = j ? cJSON_GetObjectItemCaseSensitive(j, "dropout") : NULL;
    const cJSON *mt = j ? cJSON_GetObjectItemCaseSensitive(j, "metric") : NULL;
    if (!cJSON_IsObject(j) || jint(j, "embedding", &c.embedding) ||
        jint(j, "char_dim", &c.char_dim) || jint(j, "char_hidden", &c.char_hidden) ||
        jint(j, "max_word_chars", &c.max_word_chars) || jint(j, "hidden", &c.hidden) ||
        jint(j, "layers", &c.layers) || jint(j, "crf", &c.crf) || jint(j, "lower", &c.lower) ||
        jint(j, "min_count", &c.min_count) || jint(j, "extra_dim", &c.extra_dim) ||
        jint(j, "tag_column", &c.tag_column) || jint(j, "zero_digits", &c.zero_digits) ||
        (dr && !cJSON_IsNumber(dr))) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT, "%s: garbled seqlm.tagger metadata", path);
        goto done;
    }
    if (dr) c.dropout = (float)dr->valuedouble;
    c.metric_f1 = cJSON_IsString(mt) && strcmp(mt->valuestring, "f1") == 0;
    if (check_config(&c, err)) {
        seqlm_error_prefix(err, "%s", path);
        goto done;
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    m->elmo = elmo_features_reopen(&meta, path, elmo, SEQLM_UNIT_WORD, err);
    if (!m->elmo && (err->status != SEQLM_OK || elmo)) {
        if (err->status == SEQLM_OK)
            seqlm_error_set(err, SEQLM_ERR_ARG,
                            "%s was trained without ELMo: --elmo %s does not apply", path, elmo);
        free(m);
        m = NULL;
        goto done;
    }
    if (m->elmo && c.extra_dim != elmo_features_dim(m->elmo)) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT,
                        "%s: %d extra features, but its ELMo model %s has %d", path, c.extra_dim,
                        elmo_features_path(m->elmo), elmo_features_dim(m->elmo));
        seqlm_tagger_free(m);
        m = NULL;
        goto done;
    }
    strmap_init(&m->words);
    strmap_init(&m->chars);
    strmap_init(&m->tags);
    const char *w = seqlm_metadata_get(&meta, "seqlm.tagger.words");
    const char *ch = seqlm_metadata_get(&meta, "seqlm.tagger.chars");
    const char *tg = seqlm_metadata_get(&meta, "seqlm.tagger.tags");
    if (!w || !ch || !tg || strmap_split_lines(&m->words, w) || strmap_split_lines(&m->chars, ch) ||
        strmap_split_lines(&m->tags, tg)) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT,
                        "%s: missing or garbled vocabularies in the seqlm.tagger metadata", path);
        seqlm_tagger_free(m);
        m = NULL;
        goto done;
    }
    m = build(&c, m, err);
    if (!m) {
        seqlm_error_prefix(err, "%s", path);
        goto done;
    }
    for (int i = 0; i < m->p->count; i++) {
        const seqlm_param_info *pi = &m->p->info[i];
        int k = seqlm_params_find(file, pi->name);
        if (k < 0 || file->info[k].size != pi->size) {
            seqlm_error_set(err, SEQLM_ERR_FORMAT,
                            "%s: tensor %s is %s (the metadata's configuration needs %zu floats)",
                            path, pi->name, k < 0 ? "missing" : "of the wrong size", pi->size);
            seqlm_tagger_free(m);
            m = NULL;
            goto done;
        }
        memcpy(seqlm_params_value(m->p, i), seqlm_params_value(file, k), pi->size * sizeof(float));
    }
done:
    cJSON_Delete(j);
    seqlm_params_free(file);
    seqlm_metadata_free(&meta);
    return m;
}
