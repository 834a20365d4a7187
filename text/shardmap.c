/* shardmap.c -- the shard map file: parse, validate, write, look up, balance
 * (text/shardmap.h has the format and the rules).
 *
 * The parser works line by line on a copy-free view of the text: each line
 * is split into at most SHARDMAP_FIELDS blank-separated fields held as
 * (pointer, length) pairs, numbers are parsed with explicit bounds, and every
 * rule failure names its line. Lookups are a binary search over the ranges
 * (ascending and contiguous once validated).
 */
#include "text/shardmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "text/norm.h"

#define SHARDMAP_FIELDS 5 /* fields of the longest record, plus one to catch extras */
#define SHARDMAP_MAGIC "qac-shardmap"

typedef struct field {
    const char *p;
    size_t n;
} field;

static int fis(const field *f, const char *s) { return f->n == strlen(s) && !memcmp(f->p, s, f->n); }

/* An unsigned number of the given base, at most max; -1 when it is not. */
static int fnum(const field *f, int base, uint64_t max, uint64_t *out) {
    if (!f->n || f->n > 20) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < f->n; i++) {
        char c = f->p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0 || (uint64_t)d > max || v > (max - (uint64_t)d) / (uint64_t)base) return -1;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return 0;
}

static int split(const char *s, size_t n, field *f) {
    int nf = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
        if (i == n) break;
        size_t b = i;
        while (i < n && s[i] != ' ' && s[i] != '\t') i++;
        if (nf == SHARDMAP_FIELDS) return nf + 1;
        f[nf].p = s + b;
        f[nf].n = i - b;
        nf++;
    }
    return nf;
}

int shardmap_validate(const shardmap *m, char *err, size_t errlen) {
    if (m->key_form != NORM_FORM_MATCH && m->key_form != NORM_FORM_EVAL) {
        snprintf(err, errlen, "unknown key form %d", m->key_form);
        return -1;
    }
    if (m->nshards < 1 || m->nshards > SHARDMAP_MAX_SHARDS) {
        snprintf(err, errlen, "%u shards (1..%d)", m->nshards, SHARDMAP_MAX_SHARDS);
        return -1;
    }
    if (m->nranges < 1 || m->nranges > SHARDMAP_MAX_RANGES) {
        snprintf(err, errlen, "%zu ranges (1..%d)", m->nranges, SHARDMAP_MAX_RANGES);
        return -1;
    }
    uint64_t owned = 0;
    for (size_t i = 0; i < m->nranges; i++) {
        const shardmap_range *r = &m->ranges[i];
        uint32_t want = i ? m->ranges[i - 1].hi + 1 : 0;
        if (r->lo != want || r->hi < r->lo || r->hi > SHARDMAP_MAX_CP) {
            snprintf(err, errlen, "range %zu (%x..%x) does not continue the ranges at %x (ascending, contiguous, "
                     "0..10ffff)", i, r->lo, r->hi, want);
            return -1;
        }
        if (r->shard >= m->nshards) {
            snprintf(err, errlen, "range %zu names shard %u of %u", i, r->shard, m->nshards);
            return -1;
        }
        owned |= (uint64_t)1 << r->shard;
    }
    if (m->ranges[m->nranges - 1].hi != SHARDMAP_MAX_CP) {
        snprintf(err, errlen, "the ranges end at %x, not 10ffff", m->ranges[m->nranges - 1].hi);
        return -1;
    }
    for (unsigned s = 0; s < m->nshards; s++) {
        if (!(owned >> s & 1)) {
            snprintf(err, errlen, "shard %u owns no range", s);
            return -1;
        }
        if (!m->index[s][0] || strchr(m->index[s], '/')) {
            snprintf(err, errlen, "shard %u: index name '%s' is empty or has a '/'", s, m->index[s]);
            return -1;
        }
    }
    return 0;
}

