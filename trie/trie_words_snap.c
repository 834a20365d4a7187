/* trie_words_snap.c -- the word index saved beside a trie snapshot and
 * loaded back (trie_words_save / trie_words_load; contract in trie_words.h).
 *
 * WHY: a build decodes every key twice and hashes every word (27-40 s at 10M
 * keys against a 6-7 s trie load); the index's arrays are plain integers, so
 * a start that finds them on disk copies them in and checks them, and only
 * the dictionary trie (the distinct words, bulk-built from sorted text, as
 * the build does) is rebuilt.
 *
 * FORMAT (version TWS_VERSION; little-endian, as the trie snapshot):
 *   header, TWS_HDR bytes:
 *     0 magic "QACWIDX" + NUL   8 version u32    12 header size u32
 *    16 trie id u64 (trie_snapshot_id of the image this index was built
 *       over: the trie snapshot's header checksum)  24 trie key count u64
 *    32 ids u32 (entries of rank/kb)   36 next_rank u32   40 zero u32
 *    44 nwords u32   48 zero u64   56 keys u64   64 postings u64
 *    72 file size u64   80 payload checksum u64 (XXH3 of bytes
 *       [TWS_HDR, size))   88..119 zero   120 header checksum u64 (XXH3 of
 *       bytes [0, 120))
 *   payload: rank[ids] u32, kb[ids] u16, rid[next_rank] u32,
 *     sig[next_rank] u32 (each rank's word-head signature, tw_sig), then each
 *     word in byte order: u16
 *     length, its bytes, u32 n, cap, live, gn, last, u16 top, bbase[nblk(n)]
 *     u32, bw[nblk(n)] u8 (each block's gap width), the bound tree for cap
 *     (u16 codes), gn gap bytes (the blocks' packed gaps, as in memory:
 *     trie_words_internal.h; the groups' starts, goff, follow from the
 *     widths and are laid out again on load).
 * rank[] is checked in place and kept as hints (tw_rank), save inverts rid
 * for it. rid[] and sig[] are paired by rank in memory (tw_rrec: one
 * record, one miss for the candidate check) and copied apart here, so
 * that pairing changed nothing in the file. Version 2 also held the
 * forward index (each rank's word codes, 40 ncode and 48 fan); version 3 has none (a candidate is checked on its
 * key's text in the trie, after its signature); version 4 packs a block's
 * gaps at one bit width and keeps the widths, not each block's offset
 * (version 3: varint gaps, 4-byte offsets); version 5 keeps 2 bytes of
 * signature a rank (its words' first three bytes hashed too; version 4:
 * one byte, the first two); version 6 keeps 4 bytes (16 bits for each
 * hash instead of 8). A file of an older version
 * is refused as any other version is, with its number, and the engine
 * builds the index instead.
 * Word ids are renumbered on the way (a word's id is its position in byte
 * order: the bulk-built dictionary hands out exactly those), so the file
 * does not depend on which ids live changes left behind.
 *
 * VALIDATION: nothing is used before it is checked. The header checksum,
 * the size, the payload checksum (corruption), then the tie to the trie (the
 * trie id, key count: a file from another image or generation is refused),
 * then every field: ranks, ids and codes in range and mutually inverse
 * (rank[rid[r]] = r, one live rank per live trie id and none for a free
 * id); each word in strictly
 * increasing byte order, with 1 <= live <= n <= cap, a finite bound,
 * every block's width <= 32 and the blocks' packed gaps summing to gn, ranks strictly increasing
 * and below next_rank, last and live as stored, the postings summing to
 * the header's count. What the checksum
 * alone vouches for (not checked: it would cost a build) is that the words
 * of the lists are the words of the keys, the signatures hold their
 * words' bits (a wrong one hides a match, never adds one: every hit is
 * matched on its key's bytes), the bounds cover the scores and the
 * tw_exact keys of one score rank in key order (version 2: ties):
 * the file was written from an exact index over that very image, and a
 * corrupted one fails the checksum. Every allocation is bounded by the
 * file's size (a list's capacity by its tree, stored in the file).
 *
 * Any failure: TRIE_EFORMAT (or TRIE_EIO / TRIE_ENOMEM) with a one-line
 * reason, nothing built; the engine logs it and builds the index instead.
 */
#include "trie/trie_words.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/alloc.h"
#include "common/endian.h"
#include "trie/trie_words_internal.h"

