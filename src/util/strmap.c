/* strmap.c - interned strings <-> dense ids (see strmap.h). FNV-1a, linear probing, load
 * factor <= 1/2. */
#include "util/strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

void strmap_init(strmap *m) {
    memset(m, 0, sizeof *m);
}

void strmap_free(strmap *m) {
    free(m->pool);
    free(m->off);
    free(m->count);
    free(m->slot);
    memset(m, 0, sizeof *m);
}

int64_t strmap_find(const strmap *m, const char *s, size_t len) {
    if (!m->nslot) return -1;
    size_t mask = m->nslot - 1;
    for (size_t i = hash(s, len) & mask;; i = (i + 1) & mask) {
        uint32_t v = m->slot[i];
        if (!v) return -1;
        const char *t = m->pool + m->off[v - 1];
        if (strncmp(t, s, len) == 0 && t[len] == '\0') return v - 1;
    }
}

static int rehash(strmap *m, size_t nslot) {
    uint32_t *slot = calloc(nslot, sizeof *slot);
    if (!slot) return -1;
    for (size_t id = 0; id < m->n; id++) {
        const char *t = m->pool + m->off[id];
        size_t i = hash(t, strlen(t)) & (nslot - 1);
        while (slot[i]) i = (i + 1) & (nslot - 1);
        slot[i] = (uint32_t)id + 1;
    }
    free(m->slot);
    m->slot = slot;
    m->nslot = nslot;
    return 0;
}

int64_t strmap_add(strmap *m, const char *s, size_t len, uint64_t inc) {
    int64_t id = strmap_find(m, s, len);
    if (id >= 0) {
        m->count[id] += inc;
        return id;
    }
    if (m->n >= UINT32_MAX - 1) return -1;
    if (2 * (m->n + 1) > m->nslot && rehash(m, m->nslot ? 2 * m->nslot : 64)) return -1;
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        size_t *off = realloc(m->off, cap * sizeof *off);
        if (!off) return -1;
        m->off = off;
        uint64_t *count = realloc(m->count, cap * sizeof *count);
        if (!count) return -1;
        m->count = count;
        m->cap = cap;
    }
    if (m->pool_len + len + 1 > m->pool_cap) {
        size_t cap = m->pool_cap ? m->pool_cap : 4096;
        while (cap < m->pool_len + len + 1) cap *= 2;
        char *pool = realloc(m->pool, cap);
        if (!pool) return -1;
        m->pool = pool;
        m->pool_cap = cap;
    }
    memcpy(m->pool + m->pool_len, s, len);
    m->pool[m->pool_len + len] = '\0';
    m->off[m->n] = m->pool_len;
    m->count[m->n] = inc;
    m->pool_len += len + 1;
    size_t mask = m->nslot - 1, i = hash(s, len) & mask;
    while (m->slot[i]) i = (i + 1) & mask;
    m->slot[i] = (uint32_t)m->n + 1;
    return (int64_t)m->n++;
}

char *strmap_join_lines(const strmap *m) {
    size_t len = 1;
    for (size_t i = 0; i < m->n; i++) len += strlen(strmap_str(m, i)) + 1;
    char *out = malloc(len), *q = out;
    if (!out) return NULL;
    for (size_t i = 0; i < m->n; i++) q += sprintf(q, "%s\n", strmap_str(m, i));
    *q = '\0';
    return out;
}

int strmap_split_lines(strmap *m, const char *text) {
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (strmap_find(m, p, len) >= 0 || strmap_add(m, p, len, 0) < 0) return -1;
        p += len + (nl ? 1 : 0);
    }
    return 0;
}
