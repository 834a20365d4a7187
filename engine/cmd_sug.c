/* cmd_sug.c -- RediSearch's suggestion commands over named dictionaries
 * (engine/dict.h), and the Redis key commands clients send around them.
 *
 *   FT.SUGADD key string score [INCR] [PAYLOAD p]   -> the dictionary's size
 *   FT.SUGGET key prefix [FUZZY] [MAX n] [WITHSCORES] [WITHPAYLOADS]
 *             [TRIM] [OPTIMIZE]                     -> [string [score] [payload] ...]
 *   FT.SUGDEL key string                            -> 1 / 0
 *   FT.SUGLEN key                                   -> size (0: no such key)
 *   EXISTS key...  TYPE key  DEL key key...  FLUSHALL / FLUSHDB
 *
 * Semantics are current RediSearch's (src/suggest.c, src/trie/trie.c; read,
 * not copied), restated:
 *   - one entry per exact string; scores are single-precision floats (the
 *     given double rounded to float; INCR adds in float); a PAYLOAD replaces
 *     the entry's payload only when non-empty (an INCR or a re-add without
 *     one keeps it); a missing key is an empty dictionary; the last SUGDEL
 *     removes the key.
 *   - SUGGET matches case-insensitively: s matches q when F(s) starts with
 *     F(q) (F: per-code-point lowercase); with FUZZY when some prefix of F(s)
 *     is within Levenshtein distance 1 of F(q) (insert, delete, substitute;
 *     no transposition), d = the least such distance (for an empty prefix
 *     d is 1: RediSearch only counts the distances reached after one
 *     character). The reported score is
 *       base = (s "equals" F(q) ? (float)INT_MAX : score)   (see rs_exact: RediSearch
 *              compares the same number of characters, but only as many
 *              bytes of their 16-bit runes, i.e. about the first half)
 *       base *= exp(-2 d)                     (FUZZY only)
 *       base /= sqrt(1 + |chars(s) - bytes(q)|)
 *     each step rounded to float (RediSearch mixes s's length in code
 *     points with q's in bytes; reproduced). The MAX (default 5, >= 1) best
 *     by that score, descending; equal scores in key order (RediSearch's
 *     heap leaves their order unspecified). WITHSCORES sends it as %.17g of
 *     the float (Redis 7.0's double reply in RESP2; a RESP3 double).
 *   - errors: RediSearch's texts (wrong number of arguments, "invalid
 *     score", "Invalid payload: ...", "Unknown argument `X`", "Unrecognized
 *     argument: X", "MAX: ...", "Invalid query length" over 200 bytes,
 *     "Invalid query" over 100 characters), with qac's error codes.
 * Where qac differs (docs/PROTOCOL.md, "Suggestion commands"): strings must
 * be valid UTF-8 without control characters and at most DICT_SUG_MAX bytes
 * (RediSearch silently skips strings of 256+ characters; qac does too, and
 * refuses with ERR TOOLONG those between 256 bytes and that); a score must
 * be finite in float; F is utf8proc's simple lowercase (RediSearch's libnu
 * fold differs on a few code points); SUGGET visits every key under the
 * folded prefix, FUZZY every key of the dictionary (O(matches), O(entries);
 * RediSearch prunes by subtree maxima; the score it reports is not monotone
 * in the stored one, so a top-k by stored score would not do) and keeps the
 * MAX best in a heap; without FUZZY it first tries the TRIE_MAX_K most
 * popular matches, which prove the answer when the MAX-th best reported
 * score is above the last one's stored score (or 0 if that is negative:
 * dividing a negative score raises it toward 0) (sug_best_first). A walk scores
 * at most sug-max-scan keys (then the best of those, STATS sug_truncated).
 * COMPLETE ... DICT is the fast path over the same dictionary.
 *
 * Keys: a name is 1..dict-name-max bytes. A name that holds a dictionary is
 * a Redis key: EXISTS counts it, TYPE says "trietype0" (RediSearch's module
 * type), DEL drops it. qac's own `DEL <query>` keeps its meaning: DEL with
 * one argument removes a query from the default dictionary unless a named
 * dictionary of exactly that name exists; with two or more arguments it is
 * Redis's DEL over dictionaries. FLUSHALL / FLUSHDB drop every named
 * dictionary (the default one is the index, not a key) and only on a
 * server with requirepass, from an authenticated connection.
 */
#include <fnmatch.h>
#include <math.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "common/alloc.h"
#include "common/log.h"
#include "engine/changelog.h"
#include "engine/cmd_internal.h"
#include "engine/dict.h"
#include "engine/store/journal.h"

#define SUG_MAX_PREFIX_CHARS 100 /* RediSearch's TRIE_MAX_PREFIX */
#define SUG_MAX_PREFIX_BYTES 200 /* ... times sizeof(rune) */
#define SUG_MAX_CHARS 255        /* RediSearch inserts strings of fewer than 256 characters */
#define SUG_DEFAULT_MAX 5
#define SUG_BEST_FIRST 50 /* MAX up to this tries the most popular matches first */
#define SUG_SEQ_FIRST (1ull << 62) /* seq of FUZZY's first pass (keys with the first character) */
#define SUG_SEQ_AFTER (1ull << 63) /* seq of its second pass's keys above those */
#define SUG_EXACT_MAX 16  /* case variants of the prefix itself that best-first scores (more: walk) */

