/* checkpoint.c - training checkpoints: one safetensors file a run can continue from exactly.
 *
 * Tensors: the model's parameters under their usual names (encoder.weight, rnn.weight_ih_l0, ...;
 * a tied alias is stored once, under its owner's name), "optim.state" (the optimiser's state
 * arrays, seqlm_optim_state's layout) and "train.state" (the hidden state carried into the next
 * window, seqlm_lm_work_state's layout); each absent when empty.
 *
 * Metadata: "seqlm.config" and "seqlm.vocab" as seqlm_lm_save writes them, "seqlm.checkpoint"
 * (the format version, "1"), then every setting of the run ("train.*"), the optimiser's
 * configuration and step count ("optim.*"), the schedule and its state ("sched.*") and the
 * position ("run.*": epoch, window within the epoch, updates, best validation loss, bad epochs,
 * the RNG's four words). Every float is written as a C hex float ("%a"), so that it reads back
 * to the same bits; decimal printing would not guarantee that.
 *
 * Not here: deciding when to write (train.c) or anything about the model file format itself
 * (src/modelfile/). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "lm/model_internal.h"
#include "train/train_internal.h"

#define CHECKPOINT_VERSION "1"

/* ---- metadata values ----------------------------------------------------------------------- */

static void set_str(seqlm_metadata *md, const char *key, const char *v) {
    if (v) seqlm_metadata_set(md, key, v);
}

static void set_i64(seqlm_metadata *md, const char *key, int64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    seqlm_metadata_set(md, key, buf);
}

static void set_u64(seqlm_metadata *md, const char *key, uint64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    seqlm_metadata_set(md, key, buf);
}

/* doubles and floats alike: a float converts to double exactly */
static void set_hex(seqlm_metadata *md, const char *key, double v) {
    char buf[64];
    if (isinf(v))
        snprintf(buf, sizeof buf, "%s", v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, sizeof buf, "%a", v);
    seqlm_metadata_set(md, key, buf);
}

typedef struct {
    const seqlm_metadata *md;
    const char *path;
    seqlm_error *err;
    int bad; /* set by the first failure; later gets do nothing */
} reader;

static const char *need(reader *r, const char *key) {
    if (r->bad) return NULL;
    const char *v = seqlm_metadata_get(r->md, key);
    if (!v) {
        r->bad = 1;
        seqlm_error_set(r->err, SEQLM_ERR_FORMAT, "%s: not a complete checkpoint (no \"%s\")",
                        r->path, key);
    }
    return v;
}

static void garbled(reader *r, const char *key, const char *v) {
    r->bad = 1;
    seqlm_error_set(r->err, SEQLM_ERR_FORMAT, "%s: checkpoint: garbled \"%s\": '%s'", r->path, key,
                    v);
}

static int64_t get_i64(reader *r, const char *key, int64_t lo, int64_t hi) {
    const char *v = need(r, key);
    if (!v) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi) {
        garbled(r, key, v);
        return 0;
    }
    return x;
}

static uint64_t get_u64(reader *r, const char *key) {
    const char *v = need(r, key);
    if (!v) return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || errno || v[0] == '-') {
        garbled(r, key, v);
        return 0;
    }
    return x;
}

static double get_hex(reader *r, const char *key) {
    const char *v = need(r, key);
    if (!v) return 0;
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || isnan(x)) {
        garbled(r, key, v);
        return 0;
    }
    return x;
}

/* An optional string (a path the run may not have). */
static char *get_opt_str(reader *r, const char *key) {
    const char *v = seqlm_metadata_get(r->md, key);
    if (!v || r->bad) return NULL;
    size_t n = strlen(v) + 1;
    char *s = malloc(n);
    if (s)
        memcpy(s, v, n);
    else {
        r->bad = 1;
        seqlm_error_set(r->err, SEQLM_ERR_NOMEM, "%s: out of memory", r->path);
    }
    return s;
}

/* ---- the model's config and vocabulary, as seqlm_lm_save writes them (src/lm/model.c) ------ */

