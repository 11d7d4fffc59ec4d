/* train.c - the language-model training loop: truncated BPTT over a stream cut into columns.
 *
 * The protocol is PyTorch's word_language_model as ../shared/bench/torch_lm.py runs it: the
 * training stream (</s> as the first input, then every token a target) is cut into `batch`
 * contiguous columns, the last padded with ignored targets; each epoch walks the columns in
 * windows of `bptt` steps, carrying the hidden state from window to window (reset at the start
 * of an epoch); per window: zero gradients, forward and backward, clip the global gradient norm,
 * one optimiser step. After each epoch the validation stream (10 columns) gives the loss that
 * picks the best model, drives the plateau schedule and early stopping.
 *
 * Everything random comes from one RNG in the run (dropout), so a checkpoint (checkpoint.c) that
 * saves it with the parameters, the optimiser state, the carried state and the position lets a
 * resumed run continue bit for bit. This file does not print: progress goes to the caller's
 * on_event and, as JSON lines, to log_path. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lm/model_internal.h"
#include "seqlm/diag.h"
#include "seqlm/kernels.h"
#include "seqlm/lm.h"
#include "train/train_internal.h"

#define IGNORE     (-100) /* ignore_index of seqlm_lm_window */
#define EVAL_BATCH 10     /* torch_lm.py's --eval-batch */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

seqlm_train_config seqlm_train_default_config(void) {
    seqlm_train_config c;
    memset(&c, 0, sizeof c);
    c.batch = 20;
    c.bptt = 35;
    c.optim = seqlm_optim_defaults(SEQLM_OPT_SGD);
    c.optim.lr = 20.0f;
    c.clip = 0.25f;
    c.schedule = SEQLM_SCHED_PLATEAU;
    c.lr_decay = 4.0f;
    c.decay_after = 4;
    c.epochs = 40;
    c.patience = 5;
    c.seed = 1;
    c.log_interval = 5;
    return c;
}

void train_run_free(train_run *r) {
    if (!r) return;
    for (int i = 0; i < RUN_NPATHS; i++) free(r->owned[i]);
    memset(r, 0, sizeof *r);
}

void train_saved_state_free(train_saved_state *s) {
    if (!s) return;
    free(s->optim_state);
    free(s->carried);
    memset(s, 0, sizeof *s);
}

void train_schedule_setup(seqlm_schedule *s, const seqlm_train_config *cfg, uint64_t total_steps) {
    seqlm_schedule_init(s, cfg->schedule, cfg->optim.lr);
    s->factor = cfg->lr_decay;
    s->patience = 0; /* word_language_model: divide as soon as an epoch fails to improve */
    s->threshold = 0;
    s->gamma = 1.0f / cfg->lr_decay;
    s->step_size = 1;
    s->total = total_steps;
}

/* The rate for the next update: linear and cosine follow the update count, step the epoch
 * (lr / decay^(epoch - decay_after) once past decay_after), plateau its own state. */
static float current_lr(train_run *r) {
    seqlm_schedule *s = &r->sched;
    switch (s->kind) {
    case SEQLM_SCHED_PLATEAU:
        return s->lr;
    case SEQLM_SCHED_STEP: {
        int k = r->epoch - r->cfg.decay_after;
        return seqlm_schedule_at(s, k > 0 ? (uint64_t)k : 0);
    }
    case SEQLM_SCHED_LINEAR:
    case SEQLM_SCHED_COSINE:
        return seqlm_schedule_at(s, r->step);
    default:
        return seqlm_schedule_at(s, 0);
    }
}

/* ---- data: a stream as (steps, B) inputs and targets --------------------------------------- */

typedef struct {
    int32_t *x, *y; /* (steps, B) */
    size_t steps;
    int B;
    uint64_t targets; /* real (not padded) targets */
} columns;

static void columns_free(columns *c) {
    free(c->x);
    free(c->y);
    memset(c, 0, sizeof *c);
}

/* torch_lm.py's batchify: the inputs are </s> followed by the stream, the targets the stream;
 * column j holds the j-th contiguous piece of ceil(n / B) steps, the last padded with IGNORE
 * targets (and <unk> inputs, which only feed padded positions). */
