/* arpa_read.c - loading a model: the ARPA text form (plain or gzipped), or the binary form
 * (binary.c) when the file starts with its magic bytes.
 *
 * ARPA as KenLM and SRILM write it: free text (and our "# seqlm n-gram model: order=N unit=U"
 * comment) before "\data\", one "ngram N=COUNT" line per order, then a "\N-grams:" section per
 * order, each line "log10p w1 .. wn [log10backoff]" split on any white space, and "\end\".
 * Sections need not be sorted (KenLM's are not): each order is read into temporary arrays, then
 * sorted by word ids (an LSD radix sort of a permutation) while it is copied into the model's
 * single block. Peak memory is therefore the model plus the n-grams once more as read (words,
 * prob, backoff), plus two permutations of the largest order.
 *
 * Checks beyond the syntax: counts agree with the header; every word of a higher order is a
 * unigram; no n-gram appears twice; every n-gram's context (words 1..n-1) and suffix (words
 * 2..n) are n-grams of the order below, since the query walks suffixes and sampling walks
 * contexts. Those checks run after sorting, so the line an error names is found by reading the
 * file once more - only on that error path.
 *
 * Not here: writing ARPA (arpa_write.c), the binary layout (binary.c), queries (model.c).
 * Numbers are parsed with strtof, so a program that changes LC_NUMERIC must restore "C" first. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ngram/model.h"

/* binary.c: the binary form's magic bytes and its loader. */

/* A log10 probability of <unk> when the file has none (KenLM's choice). */
#define UNK_LOG10_DEFAULT (-100.0f)
/* Positive log probabilities up to this are rounding noise and become 0. */
#define POSITIVE_TOLERANCE 1e-6f

/* The n-grams of one order as read: in file order, not yet sorted. For unigrams the arrays are
 * indexed by word id instead (words unused). */
typedef struct {
    uint64_t expected; /* count from the header */
    uint64_t have;     /* n-grams read so far */
    uint64_t cap;      /* entries allocated */
    uint32_t *words;   /* (cap, n) */
    float *prob;       /* (cap) */
    float *backoff;    /* (cap) */
} section;

typedef struct {
    const char *path;
    seqlm_reader *r;
    seqlm_error *err;
    char *buf; /* a writable copy of the current line, split in place */
    size_t buf_cap;
    char *field[SEQLM_NGRAM_MAX_ORDER + 2];
    int nfields; /* fields on the line; counting stops at SEQLM_NGRAM_MAX_ORDER + 3 */
    int order;
    seqlm_unit unit;
    seqlm_vocab *vocab;
    uint8_t *seen; /* (seen_cap) 1 for ids that have a line in \1-grams: */
    size_t seen_cap;
    section sec[SEQLM_NGRAM_MAX_ORDER];
} parser;

static seqlm_status fail_at(parser *p, seqlm_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the error with "path: line N: " in front. */
static seqlm_status fail_at(parser *p, seqlm_status st, const char *fmt, ...) {
    char msg[SEQLM_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return seqlm_error_set(p->err, st, "%s: line %" PRIu64 ": %s", p->path, seqlm_reader_line(p->r),
                           msg);
}

static seqlm_status nomem(parser *p) {
    return fail_at(p, SEQLM_ERR_NOMEM, "out of memory");
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Splits s in place on white space into p->field; sets p->nfields. */
static void split(parser *p, char *s) {
    int n = 0;
    const int max = SEQLM_NGRAM_MAX_ORDER + 2;
    for (;;) {
        while (is_space(*s)) s++;
        if (!*s) break;
        if (n == max) {
            n++; /* too many: the caller only needs to know that */
            break;
        }
        p->field[n++] = s;
        while (*s && !is_space(*s)) s++;
        if (!*s) break;
        *s++ = '\0';
    }
    p->nfields = n;
}

/* The next line, copied into p->buf. 1, 0 at end of file, -1 on error. */
static int next_line(parser *p, char **line) {
    const char *l;
    size_t len;
    int rc = seqlm_reader_next(p->r, &l, &len, p->err);
    if (rc <= 0) return rc;
    if (len + 1 > p->buf_cap) {
        size_t cap = p->buf_cap ? p->buf_cap : 256;
        while (cap < len + 1) cap *= 2;
        char *b = realloc(p->buf, cap);
        if (!b) {
            nomem(p);
            return -1;
        }
        p->buf = b;
        p->buf_cap = cap;
    }
    memcpy(p->buf, l, len + 1);
    *line = p->buf;
    return 1;
}

static int is_blank(const char *s) {
    while (is_space(*s)) s++;
    return *s == '\0';
}

/* Removes trailing white space in place. */
static char *rtrim(char *s) {
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1])) s[--n] = '\0';
    return s;
}