static int wrong_arity(cmd_call *c, const char *cmd) {
    snprintf(c->e->errbuf, sizeof c->e->errbuf, "wrong number of arguments for '%s' command", cmd);
    c->msg = c->e->errbuf;
    return ENG_ERR(ERR_ARGS);
}

int cmd_dict_name(cmd_call *c, const proto_arg *a) {
    if (!c->e->dicts) {
        c->msg = "named dictionaries are not available in this server";
        return ENG_ERR(ERR_ARGS);
    }
    if (a->len == 0) {
        c->msg = "empty dictionary name";
        return ENG_ERR(ERR_ARGS);
    }
    if (a->len > c->e->cfg->dict_name_max) {
        snprintf(c->e->errbuf, sizeof c->e->errbuf, "dictionary name over %llu bytes (dict-name-max)",
                 (unsigned long long)c->e->cfg->dict_name_max);
        c->msg = c->e->errbuf;
        return ENG_ERR(ERR_TOOLONG);
    }
    return 0;
}

int eng_dict_prepare(eng *e, const char *prefix, size_t len, const eng_ctx *ctx, const char **msg) {
    if (!e->dicts) {
        *msg = "named dictionaries are not available in this server";
        return ENG_ERR(ERR_ARGS);
    }
    if (ctx->dict_len == 0 || ctx->dict_len > e->cfg->dict_name_max) {
        *msg = ctx->dict_len ? "dictionary name over dict-name-max bytes" : "empty dictionary name";
        return ENG_ERR(ctx->dict_len ? ERR_TOOLONG : ERR_ARGS);
    }
    if (ctx->infix) {
        *msg = "INFIX works on the default dictionary only (the word index covers it alone)";
        return ENG_ERR(ERR_ARGS);
    }
    if (!qutf8_valid(prefix, len)) {
        *msg = "invalid UTF-8";
        return ENG_ERR(ERR_UTF8);
    }
    dict_ent *d = dict_find(e->dicts, ctx->dict, ctx->dict_len);
    int n = d ? dict_fold(prefix, len, e->norm, sizeof e->norm) : -2;
    e->normlen = n < 0 ? 0 : (size_t)n;
    if (n < 0) return 1; /* no such dictionary (an empty one), or longer than any key */
    e->qt = d->t;
    return 0;
}

/* Checks a suggestion string: 1 usable, 0 RediSearch would skip it
 * silently, or ENG_ERR. */
static int sug_string(cmd_call *c, const proto_arg *s) {
    if (s->len == 0) return 0;
    if (!qutf8_valid(s->p, s->len)) {
        c->msg = "invalid UTF-8 in suggestion";
        return ENG_ERR(ERR_UTF8);
    }
    for (size_t i = 0; i < s->len; i++)
        if ((unsigned char)s->p[i] < 0x20 || s->p[i] == 0x7f) {
            c->msg = "control character in suggestion";
            return ENG_ERR(ERR_SYNTAX);
        }
    if (qutf8_count(s->p, s->len) > SUG_MAX_CHARS || s->len > 2 * (SUG_MAX_CHARS + 1)) return 0;
    return 1;
}

/* Journals a dictionary change and, when a client made it, queues it for
 * the change log (engine/changelog.h). */
static void journal_dict_from(eng *e, int from_log, int op, const dict_ent *d, const char *key, size_t klen,
                              const char *disp, size_t dlen, const char *pay, size_t plen, double score) {
    cmd_change_count(e);
    if (e->chg && !from_log) chg_local_dict(e->chg, op, d->name, d->nlen, key, klen, disp, dlen, pay, plen, score);
    if (!e->j) return;
    uint64_t lsn = jrn_add_dict(e->j, op, d->name, d->nlen, key, klen, disp, dlen, pay, plen, score);
    if (lsn) e->wait_lsn = lsn;
    else LOG_E("journal.encode_failed", "msg=\"reserved space missing\"");
}

static void journal_dict(eng *e, int op, const dict_ent *d, const char *key, size_t klen, const char *disp,
                         size_t dlen, const char *pay, size_t plen, double score) {
    journal_dict_from(e, 0, op, d, key, klen, disp, dlen, pay, plen, score);
}

