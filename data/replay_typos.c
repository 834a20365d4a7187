/* replay_typos.c -- `qac replay --typos RATE`: typo'd prefixes, and how much
 * FUZZY AUTO gets back of what a typo loses.
 *
 * Which prefixes. Every typed prefix of a measured event with at least
 * RP_TYPO_MIN_CP code points is drawn with probability RATE, from a hash of
 * (--seed, the event's index in the sorted logs, the prefix's length in code
 * points): the same logs and seed give the same typo'd prefixes and the same
 * edits whatever the connections, pipeline or load shape.
 *
 * The edit (rp_typo_edit, public for the tests). One edit on the code points
 * of the prefix in the form replay types (norm_eval: case-folded, white space
 * collapsed; text/norm.h): substitution, deletion, insertion, or
 * transposition of two adjacent code points, never touching position 0
 * (the server's default keeps the first character exact). A substituted or
 * inserted code point is a letter a-z when its neighbour is ASCII, else a
 * code point of the prefix itself (so Cyrillic stays Cyrillic), copied as
 * its bytes: the output is always valid UTF-8. An edit is redrawn (up to
 * RP_TYPO_TRIES times) when it changes nothing, leaves two spaces side by
 * side (the server would collapse them: a second edit), or gives a prefix of
 * the query itself (deleting the last code point, or inserting the one the
 * person types next, is no typo); when every draw fails the prefix is not
 * typo'd.
 *
 * What is sent (replay_run.c): right after a typo'd prefix's own COMPLETE,
 * the same COMPLETE (LIMIT, USER, SESSION) with the typo'd prefix, then once
 * more with FUZZY AUTO appended. The plain one carries no FUZZY option: it
 * is what the person gets today (the server's `fuzzy` setting, exact by
 * default). These pairs change nothing else: the keystroke COMPLETEs, the
 * ACCEPT, MRR@10 / SR / keystrokes saved and the main latency figures are
 * those of a run without --typos; the two kinds of typo'd requests each have
 * their own latency histogram.
 *
 * Scoring: a pair counts when both answers came back without ERR. For each
 * side, recall@10 = share of pairs whose target (the event's query) is in
 * the top 10, MRR@10 = mean of 1/rank within the top 10 (0 beyond), as
 * replay scores normal prefixes. The same figures for the same prefixes
 * typed right (their keystroke COMPLETE's answer, which comes in before the
 * pair's) show what the typo cost and how much of it FUZZY AUTO gets back.
 */
#include "data/replay_internal.h"

#include <stdio.h>
#include <string.h>

#include "common/json.h"

#define RP_TYPO_TRIES 16

const char *const rp_typo_kind_names[RP_EDIT_KINDS] = {"substitution", "deletion", "insertion", "transposition"};

