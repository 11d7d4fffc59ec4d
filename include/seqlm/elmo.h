/* seqlm/elmo.h - ELMo-style contextual embeddings (Peters et al. 2018): a forward and a backward
 * LSTM language model over the same vocabulary, whose layers, concatenated, represent each token
 * of a sentence in its context; and the scalar mix a task model learns over those layers.
 *
 *     seqlm_elmo *e = seqlm_elmo_load("elmo.safetensors", &err);
 *     int K = seqlm_elmo_layers(e), D = seqlm_elmo_dim(e);          // L+1 layers of 2H
 *     seqlm_elmo_work *w = seqlm_elmo_work_create(e, T_max, B_max, &err);
 *     ids[t*B + b] = seqlm_elmo_token_id(e, token);                 // (T, B), padded anyhow
 *     seqlm_elmo_forward(e, w, ids, lengths, T, B, layers);         // layers (K, T, B, D)
 *
 *     seqlm_scalar_mix mix;                                         // in the task's registry
 *     seqlm_scalar_mix_init(&mix, params, "elmo_mix", K);
 *     ... seqlm_params_alloc(params, &err); seqlm_scalar_mix_reset(&mix, params);
 *     seqlm_scalar_mix_forward(&mix, params, layers, (size_t)T * B, D, x);    // x (T*B, D)
 *     seqlm_scalar_mix_backward(&mix, params, layers, (size_t)T * B, D, dx, NULL);
 *
 * The model. Two independent language models as seqlm_lm builds them (seqlm/lm.h, arch lstm,
 * embedding == hidden = H, L layers): each has its own input embedding, LSTM stack and softmax
 * (the simplest sound choice: each is exactly what `seqlm train` trains, one on the text and one
 * on the text with each line's tokens reversed; Peters et al. share the token layer and softmax,
 * which saves parameters but needs a joint training loop). They share the vocabulary and unit.
 * Sentence s = w1 .. wn is read by the forward LM as </s> w1 .. wn and by the backward LM as
 * </s> wn .. w1, each from a zero state (</s> is the context every line starts with in training)
 * and never past the sentence. Token i's layers (K = L+1 of width D = 2H each):
 *     layer 0:  [ fwd.encoder(w_i) ; bwd.encoder(w_i) ]          (the token layer)
 *     layer l:  [ fwd LSTM layer l state after reading w_i ; bwd LSTM layer l state after w_i ]
 *
 * The file: safetensors with the forward LM's tensors prefixed "forward." and the backward LM's
 * "backward." (forward.encoder.weight, forward.rnn.weight_ih_l0, ..., forward.decoder.bias), and
 * metadata "seqlm.kind" = "elmo", "seqlm.elmo.config" (the LMs' config JSON, as "seqlm.config"
 * of a language model), "seqlm.vocab" (TOKEN<TAB>COUNT lines), and from training
 * "seqlm.elmo.forward.valid_ppl", "seqlm.elmo.backward.valid_ppl" when there was validation.
 *
 * Everything here runs without gradients into the biLM: it stays frozen in a task model; only
 * the scalar mix trains. */
#ifndef SEQLM_ELMO_H
#define SEQLM_ELMO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "seqlm/error.h"
#include "seqlm/lm.h"
#include "seqlm/params.h"
#include "seqlm/progress.h"
#include "seqlm/vocab.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- training ---------------------------------------------------------------------------- */

typedef struct {
    seqlm_lm_config lm; /* arch must be lstm and embedding == hidden */
    /* Settings of both runs, as seqlm_train takes them, with these meanings here: output_path
     * is the ELMo file; max_time and max_steps hold for each direction; the forward LM uses
     * seed (initialisation and dropout) and the backward LM seed + 1; checkpoint_path and
     * reverse must be unset (each direction's run is a plain seqlm_train). */
    seqlm_train_config train;
    uint64_t min_count; /* vocabulary from train_path as seqlm_vocab_prune makes it (>= 1) */
    size_t max_vocab;   /* 0 = no limit */
    /* Called before each direction's run (backward 0, then 1), may be NULL. */
    void (*on_direction)(void *ctx, int backward);
    void *direction_ctx;
} seqlm_elmo_train_config;

seqlm_elmo_train_config seqlm_elmo_train_default_config(void);

typedef struct {
    double valid_ppl[2]; /* best validation perplexity, forward and backward (NaN without) */
    size_t vocab;        /* vocabulary entries */
} seqlm_elmo_train_result;

