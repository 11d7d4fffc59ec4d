/* cli.h - what the subcommands share: error printing, number parsing, option tables.
 * The CLI holds no model logic; each cmd_<name>.c parses options and calls the library. */
#ifndef SEQLM_CLI_H
#define SEQLM_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "seqlm/seqlm.h"

/* Exit statuses: 1 for bad input (files, data), 2 for bad usage (flags). */
enum { EXIT_INPUT = 1, EXIT_USAGE = 2 };

/* "seqlm: error: <message>" on stderr; returns EXIT_INPUT. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The error record's message; returns EXIT_INPUT. */
int cli_fail_err(const seqlm_error *err);
/* A usage error: the message and a hint to run `seqlm <cmd> --help`; returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "seqlm: warning: <message>" (a seqlm_warn_fn). */
void cli_warn(void *ctx, const char *message);

/* Strict number parsing: the whole string, within [lo, hi]; 0 on success. */
int cli_int(const char *s, long long lo, long long hi, long long *out);
int cli_double(const char *s, double lo, double hi, double *out);

/* Option values shared by several subcommands: on a bad value these print the usage error
 * for cmd and return EXIT_USAGE; 0 on success. */
int cli_unit(const char *cmd, const char *arg, seqlm_unit *out); /* --unit word|char|byte */
int cli_seed(const char *cmd, const char *arg, long long *out);  /* --seed, an integer >= 0 */
/* --encoding NAME: one iconv converts from (seqlm_encoding_check). */
int cli_encoding(const char *cmd, const char *arg);
/* --NAME N: an integer in [lo, hi] into *out. */
int cli_int_opt(const char *cmd, const char *name, const char *arg, long long lo, long long hi,
                int *out);

/* ---- the options the model commands share ----------------------------------------------------
 * seqlm train, elmo train, tag train and classify train|cv take the training options (and the
 * model sizes, vocabulary and character options they have in common) from one parser, with one
 * text for each mistake; elmo embed, tag eval|predict and classify eval|predict take --batch,
 * --threads, --seed, --encoding and --elmo from it too. A command points the fields of a
 * cli_train_opts at its own config; a NULL field means the command does not take the option.
 * Then
 *     struct option opts[64];
 *     cli_train_table(opts, 64, &t, own);           // t's options, then the command's own
 *     while ((c = cli_getopt(argc, argv, short, opts, cmd)) != -1)
 *         switch (c) {
 *         ...                                          // the command's own options
 *         default:
 *             if (cli_train_option(cmd, c, optarg, &t)) return EXIT_USAGE;
 *         }
 *     if (cli_train_check(cmd, &t)) return EXIT_USAGE;
 * Options that mean different things in different commands (--lr-decay of tag train, --unit,
 * --arch) stay with each command. */
enum {
    CLI_O_OPTIMIZER = 1000, /* clear of every command's own option ids */
    CLI_O_LR,
    CLI_O_WEIGHT_DECAY,
    CLI_O_CLIP,
    CLI_O_SCHEDULE,
    CLI_O_LR_DIVISOR, /* --lr-decay D of train and elmo train: divide the rate by D >= 1 */
    CLI_O_EPOCHS,
    CLI_O_PATIENCE,
    CLI_O_MAX_STEPS,
    CLI_O_MAX_TIME,
    CLI_O_SEED,
    CLI_O_THREADS,
    CLI_O_BATCH,
    CLI_O_BPTT,
    CLI_O_LOG,
    CLI_O_LOG_INTERVAL,
    CLI_O_TRAIN,
    CLI_O_VALID,
    CLI_O_ENCODING,
    CLI_O_LAYERS,
    CLI_O_HIDDEN,
    CLI_O_EMBEDDING,
    CLI_O_DROPOUT,
    CLI_O_MIN_COUNT,
    CLI_O_MAX_VOCAB,
    CLI_O_LOWER,
    CLI_O_ELMO,
    CLI_O_CHAR_DIM,
    CLI_O_CHAR_HIDDEN,
    CLI_O_MAX_WORD_CHARS,
    CLI_O_END
};
/* The bit of cli_train_opts.given that says option id was given. */
#define CLI_GIVEN(id) ((uint64_t)1 << ((id)-CLI_O_OPTIMIZER))

