/* shardmap.h -- which shard holds a key: ranges of the normalized key's first
 * character (issue 18, docs/SCALING.md "Shards").
 *
 * `qac build --shards N` splits a corpus into N indexes by the first code
 * point of each normalized key, in contiguous ranges balanced by key count,
 * and writes this map beside them; `qac serve --upstreams` and
 * deploy/cluster.sh read it to send a prefix to the one shard that can hold
 * its completions. The first character decides because every completion of
 * a prefix starts with the prefix's first character (typos included, as long
 * as the first character must be typed right: fuzzy-first-any no).
 *
 * The file (text, one record a line, '#' lines and blank lines ignored):
 *
 *     qac-shardmap 1              magic and format version (only 1 is read)
 *     keys match                  the key form of every shard (match | eval)
 *     shards 2                    N, 1..SHARDMAP_MAX_SHARDS
 *     shard 0 idx.0 51234         shard number, its index file (a name in the
 *     shard 1 idx.1 50990         map's directory, no '/'), its key count
 *     range 0 6c 0                code points lo..hi (hex, inclusive) -> shard
 *     range 6d 10ffff 1
 *
 * Validation (shardmap_parse, every rule an error naming the line): the
 * magic line first, version 1; keys/shards once each, before any shard or
 * range line; every shard 0..N-1 listed exactly once; ranges ascending,
 * contiguous, from 0 to 0x10ffff (SHARDMAP_MAX_CP), at most
 * SHARDMAP_MAX_RANGES, each naming a shard < N; every shard owns a range;
 * lines at most SHARDMAP_MAX_LINE bytes; no unknown record.
 *
 * Errors: functions returning int return 0 or -1 with one line in err.
 */
#ifndef QAC_TEXT_SHARDMAP_H
#define QAC_TEXT_SHARDMAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SHARDMAP_VERSION 1
#define SHARDMAP_MAX_SHARDS 64   /* shards in one map (and `qac build --shards`) */
#define SHARDMAP_MAX_RANGES 4096 /* range lines in one map */
#define SHARDMAP_MAX_NAME 200    /* bytes of an index file name */
#define SHARDMAP_MAX_LINE 512    /* bytes of one line */
#define SHARDMAP_MAX_FILE (1u << 20) /* bytes of a map file */
#define SHARDMAP_MAX_CP 0x10ffffu

typedef struct shardmap_range {
    uint32_t lo, hi; /* code points, inclusive */
    uint32_t shard;
} shardmap_range;

typedef struct shardmap {
    int key_form; /* NORM_FORM_MATCH or NORM_FORM_EVAL */
    unsigned nshards;
    char index[SHARDMAP_MAX_SHARDS][SHARDMAP_MAX_NAME + 1];
    uint64_t keys[SHARDMAP_MAX_SHARDS];
    size_t nranges;
    shardmap_range ranges[SHARDMAP_MAX_RANGES];
} shardmap;

/* Parses and validates text[0..len). */
int shardmap_parse(const char *text, size_t len, shardmap *m, char *err, size_t errlen);
/* Reads the file at path (at most SHARDMAP_MAX_FILE bytes) and parses it. */
int shardmap_load(const char *path, shardmap *m, char *err, size_t errlen);
/* Checks the rules above on a map built in memory. */
int shardmap_validate(const shardmap *m, char *err, size_t errlen);
/* Writes m in the format above; 0, or -1 when the stream failed. */
int shardmap_write(FILE *f, const shardmap *m);

/* The shard owning code point cp (binary search); cp > SHARDMAP_MAX_CP -> -1. */
int shardmap_owner(const shardmap *m, uint32_t cp);
/* The first code point of UTF-8 text (a normalized key or prefix): 0 and *cp,
 * or -1 when empty or not valid UTF-8 there. */
int shardmap_first_cp(const char *s, size_t len, uint32_t *cp);

/* Balances n distinct first code points cps[] (ascending) with key counts[]
 * into nshards contiguous ranges: shard s takes code points until the running
 * total reaches (s + 1) / nshards of all keys, but leaves at least one code
 * point to each later shard. Fills m's ranges, nshards and keys (not index
 * names, not key_form). -1 when nshards is 0, over SHARDMAP_MAX_SHARDS or
 * over n ("only n distinct first characters"). */
int shardmap_balance(const uint32_t *cps, const uint64_t *counts, size_t n, unsigned nshards, shardmap *m,
                     char *err, size_t errlen);

#endif
