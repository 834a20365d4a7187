/* trie_internal.h -- private layout of the trie, shared ONLY by the files of
 * trie/ (the trie's own, below; the typo walk's and the word index's, which
 * read it through their own internal headers) and white-box tests/fuzz
 * harnesses. Nothing outside trie/ and tests/ may include it: the public
 * contract is trie.h. (The word index's files, trie_words*.c, are listed
 * in trie_words_internal.h.)
 *
 * What lives where:
 *   trie.c          pools, construction, path fixing, set/incr/del, lookups
 *   trie_topk.c     top-k walk (trie_topk), ordered walk (trie_foreach,
 *                   trie__walk_sorted)
 *   trie_cache.c    short-prefix cache (top-10 of every 0..2-byte prefix)
 *                   and heavy-prefix cache (top-10 of big 3..24-byte prefixes)
 *   trie_check.c    trie_check (every structural invariant + the cache)
 *   trie_builder.c  bottom-up stack builder (trie_builder_*, used by load)
 *   trie_fuzzy.c    typo-tolerant top-k (trie_fuzzy.h): a read-only DFS
 *                   with an OSA DP row, then trie_topk's best-first walk
 *   trie_pfx.c      prefix filter (Bloom filter of every key's first 1..8
 *                   bytes) that lets the typo walk skip dead children
 *   trie_huge.c     the big arrays moved onto transparent huge pages
 *   trie_snapshot.c trie_save, trie_load, the snapshot checksums (XXH3;
 *                   qsum64 for versions 1..3) (format: see trie.h)
 *
 * Naming: functions shared between these files are non-static with the
 * prefix trie__ (libuv's uv__ convention); small hot helpers are static
 * inline here. The data layout and its invariants are described in trie.h.
 * Pool discipline (all files): a mutation RESERVES the worst case in every
 * pool first (trie__*_reserve, may fail), then ALLOCATES (trie__*_alloc,
 * cannot fail after a successful reserve).
 */
#ifndef QAC_TRIE_INTERNAL_H
#define QAC_TRIE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "trie/tcodec.h"
#include "trie/trie.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "trie/ assumes a little-endian host (snapshot format, lcp)"
#endif

#define NONE UINT32_MAX
#define LEAF 0x80000000u
#define MAX_IDS 0x7fffffffu   /* ids and node references must leave the LEAF bit free */
#define MAX_FANOUT 256
#define KIDS_UNITS(n) ((uint32_t)(n) + ((uint32_t)(n) + 3) / 4)
/* OWN BLOCKS: the nodes and their child blocks share ONE pool of 4-byte
 * units (t->kids). A node's chunk is its 12-byte record (NODE_UNITS) with
 * its child block right behind it, so a node reference IS the unit offset
 * of its record and its block starts at ref + NODE_UNITS (no field holds
 * it: kid_refs): a step down the trie reads the record and the first refs
 * and bytes in one line. The root's chunk holds MAX_FANOUT children from the start (at
 * unit 0, ROOT_UNITS units: it never moves); every other node moves to a
 * chunk of the new size when it gains or loses a child (its parent's slot
 * is rewritten). Offsets must leave the LEAF bit free: the pool holds at
 * most MAX_UNITS units (TRIE_EFULL past it). */
#define NODE_UNITS 3u
#define CHUNK_UNITS(n) (NODE_UNITS + KIDS_UNITS(n))
#define ROOT 0u
#define ROOT_UNITS CHUNK_UNITS(MAX_FANOUT)
#define MAX_UNITS 0x7fffffffu
#define MAX_PATH (TRIE_MAX_KEY + 2)
#define ARENA_MIN 4 /* a free arena chunk holds its 4-byte next link */
#define KCODE_MAX TC_ENC_MAX(TRIE_MAX_KEY) /* coded key or display, bytes */
#define ARENA_CLASSES (2 * KCODE_MAX + KHDR_MAX + 1)
#define NODE_FREE_MARK 0x1ffu /* nkids of a free chunk's record (9 bits: struct tnode) */
#define CACHE_SLOTS (1u + 256u + 65536u) /* prefixes of 0, 1 and 2 bytes */
_Static_assert(TRIE_CACHE_DEPTH == 2, "cache_slot() indexes prefixes of 0..2 bytes");
_Static_assert(TRIE_CACHE_K >= 1 && TRIE_CACHE_K <= TRIE_MAX_K, "cache list size");