static seqlm_status batchify(const seqlm_stream *s, int B, columns *c, seqlm_error *err) {
    memset(c, 0, sizeof *c);
    size_t n = s->n, steps = (n + (size_t)B - 1) / (size_t)B;
    c->x = malloc(steps * (size_t)B * sizeof *c->x);
    c->y = malloc(steps * (size_t)B * sizeof *c->y);
    if (!c->x || !c->y) {
        columns_free(c);
        return seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory for %zu tokens", n);
    }
    c->steps = steps;
    c->B = B;
    c->targets = n;
    for (int j = 0; j < B; j++)
        for (size_t t = 0; t < steps; t++) {
            size_t k = (size_t)j * steps + t; /* position in the stream of targets */
            size_t at = t * (size_t)B + (size_t)j;
            if (k < n) {
                c->x[at] = k == 0 ? (int32_t)SEQLM_EOS : s->ids[k - 1];
                c->y[at] = s->ids[k];
            } else {
                c->x[at] = (int32_t)SEQLM_UNK;
                c->y[at] = IGNORE;
            }
        }
    return SEQLM_OK;
}

static seqlm_status read_columns(const char *path, int is_train, int reverse, const seqlm_lm *m,
                                 int B, columns *c, seqlm_error *err) {
    seqlm_stream s = {0};
    uint64_t oov = 0;
    seqlm_unit unit = seqlm_lm_config_of(m)->unit;
    if (seqlm_stream_read_ex(path, seqlm_lm_vocab(m), unit, reverse, &s, &oov, err) != SEQLM_OK)
        return err->status;
    /* validation: up to EVAL_BATCH columns (fewer for a tiny file, as seqlm_lm_eval) */
    if (!is_train && s.n > 0 && s.n < (size_t)B) B = (int)s.n;
    if (s.n < (size_t)B) {
        if (is_train)
            seqlm_error_set(err, SEQLM_ERR_DATA,
                            "%s: the training text has %zu tokens (with </s>), too few for one "
                            "window of %d columns: use a smaller batch or more text",
                            path, s.n, B);
        else
            seqlm_error_set(err, SEQLM_ERR_DATA, "%s: the validation text is empty", path);
        seqlm_stream_free(&s);
        return SEQLM_ERR_DATA;
    }
    seqlm_status st = batchify(&s, B, c, err);
    seqlm_stream_free(&s);
    return st;
}

/* ---- events: the caller's callback and the JSON lines log ----------------------------------- */

typedef struct {
    const seqlm_train_config *cfg;
    FILE *log;
} reporter;

