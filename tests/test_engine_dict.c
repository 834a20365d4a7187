/* Unit tests of named dictionaries (engine/dict.h) and the suggestion
 * commands over them (engine/cmd_sug.c), in process through eng_exec:
 *   - the journal's dictionary records (ops DSET/DDEL/DDROP): encode, scan
 *     back, bad fields refused, a torn one cut;
 *   - random FT.SUGADD / FT.SUGDEL / DEL sequences on a few dictionaries with
 *     a journal: replaying the journal into an empty set, and saving and
 *     loading the set, both give exactly the live state (every name, key,
 *     display, score and payload), and a model of the entries agrees;
 *   - the dictionaries file refuses a flipped byte and a cut one, and a
 *     missing file is no dictionaries;
 *   - the limits: max-dicts, dict-name-max, dict-max-keys, dict-payload-max;
 *   - COMPLETE ... DICT (text and RESP): qac's matching over a dictionary,
 *     the default one untouched, INFIX refused;
 *   - FT.SUGGET's best-first answer equals the walk's, and sug-max-scan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "engine/cmd.h"
#include "engine/config.h"
#include "engine/dict.h"
#include "engine/store/journal.h"
#include "trie/trie.h"

#define S(x) x, sizeof(x) - 1

typedef struct fx {
    trie *t;
    dict_set *d;
    srv_config cfg;
    eng e;
    qbuf out;
    int flags;
    char dir[256];
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    f->t = trie_new();
    trie_set(f->t, S("new york"), S("New York"), 100, NULL);
    f->d = dict_set_new();
    config_defaults(&f->cfg);
    eng_init(&f->e, f->t, &f->cfg);
    f->e.dicts = f->d;
    qbuf_init(&f->out);
    const char *tmp = getenv("QAC_TMP") ? getenv("QAC_TMP") : "/tmp";
    snprintf(f->dir, sizeof f->dir, "%s/test_dict.XXXXXX", tmp);
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    qbuf_free(&f->out);
    dict_set_free(f->d);
    config_free(&f->cfg);
    trie_free(f->t);
    free(f);
    return 0;
}

/* Runs one request (argv given); returns the reply, NUL-terminated. */
static const char *runv(fx *f, int kind, int argc, const char *const *words) {
    proto_arg argv[16];
    for (int i = 0; i < argc; i++) argv[i] = (proto_arg){.p = words[i], .len = strlen(words[i])};
    qbuf_reset(&f->out);
    assert_true(eng_exec(&f->e, kind, argc, argv, &f->out, &f->flags) >= 0);
    assert_int_equal(qbuf_putc(&f->out, 0), 0);
    return f->out.data;
}
#define RUN(f, kind, ...) runv(f, kind, (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)), \
                               (const char *[]){__VA_ARGS__})
#define R2 PROTO_RESP
#define TX PROTO_TEXT

