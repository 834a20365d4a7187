/* Snapshot tests for trie/trie_snapshot.c: round trips (random and empty
 * tries) give identical contents, ids and top-k; files are written as
 * version 4 with XXH3 checksums, and version 1 and version 3 files (qsum64
 * checksums) written by earlier code still load; every flipped byte, every
 * truncation, a wrong magic, a wrong version and an empty file are refused
 * with TRIE_EFORMAT and a reason; a failed save leaves the old file intact;
 * a header whose id bound the file cannot justify is refused before any big
 * allocation (white box: includes trie_internal.h for the checksum and the
 * limit). Files go to $QAC_TMP (or a mkdtemp directory). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/alloc.h"
#include "common/endian.h"
#include "trie/trie.h"
#include "trie/trie_internal.h"
#include "tests/helpers.h"

static char dir[512];

static uint64_t rs = 12345;
static uint32_t rnd(uint32_t n) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (uint32_t)(rs % n);
}

/* A random trie: UTF-8 and shared prefixes, displays, ties, some deletes
 * (so the id space has holes). */
static trie *random_trie(int n) {
    static const char *const P[] = {"a", "b", "ab", " ", "new ", "\xc3\xa9", "\xe6\x97\xa5", "x", "yz"};
    trie *t = trie_new();
    for (int i = 0; i < n; i++) {
        char k[64], d[64];
        size_t kl = 0;
        int parts = 1 + (int)rnd(6);
        for (int j = 0; j < parts; j++) {
            const char *p = P[rnd(sizeof P / sizeof P[0])];
            memcpy(k + kl, p, strlen(p));
            kl += strlen(p);
        }
        size_t dl = (size_t)snprintf(d, sizeof d, "D%u", rnd(1000));
        assert_int_equal(trie_set(t, k, kl, rnd(3) ? NULL : d, dl, (double)rnd(5) - 1.5, NULL), 0);
        if (rnd(5) == 0) trie_del(t, k, kl);
    }
    assert_trie_ok(t);
    return t;
}

/* Same keys, displays, scores, ids, and same top-k for a prefix of every key. */
static void assert_same(const trie *a, const trie *b) { assert_tries_same(a, b, rnd, SIZE_MAX); }

static char *path_of(const char *name) {
    static char buf[4][600];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, 600, "%s/%s", dir, name);
    return p;
}

static void *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc(*len ? *len : 1);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

/* Loads path and expects TRIE_EFORMAT with a non-empty reason. */
static void expect_bad(const char *path, const char *what) {
    trie *t = (trie *)1;
    char err[200] = "";
    int rc = trie_load(path, &t, err, sizeof err);
    if (rc != TRIE_EFORMAT) fail_msg("%s: load returned %d (%s), want TRIE_EFORMAT", what, rc, err);
    assert_null(t);
    assert_true(strlen(err) > 0);
}

static void test_round_trip(void **state) {
    (void)state;
    for (int n = 0; n <= 3000; n = n ? n * 6 : 1) {
        trie *t = n ? random_trie(n) : trie_new();
        const char *p = path_of("rt.snap");
        assert_int_equal(trie_save(t, p), 0);
        assert_int_equal(access(path_of("rt.snap.tmp"), F_OK), -1); /* no temp left behind */
        trie *u = NULL;
        char err[200];
        int rc = trie_load(p, &u, err, sizeof err);
        if (rc) fail_msg("load: %s", err);
        assert_trie_ok(u);
        assert_same(t, u);
        assert_int_equal(trie_id_bound(u) <= trie_id_bound(t), 1);
        /* the loaded trie is fully alive: change it and save again */
        assert_int_equal(trie_set(u, "zzz", 3, NULL, 0, 99, NULL), 0);
        assert_int_equal(trie_set(t, "zzz", 3, NULL, 0, 99, NULL), 0);
        assert_trie_ok(u);
        trie_hit h;
        assert_int_equal(trie_get(u, "zzz", 3, &h), 1);
        assert_int_equal(trie_save(u, p), 0);
        trie *w = NULL;
        assert_int_equal(trie_load(p, &w, err, sizeof err), 0);
        assert_trie_ok(w);
        assert_same(u, w);
        trie_free(t);
        trie_free(u);
        trie_free(w);
    }
}

