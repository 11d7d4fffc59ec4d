/* metadata.c - the string -> string map a model file carries in its "__metadata__".
 *
 * A model has a few dozen entries at most (hyperparameters, the vocabulary as one string), so
 * this is two parallel arrays searched linearly, in insertion order: a file written from it
 * lists the keys in the order they were set, which keeps written files byte-identical from run
 * to run. Not a general hash map. */
#include "seqlm/modelfile.h"

#include <stdlib.h>
#include <string.h>

static char *dup_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* On an allocation failure m is left as it was; seqlm_metadata_get then shows the old value
 * (or none), which is how the reader notices. */
void seqlm_metadata_set(seqlm_metadata *m, const char *key, const char *value) {
    if (!m || !key || !value) return;
    char *v = dup_string(value); /* before freeing: value may be the old value itself */
    if (!v) return;
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->keys[i], key) == 0) {
            free(m->values[i]);
            m->values[i] = v;
            return;
        }
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        char **keys = realloc(m->keys, cap * sizeof *keys);
        if (!keys) {
            free(v);
            return;
        }
        m->keys = keys;
        char **values = realloc(m->values, cap * sizeof *values);
        if (!values) {
            free(v);
            return;
        }
        m->values = values;
        m->cap = cap;
    }
    char *k = dup_string(key);
    if (!k) {
        free(v);
        return;
    }
    m->keys[m->count] = k;
    m->values[m->count] = v;
    m->count++;
}

const char *seqlm_metadata_get(const seqlm_metadata *m, const char *key) {
    if (!m || !key) return NULL;
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->keys[i], key) == 0) return m->values[i];
    return NULL;
}

void seqlm_metadata_free(seqlm_metadata *m) {
    if (!m) return;
    for (size_t i = 0; i < m->count; i++) {
        free(m->keys[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof *m);
}
