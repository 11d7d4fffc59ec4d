/* cmd_classify.c - `seqlm classify train|eval|predict|cv`: sentence classification.
 * Options to data sources, a model config and a training config; printing of progress,
 * metrics and predictions. Reading, the model, training and metrics are the library's
 * (seqlm/classify.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char classify_help[] =
    "usage: seqlm classify train   [data options] [model options] [training options] -o MODEL\n"
    "       seqlm classify eval    -m MODEL [data options] [--json] FILE...\n"
    "       seqlm classify predict -m MODEL [data options] [--header] [FILE...]\n"
    "       seqlm classify cv      [data options] [model options] [training options]\n"
    "\n"
    "Sentence classification with a recurrent encoder: embedding -> (bi)LSTM/GRU/RNN ->\n"
    "last state, mean or max over the real time steps -> dropout -> linear -> softmax.\n"
    "\n"
    "Input formats (see docs/classify.md)\n"
    "  tsv    LABEL<TAB>TEXT per line (the default for train, eval and cv)\n"
    "  nsmc   a header line 'id<TAB>document<TAB>label', then ID<TAB>TEXT<TAB>LABEL (the\n"
    "         Naver movie corpus); recognised from its header in any format\n"
    "  text   one TEXT per line (the default for predict); with --label-file every line of\n"
    "         the file gets that label (rt-polarity's .pos and .neg files)\n"
    "\n"
    "Data options\n"
    "      FILE                 input files in --format (train and cv: training data; \"-\" is\n"
    "                           standard input)\n"
    "      --label-file L=FILE  FILE holds one text per line, all labelled L (repeatable)\n"
    "      --format F           tsv, nsmc or text (see above)\n"
    "      --encoding NAME      the files' encoding, converted to UTF-8 with iconv (e.g.\n"
    "                           CP1252 for rt-polarity; default UTF-8, validated)\n"
    "      --allow-empty        keep empty texts (as one unknown token) instead of an error\n"
    "      --split-by-id K      nsmc: train on the rows whose id % K != 0; eval and predict\n"
    "                           read only the rows whose id % K == 0\n"
    "      --valid FILE         train: validation data (format as --format): picks the best\n"
    "                           epoch and drives early stopping\n"
    "      --heldout F          train, cv: hold out a seeded random fraction F of the\n"
    "                           training data for validation instead (default 0; cv 0.1)\n"
    "Model options (train, cv)\n"
    "      --arch A             lstm (default), gru, rnn-tanh, rnn-relu\n"
    "      --layers N           recurrent layers (default 1)\n"
    "      --hidden N           units per direction (default 150)\n"
    "      --embedding N        embedding size (default 100)\n"
    "      --unidirectional     a forward-only encoder (default: bidirectional)\n"
    "      --pool P             max (default), mean or last (forward state after the last\n"
    "                           token, backward state after the first)\n"
    "      --dropout P          on the encoder input, between layers and on the pooled\n"
    "                           vector (default 0.5)\n"
    "  -u, --unit U             word (white-space separated, default) or char (code points)\n"
    "      --min-count C        tokens seen fewer than C times in training become <unk>\n"
    "                           (default 2)\n"
    "      --lower              lower-case ASCII letters before the vocabulary lookup\n"
    "      --char-dim N         word units: add each word's character BiLSTM representation\n"
    "                           (Lample et al. 2016, as seqlm tag's) to its input, with\n"
    "                           character embeddings of size N; rare and unseen words get one\n"
    "                           too (default 0: none)\n"
    "      --char-hidden N      the character BiLSTM's units per direction (default 25)\n"
    "      --max-word-chars N   the longest word the character BiLSTM reads: a longer one\n"
    "                           gives its first N/2 and last N - N/2 characters (default 24,\n"
    "                           2 to 4096; needs --char-dim; kept in the model)\n"
    "      --elmo ELMO          add the learned scalar mix of the layers of an ELMo model\n"
    "                           (seqlm elmo train, the same --unit; frozen) to each token's\n"
    "                           input; the model records its path and fingerprint. eval,\n"
    "                           predict: where that ELMo model is now (default: the recorded\n"
    "                           path; its fingerprint is checked). See docs/elmo.md\n"
    "Training options (train, cv)\n"
    "      --optimizer O        adam (default), adamw, nadam, sgd, adagrad, rmsprop\n"
    "      --lr R               learning rate (default: the optimiser's; adam 0.001)\n"
    "      --weight-decay W     L2 penalty added to the gradient; adamw: decoupled decay\n"
    "                           (default: the optimiser's; adamw 0.01, others 0)\n"
    "      --clip C             clip the gradient norm at C (default 0: never)\n"
    "      --batch N            sentences per batch (default 50)\n"
    "      --eval-batch N       sentences per prediction batch (default 100)\n"
    "      --epochs N           at most N passes (default 10)\n"
    "      --patience N         stop after N epochs without a better validation accuracy\n"
    "                           (default 3, 0 = never)\n"
    "      --max-time S         stop one training run after S seconds (alias --time-limit)\n"
    "      --seed N             initialisation, shuffling, dropout, held-out part (default 1)\n"
    "      --threads N          threads (default: all cores); the same seed and threads give\n"
    "                           the same model, bit for bit\n"
    "      --log FILE           JSON lines: one object per progress event\n"
    "      --log-interval S     seconds between progress lines (default 5)\n"
    "  -q, --quiet              no progress on stderr\n"
    "Cross-validation (cv)\n"
    "      --folds K            record i of each input file goes to fold i % K (default 10);\n"
    "                           each fold is tested on a model trained on the others\n"
    "      --fold-limit N       run only the first N folds\n"
    "Output\n"
    "  -o, --output MODEL       train: the model file (safetensors)\n"
    "  -m, --model MODEL        eval, predict: the model\n"
    "      --json               eval, cv: the results as one JSON object on stdout\n"
    "      --header             predict: a first line naming the columns\n"
    "\n"
    "eval prints accuracy, macro-F1, per-label precision/recall/F1 and the confusion matrix.\n"
    "predict prints, per input line, the predicted label and the probability of every label\n"
    "(in the model's label order), tab-separated.\n"
    "\n"
    "examples:\n"
    "  seqlm classify cv --encoding CP1252 --label-file pos=rt-polarity.pos \\\n"
    "      --label-file neg=rt-polarity.neg --lr 2e-3 --epochs 15 --patience 3\n"
    "  seqlm classify train --split-by-id 5 --allow-empty --unit char --heldout 0.1 \\\n"
    "      --lr 2e-3 --epochs 6 --patience 2 ratings_test.txt -o nsmc.safetensors\n"
    "  seqlm classify eval -m nsmc.safetensors --split-by-id 5 --allow-empty ratings_test.txt\n";

/* ---- progress ------------------------------------------------------------------------------ */

