/* seqlm/optim.h - optimisers, gradient clipping and learning-rate schedules.
 *
 * Each optimiser performs PyTorch 1.13's update (torch.optim, single-tensor, foreach=False
 * path) on one flat array: the parameters of a model live in one block (seqlm/params.h), and
 * the optimiser state mirrors it. The state is plain floats plus a step count, so checkpoints
 * can save and restore it exactly. */
#ifndef SEQLM_OPTIM_H
#define SEQLM_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "seqlm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SEQLM_OPT_SGD = 0,
    SEQLM_OPT_ADAGRAD,
    SEQLM_OPT_RMSPROP,
    SEQLM_OPT_ADAM,
    SEQLM_OPT_ADAMW,
    SEQLM_OPT_NADAM
} seqlm_optim_kind;

const char *seqlm_optim_name(seqlm_optim_kind k); /* "sgd", "adagrad", ... */
int seqlm_optim_parse(const char *name, seqlm_optim_kind *k);

typedef struct {
    seqlm_optim_kind kind;
    float lr;
    float weight_decay;        /* L2 added to the gradient; AdamW: decoupled decay */
    float momentum;            /* sgd, rmsprop */
    float dampening;           /* sgd */
    int nesterov;              /* sgd */
    float beta1, beta2;        /* adam, adamw, nadam */
    float eps;                 /* adagrad 1e-10, rmsprop/adam/adamw/nadam 1e-8 */
    float alpha;               /* rmsprop smoothing (0.99) */
    int centered;              /* rmsprop */
    float lr_decay;            /* adagrad */
    float initial_accumulator; /* adagrad */
    float momentum_decay;      /* nadam (0.004) */
    int amsgrad;               /* adam, adamw */
} seqlm_optim_config;

/* PyTorch 1.13's defaults for kind (lr: sgd has none there; 0.1 here; adagrad 0.01, rmsprop 0.01,
 * adam/adamw 0.001, nadam 0.002; adamw weight_decay 0.01). */
seqlm_optim_config seqlm_optim_defaults(seqlm_optim_kind kind);

typedef struct seqlm_optim seqlm_optim;

/* An optimiser for n parameters. NULL on bad settings or no memory (err says which). */
seqlm_optim *seqlm_optim_create(const seqlm_optim_config *cfg, size_t n, seqlm_error *err);
void seqlm_optim_free(seqlm_optim *o);
/* One update of params (n) from grads (n), at learning rate lr (which overrides cfg->lr, so that
 * schedules can change it; pass cfg->lr otherwise). params and grads must not overlap. */
void seqlm_optim_step(seqlm_optim *o, float *params, const float *grads, float lr);
/* The state for checkpoints: step count and the state arrays, state_floats() floats in all. */
uint64_t seqlm_optim_steps(const seqlm_optim *o);
size_t seqlm_optim_state_floats(const seqlm_optim *o);
float *seqlm_optim_state(seqlm_optim *o);
void seqlm_optim_set_steps(seqlm_optim *o, uint64_t steps);
const seqlm_optim_config *seqlm_optim_config_of(const seqlm_optim *o);

/* Global L2 norm of grads (summed in double) before clipping; if it exceeds max_norm, grads are
 * scaled by max_norm / (norm + 1e-6), as torch.nn.utils.clip_grad_norm_. */
double seqlm_clip_grad_norm(float *grads, size_t n, double max_norm);
/* Clamps every gradient to [-v, v] (clip_grad_value_). */
void seqlm_clip_grad_value(float *grads, size_t n, float v);

/* ---- learning-rate schedules ----------------------------------------------------------------- */

typedef enum {
    SEQLM_SCHED_CONSTANT = 0,
    SEQLM_SCHED_STEP,    /* lr * gamma^floor(epoch / step_size) */
    SEQLM_SCHED_PLATEAU, /* lr / factor when the validation loss fails to improve (patience) */
    SEQLM_SCHED_LINEAR,  /* lr * (1 - (1 - min_ratio) t/total): from lr down to lr * min_ratio */
    SEQLM_SCHED_COSINE   /* min + (lr - min) (1 + cos(pi t / total)) / 2 */
} seqlm_sched_kind;

const char *seqlm_sched_name(seqlm_sched_kind k);
int seqlm_sched_parse(const char *name, seqlm_sched_kind *k);

typedef struct {
    seqlm_sched_kind kind;
    float base_lr;
    int step_size;   /* step: epochs between decays */
    float gamma;     /* step: multiplier */
    float factor;    /* plateau: divide by this */
    int patience;    /* plateau: epochs without improvement tolerated */
    float threshold; /* plateau: relative improvement that counts (1e-4) */
    float min_ratio; /* linear/cosine: floor as a fraction of base_lr */
    uint64_t total;  /* linear/cosine: steps (or epochs) to decay over */
    /* state (saved in checkpoints) */
    float lr;
    double best;
    int bad_epochs;
} seqlm_schedule;

void seqlm_schedule_init(seqlm_schedule *s, seqlm_sched_kind kind, float base_lr);
/* The rate for step (linear/cosine) or epoch (step) t. */
float seqlm_schedule_at(seqlm_schedule *s, uint64_t t);
/* Plateau: report an epoch's validation loss; returns the (possibly reduced) rate and sets
 * *reduced. Other kinds return their current rate. */
float seqlm_schedule_plateau(seqlm_schedule *s, double val_loss, int *reduced);

#ifdef __cplusplus
}
#endif
#endif
