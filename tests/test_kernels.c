/* test_kernels.c - the numeric kernels (seqlm/kernels.h) against their references:
 * seqlm_matmul (CBLAS) against seqlm_matmul_naive for every transpose combination, odd sizes,
 * beta 0 (which must overwrite even NaN) and 1, and row strides wider than the rows (the padding
 * must stay untouched); the activations against libm in double; softmax and log-softmax against a
 * double reference, with huge logits (1e4), rows summing to 1, in place, and thread-count
 * independence. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqlm/kernels.h"
#include "seqlm/rng.h"
#include "testutil.h"

static float *randn(size_t n, seqlm_rng *rng) {
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) x[i] = (float)seqlm_rng_normal(rng);
    return x;
}

/* ---- matmul --------------------------------------------------------------------------------- */

static void check_matmul(int ta, int tb, int M, int N, int K, float alpha, float beta, int pad,
                         seqlm_rng *rng) {
    /* stored shapes: A is (M, K) or (K, M) when ta; B is (K, N) or (N, K) when tb */
    int arows = ta ? K : M, acols = ta ? M : K;
    int brows = tb ? N : K, bcols = tb ? K : N;
    int lda = acols + pad, ldb = bcols + pad, ldc = N + pad;
    float *A = randn((size_t)arows * lda, rng), *B = randn((size_t)brows * ldb, rng);
    float *C0 = randn((size_t)M * ldc, rng);
    if (beta == 0.0f) /* beta 0 must overwrite whatever C holds, NaN included */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C0[(size_t)i * ldc + j] = NAN;
    float *C = malloc((size_t)M * ldc * sizeof *C), *R = malloc((size_t)M * ldc * sizeof *R);
    assert_non_null(C);
    assert_non_null(R);
    memcpy(C, C0, (size_t)M * ldc * sizeof *C);
    memcpy(R, C0, (size_t)M * ldc * sizeof *R);
    seqlm_matmul(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    seqlm_matmul_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            size_t k = (size_t)i * ldc + j;
            if (j >= N) { /* padding: untouched, bit for bit */
                assert_memory_equal(&C[k], &C0[k], sizeof(float));
                continue;
            }
            assert_false(isnan(C[k]));
            double err = fabs((double)C[k] - R[k]) / fmax(1.0, fabs(R[k]));
            if (err > worst) worst = err;
        }
    if (worst > 1e-5)
        printf("matmul ta=%d tb=%d M=%d N=%d K=%d beta=%g pad=%d: rel. error %.2e\n", ta, tb, M, N,
               K, beta, pad, worst);
    assert_true(worst <= 1e-5);
    free(A);
    free(B);
    free(C0);
    free(C);
    free(R);
}

static void test_matmul_vs_naive(void **unused) {
    (void)unused;
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 1);
    static const int sizes[][3] = {{1, 1, 1},   {3, 5, 7},    {7, 13, 5},  {17, 1, 9},
                                   {1, 19, 23}, {33, 17, 65}, {64, 31, 1}, {129, 67, 45}};
    int checked = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int b = 0; b < 2; b++)
                    for (int pad = 0; pad < 6; pad += 5) {
                        check_matmul(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2],
                                     b ? 0.75f : 1.0f, (float)b, pad, &rng);
                        checked++;
                    }
    printf("matmul: %d cases agree with the naive reference (rel. error <= 1e-5)\n", checked);
}

/* ---- activations ----------------------------------------------------------------------------- */

/* The worst error of y against ref in units of FLT_EPSILON * |ref|, with an absolute floor of
 * 1e-37 (the kernels flush results below FLT_MIN to zero). */
static double worst_ulps(const float *y, const double *ref, size_t n, size_t *at) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs(y[i] - ref[i]);
        double ulps = err <= 1e-37 ? 0 : err / (FLT_EPSILON * fabs(ref[i]));
        if (ulps > worst) {
            worst = ulps;
            *at = i;
        }
    }
    return worst;
}

