/* testutil.h - helpers shared by the cmocka tests: data paths, temporary files, skipping. */
#ifndef SEQLM_TESTUTIL_H
#define SEQLM_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Path of a file under ../shared/data or the repository's data/ (a rotating static buffer). */
/* Path of a file under tests/golden (reference outputs written by the scripts there). */
const char *golden_path(const char *name);
const char *shared_data(const char *name);
const char *repo_data(const char *name);
/* 1 if ../shared/data/<name> exists; otherwise prints "SKIP: <why>" and returns 0. */
int have_shared(const char *name);
/* A fresh temporary directory for this process (created once) and a path inside it. */
const char *tmp_path(const char *name);
/* Writes len bytes to a file in the temporary directory and returns its path. */
const char *write_tmp(const char *name, const void *data, size_t len);
const char *write_tmp_str(const char *name, const char *text);
/* max_i |a_i - ref_i| / max(1, |ref_i|); infinity if any a_i or ref_i is NaN. */
double max_rel_diff(const float *a, const float *ref, size_t n);

#endif
