/* trie_fuzzy_probe.h -- the typo walk's tests of a child, included by
 * trie_fuzzy.c only (one translation unit, so the walk inlines them as
 * before): the filter words, a spent path's continuations (fz_det), the
 * generic next character (fz_generic), the PROBES with their PROBE
 * RECORDS and PROBE MEMO, and the node's PLAN with its PLAN MEMO. What
 * they decide and why, with the figures: the essay of trie_fuzzy.c
 * (PROBES, PROBE RECORDS, PROBE MEMO, "budget SPENT"). Needs
 * trie_fuzzy_internal.h (the pattern, the rows, fz_walk). */
#ifndef QAC_TRIE_FUZZY_PROBE_H
#define QAC_TRIE_FUZZY_PROBE_H

#include <string.h>

#include "trie/trie_fuzzy_internal.h"

/* FILTER WORDS: a filter string is at most PF_MAXLEN = 8 bytes, so the
 * walk builds the strings it looks up in a uint64 (byte b in bits 8b..8b+7,
 * the bytes above the length 0; pf_hash_word hashes it as pf_hash hashes
 * the bytes) from the path's first bytes, a child's byte and the typed
 * prefix's: shifts and ors, no buffer copies. */
_Static_assert(PF_MAXLEN == 8, "a filter string fits a uint64");
static inline uint64_t fz_lo(uint64_t v, size_t n) { return n >= 8 ? v : v & ((1ull << (8 * n)) - 1); }
/* The path's first pos (<= 8) bytes. */
static inline uint64_t fz_pathw(const fz_walk *w, size_t pos) {
    uint64_t v;
    memcpy(&v, w->path, 8);
    return fz_lo(v, pos);
}
/* The first n (<= 8) bytes of s. */
static inline uint64_t fz_strw(const char *s, size_t n) {
    uint64_t v = 0;
    for (size_t b = 0; b < n && b < 8; b++) v |= (uint64_t)(uint8_t)s[b] << (8 * b);
    return v;
}
/* 1 when byte c is one of sp[0, n) (a few bytes: no call). */
static inline int fz_in(const uint8_t *sp, unsigned n, uint8_t c) {
    for (unsigned x = 0; x < n; x++)
        if (sp[x] == c) return 1;
    return 0;
}

/* The edge into node r, bytes kb[..end), for the typo walk, which knew
 * only its first two (SECOND EDGE BYTE, trie_fuzzy.c): decodes r's best key
 * (it spells the edge) into kb; returns how many bytes kb holds now (>=
 * end), or TC_BAD (cannot happen: the arena holds valid codes). */
static inline size_t fz_edge_more(const trie *t, uint32_t r, char *kb, size_t end) {
    kview v = kv(t, NODE(t, r)->best);
    size_t h = tc_decode_prefix(&t->tc, v.code, v.ck, kb, end);
    return h != TC_BAD && h >= end ? h : TC_BAD;
}

/* Where fz_det puts a decided subtree x of class c, matchlen ml. */
typedef void (*fz_sink)(void *ctx, uint32_t x, unsigned c, size_t ml);

/* The budget c is spent (fz_spent): state s at byte pos of the path into
 * ref r, whose edge bytes are kb[..end) (a leaf: its whole key), of which
 * kb[..*have) are there (the rest is decoded, fz_edge_more, when a
 * continuation matches all those and needs more: SECOND EDGE BYTE). Every
 * further edit is one too many, so a key below has class c exactly when it
 * continues with P[i..m) for a cell i of value c (the first such boundary
 * is its matchlen), and none has a smaller one (row minima never
 * decrease). Each such continuation is followed PATRICIA-style (first
 * bytes and depths, then one check against the best key of the subtree
 * reached, which spells its path) and given to the sink as one subtree. A
 * continuation that extends a shorter one lies inside its subtree and is
 * skipped: each key once, at its shortest match. */
