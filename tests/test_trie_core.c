/* Differential tests for trie/trie.c against a brute-force model.
 *
 * The model (tests/trie_model.h) is an unsorted array of (key, display, score, id) with
 * linear scans: trivially correct. Random corpora mix ASCII, multi-byte UTF-8
 * and long shared prefixes; scores have many ties. Inserts, increments,
 * deletes and decreases are interleaved in batches; after every batch the
 * trie is checked (trie_check), compared key by key (foreach, get, get_id)
 * and compared on top-k for random prefixes (many ending mid-edge and
 * mid-character) with random k in 1..100. Fixed seeds: runs are reproducible.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/util.h"
#include "trie/trie.h"
#include "trie/trie_internal.h" /* white box: the heavy-prefix threshold */
#include "tests/helpers.h"


#include "tests/trie_model.h"

/* ----------------------------------------------------------------- tests */

static void test_errors(void **state) {
    (void)state;
    trie *t = trie_new();
    assert_non_null(t);
    char big[TRIE_MAX_KEY + 1];
    memset(big, 'x', sizeof big);
    trie_hit h[TRIE_MAX_K + 1];
    double sc;
    uint32_t id;
    assert_int_equal(trie_set(t, "", 0, NULL, 0, 1, NULL), TRIE_EINVAL);
    assert_int_equal(trie_set(t, big, sizeof big, NULL, 0, 1, NULL), TRIE_ETOOLONG);
    assert_int_equal(trie_set(t, big, sizeof big - 1, NULL, 0, 1, &id), TRIE_OK); /* at the limit */
    assert_int_equal(trie_set(t, S("a"), big, sizeof big, 1, NULL), TRIE_ETOOLONG);
    assert_int_equal(trie_set(t, S("a"), "", 0, 1, NULL), TRIE_EINVAL);
    assert_int_equal(trie_set(t, S("a"), NULL, 0, NAN, NULL), TRIE_EINVAL);
    assert_int_equal(trie_set(t, S("a"), NULL, 0, INFINITY, NULL), TRIE_EINVAL);
    assert_int_equal(trie_incr(t, S("a"), NULL, 0, -INFINITY, NULL), TRIE_EINVAL);
    assert_int_equal(trie_incr(t, S("a"), NULL, 0, 1e308, &sc), TRIE_OK);
    assert_int_equal(trie_incr(t, S("a"), NULL, 0, 1e308, &sc), TRIE_EINVAL); /* overflow */
    assert_true(sc == 1e308);
    assert_int_equal(trie_get(t, S("a"), h), 1);
    assert_true(h[0].score == 1e308);
    assert_int_equal(trie_del(t, S("b")), TRIE_ENOTFOUND);
    assert_int_equal(trie_del(t, "", 0), TRIE_EINVAL);
    assert_int_equal(trie_del(t, big, sizeof big), TRIE_ETOOLONG);
    assert_int_equal(trie_topk(t, "", 0, 0, h), TRIE_EINVAL);
    assert_int_equal(trie_topk(t, "", 0, TRIE_MAX_K + 1, h), TRIE_EINVAL);
    assert_int_equal(trie_topk(t, "", 0, TRIE_MAX_K, h), 2);
    assert_int_equal(trie_get(t, "", 0, h), 0);
    assert_int_equal(trie_get_id(t, 12345, h), 0);
    double gsc = -1;
    assert_int_equal(trie_score(t, S("b"), &gsc), 0);
    assert_int_equal(trie_score(t, "", 0, &gsc), 0);
    assert_int_equal(trie_score(t, big, sizeof big, &gsc), 0);
    assert_true(gsc == -1);
    assert_int_equal(trie_topk(t, big, sizeof big, 10, h), 0); /* longer than any key */
    assert_int_equal(trie_count(t), 2);
    assert_trie_ok(t);
    assert_string_equal(trie_strerror(TRIE_EFORMAT), "not a valid qac snapshot");
    /* a prefix one byte longer than the longest key that it extends */
    char longk[TRIE_MAX_KEY + 1];
    memset(longk, 'q', sizeof longk);
    assert_int_equal(trie_set(t, longk, TRIE_MAX_KEY, NULL, 0, 1, NULL), 0);
    assert_int_equal(trie_topk(t, longk, TRIE_MAX_KEY, 10, h), 1);
    assert_int_equal(trie_topk(t, longk, TRIE_MAX_KEY + 1, 10, h), 0);
    trie_free(t);
}

