/* mkseed_journal.c -- writes the seed inputs of tests/fuzz/corpus/journal
 * with the real journal writer (jrn_open, jrn_add_set / jrn_add_del / jrn_add_dict,
 * jrn_write, jrn_rotate), in fuzz_journal.c's input layout: a flag byte, then
 * the files FILE.1, FILE.2, ... joined by "#QJF#". Not built by make; run by
 * hand when the format changes:
 *   make build/fuzz/libengine.a build/fuzz/libdata.a build/fuzz/libranking.a build/fuzz/libtrie.a \
 *     build/fuzz/libcommon.a build/fuzz/libengine_store.a && \
 *   clang -I. -D_GNU_SOURCE tests/fuzz/mkseed_journal.c build/fuzz/lib{engine_store,trie,common}.a \
 *     -fsanitize=address,undefined -luv -lhiredis -lhttp_parser -lutf8proc -lxxhash -lm -lpthread -o /tmp/mkseed_j && \
 *   /tmp/mkseed_j tests/fuzz/corpus/journal
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/store/journal.h"

static char base[256];

static int set(jrn *j, const char *k, const char *d, double s) {
    return jrn_reserve(j) || !jrn_add_set(j, k, strlen(k), d, strlen(d), s);
}
static int del(jrn *j, const char *k) { return jrn_reserve(j) || !jrn_add_del(j, k, strlen(k)); }
/* named dictionaries (ops DSET / DDEL / DDROP) */
static int dset(jrn *j, const char *n, const char *k, const char *d, const char *p, double s) {
    return jrn_reserve(j) ||
           !jrn_add_dict(j, JRN_OP_DSET, n, strlen(n), k, strlen(k), d, strlen(d), p, p ? strlen(p) : 0, s);
}
static int dop(jrn *j, int op, const char *n, const char *k) {
    return jrn_reserve(j) || !jrn_add_dict(j, op, n, strlen(n), k, k ? strlen(k) : 0, NULL, 0, NULL, 0, 0);
}

/* Concatenates FILE.1..FILE.n behind the flag byte into dir/name. */
static int emit(const char *dir, const char *name, int flags, int nfiles, size_t cut_last) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *o = fopen(path, "wb");
    if (!o) return 1;
    fputc(flags, o);
    for (int g = 1; g <= nfiles; g++) {
        char p[512];
        jrn_path(p, sizeof p, base, (uint64_t)g);
        FILE *f = fopen(p, "rb");
        if (!f) return 1;
        static char buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        if (g == nfiles && cut_last < n) n -= cut_last;
        if (g > 1) fputs("#QJF#", o);
        fwrite(buf, 1, n, o);
    }
    return fclose(o) != 0;
}

static void wipe(void) {
    for (int g = 1; g <= 2; g++) {
        char p[512];
        jrn_path(p, sizeof p, base, (uint64_t)g);
        unlink(p);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    char err[256];
    snprintf(base, sizeof base, "/tmp/mkseed_journal.%d", (int)getpid());
    int rc = 0;

    /* one generation: sets, an update, a delete */
    jrn *j = jrn_open(base, 1, JRN_FSYNC_NO, err, sizeof err);
    if (!j) return fprintf(stderr, "%s\n", err), 1;
    rc |= set(j, "new york", "New York", 12.0) | set(j, "news", "News", 3.5) | set(j, "caf\xc3\xa9", "Caf\xc3\xa9", 1);
    rc |= set(j, "news", "news", 4.5) | del(j, "a") | del(j, "new york") | jrn_write(j);
    jrn_close(j);
    rc |= emit(argv[1], "one_gen", 0, 1, 0) | emit(argv[1], "one_gen_repair", 1, 1, 0);

    /* the same with a torn last record (5 bytes cut) */
    wipe();
    j = jrn_open(base, 1, JRN_FSYNC_NO, err, sizeof err);
    if (!j) return 1;
    rc |= set(j, "zebra", "Zebra", 2) | set(j, "zoo", "Zoo", 7.25) | jrn_write(j);
    jrn_close(j);
    rc |= emit(argv[1], "torn_tail", 0, 1, 5);

    /* two generations via jrn_rotate */
    wipe();
    j = jrn_open(base, 1, JRN_FSYNC_NO, err, sizeof err);
    if (!j) return 1;
    rc |= set(j, "x", "X", 1) | set(j, "xy", "XY", 2) | jrn_write(j);
    int old = -1;
    if (jrn_rotate(j, &old, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
    close(old);
    rc |= set(j, "x", "X!", 3) | del(j, "xy") | set(j, "new", "New", 1e300) | jrn_write(j);
    jrn_close(j);
    rc |= emit(argv[1], "two_gens", 8, 2, 0);

    /* named dictionaries beside the default one: sets with and without a
     * payload, a delete emptying one, a drop; then a torn copy */
    wipe();
    j = jrn_open(base, 1, JRN_FSYNC_NO, err, sizeof err);
    if (!j) return 1;
    rc |= dset(j, "cities", "new york\xffNew York", "New York", "ny", 3) | set(j, "a", "A", 1) |
          dset(j, "cities", "newark\xffNewark", "Newark", NULL, 9.5) | dset(j, "sug", "x\xffX", "X", NULL, -1) |
          dop(j, JRN_OP_DDEL, "sug", "x\xffX") | dset(j, "other", "y\xffy", "y", "payload", 2) |
          dop(j, JRN_OP_DDROP, "other", NULL) | dop(j, JRN_OP_DDEL, "cities", "newark\xffNewark") | jrn_write(j);
    jrn_close(j);
    rc |= emit(argv[1], "dicts", 0, 1, 0) | emit(argv[1], "dicts_torn", 0, 1, 7);

    /* a header alone */
    wipe();
    j = jrn_open(base, 1, JRN_FSYNC_NO, err, sizeof err);
    if (!j) return 1;
    jrn_close(j);
    rc |= emit(argv[1], "header_only", 0, 1, 0);
    wipe();
    return rc;
}
