/* seqlm/classify.h - sentence classification with a recurrent encoder.
 *
 * A classifier maps a sentence (a line of text) to one of C labels:
 *
 *   tokens -> embedding (E) [+ character BiLSTM of each word (2Hc)] [+ extra per-token
 *             features (X)] -> dropout
 *          -> L-layer (bi)RNN/LSTM/GRU over the real tokens only (lengths, no padding seen)
 *          -> pooling over time: last (forward state after the last token, backward state after
 *             the first), mean or max over the real steps -> dropout -> linear -> softmax
 *
 * trained by the mean cross-entropy of each batch with an optimiser of seqlm/optim.h. Sentences
 * of different lengths share a batch with padding that never changes a result: the recurrent
 * layers stop at each row's length and pooling reads only real steps.
 *
 *     seqlm_classify_data *train = seqlm_classify_data_create();
 *     seqlm_classify_source src = {.path = "train.tsv", .format = SEQLM_CLS_FORMAT_TSV};
 *     seqlm_classify_data_read(train, &src, &err);               // LABEL<TAB>TEXT lines
 *     seqlm_classify_config cfg = seqlm_classify_default_config();  // BiLSTM 150, max pool
 *     seqlm_classifier *m = seqlm_classifier_create_for(&cfg, train, 2, &err);
 *     seqlm_classify_train_config tc = seqlm_classify_train_default_config();
 *     tc.output_path = "model.safetensors";
 *     seqlm_classify_train(m, train, NULL, &tc, NULL, &err);
 *
 * Model files are safetensors (seqlm/modelfile.h) with PyTorch-style names ("embedding.weight",
 * "rnn.weight_ih_l0", ..., "output.weight", "output.bias") and metadata "seqlm.kind" =
 * "classifier", "seqlm.classify.config" (JSON), "seqlm.vocab" (TOKEN<TAB>COUNT lines, as a
 * vocabulary file) and "seqlm.labels" (one label per line, in class-index order); a model with
 * character features (config char_dim > 0) also "char_embedding.weight", "char_lstm.*" (after
 * "embedding.weight") and the metadata "seqlm.classify.chars" (its characters, one a line,
 * "<unk>" first); a model with ELMo (config field elmo) also "elmo_mix.scalar_parameters",
 * "elmo_mix.gamma" and the metadata "seqlm.elmo.path", "seqlm.elmo.fingerprint" (docs/elmo.md). */
#ifndef SEQLM_CLASSIFY_H
#define SEQLM_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "seqlm/error.h"
#include "seqlm/modelfile.h"
#include "seqlm/nn.h"
#include "seqlm/optim.h"
#include "seqlm/params.h"
#include "seqlm/rng.h"
#include "seqlm/text.h"
#include "seqlm/vocab.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- data ------------------------------------------------------------------------------------ */

typedef enum {
    SEQLM_CLS_FORMAT_TSV = 0, /* LABEL<TAB>TEXT (the text may contain further tabs) */
    SEQLM_CLS_FORMAT_NSMC,    /* header "id<TAB>document<TAB>label", then id<TAB>TEXT<TAB>LABEL */
    SEQLM_CLS_FORMAT_TEXT     /* one text per line; the label is the source's `label` (or none) */
} seqlm_cls_format;

const char *seqlm_cls_format_name(seqlm_cls_format f); /* "tsv", "nsmc", "text" */
int seqlm_cls_format_parse(const char *name, seqlm_cls_format *f);

/* One input file. A TSV or text file whose first line is exactly "id<TAB>document<TAB>label" is
 * read as NSMC (auto-detection). */
typedef struct {
    const char *path;
    seqlm_cls_format format;
    const char *label;    /* TEXT: every line's label (NULL = unlabelled, for prediction) */
    const char *encoding; /* iconv name of the file's encoding; NULL = UTF-8 (validated) */
    int allow_empty;      /* an empty (all white space) text is kept instead of an error */
    int id_mod;           /* NSMC: keep only rows with id % id_mod != 0 (id_keep_zero = 0) */
    int id_keep_zero;     /*       or == 0 (id_keep_zero = 1); id_mod 0 keeps every row */
} seqlm_classify_source;

