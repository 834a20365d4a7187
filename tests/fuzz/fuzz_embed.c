/* fuzz_embed.c -- libFuzzer harness for the EMB file loader (rank_emb_load,
 * ranking/embed.h).
 *
 * Input: an EMB file. A file of at least 40 bytes gets its trailing FNV-1a 64
 * checksum (the last 8 bytes, over every byte before them) recomputed before
 * loading, with the loader's own rank_emb_hash (public in ranking/embed.h),
 * so that mutations reach the header, table and query-list parsers instead
 * of stopping at "checksum mismatch" (that path is one comparison, covered
 * by the unit tests).
 *
 * The file is written to a memfd and loaded by its /proc/self/fd path.
 * Checks: failure returns a negative RANK_EMB_E* code, leaves *out untouched
 * and says why in err; success gives a table whose header fields are in
 * range, whose scales are finite and >= 0, whose query list has nqueries
 * entries of 1..RANK_EMB_MAX_QUERY bytes lying inside the text; composing
 * any query (the listed ones and a slice of the input) gives a unit vector
 * or all zeros, never NaN; and rank_emb_save writes back exactly the bytes
 * that were loaded (the format has no free bits: a sound file round-trips
 * byte for byte). Seeds (tests/fuzz/corpus/embed) are `qac embed --dims 8`
 * output on data/demo/excite97.tsv (1024 buckets) and its first 60 lines
 * (16 buckets).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/endian.h"
#include "ranking/embed.h"
#include "tests/fuzz/fuzz_util.h"

static char dir[64];
static void cleanup(void) {
    char p[128];
    snprintf(p, sizeof p, "%s/e", dir);
    unlink(p);
    rmdir(dir);
}

static void check_vector(const rank_emb *e, const float *v, int nonzero) {
    double s = 0;
    for (uint32_t i = 0; i < e->dims; i++) {
        if (!isfinite(v[i])) fuzz_fail("component %u of a composed vector is not finite", i);
        s += (double)v[i] * v[i];
    }
    if (nonzero) {
        if (fabs(s - 1.0) > 1e-3) fuzz_fail("composed vector has squared norm %g, not 1", s);
    } else if (s != 0) {
        fuzz_fail("vector reported all zero has squared norm %g", s);
    }
}

static uint8_t *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) fuzz_fail("cannot reopen %s", path);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(sz > 0 ? (size_t)sz : 1);
    if (!b || fread(b, 1, (size_t)sz, f) != (size_t)sz) fuzz_fail("cannot read back %s", path);
    fclose(f);
    *n = (size_t)sz;
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        fuzz_mkdtemp(dir, sizeof dir, "qacfuzz");
        atexit(cleanup);
    }
    uint8_t *f = (uint8_t *)fuzz_dup(data, size);
    if (size >= 40) {
        le_put64(f + size - 8, rank_emb_hash(f, size - 8, RANK_EMB_FNV_INIT));
    }
    char path[64], err[512];
    int fd = fuzz_memfd(f, size, path);
    rank_emb *e = (rank_emb *)1;
    err[0] = 0;
    int rc = rank_emb_load(path, &e, err, sizeof err);
    close(fd);
    if (rc != RANK_EMB_OK) {
        fuzz_assert(rc < 0 && e == (rank_emb *)1 && err[0]);
        fuzz_assert(rank_emb_strerror(rc) != NULL);
        free(f);
        return 0;
    }
    fuzz_assert(e != NULL && e != (rank_emb *)1);
    fuzz_assert(e->dims >= RANK_EMB_MIN_DIMS && e->dims <= RANK_EMB_MAX_DIMS);
    fuzz_assert(e->buckets >= 1 && e->buckets <= RANK_EMB_MAX_BUCKETS);
    fuzz_assert(size == 32 + (size_t)e->buckets * (4 + e->dims) + 2 * (size_t)e->nqueries +
                            (e->nqueries ? e->qoff[e->nqueries] : 0) + 8);
    for (uint32_t b = 0; b < e->buckets; b++) fuzz_assert(isfinite(e->scale[b]) && e->scale[b] >= 0);

    float v[RANK_EMB_MAX_DIMS];
    unsigned char row[4 + RANK_EMB_MAX_DIMS];
    for (uint32_t i = 0; i < e->nqueries; i++) {
        size_t len = 0;
        const char *q = rank_emb_query_at(e, i, &len);
        fuzz_assert(q != NULL && len >= 1 && len <= RANK_EMB_MAX_QUERY);
        fuzz_assert(q >= e->qtext && q + len <= e->qtext + e->qoff[e->nqueries]);
        if (i < 64) check_vector(e, v, rank_emb_vector(e, q, len, v));
    }
    /* a query the file does not list: a slice of the input */
    size_t ql = size < 40 ? size : 40;
    check_vector(e, v, rank_emb_vector(e, (const char *)data, ql, v));
    /* rows: the format the server reads from Redis */
    for (uint32_t b = 0; b < e->buckets && b < 64; b++) {
        rank_emb_row(e, b, row);
        const unsigned char *rows[1] = {row};
        float w[RANK_EMB_MAX_DIMS];
        uint32_t id = b;
        int nz1 = rank_emb_compose_rows(e->dims, rows, 1, v);
        int nz2 = rank_emb_compose(e, &id, 1, w);
        check_vector(e, v, nz1);
        check_vector(e, w, nz2);
        fuzz_assert(nz1 == nz2);
    }

    char sp[128];
    snprintf(sp, sizeof sp, "%s/e", dir);
    if (rank_emb_save(e, sp, err, sizeof err) != RANK_EMB_OK) fuzz_fail("rank_emb_save of a loaded table failed: %s", err);
    size_t n2;
    uint8_t *g = read_file(sp, &n2);
    if (n2 != size || memcmp(g, f, size) != 0) fuzz_fail("save after load is not byte-identical (%zu vs %zu bytes)", n2, size);
    free(g);
    rank_emb_free(e);
    free(f);
    return 0;
}
