/* seqlm/lm.h - neural language models: the model, its data, training, evaluation, sampling.
 *
 * A model (seqlm_lm) is a vocabulary plus layers from seqlm/nn.h: embedding -> recurrent stack
 * (rnn-tanh, rnn-relu, lstm, gru) -> output layer, optionally with tied weights; or the
 * fixed-window model of Bengio et al. (2003). Its file is safetensors with PyTorch's
 * word_language_model tensor names (encoder.weight, rnn.weight_ih_l0, ..., decoder.weight,
 * decoder.bias; the window model: the names in nn.h) and, in the metadata, "seqlm.config" (JSON
 * of seqlm_lm_config) and "seqlm.vocab" (the vocabulary file's text: TOKEN<TAB>COUNT lines).
 *
 * Data follow ../shared/BENCHMARKS.md: a split is one stream of ids, each line's tokens followed
 * by </s>; the stream is cut into B parallel columns and windows of T steps, the hidden state
 * carried from window to window (truncated BPTT). Every id in the stream after the first is a
 * prediction target; the first is context only.
 *
 *     seqlm_lm_config cfg = seqlm_lm_default_config();            // 2x200 LSTM
 *     seqlm_vocab *v = ...;                                       // seqlm_vocab_from_corpus +
 * prune seqlm_lm *lm = seqlm_lm_create(&cfg, v, &err);             // takes v seqlm_train_config tc
 * = seqlm_train_default_config(); tc.train_path = "train.txt"; tc.output_path =
 * "model.safetensors"; seqlm_train(lm, &tc, &err);
 */
#ifndef SEQLM_LM_H
#define SEQLM_LM_H

#include <stddef.h>
#include <stdint.h>

#include "seqlm/error.h"
#include "seqlm/modelfile.h"
#include "seqlm/nn.h"
#include "seqlm/optim.h"
#include "seqlm/progress.h"
#include "seqlm/rng.h"
#include "seqlm/text.h"
#include "seqlm/vocab.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- data ------------------------------------------------------------------------------------ */

/* A split as one stream of ids: each line's tokens, then </s>. Tokens missing from the
 * vocabulary become <unk> (counted in *oov). */
typedef struct {
    int32_t *ids;
    size_t n;
} seqlm_stream;

seqlm_status seqlm_stream_read(const char *path, const seqlm_vocab *v, seqlm_unit unit,
                               seqlm_stream *out, uint64_t *oov, seqlm_error *err);
/* Like seqlm_stream_read; with reverse set, each line's tokens come in reverse order, still
 * followed by the line's </s> ("a b c" -> c b a </s>): the text a backward language model
 * (ELMo's, seqlm/elmo.h) reads. */
seqlm_status seqlm_stream_read_ex(const char *path, const seqlm_vocab *v, seqlm_unit unit,
                                  int reverse, seqlm_stream *out, uint64_t *oov, seqlm_error *err);
void seqlm_stream_free(seqlm_stream *s);

/* ---- the model ------------------------------------------------------------------------------- */

typedef enum {
    SEQLM_ARCH_RNN_TANH = 0,
    SEQLM_ARCH_RNN_RELU,
    SEQLM_ARCH_LSTM,
    SEQLM_ARCH_GRU,
    SEQLM_ARCH_WINDOW
} seqlm_arch;

const char *seqlm_arch_name(seqlm_arch a); /* "rnn-tanh", "rnn-relu", "lstm", "gru", "window" */
int seqlm_arch_parse(const char *name, seqlm_arch *a);

typedef struct {
    seqlm_arch arch;
    int layers;      /* recurrent layers (default 2) */
    int hidden;      /* units per layer; window: hidden layer size (default 200) */
    int embedding;   /* default 200 */
    int context;     /* window: previous words used (n - 1; default 4) */
    float dropout;   /* on embeddings, between layers and before the output (default 0) */
    int tie_weights; /* decoder.weight = encoder.weight (needs embedding == hidden) */
    int direct;      /* window: direct input-to-output connections */
    seqlm_unit unit; /* how text becomes tokens (default word) */
} seqlm_lm_config;

