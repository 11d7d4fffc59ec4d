/* seqlm/kernels.h - the numeric kernels every layer is written with.
 *
 * Row-major fp32. seqlm_matmul goes to CBLAS (OpenBLAS); seqlm_matmul_naive is the reference it
 * is tested against. Elementwise kernels work in place when y == x. Softmax kernels are
 * numerically stable (max subtracted) and accumulate in double. OpenMP parallelises outer loops
 * where the work is large enough; results do not depend on the thread count unless a function
 * says so. */
#ifndef SEQLM_KERNELS_H
#define SEQLM_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* C (M x N) = alpha * op(A) * op(B) + beta * C, where op(A) is M x K (A is K x M when ta) and
 * op(B) is K x N (B is N x K when tb); lda/ldb/ldc are the row strides of A, B, C as stored.
 * beta = 0 overwrites C (even NaN); beta = 1 accumulates, as backward passes do. */
void seqlm_matmul(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc);
void seqlm_matmul_naive(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc);

void seqlm_sigmoid(float *y, const float *x, size_t n);
void seqlm_tanh(float *y, const float *x, size_t n);
void seqlm_relu(float *y, const float *x, size_t n);

/* Each row of x (rows x cols) to its softmax / log-softmax in y. */
void seqlm_softmax_rows(float *y, const float *x, size_t rows, size_t cols);
void seqlm_log_softmax_rows(float *y, const float *x, size_t rows, size_t cols);

/* The arithmetic of the evaluation kernels (seqlm_output_pack_*, seqlm_lm_eval):
 * SEQLM_PRECISION_FP32 is fp32 throughout (the default; the model files' precision);
 * SEQLM_PRECISION_BF16 rounds the output layer's inputs and weights to bfloat16 (8 significant
 * bits) and sums their products in fp32: twice the rate on CPUs with AVX512_BF16; a trained
 * LSTM's log-probabilities move by 0.003 nats on average (0.04 at most on PTB test), its
 * perplexity by about 0.005% (docs/eval.md). */
typedef enum { SEQLM_PRECISION_FP32 = 0, SEQLM_PRECISION_BF16 = 1 } seqlm_precision;
/* 1 when this CPU (and build) can compute in prec: fp32 always, bf16 with AVX512_BF16. */
int seqlm_precision_supported(seqlm_precision prec);

/* Number of threads the kernels may use (OpenMP), and setting it (<= 0: all cores). */
int seqlm_threads(void);
void seqlm_set_threads(int n);

#ifdef __cplusplus
}
#endif
#endif
