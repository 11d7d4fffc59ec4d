/* cmd_sample.c - `seqlm sample`: text from a neural model (seqlm_lm_generate) or an n-gram model
 * (seqlm_ngram_sampler). Option parsing, model-kind detection and printing only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char sample_help[] =
    "usage: seqlm sample -m MODEL [options]\n"
    "\n"
    "Generates text from MODEL: a neural model (.safetensors from seqlm train) or an n-gram\n"
    "model (ARPA, gzipped ARPA or seqlm's binary). Generation starts after </s>, as if a\n"
    "sentence had just ended. Word models write one line per sample (a sentence, ended by\n"
    "</s>); char and byte models write --length characters or bytes per sample (</s> as a\n"
    "newline), each sample followed by a blank line. The same seed gives the same bytes.\n"
    "\n"
    "  -m, --model MODEL       the model\n"
    "  -n, --count N           samples to generate (default 1)\n"
    "      --seed S            random seed (default 1)\n"
    "  -t, --temperature T     sample from p^(1/T), renormalised, T > 0; < 1 is more\n"
    "                          conservative (default 1)\n"
    "  -k, --top-k K           sample from the K most likely tokens only (0 = all; default 0)\n"
    "  -p, --top-p P           nucleus sampling: from the fewest most likely tokens holding at\n"
    "                          least P of the mass, 0 < P <= 1 (default 1 = all)\n"
    "      --greedy            always the most likely token (no randomness)\n"
    "      --beam N            beam search of width N for the most likely text under\n"
    "                          logp / length^A (word models: sentences ending in </s>)\n"
    "      --length-penalty A  beam search's A (default 1; 0 = plain log-probability)\n"
    "      --prime TEXT        continue TEXT (tokenised like the training text; unknown\n"
    "                          tokens become <unk>); TEXT is printed before the continuation\n"
    "  -l, --length L          at most L tokens per sample (default 100 for word models, 500\n"
    "                          for char and byte models)\n"
    "      --threads N         threads for the matrix products (0 = all cores; default 0)\n"
    "\n"
    "Neither <unk> nor <s> is ever generated. Output is valid UTF-8: byte sequences that are\n"
    "not become U+FFFD. For n-gram models only --count, --seed, --temperature and --length\n"
    "apply (they sample until </s>, as `seqlm ngram sample`).\n"
    "\n"
    "example: seqlm sample -m ptb.safetensors --count 5 --seed 7 --top-p 0.9\n";

/* Writes one sample: word units a line; char and byte units the text, a newline if it lacks
 * one, and a blank line. prime (may be NULL) comes first. */
static void print_sample(const char *prime, const char *text, seqlm_unit unit) {
    size_t pl = prime ? strlen(prime) : 0, tl = strlen(text);
    fwrite(prime ? prime : "", 1, pl, stdout);
    if (unit == SEQLM_UNIT_WORD && pl && tl && prime[pl - 1] != ' ' && prime[pl - 1] != '\n')
        fputc(' ', stdout);
    fwrite(text, 1, tl, stdout);
    if (unit == SEQLM_UNIT_WORD) {
        fputc('\n', stdout);
    } else {
        if (pl + tl == 0 || (tl ? text[tl - 1] : prime[pl - 1]) != '\n') fputc('\n', stdout);
        fputc('\n', stdout);
    }
}

static int finish_output(void) {
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_fail("cannot write the samples: %s", strerror(errno));
    return 0;
}

static int sample_ngram(const char *cmd, const char *model, const seqlm_gen_config *g,
                        const char *unsupported, long long count, seqlm_rng *rng) {
    seqlm_error err;
    seqlm_ngram_model *lm = seqlm_ngram_load(model, &err);
    if (!lm) return cli_fail_err(&err);
    if (unsupported) {
        seqlm_ngram_free(lm);
        return cli_usage(cmd, "%s is not supported for n-gram models", unsupported);
    }
    seqlm_unit unit = seqlm_ngram_unit(lm);
    size_t length = g->length ? g->length : unit == SEQLM_UNIT_WORD ? 100 : 500;
    seqlm_ngram_sampler *s = seqlm_ngram_sampler_create(lm, g->temperature, &err);
    uint32_t *ids = malloc(length * sizeof *ids);
    if (!s || !ids) {
        free(ids);
        seqlm_ngram_sampler_free(s);
        seqlm_ngram_free(lm);
        return s ? cli_fail("out of memory") : cli_fail_err(&err);
    }
    int rc = 0;
    for (long long k = 0; k < count; k++) {
        size_t n = seqlm_ngram_sample(s, rng, ids, length);
        char *text = seqlm_gen_text(seqlm_ngram_vocab(lm), unit, ids, n);
        if (!text) {
            rc = cli_fail("out of memory");
            break;
        }
        print_sample(NULL, text, unit);
        free(text);
    }
    free(ids);
    seqlm_ngram_sampler_free(s);
    seqlm_ngram_free(lm);
    return rc ? rc : finish_output();
}

