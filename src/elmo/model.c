/* model.c - the ELMo biLM (see seqlm/elmo.h): its file, its fingerprint, and the batched forward
 * pass that turns sentences into the (L+1) layers of both directions.
 *
 * The two directions are ordinary seqlm_lm models; the forward pass runs their layers directly
 * (model_internal.h), one layer at a time over the whole batch, so that every layer's output is
 * kept:
 *     forward LM:   x = </s> w1 .. wn          (n+1 steps, lengths n+1), y_l[t+1] is token t's
 *     backward LM:  x = w1 .. wn </s>          run reversed (seqlm_rnn_forward reverse = 1)
 *                                              from t = n, so y_l[t] is token t's, after
 *                                              </s> wn .. w(t+1) w(t) were read
 * Padded steps (t past a sentence's length) carry the state and give zeros (seqlm_rnn_forward's
 * lengths), so a sentence's layers do not depend on its batch.
 * Not here: training (train.c), the scalar mix (mix.c), embedding files (embed.c). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elmo/elmo_internal.h"
#include "util/assert.h"

static const char *const prefixes[2] = {"forward.", "backward."};

/* ---- checks shared by saving and loading -------------------------------------------------- */

static seqlm_status check_lm_config(const seqlm_lm_config *c, const char *path, seqlm_error *err) {
    if (c->arch != SEQLM_ARCH_LSTM)
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               "%s: an ELMo model is made of LSTM language "
                               "models, not %s",
                               path, seqlm_arch_name(c->arch));
    if (c->embedding != c->hidden)
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               "%s: an ELMo model needs embedding == hidden, so that every layer "
                               "is as wide (%d != %d)",
                               path, c->embedding, c->hidden);
    return SEQLM_OK;
}

/* ---- saving ------------------------------------------------------------------------------- */

seqlm_status seqlm_elmo_save_pair(const seqlm_lm *fwd, const seqlm_lm *bwd, const char *path,
                                  const seqlm_metadata *extra, seqlm_error *err) {
    const seqlm_lm_config *cf = seqlm_lm_config_of(fwd), *cb = seqlm_lm_config_of(bwd);
    if (check_lm_config(cf, path, err) != SEQLM_OK) return err ? err->status : SEQLM_ERR_ARG;
    if (cf->layers != cb->layers || cf->hidden != cb->hidden || cf->embedding != cb->embedding ||
        cf->unit != cb->unit || cb->arch != cf->arch ||
        seqlm_vocab_size(fwd->vocab) != seqlm_vocab_size(bwd->vocab))
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               "%s: the forward and backward models differ in size, unit or "
                               "vocabulary",
                               path);
    /* One registry holding both models' tensors under prefixed names (copies: aliases of a tied
     * model are written like seqlm_safetensors_write writes them, as separate tensors). */
    seqlm_params *all = seqlm_params_create();
    seqlm_metadata meta = {0};
    char *voc = NULL;
    seqlm_status st = SEQLM_OK;
    if (!all) goto nomem;
    const seqlm_lm *m[2] = {fwd, bwd};
    for (int d = 0; d < 2; d++) {
        const seqlm_params *p = m[d]->p;
        for (int i = 0; i < p->count; i++) {
            char name[SEQLM_PARAM_NAME_MAX];
            int n = snprintf(name, sizeof name, "%s%s", prefixes[d], p->info[i].name);
            if (n < 0 || (size_t)n >= sizeof name ||
                seqlm_params_add(all, name, p->info[i].ndim, p->info[i].shape) < 0)
                goto nomem;
        }
    }
    if (seqlm_params_alloc(all, err) != SEQLM_OK) {
        st = err ? err->status : SEQLM_ERR_NOMEM;
        goto done;
    }
    for (int d = 0, k = 0; d < 2; d++) {
        const seqlm_params *p = m[d]->p;
        for (int i = 0; i < p->count; i++, k++)
            memcpy(seqlm_params_value(all, k), seqlm_params_value(p, i),
                   p->info[i].size * sizeof(float));
    }
    if (extra)
        for (size_t i = 0; i < extra->count; i++)
            seqlm_metadata_set(&meta, extra->keys[i], extra->values[i]);
    char cfg[512];
    lm_config_json(cf, cfg, sizeof cfg);
    if (!(voc = lm_vocab_text(fwd->vocab))) goto nomem;
    seqlm_metadata_set(&meta, "seqlm.kind", "elmo");
    seqlm_metadata_set(&meta, "seqlm.elmo.config", cfg);
    seqlm_metadata_set(&meta, "seqlm.vocab", voc);
    if (!seqlm_metadata_get(&meta, "seqlm.vocab") || !seqlm_metadata_get(&meta, "seqlm.kind"))
        goto nomem;
    st = seqlm_safetensors_write(path, all, &meta, err);
    goto done;
