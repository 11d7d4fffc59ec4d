/* elmo_internal.h - the insides of seqlm_elmo (internal; see seqlm/elmo.h). Shared by the files
 * of src/elmo/; tests include it to reach the two language models' layers. Not an API. */
#ifndef SEQLM_ELMO_INTERNAL_H
#define SEQLM_ELMO_INTERNAL_H

#include <stdint.h>

#include "lm/model_internal.h"
#include "seqlm/elmo.h"

struct seqlm_elmo {
    seqlm_lm_config cfg; /* both directions' (lstm, embedding == hidden) */
    seqlm_lm *lm[2];     /* owned: forward, backward; each with its own copy of the vocabulary */
    double valid_ppl[2]; /* from the metadata, NaN if absent */
    uint64_t fingerprint;
    char *path; /* owned: the file it was loaded from */
};

#endif
