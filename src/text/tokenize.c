/* tokenize.c - UTF-8 validation and splitting a line into word, character or byte tokens.
 * Token spelling for the char/byte units ("<sp>", "<0xNN>") is documented in seqlm/text.h. */
#include "seqlm/text.h"

#include <stdlib.h>
#include <string.h>

static const char *unit_names[] = {"word", "char", "byte"};

const char *seqlm_unit_name(seqlm_unit unit) {
    return (unsigned)unit < 3 ? unit_names[unit] : "?";
}

int seqlm_unit_parse(const char *name, seqlm_unit *unit) {
    for (int i = 0; i < 3; i++)
        if (strcmp(name, unit_names[i]) == 0) {
            *unit = (seqlm_unit)i;
            return 0;
        }
    return -1;
}

size_t seqlm_utf8_validate(const char *str, size_t len, size_t *bad) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF)
            n = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0)
                lo = 0xA0; /* no overlongs */
            else if (c == 0xED)
                hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F; /* at most U+10FFFF */
        } else {
            *bad = i;
            return (size_t)-1;
        }
        if (i + n > len) {
            *bad = i;
            return (size_t)-1;
        }
        if (s[i + 1] < lo || s[i + 1] > hi) {
            *bad = i;
            return (size_t)-1;
        }
        for (size_t k = 2; k < n; k++)
            if ((s[i + k] & 0xC0) != 0x80) {
                *bad = i;
                return (size_t)-1;
            }
        i += n;
    }
    return len;
}

static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Appends one token of n bytes to out. */
static int push(seqlm_tokens *out, const char *tok, size_t n) {
    size_t need = out->text_len;
    if (need + n + 1 > out->text_cap) {
        size_t cap = out->text_cap ? out->text_cap : 256;
        while (need + n + 1 > cap) cap *= 2;
        char *p = realloc(out->text, cap);
        if (!p) return -1;
        out->text = p;
        out->text_cap = cap;
    }
    if (out->count == out->start_cap) {
        size_t cap = out->start_cap ? out->start_cap * 2 : 64;
        size_t *p = realloc(out->start, cap * sizeof *p);
        if (!p) return -1;
        out->start = p;
        out->start_cap = cap;
    }
    memcpy(out->text + need, tok, n);
    out->text[need + n] = '\0';
    out->start[out->count++] = need;
    out->text_len = need + n + 1;
    return 0;
}

/* The spelling of a single byte in the char and byte units. */
static int push_byte(seqlm_tokens *out, unsigned char c, int escape_high) {
    static const char hex[] = "0123456789abcdef";
    if (c == ' ') return push(out, "<sp>", 4);
    if (c < 0x20 || c == 0x7f || (escape_high && c >= 0x80)) {
        char t[6] = {'<', '0', 'x', hex[c >> 4], hex[c & 15], '>'};
        return push(out, t, 6);
    }
    char t = (char)c;
    return push(out, &t, 1);
}

int seqlm_tokenize(const char *line, size_t len, seqlm_unit unit, seqlm_tokens *out) {
    out->count = 0;
    out->text_len = 0;
    const unsigned char *s = (const unsigned char *)line;
    size_t i = 0;
    switch (unit) {
    case SEQLM_UNIT_WORD:
        while (i < len) {
            while (i < len && is_space(s[i])) i++;
            size_t b = i;
            while (i < len && !is_space(s[i])) i++;
            if (i > b && push(out, line + b, i - b) < 0) return -1;
        }
        break;
    case SEQLM_UNIT_CHAR:
        while (i < len) {
            unsigned c = s[i];
            size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4, bad;
            if (n > 1 && (i + n > len || seqlm_utf8_validate(line + i, n, &bad) != n)) {
                /* Only for unvalidated input: a byte that does not start a valid sequence is
                 * a token of its own, spelled "<0xNN>" as in the byte unit. Taking n bytes
                 * blindly would make tokens holding white space ("\xE9 n") or cut characters. */
                if (push_byte(out, (unsigned char)c, 1) < 0) return -1;
                i++;
                continue;
            }
            if (n == 1) {
                if (push_byte(out, (unsigned char)c, 0) < 0) return -1;
            } else if (push(out, line + i, n) < 0) {
                return -1;
            }
            i += n;
        }
        break;
    case SEQLM_UNIT_BYTE:
        for (; i < len; i++)
            if (push_byte(out, s[i], 1) < 0) return -1;
        break;
    }
    return (int)out->count;
}

void seqlm_tokens_free(seqlm_tokens *t) {
    if (!t) return;
    free(t->text);
    free(t->start);
    memset(t, 0, sizeof *t);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t seqlm_token_surface(const char *tok, seqlm_unit unit, char *out) {
    size_t n = strlen(tok);
    if (unit != SEQLM_UNIT_WORD) {
        if (strcmp(tok, "<sp>") == 0) {
            out[0] = ' ';
            return 1;
        }
        if (n == 6 && tok[0] == '<' && tok[1] == '0' && tok[2] == 'x' && tok[5] == '>' &&
            hexval(tok[3]) >= 0 && hexval(tok[4]) >= 0) {
            out[0] = (char)(hexval(tok[3]) * 16 + hexval(tok[4]));
            return 1;
        }
    }
    memcpy(out, tok, n);
    return n;
}
