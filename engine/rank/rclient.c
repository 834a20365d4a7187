/* rclient.c -- one async Redis connection with reconnection (rcl).
 * See rclient.h for the state machine, backoff and the callback contract.
 *
 * Layout: rcl { ac (the live hiredis context or NULL), state, pending FIFO of
 * rcl_req (one per command awaiting its reply, in send order: Redis answers
 * in order, so the head is the oldest), a free list of rcl_req (no malloc
 * per command once warm), two timers }.
 *   retry  one-shot: the backoff delay before the next connect
 *   watch  repeating (every min(connect, io timeout) / 4, at least 5 ms):
 *          connect timeout and io timeout
 * Invariants:
 *   - c->ac != NULL  iff  state is CONNECTING or UP;
 *   - every rcl_req on the pending list is owned by hiredis's callback list
 *     of some context (the current one, or one being freed right now);
 *   - hiredis callbacks of a context that is no longer c->ac are ignored
 *     (on_connect / on_disconnect), except reply callbacks, which always
 *     settle their request (that is the exactly-once guarantee);
 *   - the client is freed only after both timers' close callbacks ran, which
 *     is after redisAsyncFree ran every pending callback.
 *   - with Sentinels: c->sc != NULL only while CONNECTING (the question in
 *     flight; c->ac is then NULL), and a context is UP only after ROLE said
 *     "master"; callbacks of a Sentinel context that is no longer c->sc are
 *     ignored.
 */
#include "engine/rank/rclient.h"

#include <arpa/inet.h>
#include <hiredis/async.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/util.h"
#include "engine/rank/redis_uv.h"

typedef struct rcl_req {
    struct rcl_req *next;
    rcl *c;
    rcl_cb cb;
    void *pd;
    uint64_t t_ns; /* when queued */
} rcl_req;

struct rcl {
    uv_loop_t *loop;
    redisAsyncContext *ac;
    rcl_state state;
    rcl_opts o;
    char host[RCL_MAX_HOST + 1];
    char ip[INET6_ADDRSTRLEN];
    char addr[INET6_ADDRSTRLEN + 16];
    uv_timer_t retry, watch;
    int open_handles;
    uint32_t streak;       /* consecutive connect failures */
    uint64_t conn_start_ns;
    uint64_t rng;
    rcl_req *head, *tail; /* pending, oldest first */
    rcl_req *freelist;
    rcl_stat st;
    void (*closed_cb)(void *ud);
    void *closed_ud;
    /* Sentinel mode (nsent > 0): whom to ask, who is next, for which name */
    int nsent, sent_next;
    char sent_ip[RCL_MAX_SENTINELS][INET6_ADDRSTRLEN];
    int sent_port[RCL_MAX_SENTINELS];
    char master[RCL_MAX_HOST + 1];
    redisAsyncContext *sc; /* the question to a Sentinel in flight */
};

const char *rcl_strerror(int err) {
    switch (err) {
    case 0: return "ok";
    case RCL_ENOMEM: return "out of memory";
    case RCL_EINVAL: return "invalid argument";
    case RCL_EDOWN: return "redis not connected";
    case RCL_ECLOSED: return "redis client closed";
    case RCL_EBUSY: return "too many redis commands pending";
    case RCL_ERESOLVE: return "redis host did not resolve";
    default: return "unknown error";
    }
}

void rcl_opts_default(rcl_opts *o) {
    memset(o, 0, sizeof *o);
    o->port = 6379;
    o->connect_timeout_ms = RCL_DEFAULT_CONNECT_TIMEOUT_MS;
    o->io_timeout_ms = RCL_DEFAULT_IO_TIMEOUT_MS;
    o->backoff_min_ms = RCL_DEFAULT_BACKOFF_MIN_MS;
    o->backoff_max_ms = RCL_DEFAULT_BACKOFF_MAX_MS;
    o->max_pending = RCL_DEFAULT_MAX_PENDING;
}

