/* model.c - the neural language model (see seqlm/lm.h): configuration, creation, model files,
 * and running one truncated-BPTT window forward (and backward).
 *
 * Recurrent archs follow PyTorch's word_language_model:
 *
 *     emb = dropout(encoder(x))            (T, B, E)   seqlm_embedding "encoder"
 *     y, h = rnn(emb, h)                   (T, B, H)   seqlm_rnn_stack "rnn", dropout between
 *     y = dropout(y)                                   layers inside the stack
 *     loss = xent(decoder(y), targets)                 seqlm_output "decoder" (tied: shares
 *                                                      encoder.weight, needs E == H)
 *
 * with h (and c for LSTM) carried in place from window to window: the stack writes hT over h0,
 * and backward never passes a gradient into h0, so gradients stop at the window's start.
 * The window arch is seqlm_window (Bengio et al. 2003): the context of position (t, b) is the
 * last n ids of column b up to and including x[t][b]; the history of each column lives in the
 * work, starts as n </s>, and carries across windows. The window model has no dropout.
 *
 * Model files are safetensors with metadata "seqlm.config" (a JSON object, see config_json) and
 * "seqlm.vocab" (the vocabulary file's text). Loading reads the header's metadata first (to
 * build the model the tensors must fit), then the values through seqlm_safetensors_load_into,
 * which checks names and shapes.
 * Not here: training loops, checkpoints, evaluation over files (src/train, eval.c). */
#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lm/model_internal.h"
#include "util/assert.h"

/* ---- architectures and configuration ------------------------------------------------------- */

static const char *const arch_names[] = {"rnn-tanh", "rnn-relu", "lstm", "gru", "window"};

const char *seqlm_arch_name(seqlm_arch a) {
    return (unsigned)a < sizeof arch_names / sizeof *arch_names ? arch_names[a] : "unknown";
}

/* Accepts the names above in any case, with '_' for '-', and PyTorch's "rnn" for rnn-tanh. */
int seqlm_arch_parse(const char *name, seqlm_arch *a) {
    if (!name) return -1;
    char buf[16];
    size_t n = strlen(name);
    if (n >= sizeof buf) return -1;
    for (size_t i = 0; i <= n; i++) buf[i] = name[i] == '_' ? '-' : name[i];
    if (strcasecmp(buf, "rnn") == 0) {
        *a = SEQLM_ARCH_RNN_TANH;
        return 0;
    }
    for (int i = 0; i < (int)(sizeof arch_names / sizeof *arch_names); i++)
        if (strcasecmp(buf, arch_names[i]) == 0) {
            *a = (seqlm_arch)i;
            return 0;
        }
    return -1;
}

seqlm_lm_config seqlm_lm_default_config(void) {
    seqlm_lm_config c;
    memset(&c, 0, sizeof c);
    c.arch = SEQLM_ARCH_LSTM;
    c.layers = 2;
    c.hidden = 200;
    c.embedding = 200;
    c.context = 4;
    c.dropout = 0.0f;
    c.tie_weights = 0;
    c.direct = 0;
    c.unit = SEQLM_UNIT_WORD;
    return c;
}

static seqlm_cell arch_cell(seqlm_arch a) {
    switch (a) {
    case SEQLM_ARCH_RNN_TANH:
        return SEQLM_CELL_RNN_TANH;
    case SEQLM_ARCH_RNN_RELU:
        return SEQLM_CELL_RNN_RELU;
    case SEQLM_ARCH_GRU:
        return SEQLM_CELL_GRU;
    default:
        return SEQLM_CELL_LSTM;
    }
}