/* A node, 12 bytes. depth needs 10 bits (<= MAX_PATH) and nkids 9 (<= 256,
 * or NODE_FREE_MARK), so their word also holds e2, the SECOND BYTE of the
 * node's edge: the key byte at position depth(parent) + 1 when the edge
 * [depth(parent), depth) has 2 bytes or more (every key below spells it),
 * else 0 (one-byte edges and the root). The first byte is the parent's
 * b_i. The typo walk steps that byte from the node it reads anyway for
 * depth, and decodes the best key for the edge's later bytes only when it
 * needs them (trie_fuzzy.c, SECOND EDGE BYTE). Kept by every change of an
 * edge's start: make_node and edge splits (trie.c, node_set_e2), the
 * merge of a node into its only child on delete (e2_merged), the
 * bottom-up builder (load and bulk build: b_attach); trie_check verifies
 * it for every node. Bit-fields, so that every read and write of depth
 * and nkids keeps its spelling and the compiler checks them all (no
 * address can be taken). */
typedef struct tnode {
    uint32_t best;  /* id of the best key in the subtree (NONE: empty root); a free chunk: its class */
    uint32_t term;  /* id of the key ending exactly here, or NONE; a free chunk: the next free one */
    uint32_t depth : 10; /* bytes from the root to the end of this node's edge */
    uint32_t nkids : 9;  /* children (0..256); NODE_FREE_MARK on a free chunk */
    uint32_t : 5;
    uint32_t e2 : 8; /* the edge's second byte (0: a one-byte edge, the root) */
} tnode;
_Static_assert(sizeof(tnode) == NODE_UNITS * 4, "a node is 12 bytes: 3 units of the pool");
_Static_assert(MAX_PATH < (1u << 10), "depth fits its 10 bits");
_Static_assert(MAX_FANOUT < NODE_FREE_MARK && NODE_FREE_MARK < (1u << 9), "nkids and the free mark fit 9 bits");

/* One record per key id, 12 bytes: the score shares the key's cache line
 * with its arena reference, so a frontier push (score) and a hit (both) cost
 * one miss. The lengths live in the arena, in a 1..KHDR_MAX-byte header in
 * front of the key (khdr_*): 4 bytes of lengths cost 1 there for 93% of real
 * queries (under 64 bytes, no display), which makes the record 12 bytes, not
 * 16. Packed to 4-byte alignment: the score is read unaligned on half the
 * records (x86-64 and arm64 do that at full speed); never take its address.
 * A free id has off == NONE (no chunk starts there: the arena is < 4 GiB and
 * a chunk is >= ARENA_MIN bytes) and keeps the next free id in the low 32
 * bits of the score's bytes (kfree_next). */
typedef struct __attribute__((packed, aligned(4))) kref {
    double score;
    uint32_t off; /* arena offset of [header][key][display]; NONE: id is free */
} kref;
_Static_assert(sizeof(kref) == 12, "kref packs into 12 bytes");

/* Arena key chunk: [header][coded key][coded display]. The key and the
 * display are stored CODED with the trie's symbol table (t->tc, tcodec.h):
 * the lengths here are coded lengths (ck, cd <= KCODE_MAX); raw lengths are
 * what decoding gives. Header: h = ck * 2 + (display stored ? 1 : 0) as a 1-
 * or 2-byte little-endian base-128 varint, then, with a display, cd the same
 * way. No display stored: the display is the key. */
#define KHDR_MAX 4
_Static_assert(KCODE_MAX * 2 + 1 < (1 << 14), "key header lengths fit 2 varint bytes");
static inline size_t kvar_size(size_t v) { return v < 128 ? 1 : 2; }
static inline size_t khdr_size(size_t ck, size_t cd) {
    return kvar_size(ck * 2 + (cd != 0)) + (cd ? kvar_size(cd) : 0);
}
static inline size_t kvar_put(char *p, size_t v) {
    if (v < 128) {
        p[0] = (char)v;
        return 1;
    }
    p[0] = (char)(0x80 | (v & 0x7f));
    p[1] = (char)(v >> 7);
    return 2;
}
static inline size_t kvar_get(const char *p, uint32_t *v) {
    uint8_t b = (uint8_t)p[0];
    if (b < 128) {
        *v = b;
        return 1;
    }
    *v = (b & 0x7fu) | ((uint32_t)(uint8_t)p[1] << 7);
    return 2;
}
/* Writes the header of a chunk at p; returns its size (khdr_size). */
static inline size_t khdr_put(char *p, size_t ck, size_t cd) {
    size_t n = kvar_put(p, ck * 2 + (cd != 0));
    if (cd) n += kvar_put(p + n, cd);
    return n;
}
/* Bytes of one key's arena chunk content: header, coded key, coded display. */
static inline size_t kchunk_bytes(size_t ck, size_t cd) { return khdr_size(ck, cd) + ck + cd; }

