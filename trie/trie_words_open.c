/* trie_words_open.c -- the word index saved beside a trie snapshot, found
 * and loaded by the snapshot's path (contract: trie_words.h).
 *
 * A snapshot INDEX has its word index in INDEX.words (the server writes it
 * with every snapshot; format and checks: trie_words_snap.c). Loading it is
 * a copy and a check of its arrays, several times faster than building the
 * index from the trie (docs/INFIX.md, "Word index at start": 10M keys, ~4-11 s
 * against ~21-84 s), so everything that loads a snapshot and wants the
 * index -- the server at start, `qac complete --infix`, `qac eval --infix`
 * -- tries it first and builds only when it is missing or does not belong
 * to that very image (trie_snapshot_id). The file is read, never trusted:
 * trie_words_load refuses a bad one with a reason, and the caller builds.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "trie/trie_words.h"

int trie_words_path(char *buf, size_t cap, const char *snapshot) {
    int n = snprintf(buf, cap, "%s.words", snapshot);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int trie_words_load_beside(const char *snapshot, const trie *t, trie_words **out, char *err, size_t errlen) {
    char path[4096];
    uint64_t id, cnt;
    *out = NULL;
    if (trie_words_path(path, sizeof path, snapshot) < 0) {
        snprintf(err, errlen, "the snapshot's path is too long for the word index's");
        return TRIE_EIO;
    }
    if (access(path, F_OK) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return TRIE_EIO;
    }
    if (trie_snapshot_id(snapshot, &id, &cnt) != TRIE_OK) {
        snprintf(err, errlen, "cannot read the header of %s again", snapshot);
        return TRIE_EIO;
    }
    return trie_words_load(path, t, id, out, err, errlen);
}

int trie_words_open(const char *snapshot, const trie *t, trie_words **out, int *loaded, char *why, size_t whylen) {
    *loaded = 0;
    if (whylen) why[0] = '\0';
    char path[4096];
    if (snapshot && trie_words_path(path, sizeof path, snapshot) == 0 && access(path, F_OK) == 0) {
        int rc = trie_words_load_beside(snapshot, t, out, why, whylen);
        if (rc == TRIE_OK) {
            *loaded = 1;
            return TRIE_OK;
        }
        if (rc == TRIE_ENOMEM) return rc; /* building needs more memory than loading */
    }
    return trie_words_build(t, out);
}