static void test_corruption(void **state) {
    (void)state;
    trie *t = random_trie(60);
    const char *good = path_of("good.snap"), *bad = path_of("bad.snap");
    assert_int_equal(trie_save(t, good), 0);
    size_t len;
    uint8_t *b = read_file(good, &len);
    assert_true(len > 200);
    char what[64];
    /* a flipped byte anywhere (every position, several bit patterns) */
    for (size_t i = 0; i < len; i++) {
        uint8_t save = b[i];
        b[i] ^= (uint8_t)(1u << (i % 8));
        write_file(bad, b, len);
        snprintf(what, sizeof what, "flipped byte %zu", i);
        expect_bad(bad, what);
        b[i] = save;
    }
    /* truncated at every length, including empty */
    for (size_t l = 0; l < len; l++) {
        write_file(bad, b, l);
        snprintf(what, sizeof what, "truncated to %zu", l);
        expect_bad(bad, what);
    }
    /* one byte too many */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, b, len);
    longer[len] = 0;
    write_file(bad, longer, len + 1);
    expect_bad(bad, "trailing byte");
    free(longer);
    char err[200];
    trie *u = NULL;
    /* wrong magic, wrong version, empty: the reason says which */
    memcpy(b, "NOTATRIE", 8);
    write_file(bad, b, len);
    assert_int_equal(trie_load(bad, &u, err, sizeof err), TRIE_EFORMAT);
    assert_non_null(strstr(err, "magic"));
    b = memcpy(b, "QACTRIE", 8);
    b[8] = SNAP_VERSION + 1; /* one past the newest version */
    write_file(bad, b, len);
    assert_int_equal(trie_load(bad, &u, err, sizeof err), TRIE_EFORMAT);
    assert_non_null(strstr(err, "version"));
    write_file(bad, b, 0);
    assert_int_equal(trie_load(bad, &u, err, sizeof err), TRIE_EFORMAT);
    assert_non_null(strstr(err, "empty"));
    write_file(bad, "hello world, this is not a snapshot at all, really not at all.....", 66);
    assert_int_equal(trie_load(bad, &u, err, sizeof err), TRIE_EFORMAT);
    assert_int_equal(trie_load(path_of("missing.snap"), &u, err, sizeof err), TRIE_EIO);
    assert_null(u);
    /* the good file still loads */
    assert_int_equal(trie_load(good, &u, err, sizeof err), 0);
    assert_same(t, u);
    trie_free(u);
    free(b);
    trie_free(t);
}

/* A version-1 snapshot (64-byte header without a tag), as the version-1
 * writer produced it for: new 3, news 7 (display "News"), nab -1.5, with ids
 * new=0 news=1 nab=2. It still loads, with tag 0. */
static const uint8_t V1_SNAP[] = {
    0x51, 0x41, 0x43, 0x54, 0x52, 0x49, 0x45, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x40, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x03, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xe0, 0xef, 0x59, 0x4d, 0x47, 0x38, 0x28, 0x5a, 0xb7, 0xaf, 0xde, 0xbd,
    0xfe, 0x03, 0x48, 0xb7, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0xbf, 0x6e, 0x61,
    0x62, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x40, 0x65, 0x77, 0x03, 0x00, 0x01,
    0x00, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x1c, 0x40, 0x73, 0x4e, 0x65, 0x77, 0x73,
};

/* Every tag value survives a save and load. */
static void test_tag_round_trip(void **state) {
    (void)state;
    char err[200];
    trie *t = trie_new(), *u = NULL;
    assert_int_equal(trie_tag(t), 0);
    assert_int_equal(trie_set(t, "abc", 3, NULL, 0, 1, NULL), 0);
    const uint32_t tags[] = {1, 0xdeadbeefu, UINT32_MAX, 0};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        trie_set_tag(t, tags[i]);
        assert_int_equal(trie_tag(t), tags[i]);
        assert_int_equal(trie_save(t, path_of("tag.snap")), 0);
        assert_int_equal(trie_load(path_of("tag.snap"), &u, err, sizeof err), 0);
        assert_int_equal(trie_tag(u), tags[i]);
        assert_same(t, u);
        trie_free(u);
    }
    trie_free(t);
}

