/* safetensors.c - model files in Hugging Face's safetensors format (see seqlm/modelfile.h).
 *
 * The format (https://github.com/huggingface/safetensors):
 *
 *     u64 LE N | N bytes of UTF-8 JSON header | byte buffer
 *
 * The header is an object mapping each tensor name to {"dtype": "F32", "shape": [2, 3],
 * "data_offsets": [begin, end]}, offsets in bytes from the start of the buffer, values little
 * endian and row-major; the optional key "__metadata__" holds a string -> string object. The
 * header starts with '{', may be padded with spaces at the end, is at most 100 000 000 bytes,
 * and the tensors must cover the buffer exactly: no overlaps, no holes, nothing after the last.
 *
 * The reader checks all of that (and UTF-8, duplicate keys, shape x dtype size = offsets)
 * before it touches the data, and names the file and what is wrong in every error. It converts
 * F16, BF16 and F64 to float, and I32 and I64 too when every value is exactly a float (|v| up
 * to 2^24, or a multiple of a large enough power of two); an F64 beyond the float range is an
 * error rather than an infinity. Other dtypes (I8, U8, BOOL, F8_*, ...) are rejected by name.
 * A 0-d tensor (shape []) is read as shape [1]; seqlm cannot hold tensors with no elements or
 * more than SEQLM_PARAM_MAX_DIMS dimensions, so read rejects them with a message.
 *
 * The writer writes F32 only, tensors in registry order and contiguous, "__metadata__" first,
 * the header padded with spaces so that the data starts 8-byte aligned (as safetensors itself
 * does), through a temporary file that is renamed into place.
 *
 * Not here: memory mapping or lazy loading (the data is read once, tensor by tensor, with
 * pread), writing dtypes other than F32, or any notion of which model a file holds (that is the
 * metadata's job, read by the caller). */
#include "seqlm/modelfile.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seqlm/text.h"
#include "util/outfile.h"

#define HEADER_MAX    100000000ULL       /* safetensors' MAX_HEADER_SIZE */
#define EXACT_INT_MAX 9007199254740992.0 /* 2^53: JSON numbers are doubles in cJSON */
#define CHUNK_BYTES   (1 << 16)          /* data is read and written in pieces this big */
#define LIST_MAX      600                /* bytes of tensor names listed in one error message */

/* --- dtypes ------------------------------------------------------------------------------- */

enum { DT_F32, DT_F16, DT_BF16, DT_F64, DT_I32, DT_I64, DT_SUPPORTED };

/* Every dtype safetensors defines; the first DT_SUPPORTED are the ones seqlm reads. (F4 and F6
 * pack several values per byte; they are rejected before their size matters.) */
static const struct {
    const char *name;
    unsigned size; /* bytes per element */
} dtypes[] = {
    {"F32", 4},     {"F16", 2},  {"BF16", 2},    {"F64", 8},     {"I32", 4},
    {"I64", 8},     {"BOOL", 1}, {"U8", 1},      {"I8", 1},      {"I16", 2},
    {"U16", 2},     {"U32", 4},  {"U64", 8},     {"F8_E4M3", 1}, {"F8_E5M2", 1},
    {"F8_E8M0", 1}, {"F4", 1},   {"F6_E2M3", 1}, {"F6_E3M2", 1}, {"C64", 8},
};
#define N_DTYPES (int)(sizeof dtypes / sizeof dtypes[0])

static int dtype_find(const char *name) {
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(dtypes[i].name, name) == 0) return i;
    return -1;
}

/* --- errors ------------------------------------------------------------------------------- */

/* Every message starts with the file's name, and stays on one line: control characters from
 * the file (a tensor name with "\n" in it) are shown as '?'. */