int cmd_sugadd(cmd_call *c) {
    eng *e = c->e;
    if (c->argc < 4 || c->argc > 7) return wrong_arity(c, "ft.sugadd");
    int incr = 0;
    const proto_arg *pay = NULL;
    for (int i = 4; i < c->argc; i++) {
        if (arg_is(&c->argv[i], "INCR")) {
            incr = 1;
        } else if (arg_is(&c->argv[i], "PAYLOAD")) {
            if (i + 1 >= c->argc) {
                c->msg = "Invalid payload: Expected an argument, but none provided";
                return ENG_ERR(ERR_ARGS);
            }
            pay = &c->argv[++i];
        } else {
            snprintf(e->errbuf, sizeof e->errbuf, "Unknown argument `%.*s`",
                     (int)(c->argv[i].len > 64 ? 64 : c->argv[i].len), c->argv[i].p);
            c->msg = e->errbuf;
            return ENG_ERR(ERR_ARGS);
        }
    }
    int rc = cmd_dict_name(c, &c->argv[1]);
    if (rc < 0) return rc;
    double score;
    if (qparse_double(c->argv[3].p, c->argv[3].len, &score) < 0 || !isfinite((float)score)) {
        c->msg = "invalid score";
        return ENG_ERR(ERR_ARGS);
    }
    size_t plen = pay ? pay->len : 0;
    if (plen > e->cfg->dict_payload_max) {
        snprintf(e->errbuf, sizeof e->errbuf, "payload over %llu bytes (dict-payload-max)",
                 (unsigned long long)e->cfg->dict_payload_max);
        c->msg = e->errbuf;
        return ENG_ERR(ERR_TOOLONG);
    }
    const proto_arg *s = &c->argv[2];
    dict_ent *d = dict_find(e->dicts, c->argv[1].p, c->argv[1].len);
    if ((rc = sug_string(c, s)) <= 0) {
        if (rc < 0) return rc;
        OOM(proto_reply_int(c->out, c->kind, d ? (int64_t)trie_count(d->t) : 0));
        return 0;
    }
    int kl = dict_sug_key(s->p, s->len, e->norm, sizeof e->norm);
    if (kl < 0) {
        snprintf(e->errbuf, sizeof e->errbuf, "suggestion too long for qac (at most %d bytes)", DICT_SUG_MAX);
        c->msg = e->errbuf;
        return ENG_ERR(ERR_TOOLONG);
    }
    double old = 0;
    int exists = d && trie_score(d->t, e->norm, (size_t)kl, &old);
    float nv = incr && exists ? (float)old + (float)score : (float)score;
    if (!isfinite(nv)) {
        c->msg = "score out of range: the sum is not a finite float";
        return ENG_ERR(ERR_ARGS);
    }
    if (!d && e->dicts->n >= e->cfg->max_dicts) {
        snprintf(e->errbuf, sizeof e->errbuf, "%llu named dictionaries exist (max-dicts); DEL one first",
                 (unsigned long long)e->dicts->n);
        c->msg = e->errbuf;
        return ENG_ERR(ERR_LIMIT);
    }
    if (!exists && d && trie_count(d->t) >= e->cfg->dict_max_keys) {
        snprintf(e->errbuf, sizeof e->errbuf, "dictionary full: %llu entries (dict-max-keys)",
                 (unsigned long long)trie_count(d->t));
        c->msg = e->errbuf;
        return ENG_ERR(ERR_LIMIT);
    }
    if ((rc = cmd_change_begin(e, &c->msg)) < 0) return rc;
    int created = !d;
    if (!d && !(d = dict_create(e->dicts, c->argv[1].p, c->argv[1].len))) {
        c->msg = "out of memory";
        return ENG_ERR(ERR_NOMEM);
    }
    uint32_t id;
    rc = trie_set(d->t, e->norm, (size_t)kl, s->p, s->len, (double)nv, &id);
    if (rc < 0) { /* nothing changed */
        if (created) dict_drop(e->dicts, d);
        c->msg = trie_strerror(rc);
        return ENG_ERR(rc == TRIE_ENOMEM ? ERR_NOMEM : ERR_ARGS);
    }
    if (!exists) dict_payload_set(d, id, NULL, 0); /* a reused id starts without one (clearing cannot fail) */
    int pay_failed = plen && dict_payload_set(d, id, pay->p, plen) < 0;
    if (pay_failed && !exists) { /* undone: nothing changed */
        trie_del(d->t, e->norm, (size_t)kl);
        if (created) dict_drop(e->dicts, d);
        c->msg = "out of memory";
        return ENG_ERR(ERR_NOMEM);
    }
    uint32_t pl;
    const char *p = dict_payload(d, id, &pl);
    journal_dict(e, JRN_OP_DSET, d, e->norm, (size_t)kl, s->p, s->len, p, pl, (double)nv);
    if (pay_failed) { /* the score changed (journaled as it is), the payload did not */
        c->msg = "out of memory (the score changed, the payload did not)";
        return ENG_ERR(ERR_NOMEM);
    }
    OOM(proto_reply_int(c->out, c->kind, (int64_t)trie_count(d->t)));
    return 0;
}

int cmd_suglen(cmd_call *c) {
    if (c->argc != 2) return wrong_arity(c, "ft.suglen");
    int rc = cmd_dict_name(c, &c->argv[1]);
    if (rc < 0) return rc;
    dict_ent *d = dict_find(c->e->dicts, c->argv[1].p, c->argv[1].len);
    OOM(proto_reply_int(c->out, c->kind, d ? (int64_t)trie_count(d->t) : 0));
    return 0;
}

