/* fuzz_exec_model.h -- the shadow model of fuzz_exec.c (included only there;
 * static functions and state, one translation unit).
 *
 * Keys: key -> (display, score, live, users who accepted it), updated by
 * cmd.c's semantics with the engine's own normalization (norm_key /
 * norm_prefix, as cmd.c calls them) and a copy of cmd.c's display rule (trim
 * ASCII white space, \t..\r become spaces): ADD sets score and display; INCR
 * adds (display only for a new key); DEL removes; ACCEPT as the guard
 * decides (below). Prediction rules: key_norm, prefix_norm, disp_of and
 * id_ok say whether the engine must take or refuse an argument.
 *
 * The ACCEPT guard (engine/guard.h), one fresh guard per input, window far
 * longer than an input (no window rotation). The actor is "u:" + USER, else
 * "a:" + the client's address: the harness's requests come from the eng's
 * own client e->self, address "", so every anonymous ACCEPT is actor "a:"
 * and all share one connection bucket. Predicted exactly:
 *   credit   two generations of (actor, key) pairs, kept per key as two
 *            bitmasks of actors: a pair in either is a repeat (the score is
 *            unchanged); a new pair joins the current one and adds 1, and
 *            when that makes `pairs` entries the generations rotate (the
 *            previous one is forgotten, the current one becomes previous).
 *            An ACCEPT of a key not live (never added, or DELeted) makes it
 *            live with score 1 whatever the verdict (cmd.c eng_accept).
 *   rate     a bucket of rate r > 0 and burst B (the actor's, accept-user-*;
 *            the connection's, accept-conn-*) has a token for the first B
 *            ACCEPTs that take one in the input. Later ones are refused for
 *            certain only while no refill can have given a token: fewer than
 *            1000 * (taken - B + 1) / r ms since its first ACCEPT (the
 *            harness's own clock, read before that request: an upper
 *            bound), and, for an actor, no actor can have been evicted
 *            (which gives it a fresh bucket): at most min(actor slots,
 *            GUARD_PROBE) distinct actors in the input. Otherwise either
 *            outcome is accepted and the model follows the reply. The actor
 *            is asked first: ERR RATE "this user" / "this client address"
 *            (accept-user-rate) needs an actor that may be out of tokens,
 *            "this connection" (accept-conn-rate) an actor that had one and
 *            a connection that may be out. A refused ACCEPT changes nothing
 *            (guard.h: no pair, no history, no token spent --
 *            tests/fuzz/regress/exec/guard-conn-refusal-spends-actor-token
 *            caught guard.c spending the actor's token on a connection
 *            refusal).
 *   counts   guard_stats after every ACCEPT: credited, repeats,
 *            limited_actor, limited_conn, (early) rotations as the model
 *            counted them, actor evictions only when possible and at least
 *            one per actor that found a full table of at most GUARD_PROBE.
 * The online-learning verdict is not observable in replies; it only reaches
 * eng_rank_accept.
 *
 * Top-k: brute() sorts the model's live keys under a prefix as trie.h orders
 * them (score desc, key bytewise asc). check_plain: a plain COMPLETE is
 * exactly that top-k. check_ranked: at most LIMIT items, no key twice, every
 * item matches the normalized prefix and is a live key with its model score,
 * or (USER only) a deleted key that user accepted, shown as its normalized
 * text, score 0 (eng_reply_ranked's history-only candidate); without USER
 * exactly min(LIMIT, candidates, matches) items, all among the model's top
 * `candidates`; with USER at least that many, and a live item outside that
 * top is one the user accepted.
 */
#ifndef QAC_FUZZ_EXEC_MODEL_H
#define QAC_FUZZ_EXEC_MODEL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "engine/cmd.h"
#include "engine/config.h"
#include "engine/guard.h"
#include "text/norm.h"
#include "trie/trie.h"
#include "trie/trie_fuzzy.h"
#include "tests/fuzz/fuzz_exec_reply.h"
#include "tests/fuzz/fuzz_util.h"

