/* train.c -- `qac train`: learns the FTRL model of the learned ranker by
 * replaying logs in time order, and the request context (lenv) that eval.c
 * shares (see train.h).
 *
 * Replay (protocol order of ../shared/EVALUATION.md, ep_events_sort):
 *   - only events before --split are used (the test part stays unseen);
 *   - each event with >= 3 code points yields impressions: its prefixes
 *     (--prefixes eval: len1..len5 and rand, the protocol's set; all: every
 *     length 1 .. n-1); the candidates are what the server would build
 *     (rank_gather with --topn trie hits plus the user's history), the
 *     event's query is the positive;
 *   - causal popularity: the index (`qac build --until SPLIT`) counts every
 *     event before the split, including every later issue of a candidate
 *     (by this user or anyone); those are subtracted from g (see causal()),
 *     a candidate left with g == 0 that the user never issued is dropped and
 *     the trie's candidates are re-ranked by the causal g -- otherwise the
 *     model learns that g explains repeats that u should, and that g
 *     foretells next week's queries. (--causal user, the first reading,
 *     took out only this user's later issues.) Measured: test rand MRR@10
 *     0.5137 -> 0.5213, len4 0.4458 -> 0.4626, len5 0.4429 -> 0.4648;
 *   - no generated completions by default (--gen-candidates 0): the suffix
 *     index is built from this index, which holds every training target's
 *     own suffixes, so they would leak (ranking/gen.h "Training");
 *   - impressions whose positive is not among the candidates are skipped and
 *     counted (the ranker cannot fix recall);
 *   - rank_learn_accept (the server's ACCEPT path) makes the steps;
 *   - then the event is accepted into the user's history.
 * --fold F/K: users of fold F (evalproto.h) make no impressions, neither
 * learned nor holdout-scored; their events still go into the histories and
 * the causal counts (the index counts them too).
 * --holdout TIME: learn only from events before TIME; events in [TIME,
 * split) are scored instead (MRR@10 per tag, SR@k; causal g of every user,
 * whatever --causal says) for the model and for the personal and heuristic
 * formulas over the same candidates, plus rand split by whether the user
 * issued the target before (share among the candidates = the recall
 * ceiling of any reranker) -- this is how loss, rates and features are tuned
 * without looking at the test part.
 */
#include "data/train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cli.h"
#include "common/log.h"
#include "common/util.h"
#include "data/evalproto.h"
#include "text/norm.h"

/* --- lenv ------------------------------------------------------------------ */

/* Vectors from the offline cache (rank_vec_fn). */
static int vc_vec(void *ud, const char *q, size_t len, float *out) {
    lenv *e = ud;
    int oom = 0;
    const float *v = rank_vcache_get(e->vc, q, len, &oom);
    if (oom) return -1;
    if (!v) return 0;
    memcpy(out, v, e->dims * sizeof(float));
    return 1;
}

int lenv_init(lenv *e, const trie *t, const rank_history *h, rank_vcache *vc, uint32_t dims, unsigned topn) {
    memset(e, 0, sizeof *e);
    e->t = t;
    e->hist = h;
    e->vc = vc;
    e->dims = dims;
    e->topn = topn;
    if (rank_req_init(&e->req, vc ? vc_vec : NULL, e)) return -1;
    e->lc = e->req.lc;
    return 0;
}

void lenv_set_gen(lenv *e, const rank_gen *g, unsigned max) { rank_req_set_gen(&e->req, g, max); }

void lenv_set_match(lenv *e, const rank_match *m) { rank_req_set_match(&e->req, m); }

void lenv_gen_opts_default(lenv_gen_opts *o) {
    o->cands = RANK_GEN_DEFAULT_CANDS;
    o->suffixes = RANK_GEN_DEFAULT_SUFFIXES;
    o->words = RANK_GEN_DEFAULT_WORDS;
}

int lenv_gen_opt(lenv_gen_opts *o, int which, const char *v, char *err, size_t errlen) {
    uint64_t x;
    static const char *const name[] = {"candidates", "suffixes", "words"};
    uint64_t max = which == 2 ? RANK_GEN_MAX_WORDS : which ? RANK_GEN_MAX_SUFFIXES : RANK_MAX_GEN_CANDS;
    uint64_t min = which == 1; /* --gen-words 0: every word counts as known */
    if (qparse_u64(v, strlen(v), &x) || x < min || x > max) {
        snprintf(err, errlen, "--gen-%s wants %llu..%llu, not '%s'", name[which], (unsigned long long)min,
                 (unsigned long long)max, v);
        return -1;
    }
    *(which == 2 ? &o->words : which ? &o->suffixes : &o->cands) = x;
    return 0;
}

