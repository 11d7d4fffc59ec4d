/* test_ngram_query.c - querying n-gram models: backoff scores against hand-computed values,
 * normalisation of every estimator, perplexity evaluation (KenLM's counting rules), sampling,
 * and parity with KenLM's figures on Brown when ../shared/data is present.
 *
 * The hand-made model is built directly in memory (model.h), not read from ARPA, so that these
 * tests depend on the query code alone; its n-grams, as an ARPA file would list them:
 *
 *   \1-grams:                  \2-grams:                   \3-grams:
 *   -2.0  <unk>                -0.3   <s> a    -0.1        -0.2  <s> a b
 *   -99   <s>    -0.5          -0.4   a b      -0.15       -0.1  a b c
 *   -0.8  </s>                 -0.6   a c                  -0.3  a b d   (no "b d": unreachable)
 *   -0.7  a      -0.3          -0.35  b </s>               -0.5  c d <unk>
 *   -0.9  b      -0.2          -0.5   b c      -0.05
 *   -1.0  c      -0.25         -0.2   c </s>
 *   -1.2  d                    -0.9   c d      -0.1
 *                              -1.0   d <unk>
 *                              -0.5   d a
 * It is not normalised (the sampler renormalises anyway), and it has what trained models lack:
 * n-grams ending in <unk>, and a trigram whose suffix bigram is missing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngram/model.h"
#include "ngram/sample.h"
#include "testutil.h"
#ifdef _OPENMP
#include <omp.h>
#endif

enum { A = 3, B = 4, C = 5, D = 6 };

typedef struct {
    uint32_t w[3];
    float prob, backoff;
} hand_ngram;

static const hand_ngram hand_uni[] = {
    {{0}, -2.0f, 0},     {{1}, -99.0f, -0.5f}, {{2}, -0.8f, 0}, {{A}, -0.7f, -0.3f},
    {{B}, -0.9f, -0.2f}, {{C}, -1.0f, -0.25f}, {{D}, -1.2f, 0},
};
/* clang-format off */
static const hand_ngram hand_bi[] = {
    {{1, A}, -0.3f, -0.1f}, {{A, B}, -0.4f, -0.15f}, {{A, C}, -0.6f, 0},
    {{B, 2}, -0.35f, 0},    {{B, C}, -0.5f, -0.05f}, {{C, 2}, -0.2f, 0},
    {{C, D}, -0.9f, -0.1f}, {{D, 0}, -1.0f, 0},      {{D, A}, -0.5f, 0},
};
static const hand_ngram hand_tri[] = {
    {{1, A, B}, -0.2f, 0}, {{A, B, C}, -0.1f, 0}, {{A, B, D}, -0.3f, 0}, {{C, D, 0}, -0.5f, 0},
};
/* clang-format on */

static seqlm_ngram_model *hand_model(void) {
    seqlm_vocab *v = seqlm_vocab_create();
    assert_non_null(v);
    assert_int_equal(seqlm_vocab_add(v, "a", 1), A);
    assert_int_equal(seqlm_vocab_add(v, "b", 1), B);
    assert_int_equal(seqlm_vocab_add(v, "c", 1), C);
    assert_int_equal(seqlm_vocab_add(v, "d", 1), D);
    seqlm_ngram_model *lm = ngram_model_new(3, SEQLM_UNIT_WORD, v);
    assert_non_null(lm);
    const hand_ngram *tab[3] = {hand_uni, hand_bi, hand_tri};
    size_t cnt[3] = {sizeof hand_uni / sizeof *hand_uni, sizeof hand_bi / sizeof *hand_bi,
                     sizeof hand_tri / sizeof *hand_tri};
    for (int n = 1; n <= 3; n++) lm->level[n - 1].count = cnt[n - 1];
    seqlm_error err;
    assert_int_equal(ngram_model_alloc(lm, &err), SEQLM_OK);
    for (int n = 1; n <= 3; n++) {
        ngram_level *lv = &lm->level[n - 1];
        for (size_t i = 0; i < cnt[n - 1]; i++) {
            if (n > 1) memcpy(lv->words + i * n, tab[n - 1][i].w, n * sizeof(uint32_t));
            lv->prob[i] = tab[n - 1][i].prob;
            lv->backoff[i] = tab[n - 1][i].backoff;
        }
    }
    if (ngram_model_index(lm, &err) != SEQLM_OK) fail_msg("index: %s", err.msg);
    return lm;
}

#define assert_close(a, b, tol)                                                                    \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (tol)))                                                             \
            fail_msg("%s = %.9g, expected %.9g (tolerance %g)", #a, a_, b_, (double)(tol));        \
    } while (0)

/* --- scores ----------------------------------------------------------------------------------- */

static float score(const seqlm_ngram_model *lm, seqlm_ngram_state *st, uint32_t w, int *matched) {
    return seqlm_ngram_score(lm, st, w, st, matched);
}

