/* fuzz_safetensors.c - libFuzzer target for the safetensors reader (seqlm/modelfile.h).
 *
 * Each input becomes a file: as it is when it does not start with '{', so that the 8-byte
 * header length is fuzzed too; otherwise the input is "JSON header NUL data" and the length is
 * put in front of the header, or nearly every mutation of the JSON would stop at the length
 * check. The file is read; an error must say what is wrong and name the file. A file that reads
 * must survive the round trip - written again, read again, the same names, shapes, bits and
 * metadata - and load into a registry of the same layout with the same values. Never a crash,
 * a leak or an endless loop.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc -I/usr/include/cjson \
 *       fuzz/fuzz_safetensors.c $SRC -lz -lm -lcjson -lopenblas
 *   ./a.out -max_total_time=120 corpus/ seeds/
 * with $SRC every .c file under src/ and seeds such as the .safetensors files in tests/golden
 * (and the same with the length cut off and a NUL between header and data). cJSON itself is
 * the system library, built without sanitizers: the reader hands it a NUL-terminated copy of
 * the header. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seqlm/modelfile.h"

static char in_path[64], out_path[64];

static int temp_file(char *path, const char *name) {
    if (path[0]) return 0;
    const char *dir = getenv("TMPDIR");
    snprintf(path, 64, "%s/%s-XXXXXX", dir && strlen(dir) < 40 ? dir : "/tmp", name);
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}

static void cleanup(void) {
    if (in_path[0]) unlink(in_path);
    if (out_path[0]) unlink(out_path);
}

static int write_input(const uint8_t *data, size_t size) {
    FILE *f = fopen(in_path, "wb");
    if (!f) return -1;
    int ok = 1;
    if (size > 0 && data[0] == '{') {
        const uint8_t *nul = memchr(data, 0, size);
        size_t n = nul ? (size_t)(nul - data) : size;
        unsigned char len8[8];
        for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)n >> (8 * i));
        ok = fwrite(len8, 1, 8, f) == 8 && fwrite(data, 1, n, f) == n;
        if (nul) ok = ok && fwrite(nul + 1, 1, size - n - 1, f) == size - n - 1;
    } else {
        ok = fwrite(data, 1, size, f) == size;
    }
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void check_error(const seqlm_error *err, const char *path) {
    if (err->status == SEQLM_OK || strncmp(err->msg, path, strlen(path)) != 0 ||
        strlen(err->msg) <= strlen(path) + 2) {
        fprintf(stderr, "bad error: status %d, \"%s\"\n", (int)err->status, err->msg);
        abort();
    }
}

static void same_or_abort(const seqlm_params *a, const seqlm_params *b) {
    if (a->count != b->count) abort();
    for (int i = 0; i < a->count; i++) {
        const seqlm_param_info *x = &a->info[i], *y = &b->info[i];
        if (strcmp(x->name, y->name) != 0 || x->ndim != y->ndim || x->size != y->size ||
            memcmp(x->shape, y->shape, (size_t)x->ndim * sizeof x->shape[0]) != 0 ||
            memcmp(seqlm_params_value(a, i), seqlm_params_value(b, i), x->size * sizeof(float)))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int registered;
    if (!registered) {
        atexit(cleanup);
        registered = 1;
    }
    if (temp_file(in_path, "fuzz_st_in") || temp_file(out_path, "fuzz_st_out") ||
        write_input(data, size))
        return 0;

    seqlm_error err;
    seqlm_error_clear(&err);
    seqlm_metadata meta = {0};
    seqlm_params *p = seqlm_safetensors_read(in_path, &meta, &err);
    if (!p) {
        check_error(&err, in_path);
        if (meta.count) abort(); /* untouched on failure */
        return 0;
    }

    /* Round trip. Writing may fail only on the header limit (a scalar's "[]" becomes "[1]"). */
    if (seqlm_safetensors_write(out_path, p, &meta, &err) == SEQLM_OK) {
        seqlm_metadata meta2 = {0};
        seqlm_params *q = seqlm_safetensors_read(out_path, &meta2, &err);
        if (!q) {
            fprintf(stderr, "re-read failed: %s\n", err.msg);
            abort();
        }
        same_or_abort(p, q);
        if (meta2.count != meta.count) abort();
        for (size_t i = 0; i < meta.count; i++)
            if (strcmp(meta.keys[i], meta2.keys[i]) || strcmp(meta.values[i], meta2.values[i]))
                abort();
        seqlm_metadata_free(&meta2);
        seqlm_params_free(q);
    } else {
        check_error(&err, out_path);
    }

    /* Loading into a registry of the same layout gives the same values. */
    seqlm_params *r = seqlm_params_create();
    for (int i = 0; i < p->count; i++)
        if (seqlm_params_add(r, p->info[i].name, p->info[i].ndim, p->info[i].shape) != i) abort();
    if (seqlm_params_alloc(r, &err) == SEQLM_OK) {
        if (seqlm_safetensors_load_into(in_path, r, NULL, &err) != SEQLM_OK) {
            fprintf(stderr, "load_into failed: %s\n", err.msg);
            abort();
        }
        same_or_abort(p, r);
    }
    seqlm_params_free(r);
    seqlm_metadata_free(&meta);
    seqlm_params_free(p);
    return 0;
}
