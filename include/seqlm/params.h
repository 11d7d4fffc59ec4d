/* seqlm/params.h - every trainable tensor of a model in one block, with names.
 *
 * A model registers its tensors by name and shape (PyTorch's names: "encoder.weight",
 * "rnn.weight_ih_l0", ...), then allocates once: values, gradients and any optimizer state
 * share one layout, so an optimizer is one loop over one array (llm.c's
 * malloc_and_point_parameters) and a model file is the registry written out. A tensor may alias
 * another (weight tying): both names share storage, and gradients from both uses accumulate
 * into the one gradient.
 *
 *     seqlm_params *p = seqlm_params_create();
 *     int w = seqlm_params_add(p, "linear.weight", 2, (int64_t[]){O, I});
 *     seqlm_params_alloc(p, &err);
 *     float *W = seqlm_params_value(p, w), *dW = seqlm_params_grad(p, w);  // (O, I)
 *
 * Pointers returned by value/grad stay valid until seqlm_params_free. Tensors are 16-float
 * (64-byte) aligned. */
#ifndef SEQLM_PARAMS_H
#define SEQLM_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "seqlm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SEQLM_PARAM_NAME_MAX 96
#define SEQLM_PARAM_MAX_DIMS 4

typedef struct {
    char name[SEQLM_PARAM_NAME_MAX];
    int ndim;
    int64_t shape[SEQLM_PARAM_MAX_DIMS];
    size_t size;   /* number of floats */
    size_t offset; /* into values/grads, in floats */
    int alias_of;  /* -1, or the index of the tensor whose storage this one shares */
} seqlm_param_info;

typedef struct {
    seqlm_param_info *info;
    int count, cap;
    size_t total;  /* floats in the block (aliases take none) */
    float *values; /* (total) */
    float *grads;  /* (total) */
} seqlm_params;

seqlm_params *seqlm_params_create(void);
void seqlm_params_free(seqlm_params *p);

/* Registers a tensor before seqlm_params_alloc; returns its index, or -1 (duplicate name, bad
 * shape, out of memory). */
int seqlm_params_add(seqlm_params *p, const char *name, int ndim, const int64_t *shape);
/* Registers name as sharing the storage of tensor target (same shape); returns its index. */
int seqlm_params_alias(seqlm_params *p, const char *name, int target);
/* Allocates values and gradients, zeroed. */
seqlm_status seqlm_params_alloc(seqlm_params *p, seqlm_error *err);

int seqlm_params_find(const seqlm_params *p, const char *name); /* -1 if absent */
float *seqlm_params_value(const seqlm_params *p, int index);
float *seqlm_params_grad(const seqlm_params *p, int index);
void seqlm_params_zero_grad(seqlm_params *p);
/* The number of trainable floats (aliases counted once). */
size_t seqlm_params_total(const seqlm_params *p);

#ifdef __cplusplus
}
#endif
#endif
