/* test_lm.c - the neural language model of seqlm/lm.h: every architecture is created, reset,
 * saved and loaded back bit for bit; foreign and garbled files are refused with a message; one
 * window's loss equals the layers of nn.h composed by hand, its gradients pass a finite-
 * difference check (LSTM with dropout, tied GRU, window model with direct connections), and the
 * carried state makes two windows of T the same as one of 2T; text becomes the protocol's stream;
 * evaluation matches PyTorch (tests/golden/make_golden_lmeval.py) at batch 1 and 3; per-token
 * log-probabilities sum to the total; train_bytes is close to what a run allocates. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "lm/model_internal.h"
#include "seqlm/lm.h"

/* A vocabulary of V = 3 + extra words w0, w1, ... with counts. */
static seqlm_vocab *make_vocab(int extra) {
    seqlm_vocab *v = seqlm_vocab_create();
    assert_non_null(v);
    for (int i = 0; i < extra; i++) {
        char w[16];
        snprintf(w, sizeof w, "w%d", i);
        assert_true(seqlm_vocab_add(v, w, (uint64_t)(100 - i)) >= 0);
    }
    return v;
}

static seqlm_lm_config tiny(seqlm_arch arch) {
    seqlm_lm_config c = seqlm_lm_default_config();
    c.arch = arch;
    c.layers = 2;
    c.hidden = 6;
    c.embedding = 5;
    c.context = 3;
    return c;
}

static seqlm_lm *make_lm(const seqlm_lm_config *c, int extra, uint64_t seed) {
    seqlm_error err;
    seqlm_lm *m = seqlm_lm_create(c, make_vocab(extra), &err);
    if (!m) fail_msg("create %s: %s", seqlm_arch_name(c->arch), err.msg);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, seed);
    seqlm_lm_reset(m, &rng);
    return m;
}

static void random_ids(int32_t *ids, size_t n, int V, seqlm_rng *rng) {
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)seqlm_rng_below(rng, (uint64_t)V);
}

static double rel(double a, double b) {
    return fabs(a - b) / fmax(1e-12, fabs(b));
}

/* ---- names, config, create ----------------------------------------------------------------- */

static void test_arch_names(void **state) {
    (void)state;
    for (int a = 0; a <= SEQLM_ARCH_WINDOW; a++) {
        seqlm_arch b;
        assert_int_equal(seqlm_arch_parse(seqlm_arch_name((seqlm_arch)a), &b), 0);
        assert_int_equal(b, a);
    }
    seqlm_arch b;
    assert_int_equal(seqlm_arch_parse("LSTM", &b), 0);
    assert_int_equal(b, SEQLM_ARCH_LSTM);
    assert_int_equal(seqlm_arch_parse("RNN_TANH", &b), 0);
    assert_int_equal(b, SEQLM_ARCH_RNN_TANH);
    assert_int_equal(seqlm_arch_parse("transformer", &b), -1);
    seqlm_lm_config c = seqlm_lm_default_config();
    assert_int_equal(c.arch, SEQLM_ARCH_LSTM);
    assert_int_equal(c.layers, 2);
    assert_int_equal(c.hidden, 200);
}

static void test_create_rejects(void **state) {
    (void)state;
    seqlm_error err;
    seqlm_lm_config c = tiny(SEQLM_ARCH_LSTM);
    c.tie_weights = 1; /* E 5 != H 6 */
    assert_null(seqlm_lm_create(&c, make_vocab(4), &err));
    assert_non_null(strstr(err.msg, "tied"));
    c = tiny(SEQLM_ARCH_GRU);
    c.layers = 0;
    assert_null(seqlm_lm_create(&c, make_vocab(4), &err));
    c = tiny(SEQLM_ARCH_LSTM);
    c.dropout = 1.0f;
    assert_null(seqlm_lm_create(&c, make_vocab(4), &err));
    c = tiny(SEQLM_ARCH_WINDOW);
    c.context = 0;
    assert_null(seqlm_lm_create(&c, make_vocab(4), &err));
}

