/* build.c -- `qac build`: query logs -> scored keys -> trie snapshot.
 *
 * Accumulation happens in two hash tables of our own before anything touches
 * the trie (one builder call per distinct key at the end, instead of one trie
 * update per log line):
 *   keys      normalized key -> {score parts, count of its own spelling}
 *   spells    display form   -> {key index, raw count}, only for spellings
 *             that differ from the key (the common case needs no entry)
 * Each table is a dense array of entries in first-seen order plus an open-
 * addressing index (uint64: hash << 32 | entry number + 1, 0 = empty; linear
 * probing compares hashes without touching entries; power-of-two size, at
 * most 5/8 full; the key index is pre-sized from the input size). Strings
 * live in one arena (a growable byte array addressed by 48-bit offsets),
 * never malloc'ed one by one. A display form always normalizes to the same
 * key, so the display string alone identifies a spelling.
 *
 * Then (acc_finish) the indexes and spellings are freed and each kept key
 * becomes a 24-byte brec written over its own entry array; build_sort_keys
 * orders them (radix on 8 bytes at a time); a spool in sorted order is
 * written, the rest freed, and the builder consumes the spool while it is
 * unmapped behind it (peak memory: see build_trie).
 *
 * Decay without overflow: each key keeps `ref`, the latest event time seen
 * for it, and `decayed` = sum of 2^((t - ref) / H) over its events (every
 * term <= 1; when a later event arrives the sum is rescaled). At the end the
 * score is untimed + decayed * 2^((ref - newest) / H).
 *
 * Display choice: other spellings are numbered in first-seen order and the
 * key's own spelling records how many spellings existed when it was first
 * seen, so "most frequent by raw count, ties -> first seen" is decided
 * exactly as if all spellings were in one first-seen list.
 */
#include "data/build.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cli.h"
#include "common/util.h"
#include "data/build_shards.h"
#include "text/norm.h"
#include "trie/trie_words.h"

#define BUILD_NORM_CAP (QLOG_MAX_QUERY * NORM_MAX_GROWTH)
#define BUILD_MAX_ENTRIES 0x7fffffffu  /* entries per table (uint32 index, +1) */
#define BUILD_PROGRESS_EVERY 65536     /* records between clock checks */
#define BUILD_FIRST_SLOTS (1u << 16)   /* first index size of a table */
#define BUILD_MAX_AVG_LINE 64          /* bytes per distinct key assumed when pre-sizing */
#define BUILD_MAX_PRESIZE (1u << 26)   /* largest pre-sized index (slots) */
#define BUILD_SPOOL_CHUNK (64u << 20) /* bytes of consumed spool unmapped at a time */
#define SPOOL_HEAD 12                  /* spool record header: score, key length, display length */
#define SPOOL_SAME 0xffffu             /* spool display length: the display is the key */
#define NONE UINT32_MAX
#define PACK(off, len) ((uint64_t)(off) | (uint64_t)(len) << BUILD_OFF_BITS)
#define POFF(p) ((p) & (((uint64_t)1 << BUILD_OFF_BITS) - 1))
#define PLEN(p) ((size_t)((p) >> BUILD_OFF_BITS))

/* Header shared by kent and sent (same leading layout). */
typedef struct ehead {
    uint64_t off;
    uint32_t hash;
    uint16_t len, pad;
} ehead;

typedef struct kent {
    ehead h;
    double untimed;    /* summed weight of untimed records (untimed + decayed at the end) */
    double self_n;     /* raw count of the spelling equal to the key itself */
    uint32_t self_pos; /* spells.count when that spelling was first seen; NONE: never */
    uint32_t best;     /* best other spelling (index into spells), set at the end */
} kent;

/* Decay state of a key, a parallel array of keys kept only under --half-life. */
typedef struct kdecay {
    double decayed;
    int64_t ref; /* latest event time of this key; QLOG_NO_TIME: none yet */
} kdecay;

typedef struct sent {
    ehead h;
    uint32_t key;
    double n;
} sent;

/* A kept key after accumulation: key and display as PACK(arena offset,
 * length), and the final score. Written over the kent array in place. */
typedef struct brec {
    uint64_t k, d;
    double score;
} brec;

typedef struct table {
    void *ents; /* kent[] or sent[] */
    size_t esize, count, ecap;
    uint64_t *slots; /* hash << 32 | (entry + 1); 0 = empty */
    size_t nslots;
} table;

typedef struct acc {
    char *arena;
    uint64_t alen, acap;
    table keys, spells;
    kdecay *decay; /* keys.ecap of them when used */
    size_t dcap;
} acc;

static uint32_t hash32(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return (uint32_t)(h ^ (h >> 32));
}

