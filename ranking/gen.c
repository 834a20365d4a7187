/* gen.c -- the suffix index and generated completions (see gen.h).
 *
 * Counting table: open addressing (linear probing) over a power-of-two slot
 * array of entry numbers, at least 2x the entries; entries hold (hash, text
 * offset and length in one arena, count). A prune keeps the best half by
 * count (among entries tied at the cut, the first in table order) and
 * rebuilds the arena and the slots, so memory stays bounded by the cap.
 */
#include "ranking/gen.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/util.h"

typedef struct counter counter;
static int counter_has(const counter *c, const char *s, size_t len);

struct rank_gen {
    trie *t;
    struct counter *words; /* the words of the keys with a space (see "Known words" in gen.h) */
};

typedef struct sent {
    uint64_t h;
    uint32_t off, len;
    double count;
} sent;

struct counter {
    sent *e;
    size_t n, cap;  /* entries, at most cap (then prune) */
    size_t ecap;    /* entries allocated: grows by doubling up to cap (counter_grow) */
    uint32_t *slot; /* entry + 1, 0 = empty */
    size_t nslot;   /* power of two >= 2 ecap */
    char *arena;
    size_t alen, acap;
    uint64_t occurrences, distinct, pruned;
    int oom;
    struct counter *words; /* the suffix counter's: the words counted alongside (NULL: none) */
};

