/* test_crf.c - the linear-chain CRF (src/tag/crf.c) against brute force and finite differences.
 *
 * - NLL: log Z by enumerating all K^n tag sequences, for several lengths in one padded batch,
 *   for the scaled fast path and the log-space reference;
 * - gradients of the mean NLL with respect to emissions, transitions, start and end by central
 *   differences (tests/gradcheck.h), padded batch included; padding rows get no gradient;
 * - Viterbi = the brute-force argmax of the score, and the batched vectorised Viterbi = a plain
 *   one on 37 tags, 19 sequences of mixed lengths, with and without ties;
 * - large scores (where the scaled path must fall back to log space) still give finite, exact
 *   results. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "seqlm/rng.h"
#include "seqlm/tag.h"
#include "testutil.h"

enum { K = 4, T = 5, B = 3 };
static const int32_t lens[B] = {5, 1, 3};

typedef struct {
    float emit[T * B * K], trans[K * K], start[K], end[K];
    int32_t tags[T * B];
    seqlm_crf_work *w;
} crf_case;

static void fill(crf_case *c, unsigned seed, float range) {
    seqlm_rng rng;
    seqlm_rng_seed(&rng, seed);
    for (int i = 0; i < T * B * K; i++)
        c->emit[i] = range * (float)(2 * seqlm_rng_uniform(&rng) - 1);
    for (int i = 0; i < K * K; i++) c->trans[i] = range * (float)(2 * seqlm_rng_uniform(&rng) - 1);
    for (int i = 0; i < K; i++) {
        c->start[i] = range * (float)(2 * seqlm_rng_uniform(&rng) - 1);
        c->end[i] = range * (float)(2 * seqlm_rng_uniform(&rng) - 1);
    }
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            c->tags[t * B + b] = t < lens[b] ? (int32_t)seqlm_rng_below(&rng, K) : -1;
}

static double score(const crf_case *c, int b, const int *y, int n) {
    double s = c->start[y[0]] + c->end[y[n - 1]];
    for (int t = 0; t < n; t++) {
        s += c->emit[(t * B + b) * K + y[t]];
        if (t) s += c->trans[y[t - 1] * K + y[t]];
    }
    return s;
}

/* log Z and the best sequence by enumeration. */
static double brute(const crf_case *c, int b, int *best) {
    int n = lens[b], y[T];
    long total = 1;
    for (int t = 0; t < n; t++) total *= K;
    double mx = -INFINITY, sum = 0;
    double *all = malloc((size_t)total * sizeof *all);
    for (long code = 0; code < total; code++) {
        long r = code;
        for (int t = 0; t < n; t++) {
            y[t] = (int)(r % K);
            r /= K;
        }
        all[code] = score(c, b, y, n);
        if (all[code] > mx) {
            mx = all[code];
            for (int t = 0; t < n; t++) best[t] = y[t];
        }
    }
    for (long code = 0; code < total; code++) sum += exp(all[code] - mx);
    free(all);
    return mx + log(sum);
}

static void test_nll_brute(void **state) {
    (void)state;
    for (unsigned seed = 1; seed <= 3; seed++) {
        crf_case c;
        fill(&c, seed, 2.0f);
        c.w = seqlm_crf_work_create(T, B, K);
        double want = 0;
        int best[T];
        for (int b = 0; b < B; b++) {
            int gold[T];
            for (int t = 0; t < lens[b]; t++) gold[t] = c.tags[t * B + b];
            double lz = brute(&c, b, best);
            want += lz - score(&c, b, gold, lens[b]);
            double ls = seqlm_crf_nll_logspace(c.emit + b * K, B * K, c.tags + b, B, lens[b], K,
                                               c.trans, c.start, c.end, 0, NULL, NULL, NULL, NULL);
            assert_true(fabs(ls - (lz - score(&c, b, gold, lens[b]))) < 1e-5);
        }
        double got = seqlm_crf_nll(c.w, c.emit, c.tags, lens, T, B, c.trans, c.start, c.end, 1,
                                   NULL, NULL, NULL, NULL);
        print_message("seed %u: NLL %.9f, brute force %.9f\n", seed, got, want);
        assert_true(fabs(got - want) < 1e-4 * fmax(1, fabs(want)));
        seqlm_crf_work_free(c.w);
    }
}

static void test_viterbi_brute(void **state) {
    (void)state;
    for (unsigned seed = 10; seed < 20; seed++) {
        crf_case c;
        fill(&c, seed, 3.0f);
        c.w = seqlm_crf_work_create(T, B, K);
        int32_t got[T * B];
        double total = seqlm_crf_viterbi(c.w, c.emit, lens, T, B, c.trans, c.start, c.end, got);
        double want_total = 0;
        for (int b = 0; b < B; b++) {
            int best[T];
            brute(&c, b, best);
            want_total += score(&c, b, best, lens[b]);
            for (int t = 0; t < T; t++)
                assert_int_equal(got[t * B + b], t < lens[b] ? best[t] : -1);
        }
        assert_true(fabs(total - want_total) < 1e-4);
        seqlm_crf_work_free(c.w);
    }
}

