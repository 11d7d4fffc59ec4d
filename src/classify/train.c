/* train.c - training a classifier (bucketed batches, validation each epoch, best model kept,
 * early stopping), prediction over a data set, and the evaluation metrics.
 *
 * Batching follows ../shared/bench/torch_tasks.py so that speeds compare: shuffle the training
 * sentences, cut them into pools of 50 batches, sort each pool by length, cut it into batches,
 * shuffle the batches. Prediction takes sentences in length order. Every random choice comes
 * from one seqlm_rng seeded with the config's seed. Not here: the layers (model.c). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify/classify_internal.h"
#include "seqlm/kernels.h"
#include "seqlm/progress.h"
#include "util/batching.h"

seqlm_classify_train_config seqlm_classify_train_default_config(void) {
    seqlm_classify_train_config c;
    memset(&c, 0, sizeof c);
    c.optim = seqlm_optim_defaults(SEQLM_OPT_ADAM);
    c.batch = 50;
    c.eval_batch = 100;
    c.epochs = 10;
    c.patience = 3;
    c.seed = 1;
    c.fold = -1;
    c.log_interval = 5;
    return c;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- batches ------------------------------------------------------------------------------- */

static const seqlm_classify_encoded *sort_enc; /* qsort has no context argument */

static int by_length(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    size_t li = sort_enc->start[i + 1] - sort_enc->start[i];
    size_t lj = sort_enc->start[j + 1] - sort_enc->start[j];
    if (li != lj) return li < lj ? -1 : 1;
    return i < j ? -1 : i > j; /* ties in index order: deterministic */
}

static void sort_by_length(const seqlm_classify_encoded *e, size_t *idx, size_t n) {
    sort_enc = e;
    qsort(idx, n, sizeof *idx, by_length);
    sort_enc = NULL;
}

