/* data.c - labelled sentences for classification: reading the input formats (LABEL<TAB>TEXT,
 * NSMC's id/document/label TSV, one text per line), interning labels, folds and held-out parts.
 * Not here: tokens and ids (model.c encodes a data set under a model's vocabulary). */
#include <stdlib.h>
#include <string.h>

#include "seqlm/classify.h"

static const char *const format_names[] = {"tsv", "nsmc", "text"};

const char *seqlm_cls_format_name(seqlm_cls_format f) {
    return (unsigned)f < 3 ? format_names[f] : "?";
}

int seqlm_cls_format_parse(const char *name, seqlm_cls_format *f) {
    for (int i = 0; i < 3; i++)
        if (strcmp(name, format_names[i]) == 0) {
            *f = (seqlm_cls_format)i;
            return 0;
        }
    return -1;
}

seqlm_classify_data *seqlm_classify_data_create(void) {
    return calloc(1, sizeof(seqlm_classify_data));
}

void seqlm_classify_data_free(seqlm_classify_data *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) free(d->text[i]);
    for (size_t i = 0; i < d->n_labels; i++) free(d->labels[i]);
    for (size_t i = 0; i < d->n_files; i++) free(d->files[i]);
    free(d->text);
    free(d->label);
    free(d->file);
    free(d->line);
    free(d->index);
    free(d->labels);
    free(d->files);
    free(d);
}

/* The index of label in d->labels, added if new; -1 when out of memory. */
static int32_t intern_label(seqlm_classify_data *d, const char *label, size_t len) {
    for (size_t i = 0; i < d->n_labels; i++)
        if (strlen(d->labels[i]) == len && memcmp(d->labels[i], label, len) == 0) return (int32_t)i;
    char **p = realloc(d->labels, (d->n_labels + 1) * sizeof *p);
    if (!p) return -1;
    d->labels = p;
    if (!(p[d->n_labels] = strndup(label, len))) return -1;
    return (int32_t)d->n_labels++;
}

static int32_t intern_file(seqlm_classify_data *d, const char *path) {
    for (size_t i = 0; i < d->n_files; i++)
        if (strcmp(d->files[i], path) == 0) return (int32_t)i;
    char **p = realloc(d->files, (d->n_files + 1) * sizeof *p);
    if (!p) return -1;
    d->files = p;
    if (!(p[d->n_files] = strdup(path))) return -1;
    return (int32_t)d->n_files++;
}

static int grow(seqlm_classify_data *d) {
    if (d->n < d->cap) return 0;
    size_t cap = d->cap ? d->cap * 2 : 1024;
    char **t = realloc(d->text, cap * sizeof *t);
    if (t) d->text = t;
    int32_t *l = realloc(d->label, cap * sizeof *l);
    if (l) d->label = l;
    uint32_t *f = realloc(d->file, cap * sizeof *f);
    if (f) d->file = f;
    uint64_t *ln = realloc(d->line, cap * sizeof *ln);
    if (ln) d->line = ln;
    uint64_t *ix = realloc(d->index, cap * sizeof *ix);
    if (ix) d->index = ix;
    if (!t || !l || !f || !ln || !ix) return -1;
    d->cap = cap;
    return 0;
}

static int append(seqlm_classify_data *d, const char *text, size_t len, int32_t label,
                  uint32_t file, uint64_t line, uint64_t index) {
    if (grow(d)) return -1;
    char *t = strndup(text, len);
    if (!t) return -1;
    d->text[d->n] = t;
    d->label[d->n] = label;
    d->file[d->n] = file;
    d->line[d->n] = line;
    d->index[d->n] = index;
    d->n++;
    return 0;
}

static int is_blank(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\v' && s[i] != '\f') return 0;
    return 1;
}

static const char nsmc_header[] = "id\tdocument\tlabel";

