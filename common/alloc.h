/* alloc.h -- the allocator seam, with failure injection for tests.
 *
 * Modules that must survive allocation failure (the trie first of all) call
 * qmalloc/qcalloc/qrealloc/qfree instead of the libc names. In production these
 * go straight to malloc (jemalloc, when linked: Debian's jemalloc replaces
 * malloc itself). Tests arm a countdown with qalloc_fail_after(n): the n-th
 * allocation from then on fails (returns NULL), as do all after it when
 * `sticky` is set, so every failure path can be walked (rax does the same).
 *
 * qrealloc(p, 0) is never called by the project; qfree(NULL) is a no-op.
 */
#ifndef QAC_ALLOC_H
#define QAC_ALLOC_H

#include <stddef.h>

void *qmalloc(size_t n);
void *qcalloc(size_t n, size_t size);
void *qrealloc(void *p, size_t n);
void qfree(void *p);

/* Fail the n-th allocation from now (n >= 1); n = 0 disarms. With sticky,
 * every allocation after the first failure fails too. */
void qalloc_fail_after(unsigned long n, int sticky);
/* How many allocations failed by injection since the last arm. */
unsigned long qalloc_failures(void);
/* How many qmalloc/qcalloc/qrealloc calls the calling thread made (a count
 * per thread: no sharing, no atomics); shows a loop's steady state allocates
 * nothing (the merger's STATS merger_alloc_calls). */
unsigned long qalloc_calls(void);

/* Hands the pages of freed memory that the allocator keeps for reuse back to
 * the system (jemalloc: every arena purged), so that after a phase that
 * freed much -- a build's temporaries -- the RSS is what is in use, not
 * what jemalloc's decay (10 s, and only while allocating) has yet to
 * return. Costs a few ms; a no-op under another malloc. */
void qalloc_release(void);

#endif