static void test_small_example(void **state) {
    (void)state;
    trie *t = trie_new();
    trie_hit h[10];
    assert_int_equal(trie_topk(t, "", 0, 10, h), 0);
    assert_int_equal(trie_topk(t, S("x"), 10, h), 0);
    assert_int_equal(trie_set(t, S("new york"), S("New York"), 5, NULL), 0);
    assert_int_equal(trie_set(t, S("new"), NULL, 0, 3, NULL), 0);
    assert_int_equal(trie_set(t, S("newark"), NULL, 0, 5, NULL), 0);
    assert_int_equal(trie_set(t, S("news"), NULL, 0, 7, NULL), 0);
    assert_int_equal(trie_set(t, S("nab"), NULL, 0, 5, NULL), 0);
    assert_trie_ok(t);
    /* "ne" ends inside the edge "new" */
    assert_int_equal(trie_topk(t, S("ne"), 10, h), 4);
    assert_memory_equal(trie_hit_key(&h[0]), "news", 4);
    assert_memory_equal(trie_hit_key(&h[1]), "new york", 8); /* tie at 5: key order */
    assert_memory_equal(trie_hit_display(&h[1]), "New York", 8);
    assert_memory_equal(trie_hit_key(&h[2]), "newark", 6);
    assert_memory_equal(trie_hit_key(&h[3]), "new", 3);
    assert_int_equal(trie_topk(t, S("n"), 2, h), 2);
    assert_memory_equal(trie_hit_key(&h[1]), "nab", 3); /* "nab" < "new york" at equal scores */
    assert_int_equal(trie_topk(t, S("new y"), 10, h), 1);
    assert_int_equal(trie_topk(t, S("new yorkk"), 10, h), 0);
    /* decrease the best: the maximum must follow */
    assert_int_equal(trie_set(t, S("news"), NULL, 0, 1, NULL), 0);
    assert_trie_ok(t);
    assert_int_equal(trie_topk(t, S("new"), 1, h), 1);
    assert_memory_equal(trie_hit_key(&h[0]), "new york", 8);
    assert_int_equal(trie_del(t, S("new york")), 0);
    assert_int_equal(trie_del(t, S("new")), 0);
    assert_trie_ok(t);
    assert_int_equal(trie_topk(t, S("new"), 10, h), 2);
    assert_memory_equal(trie_hit_key(&h[0]), "newark", 6);
    /* display back to the key itself */
    assert_int_equal(trie_set(t, S("newark"), S("newark"), 5, NULL), 0);
    assert_int_equal(trie_get(t, S("newark"), h), 1);
    assert_int_equal(h[0].displen, 6);
    trie_mem mem;
    trie_memory(t, &mem);
    assert_int_equal(mem.keys, 3);
    assert_true(mem.bytes_used > 0 && mem.bytes_used <= mem.bytes_alloc);
    trie_free(t);
}

/* trie_foreach_prefix against the model (sorted by key): the entries with
 * the prefix, in key order, and nothing else. */
struct cmp_pfx {
    const model *m;
    const char *p;
    size_t pl, i;
    int bad;
};
static int cmp_pfx_cb(void *ud, const trie_hit *h) {
    struct cmp_pfx *c = ud;
    while (c->i < c->m->n && (c->m->v[c->i].klen < c->pl || memcmp(c->m->v[c->i].key, c->p, c->pl))) c->i++;
    if (c->i >= c->m->n || !hit_is(h, &c->m->v[c->i])) return c->bad = 1;
    c->i++;
    return 0;
}
static void cmp_foreach_prefix(const trie *t, const model *m, const char *p, size_t pl) {
    struct cmp_pfx c = {m, p, pl, 0, 0};
    assert_int_equal(trie_foreach_prefix(t, p, pl, cmp_pfx_cb, &c), 0);
    assert_false(c.bad);
    for (; c.i < m->n; c.i++) /* none left out */
        assert_false(m->v[c.i].klen >= pl && memcmp(m->v[c.i].key, p, pl) == 0);
}

static void run_differential(uint64_t seed, int rounds, int ops, int queries) {
    rng_seed(seed);
    trie *t = trie_new();
    model m = {0};
    const mkey **res = NULL;
    size_t rescap = 0;
    size_t peak = 0;
    char kb[TRIE_MAX_KEY], db[TRIE_MAX_KEY];
    for (int r = 0; r < rounds; r++) {
        for (int o = 0; o < ops; o++) {
            uint32_t op = rnd(100);
            size_t kl, dl = 0;
            const char *d = NULL;
            if (m.n && rnd(2)) { /* an existing key */
                const mkey *e = &m.v[rnd((uint32_t)m.n)];
                kl = e->klen;
                memcpy(kb, e->key, kl);
            } else {
                kl = gen_key(kb, rnd(10) == 0 ? TRIE_MAX_KEY : 48);
            }
            if (rnd(3) == 0) {
                if (rnd(2)) {
                    d = kb; /* display equal to the key */
                    dl = kl;
                } else {
                    dl = 1 + rnd(20);
                    for (size_t i = 0; i < dl; i++) db[i] = (char)('A' + rnd(26));
                    d = db;
                }
            }
            if (op < 45) {
                double s = gen_score();
                uint32_t id;
                size_t before = m.n;
                assert_int_equal(trie_set(&*t, kb, kl, d, dl, s, &id), 0);
                mkey *e = model_find(&m, kb, kl);
                if (e) assert_int_equal(e->id, id);
                else { /* a new id: dense, reused first */
                    assert_true(id < trie_id_bound(t));
                    if (before >= peak) assert_int_equal(trie_id_bound(t), before + 1);
                    else assert_int_equal(trie_id_bound(t), peak);
                }
                model_upsert(&m, kb, kl, d == kb ? NULL : d, dl, s, 0, id);
                if (d == kb) { /* display equal to the key means no display */
                    e = model_find(&m, kb, kl);
                    free(e->disp);
                    e->disp = NULL;
                }
            } else if (op < 60) {
                double delta = gen_score(), sc;
                size_t before = m.n;
                assert_int_equal(trie_incr(t, kb, kl, NULL, 0, delta, &sc), 0);
                trie_hit h;
                assert_int_equal(trie_get(t, kb, kl, &h), 1);
                if (!model_find(&m, kb, kl) && before < peak) assert_int_equal(trie_id_bound(t), peak);
                model_upsert(&m, kb, kl, NULL, 0, delta, 1, h.id);
                assert_true(model_find(&m, kb, kl)->score == sc);
            } else if (op < 85) {
                int rc = trie_del(t, kb, kl);
                if (model_find(&m, kb, kl)) {
                    assert_int_equal(rc, 0);
                    model_del(&m, kb, kl);
                } else {
                    assert_int_equal(rc, TRIE_ENOTFOUND);
                }
            } else if (m.n) { /* decrease (or raise) an existing key */
                mkey *e = &m.v[rnd((uint32_t)m.n)];
                double s = op < 95 ? e->score - 1 - rnd(3) : e->score + rnd(3);
                assert_int_equal(trie_set(t, e->key, e->klen, NULL, 0, s, NULL), 0);
                e->score = s;
            }
            if (m.n > peak) peak = m.n;
        }
        assert_trie_ok(t);
        assert_int_equal(model_equals_trie(&m, t), 0);
        assert_int_equal(trie_id_bound(t), peak);
        if (rescap < m.n + 1) {
            rescap = 2 * (m.n + 1);
            res = realloc(res, rescap * sizeof *res);
        }
        for (int q = 0; q < queries; q++) {
            char p[TRIE_MAX_KEY];
            size_t pl = gen_prefix(&m, p);
            unsigned k = rnd(4) ? 1 + rnd(12) : 1 + rnd(TRIE_MAX_K);
            cmp_topk(t, &m, p, pl, k, res);
            cmp_foreach_prefix(t, &m, p, pl); /* m is in key order (model_equals_trie) */
        }
    }
    free(res);
    model_free(&m);
    trie_free(t);
}

