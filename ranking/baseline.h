/* baseline.h -- the three hand-written scorers of ../shared/EVALUATION.md
 * (MPC, the personal baseline, the hand-tuned heuristic) over a candidate
 * list, and the candidate gathering they share.
 *
 * A candidate is a normalized query with its signals: g (global count, the
 * trie's score), u (the user's own count of it before now) and last (when the
 * user last issued it). The scorers only fill rank_cand.score; rank_top then
 * orders by match class ascending first (rank_cand.cls, below), then by
 * score descending, ties by text ascending (bytewise, which is code point
 * order for UTF-8).
 *
 * Match class (the class key, compared before any score): 0 (RANK_CLS_EXACT)
 * for a completion of the typed prefix (the trie, the history, generated);
 * RANK_CLS_INFIX for a key holding the typed words elsewhere (COMPLETE ...
 * INFIX; issue 15: ordinary completions first); rank_cls_edit(d, ...) for
 * a key d >= 1 edits away (FUZZY; issue 14: exact, then 1 edit, then 2;
 * within d, the typo'd text's completions before the infix matches whose
 * last word carries the edits). No score moves a candidate across classes, so a ranker
 * orders within each class only. One key comes before the class:
 * rank_cand.after, set on a generated completion that keeps a word no key
 * has (ranking/gen.h, "Known words"), which puts it after every class. Every candidate rank_gather makes is of
 * class 0: the scorers' figures do not depend on the key. These readings reproduce every reference figure of
 * EVALUATION.md to four decimals (see data/eval.c).
 *
 *   mpc        score = g                      (candidates: the trie's top k)
 *   personal   score = ln(1+g) + 3 ln(1+u)
 *   heuristic  score = ln(1+g) + 4 ln(1+u) + 3 exp(-d/7)
 *                      + 2 |W(last) & W(x)| / |W(x)| + 1.5 [x extends last]
 *              d = days (fractional) since the user last issued x, term absent
 *              when u == 0; `last` = the user's previous query when it came
 *              under 30 minutes earlier (terms absent otherwise); W() = set of
 *              space-separated words; "x extends last" = x starts with last
 *              and differs from it.
 *
 * Candidates for personal and heuristic (rank_gather): the trie's top N by
 * score for the prefix plus the queries of the user's history that start
 * with the prefix and are not among those N, each once. The history's
 * queries and the trie's keys must be in the same normal form (the caller's
 * job): they are matched bytewise.
 *
 * Capacity: a user's history may hold far more matching queries than a
 * request can score (1,000 per user in process, more in a Redis hash between
 * two trims), so the history part is capped by the caller's max_hist
 * (RANK_MAX_HIST_CANDS everywhere a fixed buffer follows): past it, the
 * user's most accepted queries are kept (ties: most recent, then text
 * ascending) -- the ones the personal terms favour. A request thus has at
 * most ntop + max_hist candidates (RANK_MAX_CANDS with the defaults), and
 * the buffers of every scorer are sized from those two names.
 *
 * Errors: rank_gather returns the number of candidates (>= 0) or
 * RANK_BASE_ENOMEM / RANK_BASE_EINVAL. Ownership: candidate texts point into
 * the trie or the history and are valid until either changes; the rank_cands
 * buffer is owned by the caller (rank_cands_free).
 */
#ifndef QAC_RANK_BASELINE_H
#define QAC_RANK_BASELINE_H

#include <stddef.h>
#include <stdint.h>

#include "ranking/history_mem.h"
#include "trie/trie.h"

#define RANK_BASE_ENOMEM (-1)
#define RANK_BASE_EINVAL (-2) /* ntop 0 or over TRIE_MAX_K */

#define RANK_PERSONAL_TOPN 100 /* trie candidates for personal/heuristic (EVALUATION.md) */
#define RANK_SESSION_GAP 1800  /* seconds: "last" counts when under this */
#define RANK_MAX_HIST_CANDS 256 /* history-only candidates of one request (see Capacity) */
#define RANK_MAX_GEN_CANDS 32   /* generated candidates of one request (ranking/gen.h), at most */
#define RANK_MAX_MATCH_CANDS TRIE_MAX_K /* of one request: infix ones, typo ones, and the last word's (ranking/request.h) */
#define RANK_MAX_CANDS (TRIE_MAX_K + RANK_MAX_HIST_CANDS + RANK_MAX_GEN_CANDS + 3 * RANK_MAX_MATCH_CANDS) /* of one request */

/* match classes (rank_cand.cls; see "Match class") */
#define RANK_CLS_EXACT 0
#define RANK_CLS_INFIX 1
/* A typo match's class, d (1 or 2) edits away: after the infix matches and
 * fewer edits; within d, a completion of the typo'd text (its prefix
 * within d edits of what was typed) before a key holding the typed words
 * elsewhere with the last one edited (INFIX FUZZY), as ordinary
 * completions come before the other word matches: 2, 3 for one edit, 4, 5
 * for two. */
static inline uint8_t rank_cls_edit(unsigned d, int other_words) {
    return (uint8_t)(RANK_CLS_INFIX + 2 * d - 1 + (other_words != 0));
}

