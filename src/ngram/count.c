/* count.c - counting n-grams in a corpus stream with one open-addressing table per order.
 *
 * It is not an estimator (estimate.c turns these counts into probabilities). Memory: one slot of
 * (n + 2) 32-bit words per distinct n-gram of order n >= 2 at a load factor of at most 0.7,
 * plus the model arrays the counts are moved into. */
#include "ngram/count.h"
#include "util/bigmem.h"

#include <sys/stat.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Slot layout: the n word ids, the raw count (0 = empty slot), the adjusted count, and below the
 * top order the successor total and distinct successors (ngram_counts.total/types). */
enum { RAW = 0, ADJ = 1, TOTAL = 2, TYPES = 3 };
#define PREFETCH_AHEAD 16
typedef struct {
    int n, stride;
    uint64_t nslots, used;
    uint32_t *slots;
} count_table;

static size_t table_bytes(const count_table *t) {
    return t->nslots * (uint64_t)t->stride * sizeof(uint32_t);
}

static int table_init(count_table *t, int n, int top, uint64_t nslots) {
    t->n = n;
    t->stride = n + (top ? 2 : 4);
    t->nslots = nslots;
    t->used = 0;
    t->slots = seqlm_bigmem_alloc(nslots * (uint64_t)t->stride * sizeof(uint32_t));
    return t->slots ? 0 : -1;
}

static uint32_t *table_slot(const count_table *t, const uint32_t *w, uint64_t key) {
    uint64_t mask = t->nslots - 1, i = key & mask;
    for (;;) {
        uint32_t *s = t->slots + i * (uint64_t)t->stride;
        if (s[t->n] == 0) return s;
        if (memcmp(s, w, (size_t)t->n * sizeof *w) == 0) return s;
        i = (i + 1) & mask;
    }
}

static inline void table_prefetch(const count_table *t, uint64_t key) {
    __builtin_prefetch(t->slots + (key & (t->nslots - 1)) * (uint64_t)t->stride, 1);
}

static int table_grow(count_table *t) {
    count_table bigger;
    if (table_init(&bigger, t->n, t->stride == t->n + 2, t->nslots * 2) < 0) return -1;
    for (uint64_t i = 0; i < t->nslots; i++) {
        uint32_t *s = t->slots + i * (uint64_t)t->stride;
        if (s[t->n] == 0) continue;
        uint32_t *d = table_slot(&bigger, s, ngram_key(s, t->n));
        memcpy(d, s, (size_t)t->stride * sizeof *s);
    }
    bigger.used = t->used;
    seqlm_bigmem_free(t->slots, table_bytes(t));
    *t = bigger;
    return 0;
}

/* Adds one occurrence of w[0..n-1]; -1 when out of memory or a count would overflow. */
static int table_add(count_table *t, const uint32_t *w, uint64_t key) {
    uint32_t *s = table_slot(t, w, key);
    if (s[t->n] == 0) {
        memcpy(s, w, (size_t)t->n * sizeof *w);
        s[t->n] = 1;
        if (++t->used * 10 > t->nslots * 7) return table_grow(t);
        return 0;
    }
    if (s[t->n] == UINT32_MAX) return -1;
    s[t->n]++;
    return 0;
}

static uint32_t *table_find(const count_table *t, const uint32_t *w) {
    uint32_t *s = table_slot(t, w, ngram_key(w, t->n));
    return s[t->n] ? s : NULL;
}

/* --- LSD radix sort of n-gram records (n word ids + payload), 16 bits a pass --------------- */