static uint64_t mix64(uint64_t x) { /* splitmix64's finalizer */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t rp_typo_hash(uint64_t seed, uint64_t ev, uint64_t len) {
    return mix64(mix64(mix64(seed + 0x9e3779b97f4a7c15ull) ^ ev) ^ (len * 0x9e3779b97f4a7c15ull));
}

int rp_typo_pick(uint64_t h, double rate) {
    if (!(rate > 0)) return 0;
    return (double)(h >> 11) * 0x1.0p-53 < rate;
}

/* A small generator for the draws of one edit, seeded by the pick's hash. */
static uint64_t next_draw(uint64_t *st) {
    *st += 0x9e3779b97f4a7c15ull;
    return mix64(*st);
}

long rp_typo_edit(const char *q, size_t qlen, size_t plen, uint64_t h, char *out, size_t cap, int *kind) {
    size_t off[RP_MAX_QUERY + 2], n = 0; /* byte offset of each code point, then plen */
    if (plen > qlen || plen > RP_MAX_QUERY) return -1;
    for (size_t i = 0; i < plen; i++)
        if (((unsigned char)q[i] & 0xC0) != 0x80) off[n++] = i;
    off[n] = plen;
    if (n < 2 || cap < plen + 4) return -1;
    uint64_t st = h ^ 0xd1b54a32d192ed03ull;
    for (int t = 0; t < RP_TYPO_TRIES; t++) {
        int k = (int)(next_draw(&st) % RP_EDIT_KINDS);
        uint64_t d = next_draw(&st);
        size_t pos, o = 0;
        const char *rep = NULL; /* the code point substituted or inserted */
        size_t replen = 0;
        char letter = 'a';
        if (k == RP_EDIT_SUB || k == RP_EDIT_INS) {
            pos = k == RP_EDIT_SUB ? 1 + d % (n - 1) : 1 + d % n; /* INS: before code point pos (n: at the end) */
            size_t nb = k == RP_EDIT_SUB ? pos : pos - 1;        /* the neighbour */
            uint64_t c = next_draw(&st);
            if ((unsigned char)q[off[nb]] < 0x80) {
                letter = (char)('a' + c % 26);
                rep = &letter;
                replen = 1;
            } else {
                size_t j = c % n;
                rep = q + off[j];
                replen = off[j + 1] - off[j];
                if (replen == 1 && *rep == ' ') continue;
            }
            if (k == RP_EDIT_SUB && replen == off[pos + 1] - off[pos] && !memcmp(rep, q + off[pos], replen)) continue;
        } else if (k == RP_EDIT_DEL) {
            pos = 1 + d % (n - 1);
        } else {
            if (n < 3) continue;
            pos = 1 + d % (n - 2); /* swaps code points pos and pos + 1 */
            if (off[pos + 1] - off[pos] == off[pos + 2] - off[pos + 1] &&
                !memcmp(q + off[pos], q + off[pos + 1], off[pos + 1] - off[pos]))
                continue;
        }
        memcpy(out, q, off[pos]);
        o = off[pos];
        if (k == RP_EDIT_SUB || k == RP_EDIT_INS) {
            memcpy(out + o, rep, replen);
            o += replen;
            size_t from = k == RP_EDIT_SUB ? off[pos + 1] : off[pos];
            memcpy(out + o, q + from, plen - from);
            o += plen - from;
        } else if (k == RP_EDIT_DEL) {
            memcpy(out + o, q + off[pos + 1], plen - off[pos + 1]);
            o += plen - off[pos + 1];
        } else {
            size_t a = off[pos + 1] - off[pos], b = off[pos + 2] - off[pos + 1];
            memcpy(out + o, q + off[pos + 1], b);
            memcpy(out + o + b, q + off[pos], a);
            o += a + b;
            memcpy(out + o, q + off[pos + 2], plen - off[pos + 2]);
            o += plen - off[pos + 2];
        }
        int twospace = 0;
        for (size_t i = 1; i < o && !twospace; i++) twospace = out[i] == ' ' && out[i - 1] == ' ';
        if (twospace || (o <= qlen && !memcmp(out, q, o))) continue;
        *kind = k;
        return (long)o;
    }
    return -1;
}

/* --- the run's side: choosing, sending, scoring ------------------------- */

void rp_typos_plan(rp_run *r, slot *s, const char *q, size_t qlen, size_t bytes, size_t cp) {
    s->typo_next = 0;
    if (!(r->typos > 0) || cp < RP_TYPO_MIN_CP) return;
    uint64_t h = rp_typo_hash(r->seed, s->ev, cp);
    if (!rp_typo_pick(h, r->typos)) return;
    int kind;
    long n = rp_typo_edit(q, qlen, bytes, h, s->typo, sizeof s->typo, &kind);
    if (n < 0) {
        r->ty.no_edit++;
        return;
    }
    s->typo_len = (uint16_t)n;
    s->typo_next = 1; /* typo_plain_rank: set by the plain answer, which comes before its pair's other */
    r->ty.picked++;
    r->ty.kinds[kind]++;
}

void rp_typos_record(rp_run *r, slot *s, int fuzzy, const rp_reply *rep, uint64_t us) {
    rp_typo_stats *t = &r->ty;
    hist_add(&t->lat[fuzzy], us);
    if (!fuzzy) {
        s->typo_plain_rank = rep->err ? -1 : (int)rep->rank;
        return;
    }
    if (rep->err || s->typo_plain_rank < 0) {
        t->unscored++;
        return;
    }
    unsigned rk[3] = {(unsigned)s->typo_plain_rank, rep->rank, s->clean_rank};
    t->n++;
    for (int i = 0; i < 3; i++)
        if (rk[i] && rk[i] <= EP_TOPK) {
            t->rr[i] += 1.0 / rk[i];
            t->hit[i]++;
        }
}

double rp_typos_mrr(const rp_run *r, int side) { return r->ty.n ? r->ty.rr[side] / (double)r->ty.n : 0.0; }
double rp_typos_recall(const rp_run *r, int side) {
    return r->ty.n ? (double)r->ty.hit[side] / (double)r->ty.n : 0.0;
}

/* --- reports ---------------------------------------------------------------- */

static const double tq[4] = {0.5, 0.9, 0.99, 1.0};
static const char *const tqn[4] = {"p50", "p90", "p99", "max"};
static uint64_t tlat(const rp_run *r, int side, int i) {
    return i == 3 ? r->ty.lat[side].max : hist_quantile(&r->ty.lat[side], tq[i]);
}
static const char *const side_names[2] = {"plain", "FUZZY AUTO"};

void rp_typos_summary(const rp_run *r, FILE *f) {
    const rp_typo_stats *t = &r->ty;
    fprintf(f, "typos      rate %g, seed %llu: %llu typo'd prefixes of %d+ code points (", r->typos,
            (unsigned long long)r->seed, (unsigned long long)t->picked, RP_TYPO_MIN_CP);
    for (int k = 0; k < RP_EDIT_KINDS; k++)
        fprintf(f, "%s%llu %s", k ? ", " : "", (unsigned long long)t->kinds[k], rp_typo_kind_names[k]);
    fprintf(f, "), %llu scored\n", (unsigned long long)t->n);
    fprintf(f, "typo'd     MRR@10 plain %.4f FUZZY AUTO %.4f; recall@10 plain %.4f FUZZY AUTO %.4f"
               " (typed right: MRR@10 %.4f, recall@10 %.4f)\n",
            rp_typos_mrr(r, 0), rp_typos_mrr(r, 1), rp_typos_recall(r, 0), rp_typos_recall(r, 1), rp_typos_mrr(r, 2),
            rp_typos_recall(r, 2));
    for (int side = 0; side < 2; side++) {
        fprintf(f, "typo'd us  %-10s", side_names[side]);
        for (int i = 0; i < 4; i++) fprintf(f, " %s %llu", tqn[i], (unsigned long long)tlat(r, side, i));
        fprintf(f, " (mean %.1f, %llu requests)\n", hist_mean(&t->lat[side]), (unsigned long long)t->lat[side].count);
    }
}

static int json_side(qbuf *b, const rp_run *r, int side) {
    uint64_t lat[4];
    for (int i = 0; i < 4; i++) lat[i] = tlat(r, side, i);
    int rc = qbuf_puts(b, "{\"mrr\": ");
    rc |= json_fixed(b, rp_typos_mrr(r, side), EP_JSON_DECIMALS);
    rc |= qbuf_puts(b, ", \"recall10\": ");
    rc |= json_fixed(b, rp_typos_recall(r, side), EP_JSON_DECIMALS);
    rc |= qbuf_puts(b, ", \"hits10\": ");
    rc |= qbuf_putu64(b, r->ty.hit[side]);
    rc |= qbuf_puts(b, ", \"requests\": ");
    rc |= qbuf_putu64(b, r->ty.lat[side].count);
    rc |= qbuf_puts(b, ", \"latency_us\": {");
    rc |= ep_json_counts(b, ", ", tqn, lat, 4);
    rc |= qbuf_puts(b, ", \"mean\": ");
    rc |= json_fixed(b, hist_mean(&r->ty.lat[side]), 3);
    return rc | qbuf_puts(b, "}}");
}

int rp_typos_json(qbuf *b, const rp_run *r) {
    static const char *const count_keys[] = {"typod", "prefixes", "unscored", "no_edit"};
    const uint64_t counts[] = {r->ty.picked, r->ty.n, r->ty.unscored, r->ty.no_edit};
    int rc = qbuf_puts(b, "\"typos\": {\"rate\": ");
    rc |= json_double(b, r->typos > 0 ? r->typos : 0.0);
    rc |= qbuf_puts(b, ", \"seed\": ");
    rc |= qbuf_putu64(b, r->seed);
    rc |= qbuf_puts(b, ", ");
    rc |= ep_json_counts(b, ", ", count_keys, counts, ARRAY_LEN(counts));
    rc |= qbuf_puts(b, ", \"edits\": {");
    rc |= ep_json_counts(b, ", ", rp_typo_kind_names, r->ty.kinds, RP_EDIT_KINDS);
    rc |= qbuf_puts(b, "},\n  \"plain\": ");
    rc |= json_side(b, r, 0);
    rc |= qbuf_puts(b, ",\n  \"fuzzy_auto\": ");
    rc |= json_side(b, r, 1);
    rc |= qbuf_puts(b, ",\n  \"typed_right\": {\"mrr\": ");
    rc |= json_fixed(b, rp_typos_mrr(r, 2), EP_JSON_DECIMALS);
    rc |= qbuf_puts(b, ", \"recall10\": ");
    rc |= json_fixed(b, rp_typos_recall(r, 2), EP_JSON_DECIMALS);
    rc |= qbuf_puts(b, ", \"hits10\": ");
    rc |= qbuf_putu64(b, r->ty.hit[2]);
    return rc | qbuf_puts(b, "}}");
}

void rp_typos_html(const rp_run *r, FILE *f) {
    const rp_typo_stats *t = &r->ty;
    fprintf(f, "<h2>Typo'd prefixes (--typos %g, seed %llu)</h2>\n<p>%llu prefixes of %d+ code points got one "
               "random edit; %llu were sent plain and with FUZZY AUTO and scored.</p>\n"
               "<table><tr><th></th><th>typo'd, plain</th><th>typo'd, FUZZY AUTO</th><th>typed right</th></tr>"
               "<tr><th>MRR@10</th><td>%.4f</td><td>%.4f</td><td>%.4f</td></tr>"
               "<tr><th>recall@10</th><td>%.4f</td><td>%.4f</td><td>%.4f</td></tr>",
            r->typos, (unsigned long long)r->seed, (unsigned long long)t->picked, RP_TYPO_MIN_CP,
            (unsigned long long)t->n, rp_typos_mrr(r, 0), rp_typos_mrr(r, 1), rp_typos_mrr(r, 2),
            rp_typos_recall(r, 0), rp_typos_recall(r, 1), rp_typos_recall(r, 2));
    for (int i = 0; i < 4; i++)
        fprintf(f, "<tr><th>latency %s</th><td>%llu &micro;s</td><td>%llu &micro;s</td><td>(main figures)</td></tr>",
                tqn[i], (unsigned long long)tlat(r, 0, i), (unsigned long long)tlat(r, 1, i));
    fprintf(f, "</table>\n");
}