static seqlm_status check_config(const seqlm_lm_config *c, seqlm_error *err) {
    if ((unsigned)c->arch > SEQLM_ARCH_WINDOW)
        return seqlm_error_set(err, SEQLM_ERR_ARG, "unknown architecture %d", (int)c->arch);
    if ((unsigned)c->unit > SEQLM_UNIT_BYTE)
        return seqlm_error_set(err, SEQLM_ERR_ARG, "unknown unit %d", (int)c->unit);
    if (c->embedding <= 0 || c->hidden <= 0)
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               "embedding (%d) and hidden (%d) sizes must be at least 1",
                               c->embedding, c->hidden);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return seqlm_error_set(err, SEQLM_ERR_ARG, "dropout must be in [0, 1), not %g",
                               (double)c->dropout);
    if (seqlm_lm_is_recurrent(c->arch)) {
        if (c->layers < 1 || c->layers > SEQLM_MAX_LAYERS)
            return seqlm_error_set(err, SEQLM_ERR_ARG, "layers must be from 1 to %d, not %d",
                                   SEQLM_MAX_LAYERS, c->layers);
        if (c->tie_weights && c->embedding != c->hidden)
            return seqlm_error_set(err, SEQLM_ERR_ARG,
                                   "tied weights need embedding == hidden (%d != %d)", c->embedding,
                                   c->hidden);
        if (c->direct)
            return seqlm_error_set(err, SEQLM_ERR_ARG,
                                   "direct connections are for the window model only");
    } else {
        if (c->context < 1 || c->context > 64)
            return seqlm_error_set(err, SEQLM_ERR_ARG, "context must be from 1 to 64, not %d",
                                   c->context);
        if (c->tie_weights)
            return seqlm_error_set(err, SEQLM_ERR_ARG,
                                   "tied weights are for the recurrent models only");
    }
    return SEQLM_OK;
}

/* ---- create, free, reset --------------------------------------------------------------------- */

/* Registers the layers of cfg into p, with output/window scratch for N_max rows. */
static int build_layers(seqlm_lm *m, const seqlm_lm_config *c, int V, size_t N_max) {
    seqlm_params *p = m->p;
    if (seqlm_lm_is_recurrent(c->arch)) {
        if (seqlm_embedding_init(&m->enc, p, "encoder", V, c->embedding) ||
            seqlm_rnn_stack_init(&m->rnn, p, "rnn", arch_cell(c->arch), c->embedding, c->hidden,
                                 c->layers, 0, c->dropout))
            return -1;
        return seqlm_output_init(&m->dec, p, "decoder", c->hidden, V,
                                 c->tie_weights ? m->enc.weight : -1, N_max);
    }
    return seqlm_window_init(&m->win, p, V, c->embedding, c->context, c->hidden, c->direct, N_max);
}

