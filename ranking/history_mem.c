/* history_mem.c -- rank_history: per-user query history and sessions (see
 * history_mem.h for the contract).
 *
 * Layout:
 *   rank_history
 *     users: open-addressing table of rank_huser* (linear probing on the
 *            user id's hash; backward-shift deletion, no tombstones); its size
 *            is a power of two kept at most half full.
 *     lru:   doubly linked list of users, most recently active at the head.
 *   rank_huser
 *     e[0..n):   dense entries; each query's bytes are one allocation owned
 *                by the entry. Deleting entry i moves e[n-1] into i.
 *     slot[]:    open-addressing table of (entry index + 1), 0 = empty,
 *                power of two, at most half full; same probing as users.
 *     ring[]:    the session's last session_len accepts, ring[(head - k) mod
 *                session_len] is the k-th newest; sn of them are valid.
 *
 * Invariants: every live entry is reachable from exactly one slot and the
 * probe sequence from its hash to its slot has no empty slot; the same for
 * users; h->bytes is the sum of every allocation the history made.
 * Allocation failure anywhere in accept leaves the history as it was: all
 * allocations an accept needs (grown tables, copies) are made before the
 * first change.
 */
#include "ranking/history_mem.h"

#include <string.h>

#include "common/alloc.h"

typedef struct sess_slot {
    char *q; /* owned copy */
    uint32_t len;
    int64_t t;
} sess_slot;

typedef struct hentry {
    rank_hentry pub; /* pub.q == own */
    char *own;       /* the query's bytes, owned */
    uint64_t hash;
} hentry;

struct rank_huser {
    char *id;
    uint32_t idlen;
    uint64_t hash;
    hentry *e;
    uint32_t n, cap;
    uint32_t *slot;
    uint32_t nslot; /* power of two, or 0 before the first entry */
    sess_slot *ring;
    uint32_t head, sn;
    int64_t last_t;
    rank_huser *prev, *next;
};

struct rank_history {
    rank_history_opts o;
    rank_huser **ut; /* user table */
    uint32_t nut;    /* power of two */
    uint64_t nusers;
    rank_huser *lru_head, *lru_tail;
    rank_history_stat st;
};

/* FNV-1a, then a finalizer so that low bits mix well for power-of-two
 * tables. */
static uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static void *hmalloc(rank_history *h, size_t n) {
    void *p = qmalloc(n);
    if (p) h->st.bytes += n;
    return p;
}
static void hfree(rank_history *h, void *p, size_t n) {
    if (!p) return;
    h->st.bytes -= n;
    qfree(p);
}

const char *rank_history_strerror(int err) {
    switch (err) {
    case RANK_HIST_OK: return "ok";
    case RANK_HIST_ENOMEM: return "out of memory";
    case RANK_HIST_EINVAL: return "empty user or query";
    case RANK_HIST_ETOOLONG: return "user or query too long";
    default: return "unknown history error";
    }
}

void rank_history_opts_default(rank_history_opts *o) {
    o->max_users = RANK_HIST_DEFAULT_MAX_USERS;
    o->max_queries = RANK_HIST_DEFAULT_MAX_QUERIES;
    o->session_len = RANK_HIST_DEFAULT_SESSION_LEN;
    o->session_gap = RANK_HIST_DEFAULT_SESSION_GAP;
}

rank_history *rank_history_new(const rank_history_opts *opts) {
    rank_history_opts o;
    if (opts)
        o = *opts;
    else
        rank_history_opts_default(&o);
    if (o.session_len == 0 || o.session_gap <= 0) return NULL;
    rank_history *h = qcalloc(1, sizeof *h);
    if (!h) return NULL;
    h->o = o;
    h->nut = 16;
    h->ut = qcalloc(h->nut, sizeof *h->ut);
    if (!h->ut) {
        qfree(h);
        return NULL;
    }
    h->st.bytes = sizeof *h + h->nut * sizeof *h->ut;
    return h;
}

static void user_free(rank_history *h, rank_huser *u) {
    for (uint32_t i = 0; i < u->n; i++) hfree(h, u->e[i].own, u->e[i].pub.len);
    for (uint32_t i = 0; i < u->sn; i++) {
        sess_slot *s = &u->ring[(u->head + h->o.session_len - i) % h->o.session_len];
        hfree(h, s->q, s->len);
    }
    hfree(h, u->ring, h->o.session_len * sizeof *u->ring);
    hfree(h, u->e, (size_t)u->cap * sizeof *u->e);
    hfree(h, u->slot, (size_t)u->nslot * sizeof *u->slot);
    hfree(h, u->id, u->idlen);
    hfree(h, u, sizeof *u);
}

