/* main.c -- the one binary, bin/qac, and its subcommands.
 *
 * This is the composition root: the only file that sees every module. Each
 * subcommand lives with its module and has the signature
 *     int NAME_main(int argc, char **argv)   (argv[0] is the subcommand name)
 * returning the process exit status: 0 success, 1 runtime error, 2 usage
 * error (after one line on stderr that says what to do).
 */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "data/build.h"
#include "data/eval.h"
#include "data/replay.h"
#include "data/train.h"
#include "engine/server.h"

typedef struct qac_cmd {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
} qac_cmd;

static const qac_cmd cmds[] = {
    /* Subcommands register here, one line each, in the order shown by --help. */
    {"build", build_main, "build a trie snapshot from query logs"},
    {"complete", complete_main, "print the top completions of prefixes from a snapshot"},
    {"embed", embed_main, "train query embeddings from query logs (learned ranker)"},
    {"eval", eval_main, "measure ranking quality on query logs (EVALUATION.md)"},
    {"load", load_main, "write query embeddings to Redis under a new version and switch to it"},
    {"replay", replay_main, "replay query logs against a server: latency, throughput, quality"},
    {"train", train_main, "learn the learned ranker's model by replaying query logs"},
    {"serve", serve_main, "serve completions over text/RESP and HTTP (event loop)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
    fprintf(f,
            "usage: qac COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "qac is a search auto-completion engine: a compressed prefix trie of known\n"
            "queries, ranked by popularity and a learned scorer, served over a line\n"
            "protocol, RESP and HTTP.\n"
            "\n"
            "commands:\n");
    for (const qac_cmd *c = cmds; c->name; c++) fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\n'qac COMMAND --help' shows a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "qac: no command given; see 'qac --help'\n");
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("qac %s\n", QAC_VERSION);
        return 0;
    }
    for (const qac_cmd *c = cmds; c->name; c++)
        if (!strcmp(argv[1], c->name)) return c->main(argc - 1, argv + 1);
    fprintf(stderr, "qac: unknown command '%s'; see 'qac --help'\n", argv[1]);
    return 2;
}
