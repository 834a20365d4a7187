/* fuzz_exec.c -- stateful libFuzzer harness for the command executor
 * (eng_exec, engine/cmd.h) with the ranker and the ACCEPT guard attached
 * (engine/rank/ranker.h, engine/guard.h): sequences of commands against a shadow
 * model, not just one parse.
 *
 * Files: this one drives the engine (environment, input bytecode, requests,
 * commands, checks of the trie); fuzz_exec_model.h is the shadow model (keys,
 * the guard's credit and rate rules, cmd.c's validation rules, brute-force
 * top-k, the checks of COMPLETE replies); fuzz_exec_reply.h parses replies.
 * Both are static code included only here (the Makefile builds every
 * tests/fuzz/fuzz_<name>.c as a harness of its own).
 *
 * What it drives: one eng over a trie, with an eng_rank made by
 * eng_rank_new WITHOUT Redis (in-process history, synchronous answers) and a
 * model loaded (an all-zero FTRL model of 2^10 coordinates written once to a
 * private temp dir; learned weights would go to a second file, never back to
 * it), rank_fn NULL: a ranked COMPLETE is answered inside eng_exec (cmd.c
 * `ranked`), never deferred (ENG_DEFER / ENG_DEFER_RANK are invariant
 * failures); and a guard (guard_new) as e->guard. Requests run as the
 * eng's own client (e->client = &e->self, address ""), so every ACCEPT
 * without USER is the one actor "a:" and all share one connection bucket.
 * No journal, no save_fn: SAVE writes the snapshot synchronously to
 * cfg.save (in the temp dir). Requests are built as the server hands them
 * over (proto_arg arrays, each argument an exact-size heap copy so ASan sees
 * over-reads) and run through eng_exec with PROTO_TEXT or PROTO_RESP; every
 * reply is parsed back (the whole buffer, nothing left over).
 *
 * State per input: a fresh ranker (empty history, the zero model), a fresh
 * guard and a fresh eng every input; the trie is created once and emptied
 * after each input by deleting every key (worst first), because a new trie
 * costs ~5 ms of page faults under ASan (its 2.9 MB prefix cache). What
 * persists is only the trie's free lists (ids, nodes, arena blocks), which
 * no reply depends on; the keys, the cache lists and the counts are empty
 * again (checked).
 *
 * Input: byte 0 is a header, then a bytecode of at most EX_MAX_CMDS
 * commands. Header bits 0-1: the ranker's candidates, 3/5/10/50 (small
 * values make history-only candidates and the gather's dedup common). The
 * guard always has window 86400 s (no window passes during an input),
 * accept-learn-users 2, accept-learn-max 3, and:
 *   bit 2 set: tiny tables, (accept-pairs, accept-actors) by bits 4-5 =
 *     (4, 4), (1, 1), (2, 3), (7, 8): early rotation and actor eviction;
 *   bit 2 clear: bits 4-5 = 3 the defaults (262144, 65536), else (2048,
 *     1024), which never rotate within an input either (it credits at most
 *     EX_MAX_CMDS + EX_BUDGET pairs) but touch far fewer pages (a fresh
 *     12 MB default guard every input more than halved exec/s);
 *   bit 3: rate limits (ERR RATE) by bits 6-7: accept-user-rate 1/s with
 *     accept-user-burst 3, 1, 2; or 1/s burst 6 for actors and
 *     accept-conn-rate 1/s burst 4 for the connection (all of the input's
 *     requests); else no rate limit.
 * Each command is an opcode byte -- low nibble the command, bit 4 RESP (else
 * text), bits 5-7 variant flags (option order and case, LIMIT of the probe,
 * ...) -- followed by the argument bytes it reads (a missing byte reads 0):
 *   0/10 ADD key score           1/11 INCR key [delta]   2 DEL key
 *   3 GET key prefix             6 SAVE (flags 7: unwritable path, ERR IO)
 *   4/12 ACCEPT query optbyte [USER u] [SESSION s] [PREFIX p] [RANK r]
 *   5/13 COMPLETE prefix optbyte [USER u] [SESSION s] [LIMIT k] [WITHSCORES]
 *   7 RELOAD (flags 7: the model file moved away, ERR IO, then put back)
 *   8 BURST user stem countbyte base: ACCEPTs "stem NNNN" (NNNN = base + i)
 *     by one user (SESSION on every other one), then the probe runs COMPLETE
 *     stem USER user: the heavy-history path. 1..48 accepts; with flags 7
 *     and a count byte >= 0xf0, 900..1380 (at most EX_BUDGET per input).
 *   14 SUG: FT.SUGADD/SUGGET/SUGDEL/SUGLEN, EXISTS/TYPE/DEL and COMPLETE ...
 *     DICT over named dictionaries against their own model (fuzz_exec_sug.h)
 *   9 MISC: STATS INFO PING HELP CONFIG COMMAND QUIT AUTH, an unknown
 *     command word, wrong argument counts
 *   15 FUZZY prefix fuzzbyte [LIMIT k] [INFIX]: COMPLETE prefix FUZZY f (0,
 *     1, 2, auto, or a bad value; sometimes FUZZY twice) on the plain path:
 *     exactly the model's typo order (each live key's edits by
 *     trie_fuzzy_dist, then score, then key); with INFIX (the eng keeps a
 *     word index W, made once like T, kept by every change and by the reset)
 *     the model's word matches (infix_expect), then, by (edits, score,
 *     key), the keys of that typo order and those with edits on the last
 *     typed word (ix_word_edits: AUTO by that word's characters), each
 *     once with its fewest edits;
 *     without INFIX fuzzbyte bit 7 sets fuzzy-max-work 64, and an answer it
 *     cut holds the model's classes below the cut, then at most k items
 * Keys, prefixes, users, numbers come from small tables (shared prefixes
 * "a" "ab" "abc" ..., spaces, upper case, accents, ligatures, full-width,
 * CJK, NBSP, NEL, controls, invalid and truncated UTF-8; 512 / 513-byte keys
 * and keys whose display is over 512 bytes) chosen by one byte; byte values
 * >= 0xf6 take raw fuzz bytes instead (a length byte, then that many bytes;
 * lengths 250..255 mean 300..800 bytes). The option byte picks which options
 * appear and sometimes a bad one (an unknown option, a dangling name, an
 * option of the other command: the request must fail).
 * Seeds: tests/fuzz/corpus/exec, written by tests/fuzz/mkseed_exec.py.
 *
 * Predictions (fuzz_exec_model.h): success or failure of every request from
 * the documented validation (number syntax, empty / too long / invalid /
 * control keys, display over 512 bytes, id rules, LIMIT 1..100, RANK
 * 0..100, a non-finite sum, options) and, for ACCEPT, the guard's rate; a
 * refused change leaves the model as it was.
 *
 * Invariants (fuzz_fail: "fuzz invariant broken ..."), after every step:
 *   - the reply is well formed for its protocol and command, an error names
 *     a known code (ERR RATE only for an ACCEPT the rate may refuse),
 *     success/failure as predicted, INCR/ACCEPT reply the model's new score
 *     (an ACCEPT that repeats a remembered (actor, key) pair: unchanged),
 *     DEL 1/0 as the key was live; after an ACCEPT the guard's counters;
 *   - the trie holds as many keys as the model, and trie_topk read straight
 *     from the trie for the changed key's 0/1/2-byte prefixes (the cache
 *     slots the change had to update), its 3-byte prefix and itself, at k 10
 *     (cache) and 11 (walk), equals the model's top-k;
 *   - plain COMPLETE (e->rank set to NULL for the call) of the step's prefix
 *     with its LIMIT equals a brute-force top-k of the model: score desc,
 *     key bytewise asc (trie.h's order), displays and scores included;
 *   - ranked COMPLETE (e->rank set), without and with USER, as check_ranked
 *     in fuzz_exec_model.h says; the bytecode's own COMPLETEs likewise;
 *   - GET of the step's key agrees with the model;
 *   - after SAVE: the snapshot's header (magic, version, key count, size).
 * trie_check (every structural invariant and all 65,793 cache slots, ~1 ms
 * under ASan whatever the size) runs after BURST and at the end of every
 * input, followed by a walk comparing every key, display and score with the
 * model. Environment: FUZZ_EXEC_FULL_CHECK=1 runs trie_check after every
 * step and also loads, checks and compares every SAVE's snapshot (for
 * replaying a reproducer; too slow for fuzzing); FUZZ_EXEC_TRACE=1 prints
 * every request and reply.
 * Work is bounded: EX_MAX_CMDS commands and EX_BUDGET burst accepts per
 * input.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#include "common/log.h"
#include "common/util.h"
#include "engine/cmd.h"
#include "engine/config.h"
#include "engine/guard.h"
#include "engine/proto/proto.h"
#include "engine/rank/ranker.h"
#include "ranking/veclru.h"
#include "ranking/ftrl.h"
#include "text/norm.h"
#include "trie/trie.h"
#include "trie/trie_fuzzy.h"
#include "trie/trie_internal.h" /* SNAP_VERSION: the version a SAVE writes */
#include "tests/fuzz/fuzz_exec_model.h"
#include "tests/fuzz/fuzz_exec_tables.h" /* keys, prefixes, users, ... the bytecode picks from */
#include "tests/fuzz/fuzz_exec_reply.h"
#include "tests/fuzz/fuzz_util.h"

