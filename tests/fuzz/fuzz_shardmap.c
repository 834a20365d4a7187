/* fuzz_shardmap.c -- libFuzzer harness for the shard map reader
 * (text/shardmap.h: shardmap_parse, shardmap_load, shardmap_write,
 * shardmap_owner, shardmap_first_cp, shardmap_balance).
 *
 * Input: the text of a map file (INDEX.shards), parsed as it is. Checks:
 *   - shardmap_parse fails with a one-line reason, or gives a map that
 *     shardmap_validate accepts;
 *   - shardmap_load of the same bytes (a memfd) answers the same (checked
 *     for every map that parses and one other input in 8);
 *   - round trip: shardmap_write of the map parses back to the same map, and
 *     writing that again gives the same text byte for byte;
 *   - shardmap_owner agrees with a linear scan of the ranges at every
 *     range's ends and at code points taken from the input, and is -1 past
 *     10ffff;
 *   - shardmap_first_cp of the input (and of each line) is a code point
 *     whose UTF-8 encoding is the bytes it read (shortest form, no
 *     surrogate), or -1 when those bytes are not one;
 *   - shardmap_balance over first code points and counts taken from the
 *     input bytes (ascending, 1..200 of them) gives a valid map (index
 *     names added) in which every listed code point's shard is its range's,
 *     owners do not decrease, every shard owns one of them, and each shard's
 *     key count is the sum of its code points' counts; it refuses exactly
 *     when there are fewer code points than shards.
 * Seeds (tests/fuzz/corpus/shardmap) are shardmap_write output of maps from
 * shardmap_balance, and a few hand-written variants (comments, CRLF).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "text/norm.h"
#include "text/shardmap.h"
#include "tests/fuzz/fuzz_util.h"

static shardmap m1, m2, mb;

static void same_map(const shardmap *a, const shardmap *b) {
    fuzz_assert(a->key_form == b->key_form && a->nshards == b->nshards && a->nranges == b->nranges);
    for (unsigned s = 0; s < a->nshards; s++)
        fuzz_assert(!strcmp(a->index[s], b->index[s]) && a->keys[s] == b->keys[s]);
    for (size_t i = 0; i < a->nranges; i++)
        fuzz_assert(a->ranges[i].lo == b->ranges[i].lo && a->ranges[i].hi == b->ranges[i].hi &&
                    a->ranges[i].shard == b->ranges[i].shard);
}

static char *write_map(const shardmap *m, size_t *n) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, n);
    if (!f) fuzz_fail("open_memstream failed");
    fuzz_assert(shardmap_write(f, m) == 0);
    fclose(f);
    return buf;
}

static int owner_scan(const shardmap *m, uint32_t cp) {
    for (size_t i = 0; i < m->nranges; i++)
        if (cp >= m->ranges[i].lo && cp <= m->ranges[i].hi) return (int)m->ranges[i].shard;
    return -1;
}

static void check_owner(const shardmap *m, uint32_t cp) {
    int o = shardmap_owner(m, cp);
    if (o != owner_scan(m, cp)) fuzz_fail("owner of %x: %d, the ranges say %d", cp, o, owner_scan(m, cp));
}

static void one_line_err(int rc, const char *err) {
    if (rc == 0) return;
    fuzz_assert(err[0] && !strchr(err, '\n'));
}

/* The first code point of s[0..n): shardmap_first_cp against an encoder. */
static void check_first_cp(const uint8_t *s, size_t n) {
    uint32_t cp = 0xffffffffu;
    if (shardmap_first_cp((const char *)s, n, &cp) < 0) {
        /* then no code point's shortest encoding starts s */
        if (!n) return;
        size_t want = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
                    : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
        if (!want || want > n) return;
        uint32_t v = want == 1 ? s[0] : (uint32_t)(s[0] & (0x7f >> want));
        for (size_t i = 1; i < want; i++) {
            if ((s[i] & 0xc0) != 0x80) return;
            v = v << 6 | (s[i] & 0x3f);
        }
        static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (v < least[want] || v > SHARDMAP_MAX_CP || (v >= 0xd800 && v <= 0xdfff)) return;
        fuzz_fail("shardmap_first_cp refused a valid code point %x", v);
    }
    fuzz_assert(cp <= SHARDMAP_MAX_CP && !(cp >= 0xd800 && cp <= 0xdfff));
    uint8_t e[4];
    size_t el;
    if (cp < 0x80) e[0] = (uint8_t)cp, el = 1;
    else if (cp < 0x800) e[0] = (uint8_t)(0xc0 | cp >> 6), e[1] = (uint8_t)(0x80 | (cp & 0x3f)), el = 2;
    else if (cp < 0x10000)
        e[0] = (uint8_t)(0xe0 | cp >> 12), e[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f)),
        e[2] = (uint8_t)(0x80 | (cp & 0x3f)), el = 3;
    else
        e[0] = (uint8_t)(0xf0 | cp >> 18), e[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f)),
        e[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f)), e[3] = (uint8_t)(0x80 | (cp & 0x3f)), el = 4;
    if (el > n || memcmp(e, s, el)) fuzz_fail("shardmap_first_cp read %x, not what the bytes encode", cp);
}

