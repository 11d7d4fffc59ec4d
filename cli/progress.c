/* progress.c - the CLI's progress line and signal handling (see cli.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void cli_progress_begin(cli_progress_state *p) {
    memset(p, 0, sizeof *p);
    p->start = p->last = cli_now();
    p->tty = isatty(2);
}

void cli_progress(void *ctx, const char *phase, uint64_t done, uint64_t total) {
    cli_progress_state *p = ctx;
    double t = cli_now(), elapsed = t - p->start;
    if (p->tty ? t - p->last < 0.2 : t - p->last < 10) return;
    p->last = t;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    char line[160];
    int n;
    if (total > 0) {
        double eta = rate > 0 ? (double)(total - done) / rate : 0;
        n = snprintf(line, sizeof line, "seqlm: %s %5.1f%%  %.1f MB/s  ETA %.0fs", phase,
                     100.0 * (double)done / (double)total, rate / 1e6, eta);
    } else {
        n = snprintf(line, sizeof line, "seqlm: %s %.1f MB  %.1f MB/s", phase, (double)done / 1e6,
                     rate / 1e6);
    }
    if (n < 0) return;
    if (p->tty)
        fprintf(stderr, "\r%-70s", line);
    else
        fprintf(stderr, "%s\n", line);
    p->shown = 1;
}

void cli_progress_end(cli_progress_state *p) {
    if (p->tty && p->shown) fprintf(stderr, "\r%-70s\r", "");
    p->shown = 0;
}

static void on_signal(int sig) {
    if (seqlm_stop_requested()) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    seqlm_request_stop();
}

void cli_catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
