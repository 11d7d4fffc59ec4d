/* cli.c - shared command-line helpers (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("seqlm: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_INPUT;
}

int cli_fail_err(const seqlm_error *err) {
    const char *msg = err->msg[0] ? err->msg : seqlm_status_name(err->status);
    if (strstr(msg, "invalid UTF-8") && !strstr(msg, ".arpa"))
        return cli_fail("%s (for text in another encoding, try --unit byte)", msg);
    return cli_fail("%s", msg);
}

int cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("seqlm: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'seqlm %s --help')\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

void cli_warn(void *ctx, const char *message) {
    (void)ctx;
    fprintf(stderr, "seqlm: warning: %s\n", message);
}

int cli_int(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_double(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               const char *cmd) {
    opterr = 0;
    int c = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (c == '?' || c == ':') {
        /* optopt is the option's value for a long option (a CLI_O_ id, say), its letter for a
         * short one: the text names what was typed */
        const char *arg = argv[optind - 1];
        int is_long = arg && strncmp(arg, "--", 2) == 0;
        if (c == ':' && is_long)
            cli_usage(cmd, "option '%s' needs a value", arg);
        else if (c == ':')
            cli_usage(cmd, "option -%c needs a value", optopt);
        /* '?' with optopt set: an unknown short option (argv[optind - 1] is then not it when
         * it sits inside a cluster such as -xq), or a value given to a long option that takes
         * none (--json=x) */
        else if (optopt && !(is_long && strchr(arg, '=')))
            cli_usage(cmd, "unknown option -%c", optopt);
        else if (arg && strchr(arg, '='))
            cli_usage(cmd, "unknown or malformed option '%s'", arg);
        else
            cli_usage(cmd, "unknown option '%s' or missing value", arg ? arg : "?");
        return '?';
    }
    return c;
}

int cli_unit(const char *cmd, const char *arg, seqlm_unit *out) {
    if (seqlm_unit_parse(arg, out))
        return cli_usage(cmd, "unknown unit '%s' (word, char, byte)", arg);
    return 0;
}

