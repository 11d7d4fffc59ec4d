/* test_elmo.c - ELMo (seqlm/elmo.h): the reversed stream the backward LM trains on; the scalar
 * mix's gradients by finite differences and against PyTorch; a whole ELMo file written by
 * PyTorch (tests/golden/make_golden_elmo.py) loads and gives torch's layers; the batched forward
 * equals the two language models stepped token by token through seqlm_lm_logprobs (their
 * carried states are the layers); padding and batch composition never change a sentence's
 * layers; foreign files, fingerprints, embedding files and their errors; a tiny training run
 * end to end; a reversed LM training run resumed from its checkpoint stays reversed. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "seqlm/elmo.h"
#include "seqlm/lm.h"
#include "seqlm/modelfile.h"

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs((double)a[i] - (double)b[i]));
    return w;
}

static seqlm_params *golden_open(const char *name) {
    seqlm_error err;
    seqlm_params *g = seqlm_safetensors_read(golden_path(name), NULL, &err);
    if (!g) fail_msg("%s: %s (run tests/golden/make_golden_elmo.py)", name, err.msg);
    return g;
}

static const float *golden(const seqlm_params *g, const char *name, size_t size) {
    int i = seqlm_params_find(g, name);
    if (i < 0) fail_msg("golden tensor %s missing", name);
    assert_int_equal(g->info[i].size, size);
    return seqlm_params_value(g, i);
}

/* ---- the reversed stream --------------------------------------------------------------------- */

static void test_stream_reversed(void **state) {
    (void)state;
    const char *path = write_tmp_str("rev.txt", "a b c\nd e\n\nf\n");
    seqlm_error err;
    seqlm_vocab *v = seqlm_vocab_from_corpus(path, SEQLM_UNIT_WORD, &err);
    assert_non_null(v);
    int32_t a = (int32_t)seqlm_vocab_lookup(v, "a"), b = (int32_t)seqlm_vocab_lookup(v, "b"),
            c = (int32_t)seqlm_vocab_lookup(v, "c"), d = (int32_t)seqlm_vocab_lookup(v, "d"),
            e = (int32_t)seqlm_vocab_lookup(v, "e"), f = (int32_t)seqlm_vocab_lookup(v, "f"),
            S = (int32_t)SEQLM_EOS;
    const int32_t fwd[] = {a, b, c, S, d, e, S, S, f, S};
    const int32_t bwd[] = {c, b, a, S, e, d, S, S, f, S};
    seqlm_stream s;
    uint64_t oov;
    assert_int_equal(seqlm_stream_read_ex(path, v, SEQLM_UNIT_WORD, 0, &s, &oov, &err), SEQLM_OK);
    assert_int_equal(s.n, 10);
    assert_memory_equal(s.ids, fwd, sizeof fwd);
    seqlm_stream_free(&s);
    assert_int_equal(seqlm_stream_read(path, v, SEQLM_UNIT_WORD, &s, &oov, &err), SEQLM_OK);
    assert_memory_equal(s.ids, fwd, sizeof fwd);
    seqlm_stream_free(&s);
    assert_int_equal(seqlm_stream_read_ex(path, v, SEQLM_UNIT_WORD, 1, &s, &oov, &err), SEQLM_OK);
    assert_int_equal(s.n, 10);
    assert_memory_equal(s.ids, bwd, sizeof bwd);
    seqlm_stream_free(&s);
    /* characters: each line's characters reversed, the space too */
    const char *p2 = write_tmp_str("rev2.txt", "ab c\n");
    seqlm_vocab *vc = seqlm_vocab_from_corpus(p2, SEQLM_UNIT_CHAR, &err);
    assert_non_null(vc);
    assert_int_equal(seqlm_stream_read_ex(p2, vc, SEQLM_UNIT_CHAR, 1, &s, &oov, &err), SEQLM_OK);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.ids[0], (int32_t)seqlm_vocab_lookup(vc, "c"));
    assert_int_equal(s.ids[1], (int32_t)seqlm_vocab_lookup(vc, "<sp>"));
    assert_int_equal(s.ids[3], (int32_t)seqlm_vocab_lookup(vc, "a"));
    assert_int_equal(s.ids[4], S);
    seqlm_stream_free(&s);
    seqlm_vocab_free(vc);
    seqlm_vocab_free(v);
}

/* ---- the scalar mix -------------------------------------------------------------------------- */

typedef struct {
    seqlm_scalar_mix mix;
    seqlm_params *p;
    float *layers, *out, *dout, *dlayers;
    size_t N;
    int D;
} mix_case;

static double mix_loss(void *ctx) {
    mix_case *m = ctx;
    seqlm_scalar_mix_forward(&m->mix, m->p, m->layers, m->N, m->D, m->out);
    return gradcheck_project(m->out, m->N * (size_t)m->D, m->dout, 11);
}

