/* adam.c - Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay),
 * both optionally AMSGrad: torch.optim.Adam / AdamW's _single_tensor_* (1.13), the
 * non-capturable path.
 *
 *   p = p (1 - lr wd)                             (AdamW; always applied, 1 when wd is 0)
 *   g = g + wd p                                  (Adam, if wd != 0)
 *   m = beta1 m + (1 - beta1) g
 *   v = beta2 v + (1 - beta2) g^2
 *   vmax = max(vmax, v), used in place of v       (amsgrad)
 *   bc1 = 1 - beta1^t,  bc2 = 1 - beta2^t         (double, t = step count from 1)
 *   p = p - (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps)
 * eps is added to the bias-corrected sqrt(v), not to sqrt(v) before correcting.
 * State: exp_avg m, exp_avg_sq v, then max_exp_avg_sq vmax (amsgrad), n floats each. */
#include "optim/optim_impl.h"

typedef struct {
    float *p;       /* (n) */
    const float *g; /* (n) */
    float *m, *v;   /* (n) each */
    float *vmax;    /* (n), or NULL */
    int decoupled;  /* AdamW */
    float decay;    /* AdamW: 1 - lr wd */
    float wd;       /* Adam: the L2 term (0 for AdamW) */
    float beta1, one_minus_beta1, beta2, one_minus_beta2, bc2_sqrt, eps, neg_step_size;
} adam_ctx;

static ALWAYS_INLINE void adam_loop(const adam_ctx *k, size_t lo, size_t hi, int decoupled, int wd,
                                    int amsgrad) {
    float *restrict p = k->p, *restrict m = k->m, *restrict v = k->v, *restrict vmax = k->vmax;
    const float *restrict g = k->g;
    float root[OPTIM_BLOCK]; /* sqrt(v) */
    for (size_t b = lo; b < hi; b += OPTIM_BLOCK) {
        size_t n = hi - b < OPTIM_BLOCK ? hi - b : OPTIM_BLOCK;
        OPTIM_SIMD
        for (size_t j = 0; j < n; j++) {
            size_t i = b + j;
            if (decoupled) p[i] *= k->decay;
            float gi = wd ? fmadd(p[i], k->wd, g[i]) : g[i];
            float mi = fmadd(gi, k->one_minus_beta1, m[i] * k->beta1);
            float vi = fmadd(k->one_minus_beta2 * gi, gi, v[i] * k->beta2);
            m[i] = mi;
            v[i] = vi;
            if (amsgrad) {
                float vm = vmax[i];
                vm = vi > vm || vi != vi ? vi : vm; /* torch.maximum propagates NaN */
                vmax[i] = vm;
                vi = vm;
            }
            root[j] = vi;
        }
        sqrt_block(root, n);
        OPTIM_SIMD
        for (size_t j = 0; j < n; j++) {
            size_t i = b + j;
            float denom = root[j] / k->bc2_sqrt + k->eps;
            p[i] = p[i] + k->neg_step_size * m[i] / denom;
        }
    }
}

static void adam_kernel(const void *arg, size_t lo, size_t hi) {
    const adam_ctx *k = arg;
    int ams = k->vmax != NULL;
    if (k->decoupled) {
        if (ams)
            adam_loop(k, lo, hi, 1, 0, 1);
        else
            adam_loop(k, lo, hi, 1, 0, 0);
    } else if (k->wd != 0) {
        if (ams)
            adam_loop(k, lo, hi, 0, 1, 1);
        else
            adam_loop(k, lo, hi, 0, 1, 0);
    } else {
        if (ams)
            adam_loop(k, lo, hi, 0, 0, 1);
        else
            adam_loop(k, lo, hi, 0, 0, 0);
    }
}

size_t adam_state_floats(const seqlm_optim_config *c, size_t n) {
    return n * (c->amsgrad ? 3 : 2);
}

void adam_step(seqlm_optim *o, float *params, const float *grads, double lr) {
    const optim_hyper *h = &o->h;
    double t = (double)o->steps;
    double bc1 = 1 - pow(h->beta1, t), bc2 = 1 - pow(h->beta2, t);
    int adamw = o->cfg.kind == SEQLM_OPT_ADAMW;
    adam_ctx k = {.p = params,
                  .g = grads,
                  .m = o->state,
                  .v = o->state + o->n,
                  .vmax = o->cfg.amsgrad ? o->state + 2 * o->n : NULL,
                  .decoupled = adamw,
                  .decay = (float)(1 - lr * h->weight_decay),
                  .wd = adamw ? 0 : (float)h->weight_decay,
                  .beta1 = (float)h->beta1,
                  .one_minus_beta1 = (float)(1 - h->beta1),
                  .beta2 = (float)h->beta2,
                  .one_minus_beta2 = (float)(1 - h->beta2),
                  .bc2_sqrt = (float)sqrt(bc2),
                  .eps = (float)h->eps,
                  .neg_step_size = (float)-(lr / bc1)};
    optim_run(adam_kernel, &k, o->n);
}
