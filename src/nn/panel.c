/* panel.c - the packed-panel product of panel.h: out = h P^T in tiles of up to 12 rows x 32
 * columns held in 24 AVX-512 registers (k outer, rows inner: per k two loads of the panel and one
 * broadcast per row). One function per tile height, so that a step of a batch-10 recurrence or
 * a single row (batch 1) wastes no work on padding rows. */
#include <string.h>

#include "nn/panel.h"

void panel_pack(const float *W, size_t K, const int *row, size_t cols, float *P) {
    size_t np = panel_count(cols);
    for (size_t pn = 0; pn < np; pn++)
        for (size_t j = 0; j < PANEL_NR; j++) {
            size_t q = pn * PANEL_NR + j;
            const float *w = q < cols && row[q] >= 0 ? W + (size_t)row[q] * K : NULL;
            for (size_t k = 0; k < K; k++) P[(pn * K + k) * PANEL_NR + j] = w ? w[k] : 0.0f;
        }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,fma")))

int panel_have_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
}

int panel_have_bf16(void) {
    return panel_have_avx512() && __builtin_cpu_supports("avx512bf16");
}

/* tile_R: out (R, 32) = h (R, K) P^T for one panel P (K, 32). */
#define DEFINE_TILE(R)                                                                             \
    static AVX512 void tile_##R(const float *h, size_t ldh, size_t K, const float *P, float *out,  \
                                size_t ldo) {                                                      \
        __m512 acc[R][2];                                                                          \
        _Pragma("GCC unroll 12") for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] =               \
            _mm512_setzero_ps();                                                                   \
        for (size_t k = 0; k < K; k++) {                                                           \
            __m512 w0 = _mm512_load_ps(P + k * PANEL_NR);                                          \
            __m512 w1 = _mm512_load_ps(P + k * PANEL_NR + 16);                                     \
            _Pragma("GCC unroll 12") for (int i = 0; i < R; i++) {                                 \
                __m512 b = _mm512_set1_ps(h[(size_t)i * ldh + k]);                                 \
                acc[i][0] = _mm512_fmadd_ps(b, w0, acc[i][0]);                                     \
                acc[i][1] = _mm512_fmadd_ps(b, w1, acc[i][1]);                                     \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 12") for (int i = 0; i < R; i++) {                                     \
            _mm512_storeu_ps(out + (size_t)i * ldo, acc[i][0]);                                    \
            _mm512_storeu_ps(out + (size_t)i * ldo + 16, acc[i][1]);                               \
        }                                                                                          \
    }
DEFINE_TILE(1)
DEFINE_TILE(2)
DEFINE_TILE(3)
DEFINE_TILE(4)
DEFINE_TILE(5)
DEFINE_TILE(6)
DEFINE_TILE(7)
DEFINE_TILE(8)
DEFINE_TILE(9)
DEFINE_TILE(10)
DEFINE_TILE(11)
DEFINE_TILE(12)

typedef void (*tile_fn)(const float *, size_t, size_t, const float *, float *, size_t);
static const tile_fn tiles[13] = {NULL,   tile_1, tile_2, tile_3,  tile_4,  tile_5, tile_6,
                                  tile_7, tile_8, tile_9, tile_10, tile_11, tile_12};

void panel_gemm(const float *h, size_t rows, size_t ldh, size_t K, const float *P, size_t npanels,
                float *out, size_t ldo) {
    if (!panel_have_avx512()) { /* an x86-64 CPU without AVX-512 */
        panel_gemm_naive(h, rows, ldh, K, P, npanels, out, ldo);
        return;
    }
    for (size_t r0 = 0; r0 < rows; r0 += 12) {
        size_t r = rows - r0 < 12 ? rows - r0 : 12;
        for (size_t pn = 0; pn < npanels; pn++)
            tiles[r](h + r0 * ldh, ldh, K, P + pn * K * PANEL_NR, out + r0 * ldo + pn * PANEL_NR,
                     ldo);
    }
}
#else
int panel_have_avx512(void) {
    return 0;
}
int panel_have_bf16(void) {
    return 0;
}
void panel_gemm(const float *h, size_t rows, size_t ldh, size_t K, const float *P, size_t npanels,
                float *out, size_t ldo) {
    panel_gemm_naive(h, rows, ldh, K, P, npanels, out, ldo);
}
#endif

/* The reference: each output a plain k-ordered sum in double. */
void panel_gemm_naive(const float *h, size_t rows, size_t ldh, size_t K, const float *P,
                      size_t npanels, float *out, size_t ldo) {
    for (size_t r = 0; r < rows; r++)
        for (size_t q = 0; q < npanels * PANEL_NR; q++) {
            const float *w = P + q / PANEL_NR * K * PANEL_NR + q % PANEL_NR;
            double s = 0;
            for (size_t k = 0; k < K; k++) s += (double)h[r * ldh + k] * w[k * PANEL_NR];
            out[r * ldo + q] = (float)s;
        }
}