static void fz_det(const trie *t, fz_walk *w, unsigned cb, const fz_st *s, uint32_t r, size_t pos,
                   char *kb, size_t *have, size_t end, fz_sink sink, void *ctx) {
    const fz_pat *z = w->z;
    const uint8_t *row = w->rows[s->j];
    const char *P = w->p;
    int done[2 * TRIE_FUZZY_MAX_EDITS + 1];
    unsigned nd = 0;
    for (int u = 2 * (int)z->B; u >= 0; u--) { /* i descending: shortest continuation first */
        int i = (int)s->j - (int)z->B + u;
        if (i < 0 || i > (int)z->m || row[u] != cb) continue;
        const char *tb = P + z->off[i];
        size_t tl = (size_t)(z->off[z->m] - z->off[i]), e = pos + tl;
        unsigned dup = 0;
        for (unsigned x = 0; x < nd && !dup; x++) {
            size_t ol = (size_t)(z->off[z->m] - z->off[done[x]]);
            dup = memcmp(tb, P + z->off[done[x]], ol) == 0;
        }
        if (dup) continue;
        done[nd++] = i;
        size_t lim = e < end ? e : end; /* first within the edge */
        if (lim > *have) { /* pos <= *have: the bytes there first, then the rest */
            if (memcmp(kb + pos, tb, *have - pos)) continue;
            if ((*have = fz_edge_more(t, r, kb, end)) == TC_BAD) return;
        }
        if (memcmp(kb + pos, tb, lim - pos)) continue;
        if (e <= end) {
            sink(ctx, r, cb, e);
            continue;
        }
        if (r & LEAF) continue; /* the key ends first */
        if (end < PF_MAXLEN) { /* the prefix filter may know no key starts so */
            size_t fl = e < PF_MAXLEN ? e : PF_MAXLEN; /* pos <= end < PF_MAXLEN */
            w->work++; /* kb[pos, end) == tb[0, end - pos) */
            if (!trie__pf_has_word(t, fz_pathw(w, pos) | fz_strw(tb, fl - pos) << (8 * pos), fl)) continue;
        }
        uint32_t x = r;
        while (!(x & LEAF) && NODE(t, x)->depth < e) {
            const tnode *n = NODE(t, x);
            w->work++;
            int c = kid_find(t, n, (uint8_t)tb[n->depth - pos]);
            if (c < 0) break;
            x = kid_refs(t, n)[c];
        }
        if (!(x & LEAF) && NODE(t, x)->depth < e) continue;
        char kx[TRIE_MAX_KEY + TC_SYM_MAX];
        kview v = kv(t, ref_best(t, x));
        w->work++;
        size_t h = tc_decode_prefix(&t->tc, v.code, v.ck, kx, e);
        if (h == TC_BAD || h < e || memcmp(kx + end, tb + (end - pos), e - end)) continue;
        sink(ctx, x, cb, e);
    }
}

/* The first-byte shortcut at state s (position pos): a step's row depends
 * on the key character only through its equality with the pattern
 * characters of the band (substitution) and the transposition test, so
 * every one-byte character outside that set (sp[0..*nsp), at most 2 * FZ_W)
 * gives the same outcome, returned here (found by one step; the walk's row
 * j + 1 is overwritten). Under the first-character rule only p[pos] lives
 * (FZ_DEAD). -1: no shortcut (inside a character). */
static int fz_generic(fz_walk *w, const fz_st *st, size_t pos, uint8_t *sp, uint8_t *nsp, fz_st *out) {
    const fz_pat *z = w->z;
    *nsp = 0;
    if (st->pre) {
        sp[(*nsp)++] = (uint8_t)w->p[pos];
        return FZ_DEAD;
    }
    if (st->have) return -1;
    int j1 = (int)st->j + 1;
    uint32_t kp = st->j ? w->ch[st->j - 1] : 0;
    for (int u = 0; u <= 2 * (int)z->B; u++) {
        int i = j1 - (int)z->B + u;
        if (i < 1 || i > (int)z->m) continue;
        if (z->c[i - 1] < 256) sp[(*nsp)++] = (uint8_t)z->c[i - 1];
        if (i >= 2 && j1 >= 2 && z->c[i - 1] == kp && z->c[i - 2] < 256) sp[(*nsp)++] = (uint8_t)z->c[i - 2];
    }
    uint8_t g = 1;
    while (fz_in(sp, *nsp, g)) g++;
    *out = *st;
    return fz_byte(w, out, g, pos);
}

/* 1 when byte c at a child's start takes the generic outcome; spm: the
 * set of fz_generic's bytes sp (a bitmap of 256). */
static inline int fz_is_generic(const fz_st *st, const uint64_t *spm, uint8_t c) {
    return (st->pre || c < 0xC0 || c >= 0xF8) && !(spm[c >> 6] >> (c & 63) & 1);
}

