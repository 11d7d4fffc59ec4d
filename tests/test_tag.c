/* test_tag.c - the tagger: reader formats and errors, conlleval on a hand-made file, gradient
 * checks of the whole model (char BiLSTM, extra features, softmax and CRF), padding
 * invariance, model files.
 *
 * tests/data/conlleval_tricky.txt holds gold and guessed tags (columns 2 and 3) with a stray
 * I- after O, a type change inside a chunk, adjacent B- chunks, a stray I- at a sentence start
 * and a chunk at sentence end. Its figures were worked out by hand and agree with an
 * independent Python re-implementation of conlleval.pl's rules and with
 * shared/bench/torch_tasks.py's conlleval(): 21 tokens, 15 correct tags, 11 gold chunks, 13
 * found, 8 correct; LOC 1/2/2, MISC 0/2/3, ORG 3/3/4, PER 4/4/4 (correct/gold/found). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "seqlm/modelfile.h"
#include "seqlm/tag.h"
#include "testutil.h"

static const char *tricky(void) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/../data/conlleval_tricky.txt", SEQLM_TEST_GOLDEN);
    return path;
}

static void test_reader_formats(void **state) {
    (void)state;
    seqlm_error err;
    const char *conll = write_tmp_str("a.conll", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\n"
                                                 "rejects VBZ B-VP O\n\n\n  \nPeter NNP B-NP "
                                                 "B-PER\r\n");
    seqlm_tag_corpus *c = seqlm_tag_corpus_read(conll, 0, 1, &err);
    assert_non_null(c);
    assert_int_equal(c->n_sent, 2);
    assert_int_equal(c->n_tok, 3);
    assert_int_equal(c->columns, 4);
    assert_string_equal(c->types[c->type[0]], "EU");
    assert_string_equal(c->tag_names[c->tag[0]], "B-ORG");
    assert_string_equal(c->tag_names[c->tag[1]], "O");
    assert_int_equal(c->line[2], 8);
    assert_string_equal(c->text[1], "rejects VBZ B-VP O");
    seqlm_tag_corpus_free(c);
    c = seqlm_tag_corpus_read(conll, 3, 1, &err); /* --column 3: the chunk tags */
    assert_non_null(c);
    assert_string_equal(c->tag_names[c->tag[1]], "B-VP");
    seqlm_tag_corpus_free(c);
    const char *tsv = write_tmp_str("a.tsv", "The\tat\nFulton\tnp-tl\n\nIt\tpps");
    c = seqlm_tag_corpus_read(tsv, 0, 1, &err);
    assert_non_null(c);
    assert_int_equal(c->n_sent, 2);
    assert_string_equal(c->tag_names[c->tag[1]], "np-tl");
    seqlm_tag_corpus_free(c);
    /* errors name file and line */
    const char *bad = write_tmp_str("bad.conll", "a B C\nb B\n");
    assert_null(seqlm_tag_corpus_read(bad, 0, 1, &err));
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "bad.conll: line 2: expected 3 columns (as line 1), found 2"));
    const char *one = write_tmp_str("one.txt", "\nword\n");
    assert_null(seqlm_tag_corpus_read(one, 0, 1, &err));
    assert_non_null(strstr(err.msg, "one.txt: line 2: expected a token and a tag"));
    c = seqlm_tag_corpus_read(one, 0, 0, &err); /* predict: tokens only is fine */
    assert_non_null(c);
    assert_int_equal(c->n_tok, 1);
    seqlm_tag_corpus_free(c);
    assert_null(seqlm_tag_corpus_read(conll, 7, 1, &err));
    assert_non_null(strstr(err.msg, "no tag column 7"));
    const char *utf = write_tmp_str("bad.utf", "ok O\n\xff\xfe O\n");
    assert_null(seqlm_tag_corpus_read(utf, 0, 1, &err));
    assert_non_null(strstr(err.msg, "line 2"));
}

