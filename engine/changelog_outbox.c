/* changelog_outbox.c -- the outbox on disk (format and guarantees:
 * changelog_outbox.h). Never trusts the file: every length is checked
 * against what is left before use, and an entry is replayed only when it
 * is a change the sender can encode (a set, del or drop with its fields in
 * range: what the writer stores). One it cannot would stay at the head of
 * the outbox unsent, so nothing after it would ever be confirmed
 * (fuzz_outbox found it: a CRC-sound record with op 0xf6).
 */
#include "engine/changelog_outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/endian.h"
#include "common/util.h"
#include "engine/changelog.h"
#include "engine/store/journal.h"

#define ENT_FIXED 34 /* 'E' + seq 8 + op 1 + t 8 + score 8 + 4 lengths of 2 */
#define MAX_REC (ENT_FIXED + 4 * 65535)

struct chg_obf {
    char *path;
    int fd;
    uint64_t bytes, confirmed;
};

static int write_all(int fd, const void *p, size_t n) {
    const char *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Frames payload into rec (8 header bytes in front); returns the record size. */
static size_t frame(unsigned char *rec, size_t plen) {
    le_put32(rec, (uint32_t)plen);
    uint32_t crc = jrn_crc32c(0, rec, 4);
    le_put32(rec + 4, jrn_crc32c(crc, rec + 8, plen));
    return 8 + plen;
}

static size_t encode_ent(unsigned char *rec, const chg_obf_ent *e) {
    unsigned char *p = rec + 8;
    *p++ = 'E';
    le_put64(p, e->seq);
    p[8] = (unsigned char)e->op;
    le_put64(p + 9, e->t_us);
    le_put_f64(p + 17, e->score);
    le_put16(p + 25, e->klen);
    le_put16(p + 27, e->dlen);
    le_put16(p + 29, e->nlen);
    le_put16(p + 31, e->plen);
    p += 33;
    const char *part[4] = {e->key, e->disp, e->name, e->pay};
    uint16_t len[4] = {e->klen, e->dlen, e->nlen, e->plen};
    for (int i = 0; i < 4; i++) {
        if (len[i]) memcpy(p, part[i], len[i]);
        p += len[i];
    }
    return frame(rec, (size_t)(p - rec - 8));
}

static int append_ent(int fd, const chg_obf_ent *e, uint64_t *bytes) {
    /* sized to this entry, not MAX_REC (~256 KB: a large allocation per change) */
    size_t need = 8 + ENT_FIXED + (size_t)e->klen + e->dlen + e->nlen + e->plen;
    unsigned char *rec = qmalloc(need);
    if (!rec) return errno = ENOMEM, -1;
    size_t n = encode_ent(rec, e);
    int rc = write_all(fd, rec, n);
    qfree(rec);
    if (rc == 0) *bytes += n;
    return rc;
}

int chg_obf_append(chg_obf *f, const chg_obf_ent *e) { return append_ent(f->fd, e, &f->bytes); }

int chg_obf_confirm(chg_obf *f, uint64_t seq) {
    if (seq <= f->confirmed) return 0;
    unsigned char rec[8 + 9];
    rec[8] = 'C';
    le_put64(rec + 9, seq);
    size_t n = frame(rec, 9);
    if (write_all(f->fd, rec, n) < 0) return -1;
    f->bytes += n;
    f->confirmed = seq;
    return 0;
}

int chg_obf_empty(chg_obf *f) {
    if (!f->bytes) return 0;
    if (ftruncate(f->fd, 0) < 0) return -1;
    f->bytes = 0;
    return 0;
}

uint64_t chg_obf_bytes(const chg_obf *f) { return f->bytes; }

/* Parses one entry payload (after 'E'). 0 or -1. */
static int parse_ent(const unsigned char *p, size_t n, chg_obf_ent *e) {
    if (n < ENT_FIXED - 1) return -1;
    e->seq = le_get64(p);
    e->op = p[8];
    e->t_us = le_get64(p + 9);
    e->score = le_get_f64(p + 17);
    e->klen = le_get16(p + 25);
    e->dlen = le_get16(p + 27);
    e->nlen = le_get16(p + 29);
    e->plen = le_get16(p + 31);
    if ((size_t)e->klen + e->dlen + e->nlen + e->plen != n - (ENT_FIXED - 1)) return -1;
    const char *d = (const char *)p + 33;
    e->key = d;
    e->disp = d + e->klen;
    e->name = e->disp + e->dlen;
    e->pay = e->name + e->nlen;
    return 0;
}

/* Whether flush (changelog.c) can send e: chg_rec_encode takes it as flush
 * builds it. Model updates are never stored: one read back is not either. */
static int sendable(const chg_obf_ent *e) {
    if (e->op != CHG_OP_SET && e->op != CHG_OP_DEL && e->op != CHG_OP_DROP) return 0;
    chg_rec r = {.op = e->op, .key = e->op == CHG_OP_DROP ? NULL : e->key, .klen = e->op == CHG_OP_DROP ? 0 : e->klen,
                 .disp = e->op == CHG_OP_SET ? e->disp : NULL, .dlen = e->op == CHG_OP_SET ? e->dlen : 0,
                 .score = e->score, .origin = "-", .olen = 1, .t_us = e->t_us};
    if (e->nlen) r.dict = e->name, r.dictlen = e->nlen;
    if (e->plen) r.pay = e->pay, r.plen = e->plen;
    const char *argv[CHG_REC_MAX_ARGS];
    size_t len[CHG_REC_MAX_ARGS];
    char num[CHG_NUM_BUF];
    return chg_rec_encode(&r, argv, len, num, sizeof num) >= 0;
}

typedef struct rw {
    int fd;
    uint64_t bytes;
    int err;
} rw;

static int open_tmp(const char *path, char *tmp, size_t cap) {
    if ((size_t)snprintf(tmp, cap, "%s.tmp", path) >= cap) return errno = ENAMETOOLONG, -1;
    return open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

/* tmp holds the new content: it replaces path and becomes f's descriptor. */
static int install(chg_obf *f, int fd, const char *tmp, uint64_t bytes) {
    if (rename(tmp, f->path) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return errno = e, -1;
    }
    if (f->fd >= 0) close(f->fd);
    f->fd = fd;
    f->bytes = bytes;
    f->confirmed = 0;
    lseek(fd, 0, SEEK_END);
    return 0;
}

int chg_obf_rewrite(chg_obf *f, const chg_obf_ent *(*next)(void *ud), void *ud) {
    char tmp[4200];
    int fd = open_tmp(f->path, tmp, sizeof tmp);
    if (fd < 0) return -1;
    uint64_t bytes = 0;
    const chg_obf_ent *e;
    while ((e = next(ud)))
        if (append_ent(fd, e, &bytes) < 0) {
            int er = errno;
            close(fd);
            unlink(tmp);
            return errno = er, -1;
        }
    return install(f, fd, tmp, bytes);
}

/* The whole file into *buf (NULL, 0 when it does not exist). 0 or -1. */
static int read_file(const char *path, char **buf, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || !(*buf = qmalloc((size_t)st.st_size + 1))) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, *buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return 0;
}

chg_obf *chg_obf_open(const char *path, int (*each)(void *ud, const chg_obf_ent *e), void *ud, uint64_t *count,
                      char *err, size_t errlen) {
    *count = 0;
    chg_obf *f = qcalloc(1, sizeof *f);
    size_t plen = strlen(path) + 1;
    if (!f || !(f->path = qmalloc(plen))) {
        qfree(f);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(f->path, path, plen);
    f->fd = -1;
    char *buf = NULL;
    size_t len = 0;
    if (read_file(path, &buf, &len) < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    /* the last confirmation first: entries up to it are not sent again */
    uint64_t confirmed = 0;
    size_t off = 0;
    while (buf && len - off >= 8) {
        uint32_t n = le_get32(buf + off);
        if (n < 1 || n > MAX_REC || len - off - 8 < n) break;
        uint32_t crc = jrn_crc32c(0, buf + off, 4);
        if (jrn_crc32c(crc, buf + off + 8, n) != le_get32(buf + off + 4)) break;
        const unsigned char *p = (const unsigned char *)buf + off + 8;
        if (p[0] == 'C' && n == 9) confirmed = le_get64(p + 1);
        else if (p[0] != 'E') break;
        off += 8 + n;
    }
    size_t good = off;
    char tmp[4200];
    int fd = open_tmp(path, tmp, sizeof tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s.tmp: %s", path, strerror(errno));
        goto fail;
    }
    uint64_t bytes = 0, renum = 0;
    for (off = 0; off < good;) {
        uint32_t n = le_get32(buf + off);
        const unsigned char *p = (const unsigned char *)buf + off + 8;
        off += 8 + n;
        chg_obf_ent e;
        if (p[0] != 'E' || parse_ent(p + 1, n - 1, &e) < 0 || e.seq <= confirmed || !sendable(&e)) continue;
        e.seq = renum + 1;
        if (each(ud, &e) < 0) continue; /* refused (no memory): not kept */
        renum++;
        if (append_ent(fd, &e, &bytes) < 0) {
            snprintf(err, errlen, "cannot write %s.tmp: %s", path, strerror(errno));
            close(fd);
            unlink(tmp);
            goto fail;
        }
        (*count)++;
    }
    if (install(f, fd, tmp, bytes) < 0) {
        snprintf(err, errlen, "cannot rename %s.tmp: %s", path, strerror(errno));
        goto fail;
    }
    qfree(buf);
    return f;
fail:
    qfree(buf);
    qfree(f->path);
    qfree(f);
    return NULL;
}

void chg_obf_close(chg_obf *f) {
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    qfree(f->path);
    qfree(f);
}
