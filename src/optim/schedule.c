/* schedule.c - learning-rate schedules (see seqlm/optim.h): constant, step decay, reduce on
 * plateau, linear and cosine decay. Each is a closed form of the step or epoch number except
 * plateau, whose state (best loss, bad epochs, current rate) lives in the struct so that
 * checkpoints can save it.
 *
 * Correspondence with torch.optim.lr_scheduler:
 *   step     StepLR(step_size, gamma)           (closed form: base gamma^floor(t / step_size))
 *   plateau  ReduceLROnPlateau(mode="min", threshold_mode="rel", threshold, patience,
 *                              factor = 1 / our factor, cooldown 0, min_lr 0, eps 1e-8)
 *   linear   LinearLR(start_factor 1, end_factor min_ratio, total_iters total)
 *   cosine   CosineAnnealingLR(T_max total, eta_min base min_ratio)
 * Linear and cosine stay at their floor after total steps (torch's cosine would rise again). */
#include <math.h>
#include <string.h>

#include "seqlm/optim.h"

static const char *sched_names[] = {"constant", "step", "plateau", "linear", "cosine"};
#define NSCHED (int)(sizeof sched_names / sizeof sched_names[0])
#define PI     3.141592653589793 /* math.pi */

const char *seqlm_sched_name(seqlm_sched_kind k) {
    return (unsigned)k < (unsigned)NSCHED ? sched_names[k] : "?";
}

int seqlm_sched_parse(const char *name, seqlm_sched_kind *k) {
    for (int i = 0; i < NSCHED; i++)
        if (strcmp(name, sched_names[i]) == 0) {
            *k = (seqlm_sched_kind)i;
            return 0;
        }
    return -1;
}

/* Defaults: torch's where it has one (StepLR gamma 0.1; ReduceLROnPlateau factor 0.1 - a
 * divisor of 10 here -, patience 10, threshold 1e-4), step_size 1, min_ratio 0, total 0 (no
 * decay until the caller sets it). */
void seqlm_schedule_init(seqlm_schedule *s, seqlm_sched_kind kind, float base_lr) {
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->base_lr = base_lr;
    s->step_size = 1;
    s->gamma = 0.1f;
    s->factor = 10.0f;
    s->patience = 10;
    s->threshold = 1e-4f;
    s->min_ratio = 0.0f;
    s->total = 0;
    s->lr = base_lr;
    s->best = INFINITY;
    s->bad_epochs = 0;
}

float seqlm_schedule_at(seqlm_schedule *s, uint64_t t) {
    double base = s->base_lr, lr = base;
    switch (s->kind) {
    case SEQLM_SCHED_STEP:
        if (s->step_size > 0) lr = base * pow(s->gamma, (double)(t / (uint64_t)s->step_size));
        break;
    case SEQLM_SCHED_PLATEAU:
        return s->lr;
    case SEQLM_SCHED_LINEAR:
        if (s->total > 0) {
            double u = t < s->total ? (double)t / (double)s->total : 1.0;
            lr = base * (1 - (1 - (double)s->min_ratio) * u);
        }
        break;
    case SEQLM_SCHED_COSINE:
        if (s->total > 0) {
            double u = t < s->total ? (double)t / (double)s->total : 1.0;
            double lo = base * s->min_ratio;
            lr = lo + (base - lo) * (1 + cos(PI * u)) / 2;
        }
        break;
    default: /* constant */
        break;
    }
    s->lr = (float)lr;
    return s->lr;
}

float seqlm_schedule_plateau(seqlm_schedule *s, double val_loss, int *reduced) {
    if (reduced) *reduced = 0;
    if (s->kind != SEQLM_SCHED_PLATEAU) return s->lr;
    /* an improvement must beat the best by the relative threshold; NaN never does */
    if (val_loss < s->best * (1 - (double)s->threshold)) {
        s->best = val_loss;
        s->bad_epochs = 0;
    } else {
        s->bad_epochs++;
    }
    if (s->bad_epochs > s->patience) {
        double old = s->lr, lr = old / s->factor;
        /* torch ignores changes below eps = 1e-8; a factor <= 1 would not reduce */
        if (s->factor > 1 && old - lr > 1e-8) {
            s->lr = (float)lr;
            if (reduced) *reduced = 1;
        }
        s->bad_epochs = 0;
    }
    return s->lr;
}