static int arena_put(acc *a, const char *s, size_t n, uint64_t *off) {
    if (a->alen + n > a->acap) {
        uint64_t ncap = a->acap ? a->acap * 2 : 1 << 20;
        while (ncap < a->alen + n) ncap *= 2;
        if (ncap > ((uint64_t)1 << BUILD_OFF_BITS)) return -1;
        char *nb = qrealloc(a->arena, ncap);
        if (!nb) return -1;
        a->arena = nb;
        a->acap = ncap;
    }
    memcpy(a->arena + a->alen, s, n);
    *off = a->alen;
    a->alen += n;
    return 0;
}

static ehead *ent_at(table *t, size_t i) { return (ehead *)((char *)t->ents + i * t->esize); }

/* Re-indexes into ns slots. The hash is in the slot: no entry is touched. */
static int table_resize(table *t, size_t ns) {
    uint64_t *sl = qcalloc(ns, sizeof *sl);
    if (!sl) return -1;
    for (size_t i = 0; i < t->nslots; i++) {
        uint64_t v = t->slots[i];
        if (!v) continue;
        size_t j = (v >> 32) & (ns - 1);
        while (sl[j]) j = (j + 1) & (ns - 1);
        sl[j] = v;
    }
    qfree(t->slots);
    t->slots = sl;
    t->nslots = ns;
    return 0;
}

/* Finds s in t, or appends a zeroed entry for it (string copied to the
 * arena). Returns the entry index, *fresh set when appended; -1 on ENOMEM or
 * when the table is full. The index is kept at most 5/8 full. */
static int64_t table_find_add(acc *a, table *t, const char *s, size_t n, int *fresh) {
    if (8 * (t->count + 1) > 5 * t->nslots &&
        table_resize(t, t->nslots ? t->nslots * 2 : BUILD_FIRST_SLOTS) < 0)
        return -1;
    uint32_t h = hash32(s, n);
    size_t mask = t->nslots - 1, j = h & mask;
    for (uint64_t v; (v = t->slots[j]) != 0; j = (j + 1) & mask) {
        if ((uint32_t)(v >> 32) != h) continue;
        uint32_t i = (uint32_t)v - 1;
        ehead *e = ent_at(t, i);
        if (e->len == n && !memcmp(a->arena + e->off, s, n)) {
            *fresh = 0;
            return i;
        }
    }
    if (t->count >= BUILD_MAX_ENTRIES) return -1;
    if (t->count == t->ecap) {
        size_t nc = t->ecap ? t->ecap * 2 : 1 << 14;
        void *ne = qrealloc(t->ents, nc * t->esize);
        if (!ne) return -1;
        t->ents = ne;
        t->ecap = nc;
    }
    ehead *e = ent_at(t, t->count);
    memset(e, 0, t->esize);
    if (arena_put(a, s, n, &e->off) < 0) return -1;
    e->len = (uint16_t)n;
    e->hash = h;
    t->slots[j] = (uint64_t)h << 32 | (uint64_t)(t->count + 1);
    *fresh = 1;
    return (int64_t)t->count++;
}

static void acc_free(acc *a) {
    qfree(a->arena);
    qfree(a->keys.ents);
    qfree(a->keys.slots);
    qfree(a->spells.ents);
    qfree(a->spells.slots);
    qfree(a->decay);
}

/* ---- sorting ------------------------------------------------------------- */

typedef struct spair {
    uint64_t pfx; /* key bytes [depth, depth + 8), big-endian, zero padded */
    uint32_t idx;
} spair;

typedef struct sctx {
    const char *base;
    const char *packed;
    size_t stride, depth;
} sctx;

static uint64_t packed_at(const sctx *c, uint32_t i) {
    uint64_t v;
    memcpy(&v, c->packed + (size_t)i * c->stride, sizeof v);
    return v;
}

static uint64_t key_pfx(const sctx *c, uint32_t i, size_t depth) {
    uint64_t p = packed_at(c, i);
    const unsigned char *s = (const unsigned char *)c->base + POFF(p);
    size_t len = PLEN(p), m = len > depth ? len - depth : 0;
    if (m > 8) m = 8;
    uint64_t v = 0;
    for (size_t b = 0; b < m; b++) v |= (uint64_t)s[depth + b] << (56 - 8 * b);
    return v;
}

/* qsort_r order of pairs whose keys agree on their first c->depth bytes. */
static int pair_order(const void *x, const void *y, void *ud) {
    const sctx *c = ud;
    uint64_t p = packed_at(c, ((const spair *)x)->idx), q = packed_at(c, ((const spair *)y)->idx);
    size_t pl = PLEN(p), ql = PLEN(q), d = c->depth;
    size_t pr = pl > d ? pl - d : 0, qr = ql > d ? ql - d : 0;
    int r = memcmp(c->base + POFF(p) + (pl - pr), c->base + POFF(q) + (ql - qr), pr < qr ? pr : qr);
    return r ? r : (pl > ql) - (pl < ql);
}

