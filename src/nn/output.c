/* output.c - the output layer: hidden states to a distribution over the vocabulary (see
 * seqlm/nn.h). Today the one kind is the full softmax, logits = h W^T + b through a seqlm_linear
 * ("<name>.weight" (V, H), "<name>.bias" (V)), optionally tied to the input embedding.
 *
 * Loss and backward are one call so that the (N, V) logits are written once and turned into their
 * gradient in place: this layer is the costliest part of a language-model step (two thirds of its
 * flops are the two backward products). Rows beyond the scratch size N_max are done in chunks,
 * with the chunk's gradient rescaled so the result is the mean over all N rows.
 * Not here: sampled, class-factored or hierarchical softmaxes (future kinds behind these calls).
 */
#include <assert.h>
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "kernels/vmath.h"
#include "seqlm/kernels.h"
#include "seqlm/nn.h"

/* Returns 0, or -1 (a size <= 0, a tied tensor that is not (V, H), a name taken, out of memory);
 * seqlm_output_free is safe after either. */
int seqlm_output_init(seqlm_output *o, seqlm_params *p, const char *name, int H, int V,
                      int tied_weight, size_t N_max) {
    memset(o, 0, sizeof *o);
    if (H <= 0 || V <= 0 || N_max == 0) return -1;
    o->kind = SEQLM_OUTPUT_SOFTMAX;
    o->H = H;
    o->V = V;
    o->N_max = N_max;
    if (tied_weight >= 0) {
        if (tied_weight >= p->count || p->info[tied_weight].ndim != 2 ||
            p->info[tied_weight].shape[0] != V || p->info[tied_weight].shape[1] != H)
            return -1;
        if (seqlm_linear_init_tied(&o->proj, p, name, tied_weight, 1)) return -1;
    } else if (seqlm_linear_init(&o->proj, p, name, H, V, 1)) {
        return -1;
    }
    o->logits = malloc(N_max * (size_t)V * sizeof(float));
    return o->logits ? 0 : -1;
}

void seqlm_output_free(seqlm_output *o) {
    if (!o) return;
    free(o->logits);
    o->logits = NULL;
}

void seqlm_output_reset(const seqlm_output *o, seqlm_params *p, seqlm_rng *rng) {
    seqlm_linear_reset(&o->proj, p, rng);
}

/* For rows n0..n0+R-1 of a chunk with C_k counted targets out of C in all, softmax_xent gives the
 * chunk mean L_k and d L_k / d logits = (softmax - onehot) / C_k; the overall mean is
 * L = sum_k L_k C_k / C, so the chunk's gradient is scaled by C_k / C before it is
 * backpropagated through the projection (dW += dz^T h, db += sum dz, dh += dz W). */
double seqlm_output_loss(seqlm_output *o, seqlm_params *p, const float *h, size_t N,
                         const int32_t *targets, int32_t ignore_index, float *dh) {
    size_t C = 0;
    for (size_t n = 0; n < N; n++) C += targets[n] != ignore_index;
    if (C == 0) return 0.0;
    double total = 0.0;
    for (size_t n0 = 0; n0 < N; n0 += o->N_max) {
        size_t R = N - n0 < o->N_max ? N - n0 : o->N_max;
        const float *hk = h + n0 * (size_t)o->H;
        seqlm_linear_forward(&o->proj, p, hk, R, o->logits);
        size_t Ck = 0;
        double Lk = seqlm_softmax_xent(o->logits, targets + n0, R, o->V, ignore_index,
                                       dh ? o->logits : NULL, &Ck);
        total += Lk * (double)Ck;
        if (!dh || Ck == 0) continue;
        if (Ck != C) {
            float s = (float)((double)Ck / (double)C);
            size_t n = R * (size_t)o->V;
            for (size_t i = 0; i < n; i++) o->logits[i] *= s;
        }
        seqlm_linear_backward(&o->proj, p, hk, R, o->logits, dh + n0 * (size_t)o->H);
    }
    return total / (double)C;
}

/* log softmax(h W^T + b), computed in out itself: no scratch needed. */
void seqlm_output_logprobs(seqlm_output *o, const seqlm_params *p, const float *h, size_t N,
                           float *out) {
    seqlm_linear_forward(&o->proj, p, h, N, out);
    seqlm_log_softmax_rows(out, out, N, (size_t)o->V);
}

