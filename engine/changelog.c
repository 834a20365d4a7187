/* changelog.c -- the running change log (design and guarantees: changelog.h).
 *
 * Layout: one chg { the reader rcl (XREAD only), the writer rcl (XADD, WAIT,
 * HSET, HVALS, XTRIM, XINFO), the cron timer, the outbox, the positions }.
 *
 * Outbox: a FIFO of chg_ent, oldest first, each with a sequence number
 * (1, 2, ... in queue order). `send` points at the first entry not yet sent
 * on the current connection; [head, send) were sent and are unconfirmed.
 *   wait-replicas 0: an XADD reply for the head's seq pops the head;
 *   wait-replicas N: after a flush one WAIT N follows (at most one in
 *   flight); its reply >= N pops every entry up to the last seq sent before
 *   it, unless the epoch changed meanwhile.
 * Any failure (a lost connection, an error reply) bumps the epoch and resets
 * send to head: the unconfirmed entries go again, in order, so the stream's
 * last word on every key stays this replica's last change. Replies carry a
 * seq (never an entry pointer): a late reply for a popped entry is ignored.
 *
 * Positions: applied (last entry applied), pend/pend_lsn (a checkpoint
 * waiting for the journal), durable (its journal records are durable),
 * written (what JOURNAL.chgpos says), snap_fork / snap_saved (INDEX.chgpos).
 * Invariant: written <= durable <= applied.
 */
#include "engine/changelog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/util.h"
#include "engine/changelog_outbox.h"
#include "engine/cmd.h"
#include "engine/rank/ranker.h"
#include "engine/rank/rclient.h"
#include "engine/stats.h"
#include "engine/store/journal.h"

typedef struct chg_ent {
    struct chg_ent *next;
    uint64_t seq, t_us;
    double score;
    uint64_t mv; /* model: its version */
    int op;
    uint16_t klen, dlen, nlen, plen;
    char data[]; /* key, display (model: the update), dictionary name, dictionary payload */
} chg_ent;

struct chg {
    uv_loop_t *loop;
    eng *e;
    char key[CHG_MAX_KEY + 1], poskey[CHG_MAX_KEY + 16], id[CHG_MAX_ID + 1];
    char *pos_path, *snap_path, *model_path;
    uint64_t outbox_max, maxlen, wait_replicas;
    char maxlen_s[24], wait_s[24];
    rcl *rd, *wr;
    uv_timer_t cron;
    int open;    /* handles and clients not yet closed */
    int closing;
    /* outbox */
    chg_ent *head, *tail, *send;
    uint64_t depth, inflight, next_seq, last_sent_seq, epoch;
    uint64_t acked_seq; /* wait-replicas N: the primary answered the XADDs up to this seq (this epoch) */
    int waiting; /* a WAIT in flight */
    uint64_t wait_seq, wait_epoch, wait_retry_at;
    uint64_t send_pause_until; /* ms (loop time): after an error reply */
    /* reader */
    int reading;
    uint64_t read_pause_until;
    chg_id applied, pend, durable, written, snap_fork, snap_saved, xinfo_pos;
    uint64_t pend_lsn;
    int have_pend;
    int trimmed_past, up_logged;
    int checked; /* the first XINFO STREAM answered: reading may start */
    uint64_t last_publish, last_trim, last_pos_write;
    /* stats */
    uint64_t applied_n, unchanged, sent, skipped, bad, overflow, unreplicated, send_errors, read_errors, apply_errors;
    uint64_t lag_ms, lag_entries;
    uint32_t lag_us[CHG_LAG_SAMPLES];
    uint64_t lag_n;
    /* the fleet's model (changelog.h MODEL UPDATES) */
    uint64_t model_version;   /* 0: no fleet learning */
    chg_id key_from, model_from; /* entries up to these the loaded index / weights hold already */
    chg_id model_saved;       /* the position of the checkpoint on disk */
    int model_dirty;          /* steps applied since it */
    uint64_t last_model_ckpt;
    uint64_t model_applied, model_foreign, model_bad, model_lost;
    /* the outbox on disk (changelog_outbox.h); NULL without a journal */
    chg_obf *obf;
    uint64_t obf_recovered, obf_errors;
    int recovering; /* queueing the file's entries: not appended again */
};

static uint64_t wall_us(void) { return (uint64_t)(qtime_wall() * 1e6); }