static uint64_t hash_bytes(const char *s, size_t n) { /* FNV-1a, then a mix */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static void slots_rebuild(counter *c) {
    memset(c->slot, 0, c->nslot * sizeof *c->slot);
    for (size_t i = 0; i < c->n; i++) {
        size_t s = c->e[i].h & (c->nslot - 1);
        while (c->slot[s]) s = (s + 1) & (c->nslot - 1);
        c->slot[s] = (uint32_t)i + 1;
    }
}

static int cmp_double_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Keeps the best half of the entries by count; compacts the arena. */
static int prune(counter *c) {
    double *v = qmalloc(c->n * sizeof *v);
    char *na = qmalloc(c->acap);
    if (!v || !na) {
        qfree(v);
        qfree(na);
        return -1;
    }
    for (size_t i = 0; i < c->n; i++) v[i] = c->e[i].count;
    qsort(v, c->n, sizeof *v, cmp_double_desc);
    double med = v[c->n / 2 ? c->n / 2 - 1 : 0];
    size_t m = 0, al = 0, half = c->n / 2, ties = 0;
    for (size_t i = 0; i < half; i++) ties += v[i] == med; /* of the best half, these equal the median */
    for (size_t i = 0; i < c->n; i++) {
        if (c->e[i].count < med || (c->e[i].count == med && !ties)) continue;
        if (c->e[i].count == med) ties--;
        sent x = c->e[i];
        memcpy(na + al, c->arena + x.off, x.len);
        x.off = (uint32_t)al;
        al += x.len;
        c->e[m++] = x;
    }
    qfree(v);
    qfree(c->arena);
    c->arena = na;
    c->alen = al;
    c->n = m;
    c->pruned++;
    slots_rebuild(c);
    return 0;
}

/* Room for twice the entries (at most cap) and a slot table to match.
 * The tables start small, so a bound far above what the keys hold (the
 * word table's 1,000,000 against the dev index's 71,297 words) costs only
 * what is counted; entry order is insertion order either way, so what is
 * kept and pruned does not depend on the growth. */
static int counter_grow(counter *c) {
    size_t ne = c->ecap * 2 < c->cap ? c->ecap * 2 : c->cap, ns = c->nslot;
    while (ns < 2 * ne) ns *= 2;
    sent *e = qrealloc(c->e, ne * sizeof *e);
    if (!e) return -1;
    c->e = e;
    c->ecap = ne;
    if (ns != c->nslot) {
        uint32_t *slot = qrealloc(c->slot, ns * sizeof *slot);
        if (!slot) return -1;
        c->slot = slot;
        c->nslot = ns;
        slots_rebuild(c);
    }
    return 0;
}

static int count_add(counter *c, const char *s, size_t len, double w) {
    c->occurrences++;
    uint64_t h = hash_bytes(s, len);
    size_t i = h & (c->nslot - 1);
    for (;;) {
        uint32_t k = c->slot[i];
        if (!k) break;
        sent *x = &c->e[k - 1];
        if (x->h == h && x->len == len && !memcmp(c->arena + x->off, s, len)) {
            x->count += w;
            return 0;
        }
        i = (i + 1) & (c->nslot - 1);
    }
    c->distinct++;
    if (c->n == c->ecap) {
        if (c->n == c->cap ? prune(c) : counter_grow(c)) return -1;
        i = h & (c->nslot - 1);
        while (c->slot[i]) i = (i + 1) & (c->nslot - 1);
    }
    if (c->alen + len > c->acap) {
        size_t na = c->acap * 2;
        while (na < c->alen + len) na *= 2;
        char *a = qrealloc(c->arena, na);
        if (!a) return -1;
        c->arena = a;
        c->acap = na;
    }
    memcpy(c->arena + c->alen, s, len);
    c->e[c->n] = (sent){h, (uint32_t)c->alen, (uint32_t)len, w};
    c->alen += len;
    c->slot[i] = (uint32_t)++c->n;
    return 0;
}

static int counter_has(const counter *c, const char *s, size_t len) {
    uint64_t h = hash_bytes(s, len);
    for (size_t i = h & (c->nslot - 1);; i = (i + 1) & (c->nslot - 1)) {
        uint32_t k = c->slot[i];
        if (!k) return 0;
        const sent *x = &c->e[k - 1];
        if (x->h == h && x->len == len && !memcmp(c->arena + x->off, s, len)) return 1;
    }
}

/* Counts the suffixes of one key: every suffix starts after a space that
 * is followed by a non-space, so the text from the key's first space on
 * (its tail) has them all. */
static int count_tail(counter *c, const char *k, size_t n, double w) {
    if (!memchr(k, ' ', n)) return 0; /* no suffix, and its word is not counted (the key copy skips it) */
    for (size_t i = 0; i + 1 < n; i++)
        if (k[i] == ' ' && k[i + 1] != ' ' && count_add(c, k + i + 1, n - i - 1, w)) {
            c->oom = 1;
            return 1;
        }
    for (size_t i = 0; c->words && i < n;) { /* its words: the runs of non-spaces */
        if (k[i] == ' ') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && k[j] != ' ') j++;
        if (count_add(c->words, k + i, j - i, w)) {
            c->oom = 1;
            return 1;
        }
        i = j;
    }
    return 0;
}

static int walk_key(void *ud, const trie_hit *hit) {
    return count_tail(ud, trie_hit_key(hit), hit->keylen, hit->score);
}

static _Thread_local const counter *sort_ctx; /* qsort has no user pointer; one per building thread */

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn) {
    int r = memcmp(a, b, an < bn ? an : bn);
    return r ? r : an < bn ? -1 : an > bn;
}

static int by_count(const void *pa, const void *pb) {
    const sent *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return bytes_cmp(sort_ctx->arena + a->off, a->len, sort_ctx->arena + b->off, b->len);
}

static int by_text(const void *pa, const void *pb) {
    const sent *a = pa, *b = pb;
    return bytes_cmp(sort_ctx->arena + a->off, a->len, sort_ctx->arena + b->off, b->len);
}

#define COUNTER_START 4096 /* entries a counting table starts with (counter_grow) */
size_t rank__gen_counter_start = COUNTER_START; /* tests set it small, so that their tables grow */

