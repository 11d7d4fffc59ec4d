/* test_generate.c - text generation from neural models (src/sample/generate.c).
 *
 * Tiny models with random weights (seqlm_lm_create + seqlm_lm_reset; word, char and byte units;
 * LSTM, GRU and the window model) and these checks:
 * - the same seed gives the same text, other seeds other texts;
 * - greedy decoding equals the argmax path computed here from seqlm_lm_logprobs, for every
 *   architecture, with and without a prime (an unknown prime word is fed as <unk>), and a prime
 *   changes the text;
 * - top-k = 1, a tiny top-p and temperature 0.01 give the greedy text;
 * - the first token drawn over 20,000 samples follows softmax(logp / T) (T = 1 and 0.5; chi-square
 *   below dof + 8 sqrt(2 dof)); with top-k = 3 only the three most likely tokens appear, with
 *   their renormalised frequencies; with top-p = 0.5 only the nucleus appears;
 * - beam width 1 equals greedy; the beam's text scores at least greedy's under
 *   logp / len^alpha (rescored here);
 * - a byte model whose vocabulary holds invalid UTF-8 bytes and NUL still writes valid UTF-8,
 *   and seqlm_gen_text maps bytes as documented;
 * - bad settings are refused.
 * It also makes tests/golden/lm_tiny_{word,char}.safetensors (for tests/cli_sample.sh) when run
 * with SEQLM_WRITE_GOLDEN=1 (from the build directory: SEQLM_WRITE_GOLDEN=1
 * tests/test_generate), and otherwise checks that those files still load, with the vocabulary,
 * unit and sizes of the models built here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqlm/lm.h"
#include "testutil.h"

/* ---- tiny models ------------------------------------------------------------------------------
 */

static const char *words[] = {"the", "cat", "sat",   "on",   "a",     "mat", "dog",
                              "ran", "to",  "house", "big",  "small", "red", "blue",
                              "and", "it",  "was",   "very", "happy", "."};
#define NWORDS (sizeof words / sizeof *words)

/* Lower-case letters, space, a full stop and two Hangul syllables (multi-byte characters). */
static const char *chars[] = {"a",
                              "b",
                              "c",
                              "d",
                              "e",
                              "f",
                              "g",
                              "h",
                              "i",
                              "j",
                              "k",
                              "l",
                              "m",
                              "n",
                              "o",
                              "p",
                              "q",
                              "r",
                              "s",
                              "t",
                              "u",
                              "v",
                              "w",
                              "x",
                              "y",
                              "z",
                              "<sp>",
                              ".",
                              "\xED\x95\x9C",
                              "\xEA\xB5\xAD"};
#define NCHARS (sizeof chars / sizeof *chars)

/* Bytes that are not UTF-8 on their own, a NUL and some ASCII. */
static const char *bytes[] = {"<0xFF>", "<0xC3>", "<0xA9>", "<0x80>", "<0xE2>", "<0x00>",
                              "a",      "b",      "<sp>",   "<0xED>", "<0xA0>", "<0x0A>"};
#define NBYTES (sizeof bytes / sizeof *bytes)

/* A model over the given tokens; scale multiplies every weight after the reset (larger: peakier
 * distributions). */
static seqlm_lm *tiny_model(seqlm_arch arch, seqlm_unit unit, const char **toks, size_t n,
                            uint64_t seed, float scale) {
    seqlm_vocab *v = seqlm_vocab_create();
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) assert_true(seqlm_vocab_add(v, toks[i], 10 + n - i) >= 3);
    seqlm_lm_config cfg = seqlm_lm_default_config();
    cfg.arch = arch;
    cfg.layers = 1;
    cfg.hidden = 16;
    cfg.embedding = 16;
    cfg.context = 3;
    cfg.unit = unit;
    seqlm_error err;
    seqlm_lm *m = seqlm_lm_create(&cfg, v, &err);
    if (!m) fail_msg("seqlm_lm_create: %s", err.msg);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, seed);
    seqlm_lm_reset(m, &rng);
    seqlm_params *p = seqlm_lm_params(m);
    for (size_t i = 0; i < p->total; i++) p->values[i] *= scale;
    return m;
}