static int radix_sort(uint32_t *rec, uint64_t count, int n, int stride, uint32_t max_id) {
    size_t tmp_bytes = count * (uint64_t)stride * sizeof(uint32_t) + 4;
    uint32_t *tmp = seqlm_bigmem_alloc(tmp_bytes);
    uint64_t *hist = malloc(65536 * sizeof *hist);
    if (!tmp || !hist) {
        seqlm_bigmem_free(tmp, tmp_bytes);
        free(hist);
        return -1;
    }
    int passes_per_word = max_id > 0xFFFF ? 2 : 1;
    uint32_t *src = rec, *dst = tmp;
    for (int k = n - 1; k >= 0; k--) {
        for (int half = 0; half < passes_per_word; half++) {
            int shift = 16 * half;
            memset(hist, 0, 65536 * sizeof *hist);
            for (uint64_t i = 0; i < count; i++) hist[(src[i * stride + k] >> shift) & 0xFFFF]++;
            uint64_t sum = 0;
            for (int d = 0; d < 65536; d++) {
                uint64_t c = hist[d];
                hist[d] = sum;
                sum += c;
            }
            for (uint64_t i = 0; i < count; i++) {
                uint32_t d = (src[i * stride + k] >> shift) & 0xFFFF;
                memcpy(dst + hist[d] * stride, src + i * stride, (size_t)stride * sizeof *src);
                hist[d]++;
            }
            uint32_t *x = src;
            src = dst;
            dst = x;
        }
    }
    if (src != rec) memcpy(rec, src, count * (uint64_t)stride * sizeof *rec);
    seqlm_bigmem_free(tmp, tmp_bytes);
    free(hist);
    return 0;
}

/* --- the counting pass ----------------------------------------------------------------------- */

typedef struct {
    int order;
    count_table table[SEQLM_NGRAM_MAX_ORDER]; /* table[n-1] for n >= 2 */
    uint32_t *uni;                            /* unigram counts by id */
    size_t uni_cap;
    uint64_t tokens;
    uint32_t *block; /* sentences waiting to be counted: <s> w .. </s> <s> w .. </s> */
    size_t block_len, block_cap;
} counter;

/* Sentences are gathered into blocks of about this many ids, then each order counts the block
 * on its own thread (the orders' tables are independent, and each is filled in corpus order, so
 * the result does not depend on the number of threads). */
#define BLOCK_IDS (1 << 18)

static int count_unigrams(counter *c, const uint32_t *b, size_t len) {
    for (size_t e = 0; e < len; e++) {
        uint32_t w = b[e];
        if (w == SEQLM_BOS) continue;
        if (w >= c->uni_cap) {
            size_t cap = c->uni_cap * 2;
            while (cap <= w) cap *= 2;
            uint32_t *p = realloc(c->uni, cap * sizeof *p);
            if (!p) return -1;
            memset(p + c->uni_cap, 0, (cap - c->uni_cap) * sizeof *p);
            c->uni = p;
            c->uni_cap = cap;
        }
        if (c->uni[w] == UINT32_MAX) return -1;
        c->uni[w]++;
    }
    return 0;
}

/* Adds the n-grams of order n in block b: the windows b[e-n+1 .. e] in which <s> can only come
 * first. Keys are computed PREFETCH_AHEAD windows before their insert, and their slots
 * prefetched, so that the cache misses of consecutive inserts overlap. */
static int count_order(count_table *t, const uint32_t *b, size_t len, int n) {
    uint64_t ring[2 * PREFETCH_AHEAD];
    size_t since_bos = 0; /* positions since the last <s> at the window end being keyed */
    for (size_t i = 0; i < len + PREFETCH_AHEAD; i++) {
        if (i < len) {
            since_bos = b[i] == SEQLM_BOS ? 0 : since_bos + 1;
            if (b[i] != SEQLM_BOS && since_bos >= (size_t)n - 1) {
                ring[i % (2 * PREFETCH_AHEAD)] = ngram_key(b + i - n + 1, n);
                table_prefetch(t, ring[i % (2 * PREFETCH_AHEAD)]);
            } else {
                ring[i % (2 * PREFETCH_AHEAD)] = 0;
            }
        }
        if (i < PREFETCH_AHEAD) continue;
        size_t e = i - PREFETCH_AHEAD;
        uint64_t key = ring[e % (2 * PREFETCH_AHEAD)];
        if (key && table_add(t, b + e - n + 1, key) < 0) return -1;
    }
    return 0;
}

