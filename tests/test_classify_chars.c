/* test_classify_chars.c - the classifier's character features (the character BiLSTM word
 * representation of nn/charword.c, shared with the tagger).
 *
 * - charword_ids: long words keep their first and last characters, unknown characters are
 *   <unk>, an empty word is one <unk>;
 * - the whole classifier with character features by central differences: every parameter
 *   tensor (char embedding and char LSTM included), on a batch where a word repeats (its
 *   gradient sums over its tokens), one is longer than max_word_chars and several are
 *   outside the word vocabulary (<unk> words with their own characters);
 * - padding invariance: a sentence alone and in a padded batch of other sentences (other
 *   distinct words, a longer Tc) gives the same logits and gradients, to rounding (1e-6, as
 *   test_classify.c's padding test: the BLAS may sum a product of another shape in another
 *   order, so not bit for bit, with or without character features);
 * - files: the configuration and character vocabulary survive a save and load (the same
 *   probabilities, bit for bit); a model without character features writes no character
 *   fields (its file is as before); a file that lost its character vocabulary is refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify_internal.h"
#include "gradcheck.h"
#include "seqlm/modelfile.h"
#include "testutil.h"

/* words: "good" twice in sentence 0 and again in 4; a 23-character word (max_word_chars 6);
 * Hangul words seen once (<unk> with min_count 2) */
static const char tiny[] = "pos\tgood film good\n"
                           "neg\tbad bad plot\n"
                           "pos\t재미있는 영화였다 정말 좋아요\n"
                           "neg\tsupercalifragilisticexp boring\n"
                           "pos\tgood 영화\n"
                           "neg\tbad 별로\n";

static seqlm_classify_data *read_tiny(void) {
    seqlm_classify_data *d = seqlm_classify_data_create();
    assert_non_null(d);
    seqlm_classify_source s;
    memset(&s, 0, sizeof s);
    s.path = write_tmp_str("chars_tiny.tsv", tiny);
    s.format = SEQLM_CLS_FORMAT_TSV;
    seqlm_error err;
    if (seqlm_classify_data_read(d, &s, &err) != SEQLM_OK) fail_msg("%s", err.msg);
    return d;
}

static seqlm_classify_config small_config(seqlm_cell cell, seqlm_pool pool) {
    seqlm_classify_config cfg = seqlm_classify_default_config();
    cfg.cell = cell;
    cfg.pool = pool;
    cfg.hidden = 3;
    cfg.embedding = 4;
    cfg.char_dim = 3;
    cfg.char_hidden = 2;
    cfg.max_word_chars = 6;
    return cfg;
}

/* ---- char ids ------------------------------------------------------------------------------ */

static void test_char_ids(void **state) {
    (void)state;
    strmap chars;
    strmap_init(&chars);
    assert_true(strmap_add(&chars, "<unk>", 5, 0) == 0);
    assert_int_equal(charword_vocab_add(&chars, "abcdefghij"), 0);
    assert_int_equal(charword_vocab_add(&chars, "영화"), 0);
    assert_int_equal(chars.n, 13);
    int32_t ids[8];
    /* 10 characters, at most 6: the first 3 and the last 3 */
    assert_int_equal(charword_ids(&chars, "abcdefghij", 6, ids), 6);
    const int32_t want[6] = {1, 2, 3, 8, 9, 10};
    assert_memory_equal(ids, want, sizeof want);
    /* an odd maximum: the first 2 and the last 3 */
    assert_int_equal(charword_ids(&chars, "abcdefghij", 5, ids), 5);
    const int32_t want5[5] = {1, 2, 8, 9, 10};
    assert_memory_equal(ids, want5, sizeof want5);
    /* multi-byte characters, an unknown one is <unk> */
    assert_int_equal(charword_ids(&chars, "영x화", 6, ids), 3);
    assert_true(ids[0] == 11 && ids[1] == 0 && ids[2] == 12);
    /* the empty word: one <unk> */
    assert_int_equal(charword_ids(&chars, "", 6, ids), 1);
    assert_int_equal(ids[0], 0);
    strmap_free(&chars);
}

/* ---- the whole model by finite differences ------------------------------------------------- */