#define EX_MAX_CMDS 64
#define EX_BUDGET 1200 /* burst accepts per input (> the 900 candidates the old ranker held) */
#define EX_MAX_ARGS 16
#define EX_RAW_MIN 0xf6 /* selector bytes from here take raw fuzz bytes */
_Static_assert(EX_MAX_CMDS <= SH_MAX_ACTORS, "one new guard actor per command at most");
_Static_assert(EX_MAX_CMDS + EX_BUDGET <= SH_MAX, "one new model key per command or burst accept at most");
_Static_assert(EX_MAX_CMDS + EX_BUDGET < 2048, "the roomy guard never rotates within an input");

/* --- environment (once) ------------------------------------------------- */

static char dir[64], model_path[128], model_away[128], model_save[128], snap_path[128];
static char bad_snap[] = "/nonexistent-qac-fuzz-dir/snap";
static uv_loop_t loop;
static srv_config cfg;
static eng E;
static trie *T;
static trie_words *W;
static eng_rank *R;
static guard *G;
static qbuf out;
static int trace;           /* FUZZ_EXEC_TRACE set */
static int full_every_step; /* FUZZ_EXEC_FULL_CHECK set */
static trie_hit thits[TRIE_MAX_K];

static void cleanup(void) {
    unlink(model_path);
    unlink(model_away);
    unlink(model_save);
    unlink(snap_path);
    rmdir(dir);
}

static void env_init(void) {
    fuzz_mkdtemp(dir, sizeof dir, "qacfx");
    atexit(cleanup);
    log_set_level(LOG_OFF);
    trace = getenv("FUZZ_EXEC_TRACE") != NULL;
    snprintf(model_path, sizeof model_path, "%s/zero.model", dir);
    snprintf(model_away, sizeof model_away, "%s/zero.model.away", dir);
    snprintf(model_save, sizeof model_save, "%s/learned.model", dir);
    snprintf(snap_path, sizeof snap_path, "%s/snap.qac", dir);
    rank_ftrl_opts fo;
    rank_ftrl_opts_default(&fo);
    fo.bits = RANK_FTRL_MIN_BITS;
    rank_ftrl *m = rank_ftrl_new(&fo);
    char err[256];
    if (!m || rank_ftrl_save(m, model_path, err, sizeof err)) fuzz_fail("cannot write the zero model: %s", err);
    rank_ftrl_free(m);
    if (uv_loop_init(&loop)) fuzz_fail("uv_loop_init failed");
    config_defaults(&cfg);
    cfg.save = snap_path;
    qbuf_init(&out);
    full_every_step = getenv("FUZZ_EXEC_FULL_CHECK") != NULL;
    T = trie_new();
    W = trie_words_new();
    if (!T) fuzz_fail("trie_new failed");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    env_init();
    return 0;
}

/* --- input reader ------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p;
    size_t n, i;
} rd;
static unsigned next(rd *r) { return r->i < r->n ? r->p[r->i++] : 0; }

static const char *word_case(const char *upper, unsigned v, char *buf) {
    size_t n = strlen(upper);
    for (size_t i = 0; i <= n; i++) {
        char c = upper[i];
        if (v == 1 || (v == 2 && i > 0)) c = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        buf[i] = c;
    }
    return buf;
}

/* --- requests ----------------------------------------------------------- */

typedef struct req {
    int argc;
    proto_arg a[EX_MAX_ARGS];
    char *own[EX_MAX_ARGS]; /* the copies a[i].p point at */
} req;

static void req_add(req *q, const char *p, size_t n) {
    if (q->argc == EX_MAX_ARGS) fuzz_fail("harness: too many arguments");
    q->a[q->argc].p = q->own[q->argc] = fuzz_dup(p, n);
    q->a[q->argc].len = n;
    q->a[q->argc].off = 0;
    q->argc++;
}
static void req_adds(req *q, const char *s) { req_add(q, s, strlen(s)); }
static void req_addv(req *q, str v) { req_add(q, v.s, v.n); }
static void req_free(req *q) {
    for (int i = 0; i < q->argc; i++) free(q->own[i]);
    q->argc = 0;
}