nomem:
    st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
done:
    free(voc);
    seqlm_metadata_free(&meta);
    seqlm_params_free(all);
    return st;
}

/* ---- fingerprints --------------------------------------------------------------------------- */

seqlm_status seqlm_elmo_fingerprint_file(const char *path, uint64_t *out, seqlm_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return seqlm_error_set(err, SEQLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, 64 bits */
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < n; i++) {
            h ^= buf[i];
            h *= 0x100000001b3ULL;
        }
    int bad = ferror(f);
    fclose(f);
    if (bad) return seqlm_error_set(err, SEQLM_ERR_IO, "%s: read error", path);
    *out = h;
    return SEQLM_OK;
}

void seqlm_elmo_fingerprint_hex(uint64_t fp, char buf[17]) {
    snprintf(buf, 17, "%016" PRIx64, fp);
}

uint64_t seqlm_elmo_fingerprint(const seqlm_elmo *e) {
    return e->fingerprint;
}

seqlm_status seqlm_elmo_check_fingerprint(const seqlm_elmo *e, const char *expected,
                                          const char *what, seqlm_error *err) {
    char have[17];
    seqlm_elmo_fingerprint_hex(e->fingerprint, have);
    if (expected && strcmp(expected, have) == 0) return SEQLM_OK;
    return seqlm_error_set(err, SEQLM_ERR_DATA,
                           "%s was trained with the ELMo model of fingerprint %s, but %s has "
                           "fingerprint %s: give the ELMo model it was trained with",
                           what ? what : "the task model", expected ? expected : "(none)",
                           e->path ? e->path : "this ELMo model", have);
}

/* ---- loading -------------------------------------------------------------------------------- */

/* A more helpful complaint for a file that is a seqlm model of another kind. */
static seqlm_status wrong_kind(const char *path, const seqlm_metadata *md, seqlm_error *err) {
    const char *kind = seqlm_metadata_get(md, "seqlm.kind");
    if (kind)
        return seqlm_error_set(err, SEQLM_ERR_FORMAT,
                               "%s: not an ELMo model (a seqlm '%s' model; seqlm elmo train makes "
                               "ELMo models)",
                               path, kind);
    if (seqlm_metadata_get(md, "seqlm.config"))
        return seqlm_error_set(err, SEQLM_ERR_FORMAT,
                               "%s: not an ELMo model (a language model; seqlm elmo train makes "
                               "ELMo models from text)",
                               path);
    return seqlm_error_set(err, SEQLM_ERR_FORMAT,
                           "%s: not an ELMo model (a safetensors file without \"seqlm.kind\": "
                           "\"elmo\" in its metadata)",
                           path);
}

seqlm_elmo *seqlm_elmo_load(const char *path, seqlm_error *err) {
    seqlm_metadata md = {0};
    seqlm_params *all = seqlm_safetensors_read(path, &md, err);
    seqlm_elmo *e = NULL;
    if (!all) goto fail;
    const char *kind = seqlm_metadata_get(&md, "seqlm.kind");
    if (!kind || strcmp(kind, "elmo") != 0) {
        wrong_kind(path, &md, err);
        goto fail;
    }
    const char *cfg_text = seqlm_metadata_get(&md, "seqlm.elmo.config");
    const char *voc_text = seqlm_metadata_get(&md, "seqlm.vocab");
    if (!cfg_text || !voc_text) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT,
                        "%s: not a complete ELMo model (no %s in its "
                        "metadata)",
                        path, cfg_text ? "seqlm.vocab" : "seqlm.elmo.config");
        goto fail;
    }
    if (!(e = calloc(1, sizeof *e))) goto nomem;
    if (lm_parse_config(path, cfg_text, &e->cfg, err) != SEQLM_OK) goto fail;
    if (check_lm_config(&e->cfg, path, err) != SEQLM_OK) {
        if (err) err->status = SEQLM_ERR_FORMAT;
        goto fail;
    }
    size_t expected = 0;
    for (int d = 0; d < 2; d++) {
        seqlm_vocab *v = lm_parse_vocab(path, voc_text, err);
        if (!v) goto fail;
        if (!(e->lm[d] = seqlm_lm_create(&e->cfg, v, err))) { /* takes v */
            seqlm_error_prefix(err, "%s", path);
            goto fail;
        }
        /* every tensor of the direction from its prefixed name, shapes checked */
        seqlm_params *p = e->lm[d]->p;
        for (int i = 0; i < p->count; i++) {
            const seqlm_param_info *t = &p->info[i];
            char name[SEQLM_PARAM_NAME_MAX + 16];
            snprintf(name, sizeof name, "%s%s", prefixes[d], t->name);
            int j = seqlm_params_find(all, name);
            if (j < 0) {
                seqlm_error_set(err, SEQLM_ERR_FORMAT, "%s: tensor '%s' is missing", path, name);
                goto fail;
            }
            const seqlm_param_info *s = &all->info[j];
            int same = s->ndim == t->ndim;
            for (int k = 0; same && k < t->ndim; k++) same = s->shape[k] == t->shape[k];
            if (!same) {
                seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                "%s: tensor '%s' has the wrong shape for the model's config", path,
                                name);
                goto fail;
            }
            if (t->alias_of < 0)
                memcpy(seqlm_params_value(p, i), seqlm_params_value(all, j),
                       t->size * sizeof(float));
            expected++;
        }
    }
    if ((size_t)all->count != expected) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT,
                        "%s: %d tensors, but an ELMo model of this config has %zu (a tensor "
                        "without the forward./backward. prefix?)",
                        path, all->count, expected);
        goto fail;
    }
    for (int d = 0; d < 2; d++) {
        char key[64];
        snprintf(key, sizeof key, "seqlm.elmo.%s.valid_ppl", d ? "backward" : "forward");
        const char *v = seqlm_metadata_get(&md, key);
        e->valid_ppl[d] = v ? strtod(v, NULL) : NAN;
    }
    if (seqlm_elmo_fingerprint_file(path, &e->fingerprint, err) != SEQLM_OK) goto fail;
    size_t n = strlen(path) + 1;
    if (!(e->path = malloc(n))) goto nomem;
    memcpy(e->path, path, n);
    seqlm_params_free(all);
    seqlm_metadata_free(&md);
    return e;
