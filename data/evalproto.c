/* evalproto.c -- the shared pieces of ../shared/EVALUATION.md (see
 * evalproto.h): event loading and ordering, the scored prefix set, and the
 * MRR / SR accumulators. `qac eval` and `qac replay` both use these, so the
 * offline and online figures cannot drift apart.
 */
#include "data/evalproto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/json.h"
#include "common/md5.h"
#include "data/qlog.h"
#include "text/norm.h"

#define EP_NORM_CAP (QLOG_MAX_QUERY * NORM_MAX_GROWTH)

const char *const ep_tag_names[EP_NTAGS] = {"len1", "len2", "len3", "len4", "len5", "rand"};

void ep_events_init(ep_events *e) {
    memset(e, 0, sizeof *e);
    qbuf_init(&e->arena);
}

void ep_events_free(ep_events *e) {
    qbuf_free(&e->arena);
    qfree(e->ev);
    memset(e, 0, sizeof *e);
}

int ep_events_read(ep_events *e, const char *path, int flags, const char *cmd) {
    char err[512];
    qlog *r = qlog_open(path, QLOG_AUTO, 0, err, sizeof err);
    if (!r) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return -1;
    }
    qlog_format fmt = qlog_get_format(r);
    if (fmt == QLOG_COUNTS || (fmt != QLOG_AOL && (flags & EP_AOL_ONLY))) {
        fprintf(stderr, "%s: %s: not an AOL-format log (need AnonID, Query, QueryTime columns)%s\n", cmd, path,
                flags & EP_AOL_ONLY ? "" : " or a list of queries, one per line");
        qlog_close(r);
        return -1;
    }
    char *nq = qmalloc(EP_NORM_CAP);
    if (!nq) goto oom;
    qlog_rec rec;
    int rc;
    uint64_t unnormalizable = 0;
    while ((rc = qlog_next(r, &rec)) == 1) {
        int n = norm_eval(rec.query, rec.querylen, nq, EP_NORM_CAP);
        if (n <= 0 || (n == 1 && nq[0] == '-')) { /* the reader already rejects most of these */
            unnormalizable++;
            continue;
        }
        if (e->n == e->cap) {
            size_t nc = e->cap ? e->cap * 2 : 65536;
            ep_event *ne = qrealloc(e->ev, nc * sizeof *ne);
            if (!ne) goto oom;
            e->ev = ne;
            e->cap = nc;
        }
        ep_event *v = &e->ev[e->n];
        v->user = e->arena.len;
        v->userlen = (uint32_t)rec.userlen;
        if (qbuf_append(&e->arena, rec.user, rec.userlen)) goto oom;
        v->query = e->arena.len;
        v->querylen = (uint32_t)n;
        if (qbuf_append(&e->arena, nq, (size_t)n)) goto oom;
        v->time = rec.time;
        v->seq = e->seq++;
        v->user_num = rec.userlen && rec.userlen <= 19 && qparse_u64(rec.user, rec.userlen, &v->uid) == 0;
        e->n++;
    }
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", cmd, qlog_error(r));
        qfree(nq);
        qlog_close(r);
        return -1;
    }
    qlog_print_stats(stderr, path, qlog_get_stats(r));
    if (unnormalizable)
        fprintf(stderr, "%s: %s: %llu queries skipped (not normalizable)\n", cmd, path,
                (unsigned long long)unnormalizable);
    e->unnormalizable += unnormalizable;
    qfree(nq);
    qlog_close(r);
    return 0;
oom:
    fprintf(stderr, "%s: out of memory reading %s\n", cmd, path);
    qfree(nq);
    qlog_close(r);
    return -1;
}

static const char *sort_base; /* qsort has no context argument */