int cmd_sugdel(cmd_call *c) {
    eng *e = c->e;
    if (c->argc != 3) return wrong_arity(c, "ft.sugdel");
    int rc = cmd_dict_name(c, &c->argv[1]);
    if (rc < 0) return rc;
    dict_ent *d = dict_find(e->dicts, c->argv[1].p, c->argv[1].len);
    const proto_arg *s = &c->argv[2];
    int kl = d && s->len && qutf8_valid(s->p, s->len) ? dict_sug_key(s->p, s->len, e->norm, sizeof e->norm) : -1;
    trie_hit h;
    if (kl < 0 || !trie_get(d->t, e->norm, (size_t)kl, &h)) {
        OOM(proto_reply_int(c->out, c->kind, 0));
        return 0;
    }
    if ((rc = cmd_change_begin(e, &c->msg)) < 0) return rc;
    if ((rc = trie_del(d->t, e->norm, (size_t)kl)) < 0) {
        c->msg = trie_strerror(rc);
        return ENG_ERR(ERR_NOMEM);
    }
    dict_payload_set(d, h.id, NULL, 0);
    journal_dict(e, JRN_OP_DDEL, d, e->norm, (size_t)kl, NULL, 0, NULL, 0, 0);
    if (trie_count(d->t) == 0) dict_drop(e->dicts, d); /* as replay does: the key goes with its last entry */
    OOM(proto_reply_int(c->out, c->kind, 1));
    return 0;
}

/* A key of a dictionary is F(s) 0xFF s (valid UTF-8 has no 0xFF byte: the
 * first is the separator). Its s, when key is the key of its own s, else NULL. */
static const char *own_sug(const char *key, size_t klen, size_t *slen) {
    const char *sep = memchr(key, DICT_SUG_SEP, klen);
    if (!sep) return NULL;
    *slen = klen - (size_t)(sep + 1 - key);
    char k[TRIE_MAX_KEY + 8];
    int kl = *slen && qutf8_valid(sep + 1, *slen) ? dict_sug_key(sep + 1, *slen, k, sizeof k) : -1;
    return kl >= 0 && (size_t)kl == klen && !memcmp(k, key, klen) ? sep + 1 : NULL;
}

int eng_apply_dict_change(eng *e, int op, const char *name, size_t nlen, const char *key, size_t klen,
                          const char *disp, size_t dlen, const char *pay, size_t plen, double score, const char **msg) {
    if (!e->dicts) return *msg = "named dictionaries are not available in this server", ENG_ERR(ERR_ARGS);
    if (!nlen || nlen > JRN_MAX_NAME) return *msg = "dictionary name not 1..1024 bytes", ENG_ERR(ERR_ARGS);
    size_t slen = 0;
    const char *sug = op == JRN_OP_DDROP ? NULL : own_sug(key, klen, &slen);
    if (op != JRN_OP_DDROP && !sug) return *msg = "not a dictionary key (F(s) 0xFF s)", ENG_ERR(ERR_ARGS);
    if (op == JRN_OP_DSET && (dlen != slen || memcmp(disp, sug, slen) || !isfinite((float)score) || plen > JRN_MAX_DATA))
        return *msg = "display is not the key's suggestion, or score/payload out of range", ENG_ERR(ERR_ARGS);
    dict_ent *d = dict_find(e->dicts, name, nlen);
    trie_hit h;
    int exists = d && op != JRN_OP_DDROP && trie_get(d->t, key, klen, &h);
    if (op == JRN_OP_DDROP ? !d : op == JRN_OP_DDEL ? !exists : 0) return 0;
    if (op == JRN_OP_DSET && exists && h.score == (double)(float)score) {
        uint32_t pl;
        const char *p = dict_payload(d, h.id, &pl);
        if (pl == plen && (!plen || !memcmp(p, pay, plen))) return 0;
    }
    int rc = cmd_change_begin(e, msg);
    if (rc < 0) return rc;
    jrn_rec r = {.op = op, .key = key, .klen = klen, .disp = disp, .dlen = dlen, .score = (double)(float)score,
                 .name = name, .nlen = nlen, .data = plen ? pay : NULL, .plen = plen};
    if (op != JRN_OP_DSET) r.disp = NULL, r.dlen = 0, r.score = 0;
    if (op == JRN_OP_DDROP) r.key = NULL, r.klen = 0;
    dict_ent tmp = {.name = (char *)(uintptr_t)name, .nlen = nlen}; /* journal_dict_from reads the name only */
    if ((rc = dict_apply(e->dicts, &r)) < 0) {
        *msg = trie_strerror(rc);
        return ENG_ERR(rc == TRIE_ENOMEM ? ERR_NOMEM : rc == TRIE_EFULL ? ERR_LIMIT : ERR_ARGS);
    }
    journal_dict_from(e, 1, op, &tmp, r.key, r.klen, r.disp, r.dlen, r.data, r.plen, r.score);
    return 1;
}

/* --- FT.SUGGET ---------------------------------------------------------------- */

#define SUG_RUNES (SUG_MAX_PREFIX_CHARS + 1)

typedef struct sug_hit {
    float score;
    uint32_t id;
    uint64_t seq; /* walk (key) order: equal scores keep it */
} sug_hit;

