/* test_classify.c - the sentence classifier (src/classify/) and the line reader's encodings.
 *
 * - pooling (last, mean, max) forward and backward by central differences, with garbage at the
 *   padded steps that must never be read nor receive gradient;
 * - the whole classifier (embedding + extra features -> 2-layer BiLSTM / GRU -> pool -> linear
 *   -> cross-entropy) by central differences: every parameter tensor and the extra features;
 * - golden numbers from PyTorch 1.13 (tests/golden/make_golden_classify.py): logits, loss and
 *   every gradient of a packed BiLSTM with max, mean and last pooling, to 1e-5;
 * - padding invariance: a sentence alone and in a padded batch gives the same logits and
 *   parameter gradients;
 * - metrics on a hand-computed case; the input formats and their errors; CP1252 conversion
 *   and encoding errors naming line and byte; folds and held-out parts; model files (a
 *   round trip, and a language model refused); a tiny training run that learns and is
 *   reproducible bit for bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify_internal.h"
#include "gradcheck.h"
#include "seqlm/lm.h"
#include "seqlm/modelfile.h"
#include "testutil.h"

static float *randn(size_t n, float scale, seqlm_rng *rng) {
    float *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) v[i] = scale * (float)seqlm_rng_normal(rng);
    return v;
}

static seqlm_vocab *vocab_of_size(int V) {
    seqlm_vocab *v = seqlm_vocab_create();
    assert_non_null(v);
    for (int i = (int)seqlm_vocab_size(v); i < V; i++) {
        char w[16];
        snprintf(w, sizeof w, "w%d", i);
        assert_true(seqlm_vocab_add(v, w, 1) >= 0);
    }
    assert_int_equal(seqlm_vocab_size(v), V);
    return v;
}

static const char *const abc[] = {"a", "b", "c"};

/* ---- pooling ---------------------------------------------------------------------------- */

typedef struct {
    seqlm_pool kind;
    int T, B, D, H;
    const int32_t *lengths;
    float *y, *out, *dout;
    int32_t *arg;
} pool_case;

static double pool_loss(void *ctx) {
    pool_case *k = ctx;
    seqlm_pool_forward(k->kind, k->y, k->T, k->B, k->D, k->H, k->lengths, k->out, k->arg);
    return gradcheck_project(k->out, (size_t)k->B * k->D * k->H, k->dout, 11);
}

static void test_pool_gradcheck(void **state) {
    (void)state;
    static const int32_t lengths[3] = {5, 2, 3};
    for (int kind = 0; kind < 3; kind++)
        for (int D = 1; D <= 2; D++) {
            seqlm_rng rng;
            seqlm_rng_seed(&rng, 40 + kind * 2 + D);
            pool_case k = {(seqlm_pool)kind, 5, 3, D, 3, lengths, NULL, NULL, NULL, NULL};
            size_t ny = (size_t)k.T * k.B * D * k.H, no = (size_t)k.B * D * k.H;
            k.y = randn(ny, 1, &rng);
            k.out = calloc(no, sizeof(float));
            k.dout = calloc(no, sizeof(float));
            k.arg = calloc(no, sizeof(int32_t));
            float *dy = calloc(ny, sizeof(float));
            pool_loss(&k);
            seqlm_pool_backward(k.kind, k.dout, k.T, k.B, D, k.H, lengths, k.arg, dy);
            /* padded steps get no gradient */
            for (int t = 0; t < k.T; t++)
                for (int b = 0; b < k.B; b++)
                    if (t >= lengths[b])
                        for (int j = 0; j < D * k.H; j++)
                            assert_true(dy[((size_t)t * k.B + b) * D * k.H + j] == 0.0f);
            char label[32];
            snprintf(label, sizeof label, "pool %s D=%d", seqlm_pool_name(k.kind), D);
            double worst = gradcheck(label, pool_loss, &k, k.y, dy, ny, 1e-3f, 0);
            printf("==> %-16s worst %.2e\n", label, worst);
            assert_true(worst < 1e-3);
            /* values: last and mean by hand for row 1 (length 2) */
            const float *y = k.y;
            int F = D * k.H;
            if (kind == SEQLM_POOL_MEAN)
                assert_true(fabsf(k.out[F + 0] - (y[(0 * 3 + 1) * F] + y[(1 * 3 + 1) * F]) / 2) <
                            1e-6f);
            if (kind == SEQLM_POOL_LAST) {
                assert_true(k.out[F + 0] == y[(1 * 3 + 1) * F]);
                if (D == 2) assert_true(k.out[F + k.H] == y[(0 * 3 + 1) * F + k.H]);
            }
            free(k.y);
            free(k.out);
            free(k.dout);
            free(k.arg);
            free(dy);
        }
}

