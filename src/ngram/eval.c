/* eval.c - perplexity of a text file under an n-gram model, counted the way KenLM's `query`
 * counts it (lm/ngram_query.hh), so that the two report the same figures:
 *   - each line is one sentence, scored from the begin state (after <s>); every token and then
 *     </s> is scored, <s> is not;
 *   - a token is an OOV when it is not in the vocabulary or is a literal "<unk>" (KenLM counts
 *     word id 0); it is scored as <unk>, and that score counts towards both totals;
 *   - perplexity = 10^(-sum log10 p / tokens), and the OOV-free perplexity leaves the OOV tokens
 *     out of both the sum and the count.
 * Two deliberate differences: a last line without a newline still gets its </s> (KenLM skips
 * it), and a literal <s> or </s> in the text is an error (KenLM scores it as a word).
 * The totals are summed token by token in double (KenLM sums each sentence in float first; the
 * difference is far below the printed digits). When a callback stops the run, res holds the
 * totals over the tokens scored so far.
 * It is not a query API (model.c has seqlm_ngram_score) and keeps no line or token beyond the
 * current one: the reader and tokenizer stream, and their buffers are reused across lines. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ngram/model.h"

static void finish(seqlm_ngram_eval_result *r) {
    if (r->tokens == 0) return;
    r->perplexity = pow(10.0, -r->log10_prob / (double)r->tokens);
    r->perplexity_excl_oov =
        r->tokens > r->oov
            ? pow(10.0, -(r->log10_prob - r->log10_prob_oov) / (double)(r->tokens - r->oov))
            : NAN;
}

seqlm_status seqlm_ngram_eval(const seqlm_ngram_model *lm, const char *path,
                              seqlm_ngram_token_fn on_token, seqlm_ngram_sentence_fn on_sentence,
                              void *ctx, seqlm_ngram_eval_result *res, seqlm_error *err) {
    seqlm_ngram_eval_result r;
    memset(&r, 0, sizeof r);
    if (res) *res = r;
    seqlm_reader *rd = seqlm_reader_open(path, lm->unit != SEQLM_UNIT_BYTE, err);
    if (!rd) return err ? err->status : SEQLM_ERR_IO;
    const seqlm_vocab *vocab = lm->vocab;
    const uint64_t nwords = lm->level[0].count;
    seqlm_tokens toks = {0};
    seqlm_status st = SEQLM_OK;
    const char *line;
    size_t len;
    int rc;
    while ((rc = seqlm_reader_next(rd, &line, &len, err)) == 1) {
        if (seqlm_tokenize(line, len, lm->unit, &toks) < 0) {
            st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: line %" PRIu64 ": out of memory", path,
                                 seqlm_reader_line(rd));
            break;
        }
        seqlm_ngram_state state;
        seqlm_ngram_begin(lm, &state);
        double total = 0; /* this sentence's log10 probability */
        uint64_t oov = 0;
        int matched;
        float lp;
        for (size_t i = 0; i < toks.count; i++) {
            const char *tok = seqlm_token(&toks, i);
            int64_t id = seqlm_vocab_find(vocab, tok);
            if (id == SEQLM_BOS || id == SEQLM_EOS) {
                st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                     "%s: line %" PRIu64 ": the sentence markers <s> and </s> are "
                                     "added by seqlm and may not appear in the text",
                                     path, seqlm_reader_line(rd));
                goto done;
            }
            int is_oov = id <= (int64_t)SEQLM_UNK || (uint64_t)id >= nwords;
            uint32_t w = is_oov ? SEQLM_UNK : (uint32_t)id;
            lp = seqlm_ngram_score(lm, &state, w, &state, &matched);
            total += lp;
            r.tokens++;
            r.log10_prob += lp;
            if (is_oov) {
                oov++;
                r.oov++;
                r.log10_prob_oov += lp;
            }
            if (on_token && on_token(ctx, tok, w, lp, matched)) goto interrupted;
        }
        lp = seqlm_ngram_score(lm, &state, SEQLM_EOS, &state, &matched);
        total += lp;
        r.tokens++;
        r.log10_prob += lp;
        r.sentences++;
        if (on_token && on_token(ctx, "</s>", SEQLM_EOS, lp, matched)) goto interrupted;
        if (on_sentence && on_sentence(ctx, seqlm_reader_line(rd), total, toks.count + 1, oov))
            goto interrupted;
    }
    if (rc < 0)
        st = err ? err->status : SEQLM_ERR_IO;
    else if (st == SEQLM_OK && r.tokens == 0)
        st = seqlm_error_set(err, SEQLM_ERR_DATA, "%s: no text to evaluate (the file is empty)",
                             path);
    goto done;
interrupted:
    st = seqlm_error_set(err, SEQLM_ERR_INTERRUPT, "%s: line %" PRIu64 ": stopped by the caller",
                         path, seqlm_reader_line(rd));
done:
    seqlm_tokens_free(&toks);
    seqlm_reader_free(rd);
    finish(&r);
    if (res) *res = r;
    return st;
}
