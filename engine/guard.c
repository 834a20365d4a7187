/* guard.c -- ACCEPT rate limits, distinct-actor popularity and the online
 * learning budget (contract and layout in guard.h).
 *
 * Pair sets store fingerprints with the value 0 meaning "empty" (a real
 * fingerprint of 0 is stored as 1: one more in 2^64 collisions). Linear
 * probing; a table is sized to twice its entry bound, so probes stay short
 * and no deletion is needed: a generation is cleared whole when it rotates.
 */
#include "engine/guard.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <xxhash.h>

#include "common/alloc.h"

typedef struct actor {
    uint64_t fp; /* 0 = free */
    int64_t seen_ms;
    uint64_t learn_window; /* window number learn_n counts in */
    uint32_t learn_n;
    guard_bucket b;
} actor;

typedef struct pairset {
    uint64_t *slot;
    uint16_t *users; /* pmask + 1 counters, in 64-byte blocks of 32 */
    size_t n;
    int64_t start_ms;
} pairset;

struct guard {
    guard_opts o;
    size_t pmask; /* pair table slots - 1 */
    pairset cur, prev;
    actor *a;
    size_t amask;
    guard_stat st;
};

void guard_opts_default(guard_opts *o) {
    o->window_s = GUARD_DEFAULT_WINDOW_S;
    o->user_rate = GUARD_DEFAULT_USER_RATE;
    o->user_burst = GUARD_DEFAULT_USER_BURST;
    o->conn_rate = GUARD_DEFAULT_CONN_RATE;
    o->conn_burst = GUARD_DEFAULT_CONN_BURST;
    o->learn_max = GUARD_DEFAULT_LEARN_MAX;
    o->learn_users = GUARD_DEFAULT_LEARN_USERS;
    o->pairs = GUARD_DEFAULT_PAIRS;
    o->actors = GUARD_DEFAULT_ACTORS;
}

/* The tables are read at random, one cache line per probe: on 4 KiB pages
 * nearly every probe also misses the TLB (measured: 2.8 us per ACCEPT with
 * the default sizes on this project's VMs, against 0.34 us with tables that
 * fit the caches). So each table is its own mapping, 2 MiB aligned, with
 * MADV_HUGEPAGE asked for (transparent huge pages in "madvise" mode, the
 * Debian default): zeroed by the kernel, returned with munmap. */
#define HUGE_PAGE (2u << 20)

static void *table_new(size_t bytes) {
    size_t len = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    unsigned char *p = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    size_t lead = (HUGE_PAGE - ((uintptr_t)p & (HUGE_PAGE - 1))) & (HUGE_PAGE - 1);
    if (lead) munmap(p, lead);
    munmap(p + lead + len, HUGE_PAGE - lead);
    madvise(p + lead, len, MADV_HUGEPAGE); /* a hint: without it the tables still work */
    return p + lead;
}

static void table_free(void *p, size_t bytes) {
    if (p) munmap(p, (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1));
}

static size_t pow2_at_least(uint64_t n) {
    size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

guard *guard_new(const guard_opts *o, char *err, size_t errlen) {
    if (!o->window_s || !o->user_burst || !o->conn_burst || !o->learn_users || !o->pairs ||
        o->pairs > GUARD_MAX_PAIRS || !o->actors || o->actors > GUARD_MAX_ACTORS) {
        snprintf(err, errlen,
                 "accept guard: window, bursts, learn users, pairs and actors must be >= 1 (pairs <= %u, actors <= %u)",
                 GUARD_MAX_PAIRS, GUARD_MAX_ACTORS);
        return NULL;
    }
    guard *g = qcalloc(1, sizeof *g);
    if (!g) goto oom;
    g->o = *o;
    size_t ps = pow2_at_least(o->pairs * 2 < 32 ? 32 : o->pairs * 2);
    g->pmask = ps - 1;
    g->cur.slot = table_new(ps * sizeof(uint64_t));
    g->prev.slot = table_new(ps * sizeof(uint64_t));
    g->cur.users = table_new(ps * sizeof(uint16_t));
    g->prev.users = table_new(ps * sizeof(uint16_t));
    size_t as = pow2_at_least(o->actors);
    g->amask = as - 1;
    g->a = table_new(as * sizeof(actor));
    if (!g->cur.slot || !g->prev.slot || !g->cur.users || !g->prev.users || !g->a) goto oom;
    g->cur.start_ms = INT64_MIN; /* started by the first ACCEPT */
    g->st.bytes = 2 * ps * (sizeof(uint64_t) + sizeof(uint16_t)) + as * sizeof(actor) + sizeof *g;
    return g;
oom:
    snprintf(err, errlen, "accept guard: out of memory (accept-pairs %llu, accept-actors %llu)",
             (unsigned long long)o->pairs, (unsigned long long)o->actors);
    guard_free(g);
    return NULL;
}

void guard_free(guard *g) {
    if (!g) return;
    size_t ps = g->pmask + 1;
    table_free(g->cur.slot, ps * sizeof(uint64_t));
    table_free(g->prev.slot, ps * sizeof(uint64_t));
    table_free(g->cur.users, ps * sizeof(uint16_t));
    table_free(g->prev.users, ps * sizeof(uint16_t));
    table_free(g->a, (g->amask + 1) * sizeof(actor));
    qfree(g);
}

/* Refills b at rate/s up to burst; 1 when it holds a token (rate 0: always). */
static int refill(guard_bucket *b, uint64_t rate, uint64_t burst, int64_t now_ms) {
    if (!rate) return 1;
    if (!b->init) {
        b->init = 1;
        b->tokens = (double)burst;
        b->last_ms = now_ms;
    } else if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * (double)rate / 1000.0;
        if (b->tokens > (double)burst) b->tokens = (double)burst;
        b->last_ms = now_ms;
    }
    return b->tokens >= 1.0;
}