static int sample_neural(const char *model, const seqlm_gen_config *g, long long count,
                         seqlm_rng *rng) {
    seqlm_error err;
    seqlm_lm *lm = seqlm_lm_load(model, NULL, &err);
    if (!lm) return cli_fail_err(&err);
    seqlm_unit unit = seqlm_lm_config_of(lm)->unit;
    int rc = 0;
    for (long long k = 0; k < count; k++) {
        char *text = NULL;
        if (seqlm_lm_generate(lm, g, rng, &text, &err) != SEQLM_OK) {
            rc = cli_fail_err(&err);
            break;
        }
        print_sample(g->prime, text, unit);
        free(text);
    }
    seqlm_lm_free(lm);
    return rc ? rc : finish_output();
}

int cmd_sample(int argc, char **argv) {
    enum { O_SEED = 256, O_GREEDY, O_BEAM, O_ALPHA, O_PRIME, O_THREADS };
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"count", required_argument, 0, 'n'},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"temperature", required_argument, 0, 't'},
                                         {"top-k", required_argument, 0, 'k'},
                                         {"top-p", required_argument, 0, 'p'},
                                         {"greedy", no_argument, 0, O_GREEDY},
                                         {"beam", required_argument, 0, O_BEAM},
                                         {"length-penalty", required_argument, 0, O_ALPHA},
                                         {"prime", required_argument, 0, O_PRIME},
                                         {"length", required_argument, 0, 'l'},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *cmd = "sample", *model = NULL;
    seqlm_gen_config g = seqlm_gen_default_config();
    long long count = 1, seed = 1, threads = 0, v;
    int set_temp = 0, set_k = 0, set_p = 0, set_alpha = 0, c;
    double d;
    while ((c = cli_getopt(argc, argv, ":m:n:t:k:p:l:h", opts, cmd)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'n':
            if (cli_int(optarg, 0, INT64_MAX, &count))
                return cli_usage(cmd, "--count must be an integer >= 0, not '%s'", optarg);
            break;
        case O_SEED:
            if (cli_seed(cmd, optarg, &seed)) return EXIT_USAGE;
            break;
        case 't':
            if (cli_double(optarg, 1e-6, 1e6, &d))
                return cli_usage(
                    cmd, "--temperature must be a number > 0 (at least 1e-6), not '%s'", optarg);
            g.temperature = d;
            set_temp = 1;
            break;
        case 'k':
            if (cli_int(optarg, 0, INT32_MAX, &v))
                return cli_usage(cmd, "--top-k must be an integer >= 0, not '%s'", optarg);
            g.top_k = (int)v;
            set_k = 1;
            break;
        case 'p':
            if (cli_double(optarg, 0, 1, &d) || !(d > 0))
                return cli_usage(cmd, "--top-p must be a number in (0, 1], not '%s'", optarg);
            g.top_p = d;
            set_p = 1;
            break;
        case O_GREEDY:
            g.greedy = 1;
            break;
        case O_BEAM:
            if (cli_int(optarg, 1, 1000, &v))
                return cli_usage(cmd, "--beam must be an integer from 1 to 1000, not '%s'", optarg);
            g.beam = (int)v;
            break;
        case O_ALPHA:
            if (cli_double(optarg, -100, 100, &d))
                return cli_usage(
                    cmd, "--length-penalty must be a number from -100 to 100, not '%s'", optarg);
            g.length_penalty = d;
            set_alpha = 1;
            break;
        case O_PRIME:
            g.prime = optarg;
            break;
        case 'l':
            if (cli_int(optarg, 1, 100000000, &v))
                return cli_usage(cmd, "--length must be an integer >= 1, not '%s'", optarg);
            g.length = (size_t)v;
            break;
        case O_THREADS:
            if (cli_int(optarg, 0, 4096, &threads))
                return cli_usage(cmd, "--threads must be an integer >= 0, not '%s'", optarg);
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
    if (g.beam && g.greedy) return cli_usage(cmd, "--beam and --greedy exclude each other");
    if ((g.beam || g.greedy) && (set_temp || set_k || set_p))
        return cli_usage(cmd, "--temperature, --top-k and --top-p apply to sampling, not to %s",
                         g.beam ? "--beam" : "--greedy");
    if (set_alpha && !g.beam) return cli_usage(cmd, "--length-penalty needs --beam");
    const char *unsupported = g.beam     ? "--beam"
                              : g.greedy ? "--greedy"
                              : set_k    ? "--top-k"
                              : set_p    ? "--top-p"
                              : g.prime  ? "--prime"
                                         : NULL;

    FILE *f = fopen(model, "rb");
    if (!f) return cli_fail("%s: cannot open the model: %s", model, strerror(errno));
    fclose(f);
    if (threads) seqlm_set_threads((int)threads);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, (uint64_t)seed);
    if (cli_is_safetensors(model) == 1) return sample_neural(model, &g, count, &rng);
    return sample_ngram(cmd, model, &g, unsupported, count, &rng);
}