/* Sorts v[0..n) (keys equal on their first depth bytes) by LSD radix on the
 * next 8 bytes (four 16-bit digits, tmp: n pairs of scratch), then each run
 * of equal 8 bytes: large runs recursively 8 bytes deeper, small ones by
 * comparison. Recursion depth <= TRIE_MAX_KEY / 8 in principle; BUILD_OFF_BITS
 * bounds key lengths anyway. */
static int radix_sort(sctx *c, spair *v, spair *tmp, size_t n, size_t depth) {
    size_t *cnt = qcalloc(4 * 65536, sizeof *cnt);
    if (!cnt) return -1;
    for (size_t i = 0; i < n; i++) {
        v[i].pfx = key_pfx(c, v[i].idx, depth);
        for (int d = 0; d < 4; d++) cnt[d * 65536 + ((v[i].pfx >> (16 * d)) & 0xffff)]++;
    }
    spair *src = v, *dst = tmp;
    for (int d = 0; d < 4; d++) {
        size_t *ct = cnt + d * 65536, sum = 0;
        if (ct[(src[0].pfx >> (16 * d)) & 0xffff] == n) continue; /* one bucket: nothing moves */
        for (size_t b = 0; b < 65536; b++) {
            size_t k = ct[b];
            ct[b] = sum;
            sum += k;
        }
        for (size_t i = 0; i < n; i++) dst[ct[(src[i].pfx >> (16 * d)) & 0xffff]++] = src[i];
        spair *t = src;
        src = dst;
        dst = t;
    }
    qfree(cnt);
    if (src != v) memcpy(v, src, n * sizeof *v);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && v[j].pfx == v[i].pfx; j++) {}
        size_t run = j - i;
        if (run < 2) continue;
        if (run >= BUILD_SORT_RADIX_MIN) {
            if (radix_sort(c, v + i, tmp, run, depth + 8) < 0) return -1;
        } else {
            c->depth = depth + 8;
            qsort_r(v + i, run, sizeof *v, pair_order, c);
        }
    }
    return 0;
}

int build_sort_keys(const char *base, const void *packed, size_t stride, size_t n, uint32_t *order) {
    if (n == 0) return 0;
    if (n > UINT32_MAX) return -1;
    spair *v = qmalloc(n * sizeof *v), *tmp = qmalloc(n * sizeof *tmp);
    int rc = -1;
    if (v && tmp) {
        sctx c = {base, packed, stride, 0};
        for (size_t i = 0; i < n; i++) v[i].idx = (uint32_t)i;
        rc = radix_sort(&c, v, tmp, n, 0);
    }
    qfree(tmp);
    if (rc == 0)
        for (size_t i = 0; i < n; i++) order[i] = v[i].idx;
    qfree(v);
    return rc;
}

void build_opts_init(build_opts *o) {
    memset(o, 0, sizeof *o);
    o->format = QLOG_AUTO;
    o->since = INT64_MIN;
    o->until = INT64_MAX;
}

/* Maps a norm_* error to the bad-line reason it stands for. */
static qlog_reason norm_reason(int err) {
    switch (err) {
    case NORM_EUTF8: return QLOG_INVALID_UTF8;
    case NORM_ECONTROL: return QLOG_CONTROL_CHAR;
    default: return QLOG_TOO_LONG;
    }
}

typedef struct progress {
    int on, shown;
    uint64_t start_ns, last_ns;
    int64_t total_bytes; /* -1 when unknown */
    uint64_t done_bytes, lines;
} progress;

static void progress_show(progress *p, uint64_t cur_bytes, uint64_t cur_lines) {
    uint64_t now = qtime_ns();
    if (now - p->last_ns < 500000000ull) return;
    p->last_ns = now;
    double secs = (double)(now - p->start_ns) / 1e9;
    uint64_t lines = p->lines + cur_lines, bytes = p->done_bytes + cur_bytes;
    double rate = secs > 0 ? (double)lines / secs : 0;
    if (p->total_bytes > 0) {
        double frac = (double)bytes / (double)p->total_bytes;
        double eta = frac > 0 ? secs * (1 - frac) / frac : 0;
        fprintf(stderr, "\rqac build: %llu lines, %.0f lines/s, %.1f%%, ETA %.0f s   ", (unsigned long long)lines,
                rate, 100 * frac, eta);
    } else {
        fprintf(stderr, "\rqac build: %llu lines, %.0f lines/s   ", (unsigned long long)lines, rate);
    }
    p->shown = 1;
}

/* Makes a->decay as long as the key table's entry array. 0 or -1. */
static int decay_reserve(acc *a) {
    if (a->dcap >= a->keys.ecap) return 0;
    kdecay *nd = qrealloc(a->decay, a->keys.ecap * sizeof *nd);
    if (!nd) return -1;
    a->decay = nd;
    a->dcap = a->keys.ecap;
    return 0;
}

