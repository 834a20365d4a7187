/* fuzz_words_snap.c -- libFuzzer harness for the saved word index
 * (trie/trie_words_snap.c: trie_words_load of INDEX.words, trie_words_save).
 *
 * The file is tied to one trie snapshot (its id and key count) and sealed by
 * two XXH3 checksums, so random bytes stop at "checksum mismatch". The
 * harness builds fixed tries once (WS_NFIX fixtures: keys from a small word
 * list, some deleted, live changes on the index before the save, so that
 * dead ranks and tombstones are in the file; a tiny one; an empty one),
 * saves, reloads each trie and keeps its snapshot id; an input is a word
 * index file for one of them, resealed before the load.
 *
 * Input layout: byte 0 is a flag byte, the rest is the file.
 *   flag bits 0-1  the fixture (3 is 0)
 *   flag bit 2     raw: no checksums recomputed (otherwise, for a file of
 *                  at least the header: the payload checksum at 80 and then
 *                  the header checksum at 120)
 *   flag bit 3     keep the trie id and key count fields (otherwise set to
 *                  the fixture's, bytes 16 and 24)
 *   flag bit 4     keep the file size field (otherwise the input's, byte 72)
 * Checks:
 *   - a refusal is TRIE_EFORMAT with a one-line reason and no index;
 *   - the fixture's own file loads and passes trie_words_check;
 *   - any index that loads: trie_words_check runs (it may refuse a forged
 *     one: the loader leaves the words of the lists and the bounds to the
 *     checksum, trie_words_snap.c VALIDATION), queries from fixed texts and
 *     from the input's bytes return hits that are live keys of the trie
 *     with their scores and that match the text (trie_words_match); when
 *     trie_words_check accepts it they are the hits of a freshly built
 *     index (keys, scores, classes);
 *   - round trip: the loaded index saved, loaded and saved again gives the
 *     same bytes, and the reloaded one answers as the loaded one.
 * Seeds: QAC_FUZZ_MKSEED=DIR build/fuzz/fuzz_words_snap writes each
 * fixture's real file (trie_words_save) into DIR, with a few flag variants.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/endian.h"
#include "trie/trie.h"
#include "trie/trie_words.h"
#include "tests/fuzz/fuzz_util.h"

#define WS_NFIX 3
#define WS_HDR 128
#define WS_MAX_INPUT (1u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv);

typedef struct fixture {
    trie *t; /* loaded from its snapshot */
    uint64_t id, count;
    trie_words *fresh; /* trie_words_build(t) */
    uint8_t *file;     /* its word index, as saved */
    size_t n;
} fixture;

static fixture fix[WS_NFIX];
static char dir[64], p_trie[128], p_words[128], p_rt[128];

static const char *W[] = {"new", "york", "times", "pa", "yankees", "newark", "airport", "pizza", "near", "me",
                          "caf\xc3\xa9", "zurich", "zoo", "a", "ab", "abc", "the", "best", "of", "on"};
#define NW (sizeof W / sizeof *W)

static uint64_t rs;
static uint32_t rnd(uint32_t n) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (uint32_t)(rs % n);
}

static size_t rand_key(char *k, int maxw) {
    size_t kl = 0;
    int nw = 1 + (int)rnd((uint32_t)maxw);
    for (int j = 0; j < nw; j++) {
        const char *x = W[rnd(NW)];
        if (kl) k[kl++] = ' ';
        memcpy(k + kl, x, strlen(x));
        kl += strlen(x);
    }
    return kl;
}

static uint8_t *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    if (!f) fuzz_fail("cannot read %s", p);
    static uint8_t buf[WS_MAX_INPUT];
    *n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return (uint8_t *)fuzz_dup(buf, *n);
}

/* nkeys random keys, every fifth deleted, then nlive live changes on the
 * index (deletes and new keys); saved, reloaded. */