/* The tag is covered by the header checksum. */
static void test_tag_in_header_checksum(void **state) {
    (void)state;
    char err[200];
    trie *t, *u = NULL;
    trie_set_tag(t = trie_new(), 7);
    assert_int_equal(trie_save(t, path_of("tag.snap")), 0);
    size_t len;
    uint8_t *b = read_file(path_of("tag.snap"), &len);
    b[44] ^= 1;
    write_file(path_of("tag.snap"), b, len);
    assert_int_equal(trie_load(path_of("tag.snap"), &u, err, sizeof err), TRIE_EFORMAT);
    assert_null(u);
    free(b);
    trie_free(t);
}

/* A version 1 file (no tag) written by earlier code still loads. */
static void test_version1_loads(void **state) {
    (void)state;
    char err[200];
    trie *u = NULL;
    write_file(path_of("v1.snap"), V1_SNAP, sizeof V1_SNAP);
    assert_int_equal(trie_load(path_of("v1.snap"), &u, err, sizeof err), 0);
    assert_int_equal(trie_tag(u), 0);
    assert_int_equal(trie_count(u), 3);
    trie_hit h;
    assert_int_equal(trie_get(u, "news", 4, &h), 1);
    assert_int_equal(h.id, 1);
    assert_true(h.score == 7);
    assert_memory_equal(trie_hit_display(&h), "News", 4);
    assert_int_equal(trie_get(u, "nab", 3, &h), 1);
    assert_int_equal(h.id, 2);
    assert_true(h.score == -1.5);
    trie_hit out[3];
    assert_int_equal(trie_topk(u, "n", 1, 3, out), 3);
    assert_memory_equal(trie_hit_key(&out[0]), "news", 4);
    assert_memory_equal(trie_hit_key(&out[1]), "new", 3);
    assert_memory_equal(trie_hit_key(&out[2]), "nab", 3);
    assert_trie_ok(u);
    trie_free(u);
}

/* A version-3 snapshot (qsum64 checksums) as the version-3 code wrote it:
 * `qac build --format counts` of commit 500cf74 on the query<TAB>count lines
 *   new york 9, New York Times 12, newark 5, news 7, Café Paris 4,
 *   cafe paris 1, zebra 2, 日本 3 (and nab -1, refused as a bad count)
 * (xxd -i of the 312-byte file). Its symbol table was trained on the keys,
 * so the records hold coded text. `qac complete -k 10 ''` of that commit on
 * it printed the order checked below. */
static const uint8_t V3_SNAP[] = {
    0x51, 0x41, 0x43, 0x54, 0x52, 0x49, 0x45, 0x00, 0x03, 0x00, 0x00, 0x00,
    0x40, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x07, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x38, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x07, 0x66, 0x96, 0xdb, 0x49, 0x13, 0x0d, 0xda, 0x35, 0xe3, 0xb8, 0xa5,
    0x51, 0x44, 0xd8, 0x93, 0x20, 0x01, 0x08, 0x01, 0x01, 0x01, 0x01, 0x08,
    0x08, 0x06, 0x06, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x04, 0x03, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x6e, 0x6e, 0x65, 0x77, 0x20, 0x79, 0x6f, 0x72, 0x6b, 0x20, 0x69,
    0x72, 0xe6, 0x43, 0x61, 0x66, 0xc3, 0xa9, 0x20, 0x50, 0x61, 0x63, 0x61,
    0x66, 0x65, 0x20, 0x70, 0x61, 0x72, 0x20, 0x74, 0x69, 0x6d, 0x65, 0x73,
    0x6e, 0x65, 0x77, 0x61, 0x72, 0x6b, 0x7a, 0x65, 0x62, 0x72, 0x61, 0x43,
    0x4e, 0x59, 0x63, 0x65, 0x77, 0x7a, 0x97, 0x9c, 0xa5, 0xac, 0x6e, 0x65,
    0x77, 0x73, 0x72, 0x69, 0x73, 0x20, 0x54, 0x4e, 0x65, 0x59, 0x6f, 0x65,
    0x73, 0x69, 0x6d, 0x69, 0x73, 0x72, 0x6b, 0x77, 0x20, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x40, 0x02, 0x00, 0x02,
    0x00, 0x07, 0x1d, 0x06, 0x17, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x22, 0x40, 0x01, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x28, 0x40, 0x02, 0x00,
    0x07, 0x00, 0x01, 0x08, 0x19, 0x1f, 0x1a, 0x1e, 0x18, 0x1c, 0x1b, 0x03,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x40, 0x01,
    0x00, 0x00, 0x00, 0x09, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x1c, 0x40, 0x01, 0x00, 0x00, 0x00, 0x16, 0x05, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00,
    0x00, 0x0a, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x08, 0x40, 0x06, 0x00, 0x00, 0x00, 0x05, 0x12, 0x14, 0x05, 0x13, 0x15
};