static void test_mix_gradcheck(void **state) {
    (void)state;
    const int K = 4, D = 5;
    const size_t N = 6, M = N * D;
    mix_case m = {.N = N, .D = D};
    seqlm_error err;
    m.p = seqlm_params_create();
    assert_int_equal(seqlm_scalar_mix_init(&m.mix, m.p, "elmo_mix", K), 0);
    assert_int_equal(seqlm_params_alloc(m.p, &err), SEQLM_OK);
    assert_true(seqlm_params_find(m.p, "elmo_mix.scalar_parameters") == m.mix.s);
    assert_true(seqlm_params_find(m.p, "elmo_mix.gamma") == m.mix.gamma);
    assert_int_equal(m.p->info[m.mix.s].size, K);
    seqlm_scalar_mix_reset(&m.mix, m.p);
    float *s = seqlm_params_value(m.p, m.mix.s), *g = seqlm_params_value(m.p, m.mix.gamma);
    for (int k = 0; k < K; k++) assert_true(s[k] == 0.0f);
    assert_true(g[0] == 1.0f);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 3);
    m.layers = malloc((size_t)K * M * sizeof(float));
    m.dlayers = calloc((size_t)K * M, sizeof(float));
    m.out = malloc(M * sizeof(float));
    m.dout = malloc(M * sizeof(float));
    seqlm_init_normal(m.layers, (size_t)K * M, 0, 1, &rng);
    seqlm_init_normal(s, (size_t)K, 0, 1, &rng);
    g[0] = 0.7f;

    /* reset weights: equal, so the mix is gamma times the mean */
    mix_loss(&m);
    seqlm_params_zero_grad(m.p);
    mix_loss(&m);
    seqlm_scalar_mix_backward(&m.mix, m.p, m.layers, N, D, m.dout, m.dlayers);
    double worst = 0;
    worst = fmax(worst, gradcheck("mix ds", mix_loss, &m, s, seqlm_params_grad(m.p, m.mix.s),
                                  (size_t)K, 1e-2f, 0));
    worst = fmax(worst, gradcheck("mix dgamma", mix_loss, &m, g,
                                  seqlm_params_grad(m.p, m.mix.gamma), 1, 1e-2f, 0));
    worst = fmax(worst, gradcheck("mix dlayers", mix_loss, &m, m.layers, m.dlayers, (size_t)K * M,
                                  1e-2f, 0));
    assert_true(worst < 2e-3);

    /* backward accumulates: twice gives double */
    float ds1[4], dg1 = seqlm_params_grad(m.p, m.mix.gamma)[0];
    memcpy(ds1, seqlm_params_grad(m.p, m.mix.s), sizeof ds1);
    seqlm_scalar_mix_backward(&m.mix, m.p, m.layers, N, D, m.dout, NULL);
    for (int k = 0; k < K; k++)
        assert_float_equal(seqlm_params_grad(m.p, m.mix.s)[k], 2 * ds1[k], 1e-6);
    assert_float_equal(seqlm_params_grad(m.p, m.mix.gamma)[0], 2 * dg1, 1e-5);

    /* the fixed mix with softmax(s) is the trained mix's forward */
    float w[4], *out2 = malloc(M * sizeof(float));
    double z = 0;
    for (int k = 0; k < K; k++) z += exp(s[k]);
    for (int k = 0; k < K; k++) w[k] = (float)(exp(s[k]) / z);
    seqlm_scalar_mix_fixed(w, K, g[0], m.layers, N, D, out2);
    seqlm_scalar_mix_forward(&m.mix, m.p, m.layers, N, D, m.out);
    assert_true(max_abs_diff(out2, m.out, M) < 1e-5);

    seqlm_scalar_mix bad;
    assert_int_equal(seqlm_scalar_mix_init(&bad, m.p, "x", 0), -1);
    free(out2);
    free(m.layers);
    free(m.dlayers);
    free(m.out);
    free(m.dout);
    seqlm_params_free(m.p);
}

