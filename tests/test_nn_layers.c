/* test_nn_layers.c - the feed-forward layers of seqlm/nn.h: embedding, linear (plain and tied),
 * dropout, softmax + cross-entropy, the output layer and the Bengio et al. (2003) window model.
 *
 * Two kinds of check:
 * - gradient checks (gradcheck.h): central differences of a scalar loss - a fixed random
 *   projection of the layer's output, or the cross-entropy itself - against the analytic
 *   backward, for every parameter and input; relative error < 1e-2, printed;
 * - golden numbers from PyTorch 1.13 (tests/golden/make_golden_layers.py writes
 *   tests/golden/layers_*.safetensors): outputs, losses and every gradient, agreeing to 1e-5
 *   relative to max(1, |ref|), the worst difference printed.
 * Plus the contract details: repeated ids accumulate, backward accumulates (+=), a tied weight
 * gathers gradients from both uses, dropout's mask and rng use, ignore_index, aliasing of
 * logits and their gradient, chunking beyond N_max, and results independent of the thread
 * count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "seqlm/kernels.h"
#include "seqlm/modelfile.h"
#include "seqlm/nn.h"
#include "testutil.h"

#define GRAD_TOL   1e-2
#define GRAD_EPS   1e-2f
#define GOLDEN_TOL 1e-5

static void alloc_params(seqlm_params *p) {
    seqlm_error err;
    assert_int_equal(seqlm_params_alloc(p, &err), SEQLM_OK);
}

static void fill_normal(float *x, size_t n, float std, seqlm_rng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(std * seqlm_rng_normal(rng));
}

static float *xmalloc(size_t n) {
    float *x = calloc(n ? n : 1, sizeof *x);
    assert_non_null(x);
    return x;
}

/* Gradcheck of tensor t (values and grads in p) under loss. */
static void check_tensor(const char *label, gradcheck_loss_fn loss, void *ctx, seqlm_params *p,
                         int t) {
    double e = gradcheck(label, loss, ctx, seqlm_params_value(p, t), seqlm_params_grad(p, t),
                         p->info[t].size, GRAD_EPS, 0);
    assert_true(e < GRAD_TOL);
}

static void check_input(const char *label, gradcheck_loss_fn loss, void *ctx, float *x,
                        const float *dx, size_t n) {
    double e = gradcheck(label, loss, ctx, x, dx, n, GRAD_EPS, 0);
    assert_true(e < GRAD_TOL);
}

/* ---- initialisation ----------------------------------------------------------------------- */

static void moments(const float *w, size_t n, double *mean, double *std, double *absmax) {
    double s = 0, s2 = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        s += w[i];
        s2 += (double)w[i] * w[i];
        mx = fmax(mx, fabs(w[i]));
    }
    *mean = s / n;
    *std = sqrt(s2 / n - *mean * *mean);
    *absmax = mx;
}

/* max |(W W^T)_ij - g^2 [i == j]| over the rows of W (rows, cols) when rows <= cols, or over its
 * columns when rows > cols. */
static double orthogonality_error(const float *W, int rows, int cols, double g) {
    int tall = rows > cols, k = tall ? cols : rows, m = tall ? rows : cols;
    double worst = 0;
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
            double dot = 0;
            for (int i = 0; i < m; i++) {
                double wa = tall ? W[(size_t)i * cols + a] : W[(size_t)a * cols + i];
                double wb = tall ? W[(size_t)i * cols + b] : W[(size_t)b * cols + i];
                dot += wa * wb;
            }
            worst = fmax(worst, fabs(dot - (a == b ? g * g : 0.0)));
        }
    return worst;
}

