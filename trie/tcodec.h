/* tcodec.h -- static symbol-table compression of short strings: the key and
 * display text in the trie's arena.
 *
 * WHY
 * ---
 * Query text is most of a trie's memory (10M synthetic queries: 343 MB of
 * key text against ~310 MB for everything else). Queries are short (34 bytes
 * on average), so block compressors (zstd, LZ4) gain little per string and
 * cannot decode one string alone cheaply. A static symbol table does: in the
 * manner of FSST (Boncz, Neumann, Leis, "FSST: Fast Random Access String
 * Compression", VLDB 2020), up to 255 symbols of 1..8 bytes are chosen from a
 * sample of the strings; a string is coded as one byte per symbol, and a byte
 * that no symbol starts with is coded as TC_ESC followed by the byte itself.
 * Decoding is one table lookup and one 8-byte store per code; each string
 * decodes on its own (random access), which is what a trie hit needs.
 *
 * FORMAT OF A CODED STRING
 * ------------------------
 * A sequence of codes c: c < nsym stands for the len[c] bytes of sym[c];
 * c == TC_ESC is followed by one literal byte; codes nsym..254 are invalid.
 * The empty string is the empty sequence. A coded string is at most 2x its
 * input (every byte escaped) -- TC_ENC_MAX(n).
 *
 * THE IDENTITY TABLE
 * ------------------
 * tc_identity() makes the table a new trie starts with: codes 0..254 are the
 * single bytes 0x00..0xFE and only 0xFF is escaped. Valid UTF-8 never holds
 * 0xFF, so with it a coded key is exactly the key (no gain, no growth).
 *
 * SERIALIZED TABLE (in trie snapshots; all lengths in bytes)
 * ----------------------------------------------------------
 *   1            nsym (0..255)
 *   nsym         len[0..nsym), each 1..TC_SYM_MAX
 *   sum(len)     the symbol bytes, symbol after symbol
 * tc_parse refuses anything else (a length of 0 or over 8, a truncated table)
 * with a one-line reason. Duplicate symbols are legal (they decode fine and
 * the encoder uses the first); tables from tc_train never have any.
 *
 * THREADS AND MEMORY
 * ------------------
 * A tc_table is a plain value: no pointers, no allocation; it may be copied
 * with memcpy and embedded in other structures. It holds the encoder's index
 * too (so it is about 150 KB, not 2 KB: see sizeof). All functions are pure
 * given the table; concurrent readers of one table are fine.
 */
#ifndef QAC_TCODEC_H
#define QAC_TCODEC_H

#include <stddef.h>
#include <stdint.h>

#define TC_ESC 255        /* escape code: the next byte is a literal */
#define TC_MAX_SYMS 255   /* symbols per table (codes 0..254) */
#define TC_SYM_MAX 8      /* longest symbol, bytes */
#define TC_ENC_MAX(n) (2 * (size_t)(n)) /* largest coded form of n bytes */
#define TC_SERIAL_MAX (1 + TC_MAX_SYMS + TC_MAX_SYMS * TC_SYM_MAX) /* largest serialized table */
#define TC_BAD ((size_t)-1) /* tc_decode: malformed input or output over cap */

#define TC_OK 0
#define TC_EFORMAT (-1) /* tc_parse: not a valid serialized table */
#define TC_ENOMEM (-2)  /* tc_train: scratch allocation failed (the table is unchanged) */

typedef struct tc_table tc_table;

/* Make t the identity table (see above). */
void tc_identity(tc_table *t);

/* 1 when t codes every byte 0x00..0xFE as itself (tc_identity's table, or
 * one parsed from its serialization). */
int tc_is_identity(const tc_table *t);

/* Choose a table for strings like the n given ones (s[i], len[i] bytes
 * each; any bytes). Deterministic: the same sample gives the same table.
 * Cost is linear in the sample; callers pass a sample (the trie passes at
 * most TC_TRAIN_SAMPLE_BYTES of text), not everything; of a larger sample
 * each generation codes a deterministic subset of about that size. Scratch
 * (qmalloc, freed before return): a few MB on query text, at most ~30 MB
 * (when nearly all 512 x 512 code pairs occur). TC_OK, or TC_ENOMEM with t
 * unchanged. A sample with no bytes gives the identity table. */
