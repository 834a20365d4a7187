/* cmd.h -- command execution: what each request does to the trie and what it
 * answers. No sockets: the server hands in parsed arguments and an output
 * buffer; the HTTP routes call the same eng_complete / eng_accept.
 *
 * The request path, and where each stage may wait:
 *
 *     PARSED --> CANDIDATES --> [WAITING] --> SCORED --> REPLIED
 *     (args     (trie_topk     (Redis      (ranker    (reply encoded into
 *      checked)  into hits[])   lookups)    order)     the connection's slot)
 *
 * A plain COMPLETE, GET and most commands finish inside eng_exec(). Three
 * may finish later, and eng_exec says so in *flags: a ranked COMPLETE
 * waiting on Redis (ENG_DEFER_RANK: rank_fn queued its reply), a SAVE
 * running in a child (ENG_DEFER), and every change, whose reply must not
 * leave before the journal is durable up to e->wait_lsn. The server's
 * per-connection reply queue (engine/server_internal.h, srv_slot: one slot
 * per parsed request, flushed from the head) keeps replies in request order
 * whatever finishes first.
 *
 * Errors: eng_* return >= 0 on success, or ENG_ERR(code) with an ERR_* code
 * from proto.h and *msg set to a message (static, or e->errbuf for the
 * journal and the accept guard: valid until the next request).
 *
 * Ownership: the eng borrows the trie and the config (both outlive it) and
 * owns its scratch buffers; the hits in it hold copies of their text (valid
 * until the next COMPLETE overwrites them, whatever happens to the trie) and
 * the normalized prefix lives in the eng.
 */
#ifndef QAC_CMD_H
#define QAC_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "engine/config.h"
#include "engine/guard.h"
#include "engine/proto/proto.h"
#include "engine/stats.h"
#include "trie/trie.h"
#include "trie/trie_fuzzy.h"
#include "trie/trie_words.h"

#define ENG_ERR(code) (-(code)-1)
#define ENG_CODE(rc) (-(rc)-1)

#define ENG_NORM_CAP (TRIE_MAX_KEY + 8)

struct jrn;
struct eng_rank;
struct eng_ctx;

#define ENG_ADDR_MAX 64 /* a peer address as text ("ip:port" or a path) */
#define ENG_CLIENT_NAME_MAX 64 /* CLIENT SETNAME / SETINFO values, bytes */

/* What the executor knows of the client a request came from: the server
 * keeps one per connection and points e->client at it around each request
 * (AUTH and the accept guard change it in place); without a server (tests,
 * tools) e->client is the eng's own e->self. */
typedef struct eng_client {
    char addr[ENG_ADDR_MAX];   /* peer address without port: an anonymous ACCEPT's actor */
    guard_bucket accept;       /* this connection's ACCEPT bucket (engine/guard.h) */
    int authed;                /* this connection sent the right AUTH */
    uint64_t auth_fails;       /* wrong AUTHs / tokens on this connection so far */
    /* what Redis clients set and read (engine/cmd_conn.c): CLIENT ID, HELLO's
     * protocol (2 until HELLO 3), CLIENT SETNAME and CLIENT SETINFO values;
     * each text at most ENG_CLIENT_NAME_MAX bytes (ERR TOOLONG past it) */
    uint64_t id;
    int resp3;
    char name[ENG_CLIENT_NAME_MAX + 1], lib_name[ENG_CLIENT_NAME_MAX + 1], lib_ver[ENG_CLIENT_NAME_MAX + 1];
} eng_client;

/* Ranked COMPLETE (engine/server.c): e->norm/normlen hold the normalized
 * prefix, ctx the checked context. Either encodes the answer into out now
 * (eng_reply_ranked) and returns 0, or arranges for it to be encoded later
 * (the server's reply queue) and returns 0 with *deferred = 1. -1: out of
 * memory. */
typedef int (*eng_rank_fn)(void *ud, int kind, int ws, unsigned k, const struct eng_ctx *ctx, qbuf *out,
                           int *deferred);

/* Starts a background snapshot for SAVE (the server's; engine/server.c).
 * Returns 0 (the reply will come when it ends: eng_exec sets ENG_DEFER) or
 * ENG_ERR with *msg. */
typedef int (*eng_save_fn)(void *ud, const char **msg);

