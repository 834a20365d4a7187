/* replay_run.c -- the run of `qac replay`: the connections, the requests a
 * planned event sends, and the poll loop that sends them on time and matches
 * each reply to its request, taking the measures (latency, errors, quality,
 * keystrokes saved) as the replies come in. Also the two text-protocol pieces
 * it uses, rp_quote and rp_parse_reply (public in replay.h, for the tests).
 * What to play comes from replay_plan.c; replay.c sets the run up and calls
 * rp_run_connect, then rp_run_loop.
 *
 * What is sent. Each event becomes the keystrokes of its query (norm_eval
 * form): one
 *     COMPLETE "<prefix>" LIMIT K' USER "<user>" SESSION "<user>/<n>"
 * per typed prefix (rp_plan: all prefixes, or exactly the evaluation set),
 * K' = max(--k, 10) (with FUZZY MODE after --fuzzy MODE, and INFIX after
 * --infix: what the web page asks is --fuzzy auto --infix), then, unless
 * --no-accept,
 *     ACCEPT "<query>" USER .. SESSION .. PREFIX "<p>" [RANK r]
 * where p is the shortest typed prefix whose answer showed the query in the
 * top --k (the person picks it there, RANK = its position), else the last
 * typed prefix with RANK 0 (typed out). In open loop the ACCEPT may leave
 * before the answers it would use: then PREFIX is the last prefix, no RANK.
 * Query lists (no user, no time) send neither USER nor SESSION. Events before
 * --measure-from are sent as the ACCEPT only and are not measured. With
 * --typos, a typo'd prefix's COMPLETE is followed by two more: the same
 * request with the typo'd prefix (no FUZZY option, whatever --fuzzy says),
 * then that one with FUZZY AUTO appended (both with INFIX after --infix;
 * replay_typos.c); their latencies go to their own histograms.
 *
 * Load shapes. Events are assigned to connections by a hash of the user, so
 * one user's requests stay in order on one TCP connection (the server
 * answers in order per connection).
 *   closed loop (default): each connection keeps up to --pipeline users in
 *     flight; a user's next keystroke leaves when the previous answer is in;
 *     events start in log order, and an event whose user is still typing
 *     waits (and holds back the events behind it on that connection).
 *     Latency = reply time - send time.
 *   open loop, --rate R: request i of the whole run is due at t0 + i / R;
 *     --speed X: an event's requests are due at t0 + (time - first) / X,
 *     all at once (pipelined). Requests leave when due whatever the answers;
 *     latency is measured from the due time, so a stalled server shows as
 *     latency, not as a lower rate (no coordinated omission).
 *
 * Matching. An event in play holds a slot (its plan, what it has sent, the
 * first rank in the top --k); each connection keeps a FIFO of its unanswered
 * requests (req: slot, kind, due and send times). Since the server answers
 * in order per connection, the next complete reply is the oldest request's.
 *
 * Why poll(2) and not libuv: the client is one thread with N sockets and
 * one timer (the next due request); ppoll() with a nanosecond timeout and
 * non-blocking sockets does that with no callbacks or handle lifetimes, and
 * each loop turn reads, parses, schedules and writes in a fixed order.
 *
 * Failure: connect (REPLAY_CONNECT_MS) and reply (--timeout, the oldest
 * unanswered request) timeouts, a closed connection, or a reply that does not
 * parse end the run with a one-line message, the partial report, exit 1.
 * So does SIGINT / SIGTERM (rp_run_on_signal), and, in open loop, more than
 * REPLAY_MAX_INFLIGHT unanswered requests ("server not keeping up"). The
 * reports are written by replay_report.c.
 */
#include "data/replay_internal.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/alloc.h"
#include "data/qlog.h"
#include "text/norm.h"

/* --- the text protocol: quoting requests, parsing replies --------------- */

int rp_quote(qbuf *out, const char *s, size_t len) {
    if (qbuf_reserve(out, 2 * len + 2)) return -1;
    char *w = out->data + out->len;
    *w++ = '"';
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\') *w++ = '\\';
        *w++ = s[i];
    }
    *w++ = '"';
    out->len = (size_t)(w - out->data);
    return 0;
}