static void test_mix_torch(void **state) {
    (void)state;
    const int K = 3, D = 4;
    const size_t N = 6, M = N * D;
    seqlm_params *gd = golden_open("elmo_mix.safetensors");
    seqlm_params *p = seqlm_params_create();
    seqlm_scalar_mix mix;
    seqlm_error err;
    assert_int_equal(seqlm_scalar_mix_init(&mix, p, "task.elmo", K), 0);
    assert_int_equal(seqlm_params_alloc(p, &err), SEQLM_OK);
    memcpy(seqlm_params_value(p, mix.s), golden(gd, "s", K), K * sizeof(float));
    seqlm_params_value(p, mix.gamma)[0] = golden(gd, "gamma", 1)[0];
    const float *layers = golden(gd, "layers", K * M), *dout = golden(gd, "dout", M);
    float out[24], dlayers[72] = {0};
    seqlm_scalar_mix_forward(&mix, p, layers, N, D, out);
    double d_out = max_abs_diff(out, golden(gd, "out", M), M);
    seqlm_params_zero_grad(p);
    seqlm_scalar_mix_backward(&mix, p, layers, N, D, dout, dlayers);
    double d_s = max_abs_diff(seqlm_params_grad(p, mix.s), golden(gd, "grad.s", K), K);
    double d_g = max_abs_diff(seqlm_params_grad(p, mix.gamma), golden(gd, "grad.gamma", 1), 1);
    double d_l = max_abs_diff(dlayers, golden(gd, "grad.layers", K * M), K * M);
    printf("mix vs torch: out %.2e, ds %.2e, dgamma %.2e, dlayers %.2e\n", d_out, d_s, d_g, d_l);
    assert_true(d_out < 1e-5 && d_s < 1e-5 && d_g < 1e-5 && d_l < 1e-6);
    seqlm_params_free(p);
    seqlm_params_free(gd);
}

/* ---- the biLM against PyTorch ---------------------------------------------------------------- */

static void test_golden_bilm(void **state) {
    (void)state;
    seqlm_error err;
    seqlm_elmo *e = seqlm_elmo_load(golden_path("elmo_tiny.safetensors"), &err);
    if (!e) fail_msg("%s", err.msg);
    const int K = seqlm_elmo_layers(e), D = seqlm_elmo_dim(e);
    assert_int_equal(K, 3);
    assert_int_equal(D, 10);
    assert_int_equal(seqlm_elmo_token_id(e, "the"), 3);
    assert_int_equal(seqlm_elmo_token_id(e, "dog"), SEQLM_UNK);
    assert_int_equal(seqlm_elmo_token_id(e, "</s>"), SEQLM_UNK);
    assert_int_equal(seqlm_elmo_unit(e), SEQLM_UNIT_WORD);
    const char *const toks[4] = {"cat", "dog", "<s>", "mat"};
    int32_t tid[4];
    assert_int_equal(seqlm_elmo_token_ids(e, toks, 4, tid), 2);
    assert_int_equal(tid[0], 4);
    assert_int_equal(tid[1], SEQLM_UNK);
    assert_int_equal(tid[2], SEQLM_UNK);
    assert_int_equal(tid[3], 7);
    assert_true(isnan(seqlm_elmo_valid_ppl(e, 0)));
    seqlm_params *gd = golden_open("elmo_tiny_layers.safetensors");
    /* both sentences in one padded batch */
    const int lens[2] = {6, 3}, T = 6, B = 2;
    int32_t ids[12], lengths[2] = {6, 3};
    for (int b = 0; b < B; b++) {
        char name[32];
        snprintf(name, sizeof name, "ids.%d", b);
        const float *g = golden(gd, name, (size_t)lens[b]);
        for (int t = 0; t < T; t++) ids[t * B + b] = t < lens[b] ? (int32_t)g[t] : 5;
    }
    seqlm_elmo_work *w = seqlm_elmo_work_create(e, T, B, &err);
    assert_non_null(w);
    float out[3 * 6 * 2 * 10];
    seqlm_elmo_forward(e, w, ids, lengths, T, B, out);
    double worst = 0;
    for (int b = 0; b < B; b++) {
        char name[32];
        snprintf(name, sizeof name, "sentence.%d", b);
        const float *g = golden(gd, name, (size_t)K * lens[b] * D);
        for (int k = 0; k < K; k++)
            for (int t = 0; t < T; t++) {
                const float *o = out + (((size_t)k * T + t) * B + b) * D;
                if (t >= lens[b]) {
                    for (int j = 0; j < D; j++) assert_true(o[j] == 0.0f);
                    continue;
                }
                worst = fmax(worst, max_abs_diff(o, g + ((size_t)k * lens[b] + t) * D, D));
            }
    }
    printf("biLM layers vs torch: max abs difference %.2e\n", worst);
    assert_true(worst < 1e-5);
    seqlm_elmo_work_free(w);
    seqlm_params_free(gd);
    seqlm_elmo_free(e);
}

/* ---- a random ELMo model of our own ---------------------------------------------------------- */

static seqlm_lm *random_lm(int V_extra, int H, int L, uint64_t seed) {
    seqlm_vocab *v = seqlm_vocab_create();
    for (int i = 0; i < V_extra; i++) {
        char w[16];
        snprintf(w, sizeof w, "w%d", i);
        seqlm_vocab_add(v, w, (uint64_t)(100 - i));
    }
    seqlm_lm_config c = seqlm_lm_default_config();
    c.layers = L;
    c.hidden = c.embedding = H;
    seqlm_error err;
    seqlm_lm *m = seqlm_lm_create(&c, v, &err);
    assert_non_null(m);
    seqlm_rng rng;
    seqlm_rng_seed(&rng, seed);
    seqlm_lm_reset(m, &rng);
    /* larger weights than the default init, so that the states differ visibly */
    seqlm_params *p = seqlm_lm_params(m);
    for (size_t i = 0; i < p->total; i++) p->values[i] *= 3.0f;
    return m;
}

