/* trie.h -- the compressed prefix trie of known queries and their popularity.
 *
 * DESIGN
 * ------
 * A radix trie over byte strings whose nodes are 12-byte records, each
 * stored right in front of its own packed child block in ONE pool of
 * 4-byte units (OWN BLOCKS: a node's ref is the unit offset of its record,
 * so a step down costs one cache miss, not two), and whose key text lives once, CODED, in a byte arena. Edges are not
 * stored: the edge into node N is bytes [depth(parent), depth(N)) of the key
 * named by best(N), which by invariant lies in N's subtree and so spells N's
 * path. Two of its bytes are at hand without a decode: the first (b_i in
 * the parent's child block) and the second (e2 in N's spare bits, 0 on a
 * one-byte edge; the typo walk steps it: trie_internal.h, struct tnode).
 * Keys that end at a leaf get no node at all: the parent's child reference
 * carries the key id with the LEAF bit set.
 *
 *   node r: record at kids[r] (12 B), its child block right behind it at kids[r + 3]
 *   +--------+--------+-----------++------+-----+------+----------------+
 *   | best   | term   |d10 n9 . e2|| ref0 | ... | refn | b0 b1 .. bn-1  |
 *   +--------+--------+-----------++------+-----+------+----------------+
 *   (no offset field: the block IS at r + 3) ref: node's unit offset, or LEAF|key id (bit 31)
 *                                  b_i: first edge byte of child i (memchr'd)
 *   (bit-fields: depth 10, nkids 9, order: children sorted by their best key
 *   5 spare, e2 the edge's second byte)
 *   id table (by key id, 12 B):    arena: [hdr][coded key][coded display]
 *     refs[id] = {score64, off32}  hdr: varint ck*2+has_display [varint cd]
 *     (ck, cd: coded lengths; 1 byte for coded keys < 64 B without display;
 *     no display: display == key; score and text reference share one line)
 *
 *   e.g. keys "new"(3) "news"(7) "newark"(5) "nab"(5):
 *     root --'n'--> N1(depth 1, best=news)
 *                    |--'e'--> N2(depth 3, term=new, best=news)
 *                    |           |--'s'--> LEAF news      (edge "s")
 *                    |           `--'a'--> LEAF newark    (edge "ark")
 *                    `--'a'--> LEAF nab                   (edge "ab")
 *
 * Invariants (all verified by trie_check):
 *   - the node at unit 0 is the root: depth 0, no key. Every other node has >= 2
 *     children, or 1 child and a key (compression); depths strictly grow.
 *   - children of a node start with distinct bytes; b_i matches the key;
 *     e2(N) is the key byte at depth(parent) + 1 when N's edge has 2+
 *     bytes, else 0.
 *   - best(N) = the best key in N's subtree, where "a before b" means higher
 *     score, then smaller key (bytewise, shorter first); a child's "best" is
 *     its node's best or its leaf key. Children are sorted by that order, so
 *     best(N) = better of term(N) and best(first child). Exact always: every
 *     change re-sorts the changed child and recomputes best bottom-up along
 *     the key's path (O(depth * fanout)), decreases and deletes included.
 *     Siblings share their path and differ at their first byte, so on equal
 *     scores their key order is their b_i order, and term(N) (a prefix of
 *     every key below) wins ties: ordering never reads key text.
 *   - every key's bytes spell its path; ids < id bound are live or on the
 *     free-id list (LIFO, so a deleted id is the next one handed out).
 *
 * Top-k: walk to the node where the prefix ends (possibly mid-edge)
 * PATRICIA-style, following first bytes and depths only, and verify the
 * prefix ONCE against the best key of the node reached (it spells the whole
 * path; a leaf is checked against its own key). Then
 * best-first: descend along best(N) (its first children), leaving each node's
 * key and its second child (standing for itself and all later siblings) on
 * a frontier; pop the frontier's best entry, push its next sibling, descend.
 * The frontier is a sorted array of at most k entries on the stack: every
 * pop yields a key, so entries beyond rank k - emitted are dropped. No
 * allocation; O(k * (depth + log k)) comparisons.
 *
 * Short-prefix cache: every prefix of 0..TRIE_CACHE_DEPTH (2) bytes has a
 * slot (1 + 256 + 65536 of them, 44 B each: 2.9 MB per trie) holding its
 * exact top-TRIE_CACHE_K (10) ids, best first; a list shorter than 10 holds
 * every key with that prefix. trie_topk with such a prefix and k <= 10 is a
 * copy. Kept exact on every change to key x, for the <= 3 slots of x's
 * prefixes: a key that rises or is new is merged in place; a listed key that
 * falls or is deleted is moved or dropped in place when the list is short,
 * and makes a full list be recomputed by a walk (the 11th key is unknown).
 * trie_load and trie_builder_finish fill every slot by walks. trie_check
 * compares every slot with a fresh walk.
 *
 * Heavy-prefix cache: the slow tail of top-k is the 3..6-byte prefixes with
 * huge subtrees. trie_load and trie_builder_finish also list every prefix of
 * 3..HEAVY_MAX_PLEN (24) bytes that matches >= HEAVY_MIN_KEYS (200) keys
 * (one capped-count DFS, then one walk per node: all prefixes ending in the
 * same edge share a list) with its exact top-10, in an open-addressing hash
 * keyed by the prefix bytes (72 B per prefix + 8 B of table; at 10M keys
 * ~150k prefixes, ~12.7 MB). trie_topk with a prefix of 3..24 bytes and
 * k <= 10 hashes it once; a hit is a copy, a miss walks. Kept exact on every
 * change exactly like the short-prefix slots (for each cached prefix of the
 * changed key: merge, move, drop, or re-walk a full list). The SET of
 * prefixes is fixed between loads: changes never add or drop one (a list may
 * then hold < 10 ids: every key with that prefix), a save/load re-chooses.
 *
 * Bulk build (trie_builder, also what trie_load does): keys arrive sorted,
 * each with its shared-prefix length L to the previous key; a stack holds
 * the open path; frames deeper than L are closed into nodes (children sorted
 * once) or leaf references. No searches, no path repairs.
 *
 * Key text: query text is most of the memory (10M synthetic queries: 343 MB
 * of keys against ~310 MB for all the rest), so every key and display is
 * stored coded with a static symbol table (tcodec.h: FSST-style, up to 255
 * symbols of 1..8 bytes, one byte per symbol, escapes for the rest; ~1.9x on
 * query text) and decoded where it is read: into the caller's trie_hit
 * (which therefore holds a COPY of the text), into stack buffers to compare
 * keys (ties in top-k, the cache lists) or to find an edge's bytes on a
 * change; the top-k walk decodes only the prefix bytes it verifies, and each
 * tied frontier entry once. The table is chosen from a sample of the keys
 * (about 2 MB of text, every n-th key) when a trie is bulk-built
 * (trie_builder_finish) and when a snapshot of raw or identity-coded keys is
 * loaded (versions 1/2, or a trie that grew from empty); keys then arrive
 * coded with it (a byte it has no symbol for costs 2). A new trie starts with
 * the identity table (every byte codes as itself: UTF-8 keeps its size), so
 * a trie fed only by live changes is uncompressed until its next load.
 *
 * Memory: the node pool, ids and arena each grow by x1.5 realloc. Freed
 * space is REUSED through exact-size free lists (arena: one list per block
 * size 4..1024 bytes; node pool: one per child count 0..256 (a chunk is a
 * record and its block); ids: one list). A node that gains or loses a
 * child moves to a chunk of the new size (its parent's slot is rewritten);
 * the root's chunk, at unit 0, has room for 256 children and never moves.
 * Nothing is compacted in place; a save/load cycle yields a compact trie
 * (load lays the pool out in post-order, root first, and shrinks to fit).
 *
 * Failure atomicity: a mutation first reserves the worst case in every pool
 * it may touch (one id, one key block, one 256-child node chunk); only
 * then does it change anything, and from then on nothing can fail.
 *
 * Limits: keys and displays <= TRIE_MAX_KEY bytes (coded: <= 2x that), fewer
 * than 2^31 ids, node pool < 2^31 units (8 GiB: refs keep the LEAF bit
 * free), arena < 4 GiB (TRIE_EFULL).
 *
 * SNAPSHOT FORMAT (version 4; all integers little-endian)
 * -------------------------------------------------------
 *   offset size  field
 *        0    8  magic "QACTRIE\0"
 *        8    4  version (4)
 *       12    4  header size (64)
 *       16    8  key count
 *       24    4  id bound (largest live id + 1)
 *       28    4  node count, root included (checked against the rebuild)
 *       32    8  file size in bytes (header + payload)
 *       40    4  key bytes: sum over keys of coded key + coded display length
 *                (allocation hint, checked)
 *       44    4  tag: opaque to the trie (trie_tag / trie_set_tag)
 *       48    8  payload checksum: XXH3_64bits (seed 0) of bytes [64, file size)
 *       56    8  header checksum: XXH3_64bits (seed 0) of bytes [0, 56)
 *       64       payload: the symbol table (tcodec.h, SERIALIZED TABLE:
 *                1 + nsym + sum of lengths bytes), then one record per key,
 *                in key order (bytewise, of the decoded keys):
 *                  0  4  id (< id bound, each at most once)
 *                  4  8  score (IEEE-754 double, finite)
 *                 12  2  coded key length ck (1..1024)
 *                 14  2  coded display length cd (0: the display is the key)
 *                 16     ck coded key bytes, then cd coded display bytes
 * Version 3 (read, never written) is version 4 with both checksums computed
 * by qsum64 instead of XXH3 (same bytes, same layout).
 * Versions 1 and 2 (read, never written) held raw front-coded keys: records
 * {shared prefix 2, suffix length 2, display length 2, id 4, score 8, suffix,
 * display} and at 40 the sum of max(4, key + display length); version 1 had
 * no tag (its 64-bit byte count's high half, always 0, sits where the tag
 * is). Loading them codes the keys with a table chosen from them; their
 * checksums are qsum64 too.
 * XXH3_64bits is libxxhash's (xxhash.h; the payload's is streamed through an
 * XXH3_state_t while saving and loading); qsum64, kept only to read versions
 * 1..3, is a one-lane xxHash64-style function written for this format (see
 * trie_snapshot.c). Which checksum a file has follows from its version.
 * Why this shape: the coded text is ~the size of front-coded
 * raw text and is copied as it is into the arena (save copies it out), so
 * load neither front-decodes nor encodes; it decodes each key once, which
 * validates its codes and gives the raw key the order check and the bottom-up
 * builder need (sorted keys: one pass with a stack, no searches, no
 * reallocation of child blocks); ids survive a save/load. Load checks the
 * header (magic, version, header checksum, sizes against the file, an id
 * bound of at most 16 ids per key + 2^20: SNAP_FREE_IDS_* in
 * trie_internal.h, so the id table it allocates first is bounded by the
 * file size), the payload checksum, the symbol table, then every record
 * (lengths, codes that decode to 1..TRIE_MAX_KEY bytes, strict key order, no
 * stored display equal to its key, id range and uniqueness, finite score)
 * before it trusts it, and refuses anything else with TRIE_EFORMAT and a
 * one-line reason.
 * Save writes PATH.tmp, fsyncs it, renames it over PATH and fsyncs the
 * directory; on failure PATH.tmp is removed and PATH is untouched.
 *
 * THE CONTRACT
 * ------------
 *
 * Keys are byte strings (the caller passes normalized UTF-8: see text/norm.h; the
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
 * Typo-tolerant top-k (keys within 1 or 2 edits of the prefix, exact ones
 * first) is trie_fuzzy_topk() in trie_fuzzy.h: a reader of this layout
 * like trie_topk, with the same exactness.
 *
 * Errors: functions that can fail return TRIE_OK (0) or a negative TRIE_E*
 * code; trie_strerror() names it. A function that fails leaves the trie as it
 * was before the call (in particular on allocation failure).
 *
 * Ownership: a trie_hit holds a copy of its key and display (see trie_hit);
 * nothing the trie returns points into it. Not thread-safe; concurrent
 * readers are fine while no one writes.
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
#define TRIE_CACHE_K 10      /* top-k lists kept for short prefixes (k <= this is served from them) */
#define TRIE_CACHE_DEPTH 2   /* prefixes of up to this many bytes have a cached list */

