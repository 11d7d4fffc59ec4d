/* test_optim.c - optimisers, gradient clipping and learning-rate schedules (src/optim).
 *
 * - golden numbers from PyTorch 1.13 (tests/golden/make_golden_optim.py, which writes
 *   tests/golden/optim_torch.safetensors): for every configuration in the file, 20 steps from the
 *   same start with the same gradients (and, for some, a rate that changes between steps); the
 *   parameters after every step agree to |ours - torch| <= 1e-6 |torch| + 1e-7, and so does the
 *   final optimiser state; torch's defaults equal seqlm_optim_defaults;
 * - clip_grad_norm_ (norm and clipped values) and clip_grad_value_;
 * - schedules against StepLR, LinearLR, CosineAnnealingLR and ReduceLROnPlateau;
 * - a checkpoint (state floats + step count) restored mid-run continues bit for bit, and the
 *   result does not depend on the number of threads;
 * - bad settings are refused by seqlm_optim_create with a message.
 * The golden file is read here by a small safetensors reader of our own (JSON header via cJSON),
 * so that these tests do not depend on src/modelfile. Every comparison prints its worst error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "seqlm/optim.h"
#include "testutil.h"

/* ---- a minimal safetensors reader (F32 only) ------------------------------------------------ */

typedef struct {
    unsigned char *bytes; /* the whole file */
    size_t size;
    size_t data;   /* offset of the tensor data */
    cJSON *header; /* name -> {dtype, shape, data_offsets}, plus __metadata__ */
} golden;

static golden golden_open(const char *name) {
    golden g = {0};
    const char *path = golden_path(name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("%s: cannot open (run tests/golden/make_golden_optim.py)\n", path);
        fail();
    }
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size >= 8);
    rewind(f);
    g.size = (size_t)size;
    g.bytes = malloc(g.size);
    assert_non_null(g.bytes);
    assert_int_equal(fread(g.bytes, 1, g.size, f), g.size);
    fclose(f);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | g.bytes[i];
    assert_true(hlen <= g.size - 8);
    g.data = 8 + (size_t)hlen;
    g.header = cJSON_ParseWithLength((const char *)g.bytes + 8, (size_t)hlen);
    if (!g.header) printf("%s: the JSON header does not parse\n", path);
    assert_non_null(g.header);
    return g;
}

static void golden_close(golden *g) {
    cJSON_Delete(g->header);
    free(g->bytes);
}

/* A copy of tensor name (which must exist, as F32) and its number of floats; NULL if absent
 * and optional. The data are little-endian whatever the host. */
static float *golden_get(const golden *g, const char *name, size_t *count, int optional) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(g->header, name);
    if (!t) {
        if (optional) return NULL;
        printf("golden: no tensor %s\n", name);
        fail();
    }
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    assert_true(cJSON_IsString(dtype) && strcmp(dtype->valuestring, "F32") == 0);
    assert_true(cJSON_GetArraySize(off) == 2);
    size_t b = (size_t)cJSON_GetArrayItem(off, 0)->valuedouble;
    size_t e = (size_t)cJSON_GetArrayItem(off, 1)->valuedouble;
    assert_true(b <= e && e <= g->size - g->data && (e - b) % 4 == 0);
    size_t n = (e - b) / 4;
    float *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    const unsigned char *p = g->bytes + g->data + b;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                     (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
        memcpy(&v[i], &u, 4);
    }
    *count = n;
    return v;
}

static float *golden_need(const golden *g, const char *name, size_t n) {
    size_t count;
    float *v = golden_get(g, name, &count, 0);
    if (count != n) printf("golden: %s has %zu floats, expected %zu\n", name, count, n);
    assert_int_equal(count, n);
    return v;
}

/* A metadata string parsed as JSON (the caller deletes it). */
static cJSON *golden_meta(const golden *g, const char *key) {
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(g->header, "__metadata__");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(meta, key);
    if (!cJSON_IsString(s)) printf("golden: no metadata %s\n", key);
    assert_true(cJSON_IsString(s));
    cJSON *j = cJSON_Parse(s->valuestring);
    assert_non_null(j);
    return j;
}

/* ---- comparing ------------------------------------------------------------------------------ */

#define TOL_REL 1e-6
#define TOL_ABS 1e-7

