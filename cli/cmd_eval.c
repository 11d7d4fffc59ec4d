/* cmd_eval.c - `seqlm eval`: perplexity of a text under a neural model, an n-gram model, or a
 * linear interpolation of the two. Option parsing, the per-token bookkeeping interpolation needs
 * and printing; the models are evaluated by seqlm_lm_eval and seqlm_ngram_eval. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define LN10 2.302585092994045684 /* LN10 is not C11 */
#define LN2  0.693147180559945309

static const char help[] =
    "usage: seqlm eval -m MODEL [options] TEXT.txt\n"
    "\n"
    "Perplexity of TEXT.txt (plain or gzip; '-' reads standard input) under MODEL, by the\n"
    "protocol of BENCHMARKS.md: each line's tokens and then </s> are predicted, the first from\n"
    "</s> as context; tokens outside the vocabulary are predicted as <unk> and counted as OOVs.\n"
    "MODEL is a neural model (safetensors from `seqlm train`) or an n-gram model (ARPA, ARPA.gz\n"
    "or seqlm's binary form), which reports the same figures: natural-log totals over every\n"
    "token and every </s>.\n"
    "\n"
    "  -m, --model MODEL    the model\n"
    "      --json           one JSON object: perplexity, tokens, nll, bpc, oov (and weight)\n"
    "      --per-token      a line per predicted token, in text order: TOKEN<TAB>LOGPROB\n"
    "                       (natural log), before the summary; evaluates with batch 1\n"
    "  -b, --batch B        neural models: the text is cut into B columns, each from a zero\n"
    "                       state; 1 keeps one unbroken state (default 10, as torch_lm.py)\n"
    "      --bptt T         neural models: steps per window; the state carries over (default 35)\n"
    "      --mix NGRAM      interpolate the neural MODEL with an n-gram model of the same unit,\n"
    "                       token by token: p = w p_neural + (1 - w) p_ngram (batch 1)\n"
    "  -w, --weight W       the neural weight w in [0, 1]\n"
    "      --tune VALID     choose w maximising the likelihood of VALID.txt (golden-section\n"
    "                       search on [0, 1]; the weight is printed)\n"
    "      --threads N      threads for the neural model (default: all cores)\n"
    "      --precision P    recurrent models: fp32 (default) or bf16, which rounds the output\n"
    "                       layer's inputs and weights to bfloat16 and sums in fp32 (CPUs with\n"
    "                       AVX512_BF16): 1.35-1.6x as fast; log-probabilities move by 0.003\n"
    "                       nats on average, perplexity by about 0.005% (docs/eval.md)\n"
    "\n"
    "Output (plain): KEY<TAB>VALUE lines perplexity, tokens, nll (nats), bpc (nll / tokens /\n"
    "ln 2: bits per character for char and byte models), oov, and weight when mixing.\n"
    "\n"
    "examples: seqlm eval -m lstm.safetensors ptb.test.txt\n"
    "          seqlm eval -m lstm.safetensors --mix kn5.arpa --tune ptb.valid.txt ptb.test.txt\n";

/* --- per-token scores --------------------------------------------------------------------------
 */

/* Natural-log probabilities of a text's targets in text order, with their tokens (kept only when
 * printed). */
typedef struct {
    double *lp;
    size_t n, cap;
    char *text; /* the tokens, each NUL-terminated */
    size_t len, text_cap;
    int keep_text;
    FILE *print; /* print each token as it comes, or NULL */
} scores;

static int scores_add(scores *s, const char *token, double lp) {
    if (s->print) {
        fprintf(s->print, "%s\t%.6f\n", token, lp);
        return 0;
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 4096;
        double *q = realloc(s->lp, nc * sizeof *q);
        if (!q) return -1;
        s->lp = q;
        s->cap = nc;
    }
    s->lp[s->n++] = lp;
    if (s->keep_text) {
        size_t tl = strlen(token) + 1;
        if (s->len + tl > s->text_cap) {
            size_t nc = s->text_cap ? 2 * s->text_cap : 65536;
            while (nc < s->len + tl) nc *= 2;
            char *q = realloc(s->text, nc);
            if (!q) return -1;
            s->text = q;
            s->text_cap = nc;
        }
        memcpy(s->text + s->len, token, tl);
        s->len += tl;
    }
    return 0;
}

static void scores_free(scores *s) {
    free(s->lp);
    free(s->text);
    memset(s, 0, sizeof *s);
}

static int neural_token(void *ctx, const char *token, double logprob) {
    return scores_add(ctx, token, logprob);
}

static int ngram_token(void *ctx, const char *token, uint32_t id, float log10_p, int matched) {
    (void)id;
    (void)matched;
    return scores_add(ctx, token, (double)log10_p * LN10);
}

/* ln(w e^a + (1 - w) e^b), without underflow. */
static double mix_log(double w, double a, double b) {
    if (w <= 0.0) return b;
    if (w >= 1.0) return a;
    double x = log(w) + a, y = log1p(-w) + b, m = x > y ? x : y;
    return m + log(exp(x - m) + exp(y - m));
}