static void test_activations_vs_libm(void **unused) {
    (void)unused;
    /* a dense sweep of [-100, 100], the polynomial/exp switch of tanh at 0.625, tiny values */
    size_t n = 400001 + 8;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    double *ref = malloc(n * sizeof *ref);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(ref);
    for (size_t i = 0; i < 400001; i++) x[i] = (float)(-100.0 + 200.0 * (double)i / 400000.0);
    const float special[8] = {0.0f, -0.0f, 1e-30f, -1e-30f, 0.625f, -0.625f, 1e30f, -1e30f};
    memcpy(x + 400001, special, sizeof special);
    size_t at = 0;

    seqlm_sigmoid(y, x, n);
    for (size_t i = 0; i < n; i++) ref[i] = 1.0 / (1.0 + exp(-(double)x[i]));
    double us = worst_ulps(y, ref, n, &at);
    printf("sigmoid: worst %.2f ulp (x = %g)\n", us, x[at]);
    assert_true(us <= 4.0);

    seqlm_tanh(y, x, n);
    for (size_t i = 0; i < n; i++) ref[i] = tanh((double)x[i]);
    double ut = worst_ulps(y, ref, n, &at);
    printf("tanh:    worst %.2f ulp (x = %g)\n", ut, x[at]);
    assert_true(ut <= 4.0);
    const float *ys = y + 400001;                 /* tanh of the special values */
    assert_true(ys[0] == 0.0f && ys[1] == 0.0f);  /* tanh(+-0) = 0 */
    assert_true(fabsf(ys[2] - 1e-30f) <= 1e-36f); /* tanh(x) = x for tiny x */
    assert_true(ys[6] == 1.0f && ys[7] == -1.0f); /* saturates exactly */

    seqlm_relu(y, x, n);
    for (size_t i = 0; i < n; i++) assert_true(y[i] == (x[i] > 0 ? x[i] : 0.0f));

    /* in place */
    memcpy(y, x, n * sizeof *y);
    seqlm_tanh(y, y, n);
    for (size_t i = 0; i < n; i++) ref[i] = tanh((double)x[i]);
    assert_true(worst_ulps(y, ref, n, &at) <= 4.0);
    free(x);
    free(y);
    free(ref);
}

/* ---- softmax ------------------------------------------------------------------------------- */

static void softmax_ref(double *p, double *logp, const float *x, size_t cols) {
    double mx = x[0], s = 0;
    for (size_t c = 1; c < cols; c++) mx = x[c] > mx ? x[c] : mx;
    for (size_t c = 0; c < cols; c++) s += exp((double)x[c] - mx);
    for (size_t c = 0; c < cols; c++) {
        logp[c] = (double)x[c] - mx - log(s);
        p[c] = exp(logp[c]);
    }
}

/* Compares softmax_rows and log_softmax_rows of x (rows, cols) with the double reference:
 * probabilities to 1e-6 + 1e-5 p, log-probabilities to 1e-5 relative to
 * max(1, |ref|), and every row sums to 1 within 1e-5. */
