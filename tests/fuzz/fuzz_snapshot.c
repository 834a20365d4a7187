/* fuzz_snapshot.c -- libFuzzer harness for snapshot loading (trie_load,
 * trie/trie.h).
 *
 * Input: a snapshot file. A file of at least 64 bytes gets its header fixed
 * up before loading -- file size (bytes 32..40), payload checksum (48..56)
 * and header checksum (56..64) recomputed -- so that mutations reach the
 * record parser instead of stopping at "checksum mismatch" (the checksum
 * paths are covered by tests/test_trie_snapshot.c). The checksum below is a
 * copy of trie.c's qsum64 (it is static there); if trie.c changes it, seeds
 * stop loading and coverage drops, which the cov: figure shows.
 *
 * The file is written to a memfd and loaded by its /proc/self/fd path.
 * Checks: failure leaves *out NULL with a message; success gives a trie that
 * passes trie_check, whose top-k and foreach walks agree with its count,
 * and that survives save + load with the same keys, displays and scores.
 * Seeds (tests/fuzz/corpus/snapshot) are real trie_save output, made by
 * tests/fuzz/mkseed_snapshot.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trie/trie.h"
#include "tests/fuzz/fuzz_util.h"

#define P1 11400714785074694791ull
#define P2 14029467366897019727ull
#define P3 1609587929392839161ull
#define P4 9650029242287828579ull
static uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static uint64_t qround(uint64_t h, uint64_t w) {
    w *= P2;
    w = rotl64(w, 31) * P1;
    h ^= w;
    return rotl64(h, 27) * P1 + P4;
}
static uint64_t qsum(const uint8_t *p, size_t n) {
    uint64_t h = 0x51414354524945ull, len = n, w;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = qround(h, w);
    }
    uint8_t t[8] = {0};
    memcpy(t, p, n);
    memcpy(&w, t, 8);
    h = qround(h, w ^ ((uint64_t)n << 56)) ^ len;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

static char dir[64];
static void cleanup(void) {
    char p[128];
    snprintf(p, sizeof p, "%s/s", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/s.tmp", dir);
    unlink(p);
    rmdir(dir);
}

static int count_cb(void *ud, const trie_hit *h) {
    (void)h;
    ++*(uint64_t *)ud;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s", access("/dev/shm", W_OK) == 0 ? "/dev/shm/qacfuzz.XXXXXX" : "/tmp/qacfuzz.XXXXXX");
        if (!mkdtemp(dir)) fuzz_fail("mkdtemp failed");
        atexit(cleanup);
    }
    /* Known bug (reported): trie_load allocates and zeroes id-bound * 24 bytes
     * before reading a record, so an 83-byte file claiming 553 M ids costs
     * 8.8 GB (tests/fuzz/regress/snapshot/oom-idbound). With
     * QAC_FUZZ_SKIP_KNOWN=1 such inputs are skipped so a campaign can look
     * past it; replays and `make fuzz` do not skip. */
    static int skip_known = -1;
    if (skip_known < 0) skip_known = getenv("QAC_FUZZ_SKIP_KNOWN") != NULL;
    if (skip_known && size >= 64) {
        uint32_t idb;
        memcpy(&idb, data + 24, 4);
        if (idb > (1u << 22)) return 0;
    }
    uint8_t *f = (uint8_t *)fuzz_dup(data, size);
    if (size >= 64) {
        uint64_t fsize = size;
        memcpy(f + 32, &fsize, 8);
        uint64_t ps = qsum(f + 64, size - 64);
        memcpy(f + 48, &ps, 8);
        uint64_t hs = qsum(f, 56);
        memcpy(f + 56, &hs, 8);
    }
    char path[64], err[256];
    int fd = fuzz_memfd(f, size, path);
    free(f);
    trie *t = (trie *)1;
    int rc = trie_load(path, &t, err, sizeof err);
    close(fd);
    if (rc != TRIE_OK) {
        fuzz_assert(t == NULL && err[0] && rc < 0);
        return 0;
    }
    fuzz_assert(t != NULL);
    if (trie_check(t, err, sizeof err)) fuzz_fail("loaded trie fails trie_check: %s", err);
    uint64_t n = trie_count(t), walked = 0;
    fuzz_assert(trie_foreach(t, count_cb, &walked) == 0 && walked == n);
    trie_hit hits[TRIE_MAX_K];
    int k = trie_topk(t, "", 0, TRIE_MAX_K, hits);
    fuzz_assert(k >= 0 && (uint64_t)k == (n < TRIE_MAX_K ? n : TRIE_MAX_K));
    for (int i = 1; i < k; i++) fuzz_assert(hits[i - 1].score >= hits[i].score);
    if (k > 0) {
        trie_hit h2[TRIE_CACHE_K];
        int k2 = trie_topk(t, hits[0].key, hits[0].keylen < 2 ? hits[0].keylen : 2, TRIE_CACHE_K, h2);
        fuzz_assert(k2 >= 1);
    }

    char sp[128];
    snprintf(sp, sizeof sp, "%s/s", dir);
    if (trie_save(t, sp) != TRIE_OK) fuzz_fail("trie_save of a loaded trie failed");
    trie *u = NULL;
    if (trie_load(sp, &u, err, sizeof err) != TRIE_OK) fuzz_fail("reloading a saved trie failed: %s", err);
    fuzz_assert(trie_count(u) == n && trie_tag(u) == trie_tag(t));
    uint32_t bound = trie_id_bound(t);
    for (uint32_t id = 0; id < bound; id++) {
        trie_hit a, b;
        if (!trie_get_id(t, id, &a)) continue;
        fuzz_assert(trie_get(u, a.key, a.keylen, &b) == 1);
        fuzz_assert(a.score == b.score && a.displen == b.displen && !memcmp(a.display, b.display, a.displen));
    }
    trie_free(u);
    trie_free(t);
    return 0;
}
