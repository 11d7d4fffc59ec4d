/* cmd_plot.c - `seqlm plot LOG`: loss and perplexity curves of a training log (the JSON lines
 * `seqlm train --log` writes), drawn by gnuplot into a PNG or SVG file. The log is read here
 * (one flat JSON object per line; only the numbers we plot); the drawing is gnuplot's. */
#define _DEFAULT_SOURCE /* mkstemps */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

static const char plot_help[] =
    "usage: seqlm plot LOG [-o OUT.png|OUT.svg]\n"
    "\n"
    "Draws the training curves of LOG (written by seqlm train --log): the training loss of\n"
    "every progress interval and epoch and the validation loss after every epoch, against\n"
    "updates, with perplexity below. A log written with --diag adds four panels: the gradient\n"
    "norm before clipping (mean and largest per interval), the share of updates clipped,\n"
    "||update|| / ||weights|| per tensor, and the saturation of every gate. Needs gnuplot\n"
    "(Debian: apt-get install gnuplot-nox).\n"
    "\n"
    "  -o, --output OUT     OUT.png (default: LOG with .png) or OUT.svg\n";

/* The number after "key": in a flat JSON object; NAN when absent or null. */
static double field(const char *line, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(line, pat);
    if (!at) return NAN;
    at += strlen(pat);
    char *end;
    double v = strtod(at, &end);
    return end == at ? NAN : v;
}

/* The keys of the flat object "name":{"k1":v1,"k2":v2,...} in line, at most max, each copied
 * into keys[i] (cap bytes). Returns their number. */
#define MAX_KEYS 80
static int object_keys(const char *line, const char *name, char keys[][96], int max) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":{", name);
    const char *at = strstr(line, pat);
    if (!at) return 0;
    at += strlen(pat);
    int n = 0;
    while (*at == '"' && n < max) {
        const char *end = strchr(at + 1, '"');
        if (!end) break;
        snprintf(keys[n++], 96, "%.*s", (int)(end - at - 1), at + 1);
        at = end + 1;
        at += strcspn(at, ",}");
        if (*at != ',') break;
        at++;
    }
    return n;
}

static int has_event(const char *line, const char *name) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"event\":\"%s\"", name);
    return strstr(line, pat) != NULL;
}

/* ---- gnuplot, shared with cmd_gradflow.c (cli.h) -------------------------------------------- */

