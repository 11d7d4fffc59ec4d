/* features.c - ELMo features for the task models (see features.h): the biLM file a task model
 * uses, token ids, the layers of a padded batch and their trained scalar mix.
 *
 * Per batch: layers = seqlm_elmo_forward(ids)            (K, T, B, D), zero past each length
 *            x      = gamma * sum_k softmax(s)_k layers_k (T, B, D)  -> the task's extra block
 * and backward the mix's gradients from dx (the task's gradient of its extra block); the biLM
 * gets none (frozen, as in Peters et al. 2018). Dropout is the task's: x is part of the task's
 * encoder input, which the task drops out as a whole. Not here: the biLM (model.c), the mix
 * itself (mix.c), the tasks' layers (src/classify, src/tag). */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "elmo/elmo_internal.h"
#include "elmo/features.h"
#include "util/assert.h"

struct elmo_features {
    seqlm_elmo *e; /* owned */
    char *path;    /* owned: absolute */
    char fp[17];
    int K, D;
    seqlm_params *p; /* the task model's registry (not owned) */
    seqlm_scalar_mix mix;
    seqlm_elmo_work *work;  /* owned, for (T_max, B_max) */
    int T_max, B_max, T, B; /* capacity; the last forward's shape */
    float *layers;          /* (K, T, B, D) */
    float *x, *dx;          /* (T, B, D) */
};

static elmo_features *wrap(seqlm_elmo *e, const char *path, seqlm_unit unit, seqlm_error *err) {
    if (seqlm_elmo_unit(e) != unit) {
        seqlm_error_set(err, SEQLM_ERR_ARG,
                        "%s: an ELMo model of unit %s cannot read the task's %s tokens (train "
                        "the biLM with seqlm elmo train --unit %s)",
                        path, seqlm_unit_name(seqlm_elmo_unit(e)), seqlm_unit_name(unit),
                        seqlm_unit_name(unit));
        seqlm_elmo_free(e);
        return NULL;
    }
    elmo_features *f = calloc(1, sizeof *f);
    char abs[PATH_MAX];
    const char *full = realpath(path, abs) ? abs : path;
    if (!f || !(f->path = strdup(full))) {
        free(f);
        seqlm_elmo_free(e);
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    f->e = e;
    f->K = seqlm_elmo_layers(e);
    f->D = seqlm_elmo_dim(e);
    seqlm_elmo_fingerprint_hex(seqlm_elmo_fingerprint(e), f->fp);
    f->mix.K = f->K;
    f->mix.s = f->mix.gamma = -1;
    return f;
}

elmo_features *elmo_features_open(const char *path, seqlm_unit unit, seqlm_error *err) {
    seqlm_elmo *e = seqlm_elmo_load(path, err);
    return e ? wrap(e, path, unit, err) : NULL;
}

elmo_features *elmo_features_reopen(const seqlm_metadata *meta, const char *task_path,
                                    const char *override, seqlm_unit unit, seqlm_error *err) {
    const char *rec = seqlm_metadata_get(meta, ELMO_META_PATH);
    const char *fp = seqlm_metadata_get(meta, ELMO_META_FINGERPRINT);
    if (err) err->status = SEQLM_OK;
    if (!rec && !fp) return NULL;
    if (!rec || !fp || strlen(fp) != 16) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT, "%s: garbled ELMo entries (%s, %s) in its metadata",
                        task_path, ELMO_META_PATH, ELMO_META_FINGERPRINT);
        return NULL;
    }
    const char *path = override ? override : rec;
    seqlm_elmo *e = seqlm_elmo_load(path, err);
    if (!e) {
        if (override)
            seqlm_error_prefix(err,
                               "%s was trained with the ELMo model %s (fingerprint %s); "
                               "--elmo %s cannot be read",
                               task_path, rec, fp, override);
        else
            seqlm_error_prefix(err,
                               "%s was trained with the ELMo model %s (fingerprint %s), "
                               "which cannot be read (give its new location with --elmo PATH)",
                               task_path, rec, fp);
        return NULL;
    }
    char have[17];
    seqlm_elmo_fingerprint_hex(seqlm_elmo_fingerprint(e), have);
    if (strcmp(have, fp) != 0) {
        seqlm_error_set(err, SEQLM_ERR_DATA,
                        "%s was trained with the ELMo model %s of fingerprint %s, but %s has "
                        "fingerprint %s (a different file): give the ELMo model it was trained "
                        "with (--elmo PATH)",
                        task_path, rec, fp, path, have);
        seqlm_elmo_free(e);
        return NULL;
    }
    return wrap(e, path, unit, err);
}