/* Trains the forward LM, then the backward one (seqlm_train with reverse set) on the same
 * vocabulary, each saved by seqlm_train to a temporary "<output>.forward.tmp" /
 * "<output>.backward.tmp" (removed at the end), and bundles them into output_path. res may be
 * NULL. */
seqlm_status seqlm_elmo_train(const seqlm_elmo_train_config *cfg, seqlm_elmo_train_result *res,
                              seqlm_error *err);

/* Writes an ELMo file from two language models (same config and vocabulary; arch lstm;
 * embedding == hidden), with extra metadata (may be NULL). */
seqlm_status seqlm_elmo_save_pair(const seqlm_lm *fwd, const seqlm_lm *bwd, const char *path,
                                  const seqlm_metadata *extra, seqlm_error *err);

/* ---- the model -------------------------------------------------------------------------- */

typedef struct seqlm_elmo seqlm_elmo;

/* Loads an ELMo file. A file of another kind (a language model, a task model, not safetensors)
 * is an error saying what it is. */
seqlm_elmo *seqlm_elmo_load(const char *path, seqlm_error *err);
void seqlm_elmo_free(seqlm_elmo *e);

int seqlm_elmo_layers(const seqlm_elmo *e); /* K = L + 1 */
int seqlm_elmo_dim(const seqlm_elmo *e);    /* D = 2H */
const seqlm_vocab *seqlm_elmo_vocab(const seqlm_elmo *e);
seqlm_unit seqlm_elmo_unit(const seqlm_elmo *e);
const seqlm_lm_config *seqlm_elmo_config(const seqlm_elmo *e);
/* The id of a token (as the unit's tokenizer writes it), SEQLM_UNK when missing; the sentence
 * markers <s> and </s> also give SEQLM_UNK (a sentence's tokens are words, not markers). */
int32_t seqlm_elmo_token_id(const seqlm_elmo *e, const char *token);
/* ids[i] = seqlm_elmo_token_id(e, tokens[i]) for i < n (a sentence at once, faster); returns
 * how many became <unk>. */
size_t seqlm_elmo_token_ids(const seqlm_elmo *e, const char *const *tokens, size_t n, int32_t *ids);
/* The two language models (backward 0 or 1), owned by e: for tests and inspection. */
seqlm_lm *seqlm_elmo_lm(seqlm_elmo *e, int backward);
/* The stored validation perplexity of a direction from the metadata, NaN if absent. */
double seqlm_elmo_valid_ppl(const seqlm_elmo *e, int backward);

/* ---- fingerprints: which ELMo model a task model was trained with ------------------------ */

/* 64-bit FNV-1a of the file's bytes (computed once by seqlm_elmo_load). */
uint64_t seqlm_elmo_fingerprint(const seqlm_elmo *e);
/* The same of any file. */
seqlm_status seqlm_elmo_fingerprint_file(const char *path, uint64_t *out, seqlm_error *err);
/* Writes the fingerprint as 16 lower-case hex digits and a NUL into buf (17 bytes). */
void seqlm_elmo_fingerprint_hex(uint64_t fp, char buf[17]);
/* SEQLM_OK when e's fingerprint is the 16-hex-digit `expected` a task model recorded; otherwise
 * an error naming the task model file (what) and both fingerprints: "model.safetensors was
 * trained with the ELMo model of fingerprint X; elmo.safetensors has Y". */
seqlm_status seqlm_elmo_check_fingerprint(const seqlm_elmo *e, const char *expected,
                                          const char *what, seqlm_error *err);

/* ---- the forward pass: batched sentences to layers ---------------------------------------- */

typedef struct seqlm_elmo_work seqlm_elmo_work;

/* Scratch for up to B_max sentences of up to T_max tokens (about (T_max+1) * B_max * H * 60
 * bytes). */
seqlm_elmo_work *seqlm_elmo_work_create(seqlm_elmo *e, int T_max, int B_max, seqlm_error *err);
void seqlm_elmo_work_free(seqlm_elmo_work *w);

/* ids (T, B): sentence b's tokens at ids[t*B + b] for t < lengths[b] (values at t >= lengths[b]
 * are ignored); lengths (B) in [0, T]; T <= T_max, B <= B_max. Writes out (K, T, B, D):
 * out[((k*T + t)*B + b)*D + j] is layer k of token t of sentence b, forward half j < H, backward
 * half j >= H; zeros at t >= lengths[b]. A sentence's result does not depend on the other
 * sentences of the batch, its padding or B (up to rounding in the matrix products). Ids must be
 * in the vocabulary (asserted). */
void seqlm_elmo_forward(seqlm_elmo *e, seqlm_elmo_work *w, const int32_t *ids,
                        const int32_t *lengths, int T, int B, float *out);

