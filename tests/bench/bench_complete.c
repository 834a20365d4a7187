/* bench_complete -- the exact path of COMPLETE in process, for A/B runs of
 * two builds (issue 14: "the exact path no slower than 5 %").
 *
 *   bench_complete INDEX PREFIXES.txt [PASSES=3]
 *
 * Loads INDEX (trie_load), sets up an engine with the default settings (no
 * ranker, fuzzy 0) and sends every line of PREFIXES as `COMPLETE <line>`
 * (RESP) through eng_exec: parse, normalize, trie_topk, reply encoding --
 * what the server does per request minus the socket. Each call is timed
 * alone with qtime_ns; PASSES passes, the last reported: median and p99 by
 * nearest rank, the mean, and the process CPU time per call (the machine is
 * shared: waits for a core are not in it). For an A/B, build this file in
 * each tree and run the binaries alternately on the same index and
 * prefixes; compare ratios within one run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "engine/cmd.h"
#include "engine/config.h"
#include "trie/trie.h"

#define MAX_PREFIXES 200000

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_complete INDEX PREFIXES.txt [PASSES=3]\n");
        return 2;
    }
    int passes = argc > 3 ? atoi(argv[3]) : 3;
    if (passes < 1) passes = 1;
    trie *t = NULL;
    char err[256];
    if (trie_load(argv[1], &t, err, sizeof err)) {
        fprintf(stderr, "bench_complete: load %s: %s\n", argv[1], err);
        return 1;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        fprintf(stderr, "bench_complete: cannot open %s\n", argv[2]);
        return 1;
    }
    static char *pp[MAX_PREFIXES];
    static size_t pl[MAX_PREFIXES];
    size_t n = 0;
    char line[4096];
    while (n < MAX_PREFIXES && fgets(line, sizeof line, f)) {
        size_t l = strcspn(line, "\n");
        pp[n] = malloc(l + 1);
        if (!pp[n]) abort();
        memcpy(pp[n], line, l);
        pl[n++] = l;
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "bench_complete: no prefixes in %s\n", argv[2]);
        return 1;
    }
    srv_config cfg;
    config_defaults(&cfg);
    static eng e;
    eng_init(&e, t, &cfg);
    qbuf out;
    qbuf_init(&out);
    uint64_t *ns = malloc(n * sizeof *ns), tot = 0;
    if (!ns) abort();
    double cpu = 0;
    for (int p = 0; p < passes; p++) {
        struct timespec c0, c1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        tot = 0;
        for (size_t i = 0; i < n; i++) {
            proto_arg a[2] = {{.p = "COMPLETE", .len = 8}, {.p = pp[i], .len = pl[i]}};
            int fl;
            qbuf_reset(&out);
            uint64_t t0 = qtime_ns();
            eng_exec(&e, PROTO_RESP, 2, a, &out, &fl);
            uint64_t t1 = qtime_ns();
            ns[i] = t1 - t0;
            tot += t1 - t0;
        }
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        cpu = ((double)(c1.tv_sec - c0.tv_sec) * 1e9 + (double)(c1.tv_nsec - c0.tv_nsec)) / (double)n;
    }
    qsort(ns, n, sizeof *ns, cmp_u64);
    size_t i99 = (n * 99 + 99) / 100;
    printf("complete_calls %zu count\n", n);
    printf("complete_median %llu ns\n", (unsigned long long)ns[(n + 1) / 2 - 1]);
    printf("complete_p99 %llu ns\n", (unsigned long long)ns[(i99 ? i99 : 1) - 1]);
    printf("complete_mean %.0f ns\n", (double)tot / (double)n);
    printf("complete_cpu_mean %.0f ns\n", cpu);
    for (size_t i = 0; i < n; i++) free(pp[i]);
    free(ns);
    qbuf_free(&out);
    trie_free(t);
    config_free(&cfg);
    return 0;
}