static void free_batch(elmo_features *f) {
    seqlm_elmo_work_free(f->work);
    free(f->layers);
    free(f->x);
    free(f->dx);
    f->work = NULL;
    f->layers = f->x = f->dx = NULL;
    f->T_max = f->B_max = 0;
}

void elmo_features_free(elmo_features *f) {
    if (!f) return;
    free_batch(f);
    seqlm_elmo_free(f->e);
    free(f->path);
    free(f);
}

int elmo_features_layers(const elmo_features *f) {
    return f->K;
}
int elmo_features_dim(const elmo_features *f) {
    return f->D;
}
const char *elmo_features_path(const elmo_features *f) {
    return f->path;
}

void elmo_features_metadata(const elmo_features *f, seqlm_metadata *meta) {
    seqlm_metadata_set(meta, ELMO_META_PATH, f->path);
    seqlm_metadata_set(meta, ELMO_META_FINGERPRINT, f->fp);
}

int elmo_features_register(elmo_features *f, seqlm_params *p) {
    f->p = p;
    return seqlm_scalar_mix_init(&f->mix, p, ELMO_MIX_PREFIX, f->K);
}

void elmo_features_reset(elmo_features *f) {
    SEQLM_ASSERT(f->p && f->p->values);
    seqlm_scalar_mix_reset(&f->mix, f->p);
}

void elmo_features_weights(const elmo_features *f, float *w, float *gamma) {
    const float *s = seqlm_params_value(f->p, f->mix.s);
    double mx = s[0], z = 0;
    for (int k = 1; k < f->K; k++) mx = s[k] > mx ? s[k] : mx;
    for (int k = 0; k < f->K; k++) z += exp((double)s[k] - mx);
    for (int k = 0; k < f->K; k++) w[k] = (float)(exp((double)s[k] - mx) / z);
    *gamma = seqlm_params_value(f->p, f->mix.gamma)[0];
}

int32_t elmo_features_id(const elmo_features *f, const char *token, uint64_t *unknown) {
    int32_t id = seqlm_elmo_token_id(f->e, token);
    if (id == (int32_t)SEQLM_UNK) {
        char buf[256];
        size_t n = strlen(token), upper = 0;
        if (n < sizeof buf) {
            for (size_t i = 0; i <= n; i++) {
                unsigned char c = (unsigned char)token[i];
                upper += c >= 'A' && c <= 'Z';
                buf[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            }
            if (upper) id = seqlm_elmo_token_id(f->e, buf);
        }
    }
    if (id == (int32_t)SEQLM_UNK && unknown) (*unknown)++;
    return id;
}

static int ensure(elmo_features *f, int T, int B, seqlm_error *err) {
    if (T <= f->T_max && B <= f->B_max) return 0;
    T = T > f->T_max ? T : f->T_max;
    B = B > f->B_max ? B : f->B_max;
    free_batch(f);
    size_t n = (size_t)T * B * f->D;
    f->work = seqlm_elmo_work_create(f->e, T, B, err);
    f->layers = malloc((size_t)f->K * n * sizeof *f->layers);
    f->x = malloc(n * sizeof *f->x);
    f->dx = malloc(n * sizeof *f->dx);
    if (!f->work || !f->layers || !f->x || !f->dx) {
        free_batch(f);
        seqlm_error_set(err, SEQLM_ERR_NOMEM,
                        "out of memory for the ELMo layers of %d sentences of %d tokens", B, T);
        return -1;
    }
    f->T_max = T;
    f->B_max = B;
    return 0;
}

const float *elmo_features_forward(elmo_features *f, const int32_t *ids, const int32_t *lengths,
                                   int T, int B, seqlm_error *err) {
    SEQLM_ASSERT(f->p && f->mix.s >= 0);
    if (ensure(f, T, B, err)) return NULL;
    f->T = T;
    f->B = B;
    seqlm_elmo_forward(f->e, f->work, ids, lengths, T, B, f->layers);
    seqlm_scalar_mix_forward(&f->mix, f->p, f->layers, (size_t)T * B, f->D, f->x);
    return f->x;
}

float *elmo_features_grad(elmo_features *f) {
    memset(f->dx, 0, (size_t)f->T * f->B * f->D * sizeof *f->dx);
    return f->dx;
}

void elmo_features_backward(elmo_features *f) {
    seqlm_scalar_mix_backward(&f->mix, f->p, f->layers, (size_t)f->T * f->B, f->D, f->dx, NULL);
}
