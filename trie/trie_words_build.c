/* trie_words_build.c -- the word index built from a trie's keys
 * (trie_words_build). The index's layout, live changes and search are in
 * trie_words.c (design essay), its contract in trie_words.h; this file
 * only makes the arrays that essay describes, as trie_words_snap.c loads
 * them.
 *
 * Keys by rank (a counting sort on the 16-bit score code, fed in key
 * order); each key decoded once, in rank order (its bytes prefetched 8 ranks ahead),
 * signed, its words hashed (XXH3) into temp ids, recorded in rank order
 * (tw_seq: 4 B a posting, in 4 MiB chunks); then two sequential passes over
 * that record, the word (and its list's open block) prefetched 16-32
 * postings ahead: count (cap, gap bytes, each closed block's width
 * logged), then fill lists of exactly that size, every block's width set
 * from the log first so each gap is or-ed in once (tw_post_put_sized;
 * tw_post_put packs a block again whenever a gap is wider than the
 * others); the bound trees from each block's first rank (ranks come by
 * code); the dictionary trie bulk-built from the sorted vocabulary. At 10M
 * (9,999,974 keys, 54.5M postings, 131,894 words; CPU by phase, load 2-3):
 * ranks 0.3-0.5 s, decode, hash, record and count 2.8-3.0 (decoding alone
 * 1.05, the same with the key bytes prefetched 8, 16 or 32 ranks ahead), fill 1.35, trees
 * 0.03, dictionary 0.2, save 0.45-0.8. It was two passes each decoding and
 * hashing (3.0 + 6.8-7.6 s: the second's gap writes missed), trees from
 * every rank's key (1.1-1.2 s). `qac build` at 10M (farm-bench, 3 pairs):
 * CPU 31.1 -> 24.7 s against main, 1.26x --infix-index no (was 1.55x),
 * the command's peak unchanged (1,081.6 MiB, the corpus accumulation's):
 * the record (218 MB) raises the word index's own peak 734 -> 937 MB, under
 * it. Tried and not kept (phase times, 2-3 runs each): counting in the
 * decoding pass (no faster than the separate count); a vocabulary with the hash in its
 * slot, a word's first 8 bytes in its entry and a multiply hash for short
 * words (no faster: the 132k words' table is in cache).
 * Every temporary that cannot be had fails the build with TRIE_ENOMEM
 * (nothing leaked, *out NULL); the temporaries' pages are handed back at
 * the end (qalloc_release). */
#include "trie/trie_words.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/alloc.h"
#include "trie/trie_words_internal.h"

/* Vocabulary of a build: temp word id -> text; open-addressing hash. */
typedef struct tw_vocab {
    char *text;
    uint64_t used, cap;
    uint32_t *off, *hash;
    uint16_t *len;
    uint32_t n, ncap;
    uint32_t *slot; /* temp wid + 1, 0 empty */
    uint32_t smask;
} tw_vocab;

static void vocab_free(tw_vocab *v) {
    qfree(v->text);
    qfree(v->off);
    qfree(v->hash);
    qfree(v->len);
    qfree(v->slot);
}

static int vocab_rehash(tw_vocab *v, uint32_t nslots) {
    uint32_t *s = qcalloc(nslots, sizeof *s);
    if (!s) return TRIE_ENOMEM;
    for (uint32_t i = 0; i < v->n; i++) {
        uint32_t j = v->hash[i] & (nslots - 1);
        while (s[j]) j = (j + 1) & (nslots - 1);
        s[j] = i + 1;
    }
    qfree(v->slot);
    v->slot = s;
    v->smask = nslots - 1;
    return TRIE_OK;
}

