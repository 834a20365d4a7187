/* fuzz_tcodec.c -- libFuzzer harness for the symbol-table codec (trie/tcodec.h).
 *
 * Input: byte 0 (and byte 1 when byte 0 is 0xFF) gives the length L of a
 * serialized table that follows; the rest is a coded string. Checks:
 *   - tc_parse never crashes; on TC_EFORMAT the table is unchanged and the
 *     reason is one non-empty line; on TC_OK *used <= L;
 *   - re-serializing gives the bytes parsed, and parsing those again gives
 *     a table that codes the same;
 *   - tc_decode of the coded string into exact-size heap buffers (ASan sees
 *     any write past cap) with caps 0, 1, 7, 8, 9, d-1, d, d+1, d+8 and a
 *     roomy one agrees with tc_decoded_len d: TC_BAD for malformed input or
 *     cap < d, else d with the same bytes;
 *   - x = decode(coded): tc_encode(x) is exactly the brute-force greedy
 *     longest match (lowest code on ties) and decodes back to x;
 *   - when the input ends in '\n' or a multiple of 16, the whole input split
 *     at '\n' trains a table (twice: same table) and every piece round-trips
 *     through it (training is ~100x slower than the rest under the fuzzer's
 *     instrumentation, so only some inputs train; libFuzzer steers the last
 *     byte freely).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_util.h"
#include "trie/tcodec.h"
#include "tests/tcodec_ref.h"

#define MAXIN 4096


static void roundtrip(const tc_table *t, const uint8_t *x, size_t n, int check_ref) {
    char *xs = fuzz_dup(x, n);
    uint8_t *e = malloc(TC_ENC_MAX(n) + 1), *r = malloc(TC_ENC_MAX(n) + 1);
    char *back = malloc(n ? n : 1);
    if (!e || !r || !back) abort();
    size_t m = tc_encode(t, xs, n, e);
    fuzz_assert(m <= TC_ENC_MAX(n));
    if (check_ref) {
        size_t mr = ref_encode(t, x, n, r);
        if (mr != m || memcmp(e, r, m)) fuzz_fail("tc_encode (%zu bytes) is not the greedy longest match (%zu)", m, mr);
    }
    fuzz_assert(tc_decoded_len(t, e, m) == n);
    fuzz_assert(tc_decode(t, e, m, back, n) == n);
    fuzz_assert(memcmp(back, x, n) == 0);
    free(xs), free(e), free(r), free(back);
}

/* Trains on the input split at '\n' (twice: the same table) and round-trips
 * every piece. */
static void train(const uint8_t *data, size_t size) {
    if (data[size - 1] != '\n' && data[size - 1] % 16) return;
    static tc_table t, u;
    static const char *s[MAXIN + 1];
    static uint32_t len[MAXIN + 1];
    size_t ns = 0, start = 0;
    for (size_t i = 0; i <= size; i++)
        if (i == size || data[i] == '\n') {
            s[ns] = (const char *)data + start, len[ns++] = (uint32_t)(i - start);
            start = i + 1;
        }
    fuzz_assert(tc_train(&t, s, len, ns) == TC_OK);
    fuzz_assert(tc_train(&u, s, len, ns) == TC_OK);
    uint8_t s1[TC_SERIAL_MAX], s2[TC_SERIAL_MAX];
    size_t sn = tc_serialize(&t, s1);
    fuzz_assert(tc_serialize(&u, s2) == sn && memcmp(s1, s2, sn) == 0);
    for (size_t i = 0; i < ns; i++) roundtrip(&t, (const uint8_t *)s[i], len[i], i < 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > MAXIN) return 0;
    size_t hdr = 1, tl = data[0];
    if (tl == 0xFF && size >= 2) hdr = 2, tl = 0xFF + (size_t)data[1] * 8;
    if (tl > size - hdr) tl = size - hdr;
    const uint8_t *tab = data + hdr, *cs = tab + tl;
    size_t cn = size - hdr - tl;

    static tc_table t, before, u;
    tc_identity(&t);
    before = t;
    uint8_t *tcopy = (uint8_t *)fuzz_dup(tab, tl);
    size_t used = 0;
    char err[160] = "";
    int rc = tc_parse(&t, tcopy, tl, &used, err, sizeof err);
    if (rc != TC_OK) {
        fuzz_assert(rc == TC_EFORMAT);
        fuzz_assert(memcmp(&t, &before, sizeof t) == 0);
        fuzz_assert(err[0] != 0 && strchr(err, '\n') == NULL);
        free(tcopy);
        train(data, size);
        return 0;
    }
    fuzz_assert(used <= tl);
    fuzz_assert(tc_nsym(&t) <= TC_MAX_SYMS);

    /* re-serialize + parse */
    uint8_t ser[TC_SERIAL_MAX];
    size_t sn = tc_serialize(&t, ser);
    fuzz_assert(sn == used && sn == tc_serial_size(&t) && memcmp(ser, tcopy, sn) == 0);
    size_t used2 = 0;
    fuzz_assert(tc_parse(&u, ser, sn, &used2, NULL, 0) == TC_OK && used2 == sn);
    free(tcopy);

    /* decode with several caps */
    uint8_t *ccopy = (uint8_t *)fuzz_dup(cs, cn);
    size_t d = tc_decoded_len(&t, ccopy, cn);
    size_t room = cn * TC_SYM_MAX + 16;
    char *full = malloc(room);
    if (!full) abort();
    size_t fr = tc_decode(&t, ccopy, cn, full, room);
    fuzz_assert(fr == d);
    size_t caps[] = {0, 1, 7, 8, 9, d - 1, d, d + 1, d + 8};
    for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) {
        size_t cap = caps[i];
        if (cap > room) continue; /* d == TC_BAD: d - 1 etc. */
        char *out = malloc(cap ? cap : 1);
        if (!out) abort();
        size_t r = tc_decode(&t, ccopy, cn, out, cap);
        if (d == TC_BAD || cap < d) fuzz_assert(r == TC_BAD);
        else fuzz_assert(r == d && memcmp(out, full, d) == 0);
        free(out);
    }
    free(ccopy);
    if (d != TC_BAD) {
        roundtrip(&t, (const uint8_t *)full, d, 1);
        roundtrip(&u, (const uint8_t *)full, d, 0);
    }
    free(full);

    train(data, size);
    return 0;
}