/* 1 if s is "\N-grams:"; sets *n. */
static int section_header(const char *s, int *n) {
    if (s[0] != '\\' || s[1] < '0' || s[1] > '9') return 0;
    char *end;
    errno = 0;
    long v = strtol(s + 1, &end, 10);
    if (errno || strcmp(end, "-grams:") != 0 || v < 0 || v > 1000000) return 0;
    *n = (int)v;
    return 1;
}

/* At most 40 bytes of s for an error message, as a quoted string. */
static const char *excerpt(const char *s, char *buf, size_t cap) {
    size_t n = strlen(s);
    if (n + 3 <= cap && n <= 40) {
        snprintf(buf, cap, "\"%s\"", s);
    } else {
        size_t k = 40;
        while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80) k--; /* whole UTF-8 characters */
        snprintf(buf, cap, "\"%.*s...\"", (int)k, s);
    }
    return buf;
}

/* Parses a log10 value of the field; what names it in messages. "-inf" becomes LOG0. */
static seqlm_status parse_log(parser *p, const char *s, const char *what, float *out) {
    char *end;
    char q[64];
    float v = strtof(s, &end);
    if (end == s || *end != '\0' || isnan(v) || (isinf(v) && v > 0))
        return fail_at(p, SEQLM_ERR_FORMAT, "expected a number for the %s, found %s", what,
                       excerpt(s, q, sizeof q));
    if (isinf(v)) v = SEQLM_NGRAM_LOG0;
    *out = v;
    return SEQLM_OK;
}

static seqlm_status parse_prob(parser *p, const char *s, float *out) {
    seqlm_status st = parse_log(p, s, "log10 probability", out);
    if (st) return st;
    if (*out > 0) {
        if (*out > POSITIVE_TOLERANCE)
            return fail_at(p, SEQLM_ERR_FORMAT,
                           "log10 probability %s is positive (a probability above 1)", s);
        *out = 0;
    }
    return SEQLM_OK;
}

/* --- the header: text before \data\, then "ngram N=COUNT" lines ---------------------------- */

/* "# seqlm n-gram model: order=N unit=U" (arpa_write.c) names the unit. */
static seqlm_status header_comment(parser *p, const char *line) {
    if (line[0] != '#' || !strstr(line, "seqlm n-gram model:")) return SEQLM_OK;
    const char *u = strstr(line, "unit=");
    if (!u) return SEQLM_OK;
    u += 5;
    char name[16];
    size_t k = 0;
    while (u[k] && !is_space(u[k]) && k + 1 < sizeof name) {
        name[k] = u[k];
        k++;
    }
    name[k] = '\0';
    if (seqlm_unit_parse(name, &p->unit) < 0)
        return fail_at(p, SEQLM_ERR_FORMAT, "unknown unit \"%s\" in the seqlm comment", name);
    return SEQLM_OK;
}

/* "ngram N=COUNT" with optional spaces around '='. */
static int parse_count_line(char *s, long *n, unsigned long long *count) {
    while (is_space(*s)) s++;
    if (strncmp(s, "ngram", 5) != 0 || !is_space(s[5])) return 0;
    s += 5;
    while (is_space(*s)) s++;
    if (*s < '0' || *s > '9') return 0;
    char *end;
    errno = 0;
    *n = strtol(s, &end, 10);
    if (errno) *n = LONG_MAX;
    s = end;
    while (is_space(*s)) s++;
    if (*s++ != '=') return 0;
    while (is_space(*s)) s++;
    if (*s < '0' || *s > '9') return 0;
    errno = 0;
    *count = strtoull(s, &end, 10);
    if (errno) *count = ULLONG_MAX;
    return is_blank(end);
}

