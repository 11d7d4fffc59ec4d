/* sgd.c - stochastic gradient descent with momentum, dampening, Nesterov and weight decay:
 * torch.optim.SGD's _single_tensor_sgd (1.13). Not a sparse or `maximize` variant.
 *
 *   d = g + wd p                                  (if wd != 0)
 *   b = d                                         on the first step (no dampening!)
 *   b = momentum b + (1 - dampening) d            afterwards
 *   d = nesterov ? d + momentum b : b             (if momentum != 0)
 *   p = p - lr d
 * State: the momentum buffer b (n floats), only when momentum != 0. */
#include "optim/optim_impl.h"

typedef struct {
    float *p;       /* (n) */
    const float *g; /* (n) */
    float *buf;     /* (n) momentum buffer, or NULL */
    float wd, momentum, one_minus_dampening, neg_lr;
    int first, nesterov;
} sgd_ctx;

static ALWAYS_INLINE void sgd_loop(const sgd_ctx *k, size_t lo, size_t hi, int wd, int momentum,
                                   int first, int nesterov) {
    float *restrict p = k->p, *restrict buf = k->buf;
    const float *restrict g = k->g;
    OPTIM_SIMD
    for (size_t i = lo; i < hi; i++) {
        float d = wd ? fmadd(p[i], k->wd, g[i]) : g[i];
        if (momentum) {
            float b = first ? d : fmadd(d, k->one_minus_dampening, buf[i] * k->momentum);
            buf[i] = b;
            d = nesterov ? fmadd(b, k->momentum, d) : b;
        }
        p[i] = fmadd(d, k->neg_lr, p[i]);
    }
}

static void sgd_kernel(const void *arg, size_t lo, size_t hi) {
    const sgd_ctx *k = arg;
    int variant = (k->wd != 0) | (k->buf != NULL) << 1 | k->first << 2 | (k->nesterov != 0) << 3;
    switch (variant & (k->buf ? 15 : 3)) { /* first and nesterov only matter with momentum */
    case 0:
        sgd_loop(k, lo, hi, 0, 0, 0, 0);
        break;
    case 1:
        sgd_loop(k, lo, hi, 1, 0, 0, 0);
        break;
    case 2:
        sgd_loop(k, lo, hi, 0, 1, 0, 0);
        break;
    case 3:
        sgd_loop(k, lo, hi, 1, 1, 0, 0);
        break;
    case 6:
        sgd_loop(k, lo, hi, 0, 1, 1, 0);
        break;
    case 7:
        sgd_loop(k, lo, hi, 1, 1, 1, 0);
        break;
    case 10:
        sgd_loop(k, lo, hi, 0, 1, 0, 1);
        break;
    case 11:
        sgd_loop(k, lo, hi, 1, 1, 0, 1);
        break;
    case 14:
        sgd_loop(k, lo, hi, 0, 1, 1, 1);
        break;
    default:
        sgd_loop(k, lo, hi, 1, 1, 1, 1);
        break;
    }
}

size_t sgd_state_floats(const seqlm_optim_config *c, size_t n) {
    return c->momentum != 0 ? n : 0;
}

void sgd_step(seqlm_optim *o, float *params, const float *grads, double lr) {
    const optim_hyper *h = &o->h;
    sgd_ctx k = {.p = params,
                 .g = grads,
                 .buf = o->cfg.momentum != 0 ? o->state : NULL,
                 .wd = (float)h->weight_decay,
                 .momentum = (float)h->momentum,
                 .one_minus_dampening = (float)(1 - h->dampening),
                 .neg_lr = (float)-lr,
                 .first = o->steps == 1,
                 .nesterov = o->cfg.nesterov != 0};
    optim_run(sgd_kernel, &k, o->n);
}
