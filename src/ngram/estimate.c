/* estimate.c - from counts to probabilities: mle, add-delta, Katz, Witten-Bell, Kneser-Ney and
 * modified Kneser-Ney, all written as ARPA backoff models.
 *
 * Two families share the walk over contexts:
 * - interpolated (wb, kn, mkn): p(w|h) = phat(w|h) + gamma(h) p(w|h'), written as the ARPA
 *   probability of "h w" with backoff weight gamma(h). Since the phat of all successors plus
 *   gamma sums to one, gamma(h) = 1 - sum_kept phat(w|h) also absorbs pruned successors.
 * - backed off (mle, add, katz): p(w|h) = p*(w|h) for seen "h w", otherwise
 *   bo(h) p(w|h') with bo(h) = (1 - sum_seen p*(w|h)) / (1 - sum_seen p(w|h')) (Katz 1987).
 * Modified Kneser-Ney follows KenLM's lmplz (Heafield et al. 2013) to the letter: adjusted
 * counts, discounts D_k = k - (k+1) Y n_{k+1}/n_k with Y = n1/(n1 + 2 n2) per order
 * (Chen & Goodman 1998, eq. 26), unigrams interpolated with the uniform distribution over the
 * vocabulary without <s>. Not here: counting (count.c), file formats (arpa_*.c, binary.c). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngram/count.h"

typedef struct {
    seqlm_smoothing smoothing;
    double delta;
    double D[4];          /* kn/mkn: discount for count 1, 2, 3+ (D[0] = 0) */
    double gt[NGRAM_COC]; /* katz: gt[r] = discount ratio d_r for count r (1 for large r) */
    int gt_max;
} order_params;

static void warn(const seqlm_ngram_options *opt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void warn(const seqlm_ngram_options *opt, const char *fmt, ...) {
    if (!opt->warn) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    opt->warn(opt->warn_ctx, msg);
}

/* Kneser-Ney discounts for order n from its count-of-counts. KenLM's rule: fail if n1, n2 or n3
 * is zero or a discount leaves [0, k]; then fall back to KenLM's --discount_fallback defaults
 * 0.5, 1, 1.5 (and say so) instead of refusing to build the model. */
static void kn_discounts(const seqlm_ngram_options *opt, const uint64_t *coc, int n, int modified,
                         double D[4]) {
    double n1 = (double)coc[1], n2 = (double)coc[2], n3 = (double)coc[3], n4 = (double)coc[4];
    const char *why = NULL;
    D[0] = 0;
    if (n1 == 0 || n2 == 0 || (modified && n3 == 0)) {
        why = n1 == 0   ? "no n-gram is seen once"
              : n2 == 0 ? "no n-gram is seen twice"
                        : "no n-gram is seen three times";
    } else {
        double y = n1 / (n1 + 2 * n2);
        if (modified) {
            D[1] = 1 - 2 * y * n2 / n1;
            D[2] = 2 - 3 * y * n3 / n2;
            D[3] = 3 - 4 * y * n4 / n3;
            for (int k = 1; k <= 3; k++)
                if (D[k] < 0 || D[k] > k) why = "a discount falls outside [0, count]";
        } else {
            D[1] = D[2] = D[3] = y;
        }
    }
    if (why) {
        warn(opt,
             "order %d: cannot estimate %s discounts (%s; counts of counts n1..n4 = %.0f %.0f "
             "%.0f %.0f), using the fallback D1=0.5 D2=1 D3+=1.5 (too little data?)",
             n, modified ? "modified Kneser-Ney" : "Kneser-Ney", why, n1, n2, n3, n4);
        D[1] = 0.5;
        D[2] = modified ? 1.0 : 0.5;
        D[3] = modified ? 1.5 : 0.5;
    }
}

/* Good-Turing discount ratios d_r for r = 1..k (Katz 1987):
 *   r_star = (r+1) n_{r+1} / n_r,  A = (k+1) n_{k+1} / n_1,  d_r = (r_star / r - A) / (1 - A).
 * Counts above k are not discounted. When a ratio is undefined or outside (0, 1], that count
 * falls back to an absolute discount of 0.5 (d_r = (r - 0.5) / r), with a notice. */
static void gt_discounts(const seqlm_ngram_options *opt, const uint64_t *coc, int n, int k,
                         double *gt) {
    for (int r = 0; r < NGRAM_COC; r++) gt[r] = 1.0;
    double n1 = (double)coc[1], A = n1 > 0 ? (k + 1) * (double)coc[k + 1] / n1 : 1;
    int bad = 0;
    for (int r = 1; r <= k; r++) {
        double d = -1;
        if (coc[r] > 0 && A < 1) {
            double rstar = (r + 1) * (double)coc[r + 1] / (double)coc[r];
            d = (rstar / r - A) / (1 - A);
        }
        if (!(d > 0 && d <= 1)) {
            d = (r - 0.5) / r;
            bad = 1;
        }
        gt[r] = d;
    }
    if (bad)
        warn(opt,
             "order %d: some Good-Turing discounts are undefined or out of range (too little "
             "data?); those counts use an absolute discount of 0.5",
             n);
}

/* low[j] = linear probability of the suffix w[1..n-1] of each n-gram j at order n (the counter
 * guarantees the suffix is in the model). Lookups run PREFETCH_AHEAD entries ahead of use. */
#define PREFETCH_AHEAD 16
static void lower_probs(const seqlm_ngram_model *lm, int n, float *low) {
    const ngram_level *lv = &lm->level[n - 1], *lo = &lm->level[n - 2];
    if (n == 2) {
        for (uint64_t j = 0; j < lv->count; j++) low[j] = lm->level[0].prob[lv->words[2 * j + 1]];
        return;
    }
    const uint64_t chunk = 1 << 16;
    int64_t chunks = (int64_t)((lv->count + chunk - 1) / chunk);
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        uint64_t begin = (uint64_t)c * chunk, end = begin + chunk;
        if (end > lv->count) end = lv->count;
        uint64_t ring[2 * PREFETCH_AHEAD];
        for (uint64_t i = begin; i < end + PREFETCH_AHEAD; i++) {
            if (i < end) {
                ring[i % (2 * PREFETCH_AHEAD)] = ngram_key(lv->words + i * (uint64_t)n + 1, n - 1);
                __builtin_prefetch(lo->slots +
                                   ngram_slot_start(ring[i % (2 * PREFETCH_AHEAD)], lo->nslots));
            }
            if (i < begin + PREFETCH_AHEAD) continue;
            uint64_t j = i - PREFETCH_AHEAD;
            int64_t idx = ngram_find(lo, ring[j % (2 * PREFETCH_AHEAD)]);
            low[j] = idx >= 0 ? lo->prob[idx] : 0.0f;
        }
    }
}

