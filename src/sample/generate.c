/* generate.c - text from a neural language model: sampling with temperature, top-k and top-p
 * (nucleus), greedy decoding and beam search, plus the ids -> UTF-8 text step they share with
 * the n-gram sampler's callers.
 *
 * Every decoder starts from </s> (the stream convention: </s> ends the previous sentence) and the
 * prime's tokens, fed through seqlm_lm_logprobs; each generated token is then fed back one step
 * at a time (T = 1). The model only needs the public workspace API: beam search runs one B = 1
 * workspace per hypothesis and moves a hypothesis's state by copying the float array of
 * seqlm_lm_work_state (lm.h promises that this array is the whole carried state and that
 * writing it sets the state), so it does not depend on how the model lays out its rows.
 *
 * Sampling, per step, in double precision:
 *   p_i  proportional to exp((logp_i - max logp) / T), 0 for <unk> and <s>     (temperature)
 *   top-k: keep the k largest p_i (ties: lower id first)
 *   top-p: of those, in order of p descending, keep the shortest prefix whose mass is >= top_p
 *          times the kept mass (always at least one token)
 *   draw:  u = seqlm_rng_uniform * kept mass; the first token whose running sum exceeds u.
 * Top-p alone does not sort V probabilities: a token with p_i < (1 - top_p) / (n - 1) of the
 * mass cannot be in the nucleus (all such tokens together hold less than 1 - top_p; llama2.c's
 * trick), and among the rest a quickselect that tracks mass finds the nucleus in O(V).
 * The draw walks the kept tokens in a fixed order (id order, or the order the filters leave),
 * so a seed always gives the same token.
 *
 * Beam search (width N): each step expands every live hypothesis by its 2N best next tokens,
 * ranks the candidates by summed log-probability; a </s> among the first N candidates finishes a
 * hypothesis with score sum / len^alpha (len counts the </s>), and the first N other candidates
 * live on. It stops when N hypotheses have finished (so width 1 is exactly greedy decoding) or
 * the live ones reach `length` tokens (then scored the same way); the best score wins.
 *
 * Not here: n-gram sampling (src/ngram/sample.c), batching several samples into one workspace,
 * repetition penalties. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seqlm/lm.h"

#define PRIME_CHUNK 32 /* prime tokens fed per seqlm_lm_logprobs call */

seqlm_gen_config seqlm_gen_default_config(void) {
    seqlm_gen_config g;
    memset(&g, 0, sizeof g);
    g.temperature = 1.0;
    g.top_k = 0;
    g.top_p = 1.0;
    g.greedy = 0;
    g.beam = 0;
    g.length_penalty = 1.0;
    g.length = 0; /* the unit's default */
    g.prime = NULL;
    return g;
}

static int drawable(uint32_t id) {
    return id != SEQLM_UNK && id != SEQLM_BOS;
}

/* ---- text ------------------------------------------------------------------------------------ */

typedef struct {
    char *s;
    size_t len, cap;
} buf;

static int buf_reserve(buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) return -1;
    b->s = s;
    b->cap = cap;
    return 0;
}

static int buf_put(buf *b, const char *s, size_t n) {
    if (buf_reserve(b, n)) return -1;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

/* A new NUL-terminated copy of s[0..len) that is valid UTF-8: every byte that does not start a
 * valid sequence (and every NUL, which a C string cannot hold) becomes U+FFFD, one per byte, as
 * the n-gram CLI's put_utf8 does. */
static char *utf8_clean(const char *s, size_t len) {
    buf out = {0};
    if (buf_reserve(&out, len)) return NULL;
    size_t i = 0;
    while (i < len) {
        size_t bad, ok = seqlm_utf8_validate(s + i, len - i, &bad);
        size_t good = ok == (size_t)-1 ? bad : len - i;
        /* NUL bytes are valid UTF-8 but would cut the string short. */
        const char *nul = memchr(s + i, '\0', good);
        if (nul) good = (size_t)(nul - (s + i));
        if (buf_put(&out, s + i, good)) goto oom;
        i += good;
        if (i < len) {
            if (buf_put(&out, "\xEF\xBF\xBD", 3)) goto oom;
            i++;
        }
    }
    out.s[out.len] = '\0';
    return out.s;
oom:
    free(out.s);
    return NULL;
}

char *seqlm_gen_text(const seqlm_vocab *v, seqlm_unit unit, const uint32_t *ids, size_t n) {
    buf raw = {0};
    if (buf_reserve(&raw, 16)) return NULL;
    int after_word = 0; /* a word was written since the start or the last newline */
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == SEQLM_EOS) {
            if (buf_put(&raw, "\n", 1)) goto oom;
            after_word = 0;
            continue;
        }
        const char *tok = seqlm_vocab_word(v, ids[i]);
        if (!tok) tok = "<unk>";
        size_t tl = strlen(tok);
        if (buf_reserve(&raw, tl + 1)) goto oom;
        if (unit == SEQLM_UNIT_WORD) {
            if (after_word) raw.s[raw.len++] = ' ';
            memcpy(raw.s + raw.len, tok, tl);
            raw.len += tl;
            after_word = 1;
        } else {
            raw.len += seqlm_token_surface(tok, unit, raw.s + raw.len);
        }
    }
    char *text = utf8_clean(raw.s, raw.len);
    free(raw.s);
    return text;