static seqlm_lm *word_model(void) {
    return tiny_model(SEQLM_ARCH_LSTM, SEQLM_UNIT_WORD, words, NWORDS, 11, 3.0f);
}
static seqlm_lm *char_model(void) {
    return tiny_model(SEQLM_ARCH_LSTM, SEQLM_UNIT_CHAR, chars, NCHARS, 12, 3.0f);
}

static char *gen(seqlm_lm *m, const seqlm_gen_config *g, uint64_t seed) {
    seqlm_rng rng;
    seqlm_rng_seed(&rng, seed);
    seqlm_error err;
    char *text = NULL;
    if (seqlm_lm_generate(m, g, &rng, &text, &err) != SEQLM_OK)
        fail_msg("seqlm_lm_generate: %s", err.msg);
    assert_non_null(text);
    size_t bad;
    assert_true(seqlm_utf8_validate(text, strlen(text), &bad) != (size_t)-1);
    return text;
}

/* ---- the reference greedy path, from seqlm_lm_logprobs one step at a time ------------------- */

static int32_t argmax_drawable(const float *lp, int V) {
    int32_t best = SEQLM_EOS;
    for (int32_t i = 3; i < V; i++)
        if (lp[i] > lp[best]) best = i;
    return best;
}

/* Feeds ctx and then the argmax for up to length steps; writes the ids (EOS included for char
 * units, stopping before it for words) to out and returns their number. *gap receives the
 * smallest difference between the best and second-best drawable log-probability on the way. */
static size_t greedy_ref(seqlm_lm *m, const int32_t *ctx, size_t n_ctx, size_t length,
                         uint32_t *out, double *gap) {
    int V = (int)seqlm_vocab_size(seqlm_lm_vocab(m));
    int words_unit = seqlm_lm_config_of(m)->unit == SEQLM_UNIT_WORD;
    seqlm_error err;
    seqlm_lm_work *w = seqlm_lm_work_create(m, 1, 1, &err);
    assert_non_null(w);
    seqlm_lm_work_reset(w);
    float *lp = malloc((size_t)V * sizeof *lp);
    for (size_t i = 0; i < n_ctx; i++) seqlm_lm_logprobs(m, w, &ctx[i], 1, lp);
    size_t n = 0;
    double g = INFINITY;
    while (n < length) {
        int32_t id = argmax_drawable(lp, V);
        for (int32_t i = 2; i < V; i++)
            if (i != id && lp[id] - lp[i] < g) g = lp[id] - lp[i];
        if (id == (int32_t)SEQLM_EOS && words_unit) break;
        out[n++] = (uint32_t)id;
        seqlm_lm_logprobs(m, w, &id, 1, lp);
    }
    if (gap) *gap = g;
    free(lp);
    seqlm_lm_work_free(w);
    return n;
}

static char *greedy_text(seqlm_lm *m, const int32_t *ctx, size_t n_ctx, size_t length,
                         double *gap) {
    uint32_t *ids = malloc(length * sizeof *ids);
    size_t n = greedy_ref(m, ctx, n_ctx, length, ids, gap);
    char *t = seqlm_gen_text(seqlm_lm_vocab(m), seqlm_lm_config_of(m)->unit, ids, n);
    free(ids);
    return t;
}

/* Sum of log p over a word model's text from </s>, with the closing </s> if the text is shorter
 * than length tokens; *len receives the tokens scored. */
static double score_words(seqlm_lm *m, const char *text, size_t length, size_t *len) {
    const seqlm_vocab *v = seqlm_lm_vocab(m);
    int V = (int)seqlm_vocab_size(v);
    seqlm_tokens toks = {0};
    int k = seqlm_tokenize(text, strlen(text), SEQLM_UNIT_WORD, &toks);
    assert_true(k >= 0);
    seqlm_error err;
    seqlm_lm_work *w = seqlm_lm_work_create(m, 1, 1, &err);
    seqlm_lm_work_reset(w);
    float *lp = malloc((size_t)V * sizeof *lp);
    int32_t id = SEQLM_EOS;
    seqlm_lm_logprobs(m, w, &id, 1, lp);
    double sum = 0;
    size_t n = 0;
    for (int i = 0; i < k; i++) {
        id = (int32_t)seqlm_vocab_lookup(v, seqlm_token(&toks, i));
        assert_true(id >= 3);
        sum += lp[id];
        n++;
        seqlm_lm_logprobs(m, w, &id, 1, lp);
    }
    if ((size_t)k < length) {
        sum += lp[SEQLM_EOS];
        n++;
    }
    *len = n;
    free(lp);
    seqlm_lm_work_free(w);
    seqlm_tokens_free(&toks);
    return sum;
}

