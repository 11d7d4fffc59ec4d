/* seqlm/progress.h - progress callbacks and cooperative interruption for long work.
 *
 * Long library calls (counting a corpus, writing a model) report progress through a
 * seqlm_progress_fn the caller passes in their options, and poll seqlm_stop_requested(): a
 * signal handler may call seqlm_request_stop() (it is async-signal-safe), after which the call
 * returns SEQLM_ERR_INTERRUPT, leaving no partial output file. The library never prints. */
#ifndef SEQLM_PROGRESS_H
#define SEQLM_PROGRESS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* phase: a short word ("counting", "writing"); done and total in the phase's unit (bytes for
 * counting, n-grams for writing); total = 0 when unknown. */
typedef void (*seqlm_progress_fn)(void *ctx, const char *phase, uint64_t done, uint64_t total);

void seqlm_request_stop(void);
int seqlm_stop_requested(void);
void seqlm_clear_stop(void);

#ifdef __cplusplus
}
#endif
#endif
