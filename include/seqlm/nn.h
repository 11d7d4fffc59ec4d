/* seqlm/nn.h - neural network layers with hand-written forward and backward passes.
 *
 * Conventions (every layer):
 * - Shape letters: B batch, T time steps, I input features, H hidden units, G gates per unit
 *   (1 for vanilla RNNs, 4 for LSTM, 3 for GRU), E embedding size, V vocabulary, N rows (T*B).
 *   Row-major fp32; a (T, B, H) tensor has element [t][b][h] at (t*B + b)*H + h, PyTorch's
 *   seq-first layout.
 * - A layer is a small struct of sizes and parameter indices into a seqlm_params registry
 *   (seqlm/params.h), registered with PyTorch's names by seqlm_<layer>_init.
 * - forward computes outputs and keeps in a caller-owned cache what backward needs; backward
 *   ACCUMULATES (+=) into the parameter gradients (seqlm_params grads) and into input gradients
 *   (dx) when given; zeroing is the caller's explicit call (seqlm_params_zero_grad). That is
 *   what truncated BPTT and weight sharing need.
 * - Equations and parameter layouts are PyTorch 1.13's, so weights move both ways.
 * - Caches are sized once for a maximum (T, B) and reused; nothing allocates per step.
 * - Randomness (dropout, initialisation) comes from the caller's seqlm_rng only. */
#ifndef SEQLM_NN_H
#define SEQLM_NN_H

#include <stddef.h>
#include <stdint.h>

#include "seqlm/error.h"
#include "seqlm/kernels.h"
#include "seqlm/params.h"
#include "seqlm/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every *_init function returns 0 (or the index it documents), or -1 when a tensor cannot be
 * registered (a size <= 0, a name taken or too long, out of memory, params already allocated).
 * init only registers; values come from the *_reset functions after seqlm_params_alloc. */

/* ---- initialisation ---------------------------------------------------------------------- */

void seqlm_init_uniform(float *w, size_t n, float a, seqlm_rng *rng); /* U(-a, a) */
void seqlm_init_normal(float *w, size_t n, float mean, float std, seqlm_rng *rng);
/* Glorot & Bengio (2010) for a (fan_out, fan_in) matrix: U(-a, a), a = gain sqrt(6/(in+out));
 * normal: std = gain sqrt(2/(in+out)). */
void seqlm_init_xavier_uniform(float *w, int fan_out, int fan_in, float gain, seqlm_rng *rng);
void seqlm_init_xavier_normal(float *w, int fan_out, int fan_in, float gain, seqlm_rng *rng);
/* A (rows, cols) matrix with orthonormal rows or columns (Saxe et al. 2014), times gain; for a
 * recurrent matrix (G*H, H) with G > 1 each (H, H) gate block is made orthogonal on its own
 * (so the whole matrix's columns are orthogonal with norm sqrt(G), unlike PyTorch's
 * orthogonal_ on the full matrix). Gram-Schmidt, twice, in double. */
void seqlm_init_orthogonal(float *w, int rows, int cols, float gain, seqlm_rng *rng);

/* ---- embedding: out[n] = weight[ids[n]] ----------------------------------------------------- */

typedef struct {
    int V, E;
    int weight; /* (V, E) "<name>.weight" */
} seqlm_embedding;

int seqlm_embedding_init(seqlm_embedding *l, seqlm_params *p, const char *name, int V, int E);
/* PyTorch's default: N(0, 1). */
void seqlm_embedding_reset(const seqlm_embedding *l, seqlm_params *p, seqlm_rng *rng);
void seqlm_embedding_forward(const seqlm_embedding *l, const seqlm_params *p, const int32_t *ids,
                             size_t N, float *out /* (N, E) */);
void seqlm_embedding_backward(const seqlm_embedding *l, seqlm_params *p, const int32_t *ids,
                              size_t N, const float *dout /* (N, E) */);

/* ---- linear: y = x W^T + b --------------------------------------------------------------------
 */

typedef struct {
    int I, O;
    int weight; /* (O, I) "<name>.weight" */
    int bias;   /* (O) "<name>.bias", or -1 */
} seqlm_linear;

