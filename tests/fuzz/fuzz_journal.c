/* fuzz_journal.c -- libFuzzer harness for journal replay (jrn_recover,
 * engine/store/journal.h).
 *
 * Input layout: byte 0 is a flag byte, the rest is split at every "#QJF#"
 * into at most JF_MAX_FILES journal files, written as FILE.1, FILE.2, ... in
 * a private temp dir (generation i+1 for the i-th piece). Inputs over
 * JF_MAX_INPUT bytes are skipped (the model has room for JF_MAX_MODEL keys).
 *   flag bit 0  repair (jrn_recover's repair argument)
 *   flag bit 1  raw headers: no header fix-up (otherwise a piece of at least
 *               32 bytes gets its generation field set to its file's N and
 *               its header CRC32C recomputed)
 *   flag bit 2  raw records: no record fix-up (otherwise, walking from byte
 *               32 by each record's length field while it is in range and
 *               inside the piece, every record's CRC32C is recomputed)
 *   flag bit 3  start from an empty trie (otherwise from three keys)
 * The fix-ups use the journal's own jrn_crc32c, so that mutations reach the
 * field checks and the torn / corrupt classification rather than stopping at
 * "checksum mismatch".
 *
 * Oracle: a model (a small array of key -> display, score) built from the
 * same pieces with jrn_check_header and jrn_scan, following the rules in
 * journal.h (short file: rewritten empty; bad header or generation: error;
 * damage reaching EOF: torn, cut; other damage: error, or cut with repair).
 * Each record jrn_scan hands out is re-checked against the format (contiguous,
 * CRC, field ranges, L == 13 + K + D, or for the dictionary ops DSET / DDEL /
 * DDROP L == 17 + N + K + D + P) and each TORN / CORRUPT verdict against
 * the DAMAGE rules (read as: a length field out of range is corrupt unless
 * the record would end exactly at EOF or only zeros follow). Checks after jrn_recover:
 *   - it fails exactly when the model says so, with a message;
 *   - the counters (files, records, bytes, torn_cut, dropped_bytes, last_gen)
 *     and each file's new length match the model;
 *   - the trie passes trie_check and holds exactly the model's keys,
 *     displays and scores (also after a failure: the records before the
 *     damage were applied); the named dictionaries (replayed through
 *     jrn_recover_dicts into engine/dict.h's dict_apply) hold exactly a second
 *     model's (name, key) entries with their displays, scores and payloads,
 *     a dictionary existing while it has an entry;
 *   - after success: replaying again into the same trie changes nothing
 *     (records are idempotent), replaying into a fresh one gives the same
 *     keys with nothing cut, and the journal stays appendable: jrn_open on
 *     the last generation, one jrn_add_set, jrn_write, and a fresh replay
 *     sees that record too.
 * Seeds (tests/fuzz/corpus/journal) are real jrn_open / jrn_add_* / jrn_write
 * output, made by tests/fuzz/mkseed_journal.c.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/endian.h"
#include "engine/dict.h"
#include "engine/store/journal.h"
#include "trie/trie.h"
#include "tests/fuzz/fuzz_util.h"

#define JF_MAX_FILES 4
#define JF_SEP "#QJF#"
#define JF_SEP_LEN 5
#define JF_MAX_MODEL 4096
#define JF_MAX_INPUT 65536 /* keeps the record count under JF_MAX_MODEL */

static char dir[64], base[96];

static void clear_dir(void) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char p[512];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
}
static void cleanup(void) {
    clear_dir();
    rmdir(dir);
}

/* --- the model ----------------------------------------------------------- */

typedef struct ment {
    char key[TRIE_MAX_KEY], disp[TRIE_MAX_KEY];
    size_t klen, dlen;
    double score;
    int live;
} ment;
static ment model[JF_MAX_MODEL];
static size_t nmodel;