/* Reads one file into the accumulator. 0 or -1 (message in err). */
static int read_file(const build_opts *o, const char *path, acc *a, build_report *rep, progress *pg, char *err,
                     size_t errlen) {
    qlog *r = qlog_open(path, o->format, o->strict ? QLOG_STRICT : 0, err, errlen);
    if (!r) return -1;
    char key[BUILD_NORM_CAP], disp[BUILD_NORM_CAP];
    double hl = o->half_life_days * 86400.0;
    qlog_stats extra = {0}; /* bad lines found here, after the reader */
    qlog_rec rec;
    int rc, ret = 0;
    uint64_t since_check = 0;
    while ((rc = qlog_next(r, &rec)) == 1) {
        if (pg->on && ++since_check >= BUILD_PROGRESS_EVERY) {
            since_check = 0;
            progress_show(pg, qlog_get_stats(r)->bytes, qlog_get_stats(r)->lines);
        }
        int timed = rec.time != QLOG_NO_TIME;
        if (timed && (rec.time < o->since || rec.time >= o->until)) {
            rep->out_of_range++;
            continue;
        }
        int kn = norm_key_as(o->key_form, rec.query, rec.querylen, key, sizeof key);
        int dn = kn >= 0 ? norm_display(rec.query, rec.querylen, disp, sizeof disp) : kn;
        if (kn == NORM_ENOMEM || dn == NORM_ENOMEM) {
            snprintf(err, errlen, "%s: out of memory", path);
            ret = -1;
            break;
        }
        int why = -1;
        if (kn < 0 || dn < 0) why = norm_reason(kn < 0 ? kn : dn);
        else if (kn == 0) why = QLOG_EMPTY;
        else if (kn > TRIE_MAX_KEY || dn > TRIE_MAX_KEY) why = QLOG_TOO_LONG;
        if (why >= 0) {
            extra.bad[why]++;
            extra.records++; /* subtracted below: not a record after all */
            if (o->strict) {
                snprintf(err, errlen, "%s:%llu: %s", path, (unsigned long long)rec.line,
                         qlog_reason_name((qlog_reason)why));
                ret = -1;
                break;
            }
            continue;
        }
        int fresh;
        int64_t ki = table_find_add(a, &a->keys, key, (size_t)kn, &fresh);
        if (ki >= 0 && fresh) {
            kent *k = (kent *)a->keys.ents + ki;
            k->self_pos = k->best = NONE;
            if (hl > 0 && decay_reserve(a) < 0) ki = -1;
            else if (hl > 0) a->decay[ki] = (kdecay){0, QLOG_NO_TIME};
        }
        int self = ki >= 0 && dn == kn && !memcmp(key, disp, (size_t)kn);
        int64_t si = ki < 0 || self ? -1 : table_find_add(a, &a->spells, disp, (size_t)dn, &fresh);
        if (ki < 0 || (!self && si < 0)) {
            snprintf(err, errlen, "%s: out of memory (or over %u distinct keys)", path, BUILD_MAX_ENTRIES);
            ret = -1;
            break;
        }
        kent *k = (kent *)a->keys.ents + ki;
        if (self) {
            /* The common case: the spelling is the key; counted in place. */
            if (k->self_pos == NONE) k->self_pos = (uint32_t)a->spells.count;
            k->self_n += rec.count;
        } else {
            sent *s = (sent *)a->spells.ents + si;
            if (fresh) s->key = (uint32_t)ki;
            s->n += rec.count;
        }
        if (timed && hl > 0) {
            kdecay *kd = &a->decay[ki];
            if (kd->ref == QLOG_NO_TIME) {
                kd->ref = rec.time;
                kd->decayed = rec.count;
            } else if (rec.time > kd->ref) {
                kd->decayed = kd->decayed * exp2((double)(kd->ref - rec.time) / hl) + rec.count;
                kd->ref = rec.time;
            } else {
                kd->decayed += rec.count * exp2((double)(rec.time - kd->ref) / hl);
            }
        } else {
            k->untimed += rec.count;
        }
        if (timed && (rep->newest == QLOG_NO_TIME || rec.time > rep->newest)) rep->newest = rec.time;
        rep->kept++;
    }
    if (rc < 0 && ret == 0) {
        snprintf(err, errlen, "%s", qlog_error(r));
        ret = -1;
    }
    qlog_stats st = *qlog_get_stats(r);
    st.records -= extra.records;
    extra.records = 0;
    qlog_stats_add(&st, &extra);
    if (pg->on) {
        pg->done_bytes += st.bytes;
        pg->lines += st.lines;
    }
    if (!o->quiet) {
        if (pg->shown) fputc('\n', stderr), pg->shown = 0;
        char label[600];
        snprintf(label, sizeof label, "qac build: %s (%s)", path, qlog_format_name(qlog_get_format(r)));
        qlog_print_stats(stderr, label, &st);
    }
    qlog_stats_add(&rep->total, &st);
    rep->files++;
    qlog_close(r);
    return ret;
}