#define TWS_MAGIC "QACWIDX" /* 8 bytes with the NUL */
#define TWS_VERSION 6u /* 2: build ranks of one bound code in key order (tw_exact), adds and \
                        * raises bounded strictly above the score; 3: no forward index; \
                        * 4: gaps bit-packed a block at a time; 5: 2-byte signatures; \
                        * 6: 4-byte signatures */
#define TWS_HDR 128u
#define TWS_WBUF (1u << 16)

/* ------------------------------------------------------------------ save */

typedef struct tws_writer {
    int fd, failed;
    uint64_t off;
    XXH3_state_t *sum;
    size_t n;
    uint8_t buf[TWS_WBUF];
} tws_writer;

static void tws_flush(tws_writer *w) {
    size_t done = 0;
    if (!w->n || w->failed) return;
    (void)XXH3_64bits_update(w->sum, w->buf, w->n);
    while (done < w->n) {
        ssize_t g = pwrite(w->fd, w->buf + done, w->n - done, (off_t)(w->off + done));
        if (g < 0 && errno == EINTR) continue;
        if (g < 0) {
            w->failed = errno ? errno : EIO;
            return;
        }
        done += (size_t)g;
    }
    w->off += w->n;
    w->n = 0;
}

static void tws_put(tws_writer *w, const void *p, uint64_t n) {
    const uint8_t *c = p;
    while (n && !w->failed) {
        size_t k = TWS_WBUF - w->n;
        if (k > n) k = (size_t)n;
        memcpy(w->buf + w->n, c, k);
        w->n += k, c += k, n -= k;
        if (w->n == TWS_WBUF) tws_flush(w);
    }
}
static void tws_u32(tws_writer *w, uint32_t v) {
    uint8_t b[4];
    le_put32(b, v);
    tws_put(w, b, 4);
}
static void tws_u16(tws_writer *w, uint16_t v) {
    uint8_t b[2];
    le_put16(b, v);
    tws_put(w, b, 2);
}

typedef struct tws_order {
    uint32_t *wid; /* words (their ids) in byte order */
    uint32_t n;
} tws_order;

static int order_cb(void *ud, uint32_t id) {
    tws_order *o = ud;
    o->wid[o->n++] = id;
    return 0;
}

/* Writes the payload (everything after the header) of w; *nwords: words. */
static void tws_payload(tws_writer *o, const trie_words *w, uint32_t ids, const tws_order *ord, const uint32_t *rank) {
    for (uint32_t i = 0; i < ids; i++) tws_u32(o, rank[i]);
    for (uint32_t i = 0; i < ids; i++) tws_u16(o, w->kb[i]);
    for (uint32_t r = 0; r < w->next_rank; r++) tws_u32(o, w->rr[r].id);
    for (uint32_t r = 0; r < w->next_rank; r++) tws_u32(o, w->rr[r].sig);
    for (uint32_t i = 0; i < ord->n; i++) {
        const tw_word *x = &w->w[ord->wid[i]];
        char word[TRIE_MAX_KEY];
        uint32_t wl = kdecode(w->wt, ord->wid[i], word);
        tws_u16(o, (uint16_t)wl);
        tws_put(o, word, wl);
        tws_u32(o, x->n), tws_u32(o, x->cap), tws_u32(o, x->live), tws_u32(o, x->gn), tws_u32(o, x->last);
        tws_u16(o, x->top);
        uint32_t nb = tw_nblk(x->n), off[TW_MAXLV], sz[TW_MAXLV], tot;
        tw_levels(x->cap, off, sz, &tot);
        for (uint32_t b = 0; b < nb; b++) tws_u32(o, tw_bbase(x)[b]);
        tws_put(o, tw_bw(x), nb);
        for (uint32_t k = 0; k < tot; k++) tws_u16(o, tw_mx(x)[k]);
        tws_put(o, tw_gaps(x), x->gn);
    }
}