oom:
    free(raw.s);
    return NULL;
}

/* ---- choosing a token -------------------------------------------------------------------------
 */

/* Scratch for one sampling step over V words. */
typedef struct {
    int V;
    double *p;   /* (V) unnormalised probabilities */
    int32_t *ix; /* (V) candidate ids */
} picker;

/* a ranks before b: larger p, then lower id. */
static int before(const double *p, int32_t a, int32_t b) {
    return p[a] > p[b] || (p[a] == p[b] && a < b);
}

/* Heap helpers on ix[0..n): a min-heap in `before` order (the root is the worst kept). */
static void sift_down(const double *p, int32_t *h, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && before(p, h[w], h[l])) w = l;
        if (r < n && before(p, h[w], h[r])) w = r;
        if (w == i) return;
        int32_t t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* Reorders ix[0..n) so that its first k entries are the k best, sorted best first; O(n log k).
 * Returns min(k, n). */
static int top_k_sorted(const double *p, int32_t *ix, int n, int k) {
    if (k > n) k = n;
    if (k <= 0) return 0;
    for (int i = k / 2 - 1; i >= 0; i--) sift_down(p, ix, k, i);
    for (int i = k; i < n; i++)
        if (before(p, ix[i], ix[0])) {
            ix[0] = ix[i];
            sift_down(p, ix, k, 0);
        }
    /* Heap sort: repeatedly move the worst to the end. */
    for (int end = k - 1; end > 0; end--) {
        int32_t t = ix[0];
        ix[0] = ix[end];
        ix[end] = t;
        sift_down(p, ix, end, 0);
    }
    return k;
}

static void swap_ix(int32_t *ix, int a, int b) {
    int32_t t = ix[a];
    ix[a] = ix[b];
    ix[b] = t;
}

/* Moves the nucleus to the front of ix[0..n) and returns its size: the shortest prefix, in
 * `before` order, whose mass reaches need (the front is in no particular order). A quickselect
 * that tracks the mass of what it keeps: expected O(n), no sort (a nucleus of a flat
 * distribution can hold most of V). */
static int nucleus(const double *p, int32_t *ix, int n, double need) {
    int lo = 0, hi = n; /* ix[0..lo) are in; ix[hi..n) are out; have = mass of ix[0..lo) < need */
    double have = 0;
    while (hi - lo > 1) {
        int a = lo, b = lo + (hi - lo) / 2, c = hi - 1; /* median of three as the pivot */
        if (before(p, ix[b], ix[a])) swap_ix(ix, a, b);
        if (before(p, ix[c], ix[b])) swap_ix(ix, b, c);
        if (before(p, ix[b], ix[a])) swap_ix(ix, a, b);
        swap_ix(ix, b, c);
        int32_t pv = ix[c];
        int s = lo;
        double mass = 0;
        for (int i = lo; i < c; i++)
            if (before(p, ix[i], pv)) {
                mass += p[ix[i]];
                swap_ix(ix, i, s++);
            }
        swap_ix(ix, s, c);
        if (have + mass >= need) {
            hi = s; /* the nucleus ends among the better ones */
        } else if (have + mass + p[ix[s]] >= need) {
            return s + 1; /* the pivot completes it */
        } else {
            have += mass + p[ix[s]];
            lo = s + 1;
        }
    }
    return hi > 1 ? hi : 1; /* one undecided token left: it is needed */
}

