/* seqlm/modelfile.h - model files in the safetensors format.
 *
 * A model is one file: an 8-byte little-endian header length, a JSON header mapping each tensor
 * name to {"dtype", "shape", "data_offsets"}, and the raw little-endian tensors - the format
 * Hugging Face's safetensors library and PyTorch users read. Tensor names are PyTorch's
 * (seqlm/params.h); hyperparameters and the vocabulary go into the header's "__metadata__",
 * whose values are strings. Files are written to a temporary file and renamed; reading checks
 * the header length, the JSON, dtypes, shapes, offsets within the file and overlaps, and says
 * exactly what is wrong with a truncated or foreign file. */
#ifndef SEQLM_MODELFILE_H
#define SEQLM_MODELFILE_H

#include <stddef.h>

#include "seqlm/error.h"
#include "seqlm/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Metadata: string key -> string value pairs. */
typedef struct {
    char **keys, **values;
    size_t count, cap;
} seqlm_metadata;

void seqlm_metadata_set(seqlm_metadata *m, const char *key, const char *value); /* copies */
const char *seqlm_metadata_get(const seqlm_metadata *m, const char *key);       /* NULL if absent */
void seqlm_metadata_free(seqlm_metadata *m);

/* Writes every tensor of p (aliases too, as separate copies, so that a tied model's state_dict
 * has both names) as F32, with metadata (may be NULL). */
seqlm_status seqlm_safetensors_write(const char *path, const seqlm_params *p,
                                     const seqlm_metadata *meta, seqlm_error *err);

/* Reads a whole file into a new registry (one tensor per entry, F32 only; F16/BF16/F64 are
 * converted, I32/I64 too when every value is exactly a float; shape [] becomes [1]), and its
 * metadata into *meta (may be NULL; must be initialised, e.g. {0}: the file's entries are
 * added, replacing values of keys already there; untouched on error). */
seqlm_params *seqlm_safetensors_read(const char *path, seqlm_metadata *meta, seqlm_error *err);

/* Fills the tensors of an allocated model from a file: every tensor of p must be in the file
 * with the same shape (aliases may be absent, or must hold their target's values); tensors the
 * model lacks are an error. A file that does not fit leaves p as it was (an I/O error part
 * way through the values may leave it partly filled). */
seqlm_status seqlm_safetensors_load_into(const char *path, seqlm_params *p, seqlm_metadata *meta,
                                         seqlm_error *err);

#ifdef __cplusplus
}
#endif
#endif
