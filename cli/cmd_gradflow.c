/* cmd_gradflow.c - `seqlm gradflow`: how far back in time the gradient of recurrent language
 * models reaches, ||dJ(T)/dh(T-k)|| per layer (and cell state), as a table, JSON or a gnuplot
 * picture with one curve per model and layer. The measuring is seqlm_gradflow's (seqlm/diag.h);
 * here: options, building untrained models, printing and drawing. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: seqlm gradflow --data FILE (--model MODEL | --arch A)... [options]\n"
    "\n"
    "Measures how far back in time the gradient of a recurrent language model reaches. For\n"
    "windows of T tokens taken evenly from FILE, J(T) is the loss of the prediction at the\n"
    "last step; for k = 0..T-1 the norm of its gradient with respect to each layer's hidden\n"
    "state k steps earlier, ||dJ(T)/dh(T-k)||, is averaged over the windows (one norm per\n"
    "window, then the mean). For LSTMs the cell state's, ||dJ(T)/dc(T-k)||, too. A vanilla\n"
    "RNN's curve falls geometrically (vanishing gradients) or grows (exploding); an LSTM's\n"
    "cell state carries it further. Several models give one curve each, side by side.\n"
    "\n"
    "Models\n"
    "  -m, --model MODEL    a trained model (seqlm train); may be repeated\n"
    "      --arch A         a freshly initialised model: rnn-tanh, rnn-relu, lstm or gru, with\n"
    "                       the vocabulary of --data; may be repeated\n"
    "      --untrained      says that the --arch models are untrained (they always are)\n"
    "      --layers N       --arch: recurrent layers (default 2)\n"
    "      --hidden N       --arch: units per layer (default 200)\n"
    "      --embedding N    --arch: embedding size (default 200)\n"
    "  -u, --unit U         --arch: word (default), char or byte\n"
    "      --seed N         --arch: initialisation (default 1; seqlm train's)\n"
    "Measuring\n"
    "      --data FILE      the text the windows come from (plain or gzip)\n"
    "  -T, --length T       steps per window (default 50)\n"
    "      --windows N      windows measured (default 200)\n"
    "      --batch B        windows run at once (default 20)\n"
    "      --warmup W       steps of the text before each window run first, so the window\n"
    "                       starts from the state training would carry into it; 0: from the\n"
    "                       zero state (default 100)\n"
    "      --threads N      threads (default: all cores)\n"
    "Output\n"
    "      --stat S         mean (default): the arithmetic mean of the norms; geo: their\n"
    "                       geometric mean (10^mean log10), the typical window, less swayed by\n"
    "                       the few largest when norms span orders of magnitude\n"
    "      --normalize      divide each window's norms by its k = 0 norm (the same layer and\n"
    "                       state): the decay alone\n"
    "      --json           one JSON object with every statistic instead of the table\n"
    "      --plot OUT       draw the curves (log scale) into OUT.png or OUT.svg (gnuplot)\n"
    "\n"
    "The table: k, then one column per model, layer (1 = the bottom) and state, e.g. lstm.h2,\n"
    "lstm.c2. Labels are the model files' names (without .safetensors) or the --arch names.\n"
    "\n"
    "example: seqlm gradflow --data ptb.valid.txt --arch rnn-tanh --arch lstm --arch gru\n"
    "             --plot gradflow.svg\n";

#define MAX_MODELS 16

typedef struct {
    char label[64];
    const char *path; /* NULL: untrained */
    seqlm_arch arch;
    seqlm_lm *m;
    seqlm_gradflow_result r;
    double seconds;
} model;

/* The label of a model file: its base name without ".safetensors". */
static void file_label(char *buf, size_t cap, const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(buf, cap, "%s", base);
    size_t n = strlen(buf), e = strlen(".safetensors");
    if (n > e && strcmp(buf + n - e, ".safetensors") == 0) buf[n - e] = '\0';
}

/* The statistic printed for model mo, layer l, state s, k steps back. */
static double stat_of(const seqlm_gradflow_result *r, int l, int s, int k, int geo, int norm) {
    size_t at = (size_t)(l * 2 + s) * r->T;
    if (geo) return pow(10, r->mean_log10[at + k] - (norm ? r->mean_log10[at] : 0));
    return norm ? r->mean_ratio[at + k] : r->mean[at + k];
}