static void test_init(void **unused) {
    (void)unused;
    seqlm_rng rng, again;
    const size_t n = 200000;
    float *w = xmalloc(n), *w2 = xmalloc(n);
    double mean, std, mx;

    seqlm_rng_seed(&rng, 10);
    seqlm_init_uniform(w, n, 0.5f, &rng);
    moments(w, n, &mean, &std, &mx);
    printf("uniform(0.5): mean %.4f std %.4f (%.4f) max %.4f\n", mean, std, 0.5 / sqrt(3), mx);
    assert_true(mx <= 0.5 && fabs(mean) < 0.005 && fabs(std - 0.5 / sqrt(3.0)) < 0.005);
    seqlm_rng_seed(&again, 10); /* the seed fixes the numbers */
    seqlm_init_uniform(w2, n, 0.5f, &again);
    assert_memory_equal(w, w2, n * sizeof(float));

    seqlm_init_normal(w, n, 1.0f, 2.0f, &rng);
    moments(w, n, &mean, &std, &mx);
    printf("normal(1, 2): mean %.4f std %.4f\n", mean, std);
    assert_true(fabs(mean - 1.0) < 0.02 && fabs(std - 2.0) < 0.02);

    /* Glorot: a = gain sqrt(6 / (in + out)), std = gain sqrt(2 / (in + out)) */
    seqlm_init_xavier_uniform(w, 400, 100, 2.0f, &rng);
    moments(w, 40000, &mean, &std, &mx);
    double a = 2.0 * sqrt(6.0 / 500.0);
    printf("xavier_uniform(400, 100, gain 2): max %.4f (bound %.4f), std %.4f (%.4f)\n", mx, a, std,
           a / sqrt(3.0));
    assert_true(mx <= a && mx > 0.99 * a && fabs(std - a / sqrt(3.0)) < 0.01 * a);
    seqlm_init_xavier_normal(w, 400, 100, 1.0f, &rng);
    moments(w, 40000, &mean, &std, &mx);
    printf("xavier_normal(400, 100): std %.4f (%.4f)\n", std, sqrt(2.0 / 500.0));
    assert_true(fabs(std - sqrt(2.0 / 500.0)) < 0.02 * sqrt(2.0 / 500.0));

    /* orthogonal: square, wide (orthonormal rows), tall (orthonormal columns), and a (4H, H)
     * recurrent matrix whose four (H, H) gate blocks are each orthogonal */
    static const int shapes[][2] = {{33, 33}, {10, 37}, {37, 10}, {48, 20}};
    for (size_t s = 0; s < 4; s++) {
        int r = shapes[s][0], c = shapes[s][1];
        seqlm_init_orthogonal(w, r, c, 1.5f, &rng);
        double e = orthogonality_error(w, r, c, 1.5);
        printf("orthogonal(%d, %d, gain 1.5): max |W W^T - g^2 I| = %.2e\n", r, c, e);
        assert_true(e < 1e-5);
    }
    const int H = 16;
    seqlm_init_orthogonal(w, 4 * H, H, 1.0f, &rng);
    for (int g = 0; g < 4; g++) {
        double e = orthogonality_error(w + (size_t)g * H * H, H, H, 1.0);
        printf("orthogonal(4*%d, %d) gate block %d: %.2e\n", H, H, g, e);
        assert_true(e < 1e-5);
    }
    free(w);
    free(w2);
}

/* ---- embedding ------------------------------------------------------------------------------ */

typedef struct {
    seqlm_embedding emb;
    seqlm_params *p;
    const int32_t *ids;
    size_t N;
    float *out; /* (N, E) */
} emb_ctx;

static double emb_loss(void *c) {
    emb_ctx *x = c;
    seqlm_embedding_forward(&x->emb, x->p, x->ids, x->N, x->out);
    return gradcheck_project(x->out, x->N * x->emb.E, NULL, 11);
}

static void test_embedding(void **unused) {
    (void)unused;
    static const int32_t ids[] = {3, 1, 3, 0, 6, 3, 1, 5, 5, 2, 3, 0}; /* repeats: 3 x4, 1, 5, 0 */
    emb_ctx c = {.p = seqlm_params_create(), .ids = ids, .N = 12};
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 1);
    assert_int_equal(seqlm_embedding_init(&c.emb, c.p, "encoder", 7, 5), 0);
    assert_int_equal(seqlm_params_find(c.p, "encoder.weight"), c.emb.weight);
    seqlm_embedding dup;
    assert_true(seqlm_embedding_init(&dup, c.p, "encoder", 7, 5) < 0); /* duplicate name */
    alloc_params(c.p);
    seqlm_embedding_reset(&c.emb, c.p, &rng);
    const float *W = seqlm_params_value(c.p, c.emb.weight);
    c.out = xmalloc(c.N * 5);
    float *dout = xmalloc(c.N * 5);

    seqlm_embedding_forward(&c.emb, c.p, ids, c.N, c.out);
    for (size_t n = 0; n < c.N; n++)
        assert_memory_equal(c.out + n * 5, W + (size_t)ids[n] * 5, 5 * sizeof(float));
    gradcheck_project(c.out, c.N * 5, dout, 11);
    seqlm_embedding_backward(&c.emb, c.p, ids, c.N, dout);
    check_tensor("embedding weight", emb_loss, &c, c.p, c.emb.weight);
    /* row 4 is never looked up: its gradient stays exactly 0 */
    const float *dW = seqlm_params_grad(c.p, c.emb.weight);
    for (int e = 0; e < 5; e++) assert_true(dW[4 * 5 + e] == 0.0f && dW[3 * 5 + e] != 0.0f);
    free(c.out);
    free(dout);
    seqlm_params_free(c.p);
}

/* The parallel scatter-add gives the serial loop's bits for 1 and 2 threads. */
static void test_embedding_parallel(void **unused) {
    (void)unused;
    const int V = 50, E = 100;
    const size_t N = 5000;
    seqlm_params *p = seqlm_params_create();
    seqlm_embedding emb;
    assert_int_equal(seqlm_embedding_init(&emb, p, "emb", V, E), 0);
    alloc_params(p);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 2);
    int32_t *ids = malloc(N * sizeof *ids);
    assert_non_null(ids);
    for (size_t n = 0; n < N; n++) ids[n] = (int32_t)seqlm_rng_below(&rng, (uint64_t)V);
    float *dout = xmalloc(N * E), *ref = xmalloc((size_t)V * E);
    fill_normal(dout, N * E, 1.0f, &rng);
    for (size_t n = 0; n < N; n++)
        for (int e = 0; e < E; e++) ref[(size_t)ids[n] * E + e] += dout[n * E + e];
    int threads = seqlm_threads();
    for (int t = 1; t <= 2; t++) {
        seqlm_set_threads(t);
        seqlm_params_zero_grad(p);
        seqlm_embedding_backward(&emb, p, ids, N, dout);
        assert_memory_equal(seqlm_params_grad(p, emb.weight), ref, (size_t)V * E * sizeof(float));
    }
    seqlm_set_threads(threads);
    free(ids);
    free(dout);
    free(ref);
    seqlm_params_free(p);
}