/* FUZZ_EXEC_TRACE=1 in the environment: every request and reply to stderr
 * (for reading a reproducer). */
static void trace_bytes(const char *p, size_t n) {
    for (size_t i = 0; i < n && i < 96; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') fputc(c, stderr);
        else fprintf(stderr, "\\x%02x", c);
    }
    if (n > 96) fprintf(stderr, "...(%zu bytes)", n);
}

/* Runs q; the reply is in out. Returns the CMD_* eng_exec reported. */
static int exec(req *q, int kind, int *flags) {
    out.len = 0;
    int fl = -1;
    if (trace) {
        fprintf(stderr, "%s%s>", kind == PROTO_RESP ? "R" : "T", E.rank ? "" : " (plain)");
        for (int i = 0; i < q->argc; i++) fputc(' ', stderr), trace_bytes(q->a[i].p, q->a[i].len);
        fputc('\n', stderr);
    }
    int rc = eng_exec(&E, kind, q->argc, q->a, &out, &fl);
    if (trace) fprintf(stderr, "  < "), trace_bytes(out.data, out.len), fputc('\n', stderr);
    if (rc < 0) fuzz_fail("eng_exec returned %d (out of memory?)", rc);
    if (fl & (ENG_DEFER | ENG_DEFER_RANK)) fuzz_fail("eng_exec deferred a reply (flags %d) without save_fn/rank_fn", fl);
    if (E.wait_lsn != 0) fuzz_fail("wait_lsn %llu without a journal", (unsigned long long)E.wait_lsn);
    if (out.len == 0) fuzz_fail("empty reply");
    if (flags) *flags = fl;
    return rc;
}

/* The reply in out, parsed (fuzz_exec_reply.h). */
static void read_reply(int kind, int want, int ws, reply *r) { parse_reply(out.data, out.len, kind, want, ws, r); }

/* Raw bytes or a table entry. Raw: a length byte (values 250..255 give
 * 300..800 bytes, from the input repeated), then the bytes. */
static char rawbuf[4][1024];
static str pick_raw(rd *r, int slot) {
    unsigned ln = next(r);
    size_t n = ln < 250 ? ln : 300 + (ln - 250) * 100;
    char *b = rawbuf[slot];
    size_t avail = r->n - r->i;
    size_t take = n < avail ? n : avail;
    memcpy(b, r->p + r->i, take);
    r->i += take;
    for (size_t i = take; i < n; i++) b[i] = take ? b[i % take] : 'a';
    return (str){b, n};
}

/* special long keys: 512 'a'; 513 'a'; "ab" + 300 NBSP (key "ab", display
 * 602 bytes); 200 full-width A (key 200 'a', display 600 bytes); 511 'a' +
 * ß (key 513 bytes) */
static str pick_special(unsigned v, int slot) {
    char *b = rawbuf[slot];
    size_t n = 0;
    switch (v % 5) {
    case 0: memset(b, 'a', 512), n = 512; break;
    case 1: memset(b, 'a', 513), n = 513; break;
    case 2:
        b[0] = 'a', b[1] = 'b', n = 2;
        for (int i = 0; i < 300; i++) b[n++] = (char)0xc2, b[n++] = (char)0xa0;
        break;
    case 3:
        for (int i = 0; i < 200; i++) b[n++] = (char)0xef, b[n++] = (char)0xbc, b[n++] = (char)0xa1;
        break;
    default: memset(b, 'a', 511), b[511] = (char)0xc3, b[512] = (char)0x9f, n = 513; break;
    }
    return (str){b, n};
}

static str pick_key(rd *r, int slot) {
    unsigned b = next(r);
    if (b < 0xa0) return clean_keys[b % ARRAY_LEN(clean_keys)];
    if (b < 0xf0) return odd_keys[b % ARRAY_LEN(odd_keys)];
    if (b < EX_RAW_MIN) return pick_special(b, slot);
    return pick_raw(r, slot);
}
static str pick_prefix(rd *r, int slot) {
    unsigned b = next(r);
    if (b < 0x80) return clean_prefixes[b % ARRAY_LEN(clean_prefixes)];
    if (b < 0xc0) return clean_keys[b % ARRAY_LEN(clean_keys)];
    if (b < 0xe8) return odd_prefixes[b % ARRAY_LEN(odd_prefixes)];
    if (b < 0xf0) return odd_keys[b % ARRAY_LEN(odd_keys)];
    if (b < EX_RAW_MIN) return pick_special(b, slot);
    return pick_raw(r, slot);
}
static str pick_tab(rd *r, const str *tab, size_t n, size_t ngood, int slot) {
    unsigned b = next(r);
    if (b >= EX_RAW_MIN) return pick_raw(r, slot);
    return b < 0xd0 ? tab[b % ngood] : tab[b % n];
}

/* --- checks ------------------------------------------------------------- */

/* Full structural check: trie_check (every invariant of trie.h, every
 * short-prefix cache slot against a walk) and the key count. ~1 ms under
 * ASan whatever the size (it walks all 65,793 cache slots), so it runs at
 * the end of each input, after BURST and SAVE, and after every step only
 * with FUZZ_EXEC_FULL_CHECK set. */
static void check_trie_full(void) {
    char err[256];
    if (trie_check(T, err, sizeof err)) fuzz_fail("trie_check: %s", err);
    size_t live = sh_nlive();
    if (trie_count(T) != live) fuzz_fail("trie holds %llu keys, model %zu", (unsigned long long)trie_count(T), live);
}

/* After a step that may have changed key k: the key count, and trie_topk
 * straight from the trie for every cached prefix of k (0, 1, 2 bytes: the
 * slots the change had to update, read at k <= TRIE_CACHE_K) and for 3
 * bytes and the whole key, each at LIMIT 10 (cache) and 11 (walk), against
 * the brute-force top-k of the model. */
static void check_trie_step(const char *k, size_t kn) {
    if (full_every_step) {
        check_trie_full();
    } else {
        size_t live = sh_nlive();
        if (trie_count(T) != live) fuzz_fail("trie holds %llu keys, model %zu", (unsigned long long)trie_count(T), live);
    }
    if (!k) return;
    size_t lens[5] = {0, 1, 2, 3, kn};
    for (int li = 0; li < 5; li++) {
        size_t pl = lens[li];
        if (pl > kn || (li == 4 && kn <= 3)) continue;
        size_t m = brute(k, pl);
        for (unsigned kk = 10; kk <= 11; kk++) {
            int n = trie_topk(T, k, pl, kk, thits);
            size_t want = m < kk ? m : kk;
            if (n < 0 || (size_t)n != want)
                fuzz_fail("trie_topk('%.*s', %u): %d hits, model has %zu", (int)pl, k, kk, n, want);
            for (size_t i = 0; i < want; i++) {
                const sent *e = &sh[bf_idx[i]];
                const trie_hit *h = &thits[i];
                if (h->keylen != e->klen || memcmp(trie_hit_key(h), e->key, e->klen) || h->score != e->score ||
                    h->displen != e->dlen || memcmp(trie_hit_display(h), e->disp, e->dlen))
                    fuzz_fail("trie_topk('%.*s', %u) hit %zu: '%.*s', model '%.*s'", (int)pl, k, kk, i,
                              (int)h->keylen, trie_hit_key(h), (int)e->klen, e->key);
            }
        }
    }
}