/* 1 = fp is in s; else, when add, stores it. */
static int pair_find(const guard *g, pairset *s, uint64_t fp, int add) {
    for (size_t i = fp & g->pmask;; i = (i + 1) & g->pmask) {
        if (s->slot[i] == fp) return 1;
        if (!s->slot[i]) {
            if (add) {
                s->slot[i] = fp;
                s->n++;
            }
            return 0;
        }
    }
}

static void rotate(guard *g, int64_t now_ms, int early) {
    pairset t = g->prev;
    g->prev = g->cur;
    memset(t.slot, 0, (g->pmask + 1) * sizeof(uint64_t));
    memset(t.users, 0, (g->pmask + 1) * sizeof(uint16_t));
    t.n = 0;
    t.start_ms = now_ms;
    g->cur = t;
    g->st.rotations++;
    g->st.early_rotations += (uint64_t)early;
}

/* Counts one more actor for the query whose hash is qh in the current
 * generation; returns the estimate over both generations. */
static uint32_t users_add(guard *g, uint64_t qh) {
    /* a blocked count-min: both counters in one 64-byte block of 32 */
    size_t base = (size_t)qh & g->pmask & ~(size_t)31, i0 = base + ((qh >> 40) & 31), i1 = base + ((qh >> 50) & 31);
    if (i1 == i0) i1 = base + ((i0 + 1) & 31);
    if (g->cur.users[i0] < UINT16_MAX) g->cur.users[i0]++;
    if (g->cur.users[i1] < UINT16_MAX) g->cur.users[i1]++;
    uint32_t a = (uint32_t)g->cur.users[i0] + g->prev.users[i0], b = (uint32_t)g->cur.users[i1] + g->prev.users[i1];
    return a < b ? a : b;
}

static actor *actor_of(guard *g, uint64_t fp, int64_t now_ms) {
    actor *victim = NULL;
    for (size_t k = 0, i = fp & g->amask; k < GUARD_PROBE && k <= g->amask; k++, i = (i + 1) & g->amask) {
        actor *a = &g->a[i];
        if (a->fp == fp) return a;
        if (!a->fp) {
            victim = a;
            break;
        }
        if (!victim || a->seen_ms < victim->seen_ms) victim = a;
    }
    if (victim->fp) g->st.actor_evictions++;
    memset(victim, 0, sizeof *victim);
    victim->fp = fp;
    victim->seen_ms = now_ms;
    return victim;
}

guard_rc guard_accept(guard *g, guard_bucket *conn, const char *actor_id, size_t alen, const char *q, size_t qlen,
                      int64_t now_ms, guard_verdict *v) {
    uint64_t afp = XXH3_64bits(actor_id, alen);
    if (!afp) afp = 1;
    actor *a = actor_of(g, afp, now_ms);
    a->seen_ms = now_ms;
    /* both buckets are asked before either pays: a refused ACCEPT costs nothing */
    if (!refill(&a->b, g->o.user_rate, g->o.user_burst, now_ms)) {
        g->st.limited_actor++;
        return GUARD_LIMIT_ACTOR;
    }
    if (conn && !refill(conn, g->o.conn_rate, g->o.conn_burst, now_ms)) {
        g->st.limited_conn++;
        return GUARD_LIMIT_CONN;
    }
    if (g->o.user_rate) a->b.tokens -= 1.0;
    if (conn && g->o.conn_rate) conn->tokens -= 1.0;
    int64_t window_ms = (int64_t)(g->o.window_s * 1000);
    if (g->cur.start_ms == INT64_MIN) g->cur.start_ms = now_ms;
    else if (now_ms - g->cur.start_ms >= window_ms) rotate(g, now_ms, 0);
    uint64_t qh = XXH3_64bits(q, qlen);
    uint64_t pfp = qh ^ (afp * 0x9E3779B97F4A7C15ull); /* (actor, query): both hashes mixed */
    pfp ^= pfp >> 29;
    if (!pfp) pfp = 1;
    int repeat = pair_find(g, &g->prev, pfp, 0) || pair_find(g, &g->cur, pfp, 1);
    if (!repeat && g->cur.n >= g->o.pairs) rotate(g, now_ms, 1); /* the new pair moved with cur to prev */
    v->credit = !repeat;
    v->learn = 0;
    if (repeat) {
        g->st.repeats++;
        return GUARD_OK;
    }
    g->st.credited++;
    if (users_add(g, qh) < g->o.learn_users) {
        g->st.learn_waiting++;
        return GUARD_OK;
    }
    uint64_t w = (uint64_t)(now_ms < 0 ? 0 : now_ms) / (uint64_t)window_ms;
    if (a->learn_window != w) a->learn_window = w, a->learn_n = 0;
    if (a->learn_n < g->o.learn_max) {
        a->learn_n++;
        v->learn = 1;
    } else g->st.learn_capped++;
    return GUARD_OK;
}

void guard_stats(const guard *g, guard_stat *s) { *s = g->st; }

const guard_opts *guard_options(const guard *g) { return &g->o; }