static void test_differential_mixed(void **state) {
    (void)state;
    run_differential(1, 40, 400, 300);
    run_differential(2, 10, 1500, 300);
}

static void test_differential_churn(void **state) {
    (void)state;
    /* small key space: the same keys come and go, ids and arena get reused */
    rng_seed(7);
    trie *t = trie_new();
    model m = {0};
    const mkey **res = malloc(4096 * sizeof *res);
    static const char *const W[] = {"a", "ab", "abc", "abd", "b", "ba", "\xc3\xa9", "\xc3\xa9t\xc3\xa9",
                                    "\xc3\xa8", "abcdefgh", "abcdefgi", "x"};
    trie_mem mem1 = {0}, mem2;
    for (int r = 0; r < 60; r++) {
        for (int o = 0; o < 200; o++) {
            char kb[64];
            size_t kl = 0;
            int parts = 1 + rnd(3);
            for (int i = 0; i < parts; i++) {
                const char *w = W[rnd(ARRAY_LEN(W))];
                memcpy(kb + kl, w, strlen(w));
                kl += strlen(w);
            }
            if (rnd(2)) {
                uint32_t id;
                double s = (double)rnd(3);
                assert_int_equal(trie_set(t, kb, kl, NULL, 0, s, &id), 0);
                model_upsert(&m, kb, kl, NULL, 0, s, 0, id);
            } else if (model_find(&m, kb, kl)) {
                assert_int_equal(trie_del(t, kb, kl), 0);
                model_del(&m, kb, kl);
            }
        }
        assert_model_matches(t, &m, 100, TRIE_MAX_K, res);
        if (r == 20) trie_memory(t, &mem1);
    }
    /* the arena is reused, not grown, by churn over a fixed key space */
    trie_memory(t, &mem2);
    assert_true(mem2.bytes_alloc <= mem1.bytes_alloc * 2);
    /* delete everything: back to an empty root */
    model_sort_keys(&m);
    while (m.n) {
        assert_int_equal(trie_del(t, m.v[m.n - 1].key, m.v[m.n - 1].klen), 0);
        model_del(&m, m.v[m.n - 1].key, m.v[m.n - 1].klen);
    }
    assert_trie_ok(t);
    trie_memory(t, &mem2);
    assert_int_equal(mem2.nodes, 1);
    assert_int_equal(mem2.keys, 0);
    trie_hit h[4];
    assert_int_equal(trie_topk(t, "", 0, 4, h), 0);
    free(res);
    model_free(&m);
    trie_free(t);
}

static void test_deep_and_wide(void **state) {
    (void)state;
    trie *t = trie_new();
    model m = {0};
    const mkey **res = malloc(2048 * sizeof *res);
    char kb[TRIE_MAX_KEY];
    memset(kb, 'a', sizeof kb);
    /* a 512-node chain: every length of "aaa..." is a key */
    for (size_t l = 1; l <= TRIE_MAX_KEY; l++) {
        double s = (double)(l % 7);
        assert_int_equal(trie_set(t, kb, l, NULL, 0, s, NULL), 0);
        model_upsert(&m, kb, l, NULL, 0, s, 0, (uint32_t)(l - 1));
    }
    /* 256 children at the root, one per first byte */
    for (int c = 0; c < 256; c++) {
        char k2[2] = {(char)c, 'z'};
        uint32_t id;
        assert_int_equal(trie_set(t, k2, 2, NULL, 0, (double)(c % 5), &id), 0);
        model_upsert(&m, k2, 2, NULL, 0, (double)(c % 5), 0, id);
    }
    assert_trie_ok(t);
    assert_int_equal(model_equals_trie(&m, t), 0);
    for (unsigned k = 1; k <= TRIE_MAX_K; k += 9) {
        cmp_topk(t, &m, "", 0, k, res);
        cmp_topk(t, &m, kb, 100, k, res);
        cmp_topk(t, &m, kb, 1, k, res);
    }
    /* remove every other length: nodes merge */
    for (size_t l = 2; l <= TRIE_MAX_KEY; l += 2) {
        assert_int_equal(trie_del(t, kb, l), 0);
        model_del(&m, kb, l);
    }
    assert_trie_ok(t);
    assert_int_equal(model_equals_trie(&m, t), 0);
    for (unsigned k = 1; k <= TRIE_MAX_K; k += 11) cmp_topk(t, &m, kb, 3, k, res);
    free(res);
    model_free(&m);
    trie_free(t);
}