int trie_words_save(const trie_words *w, const char *path, uint64_t trie_id, uint64_t nkeys) {
    char tmp[PATH_MAX];
    if (!w || !path) return errno = EINVAL, TRIE_EIO;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) return errno = ENAMETOOLONG, TRIE_EIO;
    uint32_t ids = w->idcap;
    while (ids && !w->kb[ids - 1]) ids--;
    tws_order ord = {qmalloc(((size_t)w->nwords + 1) * 4), 0};
    uint32_t *rank = qmalloc(((size_t)ids + 1) * 4); /* id -> rank, inverted from rid (memory keeps hints) */
    tws_writer *o = qmalloc(sizeof *o);
    if (!ord.wid || !rank || !o || !(o->sum = XXH3_createState()) || XXH3_64bits_reset(o->sum) != XXH_OK) {
        if (o && o->sum) XXH3_freeState(o->sum);
        qfree(ord.wid), qfree(rank), qfree(o);
        return TRIE_ENOMEM;
    }
    for (uint32_t i = 0; i < ids; i++) rank[i] = NONE;
    for (uint32_t k = 0; k < w->next_rank; k++)
        if (w->rr[k].id != NONE) rank[w->rr[k].id] = k;
    if (w->wt && trie_count(w->wt)) trie__walk_sorted(w->wt, order_cb, &ord);
    o->failed = 0, o->off = TWS_HDR, o->n = 0;
    int rc = TRIE_OK;
    o->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o->fd < 0) {
        rc = TRIE_EIO;
        goto out;
    }
    tws_payload(o, w, ids, &ord, rank);
    tws_flush(o);
    uint8_t h[TWS_HDR] = {0};
    memcpy(h, TWS_MAGIC, 8);
    le_put32(h + 8, TWS_VERSION);
    le_put32(h + 12, TWS_HDR);
    le_put64(h + 16, trie_id);
    le_put64(h + 24, nkeys);
    le_put32(h + 32, ids);
    le_put32(h + 36, w->next_rank);
    le_put32(h + 44, ord.n);
    le_put64(h + 56, w->keys);
    le_put64(h + 64, w->postings);
    le_put64(h + 72, o->off);
    le_put64(h + 80, XXH3_64bits_digest(o->sum));
    le_put64(h + 120, XXH3_64bits(h, 120));
    if (!o->failed && pwrite(o->fd, h, TWS_HDR, 0) != (ssize_t)TWS_HDR) o->failed = errno ? errno : EIO;
    if (!o->failed && fsync(o->fd) != 0) o->failed = errno;
    if (close(o->fd) != 0 && !o->failed) o->failed = errno;
    if (!o->failed && rename(tmp, path) != 0) o->failed = errno;
    if (o->failed) {
        unlink(tmp);
        errno = o->failed;
        rc = TRIE_EIO;
    } else if (trie__fsync_dir(path) != 0) {
        rc = TRIE_EIO;
    }
out:
    XXH3_freeState(o->sum);
    qfree(ord.wid), qfree(rank), qfree(o);
    return rc;
}

/* ------------------------------------------------------------------ load */

/* A bounded reader over the mapped payload. */
typedef struct tws_rd {
    const uint8_t *p;
    uint64_t at, end;
} tws_rd;

static int rd_has(const tws_rd *r, uint64_t n) { return r->end - r->at >= n; }
static const uint8_t *rd_take(tws_rd *r, uint64_t n) {
    const uint8_t *q = r->p + r->at;
    r->at += n;
    return q;
}

#define TWS_FAIL(code, ...)                                                                      \
    do {                                                                                         \
        snprintf(err, errlen, __VA_ARGS__);                                                      \
        rc = (code);                                                                             \
        goto out;                                                                                \
    } while (0)

/* Checks and copies the per-key arrays (rank, kb, rid, sig: the last two
 * paired by rank in memory, tw_rrec) into w. */
