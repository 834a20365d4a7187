/* md5.c -- md5() on nettle's MD5, and md5_mod (see md5.h). */
#include "common/md5.h"

#include <nettle/md5.h>

_Static_assert(MD5_DIGEST_LEN == MD5_DIGEST_SIZE, "nettle's MD5 digest size");

void md5(const void *data, size_t len, uint8_t out[MD5_DIGEST_LEN]) {
    struct md5_ctx c;
    md5_init(&c);
    md5_update(&c, len, data);
    md5_digest(&c, MD5_DIGEST_LEN, out);
}

uint64_t md5_mod(const uint8_t digest[MD5_DIGEST_LEN], uint64_t m) {
    if (m == 0) return 0;
    /* Horner's rule one byte at a time; r < m < 2^64, so r * 256 + byte
     * needs 72 bits: gcc's unsigned __int128 holds it. */
    unsigned __int128 r = 0;
    for (int i = 0; i < MD5_DIGEST_LEN; i++) r = ((r << 8) | digest[i]) % m;
    return (uint64_t)r;
}
