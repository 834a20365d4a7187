/* trie_model.h -- the brute-force model the trie's differential tests
 * compare against (test_trie_core.c, test_trie_builder.c), and their
 * generators. The model is an unsorted array of (key, display, score, id)
 * with linear scans: trivially correct. Random keys mix ASCII, multi-byte
 * UTF-8 and long shared prefixes; scores have many ties; prefixes often end
 * mid-edge and mid-character. Fixed seeds (rng_seed): runs are
 * reproducible. Header-only, like helpers.h: include after cmocka.h. */
#ifndef QAC_TESTS_TRIE_MODEL_H
#define QAC_TESTS_TRIE_MODEL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "trie/trie.h"
#include "tests/helpers.h"
#include "tests/rng.h"

/* ----------------------------------------------------------------- model */

typedef struct mkey {
    char *key, *disp; /* disp NULL: display is the key */
    size_t klen, dlen;
    double score;
    uint32_t id;
} mkey;

typedef struct model {
    mkey *v;
    size_t n, cap;
} model;


static inline int key_cmp(const char *a, size_t al, const char *b, size_t bl) {
    size_t m = al < bl ? al : bl;
    int c = memcmp(a, b, m);
    if (c) return c;
    return (al > bl) - (al < bl);
}

static inline void model_free(model *m) {
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].key);
        free(m->v[i].disp);
    }
    free(m->v);
    memset(m, 0, sizeof *m);
}

static inline mkey *model_find(model *m, const char *k, size_t kl) {
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].klen == kl && memcmp(m->v[i].key, k, kl) == 0) return &m->v[i];
    return NULL;
}

static inline char *dupmem(const char *p, size_t n) {
    char *c = malloc(n ? n : 1);
    memcpy(c, p, n);
    return c;
}

/* Mirrors trie_set / trie_incr on the model (arguments already valid). */
static inline void model_upsert(model *m, const char *k, size_t kl, const char *d, size_t dl, double v,
                         int add, uint32_t id) {
    mkey *e = model_find(m, k, kl);
    if (!e) {
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 256;
            m->v = realloc(m->v, m->cap * sizeof *m->v);
        }
        e = &m->v[m->n++];
        e->key = dupmem(k, kl);
        e->klen = kl;
        e->disp = NULL;
        e->dlen = 0;
        e->score = v;
        e->id = id;
    } else {
        e->score = add ? e->score + v : v;
    }
    if (d) {
        free(e->disp);
        e->disp = dupmem(d, dl);
        e->dlen = dl;
    }
}

static inline void model_del(model *m, const char *k, size_t kl) {
    mkey *e = model_find(m, k, kl);
    free(e->key);
    free(e->disp);
    *e = m->v[--m->n];
}

static inline int mkey_rank(const void *a, const void *b) {
    const mkey *x = *(const mkey *const *)a, *y = *(const mkey *const *)b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return key_cmp(x->key, x->klen, y->key, y->klen);
}

/* The model's top-k: fills res (room for m->n pointers), returns the count. */
static inline size_t model_topk(const model *m, const char *p, size_t pl, unsigned k, const mkey **res) {
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].klen >= pl && memcmp(m->v[i].key, p, pl) == 0) res[n++] = &m->v[i];
    qsort(res, n, sizeof *res, mkey_rank);
    return n < k ? n : k;
}

static inline int mkey_keyorder(const void *a, const void *b) {
    const mkey *x = a, *y = b;
    return key_cmp(x->key, x->klen, y->key, y->klen);
}
static inline void model_sort_keys(model *m) {
    if (m->n) qsort(m->v, m->n, sizeof *m->v, mkey_keyorder);
}

/* 1 when hit h shows model entry e (key, display, score, id). */
static inline int hit_is(const trie_hit *h, const mkey *e) {
    const char *d = e->disp ? e->disp : e->key;
    size_t dl = e->disp ? e->dlen : e->klen;
    return h->keylen == e->klen && memcmp(trie_hit_key(h), e->key, e->klen) == 0 && h->displen == dl &&
           memcmp(trie_hit_display(h), d, dl) == 0 && h->score == e->score && h->id == e->id;
}

/* Compares everything reachable by trie_foreach with the model (which it
 * sorts by key). Returns 0 when equal. */
