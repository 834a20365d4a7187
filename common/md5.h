/* md5.h -- MD5 message digest (RFC 1321).
 *
 * Used where a deterministic, well-known hash of bytes is part of a protocol:
 * the evaluation's `rand` prefix length (../shared/EVALUATION.md) is derived
 * from the MD5 of the normalized query read as one big-endian integer, so the
 * digest must be bit-exact MD5, not "some hash". Not for security.
 *
 * Streaming use: md5_init, md5_update (any number of times, any lengths),
 * md5_final. One-shot: md5(). The context is a plain struct owned by the
 * caller; nothing allocates and nothing can fail.
 */
#ifndef QAC_MD5_H
#define QAC_MD5_H

#include <stddef.h>
#include <stdint.h>

#define MD5_DIGEST_LEN 16

typedef struct md5_ctx {
    uint32_t state[4]; /* A, B, C, D */
    uint64_t bytes;    /* message length so far, in bytes */
    uint8_t buf[64];   /* pending partial block */
} md5_ctx;

void md5_init(md5_ctx *c);
void md5_update(md5_ctx *c, const void *data, size_t len);
/* Writes the 16-byte digest to out; the context must be re-initialized
 * before reuse. */
void md5_final(md5_ctx *c, uint8_t out[MD5_DIGEST_LEN]);
void md5(const void *data, size_t len, uint8_t out[MD5_DIGEST_LEN]);

/* The digest read as one 128-bit big-endian integer, reduced modulo m (m > 0):
 * computes (digest mod m) without 128-bit arithmetic. m = 0 returns 0. */
uint64_t md5_mod(const uint8_t digest[MD5_DIGEST_LEN], uint64_t m);

/* Writes 32 lowercase hex digits and a NUL to hex (33 bytes). */
void md5_hex(const uint8_t digest[MD5_DIGEST_LEN], char hex[2 * MD5_DIGEST_LEN + 1]);

#endif