int seqlm_linear_init(seqlm_linear *l, seqlm_params *p, const char *name, int I, int O,
                      int with_bias);
/* Uses an existing (O, I) tensor as the weight (weight tying): registers "<name>.weight" as an
 * alias of tensor `weight`. seqlm_linear_reset then resets only the bias: the shared weight
 * keeps the initialisation of its owner, as PyTorch's tying does. */
int seqlm_linear_init_tied(seqlm_linear *l, seqlm_params *p, const char *name, int weight,
                           int with_bias);
/* PyTorch's default: weight and bias U(-1/sqrt(I), 1/sqrt(I)). */
void seqlm_linear_reset(const seqlm_linear *l, seqlm_params *p, seqlm_rng *rng);
void seqlm_linear_forward(const seqlm_linear *l, const seqlm_params *p, const float *x, size_t N,
                          float *y /* (N, O) */);
/* dW += dy^T x, db += sum_n dy, dx += dy W (dx may be NULL). */
void seqlm_linear_backward(const seqlm_linear *l, seqlm_params *p, const float *x, size_t N,
                           const float *dy, float *dx);

/* ---- dropout (inverted, as PyTorch): y = x * mask / (1 - rate) while training ---------------- */

/* In place on x (n); mask (n) records what was kept, for backward. rate in [0, 1). */
void seqlm_dropout_forward(float *x, uint8_t *mask, size_t n, float rate, seqlm_rng *rng);
void seqlm_dropout_backward(float *dx, const uint8_t *mask, size_t n, float rate);

/* ---- softmax + cross-entropy, fused -----------------------------------------------------------
 */

/* Mean over the targets that are not ignore_index of -log softmax(logits)[target] (accumulated in
 * double). If dlogits is not NULL it is OVERWRITTEN with the gradient of that mean:
 * (softmax - onehot) / counted, and 0 on ignored rows. *counted (may be NULL) receives the
 * number of targets used. Returns 0 if none. logits and dlogits may be the same array. */
double seqlm_softmax_xent(const float *logits /* (N, V) */, const int32_t *targets, size_t N, int V,
                          int32_t ignore_index, float *dlogits, size_t *counted);

/* ---- recurrent layers: one layer, one direction -------------------------------------------- */

typedef enum {
    SEQLM_CELL_RNN_TANH = 0,
    SEQLM_CELL_RNN_RELU,
    SEQLM_CELL_LSTM,
    SEQLM_CELL_GRU
} seqlm_cell;

const char *seqlm_cell_name(seqlm_cell c); /* "rnn-tanh", "rnn-relu", "lstm", "gru" */
int seqlm_cell_parse(const char *name, seqlm_cell *c);
int seqlm_cell_gates(seqlm_cell c); /* G: 1, 1, 4, 3 */

/* PyTorch's equations and gate order:
 *   RNN:  h' = act(W_ih x + b_ih + W_hh h + b_hh)
 *   LSTM: gates i, f, g, o: i = s(.), f = s(.), g = tanh(.), o = s(.), c' = f c + i g,
 *         h' = o tanh(c')
 *   GRU:  gates r, z, n: r = s(W_ir x + b_ir + W_hr h + b_hr), z likewise,
 *         n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h */
typedef struct {
    seqlm_cell cell;
    int I, H, G;
    int w_ih; /* (G*H, I) "<prefix>.weight_ih_<suffix>" */
    int w_hh; /* (G*H, H) "<prefix>.weight_hh_<suffix>" */
    int b_ih; /* (G*H)    "<prefix>.bias_ih_<suffix>" */
    int b_hh; /* (G*H)    "<prefix>.bias_hh_<suffix>" */
} seqlm_rnn;

/* suffix is PyTorch's: "l0", "l1", "l0_reverse", ... (a NULL or empty prefix gives names without
 * the dot). Returns 0, or -1 when a tensor cannot be registered. */
int seqlm_rnn_init(seqlm_rnn *l, seqlm_params *p, const char *prefix, const char *suffix,
                   seqlm_cell cell, int I, int H);