static int counter_init(counter *c, size_t cap) {
    memset(c, 0, sizeof *c);
    c->cap = cap;
    size_t start = rank__gen_counter_start ? rank__gen_counter_start : 1;
    c->ecap = cap < start ? cap : start;
    c->nslot = 16;
    while (c->nslot < 2 * c->ecap) c->nslot *= 2;
    c->acap = 1 << 16;
    c->e = qmalloc(c->ecap * sizeof *c->e);
    c->slot = qcalloc(c->nslot, sizeof *c->slot);
    c->arena = qmalloc(c->acap);
    return c->e && c->slot && c->arena ? 0 : -1;
}

static void counter_free(counter *c) {
    if (c->words) {
        counter_free(c->words);
        qfree(c->words);
    }
    qfree(c->e);
    qfree(c->slot);
    qfree(c->arena);
}

/* Checks the bounds and makes empty counting tables (the words' too unless
 * max_words is 0); *out = NULL. */
static int counter_start(counter *c, uint64_t max_suffixes, uint64_t max_words, rank_gen **out) {
    *out = NULL;
    memset(c, 0, sizeof *c);
    if (max_suffixes < 1 || max_suffixes > RANK_GEN_MAX_SUFFIXES || max_words > RANK_GEN_MAX_WORDS)
        return TRIE_EINVAL;
    int bad = counter_init(c, (size_t)max_suffixes * RANK_GEN_COUNT_FACTOR);
    if (!bad && max_words) {
        bad = !(c->words = qmalloc(sizeof *c->words));
        if (!bad && counter_init(c->words, (size_t)max_words)) bad = 1;
    }
    if (bad) {
        counter_free(c);
        return TRIE_ENOMEM;
    }
    return 0;
}

/* Shrinks the word table to its entries: the lookup set (counter_has). */
static int words_compact(counter *w) {
    size_t n = w->n ? w->n : 1, nslot = 16;
    while (nslot < 2 * n) nslot *= 2;
    sent *e = qrealloc(w->e, n * sizeof *e);
    if (!e) return -1;
    w->e = e;
    uint32_t *slot = qrealloc(w->slot, nslot * sizeof *slot);
    if (!slot) return -1;
    w->slot = slot;
    w->nslot = nslot;
    w->cap = w->ecap = w->n;
    char *a = qrealloc(w->arena, w->alen ? w->alen : 1);
    if (!a) return -1;
    w->arena = a;
    w->acap = w->alen ? w->alen : 1;
    slots_rebuild(w);
    return 0;
}

/* The max_suffixes best counted suffixes (count desc, text asc) into a new
 * index, with the counted words; frees c. */
static int counted_finish(counter *c, uint64_t keys, uint64_t max_suffixes, uint64_t t0, rank_gen **out,
                          rank_gen_info *info) {
    rank_gen *g = qcalloc(1, sizeof *g);
    trie_builder *b = NULL;
    int rc = TRIE_ENOMEM;
    if (!g || c->oom) goto out;
    if (c->words) {
        if (words_compact(c->words)) goto out;
        g->words = c->words;
        c->words = NULL;
    }
    sort_ctx = c;
    qsort(c->e, c->n, sizeof *c->e, by_count);
    size_t keep = c->n < max_suffixes ? c->n : (size_t)max_suffixes;
    qsort(c->e, keep, sizeof *c->e, by_text);
    sort_ctx = NULL;
    b = trie_builder_new();
    if (!b) goto out;
    for (size_t i = 0; i < keep; i++) {
        rc = trie_builder_add(b, c->arena + c->e[i].off, c->e[i].len, NULL, 0, c->e[i].count, NULL);
        if (rc) goto out;
    }
    rc = trie_builder_finish(b, &g->t);
    b = NULL;
    if (rc) goto out;
    if (info) {
        trie_mem m;
        trie_memory(g->t, &m);
        const counter *w = g->words;
        uint64_t wbytes = w ? w->n * sizeof *w->e + w->nslot * sizeof *w->slot + w->acap + sizeof *w : 0;
        *info = (rank_gen_info){keys,
                                c->occurrences,
                                c->distinct,
                                keep,
                                c->pruned,
                                m.bytes_alloc + wbytes,
                                (double)(qtime_ns() - t0) / 1e9,
                                w ? w->n : 0,
                                w ? w->distinct : 0,
                                w ? w->pruned : 0,
                                wbytes};
    }
    *out = g;
    g = NULL;
    rc = 0;
out:
    trie_builder_free(b);
    rank_gen_free(g);
    counter_free(c);
    return rc;
}