/* ---- tests ------------------------------------------------------------------------------------
 */

static void test_defaults(void **state) {
    (void)state;
    seqlm_gen_config g = seqlm_gen_default_config();
    assert_true(g.temperature == 1.0 && g.top_k == 0 && g.top_p == 1.0 && !g.greedy &&
                g.beam == 0 && g.length_penalty == 1.0 && g.length == 0 && g.prime == NULL);
}

static void test_same_seed(void **state) {
    (void)state;
    seqlm_lm *models[2] = {word_model(), char_model()};
    for (int k = 0; k < 2; k++) {
        seqlm_gen_config g = seqlm_gen_default_config();
        g.length = 40;
        char *a = gen(models[k], &g, 5), *b = gen(models[k], &g, 5);
        assert_string_equal(a, b);
        int differ = 0;
        for (uint64_t s = 6; s < 10; s++) {
            char *c = gen(models[k], &g, s);
            differ |= strcmp(a, c) != 0;
            free(c);
        }
        assert_true(differ);
        if (k == 1) assert_true(strlen(a) >= 40); /* char models write `length` units */
        free(a);
        free(b);
        seqlm_lm_free(models[k]);
    }
}

static void test_greedy_by_hand(void **state) {
    (void)state;
    struct {
        seqlm_arch arch;
        seqlm_unit unit;
    } cases[] = {{SEQLM_ARCH_LSTM, SEQLM_UNIT_WORD},     {SEQLM_ARCH_GRU, SEQLM_UNIT_WORD},
                 {SEQLM_ARCH_RNN_TANH, SEQLM_UNIT_WORD}, {SEQLM_ARCH_WINDOW, SEQLM_UNIT_WORD},
                 {SEQLM_ARCH_LSTM, SEQLM_UNIT_CHAR},     {SEQLM_ARCH_WINDOW, SEQLM_UNIT_CHAR}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int w = cases[c].unit == SEQLM_UNIT_WORD;
        seqlm_lm *m = tiny_model(cases[c].arch, cases[c].unit, w ? words : chars,
                                 w ? NWORDS : NCHARS, 20 + c, 1.0f);
        seqlm_gen_config g = seqlm_gen_default_config();
        g.greedy = 1;
        g.length = 30;
        int32_t ctx[] = {SEQLM_EOS};
        char *want = greedy_text(m, ctx, 1, g.length, NULL);
        char *got = gen(m, &g, 1);
        printf("greedy %s/%s: \"%s\"\n", seqlm_arch_name(cases[c].arch),
               seqlm_unit_name(cases[c].unit), got);
        assert_string_equal(got, want);
        free(got);
        free(want);
        seqlm_lm_free(m);
    }
}

static void test_prime(void **state) {
    (void)state;
    seqlm_lm *m = word_model();
    const seqlm_vocab *v = seqlm_lm_vocab(m);
    seqlm_gen_config g = seqlm_gen_default_config();
    g.greedy = 1;
    g.length = 20;
    char *plain = gen(m, &g, 1);
    g.prime = "the big dog";
    char *primed = gen(m, &g, 1);
    int32_t ctx[] = {SEQLM_EOS, (int32_t)seqlm_vocab_lookup(v, "the"),
                     (int32_t)seqlm_vocab_lookup(v, "big"), (int32_t)seqlm_vocab_lookup(v, "dog")};
    char *want = greedy_text(m, ctx, 4, g.length, NULL);
    printf("no prime: \"%s\"\nprime \"%s\": \"%s\"\n", plain, g.prime, primed);
    assert_string_equal(primed, want);
    assert_string_not_equal(primed, plain);
    /* Unknown words are <unk>; a second line of the prime follows a </s>. */
    g.prime = "zebra\nthe";
    char *unk = gen(m, &g, 1);
    int32_t ctx2[] = {SEQLM_EOS, SEQLM_UNK, SEQLM_EOS, (int32_t)seqlm_vocab_lookup(v, "the")};
    char *want2 = greedy_text(m, ctx2, 4, g.length, NULL);
    assert_string_equal(unk, want2);
    /* Sampling after a prime follows the primed distribution too. */
    g.greedy = 0;
    g.prime = "the big dog";
    char *s1 = gen(m, &g, 3), *s2 = gen(m, &g, 3);
    assert_string_equal(s1, s2);
    free(plain);
    free(primed);
    free(want);
    free(unk);
    free(want2);
    free(s1);
    free(s2);
    seqlm_lm_free(m);
}

