/* gradcheck.c - see gradcheck.h. */
#include "gradcheck.h"

#include <math.h>
#include <stdio.h>

double gradcheck(const char *label, gradcheck_loss_fn loss, void *ctx, float *x, const float *grad,
                 size_t n, float eps, size_t max_checks) {
    size_t stride = max_checks && n > max_checks ? n / max_checks : 1;
    double worst = 0, worst_num = 0, worst_ana = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < n; i += stride) {
        float saved = x[i];
        x[i] = saved + eps;
        double up = loss(ctx);
        x[i] = saved - eps;
        double down = loss(ctx);
        x[i] = saved;
        /* the perturbation actually applied, in float */
        double h = (double)(saved + eps) - (double)(saved - eps);
        double num = (up - down) / h, ana = grad[i];
        double err = fabs(num - ana) / fmax(1.0, fabs(num) + fabs(ana));
        if (err > worst) {
            worst = err;
            worst_num = num;
            worst_ana = ana;
            worst_i = i;
        }
    }
    printf("gradcheck %-28s n=%-6zu worst rel. error %.2e (at %zu: numeric %.6g, analytic %.6g)\n",
           label, n, worst, worst_i, worst_num, worst_ana);
    return worst;
}

double gradcheck_project(const float *y, size_t n, float *dy, unsigned seed) {
    double s = 0;
    unsigned state = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        state = state * 1664525u + 1013904223u;
        float w = (float)((state >> 8) & 0xFFFF) / 65536.0f - 0.5f;
        if (dy) dy[i] = w;
        s += (double)w * y[i];
    }
    return s;
}