static void test_journal_records(void **state) {
    (void)state;
    qbuf b;
    qbuf_init(&b);
    assert_int_equal(jrn_encode_header(&b, 1), 0);
    assert_int_equal(jrn_encode_dict(&b, JRN_OP_DSET, S("dict"), S("k\xffK"), S("K"), S("pay"), 2.5), 0);
    assert_int_equal(jrn_encode_dict(&b, JRN_OP_DSET, S("dict"), S("a\xff" "a"), S("a"), NULL, 0, -1), 0);
    assert_int_equal(jrn_encode_dict(&b, JRN_OP_DDEL, S("dict"), S("a\xff" "a"), NULL, 0, NULL, 0, 0), 0);
    assert_int_equal(jrn_encode(&b, JRN_OP_SET, S("x"), S("X"), 1), 0); /* old records beside new ones */
    assert_int_equal(jrn_encode_dict(&b, JRN_OP_DDROP, S("other"), NULL, 0, NULL, 0, NULL, 0, 0), 0);
    /* refused: no name, bad op, DSET without display, non-finite score */
    size_t len = b.len;
    assert_int_equal(jrn_encode_dict(&b, JRN_OP_DSET, "", 0, S("k"), S("k"), NULL, 0, 1), -1);
    assert_int_equal(jrn_encode_dict(&b, 9, S("d"), S("k"), S("k"), NULL, 0, 1), -1);
    assert_int_equal(jrn_encode_dict(&b, JRN_OP_DSET, S("d"), S("k"), NULL, 0, NULL, 0, 1), -1);
    assert_int_equal(jrn_encode_dict(&b, JRN_OP_DSET, S("d"), S("k"), S("k"), NULL, 0, 1.0 / 0.0), -1);
    assert_int_equal(b.len, len);
    /* scanned and applied (dict_apply skips the default dictionary's SET) */
    dict_set *s = dict_set_new();
    jrn_scan_result res;
    jrn_scan(b.data, b.len, JRN_HEADER_SIZE, dict_apply, s, &res);
    assert_int_equal(res.status, JRN_SCAN_OK);
    assert_int_equal(res.records, 5);
    assert_int_equal(s->n, 1);
    dict_ent *d = dict_find(s, S("dict"));
    assert_non_null(d);
    assert_int_equal(trie_count(d->t), 1);
    trie_hit h;
    assert_true(trie_get(d->t, S("k\xffK"), &h));
    assert_true(h.score == 2.5);
    assert_memory_equal(trie_hit_display(&h), "K", 1);
    uint32_t pl;
    const char *p = dict_payload(d, h.id, &pl);
    assert_int_equal(pl, 3);
    assert_memory_equal(p, "pay", 3);
    /* a DSET whose name length disagrees with L is unsound; cut at EOF it is a torn tail */
    qbuf_reset(&b);
    assert_int_equal(jrn_encode_dict(&b, JRN_OP_DSET, S("dict"), S("k"), S("k"), NULL, 0, 1), 0);
    b.data[JRN_REC_HEADER + 13] = 9; /* N */
    jrn_scan(b.data, b.len, 0, dict_apply, s, &res);
    assert_int_not_equal(res.status, JRN_SCAN_OK);
    assert_int_equal(res.records, 0);
    qbuf_reset(&b);
    assert_int_equal(jrn_encode_dict(&b, JRN_OP_DSET, S("dict"), S("k"), S("k"), NULL, 0, 1), 0);
    jrn_scan(b.data, b.len - 3, 0, dict_apply, s, &res);
    assert_int_equal(res.status, JRN_SCAN_TORN);
    dict_set_free(s);
    qbuf_free(&b);
}

/* Every (name, key, display, score, payload) of a set, one line each, in order. */
typedef struct dump_ctx {
    qbuf *q;
    const dict_ent *d;
} dump_ctx;

static int dump_one(void *ud, const trie_hit *h) {
    dump_ctx *c = ud;
    uint32_t pl;
    const char *p = dict_payload(c->d, h->id, &pl);
    qbuf_printf(c->q, "%.*s|%.*s|%.*s|%.17g|%.*s\n", (int)c->d->nlen, c->d->name, (int)h->keylen, trie_hit_key(h),
                (int)h->displen, trie_hit_display(h), h->score, (int)pl, p ? p : "");
    return 0;
}

static void dump(const dict_set *s, qbuf *q) {
    qbuf_reset(q);
    for (size_t i = 0; i < s->n; i++) {
        dump_ctx c = {q, s->v[i]};
        trie_foreach(s->v[i]->t, dump_one, &c);
    }
    qbuf_putc(q, 0);
}

