/* changelog_outbox.h -- the change log's outbox on disk (JOURNAL.outbox), so
 * that a change acknowledged and not yet confirmed by Redis when the qac
 * process dies (kill -9, a crash) is sent after the restart (issue 18).
 *
 * WHAT IS KEPT
 * ------------
 * Every local change queued for the stream (chg_local_change: the key's new
 * state, of the default index or a named dictionary) is appended with
 * write(2) before the client's reply can leave; every CHG_CRON_MS the
 * sequence number up to which Redis confirmed is appended. At start the
 * entries past the last confirmation are read back (in order), queued again
 * and sent; the file is then rewritten with just them (tmp + rename).
 * Model updates are not kept: one lost before any replica applied it
 * (its origin included) leaves the fleet in agreement.
 * The file is emptied whenever the outbox is, and rewritten with the
 * unconfirmed entries when it passes CHG_OUTBOX_FILE_COMPACT bytes.
 *
 * What it covers: the process dying. The file is not fsynced (that would
 * block the loop): an OS crash or power loss can lose its tail even where
 * --fsync always kept the journal's.
 *
 * FORMAT: records back to back, each
 *   u32 payload length L, u32 CRC32C (jrn_crc32c) of the 4 length bytes and
 *   the payload, then the payload:
 *     'E' u64 seq, u8 op, u64 t_us, f64 score, u16 klen, u16 dlen, u16 nlen,
 *         u16 plen, then key, display, dictionary name, dictionary payload
 *     'C' u64 seq: every entry up to seq was confirmed
 * (integers little-endian). Reading stops at the first record that is not
 * sound (a torn tail of a killed process), keeping what came before. An
 * entry that is not a change the sender can encode (another op, a length
 * out of range: never written) is skipped, not replayed.
 */
#ifndef QAC_CHANGELOG_OUTBOX_H
#define QAC_CHANGELOG_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#define CHG_OUTBOX_FILE_COMPACT (16u << 20) /* bytes past which the file is rewritten */

typedef struct chg_obf chg_obf;

typedef struct chg_obf_ent {
    uint64_t seq, t_us;
    double score;
    int op;
    const char *key, *disp, *name, *pay;
    uint16_t klen, dlen, nlen, plen;
} chg_obf_ent;

/* Reads path (absent: nothing) and calls each for every unconfirmed entry in
 * order, renumbered 1, 2, ... (the seqs a fresh outbox gives them); rewrites
 * the file with just them and opens it for appending. NULL with err. */
chg_obf *chg_obf_open(const char *path, int (*each)(void *ud, const chg_obf_ent *e), void *ud, uint64_t *count,
                      char *err, size_t errlen);
/* Appends an entry / a confirmation. 0 or -1 (errno). */
int chg_obf_append(chg_obf *f, const chg_obf_ent *e);
int chg_obf_confirm(chg_obf *f, uint64_t seq);
/* Nothing is unconfirmed: the file is emptied. */
int chg_obf_empty(chg_obf *f);
uint64_t chg_obf_bytes(const chg_obf *f);
/* Rewrites the file with the entries next() returns (NULL: the end). */
int chg_obf_rewrite(chg_obf *f, const chg_obf_ent *(*next)(void *ud), void *ud);
void chg_obf_close(chg_obf *f);

#endif
