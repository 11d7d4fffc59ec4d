/* test_modelfile.c - safetensors model files: round trips, loading into a model, files written
 * on the PyTorch side, and the error every kind of broken or foreign file must give.
 *
 * Round trips compare bit for bit (NaN payloads, -0 and subnormals included). Broken files are
 * built by hand (8-byte length, JSON text, data) and each error message is checked for the
 * file's name and a fragment saying what is wrong. The golden files come from
 * tests/golden/make_golden_modelfile.py (PyTorch 1.13); the reverse check - a file written here
 * loaded into torch.nn modules with load_state_dict - runs only where /usr/bin/python3 has
 * torch, and prints SKIP otherwise. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "seqlm/modelfile.h"

#define GOLDEN(name) golden_path(name)
#define PYTHON       "/usr/bin/python3"

/* --- helpers ------------------------------------------------------------------------------ */

static uint32_t float_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float bits_float(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* A model: embedding (10, 4), one LSTM layer's input weights and bias, a 4-d tensor, a
 * one-element tensor and - with tie - decoder.weight sharing the embedding's storage. Values
 * follow a pattern with special floats mixed in. */
static seqlm_params *make_model(int tie, int with_bias, int64_t bias_len) {
    seqlm_params *p = seqlm_params_create();
    int enc = seqlm_params_add(p, "encoder.weight", 2, (int64_t[]){10, 4});
    assert_true(enc >= 0);
    assert_true(seqlm_params_add(p, "rnn.weight_ih_l0", 2, (int64_t[]){16, 4}) >= 0);
    if (with_bias) assert_true(seqlm_params_add(p, "rnn.bias_ih_l0", 1, &bias_len) >= 0);
    assert_true(seqlm_params_add(p, "conv.weight", 4, (int64_t[]){2, 1, 3, 3}) >= 0);
    if (tie) assert_true(seqlm_params_alias(p, "decoder.weight", enc) >= 0);
    assert_true(seqlm_params_add(p, "decoder.bias", 1, (int64_t[]){10}) >= 0);
    assert_true(seqlm_params_add(p, "scale", 1, (int64_t[]){1}) >= 0);
    seqlm_error err = {0};
    assert_int_equal(seqlm_params_alloc(p, &err), SEQLM_OK);
    return p;
}

static void fill_model(seqlm_params *p, float seed) {
    for (int i = 0; i < p->count; i++) {
        if (p->info[i].alias_of >= 0) continue;
        float *v = seqlm_params_value(p, i);
        for (size_t j = 0; j < p->info[i].size; j++)
            v[j] = sinf(seed + 0.37f * (float)j + (float)i) * (float)(i + 1);
    }
    float *v = seqlm_params_value(p, seqlm_params_find(p, "encoder.weight"));
    v[0] = -0.0f;
    v[1] = bits_float(0x7fc01234u); /* a NaN with a payload */
    v[2] = INFINITY;
    v[3] = 1e-42f; /* subnormal */
    v[4] = 3.4028235e38f;
}

/* Same names in the same order, same shapes, same bits. */
static void assert_same_params(const seqlm_params *a, const seqlm_params *b) {
    assert_int_equal(a->count, b->count);
    for (int i = 0; i < a->count; i++) {
        const seqlm_param_info *x = &a->info[i], *y = &b->info[i];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->ndim, y->ndim);
        assert_memory_equal(x->shape, y->shape, (size_t)x->ndim * sizeof x->shape[0]);
        assert_int_equal(x->size, y->size);
        assert_memory_equal(seqlm_params_value(a, i), seqlm_params_value(b, i),
                            x->size * sizeof(float));
    }
}

static seqlm_params *read_ok(const char *path, seqlm_metadata *meta) {
    seqlm_error err = {0};
    seqlm_params *p = seqlm_safetensors_read(path, meta, &err);
    if (!p) fail_msg("read %s: %s", path, err.msg);
    return p;
}

static void write_ok(const char *path, const seqlm_params *p, const seqlm_metadata *meta) {
    seqlm_error err = {0};
    if (seqlm_safetensors_write(path, p, meta, &err) != SEQLM_OK)
        fail_msg("write %s: %s", path, err.msg);
}

static void assert_message(const seqlm_error *err, const char *path, const char *fragment) {
    if (!strstr(err->msg, fragment) || strncmp(err->msg, path, strlen(path)) != 0)
        fail_msg("expected an error starting with \"%s\" and containing \"%s\", got \"%s\"", path,
                 fragment, err->msg);
}

/* Reading path must fail with a message naming the file and containing fragment. */
static void expect_read_error(const char *path, const char *fragment) {
    seqlm_error err = {0};
    seqlm_metadata meta = {0};
    seqlm_params *p = seqlm_safetensors_read(path, &meta, &err);
    if (p) fail_msg("%s: read succeeded, expected an error containing \"%s\"", path, fragment);
    assert_int_not_equal(err.status, SEQLM_OK);
    assert_message(&err, path, fragment);
    assert_int_equal(meta.count, 0); /* untouched on failure */
}

/* A safetensors file by hand: the length of header, header, then len bytes of data. */
static const char *make_file(const char *name, const char *header, const void *data, size_t len) {
    size_t n = strlen(header);
    unsigned char *buf = malloc(8 + n + len + 1);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, header, n);
    if (len) memcpy(buf + 8 + n, data, len);
    const char *path = write_tmp(name, buf, 8 + n + len);
    free(buf);
    return path;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* --- metadata ----------------------------------------------------------------------------- */