static void test_score_hand(void **unused) {
    (void)unused;
    seqlm_ngram_model *lm = hand_model();
    seqlm_ngram_state st, s2;
    int m;
    seqlm_ngram_begin(lm, &st);
    assert_int_equal(st.length, 1);
    assert_close(st.backoff[0], -0.5, 1e-6);

    /* "<s> a b c": every word found at the longest order. */
    assert_close(score(lm, &st, A, &m), -0.3, 1e-6);
    assert_int_equal(m, 2);
    assert_close(score(lm, &st, B, &m), -0.2, 1e-6);
    assert_int_equal(m, 3);
    assert_int_equal(st.length, 2); /* truncated to order - 1 words: "a b" */
    assert_int_equal(st.words[0], B);
    assert_int_equal(st.words[1], A);
    assert_close(st.backoff[0], -0.2, 1e-6);
    assert_close(st.backoff[1], -0.15, 1e-6);
    s2 = st;
    assert_close(score(lm, &s2, C, &m), -0.1, 1e-6); /* p(c | a b) */
    assert_int_equal(m, 3);
    /* After "a b c" the state is "b c": </s> backs off from "b c" to "c </s>". */
    assert_close(score(lm, &s2, SEQLM_EOS, &m), -0.05 + -0.2, 1e-6);
    assert_int_equal(m, 2);

    /* Only "b </s>" exists: bo(a b) + p(</s> | b). */
    s2 = st;
    assert_close(score(lm, &s2, SEQLM_EOS, &m), -0.15 + -0.35, 1e-6);
    assert_int_equal(m, 2);
    /* Nothing but the unigram: bo(a b) + bo(b) + p(d). "a b d" is in the model, but without
     * "b d" the search never reaches it. */
    s2 = st;
    assert_close(score(lm, &s2, D, &m), -0.15 + -0.2 + -1.2, 1e-6);
    assert_int_equal(m, 1);
    assert_int_equal(s2.length, 1);
    assert_close(s2.backoff[0], 0.0, 0);
    /* An OOV id (and an id past the vocabulary) is <unk>; the context resets after it. */
    s2 = st;
    assert_close(score(lm, &s2, SEQLM_UNK, &m), -0.15 + -0.2 + -2.0, 1e-6);
    assert_int_equal(s2.length, 0);
    assert_close(score(lm, &s2, A, &m), -0.7, 1e-6);
    assert_int_equal(m, 1);
    s2 = st;
    assert_close(score(lm, &s2, 1000, &m), -0.15 + -0.2 + -2.0, 1e-6);
    assert_int_equal(s2.words[0], SEQLM_UNK);

    /* "<s> a c": the trigram is missing, "a c" is there: bo(<s> a) + p(c | a). */
    seqlm_ngram_begin(lm, &st);
    score(lm, &st, A, NULL);
    assert_close(score(lm, &st, C, &m), -0.1 + -0.6, 1e-6);
    assert_int_equal(m, 2);
    /* From <s> straight to an unseen bigram. */
    seqlm_ngram_begin(lm, &st);
    assert_close(score(lm, &st, D, &m), -0.5 + -1.2, 1e-6);
    seqlm_ngram_state after_d = st;
    assert_close(score(lm, &st, SEQLM_EOS, NULL), -0.8, 1e-6); /* bo(d) = 0 */
    /* "d <unk>" is in the model: an OOV after d scores it, and the context is kept. */
    assert_close(score(lm, &after_d, SEQLM_UNK, &m), -1.0, 1e-6);
    assert_int_equal(m, 2);
    assert_int_equal(after_d.length, 2);
    assert_close(score(lm, &after_d, SEQLM_EOS, &m), -0.8, 1e-6);
    /* An n-gram ending in <unk>: "c d <unk>". */
    seqlm_ngram_null(lm, &st);
    score(lm, &st, C, NULL);
    score(lm, &st, D, NULL);
    assert_close(score(lm, &st, SEQLM_UNK, &m), -0.5, 1e-6);
    assert_int_equal(m, 3);
    /* No context at all. */
    seqlm_ngram_null(lm, &st);
    assert_close(score(lm, &st, B, &m), -0.9, 1e-6);
    assert_int_equal(m, 1);
    assert_int_equal(seqlm_ngram_word(lm, "c"), C);
    assert_int_equal(seqlm_ngram_word(lm, "zzz"), SEQLM_UNK);
    seqlm_ngram_free(lm);
}

/* --- normalisation of the estimators -------------------------------------------------------- */

static const char *small_text = "the cat sat on the mat\n"
                                "the dog sat on the log\n"
                                "a cat and a dog sat on a mat\n"
                                "the cat ate the fish\n"
                                "the dog ate the bone\n"
                                "a bird sat on the dog\n"
                                "the fish swam\n"
                                "the cat sat\n"
                                "a dog and a cat and a bird\n"
                                "on the mat the cat sat\n"
                                "\n"
                                "the bird ate\n";

/* sum over w != <s> of p(w | st). */
static double mass(const seqlm_ngram_model *lm, const seqlm_ngram_state *st) {
    seqlm_ngram_state out;
    double sum = 0;
    for (uint32_t w = 0; w < seqlm_vocab_size(seqlm_ngram_vocab(lm)); w++)
        if (w != SEQLM_BOS) sum += pow(10.0, seqlm_ngram_score(lm, st, w, &out, NULL));
    return sum;
}

static void quiet(void *ctx, const char *msg) {
    (void)ctx;
    (void)msg;
}

static seqlm_ngram_model *train_small(seqlm_smoothing sm, int order) {
    const char *path = write_tmp_str("small.txt", small_text);
    seqlm_ngram_options opt = seqlm_ngram_default_options();
    opt.order = order;
    opt.smoothing = sm;
    opt.warn = quiet;
    seqlm_error err;
    seqlm_ngram_model *lm = seqlm_ngram_train(path, &opt, &err);
    if (!lm) fail_msg("train %s: %s", seqlm_smoothing_name(sm), err.msg);
    return lm;
}

/* The largest |sum_w p(w | h) - 1| over the contexts h of small_text (every prefix of every
 * line), the empty context and one after an OOV; *where says which. */
