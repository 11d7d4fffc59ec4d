/* seqlm/error.h - status codes and the error record every fallible call fills.
 *
 * A fallible library function returns a seqlm_status (or NULL) and, on failure, writes a
 * one-line message with its input context into the caller's seqlm_error ("corpus.txt: line 12,
 * byte 4031: invalid UTF-8"). Callers higher up may prepend context with seqlm_error_prefix.
 * The library never prints and never exits; printing is the CLI's job. */
#ifndef SEQLM_ERROR_H
#define SEQLM_ERROR_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SEQLM_OK = 0,
    SEQLM_ERR_IO,       /* a file could not be opened, read or written */
    SEQLM_ERR_FORMAT,   /* the input is malformed (bad UTF-8, garbled ARPA, ...) */
    SEQLM_ERR_ARG,      /* an argument is out of range or contradictory */
    SEQLM_ERR_NOMEM,    /* an allocation failed */
    SEQLM_ERR_DATA,     /* the input is well formed but unusable (empty corpus, ...) */
    SEQLM_ERR_INTERRUPT /* the caller asked to stop */
} seqlm_status;

#define SEQLM_ERROR_MSG_MAX 1024

typedef struct {
    seqlm_status status;
    char msg[SEQLM_ERROR_MSG_MAX];
} seqlm_error;

/* Sets err (if not NULL) and returns status, so that `return seqlm_error_set(...)` works. */
seqlm_status seqlm_error_set(seqlm_error *err, seqlm_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to the message already in err. */
void seqlm_error_prefix(seqlm_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Resets err to SEQLM_OK with an empty message. */
void seqlm_error_clear(seqlm_error *err);

/* Called with a one-line notice (a fallback taken, a value clamped); may be NULL. */
typedef void (*seqlm_warn_fn)(void *ctx, const char *message);

/* A short name for a status ("I/O error", "format error", ...). */
const char *seqlm_status_name(seqlm_status status);

#ifdef __cplusplus
}
#endif
#endif