static const char *random_elmo(const char *name, int H, int L) {
    seqlm_lm *f = random_lm(9, H, L, 21), *b = random_lm(9, H, L, 22);
    const char *path = tmp_path(name);
    seqlm_error err;
    if (seqlm_elmo_save_pair(f, b, path, NULL, &err) != SEQLM_OK) fail_msg("%s", err.msg);
    seqlm_lm_free(f);
    seqlm_lm_free(b);
    return path;
}

/* The layers of one sentence from a language model stepped one token at a time (B = 1): after
 * each step the carried state (h of every layer, seqlm_lm_work_state) is the layers' output. */
static void by_hand(seqlm_lm *m, const int32_t *seq, int n, int H, int L, float *emb, float *h) {
    seqlm_error err;
    seqlm_lm_work *w = seqlm_lm_work_create(m, 1, 1, &err);
    assert_non_null(w);
    float *lp = malloc(seqlm_vocab_size(seqlm_lm_vocab(m)) * sizeof(float));
    seqlm_params *p = seqlm_lm_params(m);
    const float *E = seqlm_params_value(p, seqlm_params_find(p, "encoder.weight"));
    for (int t = 0; t < n; t++) {
        seqlm_lm_logprobs(m, w, seq + t, 1, lp);
        size_t ns;
        float *state = seqlm_lm_work_state(w, &ns);
        assert_int_equal(ns, 2 * (size_t)L * H);
        memcpy(emb + (size_t)t * H, E + (size_t)seq[t] * H, (size_t)H * sizeof(float));
        for (int l = 0; l < L; l++)
            memcpy(h + ((size_t)l * n + t) * H, state + (size_t)l * H, (size_t)H * sizeof(float));
    }
    free(lp);
    seqlm_lm_work_free(w);
}

static void test_forward_by_hand(void **state) {
    (void)state;
    const int H = 7, L = 2, K = L + 1, D = 2 * H;
    const char *path = random_elmo("hand.safetensors", H, L);
    seqlm_error err;
    seqlm_elmo *e = seqlm_elmo_load(path, &err);
    if (!e) fail_msg("%s", err.msg);
    assert_int_equal(seqlm_elmo_layers(e), K);
    assert_int_equal(seqlm_elmo_dim(e), D);
    const int32_t sent[5] = {3, 7, 0, 11, 4}; /* 0 = <unk> */
    const int n = 5;
    seqlm_elmo_work *w = seqlm_elmo_work_create(e, n, 1, &err);
    float out[3 * 5 * 14];
    int32_t len = n;
    seqlm_elmo_forward(e, w, sent, &len, n, 1, out);
    /* forward: </s> w1 .. wn; backward: </s> wn .. w1 */
    int32_t fseq[6], bseq[6];
    fseq[0] = bseq[0] = (int32_t)SEQLM_EOS;
    for (int t = 0; t < n; t++) {
        fseq[t + 1] = sent[t];
        bseq[t + 1] = sent[n - 1 - t];
    }
    float femb[6 * 7], fh[2 * 6 * 7], bemb[6 * 7], bh[2 * 6 * 7];
    by_hand(seqlm_elmo_lm(e, 0), fseq, n + 1, H, L, femb, fh);
    by_hand(seqlm_elmo_lm(e, 1), bseq, n + 1, H, L, bemb, bh);
    double worst = 0;
    for (int t = 0; t < n; t++) {
        int tf = t + 1, tb = n - t; /* token t's step in each reading */
        worst = fmax(worst, max_abs_diff(out + (size_t)t * D, femb + (size_t)tf * H, H));
        worst = fmax(worst, max_abs_diff(out + (size_t)t * D + H, bemb + (size_t)tb * H, H));
        for (int l = 0; l < L; l++) {
            const float *o = out + ((size_t)(l + 1) * n + t) * D;
            worst = fmax(worst, max_abs_diff(o, fh + ((size_t)l * (n + 1) + tf) * H, H));
            worst = fmax(worst, max_abs_diff(o + H, bh + ((size_t)l * (n + 1) + tb) * H, H));
        }
    }
    printf("biLM forward vs the two LMs by hand: max abs difference %.2e\n", worst);
    assert_true(worst < 1e-5);
    /* the states really vary along the sentence and between directions */
    assert_true(max_abs_diff(out + (size_t)1 * n * D, out + ((size_t)1 * n + 1) * D, D) > 1e-2);
    seqlm_elmo_work_free(w);
    seqlm_elmo_free(e);
}

/* Each sentence's layers in a padded batch (garbage ids in the padding, any order, any B)
 * equal those of the sentence alone. */