/* ---- the whole model by finite differences ------------------------------------------------- */

typedef struct {
    seqlm_classifier *m;
    seqlm_classify_work *w;
    int T, B, X;
    int32_t ids[5 * 3], lengths[3], targets[3];
    float *extra, *dextra;
} model_case;

static double model_loss(void *ctx) {
    model_case *k = ctx;
    return classify_batch_ex(k->m, k->w, k->ids, k->extra, k->lengths, k->T, k->B, k->targets, 0, 0,
                             NULL, NULL, NULL);
}

static void model_gradcheck(seqlm_cell cell, seqlm_pool pool, int layers, int X) {
    seqlm_classify_config cfg = seqlm_classify_default_config();
    cfg.cell = cell;
    cfg.pool = pool;
    cfg.layers = layers;
    cfg.hidden = 3;
    cfg.embedding = 4;
    cfg.extra = X;
    seqlm_error err;
    model_case k;
    memset(&k, 0, sizeof k);
    k.m = seqlm_classifier_create(&cfg, vocab_of_size(8), abc, 3, &err);
    assert_non_null(k.m);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 5 + cell + 3 * pool);
    seqlm_classifier_reset(k.m, &rng);
    k.T = 5;
    k.B = 3;
    k.X = X;
    k.w = seqlm_classify_work_create(k.m, k.T, k.B, &err);
    assert_non_null(k.w);
    const int32_t len[3] = {5, 2, 4}, tg[3] = {2, 0, 1};
    for (int i = 0; i < k.T * k.B; i++) k.ids[i] = (int32_t)seqlm_rng_below(&rng, 8);
    memcpy(k.lengths, len, sizeof len);
    memcpy(k.targets, tg, sizeof tg);
    size_t nx = (size_t)k.T * k.B * (X ? X : 1);
    k.extra = randn(nx, 1, &rng);
    k.dextra = calloc(nx, sizeof(float));
    seqlm_params *p = seqlm_classifier_params(k.m);
    seqlm_params_zero_grad(p);
    classify_batch_ex(k.m, k.w, k.ids, X ? k.extra : NULL, k.lengths, k.T, k.B, k.targets, 0, 1,
                      NULL, NULL, X ? k.dextra : NULL);
    double worst = 0;
    for (int i = 0; i < p->count; i++) {
        char label[128];
        snprintf(label, sizeof label, "%s/%s/%s", seqlm_cell_name(cell), seqlm_pool_name(pool),
                 p->info[i].name);
        worst = fmax(worst, gradcheck(label, model_loss, &k, seqlm_params_value(p, i),
                                      seqlm_params_grad(p, i), p->info[i].size, 1e-2f, 24));
    }
    if (X) worst = fmax(worst, gradcheck("extra", model_loss, &k, k.extra, k.dextra, nx, 1e-2f, 0));
    printf("==> classifier %s %s L=%d X=%d worst %.2e\n", seqlm_cell_name(cell),
           seqlm_pool_name(pool), layers, X, worst);
    assert_true(worst < 2e-2);
    free(k.extra);
    free(k.dextra);
    seqlm_classify_work_free(k.w);
    seqlm_classifier_free(k.m);
}

static void test_model_gradcheck(void **state) {
    (void)state;
    model_gradcheck(SEQLM_CELL_LSTM, SEQLM_POOL_MAX, 2, 2);
    model_gradcheck(SEQLM_CELL_LSTM, SEQLM_POOL_MEAN, 1, 0);
    model_gradcheck(SEQLM_CELL_LSTM, SEQLM_POOL_LAST, 2, 0);
    model_gradcheck(SEQLM_CELL_GRU, SEQLM_POOL_LAST, 1, 3);
    model_gradcheck(SEQLM_CELL_RNN_TANH, SEQLM_POOL_MEAN, 1, 0);
}

