/* embed_cmd.c -- `qac embed`: trains query embeddings (ranking/embed.h) from
 * AOL-format logs.
 *
 * Sessions: the events (protocol order, ep_events_sort) are regrouped by
 * user, keeping time order; a user's run of events with gaps under 30
 * minutes (RANK_SESSION_GAP) is one session. Pairs are queries at most
 * --window apart in a session (rank_emb_train). --until TIME drops events at
 * or after TIME (use the evaluation split so the test part stays unseen).
 * The file also lists every distinct training query (for `qac load`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cli.h"
#include "common/log.h"
#include "common/util.h"
#include "data/evalproto.h"
#include "data/train.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: qac embed -o EMB [--dims D] [--epochs E] [--seed S] [--buckets B] [--window W]\n"
            "                 [--neg K] [--lr R] [--until TIME] LOG...\n"
            "\n"
            "Trains query embeddings from AOL-format logs so that queries issued close together\n"
            "in a session land near each other (skip-gram with negative sampling over hashed\n"
            "word and character-trigram vectors). Deterministic for a seed.\n"
            "\n"
            "  -o EMB        output file (written atomically)\n"
            "  --dims D      dimensions, %d..%d (default %d)\n"
            "  --epochs E    passes over the pairs (default %d)\n"
            "  --seed S      random seed (default 1)\n"
            "  --buckets B   hash buckets, 1..%u (default %u)\n"
            "  --window W    pair queries at most W apart in a session (default %d)\n"
            "  --neg K       negative samples per pair (default %d)\n"
            "  --lr R        initial learning rate (default %g)\n"
            "  --until TIME  only events before TIME (YYYY-MM-DD[ HH:MM:SS]; default all)\n",
            RANK_EMB_MIN_DIMS, RANK_EMB_MAX_DIMS, RANK_EMB_DEFAULT_DIMS, RANK_EMB_DEFAULT_EPOCHS,
            RANK_EMB_MAX_BUCKETS, RANK_EMB_DEFAULT_BUCKETS, RANK_EMB_DEFAULT_WINDOW, RANK_EMB_DEFAULT_NEG,
            RANK_EMB_DEFAULT_LR);
}

static const ep_events *g_evs; /* qsort has no context argument */

static int by_user(const void *a, const void *b) {
    const ep_event *x = &g_evs->ev[*(const size_t *)a], *y = &g_evs->ev[*(const size_t *)b];
    size_t m = x->userlen < y->userlen ? x->userlen : y->userlen;
    int r = memcmp(ep_user(g_evs, x), ep_user(g_evs, y), m);
    if (r) return r;
    if (x->userlen != y->userlen) return x->userlen < y->userlen ? -1 : 1;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    return ia < ib ? -1 : ia > ib;
}

typedef struct qref {
    const char *q;
    uint32_t len;
} qref;

static int by_text(const void *a, const void *b) {
    const qref *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->q, y->q, m);
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

static void progress(void *ud, uint32_t epoch, double done, double loss) {
    if (!*(int *)ud) return;
    fprintf(stderr, "\rqac embed: epoch %u %5.1f%%  loss %.4f ", epoch, 100.0 * done, loss);
}

