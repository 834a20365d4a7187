/* complete.c -- `qac complete -i INDEX [-k K] [--infix] [--fuzzy MODE]
 * PREFIX...`: offline top-k, the answers a server with default settings
 * gives to COMPLETE PREFIX [INFIX] [FUZZY MODE].
 * With --infix, the answer of COMPLETE ... INFIX (words anywhere): the word
 * index saved beside the snapshot (INDEX.words) is loaded, or built when
 * there is none or it belongs to another image (trie_words_open; a refused
 * file is named on stderr).
 * With --fuzzy 0|1|2|auto, typos are forgiven as COMPLETE ... FUZZY does
 * (trie_fuzzy_topk_bounded; with --infix, trie_words_topk_edits, the very
 * calls the server makes), with the server's defaults: AUTO allows 1 edit
 * from TRIE_FUZZY_AUTO_ONE code points and 2 from TRIE_FUZZY_AUTO_TWO, the
 * first character is exact, the typo search stops at TRIE_FUZZY_MAX_WORK
 * units; each line then has a third field, the edit count, negated in the
 * class that work limit cut (as WITHEDITS sends it), and a cut search or
 * an INFIX search cut by its scan limit is said on stderr (the lines are
 * still the best found, in order).
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
#include <strings.h>

#include "common/cli.h"
#include "common/util.h"
#include "data/build.h"
#include "text/norm.h"
#include "trie/trie_words.h"

#define COMPLETE_DEFAULT_K 10
#define COMPLETE_NORM_CAP (TRIE_MAX_KEY * NORM_MAX_GROWTH)
#define COMPLETE_FUZZY_AUTO 3

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
            "usage: qac complete -i INDEX [-k K] [--infix] [--fuzzy MODE] PREFIX...\n"
            "\n"
            "Prints the top K completions of each PREFIX from a snapshot, one\n"
            "'display<TAB>score' line each, and an empty line after each list.\n"
            "\n"
            "  -i, --index INDEX   snapshot made by 'qac build'\n"
            "  -k K                completions per prefix, 1..%d (default %d)\n"
            "      --infix         words anywhere, in any order (as COMPLETE ... INFIX)\n"
            "      --fuzzy MODE    forgive typos (as COMPLETE ... FUZZY MODE): 0, 1, 2 or auto\n"
            "                      (auto: 1 edit from %d characters, 2 from %d); adds a third\n"
            "                      field, the edits (negative: the work limit cut that class)\n"
            "  -h, --help          this help\n",
            TRIE_MAX_K, COMPLETE_DEFAULT_K, TRIE_FUZZY_AUTO_ONE, TRIE_FUZZY_AUTO_TWO);
}

/* The edits FUZZY mode allows for the normalized text np[0..n) (AUTO by
 * its code points, or by its last word's for the word search). */
static unsigned complete_edits(int fuzzy, const char *np, size_t n) {
    if (fuzzy != COMPLETE_FUZZY_AUTO) return fuzzy > 0 ? (unsigned)fuzzy : 0;
    return trie_fuzzy_auto_edits(np, n, TRIE_FUZZY_AUTO_ONE, TRIE_FUZZY_AUTO_TWO);
}

/* Prints prefix number `no`'s list (without the empty line after it):
 * trie_topk's, trie_words_topk_edits' with a word index w, or
 * trie_fuzzy_topk_bounded's with --fuzzy (fuzzy >= 0). -1 when it could not
 * be answered (said on stderr), else 0. */
