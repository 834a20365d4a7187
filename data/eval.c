/* eval.c -- `qac eval`: MRR@10 and SR@k of the baselines under
 * ../shared/EVALUATION.md, offline and in-process.
 *
 * Pipeline:
 *   1. Load the index (a trie snapshot from `qac build --until SPLIT`): its
 *      scores are the frozen global counts g.
 *   2. Read every LOG with the qlog reader (aol format: events are already
 *      grouped by (AnonID, norm_eval query, QueryTime)); keep each event's
 *      user, norm_eval query, time and file order in one string arena.
 *   3. Sort by (time, AnonID, file order). AnonIDs compare as numbers when
 *      both are decimal (the AOL ids), else bytewise.
 *   4. Replay: an event before the split is only accepted into the user
 *      history (ranking/history_mem.c, unbounded); a later one whose query has
 *      >= 3 code points is scored first, then accepted.
 *   5. Per scored event: prefixes len1..len5 (< n code points) and rand, of
 *      length 2 + (MD5(query) mod (n - 2)); each system's top 10; RR = 1 /
 *      rank of the target (bytewise equality of norm_eval forms), else 0.
 *
 * Readings of the protocol (each one reproduces every reference figure of
 * EVALUATION.md to four decimals on aol-users-dev.tsv; checked by
 * tests/it_eval.sh):
 *   - g is frozen at the split for all three systems: the index is never
 *     updated by the replay (a live g was not needed to match).
 *   - "ties by text" = the candidate's normalized text, ascending in code
 *     point (= UTF-8 byte) order; the same order trie_topk uses for MPC.
 *   - the user's count u counts every earlier event of that user (history
 *     and already-scored test events), excluding the event being scored.
 *   - heuristic: d in fractional days ((now - last) / 86400), `last` is the
 *     user's previous event when under 30 min earlier (even at the same
 *     second), W() = distinct space-separated words.
 *   - seen = the target is in the user's history before this event; with
 *     context = the user's previous event is under 30 minutes earlier.
 * Trie lookups use the norm_eval prefix as is. An index built with `qac build
 * --keys eval` has norm_eval keys, and its figures equal EVALUATION.md's
 * exactly; a serving index (--keys match, accents folded) merges a few
 * accented queries into ASCII keys, which moves some figures in the 4th
 * decimal -- eval says so on stderr.
 *
 * Learned: rand prefixes are also counted by where the target's candidate
 * came from (the trie's top N, the user's history, both, generated -- with
 * --gen-candidates, ranking/gen.h -- or not a candidate)
 * with the MRR@10 of each part: the table says how often each source supplied
 * the accepted suggestion and what reranking made of it.
 *
 * Event loading and ordering, the prefix set and the MRR/SR accumulators
 * live in data/evalproto.c, shared with `qac replay`.
 *
 * --fold F/K: events of users outside fold F are skipped as if absent (a
 * user's history holds only that user's events, and the index's g is
 * frozen, so the fold's figures are what the full run gives those users).
 *
 * Limits: EVAL_MAX_SYSTEMS systems; queries are at most QLOG_MAX_QUERY bytes
 * before normalization (the reader skips longer ones and says so).
 */
#include "data/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cli.h"
#include "common/hist.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "data/evalproto.h"
#include "data/qlog.h"
#include "data/train.h"
#include "ranking/baseline.h"
#include "ranking/history_mem.h"
#include "ranking/learned.h"
#include "text/norm.h"
#include "trie/trie.h"

#define EVAL_TOPK EP_TOPK
#define EVAL_MIN_CP EP_MIN_CP
#define EVAL_NTAGS EP_NTAGS
#define EVAL_MAX_SYSTEMS 4
#define EVAL_DEFAULT_SPLIT EP_DEFAULT_SPLIT /* EVALUATION.md */
#define EVAL_SESSION_GAP EP_SESSION_GAP
#define EVAL_NORM_CAP (QLOG_MAX_QUERY * NORM_MAX_GROWTH)
#define EVAL_MAX_TRAIN 64             /* --train files */

#define tag_names ep_tag_names

enum { SYS_MPC, SYS_PERSONAL, SYS_HEURISTIC, SYS_LEARNED };
static const char *const sys_names[EVAL_MAX_SYSTEMS] = {"mpc", "personal", "heuristic", "learned"};

