/* trie_builder.c -- bottom-up construction from keys in sorted order, shared
 * by trie_builder_* and trie_load. A stack holds the open path (one bframe
 * per key on it, deepest last); when the next key shares only L bytes with
 * the previous one, frames deeper than L are closed into nodes (children
 * sorted once, by b_fill_block) or leaf references, collected in tmp[].
 * The open path spells the previous key, which the caller passes raw (b->pk):
 * a child closed under a frame at depth d starts with byte pk[d], so first
 * bytes are known without decoding any stored key.
 * No searches, no path repairs; the caller refills the cache at the end.
 */
#include "trie/trie_internal.h"

#include <math.h>
#include <string.h>

#include "common/alloc.h"

/* Sorts node m's fresh child block (its nk refs copied in, first bytes in
 * `by`) by rank and fills its first bytes. */
static void b_fill_block(trie *t, uint32_t m, uint32_t nk, const uint8_t *by) {
    uint32_t *r = kid_refs(t, NODE(t, m));
    uint8_t *b = (uint8_t *)(r + nk);
    for (uint32_t i = 0; i < nk; i++) {
        uint32_t x = r[i], xi = ref_best(t, x), j = i;
        uint8_t xb = by[i];
        while (j > 0 && kid_before(t, xi, xb, ref_best(t, r[j - 1]), b[j - 1])) {
            r[j] = r[j - 1];
            b[j] = b[j - 1];
            j--;
        }
        r[j] = x;
        b[j] = xb;
    }
}

/* Closes open frame x whose children are tmp[x->kstart, tn): its ref. */
static int b_finalize(builder *b, const bframe *x, uint32_t *ref_out) {
    trie *t = b->t;
    uint32_t nk = b->tn - x->kstart;
    if (nk == 0) {
        *ref_out = LEAF | x->term;
        return TRIE_OK;
    }
    int rc;
    if ((rc = trie__nodes_reserve(t, CHUNK_UNITS(nk)))) return rc;
    uint32_t m = trie__node_alloc(t, nk); /* record and block, after its subtree's (post-order) */
    tnode *nd = NODE(t, m);
    memcpy(kid_refs(t, nd), b->tmp + x->kstart, nk * 4);
    b_fill_block(t, m, nk, b->tmpb + x->kstart);
    nd->depth = (uint16_t)x->depth;
    nd->term = x->term;
    recompute_best(t, m);
    b->tn = x->kstart;
    *ref_out = m;
    return TRIE_OK;
}

/* Child ref c hangs below the open frame at depth pd: its first byte, and
 * a node's second edge byte (struct tnode), both from the previous key,
 * which spells the open path. */
static void b_attach(builder *b, uint32_t c, uint32_t pd) {
    b->tmpb[b->tn] = (uint8_t)b->pk[pd];
    b->tmp[b->tn++] = c;
    if (!(c & LEAF)) node_set_e2(b->t, c, pd, b->pk);
}

/* Pops open frames deeper than L (the next key shares L bytes with the last). */
int trie__b_close_to(builder *b, uint32_t L) {
    uint32_t c = NONE;
    int rc;
    while (b->st[b->sp - 1].depth > L) {
        bframe x = b->st[--b->sp];
        if (c != NONE) b_attach(b, c, x.depth); /* c hangs below x */
        if ((rc = b_finalize(b, &x, &c))) return rc;
        if (b->st[b->sp - 1].depth < L) b->st[b->sp++] = (bframe){L, NONE, b->tn};
    }
    if (c != NONE) b_attach(b, c, b->st[b->sp - 1].depth);
    return TRIE_OK;
}

/* Closes every open frame and gives the root its children (its chunk, at
 * unit 0, was made with the trie and holds MAX_FANOUT of them). */
int trie__b_close_root(builder *b) {
    trie *t = b->t;
    int rc = trie__b_close_to(b, 0);
    if (rc) return rc;
    if (b->tn) {
        tnode *r = NODE(t, ROOT);
        r->nkids = b->tn;
        memcpy(kid_refs(t, r), b->tmp, b->tn * 4);
        b_fill_block(t, ROOT, b->tn, b->tmpb);
        b->tn = 0;
    }
    recompute_best(t, ROOT);
    return TRIE_OK;
}

int trie__b_init(builder *b, trie *t) {
    b->t = t;
    b->st = qmalloc(MAX_PATH * sizeof *b->st);
    b->tmp = qmalloc((size_t)MAX_PATH * MAX_FANOUT * sizeof *b->tmp);
    b->tmpb = qmalloc((size_t)MAX_PATH * MAX_FANOUT);
    b->pk = NULL;
    b->tn = 0;
    if (!b->st || !b->tmp || !b->tmpb) {
        trie__b_free(b);
        return TRIE_ENOMEM;
    }
    b->st[0] = (bframe){0, NONE, 0};
    b->sp = 1;
    return TRIE_OK;
}

