/* params.c - the parameter registry: names, shapes, one aligned block (see seqlm/params.h). */
#include "seqlm/params.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN_FLOATS 16

seqlm_params *seqlm_params_create(void) {
    return calloc(1, sizeof(seqlm_params));
}

void seqlm_params_free(seqlm_params *p) {
    if (!p) return;
    free(p->info);
    free(p->values);
    free(p->grads);
    free(p);
}

static int push(seqlm_params *p, const char *name) {
    if (!name || strlen(name) >= SEQLM_PARAM_NAME_MAX || seqlm_params_find(p, name) >= 0 ||
        p->values)
        return -1;
    if (p->count == p->cap) {
        int cap = p->cap ? p->cap * 2 : 16;
        seqlm_param_info *info = realloc(p->info, (size_t)cap * sizeof *info);
        if (!info) return -1;
        p->info = info;
        p->cap = cap;
    }
    seqlm_param_info *t = &p->info[p->count];
    memset(t, 0, sizeof *t);
    strcpy(t->name, name);
    t->alias_of = -1;
    return p->count++;
}

int seqlm_params_add(seqlm_params *p, const char *name, int ndim, const int64_t *shape) {
    if (ndim < 1 || ndim > SEQLM_PARAM_MAX_DIMS) return -1;
    size_t size = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) return -1;
        size *= (size_t)shape[i];
    }
    int idx = push(p, name);
    if (idx < 0) return -1;
    seqlm_param_info *t = &p->info[idx];
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->size = size;
    t->offset = p->total;
    p->total += (size + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    return idx;
}

int seqlm_params_alias(seqlm_params *p, const char *name, int target) {
    if (target < 0 || target >= p->count) return -1;
    while (p->info[target].alias_of >= 0) target = p->info[target].alias_of;
    int idx = push(p, name);
    if (idx < 0) return -1;
    seqlm_param_info *t = &p->info[idx];
    const seqlm_param_info *src = &p->info[target];
    t->ndim = src->ndim;
    memcpy(t->shape, src->shape, sizeof t->shape);
    t->size = src->size;
    t->offset = src->offset;
    t->alias_of = target;
    return idx;
}

seqlm_status seqlm_params_alloc(seqlm_params *p, seqlm_error *err) {
    size_t bytes = (p->total ? p->total : ALIGN_FLOATS) * sizeof(float);
    bytes = (bytes + 63) / 64 * 64;
    p->values = aligned_alloc(64, bytes);
    p->grads = aligned_alloc(64, bytes);
    if (!p->values || !p->grads) {
        free(p->values);
        free(p->grads);
        p->values = p->grads = NULL;
        return seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory for %zu parameters", p->total);
    }
    memset(p->values, 0, bytes);
    memset(p->grads, 0, bytes);
    return SEQLM_OK;
}

int seqlm_params_find(const seqlm_params *p, const char *name) {
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->info[i].name, name) == 0) return i;
    return -1;
}

float *seqlm_params_value(const seqlm_params *p, int index) {
    return p->values + p->info[index].offset;
}

float *seqlm_params_grad(const seqlm_params *p, int index) {
    return p->grads + p->info[index].offset;
}

void seqlm_params_zero_grad(seqlm_params *p) {
    if (p->grads) memset(p->grads, 0, p->total * sizeof(float));
}

size_t seqlm_params_total(const seqlm_params *p) {
    size_t n = 0;
    for (int i = 0; i < p->count; i++)
        if (p->info[i].alias_of < 0) n += p->info[i].size;
    return n;
}