static void test_random_replay_and_snapshot(void **state) {
    fx *f = *state;
    char base[300], err[300], path[320];
    snprintf(base, sizeof base, "%s/j", f->dir);
    jrn *j = jrn_open(base, 1, JRN_FSYNC_NO, err, sizeof err);
    assert_non_null(j);
    f->e.j = j;
    static const char *words[] = {"hello", "Hello", "help", "world", "wörld", "a", "ab", "x y"};
    static const char *names[] = {"alpha", "beta", "gamma", "d e l t a"};
    srand(17);
    for (int step = 0; step < 3000; step++) {
        char s[64], sc[32];
        snprintf(s, sizeof s, "%s %s", words[rand() % 8], words[rand() % 8]);
        const char *name = names[rand() % 4];
        int op = rand() % 10;
        if (op < 6) {
            snprintf(sc, sizeof sc, "%g", (rand() % 40 - 10) / 4.0);
            if (rand() % 3 == 0) RUN(f, R2, "FT.SUGADD", name, s, sc, "INCR");
            else if (rand() % 3 == 0) RUN(f, R2, "FT.SUGADD", name, s, sc, "PAYLOAD", words[rand() % 8]);
            else RUN(f, R2, "FT.SUGADD", name, s, sc);
        } else if (op < 9) {
            RUN(f, R2, "FT.SUGDEL", name, s);
        } else if (rand() % 20 == 0) {
            assert_string_equal(RUN(f, R2, "DEL", name), dict_find(f->d, name, strlen(name)) ? ":1\r\n" : ":0\r\n");
        }
        if (step % 500 == 0) assert_int_equal(jrn_write(j), 0);
    }
    assert_int_equal(jrn_write(j), 0);
    f->e.j = NULL;
    jrn_close(j);
    qbuf live, other;
    qbuf_init(&live);
    qbuf_init(&other);
    dump(f->d, &live);
    assert_true(f->d->n >= 2);
    /* the journal replayed into an empty set */
    dict_set *r = dict_set_new();
    trie *t = trie_new();
    jrn_recovery rec;
    assert_int_equal(jrn_recover_dicts(base, t, dict_apply, r, 0, &rec, err, sizeof err), 0);
    dump(r, &other);
    assert_string_equal(other.data, live.data);
    /* saved and loaded */
    assert_int_equal(dict_path(path, sizeof path, base), 0);
    assert_int_equal(dict_save(f->d, path), 0);
    dict_set *l = dict_set_new();
    assert_int_equal(dict_load(l, path, err, sizeof err), 0);
    dump(l, &other);
    assert_string_equal(other.data, live.data);
    /* the counts FT.SUGLEN reports */
    for (int i = 0; i < 4; i++) {
        dict_ent *d = dict_find(f->d, names[i], strlen(names[i]));
        char want[32];
        snprintf(want, sizeof want, ":%llu\r\n", d ? (unsigned long long)trie_count(d->t) : 0ull);
        assert_string_equal(RUN(f, R2, "FT.SUGLEN", names[i]), want);
    }
    /* a flipped byte, a cut file: refused with a reason, nothing loaded */
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, 40, SEEK_SET);
    int c = fgetc(fp);
    fseek(fp, 40, SEEK_SET);
    fputc(c ^ 1, fp);
    fclose(fp);
    dict_set *bad = dict_set_new();
    assert_int_equal(dict_load(bad, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "checksum"));
    assert_int_equal(bad->n, 0);
    assert_int_equal(truncate(path, 10), 0);
    assert_int_equal(dict_load(bad, path, err, sizeof err), -1);
    unlink(path);
    assert_int_equal(dict_load(bad, path, err, sizeof err), 0); /* missing: no dictionaries */
    assert_int_equal(bad->n, 0);
    dict_set_free(bad);
    dict_set_free(l);
    dict_set_free(r);
    trie_free(t);
    qbuf_free(&live);
    qbuf_free(&other);
}

static void test_limits(void **state) {
    fx *f = *state;
    char err[200];
    assert_int_equal(config_set(&f->cfg, "max-dicts", "3", err, sizeof err), 0);
    assert_int_equal(config_set(&f->cfg, "dict-max-keys", "2", err, sizeof err), 0);
    assert_int_equal(config_set(&f->cfg, "dict-name-max", "8", err, sizeof err), 0);
    assert_int_equal(config_set(&f->cfg, "dict-payload-max", "4", err, sizeof err), 0);
    assert_string_equal(RUN(f, R2, "FT.SUGADD", "d1", "a", "1"), ":1\r\n");
    assert_string_equal(RUN(f, R2, "FT.SUGADD", "d2", "a", "1"), ":1\r\n");
    assert_string_equal(RUN(f, R2, "FT.SUGADD", "12345678", "a", "1"), ":1\r\n");
    assert_string_equal(RUN(f, R2, "FT.SUGADD", "d4", "a", "1"),
                        "-ERR LIMIT 3 named dictionaries exist (max-dicts); DEL one first\r\n");
    assert_string_equal(RUN(f, R2, "FT.SUGADD", "123456789", "a", "1"),
                        "-ERR TOOLONG dictionary name over 8 bytes (dict-name-max)\r\n");
    assert_string_equal(RUN(f, R2, "FT.SUGADD", "d1", "b", "1"), ":2\r\n");
    assert_string_equal(RUN(f, R2, "FT.SUGADD", "d1", "c", "1"),
                        "-ERR LIMIT dictionary full: 2 entries (dict-max-keys)\r\n");
    assert_string_equal(RUN(f, R2, "FT.SUGADD", "d1", "b", "5", "PAYLOAD", "12345"),
                        "-ERR TOOLONG payload over 4 bytes (dict-payload-max)\r\n");
    assert_string_equal(RUN(f, R2, "FT.SUGADD", "d1", "b", "5", "PAYLOAD", "1234"), ":2\r\n");
    assert_string_equal(RUN(f, R2, "DEL", "d2"), ":1\r\n");
    assert_string_equal(RUN(f, R2, "FT.SUGADD", "d4", "a", "1"), ":1\r\n");
    assert_string_equal(RUN(f, TX, "FT.SUGLEN", "d4"), "OK 1\r\n");
}