/* The plain O(n K^2) Viterbi, one sequence: the first best previous tag on ties. */
static double viterbi_ref(const float *emit, int stride, int n, int K, const float *trans,
                          const float *start, const float *end, int *best) {
    float *d = malloc((size_t)n * K * sizeof *d);
    int *bp = malloc((size_t)n * K * sizeof *bp);
    for (int j = 0; j < K; j++) d[j] = start[j] + emit[j];
    for (int t = 1; t < n; t++)
        for (int j = 0; j < K; j++) {
            float mx = d[(t - 1) * K] + trans[j];
            int arg = 0;
            for (int i = 1; i < K; i++)
                if (d[(t - 1) * K + i] + trans[i * K + j] > mx) {
                    mx = d[(t - 1) * K + i] + trans[i * K + j];
                    arg = i;
                }
            d[t * K + j] = mx + emit[(size_t)t * stride + j];
            bp[t * K + j] = arg;
        }
    int arg = 0;
    for (int j = 1; j < K; j++)
        if (d[(n - 1) * K + j] + end[j] > d[(n - 1) * K + arg] + end[arg]) arg = j;
    double total = d[(n - 1) * K + arg] + end[arg];
    for (int t = n - 1; t >= 0; t--) {
        best[t] = arg;
        if (t) arg = bp[t * K + arg];
    }
    free(d);
    free(bp);
    return total;
}

/* The batched, vectorised Viterbi against the plain one: many tags (not a multiple of the
 * vector width), more sequences than its block of 8, lengths from 1 to T in any order, and
 * small integer scores so that ties are frequent (the first best tag must win). */
static void test_viterbi_large_batch(void **state) {
    (void)state;
    enum { KK = 37, TT = 9, BB = 19 };
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 11);
    for (int round = 0; round < 2; round++) {
        float *emit = malloc((size_t)TT * BB * KK * sizeof *emit);
        float *trans = malloc((size_t)KK * KK * sizeof *trans), st[KK], en[KK];
        int32_t len[BB], got[TT * BB];
        int levels = round == 0 ? 3 : 1000; /* few levels: ties; many: none */
        for (int i = 0; i < TT * BB * KK; i++) emit[i] = (float)seqlm_rng_below(&rng, levels);
        for (int i = 0; i < KK * KK; i++) trans[i] = (float)seqlm_rng_below(&rng, levels);
        for (int i = 0; i < KK; i++) {
            st[i] = (float)seqlm_rng_below(&rng, levels);
            en[i] = (float)seqlm_rng_below(&rng, levels);
        }
        for (int b = 0; b < BB; b++) len[b] = 1 + (int)seqlm_rng_below(&rng, TT);
        len[3] = TT;
        len[10] = 1;
        seqlm_crf_work *w = seqlm_crf_work_create(TT, BB, KK);
        double total = seqlm_crf_viterbi(w, emit, len, TT, BB, trans, st, en, got), want = 0;
        for (int b = 0; b < BB; b++) {
            int best[TT];
            want += viterbi_ref(emit + (size_t)b * KK, BB * KK, len[b], KK, trans, st, en, best);
            for (int t = 0; t < TT; t++)
                assert_int_equal(got[t * BB + b], t < len[b] ? best[t] : -1);
        }
        assert_true(total == want);
        seqlm_crf_work_free(w);
        free(emit);
        free(trans);
    }
}

typedef struct {
    crf_case *c;
    int logspace;
} gctx;

static double loss_fn(void *ctx) {
    gctx *g = ctx;
    crf_case *c = g->c;
    if (g->logspace) {
        double s = 0;
        for (int b = 0; b < B; b++)
            s += seqlm_crf_nll_logspace(c->emit + b * K, B * K, c->tags + b, B, lens[b], K,
                                        c->trans, c->start, c->end, 0, NULL, NULL, NULL, NULL);
        return s / B;
    }
    return seqlm_crf_nll(c->w, c->emit, c->tags, lens, T, B, c->trans, c->start, c->end, 0, NULL,
                         NULL, NULL, NULL) /
           B;
}

