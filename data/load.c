/* load.c -- `qac load`: writes an EMB file's vectors to Redis under a new
 * version, switches the pointer key, then deletes older versions.
 *
 * Redis key layout: ranking/embkeys.h (its one owner; the server reads it).
 *
 * Protocol: synchronous hiredis (0.14) with pipelining: --batch commands are
 * appended (redisAppendCommand), then their replies read (redisGetReply);
 * any error reply stops the load before the switch, so NS:current never
 * points at a partial set (its keys stay until the next successful load's
 * cleanup, which deletes every version but the new one). The switch
 * is one SET after every write was acknowledged. Cleanup: SCAN MATCH NS:v*:*
 * and UNLINK (in --batch sized groups) every key of another version.
 * A server that read NS:current before the switch may still fetch old keys
 * during the cleanup; it treats missing keys as cache misses.
 */
#include <stdarg.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cli.h"
#include "common/log.h"
#include "common/util.h"
#include "data/train.h"
#include "ranking/embkeys.h"

#define LOAD_DEFAULT_BATCH 1000
#define LOAD_MAX_BATCH 100000
#define LOAD_MAX_NS RANK_RH_MAX_NS /* bytes of --namespace */
#define LOAD_TIMEOUT_S 5
#define LOAD_KEY_CAP (LOAD_MAX_NS + 48 + RANK_EMB_MAX_QUERY)

static void usage(FILE *f) {
    fprintf(f,
            "usage: qac load --redis HOST:PORT [--namespace NS] [--batch N] EMB\n"
            "\n"
            "Writes the query and n-gram vectors of EMB (qac embed) to Redis under a new\n"
            "version, switches NS:current to it once all writes are acknowledged, then\n"
            "deletes the keys of older versions (layout in data/load.c).\n"
            "\n"
            "  --redis HOST:PORT  the Redis server\n"
            "  --namespace NS     key prefix (default qac; 1..%d bytes, no ':' or '*')\n"
            "  --batch N          commands per pipelined round trip (1..%d, default %d)\n",
            LOAD_MAX_NS, LOAD_MAX_BATCH, LOAD_DEFAULT_BATCH);
}

typedef struct loader {
    redisContext *c;
    const char *addr;
    size_t pending, batch;
    uint64_t sent;
    int tty;
} loader;

/* Reads the replies of every pending command; -1 after a message on the
 * first error. */
static int drain(loader *l) {
    int rc = 0;
    while (l->pending) {
        void *r = NULL;
        if (redisGetReply(l->c, &r) != REDIS_OK) {
            fprintf(stderr, "qac load: redis %s: %s\n", l->addr, l->c->errstr[0] ? l->c->errstr : "connection lost");
            return -1;
        }
        redisReply *rep = r;
        if (rep->type == REDIS_REPLY_ERROR && !rc) {
            fprintf(stderr, "qac load: redis %s: %s\n", l->addr, rep->str);
            rc = -1;
        }
        freeReplyObject(rep);
        l->pending--;
    }
    return rc;
}

static int queue_set(loader *l, const char *key, size_t klen, const unsigned char *v, size_t vlen) {
    if (redisAppendCommand(l->c, "SET %b %b", key, klen, v, vlen) != REDIS_OK) {
        fprintf(stderr, "qac load: redis %s: %s\n", l->addr, l->c->errstr);
        return -1;
    }
    l->sent++;
    if (++l->pending >= l->batch) return drain(l);
    return 0;
}

