/* fuzz_exec_tables.h -- the value tables fuzz_exec's bytecode picks keys,
 * prefixes, users, sessions, scores, LIMITs and RANKs from (one byte picks an
 * entry; the N_GOOD_* first entries of a table are valid, the rest must make
 * the request fail). Included once, by fuzz_exec.c; tests/fuzz/mkseed_exec.py
 * names the same indexes. */
#ifndef QAC_FUZZ_EXEC_TABLES_H
#define QAC_FUZZ_EXEC_TABLES_H

/* normalized lowercase ASCII with many shared prefixes */
static const str clean_keys[] = {
    S_("a"),  S_("ab"), S_("abc"), S_("abd"), S_("abcd"), S_("b"),   S_("ba"),   S_("bab"),
    S_("c"),  S_("ca"), S_("a b"), S_("a bc"), S_("ab c"), S_("zq"), S_("zq 1"), S_("x"),
};
/* everything else the normalizer has an opinion on */
static const str odd_keys[] = {
    S_("b "), S_("AB"), S_("Abc"), S_(" a"), S_("a  b"), S_("a\tb"), S_("a\nb"), S_("\xc3\xa9"), /* é */
    S_("e"), S_("e\xcc\x81"),                  /* e + combining acute */
    S_("\xc3\x9f"), S_("ss"),                  /* ß */
    S_("\xef\xac\x81"), S_("fi"),              /* ﬁ ligature */
    S_("\xe6\x97\xa5"), S_("\xe6\x97\xa5\xe6\x9c\xac"), S_("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"), /* 日 日本 日本語 */
    S_("\xef\xbc\xa1"),                        /* full-width A */
    S_("a\xc2\xa0" "b"),                       /* NBSP */
    S_("\xc2\x85"),                            /* NEL alone: empty key */
    S_(""), S_(" "), S_("\xff"), S_("a\x01"), S_("ab\xc3"), S_("a\x7f"), S_("\xed\xa0\x80"), /* surrogate */
    S_("CAF\xc3\x89"), S_("caf\xc3\xa9"), S_("cafe"), S_("ab\r\n"),
};
static const str clean_prefixes[] = {
    S_(""), S_("a"), S_("ab"), S_("abc"), S_("b"), S_("a "), S_("c"), S_("zq"),
    S_("zq "), S_("x"), S_("ab "), S_("abcd"), S_("ba"), S_("q"), S_("a b"), S_("zq 1"),
};
static const str odd_prefixes[] = {
    S_("A"), S_("AB"), S_("b "), S_("\xc3\xa9"), S_("\xc3"), S_("\xe6\x97"), S_("\xe6\x97\xa5"), S_("caf"),
    S_("CAF\xc3"), S_("\xff"), S_("a\x01"), S_(" "), S_("\t"), S_("\xc2\x85"), S_("\xef\xbc"), S_("\xc3\x9f"),
};
static const str users[] = {
    S_("u1"), S_("u2"), S_("u3"), S_("U1"), S_("\xc3\xbc"), S_("user 1"), S_("heavy"),
    S_(""), S_("a\x01"), S_("\xff"), S_("u\x7f"), /* invalid ids */
};
#define N_GOOD_USERS 7
static const str sessions[] = {S_("s1"), S_("s2"), S_("s 3"), S_(""), S_("\xc3")};
#define N_GOOD_SESS 3
static const str scores[] = {
    S_("1"), S_("2"), S_("3"), S_("0"), S_("5"), S_("10"), S_("-1"), S_("100"), S_("0.5"), S_("2.5"),
    S_("-0"), S_("1e300"), S_("-1e300"), S_("1.7976931348623157e308"), S_("1e-300"), S_("3"),
    S_("nan"), S_("inf"), S_(""), S_("x"), S_("1e999"), S_(" 1"), S_("0x10"), S_("1,5"),
};
#define N_GOOD_SCORES 16
static const str limits[] = {S_("1"), S_("2"), S_("3"), S_("5"), S_("10"), S_("20"), S_("100"), S_("4"),
                             S_("0"), S_("101"), S_("-3"), S_("x"), S_("1.5"), S_("")};
#define N_GOOD_LIMITS 8
static const str ranks[] = {S_("0"), S_("1"), S_("3"), S_("100"), S_("101"), S_("-1"), S_("x"), S_("007")};
static const str fuzzies[] = {S_("0"), S_("1"), S_("2"), S_("auto"), S_("AUTO"), S_("3"), S_("-1"), S_("x"), S_("")};
#define N_GOOD_FUZZY 5
static const str burst_stems[] = {S_("zq"), S_("ab"), S_("\xe6\x97\xa5"), S_("hist")};
/* op_misc: CONFIG GET patterns, HELP topics, the connection commands (by words; their indexes 3, 8, 11
 * and 14 must fail), and every command word (an unknown word must be none of them) */
static const str misc_pats[] = {S_("*"), S_("max-*"), S_("save"), S_("appendonly"), S_("[a-c]*"), S_("requirepass"),
                                S_("\\"), S_("*[")};
static const str misc_helps[] = {S_("complete"), S_("ADD"), S_("nope"), S_("")};
static const char *const misc_conn[] = {"HELLO", "HELLO 2", "HELLO 3", "HELLO 4", "HELLO 3 SETNAME fz", "CLIENT ID",
                                        "CLIENT GETNAME", "CLIENT SETNAME fz-1", "CLIENT SETNAME a\x01",
                                        "CLIENT INFO", "CLIENT SETINFO LIB-VER 1.0", "CLIENT LIST", "ECHO hi",
                                        "SELECT 0", "SELECT 1"};
static const char *const misc_known[] = {"COMPLETE", "ADD",     "INCR",   "DEL",  "GET",  "ACCEPT", "STATS",
                                         "INFO",     "PING",    "HELP",   "QUIT", "SAVE", "RELOAD", "COMMAND",
                                         "CONFIG",   "AUTH",    "HELLO",  "CLIENT", "ECHO", "SELECT",
                                         "FT.SUGADD", "FT.SUGGET", "FT.SUGDEL", "FT.SUGLEN", "EXISTS", "TYPE",
                                         "FLUSHALL", "FLUSHDB"};

#endif
