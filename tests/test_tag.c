/* test_tag.c - the tagger: reader formats and errors, encodings (CP1252, EUC-KR), conlleval on
 * a hand-made file, gradient checks of the whole model (char BiLSTM, extra features, softmax
 * and CRF), padding invariance, model files, --zero-digits, singleton replacement, lr decay
 * and the time limit.
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

/* ---- encodings ---------------------------------------------------------------------------- */

static const char *data_file(const char *name) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/../data/%s", SEQLM_TEST_GOLDEN, name);
    return path;
}

static int has_type(const seqlm_tag_corpus *c, const char *w) {
    for (size_t i = 0; i < c->n_types; i++)
        if (strcmp(c->types[i], w) == 0) return 1;
    return 0;
}

/* tests/data/tag_cp1252.conll and tag_euckr.conll (written by Python's codecs) are converted
 * to UTF-8 on reading; read as UTF-8 they are refused; an undefined byte names line and byte. */
static void test_reader_encodings(void **state) {
    (void)state;
    seqlm_error err;
    seqlm_tag_corpus *c =
        seqlm_tag_corpus_read_encoding(data_file("tag_cp1252.conll"), 0, 1, "CP1252", &err);
    assert_non_null(c);
    assert_int_equal(c->n_sent, 2);
    assert_int_equal(c->n_tok, 10);
    assert_true(has_type(c, "caf\xc3\xa9"));                           /* café */
    assert_true(has_type(c, "\xe2\x80\x9cM\xc3\xbcller\xe2\x80\x9d")); /* “Müller” */
    assert_true(has_type(c, "\xe2\x82\xac"));                          /* € */
    assert_string_equal(c->text[1], "caf\xc3\xa9 B-LOC");
    assert_string_equal(c->tag_names[c->tag[2]], "B-ORG");
    seqlm_tag_corpus_free(c);
    assert_null(seqlm_tag_corpus_read(data_file("tag_cp1252.conll"), 0, 1, &err));
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "tag_cp1252.conll: line 4"));
    assert_non_null(strstr(err.msg, "invalid UTF-8"));
    c = seqlm_tag_corpus_read_encoding(data_file("tag_euckr.conll"), 0, 1, "EUC-KR", &err);
    assert_non_null(c);
    assert_int_equal(c->n_sent, 2);
    assert_int_equal(c->n_tok, 12);
    assert_true(has_type(c, "\xec\x84\x9c\xec\x9a\xb8")); /* 서울 */
    assert_string_equal(c->tag_names[c->tag[2]], "B-PER");
    seqlm_tag_corpus_free(c);
    /* 0x81 is undefined in CP1252: line 2 starts at byte 5, the 0x81 is its third byte */
    const char *undef = write_tmp_str("undef.conll", "ok O\nab\x81z O\n");
    assert_null(seqlm_tag_corpus_read_encoding(undef, 0, 1, "CP1252", &err));
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "undef.conll: line 2, byte 7"));
    /* UTF-8 named explicitly reads as without an encoding */
    c = seqlm_tag_corpus_read_encoding(tricky(), 2, 1, "utf-8", &err);
    assert_non_null(c);
    assert_int_equal(c->n_tok, 21);
    seqlm_tag_corpus_free(c);
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

/* ---- vocabulary options and training options ---------------------------------------------- */

static double eval_loss(seqlm_tagger *m, const seqlm_tag_corpus *c) {
    seqlm_tag_map *map = seqlm_tag_map_create(m, c);
    seqlm_tag_batch *b = seqlm_tag_batch_create();
    size_t idx[8];
    for (size_t i = 0; i < c->n_sent; i++) idx[i] = i;
    assert_int_equal(seqlm_tag_batch_fill(b, m, map, idx, (int)c->n_sent), 0);
    seqlm_error err;
    double l = seqlm_tagger_loss(m, b, NULL, NULL, 0, 1.0f, NULL, &err);
    seqlm_tag_batch_free(b);
    seqlm_tag_map_free(map);
    return l;
}

static seqlm_tagger *small_model(const seqlm_tag_corpus *c, int chars, int zero_digits) {
    seqlm_error err;
    seqlm_tagger_config cfg = seqlm_tagger_default_config();
    cfg.embedding = 4;
    cfg.hidden = 3;
    cfg.char_dim = chars ? 3 : 0;
    cfg.char_hidden = 2;
    cfg.dropout = 0;
    cfg.min_count = 1;
    cfg.zero_digits = zero_digits;
    seqlm_tagger *m = seqlm_tagger_create_from(&cfg, c, &err);
    assert_non_null(m);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 5);
    seqlm_tagger_reset(m, &rng);
    return m;
}

