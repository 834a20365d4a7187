/* test_trie_words_snap.c -- the saved word index (trie/trie_words_snap.c):
 * a round trip answers as a fresh build and passes trie_words_check, also
 * after live changes on the loaded index; every kind of damage is refused
 * with a reason: each byte flipped, each truncation, another version (the
 * version-2 file with the forward index: refused, the index built),
 * another snapshot's file, a missing file; a flip with the checksums
 * recomputed (what the checksum cannot see) never crashes (run it under
 * the sanitizer build) and most are refused by the field checks. The
 * build's record of word ids in chunks of 8 entries writes the same file
 * as in its default chunks, and every allocation of a build failed in turn
 * fails it with TRIE_ENOMEM and nothing leaked (the sanitizer build).
 * (The differential test with save/load between live changes is in
 * test_trie_words.c, run_differential.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/alloc.h"
#include "common/endian.h"
#include "trie/trie.h"
#include "trie/trie_words.h"
#include "trie/trie_words_internal.h"

static uint64_t rs;
static uint32_t rnd(uint32_t n) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (uint32_t)(rs % n);
}

static const char *W[] = {"new", "york", "times", "pa", "yankees", "newark", "airport", "pizza", "near", "me",
                          "caf\xc3\xa9", "zurich", "zoo", "a", "ab", "abc", "the", "best", "of", "on"};
#define NW (sizeof W / sizeof *W)

static char P_TRIE[512], P_WORDS[600];

/* A trie of n random keys (1-6 words) with some deleted, and its index. */
static void make(trie **t, trie_words **w, int n, uint64_t seed) {
    rs = seed * 2654435761u + 7;
    *t = trie_new();
    for (int i = 0; i < n; i++) {
        char k[128];
        size_t kl = 0;
        int nw = 1 + (int)rnd(6);
        for (int j = 0; j < nw; j++) {
            const char *x = W[rnd(NW)];
            if (kl) k[kl++] = ' ';
            memcpy(k + kl, x, strlen(x));
            kl += strlen(x);
        }
        assert_int_equal(trie_set(*t, k, kl, NULL, 0, (double)rnd(1000), NULL), 0);
    }
    assert_int_equal(trie_words_build(*t, w), 0);
}

/* Saves t and w, reloads t: *t2 and its id. */
static void save_both(const trie *t, const trie_words *w, trie **t2, uint64_t *id) {
    uint64_t cnt;
    char err[256];
    assert_int_equal(trie_save(t, P_TRIE), 0);
    assert_int_equal(trie_snapshot_id(P_TRIE, id, &cnt), 0);
    assert_int_equal(trie_words_save(w, P_WORDS, *id, cnt), 0);
    assert_int_equal(trie_load(P_TRIE, t2, err, sizeof err), 0);
}

static void same_answers(const trie_words *a, const trie *ta, const trie_words *b, const trie *tb) {
    static trie_words_hit ha[64], hb[64];
    for (int i = 0; i < 400; i++) {
        char q[64];
        size_t ql = 0;
        int nq = 1 + (int)rnd(3);
        for (int j = 0; j < nq; j++) {
            const char *x = W[rnd(NW)];
            size_t xl = strlen(x), cut = j == nq - 1 && rnd(2) ? 1 + rnd((uint32_t)xl) : xl;
            if (ql) q[ql++] = ' ';
            memcpy(q + ql, x, cut);
            ql += cut;
        }
        unsigned k = 1 + rnd(40);
        int na = trie_words_topk(a, ta, q, ql, k, ha, NULL), nb = trie_words_topk(b, tb, q, ql, k, hb, NULL);
        assert_int_equal(na, nb);
        for (int j = 0; j < na; j++) {
            assert_int_equal(ha[j].hit.keylen, hb[j].hit.keylen);
            assert_memory_equal(ha[j].hit.text, hb[j].hit.text, ha[j].hit.keylen);
            assert_true(ha[j].hit.score == hb[j].hit.score);
            assert_int_equal(ha[j].cls, hb[j].cls);
        }
    }
}

