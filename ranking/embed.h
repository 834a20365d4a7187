/* embed.h -- rank_emb: query embeddings composed from hashed n-gram vectors.
 *
 * What: a table of `buckets` vectors of `dims` numbers. A query's n-grams are
 * its space-separated words ("w" + word), its byte trigrams of "^" query "$"
 * ("t" + 3 bytes) and the whole query ("q" + query); each is hashed (FNV-1a
 * 64, rank_emb_hash) to a bucket. A query's vector is the sum of its n-grams'
 * bucket vectors, scaled to unit length (all zero when every bucket is zero).
 * So a query never seen in training (typed text, a rare candidate) still gets
 * a vector from its words and trigrams; a frequent one also has its own
 * bucket. Trigrams are over UTF-8 bytes, not code points: cheaper, and equal
 * for the ASCII bulk of the logs.
 *
 * Training (rank_emb_train, used by `qac embed`): skip-gram with negative
 * sampling over pairs of queries issued close together in one session, one
 * shared table for both sides (StarSpace style): for a pair (a, b) the loss is
 * -log s(va.vb) - sum over k sampled queries n of log s(-va.vn), where va is
 * the mean of a's n-gram vectors; gradients flow to every n-gram of both
 * sides. Plain SGD with a linearly decaying rate; single-threaded and driven
 * by one xorshift64* generator, so a seed gives the same file bit for bit.
 *
 * Storage: int8 with a per-bucket scale (v[i] = scale * q[i]); the loaded
 * table dequantizes on the fly when composing.
 *
 * EMB file (all integers little-endian):
 *   off  size  field
 *   0    8     magic "QACEMB\0\1"
 *   8    4     u32 version = RANK_EMB_VERSION (1)
 *   12   4     u32 dims (RANK_EMB_MIN_DIMS .. RANK_EMB_MAX_DIMS)
 *   16   4     u32 buckets (1 .. RANK_EMB_MAX_BUCKETS)
 *   20   4     u32 nqueries: known queries listed after the table
 *   24   8     u64 seed used for training (informational)
 *   32   B*(4+D)  per bucket: f32 scale (finite, >= 0), then D int8
 *   ...        nqueries times: u16 length (1 .. RANK_EMB_MAX_QUERY), bytes
 *              (the training queries, normalized; `qac load` writes their
 *              vectors to Redis)
 *   end-8 8    u64 FNV-1a 64 of every byte before it
 * The loader refuses a wrong magic, version, dims or bucket count, a size
 * that does not match, a bad scale or query length, and a checksum mismatch,
 * each with a reason.
 *
 * Errors: 0 or a negative RANK_EMB_E* code; loaders also fill err.
 * Ownership: rank_emb owns its table and query list; pointers from
 * rank_emb_query_at are valid until rank_emb_free. A loaded rank_emb is
 * read-only, so any number of threads may compose from it.
 */
#ifndef QAC_RANK_EMBED_H
#define QAC_RANK_EMBED_H

#include <stddef.h>
#include <stdint.h>

#define RANK_EMB_OK 0
#define RANK_EMB_ENOMEM (-1)
#define RANK_EMB_EINVAL (-2) /* bad option (dims, buckets, ...) */
#define RANK_EMB_EIO (-3)    /* open/read/write failed */
#define RANK_EMB_EFORMAT (-4) /* not an EMB file, or corrupt / truncated */

#define RANK_EMB_VERSION 1
/* A row's scale is 0 or in (0, RANK_EMB_MAX_SCALE]: 127 * scale stays far from float overflow when
 * up to RANK_EMB_MAX_NGRAMS rows are summed and squared. A file with another scale is refused; a
 * row read from Redis with one is taken as having no vector. */
#define RANK_EMB_MAX_SCALE 1e6f
#define RANK_EMB_MIN_DIMS 8
#define RANK_EMB_MAX_DIMS 64
#define RANK_EMB_DEFAULT_DIMS 32
#define RANK_EMB_MAX_BUCKETS (1u << 24)
#define RANK_EMB_DEFAULT_BUCKETS (1u << 18)
#define RANK_EMB_MAX_QUERY 512    /* bytes of a listed query */
#define RANK_EMB_MAX_NGRAMS 256   /* n-grams of one query; more are ignored */
#define RANK_EMB_DEFAULT_EPOCHS 5
#define RANK_EMB_DEFAULT_WINDOW 3  /* pairs: queries at most this many apart in a session */
#define RANK_EMB_DEFAULT_NEG 5     /* negatives per pair */
#define RANK_EMB_DEFAULT_LR 0.05

