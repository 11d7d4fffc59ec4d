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
 * The totals are summed token by token in double, in text order, whatever the number of threads
 * (KenLM sums each sentence in float first; the difference is far below the printed digits).
 * When a callback stops the run, res holds the totals over the tokens scored so far.
 *
 * Speed: lines are looked up in the vocabulary first (in batches, seqlm_vocab_find_many), so that
 * the keys of every n-gram a query will probe are known before it runs (they depend on the word
 * ids alone); the hash slots of the token AHEAD positions on are prefetched while the current one
 * is scored, so the cache misses of several tokens overlap. Without callbacks and with more than
 * one OpenMP thread, the text is read in blocks of lines that the threads score line by line;
 * the log10 probabilities are summed afterwards in text order, so the result is bit-identical to
 * the serial run, which streams line by line (and calls the callbacks as it goes). Scoring chunks
 * of lines as one run, to prefetch across line ends, and copying the slots to huge pages at load
 * were tried and did not pay.
 * It is not a query API (model.c has seqlm_ngram_score). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ngram/model.h"

#define AHEAD       4          /* tokens between a slot's prefetch and its probe */
#define BLOCK_BYTES (1u << 20) /* text per parallel block (a longer line makes a longer block) */
#define BLOCK_LINES 16384

static void finish(seqlm_ngram_eval_result *r) {
    if (r->tokens == 0) return;
    r->perplexity = pow(10.0, -r->log10_prob / (double)r->tokens);
    r->perplexity_excl_oov =
        r->tokens > r->oov
            ? pow(10.0, -(r->log10_prob - r->log10_prob_oov) / (double)(r->tokens - r->oov))
            : NAN;
}

/* Scratch for a run of lines (one line as used here), reused across runs; one per thread.
 * Token i of the run is at index i of each array. */
typedef struct {
    seqlm_tokens toks;
    size_t cap;       /* entries of the arrays below, in tokens */
    const char **tok; /* (n) the tokens of the current line */
    int64_t *found;   /* (n) their vocabulary ids, -1 if none */
    uint32_t *ids;    /* (n) word ids (OOVs as <unk>), each line followed by </s> */
    uint8_t *oov;     /* (n) 1 for an OOV */
    uint8_t *nkeys;   /* (n) keys of the token: min(position in its line + 1, order - 1) */
    uint8_t *first;   /* (n) 1 for the first token of a line */
    uint64_t *keys;   /* (n, order-1) keys[i(order-1) + j]: key of "ids[i-1-j..i]" (its line's
                         words, <s> before the first) */
    float *lp;        /* (n) log10 p */
    int *matched;     /* (n) matched order */
} line_work;

static void work_free(line_work *w) {
    seqlm_tokens_free(&w->toks);
    free(w->tok);
    free(w->found);
    free(w->ids);
    free(w->oov);
    free(w->nkeys);
    free(w->first);
    free(w->keys);
    free(w->lp);
    free(w->matched);
    memset(w, 0, sizeof *w);
}

/* Room for n tokens, keeping the contents; -1 when out of memory. */
static int work_reserve(line_work *w, size_t n, int order) {
    if (n <= w->cap) return 0;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < n) cap *= 2;
    size_t per = order > 1 ? (size_t)order - 1 : 1;
    const char **tok = realloc(w->tok, cap * sizeof *tok);
    if (tok) w->tok = tok;
    int64_t *found = realloc(w->found, cap * sizeof *found);
    if (found) w->found = found;
    uint32_t *ids = realloc(w->ids, cap * sizeof *ids);
    if (ids) w->ids = ids;
    uint8_t *oov = realloc(w->oov, cap);
    if (oov) w->oov = oov;
    uint8_t *nkeys = realloc(w->nkeys, cap);
    if (nkeys) w->nkeys = nkeys;
    uint8_t *first = realloc(w->first, cap);
    if (first) w->first = first;
    uint64_t *keys = realloc(w->keys, cap * per * sizeof *keys);
    if (keys) w->keys = keys;
    float *lp = realloc(w->lp, cap * sizeof *lp);
    if (lp) w->lp = lp;
    int *matched = realloc(w->matched, cap * sizeof *matched);
    if (matched) w->matched = matched;
    if (!tok || !found || !ids || !oov || !nkeys || !first || !keys || !lp || !matched) return -1;
    w->cap = cap;
    return 0;
}

