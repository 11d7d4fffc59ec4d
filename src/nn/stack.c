/* stack.c - L recurrent layers x D directions, as PyTorch's nn.RNN / nn.LSTM / nn.GRU.
 *
 * Layer l, direction d is layer[l*D + d], named "<prefix>.weight_ih_l<l>" (+ "_reverse" for
 * d = 1). Layer 0 reads x (T, B, I); layer l > 0 reads the output of layer l-1 (T, B, D*H), in
 * which the forward direction wrote columns [0, H) and the reverse one [H, 2H) - in place,
 * through the driver's row strides, so nothing is concatenated by copying. While training,
 * dropout is applied to the output of every layer but the last (the input of layers 1..L-1).
 * Initial and final states are (L*D, B, H), index l*D + d, PyTorch's h_0/h_n layout.
 *
 * Backward walks the layers top down: each layer's two directions accumulate into one input
 * gradient (T, B, D*H), which then goes back through the dropout mask to the layer below. Not
 * here: the cell math and the matrix products (rnn.c, lstm.c, gru.c). */
#include <string.h>

#include "nn/rnn_internal.h"

struct seqlm_stack_cache {
    int T_max, B_max;
    int T, B, dropped; /* the last forward; dropped: dropout was applied */
    seqlm_rnn_cache *layer[SEQLM_MAX_LAYERS * 2];
    float *mid;     /* (L-1, T_max, B_max, D*H) outputs of layers 0..L-2, after dropout */
    uint8_t *mask;  /* (L-1, T_max, B_max, D*H) dropout masks */
    float *dmid[2]; /* (T_max, B_max, D*H) input gradients of layers l > 0, alternating */
};

int seqlm_rnn_stack_init(seqlm_rnn_stack *s, seqlm_params *p, const char *prefix, seqlm_cell cell,
                         int I, int H, int L, int bidirectional, float dropout) {
    if (L < 1 || L > SEQLM_MAX_LAYERS || !(dropout >= 0.0f && dropout < 1.0f)) return -1;
    memset(s, 0, sizeof *s);
    s->cell = cell;
    s->L = L;
    s->D = bidirectional ? 2 : 1;
    s->I = I;
    s->H = H;
    s->dropout = dropout;
    for (int l = 0; l < L; l++)
        for (int d = 0; d < s->D; d++) {
            char suffix[32];
            snprintf(suffix, sizeof suffix, "l%d%s", l, d ? "_reverse" : "");
            if (seqlm_rnn_init(&s->layer[l * s->D + d], p, prefix, suffix, cell, l ? s->D * H : I,
                               H))
                return -1;
        }
    return 0;
}

void seqlm_rnn_stack_reset(const seqlm_rnn_stack *s, seqlm_params *p, seqlm_rng *rng) {
    for (int k = 0; k < s->L * s->D; k++) seqlm_rnn_reset(&s->layer[k], p, rng);
}

static size_t mid_floats(const seqlm_rnn_stack *s, int T_max, int B_max) {
    return (size_t)T_max * B_max * s->D * s->H;
}

size_t seqlm_stack_cache_bytes(const seqlm_rnn_stack *s, int T_max, int B_max) {
    size_t n = sizeof(seqlm_stack_cache), m = mid_floats(s, T_max, B_max);
    for (int k = 0; k < s->L * s->D; k++) n += seqlm_rnn_cache_bytes(&s->layer[k], T_max, B_max);
    if (s->L > 1) n += (s->L - 1) * m * (sizeof(float) + 1) + 2 * m * sizeof(float);
    return n;
}

seqlm_stack_cache *seqlm_stack_cache_create(const seqlm_rnn_stack *s, int T_max, int B_max) {
    seqlm_stack_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->T_max = T_max;
    c->B_max = B_max;
    int ok = 1;
    for (int k = 0; k < s->L * s->D; k++)
        ok &= (c->layer[k] = seqlm_rnn_cache_create(&s->layer[k], T_max, B_max)) != NULL;
    if (s->L > 1) {
        size_t m = mid_floats(s, T_max, B_max);
        c->mid = malloc((s->L - 1) * m * sizeof *c->mid);
        c->mask = malloc((s->L - 1) * m);
        c->dmid[0] = malloc(2 * m * sizeof *c->dmid[0]);
        c->dmid[1] = c->dmid[0] ? c->dmid[0] + m : NULL;
        ok &= c->mid && c->mask && c->dmid[0];
    }
    if (!ok) {
        seqlm_stack_cache_free(c);
        return NULL;
    }
    return c;
}

