/* veclru.h -- rank_veclru: the server's in-process LRU of query -> embedding
 * vector, bounded in bytes.
 *
 * What: the vectors the server fetched from Redis (NS:vV:q:<query>) or
 * composed from --embeddings, so that a keystroke only asks Redis for the
 * candidates it has not seen lately. A query known to have NO vector (Redis
 * had no key) is cached too (a "negative" entry: no vector bytes), so rare
 * candidates are not re-fetched on every keystroke.
 *
 * Layout: chained hash table (power-of-two buckets, doubled when entries
 * exceed buckets) of entries on one doubly linked LRU list, most recent at
 * the head. An entry is one allocation: header, then dims floats (none for a
 * negative entry), then the key bytes. Lookups move the entry to the head
 * and copy its vector out: no allocation per lookup, and the caller's copy
 * stays valid while later inserts evict (a request that waits on Redis keeps
 * its vectors).
 *
 * Bound: bytes() = sum over entries of (header + vector + key) + 8 bytes per
 * bucket; an insert evicts from the LRU tail until bytes() <= max_bytes. A
 * single entry that cannot fit even in an empty cache is refused.
 *
 * Staleness: the cache belongs to one embedding version (the server drops it
 * with rank_veclru_reset when NS:current changes). Within a version, vectors
 * never change in Redis, so entries are never stale.
 *
 * Errors: 0 or a negative RANK_VECLRU_E* code; a failed put changes nothing.
 * Ownership: the cache copies keys and vectors in and out; it owns all of its
 * memory. Single-threaded.
 */
#ifndef QAC_RANK_CACHE_H
#define QAC_RANK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define RANK_VECLRU_ENOMEM (-1)
#define RANK_VECLRU_EINVAL (-2)  /* dims 0 or over RANK_VECLRU_MAX_DIMS, empty key */
#define RANK_VECLRU_ETOOBIG (-3) /* key over RANK_VECLRU_MAX_KEY, or entry larger than max_bytes */

#define RANK_VECLRU_DEFAULT_BYTES (64u << 20) /* --cache-bytes default */
#define RANK_VECLRU_MIN_BYTES 4096
#define RANK_VECLRU_MAX_KEY 512   /* bytes of a query (TRIE_MAX_KEY) */
#define RANK_VECLRU_MAX_DIMS 256

typedef struct rank_veclru rank_veclru;

typedef struct rank_veclru_stat {
    uint64_t entries, negatives; /* live entries, of which without a vector */
    uint64_t bytes, max_bytes;
    uint64_t hits, misses, inserts, evictions, resets;
    uint32_t dims;
} rank_veclru_stat;

/* A new cache of at most max_bytes (>= RANK_VECLRU_MIN_BYTES) for vectors of
 * dims floats (1 .. RANK_VECLRU_MAX_DIMS). NULL on bad arguments or no memory. */
rank_veclru *rank_veclru_new(size_t max_bytes, uint32_t dims);
void rank_veclru_free(rank_veclru *c);

/* Looks q up (counts a hit or a miss; a hit becomes most recent).
 * Returns 1: found with a vector, copied to out[dims] (out may be NULL);
 *         0: found, known to have no vector;  -1: not cached. */
int rank_veclru_get(rank_veclru *c, const char *q, size_t len, float *out);

/* Inserts or replaces q's entry; vec NULL records "no vector". Evicts least
 * recently used entries to stay within max_bytes. */
int rank_veclru_put(rank_veclru *c, const char *q, size_t len, const float *vec);

/* Drops every entry (counters other than entries/bytes survive) and sets the
 * vector size for what comes next (a new embedding version). Returns 0 or
 * RANK_VECLRU_EINVAL (dims out of range: nothing changed). */
int rank_veclru_reset(rank_veclru *c, uint32_t dims);

uint32_t rank_veclru_dims(const rank_veclru *c);
void rank_veclru_stats(const rank_veclru *c, rank_veclru_stat *s);

#endif
