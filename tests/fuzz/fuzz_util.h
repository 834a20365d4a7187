/* fuzz_util.h -- small helpers shared by the libFuzzer harnesses in tests/fuzz.
 *
 * Each harness is one tests/fuzz/fuzz_<name>.c defining LLVMFuzzerTestOneInput;
 * the Makefile's fuzz section builds it with clang (-fsanitize=fuzzer,address,
 * undefined) against the module archives. A harness checks documented
 * invariants and calls fuzz_fail() (abort, so libFuzzer saves the input) when
 * one does not hold. Everything here is deterministic in the input: libFuzzer
 * must be able to replay a crash from the saved file alone.
 */
#ifndef QAC_FUZZ_UTIL_H
#define QAC_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reports a broken invariant and aborts (libFuzzer records the input). */
#define fuzz_fail(...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "fuzz invariant broken at %s:%d: ", __FILE__, __LINE__);                   \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)
#define fuzz_assert(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) fuzz_fail("%s", #cond);                                                       \
    } while (0)

/* xorshift32 seeded from input bytes: chunk sizes for split feeding. */
typedef struct fuzz_rng {
    uint32_t s;
} fuzz_rng;
static inline void fuzz_rng_seed(fuzz_rng *r, uint32_t seed) { r->s = seed * 2654435761u + 1u; }
static inline uint32_t fuzz_rng_next(fuzz_rng *r) {
    uint32_t x = r->s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return r->s = x ? x : 1u;
}
/* A chunk size in 1..max, mostly small (split points land everywhere). */
static inline size_t fuzz_chunk(fuzz_rng *r, size_t max) {
    uint32_t v = fuzz_rng_next(r);
    size_t n = (v & 3) == 0 ? 1 : (v & 3) == 1 ? 1 + (v >> 8) % 8 : 1 + (v >> 8) % 64;
    return n < max ? n : max;
}

/* An exact-size heap copy (ASan then catches any read past the end). */
static inline char *fuzz_dup(const void *p, size_t n) {
    char *c = malloc(n ? n : 1);
    if (!c) abort();
    if (n) memcpy(c, p, n);
    return c;
}

/* Writes data to a fresh memfd and puts its /proc/self/fd path in path[64].
 * Returns the fd (close it when done). Aborts on failure: that is the
 * harness's environment, not the code under test. */
static inline int fuzz_memfd(const void *data, size_t n, char *path) {
    int fd = memfd_create("qac-fuzz", MFD_CLOEXEC);
    if (fd < 0) fuzz_fail("memfd_create failed");
    const char *p = data;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, p + off, n - off);
        if (w <= 0) fuzz_fail("memfd write failed");
        off += (size_t)w;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

/* Makes a private directory NAME.XXXXXX for this harness process in dir[cap]:
 * under $QAC_FUZZ_TMP when set (make fuzz gives each harness run its own and
 * removes it afterwards, so a crash -- abort skips atexit -- leaves nothing
 * behind in /dev/shm), else in /dev/shm (file churn is most of an input's
 * time), else in /tmp. Aborts when it cannot: the environment, not the code
 * under test. */
static inline void fuzz_mkdtemp(char *dir, size_t cap, const char *name) {
    const char *base = getenv("QAC_FUZZ_TMP");
    if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    int n = snprintf(dir, cap, "%s/%s.XXXXXX", base, name);
    if (n < 0 || (size_t)n >= cap) fuzz_fail("fuzz_mkdtemp: %s/%s.XXXXXX longer than %zu bytes", base, name, cap - 1);
    if (!mkdtemp(dir)) fuzz_fail("mkdtemp %s failed", dir);
}

#endif
