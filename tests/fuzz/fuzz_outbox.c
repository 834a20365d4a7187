/* fuzz_outbox.c -- libFuzzer harness for the change log's outbox on disk
 * (engine/changelog_outbox.h: JOURNAL.outbox read back and replayed by
 * chg_obf_open, then appended to, confirmed, emptied, rewritten).
 *
 * Input layout: byte 0 is a flag byte, byte 1 a refusal mask, the rest is
 * the file (inputs over OB_MAX_INPUT bytes are skipped).
 *   flag bit 0  raw records: no fix-up (otherwise, walking from byte 0 by
 *               each record's length field while it is in 1..MAX_REC and
 *               inside the file, every record's CRC32C is recomputed with
 *               jrn_crc32c, so that mutations reach the field checks)
 *   flag bits 4-7  the confirmation appended after the replay (0..15)
 * The i-th entry handed to the callback is refused (it returns -1, as for
 * no memory) when bit i % 8 of the refusal mask is set.
 *
 * Oracle: a reader written from the FORMAT comment of changelog_outbox.h:
 * records back to back while sound (length 1..MAX_REC inside the file,
 * CRC, 'C' of 9 bytes or 'E'); the last 'C' is the confirmation; the 'E'
 * entries whose lengths add up, whose seq is past it and which are changes
 * this replica could send (a set, del or drop with its fields in range:
 * changelog.h's rules; the writer stores nothing else) are
 * handed out in order, renumbered 1, 2, ... Checks:
 *   - chg_obf_open hands out exactly those (every field, the bytes), counts
 *     the ones the callback kept, and the rewritten file reads back as the
 *     same entries (round trip) with nothing else;
 *   - chg_obf_append of one more entry and chg_obf_confirm of a seq, a
 *     reopen: the entries past that seq (renumbered), the appended last;
 *   - chg_obf_rewrite with every other entry: reopening reads just those;
 *   - chg_obf_empty: reopening reads nothing, an empty file;
 *   - chg_obf_bytes is the file's size throughout.
 * Seeds: QAC_FUZZ_MKSEED=DIR build/fuzz/fuzz_outbox writes them (files
 * made by chg_obf_append / chg_obf_confirm) into DIR.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/endian.h"
#include "engine/changelog.h"
#include "engine/changelog_outbox.h"
#include "engine/store/journal.h"
#include "tests/fuzz/fuzz_util.h"

#define OB_ENT_FIXED 34 /* changelog_outbox.c ENT_FIXED */
#define OB_MAX_REC (OB_ENT_FIXED + 4 * 65535)
#define OB_MAX_INPUT 65536
#define OB_MAX_ENTS (OB_MAX_INPUT / 42 + 2) /* a record is at least 8 + 34 bytes */

int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[64], path[128];

/* A private directory (fuzz_mkdtemp: in memory when /dev/shm is there). */
static void make_dir(void) {
    fuzz_mkdtemp(dir, sizeof dir, "qac-fuzz-outbox");
    snprintf(path, sizeof path, "%s/JOURNAL.outbox", dir);
}

static void cleanup(void) {
    char p[256];
    snprintf(p, sizeof p, "%s.tmp", path);
    unlink(p);
    unlink(path);
    rmdir(dir);
}

/* An entry as the harness keeps it (its own copy of the bytes). */
typedef struct oent {
    chg_obf_ent e;
    char *data;
} oent;

static oent want[OB_MAX_ENTS], got[OB_MAX_ENTS];
static size_t nwant, ngot;

static void keep(oent *o, const chg_obf_ent *e) {
    size_t n = (size_t)e->klen + e->dlen + e->nlen + e->plen;
    o->e = *e;
    o->data = malloc(n ? n : 1);
    if (!o->data) abort();
    char *p = o->data;
    const char *part[4] = {e->key, e->disp, e->name, e->pay};
    uint16_t len[4] = {e->klen, e->dlen, e->nlen, e->plen};
    for (int i = 0; i < 4; i++) {
        if (len[i]) memcpy(p, part[i], len[i]);
        p += len[i];
    }
    o->e.key = o->data;
    o->e.disp = o->data + e->klen;
    o->e.name = o->e.disp + e->dlen;
    o->e.pay = o->e.name + e->nlen;
}
static void drop_all(oent *v, size_t *n) {
    for (size_t i = 0; i < *n; i++) free(v[i].data);
    *n = 0;
}

