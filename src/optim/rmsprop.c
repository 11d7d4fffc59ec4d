/* rmsprop.c - RMSprop, plain or centered, with momentum and weight decay:
 * torch.optim.RMSprop's _single_tensor_rmsprop (1.13).
 *
 *   g   = g + wd p                                (if wd != 0)
 *   v   = alpha v + (1 - alpha) g^2
 *   a   = alpha a + (1 - alpha) g                 (centered only)
 *   avg = sqrt(v - a^2) + eps   (centered)  or  sqrt(v) + eps
 *   b   = momentum b + g / avg,  p = p - lr b     (momentum > 0; b starts at 0)
 *   p   = p - lr g / avg                          (otherwise)
 * Note that eps is added outside the square root, unlike Adam's bias-corrected form.
 * State: square_avg v, then the momentum buffer b (momentum > 0), then grad_avg a (centered),
 * n floats each. */
#include "optim/optim_impl.h"

typedef struct {
    float *p;       /* (n) */
    const float *g; /* (n) */
    float *sq;      /* (n) square_avg */
    float *buf;     /* (n) momentum buffer, or NULL */
    float *gavg;    /* (n) grad_avg, or NULL */
    float wd, alpha, one_minus_alpha, eps, momentum, neg_lr;
} rmsprop_ctx;

static ALWAYS_INLINE void rmsprop_loop(const rmsprop_ctx *k, size_t lo, size_t hi, int wd,
                                       int centered, int momentum) {
    float *restrict p = k->p, *restrict sq = k->sq, *restrict buf = k->buf,
                    *restrict gavg = k->gavg;
    const float *restrict g = k->g;
    float gw[OPTIM_BLOCK], avg[OPTIM_BLOCK]; /* g with weight decay, the denominator */
    for (size_t b = lo; b < hi; b += OPTIM_BLOCK) {
        size_t n = hi - b < OPTIM_BLOCK ? hi - b : OPTIM_BLOCK;
        OPTIM_SIMD
        for (size_t j = 0; j < n; j++) {
            size_t i = b + j;
            float gi = wd ? fmadd(p[i], k->wd, g[i]) : g[i];
            float v = fmadd(k->one_minus_alpha * gi, gi, sq[i] * k->alpha);
            sq[i] = v;
            if (centered) {
                float a = fmadd(gi, k->one_minus_alpha, gavg[i] * k->alpha);
                gavg[i] = a;
                v = fmadd(-a, a, v);
            }
            gw[j] = gi;
            avg[j] = v;
        }
        sqrt_block(avg, n);
        OPTIM_SIMD
        for (size_t j = 0; j < n; j++) {
            size_t i = b + j;
            float d = avg[j] + k->eps;
            if (momentum) {
                float m = buf[i] * k->momentum + gw[j] / d;
                buf[i] = m;
                p[i] = fmadd(m, k->neg_lr, p[i]);
            } else {
                p[i] = p[i] + k->neg_lr * gw[j] / d;
            }
        }
    }
}

static void rmsprop_kernel(const void *arg, size_t lo, size_t hi) {
    const rmsprop_ctx *k = arg;
    switch ((k->wd != 0) | (k->gavg != NULL) << 1 | (k->buf != NULL) << 2) {
    case 0:
        rmsprop_loop(k, lo, hi, 0, 0, 0);
        break;
    case 1:
        rmsprop_loop(k, lo, hi, 1, 0, 0);
        break;
    case 2:
        rmsprop_loop(k, lo, hi, 0, 1, 0);
        break;
    case 3:
        rmsprop_loop(k, lo, hi, 1, 1, 0);
        break;
    case 4:
        rmsprop_loop(k, lo, hi, 0, 0, 1);
        break;
    case 5:
        rmsprop_loop(k, lo, hi, 1, 0, 1);
        break;
    case 6:
        rmsprop_loop(k, lo, hi, 0, 1, 1);
        break;
    default:
        rmsprop_loop(k, lo, hi, 1, 1, 1);
        break;
    }
}

size_t rmsprop_state_floats(const seqlm_optim_config *c, size_t n) {
    return n * (1 + (c->momentum > 0) + (c->centered != 0));
}

void rmsprop_step(seqlm_optim *o, float *params, const float *grads, double lr) {
    const optim_hyper *h = &o->h;
    float *next = o->state + o->n;
    rmsprop_ctx k = {.p = params,
                     .g = grads,
                     .sq = o->state,
                     .wd = (float)h->weight_decay,
                     .alpha = (float)h->alpha,
                     .one_minus_alpha = (float)(1 - h->alpha),
                     .eps = (float)h->eps,
                     .momentum = (float)h->momentum,
                     .neg_lr = (float)-lr};
    if (o->cfg.momentum > 0) {
        k.buf = next;
        next += o->n;
    }
    if (o->cfg.centered) k.gavg = next;
    optim_run(rmsprop_kernel, &k, o->n);
}
