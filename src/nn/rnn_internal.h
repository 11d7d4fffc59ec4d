/* rnn_internal.h - what rnn.c (the layer driver), lstm.c, gru.c and stack.c share; not public.
 *
 * A recurrent layer is split in two parts:
 * - the driver (rnn.c) does every matrix product: the input projection of all T steps in one
 *   matmul, the recurrent product h_{t-1} W_hh^T per step, and in backward the weight and input
 *   gradients in one matmul each over all T*B rows;
 * - a cell (rnn.c for the vanilla cells, lstm.c, gru.c) does the elementwise gate math of one
 *   step for all B rows, fused in one loop, forward and backward.
 * The driver takes row strides for y and dy, so that the two directions of a bidirectional
 * stack write and read their halves of a (T, B, 2H) tensor in place (stack.c).
 *
 * Steps are visited in processing order s = 0..T-1 at time t = s (forward) or t = T-1-s
 * (reverse). Every per-step tensor of the cache is indexed by time t, not by s, so that row n of
 * the gate gradients dG (T*B, G*H) belongs to row n of the inputs x (T*B, I) and of the states
 * h_prev (T*B, H) whatever the direction: that is what lets dW_ih += dG^T x and
 * dW_hh += dG^T h_prev be one matmul each.
 *
 * Padding: row b is live at time t when t < lengths[b]. A dead row carries its state unchanged
 * (h' = h, c' = c), outputs 0, and in backward has zero gate gradients and passes dh, dc through
 * unchanged; its gate values in the cache are never read. */
#ifndef SEQLM_NN_RNN_INTERNAL_H
#define SEQLM_NN_RNN_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "seqlm/nn.h"

/* Programmer errors (a cache too small for the call, ...): abort with file:line. */
#include "util/assert.h"

/* The elementwise loop of a step runs on OpenMP threads only when it is this large (B*H):
 * below it the fork/join costs more than the arithmetic. */
#define RNN_OMP_MIN_WORK 16384

/* The input part of every step at once: a (N, G*H) = x (N, I) W_ih^T + b_ih, plus b_hh where
 * it simply adds (not in GRU, whose n gate multiplies the hidden part and its bias by r). */
void rnn_input_gates(const seqlm_rnn *l, const seqlm_params *p, const float *x, size_t N, float *a);

struct seqlm_rnn_cache {
    seqlm_cell cell;
    int I, H, G, T_max, B_max;
    /* the last forward call */
    int T, B, reverse;
    int32_t *lengths;    /* (B_max) valid steps per row; T for every row when none were given */
    float *x;            /* (T_max, B_max, I) copy of the input */
    float *gates;        /* (T_max, B_max, G*H) gates after their nonlinearities (RNN: h' itself) */
    float *h_prev;       /* (T_max, B_max, H) the state entering time t */
    float *c_prev;       /* LSTM: (T_max, B_max, H) the cell entering time t */
    float *tanh_c;       /* LSTM: (T_max, B_max, H) tanh of the cell after time t */
    float *hn;           /* GRU: (T_max, B_max, H) W_hn h_prev + b_hn */
    float *gh;           /* GRU: (B_max, G*H) scratch for h_prev W_hh^T */
    float *h_last;       /* (B_max, H) the state after the last step */
    float *c_last;       /* LSTM: (B_max, H) */
    float *dG;           /* (T_max, B_max, G*H) d loss / d (input-side gate pre-activations) */
    float *dGh;          /* (T_max, B_max, G*H) hidden side: dG itself except for GRU (n gate) */
    float *dh, *dh_prev; /* (B_max, H) running state gradients (ping-pong) */
    float *dc, *dc_prev; /* LSTM: (B_max, H) */
    /* Optional, caller-owned (seqlm_rnn_cache_trace): backward writes the total gradient
     * reaching each step's state, d loss / d h_t and (LSTM) d loss / d c_t, (T_max, B_max, H)
     * indexed by time t. NULL (the default) = not recorded, at no cost. */
    float *trace_dh, *trace_dc;
};

/* seqlm_rnn_forward / seqlm_rnn_backward with row strides: y and dy are (T, B, .) with row
 * stride ldy / lddy >= H (the layer's H columns start at the given pointer). */
void rnn_forward_strided(const seqlm_rnn *l, const seqlm_params *p, seqlm_rnn_cache *c,
                         const float *x, int T, int B, const int32_t *lengths, int reverse,
                         const float *h0, const float *c0, float *y, int ldy, float *hT, float *cT);
void rnn_backward_strided(const seqlm_rnn *l, seqlm_params *p, seqlm_rnn_cache *c, const float *dy,
                          int lddy, const float *dhT, const float *dcT, float *dx, float *dh0,
                          float *dc0);

/* One step of a cell over B rows at time t. Forward: `a` (B, G*H) holds the pre-activations
 * (x W_ih^T + b_ih + h W_hh^T + b_hh for RNN and LSTM; for GRU only the input side x W_ih^T +
 * b_ih, with the hidden side gh = h W_hh^T apart) and is overwritten with the activated gates;
 * writes the new state and y_t (row stride ldy, may be NULL). Backward: dh (B, H) is
 * d loss / d h_t from later steps, dy_t may be NULL; writes the gate gradients dG_t (and dGh_t
 * for GRU) and the direct part of dh_prev (the part not through W_hh, which the driver adds). */
void rnn_cell_forward(int relu, int B, int H, int t, const int32_t *lengths, float *a,
                      const float *h_prev, float *h, float *y, int ldy);
void rnn_cell_backward(int relu, int B, int H, int t, const int32_t *lengths, const float *gates,
                       const float *dh, const float *dy, int lddy, float *dG, float *dh_prev);

void lstm_cell_forward(int B, int H, int t, const int32_t *lengths, float *a, const float *h_prev,
                       const float *c_prev, float *h, float *c, float *tanh_c, float *y, int ldy);
void lstm_cell_backward(int B, int H, int t, const int32_t *lengths, const float *gates,
                        const float *c_prev, const float *tanh_c, const float *dh, const float *dc,
                        const float *dy, int lddy, float *dG, float *dh_prev, float *dc_prev);

void gru_cell_forward(int B, int H, int t, const int32_t *lengths, float *a, const float *gh,
                      const float *b_hh, const float *h_prev, float *hn, float *h, float *y,
                      int ldy);
void gru_cell_backward(int B, int H, int t, const int32_t *lengths, const float *gates,
                       const float *hn, const float *h_prev, const float *dh, const float *dy,
                       int lddy, float *dG, float *dGh, float *dh_prev);

/* exp, sigmoid and tanh for the gates: kernels/vmath.h. */
#include "kernels/vmath.h"

#endif