seqlm_lm *seqlm_lm_create(const seqlm_lm_config *cfg, seqlm_vocab *vocab, seqlm_error *err) {
    if (!cfg || !vocab) {
        seqlm_vocab_free(vocab);
        seqlm_error_set(err, SEQLM_ERR_ARG, "seqlm_lm_create: no config or no vocabulary");
        return NULL;
    }
    if (check_config(cfg, err) != SEQLM_OK) {
        seqlm_vocab_free(vocab);
        return NULL;
    }
    size_t V = seqlm_vocab_size(vocab);
    if (V > (size_t)1 << 24) { /* ids must be exact as floats in the window history */
        seqlm_vocab_free(vocab);
        seqlm_error_set(err, SEQLM_ERR_ARG, "vocabulary of %zu entries is too large (max 2^24)", V);
        return NULL;
    }
    seqlm_lm *m = calloc(1, sizeof *m);
    if (!m) {
        seqlm_vocab_free(vocab);
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    m->vocab = vocab;
    m->V = (int)V;
    m->p = seqlm_params_create();
    if (!m->p || build_layers(m, cfg, m->V, 1) != 0) {
        seqlm_lm_free(m);
        seqlm_error_set(err, SEQLM_ERR_NOMEM,
                        "cannot register the model's tensors (out of memory)");
        return NULL;
    }
    if (seqlm_params_alloc(m->p, err) != SEQLM_OK) {
        seqlm_lm_free(m);
        return NULL;
    }
    return m;
}

void seqlm_lm_free(seqlm_lm *m) {
    if (!m) return;
    if (seqlm_lm_is_recurrent(m->cfg.arch))
        seqlm_output_free(&m->dec);
    else
        seqlm_window_free(&m->win);
    seqlm_params_free(m->p);
    seqlm_vocab_free(m->vocab);
    free(m);
}

void seqlm_lm_reset(seqlm_lm *m, seqlm_rng *rng) {
    seqlm_params *p = m->p;
    if (!seqlm_lm_is_recurrent(m->cfg.arch)) {
        seqlm_window_reset(&m->win, p, rng);
        return;
    }
    /* word_language_model's init_weights: encoder and decoder U(-0.1, 0.1), decoder bias 0; the
     * recurrent layers keep PyTorch's default U(-1/sqrt(H), 1/sqrt(H)). */
    seqlm_init_uniform(seqlm_params_value(p, m->enc.weight), (size_t)m->V * m->cfg.embedding, 0.1f,
                       rng);
    seqlm_rnn_stack_reset(&m->rnn, p, rng);
    if (!m->cfg.tie_weights)
        seqlm_init_uniform(seqlm_params_value(p, m->dec.proj.weight), (size_t)m->V * m->cfg.hidden,
                           0.1f, rng);
    memset(seqlm_params_value(p, m->dec.proj.bias), 0, (size_t)m->V * sizeof(float));
}

const seqlm_lm_config *seqlm_lm_config_of(const seqlm_lm *m) {
    return &m->cfg;
}

const seqlm_vocab *seqlm_lm_vocab(const seqlm_lm *m) {
    return m->vocab;
}

seqlm_params *seqlm_lm_params(seqlm_lm *m) {
    return m->p;
}

/* ---- memory ------------------------------------------------------------------------------- */

static size_t scratch_rows(size_t N, size_t per_row) {
    size_t cap = SEQLM_LM_SCRATCH_FLOATS / (per_row ? per_row : 1);
    if (cap < 64) cap = 64;
    return N < cap ? N : cap;
}

/* Bytes of a work for (T, B) beside the stack cache, and of the output/window scratch. */
static size_t work_bytes(const seqlm_lm_config *c, size_t V, int B, int T) {
    size_t N = (size_t)T * B, E = (size_t)c->embedding, H = (size_t)c->hidden;
    if (!seqlm_lm_is_recurrent(c->arch)) {
        size_t n = (size_t)c->context, nE = n * E;
        size_t rows = scratch_rows(N, V + 2 * nE + 2 * H);
        return N * n * sizeof(int32_t) + (size_t)B * n * sizeof(float) +
               rows * (V + 2 * nE + 2 * H) * sizeof(float);
    }
    size_t L = (size_t)c->layers, mask = c->dropout > 0.0f ? 1 : 0;
    size_t states = L * B * H * (c->arch == SEQLM_ARCH_LSTM ? 2 : 1);
    return N * E * (2 * sizeof(float) + mask) + N * H * (2 * sizeof(float) + mask) +
           states * sizeof(float) + scratch_rows(N, V) * V * sizeof(float);
}

size_t seqlm_lm_train_bytes(const seqlm_lm_config *cfg, size_t V, int B, int T,
                            seqlm_optim_kind opt) {
    if (!cfg || check_config(cfg, NULL) != SEQLM_OK || V == 0 || B <= 0 || T <= 0) return 0;
    /* The tensors' sizes come from registering the layers in a scratch registry (no values). */
    seqlm_lm tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.cfg = *cfg;
    tmp.p = seqlm_params_create();
    size_t P = 0, cache = 0;
    if (tmp.p && build_layers(&tmp, cfg, (int)V, 1) == 0) {
        P = seqlm_params_total(tmp.p);
        if (seqlm_lm_is_recurrent(cfg->arch)) cache = seqlm_stack_cache_bytes(&tmp.rnn, T, B);
    }
    if (seqlm_lm_is_recurrent(cfg->arch))
        seqlm_output_free(&tmp.dec);
    else
        seqlm_window_free(&tmp.win);
    seqlm_params_free(tmp.p);
    /* Optimiser state per parameter, from the optimiser itself (defaults of the kind). */
    size_t slots = 2;
    seqlm_optim_config oc = seqlm_optim_defaults(opt);
    seqlm_optim *o = seqlm_optim_create(&oc, 1, NULL);
    if (o) slots = seqlm_optim_state_floats(o);
    seqlm_optim_free(o);
    return P * sizeof(float) * (2 + slots) + cache + work_bytes(cfg, V, B, T);
}

/* Grows the output (or window) scratch to min(N, cap) rows. */
static int grow_scratch(seqlm_lm *m, size_t N) {
    if (seqlm_lm_is_recurrent(m->cfg.arch)) {
        seqlm_output *o = &m->dec;
        size_t rows = scratch_rows(N, (size_t)m->V);
        if (rows <= o->N_max) return 0;
        float *l = realloc(o->logits, rows * (size_t)m->V * sizeof(float));
        if (!l) return -1;
        o->logits = l;
        o->N_max = rows;
        return 0;
    }
    seqlm_window *w = &m->win;
    size_t nE = (size_t)w->n * w->E, Hd = (size_t)w->Hd, V = (size_t)w->V;
    size_t rows = scratch_rows(N, V + 2 * nE + 2 * Hd);
    if (rows <= w->N_max) return 0;
    float *b[5] = {w->x, w->dx, w->a, w->da, w->logits};
    size_t sz[5] = {nE, nE, Hd, Hd, V};
    for (int i = 0; i < 5; i++) {
        float *q = realloc(b[i], rows * sz[i] * sizeof(float));
        if (!q) return -1; /* the buffers grown so far are bigger than N_max: harmless */
        b[i] = q;
        switch (i) {
        case 0:
            w->x = q;
            break;
        case 1:
            w->dx = q;
            break;
        case 2:
            w->a = q;
            break;
        case 3:
            w->da = q;
            break;
        default:
            w->logits = q;
            break;
        }
    }
    w->N_max = rows;
    return 0;
}

/* ---- the work ------------------------------------------------------------------------------ */

seqlm_lm_work *seqlm_lm_work_create(seqlm_lm *m, int T_max, int B, seqlm_error *err) {
    if (T_max <= 0 || B <= 0) {
        seqlm_error_set(err, SEQLM_ERR_ARG, "window length (%d) and batch (%d) must be >= 1", T_max,
                        B);
        return NULL;
    }
    seqlm_lm_work *w = calloc(1, sizeof *w);
    if (!w) goto nomem;
    w->m = m;
    w->T_max = T_max;
    w->B = B;
    size_t N = (size_t)T_max * B;
    const seqlm_lm_config *c = &m->cfg;
    if (grow_scratch(m, N) != 0) goto nomem;
    if (seqlm_lm_is_recurrent(c->arch)) {
        size_t E = (size_t)c->embedding, H = (size_t)c->hidden, L = (size_t)c->layers;
        int lstm = c->arch == SEQLM_ARCH_LSTM;
        w->cache = seqlm_stack_cache_create(&m->rnn, T_max, B);
        w->emb = malloc(N * E * sizeof(float));
        w->dx = malloc(N * E * sizeof(float));
        w->y = malloc(N * H * sizeof(float));
        w->dy = malloc(N * H * sizeof(float));
        w->state_n = L * B * H * (lstm ? 2 : 1);
        w->state = calloc(w->state_n, sizeof(float));
        if (!w->cache || !w->emb || !w->dx || !w->y || !w->dy || !w->state) goto nomem;
        w->h = w->state;
        w->c = lstm ? w->state + L * B * H : NULL;
        if (c->dropout > 0.0f) {
            w->emb_mask = malloc(N * E);
            w->y_mask = malloc(N * H);
            if (!w->emb_mask || !w->y_mask) goto nomem;
        }
    } else {
        size_t n = (size_t)c->context;
        w->ctx = malloc(N * n * sizeof(int32_t));
        w->state_n = (size_t)B * n;
        w->state = malloc(w->state_n * sizeof(float));
        if (!w->ctx || !w->state) goto nomem;
        w->hist = w->state;
    }
    seqlm_lm_work_reset(w);
    return w;
nomem:
    seqlm_lm_work_free(w);
    seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory for a work of %d x %d steps", T_max, B);
    return NULL;
}

void seqlm_lm_work_free(seqlm_lm_work *w) {
    if (!w) return;
    seqlm_stack_cache_free(w->cache);
    free(w->emb);
    free(w->emb_mask);
    free(w->y);
    free(w->y_mask);
    free(w->dy);
    free(w->dx);
    free(w->ctx);
    free(w->state);
    free(w->logp);
    free(w);
}

void seqlm_lm_work_reset(seqlm_lm_work *w) {
    if (w->hist) {
        for (size_t i = 0; i < w->state_n; i++) w->hist[i] = (float)SEQLM_EOS;
    } else {
        memset(w->state, 0, w->state_n * sizeof(float));
    }
}

float *seqlm_lm_work_state(seqlm_lm_work *w, size_t *n) {
    if (n) *n = w->state_n;
    return w->state;
}

/* ---- one window ----------------------------------------------------------------------------- */

static void check_ids(const seqlm_lm *m, const int32_t *ids, size_t N, int allow_ignore) {
    for (size_t i = 0; i < N; i++)
        SEQLM_ASSERT((ids[i] >= 0 && ids[i] < m->V) || (allow_ignore && ids[i] == -100));
}

/* The window model's contexts: row (t, b) gets the n ids of column b ending with x[t][b]; the
 * column histories advance to the window's end. */
static void window_contexts(seqlm_lm_work *w, const int32_t *x, int T) {
    int B = w->B, n = w->m->cfg.context;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            float *h = w->hist + (size_t)b * n;
            memmove(h, h + 1, (size_t)(n - 1) * sizeof *h);
            h[n - 1] = (float)x[(size_t)t * B + b];
            int32_t *ctx = w->ctx + ((size_t)t * B + b) * n;
            for (int k = 0; k < n; k++) ctx[k] = (int32_t)h[k];
        }
}

