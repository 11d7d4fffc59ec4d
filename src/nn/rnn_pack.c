/* rnn_pack.c - a unidirectional recurrent stack run forward for evaluation with its recurrent
 * weights packed once (see seqlm/nn.h, seqlm_stack_pack_*).
 *
 * In evaluation a step of a layer is a small product, h_{t-1} (B, H) W_hh^T (G*H, H), then the
 * cell. Through BLAS each step repacks all of W_hh (OpenBLAS has no API to keep a packed
 * operand) and the cell is a second parallel loop, so a step costs two fork/joins and a copy of
 * W_hh. Here each of the n threads owns a contiguous range of hidden units u0..u1-1 and the G
 * gate rows of each (rows g*H + u of W_hh), packed once into panels (nn/panel.h) laid out as
 * columns q = g*(u1-u0) + (u - u0). A step is then, per thread and with no other thread's data:
 *
 *   gh (B, G*nu) = h_{t-1} (B, H) P_thread^T        (panel_gemm, W_hh's slice in L2)
 *   the cell for units u0..u1-1 of every row        (the gates of those units are all here)
 *
 * and one barrier before the next step reads the whole h_t. The thread team lives for the whole
 * window. Each recurrent product is a k-ordered sum of one row with one column, so the result
 * does not depend on the thread count; it agrees with seqlm_rnn_stack_forward to rounding (BLAS
 * may sum in another order; the input projections stay BLAS products, whose rounding may depend
 * on their shape).
 *
 * The input projections A = X W_ih^T + b (all T steps at once) stay large BLAS products.
 * Not here: training (no cache, no dropout), padding (every row is live), bidirectional stacks.
 */
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "kernels/vmath.h"
#include "nn/panel.h"
#include "nn/rnn_internal.h"
#include "seqlm/kernels.h"

typedef struct {
    int u0, nu; /* hidden units u0 .. u0 + nu - 1 */
    size_t np;  /* panels of its G * nu columns */
    float *P;   /* (np, H, PANEL_NR) */
} part;

typedef struct {
    part *parts; /* [nt] */
} layer_pack;

struct seqlm_stack_pack {
    const seqlm_rnn_stack *s;
    const seqlm_params *p;
    int nt, T_max, B_max;
    layer_pack layer[SEQLM_MAX_LAYERS];
    float *gates;   /* (T_max, B_max, G*H) input projections */
    float *mid[2];  /* (T_max, B_max, H) outputs of the layers below the top */
    float *gh;      /* (nt, B_max, G * nu_max rounded to panels) */
    size_t gh_each; /* floats of gh per part */
};

void seqlm_stack_pack_free(seqlm_stack_pack *k) {
    if (!k) return;
    for (int l = 0; l < SEQLM_MAX_LAYERS; l++) {
        if (!k->layer[l].parts) continue;
        for (int j = 0; j < k->nt; j++) free(k->layer[l].parts[j].P);
        free(k->layer[l].parts);
    }
    free(k->gates);
    free(k->mid[0]);
    free(k->mid[1]);
    free(k->gh);
    free(k);
}

seqlm_stack_pack *seqlm_stack_pack_create(const seqlm_rnn_stack *s, const seqlm_params *p,
                                          int T_max, int B_max) {
    if (!panel_have_avx512() || s->D != 1 || s->L < 1 || s->L > SEQLM_MAX_LAYERS || T_max < 1 ||
        B_max < 1)
        return NULL;
    seqlm_stack_pack *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    int H = s->H, G = s->layer[0].G, nt = seqlm_threads();
    if (nt > H) nt = H;
    k->s = s;
    k->p = p;
    k->nt = nt;
    k->T_max = T_max;
    k->B_max = B_max;
    int nu_max = (H + nt - 1) / nt;
    k->gh_each = (size_t)B_max * panel_count((size_t)G * nu_max) * PANEL_NR;
    size_t TB = (size_t)T_max * B_max;
    k->gates = malloc(TB * G * H * sizeof *k->gates);
    k->mid[0] = s->L > 1 ? malloc(TB * H * sizeof(float)) : NULL;
    k->mid[1] = s->L > 2 ? malloc(TB * H * sizeof(float)) : NULL;
    k->gh = malloc((size_t)nt * k->gh_each * sizeof *k->gh);
    int *rows = malloc((size_t)G * nu_max * sizeof *rows);
    int bad = !k->gates || (s->L > 1 && !k->mid[0]) || (s->L > 2 && !k->mid[1]) || !k->gh || !rows;
    for (int l = 0; l < s->L && !bad; l++) {
        const seqlm_rnn *r = &s->layer[l];
        const float *W_hh = seqlm_params_value(p, r->w_hh);
        if (!(k->layer[l].parts = calloc((size_t)nt, sizeof(part)))) {
            bad = 1;
            break;
        }
        for (int j = 0; j < nt && !bad; j++) {
            part *pt = &k->layer[l].parts[j];
            /* units split as evenly as possible: the first H % nt parts get one more */
            pt->u0 = j * (H / nt) + (j < H % nt ? j : H % nt);
            pt->nu = H / nt + (j < H % nt);
            size_t cols = (size_t)G * pt->nu;
            pt->np = panel_count(cols);
            pt->P = aligned_alloc(64, pt->np * (size_t)H * PANEL_NR * sizeof(float));
            if (!pt->P) {
                bad = 1;
                break;
            }
            for (int g = 0; g < G; g++)
                for (int u = 0; u < pt->nu; u++) rows[g * pt->nu + u] = g * H + pt->u0 + u;
            panel_pack(W_hh, (size_t)H, rows, cols, pt->P);
        }
    }
    free(rows);
    if (bad) {
        seqlm_stack_pack_free(k);
        return NULL;
    }
    return k;
}