static int event_cmp(const void *a, const void *b) {
    const ep_event *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    if (x->user_num && y->user_num) {
        if (x->uid != y->uid) return x->uid < y->uid ? -1 : 1;
    } else {
        size_t m = x->userlen < y->userlen ? x->userlen : y->userlen;
        int r = memcmp(sort_base + x->user, sort_base + y->user, m);
        if (r) return r;
        if (x->userlen != y->userlen) return x->userlen < y->userlen ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void ep_events_sort(ep_events *e) {
    if (!e->n) return;
    sort_base = e->arena.data;
    qsort(e->ev, e->n, sizeof *e->ev, event_cmp);
    sort_base = NULL;
}

size_t ep_cp_offset(const char *s, size_t len, size_t k) {
    size_t i = 0;
    while (i < len && k) {
        i++;
        while (i < len && ((uint8_t)s[i] & 0xC0) == 0x80) i++;
        k--;
    }
    return i;
}

int ep_prefixes(const char *q, size_t qlen, size_t ncp, size_t lens[EP_NTAGS], int tags[EP_NTAGS]) {
    if (ncp < EP_MIN_CP) return 0;
    int np = 0;
    for (size_t k = 1; k <= 5; k++)
        if (k < ncp) {
            lens[np] = k;
            tags[np++] = (int)k - 1;
        }
    uint8_t dig[MD5_DIGEST_LEN];
    md5(q, qlen, dig);
    lens[np] = 2 + (size_t)md5_mod(dig, ncp - 2);
    tags[np++] = EP_TAG_RAND;
    return np;
}

int ep_fold_parse(const char *s, unsigned *f, unsigned *k) {
    const char *sl = strchr(s, '/');
    uint64_t a, b;
    if (!sl || qparse_u64(s, (size_t)(sl - s), &a) || qparse_u64(sl + 1, strlen(sl + 1), &b)) return -1;
    if (b < 2 || b > EP_MAX_FOLDS || a >= b) return -1;
    *f = (unsigned)a;
    *k = (unsigned)b;
    return 0;
}

unsigned ep_user_fold(const char *user, size_t len, unsigned k) {
    uint8_t dig[MD5_DIGEST_LEN];
    md5(user, len, dig);
    return (unsigned)md5_mod(dig, k);
}

double ep_record(ep_quality *q, int tag, unsigned rank) {
    double rr = rank && rank <= EP_TOPK ? 1.0 / rank : 0.0;
    q->rr[tag] += rr;
    q->n[tag]++;
    if (tag == EP_TAG_RAND && rr > 0) {
        if (rank == 1) q->sr[0]++;
        if (rank <= 3) q->sr[1]++;
        q->sr[2]++;
    }
    return rr;
}

double ep_mrr(const ep_quality *q, int tag) { return q->n[tag] ? q->rr[tag] / (double)q->n[tag] : 0.0; }

double ep_sr(const ep_quality *q, int which) {
    return q->n[EP_TAG_RAND] ? (double)q->sr[which] / (double)q->n[EP_TAG_RAND] : 0.0;
}

void ep_quality_merge(ep_quality *dst, const ep_quality *src) {
    for (int t = 0; t < EP_NTAGS; t++) {
        dst->rr[t] += src->rr[t];
        dst->n[t] += src->n[t];
    }
    for (int k = 0; k < 3; k++) dst->sr[k] += src->sr[k];
}

/* --- report JSON ----------------------------------------------------------- */

int ep_json_key(qbuf *b, const char *sep, const char *key) {
    int rc = qbuf_puts(b, sep);
    rc |= json_str(b, key, strlen(key));
    rc |= qbuf_append(b, ": ", 2);
    return rc;
}

int ep_json_counts(qbuf *b, const char *sep, const char *const *keys, const uint64_t *v, size_t n) {
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        rc |= ep_json_key(b, i ? sep : "", keys[i]);
        rc |= qbuf_putu64(b, v[i]);
    }
    return rc;
}

int ep_json_figures(qbuf *b, const char *sep, const char *const *keys, const double *v, size_t n, int decimals) {
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        rc |= ep_json_key(b, i ? sep : "", keys[i]);
        rc |= json_fixed(b, v[i], decimals);
    }
    return rc;
}

static int figures_object(qbuf *b, const char *const *keys, const double *v, size_t n) {
    int rc = qbuf_putc(b, '{');
    rc |= ep_json_figures(b, ", ", keys, v, n, EP_JSON_DECIMALS);
    rc |= qbuf_putc(b, '}');
    return rc;
}

int ep_json_mrr(qbuf *b, const ep_quality *q) {
    double v[EP_NTAGS];
    for (int t = 0; t < EP_NTAGS; t++) v[t] = ep_mrr(q, t);
    return figures_object(b, ep_tag_names, v, EP_NTAGS);
}

int ep_json_sr(qbuf *b, const ep_quality *q) {
    static const char *const keys[3] = {"1", "3", "10"};
    double v[3];
    for (int k = 0; k < 3; k++) v[k] = ep_sr(q, k);
    return figures_object(b, keys, v, 3);
}

int ep_write_file(const char *cmd, const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "w");
    int bad = !f || fwrite(data, 1, len, f) != len, err = errno;
    if (f && fclose(f) && !bad) bad = 1, err = errno;
    if (!bad) return 0;
    fprintf(stderr, "%s: cannot write %s: %s\n", cmd, path, strerror(err));
    return -1;
}
