/* test_lm_trajectory.c - a tiny LSTM language model trained for a few steps with seqlm's layers
 * and optimisers follows PyTorch's loss trajectory (tests/golden/make_golden_lm.py): the same
 * initial weights and token stream, truncated BPTT with the hidden state carried across
 * windows, mean cross-entropy, clip_grad_norm_(1.0), then SGD or Adam. Losses, gradient norms
 * and final weights must agree. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "seqlm/modelfile.h"
#include "seqlm/nn.h"
#include "seqlm/optim.h"

enum { V = 12, E = 5, H = 6, L = 2, B = 3, T = 4, S = 6 };

static const float *tensor(const seqlm_params *g, const char *name, size_t size) {
    int i = seqlm_params_find(g, name);
    if (i < 0) fail_msg("golden file lacks %s", name);
    assert_int_equal(g->info[i].size, size);
    return seqlm_params_value(g, i);
}

static double rel(double a, double b) {
    return fabs(a - b) / fmax(1.0, fabs(b));
}

static void run(const char *file, seqlm_optim_kind kind, float lr) {
    seqlm_error err;
    seqlm_params *g = seqlm_safetensors_read(golden_path(file), NULL, &err);
    if (!g) fail_msg("%s", err.msg);

    seqlm_params *p = seqlm_params_create();
    seqlm_embedding emb;
    seqlm_rnn_stack rnn;
    seqlm_output out;
    assert_true(seqlm_embedding_init(&emb, p, "encoder", V, E) >= 0);
    assert_true(seqlm_rnn_stack_init(&rnn, p, "rnn", SEQLM_CELL_LSTM, E, H, L, 0, 0.0f) >= 0);
    assert_true(seqlm_output_init(&out, p, "decoder", H, V, -1, (size_t)T * B) >= 0);
    assert_int_equal(seqlm_params_alloc(p, &err), SEQLM_OK);
    for (int i = 0; i < p->count; i++)
        memcpy(seqlm_params_value(p, i), tensor(g, p->info[i].name, p->info[i].size),
               p->info[i].size * sizeof(float));

    const float *data = tensor(g, "data", (size_t)(T * S + 1) * B);
    const float *losses = tensor(g, "losses", S), *norms = tensor(g, "norms", S);
    seqlm_optim_config cfg = seqlm_optim_defaults(kind);
    cfg.lr = lr;
    seqlm_optim *opt = seqlm_optim_create(&cfg, p->total, &err);
    assert_non_null(opt);
    seqlm_stack_cache *cache = seqlm_stack_cache_create(&rnn, T, B);
    int32_t ids[(T * S + 1) * B];
    for (int i = 0; i < (T * S + 1) * B; i++) ids[i] = (int32_t)data[i];
    float x[T * B * E], y[T * B * H], dy[T * B * H], dx[T * B * E];
    float h[L * B * H] = {0}, c[L * B * H] = {0};
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 1);
    double worst_loss = 0, worst_norm = 0;
    for (int s = 0; s < S; s++) {
        const int32_t *xs = ids + s * T * B, *ys = ids + (s * T + 1) * B;
        seqlm_params_zero_grad(p);
        seqlm_embedding_forward(&emb, p, xs, (size_t)T * B, x);
        seqlm_rnn_stack_forward(&rnn, p, cache, x, T, B, NULL, h, c, y, h, c, 1, &rng);
        memset(dy, 0, sizeof dy);
        double loss = seqlm_output_loss(&out, p, y, (size_t)T * B, ys, -100, dy);
        memset(dx, 0, sizeof dx);
        seqlm_rnn_stack_backward(&rnn, p, cache, dy, NULL, NULL, dx, NULL, NULL);
        seqlm_embedding_backward(&emb, p, xs, (size_t)T * B, dx);
        double norm = seqlm_clip_grad_norm(p->grads, p->total, 1.0);
        seqlm_optim_step(opt, p->values, p->grads, lr);
        printf("%s step %d: loss %.6f (torch %.6f), grad norm %.6f (torch %.6f)\n",
               seqlm_optim_name(kind), s + 1, loss, losses[s], norm, norms[s]);
        if (rel(loss, losses[s]) > worst_loss) worst_loss = rel(loss, losses[s]);
        if (rel(norm, norms[s]) > worst_norm) worst_norm = rel(norm, norms[s]);
    }
    double worst_w = 0;
    for (int i = 0; i < p->count; i++) {
        char name[SEQLM_PARAM_NAME_MAX + 8];
        snprintf(name, sizeof name, "final.%s", p->info[i].name);
        const float *ref = tensor(g, name, p->info[i].size);
        const float *w = seqlm_params_value(p, i);
        for (size_t k = 0; k < p->info[i].size; k++)
            if (rel(w[k], ref[k]) > worst_w) worst_w = rel(w[k], ref[k]);
    }
    printf("%s: worst relative difference: loss %.2e, gradient norm %.2e, final weights %.2e\n",
           seqlm_optim_name(kind), worst_loss, worst_norm, worst_w);
    assert_true(worst_loss < 1e-5);
    assert_true(worst_norm < 1e-5);
    assert_true(worst_w < 1e-5);
    seqlm_optim_free(opt);
    seqlm_stack_cache_free(cache);
    seqlm_output_free(&out);
    seqlm_params_free(p);
    seqlm_params_free(g);
}

static void test_sgd(void **state) {
    (void)state;
    run("lm_traj_sgd.safetensors", SEQLM_OPT_SGD, 0.5f);
}

static void test_adam(void **state) {
    (void)state;
    run("lm_traj_adam.safetensors", SEQLM_OPT_ADAM, 0.01f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd),
        cmocka_unit_test(test_adam),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
