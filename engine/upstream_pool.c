/* upstream_pool.c -- connections to the shards' replicas (upstream_pool.h).
 *
 * Each command carries a small heap record (ups_call: callback, its data,
 * shard, replica) as hiredis's privdata, freed in the reply callback, which
 * hiredis always calls exactly once: with the reply, or with NULL when the
 * connection fails or is freed (pending commands included). A NULL reply
 * marks the replica down (its context is dropped from the pool at once, so
 * a retry made inside the callback never reuses the dying connection), and
 * the disconnect callback forgets the context only if it is still the one
 * the replica holds.
 */
#include "engine/upstream_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/util.h"
#include "engine/rank/redis_uv.h"

typedef struct ups_call {
    ups_pool *p;
    int shard, replica;
    ups_reply_fn cb;
    void *ud;
    struct ups_call *next; /* in p->call_free */
} ups_call;

static ups_call *call_new(ups_pool *p) {
    ups_call *c = p->call_free;
    if (!c) return qmalloc(sizeof *c);
    p->call_free = c->next;
    p->call_nfree--;
    return c;
}

static void call_release(ups_pool *p, ups_call *c) {
    if (p->call_nfree >= p->call_cache) return qfree(c);
    c->next = p->call_free;
    p->call_free = c;
    p->call_nfree++;
}

int ups_pool_parse(ups_pool *p, uv_loop_t *loop, const char *spec, unsigned max_upstreams, char *err,
                   size_t errlen) {
    memset(p, 0, sizeof *p);
    p->loop = loop;
    unsigned total = 0;
    const char *s = spec;
    while (*s) {
        while (*s == ';' || *s == ' ' || *s == '\t') s++;
        if (!*s) break;
        if (p->nshards == SHARDMAP_MAX_SHARDS)
            return snprintf(err, errlen, "--upstreams: more than %d shards", SHARDMAP_MAX_SHARDS), -1;
        ups_shard *sh = &p->shards[p->nshards++];
        for (;;) {
            size_t n = strcspn(s, ",; \t");
            const char *colon = memchr(s, ':', n);
            char port[8];
            size_t hl = colon ? (size_t)(colon - s) : 0, pl = colon ? n - hl - 1 : 0;
            uint64_t pv = 0;
            if (!colon || !hl || hl >= UPS_HOST_MAX || !pl || pl >= sizeof port ||
                (memcpy(port, colon + 1, pl), port[pl] = 0, qparse_u64(port, pl, &pv) < 0) || pv < 1 || pv > 65535)
                return snprintf(err, errlen, "--upstreams: '%.*s' is not HOST:PORT (shard %d)", (int)(n < 80 ? n : 80),
                                s, p->nshards - 1), -1;
            if (sh->n == UPS_MAX_REPLICAS)
                return snprintf(err, errlen, "--upstreams: shard %d has more than %d replicas", p->nshards - 1,
                                UPS_MAX_REPLICAS), -1;
            if (++total > max_upstreams)
                return snprintf(err, errlen, "--upstreams: more than max-upstreams (%u) replicas", max_upstreams), -1;
            ups_replica *r = &sh->r[sh->n++];
            memcpy(r->host, s, hl);
            r->host[hl] = 0;
            r->port = (int)pv;
            r->loop = loop;
            s += n;
            if (*s != ',') break;
            s++;
        }
    }
    if (!p->nshards) return snprintf(err, errlen, "--upstreams: no shard given"), -1;
    return 0;
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    ups_replica *r = ac->data;
    if (r && r->ac == ac) r->ac = NULL;
}

static void on_connect(const redisAsyncContext *ac, int status) {
    ups_replica *r = ac->data;
    if (status != REDIS_OK && r && r->ac == ac) {
        r->ac = NULL;
        r->down_until = uv_now(r->loop) + UPS_RETRY_MS;
        LOG_W("upstream.connect_failed", "host=%s port=%d error=%s", r->host, r->port, ac->errstr);
    }
}

static void mark_down(ups_pool *p, ups_replica *r) {
    if (r->ac) r->ac->data = NULL, r->ac = NULL; /* hiredis frees it; we only forget it */
    r->down_until = uv_now(p->loop) + UPS_RETRY_MS;
    r->failures++;
}