/* PROBE RECORDS: what a probe of the prefetch pass read. A probe is an OR
 * of filter look-ups (a spent state's continuations, a typed next
 * character's string; a sub-probe's AND with its path only guards strings
 * that are all look-ups of the same OR), and the prefetch pass, where every
 * look-up answers "no", runs exactly the steps the real probe runs up to
 * its first "yes". So it records the hashes in order, with the work units
 * spent up to each (its DP steps count, as in the real call), and the real
 * call (fz_probe_rec) reads the words only: no DP step, the same answer and
 * the same units. A probe that reads more than FZ_PROBE_WORDS strings, or a
 * string outside 1..PF_MAXLEN bytes, is not recorded (ok = 0) and runs. */
#define FZ_PROBE_WORDS 20
typedef struct fz_prec {
    uint64_t h[FZ_PROBE_WORDS]; /* pf_hash_word of each look-up, in order */
    uint16_t at[FZ_PROBE_WORDS]; /* units spent through look-up k */
    uint16_t slot, n, end;       /* the child; look-ups; units of the whole probe */
    uint8_t ok, yes;             /* recorded whole; the probe ends in "maybe" past its look-ups */
} fz_prec;

/* PROBE MEMO. A probe's verdict and look-ups depend on the child's path
 * only through the path's bytes, which every string it looks up starts
 * with; all the rest (which typed characters it feeds, which die, cut or
 * spend the budget, which parts of P it appends, and the units spent up
 * to each look-up) is a function of the DP state after the child's byte:
 * its byte position (the strings' lengths are capped at PF_MAXLEN), the
 * row's index j, the automaton states of rows j - 1 (fz_spent reads that
 * row) and j, best, and which cells of the next band hold the child's byte
 * (fz_generic's transposition bytes). So the prefetch pass (or, without
 * one, fz_probe_rec) keeps, per walk, the look-ups of each state it
 * probed as strings without their path (fz_mrec), and a later child in
 * the same state, at this node or another, gets its record (its hashes,
 * the units up to each, the verdict past them) by hashing its own path
 * with those strings: no DP step. Same records, so same answers and the
 * same units (test_probe_memo compares every call's answers and units
 * with it and without it). At 10M keys, FUZZY 2 on 8+ characters: 82 %
 * of the pass's 5.47M probes are of a state probed before in the walk
 * (counted with an unbounded table), 43 % at the same node. A full memo
 * (FZ_MEMO_SLOTS, FZ_MEMO_WORDS) only stops keeping new states: their
 * probes run. */
#define FZ_MEMO_MIN_EDITS 2 /* the budget (maxd) from which the walk keeps the memos (PROBE MEMO) */
#define FZ_MEMO_SLOTS 256 /* states kept per walk (a power of 2; filled to 3/4) */
#define FZ_MEMO_WORDS 2048 /* their look-ups, all states together */
typedef struct fz_mrec {
    uint64_t v[FZ_PROBE_WORDS]; /* the strings as words (FILTER WORDS) */
    uint8_t len[FZ_PROBE_WORDS];
} fz_mrec;
typedef struct fz_memo {
    uint64_t key[FZ_MEMO_SLOTS]; /* 0: free */
    uint16_t at[FZ_MEMO_SLOTS];  /* the state's first look-up in u[], len[], units[] */
    uint16_t end[FZ_MEMO_SLOTS]; /* units of the whole probe */
    uint8_t n[FZ_MEMO_SLOTS], ok[FZ_MEMO_SLOTS], yes[FZ_MEMO_SLOTS];
    unsigned used, words;
    uint64_t hits;
    uint64_t u[FZ_MEMO_WORDS]; /* each look-up's string after the path, as a word */
    uint8_t len[FZ_MEMO_WORDS];
    uint16_t units[FZ_MEMO_WORDS];
} fz_memo;

/* A filter look-up of fz_probe; in a prefetch pass (w->pref) it only
 * prefetches the word, records it (PROBE RECORDS) and answers "no", so
 * that every string the real call could read is reached. */
static inline int fz_has(const trie *t, fz_walk *w, uint64_t v, size_t n) {
    if (!w->pref) return trie__pf_has_word(t, v, n);
    fz_prec *r = w->rec;
    if (!n || n > PF_MAXLEN || r->n == FZ_PROBE_WORDS) {
        r->ok = 0;
        return 0;
    }
    uint64_t h = pf_hash_word(v, n);
    __builtin_prefetch(&t->pf[h >> 12 & t->pfmask]);
    if (w->mrec) { /* PROBE MEMO: the string too */
        w->mrec->v[r->n] = v;
        w->mrec->len[r->n] = (uint8_t)n;
    }
    r->h[r->n] = h;
    r->at[r->n++] = (uint16_t)(w->work - w->rbase);
    return 0;
}

