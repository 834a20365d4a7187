/* dict.c -- named dictionaries (see dict.h for the layout, the key form of
 * suggestion dictionaries, durability and the file format). */
#include "engine/dict.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <utf8proc.h>

#include "common/alloc.h"
#include "common/endian.h"
#include "common/util.h"

#define DICT_MAGIC "QACDICT\0"
#define DICT_VERSION 1

dict_set *dict_set_new(void) { return qcalloc(1, sizeof(dict_set)); }

static void ent_free(dict_ent *d) {
    if (!d) return;
    for (uint32_t i = 0; i < d->paycap; i++) qfree(d->pay[i]);
    qfree(d->pay);
    qfree(d->paylen);
    trie_free(d->t);
    qfree(d->name);
    qfree(d);
}

void dict_set_clear(dict_set *s) {
    for (size_t i = 0; i < s->n; i++) ent_free(s->v[i]);
    s->n = 0;
}

void dict_set_free(dict_set *s) {
    if (!s) return;
    dict_set_clear(s);
    qfree(s->v);
    qfree(s);
}

static int name_cmp(const dict_ent *d, const char *name, size_t nlen) {
    size_t m = d->nlen < nlen ? d->nlen : nlen;
    int c = memcmp(d->name, name, m);
    return c ? c : d->nlen < nlen ? -1 : d->nlen > nlen ? 1 : 0;
}

/* Index of name, or of where it would go (*found 0). */
static size_t find_pos(const dict_set *s, const char *name, size_t nlen, int *found) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(s->v[mid], name, nlen);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = 0;
    return lo;
}

dict_ent *dict_find(const dict_set *s, const char *name, size_t nlen) {
    int found;
    size_t i = find_pos(s, name, nlen, &found);
    return found ? s->v[i] : NULL;
}

dict_ent *dict_create(dict_set *s, const char *name, size_t nlen) {
    int found;
    size_t i = find_pos(s, name, nlen, &found);
    if (found) return s->v[i];
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        dict_ent **nv = qrealloc(s->v, nc * sizeof *nv);
        if (!nv) return NULL;
        s->v = nv;
        s->cap = nc;
    }
    dict_ent *d = qcalloc(1, sizeof *d);
    if (!d) return NULL;
    d->name = qmalloc(nlen ? nlen : 1);
    d->t = trie_new();
    if (!d->name || !d->t) {
        ent_free(d);
        return NULL;
    }
    memcpy(d->name, name, nlen);
    d->nlen = nlen;
    memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof *s->v);
    s->v[i] = d;
    s->n++;
    return d;
}

void dict_drop(dict_set *s, dict_ent *d) {
    int found;
    size_t i = find_pos(s, d->name, d->nlen, &found);
    if (!found || s->v[i] != d) return;
    memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof *s->v);
    s->n--;
    ent_free(d);
}

const char *dict_payload(const dict_ent *d, uint32_t id, uint32_t *len) {
    if (id >= d->paycap || !d->pay[id]) {
        *len = 0;
        return NULL;
    }
    *len = d->paylen[id];
    return d->pay[id];
}

int dict_payload_set(dict_ent *d, uint32_t id, const char *p, size_t len) {
    if (!len) {
        if (id < d->paycap && d->pay[id]) {
            d->pay_bytes -= d->paylen[id];
            qfree(d->pay[id]);
            d->pay[id] = NULL;
            d->paylen[id] = 0;
        }
        return 0;
    }
    if (id >= d->paycap) {
        uint32_t nc = d->paycap ? d->paycap : 64;
        while (nc <= id) nc *= 2;
        char **np = qrealloc(d->pay, (size_t)nc * sizeof *np);
        if (!np) return -1;
        d->pay = np;
        uint32_t *nl = qrealloc(d->paylen, (size_t)nc * sizeof *nl);
        if (!nl) return -1; /* d->pay grew, paycap did not: still consistent */
        d->paylen = nl;
        memset(d->pay + d->paycap, 0, (nc - d->paycap) * sizeof *np);
        memset(d->paylen + d->paycap, 0, (nc - d->paycap) * sizeof *nl);
        d->paycap = nc;
    }
    char *c = qmalloc(len);
    if (!c) return -1;
    memcpy(c, p, len);
    if (d->pay[id]) d->pay_bytes -= d->paylen[id], qfree(d->pay[id]);
    d->pay[id] = c;
    d->paylen[id] = (uint32_t)len;
    d->pay_bytes += len;
    return 0;
}

uint64_t dict_bytes(const dict_ent *d) {
    trie_mem m;
    trie_memory(d->t, &m);
    return m.bytes_alloc + d->pay_bytes + (uint64_t)d->paycap * (sizeof(char *) + 4) + d->nlen + sizeof *d;
}