static double mix_total(double w, const scores *nn, const scores *ng) {
    double s = 0.0;
    for (size_t i = 0; i < nn->n; i++) s += mix_log(w, nn->lp[i], ng->lp[i]);
    return s;
}

/* The log-likelihood is concave in w (a sum of logs of functions linear in w), so golden-section
 * search finds its maximum on [0, 1]; the ends are compared too (the optimum may be at one). */
static double tune_weight(const scores *nn, const scores *ng) {
    const double g = (sqrt(5.0) - 1.0) / 2.0;
    double a = 0.0, b = 1.0, c = b - g * (b - a), d = a + g * (b - a);
    double fc = mix_total(c, nn, ng), fd = mix_total(d, nn, ng);
    while (b - a > 1e-7) {
        if (fc >= fd) {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = mix_total(c, nn, ng);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = mix_total(d, nn, ng);
        }
    }
    double w = (a + b) / 2, best = mix_total(w, nn, ng);
    if (mix_total(0.0, nn, ng) > best) w = 0.0, best = mix_total(0.0, nn, ng);
    if (mix_total(1.0, nn, ng) > best) w = 1.0;
    return w;
}

/* Scores path under both models, token by token; 0 or an exit status. */
static int score_both(seqlm_lm *lm, const seqlm_ngram_model *ng, const char *path, int keep_text,
                      scores *a, scores *b, uint64_t *oov) {
    seqlm_error err;
    seqlm_lm_eval_result r;
    a->keep_text = keep_text;
    if (seqlm_lm_eval(lm, path, 1, 35, neural_token, a, &r, &err) != SEQLM_OK)
        return cli_fail_err(&err);
    *oov = r.oov;
    seqlm_ngram_eval_result q;
    if (seqlm_ngram_eval(ng, path, ngram_token, NULL, b, &q, &err) != SEQLM_OK)
        return cli_fail_err(&err);
    if (a->n != b->n)
        return cli_fail("%s: the neural and n-gram models count %zu and %zu tokens; they must "
                        "read the text the same way",
                        path, a->n, b->n);
    return 0;
}

/* --- output ------------------------------------------------------------------------------------
 */

static void print_result(int json, double nll, uint64_t tokens, uint64_t oov, double weight) {
    double ppl = exp(nll / (double)tokens), bpc = nll / (double)tokens / LN2;
    if (json) {
        printf("{\"perplexity\": %.6f, \"tokens\": %" PRIu64 ", \"nll\": %.6f, \"bpc\": %.6f, "
               "\"oov\": %" PRIu64,
               ppl, tokens, nll, bpc, oov);
        if (weight >= 0) printf(", \"weight\": %.6f", weight);
        printf("}\n");
    } else {
        printf("perplexity\t%.6f\ntokens\t%" PRIu64 "\nnll\t%.6f\nbpc\t%.6f\noov\t%" PRIu64 "\n",
               ppl, tokens, nll, bpc, oov);
        if (weight >= 0) printf("weight\t%.6f\n", weight);
    }
}

/* --- the command -------------------------------------------------------------------------------
 */