static void check_softmax(const float *x, size_t rows, size_t cols, const char *label) {
    float *p = malloc(rows * cols * sizeof *p), *lp = malloc(rows * cols * sizeof *lp);
    double *rp = malloc(cols * sizeof *rp), *rl = malloc(cols * sizeof *rl);
    assert_non_null(p);
    assert_non_null(lp);
    assert_non_null(rp);
    assert_non_null(rl);
    seqlm_softmax_rows(p, x, rows, cols);
    seqlm_log_softmax_rows(lp, x, rows, cols);
    double worst_p = 0, worst_lp = 0, worst_sum = 0;
    for (size_t r = 0; r < rows; r++) {
        softmax_ref(rp, rl, x + r * cols, cols);
        double sum = 0;
        for (size_t c = 0; c < cols; c++) {
            float pv = p[r * cols + c], lv = lp[r * cols + c];
            sum += pv;
            if (isinf(rl[c])) { /* a -inf logit: probability 0, log-probability -inf */
                assert_true(pv == 0.0f && lv == -INFINITY);
                continue;
            }
            assert_true(isfinite(pv) && isfinite(lv));
            double ep = fabs(pv - rp[c]) / (1e-6 + 1e-5 * rp[c]); /* <= 1 passes */
            double el = fabs(lv - rl[c]) / fmax(1.0, fabs(rl[c]));
            if (ep > worst_p) worst_p = ep;
            if (el > worst_lp) worst_lp = el;
        }
        if (fabs(sum - 1.0) > worst_sum) worst_sum = fabs(sum - 1.0);
    }
    printf("softmax %-12s rows=%zu cols=%zu: p err %.2f (of 1e-6 + 1e-5 p), log p err %.2e, "
           "|sum - 1| %.2e\n",
           label, rows, cols, worst_p, worst_lp, worst_sum);
    assert_true(worst_p <= 1.0);
    assert_true(worst_lp <= 1e-5);
    assert_true(worst_sum <= 1e-5);
    free(p);
    free(lp);
    free(rp);
    free(rl);
}

static void test_softmax(void **unused) {
    (void)unused;
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 2);
    /* random rows, wide enough to run in parallel */
    size_t rows = 64, cols = 10000;
    float *x = randn(rows * cols, &rng);
    for (size_t i = 0; i < rows * cols; i++) x[i] *= 4.0f;
    check_softmax(x, rows, cols, "random");
    check_softmax(x, 3, 1, "one column");
    check_softmax(x, 5, 7, "narrow");

    /* huge logits: exp(1e4) overflows, the max-subtracted form does not */
    float huge[4][5] = {{1e4f, 1e4f - 1.0f, -1e4f, 0.0f, 1e4f - 30.0f},
                        {-1e4f, -1e4f, -1e4f + 2.0f, -1e4f - 1.0f, -1e4f},
                        {1e4f, -1e4f, 0.0f, 5.0f, -5.0f},
                        {-INFINITY, 1.0f, -INFINITY, 2.0f, 3.0f}};
    check_softmax(&huge[0][0], 4, 5, "huge (1e4)");
    float p[5], lp[5];
    seqlm_softmax_rows(p, huge[2], 1, 5);
    assert_true(p[0] == 1.0f && p[1] == 0.0f);
    seqlm_softmax_rows(p, huge[3], 1, 5);
    assert_true(p[0] == 0.0f && p[2] == 0.0f); /* -inf logits: probability exactly 0 */
    seqlm_log_softmax_rows(lp, huge[2], 1, 5);
    assert_true(fabsf(lp[1] + 2e4f) <= 1.0f); /* log p = -2e4, not -inf */

    /* in place gives the same bits as out of place */
    float *y = malloc(rows * cols * sizeof *y), *z = malloc(rows * cols * sizeof *z);
    assert_non_null(y);
    assert_non_null(z);
    seqlm_softmax_rows(y, x, rows, cols);
    memcpy(z, x, rows * cols * sizeof *z);
    seqlm_softmax_rows(z, z, rows, cols);
    assert_memory_equal(y, z, rows * cols * sizeof *y);
    seqlm_log_softmax_rows(y, x, rows, cols);
    memcpy(z, x, rows * cols * sizeof *z);
    seqlm_log_softmax_rows(z, z, rows, cols);
    assert_memory_equal(y, z, rows * cols * sizeof *y);

    /* the thread count does not change a bit */
    int threads = seqlm_threads();
    seqlm_set_threads(1);
    seqlm_softmax_rows(y, x, rows, cols);
    seqlm_set_threads(2);
    seqlm_softmax_rows(z, x, rows, cols);
    seqlm_set_threads(threads);
    assert_memory_equal(y, z, rows * cols * sizeof *y);
    free(x);
    free(y);
    free(z);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_vs_naive),
        cmocka_unit_test(test_activations_vs_libm),
        cmocka_unit_test(test_softmax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
