/* cmd_elmo.c - `seqlm elmo train|embed`: options to the library's ELMo training and embedding
 * (seqlm/elmo.h), progress printing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char elmo_help[] =
    "usage: seqlm elmo train --train FILE -o ELMO [options]\n"
    "       seqlm elmo embed -m ELMO [-o OUT] [options] FILE\n"
    "\n"
    "ELMo-style contextual embeddings (Peters et al. 2018): a forward and a backward LSTM\n"
    "language model whose layers represent each token in its sentence. See docs/elmo.md.\n"
    "Run `seqlm elmo train --help` or `seqlm elmo embed --help` for the options.\n";

static const char train_help[] =
    "usage: seqlm elmo train --train FILE -o ELMO [options]\n"
    "\n"
    "Trains a forward LSTM language model on FILE (one sentence per line) and a backward one on\n"
    "the same lines with their tokens reversed, exactly as `seqlm train` trains a model, on one\n"
    "vocabulary, and writes both into one ELMo file (safetensors). Each direction has its own\n"
    "embedding, LSTM layers and softmax. The validation perplexity of each direction is printed.\n"
    "\n"
    "Data\n"
    "      --train FILE       training text (plain or gzip)\n"
    "      --valid FILE       validation text (read reversed for the backward model): picks\n"
    "                         each direction's best epoch, drives the schedule and early stopping\n"
    "  -o, --output ELMO      the ELMo file\n"
    "  -u, --unit U           word (default), char or byte\n"
    "      --min-count C      tokens seen fewer than C times become <unk> (default 1)\n"
    "      --max-vocab V      keep at most V vocabulary entries, most frequent first\n"
    "Model (each direction)\n"
    "      --layers N         LSTM layers (default 2)\n"
    "      --hidden N         units per layer (default 200)\n"
    "      --embedding N      must equal --hidden (the default), so every layer is 2H wide\n"
    "      --dropout P        dropout on embeddings, between layers and before the output\n"
    "                         (default 0)\n"
    "Training (each direction)\n"
    "      --batch N          parallel streams (default 20)\n"
    "      --bptt N           steps per window (default 35)\n"
    "      --optimizer O      sgd (default), adagrad, rmsprop, adam, adamw, nadam\n"
    "      --lr R             learning rate (default: sgd 20, otherwise the optimiser's default)\n"
    "      --clip C           clip the gradient norm at C, 0 = never (default 0.25)\n"
    "      --schedule S       plateau (default), step, constant, linear, cosine\n"
    "      --lr-decay D       divisor for plateau and step (default 4)\n"
    "      --epochs N         passes over the training text (default 40)\n"
    "      --patience N       stop after N epochs without a better validation loss (default 5)\n"
    "      --max-steps N      stop each direction after N updates\n"
    "      --max-time S       stop each direction after S seconds (the whole run takes up to 2S)\n"
    "      --seed N           the forward model's seed; the backward model uses N+1 (default 1)\n"
    "      --threads N        threads (default: all cores); the same seed and threads give the\n"
    "                         same model, bit for bit\n"
    "      --log FILE         JSON lines of both runs, each with \"direction\"\n"
    "      --log-interval S   seconds between progress lines (default 5)\n"
    "  -q, --quiet            no progress on stderr\n"
    "\n"
    "example: seqlm elmo train --train brown.train.txt --valid brown.valid.txt --min-count 3\n"
    "         --hidden 256 -o elmo.safetensors\n";

static const char embed_help[] =
    "usage: seqlm elmo embed -m ELMO [-o OUT] [options] FILE\n"
    "\n"
    "For every token of every line of FILE ('-': standard input; one sentence per line, tokens\n"
    "by the model's unit), the L+1 layers of the ELMo model: layer 0 the two token embeddings,\n"
    "then each LSTM layer's state, forward and backward concatenated (2H values). The forward\n"
    "LM reads </s> w1 .. wn, the backward LM </s> wn .. w1, each from a zero state. Tokens\n"
    "outside the vocabulary are <unk>; an empty line is an error.\n"
    "\n"
    "  -m, --model ELMO       the ELMo model (seqlm elmo train)\n"
    "  -o, --output OUT       safetensors: tensor \"sentence.N\" (line N+1) of shape (L+1, n, "
    "2H),\n"
    "                         or (n, 2H) with --average/--mix (see docs/elmo.md); tsv: the text\n"
    "                         (default: standard output)\n"
    "      --format F         safetensors (default) or tsv: per token and layer a line\n"
    "                         SENTENCE<TAB>POSITION<TAB>TOKEN<TAB>LAYER<TAB>v1 v2 ... (small "
    "inputs)\n"
    "      --average          the mean of the layers instead of every layer\n"
    "      --mix W0,W1,..[:G] G * sum_k Wk layer_k (L+1 weights, used as given; G default 1)\n"
    "      --batch N          sentences per batch (default 32); results do not depend on it\n"
    "                         beyond rounding\n"
    "      --threads N        threads (default: all cores)\n"
    "      --seed N           accepted for uniformity; embedding draws no random numbers\n"
    "  -q, --quiet            no progress on stderr\n"
    "\n"
    "example: seqlm elmo embed -m elmo.safetensors -o layers.safetensors sentences.txt\n";

/* ---- training progress (as `seqlm train` prints it) ---------------------------------------- */