typedef struct rank_emb {
    uint32_t dims, buckets;
    uint64_t seed;
    float *scale; /* buckets */
    int8_t *q;    /* buckets * dims */
    /* known queries: offsets into qtext */
    uint32_t nqueries;
    uint64_t *qoff; /* nqueries + 1 */
    char *qtext;
} rank_emb;

const char *rank_emb_strerror(int err);

uint64_t rank_emb_hash(const void *p, size_t n, uint64_t h); /* FNV-1a 64, h = seed or previous */
#define RANK_EMB_FNV_INIT 0xcbf29ce484222325ULL

/* The bucket of each n-gram of q (see above), at most cap; returns how many. */
size_t rank_emb_ngrams(uint32_t buckets, const char *q, size_t len, uint32_t *out, size_t cap);

/* Composes q's unit vector into out[dims]. Returns 1, or 0 when the vector is
 * all zero (no trained n-gram; out is then zeros). */
int rank_emb_vector(const rank_emb *e, const char *q, size_t len, float *out);

/* Same from explicit bucket ids (the server composes from Redis-fetched rows
 * with rank_emb_compose_rows instead). */
int rank_emb_compose(const rank_emb *e, const uint32_t *ids, size_t n, float *out);

/* Composes from n rows in the EMB/Redis row format (f32 scale + dims int8,
 * see rank_emb_row), as the server does with rows it fetched. */
int rank_emb_compose_rows(uint32_t dims, const unsigned char *const *rows, size_t n, float *out);

/* The row of bucket b in the EMB/Redis byte format: 4 bytes f32 scale (LE)
 * then dims int8; writes 4 + dims bytes to out. */
void rank_emb_row(const rank_emb *e, uint32_t b, unsigned char *out);

/* Quantizes a unit vector to the same row format (scale + dims int8). */
void rank_emb_quantize(uint32_t dims, const float *v, unsigned char *out);
/* And back. */
void rank_emb_dequantize(uint32_t dims, const unsigned char *row, float *out);

static inline float rank_dot(const float *a, const float *b, uint32_t d) {
    float s = 0;
    for (uint32_t i = 0; i < d; i++) s += a[i] * b[i];
    return s;
}

const char *rank_emb_query_at(const rank_emb *e, uint32_t i, size_t *len);

int rank_emb_load(const char *path, rank_emb **out, char *err, size_t errlen);
/* Writes atomically (tmp + fsync + rename). */
int rank_emb_save(const rank_emb *e, const char *path, char *err, size_t errlen);
void rank_emb_free(rank_emb *e);

/* --- training -------------------------------------------------------------- */

typedef struct rank_emb_opts {
    uint32_t dims, buckets, epochs, window, neg;
    uint64_t seed;
    double lr;
} rank_emb_opts;

void rank_emb_opts_default(rank_emb_opts *o);

/* Sessions for training: queries (normalized, not NUL-terminated) in session
 * order; sess_start[s] is the index of session s's first query, with
 * sess_start[nsess] == nq. Queries may repeat (pairs of equal queries are
 * skipped). `progress` (may be NULL) is called about once per percent with
 * (epoch, fraction done of the whole run, mean loss so far). Returns 0 and a
 * new rank_emb (with no query list: the caller sets one with
 * rank_emb_set_queries) in *out. */
typedef void (*rank_emb_progress)(void *ud, uint32_t epoch, double done, double loss);
int rank_emb_train(const rank_emb_opts *o, const char *const *q, const uint32_t *qlen, size_t nq,
                   const size_t *sess_start, size_t nsess, rank_emb_progress progress, void *ud,
                   rank_emb **out);

/* Replaces e's known-query list with copies of q[0..n) (each 1 ..
 * RANK_EMB_MAX_QUERY bytes; longer or empty ones are skipped). */
int rank_emb_set_queries(rank_emb *e, const char *const *q, const uint32_t *qlen, size_t n);

/* --- a cache of composed vectors, keyed by query text ---------------------- */

/* Open addressing, grows; holds a copy of each key and its unit vector (NULL
 * result when all zero). For offline tools (eval, train) where the set of
 * queries is bounded by the data; the server keeps its own bounded LRU. */
typedef struct rank_vcache rank_vcache;
rank_vcache *rank_vcache_new(const rank_emb *e);
void rank_vcache_free(rank_vcache *c);
/* q's vector (dims floats, unit length), or NULL when it has none or on
 * allocation failure (*oom set to 1 then, when oom is not NULL). Valid until
 * rank_vcache_free. */
const float *rank_vcache_get(rank_vcache *c, const char *q, size_t len, int *oom);
size_t rank_vcache_size(const rank_vcache *c);

#endif