/* A key's chunk as stored: its coded key (coded display right after it when
 * cd > 0). */
typedef struct kview {
    const uint8_t *code;
    uint32_t ck, cd;
} kview;

/* A key and display coded for storing (trie__key_encode), before the chunk
 * is reserved: reserve kchunk_bytes(ck, cd), then trie__key_store. */
typedef struct kcode {
    uint8_t k[KCODE_MAX], d[KCODE_MAX];
    uint32_t ck, cd;
} kcode;

/* Top-TRIE_CACHE_K list of one short prefix, best first. n < TRIE_CACHE_K
 * means the list holds EVERY key with that prefix. */
typedef struct centry {
    uint32_t n;
    uint32_t id[TRIE_CACHE_K];
} centry;

/* Heavy-prefix cache (trie_cache.c): prefixes of TRIE_CACHE_DEPTH+1 ..
 * HEAVY_MAX_PLEN bytes that matched at least `hmin` keys (default
 * HEAVY_MIN_KEYS) when the cache was last rebuilt (load, bulk build), each
 * with its exact top-TRIE_CACHE_K list. At most HEAVY_MAX_ENTRIES of them
 * (past that, the rest stay uncached: a walk answers). Compile-time settings;
 * `hmin` is a field so white-box tests can lower it. */
#define HEAVY_MIN_KEYS 200u
#define HEAVY_MAX_PLEN 24u
#define HEAVY_MAX_ENTRIES (1u << 21)
typedef struct hentry {
    centry c;
    uint8_t plen;
    char p[HEAVY_MAX_PLEN];
} hentry;

struct trie {
    centry *cache; /* CACHE_SLOTS entries, indexed by cache_slot() */
    uint32_t tag;  /* opaque, saved in the snapshot header */
    uint32_t nlive;  /* live nodes, the root included */
    uint32_t *kids;  /* the one pool (OWN BLOCKS): node chunks, record + child block */
    uint64_t kused, kcap, klive; /* units: handed out (live + free chunks), allocated, in live chunks */
    uint32_t kfree[MAX_FANOUT + 1]; /* free chunks by their class (children), linked through the record's term */
    char *arena;
    uint64_t aused, acap, alive; /* bytes */
    uint64_t kbytes; /* sum of coded key + display bytes of live keys: the snapshot header's key byte count */
    uint32_t afree[ARENA_CLASSES];
    kref *refs; /* by key id: score and arena reference */
    uint32_t nids, idcap, idfree;
    uint64_t count;
    hentry *heavy;   /* nheavy entries (NULL: none) */
    uint32_t *htab;  /* open addressing, hmask + 1 slots: entry index + 1, 0 empty */
    uint32_t nheavy, hmask, hmin;
    uint32_t hmaxlen; /* longest cached heavy prefix; 0: no heavy cache */
    tc_table tc;      /* codes the key text in the arena (identity for a new trie) */
    uint64_t *pf;     /* prefix filter (trie_pfx.c), pfmask + 1 words; NULL: none */
    uint64_t pfmask;
};

/* One open path element of the bottom-up builder: a key (term) at `depth`
 * whose finished children are tmp[kstart, tn). */
typedef struct bframe {
    uint32_t depth, term, kstart;
} bframe;

/* Snapshot format constants (layout: trie.h, SNAPSHOT FORMAT). */
#define SNAP_MAGIC "QACTRIE" /* 8 bytes with the NUL */
#define SNAP_VERSION 4u     /* written; versions 1 to 4 are read */
#define SNAP_VERSION_MIN 1u
#define SNAP_VERSION_XXH3 4u /* from this version on the checksums are XXH3_64bits, before qsum64 */
#define SNAP_HDR 64u
#define SNAP_REC 18u                 /* fixed part of a version 1/2 record (raw, front-coded) */
#define SNAP_REC3 16u                /* fixed part of a version 3 record (coded) */