/* Turns the accumulated keys into brecs (over the kent array, in place),
 * dropping those under min_count, and frees everything else but the arena.
 * Returns the number of brecs at a->keys.ents. */
static size_t acc_finish(const build_opts *o, acc *a, build_report *rep) {
    kent *ks = a->keys.ents;
    const sent *ss = a->spells.ents;
    qfree(a->keys.slots);
    qfree(a->spells.slots);
    a->keys.slots = a->spells.slots = NULL;
    for (size_t i = 0; i < a->spells.count; i++) {
        kent *k = &ks[ss[i].key];
        if (k->best == NONE || ss[i].n > ss[k->best].n) k->best = (uint32_t)i;
    }
    double hl = o->half_life_days * 86400.0;
    size_t nkept = 0;
    for (size_t i = 0; i < a->keys.count; i++) {
        kent k = ks[i]; /* copied: brec nkept <= i overwrites it */
        double score = k.untimed;
        if (a->decay && a->decay[i].ref != QLOG_NO_TIME)
            score += a->decay[i].decayed * exp2((double)(a->decay[i].ref - rep->newest) / hl);
        if (score < o->min_count) {
            rep->dropped++;
            continue;
        }
        /* Most frequent spelling, ties -> first seen: the key's own spelling
         * was first seen before spells[self_pos] and after those below it. */
        uint64_t kp = PACK(k.h.off, k.h.len), dp = kp;
        if (k.best != NONE) {
            const sent *b = &ss[k.best];
            if (k.self_pos == NONE || b->n > k.self_n || (b->n == k.self_n && k.best < k.self_pos))
                dp = PACK(b->h.off, b->h.len);
        }
        brec *r = (brec *)(void *)ks + nkept++;
        r->k = kp;
        r->d = dp;
        r->score = score;
    }
    qfree(a->spells.ents);
    a->spells.ents = NULL;
    qfree(a->decay);
    a->decay = NULL;
    brec *shrunk = qrealloc(a->keys.ents, (nkept ? nkept : 1) * sizeof(brec));
    if (shrunk) a->keys.ents = shrunk; /* else the larger block stays: still valid */
    return nkept;
}

