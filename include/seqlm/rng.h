/* seqlm/rng.h - the one seeded random number generator every random choice flows from.
 *
 * xoshiro256** (Blackman & Vigna), seeded through splitmix64. The state is a plain struct of four
 * 64-bit words: copying it saves it, and seqlm_rng_state_{get,set} move it to and from files, so
 * a resumed run draws exactly the numbers an uninterrupted one would. Not cryptographic. */
#ifndef SEQLM_RNG_H
#define SEQLM_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t s[4];
} seqlm_rng;

void seqlm_rng_seed(seqlm_rng *rng, uint64_t seed);
uint64_t seqlm_rng_next(seqlm_rng *rng);
/* Uniform in [0, 1) with 53 random bits. */
double seqlm_rng_uniform(seqlm_rng *rng);
/* Uniform integer in [0, n), unbiased; n > 0. */
uint64_t seqlm_rng_below(seqlm_rng *rng, uint64_t n);
/* Standard normal (Box-Muller; uses two uniforms per call, no cached spare, so the state alone
 * determines the sequence). */
double seqlm_rng_normal(seqlm_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