typedef struct {
    seqlm_classifier *m;
    seqlm_classify_work *w;
    int T, B;
    int32_t *ids, *tids, lengths[3], targets[3];
    classify_words words;
} model_case;

/* Lays out sentences idx[0..B) of e seq-first (as train.c's gather), padding with the ids and
 * types of `pad` (to show that padding is never read). */
static int layout(const seqlm_classify_encoded *e, const size_t *idx, int B, int32_t pad,
                  int32_t *ids, int32_t *tids, int32_t *lengths) {
    int T = 0;
    for (int b = 0; b < B; b++) {
        lengths[b] = (int32_t)(e->start[idx[b] + 1] - e->start[idx[b]]);
        if (lengths[b] > T) T = lengths[b];
    }
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t k = (size_t)t * B + b, at = e->start[idx[b]] + (size_t)t;
            ids[k] = t < lengths[b] ? e->ids[at] : pad;
            tids[k] = t < lengths[b] ? e->type_ids[at] : pad;
        }
    return T;
}

static double model_loss(void *ctx) {
    model_case *k = ctx;
    return classify_batch_full(k->m, k->w, k->ids, &k->words, NULL, k->lengths, k->T, k->B,
                               k->targets, 0, 0, NULL, NULL, NULL);
}

static void model_gradcheck(seqlm_cell cell, seqlm_pool pool) {
    seqlm_classify_data *d = read_tiny();
    seqlm_classify_config cfg = small_config(cell, pool);
    seqlm_error err;
    model_case k;
    memset(&k, 0, sizeof k);
    k.m = seqlm_classifier_create_for(&cfg, d, 2, &err);
    if (!k.m) fail_msg("%s", err.msg);
    /* the word vocabulary is "good" and "bad"; the characters are every training word's */
    assert_int_equal(seqlm_vocab_size(seqlm_classifier_vocab(k.m)), 5);
    assert_true(seqlm_classifier_n_chars(k.m) > 30);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 17 + cell + 3 * pool);
    seqlm_classifier_reset(k.m, &rng);
    seqlm_classify_encoded e;
    assert_int_equal(seqlm_classify_encode(k.m, d, 0, &e, &err), SEQLM_OK);
    assert_non_null(e.type_ids);
    assert_non_null(e.char_types);
    const size_t idx[3] = {0, 3, 2};
    k.B = 3;
    k.ids = malloc(4 * 3 * sizeof *k.ids);
    k.tids = malloc(4 * 3 * sizeof *k.tids);
    k.T = layout(&e, idx, k.B, 1, k.ids, k.tids, k.lengths);
    assert_int_equal(k.T, 4);
    const int32_t tg[3] = {1, 0, 1};
    memcpy(k.targets, tg, sizeof tg);
    k.words.tids = k.tids;
    k.words.types = e.char_types;
    k.w = seqlm_classify_work_create(k.m, k.T, k.B, &err);
    assert_non_null(k.w);
    seqlm_params *p = seqlm_classifier_params(k.m);
    seqlm_params_zero_grad(p);
    double loss = classify_batch_full(k.m, k.w, k.ids, &k.words, NULL, k.lengths, k.T, k.B,
                                      k.targets, 0, 1, NULL, NULL, &err);
    assert_true(isfinite(loss));
    /* "good" twice: 8 distinct words in 9 tokens; the longest keeps 6 characters */
    assert_int_equal(k.w->cb.U, 8);
    assert_int_equal(k.w->cb.Tc, 6);
    double worst = 0;
    int seen_char = 0;
    for (int i = 0; i < p->count; i++) {
        char label[128];
        snprintf(label, sizeof label, "%s/%s/%s", seqlm_cell_name(cell), seqlm_pool_name(pool),
                 p->info[i].name);
        seen_char += strncmp(p->info[i].name, "char_", 5) == 0;
        worst = fmax(worst, gradcheck(label, model_loss, &k, seqlm_params_value(p, i),
                                      seqlm_params_grad(p, i), p->info[i].size, 1e-2f, 40));
    }
    assert_true(seen_char >= 3); /* char_embedding.weight and char_lstm.* */
    printf("==> classifier with char features, %s %s: worst %.2e\n", seqlm_cell_name(cell),
           seqlm_pool_name(pool), worst);
    assert_true(worst < 2e-2);
    free(k.ids);
    free(k.tids);
    seqlm_classify_work_free(k.w);
    seqlm_classify_encoded_free(&e);
    seqlm_classifier_free(k.m);
    seqlm_classify_data_free(d);
}