seqlm_status seqlm_classify_data_read(seqlm_classify_data *d, const seqlm_classify_source *src,
                                      seqlm_error *err) {
    seqlm_reader *r = seqlm_reader_open_encoding(src->path, src->encoding, 1, err);
    if (!r) return err ? err->status : SEQLM_ERR_IO;
    int32_t file = intern_file(d, src->path);
    seqlm_cls_format fmt = src->format;
    int32_t fixed_label = -1;
    seqlm_status st = SEQLM_OK;
    if (file < 0) goto nomem;
    if (fmt == SEQLM_CLS_FORMAT_TEXT && src->label) {
        if (!*src->label || strpbrk(src->label, "\t\n")) {
            st = seqlm_error_set(err, SEQLM_ERR_ARG,
                                 "%s: the label '%s' must be non-empty and "
                                 "hold no tab or newline",
                                 src->path, src->label);
            goto done;
        }
        if ((fixed_label = intern_label(d, src->label, strlen(src->label))) < 0) goto nomem;
    }
    const char *line;
    size_t len;
    int rc;
    uint64_t index = 0;
    while ((rc = seqlm_reader_next(r, &line, &len, err)) == 1) {
        uint64_t ln = seqlm_reader_line(r);
        if (ln == 1 && len == sizeof nsmc_header - 1 && memcmp(line, nsmc_header, len) == 0) {
            fmt = SEQLM_CLS_FORMAT_NSMC; /* the header: auto-detected, or expected */
            continue;
        }
        if (ln == 1 && fmt == SEQLM_CLS_FORMAT_NSMC) {
            st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                 "%s: line 1: expected the NSMC header 'id<TAB>document<TAB>"
                                 "label'",
                                 src->path);
            goto done;
        }
        if (src->id_mod > 0 && fmt != SEQLM_CLS_FORMAT_NSMC) {
            st = seqlm_error_set(err, SEQLM_ERR_ARG,
                                 "%s: line %llu: selecting rows by id needs NSMC input (a "
                                 "first line 'id<TAB>document<TAB>label')",
                                 src->path, (unsigned long long)ln);
            goto done;
        }
        const char *text = line, *label = NULL;
        size_t text_len = len, label_len = 0;
        int keep = 1;
        if (fmt == SEQLM_CLS_FORMAT_TSV) {
            const char *tab = memchr(line, '\t', len);
            if (!tab) {
                st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                     "%s: line %llu: expected LABEL<TAB>TEXT (no tab in the "
                                     "line)",
                                     src->path, (unsigned long long)ln);
                goto done;
            }
            label = line;
            label_len = (size_t)(tab - line);
            text = tab + 1;
            text_len = len - label_len - 1;
        } else if (fmt == SEQLM_CLS_FORMAT_NSMC) {
            const char *t1 = memchr(line, '\t', len);
            const char *t2 = t1 ? memchr(t1 + 1, '\t', len - (size_t)(t1 + 1 - line)) : NULL;
            if (!t2 || memchr(t2 + 1, '\t', len - (size_t)(t2 + 1 - line))) {
                st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                     "%s: line %llu: expected 3 tab-separated fields (id, "
                                     "document, label)",
                                     src->path, (unsigned long long)ln);
                goto done;
            }
            unsigned long long id = 0;
            const char *p = line;
            if (p == t1) goto bad_id;
            for (; p < t1; p++) {
                if (*p < '0' || *p > '9' || id > (UINT64_MAX - 9) / 10) goto bad_id;
                id = id * 10 + (unsigned)(*p - '0');
            }
            text = t1 + 1;
            text_len = (size_t)(t2 - text);
            label = t2 + 1;
            label_len = len - (size_t)(label - line);
            if (src->id_mod > 0) keep = (id % (unsigned)src->id_mod == 0) == !!src->id_keep_zero;
            if (0) {
            bad_id:
                st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                     "%s: line %llu: the id must be a non-negative integer",
                                     src->path, (unsigned long long)ln);
                goto done;
            }
        }
        if (label && label_len == 0) {
            st = seqlm_error_set(err, SEQLM_ERR_FORMAT, "%s: line %llu: empty label", src->path,
                                 (unsigned long long)ln);
            goto done;
        }
        if (!src->allow_empty && is_blank(text, text_len)) {
            st = seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                 "%s: line %llu: empty text (--allow-empty reads it as one "
                                 "unknown token)",
                                 src->path, (unsigned long long)ln);
            goto done;
        }
        uint64_t rec = index++;
        if (!keep) continue;
        int32_t lab = fixed_label;
        if (label && (lab = intern_label(d, label, label_len)) < 0) goto nomem;
        if (append(d, text, text_len, lab, (uint32_t)file, ln, rec)) goto nomem;
    }
    if (rc < 0) st = err ? err->status : SEQLM_ERR_FORMAT;
    goto done;