int build_trie(const build_opts *o, char *const *files, int nfiles, trie **out, build_report *rep_out, char *err,
               size_t errlen) {
    *out = NULL;
    build_report rep;
    memset(&rep, 0, sizeof rep);
    rep.newest = QLOG_NO_TIME;
    uint64_t t0 = qtime_ns();
    acc a;
    memset(&a, 0, sizeof a);
    a.keys.esize = sizeof(kent);
    a.spells.esize = sizeof(sent);
    progress pg = {.on = o->progress && !o->quiet, .start_ns = t0, .last_ns = t0, .total_bytes = 0};
    for (int i = 0; i < nfiles && pg.total_bytes >= 0; i++) {
        struct stat sb;
        if (strcmp(files[i], "-") && stat(files[i], &sb) == 0 && S_ISREG(sb.st_mode)) pg.total_bytes += sb.st_size;
        else pg.total_bytes = -1;
    }
    /* Pre-size the key index from the input size (no re-indexing while it
     * fills); capped, and re-indexing still works past the guess. */
    int ret = 0;
    if (pg.total_bytes > 0) {
        size_t want = (size_t)pg.total_bytes / BUILD_MAX_AVG_LINE * 8 / 5, ns = BUILD_FIRST_SLOTS;
        while (ns < want && ns < BUILD_MAX_PRESIZE) ns *= 2;
        if (table_resize(&a.keys, ns) < 0) {
            snprintf(err, errlen, "out of memory");
            ret = -1;
        }
    }
    for (int i = 0; i < nfiles && ret == 0; i++) ret = read_file(o, files[i], &a, &rep, &pg, err, errlen);
    if (pg.shown) fputc('\n', stderr);
    /* The trie is bulk-built: the kept keys are sorted (bytewise) and fed to
     * trie_builder in order, one pass bottom-up, instead of one trie_set each.
     * Only the arena, the brecs and the order live alongside the builder. */
    trie *t = NULL;
    trie_builder *tb = NULL;
    uint32_t *order = NULL;
    size_t nkept = ret == 0 ? acc_finish(o, &a, &rep) : 0;
    const brec *rs = a.keys.ents;
    if (ret == 0 && (!(order = qmalloc((nkept ? nkept : 1) * sizeof *order)) ||
                     build_sort_keys(a.arena, rs, sizeof *rs, nkept, order) < 0 || !(tb = trie_builder_new()))) {
        snprintf(err, errlen, "out of memory");
        ret = -1;
    }
    /* Spool: the kept keys in sorted order, each as SPOOL_HEAD bytes (score,
     * key length, display length or SPOOL_SAME) + key + display (absent when
     * it equals the key), in a private mapping. Once written, the arena, the
     * brecs and the order are freed; the builder then consumes the spool
     * front to back and every BUILD_SPOOL_CHUNK consumed is unmapped, so the
     * growing trie and the shrinking spool roughly trade places. */
    char *spool = NULL;
    size_t spsize = 0, sppos = 0, spfree = 0;
    if (ret == 0) {
        for (size_t j = 0; j < nkept; j++)
            spsize += SPOOL_HEAD + PLEN(rs[j].k) + (rs[j].d == rs[j].k ? 0 : PLEN(rs[j].d));
        spsize = spsize ? spsize : 1;
        void *m = mmap(NULL, spsize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            snprintf(err, errlen, "out of memory (spool of %zu bytes)", spsize);
            ret = -1;
        } else {
            spool = m;
            for (size_t j = 0; j < nkept; j++) {
                const brec *r = &rs[order[j]];
                uint16_t kl = (uint16_t)PLEN(r->k), dl = r->d == r->k ? SPOOL_SAME : (uint16_t)PLEN(r->d);
                memcpy(spool + sppos, &r->score, 8);
                memcpy(spool + sppos + 8, &kl, 2);
                memcpy(spool + sppos + 10, &dl, 2);
                memcpy(spool + sppos + SPOOL_HEAD, a.arena + POFF(r->k), kl);
                sppos += SPOOL_HEAD + kl;
                if (dl != SPOOL_SAME) {
                    memcpy(spool + sppos, a.arena + POFF(r->d), dl);
                    sppos += dl;
                }
            }
        }
    }
    qfree(order);
    order = NULL;
    acc_free(&a);
    memset(&a, 0, sizeof a);
    if (ret == 0) {
        long pgsz = sysconf(_SC_PAGESIZE);
        size_t chunk = BUILD_SPOOL_CHUNK - BUILD_SPOOL_CHUNK % (size_t)(pgsz > 0 ? pgsz : 4096);
        sppos = 0;
        for (size_t j = 0; j < nkept; j++) {
            double score;
            uint16_t kl, dl;
            memcpy(&score, spool + sppos, 8);
            memcpy(&kl, spool + sppos + 8, 2);
            memcpy(&dl, spool + sppos + 10, 2);
            const char *k = spool + sppos + SPOOL_HEAD, *d = k;
            sppos += SPOOL_HEAD + kl;
            if (dl == SPOOL_SAME) {
                dl = kl;
            } else {
                d = spool + sppos;
                sppos += dl;
            }
            int rc = trie_builder_add(tb, k, kl, d, dl, score, NULL);
            if (rc != TRIE_OK) {
                snprintf(err, errlen, "inserting key '%.*s': %s", (int)kl, k, trie_strerror(rc));
                ret = -1;
                break;
            }
            if (sppos - spfree >= 2 * chunk) { /* whole chunks behind the current record */
                munmap(spool + spfree, chunk);
                spfree += chunk;
            }
        }
    }
    if (spool) munmap(spool + spfree, spsize - spfree);
    if (ret == 0) {
        int rc = trie_builder_finish(tb, &t);
        tb = NULL;
        if (rc != TRIE_OK) {
            snprintf(err, errlen, "building the trie: %s", trie_strerror(rc));
            ret = -1;
        } else {
            trie_set_tag(t, (uint32_t)o->key_form);
        }
    }
    trie_builder_free(tb);
    qfree(order);
    acc_free(&a);
    if (ret != 0) {
        trie_free(t);
        return -1;
    }
    rep.keys = trie_count(t);
    rep.seconds = (double)(qtime_ns() - t0) / 1e9;
    if (rep_out) *rep_out = rep;
    *out = t;
    return 0;
}

/* ---- qac build ----------------------------------------------------------- */

static void build_usage(FILE *f) {
    fprintf(f,
            "usage: qac build -o INDEX [OPTIONS] FILE...\n"
            "\n"
            "Builds a trie snapshot from query logs (FILE '-' is standard input).\n"
            "\n"
            "  -o, --output INDEX     snapshot to write (replaced atomically)\n"
            "  --format FMT           aol | counts | lines (default: detected per file)\n"
            "  --since TIME           keep events at or after TIME (YYYY-MM-DD[ HH:MM:SS], UTC)\n"
            "  --until TIME           keep events before TIME\n"
            "  --half-life DAYS       decay: an event DAYS older than the newest weighs 1/2\n"
            "  --min-count N          drop keys whose score is below N\n"
            "  --keys FORM            match (default: NFKC, case folded, accents stripped) or\n"
            "                         eval (case folded only, EVALUATION.md's form); recorded\n"
            "                         in the index, and every lookup uses the same form\n"
            "  --shards N             split into N indexes by ranges of the key's first\n"
            "                         character, balanced by key count: INDEX.0 .. INDEX.N-1\n"
            "                         and the shard map INDEX.shards (1..%d; docs/SCALING.md)\n"
            "  --infix-index yes|no   also write the word index COMPLETE ... INFIX needs beside\n"
            "                         INDEX (INDEX.words, each shard's beside it; default yes):\n"
            "                         a server then loads it at start instead of building it\n"
            "  --strict               stop at the first bad line (exit 1)\n"
            "  --quiet                no report, no progress line\n"
            "  -h, --help             this help\n"
            "\n"
            "Untimed entries (counts, lines) are always kept and weigh their count.\n"
            "Bad lines are skipped and counted by reason; lines over %d bytes and queries\n"
            "over %d bytes are bad lines.\n",
            SHARDMAP_MAX_SHARDS, QLOG_MAX_LINE, QLOG_MAX_QUERY);
}

