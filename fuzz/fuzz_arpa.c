/* fuzz_arpa.c - libFuzzer target for seqlm_ngram_load: ARPA text (plain or gzipped) and the
 * binary form, which the loader tells apart by the first bytes.
 *
 * The input is written to a temporary file (the loader reads paths, and the binary form is
 * memory-mapped), loaded, and - when it loads - queried a little, so that a model the loader
 * accepts but that breaks the query's invariants shows up too. Every input must give a model or
 * an error: never a crash, a leak or an endless loop.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address -Iinclude -Isrc fuzz/fuzz_arpa.c $SRC -lz -lm
 *   ./a.out -max_total_time=120 corpus/
 * with $SRC every .c file under src/ and a seed corpus of small .arpa, .arpa.gz and binary
 * model files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seqlm/ngram.h"

static char path[64];

/* A temporary file for this process, created once and rewritten per input. */
static int write_input(const uint8_t *data, size_t size) {
    if (!path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/fuzz_arpa-XXXXXX", dir && strlen(dir) < 40 ? dir : "/tmp");
        int fd = mkstemp(path);
        if (fd < 0) return -1;
        close(fd);
    }
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Inputs in the binary form get their header checksum (binary.c: FNV-1a over the header, the
 * u64 at byte 72 counted as zero; header size at byte 8 + 4) recomputed, or nearly every
 * mutation would stop there and the checks of the arrays behind it would go unexercised. */
static const uint8_t *fix_checksum(const uint8_t *data, size_t size, uint8_t **copy) {
    static const uint8_t magic[8] = {'S', 'E', 'Q', 'L', 'M', 'N', 'G', 0x01};
    *copy = NULL;
    if (size < 80 || memcmp(data, magic, 8) != 0) return data;
    uint32_t hsize = (uint32_t)data[12] | (uint32_t)data[13] << 8 | (uint32_t)data[14] << 16 |
                     (uint32_t)data[15] << 24;
    if (hsize < 80 || hsize > size) return data;
    uint8_t *c = malloc(size);
    if (!c) return data;
    memcpy(c, data, size);
    uint64_t h = 1469598103934665603ULL;
    for (uint32_t i = 0; i < hsize; i++)
        h = (h ^ (i >= 72 && i < 80 ? 0 : c[i])) * 1099511628211ULL;
    for (int i = 0; i < 8; i++) c[72 + i] = (uint8_t)(h >> (8 * i));
    *copy = c;
    return c;
}

static void cleanup(void) {
    if (path[0]) unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int registered;
    if (!registered) {
        atexit(cleanup);
        registered = 1;
    }
    uint8_t *copy;
    const uint8_t *input = fix_checksum(data, size, &copy);
    int written = write_input(input, size);
    free(copy);
    if (written < 0) return 0;
    seqlm_error err;
    seqlm_error_clear(&err);
    seqlm_ngram_model *lm = seqlm_ngram_load(path, &err);
    if (!lm) {
        /* A failure always says why. */
        if (err.status == SEQLM_OK || err.msg[0] == '\0') abort();
        return 0;
    }
    /* Score every word after <s> and after each other word (a bounded number): every order's
     * hash table is probed, and the states carry backoffs from the loaded arrays. */
    size_t V = seqlm_vocab_size(seqlm_ngram_vocab(lm));
    if (V > 64) V = 64;
    seqlm_ngram_state st;
    seqlm_ngram_begin(lm, &st);
    for (uint32_t i = 0; i < V; i++)
        for (uint32_t j = 0; j < 4 && j < V; j++) {
            seqlm_ngram_state next;
            int matched;
            seqlm_ngram_score(lm, &st, (i + j) % (uint32_t)V, &next, &matched);
            if (matched < 1 || matched > seqlm_ngram_order(lm)) abort();
            if (j == 0) st = next;
        }
    seqlm_ngram_score(lm, &st, (uint32_t)V + 1000, &st, NULL); /* an id beyond the vocabulary */
    seqlm_ngram_free(lm);
    return 0;
}