/* Labelled sentences, in file order. Labels are interned: label[i] indexes labels[]. */
typedef struct {
    size_t n, cap;
    char **text;     /* (n) UTF-8, owned */
    int32_t *label;  /* (n) index into labels, -1 = none */
    uint32_t *file;  /* (n) index into files */
    uint64_t *line;  /* (n) 1-based line in its file */
    uint64_t *index; /* (n) 0-based record number in its file (header not counted): folds */
    char **labels;   /* (n_labels) owned, in order of first appearance */
    size_t n_labels;
    char **files; /* (n_files) paths, owned */
    size_t n_files;
} seqlm_classify_data;

seqlm_classify_data *seqlm_classify_data_create(void);
void seqlm_classify_data_free(seqlm_classify_data *d);
/* Appends the records of src. Errors name file:line (and byte for encoding problems): a missing
 * tab, an empty label, an empty text (unless allow_empty), a bad NSMC id or column count, a
 * text or label that is not valid UTF-8 after conversion. */
seqlm_status seqlm_classify_data_read(seqlm_classify_data *d, const seqlm_classify_source *src,
                                      seqlm_error *err);
/* Appends record i of src (labels re-interned). */
seqlm_status seqlm_classify_data_add(seqlm_classify_data *d, const seqlm_classify_data *src,
                                     size_t i, seqlm_error *err);
/* Cross-validation: record r goes to fold index[r] % K; test gets fold `fold`, train the rest
 * (both appended to, in record order). */
seqlm_status seqlm_classify_data_fold(const seqlm_classify_data *d, int K, int fold,
                                      seqlm_classify_data *train, seqlm_classify_data *test,
                                      seqlm_error *err);
/* Moves a seeded random `fraction` of d (rounded, at least 1 when fraction > 0 and n >= 2) into
 * heldout, keeping the rest in d (both in record order). */
seqlm_status seqlm_classify_data_holdout(seqlm_classify_data *d, double fraction, uint64_t seed,
                                         seqlm_classify_data *heldout, seqlm_error *err);

/* ---- the model ---------------------------------------------------------------------------------
 */

typedef enum { SEQLM_POOL_LAST = 0, SEQLM_POOL_MEAN, SEQLM_POOL_MAX } seqlm_pool;

const char *seqlm_pool_name(seqlm_pool p); /* "last", "mean", "max" */
int seqlm_pool_parse(const char *name, seqlm_pool *p);

typedef struct {
    seqlm_cell cell;   /* default lstm */
    int layers;        /* default 1 */
    int hidden;        /* units per direction (default 150) */
    int embedding;     /* default 100 */
    int bidirectional; /* default 1 */
    seqlm_pool pool;   /* default max */
    float dropout;     /* on the encoder input, between layers and on the pooled vector (0.5) */
    seqlm_unit unit;   /* word (default) or char */
    int lower;         /* ASCII lower-casing before the vocabulary lookup */
    int extra;         /* X: extra per-token input features (0; see seqlm_classifier_input) */
    /* Character features (word units only): each word's characters through a character
     * BiLSTM (Lample et al. 2016, as the tagger's), its final states (2 char_hidden) joining
     * the word's input after the embedding. The character vocabulary is every character of
     * the training words (seen any number of times), so rare and unseen words get a
     * representation. char_dim: character embedding size, 0 = none (default). */
    int char_dim;
    int char_hidden;    /* the character BiLSTM's units per direction (default 25) */
    int max_word_chars; /* longer words keep their first and last max/2 characters (24) */
    /* An ELMo file (seqlm/elmo.h, docs/elmo.md): the learned scalar mix of its biLM's layers
     * (parameters "elmo_mix.*", trained with the task) joins each token's input, X = its 2H
     * (extra must be 0 at creation). Its unit must be the model's. In a created or loaded
     * model: the absolute path of the ELMo file in use (owned by the model), NULL without. */
    const char *elmo;
} seqlm_classify_config;

seqlm_classify_config seqlm_classify_default_config(void);

typedef struct seqlm_classifier seqlm_classifier;

/* A model with registered, allocated, zeroed parameters; takes ownership of vocab; copies the
 * n_labels label strings (in class order). Checks the config. With char_dim > 0 the character
 * vocabulary is the characters of vocab's words. */
seqlm_classifier *seqlm_classifier_create(const seqlm_classify_config *cfg, seqlm_vocab *vocab,
                                          const char *const *labels, size_t n_labels,
                                          seqlm_error *err);
/* Builds the vocabulary from the texts of data (tokens seen >= min_count times), the character
 * vocabulary (char_dim > 0) from all its tokens, and the label set from its labels (sorted by
 * strcmp, so class order does not depend on file order). */