static void test_gradcheck(void **state) {
    (void)state;
    model_gradcheck(SEQLM_CELL_LSTM, SEQLM_POOL_MEAN);
    model_gradcheck(SEQLM_CELL_GRU, SEQLM_POOL_LAST);
}

/* ---- padding never changes a result --------------------------------------------------------- */

static void test_padding_invariance(void **state) {
    (void)state;
    seqlm_classify_data *d = read_tiny();
    for (int pool = 0; pool < 3; pool++) {
        seqlm_classify_config cfg = small_config(SEQLM_CELL_LSTM, (seqlm_pool)pool);
        cfg.layers = 2;
        seqlm_error err;
        seqlm_classifier *m = seqlm_classifier_create_for(&cfg, d, 2, &err);
        assert_non_null(m);
        seqlm_rng rng;
        seqlm_rng_seed(&rng, 7 + pool);
        seqlm_classifier_reset(m, &rng);
        seqlm_params *p = seqlm_classifier_params(m);
        size_t np = p->total;
        seqlm_classify_encoded e;
        assert_int_equal(seqlm_classify_encode(m, d, 0, &e, &err), SEQLM_OK);
        seqlm_classify_work *w = seqlm_classify_work_create(m, 4, 3, &err);
        assert_non_null(w);
        int32_t ids[12], tids[12], len[3], tg1[1] = {1}, tg3[3] = {-100, 1, -100};
        float logit1[2], logit3[6];
        /* sentence 4 ("good 영화": 2 tokens, Tc 4) alone */
        const size_t one[1] = {4};
        int T = layout(&e, one, 1, 0, ids, tids, len);
        classify_words words = {tids, e.char_types};
        seqlm_params_zero_grad(p);
        classify_batch_full(m, w, ids, &words, NULL, len, T, 1, tg1, 0, 1, NULL, logit1, &err);
        float *g1 = malloc(np * sizeof *g1);
        memcpy(g1, p->grads, np * sizeof *g1);
        /* in the middle of a batch of 3 with other words (Tc 6, T 4), padded with ids and
         * types of other words; the other sentences' targets are ignored */
        const size_t three[3] = {2, 4, 3};
        T = layout(&e, three, 3, 3, ids, tids, len);
        assert_int_equal(T, 4);
        seqlm_params_zero_grad(p);
        classify_batch_full(m, w, ids, &words, NULL, len, T, 3, tg3, 0, 1, NULL, logit3, &err);
        /* the same logits and gradients to rounding, as in test_classify.c: the BLAS may sum
         * a product of another shape (more rows) in another order */
        double dl = 0, dg = 0;
        for (int i = 0; i < 2; i++)
            dl = fmax(dl, fabs((double)logit3[2 + i] - logit1[i]) / fmax(1.0, fabs(logit1[i])));
        for (size_t i = 0; i < np; i++)
            dg = fmax(dg, fabs((double)p->grads[i] - g1[i]) / fmax(1.0, fabs(g1[i])));
        printf("==> padding with char features, %s pool: logits differ by %.2e, gradients by "
               "%.2e\n",
               seqlm_pool_name(cfg.pool), dl, dg);
        assert_true(dl < 1e-6);
        assert_true(dg < 1e-6);
        free(g1);
        seqlm_classify_work_free(w);
        seqlm_classify_encoded_free(&e);
        seqlm_classifier_free(m);
    }
    seqlm_classify_data_free(d);
}

/* ---- files ---------------------------------------------------------------------------------- */

