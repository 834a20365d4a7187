/* cmd.c -- the commands of the text/RESP protocol (see cmd.h, docs/PROTOCOL.md):
 * the engine's operations on the index (eng_complete, eng_accept,
 * eng_apply_change: the HTTP routes and the change log call them too), the
 * index commands over them (COMPLETE, ADD, INCR, DEL, GET, ACCEPT), the
 * command table and eng_exec. The connection commands (PING, AUTH, HELLO,
 * CLIENT, ...) are in cmd_conn.c, the administration commands (STATS, SAVE,
 * RELOAD, CONFIG) in cmd_admin.c, RediSearch's in cmd_sug.c.
 *
 * One table maps a case-insensitive name to a handler, its argument count
 * range, and its HELP text. Handlers validate everything they read (UTF-8,
 * control characters, lengths, numbers) before touching the trie, encode
 * their reply with proto_reply_*, and return 0 or ENG_ERR(code) with a
 * message; eng_exec() turns an ENG_ERR into the error reply and counts it.
 *
 * Access control: with requirepass set, eng_exec answers NOAUTH for the
 * commands eng_cmd_needs_auth names until the connection's AUTH succeeded
 * (e->client->authed, the server's per-connection state), before looking at
 * their arguments.
 *
 * Hot path (COMPLETE): normalization into e->norm, trie_topk into e->hits
 * (trie_fuzzy_topk_bounded into e->fhits when the request allows edits: FUZZY
 * or the fuzzy setting; at most fuzzy-max-work units, e->fuzzy_cut says when
 * it was cut), encoding straight into the connection's output buffer. No
 * allocation, no printf (scores of integral value are formatted by hand).
 */
#include "engine/cmd.h"
#include "engine/changelog.h"

#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "engine/cmd_internal.h"
#include "engine/dict.h"
#include "engine/infix.h"
#include "engine/store/journal.h"
#include "engine/rank/ranker.h"
#include "text/norm.h"

void eng_init(eng *e, trie *t, const srv_config *cfg) {
    memset(e, 0, sizeof *e);
    e->t = t;
    e->cfg = cfg;
    e->client = &e->self;
    stats_init(&e->stats);
    e->stats.auth_required = (uint64_t)eng_auth_required(e);
}

int eng_auth_required(const eng *e) { return e->cfg && e->cfg->requirepass && e->cfg->requirepass[0]; }

int eng_cmd_needs_auth(int cmd) {
    switch (cmd) {
    case CMD_ADD: case CMD_INCR: case CMD_DEL: case CMD_ACCEPT: case CMD_SAVE: case CMD_RELOAD:
    case CMD_STATS: case CMD_CONFIG: case CMD_SUGADD: case CMD_SUGDEL: case CMD_FLUSHALL:
        return 1;
    default:
        return 0;
    }
}

int eng_auth_check(eng *e, const char *pw, size_t len) {
    if (!eng_auth_required(e)) return 0;
    if (qsecret_eq(e->cfg->requirepass, pw, len)) {
        e->stats.auth_ok++;
        return 1;
    }
    e->stats.auth_failures++;
    return 0;
}

static int norm_err(int rc, const char **msg) {
    switch (rc) {
    case NORM_EUTF8: *msg = "invalid UTF-8"; return ENG_ERR(ERR_UTF8);
    case NORM_ETOOLONG: *msg = "query too long (over 512 bytes normalized)"; return ENG_ERR(ERR_TOOLONG);
    case NORM_ECONTROL: *msg = "control character in text"; return ENG_ERR(ERR_SYNTAX);
    default: *msg = "out of memory"; return ENG_ERR(ERR_NOMEM);
    }
}

int eng_check_id(const char *s, size_t len, const char **msg) {
    if (len == 0) {
        *msg = "empty id";
        return ENG_ERR(ERR_ARGS);
    }
    if (len > SRV_MAX_ID_LEN) {
        *msg = "id over 128 bytes";
        return ENG_ERR(ERR_TOOLONG);
    }
    if (!qutf8_valid(s, len)) {
        *msg = "invalid UTF-8 in id";
        return ENG_ERR(ERR_UTF8);
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            *msg = "control character in id";
            return ENG_ERR(ERR_SYNTAX);
        }
    return 0;
}

static int check_ctx(eng *e, const eng_ctx *ctx, const char **msg) {
    int rc;
    if (ctx->user && (rc = eng_check_id(ctx->user, ctx->user_len, msg)) < 0) return rc;
    if (ctx->session && (rc = eng_check_id(ctx->session, ctx->session_len, msg)) < 0) return rc;
    e->norm2len = -1;
    if (ctx->prefix) {
        rc = norm_prefix(ctx->prefix, ctx->prefix_len, e->norm2, sizeof e->norm2);
        if (rc < 0 && rc != NORM_ETOOLONG) return norm_err(rc, msg);
        if (rc >= 0) e->norm2len = rc;
    }
    if (ctx->rank != -1 && (ctx->rank < 0 || ctx->rank > TRIE_MAX_K)) {
        *msg = "RANK must be 0..100 (0: typed, 1..100: position picked)";
        return ENG_ERR(ERR_ARGS);
    }
    return 0;
}

