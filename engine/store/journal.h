/* journal.h -- the append-only change journal of `qac serve` (--journal FILE).
 *
 * WHAT
 * ----
 * Every change to the trie (ADD, INCR, DEL, ACCEPT's increment) and to a
 * named dictionary (FT.SUGADD, FT.SUGDEL, DEL / FLUSHALL of one: engine/dict.h)
 * is appended as one record before its reply leaves. At start the server loads the
 * snapshot, then replays the journal files in generation order. A background
 * snapshot (bgsave.h) starts a new generation at its fork; when the
 * snapshot is safely on disk the older generations are removed.
 *
 * FILES
 * -----
 * `--journal FILE` names a family: FILE.1, FILE.2, ... (one per generation;
 * generations only grow). All existing FILE.<N> are replayed in increasing N;
 * the server appends to the largest (creating FILE.1 when there is none).
 *
 * RECORDS ARE IDEMPOTENT
 * ----------------------
 * A record states the key's state AFTER the change (SET key display score),
 * never the delta: INCR and ACCEPT are journaled as the resulting score, as
 * Redis's AOF turns INCRBYFLOAT into SET. Replaying a record over a state that
 * already contains it changes nothing, so a generation replayed over a
 * snapshot that already includes it (crash between the snapshot's rename and
 * the removal of the old generation) is harmless. See bgsave.c.
 *
 * FORMAT (all integers little-endian)
 * -----------------------------------
 * File header, 32 bytes:
 *   offset size  field
 *        0    8  magic "QACJRNL\0"
 *        8    4  version (1)
 *       12    4  header size (32)
 *       16    8  generation N (equals the N of the file name FILE.N)
 *       24    4  reserved, 0
 *       28    4  CRC32C of bytes [0, 28)
 * Then records, back to back, from offset 32:
 *        0    4  payload length L (JRN_MIN_PAYLOAD..JRN_MAX_PAYLOAD, any op)
 *        4    4  CRC32C of the 4 length bytes followed by the L payload bytes
 *        8    L  payload:
 *                  0  1  op: 1 = SET, 2 = DEL
 *                  1  2  key length K (1..512)
 *                  3  2  display length D (SET: 1..512; DEL: 0)
 *                  5  8  score (IEEE-754 double, finite; DEL: 0)
 *                 13  K  key bytes (normalized), then D display bytes
 *                 L == 13 + K + D exactly
 *                or, for a named dictionary (engine/dict.h; ops 3..5, added
 *                without a version change: a journal without them reads as
 *                before; a qac older than them stops at the first one as at
 *                a corrupt record, never misreads it):
 *                  0  1  op: 3 = DSET, 4 = DDEL, 5 = DDROP (the dictionary)
 *                  1  2  key length K (DSET, DDEL: 1..512; DDROP: 0)
 *                  3  2  display length D (DSET: 1..512; else 0)
 *                  5  8  score (DSET: finite; else 0)
 *                 13  2  dictionary name length N (1..JRN_MAX_NAME)
 *                 15  2  payload length P (DSET: 0..JRN_MAX_DATA; else 0)
 *                 17  N  name bytes, K key bytes, D display bytes, P payload
 *                 L == 17 + N + K + D + P exactly
 *                DSET states the entry's whole state after the change
 *                (payload included), DDEL removes one key, DDROP the whole
 *                dictionary: all idempotent like SET and DEL. A dictionary
 *                comes into being with its first DSET.
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78, init and final xor
 * ~0) is jrn_crc32c(); check value: crc32c("123456789") = 0xE3069283.
 *
 * DAMAGE
 * ------
 * Reading stops at the first record that is not sound (short header, length
 * out of range, payload past the end of the file, CRC mismatch, bad fields):
 *   - torn tail: the bad record reaches the end of the file: EOF cuts its
 *     header or its payload short (with a length field in range), or it
 *     ends exactly at EOF (a CRC or field mismatch in the last record), or
 *     everything from it to EOF is zero bytes. A length field out of range
 *     is corrupt even near EOF unless only zeros follow: an interrupted
 *     append leaves a prefix of the bytes it meant to write, never a wrong
 *     length. The file is truncated at the record's offset, with a warning.
 *   - corrupt middle: anything else (sound-looking bytes follow the damage).
 *     Recovery stops with an error naming the file and the byte offset,
 *     unless repair is asked for: then the file is truncated there, and the
 *     message says how many bytes (and how many intact-looking records found
 *     by scanning them) were dropped.
 * A file shorter than its header is treated as a torn tail (rewritten).
 *
 * WRITER
 * ------
 * jrn_add_* encode a record into an in-memory batch (space is reserved first
 * with jrn_reserve, so that appending after the trie changed cannot fail),
 * and return its LSN (1, 2, ... per process run). jrn_write() writes the whole
 * batch with one pwrite at the known good end of the file; a failed or short
 * write truncates the file back to that end, keeps the batch, and puts the
 * journal in the error state (jrn_error() != 0) until a later jrn_write
 * succeeds. Syncing (fdatasync) is the caller's business, typically on a
 * thread: jrn_fd() gives the descriptor, jrn_written_lsn() what it covers.
 *
 * Errors: functions return 0 or -1 (errno-style reason in err / jrn_error).
 * Ownership: a jrn owns its file descriptors and its batch buffer.
 * Not thread-safe: one thread (the loop) calls everything; only fdatasync of
 * jrn_fd() may run elsewhere, and the fd is not closed while it does (the
 * caller closes rotated-out fds itself, after their last sync).
 */
