/* cmd_tag.c - `seqlm tag train|eval|predict`: options to a tagger, progress, conlleval output.
 * The reader, the model, the loop and the scoring are the library's (seqlm/tag.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char tag_help[] =
    "usage: seqlm tag train --train FILE [--valid FILE] -o MODEL [options]\n"
    "       seqlm tag eval -m MODEL FILE [--json]\n"
    "       seqlm tag predict -m MODEL FILE [-o OUT]\n"
    "\n"
    "Sequence tagging (part of speech, named entities) with a BiLSTM over word embeddings and,\n"
    "optionally, a character BiLSTM per word (Lample et al. 2016), then a softmax per token or a\n"
    "linear-chain CRF decoded with Viterbi.\n"
    "\n"
    "Input: one token a line, columns separated by spaces or tabs, the token first and the tag\n"
    "in the last column (CoNLL files; TOKEN<TAB>TAG files are the 2-column case); a blank line\n"
    "between sentences; -DOCSTART- lines are dropped. Plain or gzip; UTF-8 unless --encoding\n"
    "(every subcommand) names another: --encoding CP1252, EUC-KR, LATIN1, ... (iconv names)\n"
    "converts the files to UTF-8 as they are read.\n"
    "\n"
    "train\n"
    "      --train FILE       tagged training data\n"
    "      --valid FILE       tagged validation data: picks the best epoch, early stopping\n"
    "  -o, --output MODEL     the model file (safetensors), written each time valid improves\n"
    "      --column N         the tag column, 1-based (default: the last)\n"
    "      --embedding N      word embedding size (default 100)\n"
    "      --min-count C      words seen fewer than C times in train are <unk> (default 2)\n"
    "      --lower            lower-case words (ASCII) before the vocabulary lookup\n"
    "      --zero-digits      map every digit (0-9) to 0 in words and characters, before the\n"
    "                         lookups (kept in the model: eval and predict do the same)\n"
    "      --char-dim N       character embedding size; 0 = no character features (default)\n"
    "      --char-hidden N    character BiLSTM units per direction (default 25)\n"
    "      --max-word-chars N the longest word the character BiLSTM reads: a longer one gives\n"
    "                         its first N/2 and last N - N/2 characters (default 24, 2 to 4096;\n"
    "                         needs --char-dim; kept in the model)\n"
    "      --hidden N         sentence BiLSTM units per direction (default 200)\n"
    "      --layers N         sentence BiLSTM layers (default 1)\n"
    "      --dropout P        on the BiLSTM's input and output (default 0.5)\n"
    "      --crf              a linear-chain CRF on top (default: softmax per token)\n"
    "      --elmo ELMO        add the learned scalar mix of the layers of an ELMo model (seqlm\n"
    "                         elmo train, unit word; frozen) to each token's input; the model\n"
    "                         records its path and fingerprint (docs/elmo.md)\n"
    "      --metric M         model selection: accuracy or f1 (entity F1, conlleval); default\n"
    "                         f1 when the tags are BIO/IOB2 (O, B-X, I-X), else accuracy\n"
    "      --batch N          sentences per batch (default 32)\n"
    "      --optimizer O      adam (default), sgd, adagrad, rmsprop, adamw, nadam\n"
    "      --lr R             learning rate (default: the optimiser's PyTorch default)\n"
    "      --clip C           clip the gradient norm at C, 0 = never (default 5)\n"
    "      --lr-decay D       epoch e uses lr / (1 + D (e - 1)) (default 0: constant)\n"
    "      --unk-replace P    singleton replacement: a word seen once in --train becomes <unk>\n"
    "                         with probability P each time it is trained on (default 0; Lample\n"
    "                         et al. use 0.5 with --min-count 1); its characters are kept\n"
    "      --epochs N         passes over the training data (default 20)\n"
    "      --patience N       stop after N epochs without a better valid score (default 5,\n"
    "                         0 = never)\n"
    "      --max-time S       stop after S seconds, validating the part of the epoch done\n"
    "                         (default: no limit)\n"
    "      --seed N           initialisation, batches and dropout (default 1)\n"
    "      --threads N        threads (default: all cores); the same seed and threads give\n"
    "                         the same model, bit for bit\n"
    "      --log FILE         JSON lines: one object per progress event\n"
    "      --log-interval S   seconds between progress lines (default 5)\n"
    "  -q, --quiet            no progress on stderr\n"
    "eval\n"
    "  -m, --model MODEL      a model from seqlm tag train\n"
    "      --column N         the gold tag column (default: the model's)\n"
    "      --encoding NAME    the file's encoding (default UTF-8), as for train\n"
    "      --json             one JSON object instead of conlleval's report\n"
    "      --batch N          sentences per batch (default 64)\n"
    "      --threads N        threads\n"
    "      --elmo ELMO        where the model's ELMo model is now (default: the path it\n"
    "                         records; it must be the same file: its fingerprint is checked)\n"
    "  -q, --quiet            no speed line on stderr\n"
    "  Prints token accuracy and, for BIO tags, chunk precision, recall and F1 overall and per\n"
    "  type exactly as conlleval.pl (sentence boundaries read as O). Gold tags the model never\n"
    "  saw count as errors (a warning names the first). On stderr: sentences tagged per second\n"
    "  (the tagging alone, not reading the model or the file).\n"
    "predict\n"
    "  -m, --model MODEL      a model from seqlm tag train\n"
    "  -o, --output OUT       where to write (default: standard output)\n"
    "      --batch N, --threads N, --encoding NAME, --elmo ELMO, -q   as for eval\n"
    "  Writes every input line with the predicted tag appended as a new last column (separated\n"
    "  by a tab if the line has one, else a space), blank lines between sentences.\n"
    "\n"
    "example: seqlm tag train --train train.txt --valid valid.txt --crf --char-dim 25 \\\n"
    "             --hidden 100 -o ner.safetensors\n"
    "         seqlm tag eval -m ner.safetensors test.txt\n";

/* ---- progress ------------------------------------------------------------------------------ */