static double discounted(const order_params *p, uint32_t c, uint64_t total, uint32_t types,
                         double V) {
    switch (p->smoothing) {
    case SEQLM_SMOOTH_MLE:
        return (double)c / (double)total;
    case SEQLM_SMOOTH_ADD:
        return ((double)c + p->delta) / ((double)total + p->delta * V);
    case SEQLM_SMOOTH_KATZ:
        return (c < NGRAM_COC ? p->gt[c] : 1.0) * (double)c / (double)total;
    case SEQLM_SMOOTH_WB:
        return (double)c / ((double)total + types);
    case SEQLM_SMOOTH_KN:
    case SEQLM_SMOOTH_MKN:
        return ((double)c - p->D[c < 3 ? c : 3]) / (double)total;
    }
    return 0;
}

static int interpolated(seqlm_smoothing s) {
    return s == SEQLM_SMOOTH_WB || s == SEQLM_SMOOTH_KN || s == SEQLM_SMOOTH_MKN;
}

/* Unigrams: one context (the empty one) over every id but <s>; the mass the estimator leaves
 * (gamma, or Katz's leftover) is spread uniformly over those V ids, <unk> included. */
static void estimate_unigrams(seqlm_ngram_model *lm, const ngram_counts *cn,
                              const order_params *p) {
    ngram_level *lv = &lm->level[0];
    const uint32_t *cnt = cn->adj[0];
    double V = (double)lv->count - 1;
    uint64_t total = 0;
    uint32_t types = 0;
    for (uint64_t w = 0; w < lv->count; w++)
        if (w != SEQLM_BOS) {
            total += cnt[w];
            types += cnt[w] > 0;
        }
    double kept = 0;
    for (uint64_t w = 0; w < lv->count; w++) {
        double q = 0;
        if (w != SEQLM_BOS && (cnt[w] > 0 || p->smoothing == SEQLM_SMOOTH_ADD))
            q = discounted(p, cnt[w], total, types, V);
        lv->prob[w] = (float)q;
        kept += q;
    }
    double rest =
        p->smoothing == SEQLM_SMOOTH_MLE || p->smoothing == SEQLM_SMOOTH_ADD ? 0.0 : 1.0 - kept;
    if (rest < 0) rest = 0;
    for (uint64_t w = 0; w < lv->count; w++)
        if (w != SEQLM_BOS) lv->prob[w] = (float)(lv->prob[w] + rest / V);
}

/* Order n >= 2: for each context (an (n-1)-gram with successors), its successors' probabilities
 * and the context's backoff weight. Probabilities are linear here; log10 comes at the end. */