/* shardmap_balance over code points and counts from the input. */
static void check_balance(const uint8_t *d, size_t size) {
    if (size < 3) return;
    static uint32_t cps[200];
    static uint64_t counts[200];
    unsigned nshards = 1 + d[0] % SHARDMAP_MAX_SHARDS;
    size_t n = 0;
    uint32_t cp = d[1];
    for (size_t i = 2; i + 1 < size && n < 200; i += 2) {
        cps[n] = cp;
        counts[n] = (uint64_t)d[i + 1] * (d[i] & 1 ? 1000003u : 1u);
        n++;
        uint32_t step = 1 + (uint32_t)d[i] * (d[i] & 0x80 ? 4099u : 1u);
        if (cp + step > SHARDMAP_MAX_CP) break;
        cp += step;
    }
    char err[256];
    err[0] = 0;
    int rc = shardmap_balance(cps, counts, n, nshards, &mb, err, sizeof err);
    if (rc < 0) {
        fuzz_assert(n < nshards && err[0]);
        return;
    }
    fuzz_assert(n >= nshards);
    mb.key_form = NORM_FORM_MATCH;
    for (unsigned s = 0; s < mb.nshards; s++) snprintf(mb.index[s], sizeof mb.index[s], "idx.%u", s);
    if (shardmap_validate(&mb, err, sizeof err)) fuzz_fail("balance gave an invalid map: %s", err);
    uint64_t sum[SHARDMAP_MAX_SHARDS] = {0};
    int prev = 0;
    for (size_t i = 0; i < n; i++) {
        int o = shardmap_owner(&mb, cps[i]);
        fuzz_assert(o >= 0 && o >= prev && o == owner_scan(&mb, cps[i]));
        prev = o;
        sum[o] += counts[i];
    }
    uint64_t has = 0;
    for (size_t i = 0; i < n; i++) has |= (uint64_t)1 << shardmap_owner(&mb, cps[i]);
    for (unsigned s = 0; s < nshards; s++) {
        if (!(has >> s & 1)) fuzz_fail("balance: shard %u of %u owns none of the %zu code points", s, nshards, n);
        if (sum[s] != mb.keys[s]) fuzz_fail("balance: shard %u says %llu keys, its code points have %llu", s,
                                            (unsigned long long)mb.keys[s], (unsigned long long)sum[s]);
    }
    /* and it round-trips through the file */
    size_t tl;
    char *t = write_map(&mb, &tl);
    if (shardmap_parse(t, tl, &m2, err, sizeof err)) fuzz_fail("balanced map does not parse back: %s", err);
    same_map(&mb, &m2);
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > SHARDMAP_MAX_FILE) return 0;
    char *text = fuzz_dup(data, size), err[512], err2[512];
    err[0] = err2[0] = 0;
    int rc = shardmap_parse(text, size, &m1, err, sizeof err);
    one_line_err(rc, err);
    fuzz_assert(rc == 0 || rc == -1);

    /* load: the same answer (a map that parsed, and one input in 8 of the
     * rest: shardmap_load's 1 MB buffer is most of the time of an input) */
    if (rc == 0 || size % 8 == 0) {
        char path[64];
        int fd = fuzz_memfd(data, size, path);
        int lrc = shardmap_load(path, &m2, err2, sizeof err2);
        close(fd);
        if (lrc != rc) fuzz_fail("parse %d (%s), load %d (%s)", rc, err, lrc, err2);
        one_line_err(lrc, err2);
        if (rc == 0) same_map(&m1, &m2);
    }

    check_first_cp(data, size);
    for (size_t i = 0; i + 1 < size; i++)
        if (data[i] == '\n') check_first_cp(data + i + 1, size - i - 1);
    check_balance(data, size);

    if (rc == 0) {
        if (shardmap_validate(&m1, err, sizeof err)) fuzz_fail("parsed map fails validation: %s", err);
        /* owners */
        for (size_t i = 0; i < m1.nranges; i++) {
            check_owner(&m1, m1.ranges[i].lo);
            check_owner(&m1, m1.ranges[i].hi);
        }
        for (size_t i = 0; i + 2 < size; i += 3) check_owner(&m1, ((uint32_t)data[i] << 16 | data[i + 1] << 8 | data[i + 2]) % 0x110000u);
        fuzz_assert(shardmap_owner(&m1, SHARDMAP_MAX_CP + 1) == -1 && shardmap_owner(&m1, UINT32_MAX) == -1);
        /* round trip: parse -> write -> parse is the same map; write is a fixed point */
        size_t l1, l2;
        char *t1 = write_map(&m1, &l1);
        if (shardmap_parse(t1, l1, &m2, err, sizeof err)) fuzz_fail("written map does not parse back: %s", err);
        same_map(&m1, &m2);
        char *t2 = write_map(&m2, &l2);
        fuzz_assert(l1 == l2 && !memcmp(t1, t2, l1));
        free(t1);
        free(t2);
    }
    free(text);
    return 0;
}
