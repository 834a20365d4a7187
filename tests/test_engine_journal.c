/* Unit tests for engine/store/journal.c: CRC32C, record format round trip, torn
 * tails (every cut point), a corrupt middle (refused, then repaired), zero
 * fill, headers, recovery of several generations from files, idempotent
 * replay, the writer (rotate, remove_before) and a failing write
 * (RLIMIT_FSIZE: the partial record is truncated away, the batch kept, and
 * the next write after the limit is lifted succeeds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/util.h"
#include "engine/store/journal.h"
#include "trie/trie.h"
#include "tests/helpers.h"

static char dir[256];

static void mkbase(char *base, size_t cap, const char *name) {
    snprintf(base, cap, "%s/%s", dir, name);
}

static void test_crc(void **state) {
    (void)state;
    assert_int_equal(jrn_crc32c(0, "123456789", 9), 0xE3069283u);
    /* streaming equals one shot */
    uint32_t c = jrn_crc32c(0, "1234", 4);
    assert_int_equal(jrn_crc32c(c, "56789", 5), 0xE3069283u);
    assert_int_equal(jrn_crc32c_portable(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(jrn_crc32c(0, "", 0), 0);
}

/* The dispatched CRC (the crc32 instruction where the CPU has SSE4.2) equals
 * the bytewise table at every length 0..300 and every alignment 0..7, and
 * when streamed in random pieces. */
static void test_crc_impls_agree(void **state) {
    (void)state;
    unsigned char buf[320];
    uint64_t x = 0x243F6A8885A308D3ull;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len + off <= 308; len++)
            assert_int_equal(jrn_crc32c(7, buf + off, len), jrn_crc32c_portable(7, buf + off, len));
    for (int r = 0; r < 200; r++) {
        uint32_t a = 0;
        size_t pos = 0;
        while (pos < sizeof buf) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t n = (size_t)(x % 23);
            if (n > sizeof buf - pos) n = sizeof buf - pos;
            a = jrn_crc32c(a, buf + pos, n);
            pos += n;
        }
        assert_int_equal(a, jrn_crc32c_portable(0, buf, sizeof buf));
    }
}

/* header + 3 records: SET a, SET bb (display), DEL a */
static void sample(qbuf *b, size_t *offs) {
    qbuf_init(b);
    assert_int_equal(jrn_encode_header(b, 7), 0);
    offs[0] = b->len;
    assert_int_equal(jrn_encode(b, JRN_OP_SET, "a", 1, "A", 1, 3.5), 0);
    offs[1] = b->len;
    assert_int_equal(jrn_encode(b, JRN_OP_SET, "bb", 2, "B b", 3, -2), 0);
    offs[2] = b->len;
    assert_int_equal(jrn_encode(b, JRN_OP_DEL, "a", 1, NULL, 0, 0), 0);
    offs[3] = b->len;
}

typedef struct seen {
    int n;
    jrn_rec r[8];
} seen;

static int collect(void *ud, const jrn_rec *r) {
    seen *s = ud;
    if (s->n < 8) s->r[s->n] = *r;
    s->n++;
    return 0;
}