static ment *mfind(const char *k, size_t kl) {
    for (size_t i = 0; i < nmodel; i++)
        if (model[i].klen == kl && memcmp(model[i].key, k, kl) == 0) return &model[i];
    return NULL;
}
static void mset(const char *k, size_t kl, const char *d, size_t dl, double s) {
    ment *m = mfind(k, kl);
    if (!m) {
        if (nmodel == JF_MAX_MODEL) fuzz_fail("model full (input too large for the harness)");
        m = &model[nmodel++];
        memcpy(m->key, k, kl);
        m->klen = kl;
    }
    memcpy(m->disp, d, dl);
    m->dlen = dl;
    m->score = s;
    m->live = 1;
}
static void mdel(const char *k, size_t kl) {
    ment *m = mfind(k, kl);
    if (m) m->live = 0;
}

/* The named dictionaries' model: (name, key) -> display, score, payload. */
#define JF_MAX_DMODEL 2400 /* > the dictionary records JF_MAX_INPUT can hold (28 bytes at least) */
typedef struct dment {
    char name[JRN_MAX_NAME], key[TRIE_MAX_KEY], disp[TRIE_MAX_KEY], pay[JRN_MAX_DATA];
    size_t nlen, klen, dlen, plen;
    double score;
    int live;
} dment;
static dment dmodel[JF_MAX_DMODEL];
static size_t ndmodel;

static dment *dfind(const char *n, size_t nl, const char *k, size_t kl) {
    for (size_t i = 0; i < ndmodel; i++)
        if (dmodel[i].nlen == nl && dmodel[i].klen == kl && !memcmp(dmodel[i].name, n, nl) &&
            !memcmp(dmodel[i].key, k, kl))
            return &dmodel[i];
    return NULL;
}
static void dapply(const jrn_rec *r) {
    if (r->op == JRN_OP_DDROP) {
        for (size_t i = 0; i < ndmodel; i++)
            if (dmodel[i].nlen == r->nlen && !memcmp(dmodel[i].name, r->name, r->nlen)) dmodel[i].live = 0;
        return;
    }
    dment *m = dfind(r->name, r->nlen, r->key, r->klen);
    if (r->op == JRN_OP_DDEL) {
        if (m) m->live = 0;
        return;
    }
    if (!m) {
        if (ndmodel == JF_MAX_DMODEL) fuzz_fail("dictionary model full");
        m = &dmodel[ndmodel++];
        memcpy(m->name, r->name, r->nlen);
        m->nlen = r->nlen;
        memcpy(m->key, r->key, r->klen);
        m->klen = r->klen;
    }
    memcpy(m->disp, r->disp, r->dlen);
    m->dlen = r->dlen;
    if (r->plen) memcpy(m->pay, r->data, r->plen);
    m->plen = r->plen;
    m->score = r->score;
    m->live = 1;
}

static void compare_dicts(const dict_set *ds, const char *when) {
    uint64_t live = 0, names = 0;
    for (size_t i = 0; i < ndmodel; i++) {
        const dment *m = &dmodel[i];
        if (!m->live) continue;
        live++;
        int first = 1; /* count each live name once: at its first live entry */
        for (size_t j = 0; j < i && first; j++)
            if (dmodel[j].live && dmodel[j].nlen == m->nlen && !memcmp(dmodel[j].name, m->name, m->nlen)) first = 0;
        names += first;
        const dict_ent *d = dict_find(ds, m->name, m->nlen);
        trie_hit h;
        if (!d || !trie_get(d->t, m->key, m->klen, &h))
            fuzz_fail("%s: dictionary entry %.*s / %.*s missing", when, (int)m->nlen, m->name, (int)m->klen, m->key);
        uint32_t pl;
        const char *p = dict_payload(d, h.id, &pl);
        if (h.score != m->score || h.displen != m->dlen || memcmp(trie_hit_display(&h), m->disp, m->dlen) ||
            pl != m->plen || (pl && memcmp(p, m->pay, pl)))
            fuzz_fail("%s: dictionary entry %.*s / %.*s differs from the model", when, (int)m->nlen, m->name,
                      (int)m->klen, m->key);
    }
    uint64_t keys = 0;
    for (size_t i = 0; i < ds->n; i++) keys += trie_count(ds->v[i]->t);
    if (keys != live || ds->n != names)
        fuzz_fail("%s: %zu dictionaries with %llu entries, model %llu with %llu", when, ds->n,
                  (unsigned long long)keys, (unsigned long long)names, (unsigned long long)live);
}

