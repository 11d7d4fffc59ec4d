/* mix.c - the scalar mix of ELMo's layers (Peters et al. 2018, eq. 1; AllenNLP's ScalarMix
 * without layer normalisation): out = gamma * sum_k softmax(s)_k h_k, trained with the task.
 *
 * Backward, with w = softmax(s), m = sum_k w_k h_k (so out = gamma m) and e_k = <dout, h_k>:
 *     dgamma = <dout, m> = sum_k w_k e_k
 *     dw_k   = gamma e_k,   ds_k = w_k (dw_k - sum_j w_j dw_j)     (the softmax's Jacobian)
 *     dh_k   = gamma w_k dout
 * The inner products run over all N*D values, in double. Not here: the layers themselves
 * (model.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "seqlm/elmo.h"
#include "util/assert.h"

int seqlm_scalar_mix_init(seqlm_scalar_mix *m, seqlm_params *p, const char *prefix, int K) {
    char name[SEQLM_PARAM_NAME_MAX];
    if (K < 1 || K > 64) return -1;
    m->K = K;
    int n = snprintf(name, sizeof name, "%s.scalar_parameters", prefix);
    if (n < 0 || (size_t)n >= sizeof name) return -1;
    m->s = seqlm_params_add(p, name, 1, (int64_t[]){K});
    n = snprintf(name, sizeof name, "%s.gamma", prefix);
    if (n < 0 || (size_t)n >= sizeof name) return -1;
    m->gamma = seqlm_params_add(p, name, 1, (int64_t[]){1});
    return m->s < 0 || m->gamma < 0 ? -1 : 0;
}

void seqlm_scalar_mix_reset(const seqlm_scalar_mix *m, seqlm_params *p) {
    memset(seqlm_params_value(p, m->s), 0, (size_t)m->K * sizeof(float));
    seqlm_params_value(p, m->gamma)[0] = 1.0f;
}

/* w = softmax(s) over K values, in double then rounded. */
static void softmax(const float *s, int K, float *w) {
    double mx = s[0], z = 0;
    for (int k = 1; k < K; k++) mx = fmax(mx, s[k]);
    for (int k = 0; k < K; k++) z += exp((double)s[k] - mx);
    for (int k = 0; k < K; k++) w[k] = (float)(exp((double)s[k] - mx) / z);
}

void seqlm_scalar_mix_fixed(const float *w, int K, float gamma, const float *layers, size_t N,
                            int D, float *out) {
    size_t M = N * (size_t)D;
    for (size_t i = 0; i < M; i++) {
        float acc = 0.0f;
        for (int k = 0; k < K; k++) acc += w[k] * layers[(size_t)k * M + i];
        out[i] = gamma * acc;
    }
}

void seqlm_scalar_mix_forward(const seqlm_scalar_mix *m, const seqlm_params *p, const float *layers,
                              size_t N, int D, float *out) {
    SEQLM_ASSERT(m->K >= 1 && m->K <= 64);
    float w[64];
    softmax(seqlm_params_value(p, m->s), m->K, w);
    seqlm_scalar_mix_fixed(w, m->K, seqlm_params_value(p, m->gamma)[0], layers, N, D, out);
}

void seqlm_scalar_mix_backward(const seqlm_scalar_mix *m, seqlm_params *p, const float *layers,
                               size_t N, int D, const float *dout, float *dlayers) {
    SEQLM_ASSERT(m->K >= 1 && m->K <= 64);
    const int K = m->K;
    const size_t M = N * (size_t)D;
    float w[64];
    double dw[64], sum = 0, dgamma = 0;
    softmax(seqlm_params_value(p, m->s), K, w);
    const float gamma = seqlm_params_value(p, m->gamma)[0];
    for (int k = 0; k < K; k++) {
        const float *h = layers + (size_t)k * M;
        double acc = 0;
        for (size_t i = 0; i < M; i++) acc += (double)dout[i] * h[i];
        dw[k] = gamma * acc;
        dgamma += w[k] * acc;
        sum += w[k] * dw[k];
    }
    float *ds = seqlm_params_grad(p, m->s);
    for (int k = 0; k < K; k++) ds[k] += (float)(w[k] * (dw[k] - sum));
    seqlm_params_grad(p, m->gamma)[0] += (float)dgamma;
    if (dlayers)
        for (int k = 0; k < K; k++) {
            float c = gamma * w[k], *dh = dlayers + (size_t)k * M;
            for (size_t i = 0; i < M; i++) dh[i] += c * dout[i];
        }
}