static void test_roundtrip(void **state) {
    (void)state;
    qbuf b;
    size_t o[4];
    sample(&b, o);
    uint64_t gen;
    const char *why;
    assert_int_equal(jrn_check_header(b.data, b.len, &gen, &why), 0);
    assert_int_equal(gen, 7);
    seen s = {0};
    jrn_scan_result res;
    jrn_scan(b.data, b.len, JRN_HEADER_SIZE, collect, &s, &res);
    assert_int_equal(res.status, JRN_SCAN_OK);
    assert_int_equal(res.records, 3);
    assert_int_equal(res.good_end, b.len);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.r[0].op, JRN_OP_SET);
    assert_memory_equal(s.r[0].key, "a", 1);
    assert_memory_equal(s.r[0].disp, "A", 1);
    assert_true(s.r[0].score == 3.5);
    assert_int_equal(s.r[1].klen, 2);
    assert_int_equal(s.r[1].dlen, 3);
    assert_true(s.r[1].score == -2);
    assert_int_equal(s.r[2].op, JRN_OP_DEL);
    assert_int_equal(s.r[2].dlen, 0);
    /* bad arguments are refused, nothing appended */
    size_t len = b.len;
    assert_int_equal(jrn_encode(&b, JRN_OP_SET, "", 0, "x", 1, 1), -1);
    assert_int_equal(jrn_encode(&b, JRN_OP_SET, "x", 1, NULL, 0, 1), -1);
    assert_int_equal(jrn_encode(&b, JRN_OP_SET, "x", 1, "x", 1, 1.0 / 0.0), -1);
    assert_int_equal(jrn_encode(&b, 9, "x", 1, "x", 1, 1), -1);
    char big[TRIE_MAX_KEY + 1];
    memset(big, 'k', sizeof big);
    assert_int_equal(jrn_encode(&b, JRN_OP_DEL, big, sizeof big, NULL, 0, 0), -1);
    assert_int_equal(jrn_encode(&b, JRN_OP_SET, big, TRIE_MAX_KEY, big, TRIE_MAX_KEY, 1), 0);
    assert_int_equal(b.len - len, JRN_REC_HEADER + JRN_MAX_SET_PAYLOAD);
    /* the largest record of all is a DSET with every field at its ceiling */
    len = b.len;
    static char name[JRN_MAX_NAME + 1], data[JRN_MAX_DATA + 1];
    memset(name, 'n', sizeof name);
    memset(data, 'p', sizeof data);
    assert_int_equal(jrn_encode_dict(&b, JRN_OP_DSET, name, JRN_MAX_NAME + 1, "k", 1, "k", 1, NULL, 0, 1), -1);
    assert_int_equal(jrn_encode_dict(&b, JRN_OP_DSET, name, 1, "k", 1, "k", 1, data, JRN_MAX_DATA + 1, 1), -1);
    assert_int_equal(jrn_encode_dict(&b, JRN_OP_DSET, name, 0, "k", 1, "k", 1, NULL, 0, 1), -1);
    assert_int_equal(jrn_encode_dict(&b, JRN_OP_SET, name, 1, "k", 1, "k", 1, NULL, 0, 1), -1);
    assert_int_equal(b.len, len);
    assert_int_equal(jrn_encode_dict(&b, JRN_OP_DSET, name, JRN_MAX_NAME, big, TRIE_MAX_KEY, big, TRIE_MAX_KEY, data,
                                     JRN_MAX_DATA, 1),
                     0);
    assert_int_equal(b.len - len, JRN_MAX_RECORD);
    qbuf_free(&b);
}

static void test_torn_every_cut(void **state) {
    (void)state;
    qbuf b;
    size_t o[4];
    sample(&b, o);
    for (size_t cut = o[2] + 1; cut < o[3]; cut++) {
        jrn_scan_result res;
        jrn_scan(b.data, cut, JRN_HEADER_SIZE, NULL, NULL, &res);
        assert_int_equal(res.status, JRN_SCAN_TORN);
        assert_int_equal(res.good_end, o[2]);
        assert_int_equal(res.records, 2);
    }
    /* last record complete in length but its bytes garbled: still the tail */
    b.data[o[3] - 1] ^= 0x55;
    jrn_scan_result res;
    jrn_scan(b.data, b.len, JRN_HEADER_SIZE, NULL, NULL, &res);
    assert_int_equal(res.status, JRN_SCAN_TORN);
    assert_int_equal(res.good_end, o[2]);
    b.data[o[3] - 1] ^= 0x55;
    /* zero fill after the records (a crash after the size grew) */
    char z[64] = {0};
    assert_int_equal(qbuf_append(&b, z, sizeof z), 0);
    jrn_scan(b.data, b.len, JRN_HEADER_SIZE, NULL, NULL, &res);
    assert_int_equal(res.status, JRN_SCAN_TORN);
    assert_int_equal(res.good_end, o[3]);
    assert_int_equal(res.records, 3);
    qbuf_free(&b);
}

