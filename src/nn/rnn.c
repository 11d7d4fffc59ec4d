/* rnn.c - one recurrent layer, one direction: registration, the training cache, and the driver
 * that runs forward and backward through time for every cell kind, plus the vanilla tanh / relu
 * cell (LSTM and GRU cells are in lstm.c and gru.c).
 *
 * The driver does all matrix products through seqlm_matmul (see rnn_internal.h):
 *   forward:  A = X W_ih^T + b_ih (+ b_hh)        one (T*B, I) x (I, G*H) product for all steps
 *             A_t += h_{t-1} W_hh^T               one (B, H) x (H, G*H) product per step
 *   backward: dh_{t-1} += dGh_t W_hh              one (B, G*H) x (G*H, H) product per step
 *             dW_ih += dG^T X, dW_hh += dGh^T H_prev, dx += dG W_ih, db = column sums
 *                                                 one product each over all T*B rows
 * so the work that is sequential in time is only what has to be. Not here: multiple layers,
 * two directions and dropout between layers (stack.c). */
#include <math.h>
#include <string.h>

#include "nn/rnn_internal.h"
#include "seqlm/kernels.h"

/* ---- cell kinds ----------------------------------------------------------------------------- */

static const char *const cell_names[] = {"rnn-tanh", "rnn-relu", "lstm", "gru"};

const char *seqlm_cell_name(seqlm_cell c) {
    return (unsigned)c < 4 ? cell_names[c] : "unknown";
}

int seqlm_cell_parse(const char *name, seqlm_cell *c) {
    for (int i = 0; i < 4; i++)
        if (strcmp(name, cell_names[i]) == 0) {
            *c = (seqlm_cell)i;
            return 0;
        }
    return -1;
}

int seqlm_cell_gates(seqlm_cell c) {
    switch (c) {
    case SEQLM_CELL_RNN_TANH:
    case SEQLM_CELL_RNN_RELU:
        return 1;
    case SEQLM_CELL_LSTM:
        return 4;
    case SEQLM_CELL_GRU:
        return 3;
    }
    return 0;
}

/* ---- parameters ----------------------------------------------------------------------------- */

static int add_tensor(seqlm_params *p, const char *prefix, const char *what, const char *suffix,
                      int ndim, int64_t rows, int64_t cols) {
    char name[SEQLM_PARAM_NAME_MAX];
    int n = prefix && *prefix ? snprintf(name, sizeof name, "%s.%s_%s", prefix, what, suffix)
                              : snprintf(name, sizeof name, "%s_%s", what, suffix);
    if (n < 0 || (size_t)n >= sizeof name) return -1;
    int64_t shape[2] = {rows, cols};
    return seqlm_params_add(p, name, ndim, shape);
}

int seqlm_rnn_init(seqlm_rnn *l, seqlm_params *p, const char *prefix, const char *suffix,
                   seqlm_cell cell, int I, int H) {
    int G = seqlm_cell_gates(cell);
    if (!G || I <= 0 || H <= 0 || !suffix) return -1;
    memset(l, 0, sizeof *l);
    l->cell = cell;
    l->I = I;
    l->H = H;
    l->G = G;
    /* PyTorch's registration order, so that our state_dict lists tensors as its does */
    l->w_ih = add_tensor(p, prefix, "weight_ih", suffix, 2, (int64_t)G * H, I);
    l->w_hh = add_tensor(p, prefix, "weight_hh", suffix, 2, (int64_t)G * H, H);
    l->b_ih = add_tensor(p, prefix, "bias_ih", suffix, 1, (int64_t)G * H, 0);
    l->b_hh = add_tensor(p, prefix, "bias_hh", suffix, 1, (int64_t)G * H, 0);
    return l->w_ih < 0 || l->w_hh < 0 || l->b_ih < 0 || l->b_hh < 0 ? -1 : 0;
}

void seqlm_rnn_reset(const seqlm_rnn *l, seqlm_params *p, seqlm_rng *rng) {
    float a = 1.0f / sqrtf((float)l->H);
    const int t[4] = {l->w_ih, l->w_hh, l->b_ih, l->b_hh};
    for (int i = 0; i < 4; i++)
        seqlm_init_uniform(seqlm_params_value(p, t[i]), p->info[t[i]].size, a, rng);
}