static double worst_mass(const seqlm_ngram_model *lm, char *where, size_t cap) {
    seqlm_tokens toks = {0};
    seqlm_ngram_state st;
    double worst = -1;
    const char *p = small_text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_true(seqlm_tokenize(p, (size_t)(nl - p), SEQLM_UNIT_WORD, &toks) >= 0);
        seqlm_ngram_begin(lm, &st);
        for (size_t i = 0; i <= toks.count; i++) {
            double m = mass(lm, &st);
            if (fabs(m - 1) > worst) {
                worst = fabs(m - 1);
                snprintf(where, cap, "line \"%.*s\", before word %zu: mass %.6f", (int)(nl - p), p,
                         i + 1, m);
            }
            if (i < toks.count) score(lm, &st, seqlm_ngram_word(lm, seqlm_token(&toks, i)), NULL);
        }
        p = nl + 1;
    }
    seqlm_tokens_free(&toks);
    seqlm_ngram_null(lm, &st);
    double m = mass(lm, &st);
    if (fabs(m - 1) > worst) {
        worst = fabs(m - 1);
        snprintf(where, cap, "empty context: mass %.6f", m);
    }
    seqlm_ngram_begin(lm, &st);
    score(lm, &st, seqlm_ngram_word(lm, "fish"), NULL);
    score(lm, &st, SEQLM_UNK, NULL);
    m = mass(lm, &st);
    if (fabs(m - 1) > worst) {
        worst = fabs(m - 1);
        snprintf(where, cap, "after <unk>: mass %.6f", m);
    }
    return worst;
}

static void test_estimators_normalised(void **unused) {
    (void)unused;
    int bad = 0;
    for (int sm = SEQLM_SMOOTH_MLE; sm <= SEQLM_SMOOTH_MKN; sm++)
        for (int order = 1; order <= 4; order++) {
            seqlm_ngram_model *lm = train_small((seqlm_smoothing)sm, order);
            char where[256];
            double worst = worst_mass(lm, where, sizeof where);
            if (worst > 1e-4) {
                printf("not normalised: %s order %d: %s\n",
                       seqlm_smoothing_name((seqlm_smoothing)sm), order, where);
                bad++;
            }
            seqlm_ngram_free(lm);
        }
    fflush(stdout);
    if (bad) fail_msg("%d smoothing/order pairs are not normalised (listed above)", bad);
}

/* --- evaluation ------------------------------------------------------------------------------- */

typedef struct {
    char tokens[64][16];
    uint32_t ids[64];
    float lp[64];
    int matched[64];
    int ntok;
    uint64_t lines[8], sent_tokens[8], sent_oov[8];
    double sent_lp[8];
    int nsent;
    int stop_after; /* stop after this many tokens (0: never) */
} eval_log;

static int on_token(void *ctx, const char *tok, uint32_t id, float lp, int matched) {
    eval_log *l = ctx;
    assert_true(l->ntok < 64);
    snprintf(l->tokens[l->ntok], 16, "%s", tok);
    l->ids[l->ntok] = id;
    l->lp[l->ntok] = lp;
    l->matched[l->ntok] = matched;
    l->ntok++;
    return l->stop_after && l->ntok >= l->stop_after;
}

static int on_sentence(void *ctx, uint64_t line, double lp, uint64_t tokens, uint64_t oov) {
    eval_log *l = ctx;
    assert_true(l->nsent < 8);
    l->lines[l->nsent] = line;
    l->sent_lp[l->nsent] = lp;
    l->sent_tokens[l->nsent] = tokens;
    l->sent_oov[l->nsent] = oov;
    l->nsent++;
    return 0;
}

