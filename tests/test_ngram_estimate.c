/* test_ngram_estimate.c - every estimator against probabilities worked out by hand on a tiny
 * corpus, the discount fallbacks, pruning, vocabulary options, and (when ../shared/data is
 * there) modified Kneser-Ney against the ARPA file KenLM's lmplz wrote for the same text.
 *
 * The corpus:   a b / a b / b a   i.e.  <s> a b </s>, <s> a b </s>, <s> b a </s>
 * raw unigram counts a 3, b 3, </s> 3 (9 tokens); vocabulary <unk> <s> </s> a b, so the
 * uniform distribution is over V = 4 ids (<s> is never predicted). Bigram counts:
 * <s> a 2, a b 2, b </s> 2, <s> b 1, b a 1, a </s> 1. */
#include "testutil.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ngram/model.h"
#include "seqlm/ngram.h"

static const char *corpus(void) {
    return write_tmp_str("tiny.txt", "a b\na b\nb a\n");
}

static int warnings;
static void count_warning(void *ctx, const char *msg) {
    (void)ctx;
    (void)msg;
    warnings++;
}

static seqlm_ngram_model *train(seqlm_smoothing s, int order) {
    seqlm_ngram_options o = seqlm_ngram_default_options();
    o.order = order;
    o.smoothing = s;
    o.warn = count_warning;
    seqlm_error err;
    seqlm_ngram_model *lm = seqlm_ngram_train(corpus(), &o, &err);
    if (!lm) fail_msg("train: %s", err.msg);
    return lm;
}

/* p(w | prev) as a linear probability, prev = NULL for the unigram distribution. */
static double p2(const seqlm_ngram_model *lm, const char *prev, const char *w) {
    seqlm_ngram_state st, out;
    seqlm_ngram_null(lm, &st);
    if (prev) seqlm_ngram_score(lm, &st, seqlm_ngram_word(lm, prev), &st, NULL);
    if (prev && strcmp(prev, "<s>") == 0) seqlm_ngram_begin(lm, &st);
    return pow(10.0, seqlm_ngram_score(lm, &st, seqlm_ngram_word(lm, w), &out, NULL));
}

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 2e-6 * (fabs(b) + 1e-3))

static void test_mle(void **state) {
    (void)state;
    seqlm_ngram_model *lm = train(SEQLM_SMOOTH_MLE, 2);
    NEAR(p2(lm, NULL, "a"), 3.0 / 9);
    NEAR(p2(lm, "a", "b"), 2.0 / 3);
    NEAR(p2(lm, "a", "</s>"), 1.0 / 3);
    NEAR(p2(lm, "<s>", "a"), 2.0 / 3);
    NEAR(p2(lm, "b", "a"), 1.0 / 3);
    assert_true(p2(lm, "a", "a") < 1e-90); /* unseen after a seen context: zero */
    seqlm_ngram_free(lm);
}

static void test_add_one(void **state) {
    (void)state;
    seqlm_ngram_model *lm = train(SEQLM_SMOOTH_ADD, 2);
    /* unigrams (c + 1) / (9 + 4) */
    NEAR(p2(lm, NULL, "a"), 4.0 / 13);
    NEAR(p2(lm, NULL, "<unk>"), 1.0 / 13);
    /* seen bigrams (c + 1) / (c(a) + 4); the rest backs off:
     * bo(a) = (1 - 3/7 - 2/7) / (1 - p(b) - p(</s>)) = (2/7) / (5/13) = 26/35 */
    NEAR(p2(lm, "a", "b"), 3.0 / 7);
    NEAR(p2(lm, "a", "</s>"), 2.0 / 7);
    NEAR(p2(lm, "a", "a"), 26.0 / 35 * 4.0 / 13);
    seqlm_ngram_free(lm);
}

