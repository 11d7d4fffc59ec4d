/* bigmem.c - see bigmem.h. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MADV_HUGEPAGE */
#include "util/bigmem.h"

#include <stdlib.h>
#include <sys/mman.h>

#define BIG (1u << 20)

void *seqlm_bigmem_alloc(size_t bytes) {
    if (bytes < BIG) return calloc(1, bytes ? bytes : 1);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

void seqlm_bigmem_free(void *p, size_t bytes) {
    if (!p) return;
    if (bytes < BIG)
        free(p);
    else
        munmap(p, bytes);
}
