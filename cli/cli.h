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