/* AUTH's reply on a new connection (upstream_pool.h). */
static void on_auth(redisAsyncContext *ac, void *reply, void *priv) {
    ups_pool *p = priv;
    ups_replica *r = ac->data;
    const redisReply *rep = reply;
    if (!r || r->ac != ac || !rep) return; /* a failed connection: the commands behind say so */
    if (rep->type != REDIS_REPLY_ERROR) {
        r->auth_refused = 0;
        return;
    }
    r->auth_refused = 1;
    snprintf(r->auth_err, sizeof r->auth_err, "%.*s", (int)(rep->len < 120 ? rep->len : 120), rep->str);
    p->auth_failures++;
    LOG_W("upstream.auth_failed", "host=%s port=%d error=\"%s\" msg=\"the shard refused the merger's password "
          "(--upstream-pass-file, $QAC_UPSTREAM_PASS)\"", r->host, r->port, r->auth_err);
}

static redisAsyncContext *connect_replica(ups_pool *p, ups_replica *r) {
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (!ac) return NULL;
    if (ac->err || ruv_attach(ac, p->loop) < 0) {
        LOG_W("upstream.connect_failed", "host=%s port=%d error=%s", r->host, r->port,
              ac->err ? ac->errstr : "cannot attach to the loop");
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = r;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    r->auth_refused = 0;
    if (p->auth && redisAsyncCommand(ac, on_auth, p, "AUTH %s", p->auth) != REDIS_OK) {
        r->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);
        return NULL;
    }
    return ac;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv) {
    ups_call *c = priv;
    ups_pool *p = c->p;
    ups_replica *r = &p->shards[c->shard].r[c->replica];
    if (!reply) {
        if (r->ac == ac) mark_down(p, r);
        p->failures++;
    } else {
        p->shards[c->shard].pref = c->replica;
    }
    ups_reply_fn cb = c->cb;
    void *ud = c->ud;
    int shard = c->shard, replica = c->replica;
    call_release(p, c);
    cb(ud, shard, replica, reply);
}

int ups_pool_connected(const ups_pool *p, int shard) {
    int n = 0;
    for (int i = 0; i < p->shards[shard].n; i++) n += p->shards[shard].r[i].ac != NULL;
    return n;
}

int ups_pool_send(ups_pool *p, int shard, int attempt, int argc, const char **argv, const size_t *argvlen,
                  ups_reply_fn cb, void *ud, int *replica) {
    ups_shard *sh = &p->shards[shard];
    uint64_t now = uv_now(p->loop);
    for (; attempt < sh->n; attempt++) {
        int i = (sh->pref + attempt) % sh->n;
        ups_replica *r = &sh->r[i];
        /* a replica down recently is skipped, unless it is the last one left to try */
        if (!r->ac && r->down_until > now && attempt < sh->n - 1) continue;
        if (!r->ac && !connect_replica(p, r)) {
            mark_down(p, r);
            continue;
        }
        ups_call *c = call_new(p);
        if (!c) return -1;
        *c = (ups_call){p, shard, i, cb, ud, NULL};
        if (redisAsyncCommandArgv(r->ac, on_reply, c, argc, argv, argvlen) != REDIS_OK) {
            call_release(p, c);
            mark_down(p, r);
            continue;
        }
        p->sent++;
        sh->asks++;
        if (attempt) p->failovers++, sh->failovers++;
        *replica = i;
        return attempt;
    }
    return -1;
}

void ups_pool_describe(const ups_pool *p, int shard, char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < p->shards[shard].n && o < cap; i++) {
        int w = snprintf(buf + o, cap - o, "%s%s:%d", i ? "," : "", p->shards[shard].r[i].host,
                         p->shards[shard].r[i].port);
        if (w < 0) break;
        o += (size_t)w;
    }
}

void ups_pool_drop(ups_pool *p, int shard, int replica) {
    ups_replica *r = &p->shards[shard].r[replica];
    redisAsyncContext *ac = r->ac;
    if (!ac) return;
    LOG_W("upstream.replica_dropped", "host=%s port=%d reason=deadline", r->host, r->port);
    mark_down(p, r); /* forgets ac first: retries made from its callbacks go elsewhere */
    redisAsyncFree(ac);
}

void ups_pool_close(ups_pool *p) {
    for (int s = 0; s < p->nshards; s++)
        for (int i = 0; i < p->shards[s].n; i++) {
            ups_replica *r = &p->shards[s].r[i];
            if (r->ac) {
                redisAsyncContext *ac = r->ac;
                r->ac = NULL;
                ac->data = NULL;
                redisAsyncFree(ac);
            }
        }
    for (ups_call *c = p->call_free, *nx; c; c = nx) nx = c->next, qfree(c);
    p->call_free = NULL;
    p->call_nfree = 0;
}