/* Breakdown groups of scored events. */
enum { GRP_SEEN, GRP_UNSEEN, GRP_CTX, GRP_NOCTX, NGRP };
static const char *const grp_names[NGRP] = {"seen", "unseen", "with_context", "without_context"};

/* Where the learned system's candidate for a rand prefix's target came from:
 * the trie's top N only, the user's history only, both, generated (no key),
 * generated_key (generated, and a key of the index beyond the top N), an
 * infix or a typo match (--infix, --fuzzy: ranking/request.h), or nowhere
 * (the target was not a candidate: no reranking can find it). */
enum { SRC_TRIE, SRC_HIST, SRC_BOTH, SRC_GEN, SRC_GENKEY, SRC_INFIX, SRC_TYPO, SRC_NONE, NSRC };
static const char *const src_names[NSRC] = {"trie", "history", "trie_and_history", "generated",
                                            "generated_key", "infix", "typo", "not_a_candidate"};

typedef struct metrics {
    ep_quality q;
    double grp_rr[NGRP]; /* rand MRR per group */
} metrics;

typedef struct eval_state {
    const trie *t;
    rank_history *hist;
    rank_cands cands;
    int on[EVAL_MAX_SYSTEMS];
    metrics m[EVAL_MAX_SYSTEMS];
    uint64_t n_tag[EVAL_NTAGS];
    uint64_t n_grp[NGRP];
    uint64_t n_events, n_history, n_test, n_scored, n_short;
    /* learned: the model, its candidates (top `topn` + history) and the
     * rerank cost per call (features + model + top 10), in ns */
    rank_ftrl *model;
    lenv env;
    hist rerank;
    hist request; /* the whole request: gather (+ generated) + vectors + rerank */
    uint64_t rerank_cands;
    /* learned, rand prefixes: by the target's source, count and 1/rank sum */
    uint64_t src_n[NSRC];
    double src_rr[NSRC];
} eval_state;

static void usage(FILE *f) {
    fprintf(f,
            "usage: qac eval (-i INDEX | --train FILE...) [--split TIME] [--json FILE] [--systems LIST]\n"
            "                [--limit N] [--fold F/K] [--embeddings EMB --model MODEL [--topn N]\n"
            "                [--gen-candidates N [--gen-suffixes N] [--gen-words N]] [--fuzzy 0|1|2]\n"
            "                [--infix]] LOG...\n"
            "\n"
            "Replays query logs (AOL format) in time order and measures how well each\n"
            "system completes the prefixes of every test query (../shared/EVALUATION.md).\n"
            "\n"
            "  -i, --index INDEX  trie snapshot with the global counts (qac build --until SPLIT)\n"
            "  --train FILE       instead of an index, count global popularity from FILE in the\n"
            "                     protocol's own normalization: its AOL events before the split,\n"
            "                     one per line of a query list (repeatable; see eval.c)\n"
            "  --split TIME       YYYY-MM-DD[ HH:MM:SS] UTC; earlier events only feed user\n"
            "                     history, later ones are scored (default %s)\n"
            "  --json FILE        also write the figures as JSON to FILE\n"
            "  --systems LIST     comma-separated subset of mpc,personal,heuristic,learned\n"
            "                     (default all; learned only with --model)\n"
            "  --limit N          stop after N scored events (default: all)\n"
            "  --fold F/K         only the users of fold F of K (MD5(AnonID) mod K): the test side\n"
            "                     of a user-disjoint split (qac train --fold F/K learns from the\n"
            "                     others; data/folds.sh runs every fold)\n"
            "  --embeddings EMB   query embeddings for the learned system (qac embed)\n"
            "  --model MODEL      the learned system's model (qac train)\n"
            "  --topn N           learned: trie candidates per prefix (default %d)\n"
            "  --gen-candidates N learned: generated completions per prefix (0..%d, default %d; 0:\n"
            "                     none), ranked by the model (trained without them: ranking/gen.h)\n"
            "  --gen-suffixes N   learned: suffixes in their index (1..%d, default %d)\n"
            "  --gen-words N      learned: known words kept (0..%d, default %d; 0: every word known;\n"
            "                     past N the rarest are dropped); a generated completion that keeps\n"
            "                     another word ranks after every typo and infix match\n"
            "  --fuzzy N          learned: typo matches with up to N edits as candidates, as a\n"
            "                     ranked COMPLETE ... FUZZY N gathers them (default 0)\n"
            "  --infix            learned: infix matches (the word index) as candidates, as a\n"
            "                     ranked COMPLETE ... INFIX gathers them (INDEX.words is\n"
            "                     loaded when it is -i INDEX's, else the index is built)\n",
            EVAL_DEFAULT_SPLIT, RANK_LEARN_TOPN, RANK_MAX_GEN_CANDS, RANK_GEN_DEFAULT_CANDS, RANK_GEN_MAX_SUFFIXES,
            RANK_GEN_DEFAULT_SUFFIXES, RANK_GEN_MAX_WORDS, RANK_GEN_DEFAULT_WORDS);
}