/* 1 if an executable named prog is on PATH. */
static int on_path(const char *prog) {
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    char dir[4096];
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(dir, sizeof dir, "%.*s/%s", (int)n, path, prog);
        if (n && access(dir, X_OK) == 0) return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

static int run_quiet(const char *cmd) {
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

int cli_plot_available(void) {
    return on_path("gnuplot");
}

FILE *cli_plot_temp(char *buf, size_t cap, const char *suffix) {
    const char *dir = getenv("TMPDIR");
    snprintf(buf, cap, "%s/seqlm-plot-XXXXXX%s", dir && *dir ? dir : "/tmp", suffix);
    int fd = mkstemps(buf, (int)strlen(suffix));
    return fd < 0 ? NULL : fdopen(fd, "w");
}

void cli_plot_quote(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

const char *cli_plot_terminal(int svg, char *buf, size_t cap, int width, int height) {
    if (svg)
        snprintf(buf, cap, "svg size %d,%d dynamic", width, height);
    else
        snprintf(buf, cap, "%s size %d,%d",
                 run_quiet("gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1") == 0 ? "pngcairo"
                                                                                      : "png",
                 width, height);
    return buf;
}

int cli_plot_run(const char *script_path) {
    char command[8400];
    snprintf(command, sizeof command, "gnuplot '%s' 2>&1", script_path);
    return run_quiet(command);
}

/* ---- seqlm plot ------------------------------------------------------------------------------ */

int cmd_plot(int argc, char **argv) {
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *cmd = "plot", *out = NULL;
    int c;
    while ((c = cli_getopt(argc, argv, ":o:h", opts, cmd)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'h':
            fputs(plot_help, stdout);
            return 0;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) return cli_usage(cmd, optind == argc ? "missing LOG" : "one LOG only");
    const char *log = argv[optind];
    char outbuf[4096];
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "%s", log);
        char *dot = strrchr(outbuf, '.'), *slash = strrchr(outbuf, '/');
        if (dot && (!slash || dot > slash)) *dot = '\0';
        strncat(outbuf, ".png", sizeof outbuf - strlen(outbuf) - 1);
        out = outbuf;
    }
    int svg = strlen(out) > 4 && strcmp(out + strlen(out) - 4, ".svg") == 0;
    int png = strlen(out) > 4 && strcmp(out + strlen(out) - 4, ".png") == 0;
    if (!svg && !png) return cli_usage(cmd, "-o must name a .png or .svg file, not '%s'", out);
    if (!cli_plot_available())
        return cli_fail("seqlm plot needs gnuplot, which is not installed (Debian: apt-get "
                        "install gnuplot-nox)");

    FILE *in = fopen(log, "r");
    if (!in) return cli_fail("%s: cannot open: %s", log, strerror(errno));
    char data_path[4096], script_path[4096];
    FILE *data = cli_plot_temp(data_path, sizeof data_path, ".dat");
    if (!data) {
        fclose(in);
        return cli_fail("cannot create a temporary file: %s", strerror(errno));
    }
    /* block 0: intervals (step, loss, ppl); block 1: epochs (step, loss, ppl, valid, valid ppl);
     * block 2 (--diag logs): step, grad norm mean, max, clipped, the update ratios, the
     * saturations (the keys of the first diag line) */
    static char line[1 << 16];
    static char ratio_keys[MAX_KEYS][96], sat_keys[MAX_KEYS][96];
    int n_ratio = 0, n_sat = 0;
    size_t n_diag = 0;
    size_t n_iv = 0, n_ep = 0, lineno = 0, bad = 0;
    fprintf(data, "# intervals: step loss ppl\n");
    while (fgets(line, sizeof line, in)) {
        lineno++;
        if (line[0] != '{') {
            bad++;
            continue;
        }
        if (!has_event(line, "interval")) continue;
        double s = field(line, "step"), l = field(line, "loss");
        if (isfinite(s) && isfinite(l)) {
            fprintf(data, "%.17g %.17g %.17g\n", s, l, exp(l));
            n_iv++;
        }
    }
    if (!n_iv) fprintf(data, "nan nan nan\n");
    fprintf(data, "\n\n# epochs: step loss ppl valid_loss valid_ppl epoch\n");
    rewind(in);
    while (fgets(line, sizeof line, in)) {
        if (line[0] != '{' || !has_event(line, "epoch")) continue;
        double s = field(line, "step"), l = field(line, "loss"), v = field(line, "valid_loss");
        if (!isfinite(s)) continue;
        fprintf(data, "%.17g %.17g %.17g %.17g %.17g %d\n", s, l, exp(l), v, exp(v),
                (int)field(line, "epoch"));
        n_ep++;
    }
    if (!n_ep) fprintf(data, "nan nan nan nan nan 0\n");
    fprintf(data, "\n\n# diagnostics: step grad_mean grad_max clipped ratios... saturations...\n");
    rewind(in);
    while (fgets(line, sizeof line, in)) {
        if (line[0] != '{' || !has_event(line, "interval") || !strstr(line, "\"diag\":{")) continue;
        double s = field(line, "step");
        if (!isfinite(s)) continue;
        if (!n_diag) {
            n_ratio = object_keys(line, "update_ratio", ratio_keys, MAX_KEYS);
            n_sat = object_keys(line, "saturation", sat_keys, MAX_KEYS);
        }
        fprintf(data, "%.17g %.17g %.17g %.17g", s, field(line, "grad_norm"),
                field(line, "grad_norm_max"), field(line, "clipped"));
        for (int i = 0; i < n_ratio; i++) fprintf(data, " %.17g", field(line, ratio_keys[i]));
        for (int i = 0; i < n_sat; i++) fprintf(data, " %.17g", field(line, sat_keys[i]));
        fputc('\n', data);
        n_diag++;
    }
    if (!n_diag) fprintf(data, "nan nan nan nan\n");
    fclose(in);
    if (fclose(data) != 0) {
        remove(data_path);
        return cli_fail("cannot write a temporary file");
    }
    if (n_iv + n_ep == 0) {
        remove(data_path);
        return cli_fail("%s: no training progress to plot (%zu lines%s; written by seqlm train "
                        "--log?)",
                        log, lineno, bad ? ", not JSON" : "");
    }

    FILE *sc = cli_plot_temp(script_path, sizeof script_path, ".gp");
    if (!sc) {
        remove(data_path);
        return cli_fail("cannot create a temporary file: %s", strerror(errno));
    }
    char term[64];
    fprintf(sc, "set terminal %s\nset output ",
            cli_plot_terminal(svg, term, sizeof term, n_diag ? 1200 : 900, n_diag ? 1050 : 700));
    cli_plot_quote(sc, out);
    fprintf(sc,
            "\nset datafile missing 'nan'\nset key top right\nset grid\n"
            "set multiplot layout %s title ",
            n_diag ? "3,2" : "2,1");
    cli_plot_quote(sc, log);
    fprintf(sc, " noenhanced\nset xlabel 'updates'\nset ylabel 'loss (nats per token)'\n");
    const char *d = data_path;
    fprintf(sc, "plot ");
    cli_plot_quote(sc, d);
    fprintf(sc, " index 0 using 1:2 with lines lc rgb '#9ecae1' title 'train (interval)', ");
    cli_plot_quote(sc, d);
    fprintf(sc,
            " index 1 using 1:2 with linespoints lc rgb '#3182bd' pt 7 title 'train (epoch)', ");
    cli_plot_quote(sc, d);
    fprintf(sc, " index 1 using 1:4 with linespoints lc rgb '#e6550d' pt 5 title 'valid'\n");
    fprintf(sc, "set logscale y\nset ylabel 'perplexity'\nplot ");
    cli_plot_quote(sc, d);
    fprintf(sc, " index 0 using 1:3 with lines lc rgb '#9ecae1' title 'train (interval)', ");
    cli_plot_quote(sc, d);
    fprintf(sc,
            " index 1 using 1:3 with linespoints lc rgb '#3182bd' pt 7 title 'train (epoch)', ");
    cli_plot_quote(sc, d);
    fprintf(sc, " index 1 using 1:5 with linespoints lc rgb '#e6550d' pt 5 title 'valid'\n");
    if (n_diag) {
        fprintf(sc, "unset logscale y\nset ylabel 'gradient norm before clipping'\nplot ");
        cli_plot_quote(sc, d);
        fprintf(sc, " index 2 using 1:2 with lines lc rgb '#3182bd' title 'mean', ");
        cli_plot_quote(sc, d);
        fprintf(sc, " index 2 using 1:3 with lines lc rgb '#e6550d' title 'largest'\n");
        fprintf(sc, "set ylabel 'share of updates clipped'\nset yrange [0:1.05]\nplot ");
        cli_plot_quote(sc, d);
        fprintf(sc, " index 2 using 1:4 with lines lc rgb '#756bb1' title 'clipped'\n");
        fprintf(sc, "set autoscale y\nset logscale y\nset key outside right top noenhanced "
                    "font ',8'\nset ylabel '||update|| / ||weights||'\nplot ");
        for (int i = 0; i < n_ratio; i++) {
            if (i) fprintf(sc, ", ");
            cli_plot_quote(sc, d);
            fprintf(sc, " index 2 using 1:%d with lines lc %d dt %d title ", 5 + i, 1 + i % 8,
                    1 + i / 8); /* gnuplot cycles 8 colours: dashes tell the rest apart */
            cli_plot_quote(sc, ratio_keys[i]);
        }
        if (!n_ratio) fprintf(sc, "1 notitle");
        fprintf(sc, "\nunset logscale y\nset yrange [0:%s]\n", n_sat ? "*" : "1");
        if (!n_sat) /* the window model: an empty panel that says so */
            fprintf(sc, "set label 1 'no gates (window model)' at graph 0.5,0.5 center\n");
        fprintf(sc, "set ylabel 'gate saturation (share flat)'\nplot ");
        for (int i = 0; i < n_sat; i++) {
            if (i) fprintf(sc, ", ");
            cli_plot_quote(sc, d);
            fprintf(sc, " index 2 using 1:%d with lines lc %d dt %d title ", 5 + n_ratio + i,
                    1 + i % 8, 1 + i / 8);
            cli_plot_quote(sc, sat_keys[i]);
        }
        if (!n_sat) fprintf(sc, "-1 notitle");
        fputc('\n', sc);
    }
    fprintf(sc, "unset multiplot\nset output\n");
    if (fclose(sc) != 0) {
        remove(data_path);
        remove(script_path);
        return cli_fail("cannot write a temporary file");
    }
    int rc = cli_plot_run(script_path);
    remove(data_path);
    remove(script_path);
    if (rc != 0) return cli_fail("gnuplot failed (exit status %d) drawing %s", rc, out);
    fprintf(stderr, "seqlm: %s: %zu intervals, %zu epochs%s\n", out, n_iv, n_ep,
            n_diag ? ", diagnostics" : "");
    return 0;
}
