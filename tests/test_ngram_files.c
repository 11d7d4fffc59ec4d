/* test_ngram_files.c - n-gram model files: ARPA (plain and gzipped) and binary round trips,
 * KenLM's ARPA, and the errors a broken file must give (file name, line, what was expected).
 *
 * Round trips compare the loaded model with the one written, entry by entry and by scoring
 * sentences: exactly for the binary form, within 1e-6 per value for ARPA (7 decimals). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ngram/model.h"
#include "seqlm/ngram.h"

static const char *corpus = "the cat sat on the mat\n"
                            "the dog sat on the log\n"
                            "a cat and a dog sat on a mat\n"
                            "the cat saw the dog\n"
                            "the dog saw a cat on the mat\n"
                            "a dog and the cat\n"
                            "the mat was on the log\n"
                            "the cat sat\n"
                            "a dog sat on the mat\n"
                            "on the log sat a cat\n"
                            "the log saw the cat and the dog\n"
                            "cats and dogs\n";

static const char *sentences[] = {
    "the cat sat on the mat",          "a dog saw the log",   "the mat sat on a cat and a dog",
    "unknown words are scored as unk", "the the the cat cat", "",
};

static seqlm_ngram_model *train(const char *name, int order, seqlm_smoothing sm, seqlm_unit unit) {
    seqlm_ngram_options opt = seqlm_ngram_default_options();
    opt.order = order;
    opt.smoothing = sm;
    opt.unit = unit;
    seqlm_error err = {0};
    seqlm_ngram_model *lm = seqlm_ngram_train(write_tmp_str(name, corpus), &opt, &err);
    if (!lm) fail_msg("train: %s", err.msg);
    return lm;
}

static seqlm_ngram_model *load_ok(const char *path) {
    seqlm_error err = {0};
    seqlm_ngram_model *lm = seqlm_ngram_load(path, &err);
    if (!lm) fail_msg("load %s: %s", path, err.msg);
    return lm;
}

static int close_enough(float a, float b, float tol) {
    if (tol == 0) return a == b;
    if (a <= SEQLM_NGRAM_LOG0 || b <= SEQLM_NGRAM_LOG0) return a <= -99 && b <= -99;
    return fabsf(a - b) <= tol;
}

/* Same vocabulary, same n-grams in the same order, values within tol (0: bit for bit). */
static void compare_models(const seqlm_ngram_model *a, const seqlm_ngram_model *b, float tol) {
    assert_int_equal(seqlm_ngram_order(a), seqlm_ngram_order(b));
    assert_int_equal(seqlm_ngram_unit(a), seqlm_ngram_unit(b));
    const seqlm_vocab *va = seqlm_ngram_vocab(a), *vb = seqlm_ngram_vocab(b);
    assert_int_equal(seqlm_vocab_size(va), seqlm_vocab_size(vb));
    for (uint32_t id = 0; id < seqlm_vocab_size(va); id++)
        assert_string_equal(seqlm_vocab_word(va, id), seqlm_vocab_word(vb, id));
    for (int n = 1; n <= a->order; n++) {
        const ngram_level *x = &a->level[n - 1], *y = &b->level[n - 1];
        assert_int_equal(x->count, y->count);
        if (n > 1) assert_memory_equal(x->words, y->words, x->count * (size_t)n * sizeof(uint32_t));
        if (n < a->order)
            assert_memory_equal(x->child, y->child, (x->count + 1) * sizeof(uint32_t));
        for (uint64_t i = 0; i < x->count; i++) {
            if (!close_enough(x->prob[i], y->prob[i], tol) ||
                !close_enough(x->backoff[i], y->backoff[i], tol))
                fail_msg("order %d entry %llu: prob %.9g vs %.9g, backoff %.9g vs %.9g", n,
                         (unsigned long long)i, x->prob[i], y->prob[i], x->backoff[i],
                         y->backoff[i]);
        }
    }
}