typedef struct {
    /* training */
    seqlm_optim_config *optim; /* --optimizer O: O's defaults, keeping an explicit --lr and
                                  --weight-decay; --lr R > 0 */
    float sgd_lr;              /* the rate --optimizer sgd sets without --lr (0: sgd's default) */
    int weight_decay;          /* 1: --weight-decay W >= 0 too, into optim->weight_decay */
    float *clip;               /* --clip C >= 0 */
    seqlm_sched_kind *schedule;
    float *lr_divisor; /* --lr-decay D >= 1 */
    int *epochs;       /* >= 1 */
    int *patience;     /* >= 0 */
    uint64_t *max_steps;
    double *max_time; /* seconds > 0 */
    uint64_t *seed;
    int *threads; /* 1 to 4096 */
    int *batch;
    int batch_max; /* --batch from 1 to batch_max */
    int *bptt;
    const char **log_path;
    double *log_interval;
    /* data */
    const char **train_path, **valid_path;
    const char **encoding; /* --encoding NAME, checked with cli_encoding */
    /* model */
    int *layers; /* 1 to SEQLM_MAX_LAYERS */
    int *hidden, *embedding;
    int size_max; /* --hidden and --embedding from 1 to size_max */
    float *dropout;
    uint64_t *min_count;
    size_t *max_vocab; /* >= 4 */
    int *lower;
    const char **elmo;
    int *char_dim, *char_hidden, *max_word_chars; /* 0 to 4096, 1 to 4096, 2 to 4096 */
    uint64_t given; /* set by cli_train_option: CLI_GIVEN(id) for each option seen */
} cli_train_opts;

/* The shared options of seqlm train and elmo train, into their model and training configs and
 * vocabulary bounds: --optimizer sgd sets rate 20 (PyTorch's word_language_model), --batch,
 * --bptt, --hidden and --embedding go up to 2^20. */
cli_train_opts cli_lm_train_opts(seqlm_lm_config *mc, seqlm_train_config *tc, uint64_t *min_count,
                                 size_t *max_vocab);
/* Writes into out (cap entries) the struct option entries of the shared options t takes, then
 * own's entries up to its zero entry, then a zero entry. A table that does not fit is a
 * programming error: it aborts. */
void cli_train_table(struct option *out, size_t cap, const cli_train_opts *t,
                     const struct option *own);
/* Parses shared option opt (a CLI_O_ id from t's table) with its argument arg into t's field and
 * records it in t->given; 0 on success, or EXIT_USAGE after a usage error for cmd on a bad value.
 * Anything else, such as cli_getopt's '?' (which has printed its message), returns EXIT_USAGE
 * without one, so a command passes every option its switch does not know. */
int cli_train_option(const char *cmd, int opt, const char *arg, cli_train_opts *t);
/* After the options: --char-hidden or --max-word-chars without --char-dim N (N > 0) is a usage
 * error for cmd (EXIT_USAGE); 0 otherwise. */
int cli_train_check(const char *cmd, const cli_train_opts *t);
/* The long name of the first entry of opts (ended by a zero entry) whose value is id ("lr" for
 * CLI_O_LR, "unit" for 'u'), "?" if none. */
const char *cli_option_name(const struct option *opts, int id);

/* The error of reading text given with --encoding (NULL: none): invalid UTF-8 read without it
 * gets a hint to give one; returns EXIT_INPUT. */
int cli_fail_text(const seqlm_error *err, const char *encoding);

/* Seconds on a monotonic clock. */
double cli_now(void);

/* Fails early (cli_fail, EXIT_INPUT), before hours of work, if path's directory is missing or
 * not writable; 0 if it is fine. */
int cli_check_output(const char *path);

/* 1 if path looks like a safetensors file (a neural model: an 8-byte little-endian header
 * length in [2, 1e8], then '{'), 0 if not, -1 if it cannot be opened. */
int cli_is_safetensors(const char *path);

/* Runs getopt_long over argv with our own messages. Returns the option, -1 at the end, or
 * '?' after printing a usage error for cmd (unknown option or missing argument). */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               const char *cmd);

/* Progress display: on a terminal one line rewritten in place (phase, %, rate, ETA); otherwise a
 * plain line every 10 seconds. Pass cli_progress as a seqlm_progress_fn with a cli_progress_state
 * as its context; cli_progress_end clears the line. */
typedef struct {
    double start, last;
    int tty, shown;
} cli_progress_state;
void cli_progress_begin(cli_progress_state *p);
void cli_progress(void *ctx, const char *phase, uint64_t done, uint64_t total);
void cli_progress_end(cli_progress_state *p);

/* Training progress: a duration as "42s", "3m05s" or "1h02m" ("?" when unknown), and clearing a
 * live line on a terminal (tty) if one is shown (*shown, reset to 0). */
void cli_fmt_time(char *buf, size_t cap, double seconds);
void cli_clear_line(int tty, int *shown);

/* Ctrl-C and SIGTERM ask the library to stop (it cleans up and returns SEQLM_ERR_INTERRUPT); a
 * second Ctrl-C ends the process at once. */
void cli_catch_signals(void);

/* gnuplot (cmd_plot.c): installed?; a temporary file (path in buf, suffix kept); a gnuplot
 * single-quoted string; the terminal for a PNG or SVG of width x height (in buf); runs a script,
 * returning gnuplot's exit status. */
int cli_plot_available(void);
FILE *cli_plot_temp(char *buf, size_t cap, const char *suffix);
void cli_plot_quote(FILE *f, const char *s);
const char *cli_plot_terminal(int svg, char *buf, size_t cap, int width, int height);
int cli_plot_run(const char *script_path);

int cmd_ngram(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_vocab(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_gradflow(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_elmo(int argc, char **argv);

#endif