static void estimate_order(seqlm_ngram_model *lm, const ngram_counts *cn, const order_params *p,
                           int n, const float *low) {
    ngram_level *ctx = &lm->level[n - 2], *lv = &lm->level[n - 1];
    const uint32_t *cnt = cn->adj[n - 1];
    double V = (double)lm->level[0].count - 1;
#pragma omp parallel for schedule(dynamic, 4096)
    for (uint64_t h = 0; h < ctx->count; h++) {
        uint32_t b = ctx->child[h], e = ctx->child[h + 1];
        if (b == e) {
            ctx->backoff[h] = 1.0f;
            continue;
        }
        uint64_t total = cn->total[n - 2][h];
        uint32_t types = cn->types[n - 2][h];
        double kept = 0, kept_lower = 0;
        for (uint32_t j = b; j < e; j++) {
            double q = discounted(p, cnt[j], total, types, V);
            kept += q;
            lv->prob[j] = (float)q;
        }
        if (interpolated(p->smoothing)) {
            double gamma = 1.0 - kept;
            if (gamma < 0) gamma = 0;
            for (uint32_t j = b; j < e; j++) lv->prob[j] = (float)(lv->prob[j] + gamma * low[j]);
            ctx->backoff[h] = (float)gamma;
        } else {
            for (uint32_t j = b; j < e; j++) kept_lower += low[j];
            double num = 1.0 - kept, den = 1.0 - kept_lower;
            if (num <= 1e-12) {
                ctx->backoff[h] = 0.0f; /* the context keeps all its mass (mle) */
            } else if (den <= 1e-9) {
                /* The lower order gives all its mass to the words this context saw, so nothing
                 * is left to back off to: rescale those words to sum to one (as SRILM does). */
                for (uint32_t j = b; j < e; j++) lv->prob[j] = (float)(lv->prob[j] / kept);
                ctx->backoff[h] = 0.0f;
            } else {
                ctx->backoff[h] = (float)(num / den);
            }
        }
    }
}

/* log10 of a probability (at most 0) or, with may_exceed_one, of a backoff weight (which can be
 * above one: the words a context saw may be rarer below it than elsewhere). */
static float to_log10(float x, int may_exceed_one) {
    if (!(x > 0)) return SEQLM_NGRAM_LOG0;
    float l = log10f(x);
    if (l > 0 && !may_exceed_one) return 0.0f;
    return l < SEQLM_NGRAM_LOG0 ? SEQLM_NGRAM_LOG0 : l;
}

seqlm_ngram_model *seqlm_ngram_train(const char *path, const seqlm_ngram_options *opt,
                                     seqlm_error *err) {
    if (opt->order < 1 || opt->order > SEQLM_NGRAM_MAX_ORDER) {
        seqlm_error_set(err, SEQLM_ERR_ARG, "order %d is out of range (1 to %d)", opt->order,
                        SEQLM_NGRAM_MAX_ORDER);
        return NULL;
    }
    if (opt->smoothing == SEQLM_SMOOTH_ADD && !(opt->delta > 0 && isfinite(opt->delta))) {
        seqlm_error_set(err, SEQLM_ERR_ARG, "delta %g is out of range (it must be > 0)",
                        opt->delta);
        return NULL;
    }
    if ((unsigned)opt->smoothing > SEQLM_SMOOTH_MKN) {
        seqlm_error_set(err, SEQLM_ERR_ARG, "unknown smoothing method %d", (int)opt->smoothing);
        return NULL;
    }
    int kn = opt->smoothing == SEQLM_SMOOTH_KN || opt->smoothing == SEQLM_SMOOTH_MKN;
    ngram_counts cn;
    seqlm_ngram_model *lm = ngram_count(path, opt, kn, &cn, err);
    if (!lm) return NULL;
    order_params p[SEQLM_NGRAM_MAX_ORDER];
    for (int n = 1; n <= lm->order; n++) {
        order_params *q = &p[n - 1];
        memset(q, 0, sizeof *q);
        q->smoothing = opt->smoothing;
        q->delta = opt->delta;
        if (kn) kn_discounts(opt, cn.coc[n - 1], n, opt->smoothing == SEQLM_SMOOTH_MKN, q->D);
        if (opt->smoothing == SEQLM_SMOOTH_KATZ) gt_discounts(opt, cn.coc[n - 1], n, 5, q->gt);
    }
    estimate_unigrams(lm, &cn, &p[0]);
    uint64_t most = 1;
    for (int n = 2; n <= lm->order; n++)
        if (lm->level[n - 1].count > most) most = lm->level[n - 1].count;
    float *low = malloc(most * sizeof *low);
    if (!low) {
        ngram_counts_free(&cn);
        seqlm_ngram_free(lm);
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory while estimating");
        return NULL;
    }
    for (int n = 2; n <= lm->order; n++) {
        lower_probs(lm, n, low);
        estimate_order(lm, &cn, &p[n - 1], n, low);
    }
    free(low);
    ngram_counts_free(&cn);
    /* Backoff weights of n-grams that are no context (and of the top order) are 1. */
    for (int n = 1; n <= lm->order; n++) {
        ngram_level *lv = &lm->level[n - 1];
        if (n == lm->order)
            for (uint64_t i = 0; i < lv->count; i++) lv->backoff[i] = 1.0f;
        for (uint64_t i = 0; i < lv->count; i++) {
            lv->prob[i] = to_log10(lv->prob[i], 0);
            lv->backoff[i] = lv->backoff[i] == 1.0f ? 0.0f : to_log10(lv->backoff[i], 1);
        }
    }
    lm->level[0].prob[SEQLM_BOS] = SEQLM_NGRAM_LOG0;
    ngram_model_sync(lm); /* the slots were filled before the probabilities */
    return lm;
}
