/* train.c - the tagger's training loop: bucketed batches, Adam (or any optim.h optimiser),
 * gradient clipping, singleton replacement, per-epoch lr decay, validation each epoch, the best
 * model kept, early stopping, a time limit, events.
 *
 * Batches as the PyTorch reference (bench/torch_tasks.py): shuffle the sentences, cut them
 * into pools of 50 batches, sort each pool by length, cut into batches, shuffle the batches -
 * all with the one seeded seqlm_rng, so a seed and a thread count give the same bits. The loss
 * is the mean over the batch's tokens (CRF: the batch's summed NLL over its tokens). Events go
 * to the caller's callback and, as JSON lines, to log_path. Not here: the model (tagger.c). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "seqlm/kernels.h"
#include "seqlm/progress.h"
#include "seqlm/tag.h"

seqlm_tag_train_config seqlm_tag_train_default_config(void) {
    seqlm_tag_train_config c;
    memset(&c, 0, sizeof c);
    c.batch = 32;
    c.epochs = 20;
    c.patience = 5;
    c.optim = seqlm_optim_defaults(SEQLM_OPT_ADAM);
    c.clip = 5.0f;
    c.seed = 1;
    c.threads = 0;
    c.log_interval = 5;
    return c;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    size_t len, idx;
} len_idx;

static int cmp_len_idx(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void shuffle(size_t *a, size_t n, seqlm_rng *rng) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)seqlm_rng_below(rng, i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* order: the sentences of one epoch, batch after batch; starts[k] = first of batch k. */
static size_t make_batches(const seqlm_tag_corpus *c, int bsz, seqlm_rng *rng, size_t *order,
                           size_t *starts, len_idx *tmp, size_t *perm) {
    size_t n = c->n_sent;
    for (size_t i = 0; i < n; i++) order[i] = i;
    shuffle(order, n, rng);
    size_t pool = (size_t)bsz * 50, nb = 0;
    for (size_t p0 = 0; p0 < n; p0 += pool) {
        size_t pn = n - p0 < pool ? n - p0 : pool;
        for (size_t i = 0; i < pn; i++) {
            tmp[i].idx = order[p0 + i];
            tmp[i].len = c->sent_start[tmp[i].idx + 1] - c->sent_start[tmp[i].idx];
        }
        qsort(tmp, pn, sizeof *tmp, cmp_len_idx);
        for (size_t i = 0; i < pn; i++) order[p0 + i] = tmp[i].idx;
        for (size_t k = 0; k < pn; k += (size_t)bsz) starts[nb++] = p0 + k;
    }
    /* shuffle the batches: permute their start offsets */
    for (size_t k = 0; k < nb; k++) perm[k] = starts[k];
    shuffle(perm, nb, rng);
    memcpy(starts, perm, nb * sizeof *starts);
    return nb;
}

static void emit_event(const seqlm_tag_train_config *tc, FILE *log, const char *event,
                       const double *v) {
    if (tc->on_event) tc->on_event(tc->event_ctx, event, v);
    if (!log) return;
    static const char *const names[SEQLM_TAGEV_N] = {
        "epoch",     "progress",    "loss",       "sent_per_s", "lr",
        "grad_norm", "valid_score", "best_epoch", "elapsed",    "eta"};
    fprintf(log, "{\"event\":\"%s\"", event);
    for (int i = 0; i < SEQLM_TAGEV_N; i++) {
        if (isfinite(v[i]))
            fprintf(log, ",\"%s\":%.10g", names[i], v[i]);
        else
            fprintf(log, ",\"%s\":null", names[i]);
    }
    fprintf(log, "}\n");
    fflush(log);
}