static seqlm_status fail(seqlm_error *err, seqlm_status st, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static seqlm_status fail(seqlm_error *err, seqlm_status st, const char *path, const char *fmt,
                         ...) {
    char msg[SEQLM_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return seqlm_error_set(err, st, "%s: %s", path, msg);
}

/* "[2, 3]" into buf. */
static const char *shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

/* A growing list of quoted names for a message: "'a', 'b' and 3 more". */
typedef struct {
    char text[LIST_MAX + 64];
    size_t len;
    int count, left_out;
} name_list;

static void list_add(name_list *l, const char *name) {
    l->count++;
    if (l->left_out || l->len + strlen(name) + 4 > LIST_MAX) {
        l->left_out++;
        return;
    }
    l->len += (size_t)snprintf(l->text + l->len, sizeof l->text - l->len, "%s'%s'",
                               l->len ? ", " : "", name);
}

static const char *list_str(name_list *l) {
    if (l->left_out)
        snprintf(l->text + l->len, sizeof l->text - l->len, " and %d more", l->left_out);
    return l->text;
}

/* --- reading: the header ------------------------------------------------------------------ */

typedef struct {
    const char *name; /* into the cJSON tree */
    int dtype;
    int ndim; /* as in the file: 0 for a scalar */
    int64_t shape[SEQLM_PARAM_MAX_DIMS];
    uint64_t count;      /* elements */
    uint64_t begin, end; /* bytes, from the start of the data */
} entry;

typedef struct {
    const char *path;
    int fd;
    uint64_t data_start, data_size; /* in the file */
    cJSON *json;
    entry *entries; /* (n) in header order */
    size_t n;
    const entry **by_name; /* (n) sorted by name, for lookups */
    seqlm_metadata meta;
} stfile;

static void st_close(stfile *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    cJSON_Delete(f->json);
    free(f->entries);
    free(f->by_name);
    seqlm_metadata_free(&f->meta);
    f->json = NULL;
    f->entries = NULL;
    f->by_name = NULL;
}

/* Reads exactly len bytes at offset; returns 0, or -1 with errno (0: the file ended early). */
static int read_at(int fd, void *buf, size_t len, uint64_t offset) {
    char *p = buf;
    while (len > 0) {
        ssize_t r = pread(fd, p, len, (off_t)offset);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) {
            errno = 0;
            return -1;
        }
        p += r;
        len -= (size_t)r;
        offset += (uint64_t)r;
    }
    return 0;
}

static seqlm_status read_failed(seqlm_error *err, const char *path) {
    if (errno == 0)
        return fail(err, SEQLM_ERR_FORMAT, path, "file ended early (was it cut while reading?)");
    return fail(err, SEQLM_ERR_IO, path, "read failed: %s", strerror(errno));
}

static const char *json_kind(const cJSON *j) {
    if (cJSON_IsObject(j)) return "an object";
    if (cJSON_IsArray(j)) return "a list";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    return "not a JSON value";
}

/* A non-negative integer that a double holds exactly; -1 otherwise. */
static int64_t json_uint(const cJSON *j) {
    if (!cJSON_IsNumber(j)) return -1;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= EXACT_INT_MAX) || d != floor(d)) return -1;
    return (int64_t)d;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_entry_name(const void *a, const void *b) {
    return strcmp((*(const entry *const *)a)->name, (*(const entry *const *)b)->name);
}

