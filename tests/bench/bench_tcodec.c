/* bench_tcodec -- compression ratio and speed of the symbol-table codec
 * (trie/tcodec.h) on a file of strings.
 *
 *   bench_tcodec FILE [COL]
 *
 * FILE holds one string per line; with COL, lines are tab-separated and
 * column COL (0-based, default 0) is the string. Every k-th string (k chosen
 * so the training sample is about TC_TRAIN_SAMPLE_BYTES, and k >= 2 so
 * something is held out) trains the table; the ratio is reported on the
 * held-out strings (the others) and on all strings. Every string is then
 * encoded (timed, 3 passes, best reported), decoded (timed the same way,
 * into a buffer with cap = TRIE-like 1024 bytes) and checked to round-trip.
 * Output: one `name value unit` line per figure, like bench_trie.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "trie/tcodec.h"

#define PASSES 3
#define DEC_CAP 1024

typedef struct strs {
    char *buf;
    size_t *off;
    uint32_t *len;
    size_t n, bytes;
} strs;

static int read_col(const char *path, long col, strs *v) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_tcodec: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    qbuf b;
    qbuf_init(&b);
    size_t cap = 0, lcap = 0;
    char *line = NULL;
    ssize_t l;
    memset(v, 0, sizeof *v);
    while ((l = getline(&line, &lcap, f)) > 0) {
        if (line[l - 1] == '\n') l--;
        char *p = line, *e = line + l;
        for (long c = 0; c < col && p; c++) {
            p = memchr(p, '\t', (size_t)(e - p));
            if (p) p++;
        }
        if (!p) continue;
        char *tab = memchr(p, '\t', (size_t)(e - p));
        if (tab) e = tab;
        if (v->n == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            v->off = realloc(v->off, cap * sizeof *v->off);
            v->len = realloc(v->len, cap * sizeof *v->len);
            if (!v->off || !v->len) abort();
        }
        v->off[v->n] = b.len;
        v->len[v->n++] = (uint32_t)(e - p);
        if (qbuf_append(&b, p, (size_t)(e - p))) abort();
    }
    free(line);
    fclose(f);
    v->buf = b.data;
    v->bytes = b.len;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3 || argv[1][0] == '-') {
        fprintf(stderr, "usage: bench_tcodec FILE [COL]\n");
        return 2;
    }
    long col = 0;
    if (argc == 3) {
        int64_t c;
        if (qparse_i64(argv[2], strlen(argv[2]), &c) || c < 0 || c > 1000) {
            fprintf(stderr, "bench_tcodec: COL must be a column number 0..1000\n");
            return 2;
        }
        col = (long)c;
    }
    strs v;
    if (read_col(argv[1], col, &v)) return 1;
    if (!v.n || !v.bytes) {
        fprintf(stderr, "bench_tcodec: %s: no strings\n", argv[1]);
        return 1;
    }
    size_t k = (size_t)(v.bytes / TC_TRAIN_SAMPLE_BYTES);
    if (k < 2) k = 2;
    size_t ns = (v.n + k - 1) / k;
    const char **sp = malloc(ns * sizeof *sp);
    uint32_t *sl = malloc(ns * sizeof *sl);
    if (!sp || !sl) abort();
    size_t sbytes = 0;
    for (size_t i = 0, j = 0; i < v.n; i += k, j++) {
        sp[j] = v.buf + v.off[i];
        sl[j] = v.len[i];
        sbytes += v.len[i];
    }
    static tc_table t;
    uint64_t best = UINT64_MAX;
    for (int pass = 0; pass < PASSES; pass++) {
        uint64_t t0 = qtime_ns();
        if (tc_train(&t, sp, sl, ns) != TC_OK) {
            fprintf(stderr, "bench_tcodec: tc_train failed\n");
            return 1;
        }
        uint64_t d = qtime_ns() - t0;
        if (d < best) best = d;
    }
    printf("strings %zu count\n", v.n);
    printf("bytes %zu B\n", v.bytes);
    printf("mean_len %.1f B\n", (double)v.bytes / (double)v.n);
    printf("train_strings %zu count\n", ns);
    printf("train_bytes %zu B\n", sbytes);
    printf("train %.1f ms\n", (double)best / 1e6);
    printf("symbols %u count\n", tc_nsym(&t));

    /* encode everything into one buffer (timed) */
    uint8_t *code = malloc(TC_ENC_MAX(v.bytes) + 1);
    size_t *coff = malloc((v.n + 1) * sizeof *coff);
    if (!code || !coff) abort();
    best = UINT64_MAX;
    for (int pass = 0; pass < PASSES; pass++) {
        uint64_t t0 = qtime_ns();
        size_t o = 0;
        for (size_t i = 0; i < v.n; i++) {
            coff[i] = o;
            o += tc_encode(&t, v.buf + v.off[i], v.len[i], code + o);
        }
        coff[v.n] = o;
        uint64_t d = qtime_ns() - t0;
        if (d < best) best = d;
    }
    size_t held = 0, held_c = 0;
    for (size_t i = 0; i < v.n; i++)
        if (i % k) held += v.len[i], held_c += coff[i + 1] - coff[i];
    printf("coded_bytes %zu B\n", coff[v.n]);
    printf("ratio_heldout %.3f ratio\n", held_c ? (double)held / (double)held_c : 0.0);
    printf("ratio_all %.3f ratio\n", (double)v.bytes / (double)coff[v.n]);
    printf("encode %.0f MB/s\n", (double)v.bytes / ((double)best / 1e9) / 1e6);
    printf("encode_per_string %.1f ns\n", (double)best / (double)v.n);

    /* decode everything (timed), then check the round trip */
    static char out[DEC_CAP];
    uint64_t sum = 0;
    best = UINT64_MAX;
    for (int pass = 0; pass < PASSES; pass++) {
        uint64_t t0 = qtime_ns();
        for (size_t i = 0; i < v.n; i++) {
            size_t r = tc_decode(&t, code + coff[i], coff[i + 1] - coff[i], out, sizeof out);
            sum += r + (uint8_t)out[0];
        }
        uint64_t d = qtime_ns() - t0;
        if (d < best) best = d;
    }
    printf("decode %.0f MB/s\n", (double)v.bytes / ((double)best / 1e9) / 1e6);
    printf("decode_per_string %.1f ns\n", (double)best / (double)v.n);
    size_t bad = 0;
    for (size_t i = 0; i < v.n; i++) {
        size_t r = tc_decode(&t, code + coff[i], coff[i + 1] - coff[i], out, sizeof out);
        if (v.len[i] <= DEC_CAP && (r != v.len[i] || memcmp(out, v.buf + v.off[i], r))) bad++;
        if (tc_decoded_len(&t, code + coff[i], coff[i + 1] - coff[i]) != v.len[i]) bad++;
    }
    printf("roundtrip_errors %zu count\n", bad);
    printf("# checksum %llu\n", (unsigned long long)sum);
    free(code);
    free(coff);
    free(sp);
    free(sl);
    free(v.buf);
    free(v.off);
    free(v.len);
    return bad ? 1 : 0;
}