#define SH_MAX 2048       /* model entries: <= EX_MAX_CMDS + EX_BUDGET new keys */
#define SH_HASH 4096
#define SH_MAX_USERS 31   /* users tracked one bit each; the rest share bit 31 */
#define SH_MAX_ACTORS 64  /* guard actors per input: one per command at most */

typedef struct str {
    const char *s;
    size_t n;
} str;
#define S_(lit) {lit, sizeof(lit) - 1}

/* --- keys ---------------------------------------------------------------- */

typedef struct sent {
    char key[TRIE_MAX_KEY], disp[TRIE_MAX_KEY];
    uint16_t klen, dlen;
    double score;
    int live;
    uint32_t users;       /* bit per tracked user who accepted the key (ranker history) */
    uint64_t gcur, gprev; /* bit per guard actor with the pair (actor, key) in that generation */
} sent;
static sent sh[SH_MAX];
static size_t nsh;
static int16_t shash[SH_HASH]; /* index + 1, 0 = empty */
static unsigned cands;         /* the ranker's candidates this input */

static uint32_t user_ids_n;
static char user_ids[SH_MAX_USERS][SRV_MAX_ID_LEN];
static size_t user_lens[SH_MAX_USERS];

static uint32_t hkey(const char *k, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)k[i]) * 16777619u;
    return h;
}
static sent *sh_find(const char *k, size_t n) {
    for (uint32_t h = hkey(k, n) & (SH_HASH - 1);; h = (h + 1) & (SH_HASH - 1)) {
        if (!shash[h]) return NULL;
        sent *e = &sh[shash[h] - 1];
        if (e->klen == n && !memcmp(e->key, k, n)) return e;
    }
}
static sent *sh_get(const char *k, size_t n) {
    sent *e = sh_find(k, n);
    if (e) return e;
    if (nsh == SH_MAX) fuzz_fail("harness: model full");
    e = &sh[nsh++];
    memcpy(e->key, k, n);
    e->klen = (uint16_t)n;
    e->dlen = 0;
    e->live = 0;
    e->users = 0;
    e->gcur = e->gprev = 0;
    e->score = 0;
    uint32_t h = hkey(k, n) & (SH_HASH - 1);
    while (shash[h]) h = (h + 1) & (SH_HASH - 1);
    shash[h] = (int16_t)(nsh);
    return e;
}
static int sh_live(const char *k, size_t n) {
    sent *e = sh_find(k, n);
    return e && e->live;
}
static size_t sh_nlive(void) {
    size_t live = 0;
    for (size_t i = 0; i < nsh; i++) live += sh[i].live;
    return live;
}

/* the user's bit (ids are not normalized: bytes) */
static uint32_t user_bit(const char *u, size_t n) {
    for (uint32_t i = 0; i < user_ids_n; i++)
        if (user_lens[i] == n && !memcmp(user_ids[i], u, n)) return 1u << i;
    if (user_ids_n == SH_MAX_USERS) return 1u << 31;
    memcpy(user_ids[user_ids_n], u, n);
    user_lens[user_ids_n] = n;
    return 1u << user_ids_n++;
}
static uint32_t user_bit_peek(const char *u, size_t n) {
    for (uint32_t i = 0; i < user_ids_n; i++)
        if (user_lens[i] == n && !memcmp(user_ids[i], u, n)) return 1u << i;
    return user_ids_n == SH_MAX_USERS ? 1u << 31 : 0;
}

/* --- cmd.c's rules, with the engine's normalizer --------------------------- */

