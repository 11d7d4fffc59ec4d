/* seqlm/tag.h - sequence tagging: CoNLL reading, a BiLSTM(-CRF) tagger, conlleval scoring.
 *
 *     seqlm_tag_corpus *tr = seqlm_tag_corpus_read("train.txt", 0, 1, &err);   // tag = last col
 *     seqlm_tagger_config cfg = seqlm_tagger_default_config();
 *     cfg.crf = 1; cfg.char_dim = 25;
 *     seqlm_tagger *m = seqlm_tagger_create_from(&cfg, tr, &err);              // vocabularies
 *     seqlm_tag_train_config tc = seqlm_tag_train_default_config();
 *     tc.output_path = "ner.safetensors";
 *     seqlm_tag_train(m, tr, valid, &tc, &err);
 *     int32_t *pred = ...;  seqlm_tagger_predict(m, test, pred, &err);        // one tag id a token
 *
 * The model: each token's input is [word embedding (E) | char BiLSTM final states (2 Hc) |
 * extra features (X)] -> dropout -> BiLSTM stack (L x 2H) -> dropout -> linear to K tag
 * scores -> softmax per token, or a linear-chain CRF (Lample et al. 2016). The extra block is
 * the hook for per-token features from outside (ELMo): cfg.extra_dim X > 0 makes the forward
 * pass take an (N, X) block, and backward return its gradient; nothing else changes.
 *
 * Not here: the training of ELMo models, the conversion of other text encodings to UTF-8 (the
 * shared reader's job: seqlm_reader_open_encoding). */
#ifndef SEQLM_TAG_H
#define SEQLM_TAG_H

#include <stddef.h>
#include <stdint.h>

#include "seqlm/error.h"
#include "seqlm/nn.h"
#include "seqlm/optim.h"
#include "seqlm/params.h"
#include "seqlm/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- corpora: CoNLL columns or TOKEN<TAB>TAG ----------------------------------------------- */

/* Sentences of tokens and (optionally) tags. Lines hold columns separated by spaces or tabs;
 * the token is column 1, the tag the last column (or column `column`, 1-based); a blank line
 * ends a sentence; "-DOCSTART-" lines are dropped. Every non-blank line of a file must have the
 * same number of columns. Each token keeps its line's text (for predict's output) and line
 * number (for messages). Token strings are interned: type[i] indexes types[], the distinct
 * token strings of the corpus. */
typedef struct {
    char *path;
    size_t n_sent, n_tok;
    size_t *sent_start; /* (n_sent + 1) first token of each sentence; sent_start[n_sent] = n_tok */
    uint32_t *type;     /* (n_tok) index into types */
    int32_t *tag;       /* (n_tok) index into tag_names, or -1 without tags */
    uint64_t *line;     /* (n_tok) 1-based line number in the file */
    char **text;        /* (n_tok) the line as read (owned) */
    char **types;       /* distinct token strings (owned) */
    size_t n_types;
    char **tag_names; /* distinct tags in first-seen order (owned) */
    size_t n_tags;
    int columns; /* columns per line */
    int has_tags;
    void *priv; /* the string pools behind text, types and tag_names (internal) */
} seqlm_tag_corpus;

/* column: 0 = the last column, else the 1-based column of the tag (>= 2). with_tags = 0 reads
 * only tokens (column 1; other columns are kept in the text but not checked). NULL on error:
 * "FILE: line N: expected 4 columns (as line 1), found 3", a tag column missing, bad UTF-8. */
seqlm_tag_corpus *seqlm_tag_corpus_read(const char *path, int column, int with_tags,
                                        seqlm_error *err);
/* The same for a file in `encoding` (an iconv name, e.g. "CP1252", "EUC-KR"; NULL = UTF-8),
 * converted to UTF-8 as it is read (seqlm_reader_open_encoding): a byte sequence invalid in the
 * encoding is an error naming file, line and byte offset. */
seqlm_tag_corpus *seqlm_tag_corpus_read_encoding(const char *path, int column, int with_tags,
                                                 const char *encoding, seqlm_error *err);
void seqlm_tag_corpus_free(seqlm_tag_corpus *c);
size_t seqlm_tag_corpus_max_len(const seqlm_tag_corpus *c); /* longest sentence, in tokens */

