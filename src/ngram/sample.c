/* sample.c - placeholder, being written. */
#include "ngram/model.h"
seqlm_ngram_sampler *seqlm_ngram_sampler_create(const seqlm_ngram_model *lm, double temperature, seqlm_error *err) {
    (void)lm; (void)temperature;
    seqlm_error_set(err, SEQLM_ERR_IO, "sampling not implemented yet");
    return NULL;
}
void seqlm_ngram_sampler_free(seqlm_ngram_sampler *s) { (void)s; }
size_t seqlm_ngram_sample(seqlm_ngram_sampler *s, seqlm_rng *rng, uint32_t *out, size_t max_length) {
    (void)s; (void)rng; (void)out; (void)max_length;
    return 0;
}
