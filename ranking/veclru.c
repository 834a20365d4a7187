/* veclru.c -- byte-bounded LRU of query -> vector (see veclru.h).
 *
 * Entry: [ce header][dims floats, only when hasvec][key bytes]. Invariants:
 *   - every entry is in exactly one bucket chain and on the LRU list;
 *   - bytes == nbuckets * sizeof(ce *) + sum of entry_bytes(e) <= max_bytes
 *     after every put (the table itself is counted and always fits: its size
 *     is capped at max_bytes / 4);
 *   - lru_head is the most recently used, lru_tail the next to evict.
 */
#include "ranking/veclru.h"

#include <string.h>

#include "common/alloc.h"
#include "ranking/embed.h"

typedef struct ce {
    struct ce *hnext, *prev, *next;
    uint64_t h;
    uint32_t klen;
    uint32_t hasvec;
    float vec[]; /* dims floats when hasvec, then the key */
} ce;

struct rank_veclru {
    ce **b;
    size_t nb; /* power of two */
    ce *lru_head, *lru_tail;
    uint32_t dims;
    rank_veclru_stat st;
};

#define INITIAL_BUCKETS 1024

static size_t entry_bytes(uint32_t dims, int hasvec, size_t klen) {
    return sizeof(ce) + (hasvec ? dims * sizeof(float) : 0) + klen;
}
static const char *ekey(const rank_veclru *c, const ce *e) {
    return (const char *)(e->vec + (e->hasvec ? c->dims : 0));
}

rank_veclru *rank_veclru_new(size_t max_bytes, uint32_t dims) {
    if (max_bytes < RANK_VECLRU_MIN_BYTES || !dims || dims > RANK_VECLRU_MAX_DIMS) return NULL;
    rank_veclru *c = qcalloc(1, sizeof *c);
    if (!c) return NULL;
    c->nb = INITIAL_BUCKETS;
    while (c->nb * sizeof(ce *) > max_bytes / 4) c->nb /= 2;
    c->b = qcalloc(c->nb, sizeof *c->b);
    if (!c->b) {
        qfree(c);
        return NULL;
    }
    c->dims = dims;
    c->st.max_bytes = max_bytes;
    c->st.bytes = c->nb * sizeof(ce *);
    return c;
}

static void drop_all(rank_veclru *c) {
    ce *e = c->lru_head;
    while (e) {
        ce *n = e->next;
        qfree(e);
        e = n;
    }
    c->lru_head = c->lru_tail = NULL;
    memset(c->b, 0, c->nb * sizeof *c->b);
    c->st.entries = c->st.negatives = 0;
    c->st.bytes = c->nb * sizeof(ce *);
}

void rank_veclru_free(rank_veclru *c) {
    if (!c) return;
    drop_all(c);
    qfree(c->b);
    qfree(c);
}

int rank_veclru_reset(rank_veclru *c, uint32_t dims) {
    if (!dims || dims > RANK_VECLRU_MAX_DIMS) return RANK_VECLRU_EINVAL;
    drop_all(c);
    c->dims = dims;
    c->st.resets++;
    return 0;
}

uint32_t rank_veclru_dims(const rank_veclru *c) { return c->dims; }

void rank_veclru_stats(const rank_veclru *c, rank_veclru_stat *s) {
    *s = c->st;
    s->dims = c->dims;
}