static char *dupstr(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = qmalloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* --- writer: the outbox ----------------------------------------------------- */

static void flush(chg *c);

/* Every unconfirmed entry goes again on the next connection. */
static void requeue(chg *c) {
    c->send = c->head;
    c->acked_seq = 0;
    c->epoch++;
}

static void pop_head(chg *c) {
    chg_ent *h = c->head;
    c->head = h->next;
    if (!c->head) c->tail = NULL;
    if (c->send == h) c->send = c->head;
    c->depth--;
    c->sent++;
    qfree(h);
}

static void on_xadd_reply(rcl *r, redisReply *reply, int status, void *pd) {
    chg *c = rcl_ud(r);
    uint64_t seq = (uint64_t)(uintptr_t)pd;
    if (!c) return;
    c->inflight--;
    if (c->closing) return;
    if (status) { /* connection lost: on the next one, everything unconfirmed again */
        requeue(c);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        c->send_errors++;
        if (c->send_errors == 1 || c->send_errors % 1000 == 0)
            LOG_E("changelog.send_failed", "key=%s error=%.*s errors=%llu msg=\"retrying in 1 s\"", c->key,
                  (int)reply->len, reply->str, (unsigned long long)c->send_errors);
        requeue(c);
        c->send_pause_until = uv_now(c->loop) + 1000;
        return;
    }
    if (c->wait_replicas) c->acked_seq = seq;
    else if (c->head && c->head->seq == seq) pop_head(c);
}

static void on_wait_reply(rcl *r, redisReply *reply, int status, void *pd) {
    (void)pd;
    chg *c = rcl_ud(r);
    if (!c) return;
    c->waiting = 0;
    if (c->closing || status) return;
    if (reply->type != REDIS_REPLY_INTEGER) {
        c->send_errors++;
        LOG_E("changelog.wait_failed", "error=%.*s", (int)reply->len, reply->str ? reply->str : "");
        return;
    }
    if ((uint64_t)reply->integer < c->wait_replicas) { /* cron asks again, later: a WAIT holds back the XADDs */
        c->wait_retry_at = uv_now(c->loop) + CHG_WAIT_RETRY_MS;
        return;
    }
    if (c->epoch != c->wait_epoch) return;
    while (c->head && c->head != c->send && c->head->seq <= c->wait_seq) pop_head(c);
}

static void send_wait(chg *c) {
    if (c->waiting || !c->wait_replicas || c->head == c->send || !rcl_is_up(c->wr) ||
        uv_now(c->loop) < c->wait_retry_at)
        return;
    char ms[16];
    snprintf(ms, sizeof ms, "%d", CHG_WAIT_MS);
    const char *argv[3] = {"WAIT", c->wait_s, ms};
    size_t len[3] = {4, strlen(c->wait_s), strlen(ms)};
    c->wait_seq = c->last_sent_seq;
    c->wait_epoch = c->epoch;
    if (rcl_command_argv(c->wr, 3, argv, len, on_wait_reply, NULL) == 0) c->waiting = 1;
}

static void flush(chg *c) {
    if (c->closing || !c->wr || !rcl_is_up(c->wr) || uv_now(c->loop) < c->send_pause_until) return;
    int n0 = 0;
    while (c->send && c->inflight < CHG_MAX_INFLIGHT) {
        chg_ent *x = c->send;
        chg_rec rec = {.op = x->op, .key = x->data, .klen = x->klen, .disp = x->data + x->klen, .dlen = x->dlen,
                       .score = x->score, .origin = c->id, .olen = strlen(c->id), .t_us = x->t_us};
        if (x->op == CHG_OP_MODEL) {
            rec.key = rec.disp = NULL;
            rec.klen = rec.dlen = 0;
            rec.mv = x->mv;
            rec.upd = x->data;
            rec.ulen = x->dlen;
        }
        if (x->op == CHG_OP_DROP) rec.key = NULL, rec.klen = 0;
        if (x->op == CHG_OP_DEL || x->op == CHG_OP_DROP) rec.disp = NULL, rec.dlen = 0;
        if (x->nlen) rec.dict = x->data + x->klen + x->dlen, rec.dictlen = x->nlen;
        if (x->plen) rec.pay = x->data + x->klen + x->dlen + x->nlen, rec.plen = x->plen;
        const char *argv[6 + CHG_REC_MAX_ARGS];
        size_t len[6 + CHG_REC_MAX_ARGS];
        char num[CHG_NUM_BUF];
        argv[0] = "XADD", argv[1] = c->key, argv[2] = "MAXLEN", argv[3] = "~", argv[4] = c->maxlen_s, argv[5] = "*";
        for (int i = 0; i < 6; i++) len[i] = strlen(argv[i]);
        int n = chg_rec_encode(&rec, argv + 6, len + 6, num, sizeof num);
        if (n < 0) { /* cannot happen: the entry was checked when queued */
            c->send = x->next;
            continue;
        }
        if (rcl_command_argv(c->wr, 6 + n, argv, len, on_xadd_reply, (void *)(uintptr_t)x->seq) < 0) break;
        c->inflight++;
        c->last_sent_seq = x->seq;
        c->send = x->next;
        n0++;
    }
    if (n0) send_wait(c);
}

/* Room for one more entry (changelog.h SENDING). 0: none, counted. */
static int outbox_room(chg *c) {
    if (c->depth >= c->outbox_max && c->head && c->head != c->send && c->head->seq <= c->acked_seq) {
        /* full of entries the primary has and its replicas have not confirmed
         * (no Redis replica since a failover?): the oldest leaves unconfirmed */
        pop_head(c);
        if (c->unreplicated++ % 1000 == 0)
            LOG_W("changelog.unreplicated", "count=%llu msg=\"the outbox is full of entries no Redis replica "
                  "confirmed (changelog-wait-replicas): the oldest leave it confirmed by the primary only\"",
                  (unsigned long long)c->unreplicated);
    }
    if (c->depth >= c->outbox_max) {
        if (c->overflow++ % 1000 == 0)
            LOG_W("changelog.outbox_full", "outbox=%llu overflow=%llu msg=\"Redis has not confirmed %llu changes "
                  "(changelog-outbox-max): this change is kept here but not sent; other replicas miss it\"",
                  (unsigned long long)c->depth, (unsigned long long)c->overflow, (unsigned long long)c->depth);
        return 0;
    }
    return 1;
}

/* A new entry of op with room for klen + dlen bytes, not queued yet; NULL
 * (counted) when there is no room. */
static chg_ent *ent_new(chg *c, int op, size_t klen, size_t dlen, size_t nlen, size_t plen) {
    if (!outbox_room(c)) return NULL;
    chg_ent *x = qmalloc(sizeof *x + klen + dlen + nlen + plen);
    if (!x) {
        c->overflow++;
        LOG_E("changelog.outbox_full", "error=out_of_memory msg=\"a change is not sent\"");
        return NULL;
    }
    x->next = NULL;
    x->t_us = wall_us();
    x->op = op;
    x->score = 0;
    x->mv = 0;
    x->klen = (uint16_t)klen;
    x->dlen = (uint16_t)dlen;
    x->nlen = (uint16_t)nlen;
    x->plen = (uint16_t)plen;
    return x;
}

static void obf_ent(const chg_ent *x, chg_obf_ent *e) {
    *e = (chg_obf_ent){.seq = x->seq, .t_us = x->t_us, .score = x->score, .op = x->op, .key = x->data,
                       .disp = x->data + x->klen, .name = x->data + x->klen + x->dlen,
                       .pay = x->data + x->klen + x->dlen + x->nlen, .klen = x->klen, .dlen = x->dlen,
                       .nlen = x->nlen, .plen = x->plen};
}

static void obf_failed(chg *c, const char *what) {
    if (c->obf_errors++ % 1000 == 0)
        LOG_E("changelog.outbox_write_failed", "what=%s error=%s errors=%llu msg=\"unconfirmed changes may not be "
              "sent again after a restart\"", what, strerror(errno), (unsigned long long)c->obf_errors);
}

static void enqueue(chg *c, chg_ent *x) {
    x->seq = ++c->next_seq;
    if (c->obf && !c->recovering && x->op != CHG_OP_MODEL) {
        chg_obf_ent e;
        obf_ent(x, &e);
        if (chg_obf_append(c->obf, &e) < 0) obf_failed(c, "append");
    }
    if (c->tail) c->tail->next = x;
    else c->head = x;
    c->tail = x;
    if (!c->send) c->send = x;
    c->depth++;
    flush(c);
}

void chg_local_change(chg *c, const char *key, size_t klen, const char *disp, size_t dlen, double score) {
    if (klen > TRIE_MAX_KEY || dlen > TRIE_MAX_KEY) return;
    chg_ent *x = ent_new(c, disp ? CHG_OP_SET : CHG_OP_DEL, klen, disp ? dlen : 0, 0, 0);
    if (!x) return;
    x->score = score;
    memcpy(x->data, key, klen);
    if (disp) memcpy(x->data + klen, disp, dlen);
    enqueue(c, x);
}

void chg_local_dict(chg *c, int op, const char *name, size_t nlen, const char *key, size_t klen, const char *disp,
                    size_t dlen, const char *pay, size_t plen, double score) {
    int cop = op == JRN_OP_DSET ? CHG_OP_SET : op == JRN_OP_DDEL ? CHG_OP_DEL : CHG_OP_DROP;
    if (cop != CHG_OP_SET) dlen = plen = 0;
    if (cop == CHG_OP_DROP) klen = 0;
    if (!nlen || nlen > CHG_MAX_DICT || klen > TRIE_MAX_KEY || dlen > TRIE_MAX_KEY || plen > CHG_MAX_PAY) return;
    chg_ent *x = ent_new(c, cop, klen, dlen, nlen, plen);
    if (!x) return;
    x->score = score;
    char *p = x->data;
    if (klen) memcpy(p, key, klen);
    if (dlen) memcpy(p + klen, disp, dlen);
    memcpy(p + klen + dlen, name, nlen);
    if (plen) memcpy(p + klen + dlen + nlen, pay, plen);
    enqueue(c, x);
}

void chg_local_model(void *ud, uint64_t version, const void *upd, size_t len) {
    chg *c = ud;
    chg_ent *x = !c->closing && len && len <= CHG_MAX_UPD ? ent_new(c, CHG_OP_MODEL, 0, len, 0, 0) : NULL;
    if (!x) { /* no replica learns it, this one neither: they still agree */
        c->model_lost++;
        return;
    }
    x->mv = version;
    memcpy(x->data, upd, len);
    enqueue(c, x);
}

/* --- reader ----------------------------------------------------------------- */

static void read_next(chg *c);

static void lag_sample(chg *c, uint64_t t_us) {
    uint64_t now = wall_us(), d = now > t_us ? now - t_us : 0;
    c->lag_us[c->lag_n++ % CHG_LAG_SAMPLES] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* A model update: applied in stream order, once (past the checkpoint's
 * position), when it is of this replica's model version. */
static void apply_model(chg *c, const chg_rec *r, chg_id id, const redisReply *rid) {
    if (!c->model_version || !c->e->rank) return; /* no fleet learning here: not ours to count */
    if (chg_id_cmp(id, c->model_from) <= 0) return;
    const char *why = NULL;
    int rc = eng_rank_fleet_apply(c->e->rank, r->mv, r->upd, r->ulen, &why);
    if (rc > 0) {
        c->model_applied++;
        c->model_dirty = 1;
    } else if (rc == 0) {
        if (c->model_foreign++ % 1000 == 0)
            LOG_W("changelog.model_other_version", "id=%.*s version=%016" PRIx64 " model_version=%016" PRIx64
                  " count=%llu msg=\"an update of another model version: ignored\"", (int)rid->len, rid->str, r->mv,
                  eng_rank_fleet_version(c->e->rank), (unsigned long long)c->model_foreign);
    } else {
        c->model_bad++;
        c->bad++;
        LOG_W("changelog.bad_entry", "id=%.*s reason=%s msg=\"skipped\"", (int)rid->len, rid->str, why);
    }
    if (rc >= 0 && (r->olen != strlen(c->id) || memcmp(r->origin, c->id, r->olen))) lag_sample(c, r->t_us);
}

/* One entry: 1 applied or skipped (go on), 0 stop here (retry later). */
static int apply_entry(chg *c, const redisReply *ent) {
    if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 || ent->element[0]->type != REDIS_REPLY_STRING) {
        c->bad++;
        LOG_W("changelog.bad_entry", "id=? reason=\"not an [id, fields] pair\" msg=\"skipped\"");
        return 1;
    }
    const redisReply *rid = ent->element[0], *fl = ent->element[1];
    chg_id id;
    if (chg_id_parse(rid->str, rid->len, &id) < 0) {
        c->bad++;
        LOG_W("changelog.bad_entry", "id=? reason=\"malformed id\" msg=\"skipped\"");
        return 1;
    }
    const char *why = NULL;
    chg_rec r;
    const char *f[64];
    size_t flen[64];
    size_t nf = fl->type == REDIS_REPLY_ARRAY ? fl->elements : 0;
    if (fl->type != REDIS_REPLY_ARRAY || nf > 64) why = fl->type == REDIS_REPLY_ARRAY ? "over 64 fields" : "no fields";
    for (size_t i = 0; !why && i < nf; i++) {
        if (fl->element[i]->type != REDIS_REPLY_STRING) why = "a field is not a string";
        else f[i] = fl->element[i]->str, flen[i] = fl->element[i]->len;
    }
    if (!why) chg_rec_decode(f, flen, nf, &r, &why);
    if (why) {
        c->bad++;
        LOG_W("changelog.bad_entry", "id=%.*s reason=%s msg=\"skipped\"", (int)rid->len, rid->str, why);
        c->applied = id;
        return 1;
    }
    if (r.op == CHG_OP_MODEL) {
        apply_model(c, &r, id, rid);
        c->applied = id;
        return 1;
    }
    if (chg_id_cmp(id, c->key_from) <= 0) { /* the loaded index holds it (reading started below for the model) */
        c->applied = id;
        return 1;
    }
    const char *msg;
    int rc;
    if (r.dict) {
        int jop = r.op == CHG_OP_SET ? JRN_OP_DSET : r.op == CHG_OP_DEL ? JRN_OP_DDEL : JRN_OP_DDROP;
        rc = eng_apply_dict_change(c->e, jop, r.dict, r.dictlen, r.key, r.klen, r.disp, r.dlen, r.pay, r.plen,
                                   r.score, &msg);
        if (rc == ENG_ERR(ERR_ARGS) && !c->e->dicts) { /* a server without dictionaries: skipped, counted */
            c->skipped++;
            c->applied = id;
            return 1;
        }
    } else if (r.op == CHG_OP_DROP) {
        rc = ENG_ERR(ERR_ARGS), msg = "drop without dict";
    } else {
        rc = eng_apply_change(c->e, r.op == CHG_OP_DEL, r.key, r.klen, r.disp, r.dlen, r.score, &msg);
    }
    if (rc == ENG_ERR(ERR_IO) || rc == ENG_ERR(ERR_NOMEM) || rc == ENG_ERR(ERR_LIMIT)) {
        /* the journal refuses, no memory, the trie is full: retry, never skip */
        c->apply_errors++;
        if (c->apply_errors % 100 == 1)
            LOG_E("changelog.apply_failed", "id=%.*s error=%s msg=\"reading stops; retrying every second\"",
                  (int)rid->len, rid->str, msg);
        return 0;
    }
    if (rc < 0) {
        c->bad++;
        LOG_W("changelog.bad_entry", "id=%.*s reason=%s msg=\"skipped\"", (int)rid->len, rid->str, msg);
    } else if (rc == 0) c->unchanged++;
    else c->applied_n++;
    if (rc >= 0 && (r.olen != strlen(c->id) || memcmp(r.origin, c->id, r.olen))) lag_sample(c, r.t_us);
    c->applied = id;
    return 1;
}

static void on_read(rcl *r, redisReply *reply, int status, void *pd) {
    (void)pd;
    chg *c = rcl_ud(r);
    if (!c) return;
    c->reading = 0;
    if (c->closing || status) return; /* lost: the reader's on_state(up) reads again */
    if (reply->type == REDIS_REPLY_NIL) {
        c->lag_entries = 0;
        c->lag_ms = 0;
        read_next(c);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1 || reply->element[0]->type != REDIS_REPLY_ARRAY ||
        reply->element[0]->elements != 2 || reply->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
        int is_err = reply->type == REDIS_REPLY_ERROR && reply->str;
        if (c->read_errors++ % 60 == 0)
            LOG_E("changelog.read_failed", "key=%s error=%.*s msg=\"retrying every second\"", c->key,
                  is_err ? (int)reply->len : 16, is_err ? reply->str : "unexpected reply");
        c->read_pause_until = uv_now(c->loop) + 1000;
        return;
    }
    const redisReply *ents = reply->element[0]->element[1];
    for (size_t i = 0; i < ents->elements; i++)
        if (!apply_entry(c, ents->element[i])) {
            c->read_pause_until = uv_now(c->loop) + 1000;
            return;
        }
    c->lag_entries = ents->elements >= CHG_READ_BATCH ? ents->elements : 0;
    uint64_t now_ms = (uint64_t)(qtime_wall() * 1000);
    c->lag_ms = c->lag_entries && now_ms > c->applied.ms ? now_ms - c->applied.ms : 0;
    read_next(c);
}

/* Reading starts once the first XINFO answered, so that the position checked
 * for trimmed entries is the one reading starts from. */
static void read_next(chg *c) {
    if (c->closing || c->reading || !c->checked || !rcl_is_up(c->rd) || uv_now(c->loop) < c->read_pause_until)
        return;
    char pos[CHG_POS_MAX], count[16], block[16];
    chg_id_format(c->applied, pos, sizeof pos);
    snprintf(count, sizeof count, "%d", CHG_READ_BATCH);
    snprintf(block, sizeof block, "%d", CHG_BLOCK_MS);
    const char *argv[] = {"XREAD", "COUNT", count, "BLOCK", block, "STREAMS", c->key, pos};
    size_t len[8];
    for (int i = 0; i < 8; i++) len[i] = strlen(argv[i]);
    if (rcl_command_argv(c->rd, 8, argv, len, on_read, NULL) == 0) c->reading = 1;
}

/* --- positions, trimming ------------------------------------------------------ */

/* XINFO STREAM: were entries after this replica's position deleted before
 * it read them? Yes when XDEL removed one (max-deleted-entry-id > position),
 * or when trimming removed entries (entries-added > length) and the oldest
 * entry left is newer than the position. (The second may also say yes for a
 * replica whose position is exactly the last entry trimmed: it is then at
 * least the stream's whole length behind.) */
static void on_xinfo(rcl *r, redisReply *reply, int status, void *pd) {
    (void)pd;
    chg *c = rcl_ud(r);
    if (!c || c->closing || status) return;
    if (!c->checked) { /* the first answer lets the reader start (see read_next) */
        c->checked = 1;
        read_next(c);
    }
    if (reply->type != REDIS_REPLY_ARRAY) return; /* no stream yet: nothing trimmed */
    uint64_t length = 0, added = 0;
    chg_id del = {0, 0}, first = {0, 0};
    int have_first = 0;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *k = reply->element[i], *v = reply->element[i + 1];
        if (k->type != REDIS_REPLY_STRING) continue;
        if (!strcmp(k->str, "length") && v->type == REDIS_REPLY_INTEGER) length = (uint64_t)v->integer;
        else if (!strcmp(k->str, "entries-added") && v->type == REDIS_REPLY_INTEGER) added = (uint64_t)v->integer;
        else if (!strcmp(k->str, "max-deleted-entry-id") && v->type == REDIS_REPLY_STRING)
            chg_id_parse(v->str, v->len, &del);
        else if (!strcmp(k->str, "first-entry") && v->type == REDIS_REPLY_ARRAY && v->elements >= 1 &&
                 v->element[0]->type == REDIS_REPLY_STRING)
            have_first = chg_id_parse(v->element[0]->str, v->element[0]->len, &first) == 0;
    }
    chg_id at = c->xinfo_pos; /* the position when XINFO was sent: the reader may have gone on since */
    int past = chg_id_cmp(del, at) > 0 || (added > length && have_first && chg_id_cmp(first, at) > 0);
    if (!past || c->trimmed_past) return;
    char pos[CHG_POS_MAX], f[CHG_POS_MAX];
    chg_id_format(at, pos, sizeof pos);
    chg_id_format(first, f, sizeof f);
    c->trimmed_past = 1;
    LOG_E("changelog.trimmed_past", "key=%s position=%s oldest_left=%s msg=\"entries this replica had not applied "
          "were trimmed from the stream: its index misses those changes. Restart it from a copy of an up-to-date "
          "replica's index and index.chgpos (or raise changelog-maxlen)\"", c->key, pos, f);
}