static void test_corrupt_middle(void **state) {
    (void)state;
    qbuf b;
    size_t o[4];
    sample(&b, o);
    b.data[o[0] + 10] ^= 1; /* payload of the first record */
    jrn_scan_result res;
    jrn_scan(b.data, b.len, JRN_HEADER_SIZE, NULL, NULL, &res);
    assert_int_equal(res.status, JRN_SCAN_CORRUPT);
    assert_int_equal(res.good_end, o[0]);
    assert_int_equal(res.records, 0);
    assert_int_equal(res.salvage, 2);
    assert_string_equal(res.reason, "record checksum mismatch");
    b.data[o[0] + 10] ^= 1;
    /* a length out of range in the middle */
    b.data[o[1] + 3] = 0x7f;
    jrn_scan(b.data, b.len, JRN_HEADER_SIZE, NULL, NULL, &res);
    assert_int_equal(res.status, JRN_SCAN_CORRUPT);
    assert_int_equal(res.good_end, o[1]);
    assert_int_equal(res.records, 1);
    qbuf_free(&b);
}

static void test_header(void **state) {
    (void)state;
    qbuf b;
    qbuf_init(&b);
    jrn_encode_header(&b, 3);
    uint64_t g;
    const char *why;
    assert_int_equal(jrn_check_header(b.data, 31, &g, &why), -1);
    b.data[20] ^= 1;
    assert_int_equal(jrn_check_header(b.data, b.len, &g, &why), -1);
    assert_string_equal(why, "header checksum mismatch");
    b.data[0] = 'X';
    assert_int_equal(jrn_check_header(b.data, b.len, &g, &why), -1);
    assert_string_equal(why, "bad magic: not a qac journal");
    qbuf_free(&b);
}

static double score_of(trie *t, const char *k) {
    trie_hit h;
    if (!trie_get(t, k, strlen(k), &h)) return -999;
    return h.score;
}

/* --- recovery of journal files: one case per test, each under its own base
 * (the fixture: paths of generations 1 and 2, an empty trie, the result) */

typedef struct recfix {
    char base[300], p1[320], p2[320], err[512];
    trie *t;
    jrn_recovery r;
} recfix;

static int rec_setup(void **state) {
    static recfix f;
    static int n;
    char name[32];
    snprintf(name, sizeof name, "rec%d", ++n);
    mkbase(f.base, sizeof f.base, name);
    jrn_path(f.p1, sizeof f.p1, f.base, 1);
    jrn_path(f.p2, sizeof f.p2, f.base, 2);
    f.t = trie_new();
    *state = &f;
    return f.t ? 0 : -1;
}

static int rec_teardown(void **state) {
    recfix *f = *state;
    trie_free(f->t);
    unlink(f->p1);
    unlink(f->p2);
    return 0;
}

static int recover(recfix *f, int repair) { return jrn_recover(f->base, f->t, repair, &f->r, f->err, sizeof f->err); }

/* Generation 1: x = 1 (display X), y = 2, and w = 3 when with_w; corrupt
 * flips a byte inside the y record, which starts at *second. Returns the
 * file's length. */
static size_t write_gen1(const recfix *f, int with_w, int corrupt, size_t *second) {
    qbuf b;
    qbuf_init(&b);
    jrn_encode_header(&b, 1);
    jrn_encode(&b, JRN_OP_SET, "x", 1, "X", 1, 1);
    size_t y = b.len;
    jrn_encode(&b, JRN_OP_SET, "y", 1, "y", 1, 2);
    if (with_w) jrn_encode(&b, JRN_OP_SET, "w", 1, "w", 1, 3);
    if (corrupt) b.data[y + 12] ^= 0x40;
    write_file(f->p1, b.data, b.len);
    if (second) *second = y;
    size_t len = b.len;
    qbuf_free(&b);
    return len;
}

/* Generation 2: x = 5, y deleted, and when torn a record z = 9 cut 3 bytes
 * short. Returns the length of its complete records. */
static size_t write_gen2(const recfix *f, int torn) {
    qbuf b;
    qbuf_init(&b);
    jrn_encode_header(&b, 2);
    jrn_encode(&b, JRN_OP_SET, "x", 1, "X", 1, 5);
    jrn_encode(&b, JRN_OP_DEL, "y", 1, NULL, 0, 0);
    size_t good = b.len;
    if (torn) jrn_encode(&b, JRN_OP_SET, "z", 1, "z", 1, 9);
    write_file(f->p2, b.data, torn ? b.len - 3 : b.len);
    qbuf_free(&b);
    return good;
}

