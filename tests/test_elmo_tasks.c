/* test_elmo_tasks.c - ELMo features in the task models (src/elmo/features.c, classify and tag
 * with an ELMo file), on a random biLM written by the test:
 *
 * - token ids: the token itself, else its ASCII lower-cased form, else <unk>;
 * - a tiny classifier and a tiny tagger (CRF and softmax) with ELMo by central differences:
 *   every parameter tensor, the scalar mix's "elmo_mix.scalar_parameters" and "elmo_mix.gamma"
 *   included (set away from their initial values so that the softmax's Jacobian matters);
 * - padding invariance with ELMo: a sentence alone and in a padded batch gives the same logits
 *   (classifier) or loss and tags (tagger), and the same mix gradients;
 * - model files: the mix is saved and reloaded, the ELMo file's absolute path and fingerprint
 *   are recorded; reloading gives the same outputs; another ELMo file (fingerprint mismatch)
 *   and a missing one are errors naming both files; --elmo's override works;
 * - training moves the mix (and the tensors before it: seqlm_tag_train's optimiser once
 *   stopped short of the registry's last tensors, the alignment padding not counted). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify_internal.h"
#include "elmo/features.h"
#include "gradcheck.h"
#include "seqlm/elmo.h"
#include "seqlm/lm.h"
#include "seqlm/modelfile.h"
#include "seqlm/tag.h"
#include "testutil.h"

/* ---- a random biLM over a few words ---------------------------------------------------------- */

static const char *const elmo_words[] = {"John", "Smith", "york", "the", "said", "won", "."};
#define N_ELMO_WORDS 7

static seqlm_lm *random_lm(int H, int L, uint64_t seed) {
    seqlm_vocab *v = seqlm_vocab_create();
    for (int i = 0; i < N_ELMO_WORDS; i++) seqlm_vocab_add(v, elmo_words[i], (uint64_t)(50 - i));
    seqlm_lm_config c = seqlm_lm_default_config();
    c.layers = L;
    c.hidden = c.embedding = H;
    seqlm_error err;
    seqlm_lm *m = seqlm_lm_create(&c, v, &err);
    assert_non_null(m);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, seed);
    seqlm_lm_reset(m, &rng);
    seqlm_params *p = seqlm_lm_params(m);
    for (size_t i = 0; i < p->total; i++) p->values[i] *= 3.0f; /* visibly different states */
    return m;
}

/* A random ELMo file of K = L + 1 layers of D = 2H; seed picks the weights. */
static const char *random_elmo(const char *name, int H, int L, uint64_t seed) {
    seqlm_lm *f = random_lm(H, L, seed), *b = random_lm(H, L, seed + 1);
    const char *path = tmp_path(name);
    seqlm_error err;
    if (seqlm_elmo_save_pair(f, b, path, NULL, &err) != SEQLM_OK) fail_msg("%s", err.msg);
    seqlm_lm_free(f);
    seqlm_lm_free(b);
    return path;
}

/* Moves the mix away from s = 0, gamma = 1. */
static void perturb_mix(seqlm_params *p, seqlm_rng *rng) {
    int s = seqlm_params_find(p, "elmo_mix.scalar_parameters");
    int g = seqlm_params_find(p, "elmo_mix.gamma");
    assert_true(s >= 0 && g >= 0);
    for (size_t k = 0; k < p->info[s].size; k++)
        seqlm_params_value(p, s)[k] = (float)(seqlm_rng_uniform(rng) - 0.5);
    seqlm_params_value(p, g)[0] = 0.7f;
}

/* ---- token ids ------------------------------------------------------------------------------ */