seqlm_lm_config seqlm_lm_default_config(void);

typedef struct seqlm_lm seqlm_lm;

/* A model with freshly registered, allocated and zeroed parameters; takes ownership of vocab.
 * Checks the config (sizes > 0, tie needs embedding == hidden, ...). */
seqlm_lm *seqlm_lm_create(const seqlm_lm_config *cfg, seqlm_vocab *vocab, seqlm_error *err);
void seqlm_lm_free(seqlm_lm *m);
/* PyTorch word_language_model's initialisation: encoder and decoder weights U(-0.1, 0.1),
 * decoder bias 0, recurrent layers PyTorch's default; window: nn.h's resets. */
void seqlm_lm_reset(seqlm_lm *m, seqlm_rng *rng);

const seqlm_lm_config *seqlm_lm_config_of(const seqlm_lm *m);
const seqlm_vocab *seqlm_lm_vocab(const seqlm_lm *m);
seqlm_params *seqlm_lm_params(seqlm_lm *m);

/* Bytes a training run will need for batch B, window T and optimiser kind: parameters,
 * gradients, optimiser state, activations and caches, output scratch. Reported before
 * allocating. */
size_t seqlm_lm_train_bytes(const seqlm_lm_config *cfg, size_t V, int B, int T,
                            seqlm_optim_kind opt);

/* Model files: safetensors, metadata as described above plus extra (may be NULL). */
seqlm_status seqlm_lm_save(const seqlm_lm *m, const char *path, const seqlm_metadata *extra,
                           seqlm_error *err);
/* Loads a model file; *meta (may be NULL; initialise to {0}) receives its metadata. A file that
 * is not a seqlm language model (no seqlm.config) is an error saying so. */
seqlm_lm *seqlm_lm_load(const char *path, seqlm_metadata *meta, seqlm_error *err);

/* ---- running the model: a workspace for B streams of windows up to T steps ------------------- */

typedef struct seqlm_lm_work seqlm_lm_work;

seqlm_lm_work *seqlm_lm_work_create(seqlm_lm *m, int T_max, int B, seqlm_error *err);
void seqlm_lm_work_free(seqlm_lm_work *w);
/* Zeroes the carried state (hidden and cell states; the window model's word history, which
 * starts as </s>). */
void seqlm_lm_work_reset(seqlm_lm_work *w);
/* The carried state as one float array (for checkpoints), and its length. Writing into the
 * array sets the state the next call starts from. Works of one model with the same B have the
 * same length and layout, so copying the array of one B=1 work into another moves a stream's
 * whole state (beam search in src/sample/ does this; it relies on nothing else). */
float *seqlm_lm_work_state(seqlm_lm_work *w, size_t *n);

/* One window: inputs x (T, B) and targets y (T, B) (ignore_index -100 skips a position).
 * Returns the mean cross-entropy (nats) over the counted targets (*counted receives their
 * number; may be NULL). training: dropout on; backward: accumulate parameter gradients (the
 * caller zeroes them, clips, steps). The state after the window is carried to the next call;
 * gradients never flow into earlier windows. */
double seqlm_lm_window(seqlm_lm *m, seqlm_lm_work *w, const int32_t *x, const int32_t *y, int T,
                       int training, int backward, seqlm_rng *rng, size_t *counted);
/* Like seqlm_lm_window without training: log p(w) for every position and word, out (T*B, V),
 * natural log; advances the carried state. */
void seqlm_lm_logprobs(seqlm_lm *m, seqlm_lm_work *w, const int32_t *x, int T, float *out);

/* What perplexity needs: ln p of the targets y (T, B) given inputs x (T, B) into lp (T*B; 0 where
 * y is -100), advancing the carried state like seqlm_lm_logprobs but without forming the
 * (T*B, V) log-probabilities (the recurrent archs score the output layer in cache-sized
 * blocks). Returns the summed negative log-likelihood, NaN when out of memory. */
