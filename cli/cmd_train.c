/* cmd_train.c - `seqlm train`: options to a model and a training config, progress printing.
 * The vocabulary, the model, the loop and the checkpoints are the library's (seqlm/lm.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char train_help[] =
    "usage: seqlm train --train FILE -o MODEL [options]\n"
    "       seqlm train --resume CHECKPOINT [-o MODEL] [--max-steps N] [--max-time S]\n"
    "\n"
    "Trains a neural language model on FILE (one sentence per line; every line's tokens and\n"
    "its </s> are predicted) with truncated backpropagation through time, as PyTorch's\n"
    "word_language_model does. With --valid the model with the best validation loss is kept;\n"
    "without it nothing is held out and the last model is kept.\n"
    "\n"
    "Data\n"
    "      --train FILE       training text (plain or gzip)\n"
    "      --valid FILE       validation text: picks the best epoch, drives the schedule and\n"
    "                         early stopping\n"
    "  -o, --output MODEL     the model file (safetensors)\n"
    "  -u, --unit U           word (default), char or byte\n"
    "      --min-count C      tokens seen fewer than C times become <unk> (default 1)\n"
    "      --max-vocab V      keep at most V vocabulary entries, most frequent first\n"
    "      --vocab FILE       use this vocabulary (seqlm vocab) instead\n"
    "Model\n"
    "      --arch A           lstm (default), gru, rnn-tanh, rnn-relu, or window (Bengio et\n"
    "                         al. 2003: a feed-forward net over the previous --context tokens)\n"
    "      --layers N         recurrent layers (default 2)\n"
    "      --hidden N         units per layer (default 200)\n"
    "      --embedding N      embedding size (default 200; with --tie-weights, --hidden)\n"
    "      --dropout P        dropout on embeddings, between layers and before the output\n"
    "                         (default 0)\n"
    "      --tie-weights      share the embedding and output matrices (needs embedding ==\n"
    "                         hidden)\n"
    "      --context N        window: previous tokens used (default 4)\n"
    "      --direct           window: direct input-to-output connections\n"
    "Training\n"
    "      --batch N          parallel streams (default 20)\n"
    "      --bptt N           steps per window (default 35)\n"
    "      --optimizer O      sgd (default), adagrad, rmsprop, adam, adamw, nadam\n"
    "      --lr R             learning rate (default: sgd 20, otherwise the optimiser's\n"
    "                         PyTorch default: adam 0.001, ...)\n"
    "      --clip C           clip the gradient norm at C, 0 = never (default 0.25)\n"
    "      --schedule S       plateau (default): divide the rate by --lr-decay after an epoch\n"
    "                         without a better validation loss; step: divide it every epoch\n"
    "                         after --decay-after; constant; linear or cosine decay to 0\n"
    "      --lr-decay D       divisor for plateau and step (default 4)\n"
    "      --decay-after N    step: first epoch after which the rate decays (default 4)\n"
    "      --epochs N         passes over the training text (default 40)\n"
    "      --patience N       stop after N epochs without a better validation loss\n"
    "                         (default 5, 0 = never)\n"
    "      --max-steps N      stop after N updates\n"
    "      --max-time S       stop after S seconds\n"
    "      --seed N           initialisation and dropout (default 1)\n"
    "      --threads N        threads (default: all cores); the same seed and threads give\n"
    "                         the same model, bit for bit\n"
    "Checkpoints and output\n"
    "      --checkpoint PATH  where to checkpoint (default MODEL.ckpt; 'none': never)\n"
    "      --checkpoint-every N  also every N updates (default: each epoch only)\n"
    "      --resume PATH      continue from a checkpoint with its settings\n"
    "      --log FILE         JSON lines: one object per progress event (see seqlm plot)\n"
    "      --log-interval S   seconds between progress lines (default 5)\n"
    "      --diag             diagnostics every progress interval, on stderr and in the log:\n"
    "                         the largest gradient norm before clipping, the share of updates\n"
    "                         clipped, ||update|| / ||weights|| per tensor (the interval's\n"
    "                         first update), the saturation of every gate (share of values\n"
    "                         where the activation is flat); seqlm plot draws them. Changes\n"
    "                         nothing in the training\n"
    "  -q, --quiet            no progress on stderr\n"
    "\n"
    "Ctrl-C writes a checkpoint and stops; --resume continues exactly where it stopped.\n"
    "\n"
    "example: seqlm train --train ptb.train.txt --valid ptb.valid.txt -o ptb.safetensors\n";

/* ---- progress ------------------------------------------------------------------------------ */