static int e2_add_cb(void *ud, const trie_hit *h) {
    trie_builder **b = ud;
    return trie_builder_add(*b, h->text, h->keylen, NULL, 0, h->score, NULL);
}
/* ------------------------------------------- the second edge byte (e2) */

/* The node whose path is exactly p[0, n) (its depth is n), or NULL. */
static tnode *node_at(trie *t, const char *p, size_t n) {
    uint32_t x = 0;
    while (NODE(t, x)->depth < n) {
        int s = kid_find(t, NODE(t, x), (uint8_t)p[NODE(t, x)->depth]);
        if (s < 0) return NULL;
        uint32_t r = kid_refs(t, NODE(t, x))[s];
        if (r & LEAF) return NULL;
        x = r;
    }
    return NODE(t, x)->depth == n ? NODE(t, x) : NULL;
}
#define E2(t, s) (node_at((t), (s), strlen(s)) ? (int)node_at((t), (s), strlen(s))->e2 : -1)
#define SET(t, k) assert_int_equal(trie_set((t), (k), strlen(k), NULL, 0, 1.0, NULL), 0)
#define DEL(t, k) assert_int_equal(trie_del((t), (k), strlen(k)), 0)

/* Every change of an edge's start keeps the node's second edge byte
 * (struct tnode, e2; trie_check verifies it for every node): a new node,
 * an edge split (the lower node's edge now starts lower down), the merge
 * of a node into its only child on delete (the child's edge now starts
 * higher up: the merged node's second byte, or when that edge was one
 * byte long the child's first), and the bottom-up builder and load. */
static void test_second_edge_byte(void **state) {
    (void)state;
    trie *t = trie_new();
    SET(t, "abcdef");
    SET(t, "abcxyz");
    assert_trie_ok(t);
    assert_int_equal(E2(t, "abc"), 'b'); /* edge "abc" */
    SET(t, "ab");                        /* splits it: "ab" + "c" */
    assert_trie_ok(t);
    assert_int_equal(E2(t, "ab"), 'b');
    assert_int_equal(E2(t, "abc"), 0);
    SET(t, "abcdeQ"); /* a leaf split: edge "de" under "abc" */
    assert_trie_ok(t);
    assert_int_equal(E2(t, "abcde"), 'e');
    SET(t, "abcdeQRS");
    SET(t, "abcdeQRT"); /* edge "RS"/"RT"'s parent: "abcdeQR" under "abcdeQ" */
    assert_trie_ok(t);
    assert_int_equal(E2(t, "abcdeQR"), 0);
    DEL(t, "abcdeQ"); /* "abcdeQ" (a one-byte edge) merges into "abcdeQR": "QR" */
    assert_trie_ok(t);
    assert_int_equal(E2(t, "abcdeQR"), 'R');
    DEL(t, "ab"); /* term gone, one child: "ab" merges into "abc": "abc" again */
    assert_trie_ok(t);
    assert_int_equal(E2(t, "abc"), 'b');
    /* a leaf's delete collapses its parent into the other child, a node */
    SET(t, "mno");
    SET(t, "mpqr");
    SET(t, "mpqs");
    assert_trie_ok(t);
    assert_int_equal(E2(t, "m"), 0);
    assert_int_equal(E2(t, "mpq"), 'q'); /* edge "pq" */
    DEL(t, "mno");                        /* "m" (one byte) + "pq": "mpq" */
    assert_trie_ok(t);
    assert_int_equal(E2(t, "mpq"), 'p');
    SET(t, "uvwx1");
    SET(t, "uvwy1");
    SET(t, "uvwy2"); /* "uvw" (edge 3 bytes) over "uvwy" (1 byte) */
    SET(t, "uvwyzz1");
    SET(t, "uvwyzz2"); /* and "uvwyzz" (2 bytes) under "uvwy" */
    assert_trie_ok(t);
    assert_int_equal(E2(t, "uvw"), 'v');
    assert_int_equal(E2(t, "uvwy"), 0);
    assert_int_equal(E2(t, "uvwyzz"), 'z');
    DEL(t, "uvwx1"); /* "uvw" (3 bytes) merges into "uvwy": its second byte stays */
    assert_trie_ok(t);
    assert_int_equal(E2(t, "uvwy"), 'v');
    DEL(t, "uvwy1");
    DEL(t, "uvwy2"); /* "uvwy" merges into "uvwyzz": "uvwyzz" */
    assert_trie_ok(t);
    assert_int_equal(E2(t, "uvwyzz"), 'v');

    /* random churn on a small alphabet (many splits and merges), checked
     * after every change, then the same keys bulk-built and saved/loaded */
    rng_seed(15);
    char k[12];
    for (int i = 0; i < 6000; i++) {
        size_t l = 1 + rnd(10);
        for (size_t j = 0; j < l; j++) k[j] = "abc\xc3"[rnd(4)];
        if (rnd(3) == 0) {
            int rc = trie_del(t, k, l);
            assert_true(rc == TRIE_OK || rc == TRIE_ENOTFOUND);
        } else {
            assert_int_equal(trie_set(t, k, l, NULL, 0, (double)rnd(5), NULL), 0);
        }
        assert_trie_ok(t);
    }
    trie_builder *b = trie_builder_new();
    assert_non_null(b);
    assert_int_equal(trie_foreach(t, e2_add_cb, &b), 0);
    trie *u = NULL;
    assert_int_equal(trie_builder_finish(b, &u), 0);
    assert_trie_ok(u);
    assert_int_equal(trie_count(u), trie_count(t));
    char path[256], err[256];
    snprintf(path, sizeof path, "%s", tmp_path("e2.snap"));
    assert_int_equal(trie_save(t, path), 0);
    trie *v = NULL;
    assert_int_equal(trie_load(path, &v, err, sizeof err), 0);
    unlink(path);
    assert_trie_ok(v);

    /* trie_check sees a wrong second byte, and one on a one-byte edge */
    tnode *n = node_at(v, "uvwyzz", 6);
    assert_non_null(n);
    n->e2 = 'x';
    assert_int_not_equal(trie_check(v, err, sizeof err), 0);
    assert_non_null(strstr(err, "second edge byte"));
    n->e2 = 'v';
    assert_trie_ok(v);
    int found = 0;
    for (uint32_t i = 0; i < NODE(v, ROOT)->nkids && !found; i++) { /* the root's children */
        uint32_t x = kid_refs(v, NODE(v, ROOT))[i];
        if ((x & LEAF) || NODE(v, x)->e2) continue;
        NODE(v, x)->e2 = 'a'; /* a live node with a one-byte edge */
        assert_int_not_equal(trie_check(v, err, sizeof err), 0);
        NODE(v, x)->e2 = 0;
        found = 1;
    }
    assert_true(found);
    trie_free(u);
    trie_free(v);
    trie_free(t);
}