int rank_gen_build(const trie *t, uint64_t max_suffixes, uint64_t max_words, rank_gen **out, rank_gen_info *info) {
    uint64_t t0 = qtime_ns();
    counter c;
    int rc = counter_start(&c, max_suffixes, max_words, out);
    if (rc) return rc;
    trie_foreach(t, walk_key, &c);
    return counted_finish(&c, trie_count(t), max_suffixes, t0, out, info);
}

/* --- the key copy (rank_gen_keys) -------------------------------------------
 * Two record lists, each in blocks of RANK_GEN_COPY_BLOCK bytes (a record
 * never straddles two blocks): `keys`, the live keys copied slice by slice
 * in id order, and `changes`, the keys changed while the copy ran, in the
 * order of the changes. A record is (score f64, key length u16, deleted u8,
 * the whole key). Keys without a space (no suffix) are in neither list.
 * The changes list is bounded (rank_gen_keys_limit_notes: the server's
 * gen-copy-note-bytes): the keys list is bounded by the trie, but the
 * changes grow with the writes while the copy runs, and a write burst
 * during a long copy must not take the memory; past the bound the note
 * fails with TRIE_EFULL and the caller drops the copy (a copy that misses a
 * change would build a wrong index).
 *
 * The build reads the two merged into the copy of the trie as it was when
 * the last slice was copied, in key order (rank_gen_build_keys): the keys
 * list sorted by key, every key that has a change replaced by its last
 * change (present: its score then; deleted: nothing). Why that is exact: a
 * key with no change while the copy ran was live with one score and one id
 * throughout, or absent throughout, so the id walk copied it exactly once
 * with that score, or never; a key with a change may have been copied with
 * an old score, copied twice (deleted, then added back under a higher id),
 * or not at all (added under an id already passed), but all its copies are
 * dropped and its last change says what it is at the end. */

#define REC_HEAD (sizeof(double) + sizeof(uint16_t) + 1)

typedef struct recs {
    char **blk;
    size_t *used;
    size_t n, cap; /* blocks */
    uint64_t count, bytes;
    uint64_t limit; /* the most bytes (whole blocks) the list may take; 0: none */
} recs;

struct rank_gen_keys {
    recs keys, changes;
    uint32_t next_id; /* the next id to copy */
    int done;         /* every id copied: later changes are not this copy's */
    uint64_t trie_keys;
};

static const char *rec_key(const char *r) { return r + REC_HEAD; }
static size_t rec_len(const char *r) {
    uint16_t l;
    memcpy(&l, r + sizeof(double), sizeof l);
    return l;
}
static double rec_score(const char *r) {
    double w;
    memcpy(&w, r, sizeof w);
    return w;
}
static int rec_deleted(const char *r) { return r[sizeof(double) + sizeof(uint16_t)]; }

static int rec_cmp(const char *a, const char *b) {
    return bytes_cmp(rec_key(a), rec_len(a), rec_key(b), rec_len(b));
}