static void test_token_ids(void **state) {
    (void)state;
    seqlm_error err;
    elmo_features *f = elmo_features_open(random_elmo("ids.st", 3, 1, 1), SEQLM_UNIT_WORD, &err);
    assert_non_null(f);
    assert_int_equal(elmo_features_layers(f), 2);
    assert_int_equal(elmo_features_dim(f), 6);
    assert_true(elmo_features_path(f)[0] == '/'); /* absolute */
    seqlm_elmo *e = seqlm_elmo_load(elmo_features_path(f), &err);
    assert_non_null(e);
    uint64_t unk = 0;
    assert_int_equal(elmo_features_id(f, "John", &unk), seqlm_elmo_token_id(e, "John"));
    assert_int_equal(elmo_features_id(f, "York", &unk), seqlm_elmo_token_id(e, "york"));
    assert_int_equal(elmo_features_id(f, "YORK", &unk), seqlm_elmo_token_id(e, "york"));
    assert_int_equal(unk, 0);
    assert_int_equal(elmo_features_id(f, "john", &unk), SEQLM_UNK); /* no upper-casing */
    assert_int_equal(elmo_features_id(f, "Paris", &unk), SEQLM_UNK);
    assert_int_equal(elmo_features_id(f, "</s>", &unk), SEQLM_UNK);
    assert_int_equal(unk, 3);
    seqlm_elmo_free(e);
    elmo_features_free(f);
    /* a word-level biLM cannot read characters */
    assert_null(elmo_features_open(tmp_path("ids.st"), SEQLM_UNIT_CHAR, &err));
    assert_non_null(strstr(err.msg, "unit word"));
}

/* ---- the classifier ------------------------------------------------------------------------- */

static seqlm_classify_data *cls_data(void) {
    seqlm_classify_data *d = seqlm_classify_data_create();
    seqlm_classify_source src = {.path = write_tmp_str("cls.tsv", "a\tJohn Smith won\n"
                                                                  "b\tthe YORK said Paris .\n"
                                                                  "c\tsaid\n"
                                                                  "a\tJohn won the match\n"),
                                 .format = SEQLM_CLS_FORMAT_TSV};
    seqlm_error err;
    assert_int_equal(seqlm_classify_data_read(d, &src, &err), SEQLM_OK);
    return d;
}

typedef struct {
    seqlm_classifier *m;
    seqlm_classify_work *w;
    int32_t ids[5 * 4], eids[5 * 4], lengths[4], targets[4];
    int T, B;
} cls_case;

static double cls_loss(void *ctx) {
    cls_case *k = ctx;
    return classify_batch_full(k->m, k->w, k->ids, NULL, k->eids, k->lengths, k->T, k->B,
                               k->targets, 0, 0, NULL, NULL, NULL);
}

/* Lays out sentences of an encoded set seq-first. */
static void layout(const seqlm_classify_encoded *e, const size_t *idx, int B, cls_case *k) {
    k->B = B;
    k->T = 0;
    for (int b = 0; b < B; b++) {
        k->lengths[b] = (int32_t)(e->start[idx[b] + 1] - e->start[idx[b]]);
        if (k->lengths[b] > k->T) k->T = k->lengths[b];
        k->targets[b] = e->label[idx[b]];
    }
    for (int b = 0; b < B; b++)
        for (int t = 0; t < k->T; t++) {
            int in = t < k->lengths[b];
            k->ids[t * B + b] = in ? e->ids[e->start[idx[b]] + (size_t)t] : 1 + (t + b) % 3;
            k->eids[t * B + b] = in ? e->elmo_ids[e->start[idx[b]] + (size_t)t] : 2 + t % 4;
        }
}

static seqlm_classifier *cls_model(const char *elmo, seqlm_pool pool, seqlm_rng *rng) {
    seqlm_classify_config cfg = seqlm_classify_default_config();
    cfg.pool = pool;
    cfg.hidden = 3;
    cfg.embedding = 4;
    cfg.lower = 1; /* the task's vocabulary lower-cased; ELMo's ids from the text as written */
    cfg.elmo = elmo;
    seqlm_classify_data *d = cls_data();
    seqlm_error err;
    seqlm_classifier *m = seqlm_classifier_create_for(&cfg, d, 1, &err);
    if (!m) fail_msg("%s", err.msg);
    seqlm_classify_data_free(d);
    seqlm_classifier_reset(m, rng);
    perturb_mix(seqlm_classifier_params(m), rng);
    return m;
}