/* One record; 0 or -1 with err (without the line number). */
static int parse_record(shardmap *m, const field *f, int nf, uint64_t *seen, int *have_keys, char *err,
                        size_t errlen) {
    uint64_t a, b, c;
    if (fis(&f[0], "keys") && nf == 2) {
        char name[8];
        if (*have_keys || m->nshards || m->nranges) return snprintf(err, errlen, "'keys' out of place"), -1;
        snprintf(name, sizeof name, "%.*s", (int)(f[1].n < 7 ? f[1].n : 7), f[1].p);
        if (f[1].n > 7 || (m->key_form = norm_form_parse(name)) < 0)
            return snprintf(err, errlen, "unknown key form (match, eval)"), -1;
        *have_keys = 1;
    } else if (fis(&f[0], "shards") && nf == 2) {
        if (!*have_keys || m->nshards) return snprintf(err, errlen, "'shards' out of place (after 'keys', once)"), -1;
        if (fnum(&f[1], 10, SHARDMAP_MAX_SHARDS, &a) < 0 || a < 1)
            return snprintf(err, errlen, "bad shard count (1..%d)", SHARDMAP_MAX_SHARDS), -1;
        m->nshards = (unsigned)a;
    } else if (fis(&f[0], "shard") && nf == 4) {
        if (!m->nshards) return snprintf(err, errlen, "'shard' before 'shards'"), -1;
        if (fnum(&f[1], 10, m->nshards - 1, &a) < 0) return snprintf(err, errlen, "bad shard number"), -1;
        if (*seen >> a & 1) return snprintf(err, errlen, "shard %llu listed twice", (unsigned long long)a), -1;
        if (f[2].n > SHARDMAP_MAX_NAME || memchr(f[2].p, '/', f[2].n))
            return snprintf(err, errlen, "bad index name (at most %d bytes, no '/')", SHARDMAP_MAX_NAME), -1;
        if (fnum(&f[3], 10, UINT64_MAX, &b) < 0) return snprintf(err, errlen, "bad key count"), -1;
        memcpy(m->index[a], f[2].p, f[2].n);
        m->index[a][f[2].n] = 0;
        m->keys[a] = b;
        *seen |= (uint64_t)1 << a;
    } else if (fis(&f[0], "range") && nf == 4) {
        if (!m->nshards) return snprintf(err, errlen, "'range' before 'shards'"), -1;
        if (m->nranges == SHARDMAP_MAX_RANGES)
            return snprintf(err, errlen, "more than %d ranges", SHARDMAP_MAX_RANGES), -1;
        if (fnum(&f[1], 16, SHARDMAP_MAX_CP, &a) < 0 || fnum(&f[2], 16, SHARDMAP_MAX_CP, &b) < 0)
            return snprintf(err, errlen, "bad code point (lower-case hex, at most 10ffff)"), -1;
        if (fnum(&f[3], 10, m->nshards - 1, &c) < 0) return snprintf(err, errlen, "bad shard number"), -1;
        m->ranges[m->nranges++] = (shardmap_range){(uint32_t)a, (uint32_t)b, (uint32_t)c};
    } else {
        return snprintf(err, errlen, "unknown record or wrong field count"), -1;
    }
    return 0;
}

int shardmap_parse(const char *text, size_t len, shardmap *m, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    m->key_form = -1;
    uint64_t seen = 0;
    int have_magic = 0, have_keys = 0;
    size_t lineno = 0, i = 0;
    char why[160];
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        const char *s = text + i;
        i += n + (nl ? 1 : 0);
        lineno++;
        if (n && s[n - 1] == '\r') n--;
        if (n > SHARDMAP_MAX_LINE) {
            snprintf(err, errlen, "line %zu: over %d bytes", lineno, SHARDMAP_MAX_LINE);
            return -1;
        }
        if (memchr(s, 0, n)) {
            snprintf(err, errlen, "line %zu: a NUL byte", lineno);
            return -1;
        }
        field f[SHARDMAP_FIELDS];
        int nf = split(s, n, f);
        if (!nf || f[0].p[0] == '#') continue;
        if (!have_magic) {
            uint64_t v;
            if (nf != 2 || !fis(&f[0], SHARDMAP_MAGIC)) {
                snprintf(err, errlen, "line %zu: not a qac shard map (want '%s %d' first)", lineno, SHARDMAP_MAGIC,
                         SHARDMAP_VERSION);
                return -1;
            }
            if (fnum(&f[1], 10, UINT32_MAX, &v) < 0 || v != SHARDMAP_VERSION) {
                snprintf(err, errlen, "line %zu: shard map version '%.*s' (this qac reads %d)", lineno,
                         (int)(f[1].n < 20 ? f[1].n : 20), f[1].p, SHARDMAP_VERSION);
                return -1;
            }
            have_magic = 1;
            continue;
        }
        if (parse_record(m, f, nf, &seen, &have_keys, why, sizeof why) < 0) {
            snprintf(err, errlen, "line %zu: %s", lineno, why);
            return -1;
        }
    }
    if (!have_magic) return snprintf(err, errlen, "empty: not a qac shard map"), -1;
    if (!have_keys || !m->nshards) return snprintf(err, errlen, "no 'keys' or 'shards' line"), -1;
    for (unsigned s = 0; s < m->nshards; s++)
        if (!(seen >> s & 1)) return snprintf(err, errlen, "shard %u has no 'shard' line", s), -1;
    return shardmap_validate(m, err, errlen);
}

