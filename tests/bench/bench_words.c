/* bench_words -- the word index (trie/trie_words.h): build time, memory and
 * infix top-10 latency.
 *
 *   bench_words CORPUS.tsv [NQUERIES] [SNAP] [NFUZZY]
 *
 * Bulk-builds the trie from CORPUS (`query<TAB>count`, sorted here, as qac
 * build does), saves it to SNAP (default /tmp/bench_words.snap) and loads it
 * back (the trie's load time: the budget the word index rebuild is compared
 * with), then times trie_words_build on the loaded trie and reports its
 * memory (its own accounting and the RSS it added).
 * Queries (default 100,000, fixed seed): keys drawn by count (popular keys
 * more often, like a log), of at least 2 words; for n = 1..4 typed words
 * (cycling; n <= the key's words) a random choice of n distinct word
 * positions whose FIRST is not the key's first word (a later word first),
 * in shuffled order, the last typed word cut to 1..its length bytes (as
 * typed). Each is timed with qtime_ns around one trie_words_topk(k=10); 3
 * passes, the last reported: per typed-word count and overall, median, p99,
 * mean, and how many answers were truncated by the scan limit; and the CPU
 * time per query over the 3 passes (getrusage: steadier under load), and a
 * checksum of every answer of the last pass (keys, scores, classes, ranges,
 * truncation: two builds answer alike when the checksums agree).
 * Memory: the RSS the built index added (as the engine builds it when no
 * saved index is usable), then jemalloc's allocated / resident / retained
 * and the RSS once freed pages are returned (arena purge: what the build's
 * temporaries left behind); then the index is saved beside SNAP
 * (SNAP.words), freed and loaded back as a start does (trie_words_load, its
 * time and the process's RSS after it, purged too), and the queries run on
 * the loaded index. BENCH_WORDS_QUERIES=FILE also writes the queries to
 * FILE, one a line, before they run (for a peer on the same strings);
 * BENCH_WORDS_QUERIES_FROM=FILE times FILE's lines instead (one query a
 * line, at most TRIE_MAX_KEY + 8 bytes; NQUERIES is then ignored): e.g.
 * the queries of one typed-word count alone, as a peer's own benchmark
 * runs them (tests/bench/jermp_infix.sh).
 * Each query's FASTEST of the 3 passes is reported too (infix10_best_*:
 * per typed-word count, median, p99, p99.9: misses that a pass left in
 * cache count against no one, and a query delayed by the machine in one
 * pass is not; the figures an A/B of the query path compares), and
 * BENCH_WORDS_TIMES=FILE writes them, one `words<TAB>ns<TAB>query` line
 * a query, for a per-query comparison of two builds (or with a peer:
 * tests/bench/jermp_infix.sh). BENCH_WORDS_ANSWERS=FILE writes each
 * query's hits after the passes (an untimed extra call), one line a query:
 * the keys in order, joined by TABs (a key never holds a TAB: the corpus
 * is `query<TAB>count`).
 * BENCH_WORDS_REUSE=1 skips the builds: when SNAP and SNAP.words exist
 * (a previous run's, kept by BENCH_WORDS_KEEP=1, or `qac build -o SNAP`
 * of the same corpus), the trie and the word index are loaded from them
 * (the corpus is still read, for the queries, and SNAP checked against
 * it: the number of keys and 64 of them with their scores; a SNAP of
 * another corpus is refused); the build and memory figures are then not
 * printed. BENCH_WORDS_KEEP=1 keeps SNAP and
 * SNAP.words at exit.
 * BENCH_WORDS_AB=KNOB=A,B times the queries in ONE process with a query
 * path knob switched between passes (ABBA; bench_ab below), instead of
 * the passes above: for an A/B that separate processes are too noisy for.
 * NFUZZY (default 0: none) more queries, the first NFUZZY of those above
 * (ASCII ones) with ONE edit in the last typed word (a letter substituted,
 * deleted, inserted, or two swapped; never the first letter, which FUZZY
 * keeps exact), answered as COMPLETE ... INFIX FUZZY AUTO is:
 * trie_words_topk_edits (k=10; the exact word matches, then, when short,
 * the whole text's typo completions, AUTO by the text's characters,
 * fuzzy-max-work 20,000, and the last word's edits, AUTO by the word's
 * characters, as far as they can change the answer); 3 passes, the last
 * reported: the whole request's median and p99 and a checksum of its
 * answers, the same call without the last word's edits, the last-word
 * search alone (trie_words_fuzzy_topk, where the exact matches fall
 * short) and how many of those found a match or were cut by the scan
 * limit, and a checksum of its answers (count, truncation, and each hit's
 * key, score, edits and ranges).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#if !defined(QAC_NO_JEMALLOC) && !defined(__SANITIZE_ADDRESS__)
#define BW_JEMALLOC 1
#include <jemalloc/jemalloc.h>
#endif
#include <xxhash.h>

#include "common/hist.h"
#include "common/util.h"
#include "trie/trie.h"
#include "trie/trie_fuzzy.h"
#include "trie/trie_words.h"
#include "trie/trie_words_internal.h" /* the path knobs BENCH_WORDS_AB switches */
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