typedef struct {
    double worst;   /* max |a - b| / (TOL_REL |b| + TOL_ABS): <= 1 passes */
    double rel;     /* max |a - b| / |b| over |b| >= 1e-3 */
    size_t n, same; /* values compared, and those equal to the bit */
} agreement;

static void agree(agreement *a, const float *ours, const float *ref, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)ours[i] - ref[i]);
        double e = d / (TOL_REL * fabs(ref[i]) + TOL_ABS);
        if (e > a->worst || e != e) a->worst = e != e ? INFINITY : e;
        if (fabs(ref[i]) >= 1e-3 && d / fabs(ref[i]) > a->rel) a->rel = d / fabs(ref[i]);
        a->same += memcmp(&ours[i], &ref[i], sizeof(float)) == 0;
    }
    a->n += n;
}

static void agree_merge(agreement *into, const agreement *a) {
    into->worst = fmax(into->worst, a->worst);
    into->rel = fmax(into->rel, a->rel);
    into->n += a->n;
    into->same += a->same;
}

/* ---- configurations from the golden file ---------------------------------------------------- */

static int json_num(const cJSON *j, const char *key, double *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(x)) return 0;
    *v = x->valuedouble;
    return 1;
}

/* seqlm_optim_defaults(kind) with the fields the JSON sets (seqlm_optim_config's names). */
static seqlm_optim_config config_from_json(const cJSON *j) {
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    seqlm_optim_kind k;
    assert_true(cJSON_IsString(kind));
    assert_int_equal(seqlm_optim_parse(kind->valuestring, &k), 0);
    seqlm_optim_config c = seqlm_optim_defaults(k);
    struct {
        const char *name;
        float *f;
        int *i;
    } fields[] = {
        {"lr", &c.lr, NULL},
        {"weight_decay", &c.weight_decay, NULL},
        {"momentum", &c.momentum, NULL},
        {"dampening", &c.dampening, NULL},
        {"nesterov", NULL, &c.nesterov},
        {"beta1", &c.beta1, NULL},
        {"beta2", &c.beta2, NULL},
        {"eps", &c.eps, NULL},
        {"alpha", &c.alpha, NULL},
        {"centered", NULL, &c.centered},
        {"lr_decay", &c.lr_decay, NULL},
        {"initial_accumulator", &c.initial_accumulator, NULL},
        {"momentum_decay", &c.momentum_decay, NULL},
        {"amsgrad", NULL, &c.amsgrad},
    };
    size_t known = 1; /* kind */
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        double v;
        if (!json_num(j, fields[f].name, &v)) continue;
        known++;
        if (fields[f].f) *fields[f].f = (float)v;
        if (fields[f].i) *fields[f].i = (int)v;
    }
    assert_int_equal(known, (size_t)cJSON_GetArraySize(j)); /* no field we do not know */
    return c;
}

/* Torch's state names in the order of our state array (see src/optim/optim.c). */
static int state_names(const seqlm_optim_config *c, const char *names[4]) {
    int k = 0;
    switch (c->kind) {
    case SEQLM_OPT_SGD:
        if (c->momentum != 0) names[k++] = "momentum_buffer";
        break;
    case SEQLM_OPT_ADAGRAD:
        names[k++] = "sum";
        break;
    case SEQLM_OPT_RMSPROP:
        names[k++] = "square_avg";
        if (c->momentum > 0) names[k++] = "momentum_buffer";
        if (c->centered) names[k++] = "grad_avg";
        break;
    case SEQLM_OPT_NADAM:
        names[k++] = "exp_avg";
        names[k++] = "exp_avg_sq";
        names[k++] = "mu_product";
        break;
    default:
        names[k++] = "exp_avg";
        names[k++] = "exp_avg_sq";
        if (c->amsgrad) names[k++] = "max_exp_avg_sq";
        break;
    }
    return k;
}

typedef struct {
    golden g;
    size_t N, T;
    float *init;  /* (N) */
    float *grads; /* (T, N) */
    cJSON *configs;
} golden_run;

