/* Unit tests of typo tolerance in the commands (engine/cmd.c) and settings
 * (engine/config.c), in process: COMPLETE ... FUZZY 0|1|2|AUTO on text and
 * RESP, WITHEDITS, the order (typed-right completions first, then one edit,
 * then two, each by popularity), AUTO's thresholds and their settings, the
 * fuzzy default setting, fuzzy-first-any, bad input, live changes, and which
 * requests the ranker takes (eng_rank_takes). The matching itself is tested
 * against a brute force in tests/test_trie_fuzzy.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/util.h"
#include "engine/cmd.h"
#include "engine/config.h"
#include "engine/rank/ranker.h"
#include "trie/trie.h"

#define S(x) x, sizeof(x) - 1

typedef struct fx {
    uv_loop_t loop;
    trie *t;
    srv_config cfg;
    eng e;
    eng_rank *R;
    qbuf out;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    uv_loop_init(&f->loop);
    f->t = trie_new();
    trie_set(f->t, S("weather"), S("Weather"), 100, NULL);
    trie_set(f->t, S("weather boston"), NULL, 0, 50, NULL);
    trie_set(f->t, S("wether report"), NULL, 0, 5, NULL); /* typed right for "wether": first */
    trie_set(f->t, S("whether or not"), NULL, 0, 10, NULL);
    trie_set(f->t, S("new york"), S("New York"), 200, NULL);
    trie_set(f->t, S("москва"), S("Москва"), 40, NULL);
    config_defaults(&f->cfg);
    eng_init(&f->e, f->t, &f->cfg);
    qbuf_init(&f->out);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    if (f->R) eng_rank_close(f->R);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    qbuf_free(&f->out);
    config_free(&f->cfg);
    trie_free(f->t);
    free(f);
    return 0;
}

static const char *run_kind(fx *f, int kind, int argc, const char **words) {
    proto_arg argv[16];
    for (int i = 0; i < argc; i++) argv[i] = (proto_arg){.p = words[i], .len = strlen(words[i])};
    qbuf_reset(&f->out);
    int flags;
    assert_true(eng_exec(&f->e, kind, argc, argv, &f->out, &flags) >= 0);
    assert_false(flags & ENG_DEFER_RANK);
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

static void test_order_and_replies(void **state) {
    fx *f = *state;
    /* exact: only the key typed right */
    assert_string_equal(TEXT(f, "COMPLETE", "wether"), "OK 1\r\nwether report\t5\r\n");
    /* one edit: the typed-right key first whatever its score, then by score */
    assert_string_equal(TEXT(f, "COMPLETE", "wether", "FUZZY", "1", "WITHEDITS"),
                        "OK 4\r\nwether report\t5\t0\r\nWeather\t100\t1\r\nweather boston\t50\t1\r\n"
                        "whether or not\t10\t1\r\n");
    assert_string_equal(RESP(f, "COMPLETE", "wether", "FUZZY", "1", "LIMIT", "2"),
                        "*2\r\n$13\r\nwether report\r\n$7\r\nWeather\r\n");
    assert_string_equal(RESP(f, "COMPLETE", "wether", "fuzzy", "1", "LIMIT", "2", "WITHSCORES", "WITHEDITS"),
                        "*6\r\n$13\r\nwether report\r\n$1\r\n5\r\n:0\r\n$7\r\nWeather\r\n$3\r\n100\r\n:1\r\n");
    assert_string_equal(RESP(f, "COMPLETE", "wether", "WITHEDITS"), "*2\r\n$13\r\nwether report\r\n:0\r\n");
    /* a transposition is one edit; two edits need FUZZY 2 */
    assert_string_equal(TEXT(f, "COMPLETE", "nwe york", "FUZZY", "1"), "OK 1\r\nNew York\t200\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "nwe yrok", "FUZZY", "1"), "OK 0\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "nwe yrok", "FUZZY", "2"), "OK 1\r\nNew York\t200\r\n");
    /* edits count characters, not bytes: one Cyrillic letter is one edit */
    assert_string_equal(TEXT(f, "COMPLETE", "масква", "FUZZY", "1"), "OK 1\r\nМосква\t40\r\n");
    /* FUZZY 0 is exact */
    assert_string_equal(TEXT(f, "COMPLETE", "wether", "FUZZY", "0"), "OK 1\r\nwether report\t5\r\n");
}

