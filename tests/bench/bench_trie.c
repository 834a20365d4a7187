/* bench_trie -- build, memory, snapshot and top-10 latency figures for the
 * trie.
 *
 *   bench_trie CORPUS.tsv PREFIXES.txt [SNAP]     build from CORPUS, save to
 *                                                 SNAP (default /tmp/bench_trie.snap),
 *                                                 load it back, time top-10
 *   bench_trie --load-only SNAP PREFIXES.txt      load SNAP in this fresh
 *                                                 process (RSS after load), time top-10
 *
 * After the random-order build, the corpus is read again, sorted and fed to
 * trie_builder (bulk_sort / bulk_build: the `qac build` path), checked
 * against the first trie by count, and freed.
 *
 * CORPUS lines are `query<TAB>count` (already normalized: the bytes are
 * inserted as they are); PREFIXES has one prefix per line. Output: one
 * `name value unit` line per figure. Latency: every prefix is timed with
 * qtime_ns around one trie_topk(k=10) call, 3 passes, the last is reported
 * (quantiles from the histogram's buckets; the mean is exact, so it shows
 * small differences between builds better).
 * --load-only also times fuzzy top-10 (trie_fuzzy_topk_bounded, 1 and 2
 * edits, and AUTO; work limit BENCH_FUZZY_MAX_WORK, default the server's)
 * against exact top-10, on the prefixes as given and with one seeded
 * random edit in each prefix of 4+ characters, 2 passes, the last reported,
 * the work units spent, and the typo recall (bench_fuzzy). Each timed kind
 * also prints answers_hash (its answers in order: ids, edit classes,
 * matchlens) and, for fuzzy calls, work_sum: two builds that answer alike
 * print the same, so an A/B shows a speed change changed no answer.
 *   bench_trie --fuzzy-only SNAP PREFIXES.txt     the typo'd part of that
 *                                                 alone, one pass
 * BENCH_FUZZY_KIND=NAME (e.g. typo_fuzzy1, typo_fuzzy2_8plus) times that
 * typo'd kind alone and skips the recall, so that a profile (perf record)
 * of the process is of one kind's calls (plus the load).
 * BENCH_FUZZY_WARM=1 runs each timed call once, untimed, just before it:
 * the lines that call reads are then in cache, so the figures are its
 * cost without misses (the floor that hiding every miss would reach).
 * BENCH_FUZZY_AB=KNOB=A,B (with --fuzzy-only) compares a typo walk knob in
 * one process instead of timing each kind (fuzzy_ab below).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/hist.h"
#include "common/util.h"
#include "trie/trie.h"
#include "trie/trie_fuzzy.h"
#include "trie/trie_fuzzy_internal.h" /* the typo walk knobs BENCH_FUZZY_AB switches */
#include "trie/trie_internal.h"        /* white box: the per-structure byte breakdown */
#include "tests/bench/bench_ab.h"

static double rss_mb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
        fclose(f);
    }
    return (double)res * (double)sysconf(_SC_PAGESIZE) / 1e6;
}

/* AnonHugePages of the process (/proc/self/smaps_rollup), MB; 0 when unknown. */
static double anon_huge_mb(void) {
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    char line[256];
    unsigned long kb = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) break;
    fclose(f);
    return (double)kb / 1e3;
}

typedef struct prefixes {
    char *buf;
    size_t *off, *len, n;
} prefixes;

static void prefixes_free(prefixes *p) {
    free(p->buf);
    free(p->off);
    free(p->len);
}

