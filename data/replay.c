/* replay.c -- `qac replay`: play query logs against a running `qac serve`
 * as people typing, and measure latency, throughput, errors and quality.
 *
 * This file is the command: its options and their checks, and the order of a
 * run: read and sort the events (evalproto.c), plan them, give each
 * connection its events (closed loop), connect, play with SIGINT / SIGTERM
 * caught, report. The parts, sharing the run state of replay_internal.h:
 *   replay_plan.c    what is played: users, sessions and the play order, the
 *                    keystrokes of one query, the keystrokes-saved arithmetic;
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
#include <unistd.h>

#include "common/alloc.h"
#include "data/qlog.h"

/* Limits and the run state (rp_run): data/replay_internal.h. */

/* --- command line ------------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: qac replay [--host H] [--port P] [--connections N] [--pipeline D]\n"
            "                  [--rate R | --speed X] [--duration S] [--limit N] [--timeout MS]\n"
            "                  [--prefixes all|eval] [--no-accept] [--measure-from TIME] [--k K]\n"
            "                  [--json FILE] [--html FILE] [--quiet] LOG...\n"
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
            "  --json FILE         figures as JSON;  --html FILE: a self-contained report page\n"
            "  --quiet             no progress line and no summary on stdout\n"
            "\n"
            "Exit status: 0 done, 1 the run failed or ended early (partial report), 2 usage.\n",
            REPLAY_DEFAULT_PORT, REPLAY_MAX_CONN, REPLAY_DEFAULT_PIPELINE, REPLAY_MAX_PIPELINE,
            REPLAY_DEFAULT_TIMEOUT_MS, REPLAY_DEFAULT_K);
}

static int num_opt(const char *name, const char *v, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (parse_u64(v, strlen(v), out) || *out < lo || *out > hi) {
        fprintf(stderr, "qac replay: %s wants a whole number %llu..%llu, not '%s'; see 'qac replay --help'\n", name,
                (unsigned long long)lo, (unsigned long long)hi, v);
        return -1;
    }
    return 0;
}

static int pos_double(const char *name, const char *v, double *out) {
    if (parse_double(v, strlen(v), out) || !(*out > 0)) {
        fprintf(stderr, "qac replay: %s wants a positive number, not '%s'; see 'qac replay --help'\n", name, v);
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
    r->free_slot = UINT32_MAX;
    ep_events_init(&r->E);
    hist_init(&r->lat);
    char portbuf[16];
    int status = 2, i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            status = 0;
            goto out;
        }
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-' || !a[1]) break;
        if (!strcmp(a, "--no-accept")) {
            r->accept = 0;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            r->quiet = 1;
            continue;
        }
        static const char *const with_value[] = {"--host", "--port", "--connections", "--pipeline", "--rate",
                                                 "--speed", "--duration", "--limit", "--timeout", "--prefixes",
                                                 "--measure-from", "--k", "--json", "--html"};
        int known = 0;
        for (size_t k = 0; k < ARRAY_LEN(with_value); k++) known |= !strcmp(a, with_value[k]);
        if (!known) {
            fprintf(stderr, "qac replay: unknown option '%s'; see 'qac replay --help'\n", a);
            goto out;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "qac replay: %s needs a value; see 'qac replay --help'\n", a);
            goto out;
        }
        const char *v = argv[++i];
        uint64_t u;
        if (!strcmp(a, "--host")) r->host = v;
        else if (!strcmp(a, "--port")) {
            if (num_opt(a, v, 1, 65535, &u)) goto out;
            snprintf(portbuf, sizeof portbuf, "%llu", (unsigned long long)u);
            r->port = portbuf;
        } else if (!strcmp(a, "--connections")) {
            if (num_opt(a, v, 1, REPLAY_MAX_CONN, &u)) goto out;
            r->nconn = (uint32_t)u;
        } else if (!strcmp(a, "--pipeline")) {
            if (num_opt(a, v, 1, REPLAY_MAX_PIPELINE, &u)) goto out;
            r->pipeline = (uint32_t)u;
        } else if (!strcmp(a, "--rate")) {
            if (pos_double(a, v, &r->rate)) goto out;
        } else if (!strcmp(a, "--speed")) {
            if (pos_double(a, v, &r->speed)) goto out;
        } else if (!strcmp(a, "--duration")) {
            if (pos_double(a, v, &r->duration)) goto out;
        } else if (!strcmp(a, "--limit")) {
            if (num_opt(a, v, 1, UINT64_MAX, &r->limit)) goto out;
        } else if (!strcmp(a, "--timeout")) {
            if (num_opt(a, v, 1, 3600000, &r->timeout_ms)) goto out;
        } else if (!strcmp(a, "--k")) {
            if (num_opt(a, v, 1, REPLAY_MAX_K, &u)) goto out;
            r->k = (uint32_t)u;
        } else if (!strcmp(a, "--prefixes")) {
            if (!strcmp(v, "all")) r->all = 1;
            else if (!strcmp(v, "eval")) r->all = 0;
            else {
                fprintf(stderr, "qac replay: --prefixes wants all or eval, not '%s'\n", v);
                goto out;
            }
        } else if (!strcmp(a, "--measure-from")) {
            if (parse_time(v, strlen(v), &r->measure_from)) {
                fprintf(stderr, "qac replay: --measure-from wants YYYY-MM-DD[ HH:MM:SS], not '%s'\n", v);
                goto out;
            }
        } else if (!strcmp(a, "--json")) r->json = v;
        else r->html = v;
    }
    if (i >= argc) {
        fprintf(stderr, "qac replay: no LOG given; see 'qac replay --help'\n");
        goto out;
    }
    if (r->rate > 0 && r->speed > 0) {
        fprintf(stderr, "qac replay: give --rate or --speed, not both; see 'qac replay --help'\n");
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
        fprintf(stderr, "qac replay: --speed needs timed events (AOL logs); these logs have none\n");
        status = 2;
        goto out;
    }
    if (r->speed > 0)
        for (size_t k = 0; k < r->norder; k++)
            if (r->E.ev[r->order[k]].time == QLOG_NO_TIME) {
                fprintf(stderr, "qac replay: --speed cannot mix query lists (no time) with AOL logs\n");
                status = 2;
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