static void shuffle(size_t *a, size_t n, seqlm_rng *rng) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)seqlm_rng_below(rng, i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* Fills order (n) with the epoch's sentence order and bstart (n_batches + 1) with where each
 * batch starts in it; returns the number of batches. bidx is scratch (n). */
static size_t make_batches(const seqlm_classify_encoded *e, int batch, seqlm_rng *rng,
                           size_t *order, size_t *bstart, size_t *bidx, size_t *tmp) {
    size_t n = e->n, pool = (size_t)batch * 50, nb = 0;
    for (size_t i = 0; i < n; i++) order[i] = i;
    shuffle(order, n, rng);
    for (size_t p = 0; p < n; p += pool) {
        size_t end = p + pool < n ? p + pool : n;
        sort_by_length(e, order + p, end - p);
        for (size_t k = p; k < end; k += (size_t)batch) bstart[nb++] = k;
    }
    /* shuffle the batches: permute batch indices, then lay the batches out in that order */
    for (size_t b = 0; b < nb; b++) bidx[b] = b;
    shuffle(bidx, nb, rng);
    size_t at = 0;
    size_t *newstart = bstart + nb + 1; /* bstart has room for 2 * (n_batches + 1) */
    for (size_t b = 0; b < nb; b++) {
        size_t s = bstart[bidx[b]], end = bidx[b] + 1 < nb ? bstart[bidx[b] + 1] : n;
        newstart[b] = at;
        for (size_t k = s; k < end; k++) tmp[at++] = order[k];
    }
    memcpy(order, tmp, n * sizeof *order);
    memcpy(bstart, newstart, nb * sizeof *bstart);
    bstart[nb] = n;
    return nb;
}

/* Lays out sentences idx[0..B) seq-first: ids (T, B), lengths (B), targets (B), and the ELMo ids
 * (T, B) into eids and the word types (T, B) into tids when e has them. Returns T. */
static int gather(const seqlm_classify_encoded *e, const size_t *idx, int B, int32_t *ids,
                  int32_t *eids, int32_t *tids, int32_t *lengths, int32_t *targets) {
    int T = 0;
    for (int b = 0; b < B; b++) {
        size_t i = idx[b];
        lengths[b] = (int32_t)(e->start[i + 1] - e->start[i]);
        if (lengths[b] > T) T = lengths[b];
        if (targets) targets[b] = e->label[i] >= 0 ? e->label[i] : -100;
    }
    for (int b = 0; b < B; b++) {
        const int32_t *s = e->ids + e->start[idx[b]];
        for (int t = 0; t < T; t++) ids[(size_t)t * B + b] = t < lengths[b] ? s[t] : 0;
        if (e->elmo_ids) {
            s = e->elmo_ids + e->start[idx[b]];
            for (int t = 0; t < T; t++) eids[(size_t)t * B + b] = t < lengths[b] ? s[t] : 0;
        }
        if (e->type_ids) {
            s = e->type_ids + e->start[idx[b]];
            for (int t = 0; t < T; t++) tids[(size_t)t * B + b] = t < lengths[b] ? s[t] : 0;
        }
    }
    return T;
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* ---- evaluation over an encoded set -------------------------------------------------------------
 */

typedef struct {
    int32_t *ids, *eids, *tids, *lengths,
        *targets; /* eids: ELMo ids, tids: word types (T_max, B) */
    float *logits;
    size_t *idx, *lens; /* (n) sentence order and lengths for evaluation */
} batch_buf;

static int batch_buf_init(batch_buf *b, int T_max, int B, int C, size_t n) {
    b->ids = malloc((size_t)T_max * B * sizeof *b->ids);
    b->eids = malloc((size_t)T_max * B * sizeof *b->eids);
    b->tids = malloc((size_t)T_max * B * sizeof *b->tids);
    b->lengths = malloc((size_t)B * sizeof *b->lengths);
    b->targets = malloc((size_t)B * sizeof *b->targets);
    b->logits = malloc((size_t)B * C * sizeof *b->logits);
    b->idx = malloc((n ? n : 1) * sizeof *b->idx);
    b->lens = malloc((n ? n : 1) * sizeof *b->lens);
    return b->ids && b->eids && b->tids && b->lengths && b->targets && b->logits && b->idx &&
                   b->lens
               ? 0
               : -1;
}

static void batch_buf_free(batch_buf *b) {
    free(b->ids);
    free(b->eids);
    free(b->tids);
    free(b->lengths);
    free(b->targets);
    free(b->logits);
    free(b->idx);
    free(b->lens);
}

/* Runs the model (no dropout) over e in length order: mean loss and accuracy over labelled
 * sentences (NaN if none), and probabilities into probs (n, C) when not NULL. -1 when out of
 * memory (err set). */
static int evaluate(seqlm_classifier *m, seqlm_classify_work *w, const seqlm_classify_encoded *e,
                    int batch, batch_buf *bb, float *probs, double *loss, double *acc,
                    seqlm_error *err) {
    const int C = m->C;
    for (size_t i = 0; i < e->n; i++) bb->idx[i] = i;
    sort_by_length(e, bb->idx, e->n);
    for (size_t i = 0; i < e->n; i++) bb->lens[i] = e->start[bb->idx[i] + 1] - e->start[bb->idx[i]];
    double nll = 0;
    uint64_t counted = 0, correct = 0;
    for (size_t s = 0; s < e->n;) {
        int B = (int)length_batch(bb->lens + s, e->n - s, (size_t)batch);
        int T = gather(e, bb->idx + s, B, bb->ids, bb->eids, bb->tids, bb->lengths, bb->targets);
        classify_words words = {bb->tids, e->char_types};
        if (isnan(classify_batch_full(m, w, bb->ids, e->char_types ? &words : NULL, bb->eids,
                                      bb->lengths, T, B, NULL, 0, 0, NULL, bb->logits, err)))
            return -1;
        for (int b = 0; b < B; b++) {
            const float *lg = bb->logits + (size_t)b * C;
            if (probs) seqlm_softmax_rows(probs + bb->idx[s + b] * C, lg, 1, (size_t)C);
            if (bb->targets[b] < 0) continue;
            double mx = lg[0], z = 0;
            for (int c = 1; c < C; c++) mx = lg[c] > mx ? lg[c] : mx;
            for (int c = 0; c < C; c++) z += exp(lg[c] - mx);
            nll += mx + log(z) - lg[bb->targets[b]];
            counted++;
            correct += argmax(lg, C) == bb->targets[b];
        }
        s += (size_t)B;
    }
    *loss = counted ? nll / (double)counted : NAN;
    *acc = counted ? (double)correct / (double)counted : NAN;
    return 0;
}

/* ---- the log ------------------------------------------------------------------------------- */

static void json_num(FILE *f, const char *key, double v) {
    if (isfinite(v))
        fprintf(f, ",\"%s\":%.10g", key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

static void emit(const seqlm_classify_train_config *cfg, FILE *log, seqlm_classify_event *e) {
    if (log) {
        fprintf(log, "{\"event\":\"%s\",\"fold\":%d,\"epoch\":%d,\"step\":%" PRIu64, e->event,
                e->fold, e->epoch, e->step);
        json_num(log, "progress", e->progress);
        json_num(log, "loss", e->loss);
        json_num(log, "acc", e->acc);
        json_num(log, "valid_loss", e->valid_loss);
        json_num(log, "valid_acc", e->valid_acc);
        json_num(log, "lr", e->lr);
        json_num(log, "sents_per_s", e->sents_per_s);
        json_num(log, "elapsed", e->elapsed);
        json_num(log, "eta", e->eta);
        if (strcmp(e->event, "start") == 0) fprintf(log, ",\"params\":%" PRIu64, e->params);
        if (strcmp(e->event, "epoch") == 0)
            fprintf(log, ",\"best\":%s", e->best ? "true" : "false");
        fputs("}\n", log);
        fflush(log);
    }
    if (cfg->on_event) cfg->on_event(cfg->event_ctx, e);
}

static seqlm_classify_event blank_event(const seqlm_classify_train_config *cfg, const char *name) {
    seqlm_classify_event e;
    memset(&e, 0, sizeof e);
    e.event = name;
    e.fold = cfg->fold;
    e.loss = e.acc = e.valid_loss = e.valid_acc = e.eta = e.sents_per_s = NAN;
    e.lr = cfg->optim.lr;
    return e;
}

/* ---- training ----------------------------------------------------------------------------------
 */

seqlm_status seqlm_classify_train(seqlm_classifier *m, const seqlm_classify_data *train,
                                  const seqlm_classify_data *valid,
                                  const seqlm_classify_train_config *cfg,
                                  seqlm_classify_train_result *res, seqlm_error *err) {
    if (m->cfg.extra && !m->elmo)
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               "a model with extra input features is trained by its caller "
                               "through the batch interface");
    if (cfg->batch < 1 || cfg->eval_batch < 1 || cfg->epochs < 1)
        return seqlm_error_set(err, SEQLM_ERR_ARG, "batch, eval batch and epochs must be >= 1");
    if (train->n == 0) return seqlm_error_set(err, SEQLM_ERR_DATA, "no training sentences");
    seqlm_set_threads(cfg->threads);
    seqlm_classify_encoded tr = {0}, va = {0};
    seqlm_classify_work *w = NULL;
    seqlm_optim *opt = NULL;
    float *best = NULL;
    size_t *order = NULL, *bstart = NULL, *bidx = NULL, *tmp = NULL;
    batch_buf bb = {0};
    FILE *log = NULL;
    seqlm_status st = SEQLM_OK;
    seqlm_params *p = m->p;
    const size_t np = p->total;
    const int C = m->C;
    seqlm_classify_train_result r;
    memset(&r, 0, sizeof r);
    r.best_valid_acc = r.best_valid_loss = NAN;

    if ((st = seqlm_classify_encode(m, train, 0, &tr, err)) != SEQLM_OK) goto done;
    if (valid && valid->n && (st = seqlm_classify_encode(m, valid, 0, &va, err)) != SEQLM_OK)
        goto done;
    int T_max = tr.max_len > va.max_len ? tr.max_len : va.max_len;
    int B_max = cfg->batch > cfg->eval_batch ? cfg->batch : cfg->eval_batch;
    size_t n = tr.n, n_max = tr.n > va.n ? tr.n : va.n;
    if (!(w = seqlm_classify_work_create(m, T_max, B_max, err))) {
        st = err ? err->status : SEQLM_ERR_NOMEM;
        goto done;
    }
    if (!(opt = seqlm_optim_create(&cfg->optim, np, err))) {
        st = err ? err->status : SEQLM_ERR_ARG;
        goto done;
    }
    best = malloc(np * sizeof *best);
    order = malloc(n * sizeof *order);
    bstart = malloc(2 * (n + 1) * sizeof *bstart);
    bidx = malloc((n + 1) * sizeof *bidx);
    tmp = malloc(n * sizeof *tmp);
    if (!best || !order || !bstart || !bidx || !tmp ||
        batch_buf_init(&bb, T_max, B_max, C, n_max)) {
        st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory for training");
        goto done;
    }
    if (cfg->log_path && !(log = fopen(cfg->log_path, "a"))) {
        st = seqlm_error_set(err, SEQLM_ERR_IO, "%s: cannot open the log for writing",
                             cfg->log_path);
        goto done;
    }
    memcpy(best, p->values, np * sizeof *best);

    seqlm_rng rng;
    seqlm_rng_seed(&rng, cfg->seed);
    const double t0 = now();
    double train_time = 0, last_report = t0;
    uint64_t trained_sents = 0, step = 0;
    int bad_epochs = 0, stop = 0;
    const uint64_t planned = (uint64_t)n * (uint64_t)cfg->epochs;
    seqlm_classify_event e = blank_event(cfg, "start");
    e.params = seqlm_params_total(p);
    emit(cfg, log, &e);

    for (int epoch = 1; epoch <= cfg->epochs && !stop; epoch++) {
        size_t nb = make_batches(&tr, cfg->batch, &rng, order, bstart, bidx, tmp);
        double ep_loss = 0, iv_loss = 0;
        uint64_t ep_n = 0, ep_correct = 0, iv_n = 0, iv_correct = 0;
        for (size_t k = 0; k < nb; k++) {
            if (seqlm_stop_requested()) {
                st = seqlm_error_set(err, SEQLM_ERR_INTERRUPT, "interrupted in epoch %d", epoch);
                goto done;
            }
            double ts = now();
            int B = (int)(bstart[k + 1] - bstart[k]);
            int T =
                gather(&tr, order + bstart[k], B, bb.ids, bb.eids, bb.tids, bb.lengths, bb.targets);
            classify_words words = {bb.tids, tr.char_types};
            seqlm_params_zero_grad(p);
            double loss =
                classify_batch_full(m, w, bb.ids, tr.char_types ? &words : NULL, bb.eids,
                                    bb.lengths, T, B, bb.targets, 1, 1, &rng, bb.logits, err);
            if (isnan(loss) && err && err->status == SEQLM_ERR_NOMEM) {
                st = SEQLM_ERR_NOMEM;
                goto done;
            }
            if (!isfinite(loss)) {
                st = seqlm_error_set(err, SEQLM_ERR_DATA,
                                     "the training loss became %g in epoch %d: try a lower --lr "
                                     "or --clip",
                                     loss, epoch);
                goto done;
            }
            if (cfg->clip > 0) seqlm_clip_grad_norm(p->grads, np, cfg->clip);
            seqlm_optim_step(opt, p->values, p->grads, cfg->optim.lr);
            step++;
            train_time += now() - ts;
            trained_sents += (uint64_t)B;
            int correct = 0;
            for (int b = 0; b < B; b++)
                correct += argmax(bb.logits + (size_t)b * C, C) == bb.targets[b];
            ep_loss += loss * B;
            iv_loss += loss * B;
            ep_n += (uint64_t)B;
            iv_n += (uint64_t)B;
            ep_correct += (uint64_t)correct;
            iv_correct += (uint64_t)correct;
            double t = now();
            double rate = train_time > 0 ? (double)trained_sents / train_time : 0;
            if (cfg->max_time > 0 && t - t0 >= cfg->max_time) stop = 1;
            if (cfg->log_interval > 0 && t - last_report >= cfg->log_interval && !stop) {
                last_report = t;
                e = blank_event(cfg, "interval");
                e.epoch = epoch;
                e.step = step;
                e.progress = (double)(k + 1) / (double)nb;
                e.loss = iv_loss / (double)iv_n;
                e.acc = (double)iv_correct / (double)iv_n;
                e.sents_per_s = rate;
                e.elapsed = t - t0;
                e.eta = rate > 0 ? (double)(planned - trained_sents) / rate : NAN;
                if (cfg->max_time > 0 && e.eta > cfg->max_time - e.elapsed)
                    e.eta = cfg->max_time - e.elapsed;
                emit(cfg, log, &e);
                iv_loss = 0;
                iv_n = iv_correct = 0;
            }
            if (stop) break;
        }
        e = blank_event(cfg, "epoch");
        e.epoch = epoch;
        e.step = step;
        e.progress = 1;
        e.loss = ep_n ? ep_loss / (double)ep_n : NAN;
        e.acc = ep_n ? (double)ep_correct / (double)ep_n : NAN;
        r.epochs = epoch;
        if (va.n) {
            if (evaluate(m, w, &va, cfg->eval_batch, &bb, NULL, &e.valid_loss, &e.valid_acc, err)) {
                st = err ? err->status : SEQLM_ERR_NOMEM;
                goto done;
            }
            int better = r.best_epoch == 0 || e.valid_acc > r.best_valid_acc ||
                         (e.valid_acc == r.best_valid_acc && e.valid_loss < r.best_valid_loss);
            if (better) {
                r.best_epoch = epoch;
                r.best_valid_acc = e.valid_acc;
                r.best_valid_loss = e.valid_loss;
                memcpy(best, p->values, np * sizeof *best);
                bad_epochs = 0;
                e.best = 1;
            } else if (cfg->patience > 0 && ++bad_epochs >= cfg->patience) {
                stop = 1;
            }
        } else {
            r.best_epoch = epoch;
            memcpy(best, p->values, np * sizeof *best);
            e.best = 1;
        }
        double t = now();
        e.sents_per_s = train_time > 0 ? (double)trained_sents / train_time : NAN;
        e.elapsed = t - t0;
        e.eta = stop || epoch == cfg->epochs ? 0
                : e.sents_per_s > 0          ? (double)(planned - trained_sents) / e.sents_per_s
                                             : NAN;
        emit(cfg, log, &e);
    }
    memcpy(p->values, best, np * sizeof *best);
    r.steps = step;
    r.seconds = now() - t0;
    r.train_sents_per_s = train_time > 0 ? (double)trained_sents / train_time : NAN;
    e = blank_event(cfg, "end");
    e.epoch = r.epochs;
    e.step = step;
    e.valid_acc = r.best_valid_acc;
    e.valid_loss = r.best_valid_loss;
    e.sents_per_s = r.train_sents_per_s;
    e.elapsed = r.seconds;
    e.eta = 0;
    emit(cfg, log, &e);
    if (cfg->output_path) {
        seqlm_metadata extra = {0};
        char buf[64];
        snprintf(buf, sizeof buf, "%d", r.best_epoch);
        seqlm_metadata_set(&extra, "seqlm.train.best_epoch", buf);
        if (isfinite(r.best_valid_acc)) {
            snprintf(buf, sizeof buf, "%.6f", r.best_valid_acc);
            seqlm_metadata_set(&extra, "seqlm.train.valid_acc", buf);
        }
        st = seqlm_classifier_save(m, cfg->output_path, &extra, err);
        seqlm_metadata_free(&extra);
    }
done:
    if (res) *res = r;
    if (log) fclose(log);
    seqlm_classify_encoded_free(&tr);
    seqlm_classify_encoded_free(&va);
    seqlm_classify_work_free(w);
    seqlm_optim_free(opt);
    free(best);
    free(order);
    free(bstart);
    free(bidx);
    free(tmp);
    batch_buf_free(&bb);
    return st;
}

/* ---- prediction -------------------------------------------------------------------------------
 */

seqlm_status seqlm_classify_predict(seqlm_classifier *m, const seqlm_classify_data *data, int batch,
                                    float *probs, double *sents_per_s, seqlm_error *err) {
    if (m->cfg.extra && !m->elmo)
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               "a model with extra input features predicts through the batch "
                               "interface");
    if (batch < 1) return seqlm_error_set(err, SEQLM_ERR_ARG, "batch must be >= 1");
    if (data->n == 0) {
        if (sents_per_s) *sents_per_s = NAN;
        return SEQLM_OK;
    }
    seqlm_classify_encoded e;
    seqlm_status st = seqlm_classify_encode(m, data, 1, &e, err);
    if (st != SEQLM_OK) return st;
    int B = (size_t)batch < e.n ? batch : (int)e.n;
    batch_buf bb = {0};
    seqlm_classify_work *w = seqlm_classify_work_create(m, e.max_len, B, err);
    if (!w) {
        st = err ? err->status : SEQLM_ERR_NOMEM;
    } else if (batch_buf_init(&bb, e.max_len, B, m->C, e.n)) {
        st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory for prediction");
    } else {
        double t0 = now(), loss, acc;
        if (evaluate(m, w, &e, B, &bb, probs, &loss, &acc, err))
            st = err ? err->status : SEQLM_ERR_NOMEM;
        double dt = now() - t0;
        if (sents_per_s) *sents_per_s = dt > 0 ? (double)e.n / dt : NAN;
    }
    batch_buf_free(&bb);
    seqlm_classify_work_free(w);
    seqlm_classify_encoded_free(&e);
    return st;
}

/* ---- metrics -----------------------------------------------------------------------------------
 */

seqlm_status seqlm_classify_metrics_compute(const int32_t *gold, const int32_t *pred, size_t n,
                                            int C, seqlm_classify_metrics *out, seqlm_error *err) {
    memset(out, 0, sizeof *out);
    out->C = C;
    out->n = n;
    out->loss = NAN;
    out->precision = calloc((size_t)C, sizeof(double));
    out->recall = calloc((size_t)C, sizeof(double));
    out->f1 = calloc((size_t)C, sizeof(double));
    out->support = calloc((size_t)C, sizeof(uint64_t));
    out->confusion = calloc((size_t)C * C, sizeof(uint64_t));
    if (!out->precision || !out->recall || !out->f1 || !out->support || !out->confusion) {
        seqlm_classify_metrics_free(out);
        return seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
    }
    uint64_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        if (gold[i] < 0 || gold[i] >= C || pred[i] < 0 || pred[i] >= C) {
            seqlm_classify_metrics_free(out);
            return seqlm_error_set(err, SEQLM_ERR_ARG, "class index out of range at %zu", i);
        }
        out->confusion[(size_t)gold[i] * C + pred[i]]++;
        correct += gold[i] == pred[i];
    }
    double f1sum = 0;
    for (int c = 0; c < C; c++) {
        uint64_t tp = out->confusion[(size_t)c * C + c], gold_c = 0, pred_c = 0;
        for (int k = 0; k < C; k++) {
            gold_c += out->confusion[(size_t)c * C + k];
            pred_c += out->confusion[(size_t)k * C + c];
        }
        out->support[c] = gold_c;
        out->precision[c] = pred_c ? (double)tp / (double)pred_c : 0;
        out->recall[c] = gold_c ? (double)tp / (double)gold_c : 0;
        double s = out->precision[c] + out->recall[c];
        out->f1[c] = s > 0 ? 2 * out->precision[c] * out->recall[c] / s : 0;
        f1sum += out->f1[c];
    }
    out->accuracy = n ? (double)correct / (double)n : NAN;
    out->macro_f1 = C ? f1sum / C : NAN;
    return SEQLM_OK;
}

void seqlm_classify_metrics_free(seqlm_classify_metrics *m) {
    free(m->precision);
    free(m->recall);
    free(m->f1);
    free(m->support);
    free(m->confusion);
    memset(m, 0, sizeof *m);
}