/* ---- linear ------------------------------------------------------------------------------- */

typedef struct {
    seqlm_linear lin;
    seqlm_params *p;
    float *x; /* (N, I) */
    size_t N;
    float *y; /* (N, O) */
} lin_ctx;

static double lin_loss(void *c) {
    lin_ctx *x = c;
    seqlm_linear_forward(&x->lin, x->p, x->x, x->N, x->y);
    return gradcheck_project(x->y, x->N * x->lin.O, NULL, 12);
}

static void linear_case(int with_bias) {
    const int I = 6, O = 5;
    lin_ctx c = {.p = seqlm_params_create(), .N = 4};
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 3);
    assert_int_equal(seqlm_linear_init(&c.lin, c.p, "fc", I, O, with_bias), 0);
    assert_int_equal(c.lin.I, I);
    assert_int_equal(c.lin.O, O);
    assert_int_equal(c.p->info[c.lin.weight].shape[0], O);
    assert_int_equal(c.p->info[c.lin.weight].shape[1], I);
    assert_int_equal(c.lin.bias >= 0, with_bias);
    if (with_bias) assert_int_equal(seqlm_params_find(c.p, "fc.bias"), c.lin.bias);
    alloc_params(c.p);
    seqlm_linear_reset(&c.lin, c.p, &rng);
    /* PyTorch's default bound 1/sqrt(I) */
    const float *W = seqlm_params_value(c.p, c.lin.weight);
    for (int i = 0; i < O * I; i++) assert_true(fabsf(W[i]) <= 1.0f / sqrtf((float)I));
    c.x = xmalloc(c.N * I);
    c.y = xmalloc(c.N * O);
    float *dy = xmalloc(c.N * O), *dx = xmalloc(c.N * I);
    fill_normal(c.x, c.N * I, 1.0f, &rng);

    lin_loss(&c);
    gradcheck_project(c.y, c.N * O, dy, 12);
    seqlm_linear_backward(&c.lin, c.p, c.x, c.N, dy, dx);
    check_tensor(with_bias ? "linear weight" : "linear weight (no bias)", lin_loss, &c, c.p,
                 c.lin.weight);
    if (with_bias) check_tensor("linear bias", lin_loss, &c, c.p, c.lin.bias);
    check_input(with_bias ? "linear input" : "linear input (no bias)", lin_loss, &c, c.x, dx,
                c.N * I);

    /* backward accumulates: a second call doubles every gradient */
    float *g1 = xmalloc((size_t)O * I);
    memcpy(g1, seqlm_params_grad(c.p, c.lin.weight), (size_t)O * I * sizeof(float));
    float dx0 = dx[0];
    seqlm_linear_backward(&c.lin, c.p, c.x, c.N, dy, dx);
    const float *g2 = seqlm_params_grad(c.p, c.lin.weight);
    for (int i = 0; i < O * I; i++) assert_true(fabsf(g2[i] - 2 * g1[i]) <= 1e-6f * fabsf(g1[i]));
    assert_true(fabsf(dx[0] - 2 * dx0) <= 1e-6f * fabsf(dx0));
    /* dx may be NULL */
    seqlm_linear_backward(&c.lin, c.p, c.x, c.N, dy, NULL);
    free(g1);
    free(c.x);
    free(c.y);
    free(dy);
    free(dx);
    seqlm_params_free(c.p);
}

static void test_linear(void **unused) {
    (void)unused;
    linear_case(1);
    linear_case(0);
}

/* ---- tied linear + embedding: y = dec(emb(ids)) with dec.weight = emb.weight ------------- */

typedef struct {
    seqlm_embedding emb;
    seqlm_linear dec;
    seqlm_params *p;
    const int32_t *ids;
    size_t N;
    float *e, *y; /* (N, E), (N, V) */
} tied_ctx;

static double tied_loss(void *c) {
    tied_ctx *x = c;
    seqlm_embedding_forward(&x->emb, x->p, x->ids, x->N, x->e);
    seqlm_linear_forward(&x->dec, x->p, x->e, x->N, x->y);
    return gradcheck_project(x->y, x->N * x->dec.O, NULL, 13);
}

