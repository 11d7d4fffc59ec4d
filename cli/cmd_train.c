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
    O_TRAIN = 256,
    O_VALID,
    O_ARCH,
    O_LAYERS,
    O_HIDDEN,
    O_EMB,
    O_DROPOUT,
    O_TIE,
    O_CONTEXT,
    O_DIRECT,
    O_MINCOUNT,
    O_MAXVOCAB,
    O_VOCAB,
    O_BPTT,
    O_BATCH,
    O_OPTIM,
    O_LR,
    O_CLIP,
    O_SCHED,
    O_LRDECAY,
    O_DECAYAFTER,
    O_EPOCHS,
    O_PATIENCE,
    O_MAXSTEPS,
    O_MAXTIME,
    O_SEED,
    O_THREADS,
    O_CKPT,
    O_CKPTEVERY,
    O_LOG,
    O_LOGINT,
    O_RESUME,
    O_DIAG
};

int cmd_train(int argc, char **argv) {
    static const struct option opts[] = {{"train", required_argument, 0, O_TRAIN},
                                         {"valid", required_argument, 0, O_VALID},
                                         {"output", required_argument, 0, 'o'},
                                         {"arch", required_argument, 0, O_ARCH},
                                         {"layers", required_argument, 0, O_LAYERS},
                                         {"hidden", required_argument, 0, O_HIDDEN},
                                         {"embedding", required_argument, 0, O_EMB},
                                         {"dropout", required_argument, 0, O_DROPOUT},
                                         {"tie-weights", no_argument, 0, O_TIE},
                                         {"context", required_argument, 0, O_CONTEXT},
                                         {"direct", no_argument, 0, O_DIRECT},
                                         {"unit", required_argument, 0, 'u'},
                                         {"min-count", required_argument, 0, O_MINCOUNT},
                                         {"max-vocab", required_argument, 0, O_MAXVOCAB},
                                         {"vocab", required_argument, 0, O_VOCAB},
                                         {"bptt", required_argument, 0, O_BPTT},
                                         {"batch", required_argument, 0, O_BATCH},
                                         {"optimizer", required_argument, 0, O_OPTIM},
                                         {"lr", required_argument, 0, O_LR},
                                         {"clip", required_argument, 0, O_CLIP},
                                         {"schedule", required_argument, 0, O_SCHED},
                                         {"lr-decay", required_argument, 0, O_LRDECAY},
                                         {"decay-after", required_argument, 0, O_DECAYAFTER},
                                         {"epochs", required_argument, 0, O_EPOCHS},
                                         {"patience", required_argument, 0, O_PATIENCE},
                                         {"max-steps", required_argument, 0, O_MAXSTEPS},
                                         {"max-time", required_argument, 0, O_MAXTIME},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"checkpoint", required_argument, 0, O_CKPT},
                                         {"checkpoint-every", required_argument, 0, O_CKPTEVERY},
                                         {"log", required_argument, 0, O_LOG},
                                         {"log-interval", required_argument, 0, O_LOGINT},
                                         {"resume", required_argument, 0, O_RESUME},
                                         {"diag", no_argument, 0, O_DIAG},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *cmd = "train";
    seqlm_lm_config mc = seqlm_lm_default_config();
    seqlm_train_config tc = seqlm_train_default_config();
    int log_interval_given = 0; /* with --resume, else the checkpoint's interval stays */
    const char *vocab_path = NULL, *resume = NULL, *ckpt = NULL;
    uint64_t min_count = 1;
    size_t max_vocab = 0;
    int quiet = 0, c, set_hidden = 0, set_emb = 0, set_lr = 0, set_clip = 0;
    int model_flags = 0; /* flags that a resumed run takes from its checkpoint */
    const char *model_flag = NULL;
    long long v;
    double d;
    while ((c = cli_getopt(argc, argv, ":o:u:qh", opts, cmd)) != -1) {
        if (c != 'o' && c != 'q' && c != 'h' && c != O_RESUME && c != O_MAXSTEPS &&
            c != O_MAXTIME && c != O_CKPT && c != O_LOG && c != O_LOGINT && c != O_DIAG &&
            c != '?' && c != ':') {
            model_flags++;
            model_flag = argv[optind - 1];
        }
        switch (c) {
        case O_TRAIN:
            tc.train_path = optarg;
            break;
        case O_VALID:
            tc.valid_path = optarg;
            break;
        case 'o':
            tc.output_path = optarg;
            break;
        case O_ARCH:
            if (seqlm_arch_parse(optarg, &mc.arch))
                return cli_usage(cmd, "unknown --arch '%s' (lstm, gru, rnn-tanh, rnn-relu, window)",
                                 optarg);
            break;
        case O_LAYERS:
            if (cli_int(optarg, 1, SEQLM_MAX_LAYERS, &v))
                return cli_usage(cmd, "--layers must be an integer from 1 to %d, not '%s'",
                                 SEQLM_MAX_LAYERS, optarg);
            mc.layers = (int)v;
            break;
        case O_HIDDEN:
            if (cli_int(optarg, 1, 1 << 20, &v))
                return cli_usage(cmd, "--hidden must be an integer >= 1, not '%s'", optarg);
            mc.hidden = (int)v;
            set_hidden = 1;
            break;
        case O_EMB:
            if (cli_int(optarg, 1, 1 << 20, &v))
                return cli_usage(cmd, "--embedding must be an integer >= 1, not '%s'", optarg);
            mc.embedding = (int)v;
            set_emb = 1;
            break;
        case O_DROPOUT:
            if (cli_double(optarg, 0, 0.999, &d))
                return cli_usage(cmd, "--dropout must be a number in [0, 1), not '%s'", optarg);
            mc.dropout = (float)d;
            break;
        case O_TIE:
            mc.tie_weights = 1;
            break;
        case O_CONTEXT:
            if (cli_int(optarg, 1, 64, &v))
                return cli_usage(cmd, "--context must be an integer from 1 to 64, not '%s'",
                                 optarg);
            mc.context = (int)v;
            break;
        case O_DIRECT:
            mc.direct = 1;
            break;
        case 'u':
            if (cli_unit(cmd, optarg, &mc.unit)) return EXIT_USAGE;
            break;
        case O_MINCOUNT:
            if (cli_int(optarg, 1, INT64_MAX, &v))
                return cli_usage(cmd, "--min-count must be an integer >= 1, not '%s'", optarg);
            min_count = (uint64_t)v;
            break;
        case O_MAXVOCAB:
            if (cli_int(optarg, 4, INT32_MAX, &v))
                return cli_usage(cmd, "--max-vocab must be an integer >= 4, not '%s'", optarg);
            max_vocab = (size_t)v;
            break;
        case O_VOCAB:
            vocab_path = optarg;
            break;
        case O_BPTT:
            if (cli_int(optarg, 1, 1 << 20, &v))
                return cli_usage(cmd, "--bptt must be an integer >= 1, not '%s'", optarg);
            tc.bptt = (int)v;
            break;
        case O_BATCH:
            if (cli_int(optarg, 1, 1 << 20, &v))
                return cli_usage(cmd, "--batch must be an integer >= 1, not '%s'", optarg);
            tc.batch = (int)v;
            break;
        case O_OPTIM: {
            seqlm_optim_kind k;
            if (seqlm_optim_parse(optarg, &k))
                return cli_usage(cmd,
                                 "unknown --optimizer '%s' (sgd, adagrad, rmsprop, adam, adamw, "
                                 "nadam)",
                                 optarg);
            float lr = tc.optim.lr;
            tc.optim = seqlm_optim_defaults(k);
            if (set_lr || k == SEQLM_OPT_SGD) tc.optim.lr = set_lr ? lr : 20.0f;
            break;
        }
        case O_LR:
            if (cli_double(optarg, 1e-30, 1e30, &d))
                return cli_usage(cmd, "--lr must be a number > 0, not '%s'", optarg);
            tc.optim.lr = (float)d;
            set_lr = 1;
            break;
        case O_CLIP:
            if (cli_double(optarg, 0, 1e30, &d))
                return cli_usage(cmd, "--clip must be a number >= 0, not '%s'", optarg);
            tc.clip = (float)d;
            set_clip = 1;
            break;
        case O_SCHED:
            if (seqlm_sched_parse(optarg, &tc.schedule))
                return cli_usage(cmd,
                                 "unknown --schedule '%s' (plateau, step, constant, linear, "
                                 "cosine)",
                                 optarg);
            break;
        case O_LRDECAY:
            if (cli_double(optarg, 1, 1e30, &d))
                return cli_usage(cmd, "--lr-decay must be a number >= 1, not '%s'", optarg);
            tc.lr_decay = (float)d;
            break;
        case O_DECAYAFTER:
            if (cli_int(optarg, 0, INT32_MAX, &v))
                return cli_usage(cmd, "--decay-after must be an integer >= 0, not '%s'", optarg);
            tc.decay_after = (int)v;
            break;
        case O_EPOCHS:
            if (cli_int(optarg, 1, INT32_MAX, &v))
                return cli_usage(cmd, "--epochs must be an integer >= 1, not '%s'", optarg);
            tc.epochs = (int)v;
            break;
        case O_PATIENCE:
            if (cli_int(optarg, 0, INT32_MAX, &v))
                return cli_usage(cmd, "--patience must be an integer >= 0, not '%s'", optarg);
            tc.patience = (int)v;
            break;
        case O_MAXSTEPS:
            if (cli_int(optarg, 1, INT64_MAX, &v))
                return cli_usage(cmd, "--max-steps must be an integer >= 1, not '%s'", optarg);
            tc.max_steps = (uint64_t)v;
            break;
        case O_MAXTIME:
            if (cli_double(optarg, 1e-9, 1e12, &d))
                return cli_usage(cmd, "--max-time must be a number of seconds > 0, not '%s'",
                                 optarg);
            tc.max_time = d;
            break;
        case O_SEED:
            if (cli_seed(cmd, optarg, &v)) return EXIT_USAGE;
            tc.seed = (uint64_t)v;
            break;
        case O_THREADS:
            if (cli_int(optarg, 1, 4096, &v))
                return cli_usage(cmd, "--threads must be an integer >= 1, not '%s'", optarg);
            tc.threads = (int)v;
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
        case O_LOG:
            tc.log_path = optarg;
            break;
        case O_LOGINT:
            if (cli_double(optarg, 0, 1e9, &d))
                return cli_usage(cmd, "--log-interval must be a number of seconds >= 0, not '%s'",
                                 optarg);
            tc.log_interval = d;
            log_interval_given = 1;
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
            return EXIT_USAGE;
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
            return cli_usage(
                cmd,
                "--resume continues with the checkpoint's settings; %s cannot be "
                "changed (only -o, --max-steps, --max-time, --checkpoint, --log, --diag)",
                model_flag);
        if (tc.output_path && cli_check_output(tc.output_path)) return EXIT_INPUT;
        seqlm_train_config o = seqlm_train_default_config();
        o.output_path = tc.output_path;
        o.max_steps = tc.max_steps;
        o.max_time = tc.max_time;
        o.checkpoint_path = ckpt;
        o.log_path = tc.log_path;
        o.log_interval = log_interval_given ? tc.log_interval : 0;
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
        if (set_hidden && !set_emb) mc.embedding = mc.hidden;
        if (set_emb && !set_hidden) mc.hidden = mc.embedding;
        if (mc.embedding != mc.hidden)
            return cli_usage(cmd, "--tie-weights needs --embedding == --hidden (%d != %d)",
                             mc.embedding, mc.hidden);
    }
    if (mc.direct && !window) return cli_usage(cmd, "--direct is for --arch window only");
    (void)set_clip;
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