static void same_lm(seqlm_lm *a, seqlm_lm *b) {
    const seqlm_lm_config *ca = seqlm_lm_config_of(a), *cb = seqlm_lm_config_of(b);
    assert_int_equal(ca->arch, cb->arch);
    assert_int_equal(ca->layers, cb->layers);
    assert_int_equal(ca->hidden, cb->hidden);
    assert_int_equal(ca->embedding, cb->embedding);
    assert_int_equal(ca->context, cb->context);
    assert_true(ca->dropout == cb->dropout);
    assert_int_equal(ca->tie_weights, cb->tie_weights);
    assert_int_equal(ca->direct, cb->direct);
    assert_int_equal(ca->unit, cb->unit);
    const seqlm_vocab *va = seqlm_lm_vocab(a), *vb = seqlm_lm_vocab(b);
    assert_int_equal(seqlm_vocab_size(va), seqlm_vocab_size(vb));
    for (uint32_t id = 0; id < seqlm_vocab_size(va); id++) {
        assert_string_equal(seqlm_vocab_word(va, id), seqlm_vocab_word(vb, id));
        assert_int_equal(seqlm_vocab_count(va, id), seqlm_vocab_count(vb, id));
    }
    seqlm_params *pa = seqlm_lm_params(a), *pb = seqlm_lm_params(b);
    assert_int_equal(pa->count, pb->count);
    assert_int_equal(pa->total, pb->total);
    for (int i = 0; i < pa->count; i++) assert_string_equal(pa->info[i].name, pb->info[i].name);
    assert_memory_equal(pa->values, pb->values, pa->total * sizeof(float));
}

static void roundtrip(seqlm_lm_config c, const char *must_have) {
    seqlm_lm *m = make_lm(&c, 7, 3);
    seqlm_params *p = seqlm_lm_params(m);
    assert_true(seqlm_params_find(p, must_have) >= 0);
    /* reset gave non-zero values everywhere but the decoder bias */
    double sum = 0;
    for (size_t i = 0; i < p->total; i++) sum += fabs(p->values[i]);
    assert_true(sum > 0);
    if (c.arch != SEQLM_ARCH_WINDOW) {
        const float *bias = seqlm_params_value(p, seqlm_params_find(p, "decoder.bias"));
        for (int i = 0; i < 10; i++) assert_true(bias[i] == 0.0f);
        const float *enc = seqlm_params_value(p, seqlm_params_find(p, "encoder.weight"));
        for (int i = 0; i < 10 * c.embedding; i++) assert_true(fabsf(enc[i]) <= 0.1f);
    }
    seqlm_error err;
    seqlm_metadata extra = {0};
    seqlm_metadata_set(&extra, "train.epochs", "3");
    char name[64];
    snprintf(name, sizeof name, "rt_%s_%d.safetensors", seqlm_arch_name(c.arch), c.tie_weights);
    const char *path = tmp_path(name);
    if (seqlm_lm_save(m, path, &extra, &err) != SEQLM_OK) fail_msg("save: %s", err.msg);
    seqlm_metadata meta = {0};
    seqlm_lm *b = seqlm_lm_load(path, &meta, &err);
    if (!b) fail_msg("load: %s", err.msg);
    same_lm(m, b);
    assert_string_equal(seqlm_metadata_get(&meta, "train.epochs"), "3");
    assert_non_null(seqlm_metadata_get(&meta, "seqlm.config"));
    assert_non_null(seqlm_metadata_get(&meta, "seqlm.vocab"));
    seqlm_metadata_free(&meta);
    seqlm_metadata_free(&extra);
    seqlm_lm_free(b);
    seqlm_lm_free(m);
}