static golden_run golden_run_open(void) {
    golden_run r;
    r.g = golden_open("optim_torch.safetensors");
    size_t count;
    r.init = golden_get(&r.g, "init", &r.N, 0);
    r.grads = golden_get(&r.g, "grads", &count, 0);
    assert_true(r.N > 0 && count % r.N == 0);
    r.T = count / r.N;
    r.configs = golden_meta(&r.g, "configs");
    assert_true(cJSON_GetArraySize(r.configs) > 0);
    return r;
}

static void golden_run_close(golden_run *r) {
    free(r->init);
    free(r->grads);
    cJSON_Delete(r->configs);
    golden_close(&r->g);
}

static void test_golden_optimisers(void **state) {
    (void)state;
    golden_run r = golden_run_open();
    agreement per_kind[SEQLM_OPT_NADAM + 1];
    memset(per_kind, 0, sizeof per_kind);
    char key[256];
    const cJSON *item;
    cJSON_ArrayForEach(item, r.configs) {
        const char *name = item->valuestring;
        cJSON *j = golden_meta(&r.g, name);
        seqlm_optim_config cfg = config_from_json(j);
        cJSON_Delete(j);
        seqlm_error err;
        seqlm_optim *o = seqlm_optim_create(&cfg, r.N, &err);
        if (!o) printf("%s: %s\n", name, err.msg);
        assert_non_null(o);

        snprintf(key, sizeof key, "%s/lr", name);
        float *lr = golden_need(&r.g, key, r.T);
        snprintf(key, sizeof key, "%s/params", name);
        float *ref = golden_need(&r.g, key, r.T * r.N);
        float *p = malloc(r.N * sizeof *p);
        assert_non_null(p);
        memcpy(p, r.init, r.N * sizeof *p);
        agreement a = {0}, st = {0};
        for (size_t t = 0; t < r.T; t++) {
            seqlm_optim_step(o, p, r.grads + t * r.N, lr[t]);
            agree(&a, p, ref + t * r.N, r.N);
        }
        assert_int_equal(seqlm_optim_steps(o), r.T);

        /* the final state, array by array */
        const char *names[4];
        int ns = state_names(&cfg, names);
        size_t off = 0;
        for (int s = 0; s < ns; s++) {
            size_t count;
            snprintf(key, sizeof key, "%s/state/%s", name, names[s]);
            float *ref_state = golden_get(&r.g, key, &count, 0);
            assert_true(off + count <= seqlm_optim_state_floats(o));
            agree(&st, seqlm_optim_state(o) + off, ref_state, count);
            off += count;
            free(ref_state);
        }
        assert_int_equal(off, seqlm_optim_state_floats(o));
        /* and torch keeps no state we lack */
        snprintf(key, sizeof key, "%s/state/", name);
        int torch_states = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, r.g.header) torch_states += strncmp(t->string, key, strlen(key)) == 0;
        assert_int_equal(torch_states, ns);

        printf("%-30s params %.3f of tol (max rel %.1e, %zu/%zu exact) state %.3f of tol "
               "(%zu/%zu exact)\n",
               name, a.worst, a.rel, a.same, a.n, st.worst, st.same, st.n);
        assert_true(a.worst <= 1.0);
        assert_true(st.worst <= 1.0);
        agree_merge(&per_kind[cfg.kind], &a);
        agree_merge(&per_kind[cfg.kind], &st);
        free(p);
        free(ref);
        free(lr);
        seqlm_optim_free(o);
    }
    for (int k = 0; k <= SEQLM_OPT_NADAM; k++)
        if (per_kind[k].n)
            printf("worst %-8s %.3f of tol, max rel %.1e, %zu/%zu values bit-exact\n",
                   seqlm_optim_name((seqlm_optim_kind)k), per_kind[k].worst, per_kind[k].rel,
                   per_kind[k].same, per_kind[k].n);
    golden_run_close(&r);
}