static void json_num(FILE *f, const char *key, double v) {
    if (isfinite(v))
        fprintf(f, ",\"%s\":%.10g", key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

static void report(reporter *rep, const seqlm_train_event *e) {
    if (rep->cfg->on_event) rep->cfg->on_event(rep->cfg->event_ctx, e);
    FILE *f = rep->log;
    if (!f) return;
    fprintf(f, "{\"event\":\"%s\",\"epoch\":%d,\"step\":%" PRIu64 ",\"steps_total\":%" PRIu64,
            e->event, e->epoch, e->step, e->steps_total);
    json_num(f, "progress", e->progress);
    json_num(f, "loss", e->loss);
    json_num(f, "ppl", e->ppl);
    json_num(f, "valid_loss", e->valid_loss);
    json_num(f, "valid_ppl", e->valid_ppl);
    json_num(f, "lr", e->lr);
    json_num(f, "grad_norm", e->grad_norm);
    json_num(f, "tokens_per_s", e->tokens_per_s);
    json_num(f, "elapsed", e->elapsed);
    json_num(f, "eta", e->eta);
    if (strcmp(e->event, "start") == 0)
        fprintf(f, ",\"params\":%" PRIu64 ",\"bytes\":%" PRIu64, e->params, e->bytes);
    if (e->diag) {
        const seqlm_train_diag *d = e->diag;
        fprintf(f, ",\"diag\":{\"steps\":%" PRIu64, d->steps);
        json_num(f, "grad_norm_max", d->grad_norm_max);
        json_num(f, "clipped", d->clipped);
        fputs(",\"update_ratio\":{", f);
        for (int i = 0; i < d->tensors; i++) {
            fprintf(f, "%s\"%s\":", i ? "," : "", d->tensor_names[i]);
            if (isfinite(d->update_ratio[i]))
                fprintf(f, "%.6g", d->update_ratio[i]);
            else
                fputs("null", f);
        }
        fputs("},\"saturation\":{", f);
        for (int l = 0; l < d->layers; l++)
            for (int k = 0; k < d->gates; k++) {
                double v = d->saturation[l * d->gates + k];
                fprintf(f, "%s\"l%d.%s\":", l || k ? "," : "", l, d->gate_names[k]);
                if (isfinite(v))
                    fprintf(f, "%.6g", v);
                else
                    fputs("null", f);
            }
        fputs("}}", f);
    }
    fputs("}\n", f);
    fflush(f);
}

/* The time left: the planned updates at the current rate, but never past --max-time. */
static double cap_eta(const seqlm_train_config *cfg, double elapsed, double eta) {
    if (cfg->max_time > 0 && eta > cfg->max_time - elapsed)
        eta = cfg->max_time > elapsed ? cfg->max_time - elapsed : 0;
    return eta;
}

static seqlm_train_event event_new(const char *name, const train_run *r) {
    seqlm_train_event e;
    memset(&e, 0, sizeof e);
    e.event = name;
    e.epoch = r->epoch;
    e.step = r->step;
    e.loss = e.ppl = e.valid_loss = e.valid_ppl = NAN;
    e.grad_norm = e.eta = NAN;
    return e;
}

/* ---- validation ---------------------------------------------------------------------------- */

/* Mean NLL per target of the validation columns, from a zero state, without dropout. */
static double evaluate(seqlm_lm *m, seqlm_lm_work *w, const columns *c, int bptt) {
    seqlm_rng unused;
    seqlm_rng_seed(&unused, 0);
    seqlm_lm_work_reset(w);
    double nll = 0;
    uint64_t n = 0;
    for (size_t t = 0; t < c->steps; t += (size_t)bptt) {
        int T = (int)(c->steps - t < (size_t)bptt ? c->steps - t : (size_t)bptt);
        size_t at = t * (size_t)c->B, counted = 0;
        double loss = seqlm_lm_window(m, w, c->x + at, c->y + at, T, 0, 0, &unused, &counted);
        nll += loss * (double)counted;
        n += counted;
    }
    return n ? nll / (double)n : NAN;
}

/* ---- diagnostics (cfg.diag) ----------------------------------------------------------------- */

/* What --diag gathers over an interval. Everything here only reads the model, its gradients and
 * the forward cache, so a run with diagnostics computes exactly what one without does. */
typedef struct {
    int on;
    uint64_t clipped;
    double grad_max;
    /* update / parameter ratios: the values before the interval's first update */
    float *before; /* (p->total) */
    int tensors;
    int *index;         /* (tensors) the non-alias tensors */
    const char **names; /* (tensors) */
    double *ratio;      /* (tensors) */
    /* gate saturation, (layers, gates) */
    int layers, gates;
    uint64_t *count, *sat;
    double *saturation;
    seqlm_train_diag d;
} diag_state;

static void diag_free(diag_state *g) {
    free(g->before);
    free(g->index);
    free(g->names);
    free(g->ratio);
    free(g->count);
    free(g->sat);
    free(g->saturation);
    memset(g, 0, sizeof *g);
}

static seqlm_status diag_init(diag_state *g, seqlm_lm *m, seqlm_params *p, seqlm_error *err) {
    memset(g, 0, sizeof *g);
    g->on = 1;
    const seqlm_lm_config *mc = seqlm_lm_config_of(m);
    if (seqlm_lm_is_recurrent(mc->arch)) {
        g->layers = mc->layers;
        g->gates = mc->arch == SEQLM_ARCH_LSTM ? 4 : mc->arch == SEQLM_ARCH_GRU ? 3 : 1;
    }
    static const char *const lstm[] = {"i", "f", "g", "o"}, *const gru[] = {"r", "z", "n"};
    for (int k = 0; k < g->gates; k++)
        g->d.gate_names[k] = g->gates == 4 ? lstm[k] : g->gates == 3 ? gru[k] : "h";
    size_t LG = (size_t)g->layers * g->gates;
    g->before = malloc((p->total ? p->total : 1) * sizeof *g->before);
    g->index = malloc((size_t)(p->count ? p->count : 1) * sizeof *g->index);
    g->names = malloc((size_t)(p->count ? p->count : 1) * sizeof *g->names);
    g->ratio = calloc((size_t)(p->count ? p->count : 1), sizeof *g->ratio);
    g->count = calloc(LG ? LG : 1, sizeof *g->count);
    g->sat = calloc(LG ? LG : 1, sizeof *g->sat);
    g->saturation = calloc(LG ? LG : 1, sizeof *g->saturation);
    if (!g->before || !g->index || !g->names || !g->ratio || !g->count || !g->sat ||
        !g->saturation) {
        diag_free(g);
        return seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory for the diagnostics");
    }
    for (int i = 0; i < p->count; i++)
        if (p->info[i].alias_of < 0) {
            g->index[g->tensors] = i;
            g->names[g->tensors++] = p->info[i].name;
        }
    return SEQLM_OK;
}

/* After a window's forward and backward: the gates of every layer. */
static void diag_gates(diag_state *g, seqlm_lm_work *w) {
    for (int l = 0; l < g->layers; l++)
        seqlm_rnn_gate_saturation(seqlm_stack_cache_layer(w->cache, l),
                                  g->count + (size_t)l * g->gates, g->sat + (size_t)l * g->gates);
}

/* ||w' - w|| / ||w|| per tensor, after the sampled update (g->before holds w). */
static void diag_ratios(diag_state *g, const seqlm_params *p) {
    for (int i = 0; i < g->tensors; i++) {
        const seqlm_param_info *t = &p->info[g->index[i]];
        const float *a = g->before + t->offset, *b = p->values + t->offset;
        double dd = 0, ww = 0;
        for (size_t j = 0; j < t->size; j++) {
            double d = (double)b[j] - a[j];
            dd += d * d;
            ww += (double)a[j] * a[j];
        }
        g->ratio[i] = ww > 0 ? sqrt(dd / ww) : (dd > 0 ? INFINITY : 0);
    }
}

/* The interval's summary into g->d (pointed to by the event), then a fresh interval. */
static const seqlm_train_diag *diag_take(diag_state *g, uint64_t steps) {
    seqlm_train_diag *d = &g->d;
    d->steps = steps;
    d->grad_norm_max = g->grad_max;
    d->clipped = steps ? (double)g->clipped / (double)steps : 0;
    d->tensors = g->tensors;
    d->tensor_names = g->names;
    d->update_ratio = g->ratio;
    d->layers = g->layers;
    d->gates = g->gates;
    for (size_t i = 0; i < (size_t)g->layers * g->gates; i++)
        g->saturation[i] = g->count[i] ? (double)g->sat[i] / (double)g->count[i] : NAN;
    d->saturation = g->saturation;
    memset(g->count, 0, (size_t)g->layers * g->gates * sizeof *g->count);
    memset(g->sat, 0, (size_t)g->layers * g->gates * sizeof *g->sat);
    g->clipped = 0;
    g->grad_max = 0;
    return d;
}

/* ---- the loop ------------------------------------------------------------------------------ */

static seqlm_status check_config(const seqlm_train_config *c, seqlm_error *err) {
    const char *bad = NULL;
    if (!c->train_path)
        bad = "no training file";
    else if (!c->output_path)
        bad = "no output path";
    else if (c->batch <= 0)
        bad = "batch must be > 0";
    else if (c->bptt <= 0)
        bad = "bptt must be > 0";
    else if (c->epochs <= 0)
        bad = "epochs must be > 0";
    else if (!(c->optim.lr > 0) || !isfinite(c->optim.lr))
        bad = "the learning rate must be > 0";
    else if (!(c->clip >= 0))
        bad = "clip must be >= 0";
    else if (!(c->lr_decay >= 1) || !isfinite(c->lr_decay))
        bad = "lr_decay must be >= 1";
    else if (c->decay_after < 0)
        bad = "decay_after must be >= 0";
    else if (c->patience < 0)
        bad = "patience must be >= 0";
    else if (!(c->max_time >= 0))
        bad = "max_time must be >= 0";
    else if ((unsigned)c->schedule > (unsigned)SEQLM_SCHED_COSINE)
        bad = "unknown schedule";
    if (bad) return seqlm_error_set(err, SEQLM_ERR_ARG, "training: %s", bad);
    return SEQLM_OK;
}

typedef struct {
    seqlm_lm *m;
    seqlm_params *p;
    seqlm_optim *opt;
    seqlm_lm_work *w, *vw;
    columns train, valid;
    reporter rep;
    diag_state diag;
} loop_ctx;

static void loop_free(loop_ctx *L) {
    diag_free(&L->diag);
    seqlm_optim_free(L->opt);
    seqlm_lm_work_free(L->w);
    seqlm_lm_work_free(L->vw);
    columns_free(&L->train);
    columns_free(&L->valid);
    if (L->rep.log) fclose(L->rep.log);
}

static seqlm_status save_model(loop_ctx *L, train_run *r, double valid_loss, seqlm_error *err) {
    seqlm_metadata extra = {0};
    char buf[64];
    snprintf(buf, sizeof buf, "%d", r->epoch);
    seqlm_metadata_set(&extra, "seqlm.train.epoch", buf);
    snprintf(buf, sizeof buf, "%" PRIu64, r->step);
    seqlm_metadata_set(&extra, "seqlm.train.steps", buf);
    if (isfinite(valid_loss)) {
        snprintf(buf, sizeof buf, "%.4f", exp(valid_loss));
        seqlm_metadata_set(&extra, "seqlm.train.valid_ppl", buf);
    }
    seqlm_status st = seqlm_lm_save(L->m, r->cfg.output_path, &extra, err);
    seqlm_metadata_free(&extra);
    if (st == SEQLM_OK) r->saved = 1;
    return st;
}

static seqlm_status checkpoint(loop_ctx *L, train_run *r, seqlm_error *err) {
    if (!r->cfg.checkpoint_path) return SEQLM_OK;
    return train_checkpoint_write(r->cfg.checkpoint_path, L->m, L->p, L->opt, L->w, r, err);
}

seqlm_status train_loop(seqlm_lm *m, train_run *r, const train_saved_state *s, seqlm_error *err) {
    const seqlm_train_config *cfg = &r->cfg;
    if (check_config(cfg, err) != SEQLM_OK) return err->status;
    const seqlm_lm_config *mc = seqlm_lm_config_of(m);
    loop_ctx L;
    memset(&L, 0, sizeof L);
    L.m = m;
    L.p = seqlm_lm_params(m);
    L.rep.cfg = cfg;
    seqlm_set_threads(cfg->threads);
    double t_start = now();
    seqlm_status st = SEQLM_OK;

    if ((st = read_columns(cfg->train_path, 1, cfg->reverse, m, cfg->batch, &L.train, err)) !=
        SEQLM_OK)
        goto done;
    if (cfg->valid_path && (st = read_columns(cfg->valid_path, 0, cfg->reverse, m, EVAL_BATCH,
                                              &L.valid, err)) != SEQLM_OK)
        goto done;
    uint64_t nwin = (L.train.steps + (size_t)cfg->bptt - 1) / (size_t)cfg->bptt;
    uint64_t planned = (uint64_t)cfg->epochs * nwin;
    if (!s) train_schedule_setup(&r->sched, cfg, planned);
    if (cfg->max_steps && cfg->max_steps < planned) planned = cfg->max_steps;

    if (cfg->log_path) {
        L.rep.log = fopen(cfg->log_path, s ? "a" : "w");
        if (!L.rep.log) {
            st = seqlm_error_set(err, SEQLM_ERR_IO, "%s: cannot write the log: %s", cfg->log_path,
                                 strerror(errno));
            goto done;
        }
    }
    size_t V = seqlm_vocab_size(seqlm_lm_vocab(m));
    {
        seqlm_train_event e = event_new("start", r);
        e.steps_total = planned;
        e.lr = current_lr(r);
        e.params = seqlm_params_total(L.p);
        e.bytes = seqlm_lm_train_bytes(mc, V, cfg->batch, cfg->bptt, cfg->optim.kind);
        e.tokens_per_s = 0;
        e.progress = (double)r->window / (double)nwin;
        report(&L.rep, &e);
    }

    if (!(L.opt = seqlm_optim_create(&cfg->optim, L.p->total, err))) {
        st = err->status;
        goto done;
    }
    if (!(L.w = seqlm_lm_work_create(m, cfg->bptt, cfg->batch, err)) ||
        (L.valid.steps && !(L.vw = seqlm_lm_work_create(m, cfg->bptt, L.valid.B, err)))) {
        st = err->status;
        goto done;
    }
    if (cfg->diag && (st = diag_init(&L.diag, m, L.p, err)) != SEQLM_OK) goto done;
    if (s) {
        size_t n = 0;
        float *carried = seqlm_lm_work_state(L.w, &n);
        if (s->optim_n != seqlm_optim_state_floats(L.opt) || s->carried_n != n) {
            st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                 "checkpoint: optimiser state (%zu floats) or carried state (%zu) "
                                 "does not fit the model (%zu, %zu)",
                                 s->optim_n, s->carried_n, seqlm_optim_state_floats(L.opt), n);
            goto done;
        }
        if (n) memcpy(carried, s->carried, n * sizeof *carried);
        if (s->optim_n)
            memcpy(seqlm_optim_state(L.opt), s->optim_state, s->optim_n * sizeof(float));
        seqlm_optim_set_steps(L.opt, s->optim_steps);
    }

    /* statistics of this process: training time and tokens (validation excluded) */
    double train_time = 0, iv_loss = 0, iv_norm = 0, ep_time = 0, last_valid = NAN;
    uint64_t train_tokens = 0, steps_here = 0, iv_tokens = 0, iv_steps = 0, ep_tokens_here = 0;
    double iv_start = now();
    float lr = current_lr(r);
    int stop = 0; /* 1 limit reached, 2 interrupted, 3 early stop, 4 epochs done */
    if (r->window == 0 && r->epoch > 1) { /* resumed at an epoch boundary: was it the end? */
        if (r->epoch > cfg->epochs) stop = 4;
        if (L.vw && cfg->patience > 0 && r->bad_epochs >= cfg->patience) stop = 3;
        if (stop) r->epoch--;
    }

    while (!stop) {
        if (r->window == 0) {
            seqlm_lm_work_reset(L.w);
            r->epoch_loss = 0;
            r->epoch_tokens = 0;
        }
        ep_time = 0;
        ep_tokens_here = 0;
        while (r->window < nwin) {
            if (seqlm_stop_requested()) {
                stop = 2;
                break;
            }
            if ((cfg->max_steps && r->step >= cfg->max_steps) ||
                (cfg->max_time > 0 && now() - t_start >= cfg->max_time)) {
                stop = 1;
                break;
            }
            double t0 = now();
            size_t t = (size_t)r->window * (size_t)cfg->bptt;
            int T = (int)(L.train.steps - t < (size_t)cfg->bptt ? L.train.steps - t
                                                                : (size_t)cfg->bptt);
            size_t at = t * (size_t)cfg->batch, counted = 0;
            lr = current_lr(r);
            seqlm_params_zero_grad(L.p);
            double loss =
                seqlm_lm_window(m, L.w, L.train.x + at, L.train.y + at, T, 1, 1, &r->rng, &counted);
            double norm = isfinite(loss)
                              ? seqlm_clip_grad_norm(L.p->grads, L.p->total,
                                                     cfg->clip > 0 ? cfg->clip : INFINITY)
                              : NAN;
            if (L.diag.on) {
                diag_gates(&L.diag, L.w);
                if (norm > L.diag.grad_max) L.diag.grad_max = norm;
                /* clip_grad_norm scales when max / (norm + 1e-6) < 1 */
                L.diag.clipped += cfg->clip > 0 && cfg->clip / (norm + 1e-6) < 1;
                if (iv_steps == 0) memcpy(L.diag.before, L.p->values, L.p->total * sizeof(float));
            }
            /* diverged: NaN or inf, or a loss far worse than guessing uniformly (ln V), which
             * no sane run reaches after its first update */
            if (!isfinite(loss) || !isfinite(norm) || loss > 20 * log((double)V) + 20) {
                char what[96];
                if (!isfinite(loss) || !isfinite(norm))
                    snprintf(what, sizeof what, "the training %s is %s",
                             isfinite(loss) ? "gradient norm" : "loss",
                             isnan(isfinite(loss) ? norm : loss) ? "nan" : "inf");
                else
                    snprintf(what, sizeof what,
                             "the training loss is %.3g (uniform guessing gives %.3g)", loss,
                             log((double)V));
                st = seqlm_error_set(
                    err, SEQLM_ERR_DATA,
                    "epoch %d, step %" PRIu64 ": %s: training diverged; "
                    "use a lower learning rate (--lr, now %g)%s%s%s",
                    r->epoch, r->step + 1, what, (double)lr,
                    cfg->clip > 0 ? " or a smaller --clip" : " or gradient clipping (--clip 0.25)",
                    cfg->checkpoint_path ? "; the last good checkpoint is kept: " : "",
                    cfg->checkpoint_path ? cfg->checkpoint_path : "");
                seqlm_train_event e = event_new("end", r);
                e.steps_total = planned;
                e.tokens_per_s = train_time > 0 ? (double)train_tokens / train_time : 0;
                e.elapsed = now() - t_start;
                e.lr = lr;
                report(&L.rep, &e);
                goto done;
            }
            seqlm_optim_step(L.opt, L.p->values, L.p->grads, lr);
            if (L.diag.on && iv_steps == 0) diag_ratios(&L.diag, L.p);
            r->step++;
            r->window++;
            r->epoch_loss += loss * (double)counted;
            r->epoch_tokens += counted;
            double dt = now() - t0;
            train_time += dt;
            ep_time += dt;
            train_tokens += counted;
            ep_tokens_here += counted;
            steps_here++;
            iv_loss += loss * (double)counted;
            iv_tokens += counted;
            iv_norm += norm;
            iv_steps++;
            if (cfg->checkpoint_every && r->step % cfg->checkpoint_every == 0 &&
                (st = checkpoint(&L, r, err)) != SEQLM_OK)
                goto done;
            double tn = now();
            if (cfg->log_interval > 0 && tn - iv_start >= cfg->log_interval) {
                seqlm_train_event e = event_new("interval", r);
                e.steps_total = planned;
                e.progress = (double)r->window / (double)nwin;
                e.loss = iv_tokens ? iv_loss / (double)iv_tokens : NAN;
                e.ppl = exp(e.loss);
                e.lr = lr;
                e.grad_norm = iv_norm / (double)iv_steps;
                e.tokens_per_s = (double)iv_tokens / (tn - iv_start);
                e.elapsed = tn - t_start;
                e.eta = cap_eta(cfg, e.elapsed,
                                (double)(planned > r->step ? planned - r->step : 0) * train_time /
                                    (double)steps_here);
                if (L.diag.on) e.diag = diag_take(&L.diag, iv_steps);
                report(&L.rep, &e);
                iv_loss = iv_norm = 0;
                iv_tokens = iv_steps = 0;
                iv_start = tn;
            }
        }
        if (stop) break;

        /* the end of an epoch: validation, the best model, the schedule, early stopping */
        seqlm_train_event e = event_new("epoch", r);
        e.steps_total = planned;
        e.progress = 1;
        e.loss = r->epoch_tokens ? r->epoch_loss / (double)r->epoch_tokens : NAN;
        e.ppl = exp(e.loss);
        e.lr = lr;
        e.tokens_per_s = ep_time > 0 ? (double)ep_tokens_here / ep_time : 0;
        if (L.vw) {
            double v = evaluate(m, L.vw, &L.valid, cfg->bptt);
            last_valid = e.valid_loss = v;
            e.valid_ppl = exp(v);
            if (v < r->best_valid) {
                r->best_valid = v;
                r->bad_epochs = 0;
                if ((st = save_model(&L, r, v, err)) != SEQLM_OK) goto done;
            } else {
                r->bad_epochs++;
            }
            if (r->sched.kind == SEQLM_SCHED_PLATEAU) seqlm_schedule_plateau(&r->sched, v, NULL);
            if (cfg->patience > 0 && r->bad_epochs >= cfg->patience) stop = 3;
        } else if ((st = save_model(&L, r, NAN, err)) != SEQLM_OK) {
            goto done; /* no validation: keep the last model */
        }
        double tn = now();
        e.elapsed = tn - t_start;
        if (r->epoch >= cfg->epochs) stop = 4;
        if (cfg->max_steps && r->step >= cfg->max_steps) stop = 1;
        e.eta = stop ? 0
                     : cap_eta(cfg, e.elapsed,
                               (double)(planned > r->step ? planned - r->step : 0) * train_time /
                                   (double)(steps_here ? steps_here : 1));
        report(&L.rep, &e);
        r->epoch++;
        r->window = 0;
        if ((st = checkpoint(&L, r, err)) != SEQLM_OK) goto done;
        if (stop == 3 || stop == 4) r->epoch--; /* the last epoch, for the end event */
    }

    if (stop == 1 || stop == 2) {
        /* mid-epoch: the checkpoint holds the exact position */
        if ((st = checkpoint(&L, r, err)) != SEQLM_OK) goto done;
        /* a limit reached: make sure there is a model. Without validation the last one; with
         * it, the final model only when no epoch has ended yet (a model saved here is not
         * remembered as the best, so a resumed run makes the same choices as an uninterrupted
         * one). */
        if (stop == 1 && r->step > 0) {
            if (!L.vw) {
                if ((st = save_model(&L, r, NAN, err)) != SEQLM_OK) goto done;
            } else if (!isfinite(r->best_valid)) {
                last_valid = evaluate(m, L.vw, &L.valid, cfg->bptt);
                if ((st = save_model(&L, r, last_valid, err)) != SEQLM_OK) goto done;
            }
        }
    }
    {
        seqlm_train_event e = event_new("end", r);
        e.steps_total = planned;
        e.progress = stop >= 3 ? 1 : (double)r->window / (double)nwin;
        e.loss = r->epoch_tokens ? r->epoch_loss / (double)r->epoch_tokens : NAN;
        e.ppl = exp(e.loss);
        e.valid_loss = isfinite(r->best_valid) ? r->best_valid : last_valid;
        e.valid_ppl = exp(e.valid_loss);
        e.lr = current_lr(r);
        e.tokens_per_s = train_time > 0 ? (double)train_tokens / train_time : 0;
        e.elapsed = now() - t_start;
        e.eta = 0;
        report(&L.rep, &e);
    }
    if (stop == 2) {
        if (cfg->checkpoint_path)
            st = seqlm_error_set(err, SEQLM_ERR_INTERRUPT,
                                 "interrupted in epoch %d after %" PRIu64
                                 " updates; checkpoint written to %s",
                                 r->epoch, r->step, cfg->checkpoint_path);
        else
            st = seqlm_error_set(err, SEQLM_ERR_INTERRUPT,
                                 "interrupted in epoch %d after %" PRIu64
                                 " updates (no checkpoint path, nothing saved)",
                                 r->epoch, r->step);
    }
done:
    loop_free(&L);
    return st;
}

seqlm_status seqlm_train(seqlm_lm *m, const seqlm_train_config *cfg, seqlm_error *err) {
    seqlm_error_clear(err);
    if (!m || !cfg) return seqlm_error_set(err, SEQLM_ERR_ARG, "training: no model or config");
    train_run r;
    memset(&r, 0, sizeof r);
    r.cfg = *cfg;
    r.epoch = 1;
    r.best_valid = INFINITY;
    /* dropout draws from its own stream, apart from the initialisation's seqlm_rng_seed(seed) */
    seqlm_rng_seed(&r.rng, cfg->seed ^ 0x5851f42d4c957f2dULL);
    seqlm_status st = train_loop(m, &r, NULL, err);
    train_run_free(&r);
    return st;
}

seqlm_status seqlm_train_resume(const char *checkpoint, const seqlm_train_config *overrides,
                                seqlm_error *err) {
    seqlm_error_clear(err);
    seqlm_lm *m = NULL;
    train_run r;
    train_saved_state s;
    seqlm_status st = train_checkpoint_read(checkpoint, &m, &r, &s, err);
    if (st != SEQLM_OK) return st;
    /* settings that do not change the result may be overridden */
    const char *ckpt_path = checkpoint;
    if (overrides) {
        const seqlm_train_config *o = overrides;
        if (o->output_path) r.cfg.output_path = o->output_path;
        if (o->checkpoint_path) ckpt_path = o->checkpoint_path;
        if (o->log_path) r.cfg.log_path = o->log_path;
        if (o->max_steps) r.cfg.max_steps = o->max_steps;
        if (o->max_time > 0) r.cfg.max_time = o->max_time;
        if (o->log_interval > 0) r.cfg.log_interval = o->log_interval;
        r.cfg.diag = o->diag;
        r.cfg.on_event = o->on_event;
        r.cfg.event_ctx = o->event_ctx;
        r.cfg.warn = o->warn;
        r.cfg.warn_ctx = o->warn_ctx;
    }
    r.cfg.checkpoint_path = ckpt_path;
    /* the best model so far lives at the old output path; bring it along when the output moves */
    if (r.saved && r.owned[RUN_OUTPUT] && strcmp(r.owned[RUN_OUTPUT], r.cfg.output_path) != 0) {
        seqlm_lm *best = seqlm_lm_load(r.owned[RUN_OUTPUT], NULL, err);
        if (best) {
            st = seqlm_lm_save(best, r.cfg.output_path, NULL, err);
            seqlm_lm_free(best);
        } else {
            r.saved = 0; /* gone: only models from now on */
        }
        seqlm_error_clear(err);
        if (st != SEQLM_OK) goto done;
    }
    st = train_loop(m, &r, &s, err);
done:
    train_saved_state_free(&s);
    train_run_free(&r);
    seqlm_lm_free(m);
    return st;
}