static void test_save_load(void **state) {
    (void)state;
    roundtrip(tiny(SEQLM_ARCH_RNN_TANH), "rnn.weight_hh_l1");
    roundtrip(tiny(SEQLM_ARCH_RNN_RELU), "rnn.bias_ih_l0");
    roundtrip(tiny(SEQLM_ARCH_LSTM), "decoder.weight");
    seqlm_lm_config c = tiny(SEQLM_ARCH_GRU);
    c.embedding = c.hidden;
    c.tie_weights = 1;
    c.dropout = 0.25f;
    c.unit = SEQLM_UNIT_CHAR;
    roundtrip(c, "decoder.weight");
    roundtrip(tiny(SEQLM_ARCH_WINDOW), "hidden.weight");
    c = tiny(SEQLM_ARCH_WINDOW);
    c.direct = 1;
    roundtrip(c, "direct.weight");
}

/* Rewrites a saved model with one metadata value replaced (the tensors kept). */
static const char *with_meta(const char *src, const char *name, const char *key,
                             const char *value) {
    seqlm_error err;
    seqlm_metadata meta = {0};
    seqlm_params *p = seqlm_safetensors_read(src, &meta, &err);
    if (!p) fail_msg("%s", err.msg);
    seqlm_metadata out = {0};
    for (size_t i = 0; i < meta.count; i++)
        if (strcmp(meta.keys[i], key) != 0) seqlm_metadata_set(&out, meta.keys[i], meta.values[i]);
    if (value) seqlm_metadata_set(&out, key, value);
    const char *path = tmp_path(name);
    assert_int_equal(seqlm_safetensors_write(path, p, &out, &err), SEQLM_OK);
    seqlm_metadata_free(&meta);
    seqlm_metadata_free(&out);
    seqlm_params_free(p);
    return path;
}

static void load_fails(const char *path, const char *expect) {
    seqlm_error err;
    seqlm_metadata meta = {0};
    seqlm_lm *m = seqlm_lm_load(path, &meta, &err);
    if (m) fail_msg("%s loaded", path);
    printf("expected error: %s\n", err.msg);
    assert_non_null(strstr(err.msg, path));
    if (!strstr(err.msg, expect)) fail_msg("'%s' lacks '%s'", err.msg, expect);
    assert_int_equal(meta.count, 0);
}

static void test_load_errors(void **state) {
    (void)state;
    load_fails(golden_path("layers_linear.safetensors"), "not a seqlm language model");
    load_fails(tmp_path("no_such_file.safetensors"), "cannot open");
    load_fails(write_tmp_str("garbage.safetensors", "this is not a model at all\n"),
               "not a safetensors file");
    seqlm_lm_config c = tiny(SEQLM_ARCH_LSTM);
    seqlm_lm *m = make_lm(&c, 7, 1);
    seqlm_error err;
    const char *good = tmp_path("good.safetensors");
    assert_int_equal(seqlm_lm_save(m, good, NULL, &err), SEQLM_OK);
    seqlm_lm_free(m);
    load_fails(with_meta(good, "cfg1.safetensors", "seqlm.config", "{\"arch\": "),
               "garbled seqlm.config");
    load_fails(with_meta(good, "cfg2.safetensors", "seqlm.config",
                         "{\"arch\": \"lstm\", "
                         "\"layers\": \"two\"}"),
               "\"layers\"");
    load_fails(with_meta(good, "cfg3.safetensors", "seqlm.config", "{\"arch\": \"mamba\"}"),
               "\"arch\"");
    load_fails(with_meta(good, "cfg4.safetensors", "seqlm.config", NULL), "without seqlm.config");
    load_fails(with_meta(good, "voc1.safetensors", "seqlm.vocab", NULL), "no seqlm.vocab");
    load_fails(with_meta(good, "voc2.safetensors", "seqlm.vocab", "<unk>\t0\n<s>\t0\nfoo\n"),
               "line 3");
    load_fails(with_meta(good, "voc3.safetensors", "seqlm.vocab", "<unk>\t0\n<s>\t0\n</s>\t1\n"),
               "has shape"); /* V = 3 but the tensors have V = 10 */
    load_fails(with_meta(good, "shape.safetensors", "seqlm.config",
                         "{\"arch\": \"lstm\", \"layers\": 2, \"hidden\": 7, \"embedding\": 5}"),
               "shape");
}

/* ---- one window vs the layers by hand ---------------------------------------------------- */

enum { TB_T = 4, TB_B = 3 };