/* Per-scan state: re-checks each record against the format. */
typedef struct scan_ctx {
    const uint8_t *buf;
    size_t len, expect; /* offset where the next record must start */
    int apply;          /* update the model */
} scan_ctx;

static int on_rec(void *ud, const jrn_rec *r) {
    scan_ctx *c = ud;
    const uint8_t *p = c->buf + c->expect;
    fuzz_assert(c->len - c->expect >= JRN_REC_HEADER + JRN_MIN_PAYLOAD);
    uint32_t L = le_get32(p);
    fuzz_assert(L >= JRN_MIN_PAYLOAD && L <= JRN_MAX_PAYLOAD && L <= c->len - c->expect - JRN_REC_HEADER);
    fuzz_assert(jrn_crc32c(jrn_crc32c(0, p, 4), p + JRN_REC_HEADER, L) == le_get32(p + 4));
    fuzz_assert(r->op == p[8]);
    if (r->op >= JRN_OP_DSET && r->op <= JRN_OP_DDROP) {
        fuzz_assert(L == JRN_DICT_FIXED + r->nlen + r->klen + r->dlen + r->plen && r->nlen >= 1 &&
                    r->nlen <= JRN_MAX_NAME && r->nlen == le_get16(p + JRN_REC_HEADER + 13));
        fuzz_assert((const uint8_t *)r->name == p + JRN_REC_HEADER + JRN_DICT_FIXED);
        if (r->op == JRN_OP_DSET)
            fuzz_assert(r->klen >= 1 && r->klen <= TRIE_MAX_KEY && r->dlen >= 1 && r->dlen <= TRIE_MAX_KEY &&
                        r->plen <= JRN_MAX_DATA && isfinite(r->score));
        else if (r->op == JRN_OP_DDEL)
            fuzz_assert(r->klen >= 1 && r->klen <= TRIE_MAX_KEY && r->dlen == 0 && r->plen == 0);
        else
            fuzz_assert(r->klen == 0 && r->dlen == 0 && r->plen == 0);
        if (c->apply) dapply(r);
        c->expect += JRN_REC_HEADER + L;
        return 0;
    }
    fuzz_assert(r->op == JRN_OP_SET || r->op == JRN_OP_DEL);
    fuzz_assert(r->klen >= 1 && r->klen <= TRIE_MAX_KEY && L == JRN_PAYLOAD_FIXED + r->klen + r->dlen);
    fuzz_assert((const uint8_t *)r->key == p + JRN_REC_HEADER + JRN_PAYLOAD_FIXED);
    if (r->op == JRN_OP_SET) {
        fuzz_assert(r->dlen >= 1 && r->dlen <= TRIE_MAX_KEY && isfinite(r->score));
        fuzz_assert((const uint8_t *)r->disp == p + JRN_REC_HEADER + JRN_PAYLOAD_FIXED + r->klen);
        if (c->apply) mset(r->key, r->klen, r->disp, r->dlen, r->score);
    } else {
        fuzz_assert(r->dlen == 0);
        if (c->apply) mdel(r->key, r->klen);
    }
    c->expect += JRN_REC_HEADER + L;
    return 0;
}

static int all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* --- trie vs model ------------------------------------------------------- */