/* PyTorch's default: every tensor U(-1/sqrt(H), 1/sqrt(H)). */
void seqlm_rnn_reset(const seqlm_rnn *l, seqlm_params *p, seqlm_rng *rng);
/* LSTM only: b_if = value and b_hf = 0, so the forget gate starts at sigmoid(value). */
void seqlm_rnn_set_forget_bias(const seqlm_rnn *l, seqlm_params *p, float value);

/* What backward needs from forward, for up to T_max steps of B_max sequences (including a copy
 * of x: T*B*I floats), allocated once. */
typedef struct seqlm_rnn_cache seqlm_rnn_cache;
seqlm_rnn_cache *seqlm_rnn_cache_create(const seqlm_rnn *l, int T_max, int B_max);
void seqlm_rnn_cache_free(seqlm_rnn_cache *c);
size_t seqlm_rnn_cache_bytes(const seqlm_rnn *l, int T_max, int B_max);

/* Runs T steps over x (T, B, I) from h0 (B, H) and, for LSTM, c0 (B, H) (NULL = zeros); writes
 * y (T, B, H) and the final states hT, cT (B, H) (NULL = not wanted). reverse: steps run from
 * t = T-1 down to 0 (the backward direction of a bidirectional layer). lengths (B) may be NULL;
 * otherwise sequence b has lengths[b] valid steps: at t >= lengths[b] its state is carried
 * unchanged and y is 0, and a reverse run starts at t = lengths[b] - 1, so padding never
 * changes a result. hT/cT are then the states after each sequence's last valid step. Lengths
 * are clamped to [0, T]. For cells other than LSTM, cT (and dc0 in backward) come out as zeros.
 * hT and cT may alias h0 and c0 (a truncated-BPTT loop carries its state in place). */
void seqlm_rnn_forward(const seqlm_rnn *l, const seqlm_params *p, seqlm_rnn_cache *c,
                       const float *x, int T, int B, const int32_t *lengths, int reverse,
                       const float *h0, const float *c0, float *y, float *hT, float *cT);
/* Backpropagates through the steps of the last forward: dy (T, B, H) (NULL = zeros), the
 * gradients of the final states dhT, dcT (NULL = zeros). Accumulates parameter gradients and
 * dx (T, B, I) (NULL = not wanted); WRITES dh0, dc0 (B, H) (NULL = not wanted). */
void seqlm_rnn_backward(const seqlm_rnn *l, seqlm_params *p, seqlm_rnn_cache *c, const float *dy,
                        const float *dhT, const float *dcT, float *dx, float *dh0, float *dc0);

/* Diagnostics (seqlm/diag.h builds on these; neither changes a result):
 * - trace: when dh is not NULL, every later backward also WRITES into dh (T, B, H), indexed by
 *   time t, the total gradient reaching the state after step t, d loss / d h_t (from the output
 *   y_t and from step t+1 on), and for LSTM into dc (may be NULL) d loss / d c_t. The buffers
 *   are the caller's and must hold T_max * B_max * H floats; dh = NULL turns the trace off.
 * - gate saturation of the last forward: for each gate block g < G, count[g] += the live values
 *   seen, saturated[g] += those where the activation is flat: sigmoid gates (LSTM i, f, o; GRU
 *   r, z) below 0.05 or above 0.95, tanh (LSTM g, GRU n, the tanh RNN) |v| > 0.95, ReLU v = 0. */
void seqlm_rnn_cache_trace(seqlm_rnn_cache *c, float *dh, float *dc);
void seqlm_rnn_gate_saturation(const seqlm_rnn_cache *c, uint64_t *count, uint64_t *saturated);

/* ---- stacks: L layers x D directions, dropout between layers (PyTorch nn.RNN/LSTM/GRU) ---- */

#define SEQLM_MAX_LAYERS 8

typedef struct {
    seqlm_cell cell;
    int L, D, I, H; /* D = 2 when bidirectional: outputs concatenated (T, B, 2H) */
    float dropout;  /* on the outputs of every layer but the last, while training */
    seqlm_rnn layer[SEQLM_MAX_LAYERS * 2]; /* layer[l*D + d] */
} seqlm_rnn_stack;