static seqlm_tag_corpus *read_str(const char *name, const char *text) {
    seqlm_error err;
    seqlm_tag_corpus *c = seqlm_tag_corpus_read(write_tmp_str(name, text), 0, 1, &err);
    assert_non_null(c);
    return c;
}

/* --zero-digits: 1999 and 2000 are one word "0000", digits one character '0'; an unseen
 * number of the same shape scores exactly as a seen one; the option survives a model file. */
static void test_zero_digits(void **state) {
    (void)state;
    seqlm_tag_corpus *tr = read_str("zd.conll", "1999 B-X\n2000 O\nabc O\n\nin O\n1984 O\n");
    seqlm_tag_corpus *seen = read_str("zd1.conll", "in O\n1999 B-X\nabc O\n");
    seqlm_tag_corpus *unseen = read_str("zd2.conll", "in O\n5072 B-X\nabc O\n");
    seqlm_tagger *m = small_model(tr, 1, 1);
    assert_int_equal(seqlm_tagger_n_words(m), 4); /* <unk> 0000 abc in */
    assert_int_equal(seqlm_tagger_n_chars(m), 7); /* <unk> 0 a b c i n */
    double a = eval_loss(m, seen), b = eval_loss(m, unseen);
    print_message("zero digits: seen %.7f, unseen %.7f\n", a, b);
    assert_true(a == b);
    seqlm_error err;
    const char *path = tmp_path("zd.safetensors");
    assert_int_equal(seqlm_tagger_save(m, path, &err), SEQLM_OK);
    seqlm_tagger *m2 = seqlm_tagger_load(path, &err);
    assert_non_null(m2);
    assert_int_equal(seqlm_tagger_config_of(m2)->zero_digits, 1);
    assert_true(eval_loss(m2, unseen) == b);
    seqlm_tagger_free(m2);
    seqlm_tagger_free(m);
    m = small_model(tr, 1, 0); /* without: 5 words, 12 chars, and 5072 is unknown */
    assert_int_equal(seqlm_tagger_n_words(m), 6);
    assert_int_equal(seqlm_tagger_n_chars(m), 12);
    assert_true(eval_loss(m, seen) != eval_loss(m, unseen));
    seqlm_tagger_free(m);
    seqlm_tag_corpus_free(tr);
    seqlm_tag_corpus_free(seen);
    seqlm_tag_corpus_free(unseen);
}

/* --unk-replace: only words seen once in train are replaced, p = 1 replaces them all (the loss
 * is then that of unseen words), p = 0 none, p = 0.5 about half, reproducibly for a seed. */
static void test_unk_replace(void **state) {
    (void)state;
    seqlm_tag_corpus *tr = read_str("ur.conll", "a O\na O\nb B-X\nc O\n\nb B-X\nd O\n");
    seqlm_tag_corpus *unseen = read_str("ur2.conll", "a O\na O\nb B-X\nzz O\n\nb B-X\nyy O\n");
    seqlm_tagger *m = small_model(tr, 0, 0);
    assert_int_equal(seqlm_tagger_n_words(m), 5); /* <unk> a b c d */
    int want[5] = {0, 0, 0, 1, 1};
    for (int i = 0; i < 5; i++) assert_int_equal(seqlm_tagger_word_is_singleton(m, i), want[i]);
    seqlm_tag_map *map = seqlm_tag_map_create(m, tr);
    seqlm_tag_batch *b = seqlm_tag_batch_create();
    size_t idx[2] = {0, 1};
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 1);
    seqlm_error err;
    seqlm_tag_batch_fill(b, m, map, idx, 2);
    double plain = seqlm_tagger_loss(m, b, NULL, NULL, 0, 1.0f, NULL, &err);
    assert_int_equal(seqlm_tag_batch_unk_replace(b, m, 0.0f, &rng), 0);
    assert_true(seqlm_tagger_loss(m, b, NULL, NULL, 0, 1.0f, NULL, &err) == plain);
    assert_int_equal(seqlm_tag_batch_unk_replace(b, m, 1.0f, &rng), 2);
    double replaced = seqlm_tagger_loss(m, b, NULL, NULL, 0, 1.0f, NULL, &err);
    assert_true(replaced != plain);
    assert_true(replaced == eval_loss(m, unseen));
    seqlm_tag_batch_free(b);
    seqlm_tag_map_free(map);
    seqlm_tagger_free(m);
    seqlm_tag_corpus_free(tr);
    seqlm_tag_corpus_free(unseen);

    /* 300 singletons and one frequent word: about half replaced, the same for the same seed */
    char *text = malloc(300 * 24);
    size_t len = 0;
    for (int i = 0; i < 300; i++)
        len += (size_t)sprintf(text + len, "w%d O\nthe O\n%s", i, i % 30 == 29 ? "\n" : "");
    tr = read_str("ur3.conll", text);
    free(text);
    m = small_model(tr, 0, 0);
    map = seqlm_tag_map_create(m, tr);
    b = seqlm_tag_batch_create();
    size_t all[10];
    for (size_t i = 0; i < 10; i++) all[i] = i;
    int n[2];
    double loss[2];
    for (int r = 0; r < 2; r++) {
        seqlm_rng_seed(&rng, 77);
        seqlm_tag_batch_fill(b, m, map, all, 10);
        n[r] = seqlm_tag_batch_unk_replace(b, m, 0.5f, &rng);
        loss[r] = seqlm_tagger_loss(m, b, NULL, NULL, 0, 1.0f, NULL, &err);
    }
    print_message("unk-replace 0.5: %d of 300 singletons\n", n[0]);
    assert_true(n[0] > 110 && n[0] < 190);
    assert_int_equal(n[0], n[1]);
    assert_true(loss[0] == loss[1]);
    /* a loaded model has no counts: nothing is a singleton */
    const char *path = tmp_path("ur.safetensors");
    assert_int_equal(seqlm_tagger_save(m, path, &err), SEQLM_OK);
    seqlm_tagger *m2 = seqlm_tagger_load(path, &err);
    assert_non_null(m2);
    assert_false(seqlm_tagger_word_is_singleton(m2, 1));
    seqlm_tagger_free(m2);
    seqlm_tag_batch_free(b);
    seqlm_tag_map_free(map);
    seqlm_tagger_free(m);
    seqlm_tag_corpus_free(tr);
}