/* ------------------------------------------------ OWN BLOCKS: moved nodes */

/* The ref of the node whose path is exactly p (NONE: none), and in *slotp
 * the slot in its parent's block that holds it. */
static uint32_t ref_at(const trie *t, const char *p, uint32_t **slotp) {
    size_t n = strlen(p);
    uint32_t x = ROOT, *slot = NULL;
    while (NODE(t, x)->depth < n) {
        int s = kid_find(t, NODE(t, x), (uint8_t)p[NODE(t, x)->depth]);
        if (s < 0) return NONE;
        slot = &kid_refs(t, NODE(t, x))[s];
        if (*slot & LEAF) return NONE;
        x = *slot;
    }
    if (slotp) *slotp = slot;
    return NODE(t, x)->depth == n ? x : NONE;
}

/* A node's chunk holds its record and its child block (trie_internal.h,
 * OWN BLOCKS): node "km" (below node "k", below the root) gains children
 * one at a time past many size classes, each with a better score than the
 * last, so that it moves AND then climbs past its sibling in its parent;
 * then it loses them again; node "k" (its slot in the root) likewise.
 * After every step: the node moved, its parent's slot holds its new ref,
 * the answers are right and trie_check (chunks tile the pool) passes. */
static void test_node_moves(void **state) {
    (void)state;
    trie *t = trie_new();
    char k[8], err[256];
    assert_int_equal(trie_set(t, "k", 1, NULL, 0, 1.0, NULL), 0);
    assert_int_equal(trie_set(t, "kb", 2, NULL, 0, 1.5, NULL), 0); /* a sibling of "km" */
    assert_int_equal(trie_set(t, "kba", 3, NULL, 0, 1.5, NULL), 0);
    assert_int_equal(trie_set(t, "kma", 3, NULL, 0, 1.0, NULL), 0);
    assert_int_equal(trie_set(t, "kmb", 3, NULL, 0, 1.0, NULL), 0);
    assert_int_equal(trie_set(t, "j", 1, NULL, 0, 60.0, NULL), 0); /* a sibling of "k" in the root */
    assert_int_equal(trie_check(t, err, sizeof err), 0);
    uint32_t *slot, was = ref_at(t, "km", NULL);
    assert_int_not_equal(was, NONE);
    for (int i = 0; i < 80; i++) { /* "km" gains children c, d, ... */
        k[0] = 'k', k[1] = 'm', k[2] = (char)(0x80 + i);
        assert_int_equal(trie_set(t, k, 3, NULL, 0, 2.0 + i, NULL), 0);
        uint32_t r = ref_at(t, "km", &slot);
        assert_int_not_equal(r, NONE);
        assert_int_not_equal(r, was); /* moved to a chunk one child larger */
        assert_int_equal(*slot, r);
        assert_int_equal(NODE(t, r)->nkids, 3 + i);
        assert_ptr_equal(kid_refs(t, NODE(t, r)), t->kids + r + NODE_UNITS);
        was = r;
        if (trie_check(t, err, sizeof err)) fail_msg("after adding child %d: %s", i, err);
        trie_hit h[2];
        assert_int_equal(trie_topk(t, "k", 1, 1, h), 1); /* the new best climbed past "kb" */
        assert_int_equal(h[0].keylen, 3);
        assert_memory_equal(trie_hit_key(&h[0]), k, 3);
    }
    uint32_t kr = ref_at(t, "k", &slot);
    for (int i = 0; i < 30; i++) { /* "k" gains children in the root's block */
        k[0] = 'k', k[1] = (char)('!' + i);
        if (k[1] == 'b' || k[1] == 'm') continue;
        assert_int_equal(trie_set(t, k, 2, NULL, 0, 100.0 + i, NULL), 0);
        uint32_t r = ref_at(t, "k", &slot);
        assert_int_not_equal(r, kr);
        assert_int_equal(*slot, r);
        kr = r;
        if (trie_check(t, err, sizeof err)) fail_msg("after adding child %d to k: %s", i, err);
        trie_hit h;
        assert_int_equal(trie_topk(t, "", 0, 1, &h), 1); /* "k" climbed past "j" in the root */
        assert_memory_equal(trie_hit_key(&h), k, 2);
    }
    for (int i = 29; i >= 0; i--) { /* ... and loses them */
        k[0] = 'k', k[1] = (char)('!' + i);
        if (k[1] == 'b' || k[1] == 'm') continue;
        assert_int_equal(trie_del(t, k, 2), 0);
        uint32_t r = ref_at(t, "k", &slot);
        assert_int_not_equal(r, kr);
        assert_int_equal(*slot, r);
        kr = r;
        if (trie_check(t, err, sizeof err)) fail_msg("after deleting child %d of k: %s", i, err);
    }
    for (int i = 79; i >= 0; i--) { /* "km" loses its children */
        k[0] = 'k', k[1] = 'm', k[2] = (char)(0x80 + i);
        assert_int_equal(trie_del(t, k, 3), 0);
        uint32_t r = ref_at(t, "km", &slot);
        assert_int_not_equal(r, was);
        assert_int_equal(*slot, r);
        assert_int_equal(NODE(t, r)->nkids, 2 + i);
        was = r;
        if (trie_check(t, err, sizeof err)) fail_msg("after deleting child %d: %s", i, err);
        trie_hit h;
        assert_int_equal(trie_topk(t, "km", 2, 1, &h), 1);
        assert_int_equal(h.keylen, 3);
        char want[3] = {'k', 'm', i ? (char)(0x80 + i - 1) : 'a'};
        assert_memory_equal(trie_hit_key(&h), want, 3);
    }
    /* the same growth again reuses the freed chunks: the pool does not grow */
    uint64_t used = t->kused;
    for (int i = 0; i < 80; i++) {
        k[0] = 'k', k[1] = 'm', k[2] = (char)(0x80 + i);
        assert_int_equal(trie_set(t, k, 3, NULL, 0, 2.0 + i, NULL), 0);
    }
    assert_int_equal(t->kused, used);
    assert_trie_ok(t);
    /* trie_check sees live units miscounted, a used unit in no chunk, and
     * a free chunk that is also live */
    t->klive++;
    assert_int_not_equal(trie_check(t, err, sizeof err), 0);
    assert_non_null(strstr(err, "accounting"));
    t->klive--;
    assert_trie_ok(t);
    if (t->kused < t->kcap) {
        t->kused++;
        assert_int_not_equal(trie_check(t, err, sizeof err), 0);
        assert_non_null(strstr(err, "units"));
        t->kused--;
    }
    assert_trie_ok(t);
    uint32_t r = ref_at(t, "km", NULL);
    uint32_t keep = t->kfree[NODE(t, r)->nkids];
    t->kfree[NODE(t, r)->nkids] = r;
    assert_int_not_equal(trie_check(t, err, sizeof err), 0);
    t->kfree[NODE(t, r)->nkids] = keep;
    assert_trie_ok(t);
    /* MAX_UNITS (node refs keep the LEAF bit free): a pool that would pass
     * it refuses the change with TRIE_EFULL and leaves the trie as it was
     * -- an insert, and a delete whose node moves to a smaller chunk */
    uint64_t ku = t->kused, kc = t->kcap;
    /* (the reserve counts no free chunks: the worst case is always new units) */
    t->kused = t->kcap = MAX_UNITS - CHUNK_UNITS(2) * 8; /* white box: nothing reads past ku */
    uint64_t count = trie_count(t);
    assert_int_equal(trie_set(t, "kmzz", 4, NULL, 0, 1.0, NULL), TRIE_EFULL);
    k[0] = 'k', k[1] = 'm', k[2] = (char)0x80;
    assert_int_equal(trie_del(t, k, 3), TRIE_EFULL);
    t->kused = ku, t->kcap = kc;
    assert_int_equal(trie_count(t), count);
    assert_true(trie_get(t, k, 3, NULL));
    assert_false(trie_get(t, "kmzz", 4, NULL));
    assert_trie_ok(t);
    trie_free(t);
}

