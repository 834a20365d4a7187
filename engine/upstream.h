/* upstream.h -- the shard merger, `qac serve --upstreams SPEC` (issue 18;
 * docs/SCALING.md "Shards", docs/PROTOCOL.md "Merger").
 *
 * A merger holds no index. It answers COMPLETE (text, RESP, and HTTP
 * /v1/complete, highlighted as the shards say: WITHMATCH) by asking the
 * shards that can hold the answer over RESP --
 * only the owning shard when the shard map decides the prefix's first
 * character, every shard otherwise (INFIX, a prefix that normalizes to
 * nothing, FUZZY under fuzzy-first-any) -- and merging their top k exactly in
 * one server's order. ADD / INCR / DEL / ACCEPT (and HTTP /v1/accept) go to
 * the shard owning the key; STATS, /v1/stats and /metrics are its own
 * counters (upstream_stats.c). In front of a site it behaves as one server:
 * its own requirepass (AUTH, HTTP Bearer token), HTTP methods, HEAD, CORS and
 * parameter errors as engine/server_http.c (the writers are shared, in
 * engine/proto/http.c); shards with requirepass get the merger's
 * --upstream-pass-file with AUTH on every connection (upstream_pool.h).
 *
 * Three parts:
 *   upstream_merge.c  the exact merge (pure: no sockets), unit-tested against
 *                     one trie on random data (tests/test_engine_upstream.c);
 *   upstream_pool.c   the shards' replicas: one async hiredis connection each
 *                     (engine/rank/redis_uv.h), fail-over between a shard's
 *                     replicas, reconnection;
 *   upstream_req.c    a request: parse, route, ask, merge, answer;
 *   upstream_serve.c  the listeners, client connections, and `qac serve
 *                     --upstreams`'s settings;
 *   upstream_stats.c  its counters.
 *
 * The order (what one server holding every key answers, docs/PROTOCOL.md):
 * fewer edits first, then (INFIX) completions the whole text is a prefix of
 * before other word matches, then higher score, then the key's bytes (memcmp,
 * shorter first). The key is the display normalized in the shard map's key
 * form (a display always normalizes to its key). Each shard answers its own
 * top k in that order over disjoint keys, so the best k of the union of the
 * shards' lists is the best k overall.
 */
#ifndef QAC_UPSTREAM_H
#define QAC_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "trie/trie.h"

/* One suggestion of one shard's answer. disp points into the caller's reply
 * (kept until the merge is written); key is filled by ups_merge_add. */
typedef struct ups_item {
    const char *disp;
    size_t displen;
    double score;
    int edits;  /* 0 when the request allowed no typos; a cut class's count is negated on the wire */
    int cut;    /* the shard sent this one's edit count negated (fuzzy-max-work cut its class) */
    int klass;  /* INFIX: 0 when the typed text is a prefix of the key (or a typo match), else 1 */
    uint32_t keyoff;
    uint16_t keylen;
    const char *match; /* the shard's WITHMATCH element (proto_match_fmt), NULL when not asked */
    size_t matchlen;
} ups_item;

typedef struct ups_merge {
    int key_form;          /* NORM_FORM_*: how keys are made from displays */
    int infix;             /* the request had INFIX: classes by prefix */
    unsigned fuzzy_flags;  /* TRIE_FUZZY_FIRST_ANY when the shards run fuzzy-first-any (INFIX classes) */
    char np[TRIE_MAX_KEY + 1]; /* the normalized typed text (INFIX classes) */
    size_t nplen;
    ups_item *items;
    size_t n, cap;
    char *keys;            /* the items' keys, back to back */
    size_t klen, kcap;
} ups_merge;

/* Starts a merge for prefix[0..plen) (text as typed). 0, or -1 when the
 * prefix cannot be normalized (the shards would have refused it too). */
int ups_merge_init(ups_merge *m, int key_form, int infix, const char *prefix, size_t plen);
/* The same on a merge used before (or zeroed): keeps its items and keys
 * arrays for this merge, so a reused one allocates nothing. */
int ups_merge_init_keep(ups_merge *m, int key_form, int infix, const char *prefix, size_t plen);
/* Adds one suggestion of a shard's answer (edits as sent: negative = cut).
 * 0, or -1 out of memory / the display does not normalize. */
int ups_merge_add(ups_merge *m, const char *disp, size_t displen, double score, int edits);
/* Sorts into the merged order; returns min(k, n) (the first ones are the answer). */
size_t ups_merge_finish(ups_merge *m, unsigned k);
void ups_merge_free(ups_merge *m);
/* The order itself (for tests): <0, 0, >0. */
int ups_item_cmp(const ups_merge *m, const ups_item *a, const ups_item *b);

/* `qac serve --upstreams SPEC ...` (engine/serve_cmd.c hands over argv when
 * it sees --upstreams). */
int upstream_main(int argc, char **argv);

#endif