int eng_complete_prepare(eng *e, const char *prefix, size_t len, unsigned k, const eng_ctx *ctx, const char **msg) {
    if (k < 1 || k > e->cfg->max_k) {
        *msg = "k out of range (1..max-k)";
        return ENG_ERR(ERR_LIMIT);
    }
    int rc;
    e->qt = NULL;
    if (ctx && (rc = check_ctx(e, ctx, msg)) < 0) return rc;
    if (ctx && ctx->user) e->stats.complete_user++;
    if (ctx && ctx->session) e->stats.complete_session++;
    if (ctx && ctx->dict) return eng_dict_prepare(e, prefix, len, ctx, msg);
    int n = norm_prefix(prefix, len, e->norm, sizeof e->norm);
    if (n == NORM_ETOOLONG) { /* longer than any key: nothing can match */
        e->normlen = 0;
        return 1;
    }
    if (n < 0) return norm_err(n, msg);
    e->normlen = (size_t)n;
    return 0;
}

unsigned eng_fuzzy_edits(const eng *e, const eng_ctx *ctx) {
    int f = ctx && ctx->fuzzy >= 0 ? ctx->fuzzy : e->cfg->fuzzy_mode;
    if (f != SRV_FUZZY_AUTO) return f > 0 ? (unsigned)f : 0;
    return trie_fuzzy_auto_edits(e->norm, e->normlen, e->cfg->fuzzy_auto_one, e->cfg->fuzzy_auto_two);
}

unsigned eng_fuzzy_word_edits(const eng *e, const eng_ctx *ctx) {
    int f = ctx && ctx->fuzzy >= 0 ? ctx->fuzzy : e->cfg->fuzzy_mode;
    if (f != SRV_FUZZY_AUTO) return f > 0 ? (unsigned)f : 0;
    size_t st, wl = trie_words_last_word(e->norm, e->normlen, &st);
    return trie_fuzzy_auto_edits(e->norm + st, wl, e->cfg->fuzzy_auto_one, e->cfg->fuzzy_auto_two);
}

int eng_complete(eng *e, const char *prefix, size_t len, unsigned k, const eng_ctx *ctx, const char **msg) {
    e->fuzzy_used = e->infix_used = 0;
    e->fuzzy_cut = 0;
    int rc = eng_complete_prepare(e, prefix, len, k, ctx, msg);
    if (rc != 0) return rc < 0 ? rc : 0;
    return eng_complete_search(e, k, ctx, msg);
}

int eng_complete_search(eng *e, unsigned k, const eng_ctx *ctx, const char **msg) {
    int rc;
    e->fuzzy_used = e->infix_used = 0;
    e->fuzzy_cut = 0;
    if (ctx && ctx->infix) return eng_complete_infix(e, k, ctx, msg);
    unsigned d = eng_fuzzy_edits(e, ctx);
    if (d) {
        e->stats.complete_fuzzy++;
        trie_fuzzy_info fi;
        rc = trie_fuzzy_topk_bounded(e->qt ? e->qt : e->t, e->norm, e->normlen, d,
                                     e->cfg->fuzzy_first_any ? TRIE_FUZZY_FIRST_ANY : 0, k,
                                     e->cfg->fuzzy_max_work, e->fhits, &fi);
        if (rc >= 0) e->fuzzy_used = 1;
        if (rc >= 0 && fi.cut) {
            e->fuzzy_cut = fi.cut;
            e->stats.complete_fuzzy_truncated++;
        }
    } else {
        rc = trie_topk(e->qt ? e->qt : e->t, e->norm, e->normlen, k, e->hits);
    }
    if (rc < 0) {
        *msg = trie_strerror(rc);
        return ENG_ERR(ERR_ARGS);
    }
    return rc;
}

int eng_wants_rank(const eng *e, const eng_ctx *ctx) {
    if (!e->rank) return 0;
    if (ctx && (ctx->user || ctx->session)) return 1;
    return eng_rank_has_model(e->rank);
}

int eng_rank_takes(eng *e, const eng_ctx *ctx, unsigned k) {
    (void)k;
    return !(ctx && ctx->infix && !e->words);
}

void eng_rank_match_of(eng *e, const eng_ctx *ctx, eng_rank_match *m) {
    *m = (eng_rank_match){eng_fuzzy_edits(e, ctx), e->cfg->fuzzy_first_any ? TRIE_FUZZY_FIRST_ANY : 0,
                          e->cfg->fuzzy_max_work, ctx && ctx->infix && e->words, 0};
    if (m->infix) {
        m->word_edits = eng_fuzzy_word_edits(e, ctx);
        eng_words_limit(e); /* the ranker searches the same index */
    }
    if (m->edits) e->stats.complete_fuzzy++; /* counted as the unranked path counts them */
    if (m->infix) e->stats.complete_infix++;
}

void eng_rank_count_cuts(eng *e, const eng_rank_result *res) {
    e->stats.complete_fuzzy_truncated += res->fuzzy_cut != 0;
    e->stats.complete_infix_truncated += res->infix_cut != 0;
}