static void test_padding_invariance(void **state) {
    (void)state;
    const int H = 6, L = 2, K = L + 1, D = 2 * H;
    const char *path = random_elmo("pad.safetensors", H, L);
    seqlm_error err;
    seqlm_elmo *e = seqlm_elmo_load(path, &err);
    if (!e) fail_msg("%s", err.msg);
    const int B = 4, T = 7;
    const int32_t lengths[4] = {3, 7, 1, 5};
    int32_t ids[7 * 4];
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 9);
    for (int i = 0; i < T * B; i++) ids[i] = (int32_t)(3 + seqlm_rng_below(&rng, 9));
    seqlm_elmo_work *w = seqlm_elmo_work_create(e, T, B, &err);
    assert_non_null(w);
    float *out = malloc((size_t)K * T * B * D * sizeof(float));
    float *one = malloc((size_t)K * T * D * sizeof(float));
    seqlm_elmo_forward(e, w, ids, lengths, T, B, out);
    double worst = 0;
    for (int b = 0; b < B; b++) {
        int n = lengths[b];
        int32_t alone[7];
        for (int t = 0; t < n; t++) alone[t] = ids[t * B + b];
        /* alone, with B = 1 and T = n, in the same big work */
        seqlm_elmo_forward(e, w, alone, &lengths[b], n, 1, one);
        for (int k = 0; k < K; k++)
            for (int t = 0; t < T; t++) {
                const float *o = out + (((size_t)k * T + t) * B + b) * D;
                if (t >= n) {
                    for (int j = 0; j < D; j++) assert_true(o[j] == 0.0f);
                    continue;
                }
                worst = fmax(worst, max_abs_diff(o, one + ((size_t)k * n + t) * D, D));
            }
    }
    /* the padding's ids do not matter */
    float *out2 = malloc((size_t)K * T * B * D * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int t = lengths[b]; t < T; t++) ids[t * B + b] = 123456; /* never read */
    seqlm_elmo_forward(e, w, ids, lengths, T, B, out2);
    worst = fmax(worst, max_abs_diff(out, out2, (size_t)K * T * B * D));
    printf("padded batch vs sentences alone: max abs difference %.2e\n", worst);
    assert_true(worst < 1e-6);
    free(out);
    free(out2);
    free(one);
    seqlm_elmo_work_free(w);
    seqlm_elmo_free(e);
}

/* ---- files: kinds, round trip, fingerprints -------------------------------------------------- */

static void test_files(void **state) {
    (void)state;
    seqlm_error err;
    /* a language model is not an ELMo model */
    seqlm_lm *lm = random_lm(4, 4, 1, 1);
    const char *lm_path = tmp_path("lm.safetensors");
    assert_int_equal(seqlm_lm_save(lm, lm_path, NULL, &err), SEQLM_OK);
    assert_null(seqlm_elmo_load(lm_path, &err));
    assert_int_equal(err.status, SEQLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "not an ELMo model (a language model"));
    /* another seqlm kind */
    seqlm_metadata md = {0};
    seqlm_metadata_set(&md, "seqlm.kind", "classify");
    const char *cls = tmp_path("cls.safetensors");
    assert_int_equal(seqlm_safetensors_write(cls, seqlm_lm_params(lm), &md, &err), SEQLM_OK);
    seqlm_metadata_free(&md);
    assert_null(seqlm_elmo_load(cls, &err));
    assert_non_null(strstr(err.msg, "a seqlm 'classify' model"));
    /* missing, and not safetensors */
    assert_null(seqlm_elmo_load(tmp_path("nothere.safetensors"), &err));
    assert_int_equal(err.status, SEQLM_ERR_IO);
    assert_null(seqlm_elmo_load(write_tmp_str("text.txt", "hello world\n"), &err));
    assert_int_equal(err.status, SEQLM_ERR_FORMAT);
    /* two LMs that do not fit together, or of the wrong shape */
    seqlm_lm *big = random_lm(4, 6, 1, 2);
    assert_int_equal(seqlm_elmo_save_pair(lm, big, tmp_path("x.safetensors"), NULL, &err),
                     SEQLM_ERR_ARG);
    seqlm_lm_free(big);
    seqlm_lm_free(lm);

    /* a round trip keeps the values; the fingerprint is the file's */
    const char *path = random_elmo("rt.safetensors", 5, 2);
    seqlm_elmo *e = seqlm_elmo_load(path, &err);
    assert_non_null(e);
    uint64_t fp;
    assert_int_equal(seqlm_elmo_fingerprint_file(path, &fp, &err), SEQLM_OK);
    assert_true(fp == seqlm_elmo_fingerprint(e));
    assert_true(fp != 0xcbf29ce484222325ULL);
    char hex[17];
    seqlm_elmo_fingerprint_hex(fp, hex);
    assert_int_equal(strlen(hex), 16);
    assert_int_equal(seqlm_elmo_check_fingerprint(e, hex, "task.safetensors", &err), SEQLM_OK);
    assert_int_equal(seqlm_elmo_check_fingerprint(e, "0123456789abcdef", "task.safetensors", &err),
                     SEQLM_ERR_DATA);
    assert_non_null(strstr(err.msg, "task.safetensors was trained with the ELMo model of "
                                    "fingerprint 0123456789abcdef"));
    assert_non_null(strstr(err.msg, hex));
    /* FNV-1a of "a" */
    uint64_t fa;
    assert_int_equal(seqlm_elmo_fingerprint_file(write_tmp_str("a.txt", "a"), &fa, &err), SEQLM_OK);
    assert_true(fa == 0xaf63dc4c8601ec8cULL);
    const char *path2 = tmp_path("rt2.safetensors");
    assert_int_equal(
        seqlm_elmo_save_pair(seqlm_elmo_lm(e, 0), seqlm_elmo_lm(e, 1), path2, NULL, &err),
        SEQLM_OK);
    uint64_t fp2;
    assert_int_equal(seqlm_elmo_fingerprint_file(path2, &fp2, &err), SEQLM_OK);
    assert_true(fp2 == fp); /* the same bytes */
    seqlm_elmo_free(e);
}