/* ---- scoring given targets, without the (N, V) matrix -------------------------------------- */

enum { SCORE_COLS = 512, SCORE_ROWS = 512 };

static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
} /* a logits block: 1 MB, within L2 */

/* Adds the bias to a block of logits (rows x cols, stride cols) and writes each row's maximum
 * and sum of exp(logit - maximum), the sum in double. */
static SIMD_CLONES void block_stats(float *z, size_t rows, size_t cols, const float *bias,
                                    float *mx, double *sum) {
    for (size_t r = 0; r < rows; r++) {
        float *x = z + r * cols;
        if (bias) {
#pragma omp simd
            for (size_t c = 0; c < cols; c++) x[c] += bias[c];
        }
        float m = row_max(x, cols);
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (size_t c = 0; c < cols; c++) s += vexpf(x[c] - m);
        mx[r] = m;
        sum[r] = s;
    }
}

/* The logits are made SCORE_ROWS x SCORE_COLS at a time; each block's rows leave their maximum
 * and sum (and the target's logit, if the target is in the block), and the blocks of a row are
 * combined in column order: log p = (z_t - M) - log sum_j s_j exp(m_j - M), M = max_j m_j. The
 * blocks of a row chunk are shared among threads, each with one-thread SGEMMs; combining in a
 * fixed order makes the result independent of the thread count. */
double seqlm_output_score(const seqlm_output *o, const seqlm_params *p, const float *h, size_t N,
                          const int32_t *targets, int32_t ignore_index, float *lp) {
    size_t V = (size_t)o->V, H = (size_t)o->H;
    size_t nb = (V + SCORE_COLS - 1) / SCORE_COLS;
    size_t R = N < SCORE_ROWS ? N : SCORE_ROWS;
    const float *W = seqlm_params_value(p, o->proj.weight);
    const float *bias = o->proj.bias >= 0 ? seqlm_params_value(p, o->proj.bias) : NULL;
    float *mx = malloc(nb * R * sizeof *mx), *zt = malloc(R * sizeof *zt);
    double *sum = malloc(nb * R * sizeof *sum);
    int nt = seqlm_threads();
    float *zall = malloc((size_t)nt * R * SCORE_COLS * sizeof *zall); /* a block per thread */
    double nll = 0;
    int oom = !mx || !zt || !sum || !zall;
    for (size_t n0 = 0; n0 < N && !oom; n0 += R) {
        size_t rows = N - n0 < R ? N - n0 : R;
        const float *hk = h + n0 * H;
        const int32_t *tk = targets + n0;
#pragma omp parallel num_threads(nt)
        {
            float *z = zall + (size_t)thread_id() * R * SCORE_COLS;
#pragma omp for schedule(static)
            for (size_t j = 0; j < nb; j++) {
                size_t c0 = j * SCORE_COLS, cols = V - c0 < SCORE_COLS ? V - c0 : SCORE_COLS;
                seqlm_matmul(0, 1, (int)rows, (int)cols, (int)H, 1.0f, hk, (int)H, W + c0 * H,
                             (int)H, 0.0f, z, (int)cols);
                block_stats(z, rows, cols, bias ? bias + c0 : NULL, mx + j * R, sum + j * R);
                for (size_t r = 0; r < rows; r++) {
                    int32_t t = tk[r];
                    if (t != ignore_index && (size_t)t >= c0 && (size_t)t < c0 + cols)
                        zt[r] = z[r * cols + ((size_t)t - c0)];
                }
            }
        }
        for (size_t r = 0; r < rows; r++) {
            if (tk[r] == ignore_index) {
                lp[n0 + r] = 0.0f;
                continue;
            }
            float M = mx[r];
            for (size_t j = 1; j < nb; j++)
                if (mx[j * R + r] > M) M = mx[j * R + r];
            double S = 0;
            for (size_t j = 0; j < nb; j++) S += sum[j * R + r] * exp((double)mx[j * R + r] - M);
            double l = (double)(zt[r] - M) - log(S);
            lp[n0 + r] = (float)l;
            nll -= lp[n0 + r]; /* the sum of what callers see per token, exactly */
        }
    }
    free(mx);
    free(zt);
    free(sum);
    free(zall);
    return oom ? NAN : nll;
}