int eng_reply_ranked(const eng *e, int kind, int ws, const char *np, size_t nplen, const eng_rank_result *res,
                     qbuf *out) {
    int we = ws >> 1 & 1, wm = ws >> 2 & 1, wi = ws >> 3 & 1;
    ws &= 1;
    if (proto_reply_list_head(out, kind, (uint64_t)res->n * (kind == PROTO_RESP ? 1 + ws + we + wm : 1)) < 0) return -1;
    for (size_t i = 0; i < res->n; i++) {
        const rank_cand *c = &res->c[i];
        trie_hit h;
        const char *d = c->q;
        size_t dl = c->len;
        double sc = 0;
        if (trie_get(e->t, c->q, c->len, &h)) d = trie_hit_display(&h), dl = h.displen, sc = h.score;
        /* a typo match's edits, negated in the class the work limit cut; 0 for
         * the others (typed right, or infix) */
        int ed = c->edits && c->edits == res->fuzzy_cut ? -(int)c->edits : (int)c->edits;
        if (proto_reply_suggestion(out, kind, d, dl, sc, ws || kind == PROTO_TEXT, we ? ed : PROTO_NO_EDITS) < 0)
            return -1;
        if (wm) { /* the highlight, as srv__http_write_ranked shows it */
            char buf[PROTO_MATCH_MAX];
            uint32_t me, s0[TRIE_WORDS_MAX_TYPED], e0[TRIE_WORDS_MAX_TYPED];
            int nw = eng_cand_highlight(e, c->q, c->len, c->edits, rank_cand_other_words(c), d, dl, np, nplen, wi, &me,
                                        s0, e0, TRIE_WORDS_MAX_TYPED);
            if (proto_reply_match(out, kind, buf, proto_match_fmt(buf, me, nw, s0, e0)) < 0) return -1;
        }
    }
    return 0;
}

static int trie_err(int rc, const char **msg) {
    *msg = trie_strerror(rc);
    switch (rc) {
    case TRIE_ENOMEM: return ENG_ERR(ERR_NOMEM);
    case TRIE_ETOOLONG: return ENG_ERR(ERR_TOOLONG);
    case TRIE_ENOTFOUND: return ENG_ERR(ERR_NOTFOUND);
    case TRIE_EFULL: return ENG_ERR(ERR_LIMIT);
    default: return ENG_ERR(ERR_ARGS);
    }
}

/* Normalizes a query into e->norm. */
static int key_of(eng *e, const char *q, size_t len, const char **msg) {
    int n = norm_key(q, len, e->norm, sizeof e->norm);
    if (n < 0) return norm_err(n, msg);
    if (n == 0) {
        *msg = "empty query";
        return ENG_ERR(ERR_ARGS);
    }
    if (n > TRIE_MAX_KEY) return norm_err(NORM_ETOOLONG, msg);
    e->normlen = (size_t)n;
    return 0;
}

/* The display form: the query trimmed, white-space controls made spaces. */
static int display_of(eng *e, const char *q, size_t len, size_t *dlen, const char **msg) {
    while (len && (q[0] == ' ' || (q[0] >= '\t' && q[0] <= '\r'))) q++, len--;
    while (len && (q[len - 1] == ' ' || (q[len - 1] >= '\t' && q[len - 1] <= '\r'))) len--;
    if (len > TRIE_MAX_KEY) {
        *msg = "display form over 512 bytes";
        return ENG_ERR(ERR_TOOLONG);
    }
    for (size_t i = 0; i < len; i++) e->disp[i] = (q[i] >= '\t' && q[i] <= '\r') ? ' ' : q[i];
    *dlen = len;
    return 0;
}

/* Before a change: the journal must be writable (a failed write is retried
 * here first) and have room for one record, so that journaling after the
 * trie changed cannot fail. */
static int change_begin(eng *e, const char **msg) {
    if (!e->j) return 0;
    if (jrn_error(e->j) && !strcmp(jrn_error_op(e->j), "write")) jrn_write(e->j);
    if (jrn_error(e->j)) {
        snprintf(e->errbuf, sizeof e->errbuf, "journal %s failed: %s (changes are refused until it works)",
                 jrn_error_op(e->j), strerror(jrn_error(e->j)));
        *msg = e->errbuf;
        return ENG_ERR(ERR_IO);
    }
    if (jrn_reserve(e->j) < 0) {
        *msg = "out of memory";
        return ENG_ERR(ERR_NOMEM);
    }
    return 0;
}

int cmd_change_begin(eng *e, const char **msg) { return change_begin(e, msg); }

void cmd_change_count(eng *e) {
    e->stats.changes_total++;
    if (e->stats.changes_since_save++ == 0) e->stats.dirty_since_ms = qtime_ns() / 1000000;
}

/* After a change to e->norm succeeded: journal the key's new state, and
 * queue it for the change log unless it came from there (from_log). */
static void change_done(eng *e, int deleted, int from_log) {
    cmd_change_count(e);
    trie_hit h;
    if (!deleted && !trie_get(e->t, e->norm, e->normlen, &h)) return; /* cannot happen: it was just set */
    if (e->rank) eng_rank_changed(e->rank, e->norm, e->normlen, deleted, deleted ? 0 : h.score); /* ranker_gen.c */
    if (e->chg && !from_log)
        chg_local_change(e->chg, e->norm, e->normlen, deleted ? NULL : trie_hit_display(&h), deleted ? 0 : h.displen,
                         deleted ? 0 : h.score);
    if (!e->j) return;
    uint64_t lsn;
    if (deleted) lsn = jrn_add_del(e->j, e->norm, e->normlen);
    else lsn = jrn_add_set(e->j, e->norm, e->normlen, trie_hit_display(&h), h.displen, h.score);
    if (lsn) e->wait_lsn = lsn;
    else LOG_E("journal.encode_failed", "msg=\"reserved space missing\"");
}