static int count_block(counter *c) {
    int failed = 0;
    int N = c->order;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed)
    for (int task = 0; task < N; task++) {
        int n = N - task; /* the largest orders, the most work, go first */
        if (n == 1)
            failed |= count_unigrams(c, c->block, c->block_len) < 0;
        else
            failed |= count_order(&c->table[n - 1], c->block, c->block_len, n) < 0;
    }
    c->block_len = 0;
    return failed ? -1 : 0;
}

/* Queues one sentence (ids without <s> and </s>); counts the block when it is full. */
static int count_sentence(counter *c, const uint32_t *ids, size_t len) {
    if (c->block_len + len + 2 > c->block_cap) {
        if (c->block_len > 0 && count_block(c) < 0) return -1;
        if (len + 2 > c->block_cap) {
            size_t cap = len + 2 > BLOCK_IDS ? len + 2 : BLOCK_IDS;
            uint32_t *p = realloc(c->block, cap * sizeof *p);
            if (!p) return -1;
            c->block = p;
            c->block_cap = cap;
        }
    }
    uint32_t *b = c->block + c->block_len;
    b[0] = SEQLM_BOS;
    memcpy(b + 1, ids, len * sizeof *ids);
    b[len + 1] = SEQLM_EOS;
    c->block_len += len + 2;
    c->tokens += len + 1;
    return 0;
}

static seqlm_status count_corpus(counter *c, const char *path, const seqlm_ngram_options *opt,
                                 seqlm_vocab *vocab, int vocab_fixed, seqlm_error *err) {
    seqlm_reader *r = seqlm_reader_open(path, opt->unit != SEQLM_UNIT_BYTE, err);
    if (!r) return err ? err->status : SEQLM_ERR_IO;
    seqlm_tokens toks = {0};
    uint32_t *ids = NULL;
    size_t ids_cap = 0;
    const char *line;
    size_t len;
    int rc;
    seqlm_status st = SEQLM_OK;
    uint64_t size = 0, lines = 0;
    struct stat sb;
    if (strcmp(path, "-") != 0 && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
        size = (uint64_t)sb.st_size;
    while ((rc = seqlm_reader_next(r, &line, &len, err)) == 1) {
        if ((++lines & 0x3FF) == 0) {
            if (seqlm_stop_requested()) {
                st = seqlm_error_set(err, SEQLM_ERR_INTERRUPT, "%s: interrupted", path);
                goto done;
            }
            if (opt->progress && (lines & 0xFFFF) == 0)
                opt->progress(opt->progress_ctx, "counting", seqlm_reader_offset(r),
                              size > seqlm_reader_offset(r) ? size : 0);
        }
        if (seqlm_tokenize(line, len, opt->unit, &toks) < 0) goto nomem;
        if (toks.count + 2 > ids_cap) {
            ids_cap = (toks.count + 2) * 2;
            uint32_t *p = realloc(ids, ids_cap * sizeof *p);
            if (!p) goto nomem;
            ids = p;
        }
        for (size_t i = 0; i < toks.count; i++) {
            const char *w = seqlm_token(&toks, i);
            int64_t id = seqlm_vocab_find(vocab, w);
            if (id == SEQLM_BOS || id == SEQLM_EOS) {
                st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                     "%s: line %" PRIu64 ": the sentence markers <s> and </s> are "
                                     "added by seqlm and may not appear in the text",
                                     path, seqlm_reader_line(r));
                goto done;
            }
            if (id < 0) id = vocab_fixed ? (int64_t)SEQLM_UNK : seqlm_vocab_add(vocab, w, 0);
            if (id < 0) goto nomem;
            ids[i] = (uint32_t)id;
        }
        if (count_sentence(c, ids, toks.count) < 0) goto nomem;
    }
    if (rc < 0)
        st = err ? err->status : SEQLM_ERR_IO;
    else if (c->block_len > 0 && count_block(c) < 0)
        goto nomem;
    goto done;
nomem:
    st = seqlm_error_set(err, SEQLM_ERR_NOMEM,
                         "%s: line %" PRIu64 ": out of memory while counting (or a count passed "
                         "2^32)",
                         path, seqlm_reader_line(r));
done:
    free(ids);
    seqlm_tokens_free(&toks);
    seqlm_reader_free(r);
    return st;
}