/* qsum64 (versions 1..3) and XXH3 (version 4) files: the version alone says
 * which checksum is read. */
static void test_version3_and_xxh3(void **state) {
    (void)state;
    char err[200];
    trie *u = NULL, *w = NULL;
    /* the old file's checksums are qsum64's, not XXH3's */
    assert_int_equal(le_get32(V3_SNAP + 8), 3);
    assert_true(le_get64(V3_SNAP + 56) == trie__snap_sum(3, V3_SNAP, 56));
    assert_true(le_get64(V3_SNAP + 56) != XXH3_64bits(V3_SNAP, 56));
    assert_true(le_get64(V3_SNAP + 48) == trie__snap_sum(3, V3_SNAP + 64, sizeof V3_SNAP - 64));
    write_file(path_of("v3.snap"), V3_SNAP, sizeof V3_SNAP);
    if (trie_load(path_of("v3.snap"), &u, err, sizeof err)) fail_msg("load v3: %s", err);
    assert_trie_ok(u);
    assert_int_equal(trie_count(u), 7);
    assert_int_equal(trie_tag(u), 0);
    static const struct {
        const char *key, *disp;
        double score;
    } want[] = {
        {"new york times", "New York Times", 12},
        {"new york", "new york", 9},
        {"news", "news", 7},
        {"cafe paris", "Caf\xc3\xa9 Paris", 5},
        {"newark", "newark", 5},
        {"\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac", 3}, /* 日本 */
        {"zebra", "zebra", 2},
    };
    trie_hit h[TRIE_MAX_K];
    assert_int_equal(trie_topk(u, "", 0, 10, h), 7);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(h[i].keylen, strlen(want[i].key));
        assert_memory_equal(trie_hit_key(&h[i]), want[i].key, h[i].keylen);
        assert_int_equal(h[i].displen, strlen(want[i].disp));
        assert_memory_equal(trie_hit_display(&h[i]), want[i].disp, h[i].displen);
        assert_true(h[i].score == want[i].score);
    }
    /* saved again: version 4, both checksums XXH3_64bits (computed here
     * with libxxhash directly, not through the loader's code) */
    assert_int_equal(trie_save(u, path_of("v4.snap")), 0);
    size_t len;
    uint8_t *b = read_file(path_of("v4.snap"), &len);
    assert_int_equal(le_get32(b + 8), 4);
    assert_int_equal(SNAP_VERSION, 4);
    assert_true(le_get64(b + 48) == XXH3_64bits(b + 64, len - 64));
    assert_true(le_get64(b + 56) == XXH3_64bits(b, 56));
    if (trie_load(path_of("v4.snap"), &w, err, sizeof err)) fail_msg("load v4: %s", err);
    assert_trie_ok(w);
    assert_same(u, w);
    trie_free(w);
    /* the same payload relabelled version 3 with a right qsum64 header
     * checksum: its payload checksum is XXH3's, so qsum64 refuses it */
    le_put32(b + 8, 3);
    le_put64(b + 56, trie__snap_sum(3, b, 56));
    write_file(path_of("relabel.snap"), b, len);
    assert_int_equal(trie_load(path_of("relabel.snap"), &w, err, sizeof err), TRIE_EFORMAT);
    assert_non_null(strstr(err, "checksum mismatch"));
    /* and the old file relabelled version 4: XXH3 refuses its qsum64 payload checksum */
    uint8_t v[sizeof V3_SNAP];
    memcpy(v, V3_SNAP, sizeof v);
    le_put32(v + 8, 4);
    le_put64(v + 56, XXH3_64bits(v, 56));
    write_file(path_of("relabel.snap"), v, sizeof v);
    assert_int_equal(trie_load(path_of("relabel.snap"), &w, err, sizeof err), TRIE_EFORMAT);
    assert_non_null(strstr(err, "checksum mismatch"));
    assert_null(w);
    free(b);
    trie_free(u);
}

