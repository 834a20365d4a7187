/* stats.c -- snapshot and renderings of the server counters (see stats.h).
 *
 * A snapshot is a flat array of items built in one place (stats_snapshot);
 * the four renderers only format it. Item names are stable: they are the
 * STATS lines, the JSON keys and (with the family/label) the metric names.
 */
#include "engine/stats.h"

#include "engine/dict.h"

#include <errno.h>
#include "engine/changelog.h"
#include "engine/store/journal.h"
#include "engine/guard.h"
#include "engine/rank/ranker.h"
#include "trie/trie_words.h"

#include <stdio.h>
#include <string.h>

#if !defined(QAC_NO_JEMALLOC) && !defined(__SANITIZE_ADDRESS__)
#define QAC_HAVE_JEMALLOC 1
#include <jemalloc/jemalloc.h>
#endif

static const char *const cmd_names[CMD__COUNT] = {
    [CMD_COMPLETE] = "complete", [CMD_ADD] = "add",         [CMD_INCR] = "incr",
    [CMD_DEL] = "del",           [CMD_GET] = "get",         [CMD_ACCEPT] = "accept",
    [CMD_STATS] = "stats",       [CMD_PING] = "ping",       [CMD_HELP] = "help",
    [CMD_QUIT] = "quit",         [CMD_SAVE] = "save",       [CMD_COMMAND] = "command",
    [CMD_CONFIG] = "config",     [CMD_UNKNOWN] = "unknown", [CMD_HTTP_COMPLETE] = "http_complete",
    [CMD_HTTP_ACCEPT] = "http_accept", [CMD_HTTP_STATS] = "http_stats",
    [CMD_HTTP_METRICS] = "http_metrics", [CMD_HTTP_HEALTH] = "http_healthz",
    [CMD_HTTP_OTHER] = "http_other", [CMD_RELOAD] = "reload", [CMD_AUTH] = "auth",
    [CMD_HTTP_SUGGEST] = "http_suggest", [CMD_ECHO] = "echo", [CMD_SELECT] = "select",
    [CMD_CLIENT] = "client", [CMD_HELLO] = "hello", [CMD_SUGADD] = "ft_sugadd", [CMD_SUGGET] = "ft_sugget",
    [CMD_SUGDEL] = "ft_sugdel", [CMD_SUGLEN] = "ft_suglen", [CMD_EXISTS] = "exists", [CMD_TYPE] = "type",
    [CMD_FLUSHALL] = "flushall", [CMD_KEYS] = "keys", [CMD_DBSIZE] = "dbsize",
};

const char *stats_cmd_name(int cmd) { return cmd >= 0 && cmd < CMD__COUNT ? cmd_names[cmd] : "?"; }

void stats_init(eng_stats *s) {
    memset(s, 0, sizeof *s);
    s->start_ns = qtime_ns();
    s->last_save_ok = -1;
    hist_init(&s->lat_ns);
}

/* The named dictionaries (engine/dict.h), in a bounded form whatever their
 * number: how many, their keys and bytes in all, and the largest one's. */
static void add_u(eng_stats_snap *snap, const char *name, const char *prom, const char *ptype,
                  const char *label, uint64_t v);
static void stats_dicts(const dict_set *d, eng_stats_snap *snap) {
    uint64_t keys = 0, bytes = 0, top_k = 0, top_b = 0;
    for (size_t i = 0; i < d->n; i++) {
        uint64_t k = trie_count(d->v[i]->t), b = dict_bytes(d->v[i]);
        keys += k, bytes += b;
        if (k > top_k || (k == top_k && b > top_b)) top_k = k, top_b = b;
    }
    add_u(snap, "dicts", "qac_dicts", "gauge", NULL, d->n);
    add_u(snap, "dict_keys", "qac_dict_keys", "gauge", NULL, keys);
    add_u(snap, "dict_bytes", "qac_dict_bytes", "gauge", NULL, bytes);
    add_u(snap, "dict_largest_keys", "qac_dict_largest_keys", "gauge", NULL, top_k);
    add_u(snap, "dict_largest_bytes", "qac_dict_largest_bytes", "gauge", NULL, top_b);
}