static void test_conlleval_tricky(void **state) {
    (void)state;
    seqlm_error err;
    seqlm_tag_corpus *g = seqlm_tag_corpus_read(tricky(), 2, 1, &err);
    seqlm_tag_corpus *q = seqlm_tag_corpus_read(tricky(), 3, 1, &err);
    assert_non_null(g);
    assert_non_null(q);
    seqlm_conlleval e;
    seqlm_conlleval_init(&e);
    const char *gs[16], *qs[16];
    for (size_t s = 0; s < g->n_sent; s++) {
        size_t s0 = g->sent_start[s], n = g->sent_start[s + 1] - s0;
        for (size_t i = 0; i < n; i++) {
            gs[i] = g->tag_names[g->tag[s0 + i]];
            qs[i] = q->tag_names[q->tag[s0 + i]];
        }
        seqlm_conlleval_sentence(&e, gs, qs, n);
    }
    seqlm_conlleval_finish(&e);
    assert_int_equal(e.tokens, 21);
    assert_int_equal(e.correct_tags, 15);
    assert_int_equal(e.correct, 8);
    assert_int_equal(e.gold, 11);
    assert_int_equal(e.guessed, 13);
    static const struct {
        const char *type;
        int c, g, f;
    } want[] = {{"LOC", 1, 2, 2}, {"MISC", 0, 2, 3}, {"ORG", 3, 3, 4}, {"PER", 4, 4, 4}};
    assert_int_equal(e.n_types, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(e.types[i].type, want[i].type);
        assert_int_equal(e.types[i].correct, want[i].c);
        assert_int_equal(e.types[i].gold, want[i].g);
        assert_int_equal(e.types[i].guessed, want[i].f);
    }
    double p, r, f;
    seqlm_conlleval_prf(e.correct, e.gold, e.guessed, &p, &r, &f);
    assert_true(fabs(p - 61.538461538) < 1e-6 && fabs(r - 72.727272727) < 1e-6 &&
                fabs(f - 66.666666667) < 1e-6);
    seqlm_conlleval_free(&e);
    assert_true(seqlm_tags_are_bio((const char *const *)g->tag_names, g->n_tags));
    const char *pos[] = {"at", "nn"};
    assert_false(seqlm_tags_are_bio(pos, 2));
    seqlm_tag_corpus_free(g);
    seqlm_tag_corpus_free(q);
}

/* ---- the model ---------------------------------------------------------------------------- */

static const char tiny[] = "John B-PER\nSmith I-PER\nvisited O\nNew B-LOC\nYork I-LOC\n\n"
                           "The O\nunion B-ORG\nsaid O\n\nSmith B-PER\nwon O\n.\tO\n\n"
                           "Über B-MISC\nalles I-MISC\nJohn B-PER\nwent O\nto O\nYork B-LOC\n"
                           "extraordinarilylongwordhere O\n";

typedef struct {
    seqlm_tagger *m;
    seqlm_tag_batch *b;
    float *extra, *dextra;
} mctx;

static double model_loss(void *ctx) {
    mctx *c = ctx;
    seqlm_error err;
    return seqlm_tagger_loss(c->m, c->b, c->extra, NULL, 0, 1.0f, NULL, &err);
}

static seqlm_tagger *tiny_model(seqlm_tag_corpus **corp, int crf, int chars, int extra,
                                int layers) {
    seqlm_error err;
    *corp = seqlm_tag_corpus_read(write_tmp_str("tiny.conll", tiny), 0, 1, &err);
    assert_non_null(*corp);
    seqlm_tagger_config cfg = seqlm_tagger_default_config();
    cfg.embedding = 5;
    cfg.hidden = 4;
    cfg.layers = layers;
    cfg.char_dim = chars ? 3 : 0;
    cfg.char_hidden = 3;
    cfg.max_word_chars = 8;
    cfg.crf = crf;
    cfg.dropout = 0;
    cfg.min_count = 1;
    cfg.extra_dim = extra;
    seqlm_tagger *m = seqlm_tagger_create_from(&cfg, *corp, &err);
    assert_non_null(m);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 42);
    seqlm_tagger_reset(m, &rng);
    if (crf) { /* non-zero transitions, so that their gradient paths are exercised */
        seqlm_params *p = seqlm_tagger_params(m);
        for (int i = 0; i < p->count; i++)
            if (strncmp(p->info[i].name, "crf.", 4) == 0)
                for (size_t k = 0; k < p->info[i].size; k++)
                    seqlm_params_value(p, i)[k] = (float)(seqlm_rng_uniform(&rng) - 0.5);
    }
    return m;
}

static void check_model_grads(int crf, int chars, int extra, int layers) {
    seqlm_tag_corpus *c;
    seqlm_tagger *m = tiny_model(&c, crf, chars, extra, layers);
    seqlm_tag_map *map = seqlm_tag_map_create(m, c);
    seqlm_tag_batch *b = seqlm_tag_batch_create();
    size_t idx[4] = {3, 0, 1, 2};
    assert_int_equal(seqlm_tag_batch_fill(b, m, map, idx, 4), 0);
    int T = seqlm_tag_batch_T(b);
    size_t nx = (size_t)T * 4 * (extra ? extra : 1);
    float *ex = calloc(nx, sizeof *ex), *dex = calloc(nx, sizeof *dex);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 9);
    for (size_t i = 0; i < nx; i++) ex[i] = (float)(seqlm_rng_uniform(&rng) - 0.5);
    seqlm_params *p = seqlm_tagger_params(m);
    seqlm_params_zero_grad(p);
    seqlm_error err;
    seqlm_tagger_loss(m, b, extra ? ex : NULL, extra ? dex : NULL, 1, 1.0f, NULL, &err);
    mctx ctx = {m, b, extra ? ex : NULL, NULL};
    for (int i = 0; i < p->count; i++) {
        char label[128];
        snprintf(label, sizeof label, "%s %s", crf ? "crf" : "softmax", p->info[i].name);
        double e = gradcheck(label, model_loss, &ctx, seqlm_params_value(p, i),
                             seqlm_params_grad(p, i), p->info[i].size, 1e-2f, 40);
        assert_true(e < 5e-3);
    }
    if (extra) {
        /* padding entries of the extra block get no gradient (their rows are never read) */
        double e = gradcheck("extra features", model_loss, &ctx, ex, dex, nx, 1e-2f, 0);
        assert_true(e < 5e-3);
    }
    free(ex);
    free(dex);
    seqlm_tag_batch_free(b);
    seqlm_tag_map_free(map);
    seqlm_tagger_free(m);
    seqlm_tag_corpus_free(c);
}

