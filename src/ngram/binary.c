/* binary.c - the binary form of a model: the arrays of model.h in one little-endian file that
 * loading memory-maps, so a large model is ready in the time it takes to check it.
 *
 * Layout (every integer little-endian, every array 8-byte aligned):
 *
 *   offset  size  field
 *        0     8  magic "SEQLMNG\x01"
 *        8     4  u32 format version (2)
 *       12     4  u32 header size in bytes (80 + 64 * order)
 *       16     8  u64 0x0123456789abcdef  \ sanity values: a file from a platform with another
 *       24     4  f32 3.25                 / byte order or float format is refused
 *       28     4  u32 order
 *       32     4  u32 unit (seqlm_unit)
 *       36     4  u32 reserved, 0
 *       40     8  u64 total file size
 *       48     8  u64 vocabulary size V
 *       56     8  u64 offset of the vocabulary: V NUL-terminated tokens in id order
 *       64     8  u64 bytes of the vocabulary
 *       72     8  u64 FNV-1a hash of the header with this field zero
 *       80  64*N  per order n: u64 count, nslots, then the offsets of words, prob, backoff,
 *                 child, slots, index (0 for an array the order does not have: words of
 *                 unigrams, child of the top order, slots and index of unigrams)
 *
 * then the vocabulary and, per order, the arrays in that order, with the sizes model.h gives
 * them; a hash slot is 16 bytes: u64 key, f32 prob, f32 backoff (the entry's, repeated so that a
 * query reads one cache line), and the slots start on a 64-byte boundary. Empty hash slots and
 * their index entries are written as zeros. The layout is a function of the counts, nslots and
 * vocabulary size (layout() below), and the loader insists on it.
 *
 * Version 1 (before the slots held prob and backoff: a u64 key array instead) is refused with a
 * message to rebuild the file from its ARPA form (`seqlm ngram convert MODEL.arpa MODEL.bin`);
 * reading it would mean building the slots in memory, the load time this form exists to avoid.
 *
 * The loader checks everything a query or the sampler relies on before the model is used:
 * the header (magic, version, sanity values, checksum, recorded size = file size, layout), the
 * vocabulary (distinct tokens, the three special ones first), word ids < V, successor ranges
 * monotone and ending at the next order's count, hash tables with exactly `count` occupied
 * slots (so probing ends) whose indices are < count and whose prob and backoff are those of
 * their entry (bit for bit), and no NaN. That reads every page once;
 * probabilities are then used straight from the mapping. Not checked: that the keys match the
 * words (a file garbled just so loads and answers wrongly), and a file truncated while mapped
 * (SIGBUS, as with any mmap reader).
 *
 * Not here: ARPA (arpa_read.c, arpa_write.c), the choice of format (arpa_read.c). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ngram/model.h"
#include "util/outfile.h"

/* Declared again in arpa_read.c, which picks the loader from the first bytes. */

const unsigned char ngram_binary_magic[8] = {'S', 'E', 'Q', 'L', 'M', 'N', 'G', 0x01};

#define BIN_VERSION       2u
#define BIN_SANITY_U64    0x0123456789abcdefULL
#define BIN_SANITY_F32    3.25f
#define BIN_FIXED_HEADER  80u
#define BIN_LEVEL_HEADER  64u
#define BIN_CHECKSUM_AT   72u
#define BIN_MAX_SLOTS     (1ULL << 32) /* ngram_slot_start's range; bounds the arithmetic */
#define BIN_MAX_VOCAB_LEN (1ULL << 40)
#define CHECK_AHEAD       16 /* slots between a prefetch of their entry and its check */

enum { A_WORDS, A_PROB, A_BACKOFF, A_CHILD, A_SLOTS, A_INDEX, A_COUNT };

#define BIN_SLOT_BYTES 16u /* u64 key, f32 prob, f32 backoff */
/* The loader points the slots into the mapping: the host's ngram_slot must be those 16 bytes. */
_Static_assert(sizeof(ngram_slot) == BIN_SLOT_BYTES, "ngram_slot is not 16 bytes");