/* ---- the word index ------------------------------------------------------ */

int build_save_words(const trie *t, const char *snapshot, char *err, size_t errlen) {
    char path[4096];
    if (trie_words_path(path, sizeof path, snapshot) < 0)
        return snprintf(err, errlen, "cannot write %s.words: path too long", snapshot), -1;
    /* another image's file would be refused at load anyway: not left beside this one */
    if (unlink(path) != 0 && errno != ENOENT)
        return snprintf(err, errlen, "cannot remove the old %s: %s", path, strerror(errno)), -1;
    trie_words *w = NULL;
    int rc = trie_words_build(t, &w);
    if (rc != TRIE_OK) return snprintf(err, errlen, "building the word index: %s", trie_words_strerror(rc)), -1;
    uint64_t id = 0, cnt = 0;
    errno = 0;
    rc = trie_snapshot_id(snapshot, &id, &cnt);
    if (rc == TRIE_OK) rc = trie_words_save(w, path, id, cnt);
    trie_words_free(w);
    if (rc != TRIE_OK)
        return snprintf(err, errlen, "cannot write %s: %s%s%s%s", path, trie_words_strerror(rc), errno ? " (" : "",
                        errno ? strerror(errno) : "", errno ? ")" : ""),
               -1;
    return 0;
}

/* The word index beside each shard: each is loaded back from its file (the
 * shard tries are not kept), indexed and saved. */
static int shard_words(const char *outpath, unsigned nshards, char *err, size_t errlen) {
    char path[4096];
    for (unsigned s = 0; s < nshards; s++) {
        trie *st = NULL;
        char lerr[256];
        if ((size_t)snprintf(path, sizeof path, "%s.%u", outpath, s) >= sizeof path)
            return snprintf(err, errlen, "shard path too long: %s.%u", outpath, s), -1;
        if (trie_load(path, &st, lerr, sizeof lerr) != TRIE_OK)
            return snprintf(err, errlen, "reading shard %u back for its word index: %s", s, lerr), -1;
        int rc = build_save_words(st, path, err, errlen);
        trie_free(st);
        if (rc < 0) return -1;
    }
    return 0;
}

/* --shards: the shards and their map instead of one index; frees t. */
static int write_shards(trie *t, const char *outpath, unsigned nshards, const build_opts *o,
                        const build_report *rep, int words) {
    static shardmap m; /* ~30 KB: not on the stack */
    char err[1024];
    int rc = build_write_shards(t, outpath, nshards, &m, err, sizeof err);
    trie_free(t);
    if (rc == 0 && words) rc = shard_words(outpath, nshards, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "qac build: %s\n", err);
        return 1;
    }
    if (!o->quiet) {
        fprintf(stderr, "qac build: %llu distinct keys in %u shards (map %s.shards):", (unsigned long long)rep->keys,
                nshards, outpath);
        for (unsigned s = 0; s < nshards; s++) fprintf(stderr, " %s %llu", m.index[s], (unsigned long long)m.keys[s]);
        fprintf(stderr, "\n");
    }
    return 0;
}