/* ---- the linear-chain CRF ------------------------------------------------------------------- */

/* Scores of a tag sequence y of length n: start[y_1] + sum_t emit[t][y_t] +
 * sum_{t>1} trans[y_{t-1}][y_t] + end[y_n]. emit is (T, B, K) (seq-first, as the RNNs),
 * sequences of lengths[b] <= T steps (>= 1), tags (T, B). */
typedef struct seqlm_crf_work seqlm_crf_work;
seqlm_crf_work *seqlm_crf_work_create(int T_max, int B_max, int K);
void seqlm_crf_work_free(seqlm_crf_work *w);

/* Sum over the batch of -log p(tags | emit) = log Z - score(tags), forward algorithm in scaled
 * probability space (matrix products; log scales summed in double), with a double log-space
 * fallback for a sequence whose scales under- or overflow. With demit not NULL, ACCUMULATES
 * scale * d/d(inputs) into demit (T, B, K; padding rows untouched), dtrans (K, K), dstart,
 * dend (K). */
double seqlm_crf_nll(seqlm_crf_work *w, const float *emit, const int32_t *tags,
                     const int32_t *lengths, int T, int B, const float *trans, const float *start,
                     const float *end, float scale, float *demit, float *dtrans, float *dstart,
                     float *dend);
/* The same for one sequence of n steps, plainly in double log space: the reference the tests
 * compare with, and the fallback. Row t of emit (and demit) is at t * stride, tag t at
 * tags[t * tag_stride]. */
double seqlm_crf_nll_logspace(const float *emit, int stride, const int32_t *tags, int tag_stride,
                              int n, int K, const float *trans, const float *start,
                              const float *end, float scale, float *demit, float *dtrans,
                              float *dstart, float *dend);
/* The best tag sequence of every batch entry into best (T, B) (padding rows set to -1); returns
 * the sum of the best scores. */
double seqlm_crf_viterbi(seqlm_crf_work *w, const float *emit, const int32_t *lengths, int T, int B,
                         const float *trans, const float *start, const float *end, int32_t *best);

/* ---- conlleval ------------------------------------------------------------------------------ */

typedef struct {
    char type[64];
    uint64_t correct, gold, guessed; /* chunks */
} seqlm_chunk_type;

typedef struct {
    uint64_t tokens, correct_tags;
    uint64_t correct, gold, guessed; /* chunks over all types */
    seqlm_chunk_type *types;         /* sorted by name (owned) */
    size_t n_types, cap_types;
    /* stream state */
    int in_correct;
    char last_gold[64], last_guess[64];
} seqlm_conlleval;

/* Feed the tags of one sentence (gold and guessed strings); a sentence boundary is an O token,
 * as in conlleval.pl. Then finish once. Tags may be any strings. */
void seqlm_conlleval_init(seqlm_conlleval *e);
void seqlm_conlleval_sentence(seqlm_conlleval *e, const char *const *gold, const char *const *guess,
                              size_t n);
void seqlm_conlleval_finish(seqlm_conlleval *e);
void seqlm_conlleval_free(seqlm_conlleval *e);
/* precision, recall, F1 in percent (0 when undefined), as conlleval.pl. */
void seqlm_conlleval_prf(uint64_t correct, uint64_t gold, uint64_t guessed, double *p, double *r,
                         double *f);
/* 1 if every tag is O or B-X / I-X (IOB1 or IOB2) and some tag is not O. */
int seqlm_tags_are_bio(const char *const *tags, size_t n);

/* ---- the tagger ----------------------------------------------------------------------------- */

typedef struct {
    int embedding;   /* E word embedding size */
    int char_dim;    /* char embedding size; 0 = no character features */
    int char_hidden; /* Hc per direction */
    int max_word_chars;
    int hidden; /* H per direction */
    int layers;
    float dropout;
    int crf;
    int lower;       /* lower-case (ASCII) words before the vocabulary lookup */
    int min_count;   /* vocabulary: train words seen at least this often */
    int extra_dim;   /* X per-token extra features (ELMo); 0 today */
    int metric_f1;   /* model selection by entity F1 (BIO tags) instead of accuracy */
    int tag_column;  /* the column the model was trained with (0 = last) */
    int zero_digits; /* map every ASCII digit to '0' before the word and char lookups */
    /* An ELMo file (seqlm/elmo.h, docs/elmo.md) of unit word: the learned scalar mix of its
     * biLM's layers (parameters "elmo_mix.*", trained with the tagger) is the extra block, X =
     * its 2H (extra_dim must be 0 at creation). In a created or loaded model: the absolute path
     * of the ELMo file in use (owned by the model), NULL without. */
    const char *elmo;
} seqlm_tagger_config;

