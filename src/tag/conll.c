/* conll.c - reading tagging corpora: CoNLL column files and TOKEN<TAB>TAG files (one reader).
 *
 * One token a line, columns separated by runs of spaces or tabs, a blank line between
 * sentences, "-DOCSTART-" lines dropped (they are document marks, not sentences). Token and tag
 * strings are interned (strmap), line texts kept in one pool. Files in another encoding are
 * converted to UTF-8 line by line by the shared reader (seqlm_reader_open_encoding), so
 * everything after it sees UTF-8. Not here: what the tags mean. */
#include <stdlib.h>
#include <string.h>

#include "seqlm/tag.h"
#include "seqlm/text.h"
#include "util/strmap.h"

typedef struct {
    strmap types, tags;
    char *text; /* line texts back to back */
    size_t text_len, text_cap;
} pools;

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

void seqlm_tag_corpus_free(seqlm_tag_corpus *c) {
    if (!c) return;
    pools *pl = c->priv;
    if (pl) {
        strmap_free(&pl->types);
        strmap_free(&pl->tags);
        free(pl->text);
        free(pl);
    }
    free(c->path);
    free(c->sent_start);
    free(c->type);
    free(c->tag);
    free(c->line);
    free(c->text);
    free(c->types);
    free(c->tag_names);
    free(c);
}

size_t seqlm_tag_corpus_max_len(const seqlm_tag_corpus *c) {
    size_t m = 0;
    for (size_t s = 0; s < c->n_sent; s++) {
        size_t n = c->sent_start[s + 1] - c->sent_start[s];
        if (n > m) m = n;
    }
    return m;
}

#define MAX_COLS 64

seqlm_tag_corpus *seqlm_tag_corpus_read(const char *path, int column, int with_tags,
                                        seqlm_error *err) {
    return seqlm_tag_corpus_read_encoding(path, column, with_tags, NULL, err);
}