static void test_round_trip(void **state) {
    (void)state;
    trie *t, *t2;
    trie_words *w, *w2 = NULL, *fresh;
    char err[256];
    uint64_t id;
    make(&t, &w, 3000, 1);
    /* live changes before the save: tombstones, new words, raised bounds */
    for (int i = 0; i < 300; i++) {
        trie_hit h;
        char k[64];
        int kl = snprintf(k, sizeof k, "%s %s", W[rnd(NW)], W[rnd(NW)]);
        if (trie_get(t, k, (size_t)kl, &h)) {
            assert_int_equal(trie_del(t, k, (size_t)kl), 0);
            assert_int_equal(trie_words_del(w, h.id, k, (size_t)kl), 0);
        } else {
            kl = snprintf(k, sizeof k, "fresh%d %s", i, W[rnd(NW)]);
            uint32_t nid;
            assert_int_equal(trie_set(t, k, (size_t)kl, NULL, 0, 5000.0 + i, &nid), 0);
            assert_int_equal(trie_words_add(w, nid, k, (size_t)kl, 5000.0 + i), 0);
        }
    }
    save_both(t, w, &t2, &id);
    int rc = trie_words_load(P_WORDS, t2, id, &w2, err, sizeof err);
    if (rc) fprintf(stderr, "load: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(trie_words_check(w2, t2, err, sizeof err), 0);
    assert_int_equal(trie_words_build(t2, &fresh), 0);
    same_answers(w2, t2, fresh, t2);
    same_answers(w2, t2, w, t);
    trie_words_mem ma, mb;
    trie_words_memory(w, &ma);
    trie_words_memory(w2, &mb);
    assert_int_equal(ma.words, mb.words);
    assert_int_equal(ma.postings, mb.postings);
    trie_words_free(fresh);
    trie_words_free(w2);
    trie_words_free(w);
    trie_free(t2);
    trie_free(t);
}

/* The rank records on 2 MB pages (trie_words__rr_alloc) at any size:
 * aligned after a build and after a load, grown by live adds (qrealloc of
 * the aligned block), and the index answers as a fresh build does. */
static void test_rr_huge_pages(void **state) {
    (void)state;
    size_t floor0 = trie_words__rr_huge_min;
    trie_words__rr_huge_min = 0;
    unsetenv("QAC_NO_HUGE_PAGES");
    trie *t, *t2;
    trie_words *w, *w2 = NULL, *fresh;
    char err[256];
    uint64_t id;
    make(&t, &w, 3000, 7);
    assert_int_equal((uintptr_t)w->rr & ((2u << 20) - 1), 0);
    for (int i = 0; i < 2000; i++) { /* past the records' room: they grow */
        char k[64];
        int kl = snprintf(k, sizeof k, "grown%d %s", i, W[rnd(NW)]);
        uint32_t nid;
        assert_int_equal(trie_set(t, k, (size_t)kl, NULL, 0, 10.0 + i % 50, &nid), 0);
        assert_int_equal(trie_words_add(w, nid, k, (size_t)kl, 10.0 + i % 50), 0);
    }
    assert_int_equal(trie_words_check(w, t, err, sizeof err), 0);
    save_both(t, w, &t2, &id);
    assert_int_equal(trie_words_load(P_WORDS, t2, id, &w2, err, sizeof err), 0);
    assert_int_equal((uintptr_t)w2->rr & ((2u << 20) - 1), 0);
    assert_int_equal(trie_words_check(w2, t2, err, sizeof err), 0);
    assert_int_equal(trie_words_build(t2, &fresh), 0);
    assert_int_equal((uintptr_t)fresh->rr & ((2u << 20) - 1), 0);
    same_answers(w2, t2, fresh, t2);
    same_answers(w, t, fresh, t2);
    trie_words_free(fresh);
    trie_words_free(w2);
    trie_words_free(w);
    trie_free(t2);
    trie_free(t);
    trie_words__rr_huge_min = floor0;
}

static uint8_t *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}
static void spit(const char *p, const uint8_t *b, size_t n) {
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* The file the words index w of the trie t writes beside t's snapshot
 * (both saved; *id, *cnt: the snapshot's, for later saves). */
static uint8_t *first_file(trie *t, trie_words *w, uint64_t *id, uint64_t *cnt, size_t *n) {
    assert_int_equal(trie_save(t, P_TRIE), 0);
    assert_int_equal(trie_snapshot_id(P_TRIE, id, cnt), 0);
    assert_int_equal(trie_words_save(w, P_WORDS, *id, *cnt), 0);
    return slurp(P_WORDS, n);
}

/* w writes the file a (n bytes), byte for byte. */
static void assert_same_file(const trie_words *w, uint64_t id, uint64_t cnt, const uint8_t *a, size_t n) {
    size_t n2;
    assert_int_equal(trie_words_save(w, P_WORDS, id, cnt), 0);
    uint8_t *b = slurp(P_WORDS, &n2);
    assert_int_equal(n, n2);
    assert_memory_equal(a, b, n);
    free(b);
}

/* Loads P_WORDS for t2: the return code, the reason in err. */
static int try_load(const trie *t2, uint64_t id, char *err, size_t cap) {
    trie_words *w = NULL;
    int rc = trie_words_load(P_WORDS, t2, id, &w, err, cap);
    if (rc == 0) {
        assert_non_null(w);
        trie_words_free(w);
    } else {
        assert_null(w);
        assert_true(err[0] != 0);
    }
    return rc;
}

/* The saved file's words, walked as trie_words_snap.c's FORMAT lays them
 * out: the first word's offset (after the keys' arrays: rank and kb by id,
 * id and signature by rank), then, from a word's offset, the offset of its
 * fields (u32 n, cap, live, gn, last, u16 top) in *q and of its blocks'
 * widths in *bw; returns the next word's offset. */
static size_t first_word(const uint8_t *b) {
    return 128 + (size_t)le_get32(b + 32) * 6 + (size_t)le_get32(b + 36) * 8;
}
static size_t next_word(const uint8_t *b, size_t at, size_t *q, size_t *bw) {
    *q = at + 2 + le_get16(b + at);
    uint32_t wn = le_get32(b + *q), cap = le_get32(b + *q + 4), gn = le_get32(b + *q + 12);
    uint32_t nb = tw_nblk(wn), off[TW_MAXLV], sz[TW_MAXLV], tot;
    tw_levels(cap, off, sz, &tot);
    *bw = *q + 22 + (size_t)nb * 4;
    return *bw + nb + (size_t)tot * 2 + gn;
}

static void reseal(uint8_t *b, size_t n) {
    le_put64(b + 80, XXH3_64bits(b + 128, n - 128));
    le_put64(b + 120, XXH3_64bits(b, 120));
}

static void test_damage(void **state) {
    (void)state;
    trie *t, *t2;
    trie_words *w;
    uint64_t id;
    char err[256];
    make(&t, &w, 200, 2);
    save_both(t, w, &t2, &id);
    size_t n;
    uint8_t *good = slurp(P_WORDS, &n), *b = malloc(n);
    assert_int_equal(try_load(t2, id, err, sizeof err), 0);
    /* every byte flipped: refused (header or payload checksum) */
    for (size_t i = 0; i < n; i += i < 128 ? 1 : 7) {
        memcpy(b, good, n);
        b[i] ^= (uint8_t)(1u << (i % 8));
        spit(P_WORDS, b, n);
        assert_int_not_equal(try_load(t2, id, err, sizeof err), 0);
    }
    /* every truncation, and a byte appended */
    for (size_t i = 0; i < n; i += 1 + i / 64) {
        spit(P_WORDS, good, i);
        assert_int_not_equal(try_load(t2, id, err, sizeof err), 0);
    }
    memcpy(b, good, n);
    spit(P_WORDS, good, n - 1);
    assert_int_not_equal(try_load(t2, id, err, sizeof err), 0);
    /* another version (version 2 in test_old_version) */
    memcpy(b, good, n);
    le_put32(b + 8, 1); /* version 1: ranks of equal score in id order, not key order */
    reseal(b, n);
    spit(P_WORDS, b, n);
    assert_int_not_equal(try_load(t2, id, err, sizeof err), 0);
    assert_non_null(strstr(err, "version 1"));
    /* flips the checksums cannot see (resealed): never a crash; count refusals */
    unsigned refused = 0, total = 0;
    for (size_t i = 128; i < n; i += 3) {
        memcpy(b, good, n);
        b[i] ^= (uint8_t)(1u << (i % 8));
        reseal(b, n);
        spit(P_WORDS, b, n);
        trie_words *x = NULL;
        total++;
        if (trie_words_load(P_WORDS, t2, id, &x, err, sizeof err)) refused++;
        else { /* loaded: still a sound structure to query */
            static trie_words_hit h[16];
            assert_true(trie_words_topk(x, t2, "new yo", 6, 16, h, NULL) >= 0);
            trie_words_free(x);
        }
    }
    printf("resealed flips: %u of %u refused by the field checks\n", refused, total);
    assert_true(refused > total / 2);
    /* missing */
    unlink(P_WORDS);
    assert_int_equal(try_load(t2, id, err, sizeof err), TRIE_EIO);
    free(b);
    free(good);
    trie_words_free(w);
    trie_free(t2);
    trie_free(t);
}

/* A word whose bound code is not a finite score (NaN) is refused as a bad
 * file, TRIE_EFORMAT, not passed on to the dictionary's builder (which
 * refused it with TRIE_EINVAL, "invalid argument": fuzz_words_snap,
 * tests/fuzz/regress/words_snap/nan-word-bound). */
static void test_bad_bound(void **state) {
    (void)state;
    trie *t, *t2;
    trie_words *w;
    uint64_t id;
    char err[256];
    make(&t, &w, 50, 4);
    save_both(t, w, &t2, &id);
    size_t n;
    uint8_t *b = slurp(P_WORDS, &n);
    size_t q, bw;
    next_word(b, first_word(b), &q, &bw);
    size_t top = q + 20; /* word 0's bound */
    assert_true(top + 2 <= n);
    le_put16(b + top, 0xffc1); /* bval: 0x7fc10000, a NaN */
    reseal(b, n);
    spit(P_WORDS, b, n);
    assert_int_equal(try_load(t2, id, err, sizeof err), TRIE_EFORMAT);
    assert_non_null(strstr(err, "bad bound"));
    free(b);
    trie_words_free(w);
    trie_free(t2);
    trie_free(t);
}

/* A file of an older version -- 2 (it held the forward index, which
 * version 3 dropped), 3 (varint gaps, which version 4 packs), 4 (1-byte
 * signatures, which version 5 widens to 2), 5 (2-byte signatures, which
 * version 6 widens to 4): refused by
 * its version with its number, before any field is read, and
 * trie_words_open (what qac complete and eval call; the server logs the
 * same reason as infix.load_failed) builds the index instead: the same
 * answers. */
static void test_old_version(void **state) {
    (void)state;
    for (uint32_t v = 2; v <= 5; v++) {
        trie *t, *t2;
        trie_words *w, *x = NULL;
        uint64_t id;
        char err[256], why[256], want[80];
        make(&t, &w, 800, 9);
        save_both(t, w, &t2, &id);
        size_t n;
        uint8_t *b = slurp(P_WORDS, &n);
        assert_int_equal(le_get32(b + 8), 6);
        le_put32(b + 8, v);
        reseal(b, n);
        spit(P_WORDS, b, n);
        assert_int_equal(try_load(t2, id, err, sizeof err), TRIE_EFORMAT);
        snprintf(want, sizeof want, "unsupported word index version %u (this build reads 6)", v);
        assert_non_null(strstr(err, want));
        int loaded = -1;
        assert_int_equal(trie_words_open(P_TRIE, t2, &x, &loaded, why, sizeof why), TRIE_OK);
        assert_int_equal(loaded, 0);
        snprintf(want, sizeof want, "version %u", v);
        assert_non_null(strstr(why, want));
        assert_int_equal(trie_words_check(x, t2, err, sizeof err), 0);
        same_answers(x, t2, w, t);
        trie_words_free(x);
        free(b);
        trie_words_free(w);
        trie_free(t2);
        trie_free(t);
    }
}

/* A block of packed gaps whose width is over 32, or whose width disagrees
 * with the gap bytes (the blocks' sizes must sum to them), is refused as a
 * bad file (TRIE_EFORMAT), before any gap is decoded from it. */
static void test_bad_width(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        trie *t, *t2;
        trie_words *w;
        uint64_t id;
        char err[256];
        make(&t, &w, 800, 9);
        save_both(t, w, &t2, &id);
        size_t n;
        uint8_t *b = slurp(P_WORDS, &n);
        uint64_t nw = le_get32(b + 44);
        size_t at = first_word(b), q, bw;
        int done = 0;
        for (uint64_t i = 0; i < nw && !done; i++) { /* the first word with 3 blocks or more (block 1 full) */
            at = next_word(b, at, &q, &bw);
            if (tw_nblk(le_get32(b + q)) >= 3) {
                uint8_t *wb = b + bw + 1; /* block 1's width */
                assert_true(*wb <= 32);
                *wb = mode == 0 ? 33 : (uint8_t)(*wb == 32 ? 31 : *wb + 1);
                done = 1;
            }
        }
        assert_true(done);
        reseal(b, n);
        spit(P_WORDS, b, n);
        assert_int_equal(try_load(t2, id, err, sizeof err), TRIE_EFORMAT);
        assert_non_null(strstr(err, mode == 0 ? "block 1: width 33" : "gap bytes"));
        free(b);
        trie_words_free(w);
        trie_free(t2);
        trie_free(t);
    }
}

/* A word's live count that does not match its list (the ranks whose key is
 * live: counted against a bitmap of the live ranks, check_list) is
 * refused, resealed so that only the count is wrong: one less, one more. */
static void test_bad_live(void **state) {
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        trie *t, *t2;
        trie_words *w;
        uint64_t id;
        char err[256];
        make(&t, &w, 800, 11);
        for (int i = 0; i < 40; i++) { /* tombstones: deleted keys' ranks stay in the lists */
            trie_hit h;
            char k[64];
            int kl = snprintf(k, sizeof k, "%s %s", W[rnd(NW)], W[rnd(NW)]);
            if (!trie_get(t, k, (size_t)kl, &h)) continue;
            assert_int_equal(trie_del(t, k, (size_t)kl), 0);
            assert_int_equal(trie_words_del(w, h.id, k, (size_t)kl), 0);
        }
        save_both(t, w, &t2, &id);
        size_t n;
        uint8_t *b = slurp(P_WORDS, &n);
        uint64_t nw = le_get32(b + 44);
        size_t at = first_word(b), q, bw;
        int done = 0;
        for (uint64_t i = 0; i < nw && !done; i++) { /* the first word with a tombstone and 2+ live keys */
            at = next_word(b, at, &q, &bw);
            uint32_t wn = le_get32(b + q), live = le_get32(b + q + 8);
            if (live < wn && live >= 2) {
                le_put32(b + q + 8, mode == 0 ? live - 1 : live + 1);
                done = 1;
            }
        }
        assert_true(done);
        reseal(b, n);
        spit(P_WORDS, b, n);
        assert_int_equal(try_load(t2, id, err, sizeof err), TRIE_EFORMAT);
        assert_non_null(strstr(err, "live count disagrees"));
        free(b);
        trie_words_free(w);
        trie_free(t2);
        trie_free(t);
    }
}