static void test_defaults_match_torch(void **state) {
    (void)state;
    golden g = golden_open("optim_torch.safetensors");
    cJSON *defaults = golden_meta(&g, "defaults");
    int kinds = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, defaults) {
        seqlm_optim_kind k;
        assert_int_equal(seqlm_optim_parse(d->string, &k), 0);
        seqlm_optim_config c = seqlm_optim_defaults(k);
        assert_int_equal(c.kind, k);
        const cJSON *f;
        cJSON_ArrayForEach(f, d) {
            double want = f->valuedouble, got = NAN;
            const char *n = f->string;
            if (strcmp(n, "lr") == 0)
                got = c.lr;
            else if (strcmp(n, "weight_decay") == 0)
                got = c.weight_decay;
            else if (strcmp(n, "momentum") == 0)
                got = c.momentum;
            else if (strcmp(n, "dampening") == 0)
                got = c.dampening;
            else if (strcmp(n, "nesterov") == 0)
                got = c.nesterov;
            else if (strcmp(n, "beta1") == 0)
                got = c.beta1;
            else if (strcmp(n, "beta2") == 0)
                got = c.beta2;
            else if (strcmp(n, "eps") == 0)
                got = c.eps;
            else if (strcmp(n, "alpha") == 0)
                got = c.alpha;
            else if (strcmp(n, "centered") == 0)
                got = c.centered;
            else if (strcmp(n, "lr_decay") == 0)
                got = c.lr_decay;
            else if (strcmp(n, "initial_accumulator") == 0)
                got = c.initial_accumulator;
            else if (strcmp(n, "momentum_decay") == 0)
                got = c.momentum_decay;
            else if (strcmp(n, "amsgrad") == 0)
                got = c.amsgrad;
            else {
                printf("torch default %s.%s has no field here\n", d->string, n);
                fail();
            }
            if ((float)want != (float)got)
                printf("%s.%s: torch %g, ours %g\n", d->string, n, want, got);
            assert_true((float)want == (float)got);
        }
        kinds++;
    }
    assert_int_equal(kinds, 6);
    assert_true(seqlm_optim_defaults(SEQLM_OPT_SGD).lr == 0.1f); /* ours: torch has none */
    cJSON_Delete(defaults);
    golden_close(&g);
}

/* ---- checkpoints and threads ---------------------------------------------------------------- */

/* Each golden configuration: 8 steps, a checkpoint, 12 more; a new optimiser given the
 * checkpoint does the same 12 steps to the same bits (parameters and state). */
static void test_checkpoint_restores_exactly(void **state) {
    (void)state;
    golden_run r = golden_run_open();
    const size_t K = 8, N = r.N;
    const cJSON *item;
    cJSON_ArrayForEach(item, r.configs) {
        cJSON *j = golden_meta(&r.g, item->valuestring);
        seqlm_optim_config cfg = config_from_json(j);
        cJSON_Delete(j);
        seqlm_optim *a = seqlm_optim_create(&cfg, N, NULL);
        assert_non_null(a);
        float *pa = malloc(N * sizeof *pa), *pb = malloc(N * sizeof *pb);
        assert_true(pa && pb);
        memcpy(pa, r.init, N * sizeof *pa);
        for (size_t t = 0; t < K; t++) seqlm_optim_step(a, pa, r.grads + t * N, cfg.lr);

        size_t nstate = seqlm_optim_state_floats(a);
        float *saved = malloc((nstate ? nstate : 1) * sizeof *saved);
        assert_non_null(saved);
        if (nstate) memcpy(saved, seqlm_optim_state(a), nstate * sizeof *saved);
        uint64_t steps = seqlm_optim_steps(a);
        memcpy(pb, pa, N * sizeof *pb);

        for (size_t t = K; t < r.T; t++) seqlm_optim_step(a, pa, r.grads + t * N, cfg.lr * 0.5f);

        seqlm_optim *b = seqlm_optim_create(seqlm_optim_config_of(a), N, NULL);
        assert_non_null(b);
        assert_int_equal(seqlm_optim_state_floats(b), nstate);
        if (nstate) memcpy(seqlm_optim_state(b), saved, nstate * sizeof *saved);
        seqlm_optim_set_steps(b, steps);
        for (size_t t = K; t < r.T; t++) seqlm_optim_step(b, pb, r.grads + t * N, cfg.lr * 0.5f);

        assert_memory_equal(pa, pb, N * sizeof *pa);
        if (nstate)
            assert_memory_equal(seqlm_optim_state(a), seqlm_optim_state(b), nstate * sizeof(float));
        assert_int_equal(seqlm_optim_steps(a), seqlm_optim_steps(b));
        free(pa);
        free(pb);
        free(saved);
        seqlm_optim_free(a);
        seqlm_optim_free(b);
    }
    golden_run_close(&r);
}