static stats_item *add(eng_stats_snap *snap, const char *name, const char *prom, const char *ptype) {
    if (snap->n == STATS_MAX_ITEMS) return NULL;
    stats_item *it = &snap->items[snap->n++];
    memset(it, 0, sizeof *it);
    snprintf(it->name, sizeof it->name, "%s", name);
    it->prom = prom;
    it->ptype = ptype;
    return it;
}

static void add_u(eng_stats_snap *snap, const char *name, const char *prom, const char *ptype,
                  const char *label, uint64_t v) {
    stats_item *it = add(snap, name, prom, ptype);
    if (!it) return;
    if (label) snprintf(it->label, sizeof it->label, "%s", label);
    it->u = v;
}

static void add_d(eng_stats_snap *snap, const char *name, const char *prom, const char *ptype,
                  const char *label, double v) {
    stats_item *it = add(snap, name, prom, ptype);
    if (!it) return;
    if (label) snprintf(it->label, sizeof it->label, "%s", label);
    it->is_float = 1;
    it->d = v;
}

static void read_jemalloc(uint64_t *allocated, uint64_t *resident) {
    *allocated = *resident = 0;
#ifdef QAC_HAVE_JEMALLOC
    uint64_t epoch = 1;
    size_t sz = sizeof epoch;
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    size_t v;
    sz = sizeof v;
    if (mallctl("stats.allocated", &v, &sz, NULL, 0) == 0) *allocated = v;
    sz = sizeof v;
    if (mallctl("stats.resident", &v, &sz, NULL, 0) == 0) *resident = v;
#endif
}