/* A word index saved with one snapshot is refused for another one. */
static void test_other_snapshot(void **state) {
    (void)state;
    trie *t, *t2, *t3;
    trie_words *w;
    uint64_t id, id2, cnt;
    char err[256];
    make(&t, &w, 500, 3);
    save_both(t, w, &t2, &id);
    size_t n;
    uint8_t *old = slurp(P_WORDS, &n);
    /* the next generation: one score changed, same keys */
    assert_int_equal(trie_set(t, "new york", 8, NULL, 0, 123456.0, NULL), 0);
    assert_int_equal(trie_save(t, P_TRIE), 0);
    assert_int_equal(trie_snapshot_id(P_TRIE, &id2, &cnt), 0);
    assert_true(id2 != id);
    assert_int_equal(trie_load(P_TRIE, &t3, err, sizeof err), 0);
    spit(P_WORDS, old, n);
    assert_int_equal(try_load(t3, id2, err, sizeof err), TRIE_EFORMAT);
    assert_non_null(strstr(err, "another snapshot"));
    /* and a matching id with another trie (a different key count) */
    assert_int_equal(try_load(t3, id, err, sizeof err), trie_count(t3) == trie_count(t2) ? 0 : TRIE_EFORMAT);
    free(old);
    trie_words_free(w);
    trie_free(t3);
    trie_free(t2);
    trie_free(t);
}