typedef struct {
    int quiet, tty, shown, f1;
} progress;

static void clear_line(progress *p) {
    cli_clear_line(p->tty, &p->shown);
}

static void on_event(void *ctx, const char *event, const double *v) {
    progress *p = ctx;
    if (p->quiet) return;
    char eta[16];
    cli_fmt_time(eta, sizeof eta, v[SEQLM_TAGEV_ETA]);
    if (strcmp(event, "interval") == 0) {
        char line[200];
        snprintf(line, sizeof line,
                 "seqlm: epoch %d %5.1f%% | %.0f sent/s | loss %.4f | grad %.3g | ETA %s",
                 (int)v[SEQLM_TAGEV_EPOCH], 100 * v[SEQLM_TAGEV_PROGRESS], v[SEQLM_TAGEV_SENT_S],
                 v[SEQLM_TAGEV_LOSS], v[SEQLM_TAGEV_GRAD], eta);
        if (p->tty)
            fprintf(stderr, "\r%-100s", line);
        else
            fprintf(stderr, "%s\n", line);
        p->shown = 1;
    } else if (strcmp(event, "epoch") == 0) {
        clear_line(p);
        char valid[64] = "";
        if (isfinite(v[SEQLM_TAGEV_VALID]))
            snprintf(valid, sizeof valid, " | valid %s %.2f%s", p->f1 ? "F1" : "accuracy",
                     v[SEQLM_TAGEV_VALID],
                     v[SEQLM_TAGEV_BEST] == v[SEQLM_TAGEV_EPOCH] ? " (best)" : "");
        char done[64] = "done";
        if (v[SEQLM_TAGEV_PROGRESS] < 1)
            snprintf(done, sizeof done, "stopped by --max-time at %.1f%%",
                     100 * v[SEQLM_TAGEV_PROGRESS]);
        fprintf(stderr, "seqlm: epoch %d %s | train loss %.4f%s | %.0f sent/s | %.0fs elapsed\n",
                (int)v[SEQLM_TAGEV_EPOCH], done, v[SEQLM_TAGEV_LOSS], valid, v[SEQLM_TAGEV_SENT_S],
                v[SEQLM_TAGEV_ELAPSED]);
    } else if (strcmp(event, "end") == 0) {
        clear_line(p);
    }
}

/* ---- shared --------------------------------------------------------------------------------- */

