/* test_pack.c - the packed evaluation kernels against their references: panel_gemm against
 * panel_gemm_naive, seqlm_output_pack_score against the full log-softmax (fp32) and against
 * bf16-rounded inputs summed in double (bf16), seqlm_stack_pack_forward against
 * seqlm_rnn_stack_forward for every cell. Each also checks that a row's result is the same with
 * 1 and 2 threads and whatever the other rows are. The AVX-512 parts skip, saying so, on CPUs
 * without it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/panel.h"
#include "seqlm/seqlm.h"
#include "testutil.h"

static float *xmalloc(size_t n) {
    float *x = calloc(n ? n : 1, sizeof *x);
    assert_non_null(x);
    return x;
}

static void alloc_params(seqlm_params *p) {
    seqlm_error err;
    assert_int_equal(seqlm_params_alloc(p, &err), SEQLM_OK);
}

/* Every tile height (1..12) and a remainder after full tiles (rows 25), K odd, a partial last
 * panel and zero columns (row -1). */
static void test_panel_gemm(void **unused) {
    (void)unused;
    const size_t K = 37, cols = 70, Wrows = 60;
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 11);
    float *W = xmalloc(Wrows * K);
    seqlm_init_uniform(W, Wrows * K, 1.0f, &rng);
    int row[70];
    for (size_t q = 0; q < cols; q++) row[q] = q % 9 == 4 ? -1 : (int)((q * 7) % Wrows);
    size_t np = panel_count(cols);
    assert_int_equal(np, 3);
    float *P = aligned_alloc(64, np * K * PANEL_NR * sizeof *P);
    assert_non_null(P);
    panel_pack(W, K, row, cols, P);
    const size_t ldh = K + 3, ldo = np * PANEL_NR + 5, R = 25;
    float *h = xmalloc(R * ldh), *out = xmalloc(R * ldo), *ref = xmalloc(R * ldo);
    seqlm_init_uniform(h, R * ldh, 2.0f, &rng);
    double worst = 0;
    for (size_t rows = 1; rows <= R; rows++) {
        panel_gemm(h, rows, ldh, K, P, np, out, ldo);
        panel_gemm_naive(h, rows, ldh, K, P, np, ref, ldo);
        for (size_t r = 0; r < rows; r++)
            for (size_t q = 0; q < np * PANEL_NR; q++) {
                double want = ref[r * ldo + q];
                if (q >= cols || row[q] < 0) assert_true(out[r * ldo + q] == 0.0f);
                double e = fabs(out[r * ldo + q] - want) / (1.0 + fabs(want));
                if (e > worst) worst = e;
            }
    }
    printf("panel_gemm: %s kernel, worst rel. error vs the double reference %.2e\n",
           panel_have_avx512() ? "AVX-512" : "portable", worst);
    assert_true(worst < 2e-6);
    free(W);
    free(P);
    free(h);
    free(out);
    free(ref);
}

/* An output layer (H, V) with a bias that matters; h (N, H) scaled by hs (large logits test the
 * running maximum). */
typedef struct {
    seqlm_params *p;
    seqlm_output o;
    int H, V;
    size_t N;
    float *h;
    int32_t *t;
} out_case;

static void out_case_make(out_case *c, int H, int V, size_t N, float hs, uint64_t seed) {
    seqlm_rng rng;
    seqlm_rng_seed(&rng, seed);
    c->p = seqlm_params_create();
    c->H = H;
    c->V = V;
    c->N = N;
    assert_int_equal(seqlm_output_init(&c->o, c->p, "decoder", H, V, -1, 8), 0);
    alloc_params(c->p);
    seqlm_output_reset(&c->o, c->p, &rng);
    seqlm_init_uniform(seqlm_params_value(c->p, c->o.proj.bias), (size_t)V, 2.0f, &rng);
    c->h = xmalloc(N * (size_t)H);
    seqlm_init_uniform(c->h, N * (size_t)H, hs, &rng);
    c->t = malloc(N * sizeof *c->t);
    assert_non_null(c->t);
    for (size_t n = 0; n < N; n++)
        c->t[n] = n % 7 == 3 ? -100 : (int32_t)(seqlm_rng_next(&rng) % (uint64_t)V);
    if (N > 0) c->t[0] = V - 1; /* the last real column, in the padded last panel */
    if (N > 2) c->t[2] = 0;
}

