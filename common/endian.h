/* endian.h -- little-endian loads and stores of 16/32/64-bit integers and of
 * IEEE-754 floats and doubles, for every on-disk format (trie snapshots,
 * journals, MODEL and EMB files): they are little-endian whatever the host.
 *
 * le_putN(p, v) stores v at p as N/8 bytes, least significant first;
 * le_getN(p) loads them back. p may be at any alignment. le_put_f32/f64 store
 * a float/double's bit pattern as a 32/64-bit integer (so -0.0, infinities
 * and NaN payloads round-trip exactly); le_get_f32/f64 load it back.
 *
 * How: memcpy between the bytes and a host integer, plus a byte swap on a
 * big-endian host (__BYTE_ORDER__, GCC and clang). On a little-endian host
 * each helper compiles to one plain (unaligned) load or store. Header-only;
 * nothing here can fail.
 */
#ifndef QAC_ENDIAN_H
#define QAC_ENDIAN_H

#include <stdint.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || !defined(__ORDER_LITTLE_ENDIAN__) || !defined(__ORDER_BIG_ENDIAN__)
#error "common/endian.h needs __BYTE_ORDER__ (GCC or clang)"
#endif

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define QAC_LE16(x) __builtin_bswap16(x)
#define QAC_LE32(x) __builtin_bswap32(x)
#define QAC_LE64(x) __builtin_bswap64(x)
#elif __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define QAC_LE16(x) (x)
#define QAC_LE32(x) (x)
#define QAC_LE64(x) (x)
#else
#error "common/endian.h: mixed-endian hosts are not supported"
#endif

static inline void le_put16(void *p, uint16_t v) {
    v = QAC_LE16(v);
    memcpy(p, &v, 2);
}
static inline void le_put32(void *p, uint32_t v) {
    v = QAC_LE32(v);
    memcpy(p, &v, 4);
}
static inline void le_put64(void *p, uint64_t v) {
    v = QAC_LE64(v);
    memcpy(p, &v, 8);
}
static inline uint16_t le_get16(const void *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return QAC_LE16(v);
}
static inline uint32_t le_get32(const void *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return QAC_LE32(v);
}
static inline uint64_t le_get64(const void *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return QAC_LE64(v);
}

static inline void le_put_f32(void *p, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    le_put32(p, u);
}
static inline void le_put_f64(void *p, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    le_put64(p, u);
}
static inline float le_get_f32(const void *p) {
    uint32_t u = le_get32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline double le_get_f64(const void *p) {
    uint64_t u = le_get64(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

#undef QAC_LE16
#undef QAC_LE32
#undef QAC_LE64

#endif