void rank_history_free(rank_history *h) {
    if (!h) return;
    for (rank_huser *u = h->lru_head, *next; u; u = next) {
        next = u->next;
        user_free(h, u);
    }
    qfree(h->ut);
    qfree(h);
}

/* --- user table ------------------------------------------------------------ */

static uint32_t user_find_slot(const rank_history *h, const char *id, size_t len, uint64_t hash) {
    uint32_t mask = h->nut - 1;
    for (uint32_t i = (uint32_t)hash & mask;; i = (i + 1) & mask) {
        rank_huser *u = h->ut[i];
        if (!u || (u->hash == hash && u->idlen == len && !memcmp(u->id, id, len))) return i;
    }
}

const rank_huser *rank_history_user(const rank_history *h, const char *user, size_t ulen) {
    if (!ulen || ulen > RANK_HIST_MAX_USER) return NULL;
    return h->ut[user_find_slot(h, user, ulen, hash_bytes(user, ulen))];
}

static int user_table_grow(rank_history *h) {
    uint32_t n = h->nut * 2;
    rank_huser **t = qcalloc(n, sizeof *t);
    if (!t) return RANK_HIST_ENOMEM;
    for (uint32_t i = 0; i < h->nut; i++) {
        rank_huser *u = h->ut[i];
        if (!u) continue;
        uint32_t j = (uint32_t)u->hash & (n - 1);
        while (t[j]) j = (j + 1) & (n - 1);
        t[j] = u;
    }
    qfree(h->ut);
    h->st.bytes += (uint64_t)(n - h->nut) * sizeof *t;
    h->ut = t;
    h->nut = n;
    return RANK_HIST_OK;
}