static void build_fixture(fixture *x, int nkeys, int nlive, uint64_t seed) {
    char err[256];
    rs = seed * 2654435761u + 7;
    trie *t = trie_new();
    if (!t) fuzz_fail("trie_new failed");
    for (int i = 0; i < nkeys; i++) {
        char k[128];
        size_t kl = rand_key(k, 5);
        if (trie_set(t, k, kl, NULL, 0, (double)rnd(1000), NULL)) fuzz_fail("trie_set failed");
        if (i % 5 == 4) trie_del(t, k, kl);
    }
    trie_words *w;
    if (trie_words_build(t, &w)) fuzz_fail("trie_words_build failed");
    for (int i = 0; i < nlive; i++) {
        char k[128];
        trie_hit h;
        size_t kl = rand_key(k, 2);
        if (trie_get(t, k, kl, &h)) {
            if (trie_del(t, k, kl) || trie_words_del(w, h.id, k, kl)) fuzz_fail("live delete failed");
        } else {
            kl = (size_t)snprintf(k, sizeof k, "fresh%d %s", i, W[rnd(NW)]);
            uint32_t id;
            if (trie_set(t, k, kl, NULL, 0, 5000.0 + i, &id) || trie_words_add(w, id, k, kl, 5000.0 + i))
                fuzz_fail("live add failed");
        }
    }
    if (trie_save(t, p_trie) || trie_snapshot_id(p_trie, &x->id, &x->count)) fuzz_fail("trie_save failed");
    if (trie_words_save(w, p_words, x->id, x->count)) fuzz_fail("trie_words_save failed");
    if (trie_load(p_trie, &x->t, err, sizeof err)) fuzz_fail("trie_load failed: %s", err);
    if (trie_words_build(x->t, &x->fresh)) fuzz_fail("trie_words_build failed");
    x->file = slurp(p_words, &x->n);
    trie_words_free(w);
    trie_free(t);
}

static void cleanup(void) {
    unlink(p_trie);
    unlink(p_words);
    unlink(p_rt);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", p_rt);
    unlink(tmp);
    snprintf(tmp, sizeof tmp, "%s.tmp", p_words);
    unlink(tmp);
    snprintf(tmp, sizeof tmp, "%s.tmp", p_trie);
    unlink(tmp);
    rmdir(dir);
    for (int i = 0; i < WS_NFIX; i++) {
        trie_words_free(fix[i].fresh);
        trie_free(fix[i].t);
        free(fix[i].file);
    }
}

static void setup(void) {
    if (dir[0]) return;
    fuzz_mkdtemp(dir, sizeof dir, "qac-fuzz-wsnap");
    snprintf(p_trie, sizeof p_trie, "%s/INDEX", dir);
    snprintf(p_words, sizeof p_words, "%s/INDEX.words", dir);
    snprintf(p_rt, sizeof p_rt, "%s/rt.words", dir);
    build_fixture(&fix[0], 60, 25, 1);
    build_fixture(&fix[1], 4, 0, 2);
    build_fixture(&fix[2], 0, 0, 3);
    atexit(cleanup);
}

/* Loads path for fixture x: the code; *out the index. */
static int load(const char *path, const fixture *x, trie_words **out) {
    char err[512];
    err[0] = 0;
    *out = NULL;
    int rc = trie_words_load(path, x->t, x->id, out, err, sizeof err);
    if (rc == 0) {
        fuzz_assert(*out != NULL);
    } else {
        if (*out) fuzz_fail("a refused load returned an index");
        if (rc != TRIE_EFORMAT) fuzz_fail("load: code %d (%s), not TRIE_EFORMAT", rc, err);
        if (!err[0] || strchr(err, '\n')) fuzz_fail("load: no one-line reason (%d)", rc);
    }
    return rc;
}

static trie_words_hit ha[TRIE_MAX_K], hb[TRIE_MAX_K];

/* One query on w: sound hits; with ref, the same hits as ref. */
static void query(const trie_words *w, const trie_words *ref, const trie *t, const char *q, size_t ql, unsigned k) {
    int trunc = 0;
    int na = trie_words_topk(w, t, q, ql, k, ha, &trunc);
    if (na < 0) {
        fuzz_assert(na == TRIE_WORDS_ETOOMANY || na == TRIE_WORDS_ETOOLONG || na == TRIE_EINVAL);
        if (ref) fuzz_assert(trie_words_topk(ref, t, q, ql, k, hb, NULL) == na);
        return;
    }
    fuzz_assert((unsigned)na <= k);
    for (int i = 0; i < na; i++) {
        trie_hit h;
        const trie_hit *x = &ha[i].hit;
        if (!trie_get(t, x->text, x->keylen, &h) || h.id != x->id || h.score != x->score)
            fuzz_fail("hit %d '%.*s' is not a live key with its score", i, (int)x->keylen, x->text);
        trie_words_range rg[TRIE_WORDS_MAX_TYPED];
        if (trie_words_match(q, ql, x->text, x->keylen, rg) <= 0)
            fuzz_fail("hit %d '%.*s' does not match '%.*s'", i, (int)x->keylen, x->text, (int)ql, q);
    }
    if (!ref) return;
    int nb = trie_words_topk(ref, t, q, ql, k, hb, NULL);
    if (na != nb) fuzz_fail("'%.*s' k %u: %d hits, a fresh index %d", (int)ql, q, k, na, nb);
    for (int i = 0; i < na; i++)
        if (ha[i].hit.keylen != hb[i].hit.keylen || memcmp(ha[i].hit.text, hb[i].hit.text, ha[i].hit.keylen) ||
            ha[i].hit.score != hb[i].hit.score || ha[i].cls != hb[i].cls)
            fuzz_fail("'%.*s' k %u: hit %d '%.*s', a fresh index '%.*s'", (int)ql, q, k, i, (int)ha[i].hit.keylen,
                      ha[i].hit.text, (int)hb[i].hit.keylen, hb[i].hit.text);
}

