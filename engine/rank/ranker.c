/* ranker.c -- the server's ranking service (contract in ranker.h).
 *
 * Layout:
 *   eng_rank       options, borrowed trie, rcl (or NULL), rank_veclru, model,
 *                  emb (or NULL), in-process history (without Redis),
 *                  scratch for scoring (cands, lcands, vectors), the pool of
 *                  pending requests, the version timer.
 *   eng_rank_pending  one waiting COMPLETE or ACCEPT: copies of its
 *                  arguments, its parsed history (rank_rh), its MGET, its
 *                  deadline timer (initialized once, reused; closed at
 *                  eng_rank_close), `waiting` = Redis callbacks outstanding.
 *   mget           keys of one MGET (NS:vV:q:<query>; every key of the embeddings
 *                  layout is spelled by ranking/embkeys.h) with the query offsets,
 *                  tagged with the version it was sent for: a reply for an
 *                  older version is dropped (never cached under the new one).
 *   ngtab          the n-gram bucket table of one version: buckets rows of
 *                  4 + dims bytes (f32 scale + int8, as NS:vV:b:<bucket>),
 *                  all zero for a bucket without a row; state, generation.
 * Scoring always re-gathers from the trie at answer time, so a request that
 * waited never holds pointers into a trie that changed under it.
 *
 * Files: ranker.c (this: the request path -- scoring, the pool of pending
 * requests with their deadlines, MGET batching, online learning -- and the
 * lifecycle), ranker_tables.c (polling NS:current, version switches, loading
 * the n-gram table), ranker_gen.c (the suffix index of generated
 * completions, built off the loop), ranker_fleet.c, ranker_internal.h (the
 * structures they share).
 */
#include "engine/rank/ranker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/rank/ranker_internal.h"

void eng_rank_opts_default(eng_rank_opts *o) {
    memset(o, 0, sizeof *o);
    o->ns = "qac";
    o->deadline_ms = ENG_RANK_DEFAULT_DEADLINE_MS;
    o->cache_bytes = RANK_VECLRU_DEFAULT_BYTES;
    o->candidates = ENG_RANK_DEFAULT_CANDIDATES;
    o->ngram_bytes = ENG_RANK_DEFAULT_NGRAM_BYTES;
    o->gen_candidates = RANK_GEN_DEFAULT_CANDS;
    o->gen_suffixes = RANK_GEN_DEFAULT_SUFFIXES;
    o->gen_words = RANK_GEN_DEFAULT_WORDS;
    o->gen_copy_slice = RANK_GEN_DEFAULT_COPY_SLICE;
    o->gen_copy_note_bytes = RANK_GEN_DEFAULT_COPY_NOTE_BYTES;
}

static int64_t now_s(void) { return (int64_t)time(NULL); }

/* --- vectors ------------------------------------------------------------- */

/* q's vector composed from the READY n-gram table; 1 = non-zero. */
static int ng_compose(eng_rank *R, const char *q, size_t len, float *out) {
    uint32_t ids[RANK_EMB_MAX_NGRAMS];
    const unsigned char *rows[RANK_EMB_MAX_NGRAMS];
    size_t n = rank_emb_ngrams(R->ng.buckets, q, len, ids, RANK_EMB_MAX_NGRAMS), m = 0;
    static const unsigned char zero[4];
    for (size_t i = 0; i < n; i++) {
        const unsigned char *row = R->ng.rows + (size_t)ids[i] * R->ng.rowb;
        if (memcmp(row, zero, 4)) rows[m++] = row; /* scale 0: no row (as rank_emb_compose skips it) */
    }
    R->st.ngram_composed++;
    return rank_emb_compose_rows(R->dims, rows, m, out);
}

/* q's vector into out (dims floats): cache, else the n-gram table (Redis) or
 * the local EMB (without Redis). 1 = have one. */