/* ---- PyTorch golden numbers ----------------------------------------------------------------- */

static void golden_case(const char *file, seqlm_pool pool, int layers) {
    seqlm_error err;
    seqlm_params *g = seqlm_safetensors_read(golden_path(file), NULL, &err);
    if (!g) fail_msg("%s", err.msg);
    seqlm_classify_config cfg = seqlm_classify_default_config();
    cfg.pool = pool;
    cfg.layers = layers;
    cfg.hidden = 3;
    cfg.embedding = 4;
    cfg.dropout = 0.5f; /* off: training = 0 */
    seqlm_classifier *m = seqlm_classifier_create(&cfg, vocab_of_size(9), abc, 3, &err);
    assert_non_null(m);
    seqlm_params *p = seqlm_classifier_params(m);
    for (int i = 0; i < p->count; i++) {
        int j = seqlm_params_find(g, p->info[i].name);
        assert_true(j >= 0);
        assert_int_equal(g->info[j].size, p->info[i].size);
        memcpy(seqlm_params_value(p, i), seqlm_params_value(g, j), p->info[i].size * sizeof(float));
    }
    const int T = 6, B = 4;
    int32_t ids[6 * 4], lengths[4], targets[4];
    const float *gi = seqlm_params_value(g, seqlm_params_find(g, "ids"));
    const float *gl = seqlm_params_value(g, seqlm_params_find(g, "lengths"));
    const float *gt = seqlm_params_value(g, seqlm_params_find(g, "targets"));
    for (int i = 0; i < T * B; i++) ids[i] = (int32_t)gi[i];
    for (int b = 0; b < B; b++) {
        lengths[b] = (int32_t)gl[b];
        targets[b] = (int32_t)gt[b];
    }
    seqlm_classify_work *w = seqlm_classify_work_create(m, T, B, &err);
    assert_non_null(w);
    float logits[4 * 3];
    seqlm_params_zero_grad(p);
    double loss = seqlm_classify_batch(m, w, ids, lengths, T, B, targets, 0, 1, NULL, logits);
    double worst =
        max_rel_diff(logits, seqlm_params_value(g, seqlm_params_find(g, "logits")), (size_t)B * 3);
    float lf = (float)loss;
    worst = fmax(worst, max_rel_diff(&lf, seqlm_params_value(g, seqlm_params_find(g, "loss")), 1));
    for (int i = 0; i < p->count; i++) {
        char name[SEQLM_PARAM_NAME_MAX + 8];
        snprintf(name, sizeof name, "grad.%s", p->info[i].name);
        int j = seqlm_params_find(g, name);
        assert_true(j >= 0);
        double d = max_rel_diff(seqlm_params_grad(p, i), seqlm_params_value(g, j), p->info[i].size);
        if (d > 1e-5) printf("   %s: %s differs by %.2e\n", file, name, d);
        worst = fmax(worst, d);
    }
    printf("==> golden %-28s worst %.2e\n", file, worst);
    assert_true(worst < 1e-5);
    seqlm_classify_work_free(w);
    seqlm_classifier_free(m);
    seqlm_params_free(g);
}

static void test_golden_pytorch(void **state) {
    (void)state;
    golden_case("classify_max.safetensors", SEQLM_POOL_MAX, 1);
    golden_case("classify_mean.safetensors", SEQLM_POOL_MEAN, 1);
    golden_case("classify_last.safetensors", SEQLM_POOL_LAST, 1);
    golden_case("classify_max_l2.safetensors", SEQLM_POOL_MAX, 2);
}

/* ---- padding never changes a result --------------------------------------------------------- */