/* Scores every test sentence with both models, token by token (</s> included). */
static void compare_scores(const seqlm_ngram_model *a, const seqlm_ngram_model *b, float tol) {
    seqlm_tokens toks = {0};
    for (size_t s = 0; s < sizeof sentences / sizeof *sentences; s++) {
        assert_true(
            seqlm_tokenize(sentences[s], strlen(sentences[s]), seqlm_ngram_unit(a), &toks) >= 0);
        seqlm_ngram_state sa, sb;
        seqlm_ngram_begin(a, &sa);
        seqlm_ngram_begin(b, &sb);
        for (size_t i = 0; i <= toks.count; i++) {
            const char *tok = i < toks.count ? seqlm_token(&toks, i) : "</s>";
            uint32_t wa = seqlm_ngram_word(a, tok), wb = seqlm_ngram_word(b, tok);
            assert_int_equal(wa, wb);
            int ma, mb;
            float pa = seqlm_ngram_score(a, &sa, wa, &sa, &ma);
            float pb = seqlm_ngram_score(b, &sb, wb, &sb, &mb);
            assert_int_equal(ma, mb);
            if (tol == 0 ? pa != pb : fabsf(pa - pb) > tol * (float)a->order)
                fail_msg("sentence %zu token %zu (%s): %.9g vs %.9g", s, i, tok, pa, pb);
        }
    }
    seqlm_tokens_free(&toks);
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Writes the model in all three forms, loads each back and compares. */
static void round_trip(const char *tag, seqlm_ngram_model *lm) {
    char arpa[64], arpagz[64], bin[64], again[64];
    snprintf(arpa, sizeof arpa, "%s.arpa", tag);
    snprintf(arpagz, sizeof arpagz, "%s.arpa.gz", tag);
    snprintf(bin, sizeof bin, "%s.bin", tag);
    snprintf(again, sizeof again, "%s-again.arpa", tag);
    char p_arpa[4096], p_gz[4096], p_bin[4096], p_again[4096];
    snprintf(p_arpa, sizeof p_arpa, "%s", tmp_path(arpa));
    snprintf(p_gz, sizeof p_gz, "%s", tmp_path(arpagz));
    snprintf(p_bin, sizeof p_bin, "%s", tmp_path(bin));
    snprintf(p_again, sizeof p_again, "%s", tmp_path(again));
    seqlm_error err = {0};
    assert_int_equal(seqlm_ngram_write(lm, p_arpa, &err), SEQLM_OK);
    assert_int_equal(seqlm_ngram_write(lm, p_gz, &err), SEQLM_OK);
    assert_int_equal(seqlm_ngram_write(lm, p_bin, &err), SEQLM_OK);

    seqlm_ngram_model *a = load_ok(p_arpa);
    compare_models(lm, a, 1e-6f);
    compare_scores(lm, a, 1e-6f);
    seqlm_ngram_model *g = load_ok(p_gz);
    compare_models(a, g, 0); /* the same text, compressed */
    seqlm_ngram_free(g);

    seqlm_ngram_model *b = load_ok(p_bin);
    assert_non_null(b->map);
    compare_models(lm, b, 0);
    compare_scores(lm, b, 0);
    /* The binary-loaded model writes the very same ARPA text. */
    assert_int_equal(seqlm_ngram_write(b, p_again, &err), SEQLM_OK);
    size_t l1, l2;
    char *t1 = slurp(p_arpa, &l1), *t2 = slurp(p_again, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(t1, t2, l1);
    free(t1);
    free(t2);
    /* And a binary written from a loaded ARPA model loads as that model. */
    assert_int_equal(seqlm_ngram_write_binary(a, p_bin, &err), SEQLM_OK);
    seqlm_ngram_model *c = load_ok(p_bin);
    compare_models(a, c, 0);
    compare_scores(a, c, 0);
    seqlm_ngram_free(c);
    seqlm_ngram_free(a);
    seqlm_ngram_free(b);
}

static void test_round_trip_word_mkn(void **state) {
    (void)state;
    seqlm_ngram_model *lm = train("c1.txt", 3, SEQLM_SMOOTH_MKN, SEQLM_UNIT_WORD);
    round_trip("word-mkn", lm);
    seqlm_ngram_free(lm);
}

static void test_round_trip_katz_4(void **state) {
    (void)state;
    seqlm_ngram_model *lm = train("c2.txt", 4, SEQLM_SMOOTH_KATZ, SEQLM_UNIT_WORD);
    round_trip("word-katz", lm);
    seqlm_ngram_free(lm);
}

static void test_round_trip_char_unit(void **state) {
    (void)state;
    seqlm_ngram_model *lm = train("c3.txt", 5, SEQLM_SMOOTH_WB, SEQLM_UNIT_CHAR);
    round_trip("char-wb", lm);
    seqlm_ngram_model *b = load_ok(tmp_path("char-wb.arpa"));
    assert_int_equal(seqlm_ngram_unit(b), SEQLM_UNIT_CHAR); /* from the seqlm comment */
    assert_true(seqlm_ngram_word(b, "<sp>") != SEQLM_UNK);
    seqlm_ngram_free(b);
    seqlm_ngram_free(lm);
}

static void test_round_trip_unigram(void **state) {
    (void)state;
    seqlm_ngram_model *lm = train("c4.txt", 1, SEQLM_SMOOTH_ADD, SEQLM_UNIT_BYTE);
    round_trip("byte-uni", lm);
    seqlm_ngram_free(lm);
}

/* A hand-made file in SRILM's conventions: spaces, unsorted higher orders, <s> at -99, no
 * <unk>, blank lines and text before \data\. */
static void test_srilm_style(void **state) {
    (void)state;
    const char *text = "Some text before the data section.\n"
                       "\n"
                       "\\data\\\n"
                       "ngram  1 = 4\n"
                       "ngram 2=4\n"
                       "ngram 3=2\n"
                       "\n"
                       "\\1-grams:\n"
                       "-1.0 </s>\n"
                       "-99 <s> -0.5\n"
                       "-0.5   b    -0.25\n"
                       "-0.6\ta\t-0.3\n"
                       "\n"
                       "\\2-grams:\n"
                       "-0.2 b </s> -0.1\n"
                       "-0.3 <s> a -0.2\n"
                       "-0.4 a b -0.05\n"
                       "-0.1 <s> b\n"
                       "\n"
                       "\\3-grams:\n"
                       "-0.01 a b </s>\n"
                       "-0.02 <s> a b\n"
                       "\n"
                       "\\end\\\n";
    seqlm_ngram_model *lm = load_ok(write_tmp_str("srilm.arpa", text));
    assert_int_equal(seqlm_ngram_order(lm), 3);
    assert_int_equal(seqlm_ngram_count(lm, 1), 5); /* a, b and the three special words */
    assert_int_equal(seqlm_ngram_count(lm, 2), 4);
    assert_int_equal(seqlm_ngram_count(lm, 3), 2);
    assert_int_equal(seqlm_ngram_unit(lm), SEQLM_UNIT_WORD);
    assert_true(lm->level[0].prob[SEQLM_UNK] == -100.0f);
    assert_true(lm->level[0].prob[SEQLM_BOS] == -99.0f);
    uint32_t a = seqlm_ngram_word(lm, "a"), b = seqlm_ngram_word(lm, "b");
    seqlm_ngram_state st;
    int m;
    seqlm_ngram_begin(lm, &st);
    assert_true(seqlm_ngram_score(lm, &st, a, &st, &m) == -0.3f);
    assert_int_equal(m, 2);
    assert_true(seqlm_ngram_score(lm, &st, b, &st, &m) == -0.02f);
    assert_int_equal(m, 3);
    assert_true(seqlm_ngram_score(lm, &st, SEQLM_EOS, &st, &m) == -0.01f);
    assert_int_equal(m, 3);
    /* a backoff: p(a | b) = bo(b) + p(a) */
    seqlm_ngram_null(lm, &st);
    seqlm_ngram_score(lm, &st, b, &st, &m);
    assert_true(seqlm_ngram_score(lm, &st, a, &st, &m) == -0.25f + -0.6f);
    assert_int_equal(m, 1);
    seqlm_ngram_free(lm);
}

/* KenLM's lmplz output for the Brown validation text (order 3). */
static void test_kenlm_file(void **state) {
    (void)state;
    if (!have_shared("arpa/brown-valid.o3.arpa.gz")) return;
    seqlm_ngram_model *lm = load_ok(shared_data("arpa/brown-valid.o3.arpa.gz"));
    assert_int_equal(seqlm_ngram_order(lm), 3);
    assert_int_equal(seqlm_ngram_count(lm, 1), 19008);
    assert_int_equal(seqlm_ngram_count(lm, 2), 101342);
    assert_int_equal(seqlm_ngram_count(lm, 3), 165203);
    const ngram_level *uni = &lm->level[0];
    assert_true(uni->prob[SEQLM_UNK] == -5.039455f);
    assert_true(uni->backoff[SEQLM_UNK] == 0.0f);
    assert_true(uni->prob[SEQLM_BOS] == 0.0f);
    assert_true(uni->backoff[SEQLM_BOS] == -0.8432779f);
    uint32_t and_ = seqlm_ngram_word(lm, "and");
    assert_true(uni->prob[and_] == -1.6519625f);
    assert_true(uni->backoff[and_] == -0.29572585f);
    uint32_t some = seqlm_ngram_word(lm, "some"), other = seqlm_ngram_word(lm, "other");
    uint32_t prisoner = seqlm_ngram_word(lm, "prisoner"), the = seqlm_ngram_word(lm, "the");
    assert_true(some != SEQLM_UNK && other != SEQLM_UNK && prisoner != SEQLM_UNK);
    const ngram_level *bi = &lm->level[1], *tri = &lm->level[2];
    uint32_t w2[2] = {some, other};
    int64_t i = ngram_find(bi, ngram_key(w2, 2));
    assert_true(i >= 0);
    assert_true(bi->prob[i] == -1.7920076f && bi->backoff[i] == -0.04771986f);
    uint32_t w3[3] = {SEQLM_BOS, SEQLM_BOS, SEQLM_EOS};
    w3[1] = seqlm_ngram_word(lm, ".");
    i = ngram_find(tri, ngram_key(w3, 3)); /* "<s> . </s>" -0.000040332212 */
    assert_true(i >= 0);
    assert_true(tri->prob[i] == -0.000040332212f);

    seqlm_ngram_state st;
    int m;
    seqlm_ngram_null(lm, &st);
    seqlm_ngram_score(lm, &st, some, &st, &m);
    seqlm_ngram_score(lm, &st, other, &st, &m);
    assert_true(seqlm_ngram_score(lm, &st, prisoner, &st, &m) == -1.6617575f);
    assert_int_equal(m, 3);
    /* "the other prisoner" is no trigram: p(prisoner | other) + bo(the other) */
    seqlm_ngram_null(lm, &st);
    seqlm_ngram_score(lm, &st, the, &st, &m);
    seqlm_ngram_score(lm, &st, other, &st, &m);
    float want = -2.9620512f;
    want += -0.11152307f;
    assert_true(seqlm_ngram_score(lm, &st, prisoner, &st, &m) == want);
    assert_int_equal(m, 2);

    /* Its binary form is the same model. */
    seqlm_error err = {0};
    assert_int_equal(seqlm_ngram_write_binary(lm, tmp_path("brown.bin"), &err), SEQLM_OK);
    seqlm_ngram_model *b = load_ok(tmp_path("brown.bin"));
    compare_models(lm, b, 0);
    compare_scores(lm, b, 0);
    seqlm_ngram_free(b);
    unlink(tmp_path("brown.bin"));
    seqlm_ngram_free(lm);
}

/* --- errors ----------------------------------------------------------------------------------- */

/* Loading path must fail with every fragment (NULL-terminated) in the message. */
static void expect_error(const char *path, ...) {
    seqlm_error err = {0};
    seqlm_ngram_model *lm = seqlm_ngram_load(path, &err);
    if (lm) {
        seqlm_ngram_free(lm);
        fail_msg("%s: loaded, expected an error", path);
    }
    assert_int_not_equal(err.status, SEQLM_OK);
    va_list ap;
    va_start(ap, path);
    const char *frag;
    while ((frag = va_arg(ap, const char *)))
        if (!strstr(err.msg, frag)) fail_msg("message \"%s\" lacks \"%s\"", err.msg, frag);
    va_end(ap);
}

static const char *good_arpa = "\\data\\\n"
                               "ngram 1=5\n"
                               "ngram 2=3\n"
                               "ngram 3=2\n"
                               "\n"
                               "\\1-grams:\n"
                               "-1.0\t<unk>\t0\n"
                               "0\t<s>\t-0.5\n"
                               "-0.7\t</s>\t0\n"
                               "-0.6\ta\t-0.3\n"
                               "-0.5\tb\t-0.2\n"
                               "\n"
                               "\\2-grams:\n"
                               "-0.3\t<s> a\t-0.1\n"
                               "-0.4\ta b\t-0.1\n"
                               "-0.2\tb </s>\t0\n"
                               "\n"
                               "\\3-grams:\n"
                               "-0.02\t<s> a b\n"
                               "-0.01\ta b </s>\n"
                               "\n"
                               "\\end\\\n";

/* good_arpa with the first occurrence of `from` replaced by `to`, written to a file. */
static const char *variant(const char *name, const char *from, const char *to) {
    const char *at = strstr(good_arpa, from);
    if (!at) fail_msg("variant %s: \"%s\" not found", name, from);
    static char buf[4096];
    size_t pre = (size_t)(at - good_arpa);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)pre, good_arpa, to, at + strlen(from));
    return write_tmp_str(name, buf);
}