static void test_window_manual(void **state) {
    (void)state;
    seqlm_arch archs[] = {SEQLM_ARCH_RNN_TANH, SEQLM_ARCH_LSTM, SEQLM_ARCH_GRU, SEQLM_ARCH_WINDOW};
    for (int a = 0; a < 4; a++) {
        seqlm_lm_config c = tiny(archs[a]);
        seqlm_lm *m = make_lm(&c, 9, 5 + a);
        int V = 12, T = TB_T, B = TB_B, N = T * B, E = c.embedding, H = c.hidden, n = c.context;
        seqlm_error err;
        seqlm_lm_work *w = seqlm_lm_work_create(m, T, B, &err);
        assert_non_null(w);
        seqlm_rng rng;
        seqlm_rng_seed(&rng, 9);
        int32_t x[TB_T * TB_B], y[TB_T * TB_B];
        random_ids(x, (size_t)N, V, &rng);
        random_ids(y, (size_t)N, V, &rng);
        y[4] = -100;
        size_t counted = 0;
        double loss = seqlm_lm_window(m, w, x, y, T, 0, 0, NULL, &counted);
        assert_int_equal(counted, N - 1);
        double ref;
        seqlm_params *p = seqlm_lm_params(m);
        if (archs[a] != SEQLM_ARCH_WINDOW) {
            float emb[TB_T * TB_B * 5], out[TB_T * TB_B * 6];
            seqlm_stack_cache *cache = seqlm_stack_cache_create(&m->rnn, T, B);
            seqlm_embedding_forward(&m->enc, p, x, (size_t)N, emb);
            seqlm_rnn_stack_forward(&m->rnn, p, cache, emb, T, B, NULL, NULL, NULL, out, NULL, NULL,
                                    0, NULL);
            ref = seqlm_output_loss(&m->dec, p, out, (size_t)N, y, -100, NULL);
            seqlm_stack_cache_free(cache);
            (void)E;
            (void)H;
        } else {
            int32_t ctx[TB_T * TB_B * 3];
            for (int t = 0; t < T; t++)
                for (int b = 0; b < B; b++)
                    for (int k = 0; k < n; k++) {
                        int tt = t - (n - 1 - k); /* oldest first, ending with x[t][b] */
                        ctx[(t * B + b) * n + k] = tt >= 0 ? x[tt * B + b] : (int32_t)SEQLM_EOS;
                    }
            ref = seqlm_window_loss(&m->win, p, ctx, y, (size_t)N, 0);
        }
        printf("%s: window loss %.8f, layers by hand %.8f\n", seqlm_arch_name(archs[a]), loss, ref);
        assert_true(rel(loss, ref) < 1e-6);
        /* logprobs from the same start agree with the loss */
        seqlm_lm_work_reset(w);
        float lp[TB_T * TB_B * 12];
        seqlm_lm_logprobs(m, w, x, T, lp);
        double s = 0;
        for (int i = 0; i < N; i++)
            if (y[i] >= 0) s -= lp[i * V + y[i]];
        assert_true(rel(s / (double)counted, ref) < 1e-5);
        seqlm_lm_work_free(w);
        seqlm_lm_free(m);
    }
}

/* ---- gradients --------------------------------------------------------------------------- */

typedef struct {
    seqlm_lm *m;
    seqlm_lm_work *w;
    const int32_t *x, *y;
    int T;
    float *state0; /* the carried state to start every run from */
    size_t n_state;
} gc_ctx;

static double gc_run(gc_ctx *g, int backward) {
    size_t n;
    float *st = seqlm_lm_work_state(g->w, &n);
    assert_int_equal(n, g->n_state);
    memcpy(st, g->state0, n * sizeof *st);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 77); /* the same dropout masks every time */
    return seqlm_lm_window(g->m, g->w, g->x, g->y, g->T, 1, backward, &rng, NULL);
}

static double gc_loss(void *ctx) {
    return gc_run(ctx, 0);
}

