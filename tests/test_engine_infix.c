/* Unit tests of COMPLETE ... INFIX in the commands (engine/cmd.c,
 * engine/infix.c), in process: text and RESP replies (ordinary completions
 * first, then the other word matches, each by score), INFIX with FUZZY (the
 * typo fill after the word matches), bad input, infix-index no, STATS, and
 * the index kept exact by ADD / INCR / DEL / ACCEPT: after random changes
 * through eng_exec the live index passes trie_words_check and answers
 * exactly what an index freshly built from the same trie answers (the
 * build itself is checked against a brute force in tests/test_trie_words.c);
 * an index dropped after an error comes back with RELOAD.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/util.h"
#include "engine/cmd.h"
#include "engine/config.h"
#include "engine/infix.h"
#include "engine/rank/ranker.h"
#include "trie/trie.h"
#include "trie/trie_words.h"

#define S(x) x, sizeof(x) - 1

typedef struct fx {
    trie *t;
    srv_config cfg;
    eng e;
    qbuf out;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->t = trie_new();
    trie_set(f->t, S("new york"), S("New York"), 100, NULL);
    trie_set(f->t, S("new york times"), NULL, 0, 80, NULL);
    trie_set(f->t, S("york pa"), NULL, 0, 50, NULL);
    trie_set(f->t, S("newark airport"), NULL, 0, 40, NULL);
    trie_set(f->t, S("the new yorker"), NULL, 0, 30, NULL);
    trie_set(f->t, S("new york yankees"), S("New York Yankees"), 20, NULL);
    config_defaults(&f->cfg);
    eng_init(&f->e, f->t, &f->cfg);
    assert_int_equal(eng_words_build(&f->e), 0);
    assert_non_null(f->e.words);
    qbuf_init(&f->out);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    eng_words_free(&f->e);
    qbuf_free(&f->out);
    config_free(&f->cfg);
    trie_free(f->t);
    free(f);
    return 0;
}

static const char *run_kind(fx *f, int kind, int argc, const char **words) {
    proto_arg argv[32];
    for (int i = 0; i < argc; i++) argv[i] = (proto_arg){.p = words[i], .len = strlen(words[i])};
    qbuf_reset(&f->out);
    int flags;
    assert_true(eng_exec(&f->e, kind, argc, argv, &f->out, &flags) >= 0);
    assert_int_equal(qbuf_putc(&f->out, 0), 0);
    return f->out.data;
}
#define NARGS(...) (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *))
#define RESP(f, ...) run_kind(f, PROTO_RESP, NARGS(__VA_ARGS__), (const char *[]){__VA_ARGS__})
#define TEXT(f, ...) run_kind(f, PROTO_TEXT, NARGS(__VA_ARGS__), (const char *[]){__VA_ARGS__})

static void set(fx *f, const char *name, const char *value) {
    char err[256];
    assert_int_equal(config_set(&f->cfg, name, value, err, sizeof err), 0);
}

static void test_replies(void **state) {
    fx *f = *state;
    /* without INFIX: prefix completions only */
    assert_string_equal(TEXT(f, "COMPLETE", "york"), "OK 1\r\nyork pa\t50\r\n");
    /* INFIX: the completion first, then the other matches by score */
    assert_string_equal(TEXT(f, "COMPLETE", "york", "INFIX"),
                        "OK 5\r\nyork pa\t50\r\nNew York\t100\r\nnew york times\t80\r\nthe new yorker\t30\r\n"
                        "New York Yankees\t20\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "yankees ne", "infix"), "OK 1\r\nNew York Yankees\t20\r\n");
    /* a trailing space makes the last word complete: "yorker" no longer */
    assert_string_equal(TEXT(f, "COMPLETE", "york ", "INFIX", "LIMIT", "10"),
                        "OK 4\r\nyork pa\t50\r\nNew York\t100\r\nnew york times\t80\r\nNew York Yankees\t20\r\n");
    assert_string_equal(RESP(f, "COMPLETE", "times york", "INFIX", "WITHSCORES"),
                        "*2\r\n$14\r\nnew york times\r\n$2\r\n80\r\n");
    assert_string_equal(RESP(f, "COMPLETE", "york ne", "INFIX", "LIMIT", "2"),
                        "*2\r\n$8\r\nNew York\r\n$14\r\nnew york times\r\n");
    /* each typed word needs its own word of the key */
    assert_string_equal(TEXT(f, "COMPLETE", "new new", "INFIX"), "OK 0\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "zzz", "INFIX"), "OK 0\r\n");
    /* with edits allowed: the word matches, then those with edits: with as
     * many, the whole text's typo completions (york pa) before the last
     * word's anywhere in the key, whatever their scores (as ordinary
     * completions come before the other word matches) */
    assert_string_equal(TEXT(f, "COMPLETE", "yorkk", "INFIX", "FUZZY", "1", "WITHEDITS"),
                        "OK 5\r\nyork pa\t50\t1\r\nNew York\t100\t1\r\nnew york times\t80\t1\r\n"
                        "the new yorker\t30\t1\r\nNew York Yankees\t20\t1\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "newa", "INFIX", "FUZZY", "1", "WITHEDITS"),
                        "OK 5\r\nnewark airport\t40\t0\r\nNew York\t100\t1\r\nnew york times\t80\t1\r\n"
                        "New York Yankees\t20\t1\r\nthe new yorker\t30\t1\r\n");
    assert_int_equal(f->e.stats.complete_infix, 9);
}

/* The last typed word with edits (issue 15): a later word typed wrong
 * finds the key, with the edits and each word's range (the edited word's:
 * the part of the key word it stands for); a trailing space compares whole
 * words; AUTO counts the last word's characters (3: none, 4: one). */
static void test_last_word_edits(void **state) {
    fx *f = *state;
    assert_string_equal(TEXT(f, "COMPLETE", "yankees nwe", "INFIX"), "OK 0\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "yankees nwe", "INFIX", "FUZZY", "1", "WITHEDITS"),
                        "OK 1\r\nNew York Yankees\t20\t1\r\n");
    assert_string_equal(RESP(f, "COMPLETE", "yankees nwe", "INFIX", "FUZZY", "1", "WITHEDITS", "WITHMATCH"),
                        "*3\r\n$16\r\nNew York Yankees\r\n:1\r\n$10\r\n0 9-16 0-2\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "yankees nwe ", "INFIX", "FUZZY", "1", "WITHMATCH"),
                        "OK 1\r\nNew York Yankees\t20\t0 9-16 0-3\r\n");
    /* complete: "ne" is one edit from "new" as a whole word, not a prefix of it */
    assert_string_equal(TEXT(f, "COMPLETE", "yankees ne ", "INFIX", "FUZZY", "1", "WITHEDITS"),
                        "OK 1\r\nNew York Yankees\t20\t1\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "yankees ne ", "INFIX"), "OK 0\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "yankees nwe", "INFIX", "FUZZY", "AUTO"), "OK 0\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "times yrok", "INFIX", "FUZZY", "AUTO", "WITHEDITS"),
                        "OK 1\r\nnew york times\t80\t1\r\n");
    /* a key is listed once, in its best place: "new york" is a 1-edit typo
     * completion of "nwe" and a 1-edit match of its word "new", so it is a
     * completion; "the new yorker" only the latter, so after every one */
    assert_string_equal(TEXT(f, "COMPLETE", "nwe", "INFIX", "FUZZY", "1", "WITHEDITS"),
                        "OK 5\r\nNew York\t100\t1\r\nnew york times\t80\t1\r\nnewark airport\t40\t1\r\n"
                        "New York Yankees\t20\t1\r\nthe new yorker\t30\t1\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "york nwe", "INFIX", "FUZZY", "2", "WITHEDITS"),
                        "OK 3\r\nNew York\t100\t1\r\nnew york times\t80\t1\r\nNew York Yankees\t20\t1\r\n");
    /* the first character is exact (fuzzy-first-any no) */
    assert_string_equal(TEXT(f, "COMPLETE", "times bew", "INFIX", "FUZZY", "1"), "OK 0\r\n");
    set(f, "fuzzy-first-any", "yes");
    assert_string_equal(TEXT(f, "COMPLETE", "times bew", "INFIX", "FUZZY", "1", "WITHMATCH"),
                        "OK 1\r\nnew york times\t80\t0 9-14 0-3\r\n");
    set(f, "fuzzy-first-any", "no");
}