int embed_main(int argc, char **argv) {
    rank_emb_opts o;
    rank_emb_opts_default(&o);
    const char *outp = NULL, *until_s = NULL;
    uint64_t dims = o.dims, epochs = o.epochs, seed = o.seed, buckets = o.buckets, window = o.window, neg = o.neg;
    enum { O_UNTIL = 256, O_DIMS, O_EPOCHS, O_SEED, O_BUCKETS, O_WINDOW, O_NEG, O_LR };
    static const cli_opt options[] = {
        {'o', NULL, CLI_VALUE},
        {O_UNTIL, "until", CLI_VALUE},
        {O_DIMS, "dims", CLI_VALUE},
        {O_EPOCHS, "epochs", CLI_VALUE},
        {O_SEED, "seed", CLI_VALUE},
        {O_BUCKETS, "buckets", CLI_VALUE},
        {O_WINDOW, "window", CLI_VALUE},
        {O_NEG, "neg", CLI_VALUE},
        {O_LR, "lr", CLI_VALUE},
    };
    cli cl;
    cli_init(&cl, "embed", usage, options, ARRAY_LEN(options), argc, argv);
    int opt;
    while ((opt = cli_getopt(&cl)) >= 0) {
        const char *v = cl.val;
        uint64_t *uv = NULL;
        switch (opt) {
        case 'o': outp = v; break;
        case O_UNTIL: until_s = v; break;
        case O_DIMS: uv = &dims; break;
        case O_EPOCHS: uv = &epochs; break;
        case O_SEED: uv = &seed; break;
        case O_BUCKETS: uv = &buckets; break;
        case O_WINDOW: uv = &window; break;
        case O_NEG: uv = &neg; break;
        case O_LR:
            if (qparse_double(v, strlen(v), &o.lr) || !(o.lr > 0) || o.lr > 10)
                return cli_error(&cl, "--lr wants a number in (0, 10], not '%s'", v);
            break;
        }
        if (uv && qparse_u64(v, strlen(v), uv)) return cli_error(&cl, "%s wants a whole number, not '%s'", cl.opt, v);
    }
    if (opt == CLI_EXIT) return cl.status;
    if (!outp) return cli_error(&cl, "missing -o EMB");
    int i = cl.ind;
    if (i >= argc) return cli_error(&cl, "no LOG given");
    if (dims < RANK_EMB_MIN_DIMS || dims > RANK_EMB_MAX_DIMS)
        return cli_error(&cl, "--dims wants %d..%d", RANK_EMB_MIN_DIMS, RANK_EMB_MAX_DIMS);
    if (buckets < 1 || buckets > RANK_EMB_MAX_BUCKETS)
        return cli_error(&cl, "--buckets wants 1..%u", RANK_EMB_MAX_BUCKETS);
    if (epochs < 1 || epochs > 1000) return cli_error(&cl, "--epochs wants 1..1000");
    if (window < 1 || window > 100) return cli_error(&cl, "--window wants 1..100");
    if (neg > 100) return cli_error(&cl, "--neg wants 0..100");
    int64_t until = INT64_MAX;
    if (until_s && qparse_time(until_s, strlen(until_s), &until))
        return cli_error(&cl, "--until wants YYYY-MM-DD[ HH:MM:SS], not '%s'", until_s);
    o.dims = (uint32_t)dims;
    o.epochs = (uint32_t)epochs;
    o.seed = seed;
    o.buckets = (uint32_t)buckets;
    o.window = (uint32_t)window;
    o.neg = (uint32_t)neg;

    uint64_t t0 = qtime_ns();
    int status = 1;
    ep_events evs;
    ep_events_init(&evs);
    size_t *idx = NULL, *starts = NULL;
    const char **qs = NULL;
    uint32_t *ql = NULL;
    qref *uniq = NULL;
    rank_emb *e = NULL;
    char err[512];
    for (; i < argc; i++)
        if (ep_events_read(&evs, argv[i], EP_AOL_ONLY, "qac embed")) goto out;
    ep_events_sort(&evs);
    size_t n = 0;
    idx = qmalloc((evs.n + 1) * sizeof *idx);
    if (!idx) goto oom;
    for (size_t k = 0; k < evs.n; k++)
        if (evs.ev[k].time < until) idx[n++] = k;
    if (!n) {
        fprintf(stderr, "qac embed: no events%s\n", until_s ? " before --until" : "");
        goto out;
    }
    g_evs = &evs;
    qsort(idx, n, sizeof *idx, by_user);
    g_evs = NULL;
    qs = qmalloc(n * sizeof *qs);
    ql = qmalloc(n * sizeof *ql);
    starts = qmalloc((n + 1) * sizeof *starts);
    uniq = qmalloc(n * sizeof *uniq);
    if (!qs || !ql || !starts || !uniq) goto oom;
    size_t ns = 0;
    for (size_t k = 0; k < n; k++) {
        const ep_event *ev = &evs.ev[idx[k]];
        qs[k] = ep_query(&evs, ev);
        ql[k] = ev->querylen;
        uniq[k] = (qref){qs[k], ql[k]};
        const ep_event *p = k ? &evs.ev[idx[k - 1]] : NULL;
        if (!p || p->userlen != ev->userlen || memcmp(ep_user(&evs, p), ep_user(&evs, ev), ev->userlen) ||
            ev->time - p->time >= RANK_SESSION_GAP)
            starts[ns++] = k;
    }
    starts[ns] = n;
    int tty = isatty(2);
    int rc = rank_emb_train(&o, qs, ql, n, starts, ns, progress, &tty, &e);
    if (tty) fprintf(stderr, "\n");
    if (rc) {
        fprintf(stderr, "qac embed: %s\n", rank_emb_strerror(rc));
        goto out;
    }
    qsort(uniq, n, sizeof *uniq, by_text);
    size_t nu = 0;
    for (size_t k = 0; k < n; k++)
        if (!nu || by_text(&uniq[nu - 1], &uniq[k])) uniq[nu++] = uniq[k];
    for (size_t k = 0; k < nu; k++) { /* reuse qs/ql for the distinct list */
        qs[k] = uniq[k].q;
        ql[k] = uniq[k].len;
    }
    if (rank_emb_set_queries(e, qs, ql, nu)) goto oom;
    if (rank_emb_save(e, outp, err, sizeof err)) {
        fprintf(stderr, "qac embed: %s\n", err);
        goto out;
    }
    LOG_I("embed.done", "events=%zu sessions=%zu queries=%zu dims=%u buckets=%u epochs=%u secs=%.1f out=%s",
          n, ns, nu, o.dims, o.buckets, o.epochs, (double)(qtime_ns() - t0) / 1e9, outp);
    status = 0;
    goto out;
oom:
    fprintf(stderr, "qac embed: out of memory\n");
out:
    rank_emb_free(e);
    qfree(idx);
    qfree(starts);
    qfree(qs);
    qfree(ql);
    qfree(uniq);
    ep_events_free(&evs);
    return status;
}