/* Embedding, dropout, the stack (state carried in place), dropout: w->y holds the top outputs. */
static void recurrent_forward(seqlm_lm *m, seqlm_lm_work *w, const int32_t *x, int T, int training,
                              seqlm_rng *rng) {
    int B = w->B;
    size_t N = (size_t)T * B, E = (size_t)m->cfg.embedding, H = (size_t)m->cfg.hidden;
    int drop = training && m->cfg.dropout > 0.0f;
    seqlm_embedding_forward(&m->enc, m->p, x, N, w->emb);
    if (drop) seqlm_dropout_forward(w->emb, w->emb_mask, N * E, m->cfg.dropout, rng);
    seqlm_rnn_stack_forward(&m->rnn, m->p, w->cache, w->emb, T, B, NULL, w->h, w->c, w->y, w->h,
                            w->c, drop, rng);
    if (drop) seqlm_dropout_forward(w->y, w->y_mask, N * H, m->cfg.dropout, rng);
}

double seqlm_lm_window(seqlm_lm *m, seqlm_lm_work *w, const int32_t *x, const int32_t *y, int T,
                       int training, int backward, seqlm_rng *rng, size_t *counted) {
    SEQLM_ASSERT(w->m == m && T >= 1 && T <= w->T_max);
    int B = w->B;
    size_t N = (size_t)T * B, C = 0;
    check_ids(m, x, N, 0);
    check_ids(m, y, N, 1);
    for (size_t i = 0; i < N; i++) C += y[i] != -100;
    if (counted) *counted = C;
    if (!seqlm_lm_is_recurrent(m->cfg.arch)) {
        window_contexts(w, x, T);
        return seqlm_window_loss(&m->win, m->p, w->ctx, y, N, backward);
    }
    recurrent_forward(m, w, x, T, training, rng);
    if (!backward) return seqlm_output_loss(&m->dec, m->p, w->y, N, y, -100, NULL);
    /* Backward, top down: d loss / d y from the output layer (accumulating its gradients),
     * through the output dropout mask, the stack (d hT = 0: gradients stop at the window's
     * end... and its start: dh0 is not wanted), the embedding dropout, into the embedding. */
    size_t E = (size_t)m->cfg.embedding, H = (size_t)m->cfg.hidden;
    int drop = training && m->cfg.dropout > 0.0f;
    memset(w->dy, 0, N * H * sizeof(float));
    double loss = seqlm_output_loss(&m->dec, m->p, w->y, N, y, -100, w->dy);
    if (drop) seqlm_dropout_backward(w->dy, w->y_mask, N * H, m->cfg.dropout);
    memset(w->dx, 0, N * E * sizeof(float));
    seqlm_rnn_stack_backward(&m->rnn, m->p, w->cache, w->dy, NULL, NULL, w->dx, NULL, NULL);
    if (drop) seqlm_dropout_backward(w->dx, w->emb_mask, N * E, m->cfg.dropout);
    seqlm_embedding_backward(&m->enc, m->p, x, N, w->dx);
    return loss;
}

