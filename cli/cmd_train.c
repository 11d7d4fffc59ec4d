/* cmd_train.c - placeholder, being written. */
#include "cli.h"
int cmd_train(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_fail("'seqlm train' is not implemented yet");
}