static void test_tied(void **unused) {
    (void)unused;
    const int V = 7, E = 4;
    static const int32_t ids[] = {2, 5, 2, 0, 6, 2};
    tied_ctx c = {.p = seqlm_params_create(), .ids = ids, .N = 6};
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 4);
    assert_int_equal(seqlm_embedding_init(&c.emb, c.p, "encoder", V, E), 0);
    assert_int_equal(seqlm_linear_init_tied(&c.dec, c.p, "decoder", c.emb.weight, 1), 0);
    assert_int_equal(c.dec.O, V);
    assert_int_equal(c.dec.I, E);
    assert_int_equal(seqlm_params_find(c.p, "decoder.weight"), c.dec.weight);
    alloc_params(c.p);
    /* one storage: the tied weight is counted once and both names point at it */
    assert_int_equal(seqlm_params_total(c.p), (size_t)V * E + V);
    assert_ptr_equal(seqlm_params_value(c.p, c.dec.weight), seqlm_params_value(c.p, c.emb.weight));
    assert_ptr_equal(seqlm_params_grad(c.p, c.dec.weight), seqlm_params_grad(c.p, c.emb.weight));
    seqlm_embedding_reset(&c.emb, c.p, &rng);
    float *W = seqlm_params_value(c.p, c.emb.weight);
    float *W0 = xmalloc((size_t)V * E);
    memcpy(W0, W, (size_t)V * E * sizeof(float));
    seqlm_linear_reset(&c.dec, c.p, &rng); /* the bias only: the tied weight keeps N(0, 1) */
    assert_memory_equal(W, W0, (size_t)V * E * sizeof(float));

    c.e = xmalloc(c.N * E);
    c.y = xmalloc(c.N * V);
    float *dy = xmalloc(c.N * V), *de = xmalloc(c.N * E);
    tied_loss(&c);
    gradcheck_project(c.y, c.N * V, dy, 13);
    seqlm_linear_backward(&c.dec, c.p, c.e, c.N, dy, de);
    /* the decoder's share alone, to show that the embedding's share is added to it */
    float *dW_dec = xmalloc((size_t)V * E);
    memcpy(dW_dec, seqlm_params_grad(c.p, c.emb.weight), (size_t)V * E * sizeof(float));
    seqlm_embedding_backward(&c.emb, c.p, ids, c.N, de);
    const float *dW = seqlm_params_grad(c.p, c.emb.weight);
    double moved = 0;
    for (int i = 0; i < V * E; i++) moved = fmax(moved, fabs(dW[i] - dW_dec[i]));
    assert_true(moved > 1e-3);
    check_tensor("tied weight (both uses)", tied_loss, &c, c.p, c.emb.weight);
    check_tensor("tied decoder bias", tied_loss, &c, c.p, c.dec.bias);
    free(W0);
    free(c.e);
    free(c.y);
    free(dy);
    free(de);
    free(dW_dec);
    seqlm_params_free(c.p);
}

/* ---- dropout ------------------------------------------------------------------------------ */

typedef struct {
    float *x, *y;
    uint8_t *mask;
    size_t n;
    float rate;
} drop_ctx;

/* The same seed every call, so the mask is fixed while x is perturbed. */
static double drop_loss(void *c) {
    drop_ctx *d = c;
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 99);
    memcpy(d->y, d->x, d->n * sizeof(float));
    seqlm_dropout_forward(d->y, d->mask, d->n, d->rate, &rng);
    return gradcheck_project(d->y, d->n, NULL, 14);
}

static void test_dropout(void **unused) {
    (void)unused;
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 5);
    drop_ctx c = {.n = 60, .rate = 0.3f};
    c.x = xmalloc(c.n);
    c.y = xmalloc(c.n);
    c.mask = malloc(c.n);
    assert_non_null(c.mask);
    fill_normal(c.x, c.n, 1.0f, &rng);
    float *dx = xmalloc(c.n);
    drop_loss(&c);
    for (size_t i = 0; i < c.n; i++) /* kept elements scaled by 1 / (1 - rate), others 0 */
        assert_true(c.y[i] == (c.mask[i] ? c.x[i] * (1.0f / 0.7f) : 0.0f));
    gradcheck_project(c.y, c.n, dx, 14);
    seqlm_dropout_backward(dx, c.mask, c.n, c.rate);
    check_input("dropout input (fixed mask)", drop_loss, &c, c.x, dx, c.n);

    /* the keep rate over many draws */
    size_t big = 200000, kept = 0;
    float *ones = xmalloc(big);
    uint8_t *mask = malloc(big);
    assert_non_null(mask);
    for (size_t i = 0; i < big; i++) ones[i] = 1.0f;
    seqlm_dropout_forward(ones, mask, big, 0.25f, &rng);
    for (size_t i = 0; i < big; i++) kept += mask[i];
    printf("dropout 0.25: kept %.4f of %zu\n", (double)kept / big, big);
    assert_true(fabs((double)kept / big - 0.75) < 0.005);

    /* rate 0: the identity, and no draw from the rng */
    seqlm_rng before = rng;
    memcpy(c.y, c.x, c.n * sizeof(float));
    seqlm_dropout_forward(c.y, c.mask, c.n, 0.0f, &rng);
    assert_memory_equal(c.y, c.x, c.n * sizeof(float));
    assert_memory_equal(&before, &rng, sizeof rng);
    memcpy(dx, c.x, c.n * sizeof(float));
    seqlm_dropout_backward(dx, c.mask, c.n, 0.0f);
    assert_memory_equal(dx, c.x, c.n * sizeof(float));
    free(ones);
    free(mask);
    free(c.x);
    free(c.y);
    free(c.mask);
    free(dx);
}

/* ---- softmax + cross-entropy -------------------------------------------------------------- */

typedef struct {
    float *logits;
    const int32_t *targets;
    size_t N;
    int V;
} xent_ctx;

static double xent_loss(void *c) {
    xent_ctx *x = c;
    return seqlm_softmax_xent(x->logits, x->targets, x->N, x->V, -100, NULL, NULL);
}