void stats_snapshot(const eng_stats *s, const trie *t, eng_stats_snap *snap) {
    char name[48], label[48];
    snap->n = 0;
    add_d(snap, "uptime_s", "qac_uptime_seconds", "gauge", NULL, (double)(qtime_ns() - s->start_ns) / 1e9);
    add_u(snap, "connections_current", "qac_connections", "gauge", "state=\"current\"", s->conn_current);
    add_u(snap, "connections_total", "qac_connections_total", "counter", NULL, s->conn_total);
    add_u(snap, "connections_rejected", "qac_connections_rejected_total", "counter", NULL, s->conn_rejected);
    add_u(snap, "http_connections_current", "qac_http_connections", "gauge", NULL, s->http_conn_current);
    add_u(snap, "http_connections_total", "qac_http_connections_total", "counter", NULL, s->http_conn_total);
    add_u(snap, "closed_idle", "qac_closed_total", "counter", "reason=\"idle\"", s->closed_idle);
    add_u(snap, "closed_output_limit", "qac_closed_total", "counter", "reason=\"output_limit\"",
          s->closed_output_limit);
    add_u(snap, "closed_protocol", "qac_closed_total", "counter", "reason=\"protocol\"", s->closed_protocol);
    uint64_t total = 0;
    for (int i = 0; i < CMD__COUNT; i++) total += s->cmds[i];
    add_u(snap, "commands_total", "qac_requests_total", "counter", NULL, total);
    for (int i = 0; i < CMD__COUNT; i++) {
        snprintf(name, sizeof name, "cmd_%s", cmd_names[i]);
        snprintf(label, sizeof label, "cmd=\"%s\"", cmd_names[i]);
        add_u(snap, name, "qac_commands_total", "counter", label, s->cmds[i]);
    }
    for (int i = 0; i < ERR__COUNT; i++) {
        snprintf(name, sizeof name, "err_%s", proto_err_name(i));
        snprintf(label, sizeof label, "code=\"%s\"", proto_err_name(i));
        add_u(snap, name, "qac_errors_total", "counter", label, s->errs[i]);
    }
    for (int i = 2; i <= 5; i++) {
        snprintf(name, sizeof name, "http_%dxx", i);
        snprintf(label, sizeof label, "class=\"%dxx\"", i);
        add_u(snap, name, "qac_http_responses_total", "counter", label, s->http_status[i]);
    }
    add_u(snap, "complete_with_user", "qac_context_total", "counter", "arg=\"complete_user\"", s->complete_user);
    add_u(snap, "complete_with_session", "qac_context_total", "counter", "arg=\"complete_session\"",
          s->complete_session);
    add_u(snap, "complete_fuzzy", "qac_complete_fuzzy_total", "counter", NULL, s->complete_fuzzy);
    add_u(snap, "complete_infix", "qac_complete_infix_total", "counter", NULL, s->complete_infix);
    add_u(snap, "complete_infix_truncated", "qac_complete_infix_truncated_total", "counter", NULL,
          s->complete_infix_truncated);
    {
        trie_words_mem wm = {0, 0, 0};
        if (s->words) trie_words_memory(s->words, &wm);
        add_u(snap, "infix_index", "qac_infix_index", "gauge", NULL, s->words != NULL);
        add_u(snap, "infix_index_bytes", "qac_infix_index_bytes", "gauge", NULL, wm.bytes);
        add_u(snap, "infix_index_words", "qac_infix_index_words", "gauge", NULL, wm.words);
        add_u(snap, "infix_index_loaded", "qac_infix_index_loaded", "gauge", NULL, s->words && s->infix_index_loaded);
        add_u(snap, "infix_index_errors", "qac_infix_index_errors_total", "counter", NULL, s->infix_index_errors);
    }
    add_u(snap, "complete_fuzzy_truncated", "qac_complete_fuzzy_truncated_total", "counter", NULL,
          s->complete_fuzzy_truncated);
    add_u(snap, "sug_truncated", "qac_sug_truncated_total", "counter", NULL, s->sug_truncated);
    add_u(snap, "accept_with_user", "qac_context_total", "counter", "arg=\"accept_user\"", s->accept_user);
    add_u(snap, "accept_with_session", "qac_context_total", "counter", "arg=\"accept_session\"",
          s->accept_session);
    add_u(snap, "accept_with_prefix", "qac_context_total", "counter", "arg=\"accept_prefix\"", s->accept_prefix);
    add_u(snap, "accept_with_rank", "qac_context_total", "counter", "arg=\"accept_rank\"", s->accept_rank);
    static const struct { const char *n, *l; double q; } qs[] = {
        {"latency_p50_us", "quantile=\"0.5\"", 0.5},
        {"latency_p90_us", "quantile=\"0.9\"", 0.9},
        {"latency_p99_us", "quantile=\"0.99\"", 0.99},
        {"latency_p999_us", "quantile=\"0.999\"", 0.999},
    };
    for (size_t i = 0; i < ARRAY_LEN(qs); i++)
        add_d(snap, qs[i].n, "qac_latency_us", "gauge", qs[i].l, (double)hist_quantile(&s->lat_ns, qs[i].q) / 1e3);
    add_d(snap, "latency_mean_us", "qac_latency_mean_us", "gauge", NULL, hist_mean(&s->lat_ns) / 1e3);
    add_u(snap, "latency_count", "qac_latency_samples_total", "counter", NULL, s->lat_ns.count);
    add_u(snap, "keys", "qac_keys", "gauge", NULL, t ? trie_count(t) : 0);
    if (s->dicts) stats_dicts(s->dicts, snap);
    trie_mem m = {0};
    if (t) trie_memory(t, &m);
    add_u(snap, "trie_bytes_used", "qac_trie_bytes", "gauge", "kind=\"used\"", m.bytes_used);
    add_u(snap, "trie_bytes_allocated", "qac_trie_bytes", "gauge", "kind=\"allocated\"", m.bytes_alloc);
    uint64_t al, rs;
    read_jemalloc(&al, &rs);
    add_u(snap, "memory_allocated", "qac_memory_bytes", "gauge", "kind=\"allocated\"", al);
    add_u(snap, "memory_resident", "qac_memory_bytes", "gauge", "kind=\"resident\"", rs);
    add_u(snap, "auth_required", "qac_auth_required", "gauge", NULL, s->auth_required);
    add_u(snap, "auth_ok", "qac_auth_total", "counter", "result=\"ok\"", s->auth_ok);
    add_u(snap, "auth_failures", "qac_auth_total", "counter", "result=\"failed\"", s->auth_failures);
    add_u(snap, "auth_refused", "qac_auth_refused_total", "counter", NULL, s->auth_refused);
    add_u(snap, "bytes_in", "qac_net_bytes_total", "counter", "dir=\"in\"", s->bytes_in);
    add_u(snap, "bytes_out", "qac_net_bytes_total", "counter", "dir=\"out\"", s->bytes_out);
    add_u(snap, "changes_total", "qac_changes_total", "counter", NULL, s->changes_total);
    add_u(snap, "changes_since_save", "qac_changes_since_save", "gauge", NULL, s->changes_since_save);
    add_u(snap, "save_in_progress", "qac_save_in_progress", "gauge", NULL, s->save_in_progress);
    add_u(snap, "saves_ok", "qac_saves_total", "counter", "status=\"ok\"", s->saves_ok);
    add_u(snap, "saves_failed", "qac_saves_total", "counter", "status=\"failed\"", s->saves_failed);
    add_u(snap, "reloads_ok", "qac_reloads_total", "counter", "status=\"ok\"", s->reloads_ok);
    add_u(snap, "reloads_failed", "qac_reloads_total", "counter", "status=\"failed\"", s->reloads_failed);
    stats_item *it = add(snap, "last_save_status", "qac_last_save_status", "gauge");
    if (it) {
        it->str = s->last_save_ok < 0 ? "none" : s->last_save_ok ? "ok" : "failed";
        snprintf(it->label, sizeof it->label, "status=\"%s\"", it->str);
    }
    add_d(snap, "last_save_time", "qac_last_save_time_seconds", "gauge", NULL, s->last_save_time);
    add_u(snap, "last_save_duration_ms", "qac_last_save_duration_ms", "gauge", NULL, s->last_save_ms);
    add_u(snap, "last_fork_us", "qac_last_fork_us", "gauge", NULL, s->last_fork_us);
    if (s->guard) {
        guard_stat g;
        guard_stats(s->guard, &g);
        add_u(snap, "accept_credited", "qac_accept_total", "counter", "result=\"credited\"", g.credited);
        add_u(snap, "accept_repeats", "qac_accept_total", "counter", "result=\"repeat\"", g.repeats);
        add_u(snap, "accept_limited_user", "qac_accept_total", "counter", "result=\"limited_user\"",
              g.limited_actor);
        add_u(snap, "accept_limited_conn", "qac_accept_total", "counter", "result=\"limited_conn\"",
              g.limited_conn);
        add_u(snap, "accept_learn_waiting", "qac_accept_learn_skipped_total", "counter", "why=\"few_users\"",
              g.learn_waiting);
        add_u(snap, "accept_learn_capped", "qac_accept_learn_skipped_total", "counter", "why=\"budget\"",
              g.learn_capped);
        add_u(snap, "accept_window_rotations", "qac_accept_window_rotations_total", "counter", "early=\"no\"",
              g.rotations - g.early_rotations);
        add_u(snap, "accept_window_rotations_early", "qac_accept_window_rotations_total", "counter",
              "early=\"yes\"", g.early_rotations);
        add_u(snap, "accept_actor_evictions", "qac_accept_actor_evictions_total", "counter", NULL,
              g.actor_evictions);
        add_u(snap, "accept_guard_bytes", "qac_accept_guard_bytes", "gauge", NULL, g.bytes);
    }
    if (s->rank) {
        eng_rank_stat r;
        eng_rank_stats(s->rank, &r);
        add_u(snap, "rank_redis_enabled", "qac_rank_redis_enabled", "gauge", NULL, (uint64_t)r.redis_enabled);
        add_u(snap, "rank_redis_up", "qac_rank_redis_up", "gauge", NULL, (uint64_t)r.redis_up);
        add_u(snap, "rank_redis_reconnects", "qac_rank_redis_reconnects_total", "counter", NULL, r.redis_reconnects);
        add_u(snap, "rank_redis_errors", "qac_rank_redis_errors_total", "counter", NULL, r.redis_errors);
        add_u(snap, "rank_redis_master_switches", "qac_rank_redis_master_switches_total", "counter", NULL,
              r.redis_master_switches);
        add_u(snap, "rank_requests", "qac_rank_requests_total", "counter", NULL, r.requests);
        add_u(snap, "rank_degraded", "qac_rank_degraded_total", "counter", NULL, r.degraded);
        add_u(snap, "rank_deadline_misses", "qac_rank_deadline_misses_total", "counter", NULL, r.deadline_misses);
        add_u(snap, "rank_cache_hits", "qac_rank_cache_lookups_total", "counter", "result=\"hit\"", r.cache_hits);
        add_u(snap, "rank_cache_misses", "qac_rank_cache_lookups_total", "counter", "result=\"miss\"",
              r.cache_misses);
        add_u(snap, "rank_cache_bytes", "qac_rank_cache_bytes", "gauge", NULL, r.cache_bytes);
        add_u(snap, "rank_cache_entries", "qac_rank_cache_entries", "gauge", NULL, r.cache_entries);
        add_u(snap, "rank_online_updates", "qac_rank_online_total", "counter", "result=\"updated\"",
              r.online_updates);
        add_u(snap, "rank_online_skipped", "qac_rank_online_total", "counter", "result=\"skipped\"",
              r.online_skipped);
        add_u(snap, "rank_history_writes", "qac_rank_history_writes_total", "counter", NULL, r.history_writes);
        add_u(snap, "rank_history_write_errors", "qac_rank_history_write_errors_total", "counter", NULL,
              r.history_write_errors);
        add_u(snap, "rank_embeddings_version", "qac_rank_embeddings_version", "gauge", NULL, r.emb_version);
        add_u(snap, "rank_model_loaded", "qac_rank_model_loaded", "gauge", NULL, (uint64_t)r.has_model);
        add_u(snap, "rank_model_updates", "qac_rank_model_updates", "gauge", NULL, r.model_updates);
        /* 53 bits: a Prometheus sample (a double) holds it exactly */
        add_u(snap, "rank_model_checksum", "qac_rank_model_checksum", "gauge", NULL, r.model_checksum >> 11);
        add_u(snap, "rank_ngram_state", "qac_rank_ngram_state", "gauge", NULL, (uint64_t)r.ngram_state);
        add_u(snap, "rank_ngram_bytes", "qac_rank_ngram_bytes", "gauge", NULL, r.ngram_bytes);
        add_u(snap, "rank_ngram_rows", "qac_rank_ngram_rows", "gauge", NULL, r.ngram_rows);
        add_u(snap, "rank_ngram_bad_rows", "qac_rank_ngram_bad_rows_total", "counter", NULL, r.ngram_bad_rows);
        add_u(snap, "rank_ngram_loads", "qac_rank_ngram_loads_total", "counter", "result=\"loaded\"",
              r.ngram_loads);
        add_u(snap, "rank_ngram_failures", "qac_rank_ngram_loads_total", "counter", "result=\"failed\"",
              r.ngram_failures);
        add_u(snap, "rank_ngram_composed", "qac_rank_ngram_vectors_total", "counter", "result=\"composed\"",
              r.ngram_composed);
        add_u(snap, "rank_ngram_fallbacks", "qac_rank_ngram_vectors_total", "counter", "result=\"none\"",
              r.ngram_fallbacks);
        add_u(snap, "rank_gen_suffixes", "qac_rank_gen_suffixes", "gauge", NULL, r.gen_suffixes);
        add_u(snap, "rank_gen_words", "qac_rank_gen_words", "gauge", NULL, r.gen_words);
        add_u(snap, "rank_gen_bytes", "qac_rank_gen_bytes", "gauge", NULL, r.gen_bytes);
        add_u(snap, "rank_gen_builds", "qac_rank_gen_builds_total", "counter", NULL, r.gen_builds);
        add_u(snap, "rank_gen_building", "qac_rank_gen_building", "gauge", NULL, (uint64_t)r.gen_building);
        add_u(snap, "rank_gen_build_ms", "qac_rank_gen_build_ms", "gauge", NULL, r.gen_build_ms);
        add_u(snap, "rank_gen_copy_ms", "qac_rank_gen_copy_ms", "gauge", NULL, r.gen_copy_ms);
        add_u(snap, "rank_gen_copy_bytes", "qac_rank_gen_copy_bytes", "gauge", NULL, r.gen_copy_bytes);
        add_u(snap, "rank_gen_copying", "qac_rank_gen_copying", "gauge", NULL, (uint64_t)r.gen_copying);
        add_u(snap, "rank_gen_copy_slices", "qac_rank_gen_copy_slices", "gauge", NULL, r.gen_copy_slices);
        add_u(snap, "rank_gen_unready", "qac_rank_gen_unready_total", "counter", NULL, r.gen_unready);
        add_u(snap, "rank_gen_requeued", "qac_rank_gen_requeued_total", "counter", NULL, r.gen_requeued);
        add_u(snap, "rank_gen_failures", "qac_rank_gen_failures_total", "counter", NULL, r.gen_failures);
        add_u(snap, "rank_gen_note_overflows", "qac_rank_gen_note_overflows_total", "counter", NULL,
              r.gen_note_overflows);
    }
    add_u(snap, "changelog_enabled", "qac_changelog_enabled", "gauge", NULL, s->changelog != NULL);
    if (s->changelog) chg_stats(s->changelog, snap);
    const jrn *j = s->journal;
    add_u(snap, "journal_enabled", "qac_journal_enabled", "gauge", NULL, j != NULL);
    if (!j) return;
    it = add(snap, "journal_fsync", "qac_journal_fsync", "gauge");
    if (it) {
        it->str = jrn_policy_name(jrn_policy(j));
        snprintf(it->label, sizeof it->label, "policy=\"%s\"", it->str);
    }
    add_u(snap, "journal_generation", "qac_journal_generation", "gauge", NULL, jrn_gen(j));
    add_u(snap, "journal_size_bytes", "qac_journal_bytes", "gauge", "kind=\"file\"", jrn_size(j));
    add_u(snap, "journal_pending_bytes", "qac_journal_bytes", "gauge", "kind=\"pending\"", jrn_pending(j));
    add_u(snap, "journal_writes", "qac_journal_ops_total", "counter", "op=\"write\"", jrn_writes(j));
    add_u(snap, "journal_fsyncs", "qac_journal_ops_total", "counter", "op=\"fsync\"", jrn_syncs(j));
    add_u(snap, "journal_write_errors", "qac_journal_errors_total", "counter", "op=\"write\"", jrn_write_errors(j));
    add_u(snap, "journal_fsync_errors", "qac_journal_errors_total", "counter", "op=\"fsync\"", jrn_sync_errors(j));
    add_u(snap, "journal_ok", "qac_journal_ok", "gauge", NULL, jrn_error(j) == 0);
    it = add(snap, "journal_last_error", "qac_journal_error", "gauge");
    if (it) {
        it->str = jrn_error(j) ? strerror(jrn_error(j)) : "none";
        snprintf(it->label, sizeof it->label, "op=\"%s\"", jrn_error(j) ? jrn_error_op(j) : "none");
    }
}