/* Two builds of one trie write the same file, byte for byte, whatever
 * the heap held before: nothing of the allocator's leftovers (a gap
 * block's unused high bits were) reaches the disk. The heap is dirtied
 * with a pattern between the builds so that reused memory shows. */
static void test_same_file(void **state) {
    (void)state;
    trie *t;
    trie_words *w, *w2;
    uint64_t id, cnt;
    make(&t, &w, 3000, 5);
    size_t n1;
    uint8_t *a = first_file(t, w, &id, &cnt, &n1);
    trie_words_free(w);
    for (size_t sz = 16; sz <= (1u << 20); sz *= 2) { /* freed blocks of every size class, full of ones */
        void *junk[64];
        for (int i = 0; i < 64; i++) junk[i] = memset(malloc(sz), 0xff, sz);
        for (int i = 0; i < 64; i++) free(junk[i]);
    }
    assert_int_equal(trie_words_build(t, &w2), 0);
    assert_same_file(w2, id, cnt, a, n1);
    free(a);
    trie_words_free(w2);
    trie_free(t);
}

/* The build's record of each key's word ids (tw_seq) in chunks of 8
 * entries (keys across chunk ends, chunks freed as the fill reads them)
 * gives the file of the default chunks; each allocation of a build failed
 * in turn (and all from the first, sticky) fails it with TRIE_ENOMEM,
 * *out NULL and nothing leaked, until one succeeds with that same file
 * (the dictionary trie's trims are optional: a build may succeed with
 * one of them failed, and writes that file too). */
