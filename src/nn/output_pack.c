/* output_pack.c - perplexity's output layer at the machine's rate: the decoder's weights packed
 * once into the layout of an AVX-512 register kernel, with each row's log-sum-exp made inside the
 * kernel as the logits come out of the registers (see seqlm/nn.h, seqlm_output_pack_*).
 *
 * Evaluating a language model is almost all one product, logits (N, V) = h (N, H) W^T (V, H),
 * of which only two numbers per row are wanted: the target's logit and log sum_j exp(z_j).
 * seqlm_output_score makes it with OpenBLAS in blocks; that packs W again for every block (it
 * has no API to keep a packed operand), writes the logits to memory and reads them back for the
 * exponentials. Here W is packed once per evaluation into panels of NR = 32 columns,
 * P[panel][k][32], and a tile of MR = 12 rows x 32 columns is summed in 24 vector registers:
 *
 *   acc[i][0..1] += broadcast(h[i][k]) * P[panel][k][0..31]        k = 0 .. H-1
 *
 * (about 110 GFLOP/s on one core here, against OpenBLAS's 96-100 for the same product; 170-190
 * on two).
 * With SEQLM_PRECISION_BF16, h and W are rounded to bfloat16 and the kernel is AVX512_BF16's
 * vdpbf16ps, which sums the products of two k at once in fp32 (twice the rate):
 *
 *   acc[i][0..1] += (h[i][2k] P[..][2k] + h[i][2k+1] P[..][2k+1])  k = 0 .. H/2-1
 *
 * Each row keeps, per vector lane l, a running maximum m_l and sum s_l = sum exp(z - m_l) in
 * double: a tile's 32 logits update them (rescaling s_l by exp(m_l - m_l') in the rare lanes whose
 * maximum rises; the vocabulary is in frequency order, so the maximum is found early), and at the
 * end M = max_l m_l, log sum_j exp(z_j) = M + log sum_l s_l exp(m_l - M). A row's result depends
 * only on its own h and the panel order, never on the other rows or the thread count. Padded
 * columns (V rounded up to 32) get a bias of -1e30, so they add exp(-huge) = 0.
 *
 * A NaN among a row's logits makes its result NaN, as in seqlm_output_score (the exponential and
 * the maximum alone would skip it). Without AVX-512 (or on another architecture) the fp32 pack
 * scores through seqlm_output_score; bf16 is then refused. Not here: the full (N, V)
 * log-softmax, training.
 */
#include <float.h>
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/panel.h"
#include "seqlm/kernels.h"
#include "seqlm/nn.h"

enum {
    NR = PANEL_NR, /* columns per panel: two vectors of 16 floats */
    MR = 12,       /* rows per tile: 12 x 2 accumulators */
    CT = 8,        /* tiles per chunk: the chunk's h and row statistics stay in L2 */
    PB = 16        /* panels per block: a block of W (410 KB at H = 200 in fp32) stays in L2 while
                      every tile of the chunk runs over it */
};

#define PAD_BIAS (-1e30f)

struct seqlm_output_pack {
    seqlm_precision prec;
    int kernel;           /* 1: the AVX-512 kernels below; 0: seqlm_output_score */
    int H, V, K2, panels; /* K2: bf16 pairs, ceil(H / 2) */
    const seqlm_output *o;
    const seqlm_params *p;
    float *w;     /* fp32: (panels, H, NR) */
    uint32_t *wb; /* bf16: (panels, K2, NR) pairs, element 2k in the low half */
    float *bias;  /* (panels * NR): the bias, 0 without one, PAD_BIAS beyond V */
};

/* fp32 -> bf16, round to nearest even (NaN stays NaN). */
static uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static uint32_t bf16_pair(const float *x, int k, int n) { /* (x[k], x[k+1]), 0 past n */
    uint32_t lo = to_bf16(x[k]), hi = k + 1 < n ? to_bf16(x[k + 1]) : 0;
    return lo | hi << 16;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_KERNELS 1
#include <immintrin.h>

#define AVX512     __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,fma")))
#define AVX512BF16 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,fma,avx512bf16")))

/* exp(x) on 16 lanes: vexpf of kernels/vmath.h (Cephes' degree-6 polynomial, about 2 ulp),
 * 0 below -87. */
static inline AVX512 __m512 exp16(__m512 x) {
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    __m512 t =
        _mm512_fmadd_ps(xc, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(12582912.0f));
    __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(12582912.0f));
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i e = _mm512_slli_epi32(
        _mm512_add_epi32(_mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4B400000)),
                         _mm512_set1_epi32(127)),
        23);
    __m512 y = _mm512_mul_ps(p, _mm512_castsi512_ps(e));
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_GE_OQ), y);
}