static char nbuf[ENG_NORM_CAP], pbuf[ENG_NORM_CAP], p2buf[ENG_NORM_CAP];
static int key_norm(str s, char *o) { /* length, or -1: the engine refuses the key */
    int n = norm_key(s.s, s.n, o, ENG_NORM_CAP);
    return n <= 0 || n > TRIE_MAX_KEY ? -1 : n;
}
/* Normalized prefix as eng_complete_prepare makes it: length, -1 when longer
 * than any key (empty answer), -2 when refused (error reply). */
static int prefix_norm(str p, char *o) {
    int n = norm_prefix(p.s, p.n, o, ENG_NORM_CAP);
    if (n == NORM_ETOOLONG) return -1;
    return n < 0 ? -2 : n;
}
static char dbuf[TRIE_MAX_KEY + 1];
static int disp_of(str s, size_t *dl) {
    const char *q = s.s;
    size_t len = s.n;
    while (len && (q[0] == ' ' || (q[0] >= '\t' && q[0] <= '\r'))) q++, len--;
    while (len && (q[len - 1] == ' ' || (q[len - 1] >= '\t' && q[len - 1] <= '\r'))) len--;
    if (len > TRIE_MAX_KEY) return -1;
    for (size_t i = 0; i < len; i++) dbuf[i] = (q[i] >= '\t' && q[i] <= '\r') ? ' ' : q[i];
    *dl = len;
    return 0;
}
static int id_ok(str s) {
    if (s.n == 0 || s.n > SRV_MAX_ID_LEN || !qutf8_valid(s.s, s.n)) return 0;
    for (size_t i = 0; i < s.n; i++)
        if ((unsigned char)s.s[i] < 0x20 || s.s[i] == 0x7f) return 0;
    return 1;
}

/* An accepted change of key nbuf[0..kn) by delta (INCR, a credited ACCEPT);
 * a key not live is made live with score delta and raw's display. */
static double model_incr(int kn, str raw, double delta) {
    sent *e = sh_get(nbuf, (size_t)kn);
    if (!e->live) {
        size_t dl;
        if (disp_of(raw, &dl)) fuzz_fail("harness: display of a new key refused after success");
        memcpy(e->disp, dbuf, dl);
        e->dlen = (uint16_t)dl;
        e->score = delta;
        e->live = 1;
    } else {
        e->score += delta;
    }
    return e->score;
}

/* --- the ACCEPT guard ------------------------------------------------------ */

/* A token bucket as the model knows it: tokens taken since its first use
 * and the clock before its first use. */
typedef struct gbucket {
    uint64_t taken;
    uint64_t t0_ns;
} gbucket;

typedef struct gactor {
    char id[SRV_MAX_ID_LEN + 2]; /* "u:" + USER, or "a:" */
    size_t n;
    gbucket b;
} gactor;

static struct gshadow {
    guard_opts o;
    unsigned evict_at; /* more distinct actors than this: one may have been evicted */
    unsigned nact;
    gactor act[SH_MAX_ACTORS];
    gbucket conn;   /* the connection's (e->self's) bucket */
    uint64_t cur_n; /* pairs in the current generation */
    uint64_t credited, repeats, limited_actor, limited_conn, rotations;
} gs;

enum { RATE_OK, RATE_REFUSED, RATE_EITHER };

static void model_reset(const guard_opts *go) {
    nsh = 0;
    memset(shash, 0, sizeof shash);
    user_ids_n = 0;
    gs.o = *go;
    gs.nact = 0;
    uint64_t slots = 1;
    while (slots < go->actors) slots <<= 1;
    gs.evict_at = slots < GUARD_PROBE ? (unsigned)slots : GUARD_PROBE;
    memset(&gs.conn, 0, sizeof gs.conn);
    gs.cur_n = gs.credited = gs.repeats = gs.limited_actor = gs.limited_conn = gs.rotations = 0;
}

/* The actor of an ACCEPT that will reach the guard (user NULL: anonymous);
 * a new one, and the connection at the input's first, start their clocks. */