typedef struct seqlm_stack_cache seqlm_stack_cache;

int seqlm_rnn_stack_init(seqlm_rnn_stack *s, seqlm_params *p, const char *prefix, seqlm_cell cell,
                         int I, int H, int L, int bidirectional, float dropout);
void seqlm_rnn_stack_reset(const seqlm_rnn_stack *s, seqlm_params *p, seqlm_rng *rng);
seqlm_stack_cache *seqlm_stack_cache_create(const seqlm_rnn_stack *s, int T_max, int B_max);
void seqlm_stack_cache_free(seqlm_stack_cache *c);
size_t seqlm_stack_cache_bytes(const seqlm_rnn_stack *s, int T_max, int B_max);
/* A unidirectional stack's recurrent weights packed once for evaluation by seqlm_threads()
 * threads (src/nn/rnn_pack.c): each thread owns a range of hidden units with all their gate
 * rows, so a step is one product and one cell per thread and one barrier. Copies the weights
 * (G*H*H floats a layer) and does not follow later changes; keeps pointers to s and p. Scratch
 * for T_max steps of B_max rows. NULL when the CPU lacks AVX-512 or the stack is bidirectional
 * (use seqlm_rnn_stack_forward), or out of memory. Free with seqlm_stack_pack_free. */
typedef struct seqlm_stack_pack seqlm_stack_pack;
seqlm_stack_pack *seqlm_stack_pack_create(const seqlm_rnn_stack *s, const seqlm_params *p,
                                          int T_max, int B_max);
void seqlm_stack_pack_free(seqlm_stack_pack *k);
/* seqlm_rnn_stack_forward for evaluation (no dropout, no cache, every row live): x (T, B, I) ->
 * y (T, B, H); the state h (L, B, H) and, for LSTM, c (L, B, H) are read and updated in place.
 * The result does not depend on the thread count; it agrees with seqlm_rnn_stack_forward to
 * rounding. */
void seqlm_stack_pack_forward(seqlm_stack_pack *k, const float *x, int T, int B, float *h, float *c,
                              float *y);

/* The cache of layer k = l*D + d (for its trace and gate saturation); owned by the stack cache. */
seqlm_rnn_cache *seqlm_stack_cache_layer(seqlm_stack_cache *c, int k);
/* h0, c0, hT, cT: (L*D, B, H) as PyTorch, index l*D + d (NULL = zeros / not wanted);
 * y: (T, B, D*H). training: dropout between layers is applied (with rng) only when set. */
void seqlm_rnn_stack_forward(const seqlm_rnn_stack *s, const seqlm_params *p, seqlm_stack_cache *c,
                             const float *x, int T, int B, const int32_t *lengths, const float *h0,
                             const float *c0, float *y, float *hT, float *cT, int training,
                             seqlm_rng *rng);
void seqlm_rnn_stack_backward(const seqlm_rnn_stack *s, seqlm_params *p, seqlm_stack_cache *c,
                              const float *dy, const float *dhT, const float *dcT, float *dx,
                              float *dh0, float *dc0);

/* ---- the output layer, behind one interface ------------------------------------------------- */

/* Maps hidden states to a distribution over V words. The full softmax is the one kind today;
 * class-factored, hierarchical and adaptive softmax can be added behind the same calls. */
typedef enum { SEQLM_OUTPUT_SOFTMAX = 0 } seqlm_output_kind;

typedef struct {
    seqlm_output_kind kind;
    int H, V;
    seqlm_linear proj; /* "<name>": decoder.weight (V, H), decoder.bias (V) */
    size_t N_max;
    float *logits; /* (N_max, V) scratch, owned */
} seqlm_output;

/* tied_weight >= 0 ties the projection to that (V, H) tensor (the input embedding). */
int seqlm_output_init(seqlm_output *o, seqlm_params *p, const char *name, int H, int V,
                      int tied_weight, size_t N_max);
