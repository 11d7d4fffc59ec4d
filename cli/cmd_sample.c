/* cmd_sample.c - placeholder, being written. */
#include "cli.h"
int cmd_sample(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_fail("'seqlm sample' is not implemented yet");
}
