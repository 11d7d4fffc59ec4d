/* count.h - n-gram counting for the estimators (internal).
 *
 * ngram_count streams a corpus once (twice when the vocabulary is pruned), counts every n-gram of
 * orders 1..N in "<s> w1 .. wm </s>" (one <s>, which only ever starts an n-gram; the unigram <s>
 * is not counted), applies count pruning, and returns a model whose n-grams are in place and
 * indexed (probabilities still to be estimated) together with their counts. */
#ifndef SEQLM_NGRAM_COUNT_H
#define SEQLM_NGRAM_COUNT_H

#include "ngram/model.h"

typedef struct {
    /* Per order n (index n-1), parallel to the model's level[n-1] arrays. */
    uint32_t *raw[SEQLM_NGRAM_MAX_ORDER]; /* occurrences */
    /* Kneser-Ney's adjusted counts: for n < N the number of distinct words seen before the
     * n-gram (its continuation count), except that n-grams starting with <s> - which nothing can
     * precede - and order-N n-grams keep their raw counts. Only filled when asked for. */
    uint32_t *adj[SEQLM_NGRAM_MAX_ORDER];
    /* As contexts (n < N): the sum of the counts (adjusted if asked for, else raw) of all their
     * successors and the number of distinct successors, both taken before pruning, so that the
     * mass of pruned n-grams goes to the backoff. */
    uint64_t *total[SEQLM_NGRAM_MAX_ORDER];
    uint32_t *types[SEQLM_NGRAM_MAX_ORDER];
    /* coc[n-1][r]: how many n-grams have count r (1 <= r < NGRAM_COC), before pruning, over the
     * counts the estimator uses (adjusted or raw). */
#define NGRAM_COC 8
    uint64_t coc[SEQLM_NGRAM_MAX_ORDER][NGRAM_COC];
} ngram_counts;

seqlm_ngram_model *ngram_count(const char *path, const seqlm_ngram_options *opt, int want_adjusted,
                               ngram_counts *counts, seqlm_error *err);
void ngram_counts_free(ngram_counts *counts);

#endif
