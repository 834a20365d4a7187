/* trie_huge.c -- the trie's big arrays on transparent huge pages.
 *
 * WHY
 * ---
 * The typo walk (trie_fuzzy.c) touches, per call, a few dozen cache lines
 * scattered over the prefix filter (8 MB at 10M keys), the node table
 * (~80 MB), the child blocks, the id table and the key arena: one 4 KB
 * page each, so most of its loads also miss the TLB (the first-level data
 * TLB covers 256 KB of 4 KB pages; a page walk is a few more dependent
 * loads). With 2 MB pages the same TLB covers 128 MB and the page walk is
 * one level shorter. The kernel gives them to memory that asked with
 * madvise(MADV_HUGEPAGE) when THP is in "madvise" mode (the Debian default)
 * or "always"; with "never", or without the call, nothing changes.
 *
 * HOW
 * ---
 * trie__huge_pages, called once the arrays are final (end of trie_load and
 * of trie_builder_finish, after the prefix filter is made), moves each
 * array of at least HUGE_MIN_BYTES (smaller ones have few pages to
 * miss) into a fresh 2 MB-aligned allocation:
 * the 2 MB-aligned part of it is advised MADV_HUGEPAGE and then dropped
 * (MADV_DONTNEED: the allocator may hand back pages already faulted in as
 * 4 KB, which khugepaged would only merge much later), so the copy faults
 * it in as huge pages at once. The arrays stay ordinary heap blocks
 * (qrealloc grows them, qfree frees them); a later growth copies into
 * memory that was not advised, which is only slower, never wrong. When the
 * aligned allocation fails the array stays where it is: this cannot fail.
 * A block is rounded up to whole 2 MB pages, so the resident memory grows
 * by at most 2 MB an array: at 10M keys RSS
 * after load 502.1 -> 507.1 MB, AnonHugePages 473 MB. The price is at load:
 * the kernel clears the fresh 2 MB pages (1.0-2.4 s more system time on
 * the 2-core VM, load ~3 s -> 4.3-7.1 s). All five arrays: huge pages on
 * the nodes, child blocks and filter only were slower (README, Typos).
 * The gain is FUZZY 1 / FUZZY 2
 * on 8+ characters 0.86 / 0.80 of the median before, with the SIBLING
 * PREFETCH of trie_fuzzy.c, which alone gives 0.95 / 0.92 (README, Typos).
 * A fork (BGSAVE) shares the pages; kernels since 5.8 copy a written huge
 * page 4 KB at a time, older ones whole.
 *
 * QAC_NO_HUGE_PAGES=1 in the environment (read at each call) skips it, for
 * A/B measurements and for an operator who wants none.
 */
#include "trie/trie_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/alloc.h"

#define HUGE_PAGE (2ull << 20)

/* Moves *pp (bytes used of it; the block is at least that long) to an
 * aligned block with its whole 2 MB pages advised; returns 1 if moved. */
static int huge_move(void **pp, size_t bytes, size_t min_bytes) {
    if (!*pp || bytes == 0 || bytes < min_bytes) return 0;
    size_t len = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    void *np = NULL;
    if (posix_memalign(&np, HUGE_PAGE, len)) return 0;
#ifdef MADV_HUGEPAGE
    if (madvise(np, len, MADV_HUGEPAGE) == 0) (void)madvise(np, len, MADV_DONTNEED);
#endif
    memcpy(np, *pp, bytes);
    qfree(*pp);
    *pp = np;
    return 1;
}

unsigned trie__huge_pages(trie *t, size_t min_bytes) {
    const char *e = getenv("QAC_NO_HUGE_PAGES");
    if (e && *e && strcmp(e, "0") != 0) return 0;
    unsigned n = 0;
    void *p;
    p = t->nodes, n += huge_move(&p, (size_t)t->ncap * sizeof *t->nodes, min_bytes), t->nodes = p;
    p = t->kids, n += huge_move(&p, (size_t)t->kcap * sizeof *t->kids, min_bytes), t->kids = p;
    p = t->refs, n += huge_move(&p, (size_t)t->idcap * sizeof *t->refs, min_bytes), t->refs = p;
    p = t->arena, n += huge_move(&p, (size_t)t->acap, min_bytes), t->arena = p;
    p = t->pf, n += huge_move(&p, t->pf ? (size_t)(t->pfmask + 1) * 8 : 0, min_bytes), t->pf = p;
    return n;
}
