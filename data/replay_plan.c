/* replay_plan.c -- what `qac replay` plays, decided before a socket is
 * opened: which events, in which order, as which user and session, and which
 * keystrokes each one types; and the keystrokes-saved arithmetic the run
 * scores them with. No I/O here but one-line messages on stderr (events
 * skipped, too many events, out of memory).
 *
 * Events are read and ordered as in `qac eval` (evalproto.c; replay.c reads
 * them); rp_plan_events then numbers users and sessions and builds the play
 * order (rp_run.order, log order). Sessions: a user's session number goes up
 * after 30 minutes without events (EP_SESSION_GAP); the requests carry the id
 * "<user>/<n>". An event without a user (query lists) is a user of its own.
 * Events before --measure-from are played as the ACCEPT only and are not
 * measured (with --no-accept they are not played at all). An event whose
 * normalized query is over RP_MAX_QUERY bytes or whose AnonID is over
 * REPLAY_MAX_USER bytes is skipped and counted. time0 is the first timed
 * event played (--speed measures due times from it).
 *
 * The keystrokes of one query (rp_plan, replay.h): all = every prefix of
 * 1..n code points; eval = exactly EVALUATION.md's scored set, distinct
 * lengths in increasing order. rp_plan_tags says under which evaluation tags
 * the answer at a typed length is scored. rp_keys_* is the keystrokes-saved
 * share (the definition is in replay.h).
 */
#include "data/replay_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "data/qlog.h"

/* --- the keystrokes of one query, keystrokes saved ---------------------- */

void rp_plan_init(rp_plan *p, const char *q, size_t qlen, int all) {
    memset(p, 0, sizeof *p);
    p->ncp = qutf8_count(q, qlen);
    p->all = all;
    p->enp = ep_prefixes(q, qlen, p->ncp, p->elens, p->etags);
    if (all) {
        p->ntyped = p->ncp;
        return;
    }
    for (int i = 0; i < p->enp; i++) { /* insert distinct lengths in order */
        size_t l = p->elens[i], j = p->ntyped;
        int dup = 0;
        for (size_t k = 0; k < p->ntyped; k++) dup |= p->evlens[k] == l;
        if (dup) continue;
        while (j > 0 && p->evlens[j - 1] > l) {
            p->evlens[j] = p->evlens[j - 1];
            j--;
        }
        p->evlens[j] = l;
        p->ntyped++;
    }
}

size_t rp_plan_len(const rp_plan *p, size_t i) { return p->all ? i + 1 : p->evlens[i]; }

unsigned rp_plan_tags(const rp_plan *p, size_t len) {
    unsigned m = 0;
    for (int i = 0; i < p->enp; i++)
        if (p->elens[i] == len) m |= 1u << p->etags[i];
    return m;
}

void rp_keys_add(rp_keys *k, size_t n, size_t first_shown) {
    k->typed += n;
    if (first_shown && first_shown <= n) k->saved += n - first_shown;
}

double rp_keys_share(const rp_keys *k) { return k->typed ? (double)k->saved / (double)k->typed : 0.0; }

/* --- the events: users, sessions, the play order ------------------------ */

static const ep_events *ucmp_E;
static int user_cmp(const void *a, const void *b) {
    const ep_event *x = &ucmp_E->ev[*(const uint32_t *)a], *y = &ucmp_E->ev[*(const uint32_t *)b];
    size_t m = x->userlen < y->userlen ? x->userlen : y->userlen;
    int c = memcmp(ep_user(ucmp_E, x), ep_user(ucmp_E, y), m);
    if (c) return c;
    if (x->userlen != y->userlen) return x->userlen < y->userlen ? -1 : 1;
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    return i < j ? -1 : i > j;
}

/* After ep_events_sort: user numbers, session numbers, the play order. */
int rp_plan_events(rp_run *r) {
    size_t n = r->E.n;
    if (n > UINT32_MAX - 1) {
        fprintf(stderr, "qac replay: more than %u events\n", UINT32_MAX - 1);
        return -1;
    }
    r->uidx = qmalloc((n + 1) * sizeof *r->uidx);
    r->sess = qmalloc((n + 1) * sizeof *r->sess);
    r->order = qmalloc((n + 1) * sizeof *r->order);
    uint32_t *tmp = qmalloc((n + 1) * sizeof *tmp);
    if (!r->uidx || !r->sess || !r->order || !tmp) {
        qfree(tmp);
        fprintf(stderr, "qac replay: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < n; i++) tmp[i] = (uint32_t)i;
    ucmp_E = &r->E;
    if (n) qsort(tmp, n, sizeof *tmp, user_cmp);
    uint32_t u = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        const ep_event *v = &r->E.ev[tmp[i]];
        if (i) {
            const ep_event *p = &r->E.ev[tmp[i - 1]];
            if (v->userlen != p->userlen || memcmp(ep_user(&r->E, v), ep_user(&r->E, p), v->userlen) || !v->userlen) {
                u++;
                s = 0;
            } else if (v->time != QLOG_NO_TIME && v->time - p->time >= EP_SESSION_GAP) {
                s++;
            }
        }
        r->uidx[tmp[i]] = u;
        r->sess[tmp[i]] = s;
    }
    qfree(tmp);
    r->time0 = QLOG_NO_TIME;
    for (size_t i = 0; i < n; i++) {
        const ep_event *v = &r->E.ev[i];
        if (v->querylen > RP_MAX_QUERY) {
            r->skip_long_query++;
            continue;
        }
        if (v->userlen > REPLAY_MAX_USER) {
            r->skip_long_user++;
            continue;
        }
        int measured = r->measure_from == INT64_MIN || v->time == QLOG_NO_TIME || v->time >= r->measure_from;
        if (!measured && !r->accept) continue; /* nothing to send */
        if (r->time0 == QLOG_NO_TIME && v->time != QLOG_NO_TIME) r->time0 = v->time;
        r->order[r->norder++] = (uint32_t)i;
    }
    if (r->skip_long_query || r->skip_long_user)
        fprintf(stderr, "qac replay: skipped %llu events with a query over %d bytes normalized, %llu with an AnonID over %d bytes\n",
                (unsigned long long)r->skip_long_query, RP_MAX_QUERY, (unsigned long long)r->skip_long_user,
                REPLAY_MAX_USER);
    return 0;
}
