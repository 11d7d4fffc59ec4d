/* sample.c - drawing sentences from an n-gram model, word by word, at a temperature.
 *
 * The next word's distribution in a state with context words[m-1..0] follows the backoff
 * semantics of seqlm_ngram_score: if the longest n-gram "words[d..0] w" in the model has d+2
 * words (d = -1: only the unigram), then
 *     log10 p(w | h) = prob("words[d..0] w") + sum_{j=d+1..m-1} backoff[j].
 * So the vocabulary splits three ways, and each part's mass comes from prefix sums instead of
 * a pass over V words:
 *   - unigram words, d = -1: not in the bigram run of words[0] (the successors of the last
 *     word, level[0].child[h] ..). Weight u[w] F with u[w] = 10^((uni[w] - umax)/T) and
 *     F = 10^((umax + sum_{j<m} backoff[j] - M)/T). The run splits the ids into S+1 gaps whose
 *     u-masses depend on h alone: gcum holds their prefix sums per run, cum those of u.
 *   - bigram words, d = 0: in the run but in no longer context's successor list. Weight
 *     E[i] f0 with E[i] = 10^((prob[i] - mx[h])/T), f0 = 10^((mx[h] + sum_{j>=1} backoff[j] -
 *     M)/T); ecum holds E's prefix sums per run, so the mass between two refined words is one
 *     subtraction.
 *   - refined words, d >= 1: the successors of the longer contexts, found by walking their
 *     successor lists from the trigram context up. A word moves to depth j only if it matched at
 *     depth j-1 (at depth 1: if it is in the bigram run, by binary search), which is exactly how
 *     seqlm_ngram_score's search stops at the first missing n-gram. Weight 10^((log10 p - M)/T)
 *     each.
 * Cost per word drawn: O(R log(S/R)) for the R refined words of the context plus a few binary
 * searches; the tables cost O(bigrams + V) doubles per sampler. Weights are relative to
 * M = max(every part's largest log10 p), so nothing overflows at any temperature; at extreme
 * temperatures (T < ~0.05) words more than 300 T decades below the best unigram may underflow to
 * zero, and if everything underflows the draw falls back to the O(V) reference.
 * It is not top-k/top-p or beam search (src/sample/ does those for the neural models). */
#include "ngram/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LN10 2.302585092994045684

struct seqlm_ngram_sampler {
    const seqlm_ngram_model *lm; /* borrowed: must outlive the sampler */
    double temperature;
    double k;    /* ln(10) / T: 10^(x/T) = exp(k x) */
    size_t V;    /* vocabulary size */
    float umax;  /* the largest unigram log10 probability of a drawable word */
    double *cum; /* (V+1) cum[w] = sum_{v<w} u[v]; u[<unk>] = u[<s>] = 0 */
    /* Per bigram run h (the successors of word h: positions b = child[h] .. e = child[h+1],
     * S = e - b of them). Empty when the order is 1. */
    float *mx;    /* (V) the largest drawable bigram log10 prob in run h, -inf if none */
    double *ecum; /* (bigrams + V) ecum[b + h + i] = E over the first i successors of run h */
    double *gcum; /* (bigrams + 2V) gcum[b + 2h + g] = u-mass of gaps 0..g-1 of run h; gap g
                     holds the ids between successors g-1 and g, gap S those after the last */
    /* Scratch for one context. */
    uint32_t *stamp; /* (V) == now: refined in the current context */
    uint8_t *depth;  /* (V) its depth d >= 1 */
    float *rprob;    /* (V) the log10 prob of its longest n-gram */
    uint32_t now;
    size_t cap;      /* the longest bigram run */
    uint32_t *rpos;  /* (cap) run positions of the refined words, ascending */
    float *rlp;      /* (cap) their log10 p */
    double *rcum;    /* (cap) prefix sums of their weights */
    double *dcum;    /* (cap + 1) prefix sums of E over the stretches of the run between them */
    double *scratch; /* (V) the reference distribution for the fallback */
    /* The prepared context. */
    int m;
    uint32_t h;
    const uint32_t *run; /* the run's bigrams, 2 words each */
    size_t S, R;
    double M, F, f0;
    double part[3]; /* cumulative mass of the unigram, bigram and refined parts */
};

static int drawable(uint32_t w) {
    return w != SEQLM_UNK && w != SEQLM_BOS;
}

