/* upstream_merge.c -- merging the shards' top k exactly (engine/upstream.h
 * has the order and why the merge of per-shard top k lists is exact).
 *
 * Items point at the displays in the shards' replies; their keys are
 * normalized once, when added, into one growing byte array (so comparing is
 * a memcmp, and a sort does no normalization). The merged answer is at most
 * shards * k items (k <= TRIE_MAX_K): one qsort_r of them is cheaper than a
 * heap's bookkeeping at these sizes.
 */
#include "engine/upstream.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "text/norm.h"
#include "trie/trie_fuzzy.h"

int ups_merge_init(ups_merge *m, int key_form, int infix, const char *prefix, size_t plen) {
    memset(m, 0, sizeof *m);
    m->key_form = key_form;
    m->infix = infix;
    if (!infix) return 0;
    int r = norm_prefix_as(key_form, prefix, plen, m->np, sizeof m->np);
    if (r < 0) return -1;
    m->nplen = (size_t)r;
    return 0;
}

int ups_merge_init_keep(ups_merge *m, int key_form, int infix, const char *prefix, size_t plen) {
    ups_item *items = m->items;
    char *keys = m->keys;
    size_t cap = m->cap, kcap = m->kcap;
    int r = ups_merge_init(m, key_form, infix, prefix, plen);
    m->items = items, m->keys = keys, m->cap = cap, m->kcap = kcap;
    return r;
}

static int grow(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *q = qrealloc(*p, nc * size);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

int ups_merge_add(ups_merge *m, const char *disp, size_t displen, double score, int edits) {
    if (grow((void **)&m->items, &m->cap, m->n + 1, sizeof *m->items) < 0) return -1;
    if (grow((void **)&m->keys, &m->kcap, m->klen + TRIE_MAX_KEY + 1, 1) < 0) return -1;
    int kl = norm_key_as(m->key_form, disp, displen, m->keys + m->klen, TRIE_MAX_KEY + 1);
    if (kl < 0) return -1;
    ups_item *it = &m->items[m->n++];
    it->disp = disp;
    it->displen = displen;
    it->score = score;
    it->cut = edits < 0;
    it->edits = edits < 0 ? -edits : edits;
    it->keyoff = (uint32_t)m->klen;
    it->keylen = (uint16_t)kl;
    it->match = NULL;
    it->matchlen = 0;
    /* INFIX: word matches the text is a prefix of first; with edits, per edit count, the typo'd text's
     * completions (within the edits of it as a prefix) before the keys with the last word edited
     * elsewhere (engine/infix.h) */
    const char *key = m->keys + m->klen;
    if (!m->infix) it->klass = 0;
    else if (it->edits == 0) it->klass = !((size_t)kl >= m->nplen && !memcmp(key, m->np, m->nplen));
    else it->klass = trie_fuzzy_dist(m->np, m->nplen, key, (size_t)kl, (unsigned)it->edits, m->fuzzy_flags, NULL) >
                     (unsigned)it->edits;
    m->klen += (size_t)kl;
    return 0;
}

int ups_item_cmp(const ups_merge *m, const ups_item *a, const ups_item *b) {
    if (a->edits != b->edits) return a->edits < b->edits ? -1 : 1;
    if (a->klass != b->klass) return a->klass < b->klass ? -1 : 1;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    size_t n = a->keylen < b->keylen ? a->keylen : b->keylen;
    int c = memcmp(m->keys + a->keyoff, m->keys + b->keyoff, n);
    return c ? c : (a->keylen > b->keylen) - (a->keylen < b->keylen);
}

static int cmp_r(const void *x, const void *y, void *ud) { return ups_item_cmp(ud, x, y); }

size_t ups_merge_finish(ups_merge *m, unsigned k) {
    if (m->n > 1) qsort_r(m->items, m->n, sizeof *m->items, cmp_r, m);
    return m->n < k ? m->n : k;
}

void ups_merge_free(ups_merge *m) {
    qfree(m->items);
    qfree(m->keys);
    m->items = NULL;
    m->keys = NULL;
    m->n = m->cap = m->klen = m->kcap = 0;
}
