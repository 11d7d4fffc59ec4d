/* elementwise.c - activations and row softmax (see seqlm/kernels.h). */
#include <math.h>

#include "seqlm/kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

void seqlm_sigmoid(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

void seqlm_tanh(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

void seqlm_relu(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
}

void seqlm_softmax_rows(float *y, const float *x, size_t rows, size_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float mx = xr[0];
        for (size_t c = 1; c < cols; c++) mx = xr[c] > mx ? xr[c] : mx;
        double sum = 0;
        for (size_t c = 0; c < cols; c++) {
            yr[c] = expf(xr[c] - mx);
            sum += yr[c];
        }
        float inv = (float)(1.0 / sum);
        for (size_t c = 0; c < cols; c++) yr[c] *= inv;
    }
}

void seqlm_log_softmax_rows(float *y, const float *x, size_t rows, size_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float mx = xr[0];
        for (size_t c = 1; c < cols; c++) mx = xr[c] > mx ? xr[c] : mx;
        double sum = 0;
        for (size_t c = 0; c < cols; c++) sum += exp((double)(xr[c] - mx));
        float lse = mx + (float)log(sum);
        for (size_t c = 0; c < cols; c++) yr[c] = xr[c] - lse;
    }
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
