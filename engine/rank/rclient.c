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
    if (c->streak == 1) LOG_W("redis %s: cannot connect: %s; retrying with backoff", c->addr, why);
    schedule_retry(c);
}

/* The established connection is gone (c->ac already NULL). */
static void lost(rcl *c, const char *why) {
    c->st.disconnects++;
    c->streak = 1;
    LOG_W("redis %s: connection lost: %s; reconnecting", c->addr, why);
    schedule_retry(c);
    if (c->o.on_state) c->o.on_state(c, 0, c->o.ud);
}

static void on_connect(const redisAsyncContext *ac, int status) {
    rcl *c = ac->data;
    if (ac != c->ac) return;
    if (status == REDIS_OK) {
        c->state = RCL_UP;
        c->st.connects++;
        if (c->streak || c->st.connects > 1) LOG_I("redis %s: connected", c->addr);
        c->streak = 0;
        if (c->o.on_state) c->o.on_state(c, 1, c->o.ud);
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
    cb(c, r, status, upd);
}

/* Abandons the current context (connect timeout, io timeout): every
 * pending callback runs with RCL_EDOWN inside redisAsyncFree. */
static void drop(rcl *c, const char *why) {
    redisAsyncContext *ac = c->ac;
    int was_up = c->state == RCL_UP;
    c->ac = NULL;
    if (was_up) {
        c->state = RCL_DOWN;
        redisAsyncFree(ac);
        if (c->state != RCL_CLOSED) lost(c, why);
    } else {
        c->state = RCL_DOWN;
        redisAsyncFree(ac);
        if (c->state != RCL_CLOSED) connect_failed(c, why);
    }
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

static void start_connect(rcl *c) {
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

static void on_retry(uv_timer_t *t) {
    rcl *c = t->data;
    if (c->state == RCL_DOWN) start_connect(c);
}

int rcl_new(uv_loop_t *loop, const rcl_opts *o, rcl **out, char *err, size_t errlen) {
    *out = NULL;
    if (!o->host || !o->host[0] || strlen(o->host) > RCL_MAX_HOST || o->port < 1 || o->port > 65535 ||
        !o->connect_timeout_ms || !o->io_timeout_ms || !o->backoff_min_ms ||
        o->backoff_max_ms < o->backoff_min_ms || !o->max_pending) {
        snprintf(err, errlen, "invalid redis client options");
        return RCL_EINVAL;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gr = getaddrinfo(o->host, NULL, &hints, &res);
    if (gr || !res) {
        snprintf(err, errlen, "cannot resolve redis host '%s': %s", o->host, gr ? gai_strerror(gr) : "no address");
        if (res) freeaddrinfo(res);
        return RCL_ERESOLVE;
    }
    rcl *c = qcalloc(1, sizeof *c);
    if (!c) {
        freeaddrinfo(res);
        snprintf(err, errlen, "out of memory");
        return RCL_ENOMEM;
    }
    /* prefer IPv4 (hiredis 0.14 tries AF_INET first) */
    struct addrinfo *pick = res;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    const void *src = pick->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)pick->ai_addr)->sin_addr
                                                 : (const void *)&((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr;
    inet_ntop(pick->ai_family, src, c->ip, sizeof c->ip);
    freeaddrinfo(res);
    c->loop = loop;
    c->o = *o;
    snprintf(c->host, sizeof c->host, "%s", o->host);
    c->o.host = c->host;
    snprintf(c->addr, sizeof c->addr, strchr(c->ip, ':') ? "[%s]:%d" : "%s:%d", c->ip, o->port);
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

void rcl_stats(const rcl *c, rcl_stat *s) {
    *s = c->st;
    s->state = c->state;
}

const char *rcl_addr(const rcl *c) { return c->addr; }