static int vec_of(eng_rank *R, const char *q, size_t len, float *out) {
    if (!R->cache) return 0;
    int r = rank_veclru_get(R->cache, q, len, out);
    if (r >= 0) return r;
    if (R->rc) {
        if (!R->version) return 0;
        if (!ng_ready(R)) {
            R->st.ngram_fallbacks++;
            return 0;
        }
        int ok = ng_compose(R, q, len, out);
        rank_veclru_put(R->cache, q, len, ok ? out : NULL);
        return ok;
    }
    if (R->emb && R->emb->dims == R->dims) {
        int ok = rank_emb_vector(R->emb, q, len, out);
        rank_veclru_put(R->cache, q, len, ok ? out : NULL);
        return ok;
    }
    return 0;
}

static int req_vec(void *ud, const char *q, size_t len, float *out) { return vec_of(ud, q, len, out); }

int eng_rank_debug_vector(eng_rank *R, const char *q, size_t len, float *out) {
    if (!R->dims) return 0;
    return vec_of(R, q, len, out);
}

static mget *mget_get(eng_rank *R) {
    mget *m = R->mfree;
    if (m) R->mfree = m->next;
    else {
        m = qcalloc(1, sizeof *m);
        if (!m) return NULL;
        qbuf_init(&m->keys);
    }
    m->R = R;
    m->req = NULL;
    m->n = 0;
    m->version = R->version;
    qbuf_reset(&m->keys);
    char pre[RANK_EK_MAX];
    m->qoff = (size_t)rank_ek_qprefix(pre, sizeof pre, R->ns, R->version);
    return m;
}

static void mget_put(eng_rank *R, mget *m) {
    if (m->keys.cap > 65536) {
        qbuf_free(&m->keys);
        qbuf_init(&m->keys);
    }
    m->next = R->mfree;
    R->mfree = m;
}

static int mget_add(eng_rank *R, mget *m, const char *q, size_t len) {
    if (m->n == MAX_MGET) return -1;
    for (size_t i = 0; i < m->n; i++)
        if (m->len[i] == len && !memcmp(m->keys.data + m->off[i] + m->qoff, q, len)) return 0;
    m->off[m->n] = m->keys.len;
    char pre[RANK_EK_MAX];
    rank_ek_qprefix(pre, sizeof pre, R->ns, m->version);
    if (qbuf_append(&m->keys, pre, m->qoff) || qbuf_append(&m->keys, q, len)) return -1;
    m->len[m->n++] = len;
    return 0;
}

static void on_mget(rcl *c, redisReply *r, int status, void *pd);
static void on_write(rcl *c, redisReply *r, int status, void *pd);
static void release(eng_rank_pending *q);

static int mget_send(eng_rank *R, mget *m) {
    m->argv[0] = "MGET";
    m->argl[0] = 4;
    for (size_t i = 0; i < m->n; i++) {
        m->argv[i + 1] = m->keys.data + m->off[i];
        m->argl[i + 1] = m->qoff + m->len[i];
    }
    return rcl_command_argv(R->rc, (int)m->n + 1, m->argv, m->argl, on_mget, m);
}

/* --- answering ----------------------------------------------------------- */

/* Gathers, scores and keeps the top k of prefix p for the request context.
 * rh: the user's Redis history (NULL: none / in-process). Returns n. */