/* Snapshot load limit on sparse ids (trie_snapshot.c). trie_load allocates
 * the whole id table (12 B per id below the header's id bound) before it
 * reads a record, so the bound must be justified by the file: a snapshot of
 * `count` keys may leave at most SNAP_FREE_IDS_PER_KEY free ids per key plus
 * SNAP_FREE_IDS_MIN in all, else it is refused (TRIE_EFORMAT, "id bound ...").
 * The table then costs at most ~10x the payload + 12 MB. A real trie only
 * gets there after deleting over 15/16 of its keys while a high id lives on
 * (ids are reused LIFO, so inserts refill the holes). Compile-time setting. */
#define SNAP_FREE_IDS_PER_KEY 15u
#define SNAP_FREE_IDS_MIN (1u << 20)
#define SNAP_MAX_ID_BOUND(count) \
    ((uint64_t)(count) * (SNAP_FREE_IDS_PER_KEY + 1u) + SNAP_FREE_IDS_MIN)

/* The stack builder shared by trie_load and trie_builder (trie_builder.c). */
typedef struct builder {
    trie *t;
    bframe *st;
    int sp;
    uint32_t *tmp, tn;
    uint8_t *tmpb;  /* first edge byte of each tmp[] child */
    const char *pk; /* the previous key, raw: the open path spells it */
} builder;

/* ---------------------------------------------- shared functions (trie__) */

/* pools (trie.c): reserve may fail (TRIE_ENOMEM / TRIE_EFULL); alloc after a
 * successful reserve cannot. */
int trie__ids_reserve(trie *t);
uint32_t trie__id_alloc(trie *t);
void trie__id_free(trie *t, uint32_t id);
int trie__arena_reserve(trie *t, size_t n);
uint32_t trie__arena_alloc(trie *t, size_t n);
/* Codes key and display (dlen 0: none) with t->tc into *kc. */
void trie__key_encode(const trie *t, const char *key, size_t klen, const char *disp, size_t dlen,
                      kcode *kc);
/* Stores [header][coded key][coded display] in a chunk of kchunk_bytes(ck,
 * cd) bytes (reserved before) and returns its offset. */
uint32_t trie__key_store(trie *t, const uint8_t *ck, size_t ckn, const uint8_t *cd, size_t cdn);
/* Chooses a symbol table for the trie's keys (a sample of them) and recodes
 * the whole arena with it (after a bulk build or a load of raw keys). Leaves
 * the trie as it was on TRIE_ENOMEM. */
int trie__retrain(trie *t);
/* The node pool (OWN BLOCKS): reserve `units` more (conservatively: free
 * chunks are not counted), then allocate the chunk of a node with n
 * children: its record (best, term NONE, depth 0, e2 0, nkids n) and room
 * for its block (at ref + NODE_UNITS). A node whose child count
 * changes moves to a new chunk: trie__node_alloc, copy, node_release. */
int trie__nodes_reserve(trie *t, uint64_t units);
uint32_t trie__node_alloc(trie *t, uint32_t n);
/* The root's chunk at unit 0 (ROOT_UNITS units reserved before). */
void trie__root_init(trie *t);
/* A trie with no root and no pools, only its (empty) cache; NULL on failure.
 * Owned by the caller (trie_free). */
trie *trie__alloc_empty(void);

/* trie_topk.c: the uncached best-first top-k walk (arguments already checked):
 * the ids of the best min(k, matches) keys, best first; returns how many. */
int trie__topk_walk(const trie *t, const char *prefix, size_t plen, unsigned k, uint32_t *out);
/* trie_topk.c: calls fn(ud, id) for every key in key order; stops on non-zero. */
int trie__walk_sorted(const trie *t, int (*fn)(void *ud, uint32_t id), void *ud);

/* trie_cache.c */
enum { CN_UP, CN_DOWN, CN_GONE }; /* what happened to a key, for trie__cache_note */
void trie__cache_note(trie *t, const char *key, size_t klen, uint32_t id, int how);
/* Recomputes every short-prefix slot and re-chooses the heavy prefixes
 * (after a bulk build or load). Cannot fail: without memory for the heavy
 * cache the trie just has none. */
