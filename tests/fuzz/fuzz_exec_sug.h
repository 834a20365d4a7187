/* fuzz_exec_sug.h -- op_sug of the stateful command fuzzer (tests/fuzz/fuzz_exec.c, included once there,
 * after the request builders): RediSearch's suggestion commands over named dictionaries
 * (engine/cmd_sug.c) and the Redis key commands and COMPLETE ... DICT around them, against a model
 * written here from the documented rules (docs/PROTOCOL.md "Suggestion commands"), not from cmd_sug.c:
 *   - three dictionaries "sug0".."sug2", up to SG_MAX entries each: exact strings (case variants are
 *     entries of their own), float32 scores (INCR adds in float), payloads (replaced only by a non-empty
 *     PAYLOAD); a dictionary exists while it has an entry;
 *   - sub-ops (byte % 8): 0-2 FT.SUGADD (a bad score or a float overflow must fail and change nothing;
 *     the reply is the size), 3 FT.SUGDEL (1/0), 4 FT.SUGLEN, 5 FT.SUGGET [FUZZY] [MAX n] WITHSCORES
 *     WITHPAYLOADS (always RESP2: every match of the model scored by RediSearch's formula -- folded
 *     prefix match or least prefix Levenshtein distance <= 1 (an empty FUZZY prefix counts 1), the 2^31
 *     "exact" quirk over half the 16-bit runes, exp(-2d), / sqrt(1 + |chars - prefix bytes|), each
 *     step in float -- sorted by score, ties by key F(s) 0xFF s; the reply must be exactly its first
 *     MAX: strings, "%.17g" scores, payloads or nil), 6 EXISTS / TYPE / DEL of a name (DEL drops a
 *     dictionary), 7 COMPLETE prefix DICT name LIMIT k WITHSCORES (popularity order over the folded
 *     keys: score desc, key asc; the stored float scores);
 *   - op_del's `DEL key` of a name that holds a dictionary drops it (sg_drop_if_dict, called there).
 * Every dictionary is dropped at the end of an input (sg_reset: DEL of each, checked). */
#ifndef QAC_FUZZ_EXEC_SUG_H
#define QAC_FUZZ_EXEC_SUG_H

#include <limits.h>
#include <math.h>
#include <utf8proc.h>

#include "engine/dict.h"

#define SG_NAMES 3
#define SG_MAX 48

typedef struct sg_ent {
    char s[48], pay[16];
    size_t n, pn;
    float score;
} sg_ent;
static sg_ent sg[SG_NAMES][SG_MAX];
static int sgn[SG_NAMES];
static dict_set *SGD; /* E.dicts */

static const char *const sg_strings[] = {"hello", "Hello", "help", "helo", "yellow", "world", "hello world",
                                         "HeLp me", "a", "ab", "\xc3\x84" "b", "\xc3\xa4" "b", "x y", "wor"};
static const char *const sg_prefixes[] = {"", "h", "he", "hel", "HEL", "hello w", "x", "\xc3\xa4", "wor", "yel",
                                          "\xc3\x84", "jello", "b"};
static const char *const sg_scores[] = {"1", "2", "0.5", "-1", "3.25", "0", "1e39", "x", "10", "1e-3"};
static const char *const sg_pays[] = {"p", "q", "", "payload"};

static float f32(double v) { return (float)v; }


static size_t sg_fold(const char *s, size_t n, int32_t *dst) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t m = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (m <= 0) fuzz_fail("sug model: invalid UTF-8 in a table string");
        dst[k++] = utf8proc_tolower(cp);
        i += (size_t)m;
    }
    return k;
}
static size_t sg_runes(const char *s, size_t n, int32_t *dst) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t m = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        dst[k++] = cp;
        i += (size_t)(m > 0 ? m : 1);
    }
    return k;
}
/* the trie key F(s) 0xFF s, for the tie order */
static size_t sg_key(const sg_ent *e, char *dst) {
    int32_t r[64];
    size_t n = sg_fold(e->s, e->n, r), o = 0;
    for (size_t i = 0; i < n; i++) o += (size_t)utf8proc_encode_char(r[i], (utf8proc_uint8_t *)dst + o);
    dst[o++] = '\xff';
    memcpy(dst + o, e->s, e->n);
    return o + e->n;
}

