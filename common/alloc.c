#include "common/alloc.h"

#include <stdlib.h>

#if !defined(QAC_NO_JEMALLOC) && !defined(__SANITIZE_ADDRESS__)
/* weak: a binary linked without jemalloc has none (then a no-op) */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen) __attribute__((weak));
#define QAC_ALLOC_JEMALLOC 1
#endif

static unsigned long fail_countdown; /* 0: disarmed */
static int fail_sticky, fail_tripped;
static unsigned long fail_count;
static _Thread_local unsigned long calls;

static int should_fail(void) {
    calls++;
    if (fail_tripped) { fail_count++; return 1; }
    if (fail_countdown == 0) return 0;
    if (--fail_countdown == 0) {
        fail_count++;
        if (fail_sticky) fail_tripped = 1;
        return 1;
    }
    return 0;
}

void qalloc_fail_after(unsigned long n, int sticky) {
    fail_countdown = n;
    fail_sticky = sticky;
    fail_tripped = 0;
    fail_count = 0;
}

unsigned long qalloc_failures(void) { return fail_count; }
unsigned long qalloc_calls(void) { return calls; }

void *qmalloc(size_t n) { return should_fail() ? NULL : malloc(n); }
void *qcalloc(size_t n, size_t size) { return should_fail() ? NULL : calloc(n, size); }
void *qrealloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n); }
void qfree(void *p) { free(p); }

void qalloc_release(void) {
#ifdef QAC_ALLOC_JEMALLOC
    if (mallctl) mallctl("arena.4096.purge", NULL, NULL, NULL, 0); /* 4096: MALLCTL_ARENAS_ALL */
#endif
}