static void test_katz(void **state) {
    (void)state;
    warnings = 0;
    seqlm_ngram_model *lm = train(SEQLM_SMOOTH_KATZ, 2);
    /* Good-Turing is undefined on data this small: every count falls back to an absolute
     * discount of 0.5 (d_r = (r - 0.5) / r), with a warning.
     * unigrams: p*(a) = 2.5/9; leftover 1 - 3 * 2.5/9 = 1.5/9 spread over 4 ids. */
    assert_true(warnings >= 1);
    double pa = 2.5 / 9 + 1.5 / 9 / 4;
    NEAR(p2(lm, NULL, "a"), pa);
    NEAR(p2(lm, NULL, "<unk>"), 1.5 / 9 / 4);
    /* p*(b|a) = 1.5/3 and p*(</s>|a) = 0.5/3; bo(a) = (1 - 2/3) / (1 - p(b) - p(</s>)) */
    NEAR(p2(lm, "a", "b"), 0.5);
    NEAR(p2(lm, "a", "</s>"), 1.0 / 6);
    NEAR(p2(lm, "a", "a"), (1.0 / 3) / (1 - 2 * pa) * pa);
    seqlm_ngram_free(lm);
}

static void test_witten_bell(void **state) {
    (void)state;
    seqlm_ngram_model *lm = train(SEQLM_SMOOTH_WB, 2);
    /* unigrams: (c + T/V) / (N + T) with T = 3 types, N = 9 */
    NEAR(p2(lm, NULL, "a"), (3 + 0.75) / 12);
    NEAR(p2(lm, NULL, "<unk>"), 0.75 / 12);
    /* p(b|a) = (c(a b) + T(a) p(b)) / (c(a) + T(a)) with T(a) = 2, c(a) = 3 */
    NEAR(p2(lm, "a", "b"), (2 + 2 * 0.3125) / 5);
    NEAR(p2(lm, "a", "a"), 2.0 / 5 * 0.3125);
    seqlm_ngram_free(lm);
}

static void test_kneser_ney(void **state) {
    (void)state;
    warnings = 0;
    seqlm_ngram_model *lm = train(SEQLM_SMOOTH_KN, 2);
    /* Continuation counts: a {<s>, b}, b {a, <s>}, </s> {b, a}: 2 each, total 6. No unigram is
     * seen once, so D = n1/(n1 + 2 n2) is unusable and the fallback 0.5 is used (a warning):
     * p(a) = (2 - 0.5)/6 + gamma/4 with gamma = 0.5 * 3/6. */
    assert_int_equal(warnings, 1);
    NEAR(p2(lm, NULL, "a"), 1.5 / 6 + 0.25 / 4);
    NEAR(p2(lm, NULL, "<unk>"), 0.25 / 4);
    /* Bigrams (raw counts, top order): n1 = 3, n2 = 3, D = 3/9. gamma(a) = D * 2 / 3. */
    double D = 1.0 / 3, pb = 0.3125;
    NEAR(p2(lm, "a", "b"), (2 - D) / 3 + D * 2 / 3 * pb);
    NEAR(p2(lm, "a", "a"), D * 2 / 3 * 0.3125);
    seqlm_ngram_free(lm);
}

static void test_modified_kneser_ney_fallback(void **state) {
    (void)state;
    warnings = 0;
    seqlm_ngram_model *lm = train(SEQLM_SMOOTH_MKN, 2);
    /* Both orders lack some count of counts: KenLM's fallback D1 0.5, D2 1, D3+ 1.5. */
    assert_int_equal(warnings, 2);
    /* unigrams: (2 - D2)/6 + gamma/4, gamma = D2 * 3 / 6 */
    double pa = 1.0 / 6 + 0.5 / 4;
    NEAR(p2(lm, NULL, "a"), pa);
    /* p(b|a) = (2 - D2)/3 + gamma(a) p(b), gamma(a) = (D1 + D2)/3 */
    NEAR(p2(lm, "a", "b"), 1.0 / 3 + 0.5 * pa);
    NEAR(p2(lm, "a", "</s>"), 0.5 / 3 + 0.5 * pa);
    seqlm_ngram_free(lm);
}