struct cmp_walk {
    model *m;
    size_t i;
    int bad;
};
static inline int cmp_walk_cb(void *ud, const trie_hit *h) {
    struct cmp_walk *c = ud;
    if (c->i >= c->m->n || !hit_is(h, &c->m->v[c->i])) {
        c->bad = 1;
        return 1;
    }
    c->i++;
    return 0;
}
static inline int model_equals_trie(model *m, const trie *t) {
    model_sort_keys(m);
    struct cmp_walk c = {m, 0, 0};
    trie_foreach(t, cmp_walk_cb, &c);
    if (c.bad || c.i != m->n || trie_count(t) != m->n) return -1;
    for (size_t i = 0; i < m->n; i++) {
        trie_hit h;
        if (!trie_get(t, m->v[i].key, m->v[i].klen, &h) || !hit_is(&h, &m->v[i])) return -1;
        if (!trie_get_id(t, m->v[i].id, &h) || !hit_is(&h, &m->v[i])) return -1;
        double sc;
        if (!trie_score(t, m->v[i].key, m->v[i].klen, &sc) || sc != m->v[i].score) return -1;
    }
    uint32_t live = 0;
    for (uint32_t id = 0; id < trie_id_bound(t); id++) live += trie_get_id(t, id, NULL);
    return live == m->n ? 0 : -1;
}

/* ------------------------------------------------------------ generators */

/* Random key material: ASCII words, multi-byte UTF-8, and a pool of long
 * shared prefixes, so edges split in the middle of characters. */
static const char *const PIECES[] = {"a", "b", "c", "ab", "ba", " ", "new ", "york", "the ",
                                     "\xc3\xa9", "\xc3\xa8", "\xe6\x97\xa5", "\xe6\x9c\xac",
                                     "\xf0\x9f\x98\x80", "0", "9", "zz", "\x7f"};
static inline size_t gen_key(char *buf, size_t maxlen) {
    static const char *const BASES[] = {"", "", "how to ", "how to make ", "www.", "caf\xc3\xa9 ",
                                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "\xe6\x97\xa5\xe6\x9c\xac "};
    size_t n = 0;
    const char *b = BASES[rnd(ARRAY_LEN(BASES))];
    memcpy(buf, b, strlen(b));
    n = strlen(b);
    size_t pieces = 1 + rnd(rnd(4) == 0 ? 12 : 4);
    for (size_t i = 0; i < pieces; i++) {
        const char *p = PIECES[rnd(ARRAY_LEN(PIECES))];
        size_t l = strlen(p);
        if (n + l > maxlen) break;
        memcpy(buf + n, p, l);
        n += l;
    }
    if (n == 0) buf[n++] = 'q';
    return n;
}

static inline double gen_score(void) {
    switch (rnd(4)) {
    case 0: return (double)rnd(4); /* many ties */
    case 1: return (double)rnd(1000) / 8.0;
    case 2: return -(double)rnd(5);
    default: return (double)rnd(3);
    }
}


#define S(x) x, sizeof(x) - 1

/* Compares trie_topk with the model for one prefix and k. */
static inline void cmp_topk(const trie *t, const model *m, const char *p, size_t pl, unsigned k,
                     const mkey **res) {
    trie_hit out[TRIE_MAX_K];
    size_t want = model_topk(m, p, pl, k, res);
    int got = trie_topk(t, p, pl, k, out);
    if (got < 0 || (size_t)got != want)
        fail_msg("topk('%.*s', k=%u): got %d results, model %zu", (int)pl, p, k, got, want);
    for (size_t i = 0; i < want; i++)
        if (!hit_is(&out[i], res[i]))
            fail_msg("topk('%.*s', k=%u) #%zu: got '%.*s' %g, model '%.*s' %g", (int)pl, p, k, i,
                     (int)out[i].keylen, trie_hit_key(&out[i]), out[i].score, (int)res[i]->klen, res[i]->key,
                     res[i]->score);
}

static inline size_t gen_prefix(const model *m, char *buf) {
    switch (rnd(6)) {
    case 0: return 0; /* whole trie */
    case 1: { /* random, mostly absent */
        size_t n = gen_key(buf, 64);
        return rnd((uint32_t)n + 1);
    }
    default: /* a cut of a live key: mid-edge, mid-character */
        if (m->n == 0) return 0;
        const mkey *e = &m->v[rnd((uint32_t)m->n)];
        size_t n = rnd((uint32_t)e->klen + 1);
        memcpy(buf, e->key, n);
        return n;
    }
}

/* The trie against the model: structurally sound (trie_check), the same
 * keys, displays, scores and ids, and the same top-k for nq random
 * prefixes of the model's keys with k in 1..kmax (res: room for
 * TRIE_MAX_K + the model's size). */
static inline void assert_model_matches(const trie *t, model *m, int nq, unsigned kmax, const mkey **res) {
    assert_trie_ok(t);
    assert_int_equal(model_equals_trie(m, t), 0);
    for (int q = 0; q < nq; q++) {
        char p[TRIE_MAX_KEY];
        size_t pl = gen_prefix(m, p);
        cmp_topk(t, m, p, pl, 1 + rnd(kmax), res);
    }
}

#endif