/* Reads up to and including "\1-grams:". */
static seqlm_status read_header(parser *p) {
    char *line;
    int rc, data = 0;
    while ((rc = next_line(p, &line)) == 1) {
        int n;
        if (!data) {
            rtrim(line);
            if (strcmp(line, "\\data\\") == 0) {
                data = 1;
                continue;
            }
            if (section_header(line, &n) || strcmp(line, "\\end\\") == 0)
                return fail_at(p, SEQLM_ERR_FORMAT, "\"%s\" before \"\\data\\\"", line);
            seqlm_status st = header_comment(p, line);
            if (st) return st;
            continue;
        }
        if (is_blank(line)) continue;
        long k;
        unsigned long long count;
        if (parse_count_line(line, &k, &count)) {
            if (k != p->order + 1)
                return fail_at(p, SEQLM_ERR_FORMAT, "expected \"ngram %d=COUNT\", found order %ld",
                               p->order + 1, k);
            if (k > SEQLM_NGRAM_MAX_ORDER)
                return fail_at(p, SEQLM_ERR_FORMAT,
                               "order %ld is above the maximum order %d this build supports", k,
                               SEQLM_NGRAM_MAX_ORDER);
            if (count >= UINT32_MAX)
                return fail_at(p, SEQLM_ERR_FORMAT,
                               "the %ld-gram count is more than this build supports (at most "
                               "%" PRIu32 ")",
                               k, UINT32_MAX - 1);
            if (count == 0 && k == 1)
                return fail_at(p, SEQLM_ERR_FORMAT, "the header says there are no unigrams");
            p->sec[p->order].expected = count;
            p->order++;
            continue;
        }
        rtrim(line);
        if (section_header(line, &n) && n == 1) {
            if (p->order == 0)
                return fail_at(p, SEQLM_ERR_FORMAT,
                               "\"\\1-grams:\" before any \"ngram N=COUNT\" line");
            return SEQLM_OK;
        }
        char q[64];
        return fail_at(p, SEQLM_ERR_FORMAT,
                       "expected \"ngram %d=COUNT\" or \"\\1-grams:\", found %s", p->order + 1,
                       excerpt(line, q, sizeof q));
    }
    if (rc < 0) return p->err ? p->err->status : SEQLM_ERR_IO;
    if (seqlm_reader_line(p->r) == 0)
        return seqlm_error_set(p->err, SEQLM_ERR_FORMAT, "%s: empty file", p->path);
    if (!data)
        return seqlm_error_set(p->err, SEQLM_ERR_FORMAT,
                               "%s: no \"\\data\\\" line in %" PRIu64
                               " lines: not an ARPA file (missing \\data\\)",
                               p->path, seqlm_reader_line(p->r));
    return seqlm_error_set(p->err, SEQLM_ERR_FORMAT,
                           "%s: unexpected end of file in the \\data\\ header (truncated?)",
                           p->path);
}

/* --- sections -------------------------------------------------------------------------------- */

/* Room for `need` entries of order n; grows by doubling, never beyond what the header
 * promised (plus the three special words for unigrams), so a lying header cannot make us
 * allocate more than the file holds. */
static seqlm_status reserve(parser *p, int n, uint64_t need) {
    section *s = &p->sec[n - 1];
    if (need <= s->cap) return SEQLM_OK;
    uint64_t limit = s->expected + (n == 1 ? 3 : 0);
    uint64_t cap = s->cap < 1024 ? 1024 : s->cap * 2;
    if (cap > limit) cap = limit;
    if (cap < need) cap = need;
    if (cap > SIZE_MAX / ((size_t)n * sizeof(uint32_t))) return nomem(p);
    if (n > 1) {
        uint32_t *w = realloc(s->words, (size_t)cap * (size_t)n * sizeof *w);
        if (!w) return nomem(p);
        s->words = w;
    }
    float *pr = realloc(s->prob, (size_t)cap * sizeof *pr);
    if (!pr) return nomem(p);
    s->prob = pr;
    float *bo = realloc(s->backoff, (size_t)cap * sizeof *bo);
    if (!bo) return nomem(p);
    s->backoff = bo;
    s->cap = cap;
    return SEQLM_OK;
}

