/* build_shards.h -- splitting a built trie into shards (`qac build --shards`,
 * data/build_shards.c has the method and the files written). */
#ifndef QAC_BUILD_SHARDS_H
#define QAC_BUILD_SHARDS_H

#include <stddef.h>

#include "text/shardmap.h"
#include "trie/trie.h"

/* Writes OUT.0 .. OUT.(nshards-1) and the map OUT.shards from t; fills *m
 * with the map written. 0, or -1 with one line in err (too many shards for
 * the distinct first characters, a write error, out of memory). */
int build_write_shards(const trie *t, const char *out, unsigned nshards, shardmap *m, char *err, size_t errlen);

#endif
