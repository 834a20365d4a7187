/* build_shards.c -- `qac build --shards N`: one index per shard and the shard
 * map (text/shardmap.h) beside them.
 *
 * The whole corpus is built first (build_trie, as without --shards), then
 * split: one walk counts the keys by the first code point of their
 * (normalized) key, shardmap_balance cuts the code points into N contiguous
 * ranges of about equal key counts, and a second walk feeds each key to its
 * shard's bulk builder. trie_foreach walks in bytewise key order, which for
 * UTF-8 is code point order, so every shard's builder sees its keys in the
 * strictly increasing order it needs, and all N build in the same walk.
 *
 * Files: OUT.0 .. OUT.(N-1) (each written atomically by trie_save) and
 * OUT.shards, the map, written last (to OUT.shards.tmp, then renamed) so a
 * map never names an index that is not there yet. The map holds file names
 * only (no directory): it is read relative to its own directory.
 *
 * Memory: the whole trie plus the shards' (together the same size again),
 * and a 8.5 MB count table (one uint64 per code point).
 */
#include "data/build_shards.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

typedef struct walk {
    uint64_t *counts; /* counting walk: keys per first code point */
    const shardmap *map;
    trie_builder **tb; /* building walk: one builder per shard */
    int rc;            /* first builder error */
    char bad[64];      /* a key that has no first code point (cannot happen for a normalized key) */
} walk;

static int count_key(void *ud, const trie_hit *h) {
    walk *w = ud;
    uint32_t cp;
    if (shardmap_first_cp(trie_hit_key(h), h->keylen, &cp) < 0) {
        snprintf(w->bad, sizeof w->bad, "%.*s", (int)(h->keylen < 40 ? h->keylen : 40), trie_hit_key(h));
        return 1;
    }
    w->counts[cp]++;
    return 0;
}

static int add_key(void *ud, const trie_hit *h) {
    walk *w = ud;
    uint32_t cp = 0;
    (void)shardmap_first_cp(trie_hit_key(h), h->keylen, &cp); /* checked by the counting walk */
    int s = shardmap_owner(w->map, cp);
    int rc = trie_builder_add(w->tb[s], trie_hit_key(h), h->keylen, h->dispoff ? trie_hit_display(h) : NULL,
                              h->displen, h->score, NULL);
    if (rc != TRIE_OK) {
        w->rc = rc;
        return 1;
    }
    return 0;
}

/* Counts, then balances into m (ranges, key counts). */
static int plan(const trie *t, unsigned nshards, shardmap *m, char *err, size_t errlen) {
    walk w = {0};
    w.counts = calloc(SHARDMAP_MAX_CP + 1, sizeof *w.counts);
    if (!w.counts) return snprintf(err, errlen, "out of memory (shard plan)"), -1;
    if (trie_foreach(t, count_key, &w)) {
        snprintf(err, errlen, "key '%s' does not start with a valid character", w.bad);
        free(w.counts);
        return -1;
    }
    size_t n = 0;
    for (uint32_t cp = 0; cp <= SHARDMAP_MAX_CP; cp++) n += w.counts[cp] != 0;
    uint32_t *cps = malloc((n ? n : 1) * sizeof *cps);
    uint64_t *cnt = malloc((n ? n : 1) * sizeof *cnt);
    int rc = -1;
    if (cps && cnt) {
        size_t i = 0;
        for (uint32_t cp = 0; cp <= SHARDMAP_MAX_CP; cp++)
            if (w.counts[cp]) cps[i] = cp, cnt[i++] = w.counts[cp];
        rc = shardmap_balance(cps, cnt, n, nshards, m, err, errlen);
    } else {
        snprintf(err, errlen, "out of memory (shard plan)");
    }
    free(cps);
    free(cnt);
    free(w.counts);
    return rc;
}

int build_write_shards(const trie *t, const char *out, unsigned nshards, shardmap *m, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    m->key_form = (int)trie_tag(t);
    if (plan(t, nshards, m, err, errlen) < 0) return -1;
    const char *base = strrchr(out, '/');
    base = base ? base + 1 : out;
    for (unsigned s = 0; s < nshards; s++)
        if ((size_t)snprintf(m->index[s], sizeof m->index[s], "%s.%u", base, s) >= sizeof m->index[s])
            return snprintf(err, errlen, "index name '%s' too long for the shard map", base), -1;
    trie_builder *tb[SHARDMAP_MAX_SHARDS] = {0};
    walk w = {.map = m, .tb = tb};
    int ret = 0;
    for (unsigned s = 0; s < nshards && !ret; s++)
        if (!(tb[s] = trie_builder_new())) ret = (snprintf(err, errlen, "out of memory (shard builder)"), -1);
    if (!ret && trie_foreach(t, add_key, &w))
        ret = (snprintf(err, errlen, "building the shards: %s", trie_strerror(w.rc)), -1);
    char path[4096];
    for (unsigned s = 0; s < nshards; s++) {
        trie *st = NULL;
        if (ret) {
            trie_builder_free(tb[s]);
            continue;
        }
        int rc = trie_builder_finish(tb[s], &st);
        if (rc != TRIE_OK) {
            ret = (snprintf(err, errlen, "building shard %u: %s", s, trie_strerror(rc)), -1);
            continue;
        }
        trie_set_tag(st, (uint32_t)m->key_form);
        snprintf(path, sizeof path, "%s.%u", out, s);
        if ((rc = trie_save(st, path)) != TRIE_OK)
            ret = (snprintf(err, errlen, "cannot write %s: %s (%s)", path, trie_strerror(rc), strerror(errno)), -1);
        trie_free(st);
    }
    if (ret) return -1;
    char tmp[4096 + 8];
    snprintf(path, sizeof path, "%s.shards", out);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno)), -1;
    int wr = shardmap_write(f, m);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) wr = -1;
    if (fclose(f) != 0) wr = -1;
    if (wr < 0 || rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}