/* -log softmax in double, the mean over non-ignored rows. */
static double xent_ref(const float *z, const int32_t *t, size_t N, int V) {
    double total = 0;
    size_t C = 0;
    for (size_t n = 0; n < N; n++) {
        if (t[n] == -100) continue;
        const float *r = z + n * V;
        double m = r[0], s = 0;
        for (int j = 1; j < V; j++) m = fmax(m, r[j]);
        for (int j = 0; j < V; j++) s += exp(r[j] - m);
        total += m + log(s) - r[t[n]];
        C++;
    }
    return C ? total / C : 0;
}

static void test_softmax_xent(void **unused) {
    (void)unused;
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 6);
    static const int32_t targets[] = {3, -100, 0, 8, -100, 5};
    xent_ctx c = {.targets = targets, .N = 6, .V = 9};
    c.logits = xmalloc(c.N * c.V);
    fill_normal(c.logits, c.N * c.V, 2.0f, &rng);
    float *d = xmalloc(c.N * c.V);
    size_t counted = 0;
    double L = seqlm_softmax_xent(c.logits, targets, c.N, c.V, -100, d, &counted);
    assert_int_equal(counted, 4);
    double Lref = xent_ref(c.logits, targets, c.N, c.V);
    printf("softmax_xent loss %.9f, double reference %.9f\n", L, Lref);
    assert_true(fabs(L - Lref) < 1e-6 * fmax(1.0, Lref));
    for (int j = 0; j < c.V; j++) assert_true(d[1 * c.V + j] == 0.0f && d[4 * c.V + j] == 0.0f);
    for (size_t n = 0; n < c.N; n++) { /* each counted row's gradient sums to 0 */
        double s = 0;
        for (int j = 0; j < c.V; j++) s += d[n * c.V + j];
        assert_true(fabs(s) < 1e-6);
    }
    check_input("softmax_xent logits", xent_loss, &c, c.logits, d, c.N * c.V);

    /* dlogits may be the logits themselves: same bits */
    float *z = xmalloc(c.N * c.V);
    memcpy(z, c.logits, c.N * c.V * sizeof(float));
    double L2 = seqlm_softmax_xent(z, targets, c.N, c.V, -100, z, NULL);
    assert_true(L2 == L);
    assert_memory_equal(z, d, c.N * c.V * sizeof(float));

    /* nothing counted: loss 0, gradient 0 */
    static const int32_t none[] = {-100, -100};
    assert_true(seqlm_softmax_xent(c.logits, none, 2, c.V, -100, d, &counted) == 0.0);
    assert_int_equal(counted, 0);
    for (int j = 0; j < 2 * c.V; j++) assert_true(d[j] == 0.0f);

    /* huge logits: finite, and equal to the reference */
    float huge[2][4] = {{1e4f, -1e4f, 0.0f, 1e4f - 3.0f}, {-1e4f, 1e4f, 1e4f, 1e4f}};
    static const int32_t ht[] = {1, 0};
    float dh[8];
    double Lh = seqlm_softmax_xent(&huge[0][0], ht, 2, 4, -100, dh, NULL);
    double Lhref = xent_ref(&huge[0][0], ht, 2, 4);
    printf("softmax_xent huge logits: %.6f (reference %.6f)\n", Lh, Lhref);
    assert_true(isfinite(Lh) && fabs(Lh - Lhref) < 1e-6 * Lhref);
    for (int j = 0; j < 8; j++) assert_true(isfinite(dh[j]));

    free(c.logits);
    free(d);
    free(z);
}

/* The mean and the gradient are the same bits for 1 and 2 threads, on a block of rows big
 * enough to run in parallel (and more than one block of 1024 rows). */
static void test_softmax_xent_threads(void **unused) {
    (void)unused;
    const size_t N = 1500;
    const int V = 300;
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 7);
    float *z = xmalloc(N * V), *d1 = xmalloc(N * V), *d2 = xmalloc(N * V);
    int32_t *t = malloc(N * sizeof *t);
    assert_non_null(t);
    fill_normal(z, N * V, 3.0f, &rng);
    for (size_t n = 0; n < N; n++) t[n] = n % 7 == 3 ? -100 : (int32_t)seqlm_rng_below(&rng, V);
    int threads = seqlm_threads();
    seqlm_set_threads(1);
    double L1 = seqlm_softmax_xent(z, t, N, V, -100, d1, NULL);
    seqlm_set_threads(2);
    double L2 = seqlm_softmax_xent(z, t, N, V, -100, d2, NULL);
    seqlm_set_threads(threads);
    assert_memory_equal(&L1, &L2, sizeof L1);
    assert_memory_equal(d1, d2, N * V * sizeof(float));
    double Lref = xent_ref(z, t, N, V);
    printf("softmax_xent N=%zu V=%d: %.9f (reference %.9f), same bits for 1 and 2 threads\n", N, V,
           L1, Lref);
    assert_true(fabs(L1 - Lref) < 1e-6 * Lref);
    free(z);
    free(d1);
    free(d2);
    free(t);
}

/* ---- output layer ------------------------------------------------------------------------- */

typedef struct {
    seqlm_output out;
    seqlm_params *p;
    float *h; /* (N, H) */
    const int32_t *targets;
    size_t N;
} out_ctx;

