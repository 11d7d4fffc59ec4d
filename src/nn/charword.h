/* charword.h - a word represented by its characters: the character BiLSTM of Lample et al.
 * (2016), shared by the tagger (src/tag) and the classifier (src/classify). Internal: not an
 * API, and not in include/seqlm, because it works on the tasks' own word tables.
 *
 * A word w of Tc characters (code points) c_1..c_Tc is
 *
 *   x_t = char_embedding(c_t)                          (Tc, E)
 *   rep(w) = [ ->h_Tc | <-h_1 ]                        (2H)
 *
 * the final state of a forward LSTM over x and that of a backward one ("char_lstm", one
 * bidirectional layer). Words longer than max_chars keep their first max_chars/2 and their last
 * max_chars - max_chars/2 characters. The network runs once per distinct word of a batch (U of
 * them, padded to the longest, Tc), not once per token; a token's gradient is summed into its
 * word's, so the char BiLSTM's backward also runs once per distinct word.
 *
 * Four pieces, each usable alone:
 *   - the character vocabulary (a strmap, id 0 = "<unk>"): charword_vocab_add, charword_ids;
 *   - charword_types: the char ids of every word type of a corpus, looked up once;
 *   - charword_batch: a batch's distinct words and their char ids (Tc, U);
 *   - charword: the layer (parameters "char_embedding.weight", "char_lstm.*"), forward and
 *     backward over a charword_batch, with its scratch sized for the largest batch seen.
 * Not here: how a task maps its tokens to types, or where the representation goes. */
#ifndef SEQLM_NN_CHARWORD_H
#define SEQLM_NN_CHARWORD_H

#include <stddef.h>
#include <stdint.h>

#include "seqlm/nn.h"
#include "seqlm/params.h"
#include "seqlm/rng.h"
#include "util/strmap.h"

/* ---- the character vocabulary ------------------------------------------------------------- */

/* Adds the characters (code points) of the word w to chars, counting each once per call; looks
 * at the first 256 characters of w. 0, or -1 when out of memory. chars holds "<unk>" at id 0
 * (the caller adds it first). */
int charword_vocab_add(strmap *chars, const char *w);

/* The char ids of w under chars into dst (at most max_chars of them: a longer word keeps its
 * first max_chars/2 and last max_chars - max_chars/2 characters, counted among its first 4096);
 * characters not in chars are 0 (<unk>); an empty word is one <unk>. Returns the count, >= 1. */
int charword_ids(const strmap *chars, const char *w, int max_chars, int32_t *dst);

/* ---- word types ---------------------------------------------------------------------------- */

/* The char ids of n word types, and scratch for finding a batch's distinct types. */
typedef struct charword_types {
    int max_chars;   /* ids per type at most */
    size_t n;        /* types */
    int32_t *ids;    /* (n, max_chars) type i's ids at i * max_chars */
    int32_t *len;    /* (n) in [1, max_chars] */
    uint32_t *stamp; /* (n) scratch: the batch that last saw each type */
    int32_t *slot;   /* (n) scratch: its index among that batch's distinct words */
    uint32_t cur;
} charword_types;

/* Room for n types (their ids unset); 0, or -1 when out of memory (t then holds nothing). */
int charword_types_init(charword_types *t, size_t n, int max_chars);
/* Type i is the word w: its ids under chars (charword_ids). */
void charword_types_set(charword_types *t, size_t i, const strmap *chars, const char *w);
void charword_types_free(charword_types *t);

/* ---- one batch's distinct words ------------------------------------------------------------- */

typedef struct {
    int U, Tc;      /* distinct words, the longest one's characters */
    int32_t *utype; /* (U) the type of each distinct word */
    int32_t *clen;  /* (U) its character count */
    int32_t *cid;   /* (Tc, U) char ids, seq-first, 0 past each word's end */
    size_t cap_u, cap_cu;
} charword_batch;

/* Starts a batch: no distinct words yet. The types' stamps are the batch's scratch, so one
 * charword_types serves one batch at a time. */
void charword_batch_begin(charword_batch *b, charword_types *t);
/* The index among the batch's distinct words of a token of type `type` (a new one when the
 * type is new to the batch), or -1 when out of memory. */
int32_t charword_batch_add(charword_batch *b, charword_types *t, size_t type);
/* Lays out cid (Tc, U) of the batch's distinct words; 0, or -1 when out of memory. */
int charword_batch_finish(charword_batch *b, const charword_types *t);
void charword_batch_free(charword_batch *b);

/* ---- the layer ------------------------------------------------------------------------------ */

typedef struct {
    int E, H;                 /* char embedding size, units per direction */
    seqlm_embedding emb;      /* "char_embedding" (n_chars, E) */
    seqlm_rnn_stack lstm;     /* "char_lstm": one bidirectional LSTM layer */
    int U_max, Tc_max;        /* the scratch's size */
    float *x, *dx;            /* (Tc, U, E) character embeddings, their gradient */
    float *h, *dh;            /* (2, U, H) final states: forward of every word, then backward */
    seqlm_stack_cache *cache; /* (Tc, U) */
} charword;

/* Registers "char_embedding" then "char_lstm" in p (that order: the model file's); 0 or -1. */
int charword_init(charword *cw, seqlm_params *p, int n_chars, int E, int H);
/* PyTorch's defaults, the embedding first (N(0, 1)), then the LSTM (U(-1/sqrt(H), ..)). */
void charword_reset(const charword *cw, seqlm_params *p, seqlm_rng *rng);
/* Frees the scratch (the parameters are p's). */
void charword_free(charword *cw);

/* The representations of b's U words into cw->h; 0, or -1 when out of memory (growing the
 * scratch). No dropout: the tasks drop out the rows they are copied into. */
int charword_forward(charword *cw, const seqlm_params *p, const charword_batch *b);
/* Word u's representation [forward final | backward final] (2H) into dst. */
void charword_get(const charword *cw, const charword_batch *b, int u, float *dst);
/* Before the backward: dh = 0. */
void charword_zero_dh(charword *cw, const charword_batch *b);
/* dh of word u += src (2H), laid out as charword_get's dst. */
void charword_add_dh(charword *cw, const charword_batch *b, int u, const float *src);
/* Accumulates the parameter gradients of dh into p (after charword_forward on b). */
void charword_backward(charword *cw, seqlm_params *p, const charword_batch *b);

#endif