static float *random_vector(size_t n, float scale, uint64_t *seed) {
    float *v = malloc(n * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
        v[i] = scale * ((float)(*seed >> 40) / (float)(1 << 24) * 2.0f - 1.0f);
    }
    return v;
}

static int get_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static void set_threads(int n) {
#ifdef _OPENMP
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

/* A large vector (many chunks) gives the same bits with 1 and with 4 threads, and each element
 * the same bits as when it is updated alone in a small vector. */
static void test_threads_do_not_change_results(void **state) {
    (void)state;
    const size_t N = 100003;
    const int threads = get_threads();
    uint64_t seed = 42;
    float *p0 = random_vector(N, 1.0f, &seed);
    float *g[3];
    for (int s = 0; s < 3; s++) g[s] = random_vector(N, 0.1f, &seed);
    float *pa = malloc(N * sizeof *pa), *pb = malloc(N * sizeof *pb);
    assert_true(pa && pb);
    for (int k = 0; k <= SEQLM_OPT_NADAM; k++) {
        seqlm_optim_config cfg = seqlm_optim_defaults((seqlm_optim_kind)k);
        cfg.weight_decay = 0.01f;
        cfg.momentum = 0.9f;
        cfg.amsgrad = 1;
        cfg.centered = 1;
        for (int run = 0; run < 2; run++) {
            set_threads(run == 0 ? 1 : 4);
            seqlm_optim *o = seqlm_optim_create(&cfg, N, NULL);
            assert_non_null(o);
            float *p = run == 0 ? pa : pb;
            memcpy(p, p0, N * sizeof *p0);
            for (int s = 0; s < 3; s++) seqlm_optim_step(o, p, g[s], cfg.lr);
            seqlm_optim_free(o);
        }
        assert_memory_equal(pa, pb, N * sizeof *pa);
        /* a few elements alone */
        for (size_t i = 0; i < N; i += 33331) {
            seqlm_optim *o = seqlm_optim_create(&cfg, 1, NULL);
            assert_non_null(o);
            float p = p0[i];
            for (int s = 0; s < 3; s++) seqlm_optim_step(o, &p, &g[s][i], cfg.lr);
            assert_memory_equal(&p, &pa[i], sizeof p);
            seqlm_optim_free(o);
        }
    }
    /* the clipping norm too */
    double norm[2];
    float *res[2] = {pa, pb};
    for (int run = 0; run < 2; run++) {
        set_threads(run == 0 ? 1 : 4);
        memcpy(res[run], g[0], N * sizeof *pa);
        norm[run] = seqlm_clip_grad_norm(res[run], N, 1.0);
    }
    assert_true(memcmp(&norm[0], &norm[1], sizeof norm[0]) == 0);
    assert_memory_equal(pa, pb, N * sizeof *pa);
    set_threads(threads);
    for (int s = 0; s < 3; s++) free(g[s]);
    free(p0);
    free(pa);
    free(pb);
}

/* ---- clipping ---------------------------------------------------------------------------------
 */

static void test_clip_grad_norm_matches_torch(void **state) {
    (void)state;
    golden g = golden_open("optim_torch.safetensors");
    cJSON *max_norms = golden_meta(&g, "clip");
    double worst_norm = 0;
    agreement a = {0};
    char key[64];
    for (int i = 0; i < cJSON_GetArraySize(max_norms); i++) {
        double max_norm = cJSON_GetArrayItem(max_norms, i)->valuedouble;
        size_t n;
        snprintf(key, sizeof key, "clip/%d/grads", i);
        float *grads = golden_get(&g, key, &n, 0);
        snprintf(key, sizeof key, "clip/%d/clipped", i);
        float *clipped = golden_need(&g, key, n);
        snprintf(key, sizeof key, "clip/%d/norm", i);
        float *norm = golden_need(&g, key, 1);

        double exact = 0;
        for (size_t k = 0; k < n; k++) exact += (double)grads[k] * grads[k];
        exact = sqrt(exact);
        double got = seqlm_clip_grad_norm(grads, n, max_norm);
        assert_true(fabs(got - exact) <= 1e-12 * exact); /* the norm before clipping, in double */
        double d = fabs(got - norm[0]) / fmax(norm[0], 1e-30);
        if (norm[0] == 0) d = got;
        worst_norm = fmax(worst_norm, d);
        agree(&a, grads, clipped, n);
        free(grads);
        free(clipped);
        free(norm);
    }
    printf("clip_grad_norm: norm max rel %.1e, clipped values %.3f of tol (%zu/%zu exact)\n",
           worst_norm, a.worst, a.same, a.n);
    assert_true(worst_norm <= 1e-6);
    assert_true(a.worst <= 1.0);
    cJSON_Delete(max_norms);
    golden_close(&g);

    /* empty: norm 0, nothing to do */
    assert_true(seqlm_clip_grad_norm(NULL, 0, 1.0) == 0.0);
}

static void test_clip_grad_value(void **state) {
    (void)state;
    float g[] = {-3.0f, -0.5f, 0.0f, 0.25f, 2.0f, 1.0f, -1.0f, NAN};
    const float want[] = {-1.0f, -0.5f, 0.0f, 0.25f, 1.0f, 1.0f, -1.0f};
    seqlm_clip_grad_value(g, 8, 1.0f);
    assert_memory_equal(g, want, sizeof want);
    assert_true(isnan(g[7])); /* torch.clamp keeps NaN */
}

/* ---- schedules ---------------------------------------------------------------------------------
 */

static seqlm_schedule schedule_from_json(const cJSON *j) {
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    seqlm_sched_kind k;
    assert_true(cJSON_IsString(kind));
    assert_int_equal(seqlm_sched_parse(kind->valuestring, &k), 0);
    double v = 0;
    assert_true(json_num(j, "base_lr", &v));
    seqlm_schedule s;
    seqlm_schedule_init(&s, k, (float)v);
    if (json_num(j, "step_size", &v)) s.step_size = (int)v;
    if (json_num(j, "gamma", &v)) s.gamma = (float)v;
    if (json_num(j, "factor", &v)) s.factor = (float)v;
    if (json_num(j, "patience", &v)) s.patience = (int)v;
    if (json_num(j, "threshold", &v)) s.threshold = (float)v;
    if (json_num(j, "min_ratio", &v)) s.min_ratio = (float)v;
    if (json_num(j, "total", &v)) s.total = (uint64_t)v;
    return s;
}

static void test_schedules_match_torch(void **state) {
    (void)state;
    golden g = golden_open("optim_torch.safetensors");
    const char *names[] = {"step", "linear", "cosine", "plateau"};
    char key[64];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(key, sizeof key, "sched/%s", names[i]);
        cJSON *j = golden_meta(&g, key);
        seqlm_schedule s = schedule_from_json(j);
        cJSON_Delete(j);
        size_t n;
        snprintf(key, sizeof key, "sched/%s/lr", names[i]);
        float *want = golden_get(&g, key, &n, 0);
        float *got = malloc(n * sizeof *got);
        assert_non_null(got);
        int reductions = 0;
        if (s.kind == SEQLM_SCHED_PLATEAU) {
            snprintf(key, sizeof key, "sched/%s/loss", names[i]);
            float *loss = golden_need(&g, key, n);
            for (size_t t = 0; t < n; t++) {
                int reduced;
                float before = s.lr;
                got[t] = seqlm_schedule_plateau(&s, loss[t], &reduced);
                assert_int_equal(reduced, got[t] < before);
                reductions += reduced;
                assert_true(seqlm_schedule_at(&s, t) == got[t]); /* the current rate */
            }
            free(loss);
            assert_true(reductions >= 2);
        } else {
            for (size_t t = 0; t < n; t++) got[t] = seqlm_schedule_at(&s, t);
            /* plateau reports do nothing to other kinds */
            int reduced = 1;
            assert_true(seqlm_schedule_plateau(&s, 1e9, &reduced) == s.lr && !reduced);
        }
        agreement a = {0};
        agree(&a, got, want, n);
        printf("schedule %-8s %zu rates, %.3f of tol (%zu exact)\n", names[i], n, a.worst, a.same);
        assert_true(a.worst <= 1.0);
        free(got);
        free(want);
    }
    golden_close(&g);
}

