/* seqlm/ngram.h - n-gram language models: estimate, read/write ARPA and binary, query, sample.
 *
 * Worked example (error handling shortened):
 *
 *     seqlm_error err;
 *     seqlm_ngram_options opt = seqlm_ngram_default_options();   // order 3, modified Kneser-Ney
 *     opt.order = 5;
 *     seqlm_ngram_model *lm = seqlm_ngram_train("train.txt", &opt, &err);
 *     seqlm_ngram_write(lm, "model.arpa.gz", &err);             // or "model.bin": binary form
 *     seqlm_ngram_state st, next;
 *     seqlm_ngram_begin(lm, &st);                                // the state after <s>
 *     float lp = seqlm_ngram_score(lm, &st, seqlm_ngram_word(lm, "the"), &next); // log10 p
 *     seqlm_ngram_free(lm);
 *
 * A model is the same object whether it was estimated, read from ARPA or mapped from the binary
 * form: per order, the n-grams sorted by word ids with log10 probability and backoff weight, and
 * a hash index (KenLM's "probing" layout). Query cost: one hash probe per matched order.
 * Probabilities follow the ARPA backoff semantics, so every estimator - interpolated ones
 * included - is queried the same way. Thread safety: a model is read-only after it is built;
 * any number of threads may query it at once. */
#ifndef SEQLM_NGRAM_H
#define SEQLM_NGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "seqlm/error.h"
#include "seqlm/progress.h"
#include "seqlm/rng.h"
#include "seqlm/text.h"
#include "seqlm/vocab.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SEQLM_NGRAM_MAX_ORDER 10

typedef enum {
    SEQLM_SMOOTH_MLE = 0, /* maximum likelihood; unseen words in a seen context get 0 */
    SEQLM_SMOOTH_ADD,     /* add-delta (Laplace for delta = 1), backed off to lower orders */
    SEQLM_SMOOTH_KATZ,    /* Good-Turing discounts (counts 1..5), Katz backoff */
    SEQLM_SMOOTH_WB,      /* interpolated Witten-Bell */
    SEQLM_SMOOTH_KN,      /* interpolated Kneser-Ney, one discount per order */
    SEQLM_SMOOTH_MKN      /* interpolated modified Kneser-Ney (Chen & Goodman), as KenLM */
} seqlm_smoothing;

const char *seqlm_smoothing_name(seqlm_smoothing s);
int seqlm_smoothing_parse(const char *name, seqlm_smoothing *s);

typedef struct {
    int order;                 /* 1 .. SEQLM_NGRAM_MAX_ORDER */
    seqlm_smoothing smoothing; /* default MKN */
    double delta;              /* add-delta's delta, > 0 (default 1) */
    seqlm_unit unit;           /* default word */
    uint64_t min_count;        /* tokens seen fewer times become <unk> (default 1: none) */
    size_t max_vocab;          /* at most this many vocabulary ids (0 = no limit) */
    const char *vocab_path;    /* a fixed vocabulary file; other tokens become <unk> */
    uint64_t prune[SEQLM_NGRAM_MAX_ORDER]; /* prune[n-1]: drop n-grams (n >= 2) with count
                                              <= this (0 = keep all) */
    seqlm_warn_fn warn;
    void *warn_ctx;
    seqlm_progress_fn progress; /* may be NULL */
    void *progress_ctx;
} seqlm_ngram_options;

seqlm_ngram_options seqlm_ngram_default_options(void);

typedef struct seqlm_ngram_model seqlm_ngram_model;

/* Estimates a model from a text file, one sentence per line. Caller frees the model. */
seqlm_ngram_model *seqlm_ngram_train(const char *path, const seqlm_ngram_options *opt,
                                     seqlm_error *err);

/* Loads an ARPA file (plain or gzipped, KenLM's or SRILM's conventions) or the binary form
 * (recognised by its magic bytes; memory-mapped). Caller frees the model. */
seqlm_ngram_model *seqlm_ngram_load(const char *path, seqlm_error *err);

/* Writes ARPA when path ends in ".arpa" or ".arpa.gz" (gzipped), the binary form otherwise.
 * The file appears whole or not at all. */
seqlm_status seqlm_ngram_write(const seqlm_ngram_model *lm, const char *path, seqlm_error *err);
seqlm_status seqlm_ngram_write_arpa(const seqlm_ngram_model *lm, const char *path, int gzip,
                                    seqlm_error *err);
