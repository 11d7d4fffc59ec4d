/* gradflow.c - how far back in time the gradient of a recurrent language model reaches
 * (seqlm/diag.h: seqlm_gradflow).
 *
 * For B windows at once (one per batch column):
 *   1. warm-up: the `warmup` ids before each window run forward through the embedding and the
 *      stack, without gradient, carrying the state (what training's truncated BPTT does);
 *   2. forward through the window's T steps from that state (no dropout);
 *   3. the loss J of the last step only: the output layer on the B rows of step T-1, its
 *      gradient into dy at step T-1 and nothing at the other steps;
 *   4. backward through the stack with every layer's per-step trace on (nn.h,
 *      seqlm_rnn_cache_trace): trace[t][b] = dJ/dh_t of sequence b, the total gradient reaching
 *      the state after step t; for LSTM also dJ/dc_t.
 * The output layer returns the MEAN loss over the B counted rows, so each sequence's gradient
 * is its own gradient / B (sequences do not interact): the norms are multiplied back by the
 * number of counted rows. Not here: printing, plotting (cli/cmd_gradflow.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lm/model_internal.h"
#include "seqlm/diag.h"

#define IGNORE (-100)

seqlm_gradflow_config seqlm_gradflow_default_config(void) {
    seqlm_gradflow_config c;
    memset(&c, 0, sizeof c);
    c.length = 50;
    c.windows = 200;
    c.batch = 20;
    c.warmup = 100;
    return c;
}

void seqlm_gradflow_result_free(seqlm_gradflow_result *r) {
    if (!r) return;
    free(r->mean);
    free(r->mean_log10);
    free(r->mean_ratio);
    memset(r, 0, sizeof *r);
}

/* Runs x (T, B) forward through embedding and stack from the work's carried state, which
 * advances; the top outputs land in w->y. */
static void run_forward(seqlm_lm *m, seqlm_lm_work *w, const int32_t *x, int T) {
    size_t N = (size_t)T * w->B;
    seqlm_embedding_forward(&m->enc, m->p, x, N, w->emb);
    seqlm_rnn_stack_forward(&m->rnn, m->p, w->cache, w->emb, T, w->B, NULL, w->h, w->c, w->y, w->h,
                            w->c, 0, NULL);
}

static double norm2(const float *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)v[i] * v[i];
    return sqrt(s);
}