static int load_keys(trie_words *w, const trie *t, tws_rd *r, uint32_t ids, char *err, size_t errlen) {
    int rc = TRIE_OK;
    uint32_t nr = w->next_rank;
    uint64_t need = (uint64_t)ids * 6 + (uint64_t)nr * 8;
    if (!rd_has(r, need)) TWS_FAIL(TRIE_EFORMAT, "truncated in the key arrays");
    if (ids > t->nids) TWS_FAIL(TRIE_EFORMAT, "%u key ids, the trie has %u", ids, t->nids);
    uint32_t idcap = t->nids ? t->nids : 1;
    if (!(w->rhint = qmalloc((size_t)idcap * 2)) || !(w->kb = qmalloc((size_t)idcap * 2)) ||
        !(w->rr = trie_words__rr_alloc((size_t)nr + 1)))
        TWS_FAIL(TRIE_ENOMEM, "out of memory");
    w->idcap = idcap, w->ridcap = nr + 1;
    const uint8_t *rankp = rd_take(r, (uint64_t)ids * 4); /* read in place: memory keeps hints (tw_rank) */
    memcpy(w->kb, rd_take(r, (uint64_t)ids * 2), (size_t)ids * 2);
    /* the file keeps the ids, then the signatures; memory pairs them by
     * rank (tw_rrec) */
    const uint8_t *ridp = rd_take(r, (uint64_t)nr * 4), *sigp = rd_take(r, (uint64_t)nr * 4);
    for (uint32_t k = 0; k < nr; k++)
        w->rr[k] = (tw_rrec){le_get32(sigp + (uint64_t)k * 4), le_get32(ridp + (uint64_t)k * 4)};
    for (uint32_t i = ids; i < idcap; i++) w->kb[i] = 0;
    w->rshift = tw_rshift_for((uint64_t)nr + 1);
    uint64_t live = 0;
    for (uint32_t id = 0; id < idcap; id++) {
        uint32_t k = id < ids ? le_get32(rankp + (uint64_t)id * 4) : NONE;
        int tl = id < t->nids && t->refs[id].off != NONE;
        w->rhint[id] = 0;
        if (k == NONE) {
            if (tl) TWS_FAIL(TRIE_EFORMAT, "trie key id %u has no rank", id);
            if (w->kb[id]) TWS_FAIL(TRIE_EFORMAT, "key id %u has a bound and no rank", id);
            continue;
        }
        if (!tl) TWS_FAIL(TRIE_EFORMAT, "rank %u names id %u, which the trie does not hold", k, id);
        if (k >= nr || w->rr[k].id != id) TWS_FAIL(TRIE_EFORMAT, "rank %u of id %u is not its rank's id", k, id);
        if (!w->kb[id]) TWS_FAIL(TRIE_EFORMAT, "key id %u has no bound", id);
        w->rhint[id] = (uint16_t)(k >> w->rshift);
        live++;
    }
    if (live != w->keys || live != trie_count(t))
        TWS_FAIL(TRIE_EFORMAT, "%llu ranked keys, the header says %llu, the trie holds %llu", (unsigned long long)live,
                 (unsigned long long)w->keys, (unsigned long long)trie_count(t));
    uint64_t rids = 0;
    for (uint32_t k = 0; k < nr; k++) {
        uint32_t id = w->rr[k].id;
        if (id != NONE && (id >= ids || le_get32(rankp + (uint64_t)id * 4) != k))
            TWS_FAIL(TRIE_EFORMAT, "rank %u: bad id %u", k, id);
        rids += id != NONE;
    }
    if (rids != live) TWS_FAIL(TRIE_EFORMAT, "%llu live ranks for %llu keys", (unsigned long long)rids,
                               (unsigned long long)live);
out:
    return rc;
}

/* Checks one word's list as read into x (its ranks and counts). */
/* live: a bit a rank, set when its key is live (rr[rank].id != NONE): the
 * lists' ranks are counted against it, not against rr itself, whose
 * 8-byte records a posting apiece cost a miss per few postings (54.5M at
 * 10M keys; the load 0.7 -> 1.1 s when records replaced the 4-byte ids);
 * the bitmap (1.25 MB at 10M) stays in cache. */
static int check_list(const trie_words *w, const uint64_t *livebits, const tw_word *x, char *err, size_t errlen) {
    int rc = TRIE_OK;
    uint32_t nb = tw_nblk(x->n), live = 0, prev = 0;
    const uint8_t *g = tw_gaps(x);
    uint64_t at = 0;
    for (uint32_t b = 0; b < nb; b++) { /* the widths first: they place every block */
        uint32_t cnt = x->n - (b << TW_FB) < TW_F ? x->n - (b << TW_FB) : TW_F, W = tw_bw(x)[b];
        if (W > 32) TWS_FAIL(TRIE_EFORMAT, "block %u: width %u", b, W);
        if ((b & (TW_F - 1)) == 0) tw_goff(x)[b >> TW_FB] = (uint32_t)(at < x->gn ? at : x->gn);
        at += tw_pk_bytes(cnt - 1, W);
    }
    if (at != x->gn) TWS_FAIL(TRIE_EFORMAT, "blocks of %llu gap bytes, count says %u", (unsigned long long)at, x->gn);
    for (uint32_t b = 0; b < nb; b++) {
        uint32_t cnt = x->n - (b << TW_FB) < TW_F ? x->n - (b << TW_FB) : TW_F, rk = tw_bbase(x)[b];
        tw_pk k;
        tw_pk_start(&k, g + tw_boff(x, b), tw_bw(x)[b]); /* within gn: the sizes just checked */
        for (uint32_t i = 0; i < cnt; i++) {
            if (i) {
                uint64_t c = tw_pk_next(&k);
                if (rk + c >= w->next_rank) TWS_FAIL(TRIE_EFORMAT, "block %u: rank out of order", b);
                rk += (uint32_t)c;
            } else if ((b && rk <= prev) || rk >= w->next_rank) {
                TWS_FAIL(TRIE_EFORMAT, "block %u: rank out of order", b);
            }
            prev = rk;
            live += (uint32_t)(livebits[rk >> 6] >> (rk & 63)) & 1;
        }
    }
    if (prev != x->last || live != x->live) TWS_FAIL(TRIE_EFORMAT, "last rank or live count disagrees");
out:
    return rc;
}