static size_t score(eng_rank *R, const char *p, size_t plen, const char *user, size_t ulen, const rank_rh *rh,
                    const rank_hsess *sess, size_t nsess, int64_t now, int learn_pos_q, const char *aq,
                    size_t aqlen, const eng_rank_match *em, unsigned k) {
    rank_req *rq = &R->req;
    rank_match m = {0};
    if (em && k) {
        m = (rank_match){k, em->edits, em->fuzzy_flags, em->fuzzy_max_work,
                         em->infix && R->words ? *R->words : NULL, em->infix ? em->word_edits : 0};
    }
    rank_req_set_match(rq, &m);
    const rank_huser *hu = (!R->rc && R->hist && user && ulen) ? rank_history_user(R->hist, user, ulen) : NULL;
    if (!R->rc && hu && !sess) nsess = rank_huser_session(R->hist, hu, now, R->sbuf, MAX_SESS), sess = R->sbuf;
    rank_req_session(rq, R->dims, sess, nsess, now);
    /* with Redis and no history read (degraded), the gather is trie-only */
    if (R->o.gen_candidates && !R->gen) R->st.gen_unready++; /* the first build has not ended */
    int n = rank_req_gather(rq, R->t, hu, R->rc ? rh : NULL, p, plen, R->o.candidates);
    if (n <= 0) return 0;
    if (!R->model) {
        rank_ctx ctx = {now, rq->x.last, rq->x.lastlen};
        rank_score_heuristic(rq->cs.c, (size_t)n, &ctx);
        return (size_t)n;
    }
    n = rank_req_prepare(rq);
    if (n <= 0) return 0;
    if (learn_pos_q) {
        long pos = rank_req_find(rq, (size_t)n, aq, aqlen);
        if (pos < 0) {
            R->st.online_skipped++;
            return 0;
        }
        if (eng_rank__learn(R, (size_t)n, (size_t)pos) > 0) R->st.online_updates++;
        return 0;
    }
    rank_learned_score(R->model, &rq->x, rq->lc, (size_t)n);
    for (int i = 0; i < n; i++) rq->cs.c[i] = rq->lc[i].c;
    return (size_t)n;
}

static void fill(eng_rank *R, eng_rank_result *res, size_t n, unsigned k) {
    size_t m = rank_top(R->req.cs.c, n, k > ENG_RANK_MAX_RESULT ? ENG_RANK_MAX_RESULT : k);
    if (m) memcpy(res->c, R->req.cs.c, m * sizeof *res->c); /* cs.c is NULL before the first candidate */
    res->n = m;
    res->fuzzy_cut = R->req.fuzzy_cut; /* of the gather just scored (score() always gathers) */
    res->infix_cut = R->req.infix_cut;
}

/* Requests vectors the answer lacked (history-only candidates, session
 * queries), fire and forget. */
static void warm(eng_rank *R, size_t n, const rank_hsess *sess, size_t nsess) {
    if (!R->rc || !R->version || !rcl_is_up(R->rc) || ng_ready(R)) return;
    mget *m = NULL;
    for (size_t i = 0; i < n + nsess; i++) {
        const char *q = i < n ? R->req.cs.c[i].q : sess[i - n].q;
        size_t len = i < n ? R->req.cs.c[i].len : sess[i - n].len;
        if (rank_veclru_get(R->cache, q, len, NULL) >= 0) continue;
        if (!m && !(m = mget_get(R))) return;
        if (mget_add(R, m, q, len)) break;
    }
    if (!m) return;
    if (!m->n || mget_send(R, m)) mget_put(R, m);
}

static void answer(eng_rank_pending *q, int degraded) {
    eng_rank *R = q->R;
    q->answered = 1;
    uv_timer_stop(&q->timer);
    if (degraded && !q->is_accept) R->st.degraded++;
    if (q->is_accept) {
        if (!degraded && q->hist_ok)
            score(R, q->p, q->plen, q->user, q->ulen, &q->rh, q->rh.s, q->rh.ns, q->now, 1, q->q, q->qlen, NULL, 0);
        else R->st.online_skipped++;
        return;
    }
    const rank_rh *rh = q->hist_ok ? &q->rh : NULL;
    size_t n = score(R, q->p, q->plen, q->user, q->ulen, rh, rh ? rh->s : NULL, rh ? rh->ns : 0, q->now, 0, NULL, 0,
                     &q->m, q->k);
    q->res.degraded = degraded;
    fill(R, &q->res, n, q->k);
    /* warm first: the callback may run another request (the server resumes
     * a paused connection), which reuses R->req */
    if (!degraded) warm(R, n, rh ? rh->s : NULL, rh ? rh->ns : 0);
    if (!q->cancelled && q->cb) q->cb(q->ud, &q->res);
}

static void on_deadline(uv_timer_t *t) {
    eng_rank_pending *q = t->data;
    if (q->answered) return;
    if (!q->is_accept) q->R->st.deadline_misses++;
    answer(q, 1);
}