static double out_loss(void *c) {
    out_ctx *x = c;
    return seqlm_output_loss(&x->out, x->p, x->h, x->N, x->targets, -100, NULL);
}

static void output_case(int tied, size_t N_max) {
    const int H = 6, V = 11;
    static const int32_t targets[] = {3, 10, -100, 0, 7, 7, 2, -100, 5};
    out_ctx c = {.p = seqlm_params_create(), .targets = targets, .N = 9};
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 8);
    seqlm_embedding emb;
    if (tied) assert_int_equal(seqlm_embedding_init(&emb, c.p, "encoder", V, H), 0);
    assert_int_equal(seqlm_output_init(&c.out, c.p, "decoder", H, V, tied ? emb.weight : -1, N_max),
                     0);
    assert_int_equal(seqlm_params_find(c.p, "decoder.weight"), c.out.proj.weight);
    assert_int_equal(seqlm_params_find(c.p, "decoder.bias"), c.out.proj.bias);
    alloc_params(c.p);
    if (tied) seqlm_embedding_reset(&emb, c.p, &rng);
    seqlm_output_reset(&c.out, c.p, &rng);
    c.h = xmalloc(c.N * H);
    float *dh = xmalloc(c.N * H);
    fill_normal(c.h, c.N * H, 1.0f, &rng);

    double L = seqlm_output_loss(&c.out, c.p, c.h, c.N, targets, -100, dh);
    assert_true(L == out_loss(&c)); /* backward does not change the loss */
    char label[64];
    snprintf(label, sizeof label, "output%s N_max=%zu weight", tied ? " tied" : "", N_max);
    check_tensor(label, out_loss, &c, c.p, c.out.proj.weight);
    snprintf(label, sizeof label, "output%s N_max=%zu bias", tied ? " tied" : "", N_max);
    check_tensor(label, out_loss, &c, c.p, c.out.proj.bias);
    snprintf(label, sizeof label, "output%s N_max=%zu h", tied ? " tied" : "", N_max);
    check_input(label, out_loss, &c, c.h, dh, c.N * H);

    /* log-probabilities: rows normalised, and their mean at the targets is the loss */
    float *lp = xmalloc(c.N * V);
    seqlm_output_logprobs(&c.out, c.p, c.h, c.N, lp);
    double total = 0;
    size_t C = 0;
    for (size_t n = 0; n < c.N; n++) {
        double s = 0;
        for (int j = 0; j < V; j++) s += exp(lp[n * V + j]);
        assert_true(fabs(s - 1.0) < 1e-5);
        if (targets[n] != -100) total -= lp[n * V + targets[n]], C++;
    }
    assert_true(fabs(total / C - L) < 1e-5);
    free(lp);
    free(c.h);
    free(dh);
    seqlm_output_free(&c.out);
    seqlm_output_free(&c.out); /* twice is harmless */
    seqlm_params_free(c.p);
}

static void test_output(void **unused) {
    (void)unused;
    output_case(0, 16); /* one chunk */
    output_case(0, 4);  /* three chunks of <= 4 rows, the gradients rescaled */
    output_case(1, 16); /* tied to an embedding */
    seqlm_params *p = seqlm_params_create();
    seqlm_output o;
    seqlm_embedding emb;
    assert_int_equal(seqlm_embedding_init(&emb, p, "encoder", 11, 5), 0);
    assert_true(seqlm_output_init(&o, p, "decoder", 6, 11, emb.weight, 4) < 0); /* shape */
    seqlm_output_free(&o);
    seqlm_params_free(p);
}

/* seqlm_output_score against the full log-softmax: several column blocks (V = 1300, not a
 * multiple of the block), more rows than one row chunk (N = 700), ignored rows, tied or not,
 * and the same bits with 1 and 2 threads. */
static void test_output_score(void **unused) {
    (void)unused;
    const int H = 9, V = 1300;
    const size_t N = 700;
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 4);
    seqlm_params *p = seqlm_params_create();
    seqlm_output o;
    assert_int_equal(seqlm_output_init(&o, p, "decoder", H, V, -1, 8), 0);
    alloc_params(p);
    seqlm_output_reset(&o, p, &rng);
    float *b = seqlm_params_value(p, o.proj.bias);
    seqlm_init_uniform(b, (size_t)V, 2.0f, &rng); /* a bias that matters */
    float *h = xmalloc(N * (size_t)H), *full = xmalloc(N * (size_t)V);
    float *lp1 = xmalloc(N), *lp2 = xmalloc(N);
    int32_t *t = malloc(N * sizeof *t);
    seqlm_init_uniform(h, N * (size_t)H, 3.0f, &rng);
    for (size_t n = 0; n < N; n++) t[n] = n % 7 == 3 ? -100 : (int32_t)(seqlm_rng_next(&rng) % V);
    t[1] = V - 1; /* the last column of the last, partial block */
    seqlm_output_logprobs(&o, p, h, N, full);
    seqlm_set_threads(1);
    double nll1 = seqlm_output_score(&o, p, h, N, t, -100, lp1);
    seqlm_set_threads(2);
    double nll2 = seqlm_output_score(&o, p, h, N, t, -100, lp2);
    assert_memory_equal(lp1, lp2, N * sizeof *lp1);
    assert_true(nll1 == nll2);
    double ref = 0, worst = 0;
    for (size_t n = 0; n < N; n++) {
        if (t[n] == -100) {
            assert_true(lp1[n] == 0.0f);
            continue;
        }
        float want = full[n * (size_t)V + (size_t)t[n]];
        ref -= want;
        double e = fabs((double)lp1[n] - want) / (1.0 + fabs(want));
        if (e > worst) worst = e;
    }
    printf("output score: %zu rows, V = %d: worst rel. error vs log-softmax %.2e, nll %.6f vs "
           "%.6f\n",
           N, V, worst, nll1, ref);
    assert_true(worst < 1e-6);
    assert_true(fabs(nll1 - ref) < 1e-6 * fabs(ref));
    free(h);
    free(full);
    free(lp1);
    free(lp2);
    free(t);
    seqlm_output_free(&o);
    seqlm_params_free(p);
}