/* Every estimator's distribution sums to one in every context of a larger text. */
static void test_normalised(void **state) {
    (void)state;
    const char *path = write_tmp_str(
        "norm.txt", "the cat sat on the mat\nthe dog sat on the log\na cat and a dog\n"
                    "the cat saw the dog\non the mat the cat sat\nthe log\n\nthe the the\n");
    for (int s = SEQLM_SMOOTH_MLE; s <= SEQLM_SMOOTH_MKN; s++) {
        for (int order = 1; order <= 4; order++) {
            seqlm_ngram_options o = seqlm_ngram_default_options();
            o.order = order;
            o.smoothing = (seqlm_smoothing)s;
            seqlm_error err;
            seqlm_ngram_model *lm = seqlm_ngram_train(path, &o, &err);
            assert_non_null(lm);
            const seqlm_vocab *v = seqlm_ngram_vocab(lm);
            /* contexts: <s>, "the", "<s> the", "sat on the", "cat" */
            const char *ctxs[][3] = {{"<s>", 0, 0},
                                     {"the", 0, 0},
                                     {"<s>", "the", 0},
                                     {"sat", "on", "the"},
                                     {"cat", 0, 0}};
            for (size_t c = 0; c < sizeof ctxs / sizeof ctxs[0]; c++) {
                seqlm_ngram_state st;
                seqlm_ngram_null(lm, &st);
                for (int k = 0; k < 3 && ctxs[c][k]; k++) {
                    if (strcmp(ctxs[c][k], "<s>") == 0)
                        seqlm_ngram_begin(lm, &st);
                    else
                        seqlm_ngram_score(lm, &st, seqlm_ngram_word(lm, ctxs[c][k]), &st, NULL);
                }
                double sum = 0;
                for (uint32_t w = 0; w < seqlm_vocab_size(v); w++) {
                    if (w == SEQLM_BOS) continue;
                    seqlm_ngram_state out;
                    sum += pow(10.0, seqlm_ngram_score(lm, &st, w, &out, NULL));
                }
                if (fabs(sum - 1) > 1e-5)
                    fail_msg("%s order %d context %zu: probabilities sum to %.9f",
                             seqlm_smoothing_name((seqlm_smoothing)s), order, c, sum);
            }
            seqlm_ngram_free(lm);
        }
    }
}

/* Pruning drops rare n-grams but keeps the prefixes and suffixes of survivors, and the model
 * stays normalised because the pruned mass goes to the backoff weights. */
static void test_pruning(void **state) {
    (void)state;
    const char *path = write_tmp_str("prune.txt", "x y z\nx y z\nx y w\nq y z\nx y z w\n");
    seqlm_ngram_options o = seqlm_ngram_default_options();
    o.order = 3;
    seqlm_error err;
    seqlm_ngram_model *full = seqlm_ngram_train(path, &o, &err);
    o.prune[1] = 1;
    o.prune[2] = 1;
    seqlm_ngram_model *pruned = seqlm_ngram_train(path, &o, &err);
    assert_non_null(full);
    assert_non_null(pruned);
    assert_true(seqlm_ngram_count(pruned, 3) < seqlm_ngram_count(full, 3));
    assert_true(seqlm_ngram_count(pruned, 2) < seqlm_ngram_count(full, 2));
    assert_int_equal(seqlm_ngram_count(pruned, 1), seqlm_ngram_count(full, 1));
    seqlm_ngram_state st;
    seqlm_ngram_begin(pruned, &st);
    seqlm_ngram_score(pruned, &st, seqlm_ngram_word(pruned, "x"), &st, NULL);
    double sum = 0;
    for (uint32_t w = 0; w < seqlm_vocab_size(seqlm_ngram_vocab(pruned)); w++) {
        if (w == SEQLM_BOS) continue;
        seqlm_ngram_state out;
        sum += pow(10.0, seqlm_ngram_score(pruned, &st, w, &out, NULL));
    }
    assert_true(fabs(sum - 1) < 1e-5);
    seqlm_ngram_free(full);
    seqlm_ngram_free(pruned);
}

