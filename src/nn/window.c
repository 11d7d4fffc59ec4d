/* window.c - the fixed-window neural language model of Bengio, Ducharme, Vincent and Jauvin
 * (2003), "A Neural Probabilistic Language Model" (see seqlm/nn.h):
 *
 *   x = [C(w_{t-n}) .. C(w_{t-1})]          (n*E)   the n context words' embeddings, concatenated
 *   a = tanh(d + H x)                       (Hd)
 *   y = b + U a + W x                       (V)     W x only with direct connections
 *   P(w_t | context) = softmax(y)_{w_t}
 *
 * built from the embedding, linear and softmax_xent pieces of layers.c. PyTorch's names:
 * embedding.weight = C, hidden.{weight,bias} = H, d, output.{weight,bias} = U, b,
 * direct.weight = W. Scratch for N_max rows is owned by the model; more rows are done in chunks.
 * Not here: training loops, or the paper's parallel (data/parameter-split) implementation.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "seqlm/kernels.h"
#include "seqlm/nn.h"

/* Registers the tensors and allocates the scratch. Returns 0, or -1 (a size <= 0, a name taken,
 * out of memory); seqlm_window_free is safe after either. */
int seqlm_window_init(seqlm_window *m, seqlm_params *p, int V, int E, int n, int Hd, int direct,
                      size_t N_max) {
    memset(m, 0, sizeof *m);
    if (V <= 0 || E <= 0 || n <= 0 || Hd <= 0 || N_max == 0) return -1;
    m->V = V;
    m->E = E;
    m->n = n;
    m->Hd = Hd;
    m->direct = direct != 0;
    m->N_max = N_max;
    int nE = n * E;
    if (seqlm_embedding_init(&m->emb, p, "embedding", V, E) ||
        seqlm_linear_init(&m->hidden, p, "hidden", nE, Hd, 1) ||
        seqlm_linear_init(&m->out, p, "output", Hd, V, 1))
        return -1;
    if (m->direct && seqlm_linear_init(&m->skip, p, "direct", nE, V, 0)) return -1;
    m->x = malloc(N_max * (size_t)nE * sizeof(float));
    m->dx = malloc(N_max * (size_t)nE * sizeof(float));
    m->a = malloc(N_max * (size_t)Hd * sizeof(float));
    m->da = malloc(N_max * (size_t)Hd * sizeof(float));
    m->logits = malloc(N_max * (size_t)V * sizeof(float));
    if (!m->x || !m->dx || !m->a || !m->da || !m->logits) {
        seqlm_window_free(m);
        return -1;
    }
    return 0;
}

void seqlm_window_free(seqlm_window *m) {
    if (!m) return;
    free(m->x);
    free(m->dx);
    free(m->a);
    free(m->da);
    free(m->logits);
    m->x = m->dx = m->a = m->da = m->logits = NULL;
}

/* PyTorch's defaults, layer by layer: embedding N(0, 1), each linear U(-1/sqrt(fan_in), ..). */
void seqlm_window_reset(const seqlm_window *m, seqlm_params *p, seqlm_rng *rng) {
    seqlm_embedding_reset(&m->emb, p, rng);
    seqlm_linear_reset(&m->hidden, p, rng);
    seqlm_linear_reset(&m->out, p, rng);
    if (m->direct) seqlm_linear_reset(&m->skip, p, rng);
}

/* Forward for R <= N_max rows: x, a in the scratch and the logits y in out (R, V). The context
 * (R, n) ids, looked up as R*n embedding rows, are already x (R, n*E) concatenated. */
static void forward(seqlm_window *m, const seqlm_params *p, const int32_t *context, size_t R,
                    float *out) {
    int nE = m->n * m->E;
    seqlm_embedding_forward(&m->emb, p, context, R * (size_t)m->n, m->x);
    seqlm_linear_forward(&m->hidden, p, m->x, R, m->a);
    seqlm_tanh(m->a, m->a, R * (size_t)m->Hd);
    seqlm_linear_forward(&m->out, p, m->a, R, out);
    if (m->direct) /* y += x W^T (no bias): accumulate onto U a + b */
        seqlm_matmul(0, 1, (int)R, m->V, nE, 1.0f, m->x, nE, seqlm_params_value(p, m->skip.weight),
                     nE, 1.0f, out, m->V);
}

/* Backward from dy (R, V), the gradient of the loss wrt the logits:
 *   dU += dy^T a, db += sum dy, da = dy U                 (output)
 *   dW += dy^T x, dx = dy W                               (direct)
 *   dpre = da (1 - a^2)                                   (tanh' = 1 - tanh^2)
 *   dH += dpre^T x, dd += sum dpre, dx += dpre H          (hidden)
 *   dC[context[r][k]] += dx[r][k*E .. (k+1)*E)            (embedding scatter-add) */
static void backward(seqlm_window *m, seqlm_params *p, const int32_t *context, size_t R,
                     const float *dy) {
    size_t nA = R * (size_t)m->Hd;
    memset(m->da, 0, nA * sizeof(float));
    memset(m->dx, 0, R * (size_t)m->n * m->E * sizeof(float));
    seqlm_linear_backward(&m->out, p, m->a, R, dy, m->da);
    if (m->direct) seqlm_linear_backward(&m->skip, p, m->x, R, dy, m->dx);
#pragma omp simd
    for (size_t i = 0; i < nA; i++) m->da[i] *= 1.0f - m->a[i] * m->a[i];
    seqlm_linear_backward(&m->hidden, p, m->x, R, m->da, m->dx);
    seqlm_embedding_backward(&m->emb, p, context, R * (size_t)m->n, m->dx);
}

/* As in seqlm_output_loss: chunk k's gradient (softmax - onehot) / C_k is scaled by C_k / C so
 * that the sum over chunks is the gradient of the mean over all C counted targets. Targets equal
 * to -100 (PyTorch's ignore_index) are not counted. */
double seqlm_window_loss(seqlm_window *m, seqlm_params *p, const int32_t *context,
                         const int32_t *targets, size_t N, int backward_pass) {
    const int32_t ignore = -100;
    size_t C = 0;
    for (size_t i = 0; i < N; i++) C += targets[i] != ignore;
    if (C == 0) return 0.0;
    double total = 0.0;
    for (size_t n0 = 0; n0 < N; n0 += m->N_max) {
        size_t R = N - n0 < m->N_max ? N - n0 : m->N_max;
        const int32_t *ctx = context + n0 * (size_t)m->n;
        forward(m, p, ctx, R, m->logits);
        size_t Ck = 0;
        double Lk = seqlm_softmax_xent(m->logits, targets + n0, R, m->V, ignore,
                                       backward_pass ? m->logits : NULL, &Ck);
        total += Lk * (double)Ck;
        if (!backward_pass || Ck == 0) continue;
        if (Ck != C) {
            float s = (float)((double)Ck / (double)C);
            size_t nl = R * (size_t)m->V;
            for (size_t i = 0; i < nl; i++) m->logits[i] *= s;
        }
        backward(m, p, ctx, R, m->logits);
    }
    return total / (double)C;
}

void seqlm_window_logprobs(seqlm_window *m, const seqlm_params *p, const int32_t *context, size_t N,
                           float *out) {
    for (size_t n0 = 0; n0 < N; n0 += m->N_max) {
        size_t R = N - n0 < m->N_max ? N - n0 : m->N_max;
        float *o = out + n0 * (size_t)m->V;
        forward(m, p, context + n0 * (size_t)m->n, R, o);
        seqlm_log_softmax_rows(o, o, R, (size_t)m->V);
    }
}