/* Tokenizes line and appends it to the run at token `at`: ids, oov and keys of the tokens
 * before the first literal <s> or </s> (*bad = 1 if one stopped the line), or of all tokens
 * and </s>. Returns the number appended, -1 when out of memory. */
static int64_t add_line(const seqlm_ngram_model *lm, const char *line, size_t len, line_work *w,
                        size_t at, int *bad) {
    *bad = 0;
    if (seqlm_tokenize(line, len, lm->unit, &w->toks) < 0) return -1;
    size_t count = w->toks.count, n = count + 1;
    if (work_reserve(w, at + n, lm->order) < 0) return -1;
    const uint64_t nwords = lm->level[0].count;
    for (size_t i = 0; i < count; i++) w->tok[i] = seqlm_token(&w->toks, i);
    seqlm_vocab_find_many(lm->vocab, w->tok, count, w->found);
    uint32_t *ids = w->ids + at;
    for (size_t i = 0; i < count; i++) {
        int64_t id = w->found[i];
        if (id == SEQLM_BOS || id == SEQLM_EOS) {
            *bad = 1;
            n = i;
            break;
        }
        int is_oov = id <= (int64_t)SEQLM_UNK || (uint64_t)id >= nwords;
        ids[i] = is_oov ? SEQLM_UNK : (uint32_t)id;
        w->oov[at + i] = (uint8_t)is_oov;
    }
    if (!*bad) {
        ids[count] = SEQLM_EOS;
        w->oov[at + count] = 0;
    }
    /* Token i has min(i+1, order-1) words of context: ids[i-1] .. ids[0], then <s>. */
    const size_t per = (size_t)lm->order - 1;
    for (size_t i = 0; i < n; i++) {
        size_t have = i + 1 < per ? i + 1 : per;
        uint64_t k = ngram_key1(ids[i]), *keys = w->keys + (at + i) * per;
        for (size_t j = 0; j < have; j++) {
            k = ngram_key_extend(k, j < i ? ids[i - 1 - j] : SEQLM_BOS);
            keys[j] = k;
        }
        w->nkeys[at + i] = (uint8_t)have;
        w->first[at + i] = i == 0;
    }
    return (int64_t)n;
}

/* Scores the n tokens of the run into w->lp (and w->matched), each line from the begin state.
 * The slots of token t + AHEAD are prefetched before token t is scored, across line ends. */
static void score_run(const seqlm_ngram_model *lm, line_work *w, size_t n) {
    const size_t per = (size_t)lm->order - 1; /* keys per token: orders 2..order */
    seqlm_ngram_state st;
    for (size_t i = 0; i < n + AHEAD; i++) {
        if (i < n)
            for (size_t j = 0; j < w->nkeys[i]; j++)
                ngram_prefetch(&lm->level[j + 1], w->keys[i * per + j]);
        if (i < AHEAD) continue;
        size_t t = i - AHEAD;
        if (w->first[t]) seqlm_ngram_begin(lm, &st);
        w->lp[t] = ngram_score_keys(lm, &st, w->ids[t], per ? w->keys + t * per : NULL, &st,
                                    &w->matched[t]);
    }
}

static seqlm_status marker_error(seqlm_error *err, const char *path, uint64_t line) {
    return seqlm_error_set(err, SEQLM_ERR_FORMAT,
                           "%s: line %" PRIu64 ": the sentence markers <s> and </s> are added by "
                           "seqlm and may not appear in the text",
                           path, line);
}

static seqlm_status nomem_error(seqlm_error *err, const char *path, uint64_t line) {
    return seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: line %" PRIu64 ": out of memory", path, line);
}

