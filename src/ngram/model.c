/* model.c - n-gram model storage: allocation, the hash index, and the backoff query.
 * Estimation (estimate.c), file formats (arpa_*.c, binary.c), evaluation (eval.c) and sampling
 * (sample.c) live elsewhere and share the layout in model.h. */
#include "ngram/model.h"
#include "util/bigmem.h"

#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>

#define PREFETCH_AHEAD 16

static const char *smoothing_names[] = {"mle", "add", "katz", "wb", "kn", "mkn"};

const char *seqlm_smoothing_name(seqlm_smoothing s) {
    return (unsigned)s < 6 ? smoothing_names[s] : "?";
}

int seqlm_smoothing_parse(const char *name, seqlm_smoothing *s) {
    for (int i = 0; i < 6; i++)
        if (strcmp(name, smoothing_names[i]) == 0) {
            *s = (seqlm_smoothing)i;
            return 0;
        }
    return -1;
}

seqlm_ngram_options seqlm_ngram_default_options(void) {
    seqlm_ngram_options o;
    memset(&o, 0, sizeof o);
    o.order = 3;
    o.smoothing = SEQLM_SMOOTH_MKN;
    o.delta = 1.0;
    o.unit = SEQLM_UNIT_WORD;
    o.min_count = 1;
    return o;
}

uint64_t ngram_slots_for(uint64_t count) {
    uint64_t n = count + count / 2 + 1;
    if (n < 16) n = 16;
    return n > (1ULL << 32) ? 1ULL << 32 : n;
}

seqlm_ngram_model *ngram_model_new(int order, seqlm_unit unit, seqlm_vocab *vocab) {
    seqlm_ngram_model *lm = calloc(1, sizeof *lm);
    if (!lm) return NULL;
    lm->order = order;
    lm->unit = unit;
    lm->vocab = vocab;
    return lm;
}

static size_t align8(size_t x) {
    return (x + 7) & ~(size_t)7;
}
static size_t align64(size_t x) {
    return (x + 63) & ~(size_t)63;
}

seqlm_status ngram_model_alloc(seqlm_ngram_model *lm, seqlm_error *err) {
    /* The block is page aligned (or calloc's 16 bytes when small); slots start on a 64-byte
     * boundary of it, so none of them straddles a cache line. */
    size_t total = 0;
    for (int n = 1; n <= lm->order; n++) {
        ngram_level *lv = &lm->level[n - 1];
        lv->nslots = n == 1 ? 0 : ngram_slots_for(lv->count);
        if (n > 1) total += align8(lv->count * (size_t)n * sizeof(uint32_t));
        total += 2 * align8(lv->count * sizeof(float));
        if (n < lm->order) total += align8((lv->count + 1) * sizeof(uint32_t));
        total = align64(total) + lv->nslots * sizeof(ngram_slot);
        total += align8(lv->nslots * sizeof(uint32_t));
    }
    char *base = seqlm_bigmem_alloc(total), *p = base;
    if (!p)
        return seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory for the model (%zu MiB)",
                               total >> 20);
    seqlm_bigmem_free(lm->block, lm->block_len);
    lm->block = p;
    lm->block_len = total;
    for (int n = 1; n <= lm->order; n++) {
        ngram_level *lv = &lm->level[n - 1];
        if (n > 1) {
            lv->words = (uint32_t *)p;
            p += align8(lv->count * (size_t)n * sizeof(uint32_t));
        } else {
            lv->words = NULL;
        }
        lv->prob = (float *)p;
        p += align8(lv->count * sizeof(float));
        lv->backoff = (float *)p;
        p += align8(lv->count * sizeof(float));
        if (n < lm->order) {
            lv->child = (uint32_t *)p;
            p += align8((lv->count + 1) * sizeof(uint32_t));
        } else {
            lv->child = NULL;
        }
        p = base + align64((size_t)(p - base));
        lv->slots = n > 1 ? (ngram_slot *)(void *)p : NULL;
        p += lv->nslots * sizeof(ngram_slot);
        lv->index = n > 1 ? (uint32_t *)p : NULL;
        p += align8(lv->nslots * sizeof(uint32_t));
    }
    return SEQLM_OK;
}

/* -1, 0, 1 as a < b for two n-grams of n words. */
static int compare_words(const uint32_t *a, const uint32_t *b, int n) {
    for (int i = 0; i < n; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

static void describe(const seqlm_ngram_model *lm, const uint32_t *w, int n, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used + 2 < cap; i++) {
        const char *s = seqlm_vocab_word(lm->vocab, w[i]);
        int k = snprintf(buf + used, cap - used, "%s%s", i ? " " : "", s ? s : "?");
        if (k < 0) break;
        used += (size_t)k;
    }
}

/* Builds the hash table of order n; fails on duplicates and disorder. */
static seqlm_status index_order(seqlm_ngram_model *lm, int n, seqlm_error *err) {
    ngram_level *lv = &lm->level[n - 1];
    memset(lv->slots, 0, lv->nslots * sizeof(ngram_slot));
    memset(lv->index, 0, lv->nslots * sizeof(uint32_t));
    /* Keys are computed PREFETCH_AHEAD entries early and their slots prefetched, so the
     * cache misses of consecutive inserts overlap. */
    uint64_t ring[2 * PREFETCH_AHEAD];
    for (uint64_t i = 0; i < lv->count + PREFETCH_AHEAD; i++) {
        if (i < lv->count) {
            ring[i % (2 * PREFETCH_AHEAD)] = ngram_key(lv->words + i * (size_t)n, n);
            __builtin_prefetch(
                lv->slots + ngram_slot_start(ring[i % (2 * PREFETCH_AHEAD)], lv->nslots), 1);
        }
        if (i < PREFETCH_AHEAD) continue;
        uint64_t k = i - PREFETCH_AHEAD;
        const uint32_t *w = lv->words + k * (size_t)n;
        if (k > 0 && compare_words(w - n, w, n) >= 0) {
            char what[256];
            describe(lm, w, n, what, sizeof what);
            return seqlm_error_set(err, SEQLM_ERR_FORMAT, "%d-gram \"%s\" %s", n, what,
                                   compare_words(w - n, w, n) == 0 ? "appears twice"
                                                                   : "is out of order");
        }
        uint64_t key = ring[k % (2 * PREFETCH_AHEAD)], s = ngram_slot_start(key, lv->nslots);
        while (lv->slots[s].key) {
            if (lv->slots[s].key == key) {
                char what[256];
                describe(lm, w, n, what, sizeof what);
                return seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                       "%d-gram \"%s\": hash collision (please report)", n, what);
            }
            if (++s == lv->nslots) s = 0;
        }
        lv->slots[s] = (ngram_slot){key, lv->prob[k], lv->backoff[k]};
        lv->index[s] = (uint32_t)k;
    }
    return SEQLM_OK;
}