static void check_trimmed(chg *c) {
    if (!rcl_is_up(c->wr)) return;
    const char *argv[] = {"XINFO", "STREAM", c->key};
    size_t len[] = {5, 6, strlen(c->key)};
    c->xinfo_pos = c->applied;
    rcl_command_argv(c->wr, 3, argv, len, on_xinfo, NULL);
}

static void on_ignore(rcl *r, redisReply *reply, int status, void *pd) {
    (void)pd;
    chg *c = rcl_ud(r);
    if (c && !c->closing && !status && reply->type == REDIS_REPLY_ERROR)
        LOG_W("changelog.redis_error", "error=%.*s", (int)reply->len, reply->str);
}

static void on_positions(rcl *r, redisReply *reply, int status, void *pd) {
    (void)pd;
    chg *c = rcl_ud(r);
    if (!c || c->closing || status || reply->type != REDIS_REPLY_ARRAY || !reply->elements) return;
    chg_id min = {UINT64_MAX, UINT64_MAX};
    for (size_t i = 0; i < reply->elements; i++) {
        chg_id p;
        const redisReply *v = reply->element[i];
        if (v->type == REDIS_REPLY_STRING && chg_id_parse(v->str, v->len, &p) == 0 && chg_id_cmp(p, min) < 0) min = p;
    }
    if (min.ms == UINT64_MAX || (!min.ms && !min.seq)) return;
    char m[CHG_POS_MAX];
    chg_id_format(min, m, sizeof m);
    const char *argv[] = {"XTRIM", c->key, "MINID", "~", m};
    size_t len[] = {5, strlen(c->key), 5, 1, strlen(m)};
    rcl_command_argv(c->wr, 5, argv, len, on_ignore, NULL);
}

