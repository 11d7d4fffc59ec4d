/* write.c - predict's output: the input lines with the predicted tag appended. */
#include <stdio.h>
#include <string.h>

#include "seqlm/tag.h"
#include "util/outfile.h"

seqlm_status seqlm_tag_write(const seqlm_tagger *m, const seqlm_tag_corpus *c, const int32_t *pred,
                             const char *path, seqlm_error *err) {
    seqlm_outfile *of = NULL;
    if (path && !(of = seqlm_outfile_open(path, 0, err))) return err->status;
    for (size_t s = 0; s < c->n_sent; s++) {
        for (size_t i = c->sent_start[s]; i < c->sent_start[s + 1]; i++) {
            const char *line = c->text[i], *tag = seqlm_tagger_tag_name(m, pred[i]);
            size_t len = strlen(line);
            while (len && (line[len - 1] == ' ' || line[len - 1] == '\t')) len--;
            char sep = strchr(line, '\t') || c->columns == 1 ? '\t' : ' ';
            if (of) {
                seqlm_outfile_write(of, line, len);
                seqlm_outfile_printf(of, "%c%s\n", sep, tag ? tag : "O");
            } else {
                fwrite(line, 1, len, stdout);
                printf("%c%s\n", sep, tag ? tag : "O");
            }
        }
        if (of)
            seqlm_outfile_puts(of, "\n");
        else
            putchar('\n');
    }
    if (of) return seqlm_outfile_commit(of, err);
    if (fflush(stdout) || ferror(stdout))
        return seqlm_error_set(err, SEQLM_ERR_IO, "cannot write the output");
    return SEQLM_OK;
}