static void test_classifier_gradcheck(void **state) {
    (void)state;
    const char *elmo = random_elmo("cls.st", 3, 2, 7);
    for (int pool = 0; pool < 3; pool++) {
        seqlm_rng rng;
        seqlm_rng_seed(&rng, 3 + (uint64_t)pool);
        cls_case k;
        memset(&k, 0, sizeof k);
        k.m = cls_model(elmo, (seqlm_pool)pool, &rng);
        assert_int_equal(seqlm_classifier_config(k.m)->extra, 6);
        seqlm_classify_data *d = cls_data();
        seqlm_classify_encoded e;
        seqlm_error err;
        assert_int_equal(seqlm_classify_encode(k.m, d, 0, &e, &err), SEQLM_OK);
        assert_non_null(e.elmo_ids);
        assert_int_equal(e.elmo_unknown, 2); /* "Paris" and "match"; "YORK" is "york" */
        size_t idx[4] = {1, 0, 2, 3};
        layout(&e, idx, 4, &k);
        k.w = seqlm_classify_work_create(k.m, k.T, k.B, &err);
        assert_non_null(k.w);
        seqlm_params *p = seqlm_classifier_params(k.m);
        seqlm_params_zero_grad(p);
        classify_batch_full(k.m, k.w, k.ids, NULL, k.eids, k.lengths, k.T, k.B, k.targets, 0, 1,
                            NULL, NULL, &err);
        double worst = 0;
        for (int i = 0; i < p->count; i++) {
            char label[128];
            snprintf(label, sizeof label, "classifier/%s/%s", seqlm_pool_name((seqlm_pool)pool),
                     p->info[i].name);
            double g = gradcheck(label, cls_loss, &k, seqlm_params_value(p, i),
                                 seqlm_params_grad(p, i), p->info[i].size, 1e-2f, 24);
            worst = fmax(worst, g);
        }
        int s = seqlm_params_find(p, "elmo_mix.scalar_parameters");
        assert_true(s == p->count - 2); /* registered last: the other tensors keep their order */
        double gs = 0;
        for (int j = 0; j < 3; j++) gs += fabs(seqlm_params_grad(p, s)[j]);
        assert_true(gs > 1e-6); /* the mix does get gradient */
        printf("==> classifier with ELMo, %s pool: worst %.2e\n", seqlm_pool_name((seqlm_pool)pool),
               worst);
        assert_true(worst < 2e-2);
        seqlm_classify_encoded_free(&e);
        seqlm_classify_data_free(d);
        seqlm_classify_work_free(k.w);
        seqlm_classifier_free(k.m);
    }
}

static void test_classifier_padding(void **state) {
    (void)state;
    const char *elmo = random_elmo("clspad.st", 4, 1, 9);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 17);
    seqlm_classifier *m = cls_model(elmo, SEQLM_POOL_MEAN, &rng);
    seqlm_classify_data *d = cls_data();
    seqlm_classify_encoded e;
    seqlm_error err;
    assert_int_equal(seqlm_classify_encode(m, d, 0, &e, &err), SEQLM_OK);
    seqlm_classify_work *w = seqlm_classify_work_create(m, 5, 4, &err);
    seqlm_params *p = seqlm_classifier_params(m);
    size_t np = p->total;
    cls_case k;
    /* sentence 0 alone */
    size_t one = 0;
    layout(&e, &one, 1, &k);
    float l1[3], l4[12];
    seqlm_params_zero_grad(p);
    classify_batch_full(m, w, k.ids, NULL, k.eids, k.lengths, k.T, 1, k.targets, 0, 1, NULL, l1,
                        &err);
    float *g1 = malloc(np * sizeof *g1);
    memcpy(g1, p->grads, np * sizeof *g1);
    /* in a batch of 4 (T = 5, garbage ids in the padding), the others' targets ignored */
    size_t idx[4] = {1, 0, 2, 3};
    layout(&e, idx, 4, &k);
    k.targets[0] = k.targets[2] = k.targets[3] = -100;
    seqlm_params_zero_grad(p);
    classify_batch_full(m, w, k.ids, NULL, k.eids, k.lengths, k.T, 4, k.targets, 0, 1, NULL, l4,
                        &err);
    double dl = max_rel_diff(l4 + 3, l1, 3), dg = max_rel_diff(p->grads, g1, np);
    printf("==> classifier with ELMo, padding: logits differ by %.2e, gradients by %.2e\n", dl, dg);
    assert_true(dl < 1e-6 && dg < 1e-6);
    free(g1);
    seqlm_classify_work_free(w);
    seqlm_classify_encoded_free(&e);
    seqlm_classify_data_free(d);
    seqlm_classifier_free(m);
}

