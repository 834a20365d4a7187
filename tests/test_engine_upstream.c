/* Tests for engine/upstream_merge.c: the merger's answer equals one trie's.
 * Random keys (ASCII, a Cyrillic first letter, spaces; displays that differ
 * in case; small scores, so ties are common) are split over 1..4 shards by a
 * random first-character map; for random prefixes, each shard's top k
 * (trie_topk, or trie_fuzzy_topk with 1-2 edits and the first character
 * editable, the case that asks every shard) is merged and compared, key by
 * key with its edits, to the same query on one trie holding every key; then
 * the keys change (set, incr, del on both sides) and it runs again. INFIX
 * classes: a hand-made case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/upstream.h"
#include "text/norm.h"
#include "trie/trie.h"
#include "trie/trie_fuzzy.h"

#define NSH_MAX 4
static const char *firsts[] = {"a", "b", "c", "d", "\xd0\xb6"};

static int rand_key(char *k) {
    int n = sprintf(k, "%s", firsts[rand() % 5]);
    int len = rand() % 6;
    for (int i = 0; i < len; i++) {
        char c = " abcd"[rand() % 5];
        if (c != ' ' || k[n - 1] != ' ') k[n++] = c; /* a normalized key: single spaces */
    }
    while (n > 1 && k[n - 1] == ' ') n--;
    k[n] = 0;
    return n;
}

static int owner(const char *k, int nsh, const int *cut) {
    int s = 0;
    while (s < nsh - 1 && (unsigned char)k[0] >= (unsigned char)cut[s]) s++;
    return s;
}

static void set_both(trie *all, trie **sh, int nsh, const int *cut, const char *k, int n, double score) {
    char disp[64];
    memcpy(disp, k, (size_t)n);
    if (k[0] >= 'a' && k[0] <= 'z' && rand() % 2) disp[0] = (char)(k[0] - 32);
    int s = owner(k, nsh, cut);
    assert_int_equal(trie_set(all, k, (size_t)n, disp, (size_t)n, score, NULL), 0);
    assert_int_equal(trie_set(sh[s], k, (size_t)n, disp, (size_t)n, score, NULL), 0);
}

static trie_fuzzy_hit want[TRIE_MAX_K], got[TRIE_MAX_K];

static void check_prefix(trie *all, trie **sh, int nsh, const char *p, size_t pl, unsigned maxd, unsigned k) {
    int n = trie_fuzzy_topk(all, p, pl, maxd, TRIE_FUZZY_FIRST_ANY, k, want);
    assert_true(n >= 0);
    ups_merge m;
    assert_int_equal(ups_merge_init(&m, NORM_FORM_MATCH, 0, p, pl), 0);
    static trie_fuzzy_hit per[NSH_MAX][TRIE_MAX_K];
    for (int s = 0; s < nsh; s++) {
        int g = trie_fuzzy_topk(sh[s], p, pl, maxd, TRIE_FUZZY_FIRST_ANY, k, per[s]);
        assert_true(g >= 0);
        for (int i = 0; i < g; i++)
            assert_int_equal(ups_merge_add(&m, trie_hit_display(&per[s][i].hit), per[s][i].hit.displen,
                                           per[s][i].hit.score, per[s][i].edits), 0);
    }
    size_t got_n = ups_merge_finish(&m, k);
    if (got_n != (size_t)n) {
        print_error("prefix [%.*s] maxd %u: %zu merged, %d from one trie\n", (int)pl, p, maxd, got_n, n);
        fail();
    }
    for (size_t i = 0; i < got_n; i++) {
        const ups_item *it = &m.items[i];
        const trie_hit *w = &want[i].hit;
        if (it->keylen != w->keylen || memcmp(m.keys + it->keyoff, trie_hit_key(w), w->keylen) ||
            it->edits != want[i].edits || it->score != w->score) {
            print_error("prefix [%.*s] maxd %u k %u #%zu: merged [%.*s] %g e%d, one trie [%.*s] %g e%d\n", (int)pl, p,
                        maxd, k, i, (int)it->keylen, m.keys + it->keyoff, it->score, it->edits, (int)w->keylen,
                        trie_hit_key(w), w->score, want[i].edits);
            fail();
        }
    }
    ups_merge_free(&m);
    (void)got;
}