static void release(eng_rank_pending *q) {
    if (!q->in_use || !(q->answered || q->cancelled) || q->waiting) return;
    q->in_use = 0;
    rank_rh_reset(&q->rh);
    q->next = q->R->pool;
    q->R->pool = q;
}

static void settle(eng_rank_pending *q) {
    q->waiting--;
    if (!q->answered && !q->cancelled && q->waiting == 0) answer(q, q->errs > 0); /* failed reads: degraded, now */
    release(q);
}

static void on_mget(rcl *c, redisReply *r, int status, void *pd) {
    (void)c;
    mget *m = pd;
    eng_rank *R = m->R;
    if (status || !r) {
        R->st.redis_errors++;
        if (m->req) m->req->errs++;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == m->n && m->version == R->version && R->cache &&
               !ng_ready(R)) { /* READY: vectors are composed, not fetched */
        float v[RANK_EMB_MAX_DIMS];
        for (size_t i = 0; i < m->n; i++) {
            redisReply *e = r->element[i];
            const char *q = m->keys.data + m->off[i] + m->qoff;
            if (e->type == REDIS_REPLY_STRING && e->len == 4 + (size_t)R->dims) {
                rank_emb_dequantize(R->dims, (const unsigned char *)e->str, v);
                rank_veclru_put(R->cache, q, m->len[i], v);
            } else if (e->type == REDIS_REPLY_NIL && R->ng.state != ENG_RANK_NG_LOADING)
                rank_veclru_put(R->cache, q, m->len[i], NULL); /* loading: composed once READY */
        }
    } else if (r->type == REDIS_REPLY_ERROR) R->st.redis_errors++;
    eng_rank_pending *q = m->req;
    mget_put(R, m);
    if (q) settle(q);
}

static void on_hist(rcl *c, redisReply *r, int status, void *pd) {
    (void)c;
    tag *tg = pd;
    eng_rank_pending *q = tg->req;
    eng_rank *R = q->R;
    if (status || !r || r->type == REDIS_REPLY_ERROR) {
        R->st.redis_errors++;
        q->errs++;
    } else if (!q->answered && !q->cancelled && r->type == REDIS_REPLY_ARRAY) {
        if (tg->kind == 1) {
            for (size_t i = 0; i + 1 < r->elements; i += 2)
                rank_rh_user_field(&q->rh, r->element[i]->str, r->element[i]->len, r->element[i + 1]->str,
                                   r->element[i + 1]->len);
            rank_rh_user_done(&q->rh);
            const rank_hentry *sur[RANK_RH_MAX_CMDS];
            size_t ns = rank_rh_surplus(&q->rh, R->rho.max_queries, sur, RANK_RH_MAX_CMDS);
            if (ns) { /* reader-side trim of the user's hash */
                rank_rh_cmds cmds;
                rank_rh_trim_cmds(&cmds, R->ns, q->user, q->ulen, sur, ns);
                for (size_t i = 0; i < cmds.n; i++)
                    if (rcl_command_argv(R->rc, cmds.c[i].argc, cmds.c[i].argv, cmds.c[i].len, on_write, R))
                        R->st.history_write_errors++;
            }
        } else {
            for (size_t i = 0; i < r->elements; i++)
                if (r->element[i]->type == REDIS_REPLY_STRING)
                    rank_rh_session_item(&q->rh, r->element[i]->str, r->element[i]->len, q->now,
                                         R->rho.session_ttl);
        }
        /* hist_ok once both reads we asked for are in */
        if (tg->kind == 1) q->want_user = 0;
        else q->want_sess = 0;
        if (!q->want_user && !q->want_sess) q->hist_ok = 1;
    }
    settle(q);
}

static eng_rank_pending *req_get(eng_rank *R) {
    eng_rank_pending *q = R->pool;
    if (q) R->pool = q->next;
    else {
        if (R->npool >= ENG_RANK_MAX_POOL) return NULL;
        q = qcalloc(1, sizeof *q);
        if (!q) return NULL;
        q->R = R;
        rank_rh_init(&q->rh);
        uv_timer_init(R->loop, &q->timer);
        q->timer.data = q;
        R->npool++;
        R->open_handles++;
    }
    q->in_use = 1;
    q->answered = q->cancelled = q->is_accept = 0;
    q->waiting = q->errs = 0;
    q->hist_ok = 0;
    q->cb = NULL;
    q->ud = NULL;
    q->t_mget = (tag){q, 0};
    q->t_user = (tag){q, 1};
    q->t_sess = (tag){q, 2};
    memset(&q->res, 0, sizeof q->res);
    return q;
}