static void compare(const trie *t, const char *when) {
    char err[256];
    if (trie_check(t, err, sizeof err)) fuzz_fail("%s: trie_check: %s", when, err);
    uint64_t live = 0;
    for (size_t i = 0; i < nmodel; i++) {
        const ment *m = &model[i];
        trie_hit h;
        int found = trie_get(t, m->key, m->klen, &h);
        if (!m->live) {
            if (found) fuzz_fail("%s: deleted key %.*s is in the trie", when, (int)m->klen, m->key);
            continue;
        }
        live++;
        if (!found) fuzz_fail("%s: key %.*s missing from the trie", when, (int)m->klen, m->key);
        if (h.score != m->score || h.displen != m->dlen || memcmp(trie_hit_display(&h), m->disp, m->dlen))
            fuzz_fail("%s: key %.*s has display %.*s score %g, model %.*s %g", when, (int)m->klen, m->key,
                      (int)h.displen, trie_hit_display(&h), h.score, (int)m->dlen, m->disp, m->score);
    }
    if (trie_count(t) != live)
        fuzz_fail("%s: trie has %llu keys, model %llu", when, (unsigned long long)trie_count(t),
                  (unsigned long long)live);
}

static const char *const seed_keys[3][2] = {{"new york", "New York"}, {"news", "News"}, {"a", "A"}};

static trie *start_trie(int empty) {
    trie *t = trie_new();
    if (!t) fuzz_fail("trie_new failed");
    for (int i = 0; !empty && i < 3; i++) {
        const char *k = seed_keys[i][0], *d = seed_keys[i][1];
        if (trie_set(t, k, strlen(k), d, strlen(d), 10.0 * (i + 1), NULL)) fuzz_fail("trie_set failed");
    }
    return t;
}
static void model_init(int empty) {
    nmodel = 0;
    for (int i = 0; !empty && i < 3; i++) {
        const char *k = seed_keys[i][0], *d = seed_keys[i][1];
        mset(k, strlen(k), d, strlen(d), 10.0 * (i + 1));
    }
}

