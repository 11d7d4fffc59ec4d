/* gru.c - the GRU cell (Cho et al. 2014) as PyTorch computes it: the elementwise math of one
 * step over B rows, forward and backward, gate order r, z, n. The matrix products around it are
 * the driver's (rnn.c).
 *
 *   ax = W_ih x + b_ih,  ah = W_hh h + b_hh      (3H each): blocks _r, _z, _n
 *   r = s(ax_r + ah_r)   z = s(ax_z + ah_z)
 *   n = tanh(ax_n + r ah_n)                       r gates W_hn h + b_hn, bias included
 *   h' = (1 - z) n + z h
 * Because r multiplies ah_n, the gradient reaching the hidden projection differs from the one
 * reaching the input projection in the n block: the cell writes both, dG (input side) and dGh
 * (hidden side), and the driver uses them for W_ih/b_ih/x and W_hh/b_hh/h respectively. */
#include <math.h>
#include <string.h>

#include "nn/rnn_internal.h"

/* a (B, 3H): in ax, out r, z, n. gh (B, 3H): W_hh h without bias. hn (B, H): out ah_n. */
void gru_cell_forward(int B, int H, int t, const int32_t *lengths, float *a, const float *gh,
                      const float *b_hh, const float *h_prev, float *hn, float *h, float *y,
                      int ldy) {
    const float *bh_r = b_hh, *bh_z = b_hh + H, *bh_n = b_hh + 2 * H;
#pragma omp parallel for schedule(static) if ((size_t)B * H > RNN_OMP_MIN_WORK)
    for (int b = 0; b < B; b++) {
        size_t r0 = (size_t)b * H;
        float *ar = a + 3 * r0, *az = ar + H, *an = az + H;
        const float *hr = gh + 3 * r0, *hz = hr + H, *hh = hz + H, *hp = h_prev + r0;
        float *hb = h + r0, *hnb = hn + r0;
        float *yb = y ? y + (size_t)b * ldy : NULL;
        if (t >= lengths[b]) { /* padding: state carried, output 0 */
            memcpy(hb, hp, (size_t)H * sizeof *hb);
            if (yb) memset(yb, 0, (size_t)H * sizeof *yb);
            continue;
        }
#pragma omp simd
        for (int j = 0; j < H; j++) {
            float r = vsigmoidf(ar[j] + hr[j] + bh_r[j]);
            float z = vsigmoidf(az[j] + hz[j] + bh_z[j]);
            float ahn = hh[j] + bh_n[j];
            float n = vtanhf(an[j] + r * ahn);
            ar[j] = r;
            az[j] = z;
            an[j] = n;
            hnb[j] = ahn;
            hb[j] = (1.0f - z) * n + z * hp[j];
        }
        if (yb) memcpy(yb, hb, (size_t)H * sizeof *yb);
    }
}

/* With dh' = dh + dy:
 *   dn = dh' (1 - z)       dz = dh' (h - n)        dh_prev (direct) = dh' z
 *   da_n = dn (1 - n^2)    -> input side dax_n = da_n, hidden side dah_n = da_n r
 *   dr = da_n ah_n         da_r = dr r (1 - r)     (both sides)
 *                          da_z = dz z (1 - z)     (both sides)
 * The driver adds dah W_hh to dh_prev. */
void gru_cell_backward(int B, int H, int t, const int32_t *lengths, const float *gates,
                       const float *hn, const float *h_prev, const float *dh, const float *dy,
                       int lddy, float *dG, float *dGh, float *dh_prev) {
#pragma omp parallel for schedule(static) if ((size_t)B * H > RNN_OMP_MIN_WORK)
    for (int b = 0; b < B; b++) {
        size_t r0 = (size_t)b * H;
        const float *gr = gates + 3 * r0, *gz = gr + H, *gn = gz + H;
        const float *hp = h_prev + r0, *hnb = hn + r0;
        float *dxr = dG + 3 * r0, *dxz = dxr + H, *dxn = dxz + H;
        float *dhr = dGh + 3 * r0, *dhz = dhr + H, *dhn = dhz + H;
        float *dhp = dh_prev + r0;
        const float *dyb = dy ? dy + (size_t)b * lddy : NULL;
        if (t >= lengths[b]) { /* padding: h' = h */
            memset(dxr, 0, 3 * (size_t)H * sizeof *dxr);
            memset(dhr, 0, 3 * (size_t)H * sizeof *dhr);
            memcpy(dhp, dh + r0, (size_t)H * sizeof *dhp);
            continue;
        }
        /* dh' = dh + dy, parked in dh_prev (overwritten below) so that the loop has no branch */
        if (dyb) {
#pragma omp simd
            for (int j = 0; j < H; j++) dhp[j] = dh[r0 + j] + dyb[j];
        } else {
            memcpy(dhp, dh + r0, (size_t)H * sizeof *dhp);
        }
#pragma omp simd
        for (int j = 0; j < H; j++) {
            float r = gr[j], z = gz[j], n = gn[j], d = dhp[j];
            float dan = d * (1.0f - z) * (1.0f - n * n);
            float dar = dan * hnb[j] * r * (1.0f - r);
            float daz = d * (hp[j] - n) * z * (1.0f - z);
            dxr[j] = dhr[j] = dar;
            dxz[j] = dhz[j] = daz;
            dxn[j] = dan;
            dhn[j] = dan * r;
            dhp[j] = d * z;
        }
    }
}
