/* build.c -- `qac build`: query logs -> scored keys -> trie snapshot.
 *
 * Accumulation happens in two hash tables of our own before anything touches
 * the trie (one trie_set per distinct key at the end, instead of one trie
 * update per log line):
 *   keys      normalized key -> {score parts, best spelling}
 *   spells    display form   -> {key index, raw count}
 * Each table is a dense array of entries in first-seen order plus an open-
 * addressing index (uint32 entry number + 1, 0 = empty; linear probing;
 * power-of-two size, at most half full). Strings live in one arena (a
 * growable byte array addressed by 64-bit offsets), never malloc'ed one by
 * one. A display form always normalizes to the same key, so the display
 * string alone identifies a spelling.
 *
 * Decay without overflow: each key keeps `ref`, the latest event time seen
 * for it, and `decayed` = sum of 2^((t - ref) / H) over its events (every
 * term <= 1; when a later event arrives the sum is rescaled). At the end the
 * score is untimed + decayed * 2^((ref - newest) / H).
 *
 * Display choice: spellings are numbered in first-seen order, so one pass
 * over them in order, replacing a key's best only on a strictly larger
 * count, yields "most frequent, ties -> first seen".
 */
#include "data/build.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/util.h"
#include "trie/norm.h"

#define BUILD_NORM_CAP (QLOG_MAX_QUERY * NORM_MAX_GROWTH)
#define BUILD_MAX_ENTRIES 0x7fffffffu  /* entries per table (uint32 index, +1) */
#define BUILD_PROGRESS_EVERY 65536     /* records between clock checks */
#define NONE UINT32_MAX

typedef struct kent {
    uint64_t off;
    uint32_t len, hash;
    double untimed, decayed;
    int64_t ref;   /* latest event time of this key (valid when has_ref) */
    uint32_t best; /* best spelling, set at the end */
    uint32_t has_ref;
} kent;

typedef struct sent {
    uint64_t off;
    uint32_t len, hash;
    uint32_t key;
    double n;
} sent;

typedef struct table {
    void *ents; /* kent[] or sent[] */
    size_t esize, count, ecap;
    uint32_t *slots;
    size_t nslots;
} table;

