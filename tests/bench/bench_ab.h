/* bench_ab.h -- the knob A/B of bench_words (BENCH_WORDS_AB) and bench_trie
 * (BENCH_FUZZY_AB): a query path's knob set to A or B between passes over
 * the same calls in ONE process, in ABBA order, each call's fastest per
 * side. Separate processes on the shared 2-core machine differ by 10-20 %
 * run to run (and binaries of the same code by several per cent); this
 * resolves about 1 %. Here: the spec's parse and the pass order; each bench
 * times and reports its own calls. */
#ifndef QAC_BENCH_AB_H
#define QAC_BENCH_AB_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ab_knob {
    const char *name;
    unsigned *v;
} ab_knob;

/* The side (0: A, 1: B) of pass p: A B B A, A B B A, ... */
static inline int ab_side(long p) {
    static const int pat[4] = {0, 1, 1, 0};
    return pat[p % 4];
}

/* Parses "KNOB=A,B" (env: the variable's name, for the error) against
 * knobs[0, n): 0 and *knob, *a, *b, *name (the knob's name); else says
 * what it wants on stderr and returns -1. */
static inline int ab_parse(const char *env, const char *spec, const ab_knob *knobs, size_t n, unsigned **knob,
                           unsigned *a, unsigned *b, const char **name) {
    const char *eq = strchr(spec, '=');
    unsigned long x, y;
    int used = 0;
    *knob = NULL;
    *name = NULL;
    for (size_t i = 0; eq && i < n; i++)
        if (strlen(knobs[i].name) == (size_t)(eq - spec) && !memcmp(spec, knobs[i].name, (size_t)(eq - spec)))
            *knob = knobs[i].v, *name = knobs[i].name;
    if (!*knob || sscanf(eq + 1, "%lu,%lu%n", &x, &y, &used) != 2 || eq[1 + used] || x > UINT32_MAX ||
        y > UINT32_MAX) {
        fprintf(stderr, "%s=%s: want KNOB=A,B with KNOB one of", env, spec);
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %s", knobs[i].name);
        fprintf(stderr, " and A, B unsigned\n");
        return -1;
    }
    *a = (unsigned)x, *b = (unsigned)y;
    return 0;
}

/* The ABBA groups from env (default dflt, 1..100); -1 after saying so. */
static inline long ab_reps(const char *env, long dflt) {
    const char *re = getenv(env);
    long reps = re && *re ? strtol(re, NULL, 10) : dflt;
    if (reps < 1 || reps > 100) {
        fprintf(stderr, "%s=%s: want 1..100\n", env, re);
        return -1;
    }
    return reps;
}

#endif