static void json_array(FILE *f, const double *v, int n, int log10s) {
    fputc('[', f);
    for (int k = 0; k < n; k++) {
        double x = log10s ? pow(10, v[k]) : v[k];
        if (isfinite(x))
            fprintf(f, "%s%.6g", k ? "," : "", x);
        else
            fprintf(f, "%snull", k ? "," : "");
    }
    fputc(']', f);
}

static void print_json(FILE *f, const model *ms, int n, const char *data,
                       const seqlm_gradflow_config *gc) {
    fprintf(f, "{\"data\":\"");
    for (const char *c = data; *c; c++) {
        if (*c == '"' || *c == '\\') fputc('\\', f);
        if ((unsigned char)*c >= 0x20) fputc(*c, f);
    }
    fprintf(f, "\",\"length\":%d,\"windows\":%d,\"warmup\":%d,\"models\":[", gc->length,
            gc->windows, gc->warmup);
    for (int i = 0; i < n; i++) {
        const model *mo = &ms[i];
        const seqlm_lm_config *c = seqlm_lm_config_of(mo->m);
        fprintf(f, "%s{\"label\":\"%s\",\"arch\":\"%s\",\"layers\":%d,\"hidden\":%d,", i ? "," : "",
                mo->label, seqlm_arch_name(c->arch), c->layers, c->hidden);
        fprintf(f, "\"trained\":%s,\"curves\":[", mo->path ? "true" : "false");
        int first = 1;
        for (int l = 0; l < mo->r.L; l++)
            for (int s = 0; s < (mo->r.has_cell ? 2 : 1); s++) {
                size_t at = (size_t)(l * 2 + s) * mo->r.T;
                fprintf(f, "%s{\"layer\":%d,\"state\":\"%s\",\"mean\":", first ? "" : ",", l + 1,
                        s ? "c" : "h");
                json_array(f, mo->r.mean + at, mo->r.T, 0);
                fprintf(f, ",\"geomean\":");
                json_array(f, mo->r.mean_log10 + at, mo->r.T, 1);
                fprintf(f, ",\"ratio\":");
                json_array(f, mo->r.mean_ratio + at, mo->r.T, 0);
                fputc('}', f);
                first = 0;
            }
        fprintf(f, "]}");
    }
    fprintf(f, "]}\n");
}

static void print_table(FILE *f, const model *ms, int n, const char *data,
                        const seqlm_gradflow_config *gc, int geo, int norm) {
    fprintf(f, "# %s%s ||dJ(T)/dh(T-k)||%s over %d windows of %d steps from %s (%s)\n",
            geo ? "geometric mean of" : "mean of", norm ? " normalised" : "",
            norm ? " / ||dJ(T)/dh(T)||" : "", gc->windows, gc->length, data,
            gc->warmup ? "warmed-up state" : "zero state");
    fprintf(f, "%4s", "k");
    for (int i = 0; i < n; i++)
        for (int l = 0; l < ms[i].r.L; l++)
            for (int s = 0; s < (ms[i].r.has_cell ? 2 : 1); s++) {
                char col[96];
                snprintf(col, sizeof col, "%.60s.%c%d", ms[i].label, s ? 'c' : 'h', l + 1);
                fprintf(f, "  %12s", col);
            }
    fputc('\n', f);
    for (int k = 0; k < gc->length; k++) {
        fprintf(f, "%4d", k);
        for (int i = 0; i < n; i++)
            for (int l = 0; l < ms[i].r.L; l++)
                for (int s = 0; s < (ms[i].r.has_cell ? 2 : 1); s++)
                    fprintf(f, "  %12.4e", stat_of(&ms[i].r, l, s, k, geo, norm));
        fputc('\n', f);
    }
}