typedef struct {
    int quiet, tty, shown;
    char header[256]; /* the run's summary, printed once the corpus has been read */
} progress;

static void clear_line(progress *p) {
    cli_clear_line(p->tty, &p->shown);
}

static void on_direction(void *ctx, int backward) {
    progress *p = ctx;
    if (p->quiet) return;
    clear_line(p);
    if (!backward) fputs(p->header, stderr);
    fprintf(stderr, "seqlm: the %s language model%s\n", backward ? "backward" : "forward",
            backward ? " (each line's tokens reversed)" : "");
}

static void on_event(void *ctx, const seqlm_train_event *e) {
    progress *p = ctx;
    if (p->quiet) return;
    if (strcmp(e->event, "start") == 0) {
        fprintf(stderr,
                "seqlm: %.2fM parameters, about %.1f MB for training; planned: %llu "
                "updates\n",
                (double)e->params / 1e6, (double)e->bytes / 1048576.0,
                (unsigned long long)e->steps_total);
    } else if (strcmp(e->event, "interval") == 0) {
        char line[200];
        snprintf(line, sizeof line,
                 "seqlm: epoch %d %5.1f%% | %.0f tok/s | loss %.3f ppl %.1f | lr %.3g | grad %.3g",
                 e->epoch, 100 * e->progress, e->tokens_per_s, e->loss, e->ppl, e->lr,
                 e->grad_norm);
        if (p->tty)
            fprintf(stderr, "\r%-100s", line);
        else
            fprintf(stderr, "%s\n", line);
        p->shown = 1;
    } else if (strcmp(e->event, "epoch") == 0) {
        clear_line(p);
        char valid[64] = "";
        if (isfinite(e->valid_loss))
            snprintf(valid, sizeof valid, " | valid ppl %.2f", e->valid_ppl);
        fprintf(stderr,
                "seqlm: epoch %d done | train ppl %.2f%s | lr %.3g | %.0f tok/s | %.0fs elapsed\n",
                e->epoch, e->ppl, valid, e->lr, e->tokens_per_s, e->elapsed);
    } else if (strcmp(e->event, "end") == 0) {
        clear_line(p);
    }
}

enum { O_FORMAT = 256, O_AVERAGE, O_MIX };