static seqlm_status parse_config(reader *r, seqlm_lm_config *c) {
    const char *text = need(r, "seqlm.config");
    if (!text) return SEQLM_ERR_FORMAT;
    seqlm_status st = lm_parse_config(r->path, text, c, r->err);
    if (st != SEQLM_OK) r->bad = 1;
    return st;
}

static seqlm_vocab *parse_vocab(reader *r) {
    const char *text = need(r, "seqlm.vocab");
    if (!text) return NULL;
    seqlm_vocab *v = lm_parse_vocab(r->path, text, r->err);
    if (!v) r->bad = 1;
    return v;
}

/* ---- writing ------------------------------------------------------------------------------- */

static void put_settings(seqlm_metadata *md, const train_run *r, const seqlm_optim *o) {
    const seqlm_train_config *c = &r->cfg;
    set_str(md, "train.train_path", c->train_path);
    set_str(md, "train.valid_path", c->valid_path);
    set_str(md, "train.output_path", c->output_path);
    set_str(md, "train.checkpoint_path", c->checkpoint_path);
    set_str(md, "train.log_path", c->log_path);
    set_i64(md, "train.batch", c->batch);
    set_i64(md, "train.bptt", c->bptt);
    set_hex(md, "train.clip", c->clip);
    set_str(md, "train.schedule", seqlm_sched_name(c->schedule));
    set_hex(md, "train.lr_decay", c->lr_decay);
    set_i64(md, "train.decay_after", c->decay_after);
    set_i64(md, "train.epochs", c->epochs);
    set_i64(md, "train.patience", c->patience);
    set_u64(md, "train.max_steps", c->max_steps);
    set_hex(md, "train.max_time", c->max_time);
    set_u64(md, "train.seed", c->seed);
    set_i64(md, "train.threads", c->threads);
    set_u64(md, "train.checkpoint_every", c->checkpoint_every);
    set_hex(md, "train.log_interval", c->log_interval);
    if (c->reverse) set_i64(md, "train.reverse", 1); /* absent in older checkpoints: 0 */

    const seqlm_optim_config *oc = &c->optim;
    set_str(md, "optim.kind", seqlm_optim_name(oc->kind));
    set_hex(md, "optim.lr", oc->lr);
    set_hex(md, "optim.weight_decay", oc->weight_decay);
    set_hex(md, "optim.momentum", oc->momentum);
    set_hex(md, "optim.dampening", oc->dampening);
    set_i64(md, "optim.nesterov", oc->nesterov);
    set_hex(md, "optim.beta1", oc->beta1);
    set_hex(md, "optim.beta2", oc->beta2);
    set_hex(md, "optim.eps", oc->eps);
    set_hex(md, "optim.alpha", oc->alpha);
    set_i64(md, "optim.centered", oc->centered);
    set_hex(md, "optim.lr_decay", oc->lr_decay);
    set_hex(md, "optim.initial_accumulator", oc->initial_accumulator);
    set_hex(md, "optim.momentum_decay", oc->momentum_decay);
    set_i64(md, "optim.amsgrad", oc->amsgrad);
    set_u64(md, "optim.steps", seqlm_optim_steps(o));

    const seqlm_schedule *s = &r->sched;
    set_str(md, "sched.kind", seqlm_sched_name(s->kind));
    set_hex(md, "sched.base_lr", s->base_lr);
    set_i64(md, "sched.step_size", s->step_size);
    set_hex(md, "sched.gamma", s->gamma);
    set_hex(md, "sched.factor", s->factor);
    set_i64(md, "sched.patience", s->patience);
    set_hex(md, "sched.threshold", s->threshold);
    set_hex(md, "sched.min_ratio", s->min_ratio);
    set_u64(md, "sched.total", s->total);
    set_hex(md, "sched.lr", s->lr);
    set_hex(md, "sched.best", s->best);
    set_i64(md, "sched.bad_epochs", s->bad_epochs);

    set_i64(md, "run.epoch", r->epoch);
    set_u64(md, "run.window", r->window);
    set_u64(md, "run.step", r->step);
    set_hex(md, "run.best_valid", r->best_valid);
    set_i64(md, "run.bad_epochs", r->bad_epochs);
    set_hex(md, "run.epoch_loss", r->epoch_loss);
    set_u64(md, "run.epoch_tokens", r->epoch_tokens);
    set_i64(md, "run.saved", r->saved);
    char rng[80];
    snprintf(rng, sizeof rng, "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64,
             r->rng.s[0], r->rng.s[1], r->rng.s[2], r->rng.s[3]);
    seqlm_metadata_set(md, "run.rng", rng);
}

