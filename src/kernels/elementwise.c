/* elementwise.c - activations and row softmax (see seqlm/kernels.h).
 *
 * libm's expf and tanhf are calls the compiler cannot vectorise, and they are the whole cost of
 * these kernels. So exp, tanh and sigmoid are computed here by Cephes' polynomial
 * approximations, written without calls or branches so that `omp simd` loops vectorise them;
 * they are within a few ulp of libm (tests/test_kernels.c checks against libm in double).
 * The sums of exponentials (in double) are `omp simd` reductions: their order depends on the
 * vector width of the code the CPU runs (see SIMD_CLONES), never on the thread count.
 * Not here: matrix products (matmul.c), fused softmax + cross-entropy (src/nn/layers.c).
 */
#include <math.h>
#include <stdint.h>

#include "kernels/vmath.h"
#include "seqlm/kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Elementwise loops run in parallel only above this many elements. */
#define PAR_MIN 131072

/* Spans of elementwise work. Cut into blocks of this many elements for the threads. */
#define SPAN 16384

static SIMD_CLONES void sigmoid_span(float *y, const float *x, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) y[i] = vsigmoidf(x[i]);
}

static SIMD_CLONES void tanh_span(float *y, const float *x, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) y[i] = vtanhf(x[i]);
}

/* f over n elements, in blocks of SPAN run in parallel when n is large. */
static void spans(void (*f)(float *, const float *, size_t), float *y, const float *x, size_t n) {
    if (n <= PAR_MIN) {
        f(y, x, n);
        return;
    }
    long nb = (long)((n + SPAN - 1) / SPAN);
#pragma omp parallel for schedule(static)
    for (long b = 0; b < nb; b++) {
        size_t i = (size_t)b * SPAN;
        f(y + i, x + i, n - i < SPAN ? n - i : SPAN);
    }
}

void seqlm_sigmoid(float *y, const float *x, size_t n) {
    spans(sigmoid_span, y, x, n);
}

void seqlm_tanh(float *y, const float *x, size_t n) {
    spans(tanh_span, y, x, n);
}

void seqlm_relu(float *y, const float *x, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
}

/* softmax(x)_c = exp(x_c - m) / sum_j exp(x_j - m) with m = max_j x_j: every exponent is <= 0,
 * so nothing overflows, and the largest term is 1, so the sum is >= 1. */
static SIMD_CLONES void softmax_row(float *y, const float *x, size_t cols) {
    float mx = row_max(x, cols);
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (size_t c = 0; c < cols; c++) {
        float e = vexpf(x[c] - mx);
        y[c] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
#pragma omp simd
    for (size_t c = 0; c < cols; c++) y[c] *= inv;
}

/* log softmax(x)_c = (x_c - m) - log sum_j exp(x_j - m), subtracting m first: x_c - m is exact
 * near the maximum, where x_c - (m + log S) would round at the scale of |m|. */
static SIMD_CLONES void log_softmax_row(float *y, const float *x, size_t cols) {
    float mx = row_max(x, cols);
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (size_t c = 0; c < cols; c++) sum += vexpf(x[c] - mx);
    float ls = (float)log(sum);
#pragma omp simd
    for (size_t c = 0; c < cols; c++) y[c] = (x[c] - mx) - ls;
}

void seqlm_softmax_rows(float *y, const float *x, size_t rows, size_t cols) {
    if (cols == 0) return;
#pragma omp parallel for schedule(static) if (rows * cols > PAR_MIN)
    for (size_t r = 0; r < rows; r++) softmax_row(y + r * cols, x + r * cols, cols);
}

void seqlm_log_softmax_rows(float *y, const float *x, size_t rows, size_t cols) {
    if (cols == 0) return;
#pragma omp parallel for schedule(static) if (rows * cols > PAR_MIN)
    for (size_t r = 0; r < rows; r++) log_softmax_row(y + r * cols, x + r * cols, cols);
}

int seqlm_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void seqlm_set_threads(int n) {
#ifdef _OPENMP
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}
