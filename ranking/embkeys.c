/* embkeys.c -- the Redis key layout of loaded embeddings (embkeys.h). */
#include "ranking/embkeys.h"

#include <stdarg.h>
#include <stdio.h>

__attribute__((format(printf, 3, 4))) static int put(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int rank_ek_version(char *out, size_t cap, const char *ns) { return put(out, cap, "%s:version", ns); }

int rank_ek_current(char *out, size_t cap, const char *ns) { return put(out, cap, "%s:current", ns); }

int rank_ek_all_versions(char *out, size_t cap, const char *ns) { return put(out, cap, "%s:v*:*", ns); }

int rank_ek_vprefix(char *out, size_t cap, const char *ns, uint64_t v) {
    return put(out, cap, "%s:v%llu:", ns, (unsigned long long)v);
}

int rank_ek_meta(char *out, size_t cap, const char *ns, uint64_t v) {
    return put(out, cap, "%s:v%llu:meta", ns, (unsigned long long)v);
}

int rank_ek_qprefix(char *out, size_t cap, const char *ns, uint64_t v) {
    return put(out, cap, "%s:v%llu:q:", ns, (unsigned long long)v);
}

int rank_ek_bucket(char *out, size_t cap, const char *ns, uint64_t v, uint32_t b) {
    return put(out, cap, "%s:v%llu:b:%u", ns, (unsigned long long)v, b);
}
