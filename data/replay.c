/* replay.c -- `qac replay`: play query logs against a running `qac serve`
 * as people typing, and measure latency, throughput, errors and quality.
 *
 * This file is the command: its options and their checks, and the order of a
 * run: read and sort the events (evalproto.c), plan them, give each
 * connection its events (closed loop), connect, play with SIGINT / SIGTERM
 * caught, report. The parts, sharing the run state of replay_internal.h:
 *   replay_plan.c    what is played: users, sessions and the play order, the
 *                    keystrokes of one query, the keystrokes-saved arithmetic;
 *   replay_typos.c   --typos: which prefixes get a typo, the edit, the
 *                    scores with and without FUZZY AUTO and their reports;
 *   replay_run.c     playing it: the connections, the requests, the poll loop
 *                    and the reply matching (load shapes, what is sent and
 *                    why a run ends early are described there);
 *   replay_report.c  the summary (stdout), --json and --html.
 *
 * Exit status: 2 for a usage error (unknown option, a value out of range, no
 * LOG, --rate with --speed, --speed on untimed logs), 1 when the logs cannot
 * be read, memory runs out, the connect fails, the run ends early (the
 * partial report is still written) or a report cannot be written, else 0.
 *
 * Limits: REPLAY_MAX_CONN connections, REPLAY_MAX_PIPELINE users in flight
 * per connection, REPLAY_MAX_INFLIGHT unanswered requests in all (open loop:
 * beyond it the run ends with "server not keeping up"), RP_MAX_QUERY bytes
 * per normalized query and REPLAY_MAX_USER bytes per AnonID (longer ones are
 * skipped and counted).
 */
#include "data/replay_internal.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cli.h"
#include "data/qlog.h"

/* Limits and the run state (rp_run): data/replay_internal.h. */

