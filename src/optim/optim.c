/* optim.c - the optimiser object: names, PyTorch's defaults, checking a configuration,
 * creation, the step dispatcher and the state for checkpoints (see seqlm/optim.h).
 *
 * The update rules themselves live one per file (sgd.c, adagrad.c, rmsprop.c, adam.c for Adam
 * and AdamW, nadam.c); this file only holds what they share. State layout, in floats, each
 * array n long and in this order:
 *   sgd      momentum_buffer                       (none when momentum is 0)
 *   adagrad  sum
 *   rmsprop  square_avg [, momentum_buffer if momentum > 0] [, grad_avg if centered]
 *   adam(w)  exp_avg, exp_avg_sq [, max_exp_avg_sq if amsgrad]
 *   nadam    exp_avg, exp_avg_sq, then one float: mu_product
 * (torch's names). The step count is kept apart (seqlm_optim_steps). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim/optim_impl.h"

static const char *kind_names[] = {"sgd", "adagrad", "rmsprop", "adam", "adamw", "nadam"};
#define NKINDS (int)(sizeof kind_names / sizeof kind_names[0])

const char *seqlm_optim_name(seqlm_optim_kind k) {
    return (unsigned)k < (unsigned)NKINDS ? kind_names[k] : "?";
}

int seqlm_optim_parse(const char *name, seqlm_optim_kind *k) {
    for (int i = 0; i < NKINDS; i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *k = (seqlm_optim_kind)i;
            return 0;
        }
    return -1;
}

/* Every field gets the default of the optimiser it belongs to, whatever the kind, so a config
 * stays complete when only its kind is changed; lr, eps and weight_decay depend on the kind. */
seqlm_optim_config seqlm_optim_defaults(seqlm_optim_kind kind) {
    seqlm_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.alpha = 0.99f;
    c.momentum_decay = 0.004f;
    switch (kind) {
    case SEQLM_OPT_ADAGRAD:
        c.lr = 0.01f;
        c.eps = 1e-10f;
        break;
    case SEQLM_OPT_RMSPROP:
        c.lr = 0.01f;
        break;
    case SEQLM_OPT_ADAM:
        c.lr = 0.001f;
        break;
    case SEQLM_OPT_ADAMW:
        c.lr = 0.001f;
        c.weight_decay = 0.01f;
        break;
    case SEQLM_OPT_NADAM:
        c.lr = 0.002f;
        break;
    default: /* sgd: torch requires lr; 0.1 is our choice */
        c.lr = 0.1f;
        break;
    }
    return c;
}

double optim_decimal(float x) {
    if (!isfinite(x) || x == 0) return x;
    char buf[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)x);
        double d = strtod(buf, NULL);
        if ((float)d == x) return d;
    }
    return x;
}

#define CHUNK 16384

void optim_run(optim_kernel kernel, const void *ctx, size_t n) {
    size_t chunks = (n + CHUNK - 1) / CHUNK;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (chunks > 1)
#endif
    for (size_t c = 0; c < chunks; c++) {
        size_t lo = c * CHUNK, hi = lo + CHUNK < n ? lo + CHUNK : n;
        kernel(ctx, lo, hi);
    }
}

/* ---- checking a configuration ----------------------------------------------------------- */

/* torch's checks (`not 0.0 <= x`, so NaN fails), plus: values must be finite. */
static int check_nonneg(const char *opt, const char *what, float v, seqlm_error *err) {
    if (v >= 0 && isfinite(v)) return 0;
    seqlm_error_set(err, SEQLM_ERR_ARG, "%s: %s must be a finite value >= 0 (got %g)", opt, what,
                    (double)v);
    return -1;
}

static int check_beta(const char *opt, const char *what, float v, seqlm_error *err) {
    if (v >= 0 && v < 1) return 0;
    seqlm_error_set(err, SEQLM_ERR_ARG, "%s: %s must be in [0, 1) (got %g)", opt, what, (double)v);
    return -1;
}

static int check_config(const seqlm_optim_config *c, seqlm_error *err) {
    if ((unsigned)c->kind >= (unsigned)NKINDS) {
        seqlm_error_set(err, SEQLM_ERR_ARG, "unknown optimiser kind %d", (int)c->kind);
        return -1;
    }
    const char *o = kind_names[c->kind];
    if (check_nonneg(o, "learning rate", c->lr, err) ||
        check_nonneg(o, "weight_decay", c->weight_decay, err))
        return -1;
    switch (c->kind) {
    case SEQLM_OPT_SGD:
        if (check_nonneg(o, "momentum", c->momentum, err)) return -1;
        if (!isfinite(c->dampening)) {
            seqlm_error_set(err, SEQLM_ERR_ARG, "sgd: dampening must be finite");
            return -1;
        }
        if (c->nesterov && (c->momentum <= 0 || c->dampening != 0)) {
            seqlm_error_set(err, SEQLM_ERR_ARG,
                            "sgd: nesterov momentum requires momentum > 0 and dampening 0 "
                            "(got momentum %g, dampening %g)",
                            (double)c->momentum, (double)c->dampening);
            return -1;
        }
        return 0;
    case SEQLM_OPT_ADAGRAD:
        return check_nonneg(o, "lr_decay", c->lr_decay, err) ||
                       check_nonneg(o, "initial_accumulator", c->initial_accumulator, err) ||
                       check_nonneg(o, "eps", c->eps, err)
                   ? -1
                   : 0;
    case SEQLM_OPT_RMSPROP:
        return check_nonneg(o, "eps", c->eps, err) ||
                       check_nonneg(o, "momentum", c->momentum, err) ||
                       check_nonneg(o, "alpha", c->alpha, err)
                   ? -1
                   : 0;
    case SEQLM_OPT_NADAM:
        if (check_nonneg(o, "momentum_decay", c->momentum_decay, err)) return -1;
        /* fall through */
    default: /* adam, adamw */
        return check_nonneg(o, "eps", c->eps, err) || check_beta(o, "beta1", c->beta1, err) ||
                       check_beta(o, "beta2", c->beta2, err)
                   ? -1
                   : 0;
    }
}