static void test_build_chunks_and_failures(void **state) {
    (void)state;
    trie *t;
    trie_words *w, *w2 = NULL;
    uint64_t id, cnt;
    size_t n1;
    char err[256];
    make(&t, &w, 800, 11);
    uint8_t *a = first_file(t, w, &id, &cnt, &n1);
    trie_words_free(w);
    uint32_t sh0 = trie_words__seq_shift;
    trie_words__seq_shift = 3;
    assert_int_equal(trie_words_build(t, &w2), 0);
    assert_int_equal(trie_words_check(w2, t, err, sizeof err), 0);
    assert_same_file(w2, id, cnt, a, n1);
    trie_words_free(w2);
    int failures = 0;
    for (unsigned long i = 1;; i++) {
        for (int sticky = 0; sticky < 2; sticky++) {
            w2 = (trie_words *)(uintptr_t)1;
            qalloc_fail_after(i, sticky);
            int rc = trie_words_build(t, &w2);
            unsigned long f = qalloc_failures();
            qalloc_fail_after(0, 0);
            if (rc != TRIE_OK) {
                assert_int_equal(rc, TRIE_ENOMEM);
                assert_true(f > 0);
                assert_null(w2);
                failures++;
                continue;
            }
            assert_same_file(w2, id, cnt, a, n1);
            trie_words_free(w2);
            if (sticky) goto done;
        }
    }
done:
    printf("build: %d allocation failures, each TRIE_ENOMEM\n", failures);
    assert_true(failures > 300); /* the 8-entry chunks alone are hundreds */
    trie_words__seq_shift = sh0;
    free(a);
    trie_free(t);
}

int main(void) {
    const char *tmp = getenv("QAC_TMP");
    snprintf(P_TRIE, sizeof P_TRIE, "%s/twsnap.%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    snprintf(P_WORDS, sizeof P_WORDS, "%s.words", P_TRIE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_rr_huge_pages),
        cmocka_unit_test(test_damage),
        cmocka_unit_test(test_other_snapshot),
        cmocka_unit_test(test_bad_bound),
        cmocka_unit_test(test_old_version),
        cmocka_unit_test(test_bad_width),
        cmocka_unit_test(test_same_file),
        cmocka_unit_test(test_bad_live),
        cmocka_unit_test(test_build_chunks_and_failures),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(P_TRIE);
    unlink(P_WORDS);
    return rc;
}