/* Reads, checks and lays out the words; bulk-builds the dictionary. */
static int load_words(trie_words *w, const uint64_t *livebits, tws_rd *r, uint32_t nwords, char *err, size_t errlen) {
    int rc = TRIE_OK;
    trie_builder *b = trie_builder_new();
    char prev[TRIE_MAX_KEY];
    uint32_t plen = 0;
    uint64_t postings = 0;
    if (!b || !(w->w = qcalloc((size_t)nwords + 1, sizeof *w->w))) TWS_FAIL(TRIE_ENOMEM, "out of memory");
    w->wcap = nwords + 1;
    for (uint32_t i = 0; i < nwords; i++) {
        if (!rd_has(r, 2)) TWS_FAIL(TRIE_EFORMAT, "truncated in word %u", i);
        uint32_t wl = le_get16(rd_take(r, 2));
        if (wl == 0 || wl > TRIE_MAX_KEY || !rd_has(r, (uint64_t)wl + 22)) TWS_FAIL(TRIE_EFORMAT, "word %u: bad length", i);
        const char *word = (const char *)rd_take(r, wl);
        if (i && keycmp(prev, plen, word, wl) >= 0) TWS_FAIL(TRIE_EFORMAT, "word %u out of order", i);
        memcpy(prev, word, wl), plen = wl;
        const uint8_t *q = rd_take(r, 22);
        tw_word x = {.n = le_get32(q), .cap = le_get32(q + 4), .live = le_get32(q + 8), .gn = le_get32(q + 12),
                     .last = le_get32(q + 16), .top = le_get16(q + 20)};
        if (x.live == 0 || x.live > x.n || x.n > x.cap || x.cap > (uint64_t)w->next_rank * 2 + 64 ||
            x.gn > UINT32_MAX - TW_BLK_MAX)
            TWS_FAIL(TRIE_EFORMAT, "word %u: bad counts", i);
        if (!isfinite(bval_fin(x.top))) /* a NaN or -inf code: no score has it (the dictionary refuses it) */
            TWS_FAIL(TRIE_EFORMAT, "word %u: bad bound", i);
        uint32_t nb = tw_nblk(x.n), off[TW_MAXLV], sz[TW_MAXLV], tot;
        tw_levels(x.cap, off, sz, &tot);
        uint64_t fb = (uint64_t)nb * 5 + (uint64_t)tot * 2 + x.gn;
        if (!rd_has(r, fb)) TWS_FAIL(TRIE_EFORMAT, "truncated in word %u", i);
        x.gcap = x.gn; /* an append lays the list out afresh with room (tw_post_append) */
        tw_post_layout(&x);
        if (!(x.p = qmalloc((size_t)tw_list_bytes(x.cap, x.gcap)))) TWS_FAIL(TRIE_ENOMEM, "out of memory");
        w->w[i] = x;
        w->nwords++;
        w->list_bytes += tw_list_bytes(x.cap, x.gcap);
        memcpy(tw_bbase(&x), rd_take(r, (uint64_t)nb * 4), (size_t)nb * 4);
        memcpy(tw_bw(&x), rd_take(r, nb), nb);
        memcpy(tw_mx(&x), rd_take(r, (uint64_t)tot * 2), (size_t)tot * 2);
        memcpy(tw_gaps(&x), rd_take(r, x.gn), x.gn);
        memset(tw_gaps(&x) + x.gn, 0, TW_PK_PAD); /* (read past a last gap, masked off) */
        char why[160];
        if ((rc = check_list(w, livebits, &x, why, sizeof why))) TWS_FAIL(rc, "word %u (%.*s): %s", i, (int)wl, word, why);
        postings += x.live;
        uint32_t id;
        if ((rc = trie_builder_add(b, word, wl, NULL, 0, bval_fin(x.top), &id)) || id != i)
            TWS_FAIL(rc ? rc : TRIE_EFORMAT, "word %u: %s", i, trie_strerror(rc));
    }
    if (postings != w->postings) TWS_FAIL(TRIE_EFORMAT, "%llu postings, the header says %llu",
                                          (unsigned long long)postings, (unsigned long long)w->postings);
    trie_free(w->wt);
    w->wt = NULL;
    rc = trie_builder_finish(b, &w->wt);
    b = NULL;
    if (rc) TWS_FAIL(rc, "word dictionary: %s", trie_strerror(rc));
out:
    trie_builder_free(b);
    return rc;
}