/* ---- embedding files ------------------------------------------------------------------------- */

static void test_embed_file(void **state) {
    (void)state;
    const int H = 4, L = 1, K = L + 1, D = 2 * H;
    const char *path = random_elmo("emb.safetensors", H, L);
    seqlm_error err;
    seqlm_elmo *e = seqlm_elmo_load(path, &err);
    assert_non_null(e);
    const char *text = write_tmp_str("sents.txt", "w1 w2 w3\nw4 zz\nw0 w1 w2 w3 w4 w5 w6\n");
    seqlm_elmo_embed_config ec = seqlm_elmo_embed_default_config();
    ec.batch = 2;
    const char *out = tmp_path("layers.safetensors");
    uint64_t n = 0, unk = 0;
    assert_int_equal(seqlm_elmo_embed_file(e, text, &ec, out, NULL, &n, &unk, &err), SEQLM_OK);
    assert_int_equal(n, 3);
    assert_int_equal(unk, 1);
    seqlm_metadata md = {0};
    seqlm_params *got = seqlm_safetensors_read(out, &md, &err);
    assert_non_null(got);
    assert_string_equal(seqlm_metadata_get(&md, "seqlm.kind"), "elmo-embeddings");
    assert_string_equal(seqlm_metadata_get(&md, "seqlm.elmo.sentences"), "3");
    assert_string_equal(seqlm_metadata_get(&md, "seqlm.elmo.mix"), "layers");
    char hex[17];
    seqlm_elmo_fingerprint_hex(seqlm_elmo_fingerprint(e), hex);
    assert_string_equal(seqlm_metadata_get(&md, "seqlm.elmo.model"), hex);
    assert_int_equal(got->count, 3);
    /* sentence 1 ("w4 zz") equals the forward pass on its own */
    int i1 = seqlm_params_find(got, "sentence.1");
    assert_true(i1 >= 0);
    assert_int_equal(got->info[i1].ndim, 3);
    assert_int_equal(got->info[i1].shape[0], K);
    assert_int_equal(got->info[i1].shape[1], 2);
    assert_int_equal(got->info[i1].shape[2], D);
    int32_t ids[2] = {seqlm_elmo_token_id(e, "w4"), seqlm_elmo_token_id(e, "zz")}, len = 2;
    assert_int_equal(ids[1], SEQLM_UNK);
    seqlm_elmo_work *w = seqlm_elmo_work_create(e, 2, 1, &err);
    float layers[2 * 2 * 8];
    seqlm_elmo_forward(e, w, ids, &len, 2, 1, layers);
    assert_true(max_abs_diff(layers, seqlm_params_value(got, i1), (size_t)K * 2 * D) < 1e-6);
    /* batch 1 gives the same numbers, up to rounding */
    ec.batch = 1;
    const char *out1 = tmp_path("layers1.safetensors");
    assert_int_equal(seqlm_elmo_embed_file(e, text, &ec, out1, NULL, NULL, NULL, &err), SEQLM_OK);
    seqlm_params *got1 = seqlm_safetensors_read(out1, NULL, &err);
    assert_non_null(got1);
    assert_true(got1->total == got->total);
    assert_true(max_abs_diff(got1->values, got->values, got->total) < 1e-6);
    seqlm_params_free(got1);

    /* a fixed mix: (n, D) per sentence */
    const float wts[2] = {0.25f, 0.75f};
    ec.weights = wts;
    ec.gamma = 2.0f;
    const char *outm = tmp_path("mix.safetensors");
    seqlm_metadata mdm = {0};
    assert_int_equal(seqlm_elmo_embed_file(e, text, &ec, outm, NULL, NULL, NULL, &err), SEQLM_OK);
    seqlm_params *gm = seqlm_safetensors_read(outm, &mdm, &err);
    assert_non_null(gm);
    assert_string_equal(seqlm_metadata_get(&mdm, "seqlm.elmo.mix"), "0.25,0.75:2");
    int im = seqlm_params_find(gm, "sentence.1");
    assert_int_equal(gm->info[im].ndim, 2);
    float mixed[2 * 8];
    seqlm_scalar_mix_fixed(wts, K, 2.0f, layers, 2, D, mixed);
    assert_true(max_abs_diff(mixed, seqlm_params_value(gm, im), 2 * (size_t)D) < 1e-6);
    seqlm_params_free(gm);
    seqlm_metadata_free(&mdm);

    /* text: one line per token and layer, values that read back exactly */
    ec = seqlm_elmo_embed_default_config();
    ec.format = SEQLM_ELMO_OUT_TSV;
    FILE *f = tmpfile();
    assert_int_equal(seqlm_elmo_embed_file(e, text, &ec, NULL, f, NULL, NULL, &err), SEQLM_OK);
    rewind(f);
    char line[4096];
    int lines = 0, checked = 0;
    while (fgets(line, sizeof line, f)) {
        lines++;
        int s, t, k;
        char tok[64];
        int used = 0;
        assert_int_equal(sscanf(line, "%d\t%d\t%63s\t%d\t%n", &s, &t, tok, &k, &used), 4);
        if (s == 1 && t == 1) {
            assert_string_equal(tok, "zz");
            const char *p = line + used;
            for (int j = 0; j < D; j++) {
                char *end;
                float v = strtof(p, &end);
                assert_true(v == layers[((size_t)k * 2 + 1) * D + j]);
                p = end;
            }
            checked++;
        }
    }
    fclose(f);
    assert_int_equal(lines, (3 + 2 + 7) * K);
    assert_int_equal(checked, K);

    /* errors: an empty line, a sentence marker, a missing file; nothing is written */
    ec = seqlm_elmo_embed_default_config();
    const char *bad = tmp_path("bad.safetensors");
    assert_int_equal(seqlm_elmo_embed_file(e, write_tmp_str("e1.txt", "w1\n\nw2\n"), &ec, bad, NULL,
                                           NULL, NULL, &err),
                     SEQLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "e1.txt: line 2: empty sentence"));
    assert_int_equal(seqlm_elmo_embed_file(e, write_tmp_str("e2.txt", "w1 </s> w2\n"), &ec, bad,
                                           NULL, NULL, NULL, &err),
                     SEQLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "e2.txt: line 1: the sentence markers"));
    assert_int_equal(
        seqlm_elmo_embed_file(e, write_tmp_str("e3.txt", ""), &ec, bad, NULL, NULL, NULL, &err),
        SEQLM_ERR_DATA);
    assert_int_equal(
        seqlm_elmo_embed_file(e, tmp_path("missing.txt"), &ec, bad, NULL, NULL, NULL, &err),
        SEQLM_ERR_IO);
    FILE *probe = fopen(bad, "rb");
    assert_null(probe);
    seqlm_elmo_work_free(w);
    seqlm_params_free(got);
    seqlm_metadata_free(&md);
    seqlm_elmo_free(e);
}