/* norm_eval of a display string, with an ASCII fast path (lower-case, runs
 * of white space to one space, trimmed): the client must not become the
 * bottleneck by running utf8proc on every suggestion. */
static int match_form(const char *d, size_t n, char *out, size_t cap) {
    int ascii = 1;
    for (size_t i = 0; i < n && ascii; i++) ascii = (unsigned char)d[i] < 0x80;
    if (!ascii) return norm_eval(d, n, out, cap);
    size_t o = 0;
    int sp = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c == ' ' || (c >= '\t' && c <= '\r')) {
            sp = o > 0;
            continue;
        }
        if (o + 2 > cap) return -1;
        if (sp) out[o++] = ' ';
        sp = 0;
        out[o++] = (char)tolower(c);
    }
    return (int)o;
}

/* Finds the end of the line starting at buf[off]: returns the index of its
 * '\n' or -1. *e gets the content end (a '\r' before '\n' dropped). */
static long line_end(const char *buf, size_t len, size_t off, size_t *e) {
    const char *nl = memchr(buf + off, '\n', len - off);
    if (!nl) return -1;
    size_t i = (size_t)(nl - buf);
    *e = i > off && buf[i - 1] == '\r' ? i - 1 : i;
    return (long)i;
}

long rp_parse_reply(const char *buf, size_t len, int kind, const char *target, size_t tlen, char *scratch,
                    rp_reply *r, const char **why) {
    memset(r, 0, sizeof *r);
    size_t e;
    long nl = line_end(buf, len, 0, &e);
    if (nl < 0) {
        if (len > REPLAY_MAX_REPLY_LINE) {
            *why = "reply line too long";
            return -1;
        }
        return 0;
    }
    if (e >= 4 && !memcmp(buf, "ERR ", 4)) {
        r->err = 1;
        size_t i = 4, c = 0;
        while (i < e && buf[i] != ' ' && c < sizeof r->code - 1) r->code[c++] = buf[i++];
        r->code[c] = 0;
        if (!c) memcpy(r->code, "?", 2);
        return nl + 1;
    }
    if (e < 2 || memcmp(buf, "OK", 2) || (e > 2 && buf[2] != ' ')) {
        *why = "reply is neither OK nor ERR";
        return -1;
    }
    if (kind == RP_ACCEPT) return nl + 1;
    uint64_t n;
    if (e <= 3 || qparse_u64(buf + 3, e - 3, &n) || n > REPLAY_MAX_K) {
        *why = "COMPLETE reply without a valid count";
        return -1;
    }
    r->n = (int)n;
    size_t off = (size_t)nl + 1;
    for (uint64_t i = 0; i < n; i++) {
        nl = line_end(buf, len, off, &e);
        if (nl < 0) {
            if (len - off > REPLAY_MAX_REPLY_LINE) {
                *why = "reply line too long";
                return -1;
            }
            return 0;
        }
        const char *tab = NULL;
        for (size_t k = e; k > off; k--)
            if (buf[k - 1] == '\t') {
                tab = buf + k - 1;
                break;
            }
        if (!tab) {
            *why = "suggestion line without a TAB before the score";
            return -1;
        }
        if (target && !r->rank) {
            int m = match_form(buf + off, (size_t)(tab - (buf + off)), scratch, RP_SCRATCH);
            if (m >= 0 && (size_t)m == tlen && !memcmp(scratch, target, tlen)) r->rank = (unsigned)i + 1;
        }
        off = (size_t)nl + 1;
    }
    return (long)off;
}

/* --- the run: signals, the end of a run, errors, users to connections --- */

static volatile sig_atomic_t rp_interrupted;
void rp_run_on_signal(int sig) {
    (void)sig;
    rp_interrupted = 1;
}

/* The first reason the run ends early wins. */
static void set_fatal(rp_run *r, const char *msg) {
    if (r->fatal) return;
    snprintf(r->fatal_buf, sizeof r->fatal_buf, "%s", msg);
    r->fatal = r->fatal_buf;
}

static void count_err(rp_run *r, const char *code) {
    for (size_t i = 0; i < ARRAY_LEN(r->errs); i++) {
        if (!r->errs[i].n) {
            snprintf(r->errs[i].code, sizeof r->errs[i].code, "%s", code);
            r->errs[i].n = 1;
            return;
        }
        if (!strcmp(r->errs[i].code, code)) {
            r->errs[i].n++;
            return;
        }
    }
    r->errs_other++;
}