seqlm_status seqlm_tag_train(seqlm_tagger *m, const seqlm_tag_corpus *train,
                             const seqlm_tag_corpus *valid, const seqlm_tag_train_config *tc,
                             seqlm_error *err) {
    seqlm_status st = SEQLM_OK;
    const seqlm_tagger_config *cfg = seqlm_tagger_config_of(m);
    seqlm_params *p = seqlm_tagger_params(m);
    /* the whole block the registry allocated (tensors are 16-float aligned): the optimiser and
     * clipping must cover every tensor, the last ones included */
    size_t n = train->n_sent, P = p->total;
    if (n == 0) return seqlm_error_set(err, SEQLM_ERR_DATA, "%s: no sentences", train->path);
    if (tc->batch < 1 || tc->epochs < 1)
        return seqlm_error_set(err, SEQLM_ERR_ARG, "batch and epochs must be >= 1");
    if (tc->threads > 0) seqlm_set_threads(tc->threads);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, tc->seed ^ 0x7461676765727321ULL); /* not the initialisation's stream */
    seqlm_tag_map *map = seqlm_tag_map_create(m, train);
    seqlm_tag_batch *b = seqlm_tag_batch_create();
    seqlm_optim *opt = seqlm_optim_create(&tc->optim, P, err);
    size_t *order = malloc(n * sizeof *order), *starts = malloc((n + 1) * sizeof *starts);
    size_t *perm = malloc((n + 1) * sizeof *perm);
    len_idx *tmp = malloc((size_t)tc->batch * 50 * sizeof *tmp);
    int32_t *pred = valid ? malloc((valid->n_tok ? valid->n_tok : 1) * sizeof *pred) : NULL;
    FILE *log = NULL;
    if (!opt) {
        st = err->status;
        goto done;
    }
    if (!map || !b || !order || !starts || !perm || !tmp || (valid && !pred)) {
        st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (tc->log_path && !(log = fopen(tc->log_path, "w"))) {
        st = seqlm_error_set(err, SEQLM_ERR_IO, "%s: cannot write the log", tc->log_path);
        goto done;
    }
    double v[SEQLM_TAGEV_N];
    for (int i = 0; i < SEQLM_TAGEV_N; i++) v[i] = NAN;
    v[SEQLM_TAGEV_LR] = tc->optim.lr;
    emit_event(tc, log, "start", v);
    double t_start = now(), best = -1, train_secs = 0;
    int best_epoch = 0, bad_epochs = 0;
    uint64_t sents_done = 0;
    for (int epoch = 1; epoch <= tc->epochs; epoch++) {
        size_t nb = make_batches(train, tc->batch, &rng, order, starts, tmp, perm);
        float lr = tc->optim.lr / (1.0f + tc->lr_decay * (float)(epoch - 1));
        v[SEQLM_TAGEV_LR] = lr;
        int out_of_time = 0;
        double t_ep = now(), t_last = t_ep, loss_sum = 0, tok_sum = 0, grad = 0;
        double iv_loss = 0, iv_tok = 0;
        size_t sents = 0;
        for (size_t k = 0; k < nb; k++) {
            if (seqlm_stop_requested()) {
                st = seqlm_error_set(err, SEQLM_ERR_INTERRUPT,
                                     "interrupted in epoch %d (the best model so far is kept)",
                                     epoch);
                goto done;
            }
            size_t s0 = starts[k];
            int bn = (int)(n - s0 < (size_t)tc->batch ? n - s0 : (size_t)tc->batch);
            if (seqlm_tag_batch_fill(b, m, map, order + s0, bn)) {
                st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
                goto done;
            }
            size_t ntok = 0;
            for (int i = 0; i < bn; i++)
                ntok += train->sent_start[order[s0 + i] + 1] - train->sent_start[order[s0 + i]];
            if (tc->unk_replace > 0) seqlm_tag_batch_unk_replace(b, m, tc->unk_replace, &rng);
            seqlm_params_zero_grad(p);
            double l = seqlm_tagger_loss(m, b, NULL, NULL, 1, 1.0f / (float)ntok, &rng, err);
            if (isnan(l)) {
                st = err->status;
                goto done;
            }
            if (tc->clip > 0) grad = seqlm_clip_grad_norm(p->grads, P, tc->clip);
            seqlm_optim_step(opt, p->values, p->grads, lr);
            loss_sum += l;
            tok_sum += (double)ntok;
            iv_loss += l;
            iv_tok += (double)ntok;
            sents += (size_t)bn;
            double t = now();
            if (tc->max_time > 0 && t - t_start >= tc->max_time) {
                out_of_time = 1; /* validate what we have, then stop */
                break;
            }
            if (tc->log_interval > 0 && t - t_last >= tc->log_interval) {
                double el = t - t_ep, rate = (double)sents / el;
                v[SEQLM_TAGEV_EPOCH] = epoch;
                v[SEQLM_TAGEV_PROGRESS] = (double)(k + 1) / (double)nb;
                v[SEQLM_TAGEV_LOSS] = iv_loss / iv_tok;
                v[SEQLM_TAGEV_SENT_S] = rate;
                v[SEQLM_TAGEV_GRAD] = grad;
                v[SEQLM_TAGEV_ELAPSED] = t - t_start;
                v[SEQLM_TAGEV_ETA] =
                    (double)(n - sents) / rate + (double)(tc->epochs - epoch) * (double)n / rate;
                emit_event(tc, log, "interval", v);
                iv_loss = iv_tok = 0;
                t_last = t;
            }
        }
        double ep_secs = now() - t_ep;
        train_secs += ep_secs;
        sents_done += sents;
        double score = NAN;
        if (valid) {
            if ((st = seqlm_tagger_predict(m, valid, 64, pred, err)) != SEQLM_OK) goto done;
            seqlm_conlleval e;
            double acc = seqlm_tagger_score(m, valid, pred, cfg->metric_f1 ? &e : NULL);
            score = acc;
            if (cfg->metric_f1) {
                double pr, rc, f1;
                seqlm_conlleval_prf(e.correct, e.gold, e.guessed, &pr, &rc, &f1);
                score = f1;
                seqlm_conlleval_free(&e);
            }
        }
        int improved = !valid || score > best;
        if (improved) {
            best = valid ? score : best;
            best_epoch = epoch;
            bad_epochs = 0;
            if (tc->output_path && (st = seqlm_tagger_save(m, tc->output_path, err)) != SEQLM_OK)
                goto done;
        } else {
            bad_epochs++;
        }
        v[SEQLM_TAGEV_EPOCH] = epoch;
        v[SEQLM_TAGEV_PROGRESS] = (double)sents / (double)n;
        v[SEQLM_TAGEV_LOSS] = loss_sum / tok_sum;
        v[SEQLM_TAGEV_SENT_S] = (double)sents / ep_secs;
        v[SEQLM_TAGEV_GRAD] = grad;
        v[SEQLM_TAGEV_VALID] = score;
        v[SEQLM_TAGEV_BEST] = best_epoch;
        v[SEQLM_TAGEV_ELAPSED] = now() - t_start;
        v[SEQLM_TAGEV_ETA] = (double)(tc->epochs - epoch) * (now() - t_start) / epoch;
        emit_event(tc, log, "epoch", v);
        if (valid && tc->patience > 0 && bad_epochs >= tc->patience) break;
        if (out_of_time) break;
    }
    v[SEQLM_TAGEV_SENT_S] = train_secs > 0 ? (double)sents_done / train_secs : NAN;
    v[SEQLM_TAGEV_VALID] = best_epoch && valid ? best : NAN;
    v[SEQLM_TAGEV_BEST] = best_epoch;
    v[SEQLM_TAGEV_ELAPSED] = now() - t_start;
    v[SEQLM_TAGEV_ETA] = 0;
    emit_event(tc, log, "end", v);
done:
    if (log) fclose(log);
    free(pred);
    free(tmp);
    free(perm);
    free(starts);
    free(order);
    seqlm_optim_free(opt);
    seqlm_tag_batch_free(b);
    seqlm_tag_map_free(map);
    return st;
}