static void test_complete_dict(void **state) {
    fx *f = *state;
    RUN(f, R2, "FT.SUGADD", "cities", "New Orleans", "5");
    RUN(f, R2, "FT.SUGADD", "cities", "Newark", "9");
    RUN(f, R2, "FT.SUGADD", "cities", "newark", "1");
    assert_string_equal(RUN(f, TX, "COMPLETE", "NEW", "DICT", "cities"), "OK 3\r\nNewark\t9\r\nNew Orleans\t5\r\nnewark\t1\r\n");
    assert_string_equal(RUN(f, R2, "COMPLETE", "new o", "DICT", "cities", "WITHSCORES"),
                        "*2\r\n$11\r\nNew Orleans\r\n$1\r\n5\r\n");
    assert_string_equal(RUN(f, R2, "COMPLETE", "nwe", "DICT", "cities", "FUZZY", "1", "LIMIT", "1"),
                        "*1\r\n$6\r\nNewark\r\n");
    assert_string_equal(RUN(f, R2, "COMPLETE", "new", "DICT", "nosuch"), "*0\r\n");
    assert_string_equal(RUN(f, R2, "COMPLETE", "new"), "*1\r\n$8\r\nNew York\r\n");
    assert_string_equal(RUN(f, R2, "COMPLETE", "new", "DICT", "cities", "INFIX"),
                        "-ERR ARGS INFIX works on the default dictionary only (the word index covers it alone)\r\n");
    assert_string_equal(RUN(f, R2, "COMPLETE", "new", "DICT", ""), "-ERR ARGS empty dictionary name\r\n");
    /* FT.SUGGET over the same dictionary: RediSearch's order and scores */
    assert_string_equal(RUN(f, R2, "FT.SUGGET", "cities", "new", "WITHSCORES"),
                        "*6\r\n$6\r\nNewark\r\n$3\r\n4.5\r\n$11\r\nNew Orleans\r\n$18\r\n1.6666666269302368\r\n"
                        "$6\r\nnewark\r\n$3\r\n0.5\r\n"); /* 9/sqrt(1+|6-3|), 5/sqrt(1+|11-3|) in float */
    /* the text protocol: one line per element, nil an empty line, a payload's control bytes as '?' */
    RUN(f, R2, "FT.SUGADD", "cities", "Newark", "9", "PAYLOAD", "a\r\nOK 1");
    assert_string_equal(RUN(f, TX, "FT.SUGGET", "cities", "new", "MAX", "2", "WITHPAYLOADS"),
                        "OK 4\r\nNewark\r\na??OK 1\r\nNew Orleans\r\n\r\n");
    /* TYPE, EXISTS; the default dictionary is not a key */
    assert_string_equal(RUN(f, R2, "TYPE", "cities"), "+trietype0\r\n");
    assert_string_equal(RUN(f, R2, "EXISTS", "cities", "new york", "cities"), ":2\r\n");
    /* KEYS (glob, name order), DBSIZE */
    RUN(f, R2, "FT.SUGADD", "towns", "Newport", "2");
    RUN(f, R2, "FT.SUGADD", "c[1]", "x", "2");
    assert_string_equal(RUN(f, R2, "KEYS", "*"), "*3\r\n$4\r\nc[1]\r\n$6\r\ncities\r\n$5\r\ntowns\r\n");
    assert_string_equal(RUN(f, R2, "KEYS", "c*"), "*2\r\n$4\r\nc[1]\r\n$6\r\ncities\r\n");
    assert_string_equal(RUN(f, R2, "KEYS", "c\\[1]"), "*1\r\n$4\r\nc[1]\r\n");
    assert_string_equal(RUN(f, R2, "KEYS", "?owns"), "*1\r\n$5\r\ntowns\r\n");
    assert_string_equal(RUN(f, R2, "KEYS", "nosuch*"), "*0\r\n");
    assert_string_equal(RUN(f, TX, "DBSIZE"), "OK 3\r\n");
    RUN(f, R2, "DEL", "towns", "c[1]");
    assert_string_equal(RUN(f, R2, "DBSIZE"), ":1\r\n");
}