seqlm_status seqlm_gradflow(seqlm_lm *m, const seqlm_stream *s, const seqlm_gradflow_config *c,
                            seqlm_gradflow_result *r, seqlm_error *err) {
    memset(r, 0, sizeof *r);
    if (!seqlm_lm_is_recurrent(m->cfg.arch))
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               "gradient flow through time needs a recurrent model (rnn-tanh, "
                               "rnn-relu, lstm or gru); this one is a %s model, which has no "
                               "state carried from step to step",
                               seqlm_arch_name(m->cfg.arch));
    const int T = c->length, W = c->warmup, N = c->windows;
    if (T < 1 || N < 1 || c->batch < 1 || W < 0)
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               "gradient flow: length (%d), windows (%d) and batch (%d) must be "
                               ">= 1 and warmup (%d) >= 0",
                               T, N, c->batch, W);
    if (s->n < (size_t)W + (size_t)T + 1)
        return seqlm_error_set(err, SEQLM_ERR_DATA,
                               "the text has %zu tokens (with </s>), too few for a window of %d "
                               "steps after %d warm-up steps (%zu needed)",
                               s->n, T, W, (size_t)W + (size_t)T + 1);
    const int B = c->batch < N ? c->batch : N, L = m->cfg.layers, H = m->cfg.hidden;
    const int lstm = m->cfg.arch == SEQLM_ARCH_LSTM;
    const size_t BH = (size_t)B * H, TBH = (size_t)T * BH, cells = (size_t)L * 2 * T;
    seqlm_status st = SEQLM_OK;

    seqlm_lm_work *w = seqlm_lm_work_create(m, T, B, err);
    float *trace = malloc((size_t)L * (lstm ? 2 : 1) * TBH * sizeof *trace);
    int32_t *x = malloc((size_t)T * B * sizeof *x), *y = malloc((size_t)B * sizeof *y);
    r->mean = calloc(cells, sizeof *r->mean);
    r->mean_log10 = calloc(cells, sizeof *r->mean_log10);
    r->mean_ratio = calloc(cells, sizeof *r->mean_ratio);
    size_t *ratio_n = calloc(cells, sizeof *ratio_n);
    size_t *start = malloc((size_t)B * sizeof *start); /* each column's first input */
    double *k0 = malloc((size_t)L * 2 * sizeof *k0);
    if (!w || !trace || !x || !y || !r->mean || !r->mean_log10 || !r->mean_ratio || !ratio_n ||
        !k0 || !start) {
        st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "gradient flow: out of memory");
        goto done;
    }
    for (int l = 0; l < L; l++) {
        float *dh = trace + (size_t)l * (lstm ? 2 : 1) * TBH;
        seqlm_rnn_cache_trace(seqlm_stack_cache_layer(w->cache, l), dh, lstm ? dh + TBH : NULL);
    }

    const size_t span = s->n - (size_t)T - 1 - (size_t)W; /* starts lie in [W, W + span] */
    for (int first = 0; first < N; first += B) {
        int used = N - first < B ? N - first : B;
        for (int b = 0; b < B; b++) {
            int i = first + (b < used ? b : 0); /* unused columns repeat a window, not counted */
            start[b] = (size_t)W + (size_t)((double)i * (double)span / (double)N);
        }
        /* 1. warm-up, in chunks of at most T steps */
        seqlm_lm_work_reset(w);
        for (int done = 0; done < W;) {
            int n = W - done < T ? W - done : T;
            for (int t = 0; t < n; t++)
                for (int b = 0; b < B; b++)
                    x[(size_t)t * B + b] = s->ids[start[b] - (size_t)W + (size_t)(done + t)];
            run_forward(m, w, x, n);
            done += n;
        }
        /* 2. the window */
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++) x[(size_t)t * B + b] = s->ids[start[b] + (size_t)t];
        for (int b = 0; b < B; b++) y[b] = b < used ? s->ids[start[b] + (size_t)T] : IGNORE;
        run_forward(m, w, x, T);
        /* 3. the last step's loss; 4. backward with the traces */
        memset(w->dy, 0, TBH * sizeof *w->dy);
        const size_t last = (size_t)(T - 1) * BH;
        seqlm_output_loss(&m->dec, m->p, w->y + last, (size_t)B, y, IGNORE, w->dy + last);
        seqlm_rnn_stack_backward(&m->rnn, m->p, w->cache, w->dy, NULL, NULL, NULL, NULL, NULL);
        seqlm_params_zero_grad(m->p);

        for (int b = 0; b < used; b++)
            for (int l = 0; l < L; l++)
                for (int sc = 0; sc < (lstm ? 2 : 1); sc++) {
                    const float *tr = trace + ((size_t)l * (lstm ? 2 : 1) + sc) * TBH;
                    size_t cell = ((size_t)l * 2 + sc) * T;
                    for (int k = 0; k < T; k++) {
                        size_t t = (size_t)(T - 1 - k);
                        double v = norm2(tr + t * BH + (size_t)b * H, H) *
                                   (double)used; /* the mean's 1/used */
                        if (k == 0) k0[l * 2 + sc] = v;
                        r->mean[cell + k] += v;
                        r->mean_log10[cell + k] += log10(v > 1e-30 ? v : 1e-30);
                        if (k0[l * 2 + sc] > 0) {
                            r->mean_ratio[cell + k] += v / k0[l * 2 + sc];
                            ratio_n[cell + k]++;
                        }
                    }
                }
    }
    for (size_t i = 0; i < cells; i++) {
        if (!lstm && (i / T) % 2 == 1) continue; /* no cell state: zeros */
        r->mean[i] /= N;
        r->mean_log10[i] /= N;
        r->mean_ratio[i] = ratio_n[i] ? r->mean_ratio[i] / (double)ratio_n[i] : NAN;
    }
    r->T = T;
    r->L = L;
    r->has_cell = lstm;
    r->windows = N;
done:
    if (w)
        for (int l = 0; l < L; l++)
            seqlm_rnn_cache_trace(seqlm_stack_cache_layer(w->cache, l), NULL, NULL);
    seqlm_lm_work_free(w);
    free(trace);
    free(x);
    free(y);
    free(ratio_n);
    free(k0);
    free(start);
    if (st != SEQLM_OK) seqlm_gradflow_result_free(r);
    return st;
}