static void build_tables(seqlm_ngram_sampler *s) {
    const seqlm_ngram_model *lm = s->lm;
    const ngram_level *uni = &lm->level[0];
    size_t V = s->V;
    s->umax = SEQLM_NGRAM_LOG0;
    for (size_t w = SEQLM_EOS; w < V; w++)
        if (uni->prob[w] > s->umax) s->umax = uni->prob[w];
    double c = 0;
    for (size_t w = 0; w < V; w++) {
        s->cum[w] = c;
        if (drawable((uint32_t)w)) c += exp(s->k * ((double)uni->prob[w] - s->umax));
    }
    s->cum[V] = c;
    if (lm->order < 2) return;
    const ngram_level *bi = &lm->level[1];
    for (size_t h = 0; h < V; h++) {
        uint32_t b = uni->child[h], e = uni->child[h + 1];
        float mx = -INFINITY;
        for (uint32_t i = b; i < e; i++)
            if (drawable(bi->words[2 * (size_t)i + 1]) && bi->prob[i] > mx) mx = bi->prob[i];
        s->mx[h] = mx;
        double *ec = s->ecum + b + h, *gc = s->gcum + b + 2 * h;
        double esum = 0, gsum = 0;
        uint32_t lo = 0;
        for (uint32_t i = b; i < e; i++) {
            uint32_t w = bi->words[2 * (size_t)i + 1];
            ec[i - b] = esum;
            gc[i - b] = gsum;
            if (drawable(w)) esum += exp(s->k * ((double)bi->prob[i] - mx));
            gsum += s->cum[w] - s->cum[lo];
            lo = w + 1;
        }
        ec[e - b] = esum;
        gc[e - b] = gsum;
        gc[e - b + 1] = gsum + (s->cum[V] - s->cum[lo]);
    }
}

seqlm_ngram_sampler *seqlm_ngram_sampler_create(const seqlm_ngram_model *lm, double temperature,
                                                seqlm_error *err) {
    if (!(temperature > 0 && isfinite(temperature))) {
        seqlm_error_set(err, SEQLM_ERR_ARG, "temperature %g is out of range (it must be > 0)",
                        temperature);
        return NULL;
    }
    const ngram_level *uni = &lm->level[0];
    size_t V = (size_t)uni->count;
    if (V <= SEQLM_EOS) {
        seqlm_error_set(err, SEQLM_ERR_DATA, "the model has no words to sample");
        return NULL;
    }
    seqlm_ngram_sampler *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->lm = lm;
    s->temperature = temperature;
    s->k = LN10 / temperature;
    s->V = V;
    size_t nbi = lm->order >= 2 ? (size_t)lm->level[1].count : 0;
    if (lm->order >= 2)
        for (size_t w = 0; w < V; w++)
            if (uni->child[w + 1] - uni->child[w] > s->cap)
                s->cap = uni->child[w + 1] - uni->child[w];
    s->cum = malloc((V + 1) * sizeof *s->cum);
    s->mx = malloc(V * sizeof *s->mx);
    s->ecum = malloc((nbi + V) * sizeof *s->ecum);
    s->gcum = malloc((nbi + 2 * V) * sizeof *s->gcum);
    s->stamp = calloc(V, sizeof *s->stamp);
    s->depth = malloc(V);
    s->rprob = malloc(V * sizeof *s->rprob);
    s->rpos = malloc((s->cap + 1) * sizeof *s->rpos);
    s->rlp = malloc((s->cap + 1) * sizeof *s->rlp);
    s->rcum = malloc((s->cap + 1) * sizeof *s->rcum);
    s->dcum = malloc((s->cap + 1) * sizeof *s->dcum);
    s->scratch = malloc(V * sizeof *s->scratch);
    if (!s->cum || !s->mx || !s->ecum || !s->gcum || !s->stamp || !s->depth || !s->rprob ||
        !s->rpos || !s->rlp || !s->rcum || !s->dcum || !s->scratch)
        goto nomem;
    build_tables(s);
    return s;
nomem:
    seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory for the sampler");
    seqlm_ngram_sampler_free(s);
    return NULL;
}

void seqlm_ngram_sampler_free(seqlm_ngram_sampler *s) {
    if (!s) return;
    free(s->cum);
    free(s->mx);
    free(s->ecum);
    free(s->gcum);
    free(s->stamp);
    free(s->depth);
    free(s->rprob);
    free(s->rpos);
    free(s->rlp);
    free(s->rcum);
    free(s->dcum);
    free(s->scratch);
    free(s);
}

static uint32_t run_word(const seqlm_ngram_sampler *s, size_t i) {
    return s->run[2 * i + 1];
}

/* The position of w in the run at or after from, or -1. The run is sorted by word and the
 * words looked up ascend, so a galloping search from the last hit costs O(log gap). */