rank_gen *lenv_gen_build(const trie *t, const lenv_gen_opts *o, const char *cmd, int *fail) {
    *fail = 0;
    if (!o->cands) return NULL;
    rank_gen *g = NULL;
    rank_gen_info gi;
    int rc = rank_gen_build(t, o->suffixes, o->words, &g, &gi);
    if (rc) {
        fprintf(stderr, "qac %s: cannot build the suffix index: %s\n", cmd, trie_strerror(rc));
        *fail = 1;
        return NULL;
    }
    LOG_I("gen.built",
          "keys=%llu occurrences=%llu distinct=%llu suffixes=%llu pruned=%llu words=%llu words_distinct=%llu "
          "words_pruned=%llu bytes=%llu word_bytes=%llu secs=%.2f",
          (unsigned long long)gi.keys, (unsigned long long)gi.occurrences, (unsigned long long)gi.distinct,
          (unsigned long long)gi.kept, (unsigned long long)gi.pruned, (unsigned long long)gi.words,
          (unsigned long long)gi.words_distinct, (unsigned long long)gi.words_pruned, (unsigned long long)gi.bytes,
          (unsigned long long)gi.word_bytes, gi.secs);
    return g;
}

void lenv_free(lenv *e) {
    rank_req_free(&e->req);
    memset(e, 0, sizeof *e);
}

int lenv_event(lenv *e, const char *user, size_t ulen, int64_t now) {
    e->u = rank_history_user(e->hist, user, ulen);
    size_t ns = rank_huser_session(e->hist, e->u, now, e->sess, RANK_REQ_MAX_SESS);
    rank_req_session(&e->req, e->dims, e->sess, ns, now);
    return 0;
}

int lenv_prefix(lenv *e, const char *p, size_t plen) {
    if (rank_req_gather(&e->req, e->t, e->u, NULL, p, plen, e->topn) < 0) return -1;
    return rank_req_prepare(&e->req);
}

long lenv_find(const lenv *e, size_t n, const char *q, size_t qlen) { return rank_req_find(&e->req, n, q, qlen); }

/* --- qac train ------------------------------------------------------------- */

#define TRAIN_DEFAULT_SPLIT EP_DEFAULT_SPLIT
#define TRAIN_MAX_EPOCHS 100

