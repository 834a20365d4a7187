/* serve.c -- `qac serve`: settings, load the index, run the server.
 *
 * With --journal, the journal generations are replayed over the loaded
 * index before serving (engine/journal.h), and appended to afterwards.
 *
 * Exit status: 0 after a clean shutdown (SIGINT/SIGTERM), 1 when the index
 * cannot be loaded, a journal is corrupt (without --journal-repair) or a
 * port cannot be bound, 2 for a usage error (unknown
 * setting, bad value, missing -i) after one line on stderr.
 */
#include <signal.h>
#include <stdio.h>

#include "common/log.h"
#include "common/util.h"
#include "engine/config.h"
#include "engine/journal.h"
#include "engine/server.h"
#include "trie/trie.h"

int serve_main(int argc, char **argv) {
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
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file size limit makes the journal write fail with EFBIG instead */
    trie *t = NULL;
    uint64_t t0 = now_us();
    if (trie_load(cfg.index, &t, err, sizeof err) < 0) {
        LOG_E("cannot load index %s: %s", cfg.index, err);
        config_free(&cfg);
        return 1;
    }
    LOG_I("loaded %s: %llu keys in %llu ms", cfg.index, (unsigned long long)trie_count(t),
          (unsigned long long)((now_us() - t0) / 1000));
    jrn *j = NULL;
    if (cfg.journal) { /* replay every generation, then append to the last one */
        jrn_recovery rec;
        t0 = now_us();
        if (jrn_recover(cfg.journal, t, (int)cfg.journal_repair, &rec, err, sizeof err) < 0) {
            LOG_E("cannot replay the journal: %s", err);
            trie_free(t);
            config_free(&cfg);
            return 1;
        }
        LOG_I("journal %s: replayed %llu records from %llu files in %llu ms (%llu keys now)%s", cfg.journal,
              (unsigned long long)rec.records, (unsigned long long)rec.files,
              (unsigned long long)((now_us() - t0) / 1000), (unsigned long long)trie_count(t),
              rec.dropped_bytes ? "; --journal-repair dropped damaged data, see above" : "");
        j = jrn_open(cfg.journal, rec.last_gen ? rec.last_gen : 1, jrn_policy_parse(cfg.fsync), err, sizeof err);
        if (!j) {
            LOG_E("%s", err);
            trie_free(t);
            config_free(&cfg);
            return 1;
        }
    }
    int rc = srv_run(&cfg, t, j);
    jrn_close(j);
    trie_free(t);
    config_free(&cfg);
    return rc;
}