static void gradients(float range, unsigned seed) {
    crf_case c;
    fill(&c, seed, range);
    c.w = seqlm_crf_work_create(T, B, K);
    for (int logspace = 0; logspace < 2; logspace++) {
        float de[T * B * K] = {0}, dt[K * K] = {0}, ds[K] = {0}, dn[K] = {0};
        if (logspace)
            for (int b = 0; b < B; b++)
                seqlm_crf_nll_logspace(c.emit + b * K, B * K, c.tags + b, B, lens[b], K, c.trans,
                                       c.start, c.end, 1.0f / B, de + b * K, dt, ds, dn);
        else
            seqlm_crf_nll(c.w, c.emit, c.tags, lens, T, B, c.trans, c.start, c.end, 1.0f / B, de,
                          dt, ds, dn);
        gctx g = {&c, logspace};
        const char *what = logspace ? "log space" : "scaled";
        char label[64];
        snprintf(label, sizeof label, "%s emissions", what);
        assert_true(gradcheck(label, loss_fn, &g, c.emit, de, T * B * K, 1e-2f, 0) < 2e-3);
        snprintf(label, sizeof label, "%s transitions", what);
        assert_true(gradcheck(label, loss_fn, &g, c.trans, dt, K * K, 1e-2f, 0) < 2e-3);
        snprintf(label, sizeof label, "%s start", what);
        assert_true(gradcheck(label, loss_fn, &g, c.start, ds, K, 1e-2f, 0) < 2e-3);
        snprintf(label, sizeof label, "%s end", what);
        assert_true(gradcheck(label, loss_fn, &g, c.end, dn, K, 1e-2f, 0) < 2e-3);
        for (int t = 0; t < T; t++) /* padding gets no gradient */
            for (int b = 0; b < B; b++)
                if (t >= lens[b])
                    for (int k = 0; k < K; k++) assert_true(de[(t * B + b) * K + k] == 0.0f);
    }
    seqlm_crf_work_free(c.w);
}

static void test_gradients(void **state) {
    (void)state;
    gradients(1.0f, 5);
    gradients(3.0f, 6);
}

/* Scores far apart: the scaled path underflows and must fall back, still exact. */
static void test_extreme_scores(void **state) {
    (void)state;
    crf_case c;
    fill(&c, 7, 2.0f);
    c.trans[1 * K + 2] = -200.0f; /* exp(-200 - M) underflows in float */
    for (int k = 0; k < K * K; k++)
        if (k != 1 * K + 2) c.trans[k] += 60.0f;
    c.emit[0] = 90.0f;
    c.w = seqlm_crf_work_create(T, B, K);
    float de[T * B * K] = {0}, dt[K * K] = {0}, ds[K] = {0}, dn[K] = {0};
    float de2[T * B * K] = {0}, dt2[K * K] = {0}, ds2[K] = {0}, dn2[K] = {0};
    double got =
        seqlm_crf_nll(c.w, c.emit, c.tags, lens, T, B, c.trans, c.start, c.end, 1, de, dt, ds, dn);
    double want = 0;
    for (int b = 0; b < B; b++)
        want += seqlm_crf_nll_logspace(c.emit + b * K, B * K, c.tags + b, B, lens[b], K, c.trans,
                                       c.start, c.end, 1, de2 + b * K, dt2, ds2, dn2);
    assert_true(isfinite(got));
    assert_true(fabs(got - want) < 1e-3 * fmax(1, fabs(want)));
    for (int i = 0; i < T * B * K; i++) assert_true(fabsf(de[i] - de2[i]) < 1e-4f);
    for (int i = 0; i < K * K; i++) assert_true(fabsf(dt[i] - dt2[i]) < 1e-4f);
    seqlm_crf_work_free(c.w);
}

/* Many tags (as Brown's 420): the scaled path agrees with log space. */
static void test_many_tags(void **state) {
    (void)state;
    enum { KK = 60, TT = 12 };
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 3);
    float *emit = malloc(TT * KK * sizeof *emit), trans[KK * KK], st[KK], en[KK];
    int32_t tags[TT], len = TT;
    for (int i = 0; i < TT * KK; i++) emit[i] = (float)(8 * seqlm_rng_uniform(&rng) - 4);
    for (int i = 0; i < KK * KK; i++) trans[i] = (float)(8 * seqlm_rng_uniform(&rng) - 4);
    for (int i = 0; i < KK; i++) st[i] = en[i] = 0;
    for (int t = 0; t < TT; t++) tags[t] = (int32_t)seqlm_rng_below(&rng, KK);
    seqlm_crf_work *w = seqlm_crf_work_create(TT, 1, KK);
    double a = seqlm_crf_nll(w, emit, tags, &len, TT, 1, trans, st, en, 0, NULL, NULL, NULL, NULL);
    double b =
        seqlm_crf_nll_logspace(emit, KK, tags, 1, TT, KK, trans, st, en, 0, NULL, NULL, NULL, NULL);
    print_message("K=60: scaled %.6f, log space %.6f\n", a, b);
    assert_true(fabs(a - b) < 1e-4 * fabs(b));
    seqlm_crf_work_free(w);
    free(emit);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nll_brute), cmocka_unit_test(test_viterbi_brute),
        cmocka_unit_test(test_gradients), cmocka_unit_test(test_extreme_scores),
        cmocka_unit_test(test_many_tags), cmocka_unit_test(test_viterbi_large_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