/* A torn last record is cut; everything before it is replayed in order. */
static void test_recover_torn_tail(void **state) {
    recfix *f = *state;
    write_gen1(f, 0, 0, NULL);
    size_t good = write_gen2(f, 1);
    assert_int_equal(recover(f, 0), 0);
    assert_int_equal(f->r.files, 2);
    assert_int_equal(f->r.records, 4);
    assert_int_equal(f->r.last_gen, 2);
    assert_true(score_of(f->t, "x") == 5);
    assert_true(score_of(f->t, "y") == -999);
    assert_true(score_of(f->t, "z") == -999);
    assert_int_equal(file_size(f->p2), (long)good); /* torn tail cut */
    assert_true(f->r.torn_cut > 0);
}

/* Replaying again over the result changes nothing. */
static void test_recover_idempotent(void **state) {
    recfix *f = *state;
    write_gen1(f, 0, 0, NULL);
    write_gen2(f, 1);
    assert_int_equal(recover(f, 0), 0);
    assert_int_equal(recover(f, 0), 0);
    assert_int_equal(f->r.torn_cut, 0);
    assert_true(score_of(f->t, "x") == 5);
    assert_int_equal(trie_count(f->t), 1);
}

/* A corrupt record in the middle of generation 1: refused, naming the
 * offset and --journal-repair, the file untouched. */
static void test_recover_corrupt_middle_refused(void **state) {
    recfix *f = *state;
    size_t second;
    size_t len = write_gen1(f, 1, 1, &second);
    write_gen2(f, 0);
    assert_int_equal(recover(f, 0), -1);
    char want[64];
    snprintf(want, sizeof want, "corrupt record at byte %zu", second);
    assert_non_null(strstr(f->err, want));
    assert_non_null(strstr(f->err, "--journal-repair"));
    assert_int_equal(file_size(f->p1), (long)len); /* untouched */
}

/* With repair: the valid prefix is kept, the rest dropped and counted, and
 * the later generation still replayed. */
static void test_recover_repair_keeps_prefix(void **state) {
    recfix *f = *state;
    size_t second;
    size_t len = write_gen1(f, 1, 1, &second);
    write_gen2(f, 0);
    assert_int_equal(recover(f, 1), 0);
    assert_int_equal(f->r.dropped_bytes, len - second);
    assert_int_equal(f->r.dropped_records, 1); /* "w" looked intact */
    assert_int_equal(file_size(f->p1), (long)second);
    assert_true(score_of(f->t, "x") == 5); /* gen 1 then gen 2 */
}

/* A header-only stub (a crash at creation) is rewritten, not an error. */
static void test_recover_header_stub(void **state) {
    recfix *f = *state;
    write_gen1(f, 0, 0, NULL);
    write_file(f->p2, "QAC", 3);
    assert_int_equal(recover(f, 0), 0);
    assert_int_equal(file_size(f->p2), JRN_HEADER_SIZE);
}

/* A file that is not a journal is refused. */
static void test_recover_foreign_file(void **state) {
    recfix *f = *state;
    write_gen1(f, 0, 0, NULL);
    write_file(f->p2, "this is not a journal at all, not even close....", 48);
    assert_int_equal(recover(f, 0), -1);
    assert_non_null(strstr(f->err, "bad magic"));
}

static void test_writer_rotate(void **state) {
    (void)state;
    char base[300], err[512], p[320];
    mkbase(base, sizeof base, "w");
    jrn *j = jrn_open(base, 1, JRN_FSYNC_ALWAYS, err, sizeof err);
    assert_non_null(j);
    assert_int_equal(jrn_size(j), JRN_HEADER_SIZE);
    assert_int_equal(jrn_reserve(j), 0);
    assert_int_equal(jrn_add_set(j, "k", 1, "K", 1, 2), 1);
    assert_int_equal(jrn_add_del(j, "q", 1), 2);
    assert_int_equal(jrn_written_lsn(j), 0);
    assert_int_equal(jrn_write(j), 0);
    assert_int_equal(jrn_written_lsn(j), 2);
    assert_int_equal(jrn_durable_lsn(j), 0); /* always: waits for the sync */
    jrn_synced(j, 2, 0);
    assert_int_equal(jrn_durable_lsn(j), 2);
    jrn_add_set(j, "k", 1, "K", 1, 3);
    int old = -1;
    assert_int_equal(jrn_rotate(j, &old, err, sizeof err), 0); /* writes the batch to gen 1 first */
    assert_true(old >= 0);
    close(old);
    assert_int_equal(jrn_gen(j), 2);
    jrn_add_set(j, "k", 1, "K", 1, 4);
    assert_int_equal(jrn_write(j), 0);
    jrn_close(j);
    trie *t = trie_new();
    jrn_recovery r;
    assert_int_equal(jrn_recover(base, t, 0, &r, err, sizeof err), 0);
    assert_int_equal(r.records, 4);
    assert_true(score_of(t, "k") == 4);
    trie_free(t);
    assert_int_equal(jrn_remove_before(base, 2), 1);
    jrn_path(p, sizeof p, base, 1);
    assert_int_equal(file_size(p), -1);
    jrn_path(p, sizeof p, base, 2);
    assert_true(file_size(p) > JRN_HEADER_SIZE);
    unlink(p);
}