void seqlm_stack_cache_free(seqlm_stack_cache *c) {
    if (!c) return;
    for (int k = 0; k < SEQLM_MAX_LAYERS * 2; k++) seqlm_rnn_cache_free(c->layer[k]);
    free(c->mid);
    free(c->mask);
    free(c->dmid[0]);
    free(c);
}

seqlm_rnn_cache *seqlm_stack_cache_layer(seqlm_stack_cache *c, int k) {
    SEQLM_ASSERT(k >= 0 && k < SEQLM_MAX_LAYERS * 2);
    return c->layer[k];
}

/* The state tensor of layer k in an (L*D, B, H) block, or NULL. */
static const float *state_in(const float *s, int k, int B, int H) {
    return s ? s + (size_t)k * B * H : NULL;
}
static float *state_out(float *s, int k, int B, int H) {
    return s ? s + (size_t)k * B * H : NULL;
}

void seqlm_rnn_stack_forward(const seqlm_rnn_stack *s, const seqlm_params *p, seqlm_stack_cache *c,
                             const float *x, int T, int B, const int32_t *lengths, const float *h0,
                             const float *c0, float *y, float *hT, float *cT, int training,
                             seqlm_rng *rng) {
    SEQLM_ASSERT(T <= c->T_max && B <= c->B_max);
    const int L = s->L, D = s->D, H = s->H, DH = s->D * s->H;
    const size_t m = (size_t)T * B * DH, stride = mid_floats(s, c->T_max, c->B_max);
    c->T = T;
    c->B = B;
    c->dropped = training && s->dropout > 0.0f && L > 1;
    SEQLM_ASSERT(!c->dropped || rng);
    for (int l = 0; l < L; l++) {
        const float *in = l ? c->mid + (size_t)(l - 1) * stride : x;
        float *out = l < L - 1 ? c->mid + (size_t)l * stride : y;
        for (int d = 0; d < D; d++) {
            int k = l * D + d;
            rnn_forward_strided(&s->layer[k], p, c->layer[k], in, T, B, lengths, d,
                                state_in(h0, k, B, H), state_in(c0, k, B, H),
                                out ? out + (size_t)d * H : NULL, DH, state_out(hT, k, B, H),
                                state_out(cT, k, B, H));
        }
        if (l < L - 1 && c->dropped)
            seqlm_dropout_forward(out, c->mask + (size_t)l * stride, m, s->dropout, rng);
    }
}

void seqlm_rnn_stack_backward(const seqlm_rnn_stack *s, seqlm_params *p, seqlm_stack_cache *c,
                              const float *dy, const float *dhT, const float *dcT, float *dx,
                              float *dh0, float *dc0) {
    const int L = s->L, D = s->D, H = s->H, DH = s->D * s->H, T = c->T, B = c->B;
    const size_t m = (size_t)T * B * DH, stride = mid_floats(s, c->T_max, c->B_max);
    const float *dout = dy; /* d loss / d (output of layer l), (T, B, D*H) */
    for (int l = L - 1; l >= 0; l--) {
        float *din = l ? c->dmid[l % 2] : dx; /* d loss / d (input of layer l) */
        if (l) memset(din, 0, m * sizeof *din);
        for (int d = 0; d < D; d++) {
            int k = l * D + d;
            rnn_backward_strided(&s->layer[k], p, c->layer[k], dout ? dout + (size_t)d * H : NULL,
                                 DH, state_in(dhT, k, B, H), state_in(dcT, k, B, H), din,
                                 state_out(dh0, k, B, H), state_out(dc0, k, B, H));
        }
        if (l && c->dropped)
            seqlm_dropout_backward(din, c->mask + (size_t)(l - 1) * stride, m, s->dropout);
        dout = din;
    }
}
