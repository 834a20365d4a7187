/* serve_cmd.c -- `qac serve`: settings, load the index, run the server.
 *
 * The named dictionaries saved beside the index (INDEX.dicts, engine/dict.h)
 * are loaded after it. With --journal, the journal generations are replayed
 * over both before serving (engine/store/journal.h), and appended to
 * afterwards.
 *
 * Exit status: 0 after a clean shutdown (SIGINT/SIGTERM), 1 when the index
 * cannot be loaded, a journal is corrupt (without --journal-repair) or a
 * port cannot be bound, 2 for a usage error (unknown
 * setting, bad value, missing -i) after one line on stderr.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "common/log.h"
#include "common/util.h"
#include "engine/config.h"
#include "engine/dict.h"
#include "engine/infix.h"
#include "engine/store/journal.h"
#include "engine/server.h"
#include "engine/upstream.h"
#include "trie/trie.h"

/* File descriptors kept for everything that is not a client: listeners,
 * journal, snapshot child, Redis, libuv's internal pipes and threads, stdio. */
#define SRV_RESERVED_FDS 64

/* Makes room for max-clients connections in the open-file limit, as Redis
 * does: raise the soft limit toward max-clients + SRV_RESERVED_FDS (up to the
 * hard limit); when that is not enough, lower max-clients so that every
 * client over it still gets a clear "max-clients reached" instead of being
 * dropped by a failed accept(). Returns -1 when not even one client fits. */
static int fit_fd_limit(srv_config *cfg) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return 0;
    rlim_t need = (rlim_t)cfg->max_clients + SRV_RESERVED_FDS, was = rl.rlim_cur;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t want = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
        if (want > rl.rlim_cur) {
            rl.rlim_cur = want;
            if (setrlimit(RLIMIT_NOFILE, &rl) < 0) rl.rlim_cur = was;
        }
        if (rl.rlim_cur >= need) {
            LOG_I("server.nofile_raised", "from=%llu to=%llu max_clients=%llu", (unsigned long long)was,
                  (unsigned long long)rl.rlim_cur, (unsigned long long)cfg->max_clients);
        } else if (rl.rlim_cur <= SRV_RESERVED_FDS) {
            LOG_E("server.nofile_too_low", "nofile=%llu hard=%llu need=%llu msg=\"no room for clients: raise the "
                  "open-file limit (ulimit -n) or lower max-clients\"",
                  (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, (unsigned long long)need);
            return -1;
        } else {
            uint64_t fit = (uint64_t)(rl.rlim_cur - SRV_RESERVED_FDS);
            LOG_W("server.max_clients_lowered", "from=%llu to=%llu nofile=%llu hard=%llu need=%llu wanted=%llu "
                  "msg=\"raise the open-file limit (ulimit -n) to serve every client asked for\"",
                  (unsigned long long)cfg->max_clients, (unsigned long long)fit, (unsigned long long)rl.rlim_cur,
                  (unsigned long long)rl.rlim_max, (unsigned long long)need, (unsigned long long)cfg->max_clients);
            cfg->max_clients = fit;
        }
    }
    return 0;
}

int serve_main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) /* the shard merger: no index, settings of its own (engine/upstream.h) */
        if (!strncmp(argv[i], "--upstreams", 11)) return upstream_main(argc, argv);
    srv_config cfg;
    char err[600];
    int help = 0;
    config_defaults(&cfg);
    if (config_parse_args(&cfg, argc, argv, &help, err, sizeof err) < 0 ||
        (!help && config_validate(&cfg, err, sizeof err) < 0)) {
        fprintf(stderr, "qac serve: %s; see 'qac serve --help'\n", err);
        config_free(&cfg);
        return 2;
    }
    if (help) {
        config_usage(stdout);
        config_free(&cfg);
        return 0;
    }
    log_set_level(log_level_parse(cfg.log_level));
    if (cfg.requirepass_from_flag && cfg.requirepass && *cfg.requirepass)
        LOG_W("auth.requirepass_flag", "msg=\"requirepass given as a flag: other local users may have seen it in ps "
              "before it was hidden; prefer a 'requirepass' line in a --config file (mode 600) or $" SRV_REQUIREPASS_ENV
              "\"");
    if (cfg.requirepass && *cfg.requirepass)
        LOG_I("auth.on", "msg=\"access control on: changes, SAVE, RELOAD, STATS and CONFIG need AUTH (HTTP: a "
              "Bearer token)\"");
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file size limit makes the journal write fail with EFBIG instead */
    trie *t = NULL;
    uint64_t t0 = qtime_us();
    if (trie_load(cfg.index, &t, err, sizeof err) < 0) {
        LOG_E("index.load_failed", "path=%s error=%s", cfg.index, err);
        config_free(&cfg);
        return 1;
    }
    LOG_I("index.loaded", "path=%s keys=%llu ms=%llu", cfg.index, (unsigned long long)trie_count(t),
          (unsigned long long)((qtime_us() - t0) / 1000));
    /* the named dictionaries: INDEX.dicts when present (engine/dict.h) */
    dict_set *dicts = dict_set_new();
    char dpath[JRN_PATH_MAX + 8];
    if (!dicts || dict_path(dpath, sizeof dpath, cfg.index) < 0 || dict_load(dicts, dpath, err, sizeof err) < 0) {
        LOG_E("index.load_failed", "path=%s.dicts error=%s", cfg.index, dicts ? err : "out of memory");
        dict_set_free(dicts);
        trie_free(t);
        config_free(&cfg);
        return 1;
    }
    if (dicts->n) LOG_I("index.dicts_loaded", "path=%s dicts=%zu", dpath, dicts->n);
    /* the word index saved with this snapshot (engine/infix.h); NULL: built in srv_run */
    trie_words *words = eng_words_load(cfg.index, (int)cfg.infix_index, t);
    jrn *j = NULL;
    if (cfg.journal) { /* replay every generation, then append to the last one */
        jrn_recovery rec;
        t0 = qtime_us();
        if (jrn_recover_keys(cfg.journal, t, dict_apply, dicts, eng_words_replay, &words, (int)cfg.journal_repair, &rec,
                             err, sizeof err) < 0) {
            LOG_E("journal.replay_failed", "error=%s", err);
            dict_set_free(dicts);
            trie_words_free(words);
            trie_free(t);
            config_free(&cfg);
            return 1;
        }
        LOG_I("journal.replayed", "path=%s records=%llu files=%llu ms=%llu keys=%llu repaired=%d", cfg.journal,
              (unsigned long long)rec.records, (unsigned long long)rec.files,
              (unsigned long long)((qtime_us() - t0) / 1000), (unsigned long long)trie_count(t),
              rec.dropped_bytes ? 1 : 0);
        j = jrn_open(cfg.journal, rec.last_gen ? rec.last_gen : 1, jrn_policy_parse(cfg.fsync), err, sizeof err);
        if (!j) {
            LOG_E("journal.open_failed", "error=%s", err);
            dict_set_free(dicts);
            trie_words_free(words);
            trie_free(t);
            config_free(&cfg);
            return 1;
        }
    }
    if (fit_fd_limit(&cfg) < 0) {
        jrn_close(j);
        dict_set_free(dicts);
        trie_words_free(words);
        trie_free(t);
        config_free(&cfg);
        return 1;
    }
    int rc = srv_run(&cfg, t, dicts, j, words); /* owns words from here */
    jrn_close(j);
    dict_set_free(dicts);
    trie_free(t);
    config_free(&cfg);
    return rc;
}