typedef struct acc {
    char *arena;
    uint64_t alen, acap;
    table keys, spells;
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

/* The header fields shared by kent and sent (same leading layout). */
typedef struct ehead {
    uint64_t off;
    uint32_t len, hash;
} ehead;

static ehead *ent_at(table *t, size_t i) { return (ehead *)((char *)t->ents + i * t->esize); }

static int table_grow(table *t) {
    size_t ns = t->nslots ? t->nslots * 2 : 1 << 16;
    uint32_t *sl = qcalloc(ns, sizeof *sl);
    if (!sl) return -1;
    for (size_t i = 0; i < t->count; i++) {
        size_t j = ent_at(t, i)->hash & (ns - 1);
        while (sl[j]) j = (j + 1) & (ns - 1);
        sl[j] = (uint32_t)(i + 1);
    }
    qfree(t->slots);
    t->slots = sl;
    t->nslots = ns;
    return 0;
}

/* Finds s in t, or appends a zeroed entry for it (string copied to the
 * arena). Returns the entry index, *fresh set when appended; -1 on ENOMEM or
 * when the table is full. */
static int64_t table_find_add(acc *a, table *t, const char *s, size_t n, int *fresh) {
    if (2 * (t->count + 1) > t->nslots && table_grow(t) < 0) return -1;
    uint32_t h = hash32(s, n);
    size_t j = h & (t->nslots - 1);
    for (; t->slots[j]; j = (j + 1) & (t->nslots - 1)) {
        ehead *e = ent_at(t, t->slots[j] - 1);
        if (e->hash == h && e->len == n && !memcmp(a->arena + e->off, s, n)) {
            *fresh = 0;
            return t->slots[j] - 1;
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
    e->len = (uint32_t)n;
    e->hash = h;
    t->slots[j] = (uint32_t)(t->count + 1);
    *fresh = 1;
    return (int64_t)t->count++;
}

static void acc_free(acc *a) {
    qfree(a->arena);
    qfree(a->keys.ents);
    qfree(a->keys.slots);
    qfree(a->spells.ents);
    qfree(a->spells.slots);
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
    uint64_t now = now_ns();
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
        int64_t si = ki < 0 ? -1 : table_find_add(a, &a->spells, disp, (size_t)dn, &fresh);
        if (si < 0) {
            snprintf(err, errlen, "%s: out of memory (or over %u distinct keys)", path, BUILD_MAX_ENTRIES);
            ret = -1;
            break;
        }
        kent *k = (kent *)a->keys.ents + ki;
        sent *s = (sent *)a->spells.ents + si;
        if (fresh) s->key = (uint32_t)ki;
        s->n += rec.count;
        if (timed && hl > 0) {
            if (!k->has_ref) {
                k->has_ref = 1;
                k->ref = rec.time;
                k->decayed = rec.count;
            } else if (rec.time > k->ref) {
                k->decayed = k->decayed * exp2((double)(k->ref - rec.time) / hl) + rec.count;
                k->ref = rec.time;
            } else {
                k->decayed += rec.count * exp2((double)(rec.time - k->ref) / hl);
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

/* qsort_r order of key entries (indices into a->keys): bytewise, shorter first. */
static int key_order(const void *x, const void *y, void *ud) {
    const acc *a = ud;
    const kent *p = &((const kent *)a->keys.ents)[*(const uint32_t *)x];
    const kent *q = &((const kent *)a->keys.ents)[*(const uint32_t *)y];
    int c = memcmp(a->arena + p->off, a->arena + q->off, p->len < q->len ? p->len : q->len);
    return c ? c : (p->len > q->len) - (p->len < q->len);
}

int build_trie(const build_opts *o, char *const *files, int nfiles, trie **out, build_report *rep_out, char *err,
               size_t errlen) {
    *out = NULL;
    build_report rep;
    memset(&rep, 0, sizeof rep);
    rep.newest = QLOG_NO_TIME;
    uint64_t t0 = now_ns();
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
    int ret = 0;
    for (int i = 0; i < nfiles && ret == 0; i++) ret = read_file(o, files[i], &a, &rep, &pg, err, errlen);
    if (pg.shown) fputc('\n', stderr);
    /* The trie is bulk-built: the kept keys are sorted (bytewise) and fed to
     * trie_builder in order, one pass bottom-up, instead of one trie_set each. */
    trie *t = NULL;
    trie_builder *tb = NULL;
    uint32_t *order = NULL;
    size_t nkept = 0;
    if (ret == 0 && (!(tb = trie_builder_new()) ||
                     !(order = qmalloc((a.keys.count ? a.keys.count : 1) * sizeof *order)))) {
        snprintf(err, errlen, "out of memory");
        ret = -1;
    }
    if (ret == 0) {
        kent *ks = a.keys.ents;
        sent *ss = a.spells.ents;
        for (size_t i = 0; i < a.keys.count; i++) ks[i].best = NONE;
        for (size_t i = 0; i < a.spells.count; i++) {
            kent *k = &ks[ss[i].key];
            if (k->best == NONE || ss[i].n > ss[k->best].n) k->best = (uint32_t)i;
        }
        double hl = o->half_life_days * 86400.0;
        for (size_t i = 0; i < a.keys.count; i++) {
            kent *k = &ks[i];
            double score = k->untimed;
            if (k->has_ref) score += k->decayed * exp2((double)(k->ref - rep.newest) / hl);
            if (score < o->min_count) {
                rep.dropped++;
                continue;
            }
            k->untimed = score; /* the final score, kept for the sorted pass */
            order[nkept++] = (uint32_t)i;
        }
        qsort_r(order, nkept, sizeof *order, key_order, &a);
        for (size_t j = 0; j < nkept; j++) {
            const kent *k = &ks[order[j]];
            const sent *s = &ss[k->best];
            int rc = trie_builder_add(tb, a.arena + k->off, k->len, a.arena + s->off, s->len, k->untimed, NULL);
            if (rc != TRIE_OK) {
                snprintf(err, errlen, "inserting key '%.*s': %s", (int)k->len, a.arena + k->off, trie_strerror(rc));
                ret = -1;
                break;
            }
        }
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
    }
    trie_builder_free(tb);
    qfree(order);
    acc_free(&a);
    if (ret != 0) {
        trie_free(t);
        return -1;
    }
    rep.keys = trie_count(t);
    rep.seconds = (double)(now_ns() - t0) / 1e9;
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
            "  --strict               stop at the first bad line (exit 1)\n"
            "  --quiet                no report, no progress line\n"
            "  -h, --help             this help\n"
            "\n"
            "Untimed entries (counts, lines) are always kept and weigh their count.\n"
            "Bad lines are skipped and counted by reason; lines over %d bytes and queries\n"
            "over %d bytes are bad lines.\n",
            QLOG_MAX_LINE, QLOG_MAX_QUERY);
}

#define BUILD_USAGE_ERR(...)                                                                                        \
    do {                                                                                                           \
        fprintf(stderr, "qac build: " __VA_ARGS__);                                                                \
        fprintf(stderr, "; see 'qac build --help'\n");                                                             \
        return 2;                                                                                                  \
    } while (0)

int build_main(int argc, char **argv) {
    build_opts o;
    build_opts_init(&o);
    const char *outpath = NULL;
    enum { O_FORMAT = 256, O_SINCE, O_UNTIL, O_HALF, O_MIN, O_STRICT, O_QUIET, O_KEYS };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},   {"format", required_argument, NULL, O_FORMAT},
        {"since", required_argument, NULL, O_SINCE}, {"until", required_argument, NULL, O_UNTIL},
        {"half-life", required_argument, NULL, O_HALF}, {"min-count", required_argument, NULL, O_MIN},
        {"strict", no_argument, NULL, O_STRICT},     {"quiet", no_argument, NULL, O_QUIET},
        {"keys", required_argument, NULL, O_KEYS},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': outpath = optarg; break;
        case O_FORMAT:
            if (qlog_format_parse(optarg, &o.format) < 0) BUILD_USAGE_ERR("unknown --format '%s' (aol, counts, lines)", optarg);
            break;
        case O_SINCE:
            if (parse_time(optarg, strlen(optarg), &o.since) < 0)
                BUILD_USAGE_ERR("bad --since '%s' (want YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS')", optarg);
            break;
        case O_UNTIL:
            if (parse_time(optarg, strlen(optarg), &o.until) < 0)
                BUILD_USAGE_ERR("bad --until '%s' (want YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS')", optarg);
            break;
        case O_HALF:
            if (parse_double(optarg, strlen(optarg), &o.half_life_days) < 0 || !(o.half_life_days > 0))
                BUILD_USAGE_ERR("bad --half-life '%s' (want a positive number of days)", optarg);
            break;
        case O_MIN:
            if (parse_double(optarg, strlen(optarg), &o.min_count) < 0 || !(o.min_count >= 0))
                BUILD_USAGE_ERR("bad --min-count '%s' (want a non-negative number)", optarg);
            break;
        case O_KEYS:
            if ((o.key_form = norm_form_parse(optarg)) < 0) BUILD_USAGE_ERR("unknown --keys '%s' (match, eval)", optarg);
            break;
        case O_STRICT: o.strict = 1; break;
        case O_QUIET: o.quiet = 1; break;
        case 'h': build_usage(stdout); return 0;
        case ':': BUILD_USAGE_ERR("option '%s' needs a value", argv[optind - 1]);
        default: BUILD_USAGE_ERR("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!outpath) BUILD_USAGE_ERR("missing -o INDEX");
    if (optind >= argc) BUILD_USAGE_ERR("no input FILE given");
    if (o.since >= o.until) BUILD_USAGE_ERR("--since must be before --until");
    o.progress = isatty(2);
    build_report rep;
    trie *t;
    char err[1024];
    if (build_trie(&o, argv + optind, argc - optind, &t, &rep, err, sizeof err) < 0) {
        fprintf(stderr, "qac build: %s\n", err);
        return 1;
    }
    uint64_t ts = now_ns();
    int rc = trie_save(t, outpath);
    double save_s = (double)(now_ns() - ts) / 1e9;
    trie_mem mem;
    trie_memory(t, &mem);
    trie_free(t);
    if (rc != TRIE_OK) {
        fprintf(stderr, "qac build: cannot write %s: %s (%s)\n", outpath, trie_strerror(rc), strerror(errno));
        return 1;
    }
    if (!o.quiet) {
        struct stat sb;
        long long size = stat(outpath, &sb) == 0 ? (long long)sb.st_size : -1;
        if (rep.files > 1) qlog_print_stats(stderr, "qac build: total", &rep.total);
        fprintf(stderr,
                "qac build: %d files, %llu lines read, %llu events kept, %llu out of time range, %llu distinct keys"
                " (%llu dropped by --min-count), %llu bad lines, %.2f s (save %.2f s), index %s: %lld bytes\n",
                rep.files, (unsigned long long)rep.total.lines, (unsigned long long)rep.kept,
                (unsigned long long)rep.out_of_range, (unsigned long long)rep.keys, (unsigned long long)rep.dropped,
                (unsigned long long)qlog_bad_total(&rep.total), rep.seconds + save_s, save_s, outpath, size);
    }
    return 0;
}