static int stop_at_two(void *ud, const trie_hit *h) {
    int *n = ud;
    (void)h;
    return ++*n == 2 ? 42 : 0;
}

static void test_foreach_stops(void **state) {
    (void)state;
    trie *t = trie_new();
    assert_int_equal(trie_set(t, S("b"), NULL, 0, 1, NULL), 0);
    assert_int_equal(trie_set(t, S("a"), NULL, 0, 1, NULL), 0);
    assert_int_equal(trie_set(t, S("c"), NULL, 0, 1, NULL), 0);
    int n = 0;
    assert_int_equal(trie_foreach(t, stop_at_two, &n), 42);
    assert_int_equal(n, 2);
    trie_free(t);
}

/* The short-prefix cache (prefixes of 0..TRIE_CACHE_DEPTH bytes, k <= TRIE_CACHE_K)
 * stays exact after EVERY change: few distinct first bytes so lists fill up,
 * many score ties (order by key), and frequent falls and deletes of listed
 * keys (which force a list to be recomputed). Queried after each operation. */
static void test_short_prefix_cache(void **state) {
    (void)state;
    rng_seed(11);
    trie *t = trie_new();
    model m = {0};
    const mkey **res = malloc(8192 * sizeof *res);
    static const char A[] = "ab\xc3z";
    for (int o = 0; o < 6000; o++) {
        char kb[8];
        size_t kl = 1 + rnd(5);
        for (size_t i = 0; i < kl; i++) kb[i] = A[rnd(sizeof A - 1)];
        uint32_t op = rnd(10);
        mkey *e = model_find(&m, kb, kl);
        if (op < 4 || !e) {
            uint32_t id;
            double s = (double)rnd(4);
            assert_int_equal(trie_set(t, kb, kl, NULL, 0, s, &id), 0);
            model_upsert(&m, kb, kl, NULL, 0, s, 0, id);
        } else if (op < 6) {
            assert_int_equal(trie_del(t, kb, kl), 0);
            model_del(&m, kb, kl);
        } else { /* fall or rise by a little, often onto a tie */
            double s = e->score + (op < 8 ? -1.0 : 1.0) * (double)rnd(2);
            assert_int_equal(trie_set(t, kb, kl, NULL, 0, s, NULL), 0);
            e->score = s;
        }
        char p[2];
        for (size_t pl = 0; pl <= 2; pl++) {
            p[0] = A[rnd(sizeof A - 1)];
            p[1] = A[rnd(sizeof A - 1)];
            cmp_topk(t, &m, p, pl, TRIE_CACHE_K, res);
            cmp_topk(t, &m, p, pl, 1 + rnd(TRIE_CACHE_K), res);
            cmp_topk(t, &m, p, pl, TRIE_CACHE_K + 1 + rnd(5), res); /* past the cache: a walk */
        }
        if (o % 200 == 0) assert_trie_ok(t);
    }
    assert_trie_ok(t);
    /* delete everything, querying as the lists drain */
    model_sort_keys(&m);
    while (m.n) {
        assert_int_equal(trie_del(t, m.v[0].key, m.v[0].klen), 0);
        model_del(&m, m.v[0].key, m.v[0].klen);
        cmp_topk(t, &m, "a", 1, TRIE_CACHE_K, res);
        cmp_topk(t, &m, "", 0, TRIE_CACHE_K, res);
    }
    assert_trie_ok(t);
    free(res);
    model_free(&m);
    trie_free(t);
}