static int complete_one(const trie *t, const trie_words *w, const char *prefix, int no, unsigned k, int fuzzy) {
    static char np[COMPLETE_NORM_CAP];
    static trie_hit hits[TRIE_MAX_K]; /* ~1 KB each: not on the stack */
    static trie_fuzzy_hit fhits[TRIE_MAX_K];
    static trie_words_hit whits[TRIE_MAX_K], wfhits[TRIE_MAX_K];
    static uint16_t wmatch[TRIE_MAX_K];
    static int edits[TRIE_MAX_K];
    int n = norm_prefix_as((int)trie_tag(t), prefix, strlen(prefix), np, sizeof np);
    if (n < 0) {
        fprintf(stderr, "qac complete: prefix %d: %s\n", no, norm_strerror(n));
        return -1;
    }
    if (n > TRIE_MAX_KEY) return 0; /* a longer prefix matches nothing */
    int m, cut = 0;
    if (w) {
        trie_words_edits ed = {0, 0, 0, TRIE_FUZZY_MAX_WORK};
        if (fuzzy >= 0) {
            size_t st, wl = trie_words_last_word(np, (size_t)n, &st);
            ed.maxd = complete_edits(fuzzy, np, (size_t)n);
            ed.word_maxd = complete_edits(fuzzy, np + st, wl);
        }
        trie_words_edits_info in;
        m = trie_words_topk_edits(w, t, np, (size_t)n, &ed, k, whits, wmatch, fhits, wfhits, &in);
        if (m < 0) {
            fprintf(stderr, "qac complete: prefix %d: %s\n", no, trie_words_strerror(m));
            return -1;
        }
        cut = in.fuzzy_cut;
        if (in.truncated || in.word_truncated)
            fprintf(stderr, "qac complete: prefix %d: the word search stopped at its limit (%u units): the best "
                    "found\n", no, TRIE_WORDS_MAX_SCAN);
        for (int j = 0; j < m; j++) hits[j] = whits[j].hit, edits[j] = whits[j].edits;
    } else if (fuzzy >= 0) {
        trie_fuzzy_info fi;
        m = trie_fuzzy_topk_bounded(t, np, (size_t)n, complete_edits(fuzzy, np, (size_t)n), 0, k,
                                    TRIE_FUZZY_MAX_WORK, fhits, &fi);
        if (m < 0) {
            fprintf(stderr, "qac complete: prefix %d: %s\n", no, trie_strerror(m));
            return -1;
        }
        cut = fi.cut;
        for (int j = 0; j < m; j++) hits[j] = fhits[j].hit, edits[j] = fhits[j].edits;
    } else {
        m = trie_topk(t, np, (size_t)n, k, hits);
        if (m < 0) {
            fprintf(stderr, "qac complete: prefix %d: %s\n", no, trie_strerror(m));
            return -1;
        }
    }
    if (cut)
        fprintf(stderr, "qac complete: prefix %d: the typo search stopped at its work limit (%u units) in its %d-edit "
                "class: the best found\n", no, (unsigned)TRIE_FUZZY_MAX_WORK, cut);
    for (int j = 0; j < m; j++) {
        char sc[64];
        fmt_score(hits[j].score, sc, sizeof sc);
        if (fuzzy < 0) printf("%.*s\t%s\n", (int)hits[j].displen, trie_hit_display(&hits[j]), sc);
        else
            printf("%.*s\t%s\t%d\n", (int)hits[j].displen, trie_hit_display(&hits[j]), sc,
                   edits[j] && edits[j] == cut ? -edits[j] : edits[j]);
    }
    return 0;
}

int complete_main(int argc, char **argv) {
    static const cli_opt options[] = {
        {'i', "index", CLI_VALUE},
        {'k', NULL, CLI_VALUE},
        {'x', "infix", CLI_FLAG},
        {'f', "fuzzy", CLI_VALUE},
    };
    int infix = 0, fuzzy = -1; /* -1: no --fuzzy; 0..2; COMPLETE_FUZZY_AUTO */
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
        case 'f':
            if (!strcasecmp(cl.val, "auto")) fuzzy = COMPLETE_FUZZY_AUTO;
            else if (strlen(cl.val) == 1 && cl.val[0] >= '0' && cl.val[0] <= '0' + TRIE_FUZZY_MAX_EDITS)
                fuzzy = cl.val[0] - '0';
            else return cli_error(&cl, "bad --fuzzy '%s' (want 0, 1, 2 or auto)", cl.val);
            break;
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
    for (int i = cl.ind; i < argc; i++) {
        if (complete_one(t, w, argv[i], i - cl.ind + 1, k, fuzzy) < 0) status = 1;
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
