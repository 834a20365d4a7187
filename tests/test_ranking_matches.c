/* Tests for the typo and infix candidates of a ranked request
 * (ranking/request.c, step 2): the last typed word's search with edits is
 * skipped, or narrowed to one edit, only where none of its matches could
 * be shown (rank__word_skip). Differential: over random corpora and typed
 * texts (prefixes of keys typed from the start or a later word first, 0-2
 * edits, never on the first character), FUZZY 0/1/2 with 1 or 2 edits on
 * the last word, k 1..12 and two gather sizes, the shown top k (the
 * heuristic's scores, rank_top's order) is the same list of texts, classes
 * and edits with the skip and without it -- and the skip did skip and
 * narrow, and word matches were shown, often enough for that to mean
 * something. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranking/request.h"
#include "trie/trie.h"
#include "trie/trie_words.h"

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t rnd(uint32_t n) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33) % n;
}

/* words with near neighbours, so that typo and word matches abound */
static const char *const vocab[] = {"new",  "news",   "york",  "yorker", "times", "time",  "tim",   "yankees",
                                    "pizza", "plaza", "near",  "me",     "hotels", "hotel", "paris", "parts",
                                    "rome",  "home",  "weather", "whether", "net", "nets", "network", "networks"};
#define NV (sizeof vocab / sizeof *vocab)

static size_t rand_key(char *buf) {
    size_t n = 0, w = 1 + rnd(5);
    for (size_t i = 0; i < w; i++) {
        const char *v = vocab[rnd(NV)];
        if (i) buf[n++] = ' ';
        memcpy(buf + n, v, strlen(v));
        n += strlen(v);
    }
    return n;
}

/* One edit at a random position past the first character (substitute,
 * delete, insert, swap with the next), never a space. */
static size_t edit(char *s, size_t n) {
    if (n < 2) return n;
    size_t i = 1 + rnd((uint32_t)n - 1);
    if (s[i] == ' ') return n;
    char c = (char)('a' + rnd(26));
    switch (rnd(4)) {
    case 0: s[i] = c; return n;
    case 1: memmove(s + i, s + i + 1, n - i - 1); return n - 1;
    case 2: memmove(s + i + 1, s + i, n - i); s[i] = c; return n + 1;
    default:
        if (i + 1 < n && s[i + 1] != ' ') {
            char x = s[i];
            s[i] = s[i + 1];
            s[i + 1] = x;
        }
        return n;
    }
}

/* A typed text from key k: typed from the start, or its words rotated (a
 * later word first); cut inside the last word; 0-2 edits. */
static size_t rand_text(const char *k, size_t kl, char *out) {
    size_t n = kl;
    memcpy(out, k, kl);
    const char *sp = memchr(k, ' ', kl);
    if (sp && rnd(2)) { /* "york new" from "new york" */
        size_t f = (size_t)(sp - k);
        memcpy(out, k + f + 1, kl - f - 1);
        out[kl - f - 1] = ' ';
        memcpy(out + kl - f, k, f);
    }
    size_t st = n;
    while (st && out[st - 1] != ' ') st--;
    n = st + 1 + rnd((uint32_t)(n - st)); /* at least one character of the last word */
    for (uint32_t e = rnd(3); e; e--) n = edit(out, n);
    return n;
}

typedef struct shown {
    char q[TRIE_MAX_KEY];
    uint32_t len;
    uint8_t cls, edits;
} shown;

/* The top k shown for text p (heuristic scores), into out; returns how many. */
static size_t answer(rank_req *r, const trie *t, const char *p, size_t pl, unsigned topn, unsigned k, shown *out) {
    int n = rank_req_gather(r, t, NULL, NULL, p, pl, topn);
    assert_true(n >= 0);
    rank_ctx ctx = {1000, NULL, 0};
    rank_score_heuristic(r->cs.c, (size_t)n, &ctx);
    size_t m = rank_top(r->cs.c, (size_t)n, k);
    for (size_t i = 0; i < m; i++) {
        const rank_cand *c = &r->cs.c[i];
        memcpy(out[i].q, c->q, c->len);
        out[i].len = c->len;
        out[i].cls = c->cls;
        out[i].edits = c->edits;
    }
    return m;
}

static void test_word_skip_differential(void **state) {
    (void)state;
    unsigned long texts = 0, skipped = 0, narrowed = 0, word_shown = 0, typo_shown = 0;
    for (int corpus = 0; corpus < 6; corpus++) {
        trie *t = trie_new();
        int nkeys = corpus < 3 ? 200 : 3000;
        char k[TRIE_MAX_KEY], p[TRIE_MAX_KEY + 8];
        for (int i = 0; i < nkeys; i++) {
            size_t kl = rand_key(k);
            assert_int_equal(trie_set(t, k, kl, NULL, 0, (double)(1 + rnd(corpus % 2 ? 5 : 1000)), NULL), 0);
        }
        trie_words *w;
        assert_int_equal(trie_words_build(t, &w), 0);
        rank_req r;
        assert_int_equal(rank_req_init(&r, NULL, NULL), 0);
        rank_req_session(&r, 0, NULL, 0, 1000);
        static shown a[TRIE_MAX_K], b[TRIE_MAX_K];
        for (int q = 0; q < 800; q++) {
            size_t kl = rand_key(k), pl = rand_text(k, kl, p);
            unsigned topn = rnd(2) ? 10 : 50, kk = 1 + rnd(12);
            rank_match m = {kk, rnd(3), 0, 0, w, 1 + rnd(2)};
            rank_req_set_match(&r, &m);
            rank__word_skip = 1;
            size_t na = answer(&r, t, p, pl, topn, kk, a);
            unsigned used = r.word_edits;
            rank__word_skip = 0;
            size_t nb = answer(&r, t, p, pl, topn, kk, b);
            rank__word_skip = 1;
            texts++;
            skipped += used == 0 && r.word_edits > 0;
            narrowed += used == 1 && r.word_edits == 2;
            int differ = na != nb;
            for (size_t i = 0; i < na && !differ; i++) {
                differ = a[i].len != b[i].len || memcmp(a[i].q, b[i].q, a[i].len) || a[i].cls != b[i].cls ||
                         a[i].edits != b[i].edits;
                word_shown += a[i].edits && a[i].cls == rank_cls_edit(a[i].edits, 1);
                typo_shown += a[i].edits && a[i].cls == rank_cls_edit(a[i].edits, 0);
            }
            if (differ) {
                fprintf(stderr, "'%.*s' k %u topn %u edits %u word %u: %zu vs %zu shown\n", (int)pl, p, kk, topn,
                        m.edits, m.word_edits, na, nb);
                for (size_t i = 0; i < na || i < nb; i++)
                    fprintf(stderr, "  %-40.*s c%u e%u | %.*s c%u e%u\n", i < na ? (int)a[i].len : 0, a[i].q,
                            i < na ? a[i].cls : 0, i < na ? a[i].edits : 0, i < nb ? (int)b[i].len : 0, b[i].q,
                            i < nb ? b[i].cls : 0, i < nb ? b[i].edits : 0);
            }
            assert_false(differ);
        }
        rank_req_free(&r);
        trie_words_free(w);
        trie_free(t);
    }
    printf("%lu texts: the last word's search skipped for %lu, narrowed to one edit for %lu; shown: %lu word "
           "matches, %lu typo completions\n", texts, skipped, narrowed, word_shown, typo_shown);
    assert_true(skipped > 100 && narrowed > 20 && word_shown > 200 && typo_shown > 200);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_word_skip_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