/* --- command line ------------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: qac replay [--host H] [--port P] [--connections N] [--pipeline D]\n"
            "                  [--rate R | --speed X] [--duration S] [--limit N] [--timeout MS]\n"
            "                  [--prefixes all|eval] [--no-accept] [--measure-from TIME] [--k K]\n"
            "                  [--fuzzy MODE] [--infix] [--typos RATE] [--seed S] [--json FILE]\n"
            "                  [--html FILE] [--quiet] LOG...\n"
            "\n"
            "Plays query logs (AOL format, or one query per line) against a running\n"
            "'qac serve' as people typing: a COMPLETE per prefix, then an ACCEPT of the\n"
            "query. Reports latency, throughput, errors, MRR@10 / SR@k\n"
            "(../shared/EVALUATION.md) and the share of keystrokes saved.\n"
            "\n"
            "  --host H, --port P  server (default 127.0.0.1:%d)\n"
            "  --connections N     TCP connections, users hashed onto them (default 1, max %d)\n"
            "  --pipeline D        closed loop: users in flight per connection (default %d, max %d)\n"
            "  --rate R            open loop: R requests/s, latency from the due time\n"
            "  --speed X           open loop: the log's own timing, X times faster\n"
            "  --duration S        stop sending after S seconds (fractions allowed)\n"
            "  --limit N           stop after N measured events\n"
            "  --timeout MS        a reply later than this ends the run (default %d)\n"
            "  --prefixes MODE     all: every prefix (default); eval: exactly EVALUATION.md's set\n"
            "  --no-accept         send no ACCEPT (the server's state does not change)\n"
            "  --measure-from TIME YYYY-MM-DD[ HH:MM:SS] UTC: earlier events are sent as\n"
            "                      ACCEPTs only and not measured\n"
            "  --k K               the user picks the target when it is in the top K (default %d)\n"
            "  --fuzzy MODE        every keystroke's COMPLETE asks FUZZY MODE (0, 1, 2 or auto; default:\n"
            "                      no FUZZY option, the server's --fuzzy decides)\n"
            "  --infix             every COMPLETE asks INFIX too (the web page asks --fuzzy auto --infix)\n"
            "  --typos RATE        a share RATE (0..1) of the typed prefixes of %d+ code points get one\n"
            "                      random edit (substitution, deletion, insertion or transposition of\n"
            "                      a code point, never the first); each such prefix is also sent\n"
            "                      twice more after its own COMPLETE: typo'd with no FUZZY option,\n"
            "                      then typo'd with FUZZY AUTO. Reported apart: MRR@10 and\n"
            "                      recall@10 of the target, plain vs FUZZY AUTO vs typed right, and\n"
            "                      the latency of each kind; the other figures are those of a run\n"
            "                      without --typos\n"
            "  --seed S            which prefixes get which typos (default 1; same seed, same typos)\n"
            "  --json FILE         figures as JSON;  --html FILE: a self-contained report page\n"
            "  --quiet             no progress line and no summary on stdout\n"
            "\n"
            "Exit status: 0 done, 1 the run failed or ended early (partial report), 2 usage.\n",
            REPLAY_DEFAULT_PORT, REPLAY_MAX_CONN, REPLAY_DEFAULT_PIPELINE, REPLAY_MAX_PIPELINE,
            REPLAY_DEFAULT_TIMEOUT_MS, REPLAY_DEFAULT_K, RP_TYPO_MIN_CP);
}

static int num_opt(const cli *c, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (qparse_u64(c->val, strlen(c->val), out) || *out < lo || *out > hi) {
        cli_error(c, "%s wants a whole number %llu..%llu, not '%s'", c->opt, (unsigned long long)lo,
                  (unsigned long long)hi, c->val);
        return -1;
    }
    return 0;
}

static int pos_double(const cli *c, double *out) {
    if (qparse_double(c->val, strlen(c->val), out) || !(*out > 0)) {
        cli_error(c, "%s wants a positive number, not '%s'", c->opt, c->val);
        return -1;
    }
    return 0;
}

static void run_free(rp_run *r) {
    if (r->c)
        for (uint32_t i = 0; i < r->nconn; i++) {
            conn *c = &r->c[i];
            if (c->fd > 0) close(c->fd);
            qbuf_free(&c->in);
            qbuf_free(&c->out);
            qfree(c->q);
            qfree(c->evs);
            qfree(c->act);
        }
    qfree(r->c);
    qfree(r->s);
    qfree(r->uidx);
    qfree(r->sess);
    qfree(r->order);
    ep_events_free(&r->E);
}

int replay_main(int argc, char **argv) {
    rp_run *r = qcalloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "qac replay: out of memory\n");
        return 1;
    }
    r->host = "127.0.0.1";
    r->port = NULL;
    r->nconn = 1;
    r->pipeline = REPLAY_DEFAULT_PIPELINE;
    r->k = REPLAY_DEFAULT_K;
    r->timeout_ms = REPLAY_DEFAULT_TIMEOUT_MS;
    r->all = 1;
    r->accept = 1;
    r->measure_from = INT64_MIN;
    r->typos = -1;
    r->seed = 1;
    r->free_slot = UINT32_MAX;
    ep_events_init(&r->E);
    hist_init(&r->lat);
    hist_init(&r->ty.lat[0]);
    hist_init(&r->ty.lat[1]);
    char portbuf[16];
    enum { O_HOST = 256, O_PORT, O_CONN, O_PIPE, O_RATE, O_SPEED, O_DURATION, O_LIMIT, O_TIMEOUT, O_PREFIXES,
           O_MEASURE, O_K, O_JSON, O_HTML, O_NO_ACCEPT, O_QUIET, O_TYPOS, O_SEED,
           O_FUZZY, O_INFIX };
    static const cli_opt options[] = {
        {O_HOST, "host", CLI_VALUE},
        {O_PORT, "port", CLI_VALUE},
        {O_CONN, "connections", CLI_VALUE},
        {O_PIPE, "pipeline", CLI_VALUE},
        {O_RATE, "rate", CLI_VALUE},
        {O_SPEED, "speed", CLI_VALUE},
        {O_DURATION, "duration", CLI_VALUE},
        {O_LIMIT, "limit", CLI_VALUE},
        {O_TIMEOUT, "timeout", CLI_VALUE},
        {O_PREFIXES, "prefixes", CLI_VALUE},
        {O_MEASURE, "measure-from", CLI_VALUE},
        {O_K, "k", CLI_VALUE},
        {O_JSON, "json", CLI_VALUE},
        {O_HTML, "html", CLI_VALUE},
        {O_NO_ACCEPT, "no-accept", CLI_FLAG},
        {O_QUIET, "quiet", CLI_FLAG},
        {O_TYPOS, "typos", CLI_VALUE},
        {O_SEED, "seed", CLI_VALUE},
        {O_FUZZY, "fuzzy", CLI_VALUE},
        {O_INFIX, "infix", CLI_FLAG},
    };
    cli cl;
    cli_init(&cl, "replay", usage, options, ARRAY_LEN(options), argc, argv);
    int status = 2, opt;
    while ((opt = cli_getopt(&cl)) >= 0) {
        const char *v = cl.val;
        uint64_t u;
        switch (opt) {
        case O_NO_ACCEPT: r->accept = 0; break;
        case O_QUIET: r->quiet = 1; break;
        case O_HOST: r->host = v; break;
        case O_PORT:
            if (num_opt(&cl, 1, 65535, &u)) goto out;
            snprintf(portbuf, sizeof portbuf, "%llu", (unsigned long long)u);
            r->port = portbuf;
            break;
        case O_CONN:
            if (num_opt(&cl, 1, REPLAY_MAX_CONN, &u)) goto out;
            r->nconn = (uint32_t)u;
            break;
        case O_PIPE:
            if (num_opt(&cl, 1, REPLAY_MAX_PIPELINE, &u)) goto out;
            r->pipeline = (uint32_t)u;
            break;
        case O_RATE:
            if (pos_double(&cl, &r->rate)) goto out;
            break;
        case O_SPEED:
            if (pos_double(&cl, &r->speed)) goto out;
            break;
        case O_DURATION:
            if (pos_double(&cl, &r->duration)) goto out;
            break;
        case O_LIMIT:
            if (num_opt(&cl, 1, UINT64_MAX, &r->limit)) goto out;
            break;
        case O_TIMEOUT:
            if (num_opt(&cl, 1, 3600000, &r->timeout_ms)) goto out;
            break;
        case O_K:
            if (num_opt(&cl, 1, REPLAY_MAX_K, &u)) goto out;
            r->k = (uint32_t)u;
            break;
        case O_PREFIXES:
            if (!strcmp(v, "all")) r->all = 1;
            else if (!strcmp(v, "eval")) r->all = 0;
            else {
                cli_error(&cl, "--prefixes wants all or eval, not '%s'", v);
                goto out;
            }
            break;
        case O_MEASURE:
            if (qparse_time(v, strlen(v), &r->measure_from)) {
                cli_error(&cl, "--measure-from wants YYYY-MM-DD[ HH:MM:SS], not '%s'", v);
                goto out;
            }
            break;
        case O_TYPOS:
            if (qparse_double(v, strlen(v), &r->typos) || !(r->typos >= 0 && r->typos <= 1)) {
                cli_error(&cl, "--typos wants a share 0..1, not '%s'", v);
                goto out;
            }
            break;
        case O_SEED:
            if (num_opt(&cl, 0, UINT64_MAX, &r->seed)) goto out;
            break;
        case O_FUZZY:
            if (strcmp(v, "0") && strcmp(v, "1") && strcmp(v, "2") && strcasecmp(v, "auto")) {
                cli_error(&cl, "--fuzzy wants 0, 1, 2 or auto, not '%s'", v);
                goto out;
            }
            r->fuzzy = strcasecmp(v, "auto") ? v : "AUTO";
            break;
        case O_INFIX: r->infix = 1; break;
        case O_JSON: r->json = v; break;
        case O_HTML: r->html = v; break;
        }
    }
    if (opt == CLI_EXIT) {
        status = cl.status;
        goto out;
    }
    int i = cl.ind;
    if (i >= argc) {
        cli_error(&cl, "no LOG given");
        goto out;
    }
    if (r->rate > 0 && r->speed > 0) {
        cli_error(&cl, "give --rate or --speed, not both");
        goto out;
    }
    if (!r->port) {
        snprintf(portbuf, sizeof portbuf, "%d", REPLAY_DEFAULT_PORT);
        r->port = portbuf;
    }
    r->progress = !r->quiet && isatty(2);

    status = 1;
    for (; i < argc; i++)
        if (ep_events_read(&r->E, argv[i], 0, "qac replay")) goto out;
    ep_events_sort(&r->E);
    if (rp_plan_events(r)) goto out;
    if (r->speed > 0 && r->time0 == QLOG_NO_TIME && r->norder) {
        status = cli_error(&cl, "--speed needs timed events (AOL logs); these logs have none");
        goto out;
    }
    if (r->speed > 0)
        for (size_t k = 0; k < r->norder; k++)
            if (r->E.ev[r->order[k]].time == QLOG_NO_TIME) {
                status = cli_error(&cl, "--speed cannot mix query lists (no time) with AOL logs");
                goto out;
            }
    r->c = qcalloc(r->nconn, sizeof *r->c);
    if (!r->c) goto oom;
    for (uint32_t k = 0; k < r->nconn; k++) {
        r->c[k].fd = -1;
        if (!(r->c[k].act = qmalloc(r->pipeline * sizeof *r->c[k].act))) goto oom;
    }
    if (!r->rate && !r->speed) { /* closed loop: each connection's events in order */
        for (size_t k = 0; k < r->norder; k++) {
            const ep_event *v = &r->E.ev[r->order[k]];
            conn *c = &r->c[v->userlen ? rp_run_user_hash(ep_user(&r->E, v), v->userlen) % r->nconn : v->seq % r->nconn];
            if (c->nev == c->evcap) {
                size_t nc = c->evcap ? c->evcap * 2 : 1024;
                uint32_t *ne = qrealloc(c->evs, nc * sizeof *ne);
                if (!ne) goto oom;
                c->evs = ne;
                c->evcap = nc;
            }
            c->evs[c->nev++] = r->order[k];
        }
    }
    if (rp_run_connect(r)) goto out;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = rp_run_on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    int rc = rp_run_loop(r);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc) fprintf(stderr, "qac replay: %s; the report below is partial\n", r->fatal);
    if (!r->quiet) rp_report_summary(r, stdout);
    fflush(stdout);
    status = rc ? 1 : 0;
    if (r->json && rp_report_json(r, r->json)) status = 1;
    if (r->html && rp_report_html(r, r->html)) status = 1;
    goto out;
oom:
    fprintf(stderr, "qac replay: out of memory\n");
    status = 1;
out:
    run_free(r);
    qfree(r);
    return status;
}
