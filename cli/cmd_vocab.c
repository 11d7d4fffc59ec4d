/* cmd_vocab.c - `seqlm vocab`: count a corpus's tokens and write a vocabulary file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char vocab_help[] =
    "usage: seqlm vocab -o VOCAB [--unit U] [--min-count C] [--max-vocab V] TEXT.txt\n"
    "\n"
    "Counts the tokens of TEXT.txt and writes VOCAB: one TOKEN<TAB>COUNT line per entry, <unk>,\n"
    "<s>, </s> first, then by descending count. Tokens below --min-count (or past --max-vocab)\n"
    "are folded into <unk>. Other commands take it with --vocab.\n"
    "\n"
    "  -u, --unit U         word (default), char or byte\n"
    "      --min-count C    keep tokens seen at least C times (default 1)\n"
    "      --max-vocab V    at most V entries in all, the special tokens included\n"
    "  -o, --output VOCAB   the vocabulary file\n";

int cmd_vocab(int argc, char **argv) {
    static const struct option opts[] = {{"unit", required_argument, 0, 'u'},
                                         {"min-count", required_argument, 0, 'c'},
                                         {"max-vocab", required_argument, 0, 'V'},
                                         {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *cmd = "vocab", *out = NULL;
    seqlm_unit unit = SEQLM_UNIT_WORD;
    long long min_count = 1, max_vocab = 0;
    int c;
    while ((c = cli_getopt(argc, argv, ":u:o:h", opts, cmd)) != -1) {
        switch (c) {
        case 'u':
            if (cli_unit(cmd, optarg, &unit)) return EXIT_USAGE;
            break;
        case 'c':
            if (cli_int(optarg, 1, INT64_MAX, &min_count))
                return cli_usage(cmd, "--min-count must be an integer >= 1, not '%s'", optarg);
            break;
        case 'V':
            if (cli_int(optarg, 4, UINT32_MAX - 1, &max_vocab))
                return cli_usage(cmd, "--max-vocab must be an integer >= 4, not '%s'", optarg);
            break;
        case 'o':
            out = optarg;
            break;
        case 'h':
            fputs(vocab_help, stdout);
            return 0;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc)
        return cli_usage(cmd, optind == argc ? "missing TEXT.txt" : "one TEXT.txt only");
    if (!out) return cli_usage(cmd, "missing -o VOCAB");
    seqlm_error err;
    seqlm_vocab *all = seqlm_vocab_from_corpus(argv[optind], unit, &err);
    if (!all) return cli_fail_err(&err);
    seqlm_vocab *v = seqlm_vocab_prune(all, (uint64_t)min_count, (size_t)max_vocab, &err);
    seqlm_vocab_free(all);
    if (!v) return cli_fail_err(&err);
    seqlm_status st = seqlm_vocab_save(v, out, &err);
    if (st == SEQLM_OK) fprintf(stderr, "seqlm: %s: %zu entries\n", out, seqlm_vocab_size(v));
    seqlm_vocab_free(v);
    return st == SEQLM_OK ? 0 : cli_fail_err(&err);
}
