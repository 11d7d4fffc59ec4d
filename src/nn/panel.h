/* panel.h - the AVX-512 register kernel shared by the packed evaluation paths (internal).
 *
 * A weight matrix W (cols, K) used as the right operand of out = h W^T is copied once into
 * panels of PANEL_NR = 32 columns, P[panel][k][32] (columns past the end are zero), so that a
 * tile of up to 12 rows x 32 columns is summed in registers with two aligned loads per k and no
 * packing per call. output_pack.c fuses the softmax statistics into its own tile; rnn_pack.c
 * uses panel_gemm for the recurrent products. Other CPUs get the naive reference, which is slow:
 * the callers check panel_have_avx512() and keep their BLAS paths there. */
#ifndef SEQLM_NN_PANEL_H
#define SEQLM_NN_PANEL_H

#include <stddef.h>

enum { PANEL_NR = 32 };

/* 1 when this CPU runs the kernels (AVX-512 F/DQ/VL/BW), or has AVX512_BF16 as well. */
int panel_have_avx512(void);
int panel_have_bf16(void);

/* Number of panels for cols columns. */
static inline size_t panel_count(size_t cols) {
    return (cols + PANEL_NR - 1) / PANEL_NR;
}

/* Packs the rows W[row[q]] (each K floats, row[q] < 0: a zero column) for q < cols into P
 * (panel_count(cols) * K * PANEL_NR floats, 64-byte aligned). */
void panel_pack(const float *W, size_t K, const int *row, size_t cols, float *P);

/* out (rows, npanels * PANEL_NR, row stride ldo) = h (rows, K, row stride ldh) P^T; the
 * register kernel where panel_have_avx512(), panel_gemm_naive elsewhere. A row's result depends
 * only on that row (any rows, any tiling). panel_gemm_naive is the reference it is tested against
 * (sums in double). */
void panel_gemm(const float *h, size_t rows, size_t ldh, size_t K, const float *P, size_t npanels,
                float *out, size_t ldo);
void panel_gemm_naive(const float *h, size_t rows, size_t ldh, size_t K, const float *P,
                      size_t npanels, float *out, size_t ldo);

#endif