typedef struct eng {
    trie *t;                 /* borrowed: the default dictionary */
    struct dict_set *dicts;  /* borrowed: the named dictionaries (engine/dict.h); NULL: none */
    trie *qt;                /* the current COMPLETE's DICT trie (NULL: t) */
    struct jrn *j;           /* borrowed; NULL without --journal */
    eng_save_fn save_fn;     /* NULL: SAVE writes synchronously */
    void *save_ud;
    struct eng_rank *rank;   /* borrowed; NULL: plain trie order, nothing learned */
    struct chg *chg;         /* borrowed; NULL without --changelog (engine/changelog.h) */
    guard *guard;            /* borrowed; NULL: every ACCEPT counts and teaches (no limits) */
    eng_client *client;      /* the current request's client (never NULL; &self unless the server set it) */
    eng_client self;         /* the client of requests run without a server */
    eng_rank_fn rank_fn;     /* how a ranked COMPLETE runs (NULL: synchronously, here) */
    void *rank_ud;
    uint64_t wait_lsn;       /* set by eng_exec / eng_accept: the reply may leave once the
                                journal is durable up to this LSN (0: no wait) */
    char errbuf[160];        /* formatted error messages (journal errors) */
    const srv_config *cfg;   /* borrowed */
    eng_stats stats;
    char norm[ENG_NORM_CAP]; /* normalized key or prefix of the current request */
    size_t normlen;
    char norm2[ENG_NORM_CAP]; /* normalized PREFIX of an ACCEPT */
    int norm2len;             /* its length; -1 when absent or too long */
    char disp[TRIE_MAX_KEY + 1];
    trie_hit hits[TRIE_MAX_K];
    trie_fuzzy_hit fhits[TRIE_MAX_K]; /* the hits when the last eng_complete allowed edits */
    int fuzzy_used;                   /* 1: eng_complete's hits are in fhits */
    trie_words *words;                /* owned: the word index for INFIX (engine/infix.h); NULL: off */
    int words_dropped;                /* the index was dropped after an error, or its build failed: RELOAD rebuilds it */
    trie_words_hit whits[TRIE_MAX_K]; /* the hits of an INFIX request */
    trie_words_hit wfhits[TRIE_MAX_K]; /* ... its matches with edits on the last word (eng_complete_infix) */
    uint16_t wmatch[TRIE_MAX_K];      /* ... the key bytes the text matched as a prefix (0: none) */
    int infix_used;                   /* 1: eng_complete's hits are in whits */
    unsigned fuzzy_cut;               /* 0, or the edit class fuzzy-max-work cut (trie_fuzzy_info) */
    eng_stats_snap snap;
} eng;

void eng_init(eng *e, trie *t, const srv_config *cfg);

/* Hit i of the last eng_complete: the key, its edits (0: typed right) and
 * the bytes of its normalized key that the prefix matched. */
static inline const trie_hit *eng_hit(const eng *e, int i) {
    return e->infix_used ? &e->whits[i].hit : e->fuzzy_used ? &e->fhits[i].hit : &e->hits[i];
}
static inline unsigned eng_hit_edits(const eng *e, int i) {
    return e->infix_used ? e->whits[i].edits : e->fuzzy_used ? e->fhits[i].edits : 0;
}
/* The edit count WITHEDITS sends: negated for a hit of the class the work
 * limit cut (docs/PROTOCOL.md, Typos). */
static inline int eng_hit_edits_reply(const eng *e, int i) {
    unsigned d = eng_hit_edits(e, i);
    return d && d == e->fuzzy_cut ? -(int)d : (int)d;
}
static inline size_t eng_hit_matchlen(const eng *e, int i) {
    return e->infix_used ? e->wmatch[i] : e->fuzzy_used ? e->fhits[i].matchlen : e->normlen;
}

/* Access control (requirepass). Changes (ADD INCR DEL ACCEPT, FT.SUGADD
 * FT.SUGDEL FLUSHALL), SAVE, RELOAD, STATS/INFO and CONFIG need it when a
 * password is set; COMPLETE,
 * GET, PING, HELP, QUIT, COMMAND and AUTH never do. */
int eng_auth_required(const eng *e);
/* Whether a command (CMD_*) is refused with NOAUTH before AUTH. */
int eng_cmd_needs_auth(int cmd);
/* What RELOAD does (the model file again, NS:current re-read), for RELOAD and
 * the server's SIGHUP; counts reloads_ok / reloads_failed in STATS. Returns 0,
 * or -1 after logging "WHY: reason" and writing the reason into err. */
