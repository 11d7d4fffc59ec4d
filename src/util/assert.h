/* assert.h - SEQLM_ASSERT: programmer errors only (internal).
 *
 * A broken precondition inside the library (a cache too small for the call, a shape that the
 * caller's own setup guarantees) prints file:line and the condition, and aborts. Bad INPUT is
 * never asserted: it gets a seqlm_error. Unlike assert(), it stays on in release builds. */
#ifndef SEQLM_ASSERT_H
#define SEQLM_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define SEQLM_ASSERT(cond)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "seqlm: %s:%d: internal check failed: %s\n", __FILE__, __LINE__,       \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
