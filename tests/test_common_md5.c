/* Tests for common/md5 (md5() is nettle's MD5): the RFC 1321 appendix A.5
 * test suite, nettle's streaming API fed odd-sized pieces equals md5(),
 * padding edge lengths (55, 56, 63, 64 bytes) against known digests, and
 * md5_mod against a hand reduction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <nettle/md5.h>
#include <string.h>

#include "common/md5.h"

static void hex_of(const char *s, size_t len, char hex[33]) {
    static const char x[] = "0123456789abcdef";
    uint8_t d[MD5_DIGEST_LEN];
    md5(s, len, d);
    for (int i = 0; i < MD5_DIGEST_LEN; i++) {
        hex[2 * i] = x[d[i] >> 4];
        hex[2 * i + 1] = x[d[i] & 15];
    }
    hex[2 * MD5_DIGEST_LEN] = 0;
}

static void test_rfc1321_suite(void **state) {
    (void)state;
    static const struct {
        const char *in, *hex;
    } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    char hex[33];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        hex_of(v[i].in, strlen(v[i].in), hex);
        assert_string_equal(hex, v[i].hex);
    }
}

/* Lengths around the padding boundary, digests from coreutils md5sum of
 * that many 'a' bytes (head -c N /dev/zero | tr '\\0' a | md5sum). */
static void test_padding_boundaries(void **state) {
    (void)state;
    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {55, "ef1772b6dff9a122358552954ad0df65"},
        {56, "3b0c8ac703f828b04c6c197006d17218"},
        {63, "b06521f39153d618550606be297466d5"},
        {64, "014842d480b571495a4a0363793f7367"},
        {65, "c743a45e0d2e6a95cb859adae0248435"},
    };
    char buf[80], hex[33];
    memset(buf, 'a', sizeof buf);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        hex_of(buf, v[i].n, hex);
        assert_string_equal(hex, v[i].hex);
    }
}

static void test_streaming_equals_oneshot(void **state) {
    (void)state;
    char data[1000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i * 7 + 3);
    uint8_t one[16], two[16];
    for (size_t len = 0; len <= sizeof data; len += 37) {
        md5(data, len, one);
        for (size_t step = 1; step <= 130; step += 13) {
            struct md5_ctx c;
            md5_init(&c);
            for (size_t off = 0; off < len; off += step)
                md5_update(&c, off + step <= len ? step : len - off, (const uint8_t *)data + off);
            md5_digest(&c, sizeof two, two);
            assert_memory_equal(one, two, 16);
        }
    }
}

static void test_mod(void **state) {
    (void)state;
    uint8_t d[16];
    md5("abc", 3, d); /* 0x900150983cd24fb0d6963f7d28e17f72 */
    assert_true(md5_mod(d, 1) == 0);
    assert_true(md5_mod(d, 2) == 0);           /* ends in 0x72: even */
    assert_true(md5_mod(d, 256) == 0x72);      /* last byte */
    assert_true(md5_mod(d, 65536) == 0x7f72);  /* last two bytes */
    /* 0x900150983cd24fb0d6963f7d28e17f72 mod 1000003 = 577950 (python3 -c
     * 'print(0x900150983cd24fb0d6963f7d28e17f72 % 1000003)') */
    assert_true(md5_mod(d, 1000003) == 577950);
    assert_true(md5_mod(d, UINT64_MAX) == 7392535734926954275ull); /* same python check */
    assert_true(md5_mod(d, 0) == 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc1321_suite),
        cmocka_unit_test(test_padding_boundaries),
        cmocka_unit_test(test_streaming_equals_oneshot),
        cmocka_unit_test(test_mod),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