static void usage(FILE *f) {
    fprintf(f,
            "usage: qac train -i INDEX --embeddings EMB -o MODEL [--split TIME] [--holdout TIME]\n"
            "                 [--loss pairwise|logistic] [--alpha A] [--beta B] [--l1 L1] [--l2 L2]\n"
            "                 [--bits N] [--epochs E] [--topn N] [--prefixes eval|all]\n"
            "                 [--causal all|user] [--base heuristic|none] [--fold F/K]\n"
            "                 [--gen-candidates N [--gen-suffixes N] [--gen-words N]] LOG...\n"
            "\n"
            "Learns the learned ranker's model (FTRL-Proximal) by replaying AOL-format logs in\n"
            "time order: each event's prefixes are impressions, its query the positive.\n"
            "\n"
            "  -i, --index INDEX  trie snapshot with the global counts (qac build --until SPLIT)\n"
            "  --embeddings EMB   query embeddings (qac embed)\n"
            "  -o MODEL           model file to write (atomically)\n"
            "  --split TIME       only events before TIME are used (default %s)\n"
            "  --holdout TIME     learn from events before TIME, score those in [TIME, split)\n"
            "  --loss L           pairwise (default) or logistic\n"
            "  --base B           heuristic (default): learn on top of the heuristic's score, so the\n"
            "                     model starts as the heuristic and small data cannot do much harm;\n"
            "                     none: the weights alone\n"
            "  --fold F/K         learn only from users outside fold F of K (MD5(AnonID) mod K):\n"
            "                     the training side of a user-disjoint split (qac eval --fold F/K)\n"
            "  --alpha, --beta, --l1, --l2  FTRL parameters (defaults 0.02, 1, 0.5, 1)\n"
            "  --bits N           2^N model coordinates (%d..%d, default %d)\n"
            "  --epochs E         passes over the log (default 1)\n"
            "  --topn N           trie candidates per prefix (default %d)\n"
            "  --gen-candidates N generated completions per prefix (0..%d, default %d: none): the\n"
            "                     prefix's first words + a frequent suffix of the index's keys; the\n"
            "                     index holds the training queries' own suffixes, so this leaks (see\n"
            "                     ranking/gen.h): train without, serve and eval with them\n"
            "  --gen-suffixes N   suffixes in their index (1..%d, default %d)\n"
            "  --gen-words N      known words kept (0..%d, default %d; 0: every word known; past N\n"
            "                     the rarest are dropped); a generated completion that keeps another\n"
            "                     word ranks after every typo and infix match\n"
            "  --prefixes P       eval: the protocol's len1..len5 + rand (default); all: every length\n"
            "  --causal C         all: popularity as of each event, every user's later events taken\n"
            "                     out of the index's counts (default); user: only this user's\n"
            "                     (holdout scoring always uses all)\n",
            TRAIN_DEFAULT_SPLIT, RANK_FTRL_MIN_BITS, RANK_FTRL_MAX_BITS, RANK_FTRL_DEFAULT_BITS,
            RANK_LEARN_TOPN, RANK_MAX_GEN_CANDS, RANK_GEN_TRAIN_DEFAULT_CANDS, RANK_GEN_MAX_SUFFIXES,
            RANK_GEN_DEFAULT_SUFFIXES, RANK_GEN_MAX_WORDS, RANK_GEN_DEFAULT_WORDS);
}

typedef struct hold_q {
    ep_quality learned, personal, heuristic;
    /* rand prefixes: by whether the user issued the target before (1) or not
     * (0): count, target among the candidates, learned's sum of 1/rank */
    uint64_t n[2], pool[2];
    double rr[2];
} hold_q;

/* Causal popularity: the index counts every event before the split, so a
 * candidate's g includes issues of it that come later than the event being
 * replayed, which a live index would not have counted yet -- and which leak
 * the future: a query another user issues next week is already a candidate.
 * GLOBAL mode (default): g -= (count of the query over the replayed part,
 * all users) - (count so far, all users); USER mode (the former reading,
 * --causal user): only this user's later issues are subtracted. `tot` and
 * `sofar` are counters (rank_history users: CAUSAL_ALL for every user's
 * events, else the user). A candidate left with g <= 0 that the user never
 * issued would not exist: it is dropped. The trie's candidates then get
 * their trank again by causal g (desc, text asc), as a live trie would
 * order them. Returns the new candidate count. */
#define CAUSAL_ALL "*"
static int text_lt(const rank_cand *a, const rank_cand *b) {
    int c = memcmp(a->q, b->q, a->len < b->len ? a->len : b->len);
    return c ? c < 0 : a->len < b->len;
}
static size_t causal(lenv *e, size_t n, const rank_huser *tot, const rank_huser *sofar) {
    if (!tot) return n;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        rank_cand *c = &e->lc[i].c;
        const rank_hentry *h = rank_huser_get(tot, c->q, c->len);
        const rank_hentry *s = sofar ? rank_huser_get(sofar, c->q, c->len) : NULL;
        uint32_t before = sofar ? (s ? s->count : 0) : c->u;
        if (h && h->count > before) c->g -= (double)(h->count - before);
        if (c->g < 0) c->g = 0;
        if (c->g <= 0 && c->u == 0 && !c->gen) continue; /* a generated text need not exist */
        e->lc[m++] = e->lc[i];
    }
    /* re-rank the trie's candidates (a prefix of lc, trank 1..k) by causal g */
    size_t k = 0;
    while (k < m && e->lc[k].trank) k++;
    for (size_t i = 1; i < k; i++) { /* insertion sort: nearly sorted already */
        rank_lcand x = e->lc[i];
        size_t j = i;
        while (j > 0 && (e->lc[j - 1].c.g < x.c.g ||
                         (e->lc[j - 1].c.g == x.c.g && text_lt(&x.c, &e->lc[j - 1].c)))) {
            e->lc[j] = e->lc[j - 1];
            j--;
        }
        e->lc[j] = x;
    }
    for (size_t i = 0; i < k; i++) e->lc[i].trank = (uint32_t)i + 1;
    return m;
}