static int recs_add(recs *l, const char *key, size_t len, double score, int deleted) {
    size_t need = REC_HEAD + len;
    if (!l->n || l->used[l->n - 1] + need > RANK_GEN_COPY_BLOCK) {
        if (l->limit && l->bytes + RANK_GEN_COPY_BLOCK > l->limit) return TRIE_EFULL;
        if (l->n == l->cap) {
            size_t nc = l->cap ? 2 * l->cap : 16;
            char **b = qrealloc(l->blk, nc * sizeof *b);
            if (!b) return TRIE_ENOMEM;
            l->blk = b;
            size_t *u = qrealloc(l->used, nc * sizeof *u);
            if (!u) return TRIE_ENOMEM;
            l->used = u;
            l->cap = nc;
        }
        if (!(l->blk[l->n] = qmalloc(RANK_GEN_COPY_BLOCK))) return TRIE_ENOMEM;
        l->used[l->n++] = 0;
        l->bytes += RANK_GEN_COPY_BLOCK;
    }
    char *r = l->blk[l->n - 1] + l->used[l->n - 1];
    uint16_t l16 = (uint16_t)len;
    memcpy(r, &score, sizeof score);
    memcpy(r + sizeof(double), &l16, sizeof l16);
    r[sizeof(double) + sizeof l16] = (char)(deleted != 0);
    memcpy(r + REC_HEAD, key, len);
    l->used[l->n - 1] += need;
    l->count++;
    return 0;
}

static void recs_free(recs *l) {
    for (size_t i = 0; i < l->n; i++) qfree(l->blk[i]);
    qfree(l->blk);
    qfree(l->used);
}

/* Every record of l into v[] (l->count entries), in list order. */
static void recs_list(const recs *l, const char **v) {
    size_t m = 0;
    for (size_t b = 0; b < l->n; b++)
        for (const char *r = l->blk[b], *end = r + l->used[b]; r < end; r += REC_HEAD + rec_len(r)) v[m++] = r;
}

int rank_gen_keys_begin(rank_gen_keys **out) {
    *out = qcalloc(1, sizeof **out);
    return *out ? 0 : TRIE_ENOMEM;
}

int rank_gen_keys_step(rank_gen_keys *k, const trie *t, uint64_t slice) {
    if (k->done) return 1;
    uint32_t bound = trie_id_bound(t); /* may grow between steps: new keys past it are copied too */
    uint32_t left = k->next_id < bound ? bound - k->next_id : 0;
    uint32_t end = k->next_id + (slice < left ? (uint32_t)slice : left);
    trie_hit h;
    for (; k->next_id < end; k->next_id++) {
        if (!trie_get_id(t, k->next_id, &h) || !memchr(h.text, ' ', h.keylen)) continue;
        if (recs_add(&k->keys, h.text, h.keylen, h.score, 0)) return TRIE_ENOMEM;
    }
    if (k->next_id < bound) return 0;
    k->done = 1;
    k->trie_keys = trie_count(t);
    return 1;
}

int rank_gen_keys_note(rank_gen_keys *k, const char *key, size_t len, int deleted, double score) {
    if (k->done || !memchr(key, ' ', len)) return 0;
    return recs_add(&k->changes, key, len, deleted ? 0 : score, deleted);
}

void rank_gen_keys_limit_notes(rank_gen_keys *k, uint64_t bytes) { k->changes.limit = bytes; }
uint64_t rank_gen_keys_note_bytes(const rank_gen_keys *k) { return k->changes.bytes; }

int rank_gen_keys_copy(const trie *t, rank_gen_keys **out) {
    int rc = rank_gen_keys_begin(out);
    if (!rc && (rc = rank_gen_keys_step(*out, t, UINT64_MAX)) == 1) return 0;
    rank_gen_keys_free(*out);
    *out = NULL;
    return rc ? rc : TRIE_ENOMEM;
}

void rank_gen_keys_free(rank_gen_keys *k) {
    if (!k) return;
    recs_free(&k->keys);
    recs_free(&k->changes);
    qfree(k);
}

uint64_t rank_gen_keys_count(const rank_gen_keys *k) { return k->keys.count; }
uint64_t rank_gen_keys_changes(const rank_gen_keys *k) { return k->changes.count; }
uint64_t rank_gen_keys_bytes(const rank_gen_keys *k) { return k->keys.bytes + k->changes.bytes; }
int rank_gen_keys_done(const rank_gen_keys *k) { return k->done; }