static void test_padding_invariance(void **state) {
    (void)state;
    for (int pool = 0; pool < 3; pool++) {
        seqlm_classify_config cfg = seqlm_classify_default_config();
        cfg.pool = (seqlm_pool)pool;
        cfg.layers = 2;
        cfg.hidden = 5;
        cfg.embedding = 6;
        seqlm_error err;
        seqlm_classifier *m = seqlm_classifier_create(&cfg, vocab_of_size(12), abc, 3, &err);
        assert_non_null(m);
        seqlm_rng rng;
        seqlm_rng_seed(&rng, 99 + pool);
        seqlm_classifier_reset(m, &rng);
        seqlm_params *p = seqlm_classifier_params(m);
        size_t np = p->total;
        seqlm_classify_work *w = seqlm_classify_work_create(m, 7, 3, &err);
        assert_non_null(w);
        /* sentence A: 3 tokens, alone */
        const int32_t a[3] = {4, 9, 5};
        int32_t len1[1] = {3}, tg1[1] = {1};
        float logit1[3], logit2[9];
        seqlm_params_zero_grad(p);
        seqlm_classify_batch(m, w, a, len1, 3, 1, tg1, 0, 1, NULL, logit1);
        float *g1 = malloc(np * sizeof *g1);
        memcpy(g1, p->grads, np * sizeof *g1);
        /* the same sentence in the middle of a batch of 3, T = 7, padded with other ids; the
         * other sentences' targets are ignored */
        int32_t ids[7 * 3], len3[3] = {7, 3, 5}, tg3[3] = {-100, 1, -100};
        for (int t = 0; t < 7; t++)
            for (int b = 0; b < 3; b++) ids[t * 3 + b] = (int32_t)((t * 5 + b * 3) % 12);
        for (int t = 0; t < 3; t++) ids[t * 3 + 1] = a[t];
        seqlm_params_zero_grad(p);
        seqlm_classify_batch(m, w, ids, len3, 7, 3, tg3, 0, 1, NULL, logit2);
        double dl = max_rel_diff(logit2 + 3, logit1, 3);
        double dg = max_rel_diff(p->grads, g1, np);
        printf("==> padding, %s pool: logits differ by %.2e, gradients by %.2e\n",
               seqlm_pool_name(cfg.pool), dl, dg);
        assert_true(dl < 1e-6);
        assert_true(dg < 1e-6);
        free(g1);
        seqlm_classify_work_free(w);
        seqlm_classifier_free(m);
    }
}

/* ---- metrics ---------------------------------------------------------------------------- */

static void test_metrics(void **state) {
    (void)state;
    /* confusion (rows gold): [1 1 0; 0 2 0; 1 0 2]
     * class 0: P 1/2, R 1/2, F1 1/2; class 1: P 2/3, R 1, F1 0.8; class 2: P 1, R 2/3, F1 0.8 */
    const int32_t gold[7] = {0, 0, 1, 1, 2, 2, 2}, pred[7] = {0, 1, 1, 1, 2, 0, 2};
    seqlm_classify_metrics mt;
    seqlm_error err;
    assert_int_equal(seqlm_classify_metrics_compute(gold, pred, 7, 3, &mt, &err), SEQLM_OK);
    assert_true(fabs(mt.accuracy - 5.0 / 7) < 1e-12);
    assert_true(fabs(mt.precision[0] - 0.5) < 1e-12 && fabs(mt.recall[0] - 0.5) < 1e-12);
    assert_true(fabs(mt.precision[1] - 2.0 / 3) < 1e-12 && fabs(mt.recall[1] - 1) < 1e-12);
    assert_true(fabs(mt.precision[2] - 1) < 1e-12 && fabs(mt.recall[2] - 2.0 / 3) < 1e-12);
    assert_true(fabs(mt.f1[0] - 0.5) < 1e-12 && fabs(mt.f1[1] - 0.8) < 1e-12 &&
                fabs(mt.f1[2] - 0.8) < 1e-12);
    assert_true(fabs(mt.macro_f1 - 0.7) < 1e-12);
    const uint64_t conf[9] = {1, 1, 0, 0, 2, 0, 1, 0, 2};
    for (int i = 0; i < 9; i++) assert_int_equal(mt.confusion[i], conf[i]);
    assert_int_equal(mt.support[2], 3);
    seqlm_classify_metrics_free(&mt);
    /* a class never predicted nor seen: precision, recall, F1 0, and it counts in macro-F1 */
    assert_int_equal(seqlm_classify_metrics_compute(gold, pred, 7, 4, &mt, &err), SEQLM_OK);
    assert_true(mt.f1[3] == 0 && mt.precision[3] == 0 && mt.recall[3] == 0);
    assert_true(fabs(mt.macro_f1 - 2.1 / 4) < 1e-12);
    seqlm_classify_metrics_free(&mt);
    const int32_t badg[1] = {3};
    assert_int_equal(seqlm_classify_metrics_compute(badg, pred, 1, 3, &mt, &err), SEQLM_ERR_ARG);
}