static void test_bad_input(void **state) {
    fx *f = *state;
    const char *bad[] = {"3", "-1", "x", "autox", "", "1.0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_string_equal(TEXT(f, "COMPLETE", "wether", "FUZZY", bad[i]), "ERR ARGS FUZZY wants 0, 1, 2 or AUTO\r\n");
        assert_string_equal(RESP(f, "COMPLETE", "wether", "FUZZY", bad[i]), "-ERR ARGS FUZZY wants 0, 1, 2 or AUTO\r\n");
    }
    assert_string_equal(TEXT(f, "COMPLETE", "wether", "FUZZY"), "ERR ARGS FUZZY wants 0, 1, 2 or AUTO\r\n");
    assert_string_equal(RESP(f, "COMPLETE", "wether", "FUZZY", "1", "FUZZY", "2"), "-ERR ARGS FUZZY given twice\r\n");
    assert_string_equal(RESP(f, "COMPLETE", "wether", "WITHEDITS", "FUZZY"), "-ERR ARGS FUZZY wants 0, 1, 2 or AUTO\r\n");
    /* the settings */
    char err[256];
    assert_int_equal(config_set(&f->cfg, "fuzzy", "3", err, sizeof err), -1);
    assert_string_equal(err, "fuzzy: '3' is not one of 0, 1, 2, auto");
    assert_int_equal(config_set(&f->cfg, "fuzzy-auto-one", "0", err, sizeof err), -1);
    assert_int_equal(config_set(&f->cfg, "fuzzy-first-any", "maybe", err, sizeof err), -1);
    set(f, "index", "x");
    set(f, "fuzzy-auto-one", "9");
    assert_int_equal(config_validate(&f->cfg, err, sizeof err), -1);
    assert_string_equal(err, "fuzzy-auto-one (9) is above fuzzy-auto-two (8)");
    set(f, "fuzzy-auto-two", "9");
    assert_int_equal(config_validate(&f->cfg, err, sizeof err), 0);
}

static void test_auto_and_settings(void **state) {
    fx *f = *state;
    /* AUTO: 0 edits under 4 code points, 1 from 4, 2 from 8 */
    assert_string_equal(TEXT(f, "COMPLETE", "wet", "FUZZY", "AUTO"), "OK 1\r\nwether report\t5\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "weth", "FUZZY", "AUTO"),
                        "OK 4\r\nwether report\t5\r\nWeather\t100\r\nweather boston\t50\r\nwhether or not\t10\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "nwe yrok", "FUZZY", "auto"), "OK 1\r\nNew York\t200\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "nwe yro", "FUZZY", "auto"), "OK 0\r\n"); /* 7: one edit */
    set(f, "fuzzy-auto-two", "7");
    assert_string_equal(TEXT(f, "COMPLETE", "nwe yro", "FUZZY", "auto"), "OK 1\r\nNew York\t200\r\n");
    set(f, "fuzzy-auto-one", "5");
    assert_string_equal(TEXT(f, "COMPLETE", "weth", "FUZZY", "AUTO"), "OK 1\r\nwether report\t5\r\n");
    /* the default for a COMPLETE that does not say; FUZZY 0 still exact */
    set(f, "fuzzy", "1");
    assert_string_equal(TEXT(f, "COMPLETE", "nwe york"), "OK 1\r\nNew York\t200\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "nwe york", "FUZZY", "0"), "OK 0\r\n");
    /* the first character must be typed right unless fuzzy-first-any */
    assert_string_equal(TEXT(f, "COMPLETE", "ewather", "FUZZY", "2"), "OK 0\r\n");
    set(f, "fuzzy-first-any", "yes");
    assert_string_equal(TEXT(f, "COMPLETE", "ewather", "FUZZY", "2", "LIMIT", "1"), "OK 1\r\nWeather\t100\r\n");
}

