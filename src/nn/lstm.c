/* lstm.c - the LSTM cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al.
 * 2000, no peepholes): the elementwise math of one step over B rows, forward and backward, in
 * PyTorch's gate order i, f, g, o. The matrix products around it are the driver's (rnn.c).
 *
 *   a = W_ih x + b_ih + W_hh h + b_hh          (4H): blocks a_i, a_f, a_g, a_o
 *   i = s(a_i)  f = s(a_f)  g = tanh(a_g)  o = s(a_o)
 *   c' = f c + i g
 *   h' = o tanh(c') */
#include <math.h>
#include <string.h>

#include "nn/rnn_internal.h"

void lstm_cell_forward(int B, int H, int t, const int32_t *lengths, float *a, const float *h_prev,
                       const float *c_prev, float *h, float *c, float *tanh_c, float *y, int ldy) {
#pragma omp parallel for schedule(static) if ((size_t)B * H > RNN_OMP_MIN_WORK)
    for (int b = 0; b < B; b++) {
        size_t r = (size_t)b * H;
        float *ai = a + 4 * r, *af = ai + H, *ag = af + H, *ao = ag + H;
        float *hb = h + r, *cb = c + r, *tc = tanh_c + r;
        const float *cp = c_prev + r;
        float *yb = y ? y + (size_t)b * ldy : NULL;
        if (t >= lengths[b]) { /* padding: state carried, output 0 */
            memcpy(hb, h_prev + r, (size_t)H * sizeof *hb);
            memcpy(cb, cp, (size_t)H * sizeof *cb);
            if (yb) memset(yb, 0, (size_t)H * sizeof *yb);
            continue;
        }
#pragma omp simd
        for (int j = 0; j < H; j++) {
            float i = vsigmoidf(ai[j]), f = vsigmoidf(af[j]), g = vtanhf(ag[j]);
            float o = vsigmoidf(ao[j]);
            float cn = f * cp[j] + i * g, tcn = vtanhf(cn);
            ai[j] = i;
            af[j] = f;
            ag[j] = g;
            ao[j] = o;
            cb[j] = cn;
            tc[j] = tcn;
            hb[j] = o * tcn;
        }
        if (yb) memcpy(yb, hb, (size_t)H * sizeof *yb);
    }
}

/* With dh' = dh + dy and dc' the gradient of the cell from the step after:
 *   do  = dh' tanh(c')                        da_o = do o (1 - o)
 *   dc' += dh' o (1 - tanh(c')^2)
 *   di  = dc' g     da_i = di i (1 - i)
 *   df  = dc' c     da_f = df f (1 - f)
 *   dg  = dc' i     da_g = dg (1 - g^2)
 *   dc_prev = dc' f
 * h enters only through a: its direct part is 0 (the driver adds da W_hh). */
void lstm_cell_backward(int B, int H, int t, const int32_t *lengths, const float *gates,
                        const float *c_prev, const float *tanh_c, const float *dh, const float *dc,
                        const float *dy, int lddy, float *dG, float *dh_prev, float *dc_prev) {
#pragma omp parallel for schedule(static) if ((size_t)B * H > RNN_OMP_MIN_WORK)
    for (int b = 0; b < B; b++) {
        size_t r = (size_t)b * H;
        const float *gi = gates + 4 * r, *gf = gi + H, *gg = gf + H, *go = gg + H;
        const float *cp = c_prev + r, *tc = tanh_c + r, *dcb = dc + r;
        float *di = dG + 4 * r, *df = di + H, *dg = df + H, *dO = dg + H;
        float *dhp = dh_prev + r, *dcp = dc_prev + r;
        const float *dyb = dy ? dy + (size_t)b * lddy : NULL;
        if (t >= lengths[b]) { /* padding: h' = h, c' = c */
            memset(di, 0, 4 * (size_t)H * sizeof *di);
            memcpy(dhp, dh + r, (size_t)H * sizeof *dhp);
            memcpy(dcp, dcb, (size_t)H * sizeof *dcp);
            continue;
        }
        /* dh' = dh + dy, parked in dh_prev (overwritten below) so that the loop has no branch */
        if (dyb) {
#pragma omp simd
            for (int j = 0; j < H; j++) dhp[j] = dh[r + j] + dyb[j];
        } else {
            memcpy(dhp, dh + r, (size_t)H * sizeof *dhp);
        }
#pragma omp simd
        for (int j = 0; j < H; j++) {
            float i = gi[j], f = gf[j], g = gg[j], o = go[j], tcn = tc[j], dhn = dhp[j];
            float dcn = dcb[j] + dhn * o * (1.0f - tcn * tcn);
            dO[j] = dhn * tcn * o * (1.0f - o);
            di[j] = dcn * g * i * (1.0f - i);
            df[j] = dcn * cp[j] * f * (1.0f - f);
            dg[j] = dcn * i * (1.0f - g * g);
            dcp[j] = dcn * f;
            dhp[j] = 0.0f;
        }
    }
}
