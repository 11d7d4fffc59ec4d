/* model.h - the in-memory layout of an n-gram model, shared by the estimator, the ARPA and
 * binary readers/writers, the query and the sampler (internal).
 *
 * Per order n (level[n-1]): `count` n-grams sorted lexicographically by word ids, stored as
 * parallel arrays. Unigrams are indexed by word id directly (count = vocabulary size; words
 * absent from the model have prob SEQLM_NGRAM_LOG0). For n >= 2 a probing hash table maps the
 * key of an n-gram (ngram_key) to its index. child[i] .. child[i+1] is the range of order n+1
 * n-grams that extend n-gram i on the right (its successors), which sampling uses.
 *
 * The hash slots repeat prob and backoff of their entry (16 bytes a slot, 16-byte aligned, so a
 * slot never straddles a cache line): a query that finds an n-gram touches one cache line per
 * order instead of four (slot, index, prob, backoff). The index beside the slots is for the
 * callers that need the entry itself (sampling, estimation, checks). The sorted arrays stay the
 * reference: whoever changes prob or backoff after ngram_model_index calls ngram_model_sync.
 *
 * The arrays either live in one malloc'd block (`block`) or point into a memory-mapped binary
 * file (`map`). */
#ifndef SEQLM_NGRAM_MODEL_H
#define SEQLM_NGRAM_MODEL_H

#include "seqlm/ngram.h"

#define SEQLM_NGRAM_LOG0 (-99.0f) /* log10 of "never": what ARPA files write for p = 0 */

/* One hash slot: an empty slot is all zero. */
typedef struct {
    uint64_t key; /* ngram_key of the entry, 0 = empty slot */
    float prob;   /* = prob[index], backoff[index] of the entry */
    float backoff;
} ngram_slot;

typedef struct {
    uint64_t count;
    uint32_t *words;   /* (count, n) word ids, lexicographically sorted; NULL for unigrams */
    float *prob;       /* (count) log10 probability */
    float *backoff;    /* (count) log10 backoff weight; 0 at the highest order */
    uint32_t *child;   /* (count + 1) successor ranges in the next order; NULL at the highest */
    uint64_t nslots;   /* hash slots (ngram_slots_for), at most 2^32; 0 for unigrams */
    ngram_slot *slots; /* (nslots) 16-byte aligned */
    uint32_t *index;   /* (nslots) entry index of the slot (0 for an empty slot) */
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

/* The slot where the search for key starts: the high 32 bits of the key scaled to [0, nslots)
 * (nslots need not be a power of two, so the load factor stays near 2/3 at every size). */
static inline uint64_t ngram_slot_start(uint64_t key, uint64_t nslots) {
    return ((key >> 32) * nslots) >> 32;
}

/* The slot of the n-gram with key `key` at order n >= 2, or NULL. Linear probing. */
static inline const ngram_slot *ngram_probe(const ngram_level *lv, uint64_t key) {
    uint64_t i = ngram_slot_start(key, lv->nslots);
    for (;;) {
        const ngram_slot *s = &lv->slots[i];
        if (s->key == key) return s;
        if (s->key == 0) return NULL;
        if (++i == lv->nslots) i = 0;
    }
}

/* Prefetches the slot where ngram_probe starts looking for key, to hide the probe's miss. */
static inline void ngram_prefetch(const ngram_level *lv, uint64_t key) {
    __builtin_prefetch(&lv->slots[ngram_slot_start(key, lv->nslots)]);
}

/* Index of the n-gram with key `key` at order n >= 2, or -1. */
static inline int64_t ngram_find(const ngram_level *lv, uint64_t key) {
    const ngram_slot *s = ngram_probe(lv, key);
    return s ? (int64_t)lv->index[s - lv->slots] : -1;
}

/* The query of seqlm_ngram_score (model.c), word < V. With keys, keys[j] is the key of
 * "in->words[j..0] word" (order j+2) for j < min(in->length, order-1): eval computes them ahead
 * to prefetch their slots. With keys NULL, they are computed as the search goes. */
static inline float ngram_score_keys(const seqlm_ngram_model *lm, const seqlm_ngram_state *in,
                                     uint32_t word, const uint64_t *keys, seqlm_ngram_state *out,
                                     int *matched);

/* Hash slots for count < 2^32 - 1 entries: load factor 2/3, at least 16 slots, at most 2^32
 * (always more than count). */
uint64_t ngram_slots_for(uint64_t count);

/* Allocates one block for all arrays given level[n].count (and the vocabulary for unigrams)
 * and points the arrays into it. The block comes zeroed from seqlm_bigmem_alloc, and its pages
 * are not touched here: the hash slots cost memory only when they are filled, after the
 * counting tables are gone. */
seqlm_status ngram_model_alloc(seqlm_ngram_model *lm, seqlm_error *err);

/* Fills the hash tables (prob and backoff copied into the slots) and child ranges from the
 * sorted arrays. Fails (SEQLM_ERR_FORMAT) on a duplicate n-gram, naming it, or on n-grams out of
 * order. */
seqlm_status ngram_model_index(seqlm_ngram_model *lm, seqlm_error *err);

/* Copies prob and backoff into the hash slots again, after they changed. */
void ngram_model_sync(seqlm_ngram_model *lm);

/* The binary form (binary.c): its first 8 bytes, and the loader seqlm_ngram_load calls when a
 * file starts with them. */
extern const unsigned char ngram_binary_magic[8];
seqlm_ngram_model *ngram_binary_load(const char *path, seqlm_error *err);

/* A new, empty model with its vocabulary (taken over). */
seqlm_ngram_model *ngram_model_new(int order, seqlm_unit unit, seqlm_vocab *vocab);

/* Backoff semantics: find the longest n-gram "context-suffix w" in the model; its probability
 * times the backoff weights of every longer context suffix that the state holds:
 *   log p(w | h_m..h_1) = log p(w | h_k..h_1) + sum_{j=k+1..m} log bo(h_j..h_1),
 * where k+1 is the matched order. The new state is the matched n-gram (truncated to order-1
 * words): its shorter suffixes are all in the model, so their backoffs are known here. */
static inline float ngram_score_keys(const seqlm_ngram_model *lm, const seqlm_ngram_state *in,
                                     uint32_t word, const uint64_t *keys, seqlm_ngram_state *out,
                                     int *matched) {
    const ngram_level *uni = &lm->level[0];
    float p = uni->prob[word];
    int got = 1; /* order of the longest match */
    seqlm_ngram_state next;
    next.words[0] = word;
    next.backoff[0] = uni->backoff[word];
    int m = in->length < lm->order - 1 ? in->length : lm->order - 1;
    uint64_t key = keys ? 0 : ngram_key1(word);
    for (int j = 0; j < m; j++) {
        if (keys)
            key = keys[j];
        else
            key = ngram_key_extend(key, in->words[j]);
        const ngram_slot *s = ngram_probe(&lm->level[j + 1], key);
        if (!s) break;
        p = s->prob;
        got = j + 2;
        next.words[j + 1] = in->words[j];
        next.backoff[j + 1] = s->backoff;
    }
    for (int j = got - 1; j < in->length; j++) p += in->backoff[j];
    next.length = got < lm->order ? got : lm->order - 1;
    /* An n-gram that is never a context (e.g. ending in <unk>) gives the next word nothing. */
    if (word == SEQLM_UNK && got == 1 && uni->backoff[word] == 0.0f) next.length = 0;
    if (matched) *matched = got;
    *out = next;
    return p;
}

#endif