static int cmp_entry_offset(const void *a, const void *b) {
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static const entry *find_entry(const stfile *f, const char *name) {
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->by_name[mid]->name, name);
        if (c == 0) return f->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static seqlm_status parse_metadata(stfile *f, const cJSON *obj, seqlm_error *err) {
    if (cJSON_IsNull(obj)) return SEQLM_OK; /* safetensors reads null as "no metadata" */
    if (!cJSON_IsObject(obj))
        return fail(err, SEQLM_ERR_FORMAT, f->path, "\"__metadata__\" is %s, not an object",
                    json_kind(obj));
    size_t n = (size_t)cJSON_GetArraySize(obj);
    if (n == 0) return SEQLM_OK;
    f->meta.keys = malloc(n * sizeof(char *));
    f->meta.values = malloc(n * sizeof(char *));
    if (!f->meta.keys || !f->meta.values) goto nomem;
    f->meta.cap = n;
    const cJSON *kv;
    cJSON_ArrayForEach(kv, obj) {
        if (!cJSON_IsString(kv))
            return fail(err, SEQLM_ERR_FORMAT, f->path,
                        "metadata '%s' is %s; metadata values must be strings", kv->string,
                        json_kind(kv));
        size_t kn = strlen(kv->string) + 1, vn = strlen(kv->valuestring) + 1;
        char *k = malloc(kn), *v = malloc(vn);
        if (!k || !v) {
            free(k);
            free(v);
            goto nomem;
        }
        memcpy(k, kv->string, kn);
        memcpy(v, kv->valuestring, vn);
        f->meta.keys[f->meta.count] = k;
        f->meta.values[f->meta.count] = v;
        f->meta.count++;
    }
    /* Keys sorted to find a repeated one (cJSON keeps both). */
    const char **keys = malloc(n * sizeof *keys);
    if (!keys) goto nomem;
    memcpy(keys, f->meta.keys, n * sizeof *keys);
    qsort(keys, n, sizeof *keys, cmp_name);
    seqlm_status st = SEQLM_OK;
    for (size_t i = 1; i < n && !st; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            st = fail(err, SEQLM_ERR_FORMAT, f->path,
                      "metadata key '%s' appears twice in the header", keys[i]);
    free(keys);
    return st;
nomem:
    return fail(err, SEQLM_ERR_NOMEM, f->path, "out of memory for the metadata");
}

/* One tensor's header entry: dtype, shape and offsets, each checked, and their agreement. */
static seqlm_status parse_entry(stfile *f, const cJSON *j, entry *e, seqlm_error *err) {
    const char *name = j->string, *path = f->path;
    char sbuf[128];
    e->name = name;
    if (!cJSON_IsObject(j))
        return fail(err, SEQLM_ERR_FORMAT, path, "tensor '%s': entry is %s, not an object", name,
                    json_kind(j));

    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    if (!dt) return fail(err, SEQLM_ERR_FORMAT, path, "tensor '%s': no \"dtype\"", name);
    if (!cJSON_IsString(dt))
        return fail(err, SEQLM_ERR_FORMAT, path, "tensor '%s': \"dtype\" is %s, not a string", name,
                    json_kind(dt));
    e->dtype = dtype_find(dt->valuestring);
    if (e->dtype < 0)
        return fail(err, SEQLM_ERR_FORMAT, path, "tensor '%s': unknown dtype '%s'", name,
                    dt->valuestring);
    if (e->dtype >= DT_SUPPORTED)
        return fail(err, SEQLM_ERR_DATA, path,
                    "tensor '%s': dtype '%s' not supported (seqlm reads F32, F16, BF16, F64, "
                    "I32 and I64)",
                    name, dt->valuestring);

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(j, "shape");
    if (!shape) return fail(err, SEQLM_ERR_FORMAT, path, "tensor '%s': no \"shape\"", name);
    if (!cJSON_IsArray(shape))
        return fail(err, SEQLM_ERR_FORMAT, path, "tensor '%s': \"shape\" is %s, not a list", name,
                    json_kind(shape));
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > SEQLM_PARAM_MAX_DIMS)
        return fail(err, SEQLM_ERR_DATA, path,
                    "tensor '%s' has %d dimensions; seqlm supports at most %d", name, ndim,
                    SEQLM_PARAM_MAX_DIMS);
    e->ndim = ndim;
    int d = 0, zero = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape) {
        int64_t v = json_uint(dim);
        if (v < 0)
            return fail(err, SEQLM_ERR_FORMAT, path,
                        "tensor '%s': shape[%d] is not a non-negative integer", name, d);
        e->shape[d++] = v;
        if (v == 0) zero = 1;
    }
    /* Elements and bytes, refusing to overflow: a byte count above 2^53 cannot match the
     * offsets anyway. */
    uint64_t count = 1;
    if (zero)
        count = 0;
    else
        for (int i = 0; i < ndim; i++) {
            if ((uint64_t)e->shape[i] > (uint64_t)EXACT_INT_MAX / count)
                return fail(err, SEQLM_ERR_FORMAT, path, "tensor '%s': shape %s is too large", name,
                            shape_str(sbuf, sizeof sbuf, ndim, e->shape));
            count *= (uint64_t)e->shape[i];
        }
    e->count = count;

    const cJSON *off = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
    if (!off) return fail(err, SEQLM_ERR_FORMAT, path, "tensor '%s': no \"data_offsets\"", name);
    int64_t b = -1, en = -1;
    if (cJSON_IsArray(off) && cJSON_GetArraySize(off) == 2) {
        b = json_uint(cJSON_GetArrayItem(off, 0));
        en = json_uint(cJSON_GetArrayItem(off, 1));
    }
    if (b < 0 || en < 0)
        return fail(err, SEQLM_ERR_FORMAT, path,
                    "tensor '%s': \"data_offsets\" is not a list of two non-negative integers",
                    name);
    if (en < b)
        return fail(err, SEQLM_ERR_FORMAT, path,
                    "tensor '%s': data_offsets [%lld, %lld] end before they begin", name,
                    (long long)b, (long long)en);
    e->begin = (uint64_t)b;
    e->end = (uint64_t)en;
    uint64_t bytes = count * dtypes[e->dtype].size; /* <= 2^56: no overflow */
    if (bytes != e->end - e->begin)
        return fail(err, SEQLM_ERR_FORMAT, path,
                    "tensor '%s': shape %s of %s needs %llu bytes but data_offsets [%lld, %lld] "
                    "hold %llu",
                    name, shape_str(sbuf, sizeof sbuf, ndim, e->shape), dtypes[e->dtype].name,
                    (unsigned long long)bytes, (long long)b, (long long)en,
                    (unsigned long long)(e->end - e->begin));
    return SEQLM_OK;
}

/* The tensors must tile the data exactly: sorted by offset, each begins where the last ended,
 * the first at 0 and the last at the end of the file. */
