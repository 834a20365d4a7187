/* mkseed_snapshot.c -- writes the seed snapshots of tests/fuzz/corpus/snapshot
 * with the real trie_save (not built by make; run by hand when the format
 * changes). Each is saved twice: the trie made by trie_set is identity-coded;
 * loading it chooses a symbol table, and the second save is what real indexes
 * look like (version 4 with a trained table, XXH3 checksums). The v2-* seeds
 * were written by the version-2 writer (raw front-coded keys), the v3-* seeds
 * by the version-3 writer (this program before XXH3: qsum64 checksums); they
 * stay: load still reads them.
 *   clang -I. tests/fuzz/mkseed_snapshot.c build/fuzz/libtrie.a build/fuzz/libcommon.a \
 *     -fsanitize=address,undefined -lutf8proc -lxxhash -lm -o /tmp/mkseed && /tmp/mkseed tests/fuzz/corpus/snapshot
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trie/trie.h"

static int save(const char *dir, const char *name, const char *const *keys, size_t n, uint32_t tag) {
    trie *t = trie_new();
    if (!t) return 1;
    for (size_t i = 0; i < n; i++) {
        const char *k = keys[i], *tab = strchr(k, '\t');
        size_t kl = tab ? (size_t)(tab - k) : strlen(k);
        if (trie_set(t, k, kl, tab ? tab + 1 : NULL, tab ? strlen(tab + 1) : 0, (double)(n - i) * 1.5, NULL))
            return 1;
    }
    /* "empty": add and delete one key, an empty trie whose pools were used
     * (a never-filled trie_new() is covered by test_trie_snapshot's
     * test_empty_tries) */
    if (n == 0 && (trie_set(t, "x", 1, NULL, 0, 1, NULL) || trie_del(t, "x", 1))) return 1;
    if (n > 3) trie_del(t, keys[1], strcspn(keys[1], "\t")); /* an id hole */
    trie_set_tag(t, tag);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = trie_save(t, path);
    trie_free(t);
    if (rc != TRIE_OK) return 1;
    char err[200];
    if (trie_load(path, &t, err, sizeof err) != TRIE_OK) return 1;
    rc = trie_save(t, path);
    trie_free(t);
    return rc != TRIE_OK;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    static const char *const a[] = {"new york\tNew York", "new jersey", "newark", "news", "ne", "n"};
    static const char *const b[] = {"caf\xc3\xa9\tCaf\xc3\xa9", "cafe", "zebra", "a b c", "aa", "ab", "b"};
    static const char *const c[] = {"x"};
    return save(argv[1], "six", a, 6, 0) | save(argv[1], "utf8", b, 7, 1) | save(argv[1], "one", c, 1, 0) |
           save(argv[1], "empty", c, 0, 0);
}