/* The whole value goes into b_if, b_hf becomes 0: their sum is all the cell sees. */
void seqlm_rnn_set_forget_bias(const seqlm_rnn *l, seqlm_params *p, float value) {
    if (l->cell != SEQLM_CELL_LSTM) return;
    float *b_ih = seqlm_params_value(p, l->b_ih), *b_hh = seqlm_params_value(p, l->b_hh);
    for (int j = l->H; j < 2 * l->H; j++) {
        b_ih[j] = value;
        b_hh[j] = 0.0f;
    }
}

/* ---- the cache: one allocation, tensors pointed into it ------------------------------------- */

typedef struct {
    size_t x, gates, h_prev, c_prev, tanh_c, hn, gh, h_last, c_last, dG, dGh, dh, dh_prev, dc,
        dc_prev, lengths, total; /* offsets in floats; (size_t)-1 = absent */
} cache_layout;

static size_t take(size_t *total, size_t n) {
    if (!n) return (size_t)-1;
    size_t at = *total;
    *total += (n + 15) / 16 * 16; /* 64-byte aligned tensors */
    return at;
}

static cache_layout layout_of(seqlm_cell cell, int I, int H, int T_max, int B_max) {
    size_t G = (size_t)seqlm_cell_gates(cell), TB = (size_t)T_max * B_max, BH = (size_t)B_max * H;
    int lstm = cell == SEQLM_CELL_LSTM, gru = cell == SEQLM_CELL_GRU;
    cache_layout o;
    o.total = 0;
    o.x = take(&o.total, TB * I);
    o.gates = take(&o.total, TB * G * H);
    o.h_prev = take(&o.total, TB * H);
    o.c_prev = take(&o.total, lstm ? TB * H : 0);
    o.tanh_c = take(&o.total, lstm ? TB * H : 0);
    o.hn = take(&o.total, gru ? TB * H : 0);
    o.gh = take(&o.total, gru ? BH * G : 0);
    o.h_last = take(&o.total, BH);
    o.c_last = take(&o.total, lstm ? BH : 0);
    o.dG = take(&o.total, TB * G * H);
    o.dGh = take(&o.total, gru ? TB * G * H : 0);
    o.dh = take(&o.total, BH);
    o.dh_prev = take(&o.total, BH);
    o.dc = take(&o.total, lstm ? BH : 0);
    o.dc_prev = take(&o.total, lstm ? BH : 0);
    o.lengths = take(&o.total, (size_t)B_max); /* int32, the size of a float */
    return o;
}

size_t seqlm_rnn_cache_bytes(const seqlm_rnn *l, int T_max, int B_max) {
    return sizeof(seqlm_rnn_cache) +
           layout_of(l->cell, l->I, l->H, T_max, B_max).total * sizeof(float) + 64;
}

static float *at(float *base, size_t off) {
    return off == (size_t)-1 ? NULL : base + off;
}

seqlm_rnn_cache *seqlm_rnn_cache_create(const seqlm_rnn *l, int T_max, int B_max) {
    if (T_max <= 0 || B_max <= 0) return NULL;
    cache_layout o = layout_of(l->cell, l->I, l->H, T_max, B_max);
    seqlm_rnn_cache *c = calloc(1, sizeof *c);
    float *base = aligned_alloc(64, o.total * sizeof(float));
    if (!c || !base) {
        free(c);
        free(base);
        return NULL;
    }
    c->cell = l->cell;
    c->I = l->I;
    c->H = l->H;
    c->G = l->G;
    c->T_max = T_max;
    c->B_max = B_max;
    c->x = base; /* o.x == 0: the block's start, freed through it */
    c->gates = at(base, o.gates);
    c->h_prev = at(base, o.h_prev);
    c->c_prev = at(base, o.c_prev);
    c->tanh_c = at(base, o.tanh_c);
    c->hn = at(base, o.hn);
    c->gh = at(base, o.gh);
    c->h_last = at(base, o.h_last);
    c->c_last = at(base, o.c_last);
    c->dG = at(base, o.dG);
    c->dGh = l->cell == SEQLM_CELL_GRU ? at(base, o.dGh) : c->dG;
    c->dh = at(base, o.dh);
    c->dh_prev = at(base, o.dh_prev);
    c->dc = at(base, o.dc);
    c->dc_prev = at(base, o.dc_prev);
    c->lengths = (int32_t *)at(base, o.lengths);
    return c;
}