static void test_eval_hand(void **unused) {
    (void)unused;
    seqlm_ngram_model *lm = hand_model();
    /* Line by line (see test_score_hand for the backoff arithmetic):
     *   "a b c"    -0.3 -0.2 -0.1, </s> after "b c": bo(b c) + p(</s>|c) = -0.25  -> -0.85
     *   "d zzz"    d: -0.5 - 1.2, zzz (OOV): p(<unk> | d) = -1.0, </s>: -0.8 -> -3.5
     *   "<unk> a"  <unk> (OOV): -0.5 - 2.0, a: -0.7, </s>: bo(a) + p(</s>) = -1.1 -> -4.3
     *   ""         </s>: bo(<s>) + p(</s>) = -1.3
     * 11 tokens, 2 OOVs summing to -3.5, total -9.95. */
    const char *path = write_tmp_str("hand.txt", "a b c\nd  zzz\r\n<unk> a\n\n");
    eval_log log;
    memset(&log, 0, sizeof log);
    seqlm_ngram_eval_result r;
    seqlm_error err;
    if (seqlm_ngram_eval(lm, path, on_token, on_sentence, &log, &r, &err) != SEQLM_OK)
        fail_msg("eval: %s", err.msg);
    assert_int_equal(r.sentences, 4);
    assert_int_equal(r.tokens, 11);
    assert_int_equal(r.oov, 2);
    assert_close(r.log10_prob, -9.95, 1e-5);
    assert_close(r.log10_prob_oov, -3.5, 1e-5);
    assert_close(r.perplexity, pow(10.0, 9.95 / 11), 1e-4);
    assert_close(r.perplexity_excl_oov, pow(10.0, (9.95 - 3.5) / 9), 1e-4);

    const char *want_tok[] = {"a",    "b",     "c", "</s>", "d",   "zzz",
                              "</s>", "<unk>", "a", "</s>", "</s>"};
    const uint32_t want_id[] = {A, B, C, 2, D, 0, 2, 0, A, 2, 2};
    const float want_lp[] = {-0.3f, -0.2f, -0.1f, -0.25f, -1.7f, -1.0f,
                             -0.8f, -2.5f, -0.7f, -1.1f,  -1.3f};
    const int want_m[] = {2, 3, 3, 2, 1, 2, 1, 1, 1, 1, 1};
    assert_int_equal(log.ntok, 11);
    for (int i = 0; i < 11; i++) {
        assert_string_equal(log.tokens[i], want_tok[i]);
        assert_int_equal(log.ids[i], want_id[i]);
        assert_close(log.lp[i], want_lp[i], 1e-5);
        assert_int_equal(log.matched[i], want_m[i]);
    }
    const double want_sent[] = {-0.85, -3.5, -4.3, -1.3};
    const uint64_t want_ntok[] = {4, 3, 3, 1}, want_oov[] = {0, 1, 1, 0};
    assert_int_equal(log.nsent, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(log.lines[i], (uint64_t)i + 1);
        assert_close(log.sent_lp[i], want_sent[i], 1e-5);
        assert_int_equal(log.sent_tokens[i], want_ntok[i]);
        assert_int_equal(log.sent_oov[i], want_oov[i]);
    }

    /* Callbacks may be NULL; a file without a final newline ends with a sentence all the same. */
    path = write_tmp_str("hand2.txt", "a b c");
    assert_int_equal(seqlm_ngram_eval(lm, path, NULL, NULL, NULL, &r, &err), SEQLM_OK);
    assert_int_equal(r.tokens, 4);
    assert_close(r.log10_prob, -0.85, 1e-5);
    assert_int_equal(r.oov, 0);
    assert_close(r.perplexity_excl_oov, r.perplexity, 1e-9);

    /* A callback stops the run: the totals cover what was scored. */
    memset(&log, 0, sizeof log);
    log.stop_after = 5;
    path = write_tmp_str("hand3.txt", "a b c\nd zzz\n");
    assert_int_equal(seqlm_ngram_eval(lm, path, on_token, NULL, &log, &r, &err),
                     SEQLM_ERR_INTERRUPT);
    assert_int_equal(r.tokens, 5);
    assert_close(r.log10_prob, -0.85 - 1.7, 1e-5);

    /* Literal sentence markers are an error naming file and line. */
    path = write_tmp_str("markers.txt", "a b\nb </s> c\n");
    assert_int_equal(seqlm_ngram_eval(lm, path, NULL, NULL, NULL, &r, &err), SEQLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "markers.txt: line 2"));
    assert_non_null(strstr(err.msg, "<s> and </s>"));
    path = write_tmp_str("markers2.txt", "<s> a\n");
    assert_int_equal(seqlm_ngram_eval(lm, path, NULL, NULL, NULL, &r, &err), SEQLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "line 1"));
    /* An empty file has nothing to evaluate; a missing one cannot be read; bad UTF-8 is named. */
    path = write_tmp_str("empty.txt", "");
    assert_int_equal(seqlm_ngram_eval(lm, path, NULL, NULL, NULL, &r, &err), SEQLM_ERR_DATA);
    assert_non_null(strstr(err.msg, "no text to evaluate"));
    assert_int_equal(seqlm_ngram_eval(lm, tmp_path("missing.txt"), NULL, NULL, NULL, &r, &err),
                     SEQLM_ERR_IO);
    path = write_tmp_str("bad.txt", "a b\na \xff b\n");
    assert_int_equal(seqlm_ngram_eval(lm, path, NULL, NULL, NULL, &r, &err), SEQLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "line 2"));
    seqlm_ngram_free(lm);
}

/* Eval agrees with a sum of seqlm_ngram_score over the text, for a trained model. */
static void test_eval_trained(void **unused) {
    (void)unused;
    seqlm_ngram_model *lm = train_small(SEQLM_SMOOTH_MKN, 3);
    const char *text = "the cat sat on the dog\nthe zebra ate <unk>\n\na bird\n";
    const char *path = write_tmp_str("eval_small.txt", text);
    seqlm_ngram_eval_result r;
    seqlm_error err;
    if (seqlm_ngram_eval(lm, path, NULL, NULL, NULL, &r, &err) != SEQLM_OK)
        fail_msg("eval: %s", err.msg);
    /* By hand: zebra and the literal <unk> are the OOVs. */
    double total = 0, oov_total = 0;
    uint64_t tokens = 0, oov = 0;
    const char *lines[] = {"the cat sat on the dog", "the zebra ate <unk>", "", "a bird"};
    seqlm_tokens toks = {0};
    for (int l = 0; l < 4; l++) {
        seqlm_tokenize(lines[l], strlen(lines[l]), SEQLM_UNIT_WORD, &toks);
        seqlm_ngram_state st;
        seqlm_ngram_begin(lm, &st);
        for (size_t i = 0; i <= toks.count; i++) {
            uint32_t w = i < toks.count ? seqlm_ngram_word(lm, seqlm_token(&toks, i)) : SEQLM_EOS;
            float lp = score(lm, &st, w, NULL);
            total += lp;
            tokens++;
            if (w == SEQLM_UNK) {
                oov++;
                oov_total += lp;
            }
        }
    }
    seqlm_tokens_free(&toks);
    assert_int_equal(oov, 2);
    assert_int_equal(r.sentences, 4);
    assert_int_equal(r.tokens, tokens);
    assert_int_equal(r.oov, oov);
    assert_close(r.log10_prob, total, 1e-5);
    assert_close(r.log10_prob_oov, oov_total, 1e-5);
    assert_close(r.perplexity, pow(10.0, -total / (double)tokens), 1e-6 * r.perplexity);
    assert_close(r.perplexity_excl_oov, pow(10.0, -(total - oov_total) / (double)(tokens - oov)),
                 1e-6 * r.perplexity_excl_oov);
    seqlm_ngram_free(lm);
}

/* Counts the tokens: a token callback makes eval run serially, line by line, so that run can be
 * compared with one without callbacks (parallel when there are threads). */