/* One row's 32 logits z0, z1 (bias added) into its lane statistics m (16 floats) and s
 * (16 doubles); the target's logit into *zt when this panel holds it (lane >= 0). */
static inline AVX512 void row_stats(__m512 z0, __m512 z1, float *m, double *s, int lane,
                                    float *zt) {
    __m512 mx = _mm512_loadu_ps(m), t = _mm512_max_ps(z0, z1);
    __m512d s0 = _mm512_loadu_pd(s), s1 = _mm512_loadu_pd(s + 8);
    if (_mm512_cmp_ps_mask(z0, z1, _CMP_UNORD_Q)) { /* a NaN logit: the row's result is NaN */
        _mm512_storeu_pd(s, _mm512_set1_pd(NAN));
        _mm512_storeu_pd(s + 8, _mm512_set1_pd(NAN));
        return;
    }
    if (_mm512_cmp_ps_mask(t, mx, _CMP_GT_OQ)) {
        __m512 mn = _mm512_max_ps(mx, t), r = exp16(_mm512_sub_ps(mx, mn));
        s0 = _mm512_mul_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(r)));
        s1 = _mm512_mul_pd(s1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(r, 1)));
        mx = mn;
        _mm512_storeu_ps(m, mx);
    }
    __m512 e = _mm512_add_ps(exp16(_mm512_sub_ps(z0, mx)), exp16(_mm512_sub_ps(z1, mx)));
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
    _mm512_storeu_pd(s, s0);
    _mm512_storeu_pd(s + 8, s1);
    if (lane >= 0) {
        float z[NR];
        _mm512_storeu_ps(z, z0);
        _mm512_storeu_ps(z + 16, z1);
        *zt = z[lane];
    }
}

/* A tile's statistics after its accumulators: lane[i] is row i's target lane in this panel or
 * -1. */
#define TILE_STATS(acc, bias, m, s, lane, zt)                                                      \
    do {                                                                                           \
        __m512 b0 = _mm512_loadu_ps(bias), b1 = _mm512_loadu_ps((bias) + 16);                      \
        for (int i = 0; i < MR; i++)                                                               \
            row_stats(_mm512_add_ps(acc[i][0], b0), _mm512_add_ps(acc[i][1], b1), (m) + i * 16,    \
                      (s) + i * 16, (lane)[i], (zt) + i);                                          \
    } while (0)

/* fp32 tile: rows h (MR, H) x panel P (H, NR). */
static AVX512 void tile_fp32(const float *h, int H, const float *P, const float *bias, float *m,
                             double *s, const int *lane, float *zt) {
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int k = 0; k < H; k++) {
        __m512 w0 = _mm512_load_ps(P + (size_t)k * NR),
               w1 = _mm512_load_ps(P + (size_t)k * NR + 16);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512 b = _mm512_set1_ps(h[(size_t)i * H + k]);
            acc[i][0] = _mm512_fmadd_ps(b, w0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(b, w1, acc[i][1]);
        }
    }
    TILE_STATS(acc, bias, m, s, lane, zt);
}

/* bf16 tile: row pairs h2 (MR, K2) x panel P (K2, NR) pairs. */
static AVX512BF16 void tile_bf16(const uint32_t *h2, int K2, const uint32_t *P, const float *bias,
                                 float *m, double *s, const int *lane, float *zt) {
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int k = 0; k < K2; k++) {
        __m512bh w0 = (__m512bh)_mm512_load_si512(P + (size_t)k * NR);
        __m512bh w1 = (__m512bh)_mm512_load_si512(P + (size_t)k * NR + 16);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512bh b = (__m512bh)_mm512_set1_epi32((int)h2[(size_t)i * K2 + k]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], b, w0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], b, w1);
        }
    }
    TILE_STATS(acc, bias, m, s, lane, zt);
}
#else
#define HAVE_KERNELS 0
#endif