static void gradcheck_lm(seqlm_lm_config c, const char *label) {
    seqlm_lm *m = make_lm(&c, 6, 21);
    int V = 9, T = 3, B = 2;
    seqlm_error err;
    seqlm_lm_work *w = seqlm_lm_work_create(m, T, B, &err);
    assert_non_null(w);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 4);
    int32_t x[6], y[6];
    random_ids(x, 6, V, &rng);
    random_ids(y, 6, V, &rng);
    y[1] = -100;
    gc_ctx g = {m, w, x, y, T, NULL, 0};
    float *st = seqlm_lm_work_state(w, &g.n_state);
    g.state0 = malloc(g.n_state * sizeof(float));
    if (c.arch == SEQLM_ARCH_WINDOW) { /* a history of real words */
        for (size_t i = 0; i < g.n_state; i++) g.state0[i] = (float)(3 + i % 6);
    } else {
        for (size_t i = 0; i < g.n_state; i++) g.state0[i] = (float)(seqlm_rng_uniform(&rng) - 0.5);
    }
    (void)st;
    seqlm_params *p = seqlm_lm_params(m);
    seqlm_params_zero_grad(p);
    gc_run(&g, 1);
    /* Twice: backward must accumulate. */
    float *g1 = malloc(p->total * sizeof(float));
    memcpy(g1, p->grads, p->total * sizeof(float));
    gc_run(&g, 1);
    for (size_t i = 0; i < p->total; i++) assert_true(fabsf(p->grads[i] - 2 * g1[i]) < 1e-5f);
    memcpy(p->grads, g1, p->total * sizeof(float));
    double e = gradcheck(label, gc_loss, &g, p->values, p->grads, p->total, 1e-2f, 0);
    assert_true(e < 1e-2);
    free(g1);
    free(g.state0);
    seqlm_lm_work_free(w);
    seqlm_lm_free(m);
}

static void test_gradcheck(void **state) {
    (void)state;
    seqlm_lm_config c = tiny(SEQLM_ARCH_LSTM);
    c.dropout = 0.3f;
    gradcheck_lm(c, "lstm 2 layers, dropout 0.3");
    c = tiny(SEQLM_ARCH_GRU);
    c.embedding = c.hidden;
    c.tie_weights = 1;
    c.layers = 1;
    gradcheck_lm(c, "gru tied");
    c = tiny(SEQLM_ARCH_WINDOW);
    c.direct = 1;
    gradcheck_lm(c, "window direct");
}

/* ---- carried state ------------------------------------------------------------------------ */

static void test_carry(void **state) {
    (void)state;
    seqlm_arch archs[] = {SEQLM_ARCH_RNN_TANH, SEQLM_ARCH_RNN_RELU, SEQLM_ARCH_LSTM, SEQLM_ARCH_GRU,
                          SEQLM_ARCH_WINDOW};
    for (int a = 0; a < 5; a++) {
        seqlm_lm_config c = tiny(archs[a]);
        seqlm_lm *m = make_lm(&c, 9, 30 + a);
        int V = 12, T = 4, B = 3;
        seqlm_error err;
        seqlm_lm_work *w1 = seqlm_lm_work_create(m, T, B, &err);
        seqlm_lm_work *w2 = seqlm_lm_work_create(m, 2 * T, B, &err);
        assert_non_null(w1);
        assert_non_null(w2);
        seqlm_rng rng;
        seqlm_rng_seed(&rng, 8);
        int32_t x[24], y[24];
        random_ids(x, 24, V, &rng);
        random_ids(y, 24, V, &rng);
        y[13] = -100;
        size_t c1, c2, c3;
        double l1 = seqlm_lm_window(m, w1, x, y, T, 1, 0, &rng, &c1);
        double l2 = seqlm_lm_window(m, w1, x + T * B, y + T * B, T, 1, 0, &rng, &c2);
        double l = seqlm_lm_window(m, w2, x, y, 2 * T, 1, 0, &rng, &c3);
        assert_int_equal(c1 + c2, c3);
        double two = (l1 * (double)c1 + l2 * (double)c2) / (double)(c1 + c2);
        printf("%s: two windows %.8f, one window %.8f\n", seqlm_arch_name(archs[a]), two, l);
        assert_true(rel(two, l) < 1e-5);
        /* and the carried states agree */
        size_t n1, n2;
        float *s1 = seqlm_lm_work_state(w1, &n1), *s2 = seqlm_lm_work_state(w2, &n2);
        assert_int_equal(n1, n2);
        for (size_t i = 0; i < n1; i++) assert_true(fabsf(s1[i] - s2[i]) < 1e-5f);
        /* reset: zero state (window model: a history of </s>) */
        seqlm_lm_work_reset(w1);
        for (size_t i = 0; i < n1; i++)
            assert_true(s1[i] == (archs[a] == SEQLM_ARCH_WINDOW ? (float)SEQLM_EOS : 0.0f));
        seqlm_lm_work_free(w1);
        seqlm_lm_work_free(w2);
        seqlm_lm_free(m);
    }
}