/* Model files: round trip, the recorded ELMo file, mismatch and missing-file errors. */
static void test_classifier_files(void **state) {
    (void)state;
    const char *elmo = random_elmo("clsf.st", 3, 1, 11);
    char *elmo_copy = strdup(elmo);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 5);
    seqlm_classifier *m = cls_model(elmo, SEQLM_POOL_MAX, &rng);
    const char *path = tmp_path("cls_model.st");
    seqlm_error err;
    assert_int_equal(seqlm_classifier_save(m, path, NULL, &err), SEQLM_OK);
    seqlm_classify_data *d = cls_data();
    float pa[4 * 3], pb[4 * 3];
    assert_int_equal(seqlm_classify_predict(m, d, 2, pa, NULL, &err), SEQLM_OK);
    seqlm_metadata meta = {0};
    seqlm_classifier *r = seqlm_classifier_load(path, &meta, &err);
    if (!r) fail_msg("%s", err.msg);
    assert_string_equal(seqlm_metadata_get(&meta, ELMO_META_PATH),
                        seqlm_classifier_config(m)->elmo);
    assert_int_equal(strlen(seqlm_metadata_get(&meta, ELMO_META_FINGERPRINT)), 16);
    assert_int_equal(seqlm_classify_predict(r, d, 3, pb, NULL, &err), SEQLM_OK);
    assert_memory_equal(pa, pb, sizeof pa);
    seqlm_metadata_free(&meta);
    seqlm_classifier_free(r);
    /* another ELMo file of the same shape: refused, naming both files */
    const char *other = random_elmo("clsf_other.st", 3, 1, 12);
    assert_null(seqlm_classifier_load_ex(path, other, NULL, &err));
    assert_non_null(strstr(err.msg, "fingerprint"));
    assert_non_null(strstr(err.msg, "cls_model.st"));
    assert_non_null(strstr(err.msg, "clsf_other.st"));
    assert_non_null(strstr(err.msg, "clsf.st"));
    /* the recorded file moved away: an error saying where it was; the override finds it */
    const char *moved = tmp_path("clsf_moved.st");
    assert_int_equal(rename(elmo_copy, moved), 0);
    assert_null(seqlm_classifier_load(path, NULL, &err));
    assert_non_null(strstr(err.msg, "clsf.st"));
    assert_non_null(strstr(err.msg, "--elmo"));
    r = seqlm_classifier_load_ex(path, moved, NULL, &err);
    if (!r) fail_msg("%s", err.msg);
    assert_int_equal(seqlm_classify_predict(r, d, 4, pb, NULL, &err), SEQLM_OK);
    assert_memory_equal(pa, pb, sizeof pa);
    seqlm_classifier_free(r);
    free(elmo_copy);
    seqlm_classify_data_free(d);
    seqlm_classifier_free(m);
}

/* ---- the tagger ----------------------------------------------------------------------------- */

static const char tiny[] = "John B-PER\nSmith I-PER\nvisited O\nNew B-LOC\nYork I-LOC\n\n"
                           "The O\nunion B-ORG\nsaid O\n\nSmith B-PER\nwon O\n.\tO\n\n"
                           "Über B-MISC\nalles I-MISC\nJohn B-PER\nwent O\nto O\nYork B-LOC\n";

static seqlm_tagger *tag_model(seqlm_tag_corpus **corp, const char *elmo, int crf) {
    seqlm_error err;
    *corp = seqlm_tag_corpus_read(write_tmp_str("tiny.conll", tiny), 0, 1, &err);
    assert_non_null(*corp);
    seqlm_tagger_config cfg = seqlm_tagger_default_config();
    cfg.embedding = 4;
    cfg.hidden = 3;
    cfg.char_dim = 2;
    cfg.char_hidden = 2;
    cfg.crf = crf;
    cfg.dropout = 0;
    cfg.min_count = 1;
    cfg.elmo = elmo;
    seqlm_tagger *m = seqlm_tagger_create_from(&cfg, *corp, &err);
    if (!m) fail_msg("%s", err.msg);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 42);
    seqlm_tagger_reset(m, &rng);
    seqlm_params *p = seqlm_tagger_params(m);
    for (int i = 0; i < p->count; i++) /* CRF scores away from 0 (else it is a softmax) */
        if (strncmp(p->info[i].name, "crf.", 4) == 0)
            for (size_t k = 0; k < p->info[i].size; k++)
                seqlm_params_value(p, i)[k] = (float)(seqlm_rng_uniform(&rng) - 0.5);
    perturb_mix(p, &rng);
    return m;
}