/* ---- the window model --------------------------------------------------------------------- */

typedef struct {
    seqlm_window m;
    seqlm_params *p;
    const int32_t *context, *targets;
    size_t N;
} win_ctx;

static double win_loss(void *c) {
    win_ctx *x = c;
    return seqlm_window_loss(&x->m, x->p, x->context, x->targets, x->N, 0);
}

static void window_case(int direct, size_t N_max) {
    const int V = 13, E = 4, n = 3, Hd = 7;
    static const int32_t context[] = {1, 2, 3, 4,  4, 4, 0, 12, 5, 7, 7,  1,  2, 9, 11,
                                      3, 3, 8, 10, 0, 6, 6, 5,  4, 1, 12, 12, 8, 2, 0};
    static const int32_t targets[] = {4, 9, 12, -100, 0, 4, 4, 11, 6, 3};
    win_ctx c = {.p = seqlm_params_create(), .context = context, .targets = targets, .N = 10};
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 9);
    assert_int_equal(seqlm_window_init(&c.m, c.p, V, E, n, Hd, direct, N_max), 0);
    static const char *names[] = {"embedding.weight", "hidden.weight", "hidden.bias",
                                  "output.weight",    "output.bias",   "direct.weight"};
    int nt = direct ? 6 : 5;
    assert_int_equal(c.p->count, nt);
    for (int i = 0; i < 6; i++) assert_int_equal(seqlm_params_find(c.p, names[i]) >= 0, i < nt);
    assert_int_equal(c.p->info[seqlm_params_find(c.p, "hidden.weight")].shape[1], n * E);
    alloc_params(c.p);
    seqlm_window_reset(&c.m, c.p, &rng);

    double L = seqlm_window_loss(&c.m, c.p, context, targets, c.N, 1);
    assert_true(L == win_loss(&c));
    for (int i = 0; i < nt; i++) {
        char label[64];
        snprintf(label, sizeof label, "window%s N_max=%zu %s", direct ? "+direct" : "", N_max,
                 names[i]);
        check_tensor(label, win_loss, &c, c.p, seqlm_params_find(c.p, names[i]));
    }
    float *lp = xmalloc(c.N * V);
    seqlm_window_logprobs(&c.m, c.p, context, c.N, lp);
    double total = 0;
    for (size_t r = 0; r < c.N; r++)
        if (targets[r] != -100) total -= lp[r * V + targets[r]];
    assert_true(fabs(total / 9 - L) < 1e-5);
    free(lp);
    seqlm_window_free(&c.m);
    seqlm_params_free(c.p);
}

static void test_window(void **unused) {
    (void)unused;
    window_case(1, 16);
    window_case(0, 16);
    window_case(1, 3); /* four chunks */
}

/* ---- golden numbers from PyTorch ---------------------------------------------------------- */

static seqlm_params *golden_open(const char *name) {
    seqlm_error err;
    seqlm_params *g = seqlm_safetensors_read(golden_path(name), NULL, &err);
    if (!g) printf("%s\n", err.msg);
    assert_non_null(g);
    return g;
}

/* Tensor name of golden file g, which must have n elements. */
static const float *gold(const seqlm_params *g, const char *name, size_t n) {
    int i = seqlm_params_find(g, name);
    if (i < 0) printf("golden tensor %s missing\n", name);
    assert_true(i >= 0);
    assert_int_equal(g->info[i].size, n);
    return seqlm_params_value(g, i);
}

static void gold_ids(const seqlm_params *g, const char *name, int32_t *ids, size_t n) {
    const float *f = gold(g, name, n);
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)f[i];
}

/* max |got - ref| / max(1, |ref|), printed and checked against GOLDEN_TOL. */
static void compare(const char *label, const float *got, const float *ref, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]) / fmax(1.0, fabs(ref[i]));
        if (e > worst) worst = e;
    }
    printf("golden %-36s n=%-5zu max rel. diff %.2e\n", label, n, worst);
    assert_true(worst < GOLDEN_TOL);
}