void seqlm_rnn_cache_free(seqlm_rnn_cache *c) {
    if (!c) return;
    free(c->x);
    free(c);
}

/* ---- the vanilla cell: h' = act(a), a = W_ih x + b_ih + W_hh h + b_hh ----------------------- */

void rnn_cell_forward(int relu, int B, int H, int t, const int32_t *lengths, float *a,
                      const float *h_prev, float *h, float *y, int ldy) {
#pragma omp parallel for schedule(static) if ((size_t)B * H > RNN_OMP_MIN_WORK)
    for (int b = 0; b < B; b++) {
        float *ab = a + (size_t)b * H, *hb = h + (size_t)b * H;
        float *yb = y ? y + (size_t)b * ldy : NULL;
        if (t >= lengths[b]) { /* padding: the state is carried, the output is 0 */
            memcpy(hb, h_prev + (size_t)b * H, (size_t)H * sizeof *hb);
            if (yb) memset(yb, 0, (size_t)H * sizeof *yb);
            continue;
        }
        if (relu) {
#pragma omp simd
            for (int j = 0; j < H; j++) ab[j] = hb[j] = ab[j] > 0.0f ? ab[j] : 0.0f;
        } else {
#pragma omp simd
            for (int j = 0; j < H; j++) ab[j] = hb[j] = vtanhf(ab[j]);
        }
        if (yb) memcpy(yb, hb, (size_t)H * sizeof *yb);
    }
}

/* With dh' = dh + dy (the state feeds the next step and the output):
 *   tanh: da = dh' (1 - h'^2)      relu: da = dh' [h' > 0]
 * and h enters only through a, so the direct part of dh_prev is 0 (the driver adds da W_hh). */
void rnn_cell_backward(int relu, int B, int H, int t, const int32_t *lengths, const float *gates,
                       const float *dh, const float *dy, int lddy, float *dG, float *dh_prev) {
#pragma omp parallel for schedule(static) if ((size_t)B * H > RNN_OMP_MIN_WORK)
    for (int b = 0; b < B; b++) {
        const float *g = gates + (size_t)b * H, *dhb = dh + (size_t)b * H;
        const float *dyb = dy ? dy + (size_t)b * lddy : NULL;
        float *da = dG + (size_t)b * H, *dhp = dh_prev + (size_t)b * H;
        if (t >= lengths[b]) { /* padding: h' = h, so dh passes through; no gate gradient */
            memset(da, 0, (size_t)H * sizeof *da);
            memcpy(dhp, dhb, (size_t)H * sizeof *dhp);
            continue;
        }
        if (dyb) {
#pragma omp simd
            for (int j = 0; j < H; j++) da[j] = dhb[j] + dyb[j];
        } else {
            memcpy(da, dhb, (size_t)H * sizeof *da);
        }
        if (relu) {
#pragma omp simd
            for (int j = 0; j < H; j++) da[j] = g[j] > 0.0f ? da[j] : 0.0f;
        } else {
#pragma omp simd
            for (int j = 0; j < H; j++) da[j] *= 1.0f - g[j] * g[j];
        }
        memset(dhp, 0, (size_t)H * sizeof *dhp);
    }
}

/* ---- the driver ------------------------------------------------------------------------------ */

void rnn_input_gates(const seqlm_rnn *l, const seqlm_params *p, const float *x, size_t N,
                     float *a) {
    const int I = l->I, GH = l->G * l->H;
    const float *W_ih = seqlm_params_value(p, l->w_ih);
    const float *b_ih = seqlm_params_value(p, l->b_ih), *b_hh = seqlm_params_value(p, l->b_hh);
    seqlm_matmul(0, 1, (int)N, GH, I, 1.0f, x, I, W_ih, I, 0.0f, a, GH);
    for (size_t n = 0; n < N; n++) {
        float *an = a + n * GH;
        if (l->cell == SEQLM_CELL_GRU) {
#pragma omp simd
            for (int j = 0; j < GH; j++) an[j] += b_ih[j];
        } else {
#pragma omp simd
            for (int j = 0; j < GH; j++) an[j] += b_ih[j] + b_hh[j];
        }
    }
}

