/* changelog_rec.c -- the change log's pure parts: stream ids, the entry
 * encoding and its checks, the position files (format: changelog.h).
 *
 * Decoding never trusts the stream: every length is checked against its
 * limit before use, the fields are walked in pairs only when their count is
 * even, and a field named twice is an error (a writer bug, not a choice).
 */
#include "engine/changelog.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

int chg_id_parse(const char *s, size_t len, chg_id *out) {
    const char *dash = memchr(s, '-', len);
    uint64_t ms, seq = 0;
    size_t mlen = dash ? (size_t)(dash - s) : len;
    if (!mlen || qparse_u64(s, mlen, &ms) < 0) return -1;
    if (dash && (dash + 1 == s + len || qparse_u64(dash + 1, len - mlen - 1, &seq) < 0)) return -1;
    for (size_t i = 0; i < len; i++) /* qparse_u64 may take a sign: ids are digits */
        if (!(s[i] >= '0' && s[i] <= '9') && s + i != dash) return -1;
    out->ms = ms;
    out->seq = seq;
    return 0;
}

void chg_id_format(chg_id id, char *buf, size_t cap) {
    snprintf(buf, cap, "%" PRIu64 "-%" PRIu64, id.ms, id.seq);
}

int chg_id_cmp(chg_id a, chg_id b) {
    if (a.ms != b.ms) return a.ms < b.ms ? -1 : 1;
    return a.seq < b.seq ? -1 : a.seq > b.seq;
}

static int rec_valid(const chg_rec *r) {
    if (r->op == CHG_OP_MODEL)
        return r->upd && r->ulen >= 1 && r->ulen <= CHG_MAX_UPD && r->origin && r->olen >= 1 && r->olen <= CHG_MAX_ID &&
               !r->key && !r->dict;
    if (r->op == CHG_OP_DROP)
        return r->dict && r->dictlen >= 1 && r->dictlen <= CHG_MAX_DICT && !r->key && !r->disp && !r->pay &&
               r->origin && r->olen >= 1 && r->olen <= CHG_MAX_ID;
    if (r->op != CHG_OP_SET && r->op != CHG_OP_DEL) return 0;
    if (r->pay && (r->op != CHG_OP_SET || !r->dict || r->plen < 1 || r->plen > CHG_MAX_PAY)) return 0;
    if (!r->key || r->klen < 1 || r->klen > TRIE_MAX_KEY) return 0;
    if (!r->origin || r->olen < 1 || r->olen > CHG_MAX_ID) return 0;
    if (r->dict && (r->dictlen < 1 || r->dictlen > CHG_MAX_DICT)) return 0;
    if (r->op == CHG_OP_SET && (!r->disp || r->dlen < 1 || r->dlen > TRIE_MAX_KEY || !isfinite(r->score))) return 0;
    return 1;
}

int chg_rec_encode(const chg_rec *r, const char **argv, size_t *argvlen, char *num, size_t numcap) {
    if (!rec_valid(r) || numcap < CHG_NUM_BUF) return -1;
    int n = 0;
#define PUT(s, l) (argv[n] = (s), argvlen[n] = (l), n++)
    PUT("op", 2);
    if (r->op == CHG_OP_MODEL) {
        int m = snprintf(num + 64, numcap - 64, "%016" PRIx64, r->mv);
        PUT("model", 5);
        PUT("mv", 2);
        PUT(num + 64, (size_t)m);
        PUT("upd", 3);
        PUT(r->upd, r->ulen);
    } else if (r->op == CHG_OP_DROP) {
        PUT("drop", 4);
    } else {
        if (r->op == CHG_OP_SET) PUT("set", 3);
        else PUT("del", 3);
        PUT("key", 3);
        PUT(r->key, r->klen);
    }
    if (r->op == CHG_OP_SET) {
        int a = snprintf(num, 32, "%.17g", r->score);
        PUT("disp", 4);
        PUT(r->disp, r->dlen);
        PUT("score", 5);
        PUT(num, (size_t)a);
    }
    int b = snprintf(num + 32, 32, "%" PRIu64, r->t_us);
    PUT("origin", 6);
    PUT(r->origin, r->olen);
    PUT("t", 1);
    PUT(num + 32, (size_t)b);
    if (r->dict) {
        PUT("dict", 4);
        PUT(r->dict, r->dictlen);
    }
    if (r->pay) {
        PUT("pay", 3);
        PUT(r->pay, r->plen);
    }
#undef PUT
    return n;
}

