/* eval.c - perplexity of a text file under a neural language model, by the protocol of
 * ../shared/BENCHMARKS.md (see seqlm/lm.h):
 *
 *   - the stream is </s> (context only) followed by the file's ids, each line's tokens then
 *     </s>; every id after the first is a target, n targets in all;
 *   - the targets are cut into `batch` columns exactly as ../shared/bench/torch_lm.py's
 *     batchify does: every column holds S = ceil(n / batch) consecutive targets (column j:
 *     targets j*S .. j*S + S - 1, its inputs the ids just before them), and the last column(s)
 *     are padded with ignored targets, so EVERY target is predicted exactly once and nothing is
 *     dropped (word_language_model's batchify drops the remainder instead). Each column starts
 *     from a zero state (the window model: from a history of </s>), so batch 1 - one unbroken
 *     state from start to end - gives the best (and batch-independent) figure; larger batches
 *     are faster and lose a little context at the column starts;
 *   - the state carried from window to window; since it is never cut, the window length only
 *     sets how many steps run per call (at least EVAL_ROWS rows, so the output product is a
 *     large GEMM) and does not change the result;
 *   - nll = - sum of ln p(target), perplexity = exp(nll / n), bpc = nll / n / ln 2.
 *
 * on_token works with any batch: the log-probabilities are kept per target (4 bytes each) and
 * reported after the run in text order, with the tokens as the text has them (an OOV as its own
 * text, not <unk>), re-read from the file; from standard input ("-"), which cannot be read
 * twice, the tokens are the vocabulary's (<unk> for an OOV).
 * Not here: n-gram models and interpolation (the CLI combines seqlm_ngram_eval with this). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lm/model_internal.h"
#include "seqlm/progress.h"

enum { EVAL_ROWS = 1024 }; /* rows per output product, at least */