typedef struct trie trie;

/* One key as the trie returns it. The text is COPIED into the hit (the trie
 * stores keys coded: see "Key text" above), so a hit stays valid and may be
 * copied, kept or moved after any change to the trie; it is ~1 KB. Read the
 * text with trie_hit_key() and trie_hit_display() (not NUL-terminated). */
typedef struct trie_hit {
    double score;
    uint32_t id;
    uint16_t keylen;  /* normalized key: text[0, keylen) */
    uint16_t displen; /* display form: text[dispoff, dispoff + displen) */
    uint16_t dispoff; /* 0 when the display form is the key itself */
    char text[2 * TRIE_MAX_KEY];
} trie_hit;

static inline const char *trie_hit_key(const trie_hit *h) { return h->text; }
static inline const char *trie_hit_display(const trie_hit *h) { return h->text + h->dispoff; }

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
/* Memory figures. `nodes` counts node records (the root and branch nodes);
 * keys at leaves have none. bytes_used / keys is the bytes-per-key figure. */
void trie_memory(const trie *t, trie_mem *m);

/* Insert `key` with `score`, or set the score of an existing key. A non-NULL
 * display replaces the display form; NULL keeps the existing one (the key
 * itself for a new key). *id_out (when non-NULL) receives the key's id.
 * The bytes are copied. A non-NULL display of length 0 is TRIE_EINVAL. */
