/* crf.c - the linear-chain CRF: negative log-likelihood with gradients, and Viterbi decoding.
 *
 * score(y) = start[y_1] + sum_t emit[t][y_t] + sum_{t>1} trans[y_{t-1}][y_t] + end[y_n],
 * p(y | x) = exp(score(y)) / Z, Z = sum over all K^n tag sequences.
 *
 * The forward algorithm runs in scaled probability space so that each step is one matrix
 * product for the whole batch (with 420 Brown tags a log-space logsumexp would cost K^2 exps a
 * token). With E = exp(trans - M), M = max trans:
 *   a_1(j) = exp(start_j + emit_1j - m_1)             m_1 = max_j (start_j + emit_1j)
 *   u_t = ahat_{t-1} E,  a_t(j) = u_t(j) exp(emit_tj - m_t)    m_t = max_j emit_tj   (t > 1)
 *   c_t = sum_j a_t(j), ahat_t = a_t / c_t,  log C_t = log c_t + m_t (+ M for t > 1)
 *   log Z = sum_t log C_t + Me + log S,  S = sum_j ahat_n(j) exp(end_j - Me)
 * (the log scales summed in double). Backward with the same scales, bhat_t(j) = beta_t(j)
 * prod_{s<=t} C_s / Z, so that the marginal P(y_t = j) = ahat_t(j) bhat_t(j):
 *   bhat_n(j) = exp(end_j - Me) / S
 *   v_t(j) = exp(emit_tj - m_t) bhat_t(j) / c_t,   bhat_{t-1} = v_t E^T
 *   P(y_{t-1} = i, y_t = j) = ahat_{t-1}(i) E_ij v_t(j)
 * Gradients of log Z: emit -> marginals, start -> P(y_1), end -> P(y_n), trans -> the pair
 * marginals summed over t: (sum_t ahat_{t-1}^T v_t) .* E, one matrix product over all steps.
 * Minus the gold sequence's indicator counts gives the NLL's gradient. A sequence whose scales
 * underflow (c_t tiny) or whose backward overflows is redone in double log space
 * (seqlm_crf_nll_logspace), which is also the reference the tests hold the fast path to.
 *
 * Not here: the emission scores (tagger.c), any constraint on tag transitions. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seqlm/kernels.h"
#include "seqlm/tag.h"
#include "util/assert.h"

struct seqlm_crf_work {
    int T_max, B_max, K;
    float *alpha; /* (T_max, B_max, K) ahat */
    float *v;     /* (T_max, B_max, K) v_t (rows of finished / bad sequences zero) */
    float *marg;  /* (T_max, B_max, K) marginals */
    float *u;     /* (B_max, K) */
    float *E;     /* (K, K) */
    float *G;     /* (K, K) */
    float *c, *m; /* (T_max, B_max) scales */
    double *logz; /* (B_max) */
    float *S;     /* (B_max) */
    uint8_t *bad; /* (B_max) */
    int32_t *bp;  /* (T_max, B_max, K) Viterbi back pointers */
    float *delta; /* (2, B_max, K) */
};

seqlm_crf_work *seqlm_crf_work_create(int T_max, int B_max, int K) {
    seqlm_crf_work *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    size_t tbk = (size_t)T_max * B_max * K, tb = (size_t)T_max * B_max;
    w->T_max = T_max;
    w->B_max = B_max;
    w->K = K;
    w->alpha = malloc(tbk * sizeof(float));
    w->v = malloc(tbk * sizeof(float));
    w->marg = malloc(tbk * sizeof(float));
    w->u = malloc((size_t)B_max * K * sizeof(float));
    w->E = malloc((size_t)K * K * sizeof(float));
    w->G = malloc((size_t)K * K * sizeof(float));
    w->c = malloc(tb * sizeof(float));
    w->m = malloc(tb * sizeof(float));
    w->logz = malloc((size_t)B_max * sizeof(double));
    w->S = malloc((size_t)B_max * sizeof(float));
    w->bad = malloc((size_t)B_max);
    w->bp = malloc(tbk * sizeof(int32_t));
    w->delta = malloc(2 * (size_t)B_max * K * sizeof(float));
    if (!w->alpha || !w->v || !w->marg || !w->u || !w->E || !w->G || !w->c || !w->m || !w->logz ||
        !w->S || !w->bad || !w->bp || !w->delta) {
        seqlm_crf_work_free(w);
        return NULL;
    }
    return w;
}

void seqlm_crf_work_free(seqlm_crf_work *w) {
    if (!w) return;
    free(w->alpha);
    free(w->v);
    free(w->marg);
    free(w->u);
    free(w->E);
    free(w->G);
    free(w->c);
    free(w->m);
    free(w->logz);
    free(w->S);
    free(w->bad);
    free(w->bp);
    free(w->delta);
    free(w);
}

