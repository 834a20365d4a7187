/* history_redis.c -- Redis key layout, commands and reply parsing for user and
 * session history (see history_redis.h).
 *
 * Parsing state: entries e[0..n) with q in the arena; idx is an open-
 * addressing table (linear probing, power-of-two size, load <= 1/2) of
 * entry index + 1, maintained while fields arrive, because a query's "c:"
 * and "t:" fields come in hash order, not together. The arena is a chain
 * of blocks that never move (pointers handed out stay valid); reset keeps
 * the first block.
 */
#include "ranking/history_redis.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/util.h"
#include "ranking/embed.h"

#define ARENA_BLOCK 16384

void rank_rh_opts_default(rank_rh_opts *o) {
    o->user_ttl = RANK_RH_DEFAULT_USER_TTL;
    o->session_ttl = RANK_RH_DEFAULT_SESSION_TTL;
    o->session_len = RANK_RH_DEFAULT_SESSION_LEN;
    o->max_queries = RANK_RH_DEFAULT_MAX_QUERIES;
}

/* --- commands ------------------------------------------------------------ */

static const char *put(rank_rh_cmds *o, size_t *len, const char *a, size_t al, const char *b, size_t bl,
                       const char *c, size_t cl) {
    char *p = o->buf + o->used;
    memcpy(p, a, al);
    memcpy(p + al, b, bl);
    memcpy(p + al + bl, c, cl);
    *len = al + bl + cl;
    o->used += *len;
    return p;
}

static void add(rank_rh_cmds *o, int argc, ...) {
    va_list ap;
    va_start(ap, argc);
    rank_rh_cmd *c = &o->c[o->n++];
    c->argc = argc;
    for (int i = 0; i < argc; i++) {
        c->argv[i] = va_arg(ap, const char *);
        c->len[i] = va_arg(ap, size_t);
    }
    va_end(ap);
}

static int check(const char *ns, const char *user, size_t ulen, size_t slen, size_t qlen) {
    size_t nl = ns ? strlen(ns) : 0;
    if (!nl) return RANK_RH_EINVAL;
    if (nl > RANK_RH_MAX_NS || ulen > RANK_HIST_MAX_USER || slen > RANK_HIST_MAX_USER || qlen > RANK_HIST_MAX_QUERY)
        return RANK_RH_ETOOLONG;
    (void)user;
    return 0;
}

/* session key: NS:s:<sess>, or NS:su:<user> */
static const char *skey(rank_rh_cmds *o, size_t *len, const char *ns, const char *user, size_t ulen,
                        const char *sess, size_t slen) {
    char pre[RANK_RH_MAX_NS + 8];
    int pl = snprintf(pre, sizeof pre, sess && slen ? "%s:s:" : "%s:su:", ns);
    return sess && slen ? put(o, len, pre, (size_t)pl, sess, slen, "", 0) : put(o, len, pre, (size_t)pl, user, ulen, "", 0);
}

int rank_rh_accept_cmds(rank_rh_cmds *out, const rank_rh_opts *o, const char *ns, const char *user, size_t ulen,
                        const char *sess, size_t slen, const char *q, size_t qlen, int64_t now) {
    out->n = out->used = 0;
    int rc = check(ns, user, ulen, slen, qlen);
    if (rc) return rc;
    if (!user || !ulen || !q || !qlen) return RANK_RH_EINVAL;
    char pre[RANK_RH_MAX_NS + 8], num[3][24];
    int pl = snprintf(pre, sizeof pre, "%s:u:", ns);
    size_t kl, cl, tl, sl, vl;
    const char *uk = put(out, &kl, pre, (size_t)pl, user, ulen, "", 0);
    const char *cf = put(out, &cl, "c:", 2, q, qlen, "", 0);
    const char *tf = put(out, &tl, "t:", 2, q, qlen, "", 0);
    int n0 = snprintf(num[0], sizeof num[0], "%lld", (long long)now);
    int n1 = snprintf(num[1], sizeof num[1], "%lld", (long long)o->user_ttl);
    const char *tv = put(out, &vl, num[0], (size_t)n0, "", 0, "", 0);
    const char *ttl = put(out, &vl, num[1], (size_t)n1, "", 0, "", 0);
    add(out, 4, "HINCRBY", (size_t)7, uk, kl, cf, cl, "1", (size_t)1);
    add(out, 4, "HSET", (size_t)4, uk, kl, tf, tl, tv, (size_t)n0);
    add(out, 3, "EXPIRE", (size_t)6, uk, kl, ttl, (size_t)n1);
    const char *sk = skey(out, &sl, ns, user, ulen, sess, slen);
    size_t il;
    const char *item = put(out, &il, num[0], (size_t)n0, " ", 1, q, qlen);
    int n2 = snprintf(num[2], sizeof num[2], "%u", o->session_len - 1);
    const char *last = put(out, &vl, num[2], (size_t)n2, "", 0, "", 0);
    int n3 = snprintf(num[1], sizeof num[1], "%lld", (long long)o->session_ttl);
    const char *sttl = put(out, &vl, num[1], (size_t)n3, "", 0, "", 0);
    add(out, 3, "LPUSH", (size_t)5, sk, sl, item, il);
    add(out, 4, "LTRIM", (size_t)5, sk, sl, "0", (size_t)1, last, (size_t)n2);
    add(out, 3, "EXPIRE", (size_t)6, sk, sl, sttl, (size_t)n3);
    return 0;
}