/* Splits a text reply ("OK n" then lines) into its lines after the first. */
static int reply_lines(const char *r, char lines[][64], int cap) {
    int n = 0;
    const char *p = strstr(r, "\r\n");
    while (p && p[2] && n < cap) {
        p += 2;
        const char *q = strstr(p, "\r\n");
        assert_non_null(q);
        snprintf(lines[n++], 64, "%.*s", (int)(q - p), p);
        p = q;
    }
    return n;
}

/* FT.SUGGET without FUZZY answers MAX <= 50 from the most popular matches
 * when they prove it (cmd_sug.c, sug_best_first), else by the walk: on a
 * dictionary of case variants, equal, negative and large scores, every
 * answer equals the first MAX of the walk's (MAX 60 always walks). Then
 * sug-max-scan cuts a walk and counts it. */
static void test_sugget_best_first(void **state) {
    fx *f = *state;
    uint64_t r = 42;
    char s[16], sc[32], pre[8], mx[8];
    for (int i = 0; i < 3000; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        int len = 1 + (int)((r >> 33) % 7);
        for (int j = 0; j < len; j++) s[j] = "abAB"[(r >> (40 + j * 2)) & 3];
        s[len] = 0;
        uint64_t k = (r >> 20) % 10;
        snprintf(sc, sizeof sc, "%g", k < 5 ? (double)(1 + k % 3) : k < 7 ? -(double)((r >> 8) % 50) : (double)((r >> 8) % 100000));
        RUN(f, R2, "FT.SUGADD", "d", s, sc);
    }
    static char a[60 * 2][64], b[60 * 2][64];
    char tail[8192];
    for (int q = 0; q < 400; q++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        int plen = (int)((r >> 33) % 4), m = 1 + (int)((r >> 13) % 50);
        for (int j = 0; j < plen; j++) pre[j] = "abAB"[(r >> (40 + j * 2)) & 3];
        pre[plen] = 0;
        snprintf(mx, sizeof mx, "%d", m);
        snprintf(tail, sizeof tail, "%s", RUN(f, TX, "FT.SUGGET", "d", pre, "MAX", "60", "WITHSCORES"));
        int nb = reply_lines(tail, b, 120);
        int na = reply_lines(RUN(f, TX, "FT.SUGGET", "d", pre, "MAX", mx, "WITHSCORES"), a, 120);
        assert_int_equal(na, nb < 2 * m ? nb : 2 * m);
        for (int i = 0; i < na; i++) assert_string_equal(a[i], b[i]);
    }
    char err[200];
    assert_int_equal(f->e.stats.sug_truncated, 0);
    assert_int_equal(config_set(&f->cfg, "sug-max-scan", "10", err, sizeof err), 0);
    assert_int_equal(reply_lines(RUN(f, TX, "FT.SUGGET", "d", "a", "FUZZY", "MAX", "60"), a, 120), 10);
    assert_int_equal(f->e.stats.sug_truncated, 1);
    assert_int_not_equal(config_set(&f->cfg, "sug-max-scan", "0", err, sizeof err), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_records),
        cmocka_unit_test_setup_teardown(test_random_replay_and_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complete_dict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sugget_best_first, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