/* jemalloc's figures (MB) under tag: allocated (live bytes), resident
 * (pages it holds), retained (address space kept, not resident); none
 * without jemalloc. */
static void jem_report(const char *tag) {
#ifdef BW_JEMALLOC
    uint64_t epoch = 1;
    size_t sz = sizeof epoch, a = 0, r = 0, k = 0;
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    sz = sizeof a;
    if (mallctl("stats.allocated", &a, &sz, NULL, 0) || mallctl("stats.resident", &r, &sz, NULL, 0) ||
        mallctl("stats.retained", &k, &sz, NULL, 0))
        return;
    printf("%s_jemalloc_allocated %.1f MB\n", tag, (double)a / 1e6);
    printf("%s_jemalloc_resident %.1f MB\n", tag, (double)r / 1e6);
    printf("%s_jemalloc_retained %.1f MB\n", tag, (double)k / 1e6);
#else
    (void)tag;
#endif
}

/* Returns every arena's freed pages to the system (jemalloc): what RSS holds
 * afterwards is what is in use (no-op without jemalloc). */
static void jem_purge(void) {
#ifdef BW_JEMALLOC
    char cmd[64];
    snprintf(cmd, sizeof cmd, "arena.%u.purge", (unsigned)MALLCTL_ARENAS_ALL);
    mallctl(cmd, NULL, NULL, NULL, 0);
#endif
}

/* User + system CPU seconds of this process (time on the CPU, whatever
 * the load: the per-query CPU figure is steadier than the wall medians). */