/* One step's cell for units u0..u0+nu-1 of B rows. a (B, G*H) the input part (with b_hh but for
 * GRU), gh (B, ldg) the recurrent part of this thread's columns g*nu + uu, hp (B, H) the state
 * before, h (B, H) after; c (B, H) the LSTM cell, in place. The formulas of lstm.c, gru.c and
 * rnn.c. */
static void cell_step(seqlm_cell cell, int B, int H, int u0, int nu, const float *a,
                      const float *gh, size_t ldg, const float *b_hh, const float *hp, float *h,
                      float *c) {
    int G = seqlm_cell_gates(cell);
    for (int b = 0; b < B; b++) {
        const float *ab = a + (size_t)b * G * H + u0, *gb = gh + (size_t)b * ldg;
        const float *hpb = hp + (size_t)b * H + u0;
        float *hb = h + (size_t)b * H + u0;
        switch (cell) {
        case SEQLM_CELL_LSTM: {
            float *cb = c + (size_t)b * H + u0;
#pragma omp simd
            for (int u = 0; u < nu; u++) {
                float i = vsigmoidf(ab[u] + gb[u]), f = vsigmoidf(ab[H + u] + gb[nu + u]);
                float g = vtanhf(ab[2 * H + u] + gb[2 * nu + u]);
                float o = vsigmoidf(ab[3 * H + u] + gb[3 * nu + u]);
                float cn = f * cb[u] + i * g;
                cb[u] = cn;
                hb[u] = o * vtanhf(cn);
            }
            break;
        }
        case SEQLM_CELL_GRU: {
            const float *bh = b_hh + u0;
#pragma omp simd
            for (int u = 0; u < nu; u++) {
                float r = vsigmoidf(ab[u] + gb[u] + bh[u]);
                float z = vsigmoidf(ab[H + u] + gb[nu + u] + bh[H + u]);
                float n = vtanhf(ab[2 * H + u] + r * (gb[2 * nu + u] + bh[2 * H + u]));
                hb[u] = (1.0f - z) * n + z * hpb[u];
            }
            break;
        }
        case SEQLM_CELL_RNN_RELU:
#pragma omp simd
            for (int u = 0; u < nu; u++) {
                float v = ab[u] + gb[u];
                hb[u] = v > 0.0f ? v : 0.0f;
            }
            break;
        case SEQLM_CELL_RNN_TANH:
#pragma omp simd
            for (int u = 0; u < nu; u++) hb[u] = vtanhf(ab[u] + gb[u]);
            break;
        }
    }
}

/* One layer over T steps: x (T, B, I) -> y (T, B, H), state h (B, H) and c (B, H) in place. */
static void layer_forward(seqlm_stack_pack *k, int l, const float *x, int T, int B, float *h,
                          float *c, float *y) {
    const seqlm_rnn *r = &k->s->layer[l];
    const int H = r->H, GH = r->G * H;
    const size_t BH = (size_t)B * H;
    const float *b_hh = seqlm_params_value(k->p, r->b_hh);
    rnn_input_gates(r, k->p, x, (size_t)T * B, k->gates);
    const part *parts = k->layer[l].parts;
    const int nt = k->nt;
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
        int tid = omp_get_thread_num(), nth = omp_get_num_threads();
#else
        int tid = 0, nth = 1;
#endif
        for (int t = 0; t < T; t++) {
            const float *hp = t ? y + (size_t)(t - 1) * BH : h;
            for (int j = tid; j < nt; j += nth) {
                const part *pt = &parts[j];
                size_t ldg = pt->np * PANEL_NR;
                float *gh = k->gh + (size_t)j * k->gh_each;
                panel_gemm(hp, (size_t)B, (size_t)H, (size_t)H, pt->P, pt->np, gh, ldg);
                cell_step(r->cell, B, H, pt->u0, pt->nu, k->gates + (size_t)t * B * GH, gh, ldg,
                          b_hh, hp, y + (size_t)t * BH, c);
            }
#pragma omp barrier
        }
    }
    memcpy(h, y + (size_t)(T - 1) * BH, BH * sizeof *h);
}

void seqlm_stack_pack_forward(seqlm_stack_pack *k, const float *x, int T, int B, float *h, float *c,
                              float *y) {
    SEQLM_ASSERT(T >= 1 && T <= k->T_max && B >= 1 && B <= k->B_max);
    const seqlm_rnn_stack *s = k->s;
    size_t BH = (size_t)B * s->H;
    for (int l = 0; l < s->L; l++) {
        const float *in = l ? k->mid[(l - 1) % 2] : x;
        float *out = l < s->L - 1 ? k->mid[l % 2] : y;
        layer_forward(k, l, in, T, B, h + (size_t)l * BH,
                      s->cell == SEQLM_CELL_LSTM ? c + (size_t)l * BH : NULL, out);
    }
}