/* Whether the sender could send e, by the field rules of changelog.h
 * (ENTRIES) applied to what flush puts in a record: a set, del or drop (a
 * model update is never stored); set / del: key 1..TRIE_MAX_KEY bytes, a
 * dictionary name 0..CHG_MAX_DICT; set: display 1..TRIE_MAX_KEY, a finite
 * score, a payload (0..CHG_MAX_PAY) only in a dictionary; del: no payload
 * (its display is not sent); drop: a name 1..CHG_MAX_DICT, no payload. */
static int sendable(const chg_obf_ent *e) {
    if (e->op == CHG_OP_DROP) return e->nlen >= 1 && e->nlen <= CHG_MAX_DICT && e->plen == 0;
    if (e->op != CHG_OP_SET && e->op != CHG_OP_DEL) return 0;
    if (e->klen < 1 || e->klen > TRIE_MAX_KEY || e->nlen > CHG_MAX_DICT) return 0;
    if (e->op == CHG_OP_DEL) return e->plen == 0;
    return e->dlen >= 1 && e->dlen <= TRIE_MAX_KEY && isfinite(e->score) && e->plen <= CHG_MAX_PAY &&
           (e->plen == 0 || e->nlen > 0);
}

static int same_ent(const chg_obf_ent *a, const chg_obf_ent *b) {
    return a->seq == b->seq && a->t_us == b->t_us && !memcmp(&a->score, &b->score, sizeof a->score) &&
           a->op == b->op && a->klen == b->klen && a->dlen == b->dlen && a->nlen == b->nlen && a->plen == b->plen &&
           !memcmp(a->key, b->key, a->klen) && !memcmp(a->disp, b->disp, a->dlen) &&
           !memcmp(a->name, b->name, a->nlen) && !memcmp(a->pay, b->pay, a->plen);
}

/* The reader of the format: the entries to hand out, into want[]. */
static void model(const uint8_t *b, size_t len) {
    uint64_t confirmed = 0;
    size_t off = 0;
    while (len - off >= 8) {
        uint32_t n = le_get32(b + off);
        if (n < 1 || n > OB_MAX_REC || len - off - 8 < n) break;
        if (jrn_crc32c(jrn_crc32c(0, b + off, 4), b + off + 8, n) != le_get32(b + off + 4)) break;
        const uint8_t *p = b + off + 8;
        if (p[0] == 'C' && n == 9) confirmed = le_get64(p + 1);
        else if (p[0] != 'E') break;
        off += 8 + n;
    }
    size_t good = off;
    for (off = 0; off < good;) {
        uint32_t n = le_get32(b + off);
        const uint8_t *p = b + off + 8;
        off += 8 + n;
        if (p[0] != 'E' || n < OB_ENT_FIXED) continue;
        chg_obf_ent e = {.seq = le_get64(p + 1), .op = p[9], .t_us = le_get64(p + 10), .score = le_get_f64(p + 18),
                         .klen = le_get16(p + 26), .dlen = le_get16(p + 28), .nlen = le_get16(p + 30),
                         .plen = le_get16(p + 32)};
        if ((size_t)e.klen + e.dlen + e.nlen + e.plen != n - OB_ENT_FIXED || e.seq <= confirmed) continue;
        e.key = (const char *)p + OB_ENT_FIXED;
        e.disp = e.key + e.klen;
        e.name = e.disp + e.dlen;
        e.pay = e.name + e.nlen;
        if (!sendable(&e)) continue;
        if (nwant == OB_MAX_ENTS) fuzz_fail("model full");
        keep(&want[nwant++], &e);
    }
}

typedef struct cb_ctx {
    unsigned refuse; /* bit i % 8: refuse the i-th call */
    size_t calls;
} cb_ctx;

static int collect(void *ud, const chg_obf_ent *e) {
    cb_ctx *c = ud;
    size_t i = c->calls++;
    if (c->refuse >> (i % 8) & 1) return -1;
    if (ngot == OB_MAX_ENTS) fuzz_fail("too many entries handed out");
    keep(&got[ngot++], e);
    return 0;
}

static long file_size(void) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Opens the outbox (every entry kept): its entries must be exp[0..n),
 * renumbered 1, 2, ... */