/* ---- input formats ------------------------------------------------------------------------ */

static seqlm_status read_src(seqlm_classify_data *d, const char *path, seqlm_cls_format f,
                             const char *label, const char *enc, seqlm_error *err) {
    seqlm_classify_source s;
    memset(&s, 0, sizeof s);
    s.path = path;
    s.format = f;
    s.label = label;
    s.encoding = enc;
    return seqlm_classify_data_read(d, &s, err);
}

static void expect_error(const char *name, const char *text, seqlm_cls_format f,
                         const char *needle) {
    seqlm_classify_data *d = seqlm_classify_data_create();
    seqlm_error err;
    const char *path = write_tmp_str(name, text);
    seqlm_status st = read_src(d, path, f, NULL, NULL, &err);
    printf("   %s -> %s\n", name, err.msg);
    assert_int_not_equal(st, SEQLM_OK);
    if (!strstr(err.msg, needle)) fail_msg("'%s' does not mention '%s'", err.msg, needle);
    seqlm_classify_data_free(d);
}

static void test_formats(void **state) {
    (void)state;
    seqlm_error err;
    seqlm_classify_data *d = seqlm_classify_data_create();
    /* tsv: the text keeps later tabs; CRLF accepted */
    const char *tsv = write_tmp_str("a.tsv", "pos\tgood film\r\nneg\tbad\tfilm\nneg\tdull\n");
    assert_int_equal(read_src(d, tsv, SEQLM_CLS_FORMAT_TSV, NULL, NULL, &err), SEQLM_OK);
    assert_int_equal(d->n, 3);
    assert_string_equal(d->text[1], "bad\tfilm");
    assert_int_equal(d->n_labels, 2);
    assert_string_equal(d->labels[d->label[2]], "neg");
    assert_int_equal(d->line[2], 3);
    /* nsmc, auto-detected from the header in the tsv format */
    const char *nsmc = write_tmp_str("n.txt", "id\tdocument\tlabel\n10\t재밌다\t1\n11\t별로\t0\n"
                                              "15\t최고 영화\t1\n");
    assert_int_equal(read_src(d, nsmc, SEQLM_CLS_FORMAT_TSV, NULL, NULL, &err), SEQLM_OK);
    assert_int_equal(d->n, 6);
    assert_string_equal(d->text[3], "재밌다");
    assert_string_equal(d->labels[d->label[4]], "0");
    assert_int_equal(d->index[5], 2);
    /* text with a label */
    const char *txt = write_tmp_str("t.txt", "one\ntwo\n");
    assert_int_equal(read_src(d, txt, SEQLM_CLS_FORMAT_TEXT, "pos", NULL, &err), SEQLM_OK);
    assert_int_equal(d->n, 8);
    assert_string_equal(d->labels[d->label[7]], "pos");
    /* id selection: id % 5 == 0 only, and the rest */
    seqlm_classify_data *z = seqlm_classify_data_create(), *nz = seqlm_classify_data_create();
    seqlm_classify_source s = {nsmc, SEQLM_CLS_FORMAT_NSMC, NULL, NULL, 0, 5, 1};
    assert_int_equal(seqlm_classify_data_read(z, &s, &err), SEQLM_OK);
    s.id_keep_zero = 0;
    assert_int_equal(seqlm_classify_data_read(nz, &s, &err), SEQLM_OK);
    assert_int_equal(z->n, 2);
    assert_int_equal(nz->n, 1);
    assert_string_equal(nz->text[0], "별로");
    seqlm_classify_data_free(z);
    seqlm_classify_data_free(nz);
    seqlm_classify_data_free(d);

    expect_error("e1.tsv", "pos\tok\nno tab here\n", SEQLM_CLS_FORMAT_TSV,
                 "line 2: expected LABEL");
    expect_error("e2.tsv", "pos\tok\npos\t  \n", SEQLM_CLS_FORMAT_TSV, "line 2: empty text");
    expect_error("e3.tsv", "\tok\n", SEQLM_CLS_FORMAT_TSV, "line 1: empty label");
    expect_error("e4.txt", "id\tdocument\tlabel\nx1\tok\t1\n", SEQLM_CLS_FORMAT_NSMC,
                 "line 2: the id");
    expect_error("e5.txt", "id\tdocument\tlabel\n1\tok\n", SEQLM_CLS_FORMAT_NSMC,
                 "line 2: expected 3");
    expect_error("e6.txt", "1\tok\t1\n", SEQLM_CLS_FORMAT_NSMC, "line 1: expected the NSMC header");
    expect_error("e7.tsv", "pos\tcaf\xe9\n", SEQLM_CLS_FORMAT_TSV, "line 1, byte 7: invalid UTF-8");
    /* allow_empty keeps the empty text */
    d = seqlm_classify_data_create();
    const char *em = write_tmp_str("em.tsv", "pos\t\n");
    seqlm_classify_source se = {em, SEQLM_CLS_FORMAT_TSV, NULL, NULL, 1, 0, 0};
    assert_int_equal(seqlm_classify_data_read(d, &se, &err), SEQLM_OK);
    assert_int_equal(d->n, 1);
    seqlm_classify_data_free(d);
}