void trie__cache_rebuild(trie *t);
void trie__heavy_free(trie *t);

/* trie_pfx.c: the prefix filter (design there). Compile-time settings. */
#define PF_MAXLEN 8u              /* prefixes of 1..PF_MAXLEN bytes are in it */
#define PF_BITS_PER_KEY 4u        /* sized at rebuild: at least this many bits a key, */
#define PF_BITS_PER_STRING 32u    /* then folded to the smallest with this many a distinct prefix */
#define PF_MIN_BITS (1ull << 16)  /* 8 KB: a new or small trie */
#define PF_MAX_BITS (1ull << 31)  /* 256 MB */
/* A new key: sets its prefixes (no-op without a filter). */
void trie__pf_add(trie *t, const char *key, size_t klen);
/* Resizes for t->count and sets every key's prefixes; without memory the
 * trie has no filter. Cannot fail. */
void trie__pf_rebuild(trie *t);
/* Folds the filter to `words` (a power of two, >= PF_MIN_BITS / 64) when
 * it has more: word i takes the OR of every word congruent to i, so every
 * string stays in it. No-op otherwise. */
void trie__pf_fold(trie *t, uint64_t words);
/* The smallest filter, for trie_new: TRIE_OK or TRIE_ENOMEM. */
int trie__pf_init(trie *t);
void trie__pf_free(trie *t);
uint64_t trie__pf_bytes(const trie *t);
/* trie_check's part: every live key's prefixes are in the filter. */
int trie__pf_check(const trie *t, char *err, size_t errlen);

/* trie_huge.c: moves the big arrays (the node pool, ids, arena,
 * prefix filter) of min_bytes or more (load and bulk build pass
 * HUGE_MIN_BYTES, a compile-time setting; white-box tests 0) into 2
 * MB-aligned blocks advised MADV_HUGEPAGE, once they are final; returns how
 * many moved. Cannot fail (an array it cannot move stays).
 * QAC_NO_HUGE_PAGES=1 in the environment: none. */
#define HUGE_MIN_BYTES (4u << 20)
unsigned trie__huge_pages(trie *t, size_t min_bytes);
/* An array's block allocated on huge pages from the start (trie_load, the
 * prefix filter): bytes (>= min_bytes) rounded up to whole 2 MB pages, the
 * rounded length in *len, 2 MB-aligned and advised, contents undefined; an
 * ordinary heap block (qrealloc, qfree). NULL when QAC_NO_HUGE_PAGES=1,
 * below min_bytes or when it cannot: the caller allocates as before. An
 * array already on such a block is left in place by trie__huge_pages. */
void *trie__huge_alloc(size_t bytes, size_t min_bytes, size_t *len);

/* trie_builder.c */
int trie__b_close_to(builder *b, uint32_t L);
int trie__b_close_root(builder *b);
/* Allocates the builder's stack and tmp arrays for trie t (and frees them). */
int trie__b_init(builder *b, trie *t);
void trie__b_free(builder *b);
void trie__shrink_to_fit(trie *t);

/* trie_snapshot.c: the checksum a snapshot of `version` uses, of one buffer
 * (XXH3_64bits from SNAP_VERSION_XXH3 on, qsum64 before; white-box tests and
 * the fuzz harness use it to write or fix up headers). */
uint64_t trie__snap_sum(uint32_t version, const void *p, size_t n);
/* fsync of the directory holding path (a rename made durable): 0, or -1
 * with errno (trie_snapshot.c; trie_words_snap.c uses it too). */
int trie__fsync_dir(const char *path);

/* ------------------------------------------------------- inline helpers */

static inline kview kv_at(const trie *t, uint32_t off) {
    const char *p = t->arena + off;
    uint32_t h, d = 0;
    p += kvar_get(p, &h);
    if (h & 1) p += kvar_get(p, &d);
    return (kview){(const uint8_t *)p, h >> 1, d};
}
static inline kview kv(const trie *t, uint32_t id) { return kv_at(t, t->refs[id].off); }
/* Decodes key id into out[TRIE_MAX_KEY]; returns its length. The arena only
 * holds what trie__key_store wrote (load checks every coded key first), so
 * decoding cannot fail. */
