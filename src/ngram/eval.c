/* eval.c - placeholder, being written. */
#include "ngram/model.h"
seqlm_status seqlm_ngram_eval(const seqlm_ngram_model *lm, const char *path, seqlm_ngram_token_fn on_token, seqlm_ngram_sentence_fn on_sentence, void *ctx, seqlm_ngram_eval_result *res, seqlm_error *err) {
    (void)lm; (void)on_token; (void)on_sentence; (void)ctx; (void)res;
    return seqlm_error_set(err, SEQLM_ERR_IO, "%s: eval not implemented yet", path);
}
