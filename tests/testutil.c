/* testutil.c - see testutil.h. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

static char bufs[8][4096];
static int next_buf;

static char *buf(void) {
    next_buf = (next_buf + 1) % 8;
    return bufs[next_buf];
}

const char *golden_path(const char *name) {
    char *b = buf();
    snprintf(b, 4096, "%s/%s", SEQLM_TEST_GOLDEN, name);
    return b;
}

const char *shared_data(const char *name) {
    char *b = buf();
    snprintf(b, 4096, "%s/%s", SEQLM_SHARED_DATA, name);
    return b;
}

const char *repo_data(const char *name) {
    char *b = buf();
    snprintf(b, 4096, "%s/%s", SEQLM_REPO_DATA, name);
    return b;
}

int have_shared(const char *name) {
    struct stat st;
    if (stat(shared_data(name), &st) == 0) return 1;
    printf("SKIP: %s not found (../shared/data is not beside the repository)\n", shared_data(name));
    return 0;
}

static char dir[256];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The temporary directory goes when the test process ends (set KEEP_TEST_FILES to keep it). */
static void remove_tmp_dir(void) {
    if (dir[0] && !getenv("KEEP_TEST_FILES")) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *tmp_path(const char *name) {
    if (!dir[0]) {
        atexit(remove_tmp_dir);
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/seqlm-test-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
    }
    char *b = buf();
    snprintf(b, 4096, "%s/%s", dir, name);
    return b;
}

const char *write_tmp(const char *name, const void *data, size_t len) {
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

const char *write_tmp_str(const char *name, const char *text) {
    return write_tmp(name, text, strlen(text));
}

double max_rel_diff(const float *a, const float *ref, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - ref[i]) / fmax(1.0, fabs(ref[i]));
        if (d > worst || d != d) worst = d != d ? INFINITY : d;
    }
    return worst;
}