/* --min-count folds rare tokens into <unk>, an ordinary counted token; --max-vocab caps ids. */
static void test_vocabulary_options(void **state) {
    (void)state;
    const char *path = write_tmp_str("vocab.txt", "a a a b b c\na b d\n");
    seqlm_ngram_options o = seqlm_ngram_default_options();
    o.order = 2;
    o.min_count = 2;
    seqlm_error err;
    seqlm_ngram_model *lm = seqlm_ngram_train(path, &o, &err);
    assert_non_null(lm);
    const seqlm_vocab *v = seqlm_ngram_vocab(lm);
    assert_int_equal(seqlm_vocab_size(v), 5); /* <unk> <s> </s> a b */
    assert_int_equal(seqlm_vocab_find(v, "c"), -1);
    assert_int_equal(seqlm_vocab_count(v, SEQLM_UNK), 2); /* c and d */
    /* <unk> was seen twice in training, so it has a bigram of its own: "c" follows "b" */
    seqlm_ngram_state st;
    int matched;
    seqlm_ngram_null(lm, &st);
    seqlm_ngram_score(lm, &st, seqlm_ngram_word(lm, "b"), &st, NULL);
    seqlm_ngram_score(lm, &st, SEQLM_UNK, &st, &matched);
    assert_int_equal(matched, 2);
    seqlm_ngram_free(lm);
    o.min_count = 1;
    o.max_vocab = 4;
    lm = seqlm_ngram_train(path, &o, &err);
    assert_non_null(lm);
    assert_int_equal(seqlm_vocab_size(seqlm_ngram_vocab(lm)), 4); /* specials + a */
    seqlm_ngram_free(lm);
}

static void test_bad_options(void **state) {
    (void)state;
    seqlm_ngram_options o = seqlm_ngram_default_options();
    seqlm_error err;
    o.order = 0;
    assert_null(seqlm_ngram_train(corpus(), &o, &err));
    assert_int_equal(err.status, SEQLM_ERR_ARG);
    o.order = SEQLM_NGRAM_MAX_ORDER + 1;
    assert_null(seqlm_ngram_train(corpus(), &o, &err));
    o.order = 3;
    o.smoothing = SEQLM_SMOOTH_ADD;
    o.delta = -1;
    assert_null(seqlm_ngram_train(corpus(), &o, &err));
    assert_non_null(strstr(err.msg, "delta"));
    o = seqlm_ngram_default_options();
    assert_null(seqlm_ngram_train(write_tmp_str("empty.txt", ""), &o, &err));
    assert_int_equal(err.status, SEQLM_ERR_DATA);
    assert_non_null(strstr(err.msg, "empty.txt"));
    assert_null(seqlm_ngram_train(write_tmp_str("bos.txt", "a b\nc <s> d\n"), &o, &err));
    assert_non_null(strstr(err.msg, "line 2"));
    assert_null(seqlm_ngram_train(write_tmp("bad.txt", "ok\nbad \xff here\n", 15), &o, &err));
    assert_non_null(strstr(err.msg, "line 2, byte 7"));
    assert_null(seqlm_ngram_train(tmp_path("does-not-exist.txt"), &o, &err));
    assert_int_equal(err.status, SEQLM_ERR_IO);
}

/* The same corpus with CRLF line ends, without a final newline, or gzipped gives the same
 * model as the plain LF file. */
