/* tcodec.c -- static symbol-table string compression (see tcodec.h for the
 * coded format, the identity table and the serialized table).
 *
 * ENCODER INDEX (exact, not lossy)
 * --------------------------------
 * At each input position the encoder needs the longest symbol that matches.
 * The input is read as a little-endian 64-bit word w (zero-padded near the
 * end, where a symbol must also fit in the bytes that remain):
 *   - symbols of 3..8 bytes: a direct-mapped hash (2^TC_HASH_BITS slots)
 *     on their first 3 bytes; a slot holds its longest symbol inline
 *     (bytes, len << 8 | code, compare shift) and next[] chains the slot's
 *     other symbols, longest first, lower code first among equal lengths.
 *     Symbols whose prefixes collide share the chain: every symbol is in the
 *     index, so "greedy longest match" is exact for any table, and training
 *     counts exactly what tc_encode finds (FSST's lossy one-symbol-per-slot
 *     hash makes training drop symbols; there is no such trap here, and
 *     several symbols may share a 3-byte prefix). The common case is one
 *     load and one compare of the inline symbol.
 *   - short2[2 bytes] gives the best code of length <= 2 (a 2-byte symbol,
 *     else the 1-byte symbol of the first byte, else the escape), short1[1
 *     byte] the same for the last input byte; entries are len << 8 | code
 *     with the escape as 1 << 8 | TC_ESC, so the loop has no branch for it.
 * Duplicate symbols (legal in parsed tables): the lowest code wins
 * everywhere, as the header promises.
 *
 * TRAINING (FSST, Boncz/Neumann/Leis VLDB 2020, section 4)
 * --------------------------------------------------------
 * Start from the empty table (everything escapes). TC_GENS generations; in
 * each, code a deterministic subset of the sample (a growing fraction,
 * 8/128 .. 128/128 as in FSST) with the current table using tc_find -- the very
 * function tc_encode uses -- and count every code (escaped byte b counts as
 * pseudo-code 256 + b), the first byte of every multi-byte code as a single
 * byte, and every pair of consecutive codes (plus code + first byte of the
 * next). Candidates: every counted code (gain = count x length, single
 * bytes weighted by TC_SINGLE_WEIGHT) and, except in the last generation,
 * every pair's concatenation cut to 8 bytes (gain = pair count x length);
 * equal candidates add up. The best 255 by gain (ties: shorter, then
 * smaller bytes) form the next table. No randomness: the subset is a hash
 * of the string index.
 *
 * Byte order: symbols are kept as little-endian words so that one 8-byte
 * store decodes a symbol; the host must be little-endian (checked at build
 * time). The serialized form is plain bytes.
 */
#include "trie/tcodec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tcodec.c assumes a little-endian host (symbols are stored as little-endian words)"
#endif

_Static_assert(sizeof(tc_table) < 256 * 1024, "tc_table must stay under 256 KB");

#define TC_NONE 255            /* end of a next[] chain (never a symbol code) */
#define TC_SHORT_ESC (1u << 8 | TC_ESC)

/* Training knobs, measured with bench_tcodec (held-out ratio, 2 MB sample):
 * 5 generations (FSST) give 1.904 on the synthetic corpus, 12 give 1.919
 * (AOL 1.854 -> 1.865) at ~70 ms; 16 gain nothing more. Single-byte weight
 * 4 beats FSST's 8 by ~0.2% here (1 and 16 are worse). */
#define TC_GENS 12
#define TC_SINGLE_WEIGHT 4     /* promote single bytes (fewer escapes) */
#define TC_PSEUDO 512          /* 0..254 symbols, 256..511 escaped bytes */