static unsigned rank_in(const rank_lcand *c, size_t n, long pos) {
    /* 1-based rank of c[pos] under (score desc, text asc), 0 when over EP_TOPK */
    unsigned r = 1;
    for (size_t i = 0; i < n; i++)
        if ((long)i != pos && rank_cand_before(&c[i].c, &c[pos].c) && ++r > EP_TOPK) return 0;
    return r;
}

int train_main(int argc, char **argv) {
    const char *index = NULL, *embp = NULL, *outp = NULL, *split_s = TRAIN_DEFAULT_SPLIT, *hold_s = NULL;
    const char *loss_s = "pairwise", *pref_s = "eval", *causal_s = "all", *base_s = "heuristic";
    rank_ftrl_opts fo;
    rank_ftrl_opts_default(&fo);
    uint64_t epochs = 1, topn = RANK_LEARN_TOPN, bits = fo.bits;
    enum { O_EMB = 256, O_SPLIT, O_HOLD, O_LOSS, O_PREF, O_CAUSAL, O_ALPHA, O_BETA, O_L1, O_L2, O_BITS, O_EPOCHS,
           O_TOPN, O_BASE, O_FOLD, O_GENC, O_GENS, O_GENW };
    lenv_gen_opts go;
    lenv_gen_opts_default(&go);
    go.cands = RANK_GEN_TRAIN_DEFAULT_CANDS; /* the index would leak the training targets (ranking/gen.h) */
    rank_gen *gen = NULL;
    unsigned fold = 0, nfolds = 0;
    static const cli_opt options[] = {
        {'i', "index", CLI_VALUE},
        {O_EMB, "embeddings", CLI_VALUE},
        {'o', NULL, CLI_VALUE},
        {O_SPLIT, "split", CLI_VALUE},
        {O_HOLD, "holdout", CLI_VALUE},
        {O_LOSS, "loss", CLI_VALUE},
        {O_PREF, "prefixes", CLI_VALUE},
        {O_CAUSAL, "causal", CLI_VALUE},
        {O_ALPHA, "alpha", CLI_VALUE},
        {O_BETA, "beta", CLI_VALUE},
        {O_L1, "l1", CLI_VALUE},
        {O_L2, "l2", CLI_VALUE},
        {O_BITS, "bits", CLI_VALUE},
        {O_EPOCHS, "epochs", CLI_VALUE},
        {O_TOPN, "topn", CLI_VALUE},
        {O_BASE, "base", CLI_VALUE},
        {O_FOLD, "fold", CLI_VALUE},
        {O_GENC, "gen-candidates", CLI_VALUE},
        {O_GENS, "gen-suffixes", CLI_VALUE},
        {O_GENW, "gen-words", CLI_VALUE},
    };
    cli cl;
    cli_init(&cl, "train", usage, options, ARRAY_LEN(options), argc, argv);
    int opt;
    while ((opt = cli_getopt(&cl)) >= 0) {
        const char *v = cl.val;
        double *dv = NULL;
        uint64_t *uv = NULL;
        switch (opt) {
        case 'i': index = v; break;
        case O_EMB: embp = v; break;
        case 'o': outp = v; break;
        case O_SPLIT: split_s = v; break;
        case O_HOLD: hold_s = v; break;
        case O_LOSS: loss_s = v; break;
        case O_PREF: pref_s = v; break;
        case O_CAUSAL: causal_s = v; break;
        case O_ALPHA: dv = &fo.alpha; break;
        case O_BETA: dv = &fo.beta; break;
        case O_L1: dv = &fo.l1; break;
        case O_L2: dv = &fo.l2; break;
        case O_BITS: uv = &bits; break;
        case O_EPOCHS: uv = &epochs; break;
        case O_TOPN: uv = &topn; break;
        case O_BASE: base_s = v; break;
        case O_FOLD:
            if (ep_fold_parse(v, &fold, &nfolds))
                return cli_error(&cl, "--fold wants F/K with 0 <= F < K and 2 <= K <= %d, not '%s'", EP_MAX_FOLDS, v);
            break;
        case O_GENC:
        case O_GENS:
        case O_GENW: {
            char gerr[128];
            if (lenv_gen_opt(&go, opt == O_GENW ? 2 : opt == O_GENS, v, gerr, sizeof gerr))
                return cli_error(&cl, "%s", gerr);
            break;
        }
        }
        if (dv && (qparse_double(v, strlen(v), dv) || *dv < 0))
            return cli_error(&cl, "%s wants a non-negative number, not '%s'", cl.opt, v);
        if (uv && qparse_u64(v, strlen(v), uv)) return cli_error(&cl, "%s wants a whole number, not '%s'", cl.opt, v);
    }
    if (opt == CLI_EXIT) return cl.status;
    if (!index || !embp || !outp)
        return cli_error(&cl, "missing %s", !index ? "-i INDEX" : !embp ? "--embeddings EMB" : "-o MODEL");
    int i = cl.ind;
    if (i >= argc) return cli_error(&cl, "no LOG given");
    if (!strcmp(loss_s, "pairwise")) fo.loss = RANK_LOSS_PAIRWISE;
    else if (!strcmp(loss_s, "logistic")) fo.loss = RANK_LOSS_LOGISTIC;
    else return cli_error(&cl, "--loss wants pairwise or logistic, not '%s'", loss_s);
    if (!strcmp(base_s, "heuristic")) fo.base = RANK_FTRL_BASE_HEURISTIC;
    else if (!strcmp(base_s, "none")) fo.base = RANK_FTRL_BASE_NONE;
    else return cli_error(&cl, "--base wants heuristic or none, not '%s'", base_s);
    int causal_all = !strcmp(causal_s, "all");
    if (!causal_all && strcmp(causal_s, "user"))
        return cli_error(&cl, "--causal wants all or user, not '%s'", causal_s);
    int all_prefixes = !strcmp(pref_s, "all");
    if (!all_prefixes && strcmp(pref_s, "eval"))
        return cli_error(&cl, "--prefixes wants eval or all, not '%s'", pref_s);
    if (bits < RANK_FTRL_MIN_BITS || bits > RANK_FTRL_MAX_BITS)
        return cli_error(&cl, "--bits wants %d..%d", RANK_FTRL_MIN_BITS, RANK_FTRL_MAX_BITS);
    if (epochs < 1 || epochs > TRAIN_MAX_EPOCHS) return cli_error(&cl, "--epochs wants 1..%d", TRAIN_MAX_EPOCHS);
    if (topn < 1 || topn > TRIE_MAX_K) return cli_error(&cl, "--topn wants 1..%d", TRIE_MAX_K);
    if (!(fo.alpha > 0)) return cli_error(&cl, "--alpha must be positive");
    if (!(fo.beta > 0)) return cli_error(&cl, "--beta must be positive");
    fo.bits = (uint32_t)bits;
    int64_t split, hold = INT64_MAX;
    if (qparse_time(split_s, strlen(split_s), &split))
        return cli_error(&cl, "--split wants YYYY-MM-DD[ HH:MM:SS], not '%s'", split_s);
    if (hold_s && qparse_time(hold_s, strlen(hold_s), &hold))
        return cli_error(&cl, "--holdout wants YYYY-MM-DD[ HH:MM:SS], not '%s'", hold_s);
    if (hold > split) hold = split;

    uint64_t t0 = qtime_ns();
    char err[512];
    trie *t = NULL;
    rank_emb *emb = NULL;
    rank_vcache *vc = NULL;
    rank_ftrl *m = NULL;
    rank_history *hist = NULL, *full = NULL, *sofar = NULL;
    lenv env;
    int status = 1, have_env = 0;
    ep_events evs;
    ep_events_init(&evs);
    if (trie_load(index, &t, err, sizeof err)) {
        fprintf(stderr, "qac train: cannot load index %s: %s\n", index, err);
        goto out;
    }
    if (rank_emb_load(embp, &emb, err, sizeof err)) {
        fprintf(stderr, "qac train: cannot load embeddings: %s\n", err);
        goto out;
    }
    int gfail;
    gen = lenv_gen_build(t, &go, "train", &gfail);
    if (gfail) goto out;
    m = rank_ftrl_new(&fo);
    vc = rank_vcache_new(emb);
    if (!m || !vc) {
        fprintf(stderr, "qac train: out of memory\n");
        goto out;
    }
    for (; i < argc; i++)
        if (ep_events_read(&evs, argv[i], EP_AOL_ONLY, "qac train")) goto out;
    ep_events_sort(&evs);
    rank_history_opts fho = {0, 0, 1, RANK_SESSION_GAP};
    full = rank_history_new(&fho); /* every user's counts over the replayed part */
    if (!full) goto oom;
    for (size_t k = 0; k < evs.n; k++) {
        const ep_event *e = &evs.ev[k];
        if (e->time >= split) continue;
        int rc = rank_history_accept(full, ep_user(&evs, e), e->userlen, ep_query(&evs, e), e->querylen, e->time);
        if (!rc) rc = rank_history_accept(full, CAUSAL_ALL, 1, ep_query(&evs, e), e->querylen, e->time);
        if (rc) {
            fprintf(stderr, "qac train: history: %s\n", rank_history_strerror(rc));
            goto out;
        }
    }
    int tty = isatty(2);
    uint64_t imp = 0, missing = 0, steps = 0, used_events = 0;
    hold_q hq;
    memset(&hq, 0, sizeof hq);
    for (uint64_t ep = 0; ep < epochs; ep++) {
        rank_history_opts ho = {0, 0, RANK_REQ_MAX_SESS, RANK_SESSION_GAP};
        rank_history_free(hist);
        hist = rank_history_new(&ho);
        rank_history_free(sofar);
        sofar = rank_history_new(&fho); /* every user's counts so far (CAUSAL_ALL) */
        if (!sofar) goto oom;
        if (have_env) lenv_free(&env);
        if (!hist || lenv_init(&env, t, hist, vc, emb->dims, (unsigned)topn)) {
            fprintf(stderr, "qac train: out of memory\n");
            goto out;
        }
        have_env = 1;
        lenv_set_gen(&env, gen, (unsigned)go.cands);
        int last_hold = ep + 1 == epochs && hold < split;
        for (size_t k = 0; k < evs.n; k++) {
            const ep_event *e = &evs.ev[k];
            if (e->time >= split) continue;
            const char *user = ep_user(&evs, e), *q = ep_query(&evs, e);
            int scoring = e->time >= hold;
            if (scoring && !last_hold) continue;
            size_t ncp = qutf8_count(q, e->querylen);
            /* a user of the held-out fold: only the history (and the causal counts) see the event */
            int out_fold = nfolds && ep_user_fold(user, e->userlen, nfolds) == fold;
            if (ncp >= EP_MIN_CP && !out_fold) {
                if (lenv_event(&env, user, e->userlen, e->time)) goto oom;
                size_t lens[EP_NTAGS + 512];
                int tags[EP_NTAGS + 512];
                int np;
                if (all_prefixes && !scoring) {
                    np = 0;
                    for (size_t L = 1; L < ncp && np < (int)ARRAY_LEN(lens); L++) lens[np] = L, tags[np++] = 0;
                } else {
                    np = ep_prefixes(q, e->querylen, ncp, lens, tags);
                }
                for (int pi = 0; pi < np; pi++) {
                    size_t plen = ep_cp_offset(q, e->querylen, lens[pi]);
                    int n = lenv_prefix(&env, q, plen);
                    if (n < 0) goto oom;
                    if (causal_all || scoring) /* the holdout is always scored with causal g */
                        n = (int)causal(&env, (size_t)n, rank_history_user(full, CAUSAL_ALL, 1),
                                        rank_history_user(sofar, CAUSAL_ALL, 1));
                    else
                        n = (int)causal(&env, (size_t)n, rank_history_user(full, user, e->userlen), NULL);
                    long pos = lenv_find(&env, (size_t)n, q, e->querylen);
                    if (scoring) {
                        unsigned rl = 0, rp = 0, rh = 0;
                        if (pos >= 0) {
                            rank_learned_score(m, &env.req.x, env.lc, (size_t)n);
                            rl = rank_in(env.lc, (size_t)n, pos);
                            for (int c = 0; c < n; c++)
                                env.lc[c].c.score = log1p(env.lc[c].c.g) + 3.0 * log1p((double)env.lc[c].c.u);
                            rp = rank_in(env.lc, (size_t)n, pos);
                            rank_ctx hc = {e->time, env.req.x.last, env.req.x.lastlen};
                            for (int c = 0; c < n; c++) rank_score_heuristic(&env.lc[c].c, 1, &hc);
                            rh = rank_in(env.lc, (size_t)n, pos);
                        }
                        double rrl = ep_record(&hq.learned, tags[pi], rl);
                        if (tags[pi] == EP_TAG_RAND) {
                            int seen = rank_huser_get(env.u, q, e->querylen) != NULL;
                            hq.n[seen]++;
                            hq.pool[seen] += pos >= 0;
                            hq.rr[seen] += rrl;
                        }
                        ep_record(&hq.personal, tags[pi], rp);
                        ep_record(&hq.heuristic, tags[pi], rh);
                        continue;
                    }
                    imp++;
                    if (pos < 0) {
                        missing++;
                        continue;
                    }
                    int s = rank_learn_accept(m, &env.req.x, env.lc, (size_t)n, (size_t)pos);
                    if (s > 0) steps += (uint64_t)s;
                }
                if (!scoring) used_events++;
            }
            int rc = rank_history_accept(hist, user, e->userlen, q, e->querylen, e->time);
            if (!rc) rc = rank_history_accept(sofar, CAUSAL_ALL, 1, q, e->querylen, e->time);
            if (rc) {
                fprintf(stderr, "qac train: history: %s\n", rank_history_strerror(rc));
                goto out;
            }
            if (tty && (k & 4095) == 0)
                fprintf(stderr, "\rqac train: epoch %llu/%llu %5.1f%%  impressions %llu", (unsigned long long)ep + 1,
                        (unsigned long long)epochs, 100.0 * (double)k / (double)evs.n, (unsigned long long)imp);
        }
    }
    if (tty) fprintf(stderr, "\r%70s\r", "");
    if (rank_ftrl_save(m, outp, err, sizeof err)) {
        fprintf(stderr, "qac train: %s\n", err);
        goto out;
    }
    LOG_I("train.done", "events=%llu impressions=%llu skipped_no_positive=%llu steps=%llu nonzero_weights=%zu "
          "loss=%s base=%s secs=%.1f model=%s",
          (unsigned long long)used_events, (unsigned long long)imp, (unsigned long long)missing,
          (unsigned long long)steps, rank_ftrl_nonzero(m), loss_s, base_s, (double)(qtime_ns() - t0) / 1e9, outp);
    if (hold < split) {
        printf("holdout [%s, %s): MRR@10 (causal g, top %llu candidates)\n%-10s", hold_s, split_s,
               (unsigned long long)topn, "system");
        for (int tg = 0; tg < EP_NTAGS; tg++) printf(" %7s", ep_tag_names[tg]);
        printf("  %7s %7s %7s\n", "SR@1", "SR@3", "SR@10");
        const ep_quality *qs[3] = {&hq.learned, &hq.personal, &hq.heuristic};
        const char *nm[3] = {"learned", "personal", "heuristic"};
        for (int s = 0; s < 3; s++) {
            printf("%-10s", nm[s]);
            for (int tg = 0; tg < EP_NTAGS; tg++) printf(" %7.4f", ep_mrr(qs[s], tg));
            for (int w = 0; w < 3; w++) printf(" %s%7.4f", w ? "" : " ", ep_sr(qs[s], w));
            printf("\n");
        }
        for (int sn = 1; sn >= 0; sn--)
            printf("rand, target %s by the user: %llu prefixes, among the candidates %.4f, learned MRR@10 %.4f\n",
                   sn ? "issued before" : "never issued", (unsigned long long)hq.n[sn],
                   hq.n[sn] ? (double)hq.pool[sn] / (double)hq.n[sn] : 0.0,
                   hq.n[sn] ? hq.rr[sn] / (double)hq.n[sn] : 0.0);
    }
    status = 0;
    goto out;
oom:
    fprintf(stderr, "qac train: out of memory\n");
out:
    if (have_env) lenv_free(&env);
    rank_history_free(hist);
    rank_history_free(full);
    rank_history_free(sofar);
    rank_vcache_free(vc);
    rank_ftrl_free(m);
    rank_emb_free(emb);
    ep_events_free(&evs);
    rank_gen_free(gen);
    trie_free(t);
    return status;
}