static void test_good_arpa_loads(void **state) {
    (void)state;
    seqlm_ngram_model *lm = load_ok(write_tmp_str("good.arpa", good_arpa));
    assert_int_equal(seqlm_ngram_count(lm, 3), 2);
    seqlm_ngram_free(lm);
}

static void test_arpa_errors(void **state) {
    (void)state;
    expect_error(write_tmp_str("empty.arpa", ""), "empty.arpa", "empty file", NULL);
    expect_error(write_tmp_str("nodata.arpa", "ngram 1=1\n\n-1 a\n"), "nodata.arpa",
                 "missing \\data\\", NULL);
    expect_error(variant("sec-before.arpa", "\\data\\\n", ""), "sec-before.arpa", "line 5",
                 "\"\\1-grams:\" before \"\\data\\\"", NULL);
    /* Cut in the middle of the trigram section. */
    char cut[4096];
    snprintf(cut, sizeof cut, "%.*s", (int)(strstr(good_arpa, "-0.01\ta b") - good_arpa),
             good_arpa);
    expect_error(write_tmp_str("cut.arpa", cut), "cut.arpa", "unexpected end of file",
                 "\\3-grams: section", "truncated", NULL);
    snprintf(cut, sizeof cut, "%.*s", (int)(strstr(good_arpa, "\\end\\") - good_arpa), good_arpa);
    expect_error(write_tmp_str("noend.arpa", cut), "noend.arpa", "unexpected end of file",
                 "expected \"\\end\\\"", NULL);
    expect_error(variant("count.arpa", "ngram 2=3", "ngram 2=4"), "count.arpa", "line 18",
                 "\"\\2-grams:\" section has 3 n-grams, header said 4", NULL);
    expect_error(variant("count2.arpa", "ngram 2=3", "ngram 2=2"), "count2.arpa", "line 16",
                 "more n-grams than the 2", NULL);
    expect_error(variant("few.arpa", "-0.4\ta b\t-0.1", "-0.4\ta"), "few.arpa", "line 15",
                 "expected 2 words after the probability, found 1", NULL);
    expect_error(variant("many.arpa", "-0.01\ta b </s>", "-0.01\ta b </s> -0.1 x"), "many.arpa",
                 "line 20", "expected 3 words", NULL);
    expect_error(variant("nan.arpa", "-0.4\ta b", "x0.4\ta b"), "nan.arpa", "line 15",
                 "expected a number for the log10 probability, found \"x0.4\"", NULL);
    expect_error(variant("nan2.arpa", "-0.4\ta b", "nan\ta b"), "nan2.arpa", "line 15",
                 "expected a number", NULL);
    expect_error(variant("bo.arpa", "-0.4\ta b\t-0.1", "-0.4\ta b\t-0.1x"), "bo.arpa", "line 15",
                 "backoff weight", NULL);
    expect_error(variant("pos.arpa", "-0.4\ta b", "0.4\ta b"), "pos.arpa", "line 15", "positive",
                 NULL);
    expect_error(variant("unk.arpa", "-0.4\ta b", "-0.4\ta c"), "unk.arpa", "line 15",
                 "word \"c\" is not in the \\1-grams: section", NULL);
    expect_error(variant("dup.arpa", "-0.2\tb </s>", "-0.2\ta b"), "dup.arpa", "line 16",
                 "duplicate 2-gram \"a b\" (first on line 15)", NULL);
    expect_error(variant("dup1.arpa", "-0.5\tb", "-0.5\ta"), "dup1.arpa", "line 11",
                 "duplicate 1-gram \"a\" (first on line 10)", NULL);
    expect_error(variant("ctx.arpa", "-0.02\t<s> a b", "-0.02\t<s> b </s>"), "ctx.arpa", "line 19",
                 "3-gram \"<s> b </s>\" has no context", "\"<s> b\"", NULL);
    expect_error(variant("suf.arpa", "-0.02\t<s> a b", "-0.02\t<s> a a"), "suf.arpa", "line 19",
                 "suffix \"a a\"", NULL);
    expect_error(variant("order.arpa", "ngram 2=3", "ngram 3=3"), "order.arpa", "line 3",
                 "expected \"ngram 2=COUNT\"", NULL);
    expect_error(variant("sec.arpa", "\\3-grams:", "\\4-grams:"), "sec.arpa", "line 18",
                 "expected \"\\3-grams:\"", NULL);
    expect_error(write_tmp_str("utf8.arpa", "\\data\\\nngram 1=1\n\\1-grams:\n-1 \xff\n\\end\\\n"),
                 "utf8.arpa", "line 4", NULL);
    expect_error(tmp_path("does-not-exist.arpa"), "does-not-exist.arpa", "cannot open", NULL);

    /* Orders up to SEQLM_NGRAM_MAX_ORDER only. */
    char big[1024];
    size_t k = (size_t)snprintf(big, sizeof big, "\\data\\\n");
    for (int n = 1; n <= SEQLM_NGRAM_MAX_ORDER + 1; n++)
        k += (size_t)snprintf(big + k, sizeof big - k, "ngram %d=1\n", n);
    expect_error(write_tmp_str("big.arpa", big), "big.arpa", "line 12", "maximum order", NULL);
}