/* ---- training end to end --------------------------------------------------------------------- */

static void test_train_tiny(void **state) {
    (void)state;
    char *text = malloc(40000), *p = text;
    /* DET NOUN VERB DET NOUN: two choices at each place, so about 2 is the best perplexity */
    static const char *const words[5][2] = {
        {"the", "a"}, {"cat", "dog"}, {"sees", "likes"}, {"the", "a"}, {"cat", "dog"}};
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 4);
    for (int line = 0; line < 300; line++) {
        for (int i = 0; i < 5; i++)
            p += sprintf(p, "%s%s", i ? " " : "", words[i][seqlm_rng_below(&rng, 2)]);
        *p++ = '\n';
    }
    *p = '\0';
    seqlm_elmo_train_config c = seqlm_elmo_train_default_config();
    c.lm.layers = 1;
    c.lm.hidden = c.lm.embedding = 8;
    c.train.train_path = write_tmp_str("tt.txt", text);
    c.train.valid_path = c.train.train_path;
    c.train.output_path = tmp_path("tt.safetensors");
    c.train.batch = 4;
    c.train.bptt = 8;
    c.train.epochs = 4;
    c.train.optim = seqlm_optim_defaults(SEQLM_OPT_ADAM);
    c.train.optim.lr = 0.02f;
    c.train.threads = 1;
    c.train.log_path = tmp_path("tt.jsonl");
    seqlm_error err;
    seqlm_elmo_train_result res;
    if (seqlm_elmo_train(&c, &res, &err) != SEQLM_OK) fail_msg("%s", err.msg);
    assert_int_equal(res.vocab, 3 + 6);
    printf("tiny ELMo: valid ppl forward %.3f, backward %.3f\n", res.valid_ppl[0],
           res.valid_ppl[1]);
    assert_true(res.valid_ppl[0] > 1.5 && res.valid_ppl[0] < 3); /* uniform: 9 */
    assert_true(res.valid_ppl[1] > 1.5 && res.valid_ppl[1] < 3);
    seqlm_elmo *e = seqlm_elmo_load(c.train.output_path, &err);
    if (!e) fail_msg("%s", err.msg);
    assert_float_equal(seqlm_elmo_valid_ppl(e, 1), res.valid_ppl[1], 1e-3);
    seqlm_elmo_free(e);
    /* the log holds both runs */
    FILE *f = fopen(c.train.log_path, "r");
    assert_non_null(f);
    char line[1024];
    int fwd = 0, bwd = 0;
    while (fgets(line, sizeof line, f)) {
        fwd += strncmp(line, "{\"direction\":\"forward\",\"event\"", 30) == 0;
        bwd += strncmp(line, "{\"direction\":\"backward\",\"event\"", 31) == 0;
    }
    fclose(f);
    assert_true(fwd >= 4 && bwd >= 4);
    assert_null(fopen(tmp_path("tt.safetensors.forward.tmp"), "r"));
    /* refused settings */
    c.lm.embedding = 6;
    assert_int_equal(seqlm_elmo_train(&c, NULL, &err), SEQLM_ERR_ARG);
    free(text);
}

