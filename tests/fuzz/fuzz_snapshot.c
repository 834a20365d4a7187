/* fuzz_snapshot.c -- libFuzzer harness for snapshot loading (trie_load,
 * trie/trie.h).
 *
 * Input: a snapshot file. A file of at least 64 bytes gets its header fixed
 * up before loading -- file size (bytes 32..40), payload checksum (48..56)
 * and header checksum (56..64) recomputed -- so that mutations reach the
 * record parser instead of stopping at "checksum mismatch" (the checksum
 * paths are covered by tests/test_trie_snapshot.c), with the loader's own
 * checksum for the file's version (bytes 8..12: XXH3 for version 4, qsum64
 * for 1..3), trie__snap_sum from trie/trie_internal.h.
 *
 * The file is written to a memfd and loaded by its /proc/self/fd path.
 * Checks: failure leaves *out NULL with a message; success gives a trie that
 * passes trie_check, whose top-k and foreach walks agree with its count,
 * and that survives save + load with the same keys, displays and scores.
 * Seeds (tests/fuzz/corpus/snapshot) are real trie_save output, made by
 * tests/fuzz/mkseed_snapshot.c (version 4), and v2-* and v3-* files written
 * by the earlier writers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/endian.h"
#include "trie/trie.h"
#include "trie/trie_internal.h"
#include "tests/fuzz/fuzz_util.h"

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
        fuzz_mkdtemp(dir, sizeof dir, "qacfuzz");
        atexit(cleanup);
    }
    uint8_t *f = (uint8_t *)fuzz_dup(data, size);
    if (size >= 64) {
        le_put64(f + 32, size);
        uint32_t version = le_get32(f + 8);
        le_put64(f + 48, trie__snap_sum(version, f + 64, size - 64));
        le_put64(f + 56, trie__snap_sum(version, f, 56));
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
        int k2 = trie_topk(t, trie_hit_key(&hits[0]), hits[0].keylen < 2 ? hits[0].keylen : 2, TRIE_CACHE_K, h2);
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
        fuzz_assert(trie_get(u, trie_hit_key(&a), a.keylen, &b) == 1);
        fuzz_assert(a.score == b.score && a.displen == b.displen && !memcmp(trie_hit_display(&a), trie_hit_display(&b), a.displen));
    }
    trie_free(u);
    trie_free(t);
    return 0;
}