/* Adds a 1-D tensor of n floats (n > 0) to g; returns its index or -1. */
static int add_flat(seqlm_params *g, const char *name, size_t n) {
    int64_t shape[1] = {(int64_t)n};
    return seqlm_params_add(g, name, 1, shape);
}

seqlm_status train_checkpoint_write(const char *path, const seqlm_lm *m, seqlm_params *p,
                                    seqlm_optim *o, seqlm_lm_work *w, const train_run *r,
                                    seqlm_error *err) {
    size_t nopt = seqlm_optim_state_floats(o), nstate = 0;
    const float *carried = seqlm_lm_work_state(w, &nstate);
    seqlm_params *g = seqlm_params_create();
    seqlm_metadata md = {0};
    char *voc = lm_vocab_text(seqlm_lm_vocab(m));
    seqlm_status st = SEQLM_OK;
    int iopt = -1, istate = -1, fail = !g || !voc;
    for (int i = 0; !fail && i < p->count; i++)
        if (p->info[i].alias_of < 0 &&
            seqlm_params_add(g, p->info[i].name, p->info[i].ndim, p->info[i].shape) < 0)
            fail = 1;
    if (!fail && nopt && (iopt = add_flat(g, "optim.state", nopt)) < 0) fail = 1;
    if (!fail && nstate && (istate = add_flat(g, "train.state", nstate)) < 0) fail = 1;
    if (fail) {
        st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory for the checkpoint", path);
        goto done;
    }
    if ((st = seqlm_params_alloc(g, err)) != SEQLM_OK) goto done;
    for (int i = 0, k = 0; i < p->count; i++)
        if (p->info[i].alias_of < 0) {
            memcpy(seqlm_params_value(g, k), seqlm_params_value(p, i),
                   p->info[i].size * sizeof(float));
            k++;
        }
    if (iopt >= 0) memcpy(seqlm_params_value(g, iopt), seqlm_optim_state(o), nopt * sizeof(float));
    if (istate >= 0) memcpy(seqlm_params_value(g, istate), carried, nstate * sizeof(float));

    char cfg[512];
    lm_config_json(seqlm_lm_config_of(m), cfg, sizeof cfg);
    seqlm_metadata_set(&md, "seqlm.config", cfg);
    seqlm_metadata_set(&md, "seqlm.vocab", voc);
    seqlm_metadata_set(&md, "seqlm.checkpoint", CHECKPOINT_VERSION);
    put_settings(&md, r, o);
    st = seqlm_safetensors_write(path, g, &md, err);
    if (st != SEQLM_OK) seqlm_error_prefix(err, "writing the checkpoint");
done:
    free(voc);
    seqlm_metadata_free(&md);
    seqlm_params_free(g);
    return st;
}

/* ---- reading ------------------------------------------------------------------------------- */

static int get_enum(reader *r, const char *key, int (*parse)(const char *, void *), void *out) {
    const char *v = need(r, key);
    if (!v) return -1;
    if (parse(v, out)) {
        garbled(r, key, v);
        return -1;
    }
    return 0;
}

static int parse_sched(const char *s, void *k) {
    return seqlm_sched_parse(s, k);
}
static int parse_optim(const char *s, void *k) {
    return seqlm_optim_parse(s, k);
}