/* ---- encodings in the line reader ------------------------------------------------------------ */

static void test_encoding(void **state) {
    (void)state;
    seqlm_error err;
    /* 0xE9 e-acute, 0x93/0x94 curly quotes, 0x85 ellipsis */
    const char *cp = write_tmp_str("cp.txt", "caf\xe9 \x93hi\x94\x85\nplain\n");
    seqlm_reader *r = seqlm_reader_open_encoding(cp, "CP1252", 1, &err);
    assert_non_null(r);
    const char *line;
    size_t len;
    assert_int_equal(seqlm_reader_next(r, &line, &len, &err), 1);
    assert_string_equal(line, "caf\xc3\xa9 \xe2\x80\x9chi\xe2\x80\x9d\xe2\x80\xa6");
    assert_int_equal(len, strlen(line));
    assert_int_equal(seqlm_reader_next(r, &line, &len, &err), 1);
    assert_string_equal(line, "plain");
    assert_int_equal(seqlm_reader_offset(r), 11);
    assert_int_equal(seqlm_reader_next(r, &line, &len, &err), 0);
    seqlm_reader_free(r);
    /* 0x81 is undefined in CP1252: an error naming line and byte */
    const char *bad = write_tmp_str("cpbad.txt", "ok\nab\x81z\n");
    r = seqlm_reader_open_encoding(bad, "cp1252", 1, &err);
    assert_non_null(r);
    assert_int_equal(seqlm_reader_next(r, &line, &len, &err), 1);
    assert_int_equal(seqlm_reader_next(r, &line, &len, &err), -1);
    printf("   %s\n", err.msg);
    assert_non_null(strstr(err.msg, "line 2, byte 5: invalid byte sequence in cp1252"));
    seqlm_reader_free(r);
    /* names */
    assert_int_equal(seqlm_encoding_check("no-such-encoding", &err), SEQLM_ERR_ARG);
    assert_non_null(strstr(err.msg, "unknown encoding"));
    assert_int_equal(seqlm_encoding_check("UTF-16", &err), SEQLM_ERR_ARG);
    assert_non_null(strstr(err.msg, "not ASCII-compatible"));
    assert_null(seqlm_reader_open_encoding(cp, "UTF-16LE", 1, &err));
    assert_int_equal(seqlm_encoding_check("utf8", &err), SEQLM_OK);
    assert_int_equal(seqlm_encoding_check("EUC-KR", &err), SEQLM_OK);
    /* UTF-8 (NULL) behaves as seqlm_reader_open: invalid UTF-8 is an error at its byte */
    r = seqlm_reader_open_encoding(cp, NULL, 1, &err);
    assert_int_equal(seqlm_reader_next(r, &line, &len, &err), -1);
    assert_non_null(strstr(err.msg, "line 1, byte 3: invalid UTF-8"));
    seqlm_reader_free(r);
    /* EUC-KR: a multi-byte encoding converts too (U+D55C HANGUL HAN = 0xC7 0xD1) */
    const char *kr = write_tmp_str("kr.txt", "\xc7\xd1 a\n");
    r = seqlm_reader_open_encoding(kr, "EUC-KR", 1, &err);
    assert_int_equal(seqlm_reader_next(r, &line, &len, &err), 1);
    assert_string_equal(line, "\xed\x95\x9c a");
    seqlm_reader_free(r);
}

