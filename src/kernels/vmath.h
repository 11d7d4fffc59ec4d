/* vmath.h - vectorisable exp, sigmoid, tanh and row maximum, and the SIMD_CLONES attribute
 * (internal).
 *
 * libm's expf and tanhf are calls the compiler cannot vectorise, and they are the whole cost of
 * the softmax and of the recurrent gates. These are Cephes' polynomial approximations written
 * without calls or branches, so that `omp simd` loops vectorise them; they are within a few ulp
 * of libm (tests/test_kernels.c checks them against libm in double). Shared by
 * src/kernels/elementwise.c, src/nn/layers.c (softmax + cross-entropy) and the recurrent cells.
 */
#ifndef SEQLM_VMATH_H
#define SEQLM_VMATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Functions marked SIMD_CLONES are compiled three times, for x86-64-v4 (AVX-512), x86-64-v3
 * (AVX2) and the baseline (SSE2), and the loader picks one for the CPU (GCC/clang target_clones,
 * an ELF ifunc): 16 or 8 lanes instead of 4 make the exponentials 2-3x faster. The clones agree
 * to rounding (a sum's order follows the vector width, and a compiler may fuse multiply-adds in
 * the newer ones); none of them depends on the thread count. */
/* -DSIMD_CLONES= builds one version only: the baseline (to test it on any CPU), or, as the
 * default CMake build does (SEQLM_NATIVE), everything for the build machine's CPU. */
#ifndef SIMD_CLONES
#if defined(__x86_64__) && defined(__linux__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#endif
#ifndef SIMD_CLONES
#define SIMD_CLONES
#endif

typedef union {
    float f;
    int32_t i;
} fbits;

/* m ? a : b through the bits. A plain ?: lets the compiler move arithmetic into one arm, and
 * arithmetic that runs on only some lanes may trap (-ftrapping-math), so the loop would not be
 * vectorised; this form always computes both. */
static inline float blend(int m, float a, float b) {
    fbits A = {a}, B = {b}, r;
    int32_t mask = -(int32_t)(m != 0);
    r.i = (A.i & mask) | (B.i & ~mask);
    return r.f;
}

/* exp(x) for x <= 88: x = n ln2 + r with |r| <= ln2/2, exp(r) by Cephes' degree-6 minimax
 * polynomial, 2^n put into the exponent bits. About 2 ulp; exp(x) for x < -87 (below FLT_MIN) is
 * 0. */
static inline float vexpf(float x) {
    float xc = blend(x < -87.0f, -87.0f, blend(x > 88.0f, 88.0f, x));
    /* round(x / ln2) by the 1.5 * 2^23 trick: the integer lands in the low mantissa bits */
    float t = xc * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = xc - n * 0.693359375f - n * -2.12194440e-4f; /* ln2 = 0.693359375 - 2.1219e-4 */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    fbits tb = {t}, pow2;
    /* 2^n, n in [-126, 127]; in unsigned arithmetic, so that a NaN x (whose t is NaN) gives
     * garbage bits rather than a signed overflow */
    pow2.i = (int32_t)(((uint32_t)tb.i - 0x4B400000u + 127u) << 23);
    return blend(x < -87.0f, 0.0f, p * pow2.f);
}

/* sigmoid(x) = 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) otherwise, with e = exp(-|x|) <= 1
 * so that neither form overflows or loses relative accuracy in the tails. */
static inline float vsigmoidf(float x) {
    float e = vexpf(-fabsf(x));
    float s = 1.0f / (1.0f + e);
    return blend(x >= 0.0f, s, e * s);
}

/* tanh: Cephes' odd polynomial x + x^3 P(x^2) for |x| < 0.625, where 1 - 2/(e^2|x| + 1) would
 * cancel, and that form (with the sign of x) elsewhere; tanh(x) = +-1 in float beyond |x| = 9.
 * The polynomial is evaluated at x clamped to the small range so it stays finite everywhere. */
static inline float vtanhf(float x) {
    float ax = fabsf(x);
    float xs = blend(ax < 0.625f, x, 0.0f);
    float z = xs * xs;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * xs + xs;
    float big = copysignf(1.0f - 2.0f / (vexpf(2.0f * ax) + 1.0f), x);
    return blend(ax < 0.625f, small, big);
}

/* max_j z_j (V >= 1). Eight running maxima, lane by lane, vectorise with any compiler; a max
 * reduction (omp simd reduction(max)) vectorises with GCC but not with clang. */
static inline float row_max(const float *z, size_t V) {
    float acc[8], m = z[0];
    size_t j = 0;
    for (int k = 0; k < 8; k++) acc[k] = m;
    for (; j + 8 <= V; j += 8)
#pragma omp simd
        for (int k = 0; k < 8; k++) acc[k] = z[j + k] > acc[k] ? z[j + k] : acc[k];
    for (int k = 0; k < 8; k++) m = acc[k] > m ? acc[k] : m;
    for (; j < V; j++) m = z[j] > m ? z[j] : m;
    return m;
}

#endif