static int parse_systems(const char *s, int on[EVAL_MAX_SYSTEMS]) {
    memset(on, 0, EVAL_MAX_SYSTEMS * sizeof *on);
    int any = 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        int found = 0;
        for (int i = 0; i < EVAL_MAX_SYSTEMS; i++)
            if (strlen(sys_names[i]) == n && !memcmp(sys_names[i], s, n)) on[i] = found = any = 1;
        if (!found) return -1;
        s += n;
        if (*s == ',') s++;
    }
    return any ? 0 : -1;
}

static unsigned rank_of(const rank_cand *c, size_t n, const char *q, size_t qlen) {
    for (size_t i = 0; i < n; i++)
        if (c[i].len == qlen && !memcmp(c[i].q, q, qlen)) return (unsigned)i + 1;
    return 0;
}

/* The best EVAL_TOPK of c[0..n) in rank_top's order, copied to top. */
static size_t top_lcands(const rank_lcand *c, size_t n, rank_cand *top) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m == EVAL_TOPK && !rank_cand_before(&c[i].c, &top[m - 1])) continue;
        size_t j = m < EVAL_TOPK ? m++ : m - 1;
        while (j > 0 && rank_cand_before(&c[i].c, &top[j - 1])) {
            top[j] = top[j - 1];
            j--;
        }
        top[j] = c[i].c;
    }
    return m;
}

static void record(eval_state *st, int sys, int tag, unsigned rank, const int grp[2]) {
    metrics *m = &st->m[sys];
    double rr = ep_record(&m->q, tag, rank);
    if (tag == EVAL_NTAGS - 1) {
        m->grp_rr[grp[0]] += rr;
        m->grp_rr[grp[1]] += rr;
    }
}