typedef struct {
    int quiet, tty, shown;
} progress;

static void clear_line(progress *p) {
    cli_clear_line(p->tty, &p->shown);
}

static void on_event(void *ctx, const seqlm_classify_event *e) {
    progress *p = ctx;
    if (p->quiet) return;
    char eta[16], fold[24] = "";
    cli_fmt_time(eta, sizeof eta, e->eta);
    if (e->fold >= 0) snprintf(fold, sizeof fold, "fold %d ", e->fold + 1);
    if (strcmp(e->event, "interval") == 0) {
        char line[200];
        snprintf(line, sizeof line,
                 "seqlm: %sepoch %d %5.1f%% | %.0f sent/s | loss %.4f acc %.2f%% | ETA %s", fold,
                 e->epoch, 100 * e->progress, e->sents_per_s, e->loss, 100 * e->acc, eta);
        if (p->tty)
            fprintf(stderr, "\r%-100s", line);
        else
            fprintf(stderr, "%s\n", line);
        p->shown = 1;
    } else if (strcmp(e->event, "epoch") == 0) {
        clear_line(p);
        char valid[80] = "";
        if (isfinite(e->valid_acc))
            snprintf(valid, sizeof valid, " | valid loss %.4f acc %.2f%%%s", e->valid_loss,
                     100 * e->valid_acc, e->best ? " *" : "");
        fprintf(stderr,
                "seqlm: %sepoch %d done | train loss %.4f acc %.2f%%%s | %.0f sent/s | %.0fs "
                "elapsed\n",
                fold, e->epoch, e->loss, 100 * e->acc, valid, e->sents_per_s, e->elapsed);
    } else if (strcmp(e->event, "end") == 0) {
        clear_line(p);
    }
}

/* ---- options ----------------------------------------------------------------------------- */

enum {
    O_LABELFILE = 256,
    O_FORMAT,
    O_ALLOWEMPTY,
    O_SPLITID,
    O_HELDOUT,
    O_EVALBATCH,
    O_FOLDS,
    O_FOLDLIMIT,
    O_JSON,
    O_HEADER,
    /* model options (train and cv only), besides the shared ones */
    O_ARCH,
    O_UNIDIR,
    O_BIDIR,
    O_POOL
};

#define MAX_LABEL_FILES 64

typedef struct {
    const char *sub; /* "train", "eval", "predict", "cv" */
    const char *files[256];
    int n_files;
    const char *label_files[MAX_LABEL_FILES]; /* "L=FILE" */
    int n_label_files;
    seqlm_cls_format format;
    int format_set;
    const char *encoding;
    int allow_empty, split_id;
    const char *valid;
    double heldout;
    int heldout_set;
    seqlm_classify_config mc;
    uint64_t min_count;
    seqlm_classify_train_config tc;
    int folds, fold_limit;
    int json, header, quiet;
    const char *output, *model;
    const char *elmo; /* --elmo: train, cv: the ELMo model; eval, predict: where it is now */
    int model_flag;   /* the last model or training option given (its id), 0 if none */
    cli_train_opts t; /* the shared options, pointing into mc and tc */
} opts;

/* Reads every input of o into d: FILE arguments in the format, then the label files.
 * keep_zero: with --split-by-id, keep the rows whose id % K == 0 (eval/predict). */