void rnn_forward_strided(const seqlm_rnn *l, const seqlm_params *p, seqlm_rnn_cache *c,
                         const float *x, int T, int B, const int32_t *lengths, int reverse,
                         const float *h0, const float *c0, float *y, int ldy, float *hT,
                         float *cT) {
    SEQLM_ASSERT(c && c->cell == l->cell && c->I == l->I && c->H == l->H);
    SEQLM_ASSERT(T >= 0 && T <= c->T_max && B >= 1 && B <= c->B_max && ldy >= l->H);
    const int I = l->I, H = l->H, GH = l->G * l->H;
    const int lstm = l->cell == SEQLM_CELL_LSTM;
    const size_t N = (size_t)T * B, BH = (size_t)B * H;
    const float *W_hh = seqlm_params_value(p, l->w_hh), *b_hh = seqlm_params_value(p, l->b_hh);
    c->T = T;
    c->B = B;
    c->reverse = reverse;
    for (int b = 0; b < B; b++) {
        int32_t n = lengths ? lengths[b] : T;
        c->lengths[b] = n < 0 ? 0 : n > T ? T : n;
    }

    /* the state entering the first processed step; with T = 0 it is also the last state */
    float *h_first = T ? c->h_prev + (size_t)(reverse ? T - 1 : 0) * BH : c->h_last;
    float *c_first = T ? c->c_prev + (size_t)(reverse ? T - 1 : 0) * BH : c->c_last;
    if (h0)
        memcpy(h_first, h0, BH * sizeof *h_first);
    else
        memset(h_first, 0, BH * sizeof *h_first);
    if (lstm) {
        if (c0)
            memcpy(c_first, c0, BH * sizeof *c_first);
        else
            memset(c_first, 0, BH * sizeof *c_first);
    }

    if (T) {
        memcpy(c->x, x, N * I * sizeof *c->x);
        rnn_input_gates(l, p, c->x, N, c->gates);
    }

    for (int s = 0; s < T; s++) {
        int t = reverse ? T - 1 - s : s, t_next = reverse ? t - 1 : t + 1;
        float *a = c->gates + (size_t)t * B * GH;
        const float *hp = c->h_prev + (size_t)t * BH;
        float *h = s == T - 1 ? c->h_last : c->h_prev + (size_t)t_next * BH;
        float *yt = y ? y + (size_t)t * B * ldy : NULL;
        switch (l->cell) {
        case SEQLM_CELL_RNN_TANH:
        case SEQLM_CELL_RNN_RELU:
            seqlm_matmul(0, 1, B, GH, H, 1.0f, hp, H, W_hh, H, 1.0f, a, GH);
            rnn_cell_forward(l->cell == SEQLM_CELL_RNN_RELU, B, H, t, c->lengths, a, hp, h, yt,
                             ldy);
            break;
        case SEQLM_CELL_LSTM: {
            const float *cp = c->c_prev + (size_t)t * BH;
            float *cn = s == T - 1 ? c->c_last : c->c_prev + (size_t)t_next * BH;
            seqlm_matmul(0, 1, B, GH, H, 1.0f, hp, H, W_hh, H, 1.0f, a, GH);
            lstm_cell_forward(B, H, t, c->lengths, a, hp, cp, h, cn, c->tanh_c + (size_t)t * BH, yt,
                              ldy);
            break;
        }
        case SEQLM_CELL_GRU:
            seqlm_matmul(0, 1, B, GH, H, 1.0f, hp, H, W_hh, H, 0.0f, c->gh, GH);
            gru_cell_forward(B, H, t, c->lengths, a, c->gh, b_hh, hp, c->hn + (size_t)t * BH, h, yt,
                             ldy);
            break;
        }
    }
    if (hT) memcpy(hT, c->h_last, BH * sizeof *hT);
    if (cT) { /* no cell state but LSTM's: zeros, as dc0 in backward */
        if (lstm)
            memcpy(cT, c->c_last, BH * sizeof *cT);
        else
            memset(cT, 0, BH * sizeof *cT);
    }
}

/* Column sums: db[j] += sum_n dG[n][j]. */
static void add_column_sums(float *db, const float *dG, size_t N, int cols) {
    for (size_t n = 0; n < N; n++) {
        const float *row = dG + n * cols;
#pragma omp simd
        for (int j = 0; j < cols; j++) db[j] += row[j];
    }
}