static const char *cmd_word(const char *w, unsigned v) {
    static char b[4][16];
    static int i;
    i = (i + 1) & 3;
    return word_case(w, v, b[i]);
}

/* The probe after every step: plain and ranked COMPLETE of prefix p with
 * LIMIT k, ranked again with USER user, GET of key (when given). */
static void probe(str p, unsigned k, const str *user, const str *key, int kind) {
    char kb[8];
    snprintf(kb, sizeof kb, "%u", k);
    int npl = prefix_norm(p, pbuf);
    req q = {0};
    reply r;
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 2 && !user) break;
        req_adds(&q, "COMPLETE");
        req_addv(&q, p);
        req_adds(&q, "LIMIT");
        req_adds(&q, kb);
        req_adds(&q, "WITHSCORES");
        if (pass == 2) {
            req_adds(&q, "USER");
            req_addv(&q, *user);
        }
        if (pass == 0) E.rank = NULL;
        int cmd = exec(&q, kind, NULL);
        E.rank = R;
        req_free(&q);
        if (cmd != CMD_COMPLETE) fuzz_fail("COMPLETE ran as command %d", cmd);
        read_reply(kind, RP_LIST, 1, &r);
        int bad_user = pass == 2 && !id_ok(*user);
        expect_outcome(npl != -2 && !bad_user, &r, "probe COMPLETE");
        if (r.err) continue;
        if (pass == 0) check_plain(&r, pbuf, npl, k);
        else check_ranked(&r, pbuf, npl, k, pass == 2 ? user : NULL);
    }
    if (key) {
        req_adds(&q, "GET");
        req_addv(&q, *key);
        exec(&q, kind, NULL);
        req_free(&q);
        read_reply(kind, RP_BULK, 0, &r);
        int kn = key_norm(*key, nbuf);
        const sent *e = kn > 0 ? sh_find(nbuf, (size_t)kn) : NULL;
        expect_outcome(e && e->live, &r, "GET");
        if (!r.err) expect_score(&r, e->score, "GET");
    }
}

/* After SAVE: the file's header (magic, version SNAP_VERSION, key count = the model's
 * live keys, file size); with FUZZ_EXEC_FULL_CHECK also a full trie_load,
 * trie_check and comparison (a loaded trie is a fresh 2.9 MB allocation:
 * too slow for every SAVE). */
static void check_snapshot(void) {
    size_t live = sh_nlive();
    FILE *f = fopen(snap_path, "rb");
    unsigned char h[64];
    if (!f) fuzz_fail("SAVE said OK but there is no snapshot");
    size_t got = fread(h, 1, sizeof h, f);
    fseek(f, 0, SEEK_END);
    long fsize = ftell(f);
    fclose(f);
    uint64_t count = 0, size = 0;
    for (int i = 7; i >= 0; i--) count = count << 8 | h[16 + i], size = size << 8 | h[32 + i];
    if (got != sizeof h || memcmp(h, "QACTRIE", 8) || h[8] != SNAP_VERSION || h[9] || h[10] || h[11])
        fuzz_fail("snapshot header: bad magic or version");
    if (count != live || size != (uint64_t)fsize)
        fuzz_fail("snapshot header: %llu keys, %llu bytes; model %zu keys, file %ld bytes", (unsigned long long)count,
                  (unsigned long long)size, live, fsize);
    if (!full_every_step) return;
    trie *t2 = NULL;
    char err[256];
    if (trie_load(snap_path, &t2, err, sizeof err)) fuzz_fail("SAVE's snapshot does not load: %s", err);
    if (trie_check(t2, err, sizeof err)) fuzz_fail("loaded snapshot fails trie_check: %s", err);
    for (size_t i = 0; i < nsh; i++) {
        const sent *e = &sh[i];
        if (!e->live) continue;
        trie_hit th;
        if (!trie_get(t2, e->key, e->klen, &th)) fuzz_fail("snapshot lacks '%.*s'", (int)e->klen, e->key);
        if (th.score != e->score || th.displen != e->dlen || memcmp(trie_hit_display(&th), e->disp, e->dlen))
            fuzz_fail("snapshot differs on '%.*s'", (int)e->klen, e->key);
    }
    if (trie_count(t2) != live) fuzz_fail("snapshot holds %llu keys, model %zu", (unsigned long long)trie_count(t2), live);
    trie_free(t2);
}

#include "tests/fuzz/fuzz_exec_sug.h" /* op_sug: named dictionaries */

/* --- per-input state ---------------------------------------------------- */

/* A fresh ranker, guard and eng for an input whose header byte is h (the
 * header comment has the bits); the model is reset to match. */
static void state_new(unsigned h) {
    static const unsigned cand_opts[4] = {3, 5, 10, 50};
    static const uint64_t tiny[4][2] = {{4, 4}, {1, 1}, {2, 3}, {7, 8}}, bursts[4] = {3, 1, 2, 6};
    if (trie_count(T)) fuzz_fail("trie not empty at the start of an input");
    eng_init(&E, T, &cfg);
    E.stats.words = E.words = W;
    if (!SGD && !(SGD = dict_set_new())) fuzz_fail("dict_set_new failed");
    E.dicts = SGD;
    E.stats.dicts = SGD;
    eng_rank_opts o;
    eng_rank_opts_default(&o);
    o.model = model_path;
    o.model_save = model_save;
    o.cache_bytes = RANK_VECLRU_MIN_BYTES;
    o.candidates = cand_opts[h & 3];
    o.gen_candidates = 0; /* the index of an empty trie generates nothing; building it per input would cost ms */
    char err[256];
    R = eng_rank_new(&loop, T, &o, err, sizeof err);
    if (!R) fuzz_fail("eng_rank_new failed: %s", err);
    E.rank = R;
    E.stats.rank = R;
    cands = o.candidates;
    guard_opts go;
    guard_opts_default(&go);
    go.window_s = 86400;
    go.user_rate = go.conn_rate = 0;
    go.learn_users = 2;
    go.learn_max = 3;
    if (h & 4) go.pairs = tiny[(h >> 4) & 3][0], go.actors = tiny[(h >> 4) & 3][1];
    else if (((h >> 4) & 3) != 3) go.pairs = 2048, go.actors = 1024; /* see the header */
    if (h & 8) go.user_rate = 1, go.user_burst = bursts[(h >> 6) & 3];
    if ((h & 8) && (h >> 6) == 3) go.conn_rate = 1, go.conn_burst = 4;
    G = guard_new(&go, err, sizeof err);
    if (!G) fuzz_fail("guard_new failed: %s", err);
    E.guard = G;
    E.stats.guard = G;
    model_reset(&go);
    if (trace)
        fprintf(stderr, "candidates %u, guard pairs %llu actors %llu user-rate %llu burst %llu conn-rate %llu burst %llu\n",
                cands, (unsigned long long)go.pairs, (unsigned long long)go.actors, (unsigned long long)go.user_rate,
                (unsigned long long)go.user_burst, (unsigned long long)go.conn_rate, (unsigned long long)go.conn_burst);
}