static void test_save_failure_keeps_old(void **state) {
    (void)state;
    trie *t = random_trie(200), *t2 = random_trie(50), *u = NULL;
    const char *p = path_of("keep.snap");
    char err[200];
    assert_int_equal(trie_save(t, p), 0);
    /* PATH.tmp cannot be created (it is a directory): save fails, old file stays */
    assert_int_equal(mkdir(path_of("keep.snap.tmp"), 0755), 0);
    errno = 0;
    assert_int_equal(trie_save(t2, p), TRIE_EIO);
    assert_true(errno != 0);
    assert_int_equal(trie_load(p, &u, err, sizeof err), 0);
    assert_same(t, u);
    trie_free(u);
    rmdir(path_of("keep.snap.tmp"));
    /* a directory that does not exist */
    assert_int_equal(trie_save(t2, path_of("no/such/dir/x.snap")), TRIE_EIO);
    /* an unwritable directory (only meaningful when not root) */
    if (geteuid() != 0) {
        assert_int_equal(mkdir(path_of("ro"), 0755), 0);
        assert_int_equal(trie_save(t, path_of("ro/x.snap")), 0);
        chmod(path_of("ro"), 0555);
        assert_int_equal(trie_save(t2, path_of("ro/x.snap")), TRIE_EIO);
        chmod(path_of("ro"), 0755);
        assert_int_equal(trie_load(path_of("ro/x.snap"), &u, err, sizeof err), 0);
        assert_same(t, u);
        trie_free(u);
        unlink(path_of("ro/x.snap"));
        rmdir(path_of("ro"));
    }
    trie_free(t);
    trie_free(t2);
}

/* A valid snapshot of one key "k" (score 1) with id `id` and header id
 * bound `idb`, checksums right: only the id bound can be wrong. */
static size_t one_key_snap(uint8_t *f, uint32_t idb, uint32_t id) {
    size_t n = SNAP_HDR + SNAP_REC + 1;
    memset(f, 0, n);
    memcpy(f, "QACTRIE", 8);
    le_put32(f + 8, 2);
    le_put32(f + 12, SNAP_HDR);
    le_put64(f + 16, 1); /* key count */
    le_put32(f + 24, idb);
    le_put32(f + 28, 1); /* nodes: the root */
    le_put64(f + 32, n);
    le_put32(f + 40, 4); /* key bytes: one 4-byte arena chunk */
    uint8_t *r = f + SNAP_HDR;
    le_put16(r + 2, 1); /* suffix length */
    le_put32(r + 6, id);
    le_put_f64(r + 10, 1);
    r[SNAP_REC] = 'k';
    le_put64(f + 48, trie__snap_sum(2, f + SNAP_HDR, n - SNAP_HDR));
    le_put64(f + 56, trie__snap_sum(2, f, 56));
    return n;
}

/* fuzz regress snapshot/oom-idbound: an 83-byte file claiming ~553 M ids
 * asked for 8.8 GB before reading a record. Now the id bound is limited by
 * the key count (SNAP_MAX_ID_BOUND), checked before any allocation. */
