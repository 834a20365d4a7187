/* journal.c -- the change journal (format and guarantees: journal.h).
 *
 * Layout in memory: a jrn is one open file (FILE.<gen>, appended at `size`,
 * the offset just past the last record known to be fully written) and one
 * batch buffer of encoded records not yet written. LSNs count records added
 * in this process: last_lsn (added), written_lsn (in the file), synced_lsn
 * (fdatasync'ed). Invariants: synced_lsn <= written_lsn <= last_lsn; the
 * batch holds exactly the records (written_lsn, last_lsn]; the file holds
 * exactly `size` bytes of sound data (a failed write is truncated away).
 *
 * Recovery reads each generation whole (journals are bounded by the
 * automatic snapshots), scans it with jrn_scan and applies the records with
 * trie_set / trie_del.
 */
#include "engine/store/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/endian.h"
#include "common/log.h"

/* --- CRC32C ------------------------------------------------------------------
 * With SSE4.2 (checked once at run time) the crc32 instruction, 8 bytes at a
 * time; elsewhere a bytewise table. The table cost about as much per record
 * as the trie change it guards (figures in issue 13's notes); the instruction
 * is ~20x faster. Both give the same value (tests/test_engine_journal.c
 * compares them at every length and alignment). */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static uint32_t (*crc_fn)(uint32_t, const unsigned char *, size_t);

static uint32_t crc_table_run(uint32_t crc, const unsigned char *p, size_t len) {
    while (len--) crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_sse42_run(uint32_t crc, const unsigned char *p, size_t len) {
    uint64_t c = crc;
    while (len && ((uintptr_t)p & 7)) c = __builtin_ia32_crc32qi((uint32_t)c, *p++), len--;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
    }
    while (len--) c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
    crc_fn = crc_table_run;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) crc_fn = crc_sse42_run;
#endif
}

uint32_t jrn_crc32c(uint32_t crc, const void *buf, size_t len) {
    pthread_once(&crc_once, crc_init);
    return ~crc_fn(~crc, buf, len);
}

uint32_t jrn_crc32c_portable(uint32_t crc, const void *buf, size_t len) {
    pthread_once(&crc_once, crc_init);
    return ~crc_table_run(~crc, buf, len);
}


int jrn_policy_parse(const char *s) {
    if (!strcmp(s, "no")) return JRN_FSYNC_NO;
    if (!strcmp(s, "everysec")) return JRN_FSYNC_EVERYSEC;
    if (!strcmp(s, "always")) return JRN_FSYNC_ALWAYS;
    return -1;
}

const char *jrn_policy_name(int p) {
    return p == JRN_FSYNC_ALWAYS ? "always" : p == JRN_FSYNC_EVERYSEC ? "everysec" : "no";
}

/* --- encoding ------------------------------------------------------------------ */

int jrn_encode(qbuf *out, int op, const char *key, size_t klen, const char *disp, size_t dlen, double score) {
    if (klen < 1 || klen > TRIE_MAX_KEY) return -1;
    if (op == JRN_OP_SET) {
        if (!disp || dlen < 1 || dlen > TRIE_MAX_KEY || !isfinite(score)) return -1;
    } else if (op == JRN_OP_DEL) {
        dlen = 0, score = 0;
    } else {
        return -1;
    }
    size_t L = JRN_PAYLOAD_FIXED + klen + dlen;
    if (qbuf_reserve(out, JRN_REC_HEADER + L) < 0) return -1;
    unsigned char *p = (unsigned char *)out->data + out->len;
    le_put32(p, (uint32_t)L);
    unsigned char *pl = p + JRN_REC_HEADER;
    pl[0] = (unsigned char)op;
    le_put16(pl + 1, (uint16_t)klen);
    le_put16(pl + 3, (uint16_t)dlen);
    le_put_f64(pl + 5, score);
    memcpy(pl + JRN_PAYLOAD_FIXED, key, klen);
    if (dlen) memcpy(pl + JRN_PAYLOAD_FIXED + klen, disp, dlen);
    uint32_t crc = jrn_crc32c(0, p, 4);
    crc = jrn_crc32c(crc, pl, L);
    le_put32(p + 4, crc);
    out->len += JRN_REC_HEADER + L;
    return 0;
}

