/* layers.c - the feed-forward pieces every model is built from: embedding, linear (plain and
 * weight-tied), inverted dropout and the fused softmax + cross-entropy (see seqlm/nn.h).
 *
 * Each layer is a forward and a backward function over raw float arrays; the products go through
 * seqlm_matmul, one call for all N rows. Backward passes accumulate (+=). Everything that runs in
 * parallel gives the same bits for any number of threads: loops are split so that each output
 * element is summed by one thread in a fixed order.
 * Not here: recurrent layers (rnn.c), the output layer behind its interface (output.c), models.
 */
#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "seqlm/kernels.h"
#include "kernels/vmath.h"
#include "seqlm/nn.h"

/* Below this many floats touched, a loop is not worth waking the other threads for. */
#define PAR_MIN 32768
/* Column blocks for the deterministic parallel column sums (embedding scatter-add, bias). */
#define COL_BLOCK 64

/* The init functions return 0, or -1 when a tensor cannot be registered (a size <= 0, a name
 * taken or longer than SEQLM_PARAM_NAME_MAX with its suffix, out of memory, or params already
 * allocated). They only register; values come from the reset functions after seqlm_params_alloc. */

/* out = "<name>.<suffix>"; -1 if it does not fit. */
static int name2(char *out, const char *name, const char *suffix) {
    int n = snprintf(out, SEQLM_PARAM_NAME_MAX, "%s.%s", name, suffix);
    return n > 0 && n < SEQLM_PARAM_NAME_MAX ? 0 : -1;
}

/* ---- embedding ---------------------------------------------------------------------------- */

int seqlm_embedding_init(seqlm_embedding *l, seqlm_params *p, const char *name, int V, int E) {
    char full[SEQLM_PARAM_NAME_MAX];
    if (V <= 0 || E <= 0 || name2(full, name, "weight")) return -1;
    l->V = V;
    l->E = E;
    l->weight = seqlm_params_add(p, full, 2, (int64_t[]){V, E});
    return l->weight < 0 ? -1 : 0;
}

void seqlm_embedding_reset(const seqlm_embedding *l, seqlm_params *p, seqlm_rng *rng) {
    seqlm_init_normal(seqlm_params_value(p, l->weight), (size_t)l->V * l->E, 0.0f, 1.0f, rng);
}

void seqlm_embedding_forward(const seqlm_embedding *l, const seqlm_params *p, const int32_t *ids,
                             size_t N, float *out) {
    const float *W = seqlm_params_value(p, l->weight); /* (V, E) */
    size_t E = (size_t)l->E;
#pragma omp parallel for schedule(static) if (N * E > PAR_MIN)
    for (size_t n = 0; n < N; n++) {
        assert(ids[n] >= 0 && ids[n] < l->V);
        memcpy(out + n * E, W + (size_t)ids[n] * E, E * sizeof(float));
    }
}

/* dW[ids[n]] += dout[n] for every n: a scatter-add, where repeated ids accumulate. Threads split
 * the E columns, not the N rows, so no two threads touch one element and each element sums its
 * rows in order n = 0..N-1, whatever the thread count. */
