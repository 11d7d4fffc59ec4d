/* arpa_write.c - writing a model as an ARPA file (plain or gzipped).
 *
 * Layout as KenLM writes it: a "\data\" header with the counts, one section per order, every
 * line "log10p<TAB>w1 .. wn<TAB>log10backoff" (no backoff column at the top order), n-grams in
 * id order. Values are log10, written with 7 decimals: an absolute error below 5e-8 in the log,
 * finer than a float's resolution at most magnitudes. Comment lines starting with '#' before
 * "\data\" record how the model was made (KenLM and SRILM skip them). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ngram/model.h"
#include "util/outfile.h"

/* Fast fixed-point formatting of a log value: "-1.2345678", trailing zeros dropped. */
static size_t format_log(float value, char *out) {
    if (value <= SEQLM_NGRAM_LOG0) {
        memcpy(out, "-99", 3);
        return 3;
    }
    double v = value;
    size_t n = 0;
    if (v < 0) {
        out[n++] = '-';
        v = -v;
    }
    uint64_t q = (uint64_t)(v * 1e7 + 0.5);
    uint64_t ip = q / 10000000u, fp = q % 10000000u;
    if (ip == 0 && fp == 0) {
        out[0] = '0';
        return 1;
    }
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    while (k) out[n++] = tmp[--k];
    if (fp) {
        out[n++] = '.';
        char d[7];
        for (int i = 6; i >= 0; i--) {
            d[i] = (char)('0' + fp % 10);
            fp /= 10;
        }
        int last = 6;
        while (d[last] == '0') last--;
        memcpy(out + n, d, (size_t)last + 1);
        n += (size_t)last + 1;
    }
    return n;
}

seqlm_status seqlm_ngram_write_arpa(const seqlm_ngram_model *lm, const char *path, int gzip,
                                    seqlm_error *err) {
    seqlm_outfile *f = seqlm_outfile_open(path, gzip, err);
    if (!f) return err ? err->status : SEQLM_ERR_IO;
    seqlm_outfile_printf(f, "# seqlm n-gram model: order=%d unit=%s\n\n\\data\\\n", lm->order,
                         seqlm_unit_name(lm->unit));
    for (int n = 1; n <= lm->order; n++)
        seqlm_outfile_printf(f, "ngram %d=%" PRIu64 "\n", n, lm->level[n - 1].count);
    /* Each line is assembled in one buffer and written with one call; word lengths are looked
     * up once. */
    size_t V = seqlm_vocab_size(lm->vocab), longest = 0;
    size_t *wlen = malloc((V + 1) * sizeof *wlen);
    const char **wstr = malloc((V + 1) * sizeof *wstr);
    char *line = NULL;
    if (wlen && wstr) {
        for (size_t i = 0; i < V; i++) {
            wstr[i] = seqlm_vocab_word(lm->vocab, (uint32_t)i);
            wlen[i] = strlen(wstr[i]);
            if (wlen[i] > longest) longest = wlen[i];
        }
        line = malloc((longest + 1) * (size_t)lm->order + 64);
    }
    if (!line) {
        free(wlen);
        free(wstr);
        seqlm_outfile_abort(f);
        return seqlm_error_set(err, SEQLM_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int n = 1; n <= lm->order; n++) {
        const ngram_level *lv = &lm->level[n - 1];
        seqlm_outfile_printf(f, "\n\\%d-grams:\n", n);
        for (uint64_t i = 0; i < lv->count; i++) {
            if ((i & 0xFFFF) == 0 && i > 0 && seqlm_stop_requested()) {
                free(line);
                free(wlen);
                free(wstr);
                seqlm_outfile_abort(f);
                return seqlm_error_set(err, SEQLM_ERR_INTERRUPT, "%s: interrupted", path);
            }
            size_t k = format_log(lv->prob[i], line);
            line[k++] = '\t';
            if (n == 1) {
                memcpy(line + k, wstr[i], wlen[i]);
                k += wlen[i];
            } else {
                const uint32_t *w = lv->words + i * (uint64_t)n;
                for (int j = 0; j < n; j++) {
                    if (j) line[k++] = ' ';
                    memcpy(line + k, wstr[w[j]], wlen[w[j]]);
                    k += wlen[w[j]];
                }
            }
            if (n < lm->order) {
                line[k++] = '\t';
                k += format_log(lv->backoff[i], line + k);
            }
            line[k++] = '\n';
            seqlm_outfile_write(f, line, k);
        }
    }
    free(line);
    free(wlen);
    free(wstr);
    seqlm_outfile_puts(f, "\n\\end\\\n");
    return seqlm_outfile_commit(f, err);
}

seqlm_status seqlm_ngram_write(const seqlm_ngram_model *lm, const char *path, seqlm_error *err) {
    if (seqlm_has_suffix(path, ".arpa")) return seqlm_ngram_write_arpa(lm, path, 0, err);
    if (seqlm_has_suffix(path, ".arpa.gz")) return seqlm_ngram_write_arpa(lm, path, 1, err);
    return seqlm_ngram_write_binary(lm, path, err);
}