int seqlm_precision_supported(seqlm_precision prec) {
    return prec == SEQLM_PRECISION_FP32 || (prec == SEQLM_PRECISION_BF16 && panel_have_bf16());
}

seqlm_output_pack *seqlm_output_pack_create(const seqlm_output *o, const seqlm_params *p,
                                            seqlm_precision prec) {
    if (!seqlm_precision_supported(prec)) return NULL;
    seqlm_output_pack *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->prec = prec;
    k->o = o;
    k->p = p;
    k->H = o->H;
    k->V = o->V;
    k->K2 = (o->H + 1) / 2;
    k->panels = (o->V + NR - 1) / NR;
    k->kernel = prec == SEQLM_PRECISION_BF16 || panel_have_avx512();
    if (!k->kernel) return k;
    size_t H = (size_t)k->H, V = (size_t)k->V, K2 = (size_t)k->K2, np = (size_t)k->panels;
    const float *W = seqlm_params_value(p, o->proj.weight);
    const float *b = o->proj.bias >= 0 ? seqlm_params_value(p, o->proj.bias) : NULL;
    k->bias = aligned_alloc(64, np * NR * sizeof *k->bias);
    if (prec == SEQLM_PRECISION_BF16)
        k->wb = aligned_alloc(64, np * K2 * NR * sizeof *k->wb);
    else
        k->w = aligned_alloc(64, np * H * NR * sizeof *k->w);
    if (!k->bias || (!k->w && !k->wb)) {
        seqlm_output_pack_free(k);
        return NULL;
    }
    for (size_t c = 0; c < np * NR; c++) k->bias[c] = c < V ? (b ? b[c] : 0.0f) : PAD_BIAS;
    if (k->w) {
        int *rows = malloc(V * sizeof *rows);
        if (!rows) {
            seqlm_output_pack_free(k);
            return NULL;
        }
        for (size_t v = 0; v < V; v++) rows[v] = (int)v;
        panel_pack(W, H, rows, V, k->w);
        free(rows);
        return k;
    }
    for (size_t pn = 0; pn < np; pn++) /* bf16 pairs: (W[v][2k], W[v][2k+1]) */
        for (size_t j = 0; j < NR; j++) {
            size_t v = pn * NR + j;
            const float *row = v < V ? W + v * H : NULL;
            for (size_t kk = 0; kk < K2; kk++)
                k->wb[(pn * K2 + kk) * NR + j] = row ? bf16_pair(row, (int)(2 * kk), (int)H) : 0;
        }
    return k;
}

void seqlm_output_pack_free(seqlm_output_pack *k) {
    if (!k) return;
    free(k->w);
    free(k->wb);
    free(k->bias);
    free(k);
}

#if HAVE_KERNELS
/* Rows r0 .. r0 + rows - 1 (rows <= CT * MR) with one thread: copies (fp32) or rounds (bf16) the
 * rows into the zero-padded chunk buffer, runs every panel block over every tile, and turns each
 * row's statistics into lp. */
