/* The typo walk's row step against a full OSA matrix (trie/trie_fuzzy.c:
 * the banded DP row, fz_row; THE ROW AUTOMATON in trie_fuzzy_internal.h,
 * fz_astep): every cell and the row minimum of both steps on random typed
 * prefixes and key characters, and every state and realizable input of the
 * automaton against fz_row. The walk's cuts, spent budgets, continuations
 * and plans read these cells directly, so each must be exact. Split from
 * test_trie_fuzzy.c (the differential tests of whole answers). Fixed seeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trie/trie.h"
#include "trie/trie_fuzzy.h"
#include "trie/trie_fuzzy_internal.h"

#include "tests/fuzzy_ref.h"

/* Every cell of the banded row step (fz_row, what fz_byte runs; the SSE2
 * one unless built with -DQAC_FZ_SCALAR) against a full, unbanded OSA
 * matrix capped at inf: random typed prefixes (ASCII, the other scripts,
 * mixes, stray bytes) and key characters drawn mostly from the prefix (so
 * that matches, transpositions and runs of insertions are common), every
 * row of keys up to m + 8 characters, maxd 1 and 2, and the row minimum it
 * returns. The walk's cuts, spent budgets, continuations and plans read
 * these cells directly, so each one must be exact, not just the class. */
static uint8_t ast_seen[3][FZ_ASTATES], tr_seen[3][FZ_ASTATES][FZ_ASTATES];
static void test_row_cells(void **state) {
    (void)state;
    rng_seed(11);
    enum { PM = 24, KM = PM + 8 };
    static const char *const EXTRA[] = {"\x80", "\xbf", "\xf8", "\xff", "z"}; /* stray bytes: one-byte characters */
    for (int q = 0; q < 60000; q++) {
        unsigned maxd = 1 + rnd(2), sc = rnd(NSCRIPT), m = rnd(PM + 1);
        char p[4 * PM + 8];
        size_t pl = 0;
        unsigned tiny = rnd(3) == 0 ? 2 + rnd(2) : 0; /* P over 'a', 'b'(, 'c'): runs and repeats */
        for (unsigned i = 0; i < m; i++) {
            if (tiny) {
                p[pl++] = (char)('a' + rnd(tiny));
            } else if (rnd(12) == 0) {
                const char *x = EXTRA[rnd(5)];
                memcpy(p + pl, x, strlen(x));
                pl += strlen(x);
            } else {
                int mix = rnd(3) == 0; /* any script */
                unsigned lo = mix ? 0 : SCRIPT[sc][0], hi = mix ? (unsigned)NALPHA : SCRIPT[sc][1];
                pl = put_char(p, pl, lo + rnd(hi - lo));
            }
        }
        fz_pat z;
        assert_int_equal(trie__fz_pat_init(&z, p, pl, maxd, TRIE_FUZZY_FIRST_ANY), 0);
        assert_int_equal(z.m, m);
        const unsigned B = maxd, inf = maxd + 1;
        /* the key: characters of P (often), its neighbours' or others */
        uint32_t kc[KM];
        unsigned kn = rnd(z.m + 9);
        for (unsigned j = 0; j < kn; j++) {
            if (z.m && rnd(4)) {
                kc[j] = z.c[rnd(z.m)];
            } else {
                char b[8];
                size_t l = put_char(b, 0, rnd(NALPHA));
                kc[j] = 0;
                for (size_t x = 0; x < l; x++) kc[j] |= (uint32_t)(uint8_t)b[x] << (8 * x);
            }
        }
        /* the reference: D[i][j] over all of P and the key */
        static uint8_t D[PM + 1][KM + 1];
        for (unsigned j = 0; j <= kn; j++)
            for (unsigned i = 0; i <= z.m; i++) {
                unsigned v;
                if (i == 0) v = j;
                else if (j == 0) v = i;
                else {
                    v = D[i - 1][j - 1] + (z.c[i - 1] != kc[j - 1]);
                    if (D[i - 1][j] + 1u < v) v = D[i - 1][j] + 1u;
                    if (D[i][j - 1] + 1u < v) v = D[i][j - 1] + 1u;
                    if (i >= 2 && j >= 2 && z.c[i - 1] == kc[j - 2] && z.c[i - 2] == kc[j - 1] &&
                        D[i - 2][j - 2] + 1u < v)
                        v = D[i - 2][j - 2] + 1u;
                }
                D[i][j] = (uint8_t)v; /* uncapped: at most PM + KM */
            }
        /* fz_row's rows, and the automaton's (fz_astep, what the walk runs) */
        uint8_t rows[KM + 1][FZ_RB], arows[KM + 1][FZ_RB], sid[KM + 1];
        assert_non_null(z.au);
        memset(rows, (int)inf, sizeof rows); /* the scalar fz_row writes bytes 0..2B only */
        fz_row0(&z, rows[0]);
        fz_row0(&z, arows[0]);
        sid[0] = FZ_ASTART;
        for (unsigned j = 0; j <= kn; j++) {
            uint8_t mn = 0, amn = 0;
            if (j) {
                mn = fz_row(&z, rows[j], rows[j - 1], j >= 2 ? rows[j - 2] : rows[j - 1], kc[j - 1],
                            j >= 2 ? kc[j - 2] : 0, j);
                unsigned prev = sid[j - 1];
                amn = fz_astep(&z, arows[j], sid, kc[j - 1], j);
                ast_seen[maxd][sid[j]] = 1;
                tr_seen[maxd][prev][sid[j]] = 1;
            }
            unsigned want_mn = inf;
            for (unsigned t = 0; t <= 2 * B; t++) {
                int i = (int)j - (int)B + (int)t;
                unsigned want = (i < 0 || i > (int)z.m || D[i][j] > inf) ? inf : D[i][j];
                if (want < want_mn) want_mn = want;
                if (rows[j][t] != want || arows[j][t] != want)
                    fail_msg("query %d: P '%.*s' (m %u) maxd %u: row %u cell t=%u (i=%d) is %u (automaton %u), "
                             "want %u",
                             q, (int)pl, p, z.m, maxd, j, t, i, rows[j][t], arows[j][t], want);
            }
            if (memcmp(rows[j], arows[j], FZ_RB)) /* the bytes above the band too */
                fail_msg("query %d: row %u: the automaton's bytes differ from fz_row's", q, j);
            if (j && (mn != want_mn || amn != want_mn))
                fail_msg("query %d: P '%.*s' maxd %u: row %u minimum %u (automaton %u), want %u", q, (int)pl, p,
                         maxd, j, mn, amn, want_mn);
        }
    }
    /* the automata's sizes, and how much of them random keys meet (the
     * rest is test_row_automaton's) */
    for (unsigned d = 1; d <= 2; d++) {
        const fz_auto *a = trie__fz_auto(d);
        unsigned seen = 0, edges = 0;
        for (unsigned x = 0; x < a->n; x++) {
            seen += ast_seen[d][x] || x == FZ_ASTART;
            for (unsigned y = 0; y < a->n; y++) edges += tr_seen[d][x][y];
        }
        unsigned distinct = 0; /* distinct (state, next) pairs of the table */
        static uint8_t pair[FZ_ASTATES][FZ_ASTATES];
        memset(pair, 0, sizeof pair);
        for (unsigned x = 0; x < a->n; x++)
            for (unsigned in = 0; in < 1u << a->nb; in++) pair[x][a->tr[x << a->nb | in]] = 1;
        for (unsigned x = 0; x < a->n; x++)
            for (unsigned y = 0; y < a->n; y++) distinct += pair[x][y];
        print_message("automaton maxd %u: %u states, %u of them met; %u of %u distinct transitions met\n", d, a->n,
                      seen, edges, distinct);
        assert_int_equal(a->n, d == 1 ? 12 : 124);
    }
}

