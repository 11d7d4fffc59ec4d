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
        const char *arg = argv[optind - 1];
        if (optopt && strchr(shortopts, optopt) && c == ':')
            cli_usage(cmd, "option -%c needs a value", optopt);
        else if (optopt)
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
