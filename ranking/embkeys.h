/* embkeys.h -- the Redis key layout of loaded embeddings: one owner for the
 * writer (`qac load`, data/load.c) and the reader (the server's ranker,
 * engine/rank/ranker.c). User and session keys are history_redis.h's.
 *
 * Keys (NS = the namespace, --namespace, default "qac", at most
 * RANK_RH_MAX_NS bytes without ':' or glob characters; V = a version):
 *   NS:version            INCR counter handing out versions
 *   NS:current            "V": the version servers read (switched last)
 *   NS:vV:meta            hash: dims, buckets, nqueries, seed, row
 *                         ("f32le-scale+int8", 4 + dims bytes), ngrams
 *                         ("emb1": rank_emb_ngrams of ranking/embed.h)
 *   NS:vV:q:<query>       row of the query's composed unit vector
 *                         (rank_emb_quantize), one per known query
 *   NS:vV:b:<bucket>      row of n-gram bucket <bucket> (decimal), only the
 *                         buckets with a non-zero vector: a server composes
 *                         vectors for unseen text with rank_emb_ngrams +
 *                         rank_emb_compose_rows
 * Row = 4-byte little-endian f32 scale then dims int8 (value = scale * q).
 * Every key of a version starts with NS:vV: (rank_ek_vprefix), so a load
 * deletes the others with SCAN MATCH NS:v*:* (rank_ek_all_versions).
 *
 * Each function writes one key (or prefix) into out[cap], NUL-terminated,
 * and returns its length; RANK_EK_MAX bytes always suffice for a valid
 * namespace. A key that does not fit returns -1 (out is then unspecified).
 */
#ifndef QAC_RANK_EMBKEYS_H
#define QAC_RANK_EMBKEYS_H

#include <stddef.h>
#include <stdint.h>

#include "ranking/history_redis.h"

#define RANK_EK_MAX (RANK_RH_MAX_NS + 48) /* longest fixed key or prefix, with its NUL */
#define RANK_EK_ROW_FORMAT "f32le-scale+int8"
#define RANK_EK_NGRAMS "emb1"

int rank_ek_version(char *out, size_t cap, const char *ns);                    /* NS:version */
int rank_ek_current(char *out, size_t cap, const char *ns);                    /* NS:current */
int rank_ek_all_versions(char *out, size_t cap, const char *ns);               /* NS:v*:* (a SCAN pattern) */
int rank_ek_vprefix(char *out, size_t cap, const char *ns, uint64_t v);        /* NS:vV: */
int rank_ek_meta(char *out, size_t cap, const char *ns, uint64_t v);           /* NS:vV:meta */
int rank_ek_qprefix(char *out, size_t cap, const char *ns, uint64_t v);        /* NS:vV:q: (query follows) */
int rank_ek_bucket(char *out, size_t cap, const char *ns, uint64_t v, uint32_t b); /* NS:vV:b:<b> */

#endif