void seqlm_lm_logprobs(seqlm_lm *m, seqlm_lm_work *w, const int32_t *x, int T, float *out) {
    SEQLM_ASSERT(w->m == m && T >= 1 && T <= w->T_max);
    size_t N = (size_t)T * w->B;
    check_ids(m, x, N, 0);
    if (!seqlm_lm_is_recurrent(m->cfg.arch)) {
        window_contexts(w, x, T);
        seqlm_window_logprobs(&m->win, m->p, w->ctx, N, out);
        return;
    }
    recurrent_forward(m, w, x, T, 0, NULL);
    seqlm_output_logprobs(&m->dec, m->p, w->y, N, out);
}

double seqlm_lm_score(seqlm_lm *m, seqlm_lm_work *w, const int32_t *x, const int32_t *y, int T,
                      float *lp) {
    SEQLM_ASSERT(w->m == m && T >= 1 && T <= w->T_max);
    size_t N = (size_t)T * w->B, V = (size_t)m->V;
    check_ids(m, x, N, 0);
    check_ids(m, y, N, 1);
    if (seqlm_lm_is_recurrent(m->cfg.arch)) {
        recurrent_forward(m, w, x, T, 0, NULL);
        return seqlm_output_score(&m->dec, m->p, w->y, N, y, -100, lp);
    }
    if (!w->logp && !(w->logp = malloc((size_t)w->T_max * w->B * V * sizeof *w->logp))) return NAN;
    seqlm_lm_logprobs(m, w, x, T, w->logp);
    double nll = 0;
    for (size_t n = 0; n < N; n++) {
        lp[n] = y[n] < 0 ? 0.0f : w->logp[n * V + (size_t)y[n]];
        nll -= lp[n];
    }
    return nll;
}