static void lru_unlink(rank_veclru *c, ce *e) {
    if (e->prev) e->prev->next = e->next;
    else c->lru_head = e->next;
    if (e->next) e->next->prev = e->prev;
    else c->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(rank_veclru *c, ce *e) {
    e->prev = NULL;
    e->next = c->lru_head;
    if (c->lru_head) c->lru_head->prev = e;
    c->lru_head = e;
    if (!c->lru_tail) c->lru_tail = e;
}

static ce **find(rank_veclru *c, uint64_t h, const char *q, size_t len) {
    ce **pp = &c->b[h & (c->nb - 1)];
    while (*pp) {
        ce *e = *pp;
        if (e->h == h && e->klen == len && !memcmp(ekey(c, e), q, len)) return pp;
        pp = &e->hnext;
    }
    return pp;
}

static void remove_entry(rank_veclru *c, ce **pp) {
    ce *e = *pp;
    *pp = e->hnext;
    lru_unlink(c, e);
    c->st.bytes -= entry_bytes(c->dims, (int)e->hasvec, e->klen);
    c->st.entries--;
    if (!e->hasvec) c->st.negatives--;
    qfree(e);
}

int rank_veclru_get(rank_veclru *c, const char *q, size_t len, float *out) {
    if (!len || len > RANK_VECLRU_MAX_KEY) {
        c->st.misses++;
        return -1;
    }
    uint64_t h = rank_emb_hash(q, len, RANK_EMB_FNV_INIT);
    ce *e = *find(c, h, q, len);
    if (!e) {
        c->st.misses++;
        return -1;
    }
    c->st.hits++;
    if (c->lru_head != e) {
        lru_unlink(c, e);
        lru_push(c, e);
    }
    if (!e->hasvec) return 0;
    if (out) memcpy(out, e->vec, c->dims * sizeof(float));
    return 1;
}

/* Doubles the table when it stays within a quarter of the budget. A failed
 * allocation just keeps the longer chains. */
static void maybe_grow(rank_veclru *c) {
    if (c->st.entries < c->nb) return;
    size_t nnb = c->nb * 2;
    size_t extra = (nnb - c->nb) * sizeof(ce *);
    if (nnb * sizeof(ce *) > c->st.max_bytes / 4) return;
    ce **nbk = qcalloc(nnb, sizeof *nbk);
    if (!nbk) return;
    for (size_t i = 0; i < c->nb; i++) {
        ce *e = c->b[i];
        while (e) {
            ce *n = e->hnext;
            ce **slot = &nbk[e->h & (nnb - 1)];
            e->hnext = *slot;
            *slot = e;
            e = n;
        }
    }
    qfree(c->b);
    c->b = nbk;
    c->nb = nnb;
    c->st.bytes += extra;
}

int rank_veclru_put(rank_veclru *c, const char *q, size_t len, const float *vec) {
    if (!len) return RANK_VECLRU_EINVAL;
    if (len > RANK_VECLRU_MAX_KEY) return RANK_VECLRU_ETOOBIG;
    size_t need = entry_bytes(c->dims, vec != NULL, len);
    if (need + c->nb * sizeof(ce *) > c->st.max_bytes) return RANK_VECLRU_ETOOBIG;
    ce *e = qmalloc(need);
    if (!e) return RANK_VECLRU_ENOMEM;
    uint64_t h = rank_emb_hash(q, len, RANK_EMB_FNV_INIT);
    e->h = h;
    e->klen = (uint32_t)len;
    e->hasvec = vec != NULL;
    e->hnext = e->prev = e->next = NULL;
    if (vec) memcpy(e->vec, vec, c->dims * sizeof(float));
    memcpy((char *)(e->vec + (vec ? c->dims : 0)), q, len);
    ce **pp = find(c, h, q, len);
    if (*pp) remove_entry(c, pp);
    while (c->lru_tail && c->st.bytes + need > c->st.max_bytes) {
        ce *t = c->lru_tail;
        remove_entry(c, find(c, t->h, ekey(c, t), t->klen));
        c->st.evictions++;
    }
    pp = &c->b[h & (c->nb - 1)];
    e->hnext = *pp;
    *pp = e;
    lru_push(c, e);
    c->st.bytes += need;
    c->st.entries++;
    c->st.inserts++;
    if (!vec) c->st.negatives++;
    maybe_grow(c);
    if (c->st.bytes > c->st.max_bytes) { /* the table grew: evict back under the bound */
        while (c->lru_tail && c->lru_tail != e && c->st.bytes > c->st.max_bytes) {
            ce *t = c->lru_tail;
            remove_entry(c, find(c, t->h, ekey(c, t), t->klen));
            c->st.evictions++;
        }
    }
    return 0;
}
