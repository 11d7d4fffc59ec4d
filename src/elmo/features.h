/* features.h - ELMo features for task models (internal; see docs/elmo.md, "--elmo in classify
 * and tag"). The one place where a task model (classifier, tagger) meets a frozen biLM: which
 * ELMo file it uses (recorded as absolute path and fingerprint in the task model's metadata,
 * reopened and checked on load), how its tokens become ELMo ids, the biLM layers of a padded
 * batch and their learned scalar mix (parameters "elmo_mix.scalar_parameters" (K) and
 * "elmo_mix.gamma" (1) in the task model's registry), and the mix's backward. Not an API: the
 * task models call it from a few lines each.
 *
 *     f = elmo_features_open(path, unit, &err);              // training: a new task model
 *     f = elmo_features_reopen(&meta, task_path, override, unit, &err);   // loading one
 *     cfg.extra = elmo_features_dim(f);                      // the task's input grows by D
 *     elmo_features_register(f, params);                     // before seqlm_params_alloc
 *     elmo_features_reset(f);                                // s = 0, gamma = 1
 *     id = elmo_features_id(f, token);                       // per token, once per corpus
 *     x = elmo_features_forward(f, ids, lengths, T, B);      // (T, B, D) -> the task's extra
 *     dx = elmo_features_grad(f);                            // the task adds into it
 *     elmo_features_backward(f, T, B);                       // into the mix's gradients
 *
 * The object owns the biLM, its workspace and the batch buffers (grown to the largest batch
 * seen), so one task model uses it from one thread at a time. */
#ifndef SEQLM_ELMO_FEATURES_H
#define SEQLM_ELMO_FEATURES_H

#include <stdint.h>

#include "seqlm/elmo.h"
#include "seqlm/modelfile.h"
#include "seqlm/params.h"
#include "seqlm/text.h"

#define ELMO_MIX_PREFIX       "elmo_mix"
#define ELMO_META_PATH        "seqlm.elmo.path"        /* absolute path of the ELMo file */
#define ELMO_META_FINGERPRINT "seqlm.elmo.fingerprint" /* its 16 hex digits */

typedef struct elmo_features elmo_features;

/* Loads the ELMo file at path for a task whose tokens come in `unit` (its unit must be the
 * same: a word-level biLM cannot read characters). Records the file's absolute path. */
elmo_features *elmo_features_open(const char *path, seqlm_unit unit, seqlm_error *err);
/* For a task model file task_path whose metadata is meta: NULL (no error) if it records no ELMo
 * model; else loads `override` (when not NULL) or the recorded path, and checks the fingerprint.
 * Errors name both files: the recorded one missing or unreadable ("give --elmo PATH"), or a
 * different file (both fingerprints). *err->status is SEQLM_OK when NULL means "no ELMo". */
elmo_features *elmo_features_reopen(const seqlm_metadata *meta, const char *task_path,
                                    const char *override, seqlm_unit unit, seqlm_error *err);
void elmo_features_free(elmo_features *f);

int elmo_features_layers(const elmo_features *f); /* K */
int elmo_features_dim(const elmo_features *f);    /* D */
const char *elmo_features_path(const elmo_features *f);
/* Adds ELMO_META_PATH and ELMO_META_FINGERPRINT to meta. */
void elmo_features_metadata(const elmo_features *f, seqlm_metadata *meta);

/* Registers the mix in p (before seqlm_params_alloc); 0 or -1. f remembers p. */
int elmo_features_register(elmo_features *f, seqlm_params *p);
/* The mix's initial values: equal weights (s = 0), gamma = 1. */
void elmo_features_reset(elmo_features *f);
/* The softmax-normalised weights (K) and gamma of the mix, for reports. */
void elmo_features_weights(const elmo_features *f, float *w, float *gamma);

/* A task token's ELMo id: the token itself if the biLM knows it, else its ASCII lower-cased
 * form if that is known, else <unk>. *unknown (may be NULL) is incremented for <unk>. */
int32_t elmo_features_id(const elmo_features *f, const char *token, uint64_t *unknown);

/* The mixed layers (T, B, D) of the batch: ids (T, B) (values past lengths[b] ignored), lengths
 * (B) in [0, T]; zeros at padded positions. The returned buffer is f's, valid until the next
 * call. NULL when out of memory (err set). */
const float *elmo_features_forward(elmo_features *f, const int32_t *ids, const int32_t *lengths,
                                   int T, int B, seqlm_error *err);
/* The gradient buffer (T, B, D) of the last forward, zeroed: the task accumulates into it. */
float *elmo_features_grad(elmo_features *f);
/* Accumulates the mix's parameter gradients from the gradient buffer (the biLM stays frozen). */
void elmo_features_backward(elmo_features *f);

#endif