int dict_fold(const char *s, size_t len, char *out, size_t cap) {
    size_t o = 0, i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0) return -1;
        i += (size_t)n;
        utf8proc_uint8_t enc[4];
        utf8proc_ssize_t m = utf8proc_encode_char(utf8proc_tolower(cp), enc);
        if (o + (size_t)m > cap) return -2;
        memcpy(out + o, enc, (size_t)m);
        o += (size_t)m;
    }
    return (int)o;
}

int dict_sug_key(const char *s, size_t len, char *out, size_t cap) {
    if (cap > TRIE_MAX_KEY) cap = TRIE_MAX_KEY;
    int n = dict_fold(s, len, out, cap);
    if (n < 0) return n;
    if ((size_t)n + 1 + len > cap) return -2;
    out[n] = DICT_SUG_SEP;
    memcpy(out + n + 1, s, len);
    return n + 1 + (int)len;
}

int dict_apply(void *ud, const jrn_rec *r) {
    dict_set *s = ud;
    if (r->op < JRN_OP_DSET) return 0; /* the default dictionary's records are not ours */
    dict_ent *d = dict_find(s, r->name, r->nlen);
    if (r->op == JRN_OP_DDROP) {
        if (d) dict_drop(s, d);
        return 0;
    }
    if (r->op == JRN_OP_DDEL) {
        if (!d) return 0;
        trie_hit h;
        if (!trie_get(d->t, r->key, r->klen, &h)) return 0;
        dict_payload_set(d, h.id, NULL, 0);
        int rc = trie_del(d->t, r->key, r->klen);
        if (rc == 0 && trie_count(d->t) == 0) dict_drop(s, d);
        return rc < 0 && rc != TRIE_ENOTFOUND ? rc : 0;
    }
    if (!d && !(d = dict_create(s, r->name, r->nlen))) return TRIE_ENOMEM;
    uint32_t id;
    int rc = trie_set(d->t, r->key, r->klen, r->disp, r->dlen, r->score, &id);
    if (rc < 0) return rc;
    return dict_payload_set(d, id, r->data, r->plen) < 0 ? TRIE_ENOMEM : 0;
}

/* --- snapshot file --------------------------------------------------------- */

int dict_path(char *buf, size_t cap, const char *snapshot) {
    int n = snprintf(buf, cap, "%s.dicts", snapshot);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

typedef struct dwriter {
    FILE *f;
    uint32_t crc;
    const dict_ent *d;
    int err;
} dwriter;

static void dw_put(dwriter *w, const void *p, size_t n) {
    if (w->err || !n) return;
    w->crc = jrn_crc32c(w->crc, p, n);
    if (fwrite(p, 1, n, w->f) != n) w->err = errno ? errno : EIO;
}

static int save_ent(void *ud, const trie_hit *h) {
    dwriter *w = ud;
    uint32_t pl;
    const char *p = dict_payload(w->d, h->id, &pl);
    unsigned char hd[14];
    le_put_f64(hd, h->score);
    le_put16(hd + 8, h->keylen);
    le_put16(hd + 10, h->displen);
    le_put16(hd + 12, (uint16_t)pl);
    dw_put(w, hd, sizeof hd);
    dw_put(w, trie_hit_key(h), h->keylen);
    dw_put(w, trie_hit_display(h), h->displen);
    dw_put(w, p, pl);
    return w->err ? 1 : 0;
}

int dict_save_needed(const dict_set *s, const char *path) { return s->n > 0 || access(path, F_OK) == 0; }

int dict_save(const dict_set *s, const char *path) {
    char tmp[JRN_PATH_MAX + 8];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    dwriter w = {fopen(tmp, "wb"), 0, NULL, 0};
    if (!w.f) return -1;
    unsigned char h[16];
    memcpy(h, DICT_MAGIC, 8);
    le_put32(h + 8, DICT_VERSION);
    le_put32(h + 12, (uint32_t)s->n);
    dw_put(&w, h, sizeof h);
    for (size_t i = 0; i < s->n && !w.err; i++) {
        const dict_ent *d = s->v[i];
        unsigned char b[10];
        le_put16(b, (uint16_t)d->nlen);
        dw_put(&w, b, 2);
        dw_put(&w, d->name, d->nlen);
        le_put64(b, trie_count(d->t));
        dw_put(&w, b, 8);
        w.d = d;
        trie_foreach(d->t, save_ent, &w);
    }
    unsigned char c[4];
    le_put32(c, w.crc);
    if (!w.err && fwrite(c, 1, 4, w.f) != 4) w.err = errno ? errno : EIO;
    if (!w.err && (fflush(w.f) != 0 || fsync(fileno(w.f)) != 0)) w.err = errno;
    if (fclose(w.f) != 0 && !w.err) w.err = errno;
    if (!w.err && rename(tmp, path) != 0) w.err = errno;
    if (w.err) {
        unlink(tmp);
        errno = w.err;
        return -1;
    }
    /* the directory entry */
    char dir[JRN_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) slash == dir ? (void)(dir[1] = 0) : (void)(*slash = 0);
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        int e = fsync(fd) != 0 ? errno : 0;
        close(fd);
        if (e) {
            errno = e;
            return -1;
        }
    }
    return 0;
}