static void test_limits_of_sampling_equal_greedy(void **state) {
    (void)state;
    for (int k = 0; k < 2; k++) {
        /* Random models have near ties; take the first seed whose greedy path has none, so that
         * T = 0.01 must follow it (see below). */
        seqlm_lm *m = NULL;
        char *want = NULL;
        int32_t ctx[] = {SEQLM_EOS};
        double gap = 0;
        for (uint64_t seed = 100; seed < 200 && gap < 0.2; seed++) {
            seqlm_lm_free(m);
            free(want);
            m = tiny_model(SEQLM_ARCH_LSTM, k ? SEQLM_UNIT_CHAR : SEQLM_UNIT_WORD,
                           k ? chars : words, k ? NCHARS : NWORDS, seed, 10.0f);
            want = greedy_text(m, ctx, 1, 40, &gap);
        }
        seqlm_gen_config g = seqlm_gen_default_config();
        g.length = 40;
        g.top_k = 1;
        for (uint64_t s = 1; s <= 3; s++) {
            char *t = gen(m, &g, s);
            assert_string_equal(t, want);
            free(t);
        }
        g.top_k = 0;
        g.top_p = 1e-9;
        for (uint64_t s = 1; s <= 3; s++) {
            char *t = gen(m, &g, s);
            assert_string_equal(t, want);
            free(t);
        }
        /* At T = 0.01 a token trailing the best by `gap` nats has odds exp(-gap / 0.01); the
         * check is meaningful only if that is negligible over the whole path. */
        g.top_p = 1;
        g.temperature = 0.01;
        double V = (double)seqlm_vocab_size(seqlm_lm_vocab(m));
        printf("unit %d: smallest top-1/top-2 gap on the greedy path %.4f nats\n", k, gap);
        assert_true(40 * V * exp(-gap / 0.01) < 1e-4);
        for (uint64_t s = 1; s <= 3; s++) {
            char *t = gen(m, &g, s);
            assert_string_equal(t, want);
            free(t);
        }
        free(want);
        seqlm_lm_free(m);
    }
}

/* Counts the first word drawn over `draws` samples; returns the log-probabilities after </s>. */
static void first_token_counts(seqlm_lm *m, const seqlm_gen_config *g0, int draws, double *count,
                               float *lp) {
    const seqlm_vocab *v = seqlm_lm_vocab(m);
    int V = (int)seqlm_vocab_size(v);
    seqlm_error err;
    seqlm_lm_work *w = seqlm_lm_work_create(m, 1, 1, &err);
    seqlm_lm_work_reset(w);
    int32_t eos = SEQLM_EOS;
    seqlm_lm_logprobs(m, w, &eos, 1, lp);
    seqlm_lm_work_free(w);
    seqlm_gen_config g = *g0;
    g.length = 1;
    memset(count, 0, (size_t)V * sizeof *count);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 99);
    for (int i = 0; i < draws; i++) {
        char *text = NULL;
        assert_int_equal(seqlm_lm_generate(m, &g, &rng, &text, &err), SEQLM_OK);
        int64_t id = text[0] ? seqlm_vocab_find(v, text) : (int64_t)SEQLM_EOS;
        assert_true(id >= 2);
        count[id]++;
        free(text);
    }
}

/* Pearson's chi-square of counts against probabilities q (zero where q is 0), over the ids with
 * expected count >= 5; *dof receives the categories - 1. */
static double chi_square(const double *count, const double *q, int V, int draws, int *dof) {
    double chi = 0;
    int k = 0;
    for (int i = 0; i < V; i++) {
        double e = q[i] * draws;
        if (q[i] == 0) {
            assert_true(count[i] == 0);
            continue;
        }
        if (e < 5) continue;
        chi += (count[i] - e) * (count[i] - e) / e;
        k++;
    }
    *dof = k - 1;
    return chi;
}

