/* seqlm/seqlm.h - the whole public API of libseqlm. Include this one header.
 *
 *   error.h  status codes and the error record
 *   rng.h    the seeded random number generator
 *   progress.h  progress callbacks, cooperative interruption (Ctrl-C)
 *   text.h   streaming line reader, UTF-8, tokenisation (word / char / byte)
 *   vocab.h  vocabulary: tokens <-> ids, counts, text file form
 *   ngram.h  n-gram models: estimate, ARPA/binary files, query, evaluate, sample
 *   params.h     the parameter registry: named tensors in one block
 *   kernels.h    matrix products (CBLAS), activations, softmax
 *   nn.h         layers: embedding, linear, dropout, softmax+cross-entropy, RNN/LSTM/GRU,
 *                stacks, bidirectional, output layer, Bengio's window model
 *   optim.h      optimisers (PyTorch 1.13's updates), clipping, schedules
 *   modelfile.h  safetensors model files
 *   lm.h         neural language models: data, model files, training, evaluation, generation
 *   elmo.h       ELMo: a forward + backward LSTM LM, contextual layers, the scalar mix
 */
#ifndef SEQLM_SEQLM_H
#define SEQLM_SEQLM_H

#include "seqlm/classify.h"
#include "seqlm/diag.h"
#include "seqlm/elmo.h"
#include "seqlm/error.h"
#include "seqlm/kernels.h"
#include "seqlm/lm.h"
#include "seqlm/modelfile.h"
#include "seqlm/nn.h"
#include "seqlm/ngram.h"
#include "seqlm/optim.h"
#include "seqlm/tag.h"
#include "seqlm/params.h"
#include "seqlm/progress.h"
#include "seqlm/rng.h"
#include "seqlm/text.h"
#include "seqlm/vocab.h"

#define SEQLM_VERSION "0.1.0"

#endif