int rcl_parse_addr(const char *s, char *host, size_t cap, int *port) {
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) return RCL_EINVAL;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[') {
        if (hl < 3 || h[hl - 1] != ']') return RCL_EINVAL;
        h++;
        hl -= 2;
    }
    uint64_t p;
    if (qparse_u64(colon + 1, strlen(colon + 1), &p) || p < 1 || p > 65535) return RCL_EINVAL;
    if (hl == 0 || hl >= cap || hl > RCL_MAX_HOST) return RCL_EINVAL;
    memcpy(host, h, hl);
    host[hl] = 0;
    *port = (int)p;
    return 0;
}

int rcl_parse_target(const char *s, rcl_opts *o, char *buf, size_t cap) {
    size_t n = strlen(s);
    if (n + 1 > cap || n >= RCL_MAX_TARGET) return RCL_EINVAL;
    memcpy(buf, s, n + 1);
    if (strncmp(buf, "sentinel://", 11) != 0) {
        o->sentinels = o->master_name = NULL;
        int port;
        char *h = buf + n + 1; /* rcl_parse_addr writes the host after the copy when it fits */
        if (cap - n - 1 < RCL_MAX_HOST + 1) return RCL_EINVAL;
        if (rcl_parse_addr(buf, h, RCL_MAX_HOST + 1, &port)) return RCL_EINVAL;
        o->host = h;
        o->port = port;
        return 0;
    }
    char *list = buf + 11, *slash = strrchr(list, '/');
    if (!slash || slash == list || !slash[1] || strlen(slash + 1) > RCL_MAX_HOST) return RCL_EINVAL;
    *slash = 0;
    int k = 0;
    for (const char *p = list;; k++) { /* every entry a HOST:PORT */
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char one[RCL_MAX_HOST + 16], host[RCL_MAX_HOST + 1];
        int port;
        if (k == RCL_MAX_SENTINELS || len >= sizeof one) return RCL_EINVAL;
        memcpy(one, p, len);
        one[len] = 0;
        if (rcl_parse_addr(one, host, sizeof host, &port)) return RCL_EINVAL;
        if (!e) break;
        p = e + 1;
    }
    o->sentinels = list;
    o->master_name = slash + 1;
    o->host = NULL;
    return 0;
}