static chg_obf *reopen_expect(const oent *exp, size_t n, const char *when) {
    char err[512];
    uint64_t count;
    cb_ctx c = {0, 0};
    drop_all(got, &ngot);
    chg_obf *f = chg_obf_open(path, collect, &c, &count, err, sizeof err);
    if (!f) fuzz_fail("%s: chg_obf_open failed: %s", when, err);
    if (count != n || ngot != n) fuzz_fail("%s: %llu entries (%zu handed out), want %zu", when,
                                           (unsigned long long)count, ngot, n);
    for (size_t i = 0; i < n; i++) {
        chg_obf_ent e = exp[i].e;
        e.seq = i + 1;
        if (!same_ent(&got[i].e, &e)) fuzz_fail("%s: entry %zu differs", when, i);
    }
    if ((long)chg_obf_bytes(f) != file_size()) fuzz_fail("%s: chg_obf_bytes %llu, the file %ld", when,
                                                         (unsigned long long)chg_obf_bytes(f), file_size());
    return f;
}

static const oent *rw_v;
static size_t rw_i, rw_n;
static const chg_obf_ent *every_other(void *ud) {
    (void)ud;
    if (rw_i >= rw_n) return NULL;
    const chg_obf_ent *e = &rw_v[rw_i].e;
    rw_i += 2;
    return e;
}

static void write_file(const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(b, 1, n, f) != n) || fclose(f)) fuzz_fail("cannot write %s", path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2 || size > OB_MAX_INPUT + 2) return 0;
    if (!dir[0]) {
        make_dir();
        atexit(cleanup);
    }
    int flags = data[0];
    size_t n = size - 2;
    uint8_t *b = (uint8_t *)fuzz_dup(data + 2, n);
    if (!(flags & 1)) {
        size_t off = 0;
        while (n - off >= 8) {
            uint32_t L = le_get32(b + off);
            if (L < 1 || L > OB_MAX_REC || L > n - off - 8) break;
            le_put32(b + off + 4, jrn_crc32c(jrn_crc32c(0, b + off, 4), b + off + 8, L));
            off += 8 + L;
        }
    }
    write_file(b, n);
    nwant = 0;
    model(b, n);
    free(b);

    /* the replay */
    char err[512];
    uint64_t count;
    cb_ctx c = {data[1], 0};
    drop_all(got, &ngot);
    chg_obf *f = chg_obf_open(path, collect, &c, &count, err, sizeof err);
    if (!f) fuzz_fail("chg_obf_open failed: %s", err);
    if (c.calls != nwant) fuzz_fail("%zu entries handed out, the format says %zu", c.calls, nwant);
    if (count != ngot) fuzz_fail("count %llu, %zu kept", (unsigned long long)count, ngot);
    for (size_t i = 0, k = 0; i < nwant; i++) {
        if (data[1] >> (i % 8) & 1) continue;
        chg_obf_ent e = want[i].e;
        e.seq = ++k;
        if (!same_ent(&got[k - 1].e, &e)) fuzz_fail("entry %zu (kept %llu) differs from the file's", i,
                                                    (unsigned long long)k);
    }
    for (size_t i = 0; i < ngot; i++)
        if (!sendable(&got[i].e)) fuzz_fail("entry %zu replayed cannot be sent (op %d)", i, got[i].e.op);
    if ((long)chg_obf_bytes(f) != file_size()) fuzz_fail("chg_obf_bytes %llu, the file %ld",
                                                         (unsigned long long)chg_obf_bytes(f), file_size());
    chg_obf_close(f);
    /* the kept ones, in order: what the file must now hold */
    drop_all(want, &nwant);
    for (size_t i = 0; i < ngot; i++) want[nwant++] = got[i], got[i].data = NULL;
    ngot = 0;

    /* round trip: the rewritten file reads back as the same entries */
    f = reopen_expect(want, nwant, "reread");
    /* append one, confirm up to k: a reopen gives the ones past k */
    static const char k1[] = "fuzz appended", d1[] = "Fuzz Appended";
    chg_obf_ent add = {.seq = nwant + 1, .op = CHG_OP_SET, .t_us = 7, .score = 2.5, .key = k1, .disp = d1,
                       .name = "", .pay = "", .klen = sizeof k1 - 1, .dlen = sizeof d1 - 1};
    if (chg_obf_append(f, &add)) fuzz_fail("append failed");
    if (nwant == OB_MAX_ENTS) fuzz_fail("model full");
    keep(&want[nwant++], &add);
    uint64_t conf = (uint64_t)(flags >> 4);
    if (chg_obf_confirm(f, conf)) fuzz_fail("confirm failed");
    if ((long)chg_obf_bytes(f) != file_size()) fuzz_fail("after an append: chg_obf_bytes %llu, the file %ld",
                                                         (unsigned long long)chg_obf_bytes(f), file_size());
    chg_obf_close(f);
    size_t skip = conf < nwant ? (size_t)conf : nwant;
    f = reopen_expect(want + skip, nwant - skip, "after append and confirm");
    chg_obf_close(f);
    /* the ones past the confirmation now hold 1.. : keep the model in step */
    for (size_t i = 0; i < skip; i++) free(want[i].data);
    memmove(want, want + skip, (nwant - skip) * sizeof *want);
    nwant -= skip;
    /* rewrite with every other one */
    f = reopen_expect(want, nwant, "before the rewrite");
    rw_v = want, rw_i = 0, rw_n = nwant;
    if (chg_obf_rewrite(f, every_other, NULL)) fuzz_fail("rewrite failed");
    chg_obf_close(f);
    size_t m = 0;
    for (size_t i = 0; i < nwant; i += 2) {
        oent t = want[m];
        want[m++] = want[i];
        want[i] = t;
    }
    f = reopen_expect(want, m, "after the rewrite");
    /* empty */
    if (chg_obf_empty(f)) fuzz_fail("empty failed");
    fuzz_assert(chg_obf_bytes(f) == 0 && file_size() == 0);
    chg_obf_close(f);
    f = reopen_expect(want, 0, "after empty");
    chg_obf_close(f);
    drop_all(want, &nwant);
    drop_all(got, &ngot);
    return 0;
}

