/* ranker_tables.c -- the server ranker's view of the embeddings in Redis:
 * polling NS:current, switching versions (cache reset), and loading the
 * n-gram bucket table of the current version (layout: ranking/embkeys.h;
 * the request path is ranker.c).
 *
 * Vectors for text without a query row (a design choice): a session
 * query or a history entry never seen in training has no NS:vV:q:<query>
 * row; its vector is composed from its n-grams' bucket rows. Two ways were
 * weighed:
 *   (a) fetch the few bucket rows a text needs in the request's MGET. That
 *       needs the text before the round trip, and the session's queries only
 *       arrive WITH that round trip (LRANGE): a second round trip per
 *       COMPLETE, which the contract forbids, or vectors only one keystroke
 *       late. Each text also costs ~50 keys (words + trigrams).
 *   (b) CHOSEN: hold the whole bucket table of the current version in the
 *       process. When the server sees a new NS:current, it reads dims and
 *       buckets from NS:vV:meta, drops the cache and the old table, and
 *       fetches NS:vV:b:0 .. buckets-1 asynchronously, ENG_RANK_NGRAM_BATCH
 *       keys per MGET with at most ENG_RANK_NGRAM_INFLIGHT MGETs outstanding
 *       on the same connection (so a COMPLETE's MGET never queues behind
 *       more than that). Bounded: buckets * (4 + dims) bytes must fit
 *       ngram_bytes (--ngram-bytes, default 64 MiB; the default EMB, 2^18
 *       buckets x 32 dims, is 9.4 MB), else the table is not loaded (TOOBIG).
 *       While it loads, when too big or after a failed fetch, text without a
 *       query row has no vector (counted: rank_ngram_fallbacks).
 *   Once the table is READY, every vector -- candidates included -- is
 *   composed in process with rank_emb_ngrams + rank_emb_compose_rows, the
 *   same arithmetic as rank_emb_vector offline (bit-identical vectors; the
 *   query rows are a second quantization and are no longer fetched), so
 *   offline eval and serving agree and the COMPLETE round trip shrinks to the
 *   history reads. Composing costs ~50 rows x dims multiply-adds on a cache
 *   miss; the result is cached like a fetched row.
 * Never mixing versions: the table belongs to one version and carries a
 * generation number; a version switch (or a failed load) bumps the
 * generation and frees the rows, and a fetch reply for another generation
 * is dropped. The cache is reset at the switch and again when the table
 * becomes READY (entries cached while it loaded were fetched query rows or
 * "none" marks). Nothing waits on the load: requests are served from what is
 * READY at the time. Known limit: a table loaded while `qac load` deletes its
 * (already superseded) version may miss rows until the next version check
 * (<= ENG_RANK_VERSION_CHECK_MS) switches to the new one.
 */
#include <stdio.h>
#include <string.h>

#include "engine/rank/ranker_internal.h"

/* --- version of the embeddings -------------------------------------------- */

/* --- the n-gram table ------------------------------------------------------ */

static void ng_drop(eng_rank *R) {
    qfree(R->ng.rows);
    R->ng.rows = NULL;
    R->ng.gen++;
    R->ng.inflight = 0;
    R->ng.state = ENG_RANK_NG_OFF;
    R->st.ngram_rows = 0;
}

static void ng_fail(eng_rank *R, const char *why) {
    LOG_W("ranker.ngram_not_loaded", "version=%llu error=%s msg=\"no vectors for unseen text until the next "
          "version check retries\"",
          (unsigned long long)R->ng.version, why);
    ng_drop(R);
    R->ng.state = ENG_RANK_NG_FAILED;
    R->st.ngram_failures++;
}

static void on_ngram(rcl *c, redisReply *r, int status, void *pd);