static void get_settings(reader *rd, train_run *r, uint64_t *optim_steps) {
    seqlm_train_config *c = &r->cfg;
    *c = seqlm_train_default_config();
    r->owned[RUN_TRAIN] = get_opt_str(rd, "train.train_path");
    r->owned[RUN_VALID] = get_opt_str(rd, "train.valid_path");
    r->owned[RUN_OUTPUT] = get_opt_str(rd, "train.output_path");
    r->owned[RUN_CHECKPOINT] = get_opt_str(rd, "train.checkpoint_path");
    r->owned[RUN_LOG] = get_opt_str(rd, "train.log_path");
    c->train_path = r->owned[RUN_TRAIN];
    c->valid_path = r->owned[RUN_VALID];
    c->output_path = r->owned[RUN_OUTPUT];
    c->checkpoint_path = r->owned[RUN_CHECKPOINT];
    c->log_path = r->owned[RUN_LOG];
    if (!rd->bad && !c->train_path) need(rd, "train.train_path");
    c->batch = (int)get_i64(rd, "train.batch", 1, INT32_MAX);
    c->bptt = (int)get_i64(rd, "train.bptt", 1, INT32_MAX);
    c->clip = (float)get_hex(rd, "train.clip");
    get_enum(rd, "train.schedule", parse_sched, &c->schedule);
    c->lr_decay = (float)get_hex(rd, "train.lr_decay");
    c->decay_after = (int)get_i64(rd, "train.decay_after", 0, INT32_MAX);
    c->epochs = (int)get_i64(rd, "train.epochs", 1, INT32_MAX);
    c->patience = (int)get_i64(rd, "train.patience", 0, INT32_MAX);
    c->max_steps = get_u64(rd, "train.max_steps");
    c->max_time = get_hex(rd, "train.max_time");
    c->seed = get_u64(rd, "train.seed");
    c->threads = (int)get_i64(rd, "train.threads", INT32_MIN, INT32_MAX);
    c->checkpoint_every = get_u64(rd, "train.checkpoint_every");
    c->log_interval = get_hex(rd, "train.log_interval");
    if (seqlm_metadata_get(rd->md, "train.reverse"))
        c->reverse = (int)get_i64(rd, "train.reverse", 0, 1);

    seqlm_optim_config *oc = &c->optim;
    get_enum(rd, "optim.kind", parse_optim, &oc->kind);
    oc->lr = (float)get_hex(rd, "optim.lr");
    oc->weight_decay = (float)get_hex(rd, "optim.weight_decay");
    oc->momentum = (float)get_hex(rd, "optim.momentum");
    oc->dampening = (float)get_hex(rd, "optim.dampening");
    oc->nesterov = (int)get_i64(rd, "optim.nesterov", 0, 1);
    oc->beta1 = (float)get_hex(rd, "optim.beta1");
    oc->beta2 = (float)get_hex(rd, "optim.beta2");
    oc->eps = (float)get_hex(rd, "optim.eps");
    oc->alpha = (float)get_hex(rd, "optim.alpha");
    oc->centered = (int)get_i64(rd, "optim.centered", 0, 1);
    oc->lr_decay = (float)get_hex(rd, "optim.lr_decay");
    oc->initial_accumulator = (float)get_hex(rd, "optim.initial_accumulator");
    oc->momentum_decay = (float)get_hex(rd, "optim.momentum_decay");
    oc->amsgrad = (int)get_i64(rd, "optim.amsgrad", 0, 1);
    *optim_steps = get_u64(rd, "optim.steps");

    seqlm_schedule *s = &r->sched;
    get_enum(rd, "sched.kind", parse_sched, &s->kind);
    s->base_lr = (float)get_hex(rd, "sched.base_lr");
    s->step_size = (int)get_i64(rd, "sched.step_size", INT32_MIN, INT32_MAX);
    s->gamma = (float)get_hex(rd, "sched.gamma");
    s->factor = (float)get_hex(rd, "sched.factor");
    s->patience = (int)get_i64(rd, "sched.patience", INT32_MIN, INT32_MAX);
    s->threshold = (float)get_hex(rd, "sched.threshold");
    s->min_ratio = (float)get_hex(rd, "sched.min_ratio");
    s->total = get_u64(rd, "sched.total");
    s->lr = (float)get_hex(rd, "sched.lr");
    s->best = get_hex(rd, "sched.best");
    s->bad_epochs = (int)get_i64(rd, "sched.bad_epochs", INT32_MIN, INT32_MAX);

    r->epoch = (int)get_i64(rd, "run.epoch", 1, INT32_MAX);
    r->window = get_u64(rd, "run.window");
    r->step = get_u64(rd, "run.step");
    r->best_valid = get_hex(rd, "run.best_valid");
    r->bad_epochs = (int)get_i64(rd, "run.bad_epochs", 0, INT32_MAX);
    r->epoch_loss = get_hex(rd, "run.epoch_loss");
    r->epoch_tokens = get_u64(rd, "run.epoch_tokens");
    r->saved = (int)get_i64(rd, "run.saved", 0, 1);
    const char *rng = need(rd, "run.rng");
    if (rng) {
        char *end = (char *)rng;
        for (int i = 0; i < 4; i++) {
            const char *at = end;
            errno = 0;
            r->rng.s[i] = strtoull(at, &end, 16);
            if (end == at || errno) break;
        }
        if (*end || errno) garbled(rd, "run.rng", rng);
    }
}