/* The gold sequence's score, and (with scale != 0 and demit) minus its indicator counts. */
static double gold_score(const float *emit, int stride, const int32_t *tags, int tstride, int n,
                         int K, const float *trans, const float *start, const float *end,
                         float scale, float *demit, float *dtrans, float *dstart, float *dend) {
    double s = start[tags[0]] + end[tags[(size_t)(n - 1) * tstride]];
    for (int t = 0; t < n; t++) {
        int y = tags[(size_t)t * tstride];
        s += emit[(size_t)t * stride + y];
        if (t) s += trans[tags[(size_t)(t - 1) * tstride] * K + y];
    }
    if (demit) {
        dstart[tags[0]] -= scale;
        dend[tags[(size_t)(n - 1) * tstride]] -= scale;
        for (int t = 0; t < n; t++) {
            int y = tags[(size_t)t * tstride];
            demit[(size_t)t * stride + y] -= scale;
            if (t) dtrans[tags[(size_t)(t - 1) * tstride] * K + y] -= scale;
        }
    }
    return s;
}

static double lse(const double *x, int n) {
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < n; i++)
        if (x[i] > mx) mx = x[i];
    if (mx == -INFINITY) return mx;
    for (int i = 0; i < n; i++) s += exp(x[i] - mx);
    return mx + log(s);
}

double seqlm_crf_nll_logspace(const float *emit, int stride, const int32_t *tags, int tstride,
                              int n, int K, const float *trans, const float *start,
                              const float *end, float scale, float *demit, float *dtrans,
                              float *dstart, float *dend) {
    double *la = malloc((size_t)n * K * sizeof(double)),
           *lb = malloc((size_t)n * K * sizeof(double));
    double *tmp = malloc((size_t)K * sizeof(double));
    SEQLM_ASSERT(la && lb && tmp);
    for (int j = 0; j < K; j++) la[j] = (double)start[j] + emit[j];
    for (int t = 1; t < n; t++)
        for (int j = 0; j < K; j++) {
            for (int i = 0; i < K; i++) tmp[i] = la[(size_t)(t - 1) * K + i] + trans[i * K + j];
            la[(size_t)t * K + j] = lse(tmp, K) + emit[(size_t)t * stride + j];
        }
    for (int j = 0; j < K; j++) lb[(size_t)(n - 1) * K + j] = end[j];
    for (int t = n - 1; t > 0; t--)
        for (int i = 0; i < K; i++) {
            for (int j = 0; j < K; j++)
                tmp[j] = trans[i * K + j] + emit[(size_t)t * stride + j] + lb[(size_t)t * K + j];
            lb[(size_t)(t - 1) * K + i] = lse(tmp, K);
        }
    for (int j = 0; j < K; j++) tmp[j] = la[(size_t)(n - 1) * K + j] + end[j];
    double logz = lse(tmp, K);
    if (demit) {
        for (int t = 0; t < n; t++)
            for (int j = 0; j < K; j++) {
                double p = exp(la[(size_t)t * K + j] + lb[(size_t)t * K + j] - logz);
                demit[(size_t)t * stride + j] += scale * (float)p;
                if (t == 0) dstart[j] += scale * (float)p;
                if (t == n - 1) dend[j] += scale * (float)p;
            }
        for (int t = 1; t < n; t++)
            for (int i = 0; i < K; i++)
                for (int j = 0; j < K; j++) {
                    double p = exp(la[(size_t)(t - 1) * K + i] + trans[i * K + j] +
                                   emit[(size_t)t * stride + j] + lb[(size_t)t * K + j] - logz);
                    dtrans[i * K + j] += scale * (float)p;
                }
    }
    double g = gold_score(emit, stride, tags, tstride, n, K, trans, start, end, scale, demit,
                          dtrans, dstart, dend);
    free(la);
    free(lb);
    free(tmp);
    return logz - g;
}