/* The drawable id with the largest log-probability (lowest id among ties; NaN never wins). */
static int32_t argmax(const float *lp, int V) {
    int32_t best = SEQLM_EOS;
    for (int32_t i = 0; i < V; i++)
        if (drawable((uint32_t)i) && lp[i] > lp[best]) best = i;
    return best;
}

static int32_t pick(picker *pk, const float *lp, const seqlm_gen_config *g, seqlm_rng *rng) {
    int V = pk->V;
    if (g->greedy) return argmax(lp, V);
    double *p = pk->p;
    int32_t *ix = pk->ix;
    float mx = lp[argmax(lp, V)];
    double inv_t = 1.0 / g->temperature, total = 0;
    int n = 0;
    for (int32_t i = 0; i < V; i++) {
        double e = 0;
        if (drawable((uint32_t)i) && lp[i] == lp[i]) e = exp(((double)lp[i] - mx) * inv_t);
        p[i] = e;
        total += e;
        if (e > 0) ix[n++] = i;
    }
    int filter_k = g->top_k > 0 && g->top_k < n, filter_p = g->top_p < 1.0 && n > 1;
    if (!filter_k && !filter_p) {
        double u = seqlm_rng_uniform(rng) * total, c = 0;
        for (int j = 0; j < n; j++) {
            c += p[ix[j]];
            if (c > u) return ix[j];
        }
        return ix[n - 1]; /* u within rounding of the total */
    }
    if (filter_k) {
        n = top_k_sorted(p, ix, n, g->top_k);
    } else {
        /* Only tokens above the bar can be in the nucleus (see the top of the file). */
        double bar = (1.0 - g->top_p) / (double)(n - 1) * total;
        int m = 0;
        for (int j = 0; j < n; j++)
            if (p[ix[j]] >= bar) ix[m++] = ix[j];
        if (m > 0) n = m; /* m == 0 only if top_p < 1/V; then select among them all */
    }
    /* The kept mass: after top-k the k tokens' (top-p then applies to the renormalised k);
     * otherwise the whole distribution's (the bar dropped only tokens outside the nucleus). */
    double mass = total;
    if (filter_k)
        for (int j = mass = 0; j < n; j++) mass += p[ix[j]];
    if (filter_p) {
        double need = g->top_p * mass;
        if (filter_k) { /* ix is sorted: walk it */
            double c = 0;
            int m = 0;
            while (m < n) {
                c += p[ix[m++]];
                if (c >= need) break;
            }
            n = m;
        } else {
            n = nucleus(p, ix, n, need);
        }
        mass = 0;
        for (int j = 0; j < n; j++) mass += p[ix[j]];
    }
    double u = seqlm_rng_uniform(rng) * mass, c = 0;
    for (int j = 0; j < n; j++) {
        c += p[ix[j]];
        if (c > u) return ix[j];
    }
    return ix[n - 1];
}

/* ---- feeding the model -------------------------------------------------------------------- */

/* The context: </s>, then the prime's tokens, each line of the prime followed by </s> except the
 * last. Unknown tokens are <unk>. *ids is new (caller frees). */
static seqlm_status build_context(const seqlm_vocab *v, seqlm_unit unit, const char *prime,
                                  int32_t **ids, size_t *n, seqlm_error *err) {
    size_t cap = 16, len = 0;
    int32_t *out = malloc(cap * sizeof *out);
    seqlm_tokens toks = {0};
    if (!out) goto oom;
    out[len++] = SEQLM_EOS;
    for (const char *line = prime; line;) {
        const char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        if (ll && line[ll - 1] == '\r') ll--;
        int k = seqlm_tokenize(line, ll, unit, &toks);
        if (k < 0) goto oom;
        if (len + (size_t)k + 1 > cap) {
            while (len + (size_t)k + 1 > cap) cap *= 2;
            int32_t *t = realloc(out, cap * sizeof *t);
            if (!t) goto oom;
            out = t;
        }
        for (int i = 0; i < k; i++)
            out[len++] = (int32_t)seqlm_vocab_lookup(v, seqlm_token(&toks, i));
        if (nl && nl[1]) out[len++] = SEQLM_EOS;
        line = nl && nl[1] ? nl + 1 : NULL;
    }
    seqlm_tokens_free(&toks);
    *ids = out;
    *n = len;
    return SEQLM_OK;
oom:
    free(out);
    seqlm_tokens_free(&toks);
    return seqlm_error_set(err, SEQLM_ERR_NOMEM, "generate: out of memory");
}