static int gs_actor(const str *user) {
    if (!gs.conn.t0_ns) gs.conn.t0_ns = qtime_ns();
    char id[SRV_MAX_ID_LEN + 2];
    size_t n = 2;
    memcpy(id, user ? "u:" : "a:", 2);
    if (user) memcpy(id + 2, user->s, user->n), n += user->n;
    for (unsigned i = 0; i < gs.nact; i++)
        if (gs.act[i].n == n && !memcmp(gs.act[i].id, id, n)) return (int)i;
    if (gs.nact == SH_MAX_ACTORS) fuzz_fail("harness: more than %d guard actors", SH_MAX_ACTORS);
    gactor *a = &gs.act[gs.nact];
    memcpy(a->id, id, n);
    a->n = n;
    a->b = (gbucket){0, qtime_ns()};
    return (int)gs.nact++;
}

/* Whether bucket b (rate/s, burst) has a token for a request that returned
 * by t_ns; fresh: the bucket may have been started again (the guard evicted
 * its actor). Certain refusal: fewer ms since its clock started than a
 * refill of one more token than was left needs (see the header). */
static int gs_bucket(const gbucket *b, uint64_t rate, uint64_t burst, uint64_t t_ns, int fresh) {
    if (!rate || b->taken < burst) return RATE_OK;
    if (fresh) return RATE_EITHER;
    uint64_t ms = (t_ns - b->t0_ns) / 1000000 + 1; /* >= the guard's own whole-ms difference */
    return ms * rate + 20 < 1000 * (b->taken - burst + 1) ? RATE_REFUSED : RATE_EITHER;
}
static int gs_rate_actor(int ai, uint64_t t_ns) {
    return gs_bucket(&gs.act[ai].b, gs.o.user_rate, gs.o.user_burst, t_ns, gs.nact > gs.evict_at);
}
static int gs_rate_conn(uint64_t t_ns) { return gs_bucket(&gs.conn, gs.o.conn_rate, gs.o.conn_burst, t_ns, 0); }

/* Actor ai's ACCEPT was refused by the connection's bucket. */
static void gs_refused_conn(int ai) {
    gs.limited_conn++;
}

/* Actor ai's ACCEPT of e got both tokens: the pair's verdict (1: credit),
 * generations rotated as the guard does. */
static int gs_credit(int ai, sent *e) {
    uint64_t bit = 1ull << ai;
    gs.act[ai].b.taken++;
    gs.conn.taken++;
    if ((e->gcur | e->gprev) & bit) {
        gs.repeats++;
        return 0;
    }
    gs.credited++;
    e->gcur |= bit;
    if (++gs.cur_n >= gs.o.pairs) {
        for (size_t i = 0; i < nsh; i++) sh[i].gprev = sh[i].gcur, sh[i].gcur = 0;
        gs.cur_n = 0;
        gs.rotations++;
    }
    return 1;
}

/* The guard's counters against the model's. */
static void gs_check(const guard *g) {
    guard_stat st;
    guard_stats(g, &st);
    if (st.credited != gs.credited || st.repeats != gs.repeats || st.limited_actor != gs.limited_actor ||
        st.limited_conn != gs.limited_conn || st.rotations != gs.rotations || st.early_rotations != gs.rotations)
        fuzz_fail("guard counted credited %llu repeats %llu limited %llu/%llu rotations %llu/%llu; model %llu %llu "
                  "%llu/%llu %llu/%llu",
                  (unsigned long long)st.credited, (unsigned long long)st.repeats,
                  (unsigned long long)st.limited_actor, (unsigned long long)st.limited_conn,
                  (unsigned long long)st.rotations, (unsigned long long)st.early_rotations,
                  (unsigned long long)gs.credited, (unsigned long long)gs.repeats,
                  (unsigned long long)gs.limited_actor, (unsigned long long)gs.limited_conn,
                  (unsigned long long)gs.rotations, (unsigned long long)gs.rotations);
    if (gs.nact <= gs.evict_at && st.actor_evictions)
        fuzz_fail("guard evicted %llu actors of %u in %u slots", (unsigned long long)st.actor_evictions, gs.nact,
                  gs.evict_at);
    if (gs.evict_at < GUARD_PROBE && gs.nact > gs.evict_at && st.actor_evictions < gs.nact - gs.evict_at)
        fuzz_fail("guard evicted %llu actors, but %u share %u slots", (unsigned long long)st.actor_evictions,
                  gs.nact, gs.evict_at);
}