/* End of an input: every key of the trie must be a live model key with its
 * display and score (the counts were compared by check_trie_full); then
 * every key is deleted, which leaves the trie empty for the next input
 * (its free lists persist: see the header). */
static int collect(void *ud, const trie_hit *h) {
    (void)ud;
    const sent *e = sh_find(trie_hit_key(h), h->keylen);
    if (!e || !e->live || e->score != h->score || e->dlen != h->displen ||
        memcmp(e->disp, trie_hit_display(h), h->displen))
        fuzz_fail("trie key '%.*s' differs from the model", (int)h->keylen, trie_hit_key(h));
    return 0;
}
static void trie_reset(void) {
    if (trie_foreach(T, collect, NULL)) fuzz_fail("trie_foreach stopped early");
    /* worst first: a deleted key that is in a cached top-10 costs a walk */
    size_t m = brute("", 0);
    char err[256] = "dropped by the eng (a change it could not follow)";
    if (E.words != W || trie_words_check(W, T, err, sizeof err)) fuzz_fail("word index: %s", err);
    while (m--) {
        trie_hit h;
        const sent *e = &sh[bf_idx[m]];
        if (!trie_get(T, e->key, e->klen, &h) || trie_del(T, e->key, e->klen) || trie_words_del(W, h.id, e->key, e->klen))
            fuzz_fail("reset: trie_del failed");
    }
    if (trie_count(T) || trie_topk(T, "", 0, TRIE_CACHE_K, thits) || trie_topk(T, "", 0, TRIE_CACHE_K + 1, thits))
        fuzz_fail("trie not empty after deleting every key");
}

static void state_free(void) {
    eng_rank_stat st;
    eng_rank_stats(R, &st);
    if (trace) {
        guard_stat gst;
        guard_stats(G, &gst);
        fprintf(stderr, "end: guard credited %llu repeats %llu limited %llu rotations %llu evictions %llu "
                "learn-waiting %llu learn-capped %llu; ranker online updates %llu\n",
                (unsigned long long)gst.credited, (unsigned long long)gst.repeats,
                (unsigned long long)gst.limited_actor, (unsigned long long)gst.rotations,
                (unsigned long long)gst.actor_evictions, (unsigned long long)gst.learn_waiting,
                (unsigned long long)gst.learn_capped, (unsigned long long)st.online_updates);
    }
    char err[256];
    /* what it learned is dropped, not saved at close (keeps each run cheap) */
    if (st.online_updates && eng_rank_reload(R, err, sizeof err)) fuzz_fail("reload before close: %s", err);
    eng_rank_close(R);
    uv_run(&loop, UV_RUN_DEFAULT);
    R = NULL;
    E.rank = NULL;
    gs_check(G);
    guard_free(G);
    G = NULL;
    E.guard = NULL;
    E.stats.guard = NULL;
    check_trie_full();
    sg_reset();
    trie_reset();
    cfg.save = snap_path;
}

/* --- commands ----------------------------------------------------------- */

/* The options of an ACCEPT or COMPLETE (pick_opts: which ones from the
 * option byte); junk 1..3: a bad one the request must fail on. */
typedef struct opts {
    str user, sess, prefix, rank, limit;
    int has_user, has_sess, has_prefix, has_rank, has_limit, ws, junk;
} opts;

static void add_opts(req *q, const opts *o, unsigned cs, int order, int complete) {
    char b[16];
    if (order && o->has_prefix) req_adds(q, word_case("PREFIX", cs, b)), req_addv(q, o->prefix);
    if (order && o->ws) req_adds(q, word_case("WITHSCORES", cs, b));
    if (o->has_user) req_adds(q, word_case("USER", cs, b)), req_addv(q, o->user);
    if (o->has_sess) req_adds(q, word_case("SESSION", cs, b)), req_addv(q, o->sess);
    if (o->has_limit) req_adds(q, word_case("LIMIT", cs, b)), req_addv(q, o->limit);
    if (!order && o->has_prefix) req_adds(q, word_case("PREFIX", cs, b)), req_addv(q, o->prefix);
    if (o->has_rank) req_adds(q, word_case("RANK", cs, b)), req_addv(q, o->rank);
    if (!order && o->ws) req_adds(q, word_case("WITHSCORES", cs, b));
    switch (o->junk) {
    case 1: req_adds(q, "FOO"), req_adds(q, "1"); break;
    case 2: req_adds(q, complete ? "USER" : "SESSION"); break; /* dangling: no value */
    case 3: req_adds(q, complete ? "RANK" : "LIMIT"), req_adds(q, "1"); break; /* not this command's */
    default: break;
    }
}

static void op_add(rd *in, int kind, unsigned fl, unsigned step) {
    str key = pick_key(in, 0);
    str sc = pick_tab(in, scores, ARRAY_LEN(scores), N_GOOD_SCORES, 1);
    req q = {0};
    req_adds(&q, cmd_word("ADD", fl & 3));
    req_addv(&q, key);
    req_addv(&q, sc);
    if (exec(&q, kind, NULL) != CMD_ADD) fuzz_fail("ADD ran as another command");
    req_free(&q);
    reply r;
    read_reply(kind, RP_OK, 0, &r);
    double v;
    size_t dl;
    int kn = key_norm(key, nbuf);
    int ok = qparse_double(sc.s, sc.n, &v) == 0 && kn > 0 && disp_of(key, &dl) == 0;
    expect_outcome(ok, &r, "ADD");
    if (ok) {
        sent *e = sh_get(nbuf, (size_t)kn);
        memcpy(e->disp, dbuf, dl);
        e->dlen = (uint16_t)dl;
        e->score = v;
        e->live = 1;
    }
    check_trie_step(kn > 0 ? nbuf : NULL, kn > 0 ? (size_t)kn : 0);
    str p = {key.s, key.n < 1 + step % 3 ? key.n : 1 + step % 3};
    probe(p, 1 + (fl >> 2) * 3, NULL, &key, kind);
}