int jrn_encode_dict(qbuf *out, int op, const char *name, size_t nlen, const char *key, size_t klen,
                    const char *disp, size_t dlen, const char *data, size_t plen, double score) {
    if (nlen < 1 || nlen > JRN_MAX_NAME) return -1;
    if (op == JRN_OP_DSET) {
        if (klen < 1 || klen > TRIE_MAX_KEY || !disp || dlen < 1 || dlen > TRIE_MAX_KEY || plen > JRN_MAX_DATA ||
            (plen && !data) || !isfinite(score))
            return -1;
    } else if (op == JRN_OP_DDEL) {
        if (klen < 1 || klen > TRIE_MAX_KEY) return -1;
        dlen = plen = 0, score = 0;
    } else if (op == JRN_OP_DDROP) {
        klen = dlen = plen = 0, score = 0;
    } else {
        return -1;
    }
    size_t L = JRN_DICT_FIXED + nlen + klen + dlen + plen;
    if (qbuf_reserve(out, JRN_REC_HEADER + L) < 0) return -1;
    unsigned char *p = (unsigned char *)out->data + out->len;
    le_put32(p, (uint32_t)L);
    unsigned char *pl = p + JRN_REC_HEADER, *w = pl + JRN_DICT_FIXED;
    pl[0] = (unsigned char)op;
    le_put16(pl + 1, (uint16_t)klen);
    le_put16(pl + 3, (uint16_t)dlen);
    le_put_f64(pl + 5, score);
    le_put16(pl + 13, (uint16_t)nlen);
    le_put16(pl + 15, (uint16_t)plen);
    memcpy(w, name, nlen), w += nlen;
    if (klen) memcpy(w, key, klen), w += klen;
    if (dlen) memcpy(w, disp, dlen), w += dlen;
    if (plen) memcpy(w, data, plen);
    uint32_t crc = jrn_crc32c(0, p, 4);
    crc = jrn_crc32c(crc, pl, L);
    le_put32(p + 4, crc);
    out->len += JRN_REC_HEADER + L;
    return 0;
}

int jrn_encode_header(qbuf *out, uint64_t gen) {
    unsigned char h[JRN_HEADER_SIZE] = {0};
    memcpy(h, JRN_MAGIC, 8);
    le_put32(h + 8, JRN_VERSION);
    le_put32(h + 12, JRN_HEADER_SIZE);
    le_put64(h + 16, gen);
    le_put32(h + 28, jrn_crc32c(0, h, 28));
    return qbuf_append(out, h, sizeof h);
}

int jrn_check_header(const char *buf, size_t len, uint64_t *gen, const char **reason) {
    const unsigned char *h = (const unsigned char *)buf;
    if (len < JRN_HEADER_SIZE) {
        *reason = "shorter than the 32-byte header";
        return -1;
    }
    if (memcmp(h, JRN_MAGIC, 8) != 0) {
        *reason = "bad magic: not a qac journal";
        return -1;
    }
    if (le_get32(h + 28) != jrn_crc32c(0, h, 28)) {
        *reason = "header checksum mismatch";
        return -1;
    }
    if (le_get32(h + 8) != JRN_VERSION || le_get32(h + 12) != JRN_HEADER_SIZE) {
        *reason = "unsupported journal version";
        return -1;
    }
    *gen = le_get64(h + 16);
    return 0;
}

/* --- scanning -------------------------------------------------------------------- */

/* Checks the record at buf[off..len). Returns its total size (> 0), 0 when it
 * runs past the end of buf, or -1 when it is unsound (reason set). */
