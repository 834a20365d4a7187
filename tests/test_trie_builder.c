/* Tests of the bulk builder (trie_builder.c) and of the big arrays on huge
 * pages (trie_huge.c), against the brute-force model of tests/trie_model.h:
 * the builder over 20 random key sets (refusals, changes after, abandon),
 * the move and allocation of the arrays on 2 MB pages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "trie/trie.h"
#include "trie/trie_internal.h" /* white box: the arrays trie_huge.c moves */
#include "tests/helpers.h"
#include "tests/trie_model.h"


/* trie_builder: sorted keys in, the same trie as trie_set would make (ids in
 * insertion order), and order violations refused without harm. */
/* --- trie_builder: one behaviour per test, over the same 20 random key sets */

enum { BUILDER_ROUNDS = 20 };

/* Builds round `round`'s key set (0 keys, 1 key, then up to 2,000 random
 * keys, some at the maximum length; a quarter with displays, some with a
 * display equal to the key, stored as none) into m and, in key order, into a
 * trie_builder. With bad, every add is followed by keys that are not
 * increasing, and the end by an empty key and a NaN score: each refused
 * with TRIE_EINVAL, the builder going on. Returns the finished trie,
 * checked (trie_check) and equal to the model: keys, displays, scores, ids. */
static trie *build_round(int round, model *m, int bad) {
    rng_seed(100 + (uint64_t)round);
    size_t want = round == 0 ? 0 : round == 1 ? 1 : 1 + rnd(2000);
    char kb[TRIE_MAX_KEY], db[TRIE_MAX_KEY];
    for (size_t i = 0; i < want; i++) {
        size_t kl = gen_key(kb, rnd(10) == 0 ? TRIE_MAX_KEY : 24);
        if (!model_find(m, kb, kl)) model_upsert(m, kb, kl, NULL, 0, gen_score(), 0, 0);
    }
    model_sort_keys(m);
    trie_builder *b = trie_builder_new();
    assert_non_null(b);
    for (size_t i = 0; i < m->n; i++) {
        mkey *e = &m->v[i];
        const char *d = NULL;
        size_t dl = 0;
        if (rnd(4) == 0) {
            dl = 1 + rnd(20);
            for (size_t j = 0; j < dl; j++) db[j] = (char)('A' + rnd(26));
            d = db;
            e->disp = malloc(dl);
            memcpy(e->disp, db, dl);
            e->dlen = dl;
        } else if (rnd(8) == 0) {
            d = e->key; /* display equal to the key: stored as none */
            dl = e->klen;
        }
        uint32_t id;
        assert_int_equal(trie_builder_add(b, e->key, e->klen, d, dl, e->score, &id), 0);
        assert_int_equal(id, i);
        e->id = id;
        if (bad && i > 0) { /* not increasing: refused, the builder goes on */
            const mkey *p = &m->v[i - 1];
            assert_int_equal(trie_builder_add(b, e->key, e->klen, NULL, 0, 1, NULL), TRIE_EINVAL);
            assert_int_equal(trie_builder_add(b, p->key, p->klen, NULL, 0, 1, NULL), TRIE_EINVAL);
            if (e->klen > 1)
                assert_int_equal(trie_builder_add(b, e->key, e->klen - 1, NULL, 0, 1, NULL), TRIE_EINVAL);
        }
    }
    if (bad) {
        assert_int_equal(trie_builder_add(b, "", 0, NULL, 0, 1, NULL), TRIE_EINVAL);
        assert_int_equal(trie_builder_add(b, "\xff\xff", 2, NULL, 0, NAN, NULL), TRIE_EINVAL);
    }
    trie *t = NULL;
    assert_int_equal(trie_builder_finish(b, &t), 0);
    assert_non_null(t);
    assert_trie_ok(t);
    assert_int_equal(model_equals_trie(m, t), 0);
    return t;
}

/* A built trie holds exactly the keys added, with their ids (build_round
 * checks), and answers top-k like the model. */
static void test_builder_matches_model(void **state) {
    (void)state;
    const mkey **res = malloc(4096 * sizeof *res);
    for (int round = 0; round < BUILDER_ROUNDS; round++) {
        model m = {0};
        trie *t = build_round(round, &m, 0);
        for (int q = 0; q < 200; q++) {
            char p[TRIE_MAX_KEY];
            size_t pl = gen_prefix(&m, p);
            cmp_topk(t, &m, p, pl, rnd(4) ? 1 + rnd(12) : 1 + rnd(TRIE_MAX_K), res);
        }
        trie_free(t);
        model_free(&m);
    }
    free(res);
}

/* Keys out of order, an empty key and a NaN score are refused; the refused
 * adds leave the trie as if they never happened (build_round checks). */
static void test_builder_refuses_bad_adds(void **state) {
    (void)state;
    for (int round = 0; round < BUILDER_ROUNDS; round++) {
        model m = {0};
        trie_free(build_round(round, &m, 1));
        model_free(&m);
    }
}

/* A built trie takes live changes like any other, coded with the table
 * chosen at finish: new keys (some with bytes no sample had: 0xFF, control
 * bytes, scripts never seen), displays, deletes. */