/* --- seeds ---------------------------------------------------------------- */

static void seed_file(const char *sdir, const char *name, int flags, int refuse, int nents, int confirm_at,
                      int with_dict) {
    char err[256];
    uint64_t count;
    cb_ctx c = {0, 0};
    unlink(path);
    chg_obf *f = chg_obf_open(path, collect, &c, &count, err, sizeof err);
    if (!f) fuzz_fail("seed: %s", err);
    for (int i = 0; i < nents; i++) {
        char k[32], d[32];
        int kl = snprintf(k, sizeof k, "key %d", i), dl = snprintf(d, sizeof d, "Key %d", i);
        chg_obf_ent e = {.seq = (uint64_t)i + 1, .op = i % 3 == 2 ? CHG_OP_DEL : CHG_OP_SET, .t_us = 1000u * i,
                         .score = i * 1.5, .key = k, .disp = d, .name = "", .pay = "", .klen = (uint16_t)kl,
                         .dlen = (uint16_t)(i % 3 == 2 ? 0 : dl)};
        if (with_dict && i % 2) {
            e.name = "cities", e.nlen = 6;
            if (e.op == CHG_OP_SET) e.pay = "{\"id\":1}", e.plen = 8;
        }
        if (with_dict && i == nents - 1) e.op = CHG_OP_DROP, e.klen = e.dlen = e.plen = 0, e.name = "cities", e.nlen = 6;
        if (chg_obf_append(f, &e)) fuzz_fail("seed append");
        if (i + 1 == confirm_at && chg_obf_confirm(f, (uint64_t)confirm_at)) fuzz_fail("seed confirm");
    }
    chg_obf_close(f);
    FILE *in = fopen(path, "rb");
    static uint8_t buf[OB_MAX_INPUT];
    size_t n = in ? fread(buf, 1, sizeof buf, in) : 0;
    if (in) fclose(in);
    char out[512];
    snprintf(out, sizeof out, "%s/%s", sdir, name);
    FILE *o = fopen(out, "wb");
    if (!o) fuzz_fail("cannot write %s", out);
    fputc(flags, o);
    fputc(refuse, o);
    fwrite(buf, 1, n, o);
    if (fclose(o)) fuzz_fail("cannot write %s", out);
    drop_all(got, &ngot);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *sdir = getenv("QAC_FUZZ_MKSEED");
    if (!sdir) return 0;
    make_dir();
    seed_file(sdir, "empty", 0, 0, 0, 0, 0);
    seed_file(sdir, "three", 0x20, 0, 3, 0, 0);
    seed_file(sdir, "confirmed-two-of-six", 0x10, 0x04, 6, 2, 0);
    seed_file(sdir, "dicts", 0x30, 0, 5, 1, 1);
    cleanup();
    exit(0);
}