static seqlm_status read_inputs(const opts *o, int keep_zero, const char *const *files, int n_files,
                                seqlm_classify_data *d, seqlm_error *err) {
    seqlm_classify_source src;
    memset(&src, 0, sizeof src);
    src.encoding = o->encoding;
    src.allow_empty = o->allow_empty;
    src.id_mod = o->split_id;
    src.id_keep_zero = keep_zero;
    for (int i = 0; i < n_files; i++) {
        src.path = files[i];
        src.format = o->format;
        src.label = NULL;
        seqlm_status st = seqlm_classify_data_read(d, &src, err);
        if (st != SEQLM_OK) return st;
    }
    for (int i = 0; i < o->n_label_files && files == o->files; i++) {
        const char *eq = strchr(o->label_files[i], '=');
        char label[256];
        size_t l = (size_t)(eq - o->label_files[i]);
        memcpy(label, o->label_files[i], l);
        label[l] = '\0';
        src.path = eq + 1;
        src.format = SEQLM_CLS_FORMAT_TEXT;
        src.label = label;
        seqlm_status st = seqlm_classify_data_read(d, &src, err);
        if (st != SEQLM_OK) return st;
    }
    return SEQLM_OK;
}

/* ---- subcommands -------------------------------------------------------------------------- */

static void describe(const opts *o, const seqlm_classifier *m, size_t n_train, size_t n_valid) {
    if (o->quiet) return;
    const seqlm_classify_config *c = &o->mc;
    fprintf(stderr,
            "seqlm: %s%s %dx%d, embedding %d, %s pool, dropout %g; %s vocabulary %zu, %zu "
            "labels; %zu training sentences, %zu validation; %s lr %g, batch %d\n",
            c->bidirectional ? "bi" : "", seqlm_cell_name(c->cell), c->layers, c->hidden,
            c->embedding, seqlm_pool_name(c->pool), (double)c->dropout, seqlm_unit_name(c->unit),
            seqlm_vocab_size(seqlm_classifier_vocab(m)), seqlm_classifier_labels(m, NULL), n_train,
            n_valid, seqlm_optim_name(o->tc.optim.kind), (double)o->tc.optim.lr, o->tc.batch);
    if (c->char_dim > 0)
        fprintf(stderr,
                "seqlm: character BiLSTM per word: %zu characters, embedding %d, %d units per "
                "direction\n",
                seqlm_classifier_n_chars(m), c->char_dim, c->char_hidden);
    if (seqlm_classifier_config(m)->elmo)
        fprintf(stderr, "seqlm: ELMo %s: the mix of its layers joins the input (%d values)\n",
                seqlm_classifier_config(m)->elmo, seqlm_classifier_config(m)->extra);
}

/* Builds, trains and returns a model on train (valid may be empty). */
static seqlm_classifier *train_one(opts *o, const seqlm_classify_data *train,
                                   const seqlm_classify_data *valid, progress *prog,
                                   seqlm_classify_train_result *res, seqlm_error *err) {
    seqlm_classifier *m = seqlm_classifier_create_for(&o->mc, train, o->min_count, err);
    if (!m) return NULL;
    seqlm_rng rng;
    seqlm_rng_seed(&rng, o->tc.seed);
    seqlm_classifier_reset(m, &rng);
    describe(o, m, train->n, valid ? valid->n : 0);
    o->tc.on_event = on_event;
    o->tc.event_ctx = prog;
    o->tc.seed = o->tc.seed + 1000003; /* shuffling and dropout: another stream than init */
    seqlm_status st =
        seqlm_classify_train(m, train, valid && valid->n ? valid : NULL, &o->tc, res, err);
    o->tc.seed -= 1000003;
    if (st != SEQLM_OK) {
        seqlm_classifier_free(m);
        return NULL;
    }
    return m;
}