uint32_t rp_run_user_hash(const char *u, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)u[i]) * 16777619u;
    return h;
}

/* --- connections -------------------------------------------------------- */

int rp_run_connect(rp_run *r) {
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(r->host, r->port, &hints, &ai);
    if (g) {
        fprintf(stderr, "qac replay: cannot resolve %s:%s: %s\n", r->host, r->port, gai_strerror(g));
        return -1;
    }
    int rc = 0;
    for (uint32_t i = 0; i < r->nconn && !rc; i++) {
        conn *c = &r->c[i];
        c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            fprintf(stderr, "qac replay: socket: %s\n", strerror(errno));
            rc = -1;
            break;
        }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int err = 0;
        if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            if (errno != EINPROGRESS) {
                err = errno;
            } else {
                struct pollfd p = {c->fd, POLLOUT, 0};
                int pr = poll(&p, 1, REPLAY_CONNECT_MS);
                socklen_t sl = sizeof err;
                if (pr == 0) err = ETIMEDOUT;
                else if (pr < 0) err = errno;
                else getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
            }
        }
        if (err) {
            fprintf(stderr, "qac replay: cannot connect to %s:%s: %s; is 'qac serve' running there?\n", r->host,
                    r->port, strerror(err));
            rc = -1;
        }
    }
    freeaddrinfo(ai);
    return rc;
}

/* --- slots and requests ------------------------------------------------- */

static int slot_new(rp_run *r, uint32_t ev, uint32_t *out) {
    if (r->free_slot == UINT32_MAX) {
        if (r->nslot == r->scap) {
            uint32_t nc = r->scap ? r->scap * 2 : 256;
            slot *ns = qrealloc(r->s, nc * sizeof *ns);
            if (!ns) return -1;
            r->s = ns;
            r->scap = nc;
        }
        r->s[r->nslot].next_free = UINT32_MAX;
        r->free_slot = r->nslot++;
    }
    uint32_t id = r->free_slot;
    slot *s = &r->s[id];
    r->free_slot = s->next_free;
    const ep_event *v = &r->E.ev[ev];
    memset(s, 0, sizeof *s);
    s->ev = ev;
    s->uidx = r->uidx[ev];
    s->conn = v->userlen ? rp_run_user_hash(ep_user(&r->E, v), v->userlen) % r->nconn : (uint32_t)(v->seq % r->nconn);
    s->measured = r->measure_from == INT64_MIN || v->time == QLOG_NO_TIME || v->time >= r->measure_from;
    rp_plan_init(&s->plan, ep_query(&r->E, v), v->querylen, r->all);
    if (!s->measured) s->next = s->plan.ntyped;
    *out = id;
    return 0;
}

static void slot_free(rp_run *r, uint32_t id) {
    r->s[id].next_free = r->free_slot;
    r->free_slot = id;
}

static int push_req(conn *c, const req *q) {
    if (c->qlen == c->qcap) {
        size_t nc = c->qcap ? c->qcap * 2 : 64;
        req *nq = qmalloc(nc * sizeof *nq);
        if (!nq) return -1;
        for (size_t i = 0; i < c->qlen; i++) nq[i] = c->q[(c->qhead + i) % c->qcap];
        qfree(c->q);
        c->q = nq;
        c->qcap = nc;
        c->qhead = 0;
    }
    c->q[(c->qhead + c->qlen) % c->qcap] = *q;
    c->qlen++;
    return 0;
}

static int put_ctx(rp_run *r, qbuf *b, const ep_event *v, uint32_t ev) {
    if (!v->userlen) return 0;
    int rc = qbuf_puts(b, " USER ") | rp_quote(b, ep_user(&r->E, v), v->userlen) | qbuf_puts(b, " SESSION ");
    char sid[REPLAY_MAX_USER + 16];
    memcpy(sid, ep_user(&r->E, v), v->userlen);
    int n = snprintf(sid + v->userlen, 16, "/%u", r->sess[ev]);
    return rc | rp_quote(b, sid, v->userlen + (size_t)n);
}

