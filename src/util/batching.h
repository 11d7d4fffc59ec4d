/* batching.h - batches of sentences taken in length order (internal: tagger and classifier
 * prediction). */
#ifndef SEQLM_UTIL_BATCHING_H
#define SEQLM_UTIL_BATCHING_H

#include <stddef.h>

/* How many of the next n sentences, whose lengths len[0..n) do not decrease, make one batch: up
 * to max of them, but once there are 16 only as many as keep the padding within 1/8 of the
 * real tokens. A batch is as long as its longest sentence, and a fixed count pads the short
 * sentences of the long tail's batch to the longest one (1000 Brown test sentences in batches
 * of 256: 1.8x the real tokens; 1.04x so). At least 1 when n > 0. */
static inline size_t length_batch(const size_t *len, size_t n, size_t max) {
    size_t k = 1, real = len[0], min_k = max < 16 ? max : 16;
    while (k < n && k < max && (k < min_k || 8 * (k + 1) * len[k] <= 9 * (real + len[k])))
        real += len[k++];
    return k;
}

#endif