static int do_train(opts *o) {
    seqlm_error err;
    if (!o->output) return cli_usage("classify train", "missing -o MODEL");
    if (!o->n_files && !o->n_label_files)
        return cli_usage("classify train", "no training data (FILE arguments or --label-file)");
    if (o->valid && o->heldout_set)
        return cli_usage("classify train", "give --valid or --heldout, not both");
    if (cli_check_output(o->output)) return EXIT_INPUT;
    if (o->tc.log_path && cli_check_output(o->tc.log_path)) return EXIT_INPUT;
    seqlm_classify_data *train = seqlm_classify_data_create(),
                        *valid = seqlm_classify_data_create();
    seqlm_classifier *m = NULL;
    int rc = 0;
    if (!train || !valid) {
        rc = cli_fail("out of memory");
        goto done;
    }
    if (read_inputs(o, 0, o->files, o->n_files, train, &err) != SEQLM_OK) {
        rc = cli_fail_text(&err, NULL);
        goto done;
    }
    if (o->valid) {
        const char *vf[1] = {o->valid};
        if (read_inputs(o, 0, vf, 1, valid, &err) != SEQLM_OK) {
            rc = cli_fail_text(&err, NULL);
            goto done;
        }
    } else if (o->heldout > 0 && seqlm_classify_data_holdout(train, o->heldout, o->tc.seed, valid,
                                                             &err) != SEQLM_OK) {
        rc = cli_fail_text(&err, NULL);
        goto done;
    }
    if (!o->quiet && !valid->n)
        fprintf(stderr, "seqlm: no --valid or --heldout: nothing held out; the last model is "
                        "kept\n");
    if (o->tc.log_path) {
        FILE *f = fopen(o->tc.log_path, "w");
        if (f) fclose(f);
    }
    progress prog = {o->quiet, isatty(2), 0};
    seqlm_classify_train_result res;
    o->tc.output_path = o->output;
    cli_catch_signals();
    m = train_one(o, train, valid, &prog, &res, &err);
    clear_line(&prog);
    if (!m) {
        rc = cli_fail_text(&err, NULL);
        goto done;
    }
    if (!o->quiet) {
        if (isfinite(res.best_valid_acc))
            fprintf(stderr,
                    "seqlm: %s: best valid accuracy %.2f%% (epoch %d of %d); %.0f sent/s "
                    "training; %.1f s\n",
                    o->output, 100 * res.best_valid_acc, res.best_epoch, res.epochs,
                    res.train_sents_per_s, res.seconds);
        else
            fprintf(stderr, "seqlm: %s written after %d epochs; %.0f sent/s training; %.1f s\n",
                    o->output, res.epochs, res.train_sents_per_s, res.seconds);
    }
done:
    seqlm_classifier_free(m);
    seqlm_classify_data_free(train);
    seqlm_classify_data_free(valid);
    return rc;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* Predicts data with m; gold/pred (n) class indices (gold -1 for unknown). */
static int predict_all(seqlm_classifier *m, const seqlm_classify_data *d, int batch, float **probs,
                       double *speed) {
    size_t C = seqlm_classifier_labels(m, NULL);
    seqlm_error err;
    *probs = malloc((d->n ? d->n : 1) * C * sizeof **probs);
    if (!*probs) return cli_fail("out of memory");
    if (seqlm_classify_predict(m, d, batch, *probs, speed, &err) != SEQLM_OK)
        return cli_fail_text(&err, NULL);
    return 0;
}

static void print_metrics(const seqlm_classify_metrics *mt, const char *const *labels, int json,
                          double speed) {
    int C = mt->C;
    if (json) {
        printf("{\"sentences\": %zu, \"accuracy\": %.6f, \"macro_f1\": %.6f, \"loss\": %.6f, "
               "\"labels\": [",
               mt->n, mt->accuracy, mt->macro_f1, mt->loss);
        for (int c = 0; c < C; c++) {
            char *s = NULL;
            (void)s;
            printf("%s\"", c ? ", " : "");
            for (const char *p = labels[c]; *p; p++) {
                if (*p == '"' || *p == '\\')
                    printf("\\%c", *p);
                else if ((unsigned char)*p < 0x20)
                    printf("\\u%04x", (unsigned char)*p);
                else
                    putchar(*p);
            }
            putchar('"');
        }
        printf("], \"precision\": [");
        for (int c = 0; c < C; c++) printf("%s%.6f", c ? ", " : "", mt->precision[c]);
        printf("], \"recall\": [");
        for (int c = 0; c < C; c++) printf("%s%.6f", c ? ", " : "", mt->recall[c]);
        printf("], \"f1\": [");
        for (int c = 0; c < C; c++) printf("%s%.6f", c ? ", " : "", mt->f1[c]);
        printf("], \"support\": [");
        for (int c = 0; c < C; c++)
            printf("%s%llu", c ? ", " : "", (unsigned long long)mt->support[c]);
        printf("], \"confusion\": [");
        for (int g = 0; g < C; g++) {
            printf("%s[", g ? ", " : "");
            for (int p = 0; p < C; p++)
                printf("%s%llu", p ? ", " : "",
                       (unsigned long long)mt->confusion[(size_t)g * C + p]);
            printf("]");
        }
        printf("]}\n");
        return;
    }
    int w = 9;
    for (int c = 0; c < C; c++)
        if ((int)strlen(labels[c]) > w) w = (int)strlen(labels[c]);
    printf("sentences %zu\naccuracy  %.4f\nmacro-F1  %.4f\nloss      %.4f\n\n", mt->n, mt->accuracy,
           mt->macro_f1, mt->loss);
    printf("%-*s  precision  recall  F1      support\n", w, "label");
    for (int c = 0; c < C; c++)
        printf("%-*s  %.4f     %.4f  %.4f  %llu\n", w, labels[c], mt->precision[c], mt->recall[c],
               mt->f1[c], (unsigned long long)mt->support[c]);
    printf("\nconfusion matrix (rows: gold, columns: predicted)\n%-*s", w, "");
    for (int c = 0; c < C; c++) printf("  %*s", w, labels[c]);
    printf("\n");
    for (int g = 0; g < C; g++) {
        printf("%-*s", w, labels[g]);
        for (int p = 0; p < C; p++)
            printf("  %*llu", w, (unsigned long long)mt->confusion[(size_t)g * C + p]);
        printf("\n");
    }
    (void)speed;
}

/* Metrics of m on d (every text labelled); 0 or an exit status. */
static int evaluate(seqlm_classifier *m, const seqlm_classify_data *d, int batch,
                    seqlm_classify_metrics *mt, double *speed) {
    seqlm_error err;
    seqlm_classify_encoded enc;
    /* labels the model does not know are errors naming file:line */
    if (seqlm_classify_encode(m, d, 0, &enc, &err) != SEQLM_OK) return cli_fail_text(&err, NULL);
    for (size_t i = 0; i < d->n; i++)
        if (enc.label[i] < 0) {
            seqlm_classify_encoded_free(&enc);
            return cli_fail("%s: line %llu: a text without a label (eval needs labelled data)",
                            d->files[d->file[i]], (unsigned long long)d->line[i]);
        }
    float *probs = NULL;
    int rc = predict_all(m, d, batch, &probs, speed);
    int C = (int)seqlm_classifier_labels(m, NULL);
    int32_t *pred = malloc((d->n ? d->n : 1) * sizeof *pred);
    if (!rc && !pred) rc = cli_fail("out of memory");
    if (!rc) {
        double nll = 0;
        for (size_t i = 0; i < d->n; i++) {
            pred[i] = argmax(probs + i * C, C);
            float pg = probs[i * C + enc.label[i]];
            nll -= log(pg > 1e-30f ? (double)pg : 1e-30);
        }
        if (seqlm_classify_metrics_compute(enc.label, pred, d->n, C, mt, &err) != SEQLM_OK)
            rc = cli_fail_text(&err, NULL);
        else
            mt->loss = d->n ? nll / (double)d->n : NAN;
    }
    free(pred);
    free(probs);
    seqlm_classify_encoded_free(&enc);
    return rc;
}

static seqlm_classifier *load_model(const char *path, const char *elmo, seqlm_error *err) {
    if (cli_is_safetensors(path) == 0) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT,
                        "%s: not a seqlm classifier (not a safetensors model file)", path);
        return NULL;
    }
    return seqlm_classifier_load_ex(path, elmo, NULL, err);
}