/* One n-gram line of order n (already split). */
static seqlm_status read_ngram(parser *p, int n) {
    section *s = &p->sec[n - 1];
    if (p->nfields != n + 1 && p->nfields != n + 2) {
        int found = p->nfields - 1;
        if (p->nfields > n + 2)
            return fail_at(p, SEQLM_ERR_FORMAT,
                           "expected %d word%s after the probability and an optional backoff "
                           "weight, found %s%d fields",
                           n, n == 1 ? "" : "s", found > n + 1 ? "at least " : "", found);
        return fail_at(p, SEQLM_ERR_FORMAT, "expected %d word%s after the probability, found %d", n,
                       n == 1 ? "" : "s", found);
    }
    float prob, backoff = 0;
    seqlm_status st = parse_prob(p, p->field[0], &prob);
    if (st) return st;
    if (p->nfields == n + 2) {
        st = parse_log(p, p->field[n + 1], "backoff weight", &backoff);
        if (st) return st;
        if (n == p->order) backoff = 0; /* the top order has no backoff; tolerate one */
    }
    if (n == 1) {
        int64_t id = seqlm_vocab_add(p->vocab, p->field[1], 0);
        if (id < 0) return nomem(p);
        if ((size_t)id >= p->seen_cap) {
            size_t cap = p->seen_cap ? p->seen_cap * 2 : 1024;
            while (cap <= (size_t)id) cap *= 2;
            uint8_t *seen = realloc(p->seen, cap);
            if (!seen) return nomem(p);
            memset(seen + p->seen_cap, 0, cap - p->seen_cap);
            p->seen = seen;
            p->seen_cap = cap;
        }
        if (p->seen[id]) return SEQLM_ERR_DATA; /* a duplicate: the caller names both lines */
        p->seen[id] = 1;
        if ((st = reserve(p, 1, (uint64_t)id + 1))) return st;
        s->prob[id] = prob;
        s->backoff[id] = backoff;
    } else {
        if ((st = reserve(p, n, s->have + 1))) return st;
        uint32_t *w = s->words + s->have * (uint64_t)n;
        for (int j = 0; j < n; j++) {
            int64_t id = seqlm_vocab_find(p->vocab, p->field[1 + j]);
            if (id < 0 || (size_t)id >= p->seen_cap || !p->seen[id]) {
                char q[64];
                return fail_at(p, SEQLM_ERR_FORMAT, "word %s is not in the \\1-grams: section",
                               excerpt(p->field[1 + j], q, sizeof q));
            }
            w[j] = (uint32_t)id;
        }
        s->prob[s->have] = prob;
        s->backoff[s->have] = backoff;
    }
    s->have++;
    return SEQLM_OK;
}

static uint64_t find_line(const char *path, const seqlm_vocab *v, int n, const uint32_t *w,
                          uint64_t after);

/* Reads section n (its header line already read) and the line after it: the next section's
 * header or "\end\". */
static seqlm_status read_section(parser *p, int n) {
    section *s = &p->sec[n - 1];
    char *line;
    int rc;
    while ((rc = next_line(p, &line)) == 1) {
        if (is_blank(line)) continue;
        int k;
        if (line[0] == '\\' && (section_header(rtrim(line), &k) || strcmp(line, "\\end\\") == 0)) {
            int is_next = n < p->order ? section_header(line, &k) && k == n + 1
                                       : strcmp(line, "\\end\\") == 0;
            if (s->have != s->expected)
                return fail_at(p, SEQLM_ERR_FORMAT,
                               "\"\\%d-grams:\" section has %" PRIu64
                               " n-grams, header said %" PRIu64,
                               n, s->have, s->expected);
            if (is_next) return SEQLM_OK;
            char q[64];
            if (n < p->order)
                return fail_at(p, SEQLM_ERR_FORMAT, "expected \"\\%d-grams:\", found %s", n + 1,
                               excerpt(line, q, sizeof q));
            return fail_at(p, SEQLM_ERR_FORMAT, "expected \"\\end\\\", found %s",
                           excerpt(line, q, sizeof q));
        }
        if (s->have == s->expected)
            return fail_at(p, SEQLM_ERR_FORMAT,
                           "\"\\%d-grams:\" section has more n-grams than the %" PRIu64
                           " the header said",
                           n, s->expected);
        split(p, line);
        seqlm_status st = read_ngram(p, n);
        if (st == SEQLM_ERR_DATA) { /* a duplicate unigram */
            uint32_t id = (uint32_t)seqlm_vocab_find(p->vocab, p->field[1]);
            uint64_t first = find_line(p->path, p->vocab, 1, &id, 0);
            char q[64], also[48] = "";
            if (first) snprintf(also, sizeof also, " (first on line %" PRIu64 ")", first);
            return fail_at(p, SEQLM_ERR_FORMAT, "duplicate 1-gram %s%s",
                           excerpt(p->field[1], q, sizeof q), also);
        }
        if (st) return st;
    }
    if (rc < 0) return p->err ? p->err->status : SEQLM_ERR_IO;
    if (s->have < s->expected)
        return seqlm_error_set(p->err, SEQLM_ERR_FORMAT,
                               "%s: unexpected end of file in the \\%d-grams: section after line "
                               "%" PRIu64 " (%" PRIu64 " of %" PRIu64 " n-grams; truncated?)",
                               p->path, n, seqlm_reader_line(p->r), s->have, s->expected);
    char want[32];
    if (n < p->order)
        snprintf(want, sizeof want, "\\%d-grams:", n + 1);
    else
        snprintf(want, sizeof want, "\\end\\");
    return seqlm_error_set(p->err, SEQLM_ERR_FORMAT,
                           "%s: unexpected end of file after line %" PRIu64
                           ": expected \"%s\" (truncated?)",
                           p->path, seqlm_reader_line(p->r), want);
}