/* The temp id of word (added when new; *wid NONE on allocation failure). */
static int vocab_get(tw_vocab *v, const char *word, size_t wl, uint32_t *wid) {
    uint32_t h = (uint32_t)XXH3_64bits(word, wl), j = h & v->smask;
    for (uint32_t e; (e = v->slot[j]); j = (j + 1) & v->smask) {
        e--;
        if (v->hash[e] == h && v->len[e] == wl && memcmp(v->text + v->off[e], word, wl) == 0) {
            *wid = e;
            return TRIE_OK;
        }
    }
    if (v->n == v->ncap) {
        uint32_t nc = v->ncap ? v->ncap * 2 : 1024;
        uint32_t *o = qrealloc(v->off, nc * sizeof *o);
        if (o) v->off = o;
        uint32_t *hh = qrealloc(v->hash, nc * sizeof *hh);
        if (hh) v->hash = hh;
        uint16_t *l = qrealloc(v->len, nc * sizeof *l);
        if (l) v->len = l;
        if (!o || !hh || !l) return TRIE_ENOMEM;
        v->ncap = nc;
    }
    if (v->used + wl > v->cap) {
        uint64_t nc = v->cap * 2 + wl + 4096;
        if (nc > UINT32_MAX) return TRIE_EFULL;
        char *p = qrealloc(v->text, nc);
        if (!p) return TRIE_ENOMEM;
        v->text = p;
        v->cap = nc;
    }
    memcpy(v->text + v->used, word, wl);
    v->off[v->n] = (uint32_t)v->used;
    v->len[v->n] = (uint16_t)wl;
    v->hash[v->n] = h;
    v->used += wl;
    v->slot[j] = v->n + 1;
    *wid = v->n++;
    if ((uint64_t)v->n * 2 > v->smask) return vocab_rehash(v, (v->smask + 1) * 2);
    return TRIE_OK;
}

/* Ids collected in key order (trie__walk_sorted). */
typedef struct tw_ids {
    uint32_t *v, n, cap;
} tw_ids;
static int kord_add(void *ud, uint32_t id) {
    tw_ids *k = ud;
    if (k->n == k->cap) return 1; /* (never: the trie holds cap keys) */
    k->v[k->n++] = id;
    return 0;
}

static int vocab_cmp(const void *a, const void *b, void *ctx) {
    const tw_vocab *v = ctx;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return keycmp(v->text + v->off[x], v->len[x], v->text + v->off[y], v->len[y]);
}

/* A build's record of each key's distinct temp word ids, keys in rank
 * order, written once by the pass that decodes and hashes and read by the
 * count and fill passes (neither decodes nor hashes again): a key's last id
 * carries TW_SEQ_END, a key without words is one TW_SEQ_NONE. Temp ids are
 * < 2^31 (the vocabulary's text is < 2^32 bytes: 2^31 distinct words need
 * more). Kept in chunks of 2^trie_words__seq_shift entries (growth copies
 * nothing), each freed as soon as the fill has read it. */
#define TW_SEQ_END 0x80000000u
#define TW_SEQ_NONE 0xffffffffu
uint32_t trie_words__seq_shift = TW_SEQ_SHIFT;
typedef struct tw_seq {
    uint32_t **c;    /* chunks */
    uint64_t n;      /* entries */
    uint32_t nc, cc; /* chunks made, room for */
    uint32_t sh;     /* 2^sh entries a chunk */
} tw_seq;

static int seq_push(tw_seq *s, uint32_t e) {
    uint32_t k = (uint32_t)(s->n >> s->sh), i = (uint32_t)(s->n & ((1u << s->sh) - 1));
    if (i == 0) {
        if (k == s->cc) {
            uint32_t nc = s->cc ? s->cc * 2 : 64;
            uint32_t **c = qrealloc(s->c, nc * sizeof *c);
            if (!c) return TRIE_ENOMEM;
            s->c = c;
            s->cc = nc;
        }
        if (!(s->c[k] = qmalloc(((size_t)1 << s->sh) * sizeof **s->c))) return TRIE_ENOMEM;
        s->nc = k + 1;
    }
    s->c[k][i] = e;
    s->n++;
    return TRIE_OK;
}
static inline uint32_t seq_at(const tw_seq *s, uint64_t i) { return s->c[i >> s->sh][i & ((1u << s->sh) - 1)]; }
static void seq_free(tw_seq *s) {
    for (uint32_t k = 0; k < s->nc; k++) qfree(s->c[k]);
    qfree(s->c);
}

/* How far ahead the count and fill passes prefetch a posting's word (its
 * tw_word), and the fill its list's open block (the word read by then). */