static long rec_check(const unsigned char *buf, size_t len, size_t off, jrn_rec *r, const char **reason) {
    if (len - off < JRN_REC_HEADER) {
        *reason = "record header cut short";
        return 0;
    }
    const unsigned char *p = buf + off;
    uint32_t L = le_get32(p);
    if (L < JRN_MIN_PAYLOAD || L > JRN_MAX_PAYLOAD) {
        *reason = "record length out of range";
        return -1;
    }
    if (len - off - JRN_REC_HEADER < L) {
        *reason = "record runs past the end of the file";
        return 0;
    }
    const unsigned char *pl = p + JRN_REC_HEADER;
    uint32_t crc = jrn_crc32c(0, p, 4);
    if (jrn_crc32c(crc, pl, L) != le_get32(p + 4)) {
        *reason = "record checksum mismatch";
        return -1;
    }
    int op = pl[0];
    uint32_t k = le_get16(pl + 1), d = le_get16(pl + 3);
    double score = le_get_f64(pl + 5);
    memset(r, 0, sizeof *r);
    if (op >= JRN_OP_DSET && op <= JRN_OP_DDROP) {
        uint32_t n = L >= JRN_DICT_FIXED ? le_get16(pl + 13) : 0, pn = L >= JRN_DICT_FIXED ? le_get16(pl + 15) : 0;
        int ok = L >= JRN_DICT_FIXED && n >= 1 && n <= JRN_MAX_NAME && JRN_DICT_FIXED + n + k + d + pn == L;
        if (op == JRN_OP_DSET)
            ok = ok && k >= 1 && k <= TRIE_MAX_KEY && d >= 1 && d <= TRIE_MAX_KEY && pn <= JRN_MAX_DATA &&
                 isfinite(score);
        else if (op == JRN_OP_DDEL)
            ok = ok && k >= 1 && k <= TRIE_MAX_KEY && d == 0 && pn == 0 && score == 0;
        else
            ok = ok && k == 0 && d == 0 && pn == 0 && score == 0;
        if (!ok) {
            *reason = "record fields invalid";
            return -1;
        }
        r->op = op;
        r->name = (const char *)pl + JRN_DICT_FIXED;
        r->nlen = n;
        r->key = k ? r->name + n : NULL;
        r->klen = k;
        r->disp = d ? r->name + n + k : NULL;
        r->dlen = d;
        r->data = pn ? r->name + n + k + d : NULL;
        r->plen = pn;
        r->score = score;
        return (long)(JRN_REC_HEADER + L);
    }
    if (L > JRN_MAX_SET_PAYLOAD || (op != JRN_OP_SET && op != JRN_OP_DEL) || k < 1 || k > TRIE_MAX_KEY || d > TRIE_MAX_KEY ||
        JRN_PAYLOAD_FIXED + k + d != L || (op == JRN_OP_SET && (d < 1 || !isfinite(score))) ||
        (op == JRN_OP_DEL && d != 0)) {
        *reason = "record fields invalid";
        return -1;
    }
    r->op = op;
    r->key = (const char *)pl + JRN_PAYLOAD_FIXED;
    r->klen = k;
    r->disp = d ? r->key + k : NULL;
    r->dlen = d;
    r->score = score;
    return (long)(JRN_REC_HEADER + L);
}