/* Scores one event against every enabled system. Returns 0 or -1 (OOM). */
static int score_event(eval_state *st, const char *user, size_t ulen, const char *q, size_t qlen,
                       size_t ncp, int64_t now) {
    const rank_huser *u = rank_history_user(st->hist, user, ulen);
    rank_ctx ctx = {now, NULL, 0};
    rank_hsess last;
    if (u && now - rank_huser_last_time(u) < EVAL_SESSION_GAP &&
        rank_huser_session(st->hist, u, now, &last, 1) == 1) {
        ctx.last = last.q;
        ctx.lastlen = last.len;
    }
    int grp[2] = {rank_huser_get(u, q, qlen) ? GRP_SEEN : GRP_UNSEEN, ctx.last ? GRP_CTX : GRP_NOCTX};
    st->n_grp[grp[0]]++;
    st->n_grp[grp[1]]++;

    size_t lens[EVAL_NTAGS];
    int tags[EVAL_NTAGS];
    int np = ep_prefixes(q, qlen, ncp, lens, tags);
    if (st->on[SYS_LEARNED] && lenv_event(&st->env, user, ulen, now)) return -1;

    for (int i = 0; i < np; i++) {
        size_t plen = ep_cp_offset(q, qlen, lens[i]);
        st->n_tag[tags[i]]++;
        if (st->on[SYS_MPC]) {
            trie_hit hits[EVAL_TOPK];
            int nh = trie_topk(st->t, q, plen, EVAL_TOPK, hits);
            unsigned r = 0;
            for (int k = 0; k < nh && !r; k++)
                if (hits[k].keylen == qlen && !memcmp(trie_hit_key(&hits[k]), q, qlen)) r = (unsigned)k + 1;
            record(st, SYS_MPC, tags[i], r, grp);
        }
        if (st->on[SYS_LEARNED]) {
            uint64_t tq = qtime_ns();
            int n = lenv_prefix(&st->env, q, plen);
            if (n < 0) return -1;
            uint64_t t0 = qtime_ns();
            rank_learned_score(st->model, &st->env.req.x, st->env.lc, (size_t)n);
            rank_cand top[EVAL_TOPK];
            size_t nt = top_lcands(st->env.lc, (size_t)n, top);
            uint64_t t1 = qtime_ns();
            hist_add(&st->rerank, t1 - t0);
            hist_add(&st->request, t1 - tq);
            st->rerank_cands += (uint64_t)n;
            unsigned r = rank_of(top, nt, q, qlen);
            record(st, SYS_LEARNED, tags[i], r, grp);
            if (tags[i] == EVAL_NTAGS - 1) {
                long pos = lenv_find(&st->env, (size_t)n, q, qlen);
                const rank_lcand *lc = pos >= 0 ? &st->env.lc[pos] : NULL;
                int src = !lc            ? SRC_NONE
                          : lc->c.gen      ? (lc->c.g > 0 ? SRC_GENKEY : SRC_GEN)
                          : lc->c.cls == RANK_CLS_INFIX ? SRC_INFIX
                          : lc->c.edits    ? SRC_TYPO
                          : !lc->trank     ? SRC_HIST
                          : lc->c.u        ? SRC_BOTH
                                           : SRC_TRIE;
                st->src_n[src]++;
                st->src_rr[src] += r ? 1.0 / r : 0.0;
            }
        }
        if (!st->on[SYS_PERSONAL] && !st->on[SYS_HEURISTIC]) continue;
        int n = rank_gather(&st->cands, st->t, u, q, plen, RANK_PERSONAL_TOPN, RANK_MAX_HIST_CANDS);
        if (n < 0) return -1;
        rank_cand *c = st->cands.c;
        if (st->on[SYS_PERSONAL]) {
            rank_score_personal(c, (size_t)n);
            size_t k = rank_top(c, (size_t)n, EVAL_TOPK);
            record(st, SYS_PERSONAL, tags[i], rank_of(c, k, q, qlen), grp);
        }
        if (st->on[SYS_HEURISTIC]) {
            rank_score_heuristic(c, (size_t)n, &ctx);
            size_t k = rank_top(c, (size_t)n, EVAL_TOPK);
            record(st, SYS_HEURISTIC, tags[i], rank_of(c, k, q, qlen), grp);
        }
    }
    return 0;
}

static double ratio(double a, uint64_t b) { return b ? a / (double)b : 0.0; }

static void print_table(const eval_state *st, const char *split, double secs) {
    printf("%-10s", "system");
    for (int t = 0; t < EVAL_NTAGS; t++) printf(" %7s", tag_names[t]);
    printf("  %7s %7s %7s\n", "SR@1", "SR@3", "SR@10");
    for (int s = 0; s < EVAL_MAX_SYSTEMS; s++) {
        if (!st->on[s]) continue;
        printf("%-10s", sys_names[s]);
        for (int t = 0; t < EVAL_NTAGS; t++) printf(" %7.4f", ep_mrr(&st->m[s].q, t));
        for (int k = 0; k < 3; k++) printf(" %s%7.4f", k ? "" : " ", ep_sr(&st->m[s].q, k));
        printf("\n");
    }
    printf("%-10s", "prefixes");
    for (int t = 0; t < EVAL_NTAGS; t++) printf(" %7llu", (unsigned long long)st->n_tag[t]);
    printf("\n\nMRR@10 on rand by group:\n%-16s %8s", "group", "events");
    for (int s = 0; s < EVAL_MAX_SYSTEMS; s++)
        if (st->on[s]) printf(" %9s", sys_names[s]);
    printf("\n");
    for (int g = 0; g < NGRP; g++) {
        printf("%-16s %8llu", grp_names[g], (unsigned long long)st->n_grp[g]);
        for (int s = 0; s < EVAL_MAX_SYSTEMS; s++)
            if (st->on[s]) printf(" %9.4f", ratio(st->m[s].grp_rr[g], st->n_grp[g]));
        printf("\n");
    }
    if (st->on[SYS_LEARNED]) {
        printf("\nrand targets by the source of learned's candidate (trie: the trie's top N, not in the user's "
               "history; history: only the user's history):\n"
               "%-16s %8s %8s %9s %9s\n", "source", "prefixes", "share", "mrr", "mrr_share");
        for (int k = 0; k < NSRC; k++)
            printf("%-16s %8llu %8.4f %9.4f %9.4f\n", src_names[k], (unsigned long long)st->src_n[k],
                   ratio((double)st->src_n[k], st->n_tag[EVAL_NTAGS - 1]), ratio(st->src_rr[k], st->src_n[k]),
                   ratio(st->src_rr[k], st->n_tag[EVAL_NTAGS - 1]));
    }
    printf("\nevents %llu (history %llu, test %llu), scored %llu, too short %llu; split %s; %.2f s\n",
           (unsigned long long)st->n_events, (unsigned long long)st->n_history,
           (unsigned long long)st->n_test, (unsigned long long)st->n_scored,
           (unsigned long long)st->n_short, split, secs);
}