int shardmap_load(const char *path, shardmap *m, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1;
    char *buf = malloc(SHARDMAP_MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, SHARDMAP_MAX_FILE + 1, f) : 0;
    int bad = !buf ? 1 : ferror(f) ? 2 : n > SHARDMAP_MAX_FILE ? 3 : 0;
    fclose(f);
    int rc = -1;
    char why[400];
    if (bad == 1) snprintf(err, errlen, "%s: out of memory", path);
    else if (bad == 2) snprintf(err, errlen, "%s: read error", path);
    else if (bad == 3) snprintf(err, errlen, "%s: over %u bytes: not a shard map", path, SHARDMAP_MAX_FILE);
    else if (shardmap_parse(buf, n, m, why, sizeof why) < 0) snprintf(err, errlen, "%s: %s", path, why);
    else rc = 0;
    free(buf);
    return rc;
}

int shardmap_write(FILE *f, const shardmap *m) {
    fprintf(f, "# qac shard map: first code point of the normalized key -> shard (docs/SCALING.md)\n");
    fprintf(f, "%s %d\nkeys %s\nshards %u\n", SHARDMAP_MAGIC, SHARDMAP_VERSION, norm_form_name(m->key_form),
            m->nshards);
    for (unsigned s = 0; s < m->nshards; s++)
        fprintf(f, "shard %u %s %llu\n", s, m->index[s], (unsigned long long)m->keys[s]);
    for (size_t i = 0; i < m->nranges; i++)
        fprintf(f, "range %x %x %u\n", m->ranges[i].lo, m->ranges[i].hi, m->ranges[i].shard);
    return ferror(f) ? -1 : 0;
}

int shardmap_owner(const shardmap *m, uint32_t cp) {
    if (cp > SHARDMAP_MAX_CP || !m->nranges) return -1;
    size_t lo = 0, hi = m->nranges - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->ranges[mid].hi < cp) lo = mid + 1;
        else hi = mid;
    }
    return (int)m->ranges[lo].shard;
}

int shardmap_first_cp(const char *s, size_t len, uint32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    if (!len) return -1;
    size_t n = u[0] < 0x80 ? 1 : (u[0] & 0xe0) == 0xc0 ? 2 : (u[0] & 0xf0) == 0xe0 ? 3 : (u[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (!n || n > len) return -1;
    uint32_t v = n == 1 ? u[0] : (uint32_t)(u[0] & (0x7f >> n));
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xc0) != 0x80) return -1;
        v = v << 6 | (u[i] & 0x3f);
    }
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < least[n] || v > SHARDMAP_MAX_CP || (v >= 0xd800 && v <= 0xdfff)) return -1;
    *cp = v;
    return 0;
}

int shardmap_balance(const uint32_t *cps, const uint64_t *counts, size_t n, unsigned nshards, shardmap *m,
                     char *err, size_t errlen) {
    if (nshards < 1 || nshards > SHARDMAP_MAX_SHARDS)
        return snprintf(err, errlen, "%u shards (1..%d)", nshards, SHARDMAP_MAX_SHARDS), -1;
    if (n < nshards)
        return snprintf(err, errlen, "only %zu distinct first characters: at most %zu shards", n, n), -1;
    long double total = 0;
    for (size_t i = 0; i < n; i++) total += (long double)counts[i];
    m->nshards = nshards;
    m->nranges = 0;
    size_t i = 0;
    long double run = 0;
    uint32_t lo = 0;
    for (unsigned s = 0; s < nshards; s++) {
        m->keys[s] = 0;
        long double goal = total * (s + 1) / nshards;
        /* at least one code point each; leave one to each later shard */
        do {
            run += (long double)counts[i];
            m->keys[s] += counts[i];
            i++;
        } while (i < n && n - i > nshards - 1 - s && (s == nshards - 1 || run + (long double)counts[i] / 2 <= goal));
        uint32_t hi = s == nshards - 1 ? SHARDMAP_MAX_CP : cps[i] - 1;
        m->ranges[m->nranges++] = (shardmap_range){lo, hi, s};
        lo = hi + 1;
    }
    return 0;
}
