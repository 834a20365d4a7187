/* trie_fuzzy_list.c -- the typo search's ranked entry lists: each class's
 * best k - got keys and subtrees found by the walk, kept sorted by (score
 * desc, key), then read out by trie_topk's best-first walk (phase 3 of
 * trie_fuzzy.c). */
#include "trie/trie_fuzzy_internal.h"

static const char *fz_key(fz_list *f, fz_ent *x, char *tmp) {
    if (x->txt >= 0) return f->text + x->txt;
    if (f->tused + TRIE_MAX_KEY <= FZ_TEXT) {
        x->txt = (int32_t)f->tused;
        x->tlen = (uint16_t)kdecode(f->t, x->id, f->text + f->tused);
        f->tused += x->tlen;
        return f->text + x->txt;
    }
    x->tlen = (uint16_t)kdecode(f->t, x->id, tmp);
    return tmp;
}

/* 1 when a ranks before b. x's key, when decoded, is kept in xt[0..*xl)
 * (*xl < 0: not yet) so that a rejected candidate uses no buffer space. */
static int fz_before_x(fz_list *f, const fz_ent *x, char *xt, int *xl, fz_ent *b) {
    if (x->s != b->s) return x->s > b->s;
    if (*xl < 0) *xl = (int)kdecode(f->t, x->id, xt);
    char tb[TRIE_MAX_KEY];
    const char *kb = fz_key(f, b, tb);
    return keycmp(xt, (size_t)*xl, kb, b->tlen) < 0;
}

/* Inserts keeping at most cap entries (entries beyond cap, when the list
 * already holds more, are harmless: see fz_walk_class). */
static void fz_push(fz_list *f, uint8_t kind, uint32_t id, uint32_t a, uint32_t slot, uint16_t ml,
                    unsigned cap) {
    if (cap == 0) return;
    fz_ent x = {f->t->refs[id].score, id, a, slot, -1, 0, ml, kind};
    char xt[TRIE_MAX_KEY];
    int xl = -1;
    if (f->n >= cap) {
        if (x.s < f->e[0].s || !fz_before_x(f, &x, xt, &xl, &f->e[0])) return;
        memmove(&f->e[0], &f->e[1], (f->n - 1) * sizeof(fz_ent));
        f->n--;
    }
    unsigned lo = 0, hi = f->n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (fz_before_x(f, &x, xt, &xl, &f->e[mid])) lo = mid + 1;
        else hi = mid;
    }
    if (xl >= 0 && f->tused + (unsigned)xl <= FZ_TEXT) { /* keep the decoded key */
        memcpy(f->text + f->tused, xt, (size_t)xl);
        x.txt = (int32_t)f->tused;
        x.tlen = (uint16_t)xl;
        f->tused += (unsigned)xl;
    }
    memmove(&f->e[lo + 1], &f->e[lo], (f->n - lo) * sizeof(fz_ent));
    f->e[lo] = x;
    f->n++;
}

/* Adds child ref r (a leaf key or a node's subtree) with matchlen ml. */
void trie__fz_push_ref(fz_list *f, uint32_t r, uint16_t ml, unsigned cap) {
    if (r & LEAF) fz_push(f, FZ_KEY, r & ~LEAF, 0, 0, ml, cap);
    else fz_push(f, FZ_NODE, NODE(f->t, r)->best, r, 0, ml, cap);
}

void trie__fz_emit(const trie *t, uint32_t id, unsigned cls, uint16_t ml, trie_fuzzy_hit *o) {
    fill_hit(t, id, &o->hit);
    o->edits = (uint8_t)cls;
    o->matchlen = ml;
}

/* trie_topk's best-first walk (trie.c) from the frontier f, emitting class
 * cls keys into out[*got..k). Every pop yields at least one key and every
 * push is followed by one, hence the caps. */
void trie__fz_walk_class(fz_list *f, unsigned cls, unsigned k, trie_fuzzy_hit *out, unsigned *got) {
    const trie *t = f->t;
    while (*got < k && f->n > 0) {
        fz_ent e = f->e[--f->n];
        uint32_t descend = NONE;
        if (e.kind == FZ_KEY) {
            trie__fz_emit(t, e.id, cls, e.ml, &out[(*got)++]);
            continue;
        }
        if (e.kind == FZ_NODE) {
            descend = e.a;
        } else {
            const tnode *pn = NODE(t, e.a);
            const uint32_t *pr = kid_refs(t, pn);
            if (e.slot + 1 < pn->nkids)
                fz_push(f, FZ_RUN, ref_best(t, pr[e.slot + 1]), e.a, e.slot + 1, e.ml, k - *got - 1);
            uint32_t r = pr[e.slot];
            if (r & LEAF) trie__fz_emit(t, r & ~LEAF, cls, e.ml, &out[(*got)++]);
            else descend = r;
        }
        while (descend != NONE) {
            const tnode *nd = NODE(t, descend);
            uint32_t b = nd->best;
            unsigned cap = k - *got - 1;
            if (nd->term == b) {
                if (nd->nkids) fz_push(f, FZ_RUN, ref_best(t, kid_refs(t, nd)[0]), descend, 0, e.ml, cap);
                trie__fz_emit(t, b, cls, e.ml, &out[(*got)++]);
                break;
            }
            uint32_t r = kid_refs(t, nd)[0];
            if (nd->term != NONE) fz_push(f, FZ_KEY, nd->term, 0, 0, e.ml, cap);
            if (nd->nkids > 1) fz_push(f, FZ_RUN, ref_best(t, kid_refs(t, nd)[1]), descend, 1, e.ml, cap);
            if (r & LEAF) {
                trie__fz_emit(t, r & ~LEAF, cls, e.ml, &out[(*got)++]);
                break;
            }
            descend = r;
        }
    }
}
