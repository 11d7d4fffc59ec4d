/* cmd_plot.c - placeholder, being written. */
#include "cli.h"
int cmd_plot(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_fail("'seqlm plot' is not implemented yet");
}