int eng_reload(eng *e, const char *why, char *err, size_t errlen);
/* Compares pw with requirepass in time that depends only on their lengths
 * (not on where they differ) and counts the outcome in stats (auth_ok /
 * auth_failures). Returns 1 on a match, 0 otherwise (also when no password
 * is set). */
int eng_auth_check(eng *e, const char *pw, size_t len);

/* Context arguments of COMPLETE and ACCEPT (pointers into the request). */
typedef struct eng_ctx {
    const char *user, *session, *prefix;
    size_t user_len, session_len, prefix_len;
    int64_t rank; /* -1 = not given */
    int fuzzy;    /* FUZZY: 0..2 or SRV_FUZZY_AUTO; -1 = not given (the fuzzy setting decides) */
    int infix;    /* INFIX: words anywhere (engine/infix.h) */
    const char *dict; /* DICT name: a named dictionary (engine/dict.h); NULL: the default one */
    size_t dict_len;
} eng_ctx;

/* The top k completions of a raw (not yet normalized) prefix, in plain trie
 * (popularity) order -- with typos allowed (ctx->fuzzy, else the fuzzy
 * setting; eng_fuzzy_edits), by edits first (exact ones first), then
 * popularity. Fills the hits (eng_hit / eng_hit_edits / eng_hit_matchlen,
 * 0..n) and e->norm/normlen (the normalized prefix); returns n. */
int eng_complete(eng *e, const char *prefix, size_t len, unsigned k, const eng_ctx *ctx, const char **msg);
/* The edits a request allows for the normalized prefix in e->norm: ctx's
 * FUZZY (or the fuzzy setting when not given), AUTO resolved by the
 * prefix's code points (fuzzy-auto-one, fuzzy-auto-two). */
unsigned eng_fuzzy_edits(const eng *e, const eng_ctx *ctx);
/* The edits an INFIX request allows on its last typed word (engine/infix.h):
 * FUZZY 1 or 2 as given; AUTO by the LAST word's code points, with the same
 * thresholds (a 3-letter word with an edit would match half the words). */
unsigned eng_fuzzy_word_edits(const eng *e, const eng_ctx *ctx);

/* Second half of eng_complete: the search for e->norm (after
 * eng_complete_prepare returned 0). Returns n or ENG_ERR. */
int eng_complete_search(eng *e, unsigned k, const eng_ctx *ctx, const char **msg);

/* First half of eng_complete: checks k and ctx (counting the context),
 * normalizes the prefix into e->norm (with ctx->dict: the dictionary's key
 * form, dict_fold, and e->qt its trie; no INFIX, no ranker there). Returns 0, 1 when the prefix is
 * longer than any key (nothing can match), or ENG_ERR. */
int eng_complete_prepare(eng *e, const char *prefix, size_t len, unsigned k, const eng_ctx *ctx, const char **msg);

/* Whether a COMPLETE with ctx goes through the ranker: e->rank is set and
 * USER or SESSION is given or a model is loaded. Otherwise the plain trie
 * path answers (as fast as without a ranker). */
int eng_wants_rank(const eng *e, const eng_ctx *ctx);

/* After eng_complete_prepare, for a request eng_wants_rank: 1 when the
 * ranker answers it -- always, unless INFIX is asked for and the word index
 * is missing (0: eng_complete_search then answers the error it answers
 * without a ranker). The ranker gathers the typo and infix matches the
 * request allows (eng_rank_match_of) and orders within each match class
 * (ranking/baseline.h "Match class"): completions, then the other word
 * matches, then 1 edit, then 2 edits -- the classes of eng_complete's
 * order, with the model's order inside each. */
int eng_rank_takes(eng *e, const eng_ctx *ctx, unsigned k);

/* The typo / infix matches a ranked request with ctx allows (e->norm is its
 * prefix): FUZZY or the fuzzy setting, fuzzy-first-any, fuzzy-max-work,
 * INFIX. Counts the request in STATS complete_fuzzy / complete_infix. */
struct eng_rank_match;
void eng_rank_match_of(eng *e, const eng_ctx *ctx, struct eng_rank_match *m);

/* A ranked answer's searches that a limit cut (eng_rank_result.fuzzy_cut,
 * .infix_cut) into STATS complete_fuzzy_truncated / complete_infix_truncated,
 * as the unranked path counts them; called once per answer delivered. */