static int do_eval(opts *o) {
    const char *cmd = "classify eval";
    if (!o->model) return cli_usage(cmd, "missing -m MODEL");
    if (!o->n_files && !o->n_label_files)
        return cli_usage(cmd, "no data to evaluate (FILE arguments or --label-file)");
    seqlm_error err;
    seqlm_classifier *m = load_model(o->model, o->elmo, &err);
    if (!m) return cli_fail_text(&err, NULL);
    seqlm_classify_data *d = seqlm_classify_data_create();
    int rc = 0;
    if (!d) {
        rc = cli_fail("out of memory");
    } else if (read_inputs(o, 1, o->files, o->n_files, d, &err) != SEQLM_OK) {
        rc = cli_fail_text(&err, NULL);
    } else if (d->n == 0) {
        rc = cli_fail("no sentences to evaluate in the input");
    } else {
        seqlm_classify_metrics mt;
        double speed;
        seqlm_set_threads(o->tc.threads);
        rc = evaluate(m, d, o->tc.eval_batch, &mt, &speed);
        if (!rc) {
            const char *const *labels;
            seqlm_classifier_labels(m, &labels);
            print_metrics(&mt, labels, o->json, speed);
            if (!o->quiet) fprintf(stderr, "seqlm: %.0f sentences/s\n", speed);
            seqlm_classify_metrics_free(&mt);
        }
    }
    seqlm_classify_data_free(d);
    seqlm_classifier_free(m);
    return rc;
}

static int do_predict(opts *o) {
    const char *cmd = "classify predict";
    if (!o->model) return cli_usage(cmd, "missing -m MODEL");
    if (!o->format_set) o->format = SEQLM_CLS_FORMAT_TEXT;
    if (!o->n_files && !o->n_label_files) o->files[o->n_files++] = "-";
    seqlm_error err;
    seqlm_classifier *m = load_model(o->model, o->elmo, &err);
    if (!m) return cli_fail_text(&err, NULL);
    seqlm_classify_data *d = seqlm_classify_data_create();
    int rc = 0;
    float *probs = NULL;
    double speed = NAN;
    if (!d) {
        rc = cli_fail("out of memory");
    } else if (read_inputs(o, 1, o->files, o->n_files, d, &err) != SEQLM_OK) {
        rc = cli_fail_text(&err, NULL);
    } else {
        seqlm_set_threads(o->tc.threads);
        rc = predict_all(m, d, o->tc.eval_batch, &probs, &speed);
    }
    if (!rc) {
        const char *const *labels;
        int C = (int)seqlm_classifier_labels(m, &labels);
        if (o->header) {
            printf("label");
            for (int c = 0; c < C; c++) printf("\t%s", labels[c]);
            printf("\n");
        }
        for (size_t i = 0; i < d->n; i++) {
            const float *p = probs + i * C;
            printf("%s", labels[argmax(p, C)]);
            for (int c = 0; c < C; c++) printf("\t%.6f", (double)p[c]);
            printf("\n");
        }
        if (fflush(stdout) || ferror(stdout)) rc = cli_fail("cannot write the predictions");
        if (!o->quiet && d->n)
            fprintf(stderr, "seqlm: %zu sentences, %.0f sentences/s\n", d->n, speed);
    }
    free(probs);
    seqlm_classify_data_free(d);
    seqlm_classifier_free(m);
    return rc;
}