static void test_id_bound_limit(void **state) {
    (void)state;
    uint8_t f[128];
    const char *p = path_of("ids.snap");
    char err[200];
    trie *t = NULL;
    uint32_t lim = (uint32_t)SNAP_MAX_ID_BOUND(1);
    /* at the limit: loads, the key keeps its id, every lower id is free */
    write_file(p, f, one_key_snap(f, lim, lim - 1));
    if (trie_load(p, &t, err, sizeof err)) fail_msg("load at the limit: %s", err);
    assert_int_equal(trie_id_bound(t), lim);
    trie_hit h;
    assert_int_equal(trie_get(t, "k", 1, &h), 1);
    assert_int_equal(h.id, lim - 1);
    assert_trie_ok(t);
    uint32_t nid;
    assert_int_equal(trie_set(t, "j", 1, NULL, 0, 2, &nid), 0);
    assert_true(nid < lim - 1); /* a free id is reused */
    trie_free(t);
    /* one over: refused with a reason, before allocating (an allocation
     * failure injected at the first qmalloc would say "out of memory") */
    write_file(p, f, one_key_snap(f, lim + 1, 0));
    expect_bad(p, "id bound one over the limit");
    qalloc_fail_after(1, 1);
    t = (trie *)1;
    assert_int_equal(trie_load(p, &t, err, sizeof err), TRIE_EFORMAT);
    assert_int_equal(qalloc_failures(), 0);
    qalloc_fail_after(0, 0);
    assert_null(t);
    assert_non_null(strstr(err, "id bound"));
    /* the reproducer's numbers */
    write_file(p, f, one_key_snap(f, 0x21000001u, 0x00ffff00u));
    t = (trie *)1;
    assert_int_equal(trie_load(p, &t, err, sizeof err), TRIE_EFORMAT);
    assert_null(t);
    assert_non_null(strstr(err, "id bound"));
}

static int count_cb(void *ud, const trie_hit *h) {
    (void)h;
    ++*(int *)ud;
    return 0;
}

/* Empty tries never touched the child pool (NULL): foreach, save, check and
 * top-k must not compute NULL + 0 (clang UBSan: "applying zero offset to
 * null pointer" in kid_bytes). Both kinds: trie_new and an empty builder. */
static void test_empty_tries(void **state) {
    (void)state;
    trie_builder *b = trie_builder_new();
    assert_non_null(b);
    trie *e[2] = {trie_new(), NULL};
    assert_int_equal(trie_builder_finish(b, &e[1]), 0);
    for (int i = 0; i < 2; i++) {
        int n = 0;
        assert_int_equal(trie_foreach(e[i], count_cb, &n), 0);
        assert_int_equal(n, 0);
        trie_hit h[TRIE_MAX_K];
        assert_int_equal(trie_topk(e[i], "", 0, TRIE_MAX_K, h), 0);
        assert_int_equal(trie_topk(e[i], "abc", 3, 5, h), 0);
        assert_trie_ok(e[i]);
        const char *p = path_of("empty.snap");
        assert_int_equal(trie_save(e[i], p), 0);
        trie *u = NULL;
        char err[200];
        if (trie_load(p, &u, err, sizeof err)) fail_msg("load empty: %s", err);
        assert_int_equal(trie_count(u), 0);
        assert_int_equal(trie_id_bound(u), 0);
        assert_trie_ok(u);
        trie_free(u);
        trie_free(e[i]);
    }
}

int main(void) {
    if (make_tmpdir(dir, sizeof dir, "trie-snap") != 0) {
        perror("mkdtemp");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_save_failure_keeps_old),
        cmocka_unit_test(test_tag_round_trip),
        cmocka_unit_test(test_tag_in_header_checksum),
        cmocka_unit_test(test_version1_loads),
        cmocka_unit_test(test_version3_and_xxh3),
        cmocka_unit_test(test_id_bound_limit),
        cmocka_unit_test(test_empty_tries),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (remove_tree(dir) != 0) rc = rc ? rc : 1;
    return rc;
}