/* The trace of step t (seqlm_rnn_cache_trace): the state after step t feeds the output y_t and
 * the next step, so its total gradient is dh' = dh + dy_t; for LSTM the cell after step t feeds
 * the next step and h_t = o tanh(c_t), so d loss / d c_t = dc + dh' o (1 - tanh(c_t)^2), which
 * is the dc' of lstm_cell_backward. A padded row (t >= length) carries its state: dh and dc pass
 * through unchanged. */
static void record_trace(seqlm_rnn_cache *c, int t, const float *dh, const float *dc,
                         const float *dyt, int lddy) {
    const int B = c->B, H = c->H;
    const size_t BH = (size_t)B * H;
    float *th = c->trace_dh + (size_t)t * BH;
    float *tc = c->trace_dc && c->cell == SEQLM_CELL_LSTM ? c->trace_dc + (size_t)t * BH : NULL;
    for (int b = 0; b < B; b++) {
        const size_t r = (size_t)b * H;
        const int live = t < c->lengths[b];
        for (int j = 0; j < H; j++)
            th[r + j] = dh[r + j] + (dyt && live ? dyt[(size_t)b * lddy + j] : 0.0f);
        if (!tc) continue;
        if (!live) {
            memcpy(tc + r, dc + r, (size_t)H * sizeof *tc);
            continue;
        }
        const float *o = c->gates + (size_t)t * B * 4 * H + 4 * r + 3 * (size_t)H;
        const float *tanh_c = c->tanh_c + (size_t)t * BH + r;
        for (int j = 0; j < H; j++)
            tc[r + j] = dc[r + j] + th[r + j] * o[j] * (1.0f - tanh_c[j] * tanh_c[j]);
    }
}

void rnn_backward_strided(const seqlm_rnn *l, seqlm_params *p, seqlm_rnn_cache *c, const float *dy,
                          int lddy, const float *dhT, const float *dcT, float *dx, float *dh0,
                          float *dc0) {
    SEQLM_ASSERT(c && c->cell == l->cell && c->I == l->I && c->H == l->H && lddy >= l->H);
    const int T = c->T, B = c->B, I = l->I, H = l->H, GH = l->G * l->H, rev = c->reverse;
    const int lstm = l->cell == SEQLM_CELL_LSTM, gru = l->cell == SEQLM_CELL_GRU;
    const size_t N = (size_t)T * B, BH = (size_t)B * H;
    const float *W_ih = seqlm_params_value(p, l->w_ih), *W_hh = seqlm_params_value(p, l->w_hh);

    /* dh, dc: d loss / d (state after the step being processed), walking back in time */
    float *dh = c->dh, *dh_prev = c->dh_prev, *dc = c->dc, *dc_prev = c->dc_prev;
    if (dhT)
        memcpy(dh, dhT, BH * sizeof *dh);
    else
        memset(dh, 0, BH * sizeof *dh);
    if (lstm) {
        if (dcT)
            memcpy(dc, dcT, BH * sizeof *dc);
        else
            memset(dc, 0, BH * sizeof *dc);
    }

    for (int s = T - 1; s >= 0; s--) {
        int t = rev ? T - 1 - s : s;
        size_t g0 = (size_t)t * B * GH, h0i = (size_t)t * BH;
        const float *dyt = dy ? dy + (size_t)t * B * lddy : NULL;
        if (c->trace_dh) record_trace(c, t, dh, dc, dyt, lddy);
        switch (l->cell) {
        case SEQLM_CELL_RNN_TANH:
        case SEQLM_CELL_RNN_RELU:
            rnn_cell_backward(l->cell == SEQLM_CELL_RNN_RELU, B, H, t, c->lengths, c->gates + g0,
                              dh, dyt, lddy, c->dG + g0, dh_prev);
            break;
        case SEQLM_CELL_LSTM:
            lstm_cell_backward(B, H, t, c->lengths, c->gates + g0, c->c_prev + h0i, c->tanh_c + h0i,
                               dh, dc, dyt, lddy, c->dG + g0, dh_prev, dc_prev);
            break;
        case SEQLM_CELL_GRU:
            gru_cell_backward(B, H, t, c->lengths, c->gates + g0, c->hn + h0i, c->h_prev + h0i, dh,
                              dyt, lddy, c->dG + g0, c->dGh + g0, dh_prev);
            break;
        }
        /* dh_{t-1} += dGh_t W_hh: the only product that has to wait for the step before */
        seqlm_matmul(0, 0, B, H, GH, 1.0f, c->dGh + g0, GH, W_hh, H, 1.0f, dh_prev, H);
        float *tmp = dh;
        dh = dh_prev;
        dh_prev = tmp;
        tmp = dc;
        dc = dc_prev;
        dc_prev = tmp;
    }
    if (dh0) memcpy(dh0, dh, BH * sizeof *dh0);
    if (dc0) {
        if (lstm)
            memcpy(dc0, dc, BH * sizeof *dc0);
        else
            memset(dc0, 0, BH * sizeof *dc0);
    }
    if (!T) return;

    /* The weight and input gradients, each one product over all T*B rows:
     *   dW_ih += dG^T X   dW_hh += dGh^T H_prev   db_ih += sum dG   db_hh += sum dGh
     *   dX += dG W_ih */
    seqlm_matmul(1, 0, GH, I, (int)N, 1.0f, c->dG, GH, c->x, I, 1.0f, seqlm_params_grad(p, l->w_ih),
                 I);
    seqlm_matmul(1, 0, GH, H, (int)N, 1.0f, c->dGh, GH, c->h_prev, H, 1.0f,
                 seqlm_params_grad(p, l->w_hh), H);
    add_column_sums(seqlm_params_grad(p, l->b_ih), c->dG, N, GH);
    add_column_sums(seqlm_params_grad(p, l->b_hh), gru ? c->dGh : c->dG, N, GH);
    if (dx) seqlm_matmul(0, 0, (int)N, I, GH, 1.0f, c->dG, GH, W_ih, I, 1.0f, dx, I);
}