/* Every state and every input of both automata (not only those random
 * keys meet) against fz_row: an interior row j (no band edge), a pattern
 * whose window realizes the input bits (c[q] = 'a', the key character,
 * where a bit is set), prev = the state's row, and the state's T made
 * concrete: pp[t] = T[t] - 1 and c[i-1] = K[j-2] (= 'b', or 'a' when that
 * position's bit is set) where T[t] is finite, pp[t] = inf elsewhere. An
 * input whose finite-T positions would need both 'a' and 'b' cannot occur
 * (they all hold K[j-2]) and is skipped; every state must have some. */
static void test_row_automaton(void **state) {
    (void)state;
    for (unsigned B = 1; B <= 2; B++) {
        const fz_auto *a = trie__fz_auto(B);
        assert_non_null(a);
        const unsigned W = 2 * B + 1, inf = B + 1, J = B + 3;
        unsigned checked = 0;
        /* the table keeps no T: rebuild each state's by a breadth-first
         * search over the table from row 0 (T of a step's target is made
         * from the step's input and row, as the automaton defines it) */
        uint8_t T[FZ_ASTATES][FZ_W], have[FZ_ASTATES] = {0};
        unsigned queue[FZ_ASTATES], qn = 0, per[FZ_ASTATES] = {0};
        for (unsigned t = 0; t < W; t++) T[FZ_ASTART][t] = (uint8_t)inf;
        have[FZ_ASTART] = 1;
        queue[qn++] = FZ_ASTART;
        for (unsigned h = 0; h < qn; h++) {
            unsigned x = queue[h];
            uint8_t R[FZ_W];
            for (unsigned t = 0; t < W; t++) R[t] = (uint8_t)(a->row[x] >> (8 * t));
            for (unsigned in = 0; in < 1u << a->nb; in++) {
                unsigned y = a->tr[x << a->nb | in];
                uint8_t nt[FZ_W]; /* the next T, from this step's definition */
                for (unsigned t = 0; t < W; t++)
                    nt[t] = (uint8_t)((in >> (t + 2) & 1) && R[t] + 1u < inf ? R[t] + 1u : inf);
                if (!have[y]) {
                    have[y] = 1;
                    memcpy(T[y], nt, W);
                    queue[qn++] = y;
                } else if (memcmp(T[y], nt, W)) {
                    fail_msg("maxd %u: state %u reached with two different T", B, y);
                }
                /* the concrete step */
                char kpc = 0;
                int bad = 0;
                for (unsigned t = 0; t < W; t++) {
                    if (T[x][t] >= inf) continue;
                    char want = (in >> (t + 1) & 1) ? 'a' : 'b';
                    if (kpc && kpc != want) bad = 1;
                    kpc = want;
                }
                if (bad) continue;
                if (!kpc) kpc = 'b';
                char p[64];
                unsigned m = J + B + 4, q0 = J - B - 2;
                for (unsigned q = 0; q < m; q++) p[q] = (char)('A' + q % 26); /* equal to nothing typed */
                for (unsigned u = 0; u < a->nb; u++)
                    if (in >> u & 1) p[q0 + u] = 'a';
                for (unsigned t = 0; t < W; t++)
                    if (T[x][t] < inf) p[J - B - 1 + t] = kpc;
                fz_pat z;
                assert_int_equal(trie__fz_pat_init(&z, p, m, B, TRIE_FUZZY_FIRST_ANY), 0);
                uint8_t prev[FZ_RB], pp[FZ_RB], r[FZ_RB], ar[FZ_RB], sid[8];
                memcpy(prev, &a->row[x], FZ_RB);
                memset(pp, (int)inf, FZ_RB);
                memset(r, (int)inf, FZ_RB); /* the scalar fz_row writes bytes 0..2B only */
                for (unsigned t = 0; t < W; t++)
                    if (T[x][t] < inf) pp[t] = (uint8_t)(T[x][t] - 1);
                uint8_t mn = fz_row(&z, r, prev, pp, 'a', (uint8_t)kpc, J);
                sid[J - 1] = (uint8_t)x;
                uint8_t amn = fz_astep(&z, ar, sid, 'a', J);
                if (memcmp(r, ar, FZ_RB) || mn != amn || sid[J] != y)
                    fail_msg("maxd %u: state %u input 0x%x: fz_row row %016llx min %u, automaton %016llx min %u", B,
                             x, in, (unsigned long long)*(uint64_t *)(void *)r, mn,
                             (unsigned long long)*(uint64_t *)(void *)ar, amn);
                checked++;
                per[x]++;
            }
        }
        assert_int_equal(qn, a->n); /* every state is reached from row 0 */
        for (unsigned x = 0; x < a->n; x++) assert_true(per[x] > 0);
        print_message("automaton maxd %u: %u (state, input) pairs checked against fz_row\n", B, checked);
    }
}

