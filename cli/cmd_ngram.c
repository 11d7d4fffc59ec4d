/* cmd_ngram.c - `seqlm ngram train|eval|sample|convert`: option parsing and printing only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* --- train ----------------------------------------------------------------------------------- */

static const char train_help[] =
    "usage: seqlm ngram train --order N -o OUT [options] TRAIN.txt\n"
    "\n"
    "Estimates an n-gram language model from TRAIN.txt (one sentence per line; plain or gzip;\n"
    "'-' reads standard input). Each line is scored as <s> w1 .. wn </s>.\n"
    "\n"
    "  -n, --order N        order of the model, 1 to 10 (default 3)\n"
    "  -s, --smoothing S    mkn   interpolated modified Kneser-Ney, as KenLM (default)\n"
    "                       kn    interpolated Kneser-Ney, one discount per order\n"
    "                       wb    interpolated Witten-Bell\n"
    "                       katz  Good-Turing discounts with Katz backoff\n"
    "                       add   add-delta (--delta 1 is Laplace), backed off\n"
    "                       mle   maximum likelihood (unseen words in a seen context get 0)\n"
    "      --delta D        add-delta's delta, > 0 (default 1)\n"
    "  -u, --unit U         word (default), char (Unicode code points) or byte\n"
    "      --min-count C    tokens seen fewer than C times become <unk> (default 1)\n"
    "      --max-vocab V    keep at most V vocabulary entries, most frequent first\n"
    "      --vocab FILE     use this vocabulary (seqlm vocab); other tokens become <unk>\n"
    "      --prune P,P,..   per order from 1: drop n-grams seen at most P times (unigrams are\n"
    "                       never dropped; the last value repeats; default none)\n"
    "  -o, --output OUT     OUT.arpa or OUT.arpa.gz: ARPA text; anything else: seqlm's\n"
    "                       binary form (memory-mapped, loads at once)\n"
    "  -q, --quiet          no summary on stderr\n"
    "\n"
    "When discounts cannot be estimated (too little data) the model is still built with\n"
    "documented fallbacks (Kneser-Ney: D1=0.5 D2=1 D3+=1.5) and a warning says so.\n"
    "\n"
    "example: seqlm ngram train --order 5 -o brown.arpa.gz brown.train.txt\n";