/* Successor ranges: the (n+1)-grams are sorted, so those extending n-gram i form one run. */
static seqlm_status index_children(seqlm_ngram_model *lm, int n, seqlm_error *err) {
    ngram_level *lv = &lm->level[n - 1], *up = &lm->level[n];
    uint64_t j = 0;
    for (uint64_t i = 0; i < lv->count; i++) {
        lv->child[i] = (uint32_t)j;
        while (j < up->count) {
            const uint32_t *u = up->words + j * (size_t)(n + 1);
            int c = n == 1 ? (u[0] < i ? -1 : u[0] > i)
                           : compare_words(u, lv->words + i * (size_t)n, n);
            if (c > 0) break;
            if (c < 0) {
                char what[256];
                describe(lm, u, n + 1, what, sizeof what);
                return seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                       "%d-gram \"%s\" has no %d-gram for its first %d words",
                                       n + 1, what, n, n);
            }
            j++;
        }
    }
    lv->child[lv->count] = (uint32_t)j;
    if (j != up->count) {
        char what[256];
        describe(lm, up->words + j * (size_t)(n + 1), n + 1, what, sizeof what);
        return seqlm_error_set(err, SEQLM_ERR_FORMAT,
                               "%d-gram \"%s\" has no %d-gram for its first %d words", n + 1, what,
                               n, n);
    }
    return SEQLM_OK;
}

seqlm_status ngram_model_index(seqlm_ngram_model *lm, seqlm_error *err) {
    /* Orders are independent: one task per order and step; the first error (lowest order) wins. */
    seqlm_error errs[2 * SEQLM_NGRAM_MAX_ORDER];
    seqlm_status st[2 * SEQLM_NGRAM_MAX_ORDER] = {SEQLM_OK};
    int tasks = 2 * lm->order;
#pragma omp parallel for schedule(dynamic, 1)
    for (int t = 0; t < tasks; t++) {
        int n = t / 2 + 1;
        if (t % 2 == 0 && n >= 2) st[t] = index_order(lm, n, &errs[t]);
        if (t % 2 == 1 && n < lm->order) st[t] = index_children(lm, n, &errs[t]);
    }
    for (int t = 0; t < tasks; t++)
        if (st[t] != SEQLM_OK) {
            if (err) *err = errs[t];
            return st[t];
        }
    return SEQLM_OK;
}

void ngram_model_sync(seqlm_ngram_model *lm) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int n = 2; n <= lm->order; n++) {
        ngram_level *lv = &lm->level[n - 1];
        for (uint64_t s = 0; s < lv->nslots; s++)
            if (lv->slots[s].key) {
                lv->slots[s].prob = lv->prob[lv->index[s]];
                lv->slots[s].backoff = lv->backoff[lv->index[s]];
            }
    }
}

void seqlm_ngram_free(seqlm_ngram_model *lm) {
    if (!lm) return;
    seqlm_vocab_free(lm->vocab);
    seqlm_bigmem_free(lm->block, lm->block_len);
    if (lm->map) munmap(lm->map, lm->map_len);
    free(lm);
}

int seqlm_ngram_order(const seqlm_ngram_model *lm) {
    return lm->order;
}
seqlm_unit seqlm_ngram_unit(const seqlm_ngram_model *lm) {
    return lm->unit;
}
uint64_t seqlm_ngram_count(const seqlm_ngram_model *lm, int n) {
    return n >= 1 && n <= lm->order ? lm->level[n - 1].count : 0;
}
const seqlm_vocab *seqlm_ngram_vocab(const seqlm_ngram_model *lm) {
    return lm->vocab;
}
uint32_t seqlm_ngram_word(const seqlm_ngram_model *lm, const char *token) {
    return seqlm_vocab_lookup(lm->vocab, token);
}

void seqlm_ngram_null(const seqlm_ngram_model *lm, seqlm_ngram_state *state) {
    (void)lm;
    memset(state, 0, sizeof *state);
}

void seqlm_ngram_begin(const seqlm_ngram_model *lm, seqlm_ngram_state *state) {
    memset(state, 0, sizeof *state);
    if (lm->order < 2) return;
    state->length = 1;
    state->words[0] = SEQLM_BOS;
    state->backoff[0] = lm->level[0].backoff[SEQLM_BOS];
}

/* The query proper is ngram_score_keys (model.h), which explains the backoff semantics. */
float seqlm_ngram_score(const seqlm_ngram_model *lm, const seqlm_ngram_state *in, uint32_t word,
                        seqlm_ngram_state *out, int *matched) {
    if (word >= lm->level[0].count) word = SEQLM_UNK;
    return ngram_score_keys(lm, in, word, NULL, out, matched);
}