#ifndef QAC_JOURNAL_H
#define QAC_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "trie/trie.h"

#define JRN_MAGIC "QACJRNL\0"
#define JRN_VERSION 1
#define JRN_HEADER_SIZE 32
#define JRN_REC_HEADER 8
#define JRN_PAYLOAD_FIXED 13
#define JRN_MIN_PAYLOAD (JRN_PAYLOAD_FIXED + 1)
#define JRN_MAX_SET_PAYLOAD (JRN_PAYLOAD_FIXED + 2 * TRIE_MAX_KEY) /* ops 1, 2 */
#define JRN_DICT_FIXED 17
#define JRN_MAX_NAME 1024 /* a dictionary name, bytes (ceiling of dict-name-max) */
#define JRN_MAX_DATA 4096 /* a DSET payload, bytes (ceiling of dict-payload-max) */
#define JRN_MAX_PAYLOAD (JRN_DICT_FIXED + JRN_MAX_NAME + 2 * TRIE_MAX_KEY + JRN_MAX_DATA)
#define JRN_MAX_RECORD (JRN_REC_HEADER + JRN_MAX_PAYLOAD)
#define JRN_PATH_MAX 4096

enum { JRN_OP_SET = 1, JRN_OP_DEL = 2, JRN_OP_DSET = 3, JRN_OP_DDEL = 4, JRN_OP_DDROP = 5 };

/* fsync policies (--fsync) */
enum { JRN_FSYNC_NO = 0, JRN_FSYNC_EVERYSEC = 1, JRN_FSYNC_ALWAYS = 2 };
/* "no" / "everysec" / "always" -> policy, or -1. */
int jrn_policy_parse(const char *s);
const char *jrn_policy_name(int policy);

uint32_t jrn_crc32c(uint32_t crc, const void *buf, size_t len);
/* The same value by the bytewise table, whatever the CPU (for tests). */
uint32_t jrn_crc32c_portable(uint32_t crc, const void *buf, size_t len);

/* --- pure encoding / scanning ------------------------------------------ */

/* Appends one record. SET needs a display (1..512 bytes) and a finite score.
 * Returns 0, or -1 on bad arguments or allocation failure (out unchanged). */
int jrn_encode(qbuf *out, int op, const char *key, size_t klen, const char *disp, size_t dlen, double score);
/* Appends one dictionary record (op DSET, DDEL or DDROP; fields as in FORMAT;
 * what an op does not carry is ignored). Returns 0 or -1 as jrn_encode. */
int jrn_encode_dict(qbuf *out, int op, const char *name, size_t nlen, const char *key, size_t klen,
                    const char *disp, size_t dlen, const char *data, size_t plen, double score);
/* Appends a file header for generation gen. */
int jrn_encode_header(qbuf *out, uint64_t gen);

typedef struct jrn_rec {
    int op;
    const char *key, *disp; /* into the scanned buffer */
    size_t klen, dlen;
    double score;
    const char *name, *data; /* ops 3..5: the dictionary, DSET's payload (NULL when P is 0) */
    size_t nlen, plen;
} jrn_rec;

enum { JRN_SCAN_OK = 0, JRN_SCAN_TORN = 1, JRN_SCAN_CORRUPT = 2 };

typedef struct jrn_scan_result {
    int status;          /* JRN_SCAN_* */
    uint64_t records;    /* sound records before the stop */
    uint64_t good_end;   /* offset just past the last sound record */
    uint64_t salvage;    /* CORRUPT: intact-looking records found in [good_end, len) by scanning */
    const char *reason;  /* TORN / CORRUPT: what was wrong at good_end (static) */
} jrn_scan_result;

/* Walks the records of buf[from, len) (from: where records start, normally
 * JRN_HEADER_SIZE) calling fn for each sound one; fn returning non-zero
 * stops the scan with that value returned (status OK, good_end at the
 * record). Returns 0. Never reads outside buf. */
int jrn_scan(const char *buf, size_t len, size_t from, int (*fn)(void *ud, const jrn_rec *r), void *ud,
             jrn_scan_result *res);

/* Checks a file header; returns 0 and the generation, or -1 and a reason. */
int jrn_check_header(const char *buf, size_t len, uint64_t *gen, const char **reason);

/* --- recovery ------------------------------------------------------------ */

