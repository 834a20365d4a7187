/* bench_fuzzy_peers -- qac's side of tests/bench/fuzzy_peers.sh: typo'd
 * prefixes given as a file, timed the way the Lucene peer harness times its
 * lookups, so the figures sit side by side.
 *
 *   bench_fuzzy_peers SNAP CLEAN.txt TYPO.txt [PASSES=3]
 *
 * CLEAN and TYPO have the same number of lines: line i of TYPO is line i of
 * CLEAN with one edit (fuzzy_peers.sh writes both, the same typo set the
 * Lucene harness draws). For FUZZY 1, 2 and AUTO (0 edits under 4
 * characters, 1 from 4, 2 from 8: the server's defaults), every TYPO line
 * is timed alone with qtime_ns around one trie_fuzzy_topk(k=10) call (first
 * character exact, the server's default): an untimed warm-up (the first
 * 20,000 lines), PASSES timed passes; median / p90 / p99 (nearest rank over the exact per-call
 * times of the last pass, as the Lucene harness does), mean, the median of
 * the pass medians. Typo recall as the Lucene harness counts it: the clean
 * prefix's exact top-1 (trie_topk k=1; any completion of the clean prefix
 * with that score counts, so ties count) is in the top 10 of the typo'd
 * prefix (counted on the last timed pass, outside the timed calls). One
 * RESULT line per mode. It measures trie_fuzzy_topk in-process
 * (what COMPLETE ... FUZZY costs the server before the reply is written).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "trie/trie.h"
#include "trie/trie_fuzzy.h"

typedef struct lines {
    char **s;
    size_t *n;
    size_t count, cap;
} lines;

static int read_lines(const char *path, lines *l) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    memset(l, 0, sizeof *l);
    while ((n = getline(&line, &lcap, f)) >= 0) {
        if (n > 0 && line[n - 1] == '\n') n--;
        if (l->count == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 1024;
            l->s = realloc(l->s, l->cap * sizeof *l->s);
            l->n = realloc(l->n, l->cap * sizeof *l->n);
            if (!l->s || !l->n) abort();
        }
        l->s[l->count] = malloc((size_t)n + 1);
        if (!l->s[l->count]) abort();
        memcpy(l->s[l->count], line, (size_t)n);
        l->s[l->count][n] = 0;
        l->n[l->count++] = (size_t)n;
    }
    free(line);
    fclose(f);
    return 0;
}

static size_t nchars(const char *p, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)p[i] & 0xC0) != 0x80;
    return c;
}

static unsigned edits_for(int mode, const char *p, size_t n) {
    if (mode != 3) return (unsigned)mode;
    size_t c = nchars(p, n);
    return c >= 8 ? 2 : c >= 4 ? 1 : 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank, in microseconds, of sorted v[0, n). */
static double pct(const uint64_t *v, size_t n, double q) {
    size_t i = (size_t)(q * (double)n + 0.999999999);
    i = i ? i - 1 : 0;
    if (i >= n) i = n - 1;
    return (double)v[i] / 1000.0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench_fuzzy_peers SNAP CLEAN.txt TYPO.txt [PASSES=3]\n");
        return 2;
    }
    int passes = argc > 4 ? atoi(argv[4]) : 3;
    if (passes < 1) passes = 1;
    lines clean, typo;
    if (read_lines(argv[2], &clean) || read_lines(argv[3], &typo)) {
        fprintf(stderr, "bench_fuzzy_peers: cannot read %s or %s\n", argv[2], argv[3]);
        return 1;
    }
    if (clean.count != typo.count || clean.count == 0) {
        fprintf(stderr, "bench_fuzzy_peers: %zu clean lines, %zu typo lines\n", clean.count, typo.count);
        return 1;
    }
    trie *t = NULL;
    char err[256];
    uint64_t l0 = qtime_ns();
    if (trie_load(argv[1], &t, err, sizeof err)) {
        fprintf(stderr, "bench_fuzzy_peers: load %s: %s\n", argv[1], err);
        return 1;
    }
    printf("# loaded %s in %.2f s; %zu typo'd prefixes\n", argv[1], (double)(qtime_ns() - l0) / 1e9,
           typo.count);

    size_t n = typo.count;
    /* the clean prefix's exact top-1 score (-1: no completion) */
    double *top1 = malloc(n * sizeof *top1);
    uint64_t *ns = malloc(n * sizeof *ns), *sorted = malloc(n * sizeof *sorted);
    static trie_hit one[1];
    static trie_fuzzy_hit fo[10];
    if (!top1 || !ns || !sorted) abort();
    for (size_t i = 0; i < n; i++)
        top1[i] = trie_topk(t, clean.s[i], clean.n[i], 1, one) == 1 ? one[0].score : -1.0;

    static const char *names[] = {"", "fuzzy1", "fuzzy2", "fuzzyauto"};
    for (int mode = 1; mode <= 3; mode++) {
        uint64_t sink = 0;
        double medians[64];
        int np = passes < 64 ? passes : 64;
        for (size_t i = 0; i < n && i < 20000; i++) /* warm-up */
            sink += (uint64_t)trie_fuzzy_topk(t, typo.s[i], typo.n[i], edits_for(mode, typo.s[i], typo.n[i]),
                                              0, 10, fo);
        uint64_t total = 0, results = 0, zero = 0, want = 0, hit = 0;
        for (int p = 0; p < np; p++) {
            total = results = zero = want = hit = 0;
            for (size_t i = 0; i < n; i++) {
                unsigned d = edits_for(mode, typo.s[i], typo.n[i]);
                uint64_t a = qtime_ns();
                int r = trie_fuzzy_topk(t, typo.s[i], typo.n[i], d, 0, 10, fo);
                uint64_t b = qtime_ns();
                ns[i] = b - a;
                total += b - a;
                /* quality, outside the timed call */
                if (r < 0) r = 0;
                results += (uint64_t)r;
                zero += r == 0;
                if (top1[i] < 0) continue;
                want++;
                for (int j = 0; j < r; j++) {
                    const trie_hit *h = &fo[j].hit;
                    if (h->score == top1[i] && h->keylen >= clean.n[i] &&
                        memcmp(trie_hit_key(h), clean.s[i], clean.n[i]) == 0) {
                        hit++;
                        break;
                    }
                }
            }
            memcpy(sorted, ns, n * sizeof *ns);
            qsort(sorted, n, sizeof *sorted, cmp_u64);
            medians[p] = pct(sorted, n, 0.5);
        }
        /* sort the pass medians (doubles; a handful) */
        for (int i = 1; i < np; i++)
            for (int j = i; j > 0 && medians[j - 1] > medians[j]; j--) {
                double x = medians[j];
                medians[j] = medians[j - 1];
                medians[j - 1] = x;
            }
        printf("RESULT engine=qac mode=%s n=%zu median_us=%.2f p90_us=%.2f p99_us=%.2f mean_us=%.2f"
               " max_us=%.1f median_of_%d_pass_medians_us=%.2f results_per_prefix=%.3f"
               " zero_result_frac=%.4f top1_recall_at_k=%.4f (%llu/%llu)\n",
               names[mode], n, pct(sorted, n, 0.5), pct(sorted, n, 0.9), pct(sorted, n, 0.99),
               (double)total / (double)n / 1000.0, (double)sorted[n - 1] / 1000.0, np, medians[np / 2],
               (double)results / (double)n, (double)zero / (double)n,
               want ? (double)hit / (double)want : 0.0, (unsigned long long)hit, (unsigned long long)want);
        if (sink == 42) printf("#\n");
    }
    trie_free(t);
    return 0;
}