static void checkpoint(chg *c) {
    const jrn *j = c->e->j;
    uint64_t durable = j ? jrn_durable_lsn(j) : UINT64_MAX;
    if (c->have_pend && c->pend_lsn <= durable) c->durable = c->pend, c->have_pend = 0;
    if (!c->have_pend && chg_id_cmp(c->applied, c->durable) > 0) {
        c->pend = c->applied;
        c->pend_lsn = j ? jrn_last_lsn(j) : 0;
        c->have_pend = 1;
        if (c->pend_lsn <= durable) c->durable = c->pend, c->have_pend = 0;
    }
}

static void write_pos(chg *c) {
    if (!c->pos_path || chg_id_cmp(c->durable, c->written) <= 0) return;
    if (chg_pos_write(c->pos_path, c->durable) == 0) c->written = c->durable;
    else LOG_E("changelog.position_write_failed", "path=%s error=%s", c->pos_path, strerror(errno));
}

/* The fleet's weights to their checkpoint with the position they hold
 * (c->applied: every entry up to it was applied). Unchanged weights just
 * move the position on (the sidecar line, not the table). */
static void model_checkpoint(chg *c) {
    if (!c->model_version || !c->model_path || !c->e->rank || chg_id_cmp(c->applied, c->model_saved) <= 0) return;
    char pos[CHG_POS_MAX], err[600];
    chg_id_format(c->applied, pos, sizeof pos);
    if (eng_rank_fleet_save(c->e->rank, c->model_path, pos, !c->model_dirty, err, sizeof err) < 0) {
        LOG_E("changelog.model_checkpoint_failed", "path=%s error=%s", c->model_path, err);
        return;
    }
    c->model_saved = c->applied;
    c->model_dirty = 0;
}

