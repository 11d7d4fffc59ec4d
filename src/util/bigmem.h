/* bigmem.h - large zeroed allocations backed by transparent huge pages (internal).
 *
 * Counting tables and model arrays run to hundreds of MB. With 4 KiB pages every first touch is
 * a page fault, and in a virtual machine those faults cost more than the counting itself; on a
 * kernel with THP in "madvise" mode, MADV_HUGEPAGE cuts their number 512-fold. Blocks under
 * 1 MiB come from calloc. The caller passes the same size to free. */
#ifndef SEQLM_BIGMEM_H
#define SEQLM_BIGMEM_H

#include <stddef.h>

void *seqlm_bigmem_alloc(size_t bytes); /* zeroed; NULL when out of memory */
void seqlm_bigmem_free(void *p, size_t bytes);

#endif
