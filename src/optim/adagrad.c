/* adagrad.c - Adagrad: torch.optim.Adagrad's _single_tensor_adagrad (1.13), dense gradients.
 *
 *   g   = g + wd p                                (if wd != 0)
 *   clr = lr / (1 + (t - 1) lr_decay)             (double, t = step count from 1)
 *   s   = s + g^2                                 (s starts at initial_accumulator)
 *   p   = p - clr g / (sqrt(s) + eps)
 * State: the sum s (n floats). */
#include "optim/optim_impl.h"

typedef struct {
    float *p;       /* (n) */
    const float *g; /* (n) */
    float *sum;     /* (n) */
    float wd, eps, neg_clr;
} adagrad_ctx;

static ALWAYS_INLINE void adagrad_loop(const adagrad_ctx *k, size_t lo, size_t hi, int wd) {
    float *restrict p = k->p, *restrict sum = k->sum;
    const float *restrict g = k->g;
    float gw[OPTIM_BLOCK], std[OPTIM_BLOCK]; /* g with weight decay, sqrt(s) */
    for (size_t b = lo; b < hi; b += OPTIM_BLOCK) {
        size_t n = hi - b < OPTIM_BLOCK ? hi - b : OPTIM_BLOCK;
        OPTIM_SIMD
        for (size_t j = 0; j < n; j++) {
            size_t i = b + j;
            float gi = wd ? fmadd(p[i], k->wd, g[i]) : g[i];
            float s = fmadd(gi, gi, sum[i]);
            sum[i] = s;
            gw[j] = gi;
            std[j] = s;
        }
        sqrt_block(std, n);
        OPTIM_SIMD
        for (size_t j = 0; j < n; j++) p[b + j] = p[b + j] + k->neg_clr * gw[j] / (std[j] + k->eps);
    }
}

static void adagrad_kernel(const void *arg, size_t lo, size_t hi) {
    const adagrad_ctx *k = arg;
    if (k->wd != 0)
        adagrad_loop(k, lo, hi, 1);
    else
        adagrad_loop(k, lo, hi, 0);
}

size_t adagrad_state_floats(const seqlm_optim_config *c, size_t n) {
    (void)c;
    return n;
}

void adagrad_init_state(seqlm_optim *o) {
    for (size_t i = 0; i < o->n; i++) o->state[i] = o->cfg.initial_accumulator;
}

void adagrad_step(seqlm_optim *o, float *params, const float *grads, double lr) {
    const optim_hyper *h = &o->h;
    double clr = lr / (1 + ((double)o->steps - 1) * h->lr_decay);
    adagrad_ctx k = {.p = params,
                     .g = grads,
                     .sum = o->state,
                     .wd = (float)h->weight_decay,
                     .eps = (float)h->eps,
                     .neg_clr = (float)-clr};
    optim_run(adagrad_kernel, &k, o->n);
}