typedef struct sg_hit {
    const sg_ent *e;
    float sc;
    char key[160];
    size_t kn;
} sg_hit;
static sg_hit sg_hits[SG_MAX];

static int sg_hit_cmp(const void *a, const void *b) {
    const sg_hit *x = a, *y = b;
    if (x->sc != y->sc) return x->sc > y->sc ? -1 : 1;
    size_t m = x->kn < y->kn ? x->kn : y->kn;
    int c = memcmp(x->key, y->key, m);
    return c ? c : x->kn < y->kn ? -1 : x->kn > y->kn;
}
/* By stored score, then key: COMPLETE ... DICT's order. */
static int sg_pop_cmp(const void *a, const void *b) {
    const sg_hit *x = a, *y = b;
    if (x->e->score != y->e->score) return x->e->score > y->e->score ? -1 : 1;
    size_t m = x->kn < y->kn ? x->kn : y->kn;
    int c = memcmp(x->key, y->key, m);
    return c ? c : x->kn < y->kn ? -1 : x->kn > y->kn;
}

/* RediSearch's FT.SUGGET over dictionary d: every match, best first. */
static size_t sg_expect(int d, const char *pre, int fuzzy) {
    int32_t q[128], s[64], f[64];
    size_t qn = sg_fold(pre, strlen(pre), q), qbytes = strlen(pre), n = 0;
    for (int i = 0; i < sgn[d]; i++) {
        const sg_ent *e = &sg[d][i];
        size_t fn = sg_fold(e->s, e->n, f), sn = sg_runes(e->s, e->n, s);
        int dist = 0;
        if (!fuzzy) {
            if (fn < qn || memcmp(f, q, qn * sizeof *q)) continue;
        } else if (qn == 0) {
            dist = 1;
        } else { /* least distance between q and f[0..i), i >= 1 */
            int prev[130], cur[130], best = 9;
            for (size_t j = 0; j <= qn; j++) prev[j] = (int)j;
            for (size_t i2 = 1; i2 <= fn; i2++) {
                cur[0] = (int)i2;
                for (size_t j = 1; j <= qn; j++) {
                    int v = prev[j - 1] + (f[i2 - 1] != q[j - 1]);
                    if (prev[j] + 1 < v) v = prev[j] + 1;
                    if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
                    cur[j] = v;
                }
                if (cur[qn] < best) best = cur[qn];
                memcpy(prev, cur, sizeof prev);
            }
            if (best > 1) continue;
            dist = best;
        }
        int exact = sn == qn;
        for (size_t b = 0; exact && b < sn; b++)
            exact = (((uint16_t)q[b / 2] >> (b % 2 * 8)) & 255) == (((uint16_t)s[b / 2] >> (b % 2 * 8)) & 255);
        float v = exact ? (float)INT_MAX : e->score;
        if (fuzzy) v = f32(v * exp((double)-(2 * dist)));
        v = f32(v / sqrt((double)(1 + (sn >= qbytes ? sn - qbytes : qbytes - sn))));
        sg_hits[n].e = e;
        sg_hits[n].sc = v;
        sg_hits[n].kn = sg_key(e, sg_hits[n].key);
        n++;
    }
    qsort(sg_hits, n, sizeof *sg_hits, sg_hit_cmp);
    return n;
}