static redisReply *command(loader *l, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(l->c, fmt, ap);
    va_end(ap);
    if (!r) {
        fprintf(stderr, "qac load: redis %s: %s\n", l->addr, l->c->errstr[0] ? l->c->errstr : "connection lost");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "qac load: redis %s: %s\n", l->addr, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Deletes every NS:v*:* key not of version `keep` (keep 0: of any version
 * other than... none kept). Returns keys deleted or -1. */
static long long cleanup(loader *l, const char *ns, unsigned long long keep) {
    char pat[RANK_EK_MAX], mine[RANK_EK_MAX];
    rank_ek_all_versions(pat, sizeof pat, ns);
    int ml = rank_ek_vprefix(mine, sizeof mine, ns, keep);
    char cursor[32] = "0";
    long long deleted = 0;
    do {
        char count[24];
        snprintf(count, sizeof count, "%zu", l->batch);
        redisReply *r = command(l, "SCAN %s MATCH %s COUNT %s", cursor, pat, count);
        if (!r) return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING) {
            fprintf(stderr, "qac load: redis %s: unexpected SCAN reply\n", l->addr);
            freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        const char *argv[1 + 1024];
        size_t argl[1 + 1024];
        size_t na = 1;
        argv[0] = "UNLINK";
        argl[0] = 6;
        for (size_t k = 0; k < keys->elements; k++) {
            redisReply *kr = keys->element[k];
            if (kr->type != REDIS_REPLY_STRING) continue;
            if (kr->len >= (size_t)ml && !memcmp(kr->str, mine, (size_t)ml)) continue;
            /* NS:v<digits>: only: a key like NS:vfoo:bar is not ours */
            size_t p = strlen(ns) + 2;
            if ((size_t)kr->len <= p || kr->str[p] < '0' || kr->str[p] > '9') continue;
            argv[na] = kr->str;
            argl[na++] = kr->len;
            if (na == ARRAY_LEN(argv) || k + 1 == keys->elements) {
                redisReply *u = redisCommandArgv(l->c, (int)na, argv, argl);
                if (!u || u->type == REDIS_REPLY_ERROR) {
                    fprintf(stderr, "qac load: redis %s: UNLINK: %s\n", l->addr,
                            u ? u->str : l->c->errstr);
                    if (u) freeReplyObject(u);
                    freeReplyObject(r);
                    return -1;
                }
                deleted += u->type == REDIS_REPLY_INTEGER ? u->integer : 0;
                freeReplyObject(u);
                na = 1;
            }
        }
        if (na > 1) {
            redisReply *u = redisCommandArgv(l->c, (int)na, argv, argl);
            if (!u || u->type == REDIS_REPLY_ERROR) {
                fprintf(stderr, "qac load: redis %s: UNLINK failed\n", l->addr);
                if (u) freeReplyObject(u);
                freeReplyObject(r);
                return -1;
            }
            deleted += u->type == REDIS_REPLY_INTEGER ? u->integer : 0;
            freeReplyObject(u);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0"));
    return deleted;
}

int load_main(int argc, char **argv) {
    const char *addr = NULL, *ns = "qac";
    uint64_t batch = LOAD_DEFAULT_BATCH;
    enum { O_REDIS = 256, O_NS, O_BATCH };
    static const cli_opt options[] = {
        {O_REDIS, "redis", CLI_VALUE},
        {O_NS, "namespace", CLI_VALUE},
        {O_BATCH, "batch", CLI_VALUE},
    };
    cli cl;
    cli_init(&cl, "load", usage, options, ARRAY_LEN(options), argc, argv);
    int opt;
    while ((opt = cli_getopt(&cl)) >= 0) {
        switch (opt) {
        case O_REDIS: addr = cl.val; break;
        case O_NS: ns = cl.val; break;
        case O_BATCH:
            if (qparse_u64(cl.val, strlen(cl.val), &batch) || batch < 1 || batch > LOAD_MAX_BATCH)
                return cli_error(&cl, "--batch wants 1..%d, not '%s'", LOAD_MAX_BATCH, cl.val);
            break;
        }
    }
    if (opt == CLI_EXIT) return cl.status;
    if (!addr) return cli_error(&cl, "missing --redis HOST:PORT");
    int i = cl.ind;
    if (i + 1 != argc) return cli_error(&cl, "%s", i >= argc ? "no EMB given" : "give one EMB file");
    size_t nsl = strlen(ns);
    if (!nsl || nsl > LOAD_MAX_NS || strpbrk(ns, ":*?[] \t\r\n"))
        return cli_error(&cl, "--namespace wants 1..%d bytes without ':', '*', '?', '[', ']' or spaces", LOAD_MAX_NS);
    const char *colon = strrchr(addr, ':');
    uint64_t port = 0;
    if (!colon || colon == addr || qparse_u64(colon + 1, strlen(colon + 1), &port) || port < 1 || port > 65535)
        return cli_error(&cl, "--redis wants HOST:PORT, not '%s'", addr);
    char host[256];
    if ((size_t)(colon - addr) >= sizeof host) return cli_error(&cl, "--redis host name too long");
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;

    uint64_t t0 = qtime_ns();
    char err[512];
    rank_emb *e = NULL;
    if (rank_emb_load(argv[i], &e, err, sizeof err)) {
        fprintf(stderr, "qac load: cannot load embeddings: %s\n", err);
        return 1;
    }
    struct timeval tv = {LOAD_TIMEOUT_S, 0};
    loader l = {NULL, addr, 0, (size_t)batch, 0, isatty(2)};
    int status = 1;
    unsigned long long ver = 0;
    float *vec = NULL;
    unsigned char *row = NULL;
    l.c = redisConnectWithTimeout(host, (int)port, tv);
    if (!l.c || l.c->err) {
        fprintf(stderr, "qac load: cannot connect to redis at %s: %s\n", addr, l.c ? l.c->errstr : "out of memory");
        goto out;
    }
    redisSetTimeout(l.c, tv);
    char vkey[RANK_EK_MAX];
    rank_ek_version(vkey, sizeof vkey, ns);
    redisReply *r = command(&l, "INCR %s", vkey);
    if (!r) goto out;
    ver = (unsigned long long)r->integer;
    freeReplyObject(r);
    char vpre[RANK_EK_MAX], mkey[RANK_EK_MAX];
    rank_ek_vprefix(vpre, sizeof vpre, ns, ver);
    rank_ek_meta(mkey, sizeof mkey, ns, ver);
    /* hiredis formats only %s/%b reliably: numbers are printed here */
    char sd[16], sb[16], snq[16], sseed[24];
    snprintf(sd, sizeof sd, "%u", e->dims);
    snprintf(sb, sizeof sb, "%u", e->buckets);
    snprintf(snq, sizeof snq, "%u", e->nqueries);
    snprintf(sseed, sizeof sseed, "%llu", (unsigned long long)e->seed);
    r = command(&l, "HSET %s dims %s buckets %s nqueries %s seed %s row %s ngrams %s", mkey, sd, sb, snq, sseed,
                RANK_EK_ROW_FORMAT, RANK_EK_NGRAMS);
    if (!r) goto out;
    freeReplyObject(r);

    size_t rowb = 4 + (size_t)e->dims;
    vec = qmalloc(e->dims * sizeof *vec);
    row = qmalloc(rowb);
    char key[LOAD_KEY_CAP];
    if (!vec || !row) {
        fprintf(stderr, "qac load: out of memory\n");
        goto fail;
    }
    uint64_t total = e->nqueries + e->buckets, done = 0, nb = 0, nq = 0;
    for (uint32_t b = 0; b < e->buckets; b++, done++) {
        if (e->scale[b] == 0) continue;
        int kl = rank_ek_bucket(key, sizeof key, ns, ver, b);
        rank_emb_row(e, b, row);
        if (queue_set(&l, key, (size_t)kl, row, rowb)) goto fail;
        nb++;
        if (l.tty && (done & 8191) == 0)
            fprintf(stderr, "\rqac load: %5.1f%%", 100.0 * (double)done / (double)total);
    }
    for (uint32_t k = 0; k < e->nqueries; k++, done++) {
        size_t qlen;
        const char *q = rank_emb_query_at(e, k, &qlen);
        int kl = rank_ek_qprefix(key, sizeof key, ns, ver);
        if (kl < 0 || (size_t)kl + qlen >= sizeof key) continue; /* cannot happen: qlen <= RANK_EMB_MAX_QUERY */
        memcpy(key + kl, q, qlen);
        kl += (int)qlen;
        if (!rank_emb_vector(e, q, qlen, vec)) continue;
        rank_emb_quantize(e->dims, vec, row);
        if (queue_set(&l, key, (size_t)kl, row, rowb)) goto fail;
        nq++;
        if (l.tty && (done & 8191) == 0)
            fprintf(stderr, "\rqac load: %5.1f%%", 100.0 * (double)done / (double)total);
    }
    if (drain(&l)) goto fail;
    if (l.tty) fprintf(stderr, "\r%20s\r", "");
    char sver[24];
    snprintf(sver, sizeof sver, "%llu", ver);
    char ckey[RANK_EK_MAX];
    rank_ek_current(ckey, sizeof ckey, ns);
    r = command(&l, "SET %s %s", ckey, sver);
    if (!r) goto fail;
    freeReplyObject(r);
    long long del = cleanup(&l, ns, ver);
    if (del < 0) goto out; /* switched: old keys remain, say so */
    LOG_I("load.done", "version=%llu namespace=%s redis=%s query_vectors=%llu ngram_rows=%llu sets=%llu batch=%zu "
          "current_switched=1 old_keys_deleted=%lld secs=%.1f",
          ver, ns, addr, (unsigned long long)nq, (unsigned long long)nb, (unsigned long long)l.sent, l.batch,
          del, (double)(qtime_ns() - t0) / 1e9);
    status = 0;
    goto out;
fail:
    fprintf(stderr, "qac load: load of version %llu failed; %s:current unchanged (keys %s* remain until the "
                    "next successful load)\n", ver, ns, vpre);
out:
    qfree(vec);
    qfree(row);
    if (l.c) redisFree(l.c);
    rank_emb_free(e);
    return status;
}