/* Line by line, with the callbacks. */
static seqlm_status eval_stream(const seqlm_ngram_model *lm, seqlm_reader *rd, const char *path,
                                seqlm_ngram_token_fn on_token, seqlm_ngram_sentence_fn on_sentence,
                                void *ctx, seqlm_ngram_eval_result *r, seqlm_error *err) {
    line_work w;
    memset(&w, 0, sizeof w);
    seqlm_status st = SEQLM_OK;
    const char *line;
    size_t len;
    int rc, bad;
    while ((rc = seqlm_reader_next(rd, &line, &len, err)) == 1) {
        int64_t n = add_line(lm, line, len, &w, 0, &bad);
        if (n < 0) {
            st = nomem_error(err, path, seqlm_reader_line(rd));
            break;
        }
        score_run(lm, &w, (size_t)n);
        double total = 0; /* this sentence's log10 probability */
        uint64_t oov = 0;
        for (size_t i = 0; i < (size_t)n; i++) {
            float lp = w.lp[i];
            total += lp;
            r->tokens++;
            r->log10_prob += lp;
            if (w.oov[i]) {
                oov++;
                r->oov++;
                r->log10_prob_oov += lp;
            }
            int eos = !bad && i + 1 == (size_t)n;
            if (eos) r->sentences++;
            const char *tok = eos ? "</s>" : seqlm_token(&w.toks, i);
            if (on_token && on_token(ctx, tok, w.ids[i], lp, w.matched[i])) goto interrupted;
        }
        if (bad) {
            st = marker_error(err, path, seqlm_reader_line(rd));
            break;
        }
        if (on_sentence && on_sentence(ctx, seqlm_reader_line(rd), total, w.toks.count + 1, oov))
            goto interrupted;
    }
    if (st == SEQLM_OK && rc < 0) st = err ? err->status : SEQLM_ERR_IO;
    work_free(&w);
    return st;
interrupted:
    work_free(&w);
    return seqlm_error_set(err, SEQLM_ERR_INTERRUPT, "%s: line %" PRIu64 ": stopped by the caller",
                           path, seqlm_reader_line(rd));
}

/* A block of lines for the parallel run. Line i's text is text[start[i] .. start[i] + len[i]);
 * its results go to lp and oov from start[i] + i on: a line of L bytes has at most L tokens
 * (every unit takes at least a byte per token) and its </s>. */
typedef struct {
    char *text;
    size_t text_len, text_cap;
    size_t *start, *len;
    uint64_t *line; /* the line number */
    int64_t *n;     /* tokens scored (</s> included), -1 when out of memory */
    uint8_t *bad;   /* 1 if a sentence marker stopped the line */
    size_t lines;
    float *lp;    /* (text_len + lines) */
    uint8_t *oov; /* (text_len + lines) */
    size_t res_cap;
} block;

static void block_free(block *b) {
    free(b->text);
    free(b->start);
    free(b->len);
    free(b->line);
    free(b->n);
    free(b->bad);
    free(b->lp);
    free(b->oov);
}

/* Reads up to BLOCK_LINES lines or about BLOCK_BYTES of text. Returns the reader's last status
 * (1: more may follow, 0: end of file, -1: an error, after the lines read). */
static int block_read(block *b, seqlm_reader *rd, seqlm_error *err, int *nomem) {
    b->text_len = b->lines = 0;
    *nomem = 0;
    const char *line;
    size_t len;
    int rc = 1;
    while (b->lines < BLOCK_LINES && b->text_len < BLOCK_BYTES &&
           (rc = seqlm_reader_next(rd, &line, &len, err)) == 1) {
        if (b->text_len + len > b->text_cap) {
            size_t cap = b->text_cap ? b->text_cap : BLOCK_BYTES;
            while (cap < b->text_len + len) cap *= 2;
            char *t = realloc(b->text, cap);
            if (!t) {
                *nomem = 1;
                return -1;
            }
            b->text = t;
            b->text_cap = cap;
        }
        memcpy(b->text + b->text_len, line, len);
        b->start[b->lines] = b->text_len;
        b->len[b->lines] = len;
        b->line[b->lines] = seqlm_reader_line(rd);
        b->text_len += len;
        b->lines++;
    }
    size_t need = b->text_len + b->lines;
    if (need > b->res_cap) {
        free(b->lp);
        free(b->oov);
        b->lp = malloc(need * sizeof *b->lp);
        b->oov = malloc(need);
        b->res_cap = b->lp && b->oov ? need : 0;
        if (!b->res_cap) {
            *nomem = 1;
            return -1;
        }
    }
    return rc;
}

