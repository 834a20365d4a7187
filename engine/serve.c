/* serve.c -- `qac serve`: settings, load the index, run the server.
 *
 * Exit status: 0 after a clean shutdown (SIGINT/SIGTERM), 1 when the index
 * cannot be loaded or a port cannot be bound, 2 for a usage error (unknown
 * setting, bad value, missing -i) after one line on stderr.
 */
#include <signal.h>
#include <stdio.h>

#include "common/log.h"
#include "common/util.h"
#include "engine/config.h"
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
    trie *t = NULL;
    uint64_t t0 = now_us();
    if (trie_load(cfg.index, &t, err, sizeof err) < 0) {
        LOG_E("cannot load index %s: %s", cfg.index, err);
        config_free(&cfg);
        return 1;
    }
    LOG_I("loaded %s: %llu keys in %llu ms", cfg.index, (unsigned long long)trie_count(t),
          (unsigned long long)((now_us() - t0) / 1000));
    int rc = srv_run(&cfg, t);
    trie_free(t);
    config_free(&cfg);
    return rc;
}