static void test_line_ends(void **state) {
    (void)state;
    seqlm_ngram_options o = seqlm_ngram_default_options();
    seqlm_error err;
    const char *lf = write_tmp_str("lf.txt", "the cat sat\non the mat\n");
    const char *crlf = write_tmp_str("crlf.txt", "the cat sat\r\non the mat\r\n");
    const char *nofinal = write_tmp_str("nofinal.txt", "the cat sat\non the mat");
    seqlm_ngram_model *a = seqlm_ngram_train(lf, &o, &err);
    assert_non_null(a);
    const char *others[] = {crlf, nofinal};
    for (int k = 0; k < 2; k++) {
        seqlm_ngram_model *b = seqlm_ngram_train(others[k], &o, &err);
        assert_non_null(b);
        for (int n = 1; n <= 3; n++) {
            assert_int_equal(seqlm_ngram_count(a, n), seqlm_ngram_count(b, n));
            const ngram_level *x = &a->level[n - 1], *y = &b->level[n - 1];
            assert_memory_equal(x->prob, y->prob, x->count * sizeof(float));
        }
        seqlm_ngram_free(b);
    }
    seqlm_ngram_free(a);
}

/* Modified Kneser-Ney must reproduce lmplz: train order 3 on the same text KenLM was given and
 * compare every n-gram's probability and backoff with KenLM's ARPA file. */
static void test_kenlm_arpa_parity(void **state) {
    (void)state;
    if (!have_shared("arpa/brown-valid.o3.arpa.gz") || !have_shared("brown/brown.valid.txt")) {
        skip();
        return;
    }
    seqlm_error err;
    seqlm_ngram_model *ken = seqlm_ngram_load(shared_data("arpa/brown-valid.o3.arpa.gz"), &err);
    if (!ken) fail_msg("load: %s", err.msg);
    seqlm_ngram_options o = seqlm_ngram_default_options();
    o.order = 3;
    seqlm_ngram_model *ours = seqlm_ngram_train(shared_data("brown/brown.valid.txt"), &o, &err);
    if (!ours) fail_msg("train: %s", err.msg);
    double worst_p = 0, worst_b = 0;
    for (int n = 1; n <= 3; n++) {
        assert_int_equal(seqlm_ngram_count(ours, n), seqlm_ngram_count(ken, n));
        const ngram_level *lv = &ours->level[n - 1];
        for (uint64_t i = 0; i < lv->count; i++) {
            uint32_t w[3];
            for (int j = 0; j < n; j++) {
                uint32_t id = n == 1 ? (uint32_t)i : lv->words[i * (uint64_t)n + (uint64_t)j];
                w[j] = seqlm_ngram_word(ken, seqlm_vocab_word(ours->vocab, id));
            }
            int64_t k = n == 1 ? (int64_t)w[0] : ngram_find(&ken->level[n - 1], ngram_key(w, n));
            if (k < 0) fail_msg("%d-gram %" PRIu64 " is not in KenLM's model", n, i);
            if (n == 1 && w[0] == SEQLM_BOS) continue; /* KenLM writes 0, we write -99 */
            double dp = fabs(lv->prob[i] - ken->level[n - 1].prob[k]);
            double db = n < 3 ? fabs(lv->backoff[i] - ken->level[n - 1].backoff[k]) : 0;
            if (dp > worst_p) worst_p = dp;
            if (db > worst_b) worst_b = db;
        }
    }
    printf("mkn vs KenLM lmplz, brown.valid order 3: max |d log10 p| = %.2g, max |d log10 bo| = "
           "%.2g\n",
           worst_p, worst_b);
    assert_true(worst_p < 1e-5);
    assert_true(worst_b < 1e-5);
    seqlm_ngram_free(ours);
    seqlm_ngram_free(ken);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mle),
        cmocka_unit_test(test_add_one),
        cmocka_unit_test(test_katz),
        cmocka_unit_test(test_witten_bell),
        cmocka_unit_test(test_kneser_ney),
        cmocka_unit_test(test_modified_kneser_ney_fallback),
        cmocka_unit_test(test_normalised),
        cmocka_unit_test(test_pruning),
        cmocka_unit_test(test_vocabulary_options),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_kenlm_arpa_parity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