/* Blocks of lines scored in parallel, summed in text order. */
static seqlm_status eval_parallel(const seqlm_ngram_model *lm, seqlm_reader *rd, const char *path,
                                  seqlm_ngram_eval_result *r, seqlm_error *err) {
    block b;
    memset(&b, 0, sizeof b);
    seqlm_status st = SEQLM_OK;
    b.start = malloc(BLOCK_LINES * sizeof *b.start);
    b.len = malloc(BLOCK_LINES * sizeof *b.len);
    b.line = malloc(BLOCK_LINES * sizeof *b.line);
    b.n = malloc(BLOCK_LINES * sizeof *b.n);
    b.bad = malloc(BLOCK_LINES);
    if (!b.start || !b.len || !b.line || !b.n || !b.bad) {
        block_free(&b);
        return seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
    }
    int rc = 1;
    while (rc == 1) {
        int nomem;
        rc = block_read(&b, rd, err, &nomem);
        if (nomem) {
            st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: line %" PRIu64 ": out of memory", path,
                                 seqlm_reader_line(rd));
            break;
        }
        int64_t lines = (int64_t)b.lines;
#pragma omp parallel
        {
            line_work w;
            memset(&w, 0, sizeof w);
#pragma omp for schedule(dynamic, 64)
            for (int64_t i = 0; i < lines; i++) {
                int bad;
                int64_t n = add_line(lm, b.text + b.start[i], b.len[i], &w, 0, &bad);
                b.n[i] = n;
                b.bad[i] = (uint8_t)bad;
                if (n <= 0) continue;
                score_run(lm, &w, (size_t)n);
                size_t at = b.start[i] + (size_t)i;
                memcpy(b.lp + at, w.lp, (size_t)n * sizeof *w.lp);
                memcpy(b.oov + at, w.oov, (size_t)n);
            }
            work_free(&w);
        }
        for (size_t i = 0; i < b.lines; i++) {
            if (b.n[i] < 0) {
                st = nomem_error(err, path, b.line[i]);
                goto done;
            }
            const float *lp = b.lp + b.start[i] + i;
            const uint8_t *oov = b.oov + b.start[i] + i;
            for (size_t t = 0; t < (size_t)b.n[i]; t++) {
                r->tokens++;
                r->log10_prob += lp[t];
                if (oov[t]) {
                    r->oov++;
                    r->log10_prob_oov += lp[t];
                }
            }
            if (b.bad[i]) {
                st = marker_error(err, path, b.line[i]);
                goto done;
            }
            r->sentences++;
        }
    }
    if (rc < 0) st = err ? err->status : SEQLM_ERR_IO;
done:
    block_free(&b);
    return st;
}

seqlm_status seqlm_ngram_eval(const seqlm_ngram_model *lm, const char *path,
                              seqlm_ngram_token_fn on_token, seqlm_ngram_sentence_fn on_sentence,
                              void *ctx, seqlm_ngram_eval_result *res, seqlm_error *err) {
    seqlm_ngram_eval_result r;
    memset(&r, 0, sizeof r);
    if (res) *res = r;
    seqlm_reader *rd = seqlm_reader_open(path, lm->unit != SEQLM_UNIT_BYTE, err);
    if (!rd) return err ? err->status : SEQLM_ERR_IO;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    seqlm_status st = !on_token && !on_sentence && threads > 1
                          ? eval_parallel(lm, rd, path, &r, err)
                          : eval_stream(lm, rd, path, on_token, on_sentence, ctx, &r, err);
    if (st == SEQLM_OK && r.tokens == 0)
        st = seqlm_error_set(err, SEQLM_ERR_DATA, "%s: no text to evaluate (the file is empty)",
                             path);
    seqlm_reader_free(rd);
    finish(&r);
    if (res) *res = r;
    return st;
}