static seqlm_status check_layout(stfile *f, seqlm_error *err) {
    const char *path = f->path;
    const entry **sorted = malloc((f->n ? f->n : 1) * sizeof *sorted);
    if (!sorted) return fail(err, SEQLM_ERR_NOMEM, path, "out of memory");
    for (size_t i = 0; i < f->n; i++) sorted[i] = &f->entries[i];
    qsort(sorted, f->n, sizeof *sorted, cmp_entry_offset);
    seqlm_status st = SEQLM_OK;
    /* Past the end first: a cut file shows up as the first tensor that no longer fits. */
    for (size_t i = 0; i < f->n && !st; i++)
        if (sorted[i]->end > f->data_size)
            st = fail(err, SEQLM_ERR_FORMAT, path,
                      "truncated: header says tensor '%s' ends at byte %llu but the data is %llu "
                      "bytes",
                      sorted[i]->name, (unsigned long long)sorted[i]->end,
                      (unsigned long long)f->data_size);
    uint64_t pos = 0;
    for (size_t i = 0; i < f->n && !st; i++) {
        const entry *e = sorted[i];
        if (e->begin < pos)
            st = fail(err, SEQLM_ERR_FORMAT, path,
                      "tensors '%s' (bytes %llu..%llu) and '%s' (bytes %llu..%llu) overlap",
                      sorted[i - 1]->name, (unsigned long long)sorted[i - 1]->begin,
                      (unsigned long long)sorted[i - 1]->end, e->name, (unsigned long long)e->begin,
                      (unsigned long long)e->end);
        else if (e->begin > pos)
            st = fail(err, SEQLM_ERR_FORMAT, path,
                      "bytes %llu..%llu of the data belong to no tensor (a hole before tensor "
                      "'%s')",
                      (unsigned long long)pos, (unsigned long long)e->begin, e->name);
        pos = e->end;
    }
    if (!st && pos < f->data_size)
        st = fail(err, SEQLM_ERR_FORMAT, path,
                  "%llu bytes of data after the last tensor (the header accounts for %llu of "
                  "%llu bytes)",
                  (unsigned long long)(f->data_size - pos), (unsigned long long)pos,
                  (unsigned long long)f->data_size);
    free(sorted);
    return st;
}

/* Opens path and checks everything but the tensor values. */
static seqlm_status st_open(stfile *f, const char *path, seqlm_error *err) {
    memset(f, 0, sizeof *f);
    f->path = path;
    f->fd = open(path, O_RDONLY);
    if (f->fd < 0) return fail(err, SEQLM_ERR_IO, path, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(f->fd, &sb) != 0)
        return fail(err, SEQLM_ERR_IO, path, "cannot stat: %s", strerror(errno));
    if (!S_ISREG(sb.st_mode)) return fail(err, SEQLM_ERR_IO, path, "not a regular file");
    uint64_t size = (uint64_t)sb.st_size;
    if (size == 0)
        return fail(err, SEQLM_ERR_FORMAT, path,
                    "empty file (a safetensors file starts with an 8-byte header length)");
    if (size < 8)
        return fail(err, SEQLM_ERR_FORMAT, path,
                    "not a safetensors file (%llu bytes, too short for the 8-byte header length)",
                    (unsigned long long)size);
    unsigned char b8[8];
    if (read_at(f->fd, b8, 8, 0) != 0) return read_failed(err, path);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b8[i];
    if (n > size - 8)
        return fail(err, SEQLM_ERR_FORMAT, path,
                    "not a safetensors file, or truncated (header length %llu is larger than the "
                    "file: %llu bytes follow the length)",
                    (unsigned long long)n, (unsigned long long)(size - 8));
    if (n > HEADER_MAX)
        return fail(err, SEQLM_ERR_FORMAT, path,
                    "not a safetensors file (header length %llu is over the format's limit of "
                    "%llu bytes)",
                    (unsigned long long)n, HEADER_MAX);
    if (n < 2)
        return fail(err, SEQLM_ERR_FORMAT, path,
                    "not a safetensors file (header length %llu is too short for a JSON object)",
                    (unsigned long long)n);
    f->data_start = 8 + n;
    f->data_size = size - 8 - n;

    char *h = malloc((size_t)n + 1);
    if (!h)
        return fail(err, SEQLM_ERR_NOMEM, path, "out of memory for a %llu-byte header",
                    (unsigned long long)n);
    if (read_at(f->fd, h, (size_t)n, 8) != 0) {
        free(h);
        return read_failed(err, path);
    }
    h[n] = '\0';
    seqlm_status st = SEQLM_OK;
    size_t bad = 0;
    if (h[0] != '{' && h[0] > 32 && h[0] < 127)
        st = fail(err, SEQLM_ERR_FORMAT, path,
                  "not a safetensors file (the header is not a JSON object: it starts with '%c')",
                  h[0]);
    else if (h[0] != '{')
        st = fail(err, SEQLM_ERR_FORMAT, path,
                  "not a safetensors file (the header is not a JSON object: it starts with byte "
                  "0x%02x)",
                  (unsigned)(unsigned char)h[0]);
    else if (memchr(h, '\0', (size_t)n))
        st = fail(err, SEQLM_ERR_FORMAT, path, "header holds a NUL byte at byte %llu of the header",
                  (unsigned long long)((char *)memchr(h, '\0', (size_t)n) - h));
    else if (seqlm_utf8_validate(h, (size_t)n, &bad) == (size_t)-1)
        st = fail(err, SEQLM_ERR_FORMAT, path,
                  "header is not valid UTF-8 (byte %llu of the header)", (unsigned long long)bad);
    if (st) {
        free(h);
        return st;
    }
    const char *end = NULL;
    f->json = cJSON_ParseWithLengthOpts(h, (size_t)n, &end, 0);
    if (!f->json) {
        size_t at = end && end >= h && end <= h + n ? (size_t)(end - h) : 0;
        char near[24];
        size_t k = 0;
        for (size_t i = at; i < n && k < 20; i++) near[k++] = h[i] >= 32 && h[i] < 127 ? h[i] : '?';
        near[k] = '\0';
        st = fail(err, SEQLM_ERR_FORMAT, path, "header is not valid JSON (at byte %zu: \"%s\")", at,
                  near);
        free(h);
        return st;
    }
    for (const char *p = end; p < h + n; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            st = fail(err, SEQLM_ERR_FORMAT, path,
                      "header has text after the JSON object (at byte %zu of the header)",
                      (size_t)(p - h));
            break;
        }
    free(h);
    if (st) return st;
    if (!cJSON_IsObject(f->json)) /* cannot happen after '{', but cheap */
        return fail(err, SEQLM_ERR_FORMAT, path, "header is %s, not a JSON object",
                    json_kind(f->json));

    /* Keys: no duplicates (cJSON keeps both), then the metadata and the tensors. */
    size_t keys = (size_t)cJSON_GetArraySize(f->json);
    const char **names = malloc((keys ? keys : 1) * sizeof *names);
    f->entries = calloc(keys ? keys : 1, sizeof *f->entries);
    f->by_name = malloc((keys ? keys : 1) * sizeof *f->by_name);
    if (!names || !f->entries || !f->by_name) {
        free(names);
        return fail(err, SEQLM_ERR_NOMEM, path, "out of memory for %zu header entries", keys);
    }
    size_t k = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, f->json) names[k++] = j->string;
    qsort(names, keys, sizeof *names, cmp_name);
    for (size_t i = 1; i < keys && !st; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            st =
                fail(err, SEQLM_ERR_FORMAT, path, "key '%s' appears twice in the header", names[i]);
    free(names);
    if (st) return st;
    cJSON_ArrayForEach(j, f->json) {
        if (strcmp(j->string, "__metadata__") == 0)
            st = parse_metadata(f, j, err);
        else
            st = parse_entry(f, j, &f->entries[f->n++], err);
        if (st) return st;
    }
    for (size_t i = 0; i < f->n; i++) f->by_name[i] = &f->entries[i];
    qsort(f->by_name, f->n, sizeof *f->by_name, cmp_entry_name);
    return check_layout(f, err);
}