typedef struct {
    int epochs;
    double lr[8], progress[8];
} events;

static void record(void *ctx, const char *event, const double *v) {
    events *e = ctx;
    if (strcmp(event, "epoch") || e->epochs >= 8) return;
    e->lr[e->epochs] = v[SEQLM_TAGEV_LR];
    e->progress[e->epochs++] = v[SEQLM_TAGEV_PROGRESS];
}

/* --lr-decay: epoch e's lr is lr / (1 + d (e - 1)); --max-time: a tiny limit stops after the
 * first batch, with that partial epoch validated and its model written. */
static void test_train_schedule(void **state) {
    (void)state;
    seqlm_tag_corpus *c;
    seqlm_tagger *m = tiny_model(&c, 0, 0, 0, 1);
    seqlm_tag_train_config tc = seqlm_tag_train_default_config();
    tc.batch = 1;
    tc.epochs = 3;
    tc.lr_decay = 0.5f;
    tc.threads = 1;
    tc.log_interval = 0;
    events ev = {0};
    tc.on_event = record;
    tc.event_ctx = &ev;
    seqlm_error err;
    assert_int_equal(seqlm_tag_train(m, c, c, &tc, &err), SEQLM_OK);
    assert_int_equal(ev.epochs, 3);
    assert_true(fabs(ev.lr[0] - 1e-3) < 1e-9 && fabs(ev.lr[1] - 1e-3 / 1.5) < 1e-9 &&
                fabs(ev.lr[2] - 1e-3 / 2) < 1e-9);
    assert_true(ev.progress[2] == 1.0);
    memset(&ev, 0, sizeof ev);
    tc.max_time = 1e-9;
    tc.output_path = tmp_path("maxtime.safetensors");
    remove(tc.output_path);
    assert_int_equal(seqlm_tag_train(m, c, c, &tc, &err), SEQLM_OK);
    assert_int_equal(ev.epochs, 1);
    assert_true(ev.progress[0] == 0.25); /* 1 of 4 sentences */
    seqlm_tagger *m2 = seqlm_tagger_load(tc.output_path, &err);
    assert_non_null(m2);
    seqlm_tagger_free(m2);
    seqlm_tagger_free(m);
    seqlm_tag_corpus_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_formats),     cmocka_unit_test(test_conlleval_tricky),
        cmocka_unit_test(test_grad_softmax_chars), cmocka_unit_test(test_grad_crf_chars_extra),
        cmocka_unit_test(test_padding_invariance), cmocka_unit_test(test_model_file),
        cmocka_unit_test(test_reader_encodings),   cmocka_unit_test(test_zero_digits),
        cmocka_unit_test(test_unk_replace),        cmocka_unit_test(test_train_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