int eng_apply_change(eng *e, int del, const char *key, size_t klen, const char *disp, size_t dlen, double score,
                     const char **msg) {
    int rc = key_of(e, key, klen, msg);
    if (rc < 0) return rc;
    if (e->normlen != klen || memcmp(e->norm, key, klen)) {
        *msg = "key is not in normalized form";
        return ENG_ERR(ERR_ARGS);
    }
    trie_hit h;
    int exists = trie_get(e->t, e->norm, e->normlen, &h);
    if (del ? !exists
            : exists && h.score == score && h.displen == dlen && !memcmp(trie_hit_display(&h), disp, dlen))
        return 0;
    if ((rc = change_begin(e, msg)) < 0) return rc;
    if (del) {
        uint32_t id = eng_words_before_del(e);
        if ((rc = trie_del(e->t, e->norm, e->normlen)) < 0) return trie_err(rc, msg);
        eng_words_after_del(e, id);
    } else {
        uint64_t before = trie_count(e->t);
        if ((rc = trie_set(e->t, e->norm, e->normlen, disp, dlen, score, NULL)) < 0) return trie_err(rc, msg);
        eng_words_after_set(e, before);
    }
    change_done(e, del, 1);
    return 1;
}

/* The guard's actor for an ACCEPT: its USER, else the connection's address. */
static size_t accept_actor(const eng *e, const eng_ctx *ctx, char *buf, size_t cap) {
    int n = ctx && ctx->user ? snprintf(buf, cap, "u:%.*s", (int)ctx->user_len, ctx->user)
                             : snprintf(buf, cap, "a:%s", e->client->addr);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

int eng_accept(eng *e, const char *query, size_t len, const eng_ctx *ctx, double *score, const char **msg) {
    int rc = key_of(e, query, len, msg);
    if (rc < 0) return rc;
    if (ctx && (rc = check_ctx(e, ctx, msg)) < 0) return rc;
    if (ctx) {
        e->stats.accept_user += ctx->user != NULL;
        e->stats.accept_session += ctx->session != NULL;
        e->stats.accept_prefix += ctx->prefix != NULL;
        e->stats.accept_rank += ctx->rank != -1;
    }
    size_t dlen = 0;
    int exists = trie_get(e->t, e->norm, e->normlen, NULL);
    if (!exists && (rc = display_of(e, query, len, &dlen, msg)) < 0) return rc;
    if ((rc = change_begin(e, msg)) < 0) return rc;
    guard_verdict v = {1, 1};
    if (e->guard) {
        char actor[SRV_MAX_ID_LEN + ENG_ADDR_MAX + 4];
        size_t alen = accept_actor(e, ctx, actor, sizeof actor);
        guard_rc g = guard_accept(e->guard, &e->client->accept, actor, alen, e->norm, e->normlen,
                                  (int64_t)(qtime_ns() / 1000000), &v);
        if (g != GUARD_OK) {
            snprintf(e->errbuf, sizeof e->errbuf, "%s: too many ACCEPTs (%s %llu/s, burst %llu); retry later",
                     g == GUARD_LIMIT_ACTOR ? (ctx && ctx->user ? "this user" : "this client address")
                                            : "this connection",
                     g == GUARD_LIMIT_ACTOR ? "accept-user-rate" : "accept-conn-rate",
                     (unsigned long long)(g == GUARD_LIMIT_ACTOR ? guard_options(e->guard)->user_rate
                                                                 : guard_options(e->guard)->conn_rate),
                     (unsigned long long)(g == GUARD_LIMIT_ACTOR ? guard_options(e->guard)->user_burst
                                                                 : guard_options(e->guard)->conn_burst));
            *msg = e->errbuf;
            return ENG_ERR(ERR_RATE);
        }
    }
    if (v.credit || !exists) { /* a repeat of a query DELeted since still puts it back */
        uint64_t before = trie_count(e->t);
        rc = trie_incr(e->t, e->norm, e->normlen, exists ? NULL : e->disp, dlen, 1.0, score);
        if (rc < 0) return trie_err(rc, msg);
        eng_words_after_set(e, before);
        change_done(e, 0, 0);
    } else trie_score(e->t, e->norm, e->normlen, score);
    /* history (Redis or in-process) and online learning on the impression
     * of PREFIX; RANK is only counted: the candidates are recomputed */
    if (e->rank && ctx && ctx->user)
        eng_rank_accept(e->rank, e->norm, e->normlen, ctx->user, ctx->user_len, ctx->session, ctx->session_len,
                        e->norm2len >= 0 ? e->norm2 : NULL, e->norm2len >= 0 ? (size_t)e->norm2len : 0, v.learn);
    return 0;
}

/* --- option parsing --------------------------------------------------------- */

static int parse_int_arg(const proto_arg *a, int64_t *v) { return qparse_i64(a->p, a->len, v); }

/* Parses [LIMIT k] [USER id] [SESSION id] [PREFIX p] [RANK r] [WITHSCORES]
 * from argv[from..argc); `allowed` is a bitmask of the options the command takes. */
enum { O_LIMIT = 1, O_USER = 2, O_SESSION = 4, O_PREFIX = 8, O_RANK = 16, O_WITHSCORES = 32, O_FUZZY = 64,
       O_WITHEDITS = 128, O_INFIX = 256, O_DICT = 512, O_WITHMATCH = 1024 };

static int parse_opts(int argc, const proto_arg *argv, int from, int allowed, eng_ctx *ctx, int64_t *k,
                      int *withscores, const char **msg) {
    for (int i = from; i < argc; i++) {
        const proto_arg *a = &argv[i];
        int have_val = i + 1 < argc;
        if ((allowed & O_WITHSCORES) && arg_is(a, "WITHSCORES")) {
            *withscores |= 1;
        } else if ((allowed & O_WITHEDITS) && arg_is(a, "WITHEDITS")) {
            *withscores |= 2;
        } else if ((allowed & O_WITHMATCH) && arg_is(a, "WITHMATCH")) {
            *withscores |= 4;
        } else if ((allowed & O_INFIX) && arg_is(a, "INFIX")) {
            if (ctx->infix) {
                *msg = "INFIX given twice";
                return ENG_ERR(ERR_ARGS);
            }
            ctx->infix = 1;
        } else if ((allowed & O_FUZZY) && arg_is(a, "FUZZY")) {
            if (ctx->fuzzy >= 0) {
                *msg = "FUZZY given twice";
                return ENG_ERR(ERR_ARGS);
            }
            if (!have_val || (ctx->fuzzy = config_fuzzy_parse(argv[i + 1].p, argv[i + 1].len)) < 0) {
                *msg = "FUZZY wants 0, 1, 2 or AUTO";
                return ENG_ERR(ERR_ARGS);
            }
            i++;
        } else if ((allowed & O_LIMIT) && arg_is(a, "LIMIT") && have_val) {
            if (parse_int_arg(&argv[++i], k) < 0) {
                *msg = "LIMIT needs an integer";
                return ENG_ERR(ERR_ARGS);
            }
            if (*k < 1 || *k > TRIE_MAX_K) {
                *msg = "LIMIT out of range (1..max-k)";
                return ENG_ERR(ERR_LIMIT);
            }
        } else if ((allowed & O_DICT) && arg_is(a, "DICT") && have_val) {
            ctx->dict = argv[++i].p, ctx->dict_len = argv[i].len;
        } else if ((allowed & O_USER) && arg_is(a, "USER") && have_val) {
            ctx->user = argv[++i].p, ctx->user_len = argv[i].len;
        } else if ((allowed & O_SESSION) && arg_is(a, "SESSION") && have_val) {
            ctx->session = argv[++i].p, ctx->session_len = argv[i].len;
        } else if ((allowed & O_PREFIX) && arg_is(a, "PREFIX") && have_val) {
            ctx->prefix = argv[++i].p, ctx->prefix_len = argv[i].len;
        } else if ((allowed & O_RANK) && arg_is(a, "RANK") && have_val) {
            if (parse_int_arg(&argv[++i], &ctx->rank) < 0 || ctx->rank < 0) {
                *msg = "RANK needs an integer 0..100";
                return ENG_ERR(ERR_ARGS);
            }
        } else {
            *msg = have_val || (allowed & O_WITHSCORES) ? "unknown option or missing value"
                                                        : "option without a value";
            return ENG_ERR(ERR_ARGS);
        }
    }
    return 0;
}

/* --- handlers ------------------------------------------------------------------- */

/* COMPLETE through the ranker; e->norm holds the prefix. */
/* ws: bit 0 WITHSCORES, bit 1 WITHEDITS, bit 2 WITHMATCH (eng_reply_ranked). */
static int ranked(cmd_call *c, const eng_ctx *ctx, unsigned k, int ws) {
    eng *e = c->e;
    if (e->rank_fn) {
        int deferred = 0;
        OOM(e->rank_fn(e->rank_ud, c->kind, ws, k, ctx, c->out, &deferred));
        if (deferred) c->flags |= ENG_DEFER_RANK;
        return 0;
    }
    eng_rank_pending *h;
    eng_rank_result res;
    eng_rank_match m;
    eng_rank_match_of(e, ctx, &m);
    eng_rank_set_words(e->rank, &e->words);
    if (eng_rank_complete(e->rank, e->norm, e->normlen, ctx->user, ctx->user_len, ctx->session, ctx->session_len,
                          k, &m, &res, NULL, NULL, &h) == 0) {
        eng_rank_cancel(h); /* no one to answer later: plain trie order now */
        memset(&res, 0, sizeof res);
        int n = trie_topk(e->t, e->norm, e->normlen, k, e->hits);
        if (n < 0) n = 0;
        res.n = (size_t)n;
        for (int i = 0; i < n; i++)
            res.c[i] = (rank_cand){trie_hit_key(&e->hits[i]), (uint32_t)e->hits[i].keylen, 0, e->hits[i].score, 0, 0, 0, 0, 0, 0, 0, 0};
    }
    eng_rank_count_cuts(e, &res);
    OOM(eng_reply_ranked(e, c->kind, ws, e->norm, e->normlen, &res, c->out));
    return 0;
}

static int h_complete(cmd_call *c) {
    eng_ctx ctx = {.rank = -1, .fuzzy = -1};
    int64_t k = SRV_DEFAULT_K;
    int ws = 0; /* bit 0: WITHSCORES, bit 1: WITHEDITS, bit 2: WITHMATCH */
    int rc = parse_opts(c->argc, c->argv, 2,
                        O_LIMIT | O_USER | O_SESSION | O_WITHSCORES | O_FUZZY | O_WITHEDITS | O_INFIX | O_DICT |
                            O_WITHMATCH,
                        &ctx, &k, &ws, &c->msg);
    if (rc < 0) return rc;
    if (k > (int64_t)c->e->cfg->max_k) {
        c->msg = "LIMIT over max-k";
        return ENG_ERR(ERR_LIMIT);
    }
    int we = ws >> 1 & 1, wm = ws >> 2 & 1;
    ws &= 1;
    if (c->kind == PROTO_TEXT) ws = 1;
    eng *e = c->e;
    int n;
    if (!ctx.dict && eng_wants_rank(e, &ctx)) {
        n = eng_complete_prepare(e, c->argv[1].p, c->argv[1].len, (unsigned)k, &ctx, &c->msg);
        if (n < 0) return n;
        e->fuzzy_used = e->infix_used = 0;
        if (n == 1) n = 0; /* longer than any key */
        else if (eng_rank_takes(e, &ctx, (unsigned)k))
            return ranked(c, &ctx, (unsigned)k, ws | we << 1 | wm << 2 | (ctx.infix ? 8 : 0));
        else n = eng_complete_search(e, (unsigned)k, &ctx, &c->msg); /* INFIX without its index: the error */
    } else {
        n = eng_complete(e, c->argv[1].p, c->argv[1].len, (unsigned)k, &ctx, &c->msg);
    }
    if (n < 0) return n;
    OOM(proto_reply_list_head(c->out, c->kind, (uint64_t)n * (c->kind == PROTO_RESP ? 1 + ws + we + wm : 1)));
    for (int i = 0; i < n; i++) {
        const trie_hit *h = eng_hit(e, i);
        OOM(proto_reply_suggestion(c->out, c->kind, trie_hit_display(h), h->displen, h->score, ws,
                                   we ? eng_hit_edits_reply(e, i) : PROTO_NO_EDITS));
        if (wm) {
            uint32_t m, ms[TRIE_WORDS_MAX_TYPED], me[TRIE_WORDS_MAX_TYPED];
            char buf[PROTO_MATCH_MAX];
            int nw = eng_hit_highlight(e, i, &m, ms, me, TRIE_WORDS_MAX_TYPED);
            OOM(proto_reply_match(c->out, c->kind, buf, proto_match_fmt(buf, m, nw, ms, me)));
        }
    }
    return 0;
}

static int reply_score(cmd_call *c, double v) {
    char num[32];
    size_t n = proto_fmt_score(num, v);
    OOM(proto_reply_bulk(c->out, c->kind, num, n));
    return 0;
}

static int get_double(const proto_arg *a, double *v, const char **msg) {
    if (qparse_double(a->p, a->len, v) < 0) {
        *msg = "score must be a finite number";
        return ENG_ERR(ERR_ARGS);
    }
    return 0;
}

static int h_add(cmd_call *c) {
    eng *e = c->e;
    double score;
    int rc = get_double(&c->argv[2], &score, &c->msg);
    if (rc < 0) return rc;
    if ((rc = key_of(e, c->argv[1].p, c->argv[1].len, &c->msg)) < 0) return rc;
    size_t dlen;
    if ((rc = display_of(e, c->argv[1].p, c->argv[1].len, &dlen, &c->msg)) < 0) return rc;
    if ((rc = change_begin(e, &c->msg)) < 0) return rc;
    uint64_t before = trie_count(e->t);
    rc = trie_set(e->t, e->norm, e->normlen, e->disp, dlen, score, NULL);
    if (rc < 0) return trie_err(rc, &c->msg);
    eng_words_after_set(e, before);
    change_done(e, 0, 0);
    OOM(proto_reply_ok(c->out, c->kind));
    return 0;
}

static int h_incr(cmd_call *c) {
    eng *e = c->e;
    double delta = 1, score;
    int rc;
    if (c->argc == 3 && (rc = get_double(&c->argv[2], &delta, &c->msg)) < 0) return rc;
    if ((rc = key_of(e, c->argv[1].p, c->argv[1].len, &c->msg)) < 0) return rc;
    size_t dlen = 0;
    int exists = trie_get(e->t, e->norm, e->normlen, NULL);
    if (!exists && (rc = display_of(e, c->argv[1].p, c->argv[1].len, &dlen, &c->msg)) < 0) return rc;
    if ((rc = change_begin(e, &c->msg)) < 0) return rc;
    uint64_t before = trie_count(e->t);
    rc = trie_incr(e->t, e->norm, e->normlen, exists ? NULL : e->disp, dlen, delta, &score);
    if (rc < 0) return trie_err(rc, &c->msg);
    eng_words_after_set(e, before);
    change_done(e, 0, 0);
    return reply_score(c, score);
}

static int h_del(cmd_call *c) {
    eng *e = c->e;
    if (c->argc > 2 || (e->dicts && dict_find(e->dicts, c->argv[1].p, c->argv[1].len))) return cmd_del_dicts(c);
    int rc = key_of(e, c->argv[1].p, c->argv[1].len, &c->msg);
    if (rc < 0) return rc;
    if ((rc = change_begin(e, &c->msg)) < 0) return rc;
    uint32_t id = eng_words_before_del(e);
    rc = trie_del(e->t, e->norm, e->normlen);
    if (rc < 0 && rc != TRIE_ENOTFOUND) return trie_err(rc, &c->msg);
    if (rc == 0) eng_words_after_del(e, id);
    if (rc == 0) change_done(e, 1, 0);
    OOM(proto_reply_int(c->out, c->kind, rc == 0 ? 1 : 0));
    return 0;
}

static int h_get(cmd_call *c) {
    eng *e = c->e;
    int rc = key_of(e, c->argv[1].p, c->argv[1].len, &c->msg);
    if (rc < 0) return rc;
    double score;
    if (!trie_score(e->t, e->norm, e->normlen, &score)) {
        c->msg = "no such query";
        return ENG_ERR(ERR_NOTFOUND);
    }
    return reply_score(c, score);
}

static int h_accept(cmd_call *c) {
    eng_ctx ctx = {.rank = -1, .fuzzy = -1};
    int rc = parse_opts(c->argc, c->argv, 2, O_USER | O_SESSION | O_PREFIX | O_RANK, &ctx, NULL, NULL, &c->msg);
    if (rc < 0) return rc;
    double score;
    if ((rc = eng_accept(c->e, c->argv[1].p, c->argv[1].len, &ctx, &score, &c->msg)) < 0) return rc;
    return reply_score(c, score);
}

static int h_help(cmd_call *c);

static int h_command(cmd_call *c);

typedef struct cmd_def {
    const char *name;
    int cmd;
    int min_args, max_args; /* including the command word */
    int (*fn)(cmd_call *c);
    const char *synopsis;
    const char *help;
} cmd_def;

static const cmd_def cmds[] = {
    {"COMPLETE", CMD_COMPLETE, 2, 15, h_complete,
     "COMPLETE <prefix> [LIMIT k] [USER id] [SESSION id] [FUZZY 0|1|2|AUTO] [INFIX] [DICT name] [WITHSCORES] [WITHEDITS] "
     "[WITHMATCH]",
     "the k (default 10) most popular queries starting with prefix (INFIX: holding its words anywhere, in any "
     "order); text: display<TAB>score lines"},
    {"ADD", CMD_ADD, 3, 3, h_add, "ADD <query> <score>", "insert query (display form as given) or set its score"},
    {"INCR", CMD_INCR, 2, 3, h_incr, "INCR <query> [n]", "add n (default 1) to the score; replies the new score"},
    {"DEL", CMD_DEL, 2, PROTO_ARGS_CAP, h_del, "DEL <query> | DEL <key> [key ...]",
     "remove query (or, when a named dictionary has that exact name, or with 2+ names, those dictionaries); 1 / 0 / count"},
    {"GET", CMD_GET, 2, 2, h_get, "GET <query>", "the score of query, or ERR NOTFOUND"},
    {"ACCEPT", CMD_ACCEPT, 2, 10, h_accept, "ACCEPT <query> [USER id] [SESSION id] [PREFIX p] [RANK r]",
     "the user submitted query: its score goes up by 1; replies the new score"},
    {"STATS", CMD_STATS, 1, 1, cmd_stats, "STATS", "server statistics, one 'name value' per line"},
    {"INFO", CMD_STATS, 1, 2, cmd_stats, "INFO", "same as STATS (for Redis tools)"},
    {"PING", CMD_PING, 1, 2, cmd_ping, "PING [message]", "PONG, or the message"},
    {"HELP", CMD_HELP, 1, 2, h_help, "HELP [command]", "this list, or one command's help"},
    {"QUIT", CMD_QUIT, 1, 1, cmd_quit, "QUIT", "reply OK and close the connection"},
    {"SAVE", CMD_SAVE, 1, 1, cmd_save, "SAVE",
     "write a snapshot to --save FILE or the index in a background child (and the learned model to --model-save); OK when it is on disk"},
    {"RELOAD", CMD_RELOAD, 1, 1, cmd_reload, "RELOAD",
     "reload the model file (unsaved online learning is dropped) and re-read the embeddings version"},
    {"COMMAND", CMD_COMMAND, 1, 8, h_command, "COMMAND [COUNT|DOCS ...]", "for Redis tools: empty list / count"},
    {"CONFIG", CMD_CONFIG, 2, 3, cmd_config, "CONFIG GET <pattern>",
     "settings matching a glob, as name/value pairs (never requirepass)"},
    {"AUTH", CMD_AUTH, 2, 3, cmd_auth, "AUTH [default] <password>",
     "authenticate this connection (requirepass): needed for changes, SAVE, RELOAD, STATS, CONFIG"},
    {"HELLO", CMD_HELLO, 1, 7, cmd_hello, "HELLO [2|3 [AUTH <user> <password>] [SETNAME <name>]]",
     "for Redis clients: speak RESP2 or RESP3 on this connection; replies server, version, proto, id, mode, role, modules"},
    {"CLIENT", CMD_CLIENT, 2, 4, cmd_client, "CLIENT ID|INFO|GETNAME|SETNAME <name>|SETINFO LIB-NAME|LIB-VER <value>",
     "for Redis clients: this connection's id, name and client library"},
    {"ECHO", CMD_ECHO, 2, 2, cmd_echo, "ECHO <message>", "the message"},
    {"SELECT", CMD_SELECT, 2, 2, cmd_select, "SELECT 0", "for Redis clients: OK for database 0, qac's only one"},
    /* RediSearch's suggestion commands and Redis key commands (engine/cmd_sug.c) */
    {"FT.SUGADD", CMD_SUGADD, 1, 64, cmd_sugadd, "FT.SUGADD <key> <string> <score> [INCR] [PAYLOAD <p>]",
     "RediSearch: add string to the named dictionary key (INCR: add to its score); replies its size"},
    {"FT.SUGGET", CMD_SUGGET, 1, 64, cmd_sugget, "FT.SUGGET <key> <prefix> [FUZZY] [MAX n] [WITHSCORES] [WITHPAYLOADS]",
     "RediSearch: the MAX (default 5) best suggestions of dictionary key for prefix"},
    {"FT.SUGDEL", CMD_SUGDEL, 1, 64, cmd_sugdel, "FT.SUGDEL <key> <string>", "RediSearch: remove string; 1 / 0"},
    {"FT.SUGLEN", CMD_SUGLEN, 1, 64, cmd_suglen, "FT.SUGLEN <key>", "RediSearch: the size of dictionary key (0: none)"},
    {"EXISTS", CMD_EXISTS, 2, PROTO_ARGS_CAP, cmd_exists, "EXISTS <key> [key ...]", "how many keys name a dictionary"},
    {"TYPE", CMD_TYPE, 2, 2, cmd_type, "TYPE <key>", "trietype0 for a named dictionary, else none"},
    {"KEYS", CMD_KEYS, 2, 2, cmd_keys, "KEYS <pattern>", "the names of the named dictionaries matching a glob pattern"},
    {"DBSIZE", CMD_DBSIZE, 1, 1, cmd_dbsize, "DBSIZE", "how many named dictionaries exist"},
    {"FLUSHALL", CMD_FLUSHALL, 1, 2, cmd_flushall, "FLUSHALL [ASYNC|SYNC]",
     "drop every named dictionary (needs requirepass and AUTH; the default index stays)"},
    {"FLUSHDB", CMD_FLUSHALL, 1, 2, cmd_flushall, "FLUSHDB [ASYNC|SYNC]", "same as FLUSHALL"},
};

static int h_help(cmd_call *c) {
    if (c->argc == 2) {
        for (size_t i = 0; i < ARRAY_LEN(cmds); i++)
            if (arg_is(&c->argv[1], cmds[i].name)) {
                OOM(proto_reply_list_head(c->out, c->kind, 2));
                OOM(proto_reply_item(c->out, c->kind, cmds[i].synopsis, strlen(cmds[i].synopsis)));
                OOM(proto_reply_item(c->out, c->kind, cmds[i].help, strlen(cmds[i].help)));
                return 0;
            }
        c->msg = "no such command";
        return ENG_ERR(ERR_UNKNOWN);
    }
    OOM(proto_reply_list_head(c->out, c->kind, ARRAY_LEN(cmds)));
    for (size_t i = 0; i < ARRAY_LEN(cmds); i++)
        OOM(proto_reply_item(c->out, c->kind, cmds[i].synopsis, strlen(cmds[i].synopsis)));
    return 0;
}

static int h_command(cmd_call *c) {
    if (c->argc >= 2 && arg_is(&c->argv[1], "COUNT")) OOM(proto_reply_int(c->out, c->kind, (int64_t)ARRAY_LEN(cmds)));
    else OOM(proto_reply_list_head(c->out, c->kind, 0));
    return 0;
}

int eng_reply_proto_error(eng *e, int kind, int code, const char *msg, qbuf *out) {
    e->stats.errs[code]++;
    return proto_reply_error(out, kind, code, msg);
}

int eng_exec(eng *e, int kind, int argc, const proto_arg *argv, qbuf *out, int *flags) {
    /* latency from the start of the read batch (one clock read per batch, see stats.h) */
    uint64_t t0 = e->stats.batch_t0_ns ? e->stats.batch_t0_ns : qtime_ns();
    *flags = 0;
    e->wait_lsn = 0;
    const cmd_def *d = NULL;
    for (size_t i = 0; i < ARRAY_LEN(cmds); i++)
        if (arg_is(&argv[0], cmds[i].name)) {
            d = &cmds[i];
            break;
        }
    cmd_call c = {e, kind, argc, argv, out, 0, NULL};
    size_t mark = out->len;
    int rc, cmd;
    if (!d) {
        cmd = CMD_UNKNOWN;
        rc = ENG_ERR(ERR_UNKNOWN);
        c.msg = "unknown command";
    } else {
        cmd = d->cmd;
        if (eng_cmd_needs_auth(cmd) && eng_auth_required(e) && !e->client->authed) {
            rc = ENG_ERR(ERR_NOAUTH);
            c.msg = "Authentication required.";
            e->stats.auth_refused++;
        } else if (argc < d->min_args || argc > d->max_args) {
            rc = ENG_ERR(ERR_ARGS);
            c.msg = "wrong number of arguments; see HELP";
        } else {
            rc = d->fn(&c);
        }
    }
    e->stats.cmds[cmd]++;
    if (rc == -1000) {
        out->len = mark;
        return -1;
    }
    if (rc < 0) {
        out->len = mark; /* drop any partial reply */
        int code = ENG_CODE(rc);
        e->stats.errs[code]++;
        int r = d ? proto_reply_error(out, kind, code, c.msg)
                  : proto_reply_error_arg(out, kind, code, c.msg, argv[0].p, argv[0].len);
        if (r < 0) return -1;
    }
    *flags = c.flags & (ENG_CLOSE | ENG_DEFER | ENG_DEFER_RANK);
    if (!(*flags & ENG_DEFER_RANK)) hist_add(&e->stats.lat_ns, qtime_ns() - t0);
    return cmd;
}