/* --- reading: the values ------------------------------------------------------------------ */

static uint64_t le(const unsigned char *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;) v = v << 8 | p[i];
    return v;
}

static float bits_to_float(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* IEEE half: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Exact in float. */
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | man << 13); /* inf, nan */
    if (exp) return bits_to_float(sign | (exp + 112) << 23 | man << 13);   /* 112 = 127 - 15 */
    float x = ldexpf((float)man, -24);                                     /* zero, subnormal */
    return sign ? -x : x;
}

/* Converts element i (at p) of tensor e; returns 0, or -1 if the value is no float. */
static int convert(const entry *e, const unsigned char *p, float *out) {
    switch (e->dtype) {
    case DT_F32:
        *out = bits_to_float((uint32_t)le(p, 4));
        return 0;
    case DT_F16:
        *out = half_to_float((uint16_t)le(p, 2));
        return 0;
    case DT_BF16:
        *out = bits_to_float((uint32_t)le(p, 2) << 16);
        return 0;
    case DT_F64: {
        uint64_t u = le(p, 8);
        double d;
        memcpy(&d, &u, sizeof d);
        if (isfinite(d) && fabs(d) >= 0x1.ffffffp127) return -1; /* would round to infinity */
        *out = (float)d;
        return 0;
    }
    case DT_I32: {
        int32_t v = (int32_t)(uint32_t)le(p, 4);
        float x = (float)v;
        if ((int64_t)x != v) return -1; /* |x| <= 2^31 fits int64 */
        *out = x;
        return 0;
    }
    case DT_I64: {
        int64_t v = (int64_t)le(p, 8);
        float x = (float)v;
        if (x >= 0x1p63f || (int64_t)x != v) return -1;
        *out = x;
        return 0;
    }
    }
    return -1;
}