double seqlm_lm_score(seqlm_lm *m, seqlm_lm_work *w, const int32_t *x, const int32_t *y, int T,
                      float *lp);
/* ---- evaluation ---------------------------------------------------------------------------- */

typedef struct {
    uint64_t tokens; /* predicted tokens, every </s> included */
    uint64_t oov;    /* tokens outside the vocabulary (predicted as <unk>) */
    double nll;      /* total negative log-likelihood, nats */
    double perplexity;
    double bpc; /* bits per token: nll / tokens / ln 2 (bits per character for char/byte) */
} seqlm_lm_eval_result;

/* Called for every predicted token in text order with its natural-log probability. */
typedef int (*seqlm_lm_token_fn)(void *ctx, const char *token, double logprob);

/* Perplexity of a text file under the protocol: the file is one stream starting with </s> as
 * context, cut into `batch` columns (batch 1: one unbroken state from start to end; on_token
 * needs batch 1). */
seqlm_status seqlm_lm_eval(seqlm_lm *m, const char *path, int batch, int bptt,
                           seqlm_lm_token_fn on_token, void *ctx, seqlm_lm_eval_result *res,
                           seqlm_error *err);

/* The arithmetic of seqlm_lm_eval's output layer (the bulk of its work) for the recurrent
 * archs: SEQLM_PRECISION_FP32 (the default) or SEQLM_PRECISION_BF16 (seqlm/kernels.h: that
 * layer twice as fast where the CPU has AVX512_BF16, log-probabilities within a few
 * thousandths of a nat).
 * SEQLM_ERR_ARG when this CPU cannot, or for bf16 with the window model. */
seqlm_status seqlm_lm_set_eval_precision(seqlm_lm *m, seqlm_precision prec, seqlm_error *err);

/* ---- training -------------------------------------------------------------------------------- */

/* Training diagnostics of an interval (defined in seqlm/diag.h). */
typedef struct seqlm_train_diag seqlm_train_diag;

/* One line of the training log (also written as JSON lines with log_path). "start" comes once,
 * before the optimiser and workspaces are allocated, with params and bytes set. */
typedef struct {
    const char *event; /* "start", "interval", "epoch", "end" */
    int epoch;
    uint64_t step, steps_total;   /* updates done / planned (0 if unknown) */
    double progress;              /* fraction of the epoch */
    double loss, ppl;             /* interval (or epoch) training loss, nats */
    double valid_loss, valid_ppl; /* epoch events; NaN otherwise */
    double lr, grad_norm, tokens_per_s, elapsed, eta;
    uint64_t params, bytes;       /* "start": trainable floats; seqlm_lm_train_bytes's estimate */
    const seqlm_train_diag *diag; /* "interval" events with seqlm_train_config.diag, else NULL */
} seqlm_train_event;

typedef void (*seqlm_train_fn)(void *ctx, const seqlm_train_event *e);

typedef struct {
    const char *train_path, *valid_path; /* valid may be NULL */
    const char *output_path;             /* the best model (by validation loss) */
    int batch, bptt;                     /* default 20, 35 */
    seqlm_optim_config optim;            /* default SGD lr 20 (word_language_model) */
    float clip;                          /* max gradient norm, 0 = none (default 0.25) */
    seqlm_sched_kind schedule;           /* default plateau */
    float lr_decay;                      /* plateau/step: divide lr by this (default 4) */
    int decay_after;                     /* step schedule: decay every epoch after this */
    int epochs;                          /* default 40 */
    int patience;                        /* early stop after this many epochs without a new
                                            best (0 = never; default 5) */
    uint64_t max_steps;                  /* stop after this many updates (0 = no limit) */
    double max_time;                     /* seconds (0 = no limit) */
    uint64_t seed;                       /* default 1 */
    int threads;                         /* 0 = all cores */
    const char *checkpoint_path;         /* NULL = no checkpoints */
    uint64_t checkpoint_every;           /* updates between checkpoints (0 = each epoch) */
    const char *log_path;                /* JSON lines, NULL = none */
    double log_interval;                 /* seconds between interval events (default 5) */
    seqlm_train_fn on_event;
    void *event_ctx;
    seqlm_warn_fn warn;
    void *warn_ctx;
    int diag;    /* interval events (and the log) carry seqlm_train_diag (seqlm/diag.h): gradient
                    norms, clipping, update ratios, gate saturation. Changes no result; a resumed
                    run takes it from the overrides. Default 0. */
    int reverse; /* read both texts with each line's tokens reversed (seqlm_stream_read_ex): a
                    backward language model (default 0); kept in checkpoints */
} seqlm_train_config;