void seqlm_embedding_backward(const seqlm_embedding *l, seqlm_params *p, const int32_t *ids,
                              size_t N, const float *dout) {
    float *dW = seqlm_params_grad(p, l->weight); /* (V, E) */
    int E = l->E, nblocks = (E + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if (N * (size_t)E > PAR_MIN && nblocks > 1)
    for (int b = 0; b < nblocks; b++) {
        int c0 = b * COL_BLOCK, c1 = c0 + COL_BLOCK < E ? c0 + COL_BLOCK : E;
        for (size_t n = 0; n < N; n++) {
            assert(ids[n] >= 0 && ids[n] < l->V);
            float *g = dW + (size_t)ids[n] * E;
            const float *d = dout + n * E;
#pragma omp simd
            for (int c = c0; c < c1; c++) g[c] += d[c];
        }
    }
}

/* ---- linear ------------------------------------------------------------------------------- */

int seqlm_linear_init(seqlm_linear *l, seqlm_params *p, const char *name, int I, int O,
                      int with_bias) {
    char full[SEQLM_PARAM_NAME_MAX];
    if (I <= 0 || O <= 0 || name2(full, name, "weight")) return -1;
    l->I = I;
    l->O = O;
    l->bias = -1;
    l->weight = seqlm_params_add(p, full, 2, (int64_t[]){O, I});
    if (l->weight < 0) return -1;
    if (with_bias) {
        if (name2(full, name, "bias")) return -1;
        l->bias = seqlm_params_add(p, full, 1, (int64_t[]){O});
        if (l->bias < 0) return -1;
    }
    return 0;
}

int seqlm_linear_init_tied(seqlm_linear *l, seqlm_params *p, const char *name, int weight,
                           int with_bias) {
    char full[SEQLM_PARAM_NAME_MAX];
    if (weight < 0 || weight >= p->count || p->info[weight].ndim != 2 ||
        name2(full, name, "weight"))
        return -1;
    l->O = (int)p->info[weight].shape[0];
    l->I = (int)p->info[weight].shape[1];
    l->bias = -1;
    l->weight = seqlm_params_alias(p, full, weight);
    if (l->weight < 0) return -1;
    if (with_bias) {
        if (name2(full, name, "bias")) return -1;
        l->bias = seqlm_params_add(p, full, 1, (int64_t[]){l->O});
        if (l->bias < 0) return -1;
    }
    return 0;
}

/* nn.Linear.reset_parameters: kaiming_uniform_(a = sqrt(5)) on the weight, whose bound
 * gain * sqrt(3 / fan_in) with gain = sqrt(2 / (1 + 5)) is 1 / sqrt(I), and the bias from the
 * same U(-1/sqrt(I), 1/sqrt(I)). A tied weight is left alone: in PyTorch the tie replaces the
 * linear's own weight by the embedding's, which keeps the embedding's initialisation. */
void seqlm_linear_reset(const seqlm_linear *l, seqlm_params *p, seqlm_rng *rng) {
    float a = (float)(1.0 / sqrt((double)l->I));
    if (p->info[l->weight].alias_of < 0)
        seqlm_init_uniform(seqlm_params_value(p, l->weight), (size_t)l->O * l->I, a, rng);
    if (l->bias >= 0) seqlm_init_uniform(seqlm_params_value(p, l->bias), (size_t)l->O, a, rng);
}

/* y (N, O) = x (N, I) W^T + b: the rows of y start as b and one product adds x W^T. */
void seqlm_linear_forward(const seqlm_linear *l, const seqlm_params *p, const float *x, size_t N,
                          float *y) {
    assert(N <= INT_MAX);
    const float *W = seqlm_params_value(p, l->weight); /* (O, I) */
    size_t O = (size_t)l->O;
    float beta = 0.0f;
    if (l->bias >= 0) {
        const float *b = seqlm_params_value(p, l->bias); /* (O) */
#pragma omp parallel for schedule(static) if (N * O > PAR_MIN)
        for (size_t n = 0; n < N; n++) memcpy(y + n * O, b, O * sizeof(float));
        beta = 1.0f;
    }
    seqlm_matmul(0, 1, (int)N, l->O, l->I, 1.0f, x, l->I, W, l->I, beta, y, l->O);
}

/* With y = x W^T + b and upstream gradient dy (N, O):
 *   dW (O, I) += dy^T x           (sum over rows n of dy[n] (outer) x[n])
 *   db (O)    += sum_n dy[n]
 *   dx (N, I) += dy W
 * The bias sum is split by columns, so each db[o] adds its rows in order (thread-independent). */
void seqlm_linear_backward(const seqlm_linear *l, seqlm_params *p, const float *x, size_t N,
                           const float *dy, float *dx) {
    assert(N <= INT_MAX);
    if (N == 0) return;
    const float *W = seqlm_params_value(p, l->weight); /* (O, I) */
    float *dW = seqlm_params_grad(p, l->weight);       /* (O, I) */
    int O = l->O, I = l->I;
    seqlm_matmul(1, 0, O, I, (int)N, 1.0f, dy, O, x, I, 1.0f, dW, I);
    if (l->bias >= 0) {
        float *db = seqlm_params_grad(p, l->bias); /* (O) */
        int nblocks = (O + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if (N * (size_t)O > PAR_MIN && nblocks > 1)
        for (int b = 0; b < nblocks; b++) {
            int c0 = b * COL_BLOCK, c1 = c0 + COL_BLOCK < O ? c0 + COL_BLOCK : O;
            for (size_t n = 0; n < N; n++) {
                const float *d = dy + n * (size_t)O;
#pragma omp simd
                for (int c = c0; c < c1; c++) db[c] += d[c];
            }
        }
    }
    if (dx) seqlm_matmul(0, 0, (int)N, I, O, 1.0f, dy, O, W, I, 1.0f, dx, I);
}

/* ---- dropout ------------------------------------------------------------------------------ */

/* PyTorch's training-mode dropout: each element is kept with probability 1 - rate (one uniform
 * draw per element, in order) and kept elements are scaled by 1 / (1 - rate), so the expectation
 * is unchanged and evaluation needs no rescaling. rate 0 is the identity and draws nothing. */
void seqlm_dropout_forward(float *x, uint8_t *mask, size_t n, float rate, seqlm_rng *rng) {
    assert(rate >= 0.0f && rate < 1.0f);
    if (rate <= 0.0f) {
        if (mask) memset(mask, 1, n);
        return;
    }
    float scale = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < n; i++) {
        uint8_t keep = seqlm_rng_uniform(rng) >= rate;
        if (mask) mask[i] = keep;
        x[i] = keep ? x[i] * scale : 0.0f;
    }
}

/* y = x m / (1 - rate)  =>  dx = dy m / (1 - rate), in place on dx. */
void seqlm_dropout_backward(float *dx, const uint8_t *mask, size_t n, float rate) {
    if (rate <= 0.0f) return;
    float scale = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < n; i++) dx[i] = mask[i] ? dx[i] * scale : 0.0f;
}

