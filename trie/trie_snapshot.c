/* trie_snapshot.c -- trie_save and trie_load, and the snapshot checksums.
 * The format is documented byte by byte in trie.h (SNAPSHOT FORMAT).
 *
 * Save writes the symbol table, then walks the keys in order
 * (trie__walk_sorted) and copies each one's coded text as it is in the arena
 * into a 64 KB buffer written with pwrite after a placeholder header; the
 * header (with both checksums) goes last, then fsync, rename, fsync of the
 * directory. Load reads the header, checks it, checksums the payload in a
 * first pass, then parses and validates every record (a version 3 key is
 * decoded, which checks its codes and gives the raw key the order and the
 * builder need) while the bottom-up builder (trie_builder.c) rebuilds the
 * trie; nothing from the file is trusted before it is checked, and every
 * allocation is bounded by what the file can hold. Versions 1 and 2 hold raw
 * front-coded keys: they are stored identity-coded, then the trie chooses a
 * table and recodes (trie__retrain), as it also does for a version 3 file
 * whose table is the identity (a trie that grew from empty).
 *
 * Checksums: save writes version 4, whose payload and header checksums are
 * XXH3_64bits (libxxhash; the payload one streamed through an XXH3_state_t
 * as the buffer is flushed). Versions 1 to 3 were checksummed with qsum64, a
 * one-lane xxHash64-style function written for this format; it stays here
 * only to read them, and nothing writes it any more. Which one a file uses
 * is decided by its version alone (psum_*, trie__snap_sum), so the rest of
 * load is the same for versions 3 and 4.
 */
#include "trie/trie_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "common/alloc.h"
#include "common/endian.h"

#define SNAP_BUF (1u << 20)          /* load read buffer */
#define SNAP_WBUF (1u << 16)         /* save write buffer */

/* qsum64, the checksum of versions 1 to 3 (read only): a streaming 64-bit
 * checksum in the style of xxHash64 (one lane of its round function, its
 * avalanche) over 8-byte words read little-endian, so a file's checksum is
 * the same on any host. Like XXH3, not cryptographic: it catches corruption,
 * not forgery, which is why load still validates every field. */