seqlm_train_config seqlm_train_default_config(void);

/* Trains m (already created and reset, or loaded) on cfg->train_path. Validation after every
 * epoch; the best model is saved to output_path; the learning rate follows the schedule;
 * NaN/inf loss stops training with an error that says so and suggests a lower learning rate
 * or clipping (the last good checkpoint is kept). Ctrl-C (seqlm_request_stop) writes a
 * checkpoint and returns SEQLM_ERR_INTERRUPT. */
seqlm_status seqlm_train(seqlm_lm *m, const seqlm_train_config *cfg, seqlm_error *err);

/* Continues from a checkpoint with its settings (the model, optimiser, schedule, RNG, data
 * position and carried state are restored); overrides (may be NULL) may change output_path,
 * max_steps, max_time, checkpoint_path, log_path, log_interval. The result is
 * bit-identical to an uninterrupted run with the same seed and threads. Overrides left NULL or 0
 * keep the checkpoint's values; diag, on_event, warn and their contexts are always taken from
 * overrides.
 * Checkpoints go on to the file resumed from unless checkpoint_path is overridden. */
seqlm_status seqlm_train_resume(const char *checkpoint, const seqlm_train_config *overrides,
                                seqlm_error *err);

/* ---- generation --------------------------------------------------------------------------------
 */

typedef struct {
    double temperature;    /* > 0 (default 1) */
    int top_k;             /* 0 = off */
    double top_p;          /* nucleus; 1 = off */
    int greedy;            /* argmax */
    int beam;              /* beam width (0 = sampling); length-normalised log-probability */
    double length_penalty; /* beam: score = logp / len^alpha (default 1) */
    size_t length;         /* max tokens (words: stop at </s> earlier; 0, the default: 100 words,
                              500 characters or bytes) */
    const char *prime;     /* text the generation continues (tokenised with the model's unit) */
} seqlm_gen_config;

seqlm_gen_config seqlm_gen_default_config(void);

/* Generates one sequence from </s> (as <s>) and prime, writing the generated text (valid
 * UTF-8: words joined by spaces; characters and bytes as text, invalid byte sequences
 * replaced by U+FFFD) to a new string *text (caller frees). The text is the continuation only
 * (prime not repeated); <unk> and <s> are never generated. Sampling applies temperature, then
 * top-k, then top-p, and draws one seqlm_rng_uniform per token (same rng state, same text);
 * greedy and beam draw nothing. Beam search uses the model's log-probabilities (temperature,
 * top-k and top-p are ignored) and stops when `beam` hypotheses have ended in </s>; width 1 is
 * greedy decoding. Word models stop at </s>; char and byte models write `length` units, </s> as
 * a newline. */
seqlm_status seqlm_lm_generate(seqlm_lm *m, const seqlm_gen_config *g, seqlm_rng *rng, char **text,
                               seqlm_error *err);

/* The text of n token ids of vocabulary v as seqlm_lm_generate writes it (shared with the n-gram
 * sampler's callers): words joined by single spaces, char and byte tokens by their surface
 * (seqlm_token_surface), </s> as a newline, <unk> as itself; invalid UTF-8 and NUL bytes become
 * U+FFFD. Returns a new string (caller frees), NULL when out of memory. */
char *seqlm_gen_text(const seqlm_vocab *v, seqlm_unit unit, const uint32_t *ids, size_t n);

#ifdef __cplusplus
}
#endif
#endif