int rank_rh_read_cmds(rank_rh_cmds *out, const rank_rh_opts *o, const char *ns, const char *user, size_t ulen,
                      const char *sess, size_t slen) {
    out->n = out->used = 0;
    int rc = check(ns, user, ulen, slen, 0);
    if (rc) return rc;
    if (!(user && ulen) && !(sess && slen)) return RANK_RH_EINVAL;
    if (user && ulen) {
        char pre[RANK_RH_MAX_NS + 8];
        int pl = snprintf(pre, sizeof pre, "%s:u:", ns);
        size_t kl;
        const char *uk = put(out, &kl, pre, (size_t)pl, user, ulen, "", 0);
        add(out, 2, "HGETALL", (size_t)7, uk, kl);
    }
    size_t sl, vl;
    const char *sk = skey(out, &sl, ns, user, ulen, sess, slen);
    char num[16];
    int n = snprintf(num, sizeof num, "%u", o->session_len - 1);
    const char *last = put(out, &vl, num, (size_t)n, "", 0, "", 0);
    add(out, 4, "LRANGE", (size_t)6, sk, sl, "0", (size_t)1, last, (size_t)n);
    return 0;
}

size_t rank_rh_trim_cmds(rank_rh_cmds *out, const char *ns, const char *user, size_t ulen,
                         const rank_hentry *const *e, size_t n) {
    out->n = out->used = 0;
    if (check(ns, user, ulen, 0, 0) || !user || !ulen) return 0;
    char pre[RANK_RH_MAX_NS + 8];
    int pl = snprintf(pre, sizeof pre, "%s:u:", ns);
    size_t kl, done = 0;
    const char *uk = put(out, &kl, pre, (size_t)pl, user, ulen, "", 0);
    /* one HDEL key c:q t:q per entry, as many as fit */
    for (; done < n && out->n < RANK_RH_MAX_CMDS; done++) {
        if (e[done]->len > RANK_HIST_MAX_QUERY ||
            out->used + 2 * (e[done]->len + 2) > sizeof out->buf)
            break;
        size_t cl, tl;
        const char *cf = put(out, &cl, "c:", 2, e[done]->q, e[done]->len, "", 0);
        const char *tf = put(out, &tl, "t:", 2, e[done]->q, e[done]->len, "", 0);
        add(out, 4, "HDEL", (size_t)4, uk, kl, cf, cl, tf, tl);
    }
    return done;
}

/* --- parsing ------------------------------------------------------------- */

typedef struct ablock {
    struct ablock *next;
    size_t used, cap;
    char data[];
} ablock;

void rank_rh_init(rank_rh *h) { memset(h, 0, sizeof *h); }

static ablock *blocks(const rank_rh *h) { return (ablock *)(void *)h->arena; }

void rank_rh_reset(rank_rh *h) {
    ablock *b = blocks(h);
    if (b) {
        ablock *n = b->next;
        while (n) {
            ablock *x = n->next;
            qfree(n);
            n = x;
        }
        b->next = NULL;
        b->used = 0;
    }
    h->n = h->ns = 0;
    h->bad = 0;
    if (h->idx) memset(h->idx, 0, h->idxcap * sizeof *h->idx);
}

void rank_rh_free(rank_rh *h) {
    rank_rh_reset(h);
    qfree(h->arena);
    qfree(h->e);
    qfree(h->s);
    qfree(h->idx);
    rank_rh_init(h);
}