static off_t file_size(uint64_t gen) {
    char p[JRN_PATH_MAX];
    struct stat st;
    jrn_path(p, sizeof p, base, gen);
    if (stat(p, &st) < 0) fuzz_fail("journal %s vanished", p);
    return st.st_size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        fuzz_mkdtemp(dir, sizeof dir, "qacfuzz");
        snprintf(base, sizeof base, "%s/j", dir);
        atexit(cleanup);
        log_set_level(LOG_OFF);
    }
    if (size < 1 || size > JF_MAX_INPUT) return 0;
    int flags = data[0];
    int repair = flags & 1;
    clear_dir();

    /* split into pieces */
    uint8_t *piece[JF_MAX_FILES];
    size_t plen[JF_MAX_FILES], npieces = 0;
    const uint8_t *p = data + 1, *end = data + size;
    while (npieces < JF_MAX_FILES) {
        const uint8_t *s = npieces + 1 < JF_MAX_FILES ? memmem(p, (size_t)(end - p), JF_SEP, JF_SEP_LEN) : NULL;
        size_t n = s ? (size_t)(s - p) : (size_t)(end - p);
        piece[npieces] = (uint8_t *)fuzz_dup(p, n);
        plen[npieces++] = n;
        if (!s) break;
        p = s + JF_SEP_LEN;
    }

    /* fix-ups, write the files */
    for (size_t i = 0; i < npieces; i++) {
        uint8_t *b = piece[i];
        size_t n = plen[i];
        if (!(flags & 2) && n >= JRN_HEADER_SIZE) {
            le_put64(b + 16, (uint64_t)i + 1);
            le_put32(b + 28, jrn_crc32c(0, b, 28));
        }
        if (!(flags & 4)) {
            size_t off = JRN_HEADER_SIZE;
            while (off < n && n - off >= JRN_REC_HEADER) {
                uint32_t L = le_get32(b + off);
                if (L < JRN_MIN_PAYLOAD || L > JRN_MAX_PAYLOAD || L > n - off - JRN_REC_HEADER) break;
                le_put32(b + off + 4, jrn_crc32c(jrn_crc32c(0, b + off, 4), b + off + JRN_REC_HEADER, L));
                off += JRN_REC_HEADER + L;
            }
        }
        char path[JRN_PATH_MAX];
        jrn_path(path, sizeof path, base, i + 1);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(b, 1, n, f) != n || fclose(f)) fuzz_fail("cannot write %s", path);
    }

    /* the model's verdict */
    model_init(flags & 8);
    ndmodel = 0;
    jrn_recovery want = {0};
    size_t newlen[JF_MAX_FILES];
    int want_rc = 0;
    size_t reached = 0; /* files recovery looks at */
    for (size_t i = 0; i < npieces && want_rc == 0; i++) {
        const uint8_t *b = piece[i];
        size_t n = plen[i];
        reached = i + 1;
        want.last_gen = i + 1;
        newlen[i] = n;
        if (n < JRN_HEADER_SIZE) {
            newlen[i] = JRN_HEADER_SIZE;
            want.torn_cut += n;
            want.files++;
            continue;
        }
        uint64_t g;
        const char *why = NULL;
        if (jrn_check_header((const char *)b, n, &g, &why) < 0) {
            fuzz_assert(why != NULL);
            want_rc = -1;
            break;
        }
        if (g != i + 1) {
            want_rc = -1;
            break;
        }
        scan_ctx c = {b, n, JRN_HEADER_SIZE, 1};
        jrn_scan_result res;
        fuzz_assert(jrn_scan((const char *)b, n, JRN_HEADER_SIZE, on_rec, &c, &res) == 0);
        fuzz_assert(res.good_end == c.expect && res.good_end <= n);
        want.records += res.records;
        want.bytes += res.good_end - JRN_HEADER_SIZE;
        if (res.status == JRN_SCAN_OK) {
            fuzz_assert(res.good_end == n);
        } else {
            fuzz_assert(res.good_end < n && res.reason != NULL);
            size_t rest = n - res.good_end;
            /* torn: the header is cut short, or a length in range runs past
             * EOF, or the record (whatever its length says) ends exactly at
             * EOF, or only zeros follow. A length out of range is damage, not
             * a torn append (pwrite leaves a prefix of sound bytes). */
            uint32_t L = rest >= JRN_REC_HEADER ? le_get32(b + res.good_end) : 0;
            int in_range = L >= JRN_MIN_PAYLOAD && L <= JRN_MAX_PAYLOAD;
            int torn = rest < JRN_REC_HEADER || (in_range && JRN_REC_HEADER + (uint64_t)L > rest) ||
                       JRN_REC_HEADER + (uint64_t)L == rest || all_zero(b + res.good_end, rest);
            if (torn != (res.status == JRN_SCAN_TORN))
                fuzz_fail("file %zu: damage at %llu of %zu classified %s (%s)", i + 1,
                          (unsigned long long)res.good_end, n, torn ? "corrupt, should be torn" : "torn, should be corrupt",
                          res.reason);
            if (res.status == JRN_SCAN_TORN) {
                want.torn_cut += rest;
                newlen[i] = res.good_end;
            } else if (repair) {
                want.dropped_bytes += rest;
                want.dropped_records += res.salvage;
                newlen[i] = res.good_end;
            } else {
                want_rc = -1;
                break;
            }
        }
        want.files++;
    }

    /* the real thing */
    trie *t = start_trie(flags & 8);
    dict_set *ds = dict_set_new();
    if (!ds) fuzz_fail("dict_set_new failed");
    jrn_recovery got;
    char err[1024];
    err[0] = 0;
    int rc = jrn_recover_dicts(base, t, dict_apply, ds, repair, &got, err, sizeof err);
    if (rc != want_rc) fuzz_fail("jrn_recover returned %d, model says %d (%s)", rc, want_rc, err);
    if (rc) fuzz_assert(err[0]);
    if (got.records != want.records || got.bytes != want.bytes || got.torn_cut != want.torn_cut ||
        got.files != want.files || got.last_gen != want.last_gen ||
        (rc == 0 && (got.dropped_bytes != want.dropped_bytes || got.dropped_records != want.dropped_records)))
        fuzz_fail("counters: files %llu/%llu records %llu/%llu bytes %llu/%llu torn %llu/%llu dropped %llu/%llu "
                  "last_gen %llu/%llu (got/model)",
                  (unsigned long long)got.files, (unsigned long long)want.files, (unsigned long long)got.records,
                  (unsigned long long)want.records, (unsigned long long)got.bytes, (unsigned long long)want.bytes,
                  (unsigned long long)got.torn_cut, (unsigned long long)want.torn_cut,
                  (unsigned long long)got.dropped_bytes, (unsigned long long)want.dropped_bytes,
                  (unsigned long long)got.last_gen, (unsigned long long)want.last_gen);
    for (size_t i = 0; i < reached; i++) {
        if ((size_t)file_size(i + 1) != newlen[i])
            fuzz_fail("file %zu is %lld bytes after recovery, model %zu", i + 1, (long long)file_size(i + 1), newlen[i]);
    }
    for (size_t i = reached; i < npieces; i++)
        if ((size_t)file_size(i + 1) != plen[i]) fuzz_fail("file %zu after the failure was changed", i + 1);
    for (size_t i = 0; i < npieces; i++) free(piece[i]);

    compare(t, "after recovery");
    compare_dicts(ds, "after recovery");
    if (rc) {
        trie_free(t);
        dict_set_free(ds);
        return 0;
    }

    /* replaying again over the result changes nothing */
    jrn_recovery again;
    if (jrn_recover_dicts(base, t, dict_apply, ds, 0, &again, err, sizeof err)) fuzz_fail("second replay failed: %s", err);
    fuzz_assert(again.torn_cut == 0 && again.dropped_bytes == 0 && again.records == want.records);
    compare(t, "after a second replay over the same trie");
    compare_dicts(ds, "after a second replay over the same dictionaries");
    trie_free(t);
    dict_set_free(ds);
    /* and into a fresh trie gives the same keys */
    t = start_trie(flags & 8);
    ds = dict_set_new();
    if (jrn_recover_dicts(base, t, dict_apply, ds, 0, &again, err, sizeof err))
        fuzz_fail("replay into a fresh trie failed: %s", err);
    fuzz_assert(again.torn_cut == 0 && again.dropped_bytes == 0 && again.records == want.records);
    compare(t, "after a replay into a fresh trie");
    compare_dicts(ds, "after a replay into fresh dictionaries");
    trie_free(t);
    dict_set_free(ds);

    /* the journal stays appendable where recovery left it */
    uint64_t gen = want.last_gen ? want.last_gen : 1;
    jrn *j = jrn_open(base, gen, JRN_FSYNC_NO, err, sizeof err);
    if (!j) fuzz_fail("jrn_open after recovery failed: %s", err);
    static const char nk[] = "zz fuzz appended", nd[] = "ZZ";
    if (jrn_reserve(j) || jrn_add_set(j, nk, sizeof nk - 1, nd, sizeof nd - 1, 42.5) == 0 || jrn_write(j))
        fuzz_fail("appending after recovery failed");
    jrn_close(j);
    mset(nk, sizeof nk - 1, nd, sizeof nd - 1, 42.5);
    t = start_trie(flags & 8);
    if (jrn_recover(base, t, 0, &again, err, sizeof err)) fuzz_fail("replay after an append failed: %s", err);
    fuzz_assert(again.torn_cut == 0 && again.dropped_bytes == 0 && again.records == want.records + 1);
    compare(t, "after an append and a replay");
    trie_free(t);
    return 0;
}