static void test_live_changes(void **state) {
    fx *f = *state;
    assert_string_equal(TEXT(f, "COMPLETE", "weathar", "FUZZY", "1", "LIMIT", "1"), "OK 1\r\nWeather\t100\r\n");
    assert_string_equal(TEXT(f, "ADD", "weatherby", "500"), "OK\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "weathar", "FUZZY", "1", "LIMIT", "1"), "OK 1\r\nweatherby\t500\r\n");
    assert_string_equal(TEXT(f, "DEL", "weatherby"), "OK 1\r\n");
    assert_string_equal(TEXT(f, "INCR", "weather boston", "1000"), "OK 1050\r\n");
    assert_string_equal(TEXT(f, "COMPLETE", "weathar", "FUZZY", "1", "LIMIT", "1"), "OK 1\r\nweather boston\t1050\r\n");
}

/* A ranker with the default options answers f's requests from now on
 * (teardown closes it). */
static void ranker_on(fx *f) {
    eng_rank_opts o;
    eng_rank_opts_default(&o);
    char err[256];
    f->R = eng_rank_new(&f->loop, f->t, &o, err, sizeof err);
    assert_non_null(f->R);
    f->e.rank = f->R;
}

/* With a ranker, a request that allows edits is ranked only when the
 * typed-right completions fill k (typo matches would all rank below them);
 * otherwise it gets the typo order. */
static void test_ranked(void **state) {
    fx *f = *state;
    ranker_on(f);
    eng_ctx ctx = {.rank = -1, .fuzzy = 1};
    assert_int_equal(eng_complete_prepare(&f->e, S("wether"), 1, &ctx, NULL), 0);
    assert_int_equal(eng_rank_takes(&f->e, &ctx, 1), 1); /* the ranker takes typo requests too */
    assert_int_equal(eng_rank_takes(&f->e, &ctx, 2), 1);
    ctx.fuzzy = 0;
    assert_int_equal(eng_rank_takes(&f->e, &ctx, 10), 1);
    /* the user's accepted query moves up in the ranked (exact) answer ... */
    for (int i = 0; i < 3; i++) TEXT(f, "ACCEPT", "weather boston", "USER", "u1");
    assert_string_equal(TEXT(f, "COMPLETE", "weather", "USER", "u1", "FUZZY", "1", "LIMIT", "1"),
                        "OK 1\r\nweather boston\t53\r\n");
    /* ... and within the one-edit class of a typo request, never above the
     * typed-right completion (issue 14: exact first) */
    assert_string_equal(TEXT(f, "COMPLETE", "wether", "USER", "u1", "FUZZY", "1", "LIMIT", "4", "WITHEDITS"),
                        "OK 4\r\nwether report\t5\t0\r\nweather boston\t53\t1\r\nWeather\t100\t1\r\n"
                        "whether or not\t10\t1\r\n");
    /* a 2-edit match comes after every 1-edit one whatever its score (the
     * user's "weather boston" scores far above "wether report") */
    assert_string_equal(TEXT(f, "COMPLETE", "wetherb", "USER", "u1", "FUZZY", "2", "LIMIT", "3", "WITHEDITS"),
                        "OK 3\r\nwether report\t5\t1\r\nweather boston\t53\t2\r\nWeather\t100\t2\r\n");
    /* without the user the class keeps popularity order inside */
    assert_string_equal(TEXT(f, "COMPLETE", "wether", "SESSION", "s9", "FUZZY", "1", "LIMIT", "3"),
                        "OK 3\r\nwether report\t5\r\nWeather\t100\r\nweather boston\t53\r\n");
    /* each request counted once, whichever path answered it */
    assert_int_equal(f->e.stats.complete_user, 3);
    assert_int_equal(f->e.stats.complete_fuzzy, 4);
}

/* fuzzy-max-work: for every limit from 1 up, COMPLETE ... FUZZY 2
 * WITHEDITS on text and RESP either answers as without a limit, or was cut
 * in some class c: then the lines of fewer edits are the unlimited answer's,
 * the class-c lines say -c, no line has more edits, and STATS
 * complete_fuzzy_truncated counted it. Some limit must cut with a negative
 * line shown, and a large one must cut nothing. */
static void test_work_limit(void **state) {
    fx *f = *state;
    for (int i = 0; i < 30; i++) { /* more one- and two-edit neighbours of "weathar" */
        char k[32];
        snprintf(k, sizeof k, "weath%c%c %d", 'a' + i % 26, 'a' + (i * 7) % 26, i);
        assert_int_equal(trie_set(f->t, k, strlen(k), NULL, 0, (double)(i + 1), NULL), 0);
    }
    set(f, "fuzzy-max-work", "0");
    char full[4096], full_resp[4096];
    snprintf(full, sizeof full, "%s", TEXT(f, "COMPLETE", "weathar", "FUZZY", "2", "LIMIT", "20", "WITHEDITS"));
    snprintf(full_resp, sizeof full_resp, "%s",
             RESP(f, "COMPLETE", "weathar", "FUZZY", "2", "LIMIT", "20", "WITHEDITS"));
    assert_int_equal(f->e.stats.complete_fuzzy_truncated, 0);
    int cuts = 0, shown = 0;
    for (unsigned w = 1; w <= 400; w++) {
        char v[16];
        snprintf(v, sizeof v, "%u", w);
        set(f, "fuzzy-max-work", v);
        uint64_t before = f->e.stats.complete_fuzzy_truncated;
        const char *r = RESP(f, "COMPLETE", "weathar", "FUZZY", "2", "LIMIT", "20", "WITHEDITS");
        unsigned cut = f->e.fuzzy_cut;
        assert_int_equal(f->e.stats.complete_fuzzy_truncated, before + (cut != 0));
        if (!cut) {
            assert_string_equal(r, full_resp);
        } else {
            char neg[24];
            snprintf(neg, sizeof neg, ":-%u\r\n", cut);
            shown += strstr(r, neg) != NULL;
        }
        char text[4096];
        snprintf(text, sizeof text, "%s", TEXT(f, "COMPLETE", "weathar", "FUZZY", "2", "LIMIT", "20", "WITHEDITS"));
        assert_int_equal(f->e.fuzzy_cut, cut); /* the same work on both protocols */
        if (!cut) {
            assert_string_equal(text, full);
            continue;
        }
        cuts++;
        /* line by line: edits below the cut as unlimited, then -cut, nothing above */
        const char *a = strstr(text, "\r\n") + 2, *b = strstr(full, "\r\n") + 2;
        int in_cut = 0;
        while (*a) {
            const char *ae = strstr(a, "\r\n"), *be = strstr(b, "\r\n");
            const char *tab = ae;
            while (tab > a && tab[-1] != '\t') tab--;
            int ed = atoi(tab);
            if (ed >= 0 && !in_cut) {
                assert_true(ed < (int)cut);
                assert_non_null(be);
                assert_int_equal(ae - a, be - b);
                assert_memory_equal(a, b, (size_t)(ae - a));
                b = be + 2;
            } else {
                in_cut = 1;
                assert_int_equal(ed, -(int)cut);
            }
            a = ae + 2;
        }
    }
    assert_true(cuts > 0);
    assert_true(shown > 0);
    assert_int_equal(f->e.fuzzy_cut, 0); /* 400 units are enough here */
    /* the setting's bounds */
    char err[256];
    assert_int_equal(config_set(&f->cfg, "fuzzy-max-work", "-1", err, sizeof err), -1);
    assert_int_equal(config_set(&f->cfg, "fuzzy-max-work", "x", err, sizeof err), -1);
}

static uint64_t eng_rank_stats_requests(const eng_rank *R) {
    eng_rank_stat s;
    eng_rank_stats(R, &s);
    return s.requests;
}

/* Counts the lines of a RESP WITHEDITS reply whose edit count is ed. */
static int count_edits(const char *r, int ed) {
    char s[24];
    snprintf(s, sizeof s, ":%d\r\n", ed);
    int n = 0;
    for (const char *p = strstr(r, s); p; p = strstr(p + 1, s)) n++;
    return n;
}

/* A ranked typo request says what the work limit cut as the unranked one
 * does (docs/PROTOCOL.md, Typos): STATS complete_fuzzy_truncated counts it
 * and WITHEDITS negates the cut class's counts. With no completion of
 * "weathar", no history of it and k = 20 the ranked path runs the very
 * search the unranked one runs, so for every limit it is cut exactly when
 * the unranked one is, and shows as many lines of each edit count (in its
 * own order within a class). */
static void test_ranked_work_limit(void **state) {
    fx *f = *state;
    for (int i = 0; i < 30; i++) { /* as test_work_limit */
        char k[32];
        snprintf(k, sizeof k, "weath%c%c %d", 'a' + i % 26, 'a' + (i * 7) % 26, i);
        assert_int_equal(trie_set(f->t, k, strlen(k), NULL, 0, (double)(i + 1), NULL), 0);
    }
    ranker_on(f);
    int cuts = 0, negs = 0;
    for (unsigned w = 0; w <= 400; w++) {
        char v[16];
        snprintf(v, sizeof v, "%u", w);
        set(f, "fuzzy-max-work", v);
        uint64_t before = f->e.stats.complete_fuzzy_truncated;
        char plain[4096];
        snprintf(plain, sizeof plain, "%s", RESP(f, "COMPLETE", "weathar", "FUZZY", "2", "LIMIT", "20", "WITHEDITS"));
        unsigned cut = f->e.fuzzy_cut;
        assert_int_equal(f->e.stats.complete_fuzzy_truncated, before + (cut != 0));
        uint64_t requests = eng_rank_stats_requests(f->R);
        const char *r = RESP(f, "COMPLETE", "weathar", "USER", "u1", "FUZZY", "2", "LIMIT", "20", "WITHEDITS");
        assert_int_equal(eng_rank_stats_requests(f->R), requests + 1); /* the ranker answered it */
        assert_int_equal(f->e.stats.complete_fuzzy_truncated, before + 2 * (cut != 0));
        for (int ed = -2; ed <= 2; ed++) assert_int_equal(count_edits(r, ed), count_edits(plain, ed));
        cuts += cut != 0;
        negs += cut && count_edits(r, -(int)cut) > 0;
    }
    assert_true(cuts > 0);
    assert_true(negs > 0);
    assert_int_equal(f->e.fuzzy_cut, 0); /* 400 units are enough here */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_and_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_and_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_work_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranked_work_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