static void score_chunk(const seqlm_output_pack *k, const float *h, size_t r0, size_t rows,
                        const int32_t *targets, int32_t ignore_index, float *lp, void *buf,
                        float *m, double *s, float *zt, int *tpanel) {
    int H = k->H, K2 = k->K2, np = k->panels;
    size_t tiles = (rows + MR - 1) / MR, R = tiles * MR;
    if (k->w) {
        float *hb = buf;
        memcpy(hb, h + r0 * (size_t)H, rows * (size_t)H * sizeof *hb);
        memset(hb + rows * (size_t)H, 0, (R - rows) * (size_t)H * sizeof *hb);
    } else {
        uint32_t *hb = buf;
        for (size_t r = 0; r < R; r++)
            for (int kk = 0; kk < K2; kk++)
                hb[r * (size_t)K2 + (size_t)kk] =
                    r < rows ? bf16_pair(h + (r0 + r) * (size_t)H, 2 * kk, H) : 0;
    }
    for (size_t r = 0; r < R; r++) {
        int32_t t = r < rows ? targets[r0 + r] : ignore_index;
        int real = r < rows && t != ignore_index;
        tpanel[r] = real ? t / NR : -1;
        zt[r] = 0.0f;
        for (int l = 0; l < 16; l++) {
            m[r * 16 + (size_t)l] = -FLT_MAX;
            s[r * 16 + (size_t)l] = 0.0;
        }
    }
    int lane[MR];
    for (int p0 = 0; p0 < np; p0 += PB) {
        int p1 = p0 + PB < np ? p0 + PB : np;
        for (size_t t = 0; t < tiles; t++)
            for (int pn = p0; pn < p1; pn++) {
                size_t r = t * MR;
                for (int i = 0; i < MR; i++) {
                    int32_t y = tpanel[r + (size_t)i] == pn ? targets[r0 + r + (size_t)i] : -1;
                    lane[i] = y >= 0 ? (int)(y % NR) : -1;
                }
                if (k->w)
                    tile_fp32((const float *)buf + r * (size_t)H, H, k->w + (size_t)pn * H * NR,
                              k->bias + (size_t)pn * NR, m + r * 16, s + r * 16, lane, zt + r);
                else
                    tile_bf16((const uint32_t *)buf + r * (size_t)K2, K2,
                              k->wb + (size_t)pn * K2 * NR, k->bias + (size_t)pn * NR, m + r * 16,
                              s + r * 16, lane, zt + r);
            }
    }
    for (size_t r = 0; r < rows; r++) {
        if (tpanel[r] < 0) {
            lp[r0 + r] = 0.0f;
            continue;
        }
        const float *mr = m + r * 16;
        const double *sr = s + r * 16;
        float M = mr[0];
        for (int l = 1; l < 16; l++)
            if (mr[l] > M) M = mr[l];
        double S = 0;
        for (int l = 0; l < 16; l++) S += sr[l] * exp((double)mr[l] - M);
        lp[r0 + r] = (float)((double)(zt[r] - M) - log(S));
    }
}
#endif

double seqlm_output_pack_score(const seqlm_output_pack *k, const float *h, size_t N,
                               const int32_t *targets, int32_t ignore_index, float *lp) {
    if (N == 0) return 0.0;
    if (!k->kernel) return seqlm_output_score(k->o, k->p, h, N, targets, ignore_index, lp);
#if HAVE_KERNELS
    for (size_t n = 0; n < N; n++)
        if (targets[n] != ignore_index && (targets[n] < 0 || targets[n] >= k->V)) return NAN;
    size_t tiles = (N + MR - 1) / MR;
    int nt = seqlm_threads();
    if ((size_t)nt > tiles) nt = (int)tiles;
    size_t per = (tiles + (size_t)nt - 1) / (size_t)nt; /* tiles per thread, contiguous */
    size_t CR = (size_t)CT * MR, hsz = k->w ? (size_t)k->H * 4 : (size_t)k->K2 * 4;
    size_t each =
        CR * 16 * (sizeof(double) + sizeof(float)) + CR * hsz + CR * (sizeof(float) + sizeof(int));
    each = (each + 63) / 64 * 64; /* every thread's block 64-byte aligned */
    char *scratch = aligned_alloc(64, (size_t)nt * each);
    if (!scratch) return NAN;
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int tid = 0; tid < nt; tid++) {
        char *base = scratch + (size_t)tid * each;
        double *s = (double *)(void *)base;
        float *m = (float *)(void *)(base + CR * 16 * sizeof(double));
        void *buf = base + CR * 16 * (sizeof(double) + sizeof(float));
        float *zt = (float *)(void *)((char *)buf + CR * hsz);
        int *tpanel = (int *)(void *)(zt + CR);
        size_t t0 = (size_t)tid * per, t1 = t0 + per < tiles ? t0 + per : tiles;
        for (size_t t = t0; t < t1; t += CT) {
            size_t r0 = t * MR, r1 = (t + CT < t1 ? t + CT : t1) * MR;
            if (r1 > N) r1 = N;
            score_chunk(k, h, r0, r1 - r0, targets, ignore_index, lp, buf, m, s, zt, tpanel);
        }
    }
    free(scratch);
    double nll = 0;
    for (size_t n = 0; n < N; n++)
        if (targets[n] != ignore_index) nll -= lp[n]; /* the sum of what callers see, exactly */
    return nll;
#else
    return NAN;
#endif
}