static void out_case_free(out_case *c) {
    seqlm_output_free(&c->o);
    seqlm_params_free(c->p);
    free(c->h);
    free(c->t);
}

/* Scores with 1 and 2 threads (the same bits) and the rows from 5 on alone (the same bits as in
 * the whole): returns lp (N), caller frees. */
static float *score_checked(const seqlm_output_pack *k, const out_case *c, double *nll) {
    float *lp1 = xmalloc(c->N), *lp2 = xmalloc(c->N), *lp3 = xmalloc(c->N);
    seqlm_set_threads(1);
    double n1 = seqlm_output_pack_score(k, c->h, c->N, c->t, -100, lp1);
    seqlm_set_threads(2);
    double n2 = seqlm_output_pack_score(k, c->h, c->N, c->t, -100, lp2);
    assert_memory_equal(lp1, lp2, c->N * sizeof *lp1);
    assert_true(n1 == n2);
    if (panel_have_avx512()) { /* the BLAS fallback makes no such promise */
        seqlm_output_pack_score(k, c->h + 5 * (size_t)c->H, c->N - 5, c->t + 5, -100, lp3);
        assert_memory_equal(lp1 + 5, lp3, (c->N - 5) * sizeof *lp1);
    }
    for (size_t n = 0; n < c->N; n++)
        if (c->t[n] == -100) assert_true(lp1[n] == 0.0f);
    free(lp2);
    free(lp3);
    *nll = n1;
    return lp1;
}

/* fp32: against the full log-softmax, for V not a multiple of the panel, several chunks of
 * rows (N = 700), an odd H, and logits in the hundreds. */
static void test_output_pack_fp32(void **unused) {
    (void)unused;
    const float scales[2] = {3.0f, 300.0f};
    for (int sc = 0; sc < 2; sc++) {
        out_case c;
        out_case_make(&c, 9, 1300, 700, scales[sc], 4 + (uint64_t)sc);
        seqlm_output_pack *k = seqlm_output_pack_create(&c.o, c.p, SEQLM_PRECISION_FP32);
        assert_non_null(k);
        double nll;
        float *lp = score_checked(k, &c, &nll);
        float *full = xmalloc(c.N * (size_t)c.V);
        seqlm_output_logprobs(&c.o, c.p, c.h, c.N, full);
        double ref = 0, worst = 0;
        for (size_t n = 0; n < c.N; n++) {
            if (c.t[n] == -100) continue;
            float want = full[n * (size_t)c.V + (size_t)c.t[n]];
            ref -= want;
            double e = fabs((double)lp[n] - want) / (1.0 + fabs(want));
            if (e > worst) worst = e;
        }
        printf("output pack fp32 (%s, h scale %g): worst rel. error vs log-softmax %.2e, nll "
               "%.6f vs %.6f\n",
               panel_have_avx512() ? "AVX-512" : "BLAS fallback", (double)scales[sc], worst, nll,
               ref);
        assert_true(worst < 2e-6);
        assert_true(fabs(nll - ref) < 1e-6 * fabs(ref));
        seqlm_output_pack_free(k);
        free(lp);
        free(full);
        out_case_free(&c);
    }
}