/* The heavy-prefix cache (prefixes of 3..HEAVY_MAX_PLEN bytes that matched
 * >= hmin keys at the last rebuild) stays exact after EVERY change. White box:
 * hmin is lowered so a small trie has many heavy prefixes; queries of those
 * very prefixes are interleaved with inserts (new keys under them), rises,
 * falls onto ties, and deletes (which force full lists to be recomputed and
 * split or merge the nodes the prefixes once named). */
static void test_heavy_prefix_cache(void **state) {
    (void)state;
    rng_seed(12);
    model m = {0};
    const mkey **res = malloc(8192 * sizeof *res);
    static const char A[] = "ab\xc3z";
    char kb[16];
    for (int i = 0; i < 3000; i++) {
        size_t kl = 1 + rnd(9);
        for (size_t j = 0; j < kl; j++) kb[j] = A[rnd(sizeof A - 1)];
        if (!model_find(&m, kb, kl)) model_upsert(&m, kb, kl, NULL, 0, (double)rnd(6), 0, 0);
    }
    model_sort_keys(&m);
    trie_builder *b = trie_builder_new();
    for (size_t i = 0; i < m.n; i++)
        assert_int_equal(trie_builder_add(b, m.v[i].key, m.v[i].klen, NULL, 0, m.v[i].score, &m.v[i].id), 0);
    trie *t = NULL;
    assert_int_equal(trie_builder_finish(b, &t), 0);
    assert_int_equal(t->nheavy, 0); /* default threshold: no 3-byte prefix has HEAVY_MIN_KEYS keys */
    t->hmin = 6;
    trie__cache_rebuild(t);
    assert_true(t->nheavy > 50);
    assert_true(t->hmaxlen > TRIE_CACHE_DEPTH + 1); /* prefixes of several lengths */
    assert_trie_ok(t);
    uint32_t nh = t->nheavy;
    for (int o = 0; o < 6000; o++) {
        size_t kl = 1 + rnd(9);
        for (size_t j = 0; j < kl; j++) kb[j] = A[rnd(sizeof A - 1)];
        if (rnd(2)) { /* most changes land under a cached prefix */
            const hentry *he = &t->heavy[rnd(nh)];
            memcpy(kb, he->p, he->plen);
            if (kl < he->plen) kl = he->plen;
        }
        uint32_t op = rnd(10);
        mkey *e = model_find(&m, kb, kl);
        if (op < 3 || !e) {
            uint32_t id;
            double s = (double)rnd(6);
            assert_int_equal(trie_set(t, kb, kl, NULL, 0, s, &id), 0);
            model_upsert(&m, kb, kl, NULL, 0, s, 0, id);
        } else if (op < 6) {
            assert_int_equal(trie_del(t, kb, kl), 0);
            model_del(&m, kb, kl);
        } else { /* fall or rise by a little, often onto a tie */
            double s = e->score + (op < 8 ? -1.0 : 1.0) * (double)rnd(2);
            assert_int_equal(trie_set(t, kb, kl, NULL, 0, s, NULL), 0);
            e->score = s;
        }
        for (int q = 0; q < 3; q++) {
            const hentry *he = &t->heavy[rnd(nh)];
            cmp_topk(t, &m, he->p, he->plen, TRIE_CACHE_K, res);
            cmp_topk(t, &m, he->p, he->plen, 1 + rnd(TRIE_CACHE_K), res);
        }
        char p[TRIE_MAX_KEY];
        size_t pl = gen_prefix(&m, p);
        cmp_topk(t, &m, p, pl, 1 + rnd(TRIE_CACHE_K), res);
        if (o % 300 == 0) assert_trie_ok(t);
    }
    assert_int_equal(t->nheavy, nh); /* the set is fixed between rebuilds */
    assert_trie_ok(t);
    /* delete everything, querying the cached prefixes as their lists drain */
    model_sort_keys(&m);
    while (m.n) {
        size_t at = rnd((uint32_t)m.n);
        memcpy(kb, m.v[at].key, m.v[at].klen);
        {
            size_t kl = m.v[at].klen;
            assert_int_equal(trie_del(t, kb, kl), 0);
            model_del(&m, kb, kl);
        }
        const hentry *he = &t->heavy[rnd(nh)];
        cmp_topk(t, &m, he->p, he->plen, TRIE_CACHE_K, res);
    }
    assert_trie_ok(t);
    /* a rebuild of an empty trie drops the heavy cache */
    trie__cache_rebuild(t);
    assert_int_equal(t->nheavy, 0);
    assert_trie_ok(t);
    free(res);
    model_free(&m);
    trie_free(t);
}