#define TW_PF_WORD 32
#define TW_PF_LIST 16

static inline void pf_word(const trie_words *w, const tw_seq *s, uint64_t i) {
    if (i >= s->n) return;
    uint32_t e = seq_at(s, i);
    if (e == TW_SEQ_NONE) return;
    const char *x = (const char *)&w->w[e & ~TW_SEQ_END];
    __builtin_prefetch(x, 1);
    __builtin_prefetch(x + sizeof(tw_word) - 1, 1);
}

/* The bound tree of a list just filled in rank order with every key live:
 * a rank's code never rises with the rank (ranks go by code, highest
 * first), so a block's bound is its first rank's code (rcode: by rank) and
 * a node's its first child's -- what tw_tree_rebuild finds, without
 * reading each rank's key id and bound. */
static void tw_tree_sorted(tw_word *x, const uint16_t *rcode) {
    uint32_t off[TW_MAXLV], sz[TW_MAXLV], tot;
    int nl = tw_levels(x->cap, off, sz, &tot);
    if (!nl) return;
    uint16_t *mx = tw_mx(x);
    const uint32_t *bb = tw_bbase(x);
    for (uint32_t b = 0; b < sz[0]; b++) mx[off[0] + b] = rcode[bb[b]];
    for (int l = 1; l < nl; l++)
        for (uint32_t i = 0; i < sz[l]; i++) mx[off[l] + i] = mx[off[l - 1] + (i << TW_FB)];
}

/* tw_post_put for a list laid out with every block's width already set
 * (the count pass found them): the gap is or-ed into the zeroed gap bytes
 * with one 8-byte load and store (the pad covers the last), never packed
 * again. */
static inline void tw_post_put_sized(tw_word *x, uint32_t rk) {
    uint32_t b = x->n >> TW_FB, j = x->n & (TW_F - 1);
    if (j == 0) { /* the block before is full: its gaps end at gn */
        tw_bbase(x)[b] = rk;
        if ((b & (TW_F - 1)) == 0) tw_goff(x)[b >> TW_FB] = x->gn;
    } else {
        uint32_t W = tw_bw(x)[b], at = x->gn - tw_pk_bytes(j - 1, W), bit = (j - 1) * W;
        uint8_t *g = tw_gaps(x) + at + (bit >> 3);
        uint64_t u;
        memcpy(&u, g, 8);
        u |= (uint64_t)(rk - x->last - 1) << (bit & 7);
        memcpy(g, &u, 8);
        x->gn = at + tw_pk_bytes(j, W);
    }
    x->last = rk;
    x->n++;
}