static float bf16_round(float f) { /* round to nearest even, as the kernel's inputs */
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* bf16: against the log-softmax of logits made from bf16-rounded h and W in double (what the
 * kernel computes, up to its fp32 sums), and within a loose bound of fp32's. */
static void test_output_pack_bf16(void **unused) {
    (void)unused;
    if (!seqlm_precision_supported(SEQLM_PRECISION_BF16)) {
        printf("SKIP: this CPU has no AVX512_BF16; the bf16 pack is refused, as checked here\n");
        out_case c;
        out_case_make(&c, 9, 100, 20, 1.0f, 1);
        assert_null(seqlm_output_pack_create(&c.o, c.p, SEQLM_PRECISION_BF16));
        out_case_free(&c);
        return;
    }
    out_case c;
    out_case_make(&c, 9, 1300, 700, 3.0f, 9);
    seqlm_output_pack *k = seqlm_output_pack_create(&c.o, c.p, SEQLM_PRECISION_BF16);
    assert_non_null(k);
    double nll;
    float *lp = score_checked(k, &c, &nll);
    const float *W = seqlm_params_value(c.p, c.o.proj.weight);
    const float *b = seqlm_params_value(c.p, c.o.proj.bias);
    double *z = malloc((size_t)c.V * sizeof *z), worst = 0, worst32 = 0;
    assert_non_null(z);
    float *full = xmalloc(c.N * (size_t)c.V);
    seqlm_output_logprobs(&c.o, c.p, c.h, c.N, full);
    for (size_t n = 0; n < c.N; n++) {
        if (c.t[n] == -100) continue;
        double M = -INFINITY, S = 0;
        for (int v = 0; v < c.V; v++) {
            double s = b[v];
            for (int j = 0; j < c.H; j++)
                s += (double)bf16_round(c.h[n * (size_t)c.H + (size_t)j]) *
                     bf16_round(W[(size_t)v * c.H + (size_t)j]);
            z[v] = s;
            if (s > M) M = s;
        }
        for (int v = 0; v < c.V; v++) S += exp(z[v] - M);
        double want = z[c.t[n]] - M - log(S);
        double e = fabs(lp[n] - want) / (1.0 + fabs(want));
        if (e > worst) worst = e;
        double e32 = fabs(lp[n] - full[n * (size_t)c.V + (size_t)c.t[n]]);
        if (e32 > worst32) worst32 = e32;
    }
    printf("output pack bf16: worst rel. error vs bf16 inputs in double %.2e; worst |lp - fp32 "
           "lp| %.2e nats\n",
           worst, worst32);
    assert_true(worst < 2e-6);
    assert_true(worst32 < 0.05);
    free(z);
    free(full);
    free(lp);
    seqlm_output_pack_free(k);
    out_case_free(&c);
}

/* Small and awkward shapes against the full log-softmax: H = 1 (a lone bf16 pair), V below one
 * vector or exactly two panels, N below one tile, one row, no rows; 1 and 2 threads (more
 * threads than tiles). Then a NaN weight: every row's result is NaN, as with
 * seqlm_output_score, not a finite figure that leaves the NaN logit out. */
static void test_output_pack_edges(void **unused) {
    (void)unused;
    const int shapes[][3] = {{1, 100, 5}, {9, 16, 11}, {8, 64, 12}, {3, 10, 1}, {2, 33, 13}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        out_case c;
        out_case_make(&c, shapes[i][0], shapes[i][1], (size_t)shapes[i][2], 3.0f, 20 + i);
        float *full = xmalloc(c.N * (size_t)c.V), *lp1 = xmalloc(c.N), *lp2 = xmalloc(c.N);
        seqlm_output_logprobs(&c.o, c.p, c.h, c.N, full);
        for (int prec = 0; prec < 2; prec++) {
            if (prec == 1 && !seqlm_precision_supported(SEQLM_PRECISION_BF16)) continue;
            seqlm_output_pack *k = seqlm_output_pack_create(&c.o, c.p, (seqlm_precision)prec);
            assert_non_null(k);
            seqlm_set_threads(1);
            double n1 = seqlm_output_pack_score(k, c.h, c.N, c.t, -100, lp1);
            seqlm_set_threads(2);
            double n2 = seqlm_output_pack_score(k, c.h, c.N, c.t, -100, lp2);
            assert_true(n1 == n2);
            assert_memory_equal(lp1, lp2, c.N * sizeof *lp1);
            for (size_t n = 0; n < c.N; n++) {
                if (c.t[n] == -100) continue;
                double want = full[n * (size_t)c.V + (size_t)c.t[n]];
                double e = fabs(lp1[n] - want) / (1.0 + fabs(want));
                if (e > (prec ? 0.05 : 2e-6))
                    fail_msg("H=%d V=%d N=%zu %s row %zu: %.8g vs %.8g", c.H, c.V, c.N,
                             prec ? "bf16" : "fp32", n, (double)lp1[n], want);
            }
            assert_true(seqlm_output_pack_score(k, c.h, 0, c.t, -100, lp1) == 0.0);
            seqlm_output_pack_free(k);
        }
        free(full);
        free(lp1);
        free(lp2);
        out_case_free(&c);
    }
    out_case c;
    out_case_make(&c, 9, 300, 30, 1.0f, 31);
    seqlm_params_value(c.p, c.o.proj.weight)[(size_t)299 * 9] = NAN; /* word 299's row */
    for (size_t n = 0; n < c.N; n++)
        if (c.t[n] == 299) c.t[n] = 298;
    float *lp = xmalloc(c.N), *ref = xmalloc(c.N);
    assert_true(isnan(seqlm_output_score(&c.o, c.p, c.h, c.N, c.t, -100, ref)));
    for (int prec = 0; prec < 2; prec++) {
        if (prec == 1 && !seqlm_precision_supported(SEQLM_PRECISION_BF16)) continue;
        seqlm_output_pack *k = seqlm_output_pack_create(&c.o, c.p, (seqlm_precision)prec);
        assert_true(isnan(seqlm_output_pack_score(k, c.h, c.N, c.t, -100, lp)));
        for (size_t n = 0; n < c.N; n++)
            if (c.t[n] != -100) assert_true(isnan(lp[n]) && isnan(ref[n]));
        seqlm_output_pack_free(k);
    }
    free(lp);
    free(ref);
    out_case_free(&c);
}

/* The stack pack against seqlm_rnn_stack_forward: every cell, 1-3 layers, E != H, B from 1 to
 * 13 (tile heights and a remainder), two windows with the state carried, 1 and 2 threads. */
static void stack_case(seqlm_cell cell, int L, int B, int H, int threads) {
    const int E = 7, T1 = 4, T2 = 3, T = T1 + T2;
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 100 + (uint64_t)cell * 10 + (uint64_t)L);
    seqlm_params *p = seqlm_params_create();
    seqlm_rnn_stack s;
    assert_int_equal(seqlm_rnn_stack_init(&s, p, "rnn", cell, E, H, L, 0, 0.0f), 0);
    alloc_params(p);
    seqlm_rnn_stack_reset(&s, p, &rng);
    size_t LBH = (size_t)L * B * H, TB = (size_t)T * B;
    float *x = xmalloc(TB * E), *h0 = xmalloc(LBH), *c0 = xmalloc(LBH);
    seqlm_init_uniform(x, TB * E, 1.0f, &rng);
    seqlm_init_uniform(h0, LBH, 0.5f, &rng);
    seqlm_init_uniform(c0, LBH, 0.5f, &rng);
    /* the reference: one run of T steps */
    seqlm_stack_cache *sc = seqlm_stack_cache_create(&s, T, B);
    assert_non_null(sc);
    float *yr = xmalloc(TB * H), *hr = xmalloc(LBH), *cr = xmalloc(LBH);
    seqlm_rnn_stack_forward(&s, p, sc, x, T, B, NULL, h0, c0, yr, hr, cr, 0, NULL);
    float *y[2], *hs[2], *cs[2];
    for (int th = 1; th <= 2; th++) {
        seqlm_set_threads(th == 1 ? 1 : threads);
        seqlm_stack_pack *k = seqlm_stack_pack_create(&s, p, T1, B);
        assert_non_null(k);
        float *yy = y[th - 1] = xmalloc(TB * H), *hh = hs[th - 1] = xmalloc(LBH);
        float *cc = cs[th - 1] = xmalloc(LBH);
        memcpy(hh, h0, LBH * sizeof *hh);
        memcpy(cc, c0, LBH * sizeof *cc);
        seqlm_stack_pack_forward(k, x, T1, B, hh, cc, yy);
        seqlm_stack_pack_forward(k, x + (size_t)T1 * B * E, T2, B, hh, cc, yy + (size_t)T1 * B * H);
        seqlm_stack_pack_free(k);
    }
    assert_memory_equal(y[0], y[1], TB * H * sizeof(float));
    assert_memory_equal(hs[0], hs[1], LBH * sizeof(float));
    double ey = max_rel_diff(y[0], yr, TB * H), eh = max_rel_diff(hs[0], hr, LBH);
    double ec = cell == SEQLM_CELL_LSTM ? max_rel_diff(cs[0], cr, LBH) : 0.0;
    if (cell == SEQLM_CELL_LSTM) assert_memory_equal(cs[0], cs[1], LBH * sizeof(float));
    printf("stack pack %s L=%d B=%d H=%d, 1 vs %d threads: max rel. diff y %.1e, h %.1e, c %.1e\n",
           seqlm_cell_name(cell), L, B, H, threads, ey, eh, ec);
    assert_true(ey < 1e-5 && eh < 1e-5 && ec < 1e-5);
    for (int i = 0; i < 2; i++) {
        free(y[i]);
        free(hs[i]);
        free(cs[i]);
    }
    seqlm_stack_cache_free(sc);
    free(x);
    free(h0);
    free(c0);
    free(yr);
    free(hr);
    free(cr);
    seqlm_params_free(p);
}