double seqlm_crf_nll(seqlm_crf_work *w, const float *emit, const int32_t *tags,
                     const int32_t *lengths, int T, int B, const float *trans, const float *start,
                     const float *end, float scale, float *demit, float *dtrans, float *dstart,
                     float *dend) {
    const int K = w->K;
    SEQLM_ASSERT(T <= w->T_max && B <= w->B_max);
    const size_t BK = (size_t)B * K;
    float M = -INFINITY, Me = -INFINITY;
    for (int i = 0; i < K * K; i++)
        if (trans[i] > M) M = trans[i];
    for (int j = 0; j < K; j++)
        if (end[j] > Me) Me = end[j];
    for (int i = 0; i < K * K; i++) w->E[i] = expf(trans[i] - M);
    memset(w->bad, 0, (size_t)B);
    for (int b = 0; b < B; b++) w->logz[b] = 0;

    /* forward */
    for (int t = 0; t < T; t++) {
        float *a = w->alpha + t * BK;
        if (t) seqlm_matmul(0, 0, B, K, K, 1.0f, w->alpha + (t - 1) * BK, K, w->E, K, 0.0f, a, K);
        for (int b = 0; b < B; b++) {
            float *ab = a + (size_t)b * K;
            if (t >= lengths[b] || w->bad[b]) {
                memset(ab, 0, K * sizeof *ab);
                continue;
            }
            const float *e = emit + (t * BK) + (size_t)b * K;
            float mx = -INFINITY;
            for (int j = 0; j < K; j++) {
                float s = t ? e[j] : e[j] + start[j];
                if (s > mx) mx = s;
            }
            double c = 0;
            for (int j = 0; j < K; j++) {
                float s = t ? ab[j] * expf(e[j] - mx) : expf(e[j] + start[j] - mx);
                ab[j] = s;
                c += s;
            }
            if (!(c > 1e-30 && c < 1e30)) {
                w->bad[b] = 1;
                memset(ab, 0, K * sizeof *ab);
                continue;
            }
            float inv = (float)(1.0 / c);
            for (int j = 0; j < K; j++) ab[j] *= inv;
            w->c[t * B + b] = (float)c;
            w->m[t * B + b] = mx;
            w->logz[b] += log(c) + mx + (t ? M : 0.0f);
        }
    }
    double total = 0;
    for (int b = 0; b < B; b++) {
        if (w->bad[b]) continue;
        const float *an = w->alpha + (size_t)(lengths[b] - 1) * BK + (size_t)b * K;
        double S = 0;
        for (int j = 0; j < K; j++) S += an[j] * exp((double)end[j] - Me);
        w->S[b] = (float)S;
        if (!(S > 1e-30)) {
            w->bad[b] = 1;
            continue;
        }
        w->logz[b] += Me + log(S);
    }

    if (demit) {
        /* backward: marginals into marg, v_t into v */
        for (int t = T - 1; t >= 0; t--) {
            float *bh = w->u; /* bhat_t (B, K) */
            if (t < T - 1)
                seqlm_matmul(0, 1, B, K, K, 1.0f, w->v + (t + 1) * BK, K, w->E, K, 0.0f, bh, K);
            for (int b = 0; b < B; b++) {
                float *vb = w->v + t * BK + (size_t)b * K, *pb = w->marg + t * BK + (size_t)b * K;
                if (t >= lengths[b] || w->bad[b]) {
                    memset(vb, 0, K * sizeof *vb);
                    continue;
                }
                float *bb = bh + (size_t)b * K;
                if (t == lengths[b] - 1)
                    for (int j = 0; j < K; j++) bb[j] = expf(end[j] - Me) / w->S[b];
                const float *ab = w->alpha + t * BK + (size_t)b * K;
                const float *e = emit + t * BK + (size_t)b * K;
                float mx = w->m[t * B + b], ic = 1.0f / w->c[t * B + b];
                int ok = 1;
                for (int j = 0; j < K; j++) {
                    pb[j] = ab[j] * bb[j];
                    vb[j] = t ? expf(e[j] - mx) * bb[j] * ic : 0.0f;
                    ok &= isfinite(pb[j]) && isfinite(vb[j]);
                }
                if (!ok) w->bad[b] = 1;
            }
        }
        /* bad sequences: zero their v rows everywhere (they were set before being found bad) */
        for (int b = 0; b < B; b++)
            if (w->bad[b])
                for (int t = 0; t < T; t++) {
                    memset(w->v + t * BK + (size_t)b * K, 0, K * sizeof(float));
                    memset(w->alpha + t * BK + (size_t)b * K, 0, K * sizeof(float));
                }
        for (int b = 0; b < B; b++) {
            if (w->bad[b]) continue;
            int n = lengths[b];
            for (int t = 0; t < n; t++) {
                const float *pb = w->marg + t * BK + (size_t)b * K;
                float *d = demit + t * BK + (size_t)b * K;
                for (int j = 0; j < K; j++) d[j] += scale * pb[j];
            }
            const float *p0 = w->marg + (size_t)b * K, *pn = w->marg + (n - 1) * BK + (size_t)b * K;
            for (int j = 0; j < K; j++) {
                dstart[j] += scale * p0[j];
                dend[j] += scale * pn[j];
            }
        }
        if (T > 1) {
            /* G = sum_t ahat_{t-1}^T v_t over all rows at once */
            seqlm_matmul(1, 0, K, K, (T - 1) * B, 1.0f, w->alpha, K, w->v + BK, K, 0.0f, w->G, K);
            for (int i = 0; i < K * K; i++) dtrans[i] += scale * w->G[i] * w->E[i];
        }
    }
    for (int b = 0; b < B; b++) {
        int n = lengths[b];
        if (w->bad[b]) {
            total += seqlm_crf_nll_logspace(emit + (size_t)b * K, (int)BK, tags + b, B, n, K, trans,
                                            start, end, scale, demit ? demit + (size_t)b * K : NULL,
                                            dtrans, dstart, dend);
            continue;
        }
        total += w->logz[b] - gold_score(emit + (size_t)b * K, (int)BK, tags + b, B, n, K, trans,
                                         start, end, scale, demit ? demit + (size_t)b * K : NULL,
                                         dtrans, dstart, dend);
    }
    return total;
}