/* Marks which n-grams survive pruning: those counted more than the threshold, and every prefix
 * and suffix of a survivor (so that the ARPA/backoff structure stays complete). The mark is the
 * top bit of the adjusted-count word. */
#define KEEP_BIT 0x80000000u

static void mark_pruning(counter *c, const seqlm_ngram_options *opt) {
    for (int n = c->order; n >= 2; n--) {
        count_table *t = &c->table[n - 1];
        for (uint64_t i = 0; i < t->nslots; i++) {
            uint32_t *s = t->slots + i * (uint64_t)t->stride;
            if (s[n + RAW] == 0) continue;
            int keep = s[n + RAW] > opt->prune[n - 1] || (s[n + ADJ] & KEEP_BIT);
            if (!keep) continue;
            s[n + ADJ] |= KEEP_BIT;
            if (n > 2) {
                uint32_t *pre = table_find(&c->table[n - 2], s);
                uint32_t *suf = table_find(&c->table[n - 2], s + 1);
                if (pre) pre[n - 1 + ADJ] |= KEEP_BIT;
                if (suf) suf[n - 1 + ADJ] |= KEEP_BIT;
            }
        }
    }
}

seqlm_ngram_model *ngram_count(const char *path, const seqlm_ngram_options *opt, int want_adjusted,
                               ngram_counts *counts, seqlm_error *err) {
    memset(counts, 0, sizeof *counts);
    seqlm_vocab *vocab = NULL;
    int fixed = 0;
    if (opt->vocab_path) {
        vocab = seqlm_vocab_load(opt->vocab_path, err);
        fixed = 1;
    } else if (opt->min_count > 1 || opt->max_vocab > 0) {
        seqlm_vocab *all = seqlm_vocab_from_corpus(path, opt->unit, err);
        if (!all) return NULL;
        vocab = seqlm_vocab_prune(all, opt->min_count, opt->max_vocab, err);
        seqlm_vocab_free(all);
        fixed = 1;
    } else {
        vocab = seqlm_vocab_create();
        if (!vocab) seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
    }
    if (!vocab) return NULL;

    counter c;
    memset(&c, 0, sizeof c);
    c.order = opt->order;
    c.uni_cap = 1024;
    c.uni = calloc(c.uni_cap, sizeof *c.uni);
    int ok = c.uni != NULL;
    for (int n = 2; n <= c.order && ok; n++)
        ok = table_init(&c.table[n - 1], n, n == c.order, 1 << 16) == 0;
    seqlm_ngram_model *lm = NULL;
    if (!ok) {
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (count_corpus(&c, path, opt, vocab, fixed, err) != SEQLM_OK) goto fail;
    if (c.tokens == 0) {
        seqlm_error_set(err, SEQLM_ERR_DATA, "%s: no text to train on (the file is empty)", path);
        goto fail;
    }
    size_t V = seqlm_vocab_size(vocab);

    /* Unigram counts by id. */
    counts->raw[0] = calloc(V + 1, sizeof(uint32_t));
    counts->adj[0] = calloc(V + 1, sizeof(uint32_t));
    counts->total[0] = calloc(V + 1, sizeof(uint64_t));
    counts->types[0] = calloc(V + 1, sizeof(uint32_t));
    if (!counts->raw[0] || !counts->adj[0] || !counts->total[0] || !counts->types[0]) goto nomem;
    for (size_t w = 0; w < V && w < c.uni_cap; w++) counts->raw[0][w] = c.uni[w];

        /* Adjusted counts: each distinct (n+1)-gram "x g" adds one to g's continuation count. Then
         * the value each order is estimated from: adjusted (if asked for) or raw; raw at the top
         * order and for n-grams that start with <s>. */
#pragma omp parallel for schedule(dynamic, 1)
    for (int n = 2; n <= c.order - 1; n++) {
        if (!want_adjusted) continue;
        count_table *up = &c.table[n], *t = &c.table[n - 1];
        uint64_t ring[2 * PREFETCH_AHEAD];
        for (uint64_t i = 0; i < up->nslots + PREFETCH_AHEAD; i++) {
            if (i < up->nslots) {
                const uint32_t *s = up->slots + i * (uint64_t)up->stride;
                if (s[n + 1 + RAW]) {
                    ring[i % (2 * PREFETCH_AHEAD)] = ngram_key(s + 1, n);
                    table_prefetch(t, ring[i % (2 * PREFETCH_AHEAD)]);
                }
            }
            if (i < PREFETCH_AHEAD) continue;
            uint64_t j = i - PREFETCH_AHEAD;
            const uint32_t *s = up->slots + j * (uint64_t)up->stride;
            if (s[n + 1 + RAW]) table_slot(t, s + 1, ring[j % (2 * PREFETCH_AHEAD)])[n + ADJ]++;
        }
    }
    if (want_adjusted && c.order >= 2) {
        count_table *bi = &c.table[1];
        for (uint64_t i = 0; i < bi->nslots; i++) {
            const uint32_t *s = bi->slots + i * (uint64_t)bi->stride;
            if (s[2 + RAW]) counts->adj[0][s[1]]++;
        }
    }
    if (!want_adjusted || c.order == 1)
        memcpy(counts->adj[0], counts->raw[0], V * sizeof(uint32_t));
    counts->adj[0][SEQLM_BOS] = 0;
    for (size_t w = 0; w < V; w++) {
        uint32_t a = counts->adj[0][w];
        if (a > 0 && a < NGRAM_COC) counts->coc[0][a]++;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int n = 2; n <= c.order; n++) {
        count_table *t = &c.table[n - 1], *lo = n > 2 ? &c.table[n - 2] : NULL;
        uint64_t ring[2 * PREFETCH_AHEAD];
        for (uint64_t i = 0; i < t->nslots + PREFETCH_AHEAD; i++) {
            if (i < t->nslots && lo) {
                const uint32_t *s = t->slots + i * (uint64_t)t->stride;
                if (s[n + RAW]) {
                    ring[i % (2 * PREFETCH_AHEAD)] = ngram_key(s, n - 1);
                    table_prefetch(lo, ring[i % (2 * PREFETCH_AHEAD)]);
                }
            }
            if (i < PREFETCH_AHEAD) continue;
            uint64_t j = i - PREFETCH_AHEAD;
            uint32_t *s = t->slots + j * (uint64_t)t->stride;
            if (s[n + RAW] == 0) continue;
            if (!want_adjusted || n == c.order || s[0] == SEQLM_BOS) s[n + ADJ] = s[n + RAW];
            uint32_t a = s[n + ADJ];
            if (a < NGRAM_COC) counts->coc[n - 1][a]++;
            /* The context's successor statistics, over all successors (pruned ones too). */
            if (n == 2) {
                counts->total[0][s[0]] += a;
                counts->types[0][s[0]]++;
            } else {
                uint32_t *ctx = table_slot(lo, s, ring[j % (2 * PREFETCH_AHEAD)]);
                ctx[n - 1 + TOTAL] += a;
                ctx[n - 1 + TYPES]++;
            }
        }
    }
    int pruning = 0;
    for (int n = 2; n <= c.order; n++) pruning |= opt->prune[n - 1] > 0;
    if (pruning) mark_pruning(&c, opt);

    lm = ngram_model_new(c.order, opt->unit, vocab);
    if (!lm) {
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    vocab = NULL; /* the model owns it now */
    lm->level[0].count = V;
    for (int n = 2; n <= c.order; n++) {
        count_table *t = &c.table[n - 1];
        uint64_t keep = 0;
        for (uint64_t i = 0; i < t->nslots; i++) {
            uint32_t *s = t->slots + i * (uint64_t)t->stride;
            if (s[n + RAW] && (!pruning || (s[n + ADJ] & KEEP_BIT))) keep++;
        }
        lm->level[n - 1].count = keep;
    }
    if (ngram_model_alloc(lm, err) != SEQLM_OK) goto fail;

    int extract_failed = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : extract_failed)
    for (int n = 2; n <= c.order; n++) {
        count_table *t = &c.table[n - 1];
        ngram_level *lv = &lm->level[n - 1];
        int stride = t->stride, top = n == c.order;
        /* Compact the surviving slots to the front, sort them, split them into the arrays. */
        uint64_t k = 0;
        for (uint64_t i = 0; i < t->nslots; i++) {
            uint32_t *s = t->slots + i * (uint64_t)stride;
            if (s[n + RAW] == 0 || (pruning && !(s[n + ADJ] & KEEP_BIT))) continue;
            uint32_t *d = t->slots + k * (uint64_t)stride;
            if (d != s) memmove(d, s, (size_t)stride * sizeof *s);
            d[n + ADJ] &= ~KEEP_BIT;
            k++;
        }
        if (radix_sort(t->slots, k, n, stride, (uint32_t)V) < 0) {
            extract_failed = 1;
            continue;
        }
        counts->raw[n - 1] = malloc((k + 1) * sizeof(uint32_t));
        counts->adj[n - 1] = malloc((k + 1) * sizeof(uint32_t));
        if (!top) {
            counts->total[n - 1] = malloc((k + 1) * sizeof(uint64_t));
            counts->types[n - 1] = malloc((k + 1) * sizeof(uint32_t));
        }
        if (!counts->raw[n - 1] || !counts->adj[n - 1] ||
            (!top && (!counts->total[n - 1] || !counts->types[n - 1]))) {
            extract_failed = 1;
            continue;
        }
        for (uint64_t i = 0; i < k; i++) {
            const uint32_t *s = t->slots + i * (uint64_t)stride;
            memcpy(lv->words + i * (uint64_t)n, s, (size_t)n * sizeof *s);
            counts->raw[n - 1][i] = s[n + RAW];
            counts->adj[n - 1][i] = s[n + ADJ];
            if (!top) {
                counts->total[n - 1][i] = s[n + TOTAL];
                counts->types[n - 1][i] = s[n + TYPES];
            }
        }
        seqlm_bigmem_free(t->slots, table_bytes(t));
        t->slots = NULL;
    }
    if (extract_failed) goto nomem;
    free(c.uni);
    free(c.block);
    if (ngram_model_index(lm, err) != SEQLM_OK) {
        seqlm_error_prefix(err, "%s", path);
        seqlm_ngram_free(lm);
        ngram_counts_free(counts);
        return NULL;
    }
    return lm;
nomem:
    seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory while sorting the counts");
fail:
    for (int n = 2; n <= c.order; n++)
        seqlm_bigmem_free(c.table[n - 1].slots, table_bytes(&c.table[n - 1]));
    free(c.uni);
    free(c.block);
    seqlm_vocab_free(vocab);
    seqlm_ngram_free(lm);
    ngram_counts_free(counts);
    return NULL;
}

void ngram_counts_free(ngram_counts *counts) {
    for (int n = 0; n < SEQLM_NGRAM_MAX_ORDER; n++) {
        free(counts->raw[n]);
        free(counts->adj[n]);
        free(counts->total[n]);
        free(counts->types[n]);
        counts->raw[n] = counts->adj[n] = counts->types[n] = NULL;
        counts->total[n] = NULL;
    }
}