void seqlm_rnn_cache_trace(seqlm_rnn_cache *c, float *dh, float *dc) {
    c->trace_dh = dh;
    c->trace_dc = dh && c->cell == SEQLM_CELL_LSTM ? dc : NULL;
}

/* Counts, per gate block, the live values of the last forward and how many of them sit where
 * the activation is flat (see nn.h). The cache keeps the gates after their nonlinearities. */
void seqlm_rnn_gate_saturation(const seqlm_rnn_cache *c, uint64_t *count, uint64_t *saturated) {
    const int B = c->B, H = c->H, G = c->G;
    for (int t = 0; t < c->T; t++)
        for (int b = 0; b < B; b++) {
            if (t >= c->lengths[b]) continue;
            const float *a = c->gates + ((size_t)t * B + b) * G * H;
            for (int g = 0; g < G; g++) {
                /* sigmoid gates: LSTM i, f, o (0, 1, 3); GRU r, z (0, 1). tanh: LSTM g, GRU n,
                 * the tanh RNN's h. ReLU: the state itself, flat at 0. */
                int sigmoid =
                    (c->cell == SEQLM_CELL_LSTM && g != 2) || (c->cell == SEQLM_CELL_GRU && g != 2);
                int relu = c->cell == SEQLM_CELL_RNN_RELU;
                const float *v = a + (size_t)g * H;
                uint64_t n = 0;
                if (sigmoid) {
                    for (int j = 0; j < H; j++) n += v[j] < 0.05f || v[j] > 0.95f;
                } else if (relu) {
                    for (int j = 0; j < H; j++) n += v[j] <= 0.0f;
                } else {
                    for (int j = 0; j < H; j++) n += fabsf(v[j]) > 0.95f;
                }
                count[g] += (uint64_t)H;
                saturated[g] += n;
            }
        }
}

void seqlm_rnn_forward(const seqlm_rnn *l, const seqlm_params *p, seqlm_rnn_cache *c,
                       const float *x, int T, int B, const int32_t *lengths, int reverse,
                       const float *h0, const float *c0, float *y, float *hT, float *cT) {
    rnn_forward_strided(l, p, c, x, T, B, lengths, reverse, h0, c0, y, l->H, hT, cT);
}

void seqlm_rnn_backward(const seqlm_rnn *l, seqlm_params *p, seqlm_rnn_cache *c, const float *dy,
                        const float *dhT, const float *dcT, float *dx, float *dh0, float *dc0) {
    rnn_backward_strided(l, p, c, dy, l->H, dhT, dcT, dx, dh0, dc0);
}