/* A KenLM-sized header over a tiny file must not allocate for the promised n-grams. */
static void test_lying_header(void **state) {
    (void)state;
    expect_error(variant("lie.arpa", "ngram 3=2", "ngram 3=4000000000"), "lie.arpa", NULL);
    expect_error(variant("lie2.arpa", "ngram 3=2", "ngram 3=99999999999999999999999"), "lie2.arpa",
                 "line 4", "more than this build supports", NULL);
}

static void write_bytes(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void test_binary_errors(void **state) {
    (void)state;
    seqlm_ngram_model *lm = load_ok(write_tmp_str("b.arpa", good_arpa));
    seqlm_error err = {0};
    const char *bin = tmp_path("good.bin");
    assert_int_equal(seqlm_ngram_write_binary(lm, bin, &err), SEQLM_OK);
    seqlm_ngram_free(lm);
    size_t len;
    char *data = slurp(bin, &len);
    assert_true(len > 200 && len % 8 == 0);
    seqlm_ngram_free(load_ok(bin));

    /* Cut at every 8th length (and a few more): always an error, never a crash. */
    const char *cutp = tmp_path("cut.bin");
    for (size_t n = 8; n < len; n += n < 96 ? 1 : 8) {
        write_bytes(cutp, data, n);
        expect_error(cutp, "cut.bin", "truncated", NULL);
    }
    write_bytes(cutp, data, len - 3);
    char want[128];
    snprintf(want, sizeof want, "truncated: %zu bytes, expected %zu", len - 3, len);
    expect_error(cutp, "cut.bin", want, NULL);
    write_bytes(cutp, data, 8); /* just the magic */
    expect_error(cutp, "cut.bin", "truncated: 8 bytes", NULL);

    /* Trailing bytes. */
    char *longer = calloc(len + 8, 1);
    memcpy(longer, data, len);
    write_bytes(cutp, longer, len + 8);
    expect_error(cutp, "cut.bin", "trailing", NULL);
    free(longer);

    /* Every single flipped byte of the header is caught. */
    const char *flip = tmp_path("flip.bin");
    size_t header = 80 + 64 * 3;
    for (size_t i = 8; i < header; i++) {
        data[i] ^= 0x10;
        write_bytes(flip, data, len);
        expect_error(flip, "flip.bin", NULL);
        data[i] ^= 0x10;
    }
    data[20] ^= 0x01; /* the u64 sanity value */
    write_bytes(flip, data, len);
    expect_error(flip, "flip.bin", "sanity values", NULL);
    data[20] ^= 0x01;
    data[40] ^= 0x01; /* the recorded size */
    write_bytes(flip, data, len);
    expect_error(flip, "flip.bin", "checksum", NULL);
    data[40] ^= 0x01;

    /* Any byte of the body changed to a large value: loads or fails, never crashes. */
    for (size_t i = header; i < len; i++) {
        char old = data[i];
        data[i] = (char)0xff;
        write_bytes(flip, data, len);
        seqlm_ngram_model *m = seqlm_ngram_load(flip, &err);
        if (m) {
            seqlm_ngram_state st;
            seqlm_ngram_begin(m, &st);
            for (uint32_t w = 0; w < 6; w++) seqlm_ngram_score(m, &st, w, &st, NULL);
            seqlm_ngram_free(m);
        }
        data[i] = old;
    }
    /* A word id beyond the vocabulary is named. */
    const unsigned char *lv2 = (const unsigned char *)data + 80 + 64 + 16;
    size_t words = 0;
    for (int i = 7; i >= 0; i--) words = (words << 8) | lv2[i];
    assert_true(words >= header && words + 4 <= len);
    memset(data + words, 0xff, 4);
    write_bytes(flip, data, len);
    expect_error(flip, "flip.bin", "2-grams: word id 4294967295 is not below", NULL);
    memset(data + words, 0, 4);
    /* A hash slot's copy of prob must be its entry's: the first used bigram slot, changed. */
    size_t slots = 0;
    for (int i = 7; i >= 0; i--) slots = (slots << 8) | lv2[32 + i];
    assert_true(slots >= header && slots % 64 == 0 && slots + 16 <= len);
    while (memcmp(data + slots, "\0\0\0\0\0\0\0\0", 8) == 0) slots += 16;
    data[slots + 8] ^= 0x01;
    write_bytes(flip, data, len);
    expect_error(flip, "flip.bin", "2-grams: hash slot", "disagrees with entry", NULL);
    data[slots + 8] ^= 0x01;
    /* Version 1 files (a key array instead of the slots) are refused with the way out. */
    data[8] = 1;
    write_bytes(flip, data, len);
    expect_error(flip, "flip.bin", "binary format version 1", "seqlm ngram convert", NULL);
    free(data);
}

static void test_unwritable(void **state) {
    (void)state;
    seqlm_ngram_model *lm = load_ok(write_tmp_str("w.arpa", good_arpa));
    seqlm_error err = {0};
    const char *paths[] = {"/nonexistent-dir/x.arpa", "/nonexistent-dir/x.arpa.gz",
                           "/nonexistent-dir/x.bin"};
    for (int i = 0; i < 3; i++) {
        assert_int_not_equal(seqlm_ngram_write(lm, paths[i], &err), SEQLM_OK);
        assert_non_null(strstr(err.msg, paths[i]));
        struct stat st;
        assert_int_not_equal(stat(paths[i], &st), 0);
    }
    /* Writing over an existing file replaces it. */
    const char *dst = tmp_path("keep.bin");
    write_bytes(dst, "old", 3);
    assert_int_equal(seqlm_ngram_write(lm, dst, &err), SEQLM_OK);
    seqlm_ngram_free(load_ok(dst));
    seqlm_ngram_free(lm);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_word_mkn),  cmocka_unit_test(test_round_trip_katz_4),
        cmocka_unit_test(test_round_trip_char_unit), cmocka_unit_test(test_round_trip_unigram),
        cmocka_unit_test(test_srilm_style),          cmocka_unit_test(test_kenlm_file),
        cmocka_unit_test(test_good_arpa_loads),      cmocka_unit_test(test_arpa_errors),
        cmocka_unit_test(test_lying_header),         cmocka_unit_test(test_binary_errors),
        cmocka_unit_test(test_unwritable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