/* What this replica needs the stream to keep: its snapshot's position and
 * its model checkpoint's. */
static chg_id needed_from(const chg *c) {
    if (c->model_version && c->model_path && chg_id_cmp(c->model_saved, c->snap_saved) < 0) return c->model_saved;
    return c->snap_saved;
}

static const chg_obf_ent *obf_next(void *ud) {
    static chg_obf_ent e; /* one at a time, on the loop */
    chg_ent **at = ud;
    if (!*at) return NULL;
    obf_ent(*at, &e);
    *at = (*at)->next;
    return &e;
}

/* The outbox file follows the outbox: emptied with it, else told up to
 * which seq Redis confirmed; rewritten when it grew past its bound. */
static void obf_sync(chg *c) {
    if (!c->obf) return;
    if (!c->depth) {
        if (chg_obf_empty(c->obf) < 0) obf_failed(c, "truncate");
        return;
    }
    if (chg_obf_confirm(c->obf, c->head->seq - 1) < 0) obf_failed(c, "confirm");
    if (chg_obf_bytes(c->obf) > CHG_OUTBOX_FILE_COMPACT) {
        chg_ent *at = c->head;
        if (chg_obf_rewrite(c->obf, obf_next, &at) < 0) obf_failed(c, "rewrite");
    }
}

