/* trie_huge.c -- the trie's big arrays on transparent huge pages.
 *
 * WHY
 * ---
 * The typo walk (trie_fuzzy.c) touches, per call, a few dozen cache lines
 * scattered over the prefix filter (4 MB at 10M keys), the node pool
 * (records with their child blocks, ~160 MB), the id table and the key arena: one 4 KB
 * page each, so most of its loads also miss the TLB (the first-level data
 * TLB covers 256 KB of 4 KB pages; a page walk is a few more dependent
 * loads). With 2 MB pages the same TLB covers 128 MB and the page walk is
 * one level shorter. The kernel gives them to memory that asked with
 * madvise(MADV_HUGEPAGE) when THP is in "madvise" mode (the Debian default)
 * or "always"; with "never", or without the call, nothing changes.
 *
 * HOW
 * ---
 * trie_load knows each array's size from the snapshot header before it
 * reads a record, so it allocates the id table, the node pool (an upper
 * bound, trimmed at the end) and key arena with trie__huge_alloc, and trie__pf_rebuild the prefix
 * filter likewise (at load and at every rebuild): a fresh 2 MB-aligned
 * block, rounded up to whole 2 MB pages, advised MADV_HUGEPAGE and then
 * dropped (MADV_DONTNEED: the allocator may hand back pages already
 * faulted in as 4 KB, which khugepaged would only merge much later), so
 * the decoding faults it in as huge pages at once. Arrays under
 * HUGE_MIN_BYTES (smaller ones have few pages to miss), or when the aligned
 * allocation fails, get an ordinary block as before. Then
 * trie__huge_pages, called once the arrays are final (end of trie_load,
 * and of trie_builder_finish, whose arrays grow as it goes: it cannot
 * size them up front), leaves each array already on a 2 MB boundary
 * where it is (the load's: jemalloc shrinks them in place at the end) and
 * moves any other of at least HUGE_MIN_BYTES into such a block: a copy
 * that faults the new block in as huge pages. The arrays stay ordinary
 * heap blocks (qrealloc grows them, qfree frees them); a later growth
 * copies into memory that was not advised, which is only slower, never
 * wrong. Neither step can fail a load: an array that gets no aligned
 * block stays where it is. A block is rounded up to whole 2 MB pages, so
 * the resident memory grows by at most 2 MB an array: at 10M keys RSS
 * after load 500.6 -> 505.6 MB, AnonHugePages 473 MB. Moving the arrays
 * at the end of the load instead faulted them in twice (4 KB pages while
 * decoding, fresh 2 MB pages for the copy) and cost 1.3-1.5 s more system
 * time (load ~3 s -> 3.3-5.0 s); allocated up front the load takes 2.0-2.6
 * s on a loaded machine. On a quiet one (docs/TYPOS.md) it is still ~0.6 s slower
 * than with QAC_NO_HUGE_PAGES=1 at 10M (2.45-2.69 against 1.92-1.99 s,
 * system time +0.6 s: the kernel clearing 2 MB pages), the price of the
 * walk's gain. The sibling prefetch runs on big tries only (trie_fuzzy.c).
 * All five arrays: huge pages on
 * the nodes, child blocks and filter only were slower (docs/TYPOS.md).
 * The gain is FUZZY 1 / FUZZY 2
 * on 8+ characters 0.86 / 0.80 of the median before, with the SIBLING
 * PREFETCH of trie_fuzzy.c, which alone gives 0.95 / 0.92 (docs/TYPOS.md).
 * A fork (BGSAVE) shares the pages; kernels since 5.8 copy a written huge
 * page 4 KB at a time, older ones whole.
 *
 * QAC_NO_HUGE_PAGES=1 in the environment (read at each call) skips both, for
 * A/B measurements and for an operator who wants none.
 */
#include "trie/trie_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/alloc.h"

#define HUGE_PAGE (2ull << 20)

static int huge_off(void) {
    const char *e = getenv("QAC_NO_HUGE_PAGES");
    return e && *e && strcmp(e, "0") != 0;
}

/* A 2 MB-aligned block of len bytes (whole 2 MB pages) advised and
 * dropped (see HOW), or NULL. */
static void *huge_block(size_t len) {
    void *np = NULL;
    if (posix_memalign(&np, HUGE_PAGE, len)) return NULL;
#ifdef MADV_HUGEPAGE
    if (madvise(np, len, MADV_HUGEPAGE) == 0) (void)madvise(np, len, MADV_DONTNEED);
#endif
    return np;
}

void *trie__huge_alloc(size_t bytes, size_t min_bytes, size_t *len) {
    if (bytes == 0 || bytes < min_bytes || bytes > SIZE_MAX - HUGE_PAGE || huge_off()) return NULL;
    size_t l = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    void *p = huge_block(l);
    if (p && len) *len = l;
    return p;
}

/* Moves *pp (bytes used of it; the block is at least that long) to an
 * aligned block with its whole 2 MB pages advised; returns 1 if it is on
 * one now. A block already 2 MB-aligned (trie__huge_alloc's, kept by a
 * shrink in place) stays: its whole pages are advised again, which costs
 * nothing when they already were. */
static int huge_move(void **pp, size_t bytes, size_t min_bytes) {
    if (!*pp || bytes == 0 || bytes < min_bytes) return 0;
    if (((uintptr_t)*pp & (HUGE_PAGE - 1)) == 0) {
#ifdef MADV_HUGEPAGE
        size_t whole = bytes & ~(size_t)(HUGE_PAGE - 1);
        if (whole) (void)madvise(*pp, whole, MADV_HUGEPAGE);
#endif
        return 1;
    }
    size_t len = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    void *np = huge_block(len);
    if (!np) return 0;
    memcpy(np, *pp, bytes);
    qfree(*pp);
    *pp = np;
    return 1;
}

unsigned trie__huge_pages(trie *t, size_t min_bytes) {
    if (huge_off()) return 0;
    unsigned n = 0;
    void *p;
    p = t->kids, n += huge_move(&p, (size_t)t->kcap * sizeof *t->kids, min_bytes), t->kids = p;
    p = t->refs, n += huge_move(&p, (size_t)t->idcap * sizeof *t->refs, min_bytes), t->refs = p;
    p = t->arena, n += huge_move(&p, (size_t)t->acap, min_bytes), t->arena = p;
    p = t->pf, n += huge_move(&p, t->pf ? (size_t)(t->pfmask + 1) * 8 : 0, min_bytes), t->pf = p;
    return n;
}
