/* classify_internal.h - the insides of seqlm_classifier and its workspace (internal; see
 * seqlm/classify.h). Shared by model.c and train.c, and by tests that look at the layers and
 * check gradients. Not an API. */
#ifndef SEQLM_CLASSIFY_INTERNAL_H
#define SEQLM_CLASSIFY_INTERNAL_H

#include "elmo/features.h"
#include "nn/charword.h"
#include "seqlm/classify.h"

struct seqlm_classifier {
    seqlm_classify_config cfg;
    seqlm_vocab *vocab;  /* owned */
    char **labels;       /* (C) owned, class order */
    int V, C, I, D, F;   /* vocabulary, classes, encoder input E+2Hc+X, directions, D*H */
    seqlm_params *p;     /* owned */
    seqlm_embedding emb; /* "embedding" (V, E) */
    strmap chars;        /* char_dim > 0: the character vocabulary, "<unk>" = 0 */
    charword cw;         /* char_dim > 0: "char_embedding", "char_lstm" (no scratch here) */
    seqlm_rnn_stack rnn; /* "rnn" */
    seqlm_linear out;    /* "output" (C, F) */
    elmo_features *elmo; /* owned; NULL without ELMo ("elmo_mix.*" registered last) */
};

struct seqlm_classify_work {
    seqlm_classifier *m;
    int T_max, B_max;
    seqlm_stack_cache *cache;
    int32_t *ids;            /* (T_max, B_max) the batch's ids, <unk> at padded positions */
    float *x, *dx;           /* (T_max, B_max, I) encoder input after dropout, its gradient */
    uint8_t *x_mask;         /* (T_max, B_max, I) */
    float *emb;              /* (T_max, B_max, E) scratch when X > 0 or char features */
    charword cw;             /* char features: the model's layer with this workspace's scratch */
    charword_batch cb;       /* char features: the batch's distinct words */
    int32_t *uniq;           /* (T_max, B_max) char features: each token's word in cb */
    float *y, *dy;           /* (T_max, B_max, F) top-layer outputs, their gradient */
    float *pooled;           /* (B_max, F) after dropout */
    float *dpooled;          /* (B_max, F) */
    uint8_t *pool_mask;      /* (B_max, F) */
    int32_t *arg;            /* (B_max, F) max pooling's chosen steps */
    float *logits, *dlogits; /* (B_max, C) */
};

/* seqlm_classify_batch with extra per-token features: extra (T, B, X) when cfg.extra = X > 0,
 * and their gradient accumulated into dextra (T, B, X) (may be NULL) when backward is set. */
double classify_batch_ex(seqlm_classifier *m, seqlm_classify_work *w, const int32_t *ids,
                         const float *extra, const int32_t *lengths, int T, int B,
                         const int32_t *targets, int training, int backward, seqlm_rng *rng,
                         float *logits, float *dextra);

/* The word types of a batch's tokens, for a model with character features. */
typedef struct {
    const int32_t *tids;   /* (T, B) each token's type in types (read at real tokens only) */
    charword_types *types; /* the types' char ids; its stamps are the batch's scratch */
} classify_words;

/* One batch of any model: words (NULL without character features) as above; with ELMo, eids
 * (T, B) are the ELMo ids of the batch (laid out as ids) and the mix of the biLM's layers is the
 * extra block (its gradients accumulated with backward). NaN when out of memory (err set). */
double classify_batch_full(seqlm_classifier *m, seqlm_classify_work *w, const int32_t *ids,
                           const classify_words *words, const int32_t *eids, const int32_t *lengths,
                           int T, int B, const int32_t *targets, int training, int backward,
                           seqlm_rng *rng, float *logits, seqlm_error *err);

/* Tokenises text as the model does (cfg->unit, cfg->lower); scratch is grown as needed. Returns
 * the token count or -1 when out of memory. */
int classify_tokenize(const seqlm_classify_config *cfg, const char *text, seqlm_tokens *tok,
                      char **scratch, size_t *scratch_cap);

#endif