static int do_cv(opts *o) {
    const char *cmd = "classify cv";
    if (!o->n_files && !o->n_label_files)
        return cli_usage(cmd, "no data (FILE arguments or --label-file)");
    if (o->valid)
        return cli_usage(cmd, "--valid is for train; cv holds out --heldout of each fold");
    if (o->split_id) return cli_usage(cmd, "--split-by-id is for train and eval, not cv");
    if (o->output) return cli_usage(cmd, "cv writes no model (-o is for train)");
    if (!o->heldout_set) o->heldout = 0.1;
    if (o->tc.log_path && cli_check_output(o->tc.log_path)) return EXIT_INPUT;
    int K = o->folds, N = o->fold_limit && o->fold_limit < K ? o->fold_limit : K;
    seqlm_error err;
    seqlm_classify_data *all = seqlm_classify_data_create();
    if (!all) return cli_fail("out of memory");
    int rc = 0;
    if (read_inputs(o, 0, o->files, o->n_files, all, &err) != SEQLM_OK) {
        rc = cli_fail_text(&err, NULL);
        seqlm_classify_data_free(all);
        return rc;
    }
    if (o->tc.log_path) {
        FILE *f = fopen(o->tc.log_path, "w");
        if (f) fclose(f);
    }
    cli_catch_signals();
    double *acc = calloc((size_t)N, sizeof *acc), *f1 = calloc((size_t)N, sizeof *f1);
    double *tsp = calloc((size_t)N, sizeof *tsp), *psp = calloc((size_t)N, sizeof *psp);
    size_t *ntest = calloc((size_t)N, sizeof *ntest);
    progress prog = {o->quiet, isatty(2), 0};
    if (!acc || !f1 || !tsp || !psp || !ntest) rc = cli_fail("out of memory");
    for (int k = 0; k < N && !rc; k++) {
        seqlm_classify_data *train = seqlm_classify_data_create(),
                            *test = seqlm_classify_data_create(),
                            *held = seqlm_classify_data_create();
        seqlm_classifier *m = NULL;
        seqlm_classify_train_result res;
        seqlm_classify_metrics mt;
        if (!train || !test || !held)
            rc = cli_fail("out of memory");
        else if (seqlm_classify_data_fold(all, K, k, train, test, &err) != SEQLM_OK ||
                 (o->heldout > 0 &&
                  seqlm_classify_data_holdout(train, o->heldout, o->tc.seed + (uint64_t)k, held,
                                              &err) != SEQLM_OK))
            rc = cli_fail_text(&err, NULL);
        else if (test->n == 0)
            rc = cli_fail("fold %d of %d is empty (fewer records than folds)", k + 1, K);
        if (!rc) {
            o->tc.fold = k;
            o->tc.output_path = NULL;
            m = train_one(o, train, held, &prog, &res, &err);
            clear_line(&prog);
            if (!m) rc = cli_fail_text(&err, NULL);
        }
        if (!rc) rc = evaluate(m, test, o->tc.eval_batch, &mt, &psp[k]);
        if (!rc) {
            acc[k] = mt.accuracy;
            f1[k] = mt.macro_f1;
            tsp[k] = res.train_sents_per_s;
            ntest[k] = test->n;
            seqlm_classify_metrics_free(&mt);
            if (!o->json)
                printf("fold %d/%d: accuracy %.4f macro-F1 %.4f (%zu test sentences; best epoch "
                       "%d of %d; %.0f train sent/s, %.0f predict sent/s)\n",
                       k + 1, K, acc[k], f1[k], test->n, res.best_epoch, res.epochs, tsp[k],
                       psp[k]);
            fflush(stdout);
        }
        seqlm_classifier_free(m);
        seqlm_classify_data_free(train);
        seqlm_classify_data_free(test);
        seqlm_classify_data_free(held);
    }
    if (!rc) {
        double mean = 0, var = 0, mf1 = 0, mt_ = 0, mp = 0;
        for (int k = 0; k < N; k++) {
            mean += acc[k] / N;
            mf1 += f1[k] / N;
            mt_ += tsp[k] / N;
            mp += psp[k] / N;
        }
        for (int k = 0; k < N; k++) var += (acc[k] - mean) * (acc[k] - mean);
        double sd = N > 1 ? sqrt(var / (N - 1)) : 0;
        if (o->json) {
            printf("{\"folds\": %d, \"folds_run\": %d, \"accuracy\": [", K, N);
            for (int k = 0; k < N; k++) printf("%s%.6f", k ? ", " : "", acc[k]);
            printf("], \"macro_f1\": [");
            for (int k = 0; k < N; k++) printf("%s%.6f", k ? ", " : "", f1[k]);
            printf("], \"test_sentences\": [");
            for (int k = 0; k < N; k++) printf("%s%zu", k ? ", " : "", ntest[k]);
            printf("], \"mean_accuracy\": %.6f, \"std_accuracy\": %.6f, \"mean_macro_f1\": %.6f, "
                   "\"train_sents_per_s\": %.1f, \"predict_sents_per_s\": %.1f}\n",
                   mean, sd, mf1, mt_, mp);
        } else {
            printf("mean accuracy %.4f (std %.4f) macro-F1 %.4f over %d of %d folds; %.0f train "
                   "sent/s, %.0f predict sent/s\n",
                   mean, sd, mf1, N, K, mt_, mp);
        }
    }
    free(acc);
    free(f1);
    free(tsp);
    free(psp);
    free(ntest);
    seqlm_classify_data_free(all);
    return rc;
}