static int read_prefixes(const char *path, prefixes *p) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_trie: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    qbuf b;
    qbuf_init(&b);
    size_t cap = 0, lcap = 0;
    char *line = NULL;
    ssize_t l;
    memset(p, 0, sizeof *p);
    while ((l = getline(&line, &lcap, f)) > 0) {
        if (line[l - 1] == '\n') l--;
        if (p->n == cap) {
            cap = cap ? 2 * cap : 1024;
            p->off = realloc(p->off, cap * sizeof *p->off);
            p->len = realloc(p->len, cap * sizeof *p->len);
            if (!p->off || !p->len) abort();
        }
        p->off[p->n] = b.len;
        p->len[p->n++] = (size_t)l;
        if (qbuf_append(&b, line, (size_t)l)) abort();
    }
    free(line);
    fclose(f);
    p->buf = b.data;
    return 0;
}

static void bench_topk(const trie *t, const prefixes *p) {
    static hist h;
    trie_hit out[10];
    uint64_t results = 0, total_ns = 0;
    for (int pass = 0; pass < 3; pass++) {
        hist_init(&h);
        results = 0;
        total_ns = 0;
        for (size_t i = 0; i < p->n; i++) {
            uint64_t t0 = qtime_ns();
            int n = trie_topk(t, p->buf + p->off[i], p->len[i], 10, out);
            uint64_t t1 = qtime_ns();
            hist_add(&h, t1 - t0);
            total_ns += t1 - t0;
            results += (uint64_t)(n > 0 ? n : 0);
        }
    }
    printf("prefixes %zu count\n", p->n);
    printf("top10_results_avg %.2f count\n", p->n ? (double)results / (double)p->n : 0.0);
    printf("top10_mean %.0f ns\n", p->n ? (double)total_ns / (double)p->n : 0.0);
    printf("top10_median %llu ns\n", (unsigned long long)hist_quantile(&h, 0.5));
    printf("top10_p90 %llu ns\n", (unsigned long long)hist_quantile(&h, 0.9));
    printf("top10_p99 %llu ns\n", (unsigned long long)hist_quantile(&h, 0.99));
    printf("top10_max %llu ns\n", (unsigned long long)h.max);
}

/* ------------------------------------------------------------ fuzzy */

/* Characters (UTF-8 lead-byte rule, as trie_fuzzy.h) of p[0, n). */
static size_t nchars(const char *p, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((uint8_t)p[i] & 0xC0) != 0x80;
    return c;
}

/* One seeded random edit (substitute, insert, delete or transpose of a
 * character, never at the first one: the default first-character rule) in
 * each prefix of 4+ characters; shorter prefixes stay as they are. */
static void make_typos(const prefixes *p, prefixes *q) {
    qbuf b;
    qbuf_init(&b);
    uint64_t x = 0x5eed;
    q->n = p->n;
    q->off = malloc(p->n * sizeof *q->off);
    q->len = malloc(p->n * sizeof *q->len);
    if (!q->off || !q->len) abort();
    for (size_t i = 0; i < p->n; i++) {
        const char *s = p->buf + p->off[i];
        size_t n = p->len[i], st[TRIE_MAX_KEY + 1], nc = 0;
        char out[TRIE_MAX_KEY + 8];
        size_t ol = 0;
        for (size_t j = 0; j < n; j++)
            if (((uint8_t)s[j] & 0xC0) != 0x80 && nc < TRIE_MAX_KEY) st[nc++] = j;
        st[nc] = n;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t r = x >> 33;
        if (nc >= 4 && n <= TRIE_MAX_KEY) {
            size_t at = 1 + (size_t)(r % (nc - 1)); /* a character 1..nc-1 */
            char c = (char)('a' + (r >> 20) % 26);
            size_t a0 = st[at], a1 = st[at + 1];
            switch ((r >> 8) % 4) {
            case 0: /* substitute */
                memcpy(out, s, a0), ol = a0;
                out[ol++] = c;
                memcpy(out + ol, s + a1, n - a1), ol += n - a1;
                break;
            case 1: /* insert before character at */
                memcpy(out, s, a0), ol = a0;
                out[ol++] = c;
                memcpy(out + ol, s + a0, n - a0), ol += n - a0;
                break;
            case 2: /* delete */
                memcpy(out, s, a0), ol = a0;
                memcpy(out + ol, s + a1, n - a1), ol += n - a1;
                break;
            default: /* transpose characters at-1 and at (at >= 2 keeps the first) */
                if (at < 2) at = 2;
                if (at >= nc) at = nc - 1;
                {
                    size_t b0 = st[at - 1], b1 = st[at], b2 = st[at + 1];
                    memcpy(out, s, b0), ol = b0;
                    memcpy(out + ol, s + b1, b2 - b1), ol += b2 - b1;
                    memcpy(out + ol, s + b0, b1 - b0), ol += b1 - b0;
                    memcpy(out + ol, s + b2, n - b2), ol += n - b2;
                }
            }
        } else {
            memcpy(out, s, n), ol = n;
        }
        q->off[i] = b.len;
        q->len[i] = ol;
        if (qbuf_append(&b, out, ol)) abort();
    }
    q->buf = b.data;
}