typedef struct {
    uint64_t count, nslots;
    uint64_t off[A_COUNT]; /* 0 = the array is absent */
    uint64_t len[A_COUNT]; /* bytes (not in the file; derived) */
} bin_level;

typedef struct {
    uint32_t order, unit;
    uint64_t file_size;
    uint64_t vocab_size, vocab_offset, vocab_bytes;
    bin_level level[SEQLM_NGRAM_MAX_ORDER];
} bin_header;

static uint64_t align8(uint64_t x) {
    return (x + 7) & ~(uint64_t)7;
}
static uint64_t align64(uint64_t x) {
    return (x + 63) & ~(uint64_t)63;
}

static uint32_t header_size(uint32_t order) {
    return BIN_FIXED_HEADER + BIN_LEVEL_HEADER * order;
}

/* Fills the offsets and lengths from order, counts, nslots and vocab_bytes; returns the file
 * size. Callers bound counts (< 2^32), nslots (<= 2^32) and vocab_bytes (<= 2^40) first, so
 * nothing here overflows. */
static uint64_t layout(bin_header *h) {
    uint64_t pos = header_size(h->order);
    h->vocab_offset = pos;
    pos = align8(pos + h->vocab_bytes);
    for (uint32_t n = 1; n <= h->order; n++) {
        bin_level *lv = &h->level[n - 1];
        uint64_t len[A_COUNT];
        len[A_WORDS] = n > 1 ? lv->count * n * sizeof(uint32_t) : 0;
        len[A_PROB] = lv->count * sizeof(float);
        len[A_BACKOFF] = lv->count * sizeof(float);
        len[A_CHILD] = n < h->order ? (lv->count + 1) * sizeof(uint32_t) : 0;
        len[A_SLOTS] = lv->nslots * BIN_SLOT_BYTES;
        len[A_INDEX] = lv->nslots * sizeof(uint32_t);
        for (int a = 0; a < A_COUNT; a++) {
            int present = a == A_PROB || a == A_BACKOFF || (a == A_WORDS && n > 1) ||
                          (a == A_CHILD && n < h->order) ||
                          ((a == A_SLOTS || a == A_INDEX) && n > 1);
            if (present && a == A_SLOTS) pos = align64(pos); /* the mapping is page aligned */
            lv->off[a] = present ? pos : 0;
            lv->len[a] = len[a];
            pos = align8(pos + len[a]);
        }
    }
    return pos;
}

