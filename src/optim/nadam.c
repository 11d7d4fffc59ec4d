/* nadam.c - NAdam (Adam with Nesterov momentum and a momentum schedule):
 * torch.optim.NAdam's _single_tensor_nadam exactly as in 1.13, including its quirk.
 *
 *   g   = g + wd p                                (if wd != 0)
 *   mu_t     = beta1 (1 - 0.5 0.96^(t psi)),  mu_{t+1} likewise       (double; psi momentum_decay)
 *   P        = P mu_t                             (float; P = mu_product starts at 1)
 *   P_next   = P mu_t mu_{t+1}                    (1.13 multiplies mu_t in twice; torch 2.0 fixed
 *                                                  that to P mu_{t+1} - we follow 1.13)
 *   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2
 *   denom = sqrt(v / (1 - beta2^t)) + eps
 *   p = p - lr (1 - mu_t) / (1 - P) g / denom - lr mu_{t+1} / (1 - P_next) m / denom
 * torch keeps P in a float32 tensor, so P is rounded to float at every step here too; it is
 * the last float of the state, after exp_avg m and exp_avg_sq v (n floats each). */
#include <math.h>

#include "optim/optim_impl.h"

typedef struct {
    float *p;       /* (n) */
    const float *g; /* (n) */
    float *m, *v;   /* (n) each */
    float wd, beta1, one_minus_beta1, beta2, one_minus_beta2, bc2, eps, coef_grad, coef_avg;
} nadam_ctx;

static ALWAYS_INLINE void nadam_loop(const nadam_ctx *k, size_t lo, size_t hi, int wd) {
    float *restrict p = k->p, *restrict m = k->m, *restrict v = k->v;
    const float *restrict g = k->g;
    float gw[OPTIM_BLOCK], root[OPTIM_BLOCK]; /* g with weight decay, sqrt(v / bc2) */
    for (size_t b = lo; b < hi; b += OPTIM_BLOCK) {
        size_t n = hi - b < OPTIM_BLOCK ? hi - b : OPTIM_BLOCK;
        OPTIM_SIMD
        for (size_t j = 0; j < n; j++) {
            size_t i = b + j;
            float gi = wd ? fmadd(p[i], k->wd, g[i]) : g[i];
            float mi = fmadd(gi, k->one_minus_beta1, m[i] * k->beta1);
            float vi = fmadd(k->one_minus_beta2 * gi, gi, v[i] * k->beta2);
            m[i] = mi;
            v[i] = vi;
            gw[j] = gi;
            root[j] = vi / k->bc2;
        }
        sqrt_block(root, n);
        OPTIM_SIMD
        for (size_t j = 0; j < n; j++) {
            size_t i = b + j;
            float denom = root[j] + k->eps;
            float pi = p[i] + k->coef_grad * gw[j] / denom;
            p[i] = pi + k->coef_avg * m[i] / denom;
        }
    }
}

static void nadam_kernel(const void *arg, size_t lo, size_t hi) {
    const nadam_ctx *k = arg;
    if (k->wd != 0)
        nadam_loop(k, lo, hi, 1);
    else
        nadam_loop(k, lo, hi, 0);
}

size_t nadam_state_floats(const seqlm_optim_config *c, size_t n) {
    (void)c;
    return 2 * n + 1;
}

void nadam_init_state(seqlm_optim *o) {
    o->state[2 * o->n] = 1.0f;
}

void nadam_step(seqlm_optim *o, float *params, const float *grads, double lr) {
    const optim_hyper *h = &o->h;
    double t = (double)o->steps;
    double bc2 = 1 - pow(h->beta2, t);
    double mu = h->beta1 * (1 - 0.5 * pow(0.96, t * h->momentum_decay));
    double mu_next = h->beta1 * (1 - 0.5 * pow(0.96, (t + 1) * h->momentum_decay));
    float *prod = &o->state[2 * o->n];
    *prod = *prod * (float)mu;
    float prod_next = *prod * (float)mu * (float)mu_next;
    nadam_ctx k = {.p = params,
                   .g = grads,
                   .m = o->state,
                   .v = o->state + o->n,
                   .wd = (float)h->weight_decay,
                   .beta1 = (float)h->beta1,
                   .one_minus_beta1 = (float)(1 - h->beta1),
                   .beta2 = (float)h->beta2,
                   .one_minus_beta2 = (float)(1 - h->beta2),
                   .bc2 = (float)bc2,
                   .eps = (float)h->eps,
                   .coef_grad = (float)(-lr * (1 - mu) / (1 - (double)*prod)),
                   .coef_avg = (float)(-lr * mu_next / (1 - (double)prod_next))};
    optim_run(nadam_kernel, &k, o->n);
}