/* --- error context: the line of an n-gram ----------------------------------------------------- */

/* The number of the first line after line `after` in section n of path that holds the n-gram
 * w, or 0. Reads the file again: only used to name the line in an error message. */
static uint64_t find_line(const char *path, const seqlm_vocab *v, int n, const uint32_t *w,
                          uint64_t after) {
    parser q;
    memset(&q, 0, sizeof q);
    q.path = path;
    q.r = seqlm_reader_open(path, 0, NULL);
    if (!q.r) return 0;
    uint64_t found = 0;
    int cur = 0, k, data = 0;
    char *line;
    while (!found && next_line(&q, &line) == 1) {
        if (line[0] == '\\') {
            rtrim(line);
            if (strcmp(line, "\\data\\") == 0)
                data = 1;
            else if (strcmp(line, "\\end\\") == 0 && data)
                break;
            else if (data && section_header(line, &k))
                cur = k;
            continue;
        }
        if (cur != n || seqlm_reader_line(q.r) <= after) continue;
        split(&q, line);
        if (q.nfields < n + 1) continue;
        int same = 1;
        for (int j = 0; j < n && same; j++) {
            const char *word = seqlm_vocab_word(v, w[j]);
            same = word && strcmp(word, q.field[1 + j]) == 0;
        }
        if (same) found = seqlm_reader_line(q.r);
    }
    seqlm_reader_free(q.r);
    free(q.buf);
    return found;
}

/* "w1 w2 .. wn" into buf. */
static const char *ngram_text(const seqlm_vocab *v, const uint32_t *w, int n, char *buf,
                              size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used + 1 < cap; i++) {
        const char *s = seqlm_vocab_word(v, w[i]);
        int k = snprintf(buf + used, cap - used, "%s%s", i ? " " : "", s ? s : "?");
        if (k < 0) break;
        used += (size_t)k;
    }
    return buf;
}

/* --- from the sections to the model ----------------------------------------------------------- */