/* --json: the figures, built in one buffer with common/json.h and written at
 * once. One line per system; figures with EP_JSON_DECIMALS decimals. */
static int write_json(const eval_state *st, const char *path, const char *split, double secs) {
    static const char *const event_keys[] = {"total", "history", "test", "scored", "too_short"};
    const uint64_t events[] = {st->n_events, st->n_history, st->n_test, st->n_scored, st->n_short};
    qbuf b;
    qbuf_init(&b);
    int rc = qbuf_puts(&b, "{\"systems\": {");
    const char *sep = "\n  ";
    for (int s = 0; s < EVAL_MAX_SYSTEMS; s++) {
        if (!st->on[s]) continue;
        double grp[NGRP];
        for (int g = 0; g < NGRP; g++) grp[g] = ratio(st->m[s].grp_rr[g], st->n_grp[g]);
        rc |= ep_json_key(&b, sep, sys_names[s]);
        sep = ",\n  ";
        rc |= qbuf_puts(&b, "{\"mrr\": ");
        rc |= ep_json_mrr(&b, &st->m[s].q);
        rc |= qbuf_puts(&b, ", \"sr\": ");
        rc |= ep_json_sr(&b, &st->m[s].q);
        rc |= qbuf_puts(&b, ", \"n\": ");
        rc |= qbuf_putu64(&b, st->n_scored);
        rc |= qbuf_puts(&b, ", \"mrr_rand_by_group\": {");
        rc |= ep_json_figures(&b, ", ", grp_names, grp, NGRP, EP_JSON_DECIMALS);
        rc |= qbuf_puts(&b, "}}");
    }
    rc |= qbuf_puts(&b, "\n},\n");
    if (st->on[SYS_LEARNED]) {
        double share[NSRC], mrr[NSRC];
        for (int k = 0; k < NSRC; k++) {
            share[k] = ratio((double)st->src_n[k], st->n_tag[EVAL_NTAGS - 1]);
            mrr[k] = ratio(st->src_rr[k], st->src_n[k]);
        }
        rc |= qbuf_puts(&b, "\"learned_rand_by_source\": {\"prefixes\": {");
        rc |= ep_json_counts(&b, ", ", src_names, st->src_n, NSRC);
        rc |= qbuf_puts(&b, "}, \"share\": {");
        rc |= ep_json_figures(&b, ", ", src_names, share, NSRC, EP_JSON_DECIMALS);
        rc |= qbuf_puts(&b, "}, \"mrr\": {");
        rc |= ep_json_figures(&b, ", ", src_names, mrr, NSRC, EP_JSON_DECIMALS);
        rc |= qbuf_puts(&b, "}},\n");
    }
    rc |= qbuf_puts(&b, "\"events\": {");
    rc |= ep_json_counts(&b, ", ", event_keys, events, ARRAY_LEN(events));
    rc |= qbuf_puts(&b, ", \"prefixes\": {");
    rc |= ep_json_counts(&b, ", ", tag_names, st->n_tag, EVAL_NTAGS);
    rc |= qbuf_puts(&b, "}, ");
    rc |= ep_json_counts(&b, ", ", grp_names, st->n_grp, NGRP);
    rc |= qbuf_puts(&b, "},\n\"split\": ");
    rc |= json_str(&b, split, strlen(split));
    rc |= qbuf_puts(&b, ",\n\"seconds\": ");
    rc |= json_fixed(&b, secs, 3);
    rc |= qbuf_puts(&b, "\n}\n");
    if (rc) fprintf(stderr, "qac eval: out of memory\n");
    else rc = ep_write_file("qac eval", path, b.data, b.len);
    qbuf_free(&b);
    return rc ? -1 : 0;
}