/* --- top-k and COMPLETE checks --------------------------------------------- */

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn) {
    size_t m = an < bn ? an : bn;
    int r = memcmp(a, b, m);
    if (r) return r;
    return an < bn ? -1 : an > bn;
}
static int ent_cmp(const void *pa, const void *pb) {
    const sent *a = &sh[*(const int *)pa], *b = &sh[*(const int *)pb];
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return bytes_cmp(a->key, a->klen, b->key, b->klen);
}
static int has_prefix(const sent *e, const char *p, size_t n) { return e->klen >= n && !memcmp(e->key, p, n); }

/* The model's live keys starting with p, best first, in bf_idx; returns how
 * many. */
static int bf_idx[SH_MAX];
static size_t brute(const char *p, size_t n) {
    size_t m = 0;
    for (size_t i = 0; i < nsh; i++)
        if (sh[i].live && has_prefix(&sh[i], p, n)) bf_idx[m++] = (int)i;
    qsort(bf_idx, m, sizeof *bf_idx, ent_cmp);
    return m;
}

static int item_is(const item *it, const sent *e) { return it->n == e->dlen && !memcmp(it->s, e->disp, e->dlen); }
static int score_is(const item *it, double v) {
    if (!it->sc) return 1;
    char buf[40];
    fmt_score(v, buf);
    return it->scn == strlen(buf) && !memcmp(it->sc, buf, it->scn);
}

/* Which model entry a ranked item is: a live key shown by its display, or
 * (ubit != 0) a deleted key that user accepted, shown as its key with score
 * 0. NULL when neither. */
static const sent *resolve(const item *it, const char *np, size_t npl, uint32_t ubit) {
    char k[ENG_NORM_CAP];
    int kn = norm_key(it->s, it->n, k, sizeof k);
    if (kn > 0) { /* fast path: the display normalizes to its key */
        const sent *e = sh_find(k, (size_t)kn);
        if (e && e->live && item_is(it, e) && has_prefix(e, np, npl) && score_is(it, e->score)) return e;
    }
    for (size_t i = 0; i < nsh; i++) {
        const sent *e = &sh[i];
        if (e->live && has_prefix(e, np, npl) && item_is(it, e) && score_is(it, e->score)) return e;
    }
    if (ubit) {
        const sent *e = sh_find(it->s, it->n);
        if (e && !e->live && (e->users & ubit) && has_prefix(e, np, npl) && score_is(it, 0)) return e;
    }
    return NULL;
}

/* A ranked COMPLETE reply (already parsed, not an error): np = normalized
 * prefix (npl < 0: longer than any key), k = LIMIT, user = USER or NULL. */