/* Copies tensor `name` of g (n floats) into a new array; a missing tensor is an error when
 * n > 0. */
static float *take(reader *rd, const seqlm_params *g, const char *name, size_t n) {
    if (rd->bad || n == 0) return NULL;
    int i = seqlm_params_find(g, name);
    if (i < 0 || g->info[i].size != n) {
        rd->bad = 1;
        seqlm_error_set(rd->err, SEQLM_ERR_FORMAT,
                        "%s: checkpoint: tensor %s is missing or has the wrong size", rd->path,
                        name);
        return NULL;
    }
    float *a = malloc(n * sizeof *a);
    if (!a) {
        rd->bad = 1;
        seqlm_error_set(rd->err, SEQLM_ERR_NOMEM, "%s: out of memory", rd->path);
        return NULL;
    }
    memcpy(a, seqlm_params_value(g, i), n * sizeof *a);
    return a;
}

seqlm_status train_checkpoint_read(const char *path, seqlm_lm **out, train_run *r,
                                   train_saved_state *s, seqlm_error *err) {
    *out = NULL;
    memset(r, 0, sizeof *r);
    memset(s, 0, sizeof *s);
    seqlm_metadata md = {0};
    seqlm_params *g = seqlm_safetensors_read(path, &md, err);
    if (!g) return err ? err->status : SEQLM_ERR_IO;
    reader rd = {&md, path, err, 0};
    seqlm_lm *m = NULL;
    const char *version = seqlm_metadata_get(&md, "seqlm.checkpoint");
    if (!version) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT,
                        "%s: not a seqlm training checkpoint (no seqlm.checkpoint in its "
                        "metadata)",
                        path);
        rd.bad = 1;
    } else if (strcmp(version, CHECKPOINT_VERSION) != 0) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT,
                        "%s: checkpoint format version %s; this seqlm reads version %s", path,
                        version, CHECKPOINT_VERSION);
        rd.bad = 1;
    }
    seqlm_lm_config cfg;
    if (!rd.bad && parse_config(&rd, &cfg) == SEQLM_OK) {
        seqlm_vocab *v = parse_vocab(&rd);
        if (v && !(m = seqlm_lm_create(&cfg, v, err))) {
            seqlm_error_prefix(err, "%s", path);
            rd.bad = 1;
        }
    }
    if (!rd.bad) get_settings(&rd, r, &s->optim_steps);
    /* the parameters, by name */
    seqlm_params *p = m ? seqlm_lm_params(m) : NULL;
    for (int i = 0; p && !rd.bad && i < p->count; i++) {
        if (p->info[i].alias_of >= 0) continue;
        float *a = take(&rd, g, p->info[i].name, p->info[i].size);
        if (a) memcpy(seqlm_params_value(p, i), a, p->info[i].size * sizeof *a);
        free(a);
    }
    if (!rd.bad) {
        int io = seqlm_params_find(g, "optim.state"), is = seqlm_params_find(g, "train.state");
        s->optim_n = io >= 0 ? g->info[io].size : 0;
        s->carried_n = is >= 0 ? g->info[is].size : 0;
        s->optim_state = take(&rd, g, "optim.state", s->optim_n);
        s->carried = take(&rd, g, "train.state", s->carried_n);
    }
    seqlm_params_free(g);
    seqlm_metadata_free(&md);
    if (rd.bad) {
        seqlm_lm_free(m);
        train_run_free(r);
        train_saved_state_free(s);
        return err ? err->status : SEQLM_ERR_FORMAT;
    }
    *out = m;
    return SEQLM_OK;
}