static void test_golden_linear(void **unused) {
    (void)unused;
    const int I = 7, O = 6;
    const size_t N = 5;
    seqlm_params *g = golden_open("layers_linear.safetensors");
    seqlm_params *p = seqlm_params_create();
    seqlm_linear lin;
    assert_int_equal(seqlm_linear_init(&lin, p, "lin", I, O, 1), 0);
    alloc_params(p);
    memcpy(seqlm_params_value(p, lin.weight), gold(g, "weight", O * I), O * I * sizeof(float));
    memcpy(seqlm_params_value(p, lin.bias), gold(g, "bias", O), O * sizeof(float));
    float *y = xmalloc(N * O), *dx = xmalloc(N * I);
    seqlm_linear_forward(&lin, p, gold(g, "x", N * I), N, y);
    compare("linear y", y, gold(g, "y", N * O), N * O);
    seqlm_linear_backward(&lin, p, gold(g, "x", N * I), N, gold(g, "dy", N * O), dx);
    compare("linear grad.weight", seqlm_params_grad(p, lin.weight), gold(g, "grad.weight", O * I),
            O * I);
    compare("linear grad.bias", seqlm_params_grad(p, lin.bias), gold(g, "grad.bias", O), O);
    compare("linear grad.x", dx, gold(g, "grad.x", N * I), N * I);
    free(y);
    free(dx);
    seqlm_params_free(p);
    seqlm_params_free(g);
}

static void test_golden_embedding(void **unused) {
    (void)unused;
    const int V = 10, E = 4;
    const size_t N = 15;
    seqlm_params *g = golden_open("layers_embedding.safetensors");
    seqlm_params *p = seqlm_params_create();
    seqlm_embedding emb;
    assert_int_equal(seqlm_embedding_init(&emb, p, "emb", V, E), 0);
    alloc_params(p);
    memcpy(seqlm_params_value(p, emb.weight), gold(g, "weight", V * E), V * E * sizeof(float));
    int32_t ids[15];
    gold_ids(g, "ids", ids, N);
    float out[15 * 4];
    seqlm_embedding_forward(&emb, p, ids, N, out);
    compare("embedding out", out, gold(g, "out", N * E), N * E);
    seqlm_embedding_backward(&emb, p, ids, N, gold(g, "dout", N * E));
    compare("embedding grad.weight", seqlm_params_grad(p, emb.weight),
            gold(g, "grad.weight", V * E), V * E);
    seqlm_params_free(p);
    seqlm_params_free(g);
}

static void test_golden_xent(void **unused) {
    (void)unused;
    const size_t N = 8;
    const int V = 12;
    seqlm_params *g = golden_open("layers_xent.safetensors");
    int32_t t[8];
    gold_ids(g, "targets", t, N);
    float d[8 * 12], z[8 * 12];
    size_t counted;
    float L = (float)seqlm_softmax_xent(gold(g, "logits", N * V), t, N, V, -100, d, &counted);
    assert_int_equal(counted, 6);
    compare("cross_entropy loss", &L, gold(g, "loss", 1), 1);
    compare("cross_entropy grad.logits", d, gold(g, "grad.logits", N * V), N * V);
    memcpy(z, gold(g, "logits", N * V), sizeof z); /* in place */
    seqlm_softmax_xent(z, t, N, V, -100, z, NULL);
    assert_memory_equal(z, d, sizeof z);
    seqlm_params_free(g);
}

static void golden_window(const char *file, int direct) {
    const int V = 50, E = 8, n = 3, Hd = 16;
    const size_t N = 20;
    seqlm_params *g = golden_open(file);
    seqlm_params *p = seqlm_params_create();
    seqlm_window m;
    assert_int_equal(seqlm_window_init(&m, p, V, E, n, Hd, direct, 8), 0); /* 3 chunks */
    alloc_params(p);
    for (int i = 0; i < p->count; i++)
        memcpy(seqlm_params_value(p, i), gold(g, p->info[i].name, p->info[i].size),
               p->info[i].size * sizeof(float));
    int32_t context[20 * 3], targets[20];
    gold_ids(g, "context", context, N * n);
    gold_ids(g, "targets", targets, N);
    float L = (float)seqlm_window_loss(&m, p, context, targets, N, 1);
    char label[160];
    snprintf(label, sizeof label, "window%s loss", direct ? "+direct" : "");
    compare(label, &L, gold(g, "loss", 1), 1);
    for (int i = 0; i < p->count; i++) {
        char gname[SEQLM_PARAM_NAME_MAX + 8];
        snprintf(gname, sizeof gname, "grad.%s", p->info[i].name);
        snprintf(label, sizeof label, "window%s %s", direct ? "+direct" : "", gname);
        compare(label, seqlm_params_grad(p, i), gold(g, gname, p->info[i].size), p->info[i].size);
    }
    seqlm_window_free(&m);
    seqlm_params_free(p);
    seqlm_params_free(g);
}

static void test_golden_window(void **unused) {
    (void)unused;
    golden_window("layers_window.safetensors", 1);
    golden_window("layers_window_nodirect.safetensors", 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_embedding),
        cmocka_unit_test(test_embedding_parallel),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_tied),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_softmax_xent),
        cmocka_unit_test(test_softmax_xent_threads),
        cmocka_unit_test(test_output),
        cmocka_unit_test(test_output_score),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_golden_linear),
        cmocka_unit_test(test_golden_embedding),
        cmocka_unit_test(test_golden_xent),
        cmocka_unit_test(test_golden_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
