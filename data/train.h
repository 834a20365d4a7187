/* train.h -- the offline half of the learned ranker: `qac embed`, `qac
 * train`, `qac load`, and the request context they share with `qac eval`.
 *
 *   qac embed -o EMB [--dims D] [--epochs E] [--seed S] [--buckets B]
 *             [--until TIME] LOG...                              (data/embed_cmd.c)
 *   qac train -i INDEX --embeddings EMB -o MODEL [--split TIME]
 *             [--holdout TIME] [--loss pairwise|logistic] [...] LOG... (train.c)
 *   qac load --redis HOST:PORT [--namespace NS] [--batch N] EMB   (load.c)
 *
 * lenv ("learned environment") is what a server request does, offline: for
 * one event it reads the user's session from the in-process history, and
 * for each prefix builds the request context with ranking/request.h -- the
 * code the server's ranker calls -- with vectors from a rank_vcache. eval.c
 * (system `learned`) and train.c use it, so training sees exactly what
 * scoring sees (tests/test_qac_rankpaths.c compares the two bit for bit).
 *
 * Exit status of the commands: 0 ok, 1 runtime error, 2 usage.
 */
#ifndef QAC_DATA_TRAIN_H
#define QAC_DATA_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ranking/baseline.h"
#include "ranking/embed.h"
#include "ranking/history_mem.h"
#include "ranking/learned.h"
#include "ranking/request.h"
#include "trie/trie.h"

typedef struct lenv {
    const trie *t;
    const rank_history *hist;
    rank_vcache *vc;
    uint32_t dims;
    unsigned topn;
    const rank_huser *u;
    rank_hsess sess[RANK_REQ_MAX_SESS];
    rank_req req; /* the request context (ranking/request.h) */
    rank_lcand *lc; /* = req.lc: the candidates of the last lenv_prefix */
} lenv;

/* Generated candidates (ranking/gen.h) in eval and train: --gen-candidates N
 * (0 = none, the default) and --gen-suffixes N, parsed and checked alike. */
typedef struct lenv_gen_opts {
    uint64_t cands, suffixes, words;
} lenv_gen_opts;
void lenv_gen_opts_default(lenv_gen_opts *o);
/* Parses the value of --gen-candidates (which 0), --gen-suffixes (1) or
 * --gen-words (2);
 * returns 0, or -1 with a message in err. */
int lenv_gen_opt(lenv_gen_opts *o, int which, const char *v, char *err, size_t errlen);
/* The suffix index of t when o->cands > 0 (logged: event=gen.built), NULL
 * otherwise; *fail set when it cannot be built. */
rank_gen *lenv_gen_build(const trie *t, const lenv_gen_opts *o, const char *cmd, int *fail);

/* vc may be NULL (no vectors). Returns 0 or -1 (OOM). */
int lenv_init(lenv *e, const trie *t, const rank_history *h, rank_vcache *vc, uint32_t dims, unsigned topn);
/* Generated candidates for every later prefix (rank_req_set_gen). */
void lenv_set_gen(lenv *e, const rank_gen *g, unsigned max);
/* Typo / infix candidates from then on (ranking/request.h rank_req_set_match). */
void lenv_set_match(lenv *e, const rank_match *m);
void lenv_free(lenv *e);
/* Context of one event of user at time now (session: the user's accepts
 * under the history's session gap before now). Returns 0. */
int lenv_event(lenv *e, const char *user, size_t ulen, int64_t now);
/* Candidates for prefix p[0..plen) into e->lc (context in e->req.x);
 * returns their number or -1. */
int lenv_prefix(lenv *e, const char *p, size_t plen);
/* Index of q among e->lc[0..n), or -1. */
long lenv_find(const lenv *e, size_t n, const char *q, size_t qlen);

int embed_main(int argc, char **argv);
int train_main(int argc, char **argv);
int load_main(int argc, char **argv);

#endif