/* Characters looked ahead below a child by fz_probe. */
#define FZ_PROBE_DEPTH 1
_Static_assert(FZ_PROBE_DEPTH == 1, "PROBE RECORDS: a sub-probe whose path string hits answers yes at once");

/* The PROBE (essay: PROBES): 0 when no key below path[0, pos) (state s)
 * can be recorded by the walk of class lo, by the prefix filter alone; 1:
 * maybe. Spent: a key goes on with P[i..m) for a cell i of value lo
 * (fz_det). Else, when the generic next character dies (fz_generic; the
 * typed characters are all one-byte here, so a multi-byte key character is
 * generic too), only the band's typed characters can follow: each is fed
 * and probed, `depth` levels at most. s->best == lo (a key ending here
 * counts) and a cut are maybes. Overwrites rows above s->j, ch[] and
 * path[] from pos on. `top`: path[0, pos) is a real child's. */
static int fz_probe(const trie *t, fz_walk *w, const fz_st *s, size_t pos, unsigned lo, unsigned depth,
                    int top) {
    const fz_pat *z = w->z;
    if (!t->pf || s->pre || s->have || !z->onebyte || s->best == lo || pos >= PF_MAXLEN) return 1;
    if (fz_spent(w, s, lo)) {
        const uint8_t *row = w->rows[s->j];
        uint64_t pv = fz_pathw(w, pos); /* pos < PF_MAXLEN */
        for (int u = 0; u <= 2 * (int)z->B; u++) {
            int i = (int)s->j - (int)z->B + u;
            if (i < 0 || i > (int)z->m || row[u] != lo) continue;
            size_t tl = (size_t)(z->off[z->m] - z->off[i]), n = pos + tl < PF_MAXLEN ? pos + tl : PF_MAXLEN;
            w->work++;
            if (fz_has(t, w, pv | fz_strw(w->p + z->off[i], n - pos) << (8 * pos), n)) return 1;
        }
        return 0;
    }
    if (!top) {
        w->work++;
        if (!fz_has(t, w, fz_pathw(w, pos), pos)) return 0;
    }
    if (depth == 0) return 1;
    uint8_t sp[2 * FZ_W], nsp;
    fz_st g;
    if (fz_generic(w, s, pos, sp, &nsp, &g) != FZ_DEAD) return 1;
    for (unsigned x = 0; x < nsp; x++) {
        if (fz_in(sp, x, sp[x])) continue; /* tried */
        fz_st st = *s;
        int res = fz_byte(w, &st, sp[x], pos);
        if (res == FZ_DEAD || st.best < lo) continue;
        if (res == FZ_CUT) { /* class lo below, if any key starts so */
            w->work++;
            if (fz_has(t, w, fz_pathw(w, pos + 1), pos + 1)) return 1;
            continue;
        }
        if (fz_probe(t, w, &st, pos + 1, lo, depth - 1, 0)) return 1;
    }
    return 0;
}

/* The PLAN of a node: fz_probe for all its children whose one-byte
 * character is typed nowhere in P (fz_plan_applies) at once: such
 * characters give the same DP states all the way down, so the suffixes
 * fz_probe would look up after the child's byte are the same (u[0..n)),
 * made once from a stand-in byte. maybe: the plan rules nothing out. */
#define FZ_PLAN_MAX 32
#define FZ_PREFETCH_MAX 64 /* filter words prefetched per node (and their hashes kept: fz_plan_prefetch) */
typedef struct fz_plan {
    uint8_t maybe, n;
    uint8_t len[FZ_PLAN_MAX];
    uint64_t u[FZ_PLAN_MAX]; /* filter words (FILTER WORDS) of len bytes */
    unsigned nh;                /* PLAN HASHES: h[0, nh) are set (fz_plan_prefetch) */
    uint64_t h[FZ_PREFETCH_MAX]; /* the look-ups' hashes, u[] for each generic child in slot order */
} fz_plan;

/* Adds the suffix a (al <= 1 bytes, a word) then b[0, bl), cut to room
 * (>= 1) bytes. */
