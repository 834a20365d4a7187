/* Tests for common/endian.h: the exact byte order of known values (what every
 * file format relies on, whatever the host), round trips at every offset of
 * an unaligned buffer with the bytes around the field left untouched, and the
 * bit patterns of floats and doubles (-0.0, infinities, NaN payloads,
 * subnormals) kept exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "common/endian.h"

static void test_known_bytes(void **state) {
    (void)state;
    uint8_t b[8];
    le_put16(b, 0x0102);
    static const uint8_t e16[2] = {0x02, 0x01};
    assert_memory_equal(b, e16, 2);
    le_put32(b, 0x01020304u);
    static const uint8_t e32[4] = {0x04, 0x03, 0x02, 0x01};
    assert_memory_equal(b, e32, 4);
    le_put64(b, 0x0102030405060708ull);
    static const uint8_t e64[8] = {0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
    assert_memory_equal(b, e64, 8);

    static const uint8_t in[8] = {0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12};
    assert_int_equal(le_get16(in), 0xdef0);
    assert_int_equal(le_get32(in), 0x9abcdef0u);
    assert_true(le_get64(in) == 0x123456789abcdef0ull);
    /* high bits set: no sign extension anywhere */
    static const uint8_t ff[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80};
    assert_int_equal(le_get16(ff), 0xffff);
    assert_int_equal(le_get32(ff), 0xffffffffu);
    assert_true(le_get64(ff) == 0x80ffffffffffffffull);

    /* 1.0 is 0x3ff0000000000000 / 0x3f800000: 00 .. 00 f0 3f / 00 00 80 3f */
    le_put_f64(b, 1.0);
    static const uint8_t one64[8] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    assert_memory_equal(b, one64, 8);
    le_put_f32(b, 1.0f);
    static const uint8_t one32[4] = {0, 0, 0x80, 0x3f};
    assert_memory_equal(b, one32, 4);
    static const uint8_t m2[8] = {0, 0, 0, 0, 0, 0, 0, 0xc0}; /* -2.0 */
    assert_true(le_get_f64(m2) == -2.0);
    assert_true(le_get_f32(m2 + 4) == -2.0f);
}

/* le_putN / le_getN for N = 8 * w bytes, w = 2, 4 or 8 */
static void put_w(uint8_t *p, int w, uint64_t v) {
    if (w == 2) le_put16(p, (uint16_t)v);
    else if (w == 4) le_put32(p, (uint32_t)v);
    else le_put64(p, v);
}
static uint64_t get_w(const uint8_t *p, int w) { return w == 2 ? le_get16(p) : w == 4 ? le_get32(p) : le_get64(p); }

/* Every width at every offset 0..15 of a buffer whose other bytes are a
 * canary: the value (cut to the width) comes back, its bytes are least
 * significant first, and no byte outside the field changes. */
static void test_unaligned_round_trips(void **state) {
    (void)state;
    static const uint64_t vals[] = {0, 1, 0x80, 0xff, 0x8000, 0xdead, 0x80000000u, 0xfedcba98u,
                                    0x0102030405060708ull, 0x8000000000000000ull, UINT64_MAX};
    uint8_t buf[32], ref[32];
    for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
        for (int w = 2; w <= 8; w *= 2) {
            uint64_t v = w == 8 ? vals[k] : vals[k] & ((1ull << (8 * w)) - 1);
            for (size_t off = 0; off < 16; off++) {
                memset(buf, 0xa5, sizeof buf);
                memcpy(ref, buf, sizeof buf);
                put_w(buf + off, w, v);
                assert_true(get_w(buf + off, w) == v);
                for (int i = 0; i < w; i++) ref[off + i] = (uint8_t)(v >> (8 * i));
                assert_memory_equal(buf, ref, sizeof buf);
            }
        }
    }
}

/* The stored bytes are the IEEE-754 bit pattern little-endian, and loading
 * gives back the very same bits (not just an equal value: -0.0 == 0.0 and
 * NaN != NaN, so compare bits). Each row is one value as a double and as a
 * float. No signalling NaNs: passing one by value may quiet it on some ABIs
 * (x87), which is not the helpers' doing. */
static void test_float_bit_patterns(void **state) {
    (void)state;
    static const struct {
        uint64_t d;
        uint32_t f;
    } pats[] = {
        {0x0000000000000000ull, 0x00000000u}, /* +0.0 */
        {0x8000000000000000ull, 0x80000000u}, /* -0.0 */
        {0x7ff0000000000000ull, 0x7f800000u}, /* +inf */
        {0xfff0000000000000ull, 0xff800000u}, /* -inf */
        {0x7ff8000000000000ull, 0x7fc00000u}, /* quiet NaN */
        {0x7ff8000000000001ull, 0x7fc00001u}, /* quiet NaN, payload 1 */
        {0xfff8dead0000beefull, 0xffc0beefu}, /* negative quiet NaN, payload */
        {0x0000000000000001ull, 0x00000001u}, /* smallest subnormal */
        {0x7fefffffffffffffull, 0x7f7fffffu}, /* DBL_MAX, FLT_MAX */
        {0x3fb999999999999aull, 0x3dcccccdu}, /* 0.1 */
    };
    uint8_t buf[24];
    for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++) {
        double d, dback;
        float f, fback;
        memcpy(&d, &pats[k].d, 8);
        memcpy(&f, &pats[k].f, 4);
        for (size_t off = 0; off < 8; off++) {
            le_put_f64(buf + off, d);
            for (int i = 0; i < 8; i++) assert_int_equal(buf[off + i], (uint8_t)(pats[k].d >> (8 * i)));
            assert_true(le_get64(buf + off) == pats[k].d);
            dback = le_get_f64(buf + off);
            assert_memory_equal(&dback, &pats[k].d, 8);

            le_put_f32(buf + off, f);
            for (int i = 0; i < 4; i++) assert_int_equal(buf[off + i], (uint8_t)(pats[k].f >> (8 * i)));
            assert_int_equal(le_get32(buf + off), pats[k].f);
            fback = le_get_f32(buf + off);
            assert_memory_equal(&fback, &pats[k].f, 4);
        }
    }
    /* and the values behave as such once loaded */
    le_put_f64(buf + 1, -0.0);
    assert_true(signbit(le_get_f64(buf + 1)) && le_get_f64(buf + 1) == 0.0);
    le_put_f64(buf + 1, -INFINITY);
    assert_true(isinf(le_get_f64(buf + 1)) && le_get_f64(buf + 1) < 0);
    le_put_f64(buf + 1, NAN);
    assert_true(isnan(le_get_f64(buf + 1)));
    le_put_f32(buf + 3, -0.0f);
    assert_true(signbit(le_get_f32(buf + 3)) && le_get_f32(buf + 3) == 0.0f);
    le_put_f32(buf + 3, INFINITY);
    assert_true(isinf(le_get_f32(buf + 3)) && le_get_f32(buf + 3) > 0);
    le_put_f32(buf + 3, NAN);
    assert_true(isnan(le_get_f32(buf + 3)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_bytes),
        cmocka_unit_test(test_unaligned_round_trips),
        cmocka_unit_test(test_float_bit_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