typedef struct {
    seqlm_tagger *m;
    seqlm_tag_batch *b;
} tag_case;

static double tag_loss(void *ctx) {
    tag_case *c = ctx;
    seqlm_error err;
    return seqlm_tagger_loss(c->m, c->b, NULL, NULL, 0, 1.0f, NULL, &err);
}

static void test_tagger_gradcheck(void **state) {
    (void)state;
    const char *elmo = random_elmo("tag.st", 3, 2, 13);
    for (int crf = 0; crf < 2; crf++) {
        seqlm_tag_corpus *c;
        seqlm_tagger *m = tag_model(&c, elmo, crf);
        assert_int_equal(seqlm_tagger_config_of(m)->extra_dim, 6);
        seqlm_tag_map *map = seqlm_tag_map_create(m, c);
        seqlm_tag_batch *b = seqlm_tag_batch_create();
        size_t idx[4] = {3, 0, 1, 2};
        assert_int_equal(seqlm_tag_batch_fill(b, m, map, idx, 4), 0);
        seqlm_params *p = seqlm_tagger_params(m);
        seqlm_params_zero_grad(p);
        seqlm_error err;
        seqlm_tagger_loss(m, b, NULL, NULL, 1, 1.0f, NULL, &err);
        tag_case k = {m, b};
        double worst = 0;
        for (int i = 0; i < p->count; i++) {
            char label[128];
            snprintf(label, sizeof label, "tagger/%s/%s", crf ? "crf" : "softmax", p->info[i].name);
            worst = fmax(worst, gradcheck(label, tag_loss, &k, seqlm_params_value(p, i),
                                          seqlm_params_grad(p, i), p->info[i].size, 1e-2f, 40));
        }
        assert_true(seqlm_params_find(p, "elmo_mix.gamma") == p->count - 1);
        printf("==> tagger with ELMo, %s: worst %.2e\n", crf ? "crf" : "softmax", worst);
        assert_true(worst < 5e-3);
        seqlm_tag_batch_free(b);
        seqlm_tag_map_free(map);
        seqlm_tagger_free(m);
        seqlm_tag_corpus_free(c);
    }
}