typedef struct jrn_recovery {
    uint64_t files;         /* generations replayed */
    uint64_t records;       /* records applied */
    uint64_t bytes;         /* record bytes applied */
    uint64_t torn_cut;      /* bytes cut off torn tails */
    uint64_t dropped_bytes; /* repair: bytes dropped after corruption */
    uint64_t dropped_records; /* repair: intact-looking records among them */
    uint64_t last_gen;      /* largest generation found (0: none) */
} jrn_recovery;

/* Replays every FILE.<N> of `base` into t, in generation order. Torn tails
 * are truncated (logged as warnings); a corrupt record fails with a message
 * naming the file and offset unless repair != 0 (then it is truncated and
 * logged). Dictionary records (ops 3..5) go to dict_fn (a TRIE_* code back:
 * < 0 stops the replay with that error); without dict_fn they are skipped.
 * Returns 0, or -1 with err set. */
int jrn_recover(const char *base, trie *t, int repair, jrn_recovery *rec, char *err, size_t errlen);
int jrn_recover_dicts(const char *base, trie *t, int (*dict_fn)(void *ud, const jrn_rec *r), void *ud, int repair,
                      jrn_recovery *rec, char *err, size_t errlen);
/* The same, with key records (SET / DEL) applied by key_fn(key_ud, t, r)
 * instead of trie_set / trie_del (a TRIE_* code back, TRIE_ENOTFOUND
 * ignored as for trie_del): what keeps an index over t (the word index,
 * loaded with the snapshot: engine/infix.h) following the replay. */
int jrn_recover_keys(const char *base, trie *t, int (*dict_fn)(void *ud, const jrn_rec *r), void *ud,
                     int (*key_fn)(void *ud, trie *t, const jrn_rec *r), void *key_ud, int repair, jrn_recovery *rec,
                     char *err, size_t errlen);

/* Lists the generations of base in increasing order. *gens is malloc'ed
 * (qfree it); returns the count or -1 (err set). */
int jrn_list(const char *base, uint64_t **gens, char *err, size_t errlen);

/* FILE.N into buf. */
void jrn_path(char *buf, size_t cap, const char *base, uint64_t gen);

/* --- writer ----------------------------------------------------------------- */

typedef struct jrn jrn;

/* Opens FILE.gen for appending (creating it, with its header, when absent or
 * shorter than a header; an existing file is appended to at its end). Unless
 * policy is JRN_FSYNC_NO, a new file and its directory are fsynced. */
jrn *jrn_open(const char *base, uint64_t gen, int policy, char *err, size_t errlen);
/* Closes the current fd (without syncing) and frees. NULL is fine. */
void jrn_close(jrn *j);

/* Makes room for one more record (call before changing the trie). -1: no memory. */
int jrn_reserve(jrn *j);
/* Encodes into the batch (after jrn_reserve this cannot fail) and returns the
 * record's LSN, or 0 on bad arguments / no memory. */
uint64_t jrn_add_set(jrn *j, const char *key, size_t klen, const char *disp, size_t dlen, double score);
uint64_t jrn_add_del(jrn *j, const char *key, size_t klen);
/* A dictionary record (jrn_encode_dict's arguments); LSN or 0. */
uint64_t jrn_add_dict(jrn *j, int op, const char *name, size_t nlen, const char *key, size_t klen, const char *disp,
                      size_t dlen, const char *data, size_t plen, double score);

/* Writes the batch (one pwrite). 0 ok (or nothing to write), -1 error state
 * (errno in jrn_error). Clears the error state on success. */
int jrn_write(jrn *j);

/* Starts generation gen+1: writes the current batch to the current file
 * first (if that fails the batch stays and goes to the new file), then
 * opens the new file. The old
 * descriptor is handed back in *old_fd: the caller syncs and closes it.
 * On failure to create the new file: -1, still on the old file. */
int jrn_rotate(jrn *j, int *old_fd, char *err, size_t errlen);

/* Records the outcome of an fdatasync of the fd covering LSNs <= lsn. */
void jrn_synced(jrn *j, uint64_t lsn, int err);

int jrn_fd(const jrn *j);
int jrn_policy(const jrn *j);
uint64_t jrn_gen(const jrn *j);
int jrn_error(const jrn *j);          /* 0, or the errno of the failing write / sync */
const char *jrn_error_op(const jrn *j); /* "write" or "fsync" */
uint64_t jrn_last_lsn(const jrn *j);  /* LSN of the newest record added */
uint64_t jrn_written_lsn(const jrn *j);
uint64_t jrn_synced_lsn(const jrn *j);
/* LSN up to which changes may be acknowledged: synced (always) or written. */
uint64_t jrn_durable_lsn(const jrn *j);
uint64_t jrn_size(const jrn *j);      /* bytes of the current file on disk */
uint64_t jrn_pending(const jrn *j);   /* bytes in the batch */
uint64_t jrn_write_errors(const jrn *j);
uint64_t jrn_sync_errors(const jrn *j);
uint64_t jrn_writes(const jrn *j);
uint64_t jrn_syncs(const jrn *j);

/* Removes FILE.N for every N < gen (after a snapshot covering them). Returns
 * the number removed. */
int jrn_remove_before(const char *base, uint64_t gen);

#endif
