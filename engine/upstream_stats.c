/* upstream_stats.c -- the merger's own counters, for STATS / INFO (text,
 * RESP), HTTP /v1/stats (JSON) and /metrics (Prometheus): the same
 * renderings as one server's (engine/stats.h), over the merger's items.
 *
 * Items (docs/PROTOCOL.md "Shards and the merger"): uptime, the requests it
 * took, answered by a merge of several shards, failed (deadline and
 * max-inflight failures also apart), waiting on shards now; commands sent
 * to shards, fail-overs and failed replica calls over all shards, AUTHs the
 * shards refused; requests allocated and reused (req-cache) and the loop
 * thread's allocation calls (qalloc_calls: flat once warm); its own access control (auth_*, as one server's); and per
 * shard (label shard="S", names shardS_*) its asks, fail-overs, deadline
 * misses, and replicas connected now. A snapshot holds STATS_MAX_ITEMS
 * items: with 64 shards the per-shard items past it are left out (the
 * totals are always there, first).
 */
#include <stdio.h>

#include "common/alloc.h"
#include "engine/stats.h"
#include "engine/upstream_internal.h"

void ups_stats(const usrv *s, eng_stats_snap *snap) {
    char name[48], label[48];
    snap->n = 0;
    stats_add_u(snap, "uptime_s", "qac_uptime_seconds", "gauge", NULL, (qtime_ns() - s->start_ns) / 1000000000u);
    stats_add_u(snap, "merger_shards", "qac_merger_shards", "gauge", NULL, (uint64_t)s->pool.nshards);
    stats_add_u(snap, "merger_requests", "qac_merger_requests_total", "counter", NULL, s->requests);
    stats_add_u(snap, "merger_merged", "qac_merger_merged_total", "counter", NULL, s->merged);
    stats_add_u(snap, "merger_errors", "qac_merger_errors_total", "counter", NULL, s->errors);
    stats_add_u(snap, "merger_deadline_errors", "qac_merger_deadline_errors_total", "counter", NULL,
                s->deadline_errors);
    stats_add_u(snap, "merger_inflight_errors", "qac_merger_inflight_errors_total", "counter", NULL,
                s->inflight_errors);
    stats_add_u(snap, "merger_inflight", "qac_merger_inflight", "gauge", NULL, s->inflight);
    stats_add_u(snap, "merger_upstream_sent", "qac_merger_upstream_sent_total", "counter", NULL, s->pool.sent);
    stats_add_u(snap, "merger_upstream_failovers", "qac_merger_upstream_failovers_total", "counter", NULL,
                s->pool.failovers);
    stats_add_u(snap, "merger_upstream_failures", "qac_merger_upstream_failures_total", "counter", NULL,
                s->pool.failures);
    stats_add_u(snap, "merger_upstream_auth_failures", "qac_merger_upstream_auth_failures_total", "counter", NULL,
                s->pool.auth_failures);
    stats_add_u(snap, "merger_req_allocs", "qac_merger_req_allocs_total", "counter", NULL, s->req_allocs);
    stats_add_u(snap, "merger_req_reuses", "qac_merger_req_reuses_total", "counter", NULL, s->req_reuses);
    stats_add_u(snap, "merger_req_cached", "qac_merger_req_cached", "gauge", NULL, s->req_nfree);
    stats_add_u(snap, "merger_alloc_calls", "qac_merger_alloc_calls_total", "counter", NULL, qalloc_calls());
    stats_add_u(snap, "auth_required", "qac_auth_required", "gauge", NULL, s->cfg.requirepass != NULL);
    stats_add_u(snap, "auth_ok", "qac_auth_total", "counter", "result=\"ok\"", s->auth_ok);
    stats_add_u(snap, "auth_failures", "qac_auth_total", "counter", "result=\"failed\"", s->auth_failures);
    stats_add_u(snap, "auth_refused", "qac_auth_refused_total", "counter", NULL, s->auth_refused);
    for (int i = 0; i < s->pool.nshards; i++) {
        const ups_shard *sh = &s->pool.shards[i];
        static const char *const what[][2] = {{"asks", "qac_merger_shard_asks_total"},
                                              {"failovers", "qac_merger_shard_failovers_total"},
                                              {"deadline_misses", "qac_merger_shard_deadline_misses_total"},
                                              {"replicas_up", "qac_merger_shard_replicas_up"}};
        uint64_t v[] = {sh->asks, sh->failovers, sh->deadline_misses, (uint64_t)ups_pool_connected(&s->pool, i)};
        snprintf(label, sizeof label, "shard=\"%d\"", i);
        for (int j = 0; j < 4; j++) {
            snprintf(name, sizeof name, "shard%d_%s", i, what[j][0]);
            stats_add_u(snap, name, what[j][1], j == 3 ? "gauge" : "counter", label, v[j]);
        }
    }
}