void stats_add_u(eng_stats_snap *snap, const char *name, const char *prom, const char *ptype, const char *label,
                 uint64_t v) {
    add_u(snap, name, prom, ptype, label, v);
}

int stats_find(const eng_stats_snap *snap, const char *name, double *out) {
    for (int i = 0; i < snap->n; i++)
        if (!strcmp(snap->items[i].name, name)) {
            *out = snap->items[i].str ? 1 : snap->items[i].is_float ? snap->items[i].d : (double)snap->items[i].u;
            return 0;
        }
    *out = 0;
    return -1;
}

static int put_value(qbuf *out, const stats_item *it) {
    if (it->str) return qbuf_puts(out, it->str);
    if (!it->is_float) return qbuf_putu64(out, it->u);
    return qbuf_printf(out, "%.3f", it->d);
}

static int render_lines(const eng_stats_snap *snap, qbuf *out, char sep) {
    for (int i = 0; i < snap->n; i++) {
        const stats_item *it = &snap->items[i];
        if (qbuf_puts(out, it->name) < 0 || qbuf_putc(out, sep) < 0 || put_value(out, it) < 0 ||
            qbuf_append(out, "\r\n", 2) < 0)
            return -1;
    }
    return 0;
}

int stats_render_text(const eng_stats_snap *snap, qbuf *out) {
    if (proto_reply_list_head(out, PROTO_TEXT, (uint64_t)snap->n) < 0) return -1;
    return render_lines(snap, out, ' ');
}