typedef struct {
    int quiet, tty, shown;
    double best_valid;
    int best_epoch;
} progress;

static void clear_line(progress *p) {
    cli_clear_line(p->tty, &p->shown);
}

/* --diag: one more line per interval, kept on screen. The update ratios are summarised by the
 * smallest and the largest (all of them are in the log). */
static void print_diag(progress *p, const seqlm_train_diag *d) {
    clear_line(p);
    char line[512];
    int n = snprintf(line, sizeof line, "seqlm: diag: grad max %.3g, clipped %.0f%%",
                     d->grad_norm_max, 100 * d->clipped);
    int lo = -1, hi = -1;
    for (int i = 0; i < d->tensors; i++) {
        if (!isfinite(d->update_ratio[i])) continue;
        if (lo < 0 || d->update_ratio[i] < d->update_ratio[lo]) lo = i;
        if (hi < 0 || d->update_ratio[i] > d->update_ratio[hi]) hi = i;
    }
    if (lo >= 0 && n < (int)sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, " | update/weight %.2g (%s) .. %.2g (%s)",
                      d->update_ratio[lo], d->tensor_names[lo], d->update_ratio[hi],
                      d->tensor_names[hi]);
    for (int l = 0; l < d->layers && n < (int)sizeof line; l++) {
        n += snprintf(line + n, sizeof line - (size_t)n, " | saturated l%d", l);
        for (int k = 0; k < d->gates && n < (int)sizeof line; k++)
            n += snprintf(line + n, sizeof line - (size_t)n, " %s %.0f%%", d->gate_names[k],
                          100 * d->saturation[l * d->gates + k]);
    }
    fprintf(stderr, "%s\n", line);
}