/* A ranker with the default options on a loop of its own answers f's
 * requests until ranker_off closes both. */
static eng_rank *ranker_on(fx *f, uv_loop_t *loop) {
    uv_loop_init(loop);
    eng_rank_opts o;
    eng_rank_opts_default(&o);
    char err[256];
    eng_rank *R = eng_rank_new(loop, f->t, &o, err, sizeof err);
    assert_non_null(R);
    f->e.rank = R;
    return R;
}

static void ranker_off(fx *f, uv_loop_t *loop, eng_rank *R) {
    f->e.rank = NULL;
    eng_rank_close(R);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* With a ranker (USER/SESSION): the ranker takes INFIX requests, gathers the
 * other word matches after the completions and orders inside each class:
 * the user's favourite moves up among the word matches, never above the
 * completion (issue 15). Without the index: the error the unranked path
 * answers. */
static void test_ranked(void **state) {
    fx *f = *state;
    uv_loop_t loop;
    eng_rank *R = ranker_on(f, &loop);
    eng_ctx ctx = {.rank = -1, .fuzzy = -1, .infix = 1};
    const char *msg;
    assert_int_equal(eng_complete_prepare(&f->e, S("york"), 1, &ctx, &msg), 0);
    assert_int_equal(eng_rank_takes(&f->e, &ctx, 1), 1);
    assert_int_equal(eng_rank_takes(&f->e, &ctx, 2), 1);
    /* no user signal yet: popularity inside each class, as without a ranker */
    assert_string_equal(TEXT(f, "COMPLETE", "york", "INFIX", "SESSION", "s1"),
                        "OK 5\r\nyork pa\t50\r\nNew York\t100\r\nnew york times\t80\r\nthe new yorker\t30\r\n"
                        "New York Yankees\t20\r\n");
    for (int i = 0; i < 3; i++) TEXT(f, "ACCEPT", "the new yorker", "USER", "u1");
    assert_string_equal(TEXT(f, "COMPLETE", "york", "INFIX", "USER", "u1"),
                        "OK 5\r\nyork pa\t50\r\nthe new yorker\t33\r\nNew York\t100\r\nnew york times\t80\r\n"
                        "New York Yankees\t20\r\n");
    /* LIMIT 1: the completion alone (the word matches come after it) */
    assert_string_equal(TEXT(f, "COMPLETE", "york", "INFIX", "USER", "u1", "LIMIT", "1"), "OK 1\r\nyork pa\t50\r\n");
    /* INFIX with edits: completions, word matches (none here), then the
     * matches with one edit -- the whole text's typo completions, then the
     * last word's anywhere in the key -- the ranker ordering within each,
     * never across: the user's favourite, a last-word match only, comes
     * after the typo completions */
    assert_string_equal(TEXT(f, "COMPLETE", "newa", "INFIX", "FUZZY", "1", "USER", "u1", "WITHEDITS"),
                        "OK 5\r\nnewark airport\t40\t0\r\nNew York\t100\t1\r\nnew york times\t80\t1\r\n"
                        "New York Yankees\t20\t1\r\nthe new yorker\t33\t1\r\n");
    /* the edited word's ranges found again from the key (what the ranker keeps) */
    assert_string_equal(TEXT(f, "COMPLETE", "yankees nwe", "INFIX", "FUZZY", "1", "USER", "u1", "WITHEDITS",
                             "WITHMATCH"),
                        "OK 1\r\nNew York Yankees\t20\t1\t0 9-16 0-2\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "yankees nwe", "INFIX", "FUZZY", "1", "WITHEDITS", "WITHMATCH"),
                        "OK 1\r\nNew York Yankees\t20\t1\t0 9-16 0-2\r\n");
    assert_int_equal(f->e.stats.complete_infix, 6);
    /* the index dropped: refused as without a ranker */
    eng_words_free(&f->e);
    f->e.words_dropped = 1;
    assert_int_equal(eng_rank_takes(&f->e, &ctx, 2), 0);
    assert_string_equal(TEXT(f, "COMPLETE", "york", "INFIX", "USER", "u1"),
                        "ERR ARGS INFIX needs the word index, which was dropped after an error (see the server log; "
                        "RELOAD or the next start rebuilds it)\r\n");
    ranker_off(f, &loop, R);
}

/* The scan limit cuts a ranked INFIX request as it cuts an unranked one
 * (tests/test_trie_words_cases.c test_scan_limit's index: two big words that meet
 * only in the worst key; "alpha" typed as a prefix, so its lists are sought
 * a rank at a time: both complete, they are compared a block pair at a
 * time and the key is found within the limit), and STATS
 * complete_infix_truncated counts both. */
static void test_ranked_scan_limit(void **state) {
    fx *f = *state;
    char k[64];
    for (int i = 0; i < 25000; i++) {
        int n = snprintf(k, sizeof k, "k%05d alpha", i);
        assert_int_equal(trie_set(f->t, k, (size_t)n, NULL, 0, 10 + i % 7, NULL), 0);
        n = snprintf(k, sizeof k, "k%05d beta", i);
        assert_int_equal(trie_set(f->t, k, (size_t)n, NULL, 0, 10 + i % 7, NULL), 0);
    }
    assert_int_equal(trie_set(f->t, S("alpha beta"), NULL, 0, -5, NULL), 0);
    assert_int_equal(eng_words_build(&f->e), 0);
    uv_loop_t loop;
    eng_rank *R = ranker_on(f, &loop);
    assert_string_equal(TEXT(f, "COMPLETE", "beta alpha", "INFIX"), "OK 0\r\n");
    assert_int_equal(f->e.stats.complete_infix_truncated, 1);
    assert_string_equal(TEXT(f, "COMPLETE", "beta alpha", "INFIX", "USER", "u1"), "OK 0\r\n");
    assert_int_equal(f->e.stats.complete_infix_truncated, 2);
    assert_string_equal(TEXT(f, "COMPLETE", "beta alpha ", "INFIX"), "OK 1\r\nalpha beta\t-5\r\n");
    assert_int_equal(f->e.stats.complete_infix_truncated, 2);
    /* found before the limit: not counted */
    assert_string_equal(TEXT(f, "COMPLETE", "york", "INFIX", "USER", "u1", "LIMIT", "1"), "OK 1\r\nyork pa\t50\r\n");
    assert_int_equal(f->e.stats.complete_infix_truncated, 2);
    /* infix-max-scan (read at each request: the index keeps its own,
     * from the default at build): raised, the same requests are answered
     * whole, ranked or not; out of its range refused with its name */
    set(f, "infix-max-scan", "200000");
    assert_string_equal(TEXT(f, "COMPLETE", "beta alpha", "INFIX"), "OK 1\r\nalpha beta\t-5\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "beta alpha", "INFIX", "USER", "u1"), "OK 1\r\nalpha beta\t-5\r\n");
    assert_int_equal(f->e.stats.complete_infix_truncated, 2);
    set(f, "infix-max-scan", "20000");
    assert_string_equal(TEXT(f, "COMPLETE", "beta alpha", "INFIX"), "OK 0\r\n");
    assert_int_equal(f->e.stats.complete_infix_truncated, 3);
    char err[256];
    assert_int_equal(config_set(&f->cfg, "infix-max-scan", "999", err, sizeof err), -1);
    assert_non_null(strstr(err, "infix-max-scan"));
    assert_int_equal(config_set(&f->cfg, "infix-max-scan", "100000001", err, sizeof err), -1);
    eng_rank_stat st;
    eng_rank_stats(R, &st);
    assert_int_equal(st.requests, 3);
    ranker_off(f, &loop, R);
}

static void test_bad_input(void **state) {
    fx *f = *state;
    assert_string_equal(TEXT(f, "COMPLETE", "york", "INFIX", "INFIX"), "ERR ARGS INFIX given twice\r\n");
    assert_string_equal(RESP(f, "COMPLETE", "york", "INFIX", "1"), "-ERR ARGS unknown option or missing value\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "a b c d e f g h i j k l m n o p", "INFIX"), "OK 0\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "a b c d e f g h i j k l m n o p q", "INFIX"),
                        "ERR ARGS INFIX takes at most 16 words (TRIE_WORDS_MAX_TYPED)\r\n");
    assert_string_equal(RESP(f, "COMPLETE", "a b c d e f g h i j k l m n o p q", "INFIX"),
                        "-ERR ARGS INFIX takes at most 16 words (TRIE_WORDS_MAX_TYPED)\r\n");
    /* a text longer than any key: nothing, as without INFIX */
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_string_equal(TEXT(f, "COMPLETE", big, "INFIX"), "OK 0\r\n");
    big[515] = 0; /* normalizes within the buffer, but over TRIE_MAX_KEY */
    assert_string_equal(TEXT(f, "COMPLETE", big), "OK 0\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", big, "INFIX"), "OK 0\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "   ", "INFIX"), "OK 0\r\n");
    /* no word: no INFIX answer with edits either (not the typo search's
     * class 0 of the empty text, every key) */
    assert_string_equal(TEXT(f, "COMPLETE", "   ", "INFIX", "FUZZY", "2"), "OK 0\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "", "INFIX", "FUZZY", "1"), "OK 0\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "", "FUZZY", "1", "LIMIT", "1"), "OK 1\r\nNew York\t100\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "york", "INFIX", "LIMIT", "0"), "ERR LIMIT LIMIT out of range (1..max-k)\r\n");
    /* infix-index no: refused with a reason */
    set(f, "infix-index", "no");
    assert_int_equal(eng_words_build(&f->e), 0);
    assert_null(f->e.words);
    assert_string_equal(TEXT(f, "COMPLETE", "york", "INFIX"),
                        "ERR ARGS INFIX needs the word index: this server runs with infix-index no\r\n");
    assert_string_equal(TEXT(f, "ADD", "york new", "5"), "OK\r\n"); /* changes still work */
    assert_string_equal(TEXT(f, "COMPLETE", "york"), "OK 2\r\nyork pa\t50\r\nyork new\t5\r\n");
    char err[256];
    assert_int_equal(config_set(&f->cfg, "infix-index", "maybe", err, sizeof err), -1);
}

static void test_stats(void **state) {
    fx *f = *state;
    TEXT(f, "COMPLETE", "york", "INFIX");
    const char *s = TEXT(f, "STATS");
    assert_non_null(strstr(s, "complete_infix 1\r\n"));
    assert_non_null(strstr(s, "complete_infix_truncated 0\r\n"));
    assert_non_null(strstr(s, "infix_index 1\r\n"));
    assert_non_null(strstr(s, "infix_index_words 9\r\n"));
    assert_non_null(strstr(s, "infix_index_errors 0\r\n"));
    const char *b = strstr(s, "infix_index_bytes ");
    assert_non_null(b);
    assert_true(strtoull(b + 18, NULL, 10) > 0);
}

/* Two answers of INFIX for text: from the live index and from one built now. */
static void same_answers(fx *f, const char *text) {
    trie_words *fresh;
    assert_int_equal(trie_words_build(f->t, &fresh), 0);
    static trie_words_hit a[TRIE_MAX_K], b[TRIE_MAX_K];
    for (unsigned k = 1; k <= 20; k += 19) {
        int na = trie_words_topk(f->e.words, f->t, text, strlen(text), k, a, NULL);
        int nb = trie_words_topk(fresh, f->t, text, strlen(text), k, b, NULL);
        if (na != nb) fprintf(stderr, "'%s' k=%u: live %d, fresh %d\n", text, k, na, nb);
        assert_int_equal(na, nb);
        for (int i = 0; i < na; i++) {
            assert_int_equal(a[i].hit.keylen, b[i].hit.keylen);
            assert_memory_equal(a[i].hit.text, b[i].hit.text, a[i].hit.keylen);
            assert_true(a[i].hit.score == b[i].hit.score);
            assert_int_equal(a[i].cls, b[i].cls);
            assert_memory_equal(a[i].range, b[i].range, a[i].nranges * sizeof a[i].range[0]);
        }
    }
    trie_words_free(fresh);
}

static void test_live_changes(void **state) {
    fx *f = *state;
    static const char *W[] = {"new", "york", "ne", "yo", "times", "café", "paris", "a", "ab", "abc", "b"};
    const int nw = (int)(sizeof W / sizeof *W);
    uint64_t x = 12345;
    char q[128], num[16];
    for (int round = 0; round < 40; round++) {
        for (int c = 0; c < 60; c++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            int n = 1 + (int)(x >> 60) % 4, len = 0;
            for (int i = 0; i < n; i++)
                len += snprintf(q + len, sizeof q - (size_t)len, "%s%s", i ? " " : "", W[(x >> (8 * i + 8)) % (uint64_t)nw]);
            switch ((x >> 40) % 5) {
            case 0: snprintf(num, sizeof num, "%d", (int)((x >> 20) % 100)); TEXT(f, "ADD", q, num); break;
            case 1: TEXT(f, "INCR", q, "3"); break;
            case 2: TEXT(f, "DEL", q); break;
            case 3: TEXT(f, "ACCEPT", q); break;
            default: TEXT(f, "ADD", q, "-1"); break; /* a score drop */
            }
        }
        char err[256];
        int rc = trie_words_check(f->e.words, f->t, err, sizeof err);
        if (rc) fprintf(stderr, "round %d: %s\n", round, err);
        assert_int_equal(rc, 0);
        static const char *Q[] = {"york", "ne", "new york", "yo ne", "york new ", "a", "ab a", "café", "b a ab",
                                  "times", "new new", "paris c"};
        for (size_t i = 0; i < sizeof Q / sizeof *Q; i++) same_answers(f, Q[i]);
    }
    assert_int_equal(f->e.stats.infix_index_errors, 0);
}

/* An index dropped after an error (an allocation failure injected into a
 * change) is rebuilt by RELOAD, with or without a ranker, and is exact. */
static void test_reload_rebuilds(void **state) {
    fx *f = *state;
    char k[64];
    for (unsigned long n = 1; n < 200 && f->e.words; n++) {
        snprintf(k, sizeof k, "zz%lu word%lu", n, n);
        qalloc_fail_after(n, 0);
        TEXT(f, "ADD", k, "7"); /* OK, or ERR NOMEM when the trie's own allocation failed */
        qalloc_fail_after(0, 0);
    }
    assert_null(f->e.words);
    assert_true(f->e.stats.infix_index_errors >= 1);
    assert_non_null(strstr(TEXT(f, "COMPLETE", "york", "INFIX"), "ERR ARGS INFIX needs the word index, which was dropped"));
    assert_string_equal(TEXT(f, "RELOAD"), "OK\r\n");
    assert_non_null(f->e.words);
    char err[256];
    assert_int_equal(trie_words_check(f->e.words, f->t, err, sizeof err), 0);
    assert_string_equal(TEXT(f, "COMPLETE", "york", "INFIX"),
                        "OK 5\r\nyork pa\t50\r\nNew York\t100\r\nnew york times\t80\r\nthe new yorker\t30\r\n"
                        "New York Yankees\t20\r\n");
    same_answers(f, "word z");
    /* with the index there, RELOAD without a ranker is refused as before */
    assert_string_equal(TEXT(f, "RELOAD"), "ERR ARGS no ranker in this server\r\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_word_edits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranked_scan_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_rebuilds, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
