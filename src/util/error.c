/* error.c - the error record: formatting and context prefixes. */
#include "seqlm/error.h"

#include <stdio.h>
#include <string.h>

seqlm_status seqlm_error_set(seqlm_error *err, seqlm_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void seqlm_error_prefix(seqlm_error *err, const char *fmt, ...) {
    if (!err) return;
    char prefix[SEQLM_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    /* Keep as much of both as fits: the prefix, then the original message. */
    char joined[SEQLM_ERROR_MSG_MAX];
    size_t plen = strlen(prefix), mlen = strlen(err->msg);
    if (plen > SEQLM_ERROR_MSG_MAX / 2) plen = SEQLM_ERROR_MSG_MAX / 2;
    if (plen + 2 + mlen >= SEQLM_ERROR_MSG_MAX) mlen = SEQLM_ERROR_MSG_MAX - plen - 3;
    memcpy(joined, prefix, plen);
    memcpy(joined + plen, ": ", 2);
    memcpy(joined + plen + 2, err->msg, mlen);
    joined[plen + 2 + mlen] = '\0';
    memcpy(err->msg, joined, plen + 3 + mlen);
}

void seqlm_error_clear(seqlm_error *err) {
    if (!err) return;
    err->status = SEQLM_OK;
    err->msg[0] = '\0';
}

const char *seqlm_status_name(seqlm_status status) {
    switch (status) {
    case SEQLM_OK:
        return "ok";
    case SEQLM_ERR_IO:
        return "I/O error";
    case SEQLM_ERR_FORMAT:
        return "format error";
    case SEQLM_ERR_ARG:
        return "bad argument";
    case SEQLM_ERR_NOMEM:
        return "out of memory";
    case SEQLM_ERR_DATA:
        return "unusable data";
    case SEQLM_ERR_INTERRUPT:
        return "interrupted";
    }
    return "unknown error";
}