/* ---- data -------------------------------------------------------------------------------- */

static void test_stream(void **state) {
    (void)state;
    seqlm_vocab *v = make_vocab(3); /* w0 w1 w2 */
    seqlm_error err;
    seqlm_stream s;
    uint64_t oov = 99;
    const char *path = write_tmp_str("stream.txt", "w0 w1 x\n\nw2 <unk>\nw1");
    assert_int_equal(seqlm_stream_read(path, v, SEQLM_UNIT_WORD, &s, &oov, &err), SEQLM_OK);
    int32_t want[] = {3, 4, 0, 2, 2, 5, 0, 2, 4, 2};
    assert_int_equal(s.n, 10);
    assert_memory_equal(s.ids, want, sizeof want);
    assert_int_equal(oov, 2);
    seqlm_stream_free(&s);
    seqlm_stream_free(&s); /* a no-op the second time */
    path = write_tmp_str("stream_bad.txt", "w0 w1\nw2 </s> w0\n");
    assert_int_not_equal(seqlm_stream_read(path, v, SEQLM_UNIT_WORD, &s, &oov, &err), SEQLM_OK);
    assert_non_null(strstr(err.msg, "line 2"));
    assert_null(s.ids);
    path = write_tmp("stream_utf8.txt", "w0\n\xff\xfe\n", 6);
    assert_int_equal(seqlm_stream_read(path, v, SEQLM_UNIT_WORD, &s, &oov, &err), SEQLM_ERR_FORMAT);
    printf("expected error: %s\n", err.msg);
    /* the byte unit does not validate */
    assert_int_equal(seqlm_stream_read(path, v, SEQLM_UNIT_BYTE, &s, &oov, &err), SEQLM_OK);
    assert_int_equal(s.n, 6); /* w 0 </s> <0xFF> <0xFE> </s> */
    seqlm_stream_free(&s);
    seqlm_vocab_free(v);
}

/* ---- evaluation against PyTorch -------------------------------------------------------- */

typedef struct {
    double sum;
    uint64_t n, unk_lines;
    char first[32], last[32];
} tok_ctx;

static int on_tok(void *ctx, const char *token, double logprob) {
    tok_ctx *t = ctx;
    if (t->n == 0) snprintf(t->first, sizeof t->first, "%s", token);
    snprintf(t->last, sizeof t->last, "%s", token);
    t->sum += logprob;
    t->n++;
    assert_true(logprob <= 0.0);
    return 0;
}