static int all_zero(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

int jrn_scan(const char *cbuf, size_t len, size_t from, int (*fn)(void *ud, const jrn_rec *r), void *ud,
             jrn_scan_result *res) {
    const unsigned char *buf = (const unsigned char *)cbuf;
    memset(res, 0, sizeof *res);
    size_t off = from <= len ? from : len;
    while (off < len) {
        jrn_rec r;
        const char *reason = NULL;
        long n = rec_check(buf, len, off, &r, &reason);
        if (n <= 0) {
            res->good_end = off;
            res->reason = reason;
            size_t recsize = 0;
            if (len - off >= JRN_REC_HEADER) recsize = JRN_REC_HEADER + le_get32(buf + off);
            if (n == 0 || all_zero(buf + off, len - off) || (recsize && off + recsize == len)) {
                res->status = JRN_SCAN_TORN;
                return 0;
            }
            res->status = JRN_SCAN_CORRUPT;
            /* count intact-looking records after the damage (resynchronize by
             * trying every offset; only for the message) */
            for (size_t o = off + 1; o < len;) {
                jrn_rec x;
                const char *why;
                long m = rec_check(buf, len, o, &x, &why);
                if (m > 0) res->salvage++, o += (size_t)m;
                else o++;
            }
            return 0;
        }
        if (fn) {
            int rc = fn(ud, &r);
            if (rc) {
                res->good_end = off;
                return rc;
            }
        }
        res->records++;
        off += (size_t)n;
    }
    res->good_end = off;
    res->status = JRN_SCAN_OK;
    return 0;
}

/* --- files ------------------------------------------------------------------------------ */

void jrn_path(char *buf, size_t cap, const char *base, uint64_t gen) {
    snprintf(buf, cap, "%s.%llu", base, (unsigned long long)gen);
}

static void split_dir(const char *base, char *dir, size_t cap, const char **name) {
    const char *slash = strrchr(base, '/');
    if (!slash) {
        snprintf(dir, cap, ".");
        *name = base;
    } else if (slash == base) {
        snprintf(dir, cap, "/");
        *name = slash + 1;
    } else {
        snprintf(dir, cap, "%.*s", (int)(slash - base), base);
        *name = slash + 1;
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int jrn_list(const char *base, uint64_t **gens, char *err, size_t errlen) {
    char dir[JRN_PATH_MAX];
    const char *name;
    split_dir(base, dir, sizeof dir, &name);
    size_t nl = strlen(name);
    *gens = NULL;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot read directory %s: %s", dir, strerror(errno));
        return -1;
    }
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *f = de->d_name;
        if (strncmp(f, name, nl) != 0 || f[nl] != '.') continue;
        uint64_t g;
        if (qparse_u64(f + nl + 1, strlen(f + nl + 1), &g) < 0 || g == 0) continue;
        if (f[nl + 1] == '0' || f[nl + 1] == '+') continue; /* only canonical numbers */
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            uint64_t *p = qrealloc(*gens, cap * sizeof *p);
            if (!p) {
                closedir(d);
                qfree(*gens);
                *gens = NULL;
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            *gens = p;
        }
        (*gens)[n++] = g;
    }
    closedir(d);
    if (n) qsort(*gens, n, sizeof **gens, cmp_u64);
    return (int)n;
}

static int fsync_dir_of(const char *base) {
    char dir[JRN_PATH_MAX];
    const char *name;
    split_dir(base, dir, sizeof dir, &name);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int read_all(int fd, char **out, size_t *len) {
    struct stat st;
    if (fstat(fd, &st) < 0) return -1;
    size_t n = (size_t)st.st_size;
    char *b = qmalloc(n ? n : 1);
    if (!b) {
        errno = ENOMEM;
        return -1;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, b + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            qfree(b);
            if (r == 0) errno = EIO;
            return -1;
        }
        got += (size_t)r;
    }
    *out = b;
    *len = n;
    return 0;
}

typedef struct apply_ctx {
    trie *t;
    int rc;
    int (*dict_fn)(void *ud, const jrn_rec *r);
    void *dict_ud;
    int (*key_fn)(void *ud, trie *t, const jrn_rec *r);
    void *key_ud;
} apply_ctx;

static int apply_rec(void *ud, const jrn_rec *r) {
    apply_ctx *a = ud;
    if (r->op >= JRN_OP_DSET) {
        int drc = a->dict_fn ? a->dict_fn(a->dict_ud, r) : 0;
        if (drc < 0) {
            a->rc = drc;
            return 1;
        }
        return 0;
    }
    int rc = a->key_fn             ? a->key_fn(a->key_ud, a->t, r)
             : r->op == JRN_OP_SET ? trie_set(a->t, r->key, r->klen, r->disp, r->dlen, r->score, NULL)
                                   : trie_del(a->t, r->key, r->klen);
    if (rc < 0 && rc != TRIE_ENOTFOUND) {
        a->rc = rc;
        return 1;
    }
    return 0;
}

/* Replays one generation file. */
static int recover_one(const char *path, uint64_t gen, apply_ctx *ap, int repair, jrn_recovery *rec, char *err,
                       size_t errlen) {
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open journal %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t len = 0;
    if (read_all(fd, &buf, &len) < 0) {
        snprintf(err, errlen, "cannot read journal %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    int rc = -1;
    uint64_t hgen;
    const char *why;
    if (len < JRN_HEADER_SIZE) {
        /* crashed while creating it: nothing acknowledged can be in it */
        LOG_W("journal.torn_header", "path=%s bytes=%zu msg=\"shorter than its header (torn at creation); rewriting it "
              "empty\"", path, len);
        qbuf h;
        qbuf_init(&h);
        if (jrn_encode_header(&h, gen) < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, h.data, h.len, 0) != (ssize_t)h.len ||
            fdatasync(fd) < 0) {
            snprintf(err, errlen, "cannot rewrite journal %s: %s", path, strerror(errno));
            qbuf_free(&h);
            goto out;
        }
        qbuf_free(&h);
        rec->torn_cut += len;
        rec->files++;
        rc = 0;
        goto out;
    }
    if (jrn_check_header(buf, len, &hgen, &why) < 0) {
        snprintf(err, errlen, "journal %s: %s", path, why);
        goto out;
    }
    if (hgen != gen) {
        snprintf(err, errlen, "journal %s: header says generation %llu, the name says %llu", path,
                 (unsigned long long)hgen, (unsigned long long)gen);
        goto out;
    }
    ap->rc = 0;
    jrn_scan_result res;
    jrn_scan(buf, len, JRN_HEADER_SIZE, apply_rec, ap, &res);
    if (ap->rc < 0) {
        snprintf(err, errlen, "journal %s: replay at byte %llu failed: %s", path, (unsigned long long)res.good_end,
                 trie_strerror(ap->rc));
        goto out;
    }
    rec->records += res.records;
    rec->bytes += res.good_end - JRN_HEADER_SIZE;
    if (res.status == JRN_SCAN_CORRUPT && !repair) {
        snprintf(err, errlen,
                 "journal %s: corrupt record at byte %llu of %zu (%s); %llu intact-looking records follow; "
                 "start with --journal-repair to keep the %llu records before it and drop the rest",
                 path, (unsigned long long)res.good_end, len, res.reason, (unsigned long long)res.salvage,
                 (unsigned long long)res.records);
        goto out;
    }
    if (res.status != JRN_SCAN_OK) {
        uint64_t cut = len - res.good_end;
        if (ftruncate(fd, (off_t)res.good_end) < 0 || fdatasync(fd) < 0) {
            snprintf(err, errlen, "journal %s: cannot truncate at byte %llu: %s", path,
                     (unsigned long long)res.good_end, strerror(errno));
            goto out;
        }
        if (res.status == JRN_SCAN_TORN) {
            LOG_W("journal.torn_tail", "path=%s at=%llu reason=%s cut_bytes=%llu msg=\"torn last record\"", path,
                  (unsigned long long)res.good_end, res.reason, (unsigned long long)cut);
            rec->torn_cut += cut;
        } else {
            LOG_W("journal.repaired", "path=%s at=%llu reason=%s dropped_bytes=%llu dropped_intact_looking=%llu "
                  "kept_records=%llu msg=\"--journal-repair: corrupt record dropped\"",
                  path, (unsigned long long)res.good_end, res.reason, (unsigned long long)cut,
                  (unsigned long long)res.salvage, (unsigned long long)res.records);
            rec->dropped_bytes += cut;
            rec->dropped_records += res.salvage;
        }
    }
    rec->files++;
    rc = 0;
out:
    qfree(buf);
    close(fd);
    return rc;
}

int jrn_recover(const char *base, trie *t, int repair, jrn_recovery *rec, char *err, size_t errlen) {
    return jrn_recover_dicts(base, t, NULL, NULL, repair, rec, err, errlen);
}

int jrn_recover_dicts(const char *base, trie *t, int (*dict_fn)(void *ud, const jrn_rec *r), void *ud, int repair,
                      jrn_recovery *rec, char *err, size_t errlen) {
    return jrn_recover_keys(base, t, dict_fn, ud, NULL, NULL, repair, rec, err, errlen);
}

int jrn_recover_keys(const char *base, trie *t, int (*dict_fn)(void *ud, const jrn_rec *r), void *ud,
                     int (*key_fn)(void *ud, trie *t, const jrn_rec *r), void *key_ud, int repair, jrn_recovery *rec,
                     char *err, size_t errlen) {
    memset(rec, 0, sizeof *rec);
    apply_ctx a = {t, 0, dict_fn, ud, key_fn, key_ud};
    uint64_t *gens;
    int n = jrn_list(base, &gens, err, errlen);
    if (n < 0) return -1;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char path[JRN_PATH_MAX];
        jrn_path(path, sizeof path, base, gens[i]);
        rc = recover_one(path, gens[i], &a, repair, rec, err, errlen);
        rec->last_gen = gens[i];
    }
    qfree(gens);
    return rc;
}

int jrn_remove_before(const char *base, uint64_t gen) {
    uint64_t *gens;
    char err[256];
    int n = jrn_list(base, &gens, err, sizeof err), removed = 0;
    if (n < 0) {
        LOG_W("journal.cleanup_failed", "error=%s", err);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (gens[i] >= gen) continue;
        char path[JRN_PATH_MAX];
        jrn_path(path, sizeof path, base, gens[i]);
        if (unlink(path) == 0) removed++;
        else LOG_W("journal.cleanup_failed", "path=%s error=%s", path, strerror(errno));
    }
    qfree(gens);
    if (removed) fsync_dir_of(base);
    return removed;
}

/* --- writer ------------------------------------------------------------------------------- */

struct jrn {
    char *base;
    uint64_t gen;
    int fd, policy;
    uint64_t size;
    qbuf batch;
    uint64_t last_lsn, written_lsn, synced_lsn;
    int err;
    const char *err_op;
    uint64_t write_errors, sync_errors, writes, syncs;
};

/* Opens (creating with a header when needed) FILE.gen; sets *size. */
static int open_gen(const char *base, uint64_t gen, int policy, uint64_t *size, char *err, size_t errlen) {
    char path[JRN_PATH_MAX];
    jrn_path(path, sizeof path, base, gen);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open journal %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "cannot stat journal %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (st.st_size >= JRN_HEADER_SIZE) {
        *size = (uint64_t)st.st_size;
        return fd;
    }
    qbuf h;
    qbuf_init(&h);
    int ok = jrn_encode_header(&h, gen) == 0 && ftruncate(fd, 0) == 0 &&
             pwrite(fd, h.data, h.len, 0) == (ssize_t)h.len;
    if (ok && policy != JRN_FSYNC_NO) ok = fdatasync(fd) == 0 && fsync_dir_of(base) == 0;
    qbuf_free(&h);
    if (!ok) {
        snprintf(err, errlen, "cannot create journal %s: %s", path, strerror(errno ? errno : EIO));
        close(fd);
        unlink(path);
        return -1;
    }
    *size = JRN_HEADER_SIZE;
    return fd;
}