static int count_token(void *ctx, const char *token, uint32_t id, float lp, int matched) {
    (void)token, (void)id, (void)lp, (void)matched;
    ++*(uint64_t *)ctx;
    return 0;
}

static void assert_same_result(const seqlm_ngram_eval_result *a, const seqlm_ngram_eval_result *b) {
    assert_int_equal(a->sentences, b->sentences);
    assert_int_equal(a->tokens, b->tokens);
    assert_int_equal(a->oov, b->oov);
    /* bit for bit: the sums run in text order whatever the threads */
    assert_memory_equal(&a->log10_prob, &b->log10_prob, sizeof(double));
    assert_memory_equal(&a->log10_prob_oov, &b->log10_prob_oov, sizeof(double));
    assert_memory_equal(&a->perplexity, &b->perplexity, sizeof(double));
}

/* 40000 lines of 0 to 15 words from a small list (some OOV, some a literal <unk>); line
 * bad_line (1-based, 0 = none) starts with a literal </s>. */
static size_t threads_text(char *text, size_t cap, int bad_line) {
    static const char *words[] = {"the", "cat", "sat", "on", "dog", "zebra", "a", "bird", "<unk>"};
    size_t len = 0;
    uint64_t x = 12345;
    for (int line = 1; line <= 40000; line++) {
        if (line == bad_line) len += (size_t)snprintf(text + len, cap - len, "</s> ");
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int n = (int)(x >> 60);
        for (int i = 0; i < n; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            len +=
                (size_t)snprintf(text + len, cap - len, "%s%s", i ? " " : "", words[(x >> 33) % 9]);
        }
        len += (size_t)snprintf(text + len, cap - len, "\n");
    }
    assert_true(len + 1 < cap);
    return len;
}

/* Eval gives bit-identical totals with callbacks (serial) and without at 1, 2 and 3 threads, on
 * a text long enough for several parallel blocks; an error in a late line is reported the same
 * way, with the same partial totals. */
static void test_eval_threads(void **unused) {
    (void)unused;
    seqlm_ngram_model *lm = train_small(SEQLM_SMOOTH_MKN, 4);
    size_t cap = 1 << 23;
    char *text = malloc(cap);
    assert_non_null(text);
    threads_text(text, cap, 0);
    const char *path = write_tmp_str("threads.txt", text);
    seqlm_error err;
    seqlm_ngram_eval_result serial, r;
    uint64_t ntok = 0;
    if (seqlm_ngram_eval(lm, path, count_token, NULL, &ntok, &serial, &err) != SEQLM_OK)
        fail_msg("eval: %s", err.msg);
    assert_int_equal(ntok, serial.tokens);
    assert_int_equal(serial.sentences, 40000);
    assert_true(serial.oov > 0);
#ifdef _OPENMP
    int saved = omp_get_max_threads();
#endif
    for (int t = 1; t <= 3; t++) {
#ifdef _OPENMP
        omp_set_num_threads(t);
#endif
        if (seqlm_ngram_eval(lm, path, NULL, NULL, NULL, &r, &err) != SEQLM_OK)
            fail_msg("eval at %d threads: %s", t, err.msg);
        assert_same_result(&serial, &r);
    }

    /* A sentence marker on line 30001: the same error and the totals before it. */
    threads_text(text, cap, 30001);
    path = write_tmp_str("threads_bad.txt", text);
    seqlm_ngram_eval_result bad_serial;
    ntok = 0;
    assert_int_equal(seqlm_ngram_eval(lm, path, count_token, NULL, &ntok, &bad_serial, &err),
                     SEQLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "threads_bad.txt: line 30001:"));
    assert_int_equal(bad_serial.sentences, 30000);
    for (int t = 1; t <= 3; t++) {
#ifdef _OPENMP
        omp_set_num_threads(t);
#endif
        assert_int_equal(seqlm_ngram_eval(lm, path, NULL, NULL, NULL, &r, &err), SEQLM_ERR_FORMAT);
        assert_non_null(strstr(err.msg, "threads_bad.txt: line 30001:"));
        assert_same_result(&bad_serial, &r);
    }
#ifdef _OPENMP
    omp_set_num_threads(saved);
#endif
    free(text);
    seqlm_ngram_free(lm);
}

/* Eval looks tokens up in batches: seqlm_vocab_find_many answers as seqlm_vocab_find, for
 * every word of a vocabulary, words it lacks and the special tokens, in batches of any size. */