/* --- little-endian fields ----------------------------------------------------------------- */

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static int host_is_little_endian(void) {
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* FNV-1a over the header, the checksum field counted as zeros. */
static uint64_t header_checksum(const unsigned char *p, uint32_t size) {
    uint64_t h = 1469598103934665603ULL;
    for (uint32_t i = 0; i < size; i++) {
        unsigned char c = i >= BIN_CHECKSUM_AT && i < BIN_CHECKSUM_AT + 8 ? 0 : p[i];
        h = (h ^ c) * 1099511628211ULL;
    }
    return h;
}

static void encode_header(const bin_header *h, unsigned char *p) {
    uint32_t size = header_size(h->order);
    memset(p, 0, size);
    memcpy(p, ngram_binary_magic, 8);
    put_u32(p + 8, BIN_VERSION);
    put_u32(p + 12, size);
    put_u64(p + 16, BIN_SANITY_U64);
    put_u32(p + 24, f32_bits(BIN_SANITY_F32));
    put_u32(p + 28, h->order);
    put_u32(p + 32, h->unit);
    put_u64(p + 40, h->file_size);
    put_u64(p + 48, h->vocab_size);
    put_u64(p + 56, h->vocab_offset);
    put_u64(p + 64, h->vocab_bytes);
    for (uint32_t n = 1; n <= h->order; n++) {
        unsigned char *q = p + BIN_FIXED_HEADER + BIN_LEVEL_HEADER * (n - 1);
        const bin_level *lv = &h->level[n - 1];
        put_u64(q, lv->count);
        put_u64(q + 8, lv->nslots);
        for (int a = 0; a < A_COUNT; a++) put_u64(q + 16 + 8 * a, lv->off[a]);
    }
    put_u64(p + BIN_CHECKSUM_AT, header_checksum(p, size));
}

/* --- writing --------------------------------------------------------------------------------- */

typedef struct {
    seqlm_outfile *f;
    uint64_t pos;
    unsigned char buf[1 << 14];
} writer;

static void put_bytes(writer *w, const void *p, size_t n) {
    seqlm_outfile_write(w->f, p, n);
    w->pos += n;
}

static void pad_to(writer *w, uint64_t pos) {
    static const unsigned char zeros[8];
    while (w->pos < pos) put_bytes(w, zeros, pos - w->pos < 8 ? (size_t)(pos - w->pos) : 8);
}

/* Arrays go out through a buffer in little-endian byte order, whatever the host's. */
static void put_u32_array(writer *w, const uint32_t *a, uint64_t n) {
    size_t per = sizeof w->buf / 4;
    for (uint64_t i = 0; i < n; i += per) {
        size_t k = n - i < per ? (size_t)(n - i) : per;
        for (size_t j = 0; j < k; j++) put_u32(w->buf + 4 * j, a[i + j]);
        put_bytes(w, w->buf, 4 * k);
    }
}

static void put_f32_array(writer *w, const float *a, uint64_t n) {
    size_t per = sizeof w->buf / 4;
    for (uint64_t i = 0; i < n; i += per) {
        size_t k = n - i < per ? (size_t)(n - i) : per;
        for (size_t j = 0; j < k; j++) put_u32(w->buf + 4 * j, f32_bits(a[i + j]));
        put_bytes(w, w->buf, 4 * k);
    }
}

/* Slots as u64 key, f32 prob, f32 backoff; empty ones all zero so files are reproducible. */
static void put_slots(writer *w, const ngram_slot *slots, uint64_t n) {
    size_t per = sizeof w->buf / BIN_SLOT_BYTES;
    for (uint64_t i = 0; i < n; i += per) {
        size_t k = n - i < per ? (size_t)(n - i) : per;
        for (size_t j = 0; j < k; j++) {
            const ngram_slot *s = &slots[i + j];
            unsigned char *q = w->buf + BIN_SLOT_BYTES * j;
            put_u64(q, s->key);
            put_u32(q + 8, s->key ? f32_bits(s->prob) : 0);
            put_u32(q + 12, s->key ? f32_bits(s->backoff) : 0);
        }
        put_bytes(w, w->buf, BIN_SLOT_BYTES * k);
    }
}

/* The index of empty slots is written as 0. */
static void put_index(writer *w, const ngram_slot *slots, const uint32_t *index, uint64_t n) {
    size_t per = sizeof w->buf / 4;
    for (uint64_t i = 0; i < n; i += per) {
        size_t k = n - i < per ? (size_t)(n - i) : per;
        for (size_t j = 0; j < k; j++) put_u32(w->buf + 4 * j, slots[i + j].key ? index[i + j] : 0);
        put_bytes(w, w->buf, 4 * k);
    }
}

seqlm_status seqlm_ngram_write_binary(const seqlm_ngram_model *lm, const char *path,
                                      seqlm_error *err) {
    if (lm->level[0].count != seqlm_vocab_size(lm->vocab))
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               "%s: the model has %" PRIu64 " unigrams for %zu vocabulary entries",
                               path, lm->level[0].count, seqlm_vocab_size(lm->vocab));
    bin_header h;
    memset(&h, 0, sizeof h);
    h.order = (uint32_t)lm->order;
    h.unit = (uint32_t)lm->unit;
    h.vocab_size = seqlm_vocab_size(lm->vocab);
    for (uint32_t id = 0; id < h.vocab_size; id++)
        h.vocab_bytes += strlen(seqlm_vocab_word(lm->vocab, id)) + 1;
    for (int n = 1; n <= lm->order; n++) {
        h.level[n - 1].count = lm->level[n - 1].count;
        h.level[n - 1].nslots = lm->level[n - 1].nslots;
    }
    h.file_size = layout(&h);
    writer *w = malloc(sizeof *w);
    if (!w) return seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
    w->pos = 0;
    w->f = seqlm_outfile_open(path, 0, err);
    if (!w->f) {
        free(w);
        return err ? err->status : SEQLM_ERR_IO;
    }
    unsigned char head[BIN_FIXED_HEADER + BIN_LEVEL_HEADER * SEQLM_NGRAM_MAX_ORDER];
    encode_header(&h, head);
    put_bytes(w, head, header_size(h.order));
    for (uint32_t id = 0; id < h.vocab_size; id++) {
        const char *s = seqlm_vocab_word(lm->vocab, id);
        put_bytes(w, s, strlen(s) + 1);
    }
    for (int n = 1; n <= lm->order; n++) {
        const ngram_level *lv = &lm->level[n - 1];
        const bin_level *b = &h.level[n - 1];
        for (int a = 0; a < A_COUNT; a++) {
            if (!b->off[a]) continue;
            pad_to(w, b->off[a]);
            switch (a) {
            case A_WORDS:
                put_u32_array(w, lv->words, lv->count * (uint64_t)n);
                break;
            case A_PROB:
                put_f32_array(w, lv->prob, lv->count);
                break;
            case A_BACKOFF:
                put_f32_array(w, lv->backoff, lv->count);
                break;
            case A_CHILD:
                put_u32_array(w, lv->child, lv->count + 1);
                break;
            case A_SLOTS:
                put_slots(w, lv->slots, lv->nslots);
                break;
            case A_INDEX:
                put_index(w, lv->slots, lv->index, lv->nslots);
                break;
            }
        }
    }
    pad_to(w, h.file_size);
    uint64_t written = w->pos;
    seqlm_outfile *f = w->f;
    free(w);
    if (written != h.file_size) { /* a bug in layout(): never leave a file that lies */
        seqlm_outfile_abort(f);
        return seqlm_error_set(err, SEQLM_ERR_IO,
                               "%s: internal error: wrote %" PRIu64 " bytes, expected %" PRIu64,
                               path, written, h.file_size);
    }
    return seqlm_outfile_commit(f, err);
}