static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t rs = 0x2545f4914f6cdd1dull;
static uint64_t rng(void) {
    uint64_t z = (rs += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct kline {
    size_t off, len;
    uint64_t cnt;
} kline;
static const char *g_text;
static int kline_cmp(const void *a, const void *b) {
    const kline *x = a, *y = b;
    int c = memcmp(g_text + x->off, g_text + y->off, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

typedef struct qset {
    char *buf;
    size_t *off, *len, n;
    int *nw;
} qset;

/* Room for want queries of at most TRIE_MAX_KEY + 8 bytes (aborts when
 * out of memory: a benchmark). */
static void qset_alloc(qset *q, size_t want) {
    q->buf = malloc(want * (TRIE_MAX_KEY + 8));
    q->off = malloc(want * sizeof *q->off);
    q->len = malloc(want * sizeof *q->len);
    q->nw = malloc(want * sizeof *q->nw);
    if (!q->buf || !q->off || !q->len || !q->nw) abort();
    q->n = 0;
}

/* BENCH_WORDS_QUERIES_FROM: FILE's lines as the queries (a query's typed
 * words counted on ASCII spaces; a line of no word, or of more than
 * TRIE_MAX_KEY + 8 bytes, is refused). Returns 0, or 1 after saying why. */
static int read_queries(const char *path, qset *q) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_words: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t lines = 0;
    int last = '\n';
    for (int c; (c = getc(f)) != EOF; last = c) lines += c == '\n';
    lines += last != '\n'; /* a last line without its newline */
    rewind(f);
    qset_alloc(q, lines ? lines : 1);
    char *line = NULL;
    size_t cap = 0, used = 0;
    ssize_t l;
    while (q->n < lines && (l = getline(&line, &cap, f)) > 0) {
        if (line[l - 1] == '\n') l--;
        if ((size_t)l > TRIE_MAX_KEY + 8) {
            fprintf(stderr, "bench_words: %s: a query over %d bytes\n", path, TRIE_MAX_KEY + 8);
            free(line);
            fclose(f);
            return 1;
        }
        int nw = 0;
        for (ssize_t j = 0; j < l; j++) nw += line[j] != ' ' && (j == 0 || line[j - 1] == ' ');
        if (nw == 0) { /* (the per-count tally steps by the word count) */
            fprintf(stderr, "bench_words: %s: line %zu holds no word\n", path, q->n + 1);
            free(line);
            fclose(f);
            return 1;
        }
        memcpy(q->buf + used, line, (size_t)l);
        q->off[q->n] = used;
        q->len[q->n] = (size_t)l;
        q->nw[q->n++] = nw;
        used += (size_t)l;
    }
    free(line);
    fclose(f);
    return 0;
}

/* Draws the queries (see the top of the file). */
static void make_queries(const char *text, const kline *v, size_t n, size_t want, qset *q) {
    double *cum = malloc(n * sizeof *cum), tot = 0;
    for (size_t i = 0; i < n; i++) cum[i] = (tot += (double)v[i].cnt);
    qset_alloc(q, want);
    size_t used = 0;
    while (q->n < want) {
        double x = (double)(rng() >> 11) / 9007199254740992.0 * tot;
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (cum[mid] <= x) lo = mid + 1;
            else hi = mid;
        }
        if (lo >= n) continue;
        const char *k = text + v[lo].off;
        size_t kl = v[lo].len, wo[64], wl[64];
        int nk = 0;
        for (size_t i = 0; i < kl && nk < 64;) {
            size_t j = i;
            while (j < kl && k[j] != ' ') j++;
            wo[nk] = i, wl[nk++] = j - i;
            i = j + 1;
        }
        if (nk < 2) continue;
        int want_nw = 1 + (int)(q->n % 4), nq = want_nw < nk ? want_nw : nk;
        int pos[64];
        for (int i = 0; i < nk; i++) pos[i] = i;
        for (int i = nk - 1; i > 0; i--) { /* shuffle */
            int j = (int)(rng() % (uint64_t)(i + 1)), t = pos[i];
            pos[i] = pos[j], pos[j] = t;
        }
        if (pos[0] == 0) { /* a later word first */
            int t = pos[0];
            pos[0] = pos[1], pos[1] = t;
        }
        char *o = q->buf + used;
        size_t ol = 0;
        for (int i = 0; i < nq; i++) {
            size_t l = wl[pos[i]];
            if (i == nq - 1) l = 1 + rng() % l;
            if (ol) o[ol++] = ' ';
            memcpy(o + ol, k + wo[pos[i]], l);
            ol += l;
        }
        q->off[q->n] = used;
        q->len[q->n] = ol;
        q->nw[q->n++] = nq;
        used += ol;
    }
    free(cum);
}

/* Writes the queries, one a line (BENCH_WORDS_QUERIES: the same strings
 * for a peer, tests/bench/infix_peers.sh). A query never holds a newline
 * (the corpus is read by lines). Returns 0, or 1 after saying why. */
static int dump_queries(const qset *q, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_words: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < q->n; i++) {
        fwrite(q->buf + q->off[i], 1, q->len[i], f);
        fputc('\n', f);
    }
    if (fclose(f)) {
        fprintf(stderr, "bench_words: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

/* Adds one answer to the checksum: its count and truncation, then each
 * hit's key, score, class (with edits: its edit class instead) and ranges. */
static void sum_answer(XXH3_state_t *sum, int n, int tr, const trie_words_hit *out, int edits) {
    int32_t head[2] = {n, tr};
    XXH3_64bits_update(sum, head, sizeof head);
    for (int j = 0; j < n; j++) {
        const trie_words_hit *o = &out[j];
        XXH3_64bits_update(sum, o->hit.text, o->hit.keylen);
        XXH3_64bits_update(sum, &o->hit.score, sizeof o->hit.score);
        XXH3_64bits_update(sum, edits ? &o->edits : &o->cls, 1);
        XXH3_64bits_update(sum, o->range, o->nranges * sizeof *o->range);
    }
}

static int u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Each query's fastest pass (best[i], ns): per typed-word count, exact
 * median, p99 and p99.9 (sorted, not the histogram's buckets: an A/B
 * compares a few per cent), and the lines of BENCH_WORDS_TIMES when it is
 * set. */
static void report_best(const qset *q, const uint64_t *best) {
    uint64_t *v = malloc(q->n * sizeof *v);
    if (!v) abort();
    for (int c = 0; c <= 4; c++) {
        const char *nm[] = {"all", "1w", "2w", "3w", "4w"};
        size_t m = 0;
        for (size_t i = 0; i < q->n; i++)
            if (c == 0 || q->nw[i] == c) v[m++] = best[i];
        if (!m) continue;
        qsort(v, m, sizeof *v, u64_cmp);
        printf("infix10_best_%s_median %llu ns\n", nm[c], (unsigned long long)v[m / 2]);
        printf("infix10_best_%s_p99 %llu ns\n", nm[c], (unsigned long long)v[(size_t)((double)m * 0.99)]);
        printf("infix10_best_%s_p999 %llu ns\n", nm[c], (unsigned long long)v[(size_t)((double)m * 0.999)]);
        double tot = 0;
        for (size_t i = 0; i < m; i++) tot += (double)v[i];
        printf("infix10_best_%s_mean %.0f ns\n", nm[c], tot / (double)m);
    }
    free(v);
    const char *path = getenv("BENCH_WORDS_TIMES");
    if (!path || !*path) return;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_words: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    for (size_t i = 0; i < q->n; i++)
        fprintf(f, "%d\t%llu\t%.*s\n", q->nw[i], (unsigned long long)best[i], (int)q->len[i], q->buf + q->off[i]);
    if (fclose(f)) {
        fprintf(stderr, "bench_words: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* BENCH_WORDS_AB=KNOB=A,B: the query path's knobs (trie_words_internal.h)
 * compared in ONE process over the same index and queries (bench_ab.h:
 * ABBA passes, BENCH_WORDS_AB_REPS groups of 4, default 3; each query's
 * fastest per side). Prints, per typed-word count, each side's median /
 * p99 / p99.9 and B's ratio to A, the summed times' ratio, and each side's
 * answers' checksum (a knob that only changes the path answers alike). */
static const ab_knob ab_knobs[] = {
    {"lookahead", &trie_words__lookahead},     {"c0_late", &trie_words__c0_late},
    {"pcur_words", &trie_words__pcur_words},   {"pcur_ratio", &trie_words__pcur_ratio},
    {"fzcur_words", &trie_words__fzcur_words}, {"fzcur_ratio", &trie_words__fzcur_ratio},
    {"isect_skew", &trie_words__isect_skew},   {"isect_block", &trie_words__isect_block},
    {"isect_sigf", &trie_words__isect_sigf},
};

static int bench_ab(const trie_words *w, const trie *t, const qset *q, const char *spec) {
    unsigned *knob, a, b;
    const char *name = NULL;
    long reps;
    if (ab_parse("BENCH_WORDS_AB", spec, ab_knobs, sizeof ab_knobs / sizeof ab_knobs[0], &knob, &a, &b, &name) ||
        (reps = ab_reps("BENCH_WORDS_AB_REPS", 3)) < 0)
        return 1;
    static trie_words_hit out[10];
    unsigned was = *knob, val[2] = {a, b};
    uint64_t *best[2], ck[2] = {0, 0};
    uint64_t *v = malloc(q->n * sizeof *v);
    XXH3_state_t *sum = XXH3_createState();
    best[0] = malloc(q->n * sizeof *best[0]);
    best[1] = malloc(q->n * sizeof *best[1]);
    if (!v || !sum || !best[0] || !best[1]) abort();
    for (size_t i = 0; i < q->n; i++) best[0][i] = best[1][i] = UINT64_MAX;
    for (long p = 0; p < 4 * reps; p++) {
        int side = ab_side(p), first = p < 2;
        *knob = val[side];
        if (first) XXH3_64bits_reset(sum);
        for (size_t i = 0; i < q->n; i++) {
            int tr;
            uint64_t t0 = qtime_ns();
            int n = trie_words_topk(w, t, q->buf + q->off[i], q->len[i], 10, out, &tr);
            uint64_t d = qtime_ns() - t0;
            if (d < best[side][i]) best[side][i] = d;
            if (first) sum_answer(sum, n, tr, out, 0);
        }
        if (first) ck[side] = XXH3_64bits_digest(sum);
    }
    *knob = was;
    printf("ab_knob %s %u,%u (%ld passes each side, ABBA)\n", name, a, b, 2 * reps);
    printf("ab_checksum_a %016llx\nab_checksum_b %016llx\n", (unsigned long long)ck[0], (unsigned long long)ck[1]);
    for (int c = 0; c <= 4; c++) {
        const char *nm[] = {"all", "1w", "2w", "3w", "4w"};
        uint64_t qv[2][3], tot[2] = {0, 0};
        size_t m = 0;
        for (int sd = 0; sd < 2; sd++) {
            m = 0;
            for (size_t i = 0; i < q->n; i++)
                if (c == 0 || q->nw[i] == c) v[m++] = best[sd][i], tot[sd] += best[sd][i];
            if (!m) break;
            qsort(v, m, sizeof *v, u64_cmp);
            qv[sd][0] = v[m / 2], qv[sd][1] = v[(size_t)((double)m * 0.99)], qv[sd][2] = v[(size_t)((double)m * 0.999)];
        }
        if (!m) continue;
        const char *qn[] = {"median", "p99", "p999"};
        for (int k = 0; k < 3; k++)
            printf("ab_%s_%s %llu %llu ns %.3f ratio\n", nm[c], qn[k], (unsigned long long)qv[0][k],
                   (unsigned long long)qv[1][k], (double)qv[1][k] / (double)qv[0][k]);
        printf("ab_%s_sum_ratio %.3f ratio\n", nm[c], (double)tot[1] / (double)tot[0]);
    }
    XXH3_freeState(sum);
    free(v), free(best[0]), free(best[1]);
    return 0;
}

static void bench_queries(const trie_words *w, const trie *t, const qset *q) {
    static hist h[5];
    static trie_words_hit out[10];
    uint64_t tot[5], cnt[5], res[5], trunc[5];
    uint64_t *best = malloc(q->n * sizeof *best);
    XXH3_state_t *sum = XXH3_createState();
    if (!sum || !best) abort();
    for (size_t i = 0; i < q->n; i++) best[i] = UINT64_MAX;
    double cpu0 = cpu_s();
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < 5; i++) hist_init(&h[i]), tot[i] = cnt[i] = res[i] = trunc[i] = 0;
        XXH3_64bits_reset(sum);
        for (size_t i = 0; i < q->n; i++) {
            int tr;
            uint64_t t0 = qtime_ns();
            int n = trie_words_topk(w, t, q->buf + q->off[i], q->len[i], 10, out, &tr);
            uint64_t d = qtime_ns() - t0;
            if (d < best[i]) best[i] = d;
            sum_answer(sum, n, tr, out, 0);
            for (int c = 0; c <= 4; c += (c == 0 ? q->nw[i] : 5)) {
                hist_add(&h[c], d);
                tot[c] += d, cnt[c]++, res[c] += (uint64_t)(n > 0 ? n : 0), trunc[c] += (uint64_t)tr;
            }
        }
    }
    printf("infix10_cpu_per_query %.0f ns\n", (cpu_s() - cpu0) * 1e9 / (3.0 * (double)q->n));
    printf("infix10_answers_checksum %016llx\n", (unsigned long long)XXH3_64bits_digest(sum));
    XXH3_freeState(sum);
    for (int c = 0; c <= 4; c++) {
        const char *nm[] = {"all", "1w", "2w", "3w", "4w"};
        if (!cnt[c]) continue;
        printf("infix10_%s_queries %llu count\n", nm[c], (unsigned long long)cnt[c]);
        printf("infix10_%s_results_avg %.2f count\n", nm[c], (double)res[c] / (double)cnt[c]);
        printf("infix10_%s_mean %.0f ns\n", nm[c], (double)tot[c] / (double)cnt[c]);
        printf("infix10_%s_median %llu ns\n", nm[c], (unsigned long long)hist_quantile(&h[c], 0.5));
        printf("infix10_%s_p99 %llu ns\n", nm[c], (unsigned long long)hist_quantile(&h[c], 0.99));
        printf("infix10_%s_max %llu ns\n", nm[c], (unsigned long long)h[c].max);
        printf("infix10_%s_truncated %llu count\n", nm[c], (unsigned long long)trunc[c]);
    }
    report_best(q, best);
    free(best);
    const char *path = getenv("BENCH_WORDS_ANSWERS");
    if (path && *path) {
        FILE *f = fopen(path, "w");
        if (!f) {
            fprintf(stderr, "bench_words: cannot write %s: %s\n", path, strerror(errno));
            exit(1);
        }
        for (size_t i = 0; i < q->n; i++) {
            int tr, n = trie_words_topk(w, t, q->buf + q->off[i], q->len[i], 10, out, &tr);
            for (int j = 0; j < n; j++)
                fprintf(f, "%s%.*s", j ? "\t" : "", (int)out[j].hit.keylen, out[j].hit.text);
            fputc('\n', f);
        }
        if (fclose(f)) {
            fprintf(stderr, "bench_words: cannot write %s: %s\n", path, strerror(errno));
            exit(1);
        }
    }
}

/* The fuzzy queries: q's first ASCII ones, one edit in the last word. */
static void make_fuzzy(const qset *q, size_t want, qset *f) {
    qset_alloc(f, want);
    size_t used = 0;
    for (size_t i = 0; i < q->n && f->n < want; i++) {
        const char *s = q->buf + q->off[i];
        size_t l = q->len[i], st = l;
        int ascii = 1;
        for (size_t j = 0; j < l; j++) ascii &= (unsigned char)s[j] < 0x80;
        while (st && s[st - 1] != ' ') st--;
        if (!ascii || l - st < 2) continue;
        char *o = f->buf + used;
        memcpy(o, s, l);
        size_t wl = l - st, at = 1 + rng() % (wl - 1), ol = l; /* never the first letter */
        char c = (char)('a' + rng() % 26);
        switch (rng() % 4) {
        case 0: o[st + at] = c; break;
        case 1: memmove(o + st + at, o + st + at + 1, wl - at - 1), ol--; break;
        case 2: memmove(o + st + at + 1, o + st + at, wl - at), o[st + at] = c, ol++; break;
        default:
            if (at + 1 < wl) {
                char x = o[st + at];
                o[st + at] = o[st + at + 1], o[st + at + 1] = x;
            } else {
                o[st + at] = c;
            }
        }
        f->off[f->n] = used;
        f->len[f->n] = ol;
        f->nw[f->n++] = q->nw[i];
        used += ol;
    }
}

static void bench_fuzzy(const trie_words *w, const trie *t, const qset *q) {
    static hist h, hw, h0;
    static trie_words_hit out[10], wf[10], ws[10];
    static trie_fuzzy_hit fh[10];
    static uint16_t ml[10];
    uint64_t with = 0, trunc = 0, ran = 0;
    XXH3_state_t *sum = XXH3_createState(), *rsum = XXH3_createState();
    if (!sum || !rsum) abort();
    double cpu0 = cpu_s();
    for (int pass = 0; pass < 3; pass++) {
        hist_init(&h), hist_init(&hw), hist_init(&h0);
        with = trunc = ran = 0;
        XXH3_64bits_reset(sum);
        XXH3_64bits_reset(rsum);
        for (size_t i = 0; i < q->n; i++) {
            const char *s = q->buf + q->off[i];
            size_t l = q->len[i], st, wl = trie_words_last_word(s, l, &st);
            /* the request as the server answers it (AUTO as its defaults) */
            trie_words_edits ed = {trie_fuzzy_auto_edits(s, l, TRIE_FUZZY_AUTO_ONE, TRIE_FUZZY_AUTO_TWO),
                                   trie_fuzzy_auto_edits(s + st, wl, TRIE_FUZZY_AUTO_ONE, TRIE_FUZZY_AUTO_TWO), 0, TRIE_FUZZY_MAX_WORK};
            trie_words_edits_info in;
            uint64_t t0 = qtime_ns();
            int n = trie_words_topk_edits(w, t, s, l, &ed, 10, out, ml, fh, ws, &in);
            hist_add(&h, qtime_ns() - t0);
            sum_answer(rsum, n, in.truncated || in.word_truncated, out, 1);
            /* without the last word's edits */
            unsigned dw = ed.word_maxd;
            ed.word_maxd = 0;
            t0 = qtime_ns();
            n = trie_words_topk_edits(w, t, s, l, &ed, 10, out, ml, fh, ws, &in);
            hist_add(&h0, qtime_ns() - t0);
            /* the last word's search alone, where the request may need it */
            int exact = 0;
            for (int j = 0; j < n; j++) exact += out[j].edits == 0;
            if (dw && exact < 10) {
                int tr = 0;
                t0 = qtime_ns();
                int nw = trie_words_fuzzy_topk(w, t, s, l, dw, 0, 10 - (unsigned)exact, wf, &tr);
                hist_add(&hw, qtime_ns() - t0);
                ran++;
                with += nw > 0;
                trunc += (uint64_t)tr;
                sum_answer(sum, nw, tr, wf, 1);
            }
        }
    }
    printf("infix_fuzzy_auto_answers_checksum %016llx\n", (unsigned long long)XXH3_64bits_digest(rsum));
    XXH3_freeState(rsum);
    printf("infix_fuzzy_auto_cpu_per_query %.0f ns (the three calls)\n", (cpu_s() - cpu0) * 1e9 / (3.0 * (double)q->n));
    printf("infix_fuzzy_auto_word_answers_checksum %016llx\n", (unsigned long long)XXH3_64bits_digest(sum));
    XXH3_freeState(sum);
    printf("infix_fuzzy_auto_queries %zu count\n", q->n);
    printf("infix_fuzzy_auto_median %llu ns\n", (unsigned long long)hist_quantile(&h, 0.5));
    printf("infix_fuzzy_auto_p99 %llu ns\n", (unsigned long long)hist_quantile(&h, 0.99));
    printf("infix_fuzzy_auto_max %llu ns\n", (unsigned long long)h.max);
    printf("infix_fuzzy_auto_without_word_median %llu ns\n", (unsigned long long)hist_quantile(&h0, 0.5));
    printf("infix_fuzzy_auto_without_word_p99 %llu ns\n", (unsigned long long)hist_quantile(&h0, 0.99));
    printf("infix_fuzzy_auto_word_searches %llu count\n", (unsigned long long)ran);
    printf("infix_fuzzy_auto_word_median %llu ns\n", (unsigned long long)hist_quantile(&hw, 0.5));
    printf("infix_fuzzy_auto_word_p99 %llu ns\n", (unsigned long long)hist_quantile(&hw, 0.99));
    printf("infix_fuzzy_auto_word_max %llu ns\n", (unsigned long long)hw.max);
    printf("infix_fuzzy_auto_word_with_hits %llu count\n", (unsigned long long)with);
    printf("infix_fuzzy_auto_word_truncated %llu count\n", (unsigned long long)trunc);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 5) {
        fprintf(stderr, "usage: bench_words CORPUS.tsv [NQUERIES] [SNAP] [NFUZZY]\n");
        return 2;
    }
    size_t nfz = argc == 5 ? (size_t)strtoull(argv[4], NULL, 10) : 0;
    size_t nq = argc >= 3 ? (size_t)strtoull(argv[2], NULL, 10) : 100000;
    const char *snap = argc >= 4 ? argv[3] : "/tmp/bench_words.snap";
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "bench_words: cannot open %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    qbuf text;
    qbuf_init(&text);
    kline *v = NULL;
    size_t n = 0, cap = 0, lcap = 0;
    char *line = NULL;
    ssize_t l;
    while ((l = getline(&line, &lcap, f)) > 0) {
        if (line[l - 1] == '\n') l--;
        char *tab = memrchr(line, '\t', (size_t)l);
        uint64_t c;
        if (!tab || tab == line || qparse_u64(tab + 1, (size_t)(line + l - tab - 1), &c)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            v = realloc(v, cap * sizeof *v);
            if (!v) abort();
        }
        v[n++] = (kline){text.len, (size_t)(tab - line), c};
        if (qbuf_append(&text, line, (size_t)(tab - line))) abort();
    }
    free(line);
    fclose(f);
    g_text = text.data;
    qsort(v, n, sizeof *v, kline_cmp);
    char wpath[4096];
    snprintf(wpath, sizeof wpath, "%s.words", snap);
    const char *reuse_env = getenv("BENCH_WORDS_REUSE"), *keep_env = getenv("BENCH_WORDS_KEEP");
    int reuse = reuse_env && *reuse_env == '1' && access(snap, R_OK) == 0 && access(wpath, R_OK) == 0;
    int keep = keep_env && *keep_env == '1';
    trie *t = NULL;
    if (reuse) {
        printf("reused %s and %s (BENCH_WORDS_REUSE=1: no build figures)\n", snap, wpath);
        keep = 1;
    } else {
        trie_builder *b = trie_builder_new();
        for (size_t i = 0; i < n; i++) {
            if (i && kline_cmp(&v[i - 1], &v[i]) == 0) continue;
            if (v[i].len > TRIE_MAX_KEY) continue;
            if (trie_builder_add(b, text.data + v[i].off, v[i].len, NULL, 0, (double)v[i].cnt, NULL)) abort();
        }
        if (trie_builder_finish(b, &t) || trie_save(t, snap)) {
            fprintf(stderr, "bench_words: build/save failed\n");
            return 1;
        }
        trie_free(t);
    }
    /* REUSE: what the build would have made from this corpus (its keys'
     * number, and REUSE_SAMPLE of them with their scores), so that a SNAP
     * of another corpus is refused below instead of timing queries that
     * were drawn from one index against another */
    enum { REUSE_SAMPLE = 64 };
    size_t want_keys = 0, nsample = 0;
    kline sample[REUSE_SAMPLE];
    char *sample_text = NULL;
    if (reuse) {
        for (size_t i = 0; i < n; i++)
            if (!(i && kline_cmp(&v[i - 1], &v[i]) == 0) && v[i].len <= TRIE_MAX_KEY) want_keys++;
        size_t stride = want_keys / REUSE_SAMPLE + 1, d = 0, bytes = 0;
        for (size_t i = 0; i < n && nsample < REUSE_SAMPLE; i++) {
            if ((i && kline_cmp(&v[i - 1], &v[i]) == 0) || v[i].len > TRIE_MAX_KEY) continue;
            if (d++ % stride == 0) sample[nsample++] = v[i], bytes += v[i].len;
        }
        sample_text = malloc(bytes + 1);
        if (!sample_text) abort();
        for (size_t i = 0, o = 0; i < nsample; o += sample[i].len, i++) {
            memcpy(sample_text + o, text.data + sample[i].off, sample[i].len);
            sample[i].off = o;
        }
    }
    qset q;
    const char *from = getenv("BENCH_WORDS_QUERIES_FROM");
    if (from && *from) {
        if (read_queries(from, &q)) return 1;
    } else {
        make_queries(text.data, v, n, nq, &q);
    }
    const char *dump = getenv("BENCH_WORDS_QUERIES");
    if (dump && *dump && dump_queries(&q, dump)) return 1;
    free(v);
    qbuf_free(&text);
    double rss0 = rss_mb();
    char err[256];
    uint64_t t0 = qtime_ns();
    if (trie_load(snap, &t, err, sizeof err)) {
        fprintf(stderr, "bench_words: load: %s\n", err);
        return 1;
    }
    if (reuse) {
        size_t bad = trie_count(t) != want_keys ? nsample + 1 : 0;
        for (size_t i = 0; i < nsample && !bad; i++) {
            double sc;
            if (!trie_score(t, sample_text + sample[i].off, sample[i].len, &sc) || sc != (double)sample[i].cnt)
                bad = i + 1;
        }
        if (bad) {
            fprintf(stderr,
                    "bench_words: %s is not a snapshot of %s (%llu keys, the corpus makes %zu%s): delete %s and %s.words, "
                    "or run without BENCH_WORDS_REUSE\n",
                    snap, argv[1], (unsigned long long)trie_count(t), want_keys,
                    bad <= nsample ? "; a key's score differs or it is missing" : "", snap, snap);
            return 1;
        }
        free(sample_text);
    }
    printf("keys %llu count\n", (unsigned long long)trie_count(t));
    printf("trie_load %.3f s\n", (double)(qtime_ns() - t0) / 1e9);
    double rss1 = rss_mb();
    printf("rss_trie %.1f MB\n", rss1 - rss0);
    trie_words *w = NULL;
    uint64_t sid, scnt;
    if (reuse) {
        t0 = qtime_ns();
        if (trie_snapshot_id(snap, &sid, &scnt) || trie_words_load(wpath, t, sid, &w, err, sizeof err)) {
            fprintf(stderr, "bench_words: trie_words_load %s: %s\n", wpath, err);
            return 1;
        }
        printf("words_load %.3f s\n", (double)(qtime_ns() - t0) / 1e9);
        printf("rss_total_loaded %.1f MB\n", rss_mb());
        goto queries;
    }
    t0 = qtime_ns();
    if (trie_words_build(t, &w)) {
        fprintf(stderr, "bench_words: trie_words_build failed\n");
        return 1;
    }
    printf("words_build %.3f s\n", (double)(qtime_ns() - t0) / 1e9);
    double rss2 = rss_mb();
    trie_words_mem m;
    trie_words_memory(w, &m);
    printf("words_dictionary %llu count\n", (unsigned long long)m.words);
    printf("words_postings %llu count\n", (unsigned long long)m.postings);
    printf("words_bytes %.1f MB\n", (double)m.bytes / 1e6);
    printf("words_bytes_per_key %.1f B\n", (double)m.bytes / (double)trie_count(t));
    printf("rss_words %.1f MB\n", rss2 - rss1);
    printf("rss_total %.1f MB\n", rss2);
    jem_report("built");
    jem_purge();
    printf("rss_total_purged %.1f MB\n", rss_mb());
    /* the start's path: the index saved beside the snapshot, loaded back */
    t0 = qtime_ns();
    if (trie_snapshot_id(snap, &sid, &scnt) || trie_words_save(w, wpath, sid, scnt)) {
        fprintf(stderr, "bench_words: trie_words_save failed\n");
        return 1;
    }
    printf("words_save %.3f s\n", (double)(qtime_ns() - t0) / 1e9);
    trie_words_free(w);
    jem_purge();
    double rss3 = rss_mb();
    t0 = qtime_ns();
    if (trie_words_load(wpath, t, sid, &w, err, sizeof err)) {
        fprintf(stderr, "bench_words: trie_words_load: %s\n", err);
        return 1;
    }
    printf("words_load %.3f s\n", (double)(qtime_ns() - t0) / 1e9);
    double rss4 = rss_mb();
    printf("rss_words_loaded %.1f MB\n", rss4 - rss3);
    printf("rss_total_loaded %.1f MB\n", rss4);
    jem_report("loaded");
    jem_purge();
    printf("rss_total_loaded_purged %.1f MB\n", rss_mb());
queries:;
    const char *ab = getenv("BENCH_WORDS_AB");
    if (ab && *ab) return bench_ab(w, t, &q, ab);
    bench_queries(w, t, &q);
    if (nfz) {
        qset fq;
        make_fuzzy(&q, nfz, &fq);
        bench_fuzzy(w, t, &fq);
        free(fq.buf), free(fq.off), free(fq.len), free(fq.nw);
    }
    trie_words_free(w);
    trie_free(t);
    if (!keep) unlink(snap), unlink(wpath);
    free(q.buf);
    free(q.off);
    free(q.len);
    free(q.nw);
    return 0;
}
