/* sample.h - the n-gram sampler's internals, exposed so that tests can check the distribution
 * it draws from against the model (internal; the public API is in seqlm/ngram.h).
 *
 * The sampler never materialises the V probabilities of a context: it splits the vocabulary into
 * the words only the unigram reaches, the plain bigram successors of the last word and the words
 * the longer contexts refine, and takes each part's mass from prefix sums (sample.c). These
 * functions expand that into V probabilities, or draw from it with a given uniform number, so
 * that both can be compared with ngram_sample_naive, the O(V) reference built on
 * seqlm_ngram_score alone. */
#ifndef SEQLM_NGRAM_SAMPLE_H
#define SEQLM_NGRAM_SAMPLE_H

#include "ngram/model.h"

/* Fills p[0..V-1] (V = vocabulary size) with the distribution s draws from in state st:
 * p(w | st)^(1/T) normalised over every id but <unk> and <s> (which get 0). Uses and overwrites
 * the sampler's scratch state, so it is not thread safe. */
void ngram_sampler_distribution(seqlm_ngram_sampler *s, const seqlm_ngram_state *st, double *p);

/* The word s draws in state st when the uniform number is u in [0, 1). Each word owns one
 * interval of [0, 1) as long as its probability (the parts are laid out one after the other, each
 * in id order), so a grid of u values hits it about that often. */
uint32_t ngram_sampler_draw(seqlm_ngram_sampler *s, const seqlm_ngram_state *st, double u);

/* The reference: p[w] = 10^(score(w)/T) normalised over every id but <unk> and <s>, with score
 * from seqlm_ngram_score. O(V) score calls. */
void ngram_sample_naive(const seqlm_ngram_model *lm, double temperature,
                        const seqlm_ngram_state *st, double *p);

#endif