/* --- loading --------------------------------------------------------------------------------- */

typedef struct {
    const char *path;
    const unsigned char *base;
    uint64_t size;
    seqlm_error *err;
} mapped;

static seqlm_status bad(const mapped *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "path: " + message, a format error. */
static seqlm_status bad(const mapped *m, const char *fmt, ...) {
    char msg[SEQLM_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return seqlm_error_set(m->err, SEQLM_ERR_FORMAT, "%s: %s", m->path, msg);
}

/* Reads and checks the header into h. */
static seqlm_status read_header(const mapped *m, bin_header *h) {
    const unsigned char *p = m->base;
    if (m->size < 8 || memcmp(p, ngram_binary_magic, 8) != 0)
        return bad(m, "not a seqlm binary model (bad magic bytes)");
    if (m->size < 16)
        return bad(m, "truncated: %" PRIu64 " bytes, expected at least %u (the header)", m->size,
                   BIN_FIXED_HEADER);
    uint32_t version = get_u32(p + 8);
    if (version == 1)
        return bad(m,
                   "binary format version 1 (from an older seqlm), this build reads version "
                   "%u: rebuild it from the ARPA file with `seqlm ngram convert MODEL.arpa "
                   "MODEL.bin`",
                   BIN_VERSION);
    if (version != BIN_VERSION)
        return bad(m, "binary format version %" PRIu32 ", this build reads version %u", version,
                   BIN_VERSION);
    if (m->size < BIN_FIXED_HEADER)
        return bad(m, "truncated: %" PRIu64 " bytes, expected at least %u (the header)", m->size,
                   BIN_FIXED_HEADER);
    float f;
    uint32_t fb = get_u32(p + 24);
    memcpy(&f, &fb, sizeof f);
    if (get_u64(p + 16) != BIN_SANITY_U64 || f != BIN_SANITY_F32)
        return bad(m, "sanity values do not match: written on a platform with another byte "
                      "order or float format, or corrupted (convert it through ARPA)");
    memset(h, 0, sizeof *h);
    h->order = get_u32(p + 28);
    if (h->order < 1 || h->order > SEQLM_NGRAM_MAX_ORDER)
        return bad(m, "header: order %" PRIu32 " is out of range (1 to %d)", h->order,
                   SEQLM_NGRAM_MAX_ORDER);
    uint32_t hsize = get_u32(p + 12);
    if (hsize != header_size(h->order))
        return bad(m, "header: size %" PRIu32 ", expected %" PRIu32 " for order %" PRIu32, hsize,
                   header_size(h->order), h->order);
    uint64_t recorded = get_u64(p + 40);
    if (m->size < hsize)
        return bad(m, "truncated: %" PRIu64 " bytes, expected %" PRIu64, m->size,
                   recorded > hsize ? recorded : hsize);
    if (get_u64(p + BIN_CHECKSUM_AT) != header_checksum(p, hsize))
        return bad(m, "header checksum mismatch: the file is corrupted");
    if (m->size < recorded)
        return bad(m, "truncated: %" PRIu64 " bytes, expected %" PRIu64, m->size, recorded);
    if (m->size > recorded)
        return bad(m, "%" PRIu64 " bytes, expected %" PRIu64 " (trailing data)", m->size, recorded);
    h->unit = get_u32(p + 32);
    if (h->unit > SEQLM_UNIT_BYTE) return bad(m, "header: unknown unit %" PRIu32, h->unit);
    h->file_size = recorded;
    h->vocab_size = get_u64(p + 48);
    h->vocab_bytes = get_u64(p + 64);
    if (h->vocab_size < 3 || h->vocab_size >= UINT32_MAX)
        return bad(m, "header: vocabulary size %" PRIu64 " is out of range", h->vocab_size);
    if (h->vocab_bytes > BIN_MAX_VOCAB_LEN || h->vocab_bytes > m->size)
        return bad(m, "header: vocabulary of %" PRIu64 " bytes does not fit in the file",
                   h->vocab_bytes);
    bin_header want = *h; /* what the offsets must be */
    for (uint32_t n = 1; n <= h->order; n++) {
        const unsigned char *q = p + BIN_FIXED_HEADER + BIN_LEVEL_HEADER * (n - 1);
        bin_level *lv = &h->level[n - 1];
        lv->count = get_u64(q);
        lv->nslots = get_u64(q + 8);
        for (int a = 0; a < A_COUNT; a++) lv->off[a] = get_u64(q + 16 + 8 * a);
        if (lv->count >= UINT32_MAX)
            return bad(m, "header: %" PRIu64 " %" PRIu32 "-grams is out of range", lv->count, n);
        if (n == 1 && lv->count != h->vocab_size)
            return bad(m, "header: %" PRIu64 " unigrams but %" PRIu64 " vocabulary entries",
                       lv->count, h->vocab_size);
        if (n == 1 && lv->nslots != 0) return bad(m, "header: unigrams have no hash table");
        if (n > 1 && (lv->nslots <= lv->count || lv->nslots > BIN_MAX_SLOTS))
            return bad(m,
                       "header: %" PRIu64 " hash slots for %" PRIu64 " %" PRIu32
                       "-grams (more than the count and at most 2^32 are needed)",
                       lv->nslots, lv->count, n);
        want.level[n - 1].count = lv->count;
        want.level[n - 1].nslots = lv->nslots;
    }
    uint64_t size = layout(&want);
    if (want.vocab_offset != get_u64(p + 56))
        return bad(m, "header: vocabulary at offset %" PRIu64 ", expected %" PRIu64,
                   get_u64(p + 56), want.vocab_offset);
    static const char *names[A_COUNT] = {"words", "prob", "backoff", "child", "slots", "index"};
    for (uint32_t n = 1; n <= h->order; n++)
        for (int a = 0; a < A_COUNT; a++) {
            if (h->level[n - 1].off[a] != want.level[n - 1].off[a])
                return bad(m,
                           "header: %" PRIu32 "-gram %s at offset %" PRIu64 ", expected %" PRIu64,
                           n, names[a], h->level[n - 1].off[a], want.level[n - 1].off[a]);
            if (want.level[n - 1].off[a] + want.level[n - 1].len[a] > m->size)
                return bad(m, "header: %" PRIu32 "-gram %s end beyond the end of the file", n,
                           names[a]);
        }
    if (size != recorded)
        return bad(m, "header: the arrays take %" PRIu64 " bytes, the header says %" PRIu64, size,
                   recorded);
    *h = want;
    h->file_size = recorded;
    return SEQLM_OK;
}

/* The vocabulary: V NUL-terminated tokens, ids 0..V-1 in order, the special ones first. */
static seqlm_vocab *read_vocab(const mapped *m, const bin_header *h) {
    const char *s = (const char *)m->base + h->vocab_offset;
    const char *end = s + h->vocab_bytes;
    seqlm_vocab *v = seqlm_vocab_create();
    if (!v) {
        seqlm_error_set(m->err, SEQLM_ERR_NOMEM, "%s: out of memory", m->path);
        return NULL;
    }
    for (uint64_t id = 0; id < h->vocab_size; id++) {
        const char *nul = memchr(s, '\0', (size_t)(end - s));
        if (!nul) {
            bad(m, "vocabulary: token %" PRIu64 " runs past the end of the vocabulary", id);
            goto fail;
        }
        int ok = nul > s;
        for (const char *c = s; c < nul && ok; c++)
            ok = !(*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r' || *c == '\v' || *c == '\f');
        if (!ok) {
            bad(m, "vocabulary: token %" PRIu64 " is empty or contains white space", id);
            goto fail;
        }
        int64_t got = seqlm_vocab_add(v, s, 0);
        if (got < 0) {
            seqlm_error_set(m->err, SEQLM_ERR_NOMEM, "%s: out of memory", m->path);
            goto fail;
        }
        if ((uint64_t)got != id) {
            bad(m, "vocabulary: token %" PRIu64 " \"%.40s\" repeats token %" PRId64, id, s, got);
            goto fail;
        }
        s = nul + 1;
    }
    if (s != end) {
        bad(m, "vocabulary: %zu bytes left over after %" PRIu64 " tokens", (size_t)(end - s),
            h->vocab_size);
        goto fail;
    }
    return v;
fail:
    seqlm_vocab_free(v);
    return NULL;
}

static int has_nan(const float *a, uint64_t n) {
    int nan = 0;
    for (uint64_t i = 0; i < n; i++) nan |= isnan(a[i]);
    return nan;
}

/* Checks the arrays the level points to (see the file comment). */
static seqlm_status check_level(const mapped *m, const seqlm_ngram_model *lm, int n) {
    const ngram_level *lv = &lm->level[n - 1];
    uint64_t V = lm->level[0].count;
    if (n > 1) {
        uint64_t total = lv->count * (uint64_t)n;
        uint32_t worst = 0;
        for (uint64_t i = 0; i < total; i++) worst = lv->words[i] > worst ? lv->words[i] : worst;
        if (lv->count > 0 && worst >= V)
            return bad(m, "%d-grams: word id %" PRIu32 " is not below the vocabulary size %" PRIu64,
                       n, worst, V);
        uint64_t used = 0;
        for (uint64_t s = 0; s < lv->nslots; s++) {
            const ngram_slot *slot = &lv->slots[s];
            if (s + CHECK_AHEAD < lv->nslots) { /* the entries are random: overlap the misses */
                uint32_t ahead = lv->index[s + CHECK_AHEAD];
                if (ahead < lv->count) {
                    __builtin_prefetch(&lv->prob[ahead]);
                    __builtin_prefetch(&lv->backoff[ahead]);
                }
            }
            if (!slot->key) continue;
            used++;
            uint32_t i = lv->index[s];
            if (i >= lv->count)
                return bad(
                    m, "%d-grams: hash slot %" PRIu64 " points to entry %" PRIu32 " of %" PRIu64, n,
                    s, i, lv->count);
            if (f32_bits(slot->prob) != f32_bits(lv->prob[i]) ||
                f32_bits(slot->backoff) != f32_bits(lv->backoff[i]))
                return bad(m,
                           "%d-grams: hash slot %" PRIu64 " disagrees with entry %" PRIu32
                           " on its probability or backoff weight",
                           n, s, i);
        }
        if (used != lv->count)
            return bad(m, "%d-grams: %" PRIu64 " hash slots in use for %" PRIu64 " n-grams", n,
                       used, lv->count);
    }
    if (n < lm->order) {
        uint64_t next = lm->level[n].count;
        if (lv->child[0] != 0) return bad(m, "%d-grams: successor ranges do not start at 0", n);
        for (uint64_t i = 0; i < lv->count; i++)
            if (lv->child[i + 1] < lv->child[i])
                return bad(m, "%d-grams: successor ranges decrease at entry %" PRIu64, n, i + 1);
        if (lv->child[lv->count] != next)
            return bad(m, "%d-grams: successor ranges end at %" PRIu32 ", expected %" PRIu64, n,
                       lv->child[lv->count], next);
    }
    if (has_nan(lv->prob, lv->count) || has_nan(lv->backoff, lv->count))
        return bad(m, "%d-grams: a probability or backoff weight is NaN", n);
    return SEQLM_OK;
}

seqlm_ngram_model *ngram_binary_load(const char *path, seqlm_error *err) {
    mapped m = {path, NULL, 0, err};
    if (!host_is_little_endian()) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT,
                        "%s: the binary form is little-endian and this host is not; load the "
                        "ARPA form instead",
                        path);
        return NULL;
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        seqlm_error_set(err, SEQLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        seqlm_error_set(err, SEQLM_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (st.st_size <= 0 || (uint64_t)st.st_size > SIZE_MAX) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT, "%s: %s", path,
                        st.st_size <= 0 ? "empty file" : "too large to map on this host");
        close(fd);
        return NULL;
    }
    m.size = (uint64_t)st.st_size;
    void *base = mmap(NULL, (size_t)m.size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED) {
        seqlm_error_set(err, SEQLM_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        return NULL;
    }
    m.base = base;
    bin_header h;
    seqlm_vocab *v = NULL;
    seqlm_ngram_model *lm = NULL;
    if (read_header(&m, &h)) goto fail;
    if (!(v = read_vocab(&m, &h))) goto fail;
    lm = ngram_model_new((int)h.order, (seqlm_unit)h.unit, v);
    if (!lm) {
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    v = NULL; /* the model owns it */
    lm->map = base;
    lm->map_len = (size_t)m.size;
    base = NULL; /* and the mapping */
    for (int n = 1; n <= lm->order; n++) {
        ngram_level *lv = &lm->level[n - 1];
        const bin_level *b = &h.level[n - 1];
        unsigned char *p = lm->map;
        lv->count = b->count;
        lv->nslots = b->nslots;
        lv->words = b->off[A_WORDS] ? (uint32_t *)(void *)(p + b->off[A_WORDS]) : NULL;
        lv->prob = (float *)(void *)(p + b->off[A_PROB]);
        lv->backoff = (float *)(void *)(p + b->off[A_BACKOFF]);
        lv->child = b->off[A_CHILD] ? (uint32_t *)(void *)(p + b->off[A_CHILD]) : NULL;
        lv->slots = b->off[A_SLOTS] ? (ngram_slot *)(void *)(p + b->off[A_SLOTS]) : NULL;
        lv->index = b->off[A_INDEX] ? (uint32_t *)(void *)(p + b->off[A_INDEX]) : NULL;
    }
    /* The orders are checked in parallel (each reads its own pages); the lowest one's error
     * wins, as in a serial check. */
    seqlm_error errs[SEQLM_NGRAM_MAX_ORDER];
    seqlm_status sts[SEQLM_NGRAM_MAX_ORDER];
#pragma omp parallel for schedule(dynamic, 1)
    for (int n = 1; n <= lm->order; n++) {
        mapped mn = m;
        mn.err = &errs[n - 1];
        sts[n - 1] = check_level(&mn, lm, n);
    }
    for (int n = 1; n <= lm->order; n++)
        if (sts[n - 1] != SEQLM_OK) {
            if (err) *err = errs[n - 1];
            goto fail;
        }
    return lm;
fail:
    seqlm_vocab_free(v);
    seqlm_ngram_free(lm);
    if (base) munmap(base, (size_t)m.size);
    return NULL;
}