/* ---- softmax + cross-entropy -------------------------------------------------------------- */

/* exp comes from kernels/vmath.h: the N*V exponentials are the softmax's whole cost. */

/* One counted row: z (V) logits, t its target, d (V) its gradient or NULL (may be z). Returns
 * -log softmax(z)_t. The exponentials are the whole cost: vectorised, and cloned per CPU. */
static SIMD_CLONES double xent_row(const float *z, float *d, int V, int32_t t, double invC) {
    float zt = z[t]; /* read before d (which may be z) is written */
    float m = row_max(z, (size_t)V);
    double S = 0.0;
    if (d) {
#pragma omp simd reduction(+ : S)
        for (int j = 0; j < V; j++) {
            float e = vexpf(z[j] - m);
            d[j] = e;
            S += e;
        }
        float scale = (float)(invC / S);
#pragma omp simd
        for (int j = 0; j < V; j++) d[j] *= scale;
        d[t] -= (float)invC;
    } else {
#pragma omp simd reduction(+ : S)
        for (int j = 0; j < V; j++) S += vexpf(z[j] - m);
    }
    return (double)m + log(S) - (double)zt;
}

/* Rows are done in blocks whose per-row losses go to this array and are then summed in row order
 * by one thread: the mean is the same for any thread count, and nothing is allocated. */
#define XENT_BLOCK 1024

/* Row n with target t and z = logits[n]: with m = max_j z_j and S = sum_j exp(z_j - m),
 *   loss_n = -log softmax(z)_t = m + log S - z_t                      (stable for any |z|)
 *   d loss / d z_j = (softmax(z)_j - [j == t]),  softmax(z)_j = exp(z_j - m) / S
 * and the mean over the C counted rows divides both by C. Ignored rows contribute 0. */
double seqlm_softmax_xent(const float *logits, const int32_t *targets, size_t N, int V,
                          int32_t ignore_index, float *dlogits, size_t *counted) {
    size_t C = 0;
    for (size_t n = 0; n < N; n++) C += targets[n] != ignore_index;
    if (counted) *counted = C;
    if (C == 0) {
        if (dlogits) memset(dlogits, 0, N * (size_t)V * sizeof(float));
        return 0.0;
    }
    const double invC = 1.0 / (double)C;
    double total = 0.0;
    double loss[XENT_BLOCK];
    for (size_t n0 = 0; n0 < N; n0 += XENT_BLOCK) {
        long rows = (long)(N - n0 < XENT_BLOCK ? N - n0 : XENT_BLOCK);
#pragma omp parallel for schedule(static) if ((size_t)rows * (size_t)V > PAR_MIN)
        for (long i = 0; i < rows; i++) {
            size_t n = n0 + (size_t)i;
            float *d = dlogits ? dlogits + n * (size_t)V : NULL;
            int32_t t = targets[n];
            if (t == ignore_index) {
                if (d) memset(d, 0, (size_t)V * sizeof(float));
                loss[i] = 0.0;
                continue;
            }
            assert(t >= 0 && t < V);
            loss[i] = xent_row(logits + n * (size_t)V, d, V, t, invC);
        }
        for (long i = 0; i < rows; i++) total += loss[i];
    }
    return total * invC;
}
