/* md5.h -- MD5 message digest (RFC 1321), from nettle (libnettle,
 * <nettle/md5.h>), and the digest read as a number.
 *
 * Used where a deterministic, well-known hash of bytes is part of a protocol:
 * the evaluation's `rand` prefix length (../shared/EVALUATION.md) is derived
 * from the MD5 of the normalized query read as one big-endian integer, so the
 * digest must be bit-exact MD5, not "some hash". Not for security.
 *
 * A thin wrapper: md5() is nettle's md5_init/md5_update/md5_digest in one
 * call (callers need no nettle header; code that wants to stream uses
 * nettle's API directly), md5_mod() is the one thing nettle does not do.
 * Nothing allocates and nothing can fail.
 */
#ifndef QAC_MD5_H
#define QAC_MD5_H

#include <stddef.h>
#include <stdint.h>

#define MD5_DIGEST_LEN 16

/* The 16-byte digest of data[0, len). */
void md5(const void *data, size_t len, uint8_t out[MD5_DIGEST_LEN]);

/* The digest read as one 128-bit big-endian integer, reduced modulo m (m > 0):
 * computes (digest mod m) without 128-bit arithmetic. m = 0 returns 0. */
uint64_t md5_mod(const uint8_t digest[MD5_DIGEST_LEN], uint64_t m);

#endif
