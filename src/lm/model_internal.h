/* model_internal.h - the insides of seqlm_lm and seqlm_lm_work (internal; see seqlm/lm.h).
 *
 * Shared by model.c (create, files, forward/backward), eval.c and anything in src/ that needs to
 * look at the layers directly (tests include it to compose the layers by hand). Not an API:
 * users of the library go through seqlm/lm.h. */
#ifndef SEQLM_LM_MODEL_INTERNAL_H
#define SEQLM_LM_MODEL_INTERNAL_H

#include "seqlm/lm.h"

/* Scratch for the output layer (and the window model) is grown to T*B rows by
 * seqlm_lm_work_create, but never past this many floats: larger windows are done in chunks. */
#define SEQLM_LM_SCRATCH_FLOATS ((size_t)1 << 24)

struct seqlm_lm {
    seqlm_lm_config cfg;
    seqlm_vocab *vocab; /* owned */
    int V;
    seqlm_params *p; /* owned: every tensor, PyTorch's names */
    /* recurrent archs */
    seqlm_embedding enc; /* "encoder" (V, E) */
    seqlm_rnn_stack rnn; /* "rnn" */
    seqlm_output dec;    /* "decoder" (V, H), tied to encoder.weight with tie_weights */
    /* window arch */
    seqlm_window win;
    seqlm_precision eval_precision; /* seqlm_lm_eval's output layer (seqlm_lm_set_eval_precision) */
};

/* seqlm_lm_score with the output layer through a pack of m's decoder and, when sk is not NULL,
 * the stack through a pack of its recurrent weights (recurrent archs only; evaluation). */
double lm_score_packed(seqlm_lm *m, seqlm_lm_work *w, seqlm_stack_pack *sk,
                       const seqlm_output_pack *k, const int32_t *x, const int32_t *y, int T,
                       float *lp);

struct seqlm_lm_work {
    seqlm_lm *m;
    int T_max, B;
    /* recurrent */
    seqlm_stack_cache *cache;
    float *emb;        /* (T_max, B, E) embeddings, after dropout */
    uint8_t *emb_mask; /* (T_max, B, E) dropout mask, or NULL without dropout */
    float *y;          /* (T_max, B, H) top layer outputs, after dropout */
    uint8_t *y_mask;   /* (T_max, B, H) */
    float *dy;         /* (T_max, B, H) */
    float *dx;         /* (T_max, B, E) */
    float *h, *c;      /* (L, B, H) carried states; c only for LSTM (else NULL); in state */
    /* window */
    int32_t *ctx; /* (T_max*B, n) context ids of each position, oldest first */
    float *hist;  /* (B, n) the last n ids of each column (as floats); in state */
    float *state; /* the carried state: h then c, or hist */
    float *logp;  /* window: (T_max*B, V) log-probabilities for seqlm_lm_score, made on first use */
    size_t state_n;
};

/* 1 for the recurrent archs. */
/* The model file's metadata, shared with checkpoints (src/train/checkpoint.c):
 * "seqlm.config" as a JSON object and "seqlm.vocab" as TOKEN<TAB>COUNT lines. */
void lm_config_json(const seqlm_lm_config *c, char *buf, size_t cap);
char *lm_vocab_text(const seqlm_vocab *v); /* caller frees */
seqlm_status lm_parse_config(const char *path, const char *text, seqlm_lm_config *c,
                             seqlm_error *err);
seqlm_vocab *lm_parse_vocab(const char *path, const char *text, seqlm_error *err);

static inline int seqlm_lm_is_recurrent(seqlm_arch a) {
    return a != SEQLM_ARCH_WINDOW;
}

#endif
