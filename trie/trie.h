/* trie.h -- the compressed prefix trie of known queries and their popularity.
 *
 * (The design essay -- node layout, invariants, snapshot format -- goes here,
 *  written by the implementation.)
 *
 * Keys are byte strings (the caller passes normalized UTF-8: see norm.h; the
 * trie itself never interprets the bytes). Each key carries:
 *   - a score (popularity, a finite double, may be 0 or negative),
 *   - a display form (the spelling shown to users; when the caller passes
 *     none it is the key itself),
 *   - an id: a dense uint32 assigned at insertion, stable while the key
 *     exists, reused after a delete. Ids are < trie_id_bound().
 *
 * Top-k: trie_topk() returns the k best keys that start with a prefix, by
 * score descending, then key ascending (bytewise). It is exact after any
 * sequence of inserts, score increases and decreases, and deletes.
 *
 * Errors: functions that can fail return TRIE_OK (0) or a negative TRIE_E*
 * code; trie_strerror() names it. A function that fails leaves the trie as it
 * was before the call (in particular on allocation failure).
 *
 * Ownership: pointers in a trie_hit, and those returned by trie_get(), point
 * into the trie and are valid until the next change to it. Not thread-safe;
 * concurrent readers are fine while no one writes.
 */
#ifndef QAC_TRIE_H
#define QAC_TRIE_H

#include <stddef.h>
#include <stdint.h>

#define TRIE_OK 0
#define TRIE_ENOMEM (-1)    /* allocation failed; nothing changed */
#define TRIE_ETOOLONG (-2)  /* key or display over TRIE_MAX_KEY bytes */
#define TRIE_EINVAL (-3)    /* empty key, non-finite score, k out of range */
#define TRIE_ENOTFOUND (-4) /* no such key */
#define TRIE_EIO (-5)       /* snapshot: read/write/fsync/rename failed (see errno) */
#define TRIE_EFORMAT (-6)   /* snapshot: not a qac snapshot, wrong version, truncated, checksum */
#define TRIE_EFULL (-7)     /* more keys or bytes than the format's 32-bit offsets allow */

#define TRIE_MAX_KEY 512 /* bytes, for keys and display forms */
#define TRIE_MAX_K 100   /* largest k accepted by trie_topk */

typedef struct trie trie;

typedef struct trie_hit {
    const char *key;     /* normalized key, not NUL-terminated */
    const char *display; /* display form, not NUL-terminated */
    uint32_t keylen, displen;
    uint32_t id;
    double score;
} trie_hit;

typedef struct trie_mem {
    uint64_t keys;        /* live keys */
    uint64_t nodes;       /* live nodes */
    uint64_t bytes_used;  /* bytes of live structure (nodes, edges, keys, displays, scores) */
    uint64_t bytes_alloc; /* bytes allocated, including free space in arenas */
} trie_mem;

const char *trie_strerror(int err);

trie *trie_new(void); /* NULL on allocation failure */
void trie_free(trie *t);
uint64_t trie_count(const trie *t);
uint32_t trie_id_bound(const trie *t);
void trie_memory(const trie *t, trie_mem *m);

/* Insert `key` with `score`, or set the score of an existing key. A non-NULL
 * display replaces the display form; NULL keeps the existing one (the key
 * itself for a new key). *id_out (when non-NULL) receives the key's id. */
int trie_set(trie *t, const char *key, size_t keylen, const char *display, size_t displen,
             double score, uint32_t *id_out);

/* Add `delta` to the key's score, creating it with score `delta` if absent
 * (display as for trie_set). *score_out receives the new score. */
int trie_incr(trie *t, const char *key, size_t keylen, const char *display, size_t displen,
              double delta, double *score_out);

/* Remove the key. TRIE_ENOTFOUND if absent. */
int trie_del(trie *t, const char *key, size_t keylen);

/* Look a key up. Returns 1 and fills *hit when found, 0 when absent. */
int trie_get(const trie *t, const char *key, size_t keylen, trie_hit *hit);

/* Look a key up by id. Returns 1 and fills *hit when id names a live key. */
int trie_get_id(const trie *t, uint32_t id, trie_hit *hit);

/* The best min(k, matches) keys starting with prefix (plen may be 0: the
 * whole trie). Fills out[0..n) and returns n >= 0, or TRIE_EINVAL when k is 0
 * or over TRIE_MAX_K. Allocates nothing. */
int trie_topk(const trie *t, const char *prefix, size_t plen, unsigned k, trie_hit *out);

/* Calls fn for every key in key order; stops early and returns fn's value if
 * it returns non-zero. No changes to the trie during the walk. */
int trie_foreach(const trie *t, int (*fn)(void *ud, const trie_hit *hit), void *ud);

/* Snapshot: write to path.tmp, fsync, rename over path, fsync the directory.
 * On failure the old file at path is untouched and errno tells why. */
int trie_save(const trie *t, const char *path);

/* Load a snapshot. On failure *out is NULL and err (when non-NULL) receives a
 * one-line reason ("truncated at byte 1234 of 5678", "bad magic: not a qac
 * snapshot", "checksum mismatch", ...). Never crashes on a hostile file. */
int trie_load(const char *path, trie **out, char *err, size_t errlen);

/* Consistency check for tests: verifies every structural invariant (sorted
 * children, exact subtree maxima, id map, counts). Returns 0 if sound, else
 * -1 and a reason in err. */
int trie_check(const trie *t, char *err, size_t errlen);

#endif