nomem:
    seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
fail:
    seqlm_elmo_free(e);
    seqlm_params_free(all);
    seqlm_metadata_free(&md);
    return NULL;
}

void seqlm_elmo_free(seqlm_elmo *e) {
    if (!e) return;
    seqlm_lm_free(e->lm[0]);
    seqlm_lm_free(e->lm[1]);
    free(e->path);
    free(e);
}

int seqlm_elmo_layers(const seqlm_elmo *e) {
    return e->cfg.layers + 1;
}

int seqlm_elmo_dim(const seqlm_elmo *e) {
    return 2 * e->cfg.hidden;
}

const seqlm_vocab *seqlm_elmo_vocab(const seqlm_elmo *e) {
    return e->lm[0]->vocab;
}

seqlm_unit seqlm_elmo_unit(const seqlm_elmo *e) {
    return e->cfg.unit;
}

const seqlm_lm_config *seqlm_elmo_config(const seqlm_elmo *e) {
    return &e->cfg;
}

int32_t seqlm_elmo_token_id(const seqlm_elmo *e, const char *token) {
    int64_t id = seqlm_vocab_find(e->lm[0]->vocab, token);
    return id <= (int64_t)SEQLM_EOS ? (int32_t)SEQLM_UNK : (int32_t)id;
}

size_t seqlm_elmo_token_ids(const seqlm_elmo *e, const char *const *tokens, size_t n,
                            int32_t *ids) {
    size_t unknown = 0;
    int64_t found[256];
    for (size_t at = 0; at < n; at += 256) {
        size_t m = n - at < 256 ? n - at : 256;
        seqlm_vocab_find_many(e->lm[0]->vocab, tokens + at, m, found);
        for (size_t i = 0; i < m; i++) {
            int unk = found[i] <= (int64_t)SEQLM_EOS;
            ids[at + i] = unk ? (int32_t)SEQLM_UNK : (int32_t)found[i];
            unknown += unk;
        }
    }
    return unknown;
}

seqlm_lm *seqlm_elmo_lm(seqlm_elmo *e, int backward) {
    return e->lm[backward ? 1 : 0];
}

double seqlm_elmo_valid_ppl(const seqlm_elmo *e, int backward) {
    return e->valid_ppl[backward ? 1 : 0];
}

/* ---- the forward pass ----------------------------------------------------------------------- */

struct seqlm_elmo_work {
    seqlm_elmo *e;
    int T_max, B_max;    /* sentences of up to T_max tokens: T_max + 1 steps with </s> */
    seqlm_rnn_cache *rc; /* one cache for every layer (all are H -> H wide, as E == H) */
    int32_t *x;          /* (T_max+1, B_max) ids of one direction */
    int32_t *len;        /* (B_max) steps per sentence: lengths + 1 */
    float *emb;          /* (T_max+1, B_max, H) */
    float *ya, *yb;      /* (T_max+1, B_max, H) a layer's input and output */
};