static void test_grad_softmax_chars(void **state) {
    (void)state;
    check_model_grads(0, 1, 0, 2);
}
static void test_grad_crf_chars_extra(void **state) {
    (void)state;
    check_model_grads(1, 1, 3, 1);
}

/* A sentence's loss and tags do not depend on what else is in its batch (padding). */
static void test_padding_invariance(void **state) {
    (void)state;
    for (int crf = 0; crf < 2; crf++) {
        seqlm_tag_corpus *c;
        seqlm_tagger *m = tiny_model(&c, crf, 1, 0, 2);
        seqlm_tag_map *map = seqlm_tag_map_create(m, c);
        seqlm_tag_batch *b = seqlm_tag_batch_create();
        seqlm_error err;
        double alone = 0;
        int32_t tags_alone[4][8], best[64];
        for (size_t s = 0; s < 4; s++) {
            seqlm_tag_batch_fill(b, m, map, &s, 1);
            alone += seqlm_tagger_loss(m, b, NULL, NULL, 0, 1, NULL, &err);
            seqlm_tagger_decode(m, b, NULL, best, &err);
            for (int t = 0; t < seqlm_tag_batch_T(b); t++) tags_alone[s][t] = best[t];
        }
        size_t idx[4] = {1, 3, 0, 2};
        seqlm_tag_batch_fill(b, m, map, idx, 4);
        double together = seqlm_tagger_loss(m, b, NULL, NULL, 0, 1, NULL, &err);
        print_message("%s: alone %.7f, batched %.7f\n", crf ? "crf" : "softmax", alone, together);
        assert_true(fabs(alone - together) < 1e-5 * fabs(alone));
        seqlm_tagger_decode(m, b, NULL, best, &err);
        for (int i = 0; i < 4; i++) {
            size_t s = idx[i], n = c->sent_start[s + 1] - c->sent_start[s];
            for (size_t t = 0; t < n; t++) assert_int_equal(best[t * 4 + i], tags_alone[s][t]);
        }
        seqlm_tag_batch_free(b);
        seqlm_tag_map_free(map);
        seqlm_tagger_free(m);
        seqlm_tag_corpus_free(c);
    }
}

static void test_model_file(void **state) {
    (void)state;
    seqlm_tag_corpus *c;
    seqlm_tagger *m = tiny_model(&c, 1, 1, 0, 1);
    seqlm_error err;
    const char *path = tmp_path("tiny.safetensors");
    assert_int_equal(seqlm_tagger_save(m, path, &err), SEQLM_OK);
    seqlm_tagger *m2 = seqlm_tagger_load(path, &err);
    assert_non_null(m2);
    int32_t a[32], b2[32];
    assert_int_equal(seqlm_tagger_predict(m, c, 3, a, &err), SEQLM_OK);
    assert_int_equal(seqlm_tagger_predict(m2, c, 2, b2, &err), SEQLM_OK);
    assert_memory_equal(a, b2, c->n_tok * sizeof *a);
    assert_int_equal(seqlm_tagger_n_tags(m2), 8);
    /* a file of another kind */
    seqlm_params *p = seqlm_params_create();
    seqlm_params_add(p, "w", 1, (int64_t[]){2});
    seqlm_params_alloc(p, &err);
    seqlm_metadata md = {0};
    seqlm_metadata_set(&md, "seqlm.config", "{\"arch\":\"lstm\"}");
    const char *lm = tmp_path("lm.safetensors");
    assert_int_equal(seqlm_safetensors_write(lm, p, &md, &err), SEQLM_OK);
    assert_null(seqlm_tagger_load(lm, &err));
    assert_non_null(strstr(err.msg, "a seqlm language model, not a tagger"));
    seqlm_metadata_free(&md);
    seqlm_params_free(p);
    seqlm_tagger_free(m2);
    seqlm_tagger_free(m);
    seqlm_tag_corpus_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_formats),     cmocka_unit_test(test_conlleval_tricky),
        cmocka_unit_test(test_grad_softmax_chars), cmocka_unit_test(test_grad_crf_chars_extra),
        cmocka_unit_test(test_padding_invariance), cmocka_unit_test(test_model_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