/* Sends the reads for q (user/session set); returns the number sent. */
static int send_reads(eng_rank *R, eng_rank_pending *q, int with_mget) {
    int sent = 0;
    if (with_mget && R->version && R->cache && !ng_ready(R)) { /* READY: composed in process */
        int n = rank_rh_gather(&R->req.cs, R->t, NULL, q->p, q->plen, R->o.candidates, 0);
        mget *m = NULL;
        for (int i = 0; i < n; i++) {
            if (rank_veclru_get(R->cache, R->req.cs.c[i].q, R->req.cs.c[i].len, NULL) >= 0) continue;
            if (!m && !(m = mget_get(R))) break;
            if (mget_add(R, m, R->req.cs.c[i].q, R->req.cs.c[i].len)) break;
        }
        if (m) {
            m->req = q;
            if (m->n && mget_send(R, m) == 0) {
                q->waiting++;
                sent++;
            } else mget_put(R, m);
        }
    }
    rank_rh_cmds cmds;
    if (rank_rh_read_cmds(&cmds, &R->rho, R->ns, q->ulen ? q->user : NULL, q->ulen, q->slen ? q->sess : NULL,
                          q->slen) == 0) {
        q->want_user = cmds.n == 2;
        q->want_sess = 1;
        for (size_t i = 0; i < cmds.n; i++) {
            tag *tg = (cmds.n == 2 && i == 0) ? &q->t_user : &q->t_sess;
            if (rcl_command_argv(R->rc, cmds.c[i].argc, cmds.c[i].argv, cmds.c[i].len, on_hist, tg) == 0) {
                q->waiting++;
                sent++;
            }
        }
    }
    return sent;
}

int eng_rank_complete(eng_rank *R, const char *p, size_t plen, const char *user, size_t ulen, const char *sess,
                      size_t slen, unsigned k, const eng_rank_match *m, eng_rank_result *res, eng_rank_cb cb,
                      void *ud, eng_rank_pending **h) {
    R->st.requests++;
    int64_t now = now_s();
    *h = NULL;
    if (!R->rc || !rcl_is_up(R->rc) || !(ulen || slen) || plen > TRIE_MAX_KEY || ulen > RANK_HIST_MAX_USER ||
        slen > RANK_HIST_MAX_USER) {
        if (R->rc && (ulen || slen)) R->st.degraded++; /* Redis down: trie + cache only */
        size_t n = score(R, p, plen, user, ulen, NULL, NULL, 0, now, 0, NULL, 0, m, k);
        res->degraded = R->rc && (ulen || slen);
        fill(R, res, n, k);
        return 1;
    }
    eng_rank_pending *q = req_get(R);
    if (!q) {
        R->st.degraded++;
        size_t n = score(R, p, plen, user, ulen, NULL, NULL, 0, now, 0, NULL, 0, m, k);
        res->degraded = 1;
        fill(R, res, n, k);
        return 1;
    }
    if (plen) memcpy(q->p, p, plen);
    q->plen = plen;
    if (ulen) memcpy(q->user, user, ulen);
    q->ulen = ulen;
    if (slen) memcpy(q->sess, sess, slen);
    q->slen = slen;
    q->k = k;
    if (m) q->m = *m;
    else memset(&q->m, 0, sizeof q->m);
    q->now = now;
    q->cb = cb;
    q->ud = ud;
    if (!send_reads(R, q, 1)) { /* nothing went out */
        q->answered = 1;
        release(q);
        R->st.degraded++;
        size_t n = score(R, p, plen, user, ulen, NULL, NULL, 0, now, 0, NULL, 0, m, k);
        res->degraded = 1;
        fill(R, res, n, k);
        return 1;
    }
    uv_timer_start(&q->timer, on_deadline, R->o.deadline_ms, 0);
    *h = q;
    return 0;
}