static void test_write_failure(void **state) {
    (void)state;
    char base[300], err[512], p[320];
    mkbase(base, sizeof base, "full");
    jrn *j = jrn_open(base, 1, JRN_FSYNC_NO, err, sizeof err);
    assert_non_null(j);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 100; /* header (32) + one 20-byte record fit; the next batch does not */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    jrn_add_set(j, "a", 1, "a", 1, 1);
    assert_int_equal(jrn_write(j), 0);
    uint64_t size = jrn_size(j);
    for (int i = 0; i < 5; i++) jrn_add_set(j, "bbbbbbbbbbbbbbbbbbb", 19, "b", 1, i);
    assert_int_equal(jrn_write(j), -1);
    assert_int_equal(jrn_error(j), EFBIG);
    assert_string_equal(jrn_error_op(j), "write");
    assert_int_equal(jrn_write_errors(j), 1);
    assert_int_equal(jrn_size(j), size);
    jrn_path(p, sizeof p, base, 1);
    assert_int_equal(file_size(p), (long)size); /* the partial write was cut away */
    assert_int_equal(jrn_written_lsn(j), 1);
    assert_true(jrn_pending(j) > 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(jrn_write(j), 0); /* works again: the kept batch goes out */
    assert_int_equal(jrn_error(j), 0);
    assert_int_equal(jrn_written_lsn(j), 6);
    jrn_close(j);
    signal(SIGXFSZ, SIG_DFL);
    trie *t = trie_new();
    jrn_recovery r;
    assert_int_equal(jrn_recover(base, t, 0, &r, err, sizeof err), 0);
    assert_int_equal(r.records, 6);
    assert_true(score_of(t, "bbbbbbbbbbbbbbbbbbb") == 4);
    trie_free(t);
    unlink(p);
}

static void test_policy(void **state) {
    (void)state;
    assert_int_equal(jrn_policy_parse("always"), JRN_FSYNC_ALWAYS);
    assert_int_equal(jrn_policy_parse("everysec"), JRN_FSYNC_EVERYSEC);
    assert_int_equal(jrn_policy_parse("no"), JRN_FSYNC_NO);
    assert_int_equal(jrn_policy_parse("sometimes"), -1);
    assert_string_equal(jrn_policy_name(JRN_FSYNC_ALWAYS), "always");
}

int main(void) {
    if (make_tmpdir(dir, sizeof dir, "jrn") != 0) return 1;
#define REC_TEST(f) cmocka_unit_test_setup_teardown(f, rec_setup, rec_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc), cmocka_unit_test(test_crc_impls_agree),         cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_torn_every_cut), cmocka_unit_test(test_corrupt_middle),
        cmocka_unit_test(test_header),      REC_TEST(test_recover_torn_tail),
        REC_TEST(test_recover_idempotent),  REC_TEST(test_recover_corrupt_middle_refused),
        REC_TEST(test_recover_repair_keeps_prefix), REC_TEST(test_recover_header_stub),
        REC_TEST(test_recover_foreign_file),
        cmocka_unit_test(test_writer_rotate), cmocka_unit_test(test_write_failure),
        cmocka_unit_test(test_policy),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (remove_tree(dir) != 0) rc = rc ? rc : 1;
    return rc;
}