static void expect_distribution(const char *what, const double *count, const double *q, int V,
                                int draws) {
    int dof;
    double chi = chi_square(count, q, V, draws, &dof);
    double limit = dof + 8 * sqrt(2.0 * dof);
    printf("%s: chi-square %.2f, %d degrees of freedom (limit %.1f)\n", what, chi, dof, limit);
    assert_true(dof >= 1);
    assert_true(chi < limit);
}

static void test_distribution(void **state) {
    (void)state;
    /* Weights times 8: log-probabilities a few nats apart, most ids still seen often enough. */
    seqlm_lm *m = tiny_model(SEQLM_ARCH_LSTM, SEQLM_UNIT_WORD, words, NWORDS, 31, 8.0f);
    int V = (int)seqlm_vocab_size(seqlm_lm_vocab(m)), draws = 20000;
    double *count = malloc((size_t)V * sizeof *count), *q = malloc((size_t)V * sizeof *q);
    float *lp = malloc((size_t)V * sizeof *lp);
    seqlm_gen_config g = seqlm_gen_default_config();
    double temps[] = {1.0, 0.5};
    for (int t = 0; t < 2; t++) {
        g.temperature = temps[t];
        first_token_counts(m, &g, draws, count, lp);
        double z = 0;
        for (int i = 0; i < V; i++) z += q[i] = i >= 2 ? exp(lp[i] / temps[t]) : 0;
        for (int i = 0; i < V; i++) q[i] /= z;
        char what[64];
        snprintf(what, sizeof what, "first token at T = %.1f", temps[t]);
        expect_distribution(what, count, q, V, draws);
    }
    /* top-k = 3 at T = 1: the three most likely, renormalised. */
    g.temperature = 1;
    g.top_k = 3;
    first_token_counts(m, &g, draws, count, lp);
    int top[3] = {-1, -1, -1};
    for (int r = 0; r < 3; r++)
        for (int i = 2; i < V; i++)
            if ((r < 1 || i != top[0]) && (r < 2 || i != top[1]) &&
                (top[r] < 0 || lp[i] > lp[top[r]]))
                top[r] = i;
    double z = exp(lp[top[0]]) + exp(lp[top[1]]) + exp(lp[top[2]]);
    for (int i = 0; i < V; i++) q[i] = 0;
    for (int r = 0; r < 3; r++) q[top[r]] = exp(lp[top[r]]) / z;
    printf("top-3: ids %d %d %d, p %.3f %.3f %.3f\n", top[0], top[1], top[2], q[top[0]], q[top[1]],
           q[top[2]]);
    expect_distribution("first token, top-k 3", count, q, V, draws);
    /* top-p = 0.5: the shortest most-likely prefix holding half the mass, renormalised. */
    g.top_k = 0;
    g.top_p = 0.5;
    first_token_counts(m, &g, draws, count, lp);
    double zall = 0;
    for (int i = 2; i < V; i++) zall += exp(lp[i]);
    for (int i = 0; i < V; i++) q[i] = 0;
    double mass = 0;
    int kept = 0;
    while (mass < 0.5 * zall) {
        int best = -1;
        for (int i = 2; i < V; i++)
            if (q[i] == 0 && (best < 0 || lp[i] > lp[best])) best = i;
        q[best] = exp(lp[best]);
        mass += q[best];
        kept++;
    }
    for (int i = 0; i < V; i++) q[i] /= mass;
    printf("top-p 0.5: %d tokens in the nucleus\n", kept);
    assert_true(kept >= 2);
    expect_distribution("first token, top-p 0.5", count, q, V, draws);
    free(count);
    free(q);
    free(lp);
    seqlm_lm_free(m);
}