static void test_vocab_find_many(void **unused) {
    (void)unused;
    seqlm_vocab *v = seqlm_vocab_create();
    assert_non_null(v);
    char buf[64];
    for (int i = 0; i < 3000; i++) {
        snprintf(buf, sizeof buf, "w%d", i * 7);
        assert_true(seqlm_vocab_add(v, buf, 1) >= 0);
    }
    enum { N = 6005 };
    char(*text)[16] = malloc(N * sizeof *text);
    const char **words = malloc(N * sizeof *words);
    int64_t *ids = malloc(N * sizeof *ids);
    assert_true(text && words && ids);
    for (int i = 0; i < N; i++) {
        if (i < 3)
            snprintf(text[i], sizeof text[i], "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
        else
            snprintf(text[i], sizeof text[i], "w%d", (i * 37) % 21000); /* a third are in v */
        words[i] = text[i];
    }
    for (size_t n = 0; n <= N; n += n < 40 ? 1 : 997) {
        seqlm_vocab_find_many(v, words, n, ids);
        for (size_t i = 0; i < n; i++) assert_int_equal(ids[i], seqlm_vocab_find(v, words[i]));
    }
    assert_int_equal(ids[1], SEQLM_BOS);
    free(text);
    free(words);
    free(ids);
    seqlm_vocab_free(v);
}

/* Eval tokenises with the model's unit: characters (a space is "<sp>") and bytes (no UTF-8
 * check). */
static void test_eval_units(void **unused) {
    (void)unused;
    seqlm_ngram_options opt = seqlm_ngram_default_options();
    opt.order = 2;
    opt.warn = quiet;
    opt.unit = SEQLM_UNIT_CHAR;
    seqlm_error err;
    seqlm_ngram_model *lm =
        seqlm_ngram_train(write_tmp_str("chars.txt", "ab a\nba b\naab\n"), &opt, &err);
    if (!lm) fail_msg("train: %s", err.msg);
    eval_log log;
    memset(&log, 0, sizeof log);
    seqlm_ngram_eval_result r;
    const char *path = write_tmp_str("chars_eval.txt", "ab c\n");
    if (seqlm_ngram_eval(lm, path, on_token, NULL, &log, &r, &err) != SEQLM_OK)
        fail_msg("eval: %s", err.msg);
    assert_int_equal(r.tokens, 5);
    assert_int_equal(r.oov, 1);
    assert_string_equal(log.tokens[2], "<sp>");
    assert_int_equal(log.ids[2], seqlm_ngram_word(lm, "<sp>"));
    assert_string_equal(log.tokens[3], "c");
    assert_int_equal(log.ids[3], SEQLM_UNK);
    seqlm_ngram_free(lm);

    opt.unit = SEQLM_UNIT_BYTE;
    lm = seqlm_ngram_train(write_tmp_str("bytes.txt", "a\xff\nb\xff a\n"), &opt, &err);
    if (!lm) fail_msg("train: %s", err.msg);
    path = write_tmp_str("bytes_eval.txt", "\xff\xfe\n");
    memset(&log, 0, sizeof log);
    if (seqlm_ngram_eval(lm, path, on_token, NULL, &log, &r, &err) != SEQLM_OK)
        fail_msg("eval: %s", err.msg);
    assert_int_equal(r.tokens, 3);
    assert_int_equal(r.oov, 1);
    assert_string_equal(log.tokens[0], "<0xff>");
    assert_true(log.ids[0] != SEQLM_UNK);
    assert_string_equal(log.tokens[1], "<0xfe>");
    assert_int_equal(log.ids[1], SEQLM_UNK);
    seqlm_ngram_free(lm);
}

/* --- sampling --------------------------------------------------------------------------------- */

static void test_sampler_args(void **unused) {
    (void)unused;
    seqlm_ngram_model *lm = hand_model();
    seqlm_error err;
    const double bad[] = {0.0, -1.0, NAN, INFINITY, -0.0};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        seqlm_error_clear(&err);
        assert_null(seqlm_ngram_sampler_create(lm, bad[i], &err));
        assert_int_equal(err.status, SEQLM_ERR_ARG);
        assert_non_null(strstr(err.msg, "temperature"));
    }
    seqlm_ngram_sampler_free(NULL);
    seqlm_ngram_free(lm);
}

/* The sampler's distribution in state st equals p(w|st)^(1/T) renormalised without <unk>, <s>;
 * and the draw for u lands on the word whose id-order cumulative interval holds u. */
static void check_sampler_state(seqlm_ngram_sampler *s, const seqlm_ngram_model *lm, double T,
                                const seqlm_ngram_state *st) {
    size_t V = seqlm_vocab_size(seqlm_ngram_vocab(lm));
    double *p = malloc(V * sizeof *p), *ref = malloc(V * sizeof *ref);
    assert_non_null(p);
    assert_non_null(ref);
    ngram_sampler_distribution(s, st, p);
    ngram_sample_naive(lm, T, st, ref);
    /* The normaliser, from the scores directly. */
    seqlm_ngram_state out;
    double z = 0, sum = 0;
    for (uint32_t w = 0; w < V; w++) {
        double q = w == SEQLM_UNK || w == SEQLM_BOS
                       ? 0
                       : pow(10.0, seqlm_ngram_score(lm, st, w, &out, NULL) / T);
        z += q;
    }
    for (uint32_t w = 0; w < V; w++) {
        double q = w == SEQLM_UNK || w == SEQLM_BOS
                       ? 0
                       : pow(10.0, seqlm_ngram_score(lm, st, w, &out, NULL) / T) / z;
        if (fabs(p[w] - q) > 1e-5 * q + 1e-12)
            fail_msg("T=%g word %u: sampler p %.9g, model p %.9g", T, w, p[w], q);
        if (fabs(ref[w] - q) > 1e-5 * q + 1e-12)
            fail_msg("T=%g word %u: naive p %.9g, model p %.9g", T, w, ref[w], q);
        sum += p[w];
    }
    assert_close(sum, 1.0, 1e-5);
    assert_close(p[SEQLM_UNK], 0.0, 0);
    assert_close(p[SEQLM_BOS], 0.0, 0);
    /* Draws: a grid of u values hits each word as often as its probability says. */
    enum { GRID = 4000 };
    int *hits = calloc(V, sizeof *hits);
    assert_non_null(hits);
    for (int i = 0; i < GRID; i++) {
        uint32_t w = ngram_sampler_draw(s, st, (i + 0.5) / GRID);
        assert_true(w < V);
        hits[w]++;
    }
    for (uint32_t w = 0; w < V; w++)
        if (fabs(hits[w] - GRID * p[w]) > 1.01)
            fail_msg("T=%g: word %u drawn %d times in a grid of %d, p = %.6f", T, w, hits[w], GRID,
                     p[w]);
    free(hits);
    /* The ends of [0, 1) draw drawable words. */
    uint32_t first = ngram_sampler_draw(s, st, 0.0);
    uint32_t last = ngram_sampler_draw(s, st, 0x1.fffffffffffffp-1);
    assert_true(p[first] > 0);
    assert_true(p[last] > 0);
    free(p);
    free(ref);
}

