/* complete.c -- `qac complete -i INDEX [-k K] [--infix] PREFIX...`: offline top-k.
 * With --infix, the answer of COMPLETE ... INFIX (words anywhere; no edits):
 * the word index saved beside the snapshot (INDEX.words) is loaded, or
 * built when there is none or it belongs to another image
 * (trie_words_open; a refused file is named on stderr).
 *
 * Loads a snapshot, normalizes each prefix with norm_prefix() (so a prefix
 * cut inside a multi-byte character, or ending in a space, works as it does
 * in the server) and prints, per prefix, up to K lines "display<TAB>score"
 * followed by one empty line. Scores print as integers when they are whole,
 * else with the fewest significant digits that read back to the same double.
 * A prefix that cannot be normalized (invalid UTF-8, control character) gets
 * a message on stderr and an empty list; the exit status is then 1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/util.h"
#include "data/build.h"
#include "text/norm.h"
#include "trie/trie_words.h"

#define COMPLETE_DEFAULT_K 10
#define COMPLETE_NORM_CAP (TRIE_MAX_KEY * NORM_MAX_GROWTH)

/* Shortest decimal form of v that parses back to v. */
static void fmt_score(double v, char *buf, size_t cap) {
    if (v == 0) {
        snprintf(buf, cap, "0");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, cap, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

static void complete_usage(FILE *f) {
    fprintf(f,
            "usage: qac complete -i INDEX [-k K] [--infix] PREFIX...\n"
            "\n"
            "Prints the top K completions of each PREFIX from a snapshot, one\n"
            "'display<TAB>score' line each, and an empty line after each list.\n"
            "\n"
            "  -i, --index INDEX   snapshot made by 'qac build'\n"
            "  -k K                completions per prefix, 1..%d (default %d)\n"
            "      --infix         words anywhere, in any order (as COMPLETE ... INFIX)\n"
            "  -h, --help          this help\n",
            TRIE_MAX_K, COMPLETE_DEFAULT_K);
}

int complete_main(int argc, char **argv) {
    static const cli_opt options[] = {
        {'i', "index", CLI_VALUE},
        {'k', NULL, CLI_VALUE},
        {'x', "infix", CLI_FLAG},
    };
    int infix = 0;
    const char *index = NULL;
    unsigned k = COMPLETE_DEFAULT_K;
    uint64_t kv;
    cli cl;
    cli_init(&cl, "complete", complete_usage, options, ARRAY_LEN(options), argc, argv);
    int opt;
    while ((opt = cli_getopt(&cl)) >= 0) {
        switch (opt) {
        case 'i': index = cl.val; break;
        case 'x': infix = 1; break;
        case 'k':
            if (qparse_u64(cl.val, strlen(cl.val), &kv) < 0 || kv < 1 || kv > TRIE_MAX_K)
                return cli_error(&cl, "bad -k '%s' (want 1..%d)", cl.val, TRIE_MAX_K);
            k = (unsigned)kv;
            break;
        }
    }
    if (opt == CLI_EXIT) return cl.status;
    if (!index) return cli_error(&cl, "missing -i INDEX");
    if (cl.ind >= argc) return cli_error(&cl, "no PREFIX given");
    trie *t;
    char err[512];
    int rc = trie_load(index, &t, err, sizeof err);
    if (rc != TRIE_OK) {
        fprintf(stderr, "qac complete: cannot load %s: %s\n", index, err);
        return 1;
    }
    trie_words *w = NULL;
    if (infix) {
        char why[512];
        int loaded;
        if ((rc = trie_words_open(index, t, &w, &loaded, why, sizeof why)) != TRIE_OK) {
            fprintf(stderr, "qac complete: cannot load or build the word index: %s\n", trie_words_strerror(rc));
            trie_free(t);
            return 1;
        }
        if (why[0]) fprintf(stderr, "qac complete: the saved word index is not used (%s): built instead\n", why);
    }
    int status = 0;
    static char np[COMPLETE_NORM_CAP];
    static trie_hit hits[TRIE_MAX_K]; /* ~1 KB each: not on the stack */
    static trie_words_hit whits[TRIE_MAX_K];
    for (int i = cl.ind; i < argc; i++) {
        int n = norm_prefix_as((int)trie_tag(t), argv[i], strlen(argv[i]), np, sizeof np);
        if (n < 0) {
            fprintf(stderr, "qac complete: prefix %d: %s\n", i - cl.ind + 1, norm_strerror(n));
            status = 1;
        } else if (n <= TRIE_MAX_KEY) { /* a longer prefix matches nothing */
            int m = w ? trie_words_topk(w, t, np, (size_t)n, k, whits, NULL) : trie_topk(t, np, (size_t)n, k, hits);
            if (m < 0) {
                fprintf(stderr, "qac complete: prefix %d: %s\n", i - cl.ind + 1, trie_words_strerror(m));
                status = 1;
            }
            for (int j = 0; j < m; j++) {
                if (w) hits[j] = whits[j].hit;
                char sc[64];
                fmt_score(hits[j].score, sc, sizeof sc);
                printf("%.*s\t%s\n", (int)hits[j].displen, trie_hit_display(&hits[j]), sc);
            }
        }
        printf("\n");
    }
    trie_words_free(w);
    trie_free(t);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "qac complete: write to stdout failed\n");
        status = 1;
    }
    return status;
}