typedef struct dreader {
    const unsigned char *p;
    size_t len, off;
} dreader;

static const unsigned char *rd(dreader *r, size_t n) {
    if (r->len - r->off < n) return NULL;
    const unsigned char *p = r->p + r->off;
    r->off += n;
    return p;
}

static int load_buf(dict_set *s, const unsigned char *buf, size_t len, char *err, size_t errlen) {
#define BAD(...) \
    do { \
        snprintf(err, errlen, __VA_ARGS__); \
        return -1; \
    } while (0)
    if (len < 20 || memcmp(buf, DICT_MAGIC, 8) != 0) BAD("not a qac dictionaries file (bad magic or too short)");
    if (le_get32(buf + 8) != DICT_VERSION) BAD("unsupported dictionaries file version %u", le_get32(buf + 8));
    if (le_get32(buf + len - 4) != jrn_crc32c(0, buf, len - 4)) BAD("checksum mismatch");
    dreader r = {buf, len - 4, 16};
    uint32_t nd = le_get32(buf + 12);
    for (uint32_t i = 0; i < nd; i++) {
        const unsigned char *p = rd(&r, 2);
        size_t nlen = p ? le_get16(p) : 0;
        const unsigned char *name = p ? rd(&r, nlen) : NULL;
        const unsigned char *cnt = name ? rd(&r, 8) : NULL;
        if (!cnt || nlen < 1 || nlen > JRN_MAX_NAME) BAD("dictionary %u: bad name at byte %zu", i, r.off);
        if (dict_find(s, (const char *)name, nlen)) BAD("dictionary %u: name given twice", i);
        uint64_t ne = le_get64(cnt);
        if (ne == 0 || ne > (r.len - r.off) / 14) BAD("dictionary %u: bad entry count", i);
        trie_builder *b = trie_builder_new();
        if (!b) BAD("out of memory");
        dict_ent tmp = {0};
        for (uint64_t k = 0; k < ne; k++) {
            const unsigned char *hd = rd(&r, 14);
            size_t kl = hd ? le_get16(hd + 8) : 0, dl = hd ? le_get16(hd + 10) : 0, pl = hd ? le_get16(hd + 12) : 0;
            const unsigned char *txt = hd ? rd(&r, kl + dl + pl) : NULL;
            double sc = hd ? le_get_f64(hd) : 0;
            uint32_t id;
            if (!txt || kl < 1 || kl > TRIE_MAX_KEY || dl < 1 || dl > TRIE_MAX_KEY || pl > JRN_MAX_DATA ||
                !isfinite(sc) ||
                trie_builder_add(b, (const char *)txt, kl, (const char *)txt + kl, dl, sc, &id) != TRIE_OK ||
                (pl && dict_payload_set(&tmp, id, (const char *)txt + kl + dl, pl) < 0)) {
                trie_builder_free(b);
                for (uint32_t x = 0; x < tmp.paycap; x++) qfree(tmp.pay[x]);
                qfree(tmp.pay);
                qfree(tmp.paylen);
                BAD("dictionary %u entry %llu: bad record at byte %zu", i, (unsigned long long)k, r.off);
            }
        }
        trie *t = NULL;
        dict_ent *d = NULL;
        if (trie_builder_finish(b, &t) != TRIE_OK || !(d = dict_create(s, (const char *)name, nlen))) {
            trie_free(t);
            for (uint32_t x = 0; x < tmp.paycap; x++) qfree(tmp.pay[x]);
            qfree(tmp.pay);
            qfree(tmp.paylen);
            BAD("out of memory");
        }
        trie_free(d->t);
        d->t = t;
        d->pay = tmp.pay, d->paylen = tmp.paylen, d->paycap = tmp.paycap, d->pay_bytes = tmp.pay_bytes;
    }
    if (r.off != r.len) BAD("%zu bytes after the last dictionary", r.len - r.off);
    return 0;
#undef BAD
}

static int read_fd(int fd, char **out, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *b = qmalloc(cap);
    if (!b) return -1;
    for (;;) {
        if (n == cap) {
            char *nb = qrealloc(b, cap * 2);
            if (!nb) {
                qfree(b);
                errno = ENOMEM;
                return -1;
            }
            b = nb, cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            qfree(b);
            return -1;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    *out = b;
    *len = n;
    return 0;
}

int dict_load(dict_set *s, const char *path, char *err, size_t errlen) {
    char *buf = NULL;
    size_t len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = read_fd(fd, &buf, &len);
    close(fd);
    if (rc < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char why[300];
    rc = load_buf(s, (const unsigned char *)buf, len, why, sizeof why);
    qfree(buf);
    if (rc < 0) {
        dict_set_clear(s);
        snprintf(err, errlen, "%s: %s", path, why);
    }
    return rc;
}