void eng_rank_set_words(eng_rank *R, trie_words *const *words) { R->words = words; }

void eng_rank_cancel(eng_rank_pending *q) {
    if (!q || !q->in_use || q->answered) return;
    q->cancelled = 1;
    uv_timer_stop(&q->timer);
    release(q);
}

static void on_write(rcl *c, redisReply *r, int status, void *pd) {
    (void)c;
    eng_rank *R = pd;
    if (status || !r || r->type == REDIS_REPLY_ERROR) R->st.history_write_errors++;
}

void eng_rank_accept(eng_rank *R, const char *q, size_t qlen, const char *user, size_t ulen, const char *sess,
                     size_t slen, const char *prefix, size_t plen, int may_learn) {
    if (!user || !ulen || !qlen || qlen > TRIE_MAX_KEY || ulen > RANK_HIST_MAX_USER || slen > RANK_HIST_MAX_USER)
        return;
    int64_t now = now_s();
    int learn = may_learn && R->model && prefix && plen <= qlen && plen <= TRIE_MAX_KEY && !memcmp(prefix, q, plen);
    if (!R->rc) {
        if (learn) score(R, prefix, plen, user, ulen, NULL, NULL, 0, now, 1, q, qlen, NULL, 0);
        if (R->hist) rank_history_accept(R->hist, user, ulen, q, qlen, now);
        R->st.history_writes++;
        return;
    }
    if (!rcl_is_up(R->rc)) {
        R->st.history_write_errors++;
        return;
    }
    if (learn) {
        eng_rank_pending *a = req_get(R);
        if (a) {
            a->is_accept = 1;
            if (plen) memcpy(a->p, prefix, plen);
            a->plen = plen;
            memcpy(a->user, user, ulen);
            a->ulen = ulen;
            if (slen) memcpy(a->sess, sess, slen);
            a->slen = slen;
            memcpy(a->q, q, qlen);
            a->qlen = qlen;
            a->now = now;
            if (!send_reads(R, a, 0)) {
                a->answered = 1;
                release(a);
            } else uv_timer_start(&a->timer, on_deadline, R->o.deadline_ms * 50 + 100, 0);
        } else R->st.online_skipped++;
    }
    rank_rh_cmds cmds;
    if (rank_rh_accept_cmds(&cmds, &R->rho, R->ns, user, ulen, sess, slen, q, qlen, now)) return;
    R->st.history_writes++;
    for (size_t i = 0; i < cmds.n; i++)
        if (rcl_command_argv(R->rc, cmds.c[i].argc, cmds.c[i].argv, cmds.c[i].len, on_write, R))
            R->st.history_write_errors++;
}

/* --- lifecycle ----------------------------------------------------------- */