jrn *jrn_open(const char *base, uint64_t gen, int policy, char *err, size_t errlen) {
    jrn *j = qcalloc(1, sizeof *j);
    size_t bl = strlen(base) + 1;
    if (!j || !(j->base = qmalloc(bl))) {
        qfree(j);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(j->base, base, bl);
    j->gen = gen;
    j->policy = policy;
    qbuf_init(&j->batch);
    j->fd = open_gen(base, gen, policy, &j->size, err, errlen);
    if (j->fd < 0) {
        qfree(j->base);
        qfree(j);
        return NULL;
    }
    return j;
}

void jrn_close(jrn *j) {
    if (!j) return;
    if (j->fd >= 0) close(j->fd);
    qbuf_free(&j->batch);
    qfree(j->base);
    qfree(j);
}

int jrn_reserve(jrn *j) { return qbuf_reserve(&j->batch, JRN_MAX_RECORD); }

uint64_t jrn_add_set(jrn *j, const char *key, size_t klen, const char *disp, size_t dlen, double score) {
    if (jrn_encode(&j->batch, JRN_OP_SET, key, klen, disp, dlen, score) < 0) return 0;
    return ++j->last_lsn;
}

uint64_t jrn_add_dict(jrn *j, int op, const char *name, size_t nlen, const char *key, size_t klen, const char *disp,
                      size_t dlen, const char *data, size_t plen, double score) {
    if (jrn_encode_dict(&j->batch, op, name, nlen, key, klen, disp, dlen, data, plen, score) < 0) return 0;
    return ++j->last_lsn;
}

uint64_t jrn_add_del(jrn *j, const char *key, size_t klen) {
    if (jrn_encode(&j->batch, JRN_OP_DEL, key, klen, NULL, 0, 0) < 0) return 0;
    return ++j->last_lsn;
}

int jrn_write(jrn *j) {
    if (j->batch.len == 0) {
        if (j->err && !strcmp(j->err_op, "write")) j->err = 0;
        return 0;
    }
    size_t done = 0;
    int e = 0;
    while (done < j->batch.len) {
        ssize_t n = pwrite(j->fd, j->batch.data + done, j->batch.len - done, (off_t)(j->size + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            e = n < 0 ? errno : ENOSPC;
            break;
        }
        done += (size_t)n;
    }
    if (e) {
        /* cut the partial record away: the file keeps only whole records */
        if (done && ftruncate(j->fd, (off_t)j->size) < 0)
            LOG_E("journal.truncate_failed", "error=%s msg=\"cannot truncate a partial write\"", strerror(errno));
        if (!j->err) LOG_E("journal.write_failed", "error=%s msg=\"refusing changes until it works again\"", strerror(e));
        j->err = e;
        j->err_op = "write";
        j->write_errors++;
        return -1;
    }
    if (j->err && !strcmp(j->err_op, "write")) LOG_I("journal.write_recovered", "msg=\"journal writes work again\"");
    if (j->err && !strcmp(j->err_op, "write")) j->err = 0;
    j->size += j->batch.len;
    j->writes++;
    j->batch.len = 0;
    if (j->batch.cap > (1u << 20)) qbuf_free(&j->batch);
    j->written_lsn = j->last_lsn;
    return 0;
}

int jrn_rotate(jrn *j, int *old_fd, char *err, size_t errlen) {
    /* A batch that cannot be written to the old file (disk full, file size
     * limit) moves to the new one: the records are idempotent, so having
     * them only in the new generation keeps replay order. */
    if (jrn_write(j) < 0) LOG_W("journal.batch_moved", "generation=%llu msg=\"the unwritten batch moves to the next generation\"", (unsigned long long)j->gen + 1);
    uint64_t size;
    int fd = open_gen(j->base, j->gen + 1, j->policy, &size, err, errlen);
    if (fd < 0) return -1;
    *old_fd = j->fd;
    j->fd = fd;
    j->gen++;
    j->size = size;
    return 0;
}

void jrn_synced(jrn *j, uint64_t lsn, int e) {
    if (e) {
        if (!j->err) LOG_E("journal.fsync_failed", "error=%s msg=\"refusing changes until it works again\"", strerror(e));
        j->err = e;
        j->err_op = "fsync";
        j->sync_errors++;
        return;
    }
    j->syncs++;
    if (j->err && !strcmp(j->err_op, "fsync")) {
        LOG_I("journal.fsync_recovered", "msg=\"journal fdatasync works again\"");
        j->err = 0;
    }
    if (lsn > j->synced_lsn) j->synced_lsn = lsn;
}

int jrn_fd(const jrn *j) { return j->fd; }
int jrn_policy(const jrn *j) { return j->policy; }
uint64_t jrn_gen(const jrn *j) { return j->gen; }
int jrn_error(const jrn *j) { return j->err; }
const char *jrn_error_op(const jrn *j) { return j->err ? j->err_op : ""; }
uint64_t jrn_last_lsn(const jrn *j) { return j->last_lsn; }
uint64_t jrn_written_lsn(const jrn *j) { return j->written_lsn; }
uint64_t jrn_synced_lsn(const jrn *j) { return j->synced_lsn; }
uint64_t jrn_durable_lsn(const jrn *j) { return j->policy == JRN_FSYNC_ALWAYS ? j->synced_lsn : j->written_lsn; }
uint64_t jrn_size(const jrn *j) { return j->size; }
uint64_t jrn_pending(const jrn *j) { return j->batch.len; }
uint64_t jrn_write_errors(const jrn *j) { return j->write_errors; }
uint64_t jrn_sync_errors(const jrn *j) { return j->sync_errors; }
uint64_t jrn_writes(const jrn *j) { return j->writes; }
uint64_t jrn_syncs(const jrn *j) { return j->syncs; }