int build_main(int argc, char **argv) {
    build_opts o;
    build_opts_init(&o);
    const char *outpath = NULL;
    unsigned nshards = 0; /* 0: one index */
    int words = 1; /* --infix-index */
    enum { O_FORMAT = 256, O_SINCE, O_UNTIL, O_HALF, O_MIN, O_STRICT, O_QUIET, O_KEYS, O_SHARDS, O_INFIX };
    static const cli_opt options[] = {
        {'o', "output", CLI_VALUE},
        {O_FORMAT, "format", CLI_VALUE},
        {O_SINCE, "since", CLI_VALUE},
        {O_UNTIL, "until", CLI_VALUE},
        {O_HALF, "half-life", CLI_VALUE},
        {O_MIN, "min-count", CLI_VALUE},
        {O_STRICT, "strict", CLI_FLAG},
        {O_QUIET, "quiet", CLI_FLAG},
        {O_KEYS, "keys", CLI_VALUE},
        {O_SHARDS, "shards", CLI_VALUE},
        {O_INFIX, "infix-index", CLI_VALUE},
    };
    cli cl;
    cli_init(&cl, "build", build_usage, options, ARRAY_LEN(options), argc, argv);
    int opt;
    while ((opt = cli_getopt(&cl)) >= 0) {
        const char *v = cl.val;
        switch (opt) {
        case 'o': outpath = v; break;
        case O_FORMAT:
            if (qlog_format_parse(v, &o.format) < 0)
                return cli_error(&cl, "unknown --format '%s' (aol, counts, lines)", v);
            break;
        case O_SINCE:
            if (qparse_time(v, strlen(v), &o.since) < 0)
                return cli_error(&cl, "bad --since '%s' (want YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS')", v);
            break;
        case O_UNTIL:
            if (qparse_time(v, strlen(v), &o.until) < 0)
                return cli_error(&cl, "bad --until '%s' (want YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS')", v);
            break;
        case O_HALF:
            if (qparse_double(v, strlen(v), &o.half_life_days) < 0 || !(o.half_life_days > 0))
                return cli_error(&cl, "bad --half-life '%s' (want a positive number of days)", v);
            break;
        case O_MIN:
            if (qparse_double(v, strlen(v), &o.min_count) < 0 || !(o.min_count >= 0))
                return cli_error(&cl, "bad --min-count '%s' (want a non-negative number)", v);
            break;
        case O_KEYS:
            if ((o.key_form = norm_form_parse(v)) < 0)
                return cli_error(&cl, "unknown --keys '%s' (match, eval)", v);
            break;
        case O_SHARDS: {
            uint64_t n;
            if (qparse_u64(v, strlen(v), &n) < 0 || n < 1 || n > SHARDMAP_MAX_SHARDS)
                return cli_error(&cl, "bad --shards '%s' (want 1..%d)", v, SHARDMAP_MAX_SHARDS);
            nshards = (unsigned)n;
            break;
        }
        case O_INFIX:
            if (!strcmp(v, "yes")) words = 1;
            else if (!strcmp(v, "no")) words = 0;
            else return cli_error(&cl, "bad --infix-index '%s' (yes, no)", v);
            break;
        case O_STRICT: o.strict = 1; break;
        case O_QUIET: o.quiet = 1; break;
        }
    }
    if (opt == CLI_EXIT) return cl.status;
    if (!outpath) return cli_error(&cl, "missing -o INDEX");
    if (cl.ind >= argc) return cli_error(&cl, "no input FILE given");
    if (o.since >= o.until) return cli_error(&cl, "--since must be before --until");
    o.progress = isatty(2);
    build_report rep;
    trie *t;
    char err[1024];
    if (build_trie(&o, argv + cl.ind, argc - cl.ind, &t, &rep, err, sizeof err) < 0) {
        fprintf(stderr, "qac build: %s\n", err);
        return 1;
    }
    if (nshards) return write_shards(t, outpath, nshards, &o, &rep, words);
    uint64_t ts = qtime_ns();
    int rc = trie_save(t, outpath);
    double save_s = (double)(qtime_ns() - ts) / 1e9;
    if (rc != TRIE_OK) {
        trie_free(t);
        fprintf(stderr, "qac build: cannot write %s: %s (%s)\n", outpath, trie_strerror(rc), strerror(errno));
        return 1;
    }
    double words_s = 0;
    if (words) {
        ts = qtime_ns();
        rc = build_save_words(t, outpath, err, sizeof err);
        words_s = (double)(qtime_ns() - ts) / 1e9;
        if (rc < 0) {
            trie_free(t);
            fprintf(stderr, "qac build: %s written, but not its word index: %s\n", outpath, err);
            return 1;
        }
    }
    trie_free(t);
    if (!o.quiet) {
        struct stat sb;
        long long size = stat(outpath, &sb) == 0 ? (long long)sb.st_size : -1;
        if (rep.files > 1) qlog_print_stats(stderr, "qac build: total", &rep.total);
        fprintf(stderr,
                "qac build: %d files, %llu lines read, %llu events kept, %llu out of time range, %llu distinct keys"
                " (%llu dropped by --min-count), %llu bad lines, %.2f s (save %.2f s), index %s: %lld bytes",
                rep.files, (unsigned long long)rep.total.lines, (unsigned long long)rep.kept,
                (unsigned long long)rep.out_of_range, (unsigned long long)rep.keys, (unsigned long long)rep.dropped,
                (unsigned long long)qlog_bad_total(&rep.total), rep.seconds + save_s, save_s, outpath, size);
        if (words) {
            char wp[4096];
            long long wsize = trie_words_path(wp, sizeof wp, outpath) == 0 && stat(wp, &sb) == 0 ? (long long)sb.st_size : -1;
            fprintf(stderr, "; word index %s: %lld bytes, %.2f s", wp, wsize, words_s);
        }
        fputc('\n', stderr);
    }
    return 0;
}
