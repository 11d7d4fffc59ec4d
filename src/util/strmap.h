/* strmap.h - interned strings <-> dense ids (internal: the tagger, the classifier's characters).
 *
 * A string pool plus an open-addressing hash table: ids are given in insertion order, strings
 * live in one growing buffer (so no allocation per string). Used for token types, tags,
 * vocabularies of words and characters. Not a general container: no removal. */
#ifndef SEQLM_UTIL_STRMAP_H
#define SEQLM_UTIL_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *pool; /* the strings, NUL-terminated, back to back */
    size_t pool_len, pool_cap;
    size_t *off; /* (count) offset of string id in pool */
    uint64_t *count;
    size_t n, cap;
    uint32_t *slot; /* (nslot) id + 1, 0 = empty */
    size_t nslot;
} strmap;

void strmap_init(strmap *m);
void strmap_free(strmap *m);
/* The id of s (len bytes), or -1. */
int64_t strmap_find(const strmap *m, const char *s, size_t len);
/* The id of s, added (count 0) if new; count is incremented by inc. -1 when out of memory. */
int64_t strmap_add(strmap *m, const char *s, size_t len, uint64_t inc);
static inline const char *strmap_str(const strmap *m, size_t id) {
    return m->pool + m->off[id];
}
/* The strings in id order, each followed by '\n' (how model files store them); NULL when out of
 * memory. The caller frees it. */
char *strmap_join_lines(const strmap *m);
/* Adds text's lines, in order, to m (an empty last line is no line); -1 when a line repeats an
 * earlier one (a garbled file) or out of memory. */
int strmap_split_lines(strmap *m, const char *text);

#endif