double lm_score_packed(seqlm_lm *m, seqlm_lm_work *w, seqlm_stack_pack *sk,
                       const seqlm_output_pack *k, const int32_t *x, const int32_t *y, int T,
                       float *lp) {
    SEQLM_ASSERT(w->m == m && T >= 1 && T <= w->T_max && seqlm_lm_is_recurrent(m->cfg.arch));
    size_t N = (size_t)T * w->B;
    check_ids(m, x, N, 0);
    check_ids(m, y, N, 1);
    if (sk) {
        seqlm_embedding_forward(&m->enc, m->p, x, N, w->emb);
        seqlm_stack_pack_forward(sk, w->emb, T, w->B, w->h, w->c, w->y);
    } else {
        recurrent_forward(m, w, x, T, 0, NULL);
    }
    return seqlm_output_pack_score(k, w->y, N, y, -100, lp);
}

seqlm_status seqlm_lm_set_eval_precision(seqlm_lm *m, seqlm_precision prec, seqlm_error *err) {
    if (prec != SEQLM_PRECISION_FP32 && prec != SEQLM_PRECISION_BF16)
        return seqlm_error_set(err, SEQLM_ERR_ARG, "unknown precision %d", (int)prec);
    if (prec == SEQLM_PRECISION_BF16 && !seqlm_lm_is_recurrent(m->cfg.arch))
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               "bf16 evaluation is for the recurrent archs, not the window model");
    if (!seqlm_precision_supported(prec))
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               "bf16 needs a CPU with AVX512_BF16 (this one has not)");
    m->eval_precision = prec;
    return SEQLM_OK;
}

/* ---- model files ---------------------------------------------------------------------------- */

/* The config as a JSON object: {"arch": "lstm", "layers": 2, "hidden": 200, "embedding": 200,
 * "context": 4, "dropout": 0.5, "tie_weights": false, "direct": false, "unit": "word"}. */
void lm_config_json(const seqlm_lm_config *c, char *buf, size_t cap) {
    snprintf(buf, cap,
             "{\"arch\": \"%s\", \"layers\": %d, \"hidden\": %d, \"embedding\": %d, "
             "\"context\": %d, \"dropout\": %.9g, \"tie_weights\": %s, \"direct\": %s, "
             "\"unit\": \"%s\"}",
             seqlm_arch_name(c->arch), c->layers, c->hidden, c->embedding, c->context,
             (double)c->dropout, c->tie_weights ? "true" : "false", c->direct ? "true" : "false",
             seqlm_unit_name(c->unit));
}

/* The vocabulary file's text, TOKEN<TAB>COUNT lines in id order; caller frees. */
char *lm_vocab_text(const seqlm_vocab *v) {
    size_t n = seqlm_vocab_size(v), len = 0;
    for (uint32_t id = 0; id < n; id++) len += strlen(seqlm_vocab_word(v, id)) + 24;
    char *s = malloc(len + 1), *q = s;
    if (!s) return NULL;
    for (uint32_t id = 0; id < n; id++)
        q += sprintf(q, "%s\t%" PRIu64 "\n", seqlm_vocab_word(v, id), seqlm_vocab_count(v, id));
    *q = '\0';
    return s;
}