/* --train: global counts in norm_eval form, as EVALUATION.md defines them:
 * one per AOL event before the split (the reader groups rows into events),
 * one per line of a query list, or the count of a counts file. Returns 0 and
 * a new trie in *out, or -1 after a message. */
static int train_popularity(const char *const *files, int n, int64_t split, trie **out) {
    trie *t = trie_new();
    char *nq = qmalloc(EVAL_NORM_CAP);
    char err[512];
    if (!t || !nq) {
        fprintf(stderr, "qac eval: out of memory\n");
        goto fail;
    }
    for (int f = 0; f < n; f++) {
        qlog *r = qlog_open(files[f], QLOG_AUTO, 0, err, sizeof err);
        if (!r) {
            fprintf(stderr, "qac eval: %s\n", err);
            goto fail;
        }
        qlog_rec rec;
        int rc;
        uint64_t skipped = 0;
        while ((rc = qlog_next(r, &rec)) == 1) {
            if (rec.time != QLOG_NO_TIME && rec.time >= split) continue;
            int len = norm_eval(rec.query, rec.querylen, nq, EVAL_NORM_CAP);
            if (len <= 0 || (len == 1 && nq[0] == '-')) {
                skipped++;
                continue;
            }
            int trc = trie_incr(t, nq, (size_t)len, NULL, 0, rec.count, NULL);
            if (trc == TRIE_ETOOLONG) {
                skipped++;
            } else if (trc) {
                fprintf(stderr, "qac eval: %s: %s\n", files[f], trie_strerror(trc));
                qlog_close(r);
                goto fail;
            }
        }
        if (rc < 0) {
            fprintf(stderr, "qac eval: %s\n", qlog_error(r));
            qlog_close(r);
            goto fail;
        }
        qlog_print_stats(stderr, files[f], qlog_get_stats(r));
        if (skipped)
            fprintf(stderr, "qac eval: %s: %llu queries skipped (empty or too long once normalized)\n",
                    files[f], (unsigned long long)skipped);
        qlog_close(r);
    }
    qfree(nq);
    *out = t;
    return 0;
fail:
    qfree(nq);
    trie_free(t);
    return -1;
}