static void op_incr(rd *in, int kind, unsigned fl, unsigned step) {
    str key = pick_key(in, 0);
    int with = fl & 1;
    str d = with ? pick_tab(in, scores, ARRAY_LEN(scores), N_GOOD_SCORES, 1) : (str){"1", 1};
    req q = {0};
    req_adds(&q, cmd_word("INCR", (fl >> 1) & 3));
    req_addv(&q, key);
    if (with) req_addv(&q, d);
    if (exec(&q, kind, NULL) != CMD_INCR) fuzz_fail("INCR ran as another command");
    req_free(&q);
    reply r;
    read_reply(kind, RP_BULK, 0, &r);
    double delta = 1;
    size_t dl;
    int kn = key_norm(key, nbuf);
    int ok = (!with || qparse_double(d.s, d.n, &delta) == 0) && kn > 0;
    if (ok) {
        const sent *e = sh_find(nbuf, (size_t)kn);
        if (e && e->live) ok = isfinite(e->score + delta);
        else ok = disp_of(key, &dl) == 0;
    }
    expect_outcome(ok, &r, "INCR");
    if (ok) expect_score(&r, model_incr(kn, key, delta), "INCR");
    check_trie_step(kn > 0 ? nbuf : NULL, kn > 0 ? (size_t)kn : 0);
    str p = {key.s, key.n < 1 + step % 4 ? key.n : 1 + step % 4};
    probe(p, 2 + (fl >> 3) * 4, NULL, &key, kind);
}

static void op_del(rd *in, int kind, unsigned fl, unsigned step) {
    str key = pick_key(in, 0);
    req q = {0};
    req_adds(&q, cmd_word("DEL", fl & 3));
    req_addv(&q, key);
    if (exec(&q, kind, NULL) != CMD_DEL) fuzz_fail("DEL ran as another command");
    req_free(&q);
    reply r;
    read_reply(kind, RP_INT, 0, &r);
    if (sg_drop_if_dict(key)) { /* the exact name of a dictionary: Redis's DEL key */
        if (r.err || r.ival != 1) fuzz_fail("DEL of dictionary %.*s: %.*s", (int)key.n, key.s, (int)r.rawn, r.raw);
        return;
    }
    int kn = key_norm(key, nbuf);
    expect_outcome(kn > 0, &r, "DEL");
    if (kn > 0) {
        sent *e = sh_find(nbuf, (size_t)kn);
        int was = e && e->live;
        if (r.ival != was) fuzz_fail("DEL replied %lld, key was %s", (long long)r.ival, was ? "live" : "absent");
        if (e) e->live = 0;
    }
    check_trie_step(kn > 0 ? nbuf : NULL, kn > 0 ? (size_t)kn : 0);
    str p = {key.s, key.n < step % 3 ? key.n : step % 3};
    probe(p, 3 + (fl >> 2), NULL, &key, kind);
}

static void op_get(rd *in, int kind, unsigned fl, unsigned step) {
    (void)step;
    str key = pick_key(in, 0);
    str p = pick_prefix(in, 1);
    probe(p, 1 + (fl & 7), NULL, &key, kind); /* the GET check is the probe's */
}

static void pick_opts(rd *in, opts *o, unsigned ob, int complete) {
    memset(o, 0, sizeof *o);
    o->has_user = ob & 1;
    o->has_sess = (ob >> 1) & 1;
    if (complete) o->has_limit = (ob >> 2) & 1, o->ws = (ob >> 3) & 1;
    else o->has_prefix = (ob >> 2) & 1, o->has_rank = (ob >> 3) & 1;
    if ((ob >> 4) & 1) o->junk = 1 + (int)((ob >> 5) % 3);
    if (o->has_user) o->user = pick_tab(in, users, ARRAY_LEN(users), N_GOOD_USERS, 1);
    if (o->has_sess) o->sess = pick_tab(in, sessions, ARRAY_LEN(sessions), N_GOOD_SESS, 2);
    if (o->has_prefix) o->prefix = pick_prefix(in, 3);
    if (o->has_rank) o->rank = ranks[next(in) % ARRAY_LEN(ranks)];
    if (o->has_limit) {
        unsigned b = next(in);
        o->limit = b < 0xd0 ? limits[b % N_GOOD_LIMITS] : limits[b % ARRAY_LEN(limits)];
    }
}

/* ACCEPT query [opts]. Returns 1 when it was taken (counted or a repeat),
 * 0 when refused as invalid, -1 when the guard's rate refused it. */