seqlm_status seqlm_ngram_write_binary(const seqlm_ngram_model *lm, const char *path,
                                      seqlm_error *err);

void seqlm_ngram_free(seqlm_ngram_model *lm);

int seqlm_ngram_order(const seqlm_ngram_model *lm);
seqlm_unit seqlm_ngram_unit(const seqlm_ngram_model *lm);
/* Number of n-grams of order n (1-based). */
uint64_t seqlm_ngram_count(const seqlm_ngram_model *lm, int n);
const seqlm_vocab *seqlm_ngram_vocab(const seqlm_ngram_model *lm);
/* The id of a token, SEQLM_UNK if it is not in the model. */
uint32_t seqlm_ngram_word(const seqlm_ngram_model *lm, const char *token);

/* Query state: the context the next word is scored in. Plain data: copy it freely. */
typedef struct {
    int length;                            /* context words in use (<= order - 1) */
    uint32_t words[SEQLM_NGRAM_MAX_ORDER]; /* words[0] is the most recent */
    float backoff[SEQLM_NGRAM_MAX_ORDER];  /* backoff[j]: log10 backoff of words[j..0] */
    uint32_t entry[SEQLM_NGRAM_MAX_ORDER]; /* reserved: no longer filled (the query finds what it
                                              needs in one cache line without it) */
} seqlm_ngram_state;

/* The state at the start of a sentence (after <s>). */
void seqlm_ngram_begin(const seqlm_ngram_model *lm, seqlm_ngram_state *state);
/* The state with no context. */
void seqlm_ngram_null(const seqlm_ngram_model *lm, seqlm_ngram_state *state);

/* log10 p(word | in); writes the state after word to out (out may equal in). *matched, if not
 * NULL, receives the order of the longest n-gram found. */
float seqlm_ngram_score(const seqlm_ngram_model *lm, const seqlm_ngram_state *in, uint32_t word,
                        seqlm_ngram_state *out, int *matched);

/* Perplexity of a text file, the way KenLM's `query` reports it: every token and each line's
 * </s> is scored, <s> is not; tokens not in the vocabulary are OOVs (scored as <unk>). */
typedef struct {
    uint64_t sentences;
    uint64_t tokens;            /* scored tokens, </s> included */
    uint64_t oov;               /* of which not in the vocabulary */
    double log10_prob;          /* sum over all scored tokens */
    double log10_prob_oov;      /* sum over the OOV tokens alone */
    double perplexity;          /* 10^(-log10_prob / tokens) */
    double perplexity_excl_oov; /* 10^(-(log10_prob - log10_prob_oov) / (tokens - oov)) */
} seqlm_ngram_eval_result;

/* Per-token callback for evaluation: token text, its id, log10 probability, matched order;
 * a sentence end is reported with token "</s>". Return non-zero to stop. */
typedef int (*seqlm_ngram_token_fn)(void *ctx, const char *token, uint32_t id, float log10_p,
                                    int matched);
/* Per-sentence callback: the line number, its total log10 probability and token count. */
typedef int (*seqlm_ngram_sentence_fn)(void *ctx, uint64_t line, double log10_p, uint64_t tokens,
                                       uint64_t oov);

seqlm_status seqlm_ngram_eval(const seqlm_ngram_model *lm, const char *path,
                              seqlm_ngram_token_fn on_token, seqlm_ngram_sentence_fn on_sentence,
                              void *ctx, seqlm_ngram_eval_result *res, seqlm_error *err);

/* Draws one sentence from <s> until </s> (or max_length tokens), sampling from
 * p(w | context)^(1/temperature) renormalised; <s> and <unk> are never drawn. Writes up to
 * max_length token ids into out and returns their count (without </s>). */
typedef struct seqlm_ngram_sampler seqlm_ngram_sampler;
seqlm_ngram_sampler *seqlm_ngram_sampler_create(const seqlm_ngram_model *lm, double temperature,
                                                seqlm_error *err);
void seqlm_ngram_sampler_free(seqlm_ngram_sampler *s);
size_t seqlm_ngram_sample(seqlm_ngram_sampler *s, seqlm_rng *rng, uint32_t *out, size_t max_length);

#ifdef __cplusplus
}
#endif
#endif