static void check_sampler_model(const seqlm_ngram_model *lm, double T) {
    seqlm_error err;
    seqlm_ngram_sampler *s = seqlm_ngram_sampler_create(lm, T, &err);
    if (!s) fail_msg("sampler: %s", err.msg);
    size_t V = seqlm_vocab_size(seqlm_ngram_vocab(lm));
    seqlm_ngram_state st;
    seqlm_ngram_null(lm, &st);
    check_sampler_state(s, lm, T, &st);
    /* Every context reached by two words from <s>, and one after <unk>. */
    for (uint32_t a = 2; a < V; a++) {
        seqlm_ngram_state s1;
        seqlm_ngram_begin(lm, &s1);
        check_sampler_state(s, lm, T, &s1);
        score(lm, &s1, a, NULL);
        check_sampler_state(s, lm, T, &s1);
        for (uint32_t b = 2; b < V; b += V <= 10 ? 1 : 3) {
            seqlm_ngram_state s2 = s1;
            score(lm, &s2, b, NULL);
            check_sampler_state(s, lm, T, &s2);
        }
        score(lm, &s1, SEQLM_UNK, NULL);
        check_sampler_state(s, lm, T, &s1);
    }
    seqlm_ngram_sampler_free(s);
}

static void test_sampler_distribution(void **unused) {
    (void)unused;
    seqlm_ngram_model *lm = hand_model();
    const double temps[] = {1.0, 0.5, 2.0, 0.05};
    for (int i = 0; i < 4; i++) check_sampler_model(lm, temps[i]);
    seqlm_ngram_free(lm);
    for (int sm = SEQLM_SMOOTH_MLE; sm <= SEQLM_SMOOTH_MKN; sm++) {
        lm = train_small((seqlm_smoothing)sm, sm == SEQLM_SMOOTH_MKN ? 4 : 3);
        check_sampler_model(lm, 1.0);
        check_sampler_model(lm, 0.7);
        seqlm_ngram_free(lm);
    }
    /* A unigram model: no context ever. */
    lm = train_small(SEQLM_SMOOTH_KN, 1);
    check_sampler_model(lm, 1.0);
    seqlm_ngram_free(lm);
}

/* Draws n sentences of at most 30 words into buf (a -1 after each); returns the length. */
static size_t draw_many(seqlm_ngram_sampler *s, uint64_t seed, int n, int64_t *buf) {
    seqlm_rng rng;
    seqlm_rng_seed(&rng, seed);
    uint32_t out[30];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        size_t k = seqlm_ngram_sample(s, &rng, out, 30);
        assert_true(k <= 30);
        for (size_t j = 0; j < k; j++) buf[len++] = out[j];
        buf[len++] = -1;
    }
    return len;
}

static void test_sample(void **unused) {
    (void)unused;
    seqlm_ngram_model *lm = train_small(SEQLM_SMOOTH_MKN, 3);
    seqlm_error err;
    seqlm_ngram_sampler *s = seqlm_ngram_sampler_create(lm, 1.0, &err);
    assert_non_null(s);
    int64_t *x = malloc(31 * 200 * sizeof *x), *y = malloc(31 * 200 * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    /* Same seed, same sentences; another seed, other sentences. */
    size_t nx = draw_many(s, 42, 200, x), ny = draw_many(s, 42, 200, y);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx * sizeof *x);
    ny = draw_many(s, 43, 200, y);
    assert_true(nx != ny || memcmp(x, y, nx * sizeof *x) != 0);
    /* Never <unk> or <s>; every word of the model shows up in 200 sentences. */
    size_t V = seqlm_vocab_size(seqlm_ngram_vocab(lm));
    int *seen = calloc(V, sizeof *seen);
    for (size_t i = 0; i < nx; i++) {
        if (x[i] < 0) continue;
        assert_true(x[i] != SEQLM_UNK && x[i] != SEQLM_BOS && x[i] != SEQLM_EOS);
        assert_true((size_t)x[i] < V);
        seen[x[i]]++;
    }
    for (size_t w = 3; w < V; w++) assert_true(seen[w] > 0);
    free(seen);
    /* max_length caps a sentence. */
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 7);
    uint32_t out[2];
    for (int i = 0; i < 50; i++) assert_true(seqlm_ngram_sample(s, &rng, out, 2) <= 2);
    assert_int_equal(seqlm_ngram_sample(s, &rng, out, 0), 0);
    seqlm_ngram_sampler_free(s);
    free(x);
    free(y);
    seqlm_ngram_free(lm);
}

static void test_sample_cold(void **unused) {
    (void)unused;
    /* In the hand model the greedy path from <s> is "a b c </s>" (see test_score_hand):
     * at T = 0.01 the runner-up at each step is 10^(-0.4/0.01) times less likely. */
    seqlm_ngram_model *lm = hand_model();
    seqlm_error err;
    seqlm_ngram_sampler *s = seqlm_ngram_sampler_create(lm, 0.01, &err);
    assert_non_null(s);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 1);
    int greedy = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t out[10];
        size_t k = seqlm_ngram_sample(s, &rng, out, 10);
        greedy += k == 3 && out[0] == A && out[1] == B && out[2] == C;
    }
    assert_true(greedy >= 95);
    seqlm_ngram_sampler_free(s);
    /* Hot: the rare words appear (d, never in a successor list), but never <unk>. */
    s = seqlm_ngram_sampler_create(lm, 5.0, &err);
    assert_non_null(s);
    int d = 0;
    for (int i = 0; i < 200; i++) {
        uint32_t out[10];
        size_t k = seqlm_ngram_sample(s, &rng, out, 10);
        for (size_t j = 0; j < k; j++) {
            assert_true(out[j] >= A && out[j] <= D);
            d += out[j] == D;
        }
    }
    assert_true(d > 0);
    seqlm_ngram_sampler_free(s);
    seqlm_ngram_free(lm);
}