static int do_accept(str query, const opts *o, int kind, unsigned cs, int order) {
    int kn = key_norm(query, nbuf);
    int ok = !o->junk && kn > 0;
    int64_t rk;
    if (o->has_rank) ok = ok && qparse_i64(o->rank.s, o->rank.n, &rk) == 0 && rk >= 0 && rk <= TRIE_MAX_K;
    if (o->has_user) ok = ok && id_ok(o->user);
    if (o->has_sess) ok = ok && id_ok(o->sess);
    if (o->has_prefix) {
        int pn = norm_prefix(o->prefix.s, o->prefix.n, p2buf, ENG_NORM_CAP);
        ok = ok && (pn >= 0 || pn == NORM_ETOOLONG);
    }
    size_t dl;
    if (ok && !sh_live(nbuf, (size_t)kn)) ok = disp_of(query, &dl) == 0;
    int ai = ok ? gs_actor(o->has_user ? &o->user : NULL) : -1; /* before the request: its clock */
    req q = {0};
    req_adds(&q, cmd_word("ACCEPT", cs));
    req_addv(&q, query);
    add_opts(&q, o, cs, order, 0);
    if (exec(&q, kind, NULL) != CMD_ACCEPT) fuzz_fail("ACCEPT ran as another command");
    uint64_t t = qtime_ns();
    req_free(&q);
    reply r;
    read_reply(kind, RP_BULK, 0, &r);
    if (!ok) {
        expect_outcome(0, &r, "ACCEPT");
        if (r.code == ERR_RATE) fuzz_fail("invalid ACCEPT refused by the rate: %.*s", (int)out.len, out.data);
        return 0;
    }
    int ar = gs_rate_actor(ai, t), cr = gs_rate_conn(t);
    const gactor *a = &gs.act[ai];
    if (r.err) {
        const char *who = o->has_user ? "this user: " : "this client address: ", *lim = "accept-user-rate";
        int by_conn = r.msgn >= 17 && !memcmp(r.msg, "this connection: ", 17);
        if (by_conn) who = "this connection: ", lim = "accept-conn-rate";
        if (r.code != ERR_RATE || (by_conn ? ar == RATE_REFUSED || cr == RATE_OK : ar == RATE_OK))
            fuzz_fail("ACCEPT of actor '%.*s' (%llu tokens taken of %llu, connection %llu of %llu): model allows%s%s%s; "
                      "got %.*s",
                      (int)a->n, a->id, (unsigned long long)a->b.taken, (unsigned long long)gs.o.user_burst,
                      (unsigned long long)gs.conn.taken, (unsigned long long)gs.o.conn_burst,
                      ar != RATE_REFUSED && cr != RATE_REFUSED ? " success" : "",
                      ar != RATE_OK ? " ERR-RATE-by-the-actor" : "",
                      ar != RATE_REFUSED && cr != RATE_OK ? " ERR-RATE-by-the-connection" : "", (int)out.len, out.data);
        if (r.msgn < strlen(who) || memcmp(r.msg, who, strlen(who)) || !memmem(r.msg, r.msgn, lim, strlen(lim)))
            fuzz_fail("ERR RATE names the wrong limit: %.*s", (int)out.len, out.data);
        if (by_conn) gs_refused_conn(ai);
        else gs.limited_actor++;
        gs_check(G);
        return -1;
    }
    if (ar == RATE_REFUSED || cr == RATE_REFUSED)
        fuzz_fail("ACCEPT of actor '%.*s' within %llu ms taken over burst %llu at rate %llu/s (%s)", (int)a->n, a->id,
                  (unsigned long long)((t - (ar == RATE_REFUSED ? a->b.t0_ns : gs.conn.t0_ns)) / 1000000),
                  (unsigned long long)(ar == RATE_REFUSED ? gs.o.user_burst : gs.o.conn_burst),
                  (unsigned long long)(ar == RATE_REFUSED ? gs.o.user_rate : gs.o.conn_rate),
                  ar == RATE_REFUSED ? "accept-user-rate" : "accept-conn-rate");
    sent *e = sh_get(nbuf, (size_t)kn);
    int credit = gs_credit(ai, e);
    expect_score(&r, credit || !e->live ? model_incr(kn, query, 1.0) : e->score, "ACCEPT");
    if (o->has_user) e->users |= user_bit(o->user.s, o->user.n);
    gs_check(G);
    return 1;
}

static void op_accept(rd *in, int kind, unsigned fl, unsigned step) {
    str query = pick_key(in, 0);
    opts o;
    unsigned ob = next(in);
    pick_opts(in, &o, ob, 0);
    do_accept(query, &o, kind, fl & 3, (fl >> 2) & 1);
    int kn = key_norm(query, nbuf);
    check_trie_step(kn > 0 ? nbuf : NULL, kn > 0 ? (size_t)kn : 0);
    size_t pl = o.has_prefix ? o.prefix.n : (query.n < 1 + step % 2 ? query.n : 1 + step % 2);
    str p = o.has_prefix ? o.prefix : (str){query.s, pl};
    static const str u1 = S_("u1");
    probe(p, 5, o.has_user ? &o.user : &u1, &query, kind);
}

static void op_complete(rd *in, int kind, unsigned fl, unsigned step) {
    (void)step;
    str p = pick_prefix(in, 0);
    opts o;
    unsigned ob = next(in);
    pick_opts(in, &o, ob, 1);
    req q = {0};
    req_adds(&q, cmd_word("COMPLETE", fl & 3));
    req_addv(&q, p);
    add_opts(&q, &o, fl & 3, (fl >> 2) & 1, 1);
    if (exec(&q, kind, NULL) != CMD_COMPLETE) fuzz_fail("COMPLETE ran as another command");
    req_free(&q);
    int ws = kind == PROTO_TEXT || o.ws;
    reply r;
    read_reply(kind, RP_LIST, ws, &r);
    int64_t k = SRV_DEFAULT_K;
    int ok = !o.junk;
    if (o.has_limit) ok = ok && qparse_i64(o.limit.s, o.limit.n, &k) == 0 && k >= 1 && k <= SRV_MAX_K;
    if (o.has_user) ok = ok && id_ok(o.user);
    if (o.has_sess) ok = ok && id_ok(o.sess);
    int npl = prefix_norm(p, pbuf);
    ok = ok && npl != -2;
    expect_outcome(ok, &r, "COMPLETE");
    if (ok) check_ranked(&r, pbuf, npl, (unsigned)k, o.has_user ? &o.user : NULL);
    probe(p, ok ? (unsigned)k : 10, o.has_user ? &o.user : NULL, NULL, kind);
}