static void test_schedules_by_hand(void **state) {
    (void)state;
    seqlm_schedule s;
    seqlm_schedule_init(&s, SEQLM_SCHED_CONSTANT, 0.5f);
    for (uint64_t t = 0; t < 1000; t += 97) assert_true(seqlm_schedule_at(&s, t) == 0.5f);

    /* linear and cosine stay at their floor after total; total 0 means no decay */
    seqlm_schedule_init(&s, SEQLM_SCHED_LINEAR, 1.0f);
    s.total = 4;
    s.min_ratio = 0.2f;
    const float lin[] = {1.0f, 0.8f, 0.6f, 0.4f, 0.2f, 0.2f, 0.2f};
    for (uint64_t t = 0; t < 7; t++) assert_float_equal(seqlm_schedule_at(&s, t), lin[t], 1e-7);
    s.total = 0;
    assert_true(seqlm_schedule_at(&s, 10) == 1.0f);
    seqlm_schedule_init(&s, SEQLM_SCHED_COSINE, 1.0f);
    s.total = 2;
    assert_float_equal(seqlm_schedule_at(&s, 1), 0.5f, 1e-7);
    assert_true(seqlm_schedule_at(&s, 2) == 0.0f);
    assert_true(seqlm_schedule_at(&s, 3) == 0.0f);

    /* step: every step_size epochs */
    seqlm_schedule_init(&s, SEQLM_SCHED_STEP, 1.0f);
    s.step_size = 2;
    s.gamma = 0.5f;
    assert_true(seqlm_schedule_at(&s, 1) == 1.0f);
    assert_true(seqlm_schedule_at(&s, 2) == 0.5f);
    assert_true(seqlm_schedule_at(&s, 5) == 0.25f);

    /* plateau, the classic recipe: divide by 4 as soon as the loss stops improving */
    seqlm_schedule_init(&s, SEQLM_SCHED_PLATEAU, 1.0f);
    s.factor = 4;
    s.patience = 0;
    int reduced;
    assert_true(seqlm_schedule_plateau(&s, 5.0, &reduced) == 1.0f && !reduced);
    assert_true(seqlm_schedule_plateau(&s, 4.0, &reduced) == 1.0f && !reduced);
    assert_true(seqlm_schedule_plateau(&s, 4.0, &reduced) == 0.25f && reduced);
    assert_true(seqlm_schedule_plateau(&s, NAN, &reduced) == 0.0625f && reduced);
    assert_true(seqlm_schedule_plateau(&s, 3.0, NULL) == 0.0625f);
    assert_true(s.best == 3.0 && s.bad_epochs == 0);

    /* names */
    for (int k = 0; k <= SEQLM_SCHED_COSINE; k++) {
        seqlm_sched_kind back;
        assert_int_equal(seqlm_sched_parse(seqlm_sched_name((seqlm_sched_kind)k), &back), 0);
        assert_int_equal(back, k);
    }
    seqlm_sched_kind k;
    assert_int_equal(seqlm_sched_parse("exponential", &k), -1);
    assert_string_equal(seqlm_sched_name((seqlm_sched_kind)99), "?");
}