static int64_t run_find(const seqlm_ngram_sampler *s, size_t from, uint32_t w) {
    size_t lo = from, hi = from, step = 1;
    while (hi < s->S && run_word(s, hi) < w) { /* words before lo are < w */
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    if (hi > s->S) hi = s->S;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (run_word(s, mid) < w)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->S && run_word(s, lo) == w ? (int64_t)lo : -1;
}

/* Finds the refined words of state st, the scale M and the three parts' masses. */
static void prepare(seqlm_ngram_sampler *s, const seqlm_ngram_state *st) {
    const seqlm_ngram_model *lm = s->lm;
    int m = st->length < lm->order ? st->length : lm->order - 1;
    s->m = m;
    s->S = s->R = 0;
    float bo0 = 0, bo1 = 0; /* the backoffs a unigram word and a bigram word get */
    for (int j = 0; j < m; j++) bo0 += st->backoff[j];
    for (int j = 1; j < m; j++) bo1 += st->backoff[j];
    double M = (double)s->umax + bo0;
    if (m == 0) {
        s->M = M;
        s->F = 1;
        s->f0 = 0;
        s->part[0] = s->part[1] = s->part[2] = s->cum[s->V];
        return;
    }
    uint32_t h = st->words[0];
    const ngram_level *uni = &lm->level[0];
    s->h = h;
    s->run = lm->level[1].words + 2 * (size_t)uni->child[h];
    s->S = uni->child[h + 1] - uni->child[h];
    if (m >= 2) {
        if (++s->now == 0) { /* the stamp wrapped: forget every old mark */
            memset(s->stamp, 0, s->V * sizeof *s->stamp);
            s->now = 1;
        }
        uint64_t key = ngram_key1(h);
        for (int j = 1; j < m; j++) {
            const ngram_level *ctx = &lm->level[j], *up = &lm->level[j + 1];
            size_t n = (size_t)j + 2, from = 0; /* words per successor */
            /* The context words[j..0]: a state from seqlm_ngram_score holds only n-grams of the
             * model, so it is there; one built otherwise gets no refinement beyond its end. */
            key = ngram_key_extend(key, st->words[j]);
            int64_t e = ngram_find(ctx, key);
            if (e < 0) break;
            for (uint32_t i = ctx->child[e]; i < ctx->child[e + 1]; i++) {
                uint32_t w = up->words[i * n + n - 1];
                if (j == 1) {
                    int64_t p = run_find(s, from, w);
                    if (p < 0) continue;
                    from = (size_t)p + 1;
                    s->rpos[s->R++] = (uint32_t)p;
                } else if (s->stamp[w] != s->now || s->depth[w] != j - 1) {
                    continue;
                }
                s->stamp[w] = s->now;
                s->depth[w] = (uint8_t)j;
                s->rprob[w] = up->prob[i];
            }
        }
    }
    if (s->mx[h] > -INFINITY && (double)s->mx[h] + bo1 > M) M = (double)s->mx[h] + bo1;
    for (size_t r = 0; r < s->R; r++) {
        uint32_t w = run_word(s, s->rpos[r]);
        float p = s->rprob[w]; /* summed in the order seqlm_ngram_score sums */
        for (int j = s->depth[w] + 1; j < m; j++) p += st->backoff[j];
        s->rlp[r] = p;
        if (drawable(w) && p > M) M = p;
    }
    s->M = M;
    s->F = exp(s->k * ((double)s->umax + bo0 - M));
    s->f0 = s->mx[h] > -INFINITY ? exp(s->k * ((double)s->mx[h] + bo1 - M)) : 0;
    const double *ec = s->ecum + uni->child[h] + h;
    const double *gc = s->gcum + uni->child[h] + 2 * (size_t)h;
    double d = 0, rsum = 0;
    size_t prev = 0;
    for (size_t r = 0; r <= s->R; r++) {
        size_t next = r < s->R ? s->rpos[r] : s->S;
        d += ec[next] - ec[prev];
        s->dcum[r] = d;
        prev = next + 1;
    }
    for (size_t r = 0; r < s->R; r++) {
        if (drawable(run_word(s, s->rpos[r]))) rsum += exp(s->k * (s->rlp[r] - M));
        s->rcum[r] = rsum;
    }
    s->part[0] = s->F * gc[s->S + 1];
    s->part[1] = s->part[0] + s->f0 * d;
    s->part[2] = s->part[1] + rsum;
}

/* The first i in [lo, hi) with a[i] > x; if none (x rounded up to the end), the first i where a
 * reaches a[hi-1]. For a non-decreasing a whose entry a[i] - a[i-1] is element i's mass, the
 * element found has positive mass whenever a[hi-1] > a[lo-1]. */
static size_t find(const double *a, size_t lo, size_t hi, double x) {
    if (!(x < a[hi - 1])) x = nextafter(a[hi - 1], -INFINITY);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The word at mass t in [0, part[2]) of the prepared context. */
static uint32_t pick(const seqlm_ngram_sampler *s, double t) {
    if (s->m == 0) return (uint32_t)(find(s->cum, 1, s->V + 1, t) - 1);
    const ngram_level *uni = &s->lm->level[0];
    size_t which = find(s->part, 0, 3, t);
    if (which == 0) { /* a unigram word: its gap, then the word by cum */
        const double *gc = s->gcum + uni->child[s->h] + 2 * (size_t)s->h;
        double y = t / s->F;
        size_t g = find(gc, 1, s->S + 2, y) - 1;
        size_t lo = g == 0 ? 0 : run_word(s, g - 1) + 1;
        size_t hi = g == s->S ? s->V : run_word(s, g);
        return (uint32_t)(find(s->cum, lo + 1, hi + 1, s->cum[lo] + (y - gc[g])) - 1);
    }
    if (which == 1) { /* a bigram word: its stretch between refined words, then by ecum */
        const double *ec = s->ecum + uni->child[s->h] + s->h;
        double x = (t - s->part[0]) / s->f0;
        size_t r = find(s->dcum, 0, s->R + 1, x);
        size_t lo = r == 0 ? 0 : s->rpos[r - 1] + 1;
        size_t hi = r == s->R ? s->S : s->rpos[r];
        double before = r == 0 ? 0 : s->dcum[r - 1];
        return run_word(s, find(ec, lo + 1, hi + 1, ec[lo] + (x - before)) - 1);
    }
    return run_word(s, s->rpos[find(s->rcum, 0, s->R, t - s->part[1])]);
}

/* The fallback: draw from the reference distribution. */
static uint32_t pick_naive(seqlm_ngram_sampler *s, const seqlm_ngram_state *st, double u) {
    ngram_sample_naive(s->lm, s->temperature, st, s->scratch);
    double c = 0;
    uint32_t last = SEQLM_EOS;
    for (size_t w = 0; w < s->V; w++) {
        if (s->scratch[w] <= 0) continue;
        c += s->scratch[w];
        last = (uint32_t)w;
        if (c > u) break;
    }
    return last;
}

uint32_t ngram_sampler_draw(seqlm_ngram_sampler *s, const seqlm_ngram_state *st, double u) {
    prepare(s, st);
    double total = s->part[2];
    if (!(total > 0 && isfinite(total))) return pick_naive(s, st, u);
    return pick(s, u * total);
}

void ngram_sampler_distribution(seqlm_ngram_sampler *s, const seqlm_ngram_state *st, double *p) {
    prepare(s, st);
    double total = s->part[2];
    if (!(total > 0 && isfinite(total))) {
        ngram_sample_naive(s->lm, s->temperature, st, p);
        return;
    }
    const seqlm_ngram_model *lm = s->lm;
    for (size_t w = 0; w < s->V; w++)
        p[w] = drawable((uint32_t)w)
                   ? s->F * exp(s->k * ((double)lm->level[0].prob[w] - s->umax)) / total
                   : 0;
    for (size_t i = 0; i < s->S; i++) {
        uint32_t w = run_word(s, i);
        float prob = lm->level[1].prob[lm->level[0].child[s->h] + i];
        p[w] = drawable(w) ? s->f0 * exp(s->k * ((double)prob - s->mx[s->h])) / total : 0;
    }
    for (size_t r = 0; r < s->R; r++) {
        uint32_t w = run_word(s, s->rpos[r]);
        p[w] = drawable(w) ? exp(s->k * (s->rlp[r] - s->M)) / total : 0;
    }
}

void ngram_sample_naive(const seqlm_ngram_model *lm, double temperature,
                        const seqlm_ngram_state *st, double *p) {
    size_t V = (size_t)lm->level[0].count;
    seqlm_ngram_state next;
    double M = -INFINITY, total = 0;
    for (size_t w = 0; w < V; w++) {
        p[w] = seqlm_ngram_score(lm, st, (uint32_t)w, &next, NULL);
        if (drawable((uint32_t)w) && p[w] > M) M = p[w];
    }
    for (size_t w = 0; w < V; w++) {
        p[w] = drawable((uint32_t)w) ? exp(LN10 / temperature * (p[w] - M)) : 0;
        total += p[w];
    }
    for (size_t w = 0; w < V; w++) p[w] /= total;
}

size_t seqlm_ngram_sample(seqlm_ngram_sampler *s, seqlm_rng *rng, uint32_t *out,
                          size_t max_length) {
    seqlm_ngram_state st;
    seqlm_ngram_begin(s->lm, &st);
    size_t n = 0;
    while (n < max_length) {
        uint32_t w = ngram_sampler_draw(s, &st, seqlm_rng_uniform(rng));
        if (w == SEQLM_EOS) break;
        out[n++] = w;
        seqlm_ngram_score(s->lm, &st, w, &st, NULL);
    }
    return n;
}