/* One curve per model, layer and state: colour by model, dashes by layer, points for cells. */
static int draw(const char *out, const model *ms, int n, const char *data,
                const seqlm_gradflow_config *gc, int geo, int norm) {
    int svg = strlen(out) > 4 && strcmp(out + strlen(out) - 4, ".svg") == 0;
    char data_path[4096], script_path[4096], term[64];
    FILE *d = cli_plot_temp(data_path, sizeof data_path, ".dat");
    if (!d) return cli_fail("cannot create a temporary file: %s", strerror(errno));
    /* one block per curve: k value */
    int curves = 0;
    for (int i = 0; i < n; i++)
        for (int l = 0; l < ms[i].r.L; l++)
            for (int s = 0; s < (ms[i].r.has_cell ? 2 : 1); s++) {
                fprintf(d, "# %s %c%d\n", ms[i].label, s ? 'c' : 'h', l + 1);
                for (int k = 0; k < gc->length; k++) {
                    double v = stat_of(&ms[i].r, l, s, k, geo, norm);
                    if (isfinite(v) && v > 0) fprintf(d, "%d %.9g\n", k, v);
                }
                fprintf(d, "\n\n");
                curves++;
            }
    if (fclose(d) != 0) {
        remove(data_path);
        return cli_fail("cannot write a temporary file");
    }
    FILE *sc = cli_plot_temp(script_path, sizeof script_path, ".gp");
    if (!sc) {
        remove(data_path);
        return cli_fail("cannot create a temporary file: %s", strerror(errno));
    }
    static const char *const colours[] = {"#e6550d", "#3182bd", "#31a354", "#756bb1",
                                          "#636363", "#d6616b", "#8c6d31", "#17becf"};
    fprintf(sc, "set terminal %s\nset output ",
            cli_plot_terminal(svg, term, sizeof term, 800, 520));
    cli_plot_quote(sc, out);
    fprintf(sc, "\nset logscale y\nset format y '10^{%%L}'\nset grid\nset key outside right top "
                "noenhanced\nset xlabel 'k (steps back from the last)'\n");
    fprintf(sc, "set ylabel '%s'\n",
            norm ? "||dJ(T)/dh(T-k)|| / ||dJ(T)/dh(T)||" : "||dJ(T)/dh(T-k)||");
    fprintf(sc, "set title ");
    char title[512];
    const char *base = strrchr(data, '/');
    snprintf(title, sizeof title, "gradient flow through time: %s over %d windows of %s",
             geo ? "geometric mean" : "mean", gc->windows, base ? base + 1 : data);
    cli_plot_quote(sc, title);
    fprintf(sc, " noenhanced\nplot ");
    int block = 0;
    for (int i = 0; i < n; i++)
        for (int l = 0; l < ms[i].r.L; l++)
            for (int s = 0; s < (ms[i].r.has_cell ? 2 : 1); s++) {
                char label[96];
                snprintf(label, sizeof label, "%.60s %s%d", ms[i].label, s ? "c" : "h", l + 1);
                if (block) fprintf(sc, ", ");
                cli_plot_quote(sc, data_path);
                /* the top layer solid, lower ones dashed; cell states with points */
                int top = l == ms[i].r.L - 1;
                fprintf(sc, " index %d using 1:2 with %s lw %s dt %d lc rgb '%s' %s title ", block,
                        s ? "linespoints" : "lines", top ? "2" : "1.3", top ? 1 : 2, colours[i % 8],
                        s ? "pt 6 ps 0.5" : "");
                cli_plot_quote(sc, label);
                block++;
            }
    fprintf(sc, "\nset output\n");
    if (fclose(sc) != 0) {
        remove(data_path);
        remove(script_path);
        return cli_fail("cannot write a temporary file");
    }
    int rc = cli_plot_run(script_path);
    remove(data_path);
    remove(script_path);
    if (rc != 0) return cli_fail("gnuplot failed (exit status %d) drawing %s", rc, out);
    fprintf(stderr, "seqlm: %s: %d curves\n", out, curves);
    return 0;
}

enum { O_DATA = 256, O_ARCH, O_UNTRAINED, O_WINDOWS, O_WARMUP, O_STAT, O_NORM, O_JSON, O_PLOT };