/* Options of train and cv alone: the model's settings and the training's (not --threads,
 * --encoding, --valid or --elmo, which eval and predict take too). */
static int train_only(int c) {
    if (c >= CLI_O_OPTIMIZER)
        return c != CLI_O_THREADS && c != CLI_O_ENCODING && c != CLI_O_VALID && c != CLI_O_ELMO;
    return (c >= O_ARCH && c <= O_POOL) || c == 'u';
}

int cmd_classify(int argc, char **argv) {
    static const struct option own[] = {{"label-file", required_argument, 0, O_LABELFILE},
                                        {"format", required_argument, 0, O_FORMAT},
                                        {"allow-empty", no_argument, 0, O_ALLOWEMPTY},
                                        {"split-by-id", required_argument, 0, O_SPLITID},
                                        {"heldout", required_argument, 0, O_HELDOUT},
                                        {"arch", required_argument, 0, O_ARCH},
                                        {"unidirectional", no_argument, 0, O_UNIDIR},
                                        {"bidirectional", no_argument, 0, O_BIDIR},
                                        {"pool", required_argument, 0, O_POOL},
                                        {"unit", required_argument, 0, 'u'},
                                        {"eval-batch", required_argument, 0, O_EVALBATCH},
                                        {"time-limit", required_argument, 0, CLI_O_MAX_TIME},
                                        {"folds", required_argument, 0, O_FOLDS},
                                        {"fold-limit", required_argument, 0, O_FOLDLIMIT},
                                        {"json", no_argument, 0, O_JSON},
                                        {"header", no_argument, 0, O_HEADER},
                                        {"output", required_argument, 0, 'o'},
                                        {"model", required_argument, 0, 'm'},
                                        {"quiet", no_argument, 0, 'q'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(classify_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    opts o;
    memset(&o, 0, sizeof o);
    o.sub = argv[1];
    if (strcmp(o.sub, "train") && strcmp(o.sub, "eval") && strcmp(o.sub, "predict") &&
        strcmp(o.sub, "cv"))
        return cli_usage("classify", "unknown subcommand '%s' (train, eval, predict, cv)", o.sub);
    char cmd[32];
    snprintf(cmd, sizeof cmd, "classify %s", o.sub);
    int training = strcmp(o.sub, "train") == 0 || strcmp(o.sub, "cv") == 0;
    o.mc = seqlm_classify_default_config();
    o.tc = seqlm_classify_train_default_config();
    o.min_count = 2;
    o.folds = 10;
    o.t = (cli_train_opts){.optim = &o.tc.optim,
                           .weight_decay = 1,
                           .clip = &o.tc.clip,
                           .epochs = &o.tc.epochs,
                           .patience = &o.tc.patience,
                           .max_time = &o.tc.max_time,
                           .seed = &o.tc.seed,
                           .threads = &o.tc.threads,
                           .batch = &o.tc.batch,
                           .batch_max = 1 << 16,
                           .log_path = &o.tc.log_path,
                           .log_interval = &o.tc.log_interval,
                           .valid_path = &o.valid,
                           .encoding = &o.encoding,
                           .layers = &o.mc.layers,
                           .hidden = &o.mc.hidden,
                           .embedding = &o.mc.embedding,
                           .size_max = 1 << 16,
                           .dropout = &o.mc.dropout,
                           .min_count = &o.min_count,
                           .lower = &o.mc.lower,
                           .elmo = &o.elmo,
                           .char_dim = &o.mc.char_dim,
                           .char_hidden = &o.mc.char_hidden,
                           .max_word_chars = &o.mc.max_word_chars};
    struct option lopts[64];
    cli_train_table(lopts, sizeof lopts / sizeof *lopts, &o.t, own);
    argc--;
    argv++;
    optind = 1;
    int c;
    long long v;
    double d;
    while ((c = cli_getopt(argc, argv, ":o:m:u:qh", lopts, cmd)) != -1) {
        if (train_only(c)) o.model_flag = c;
        switch (c) {
        case O_LABELFILE: {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1] || (size_t)(eq - optarg) >= 256)
                return cli_usage(cmd, "--label-file wants LABEL=FILE, not '%s'", optarg);
            if (memchr(optarg, '\t', (size_t)(eq - optarg)))
                return cli_usage(cmd, "--label-file: a label cannot hold a tab");
            if (o.n_label_files == MAX_LABEL_FILES)
                return cli_usage(cmd, "at most %d --label-file options", MAX_LABEL_FILES);
            o.label_files[o.n_label_files++] = optarg;
            break;
        }
        case O_FORMAT:
            if (seqlm_cls_format_parse(optarg, &o.format))
                return cli_usage(cmd, "unknown --format '%s' (tsv, nsmc, text)", optarg);
            o.format_set = 1;
            break;
        case O_ALLOWEMPTY:
            o.allow_empty = 1;
            break;
        case O_SPLITID:
            if (cli_int(optarg, 2, INT32_MAX, &v))
                return cli_usage(cmd, "--split-by-id must be an integer >= 2, not '%s'", optarg);
            o.split_id = (int)v;
            break;
        case O_HELDOUT:
            if (cli_double(optarg, 0, 0.9, &d))
                return cli_usage(cmd, "--heldout must be a fraction in [0, 0.9], not '%s'", optarg);
            o.heldout = d;
            o.heldout_set = 1;
            break;
        case O_ARCH:
            if (seqlm_cell_parse(optarg, &o.mc.cell))
                return cli_usage(cmd, "unknown --arch '%s' (lstm, gru, rnn-tanh, rnn-relu)",
                                 optarg);
            break;
        case O_UNIDIR:
            o.mc.bidirectional = 0;
            break;
        case O_BIDIR:
            o.mc.bidirectional = 1;
            break;
        case O_POOL:
            if (seqlm_pool_parse(optarg, &o.mc.pool))
                return cli_usage(cmd, "unknown --pool '%s' (last, mean, max)", optarg);
            break;
        case 'u':
            if (cli_unit(cmd, optarg, &o.mc.unit)) return EXIT_USAGE;
            if (o.mc.unit == SEQLM_UNIT_BYTE)
                return cli_usage(cmd, "--unit must be word or char for classification");
            break;
        case O_EVALBATCH:
            if (cli_int_opt(cmd, "eval-batch", optarg, 1, 1 << 16, &o.tc.eval_batch))
                return EXIT_USAGE;
            break;
        case O_FOLDS:
            if (cli_int_opt(cmd, "folds", optarg, 2, 1000, &o.folds)) return EXIT_USAGE;
            break;
        case O_FOLDLIMIT:
            if (cli_int(optarg, 1, 1000, &v))
                return cli_usage(cmd, "--fold-limit must be an integer >= 1, not '%s'", optarg);
            o.fold_limit = (int)v;
            break;
        case O_JSON:
            o.json = 1;
            break;
        case O_HEADER:
            o.header = 1;
            break;
        case 'o':
            o.output = optarg;
            break;
        case 'm':
            o.model = optarg;
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'h':
            fputs(classify_help, stdout);
            return 0;
        default:
            if (cli_train_option(cmd, c, optarg, &o.t)) return EXIT_USAGE;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (o.n_files == (int)(sizeof o.files / sizeof *o.files))
            return cli_usage(cmd, "too many input files");
        o.files[o.n_files++] = argv[i];
    }
    if (!training && o.model_flag)
        return cli_usage(cmd, "--%s is for train and cv (the model file holds its settings)",
                         cli_option_name(lopts, o.model_flag));
    if (!training && (o.valid || o.heldout_set))
        return cli_usage(cmd, "--valid and --heldout are for train");
    if (strcmp(o.sub, "cv") && (o.folds != 10 || o.fold_limit))
        return cli_usage(cmd, "--folds and --fold-limit are for cv");
    if (training && o.model) return cli_usage(cmd, "-m is for eval and predict (train writes -o)");
    if (!training && o.output) return cli_usage(cmd, "-o is for train");
    if (o.json && strcmp(o.sub, "eval") && strcmp(o.sub, "cv"))
        return cli_usage(cmd, "--json is for eval and cv");
    if (o.header && strcmp(o.sub, "predict")) return cli_usage(cmd, "--header is for predict");
    if (o.split_id && o.format_set && o.format != SEQLM_CLS_FORMAT_NSMC)
        return cli_usage(cmd, "--split-by-id needs NSMC input (ids)");
    if (o.mc.char_dim > 0 && o.mc.unit != SEQLM_UNIT_WORD)
        return cli_usage(cmd, "--char-dim is for --unit word: with --unit char the tokens are "
                              "characters already");
    if (cli_train_check(cmd, &o.t)) return EXIT_USAGE;
    if (training) o.mc.elmo = o.elmo;
    if (strcmp(o.sub, "train") == 0) return do_train(&o);
    if (strcmp(o.sub, "eval") == 0) return do_eval(&o);
    if (strcmp(o.sub, "predict") == 0) return do_predict(&o);
    return do_cv(&o);
}