static int hex64(const char *s, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        int c = s[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

static int name_is(const char *f, size_t len, const char *name) {
    return len == strlen(name) && !memcmp(f, name, len);
}

int chg_rec_decode(const char *const *f, const size_t *flen, size_t nf, chg_rec *out, const char **why) {
    memset(out, 0, sizeof *out);
    if (nf % 2) return *why = "odd number of fields", -1;
    const char *op = NULL, *score = NULL, *t = NULL, *mv = NULL;
    size_t oplen = 0, slen = 0, tlen = 0, mvlen = 0;
    for (size_t i = 0; i < nf; i += 2) {
        const char *n = f[i], *v = f[i + 1];
        size_t nl = flen[i], vl = flen[i + 1];
        const char **slot = NULL;
        size_t *lslot = NULL;
        if (name_is(n, nl, "op")) slot = &op, lslot = &oplen;
        else if (name_is(n, nl, "key")) slot = &out->key, lslot = &out->klen;
        else if (name_is(n, nl, "disp")) slot = &out->disp, lslot = &out->dlen;
        else if (name_is(n, nl, "score")) slot = &score, lslot = &slen;
        else if (name_is(n, nl, "origin")) slot = &out->origin, lslot = &out->olen;
        else if (name_is(n, nl, "t")) slot = &t, lslot = &tlen;
        else if (name_is(n, nl, "dict")) slot = &out->dict, lslot = &out->dictlen;
        else if (name_is(n, nl, "mv")) slot = &mv, lslot = &mvlen;
        else if (name_is(n, nl, "upd")) slot = &out->upd, lslot = &out->ulen;
        else if (name_is(n, nl, "pay")) slot = &out->pay, lslot = &out->plen;
        if (!slot) continue; /* a field of a later version */
        if (*slot) return *why = "a field is repeated", -1;
        *slot = v;
        *lslot = vl;
    }
    if (!op) return *why = "no op field", -1;
    if (name_is(op, oplen, "set")) out->op = CHG_OP_SET;
    else if (name_is(op, oplen, "del")) out->op = CHG_OP_DEL;
    else if (name_is(op, oplen, "model")) out->op = CHG_OP_MODEL;
    else if (name_is(op, oplen, "drop")) out->op = CHG_OP_DROP;
    else return *why = "op is not set, del, model or drop", -1;
    if (!out->origin || out->olen < 1 || out->olen > CHG_MAX_ID) return *why = "origin missing or not 1..64 bytes", -1;
    if (!t || qparse_u64(t, tlen, &out->t_us) < 0) return *why = "t missing or not a number", -1;
    if (out->op == CHG_OP_MODEL) {
        if (out->key || out->disp || score || out->dict || out->pay)
            return *why = "model with key, disp, score, dict or pay", -1;
        if (!mv || mvlen != 16 || hex64(mv, &out->mv) < 0) return *why = "mv missing or not 16 hex digits", -1;
        if (!out->upd || out->ulen < 1 || out->ulen > CHG_MAX_UPD) return *why = "upd missing or not 1..65535 bytes", -1;
        return 0;
    }
    if (mv || out->upd) return *why = "set, del or drop with mv or upd", -1;
    if (out->dict && (out->dictlen < 1 || out->dictlen > CHG_MAX_DICT)) return *why = "dict not 1..1024 bytes", -1;
    if (out->op == CHG_OP_DROP) {
        if (!out->dict) return *why = "drop without dict", -1;
        if (out->key || out->disp || score || out->pay) return *why = "drop with key, disp, score or pay", -1;
        return 0;
    }
    if (out->pay && (out->op != CHG_OP_SET || !out->dict || out->plen < 1 || out->plen > CHG_MAX_PAY))
        return *why = "pay not 1..4096 bytes of a set in a dict", -1;
    if (!out->key || out->klen < 1 || out->klen > TRIE_MAX_KEY) return *why = "key missing or not 1..512 bytes", -1;
    if (out->op == CHG_OP_SET) {
        if (!out->disp || out->dlen < 1 || out->dlen > TRIE_MAX_KEY) return *why = "disp missing or not 1..512 bytes", -1;
        if (!score || qparse_double(score, slen, &out->score) < 0) return *why = "score missing or not finite", -1;
    } else {
        if (out->disp || score) return *why = "del with disp or score", -1;
    }
    return 0;
}

int chg_pos_read(const char *path, chg_id *id) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char buf[CHG_POS_MAX + 2];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
    if (!n || n >= CHG_POS_MAX) return -1;
    return chg_id_parse(buf, n, id);
}

int chg_pos_write(const char *path, chg_id id) {
    char tmp[4200], line[CHG_POS_MAX + 1];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) return errno = ENAMETOOLONG, -1;
    chg_id_format(id, line, sizeof line - 1);
    size_t n = strlen(line);
    line[n++] = '\n';
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    int ok = fwrite(line, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e ? e : EIO;
        return -1;
    }
    return 0;
}