/* ---- settings
 * ------------------------------------------------------------------------------------ */

static void expect_refused(seqlm_optim_config c, const char *what) {
    seqlm_error err;
    seqlm_error_clear(&err);
    seqlm_optim *o = seqlm_optim_create(&c, 10, &err);
    if (o) printf("accepted: %s\n", what);
    assert_null(o);
    assert_int_equal(err.status, SEQLM_ERR_ARG);
    assert_true(strlen(err.msg) > 0);
    printf("refused %-32s %s\n", what, err.msg);
}

static void test_bad_settings(void **state) {
    (void)state;
    for (int k = 0; k <= SEQLM_OPT_NADAM; k++) {
        seqlm_optim_config c = seqlm_optim_defaults((seqlm_optim_kind)k);
        seqlm_optim *o = seqlm_optim_create(&c, 10, NULL);
        assert_non_null(o); /* the defaults are fine */
        seqlm_optim_free(o);
        c.lr = -0.1f;
        expect_refused(c, "negative lr");
        c.lr = NAN;
        expect_refused(c, "NaN lr");
        c = seqlm_optim_defaults((seqlm_optim_kind)k);
        c.weight_decay = -1e-4f;
        expect_refused(c, "negative weight decay");
    }
    for (int k = SEQLM_OPT_ADAM; k <= SEQLM_OPT_NADAM; k++) {
        seqlm_optim_config c = seqlm_optim_defaults((seqlm_optim_kind)k);
        c.beta1 = 1.0f;
        expect_refused(c, "beta1 = 1");
        c = seqlm_optim_defaults((seqlm_optim_kind)k);
        c.beta2 = 1.5f;
        expect_refused(c, "beta2 > 1");
        c = seqlm_optim_defaults((seqlm_optim_kind)k);
        c.beta1 = -0.1f;
        expect_refused(c, "beta1 < 0");
        c = seqlm_optim_defaults((seqlm_optim_kind)k);
        c.eps = -1e-8f;
        expect_refused(c, "eps < 0");
    }
    seqlm_optim_config c = seqlm_optim_defaults(SEQLM_OPT_SGD);
    c.nesterov = 1;
    expect_refused(c, "nesterov without momentum");
    c.momentum = 0.9f;
    c.dampening = 0.1f;
    expect_refused(c, "nesterov with dampening");
    c = seqlm_optim_defaults(SEQLM_OPT_SGD);
    c.momentum = -0.5f;
    expect_refused(c, "negative momentum");
    c = seqlm_optim_defaults(SEQLM_OPT_ADAGRAD);
    c.lr_decay = -1;
    expect_refused(c, "negative lr_decay");
    c = seqlm_optim_defaults(SEQLM_OPT_ADAGRAD);
    c.initial_accumulator = -1;
    expect_refused(c, "negative initial_accumulator");
    c = seqlm_optim_defaults(SEQLM_OPT_ADAGRAD);
    c.eps = -1;
    expect_refused(c, "adagrad eps < 0");
    c = seqlm_optim_defaults(SEQLM_OPT_RMSPROP);
    c.alpha = -0.5f;
    expect_refused(c, "negative alpha");
    c = seqlm_optim_defaults(SEQLM_OPT_RMSPROP);
    c.eps = -1;
    expect_refused(c, "rmsprop eps < 0");
    c = seqlm_optim_defaults(SEQLM_OPT_NADAM);
    c.momentum_decay = -0.004f;
    expect_refused(c, "negative momentum_decay");
    c = seqlm_optim_defaults(SEQLM_OPT_ADAM);
    c.kind = (seqlm_optim_kind)42;
    expect_refused(c, "unknown kind");

    /* settings torch accepts that matter to no one else are ignored */
    c = seqlm_optim_defaults(SEQLM_OPT_ADAM);
    c.momentum = -1;
    seqlm_optim *o = seqlm_optim_create(&c, 0, NULL); /* and zero parameters are fine */
    assert_non_null(o);
    seqlm_optim_step(o, NULL, NULL, c.lr);
    assert_int_equal(seqlm_optim_steps(o), 1);
    seqlm_optim_free(o);
    seqlm_optim_free(NULL);
}

static void test_names(void **state) {
    (void)state;
    const char *want[] = {"sgd", "adagrad", "rmsprop", "adam", "adamw", "nadam"};
    for (int k = 0; k <= SEQLM_OPT_NADAM; k++) {
        assert_string_equal(seqlm_optim_name((seqlm_optim_kind)k), want[k]);
        seqlm_optim_kind back;
        assert_int_equal(seqlm_optim_parse(want[k], &back), 0);
        assert_int_equal(back, k);
    }
    seqlm_optim_kind k;
    assert_int_equal(seqlm_optim_parse("lbfgs", &k), -1);
    assert_string_equal(seqlm_optim_name((seqlm_optim_kind)-1), "?");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_optimisers),
        cmocka_unit_test(test_defaults_match_torch),
        cmocka_unit_test(test_checkpoint_restores_exactly),
        cmocka_unit_test(test_threads_do_not_change_results),
        cmocka_unit_test(test_clip_grad_norm_matches_torch),
        cmocka_unit_test(test_clip_grad_value),
        cmocka_unit_test(test_schedules_match_torch),
        cmocka_unit_test(test_schedules_by_hand),
        cmocka_unit_test(test_bad_settings),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