seqlm_tagger_config seqlm_tagger_default_config(void);

typedef struct seqlm_tagger seqlm_tagger;

/* A new model whose vocabularies (words with count >= min_count, chars, tags) come from train;
 * parameters registered and allocated but not initialised (seqlm_tagger_reset). */
seqlm_tagger *seqlm_tagger_create_from(const seqlm_tagger_config *cfg,
                                       const seqlm_tag_corpus *train, seqlm_error *err);
void seqlm_tagger_free(seqlm_tagger *m);
void seqlm_tagger_reset(seqlm_tagger *m, seqlm_rng *rng);
const seqlm_tagger_config *seqlm_tagger_config_of(const seqlm_tagger *m);
seqlm_params *seqlm_tagger_params(seqlm_tagger *m);
size_t seqlm_tagger_n_tags(const seqlm_tagger *m);
const char *seqlm_tagger_tag_name(const seqlm_tagger *m, int32_t id);
size_t seqlm_tagger_n_words(const seqlm_tagger *m);
size_t seqlm_tagger_n_chars(const seqlm_tagger *m);

/* Model files: safetensors with metadata "seqlm.tagger" (config JSON), "seqlm.tagger.words",
 * "seqlm.tagger.chars", "seqlm.tagger.tags" (one entry a line), and with ELMo "seqlm.elmo.path"
 * and "seqlm.elmo.fingerprint". Loading a language model or a
 * classifier is an error that says what the file is. */
seqlm_status seqlm_tagger_save(const seqlm_tagger *m, const char *path, seqlm_error *err);
seqlm_tagger *seqlm_tagger_load(const char *path, seqlm_error *err);
/* The same, for a model trained with ELMo: the ELMo file is elmo (when not NULL) or the one its
 * metadata records ("seqlm.elmo.path"), and must have the recorded fingerprint; a missing or
 * different file is an error naming both. elmo given for a model without ELMo is an error. */
seqlm_tagger *seqlm_tagger_load_ex(const char *path, const char *elmo, seqlm_error *err);

/* A batch prepared from corpus sentences (ids resolved through the model's vocabularies). */
typedef struct seqlm_tag_batch seqlm_tag_batch;
seqlm_tag_batch *seqlm_tag_batch_create(void);
void seqlm_tag_batch_free(seqlm_tag_batch *b);
/* Per-corpus lookup tables (word and char ids of every type, model tag of every corpus tag):
 * prepare once per corpus, then fill batches. The corpus must outlive the map. */
typedef struct seqlm_tag_map seqlm_tag_map;
seqlm_tag_map *seqlm_tag_map_create(const seqlm_tagger *m, const seqlm_tag_corpus *c);
void seqlm_tag_map_free(seqlm_tag_map *map);
/* Fills b with sentences idx[0..n) of the map's corpus. 0, or -1 when out of memory. */
int seqlm_tag_batch_fill(seqlm_tag_batch *b, const seqlm_tagger *m, const seqlm_tag_map *map,
                         const size_t *idx, int n);
/* Singleton replacement (Lample et al. 2016): each token of b whose word occurred exactly once
 * in the model's training data gets the <unk> word id with probability p (one rng draw per
 * such token, in batch order); its characters are kept. Returns the number replaced. */
int seqlm_tag_batch_unk_replace(seqlm_tag_batch *b, const seqlm_tagger *m, float p, seqlm_rng *rng);
/* 1 if word id `id` occurred once in the training data (counts are not kept in model files:
 * a loaded model has none). */
int seqlm_tagger_word_is_singleton(const seqlm_tagger *m, int32_t id);
int seqlm_tag_batch_T(const seqlm_tag_batch *b);
int seqlm_tag_batch_B(const seqlm_tag_batch *b);