seqlm_classifier *seqlm_classifier_create_for(const seqlm_classify_config *cfg,
                                              const seqlm_classify_data *data, uint64_t min_count,
                                              seqlm_error *err);
void seqlm_classifier_free(seqlm_classifier *m);
/* PyTorch's defaults: embedding N(0, 1), recurrent layers and linear U(-1/sqrt(fan), ..). */
void seqlm_classifier_reset(seqlm_classifier *m, seqlm_rng *rng);

const seqlm_classify_config *seqlm_classifier_config(const seqlm_classifier *m);
const seqlm_vocab *seqlm_classifier_vocab(const seqlm_classifier *m);
size_t seqlm_classifier_labels(const seqlm_classifier *m, const char *const **labels);
seqlm_params *seqlm_classifier_params(seqlm_classifier *m);
/* The class index of label, or -1. */
int seqlm_classifier_label_index(const seqlm_classifier *m, const char *label);
/* The size of the character vocabulary ("<unk>" included) of a model with character features;
 * 0 without. */
size_t seqlm_classifier_n_chars(const seqlm_classifier *m);

/* Files: extra metadata (may be NULL) is added. Loading a file that is not a classifier (a
 * language model, a foreign safetensors file) is an error saying what it is. */
seqlm_status seqlm_classifier_save(const seqlm_classifier *m, const char *path,
                                   const seqlm_metadata *extra, seqlm_error *err);
seqlm_classifier *seqlm_classifier_load(const char *path, seqlm_metadata *meta, seqlm_error *err);
/* The same, for a model trained with ELMo: the ELMo file is elmo (when not NULL) or the one its
 * metadata records ("seqlm.elmo.path"), and must have the recorded fingerprint
 * ("seqlm.elmo.fingerprint"); a missing or different file is an error naming both files. elmo
 * given for a model without ELMo is an error. */
seqlm_classifier *seqlm_classifier_load_ex(const char *path, const char *elmo, seqlm_metadata *meta,
                                           seqlm_error *err);

/* ---- running the model on batches ------------------------------------------------------------ */

/* Token ids of sentences under the model's vocabulary: sentence i is ids[start[i] ..
 * start[i+1]), at least one id (an empty text is one <unk>). */
typedef struct {
    size_t n;
    int32_t *ids;
    size_t *start;  /* (n + 1) */
    int32_t *label; /* (n) class index, -1 = none */
    int max_len;
    int32_t *elmo_ids;     /* models with ELMo: the ELMo ids, laid out as ids; else NULL */
    uint64_t elmo_unknown; /* how many of them are <unk> */
    /* models with character features: each token's word type (the distinct words of the
     * data, whatever the vocabulary), laid out as ids, and their char ids (internal) */
    int32_t *type_ids;
    struct charword_types *char_types;
} seqlm_classify_encoded;

/* Maps the labels of data to the model's classes: a label the model does not know is an error
 * naming file:line (unless allow_unknown_labels: then -1). */
seqlm_status seqlm_classify_encode(const seqlm_classifier *m, const seqlm_classify_data *data,
                                   int allow_unknown_labels, seqlm_classify_encoded *out,
                                   seqlm_error *err);
void seqlm_classify_encoded_free(seqlm_classify_encoded *e);

typedef struct seqlm_classify_work seqlm_classify_work;

/* Caches for batches of up to B_max sentences of up to T_max tokens. */
seqlm_classify_work *seqlm_classify_work_create(seqlm_classifier *m, int T_max, int B_max,
                                                seqlm_error *err);
void seqlm_classify_work_free(seqlm_classify_work *w);

/* One batch (models without ELMo or character features): B sentences, ids (T, B) seq-first padded
 * with anything, lengths (B) in [1, T], targets (B) class indices (-100 = ignored, or targets
 * NULL). Writes logits (B, C) when not NULL; returns the mean cross-entropy over the counted
 * targets (0 without targets). training: dropout on (with rng); backward: accumulate parameter
 * gradients of that mean. */
double seqlm_classify_batch(seqlm_classifier *m, seqlm_classify_work *w, const int32_t *ids,
                            const int32_t *lengths, int T, int B, const int32_t *targets,
                            int training, int backward, seqlm_rng *rng, float *logits);

/* ---- pooling over time (a layer: forward and backward) --------------------------------------- */