static inline uint32_t kdecode(const trie *t, uint32_t id, char *out) {
    kview v = kv(t, id);
    return (uint32_t)tc_decode(&t->tc, v.code, v.ck, out, TRIE_MAX_KEY);
}
/* 1 when key id starts with p[0, plen): decodes only as far as needed (the
 * top-k walk's one check of the skipped bytes). A prefix longer than any
 * key matches none. */
static inline int kprefix_is(const trie *t, uint32_t id, const char *p, size_t plen) {
    if (plen > TRIE_MAX_KEY) return 0;
    kview v = kv(t, id);
    char buf[TRIE_MAX_KEY + TC_SYM_MAX - 1];
    size_t o = tc_decode_prefix(&t->tc, v.code, v.ck, buf, plen);
    return o != TC_BAD && o >= plen && memcmp(buf, p, plen) == 0;
}
static inline int id_live(const trie *t, uint32_t id) { return t->refs[id].off != NONE; }
static inline uint32_t kfree_next(const trie *t, uint32_t id) {
    uint32_t n;
    memcpy(&n, &t->refs[id], 4); /* the score's first bytes (packed struct) */
    return n;
}
/* Node r's record (r: a node reference, not LEAF). */
static inline tnode *NODE(const trie *t, uint32_t r) { return (tnode *)(t->kids + r); }
static inline uint32_t ref_best(const trie *t, uint32_t r) {
    return (r & LEAF) ? (r & ~LEAF) : NODE(t, r)->best;
}
/* A node's child block: right behind its record (OWN BLOCKS), its refs
 * then its first bytes. (t: unused, kept so that every reader spells the
 * pool it reads.) */
static inline uint32_t *kid_refs(const trie *t, const tnode *n) {
    (void)t;
    return (uint32_t *)(uintptr_t)((const uint32_t *)n + NODE_UNITS);
}
static inline uint8_t *kid_bytes(const trie *t, const tnode *n) {
    return (uint8_t *)(kid_refs(t, n) + n->nkids);
}

static inline int kid_find(const trie *t, const tnode *n, uint8_t c) {
    if (n->nkids == 0) return -1;
    const uint8_t *b = kid_bytes(t, n);
    const uint8_t *p = memchr(b, c, n->nkids);
    return p ? (int)(p - b) : -1;
}

static inline int keycmp(const char *a, size_t an, const char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c) return c;
    return (an > bn) - (an < bn);
}
static inline int keycmp_ids(const trie *t, uint32_t a, uint32_t b) {
    char ka[TRIE_MAX_KEY], kb[TRIE_MAX_KEY];
    uint32_t na = kdecode(t, a, ka), nb = kdecode(t, b, kb);
    return keycmp(ka, na, kb, nb);
}

/* 1 when key a ranks before key b: higher score, then smaller key. */
static inline int better(const trie *t, uint32_t a, uint32_t b) {
    double sa = t->refs[a].score, sb = t->refs[b].score;
    if (sa != sb) return sa > sb;
    return keycmp_ids(t, a, b) < 0;
}

/* 1 when child (best key ia, first byte ba) ranks before sibling (ib, bb).
 * Siblings share their path up to the parent's depth and differ at the first
 * byte, so on equal scores the key order IS the first-byte order: ordering
 * children never reads key text. */
static inline int kid_before(const trie *t, uint32_t ia, uint8_t ba, uint32_t ib, uint8_t bb) {
    double sa = t->refs[ia].score, sb = t->refs[ib].score;
    if (sa != sb) return sa > sb;
    return ba < bb;
}

static inline size_t lcp(const char *a, const char *b, size_t n) {
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) return i + (size_t)(__builtin_ctzll(x ^ y) >> 3); /* little-endian */
        i += 8;
    }
    while (i < n && a[i] == b[i]) i++;
    return i;
}

static inline uint32_t chunk_size(size_t n) { return n < ARENA_MIN ? ARENA_MIN : (uint32_t)n; }

static inline uint32_t cache_slot(const char *p, size_t plen) {
    if (plen == 0) return 0;
    if (plen == 1) return 1u + (uint8_t)p[0];
    return 257u + (uint32_t)(uint8_t)p[0] * 256u + (uint8_t)p[1];
}

static inline uint32_t heavy_hash(const char *p, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h ^ (h >> 15);
}