static char *dup_str(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = qmalloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

eng_rank *eng_rank_new(uv_loop_t *loop, trie *t, const eng_rank_opts *o, char *err, size_t errlen) {
    if (!o->ns || !o->ns[0] || strlen(o->ns) > RANK_RH_MAX_NS || strpbrk(o->ns, ":*?[] \t\r\n")) {
        snprintf(err, errlen, "namespace wants 1..%d bytes without ':', '*', '?', '[', ']' or spaces",
                 RANK_RH_MAX_NS);
        return NULL;
    }
    if (!o->candidates || o->candidates > TRIE_MAX_K) {
        snprintf(err, errlen, "candidates wants 1..%d", TRIE_MAX_K);
        return NULL;
    }
    if (!o->deadline_ms || o->deadline_ms > ENG_RANK_MAX_DEADLINE_MS) {
        snprintf(err, errlen, "redis-deadline-ms wants 1..%d", ENG_RANK_MAX_DEADLINE_MS);
        return NULL;
    }
    if (o->gen_candidates > RANK_MAX_GEN_CANDS) {
        snprintf(err, errlen, "gen-candidates wants 0..%d", RANK_MAX_GEN_CANDS);
        return NULL;
    }
    if (!o->gen_suffixes || o->gen_suffixes > RANK_GEN_MAX_SUFFIXES) {
        snprintf(err, errlen, "gen-suffixes wants 1..%d", RANK_GEN_MAX_SUFFIXES);
        return NULL;
    }
    if (o->gen_words > RANK_GEN_MAX_WORDS) {
        snprintf(err, errlen, "gen-words wants 0..%d", RANK_GEN_MAX_WORDS);
        return NULL;
    }
    rcl_opts ro; /* with --redis: parsed before anything is built (the suffix index takes seconds at 10M keys) */
    char target[RCL_TARGET_BUF];
    rcl_opts_default(&ro);
    if (o->redis) {
        if (rcl_parse_target(o->redis, &ro, target, sizeof target)) {
            snprintf(err, errlen, "--redis wants HOST:PORT or sentinel://HOST:PORT[,HOST:PORT...]/MASTER, not '%s'",
                     o->redis);
            return NULL;
        }
    }
    eng_rank *R = qcalloc(1, sizeof *R);
    if (!R) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    R->loop = loop;
    R->t = t;
    R->o = *o;
    snprintf(R->ns, sizeof R->ns, "%s", o->ns);
    R->o.ns = R->ns;
    rank_rh_opts_default(&R->rho);
    qbuf_init(&R->ngkeys);
    R->model_path = dup_str(o->model);
    R->save_path = dup_str(o->model_save ? o->model_save : o->model);
    int req_ok = rank_req_init(&R->req, req_vec, R) == 0;
    if (!req_ok || (o->model && !R->model_path) || ((o->model || o->model_save) && !R->save_path)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (o->model && rank_ftrl_load(o->model, &R->model, err, errlen)) goto fail;
    if (o->embeddings && rank_emb_load(o->embeddings, &R->emb, err, errlen)) goto fail;
    R->dims = R->emb ? R->emb->dims : RANK_EMB_DEFAULT_DIMS;
    if (o->model || o->embeddings || o->redis) {
        R->cache = rank_veclru_new(o->cache_bytes, R->dims);
        if (!R->cache) {
            snprintf(err, errlen, "cache-bytes wants at least %d", RANK_VECLRU_MIN_BYTES);
            goto fail;
        }
    }
    if (o->redis) {
        ro.on_state = eng_rank__on_rcl_state;
        ro.ud = R;
        if (rcl_new(loop, &ro, &R->rc, err, errlen)) goto fail;
        R->st.redis_enabled = 1;
        uv_timer_init(loop, &R->vtimer);
        R->vtimer.data = R;
        R->open_handles++;
        uv_timer_start(&R->vtimer, eng_rank__on_vtimer, ENG_RANK_VERSION_CHECK_MS, ENG_RANK_VERSION_CHECK_MS);
    } else {
        rank_history_opts ho;
        rank_history_opts_default(&ho);
        R->hist = rank_history_new(&ho);
        if (!R->hist) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        if (!R->emb) R->dims = 0; /* no vectors at all */
    }
    if (eng_rank__gen_start(R, err, errlen)) { /* last: a job that runs must find R whole (ranker_gen.c) */
        eng_rank_close(R);
        return NULL;
    }
    LOG_I("ranker.started", "redis=%s model=%s embeddings=%s candidates=%u deadline_ms=%u gen_candidates=%u",
          o->redis ? o->redis : "none", o->model ? o->model : "none", o->embeddings ? o->embeddings : "none",
          o->candidates, o->deadline_ms, o->gen_candidates);
    return R;
fail:
    rank_gen_free(R->gen);
    qbuf_free(&R->ngkeys);
    rank_ftrl_free(R->model);
    rank_emb_free(R->emb);
    rank_veclru_free(R->cache);
    rank_req_free(&R->req);
    qfree(R->model_path);
    qfree(R->save_path);
    qfree(R);
    return NULL;
}

void eng_rank__free_all(eng_rank *R) {
    while (R->mfree) {
        mget *m = R->mfree;
        R->mfree = m->next;
        qbuf_free(&m->keys);
        qfree(m);
    }
    qfree(R->ng.rows);
    qbuf_free(&R->ngkeys);
    rank_gen_free(R->gen);
    rank_ftrl_free(R->model);
    eng_rank__fleet_free(R);
    rank_emb_free(R->emb);
    rank_veclru_free(R->cache);
    rank_history_free(R->hist);
    rank_req_free(&R->req);
    qfree(R->model_path);
    qfree(R->save_path);
    qfree(R);
}

static void on_req_closed(uv_handle_t *h) {
    eng_rank_pending *q = h->data;
    eng_rank *R = q->R;
    rank_rh_free(&q->rh);
    qfree(q);
    if (--R->open_handles == 0) eng_rank__free_all(R);
}

static void on_vt_closed(uv_handle_t *h) {
    eng_rank *R = h->data;
    if (--R->open_handles == 0) eng_rank__free_all(R);
}

void eng_rank_close(eng_rank *R) {
    R->closing = 1;
    eng_rank__gen_close(R); /* a build that runs is cancelled; R is freed after it returns */
    if (R->learned) {
        char err[256];
        if (eng_rank_save(R, err, sizeof err)) LOG_E("ranker.save_failed", "error=%s", err);
    }
    if (R->rc) {
        rcl_close(R->rc, NULL, NULL); /* every pending callback runs now (ECLOSED) */
        R->rc = NULL;
        uv_timer_stop(&R->vtimer);
        uv_close((uv_handle_t *)&R->vtimer, on_vt_closed);
    }
    /* all requests are idle now (their callbacks ran); close their timers */
    size_t closing = 0;
    while (R->pool) {
        eng_rank_pending *q = R->pool;
        R->pool = q->next;
        uv_close((uv_handle_t *)&q->timer, on_req_closed);
        closing++;
    }
    if (R->open_handles == 0) eng_rank__free_all(R);
    (void)closing;
}

int eng_rank_reload(eng_rank *R, char *err, size_t errlen) {
    eng_rank__check_version(R);
    if (eng_rank__gen_start(R, err, errlen)) return -1; /* built off the loop; the old index serves meanwhile */
    if (!R->model_path) return 0;
    rank_ftrl *m = NULL;
    if (rank_ftrl_load(R->model_path, &m, err, errlen)) return -1;
    if (eng_rank__fleet_reloaded(R, m)) return 0; /* the same version: the fleet's weights stay */
    rank_ftrl_free(R->model);
    R->model = m;
    R->learned = 0;
    LOG_I("ranker.model_reloaded", "path=%s", R->model_path);
    return 0;
}

int eng_rank_save(eng_rank *R, char *err, size_t errlen) {
    if (!R->model || !R->save_path || R->fleet) return 0; /* the fleet's weights: its checkpoint (ranker_fleet.c) */
    if (rank_ftrl_save(R->model, R->save_path, err, errlen)) return -1;
    R->learned = 0;
    return 0;
}

int eng_rank_has_model(const eng_rank *R) { return R->model != NULL; }

void eng_rank_stats(const eng_rank *R, eng_rank_stat *s) {
    *s = R->st;
    if (R->rc) {
        rcl_stat rs;
        rcl_stats(R->rc, &rs);
        s->redis_up = rcl_is_up(R->rc);
        s->redis_master_switches = rs.master_switches;
    }
    if (R->cache) {
        rank_veclru_stat cs;
        rank_veclru_stats(R->cache, &cs);
        s->cache_hits = cs.hits;
        s->cache_misses = cs.misses;
        s->cache_bytes = cs.bytes;
        s->cache_entries = cs.entries;
    }
    s->emb_version = R->version;
    s->has_model = R->model != NULL;
    s->model_updates = R->model ? R->model->updates : 0;
    s->model_checksum = R->model ? rank_ftrl_checksum_cached(R->model) : 0;
    s->ngram_state = R->ng.state;
    s->ngram_bytes = R->ng.rows ? (uint64_t)R->ng.buckets * R->ng.rowb : 0;
}