seqlm_elmo_work *seqlm_elmo_work_create(seqlm_elmo *e, int T_max, int B_max, seqlm_error *err) {
    if (T_max <= 0 || B_max <= 0) {
        seqlm_error_set(err, SEQLM_ERR_ARG, "sentence length (%d) and batch (%d) must be >= 1",
                        T_max, B_max);
        return NULL;
    }
    seqlm_elmo_work *w = calloc(1, sizeof *w);
    if (!w) goto nomem;
    w->e = e;
    w->T_max = T_max;
    w->B_max = B_max;
    size_t S = (size_t)(T_max + 1) * B_max, H = (size_t)e->cfg.hidden;
    w->rc = seqlm_rnn_cache_create(&e->lm[0]->rnn.layer[0], T_max + 1, B_max);
    w->x = malloc(S * sizeof *w->x);
    w->len = malloc((size_t)B_max * sizeof *w->len);
    w->emb = malloc(S * H * sizeof *w->emb);
    w->ya = malloc(S * H * sizeof *w->ya);
    w->yb = malloc(S * H * sizeof *w->yb);
    if (!w->rc || !w->x || !w->len || !w->emb || !w->ya || !w->yb) goto nomem;
    return w;
nomem:
    seqlm_elmo_work_free(w);
    seqlm_error_set(err, SEQLM_ERR_NOMEM,
                    "out of memory for an ELMo work of %d sentences of %d tokens", B_max, T_max);
    return NULL;
}

void seqlm_elmo_work_free(seqlm_elmo_work *w) {
    if (!w) return;
    seqlm_rnn_cache_free(w->rc);
    free(w->x);
    free(w->len);
    free(w->emb);
    free(w->ya);
    free(w->yb);
    free(w);
}

/* Copies a direction's layer y (S steps, B, H) into half d of layer k of out (K, T, B, 2H):
 * token t of sentence b is at step t + shift, shift 1 for the forward LM (its </s> comes
 * first) and 0 for the backward one; padding stays zero. */
static void put_layer(float *out, int k, int d, const float *y, int shift, int T, int B, int H,
                      const int32_t *lengths) {
    size_t D = 2 * (size_t)H;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            float *o = out + (((size_t)k * T + t) * B + b) * D + (size_t)d * H;
            if (t < lengths[b])
                memcpy(o, y + ((size_t)(t + shift) * B + b) * H, (size_t)H * sizeof *o);
            else
                memset(o, 0, (size_t)H * sizeof *o);
        }
}

void seqlm_elmo_forward(seqlm_elmo *e, seqlm_elmo_work *w, const int32_t *ids,
                        const int32_t *lengths, int T, int B, float *out) {
    SEQLM_ASSERT(w->e == e && T >= 0 && T <= w->T_max && B >= 1 && B <= w->B_max);
    const int H = e->cfg.hidden, L = e->cfg.layers, V = (int)seqlm_vocab_size(e->lm[0]->vocab);
    const int S = T + 1; /* steps with the </s> */
    for (int b = 0; b < B; b++) SEQLM_ASSERT(lengths[b] >= 0 && lengths[b] <= T);
    for (int d = 0; d < 2; d++) {
        seqlm_lm *m = e->lm[d];
        /* the ids: forward </s> w1 .. wn, backward w1 .. wn </s> (read reversed); <unk> in the
         * padding, which only feeds padded steps */
        for (int b = 0; b < B; b++) {
            int n = lengths[b];
            w->len[b] = n + 1;
            for (int s = 0; s < S; s++) {
                int32_t id;
                if (d == 0)
                    id = s == 0 ? (int32_t)SEQLM_EOS : s <= n ? ids[(size_t)(s - 1) * B + b] : 0;
                else
                    id = s < n ? ids[(size_t)s * B + b] : s == n ? (int32_t)SEQLM_EOS : 0;
                SEQLM_ASSERT(id >= 0 && id < V);
                w->x[(size_t)s * B + b] = id;
            }
        }
        seqlm_embedding_forward(&m->enc, m->p, w->x, (size_t)S * B, w->emb);
        put_layer(out, 0, d, w->emb, d == 0, T, B, H, lengths);
        const float *in = w->emb;
        for (int l = 0; l < L; l++) {
            float *y = l % 2 ? w->yb : w->ya;
            seqlm_rnn_forward(&m->rnn.layer[l], m->p, w->rc, in, S, B, w->len, d, NULL, NULL, y,
                              NULL, NULL);
            put_layer(out, l + 1, d, y, d == 0, T, B, H, lengths);
            in = y;
        }
    }
}