int trie_words_load(const char *path, const trie *t, uint64_t trie_id, trie_words **out, char *err, size_t errlen) {
    int rc = TRIE_OK, fd = -1;
    void *map = MAP_FAILED;
    uint64_t size = 0;
    trie_words *w = NULL;
    uint64_t *livebits = NULL; /* a bit a live rank, for the lists' checks (check_list) */
    *out = NULL;
    err[0] = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) TWS_FAIL(TRIE_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) TWS_FAIL(TRIE_EIO, "%s is not a readable file", path);
    size = (uint64_t)st.st_size;
    if (size < TWS_HDR) TWS_FAIL(TRIE_EFORMAT, "%llu bytes: shorter than the header", (unsigned long long)size);
    if ((map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED)
        TWS_FAIL(TRIE_EIO, "cannot map %s: %s", path, strerror(errno));
    const uint8_t *h = map;
    if (memcmp(h, TWS_MAGIC, 8)) TWS_FAIL(TRIE_EFORMAT, "bad magic: not a qac word index");
    if (le_get32(h + 8) != TWS_VERSION)
        TWS_FAIL(TRIE_EFORMAT, "unsupported word index version %u (this build reads %u)", le_get32(h + 8), TWS_VERSION);
    if (le_get32(h + 12) != TWS_HDR || le_get64(h + 120) != XXH3_64bits(h, 120))
        TWS_FAIL(TRIE_EFORMAT, "header checksum mismatch");
    if (le_get64(h + 72) != size)
        TWS_FAIL(TRIE_EFORMAT, "%llu bytes, the header says %llu (truncated or extended)", (unsigned long long)size,
                 (unsigned long long)le_get64(h + 72));
    if (XXH3_64bits(h + TWS_HDR, (size_t)(size - TWS_HDR)) != le_get64(h + 80))
        TWS_FAIL(TRIE_EFORMAT, "checksum mismatch");
    if (le_get64(h + 16) != trie_id || le_get64(h + 24) != trie_count(t))
        TWS_FAIL(TRIE_EFORMAT, "written for another snapshot (%llu keys, id %016llx; this one: %llu keys, id %016llx)",
                 (unsigned long long)le_get64(h + 24), (unsigned long long)le_get64(h + 16),
                 (unsigned long long)trie_count(t), (unsigned long long)trie_id);
    if (!(w = trie_words_new())) TWS_FAIL(TRIE_ENOMEM, "out of memory");
    uint32_t ids = le_get32(h + 32), nwords = le_get32(h + 44);
    w->next_rank = le_get32(h + 36);
    w->keys = le_get64(h + 56);
    w->postings = le_get64(h + 64);
    if (w->next_rank == NONE || le_get32(h + 40) || le_get64(h + 48) || w->next_rank > size || nwords > size)
        TWS_FAIL(TRIE_EFORMAT, "header counts out of range");
    tws_rd r = {h, TWS_HDR, size};
    if ((rc = load_keys(w, t, &r, ids, err, errlen))) goto out;
    if (!(livebits = qcalloc(((size_t)w->next_rank + 63) / 64 + 1, sizeof *livebits)))
        TWS_FAIL(TRIE_ENOMEM, "out of memory");
    for (uint32_t k = 0; k < w->next_rank; k++)
        livebits[k >> 6] |= (uint64_t)(w->rr[k].id != NONE) << (k & 63);
    if ((rc = load_words(w, livebits, &r, nwords, err, errlen))) goto out;
    if (r.at != size) TWS_FAIL(TRIE_EFORMAT, "%llu unexpected bytes at the end", (unsigned long long)(size - r.at));
    *out = w;
    w = NULL;
out:
    qfree(livebits);
    if (map != MAP_FAILED) munmap(map, (size_t)size);
    if (fd >= 0) close(fd);
    trie_words_free(w);
    qalloc_release(); /* the dictionary builder's pages, or a refused index's */
    return rc;
}