nomem:
    st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", src->path);
done:
    seqlm_reader_free(r);
    return st;
}

seqlm_status seqlm_classify_data_add(seqlm_classify_data *d, const seqlm_classify_data *src,
                                     size_t i, seqlm_error *err) {
    int32_t file = intern_file(d, src->files[src->file[i]]);
    int32_t lab = -1;
    if (src->label[i] >= 0) {
        const char *name = src->labels[src->label[i]];
        lab = intern_label(d, name, strlen(name));
    }
    const char *t = src->text[i];
    if (file < 0 || (src->label[i] >= 0 && lab < 0) ||
        append(d, t, strlen(t), lab, (uint32_t)file, src->line[i], src->index[i]))
        return seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
    return SEQLM_OK;
}

seqlm_status seqlm_classify_data_fold(const seqlm_classify_data *d, int K, int fold,
                                      seqlm_classify_data *train, seqlm_classify_data *test,
                                      seqlm_error *err) {
    if (K < 2 || fold < 0 || fold >= K)
        return seqlm_error_set(err, SEQLM_ERR_ARG, "fold %d of %d: need K >= 2, 0 <= fold < K",
                               fold, K);
    for (size_t i = 0; i < d->n; i++) {
        seqlm_classify_data *to = (int)(d->index[i] % (uint64_t)K) == fold ? test : train;
        seqlm_status st = seqlm_classify_data_add(to, d, i, err);
        if (st != SEQLM_OK) return st;
    }
    return SEQLM_OK;
}

seqlm_status seqlm_classify_data_holdout(seqlm_classify_data *d, double fraction, uint64_t seed,
                                         seqlm_classify_data *heldout, seqlm_error *err) {
    if (!(fraction >= 0 && fraction < 1))
        return seqlm_error_set(err, SEQLM_ERR_ARG, "held-out fraction %g not in [0, 1)", fraction);
    size_t n = d->n, k = (size_t)(fraction * (double)n + 0.5);
    if (fraction > 0 && k == 0 && n >= 2) k = 1;
    if (k == 0) return SEQLM_OK;
    if (k >= n)
        return seqlm_error_set(err, SEQLM_ERR_DATA,
                               "holding out %g of %zu sentences leaves none to train on", fraction,
                               n);
    /* A seeded Fisher-Yates shuffle of the indices picks the k held out. */
    size_t *perm = malloc(n * sizeof *perm);
    uint8_t *out = calloc(n, 1);
    seqlm_classify_data *rest = seqlm_classify_data_create();
    seqlm_status st = SEQLM_OK;
    if (!perm || !out || !rest) {
        st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "out of memory");
        goto done;
    }
    seqlm_rng rng;
    seqlm_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)seqlm_rng_below(&rng, i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < k; i++) out[perm[i]] = 1;
    for (size_t i = 0; i < n && st == SEQLM_OK; i++)
        st = seqlm_classify_data_add(out[i] ? heldout : rest, d, i, err);
    if (st == SEQLM_OK) { /* d takes rest's records; rest takes d's old ones and is freed */
        seqlm_classify_data tmp = *d;
        *d = *rest;
        *rest = tmp;
    }
done:
    free(perm);
    free(out);
    seqlm_classify_data_free(rest);
    return st;
}