/* Replays the file's tokens (and each line's </s>) with lp[k] for the k-th target. */
static seqlm_status report_tokens(const char *path, seqlm_unit unit, const float *lp, size_t n,
                                  seqlm_lm_token_fn on_token, void *ctx, seqlm_error *err) {
    seqlm_reader *r = seqlm_reader_open(path, unit != SEQLM_UNIT_BYTE, err);
    if (!r) return err ? err->status : SEQLM_ERR_IO;
    seqlm_tokens toks = {0};
    seqlm_status st = SEQLM_OK;
    const char *line;
    size_t len, k = 0;
    int rc;
    while (st == SEQLM_OK && (rc = seqlm_reader_next(r, &line, &len, err)) == 1) {
        if (seqlm_tokenize(line, len, unit, &toks) < 0) {
            st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        for (size_t i = 0; i <= toks.count && st == SEQLM_OK; i++, k++) {
            if (k >= n) {
                st = seqlm_error_set(err, SEQLM_ERR_IO, "%s: the file changed while it was read",
                                     path);
                break;
            }
            const char *tok = i < toks.count ? seqlm_token(&toks, i) : "</s>";
            if (on_token(ctx, tok, (double)lp[k]))
                st = seqlm_error_set(err, SEQLM_ERR_INTERRUPT,
                                     "%s: line %" PRIu64 ": stopped by the caller", path,
                                     seqlm_reader_line(r));
        }
    }
    if (st == SEQLM_OK && rc < 0) st = err ? err->status : SEQLM_ERR_IO;
    if (st == SEQLM_OK && k != n)
        st = seqlm_error_set(err, SEQLM_ERR_IO, "%s: the file changed while it was read", path);
    seqlm_tokens_free(&toks);
    seqlm_reader_free(r);
    return st;
}

seqlm_status seqlm_lm_eval(seqlm_lm *m, const char *path, int batch, int bptt,
                           seqlm_lm_token_fn on_token, void *ctx, seqlm_lm_eval_result *res,
                           seqlm_error *err) {
    seqlm_lm_eval_result r;
    memset(&r, 0, sizeof r);
    if (res) *res = r;
    if (batch < 1 || bptt < 1)
        return seqlm_error_set(err, SEQLM_ERR_ARG, "batch (%d) and bptt (%d) must be >= 1", batch,
                               bptt);
    seqlm_stream s;
    uint64_t oov = 0;
    seqlm_status st = seqlm_stream_read(path, m->vocab, m->cfg.unit, &s, &oov, err);
    if (st != SEQLM_OK) return st;
    size_t n = s.n; /* targets: the stream after a leading </s> */
    if (n == 0) {
        seqlm_stream_free(&s);
        return seqlm_error_set(err, SEQLM_ERR_DATA, "%s: no text to evaluate (the file is empty)",
                               path);
    }
    size_t B = (size_t)batch < n ? (size_t)batch : n;
    size_t S = (n + B - 1) / B; /* steps per column */
    /* The state runs on unbroken whatever the window, so the window only sets how many rows
     * each output product gets: at least EVAL_ROWS, for the GEMM's sake. */
    size_t T = (size_t)bptt, Tmin = (EVAL_ROWS + B - 1) / B;
    if (T < Tmin) T = Tmin;
    if (T > S) T = S;
    seqlm_lm_work *w = seqlm_lm_work_create(m, (int)T, (int)B, err);
    seqlm_output_pack *pack = NULL; /* the decoder packed once for the whole file */
    seqlm_stack_pack *spack = NULL; /* the recurrent weights likewise (NULL: BLAS steps) */
    int32_t *x = malloc(T * B * sizeof *x);
    int32_t *y = malloc(T * B * sizeof *y);
    float *out = malloc(T * B * sizeof *out);
    float *lp = on_token ? malloc(n * sizeof *lp) : NULL;
    if (!w || !x || !y || !out || (on_token && !lp)) {
        if (w)
            st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
        else
            st = err ? err->status : SEQLM_ERR_NOMEM;
        goto done;
    }
    if (seqlm_lm_is_recurrent(m->cfg.arch) &&
        !(pack = seqlm_output_pack_create(&m->dec, m->p, m->eval_precision))) {
        st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (pack) spack = seqlm_stack_pack_create(&m->rnn, m->p, (int)T, (int)B);
    /* The stream with its leading </s>: id(k) = k == 0 ? </s> : s.ids[k - 1]; target k (0-based)
     * is id(k + 1), predicted from input id(k). */
    double nll = 0.0;
    for (size_t i = 0; i < S; i += T) {
        if (seqlm_stop_requested()) {
            st = seqlm_error_set(err, SEQLM_ERR_INTERRUPT, "%s: stopped by the caller", path);
            goto done;
        }
        size_t Tw = S - i < T ? S - i : T;
        for (size_t t = 0; t < Tw; t++)
            for (size_t b = 0; b < B; b++) {
                size_t k = b * S + i + t, j = t * B + b;
                x[j] = k < n ? (k ? s.ids[k - 1] : (int32_t)SEQLM_EOS) : (int32_t)SEQLM_EOS;
                y[j] = k < n ? s.ids[k] : -100;
            }
        memset(out, 0, Tw * B * sizeof *out);
        double part = pack ? lm_score_packed(m, w, spack, pack, x, y, (int)Tw, out)
                           : seqlm_lm_score(m, w, x, y, (int)Tw, out);
        if (part != part) { /* NaN: a log-probability that is NaN, or out of memory */
            int bad = 0;
            for (size_t j = 0; j < Tw * B && !bad; j++) bad = out[j] != out[j];
            if (bad)
                st = seqlm_error_set(err, SEQLM_ERR_DATA,
                                     "%s: the model gives NaN log-probabilities (its weights are "
                                     "not finite: a diverged or damaged model?)",
                                     path);
            else
                st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        nll += part;
        if (lp)
            for (size_t t = 0; t < Tw; t++)
                for (size_t b = 0; b < B; b++)
                    if (y[t * B + b] >= 0) lp[b * S + i + t] = out[t * B + b];
    }
    r.tokens = n;
    r.oov = oov;
    r.nll = nll;
    r.perplexity = exp(nll / (double)n);
    r.bpc = nll / (double)n / log(2.0);
    if (on_token && strcmp(path, "-") == 0) { /* standard input cannot be read twice */
        for (size_t k = 0; k < n && st == SEQLM_OK; k++)
            if (on_token(ctx, seqlm_vocab_word(m->vocab, (uint32_t)s.ids[k]), (double)lp[k]))
                st = seqlm_error_set(err, SEQLM_ERR_INTERRUPT, "%s: stopped by the caller", path);
    } else if (on_token) {
        st = report_tokens(path, m->cfg.unit, lp, n, on_token, ctx, err);
    }
done:
    if (res) *res = r;
    seqlm_lm_work_free(w);
    seqlm_output_pack_free(pack);
    seqlm_stack_pack_free(spack);
    free(x);
    free(y);
    free(out);
    free(lp);
    seqlm_stream_free(&s);
    return st;
}
