/* clip.c - gradient clipping: by global L2 norm (torch.nn.utils.clip_grad_norm_, norm_type 2)
 * and by value (clip_grad_value_). One flat gradient array; not other norm types.
 *
 * The squared norm is summed in double over fixed-size chunks whose partial sums are then added
 * in order, so the norm does not depend on the number of threads. */
#include <math.h>

#include "seqlm/optim.h"

#define MAX_PARTS 256
#define MIN_PART  4096

double seqlm_clip_grad_norm(float *grads, size_t n, double max_norm) {
    /* the split depends on n only */
    size_t part = (n + MAX_PARTS - 1) / MAX_PARTS;
    if (part < MIN_PART) part = MIN_PART;
    size_t parts = (n + part - 1) / part;
    double sums[MAX_PARTS];
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (parts > 1)
#endif
    for (size_t c = 0; c < parts; c++) {
        size_t lo = c * part, hi = lo + part < n ? lo + part : n;
        /* four running sums (i mod 4), to break the chain of dependent additions */
        double s[4] = {0, 0, 0, 0};
        size_t i = lo;
        for (; i + 4 <= hi; i += 4)
            for (int r = 0; r < 4; r++) s[r] += (double)grads[i + r] * grads[i + r];
        for (; i < hi; i++) s[0] += (double)grads[i] * grads[i];
        sums[c] = (s[0] + s[1]) + (s[2] + s[3]);
    }
    double total = 0;
    for (size_t c = 0; c < parts; c++) total += sums[c];
    double norm = sqrt(total);

    /* torch multiplies by min(1, coef); only a coefficient below 1 changes anything. An infinite
     * norm gives 0 (and inf * 0 = NaN gradients, as in torch): callers check the norm. */
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1) {
        float cf = (float)coef;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n > 65536)
#endif
        for (size_t i = 0; i < n; i++) grads[i] *= cf;
    }
    return norm;
}

void seqlm_clip_grad_value(float *grads, size_t n, float v) {
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        grads[i] = g < -v ? -v : g > v ? v : g; /* NaN stays NaN, as torch.clamp */
    }
}