/* y (T, B, D*H) outputs of a D-direction layer, lengths (B) in [1, T]; out (B, D*H).
 * last: direction 0's y at t = len-1 and direction 1's y at t = 0; mean over t < len; max over
 * t < len (arg (B, D*H) records the time step chosen, the first on ties). */
void seqlm_pool_forward(seqlm_pool kind, const float *y, int T, int B, int D, int H,
                        const int32_t *lengths, float *out, int32_t *arg);
/* Accumulates dy (T, B, D*H) from dout (B, D*H). */
void seqlm_pool_backward(seqlm_pool kind, const float *dout, int T, int B, int D, int H,
                         const int32_t *lengths, const int32_t *arg, float *dy);

/* ---- training ----------------------------------------------------------------------------------
 */

typedef struct {
    const char *event; /* "start", "interval", "epoch", "end" */
    int fold;          /* cross-validation fold, -1 otherwise */
    int epoch;
    uint64_t step;
    double progress;              /* fraction of the epoch */
    double loss, acc;             /* training loss and accuracy over the interval (epoch) */
    double valid_loss, valid_acc; /* epoch events with validation; NaN otherwise */
    double lr, sents_per_s, elapsed, eta;
    uint64_t params; /* "start" */
    int best;        /* epoch events: this epoch is the best so far */
} seqlm_classify_event;

typedef void (*seqlm_classify_event_fn)(void *ctx, const seqlm_classify_event *e);

typedef struct {
    const char *output_path;  /* the kept model (NULL = not written) */
    seqlm_optim_config optim; /* default Adam lr 1e-3 */
    float clip;               /* max gradient norm, 0 = none (default 0) */
    int batch;                /* default 50 */
    int eval_batch;           /* default 100 */
    int epochs;               /* default 10 */
    int patience;             /* stop after this many epochs without a better validation
                                 accuracy (default 3; 0 = never) */
    double max_time;          /* seconds (0 = no limit) */
    uint64_t seed;            /* default 1 */
    int threads;              /* 0 = all cores */
    int fold;                 /* copied into events (-1) */
    const char *log_path;     /* JSON lines, appended to (NULL = none) */
    double log_interval;      /* seconds between interval events (default 5) */
    seqlm_classify_event_fn on_event;
    void *event_ctx;
} seqlm_classify_train_config;

seqlm_classify_train_config seqlm_classify_train_default_config(void);

typedef struct {
    int epochs, best_epoch;
    double best_valid_acc, best_valid_loss; /* NaN without validation */
    double train_sents_per_s;               /* over timed training steps only */
    double seconds;
    uint64_t steps;
} seqlm_classify_train_result;

/* Trains m (created and reset) on train; with valid (may be NULL) the model of the epoch with
 * the best validation accuracy (ties: lower loss) is kept, else the last; early stopping after
 * `patience` epochs without improvement; max_time stops mid-epoch (the weights at that point
 * are validated like an epoch end). Ctrl-C (seqlm_request_stop) stops with
 * SEQLM_ERR_INTERRUPT and writes nothing. m holds the kept weights afterwards. */
seqlm_status seqlm_classify_train(seqlm_classifier *m, const seqlm_classify_data *train,
                                  const seqlm_classify_data *valid,
                                  const seqlm_classify_train_config *cfg,
                                  seqlm_classify_train_result *res, seqlm_error *err);

/* ---- prediction and evaluation ----------------------------------------------------------------
 */

/* Class probabilities of every sentence: probs (n, C), in data order; batches of `batch`
 * sentences taken in length order. *sents_per_s (may be NULL) receives the speed. */
seqlm_status seqlm_classify_predict(seqlm_classifier *m, const seqlm_classify_data *data, int batch,
                                    float *probs, double *sents_per_s, seqlm_error *err);

typedef struct {
    int C;
    size_t n;
    double accuracy, macro_f1, loss; /* loss: mean cross-entropy (NaN if not computed) */
    double *precision, *recall, *f1; /* (C); 0 where undefined (no predictions / no gold) */
    uint64_t *support;               /* (C) gold count */
    uint64_t *confusion;             /* (C, C): [gold][predicted] */
} seqlm_classify_metrics;

/* From gold and predicted class indices (n each; gold must be in [0, C)). */
seqlm_status seqlm_classify_metrics_compute(const int32_t *gold, const int32_t *pred, size_t n,
                                            int C, seqlm_classify_metrics *out, seqlm_error *err);
void seqlm_classify_metrics_free(seqlm_classify_metrics *m);

#ifdef __cplusplus
}
#endif
#endif