seqlm_tag_corpus *seqlm_tag_corpus_read_encoding(const char *path, int column, int with_tags,
                                                 const char *encoding, seqlm_error *err) {
    seqlm_reader *r = seqlm_reader_open_encoding(path, encoding, 1, err);
    if (!r) return NULL;
    seqlm_tag_corpus *c = calloc(1, sizeof *c);
    pools *pl = calloc(1, sizeof *pl);
    size_t *text_off = NULL, tok_cap = 0, sent_cap = 0, off_cap = 0;
    if (!c || !pl || !(c->path = strdup(path))) goto nomem;
    c->priv = pl;
    c->has_tags = with_tags;
    strmap_init(&pl->types);
    strmap_init(&pl->tags);
    const char *line;
    size_t len;
    int rc, open_sent = 0;
    uint64_t first_line = 0;
    while ((rc = seqlm_reader_next(r, &line, &len, err)) == 1) {
        const char *cs[MAX_COLS];
        size_t cl[MAX_COLS];
        int nc = 0;
        for (size_t i = 0; i < len;) {
            while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
            if (i >= len) break;
            size_t j = i;
            while (j < len && line[j] != ' ' && line[j] != '\t') j++;
            if (nc == MAX_COLS) {
                seqlm_error_set(err, SEQLM_ERR_FORMAT, "%s: line %llu: more than %d columns", path,
                                (unsigned long long)seqlm_reader_line(r), MAX_COLS);
                goto fail;
            }
            cs[nc] = line + i;
            cl[nc++] = j - i;
            i = j;
        }
        if (nc == 0) { /* sentence end */
            if (open_sent) {
                if (grow((void **)&c->sent_start, &sent_cap, c->n_sent + 2, sizeof(size_t)))
                    goto nomem;
                c->n_sent++;
                open_sent = 0;
            }
            continue;
        }
        if (cl[0] == 10 && memcmp(cs[0], "-DOCSTART-", 10) == 0) continue;
        uint64_t ln = seqlm_reader_line(r);
        if (with_tags) {
            if (c->columns == 0) {
                c->columns = nc;
                first_line = ln;
                if (nc < 2) {
                    seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                    "%s: line %llu: expected a token and a tag (2 or more "
                                    "columns separated by spaces or tabs), found 1 column",
                                    path, (unsigned long long)ln);
                    goto fail;
                }
                if (column > nc || column == 1) {
                    seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                    "%s: line %llu: no tag column %d (the line has %d columns; "
                                    "column 1 is the token)",
                                    path, (unsigned long long)ln, column, nc);
                    goto fail;
                }
            } else if (nc != c->columns) {
                seqlm_error_set(err, SEQLM_ERR_FORMAT,
                                "%s: line %llu: expected %d columns (as line %llu), found %d", path,
                                (unsigned long long)ln, c->columns, (unsigned long long)first_line,
                                nc);
                goto fail;
            }
        } else if (c->columns == 0 || nc < c->columns) {
            c->columns = nc;
        }
        if (!open_sent) {
            if (grow((void **)&c->sent_start, &sent_cap, c->n_sent + 2, sizeof(size_t))) goto nomem;
            c->sent_start[c->n_sent] = c->n_tok;
            open_sent = 1;
        }
        size_t n = c->n_tok;
        size_t need = n + 1;
        if (need > tok_cap) {
            size_t cap = tok_cap;
            if (grow((void **)&c->type, &cap, need, sizeof *c->type)) goto nomem;
            cap = tok_cap;
            if (grow((void **)&c->tag, &cap, need, sizeof *c->tag)) goto nomem;
            cap = tok_cap;
            if (grow((void **)&c->line, &cap, need, sizeof *c->line)) goto nomem;
            tok_cap = cap;
        }
        if (grow((void **)&text_off, &off_cap, need, sizeof *text_off)) goto nomem;
        int64_t ty = strmap_add(&pl->types, cs[0], cl[0], 1);
        if (ty < 0) goto nomem;
        c->type[n] = (uint32_t)ty;
        c->tag[n] = -1;
        if (with_tags) {
            int k = column ? column - 1 : nc - 1;
            int64_t tg = strmap_add(&pl->tags, cs[k], cl[k], 1);
            if (tg < 0) goto nomem;
            c->tag[n] = (int32_t)tg;
        }
        c->line[n] = ln;
        if (grow((void **)&pl->text, &pl->text_cap, pl->text_len + len + 1, 1)) goto nomem;
        memcpy(pl->text + pl->text_len, line, len);
        pl->text[pl->text_len + len] = '\0';
        text_off[n] = pl->text_len;
        pl->text_len += len + 1;
        c->n_tok++;
    }
    if (rc < 0) goto fail;
    if (open_sent) c->n_sent++;
    if (!c->sent_start && !(c->sent_start = malloc(sizeof *c->sent_start))) goto nomem;
    c->sent_start[c->n_sent] = c->n_tok;
    c->text = malloc((c->n_tok ? c->n_tok : 1) * sizeof *c->text);
    c->n_types = pl->types.n;
    c->types = malloc((c->n_types ? c->n_types : 1) * sizeof *c->types);
    c->n_tags = pl->tags.n;
    c->tag_names = malloc((c->n_tags ? c->n_tags : 1) * sizeof *c->tag_names);
    if (!c->text || !c->types || !c->tag_names) goto nomem;
    for (size_t i = 0; i < c->n_tok; i++) c->text[i] = pl->text + text_off[i];
    for (size_t i = 0; i < c->n_types; i++) c->types[i] = (char *)strmap_str(&pl->types, i);
    for (size_t i = 0; i < c->n_tags; i++) c->tag_names[i] = (char *)strmap_str(&pl->tags, i);
    free(text_off);
    seqlm_reader_free(r);
    return c;
nomem:
    seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
fail:
    free(text_off);
    seqlm_reader_free(r);
    seqlm_tag_corpus_free(c);
    return NULL;
}