static void check_ranked(const reply *r, const char *np, int npl, unsigned k, const str *user) {
    if (r->nitems > k) fuzz_fail("ranked COMPLETE: %zu items for LIMIT %u", r->nitems, k);
    if (npl < 0) {
        if (r->nitems) fuzz_fail("ranked COMPLETE: items for a prefix longer than any key");
        return;
    }
    size_t m = brute(np, (size_t)npl);
    size_t top = m < cands ? m : cands;
    size_t lo = top < k ? top : k;
    uint32_t ubit = user ? user_bit_peek(user->s, user->n) : 0;
    const sent *seen[TRIE_MAX_K];
    for (size_t i = 0; i < r->nitems; i++) {
        const sent *e = resolve(&r->it[i], np, (size_t)npl, ubit);
        if (!e)
            fuzz_fail("ranked COMPLETE%s: item %zu '%.*s' is no live key with prefix '%.*s' (nor a deleted key the "
                      "user accepted)",
                      user ? " USER" : "", i, (int)r->it[i].n, r->it[i].s, npl, np);
        for (size_t j = 0; j < i; j++)
            if (seen[j] == e) fuzz_fail("ranked COMPLETE: key '%.*s' twice", (int)e->klen, e->key);
        seen[i] = e;
        if (e->live) {
            int in_top = 0;
            for (size_t j = 0; j < top && !in_top; j++) in_top = &sh[bf_idx[j]] == e;
            if (!in_top && !(e->users & ubit))
                fuzz_fail("ranked COMPLETE%s: '%.*s' is outside the top %u candidates and not in the user's history",
                          user ? " USER" : "", (int)e->klen, e->key, cands);
        }
    }
    if (r->nitems < lo) fuzz_fail("ranked COMPLETE: %zu items, at least %zu expected", r->nitems, lo);
    if (!user && r->nitems != lo) fuzz_fail("ranked COMPLETE without USER: %zu items, expected %zu", r->nitems, lo);
}

/* Plain COMPLETE (no ranker): exactly the brute-force top k. */
static void check_plain(const reply *r, const char *np, int npl, unsigned k) {
    size_t m = npl < 0 ? 0 : brute(np, (size_t)npl);
    size_t want = m < k ? m : k;
    if (r->nitems != want) fuzz_fail("plain COMPLETE: %zu items, model has %zu (LIMIT %u)", r->nitems, want, k);
    for (size_t i = 0; i < want; i++) {
        const sent *e = &sh[bf_idx[i]];
        if (!item_is(&r->it[i], e) || !score_is(&r->it[i], e->score)) {
            char b[40];
            fmt_score(e->score, b);
            fuzz_fail("plain COMPLETE '%.*s' item %zu: '%.*s' %.*s, model: '%.*s' (key '%.*s') %s", npl, np, i,
                      (int)r->it[i].n, r->it[i].s, (int)r->it[i].scn, r->it[i].sc ? r->it[i].sc : "", (int)e->dlen,
                      e->disp, (int)e->klen, e->key, b);
        }
    }
}

/* FUZZY: the model's order for a typo-tolerant COMPLETE: live keys within
 * d edits of np, by edits, then score, then key (into bf_idx). */
static int fz_edits[SH_MAX];
static int fz_cmp(const void *pa, const void *pb) {
    int a = *(const int *)pa, b = *(const int *)pb;
    if (fz_edits[a] != fz_edits[b]) return fz_edits[a] < fz_edits[b] ? -1 : 1;
    return ent_cmp(pa, pb);
}
static size_t fuzzy_brute(const char *np, size_t npl, unsigned d) {
    size_t m = 0;
    for (size_t i = 0; i < nsh; i++) {
        if (!sh[i].live) continue;
        size_t ml;
        unsigned e = trie_fuzzy_dist(np, npl, sh[i].key, sh[i].klen, d, 0, &ml);
        if (e <= d) fz_edits[i] = (int)e, bf_idx[m++] = (int)i;
    }
    qsort(bf_idx, m, sizeof *bf_idx, fz_cmp);
    return m;
}

/* INFIX (engine/infix.h, trie/trie_words.h): the words of a text (split on
 * spaces); a key matches when every typed word but the last equals one of
 * its words, the last is a prefix of one (equals, after a trailing space),
 * each on a different word, in any order. Order: keys the text is a prefix
 * of (class 0), then the other matches, each by score then key; with d > 0
 * edits on the whole text or dw > 0 on the last word, the keys not listed
 * yet follow by (edits, kind, score, key), a key's edits the fewer of its
 * FUZZY class (<= d) and of its last-word class (<= dw: ix_word_edits),
 * its kind 0 when its FUZZY class is that many (a completion of the typo'd
 * text), else 1 (the last word edited elsewhere). Into ix_idx; returns how
 * many (all of them, the caller cuts at k). */