static void op_fuzzy(rd *in, int kind, unsigned fl, unsigned step) {
    (void)step;
    str p = pick_prefix(in, 0);
    unsigned b = next(in);
    unsigned fi = (b & 15) % ARRAY_LEN(fuzzies); /* bits 4..7: twice, LIMIT, INFIX, fuzzy-max-work 64 */
    int twice = (b >> 4) & 1, has_limit = (b >> 5) & 1, infix = (b >> 6) & 1;
    str lim = {0};
    if (has_limit) lim = limits[next(in) % ARRAY_LEN(limits)];
    char cw[16];
    req q = {0};
    req_adds(&q, cmd_word("COMPLETE", fl & 3));
    req_addv(&q, p);
    req_adds(&q, word_case("FUZZY", fl & 3, cw)), req_addv(&q, fuzzies[fi]);
    if (twice) req_adds(&q, "FUZZY"), req_addv(&q, fuzzies[fi]);
    if (has_limit) req_adds(&q, "LIMIT"), req_addv(&q, lim);
    if (infix) req_adds(&q, word_case("INFIX", fl & 3, cw));
    struct eng_rank *saved = E.rank;
    E.rank = NULL; /* the plain path: the ranked one is probed elsewhere */
    cfg.fuzzy_max_work = (b >> 7) & 1 && !infix ? 64 : SRV_FUZZY_MAX_WORK; /* the cut is modelled without INFIX */
    int cmd = exec(&q, kind, NULL);
    E.rank = saved;
    cfg.fuzzy_max_work = SRV_FUZZY_MAX_WORK;
    if (cmd != CMD_COMPLETE) fuzz_fail("COMPLETE FUZZY ran as another command");
    req_free(&q);
    reply r;
    read_reply(kind, RP_LIST, kind == PROTO_TEXT, &r);
    int64_t k = SRV_DEFAULT_K;
    int ok = fi < N_GOOD_FUZZY && !twice;
    if (has_limit) ok = ok && qparse_i64(lim.s, lim.n, &k) == 0 && k >= 1 && k <= SRV_MAX_K;
    int npl = prefix_norm(p, pbuf);
    size_t wo[TRIE_MAX_KEY], wl[TRIE_MAX_KEY];
    ok = ok && npl != -2 && !(infix && npl > 0 && ix_words(pbuf, (size_t)npl, wo, wl) > TRIE_WORDS_MAX_TYPED);
    expect_outcome(ok, &r, "COMPLETE FUZZY");
    if (!ok) return;
    unsigned d = fi < 3 ? fi : 0;
    if (fi == 3 || fi == 4) {
        size_t cp = npl > 0 ? qutf8_count(pbuf, (size_t)npl) : 0;
        d = cp >= cfg.fuzzy_auto_two ? 2 : cp >= cfg.fuzzy_auto_one ? 1 : 0;
    }
    unsigned dw = d; /* the last word's edits: AUTO by its own characters */
    if ((fi == 3 || fi == 4) && infix && npl > 0) {
        int nt = ix_words(pbuf, (size_t)npl, wo, wl);
        size_t cp = nt ? qutf8_count(pbuf + wo[nt - 1], wl[nt - 1]) : 0;
        dw = cp >= cfg.fuzzy_auto_two ? 2 : cp >= cfg.fuzzy_auto_one ? 1 : 0;
    }
    size_t m = npl < 0 ? 0 : infix ? infix_expect(pbuf, (size_t)npl, d, dw) : fuzzy_brute(pbuf, (size_t)npl, d);
    size_t want = m < (size_t)k ? m : (size_t)k;
    if (infix && E.fuzzy_cut) fuzz_fail("COMPLETE '%.*s' FUZZY %u INFIX: its typo fill was cut", npl, pbuf, d);
    if (infix) memcpy(bf_idx, ix_idx, want * sizeof *bf_idx);
    if (E.fuzzy_cut) for (want = 0; want < m && fz_edits[bf_idx[want]] < (int)E.fuzzy_cut; want++) {} /* op 15 */
    if (E.fuzzy_cut ? r.nitems < want || r.nitems > (size_t)k : r.nitems != want)
        fuzz_fail("COMPLETE '%.*s' FUZZY %u%s: %zu items, model has %zu (LIMIT %lld, cut %u)", npl, pbuf, d,
                  infix ? " INFIX" : "", r.nitems, want, (long long)k, E.fuzzy_cut);
    for (size_t i = 0; i < want; i++) {
        const sent *e = &sh[bf_idx[i]];
        if (!item_is(&r.it[i], e) || !score_is(&r.it[i], e->score))
            fuzz_fail("COMPLETE '%.*s' FUZZY %u%s item %zu: '%.*s', model: '%.*s'", npl, pbuf, d, infix ? " INFIX" : "",
                      i, (int)r.it[i].n, r.it[i].s, (int)e->dlen, e->disp);
    }
}

static void op_save(rd *in, int kind, unsigned fl, unsigned step) {
    (void)step;
    int bad = (fl & 7) == 7;
    cfg.save = bad ? bad_snap : snap_path;
    req q = {0};
    req_adds(&q, cmd_word("SAVE", fl & 3));
    if (exec(&q, kind, NULL) != CMD_SAVE) fuzz_fail("SAVE ran as another command");
    req_free(&q);
    cfg.save = snap_path;
    reply r;
    read_reply(kind, RP_OK, 0, &r);
    expect_outcome(!bad, &r, "SAVE");
    if (!bad) check_snapshot();
    probe(pick_prefix(in, 0), 10, NULL, NULL, kind);
}

static void op_reload(rd *in, int kind, unsigned fl, unsigned step) {
    (void)step;
    int bad = (fl & 7) == 7;
    if (bad && rename(model_path, model_away)) fuzz_fail("cannot move the model away");
    req q = {0};
    req_adds(&q, cmd_word("RELOAD", fl & 3));
    if (exec(&q, kind, NULL) != CMD_RELOAD) fuzz_fail("RELOAD ran as another command");
    req_free(&q);
    if (bad && rename(model_away, model_path)) fuzz_fail("cannot put the model back");
    reply r;
    read_reply(kind, RP_OK, 0, &r);
    expect_outcome(!bad, &r, "RELOAD");
    if (!eng_rank_has_model(R)) fuzz_fail("the ranker lost its model (RELOAD %s)", bad ? "failed" : "ok");
    static const str u1 = S_("u1");
    probe(pick_prefix(in, 0), 10, &u1, NULL, kind);
}

static unsigned budget;

static void op_burst(rd *in, int kind, unsigned fl, unsigned step) {
    (void)step;
    str user = users[next(in) % N_GOOD_USERS];
    str stem = burst_stems[next(in) % ARRAY_LEN(burst_stems)];
    unsigned cb = next(in);
    /* usually a few dozen; flags 7 and a count byte >= 0xf0: 900..1380 (a
     * heavy history, ~100 ms: rare on purpose) */
    unsigned count = (fl & 7) == 7 && cb >= 0xf0 ? 900 + (cb - 0xf0) * 32 : 1 + cb % 48;
    unsigned base = next(in) * 16;
    if (count > budget) count = budget;
    budget -= count;
    opts o;
    memset(&o, 0, sizeof o);
    o.has_user = 1;
    o.user = user;
    static const str ss = S_("sheavy");
    char qb[64];
    for (unsigned i = 0; i < count; i++) {
        o.has_sess = i & 1;
        o.sess = ss;
        int n = snprintf(qb, sizeof qb, "%.*s %04u", (int)stem.n, stem.s, base + i);
        if (!do_accept((str){qb, (size_t)n}, &o, kind, 0, 0)) fuzz_fail("burst ACCEPT refused as invalid");
    }
    check_trie_full();
    probe(stem, 10, &user, NULL, kind);
}

#include "tests/fuzz/fuzz_exec_misc.h" /* op_misc */

typedef void (*op_fn)(rd *in, int kind, unsigned fl, unsigned step);
static const op_fn ops[16] = {op_add,   op_incr,  op_del,   op_get,    op_accept, op_complete, op_save, op_reload,
                              op_burst, op_misc, op_add,   op_incr,   op_accept, op_complete, op_sug,  op_fuzzy};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) env_init();
    if (size < 1) return 0;
    rd in = {data, size, 0};
    state_new(next(&in));
    budget = EX_BUDGET;
    for (unsigned step = 0; step < EX_MAX_CMDS && in.i < in.n; step++) {
        unsigned op = next(&in);
        int kind = (op & 0x10) ? PROTO_RESP : PROTO_TEXT;
        ops[op & 15](&in, kind, op >> 5, step);
    }
    state_free();
    return 0;
}