int trie_words_build(const trie *t, trie_words **out) {
    *out = NULL;
    trie_words *w = trie_words_new();
    if (!w) return TRIE_ENOMEM;
    int rc = TRIE_ENOMEM;
    tw_vocab v = {0};
    tw_seq seq = {.sh = trie_words__seq_shift}, bwl = {.sh = trie_words__seq_shift}; /* bwl: block widths */
    uint32_t *cnt = NULL, *perm = NULL;
    uint16_t *rcode = NULL;
    tw_word *nw = NULL;
    trie_builder *b = NULL;
    uint32_t nids = t->nids;
    if (nids && (rc = trie_words__ids_reserve(w, nids - 1))) goto fail;
    rc = TRIE_ENOMEM;
    /* ranks: by score code, highest first, then KEY order (a counting sort
     * fed the ids in key order: the rank order of tw_exact keys, below) */
    if (!(cnt = qcalloc(65537, sizeof *cnt)) || !(w->rr = trie_words__rr_alloc((size_t)t->count + 1)) ||
        !(perm = qmalloc(((size_t)t->count + 1) * 4)) || !(rcode = qmalloc(((size_t)t->count + 1) * 2)))
        goto fail;
    for (uint32_t id = 0; id < nids; id++)
        if (id_live(t, id)) cnt[w->kb[id] = bcode(t->refs[id].score)]++;
    for (uint32_t c = 65535, s = 0;; c--) {
        uint32_t x = cnt[c];
        cnt[c] = s;
        s += x;
        if (c == 0) break;
    }
    tw_ids kord = {perm, 0, (uint32_t)t->count};
    trie__walk_sorted(t, kord_add, &kord);
    for (uint32_t i = 0; i < kord.n; i++) { /* rank -> id and code (signatures: below) */
        uint16_t c = w->kb[perm[i]];
        uint32_t k = cnt[c]++;
        w->rr[k].id = perm[i];
        rcode[k] = c;
    }
    qfree(perm);
    perm = NULL;
    uint32_t nkeys = (uint32_t)t->count;
    w->rshift = tw_rshift_for((uint64_t)nkeys + 1);
    for (uint32_t r = 0; r < nkeys; r++) w->rhint[w->rr[r].id] = (uint16_t)(r >> w->rshift);
    w->ridcap = nkeys + 1;
    w->next_rank = nkeys;
    w->keys = nkeys;
    if ((rc = vocab_rehash(&v, 1u << 16))) goto fail;
    /* each key's distinct words, in rank order (every list comes out
     * sorted): decoded and hashed once, into seq; the keys' bytes
     * prefetched a few ranks ahead (rank order is not arena order) */
    for (uint32_t r = 0; r < nkeys; r++) {
        if (r + 16 < nkeys) __builtin_prefetch(&t->refs[w->rr[r + 16].id]);
        if (r + 8 < nkeys) __builtin_prefetch(t->arena + t->refs[w->rr[r + 8].id].off);
        char key[TRIE_MAX_KEY];
        uint32_t kl = kdecode(t, w->rr[r].id, key);
        uint16_t o[TW_MAXKW], l[TW_MAXKW];
        uint32_t tid[TW_MAXKW];
        int n = trie_words__split(key, kl, o, l), m = 0;
        w->rr[r].sig = tw_sig(key, kl);
        for (int i = 0; i < n; i++) {
            uint32_t wid;
            if ((rc = vocab_get(&v, key + o[i], l[i], &wid))) goto fail;
            int dup = 0;
            for (int j = 0; j < m && !dup; j++) dup = tid[j] == wid;
            if (!dup) tid[m++] = wid;
        }
        if (m == 0 && (rc = seq_push(&seq, TW_SEQ_NONE))) goto fail;
        for (int i = 0; i < m; i++)
            if ((rc = seq_push(&seq, tid[i] | (i == m - 1 ? TW_SEQ_END : 0)))) goto fail;
    }
    /* count (cap, gap bytes), then fill lists of exactly that size (no
     * growth, no copies, no allocator slack) */
    if (v.n && (rc = trie_words__words_reserve(w, v.n - 1))) goto fail;
    for (uint64_t i = 0, r = 0; i < seq.n; i++) {
        pf_word(w, &seq, i + TW_PF_WORD);
        uint32_t e = seq_at(&seq, i);
        if (e == TW_SEQ_NONE) {
            r++;
            continue;
        }
        uint32_t wid = e & ~TW_SEQ_END;
        tw_word *x = &w->w[wid];
        if (x->cap == 0) x->top = rcode[r]; /* the first is the highest */
        /* the packed gap bytes (tw_pk_add; the open block's width kept in
         * gn until the lists are laid out); a block closed: its width
         * logged (wid, width), in the order its word's blocks come */
        if ((x->cap & (TW_F - 1)) == 0 && x->cap &&
            ((rc = seq_push(&bwl, wid)) || (rc = seq_push(&bwl, x->gn))))
            goto fail;
        x->gcap += tw_pk_step(x->cap, (uint32_t)r, x->last, &x->gn);
        x->cap++;
        x->last = (uint32_t)r;
        r += e >> 31;
    }
    for (uint32_t i = 0; i < v.n; i++) {
        tw_word *x = &w->w[i];
        x->gcap += tw_pk_bytes((x->cap - 1) & (TW_F - 1), x->gn); /* the last block: exact size */
        tw_post_layout(x);
        if (!(x->p = qmalloc((size_t)tw_list_bytes(x->cap, x->gcap)))) {
            rc = TRIE_ENOMEM;
            goto fail;
        }
        tw_bw(x)[tw_nblk(x->cap) - 1] = (uint8_t)x->gn; /* the last block's width */
        x->gn = 0;
        /* the gaps are set bit by bit (tw_pk_set keeps a byte's other
         * bits): zeroed first, so a block's unused high bits, which
         * trie_words_save writes out, are 0, not heap leftovers (and a
         * file is the same for the same index); then the pad, read
         * past a last gap and masked off */
        memset(tw_gaps(x), 0, (size_t)x->gcap + TW_PK_PAD);
        w->nwords++;
        w->list_bytes += tw_list_bytes(x->cap, x->gcap);
    }
    for (uint64_t i = 0; i < bwl.n; i += 2) { /* the closed blocks' widths (n: a block count here) */
        tw_word *x = &w->w[seq_at(&bwl, i)];
        tw_bw(x)[x->n++] = (uint8_t)seq_at(&bwl, i + 1);
    }
    seq_free(&bwl);
    bwl = (tw_seq){.sh = seq.sh};
    for (uint32_t i = 0; i < v.n; i++) w->w[i].n = 0;
    for (uint64_t i = 0, r = 0; i < seq.n; i++) {
        pf_word(w, &seq, i + TW_PF_WORD);
        if (i + TW_PF_LIST < seq.n) { /* the open block's width and gap bytes */
            uint32_t e = seq_at(&seq, i + TW_PF_LIST);
            if (e != TW_SEQ_NONE) {
                const tw_word *y = &w->w[e & ~TW_SEQ_END];
                __builtin_prefetch(tw_bw(y) + (y->n >> TW_FB), 1);
                __builtin_prefetch(tw_gaps(y) + y->gn, 1);
            }
        }
        uint32_t e = seq_at(&seq, i);
        if (((i + 1) & ((1u << seq.sh) - 1)) == 0) { /* the chunk read: freed */
            qfree(seq.c[i >> seq.sh]);
            seq.c[i >> seq.sh] = NULL;
        }
        if (e == TW_SEQ_NONE) {
            r++;
            continue;
        }
        tw_word *x = &w->w[e & ~TW_SEQ_END];
        tw_post_put_sized(x, (uint32_t)r);
        x->live++;
        w->postings++;
        r += e >> 31;
    }
    seq_free(&seq);
    seq = (tw_seq){.sh = seq.sh};
    /* the dictionary: bulk-built from the sorted vocabulary (ids 0, 1, ...) */
    rc = TRIE_ENOMEM;
    if (!(perm = qmalloc(((size_t)v.n + 1) * 4)) ||
        !(nw = qcalloc((size_t)v.n + 1, sizeof *nw)) || !(b = trie_builder_new()))
        goto fail;
    for (uint32_t i = 0; i < v.n; i++) perm[i] = i;
    qsort_r(perm, v.n, 4, vocab_cmp, &v);
    for (uint32_t i = 0; i < v.n; i++) {
        uint32_t x = perm[i], id;
        if ((rc = trie_builder_add(b, v.text + v.off[x], v.len[x], NULL, 0, bval_fin(w->w[x].top), &id)))
            goto fail;
        nw[id] = w->w[x];
    }
    trie *wt = NULL;
    rc = trie_builder_finish(b, &wt);
    b = NULL;
    if (rc) goto fail;
    trie_free(w->wt);
    w->wt = wt;
    for (uint32_t i = 0; i < v.n; i++) w->w[i].p = NULL; /* now owned by nw */
    qfree(w->w);
    w->w = nw;
    nw = NULL;
    w->wcap = v.n + 1;
    for (uint32_t i = 0; i < v.n; i++) tw_tree_sorted(&w->w[i], rcode); /* the bound trees */
    vocab_free(&v);
    qfree(cnt);
    qfree(perm);
    qfree(rcode);
    qalloc_release(); /* the temporaries' pages (vocabulary, counts, builder): not left in the RSS */
    *out = w;
    return TRIE_OK;
fail:
    qfree(nw); /* aliases lists still owned by w->w */
    trie_builder_free(b);
    vocab_free(&v);
    seq_free(&seq);
    seq_free(&bwl);
    qfree(cnt);
    qfree(perm);
    qfree(rcode);
    trie_words_free(w);
    return rc;
}