/* A reversed run resumed from its checkpoint stays reversed: the same bytes as an uninterrupted
 * reversed run, and not those of a forward run. */
static void test_reverse_checkpoint(void **state) {
    (void)state;
    char text[4096], *p = text;
    seqlm_rng rng;
    seqlm_rng_seed(&rng, 8);
    for (int line = 0; line < 60; line++) {
        for (int i = 0; i < 4; i++) p += sprintf(p, "%sw%d", i ? " " : "", (int)(line % 5 + i));
        *p++ = '\n';
    }
    *p = '\0';
    const char *train = write_tmp_str("rc.txt", text);
    seqlm_error err;
    const char *out[3] = {tmp_path("rc_full.safetensors"), tmp_path("rc_resumed.safetensors"),
                          tmp_path("rc_fwd.safetensors")};
    for (int run = 0; run < 4; run++) {
        seqlm_vocab *all = seqlm_vocab_from_corpus(train, SEQLM_UNIT_WORD, &err);
        seqlm_lm_config c = seqlm_lm_default_config();
        c.layers = 1;
        c.hidden = c.embedding = 6;
        seqlm_lm *m = seqlm_lm_create(&c, all, &err);
        assert_non_null(m);
        seqlm_rng r;
        seqlm_rng_seed(&r, 1);
        seqlm_lm_reset(m, &r);
        seqlm_train_config t = seqlm_train_default_config();
        t.train_path = train;
        t.batch = 3;
        t.bptt = 5;
        t.threads = 1;
        t.reverse = run != 3;
        t.max_steps = run == 1 ? 4 : 8;
        t.output_path = out[run == 3 ? 2 : run == 0 ? 0 : 1];
        t.checkpoint_path = run == 1 ? tmp_path("rc.ckpt") : NULL;
        if (run == 2) {
            seqlm_lm_free(m);
            seqlm_train_config o = seqlm_train_default_config();
            o.max_steps = 8;
            o.output_path = out[1];
            if (seqlm_train_resume(tmp_path("rc.ckpt"), &o, &err) != SEQLM_OK)
                fail_msg("%s", err.msg);
            continue;
        }
        if (seqlm_train(m, &t, &err) != SEQLM_OK) fail_msg("%s", err.msg);
        seqlm_lm_free(m);
    }
    seqlm_params *a = seqlm_safetensors_read(out[0], NULL, &err);
    seqlm_params *b = seqlm_safetensors_read(out[1], NULL, &err);
    seqlm_params *f = seqlm_safetensors_read(out[2], NULL, &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(f);
    assert_true(a->total == b->total && a->total == f->total);
    assert_memory_equal(a->values, b->values, a->total * sizeof(float));
    assert_true(max_abs_diff(a->values, f->values, a->total) > 1e-4);
    seqlm_params_free(a);
    seqlm_params_free(b);
    seqlm_params_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_reversed), cmocka_unit_test(test_mix_gradcheck),
        cmocka_unit_test(test_mix_torch),       cmocka_unit_test(test_golden_bilm),
        cmocka_unit_test(test_forward_by_hand), cmocka_unit_test(test_padding_invariance),
        cmocka_unit_test(test_files),           cmocka_unit_test(test_embed_file),
        cmocka_unit_test(test_train_tiny),      cmocka_unit_test(test_reverse_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