#define P1 11400714785074694791ull
#define P2 14029467366897019727ull
#define P3 1609587929392839161ull
#define P4 9650029242287828579ull
typedef struct qsum {
    uint64_t h, len;
    uint8_t tail[8];
    unsigned nt;
} qsum;
static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t qround(uint64_t h, uint64_t w) {
    w *= P2;
    w = rotl64(w, 31) * P1;
    h ^= w;
    return rotl64(h, 27) * P1 + P4;
}
static void qsum_init(qsum *q) {
    q->h = 0x51414354524945ull; /* "QACTRIE" */
    q->len = 0;
    q->nt = 0;
}
static void qsum_update(qsum *q, const void *data, size_t n) {
    const uint8_t *p = data;
    q->len += n;
    if (q->nt) {
        while (q->nt < 8 && n) {
            q->tail[q->nt++] = *p++;
            n--;
        }
        if (q->nt < 8) return;
        q->h = qround(q->h, le_get64(q->tail));
        q->nt = 0;
    }
    while (n >= 8) {
        q->h = qround(q->h, le_get64(p));
        p += 8;
        n -= 8;
    }
    memcpy(q->tail, p, n);
    q->nt = (unsigned)n;
}
static uint64_t qsum_final(const qsum *q) {
    uint8_t t[8] = {0};
    memcpy(t, q->tail, q->nt);
    uint64_t h = qround(q->h, le_get64(t) ^ ((uint64_t)q->nt << 56)) ^ q->len;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

/* The payload checksum of a snapshot of a given version, streamed: XXH3
 * (version >= SNAP_VERSION_XXH3; its state is allocated by libxxhash, 64-byte
 * aligned) or qsum64. */
typedef struct psum {
    XXH3_state_t *x; /* NULL: qsum64 */
    qsum q;
    uint64_t len;
} psum;
/* 0, or -1 when the XXH3 state cannot be allocated. */
static int psum_init(psum *s, uint32_t version) {
    s->len = 0;
    s->x = NULL;
    qsum_init(&s->q);
    if (version < SNAP_VERSION_XXH3) return 0;
    s->x = XXH3_createState();
    if (!s->x || XXH3_64bits_reset(s->x) != XXH_OK) return -1;
    return 0;
}
static void psum_update(psum *s, const void *p, size_t n) {
    s->len += n;
    if (s->x) (void)XXH3_64bits_update(s->x, p, n); /* fails only for a NULL state */
    else qsum_update(&s->q, p, n);
}
static uint64_t psum_final(const psum *s) { return s->x ? XXH3_64bits_digest(s->x) : qsum_final(&s->q); }
static void psum_free(psum *s) {
    if (s->x) XXH3_freeState(s->x);
    s->x = NULL;
}

uint64_t trie__snap_sum(uint32_t version, const void *p, size_t n) {
    if (version >= SNAP_VERSION_XXH3) return XXH3_64bits(p, n);
    qsum q;
    qsum_init(&q);
    qsum_update(&q, p, n);
    return qsum_final(&q);
}

typedef struct swriter {
    const trie *t;
    int fd, failed;
    uint64_t off; /* file offset of buf[0] */
    uint32_t prev, max_id;
    psum sum; /* of the payload, as it is flushed */
    size_t n;
    uint8_t buf[SNAP_WBUF];
} swriter;

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off) {
    const char *c = p;
    while (n) {
        ssize_t w = pwrite(fd, c, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int sw_flush(swriter *w) {
    if (w->n == 0) return 0;
    psum_update(&w->sum, w->buf, w->n);
    if (pwrite_all(w->fd, w->buf, w->n, w->off)) return -1;
    w->off += w->n;
    w->n = 0;
    return 0;
}

static int save_cb(void *ud, uint32_t id) {
    swriter *w = ud;
    const trie *t = w->t;
    kview r = kv(t, id);
    size_t need = SNAP_REC3 + r.ck + r.cd;
    if (w->n + need > sizeof w->buf && sw_flush(w)) return -1;
    uint8_t *p = w->buf + w->n;
    le_put32(p, id);
    le_put_f64(p + 4, t->refs[id].score);
    le_put16(p + 12, (uint16_t)r.ck);
    le_put16(p + 14, (uint16_t)r.cd);
    memcpy(p + SNAP_REC3, r.code, r.ck + r.cd);
    w->n += need;
    if (w->max_id == NONE || id > w->max_id) w->max_id = id;
    return 0;
}

int trie__fsync_dir(const char *path) {
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == path) strcpy(dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -1;
    int frc = fsync(dfd), saved_errno = errno;
    close(dfd);
    errno = saved_errno;
    return frc;
}

int trie_save(const trie *t, const char *path) {
    char tmp[PATH_MAX];
    if (!t || !path) {
        errno = EINVAL;
        return TRIE_EIO;
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return TRIE_EIO;
    }
    swriter *w = qmalloc(sizeof *w);
    if (!w) return TRIE_ENOMEM;
    w->t = t;
    w->failed = 0;
    w->off = SNAP_HDR;
    w->prev = w->max_id = NONE;
    w->n = 0;
    if (psum_init(&w->sum, SNAP_VERSION)) {
        psum_free(&w->sum);
        qfree(w);
        return TRIE_ENOMEM;
    }
    int saved_errno = 0;
    w->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        saved_errno = errno;
        psum_free(&w->sum);
        qfree(w);
        errno = saved_errno;
        return TRIE_EIO;
    }
    w->n = tc_serialize(&t->tc, w->buf); /* <= TC_SERIAL_MAX, well under SNAP_WBUF */
    int ok = trie__walk_sorted(t, save_cb, w) == 0 && sw_flush(w) == 0;
    if (ok) {
        uint8_t h[SNAP_HDR] = {0};
        memcpy(h, SNAP_MAGIC, 8);
        le_put32(h + 8, SNAP_VERSION);
        le_put32(h + 12, SNAP_HDR);
        le_put64(h + 16, t->count);
        le_put32(h + 24, w->max_id == NONE ? 0 : w->max_id + 1);
        le_put32(h + 28, t->nlive);
        le_put64(h + 32, w->off);
        le_put32(h + 40, (uint32_t)t->kbytes); /* coded bytes <= alive < 4 GiB: arena offsets are 32-bit */
        le_put32(h + 44, t->tag);
        le_put64(h + 48, psum_final(&w->sum));
        le_put64(h + 56, trie__snap_sum(SNAP_VERSION, h, 56));
        ok = pwrite_all(w->fd, h, sizeof h, 0) == 0 && fsync(w->fd) == 0;
    }
    if (!ok) saved_errno = errno;
    if (close(w->fd) != 0 && ok) {
        ok = 0;
        saved_errno = errno;
    }
    psum_free(&w->sum);
    qfree(w);
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        saved_errno = errno;
    }
    if (!ok) {
        unlink(tmp);
        errno = saved_errno;
        return TRIE_EIO;
    }
    /* make the rename durable */
    return trie__fsync_dir(path) == 0 ? TRIE_OK : TRIE_EIO;
    return TRIE_OK;
}

int trie_snapshot_id(const char *path, uint64_t *id, uint64_t *count) {
    uint8_t h[SNAP_HDR];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return TRIE_EIO;
    size_t hn = 0;
    while (hn < SNAP_HDR) {
        ssize_t g = read(fd, h + hn, SNAP_HDR - hn);
        if (g < 0 && errno == EINTR) continue;
        if (g <= 0) break;
        hn += (size_t)g;
    }
    close(fd);
    if (hn < SNAP_HDR || memcmp(h, SNAP_MAGIC, 8) != 0) return TRIE_EFORMAT;
    uint32_t version = le_get32(h + 8);
    if (version < SNAP_VERSION_MIN || version > SNAP_VERSION || le_get64(h + 56) != trie__snap_sum(version, h, 56))
        return TRIE_EFORMAT;
    *id = le_get64(h + 56);
    *count = le_get64(h + 16);
    return TRIE_OK;
}

/* --- load --- */

typedef struct sreader {
    int fd;
    uint8_t *buf;
    size_t lo, hi;
    uint64_t pos; /* file offset of buf[lo] */
} sreader;

/* Make n bytes available at buf[lo]: 0, -1 at end of file, -2 on I/O error. */
static int rd_ensure(sreader *r, size_t n) {
    if (r->hi - r->lo >= n) return 0;
    memmove(r->buf, r->buf + r->lo, r->hi - r->lo);
    r->hi -= r->lo;
    r->lo = 0;
    while (r->hi < n) {
        ssize_t got = read(r->fd, r->buf + r->hi, SNAP_BUF - r->hi);
        if (got < 0) {
            if (errno == EINTR) continue;
            return -2;
        }
        if (got == 0) return -1;
        r->hi += (size_t)got;
    }
    return 0;
}

#define LOAD_FAIL(code, ...)                                                                     \
    do {                                                                                         \
        if (err && errlen) snprintf(err, errlen, __VA_ARGS__);                                  \
        rc = (code);                                                                             \
        goto out;                                                                                \
    } while (0)

int trie_load(const char *path, trie **out, char *err, size_t errlen) {
    int rc = TRIE_OK, fd = -1;
    trie *t = NULL;
    sreader rd = {0};
    builder b = {0};
    psum sum = {0};
    if (out) *out = NULL;
    if (err && errlen) err[0] = 0;
    if (!path || !out) LOAD_FAIL(TRIE_EINVAL, "trie_load: null argument");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) LOAD_FAIL(TRIE_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) LOAD_FAIL(TRIE_EIO, "cannot stat %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) LOAD_FAIL(TRIE_EIO, "%s is not a regular file", path);
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0) LOAD_FAIL(TRIE_EFORMAT, "empty file: not a qac snapshot");

    /* header */
    uint8_t h[SNAP_HDR];
    size_t hn = 0;
    while (hn < SNAP_HDR) {
        ssize_t g = read(fd, h + hn, SNAP_HDR - hn);
        if (g < 0 && errno == EINTR) continue;
        if (g < 0) LOAD_FAIL(TRIE_EIO, "read error on %s: %s", path, strerror(errno));
        if (g == 0) break;
        hn += (size_t)g;
    }
    if (memcmp(h, SNAP_MAGIC, hn < 8 ? hn : 8) != 0)
        LOAD_FAIL(TRIE_EFORMAT, "bad magic: not a qac snapshot");
    if (hn < SNAP_HDR)
        LOAD_FAIL(TRIE_EFORMAT, "truncated at byte %zu of the %u-byte header", hn, SNAP_HDR);
    uint32_t version = le_get32(h + 8);
    if (version < SNAP_VERSION_MIN || version > SNAP_VERSION)
        LOAD_FAIL(TRIE_EFORMAT, "unsupported snapshot version %u (this build reads %u to %u)",
                  version, SNAP_VERSION_MIN, SNAP_VERSION);
    if (le_get64(h + 56) != trie__snap_sum(version, h, 56)) LOAD_FAIL(TRIE_EFORMAT, "header checksum mismatch");
    /* version 1 had a 64-bit key byte count at 40, whose high half (bytes
     * 44..48) was always 0 (< 4 GiB): read as version 2, its tag is 0 */
    uint64_t count = le_get64(h + 16), fsize = le_get64(h + 32), abytes = le_get32(h + 40);
    uint32_t tag = le_get32(h + 44);
    uint32_t idb = le_get32(h + 24), hnodes = le_get32(h + 28);
    if (le_get32(h + 12) != SNAP_HDR) LOAD_FAIL(TRIE_EFORMAT, "bad header size %u", le_get32(h + 12));
    if (size < fsize)
        LOAD_FAIL(TRIE_EFORMAT, "truncated at byte %llu of %llu", (unsigned long long)size,
                  (unsigned long long)fsize);
    if (size > fsize)
        LOAD_FAIL(TRIE_EFORMAT, "%llu trailing bytes after byte %llu",
                  (unsigned long long)(size - fsize), (unsigned long long)fsize);
    uint64_t payload = fsize - SNAP_HDR;
    size_t recmin = version >= 3 ? SNAP_REC3 : SNAP_REC; /* fixed part of a record */
    if (count > payload / (recmin + 1) || count > MAX_IDS)
        LOAD_FAIL(TRIE_EFORMAT, "key count %llu does not fit in %llu payload bytes",
                  (unsigned long long)count, (unsigned long long)payload);
    if (idb < count || idb > MAX_IDS) LOAD_FAIL(TRIE_EFORMAT, "bad id bound %u for %llu keys", idb,
                                                (unsigned long long)count);
    /* The id table (12 B per id below the bound) is allocated before any
     * record is read: bound it by the key count, which the payload size
     * bounds, so a tiny file cannot ask for gigabytes. */
    if (idb > SNAP_MAX_ID_BOUND(count))
        LOAD_FAIL(TRIE_EFORMAT,
                  "id bound %u for %llu keys: more than %u free ids per key + %u (SNAP_FREE_IDS_PER_KEY, "
                  "SNAP_FREE_IDS_MIN)",
                  idb, (unsigned long long)count, SNAP_FREE_IDS_PER_KEY, SNAP_FREE_IDS_MIN);
    if (hnodes < 1 || hnodes > count + 1) LOAD_FAIL(TRIE_EFORMAT, "bad node count %u", hnodes);
    if (abytes > UINT32_MAX || abytes > count * (version >= 3 ? 2ull * KCODE_MAX : 2ull * TRIE_MAX_KEY))
        LOAD_FAIL(TRIE_EFORMAT, "bad key byte count %llu", (unsigned long long)abytes);

    /* pass 1: payload checksum, so a corrupted file says so plainly */
    rd.fd = fd;
    rd.buf = qmalloc(SNAP_BUF);
    if (!rd.buf) LOAD_FAIL(TRIE_ENOMEM, "out of memory");
    if (psum_init(&sum, version)) LOAD_FAIL(TRIE_ENOMEM, "out of memory");
    for (;;) {
        ssize_t g = read(fd, rd.buf, SNAP_BUF);
        if (g < 0 && errno == EINTR) continue;
        if (g < 0) LOAD_FAIL(TRIE_EIO, "read error on %s: %s", path, strerror(errno));
        if (g == 0) break;
        psum_update(&sum, rd.buf, (size_t)g);
    }
    if (sum.len != payload) LOAD_FAIL(TRIE_EFORMAT, "file changed while loading");
    if (psum_final(&sum) != le_get64(h + 48)) LOAD_FAIL(TRIE_EFORMAT, "checksum mismatch");
    psum_free(&sum);
    if (lseek(fd, SNAP_HDR, SEEK_SET) != (off_t)SNAP_HDR)
        LOAD_FAIL(TRIE_EIO, "seek error on %s: %s", path, strerror(errno));
    rd.pos = SNAP_HDR;

    /* pass 2: parse and build bottom-up from the sorted keys */
    t = trie__alloc_empty();
    if (!t) LOAD_FAIL(TRIE_ENOMEM, "out of memory");
    if (version >= 3) { /* the symbol table */
        char why[120];
        size_t used = 0, want = payload < TC_SERIAL_MAX ? (size_t)payload : TC_SERIAL_MAX;
        int e = rd_ensure(&rd, want);
        if (e == -2) LOAD_FAIL(TRIE_EIO, "read error on %s: %s", path, strerror(errno));
        if (e) LOAD_FAIL(TRIE_EFORMAT, "truncated in the symbol table");
        if (tc_parse(&t->tc, rd.buf + rd.lo, want, &used, why, sizeof why) != TC_OK)
            LOAD_FAIL(TRIE_EFORMAT, "bad symbol table: %s", why);
        rd.lo += used;
        rd.pos += used;
    }
    /* The big arrays are sized from the header before any record is read:
     * each goes on huge pages from the start (trie_huge.c: no fault-in on 4
     * KB pages and copy at the end), else on an ordinary block. */
    size_t hl;
    t->refs = trie__huge_alloc((size_t)idb * sizeof(kref), HUGE_MIN_BYTES, &hl);
    if (!t->refs) t->refs = qmalloc((idb ? idb : 1) * sizeof(kref));
    if (!t->refs) LOAD_FAIL(TRIE_ENOMEM, "out of memory for %u ids", idb);
    t->idcap = t->nids = idb;
    for (uint32_t i = 0; i < idb; i++) t->refs[i] = (kref){.off = NONE};
    /* the node pool (OWN BLOCKS): the root's chunk, then per other node its
     * record and its block's first bytes (at most one unit more than a
     * quarter of its children), and a ref per child (the other nodes and
     * at most every key): an upper bound */
    uint64_t kest = ROOT_UNITS + (uint64_t)hnodes * (NODE_UNITS + 1) + (hnodes + count) + (hnodes + count) / 4;
    if (kest > MAX_UNITS) kest = MAX_UNITS;
    if ((t->kids = trie__huge_alloc((size_t)kest * 4, HUGE_MIN_BYTES, &hl)))
        t->kcap = hl / 4 < MAX_UNITS ? hl / 4 : MAX_UNITS;
    /* each key's arena header adds at most KHDR_MAX bytes to its chunk: the
     * arena rarely grows while loading; the untouched tail costs address
     * space only (no resident pages) and shrink_to_fit returns it */
    uint64_t acap = abytes + count * KHDR_MAX;
    if (acap > UINT32_MAX) acap = UINT32_MAX;
    if ((t->arena = trie__huge_alloc((size_t)acap, HUGE_MIN_BYTES, &hl)))
        t->acap = hl < UINT32_MAX ? hl : UINT32_MAX;
    if (trie__nodes_reserve(t, kest) || trie__arena_reserve(t, 1))
        LOAD_FAIL(TRIE_ENOMEM, "out of memory");
    if (acap > t->acap) {
        char *a = qrealloc(t->arena, acap);
        if (!a) LOAD_FAIL(TRIE_ENOMEM, "out of memory for %llu key bytes", (unsigned long long)abytes);
        t->arena = a;
        t->acap = acap;
    }
    trie__root_init(t); /* the root's chunk first, then the others in post-order (trie_builder.c) */
    if ((rc = trie__b_init(&b, t))) LOAD_FAIL(rc, "out of memory");
    /* the previous and the current key, raw (the builder reads the previous) */
    char keybuf[2][TRIE_MAX_KEY], dbuf[TRIE_MAX_KEY];
    uint32_t plen = 0;
    uint64_t rawbytes = 0; /* versions 1/2: the header's count (raw chunk sizes) */
    int cur = 0;
    uint32_t prev = NONE;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t at = rd.pos;
        char *pk = keybuf[cur ^ 1], *key = keybuf[cur];
#define REC_FAIL(...)                                                                            \
    do {                                                                                         \
        char why_[160];                                                                          \
        snprintf(why_, sizeof why_, __VA_ARGS__);                                                \
        LOAD_FAIL(TRIE_EFORMAT, "bad record %llu at byte %llu: %s", (unsigned long long)i,      \
                  (unsigned long long)at, why_);                                                 \
    } while (0)
#define RD_NEED(n)                                                                               \
    do {                                                                                         \
        int e_ = rd_ensure(&rd, (n));                                                            \
        if (e_ == -2) LOAD_FAIL(TRIE_EIO, "read error on %s: %s", path, strerror(errno));        \
        if (e_) LOAD_FAIL(TRIE_EFORMAT, "truncated in record %llu at byte %llu",                 \
                          (unsigned long long)i, (unsigned long long)at);                        \
    } while (0)
        RD_NEED(recmin);
        const uint8_t *p = rd.buf + rd.lo;
        uint32_t L, klen, id;
        double sc;
        kcode kc; /* versions 1/2: the keys coded here */
        const uint8_t *kp = kc.k, *dp = kc.d; /* what goes into the arena */
        if (version >= 3) {
            id = le_get32(p);
            sc = le_get_f64(p + 4);
            kc.ck = le_get16(p + 12);
            kc.cd = le_get16(p + 14);
            if (kc.ck == 0 || kc.ck > KCODE_MAX) REC_FAIL("coded key length %u not in 1..%u", kc.ck, (unsigned)KCODE_MAX);
            if (kc.cd > KCODE_MAX) REC_FAIL("coded display length %u over %u", kc.cd, (unsigned)KCODE_MAX);
            rd.lo += SNAP_REC3;
            rd.pos += SNAP_REC3;
            RD_NEED(kc.ck + kc.cd);
            p = rd.buf + rd.lo;
            size_t kl = tc_decode(&t->tc, p, kc.ck, key, TRIE_MAX_KEY);
            if (kl == TC_BAD) REC_FAIL("key does not decode (bad code, or over %d bytes)", TRIE_MAX_KEY);
            klen = (uint32_t)kl;
            L = (uint32_t)lcp(pk, key, plen < klen ? plen : klen);
            if (prev != NONE && (L == (plen < klen ? plen : klen) ? klen <= plen : (uint8_t)key[L] < (uint8_t)pk[L]))
                REC_FAIL("keys out of order");
            if (kc.cd) {
                size_t dl = tc_decode(&t->tc, p + kc.ck, kc.cd, dbuf, sizeof dbuf);
                if (dl == TC_BAD) REC_FAIL("display does not decode (bad code, or over %d bytes)", TRIE_MAX_KEY);
                if (dl == klen && memcmp(dbuf, key, klen) == 0) REC_FAIL("display stored although equal to the key");
            }
            kp = p, dp = p + kc.ck; /* valid until the next rd_ensure */
            rd.lo += kc.ck + kc.cd;
            rd.pos += kc.ck + kc.cd;
        } else {
            L = le_get16(p);
            uint32_t sfx = le_get16(p + 2), dlen = le_get16(p + 4);
            id = le_get32(p + 6);
            sc = le_get_f64(p + 10);
            klen = L + sfx;
            if (L > plen) REC_FAIL("shared prefix %u longer than the previous key (%u)", L, plen);
            if (sfx == 0) REC_FAIL("empty suffix (keys not strictly increasing)");
            if (klen > TRIE_MAX_KEY) REC_FAIL("key length %u over %d", klen, TRIE_MAX_KEY);
            if (dlen > TRIE_MAX_KEY) REC_FAIL("display length %u over %d", dlen, TRIE_MAX_KEY);
            rd.lo += SNAP_REC;
            rd.pos += SNAP_REC;
            RD_NEED(sfx + dlen);
            p = rd.buf + rd.lo;
            if (L < plen) {
                uint8_t pb = (uint8_t)pk[L];
                if (p[0] == pb) REC_FAIL("shared prefix length %u is not exact", L);
                if (p[0] < pb) REC_FAIL("keys out of order");
            }
            memcpy(key, pk, L);
            memcpy(key + L, p, sfx);
            /* a display equal to the key is stored as none (save never writes one) */
            size_t cd = dlen;
            if (dlen == klen && memcmp(p + sfx, key, klen) == 0) cd = 0;
            trie__key_encode(t, key, klen, (const char *)p + sfx, cd, &kc);
            rawbytes += chunk_size((size_t)klen + cd);
            rd.lo += sfx + dlen;
            rd.pos += sfx + dlen;
        }
        if (id >= idb) REC_FAIL("id %u not below the id bound %u", id, idb);
        if (id_live(t, id)) REC_FAIL("id %u used twice", id);
        if (!isfinite(sc)) REC_FAIL("non-finite score");
        if ((rc = trie__arena_reserve(t, kchunk_bytes(kc.ck, kc.cd)))) LOAD_FAIL(rc, "%s", trie_strerror(rc));
        t->refs[id].off = trie__key_store(t, kp, kc.ck, dp, kc.cd);
        t->refs[id].score = sc;
        t->count++;
        b.pk = pk; /* the open path spells the previous key */
        if ((rc = trie__b_close_to(&b, L))) LOAD_FAIL(rc, "%s", trie_strerror(rc));
        b.st[b.sp++] = (bframe){klen, id, b.tn};
        prev = id;
        plen = klen;
        cur ^= 1;
#undef REC_FAIL
#undef RD_NEED
    }
    if (rd.pos != fsize || rd.hi != rd.lo)
        LOAD_FAIL(TRIE_EFORMAT, "%llu unexpected bytes after the last record at byte %llu",
                  (unsigned long long)(fsize - rd.pos), (unsigned long long)rd.pos);
    b.pk = keybuf[cur ^ 1];
    if ((rc = trie__b_close_root(&b))) LOAD_FAIL(rc, "%s", trie_strerror(rc));
    if (t->nlive != hnodes || (version >= 3 ? t->kbytes : rawbytes) != abytes)
        LOAD_FAIL(TRIE_EFORMAT, "header counts (%u nodes, %llu key bytes) disagree with the payload",
                  hnodes, (unsigned long long)abytes);
    for (uint32_t i = idb; i-- > 0;)
        if (!id_live(t, i)) trie__id_free(t, i);
    trie__shrink_to_fit(t);
    /* raw keys (versions 1/2) or a table never chosen: choose one now (on
     * failure the keys stay identity-coded: correct, larger) */
    if (tc_is_identity(&t->tc)) (void)trie__retrain(t);
    trie__cache_rebuild(t);
    /* arrays a shrink or growth moved, or a retrain rewrote (trie_huge.c) */
    (void)trie__huge_pages(t, HUGE_MIN_BYTES);
    t->tag = tag;
    *out = t;
    t = NULL;
out:
    if (fd >= 0) close(fd);
    psum_free(&sum);
    qfree(rd.buf);
    trie__b_free(&b);
    trie_free(t);
    return rc;
}