static void test_merge_random(void **st) {
    srand(3);
    for (int round = 0; round < 30; round++) {
        int nsh = 1 + rand() % NSH_MAX;
        int cut[NSH_MAX]; /* shard s owns first bytes in [cut[s-1], cut[s]) */
        static const int cuts[] = {'b', 'c', 'd', 0xd0};
        for (int s = 0; s < nsh - 1; s++) cut[s] = cuts[s];
        trie *all = trie_new(), *sh[NSH_MAX];
        for (int s = 0; s < nsh; s++) sh[s] = trie_new();
        char k[64];
        for (int i = 0; i < 300; i++) {
            int n = rand_key(k);
            set_both(all, sh, nsh, cut, k, n, rand() % 8);
        }
        for (int phase = 0; phase < 2; phase++) {
            for (int q = 0; q < 150; q++) {
                int n = rand_key(k);
                int pl = 1 + rand() % n;
                if ((unsigned char)k[0] >= 0x80 && pl < 2) pl = 2;
                unsigned kk = 1 + (unsigned)(rand() % 12);
                check_prefix(all, sh, nsh, k, (size_t)pl, (unsigned)(rand() % 3), kk);
            }
            for (int i = 0; i < 100; i++) { /* live changes on both sides */
                int n = rand_key(k);
                int op = rand() % 3, s = owner(k, nsh, cut);
                if (op == 0) set_both(all, sh, nsh, cut, k, n, rand() % 8);
                else if (op == 1) {
                    double a, b;
                    assert_int_equal(trie_incr(all, k, (size_t)n, NULL, 0, 1, &a), 0);
                    assert_int_equal(trie_incr(sh[s], k, (size_t)n, NULL, 0, 1, &b), 0);
                } else {
                    assert_int_equal(trie_del(all, k, (size_t)n), trie_del(sh[s], k, (size_t)n));
                }
            }
        }
        trie_free(all);
        for (int s = 0; s < nsh; s++) trie_free(sh[s]);
    }
}

static void test_merge_infix_classes(void **st) {
    ups_merge m;
    assert_int_equal(ups_merge_init(&m, NORM_FORM_MATCH, 1, "York", 4), 0);
    /* as two shards might send them: each in its own order */
    assert_int_equal(ups_merge_add(&m, "New York", 8, 90, 0), 0);      /* word match, class 1 */
    assert_int_equal(ups_merge_add(&m, "yorktown", 8, 5, 0), 0);       /* prefix, class 0 */
    assert_int_equal(ups_merge_add(&m, "Yolk", 4, 99, -1), 0);         /* typo, after every word match */
    assert_int_equal(ups_merge_add(&m, "york", 4, 5, 0), 0);           /* ties yorktown: shorter key first */
    assert_int_equal(ups_merge_add(&m, "the york inn", 12, 90, 0), 0); /* ties New York: key bytes */
    assert_int_equal(ups_merge_finish(&m, 10), 5);
    const char *order[] = {"york", "yorktown", "New York", "the york inn", "Yolk"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(m.items[i].displen, strlen(order[i]));
        assert_memory_equal(m.items[i].disp, order[i], strlen(order[i]));
    }
    assert_int_equal(m.items[4].cut, 1);
    assert_int_equal(m.items[4].edits, 1);
    assert_int_equal(ups_merge_finish(&m, 2), 2);
    ups_merge_free(&m);
    /* with edits, per edit count: the typo'd text's completions (within the
     * edits of it as a prefix) before the keys whose last word carries them
     * elsewhere, whatever their scores (engine/infix.h) */
    assert_int_equal(ups_merge_init(&m, NORM_FORM_MATCH, 1, "times yrok", 10), 0);
    assert_int_equal(ups_merge_add(&m, "new york times", 14, 900, 1), 0); /* the last word edited elsewhere */
    assert_int_equal(ups_merge_add(&m, "times york", 10, 5, 1), 0);       /* a completion, one edit */
    assert_int_equal(ups_merge_add(&m, "times yolks", 11, 50, 2), 0);     /* two edits: after both */
    assert_int_equal(ups_merge_add(&m, "times", 5, 1, 0), 0);             /* a word match: first */
    assert_int_equal(ups_merge_finish(&m, 10), 4);
    const char *order2[] = {"times", "times york", "new york times", "times yolks"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(m.items[i].displen, strlen(order2[i]));
        assert_memory_equal(m.items[i].disp, order2[i], strlen(order2[i]));
    }
    ups_merge_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_random),
        cmocka_unit_test(test_merge_infix_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