seqlm_status seqlm_lm_save(const seqlm_lm *m, const char *path, const seqlm_metadata *extra,
                           seqlm_error *err) {
    seqlm_metadata meta = {0};
    if (extra)
        for (size_t i = 0; i < extra->count; i++)
            seqlm_metadata_set(&meta, extra->keys[i], extra->values[i]);
    char cfg[512];
    lm_config_json(&m->cfg, cfg, sizeof cfg);
    char *voc = lm_vocab_text(m->vocab);
    if (!voc) {
        seqlm_metadata_free(&meta);
        return seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
    }
    seqlm_metadata_set(&meta, "seqlm.config", cfg);
    seqlm_metadata_set(&meta, "seqlm.vocab", voc);
    free(voc);
    seqlm_status st;
    if (!seqlm_metadata_get(&meta, "seqlm.config") || !seqlm_metadata_get(&meta, "seqlm.vocab"))
        st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
    else
        st = seqlm_safetensors_write(path, m->p, &meta, err);
    seqlm_metadata_free(&meta);
    return st;
}

/* Reads only the "__metadata__" of a safetensors header into *meta. On failure the precise
 * complaint comes from the full reader (seqlm_safetensors_read), which knows the format best. */
static seqlm_status read_metadata(const char *path, seqlm_metadata *meta, seqlm_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return seqlm_error_set(err, SEQLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char b8[8];
    char *h = NULL;
    cJSON *j = NULL;
    int ok = 0;
    if (fread(b8, 1, 8, f) == 8) {
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--) n = n << 8 | b8[i];
        if (n >= 2 && n <= 100000000ULL && (h = malloc((size_t)n + 1)) != NULL &&
            fread(h, 1, (size_t)n, f) == (size_t)n) {
            h[n] = '\0';
            j = h[0] == '{' ? cJSON_ParseWithLength(h, (size_t)n) : NULL;
            ok = j != NULL && cJSON_IsObject(j);
        }
    }
    fclose(f);
    free(h);
    if (!ok) {
        cJSON_Delete(j);
        seqlm_params *p = seqlm_safetensors_read(path, NULL, err);
        if (!p) return err ? err->status : SEQLM_ERR_FORMAT;
        seqlm_params_free(p);
        return seqlm_error_set(err, SEQLM_ERR_FORMAT, "%s: cannot read the safetensors header",
                               path);
    }
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(j, "__metadata__"), *it;
    if (cJSON_IsObject(md))
        cJSON_ArrayForEach(it, md) if (cJSON_IsString(it) && it->string)
            seqlm_metadata_set(meta, it->string, it->valuestring);
    cJSON_Delete(j);
    return SEQLM_OK;
}

static int json_int(const cJSON *o, const char *key, int dflt, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 1e9)
        return -1;
    *out = (int)v->valuedouble;
    return 0;
}

/* Parses "seqlm.config". Keys other than arch may be absent (defaults); unknown keys are
 * ignored, so that newer files with more settings still load where they mean the same. */
seqlm_status lm_parse_config(const char *path, const char *text, seqlm_lm_config *c,
                             seqlm_error *err) {
    *c = seqlm_lm_default_config();
    cJSON *j = cJSON_Parse(text);
    seqlm_status st = SEQLM_OK;
    if (!j || !cJSON_IsObject(j)) {
        st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                             "%s: garbled seqlm.config in the metadata (not a JSON object)", path);
        goto done;
    }
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(j, "arch");
    const cJSON *unit = cJSON_GetObjectItemCaseSensitive(j, "unit");
    const cJSON *drop = cJSON_GetObjectItemCaseSensitive(j, "dropout");
    if (!cJSON_IsString(arch) || seqlm_arch_parse(arch->valuestring, &c->arch)) {
        st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                             "%s: seqlm.config: \"arch\" is missing or unknown (expected rnn-tanh, "
                             "rnn-relu, lstm, gru or window)",
                             path);
        goto done;
    }
    if (unit && (!cJSON_IsString(unit) || seqlm_unit_parse(unit->valuestring, &c->unit))) {
        st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                             "%s: seqlm.config: \"unit\" must be \"word\", \"char\" or \"byte\"",
                             path);
        goto done;
    }
    if (drop) {
        if (!cJSON_IsNumber(drop)) {
            st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                 "%s: seqlm.config: \"dropout\" must be a number", path);
            goto done;
        }
        c->dropout = (float)drop->valuedouble;
    }
    static const char *const keys[] = {"layers",  "hidden",      "embedding",
                                       "context", "tie_weights", "direct"};
    int *fields[] = {&c->layers,  &c->hidden,      &c->embedding,
                     &c->context, &c->tie_weights, &c->direct};
    for (int i = 0; i < 6; i++)
        if (json_int(j, keys[i], *fields[i], fields[i])) {
            st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                 "%s: seqlm.config: \"%s\" must be an integer", path, keys[i]);
            goto done;
        }
    if (check_config(c, err) != SEQLM_OK) {
        seqlm_error_prefix(err, "%s: seqlm.config", path);
        st = SEQLM_ERR_FORMAT;
        if (err) err->status = st;
    }