static void on_event(void *ctx, const seqlm_train_event *e) {
    progress *p = ctx;
    if (strcmp(e->event, "epoch") == 0 && isfinite(e->valid_loss) &&
        (p->best_epoch == 0 || e->valid_loss < p->best_valid)) {
        p->best_valid = e->valid_loss;
        p->best_epoch = e->epoch;
    }
    if (p->quiet) return;
    char eta[16];
    cli_fmt_time(eta, sizeof eta, e->eta);
    if (strcmp(e->event, "start") == 0) {
        char np[32];
        if (e->params < 10000)
            snprintf(np, sizeof np, "%llu", (unsigned long long)e->params);
        else if (e->params < 1000000)
            snprintf(np, sizeof np, "%.1fk", (double)e->params / 1e3);
        else
            snprintf(np, sizeof np, "%.2fM", (double)e->params / 1e6);
        fprintf(stderr, "seqlm: %s parameters, about %.1f MB for training; %s %llu updates\n", np,
                (double)e->bytes / 1048576.0, e->step ? "resuming after" : "planned:",
                (unsigned long long)(e->step ? e->step : e->steps_total));
    } else if (strcmp(e->event, "interval") == 0) {
        char line[200];
        snprintf(line, sizeof line,
                 "seqlm: epoch %d %5.1f%% | %.0f tok/s | loss %.3f ppl %.1f | lr %.3g | "
                 "grad %.3g | ETA %s",
                 e->epoch, 100 * e->progress, e->tokens_per_s, e->loss, e->ppl, e->lr, e->grad_norm,
                 eta);
        if (p->tty)
            fprintf(stderr, "\r%-100s", line);
        else
            fprintf(stderr, "%s\n", line);
        p->shown = 1;
        if (e->diag) print_diag(p, e->diag);
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

static int finish(progress *p, seqlm_status st, const seqlm_error *err, const char *out,
                  const char *ckpt, double t0) {
    clear_line(p);
    if (st == SEQLM_ERR_INTERRUPT) {
        cli_fail("%s", err->msg);
        if (ckpt) fprintf(stderr, "seqlm: continue with: seqlm train --resume %s\n", ckpt);
        return EXIT_INPUT;
    }
    if (st != SEQLM_OK) return cli_fail_err(err);
    if (!p->quiet) {
        if (p->best_epoch)
            fprintf(stderr, "seqlm: %s: best valid ppl %.2f (epoch %d); %.1f s\n", out,
                    exp(p->best_valid), p->best_epoch, cli_now() - t0);
        else
            fprintf(stderr, "seqlm: %s written; %.1f s\n", out, cli_now() - t0);
    }
    return 0;
}

enum {
    O_ARCH = 256,
    O_TIE,
    O_CONTEXT,
    O_DIRECT,
    O_VOCAB,
    O_DECAYAFTER,
    O_CKPT,
    O_CKPTEVERY,
    O_RESUME,
    O_DIAG
};

int cmd_train(int argc, char **argv) {
    static const struct option own[] = {{"output", required_argument, 0, 'o'},
                                        {"arch", required_argument, 0, O_ARCH},
                                        {"tie-weights", no_argument, 0, O_TIE},
                                        {"context", required_argument, 0, O_CONTEXT},
                                        {"direct", no_argument, 0, O_DIRECT},
                                        {"unit", required_argument, 0, 'u'},
                                        {"vocab", required_argument, 0, O_VOCAB},
                                        {"decay-after", required_argument, 0, O_DECAYAFTER},
                                        {"checkpoint", required_argument, 0, O_CKPT},
                                        {"checkpoint-every", required_argument, 0, O_CKPTEVERY},
                                        {"resume", required_argument, 0, O_RESUME},
                                        {"diag", no_argument, 0, O_DIAG},
                                        {"quiet", no_argument, 0, 'q'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    const char *cmd = "train";
    seqlm_lm_config mc = seqlm_lm_default_config();
    seqlm_train_config tc = seqlm_train_default_config();
    const char *vocab_path = NULL, *resume = NULL, *ckpt = NULL;
    uint64_t min_count = 1;
    size_t max_vocab = 0;
    cli_train_opts t = cli_lm_train_opts(&mc, &tc, &min_count, &max_vocab);
    struct option opts[64];
    cli_train_table(opts, sizeof opts / sizeof *opts, &t, own);
    int quiet = 0, c;
    int model_flags = 0; /* flags that a resumed run takes from its checkpoint */
    const char *model_flag = NULL;
    long long v;
    while ((c = cli_getopt(argc, argv, ":o:u:qh", opts, cmd)) != -1) {
        if (c != 'o' && c != 'q' && c != 'h' && c != O_RESUME && c != CLI_O_MAX_STEPS &&
            c != CLI_O_MAX_TIME && c != O_CKPT && c != CLI_O_LOG && c != CLI_O_LOG_INTERVAL &&
            c != O_DIAG && c != '?' && c != ':') {
            model_flags++;
            model_flag = cli_option_name(opts, c);
        }
        switch (c) {
        case 'o':
            tc.output_path = optarg;
            break;
        case O_ARCH:
            if (seqlm_arch_parse(optarg, &mc.arch))
                return cli_usage(cmd, "unknown --arch '%s' (lstm, gru, rnn-tanh, rnn-relu, window)",
                                 optarg);
            break;
        case O_TIE:
            mc.tie_weights = 1;
            break;
        case O_CONTEXT:
            if (cli_int_opt(cmd, "context", optarg, 1, 64, &mc.context)) return EXIT_USAGE;
            break;
        case O_DIRECT:
            mc.direct = 1;
            break;
        case 'u':
            if (cli_unit(cmd, optarg, &mc.unit)) return EXIT_USAGE;
            break;
        case O_VOCAB:
            vocab_path = optarg;
            break;
        case O_DECAYAFTER:
            if (cli_int(optarg, 0, INT32_MAX, &v))
                return cli_usage(cmd, "--decay-after must be an integer >= 0, not '%s'", optarg);
            tc.decay_after = (int)v;
            break;
        case O_CKPT:
            ckpt = optarg;
            break;
        case O_CKPTEVERY:
            if (cli_int(optarg, 1, INT64_MAX, &v))
                return cli_usage(cmd, "--checkpoint-every must be an integer >= 1, not '%s'",
                                 optarg);
            tc.checkpoint_every = (uint64_t)v;
            break;
        case O_RESUME:
            resume = optarg;
            break;
        case O_DIAG:
            tc.diag = 1;
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
    if (ckpt && strcmp(ckpt, "none") == 0) {
        if (resume) return cli_usage(cmd, "--resume needs checkpoints: drop --checkpoint none");
        ckpt = "";
    }

    progress prog = {quiet, isatty(2), 0, 0, 0};
    seqlm_error err;
    double t0 = cli_now();
    if (resume) {
        if (model_flags)
            return cli_usage(cmd,
                             "--resume continues with the checkpoint's settings; --%s cannot be "
                             "changed (only -o, --max-steps, --max-time, --checkpoint, --log, "
                             "--log-interval, --diag)",
                             model_flag);
        if (tc.output_path && cli_check_output(tc.output_path)) return EXIT_INPUT;
        seqlm_train_config o = seqlm_train_default_config();
        o.output_path = tc.output_path;
        o.max_steps = tc.max_steps;
        o.max_time = tc.max_time;
        o.checkpoint_path = ckpt;
        o.log_path = tc.log_path;
        o.log_interval = t.given & CLI_GIVEN(CLI_O_LOG_INTERVAL) ? tc.log_interval : 0;
        o.diag = tc.diag;
        o.on_event = on_event;
        o.event_ctx = &prog;
        o.warn = cli_warn;
        cli_catch_signals();
        seqlm_status st = seqlm_train_resume(resume, &o, &err);
        return finish(&prog, st, &err, tc.output_path ? tc.output_path : "the model",
                      ckpt ? ckpt : resume, t0);
    }

    if (!tc.train_path) return cli_usage(cmd, "missing --train FILE (or --resume CHECKPOINT)");
    if (!tc.output_path) return cli_usage(cmd, "missing -o MODEL");
    if (vocab_path && (min_count > 1 || max_vocab))
        return cli_usage(cmd, "--vocab cannot be combined with --min-count or --max-vocab");
    int window = mc.arch == SEQLM_ARCH_WINDOW;
    if (mc.tie_weights) {
        if (window) return cli_usage(cmd, "--tie-weights is for the recurrent models only");
        int set_hidden = !!(t.given & CLI_GIVEN(CLI_O_HIDDEN)),
            set_emb = !!(t.given & CLI_GIVEN(CLI_O_EMBEDDING));
        if (set_hidden && !set_emb) mc.embedding = mc.hidden;
        if (set_emb && !set_hidden) mc.hidden = mc.embedding;
        if (mc.embedding != mc.hidden)
            return cli_usage(cmd, "--tie-weights needs --embedding == --hidden (%d != %d)",
                             mc.embedding, mc.hidden);
    }
    if (mc.direct && !window) return cli_usage(cmd, "--direct is for --arch window only");
    if (ckpt && !*ckpt) {
        tc.checkpoint_path = NULL;
        if (tc.checkpoint_every) return cli_usage(cmd, "--checkpoint-every with --checkpoint none");
    }
    char ckpt_default[4096];
    if (!ckpt) {
        snprintf(ckpt_default, sizeof ckpt_default, "%s.ckpt", tc.output_path);
        tc.checkpoint_path = ckpt_default;
    } else if (*ckpt) {
        tc.checkpoint_path = ckpt;
    }
    if (cli_check_output(tc.output_path)) return EXIT_INPUT;
    if (tc.checkpoint_path && cli_check_output(tc.checkpoint_path)) return EXIT_INPUT;

    seqlm_vocab *vocab;
    if (vocab_path) {
        vocab = seqlm_vocab_load(vocab_path, &err);
        if (!vocab) return cli_fail_err(&err);
    } else {
        seqlm_vocab *all = seqlm_vocab_from_corpus(tc.train_path, mc.unit, &err);
        if (!all) return cli_fail_err(&err);
        vocab = seqlm_vocab_prune(all, min_count, max_vocab, &err);
        seqlm_vocab_free(all);
        if (!vocab) return cli_fail_err(&err);
    }
    size_t V = seqlm_vocab_size(vocab);
    seqlm_lm *lm = seqlm_lm_create(&mc, vocab, &err); /* takes vocab */
    if (!lm) return cli_usage(cmd, "%s", err.msg);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, tc.seed);
    seqlm_lm_reset(lm, &rng);
    if (!quiet) {
        if (window)
            fprintf(stderr, "seqlm: window model, context %d, embedding %d, hidden %d%s; ",
                    mc.context, mc.embedding, mc.hidden, mc.direct ? ", direct" : "");
        else
            fprintf(stderr, "seqlm: %s %dx%d, embedding %d%s%s; ", seqlm_arch_name(mc.arch),
                    mc.layers, mc.hidden, mc.embedding, mc.tie_weights ? ", tied" : "",
                    mc.dropout > 0 ? ", dropout" : "");
        fprintf(stderr, "vocabulary %zu (%s); %s lr %g, clip %g, %s schedule\n", V,
                seqlm_unit_name(mc.unit), seqlm_optim_name(tc.optim.kind), (double)tc.optim.lr,
                (double)tc.clip, seqlm_sched_name(tc.schedule));
        if (!tc.valid_path)
            fprintf(stderr, "seqlm: no --valid: nothing held out; the last model is kept\n");
    }
    tc.on_event = on_event;
    tc.event_ctx = &prog;
    tc.warn = cli_warn;
    cli_catch_signals();
    seqlm_status st = seqlm_train(lm, &tc, &err);
    seqlm_lm_free(lm);
    return finish(&prog, st, &err, tc.output_path, tc.checkpoint_path, t0);
}