#define TC_TRAIN_SAMPLE_BYTES (1u << 21)
int tc_train(tc_table *t, const char *const *s, const uint32_t *len, size_t n);

/* Code in[0, n) into out, which must hold TC_ENC_MAX(n) bytes. Greedy
 * longest symbol at each position. Returns the coded length. */
size_t tc_encode(const tc_table *t, const char *in, size_t n, uint8_t *out);

/* Decode the coded string in[0, n) into out. Writes at most cap bytes (no
 * slack needed past cap). Returns the decoded length, or TC_BAD when the
 * input ends inside an escape, holds an invalid code, or decodes to more
 * than cap bytes. Never reads past in + n. */
size_t tc_decode(const tc_table *t, const uint8_t *in, size_t n, char *out, size_t cap);

/* Decode in[0, n) until at least `want` bytes are out (or the input ends):
 * for checking a prefix without decoding the rest. out must hold want +
 * TC_SYM_MAX - 1 bytes (the last symbol may run past want). Returns the bytes
 * written (>= want unless the string is shorter), or TC_BAD as tc_decode. */
size_t tc_decode_prefix(const tc_table *t, const uint8_t *in, size_t n, char *out, size_t want);

/* The decoded length of in[0, n) without writing it, or TC_BAD as above
 * (cap: no limit). */
size_t tc_decoded_len(const tc_table *t, const uint8_t *in, size_t n);

/* Serialize t into out (tc_serial_size(t) <= TC_SERIAL_MAX bytes); returns
 * the bytes written. */
size_t tc_serial_size(const tc_table *t);
size_t tc_serialize(const tc_table *t, uint8_t *out);

/* Parse a serialized table from in[0, n) into t (and build its encoder
 * index). On TC_OK *used is the table's size in bytes (the rest of in is
 * not read). On TC_EFORMAT t is unchanged and err (when non-NULL) holds a
 * one-line reason ("symbol 12 has length 9", "truncated: 40 of 73 bytes"). */
int tc_parse(tc_table *t, const uint8_t *in, size_t n, size_t *used, char *err, size_t errlen);

/* Number of symbols and one symbol's bytes (for tests, tools, stats). */
unsigned tc_nsym(const tc_table *t);
unsigned tc_symbol(const tc_table *t, unsigned code, char out[TC_SYM_MAX]);

/* ---- layout (private: use the functions above) ------------------------ */
#define TC_HASH_BITS 10
typedef struct tc_hent {
    uint64_t sym;  /* the slot's longest symbol of >= 3 bytes (see tcodec.c) */
    uint16_t lc;   /* its len << 8 | code */
    uint8_t shift; /* 64 - 8 * len: compare (w ^ sym) << shift == 0 */
    uint8_t next;  /* the slot's next code (255: none) */
    uint32_t pad;
} tc_hent;
struct tc_table {
    uint64_t sym[256];     /* symbol bytes, little-endian, zero-padded past len */
    uint8_t len[256];      /* 1..8 for codes < nsym, 0 otherwise (TC_ESC too) */
    uint32_t nsym;
    /* encoder index (tc_encode; see tcodec.c), rebuilt by tc_identity,
     * tc_train and tc_parse:
     *   ht      direct-mapped hash on the first 3 bytes of the symbols of
     *           >= 3 bytes; each slot holds its longest symbol inline, and
     *   next    chains the slot's other codes, longest first (255 ends);
     *   short2  best code of length <= 2 for the next 2 input bytes,
     *   short1  the same for the last input byte: len << 8 | code, the
     *           escape being 1 << 8 | TC_ESC. */
    uint8_t next[256];
    tc_hent ht[1u << TC_HASH_BITS];
    uint16_t short2[65536];
    uint16_t short1[256];
};

#endif
