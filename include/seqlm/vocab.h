/* seqlm/vocab.h - the vocabulary: token strings <-> dense ids, with counts.
 *
 * Ids 0, 1, 2 are always <unk>, <s>, </s>; other tokens follow in the order they were added (a
 * pruned vocabulary: by descending count, ties in first-seen order). The text file form is one
 * "TOKEN<TAB>COUNT" line per id, in id order, the three special tokens first. */
#ifndef SEQLM_VOCAB_H
#define SEQLM_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "seqlm/error.h"
#include "seqlm/text.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SEQLM_UNK 0u
#define SEQLM_BOS 1u
#define SEQLM_EOS 2u

typedef struct seqlm_vocab seqlm_vocab;

/* A vocabulary holding only <unk>, <s>, </s>. NULL when out of memory. */
seqlm_vocab *seqlm_vocab_create(void);
void seqlm_vocab_free(seqlm_vocab *v);

/* Adds count to word's count, inserting it if new. Returns its id, or -1 when out of memory. */
int64_t seqlm_vocab_add(seqlm_vocab *v, const char *word, uint64_t count);
/* The id of word, or -1 if it is not in the vocabulary. */
int64_t seqlm_vocab_find(const seqlm_vocab *v, const char *word);
/* ids[i] = seqlm_vocab_find(v, words[i]) for i < n: the same answers, faster for a batch
 * (a sentence), since the cache misses of different words overlap. */
void seqlm_vocab_find_many(const seqlm_vocab *v, const char *const *words, size_t n, int64_t *ids);
/* The id of word, or SEQLM_UNK. */
static inline uint32_t seqlm_vocab_lookup(const seqlm_vocab *v, const char *word) {
    int64_t id = seqlm_vocab_find(v, word);
    return id < 0 ? SEQLM_UNK : (uint32_t)id;
}
size_t seqlm_vocab_size(const seqlm_vocab *v);
/* The token of id (owned by v), or NULL if id is out of range. */
const char *seqlm_vocab_word(const seqlm_vocab *v, uint32_t id);
uint64_t seqlm_vocab_count(const seqlm_vocab *v, uint32_t id);
/* 1 if word is one of the three special tokens. */
int seqlm_vocab_is_special(const char *word);

/* A new vocabulary with the tokens of v counted at least min_count times, at most max_vocab ids
 * in all (0 = no limit; the special tokens count), most frequent first. The counts of dropped
 * tokens are added to <unk>. Caller frees the result. */
seqlm_vocab *seqlm_vocab_prune(const seqlm_vocab *v, uint64_t min_count, size_t max_vocab,
                               seqlm_error *err);

/* Counts every token of a corpus (and one </s> per line). The special tokens <s> and </s> are
 * not allowed in the text. Caller frees the result. */
seqlm_vocab *seqlm_vocab_from_corpus(const char *path, seqlm_unit unit, seqlm_error *err);

seqlm_status seqlm_vocab_save(const seqlm_vocab *v, const char *path, seqlm_error *err);
seqlm_vocab *seqlm_vocab_load(const char *path, seqlm_error *err);

#ifdef __cplusplus
}
#endif
#endif