/* Feeds ids[0..n) in chunks of up to C steps; out (C, V) scratch. Returns the log-probabilities
 * after the last id (a row of out). */
static const float *feed(seqlm_lm *m, seqlm_lm_work *w, const int32_t *ids, size_t n, int C, int V,
                         float *out) {
    int t = 0;
    for (size_t i = 0; i < n; i += (size_t)t) {
        t = n - i < (size_t)C ? (int)(n - i) : C;
        seqlm_lm_logprobs(m, w, ids + i, t, out);
    }
    return out + (size_t)(t - 1) * (size_t)V;
}

/* ---- sampling and greedy decoding --------------------------------------------------------- */

static seqlm_status sample(seqlm_lm *m, const seqlm_gen_config *g, seqlm_rng *rng,
                           const int32_t *ctx, size_t n_ctx, size_t length, uint32_t *out,
                           size_t *n_out, seqlm_error *err) {
    const seqlm_vocab *v = seqlm_lm_vocab(m);
    seqlm_unit unit = seqlm_lm_config_of(m)->unit;
    int V = (int)seqlm_vocab_size(v);
    int C = n_ctx < PRIME_CHUNK ? (int)n_ctx : PRIME_CHUNK;
    seqlm_lm_work *w = seqlm_lm_work_create(m, C, 1, err);
    if (!w) return err ? err->status : SEQLM_ERR_NOMEM;
    float *lpbuf = malloc((size_t)C * (size_t)V * sizeof *lpbuf);
    picker pk = {V, malloc((size_t)V * sizeof(double)), malloc((size_t)V * sizeof(int32_t))};
    if (!lpbuf || !pk.p || !pk.ix) {
        free(lpbuf);
        free(pk.p);
        free(pk.ix);
        seqlm_lm_work_free(w);
        return seqlm_error_set(err, SEQLM_ERR_NOMEM, "generate: out of memory (V = %d)", V);
    }
    seqlm_lm_work_reset(w);
    const float *lp = feed(m, w, ctx, n_ctx, C, V, lpbuf);
    size_t n = 0;
    while (n < length) {
        int32_t id = pick(&pk, lp, g, rng);
        if (id == (int32_t)SEQLM_EOS && unit == SEQLM_UNIT_WORD) break;
        out[n++] = (uint32_t)id;
        if (n == length) break;
        seqlm_lm_logprobs(m, w, &id, 1, lpbuf);
        lp = lpbuf;
    }
    *n_out = n;
    free(lpbuf);
    free(pk.p);
    free(pk.ix);
    seqlm_lm_work_free(w);
    return SEQLM_OK;
}

/* ---- beam search -------------------------------------------------------------------------- */

typedef struct {
    double key; /* summed log-probability with this token */
    int beam;
    int32_t id;
} candidate;