/* Backward-shift deletion of the user at slot i. */
static void user_table_del(rank_history *h, uint32_t i) {
    uint32_t mask = h->nut - 1;
    h->ut[i] = NULL;
    for (uint32_t j = (i + 1) & mask; h->ut[j]; j = (j + 1) & mask) {
        uint32_t home = (uint32_t)h->ut[j]->hash & mask;
        /* Move j back to i when its home is not in the cyclic range (i, j]. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            h->ut[i] = h->ut[j];
            h->ut[j] = NULL;
            i = j;
        }
    }
}

static void lru_unlink(rank_history *h, rank_huser *u) {
    if (u->prev) u->prev->next = u->next;
    else h->lru_head = u->next;
    if (u->next) u->next->prev = u->prev;
    else h->lru_tail = u->prev;
    u->prev = u->next = NULL;
}

static void lru_push_front(rank_history *h, rank_huser *u) {
    u->prev = NULL;
    u->next = h->lru_head;
    if (h->lru_head) h->lru_head->prev = u;
    h->lru_head = u;
    if (!h->lru_tail) h->lru_tail = u;
}

static void evict_user(rank_history *h, rank_huser *u) {
    user_table_del(h, user_find_slot(h, u->id, u->idlen, u->hash));
    lru_unlink(h, u);
    h->nusers--;
    h->st.entries -= u->n;
    h->st.evicted_users++;
    user_free(h, u);
}

/* --- entry table ----------------------------------------------------------- */

static uint32_t entry_find_slot(const rank_huser *u, const char *q, size_t len, uint64_t hash) {
    uint32_t mask = u->nslot - 1;
    for (uint32_t i = (uint32_t)hash & mask;; i = (i + 1) & mask) {
        uint32_t s = u->slot[i];
        if (!s) return i;
        const hentry *e = &u->e[s - 1];
        if (e->hash == hash && e->pub.len == len && !memcmp(e->pub.q, q, len)) return i;
    }
}

static hentry *entry_get(const rank_huser *u, const char *q, size_t qlen, uint64_t hash) {
    if (!u->nslot) return NULL;
    uint32_t s = u->slot[entry_find_slot(u, q, qlen, hash)];
    return s ? &u->e[s - 1] : NULL;
}

const rank_hentry *rank_huser_get(const rank_huser *u, const char *q, size_t qlen) {
    if (!u || qlen > RANK_HIST_MAX_QUERY) return NULL;
    const hentry *e = entry_get(u, q, qlen, hash_bytes(q, qlen));
    return e ? &e->pub : NULL;
}

static void entry_slot_del(rank_huser *u, uint32_t i) {
    uint32_t mask = u->nslot - 1;
    u->slot[i] = 0;
    for (uint32_t j = (i + 1) & mask; u->slot[j]; j = (j + 1) & mask) {
        uint32_t home = (uint32_t)u->e[u->slot[j] - 1].hash & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            u->slot[i] = u->slot[j];
            u->slot[j] = 0;
            i = j;
        }
    }
}

/* Rebuilds the slot table into a new array of n slots (power of two). */
static void entry_rehash(rank_huser *u, uint32_t *t, uint32_t n) {
    memset(t, 0, (size_t)n * sizeof *t);
    for (uint32_t k = 0; k < u->n; k++) {
        uint32_t j = (uint32_t)u->e[k].hash & (n - 1);
        while (t[j]) j = (j + 1) & (n - 1);
        t[j] = k + 1;
    }
}

/* Forgets the entry with the oldest last time (ties: lowest index). */
static void evict_oldest_entry(rank_history *h, rank_huser *u) {
    uint32_t victim = 0;
    for (uint32_t k = 1; k < u->n; k++)
        if (u->e[k].pub.last < u->e[victim].pub.last) victim = k;
    hentry *v = &u->e[victim];
    entry_slot_del(u, entry_find_slot(u, v->pub.q, v->pub.len, v->hash));
    hfree(h, v->own, v->pub.len);
    uint32_t last = u->n - 1;
    if (victim != last) {
        /* Re-point the slot of the moved entry. */
        hentry *m = &u->e[last];
        uint32_t s = entry_find_slot(u, m->pub.q, m->pub.len, m->hash);
        u->slot[s] = victim + 1;
        *v = *m;
    }
    u->n--;
    h->st.entries--;
    h->st.evicted_entries++;
}

/* --- accept ---------------------------------------------------------------- */

int rank_history_accept(rank_history *h, const char *user, size_t ulen, const char *q, size_t qlen,
                        int64_t t) {
    if (!ulen || !qlen) return RANK_HIST_EINVAL;
    if (ulen > RANK_HIST_MAX_USER || qlen > RANK_HIST_MAX_QUERY) return RANK_HIST_ETOOLONG;
    uint64_t uh = hash_bytes(user, ulen), qh = hash_bytes(q, qlen);

    /* Phase 1: allocate everything this accept may need. */
    if ((h->nusers + 1) * 2 > h->nut && user_table_grow(h)) return RANK_HIST_ENOMEM;
    uint32_t us = user_find_slot(h, user, ulen, uh);
    rank_huser *u = h->ut[us], *nu = NULL;
    if (!u) {
        nu = hmalloc(h, sizeof *nu);
        if (!nu) return RANK_HIST_ENOMEM;
        memset(nu, 0, sizeof *nu);
        nu->id = hmalloc(h, ulen);
        nu->ring = hmalloc(h, h->o.session_len * sizeof *nu->ring);
        if (!nu->id || !nu->ring) {
            hfree(h, nu->id, ulen);
            hfree(h, nu->ring, h->o.session_len * sizeof *nu->ring);
            hfree(h, nu, sizeof *nu);
            return RANK_HIST_ENOMEM;
        }
        memcpy(nu->id, user, ulen);
        nu->idlen = (uint32_t)ulen;
        nu->hash = uh;
        nu->last_t = t;
        u = nu;
    }
    hentry *found = entry_get(u, q, qlen, qh);
    char *qcopy = NULL, *scopy = NULL;
    uint32_t *newslot = NULL, newnslot = 0;
    hentry *newe = NULL;
    uint32_t newcap = 0;
    int need_entry = !found;
    int evict_entry = need_entry && h->o.max_queries && u->n >= h->o.max_queries;
    if (need_entry) {
        qcopy = hmalloc(h, qlen);
        if (!qcopy) goto oom;
        memcpy(qcopy, q, qlen);
        if (!evict_entry && u->n == u->cap) {
            newcap = u->cap ? u->cap * 2 : 8;
            if (h->o.max_queries && newcap > h->o.max_queries) newcap = h->o.max_queries;
            newe = hmalloc(h, (size_t)newcap * sizeof *newe);
            if (!newe) goto oom;
        }
        if (!evict_entry && (u->n + 1) * 2 > u->nslot) {
            newnslot = u->nslot ? u->nslot * 2 : 16;
            newslot = hmalloc(h, (size_t)newnslot * sizeof *newslot);
            if (!newslot) goto oom;
        }
    }
    scopy = hmalloc(h, qlen);
    if (!scopy) goto oom;
    memcpy(scopy, q, qlen);

    /* Phase 2: commit; nothing below can fail. */
    if (nu) {
        h->ut[us] = nu;
        h->nusers++;
        h->st.users++;
        lru_push_front(h, nu);
        if (h->o.max_users && h->nusers > h->o.max_users) {
            evict_user(h, h->lru_tail); /* never nu: it is at the head */
            h->st.users--;
        }
    } else {
        lru_unlink(h, u);
        lru_push_front(h, u);
    }
    if (need_entry) {
        if (evict_entry) evict_oldest_entry(h, u);
        if (newe) {
            if (u->n) memcpy(newe, u->e, (size_t)u->n * sizeof *newe);
            hfree(h, u->e, (size_t)u->cap * sizeof *u->e);
            u->e = newe;
            u->cap = newcap;
        }
        hentry *e = &u->e[u->n++];
        e->own = qcopy;
        e->pub.q = qcopy;
        e->pub.len = (uint32_t)qlen;
        e->pub.count = 1;
        e->pub.last = t;
        e->hash = qh;
        if (newslot) {
            entry_rehash(u, newslot, newnslot);
            hfree(h, u->slot, (size_t)u->nslot * sizeof *u->slot);
            u->slot = newslot;
            u->nslot = newnslot;
        } else {
            u->slot[entry_find_slot(u, q, qlen, qh)] = u->n;
        }
        h->st.entries++;
    } else {
        if (found->pub.count < UINT32_MAX) found->pub.count++;
        if (t > found->pub.last) found->pub.last = t;
    }
    /* Session ring. */
    uint32_t L = h->o.session_len;
    if (!nu && t - u->last_t >= h->o.session_gap) {
        for (uint32_t i = 0; i < u->sn; i++) {
            sess_slot *s = &u->ring[(u->head + L - i) % L];
            hfree(h, s->q, s->len);
        }
        u->sn = 0;
    }
    if (u->sn == L) {
        sess_slot *old = &u->ring[(u->head + 1) % L]; /* the oldest */
        hfree(h, old->q, old->len);
        u->sn--;
    }
    u->head = (u->head + 1) % L;
    u->ring[u->head] = (sess_slot){scopy, (uint32_t)qlen, t};
    u->sn++;
    if (t > u->last_t) u->last_t = t;
    h->st.accepts++;
    return RANK_HIST_OK;

oom:
    hfree(h, qcopy, qlen);
    hfree(h, newe, (size_t)newcap * sizeof *newe);
    hfree(h, newslot, (size_t)newnslot * sizeof *newslot);
    if (nu) {
        hfree(h, nu->id, ulen);
        hfree(h, nu->ring, h->o.session_len * sizeof *nu->ring);
        hfree(h, nu, sizeof *nu);
    }
    return RANK_HIST_ENOMEM;
}

/* --- reads ----------------------------------------------------------------- */

uint32_t rank_huser_size(const rank_huser *u) { return u ? u->n : 0; }

const rank_hentry *rank_huser_entry(const rank_huser *u, uint32_t i) {
    return u && i < u->n ? &u->e[i].pub : NULL;
}

size_t rank_huser_prefix(const rank_huser *u, const char *p, size_t plen, const rank_hentry **out,
                         size_t cap) {
    size_t n = 0;
    if (!u) return 0;
    for (uint32_t i = 0; i < u->n; i++) {
        const rank_hentry *e = &u->e[i].pub;
        if (e->len < plen || memcmp(e->q, p, plen)) continue;
        if (n < cap) out[n] = e;
        n++;
    }
    return n;
}

int64_t rank_huser_last_time(const rank_huser *u) { return u ? u->last_t : 0; }

size_t rank_huser_session(const rank_history *h, const rank_huser *u, int64_t now, rank_hsess *out,
                          size_t cap) {
    if (!u) return 0;
    uint32_t L = h->o.session_len;
    size_t n = 0;
    for (uint32_t i = 0; i < u->sn && n < cap; i++) {
        const sess_slot *s = &u->ring[(u->head + L - i) % L];
        if (s->t > now) continue;
        if (n == 0 && now - s->t >= h->o.session_gap) return 0;
        out[n++] = (rank_hsess){s->q, s->len, s->t};
    }
    return n;
}

void rank_history_stats(const rank_history *h, rank_history_stat *s) { *s = h->st; }