/* ---- the object ------------------------------------------------------------------------- */

static size_t state_floats(const seqlm_optim_config *c, size_t n) {
    switch (c->kind) {
    case SEQLM_OPT_SGD:
        return sgd_state_floats(c, n);
    case SEQLM_OPT_ADAGRAD:
        return adagrad_state_floats(c, n);
    case SEQLM_OPT_RMSPROP:
        return rmsprop_state_floats(c, n);
    case SEQLM_OPT_NADAM:
        return nadam_state_floats(c, n);
    default:
        return adam_state_floats(c, n);
    }
}

seqlm_optim *seqlm_optim_create(const seqlm_optim_config *cfg, size_t n, seqlm_error *err) {
    if (check_config(cfg, err)) return NULL;
    if (n > SIZE_MAX / sizeof(float) / 4) {
        seqlm_error_set(err, SEQLM_ERR_ARG, "%s: %zu parameters are too many",
                        kind_names[cfg->kind], n);
        return NULL;
    }
    seqlm_optim *o = calloc(1, sizeof *o);
    if (!o) goto nomem;
    o->cfg = *cfg;
    o->n = n;
    o->state_floats = state_floats(cfg, n);
    if (o->state_floats) {
        o->state = calloc(o->state_floats, sizeof(float));
        if (!o->state) goto nomem;
    }
    optim_hyper *h = &o->h;
    h->weight_decay = optim_decimal(cfg->weight_decay);
    h->momentum = optim_decimal(cfg->momentum);
    h->dampening = optim_decimal(cfg->dampening);
    h->beta1 = optim_decimal(cfg->beta1);
    h->beta2 = optim_decimal(cfg->beta2);
    h->eps = optim_decimal(cfg->eps);
    h->alpha = optim_decimal(cfg->alpha);
    h->lr_decay = optim_decimal(cfg->lr_decay);
    h->initial_accumulator = optim_decimal(cfg->initial_accumulator);
    h->momentum_decay = optim_decimal(cfg->momentum_decay);
    o->lr_f = cfg->lr;
    o->lr_d = optim_decimal(cfg->lr);
    if (cfg->kind == SEQLM_OPT_ADAGRAD) adagrad_init_state(o);
    if (cfg->kind == SEQLM_OPT_NADAM) nadam_init_state(o);
    return o;
nomem:
    seqlm_optim_free(o);
    seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: no memory for the state of %zu parameters",
                    kind_names[cfg->kind], n);
    return NULL;
}

void seqlm_optim_free(seqlm_optim *o) {
    if (!o) return;
    free(o->state);
    free(o);
}

void seqlm_optim_step(seqlm_optim *o, float *params, const float *grads, float lr) {
    if (lr != o->lr_f) { /* a schedule moved it; read it as a decimal again */
        o->lr_f = lr;
        o->lr_d = optim_decimal(lr);
    }
    o->steps++; /* torch advances state['step'] before the update */
    switch (o->cfg.kind) {
    case SEQLM_OPT_SGD:
        sgd_step(o, params, grads, o->lr_d);
        break;
    case SEQLM_OPT_ADAGRAD:
        adagrad_step(o, params, grads, o->lr_d);
        break;
    case SEQLM_OPT_RMSPROP:
        rmsprop_step(o, params, grads, o->lr_d);
        break;
    case SEQLM_OPT_NADAM:
        nadam_step(o, params, grads, o->lr_d);
        break;
    default:
        adam_step(o, params, grads, o->lr_d);
        break;
    }
}

uint64_t seqlm_optim_steps(const seqlm_optim *o) {
    return o->steps;
}

size_t seqlm_optim_state_floats(const seqlm_optim *o) {
    return o->state_floats;
}

float *seqlm_optim_state(seqlm_optim *o) {
    return o->state;
}

void seqlm_optim_set_steps(seqlm_optim *o, uint64_t steps) {
    o->steps = steps;
}

const seqlm_optim_config *seqlm_optim_config_of(const seqlm_optim *o) {
    return &o->cfg;
}