/* fz_byte's short path against fz_byte_any (the general step it stands
 * in for): random typed prefixes (mostly one-byte, so that the short path
 * is common; some with other scripts, where it never runs), under both
 * first-character rules, fed random key bytes (the prefix's, stray and
 * multi-byte ones) on two walks in lockstep; every result, path state,
 * work unit, row, automaton state, character and path byte must agree,
 * and both cases must have run often (the short path with D(j + 1) too). */
static fz_walk byte_w[2];
static void test_byte_paths(void **state) {
    (void)state;
    rng_seed(12);
    unsigned long long steps = 0, fast = 0, atd = 0;
    for (int q = 0; q < 20000; q++) {
        unsigned maxd = 1 + rnd(2), m = 1 + rnd(20), flags = rnd(2) ? TRIE_FUZZY_FIRST_ANY : 0;
        char p[4 * 24 + 8];
        size_t pl = 0;
        for (unsigned i = 0; i < m; i++) {
            if (rnd(10) == 0) pl = put_char(p, pl, rnd(NALPHA));
            else p[pl++] = (char)('a' + rnd(6));
        }
        fz_pat z;
        if (trie__fz_pat_init(&z, p, pl, maxd, flags)) continue;
        fz_st s[2];
        for (int v = 0; v < 2; v++) {
            fz_walk *w = &byte_w[v];
            w->z = &z;
            w->p = p;
            w->work = 0;
            w->beff = 1 + rnd(maxd);
            memset(&s[v], 0, sizeof s[v]);
            if (z.elen) s[v].pre = 1;
            else fz_start(w, &s[v], 0);
        }
        byte_w[1].beff = byte_w[0].beff;
        size_t pos = 0, len = 1 + rnd(40);
        for (; pos < len; pos++) {
            uint8_t b;
            if (pos < z.elen) b = (uint8_t)p[pos]; /* past the exact first character */
            else if (rnd(8) == 0) b = (uint8_t)(0x80 + rnd(0x80)); /* stray, lead or 0xF8+ bytes */
            else if (rnd(3) == 0) b = (uint8_t)p[rnd((unsigned)pl)];
            else b = (uint8_t)('a' + rnd(7));
            const fz_st s0 = s[0];
            int in_case = z.fastj > (int)s0.j && !s0.pre && !s0.have && (b < 0xC0 || b >= 0xF8);
            int r0 = fz_byte(&byte_w[0], &s[0], b, pos);
            int r1 = fz_byte_any(&byte_w[1], &s[1], b, pos);
            const fz_walk *w0 = &byte_w[0], *w1 = &byte_w[1];
            assert_int_equal(r0, r1);
            assert_int_equal(s[0].j, s[1].j);
            assert_int_equal(s[0].bestlen, s[1].bestlen);
            assert_int_equal(s[0].best, s[1].best);
            assert_int_equal(s[0].pre, s[1].pre);
            assert_int_equal(s[0].have, s[1].have);
            assert_int_equal(s[0].mn, s[1].mn);
            if (s[0].have) assert_int_equal(s[0].pc, s[1].pc);
            assert_true(w0->work == w1->work);
            assert_int_equal(w0->path[pos], w1->path[pos]);
            if (s[0].j && !s[0].pre) {
                unsigned j = s[0].j;
                assert_memory_equal(w0->rows[j], w1->rows[j], FZ_RB);
                assert_int_equal(w0->sid[j], w1->sid[j]);
                assert_int_equal(w0->ch[j - 1], w1->ch[j - 1]);
            }
            steps++;
            fast += (unsigned long long)in_case;
            atd += (unsigned long long)(in_case && (int)s0.j + 1 == z.fastj); /* D(j + 1) read on the short path */
            if (r0 != FZ_GO) break;
        }
    }
    print_message("fz_byte: %llu steps, %llu on the short path (%llu reading D)\n", steps, fast, atd);
    assert_true(fast * 4 > steps && fast < steps && atd > 1000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_cells),
        cmocka_unit_test(test_row_automaton),
        cmocka_unit_test(test_byte_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
