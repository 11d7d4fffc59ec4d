/* gradcheck.h - finite-difference checks of analytic gradients, shared by the layer tests.
 *
 * loss(ctx) runs a forward pass and returns a scalar loss (accumulated in double). gradcheck
 * perturbs x[i] by +-eps (in place, restored), compares (L(x+eps) - L(x-eps)) / (2 eps) with
 * grad[i], and returns the worst error |num - ana| / max(1, |num| + |ana|). At most max_checks
 * entries are checked (spread evenly; 0 = all). The worst entry is printed with label. */
#ifndef SEQLM_GRADCHECK_H
#define SEQLM_GRADCHECK_H

#include <stddef.h>

typedef double (*gradcheck_loss_fn)(void *ctx);

double gradcheck(const char *label, gradcheck_loss_fn loss, void *ctx, float *x, const float *grad,
                 size_t n, float eps, size_t max_checks);

/* A fixed random projection loss helper: sum_i w[i] * y[i], with w from a seeded generator, so
 * that every output element gets a distinct upstream gradient. dy receives w. */
double gradcheck_project(const float *y, size_t n, float *dy, unsigned seed);

#endif