/* Keys and displays around the arena header's varint boundaries (trie_internal.h,
 * khdr_*: h = coded klen * 2 + flag takes 2 bytes from 64, coded dlen from 128):
 * every stored header has the canonical size, every key and display reads
 * back whole through insert, display change, save/load, and delete. */
static void fill_pat(char *b, size_t n, unsigned salt) {
    for (size_t i = 0; i < n; i++) b[i] = (char)('a' + (i * 7 + salt) % 26);
}

static void check_headers(const trie *t, const size_t *kl, size_t nk, const size_t *dls, size_t nd,
                          unsigned round) {
    char k[TRIE_MAX_KEY], d[TRIE_MAX_KEY];
    for (size_t i = 0; i < nk; i++) {
        trie_hit h;
        fill_pat(k, kl[i], (unsigned)kl[i]);
        if (!trie_get(t, k, kl[i], &h)) fail_msg("key of %zu bytes lost", kl[i]);
        size_t dl = dls[(i + round) % nd];
        assert_int_equal(h.keylen, kl[i]);
        assert_memory_equal(trie_hit_key(&h), k, kl[i]);
        if (dl) {
            fill_pat(d, dl, (unsigned)(dl + 3 + round));
            assert_int_equal(h.displen, dl);
            assert_memory_equal(trie_hit_display(&h), d, dl);
        } else {
            assert_int_equal(h.dispoff, 0);
            assert_int_equal(h.displen, h.keylen);
        }
        /* the chunk's header has the canonical size for the CODED lengths
         * (identity-coded before the first save: the raw lengths) */
        const char *at = t->arena + t->refs[h.id].off;
        kview v = kv(t, h.id);
        assert_int_equal((size_t)((const char *)v.code - at), khdr_size(v.ck, v.cd));
        assert_int_equal(khdr_size(v.ck, v.cd), (v.ck >= 64 ? 2u : 1u) + (v.cd ? (v.cd >= 128 ? 2u : 1u) : 0u));
        assert_int_equal(v.cd != 0, dl != 0);
    }
}

static void test_key_headers(void **state) {
    (void)state;
    static const size_t kl[] = {1, 2, 3, 4, 5, 62, 63, 64, 65, 126, 127, 128, 129, 300, 511, TRIE_MAX_KEY};
    static const size_t dls[] = {0, 1, 63, 64, 127, 128, 129, TRIE_MAX_KEY};
    const size_t nk = sizeof kl / sizeof kl[0], nd = sizeof dls / sizeof dls[0];
    char k[TRIE_MAX_KEY], d[TRIE_MAX_KEY];
    trie *t = trie_new();
    assert_non_null(t);
    for (unsigned round = 0; round < 3; round++) { /* round > 0: display changes in place */
        for (size_t i = 0; i < nk; i++) {
            size_t dl = dls[(i + round) % nd];
            fill_pat(k, kl[i], (unsigned)kl[i]);
            fill_pat(d, dl, (unsigned)(dl + 3 + round));
            /* a display of 0 bytes: pass the key itself (stored as none) */
            assert_int_equal(trie_set(t, k, kl[i], dl ? d : k, dl ? dl : kl[i], (double)(i % 5), NULL), 0);
        }
        assert_trie_ok(t);
        check_headers(t, kl, nk, dls, nd, round);
    }
    const char *path = tmp_path("key_headers.snap");
    assert_int_equal(trie_save(t, path), 0);
    trie *u = NULL;
    char err[256];
    if (trie_load(path, &u, err, sizeof err)) fail_msg("trie_load: %s", err);
    unlink(path);
    assert_trie_ok(u);
    check_headers(u, kl, nk, dls, nd, 2);
    /* the load chose a symbol table (t is identity-coded); a second
     * save/load keeps it: same coded bytes */
    assert_int_equal(trie_save(u, path), 0);
    trie *w = NULL;
    if (trie_load(path, &w, err, sizeof err)) fail_msg("trie_load: %s", err);
    unlink(path);
    trie_mem ma, mb;
    trie_memory(u, &ma);
    trie_memory(w, &mb);
    assert_int_equal(ma.bytes_used, mb.bytes_used);
    assert_int_equal(tc_serial_size(&u->tc), tc_serial_size(&w->tc));
    trie_free(w);
    for (size_t i = 0; i < nk; i += 2) {
        fill_pat(k, kl[i], (unsigned)kl[i]);
        assert_int_equal(trie_del(t, k, kl[i]), 0);
        assert_int_equal(trie_del(u, k, kl[i]), 0);
    }
    assert_trie_ok(t);
    assert_trie_ok(u);
    assert_int_equal(trie_count(u), nk / 2);
    trie_free(t);
    trie_free(u);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_small_example),
        cmocka_unit_test(test_differential_mixed),
        cmocka_unit_test(test_differential_churn),
        cmocka_unit_test(test_deep_and_wide),
        cmocka_unit_test(test_foreach_stops),
        cmocka_unit_test(test_short_prefix_cache),
        cmocka_unit_test(test_heavy_prefix_cache),
        cmocka_unit_test(test_key_headers),
        cmocka_unit_test(test_second_edge_byte),
        cmocka_unit_test(test_node_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