int trie_set(trie *t, const char *key, size_t keylen, const char *display, size_t displen,
             double score, uint32_t *id_out);

/* Add `delta` to the key's score, creating it with score `delta` if absent
 * (display as for trie_set). *score_out receives the new score. A sum that
 * is not finite is TRIE_EINVAL (nothing changes). */
int trie_incr(trie *t, const char *key, size_t keylen, const char *display, size_t displen,
              double delta, double *score_out);

/* Remove the key. TRIE_ENOTFOUND if absent. */
int trie_del(trie *t, const char *key, size_t keylen);

/* Look a key up. Returns 1 and fills *hit when found, 0 when absent. */
int trie_get(const trie *t, const char *key, size_t keylen, trie_hit *hit);

/* The score of a key, without its text (no decoding into a hit): 1 and
 * *score when found, 0 when absent. */
int trie_score(const trie *t, const char *key, size_t keylen, double *score);

/* Look a key up by id. Returns 1 and fills *hit when id names a live key. */
int trie_get_id(const trie *t, uint32_t id, trie_hit *hit);

/* The best min(k, matches) keys starting with prefix (plen may be 0: the
 * whole trie). Fills out[0..n) and returns n >= 0, or TRIE_EINVAL when k is 0
 * or over TRIE_MAX_K. Allocates nothing. */