int cmd_gradflow(int argc, char **argv) {
    static const struct option own[] = {{"model", required_argument, 0, 'm'},
                                        {"arch", required_argument, 0, O_ARCH},
                                        {"untrained", no_argument, 0, O_UNTRAINED},
                                        {"unit", required_argument, 0, 'u'},
                                        {"data", required_argument, 0, O_DATA},
                                        {"length", required_argument, 0, 'T'},
                                        {"windows", required_argument, 0, O_WINDOWS},
                                        {"warmup", required_argument, 0, O_WARMUP},
                                        {"stat", required_argument, 0, O_STAT},
                                        {"normalize", no_argument, 0, O_NORM},
                                        {"json", no_argument, 0, O_JSON},
                                        {"plot", required_argument, 0, O_PLOT},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    const char *cmd = "gradflow", *data = NULL, *plot = NULL;
    model ms[MAX_MODELS];
    memset(ms, 0, sizeof ms);
    int n = 0, untrained = 0, geo = 0, norm = 0, json = 0, threads = 0, c;
    int n_arch = 0, set_unit = 0;
    seqlm_lm_config mc = seqlm_lm_default_config();
    uint64_t seed = 1;
    seqlm_gradflow_config gc = seqlm_gradflow_default_config();
    cli_train_opts t = {.seed = &seed,
                        .threads = &threads,
                        .batch = &gc.batch,
                        .batch_max = 100000,
                        .layers = &mc.layers,
                        .hidden = &mc.hidden,
                        .embedding = &mc.embedding,
                        .size_max = 1 << 20};
    struct option opts[32];
    cli_train_table(opts, sizeof opts / sizeof *opts, &t, own);
    long long v;
    while ((c = cli_getopt(argc, argv, ":m:u:T:h", opts, cmd)) != -1) {
        switch (c) {
        case 'm':
        case O_ARCH:
            if (n == MAX_MODELS) return cli_usage(cmd, "at most %d models", MAX_MODELS);
            if (c == 'm') {
                ms[n].path = optarg;
                file_label(ms[n].label, sizeof ms[n].label, optarg);
            } else {
                if (seqlm_arch_parse(optarg, &ms[n].arch) || ms[n].arch == SEQLM_ARCH_WINDOW)
                    return cli_usage(cmd,
                                     "unknown --arch '%s' (rnn-tanh, rnn-relu, lstm, gru: the "
                                     "window model has no recurrent state)",
                                     optarg);
                snprintf(ms[n].label, sizeof ms[n].label, "%s", seqlm_arch_name(ms[n].arch));
                n_arch++;
            }
            n++;
            break;
        case O_UNTRAINED:
            untrained = 1;
            break;
        case 'u':
            if (cli_unit(cmd, optarg, &mc.unit)) return EXIT_USAGE;
            set_unit = 1;
            break;
        case O_DATA:
            data = optarg;
            break;
        case 'T':
            if (cli_int(optarg, 1, 100000, &v))
                return cli_usage(cmd, "--length must be an integer from 1 to 100000, not '%s'",
                                 optarg);
            gc.length = (int)v;
            break;
        case O_WINDOWS:
            if (cli_int(optarg, 1, 100000000, &v))
                return cli_usage(cmd, "--windows must be an integer >= 1, not '%s'", optarg);
            gc.windows = (int)v;
            break;
        case O_WARMUP:
            if (cli_int(optarg, 0, 100000000, &v))
                return cli_usage(cmd, "--warmup must be an integer >= 0, not '%s'", optarg);
            gc.warmup = (int)v;
            break;
        case O_STAT:
            if (strcmp(optarg, "mean") == 0)
                geo = 0;
            else if (strcmp(optarg, "geo") == 0)
                geo = 1;
            else
                return cli_usage(cmd, "--stat must be mean or geo, not '%s'", optarg);
            break;
        case O_NORM:
            norm = 1;
            break;
        case O_JSON:
            json = 1;
            break;
        case O_PLOT:
            plot = optarg;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            if (cli_train_option(cmd, c, optarg, &t)) return EXIT_USAGE;
        }
    }
    const uint64_t model_opts = CLI_GIVEN(CLI_O_LAYERS) | CLI_GIVEN(CLI_O_HIDDEN) |
                                CLI_GIVEN(CLI_O_EMBEDDING) | CLI_GIVEN(CLI_O_SEED);
    int set_untrained_opts = set_unit || (t.given & model_opts);
    if (optind != argc)
        return cli_usage(cmd, "unexpected argument '%s' (the text goes after --data)",
                         argv[optind]);
    if (!data) return cli_usage(cmd, "missing --data FILE");
    if (!n) return cli_usage(cmd, "no model: give --model MODEL or --arch A (untrained)");
    if (untrained && !n_arch)
        return cli_usage(cmd, "--untrained needs --arch A (rnn-tanh, rnn-relu, lstm, gru)");
    if (set_untrained_opts && !n_arch)
        return cli_usage(cmd, "--layers, --hidden, --embedding, --unit and --seed are for --arch "
                              "(a trained model has its own)");
    if (plot) {
        size_t len = strlen(plot);
        if (len <= 4 || (strcmp(plot + len - 4, ".png") && strcmp(plot + len - 4, ".svg")))
            return cli_usage(cmd, "--plot must name a .png or .svg file, not '%s'", plot);
        if (!cli_plot_available())
            return cli_fail("--plot needs gnuplot, which is not installed (Debian: apt-get "
                            "install gnuplot-nox)");
        if (cli_check_output(plot)) return EXIT_INPUT;
    }
    /* labels must tell the columns apart */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(ms[i].label, ms[j].label) == 0) {
                char tmp[64];
                snprintf(tmp, sizeof tmp, "%.50s#%d", ms[i].label, i + 1);
                snprintf(ms[i].label, sizeof ms[i].label, "%s", tmp);
                break;
            }

    seqlm_set_threads(threads);
    seqlm_error err;
    int rc = 0;
    seqlm_vocab *data_vocab = NULL; /* the vocabulary of --data, for --arch, built once */
    for (int i = 0; i < n && !rc; i++) {
        model *mo = &ms[i];
        if (mo->path) {
            if (!(mo->m = seqlm_lm_load(mo->path, NULL, &err))) {
                rc = cli_fail_err(&err);
                break;
            }
            if (seqlm_lm_config_of(mo->m)->arch == SEQLM_ARCH_WINDOW) {
                rc = cli_fail("%s: a window model (Bengio et al. 2003) has no recurrent state: "
                              "gradflow needs rnn-tanh, rnn-relu, lstm or gru",
                              mo->path);
                break;
            }
        } else {
            if (!data_vocab) {
                seqlm_vocab *all = seqlm_vocab_from_corpus(data, mc.unit, &err);
                if (all) data_vocab = seqlm_vocab_prune(all, 1, 0, &err);
                seqlm_vocab_free(all);
                if (!data_vocab) {
                    rc = cli_fail_err(&err);
                    break;
                }
            }
            seqlm_lm_config cfg = mc;
            cfg.arch = mo->arch;
            seqlm_vocab *v = seqlm_vocab_prune(data_vocab, 1, 0, &err); /* a copy: lm takes it */
            if (!v || !(mo->m = seqlm_lm_create(&cfg, v, &err))) {
                rc = cli_usage(cmd, "%s", err.msg);
                break;
            }
            seqlm_rng rng;
            seqlm_rng_seed(&rng, seed);
            seqlm_lm_reset(mo->m, &rng);
        }
        seqlm_stream s = {0};
        uint64_t oov = 0;
        if (seqlm_stream_read(data, seqlm_lm_vocab(mo->m), seqlm_lm_config_of(mo->m)->unit, &s,
                              &oov, &err) != SEQLM_OK) {
            rc = cli_fail_err(&err);
            break;
        }
        double t0 = cli_now();
        seqlm_status st = seqlm_gradflow(mo->m, &s, &gc, &mo->r, &err);
        mo->seconds = cli_now() - t0;
        seqlm_stream_free(&s);
        if (st != SEQLM_OK) {
            seqlm_error_prefix(&err, "%s", mo->path ? mo->path : data);
            rc = cli_fail_err(&err);
            break;
        }
        const seqlm_lm_config *cfg = seqlm_lm_config_of(mo->m);
        fprintf(stderr, "seqlm: %s: %s %dx%d%s, %d windows in %.1f s\n", mo->label,
                seqlm_arch_name(cfg->arch), cfg->layers, cfg->hidden,
                mo->path ? "" : " (untrained)", gc.windows, mo->seconds);
    }
    if (!rc) {
        if (json)
            print_json(stdout, ms, n, data, &gc);
        else
            print_table(stdout, ms, n, data, &gc, geo, norm);
        if (fflush(stdout) != 0) rc = cli_fail("cannot write the output: %s", strerror(errno));
    }
    if (!rc && plot) rc = draw(plot, ms, n, data, &gc, geo, norm);
    for (int i = 0; i < n; i++) {
        seqlm_gradflow_result_free(&ms[i].r);
        seqlm_lm_free(ms[i].m);
    }
    seqlm_vocab_free(data_vocab);
    return rc;
}
