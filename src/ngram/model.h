/* model.h - the in-memory layout of an n-gram model, shared by the estimator, the ARPA and
 * binary readers/writers, the query and the sampler (internal).
 *
 * Per order n (level[n-1]): `count` n-grams sorted lexicographically by word ids, stored as
 * parallel arrays. Unigrams are indexed by word id directly (count = vocabulary size; words
 * absent from the model have prob SEQLM_NGRAM_LOG0). For n >= 2 a probing hash table maps the
 * key of an n-gram (ngram_key) to its index. child[i] .. child[i+1] is the range of order n+1
 * n-grams that extend n-gram i on the right (its successors), which sampling uses.
 *
 * The arrays either live in one malloc'd block (`block`) or point into a memory-mapped binary
 * file (`map`). */
#ifndef SEQLM_NGRAM_MODEL_H
#define SEQLM_NGRAM_MODEL_H

#include "seqlm/ngram.h"

#define SEQLM_NGRAM_LOG0 (-99.0f) /* log10 of "never": what ARPA files write for p = 0 */

typedef struct {
    uint64_t count;
    uint32_t *words; /* (count, n) word ids, lexicographically sorted; NULL for unigrams */
    float *prob;     /* (count) log10 probability */
    float *backoff;  /* (count) log10 backoff weight; 0 at the highest order */
    uint32_t *child; /* (count + 1) successor ranges in the next order; NULL at the highest */
    uint64_t nslots; /* hash slots, a power of two; 0 for unigrams */
    uint64_t *keys;  /* (nslots) ngram_key of the entry, 0 = empty slot */
    uint32_t *index; /* (nslots) entry index */
} ngram_level;

struct seqlm_ngram_model {
    int order;
    seqlm_unit unit;
    seqlm_vocab *vocab;
    ngram_level level[SEQLM_NGRAM_MAX_ORDER];
    void *block; /* storage of the arrays (seqlm_bigmem_alloc), or NULL */
    size_t block_len;
    void *map; /* mmap'd binary file, or NULL */
    size_t map_len;
};

/* The hash key of the n-gram w[0..n-1] (text order). Keys extend to the left:
 * key(w[0..n-1]) = ngram_key_extend(key(w[1..n-1]), w[0]), key of a unigram = ngram_key1(w). */
static inline uint64_t ngram_mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}
static inline uint64_t ngram_key1(uint32_t w) {
    uint64_t k = ngram_mix((uint64_t)w + 0x9e3779b97f4a7c15ULL);
    return k ? k : 1;
}
static inline uint64_t ngram_key_extend(uint64_t key, uint32_t w) {
    uint64_t k = ngram_mix(key * 0x100000001b3ULL + (uint64_t)w + 1);
    return k ? k : 1;
}
static inline uint64_t ngram_key(const uint32_t *w, int n) {
    uint64_t k = ngram_key1(w[n - 1]);
    for (int i = n - 2; i >= 0; i--) k = ngram_key_extend(k, w[i]);
    return k;
}

/* Index of the n-gram with key `key` at order n >= 2, or -1. */
static inline int64_t ngram_find(const ngram_level *lv, uint64_t key) {
    uint64_t mask = lv->nslots - 1, i = key & mask;
    for (;;) {
        uint64_t k = lv->keys[i];
        if (k == key) return lv->index[i];
        if (k == 0) return -1;
        i = (i + 1) & mask;
    }
}

/* Hash slots for count entries (load factor at most 2/3). */
uint64_t ngram_slots_for(uint64_t count);

/* Allocates one block for all arrays given level[n].count (and the vocabulary for unigrams)
 * and points the arrays into it; contents uninitialised except child[] and keys[] zeroed. */
seqlm_status ngram_model_alloc(seqlm_ngram_model *lm, seqlm_error *err);

/* Fills the hash tables and child ranges from the sorted arrays. Fails (SEQLM_ERR_FORMAT) on a
 * duplicate n-gram, naming it, or on n-grams out of order. */
seqlm_status ngram_model_index(seqlm_ngram_model *lm, seqlm_error *err);

/* The binary form (binary.c): its first 8 bytes, and the loader seqlm_ngram_load calls when a
 * file starts with them. */
extern const unsigned char ngram_binary_magic[8];
seqlm_ngram_model *ngram_binary_load(const char *path, seqlm_error *err);

/* A new, empty model with its vocabulary (taken over). */
seqlm_ngram_model *ngram_model_new(int order, seqlm_unit unit, seqlm_vocab *vocab);

#endif