int trie_topk(const trie *t, const char *prefix, size_t plen, unsigned k, trie_hit *out);

/* Calls fn for every key in key order; stops early and returns fn's value if
 * it returns non-zero. No changes to the trie during the walk. Uses about
 * 136 KB of stack (one frame per node on a path). */
int trie_foreach(const trie *t, int (*fn)(void *ud, const trie_hit *hit), void *ud);
/* The same for the keys starting with prefix only (plen 0: every key). */
int trie_foreach_prefix(const trie *t, const char *prefix, size_t plen,
                        int (*fn)(void *ud, const trie_hit *hit), void *ud);

/* Snapshot: write to path.tmp, fsync, rename over path, fsync the directory.
 * On failure the old file at path is untouched and errno tells why
 * (TRIE_EIO; TRIE_ENOMEM if its 64 KB write buffer cannot be allocated). */
int trie_save(const trie *t, const char *path);

/* The identity of the snapshot at path: its header checksum (which covers
 * the payload checksum, the key count, the id bound: two different images
 * differ in it) and its key count. What a file derived from one image (the
 * word index, trie_words_save) is tied to. TRIE_OK, TRIE_EIO (cannot open)
 * or TRIE_EFORMAT (no valid header). */
int trie_snapshot_id(const char *path, uint64_t *id, uint64_t *count);

/* Load a snapshot. On failure *out is NULL and err (when non-NULL) receives a
 * one-line reason ("truncated at byte 1234 of 5678", "bad magic: not a qac
 * snapshot", "checksum mismatch", ...). Never crashes on a hostile file. */
int trie_load(const char *path, trie **out, char *err, size_t errlen);

/* Bulk building from sorted keys: bottom-up in one pass, no searches, no
 * re-sorting along paths (what trie_load does), much faster than trie_set
 * per key. Keys must be added in strictly increasing bytewise order (shorter
 * first on a common prefix); ids are assigned 0, 1, 2, ... in that order.
 *   trie_builder_new: NULL on allocation failure.
 *   trie_builder_add: key, display and score as for trie_set; TRIE_EINVAL
 *     (nothing added, the builder stays usable) when the key is not greater
 *     than the previous one, or for the same argument errors as trie_set.
 *     After TRIE_ENOMEM / TRIE_EFULL the builder only returns that error:
 *     free it.
 *   trie_builder_finish: on TRIE_OK *out is the finished trie, owned by the
 *     caller; on error *out is NULL. The builder is freed in both cases.
 *   trie_builder_free: abandons a builder (and the keys added so far). */
typedef struct trie_builder trie_builder;
trie_builder *trie_builder_new(void);
int trie_builder_add(trie_builder *b, const char *key, size_t keylen, const char *display,
                     size_t displen, double score, uint32_t *id_out);
int trie_builder_finish(trie_builder *b, trie **out);
void trie_builder_free(trie_builder *b);

/* An opaque 32-bit value kept with the trie and saved in / loaded from the
 * snapshot header (0 for a new trie and for version-1 snapshots). qac
 * records in it which normalization made the keys. */
uint32_t trie_tag(const trie *t);
void trie_set_tag(trie *t, uint32_t tag);

/* Consistency check for tests: verifies every structural invariant (sorted
 * children, exact subtree maxima, id map, counts). Returns 0 if sound, else
 * -1 and a reason in err. */
int trie_check(const trie *t, char *err, size_t errlen);

#endif