static void on_cron(uv_timer_t *t) {
    chg *c = t->data;
    uint64_t now = uv_now(c->loop);
    checkpoint(c);
    obf_sync(c);
    if (now - c->last_model_ckpt >= CHG_MODEL_CKPT_MS) {
        c->last_model_ckpt = now;
        model_checkpoint(c);
    }
    if (now - c->last_pos_write >= CHG_PUBLISH_EVERY_MS) {
        c->last_pos_write = now;
        write_pos(c);
    }
    flush(c);
    send_wait(c);
    read_next(c);
    if (!rcl_is_up(c->wr)) return;
    if (now - c->last_publish >= CHG_PUBLISH_EVERY_MS) {
        c->last_publish = now;
        char p[CHG_POS_MAX];
        chg_id_format(needed_from(c), p, sizeof p);
        const char *argv[] = {"HSET", c->poskey, c->id, p};
        size_t len[] = {4, strlen(c->poskey), strlen(c->id), strlen(p)};
        rcl_command_argv(c->wr, 4, argv, len, on_ignore, NULL);
    }
    if (now - c->last_trim >= CHG_TRIM_EVERY_MS) {
        c->last_trim = now;
        const char *argv[] = {"HVALS", c->poskey};
        size_t len[] = {5, strlen(c->poskey)};
        rcl_command_argv(c->wr, 2, argv, len, on_positions, NULL);
        check_trimmed(c);
    }
}

/* --- connections ---------------------------------------------------------------- */

static void on_state(rcl *r, int up, void *ud) {
    chg *c = ud;
    if (c->closing) return;
    int wr = r == c->wr;
    if (!up) {
        if (wr) requeue(c);
        if (c->up_logged) LOG_W("changelog.down", "key=%s connection=%s msg=\"changes are kept in the outbox "
                                "(changelog-outbox-max) and sent when Redis returns\"", c->key, wr ? "writer" : "reader");
        c->up_logged = 0;
        return;
    }
    if (wr) {
        flush(c);
        check_trimmed(c);
    } else {
        read_next(c);
    }
    if (!c->up_logged && c->rd && c->wr && rcl_is_up(c->rd) && rcl_is_up(c->wr)) {
        char pos[CHG_POS_MAX];
        chg_id_format(c->applied, pos, sizeof pos);
        c->up_logged = 1;
        LOG_I("changelog.up", "key=%s id=%s redis=%s position=%s outbox=%llu", c->key, c->id, rcl_addr(c->wr), pos,
              (unsigned long long)c->depth);
    }
}

/* Fleet learning when the ranker has a model: its checkpoint, if one of
 * this model version exists, else the model as loaded from position 0-0
 * (every update of its version in the stream applies); reading starts at
 * the lower of the index's and the model's positions. */
static int model_start(chg *c, char *err, size_t errlen) {
    eng_rank *R = c->e->rank;
    if (!R || !eng_rank_has_model(R)) return 0;
    c->model_version = eng_rank_fleet_start(R, chg_local_model, c);
    if (!c->model_version) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char pos[CHG_POS_MAX];
    int rc = c->model_path ? eng_rank_fleet_load(R, c->model_path, pos, sizeof pos, err, errlen) : 0;
    if (rc < 0) return -1;
    chg_id mp = {0, 0};
    if (rc > 0 && chg_id_parse(pos, strlen(pos), &mp) < 0) {
        snprintf(err, errlen, "%s: bad position '%s'", c->model_path, pos);
        return -1;
    }
    c->model_from = c->model_saved = mp;
    if (chg_id_cmp(mp, c->applied) < 0) c->applied = mp; /* read from there; key entries up to key_from are skipped */
    chg_id_format(mp, pos, sizeof pos);
    LOG_I("changelog.model", "version=%016" PRIx64 " position=%s from=%s", c->model_version, pos,
          rc > 0 ? "checkpoint" : "model_file");
    return 0;
}