int cmd_eval(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"json", no_argument, 0, 'j'},
        {"per-token", no_argument, 0, 'T'},     {"batch", required_argument, 0, 'b'},
        {"bptt", required_argument, 0, 'p'},    {"mix", required_argument, 0, 'x'},
        {"weight", required_argument, 0, 'w'},  {"tune", required_argument, 0, 'u'},
        {"threads", required_argument, 0, 't'}, {"precision", required_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *cmd = "eval", *model = NULL, *mix = NULL, *tune = NULL;
    int json = 0, per_token = 0, batch_given = 0, c;
    long long batch = 10, bptt = 35, threads = -1;
    double weight = -1.0;
    seqlm_precision prec = SEQLM_PRECISION_FP32;
    while ((c = cli_getopt(argc, argv, ":m:b:w:h", opts, cmd)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'T':
            per_token = 1;
            break;
        case 'b':
            if (cli_int(optarg, 1, 1000000, &batch))
                return cli_usage(cmd, "--batch must be an integer from 1 to 1000000, not '%s'",
                                 optarg);
            batch_given = 1;
            break;
        case 'p':
            if (cli_int(optarg, 1, 1000000, &bptt))
                return cli_usage(cmd, "--bptt must be an integer from 1 to 1000000, not '%s'",
                                 optarg);
            break;
        case 'x':
            mix = optarg;
            break;
        case 'w':
            if (cli_double(optarg, 0.0, 1.0, &weight))
                return cli_usage(cmd, "--weight must be a number in [0, 1], not '%s'", optarg);
            break;
        case 'u':
            tune = optarg;
            break;
        case 't':
            if (cli_int(optarg, 1, 4096, &threads))
                return cli_usage(cmd, "--threads must be an integer from 1 to 4096, not '%s'",
                                 optarg);
            break;
        case 'P':
            if (strcmp(optarg, "fp32") == 0)
                prec = SEQLM_PRECISION_FP32;
            else if (strcmp(optarg, "bf16") == 0)
                prec = SEQLM_PRECISION_BF16;
            else
                return cli_usage(cmd, "--precision must be fp32 or bf16, not '%s'", optarg);
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            return EXIT_USAGE;
        }
    }
    if (!model) return cli_usage(cmd, "missing -m MODEL");
    if (optind + 1 != argc)
        return cli_usage(cmd, optind == argc ? "missing TEXT.txt" : "one TEXT.txt only");
    const char *text = argv[optind];
    if ((weight >= 0 || tune) && !mix) return cli_usage(cmd, "--weight and --tune need --mix");
    if (mix && (weight >= 0) == (tune != NULL))
        return cli_usage(cmd, "--mix needs either --weight W or --tune VALID.txt");
    if ((per_token || mix) && batch_given && batch != 1)
        return cli_usage(cmd, "%s evaluates with batch 1 (one unbroken state); drop --batch",
                         per_token ? "--per-token" : "--mix");
    if (mix && (strcmp(text, "-") == 0 || (tune && strcmp(tune, "-") == 0)))
        return cli_usage(cmd, "--mix reads each text twice (once per model): give files, not '-'");
    if (per_token || mix) batch = 1;
    if (threads > 0) seqlm_set_threads((int)threads);

    int kind = cli_is_safetensors(model);
    if (kind < 0) return cli_fail("%s: cannot open the model: %s", model, strerror(errno));
    seqlm_error err;
    if (kind == 0) { /* an n-gram model */
        if (prec != SEQLM_PRECISION_FP32)
            return cli_usage(cmd, "--precision is for neural models; %s is an n-gram model", model);
        if (mix)
            return cli_usage(cmd,
                             "--mix interpolates a neural MODEL with an n-gram model; %s is "
                             "not a neural model",
                             model);
        seqlm_ngram_model *lm = seqlm_ngram_load(model, &err);
        if (!lm) return cli_fail_err(&err);
        scores s = {0};
        s.print = stdout;
        seqlm_ngram_eval_result r;
        seqlm_status st =
            seqlm_ngram_eval(lm, text, per_token ? ngram_token : NULL, NULL, &s, &r, &err);
        seqlm_ngram_free(lm);
        if (st != SEQLM_OK) return cli_fail_err(&err);
        print_result(json, -r.log10_prob * LN10, r.tokens, r.oov, -1.0);
        return 0;
    }

    seqlm_lm *lm = seqlm_lm_load(model, NULL, &err);
    if (!lm) return cli_fail_err(&err);
    if (prec != SEQLM_PRECISION_FP32 && seqlm_lm_config_of(lm)->arch == SEQLM_ARCH_WINDOW) {
        seqlm_lm_free(lm);
        return cli_usage(cmd, "--precision bf16 is for recurrent models; %s is a window model",
                         model);
    }
    if (seqlm_lm_set_eval_precision(lm, prec, &err) != SEQLM_OK) {
        seqlm_lm_free(lm);
        return cli_fail("--precision bf16: %s", err.msg);
    }
    int rc = 0;
    if (!mix) {
        scores s = {0};
        s.print = stdout;
        seqlm_lm_eval_result r;
        cli_catch_signals();
        if (seqlm_lm_eval(lm, text, (int)batch, (int)bptt, per_token ? neural_token : NULL, &s, &r,
                          &err) != SEQLM_OK)
            rc = cli_fail_err(&err);
        else
            print_result(json, r.nll, r.tokens, r.oov, -1.0);
        seqlm_lm_free(lm);
        return rc;
    }

    seqlm_ngram_model *ng = seqlm_ngram_load(mix, &err);
    if (!ng) {
        seqlm_lm_free(lm);
        return cli_fail_err(&err);
    }
    seqlm_unit u1 = seqlm_lm_config_of(lm)->unit, u2 = seqlm_ngram_unit(ng);
    scores a = {0}, b = {0};
    uint64_t oov = 0;
    if (u1 != u2) {
        rc = cli_fail("%s is a %s-level model but %s is %s-level; --mix needs the same unit", model,
                      seqlm_unit_name(u1), mix, seqlm_unit_name(u2));
        goto done;
    }
    cli_catch_signals();
    if (tune) {
        if ((rc = score_both(lm, ng, tune, 0, &a, &b, &oov))) goto done;
        weight = tune_weight(&a, &b);
        fprintf(stderr, "seqlm: tuned on %s: neural weight %.6f (perplexity %.4f)\n", tune, weight,
                exp(-mix_total(weight, &a, &b) / (double)a.n));
        scores_free(&a);
        scores_free(&b);
    }
    if ((rc = score_both(lm, ng, text, per_token, &a, &b, &oov))) goto done;
    double total = 0.0;
    const char *tok = a.text;
    for (size_t i = 0; i < a.n; i++) {
        double l = mix_log(weight, a.lp[i], b.lp[i]);
        total += l;
        if (per_token) {
            printf("%s\t%.6f\n", tok, l);
            tok += strlen(tok) + 1;
        }
    }
    print_result(json, -total, a.n, oov, weight);
done:
    scores_free(&a);
    scores_free(&b);
    seqlm_ngram_free(ng);
    seqlm_lm_free(lm);
    return rc;
}