static int compare_words(const uint32_t *a, const uint32_t *b, int n) {
    for (int i = 0; i < n; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

/* The order that sorts the n-grams of s by word ids: NULL with *st = OK when they are sorted
 * already (our own files), otherwise a permutation perm with row perm[i] going to place i.
 * LSD radix sort, one stable counting pass per word position from the last: O(n (count + V)). */
static uint32_t *sort_order(const section *s, int n, size_t V, seqlm_status *st) {
    *st = SEQLM_OK;
    uint64_t count = s->have;
    int sorted = 1;
    for (uint64_t i = 1; i < count && sorted; i++)
        sorted = compare_words(s->words + (i - 1) * n, s->words + i * n, n) <= 0;
    if (sorted) return NULL;
    uint32_t *perm = malloc((size_t)count * sizeof *perm);
    uint32_t *tmp = malloc((size_t)count * sizeof *tmp);
    uint32_t *hist = malloc((V + 1) * sizeof *hist);
    if (!perm || !tmp || !hist) {
        free(perm);
        free(tmp);
        free(hist);
        *st = SEQLM_ERR_NOMEM;
        return NULL;
    }
    for (uint64_t i = 0; i < count; i++) perm[i] = (uint32_t)i;
    for (int j = n - 1; j >= 0; j--) {
        memset(hist, 0, (V + 1) * sizeof *hist);
        for (uint64_t i = 0; i < count; i++) hist[s->words[(uint64_t)perm[i] * n + j] + 1]++;
        for (size_t k = 1; k <= V; k++) hist[k] += hist[k - 1];
        for (uint64_t i = 0; i < count; i++) {
            uint32_t r = perm[i];
            tmp[hist[s->words[(uint64_t)r * n + j]]++] = r;
        }
        uint32_t *t = perm;
        perm = tmp;
        tmp = t;
    }
    free(tmp);
    free(hist);
    return perm;
}

static void free_section(section *s) {
    free(s->words);
    free(s->prob);
    free(s->backoff);
    s->words = NULL;
    s->prob = s->backoff = NULL;
}

/* "path: line N" for the line of n-gram w at order n (from `after` on), or "path" when the
 * file cannot be read again (standard input). */
static const char *where(const parser *p, int n, const uint32_t *w, uint64_t after, uint64_t *line,
                         char *buf, size_t cap) {
    *line = find_line(p->path, p->vocab, n, w, after);
    if (*line)
        snprintf(buf, cap, "%s: line %" PRIu64, p->path, *line);
    else
        snprintf(buf, cap, "%s", p->path);
    return buf;
}

static seqlm_status duplicate_error(parser *p, int n, const uint32_t *w) {
    char what[512], at[4096], also[48] = "";
    uint64_t first, second;
    where(p, n, w, 0, &first, at, sizeof at);
    if (first) {
        where(p, n, w, first, &second, at, sizeof at);
        snprintf(also, sizeof also, " (first on line %" PRIu64 ")", first);
    }
    return seqlm_error_set(p->err, SEQLM_ERR_FORMAT, "%s: duplicate %d-gram \"%s\"%s", at, n,
                           ngram_text(p->vocab, w, n, what, sizeof what), also);
}

/* Copies order n into the model in sorted order; checks for duplicates. Frees the section. */
static seqlm_status fill_level(parser *p, seqlm_ngram_model *lm, int n) {
    section *s = &p->sec[n - 1];
    ngram_level *lv = &lm->level[n - 1];
    seqlm_status st;
    uint32_t *perm = sort_order(s, n, seqlm_vocab_size(p->vocab), &st);
    if (st)
        return seqlm_error_set(p->err, st, "%s: out of memory sorting the %d-grams", p->path, n);
    for (uint64_t i = 0; i < lv->count; i++) {
        uint64_t r = perm ? perm[i] : i;
        uint32_t *w = lv->words + i * (uint64_t)n;
        memcpy(w, s->words + r * n, (size_t)n * sizeof *w);
        lv->prob[i] = s->prob[r];
        lv->backoff[i] = s->backoff[r];
        if (i > 0 && compare_words(w - n, w, n) == 0) {
            free(perm);
            return duplicate_error(p, n, w);
        }
    }
    free(perm);
    free_section(s);
    return SEQLM_OK;
}

/* Every n-gram of order n >= 3 needs its context (words 1..n-1) at order n-1: both levels are
 * sorted, so one merge walk finds them all. (For n = 2 the context is a unigram, checked when
 * the line was read.) */
static seqlm_status check_contexts(parser *p, const seqlm_ngram_model *lm, int n) {
    const ngram_level *lo = &lm->level[n - 2], *lv = &lm->level[n - 1];
    uint64_t i = 0;
    for (uint64_t j = 0; j < lv->count; j++) {
        const uint32_t *w = lv->words + j * (uint64_t)n;
        while (i < lo->count && compare_words(lo->words + i * (uint64_t)(n - 1), w, n - 1) < 0) i++;
        if (i < lo->count && compare_words(lo->words + i * (uint64_t)(n - 1), w, n - 1) == 0)
            continue;
        char what[512], ctx[512], at[4096];
        uint64_t line;
        return seqlm_error_set(p->err, SEQLM_ERR_FORMAT,
                               "%s: %d-gram \"%s\" has no context: \"%s\" is not in the "
                               "\\%d-grams: section",
                               where(p, n, w, 0, &line, at, sizeof at), n,
                               ngram_text(p->vocab, w, n, what, sizeof what),
                               ngram_text(p->vocab, w, n - 1, ctx, sizeof ctx), n - 1);
    }
    return SEQLM_OK;
}

/* Every n-gram of order n >= 3 needs its suffix (words 2..n) at order n-1, or a query that
 * walks suffixes from the right would never reach it. Needs the hash index. */
static seqlm_status check_suffixes(parser *p, const seqlm_ngram_model *lm, int n) {
    const ngram_level *lo = &lm->level[n - 2], *lv = &lm->level[n - 1];
    for (uint64_t j = 0; j < lv->count; j++) {
        const uint32_t *w = lv->words + j * (uint64_t)n;
        if (ngram_find(lo, ngram_key(w + 1, n - 1)) >= 0) continue;
        char what[512], suf[512], at[4096];
        uint64_t line;
        return seqlm_error_set(p->err, SEQLM_ERR_FORMAT,
                               "%s: %d-gram \"%s\": its suffix \"%s\" is not in the "
                               "\\%d-grams: section (queries could not reach it)",
                               where(p, n, w, 0, &line, at, sizeof at), n,
                               ngram_text(p->vocab, w, n, what, sizeof what),
                               ngram_text(p->vocab, w + 1, n - 1, suf, sizeof suf), n - 1);
    }
    return SEQLM_OK;
}

static seqlm_ngram_model *build(parser *p) {
    size_t V = seqlm_vocab_size(p->vocab);
    section *uni = &p->sec[0];
    if (reserve(p, 1, V)) return NULL;
    /* Specials without a line: <unk> gets KenLM's -100, <s> and </s> "never". They cannot
     * occur at higher orders (every word there must have a unigram line). */
    for (uint32_t id = 0; id < 3; id++)
        if (id >= p->seen_cap || !p->seen[id]) {
            uni->prob[id] = id == SEQLM_UNK ? UNK_LOG10_DEFAULT : SEQLM_NGRAM_LOG0;
            uni->backoff[id] = 0;
        }
    seqlm_ngram_model *lm = ngram_model_new(p->order, p->unit, p->vocab);
    if (!lm) {
        seqlm_error_set(p->err, SEQLM_ERR_NOMEM, "%s: out of memory", p->path);
        return NULL;
    }
    p->vocab = NULL; /* the model owns it now */
    lm->level[0].count = V;
    for (int n = 2; n <= p->order; n++) lm->level[n - 1].count = p->sec[n - 1].have;
    if (ngram_model_alloc(lm, p->err)) {
        seqlm_error_prefix(p->err, "%s", p->path);
        goto fail;
    }
    memcpy(lm->level[0].prob, uni->prob, V * sizeof(float));
    memcpy(lm->level[0].backoff, uni->backoff, V * sizeof(float));
    free_section(uni);
    p->vocab = lm->vocab; /* borrowed, for messages */
    for (int n = 2; n <= p->order; n++)
        if (fill_level(p, lm, n)) goto fail;
    for (int n = 3; n <= p->order; n++)
        if (check_contexts(p, lm, n)) goto fail;
    if (ngram_model_index(lm, p->err)) {
        seqlm_error_prefix(p->err, "%s", p->path);
        goto fail;
    }
    for (int n = 3; n <= p->order; n++)
        if (check_suffixes(p, lm, n)) goto fail;
    p->vocab = NULL;
    return lm;
fail:
    p->vocab = NULL;
    seqlm_ngram_free(lm);
    return NULL;
}

static seqlm_ngram_model *load_arpa(const char *path, seqlm_error *err) {
    parser p;
    memset(&p, 0, sizeof p);
    p.path = path;
    p.err = err;
    p.unit = SEQLM_UNIT_WORD;
    seqlm_ngram_model *lm = NULL;
    p.r = seqlm_reader_open(path, 1, err);
    if (!p.r) return NULL;
    p.vocab = seqlm_vocab_create();
    if (!p.vocab) {
        seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (read_header(&p)) goto done;
    for (int n = 1; n <= p.order; n++)
        if (read_section(&p, n)) goto done;
    lm = build(&p);
done:
    for (int n = 0; n < SEQLM_NGRAM_MAX_ORDER; n++) free_section(&p.sec[n]);
    seqlm_vocab_free(p.vocab);
    free(p.seen);
    free(p.buf);
    seqlm_reader_free(p.r);
    return lm;
}

/* 1 if the file starts with the binary magic. */
static int is_binary(const char *path) {
    if (strcmp(path, "-") == 0) return 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0; /* the ARPA reader reports why */
    unsigned char head[sizeof ngram_binary_magic];
    size_t got = 0;
    while (got < sizeof head) {
        ssize_t k = read(fd, head + got, sizeof head - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd);
    return got == sizeof head && memcmp(head, ngram_binary_magic, sizeof head) == 0;
}

seqlm_ngram_model *seqlm_ngram_load(const char *path, seqlm_error *err) {
    if (is_binary(path)) return ngram_binary_load(path, err);
    return load_arpa(path, err);
}