/* A COMPLETE's options and end of line: FUZZY fuzzy (NULL: none), INFIX
 * with --infix. */
static int put_opts(const rp_run *r, qbuf *b, const char *fuzzy) {
    int rc = 0;
    if (fuzzy) rc |= qbuf_puts(b, " FUZZY ") | qbuf_puts(b, fuzzy);
    if (r->infix) rc |= qbuf_puts(b, " INFIX");
    return rc | qbuf_puts(b, "\r\n");
}

/* Issues the slot's next request on its connection, due at t_due. Returns 1
 * when one was issued, 0 when the event has nothing more to send, -1 OOM. */
static int issue(rp_run *r, uint32_t id, uint64_t t_due) {
    slot *s = &r->s[id];
    conn *c = &r->c[s->conn];
    const ep_event *v = &r->E.ev[s->ev];
    const char *q = ep_query(&r->E, v);
    req rq = {t_due, qtime_ns(), id, 0, RP_COMPLETE, (uint8_t)s->measured};
    qbuf *b = &c->out;
    int rc;
    if (s->typo_next) { /* the typo'd prefix: plain, then with FUZZY AUTO */
        int fuzzy = s->typo_next == 2;
        rc = qbuf_puts(b, "COMPLETE ") | rp_quote(b, s->typo, s->typo_len) |
             qbuf_printf(b, " LIMIT %u", r->k < EP_TOPK ? EP_TOPK : r->k) | put_ctx(r, b, v, s->ev) |
             put_opts(r, b, fuzzy ? "AUTO" : NULL);
        rq.kind = fuzzy ? RP_TYPO_FUZZY : RP_TYPO_PLAIN;
        s->typo_next = fuzzy ? 0 : 2;
    } else if (s->next < s->plan.ntyped) {
        size_t len = rp_plan_len(&s->plan, s->next++);
        size_t bytes = ep_cp_offset(q, v->querylen, len);
        rc = qbuf_puts(b, "COMPLETE ") | rp_quote(b, q, bytes) | qbuf_printf(b, " LIMIT %u", r->k < EP_TOPK ? EP_TOPK : r->k) |
             put_ctx(r, b, v, s->ev) | put_opts(r, b, r->fuzzy);
        rq.plen = (uint16_t)len;
        s->last_len = len;
        r->completes++;
        if (s->measured) rp_typos_plan(r, s, q, v->querylen, bytes, len);
    } else if (r->accept && !s->accept_sent) {
        s->accept_sent = 1;
        rq.kind = RP_ACCEPT;
        rc = qbuf_puts(b, "ACCEPT ") | rp_quote(b, q, v->querylen) | put_ctx(r, b, v, s->ev);
        if (s->measured && s->plan.ntyped) {
            size_t plen = s->first_len ? s->first_len : s->last_len;
            rc |= qbuf_puts(b, " PREFIX ") | rp_quote(b, q, ep_cp_offset(q, v->querylen, plen));
            if (s->first_len) rc |= qbuf_printf(b, " RANK %u", s->first_rank);
            else if (s->pending == 0) rc |= qbuf_puts(b, " RANK 0");
        }
        rc |= qbuf_puts(b, "\r\n");
        r->accepts++;
    } else {
        return 0;
    }
    if (rc || push_req(c, &rq)) return -1;
    s->pending++;
    r->inflight++;
    r->requests++;
    if (!r->t_first) r->t_first = rq.t_sent;
    return 1;
}

/* The event of slot id is over (everything answered). */
static void finish(rp_run *r, uint32_t id) {
    slot *s = &r->s[id];
    if (s->measured && s->plan.ntyped) rp_keys_add(&r->keys, s->plan.ncp, s->first_len);
    r->events_done++;
    if (!r->rate && !r->speed) { /* closed loop: leave the connection's active set */
        conn *c = &r->c[s->conn];
        for (uint32_t i = 0; i < c->nact; i++)
            if (c->act[i] == id) {
                c->act[i] = c->act[--c->nact];
                break;
            }
    }
    slot_free(r, id);
}

static int limit_reached(const rp_run *r) { return r->limit && r->events_measured >= r->limit; }