enum {
    O_COLUMN = 256,
    O_EMB,
    O_MINCOUNT,
    O_HIDDEN,
    O_CRF,
    O_METRIC,
    O_JSON,
    O_ZERODIGITS,
    O_UNKREPLACE,
    O_LRDECAY
};

/* Warns once about the first gold tag the model does not know. */
static void warn_unknown_tags(const seqlm_tagger *m, const seqlm_tag_corpus *c) {
    char *known = calloc(c->n_tags ? c->n_tags : 1, 1);
    if (!known) return;
    for (size_t t = 0; t < c->n_tags; t++)
        for (size_t k = 0; k < seqlm_tagger_n_tags(m) && !known[t]; k++)
            known[t] = strcmp(seqlm_tagger_tag_name(m, (int32_t)k), c->tag_names[t]) == 0;
    size_t count = 0, first = SIZE_MAX;
    for (size_t i = 0; i < c->n_tok; i++)
        if (!known[c->tag[i]]) {
            count++;
            if (first == SIZE_MAX) first = i;
        }
    free(known);
    if (count)
        fprintf(stderr,
                "seqlm: warning: %s:%llu: tag '%s' was not seen in training; %zu such "
                "token(s) are counted as errors\n",
                c->path, (unsigned long long)c->line[first], c->tag_names[c->tag[first]], count);
}

/* ---- train ---------------------------------------------------------------------------------- */

