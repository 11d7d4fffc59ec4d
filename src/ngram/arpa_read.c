/* arpa_read.c - placeholder, being written. */
#include "ngram/model.h"
seqlm_ngram_model *seqlm_ngram_load(const char *path, seqlm_error *err) {
    seqlm_error_set(err, SEQLM_ERR_IO, "%s: loading is not implemented yet", path);
    return NULL;
}