static void fz_plan_add(fz_plan *pl, uint64_t a, size_t al, const char *b, size_t bl, size_t room) {
    if (pl->n == FZ_PLAN_MAX) {
        pl->maybe = 1;
        return;
    }
    size_t n = al + bl < room ? al + bl : room;
    uint64_t v = a;
    if (n > al) v |= fz_strw(b, n - al) << (8 * al);
    pl->u[pl->n] = v;
    pl->len[pl->n++] = (uint8_t)n;
}

/* Adds the suffixes for the cells of value lo of spent state s: P[i..m),
 * after `pre` (prel = 0 or 1 byte). */
static void fz_plan_spent(fz_walk *w, const fz_st *s, unsigned lo, fz_plan *pl, uint64_t pre, size_t prel,
                          size_t room) {
    const fz_pat *z = w->z;
    const uint8_t *row = w->rows[s->j];
    for (int u = 0; u <= 2 * (int)z->B; u++) {
        int i = (int)s->j - (int)z->B + u;
        if (i < 0 || i > (int)z->m || row[u] != lo) continue;
        fz_plan_add(pl, pre, prel, w->p + z->off[i], (size_t)(z->off[z->m] - z->off[i]), room);
    }
}

/* Makes the plan of the node at byte position pos in state f (rows
 * current; rows above f->j are overwritten). */
static void fz_plan_init(const trie *t, fz_walk *w, fz_plan *pl, const fz_st *f, size_t pos, unsigned lo) {
    const fz_pat *z = w->z;
    pl->maybe = 1;
    pl->n = 0;
    if (!t->pf || f->pre || f->have || !z->onebyte || pos + 1 >= PF_MAXLEN) return;
    uint8_t g = 1;
    while (z->inpat[g >> 6] >> (g & 63) & 1) g++; /* m < 255: one is free */
    fz_st s = *f;
    if (fz_byte(w, &s, g, pos) != FZ_GO || s.best == lo) return; /* dead children are skipped anyway */
    size_t room = PF_MAXLEN - pos - 1;
    if (fz_spent(w, &s, lo)) {
        pl->maybe = 0; /* an overflow sets it back */
        fz_plan_spent(w, &s, lo, pl, 0, 0, room);
        return;
    }
    uint8_t sp[2 * FZ_W], nsp;
    fz_st gg;
    if (fz_generic(w, &s, pos + 1, sp, &nsp, &gg) != FZ_DEAD) return;
    pl->maybe = 0;
    for (unsigned x = 0; x < nsp && !pl->maybe; x++) {
        if (fz_in(sp, x, sp[x])) continue;
        fz_st st = s;
        int res = fz_byte(w, &st, sp[x], pos + 1);
        if (res == FZ_DEAD || st.best < lo) continue;
        if (res == FZ_GO && fz_spent(w, &st, lo) && st.best != lo && pos + 2 < PF_MAXLEN)
            fz_plan_spent(w, &st, lo, pl, sp[x], 1, room);
        else
            fz_plan_add(pl, sp[x], 1, NULL, 0, room);
    }
}

/* PLAN MEMO: a node's plan, like a probe (PROBE MEMO), depends on its
 * state only, and on less of it: the stand-in byte matches nothing, so
 * neither row j - 1 nor the node's last character play a part; its
 * strings are suffixes after the child's byte, with no path in them. So
 * the walk keeps the plans it made (of FZ_PMEMO_WORDS strings at most)
 * by (byte position, j, the automaton state of row j, best), with the
 * units their DP steps counted, and copies them. */
#define FZ_PMEMO_SLOTS 64 /* plans kept per walk (a power of 2; filled to 3/4) */
#define FZ_PMEMO_WORDS 8
typedef struct fz_pmemo {
    uint64_t key[FZ_PMEMO_SLOTS]; /* 0: free */
    uint16_t units[FZ_PMEMO_SLOTS];
    uint8_t maybe[FZ_PMEMO_SLOTS], n[FZ_PMEMO_SLOTS], len[FZ_PMEMO_SLOTS][FZ_PMEMO_WORDS];
    uint64_t u[FZ_PMEMO_SLOTS][FZ_PMEMO_WORDS];
    unsigned used;
} fz_pmemo;