static void test_metadata(void **state) {
    (void)state;
    seqlm_metadata m = {0};
    assert_null(seqlm_metadata_get(&m, "a"));
    seqlm_metadata_set(&m, "a", "1");
    seqlm_metadata_set(&m, "b", "2");
    assert_string_equal(seqlm_metadata_get(&m, "a"), "1");
    seqlm_metadata_set(&m, "a", "one"); /* replaces, keeps the order */
    assert_int_equal(m.count, 2);
    assert_string_equal(m.keys[0], "a");
    assert_string_equal(seqlm_metadata_get(&m, "a"), "one");
    seqlm_metadata_set(&m, "a", seqlm_metadata_get(&m, "a")); /* its own value */
    assert_string_equal(seqlm_metadata_get(&m, "a"), "one");
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        seqlm_metadata_set(&m, k, k);
    }
    assert_int_equal(m.count, 102);
    assert_string_equal(seqlm_metadata_get(&m, "k77"), "k77");
    assert_null(seqlm_metadata_get(&m, "k100"));
    seqlm_metadata_free(&m);
    assert_int_equal(m.count, 0);
    assert_null(m.keys);
    seqlm_metadata_free(&m); /* twice is fine */
    seqlm_metadata_free(NULL);
}

/* --- round trips -------------------------------------------------------------------------- */

static char *long_vocab(size_t *n_words) {
    size_t cap = 1 << 20, len = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    const char *odd[] = {"<unk>",     "<s>",        "</s>", "\"quoted\"",  "back\\slash",
                         "tab\there", "안녕하세요", "🙂", "ctrl\x01\x1f"};
    size_t n = 0;
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++, n++)
        len += (size_t)snprintf(s + len, cap - len, "%s\n", odd[i]);
    for (; n < 30000; n++) len += (size_t)snprintf(s + len, cap - len, "word%zu\n", n);
    *n_words = n;
    return s;
}