static int obf_requeue(void *ud, const chg_obf_ent *e) {
    chg *c = ud;
    chg_ent *x = ent_new(c, e->op, e->klen, e->dlen, e->nlen, e->plen);
    if (!x) return -1;
    x->t_us = e->t_us;
    x->score = e->score;
    char *p = x->data;
    memcpy(p, e->key, e->klen);
    memcpy(p += e->klen, e->disp, e->dlen);
    memcpy(p += e->dlen, e->name, e->nlen);
    memcpy(p + e->nlen, e->pay, e->plen);
    enqueue(c, x);
    return 0;
}

/* The changes a previous run acknowledged and Redis never confirmed go first
 * (changelog_outbox.h). */
static int obf_start(chg *c, const char *path, char *err, size_t errlen) {
    c->recovering = 1;
    c->obf = chg_obf_open(path, obf_requeue, c, &c->obf_recovered, err, errlen);
    c->recovering = 0;
    if (!c->obf) return -1;
    if (c->obf_recovered)
        LOG_W("changelog.outbox_recovered", "path=%s changes=%llu msg=\"changes acknowledged before the last exit "
              "and not confirmed by Redis: sent now\"", path, (unsigned long long)c->obf_recovered);
    return 0;
}

static rcl *connect_one(chg *c, const char *target, uint32_t io_ms, char *err, size_t errlen) {
    rcl_opts ro;
    char buf[RCL_TARGET_BUF];
    rcl_opts_default(&ro);
    if (rcl_parse_target(target, &ro, buf, sizeof buf) < 0) {
        snprintf(err, errlen, "bad --redis '%s'", target);
        return NULL;
    }
    ro.io_timeout_ms = io_ms;
    ro.on_state = on_state;
    ro.ud = c;
    rcl *r = NULL;
    if (rcl_new(c->loop, &ro, &r, err, errlen) < 0) return NULL;
    return r;
}

static void free_chg(chg *c) {
    while (c->head) {
        chg_ent *x = c->head;
        c->head = x->next;
        qfree(x);
    }
    qfree(c->pos_path);
    qfree(c->snap_path);
    qfree(c->model_path);
    chg_obf_close(c->obf);
    qfree(c);
}

static void on_closed(void *ud) {
    chg *c = ud;
    if (--c->open == 0) free_chg(c);
}

static void on_timer_closed(uv_handle_t *h) { on_closed(h->data); }

chg *chg_new(uv_loop_t *loop, eng *e, const chg_opts *o, char *err, size_t errlen) {
    if (!o->key || !*o->key || strlen(o->key) > CHG_MAX_KEY || !o->id || !*o->id || strlen(o->id) > CHG_MAX_ID) {
        snprintf(err, errlen, "changelog key (1..%d bytes) and id (1..%d bytes) needed", CHG_MAX_KEY, CHG_MAX_ID);
        return NULL;
    }
    chg *c = qcalloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->loop = loop;
    c->e = e;
    snprintf(c->key, sizeof c->key, "%s", o->key);
    snprintf(c->poskey, sizeof c->poskey, "%s:positions", o->key);
    snprintf(c->id, sizeof c->id, "%s", o->id);
    c->outbox_max = o->outbox_max;
    c->maxlen = o->maxlen;
    c->wait_replicas = o->wait_replicas;
    snprintf(c->maxlen_s, sizeof c->maxlen_s, "%llu", (unsigned long long)o->maxlen);
    snprintf(c->wait_s, sizeof c->wait_s, "%llu", (unsigned long long)o->wait_replicas);
    c->pos_path = dupstr(o->pos_path);
    c->snap_path = dupstr(o->snap_path);
    c->model_path = dupstr(o->model_path);
    if ((o->pos_path && !c->pos_path) || (o->snap_path && !c->snap_path) || (o->model_path && !c->model_path)) {
        snprintf(err, errlen, "out of memory");
        free_chg(c);
        return NULL;
    }
    /* resume after what the loaded state holds (changelog.h POSITIONS) */
    chg_id pj = {0, 0}, ps = {0, 0};
    int hj = c->pos_path && chg_pos_read(c->pos_path, &pj) == 0;
    int hs = c->snap_path && chg_pos_read(c->snap_path, &ps) == 0;
    c->applied = hj && chg_id_cmp(pj, ps) > 0 ? pj : ps;
    c->durable = c->written = c->applied;
    c->snap_saved = c->snap_fork = ps;
    char pos[CHG_POS_MAX];
    chg_id_format(c->applied, pos, sizeof pos);
    LOG_I("changelog.resume", "key=%s id=%s position=%s from=%s", c->key, c->id, pos,
          hj && chg_id_cmp(pj, ps) > 0 ? "journal" : hs ? "snapshot" : "stream_start");
    c->key_from = c->applied;
    if (model_start(c, err, errlen) < 0 || (o->outbox_path && obf_start(c, o->outbox_path, err, errlen) < 0)) {
        free_chg(c);
        return NULL;
    }
    c->wr = connect_one(c, o->redis, RCL_DEFAULT_IO_TIMEOUT_MS, err, errlen);
    if (!c->wr) {
        free_chg(c);
        return NULL;
    }
    c->rd = connect_one(c, o->redis, CHG_BLOCK_MS + RCL_DEFAULT_IO_TIMEOUT_MS, err, errlen);
    if (!c->rd) {
        c->open = 1;
        c->closing = 1;
        rcl_close(c->wr, on_closed, c);
        return NULL;
    }
    uv_timer_init(loop, &c->cron);
    c->cron.data = c;
    uv_timer_start(&c->cron, on_cron, CHG_CRON_MS, CHG_CRON_MS);
    c->open = 3;
    return c;
}