/* AUTO edits as the issue sets them: 0 below 4 characters, 1 from 4, 2 from 8. */
static unsigned auto_edits(const char *p, size_t n) {
    size_t c = nchars(p, n);
    return c >= 8 ? 2 : c >= 4 ? 1 : 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The work limit of the fuzzy calls: BENCH_FUZZY_MAX_WORK (unset: the
 * server's default TRIE_FUZZY_MAX_WORK; 0: none). */
static uint64_t bench_max_work(void) {
    const char *e = getenv("BENCH_FUZZY_MAX_WORK");
    return e && *e ? strtoull(e, NULL, 10) : TRIE_FUZZY_MAX_WORK;
}

/* One call's answer, for A/B: ids, edit classes, matchlens, in order
 * (maxd < 0: trie_topk's hits in to, else the fuzzy ones in fo). */
static uint64_t answer_hash(int r, int maxd, const trie_hit *to, const trie_fuzzy_hit *fo) {
    uint64_t ah = 0x9E3779B97F4A7C15ull * (uint64_t)(r + 2);
    for (int x = 0; x < r; x++) {
        uint64_t v = maxd < 0 ? to[x].id
                              : (uint64_t)fo[x].hit.id | (uint64_t)fo[x].edits << 32 | (uint64_t)fo[x].matchlen << 40;
        ah = (ah ^ v) * 0x100000001B3ull;
        ah ^= ah >> 29;
    }
    return ah;
}

/* Times one kind of call over prefixes with at least minc characters:
 * maxd < 0 is trie_topk, else trie_fuzzy_topk_bounded(maxd, bench_max_work());
 * maxd 3 is AUTO. Fuzzy calls also report their work units (quantiles,
 * calls cut by the limit, and ns per unit over the calls of 10,000+). */
static void time_one(const trie *t, const prefixes *p, const char *name, int maxd, size_t minc,
                     int passes) {
    static hist h;
    static trie_fuzzy_hit fo[10];
    static trie_hit to[10];
    uint64_t results = 0, total = 0, calls = 0, cut = 0, big_ns = 0, big_work = 0, mw = bench_max_work();
    uint64_t worksum = 0, anshash = 0; /* the last pass's: equal across builds that answer alike */
    const char *warm_env = getenv("BENCH_FUZZY_WARM");
    int warm = warm_env && *warm_env && strcmp(warm_env, "0") != 0;
    uint64_t *work = malloc((p->n + 1) * sizeof *work);
    if (!work) abort();
    struct timespec c0, c1;
    for (int pass = 0; pass < passes; pass++) {
        hist_init(&h);
        results = total = calls = cut = big_ns = big_work = worksum = anshash = 0;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        for (size_t i = 0; i < p->n; i++) {
            const char *s = p->buf + p->off[i];
            size_t n = p->len[i];
            if (minc && nchars(s, n) < minc) continue;
            unsigned d = maxd == 3 ? auto_edits(s, n) : (unsigned)maxd;
            trie_fuzzy_info fi = {0, 0};
            if (warm) { /* BENCH_FUZZY_WARM: the same call once, untimed */
                trie_fuzzy_info fw = {0, 0};
                if (maxd < 0) trie_topk(t, s, n, 10, to);
                else trie_fuzzy_topk_bounded(t, s, n, d, 0, 10, mw, fo, &fw);
            }
            uint64_t t0 = qtime_ns();
            int r = maxd < 0 ? trie_topk(t, s, n, 10, to) : trie_fuzzy_topk_bounded(t, s, n, d, 0, 10, mw, fo, &fi);
            uint64_t t1 = qtime_ns();
            hist_add(&h, t1 - t0);
            total += t1 - t0;
            work[calls] = fi.work;
            worksum += fi.work;
            anshash = (anshash ^ answer_hash(r, maxd, to, fo)) * 0xBF58476D1CE4E5B9ull + i;
            cut += fi.cut != 0;
            if (fi.work >= 10000) big_ns += t1 - t0, big_work += fi.work;
            calls++;
            results += (uint64_t)(r > 0 ? r : 0);
        }
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    }
    printf("%s_calls %llu count\n", name, (unsigned long long)calls);
    printf("%s_results_avg %.2f count\n", name, calls ? (double)results / (double)calls : 0.0);
    printf("%s_mean %.0f ns\n", name, calls ? (double)total / (double)calls : 0.0);
    /* CPU time of the last pass per call: what the process spent, not the
     * time it waited for a core (the machine is shared) */
    double cpu = (double)(c1.tv_sec - c0.tv_sec) * 1e9 + (double)(c1.tv_nsec - c0.tv_nsec);
    printf("%s_cpu_mean %.0f ns\n", name, calls ? cpu / (double)calls : 0.0);
    printf("%s_median %llu ns\n", name, (unsigned long long)hist_quantile(&h, 0.5));
    printf("%s_p99 %llu ns\n", name, (unsigned long long)hist_quantile(&h, 0.99));
    printf("%s_max %llu ns\n", name, (unsigned long long)h.max);
    printf("%s_answers_hash %016llx hash\n", name, (unsigned long long)anshash);
    if (maxd >= 0 && calls) {
        qsort(work, calls, sizeof *work, cmp_u64);
        printf("%s_work_median %llu units\n", name, (unsigned long long)work[calls / 2]);
        printf("%s_work_p99 %llu units\n", name, (unsigned long long)work[calls * 99 / 100]);
        printf("%s_work_p999 %llu units\n", name, (unsigned long long)work[calls * 999 / 1000]);
        printf("%s_work_max %llu units\n", name, (unsigned long long)work[calls - 1]);
        printf("%s_cut %llu calls (max_work %llu)\n", name, (unsigned long long)cut, (unsigned long long)mw);
        printf("%s_work_sum %llu units\n", name, (unsigned long long)worksum);
        if (big_work) printf("%s_ns_per_unit_10k %.1f ns\n", name, (double)big_ns / (double)big_work);
    }
    free(work);
}

/* BENCH_FUZZY_AB=KNOB=A,B (with --fuzzy-only): a typo walk knob
 * (trie_fuzzy_internal.h) compared in ONE process over the same trie and
 * calls, per typo'd fuzzy kind (or BENCH_FUZZY_KIND's) (bench_ab.h: ABBA
 * passes, BENCH_FUZZY_AB_REPS groups of 4, default 2; each call's fastest
 * per side); prints each side's median / p99 and B's ratio, the summed
 * times' ratio, and each side's answers_hash and work_sum (a knob that
 * only changes the path answers alike). */
static const ab_knob fz_knobs[] = {
    {"plan_hashes", &trie__fz_plan_hashes},       {"memo", &trie__fz_memo},
    {"pass_min_words", &trie__fz_pass_min_words}, {"hint_min_nodes", &trie__fz_hint_min_nodes},
    {"hint_min_edits", &trie__fz_hint_min_edits},
};

static int fuzzy_ab(const trie *t, const prefixes *q, const char *name, int maxd, size_t minc, const char *spec) {
    unsigned *knob, a, b;
    const char *kn = NULL;
    long reps;
    if (ab_parse("BENCH_FUZZY_AB", spec, fz_knobs, sizeof fz_knobs / sizeof fz_knobs[0], &knob, &a, &b, &kn) ||
        (reps = ab_reps("BENCH_FUZZY_AB_REPS", 2)) < 0)
        return 1;
    static trie_fuzzy_hit fo[10];
    unsigned was = *knob, val[2] = {a, b};
    uint64_t *best[2], *v = malloc((q->n + 1) * sizeof *v), hash[2] = {0, 0}, wsum[2] = {0, 0}, mw = bench_max_work();
    best[0] = malloc((q->n + 1) * sizeof *best[0]);
    best[1] = malloc((q->n + 1) * sizeof *best[1]);
    if (!v || !best[0] || !best[1]) abort();
    size_t calls = 0;
    for (long p = 0; p < 4 * reps; p++) {
        int side = ab_side(p), first = p < 2;
        *knob = val[side];
        calls = 0;
        for (size_t i = 0; i < q->n; i++) {
            const char *s = q->buf + q->off[i];
            size_t n = q->len[i];
            if (minc && nchars(s, n) < minc) continue;
            unsigned d = maxd == 3 ? auto_edits(s, n) : (unsigned)maxd;
            trie_fuzzy_info fi = {0, 0};
            uint64_t t0 = qtime_ns();
            int r = trie_fuzzy_topk_bounded(t, s, n, d, 0, 10, mw, fo, &fi);
            uint64_t dt = qtime_ns() - t0;
            if (first) best[side][calls] = UINT64_MAX; /* each side's first pass */
            if (dt < best[side][calls]) best[side][calls] = dt;
            if (first) {
                hash[side] = (hash[side] ^ answer_hash(r, maxd, NULL, fo)) * 0xBF58476D1CE4E5B9ull + i;
                wsum[side] += fi.work;
            }
            calls++;
        }
    }
    *knob = was;
    printf("ab_%s_knob %s %u,%u (%ld passes each side, ABBA)\n", name, kn, a, b, 2 * reps);
    printf("ab_%s_answers_hash %016llx %016llx hash\n", name, (unsigned long long)hash[0], (unsigned long long)hash[1]);
    printf("ab_%s_work_sum %llu %llu units\n", name, (unsigned long long)wsum[0], (unsigned long long)wsum[1]);
    uint64_t qv[2][2], tot[2] = {0, 0};
    for (int sd = 0; sd < 2 && calls; sd++) {
        memcpy(v, best[sd], calls * sizeof *v);
        for (size_t i = 0; i < calls; i++) tot[sd] += v[i];
        qsort(v, calls, sizeof *v, cmp_u64);
        qv[sd][0] = v[calls / 2], qv[sd][1] = v[calls * 99 / 100];
    }
    if (calls) {
        printf("ab_%s_median %llu %llu ns %.3f ratio\n", name, (unsigned long long)qv[0][0],
               (unsigned long long)qv[1][0], (double)qv[1][0] / (double)qv[0][0]);
        printf("ab_%s_p99 %llu %llu ns %.3f ratio\n", name, (unsigned long long)qv[0][1],
               (unsigned long long)qv[1][1], (double)qv[1][1] / (double)qv[0][1]);
        printf("ab_%s_sum_ratio %.3f ratio\n", name, (double)tot[1] / (double)tot[0]);
    }
    free(v), free(best[0]), free(best[1]);
    return 0;
}

/* Fuzzy top-10 (trie_fuzzy_topk, first character exact) against exact
 * top-10 on the same prefixes: the benchmark prefixes as they are (exact
 * results usually fill the 10: fuzzy costs what exact does), and the same
 * prefixes with one random edit in each of 4+ characters (make_typos). Also
 * the typo recall: the exact top-1 of the clean prefix is in the AUTO top-10
 * of the typo'd one. */
static void bench_fuzzy(const trie *t, const prefixes *p, int only) {
    prefixes q;
    make_typos(p, &q);
    int np = only ? 1 : 2;
    if (!only) {
        printf("# fuzzy top-10, clean prefixes\n");
        time_one(t, p, "clean_exact", -1, 0, 2);
        time_one(t, p, "clean_fuzzy1", 1, 0, 2);
        time_one(t, p, "clean_fuzzy2", 2, 0, 2);
    }
    printf("# fuzzy top-10, one edit in each prefix of 4+ characters\n");
    static const struct {
        const char *name;
        int maxd;
        size_t minc;
    } kinds[] = {{"typo_exact", -1, 0},       {"typo_fuzzy1", 1, 0},       {"typo_fuzzy2", 2, 0},
                 {"typo_exact_8plus", -1, 8}, {"typo_fuzzy2_8plus", 2, 8}, {"typo_fuzzyauto", 3, 0}};
    const char *only_kind = getenv("BENCH_FUZZY_KIND"), *ab = only ? getenv("BENCH_FUZZY_AB") : NULL;
    if (only_kind && !*only_kind) only_kind = NULL;
    int timed = 0;
    for (size_t x = 0; x < sizeof kinds / sizeof kinds[0]; x++) {
        if (only_kind && strcmp(only_kind, kinds[x].name)) continue;
        if (ab && *ab) {
            if (kinds[x].maxd >= 0 && fuzzy_ab(t, &q, kinds[x].name, kinds[x].maxd, kinds[x].minc, ab)) exit(1);
        } else {
            time_one(t, &q, kinds[x].name, kinds[x].maxd, kinds[x].minc, np);
        }
        timed++;
    }
    if (ab && *ab) {
        prefixes_free(&q);
        return;
    }
    if (only_kind) {
        if (!timed) fprintf(stderr, "bench_trie: BENCH_FUZZY_KIND %s: no such kind\n", only_kind);
        prefixes_free(&q);
        return;
    }
    static trie_hit one[1];
    static trie_fuzzy_hit fo[10];
    uint64_t want = 0, found = 0;
    for (size_t i = 0; i < p->n; i++) {
        const char *s = p->buf + p->off[i], *ts = q.buf + q.off[i];
        if (nchars(s, p->len[i]) < 4) continue;
        if (trie_topk(t, s, p->len[i], 1, one) != 1) continue;
        want++;
        int r = trie_fuzzy_topk(t, ts, q.len[i], auto_edits(ts, q.len[i]), 0, 10, fo);
        for (int j = 0; j < r; j++)
            if (fo[j].hit.id == one[0].id) {
                found++;
                break;
            }
    }
    printf("typo_recall_auto_top10 %.2f %%\n", want ? 100.0 * (double)found / (double)want : 0.0);
    prefixes_free(&q);
}

static trie *load(const char *snap) {
    trie *t = NULL;
    char err[256];
    uint64_t t0 = qtime_ns();
    if (trie_load(snap, &t, err, sizeof err)) {
        fprintf(stderr, "bench_trie: load %s: %s\n", snap, err);
        return NULL;
    }
    printf("load %.3f s\n", (double)(qtime_ns() - t0) / 1e9);
    return t;
}

static const char *g_text; /* qsort comparator context: the corpus text */
typedef struct kline {
    size_t off, len;
    uint64_t cnt;
} kline;
static int kline_cmp(const void *a, const void *b) {
    const kline *x = a, *y = b;
    int c = memcmp(g_text + x->off, g_text + y->off, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Sort the corpus and bulk-build it; prints bulk_sort and bulk_build. */
/* Builds the same keys with trie_builder (as qac build does: the table is
 * chosen and the keys recoded at finish); *out gets the trie. */
static int bench_bulk(const char *path, uint64_t want_keys, trie **out) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    qbuf text;
    qbuf_init(&text);
    kline *v = NULL;
    size_t n = 0, cap = 0, lcap = 0;
    char *line = NULL;
    ssize_t l;
    while ((l = getline(&line, &lcap, f)) > 0) {
        if (line[l - 1] == '\n') l--;
        char *tab = memrchr(line, '\t', (size_t)l);
        uint64_t cnt;
        if (!tab || qparse_u64(tab + 1, (size_t)(line + l - tab - 1), &cnt)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            v = realloc(v, cap * sizeof *v);
            if (!v) abort();
        }
        v[n++] = (kline){text.len, (size_t)(tab - line), cnt};
        if (qbuf_append(&text, line, (size_t)(tab - line))) abort();
    }
    free(line);
    fclose(f);
    g_text = text.data;
    uint64_t t0 = qtime_ns();
    qsort(v, n, sizeof *v, kline_cmp);
    printf("bulk_sort %.3f s\n", (double)(qtime_ns() - t0) / 1e9);
    t0 = qtime_ns();
    trie_builder *b = trie_builder_new();
    trie *t = NULL;
    int rc = b ? 0 : TRIE_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i && kline_cmp(&v[i - 1], &v[i]) == 0) continue; /* duplicate line: trie_set overwrote */
        rc = trie_builder_add(b, text.data + v[i].off, v[i].len, NULL, 0, (double)v[i].cnt, NULL);
    }
    if (rc == 0) rc = trie_builder_finish(b, &t);
    else trie_builder_free(b);
    printf("bulk_build %.3f s\n", (double)(qtime_ns() - t0) / 1e9);
    if (rc || trie_count(t) != want_keys) {
        fprintf(stderr, "bench_trie: bulk build: %s, %llu keys\n", trie_strerror(rc),
                (unsigned long long)(t ? trie_count(t) : 0));
        rc = -1;
    }
    free(v);
    qbuf_free(&text);
    if (rc) {
        trie_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

/* Allocated bytes per structure (white box), in MB and bytes per key. */
static void mem_breakdown(const trie *t) {
    double n = t->count ? (double)t->count : 1.0;
    struct {
        const char *name;
        double bytes;
    } s[] = {
        {"nodes+kids", (double)t->kcap * 4}, /* one pool (OWN BLOCKS) */
        {"arena", (double)t->acap},
        {"ids", (double)t->idcap * sizeof(kref)},
        {"heavy", (double)t->nheavy * sizeof(hentry) + (t->htab ? (t->hmask + 1.0) * 4 : 0)},
        {"cache", (double)CACHE_SLOTS * sizeof(centry)},
        {"prefix_filter", (double)trie__pf_bytes(t)},
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        printf("mem_%s %.1f MB\n", s[i].name, s[i].bytes / 1e6);
        printf("mem_%s_per_key %.2f B\n", s[i].name, s[i].bytes / n);
    }
    if (t->pf) { /* the share of the prefix filter's bits set: its false-positive rate is about this squared */
        uint64_t ones = 0;
        for (uint64_t i = 0; i <= t->pfmask; i++) ones += (uint64_t)__builtin_popcountll(t->pf[i]);
        printf("prefix_filter_fill %.3f share\n", (double)ones / ((double)(t->pfmask + 1) * 64.0));
    }
    printf("mem_arena_key_text %.1f MB\n", (double)t->kbytes / 1e6); /* coded key + display bytes */
    printf("codec_symbols %u count\n", tc_nsym(&t->tc));
}

int main(int argc, char **argv) {
    int only = argc == 4 && strcmp(argv[1], "--fuzzy-only") == 0;
    if (argc == 4 && (only || strcmp(argv[1], "--load-only") == 0)) {
        prefixes p;
        if (read_prefixes(argv[3], &p)) return 1;
        double rss0 = rss_mb();
        trie *t = load(argv[2]);
        if (!t) return 1;
        printf("keys %llu count\n", (unsigned long long)trie_count(t));
        printf("rss_after_load %.1f MB\n", rss_mb());
        printf("rss_trie_only %.1f MB\n", rss_mb() - rss0);
        printf("anon_huge_pages %.1f MB\n", anon_huge_mb()); /* trie_huge.c */
        mem_breakdown(t);
        if (!only) bench_topk(t, &p);
        bench_fuzzy(t, &p, only);
        trie_free(t);
        prefixes_free(&p);
        return 0;
    }
    if (argc < 3 || argc > 4 || argv[1][0] == '-') {
        fprintf(stderr, "usage: bench_trie CORPUS.tsv PREFIXES.txt [SNAP] | "
                        "bench_trie --load-only SNAP PREFIXES.txt | bench_trie --fuzzy-only SNAP PREFIXES.txt\n");
        return 2;
    }
    const char *snap = argc == 4 ? argv[3] : "/tmp/bench_trie.snap";
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "bench_trie: cannot open %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) return 1;
    double rss0 = rss_mb();
    trie *t = trie_new();
    if (!t) return 1;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t l;
    uint64_t bad = 0, t0 = qtime_ns();
    while ((l = getline(&line, &lcap, f)) > 0) {
        if (line[l - 1] == '\n') l--;
        char *tab = memrchr(line, '\t', (size_t)l);
        uint64_t cnt;
        if (!tab || qparse_u64(tab + 1, (size_t)(line + l - tab - 1), &cnt) ||
            trie_set(t, line, (size_t)(tab - line), NULL, 0, (double)cnt, NULL))
            bad++;
    }
    double build = (double)(qtime_ns() - t0) / 1e9;
    free(line);
    fclose(f);
    trie_mem m;
    trie_memory(t, &m);
    double rss = rss_mb() - rss0;
    printf("corpus_bytes %llu B\n", (unsigned long long)st.st_size);
    printf("keys %llu count\n", (unsigned long long)m.keys);
    printf("bad_lines %llu count\n", (unsigned long long)bad);
    printf("build %.3f s\n", build);
    printf("nodes %llu count\n", (unsigned long long)m.nodes);
    printf("bytes_per_key_used %.1f B\n", m.keys ? (double)m.bytes_used / (double)m.keys : 0.0);
    printf("bytes_per_key_alloc %.1f B\n", m.keys ? (double)m.bytes_alloc / (double)m.keys : 0.0);
    printf("rss_after_build %.1f MB\n", rss);
    printf("rss_build_over_corpus %.2f ratio\n", rss * 1e6 / (double)st.st_size);
    trie *bulk = NULL;
    if (bench_bulk(argv[1], m.keys, &bulk)) return 1;
    /* the snapshot is the bulk-built trie's (coded with its chosen table, as
     * from qac build); the trie_set one above grew from empty and is
     * identity-coded, like a live trie before its first reload */
    t0 = qtime_ns();
    if (trie_save(bulk, snap)) {
        fprintf(stderr, "bench_trie: save %s: %s\n", snap, strerror(errno));
        return 1;
    }
    printf("save %.3f s\n", (double)(qtime_ns() - t0) / 1e9);
    if (stat(snap, &st) == 0) printf("snapshot_bytes %llu B\n", (unsigned long long)st.st_size);
    trie_free(bulk);
    prefixes p;
    if (read_prefixes(argv[2], &p)) return 1;
    printf("# top-10 on the built trie\n");
    bench_topk(t, &p);
    trie_free(t);
    t = load(snap);
    if (!t) return 1;
    printf("# top-10 on the loaded trie\n");
    bench_topk(t, &p);
    trie_free(t);
    prefixes_free(&p);
    return 0;
}