static char *acopy(rank_rh *h, const char *s, size_t len) {
    ablock *b = blocks(h);
    /* the newest block is first after the head? keep it simple: the head
     * block is filled first, then new blocks are pushed right after it */
    ablock *cur = b && b->next ? b->next : b;
    if (!cur || cur->cap - cur->used < len) {
        size_t cap = len > ARENA_BLOCK ? len : ARENA_BLOCK;
        ablock *nb = qmalloc(sizeof *nb + cap);
        if (!nb) return NULL;
        nb->used = 0;
        nb->cap = cap;
        nb->next = NULL;
        if (!b) h->arena = (char *)nb;
        else {
            nb->next = b->next;
            b->next = nb;
        }
        cur = nb;
    }
    char *p = cur->data + cur->used;
    memcpy(p, s, len);
    cur->used += len;
    return p;
}

static size_t slot_of(const rank_rh *h, const char *q, size_t len, int *found) {
    size_t m = h->idxcap - 1, i = (size_t)rank_emb_hash(q, len, RANK_EMB_FNV_INIT) & m;
    while (h->idx[i]) {
        const rank_hentry *e = &h->e[h->idx[i] - 1];
        if (e->len == len && !memcmp(e->q, q, len)) {
            *found = 1;
            return i;
        }
        i = (i + 1) & m;
    }
    *found = 0;
    return i;
}

static int grow_idx(rank_rh *h) {
    size_t cap = h->idxcap ? h->idxcap * 2 : 256;
    uint32_t *idx = qcalloc(cap, sizeof *idx);
    if (!idx) return RANK_RH_ENOMEM;
    qfree(h->idx);
    h->idx = idx;
    h->idxcap = cap;
    for (size_t k = 0; k < h->n; k++) {
        int f;
        size_t s = slot_of(h, h->e[k].q, h->e[k].len, &f);
        h->idx[s] = (uint32_t)k + 1;
    }
    return 0;
}

int rank_rh_user_field(rank_rh *h, const char *f, size_t flen, const char *v, size_t vlen) {
    if (flen < 3 || f[1] != ':' || (f[0] != 'c' && f[0] != 't') || flen - 2 > RANK_HIST_MAX_QUERY) {
        h->bad++;
        return 0;
    }
    int64_t x;
    if (qparse_i64(v, vlen, &x) || x < 0) {
        h->bad++;
        return 0;
    }
    const char *q = f + 2;
    size_t len = flen - 2;
    if ((h->n + 1) * 2 > h->idxcap && grow_idx(h)) return RANK_RH_ENOMEM;
    int found;
    size_t s = slot_of(h, q, len, &found);
    rank_hentry *e;
    if (found) e = &h->e[h->idx[s] - 1];
    else {
        if (h->n == h->cap) {
            size_t cap = h->cap ? h->cap * 2 : 64;
            rank_hentry *ne = qrealloc(h->e, cap * sizeof *ne);
            if (!ne) return RANK_RH_ENOMEM;
            h->e = ne;
            h->cap = cap;
        }
        char *copy = acopy(h, q, len);
        if (!copy) return RANK_RH_ENOMEM;
        e = &h->e[h->n];
        *e = (rank_hentry){copy, (uint32_t)len, 0, -1};
        h->idx[s] = (uint32_t)++h->n;
    }
    if (f[0] == 'c') e->count = x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
    else e->last = x;
    return 0;
}

int rank_rh_user_done(rank_rh *h) {
    /* drop entries with no count (a "t:" whose "c:" was trimmed); keep order */
    size_t w = 0;
    for (size_t k = 0; k < h->n; k++) {
        if (h->e[k].count == 0) {
            h->bad++;
            continue;
        }
        if (h->e[k].last < 0) h->e[k].last = 0;
        h->e[w++] = h->e[k];
    }
    if (w != h->n) {
        h->n = w;
        memset(h->idx, 0, h->idxcap * sizeof *h->idx);
        for (size_t k = 0; k < h->n; k++) {
            int f;
            size_t s = slot_of(h, h->e[k].q, h->e[k].len, &f);
            h->idx[s] = (uint32_t)k + 1;
        }
    }
    return 0;
}

