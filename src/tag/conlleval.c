/* conlleval.c - chunk precision/recall/F1 exactly as the CoNLL shared tasks' conlleval.pl.
 *
 * The tags of all sentences form one stream in which every sentence boundary is an "O" token
 * (not counted as a token). A tag "B-PER" splits at its first '-' into chunk tag "B" and type
 * "PER"; a tag without '-' has an empty type. Chunks start and end by conlleval's
 * startOfChunk / endOfChunk rules (so a stray I-X after O starts a chunk, and a change of type
 * ends one); a guessed chunk is correct only if it starts and ends where a gold chunk does,
 * with the same type. Token accuracy counts tags that are equal as strings. Not here: IOBES
 * conversions, the "raw" (-r) mode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqlm/tag.h"

static void split(const char *tag, char *t, char *type) {
    const char *d = strchr(tag, '-');
    if (d) {
        size_t n = (size_t)(d - tag);
        if (n > 63) n = 63;
        memcpy(t, tag, n);
        t[n] = '\0';
        snprintf(type, 64, "%s", d + 1);
    } else {
        snprintf(t, 64, "%s", tag);
        type[0] = '\0';
    }
}

static int eq(const char *a, const char *b) {
    return strcmp(a, b) == 0;
}

static int end_of_chunk(const char *pt, const char *t, const char *ptype, const char *type) {
    int e = (eq(pt, "B") && eq(t, "B")) || (eq(pt, "B") && eq(t, "O")) ||
            (eq(pt, "I") && eq(t, "B")) || (eq(pt, "I") && eq(t, "O")) ||
            (eq(pt, "E") && eq(t, "E")) || (eq(pt, "E") && eq(t, "I")) ||
            (eq(pt, "E") && eq(t, "O"));
    if (!eq(pt, "O") && !eq(pt, ".") && !eq(ptype, type)) e = 1;
    if (eq(pt, "]") || eq(pt, "[")) e = 1;
    return e;
}

static int start_of_chunk(const char *pt, const char *t, const char *ptype, const char *type) {
    int s = (eq(pt, "B") && eq(t, "B")) || (eq(pt, "I") && eq(t, "B")) ||
            (eq(pt, "O") && eq(t, "B")) || (eq(pt, "O") && eq(t, "I")) ||
            (eq(pt, "E") && eq(t, "E")) || (eq(pt, "E") && eq(t, "I")) ||
            (eq(pt, "O") && eq(t, "E"));
    if (!eq(t, "O") && !eq(t, ".") && !eq(ptype, type)) s = 1;
    if (eq(t, "[") || eq(t, "]")) s = 1;
    return s;
}

static seqlm_chunk_type *type_of(seqlm_conlleval *e, const char *name) {
    size_t lo = 0, hi = e->n_types;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(e->types[mid].type, name);
        if (c == 0) return &e->types[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (e->n_types == e->cap_types) {
        size_t cap = e->cap_types ? 2 * e->cap_types : 16;
        seqlm_chunk_type *t = realloc(e->types, cap * sizeof *t);
        if (!t) return NULL;
        e->types = t;
        e->cap_types = cap;
    }
    memmove(e->types + lo + 1, e->types + lo, (e->n_types - lo) * sizeof *e->types);
    memset(&e->types[lo], 0, sizeof e->types[lo]);
    snprintf(e->types[lo].type, sizeof e->types[lo].type, "%s", name);
    e->n_types++;
    return &e->types[lo];
}

void seqlm_conlleval_init(seqlm_conlleval *e) {
    memset(e, 0, sizeof *e);
    strcpy(e->last_gold, "O");
    strcpy(e->last_guess, "O");
}

void seqlm_conlleval_free(seqlm_conlleval *e) {
    free(e->types);
    e->types = NULL;
    e->n_types = e->cap_types = 0;
}

/* One token of the stream; boundary: the sentence-break pseudo token. */
static void step(seqlm_conlleval *e, const char *gold, const char *guess, int boundary) {
    char c[64], ct[64], g[64], gt[64], lc[64], lct[64], lg[64], lgt[64];
    split(gold, c, ct);
    split(guess, g, gt);
    split(e->last_gold, lc, lct);
    split(e->last_guess, lg, lgt);
    seqlm_chunk_type *ty;
    if (e->in_correct) {
        int ec = end_of_chunk(lc, c, lct, ct), eg = end_of_chunk(lg, g, lgt, gt);
        if (ec && eg && eq(lgt, lct)) {
            e->in_correct = 0;
            e->correct++;
            if ((ty = type_of(e, lct))) ty->correct++;
        } else if (ec != eg || !eq(gt, ct)) {
            e->in_correct = 0;
        }
    }
    int sc = start_of_chunk(lc, c, lct, ct), sg = start_of_chunk(lg, g, lgt, gt);
    if (sc && sg && eq(gt, ct)) e->in_correct = 1;
    if (sc) {
        e->gold++;
        if ((ty = type_of(e, ct))) ty->gold++;
    }
    if (sg) {
        e->guessed++;
        if ((ty = type_of(e, gt))) ty->guessed++;
    }
    if (!boundary) {
        e->tokens++;
        if (eq(gold, guess)) e->correct_tags++;
    }
    snprintf(e->last_gold, sizeof e->last_gold, "%s", gold);
    snprintf(e->last_guess, sizeof e->last_guess, "%s", guess);
}

void seqlm_conlleval_sentence(seqlm_conlleval *e, const char *const *gold, const char *const *guess,
                              size_t n) {
    for (size_t i = 0; i < n; i++) step(e, gold[i], guess[i], 0);
    step(e, "O", "O", 1);
}

void seqlm_conlleval_finish(seqlm_conlleval *e) {
    if (e->in_correct) {
        char lc[64], lct[64];
        split(e->last_gold, lc, lct);
        e->correct++;
        seqlm_chunk_type *ty = type_of(e, lct);
        if (ty) ty->correct++;
        e->in_correct = 0;
    }
}

void seqlm_conlleval_prf(uint64_t correct, uint64_t gold, uint64_t guessed, double *p, double *r,
                         double *f) {
    *p = guessed ? 100.0 * (double)correct / (double)guessed : 0.0;
    *r = gold ? 100.0 * (double)correct / (double)gold : 0.0;
    *f = *p + *r > 0 ? 2 * *p * *r / (*p + *r) : 0.0;
}

int seqlm_tags_are_bio(const char *const *tags, size_t n) {
    int chunk = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = tags[i];
        if (eq(t, "O")) continue;
        if ((t[0] == 'B' || t[0] == 'I') && t[1] == '-' && t[2]) {
            chunk = 1;
            continue;
        }
        return 0;
    }
    return chunk;
}