typedef struct sug_query {
    int32_t q[SUG_RUNES]; /* F(prefix) as code points */
    int qn;
    const char *fq;       /* F(prefix) bytes */
    size_t fqlen, qbytes; /* its length; the raw prefix's bytes */
    int fuzzy;
    sug_hit *m; /* the best cap matches so far: a heap, its root the worst (hit_cmp) */
    size_t n, cap;
    uint64_t seq;
    uint64_t scanned, max_scan; /* keys scored; sug-max-scan */
    int cut;                    /* the walk stopped at max_scan */
    size_t skip_len;            /* FUZZY's second pass: keys starting with fq[0, skip_len) were scored */
} sug_query;

/* Least Levenshtein distance between q and any prefix of k (code points),
 * if <= 1; else 2. */
static int prefix_dist1(const sug_query *sq, const int32_t *k, int kn) {
    int qn = sq->qn, prev[SUG_RUNES + 1] = {0}, cur[SUG_RUNES + 1] = {0};
    for (int j = 0; j <= qn; j++) prev[j] = j;
    int best = prev[qn];
    for (int i = 1; i <= kn && best > 0; i++) {
        cur[0] = i;
        int rowmin = cur[0];
        for (int j = 1; j <= qn; j++) {
            int v = prev[j - 1] + (k[i - 1] != sq->q[j - 1]);
            if (prev[j] + 1 < v) v = prev[j] + 1;
            if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
            cur[j] = v;
            if (v < rowmin) rowmin = v;
        }
        if (cur[qn] < best) best = cur[qn];
        memcpy(prev, cur, sizeof(int) * (size_t)(qn + 1));
        if (rowmin > 1) break; /* no longer prefix can come back under 2 */
    }
    return best > 1 ? 2 : best;
}

static int to_runes(const char *s, size_t len, int32_t *out, int cap) {
    int n = 0;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t m = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (m <= 0) return -1;
        if (n >= cap) return n + 1;
        out[n++] = cp;
        i += (size_t)m;
    }
    return n;
}

/* RediSearch's "exact match" test: the same length in characters, and
 * memcmp of the folded query's and the stored string's 16-bit runes over
 * as many BYTES as there are characters (so only the first half of the
 * runes, and the low byte of the middle one, are compared). Reproduced. */
static int rs_exact(const sug_query *sq, const char *disp, size_t dlen, size_t slen) {
    if (sq->qn <= 0 || slen != (size_t)sq->qn) return 0;
    int32_t r[SUG_RUNES];
    if (to_runes(disp, dlen, r, SUG_RUNES) != sq->qn) return 0;
    for (size_t b = 0; b < slen; b++) {
        unsigned shift = (unsigned)(b % 2) * 8;
        if ((((uint16_t)sq->q[b / 2] >> shift) & 0xff) != (((uint16_t)r[b / 2] >> shift) & 0xff)) return 0;
    }
    return 1;
}