static seqlm_status not_a_float(const stfile *f, const entry *e, const unsigned char *p,
                                uint64_t index, seqlm_error *err) {
    char val[40];
    if (e->dtype == DT_F64) {
        uint64_t u = le(p, 8);
        double d;
        memcpy(&d, &u, sizeof d);
        snprintf(val, sizeof val, "%.17g", d);
        return fail(err, SEQLM_ERR_DATA, f->path,
                    "tensor '%s': F64 value %s (element %llu) is beyond the float range", e->name,
                    val, (unsigned long long)index);
    }
    snprintf(val, sizeof val, "%lld",
             e->dtype == DT_I32 ? (long long)(int32_t)(uint32_t)le(p, 4) : (long long)le(p, 8));
    return fail(err, SEQLM_ERR_DATA, f->path,
                "tensor '%s': %s value %s (element %llu) is not exactly representable as a float",
                e->name, dtypes[e->dtype].name, val, (unsigned long long)index);
}

/* Reads tensor e as floats into dst (e->count of them); dst NULL only checks that every value
 * converts. */
static seqlm_status read_tensor(const stfile *f, const entry *e, float *dst, seqlm_error *err) {
    static const int fallible[DT_SUPPORTED] = {[DT_F64] = 1, [DT_I32] = 1, [DT_I64] = 1};
    if (!dst && !fallible[e->dtype]) return SEQLM_OK;
    unsigned char buf[CHUNK_BYTES];
    unsigned size = dtypes[e->dtype].size;
    uint64_t per_chunk = CHUNK_BYTES / size, done = 0;
    while (done < e->count) {
        uint64_t m = e->count - done < per_chunk ? e->count - done : per_chunk;
        if (read_at(f->fd, buf, (size_t)(m * size), f->data_start + e->begin + done * size) != 0)
            return read_failed(err, f->path);
        for (uint64_t i = 0; i < m; i++) {
            float x;
            if (convert(e, buf + i * size, &x) != 0)
                return not_a_float(f, e, buf + i * size, done + i, err);
            if (dst) dst[done + i] = x;
        }
        done += m;
    }
    return SEQLM_OK;
}

/* The file's shape as seqlm holds it: a scalar is [1]. */
static int entry_shape(const entry *e, int64_t *shape) {
    if (e->ndim == 0) {
        shape[0] = 1;
        return 1;
    }
    memcpy(shape, e->shape, (size_t)e->ndim * sizeof *shape);
    return e->ndim;
}

/* Hands the file's metadata to the caller: into an empty *meta by moving the arrays, otherwise
 * entry by entry, replacing values of keys already there. */
static seqlm_status give_metadata(stfile *f, seqlm_metadata *meta, seqlm_error *err) {
    if (!meta) return SEQLM_OK;
    if (meta->count == 0) {
        seqlm_metadata_free(meta);
        *meta = f->meta;
        memset(&f->meta, 0, sizeof f->meta);
        return SEQLM_OK;
    }
    for (size_t i = 0; i < f->meta.count; i++) {
        seqlm_metadata_set(meta, f->meta.keys[i], f->meta.values[i]);
        const char *v = seqlm_metadata_get(meta, f->meta.keys[i]);
        if (!v || strcmp(v, f->meta.values[i]) != 0)
            return fail(err, SEQLM_ERR_NOMEM, f->path, "out of memory for the metadata");
    }
    return SEQLM_OK;
}

