/* optim_impl.h - internals shared by the optimisers in src/optim (not a public header).
 *
 * seqlm_optim_step (optim.c) advances the step count and calls the kind's step function, which
 * turns the hyperparameters into this step's coefficients (in double, as torch does in Python
 * floats) and runs one elementwise kernel over the parameters in fixed chunks (optim_run). Each
 * element depends only on its own parameter, gradient and state, so the result is the same for
 * any number of threads.
 *
 * Rounding follows torch 1.13's CPU kernels so that results agree to the last bit or two:
 * coefficients are rounded to float once, then every tensor operation is one float operation,
 * except add(alpha) and addcmul, which torch's vectorised kernels compute with a fused
 * multiply-add (fmadd below). */
#ifndef SEQLM_OPTIM_IMPL_H
#define SEQLM_OPTIM_IMPL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "seqlm/optim.h"

/* The hyperparameters as doubles: each float of the config is read back as the shortest
 * decimal that gives that float (0.9f -> 0.9), which is the Python float torch would hold.
 * It matters for derived values: 1 - 0.999f is 1.3e-5 away from 1 - 0.999 in relative terms. */
typedef struct {
    double weight_decay, momentum, dampening, beta1, beta2, eps, alpha, lr_decay,
        initial_accumulator, momentum_decay;
} optim_hyper;

struct seqlm_optim {
    seqlm_optim_config cfg;
    optim_hyper h;
    size_t n;            /* parameters */
    uint64_t steps;      /* updates done, counting the one in progress during a step */
    size_t state_floats; /* floats in state */
    float *state;        /* (state_floats): the kind's arrays of n, one after another */
    float lr_f;          /* the last rate passed to seqlm_optim_step ... */
    double lr_d;         /* ... and its decimal reading (optim_decimal) */
};

/* The shortest decimal that reads back as x, as a double (x itself if none has <= 9 digits). */
double optim_decimal(float x);

/* Calls kernel(ctx, lo, hi) over [0, n) in chunks of a fixed size, in parallel when there is
 * more than one chunk. */
typedef void (*optim_kernel)(const void *ctx, size_t lo, size_t hi);
void optim_run(optim_kernel kernel, const void *ctx, size_t n);

/* a * b + c rounded once, as torch's FMA kernels do: a float product is exact in double, so
 * only the sum rounds (to double, then to float; the two roundings differ from one only when
 * the double lands exactly on a float tie, which is vanishingly rare). */
static inline float fmadd(float a, float b, float c) {
    return (float)((double)a * (double)b + (double)c);
}

/* The kernels are written as one loop body with constant flags (an always-inline function
 * instantiated once per combination of settings), so that each loop is branch-free, and
 * OPTIM_SIMD asks for it to be vectorised (omp simd; the loops are elementwise, so this changes
 * no result). sqrtf stays out of those loops, in sqrt_block over OPTIM_BLOCK floats: it may set
 * errno, which stops the compiler from vectorising any loop that calls it. */
#define ALWAYS_INLINE inline __attribute__((always_inline))
#ifdef _OPENMP
#define OPTIM_SIMD _Pragma("omp simd")
#else
#define OPTIM_SIMD
#endif
#define OPTIM_BLOCK 256

static inline void sqrt_block(float *x, size_t n) {
    for (size_t j = 0; j < n; j++) x[j] = sqrtf(x[j]);
}

/* Per kind: the state it needs for n parameters (in floats), its initial values, and one
 * update with the step count already advanced (o->steps >= 1) at rate lr. */
size_t sgd_state_floats(const seqlm_optim_config *c, size_t n);
void sgd_step(seqlm_optim *o, float *params, const float *grads, double lr);

size_t adagrad_state_floats(const seqlm_optim_config *c, size_t n);
void adagrad_init_state(seqlm_optim *o);
void adagrad_step(seqlm_optim *o, float *params, const float *grads, double lr);

size_t rmsprop_state_floats(const seqlm_optim_config *c, size_t n);
void rmsprop_step(seqlm_optim *o, float *params, const float *grads, double lr);

size_t adam_state_floats(const seqlm_optim_config *c, size_t n); /* adam and adamw */
void adam_step(seqlm_optim *o, float *params, const float *grads, double lr);

size_t nadam_state_floats(const seqlm_optim_config *c, size_t n);
void nadam_init_state(seqlm_optim *o);
void nadam_step(seqlm_optim *o, float *params, const float *grads, double lr);

#endif