/* The reply's order: score descending, then walk (key) order. */
static int hit_cmp(const void *a, const void *b) {
    const sug_hit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Keeps the best sq->cap hits in a heap whose root is the worst of them, so
 * a request holds MAX hits, not every match. A later hit of equal score
 * loses to the root (its seq is larger), as the reply's order wants. */
static void heap_offer(sug_query *sq, sug_hit x) {
    sug_hit *m = sq->m;
    size_t i;
    if (sq->n < sq->cap) { /* sift up */
        for (i = sq->n++; i > 0 && hit_cmp(&x, &m[(i - 1) / 2]) > 0; i = (i - 1) / 2) m[i] = m[(i - 1) / 2];
        m[i] = x;
        return;
    }
    if (sq->cap == 0 || hit_cmp(&x, &m[0]) >= 0) return; /* not better than the worst kept */
    for (i = 0;;) { /* sift down from the root */
        size_t c = 2 * i + 1;
        if (c >= sq->n) break;
        if (c + 1 < sq->n && hit_cmp(&m[c + 1], &m[c]) > 0) c++;
        if (hit_cmp(&m[c], &x) <= 0) break;
        m[i] = m[c];
        i = c;
    }
    m[i] = x;
}

static int sug_each(void *ud, const trie_hit *h) {
    sug_query *sq = ud;
    if (sq->scanned++ == sq->max_scan) return sq->cut = 1;
    const char *key = trie_hit_key(h);
    uint64_t seq_base = 0; /* keeps equal scores in key order across FUZZY's two passes */
    if (sq->skip_len) {
        int c = memcmp(key, sq->fq, h->keylen < sq->skip_len ? h->keylen : sq->skip_len);
        if (c == 0 && h->keylen >= sq->skip_len) return 0; /* scored in the first pass */
        seq_base = c < 0 ? 0 : SUG_SEQ_AFTER;
    } else if (sq->fuzzy && sq->fqlen) {
        seq_base = SUG_SEQ_FIRST;
    }
    const char *sep = memchr(key, DICT_SUG_SEP, h->keylen);
    size_t flen = sep ? (size_t)(sep - key) : h->keylen;
    int dist = 0;
    if (!sq->fuzzy) {
        if (flen < sq->fqlen || memcmp(key, sq->fq, sq->fqlen) != 0) return 0;
    } else {
        int32_t k[SUG_MAX_CHARS + 2];
        int kn = to_runes(key, flen, k, SUG_MAX_CHARS + 1);
        if (kn < 0) return 0;
        if (kn > sq->qn + 1) kn = sq->qn + 1; /* prefixes longer than q + 1 are 2+ away */
        if ((dist = prefix_dist1(sq, k, kn)) > 1) return 0;
        if (sq->qn == 0) dist = 1; /* RediSearch counts the states after the first character only */
    }
    const char *disp = trie_hit_display(h);
    size_t slen = qutf8_count(disp, h->displen);
    float sc = rs_exact(sq, disp, h->displen, slen) ? (float)INT_MAX : (float)h->score;
    if (sq->fuzzy) sc = (float)(sc * exp((double)-(2 * dist)));
    sc = (float)(sc / sqrt((double)(1 + (slen >= sq->qbytes ? slen - sq->qbytes : sq->qbytes - slen))));
    heap_offer(sq, (sug_hit){sc, h->id, seq_base + sq->seq++});
    return 0;
}

/* One element of FT.SUGGET's list: RESP a bulk string; text one line, its
 * control bytes shown as '?' (a payload may hold any bytes: it must not
 * forge reply lines), as PING does. */
static int sug_item(qbuf *out, int kind, const char *p, size_t n) {
    size_t at = out->len;
    if (proto_reply_item(out, kind, p, n) < 0) return -1;
    if (kind != PROTO_RESP)
        for (size_t i = at; i < at + n; i++)
            if ((unsigned char)out->data[i] < 0x20 || out->data[i] == 0x7f) out->data[i] = '?';
    return 0;
}

static int parse_error(cmd_call *c, const char *what, const char *why) {
    snprintf(c->e->errbuf, sizeof c->e->errbuf, "%s: %s", what, why);
    c->msg = c->e->errbuf;
    return ENG_ERR(ERR_ARGS);
}

static int key_cmp(const void *a, const void *b) {
    const trie_hit *x = *(trie_hit *const *)a, *y = *(trie_hit *const *)b;
    size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
    int r = memcmp(trie_hit_key(x), trie_hit_key(y), n);
    return r ? r : (x->keylen > y->keylen) - (x->keylen < y->keylen);
}

struct exact_ids {
    uint32_t id[SUG_EXACT_MAX];
    int n;
};
static int collect_exact(void *ud, const trie_hit *h) {
    struct exact_ids *x = ud;
    if (x->n == SUG_EXACT_MAX) return 1;
    x->id[x->n++] = h->id;
    return 0;
}

/* Without FUZZY, the best MAX (<= SUG_BEST_FIRST) from the most popular
 * matches, when they prove it: the reported score of a key is at most its
 * stored score (divided by sqrt(1 + ...) >= 1; for a negative one: below
 * 0), except RediSearch's "exact
 * match" boost, which only keys whose folded part IS F(prefix) can get (the
 * subtree F(prefix) 0xFF, scored separately). So with the trie's top
 * TRIE_MAX_K matches by stored score scored, every other key reports at most
 * the last one's stored score; when the MAX-th best found is above it, the
 * answer is exact. Equal scores are ordered by key bytes, as the walk orders
 * them. Returns 1 (answered into sq), 0 (not proved: walk instead). */
static int sug_best_first(eng *e, dict_ent *d, sug_query *sq) {
    char fx[TRIE_MAX_KEY + 1]; /* F(prefix) 0xFF: the entries whose folded part is the prefix */
    if (sq->fuzzy || sq->cap > SUG_BEST_FIRST || sq->fqlen + 1 > sizeof fx) return 0;
    int n = trie_topk(d->t, sq->fq, sq->fqlen, TRIE_MAX_K, e->hits);
    if (n <= 0) return n == 0;
    struct exact_ids x = {.n = 0};
    memcpy(fx, sq->fq, sq->fqlen);
    fx[sq->fqlen] = DICT_SUG_SEP;
    if (trie_foreach_prefix(d->t, fx, sq->fqlen + 1, collect_exact, &x) != 0) return 0; /* too many */
    trie_hit xh[SUG_EXACT_MAX];
    const trie_hit *all[TRIE_MAX_K + SUG_EXACT_MAX];
    int m = 0;
    for (int i = 0; i < n; i++) all[m++] = &e->hits[i];
    for (int j = 0; j < x.n; j++) {
        int seen = 0;
        for (int i = 0; i < n && !seen; i++) seen = e->hits[i].id == x.id[j];
        if (!seen && trie_get_id(d->t, x.id[j], &xh[j])) all[m++] = &xh[j];
    }
    qsort(all, (size_t)m, sizeof *all, key_cmp);
    for (int i = 0; i < m; i++) sug_each(sq, all[i]);
    if (n < TRIE_MAX_K) return 1; /* every match was scored */
    /* a negative stored score reports above itself (closer to 0) but below 0 */
    float bound = e->hits[n - 1].score >= 0 ? (float)e->hits[n - 1].score : 0.0f;
    return sq->n == sq->cap && sq->m[0].score > bound;
}

int cmd_sugget(cmd_call *c) {
    eng *e = c->e;
    if (c->argc < 3 || c->argc > 10) return wrong_arity(c, "ft.sugget");
    const proto_arg *pre = &c->argv[2];
    if (pre->len > SUG_MAX_PREFIX_BYTES) {
        c->msg = "Invalid query length";
        return ENG_ERR(ERR_TOOLONG);
    }
    int fuzzy = 0, ws = 0, wp = 0;
    uint64_t max = SUG_DEFAULT_MAX;
    for (int i = 3; i < c->argc; i++) {
        const proto_arg *a = &c->argv[i];
        if (arg_is(a, "FUZZY")) fuzzy = 1;
        else if (arg_is(a, "WITHSCORES")) ws = 1;
        else if (arg_is(a, "WITHPAYLOADS")) wp = 1;
        else if (arg_is(a, "TRIM") || arg_is(a, "OPTIMIZE")) continue; /* see docs/PROTOCOL.md */
        else if (arg_is(a, "MAX")) {
            if (i + 1 >= c->argc) return parse_error(c, "MAX", "Expected an argument, but none provided");
            int64_t v;
            if (qparse_i64(c->argv[i + 1].p, c->argv[i + 1].len, &v) < 0)
                return parse_error(c, "MAX", "Could not convert argument to expected type");
            if (v < 1) return parse_error(c, "MAX", "Value is outside acceptable bounds");
            max = (uint64_t)v;
            i++;
        } else {
            snprintf(e->errbuf, sizeof e->errbuf, "Unrecognized argument: %.*s", (int)(a->len > 64 ? 64 : a->len),
                     a->p);
            c->msg = e->errbuf;
            return ENG_ERR(ERR_ARGS);
        }
    }
    int rc = cmd_dict_name(c, &c->argv[1]);
    if (rc < 0) return rc;
    if (!qutf8_valid(pre->p, pre->len)) {
        c->msg = "Invalid query";
        return ENG_ERR(ERR_UTF8);
    }
    int fl = dict_fold(pre->p, pre->len, e->norm, sizeof e->norm);
    sug_query sq = {.fq = e->norm, .fqlen = fl < 0 ? 0 : (size_t)fl, .qbytes = pre->len, .fuzzy = fuzzy};
    sq.qn = fl < 0 ? -1 : to_runes(e->norm, (size_t)fl, sq.q, SUG_RUNES);
    if (sq.qn < 0 || sq.qn > SUG_MAX_PREFIX_CHARS) {
        c->msg = "Invalid query";
        return ENG_ERR(ERR_ARGS);
    }
    dict_ent *d = dict_find(e->dicts, c->argv[1].p, c->argv[1].len);
    if (!d) {
        OOM(proto_reply_list_head(c->out, c->kind, 0));
        return 0;
    }
    sq.cap = trie_count(d->t) < max ? (size_t)trie_count(d->t) : (size_t)max;
    sug_hit local[SUG_BEST_FIRST]; /* the usual MAX (<= 50) needs no allocation */
    sq.m = sq.cap <= SUG_BEST_FIRST ? local : qmalloc(sq.cap * sizeof *sq.m);
    if (!sq.m) {
        c->msg = "out of memory";
        return ENG_ERR(ERR_NOMEM);
    }
    /* without FUZZY only keys whose folded part starts with F(prefix) can
     * match: the most popular of them first (sug_best_first), else the walk
     * of that subtree; FUZZY (an edit anywhere, the first character
     * included) walks every key, those keeping the first character first. A
     * walk scores at most sug-max-scan keys. */
    sq.max_scan = e->cfg->sug_max_scan;
    if (!sug_best_first(e, d, &sq)) {
        sq.n = sq.seq = sq.scanned = 0, sq.cut = 0;
        if (fuzzy && sq.fqlen) { /* first the keys that keep the first character (most typos do, and a
                                    cut walk then has scored them), then the others */
            size_t first = 1;
            while (first < sq.fqlen && ((unsigned char)sq.fq[first] & 0xC0) == 0x80) first++;
            if (trie_foreach_prefix(d->t, sq.fq, first, sug_each, &sq) == 0) {
                sq.skip_len = first;
                trie_foreach(d->t, sug_each, &sq);
            }
        } else if (fuzzy) {
            trie_foreach(d->t, sug_each, &sq);
        } else {
            trie_foreach_prefix(d->t, sq.fq, sq.fqlen, sug_each, &sq);
        }
        if (sq.cut) e->stats.sug_truncated++;
    }
    qsort(sq.m, sq.n, sizeof *sq.m, hit_cmp);
    size_t n = sq.n < max ? sq.n : (size_t)max;
    int per = 1 + ws + wp;
    rc = proto_reply_list_head(c->out, c->kind, (uint64_t)n * (uint64_t)per);
    for (size_t i = 0; i < n && rc >= 0; i++) {
        trie_hit h;
        if (!trie_get_id(d->t, sq.m[i].id, &h)) continue; /* cannot happen */
        rc = sug_item(c->out, c->kind, trie_hit_display(&h), h.displen);
        if (rc >= 0 && ws) {
            char num[40];
            int nn = snprintf(num, sizeof num, "%.17g", (double)sq.m[i].score);
            if (c->kind == PROTO_RESP && e->client->resp3) {
                char line[48];
                int m = snprintf(line, sizeof line, ",%s\r\n", num);
                rc = qbuf_append(c->out, line, (size_t)m);
            } else {
                rc = sug_item(c->out, c->kind, num, (size_t)nn);
            }
        }
        if (rc >= 0 && wp) {
            uint32_t pl;
            const char *p = dict_payload(d, sq.m[i].id, &pl);
            rc = p ? sug_item(c->out, c->kind, p, pl)
                   : c->kind == PROTO_RESP ? proto_reply_null(c->out, c->kind, e->client->resp3)
                                           : sug_item(c->out, c->kind, "", 0); /* text: an empty line */
        }
    }
    if (sq.m != local) qfree(sq.m);
    OOM(rc);
    return 0;
}

/* --- Redis key commands ---------------------------------------------------- */

int cmd_exists(cmd_call *c) {
    int64_t n = 0;
    for (int i = 1; i < c->argc; i++)
        if (c->e->dicts && dict_find(c->e->dicts, c->argv[i].p, c->argv[i].len)) n++;
    OOM(proto_reply_int(c->out, c->kind, n));
    return 0;
}

int cmd_type(cmd_call *c) {
    int have = c->e->dicts && dict_find(c->e->dicts, c->argv[1].p, c->argv[1].len);
    OOM(proto_reply_status(c->out, c->kind, have ? "trietype0" : "none"));
    return 0;
}

/* KEYS pattern: Redis's glob (* ? [...] and \ escapes: fnmatch without
 * flags) over the names, in name order. Names are binary: one holding a NUL
 * byte matches only the pattern "*". At most max-dicts names, so the reply
 * is bounded like every other. */
int cmd_keys(cmd_call *c) {
    eng *e = c->e;
    const proto_arg *pat = &c->argv[1];
    char p[JRN_MAX_NAME + 1], name[JRN_MAX_NAME + 1];
    int all = pat->len == 1 && pat->p[0] == '*';
    if (pat->len > JRN_MAX_NAME || memchr(pat->p, 0, pat->len)) {
        c->msg = "KEYS pattern over 1024 bytes or holding a NUL byte";
        return ENG_ERR(ERR_ARGS);
    }
    memcpy(p, pat->p, pat->len);
    p[pat->len] = 0;
    size_t n = 0, cap = e->dicts ? e->dicts->n : 0;
    for (int pass = 0; pass < 2; pass++) { /* count, then reply */
        if (pass) OOM(proto_reply_list_head(c->out, c->kind, n));
        for (size_t i = 0; i < cap; i++) {
            const dict_ent *d = e->dicts->v[i];
            int hit = all;
            if (!hit && !memchr(d->name, 0, d->nlen)) {
                memcpy(name, d->name, d->nlen);
                name[d->nlen] = 0;
                hit = fnmatch(p, name, 0) == 0;
            }
            if (!hit) continue;
            if (!pass) n++;
            else OOM(sug_item(c->out, c->kind, d->name, d->nlen));
        }
    }
    return 0;
}

int cmd_dbsize(cmd_call *c) {
    OOM(proto_reply_int(c->out, c->kind, c->e->dicts ? (int64_t)c->e->dicts->n : 0));
    return 0;
}

static void drop_journaled(eng *e, dict_ent *d) {
    journal_dict(e, JRN_OP_DDROP, d, NULL, 0, NULL, 0, NULL, 0, 0);
    dict_drop(e->dicts, d);
}

int cmd_del_dicts(cmd_call *c) {
    eng *e = c->e;
    int64_t n = 0;
    for (int i = 1; i < c->argc; i++) {
        dict_ent *d = e->dicts ? dict_find(e->dicts, c->argv[i].p, c->argv[i].len) : NULL;
        if (!d) continue;
        int rc = cmd_change_begin(e, &c->msg);
        if (rc < 0 && !n) return rc;
        if (rc < 0) break; /* those dropped so far are counted */
        drop_journaled(e, d);
        n++;
    }
    OOM(proto_reply_int(c->out, c->kind, n));
    return 0;
}

int cmd_flushall(cmd_call *c) {
    eng *e = c->e;
    if (c->argc > 2 || (c->argc == 2 && !arg_is(&c->argv[1], "ASYNC") && !arg_is(&c->argv[1], "SYNC"))) {
        c->msg = "syntax error: FLUSHALL [ASYNC|SYNC]";
        return ENG_ERR(ERR_ARGS);
    }
    if (!eng_auth_required(e)) { /* (with requirepass, eng_exec already refused it before AUTH) */
        c->msg = "FLUSHALL needs a server with requirepass and an authenticated connection";
        return ENG_ERR(ERR_ARGS);
    }
    while (e->dicts && e->dicts->n) {
        int rc = cmd_change_begin(e, &c->msg);
        if (rc < 0) return rc;
        drop_journaled(e, e->dicts->v[e->dicts->n - 1]);
    }
    OOM(proto_reply_ok(c->out, c->kind));
    return 0;
}

