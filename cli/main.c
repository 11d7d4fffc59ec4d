/* main.c - the seqlm command line: dispatches `seqlm <command> ...` to cmd_<command>.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: seqlm <command> [options]\n"
    "\n"
    "n-gram language models:\n"
    "  ngram train    estimate an n-gram model (mkn, kn, wb, katz, add, mle) -> ARPA or binary\n"
    "  ngram eval     perplexity of a text file, as KenLM's query reports it\n"
    "  ngram sample   generate sentences from <s> until </s>\n"
    "  ngram convert  ARPA <-> binary\n"
    "\n"
    "neural language models (RNN, LSTM, GRU, Bengio's window model):\n"
    "  train          train a model on text (truncated BPTT, checkpoints, exact resume)\n"
    "  eval           perplexity / bits per character of a text (also n-gram models; --mix)\n"
    "  sample         generate text (temperature, top-k, top-p, greedy, beam)\n"
    "  plot           draw a training log's curves (gnuplot)\n"
    "  gradflow       how far back in time the gradient reaches: ||dJ(T)/dh(T-k)|| per layer\n"
    "\n"
    "sentence classification (sentiment, topics):\n"
    "  classify       train, eval, predict, cv: a (Bi)RNN/LSTM/GRU encoder with pooling\n"
    "\n"
    "sequence tagging (part of speech, named entities):\n"
    "  tag train      train a BiLSTM tagger (char BiLSTM, CRF) on CoNLL / TOKEN<TAB>TAG data\n"
    "  tag eval       token accuracy and conlleval's chunk precision/recall/F1\n"
    "  tag predict    append the predicted tag to every token line\n"
    "\n"
    "contextual embeddings:\n"
    "  elmo train     train a forward and a backward LSTM language model (an ELMo model)\n"
    "  elmo embed     every token's layers, or their mix, for each line of a text\n"
    "\n"
    "text:\n"
    "  vocab          count the tokens of a corpus and write a vocabulary file\n"
    "\n"
    "Every command takes --help. Exit status: 0 success, 1 bad input, 2 bad usage.\n";

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("seqlm %s\n", SEQLM_VERSION_STRING);
        return 0;
    }
    if (strcmp(argv[1], "ngram") == 0) return cmd_ngram(argc - 1, argv + 1);
    if (strcmp(argv[1], "vocab") == 0) return cmd_vocab(argc - 1, argv + 1);
    if (strcmp(argv[1], "train") == 0) return cmd_train(argc - 1, argv + 1);
    if (strcmp(argv[1], "eval") == 0) return cmd_eval(argc - 1, argv + 1);
    if (strcmp(argv[1], "sample") == 0) return cmd_sample(argc - 1, argv + 1);
    if (strcmp(argv[1], "plot") == 0) return cmd_plot(argc - 1, argv + 1);
    if (strcmp(argv[1], "classify") == 0) return cmd_classify(argc - 1, argv + 1);
    if (strcmp(argv[1], "gradflow") == 0) return cmd_gradflow(argc - 1, argv + 1);
    if (strcmp(argv[1], "tag") == 0) return cmd_tag(argc - 1, argv + 1);
    if (strcmp(argv[1], "elmo") == 0) return cmd_elmo(argc - 1, argv + 1);
    fprintf(stderr, "seqlm: error: unknown command '%s' (see 'seqlm --help')\n", argv[1]);
    return EXIT_USAGE;
}