static inline uint64_t load64(const uint8_t *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint64_t load_part(const uint8_t *p, size_t n) {
    uint64_t w = 0;
    memcpy(&w, p, n);
    return w;
}

static inline uint32_t hash3(uint32_t p3) { return (p3 * 0x9E3779B1u) >> (32 - TC_HASH_BITS); }

/* The chain of a slot whose first symbol did not match: the slot's other
 * codes, longest first; rs (the short code) when none matches. */
static unsigned tc_chain(const tc_table *t, unsigned c, uint64_t w, size_t rem, unsigned rs) {
    do {
        unsigned l = t->len[c];
        if (l <= rem && ((w ^ t->sym[c]) << (64 - 8 * l)) == 0) return l << 8 | c;
        c = t->next[c];
    } while (c != TC_NONE);
    return rs;
}

/* The longest symbol matching w (rem >= 1 valid bytes, at most 8 looked at;
 * the bytes of w past rem are zero). Returns len << 8 | code; an escape is
 * 1 << 8 | TC_ESC. Inlined with rem == 8 in tc_encode's main loop, where
 * the length checks fold away. */
static inline unsigned tc_find(const tc_table *t, uint64_t w, size_t rem) {
    unsigned rs = rem >= 2 ? t->short2[w & 0xFFFF] : t->short1[w & 0xFF];
    if (rem < 3) return rs;
    const tc_hent *e = &t->ht[hash3((uint32_t)w & 0xFFFFFFu)];
    if (((w ^ e->sym) << e->shift) == 0 && (rem >= TC_SYM_MAX || (size_t)(e->lc >> 8) <= rem)) return e->lc;
    if (e->next != TC_NONE) return tc_chain(t, e->next, w, rem, rs);
    return rs;
}

/* Rebuilds the encoder index from sym/len/nsym.
 * ht: slot hash3(first 3 bytes) holds the slot's longest symbol (lowest
 * code among equals) and next[] the rest, by length descending. Any symbol
 * that matches the input starts with the input's 3 bytes, so it is in the
 * slot those bytes hash to: the first match along the slot is the longest
 * match. An empty slot holds a 3-byte sentinel whose bytes hash elsewhere,
 * so no input that reaches the slot can match it. */
static void tc_index(tc_table *t) {
    memset(t->next, TC_NONE, sizeof t->next);
    uint8_t tail[1u << TC_HASH_BITS]; /* last code of each slot's list */
    uint8_t used[1u << TC_HASH_BITS];
    memset(used, 0, sizeof used);
    for (uint32_t h = 0, p = 0; h < (1u << TC_HASH_BITS); h++) {
        while (hash3(p) == h) p++;
        t->ht[h] = (tc_hent){.sym = p, .lc = 0, .shift = 40, .next = TC_NONE, .pad = 0};
    }
    for (unsigned l = TC_SYM_MAX; l >= 3; l--)
        for (unsigned c = 0; c < t->nsym; c++) {
            if (t->len[c] != l) continue;
            uint32_t h = hash3((uint32_t)t->sym[c] & 0xFFFFFFu);
            if (!used[h]) {
                used[h] = 1;
                t->ht[h] = (tc_hent){.sym = t->sym[c], .lc = (uint16_t)(l << 8 | c), .shift = (uint8_t)(64 - 8 * l),
                                     .next = TC_NONE, .pad = 0};
            } else if (t->ht[h].next == TC_NONE) { /* second in the slot */
                t->ht[h].next = (uint8_t)c;
            } else {
                t->next[tail[h]] = (uint8_t)c;
            }
            tail[h] = (uint8_t)c;
        }
    for (unsigned b = 0; b < 256; b++) t->short1[b] = TC_SHORT_ESC;
    for (unsigned c = 0; c < t->nsym; c++)
        if (t->len[c] == 1 && t->short1[t->sym[c]] == TC_SHORT_ESC) t->short1[t->sym[c]] = (uint16_t)(1u << 8 | c);
    for (unsigned hi = 0; hi < 256; hi++) memcpy(t->short2 + hi * 256, t->short1, sizeof t->short1);
    for (unsigned c = 0; c < t->nsym; c++)
        if (t->len[c] == 2 && (t->short2[t->sym[c]] >> 8) != 2) t->short2[t->sym[c]] = (uint16_t)(2u << 8 | c);
}

static void tc_clear(tc_table *t) {
    memset(t->sym, 0, sizeof t->sym);
    memset(t->len, 0, sizeof t->len);
    t->nsym = 0;
}

void tc_identity(tc_table *t) {
    tc_clear(t);
    for (unsigned c = 0; c < TC_MAX_SYMS; c++) {
        t->sym[c] = c;
        t->len[c] = 1;
    }
    t->nsym = TC_MAX_SYMS;
    tc_index(t);
}

int tc_is_identity(const tc_table *t) {
    if (t->nsym != TC_MAX_SYMS) return 0;
    for (unsigned c = 0; c < TC_MAX_SYMS; c++)
        if (t->len[c] != 1 || t->sym[c] != c) return 0;
    return 1;
}

unsigned tc_nsym(const tc_table *t) { return t->nsym; }

unsigned tc_symbol(const tc_table *t, unsigned code, char out[TC_SYM_MAX]) {
    if (code >= t->nsym) return 0;
    memcpy(out, &t->sym[code], t->len[code]);
    return t->len[code];
}

/* ---- encode / decode ------------------------------------------------------ */

/* The rem (1..7) bytes at end - rem as a zero-padded word, for a string of
 * at least 8 bytes: one load of its last 8 bytes, shifted (no memcpy call). */
static inline uint64_t load_tail(const uint8_t *end, size_t rem) { return load64(end - 8) >> (64 - 8 * rem); }

size_t tc_encode(const tc_table *t, const char *in, size_t n, uint8_t *out) {
    const uint8_t *p = (const uint8_t *)in, *end = p + n;
    uint8_t pad[16] = {0};
    if (n < 8) { /* short string: code a zero-padded copy, so loads stay in bounds */
        memcpy(pad, in, n);
        p = pad, end = pad + n;
    }
    uint8_t *o = out;
    /* o[1] is written for every code (the escaped byte, or junk overwritten
     * next): before the last input byte o - out <= 2 * (consumed) <= 2n - 2,
     * so o + 1 stays inside TC_ENC_MAX(n). */
    while (end - p >= 8) {
        unsigned r = tc_find(t, load64(p), 8);
        unsigned c = r & 0xFF;
        o[0] = (uint8_t)c;
        o[1] = *p;
        o += 1 + (c == TC_ESC);
        p += r >> 8;
    }
    while (p < end) {
        size_t rem = (size_t)(end - p);
        unsigned r = tc_find(t, n < 8 ? load64(p) : load_tail(end, rem), rem);
        unsigned c = r & 0xFF;
        o[0] = (uint8_t)c;
        if (c == TC_ESC) *++o = *p;
        o++;
        p += r >> 8;
    }
    return (size_t)(o - out);
}

/* Decodes the code at in[*i] with one 8-byte store (8 bytes of room at
 * out + *o are the caller's to give); advances *i and *o. -1: a bad code. */
static inline int decode_one_wide(const tc_table *t, const uint8_t *in, size_t n, size_t *i, char *out, size_t *o) {
    unsigned c = in[*i];
    unsigned l = t->len[c];
    if (l) {
        memcpy(out + *o, &t->sym[c], 8);
        *o += l;
        *i += 1;
    } else if (c == TC_ESC && *i + 1 < n) {
        out[(*o)++] = (char)in[*i + 1];
        *i += 2;
    } else {
        return -1;
    }
    return 0;
}

size_t tc_decode(const tc_table *t, const uint8_t *in, size_t n, char *out, size_t cap) {
    size_t i = 0, o = 0;
    /* fast path: one 8-byte store per code while 8 bytes of room remain */
    while (i < n && cap - o >= 8)
        if (decode_one_wide(t, in, n, &i, out, &o)) return TC_BAD;
    /* careful path: exact copies near cap */
    while (i < n) {
        unsigned c = in[i];
        unsigned l = t->len[c];
        if (l) {
            if (l > cap - o) return TC_BAD;
            memcpy(out + o, &t->sym[c], l);
            o += l;
            i++;
        } else if (c == TC_ESC && i + 1 < n) {
            if (o == cap) return TC_BAD;
            out[o++] = (char)in[i + 1];
            i += 2;
        } else {
            return TC_BAD;
        }
    }
    return o;
}

size_t tc_decode_prefix(const tc_table *t, const uint8_t *in, size_t n, char *out, size_t want) {
    size_t i = 0, o = 0;
    while (o < want && i < n) /* o < want: 8 bytes of room (want + 7 held) */
        if (decode_one_wide(t, in, n, &i, out, &o)) return TC_BAD;
    return o;
}

size_t tc_decoded_len(const tc_table *t, const uint8_t *in, size_t n) {
    size_t i = 0, o = 0;
    while (i < n) {
        unsigned c = in[i];
        unsigned l = t->len[c];
        if (l) {
            o += l;
            i++;
        } else if (c == TC_ESC && i + 1 < n) {
            o++;
            i += 2;
        } else {
            return TC_BAD;
        }
    }
    return o;
}

/* ---- serialization ------------------------------------------------------- */

size_t tc_serial_size(const tc_table *t) {
    size_t n = 1 + t->nsym;
    for (unsigned c = 0; c < t->nsym; c++) n += t->len[c];
    return n;
}

size_t tc_serialize(const tc_table *t, uint8_t *out) {
    uint8_t *o = out;
    *o++ = (uint8_t)t->nsym;
    memcpy(o, t->len, t->nsym);
    o += t->nsym;
    for (unsigned c = 0; c < t->nsym; c++) {
        memcpy(o, &t->sym[c], t->len[c]);
        o += t->len[c];
    }
    return (size_t)(o - out);
}

int tc_parse(tc_table *t, const uint8_t *in, size_t n, size_t *used, char *err, size_t errlen) {
    char dummy[1];
    if (!err) err = dummy, errlen = sizeof dummy;
    if (n < 1) {
        snprintf(err, errlen, "truncated: empty symbol table");
        return TC_EFORMAT;
    }
    unsigned nsym = in[0];
    if (nsym > TC_MAX_SYMS) { /* unreachable with a byte (255 max): kept if TC_MAX_SYMS shrinks */
        snprintf(err, errlen, "%u symbols, at most %u", nsym, TC_MAX_SYMS);
        return TC_EFORMAT;
    }
    if (n < 1 + (size_t)nsym) {
        snprintf(err, errlen, "truncated: %zu of at least %zu bytes (%u symbol lengths)", n, 1 + (size_t)nsym,
                 nsym);
        return TC_EFORMAT;
    }
    size_t need = 1 + (size_t)nsym;
    for (unsigned c = 0; c < nsym; c++) {
        unsigned l = in[1 + c];
        if (l < 1 || l > TC_SYM_MAX) {
            snprintf(err, errlen, "symbol %u has length %u (must be 1..%u)", c, l, TC_SYM_MAX);
            return TC_EFORMAT;
        }
        need += l;
    }
    if (n < need) {
        snprintf(err, errlen, "truncated: %zu of %zu bytes", n, need);
        return TC_EFORMAT;
    }
    /* valid: only now touch t */
    tc_clear(t);
    t->nsym = nsym;
    const uint8_t *p = in + 1 + nsym;
    for (unsigned c = 0; c < nsym; c++) {
        t->len[c] = in[1 + c];
        t->sym[c] = load_part(p, t->len[c]);
        p += t->len[c];
    }
    tc_index(t);
    if (used) *used = need;
    return TC_OK;
}

/* ---- training ------------------------------------------------------------ */

typedef struct tc_cand {
    uint64_t sym;
    uint64_t gain;
    uint32_t len; /* 0: empty slot */
} tc_cand;

/* Counts of one generation. c2 is a dense TC_PSEUDO x TC_PSEUDO matrix
 * (zeroed pages from qcalloc); the pairs that became non-zero are listed in
 * pl so that building candidates and re-zeroing touch only those. */
typedef struct tc_train_scratch {
    tc_table cur;
    uint64_t c1[TC_PSEUDO];
    uint64_t *c2;
    uint32_t npl;
    uint32_t *pl; /* at most min(TC_PSEUDO^2, 2 x bytes coded) pairs */
} tc_train_scratch;

static inline void pair_inc(tc_train_scratch *x, uint32_t i) {
    if (x->c2[i]++ == 0) x->pl[x->npl++] = i;
}

static inline unsigned pseudo(unsigned r, uint8_t first) {
    return (r & 0xFF) == TC_ESC ? 256u + first : (r & 0xFF);
}

/* Codes s with the current table as tc_encode does, counting codes and pairs. */
static void count_string(tc_train_scratch *x, const uint8_t *p, size_t n) {
    const tc_table *t = &x->cur;
    const uint8_t *end = p + n;
    uint8_t pad[16] = {0};
    if (n < 8) { /* as in tc_encode */
        memcpy(pad, p, n);
        p = pad, end = pad + n;
    }
    unsigned prev = TC_PSEUDO; /* none */
    while (p < end) {
        size_t rem = (size_t)(end - p);
        uint64_t w = rem >= 8 || n < 8 ? load64(p) : load_tail(end, rem);
        unsigned r = tc_find(t, w, rem);
        unsigned cur = pseudo(r, *p), l = r >> 8;
        x->c1[cur]++;
        if (l > 1) x->c1[256u + *p]++; /* the alternative: just this byte */
        if (prev != TC_PSEUDO) {
            pair_inc(x, prev * TC_PSEUDO + cur);
            if (l > 1) pair_inc(x, prev * TC_PSEUDO + 256u + *p); /* extend prev by one byte */
        }
        prev = cur;
        p += l;
    }
}

static inline void pseudo_sym(const tc_table *t, unsigned a, uint64_t *sym, unsigned *len) {
    if (a >= 256) *sym = a - 256, *len = 1;
    else *sym = t->sym[a], *len = t->len[a];
}

static void cand_add(tc_cand *h, size_t mask, uint64_t sym, unsigned len, uint64_t gain) {
    uint64_t k = (sym ^ (uint64_t)len << 59) * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(k >> 40) & mask;
    while (h[i].len && (h[i].len != len || h[i].sym != sym)) i = (i + 1) & mask;
    if (!h[i].len) h[i].sym = sym, h[i].len = len, h[i].gain = 0;
    h[i].gain += gain;
}

/* Byte-wise order of two zero-padded little-endian symbols of equal length. */
static int sym_cmp(uint64_t a, uint64_t b) {
    a = __builtin_bswap64(a), b = __builtin_bswap64(b);
    return (a > b) - (a < b);
}

static int cand_cmp(const void *pa, const void *pb) {
    const tc_cand *a = pa, *b = pb;
    if (a->gain != b->gain) return a->gain > b->gain ? -1 : 1;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return sym_cmp(a->sym, b->sym);
}

/* Builds the next table in x->cur from the counts. TC_OK or TC_ENOMEM. */
static int make_table(tc_train_scratch *x, int last) {
    const tc_table *t = &x->cur;
    size_t ncand = TC_PSEUDO + (last ? 0 : x->npl);
    size_t hcap = 64;
    while (hcap < 2 * ncand) hcap *= 2;
    tc_cand *h = qcalloc(hcap, sizeof *h);
    if (!h) return TC_ENOMEM;
    for (unsigned a = 0; a < TC_PSEUDO; a++) {
        if (!x->c1[a]) continue;
        uint64_t s1;
        unsigned l1;
        pseudo_sym(t, a, &s1, &l1);
        cand_add(h, hcap - 1, s1, l1, x->c1[a] * l1 * (l1 == 1 ? TC_SINGLE_WEIGHT : 1));
    }
    for (uint32_t i = 0; i < x->npl && !last; i++) {
        unsigned a = x->pl[i] / TC_PSEUDO, b = x->pl[i] % TC_PSEUDO;
        uint64_t s1, s2;
        unsigned l1, l2;
        pseudo_sym(t, a, &s1, &l1);
        if (l1 == TC_SYM_MAX) continue;
        pseudo_sym(t, b, &s2, &l2);
        unsigned l3 = l1 + l2 > TC_SYM_MAX ? TC_SYM_MAX : l1 + l2;
        uint64_t s3 = s1 | s2 << (8 * l1);
        if (l3 < 8) s3 &= (1ull << (8 * l3)) - 1;
        cand_add(h, hcap - 1, s3, l3, x->c2[x->pl[i]] * l3);
    }
    /* the best TC_MAX_SYMS by cand_cmp: a heap whose root is the worst kept */
    tc_cand best[TC_MAX_SYMS];
    size_t m = 0;
    for (size_t i = 0; i < hcap; i++) {
        if (!h[i].len) continue;
        if (m < TC_MAX_SYMS) {
            size_t j = m++;
            while (j && cand_cmp(&h[i], &best[(j - 1) / 2]) > 0) best[j] = best[(j - 1) / 2], j = (j - 1) / 2;
            best[j] = h[i];
        } else if (cand_cmp(&h[i], &best[0]) < 0) {
            size_t j = 0;
            for (;;) {
                size_t k = 2 * j + 1;
                if (k >= m) break;
                if (k + 1 < m && cand_cmp(&best[k + 1], &best[k]) > 0) k++;
                if (cand_cmp(&best[k], &h[i]) <= 0) break;
                best[j] = best[k], j = k;
            }
            best[j] = h[i];
        }
    }
    qsort(best, m, sizeof *best, cand_cmp);
    tc_table *nt = &x->cur;
    tc_clear(nt);
    for (size_t i = 0; i < m; i++) {
        nt->sym[nt->nsym] = best[i].sym;
        nt->len[nt->nsym] = (uint8_t)best[i].len;
        nt->nsym++;
    }
    qfree(h);
    tc_index(nt);
    return TC_OK;
}

static inline uint32_t mix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

int tc_train(tc_table *t, const char *const *s, const uint32_t *len, size_t n) {
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) total += len[i];
    if (total == 0) {
        tc_identity(t);
        return TC_OK;
    }
    /* each code adds at most 2 pairs, so a generation lists at most 2 x total */
    size_t npairs = total < (uint64_t)TC_PSEUDO * TC_PSEUDO / 2 ? 2 * (size_t)total : (size_t)TC_PSEUDO * TC_PSEUDO;
    tc_train_scratch *x = qmalloc(sizeof *x);
    uint64_t *c2 = qcalloc((size_t)TC_PSEUDO * TC_PSEUDO, sizeof *c2);
    uint32_t *pl = qmalloc(npairs * sizeof *pl);
    if (!x || !c2 || !pl) {
        qfree(x);
        qfree(c2);
        qfree(pl);
        return TC_ENOMEM;
    }
    x->c2 = c2;
    x->pl = pl;
    x->npl = 0;
    tc_clear(&x->cur);
    tc_index(&x->cur);
    /* fraction of the strings coded in generation g: 8/128 growing linearly
     * to 128/128 (FSST's schedule, spread over TC_GENS); scaled down when the
     * caller passes more than TC_TRAIN_SAMPLE_BYTES */
    double scale = total > TC_TRAIN_SAMPLE_BYTES ? (double)TC_TRAIN_SAMPLE_BYTES / (double)total : 1.0;
    int rc = TC_OK;
    for (int g = 0; g < TC_GENS && rc == TC_OK; g++) {
        for (uint32_t i = 0; i < x->npl; i++) x->c2[x->pl[i]] = 0;
        x->npl = 0;
        memset(x->c1, 0, sizeof x->c1);
        double f = (8.0 + 120.0 * g / (TC_GENS - 1)) / 128.0 * scale;
        uint64_t thr = (uint64_t)(f * 4294967296.0);
        int any = 0;
        for (size_t i = 0; i < n; i++) {
            if (!len[i] || (uint64_t)mix32((uint32_t)i ^ (uint32_t)(i >> 32)) >= thr) continue;
            count_string(x, (const uint8_t *)s[i], len[i]);
            any = 1;
        }
        if (!any) /* tiny sample: nothing selected, so code all of it */
            for (size_t i = 0; i < n; i++)
                if (len[i]) count_string(x, (const uint8_t *)s[i], len[i]);
        rc = make_table(x, g == TC_GENS - 1);
    }
    if (rc == TC_OK) memcpy(t, &x->cur, sizeof *t);
    qfree(c2);
    qfree(pl);
    qfree(x);
    return rc;
}
