/* seqlm/diag.h - seeing why a recurrent language model learns or fails to: how the gradient
 * flows back through time, and what a training run's gradients, updates and gates do.
 *
 * Gradient flow. For a window of T inputs x_1..x_T taken from a text, J(T) is the loss of the
 * prediction made at the last step (-log p(x_{T+1} | x_1..x_T)). seqlm_gradflow measures, for
 * every recurrent layer, the norm of the gradient of J(T) with respect to that layer's hidden
 * state k steps earlier, ||dJ(T)/dh(T-k)||, k = 0..T-1 (for LSTMs also the cell state's,
 * ||dJ(T)/dc(T-k)||), per sequence, and averages it over many windows. It is the quantity of
 * the textbook argument (Bengio et al. 1994; Pascanu et al. 2013): a vanilla RNN's gradient is
 * multiplied by W_h^T diag(act') at every step back and shrinks (or grows) geometrically; the
 * LSTM's additive cell path lets it through. The gradient is the total one reaching the state:
 * through the next step and, at layers below the top, through the layers above at the same and
 * later steps. No parameter is changed; the model's gradient buffers are used and left zeroed.
 *
 *     seqlm_gradflow_config gc = seqlm_gradflow_default_config();   // T 50, 200 windows
 *     seqlm_gradflow_result r;
 *     seqlm_gradflow(lm, &stream, &gc, &r, &err);
 *     r.mean[(l * 2 + 0) * r.T + k]                                  // layer l, h, k back
 *     seqlm_gradflow_result_free(&r);
 *
 * Training diagnostics: with seqlm_train_config.diag set, every "interval" event carries a
 * seqlm_train_diag (below), also written into the JSON-lines log as "diag". */
#ifndef SEQLM_DIAG_H
#define SEQLM_DIAG_H

#include <stddef.h>
#include <stdint.h>

#include "seqlm/error.h"
#include "seqlm/lm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- gradient flow through time ------------------------------------------------------------ */

typedef struct {
    int length;  /* T, steps per window (default 50) */
    int windows; /* sequences measured (default 200) */
    int batch;   /* sequences run in parallel (default 20) */
    int warmup;  /* steps of the text before each window run forward (no gradient) to give the
                    window its starting state, as in training where the state is carried; 0 =
                    every window starts from the zero state (default 100) */
} seqlm_gradflow_config;

seqlm_gradflow_config seqlm_gradflow_default_config(void);

/* Three statistics over the sequences, each (L, 2, T) at index (l*2 + s)*T + k: layer l
 * (0 = the bottom), s = 0 the hidden state, 1 the cell state (LSTM only; zeros otherwise),
 * k = steps back from the last (0 .. T-1). */
typedef struct {
    int T, L;
    int has_cell; /* the model is an LSTM: s = 1 is filled */
    int windows;  /* sequences measured */
    double *mean; /* arithmetic mean of ||dJ(T)/dh(T-k)|| */
    /* mean of log10 ||dJ(T)/dh(T-k)|| (10^it is the geometric mean; a norm of exactly 0 counts
     * as 1e-30). Vanishing gradients span orders of magnitude across sequences, so the
     * arithmetic mean follows the few largest; the geometric mean is the typical sequence. */
    double *mean_log10;
    /* mean of ||dJ(T)/dh(T-k)|| / ||dJ(T)/dh(T)|| (the same layer and state; sequences whose
     * k = 0 norm is 0 are left out): the decay alone, whatever the size of the loss gradient. */
    double *mean_ratio;
} seqlm_gradflow_result;

/* Measures gradient flow on windows of text s (ids of m's vocabulary, as seqlm_stream_read
 * gives them): window i (i < windows) starts at position warmup + floor(i * (n - T - 1 -
 * warmup) / windows), so the windows are spread evenly over the text; inputs are T ids, the
 * target the one after. Errors: a model without recurrent state (the window arch), a text too
 * short (fewer than warmup + T + 1 ids), a bad config, out of memory. *r is filled on success
 * (seqlm_gradflow_result_free) and zeroed on failure. Uses the caller's thread setting. */
seqlm_status seqlm_gradflow(seqlm_lm *m, const seqlm_stream *s, const seqlm_gradflow_config *c,
                            seqlm_gradflow_result *r, seqlm_error *err);
void seqlm_gradflow_result_free(seqlm_gradflow_result *r);

/* ---- training diagnostics -------------------------------------------------------------------
 */

#define SEQLM_DIAG_MAX_GATES 4

/* What one interval of training did (the arrays belong to the training loop and are valid
 * during the event callback only). */
struct seqlm_train_diag {
    uint64_t steps;       /* updates in the interval */
    double grad_norm_max; /* the largest global gradient norm before clipping (the mean is the
                             event's grad_norm) */
    double clipped;       /* the fraction of the interval's updates whose norm was clipped */
    /* ||w' - w|| / ||w|| of every parameter tensor (aliases left out) for the FIRST update of
     * the interval (one update sampled per interval: measuring every update would cost a copy
     * of the model per step). tensors entries; names are the model's tensor names. */
    int tensors;
    const char *const *tensor_names;
    const double *update_ratio;
    /* gate saturation over every update of the interval, (layers, gates): the share of the
     * gate values where the activation is flat (seqlm_rnn_gate_saturation): LSTM gates
     * "i f g o", GRU "r z n", vanilla RNN "h". layers = 0 for the window model. */
    int layers, gates;
    const char *gate_names[SEQLM_DIAG_MAX_GATES];
    const double *saturation;
};

#ifdef __cplusplus
}
#endif
#endif