/* A RESP2 array of bulk strings / nils (FT.SUGGET's reply): items into it[], nil as n == SIZE_MAX. */
static size_t sg_parse(const char *p, size_t len, str *it, size_t cap) {
    const char *end = p + len, *e = line_end(p, end);
    int64_t cnt;
    if (!e || p[0] != '*' || parse_int(p + 1, (size_t)(e - p - 1), &cnt) < 0 || cnt < 0 || (size_t)cnt > cap)
        fuzz_fail("FT.SUGGET: not an array: %.*s", (int)len, p);
    p = e + 2;
    for (int64_t i = 0; i < cnt; i++) {
        int64_t bl = 0;
        e = line_end(p, end);
        if (!e || (p[0] != '$' && p[0] != '_' && p[0] != ',') ||
            (p[0] == '$' && parse_int(p + 1, (size_t)(e - p - 1), &bl) < 0))
            fuzz_fail("FT.SUGGET: bad item");
        if (p[0] == '_' || p[0] == ',') { /* RESP3 (after a HELLO 3 of op_misc): null, double */
            it[i] = p[0] == '_' ? (str){NULL, SIZE_MAX} : (str){p + 1, (size_t)(e - p - 1)};
            p = e + 2;
            continue;
        }
        if (bl == -1) {
            it[i] = (str){NULL, SIZE_MAX};
            p = e + 2;
            continue;
        }
        if (bl < 0 || end - (e + 2) < bl + 2) fuzz_fail("FT.SUGGET: item past the end");
        it[i] = (str){e + 2, (size_t)bl};
        p = e + 2 + bl + 2;
    }
    if (p != end) fuzz_fail("FT.SUGGET: bytes after the array");
    return (size_t)cnt;
}

static sg_ent *sg_find(int d, const char *s, size_t n) {
    for (int i = 0; i < sgn[d]; i++)
        if (sg[d][i].n == n && !memcmp(sg[d][i].s, s, n)) return &sg[d][i];
    return NULL;
}

/* op_del's DEL key: a name holding a dictionary drops it (1 from the reply); returns 1 when it did. */
static int sg_drop_if_dict(str key) {
    for (int d = 0; d < SG_NAMES; d++) {
        char nm[8];
        snprintf(nm, sizeof nm, "sug%d", d);
        if (sgn[d] && key.n == 4 && !memcmp(key.s, nm, 4)) {
            sgn[d] = 0;
            return 1;
        }
    }
    return 0;
}

static void sg_check_len(int d, int kind) {
    char nm[8];
    snprintf(nm, sizeof nm, "sug%d", d);
    req q = {0};
    req_adds(&q, "FT.SUGLEN");
    req_adds(&q, nm);
    exec(&q, kind, NULL);
    req_free(&q);
    reply r;
    read_reply(kind, RP_INT, 0, &r);
    if (r.err || r.ival != sgn[d]) fuzz_fail("FT.SUGLEN %s: %.*s, model %d", nm, (int)r.rawn, r.raw, sgn[d]);
    dict_ent *de = dict_find(SGD, nm, 4);
    if ((de ? (int)trie_count(de->t) : 0) != sgn[d] || (!de) != (sgn[d] == 0))
        fuzz_fail("dictionary %s: %llu entries, model %d", nm, de ? (unsigned long long)trie_count(de->t) : 0ull, sgn[d]);
}

