/* progress.c - the process-wide stop flag (see seqlm/progress.h). */
#include "seqlm/progress.h"

#include <signal.h>

static volatile sig_atomic_t stop_flag;

void seqlm_request_stop(void) {
    stop_flag = 1;
}

int seqlm_stop_requested(void) {
    return stop_flag != 0;
}

void seqlm_clear_stop(void) {
    stop_flag = 0;
}
