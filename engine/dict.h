/* dict.h -- named dictionaries: more tries beside the default index.
 *
 * WHAT
 * ----
 * The server's default dictionary is the index it was started with (the
 * trie every COMPLETE, ADD, INCR, DEL ... works on). A named dictionary is
 * another trie, found by its name (any 1..dict-name-max bytes): the Redis
 * suggestion commands (FT.SUGADD key ...: engine/cmd_sug.c) keep one per key,
 * and `COMPLETE ... DICT name` (`dict=` on HTTP) queries one with qac's own
 * matching and ranking. A dictionary exists from its first entry to its
 * last: FT.SUGDEL of the last entry, DEL name or FLUSHALL drop it.
 *
 * LAYOUT
 * ------
 *   dict_set: a sorted array of dict_ent pointers (by name, bytewise; binary
 *             search; at most max-dicts of them, so the insertion memmove is
 *             cheap) -- also the order STATS and the snapshot list them in.
 *   dict_ent: name, its trie, and the entries' payloads by trie id
 *             (pay[id]: NULL for none; ids are dense and reused, trie.h).
 *
 * Keys of a suggestion dictionary (dict_sug_key): RediSearch keeps one entry
 * per exact string and matches case-insensitively, so the trie key of a
 * string s is F(s) 0xFF s, where F lowercases every code point (utf8proc's
 * simple mapping) and 0xFF (never in UTF-8) ends the folded part: a prefix
 * search on F(query) finds every case variant, "Hello" and "hello" stay two
 * entries, and the display is s itself. s is at most DICT_SUG_MAX bytes so
 * that the key fits TRIE_MAX_KEY.
 *
 * DURABILITY
 * ----------
 * Changes are journaled as dictionary records (engine/store/journal.h ops
 * DSET, DDEL, DDROP: each names its dictionary) and replayed at start through
 * dict_apply. Snapshots: every dictionary goes into ONE file next to the
 * index snapshot, SNAPSHOT.dicts, written by the same background child right
 * after the index (bgsave.c), so both are the image of the same fork and of
 * the same journal rotation; the child renames each into place and exits 0
 * only when both are on disk, and old journal generations are removed only
 * then. A crash between the two renames leaves a new index and old
 * dictionaries: the generations still on disk replay over both (records are
 * idempotent, bgsave.c's argument holds per file). At start, INDEX.dicts is
 * loaded if present (none: no dictionaries), before the journal replay.
 *
 * FILE FORMAT (version 1; integers little-endian)
 *   0  8  magic "QACDICT\0"
 *   8  4  version (1)
 *  12  4  dictionary count
 *  16     per dictionary, in name order:
 *            2  name length N (1..JRN_MAX_NAME), N name bytes,
 *            8  entry count E, then E entries in key order (bytewise):
 *               8 score (double, finite), 2 key length K (1..512),
 *               2 display length D (1..512), 2 payload length P
 *               (0..JRN_MAX_DATA), K key, D display, P payload bytes
 *   end   4  CRC32C (jrn_crc32c) of every byte before it
 * Load checks the magic, version, checksum and every field before it
 * builds anything, and refuses a file with a one-line reason.
 *
 * Errors: functions return 0 / -1 (out of memory, or err set); nothing
 * changes on failure. Ownership: the set owns its entries, names, tries and
 * payloads; dict_find's pointer is valid until the entry is dropped.
 */
#ifndef QAC_DICT_H
#define QAC_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/store/journal.h"
#include "trie/trie.h"

#define DICT_SUG_MAX ((TRIE_MAX_KEY - 1) / 2) /* bytes of one suggestion string (its key is F(s) 0xFF s) */
#define DICT_SUG_SEP '\xff'

typedef struct dict_ent {
    char *name;
    size_t nlen;
    trie *t;
    char **pay;       /* by trie id; NULL: no payload */
    uint32_t *paylen; /* by trie id */
    uint32_t paycap;  /* slots in pay / paylen */
    uint64_t pay_bytes;
} dict_ent;

typedef struct dict_set {
    dict_ent **v;
    size_t n, cap;
} dict_set;

dict_set *dict_set_new(void); /* NULL out of memory */
void dict_set_free(dict_set *s); /* NULL: nothing */
void dict_set_clear(dict_set *s); /* drops every dictionary */

/* The dictionary named name, or NULL. */
dict_ent *dict_find(const dict_set *s, const char *name, size_t nlen);
/* Creates an empty dictionary (the name must not exist). NULL out of memory. */
dict_ent *dict_create(dict_set *s, const char *name, size_t nlen);
/* Drops a dictionary: its trie and payloads are freed. */
void dict_drop(dict_set *s, dict_ent *d);

/* Payload of trie id (NULL, *len 0: none). */
const char *dict_payload(const dict_ent *d, uint32_t id, uint32_t *len);
/* Sets (len > 0) or clears (len 0) the payload of id. -1 out of memory (unchanged). */
int dict_payload_set(dict_ent *d, uint32_t id, const char *p, size_t len);
/* Bytes the dictionary uses: its trie's allocation plus payloads. */
uint64_t dict_bytes(const dict_ent *d);

/* F(s) 0xFF s into out (cap >= TRIE_MAX_KEY). Returns the key length, or -1
 * when s is not valid UTF-8, -2 when the key would exceed TRIE_MAX_KEY. */
int dict_sug_key(const char *s, size_t len, char *out, size_t cap);
/* F(s) alone (the folded prefix of a query). Same returns. */
int dict_fold(const char *s, size_t len, char *out, size_t cap);

/* Applies one journal record of ops DSET / DDEL / DDROP (jrn_recover_dicts'
 * callback; ud is the dict_set). Limits are not checked (the records were
 * accepted under the settings of their time). Returns 0 or a TRIE_E* code. */
int dict_apply(void *ud, const jrn_rec *r);

/* Writes every dictionary to path (path.tmp, fsync, rename, fsync of the
 * directory). Returns 0, or -1 with errno set. */
int dict_save(const dict_set *s, const char *path);
/* Whether a save must write path: there are dictionaries, or a file there
 * holds some that were dropped since. */
int dict_save_needed(const dict_set *s, const char *path);
/* Loads path into the (empty) set; a missing file is an empty set. Returns 0
 * or -1 with a reason in err. */
int dict_load(dict_set *s, const char *path, char *err, size_t errlen);
/* "SNAPSHOT.dicts" for a snapshot path; -1 when it does not fit. */
int dict_path(char *buf, size_t cap, const char *snapshot);

#endif