/* Forward (and with train set, backward: gradients ACCUMULATE into the model's params) on a
 * batch; returns the summed loss (NLL of the CRF, or cross-entropy) over the batch's tokens
 * times `scale` for the gradients. extra: (T, B, X) features when cfg.extra_dim > 0 (else NULL);
 * dextra receives their gradient (may be NULL). A model with ELMo makes its extra block itself
 * (extra and dextra NULL). Tokens whose tag is unknown to the model (-1)
 * are left out of the softmax loss; a CRF sentence with one is left out of the loss. */
double seqlm_tagger_loss(seqlm_tagger *m, seqlm_tag_batch *b, const float *extra, float *dextra,
                         int train, float scale, seqlm_rng *rng, seqlm_error *err);
/* Best tags of the batch, (T, B) row-major seq-first (padding -1). */
seqlm_status seqlm_tagger_decode(seqlm_tagger *m, seqlm_tag_batch *b, const float *extra,
                                 int32_t *best, seqlm_error *err);
/* Tags for every token of corpus c (pred: n_tok model tag ids), in length-sorted batches of
 * `batch` sentences. */
seqlm_status seqlm_tagger_predict(seqlm_tagger *m, const seqlm_tag_corpus *c, int batch,
                                  int32_t *pred, seqlm_error *err);

/* Writes every token's line of c with the tag pred[i] appended as a new last column (after a
 * tab if the line holds one or has a single column, else a space), a blank line after each
 * sentence, to path (atomically) or to standard output when path is NULL. */
seqlm_status seqlm_tag_write(const seqlm_tagger *m, const seqlm_tag_corpus *c, const int32_t *pred,
                             const char *path, seqlm_error *err);

/* Token accuracy and, for BIO tags, conlleval of pred against c's gold tags. Gold tags the
 * model does not know count as wrong. e (may be NULL) receives the conlleval state (caller
 * frees with seqlm_conlleval_free). Returns accuracy in percent. */
double seqlm_tagger_score(const seqlm_tagger *m, const seqlm_tag_corpus *c, const int32_t *pred,
                          seqlm_conlleval *e);

/* ---- training ------------------------------------------------------------------------------- */

typedef struct {
    const char *output_path; /* the best model is written here (atomic) */
    const char *log_path;    /* JSON lines, or NULL */
    int batch;
    int epochs, patience;
    seqlm_optim_config optim;
    float clip;        /* gradient norm; 0 = none */
    float unk_replace; /* singleton replacement probability (seqlm_tag_batch_unk_replace) */
    float lr_decay;    /* epoch e (1-based) uses lr / (1 + lr_decay * (e - 1)); 0 = constant */
    double max_time;   /* seconds; > 0: stop (validating the partial epoch) once exceeded */
    uint64_t seed;
    int threads;
    double log_interval; /* seconds between interval events */
    void (*on_event)(void *ctx, const char *event, const double *v); /* see train.c */
    void *event_ctx;
} seqlm_tag_train_config;

seqlm_tag_train_config seqlm_tag_train_default_config(void);

/* Event values v[]: epoch, progress (0..1), loss (per token), sent/s, lr, grad norm, valid
 * score (NaN without valid), best epoch, elapsed s, ETA s. */
enum {
    SEQLM_TAGEV_EPOCH = 0,
    SEQLM_TAGEV_PROGRESS,
    SEQLM_TAGEV_LOSS,
    SEQLM_TAGEV_SENT_S,
    SEQLM_TAGEV_LR,
    SEQLM_TAGEV_GRAD,
    SEQLM_TAGEV_VALID,
    SEQLM_TAGEV_BEST,
    SEQLM_TAGEV_ELAPSED,
    SEQLM_TAGEV_ETA,
    SEQLM_TAGEV_N
};

/* Trains m (already reset) on train; with valid, picks the best epoch by accuracy or F1 and
 * stops after `patience` epochs without a better score. The model file is written atomically
 * each time the score improves (without valid: after each epoch). On return m holds the last
 * weights. SEQLM_ERR_INTERRUPT when stopped by seqlm_request_stop (the best file stays). */
seqlm_status seqlm_tag_train(seqlm_tagger *m, const seqlm_tag_corpus *train,
                             const seqlm_tag_corpus *valid, const seqlm_tag_train_config *tc,
                             seqlm_error *err);

#ifdef __cplusplus
}
#endif
#endif