static void test_beam(void **state) {
    (void)state;
    /* Width 1 is greedy, for words and characters, recurrent and window models. */
    seqlm_lm *models[3] = {word_model(), char_model(),
                           tiny_model(SEQLM_ARCH_WINDOW, SEQLM_UNIT_WORD, words, NWORDS, 60, 3.0f)};
    for (int k = 0; k < 3; k++) {
        seqlm_gen_config g = seqlm_gen_default_config();
        g.greedy = 1;
        g.length = 30;
        char *greedy = gen(models[k], &g, 1);
        g.greedy = 0;
        g.beam = 1;
        char *beam = gen(models[k], &g, 1);
        assert_string_equal(beam, greedy);
        free(greedy);
        free(beam);
        seqlm_lm_free(models[k]);
    }
    /* Wider beams find text at least as good as greedy's under the beam's objective. Several
     * models, lengths and length penalties. */
    int better = 0;
    for (int c = 0; c < 6; c++) {
        seqlm_lm *m = tiny_model(c % 3 == 2 ? SEQLM_ARCH_WINDOW
                                 : c % 3    ? SEQLM_ARCH_GRU
                                            : SEQLM_ARCH_LSTM,
                                 SEQLM_UNIT_WORD, words, NWORDS, 40 + c, 2.0f);
        seqlm_gen_config g = seqlm_gen_default_config();
        g.length = 8 + 2 * c;
        g.length_penalty = c < 3 ? 1.0 : 0.5;
        g.greedy = 1;
        char *greedy = gen(m, &g, 1);
        g.greedy = 0;
        g.beam = 5;
        char *beam = gen(m, &g, 1);
        size_t lg, lb;
        double sg = score_words(m, greedy, g.length, &lg), sb = score_words(m, beam, g.length, &lb);
        double ng = sg / pow((double)lg, g.length_penalty),
               nb = sb / pow((double)lb, g.length_penalty);
        printf("beam 5: %.4f (\"%s\") vs greedy %.4f (\"%s\")\n", nb, beam, ng, greedy);
        assert_true(nb >= ng - 1e-5);
        better += nb > ng + 1e-5;
        free(greedy);
        free(beam);
        seqlm_lm_free(m);
    }
    printf("beam beat greedy in %d of 6 cases\n", better);
}

static void test_gen_text(void **state) {
    (void)state;
    seqlm_vocab *v = seqlm_vocab_create();
    for (size_t i = 0; i < NBYTES; i++) seqlm_vocab_add(v, bytes[i], 1);
#define ID(t) ((uint32_t)seqlm_vocab_lookup(v, t))
    uint32_t e_acute[] = {ID("<0xC3>"), ID("<0xA9>"), ID("a")};
    char *t = seqlm_gen_text(v, SEQLM_UNIT_BYTE, e_acute, 3);
    assert_string_equal(t, "\xC3\xA9"
                           "a");
    free(t);
    uint32_t junk[] = {ID("<0xFF>"), ID("a"),    ID("<0xE2>"), ID("<0x80>"),
                       ID("<0x00>"), ID("<sp>"), ID("<0xED>"), ID("<0xA0>"),
                       ID("<0x80>"), SEQLM_EOS,  ID("b")};
    t = seqlm_gen_text(v, SEQLM_UNIT_BYTE, junk, sizeof junk / sizeof *junk);
    /* FF; a; E2 80 (truncated: each byte its own U+FFFD); NUL; space; ED A0 80 (a surrogate:
     * three U+FFFD); </s> a newline; b. */
    assert_string_equal(t, "\xEF\xBF\xBD"
                           "a"
                           "\xEF\xBF\xBD\xEF\xBF\xBD"
                           "\xEF\xBF\xBD"
                           " "
                           "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                           "\nb");
    free(t);
    seqlm_vocab_free(v);
    /* Words: single spaces; a </s> is a newline. */
    v = seqlm_vocab_create();
    for (size_t i = 0; i < 3; i++) seqlm_vocab_add(v, words[i], 1);
    uint32_t w[] = {3, 4, SEQLM_EOS, 5, 3};
    t = seqlm_gen_text(v, SEQLM_UNIT_WORD, w, 5);
    assert_string_equal(t, "the cat\nsat the");
    free(t);
    t = seqlm_gen_text(v, SEQLM_UNIT_WORD, w, 0);
    assert_string_equal(t, "");
    free(t);
    seqlm_vocab_free(v);
#undef ID
}

static void test_byte_model_utf8(void **state) {
    (void)state;
    seqlm_lm *m = tiny_model(SEQLM_ARCH_LSTM, SEQLM_UNIT_BYTE, bytes, NBYTES, 50, 1.0f);
    seqlm_gen_config g = seqlm_gen_default_config(); /* 500 bytes */
    int saw_fffd = 0;
    for (uint64_t s = 1; s <= 5; s++) {
        char *t = gen(m, &g, s); /* gen checks validity */
        saw_fffd |= strstr(t, "\xEF\xBF\xBD") != NULL;
        assert_true(strlen(t) >= 500);
        free(t);
    }
    assert_true(saw_fffd);
    g.beam = 3;
    g.length = 50;
    free(gen(m, &g, 1));
    seqlm_lm_free(m);
}

static void test_bad_settings(void **state) {
    (void)state;
    seqlm_lm *m = word_model();
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 1);
    seqlm_error err;
    char *t = NULL;
    seqlm_gen_config g = seqlm_gen_default_config();
    g.temperature = 0;
    assert_int_equal(seqlm_lm_generate(m, &g, &rng, &t, &err), SEQLM_ERR_ARG);
    printf("%s\n", err.msg);
    g = seqlm_gen_default_config();
    g.top_p = 0;
    assert_int_equal(seqlm_lm_generate(m, &g, &rng, &t, &err), SEQLM_ERR_ARG);
    g.top_p = 1.5;
    assert_int_equal(seqlm_lm_generate(m, &g, &rng, &t, &err), SEQLM_ERR_ARG);
    g = seqlm_gen_default_config();
    g.top_k = -1;
    assert_int_equal(seqlm_lm_generate(m, &g, &rng, &t, &err), SEQLM_ERR_ARG);
    g = seqlm_gen_default_config();
    g.beam = 2;
    g.greedy = 1;
    assert_int_equal(seqlm_lm_generate(m, &g, &rng, &t, &err), SEQLM_ERR_ARG);
    printf("%s\n", err.msg);
    assert_null(t);
    seqlm_lm_free(m);
}