/* ---- folds and held-out parts -----------------------------------------------------------------
 */

static void test_folds_holdout(void **state) {
    (void)state;
    seqlm_error err;
    char text[256] = "";
    for (int i = 0; i < 10; i++) {
        char l[32];
        snprintf(l, sizeof l, "%s\ts%d\n", i % 2 ? "b" : "a", i);
        strcat(text, l);
    }
    seqlm_classify_data *d = seqlm_classify_data_create();
    assert_int_equal(
        read_src(d, write_tmp_str("f.tsv", text), SEQLM_CLS_FORMAT_TSV, NULL, NULL, &err),
        SEQLM_OK);
    seqlm_classify_data *tr = seqlm_classify_data_create(), *te = seqlm_classify_data_create();
    assert_int_equal(seqlm_classify_data_fold(d, 4, 3, tr, te, &err), SEQLM_OK);
    assert_int_equal(te->n, 2);
    assert_string_equal(te->text[0], "s3");
    assert_string_equal(te->text[1], "s7");
    assert_int_equal(tr->n, 8);
    seqlm_classify_data *h1 = seqlm_classify_data_create(), *h2 = seqlm_classify_data_create();
    assert_int_equal(seqlm_classify_data_holdout(tr, 0.25, 3, h1, &err), SEQLM_OK);
    assert_int_equal(h1->n, 2);
    assert_int_equal(tr->n, 6);
    for (size_t i = 0; i < h1->n; i++)
        for (size_t j = 0; j < tr->n; j++) assert_string_not_equal(h1->text[i], tr->text[j]);
    /* the same seed holds out the same records */
    seqlm_classify_data *tr2 = seqlm_classify_data_create(), *te2 = seqlm_classify_data_create();
    assert_int_equal(seqlm_classify_data_fold(d, 4, 3, tr2, te2, &err), SEQLM_OK);
    assert_int_equal(seqlm_classify_data_holdout(tr2, 0.25, 3, h2, &err), SEQLM_OK);
    for (size_t i = 0; i < h1->n; i++) assert_string_equal(h1->text[i], h2->text[i]);
    assert_int_equal(seqlm_classify_data_fold(d, 1, 0, tr, te, &err), SEQLM_ERR_ARG);
    seqlm_classify_data *all[] = {d, tr, te, h1, h2, tr2, te2};
    for (int i = 0; i < 7; i++) seqlm_classify_data_free(all[i]);
}

/* ---- training, files ------------------------------------------------------------------------- */

static const char tiny[] = "pos\tgood fun film\n"
                           "neg\tbad dull film\n"
                           "pos\treally good\n"
                           "neg\treally bad\n"
                           "pos\tfun and good acting\n"
                           "neg\tdull and bad acting\n"
                           "pos\tgood\n"
                           "neg\tbad\n";

static seqlm_classifier *train_tiny(const seqlm_classify_data *d, const char *out,
                                    seqlm_classify_train_result *res) {
    seqlm_error err;
    seqlm_classify_config cfg = seqlm_classify_default_config();
    cfg.hidden = 8;
    cfg.embedding = 8;
    cfg.dropout = 0.1f;
    seqlm_classifier *m = seqlm_classifier_create_for(&cfg, d, 1, &err);
    assert_non_null(m);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 1);
    seqlm_classifier_reset(m, &rng);
    seqlm_classify_train_config tc = seqlm_classify_train_default_config();
    tc.optim.lr = 0.02f;
    tc.batch = 3;
    tc.epochs = 30;
    tc.threads = 1;
    tc.output_path = out;
    if (seqlm_classify_train(m, d, d, &tc, res, &err) != SEQLM_OK) fail_msg("%s", err.msg);
    return m;
}

