/* init.c - parameter initialisers (see the initialisation section of seqlm/nn.h).
 *
 * Every draw comes from the caller's seqlm_rng, in a fixed order, so a seed fixes a model. The
 * distributions are PyTorch's (torch.nn.init); the numbers are not, since the generators differ.
 * Not here: which initialiser a layer uses by default - that is each layer's seqlm_<layer>_reset.
 */
#include <math.h>
#include <stdlib.h>

#include "seqlm/nn.h"

void seqlm_init_uniform(float *w, size_t n, float a, seqlm_rng *rng) {
    for (size_t i = 0; i < n; i++) w[i] = (float)((2.0 * seqlm_rng_uniform(rng) - 1.0) * a);
}

void seqlm_init_normal(float *w, size_t n, float mean, float std, seqlm_rng *rng) {
    for (size_t i = 0; i < n; i++) w[i] = (float)(mean + std * seqlm_rng_normal(rng));
}

/* Glorot & Bengio (2010): Var(w) = gain^2 * 2 / (fan_in + fan_out), which keeps the variance of
 * activations and of back-propagated gradients roughly constant from layer to layer. A uniform
 * U(-a, a) has variance a^2 / 3, hence a = gain sqrt(6 / (in + out)). */
void seqlm_init_xavier_uniform(float *w, int fan_out, int fan_in, float gain, seqlm_rng *rng) {
    double a = gain * sqrt(6.0 / ((double)fan_in + fan_out));
    seqlm_init_uniform(w, (size_t)fan_out * (size_t)fan_in, (float)a, rng);
}

void seqlm_init_xavier_normal(float *w, int fan_out, int fan_in, float gain, seqlm_rng *rng) {
    double std = gain * sqrt(2.0 / ((double)fan_in + fan_out));
    seqlm_init_normal(w, (size_t)fan_out * (size_t)fan_in, 0.0f, (float)std, rng);
}

/* k orthonormal vectors of length m (k <= m), stored q[j*m + i]: the Q factor of the QR
 * decomposition of an m x k standard Gaussian matrix. Modified Gram-Schmidt in double, run twice
 * per vector ("twice is enough", Giraud et al. 2005) so that orthogonality holds to rounding even
 * for large m. Gram-Schmidt's R has a positive diagonal, which is exactly the sign fix
 * (Q * sign(diag R)) that makes Q Haar-distributed (Mezzadri 2007); PyTorch's orthogonal_ does
 * the same with Householder QR. */
static void gaussian_orthonormal(double *q, int m, int k, seqlm_rng *rng) {
    for (size_t i = 0; i < (size_t)m * k; i++) q[i] = seqlm_rng_normal(rng);
    for (int j = 0; j < k; j++) {
        double *v = q + (size_t)j * m;
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < j; i++) {
                const double *u = q + (size_t)i * m;
                double dot = 0;
                for (int r = 0; r < m; r++) dot += u[r] * v[r];
                for (int r = 0; r < m; r++) v[r] -= dot * u[r];
            }
        double norm = 0;
        for (int r = 0; r < m; r++) norm += v[r] * v[r];
        norm = sqrt(norm);
        /* A Gaussian vector lies in the span of j < m others with probability 0. */
        if (norm < 1e-12) norm = 1e-12;
        for (int r = 0; r < m; r++) v[r] /= norm;
    }
}

/* One (rows, cols) block at w with row stride ld: orthonormal columns when rows >= cols,
 * orthonormal rows otherwise (PyTorch's orthogonal_), times gain. */
static void orthogonal_block(float *w, int rows, int cols, float gain, double *q, seqlm_rng *rng) {
    int tall = rows >= cols;
    int m = tall ? rows : cols, k = tall ? cols : rows;
    gaussian_orthonormal(q, m, k, rng);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            /* tall: column c is vector c; wide: row r is vector r */
            double v = tall ? q[(size_t)c * m + r] : q[(size_t)r * m + c];
            w[(size_t)r * cols + c] = (float)(gain * v);
        }
}

/* Gate blocks: a (G*H, H) recurrent matrix (rows a multiple G > 1 of cols) is treated as G
 * stacked (H, H) blocks, each an independent orthogonal matrix, so that every gate's recurrent
 * map is norm-preserving (Saxe et al. 2014's argument applies per gate). The columns of the whole
 * matrix are then orthogonal with norm sqrt(G) rather than 1 - the difference from PyTorch's
 * orthogonal_ applied to the whole (G*H, H) matrix. Any other shape is done as a whole. If the
 * double workspace cannot be allocated the matrix falls back to xavier_normal (still a valid
 * initialisation; the function has no way to report an error). */
void seqlm_init_orthogonal(float *w, int rows, int cols, float gain, seqlm_rng *rng) {
    if (rows <= 0 || cols <= 0) return;
    int blocks = rows > cols && rows % cols == 0 ? rows / cols : 1;
    int brows = rows / blocks;
    int m = brows >= cols ? brows : cols, k = brows >= cols ? cols : brows;
    double *q = malloc((size_t)m * (size_t)k * sizeof *q);
    if (!q) {
        seqlm_init_xavier_normal(w, rows, cols, gain, rng);
        return;
    }
    for (int b = 0; b < blocks; b++)
        orthogonal_block(w + (size_t)b * brows * cols, brows, cols, gain, q, rng);
    free(q);
}