static void test_files(void **state) {
    (void)state;
    seqlm_classify_data *d = read_tiny();
    seqlm_classify_config cfg = small_config(SEQLM_CELL_LSTM, SEQLM_POOL_MAX);
    cfg.char_hidden = 3;
    seqlm_error err;
    seqlm_classifier *m = seqlm_classifier_create_for(&cfg, d, 1, &err);
    assert_non_null(m);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 3);
    seqlm_classifier_reset(m, &rng);
    seqlm_classify_train_config tc = seqlm_classify_train_default_config();
    tc.optim.lr = 0.02f;
    tc.batch = 2;
    tc.epochs = 3;
    tc.threads = 1;
    const char *path = tmp_path("chars.safetensors");
    tc.output_path = path;
    if (seqlm_classify_train(m, d, d, &tc, NULL, &err) != SEQLM_OK) fail_msg("%s", err.msg);
    seqlm_metadata meta = {0};
    seqlm_classifier *m2 = seqlm_classifier_load(path, &meta, &err);
    if (!m2) fail_msg("%s", err.msg);
    const seqlm_classify_config *c2 = seqlm_classifier_config(m2);
    assert_true(c2->char_dim == 3 && c2->char_hidden == 3 && c2->max_word_chars == 6);
    assert_int_equal(seqlm_classifier_n_chars(m2), seqlm_classifier_n_chars(m));
    float pa[6 * 2], pb[6 * 2];
    assert_int_equal(seqlm_classify_predict(m, d, 4, pa, NULL, &err), SEQLM_OK);
    assert_int_equal(seqlm_classify_predict(m2, d, 4, pb, NULL, &err), SEQLM_OK);
    /* prediction batches of another size: the same probabilities (to rounding: the BLAS may
     * sum a product of other shapes in another order) */
    assert_int_equal(seqlm_classify_predict(m2, d, 1, pb, NULL, &err), SEQLM_OK);
    for (int i = 0; i < 12; i++) assert_true(fabsf(pa[i] - pb[i]) < 1e-6f);
    seqlm_metadata_free(&meta);

    /* the file without its character vocabulary is refused */
    seqlm_metadata md = {0};
    seqlm_params *t = seqlm_safetensors_read(path, &md, &err);
    assert_non_null(t);
    seqlm_metadata cut = {0};
    for (size_t i = 0; i < md.count; i++)
        if (strcmp(md.keys[i], "seqlm.classify.chars") != 0)
            seqlm_metadata_set(&cut, md.keys[i], md.values[i]);
    const char *bad = tmp_path("chars_cut.safetensors");
    assert_int_equal(seqlm_safetensors_write(bad, t, &cut, &err), SEQLM_OK);
    assert_null(seqlm_classifier_load(bad, NULL, &err));
    assert_non_null(strstr(err.msg, "seqlm.classify.chars"));
    seqlm_metadata_free(&cut);
    seqlm_metadata_free(&md);
    seqlm_params_free(t);

    /* without character features: no character fields, no character tensors */
    seqlm_classify_config plain = seqlm_classify_default_config();
    plain.hidden = 3;
    plain.embedding = 4;
    seqlm_classifier *m3 = seqlm_classifier_create_for(&plain, d, 1, &err);
    assert_non_null(m3);
    assert_int_equal(seqlm_classifier_n_chars(m3), 0);
    const char *ppath = tmp_path("plain.safetensors");
    assert_int_equal(seqlm_classifier_save(m3, ppath, NULL, &err), SEQLM_OK);
    t = seqlm_safetensors_read(ppath, &md, &err);
    assert_non_null(t);
    assert_null(strstr(seqlm_metadata_get(&md, "seqlm.classify.config"), "char"));
    assert_null(seqlm_metadata_get(&md, "seqlm.classify.chars"));
    assert_true(seqlm_params_find(t, "char_embedding.weight") < 0);
    seqlm_metadata_free(&md);
    seqlm_params_free(t);

    /* character features need word units */
    cfg.unit = SEQLM_UNIT_CHAR;
    assert_null(seqlm_classifier_create_for(&cfg, d, 1, &err));
    assert_non_null(strstr(err.msg, "word units"));
    seqlm_classifier_free(m);
    seqlm_classifier_free(m2);
    seqlm_classifier_free(m3);
    seqlm_classify_data_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_char_ids),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_padding_invariance),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