/* Starts an event: a slot and its first request. Returns the slot (or
 * UINT32_MAX when it had nothing to send and is already over), -2 on OOM. */
static int64_t start_event(rp_run *r, uint32_t ev, uint64_t t_due) {
    uint32_t id;
    if (slot_new(r, ev, &id)) return -2;
    r->events_started++;
    if (r->s[id].measured) r->events_measured++;
    else r->events_unmeasured++;
    if (!r->rate && !r->speed) {
        conn *c = &r->c[r->s[id].conn];
        c->act[c->nact++] = id;
    }
    int rc = issue(r, id, t_due);
    if (rc < 0) return -2;
    if (rc == 0) {
        finish(r, id);
        return UINT32_MAX;
    }
    return id;
}

/* Closed loop: start what the connection's pipeline allows. */
static int conn_fill(rp_run *r, conn *c) {
    while (!r->stopping && c->nact < r->pipeline && c->evhead < c->nev) {
        uint32_t ev = c->evs[c->evhead];
        int busy = 0;
        for (uint32_t i = 0; i < c->nact && !busy; i++) busy = r->s[c->act[i]].uidx == r->uidx[ev];
        if (busy) break;
        if (limit_reached(r)) {
            r->stopping = 1;
            break;
        }
        c->evhead++;
        uint64_t t = qtime_ns();
        if (start_event(r, ev, t) == -2) return -1;
    }
    return 0;
}

/* Open loop: the due time of the next request (of slot cur or of the next
 * event). */
static uint64_t next_due(const rp_run *r) {
    if (r->rate > 0) return r->t0 + (uint64_t)((double)r->reqno * 1e9 / r->rate);
    const ep_event *v;
    if (r->cur != UINT32_MAX) v = &r->E.ev[r->s[r->cur].ev];
    else v = &r->E.ev[r->order[r->cursor]];
    return r->t0 + (uint64_t)((double)(v->time - r->time0) * 1e9 / r->speed);
}

static int open_issue(rp_run *r, uint64_t now) {
    while (!r->stopping && (r->cur != UINT32_MAX || r->cursor < r->norder)) {
        if (r->inflight >= REPLAY_MAX_INFLIGHT) {
            set_fatal(r, "server not keeping up: over 4M requests unanswered (lower --rate or --speed)");
            return 0;
        }
        uint64_t due = next_due(r);
        if (due > now) break;
        if (r->cur == UINT32_MAX) {
            if (limit_reached(r)) {
                r->stopping = 1;
                break;
            }
            int64_t id = start_event(r, r->order[r->cursor++], due);
            if (id == -2) return -1;
            if (id != UINT32_MAX) {
                r->cur = (uint32_t)id;
                r->reqno++;
            }
            continue;
        }
        int rc = issue(r, r->cur, due);
        if (rc < 0) return -1;
        if (rc == 0) {
            r->s[r->cur].all_issued = 1;
            if (!r->s[r->cur].pending) finish(r, r->cur);
            r->cur = UINT32_MAX;
        } else {
            r->reqno++;
        }
    }
    return 0;
}

static void on_reply(rp_run *r, conn *c, const rp_reply *rep, uint64_t now) {
    req rq = c->q[c->qhead];
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
    r->inflight--;
    slot *s = &r->s[rq.slot];
    s->pending--;
    if (rq.kind == RP_TYPO_PLAIN || rq.kind == RP_TYPO_FUZZY) {
        rp_typos_record(r, s, rq.kind == RP_TYPO_FUZZY, rep, now > rq.t_due ? (now - rq.t_due) / 1000 : 0);
        r->t_last = now;
        if (rep->err) count_err(r, rep->code);
        return;
    }
    if (rq.measured) {
        uint64_t us = now > rq.t_due ? (now - rq.t_due) / 1000 : 0;
        hist_add(&r->lat, us);
        int bin = 0;
        while (us && bin < REPLAY_LAT_BINS - 1) {
            us >>= 1;
            bin++;
        }
        r->lat_bins[bin]++;
        r->measured_requests++;
        r->t_last = now;
    }
    if (rq.kind == RP_COMPLETE) s->clean_rank = rep->err ? 0 : rep->rank; /* --typos compares with it */
    if (rep->err) count_err(r, rep->code);
    else if (rq.kind == RP_COMPLETE && rq.measured) {
        unsigned tags = rp_plan_tags(&s->plan, rq.plen);
        for (int t = 0; t < EP_NTAGS; t++)
            if (tags & (1u << t)) ep_record(&r->q, t, rep->rank);
        if (rep->rank && rep->rank <= r->k && !s->first_len) {
            s->first_len = rq.plen;
            s->first_rank = rep->rank;
        }
    }
}