void chg_close(chg *c) {
    if (!c || c->closing) return;
    checkpoint(c);
    write_pos(c);
    model_checkpoint(c);
    obf_sync(c);
    if (c->depth)
        LOG_W("changelog.unconfirmed", "outbox=%llu msg=\"changes Redis did not confirm at exit (not sent, or no "
              "Redis replica had them for changelog-wait-replicas): %s\"", (unsigned long long)c->depth,
              c->obf ? "the outbox file keeps them; the next start sends them" : "without --journal they are lost");
    c->closing = 1;
    uv_timer_stop(&c->cron);
    uv_close((uv_handle_t *)&c->cron, on_timer_closed);
    rcl_close(c->rd, on_closed, c);
    rcl_close(c->wr, on_closed, c);
}

void chg_snapshot_forked(chg *c) { c->snap_fork = c->applied; }

void chg_snapshot_saved(chg *c, int ok) {
    if (!ok || !c->snap_path) return;
    if (chg_pos_write(c->snap_path, c->snap_fork) < 0)
        LOG_E("changelog.position_write_failed", "path=%s error=%s", c->snap_path, strerror(errno));
    else c->snap_saved = c->snap_fork;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void chg_stats(const chg *c, eng_stats_snap *snap) {
    uint32_t s[CHG_LAG_SAMPLES];
    size_t n = c->lag_n < CHG_LAG_SAMPLES ? c->lag_n : CHG_LAG_SAMPLES;
    memcpy(s, c->lag_us, n * sizeof s[0]);
    qsort(s, n, sizeof s[0], cmp_u32);
    stats_add_u(snap, "changelog_up", "qac_changelog_up", "gauge", NULL, rcl_is_up(c->rd) && rcl_is_up(c->wr));
    stats_add_u(snap, "changelog_applied", "qac_changelog_entries_total", "counter", "result=\"applied\"",
                c->applied_n);
    stats_add_u(snap, "changelog_unchanged", "qac_changelog_entries_total", "counter", "result=\"unchanged\"",
                c->unchanged);
    stats_add_u(snap, "changelog_skipped", "qac_changelog_entries_total", "counter", "result=\"skipped\"", c->skipped);
    stats_add_u(snap, "changelog_bad_entries", "qac_changelog_entries_total", "counter", "result=\"bad\"", c->bad);
    stats_add_u(snap, "changelog_sent", "qac_changelog_sent_total", "counter", NULL, c->sent);
    stats_add_u(snap, "changelog_outbox", "qac_changelog_outbox", "gauge", NULL, c->depth);
    stats_add_u(snap, "changelog_outbox_overflow", "qac_changelog_outbox_overflow_total", "counter", NULL,
                c->overflow);
    stats_add_u(snap, "changelog_unreplicated", "qac_changelog_unreplicated_total", "counter", NULL,
                c->unreplicated);
    stats_add_u(snap, "changelog_errors", "qac_changelog_errors_total", "counter", NULL,
                c->send_errors + c->read_errors + c->apply_errors);
    stats_add_u(snap, "changelog_lag_entries", "qac_changelog_lag_entries", "gauge", NULL, c->lag_entries);
    stats_add_u(snap, "changelog_lag_ms", "qac_changelog_lag_ms", "gauge", NULL, c->lag_ms);
    stats_add_u(snap, "changelog_lag_p50_us", "qac_changelog_lag_us", "gauge", "q=\"0.5\"", n ? s[n / 2] : 0);
    stats_add_u(snap, "changelog_lag_p99_us", "qac_changelog_lag_us", "gauge", "q=\"0.99\"",
                n ? s[(n * 99) / 100] : 0);
    uint64_t mv = c->model_version && c->e->rank ? eng_rank_fleet_version(c->e->rank) : c->model_version;
    stats_add_u(snap, "changelog_model_version", "qac_changelog_model_version", "gauge", NULL, mv >> 11); /* RELOAD may change it */
    stats_add_u(snap, "changelog_model_applied", "qac_changelog_model_updates_total", "counter",
                "result=\"applied\"", c->model_applied);
    stats_add_u(snap, "changelog_model_foreign", "qac_changelog_model_updates_total", "counter",
                "result=\"other_version\"", c->model_foreign);
    stats_add_u(snap, "changelog_model_bad", "qac_changelog_model_updates_total", "counter", "result=\"bad\"",
                c->model_bad);
    stats_add_u(snap, "changelog_model_lost", "qac_changelog_model_updates_total", "counter",
                "result=\"not_sent\"", c->model_lost);
    stats_add_u(snap, "changelog_outbox_recovered", "qac_changelog_outbox_recovered_total", "counter", NULL,
                c->obf_recovered);
    stats_add_u(snap, "changelog_outbox_file_errors", "qac_changelog_outbox_file_errors_total", "counter", NULL,
                c->obf_errors);
    stats_add_u(snap, "changelog_trimmed_past", "qac_changelog_trimmed_past", "gauge", NULL, (uint64_t)c->trimmed_past);
}