void seqlm_output_free(seqlm_output *o);
void seqlm_output_reset(const seqlm_output *o, seqlm_params *p, seqlm_rng *rng);
/* Mean cross-entropy (natural log) of targets given h (N, H), ignoring ignore_index; with dh
 * not NULL, also backpropagates: accumulates the parameter gradients and dh (N, H). */
double seqlm_output_loss(seqlm_output *o, seqlm_params *p, const float *h, size_t N,
                         const int32_t *targets, int32_t ignore_index, float *dh);
/* ln p(targets[n] | h[n]) for each row into lp (N) (0 for ignored rows), without forming the
 * (N, V) matrix: logits are made in cache-sized blocks and each row's log-sum-exp is combined
 * over the blocks in a fixed order (the result does not depend on the thread count). Returns
 * the summed negative log-likelihood of the counted rows, NaN when out of memory. Targets must
 * be in [0, V) or ignore_index. */
double seqlm_output_score(const seqlm_output *o, const seqlm_params *p, const float *h, size_t N,
                          const int32_t *targets, int32_t ignore_index, float *lp);
/* The output layer's weights copied once into the layout of a register kernel that makes each
 * row's log-sum-exp as its logits are summed (src/nn/output_pack.c): seqlm_output_score at up to
 * the machine's fp32 rate (or twice that in bf16), for evaluating many rows with weights that do
 * not change. The pack copies the weights when it is made (fp32: V*H*4 bytes, bf16: half) and
 * does not follow later changes; it keeps pointers to o and p (used without AVX-512, where fp32
 * scores through seqlm_output_score). Returns NULL when out of memory or when
 * !seqlm_precision_supported(prec). Free with seqlm_output_pack_free (NULL is a no-op). */
typedef struct seqlm_output_pack seqlm_output_pack;
seqlm_output_pack *seqlm_output_pack_create(const seqlm_output *o, const seqlm_params *p,
                                            seqlm_precision prec);
void seqlm_output_pack_free(seqlm_output_pack *k);
/* As seqlm_output_score (the same contract, NaN also for a target outside [0, V) and for a row
 * with a NaN logit); the result does not depend on the thread count, and with the AVX-512 kernels
 * a row's result depends only on that row (not on N). fp32 results agree with
 * seqlm_output_score to rounding (the products are summed in another order). */
double seqlm_output_pack_score(const seqlm_output_pack *k, const float *h, size_t N,
                               const int32_t *targets, int32_t ignore_index, float *lp);
/* log p(w | h) for every word: out (N, V). */
void seqlm_output_logprobs(seqlm_output *o, const seqlm_params *p, const float *h, size_t N,
                           float *out);

/* ---- the fixed-window neural LM of Bengio et al. (2003) ------------------------------------- */

/* x = [C(w_{t-n}) .. C(w_{t-1})] (n*E), a = tanh(d + H x), logits = b + U a + W x (W only with
 * direct connections). Names: "embedding.weight" (V, E), "hidden.weight" (Hd, n*E),
 * "hidden.bias", "output.weight" (V, Hd), "output.bias", "direct.weight" (V, n*E). */
typedef struct {
    int V, E, n, Hd;
    int direct;
    seqlm_embedding emb;
    seqlm_linear hidden, out, skip;
    size_t N_max;
    float *x, *a, *logits, *dx, *da; /* scratch, (N_max, .), owned */
} seqlm_window;

int seqlm_window_init(seqlm_window *m, seqlm_params *p, int V, int E, int n, int Hd, int direct,
                      size_t N_max);
void seqlm_window_free(seqlm_window *m);
void seqlm_window_reset(const seqlm_window *m, seqlm_params *p, seqlm_rng *rng);
/* context (N, n) word ids (oldest first), targets (N): mean cross-entropy over the targets that
 * are not -100; with backward set, accumulates all parameter gradients. */
double seqlm_window_loss(seqlm_window *m, seqlm_params *p, const int32_t *context,
                         const int32_t *targets, size_t N, int backward);
/* log p(w | context) for every word: out (N, V). */
void seqlm_window_logprobs(seqlm_window *m, const seqlm_params *p, const int32_t *context, size_t N,
                           float *out);

#ifdef __cplusplus
}
#endif
#endif