static void golden_eval(const char *file) {
    seqlm_error err;
    seqlm_metadata meta = {0};
    seqlm_lm *m = seqlm_lm_load(golden_path(file), &meta, &err);
    if (!m) fail_msg("%s", err.msg);
    uint64_t tokens = strtoull(seqlm_metadata_get(&meta, "golden.tokens"), NULL, 10);
    const char *text = golden_path("lmeval_text.txt");
    for (int B = 1; B <= 3; B += 2) {
        char key[32];
        snprintf(key, sizeof key, "golden.nll.b%d", B);
        double want = strtod(seqlm_metadata_get(&meta, key), NULL);
        seqlm_lm_eval_result r;
        tok_ctx t = {0};
        if (seqlm_lm_eval(m, text, B, 4, on_tok, &t, &r, &err) != SEQLM_OK) fail_msg("%s", err.msg);
        printf("%s batch %d: nll %.6f (torch %.6f), tokens %llu, perplexity %.4f, oov %llu\n", file,
               B, r.nll, want, (unsigned long long)r.tokens, r.perplexity,
               (unsigned long long)r.oov);
        assert_int_equal(r.tokens, tokens);
        assert_int_equal(r.oov, 6);
        assert_true(rel(r.nll, want) < 1e-5);
        assert_true(rel(r.perplexity, exp(r.nll / (double)r.tokens)) < 1e-12);
        assert_true(rel(r.bpc, r.nll / (double)r.tokens / log(2.0)) < 1e-12);
        assert_int_equal(t.n, r.tokens);
        assert_true(rel(-t.sum, r.nll) < 1e-9);
        assert_string_equal(t.first, "the");
        assert_string_equal(t.last, "</s>");
        /* other window lengths give the same figures (the state carries) */
        seqlm_lm_eval_result r2;
        assert_int_equal(seqlm_lm_eval(m, text, B, 1, NULL, NULL, &r2, &err), SEQLM_OK);
        assert_true(rel(r2.nll, r.nll) < 1e-6);
    }
    /* the same bits with 1 and 2 threads; bf16 (where the CPU has it) close to fp32 */
    seqlm_lm_eval_result r1, r2, r16;
    seqlm_set_threads(1);
    assert_int_equal(seqlm_lm_eval(m, text, 3, 4, NULL, NULL, &r1, &err), SEQLM_OK);
    seqlm_set_threads(2);
    assert_int_equal(seqlm_lm_eval(m, text, 3, 4, NULL, NULL, &r2, &err), SEQLM_OK);
    assert_true(r1.nll == r2.nll);
    if (seqlm_precision_supported(SEQLM_PRECISION_BF16)) {
        assert_int_equal(seqlm_lm_set_eval_precision(m, SEQLM_PRECISION_BF16, &err), SEQLM_OK);
        assert_int_equal(seqlm_lm_eval(m, text, 3, 4, NULL, NULL, &r16, &err), SEQLM_OK);
        printf("%s bf16: nll %.6f (fp32 %.6f)\n", file, r16.nll, r1.nll);
        assert_true(r16.nll != r1.nll && rel(r16.nll, r1.nll) < 1e-2);
        assert_int_equal(seqlm_lm_set_eval_precision(m, SEQLM_PRECISION_FP32, &err), SEQLM_OK);
    } else {
        printf("SKIP: bf16 evaluation (this CPU has no AVX512_BF16)\n");
        assert_int_equal(seqlm_lm_set_eval_precision(m, SEQLM_PRECISION_BF16, &err), SEQLM_ERR_ARG);
    }
    /* any batch predicts every target once */
    for (int B = 2; B <= 40; B += 7) {
        seqlm_lm_eval_result r;
        assert_int_equal(seqlm_lm_eval(m, text, B, 3, NULL, NULL, &r, &err), SEQLM_OK);
        assert_int_equal(r.tokens, tokens);
    }
    seqlm_metadata_free(&meta);
    seqlm_lm_free(m);
}

static void test_eval_golden(void **state) {
    (void)state;
    golden_eval("lmeval_lstm.safetensors");
    golden_eval("lmeval_gru_tied.safetensors");
}