/* One numeric address for host (IPv4 preferred: hiredis 0.14 tries it first). */
static int resolve(const char *host, char *ip, size_t cap, char *err, size_t errlen) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gr = getaddrinfo(host, NULL, &hints, &res);
    if (gr || !res) {
        snprintf(err, errlen, "cannot resolve redis host '%s': %s", host, gr ? gai_strerror(gr) : "no address");
        if (res) freeaddrinfo(res);
        return RCL_ERESOLVE;
    }
    struct addrinfo *pick = res;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    const void *src = pick->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)pick->ai_addr)->sin_addr
                                                 : (const void *)&((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr;
    inet_ntop(pick->ai_family, src, ip, (socklen_t)cap);
    freeaddrinfo(res);
    return 0;
}

static uint64_t rnd(rcl *c) {
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void on_retry(uv_timer_t *t);
static void start_connect(rcl *c);

/* Backoff for the current streak (>= 1): uniform in [d/2, d]. */
static uint64_t backoff_ms(rcl *c) {
    uint64_t d = c->o.backoff_min_ms;
    for (uint32_t i = 1; i < c->streak && d < c->o.backoff_max_ms; i++) d *= 2;
    if (d > c->o.backoff_max_ms) d = c->o.backoff_max_ms;
    uint64_t lo = d / 2;
    return lo + rnd(c) % (d - lo + 1);
}

static void schedule_retry(rcl *c) {
    c->state = RCL_DOWN;
    uv_timer_start(&c->retry, on_retry, backoff_ms(c), 0);
}

static void connect_failed(rcl *c, const char *why) {
    c->st.connect_failures++;
    c->streak++;
    if (c->streak == 1) LOG_W("redis.connect_failed", "addr=%s error=%s msg=\"retrying with backoff\"", c->addr, why);
    schedule_retry(c);
}

/* The established connection is gone (c->ac already NULL). */
static void lost(rcl *c, const char *why) {
    c->st.disconnects++;
    c->streak = 1;
    LOG_W("redis.disconnected", "addr=%s error=%s msg=\"reconnecting\"", c->addr, why);
    schedule_retry(c);
    if (c->o.on_state) c->o.on_state(c, 0, c->o.ud);
}

static void became_up(rcl *c) {
    c->state = RCL_UP;
    c->st.connects++;
    if (c->streak || c->st.connects > 1) LOG_I("redis.connected", "addr=%s", c->addr);
    c->streak = 0;
    if (c->o.on_state) c->o.on_state(c, 1, c->o.ud);
}

static void drop(rcl *c, const char *why);

/* Sentinel mode: the node named is UP only if ROLE says it is a master. */
static void on_role(redisAsyncContext *ac, void *r, void *pd) {
    rcl *c = pd;
    redisReply *rr = r;
    if (ac != c->ac || c->state != RCL_CONNECTING) return; /* dropped meanwhile */
    if (rr && rr->type == REDIS_REPLY_ARRAY && rr->elements >= 1 && rr->element[0]->type == REDIS_REPLY_STRING &&
        !strcmp(rr->element[0]->str, "master")) {
        became_up(c);
        return;
    }
    drop(c, "the node the Sentinel named is not a master (ROLE)");
}

static void on_connect(const redisAsyncContext *ac, int status) {
    rcl *c = ac->data;
    if (ac != c->ac) return;
    if (status == REDIS_OK) {
        if (c->nsent) {
            if (redisAsyncCommand(c->ac, on_role, c, "ROLE") != REDIS_OK) drop(c, "out of memory");
            return;
        }
        became_up(c);
        return;
    }
    /* hiredis frees ac after this returns (never free it here) */
    c->ac = NULL;
    connect_failed(c, ac->errstr ? ac->errstr : "error");
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    rcl *c = ac->data;
    if (ac != c->ac) return; /* we dropped it ourselves */
    c->ac = NULL;             /* already being freed by hiredis */
    lost(c, status == REDIS_OK ? "closed" : (ac->errstr ? ac->errstr : "error"));
}

static void on_reply(redisAsyncContext *ac, void *r, void *pd) {
    (void)ac;
    rcl_req *q = pd;
    rcl *c = q->c;
    /* unlink: replies come in order, so q is the head (search otherwise) */
    rcl_req **pp = &c->head, *prev = NULL;
    while (*pp && *pp != q) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = q->next;
        if (c->tail == q) c->tail = prev;
    }
    c->st.pending--;
    int status = 0;
    if (r) c->st.replies++;
    else {
        c->st.failed++;
        status = c->state == RCL_CLOSED ? RCL_ECLOSED : RCL_EDOWN;
    }
    rcl_cb cb = q->cb;
    void *upd = q->pd;
    q->next = c->freelist;
    c->freelist = q;
    /* a master demoted by a failover answers writes with READONLY: ask again */
    const redisReply *rr = r;
    int demoted = c->nsent && rr && ac == c->ac && rr->type == REDIS_REPLY_ERROR && rr->str &&
                  !strncmp(rr->str, "READONLY", 8);
    cb(c, r, status, upd);
    if (demoted && ac == c->ac && c->state == RCL_UP) drop(c, "READONLY: the master was demoted");
}

/* Abandons the current context (connect timeout, io timeout): every
 * pending callback runs with RCL_EDOWN inside redisAsyncFree. */
static void drop(rcl *c, const char *why) {
    redisAsyncContext *ac = c->ac, *sc = c->sc;
    int was_up = c->state == RCL_UP;
    c->ac = c->sc = NULL;
    c->state = RCL_DOWN;
    if (sc) redisAsyncFree(sc);
    if (ac) redisAsyncFree(ac); /* pending callbacks run now: RCL_EDOWN */
    if (c->state == RCL_CLOSED) return;
    if (was_up) lost(c, why);
    else connect_failed(c, why);
}

static void on_watch(uv_timer_t *t) {
    rcl *c = t->data;
    uint64_t now = qtime_ns();
    if (c->state == RCL_CONNECTING && now - c->conn_start_ns >= (uint64_t)c->o.connect_timeout_ms * 1000000u) {
        drop(c, "connect timed out");
    } else if (c->state == RCL_UP && c->head && now - c->head->t_ns >= (uint64_t)c->o.io_timeout_ms * 1000000u) {
        c->st.io_timeouts++;
        drop(c, "no reply within io timeout");
    }
}

static void connect_master(rcl *c) {
    redisAsyncContext *ac = redisAsyncConnect(c->ip, c->o.port);
    if (!ac) {
        connect_failed(c, "out of memory");
        return;
    }
    if (ac->err) {
        char why[160];
        snprintf(why, sizeof why, "%s", ac->errstr ? ac->errstr : "error");
        redisAsyncFree(ac);
        connect_failed(c, why);
        return;
    }
    ac->data = c;
    int rc = ruv_attach(ac, c->loop);
    if (rc) {
        redisAsyncFree(ac);
        connect_failed(c, uv_strerror(rc));
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
    c->state = RCL_CONNECTING;
    c->conn_start_ns = qtime_ns();
}

/* --- Sentinel: ask for the master's address, then connect there --- */

static void sentinel_failed(rcl *c, const char *why) {
    char msg[200];
    int i = (c->sent_next + c->nsent - 1) % c->nsent;
    snprintf(msg, sizeof msg, "sentinel %s:%d: %s", c->sent_ip[i], c->sent_port[i], why);
    drop(c, msg);
}

static void on_sentinel_connect(const redisAsyncContext *ac, int status) {
    rcl *c = ac->data;
    if (ac != c->sc || status == REDIS_OK) return;
    c->sc = NULL; /* hiredis frees it after this returns */
    sentinel_failed(c, ac->errstr ? ac->errstr : "cannot connect");
}

static void on_sentinel_disconnect(const redisAsyncContext *ac, int status) {
    rcl *c = ac->data;
    if (ac != c->sc) return; /* freed by us after its answer */
    c->sc = NULL;
    sentinel_failed(c, status == REDIS_OK ? "closed" : (ac->errstr ? ac->errstr : "error"));
}

static void on_sentinel_reply(redisAsyncContext *ac, void *r, void *pd) {
    rcl *c = pd;
    redisReply *rr = r;
    if (ac != c->sc) return;
    if (!rr || rr->type != REDIS_REPLY_ARRAY || rr->elements != 2 || rr->element[0]->type != REDIS_REPLY_STRING ||
        rr->element[1]->type != REDIS_REPLY_STRING) {
        sentinel_failed(c, rr && rr->type == REDIS_REPLY_ERROR ? rr->str : "does not know the master's name");
        return;
    }
    uint64_t port;
    char ip[INET6_ADDRSTRLEN];
    if (rr->element[0]->len >= sizeof ip || qparse_u64(rr->element[1]->str, rr->element[1]->len, &port) || !port ||
        port > 65535) {
        sentinel_failed(c, "named a malformed address");
        return;
    }
    memcpy(ip, rr->element[0]->str, rr->element[0]->len);
    ip[rr->element[0]->len] = 0;
    c->sc = NULL;
    redisAsyncFree(ac); /* inside its callback: hiredis frees it when the callback returns */
    c->st.sentinel_asks++;
    char addr[sizeof c->addr];
    snprintf(addr, sizeof addr, strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, (int)port);
    if (strcmp(addr, c->addr)) {
        if (c->addr[0] != '-') {
            c->st.master_switches++;
            LOG_W("redis.master_switched", "master=%s from=%s to=%s", c->master, c->addr, addr);
        }
        memcpy(c->ip, ip, sizeof ip);
        c->o.port = (int)port;
        memcpy(c->addr, addr, sizeof addr);
    }
    connect_master(c);
}

static void ask_sentinel(rcl *c) {
    int i = c->sent_next;
    c->sent_next = (c->sent_next + 1) % c->nsent;
    c->state = RCL_CONNECTING;
    c->conn_start_ns = qtime_ns(); /* the connect timeout covers the question and the connect */
    redisAsyncContext *sc = redisAsyncConnect(c->sent_ip[i], c->sent_port[i]);
    if (!sc || sc->err) {
        char why[160];
        snprintf(why, sizeof why, "%s", sc && sc->errstr ? sc->errstr : "out of memory");
        if (sc) redisAsyncFree(sc);
        sentinel_failed(c, why);
        return;
    }
    sc->data = c;
    int rc = ruv_attach(sc, c->loop);
    if (rc || redisAsyncCommand(sc, on_sentinel_reply, c, "SENTINEL get-master-addr-by-name %s", c->master) != REDIS_OK) {
        redisAsyncFree(sc);
        sentinel_failed(c, rc ? uv_strerror(rc) : "out of memory");
        return;
    }
    redisAsyncSetConnectCallback(sc, on_sentinel_connect);
    redisAsyncSetDisconnectCallback(sc, on_sentinel_disconnect);
    c->sc = sc;
}

static void start_connect(rcl *c) {
    if (c->nsent) ask_sentinel(c);
    else connect_master(c);
}

static void on_retry(uv_timer_t *t) {
    rcl *c = t->data;
    if (c->state == RCL_DOWN) start_connect(c);
}

int rcl_new(uv_loop_t *loop, const rcl_opts *o, rcl **out, char *err, size_t errlen) {
    *out = NULL;
    int sentinel = o->sentinels != NULL;
    if ((sentinel ? !o->master_name || !o->master_name[0] || strlen(o->master_name) > RCL_MAX_HOST ||
                        !o->sentinels[0]
                  : !o->host || !o->host[0] || strlen(o->host) > RCL_MAX_HOST || o->port < 1 || o->port > 65535) ||
        !o->connect_timeout_ms || !o->io_timeout_ms || !o->backoff_min_ms || o->backoff_max_ms < o->backoff_min_ms ||
        !o->max_pending) {
        snprintf(err, errlen, "invalid redis client options");
        return RCL_EINVAL;
    }
    rcl *c = qcalloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return RCL_ENOMEM;
    }
    int rc = 0;
    if (sentinel) { /* every Sentinel resolved now, as the host otherwise */
        const char *p = o->sentinels;
        while (*p && !rc) {
            const char *e = strchr(p, ',');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            char one[RCL_MAX_HOST + 16], host[RCL_MAX_HOST + 1];
            if (c->nsent == RCL_MAX_SENTINELS || n >= sizeof one) {
                snprintf(err, errlen, "at most %d Sentinels of HOST:PORT", RCL_MAX_SENTINELS);
                rc = RCL_EINVAL;
                break;
            }
            memcpy(one, p, n);
            one[n] = 0;
            if (rcl_parse_addr(one, host, sizeof host, &c->sent_port[c->nsent])) {
                snprintf(err, errlen, "a Sentinel wants HOST:PORT, not '%s'", one);
                rc = RCL_EINVAL;
                break;
            }
            rc = resolve(host, c->sent_ip[c->nsent], sizeof c->sent_ip[0], err, errlen);
            if (!rc) c->nsent++;
            p = e ? e + 1 : p + n;
        }
        snprintf(c->master, sizeof c->master, "%s", o->master_name);
        snprintf(c->addr, sizeof c->addr, "-");
    } else {
        rc = resolve(o->host, c->ip, sizeof c->ip, err, errlen);
        snprintf(c->addr, sizeof c->addr, strchr(c->ip, ':') ? "[%s]:%d" : "%s:%d", c->ip, o->port);
    }
    if (rc) {
        qfree(c);
        return rc;
    }
    c->loop = loop;
    c->o = *o;
    snprintf(c->host, sizeof c->host, "%s", o->host ? o->host : "");
    c->o.host = c->host;
    c->o.sentinels = NULL; /* parsed above; the caller's string is not kept */
    c->o.master_name = c->master;
    c->rng = o->seed ? o->seed : (qtime_ns() | 1);
    uv_timer_init(loop, &c->retry);
    uv_timer_init(loop, &c->watch);
    c->retry.data = c->watch.data = c;
    c->open_handles = 2;
    uint64_t w = c->o.connect_timeout_ms < c->o.io_timeout_ms ? c->o.connect_timeout_ms : c->o.io_timeout_ms;
    w /= 4;
    if (w < 5) w = 5;
    uv_timer_start(&c->watch, on_watch, w, w);
    c->state = RCL_DOWN;
    start_connect(c);
    *out = c;
    return 0;
}

int rcl_command_argv(rcl *c, int argc, const char **argv, const size_t *argvlen, rcl_cb cb, void *privdata) {
    if (c->state == RCL_CLOSED) return RCL_ECLOSED;
    if (argc < 1 || !cb) return RCL_EINVAL;
    if (!c->ac || (c->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING))) {
        c->st.refused++;
        return RCL_EDOWN;
    }
    if (c->st.pending >= c->o.max_pending) {
        c->st.refused++;
        return RCL_EBUSY;
    }
    rcl_req *q = c->freelist;
    if (q) c->freelist = q->next;
    else if (!(q = qmalloc(sizeof *q))) {
        c->st.refused++;
        return RCL_ENOMEM;
    }
    q->c = c;
    q->cb = cb;
    q->pd = privdata;
    q->next = NULL;
    q->t_ns = qtime_ns();
    if (redisAsyncCommandArgv(c->ac, on_reply, q, argc, argv, argvlen) != REDIS_OK) {
        q->next = c->freelist;
        c->freelist = q;
        c->st.refused++;
        return RCL_ENOMEM; /* hiredis fails here only on allocation (state checked above) */
    }
    if (c->tail) c->tail->next = q;
    else c->head = q;
    c->tail = q;
    c->st.pending++;
    c->st.commands++;
    return 0;
}