static void test_tagger_padding(void **state) {
    (void)state;
    const char *elmo = random_elmo("tagpad.st", 4, 1, 15);
    seqlm_tag_corpus *c;
    seqlm_tagger *m = tag_model(&c, elmo, 1);
    seqlm_tag_map *map = seqlm_tag_map_create(m, c);
    seqlm_tag_batch *b = seqlm_tag_batch_create();
    seqlm_params *p = seqlm_tagger_params(m);
    int s = seqlm_params_find(p, "elmo_mix.scalar_parameters");
    seqlm_error err;
    double alone = 0;
    float ds_alone[2] = {0, 0};
    int32_t tags_alone[4][8], best[64];
    for (size_t i = 0; i < 4; i++) {
        seqlm_tag_batch_fill(b, m, map, &i, 1);
        seqlm_params_zero_grad(p);
        alone += seqlm_tagger_loss(m, b, NULL, NULL, 1, 1, NULL, &err);
        for (int k = 0; k < 2; k++) ds_alone[k] += seqlm_params_grad(p, s)[k];
        seqlm_tagger_decode(m, b, NULL, best, &err);
        for (int t = 0; t < seqlm_tag_batch_T(b); t++) tags_alone[i][t] = best[t];
    }
    size_t idx[4] = {1, 3, 0, 2};
    seqlm_tag_batch_fill(b, m, map, idx, 4);
    seqlm_params_zero_grad(p);
    double together = seqlm_tagger_loss(m, b, NULL, NULL, 1, 1, NULL, &err);
    printf("==> tagger with ELMo, padding: loss alone %.7f, batched %.7f; mix gradient %.7g / "
           "%.7g\n",
           alone, together, ds_alone[0], seqlm_params_grad(p, s)[0]);
    assert_true(fabs(alone - together) < 1e-5 * fabs(alone));
    for (int k = 0; k < 2; k++)
        assert_true(fabs(ds_alone[k] - seqlm_params_grad(p, s)[k]) <
                    1e-4 * fmax(1e-3, fabs(ds_alone[k])));
    seqlm_tagger_decode(m, b, NULL, best, &err);
    for (int i = 0; i < 4; i++) {
        size_t sn = idx[i], n = c->sent_start[sn + 1] - c->sent_start[sn];
        for (size_t t = 0; t < n; t++) assert_int_equal(best[t * 4 + i], tags_alone[sn][t]);
    }
    /* the model file: the same tags after a reload; another ELMo file refused */
    const char *path = tmp_path("tag_model.st");
    assert_int_equal(seqlm_tagger_save(m, path, &err), SEQLM_OK);
    int32_t *pa = malloc(c->n_tok * sizeof *pa), *pb = malloc(c->n_tok * sizeof *pb);
    assert_int_equal(seqlm_tagger_predict(m, c, 2, pa, &err), SEQLM_OK);
    seqlm_tagger *r = seqlm_tagger_load(path, &err);
    if (!r) fail_msg("%s", err.msg);
    assert_string_equal(seqlm_tagger_config_of(r)->elmo, seqlm_tagger_config_of(m)->elmo);
    assert_int_equal(seqlm_tagger_predict(r, c, 3, pb, &err), SEQLM_OK);
    assert_memory_equal(pa, pb, c->n_tok * sizeof *pa);
    seqlm_tagger_free(r);
    assert_null(seqlm_tagger_load_ex(path, random_elmo("tag_other.st", 4, 1, 16), &err));
    assert_non_null(strstr(err.msg, "tag_other.st"));
    assert_non_null(strstr(err.msg, "tagpad.st"));
    /* a model without ELMo refuses --elmo */
    seqlm_tagger_config cfg = seqlm_tagger_default_config();
    cfg.embedding = cfg.hidden = 2;
    cfg.min_count = 1;
    seqlm_tagger *plain = seqlm_tagger_create_from(&cfg, c, &err);
    assert_non_null(plain);
    assert_int_equal(seqlm_tagger_save(plain, tmp_path("plain.st"), &err), SEQLM_OK);
    assert_null(seqlm_tagger_load_ex(tmp_path("plain.st"), elmo, &err));
    assert_non_null(strstr(err.msg, "without ELMo"));
    seqlm_tagger_free(plain);
    free(pa);
    free(pb);
    seqlm_tag_batch_free(b);
    seqlm_tag_map_free(map);
    seqlm_tagger_free(m);
    seqlm_tag_corpus_free(c);
}

/* Training moves the mix: the task's optimiser updates "elmo_mix.*" with the rest. */
static void test_mix_trains(void **state) {
    (void)state;
    const char *elmo = random_elmo("train.st", 3, 1, 19);
    seqlm_tag_corpus *c;
    seqlm_tagger *m = tag_model(&c, elmo, 1);
    seqlm_params *p = seqlm_tagger_params(m);
    int s = seqlm_params_find(p, "elmo_mix.scalar_parameters");
    int g = seqlm_params_find(p, "elmo_mix.gamma");
    int e = seqlm_params_find(p, "crf.end"); /* the task's last tensor before the mix */
    float s0[2], g0 = seqlm_params_value(p, g)[0], e0 = seqlm_params_value(p, e)[7];
    memcpy(s0, seqlm_params_value(p, s), sizeof s0);
    seqlm_tag_train_config tc = seqlm_tag_train_default_config();
    tc.epochs = 2;
    tc.batch = 2;
    tc.threads = 1;
    seqlm_error err;
    assert_int_equal(seqlm_tag_train(m, c, NULL, &tc, &err), SEQLM_OK);
    printf("==> tagger mix after training: s %g %g (from %g %g), gamma %g (from %g)\n",
           seqlm_params_value(p, s)[0], seqlm_params_value(p, s)[1], s0[0], s0[1],
           seqlm_params_value(p, g)[0], g0);
    assert_true(seqlm_params_value(p, s)[0] != s0[0]);
    assert_true(seqlm_params_value(p, g)[0] != g0);
    assert_true(seqlm_params_value(p, e)[7] != e0);
    seqlm_tagger_free(m);
    seqlm_tag_corpus_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_ids),          cmocka_unit_test(test_classifier_gradcheck),
        cmocka_unit_test(test_classifier_padding), cmocka_unit_test(test_classifier_files),
        cmocka_unit_test(test_tagger_gradcheck),   cmocka_unit_test(test_tagger_padding),
        cmocka_unit_test(test_mix_trains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