static void queries(const trie_words *w, const trie_words *ref, const trie *t, const uint8_t *d, size_t n) {
    static const char *fixed[] = {"new", "new y", "york new", "a", "ab", "z", "caf", "the best", "pizza near me",
                                  "fresh1", "e", "n"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        query(w, ref, t, fixed[i], strlen(fixed[i]), 1 + (unsigned)(i * 7 % 20));
    /* a few texts from the input: words of the list by its bytes */
    for (size_t i = 0; i + 2 < n && i < 24; i += 3) {
        char q[96];
        size_t ql = 0;
        for (size_t j = 0; j <= d[i] % 3; j++) {
            const char *x = W[d[i + 1 + (j & 1)] % NW];
            size_t xl = strlen(x), cut = j == d[i] % 3 ? 1 + d[i + 2] % xl : xl;
            if (ql) q[ql++] = ' ';
            memcpy(q + ql, x, cut);
            ql += cut;
        }
        query(w, ref, t, q, ql, 1 + d[i + 2] % TRIE_MAX_K);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > WS_MAX_INPUT) return 0;
    setup();
    int flags = data[0];
    const fixture *x = &fix[(flags & 3) % WS_NFIX];
    size_t n = size - 1;
    uint8_t *b = (uint8_t *)fuzz_dup(data + 1, n);
    if (n >= WS_HDR) {
        if (!(flags & 8)) le_put64(b + 16, x->id), le_put64(b + 24, x->count);
        if (!(flags & 16)) le_put64(b + 72, n);
        if (!(flags & 4)) {
            le_put64(b + 80, XXH3_64bits(b + WS_HDR, n - WS_HDR));
            le_put64(b + 120, XXH3_64bits(b, 120));
        }
    }
    char path[64];
    int fd = fuzz_memfd(b, n, path);
    trie_words *w;
    int rc = load(path, x, &w);
    close(fd);
    int own = n == x->n && !memcmp(b, x->file, n);
    free(b);
    if (own && rc) fuzz_fail("the fixture's own file is refused");
    if (rc) return 0;

    char err[512];
    int sound = trie_words_check(w, x->t, err, sizeof err) == 0;
    if (own && !sound) fuzz_fail("the fixture's own file fails trie_words_check: %s", err);
    queries(w, sound ? x->fresh : NULL, x->t, data + 1, n);

    /* round trip: save, load, save: the same bytes, the same answers */
    if (trie_words_save(w, p_rt, x->id, x->count)) fuzz_fail("saving a loaded index failed");
    size_t n1, n2;
    uint8_t *f1 = slurp(p_rt, &n1);
    trie_words *w2;
    if (load(p_rt, x, &w2)) fuzz_fail("a loaded index, saved, is refused");
    if (trie_words_save(w2, p_rt, x->id, x->count)) fuzz_fail("saving a reloaded index failed");
    uint8_t *f2 = slurp(p_rt, &n2);
    if (n1 != n2 || memcmp(f1, f2, n1)) fuzz_fail("save -> load -> save changed the file (%zu, %zu bytes)", n1, n2);
    if ((trie_words_check(w2, x->t, err, sizeof err) == 0) != sound) fuzz_fail("the reloaded index checks otherwise");
    queries(w2, w, x->t, data + 1, n);
    free(f1);
    free(f2);
    trie_words_free(w2);
    trie_words_free(w);
    return 0;
}

/* --- seeds ---------------------------------------------------------------- */

static void seed_file(const char *sdir, const char *name, int flags, const fixture *x) {
    char out[512];
    snprintf(out, sizeof out, "%s/%s", sdir, name);
    FILE *o = fopen(out, "wb");
    if (!o) fuzz_fail("cannot write %s", out);
    fputc(flags, o);
    fwrite(x->file, 1, x->n, o);
    if (fclose(o)) fuzz_fail("cannot write %s", out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *sdir = getenv("QAC_FUZZ_MKSEED");
    if (!sdir) return 0;
    setup();
    seed_file(sdir, "live-changes", 0, &fix[0]);
    seed_file(sdir, "live-changes-raw", 4 | 8 | 16, &fix[0]);
    seed_file(sdir, "tiny", 1, &fix[1]);
    seed_file(sdir, "empty-trie", 2, &fix[2]);
    exit(0);
}
