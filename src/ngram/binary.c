/* binary.c - placeholder, being written. */
#include "ngram/model.h"
seqlm_status seqlm_ngram_write_binary(const seqlm_ngram_model *lm, const char *path, seqlm_error *err) {
    (void)lm;
    return seqlm_error_set(err, SEQLM_ERR_IO, "%s: binary form not implemented yet", path);
}
