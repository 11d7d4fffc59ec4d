/* seqlm/text.h - reading text: lines as a stream, UTF-8 validation, tokenisation.
 *
 * Every corpus in seqlm is read through seqlm_reader: a stream of lines (never the whole file in
 * memory), gzip-compressed or plain (detected from the bytes), "-" for standard input. LF and
 * CRLF line ends are both accepted; a last line without a newline is a line. A NUL byte, and in
 * the UTF-8 modes an invalid UTF-8 sequence, is an error naming file, line and byte offset.
 *
 * Tokens: SEQLM_UNIT_WORD splits on ASCII white space; SEQLM_UNIT_CHAR gives one token per
 * Unicode code point (so Hangul syllables are single tokens); SEQLM_UNIT_BYTE one per byte, no
 * validation. In the char and byte units a space is the token "<sp>", and bytes that are white
 * space, control characters or (byte unit) above 0x7e are written "<0xNN>", so every token is a
 * non-empty string without white space that ARPA and vocabulary files can hold. In the char unit
 * on unvalidated input, a byte that does not start a valid UTF-8 sequence is its own "<0xNN>". */
#ifndef SEQLM_TEXT_H
#define SEQLM_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "seqlm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { SEQLM_UNIT_WORD = 0, SEQLM_UNIT_CHAR, SEQLM_UNIT_BYTE } seqlm_unit;

/* "word", "char", "byte"; parse returns -1 for an unknown name. */
const char *seqlm_unit_name(seqlm_unit unit);
int seqlm_unit_parse(const char *name, seqlm_unit *unit);

typedef struct seqlm_reader seqlm_reader;

/* Opens path ("-" = standard input). validate_utf8: reject invalid UTF-8. NULL on error. */
seqlm_reader *seqlm_reader_open(const char *path, int validate_utf8, seqlm_error *err);
void seqlm_reader_free(seqlm_reader *r);
/* Like seqlm_reader_open, converting each line from `encoding` (an iconv name as glibc knows it:
 * "CP1252", "LATIN1", "EUC-KR", ...) to UTF-8 as it is read; NULL, "UTF-8" or "UTF8" (any case)
 * read UTF-8 exactly as seqlm_reader_open does. The encoding must be ASCII-compatible (lines are
 * split on the byte 0x0A before conversion), so UTF-16 and UTF-32 are refused. A byte sequence
 * invalid in the encoding is an error naming file, line and byte offset (offsets count the
 * file's own bytes). The lines returned are UTF-8; validate_utf8 checks them as well. */
seqlm_reader *seqlm_reader_open_encoding(const char *path, const char *encoding, int validate_utf8,
                                         seqlm_error *err);
/* SEQLM_OK if seqlm_reader_open_encoding can read `encoding`, else SEQLM_ERR_ARG saying why. */
seqlm_status seqlm_encoding_check(const char *encoding, seqlm_error *err);

/* Reads the next line without its line end. Returns 1 with *line (NUL-terminated, owned by the
 * reader, valid until the next call) and *len; 0 at end of file; -1 on error (err filled). */
int seqlm_reader_next(seqlm_reader *r, const char **line, size_t *len, seqlm_error *err);

/* The 1-based number of the line last returned, and the byte offset where it starts. */
uint64_t seqlm_reader_line(const seqlm_reader *r);
uint64_t seqlm_reader_offset(const seqlm_reader *r);
const char *seqlm_reader_path(const seqlm_reader *r);

/* Checks UTF-8 (no overlongs, no surrogates, at most U+10FFFF). Returns the length if valid,
 * otherwise sets *bad to the offset of the first invalid byte and returns (size_t)-1. */
size_t seqlm_utf8_validate(const char *s, size_t len, size_t *bad);

/* Splits line into tokens for unit, replacing what out held. out starts zeroed, grows as needed
 * and is released with seqlm_tokens_free. Returns the token count, or -1 when out of memory. */
typedef struct {
    char *text; /* the tokens, each NUL-terminated */
    size_t text_cap;
    size_t text_len; /* bytes of text in use */
    size_t *start;   /* start[i] = offset of token i in text */
    size_t start_cap;
    size_t count;
} seqlm_tokens;

int seqlm_tokenize(const char *line, size_t len, seqlm_unit unit, seqlm_tokens *out);
void seqlm_tokens_free(seqlm_tokens *t);
static inline const char *seqlm_token(const seqlm_tokens *t, size_t i) {
    return t->text + t->start[i];
}

/* Writes the surface text of token tok for unit to out (undoing "<sp>" and "<0xNN>" in the char
 * and byte units); out needs room for strlen(tok) bytes. Returns the bytes written (no NUL). */
size_t seqlm_token_surface(const char *tok, seqlm_unit unit, char *out);

#ifdef __cplusplus
}
#endif
#endif