/* ---- the scalar mix (Peters et al. 2018, eq. 1) -------------------------------------------- */

/* out = gamma * sum_k softmax(s)_k h_k over K layers h_k (N, D). Parameters in the caller's
 * registry: "<prefix>.scalar_parameters" (K) = s and "<prefix>.gamma" (1). */
typedef struct {
    int K;
    int s;     /* index of "<prefix>.scalar_parameters" (K) */
    int gamma; /* index of "<prefix>.gamma" (1) */
} seqlm_scalar_mix;

/* Registers the two tensors (before seqlm_params_alloc); 0, or -1 if they cannot be (K must be
 * from 1 to 64). */
int seqlm_scalar_mix_init(seqlm_scalar_mix *m, seqlm_params *p, const char *prefix, int K);
/* s = 0 (equal weights), gamma = 1. */
void seqlm_scalar_mix_reset(const seqlm_scalar_mix *m, seqlm_params *p);
/* layers (K, N, D), each layer N rows of D apart by N*D floats; out (N, D) overwritten. */
void seqlm_scalar_mix_forward(const seqlm_scalar_mix *m, const seqlm_params *p, const float *layers,
                              size_t N, int D, float *out);
/* With w = softmax(s), e_k = sum_{n,j} dout[n][j] h_k[n][j]:
 *   dgamma += sum_k w_k e_k,   ds_k += gamma w_k (e_k - sum_j w_j e_j),
 *   dlayers_k += gamma w_k dout (dlayers may be NULL: the frozen biLM needs none).
 * Sums in double. */
void seqlm_scalar_mix_backward(const seqlm_scalar_mix *m, seqlm_params *p, const float *layers,
                               size_t N, int D, const float *dout, float *dlayers);
/* The mix with fixed weights (no softmax): out = gamma * sum_k w[k] h_k; out (N, D). */
void seqlm_scalar_mix_fixed(const float *w, int K, float gamma, const float *layers, size_t N,
                            int D, float *out);

/* ---- embedding a text file ----------------------------------------------------------------- */

typedef enum {
    SEQLM_ELMO_OUT_SAFETENSORS = 0, /* one tensor per sentence, see below */
    SEQLM_ELMO_OUT_TSV              /* text: one line per token (and layer) */
} seqlm_elmo_out_format;

typedef struct {
    int batch; /* sentences per forward pass (default 32; fewer when they are long: a batch holds
                  at most batch * 64 token positions, padding included, or one sentence) */
    seqlm_elmo_out_format format; /* default safetensors */
    /* NULL: every layer. Otherwise the fixed mix of K weights (seqlm_scalar_mix_fixed) with
     * gamma (default 1): --average is weights 1/K. */
    const float *weights;
    float gamma;
    seqlm_progress_fn progress; /* "embedding", sentences done / total; may be NULL */
    void *progress_ctx;
} seqlm_elmo_embed_config;

seqlm_elmo_embed_config seqlm_elmo_embed_default_config(void);

/* Embeds every line of in_path ("-" = standard input; one sentence per line, tokens by the
 * model's unit). An empty line (no tokens) or a literal <s> or </s> is an error naming
 * file:line, and nothing is written.
 *
 * safetensors (written to out_path atomically): tensor "sentence.N" for the line N+1 (N from 0)
 * of shape (K, n, D) - layers of the n tokens - or (n, D) with weights; metadata "seqlm.kind" =
 * "elmo-embeddings", "seqlm.elmo.sentences" (their number), "seqlm.elmo.layers" (K),
 * "seqlm.elmo.dim" (D), "seqlm.elmo.mix" ("layers" or "w0,w1,..:gamma"), "seqlm.elmo.model"
 * (the ELMo file's fingerprint), "seqlm.elmo.unknown" (tokens outside the vocabulary).
 * tsv (written to out, a caller's stream): per token and layer a line
 *   SENTENCE<TAB>POSITION<TAB>TOKEN<TAB>LAYER<TAB>v_0 v_1 ... v_{D-1}
 * (SENTENCE and POSITION from 0, LAYER 0..K-1 or "mix"; values as %.9g, which reads back to the
 * same float). *unknown (may be NULL) receives the number of tokens outside the vocabulary. */
seqlm_status seqlm_elmo_embed_file(seqlm_elmo *e, const char *in_path,
                                   const seqlm_elmo_embed_config *cfg, const char *out_path,
                                   FILE *out, uint64_t *sentences, uint64_t *unknown,
                                   seqlm_error *err);

#ifdef __cplusplus
}
#endif
#endif