int eval_main(int argc, char **argv) {
    const char *index = NULL, *json = NULL, *split_s = EVAL_DEFAULT_SPLIT, *systems = NULL;
    const char *embp = NULL, *modelp = NULL;
    uint64_t limit = UINT64_MAX, topn = RANK_LEARN_TOPN;
    const char *train[EVAL_MAX_TRAIN];
    int ntrain = 0;
    unsigned fold = 0, nfolds = 0;
    enum { O_JSON = 256, O_SPLIT, O_TRAIN, O_SYSTEMS, O_EMB, O_MODEL, O_TOPN, O_LIMIT, O_FOLD, O_GENC, O_GENS, O_GENW,
           O_FUZZY, O_INFIX };
    unsigned fuzzy = 0;
    int infix = 0;
    trie_words *words = NULL;
    lenv_gen_opts go;
    lenv_gen_opts_default(&go);
    rank_gen *gen = NULL;
    static const cli_opt options[] = {
        {'i', "index", CLI_VALUE},
        {O_JSON, "json", CLI_VALUE},
        {O_SPLIT, "split", CLI_VALUE},
        {O_TRAIN, "train", CLI_VALUE},
        {O_SYSTEMS, "systems", CLI_VALUE},
        {O_EMB, "embeddings", CLI_VALUE},
        {O_MODEL, "model", CLI_VALUE},
        {O_TOPN, "topn", CLI_VALUE},
        {O_LIMIT, "limit", CLI_VALUE},
        {O_FOLD, "fold", CLI_VALUE},
        {O_GENC, "gen-candidates", CLI_VALUE},
        {O_GENS, "gen-suffixes", CLI_VALUE},
        {O_GENW, "gen-words", CLI_VALUE},
        {O_FUZZY, "fuzzy", CLI_VALUE},
        {O_INFIX, "infix", CLI_FLAG},
    };
    cli cl;
    cli_init(&cl, "eval", usage, options, ARRAY_LEN(options), argc, argv);
    int opt;
    while ((opt = cli_getopt(&cl)) >= 0) {
        const char *v = cl.val;
        switch (opt) {
        case 'i': index = v; break;
        case O_JSON: json = v; break;
        case O_SPLIT: split_s = v; break;
        case O_TRAIN:
            if (ntrain == EVAL_MAX_TRAIN) return cli_error(&cl, "more than %d --train files", EVAL_MAX_TRAIN);
            train[ntrain++] = v;
            break;
        case O_SYSTEMS: systems = v; break;
        case O_EMB: embp = v; break;
        case O_MODEL: modelp = v; break;
        case O_TOPN:
            if (qparse_u64(v, strlen(v), &topn) || topn < 1 || topn > TRIE_MAX_K)
                return cli_error(&cl, "--topn wants 1..%d, not '%s'", TRIE_MAX_K, v);
            break;
        case O_LIMIT:
            if (qparse_u64(v, strlen(v), &limit) || limit == 0)
                return cli_error(&cl, "--limit wants a positive number, not '%s'", v);
            break;
        case O_FOLD:
            if (ep_fold_parse(v, &fold, &nfolds))
                return cli_error(&cl, "--fold wants F/K with 0 <= F < K and 2 <= K <= %d, not '%s'", EP_MAX_FOLDS, v);
            break;
        case O_FUZZY:
            if (strlen(v) != 1 || v[0] < '0' || v[0] > '0' + TRIE_FUZZY_MAX_EDITS)
                return cli_error(&cl, "--fuzzy wants 0..%d, not '%s'", TRIE_FUZZY_MAX_EDITS, v);
            fuzzy = (unsigned)(v[0] - '0');
            break;
        case O_INFIX: infix = 1; break;
        case O_GENC:
        case O_GENS:
        case O_GENW: {
            char gerr[128];
            if (lenv_gen_opt(&go, opt == O_GENW ? 2 : opt == O_GENS, v, gerr, sizeof gerr))
                return cli_error(&cl, "%s", gerr);
            break;
        }
        }
    }
    if (opt == CLI_EXIT) return cl.status;
    if (!index == !ntrain)
        return cli_error(&cl, "%s",
                         index ? "give -i INDEX or --train FILE, not both" : "missing -i INDEX (or --train FILE)");
    int i = cl.ind;
    if (i >= argc) return cli_error(&cl, "no LOG given");
    int64_t split;
    if (qparse_time(split_s, strlen(split_s), &split))
        return cli_error(&cl, "--split wants YYYY-MM-DD[ HH:MM:SS], not '%s'", split_s);
    if (!modelp != !embp) return cli_error(&cl, "the learned system needs both --embeddings EMB and --model MODEL");
    if (!systems) systems = modelp ? "mpc,personal,heuristic,learned" : "mpc,personal,heuristic";
    eval_state st;
    memset(&st, 0, sizeof st);
    if (parse_systems(systems, st.on))
        return cli_error(&cl, "--systems wants a comma-separated subset of mpc,personal,heuristic,learned, not '%s'",
                         systems);
    if (st.on[SYS_LEARNED] && !modelp) return cli_error(&cl, "system learned needs --embeddings EMB --model MODEL");
    hist_init(&st.rerank);
    hist_init(&st.request);
    rank_emb *emb = NULL;
    rank_vcache *vc = NULL;

    uint64_t t0 = qtime_ns();
    char err[512];
    trie *t = NULL;
    int rc;
    if (index) {
        rc = trie_load(index, &t, err, sizeof err);
        if (rc) {
            fprintf(stderr, "qac eval: cannot load index %s: %s\n", index, err);
            return 1;
        }
        if (trie_tag(t) != NORM_FORM_EVAL)
            LOG_W("eval.index_form", "index=%s keys=%s msg=\"accents folded: figures can differ from "
                  "EVALUATION.md's in the 4th decimal; build it with 'qac build --keys eval' for exact ones\"",
                  index, norm_form_name((int)trie_tag(t)));
    } else if (train_popularity(train, ntrain, split, &t)) {
        return 1;
    }
    st.t = t;

    int status = 1;
    ep_events evs;
    ep_events_init(&evs);
    /* unbounded: the protocol's history is all of it; RANK_REQ_MAX_SESS session
     * queries for the learned system (the baselines read only the newest) */
    rank_history_opts ho = {0, 0, RANK_REQ_MAX_SESS, EVAL_SESSION_GAP};
    st.hist = rank_history_new(&ho);
    rank_cands_init(&st.cands);
    if (!st.hist) {
        fprintf(stderr, "qac eval: out of memory\n");
        goto out;
    }
    if (st.on[SYS_LEARNED]) {
        if (rank_emb_load(embp, &emb, err, sizeof err)) {
            fprintf(stderr, "qac eval: cannot load embeddings: %s\n", err);
            goto out;
        }
        if (rank_ftrl_load(modelp, &st.model, err, sizeof err)) {
            fprintf(stderr, "qac eval: cannot load model: %s\n", err);
            goto out;
        }
        vc = rank_vcache_new(emb);
        if (!vc || lenv_init(&st.env, t, st.hist, vc, emb->dims, (unsigned)topn)) {
            fprintf(stderr, "qac eval: out of memory\n");
            goto out;
        }
        int gfail;
        gen = lenv_gen_build(t, &go, "eval", &gfail);
        if (gfail) goto out;
        lenv_set_gen(&st.env, gen, (unsigned)go.cands);
        if (infix) {
            /* the index saved beside -i INDEX when it is that image's; else built */
            char why[512];
            int loaded;
            if ((rc = trie_words_open(index, t, &words, &loaded, why, sizeof why)) != TRIE_OK) {
                fprintf(stderr, "qac eval: cannot load or build the word index: %s\n", trie_words_strerror(rc));
                goto out;
            }
            if (why[0]) fprintf(stderr, "qac eval: the saved word index is not used (%s): built instead\n", why);
        }
        rank_match rm = {EVAL_TOPK, fuzzy, 0, TRIE_FUZZY_MAX_WORK, words, 0}; /* (no edits on the last word: the figures as before) */
        lenv_set_match(&st.env, &rm);
    }
    for (; i < argc; i++)
        if (ep_events_read(&evs, argv[i], EP_AOL_ONLY, "qac eval")) goto out;
    ep_events_sort(&evs);
    size_t nev = evs.n;
    uint64_t t1 = qtime_ns();

    for (size_t k = 0; k < nev && st.n_scored < limit; k++) {
        const ep_event *e = &evs.ev[k];
        const char *user = ep_user(&evs, e), *q = ep_query(&evs, e);
        if (nfolds && ep_user_fold(user, e->userlen, nfolds) != fold) continue; /* another fold's user */
        st.n_events++;
        if (e->time < split) {
            st.n_history++;
        } else {
            st.n_test++;
            size_t ncp = qutf8_count(q, e->querylen);
            if (ncp < EVAL_MIN_CP) {
                st.n_short++;
            } else {
                st.n_scored++;
                if (score_event(&st, user, e->userlen, q, e->querylen, ncp, e->time)) {
                    fprintf(stderr, "qac eval: out of memory\n");
                    goto out;
                }
            }
        }
        rc = rank_history_accept(st.hist, user, e->userlen, q, e->querylen, e->time);
        if (rc) {
            fprintf(stderr, "qac eval: history: %s\n", rank_history_strerror(rc));
            goto out;
        }
    }
    double secs = (double)(qtime_ns() - t0) / 1e9;
    LOG_I("eval.done", "read_secs=%.2f events=%zu replay_secs=%.2f", (double)(t1 - t0) / 1e9, nev,
          (double)(qtime_ns() - t1) / 1e9);
    print_table(&st, split_s, secs);
    if (st.on[SYS_LEARNED] && st.rerank.count)
        printf("learned rerank: %.2f us mean, %.2f us p99 per call (%.1f candidates on average, %llu calls; "
               "features + model + top %d)\n",
               hist_mean(&st.rerank) / 1e3, (double)hist_quantile(&st.rerank, 0.99) / 1e3,
               (double)st.rerank_cands / (double)st.rerank.count, (unsigned long long)st.rerank.count, EVAL_TOPK);
    if (st.on[SYS_LEARNED] && st.request.count)
        printf("learned request: %.2f us mean, %.2f us p99 per call (gather%s + vectors + rerank)\n",
               hist_mean(&st.request) / 1e3, (double)hist_quantile(&st.request, 0.99) / 1e3,
               gen ? " + generated" : "");
    if (json && write_json(&st, json, split_s, secs)) goto out;
    status = 0;
out:
    lenv_free(&st.env);
    rank_vcache_free(vc);
    rank_emb_free(emb);
    rank_ftrl_free(st.model);
    rank_cands_free(&st.cands);
    rank_history_free(st.hist);
    ep_events_free(&evs);
    rank_gen_free(gen);
    trie_words_free(words);
    trie_free(t);
    return status;
}