seqlm_params *seqlm_safetensors_read(const char *path, seqlm_metadata *meta, seqlm_error *err) {
    stfile f;
    seqlm_params *p = NULL;
    if (st_open(&f, path, err)) goto fail;
    p = seqlm_params_create();
    if (!p) {
        fail(err, SEQLM_ERR_NOMEM, path, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < f.n; i++) {
        const entry *e = &f.entries[i];
        int64_t shape[SEQLM_PARAM_MAX_DIMS];
        int ndim = entry_shape(e, shape);
        char sbuf[128];
        if (e->count == 0) {
            fail(err, SEQLM_ERR_DATA, path,
                 "tensor '%s' is empty (shape %s); seqlm tensors need at least one element",
                 e->name, shape_str(sbuf, sizeof sbuf, ndim, shape));
            goto fail;
        }
        size_t len = strlen(e->name);
        if (len >= SEQLM_PARAM_NAME_MAX) {
            int cut = 40; /* shown in part, cut between UTF-8 characters */
            while (cut > 0 && ((unsigned char)e->name[cut] & 0xC0) == 0x80) cut--;
            fail(err, SEQLM_ERR_DATA, path,
                 "tensor name '%.*s...' is %zu bytes long; seqlm allows at most %d", cut, e->name,
                 len, SEQLM_PARAM_NAME_MAX - 1);
            goto fail;
        }
        if (e->count > SIZE_MAX / sizeof(float) / 2 ||
            seqlm_params_add(p, e->name, ndim, shape) < 0) {
            fail(err, SEQLM_ERR_NOMEM, path, "out of memory registering tensor '%s'", e->name);
            goto fail;
        }
    }
    if (seqlm_params_alloc(p, err)) {
        seqlm_error_prefix(err, "%s", path);
        goto fail;
    }
    for (size_t i = 0; i < f.n; i++)
        if (read_tensor(&f, &f.entries[i], seqlm_params_value(p, (int)i), err)) goto fail;
    if (give_metadata(&f, meta, err)) goto fail;
    st_close(&f);
    return p;
fail:
    st_close(&f);
    seqlm_params_free(p);
    return NULL;
}

seqlm_status seqlm_safetensors_load_into(const char *path, seqlm_params *p, seqlm_metadata *meta,
                                         seqlm_error *err) {
    if (!p || !p->values)
        return fail(err, SEQLM_ERR_ARG, path, "the model's parameters are not allocated");
    stfile f;
    seqlm_status st = st_open(&f, path, err);
    const entry **src = NULL;
    unsigned char *used = NULL;
    float *tmp = NULL;
    if (st) goto done;
    src = calloc((size_t)p->count + 1, sizeof *src);
    used = calloc(f.n + 1, 1);
    if (!src || !used) {
        st = fail(err, SEQLM_ERR_NOMEM, path, "out of memory");
        goto done;
    }

    /* Names first, all of them, the way PyTorch's load_state_dict reports a mismatch. */
    name_list missing = {0}, extra = {0};
    for (int i = 0; i < p->count; i++) {
        src[i] = find_entry(&f, p->info[i].name);
        if (src[i])
            used[src[i] - f.entries] = 1;
        else if (p->info[i].alias_of < 0)
            list_add(&missing, p->info[i].name);
    }
    for (size_t i = 0; i < f.n; i++)
        if (!used[i]) list_add(&extra, f.entries[i].name);
    if (missing.count || extra.count) {
        char a[LIST_MAX + 128] = "", b[LIST_MAX + 128] = "";
        if (missing.count)
            snprintf(a, sizeof a, "%d tensor%s the model needs %s missing: %s", missing.count,
                     missing.count > 1 ? "s" : "", missing.count > 1 ? "are" : "is",
                     list_str(&missing));
        if (extra.count)
            snprintf(b, sizeof b, "%s%d tensor%s in the file the model does not have: %s",
                     missing.count ? "; " : "", extra.count, extra.count > 1 ? "s" : "",
                     list_str(&extra));
        st = fail(err, SEQLM_ERR_DATA, path, "does not fit the model: %s%s", a, b);
        goto done;
    }

    /* Shapes, then values that do not convert, then tied tensors that disagree: all before
     * the model is changed. */
    for (int i = 0; i < p->count; i++) {
        if (!src[i]) continue;
        const seqlm_param_info *t = &p->info[i];
        int64_t shape[SEQLM_PARAM_MAX_DIMS];
        int ndim = entry_shape(src[i], shape);
        if (ndim != t->ndim || memcmp(shape, t->shape, (size_t)ndim * sizeof *shape) != 0) {
            char s1[128], s2[128];
            st = fail(err, SEQLM_ERR_DATA, path,
                      "tensor '%s' has shape %s in the file but %s in the model", t->name,
                      shape_str(s1, sizeof s1, src[i]->ndim, src[i]->shape),
                      shape_str(s2, sizeof s2, t->ndim, t->shape));
            goto done;
        }
    }
    for (int i = 0; i < p->count; i++)
        if (src[i] && (st = read_tensor(&f, src[i], NULL, err))) goto done;
    for (int i = 0; i < p->count; i++) {
        const seqlm_param_info *t = &p->info[i];
        if (!src[i] || t->alias_of < 0) continue;
        const entry *a = src[i], *b = src[t->alias_of];
        if (!(tmp = malloc(2 * t->size * sizeof *tmp))) {
            st = fail(err, SEQLM_ERR_NOMEM, path, "out of memory");
            goto done;
        }
        if ((st = read_tensor(&f, a, tmp, err)) || (st = read_tensor(&f, b, tmp + t->size, err)))
            goto done;
        if (memcmp(tmp, tmp + t->size, t->size * sizeof *tmp) != 0) {
            st = fail(err, SEQLM_ERR_DATA, path,
                      "tensors '%s' and '%s' share storage in the model (tied weights) but hold "
                      "different values in the file",
                      t->name, p->info[t->alias_of].name);
            goto done;
        }
        free(tmp);
        tmp = NULL;
    }

    for (int i = 0; i < p->count; i++)
        if (p->info[i].alias_of < 0 &&
            (st = read_tensor(&f, src[i], seqlm_params_value(p, i), err)))
            goto done;
    st = give_metadata(&f, meta, err);
done:
    free(tmp);
    free(src);
    free(used);
    st_close(&f);
    return st;
}

/* --- writing ------------------------------------------------------------------------------ */

typedef struct {
    char *s;
    size_t len, cap;
    int nomem;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->nomem) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *t = realloc(b->s, cap);
        if (!t) {
            b->nomem = 1;
            return;
        }
        b->s = t;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_str(strbuf *b, const char *s) {
    sb_put(b, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control characters escaped, UTF-8 as it is. */
static void sb_json(strbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        sb_put(b, run, (size_t)(s - run));
        char esc[8];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof esc, "\\%c", c);
        else if (c == '\n')
            snprintf(esc, sizeof esc, "\\n");
        else if (c == '\t')
            snprintf(esc, sizeof esc, "\\t");
        else if (c == '\r')
            snprintf(esc, sizeof esc, "\\r");
        else
            snprintf(esc, sizeof esc, "\\u%04x", c);
        sb_str(b, esc);
        run = s + 1;
    }
    sb_put(b, run, (size_t)(s - run));
    sb_put(b, "\"", 1);
}

static seqlm_status check_utf8(const char *path, const char *what, const char *name, const char *s,
                               seqlm_error *err) {
    size_t bad;
    if (seqlm_utf8_validate(s, strlen(s), &bad) == (size_t)-1)
        return fail(err, SEQLM_ERR_ARG, path,
                    "%s '%.40s' is not valid UTF-8 (byte %zu), which a safetensors header must be",
                    what, name, bad);
    return SEQLM_OK;
}

seqlm_status seqlm_safetensors_write(const char *path, const seqlm_params *p,
                                     const seqlm_metadata *meta, seqlm_error *err) {
    if (!p || !p->values)
        return fail(err, SEQLM_ERR_ARG, path, "cannot write parameters that are not allocated");
    seqlm_status st = SEQLM_OK;
    for (int i = 0; i < p->count && !st; i++) {
        if (strcmp(p->info[i].name, "__metadata__") == 0)
            st = fail(err, SEQLM_ERR_ARG, path, "a tensor cannot be called \"__metadata__\"");
        else
            st = check_utf8(path, "tensor name", p->info[i].name, p->info[i].name, err);
    }
    for (size_t i = 0; meta && i < meta->count && !st; i++)
        if (!(st = check_utf8(path, "metadata key", meta->keys[i], meta->keys[i], err)))
            st = check_utf8(path, "metadata value of", meta->keys[i], meta->values[i], err);
    if (st) return st;

    /* The header: {"__metadata__":{...},"name":{"dtype":"F32","shape":[..],"data_offsets":[..]}} */
    strbuf h = {0};
    sb_str(&h, "{");
    if (meta && meta->count) {
        sb_str(&h, "\"__metadata__\":{");
        for (size_t i = 0; i < meta->count; i++) {
            if (i) sb_str(&h, ",");
            sb_json(&h, meta->keys[i]);
            sb_str(&h, ":");
            sb_json(&h, meta->values[i]);
        }
        sb_str(&h, "}");
    }
    uint64_t off = 0;
    for (int i = 0; i < p->count; i++) {
        const seqlm_param_info *t = &p->info[i];
        char num[64];
        if (i || (meta && meta->count)) sb_str(&h, ",");
        sb_json(&h, t->name);
        sb_str(&h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)t->shape[d]);
            sb_str(&h, num);
        }
        uint64_t bytes = (uint64_t)t->size * 4;
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + bytes));
        sb_str(&h, num);
        off += bytes;
    }
    sb_str(&h, "}");
    while (h.len % 8) sb_str(&h, " "); /* 8 + N is a multiple of 8: the data starts aligned */
    if (h.nomem) {
        free(h.s);
        return fail(err, SEQLM_ERR_NOMEM, path, "out of memory for the header");
    }
    if (h.len > HEADER_MAX) {
        free(h.s);
        return fail(err, SEQLM_ERR_ARG, path,
                    "the header would be %zu bytes, over the format's limit of %llu (is the "
                    "metadata that big?)",
                    h.len, HEADER_MAX);
    }

    seqlm_outfile *out = seqlm_outfile_open(path, 0, err);
    if (!out) {
        free(h.s);
        return err ? err->status : SEQLM_ERR_IO;
    }
    unsigned char b8[8];
    for (int i = 0; i < 8; i++) b8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    seqlm_outfile_write(out, b8, 8);
    seqlm_outfile_write(out, h.s, h.len);
    free(h.s);
    /* Values as little-endian F32 whatever the host's byte order. */
    unsigned char buf[CHUNK_BYTES];
    for (int i = 0; i < p->count; i++) {
        const float *v = seqlm_params_value(p, i);
        size_t n = p->info[i].size, k = 0;
        for (size_t j = 0; j < n; j++) {
            uint32_t u;
            memcpy(&u, &v[j], sizeof u);
            for (int b = 0; b < 4; b++) buf[k++] = (unsigned char)(u >> (8 * b));
            if (k == sizeof buf) {
                seqlm_outfile_write(out, buf, k);
                k = 0;
            }
        }
        seqlm_outfile_write(out, buf, k);
    }
    return seqlm_outfile_commit(out, err);
}
