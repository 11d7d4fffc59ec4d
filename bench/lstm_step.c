/* lstm_step.c - micro-benchmark of one training step of a recurrent LM (issue #3):
 * embedding -> L-layer LSTM/GRU/RNN -> full softmax, forward + backward + clipping + SGD update,
 * on random token ids. Prints milliseconds per step, tokens/s and GFLOP/s.
 *
 * usage: seqlm_bench_step [--cell lstm] [--layers 2] [--emb 200] [--hidden 200] [--vocab 10000]
 *                         [--batch 20] [--bptt 35] [--steps 30] [--warmup 5] [--threads 2]
 *
 * FLOPs per token, forward: sum over layers 2 (I + H) G H, plus 2 H V for the output layer;
 * backward costs twice that, so a step is 3x forward (the count issue #3 uses: 20.8 MFLOP per
 * token for LSTM 2x200 with V = 14,115). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "seqlm/seqlm.h"
#include "seqlm/kernels.h"
#include "seqlm/nn.h"
#include "seqlm/optim.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    const char *cell_name = "lstm";
    int L = 2, E = 200, H = 200, V = 10000, B = 20, T = 35, steps = 30, warmup = 5, threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--cell"))
            cell_name = v;
        else if (!strcmp(k, "--layers"))
            L = atoi(v);
        else if (!strcmp(k, "--emb"))
            E = atoi(v);
        else if (!strcmp(k, "--hidden"))
            H = atoi(v);
        else if (!strcmp(k, "--vocab"))
            V = atoi(v);
        else if (!strcmp(k, "--batch"))
            B = atoi(v);
        else if (!strcmp(k, "--bptt"))
            T = atoi(v);
        else if (!strcmp(k, "--steps"))
            steps = atoi(v);
        else if (!strcmp(k, "--warmup"))
            warmup = atoi(v);
        else if (!strcmp(k, "--threads"))
            threads = atoi(v);
        else {
            fprintf(stderr, "unknown option %s\n", k);
            return 2;
        }
    }
    seqlm_cell cell;
    if (seqlm_cell_parse(cell_name, &cell)) {
        fprintf(stderr, "unknown cell %s\n", cell_name);
        return 2;
    }
    seqlm_set_threads(threads);
    seqlm_error err;
    seqlm_params *p = seqlm_params_create();
    seqlm_embedding emb;
    seqlm_rnn_stack rnn;
    seqlm_output out;
    size_t N = (size_t)T * B;
    if (seqlm_embedding_init(&emb, p, "encoder", V, E) < 0 ||
        seqlm_rnn_stack_init(&rnn, p, "rnn", cell, E, H, L, 0, 0.0f) < 0 ||
        seqlm_output_init(&out, p, "decoder", H, V, -1, N) < 0 ||
        seqlm_params_alloc(p, &err) != SEQLM_OK) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 1);
    seqlm_embedding_reset(&emb, p, &rng);
    seqlm_rnn_stack_reset(&rnn, p, &rng);
    seqlm_output_reset(&out, p, &rng);
    seqlm_stack_cache *cache = seqlm_stack_cache_create(&rnn, T, B);
    seqlm_optim_config cfg = seqlm_optim_defaults(SEQLM_OPT_SGD);
    cfg.lr = 1.0f;
    seqlm_optim *opt = seqlm_optim_create(&cfg, p->total, &err);
    int32_t *ids = malloc((N + B) * sizeof *ids);
    float *x = malloc(N * E * sizeof *x), *y = malloc(N * H * sizeof *y);
    float *dy = malloc(N * H * sizeof *dy), *dx = malloc(N * E * sizeof *dx);
    float *h = calloc((size_t)L * B * H, sizeof *h), *c = calloc((size_t)L * B * H, sizeof *c);
    if (!cache || !opt || !ids || !x || !y || !dy || !dx || !h || !c) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < N + B; i++) ids[i] = (int32_t)seqlm_rng_below(&rng, (uint64_t)V);
    double t0 = 0, loss = 0;
    for (int s = 0; s < warmup + steps; s++) {
        if (s == warmup) t0 = now();
        seqlm_params_zero_grad(p);
        seqlm_embedding_forward(&emb, p, ids, N, x);
        seqlm_rnn_stack_forward(&rnn, p, cache, x, T, B, NULL, h, c, y, h, c, 1, &rng);
        memset(dy, 0, N * H * sizeof *dy);
        loss = seqlm_output_loss(&out, p, y, N, ids + B, -1, dy);
        memset(dx, 0, N * E * sizeof *dx);
        seqlm_rnn_stack_backward(&rnn, p, cache, dy, NULL, NULL, dx, NULL, NULL);
        seqlm_embedding_backward(&emb, p, ids, N, dx);
        seqlm_clip_grad_norm(p->grads, p->total, 0.25);
        seqlm_optim_step(opt, p->values, p->grads, cfg.lr);
    }
    double secs = now() - t0, per_step = secs / steps;
    int G = seqlm_cell_gates(cell);
    double fwd = 2.0 * H * V;
    for (int l = 0; l < L; l++) fwd += 2.0 * ((l ? H : E) + H) * G * H;
    double flops = 3.0 * fwd * (double)N;
    printf("{\"cell\": \"%s\", \"layers\": %d, \"emb\": %d, \"hidden\": %d, \"vocab\": %d, "
           "\"batch\": %d, \"bptt\": %d, \"threads\": %d, \"ms_per_step\": %.2f, "
           "\"tokens_per_s\": %.0f, \"gflops\": %.1f, \"loss\": %.4f, \"params\": %zu}\n",
           cell_name, L, E, H, V, B, T, threads, 1e3 * per_step, (double)N / per_step,
           flops / per_step / 1e9, loss, seqlm_params_total(p));
    seqlm_optim_free(opt);
    seqlm_stack_cache_free(cache);
    seqlm_output_free(&out);
    seqlm_params_free(p);
    free(ids);
    free(x);
    free(y);
    free(dy);
    free(dx);
    free(h);
    free(c);
    return 0;
}