static int cmp_candidate(const void *a, const void *b) {
    const candidate *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    if (x->beam != y->beam) return x->beam < y->beam ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static double norm_score(double sum, size_t len, double alpha) {
    return len ? sum / pow((double)len, alpha) : sum;
}

static seqlm_status beam_search(seqlm_lm *m, const seqlm_gen_config *g, const int32_t *ctx,
                                size_t n_ctx, size_t length, uint32_t *out, size_t *n_out,
                                seqlm_error *err) {
    const seqlm_vocab *v = seqlm_lm_vocab(m);
    int words = seqlm_lm_config_of(m)->unit == SEQLM_UNIT_WORD;
    int V = (int)seqlm_vocab_size(v), N = g->beam, K = 2 * g->beam;
    int C = n_ctx < PRIME_CHUNK ? (int)n_ctx : PRIME_CHUNK;
    double alpha = g->length_penalty;
    seqlm_status st = SEQLM_OK;
    size_t S = 0, L = length;

    seqlm_lm_work **w = calloc((size_t)N, sizeof *w);
    float *lp = malloc((size_t)N * (size_t)V * sizeof *lp);         /* (N, V) per live beam */
    float *ctxbuf = malloc((size_t)C * (size_t)V * sizeof *ctxbuf); /* (C, V) */
    uint32_t *tok = malloc((size_t)N * L * sizeof *tok);            /* (N, L) live beams */
    uint32_t *tok2 = malloc((size_t)N * L * sizeof *tok2);          /* (N, L) next step's */
    uint32_t *fin = malloc((size_t)N * L * sizeof *fin);            /* (N, L) finished */
    double *sum = malloc((size_t)N * sizeof *sum), *sum2 = malloc((size_t)N * sizeof *sum2);
    double *fin_score = malloc((size_t)N * sizeof *fin_score);
    size_t *fin_len = malloc((size_t)N * sizeof *fin_len);
    int *parent = malloc((size_t)N * sizeof *parent);
    candidate *cand = malloc((size_t)N * (size_t)K * sizeof *cand);
    picker pk = {V, malloc((size_t)V * sizeof(double)), malloc((size_t)V * sizeof(int32_t))};
    float *states = NULL; /* (N, S) snapshot while reordering */
    if (!w || !lp || !ctxbuf || !tok || !tok2 || !fin || !sum || !sum2 || !fin_score || !fin_len ||
        !parent || !cand || !pk.p || !pk.ix) {
        st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "beam search: out of memory (beam %d)", N);
        goto done;
    }
    for (int b = 0; b < N; b++) {
        w[b] = seqlm_lm_work_create(m, C, 1, err);
        if (!w[b]) {
            st = err ? err->status : SEQLM_ERR_NOMEM;
            goto done;
        }
        seqlm_lm_work_reset(w[b]);
        size_t s;
        seqlm_lm_work_state(w[b], &s);
        if (b == 0) S = s;
        if (s != S) {
            st =
                seqlm_error_set(err, SEQLM_ERR_ARG, "beam search: workspaces differ in state size");
            goto done;
        }
    }
    states = malloc((size_t)N * (S ? S : 1) * sizeof *states);
    if (!states) {
        st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "beam search: out of memory (beam %d)", N);
        goto done;
    }

    memcpy(lp, feed(m, w[0], ctx, n_ctx, C, V, ctxbuf), (size_t)V * sizeof *lp);
    sum[0] = 0;
    int live = 1, n_fin = 0;
    size_t len = 0; /* tokens in every live hypothesis */
    while (live > 0 && len < L) {
        /* Each live beam's K best next tokens. */
        int nc = 0;
        for (int b = 0; b < live; b++) {
            const float *row = lp + (size_t)b * (size_t)V;
            int n = 0;
            for (int32_t i = 0; i < V; i++)
                if (drawable((uint32_t)i) && row[i] == row[i]) {
                    pk.p[i] = row[i];
                    pk.ix[n++] = i;
                }
            n = top_k_sorted(pk.p, pk.ix, n, K);
            for (int j = 0; j < n; j++)
                cand[nc++] = (candidate){sum[b] + (double)row[pk.ix[j]], b, pk.ix[j]};
        }
        qsort(cand, (size_t)nc, sizeof *cand, cmp_candidate);
        int next = 0;
        for (int j = 0; j < nc && next < N; j++) {
            const candidate *c = &cand[j];
            if (words && c->id == (int32_t)SEQLM_EOS) {
                if (j >= N) continue; /* only a top-N </s> finishes a hypothesis */
                double sc = norm_score(c->key, len + 1, alpha);
                int slot = n_fin < N ? n_fin++ : -1;
                if (slot < 0) { /* replace the worst finished one if this is better */
                    slot = 0;
                    for (int f = 1; f < N; f++)
                        if (fin_score[f] < fin_score[slot]) slot = f;
                    if (!(sc > fin_score[slot])) continue;
                }
                memcpy(fin + (size_t)slot * L, tok + (size_t)c->beam * L, len * sizeof *fin);
                fin_score[slot] = sc;
                fin_len[slot] = len;
                continue;
            }
            memcpy(tok2 + (size_t)next * L, tok + (size_t)c->beam * L, len * sizeof *tok2);
            tok2[(size_t)next * L + len] = (uint32_t)c->id;
            sum2[next] = c->key;
            parent[next] = c->beam;
            next++;
        }
        len++;
        live = next;
        uint32_t *t = tok;
        tok = tok2;
        tok2 = t;
        double *s2 = sum;
        sum = sum2;
        sum2 = s2;
        if (n_fin >= N || len >= L) break;
        /* Move the states: new beam j continues old beam parent[j]. */
        for (int b = 0; b < N; b++) {
            size_t s;
            memcpy(states + (size_t)b * S, seqlm_lm_work_state(w[b], &s), S * sizeof *states);
        }
        for (int j = 0; j < live; j++) {
            size_t s;
            if (parent[j] != j)
                memcpy(seqlm_lm_work_state(w[j], &s), states + (size_t)parent[j] * S,
                       S * sizeof *states);
        }
        for (int j = 0; j < live; j++) {
            int32_t id = (int32_t)tok[(size_t)j * L + len - 1];
            seqlm_lm_logprobs(m, w[j], &id, 1, lp + (size_t)j * (size_t)V);
        }
    }
    /* The best of the finished and the live hypotheses. */
    int best = -1, best_live = 0;
    double best_score = -INFINITY;
    for (int f = 0; f < n_fin; f++)
        if (best < 0 || fin_score[f] > best_score) {
            best = f;
            best_score = fin_score[f];
        }
    if (n_fin < N || !words)
        for (int b = 0; b < live; b++) {
            double sc = norm_score(sum[b], len, alpha);
            if (best < 0 || sc > best_score) {
                best = b;
                best_live = 1;
                best_score = sc;
            }
        }
    if (best < 0) {
        *n_out = 0; /* nothing drawable but </s> */
    } else if (best_live) {
        memcpy(out, tok + (size_t)best * L, len * sizeof *out);
        *n_out = len;
    } else {
        memcpy(out, fin + (size_t)best * L, fin_len[best] * sizeof *out);
        *n_out = fin_len[best];
    }