static int elmo_train(int argc, char **argv) {
    static const struct option own[] = {{"output", required_argument, 0, 'o'},
                                        {"unit", required_argument, 0, 'u'},
                                        {"quiet", no_argument, 0, 'q'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    const char *cmd = "elmo train";
    seqlm_elmo_train_config ec = seqlm_elmo_train_default_config();
    seqlm_lm_config *mc = &ec.lm;
    seqlm_train_config *tc = &ec.train;
    cli_train_opts t = cli_lm_train_opts(mc, tc, &ec.min_count, &ec.max_vocab);
    struct option opts[64];
    cli_train_table(opts, sizeof opts / sizeof *opts, &t, own);
    int quiet = 0, c;
    while ((c = cli_getopt(argc, argv, ":o:u:qh", opts, cmd)) != -1) {
        switch (c) {
        case 'o':
            tc->output_path = optarg;
            break;
        case 'u':
            if (cli_unit(cmd, optarg, &mc->unit)) return EXIT_USAGE;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(train_help, stdout);
            return 0;
        default:
            if (cli_train_option(cmd, c, optarg, &t)) return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cli_usage(cmd, "unexpected argument '%s' (the text goes after --train)",
                         argv[optind]);
    if (!tc->train_path) return cli_usage(cmd, "missing --train FILE");
    if (!tc->output_path) return cli_usage(cmd, "missing -o ELMO");
    int set_hidden = !!(t.given & CLI_GIVEN(CLI_O_HIDDEN)),
        set_emb = !!(t.given & CLI_GIVEN(CLI_O_EMBEDDING));
    if (set_hidden && !set_emb) mc->embedding = mc->hidden;
    if (set_emb && !set_hidden) mc->hidden = mc->embedding;
    if (mc->embedding != mc->hidden)
        return cli_usage(cmd,
                         "--embedding must equal --hidden (%d != %d), so that every layer is as "
                         "wide",
                         mc->embedding, mc->hidden);
    if (cli_check_output(tc->output_path)) return EXIT_INPUT;
    if (tc->log_path && cli_check_output(tc->log_path)) return EXIT_INPUT;

    progress prog = {quiet, isatty(2), 0, ""};
    snprintf(prog.header, sizeof prog.header,
             "seqlm: ELMo: 2 x lstm %dx%d%s (%s); %s lr %g, clip %g, %s schedule\n%s", mc->layers,
             mc->hidden, mc->dropout > 0 ? ", dropout" : "", seqlm_unit_name(mc->unit),
             seqlm_optim_name(tc->optim.kind), (double)tc->optim.lr, (double)tc->clip,
             seqlm_sched_name(tc->schedule),
             tc->valid_path ? ""
                            : "seqlm: no --valid: nothing held out; the last models are kept\n");
    tc->on_event = on_event;
    tc->event_ctx = &prog;
    tc->warn = cli_warn;
    ec.on_direction = on_direction;
    ec.direction_ctx = &prog;
    cli_catch_signals();
    double t0 = cli_now();
    seqlm_error err;
    seqlm_elmo_train_result res;
    seqlm_status st = seqlm_elmo_train(&ec, &res, &err);
    clear_line(&prog);
    if (st != SEQLM_OK) return cli_fail_err(&err);
    if (!quiet) {
        if (isfinite(res.valid_ppl[0]))
            fprintf(stderr,
                    "seqlm: %s: vocabulary %zu; valid ppl forward %.2f, backward %.2f; %.1f s\n",
                    tc->output_path, res.vocab, res.valid_ppl[0], res.valid_ppl[1], cli_now() - t0);
        else
            fprintf(stderr, "seqlm: %s written: vocabulary %zu; %.1f s\n", tc->output_path,
                    res.vocab, cli_now() - t0);
    }
    return 0;
}

/* "w0,w1,...[:gamma]" with exactly K weights. */
static int parse_mix(const char *s, int K, float *w, float *gamma) {
    char *end;
    const char *p = s;
    for (int k = 0; k < K; k++) {
        double x = strtod(p, &end);
        if (end == p || !isfinite(x)) return -1;
        w[k] = (float)x;
        p = end;
        if (k < K - 1) {
            if (*p != ',') return -1;
            p++;
        }
    }
    *gamma = 1.0f;
    if (*p == ':') {
        double g = strtod(p + 1, &end);
        if (end == p + 1 || !isfinite(g)) return -1;
        *gamma = (float)g;
        p = end;
    }
    return *p ? -1 : 0;
}

static int elmo_embed(int argc, char **argv) {
    static const struct option own[] = {{"model", required_argument, 0, 'm'},
                                        {"output", required_argument, 0, 'o'},
                                        {"format", required_argument, 0, O_FORMAT},
                                        {"average", no_argument, 0, O_AVERAGE},
                                        {"mix", required_argument, 0, O_MIX},
                                        {"quiet", no_argument, 0, 'q'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    const char *cmd = "elmo embed", *model = NULL, *out = NULL, *mix = NULL;
    seqlm_elmo_embed_config ec = seqlm_elmo_embed_default_config();
    int quiet = 0, average = 0, threads = 0, c;
    uint64_t seed; /* accepted for uniformity: embedding draws no random numbers */
    cli_train_opts t = {
        .batch = &ec.batch, .batch_max = 1 << 16, .threads = &threads, .seed = &seed};
    struct option opts[64];
    cli_train_table(opts, sizeof opts / sizeof *opts, &t, own);
    while ((c = cli_getopt(argc, argv, ":m:o:qh", opts, cmd)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case O_FORMAT:
            if (strcmp(optarg, "safetensors") == 0)
                ec.format = SEQLM_ELMO_OUT_SAFETENSORS;
            else if (strcmp(optarg, "tsv") == 0)
                ec.format = SEQLM_ELMO_OUT_TSV;
            else
                return cli_usage(cmd, "unknown --format '%s' (safetensors or tsv)", optarg);
            break;
        case O_AVERAGE:
            average = 1;
            break;
        case O_MIX:
            mix = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(embed_help, stdout);
            return 0;
        default:
            if (cli_train_option(cmd, c, optarg, &t)) return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc)
        return cli_usage(cmd, optind == argc ? "missing the text FILE ('-' for standard input)"
                                             : "one text FILE only");
    if (!model) return cli_usage(cmd, "missing -m ELMO");
    if (average && mix) return cli_usage(cmd, "--average and --mix cannot be combined");
    int tsv = ec.format == SEQLM_ELMO_OUT_TSV;
    if (!tsv && !out) return cli_usage(cmd, "missing -o OUT (or --format tsv for text)");
    if (out && cli_check_output(out)) return EXIT_INPUT;
    seqlm_set_threads(threads);

    seqlm_error err;
    seqlm_elmo *e = seqlm_elmo_load(model, &err);
    if (!e) return cli_fail_err(&err);
    int K = seqlm_elmo_layers(e);
    float w[SEQLM_MAX_LAYERS + 1];
    if (average) {
        for (int k = 0; k < K; k++) w[k] = 1.0f / (float)K;
        ec.weights = w;
    } else if (mix) {
        if (parse_mix(mix, K, w, &ec.gamma)) {
            seqlm_elmo_free(e);
            return cli_usage(cmd,
                             "--mix needs %d comma-separated weights (the model's layers), "
                             "optionally ':GAMMA', not '%s'",
                             K, mix);
        }
        ec.weights = w;
    }
    FILE *f = stdout;
    if (tsv && out && !(f = fopen(out, "w"))) {
        seqlm_elmo_free(e);
        return cli_fail("%s: cannot write the output", out);
    }
    cli_progress_state ps;
    if (!quiet) {
        cli_progress_begin(&ps);
        ec.progress = cli_progress;
        ec.progress_ctx = &ps;
    }
    cli_catch_signals();
    double t0 = cli_now();
    uint64_t sentences = 0, unknown = 0;
    seqlm_status st =
        seqlm_elmo_embed_file(e, argv[optind], &ec, out, f, &sentences, &unknown, &err);
    if (!quiet) cli_progress_end(&ps);
    if (f != stdout && fclose(f) != 0 && st == SEQLM_OK)
        st = seqlm_error_set(&err, SEQLM_ERR_IO, "%s: cannot write the output", out);
    seqlm_elmo_free(e);
    if (st != SEQLM_OK) {
        if (tsv && out) remove(out);
        return cli_fail_err(&err);
    }
    if (!quiet)
        fprintf(stderr,
                "seqlm: %llu sentences embedded (%llu tokens outside the vocabulary)%s%s; "
                "%.1f s\n",
                (unsigned long long)sentences, (unsigned long long)unknown, out ? " to " : "",
                out ? out : "", cli_now() - t0);
    return 0;
}

int cmd_elmo(int argc, char **argv) {
    if (argc < 2) {
        fputs(elmo_help, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(elmo_help, stdout);
        return 0;
    }
    if (strcmp(argv[1], "train") == 0) return elmo_train(argc - 1, argv + 1);
    if (strcmp(argv[1], "embed") == 0) return elmo_embed(argc - 1, argv + 1);
    fprintf(stderr, "seqlm: error: unknown elmo command '%s' (train or embed)\n", argv[1]);
    return EXIT_USAGE;
}