/* A NaN weight (a diverged or damaged model) is an error that says so, not a perplexity. */
static void test_eval_nan_model(void **state) {
    (void)state;
    seqlm_error err;
    seqlm_lm *m = seqlm_lm_load(golden_path("lmeval_lstm.safetensors"), NULL, &err);
    if (!m) fail_msg("%s", err.msg);
    seqlm_params *p = seqlm_lm_params(m);
    int t = seqlm_params_find(p, "decoder.weight");
    assert_true(t >= 0);
    seqlm_params_value(p, t)[0] = NAN; /* word 0's row: <unk>, a target of no line */
    seqlm_lm_eval_result r;
    for (int prec = 0; prec < 2; prec++) {
        if (seqlm_lm_set_eval_precision(m, (seqlm_precision)prec, &err) != SEQLM_OK) continue;
        assert_int_equal(
            seqlm_lm_eval(m, golden_path("lmeval_text.txt"), 3, 4, NULL, NULL, &r, &err),
            SEQLM_ERR_DATA);
        assert_non_null(strstr(err.msg, "NaN log-probabilities"));
    }
    seqlm_lm_free(m);
}

static void test_eval_window_and_errors(void **state) {
    (void)state;
    seqlm_lm_config c = tiny(SEQLM_ARCH_WINDOW);
    seqlm_lm *m = make_lm(&c, 3, 2);
    seqlm_error err;
    seqlm_lm_eval_result r;
    tok_ctx t = {0};
    const char *path = write_tmp_str("ev.txt", "w0 w1 w2 q\nw2 w2\n");
    assert_int_equal(seqlm_lm_eval(m, path, 1, 35, on_tok, &t, &r, &err), SEQLM_OK);
    assert_int_equal(r.tokens, 8);
    assert_int_equal(r.oov, 1);
    assert_string_equal(t.first, "w0");
    assert_true(rel(-t.sum, r.nll) < 1e-9);
    assert_int_equal(seqlm_lm_set_eval_precision(m, SEQLM_PRECISION_BF16, &err), SEQLM_ERR_ARG);
    assert_non_null(strstr(err.msg, "window"));
    assert_int_equal(seqlm_lm_eval(m, write_tmp_str("empty.txt", ""), 1, 35, NULL, NULL, &r, &err),
                     SEQLM_ERR_DATA);
    assert_non_null(strstr(err.msg, "empty"));
    assert_int_not_equal(seqlm_lm_eval(m, tmp_path("missing.txt"), 1, 35, NULL, NULL, &r, &err),
                         SEQLM_OK);
    assert_non_null(strstr(err.msg, "missing.txt"));
    seqlm_lm_free(m);
}

/* ---- memory estimate -------------------------------------------------------------------- */

static void test_train_bytes(void **state) {
    (void)state;
    seqlm_lm_config c = seqlm_lm_default_config();
    c.hidden = c.embedding = 64;
    c.dropout = 0.5f;
    size_t V = 2003;
    int T = 35, B = 20;
    seqlm_lm *m = make_lm(&c, (int)V - 3, 1);
    seqlm_params *p = seqlm_lm_params(m);
    size_t N = (size_t)T * B;
    size_t actual = p->total * sizeof(float) * 2 + seqlm_stack_cache_bytes(&m->rnn, T, B) +
                    N * V * sizeof(float) + N * (size_t)(c.embedding + c.hidden) * 9;
    size_t est = seqlm_lm_train_bytes(&c, V, B, T, SEQLM_OPT_SGD);
    size_t est_adam = seqlm_lm_train_bytes(&c, V, B, T, SEQLM_OPT_ADAM);
    printf("train bytes: estimate %zu (adam %zu), actual %zu\n", est, est_adam, actual);
    assert_true(est >= actual / 2 && est <= actual * 2);
    assert_true(est_adam >= est + 2 * seqlm_params_total(p) * sizeof(float));
    c.arch = SEQLM_ARCH_WINDOW;
    assert_true(seqlm_lm_train_bytes(&c, V, B, T, SEQLM_OPT_SGD) > V * 64 * 4 * 2);
    c.layers = 0;
    c.arch = SEQLM_ARCH_LSTM;
    assert_int_equal(seqlm_lm_train_bytes(&c, V, B, T, SEQLM_OPT_SGD), 0);
    seqlm_lm_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arch_names),
        cmocka_unit_test(test_create_rejects),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_window_manual),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_carry),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_eval_golden),
        cmocka_unit_test(test_eval_nan_model),
        cmocka_unit_test(test_eval_window_and_errors),
        cmocka_unit_test(test_train_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