static void test_builder_trie_takes_changes(void **state) {
    (void)state;
    const mkey **res = malloc(4096 * sizeof *res);
    for (int round = 0; round < BUILDER_ROUNDS; round++) {
        model m = {0};
        trie *t = build_round(round, &m, 0);
        char kb[TRIE_MAX_KEY], db[TRIE_MAX_KEY];
        for (int o = 0; o < 300; o++) {
            if (m.n == 0 || rnd(4) == 0) {
                size_t kl = gen_key(kb, 40);
                if (rnd(3) == 0) kb[rnd((uint32_t)kl)] = (char)(rnd(2) ? 0xff : rnd(32));
                if (rnd(4) == 0 && kl + 4 <= TRIE_MAX_KEY) memcpy(kb + kl, "\xd0\x96\xd0\xb4", 4), kl += 4;
                size_t dl = rnd(2) ? 1 + rnd(30) : 0;
                for (size_t j = 0; j < dl; j++) db[j] = (char)(rnd(8) ? 'A' + rnd(26) : 0xf0 + rnd(16));
                double sc = gen_score();
                uint32_t id;
                assert_int_equal(trie_set(t, kb, kl, dl ? db : NULL, dl, sc, &id), 0);
                model_upsert(&m, kb, kl, dl ? db : NULL, dl, sc, 0, id); /* id kept if it existed */
                double got = 0;
                assert_int_equal(trie_score(t, kb, kl, &got), 1);
                assert_true(got == sc);
                continue;
            }
            mkey *e = &m.v[rnd((uint32_t)m.n)];
            if (rnd(3) == 0) {
                assert_int_equal(trie_del(t, e->key, e->klen), 0);
                model_del(&m, e->key, e->klen);
            } else {
                double sc = e->score - 2 + rnd(5);
                assert_int_equal(trie_set(t, e->key, e->klen, NULL, 0, sc, NULL), 0);
                e->score = sc;
            }
        }
        assert_model_matches(t, &m, 100, 12, res);
        trie_free(t);
        model_free(&m);
    }
    free(res);
}

/* trie__huge_pages (trie_huge.c) with no size floor: every array moves to
 * a 2 MB-aligned block, the trie stays whole (trie_check, which recounts
 * the prefix filter too; every key; top-k), and it takes changes that grow
 * the moved arrays (qrealloc of an aligned block). QAC_NO_HUGE_PAGES=1
 * moves nothing. */
static void test_huge_pages_move(void **state) {
    (void)state;
    const mkey **res = malloc(4096 * sizeof *res);
    model m = {0};
    trie *t = build_round(1, &m, 0);
    setenv("QAC_NO_HUGE_PAGES", "1", 1);
    const uint32_t *n0 = t->kids;
    assert_int_equal(trie__huge_pages(t, 0), 0);
    assert_ptr_equal(t->kids, n0);
    unsetenv("QAC_NO_HUGE_PAGES");
    assert_non_null(t->pf);
    assert_int_equal(trie__huge_pages(t, 0), 4); /* node pool, refs, arena, filter */
    const void *arr[] = {t->kids, t->refs, t->arena, t->pf};
    for (size_t i = 0; i < 4; i++) assert_int_equal((uintptr_t)arr[i] & ((2u << 20) - 1), 0);
    /* arrays already on aligned blocks (as trie_load allocates them) stay */
    assert_int_equal(trie__huge_pages(t, 0), 4);
    const void *arr2[] = {t->kids, t->refs, t->arena, t->pf};
    for (size_t i = 0; i < 4; i++) assert_ptr_equal(arr2[i], arr[i]);
    assert_trie_ok(t);
    assert_int_equal(model_equals_trie(&m, t), 0);
    char kb[TRIE_MAX_KEY];
    for (int o = 0; o < 3000; o++) { /* grows every pool past its size at build */
        size_t kl = gen_key(kb, 40);
        double sc = gen_score();
        uint32_t id;
        assert_int_equal(trie_set(t, kb, kl, NULL, 0, sc, &id), 0);
        model_upsert(&m, kb, kl, NULL, 0, sc, 0, id);
        if (o % 7 == 0) {
            mkey *e = &m.v[rnd((uint32_t)m.n)];
            assert_int_equal(trie_del(t, e->key, e->klen), 0);
            model_del(&m, e->key, e->klen);
        }
    }
    assert_model_matches(t, &m, 200, 12, res);
    trie_free(t);
    model_free(&m);
    free(res);
}

/* trie__huge_alloc (trie_load's arrays, the prefix filter): whole 2 MB
 * pages, aligned, a heap block qrealloc grows and qfree frees; none below
 * the floor, for no bytes, or with QAC_NO_HUGE_PAGES=1. */
static void test_huge_alloc(void **state) {
    (void)state;
    size_t len = 0;
    assert_null(trie__huge_alloc(0, 0, &len));
    assert_null(trie__huge_alloc(100, 101, &len));
    setenv("QAC_NO_HUGE_PAGES", "1", 1);
    assert_null(trie__huge_alloc(100, 0, &len));
    unsetenv("QAC_NO_HUGE_PAGES");
    char *p = trie__huge_alloc((2u << 20) + 1, 0, &len);
    assert_non_null(p);
    assert_int_equal(len, 4u << 20);
    assert_int_equal((uintptr_t)p & ((2u << 20) - 1), 0);
    memset(p, 7, len);
    p = qrealloc(p, 6u << 20);
    assert_non_null(p);
    assert_int_equal(p[len - 1], 7);
    qfree(p);
}

/* Abandoning a builder frees everything; finish without an out frees too
 * (checked by the sanitizer build). */
static void test_builder_abandon(void **state) {
    (void)state;
    trie_builder *b = trie_builder_new();
    assert_int_equal(trie_builder_add(b, "a", 1, NULL, 0, 1, NULL), 0);
    trie_builder_free(b);
    b = trie_builder_new();
    assert_int_equal(trie_builder_add(b, "a", 1, NULL, 0, 1, NULL), 0);
    assert_int_equal(trie_builder_finish(b, NULL), TRIE_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder_matches_model),
        cmocka_unit_test(test_builder_refuses_bad_adds),
        cmocka_unit_test(test_builder_trie_takes_changes),
        cmocka_unit_test(test_builder_abandon),
        cmocka_unit_test(test_huge_pages_move),
        cmocka_unit_test(test_huge_alloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}