static void test_train_and_files(void **state) {
    (void)state;
    seqlm_error err;
    seqlm_classify_data *d = seqlm_classify_data_create();
    assert_int_equal(
        read_src(d, write_tmp_str("tiny.tsv", tiny), SEQLM_CLS_FORMAT_TSV, NULL, NULL, &err),
        SEQLM_OK);
    seqlm_classify_train_result r1, r2;
    const char *path = tmp_path("tiny.safetensors");
    seqlm_classifier *m1 = train_tiny(d, path, &r1);
    seqlm_classifier *m2 = train_tiny(d, NULL, &r2);
    printf("==> tiny: best accuracy %.3f at epoch %d\n", r1.best_valid_acc, r1.best_epoch);
    assert_true(r1.best_valid_acc == 1.0);
    /* the same seed and threads: the same bits */
    seqlm_params *p1 = seqlm_classifier_params(m1), *p2 = seqlm_classifier_params(m2);
    assert_int_equal(p1->total, p2->total);
    assert_memory_equal(p1->values, p2->values, p1->total * sizeof(float));
    /* labels sorted: neg, pos */
    const char *const *labels;
    assert_int_equal(seqlm_classifier_labels(m1, &labels), 2);
    assert_string_equal(labels[0], "neg");
    /* the file gives the same probabilities */
    seqlm_classifier *m3 = seqlm_classifier_load(path, NULL, &err);
    if (!m3) fail_msg("%s", err.msg);
    float pa[8 * 2], pb[8 * 2];
    assert_int_equal(seqlm_classify_predict(m1, d, 3, pa, NULL, &err), SEQLM_OK);
    assert_int_equal(seqlm_classify_predict(m3, d, 5, pb, NULL, &err), SEQLM_OK);
    assert_true(max_rel_diff(pa, pb, 16) < 1e-6);
    for (int i = 0; i < 8; i++) assert_true((pa[2 * i + 1] > 0.5f) == (i % 2 == 0));
    /* a label the model does not know, at eval time */
    seqlm_classify_data *e = seqlm_classify_data_create();
    assert_int_equal(read_src(e, write_tmp_str("unk.tsv", "pos\tgood\nmeh\tso so\n"),
                              SEQLM_CLS_FORMAT_TSV, NULL, NULL, &err),
                     SEQLM_OK);
    seqlm_classify_encoded enc;
    assert_int_equal(seqlm_classify_encode(m3, e, 0, &enc, &err), SEQLM_ERR_DATA);
    assert_non_null(strstr(err.msg, "unk.tsv: line 2: label 'meh'"));
    seqlm_classify_data_free(e);
    /* a language model is not a classifier */
    seqlm_lm_config lc = seqlm_lm_default_config();
    lc.layers = 1;
    lc.hidden = 4;
    lc.embedding = 4;
    seqlm_lm *lm = seqlm_lm_create(&lc, vocab_of_size(5), &err);
    assert_non_null(lm);
    const char *lmpath = tmp_path("lm.safetensors");
    assert_int_equal(seqlm_lm_save(lm, lmpath, NULL, &err), SEQLM_OK);
    seqlm_lm_free(lm);
    assert_null(seqlm_classifier_load(lmpath, NULL, &err));
    assert_non_null(strstr(err.msg, "language model"));
    /* and a classifier is not a language model */
    assert_null(seqlm_lm_load(path, NULL, &err));
    seqlm_classifier_free(m1);
    seqlm_classifier_free(m2);
    seqlm_classifier_free(m3);
    seqlm_classify_data_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_gradcheck),  cmocka_unit_test(test_model_gradcheck),
        cmocka_unit_test(test_golden_pytorch),  cmocka_unit_test(test_padding_invariance),
        cmocka_unit_test(test_metrics),         cmocka_unit_test(test_formats),
        cmocka_unit_test(test_encoding),        cmocka_unit_test(test_folds_holdout),
        cmocka_unit_test(test_train_and_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