/* The same check on a real model: every state along the first lines of brown.test, order 5,
 * where contexts have thousands of successors and refinements three levels deep. */
static void test_sampler_brown(void **unused) {
    (void)unused;
    if (!have_shared("brown/brown.train.txt")) {
        skip();
        return;
    }
    seqlm_ngram_options opt = seqlm_ngram_default_options();
    opt.order = 5;
    seqlm_error err;
    seqlm_ngram_model *lm = seqlm_ngram_train(shared_data("brown/brown.train.txt"), &opt, &err);
    if (!lm) fail_msg("train: %s", err.msg);
    seqlm_reader *rd = seqlm_reader_open(shared_data("brown/brown.test.txt"), 1, &err);
    assert_non_null(rd);
    const double temps[] = {1.0, 0.6};
    for (int t = 0; t < 2; t++) {
        seqlm_ngram_sampler *s = seqlm_ngram_sampler_create(lm, temps[t], &err);
        assert_non_null(s);
        seqlm_tokens toks = {0};
        const char *line;
        size_t len;
        for (int l = 0; l < 2 && seqlm_reader_next(rd, &line, &len, &err) == 1; l++) {
            assert_true(seqlm_tokenize(line, len, SEQLM_UNIT_WORD, &toks) >= 0);
            seqlm_ngram_state st;
            seqlm_ngram_begin(lm, &st);
            for (size_t i = 0; i <= toks.count && i < 12; i++) {
                check_sampler_state(s, lm, temps[t], &st);
                if (i < toks.count)
                    score(lm, &st, seqlm_ngram_word(lm, seqlm_token(&toks, i)), NULL);
            }
        }
        seqlm_tokens_free(&toks);
        seqlm_ngram_sampler_free(s);
    }
    seqlm_reader_free(rd);
    seqlm_ngram_free(lm);
}

/* --- parity with KenLM on Brown --------------------------------------------------------------- */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void parity(int order, uint64_t min_count, double ppl, double ppl_excl) {
    if (!have_shared("brown/brown.train.txt")) {
        skip();
        return;
    }
    seqlm_ngram_options opt = seqlm_ngram_default_options();
    opt.order = order;
    opt.min_count = min_count;
    seqlm_error err;
    double t0 = now_seconds();
    seqlm_ngram_model *lm = seqlm_ngram_train(shared_data("brown/brown.train.txt"), &opt, &err);
    if (!lm) fail_msg("train: %s", err.msg);
    double t1 = now_seconds();
    seqlm_ngram_eval_result r;
    if (seqlm_ngram_eval(lm, shared_data("brown/brown.test.txt"), NULL, NULL, NULL, &r, &err) !=
        SEQLM_OK)
        fail_msg("eval: %s", err.msg);
    double t2 = now_seconds();
    char kenlm_excl[32] = "n/a";
    if (ppl_excl > 0) snprintf(kenlm_excl, sizeof kenlm_excl, "%.2f", ppl_excl);
    printf("brown order %d min_count %llu: tokens %llu oov %llu perplexity %.3f (KenLM %.2f) "
           "excl. OOV %.3f (KenLM %s); train %.2fs eval %.3fs\n",
           order, (unsigned long long)min_count, (unsigned long long)r.tokens,
           (unsigned long long)r.oov, r.perplexity, ppl, r.perplexity_excl_oov, kenlm_excl, t1 - t0,
           t2 - t1);
    assert_int_equal(r.sentences, 10127);
    assert_int_equal(r.tokens, 171297);
    if (min_count == 1) assert_int_equal(r.oov, 7664);
    if (fabs(r.perplexity / ppl - 1) > 0.002)
        fail_msg("perplexity %.3f, KenLM %.2f", r.perplexity, ppl);
    if (ppl_excl > 0 && fabs(r.perplexity_excl_oov / ppl_excl - 1) > 0.002)
        fail_msg("perplexity without OOVs %.3f, KenLM %.2f", r.perplexity_excl_oov, ppl_excl);
    seqlm_ngram_free(lm);
}

static void test_parity_brown_o5(void **unused) {
    (void)unused;
    parity(5, 1, 376.36, 259.13);
}

static void test_parity_brown_o3(void **unused) {
    (void)unused;
    parity(3, 1, 379.17, 261.04);
}

static void test_parity_brown_o5_min4(void **unused) {
    (void)unused;
    parity(5, 4, 146.74, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score_hand),
        cmocka_unit_test(test_estimators_normalised),
        cmocka_unit_test(test_eval_hand),
        cmocka_unit_test(test_eval_trained),
        cmocka_unit_test(test_eval_units),
        cmocka_unit_test(test_eval_threads),
        cmocka_unit_test(test_vocab_find_many),
        cmocka_unit_test(test_sampler_args),
        cmocka_unit_test(test_sampler_distribution),
        cmocka_unit_test(test_sample),
        cmocka_unit_test(test_sample_cold),
        cmocka_unit_test(test_sampler_brown),
        cmocka_unit_test(test_parity_brown_o5),
        cmocka_unit_test(test_parity_brown_o3),
        cmocka_unit_test(test_parity_brown_o5_min4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