/* Reads what the connection has; handles every complete reply. */
static int conn_read(rp_run *r, conn *c, uint32_t ci) {
    for (;;) {
        if (qbuf_reserve(&c->in, REPLAY_READ_CHUNK)) return -1;
        ssize_t n = recv(c->fd, c->in.data + c->in.len, REPLAY_READ_CHUNK, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            r->disconnects++;
            char m[128];
            snprintf(m, sizeof m, "the server closed connection %u mid-run%s (did it exit?)", ci,
                     n < 0 ? " with an error" : "");
            set_fatal(r, m);
            return 0;
        }
        c->in.len += (size_t)n;
        if ((size_t)n < REPLAY_READ_CHUNK) break;
    }
    uint64_t now = qtime_ns();
    while (c->in_off < c->in.len) {
        if (!c->qlen) {
            r->protocol_errors++;
            set_fatal(r, "the server sent bytes nobody asked for");
            return 0;
        }
        const req *rq = &c->q[c->qhead];
        const slot *s = &r->s[rq->slot];
        const ep_event *v = &r->E.ev[s->ev];
        int want = rq->kind != RP_ACCEPT && rq->measured;
        rp_reply rep;
        const char *why = NULL;
        long used = rp_parse_reply(c->in.data + c->in_off, c->in.len - c->in_off, rq->kind == RP_ACCEPT ? RP_ACCEPT : RP_COMPLETE,
                                   want ? ep_query(&r->E, v) : NULL, v->querylen, r->scratch, &rep, &why);
        if (used == 0) break;
        if (used < 0) {
            r->protocol_errors++;
            char m[128];
            snprintf(m, sizeof m, "unexpected reply from the server: %s", why);
            set_fatal(r, m);
            return 0;
        }
        c->in_off += (size_t)used;
        uint32_t id = rq->slot;
        on_reply(r, c, &rep, now);
        slot *ss = &r->s[id];
        if (!r->rate && !r->speed) {
            if (!r->stopping) {
                int rc = issue(r, id, qtime_ns());
                if (rc < 0) return -1;
                if (rc == 0 && !ss->pending) finish(r, id);
            } else if (!ss->pending) {
                finish(r, id);
            }
        } else if (!ss->pending && (ss->all_issued || r->stopping) && id != r->cur) {
            finish(r, id);
        }
    }
    if (c->in_off == c->in.len) {
        c->in.len = c->in_off = 0;
    } else if (c->in_off > REPLAY_READ_CHUNK) {
        qbuf_consume(&c->in, c->in_off);
        c->in_off = 0;
    }
    return 0;
}

static void conn_write(rp_run *r, conn *c) {
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0) {
            r->disconnects++;
            char m[128];
            snprintf(m, sizeof m, "cannot send to the server: %s", strerror(errno));
            set_fatal(r, m);
            return;
        }
        c->out_off += (size_t)n;
    }
    c->out.len = c->out_off = 0;
}

static void progress(rp_run *r, uint64_t now, uint64_t *last_t, uint64_t *last_req, int final) {
    if (!r->progress) return;
    if (!final && now - *last_t < 1000000000ull) return;
    double dt = (double)(now - *last_t) / 1e9, el = (double)(now - r->t0) / 1e9;
    double rps = dt > 0 ? (double)(r->requests - *last_req) / dt : 0;
    double evs = el > 0 ? (double)r->events_started / el : 0;
    double left = (double)r->norder - (double)r->events_started;
    if (r->limit && (double)(r->limit - (r->events_measured < r->limit ? r->events_measured : r->limit)) < left)
        left = (double)(r->limit - (r->events_measured < r->limit ? r->events_measured : r->limit));
    double eta = evs > 0 ? left / evs : 0;
    if (r->duration > 0 && r->duration - el < eta) eta = r->duration - el > 0 ? r->duration - el : 0;
    fprintf(stderr, "\rqac replay: events %llu/%zu, %.0f req/s, ETA %.0f s   %s",
            (unsigned long long)r->events_started, r->norder, rps, eta, final ? "\n" : "");
    *last_t = now;
    *last_req = r->requests;
}