/* --- the merge: the copy in key order, changes applied -----------------------
 * Ids mostly follow key order (a loaded or bulk-built trie numbers its keys
 * in order; live adds take fresh or freed ids), so the copied records are
 * split into the run kept in order (each not below the last kept) and the
 * stragglers, which alone are sorted, then merged back: O(n + s log s) for
 * s stragglers, a full sort only when ids are shuffled. */

typedef struct chg {
    const char *r;
    size_t seq;
} chg;

static int by_rec(const void *pa, const void *pb) {
    return rec_cmp(*(const char *const *)pa, *(const char *const *)pb);
}

static int by_chg(const void *pa, const void *pb) {
    const chg *a = pa, *b = pb;
    int c = rec_cmp(a->r, b->r);
    return c ? c : a->seq < b->seq ? -1 : a->seq > b->seq;
}

typedef struct merged {
    const char **run, **strag; /* the in-order run and the sorted stragglers */
    size_t nrun, nstrag, i, j;
    chg *ch; /* the last change of each changed key, by key */
    size_t nch, c;
} merged;

static int merged_init(merged *m, const rank_gen_keys *k) {
    memset(m, 0, sizeof *m);
    size_t n = k->keys.count, nc = k->changes.count;
    const char **v = qmalloc((n ? n : 1) * sizeof *v);
    const char **s = qmalloc((n ? n : 1) * sizeof *s);
    chg *ch = qmalloc((nc ? nc : 1) * sizeof *ch);
    if (!v || !s || !ch) {
        qfree(v), qfree(s), qfree(ch);
        return TRIE_ENOMEM;
    }
    recs_list(&k->keys, v);
    for (size_t i = 0; i < n; i++) {
        if (!m->nrun || rec_cmp(v[m->nrun - 1], v[i]) <= 0) v[m->nrun++] = v[i];
        else s[m->nstrag++] = v[i];
    }
    qsort(s, m->nstrag, sizeof *s, by_rec);
    size_t seq = 0;
    for (size_t b = 0; b < k->changes.n; b++)
        for (const char *r = k->changes.blk[b], *end = r + k->changes.used[b]; r < end; r += REC_HEAD + rec_len(r))
            ch[seq] = (chg){r, seq}, seq++;
    qsort(ch, nc, sizeof *ch, by_chg);
    size_t u = 0; /* keep the last change of each key */
    for (size_t i = 0; i < nc; i++) {
        if (u && !rec_cmp(ch[u - 1].r, ch[i].r)) ch[u - 1] = ch[i];
        else ch[u++] = ch[i];
    }
    m->run = v, m->strag = s, m->ch = ch, m->nch = u;
    return 0;
}

static void merged_free(merged *m) {
    qfree(m->run);
    qfree(m->strag);
    qfree(m->ch);
}

/* The next record of the final key set, in key order, or NULL at the end. */
static const char *merged_next(merged *m) {
    for (;;) {
        int from_run = m->i < m->nrun && (m->j == m->nstrag || rec_cmp(m->run[m->i], m->strag[m->j]) <= 0);
        const char *r = from_run ? m->run[m->i] : m->j < m->nstrag ? m->strag[m->j] : NULL;
        if (m->c < m->nch && (!r || rec_cmp(m->ch[m->c].r, r) < 0)) { /* a changed key before r */
            const char *x = m->ch[m->c++].r;
            if (!rec_deleted(x)) return x;
            continue;
        }
        if (!r) return NULL;
        if (from_run) m->i++;
        else m->j++;
        if (m->c < m->nch && !rec_cmp(m->ch[m->c].r, r)) continue; /* changed: its change stands for it */
        return r;
    }
}