static void test_round_trip(void **state) {
    (void)state;
    seqlm_params *p = make_model(1, 1, 16);
    fill_model(p, 0.5f);
    seqlm_metadata meta = {0};
    const char *hparams = "{\"model\": \"lstm\", \"layers\": 2, \"dropout\": 0.5, \"note\": "
                          "\"a \\\"quoted\\\" word\\n\"}";
    size_t n_words;
    char *vocab = long_vocab(&n_words);
    seqlm_metadata_set(&meta, "seqlm.hparams", hparams);
    seqlm_metadata_set(&meta, "seqlm.vocab", vocab);
    seqlm_metadata_set(&meta, "empty", "");
    seqlm_metadata_set(&meta, "ключ", "значение");
    const char *path = tmp_path("round.safetensors");
    write_ok(path, p, &meta);

    seqlm_metadata got = {0};
    seqlm_params *q = read_ok(path, &got);
    /* The alias comes back as a tensor of its own with the same values. */
    assert_int_equal(q->count, p->count);
    for (int i = 0; i < q->count; i++) assert_int_equal(q->info[i].alias_of, -1);
    assert_same_params(p, q);
    assert_int_equal(got.count, meta.count);
    for (size_t i = 0; i < meta.count; i++) {
        assert_string_equal(got.keys[i], meta.keys[i]);
        assert_string_equal(got.values[i], meta.values[i]);
    }
    assert_string_equal(seqlm_metadata_get(&got, "seqlm.vocab"), vocab);
    seqlm_params_free(q);

    /* Reading without metadata, and into metadata that already has entries (merged). */
    q = read_ok(path, NULL);
    seqlm_params_free(q);
    seqlm_metadata mixed = {0};
    seqlm_metadata_set(&mixed, "empty", "was not empty");
    seqlm_metadata_set(&mixed, "mine", "kept");
    q = read_ok(path, &mixed);
    assert_string_equal(seqlm_metadata_get(&mixed, "empty"), "");
    assert_string_equal(seqlm_metadata_get(&mixed, "mine"), "kept");
    assert_string_equal(seqlm_metadata_get(&mixed, "seqlm.hparams"), hparams);
    seqlm_params_free(q);
    seqlm_metadata_free(&mixed);

    /* The layout: the data starts 8-byte aligned after a space-padded header, tensors are F32
     * in registry order, and the buffer holds exactly the tensors. */
    size_t len;
    unsigned char *raw = slurp(path, &len);
    uint64_t n = le64(raw);
    assert_int_equal((8 + n) % 8, 0);
    size_t floats = 0;
    for (int i = 0; i < p->count; i++) floats += p->info[i].size;
    assert_int_equal(len, 8 + n + 4 * floats);
    cJSON *h = cJSON_ParseWithLength((const char *)raw + 8, n);
    assert_non_null(h);
    const cJSON *e = h->child;
    assert_string_equal(e->string, "__metadata__");
    uint64_t off = 0;
    for (int i = 0; i < p->count; i++) {
        e = e->next;
        assert_non_null(e);
        assert_string_equal(e->string, p->info[i].name);
        assert_string_equal(cJSON_GetObjectItem(e, "dtype")->valuestring, "F32");
        const cJSON *o = cJSON_GetObjectItem(e, "data_offsets");
        assert_int_equal((uint64_t)cJSON_GetArrayItem(o, 0)->valuedouble, off);
        off += 4 * p->info[i].size;
        assert_int_equal((uint64_t)cJSON_GetArrayItem(o, 1)->valuedouble, off);
    }
    /* Little endian whatever the host: the first float of the first tensor (-0.0). */
    const unsigned char *d = raw + 8 + n;
    assert_true(d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == 0x80);
    cJSON_Delete(h);
    free(raw);

    /* Writing again gives the same bytes. */
    const char *again = tmp_path("round2.safetensors");
    write_ok(again, p, &meta);
    size_t len1, len2;
    unsigned char *a = slurp(path, &len1), *b = slurp(again, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(a, b, len1);
    free(a);
    free(b);

    seqlm_metadata_free(&got);
    seqlm_metadata_free(&meta);
    free(vocab);
    seqlm_params_free(p);
}

static void test_round_trip_small(void **state) {
    (void)state;
    /* No tensors and no metadata: "{}" padded to 8. */
    seqlm_params *p = seqlm_params_create();
    seqlm_error err = {0};
    assert_int_equal(seqlm_params_alloc(p, &err), SEQLM_OK);
    const char *path = tmp_path("nothing.safetensors");
    write_ok(path, p, NULL);
    size_t len;
    unsigned char *raw = slurp(path, &len);
    assert_int_equal(len, 16);
    assert_memory_equal(raw + 8, "{}      ", 8);
    free(raw);
    seqlm_metadata meta = {0};
    seqlm_params *q = read_ok(path, &meta);
    assert_int_equal(q->count, 0);
    assert_int_equal(meta.count, 0);
    seqlm_params_free(q);
    seqlm_params_free(p);

    /* Writing an unallocated registry, a "__metadata__" tensor, invalid UTF-8, an unwritable
     * path. */
    p = seqlm_params_create();
    seqlm_params_add(p, "__metadata__", 1, (int64_t[]){2});
    assert_int_equal(seqlm_safetensors_write(path, p, NULL, &err), SEQLM_ERR_ARG);
    assert_message(&err, path, "not allocated");
    assert_int_equal(seqlm_params_alloc(p, &err), SEQLM_OK);
    assert_int_equal(seqlm_safetensors_write(path, p, NULL, &err), SEQLM_ERR_ARG);
    assert_message(&err, path, "cannot be called \"__metadata__\"");
    seqlm_params_free(p);
    p = seqlm_params_create();
    seqlm_params_add(p, "ok", 1, (int64_t[]){2});
    assert_int_equal(seqlm_params_alloc(p, &err), SEQLM_OK);
    seqlm_metadata_set(&meta, "bytes", "caf\xe9");
    assert_int_equal(seqlm_safetensors_write(path, p, &meta, &err), SEQLM_ERR_ARG);
    assert_message(&err, path, "not valid UTF-8");
    seqlm_metadata_free(&meta);
    assert_int_not_equal(seqlm_safetensors_write("/nonexistent-dir/m.safetensors", p, NULL, &err),
                         SEQLM_OK);
    assert_message(&err, "/nonexistent-dir/m.safetensors", "cannot create");
    /* The failed writes left the earlier file as it was. */
    q = read_ok(path, NULL);
    assert_int_equal(q->count, 0);
    seqlm_params_free(q);
    seqlm_params_free(p);
}

/* --- load_into ---------------------------------------------------------------------------- */

static void test_load_into(void **state) {
    (void)state;
    seqlm_error err = {0};
    seqlm_params *p = make_model(1, 1, 16);
    fill_model(p, 1.5f);
    seqlm_metadata meta = {0};
    seqlm_metadata_set(&meta, "seqlm.hparams", "{\"hidden\": 4}");
    const char *path = tmp_path("load.safetensors");
    write_ok(path, p, &meta);

    /* Into a fresh model of the same layout: same values, the alias shares them. */
    seqlm_params *q = make_model(1, 1, 16);
    seqlm_metadata got = {0};
    assert_int_equal(seqlm_safetensors_load_into(path, q, &got, &err), SEQLM_OK);
    assert_same_params(p, q);
    assert_string_equal(seqlm_metadata_get(&got, "seqlm.hparams"), "{\"hidden\": 4}");
    seqlm_metadata_free(&got);
    assert_ptr_equal(seqlm_params_value(q, seqlm_params_find(q, "decoder.weight")),
                     seqlm_params_value(q, seqlm_params_find(q, "encoder.weight")));
    seqlm_params_free(q);

    /* A file without the alias (written from an untied model) loads into the tied one. */
    seqlm_params *untied = make_model(0, 1, 16);
    fill_model(untied, 2.5f);
    const char *no_alias = tmp_path("noalias.safetensors");
    write_ok(no_alias, untied, NULL);
    q = make_model(1, 1, 16);
    assert_int_equal(seqlm_safetensors_load_into(no_alias, q, NULL, &err), SEQLM_OK);
    int enc = seqlm_params_find(q, "encoder.weight");
    assert_memory_equal(seqlm_params_value(q, enc), seqlm_params_value(untied, enc),
                        40 * sizeof(float));
    seqlm_params_free(q);

    /* Missing tensor: the model has a bias the file lacks. Nothing is loaded. */
    seqlm_params *nobias = make_model(1, 0, 16);
    fill_model(nobias, 0.25f);
    const char *missing = tmp_path("missing.safetensors");
    write_ok(missing, nobias, NULL);
    q = make_model(1, 1, 16);
    fill_model(q, 7.0f);
    float before = seqlm_params_value(q, 0)[5];
    assert_int_equal(seqlm_safetensors_load_into(missing, q, NULL, &err), SEQLM_ERR_DATA);
    assert_message(&err, missing, "1 tensor the model needs is missing: 'rnn.bias_ih_l0'");
    assert_true(seqlm_params_value(q, 0)[5] == before); /* untouched */
    seqlm_params_free(q);

    /* Extra tensor: the file has a bias the model lacks. */
    q = make_model(1, 0, 16);
    assert_int_equal(seqlm_safetensors_load_into(path, q, NULL, &err), SEQLM_ERR_DATA);
    assert_message(&err, path, "1 tensor in the file the model does not have: 'rnn.bias_ih_l0'");
    seqlm_params_free(q);

    /* Both at once, listed together. */
    seqlm_params *other = seqlm_params_create();
    seqlm_params_add(other, "a", 1, (int64_t[]){1});
    seqlm_params_add(other, "b", 1, (int64_t[]){1});
    assert_int_equal(seqlm_params_alloc(other, &err), SEQLM_OK);
    assert_int_equal(seqlm_safetensors_load_into(path, other, NULL, &err), SEQLM_ERR_DATA);
    assert_message(&err, path, "2 tensors the model needs are missing: 'a', 'b'; ");
    assert_message(&err, path, "7 tensors in the file the model does not have: 'encoder.weight'");
    seqlm_params_free(other);

    /* Wrong shape. */
    q = make_model(1, 1, 12);
    assert_int_equal(seqlm_safetensors_load_into(path, q, NULL, &err), SEQLM_ERR_DATA);
    assert_message(&err, path, "tensor 'rnn.bias_ih_l0' has shape [16] in the file but [12]");
    seqlm_params_free(q);

    /* Tied in the model, different in the file. */
    seqlm_params *two = seqlm_params_create();
    int a = seqlm_params_add(two, "encoder.weight", 2, (int64_t[]){10, 4});
    seqlm_params_add(two, "decoder.weight", 2, (int64_t[]){10, 4});
    assert_int_equal(seqlm_params_alloc(two, &err), SEQLM_OK);
    seqlm_params_value(two, a)[7] = 1.0f;
    const char *differ = tmp_path("differ.safetensors");
    write_ok(differ, two, NULL);
    seqlm_params_free(two);
    seqlm_params *tied = seqlm_params_create();
    a = seqlm_params_add(tied, "encoder.weight", 2, (int64_t[]){10, 4});
    seqlm_params_alias(tied, "decoder.weight", a);
    assert_int_equal(seqlm_params_alloc(tied, &err), SEQLM_OK);
    assert_int_equal(seqlm_safetensors_load_into(differ, tied, NULL, &err), SEQLM_ERR_DATA);
    assert_message(&err, differ, "hold different values");
    assert_true(seqlm_params_value(tied, a)[7] == 0.0f); /* untouched */

    /* Unallocated model; a file that is not there. */
    seqlm_params *bare = seqlm_params_create();
    assert_int_equal(seqlm_safetensors_load_into(path, bare, NULL, &err), SEQLM_ERR_ARG);
    seqlm_params_free(bare);
    assert_int_equal(seqlm_safetensors_load_into(tmp_path("absent.safetensors"), tied, NULL, &err),
                     SEQLM_ERR_IO);
    assert_message(&err, tmp_path("absent.safetensors"), "cannot open");
    seqlm_params_free(tied);

    seqlm_metadata_free(&meta);
    seqlm_params_free(p);
    seqlm_params_free(untied);
    seqlm_params_free(nobias);
}

/* --- broken and foreign files ------------------------------------------------------------- */

static void test_bad_files(void **state) {
    (void)state;
    static const float six[6] = {1, 2, 3, 4, 5, 6};
    const char *p;

    expect_read_error(write_tmp("empty.st", "", 0), "empty file");
    expect_read_error(write_tmp("four.st", "\x01\x00\x00\x00", 4), "too short for the 8-byte");
    expect_read_error(tmp_path("absent.st"), "cannot open");
    /* A text file: its first 8 bytes as a length are huge. */
    p = write_tmp_str("text.st", "hello world, this is not a model\n");
    expect_read_error(p, "not a safetensors file, or truncated (header length 8031924123371070824 "
                         "is larger than the file");
    /* A file cut inside the header. */
    p = make_file("cuthdr.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                  six, 4);
    assert_int_equal(truncate(p, 20), 0);
    expect_read_error(p, "is larger than the file: 12 bytes follow");

    expect_read_error(make_file("notjson.st", "{not json}", NULL, 0), "header is not valid JSON");
    expect_read_error(make_file("notjson2.st", "{\"a\": [1, 2}", NULL, 0), "not valid JSON");
    expect_read_error(make_file("array.st", "[1, 2]  ", NULL, 0),
                      "the header is not a JSON object: it starts with '['");
    expect_read_error(make_file("space.st", " {}", NULL, 0), "starts with byte 0x20");
    expect_read_error(make_file("garbage.st", "{} x", NULL, 0),
                      "text after the JSON object (at byte 3");
    expect_read_error(make_file("utf8.st", "{\"caf\xe9\":1}", NULL, 0),
                      "header is not valid UTF-8 (byte 5");
    expect_read_error(make_file("short.st", "{", NULL, 0), "too short for a JSON object");

    expect_read_error(
        make_file("nodtype.st", "{\"w\":{\"shape\":[2,3],\"data_offsets\":[0,24]}}", six, 24),
        "tensor 'w': no \"dtype\"");
    expect_read_error(make_file("unknown.st",
                                "{\"w\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,2]}}",
                                six, 2),
                      "tensor 'w': unknown dtype 'Q4'");
    /* A message stays on one line, whatever the name holds. */
    expect_read_error(
        make_file("ctrl.st", "{\"a\\nb\":{\"dtype\":\"Q\",\"shape\":[2],\"data_offsets\":[0,2]}}",
                  six, 2),
        "tensor 'a?b': unknown dtype 'Q'");
    expect_read_error(make_file("i8.st",
                                "{\"w\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]}}",
                                six, 2),
                      "tensor 'w': dtype 'I8' not supported");
    expect_read_error(make_file("dtypenum.st",
                                "{\"w\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", six,
                                8),
                      "\"dtype\" is a number, not a string");
    expect_read_error(
        make_file("noshape.st", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", six, 8),
        "tensor 'w': no \"shape\"");
    expect_read_error(
        make_file("negshape.st",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,8]}}", six, 8),
        "tensor 'w': shape[1] is not a non-negative integer");
    expect_read_error(
        make_file("fracshape.st",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", six, 8),
        "shape[0] is not a non-negative integer");
    expect_read_error(
        make_file("bigshape.st",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":"
                  "[0,8]}}",
                  six, 8),
        "shape [4294967296, 4294967296] is too large");
    expect_read_error(make_file("nooff.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", six, 8),
                      "tensor 'w': no \"data_offsets\"");
    expect_read_error(
        make_file("off3.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}",
                  six, 8),
        "\"data_offsets\" is not a list of two non-negative integers");
    expect_read_error(make_file("offrev.st",
                                "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}",
                                six, 8),
                      "data_offsets [8, 0] end before they begin");
    expect_read_error(make_file("entry.st", "{\"w\":[1,2]}", NULL, 0),
                      "tensor 'w': entry is a list, not an object");

    /* Shape and offsets disagree. */
    expect_read_error(
        make_file("mismatch.st",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", six, 20),
        "tensor 'w': shape [2, 3] of F32 needs 24 bytes but data_offsets [0, 20] hold 20");
    /* Offsets beyond the buffer. */
    expect_read_error(
        make_file("beyond.st",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", six, 8),
        "truncated: header says tensor 'w' ends at byte 24 but the data is 8 bytes");
    /* Overlapping tensors. */
    expect_read_error(make_file("overlap.st",
                                "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                                "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
                                six, 24),
                      "tensors 'a' (bytes 0..16) and 'b' (bytes 8..24) overlap");
    /* The same range twice is an overlap too. */
    expect_read_error(make_file("twice.st",
                                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                                six, 8),
                      "overlap");
    /* A hole, and bytes after the last tensor. */
    expect_read_error(make_file("hole.st",
                                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                                six, 12),
                      "bytes 4..8 of the data belong to no tensor (a hole before tensor 'b')");
    expect_read_error(make_file("trailing.st",
                                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                                six, 12),
                      "8 bytes of data after the last tensor");
    /* The same key twice. */
    expect_read_error(make_file("dupkey.st",
                                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                                six, 8),
                      "key 'a' appears twice in the header");
    expect_read_error(
        make_file("dupmeta.st", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", NULL, 0),
        "metadata key 'k' appears twice");
    /* Metadata: values must be strings, and it must be an object. */
    expect_read_error(
        make_file("metanum.st", "{\"__metadata__\":{\"name\":\"x\",\"epochs\":3}}", NULL, 0),
        "metadata 'epochs' is a number; metadata values must be strings");
    expect_read_error(make_file("metalist.st", "{\"__metadata__\":[\"a\"]}", NULL, 0),
                      "\"__metadata__\" is a list, not an object");

    /* Well-formed but beyond what seqlm holds. */
    expect_read_error(
        make_file("5d.st",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", six,
                  4),
        "tensor 'w' has 5 dimensions; seqlm supports at most 4");
    expect_read_error(
        make_file("emptyt.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[0,0]}}",
                  NULL, 0),
        "tensor 'w' is empty (shape [3, 0])");
    char longname[256];
    memset(longname, 'n', 120);
    longname[120] = '\0';
    char hdr[512];
    snprintf(hdr, sizeof hdr, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
             longname);
    expect_read_error(make_file("longname.st", hdr, six, 4), "is 120 bytes long; seqlm allows");

    /* Integers that are not floats, doubles beyond the float range. */
    int64_t i64[3] = {1, 16777217, 3}; /* 2^24 + 1 */
    expect_read_error(
        make_file("i64.st", "{\"w\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[0,24]}}",
                  i64, 24),
        "tensor 'w': I64 value 16777217 (element 1) is not exactly representable as a float");
    int32_t i32[2] = {-2147483647, 0};
    expect_read_error(make_file("i32.st",
                                "{\"w\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                                i32, 8),
                      "I32 value -2147483647 (element 0) is not exactly");
    double f64[2] = {1.0, 1e300};
    expect_read_error(make_file("f64.st",
                                "{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}",
                                f64, 16),
                      "(element 1) is beyond the float range");

    /* A written model, cut: the last tensor no longer fits. */
    seqlm_params *m = make_model(1, 1, 16);
    fill_model(m, 0.0f);
    const char *cut = tmp_path("cut.safetensors");
    write_ok(cut, m, NULL);
    struct stat sb;
    assert_int_equal(stat(cut, &sb), 0);
    assert_int_equal(truncate(cut, sb.st_size - 10), 0);
    expect_read_error(cut, "truncated: header says tensor 'decoder.bias' ends at byte");
    assert_int_equal(truncate(cut, sb.st_size - 100), 0);
    expect_read_error(cut, "truncated: header says tensor 'decoder.weight' ends at byte");
    seqlm_params *q = make_model(1, 1, 16);
    seqlm_error err = {0};
    assert_int_equal(seqlm_safetensors_load_into(cut, q, NULL, &err), SEQLM_ERR_FORMAT);
    assert_message(&err, cut, "truncated");
    seqlm_params_free(q);
    seqlm_params_free(m);

    /* A header over the format's 100 MB limit, in a sparse file big enough to hold it. */
    const char *big = tmp_path("big.st");
    FILE *f = fopen(big, "wb");
    assert_non_null(f);
    unsigned char len8[8];
    uint64_t huge = 100000001;
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(huge >> (8 * i));
    fwrite(len8, 1, 8, f);
    fclose(f);
    assert_int_equal(truncate(big, 8 + 100000001 + 16), 0);
    expect_read_error(big, "header length 100000001 is over the format's limit");
    unlink(big);
}

/* Files that are odd but valid. */
static void test_odd_but_valid(void **state) {
    (void)state;
    /* Tensors listed out of data order, padding with spaces, metadata null, extra keys in an
     * entry, a scalar, a tensor with no elements next to others (fine in the format; read
     * rejects it, but only because seqlm cannot hold it), and every float dtype. */
    unsigned char data[32] = {0};
    float one = 1.0f;
    memcpy(data, &one, 4);          /* b: F32 1.0 at 0 */
    data[4] = 0x00, data[5] = 0x3c; /* a: F16 1.0 at 4 */
    data[6] = 0x80, data[7] = 0xbf; /* a: BF16 -1.0 at 6 */
    double half = 0.5;
    memcpy(data + 8, &half, 8); /* c: F64 0.5 at 8 */
    const char *p = make_file("odd.st",
                              "{\"__metadata__\":null,"
                              "\"c\":{\"data_offsets\":[8,16],\"shape\":[],\"dtype\":\"F64\"},"
                              "\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[4,6],"
                              "\"extra\":[1,{\"x\":2}]},"
                              "\"a2\":{\"dtype\":\"BF16\",\"shape\":[1,1],\"data_offsets\":[6,8]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"
                              "     \n  ",
                              data, 16);
    seqlm_metadata meta = {0};
    seqlm_params *q = read_ok(p, &meta);
    assert_int_equal(meta.count, 0);
    assert_int_equal(q->count, 4);
    assert_string_equal(q->info[0].name, "c"); /* header order */
    assert_int_equal(q->info[0].ndim, 1);      /* scalar -> [1] */
    assert_int_equal(q->info[0].shape[0], 1);
    assert_true(seqlm_params_value(q, 0)[0] == 0.5f);
    assert_true(seqlm_params_value(q, 1)[0] == 1.0f);
    assert_true(seqlm_params_value(q, 2)[0] == -1.0f);
    assert_int_equal(q->info[2].ndim, 2);
    assert_true(seqlm_params_value(q, 3)[0] == 1.0f);
    seqlm_params_free(q);

    /* A scalar in the file loads into a [1] tensor of the model. */
    seqlm_params *m = seqlm_params_create();
    seqlm_params_add(m, "c", 1, (int64_t[]){1});
    seqlm_params_add(m, "a", 1, (int64_t[]){1});
    seqlm_params_add(m, "a2", 2, (int64_t[]){1, 1});
    seqlm_params_add(m, "b", 1, (int64_t[]){1});
    seqlm_error err = {0};
    assert_int_equal(seqlm_params_alloc(m, &err), SEQLM_OK);
    assert_int_equal(seqlm_safetensors_load_into(p, m, NULL, &err), SEQLM_OK);
    assert_true(seqlm_params_value(m, 0)[0] == 0.5f);
    seqlm_params_free(m);

    /* An empty tensor passes the format's checks: the error is seqlm's limit, not a bad file. */
    p = make_file("zero.st",
                  "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[4,4]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                  data, 4);
    expect_read_error(p, "tensor 'z' is empty");

    /* I32 and I64 values that floats hold exactly. */
    int64_t i64[4] = {0, -16777216, (int64_t)1 << 40, INT64_MIN};
    int32_t i32[2] = {-2147483647 - 1, 123};
    unsigned char ints[40];
    memcpy(ints, i64, 32);
    memcpy(ints + 32, i32, 8);
    p = make_file("ints.st",
                  "{\"l\":{\"dtype\":\"I64\",\"shape\":[4],\"data_offsets\":[0,32]},"
                  "\"i\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[32,40]}}",
                  ints, 40);
    q = read_ok(p, NULL);
    const float *l = seqlm_params_value(q, 0), *i = seqlm_params_value(q, 1);
    assert_true(l[0] == 0.0f && l[1] == -16777216.0f && l[2] == 0x1p40f && l[3] == -0x1p63f);
    assert_true(i[0] == -0x1p31f && i[1] == 123.0f);
    seqlm_params_free(q);
}

/* --- files from PyTorch ------------------------------------------------------------------- */

/* Compares q with the samples the script stored: {name: [[index, value], ...]}. */
static void check_samples(const seqlm_params *q, const char *json) {
    cJSON *s = cJSON_Parse(json);
    assert_non_null(s);
    int checked = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, s) {
        int idx = seqlm_params_find(q, t->string);
        if (idx < 0) fail_msg("sample tensor '%s' not read", t->string);
        const float *v = seqlm_params_value(q, idx);
        const cJSON *pair;
        cJSON_ArrayForEach(pair, t) {
            size_t at = (size_t)cJSON_GetArrayItem(pair, 0)->valuedouble;
            const cJSON *want = cJSON_GetArrayItem(pair, 1);
            assert_true(at < q->info[idx].size);
            float w = cJSON_IsString(want)
                          ? (strcmp(want->valuestring, "inf") == 0 ? INFINITY : -INFINITY)
                          : (float)want->valuedouble;
            if (float_bits(v[at]) != float_bits(w))
                fail_msg("%s[%zu]: read %.9g, PyTorch wrote %.9g", t->string, at, v[at], w);
            checked++;
        }
    }
    assert_true(checked > 10);
    cJSON_Delete(s);
}

static void test_torch_golden(void **state) {
    (void)state;
    const char *path = GOLDEN("modelfile_torch.safetensors");
    seqlm_metadata meta = {0};
    seqlm_params *q = read_ok(path, &meta);
    static const char *names[] = {"encoder.weight",   "rnn.weight_ih_l0", "rnn.weight_hh_l0",
                                  "rnn.bias_ih_l0",   "rnn.bias_hh_l0",   "rnn.weight_ih_l1",
                                  "rnn.weight_hh_l1", "rnn.bias_ih_l1",   "rnn.bias_hh_l1",
                                  "decoder.weight",   "decoder.bias",     "extra.f16",
                                  "extra.bf16",       "extra.f64",        "extra.i32",
                                  "extra.i64",        "extra.scalar"};
    static const int64_t shapes[][2] = {{10, 3}, {16, 3}, {16, 4}, {16, 0}, {16, 0}, {16, 4},
                                        {16, 4}, {16, 0}, {16, 0}, {10, 4}, {10, 0}, {2, 4},
                                        {5, 0},  {2, 2},  {3, 0},  {4, 0},  {1, 0}};
    assert_int_equal(q->count, 17);
    for (int i = 0; i < 17; i++) {
        assert_string_equal(q->info[i].name, names[i]);
        assert_int_equal(q->info[i].ndim, shapes[i][1] ? 2 : 1);
        assert_int_equal(q->info[i].shape[0], shapes[i][0]);
        if (shapes[i][1]) assert_int_equal(q->info[i].shape[1], shapes[i][1]);
    }
    assert_string_equal(seqlm_metadata_get(&meta, "format"), "pt");
    check_samples(q, seqlm_metadata_get(&meta, "seqlm.test.samples"));

    /* The conversions, value by value. */
    const float *h = seqlm_params_value(q, seqlm_params_find(q, "extra.f16"));
    const float f16[8] = {1.0f,     -2.5f,    65504.0f, 0x1p-14f,
                          0x1p-24f, INFINITY, -0.0f,    0.333251953125f};
    for (int i = 0; i < 8; i++) assert_int_equal(float_bits(h[i]), float_bits(f16[i]));
    const float *b = seqlm_params_value(q, seqlm_params_find(q, "extra.bf16"));
    assert_true(b[0] == 1.0f && b[1] == -3.140625f && b[3] == -INFINITY && b[4] == 0x1p-130f);
    assert_true(fabsf(b[2] - 1e30f) < 1e28f && (float_bits(b[2]) & 0xffff) == 0);
    const float *d = seqlm_params_value(q, seqlm_params_find(q, "extra.f64"));
    assert_true(d[0] == 0.1f && d[1] == -1e-3f && d[2] == 3.0f && d[3] == (float)1e-40);
    const float *i32 = seqlm_params_value(q, seqlm_params_find(q, "extra.i32"));
    assert_true(i32[0] == 1.0f && i32[1] == -2.0f && i32[2] == 16777216.0f);
    const float *i64 = seqlm_params_value(q, seqlm_params_find(q, "extra.i64"));
    assert_true(i64[0] == 0.0f && i64[1] == -5.0f && i64[2] == 0x1p40f && i64[3] == -0x1p62f);
    assert_true(seqlm_params_value(q, seqlm_params_find(q, "extra.scalar"))[0] == 2.5f);

    /* Its word_language_model part loads into a model registered the way seqlm does. */
    seqlm_params *m = seqlm_params_create();
    for (int i = 0; i < 11; i++)
        seqlm_params_add(m, names[i], shapes[i][1] ? 2 : 1,
                         shapes[i][1] ? shapes[i] : (int64_t[]){shapes[i][0]});
    seqlm_error err = {0};
    assert_int_equal(seqlm_params_alloc(m, &err), SEQLM_OK);
    assert_int_equal(seqlm_safetensors_load_into(path, m, NULL, &err), SEQLM_ERR_DATA);
    assert_message(&err, path, "6 tensors in the file the model does not have: 'extra.f16'");
    seqlm_params_free(m);
    seqlm_metadata_free(&meta);
    seqlm_params_free(q);

    /* The tied model, into a registry where decoder.weight is an alias. */
    path = GOLDEN("modelfile_tied.safetensors");
    m = seqlm_params_create();
    int enc = seqlm_params_add(m, "encoder.weight", 2, (int64_t[]){10, 4});
    seqlm_params_add(m, "rnn.weight_ih_l0", 2, (int64_t[]){16, 4});
    seqlm_params_add(m, "rnn.weight_hh_l0", 2, (int64_t[]){16, 4});
    seqlm_params_add(m, "rnn.bias_ih_l0", 1, (int64_t[]){16});
    seqlm_params_add(m, "rnn.bias_hh_l0", 1, (int64_t[]){16});
    seqlm_params_alias(m, "decoder.weight", enc);
    seqlm_params_add(m, "decoder.bias", 1, (int64_t[]){10});
    assert_int_equal(seqlm_params_alloc(m, &err), SEQLM_OK);
    assert_int_equal(seqlm_safetensors_load_into(path, m, &meta, &err), SEQLM_OK);
    check_samples(m, seqlm_metadata_get(&meta, "seqlm.test.samples"));
    seqlm_metadata_free(&meta);
    seqlm_params_free(m);
}

/* A file written here, read by a hand-written reader in Python and loaded into torch.nn
 * modules with load_state_dict (strict). Skips where /usr/bin/python3 lacks torch. */
static const char *py_check =
    "import json, struct, sys\n"
    "import numpy as np, torch, torch.nn as nn\n"
    "path, values = sys.argv[1], sys.argv[2]\n"
    "raw = open(path, 'rb').read()\n"
    "n = struct.unpack('<Q', raw[:8])[0]\n"
    "assert (8 + n) % 8 == 0, 'data not aligned'\n"
    "header = json.loads(raw[8:8 + n].decode('utf-8'))\n"
    "meta = header.pop('__metadata__')\n"
    "data = raw[8 + n:]\n"
    "sd, end = {}, 0\n"
    "for name, e in header.items():\n"
    "    assert e['dtype'] == 'F32', name\n"
    "    b, en = e['data_offsets']\n"
    "    assert b == end, name\n"
    "    end = en\n"
    "    a = np.frombuffer(data[b:en], dtype='<f4').reshape(e['shape'])\n"
    "    sd[name] = torch.from_numpy(a.copy())\n"
    "assert end == len(data), 'buffer not covered'\n"
    "class WordLM(nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.encoder = nn.Embedding(10, 4)\n"
    "        self.rnn = nn.LSTM(4, 4)\n"
    "        self.decoder = nn.Linear(4, 10)\n"
    "        self.decoder.weight = self.encoder.weight\n"
    "m = WordLM()\n"
    "m.load_state_dict(sd, strict=True)\n"
    "for line in open(values):\n"
    "    name, i, v = line.split()\n"
    "    got = m.state_dict()[name].reshape(-1)[int(i)]\n"
    "    assert got.item() == np.float32(float(v)), (name, i, got.item(), v)\n"
    "assert m.decoder.weight is m.encoder.weight\n"
    "assert json.loads(meta['seqlm.hparams'])['hidden'] == 4\n"
    "out, _ = m.rnn(m.encoder(torch.tensor([[1], [2]])))\n"
    "assert torch.isfinite(m.decoder(out)).all()\n"
    "print('torch loaded', len(sd), 'tensors')\n";

static void test_torch_reads_ours(void **state) {
    (void)state;
    if (access(PYTHON, X_OK) != 0 ||
        system(PYTHON " -c 'import torch, numpy' >/dev/null 2>&1") != 0) {
        printf("SKIP: %s with torch not found; not checking that PyTorch reads our files\n",
               PYTHON);
        return;
    }
    seqlm_params *p = seqlm_params_create();
    int enc = seqlm_params_add(p, "encoder.weight", 2, (int64_t[]){10, 4});
    seqlm_params_add(p, "rnn.weight_ih_l0", 2, (int64_t[]){16, 4});
    seqlm_params_add(p, "rnn.weight_hh_l0", 2, (int64_t[]){16, 4});
    seqlm_params_add(p, "rnn.bias_ih_l0", 1, (int64_t[]){16});
    seqlm_params_add(p, "rnn.bias_hh_l0", 1, (int64_t[]){16});
    seqlm_params_alias(p, "decoder.weight", enc);
    seqlm_params_add(p, "decoder.bias", 1, (int64_t[]){10});
    seqlm_error err = {0};
    assert_int_equal(seqlm_params_alloc(p, &err), SEQLM_OK);
    for (size_t j = 0; j < p->total; j++) p->values[j] = sinf(0.1f * (float)j) * 0.5f;
    seqlm_metadata meta = {0};
    seqlm_metadata_set(&meta, "seqlm.hparams", "{\"hidden\": 4}");
    const char *path = tmp_path("for_torch.safetensors");
    write_ok(path, p, &meta);
    /* A few values per tensor, as text, for the script to compare. */
    const char *values = tmp_path("for_torch.txt");
    FILE *f = fopen(values, "w");
    assert_non_null(f);
    for (int i = 0; i < p->count; i++)
        for (size_t j = 0; j < p->info[i].size; j += 7)
            fprintf(f, "%s %zu %.9g\n", p->info[i].name, j, seqlm_params_value(p, i)[j]);
    fclose(f);
    const char *script = write_tmp_str("check.py", py_check);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s %s %s", PYTHON, script, path, values);
    int rc = system(cmd);
    if (rc != 0) fail_msg("PyTorch could not load our file (exit %d): %s", rc, cmd);
    seqlm_metadata_free(&meta);
    seqlm_params_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata),         cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_small), cmocka_unit_test(test_load_into),
        cmocka_unit_test(test_bad_files),        cmocka_unit_test(test_odd_but_valid),
        cmocka_unit_test(test_torch_golden),     cmocka_unit_test(test_torch_reads_ours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