int rank_rh_session_item(rank_rh *h, const char *s, size_t len, int64_t now, int64_t gap) {
    const char *sp = memchr(s, ' ', len);
    int64_t t;
    if (!sp || sp == s || (size_t)(sp - s) + 1 >= len || qparse_i64(s, (size_t)(sp - s), &t) ||
        len - (size_t)(sp - s) - 1 > RANK_HIST_MAX_QUERY) {
        h->bad++;
        return 0;
    }
    /* newest first: the session is the run of items with gaps under `gap`
     * ending less than `gap` before now */
    int64_t prev = h->ns ? h->s[h->ns - 1].t : now;
    if (prev - t >= gap) {
        return 0; /* ended earlier (callers stop at the first such item) */
    }
    if (h->ns == h->scap) {
        size_t cap = h->scap ? h->scap * 2 : 16;
        rank_hsess *ns = qrealloc(h->s, cap * sizeof *ns);
        if (!ns) return RANK_RH_ENOMEM;
        h->s = ns;
        h->scap = cap;
    }
    size_t ql = len - (size_t)(sp - s) - 1;
    char *copy = acopy(h, sp + 1, ql);
    if (!copy) return RANK_RH_ENOMEM;
    h->s[h->ns++] = (rank_hsess){copy, (uint32_t)ql, t};
    return 0;
}

const rank_hentry *rank_rh_get(const rank_rh *h, const char *q, size_t len) {
    if (!h || !h->n || !h->idxcap) return NULL;
    int found;
    size_t s = slot_of(h, q, len, &found);
    return found ? &h->e[h->idx[s] - 1] : NULL;
}

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen) {
    size_t m = alen < blen ? alen : blen;
    int r = memcmp(a, b, m);
    if (r) return r;
    return alen < blen ? -1 : alen > blen;
}

int rank_rh_gather(rank_cands *cs, const trie *t, const rank_rh *h, const char *p, size_t plen, unsigned ntop,
                   size_t max_hist) {
    cs->n = 0;
    if (ntop == 0 || ntop > TRIE_MAX_K) return RANK_BASE_EINVAL;
    int nh = trie_topk(t, p, plen, ntop, cs->hits);
    if (nh < 0) return RANK_BASE_EINVAL;
    size_t nm = 0;
    for (size_t k = 0; h && k < h->n; k++)
        if (h->e[k].len >= plen && !memcmp(h->e[k].q, p, plen)) nm++;
    size_t need = (size_t)nh + nm;
    if (need > cs->cap) {
        size_t cap = cs->cap ? cs->cap : 128;
        while (cap < need) cap *= 2;
        rank_cand *c = qrealloc(cs->c, cap * sizeof *c);
        if (!c) return RANK_BASE_ENOMEM;
        cs->c = c;
        cs->cap = cap;
    }
    for (int i = 0; i < nh; i++) {
        const trie_hit *x = &cs->hits[i];
        const rank_hentry *e = rank_rh_get(h, trie_hit_key(x), x->keylen);
        cs->c[cs->n++] = (rank_cand){trie_hit_key(x), x->keylen, e ? e->count : 0, x->score, e ? e->last : 0, 0, 0, 0, 0, 0, 0, 0};
    }
    const trie_hit *worst = nh > 0 ? &cs->hits[nh - 1] : NULL;
    for (size_t k = 0; nm && k < h->n; k++) {
        const rank_hentry *e = &h->e[k];
        if (!(e->len >= plen && !memcmp(e->q, p, plen))) continue;
        double g = 0;
        if (trie_score(t, e->q, e->len, &g)) {
            int in_top = (unsigned)nh < ntop || g > worst->score ||
                         (g == worst->score && bytes_cmp(e->q, e->len, trie_hit_key(worst), worst->keylen) <= 0);
            if (in_top) continue;
        }
        cs->c[cs->n++] = (rank_cand){e->q, e->len, e->count, g, e->last, 0, 0, 0, 0, 0, 0, 0};
    }
    rank_cands_keep_history(cs, (size_t)nh, max_hist);
    return (int)cs->n;
}

size_t rank_rh_surplus(const rank_rh *h, size_t max, const rank_hentry **out, size_t cap) {
    if (h->n <= max) return 0;
    size_t want = h->n - max, m = 0;
    if (want > cap) want = cap;
    /* keep out[0..m) = the oldest seen so far, sorted by last ascending */
    for (size_t k = 0; k < h->n; k++) {
        const rank_hentry *e = &h->e[k];
        if (m == want && e->last >= out[m - 1]->last) continue;
        size_t j = m < want ? m++ : m - 1;
        while (j > 0 && out[j - 1]->last > e->last) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = e;
    }
    return m;
}