static void on_handle_closed(uv_handle_t *h) {
    rcl *c = h->data;
    if (--c->open_handles) return;
    while (c->freelist) {
        rcl_req *q = c->freelist;
        c->freelist = q->next;
        qfree(q);
    }
    void (*cb)(void *) = c->closed_cb;
    void *ud = c->closed_ud;
    qfree(c);
    if (cb) cb(ud);
}

void rcl_close(rcl *c, void (*closed_cb)(void *ud), void *ud) {
    int was_up = c->state == RCL_UP;
    c->state = RCL_CLOSED;
    c->closed_cb = closed_cb;
    c->closed_ud = ud;
    uv_timer_stop(&c->retry);
    uv_timer_stop(&c->watch);
    if (c->sc) {
        redisAsyncContext *sc = c->sc;
        c->sc = NULL;
        redisAsyncFree(sc);
    }
    if (c->ac) {
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        redisAsyncFree(ac); /* pending callbacks: RCL_ECLOSED (deferred when inside one) */
    }
    if (was_up && c->o.on_state) c->o.on_state(c, 0, c->o.ud);
    uv_close((uv_handle_t *)&c->retry, on_handle_closed);
    uv_close((uv_handle_t *)&c->watch, on_handle_closed);
}

rcl_state rcl_get_state(const rcl *c) { return c->state; }

void *rcl_ud(const rcl *c) { return c->o.ud; }

void rcl_stats(const rcl *c, rcl_stat *s) {
    *s = c->st;
    s->state = c->state;
}

const char *rcl_addr(const rcl *c) { return c->addr; }