/* A one-layer LSTM stack that seqlm_stack_pack_create refuses. */
static void assert_not_packed(int bidirectional) {
    seqlm_params *p = seqlm_params_create();
    seqlm_rnn_stack s;
    assert_int_equal(
        seqlm_rnn_stack_init(&s, p, "rnn", SEQLM_CELL_LSTM, 3, 4, 1, bidirectional, 0.0f), 0);
    alloc_params(p);
    assert_null(seqlm_stack_pack_create(&s, p, 2, 2));
    seqlm_params_free(p);
}

static void test_stack_pack(void **unused) {
    (void)unused;
    if (!panel_have_avx512()) {
        printf("SKIP: this CPU has no AVX-512; the stack pack is refused (evaluation keeps the "
               "BLAS steps), as checked here\n");
        assert_not_packed(0);
        return;
    }
    const seqlm_cell cells[4] = {SEQLM_CELL_LSTM, SEQLM_CELL_GRU, SEQLM_CELL_RNN_TANH,
                                 SEQLM_CELL_RNN_RELU};
    for (int i = 0; i < 4; i++) {
        stack_case(cells[i], 1, 1, 19, 2);
        stack_case(cells[i], 2, 13, 19, 2);
        stack_case(cells[i], 3, 5, 19, 2);
    }
    stack_case(SEQLM_CELL_LSTM, 2, 12, 2, 4); /* more threads than units: 2 parts of 1 */
    stack_case(SEQLM_CELL_GRU, 1, 24, 3, 8);
    assert_not_packed(1); /* bidirectional stacks are not packed */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_panel_gemm),       cmocka_unit_test(test_output_pack_fp32),
        cmocka_unit_test(test_output_pack_bf16), cmocka_unit_test(test_output_pack_edges),
        cmocka_unit_test(test_stack_pack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