done:
    cJSON_Delete(j);
    return st;
}

/* Parses "seqlm.vocab": TOKEN<TAB>COUNT lines, <unk>, <s>, </s> first. */
seqlm_vocab *lm_parse_vocab(const char *path, const char *text, seqlm_error *err) {
    static const char *const specials[] = {"<unk>", "<s>", "</s>"};
    seqlm_vocab *v = seqlm_vocab_create();
    char *word = NULL;
    size_t cap = 0;
    uint64_t line = 0;
    if (!v) goto nomem;
    for (const char *s = text; *s;) {
        const char *nl = strchr(s, '\n'), *end = nl ? nl : s + strlen(s);
        line++;
        const char *tab = memchr(s, '\t', (size_t)(end - s));
        size_t wl = tab ? (size_t)(tab - s) : 0;
        char *num_end = NULL;
        unsigned long long count = 0;
        errno = 0;
        if (tab && tab[1] >= '0' && tab[1] <= '9') count = strtoull(tab + 1, &num_end, 10);
        if (end > s && end[-1] == '\r') end--;
        if (!tab || wl == 0 || !num_end || num_end != end || errno == ERANGE ||
            memchr(s, ' ', wl)) {
            seqlm_error_set(err, SEQLM_ERR_FORMAT,
                            "%s: garbled seqlm.vocab in the metadata: line %" PRIu64
                            ": expected TOKEN<TAB>COUNT",
                            path, line);
            goto fail;
        }
        if (wl + 1 > cap) {
            char *q = realloc(word, wl + 1);
            if (!q) goto nomem;
            word = q;
            cap = wl + 1;
        }
        memcpy(word, s, wl);
        word[wl] = '\0';
        if (line <= 3 ? strcmp(word, specials[line - 1]) != 0 : seqlm_vocab_find(v, word) >= 0) {
            seqlm_error_set(
                err, SEQLM_ERR_FORMAT,
                "%s: garbled seqlm.vocab in the metadata: line %" PRIu64 ": %s", path, line,
                line <= 3 ? "the first three tokens must be <unk>, <s>, </s>" : "duplicate token");
            goto fail;
        }
        if (seqlm_vocab_add(v, word, count) < 0) goto nomem;
        s = nl ? nl + 1 : end;
        if (!nl) break;
    }
    if (line < 3) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT,
                        "%s: garbled seqlm.vocab in the metadata (fewer than 3 entries)", path);
        goto fail;
    }
    free(word);
    return v;
nomem:
    seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
fail:
    free(word);
    seqlm_vocab_free(v);
    return NULL;
}

seqlm_lm *seqlm_lm_load(const char *path, seqlm_metadata *meta, seqlm_error *err) {
    seqlm_metadata md = {0};
    seqlm_lm *m = NULL;
    if (read_metadata(path, &md, err) != SEQLM_OK) goto done;
    const char *cfg_text = seqlm_metadata_get(&md, "seqlm.config");
    const char *voc_text = seqlm_metadata_get(&md, "seqlm.vocab");
    if (!cfg_text) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT,
                        "%s: not a seqlm language model (a safetensors file without seqlm.config "
                        "in its metadata)",
                        path);
        goto done;
    }
    seqlm_lm_config cfg;
    if (lm_parse_config(path, cfg_text, &cfg, err) != SEQLM_OK) goto done;
    if (!voc_text) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT,
                        "%s: not a complete seqlm language model (no seqlm.vocab in its metadata)",
                        path);
        goto done;
    }
    seqlm_vocab *v = lm_parse_vocab(path, voc_text, err);
    if (!v) goto done;
    m = seqlm_lm_create(&cfg, v, err);
    if (!m) {
        seqlm_error_prefix(err, "%s", path);
        goto done;
    }
    seqlm_metadata tmp = {0};
    if (seqlm_safetensors_load_into(path, m->p, meta ? meta : &tmp, err) != SEQLM_OK) {
        seqlm_lm_free(m);
        m = NULL;
    }
    seqlm_metadata_free(&tmp);
done:
    seqlm_metadata_free(&md);
    return m;
}
