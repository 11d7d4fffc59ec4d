/* cmd_eval.c - placeholder, being written. */
#include "cli.h"
int cmd_eval(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_fail("'seqlm eval' is not implemented yet");
}