/* Sends MGETs of bucket rows until ENG_RANK_NGRAM_INFLIGHT are outstanding. */
static void ng_pump(eng_rank *R) {
    ngtab *g = &R->ng;
    const char *argv[ENG_RANK_NGRAM_BATCH + 1];
    size_t argl[ENG_RANK_NGRAM_BATCH + 1], off[ENG_RANK_NGRAM_BATCH];
    while (g->state == ENG_RANK_NG_LOADING && g->inflight < ENG_RANK_NGRAM_INFLIGHT && g->next < g->buckets) {
        uint32_t n = g->buckets - g->next < ENG_RANK_NGRAM_BATCH ? g->buckets - g->next : ENG_RANK_NGRAM_BATCH;
        qbuf_reset(&R->ngkeys);
        for (uint32_t i = 0; i < n; i++) {
            char key[RANK_EK_MAX];
            int kl = rank_ek_bucket(key, sizeof key, R->ns, g->version, g->next + i);
            off[i] = R->ngkeys.len;
            argl[i + 1] = (size_t)kl;
            if (qbuf_append(&R->ngkeys, key, (size_t)kl)) {
                ng_fail(R, "out of memory");
                return;
            }
        }
        argv[0] = "MGET";
        argl[0] = 4;
        for (uint32_t i = 0; i < n; i++) argv[i + 1] = R->ngkeys.data + off[i];
        ngbatch *b = qmalloc(sizeof *b);
        if (!b) {
            ng_fail(R, "out of memory");
            return;
        }
        *b = (ngbatch){R, g->gen, g->next, n};
        int rc = rcl_command_argv(R->rc, (int)n + 1, argv, argl, on_ngram, b);
        if (rc) {
            qfree(b);
            ng_fail(R, rcl_strerror(rc));
            return;
        }
        g->inflight++;
        g->next += n;
    }
}

static int row_ok(const char *p, uint32_t dims, size_t len) {
    if (len != 4 + (size_t)dims) return 0;
    uint32_t u = (uint32_t)(unsigned char)p[0] | (uint32_t)(unsigned char)p[1] << 8 |
                 (uint32_t)(unsigned char)p[2] << 16 | (uint32_t)(unsigned char)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f >= 0 && f <= RANK_EMB_MAX_SCALE; /* false for NaN */
}