static int ngram_train(int argc, char **argv) {
    static const struct option opts[] = {{"order", required_argument, 0, 'n'},
                                         {"smoothing", required_argument, 0, 's'},
                                         {"delta", required_argument, 0, 'd'},
                                         {"unit", required_argument, 0, 'u'},
                                         {"min-count", required_argument, 0, 'c'},
                                         {"max-vocab", required_argument, 0, 'V'},
                                         {"vocab", required_argument, 0, 'v'},
                                         {"prune", required_argument, 0, 'p'},
                                         {"output", required_argument, 0, 'o'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *cmd = "ngram train";
    seqlm_ngram_options opt = seqlm_ngram_default_options();
    opt.warn = cli_warn;
    const char *out = NULL;
    int quiet = 0, c;
    long long v;
    double d;
    while ((c = cli_getopt(argc, argv, ":n:s:d:u:c:V:v:p:o:qh", opts, cmd)) != -1) {
        switch (c) {
        case 'n':
            if (cli_int(optarg, 1, SEQLM_NGRAM_MAX_ORDER, &v))
                return cli_usage(cmd, "--order must be an integer from 1 to %d, not '%s'",
                                 SEQLM_NGRAM_MAX_ORDER, optarg);
            opt.order = (int)v;
            break;
        case 's':
            if (seqlm_smoothing_parse(optarg, &opt.smoothing))
                return cli_usage(cmd, "unknown smoothing '%s' (mkn, kn, wb, katz, add, mle)",
                                 optarg);
            break;
        case 'd':
            if (cli_double(optarg, 1e-300, 1e300, &d))
                return cli_usage(cmd, "--delta must be a number > 0, not '%s'", optarg);
            opt.delta = d;
            break;
        case 'u':
            if (cli_unit(cmd, optarg, &opt.unit)) return EXIT_USAGE;
            break;
        case 'c':
            if (cli_int(optarg, 1, INT64_MAX, &v))
                return cli_usage(cmd, "--min-count must be an integer >= 1, not '%s'", optarg);
            opt.min_count = (uint64_t)v;
            break;
        case 'V':
            if (cli_int(optarg, 4, UINT32_MAX - 1, &v))
                return cli_usage(cmd, "--max-vocab must be an integer >= 4, not '%s'", optarg);
            opt.max_vocab = (size_t)v;
            break;
        case 'v':
            opt.vocab_path = optarg;
            break;
        case 'p': {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", optarg);
            int k = 0;
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                if (k >= SEQLM_NGRAM_MAX_ORDER || cli_int(tok, 0, UINT32_MAX, &v))
                    return cli_usage(cmd, "--prune takes counts separated by commas, not '%s'",
                                     optarg);
                opt.prune[k++] = (uint64_t)v;
            }
            if (k == 0) return cli_usage(cmd, "--prune needs at least one count");
            if (opt.prune[0] != 0)
                return cli_usage(cmd, "--prune: unigrams cannot be pruned (use 0 first)");
            for (; k < SEQLM_NGRAM_MAX_ORDER; k++) opt.prune[k] = opt.prune[k - 1];
            break;
        }
        case 'o':
            out = optarg;
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
    if (optind + 1 != argc)
        return cli_usage(cmd, optind == argc ? "missing TRAIN.txt" : "one TRAIN.txt only");
    if (!out) return cli_usage(cmd, "missing -o OUT");
    if (opt.vocab_path && (opt.min_count > 1 || opt.max_vocab))
        return cli_usage(cmd, "--vocab cannot be combined with --min-count or --max-vocab");
    if (cli_check_output(out)) return EXIT_INPUT;
    double t0 = cli_now();
    seqlm_error err;
    cli_progress_state progress;
    cli_progress_begin(&progress);
    if (!quiet) {
        opt.progress = cli_progress;
        opt.progress_ctx = &progress;
    }
    cli_catch_signals();
    seqlm_ngram_model *lm = seqlm_ngram_train(argv[optind], &opt, &err);
    cli_progress_end(&progress);
    if (!lm) return cli_fail_err(&err);
    if (seqlm_ngram_write(lm, out, &err) != SEQLM_OK) {
        seqlm_ngram_free(lm);
        return cli_fail_err(&err);
    }
    if (!quiet) {
        fprintf(stderr, "seqlm: %s order %d (%s): ", out, opt.order,
                seqlm_smoothing_name(opt.smoothing));
        for (int n = 1; n <= opt.order; n++)
            fprintf(stderr, "%s%" PRIu64 " %d-grams", n > 1 ? ", " : "", seqlm_ngram_count(lm, n),
                    n);
        fprintf(stderr, "; %.2f s\n", cli_now() - t0);
    }
    seqlm_ngram_free(lm);
    return 0;
}

/* --- eval ------------------------------------------------------------------------------------ */

static const char eval_help[] =
    "usage: seqlm ngram eval -m MODEL [--json] [--per-sentence | --per-token] TEXT.txt\n"
    "\n"
    "Perplexity of TEXT.txt under MODEL (ARPA from seqlm, KenLM or SRILM, or seqlm's binary),\n"
    "the way KenLM's query reports it: every token and each line's </s> is scored, <s> is not;\n"
    "tokens outside the vocabulary (and a literal <unk>) are OOVs, scored as <unk>.\n"
    "\n"
    "  -m, --model MODEL    the model\n"
    "      --json           one JSON object: perplexity, perplexity_excl_oov, oov, tokens,\n"
    "                       log10_prob (plus sentences, log10_prob_oov, load_seconds,\n"
    "                       eval_seconds, tokens_per_s)\n"
    "      --per-sentence   a line per sentence: LINE<TAB>LOG10PROB<TAB>TOKENS<TAB>OOVS\n"
    "      --per-token      a line per scored token: TOKEN<TAB>LOG10PROB<TAB>NGRAM_ORDER,\n"
    "                       a blank line after each sentence's </s>\n"
    "                       (the summary below follows these lines)\n"
    "\n"
    "Output (plain):\n"
    "  Perplexity including OOVs:<TAB>P\n  Perplexity excluding OOVs:<TAB>P\n"
    "  OOVs:<TAB>N\n  Tokens:<TAB>N\n";

typedef struct {
    FILE *out;
    int per_token;
} eval_ctx;

static int print_token(void *ctx, const char *token, uint32_t id, float log10_p, int matched) {
    eval_ctx *e = ctx;
    (void)id;
    fprintf(e->out, "%s\t%.6f\t%d\n", token, log10_p, matched);
    if (strcmp(token, "</s>") == 0) fputc('\n', e->out);
    return 0;
}

static int print_sentence(void *ctx, uint64_t line, double log10_p, uint64_t tokens, uint64_t oov) {
    eval_ctx *e = ctx;
    fprintf(e->out, "%" PRIu64 "\t%.6f\t%" PRIu64 "\t%" PRIu64 "\n", line, log10_p, tokens, oov);
    return 0;
}

static int ngram_eval(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"json", no_argument, 0, 'j'},
        {"per-sentence", no_argument, 0, 'S'}, {"per-token", no_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *cmd = "ngram eval", *model = NULL;
    int json = 0, per_sentence = 0, per_token = 0, c;
    while ((c = cli_getopt(argc, argv, ":m:h", opts, cmd)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'S':
            per_sentence = 1;
            break;
        case 'T':
            per_token = 1;
            break;
        case 'h':
            fputs(eval_help, stdout);
            return 0;
        default:
            return EXIT_USAGE;
        }
    }
    if (!model) return cli_usage(cmd, "missing -m MODEL");
    if (optind + 1 != argc)
        return cli_usage(cmd, optind == argc ? "missing TEXT.txt" : "one TEXT.txt only");
    if (per_sentence && per_token)
        return cli_usage(cmd, "--per-sentence and --per-token exclude each other");
    seqlm_error err;
    double t0 = cli_now();
    seqlm_ngram_model *lm = seqlm_ngram_load(model, &err);
    if (!lm) return cli_fail_err(&err);
    double t1 = cli_now();
    eval_ctx ctx = {stdout, per_token};
    seqlm_ngram_eval_result r;
    seqlm_status st = seqlm_ngram_eval(lm, argv[optind], per_token ? print_token : NULL,
                                       per_sentence ? print_sentence : NULL, &ctx, &r, &err);
    double t2 = cli_now();
    seqlm_ngram_free(lm);
    if (st != SEQLM_OK) return cli_fail_err(&err);
    if (json)
        printf("{\"perplexity\": %.6f, \"perplexity_excl_oov\": %.6f, \"oov\": %" PRIu64
               ", \"tokens\": %" PRIu64 ", \"log10_prob\": %.6f, \"sentences\": %" PRIu64
               ", \"log10_prob_oov\": %.6f, \"load_seconds\": %.4f, \"eval_seconds\": %.4f, "
               "\"tokens_per_s\": %.0f}\n",
               r.perplexity, r.perplexity_excl_oov, r.oov, r.tokens, r.log10_prob, r.sentences,
               r.log10_prob_oov, t1 - t0, t2 - t1, (double)r.tokens / (t2 - t1 + 1e-12));
    else
        printf("Perplexity including OOVs:\t%.6f\nPerplexity excluding OOVs:\t%.6f\n"
               "OOVs:\t%" PRIu64 "\nTokens:\t%" PRIu64 "\n",
               r.perplexity, r.perplexity_excl_oov, r.oov, r.tokens);
    return 0;
}

/* --- sample ---------------------------------------------------------------------------------- */

static const char sample_help[] =
    "usage: seqlm ngram sample -m MODEL [--count N] [--seed S] [--temperature T]\n"
    "                          [--max-length L]\n"
    "\n"
    "Generates sentences from <s> until </s>, one per line. The same seed gives the same text.\n"
    "\n"
    "  -m, --model MODEL    the model\n"
    "  -n, --count N        sentences to generate (default 10)\n"
    "      --seed S         random seed (default 1)\n"
    "  -t, --temperature T  sample from p^(1/T), renormalised; < 1 is more conservative\n"
    "                       (default 1)\n"
    "      --max-length L   stop a sentence after L tokens (default 100)\n";

static int ngram_sample(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"count", required_argument, 0, 'n'},
                                         {"seed", required_argument, 0, 'S'},
                                         {"temperature", required_argument, 0, 't'},
                                         {"max-length", required_argument, 0, 'L'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *cmd = "ngram sample", *model = NULL;
    long long count = 10, seed = 1, max_len = 100, v;
    double temp = 1.0;
    int c;
    while ((c = cli_getopt(argc, argv, ":m:n:t:h", opts, cmd)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'n':
            if (cli_int(optarg, 0, INT64_MAX, &count))
                return cli_usage(cmd, "--count must be an integer >= 0, not '%s'", optarg);
            break;
        case 'S':
            if (cli_seed(cmd, optarg, &v)) return EXIT_USAGE;
            seed = v;
            break;
        case 't':
            if (cli_double(optarg, 1e-6, 1e6, &temp))
                return cli_usage(cmd, "--temperature must be a number > 0, not '%s'", optarg);
            break;
        case 'L':
            if (cli_int(optarg, 1, 100000000, &max_len))
                return cli_usage(cmd, "--max-length must be an integer >= 1, not '%s'", optarg);
            break;
        case 'h':
            fputs(sample_help, stdout);
            return 0;
        default:
            return EXIT_USAGE;
        }
    }
    if (!model) return cli_usage(cmd, "missing -m MODEL");
    if (optind != argc) return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    seqlm_error err;
    seqlm_ngram_model *lm = seqlm_ngram_load(model, &err);
    if (!lm) return cli_fail_err(&err);
    seqlm_ngram_sampler *s = seqlm_ngram_sampler_create(lm, temp, &err);
    uint32_t *ids = malloc((size_t)max_len * sizeof *ids);
    if (!s || !ids) {
        free(ids);
        seqlm_ngram_sampler_free(s);
        seqlm_ngram_free(lm);
        return s ? cli_fail("out of memory") : cli_fail_err(&err);
    }
    seqlm_rng rng;
    seqlm_rng_seed(&rng, (uint64_t)seed);
    for (long long k = 0; k < count; k++) {
        size_t n = seqlm_ngram_sample(s, &rng, ids, (size_t)max_len);
        /* words joined by spaces, characters and bytes as text, always valid UTF-8 */
        char *text = seqlm_gen_text(seqlm_ngram_vocab(lm), seqlm_ngram_unit(lm), ids, n);
        if (!text) {
            free(ids);
            seqlm_ngram_sampler_free(s);
            seqlm_ngram_free(lm);
            return cli_fail("out of memory");
        }
        fputs(text, stdout);
        fputc('\n', stdout);
        free(text);
    }
    free(ids);
    seqlm_ngram_sampler_free(s);
    seqlm_ngram_free(lm);
    return 0;
}

/* --- convert --------------------------------------------------------------------------------- */

static const char convert_help[] =
    "usage: seqlm ngram convert MODEL OUT\n"
    "\n"
    "Reads MODEL (ARPA, gzipped ARPA or binary) and writes OUT: ARPA if OUT ends in .arpa or\n"
    ".arpa.gz, seqlm's memory-mapped binary form otherwise.\n";

static int ngram_convert(int argc, char **argv) {
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = cli_getopt(argc, argv, ":h", opts, "ngram convert")) != -1) {
        if (c == 'h') {
            fputs(convert_help, stdout);
            return 0;
        }
        return EXIT_USAGE;
    }
    if (optind + 2 != argc) return cli_usage("ngram convert", "expected MODEL and OUT");
    if (cli_check_output(argv[optind + 1])) return EXIT_INPUT;
    cli_catch_signals();
    seqlm_error err;
    seqlm_ngram_model *lm = seqlm_ngram_load(argv[optind], &err);
    if (!lm) return cli_fail_err(&err);
    seqlm_status st = seqlm_ngram_write(lm, argv[optind + 1], &err);
    seqlm_ngram_free(lm);
    return st == SEQLM_OK ? 0 : cli_fail_err(&err);
}

static const char ngram_help[] =
    "usage: seqlm ngram <train|eval|sample|convert> [options]\n"
    "\n"
    "  train    estimate a model from text -> ARPA (.arpa, .arpa.gz) or binary\n"
    "  eval     perplexity of a text file\n"
    "  sample   generate sentences\n"
    "  convert  ARPA <-> binary\n"
    "\n"
    "See 'seqlm ngram <command> --help'.\n";

int cmd_ngram(int argc, char **argv) {
    if (argc < 2) {
        fputs(ngram_help, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(ngram_help, stdout);
        return 0;
    }
    if (strcmp(argv[1], "train") == 0) return ngram_train(argc - 1, argv + 1);
    if (strcmp(argv[1], "eval") == 0) return ngram_eval(argc - 1, argv + 1);
    if (strcmp(argv[1], "sample") == 0) return ngram_sample(argc - 1, argv + 1);
    if (strcmp(argv[1], "convert") == 0) return ngram_convert(argc - 1, argv + 1);
    return cli_usage("ngram", "unknown command 'ngram %s'", argv[1]);
}