/* fz_plan_init through the PLAN MEMO (mm; NULL: none). */
static void fz_plan_make(const trie *t, fz_walk *w, fz_pmemo *mm, uint64_t *hits, fz_plan *pl, const fz_st *f,
                         size_t pos, unsigned lo) {
    if (!mm || !t->pf || f->pre || f->have || !w->z->onebyte || pos + 1 >= PF_MAXLEN) {
        fz_plan_init(t, w, pl, f, pos, lo);
        return;
    }
    uint64_t k = 1ull << 63 | (uint64_t)pos << 48 | (uint64_t)f->best << 40 | (uint64_t)w->sid[f->j] << 24 | f->j;
    unsigned h = (unsigned)(pf_hash_word(k, 8) & (FZ_PMEMO_SLOTS - 1));
    while (mm->key[h] && mm->key[h] != k) h = (h + 1) & (FZ_PMEMO_SLOTS - 1);
    if (mm->key[h]) {
        pl->maybe = mm->maybe[h];
        pl->n = mm->n[h];
        memcpy(pl->len, mm->len[h], FZ_PMEMO_WORDS);
        memcpy(pl->u, mm->u[h], sizeof mm->u[h]);
        w->work += mm->units[h];
        (*hits)++;
        return;
    }
    uint64_t base = w->work;
    fz_plan_init(t, w, pl, f, pos, lo);
    if (mm->used >= FZ_PMEMO_SLOTS / 4 * 3 || pl->n > FZ_PMEMO_WORDS) return;
    mm->key[h] = k;
    mm->units[h] = (uint16_t)(w->work - base);
    mm->maybe[h] = pl->maybe;
    mm->n[h] = pl->n;
    memcpy(mm->len[h], pl->len, FZ_PMEMO_WORDS);
    memcpy(mm->u[h], pl->u, sizeof mm->u[h]);
    mm->used++;
}

static inline int fz_plan_applies(const fz_pat *z, uint8_t c0) {
    return (c0 < 0xC0 || c0 >= 0xF8) && !(z->inpat[c0 >> 6] >> (c0 & 63) & 1);
}

/* Prefetches the filter words fz_plan_check will read for node nd's
 * generic children: independent look-ups, so their misses overlap. PLAN
 * HASHES: their hashes are kept in pl->h, the n look-ups of the node's
 * o-th generic child (in slot order) at o * n, so that fz_plan_check
 * reads a kept hash instead of hashing the same string again (the check's
 * load then waits for no multiply chain); a child past the kept ones (the
 * FZ_PREFETCH_MAX cap) is hashed as before. Same look-ups, same answers. */
static void fz_plan_prefetch(const trie *t, const fz_walk *w, fz_plan *pl, const tnode *nd, size_t pos) {
    pl->nh = 0;
    if (pl->maybe || pl->n == 0 || nd->nkids == 0) return;
    uint64_t pv = fz_pathw(w, pos); /* a plan is made only for pos + 1 < PF_MAXLEN */
    const uint8_t *kb = kid_bytes(t, nd);
    unsigned done = 0;
    for (unsigned i = 0; i < nd->nkids && done < FZ_PREFETCH_MAX; i++) {
        if (!fz_plan_applies(w->z, kb[i])) continue;
        uint64_t cv = pv | (uint64_t)kb[i] << (8 * pos);
        for (unsigned k = 0; k < pl->n && done < FZ_PREFETCH_MAX; k++, done++) {
            uint64_t h = pf_hash_word(cv | pl->u[k] << (8 * (pos + 1)), pos + 1 + pl->len[k]);
            __builtin_prefetch(&t->pf[h >> 12 & t->pfmask]);
            pl->h[done] = h;
        }
    }
    pl->nh = done;
}

/* 1 when generic child c0 of the plan's node (at pos) may be alive; o:
 * how many generic children come before it (PLAN HASHES). */
static int fz_plan_check(const trie *t, fz_walk *w, const fz_plan *pl, size_t pos, uint8_t c0, unsigned o) {
    if (pl->maybe) return 1;
    const unsigned b = o * pl->n;
    if (trie__fz_plan_hashes && b + pl->n <= pl->nh) { /* the kept hashes (pf set: a plan has none without) */
        for (unsigned k = 0; k < pl->n; k++) { /* prefetched: no unit */
            uint64_t h = pl->h[b + k], m = pf_bits(h);
            if ((t->pf[(h >> 12) & t->pfmask] & m) == m) return 1;
        }
        return 0;
    }
    uint64_t cv = fz_pathw(w, pos) | (uint64_t)c0 << (8 * pos);
    for (unsigned k = 0; k < pl->n; k++) /* prefetched: no unit */
        if (trie__pf_has_word(t, cv | pl->u[k] << (8 * (pos + 1)), pos + 1 + pl->len[k])) return 1;
    return 0;
}

#endif /* QAC_TRIE_FUZZY_PROBE_H */