int stats_render_resp(const eng_stats_snap *snap, const char *head, qbuf *out) {
    qbuf body;
    qbuf_init(&body);
    int rc = head ? qbuf_puts(&body, head) : 0;
    if (rc == 0) rc = qbuf_puts(&body, "# qac\r\n");
    if (rc == 0) rc = render_lines(snap, &body, ':');
    if (rc == 0) rc = proto_reply_bulk(out, PROTO_RESP, body.data, body.len);
    qbuf_free(&body);
    return rc;
}

int stats_render_json(const eng_stats_snap *snap, qbuf *out) {
    if (qbuf_putc(out, '{') < 0) return -1;
    for (int i = 0; i < snap->n; i++) {
        const stats_item *it = &snap->items[i];
        /* names are [a-z0-9_] and error codes: no escaping needed */
        if ((i && qbuf_putc(out, ',') < 0) || qbuf_putc(out, '"') < 0 || qbuf_puts(out, it->name) < 0 ||
            qbuf_append(out, "\":", 2) < 0)
            return -1;
        /* text values are error strings / policy names: no quotes or controls */
        if (it->str ? qbuf_printf(out, "\"%s\"", it->str) < 0 : put_value(out, it) < 0) return -1;
    }
    return qbuf_putc(out, '}');
}

int stats_render_prom(const eng_stats_snap *snap, qbuf *out) {
    for (int i = 0; i < snap->n; i++) {
        const stats_item *it = &snap->items[i];
        int first = 1;
        for (int j = 0; j < i; j++)
            if (!strcmp(snap->items[j].prom, it->prom)) first = 0;
        if (first && qbuf_printf(out, "# TYPE %s %s\n", it->prom, it->ptype) < 0) return -1;
        if (qbuf_puts(out, it->prom) < 0) return -1;
        if (it->label[0] && qbuf_printf(out, "{%s}", it->label) < 0) return -1;
        if (it->str) {
            if (qbuf_puts(out, " 1\n") < 0) return -1;
            continue;
        }
        if (qbuf_putc(out, ' ') < 0 || put_value(out, it) < 0 || qbuf_putc(out, '\n') < 0) return -1;
    }
    return 0;
}