done:
    if (w)
        for (int b = 0; b < N; b++) seqlm_lm_work_free(w[b]);
    free(w);
    free(lp);
    free(ctxbuf);
    free(tok);
    free(tok2);
    free(fin);
    free(sum);
    free(sum2);
    free(fin_score);
    free(fin_len);
    free(parent);
    free(cand);
    free(pk.p);
    free(pk.ix);
    free(states);
    return st;
}

/* ---- the entry point -------------------------------------------------------------------------
 */

seqlm_status seqlm_lm_generate(seqlm_lm *m, const seqlm_gen_config *g, seqlm_rng *rng, char **text,
                               seqlm_error *err) {
    *text = NULL;
    if (!(g->temperature > 0) || !isfinite(g->temperature))
        return seqlm_error_set(err, SEQLM_ERR_ARG, "generate: temperature must be > 0, not %g",
                               g->temperature);
    if (g->top_k < 0)
        return seqlm_error_set(err, SEQLM_ERR_ARG, "generate: top-k must be >= 0, not %d",
                               g->top_k);
    if (!(g->top_p > 0 && g->top_p <= 1))
        return seqlm_error_set(err, SEQLM_ERR_ARG, "generate: top-p must be in (0, 1], not %g",
                               g->top_p);
    if (g->beam < 0 || (g->beam > 0 && g->greedy))
        return seqlm_error_set(err, SEQLM_ERR_ARG,
                               g->beam < 0 ? "generate: beam width must be >= 0"
                                           : "generate: beam search and greedy exclude each other");
    if (g->beam > 0 && !isfinite(g->length_penalty))
        return seqlm_error_set(err, SEQLM_ERR_ARG, "generate: length penalty must be finite");
    if (!g->greedy && g->beam == 0 && !rng)
        return seqlm_error_set(err, SEQLM_ERR_ARG, "generate: sampling needs an rng");
    const seqlm_vocab *v = seqlm_lm_vocab(m);
    seqlm_unit unit = seqlm_lm_config_of(m)->unit;
    size_t length = g->length ? g->length : unit == SEQLM_UNIT_WORD ? 100 : 500;

    int32_t *ctx = NULL;
    size_t n_ctx = 0, n = 0;
    seqlm_status st = build_context(v, unit, g->prime ? g->prime : "", &ctx, &n_ctx, err);
    if (st != SEQLM_OK) return st;
    uint32_t *ids = malloc(length * sizeof *ids);
    if (!ids) {
        free(ctx);
        return seqlm_error_set(err, SEQLM_ERR_NOMEM, "generate: out of memory (length %zu)",
                               length);
    }
    if (g->beam > 0)
        st = beam_search(m, g, ctx, n_ctx, length, ids, &n, err);
    else
        st = sample(m, g, rng, ctx, n_ctx, length, ids, &n, err);
    free(ctx);
    if (st == SEQLM_OK) {
        *text = seqlm_gen_text(v, unit, ids, n);
        if (!*text) st = seqlm_error_set(err, SEQLM_ERR_NOMEM, "generate: out of memory");
    }
    free(ids);
    return st;
}