struct eng_rank_result;
void eng_rank_count_cuts(eng *e, const struct eng_rank_result *res);

/* Appends a COMPLETE reply for a ranker answer: texts are looked up in the
 * trie for their display form and popularity score (a history-only
 * candidate missing from the trie shows its normalized text and score 0).
 * ws: bit 0 WITHSCORES, bit 1 WITHEDITS, bit 2 WITHMATCH (the highlight of
 * each against the normalized prefix np[0..nplen), proto_match_fmt:
 * eng_cand_highlight), bit 3 the request had INFIX (WITHMATCH then carries
 * the matched words). With WITHEDITS, a typo match of the edit class the
 * work limit cut (res->fuzzy_cut) says so with its count negated, as
 * eng_hit_edits_reply does for an unranked answer.
 * Returns 0 or -1 (out of memory). */
int eng_reply_ranked(const eng *e, int kind, int ws, const char *np, size_t nplen, const struct eng_rank_result *res,
                     qbuf *out);

/* A change read from the change log (engine/changelog.h): the key's new state
 * (del, or disp/score), applied and journaled like a client's change but not
 * sent back to the log. Returns 1 (applied), 0 (the state was already that:
 * nothing done), or ENG_ERR(code) with *msg (key not normalized, the journal
 * refuses changes, no memory). */
int eng_apply_change(eng *e, int del, const char *key, size_t klen, const char *disp, size_t dlen, double score,
                     const char **msg);
/* The same for a named dictionary (cmd_sug.c): op JRN_OP_DSET (key =
 * dict_sug_key(disp), payload pay/plen, NULL/0: none), JRN_OP_DDEL (key) or
 * JRN_OP_DDROP (the dictionary). Limits (max-dicts, dict-max-keys, ...) are
 * the origin's business, as at journal replay. Same returns. */
int eng_apply_dict_change(eng *e, int op, const char *name, size_t nlen, const char *key, size_t klen,
                          const char *disp, size_t dlen, const char *pay, size_t plen, double score, const char **msg);

/* The user submitted `query`: its popularity goes up by one, once per actor
 * (USER, else the client's address) and query in the accept window, and the
 * ranker learns within the actor's budget (e->guard, engine/guard.h; a
 * client over its rate gets ERR RATE and nothing changes). *score receives
 * the (new) score. Context is validated and counted. Journaled as any
 * change (sets e->wait_lsn; see eng_exec). */
int eng_accept(eng *e, const char *query, size_t len, const eng_ctx *ctx, double *score, const char **msg);

/* Checks a USER/SESSION id (non-empty, <= SRV_MAX_ID_LEN bytes, UTF-8, no
 * control characters) and a RANK. Returns 0 or ENG_ERR. */
int eng_check_id(const char *s, size_t len, const char **msg);

#define ENG_CLOSE 1 /* eng_exec flag: close the connection after this reply */
#define ENG_DEFER 2 /* eng_exec flag: no reply yet; the server answers when the save ends */
#define ENG_DEFER_RANK 4 /* eng_exec flag: a ranked COMPLETE waits on Redis; rank_fn queued its reply */

/* Runs one parsed request (argc >= 1) and appends its reply to out.
 * Returns the CMD_* kind run; *flags gets ENG_CLOSE for QUIT, ENG_DEFER for a
 * SAVE that started in the background (nothing appended), ENG_DEFER_RANK for
 * a COMPLETE whose answer comes later (nothing appended; its latency is
 * counted by whoever answers it). A change (ADD, INCR, DEL, ACCEPT, and the
 * named dictionaries' FT.SUGADD, FT.SUGDEL, DEL, FLUSHALL: engine/cmd_sug.c)
 * is applied, journaled when e->j is set, and e->wait_lsn
 * names its record: the reply must not leave before the journal is durable
 * up to it. With a journal in its error state, changes are refused with
 * ERR IO before touching the trie. Counts the
 * command, its errors and its latency in e->stats. Returns -1 only when the
 * reply could not be encoded (out of memory: close the connection). */
int eng_exec(eng *e, int kind, int argc, const proto_arg *argv, qbuf *out, int *flags);

/* Appends a protocol error reply (a proto_parse failure) and counts it. */
int eng_reply_proto_error(eng *e, int kind, int code, const char *msg, qbuf *out);

#endif