int rp_run_loop(rp_run *r) {
    struct pollfd *pf = qcalloc(r->nconn, sizeof *pf);
    if (!pf) {
        set_fatal(r, "out of memory");
        return -1;
    }
    int open = r->rate > 0 || r->speed > 0;
    r->t0 = qtime_ns();
    r->cur = UINT32_MAX;
    uint64_t last_t = r->t0, last_req = 0;
    uint64_t end = r->duration > 0 ? r->t0 + (uint64_t)(r->duration * 1e9) : UINT64_MAX;
    int rc = 0;
    if (!open)
        for (uint32_t i = 0; i < r->nconn && rc == 0; i++) rc = conn_fill(r, &r->c[i]);
    while (rc == 0 && !r->fatal) {
        uint64_t now = qtime_ns();
        if (rp_interrupted) {
            set_fatal(r, "interrupted");
            break;
        }
        if (now >= end) r->stopping = 1;
        if (open && (rc = open_issue(r, now))) break;
        if (r->fatal) break;
        int more_to_start = open ? (r->cur != UINT32_MAX || r->cursor < r->norder) : 0;
        if (!open)
            for (uint32_t i = 0; i < r->nconn; i++) more_to_start |= r->c[i].evhead < r->c[i].nev;
        if (!r->inflight && (r->stopping || !more_to_start)) break;
        /* timeouts: the oldest unanswered request of each connection */
        for (uint32_t i = 0; i < r->nconn; i++) {
            conn *c = &r->c[i];
            if (c->qlen && now > c->q[c->qhead].t_sent && now - c->q[c->qhead].t_sent > r->timeout_ms * 1000000ull) {
                r->timeouts++;
                char m[128];
                snprintf(m, sizeof m, "no reply from the server in %llu ms (--timeout)", (unsigned long long)r->timeout_ms);
                set_fatal(r, m);
            }
        }
        if (r->fatal) break;
        for (uint32_t i = 0; i < r->nconn; i++) {
            pf[i].fd = r->c[i].fd;
            pf[i].events = POLLIN | (r->c[i].out_off < r->c[i].out.len ? POLLOUT : 0);
            pf[i].revents = 0;
        }
        /* wake for the next due request, the progress line, or 100 ms to check timeouts */
        uint64_t wake = now + 100000000ull;
        if (open && !r->stopping && (r->cur != UINT32_MAX || r->cursor < r->norder)) {
            uint64_t d = next_due(r);
            if (d < wake) wake = d;
        }
        if (end < wake) wake = end;
        struct timespec ts = {0, 0};
        if (wake > now) {
            ts.tv_sec = (time_t)((wake - now) / 1000000000ull);
            ts.tv_nsec = (long)((wake - now) % 1000000000ull);
        }
        int n = ppoll(pf, r->nconn, &ts, NULL);
        if (n < 0 && errno != EINTR) {
            char m[128];
            snprintf(m, sizeof m, "poll: %s", strerror(errno));
            set_fatal(r, m);
            break;
        }
        for (uint32_t i = 0; n > 0 && i < r->nconn && rc == 0 && !r->fatal; i++) {
            conn *c = &r->c[i];
            if (pf[i].revents & (POLLIN | POLLERR | POLLHUP)) rc = conn_read(r, c, i);
            if (rc == 0 && !r->fatal && !open) rc = conn_fill(r, c);
        }
        for (uint32_t i = 0; i < r->nconn && !r->fatal; i++)
            if (r->c[i].out_off < r->c[i].out.len) conn_write(r, &r->c[i]);
        progress(r, qtime_ns(), &last_t, &last_req, 0);
    }
    if (r->progress) progress(r, qtime_ns(), &last_t, &last_req, 1);
    qfree(pf);
    if (rc < 0) set_fatal(r, "out of memory");
    return r->fatal ? -1 : 0;
}