int rank_gen_build_keys(const rank_gen_keys *k, uint64_t max_suffixes, uint64_t max_words, const atomic_int *cancel,
                        rank_gen **out, rank_gen_info *info) {
    uint64_t t0 = qtime_ns();
    counter c;
    int rc = counter_start(&c, max_suffixes, max_words, out);
    if (rc) return rc;
    merged m;
    if (merged_init(&m, k)) {
        counter_free(&c);
        return TRIE_ENOMEM;
    }
    uint64_t seen = 0;
    for (const char *r; !c.oom && (r = merged_next(&m));) {
        if (cancel && seen++ % RANK_GEN_CANCEL_EVERY == 0 && atomic_load_explicit(cancel, memory_order_relaxed)) {
            merged_free(&m);
            counter_free(&c);
            return RANK_GEN_CANCELLED;
        }
        count_tail(&c, rec_key(r), rec_len(r), rec_score(r));
    }
    merged_free(&m);
    return counted_finish(&c, k->trie_keys, max_suffixes, t0, out, info);
}

void rank_gen_free(rank_gen *g) {
    if (!g) return;
    if (g->words) {
        counter_free(g->words);
        qfree(g->words);
    }
    trie_free(g->t);
    qfree(g);
}

int rank_gen_knows(const rank_gen *g, const char *w, size_t len) { return !g->words || counter_has(g->words, w, len); }

const trie *rank_gen_trie(const rank_gen *g) { return g->t; }

size_t rank_gen_complete(const rank_gen *g, const char *p, size_t plen, unsigned max, trie_hit *scratch,
                         rank_gen_cand *out) {
    if (!g || !max) return 0;
    if (max > RANK_MAX_GEN_CANDS) max = RANK_MAX_GEN_CANDS;
    /* word starts: a word starts after a space (the last one may be empty) */
    size_t st[RANK_GEN_MAX_KEPT + 1];
    size_t ns = 0;
    for (size_t i = plen; i-- > 0;) {
        if (p[i] != ' ') continue;
        if (i + 1 < plen && p[i + 1] == ' ') continue; /* not normalized: no word here */
        if (ns == RANK_GEN_MAX_KEPT) break;
        st[ns++] = i + 1; /* newest (rightmost) first: most words kept first */
    }
    /* the first complete word the index does not know starts at u: a split
     * at s keeps the words before s, so those with s > u keep an unknown word */
    size_t u = plen;
    for (size_t i = 0; i < plen && u == plen;) {
        if (p[i] == ' ') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < plen && p[j] != ' ') j++;
        if (j < plen && !rank_gen_knows(g, p + i, j - i)) u = i; /* complete (a space follows) and unknown */
        i = j;
    }
    size_t n = 0;
    for (size_t w = 0; w < ns && n < max; w++) {
        size_t s = st[w];
        int unknown = s > u;
        /* words kept: the words before s */
        uint32_t kept = 0;
        for (size_t i = 0; i < s; i++)
            if (p[i] != ' ' && (i == 0 || p[i - 1] == ' ')) kept++;
        if (!kept) continue;
        /* max hits: at most n of them repeat a text already made */
        int nh = trie_topk(g->t, p + s, plen - s, max, scratch);
        for (int h = 0; h < nh && n < max; h++) {
            const trie_hit *x = &scratch[h];
            size_t len = s + x->keylen;
            if (len > TRIE_MAX_KEY) continue;
            rank_gen_cand *o = &out[n];
            memcpy(o->text, p, s);
            memcpy(o->text + s, trie_hit_key(x), x->keylen);
            int dup = 0;
            for (size_t j = 0; j < n && !dup; j++) dup = out[j].len == len && !memcmp(out[j].text, o->text, len);
            if (dup) continue;
            o->len = (uint32_t)len;
            o->kept = kept;
            o->sf = x->score;
            o->unknown = (uint8_t)unknown;
            n++;
        }
    }
    return n;
}