typedef struct rank_cand {
    const char *q; /* normalized text, not NUL-terminated, not owned */
    uint32_t len;
    uint32_t u;    /* the user's count of q (0 = never issued) */
    double g;      /* global count */
    int64_t last;  /* the user's last time of q; meaningful when u > 0 */
    double score;  /* filled by a scorer */
    uint32_t gen;  /* 0: a known completion (trie, history); else generated (ranking/gen.h): 1 + words kept */
    double sf;     /* generated: the suffix's frequency */
    uint8_t cls;   /* match class (RANK_CLS_*): rank_top's first key */
    uint8_t edits; /* typo candidates: edits from the typed prefix (1..2); else 0 */
    uint8_t words; /* infix candidates: typed words matched (all of them, 1..16); else 0 */
    uint8_t after; /* generated from a word the index does not know (gen.h): after every class */
} rank_cand;

/* 1 when c matched with the typed words elsewhere in its key (an infix
 * match, with or without edits on the last word): no prefix to highlight. */
static inline int rank_cand_other_words(const rank_cand *c) {
    return c->cls == RANK_CLS_INFIX || (c->edits && c->words);
}

/* Context of one request for the heuristic. */
typedef struct rank_ctx {
    int64_t now;      /* seconds, same clock as rank_cand.last */
    const char *last; /* previous query of the session, or NULL */
    uint32_t lastlen;
} rank_ctx;

typedef struct rank_cands {
    rank_cand *c;
    size_t n, cap;
    /* scratch, reused between calls */
    trie_hit hits[TRIE_MAX_K];
    const rank_hentry **he;
    size_t hecap;
} rank_cands;

void rank_cands_init(rank_cands *cs);
void rank_cands_free(rank_cands *cs);

/* Fills cs with the candidates for prefix p: the trie's top ntop (1 ..
 * TRIE_MAX_K) plus at most max_hist of the user's matching history entries
 * that are not among them (u may be NULL; see Capacity). g comes from the
 * trie (0 when the query is not in it), u and last from the history.
 * Returns cs->n (<= ntop + max_hist), or a negative code (cs->n is then 0). */
int rank_gather(rank_cands *cs, const trie *t, const rank_huser *u, const char *p, size_t plen,
                unsigned ntop, size_t max_hist);

/* The history part of a gather, cs->c[from..cs->n): when it holds more than
 * max entries, keeps the max best (u desc, last desc, text asc) and cuts
 * cs->n. Shared by rank_gather and rank_rh_gather. */
void rank_cands_keep_history(rank_cands *cs, size_t from, size_t max);

/* Room for need candidates in cs->c (grows, never shrinks). 0 or -1. */
int rank_cands_reserve(rank_cands *cs, size_t need);

void rank_score_mpc(rank_cand *c, size_t n);
void rank_score_personal(rank_cand *c, size_t n);
void rank_score_heuristic(rank_cand *c, size_t n, const rank_ctx *ctx);

/* The heuristic in parts, for callers that score candidate by candidate
 * (the learned ranker's base): rank_heur_prepare splits the last query into
 * its distinct words once per request, rank_cand_terms_of computes a
 * candidate's logs and decay once (the learned ranker's features use the
 * same values), rank_heur_words splits a candidate into words and looks
 * them up among last's once (the learned ranker's word features use the
 * same counts), rank_heur_score_words adds them up; rank_heur_score is the
 * last two. rank_score_heuristic is these, so both give the same scores bit
 * for bit. */
#define RANK_HEUR_MAX_WORDS 64 /* words of `last` considered by the overlap term; more are ignored */

typedef struct rank_word {
    const char *p;
    size_t n;
} rank_word;

typedef struct rank_heur {
    rank_ctx ctx;
    size_t nl;
    int whole; /* 1: lw holds every distinct word of last (fewer than the cap) */
    rank_word lw[RANK_HEUR_MAX_WORDS];
} rank_heur;

typedef struct rank_cand_terms {
    double lg;  /* log1p(g) */
    double lu;  /* log1p(u), 0 when u == 0 */
    double rec; /* exp(-days since last / 7), days = (now - last) / 86400 unclamped; 0 when u == 0 */
} rank_cand_terms;

/* A candidate's words (maximal runs of bytes other than ' ') against the
 * last query's distinct words h->lw; with no last query only `words`. */
typedef struct rank_cand_words {
    uint32_t words;  /* all of them, repeats included */
    uint32_t inlast; /* of all (repeats included), how many are in h->lw */
    uint32_t nx;     /* distinct ones, the first RANK_HEUR_MAX_WORDS of them (the heuristic's) */
    uint32_t common; /* of those nx, how many are in h->lw */
} rank_cand_words;

void rank_heur_prepare(rank_heur *h, const rank_ctx *ctx);
void rank_cand_terms_of(const rank_cand *c, int64_t now, rank_cand_terms *t);
void rank_heur_words(const rank_heur *h, const char *q, size_t len, rank_cand_words *w);
double rank_heur_score_words(const rank_heur *h, const rank_cand *x, const rank_cand_terms *t,
                             const rank_cand_words *w);
double rank_heur_score(const rank_heur *h, const rank_cand *x, const rank_cand_terms *t);

/* Moves the best min(k, n) candidates to c[0..) in order (class ascending,
 * score descending, then text ascending bytewise) and returns min(k, n). */
size_t rank_top(rank_cand *c, size_t n, size_t k);

/* 1 if a sorts before b under rank_top's order. */
int rank_cand_before(const rank_cand *a, const rank_cand *b);

#endif
