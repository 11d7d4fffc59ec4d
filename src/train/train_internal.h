/* train_internal.h - what the training loop (train.c) and its checkpoints (checkpoint.c) share.
 *
 * A run is its settings (seqlm_train_config, with the strings owned here when they came from a
 * checkpoint) plus the few numbers that say where it is: epoch, window within the epoch, update
 * count, the schedule, the best validation loss, the RNG. Together with the parameters, the
 * optimiser state and the carried hidden state they are everything a checkpoint holds, and
 * everything a resumed run needs to continue bit for bit. Not a public interface. */
#ifndef SEQLM_TRAIN_INTERNAL_H
#define SEQLM_TRAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "seqlm/lm.h"

/* The strings a run owns (copies of the config's paths when loaded from a checkpoint). */
enum { RUN_TRAIN, RUN_VALID, RUN_OUTPUT, RUN_CHECKPOINT, RUN_LOG, RUN_NPATHS };

typedef struct {
    seqlm_train_config cfg;
    char *owned[RUN_NPATHS]; /* freed by train_run_free */
    int epoch;               /* 1-based epoch in progress */
    uint64_t window;         /* next window within the epoch */
    uint64_t step;           /* updates done */
    double best_valid;       /* best epoch-end validation loss, INFINITY if none */
    int bad_epochs;          /* epochs since best_valid last improved */
    double epoch_loss;       /* sum over the epoch so far of window loss * tokens */
    uint64_t epoch_tokens;
    int saved;     /* an output model was written (by this run or before it) */
    seqlm_rng rng; /* dropout */
    seqlm_schedule sched;
} train_run;

/* What a checkpoint restores besides the model and the run: owned arrays. */
typedef struct {
    float *optim_state; /* (optim_n) */
    size_t optim_n;
    uint64_t optim_steps;
    float *carried; /* (carried_n), seqlm_lm_work_state's layout */
    size_t carried_n;
} train_saved_state;

void train_run_free(train_run *r);
void train_saved_state_free(train_saved_state *s);

/* The schedule of a new run, from cfg (plateau: patience 0, threshold 0, factor lr_decay, as
 * word_language_model; step: gamma 1/lr_decay; linear/cosine: total = total_steps). */
void train_schedule_setup(seqlm_schedule *s, const seqlm_train_config *cfg, uint64_t total_steps);

/* Writes a checkpoint of m, the optimiser, the carried state of w and r to path (atomically). */
seqlm_status train_checkpoint_write(const char *path, const seqlm_lm *m, seqlm_params *p,
                                    seqlm_optim *o, seqlm_lm_work *w, const train_run *r,
                                    seqlm_error *err);

/* Reads a checkpoint: a new model with the saved parameters (*m, caller frees), the run
 * (*r; train_run_free) and the optimiser and carried state (*s; train_saved_state_free). */
seqlm_status train_checkpoint_read(const char *path, seqlm_lm **m, train_run *r,
                                   train_saved_state *s, seqlm_error *err);

/* The core loop: trains m from the position in r, restoring s (may be NULL: a new run). */
seqlm_status train_loop(seqlm_lm *m, train_run *r, const train_saved_state *s, seqlm_error *err);

#endif