static int ix_idx[SH_MAX], ix_cls[SH_MAX], ix_kind[SH_MAX];
static int ix_words(const char *s, size_t n, size_t *o, size_t *l) {
    int w = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && s[i] == ' ') i++;
        if (i == n) break;
        size_t j = i;
        while (j < n && s[j] != ' ') j++;
        o[w] = i, l[w++] = j - i, i = j;
    }
    return w;
}
static int ix_cmp(const void *pa, const void *pb) {
    int a = *(const int *)pa, b = *(const int *)pb;
    if (ix_cls[a] != ix_cls[b]) return ix_cls[a] < ix_cls[b] ? -1 : 1;
    return ent_cmp(pa, pb);
}
static int ixf_cmp(const void *pa, const void *pb) {
    int a = *(const int *)pa, b = *(const int *)pb;
    if (fz_edits[a] != fz_edits[b]) return fz_edits[a] < fz_edits[b] ? -1 : 1;
    if (ix_kind[a] != ix_kind[b]) return ix_kind[a] < ix_kind[b] ? -1 : 1;
    return ent_cmp(pa, pb);
}
static int ix_match(const sent *e, const char *np, size_t npl) {
    static size_t to[TRIE_MAX_KEY], tl[TRIE_MAX_KEY], ko[TRIE_MAX_KEY], kl[TRIE_MAX_KEY];
    char used[TRIE_MAX_KEY];
    int nt = ix_words(np, npl, to, tl), nk = ix_words(e->key, e->klen, ko, kl);
    int trailing = npl && np[npl - 1] == ' ';
    memset(used, 0, sizeof used);
    for (int i = 0; i < nt; i++) {
        int last = i == nt - 1 && !trailing, j = 0;
        for (; j < nk; j++)
            if (!used[j] && (last ? kl[j] >= tl[i] : kl[j] == tl[i]) && !memcmp(e->key + ko[j], np + to[i], tl[i]))
                break;
        if (j == nk) return 0;
        used[j] = 1; /* the prefix word is matched last: complete words first take equal words */
    }
    return nt > 0;
}
/* Full OSA distance of a and b in characters (trie_fuzzy.h's), the first
 * character exact (fuzzy-first-any no); d + 1 when over d. */
static unsigned ix_osa(const char *a, size_t an, const char *b, size_t bn, unsigned d) {
    static uint32_t ca[TRIE_MAX_KEY + 1], cb[TRIE_MAX_KEY + 1];
    static unsigned dm_[TRIE_MAX_KEY + 2][TRIE_MAX_KEY + 2];
    size_t m = 0, n = 0;
    for (int s = 0; s < 2; s++) {
        const char *x = s ? b : a;
        size_t xl = s ? bn : an, i = 0, *cnt = s ? &n : &m;
        uint32_t *c = s ? cb : ca;
        while (i < xl) {
            uint8_t h = (uint8_t)x[i];
            size_t l = h < 0xC0 ? 1 : h < 0xE0 ? 2 : h < 0xF0 ? 3 : h < 0xF8 ? 4 : 1;
            if (i + l > xl) break;
            uint32_t v = 0;
            for (size_t q = 0; q < l; q++) v |= (uint32_t)(uint8_t)x[i + q] << (8 * q);
            c[(*cnt)++] = v;
            i += l;
        }
    }
    if (!m || !n || ca[0] != cb[0]) return d + 1;
    for (size_t i = 0; i < m; i++) dm_[i][0] = (unsigned)i;
    for (size_t j = 0; j < n; j++) dm_[0][j] = (unsigned)j;
    for (size_t i = 1; i < m; i++)
        for (size_t j = 1; j < n; j++) {
            unsigned v = dm_[i - 1][j] + 1, w = dm_[i][j - 1] + 1, s = dm_[i - 1][j - 1] + (ca[i] != cb[j]);
            v = v < w ? v : w;
            v = v < s ? v : s;
            if (i > 1 && j > 1 && ca[i] == cb[j - 1] && ca[i - 1] == cb[j] && dm_[i - 2][j - 2] + 1 < v)
                v = dm_[i - 2][j - 2] + 1;
            dm_[i][j] = v;
        }
    unsigned r = dm_[m - 1][n - 1];
    return r <= d ? r : d + 1;
}
/* The last-word class of e (engine/infix.h, trie_words_fuzzy_topk): the
 * fewest edits, <= dw, of a key word W within them of the last typed word
 * (its prefix distance, trie_fuzzy_dist; after a trailing space the full
 * distance, ix_osa) while the complete typed words take other, equal key
 * words; -1 when none. */