static void op_sug(rd *in, int kind, unsigned fl, unsigned step) {
    (void)step;
    unsigned sub = next(in) % 8;
    int d = next(in) % SG_NAMES;
    char nm[8];
    snprintf(nm, sizeof nm, "sug%d", d);
    const char *s = sg_strings[next(in) % ARRAY_LEN(sg_strings)];
    req q = {0};
    reply r;
    if (sub <= 2) {
        const char *sc = sg_scores[next(in) % ARRAY_LEN(sg_scores)];
        const char *pay = (fl & 1) ? sg_pays[next(in) % ARRAY_LEN(sg_pays)] : NULL;
        int incr = (fl >> 1) & 1;
        req_adds(&q, "FT.SUGADD"), req_adds(&q, nm), req_adds(&q, s), req_adds(&q, sc);
        if (incr) req_adds(&q, "INCR");
        if (pay) req_adds(&q, "PAYLOAD"), req_adds(&q, pay);
        if (exec(&q, kind, NULL) != CMD_SUGADD) fuzz_fail("FT.SUGADD ran as another command");
        req_free(&q);
        read_reply(kind, RP_INT, 0, &r);
        double v;
        sg_ent *e = sg_find(d, s, strlen(s));
        int ok = qparse_double(sc, strlen(sc), &v) == 0 && isfinite((float)v);
        float nv = ok ? (incr && e ? e->score + (float)v : (float)v) : 0;
        ok = ok && isfinite(nv) && (e || sgn[d] < SG_MAX);
        if (!ok && !r.err && !(e || sgn[d] < SG_MAX)) fuzz_fail("harness: sug model full");
        expect_outcome(ok, &r, "FT.SUGADD");
        if (ok) {
            if (!e) {
                e = &sg[d][sgn[d]++];
                memcpy(e->s, s, e->n = strlen(s));
                e->pn = 0;
            }
            e->score = nv;
            if (pay && *pay) memcpy(e->pay, pay, e->pn = strlen(pay));
            if (r.ival != sgn[d]) fuzz_fail("FT.SUGADD replied %lld, model %d", (long long)r.ival, sgn[d]);
        }
    } else if (sub == 3) {
        req_adds(&q, "FT.SUGDEL"), req_adds(&q, nm), req_adds(&q, s);
        exec(&q, kind, NULL);
        req_free(&q);
        read_reply(kind, RP_INT, 0, &r);
        sg_ent *e = sg_find(d, s, strlen(s));
        if (r.err || r.ival != (e != NULL)) fuzz_fail("FT.SUGDEL replied %.*s, model %d", (int)r.rawn, r.raw, e != NULL);
        if (e) *e = sg[d][--sgn[d]];
    } else if (sub == 5) {
        const char *pre = sg_prefixes[next(in) % ARRAY_LEN(sg_prefixes)];
        int fuzzy = fl & 1;
        unsigned max = (fl & 2) ? 1 + next(in) % 12 : 5;
        char mb[8];
        snprintf(mb, sizeof mb, "%u", max);
        req_adds(&q, "FT.SUGGET"), req_adds(&q, nm), req_adds(&q, pre);
        if (fuzzy) req_adds(&q, "FUZZY");
        if (fl & 2) req_adds(&q, "MAX"), req_adds(&q, mb);
        req_adds(&q, "WITHSCORES"), req_adds(&q, "WITHPAYLOADS");
        exec(&q, PROTO_RESP, NULL);
        req_free(&q);
        size_t n = sg_expect(d, pre, fuzzy);
        if (n > max) n = max;
        static str it[3 * SG_MAX];
        size_t got = sg_parse(out.data, out.len, it, ARRAY_LEN(it));
        if (got != 3 * n) fuzz_fail("FT.SUGGET %s '%s': %zu items, model %zu", nm, pre, got / 3, n);
        for (size_t i = 0; i < n; i++) {
            const sg_hit *h = &sg_hits[i];
            char want[40];
            snprintf(want, sizeof want, "%.17g", (double)h->sc);
            const str *a = &it[3 * i];
            if (a[0].n != h->e->n || memcmp(a[0].s, h->e->s, h->e->n) || a[1].n != strlen(want) ||
                memcmp(a[1].s, want, a[1].n) || (h->e->pn ? a[2].n != h->e->pn || memcmp(a[2].s, h->e->pay, h->e->pn)
                                                          : a[2].n != SIZE_MAX))
                fuzz_fail("FT.SUGGET %s '%s'%s item %zu: got '%.*s' %.*s, model '%.*s' %s", nm, pre,
                          fuzzy ? " FUZZY" : "", i, (int)a[0].n, a[0].s, (int)(a[1].n == SIZE_MAX ? 0 : a[1].n),
                          a[1].s, (int)h->e->n, h->e->s, want);
        }
    } else if (sub == 6) {
        unsigned w = next(in) % 3;
        if (w == 2 && !sgn[d]) w = 0; /* DEL of a name with no dictionary would be qac's DEL <query> */
        req_adds(&q, w == 0 ? "EXISTS" : w == 1 ? "TYPE" : "DEL"), req_adds(&q, nm);
        if (w == 0 && (fl & 1)) req_adds(&q, nm), req_adds(&q, "sug9");
        exec(&q, kind, NULL);
        req_free(&q);
        read_reply(kind, w == 1 ? RP_ANY : RP_INT, 0, &r);
        if (r.err) fuzz_fail("EXISTS/TYPE/DEL %s: %.*s", nm, (int)r.rawn, r.raw);
        int have = sgn[d] > 0;
        if (w == 0 && r.ival != have * ((fl & 1) ? 2 : 1)) fuzz_fail("EXISTS %s: %lld", nm, (long long)r.ival);
        if (w == 1 && (r.rawn < 5 || !memmem(r.raw, r.rawn, have ? "trietype0" : "none", have ? 9 : 4)))
            fuzz_fail("TYPE %s: %.*s", nm, (int)r.rawn, r.raw);
        if (w == 2) {
            if (r.ival != have) fuzz_fail("DEL %s replied %lld, model %d", nm, (long long)r.ival, have);
            sgn[d] = 0;
        }
    } else if (sub == 7) {
        const char *pre = sg_prefixes[next(in) % ARRAY_LEN(sg_prefixes)];
        unsigned k = 1 + next(in) % 10;
        char kb[8];
        snprintf(kb, sizeof kb, "%u", k);
        req_adds(&q, "COMPLETE"), req_adds(&q, pre), req_adds(&q, "DICT"), req_adds(&q, nm);
        req_adds(&q, "LIMIT"), req_adds(&q, kb), req_adds(&q, "WITHSCORES");
        exec(&q, kind, NULL);
        req_free(&q);
        read_reply(kind, RP_LIST, 1, &r);
        if (r.err) fuzz_fail("COMPLETE DICT: %.*s", (int)r.rawn, r.raw);
        int32_t qf[64];
        size_t qn = sg_fold(pre, strlen(pre), qf), n = 0;
        char fq[256];
        size_t fqn = 0;
        for (size_t i = 0; i < qn; i++) fqn += (size_t)utf8proc_encode_char(qf[i], (utf8proc_uint8_t *)fq + fqn);
        for (int i = 0; i < sgn[d]; i++) {
            sg_hits[n].e = &sg[d][i];
            sg_hits[n].kn = sg_key(&sg[d][i], sg_hits[n].key);
            if (sg_hits[n].kn >= fqn && !memcmp(sg_hits[n].key, fq, fqn)) n++;
        }
        qsort(sg_hits, n, sizeof *sg_hits, sg_pop_cmp);
        if (n > k) n = k;
        if (r.nitems != n) fuzz_fail("COMPLETE '%s' DICT %s: %zu items, model %zu", pre, nm, r.nitems, n);
        for (size_t i = 0; i < n; i++)
            if (r.it[i].n != sg_hits[i].e->n || memcmp(r.it[i].s, sg_hits[i].e->s, r.it[i].n) ||
                !r.it[i].sc || strtod(r.it[i].sc, NULL) != sg_hits[i].e->score)
                fuzz_fail("COMPLETE '%s' DICT %s item %zu: '%.*s', model '%.*s'", pre, nm, i, (int)r.it[i].n,
                          r.it[i].s, (int)sg_hits[i].e->n, sg_hits[i].e->s);
    }
    sg_check_len(d, kind);
}

/* End of an input: every dictionary is dropped again (DEL), the set is empty. */
static void sg_reset(void) {
    for (int d = 0; d < SG_NAMES; d++) {
        char nm[8];
        snprintf(nm, sizeof nm, "sug%d", d);
        if (!sgn[d]) continue; /* (a DEL would be qac's DEL <query>) */
        req q = {0};
        req_adds(&q, "DEL"), req_adds(&q, nm);
        exec(&q, PROTO_RESP, NULL);
        req_free(&q);
        reply r;
        read_reply(PROTO_RESP, RP_INT, 0, &r);
        if (r.ival != 1) fuzz_fail("reset: DEL %s replied %lld", nm, (long long)r.ival);
        sgn[d] = 0;
    }
    if (SGD->n) fuzz_fail("reset: %zu dictionaries left", SGD->n);
}

#endif
