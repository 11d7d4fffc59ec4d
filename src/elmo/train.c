/* train.c - training an ELMo biLM (see seqlm/elmo.h): two runs of the language-model trainer
 * (seqlm_train, src/train/) on one vocabulary, the second on the text with each line's tokens
 * reversed, then the two best models bundled into one ELMo file.
 *
 * Each run keeps everything seqlm_train does (validation, best model, schedule, early stopping,
 * progress events, the JSON lines log: each run logs to a temporary file, whose lines are then
 * appended to the log with "direction": "forward" or "backward" added). The best model of each run
 * goes to a temporary language-model file beside the output, read back for bundling and removed.
 * Not here: the file format (model.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elmo/elmo_internal.h"

seqlm_elmo_train_config seqlm_elmo_train_default_config(void) {
    seqlm_elmo_train_config c;
    memset(&c, 0, sizeof c);
    c.lm = seqlm_lm_default_config();
    c.lm.arch = SEQLM_ARCH_LSTM;
    c.train = seqlm_train_default_config();
    c.min_count = 1;
    return c;
}

typedef struct {
    const seqlm_train_config *user;
    double end_valid; /* the "end" event's validation loss: the best one */
} relay;

static void on_event(void *ctx, const seqlm_train_event *e) {
    relay *r = ctx;
    if (strcmp(e->event, "end") == 0) r->end_valid = e->valid_loss;
    if (r->user->on_event) r->user->on_event(r->user->event_ctx, e);
}

/* Appends the JSON lines of a run's log (src) to dst, each object given "direction" first. */
static seqlm_status append_log(const char *dst, const char *src, int append, int backward,
                               seqlm_error *err) {
    FILE *in = fopen(src, "r");
    if (!in) return SEQLM_OK; /* the run ended before writing any */
    FILE *out = fopen(dst, append ? "a" : "w");
    if (!out) {
        fclose(in);
        return seqlm_error_set(err, SEQLM_ERR_IO, "%s: cannot write the log", dst);
    }
    int c, at_start = 1;
    while ((c = fgetc(in)) != EOF) {
        fputc(c, out);
        if (at_start && c == '{')
            fprintf(out, "\"direction\":\"%s\",", backward ? "backward" : "forward");
        at_start = c == '\n';
    }
    int bad = ferror(in) | ferror(out);
    fclose(in);
    bad |= fclose(out) != 0;
    remove(src);
    if (bad) return seqlm_error_set(err, SEQLM_ERR_IO, "%s: cannot write the log", dst);
    return SEQLM_OK;
}

seqlm_status seqlm_elmo_train(const seqlm_elmo_train_config *cfg, seqlm_elmo_train_result *res,
                              seqlm_error *err) {
    seqlm_error_clear(err);
    const seqlm_train_config *tc = &cfg->train;
    if (!tc->train_path || !tc->output_path)
        return seqlm_error_set(err, SEQLM_ERR_ARG, "ELMo training: no training file or output");
    if (tc->checkpoint_path || tc->reverse)
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               "ELMo training: checkpoint_path and reverse must be unset");
    if (cfg->lm.arch != SEQLM_ARCH_LSTM || cfg->lm.embedding != cfg->lm.hidden)
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               "an ELMo model needs LSTM language models with embedding == hidden "
                               "(%d != %d), so that every layer is as wide",
                               cfg->lm.embedding, cfg->lm.hidden);
    if (res) {
        res->valid_ppl[0] = res->valid_ppl[1] = NAN;
        res->vocab = 0;
    }
    seqlm_vocab *all = seqlm_vocab_from_corpus(tc->train_path, cfg->lm.unit, err);
    if (!all) return err->status;
    seqlm_status st = SEQLM_OK;
    size_t n = strlen(tc->output_path) + 16;
    char *tmp[2] = {malloc(n), malloc(n)},
         *log = tc->log_path ? malloc(strlen(tc->log_path) + 16) : NULL;
    seqlm_lm *best[2] = {NULL, NULL};
    double valid[2] = {NAN, NAN};
    if (!tmp[0] || !tmp[1] || (tc->log_path && !log)) {
        st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int d = 0; d < 2; d++) {
        snprintf(tmp[d], n, "%s.%s.tmp", tc->output_path, d ? "backward" : "forward");
        seqlm_vocab *v =
            seqlm_vocab_prune(all, cfg->min_count ? cfg->min_count : 1, cfg->max_vocab, err);
        if (!v) {
            st = err->status;
            goto done;
        }
        if (res) res->vocab = seqlm_vocab_size(v);
        seqlm_lm *lm = seqlm_lm_create(&cfg->lm, v, err); /* takes v */
        if (!lm) {
            st = err->status;
            goto done;
        }
        seqlm_train_config t = *tc;
        t.seed = tc->seed + (uint64_t)d;
        t.reverse = d;
        t.output_path = tmp[d];
        if (log) {
            sprintf(log, "%s.%s.tmp", tc->log_path, d ? "backward" : "forward");
            t.log_path = log;
        }
        relay r = {tc, NAN};
        t.on_event = on_event;
        t.event_ctx = &r;
        seqlm_rng rng;
        seqlm_rng_seed(&rng, t.seed);
        seqlm_lm_reset(lm, &rng);
        if (cfg->on_direction) cfg->on_direction(cfg->direction_ctx, d);
        st = seqlm_train(lm, &t, err);
        seqlm_lm_free(lm);
        if (log) {
            seqlm_error lerr;
            seqlm_status ls = append_log(tc->log_path, log, d, d, &lerr);
            if (st == SEQLM_OK && ls != SEQLM_OK) {
                if (err) *err = lerr;
                st = ls;
            }
        }
        if (st != SEQLM_OK) {
            seqlm_error_prefix(err, "%s language model", d ? "backward" : "forward");
            goto done;
        }
        valid[d] = exp(r.end_valid);
        if (!(best[d] = seqlm_lm_load(tmp[d], NULL, err))) {
            st = err->status;
            goto done;
        }
    }
    seqlm_metadata extra = {0};
    for (int d = 0; d < 2; d++)
        if (isfinite(valid[d])) {
            char key[64], val[64];
            snprintf(key, sizeof key, "seqlm.elmo.%s.valid_ppl", d ? "backward" : "forward");
            snprintf(val, sizeof val, "%.4f", valid[d]);
            seqlm_metadata_set(&extra, key, val);
        }
    st = seqlm_elmo_save_pair(best[0], best[1], tc->output_path, &extra, err);
    seqlm_metadata_free(&extra);
    if (st == SEQLM_OK && res) {
        res->valid_ppl[0] = valid[0];
        res->valid_ppl[1] = valid[1];
    }
done:
    for (int d = 0; d < 2; d++) {
        if (tmp[d]) remove(tmp[d]);
        free(tmp[d]);
        seqlm_lm_free(best[d]);
    }
    free(log);
    seqlm_vocab_free(all);
    return st;
}