/* Viterbi, time step by time step for the whole batch. For K = 420 (Brown) the K^2 max-plus
 * step dominates decoding, so its loops run i (the previous tag) outside and j (the next tag)
 * inside over contiguous rows trans[i][.], branch-free (omp simd): mx[j] = max_i (d[i] +
 * trans[i][j]) keeping the first i that attains it (a mask, not a branch, so that it
 * vectorises), exactly as the plain double loop over j then i would. VB batch entries share each
 * row of trans while it is in cache. */
enum { VB = 8 };

double seqlm_crf_viterbi(seqlm_crf_work *w, const float *emit, const int32_t *lengths, int T, int B,
                         const float *trans, const float *start, const float *end, int32_t *best) {
    const int K = w->K;
    SEQLM_ASSERT(T <= w->T_max && B <= w->B_max);
    const size_t BK = (size_t)B * K;
    float *d0 = w->delta, *d1 = w->delta + BK;
    for (int b = 0; b < B; b++) {
        const float *e = emit + (size_t)b * K;
        for (int j = 0; j < K; j++) d0[(size_t)b * K + j] = start[j] + e[j];
    }
    int act[VB];
    for (int t = 1; t < T; t++) {
        int b = 0;
        while (b < B) {
            int na = 0; /* the next VB sequences still running at step t */
            for (; b < B && na < VB; b++) {
                if (lengths[b] > t)
                    act[na++] = b;
                else
                    memcpy(d1 + (size_t)b * K, d0 + (size_t)b * K, (size_t)K * sizeof(float));
            }
            if (na == 0) continue;
            for (int a = 0; a < na; a++) {
                const float d = d0[(size_t)act[a] * K];
                float *mx = d1 + (size_t)act[a] * K;
                int32_t *arg = w->bp + t * BK + (size_t)act[a] * K;
#pragma omp simd
                for (int j = 0; j < K; j++) {
                    mx[j] = d + trans[j];
                    arg[j] = 0;
                }
            }
            for (int i = 1; i < K; i++) {
                const float *row = trans + (size_t)i * K;
                for (int a = 0; a < na; a++) {
                    const float d = d0[(size_t)act[a] * K + i];
                    float *mx = d1 + (size_t)act[a] * K;
                    int32_t *arg = w->bp + t * BK + (size_t)act[a] * K;
#pragma omp simd
                    for (int j = 0; j < K; j++) {
                        float sc = d + row[j], m = mx[j];
                        int32_t better = -(int32_t)(sc > m); /* all ones or zero */
                        arg[j] = (arg[j] & ~better) | (i & better);
                        mx[j] = sc > m ? sc : m;
                    }
                }
            }
            for (int a = 0; a < na; a++) {
                const float *et = emit + t * BK + (size_t)act[a] * K;
                float *mx = d1 + (size_t)act[a] * K;
#pragma omp simd
                for (int j = 0; j < K; j++) mx[j] += et[j];
            }
        }
        float *tmp = d0;
        d0 = d1;
        d1 = tmp;
    }
    double total = 0;
    for (int b = 0; b < B; b++) {
        int n = lengths[b];
        const float *d = d0 + (size_t)b * K;
        float mx = d[0] + end[0];
        int arg = 0;
        for (int j = 1; j < K; j++)
            if (d[j] + end[j] > mx) {
                mx = d[j] + end[j];
                arg = j;
            }
        total += mx;
        for (int t = n - 1; t >= 0; t--) {
            best[(size_t)t * B + b] = arg;
            if (t) arg = w->bp[t * BK + (size_t)b * K + arg];
        }
        for (int t = n; t < T; t++) best[(size_t)t * B + b] = -1;
    }
    return total;
}