void trie__b_free(builder *b) {
    qfree(b->st);
    qfree(b->tmp);
    qfree(b->tmpb);
    b->st = NULL;
    b->tmp = NULL;
    b->tmpb = NULL;
}

void trie__shrink_to_fit(trie *t) {
    void *p;
    if (t->kused && t->kused < t->kcap && (p = qrealloc(t->kids, t->kused * 4))) {
        t->kids = p;
        t->kcap = t->kused;
    }
    if (t->aused && t->aused < t->acap && (p = qrealloc(t->arena, t->aused))) {
        t->arena = p;
        t->acap = t->aused;
    }
}

/* ------------------------------------------------------------ bulk builder */

/* Keys are stored with the identity table while they arrive (no sample
 * yet); trie_builder_finish chooses the table from them and recodes. */
struct trie_builder {
    builder b;      /* the same bottom-up stack builder as trie_load */
    uint32_t prev;  /* id of the last key added, NONE before the first */
    int failed;     /* a failed add leaves the stack inconsistent: refuse more */
    uint32_t pklen; /* the last key added, raw (b.pk points here) */
    char pk[TRIE_MAX_KEY];
};

trie_builder *trie_builder_new(void) {
    trie_builder *tb = qcalloc(1, sizeof *tb);
    if (!tb) return NULL;
    tb->prev = NONE;
    trie *t = trie_new();
    if (!t || trie__b_init(&tb->b, t) != TRIE_OK) {
        trie_free(t);
        qfree(tb);
        return NULL;
    }
    tb->b.pk = tb->pk;
    return tb;
}

void trie_builder_free(trie_builder *tb) {
    if (!tb) return;
    trie_free(tb->b.t);
    trie__b_free(&tb->b);
    qfree(tb);
}

int trie_builder_add(trie_builder *tb, const char *key, size_t keylen, const char *display,
                     size_t displen, double score, uint32_t *id_out) {
    if (!tb) return TRIE_EINVAL;
    if (tb->failed) return tb->failed;
    int rc = check_args(key, keylen, display, displen);
    if (rc) return rc;
    if (!isfinite(score)) return TRIE_EINVAL;
    trie *t = tb->b.t;
    size_t L = 0;
    if (tb->prev != NONE) { /* strictly increasing: key > prev, bytewise */
        size_t pl = tb->pklen, m = pl < keylen ? pl : keylen;
        L = lcp(tb->pk, key, m);
        if (L == m ? keylen <= pl : (uint8_t)key[L] < (uint8_t)tb->pk[L]) return TRIE_EINVAL;
    }
    size_t cd = canon_dlen(key, keylen, display, displen);
    kcode kc;
    trie__key_encode(t, key, keylen, display, cd, &kc);
    if ((rc = trie__ids_reserve(t)) || (rc = trie__arena_reserve(t, kchunk_bytes(kc.ck, kc.cd)))) return rc;
    /* from here a failure (in closing frames) poisons the builder */
    if ((rc = trie__b_close_to(&tb->b, (uint32_t)L))) return tb->failed = rc;
    memcpy(tb->pk, key, keylen);
    tb->pklen = (uint32_t)keylen;
    uint32_t id = trie__id_alloc(t);
    t->refs[id].off = trie__key_store(t, kc.k, kc.ck, kc.d, kc.cd);
    t->refs[id].score = score;
    t->count++;
    tb->b.st[tb->b.sp++] = (bframe){(uint32_t)keylen, id, tb->b.tn};
    tb->prev = id;
    if (id_out) *id_out = id;
    return TRIE_OK;
}

int trie_builder_finish(trie_builder *tb, trie **out) {
    if (!out) {
        trie_builder_free(tb);
        return TRIE_EINVAL;
    }
    *out = NULL;
    if (!tb) return TRIE_EINVAL;
    int rc = tb->failed ? tb->failed : trie__b_close_root(&tb->b);
    if (rc == TRIE_OK) {
        trie *t = tb->b.t;
        trie__shrink_to_fit(t);
        if (t->nids && t->nids < t->idcap) { /* ids were grown by x1.5: trim */
            kref *r = qrealloc(t->refs, t->nids * sizeof *r);
            if (r) {
                t->refs = r;
                t->idcap = t->nids;
            }
        }
        /* a table fitted to these keys; without memory for it they stay
         * stored as they are (identity-coded: correct, just larger) */
        (void)trie__retrain(t);
        trie__cache_rebuild(t);
        (void)trie__huge_pages(t, HUGE_MIN_BYTES); /* the arrays are final (trie_huge.c) */
        *out = t;
        tb->b.t = NULL;
    }
    trie_builder_free(tb);
    return rc;
}