/* The heavy-prefix list of exactly this prefix, or NULL. */
static inline centry *heavy_find(const trie *t, const char *p, size_t plen) {
    if (plen > t->hmaxlen || plen <= TRIE_CACHE_DEPTH) return NULL;
    uint32_t i = heavy_hash(p, plen) & t->hmask;
    for (;;) {
        uint32_t e = t->htab[i];
        if (!e) return NULL;
        hentry *h = &t->heavy[e - 1];
        if (h->plen == plen && memcmp(h->p, p, plen) == 0) return &h->c;
        i = (i + 1) & t->hmask;
    }
}

/* The prefix filter's hash of s[0, n), n <= PF_MAXLEN, and the two bits
 * of its word (trie_pfx.c). pf_hash_word: the same hash of the string
 * whose bytes are v's low n bytes (little-endian; the bytes above n are 0),
 * for callers that build the string in a register (trie_fuzzy.c). */
static inline uint64_t pf_hash_word(uint64_t v, size_t n) {
    uint64_t x = v ^ ((uint64_t)n * 0x9E3779B97F4A7C15ull);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}
static inline uint64_t pf_hash(const char *s, size_t n) {
    uint64_t v = 0;
    memcpy(&v, s, n);
    return pf_hash_word(v, n);
}
static inline uint64_t pf_bits(uint64_t h) { return (1ull << (h & 63)) | (1ull << ((h >> 6) & 63)); }
/* 0: no key starts with s[0, n); 1: some key may (also for n outside
 * 1..PF_MAXLEN and without a filter). */
static inline int trie__pf_has(const trie *t, const char *s, size_t n) {
    if (!t->pf || n == 0 || n > PF_MAXLEN) return 1;
    uint64_t h = pf_hash(s, n), m = pf_bits(h);
    return (t->pf[(h >> 12) & t->pfmask] & m) == m;
}
/* trie__pf_has of the string in v's low n bytes (pf_hash_word). */
static inline int trie__pf_has_word(const trie *t, uint64_t v, size_t n) {
    if (!t->pf || n == 0 || n > PF_MAXLEN) return 1;
    uint64_t h = pf_hash_word(v, n), m = pf_bits(h);
    return (t->pf[(h >> 12) & t->pfmask] & m) == m;
}

/* Fills *h for key id: decodes key and display into h->text. */
static inline void fill_hit(const trie *t, uint32_t id, trie_hit *h) {
    kview v = kv(t, id);
    uint32_t kl = (uint32_t)tc_decode(&t->tc, v.code, v.ck, h->text, TRIE_MAX_KEY);
    h->keylen = (uint16_t)kl;
    if (v.cd) {
        h->dispoff = (uint16_t)kl;
        h->displen = (uint16_t)tc_decode(&t->tc, v.code + v.ck, v.cd, h->text + kl, TRIE_MAX_KEY);
    } else {
        h->dispoff = 0;
        h->displen = (uint16_t)kl;
    }
    h->id = id;
    h->score = t->refs[id].score;
}

/* Sets node n's e2 (struct tnode) for an edge that starts at byte pd of
 * key text k (any key of n's subtree, raw; at least depth(n) bytes). */
static inline void node_set_e2(trie *t, uint32_t n, size_t pd, const char *k) {
    tnode *nd = NODE(t, n);
    nd->e2 = nd->depth >= pd + 2 ? (uint8_t)k[pd + 1] : 0;
}

static inline void recompute_best(trie *t, uint32_t n) {
    tnode *nd = NODE(t, n);
    uint32_t b = nd->term;
    if (nd->nkids) {
        uint32_t c = ref_best(t, kid_refs(t, nd)[0]);
        /* term is a proper prefix of every key below: it wins ties */
        if (b == NONE || t->refs[c].score > t->refs[b].score) b = c;
    }
    nd->best = b;
}

static inline int check_args(const char *key, size_t klen, const char *disp, size_t dlen) {
    if (!key || klen == 0) return TRIE_EINVAL;
    if (klen > TRIE_MAX_KEY) return TRIE_ETOOLONG;
    if (disp) {
        if (dlen == 0) return TRIE_EINVAL;
        if (dlen > TRIE_MAX_KEY) return TRIE_ETOOLONG;
    }
    return TRIE_OK;
}

/* Stored display length for a display given with key (0: same as key). */
static inline size_t canon_dlen(const char *key, size_t klen, const char *disp, size_t dlen) {
    if (!disp || (dlen == klen && memcmp(disp, key, klen) == 0)) return 0;
    return dlen;
}

#endif
