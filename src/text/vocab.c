/* vocab.c - token <-> id table: an open-addressing hash over ids, strings in one arena.
 * A slot holds the id and 32 more bits of the token's hash, so a probe compares strings only
 * when those match (about once per lookup): lookups are on the hot path of n-gram evaluation. */
#include "seqlm/vocab.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/outfile.h"

struct seqlm_vocab {
    char *chars; /* all tokens, NUL-terminated, back to back */
    size_t chars_len, chars_cap;
    size_t *offset;  /* offset[id] of its token in chars */
    uint64_t *count; /* count[id] */
    size_t size, cap;
    uint64_t *slots; /* hash slots hold (hash >> 32) << 32 | (id + 1); 0 = empty */
    size_t nslots;   /* a power of two */
};

/* FNV-1a; *len receives strlen(s). */
static uint64_t hash_str(const char *s, size_t *len) {
    uint64_t h = 1469598103934665603ULL;
    const char *p = s;
    for (; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    *len = (size_t)(p - s);
    return h ^ (h >> 29);
}

static uint64_t slot_of(uint64_t hash, uint32_t id) {
    return (hash >> 32) << 32 | ((uint64_t)id + 1);
}

/* The id in slot s if its hash bits and token match word, else -1. */
static int64_t slot_match(const seqlm_vocab *v, uint64_t s, uint64_t hash, const char *word) {
    if ((s ^ hash) >> 32) return -1;
    uint32_t id = (uint32_t)s - 1;
    return strcmp(v->chars + v->offset[id], word) == 0 ? (int64_t)id : -1;
}

static const char *specials[3] = {"<unk>", "<s>", "</s>"};

int seqlm_vocab_is_special(const char *word) {
    return strcmp(word, "<unk>") == 0 || strcmp(word, "<s>") == 0 || strcmp(word, "</s>") == 0;
}

static int rehash(seqlm_vocab *v, size_t nslots) {
    uint64_t *slots = calloc(nslots, sizeof *slots);
    if (!slots) return -1;
    for (size_t id = 0; id < v->size; id++) {
        size_t len;
        uint64_t h = hash_str(v->chars + v->offset[id], &len);
        size_t i = h & (nslots - 1);
        while (slots[i]) i = (i + 1) & (nslots - 1);
        slots[i] = slot_of(h, (uint32_t)id);
    }
    free(v->slots);
    v->slots = slots;
    v->nslots = nslots;
    return 0;
}

seqlm_vocab *seqlm_vocab_create(void) {
    seqlm_vocab *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    if (rehash(v, 1024) < 0) {
        free(v);
        return NULL;
    }
    for (int i = 0; i < 3; i++)
        if (seqlm_vocab_add(v, specials[i], 0) < 0) {
            seqlm_vocab_free(v);
            return NULL;
        }
    return v;
}

void seqlm_vocab_free(seqlm_vocab *v) {
    if (!v) return;
    free(v->chars);
    free(v->offset);
    free(v->count);
    free(v->slots);
    free(v);
}

int64_t seqlm_vocab_find(const seqlm_vocab *v, const char *word) {
    size_t len;
    uint64_t h = hash_str(word, &len);
    size_t i = h & (v->nslots - 1);
    while (v->slots[i]) {
        int64_t id = slot_match(v, v->slots[i], h, word);
        if (id >= 0) return id;
        i = (i + 1) & (v->nslots - 1);
    }
    return -1;
}

/* In groups of FIND_GROUP words: hash them all and prefetch their first slots, then the
 * tokens those slots name, then probe as seqlm_vocab_find does, now mostly from cache. */
#define FIND_GROUP 16
void seqlm_vocab_find_many(const seqlm_vocab *v, const char *const *words, size_t n, int64_t *ids) {
    const size_t mask = v->nslots - 1;
    for (size_t g = 0; g < n; g += FIND_GROUP) {
        size_t m = n - g < FIND_GROUP ? n - g : FIND_GROUP, len;
        uint64_t h[FIND_GROUP];
        for (size_t k = 0; k < m; k++) {
            h[k] = hash_str(words[g + k], &len);
            __builtin_prefetch(&v->slots[h[k] & mask]);
        }
        for (size_t k = 0; k < m; k++) {
            uint64_t s = v->slots[h[k] & mask];
            if (s && !((s ^ h[k]) >> 32)) __builtin_prefetch(&v->offset[(uint32_t)s - 1]);
        }
        for (size_t k = 0; k < m; k++) {
            uint64_t s = v->slots[h[k] & mask];
            if (s && !((s ^ h[k]) >> 32)) __builtin_prefetch(v->chars + v->offset[(uint32_t)s - 1]);
        }
        for (size_t k = 0; k < m; k++) {
            int64_t id = -1;
            for (size_t i = h[k] & mask; v->slots[i]; i = (i + 1) & mask)
                if ((id = slot_match(v, v->slots[i], h[k], words[g + k])) >= 0) break;
            ids[g + k] = id;
        }
    }
}

int64_t seqlm_vocab_add(seqlm_vocab *v, const char *word, uint64_t count) {
    size_t len;
    uint64_t h = hash_str(word, &len);
    size_t i = h & (v->nslots - 1);
    while (v->slots[i]) {
        int64_t id = slot_match(v, v->slots[i], h, word);
        if (id >= 0) {
            v->count[id] += count;
            return id;
        }
        i = (i + 1) & (v->nslots - 1);
    }
    if (v->size == UINT32_MAX - 1) return -1;
    if ((v->size + 1) * 2 > v->nslots) {
        /* Grow first, so that a failed allocation leaves the table as it was. */
        if (rehash(v, v->nslots * 2) < 0) return -1;
        i = h & (v->nslots - 1);
        while (v->slots[i]) i = (i + 1) & (v->nslots - 1);
    }
    size_t n = len + 1;
    if (v->chars_len + n > v->chars_cap) {
        size_t cap = v->chars_cap ? v->chars_cap * 2 : 1 << 16;
        while (v->chars_len + n > cap) cap *= 2;
        char *p = realloc(v->chars, cap);
        if (!p) return -1;
        v->chars = p;
        v->chars_cap = cap;
    }
    if (v->size == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 1024;
        size_t *o = realloc(v->offset, cap * sizeof *o);
        if (!o) return -1;
        v->offset = o;
        uint64_t *c = realloc(v->count, cap * sizeof *c);
        if (!c) return -1;
        v->count = c;
        v->cap = cap;
    }
    memcpy(v->chars + v->chars_len, word, n);
    uint32_t id = (uint32_t)v->size++;
    v->offset[id] = v->chars_len;
    v->count[id] = count;
    v->chars_len += n;
    v->slots[i] = slot_of(h, id);
    return id;
}

size_t seqlm_vocab_size(const seqlm_vocab *v) {
    return v->size;
}

const char *seqlm_vocab_word(const seqlm_vocab *v, uint32_t id) {
    return id < v->size ? v->chars + v->offset[id] : NULL;
}

uint64_t seqlm_vocab_count(const seqlm_vocab *v, uint32_t id) {
    return id < v->size ? v->count[id] : 0;
}

typedef struct {
    uint64_t count;
    uint32_t id;
} by_count;

static int cmp_by_count(const void *a, const void *b) {
    const by_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

seqlm_vocab *seqlm_vocab_prune(const seqlm_vocab *v, uint64_t min_count, size_t max_vocab,
                               seqlm_error *err) {
    seqlm_vocab *out = seqlm_vocab_create();
    by_count *order = malloc((v->size + 1) * sizeof *order);
    if (!out || !order) goto nomem;
    size_t n = 0;
    for (uint32_t id = 3; id < v->size; id++) order[n++] = (by_count){v->count[id], id};
    qsort(order, n, sizeof *order, cmp_by_count);
    for (int i = 0; i < 3; i++) out->count[i] = v->count[i];
    for (size_t k = 0; k < n; k++) {
        const char *w = v->chars + v->offset[order[k].id];
        int keep = order[k].count >= min_count && (max_vocab == 0 || out->size < max_vocab);
        if (keep) {
            if (seqlm_vocab_add(out, w, order[k].count) < 0) goto nomem;
        } else {
            out->count[SEQLM_UNK] += order[k].count;
        }
    }
    free(order);
    return out;
nomem:
    free(order);
    seqlm_vocab_free(out);
    seqlm_error_set(err, SEQLM_ERR_NOMEM, "vocabulary: out of memory");
    return NULL;
}

seqlm_vocab *seqlm_vocab_from_corpus(const char *path, seqlm_unit unit, seqlm_error *err) {
    seqlm_reader *r = seqlm_reader_open(path, unit != SEQLM_UNIT_BYTE, err);
    if (!r) return NULL;
    seqlm_vocab *v = seqlm_vocab_create();
    seqlm_tokens toks = {0};
    const char *line;
    size_t len;
    int rc;
    if (!v) goto nomem;
    while ((rc = seqlm_reader_next(r, &line, &len, err)) == 1) {
        if (seqlm_tokenize(line, len, unit, &toks) < 0) goto nomem;
        for (size_t i = 0; i < toks.count; i++) {
            const char *w = seqlm_token(&toks, i);
            if (unit == SEQLM_UNIT_WORD && (strcmp(w, "<s>") == 0 || strcmp(w, "</s>") == 0)) {
                seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                "%s: line %" PRIu64 ": the sentence markers <s> and </s> are added "
                                "by seqlm and may not appear in the text",
                                path, seqlm_reader_line(r));
                goto fail;
            }
            if (seqlm_vocab_add(v, w, 1) < 0) goto nomem;
        }
        v->count[SEQLM_EOS]++;
    }
    if (rc < 0) goto fail;
    seqlm_tokens_free(&toks);
    seqlm_reader_free(r);
    return v;
nomem:
    seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory while counting tokens", path);
fail:
    seqlm_tokens_free(&toks);
    seqlm_reader_free(r);
    seqlm_vocab_free(v);
    return NULL;
}

seqlm_status seqlm_vocab_save(const seqlm_vocab *v, const char *path, seqlm_error *err) {
    seqlm_outfile *f = seqlm_outfile_open(path, seqlm_has_suffix(path, ".gz"), err);
    if (!f) return err ? err->status : SEQLM_ERR_IO;
    for (uint32_t id = 0; id < v->size; id++)
        seqlm_outfile_printf(f, "%s\t%" PRIu64 "\n", v->chars + v->offset[id], v->count[id]);
    return seqlm_outfile_commit(f, err);
}

seqlm_vocab *seqlm_vocab_load(const char *path, seqlm_error *err) {
    seqlm_reader *r = seqlm_reader_open(path, 1, err);
    if (!r) return NULL;
    seqlm_vocab *v = seqlm_vocab_create();
    if (!v) {
        seqlm_reader_free(r);
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    const char *line;
    size_t len;
    int rc;
    uint64_t n = 0;
    char *word = NULL; /* the token of the current line */
    size_t word_cap = 0;
    while ((rc = seqlm_reader_next(r, &line, &len, err)) == 1) {
        const char *tab = memchr(line, '\t', len);
        char *end = NULL;
        unsigned long long count = 0;
        errno = 0;
        if (tab && tab > line && tab[1] >= '0' && tab[1] <= '9')
            count = strtoull(tab + 1, &end, 10);
        if (!tab || tab == line || !end || *end != '\0' || errno == ERANGE ||
            memchr(line, ' ', (size_t)(tab - line))) {
            seqlm_error_set(err, SEQLM_ERR_FORMAT, "%s: line %" PRIu64 ": expected TOKEN<TAB>COUNT",
                            path, seqlm_reader_line(r));
            goto fail;
        }
        size_t wl = (size_t)(tab - line);
        if (wl + 1 > word_cap) {
            char *p = realloc(word, wl + 1);
            if (!p) {
                seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
                goto fail;
            }
            word = p;
            word_cap = wl + 1;
        }
        memcpy(word, line, wl);
        word[wl] = '\0';
        if (n < 3) {
            if (strcmp(word, specials[n]) != 0) {
                seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                "%s: line %" PRIu64 ": expected %s (the first three lines are "
                                "<unk>, <s>, </s>)",
                                path, seqlm_reader_line(r), specials[n]);
                goto fail;
            }
            v->count[n] = count;
        } else {
            if (seqlm_vocab_find(v, word) >= 0) {
                seqlm_error_set(err, SEQLM_ERR_FORMAT, "%s: line %" PRIu64 ": duplicate token '%s'",
                                path, seqlm_reader_line(r), word);
                goto fail;
            }
            if (seqlm_vocab_add(v, word, count) < 0) {
                seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
                goto fail;
            }
        }
        n++;
    }
    if (rc < 0) goto fail;
    if (n < 3) {
        seqlm_error_set(err, SEQLM_ERR_FORMAT, "%s: not a vocabulary file (fewer than 3 lines)",
                        path);
        goto fail;
    }
    free(word);
    seqlm_reader_free(r);
    return v;
fail:
    free(word);
    seqlm_reader_free(r);
    seqlm_vocab_free(v);
    return NULL;
}
