/* replay.h -- `qac replay`: replay query logs against a running server and
 * measure latency, throughput, errors and ranking quality (see replay.c for
 * how its files divide the work, replay_run.c for the load model and
 * ../shared/EVALUATION.md for the quality numbers).
 *
 * The pure parts are public so that tests/test_data_replay.c can check them
 * without a server: request quoting, reply parsing, the prefixes a person
 * types for one query, the keystrokes-saved arithmetic, and the typo'd
 * prefixes of --typos (data/replay_typos.c).
 *
 * Errors: rp_* return >= 0 on success and -1 on failure, as each says.
 * Ownership: nothing here allocates except into the caller's qbuf.
 */
#ifndef QAC_DATA_REPLAY_H
#define QAC_DATA_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "data/evalproto.h"

#define RP_MAX_QUERY 512 /* bytes of a normalized query (the server's TRIE_MAX_KEY) */

/* Appends s as one double-quoted word of the text protocol: " and \ are
 * escaped with a backslash, other bytes go as they are (callers never pass
 * control characters: the log reader rejects them). Returns 0 or -1 (OOM). */
int rp_quote(qbuf *out, const char *s, size_t len);

/* --- the keystrokes of one query -------------------------------------------
 * all  = every prefix of 1..n code points (n included: the box asks at every
 *        keystroke, the last one too);
 * eval = exactly EVALUATION.md's scored set (len1..len5 shorter than the
 *        query, and rand), distinct lengths in increasing order; none when
 *        the query has fewer than EP_MIN_CP code points.
 * Scored tags are the same in both modes: the answer for a typed prefix of
 * length L is scored under every tag of the evaluation set whose length is L
 * (rand may coincide with one of len2..len5). */
typedef struct rp_plan {
    size_t ncp;    /* code points of the query */
    int all;       /* 1: all prefixes, 0: eval set */
    size_t ntyped; /* prefixes to type */
    size_t elens[EP_NTAGS];
    int etags[EP_NTAGS];
    int enp;                  /* scored set (ep_prefixes) */
    size_t evlens[EP_NTAGS];  /* eval mode: distinct lengths, ascending */
} rp_plan;

void rp_plan_init(rp_plan *p, const char *q, size_t qlen, int all);
/* Code points of the i-th typed prefix (i < ntyped). */
size_t rp_plan_len(const rp_plan *p, size_t i);
/* Bitmask (1 << tag) of the evaluation tags scored at a typed length. */
unsigned rp_plan_tags(const rp_plan *p, size_t len);

/* --- replies ---------------------------------------------------------------- */
enum { RP_COMPLETE = 0, RP_ACCEPT = 1 };

typedef struct rp_reply {
    int err;       /* 1: the server answered ERR CODE msg */
    char code[16]; /* the error code word (NUL-terminated, cut to 15 bytes) */
    int n;         /* COMPLETE: number of suggestions */
    unsigned rank; /* COMPLETE: 1-based position of the target, 0 = absent */
} rp_reply;

/* Parses one reply of the text protocol at buf[0..len): for COMPLETE,
 * "OK n" then n lines "display<TAB>score"; for ACCEPT, "OK score"; or
 * "ERR CODE message". Lines end in \n (a \r before it is dropped). When
 * target is not NULL, a suggestion is the target when its norm_eval form
 * equals target[0..tlen) (already in norm_eval form); scratch must hold
 * RP_SCRATCH bytes. Returns the bytes the reply used (> 0), 0 when it is not
 * complete yet, or -1 when the bytes are not a reply (*why says what). */
#define RP_SCRATCH (RP_MAX_QUERY * 18 + 64)
long rp_parse_reply(const char *buf, size_t len, int kind, const char *target, size_t tlen, char *scratch,
                    rp_reply *r, const char **why);

/* --- keystrokes saved ----------------------------------------------------------
 * For a query of n code points whose target first shows in the top k after
 * typing j code points (j = 0: never), the person types j characters and
 * picks it, saving n - j; otherwise they type all n and save 0. The share is
 * sum(saved) / sum(n) over the measured events that typed any prefix. */
typedef struct rp_keys {
    uint64_t typed; /* sum of n */
    uint64_t saved; /* sum of n - j */
} rp_keys;

void rp_keys_add(rp_keys *k, size_t n, size_t first_shown);
double rp_keys_share(const rp_keys *k); /* 0 when nothing was typed */

/* --- typo'd prefixes (--typos; data/replay_typos.c says how and why) ----------
 * rp_typo_hash: the draw for the prefix of len code points of event ev;
 * rp_typo_pick: 1 when that draw falls under rate (0..1; rate 0: never).
 * rp_typo_edit: one edit (kind: RP_EDIT_*) of the prefix q[0..plen) of the
 * query q[0..qlen) (valid UTF-8, at least 2 code points, plen <= qlen, plen
 * <= RP_MAX_QUERY), never at code point 0, chosen by h; writes it to out
 * (cap >= plen + 4) and returns its length in bytes, valid UTF-8, never a
 * prefix of q and never with two spaces side by side; -1 when no such edit
 * was found (the prefix is then not typo'd). Deterministic in its
 * arguments. */
#define RP_TYPO_MIN_CP 4
enum { RP_EDIT_SUB = 0, RP_EDIT_DEL, RP_EDIT_INS, RP_EDIT_SWAP, RP_EDIT_KINDS };
extern const char *const rp_typo_kind_names[RP_EDIT_KINDS];
uint64_t rp_typo_hash(uint64_t seed, uint64_t ev, uint64_t len);
int rp_typo_pick(uint64_t h, double rate);
long rp_typo_edit(const char *q, size_t qlen, size_t plen, uint64_t h, char *out, size_t cap, int *kind);

int replay_main(int argc, char **argv);

#endif