static int ix_word_edits(const sent *e, const char *np, size_t npl, unsigned dw) {
    static size_t to[TRIE_MAX_KEY], tl[TRIE_MAX_KEY], ko[TRIE_MAX_KEY], kl[TRIE_MAX_KEY];
    char used[TRIE_MAX_KEY];
    int nt = ix_words(np, npl, to, tl), nk = ix_words(e->key, e->klen, ko, kl);
    int trailing = npl && np[npl - 1] == ' ', best = -1;
    if (!nt || !dw) return -1;
    const char *L = np + to[nt - 1];
    size_t ll = tl[nt - 1];
    for (int j = 0; j < nk; j++) {
        unsigned x = trailing ? ix_osa(L, ll, e->key + ko[j], kl[j], dw)
                              : trie_fuzzy_dist(L, ll, e->key + ko[j], kl[j], dw, 0, NULL);
        if (x > dw || (best >= 0 && (int)x >= best)) continue;
        memset(used, 0, (size_t)nk);
        used[j] = 1;
        int ok = 1;
        for (int i = 0; i + 1 < nt && ok; i++) { /* equal words: any free one will do */
            int q = 0;
            while (q < nk && (used[q] || kl[q] != tl[i] || memcmp(e->key + ko[q], np + to[i], tl[i]))) q++;
            if (q == nk) ok = 0;
            else used[q] = 1;
        }
        if (ok) best = (int)x;
    }
    return best;
}
static size_t infix_expect(const char *np, size_t npl, unsigned d, unsigned dw) {
    size_t m = 0;
    for (size_t i = 0; i < nsh; i++) {
        if (!sh[i].live || !ix_match(&sh[i], np, npl)) continue;
        ix_cls[i] = !has_prefix(&sh[i], np, npl);
        ix_idx[m++] = (int)i;
    }
    qsort(ix_idx, m, sizeof *ix_idx, ix_cmp);
    if (!d && !dw) return m;
    size_t n = m;
    for (size_t i = 0; i < nsh; i++) {
        if (!sh[i].live) continue;
        int dup = 0;
        for (size_t j = 0; j < m && !dup; j++) dup = ix_idx[j] == (int)i;
        if (dup) continue;
        int e = -1;
        if (d) {
            unsigned x = trie_fuzzy_dist(np, npl, sh[i].key, sh[i].klen, d, 0, NULL);
            if (x >= 1 && x <= d) e = (int)x; /* (0: a word match above, or a text with no word: none) */
        }
        int w = ix_word_edits(&sh[i], np, npl, dw);
        ix_kind[i] = 0;
        if (w >= 0 && (e < 0 || w < e)) e = w, ix_kind[i] = 1;
        if (e < 0) continue;
        fz_edits[i] = e;
        ix_idx[n++] = (int)i;
    }
    qsort(ix_idx + m, n - m, sizeof *ix_idx, ixf_cmp);
    return n;
}

#endif