/* The model files tests/cli_sample.sh samples from: written with SEQLM_WRITE_GOLDEN=1,
 * otherwise loaded and compared with the models built here. */
static void test_golden_models(void **state) {
    (void)state;
    struct {
        const char *file;
        seqlm_lm *(*make)(void);
    } files[] = {{"lm_tiny_word.safetensors", word_model},
                 {"lm_tiny_char.safetensors", char_model}};
    for (int k = 0; k < 2; k++) {
        seqlm_lm *m = files[k].make();
        seqlm_error err;
        if (getenv("SEQLM_WRITE_GOLDEN")) {
            if (seqlm_lm_save(m, golden_path(files[k].file), NULL, &err) != SEQLM_OK)
                fail_msg("%s", err.msg);
            printf("wrote %s\n", golden_path(files[k].file));
        }
        seqlm_lm *l = seqlm_lm_load(golden_path(files[k].file), NULL, &err);
        if (!l) fail_msg("%s (make it with SEQLM_WRITE_GOLDEN=1 test_generate)", err.msg);
        /* The weights may differ if seqlm_lm_reset changes; the shape must not. */
        const seqlm_vocab *a = seqlm_lm_vocab(m), *b = seqlm_lm_vocab(l);
        assert_int_equal(seqlm_vocab_size(a), seqlm_vocab_size(b));
        for (uint32_t i = 0; i < seqlm_vocab_size(a); i++)
            assert_string_equal(seqlm_vocab_word(a, i), seqlm_vocab_word(b, i));
        assert_int_equal(seqlm_lm_config_of(l)->unit, seqlm_lm_config_of(m)->unit);
        assert_int_equal(seqlm_params_total(seqlm_lm_params(l)),
                         seqlm_params_total(seqlm_lm_params(m)));
        seqlm_gen_config g = seqlm_gen_default_config();
        g.length = 60;
        char *x = gen(l, &g, 7), *y = gen(l, &g, 7);
        assert_string_equal(x, y);
        free(x);
        free(y);
        seqlm_lm_free(l);
        seqlm_lm_free(m);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_same_seed),
        cmocka_unit_test(test_greedy_by_hand),
        cmocka_unit_test(test_prime),
        cmocka_unit_test(test_limits_of_sampling_equal_greedy),
        cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_beam),
        cmocka_unit_test(test_gen_text),
        cmocka_unit_test(test_byte_model_utf8),
        cmocka_unit_test(test_bad_settings),
        cmocka_unit_test(test_golden_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