static int tag_train(int argc, char **argv) {
    static const struct option own[] = {{"output", required_argument, 0, 'o'},
                                        {"column", required_argument, 0, O_COLUMN},
                                        {"embedding", required_argument, 0, O_EMB},
                                        {"min-count", required_argument, 0, O_MINCOUNT},
                                        {"hidden", required_argument, 0, O_HIDDEN},
                                        {"crf", no_argument, 0, O_CRF},
                                        {"metric", required_argument, 0, O_METRIC},
                                        {"zero-digits", no_argument, 0, O_ZERODIGITS},
                                        {"unk-replace", required_argument, 0, O_UNKREPLACE},
                                        {"lr-decay", required_argument, 0, O_LRDECAY},
                                        {"quiet", no_argument, 0, 'q'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    const char *cmd = "tag train";
    seqlm_tagger_config mc = seqlm_tagger_default_config();
    seqlm_tag_train_config tc = seqlm_tag_train_default_config();
    const char *train_path = NULL, *valid_path = NULL, *metric = NULL, *encoding = NULL;
    cli_train_opts t = {.optim = &tc.optim,
                        .clip = &tc.clip,
                        .epochs = &tc.epochs,
                        .patience = &tc.patience,
                        .max_time = &tc.max_time,
                        .seed = &tc.seed,
                        .threads = &tc.threads,
                        .batch = &tc.batch,
                        .batch_max = 1 << 16,
                        .log_path = &tc.log_path,
                        .log_interval = &tc.log_interval,
                        .train_path = &train_path,
                        .valid_path = &valid_path,
                        .encoding = &encoding,
                        .layers = &mc.layers,
                        .dropout = &mc.dropout,
                        .lower = &mc.lower,
                        .elmo = &mc.elmo,
                        .char_dim = &mc.char_dim,
                        .char_hidden = &mc.char_hidden,
                        .max_word_chars = &mc.max_word_chars};
    struct option opts[64];
    cli_train_table(opts, sizeof opts / sizeof *opts, &t, own);
    int quiet = 0, c;
    double d;
    while ((c = cli_getopt(argc, argv, ":o:qh", opts, cmd)) != -1) {
        switch (c) {
        case 'o':
            tc.output_path = optarg;
            break;
        case O_COLUMN:
            if (cli_int_opt(cmd, "column", optarg, 2, 64, &mc.tag_column)) return EXIT_USAGE;
            break;
        case O_EMB:
            if (cli_int_opt(cmd, "embedding", optarg, 1, 1 << 16, &mc.embedding)) return EXIT_USAGE;
            break;
        case O_MINCOUNT:
            if (cli_int_opt(cmd, "min-count", optarg, 1, 1 << 30, &mc.min_count)) return EXIT_USAGE;
            break;
        case O_HIDDEN:
            if (cli_int_opt(cmd, "hidden", optarg, 1, 1 << 14, &mc.hidden)) return EXIT_USAGE;
            break;
        case O_CRF:
            mc.crf = 1;
            break;
        case O_METRIC:
            if (strcmp(optarg, "accuracy") && strcmp(optarg, "f1"))
                return cli_usage(cmd, "--metric must be accuracy or f1, not '%s'", optarg);
            metric = optarg;
            break;
        case O_ZERODIGITS:
            mc.zero_digits = 1;
            break;
        case O_UNKREPLACE:
            if (cli_double(optarg, 0, 1, &d))
                return cli_usage(cmd, "--unk-replace must be a probability in [0, 1], not '%s'",
                                 optarg);
            tc.unk_replace = (float)d;
            break;
        case O_LRDECAY: /* Lample's decay rate, not train's divisor */
            if (cli_double(optarg, 0, 1e6, &d))
                return cli_usage(cmd, "--lr-decay must be a number >= 0, not '%s'", optarg);
            tc.lr_decay = (float)d;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(tag_help, stdout);
            return 0;
        default:
            if (cli_train_option(cmd, c, optarg, &t)) return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage(cmd, "unexpected argument '%s' (the data goes after --train)",
                         argv[optind]);
    if (!train_path) return cli_usage(cmd, "missing --train FILE");
    if (!tc.output_path) return cli_usage(cmd, "missing -o MODEL");
    if (cli_train_check(cmd, &t)) return EXIT_USAGE;
    if (cli_check_output(tc.output_path)) return EXIT_INPUT;
    if (tc.log_path && cli_check_output(tc.log_path)) return EXIT_INPUT;
    if (tc.threads > 0) seqlm_set_threads(tc.threads);

    seqlm_error err;
    double t0 = cli_now();
    seqlm_tag_corpus *tr =
        seqlm_tag_corpus_read_encoding(train_path, mc.tag_column, 1, encoding, &err);
    if (!tr) return cli_fail_text(&err, encoding);
    seqlm_tag_corpus *va = NULL;
    if (valid_path &&
        !(va = seqlm_tag_corpus_read_encoding(valid_path, mc.tag_column, 1, encoding, &err))) {
        seqlm_tag_corpus_free(tr);
        return cli_fail_text(&err, encoding);
    }
    if (tr->n_tok == 0) {
        seqlm_tag_corpus_free(tr);
        seqlm_tag_corpus_free(va);
        return cli_fail("%s: no tokens", train_path);
    }
    int bio = seqlm_tags_are_bio((const char *const *)tr->tag_names, tr->n_tags);
    if (metric && strcmp(metric, "f1") == 0 && !bio) {
        seqlm_tag_corpus_free(tr);
        seqlm_tag_corpus_free(va);
        return cli_usage(cmd, "--metric f1 needs BIO tags (O, B-X, I-X); %s has others",
                         train_path);
    }
    mc.metric_f1 = metric ? strcmp(metric, "f1") == 0 : bio;
    seqlm_tagger *m = seqlm_tagger_create_from(&mc, tr, &err);
    if (!m) {
        seqlm_tag_corpus_free(tr);
        seqlm_tag_corpus_free(va);
        return cli_fail_err(&err);
    }
    seqlm_rng rng;
    seqlm_rng_seed(&rng, tc.seed);
    seqlm_tagger_reset(m, &rng);
    progress prog = {quiet, isatty(2), 0, mc.metric_f1};
    if (!quiet) {
        fprintf(stderr,
                "seqlm: %zu sentences, %zu tokens; %zu tags%s; vocabulary %zu words (min count "
                "%d%s%s)%s\n",
                tr->n_sent, tr->n_tok, seqlm_tagger_n_tags(m), bio ? " (BIO)" : "",
                seqlm_tagger_n_words(m), mc.min_count, mc.lower ? ", lower" : "",
                mc.zero_digits ? ", digits as 0" : "",
                va ? "" : "; no --valid: the last epoch's model is kept");
        char chars[64] = "", decay[48] = "", unk[48] = "";
        if (tc.lr_decay > 0)
            snprintf(decay, sizeof decay, " / (1 + %g (epoch - 1))", (double)tc.lr_decay);
        if (tc.unk_replace > 0)
            snprintf(unk, sizeof unk, ", singletons <unk> with p %g", (double)tc.unk_replace);
        if (mc.char_dim)
            snprintf(chars, sizeof chars, ", char BiLSTM %dx2 (%zu chars, dim %d)", mc.char_hidden,
                     seqlm_tagger_n_chars(m), mc.char_dim);
        fprintf(stderr,
                "seqlm: embedding %d%s, BiLSTM %dx%dx2, dropout %g, %s; %zu parameters; %s lr "
                "%g%s, batch %d, clip %g%s; selection by %s\n",
                mc.embedding, chars, mc.layers, mc.hidden, (double)mc.dropout,
                mc.crf ? "CRF" : "softmax", seqlm_params_total(seqlm_tagger_params(m)),
                seqlm_optim_name(tc.optim.kind), (double)tc.optim.lr, decay, tc.batch,
                (double)tc.clip, unk, mc.metric_f1 ? "entity F1" : "token accuracy");
        if (mc.elmo)
            fprintf(stderr, "seqlm: ELMo %s: the mix of its layers joins the input (%d values)\n",
                    seqlm_tagger_config_of(m)->elmo, seqlm_tagger_config_of(m)->extra_dim);
    }
    tc.on_event = on_event;
    tc.event_ctx = &prog;
    cli_catch_signals();
    seqlm_status st = seqlm_tag_train(m, tr, va, &tc, &err);
    clear_line(&prog);
    int rc = 0;
    if (st != SEQLM_OK)
        rc = cli_fail_err(&err);
    else if (!quiet)
        fprintf(stderr, "seqlm: %s written; %.1f s\n", tc.output_path, cli_now() - t0);
    seqlm_tagger_free(m);
    seqlm_tag_corpus_free(tr);
    seqlm_tag_corpus_free(va);
    return rc;
}

/* ---- eval and predict ----------------------------------------------------------------------- */

static void print_conlleval(const seqlm_conlleval *e, uint64_t tokens, uint64_t correct_tags) {
    double p, r, f;
    seqlm_conlleval_prf(e->correct, e->gold, e->guessed, &p, &r, &f);
    printf("processed %llu tokens with %llu phrases; found: %llu phrases; correct: %llu.\n",
           (unsigned long long)tokens, (unsigned long long)e->gold, (unsigned long long)e->guessed,
           (unsigned long long)e->correct);
    if (tokens)
        printf("accuracy: %6.2f%%; precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f\n",
               100.0 * (double)correct_tags / (double)tokens, p, r, f);
    for (size_t i = 0; i < e->n_types; i++) {
        const seqlm_chunk_type *t = &e->types[i];
        seqlm_conlleval_prf(t->correct, t->gold, t->guessed, &p, &r, &f);
        printf("%17s: precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f  %llu\n", t->type, p, r, f,
               (unsigned long long)t->guessed);
    }
}

static void json_prf(const char *key, uint64_t c, uint64_t g, uint64_t q, int comma) {
    double p, r, f;
    seqlm_conlleval_prf(c, g, q, &p, &r, &f);
    printf("\"%s\":{\"precision\":%.4f,\"recall\":%.4f,\"f1\":%.4f,\"correct\":%llu,\"gold\":%llu,"
           "\"found\":%llu}%s",
           key, p, r, f, (unsigned long long)c, (unsigned long long)g, (unsigned long long)q,
           comma ? "," : "");
}

static int tag_apply(int argc, char **argv, int eval) {
    static const struct option own[] = {{"model", required_argument, 0, 'm'},
                                        {"output", required_argument, 0, 'o'},
                                        {"column", required_argument, 0, O_COLUMN},
                                        {"json", no_argument, 0, O_JSON},
                                        {"quiet", no_argument, 0, 'q'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    const char *cmd = eval ? "tag eval" : "tag predict";
    const char *model_path = NULL, *out_path = NULL, *elmo = NULL, *encoding = NULL;
    int json = 0, batch = 64, threads = 0, column = -1, quiet = 0, c;
    cli_train_opts t = {.batch = &batch,
                        .batch_max = 1 << 16,
                        .threads = &threads,
                        .encoding = &encoding,
                        .elmo = &elmo};
    struct option opts[64];
    cli_train_table(opts, sizeof opts / sizeof *opts, &t, own);
    while ((c = cli_getopt(argc, argv, ":m:o:qh", opts, cmd)) != -1) {
        switch (c) {
        case 'q':
            quiet = 1;
            break;
        case 'm':
            model_path = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case O_COLUMN:
            if (cli_int_opt(cmd, "column", optarg, 2, 64, &column)) return EXIT_USAGE;
            break;
        case O_JSON:
            json = 1;
            break;
        case 'h':
            fputs(tag_help, stdout);
            return 0;
        default:
            if (cli_train_option(cmd, c, optarg, &t)) return EXIT_USAGE;
        }
    }
    if (!model_path) return cli_usage(cmd, "missing -m MODEL");
    if (optind + 1 != argc)
        return cli_usage(cmd, optind == argc ? "missing the input FILE" : "one input FILE only");
    if (eval && out_path) return cli_usage(cmd, "-o is for predict");
    if (!eval && json) return cli_usage(cmd, "--json is for eval");
    if (!eval && column >= 0) return cli_usage(cmd, "--column is for eval and train");
    const char *in_path = argv[optind];
    if (out_path && cli_check_output(out_path)) return EXIT_INPUT;
    if (threads > 0) seqlm_set_threads(threads);
    seqlm_error err;
    seqlm_tagger *m = seqlm_tagger_load_ex(model_path, elmo, &err);
    if (!m) return cli_fail_err(&err);
    if (column < 0) column = seqlm_tagger_config_of(m)->tag_column;
    seqlm_tag_corpus *cp = seqlm_tag_corpus_read_encoding(in_path, column, eval, encoding, &err);
    if (!cp) {
        seqlm_tagger_free(m);
        return cli_fail_text(&err, encoding);
    }
    int32_t *pred = malloc((cp->n_tok ? cp->n_tok : 1) * sizeof *pred);
    int rc = 0;
    if (!pred) {
        rc = cli_fail("out of memory");
        goto done;
    }
    double t0 = cli_now();
    if (seqlm_tagger_predict(m, cp, batch, pred, &err) != SEQLM_OK) {
        rc = cli_fail_err(&err);
        goto done;
    }
    double secs = cli_now() - t0;
    if (!quiet)
        fprintf(stderr, "seqlm: tagged %zu sentences (%zu tokens) in %.2f s: %.0f sentences/s\n",
                cp->n_sent, cp->n_tok, secs, secs > 0 ? (double)cp->n_sent / secs : 0.0);
    if (eval) {
        warn_unknown_tags(m, cp);
        int bio = seqlm_tags_are_bio((const char *const *)cp->tag_names, cp->n_tags) ||
                  seqlm_tagger_config_of(m)->metric_f1;
        seqlm_conlleval e;
        double acc = seqlm_tagger_score(m, cp, pred, &e);
        uint64_t ok = e.correct_tags;
        if (json) {
            printf("{\"file\":\"%s\",\"sentences\":%zu,\"tokens\":%zu,\"accuracy\":%.4f", in_path,
                   cp->n_sent, cp->n_tok, acc);
            if (bio) {
                printf(",");
                json_prf("overall", e.correct, e.gold, e.guessed, 1);
                printf("\"types\":{");
                for (size_t i = 0; i < e.n_types; i++)
                    json_prf(e.types[i].type, e.types[i].correct, e.types[i].gold,
                             e.types[i].guessed, i + 1 < e.n_types);
                printf("}");
            }
            printf("}\n");
        } else if (bio) {
            print_conlleval(&e, e.tokens, ok);
        } else {
            printf("processed %zu tokens in %zu sentences; accuracy: %6.2f%%\n", cp->n_tok,
                   cp->n_sent, acc);
        }
        seqlm_conlleval_free(&e);
    } else {
        if (seqlm_tag_write(m, cp, pred, out_path, &err) != SEQLM_OK) rc = cli_fail_err(&err);
    }
done:
    free(pred);
    seqlm_tag_corpus_free(cp);
    seqlm_tagger_free(m);
    return rc;
}

int cmd_tag(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(tag_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "train") == 0) return tag_train(argc - 1, argv + 1);
    if (strcmp(argv[1], "eval") == 0) return tag_apply(argc - 1, argv + 1, 1);
    if (strcmp(argv[1], "predict") == 0) return tag_apply(argc - 1, argv + 1, 0);
    return cli_usage("tag", "unknown subcommand '%s' (train, eval, predict)", argv[1]);
}
