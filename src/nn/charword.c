/* charword.c - the character BiLSTM word representation (Lample et al. 2016): the character
 * vocabulary, word types' char ids, a batch's distinct words, and the layer's forward and
 * backward. See charword.h for the shapes; U distinct words, Tc characters, E char embedding,
 * H units per direction. Not here: where the tasks put the representation (tagger.c builds
 * its BiLSTM input, classify/model.c its encoder input). */
#include "nn/charword.h"

#include <stdlib.h>
#include <string.h>

#include "util/assert.h"

/* ---- characters ------------------------------------------------------------------------------ */

static size_t cp_len(unsigned char c) {
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* Byte offsets of the code points of s: starts[0..n) and n; at most cap. */
static size_t code_points(const char *s, size_t *starts, size_t cap) {
    size_t n = 0, len = strlen(s);
    for (size_t i = 0; i < len && n < cap; i += cp_len((unsigned char)s[i])) starts[n++] = i;
    return n;
}

int charword_vocab_add(strmap *chars, const char *w) {
    size_t starts[256];
    size_t n = code_points(w, starts, 256);
    for (size_t k = 0; k < n; k++)
        if (strmap_add(chars, w + starts[k], cp_len((unsigned char)w[starts[k]]), 1) < 0) return -1;
    return 0;
}

#define SCAN_MAX 4096 /* characters of a word looked at for its ids */

int charword_ids(const strmap *chars, const char *w, int max_chars, int32_t *dst) {
    SEQLM_ASSERT(max_chars >= 2);
    /* code point starts, counted without a table: the first SCAN_MAX of them */
    size_t len = strlen(w), n = 0;
    for (size_t i = 0; i < len && n < SCAN_MAX; i += cp_len((unsigned char)w[i])) n++;
    const size_t cap = (size_t)max_chars, head = cap / 2,
                 tail_from = n > cap ? n - (cap - head) : 0;
    size_t k = 0, idx = 0;
    for (size_t i = 0; i < len && idx < n; i += cp_len((unsigned char)w[i]), idx++) {
        if (n > cap && idx >= head && idx < tail_from)
            continue; /* long words: the first cap/2 and the last cap - cap/2 characters */
        int64_t ch = strmap_find(chars, w + i, cp_len((unsigned char)w[i]));
        dst[k++] = ch < 0 ? 0 : (int32_t)ch;
    }
    if (k == 0) dst[k++] = 0; /* an empty word: one <unk> */
    return (int)k;
}

/* ---- word types ------------------------------------------------------------------------------ */

int charword_types_init(charword_types *t, size_t n, int max_chars) {
    memset(t, 0, sizeof *t);
    size_t nn = n ? n : 1;
    t->max_chars = max_chars;
    t->n = n;
    t->ids = malloc(nn * (size_t)max_chars * sizeof *t->ids);
    t->len = malloc(nn * sizeof *t->len);
    t->stamp = calloc(nn, sizeof *t->stamp);
    t->slot = malloc(nn * sizeof *t->slot);
    if (!t->ids || !t->len || !t->stamp || !t->slot) {
        charword_types_free(t);
        return -1;
    }
    return 0;
}

void charword_types_set(charword_types *t, size_t i, const strmap *chars, const char *w) {
    SEQLM_ASSERT(i < t->n);
    t->len[i] = charword_ids(chars, w, t->max_chars, t->ids + i * (size_t)t->max_chars);
}

void charword_types_free(charword_types *t) {
    free(t->ids);
    free(t->len);
    free(t->stamp);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

/* ---- a batch's distinct words ------------------------------------------------------------------
 */

void charword_batch_begin(charword_batch *b, charword_types *t) {
    if (++t->cur == 0) { /* stamps wrapped: clear them */
        memset(t->stamp, 0, (t->n ? t->n : 1) * sizeof *t->stamp);
        t->cur = 1;
    }
    b->U = b->Tc = 0;
}

int32_t charword_batch_add(charword_batch *b, charword_types *t, size_t type) {
    SEQLM_ASSERT(type < t->n);
    if (t->stamp[type] == t->cur) return t->slot[type];
    if ((size_t)b->U == b->cap_u) {
        size_t cap = b->cap_u ? 2 * b->cap_u : 256;
        int32_t *u = realloc(b->utype, cap * sizeof *u);
        if (!u) return -1;
        b->utype = u;
        int32_t *l = realloc(b->clen, cap * sizeof *l);
        if (!l) return -1;
        b->clen = l;
        b->cap_u = cap;
    }
    t->stamp[type] = t->cur;
    t->slot[type] = b->U;
    b->utype[b->U] = (int32_t)type;
    b->clen[b->U] = t->len[type];
    if (t->len[type] > b->Tc) b->Tc = t->len[type];
    return b->U++;
}

int charword_batch_finish(charword_batch *b, const charword_types *t) {
    const int U = b->U, Tc = b->Tc;
    size_t need = (size_t)Tc * U;
    if (need > b->cap_cu) {
        int32_t *c = realloc(b->cid, need * sizeof *c);
        if (!c) return -1;
        b->cid = c;
        b->cap_cu = need;
    }
    for (int u = 0; u < U; u++) {
        const int32_t *src = t->ids + (size_t)b->utype[u] * t->max_chars;
        for (int k = 0; k < Tc; k++) b->cid[(size_t)k * U + u] = k < b->clen[u] ? src[k] : 0;
    }
    return 0;
}

void charword_batch_free(charword_batch *b) {
    free(b->utype);
    free(b->clen);
    free(b->cid);
    memset(b, 0, sizeof *b);
}

/* ---- the layer
 * ----------------------------------------------------------------------------------- */

int charword_init(charword *cw, seqlm_params *p, int n_chars, int E, int H) {
    memset(cw, 0, sizeof *cw);
    cw->E = E;
    cw->H = H;
    int bad = seqlm_embedding_init(&cw->emb, p, "char_embedding", n_chars, E);
    bad |= seqlm_rnn_stack_init(&cw->lstm, p, "char_lstm", SEQLM_CELL_LSTM, E, H, 1, 1, 0.0f);
    return bad ? -1 : 0;
}

void charword_reset(const charword *cw, seqlm_params *p, seqlm_rng *rng) {
    seqlm_embedding_reset(&cw->emb, p, rng);
    seqlm_rnn_stack_reset(&cw->lstm, p, rng);
}

void charword_free(charword *cw) {
    free(cw->x);
    free(cw->dx);
    free(cw->h);
    free(cw->dh);
    seqlm_stack_cache_free(cw->cache);
    cw->x = cw->dx = cw->h = cw->dh = NULL;
    cw->cache = NULL;
    cw->U_max = cw->Tc_max = 0;
}

/* Scratch for at least (Tc, U); grows to the largest batch seen. */
static int ensure(charword *cw, int U, int Tc) {
    if (U <= cw->U_max && Tc <= cw->Tc_max) return 0;
    U = U > cw->U_max ? U : cw->U_max;
    Tc = Tc > cw->Tc_max ? Tc : cw->Tc_max;
    charword_free(cw);
    size_t E = (size_t)cw->E, H = (size_t)cw->H;
    cw->x = malloc((size_t)Tc * U * E * sizeof(float));
    cw->dx = malloc((size_t)Tc * U * E * sizeof(float));
    cw->h = malloc(2 * (size_t)U * H * sizeof(float));
    cw->dh = malloc(2 * (size_t)U * H * sizeof(float));
    cw->cache = seqlm_stack_cache_create(&cw->lstm, Tc, U);
    if (!cw->x || !cw->dx || !cw->h || !cw->dh || !cw->cache) {
        charword_free(cw);
        return -1;
    }
    cw->U_max = U;
    cw->Tc_max = Tc;
    return 0;
}

int charword_forward(charword *cw, const seqlm_params *p, const charword_batch *b) {
    if (b->U < 1) return 0;
    if (ensure(cw, b->U, b->Tc)) return -1;
    seqlm_embedding_forward(&cw->emb, p, b->cid, (size_t)b->Tc * b->U, cw->x);
    /* hT (L*D, U, H) = (2, U, H): the forward direction's final state after each word's last
     * character (its length), the backward one's after its first */
    seqlm_rnn_stack_forward(&cw->lstm, p, cw->cache, cw->x, b->Tc, b->U, b->clen, NULL, NULL, NULL,
                            cw->h, NULL, 0, NULL);
    return 0;
}

void charword_get(const charword *cw, const charword_batch *b, int u, float *dst) {
    const size_t H = (size_t)cw->H;
    memcpy(dst, cw->h + (size_t)u * H, H * sizeof *dst);
    memcpy(dst + H, cw->h + ((size_t)b->U + u) * H, H * sizeof *dst);
}

void charword_zero_dh(charword *cw, const charword_batch *b) {
    if (b->U > 0) memset(cw->dh, 0, 2 * (size_t)b->U * cw->H * sizeof(float));
}

void charword_add_dh(charword *cw, const charword_batch *b, int u, const float *src) {
    const int H = cw->H;
    float *f = cw->dh + (size_t)u * H, *r = cw->dh + ((size_t)b->U + u) * H;
    for (int h = 0; h < H; h++) {
        f[h] += src[h];
        r[h] += src[H + h];
    }
}

/* dh -> dx through the LSTM (its parameter gradients accumulate), then dx -> the char embedding
 * rows of cid. */
void charword_backward(charword *cw, seqlm_params *p, const charword_batch *b) {
    if (b->U < 1) return;
    memset(cw->dx, 0, (size_t)b->Tc * b->U * cw->E * sizeof(float));
    seqlm_rnn_stack_backward(&cw->lstm, p, cw->cache, NULL, cw->dh, NULL, cw->dx, NULL, NULL);
    seqlm_embedding_backward(&cw->emb, p, b->cid, (size_t)b->Tc * b->U, cw->dx);
}