static void on_ngram(rcl *c, redisReply *r, int status, void *pd) {
    (void)c;
    ngbatch *b = pd;
    eng_rank *R = b->R;
    ngtab *g = &R->ng;
    if (R->closing || b->gen != g->gen || g->state != ENG_RANK_NG_LOADING) { /* superseded */
        qfree(b);
        return;
    }
    g->inflight--;
    if (status || !r || r->type != REDIS_REPLY_ARRAY || r->elements != b->n) {
        if (r && r->type == REDIS_REPLY_ERROR) R->st.redis_errors++;
        qfree(b);
        ng_fail(R, status ? rcl_strerror(status) : r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        return;
    }
    for (uint32_t i = 0; i < b->n; i++) {
        redisReply *e = r->element[i];
        if (e->type == REDIS_REPLY_NIL) continue;
        if (e->type != REDIS_REPLY_STRING || !row_ok(e->str, g->dims, e->len)) {
            R->st.ngram_bad_rows++;
            continue;
        }
        memcpy(g->rows + (size_t)(b->first + i) * g->rowb, e->str, g->rowb);
        if (memcmp(e->str, "\0\0\0\0", 4)) R->st.ngram_rows++;
    }
    g->done += b->n;
    qfree(b);
    if (g->done < g->buckets) {
        ng_pump(R);
        return;
    }
    g->state = ENG_RANK_NG_READY;
    R->st.ngram_loads++;
    rank_veclru_reset(R->cache, R->dims); /* drop query rows / "none" marks cached while loading */
    LOG_I("ranker.ngram_loaded", "version=%llu buckets=%u rows=%llu mb=%.1f ms=%.0f",
          (unsigned long long)g->version, g->buckets, (unsigned long long)R->st.ngram_rows,
          (double)g->buckets * g->rowb / 1e6, (double)(qtime_ns() - g->t0) / 1e6);
}

/* Starts loading the table of R->version (buckets from its meta). */
static void ng_start(eng_rank *R, uint32_t buckets) {
    ng_drop(R);
    ngtab *g = &R->ng;
    g->version = R->version;
    g->dims = R->dims;
    g->buckets = buckets;
    g->rowb = 4 + R->dims;
    if (!buckets || !R->o.ngram_bytes || !R->rc) return; /* OFF */
    uint64_t need = (uint64_t)buckets * g->rowb;
    if (need > R->o.ngram_bytes) {
        LOG_W("ranker.ngram_not_loaded", "version=%llu need_bytes=%llu ngram_bytes=%llu reason=ngram_bytes msg=\"no "
              "vectors for text without a query row\"",
              (unsigned long long)g->version, (unsigned long long)need, (unsigned long long)R->o.ngram_bytes);
        g->state = ENG_RANK_NG_TOOBIG;
        return;
    }
    g->rows = qcalloc(buckets, g->rowb);
    if (!g->rows) {
        ng_fail(R, "out of memory");
        return;
    }
    g->state = ENG_RANK_NG_LOADING;
    g->next = g->done = 0;
    g->t0 = qtime_ns();
    ng_pump(R);
}

static void on_meta(rcl *c, redisReply *r, int status, void *pd) {
    (void)c;
    eng_rank *R = pd;
    uint64_t v = R->pending_version;
    R->pending_version = 0;
    if (status || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || R->closing) return;
    redisReply *rd = r->element[0], *rb = r->element[1];
    uint64_t dims, buckets = 0;
    if (rd->type != REDIS_REPLY_STRING || qparse_u64(rd->str, rd->len, &dims) || dims < RANK_EMB_MIN_DIMS ||
        dims > RANK_EMB_MAX_DIMS) {
        LOG_W("ranker.embeddings_rejected", "namespace=%s version=%llu reason=bad_dims kept_version=%llu", R->ns,
              (unsigned long long)v, (unsigned long long)R->version);
        return;
    }
    if (rb->type != REDIS_REPLY_STRING || qparse_u64(rb->str, rb->len, &buckets) || buckets < 1 ||
        buckets > RANK_EMB_MAX_BUCKETS) {
        LOG_W("ranker.embeddings_no_buckets", "namespace=%s version=%llu msg=\"no vectors for text without a query "
              "row\"", R->ns, (unsigned long long)v);
        buckets = 0;
    }
    if (rank_veclru_reset(R->cache, (uint32_t)dims)) return;
    LOG_I("ranker.embeddings_switched", "from=%llu to=%llu dims=%llu msg=\"cache dropped\"",
          (unsigned long long)R->version, (unsigned long long)v, (unsigned long long)dims);
    R->version = v;
    R->dims = (uint32_t)dims;
    ng_start(R, (uint32_t)buckets); /* drops the old version's table first */
}

static void on_current(rcl *c, redisReply *r, int status, void *pd) {
    eng_rank *R = pd;
    if (status || !r || R->closing) return;
    uint64_t v;
    if (r->type != REDIS_REPLY_STRING || qparse_u64(r->str, r->len, &v) || v == 0 || v == R->version ||
        v == R->pending_version)
        return;
    char key[RANK_EK_MAX];
    int kl = rank_ek_meta(key, sizeof key, R->ns, v);
    const char *argv[4] = {"HMGET", key, "dims", "buckets"};
    size_t argl[4] = {5, (size_t)kl, 4, 7};
    if (rcl_command_argv(c, 4, argv, argl, on_meta, R) == 0) R->pending_version = v;
}

void eng_rank__check_version(eng_rank *R) {
    if (!R->rc || !rcl_is_up(R->rc)) return;
    if (R->version && R->ng.state == ENG_RANK_NG_FAILED && R->ng.version == R->version)
        ng_start(R, R->ng.buckets); /* retry a load that failed */
    char key[RANK_EK_MAX];
    int kl = rank_ek_current(key, sizeof key, R->ns);
    const char *argv[2] = {"GET", key};
    size_t argl[2] = {3, (size_t)kl};
    rcl_command_argv(R->rc, 2, argv, argl, on_current, R);
}

void eng_rank__on_vtimer(uv_timer_t *t) { eng_rank__check_version(t->data); }

void eng_rank__on_rcl_state(rcl *c, int up, void *ud) {
    (void)c;
    eng_rank *R = ud;
    R->st.redis_up = up;
    if (up) {
        R->st.redis_reconnects = R->rc_connects_seen++ ? R->st.redis_reconnects + 1 : 0;
        eng_rank__check_version(R);
    }
}