int cli_seed(const char *cmd, const char *arg, long long *out) {
    if (cli_int(arg, 0, INT64_MAX, out))
        return cli_usage(cmd, "--seed must be an integer >= 0, not '%s'", arg);
    return 0;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_check_output(const char *path) {
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    const char *dir = dirname(copy);
    if (access(dir, W_OK) != 0)
        return cli_fail("%s: cannot write the output: directory '%s' is missing or not writable",
                        path, dir);
    return 0;
}

int cli_is_safetensors(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char b[9];
    size_t got = fread(b, 1, sizeof b, f);
    fclose(f);
    if (got < 9 || b[8] != '{') return 0;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
    return n >= 2 && n <= 100000000ULL;
}

void cli_fmt_time(char *buf, size_t cap, double s) {
    if (!isfinite(s) || s < 0)
        snprintf(buf, cap, "?");
    else if (s < 60)
        snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

void cli_clear_line(int tty, int *shown) {
    if (tty && *shown) fprintf(stderr, "\r%-100s\r", "");
    *shown = 0;
}

int cli_encoding(const char *cmd, const char *arg) {
    seqlm_error err;
    if (seqlm_encoding_check(arg, &err) != SEQLM_OK)
        return cli_usage(cmd, "--encoding: %s", err.msg);
    return 0;
}

int cli_int_opt(const char *cmd, const char *name, const char *arg, long long lo, long long hi,
                int *out) {
    long long v;
    if (cli_int(arg, lo, hi, &v))
        return cli_usage(cmd, "--%s must be an integer from %lld to %lld, not '%s'", name, lo, hi,
                         arg);
    *out = (int)v;
    return 0;
}

int cli_fail_text(const seqlm_error *err, const char *encoding) {
    const char *msg = err->msg[0] ? err->msg : seqlm_status_name(err->status);
    if (!encoding && strstr(msg, "invalid UTF-8"))
        return cli_fail("%s (for text in another encoding give --encoding, e.g. CP1252)", msg);
    return cli_fail_err(err);
}

/* ---- the options the model commands share ------------------------------------------------- */

_Static_assert(CLI_O_END - CLI_O_OPTIMIZER <= 64, "cli_train_opts.given has a bit per option");

static const struct option shared_options[] = {
    {"optimizer", required_argument, 0, CLI_O_OPTIMIZER},
    {"lr", required_argument, 0, CLI_O_LR},
    {"weight-decay", required_argument, 0, CLI_O_WEIGHT_DECAY},
    {"clip", required_argument, 0, CLI_O_CLIP},
    {"schedule", required_argument, 0, CLI_O_SCHEDULE},
    {"lr-decay", required_argument, 0, CLI_O_LR_DIVISOR},
    {"epochs", required_argument, 0, CLI_O_EPOCHS},
    {"patience", required_argument, 0, CLI_O_PATIENCE},
    {"max-steps", required_argument, 0, CLI_O_MAX_STEPS},
    {"max-time", required_argument, 0, CLI_O_MAX_TIME},
    {"seed", required_argument, 0, CLI_O_SEED},
    {"threads", required_argument, 0, CLI_O_THREADS},
    {"batch", required_argument, 0, CLI_O_BATCH},
    {"bptt", required_argument, 0, CLI_O_BPTT},
    {"log", required_argument, 0, CLI_O_LOG},
    {"log-interval", required_argument, 0, CLI_O_LOG_INTERVAL},
    {"train", required_argument, 0, CLI_O_TRAIN},
    {"valid", required_argument, 0, CLI_O_VALID},
    {"encoding", required_argument, 0, CLI_O_ENCODING},
    {"layers", required_argument, 0, CLI_O_LAYERS},
    {"hidden", required_argument, 0, CLI_O_HIDDEN},
    {"embedding", required_argument, 0, CLI_O_EMBEDDING},
    {"dropout", required_argument, 0, CLI_O_DROPOUT},
    {"min-count", required_argument, 0, CLI_O_MIN_COUNT},
    {"max-vocab", required_argument, 0, CLI_O_MAX_VOCAB},
    {"lower", no_argument, 0, CLI_O_LOWER},
    {"elmo", required_argument, 0, CLI_O_ELMO},
    {"char-dim", required_argument, 0, CLI_O_CHAR_DIM},
    {"char-hidden", required_argument, 0, CLI_O_CHAR_HIDDEN},
    {"max-word-chars", required_argument, 0, CLI_O_MAX_WORD_CHARS},
    {0, 0, 0, 0}};

/* The field behind option id, NULL when t does not take it. */
static const void *field_of(const cli_train_opts *t, int id) {
    switch (id) {
    case CLI_O_OPTIMIZER:
    case CLI_O_LR:
        return t->optim;
    case CLI_O_WEIGHT_DECAY:
        return t->weight_decay ? t->optim : NULL;
    case CLI_O_CLIP:
        return t->clip;
    case CLI_O_SCHEDULE:
        return t->schedule;
    case CLI_O_LR_DIVISOR:
        return t->lr_divisor;
    case CLI_O_EPOCHS:
        return t->epochs;
    case CLI_O_PATIENCE:
        return t->patience;
    case CLI_O_MAX_STEPS:
        return t->max_steps;
    case CLI_O_MAX_TIME:
        return t->max_time;
    case CLI_O_SEED:
        return t->seed;
    case CLI_O_THREADS:
        return t->threads;
    case CLI_O_BATCH:
        return t->batch;
    case CLI_O_BPTT:
        return t->bptt;
    case CLI_O_LOG:
        return t->log_path;
    case CLI_O_LOG_INTERVAL:
        return t->log_interval;
    case CLI_O_TRAIN:
        return t->train_path;
    case CLI_O_VALID:
        return t->valid_path;
    case CLI_O_ENCODING:
        return t->encoding;
    case CLI_O_LAYERS:
        return t->layers;
    case CLI_O_HIDDEN:
        return t->hidden;
    case CLI_O_EMBEDDING:
        return t->embedding;
    case CLI_O_DROPOUT:
        return t->dropout;
    case CLI_O_MIN_COUNT:
        return t->min_count;
    case CLI_O_MAX_VOCAB:
        return t->max_vocab;
    case CLI_O_LOWER:
        return t->lower;
    case CLI_O_ELMO:
        return t->elmo;
    case CLI_O_CHAR_DIM:
        return t->char_dim;
    case CLI_O_CHAR_HIDDEN:
        return t->char_hidden;
    case CLI_O_MAX_WORD_CHARS:
        return t->max_word_chars;
    default:
        return NULL;
    }
}

cli_train_opts cli_lm_train_opts(seqlm_lm_config *mc, seqlm_train_config *tc, uint64_t *min_count,
                                 size_t *max_vocab) {
    return (cli_train_opts){.optim = &tc->optim,
                            .sgd_lr = 20.0f,
                            .clip = &tc->clip,
                            .schedule = &tc->schedule,
                            .lr_divisor = &tc->lr_decay,
                            .epochs = &tc->epochs,
                            .patience = &tc->patience,
                            .max_steps = &tc->max_steps,
                            .max_time = &tc->max_time,
                            .seed = &tc->seed,
                            .threads = &tc->threads,
                            .batch = &tc->batch,
                            .batch_max = 1 << 20,
                            .bptt = &tc->bptt,
                            .log_path = &tc->log_path,
                            .log_interval = &tc->log_interval,
                            .train_path = &tc->train_path,
                            .valid_path = &tc->valid_path,
                            .layers = &mc->layers,
                            .hidden = &mc->hidden,
                            .embedding = &mc->embedding,
                            .size_max = 1 << 20,
                            .dropout = &mc->dropout,
                            .min_count = min_count,
                            .max_vocab = max_vocab};
}

void cli_train_table(struct option *out, size_t cap, const cli_train_opts *t,
                     const struct option *own) {
    size_t n = 0;
    for (const struct option *s = shared_options; s->name && n < cap; s++)
        if (field_of(t, s->val)) out[n++] = *s;
    for (; own->name && n < cap; own++) out[n++] = *own;
    if (own->name || n == cap) {
        fprintf(stderr, "seqlm: internal error: an option table of %zu entries is too small\n",
                cap);
        abort();
    }
    out[n] = (struct option){0, 0, 0, 0};
}

const char *cli_option_name(const struct option *opts, int id) {
    for (; opts->name; opts++)
        if (opts->val == id) return opts->name;
    return "?";
}

/* --NAME N, an integer in [lo, hi]: "an integer >= lo" when hi is no real limit (INT32_MAX or
 * more), else "an integer from lo to hi". */
static int int_arg(const char *cmd, int id, const char *arg, long long lo, long long hi,
                   long long *out) {
    if (!cli_int(arg, lo, hi, out)) return 0;
    if (hi >= INT32_MAX)
        return cli_usage(cmd, "--%s must be an integer >= %lld, not '%s'",
                         cli_option_name(shared_options, id), lo, arg);
    return cli_usage(cmd, "--%s must be an integer from %lld to %lld, not '%s'",
                     cli_option_name(shared_options, id), lo, hi, arg);
}

/* --NAME X, a number in [lo, hi], described by what ("a number > 0"). */
static int real_arg(const char *cmd, int id, const char *arg, double lo, double hi,
                    const char *what, double *out) {
    if (!cli_double(arg, lo, hi, out)) return 0;
    return cli_usage(cmd, "--%s must be %s, not '%s'", cli_option_name(shared_options, id), what,
                     arg);
}

/* --optimizer: kind's defaults (sgd: t->sgd_lr when set), keeping an explicit rate and decay. */
static int optimizer_arg(const char *cmd, const char *arg, cli_train_opts *t) {
    seqlm_optim_kind k;
    if (seqlm_optim_parse(arg, &k))
        return cli_usage(
            cmd, "unknown --optimizer '%s' (sgd, adagrad, rmsprop, adam, adamw, nadam)", arg);
    seqlm_optim_config o = seqlm_optim_defaults(k);
    if (k == SEQLM_OPT_SGD && t->sgd_lr > 0) o.lr = t->sgd_lr;
    if (t->given & CLI_GIVEN(CLI_O_LR)) o.lr = t->optim->lr;
    if (t->given & CLI_GIVEN(CLI_O_WEIGHT_DECAY)) o.weight_decay = t->optim->weight_decay;
    *t->optim = o;
    return 0;
}

int cli_train_option(const char *cmd, int opt, const char *arg, cli_train_opts *t) {
    if (opt < CLI_O_OPTIMIZER || opt >= CLI_O_END || !field_of(t, opt)) return EXIT_USAGE;
    long long v = 0;
    double d = 0;
    int rc = 0;
    switch (opt) {
    case CLI_O_OPTIMIZER:
        rc = optimizer_arg(cmd, arg, t);
        break;
    case CLI_O_LR:
        if (!(rc = real_arg(cmd, opt, arg, 1e-30, 1e30, "a number > 0", &d)))
            t->optim->lr = (float)d;
        break;
    case CLI_O_WEIGHT_DECAY:
        if (!(rc = real_arg(cmd, opt, arg, 0, 1e30, "a number >= 0", &d)))
            t->optim->weight_decay = (float)d;
        break;
    case CLI_O_CLIP:
        if (!(rc = real_arg(cmd, opt, arg, 0, 1e30, "a number >= 0", &d))) *t->clip = (float)d;
        break;
    case CLI_O_SCHEDULE:
        if (seqlm_sched_parse(arg, t->schedule))
            rc = cli_usage(cmd, "unknown --schedule '%s' (plateau, step, constant, linear, cosine)",
                           arg);
        break;
    case CLI_O_LR_DIVISOR:
        if (!(rc = real_arg(cmd, opt, arg, 1, 1e30, "a number >= 1", &d)))
            *t->lr_divisor = (float)d;
        break;
    case CLI_O_EPOCHS:
        if (!(rc = int_arg(cmd, opt, arg, 1, INT32_MAX, &v))) *t->epochs = (int)v;
        break;
    case CLI_O_PATIENCE:
        if (!(rc = int_arg(cmd, opt, arg, 0, INT32_MAX, &v))) *t->patience = (int)v;
        break;
    case CLI_O_MAX_STEPS:
        if (!(rc = int_arg(cmd, opt, arg, 1, INT64_MAX, &v))) *t->max_steps = (uint64_t)v;
        break;
    case CLI_O_MAX_TIME:
        if (!(rc = real_arg(cmd, opt, arg, 1e-9, 1e12, "a number of seconds > 0", &d)))
            *t->max_time = d;
        break;
    case CLI_O_SEED:
        if (!(rc = cli_seed(cmd, arg, &v))) *t->seed = (uint64_t)v;
        break;
    case CLI_O_THREADS:
        if (!(rc = int_arg(cmd, opt, arg, 1, 4096, &v))) *t->threads = (int)v;
        break;
    case CLI_O_BATCH:
        if (!(rc = int_arg(cmd, opt, arg, 1, t->batch_max, &v))) *t->batch = (int)v;
        break;
    case CLI_O_BPTT:
        if (!(rc = int_arg(cmd, opt, arg, 1, 1 << 20, &v))) *t->bptt = (int)v;
        break;
    case CLI_O_LOG_INTERVAL:
        if (!(rc = real_arg(cmd, opt, arg, 0, 1e9, "a number of seconds >= 0", &d)))
            *t->log_interval = d;
        break;
    case CLI_O_LOG:
        *t->log_path = arg;
        break;
    case CLI_O_TRAIN:
        *t->train_path = arg;
        break;
    case CLI_O_VALID:
        *t->valid_path = arg;
        break;
    case CLI_O_ENCODING:
        if (!(rc = cli_encoding(cmd, arg))) *t->encoding = arg;
        break;
    case CLI_O_LAYERS:
        if (!(rc = int_arg(cmd, opt, arg, 1, SEQLM_MAX_LAYERS, &v))) *t->layers = (int)v;
        break;
    case CLI_O_HIDDEN:
        if (!(rc = int_arg(cmd, opt, arg, 1, t->size_max, &v))) *t->hidden = (int)v;
        break;
    case CLI_O_EMBEDDING:
        if (!(rc = int_arg(cmd, opt, arg, 1, t->size_max, &v))) *t->embedding = (int)v;
        break;
    case CLI_O_DROPOUT:
        if (!(rc = real_arg(cmd, opt, arg, 0, 0.999, "a number in [0, 1)", &d)))
            *t->dropout = (float)d;
        break;
    case CLI_O_MIN_COUNT:
        if (!(rc = int_arg(cmd, opt, arg, 1, INT64_MAX, &v))) *t->min_count = (uint64_t)v;
        break;
    case CLI_O_MAX_VOCAB:
        if (!(rc = int_arg(cmd, opt, arg, 4, INT32_MAX, &v))) *t->max_vocab = (size_t)v;
        break;
    case CLI_O_LOWER:
        *t->lower = 1;
        break;
    case CLI_O_ELMO:
        *t->elmo = arg;
        break;
    case CLI_O_CHAR_DIM:
        if (!(rc = int_arg(cmd, opt, arg, 0, 1 << 12, &v))) *t->char_dim = (int)v;
        break;
    case CLI_O_CHAR_HIDDEN:
        if (!(rc = int_arg(cmd, opt, arg, 1, 1 << 12, &v))) *t->char_hidden = (int)v;
        break;
    case CLI_O_MAX_WORD_CHARS:
        if (!(rc = int_arg(cmd, opt, arg, 2, 4096, &v))) *t->max_word_chars = (int)v;
        break;
    }
    if (!rc) t->given |= CLI_GIVEN(opt);
    return rc ? EXIT_USAGE : 0;
}

int cli_train_check(const char *cmd, const cli_train_opts *t) {
    if ((t->given & CLI_GIVEN(CLI_O_CHAR_HIDDEN)) && t->char_dim && *t->char_dim == 0)
        return cli_usage(cmd, "--char-hidden sizes the character BiLSTM of --char-dim N (N > 0)");
    if ((t->given & CLI_GIVEN(CLI_O_MAX_WORD_CHARS)) && t->char_dim && *t->char_dim == 0)
        return cli_usage(cmd, "--max-word-chars is for the character BiLSTM of --char-dim N "
                              "(N > 0)");
    return 0;
}
