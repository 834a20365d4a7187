/* changelog.h -- the change log on a Redis Stream (--changelog KEY): how qac
 * replicas agree on ADD / INCR / DEL / ACCEPT counts (issue 18).
 *
 * THE IDEA
 * --------
 * Every change a replica applies from a client is XADDed to the stream KEY
 * as the key's NEW state (the journal's idempotent record: SET key display
 * score, or DEL key). Every replica reads the stream (XREAD BLOCK) and
 * applies EVERY entry in stream order, its own included. The state of a key
 * on every replica is therefore the state of the key's last entry in the
 * stream: last writer in stream order wins, everywhere, so the replicas
 * converge once they have read the same prefix of the stream.
 *   Cost of that rule: two INCRs of one key on two replicas within the lag
 *   both read the same old score and both XADD old+1; one increment is lost
 *   (the fleet agrees on old+1). ACCEPT counts are popularity, so this is
 *   accepted; ADD/DEL are absolute anyway.
 *   An entry equal to the current state (one's own entry read back, mostly)
 *   changes nothing and is not journaled again ("unchanged"). One's own
 *   entries must be applied (skipping them would keep another replica's
 *   interleaved change here), so a key changed twice within the lag may
 *   briefly show its first state again on the replica that changed it.
 *
 * STREAM ENTRY (fields, text unless said; unknown fields are ignored)
 * -----------------------------------------------------------------
 *   op      "set" | "del" | "drop" (a named dictionary) | "model" (below)
 *   key     the normalized key, 1..TRIE_MAX_KEY bytes (applied only if it is
 *           its own normalization; in a dictionary F(s) 0xFF s, applied
 *           only if it is its own disp's: engine/dict.h); absent for drop
 *   disp    set: the display form, 1..TRIE_MAX_KEY bytes; absent for del
 *   score   set: a finite number ("%.17g": the double round-trips)
 *   origin  the replica id that made the change (--changelog-id), 1..64 bytes
 *   t       the origin's wall clock, microseconds, when it applied the change
 *           (the change lag is measured with it)
 *   dict    optional: a named dictionary, 1..CHG_MAX_DICT bytes; absent =
 *           the default index. Applied by eng_apply_dict_change (no
 *           max-dicts / dict-max-keys check: the origin's business, as at
 *           journal replay); a server without dictionaries skips and
 *           counts it (changelog_skipped). drop needs it.
 *   pay     optional, set in a dict only: the entry's payload, binary,
 *           1..CHG_MAX_PAY bytes (absent: none)
 * MODEL UPDATES (op "model"; fleet-shared learning, issue 18)
 *   mv      the model version, 16 lowercase hex digits (eng_rank_fleet_*)
 *   upd     the FTRL steps of one ACCEPT, binary, 1..CHG_MAX_UPD bytes
 *           (ranking/ftrl_delta.h; checked whole before anything applies)
 *   origin, t as above; no key, disp, score, dict or pay.
 * With a ranker holding a model, a replica learning from an ACCEPT queues
 * its steps here instead of applying them (engine/rank/ranker_fleet.c);
 * every replica applies every update of its own model version in stream
 * order, its own included, so replicas started from the same model file
 * that read the same stream hold bit-identical weights. Staleness: the
 * change log's lag. Updates of another version are skipped and counted
 * (changelog_model_foreign). The weights are checkpointed with the
 * position they include (INDEX.model, INDEX.model.0/.1) every
 * CHG_MODEL_CKPT_MS when they moved and at close; a restart reads the
 * stream from min(index position, model position): a key entry is applied
 * only past the index's, a model entry only past the model's. The trim
 * position published in KEY:positions is the lower of the two. Updates are
 * not kept in the outbox file: one lost with its process was applied
 * nowhere, so the fleet still agrees.
 *
 * A malformed entry (a field missing, repeated, out of range, a score that is
 * not a finite number, an odd field count, an id that is not MS-SEQ) is
 * logged with its id and reason, counted (changelog_bad_entries) and
 * skipped: the reader goes on with the next one.
 *
 * POSITIONS (nothing applied is lost, nothing is skipped)
 * -------------------------------------------------------
 * The applied position (the id of the last entry applied) becomes DURABLE
 * once the local journal is durable up to the record of that entry
 * (jrn_durable_lsn, per --fsync); only then is it written to JOURNAL.chgpos
 * (a one-line file, replaced by rename). A restart loads the snapshot and the
 * journals and resumes reading after max(JOURNAL.chgpos, INDEX.chgpos): both
 * are positions whose entries the loaded state already holds, and entries
 * read twice are harmless (records are absolute). INDEX.chgpos is written
 * when a background save succeeds: the position applied at the fork (all of
 * it is in the forked image). Copying INDEX and INDEX.chgpos to a new
 * machine starts a new replica from that snapshot plus the stream's tail.
 * Without either file the replica reads the stream from its start.
 *
 * Each replica publishes the position its snapshot holds in the hash
 * KEY:positions (field: replica id; "0-0" before its first save); every
 * CHG_TRIM_EVERY_MS a replica trims the stream with XTRIM MINID ~ (the
 * smallest position in the hash), and every XADD caps it with MAXLEN ~
 * changelog-maxlen. A retired replica's field pins the MINID trim: HDEL it.
 * If entries after a replica's position were trimmed before it read them
 * (XINFO STREAM max-deleted-entry-id > its position), it logs
 * changelog.trimmed_past, sets STATS changelog_trimmed_past 1 and goes on
 * from the oldest entry left: its index misses those changes until it is
 * restarted from a fresh copy of another replica's INDEX + INDEX.chgpos.
 *
 * SENDING: THE OUTBOX (what an acknowledgement means)
 * ----------------------------------------------------
 * A client's reply waits only for the local journal (--fsync), never for
 * Redis. The change is queued in the outbox at once and XADDed on the writer
 * connection in the same loop iteration (pipelined). An entry leaves the
 * outbox when Redis confirmed it: the XADD reply, or with
 * changelog-wait-replicas N > 0 a later `WAIT N` reply saying N Redis
 * replicas have it (so a failover of the Redis primary cannot lose it).
 * When the writer connection is lost, every unconfirmed entry is sent again
 * on the next connection (possibly a duplicate: harmless, it is the same
 * absolute state, though a duplicate can reorder it after another replica's
 * change of the same key in that window; the fleet still agrees). While
 * Redis is unreachable the outbox holds at most changelog-outbox-max
 * entries (unconfirmed ones: those in flight count, so a pipelined burst of
 * changes needs room too; the default has it). When it is full of entries the primary has but no Redis replica
 * confirmed (WAIT: the primary lost its replica, e.g. after a failover),
 * the oldest leave it unconfirmed (changelog_unreplicated, logged) rather
 * than new changes being refused. Otherwise, past that a change is still applied and journaled locally but
 * not sent (STATS changelog_outbox_overflow, log changelog.outbox_full):
 * other replicas miss it, and this replica keeps it only until the key is
 * changed by another replica. With a journal, the outbox is also on disk
 * (JOURNAL.outbox, engine/changelog_outbox.h): a change acknowledged and
 * still unconfirmed when this process dies (kill -9, a crash) is sent after
 * the restart. Not covered: an OS crash or power loss (that file is not
 * fsynced).
 *
 * Connections: two rcl clients (engine/rank/rclient.h) to the same --redis
 * target (Sentinel followed): the reader (XREAD BLOCK CHG_BLOCK_MS only) and
 * the writer (XADD, WAIT, HSET, XTRIM, XINFO). The loop never waits on
 * Redis. Errors: chg_new returns NULL with err set; everything later is
 * logged and counted, never fatal.
 */
#ifndef QAC_CHANGELOG_H
#define QAC_CHANGELOG_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "engine/store/journal.h"
#include "trie/trie.h"

#define CHG_MAX_ID 64                /* --changelog-id, bytes */
#define CHG_MAX_KEY 256              /* --changelog KEY, bytes */
#define CHG_MAX_DICT JRN_MAX_NAME    /* a dict field, bytes (dict-name-max's ceiling) */
#define CHG_MAX_PAY JRN_MAX_DATA     /* a pay field (a dictionary entry's payload), bytes */
#define CHG_MAX_UPD 65535            /* an upd field (model update), bytes */
#define CHG_MODEL_CKPT_MS 10000      /* the fleet's weights are checkpointed this often when they moved */
#define CHG_DEFAULT_OUTBOX_MAX 100000 /* changelog-outbox-max: unconfirmed changes held */
#define CHG_DEFAULT_MAXLEN 1000000   /* changelog-maxlen: entries the stream keeps at most (~) */
#define CHG_READ_BATCH 1000          /* entries per XREAD */
#define CHG_BLOCK_MS 1000            /* XREAD BLOCK */
#define CHG_MAX_INFLIGHT 2000        /* XADDs sent and not yet answered */
#define CHG_WAIT_MS 100              /* WAIT's timeout (it holds back the XADDs behind it) */
#define CHG_WAIT_RETRY_MS 1000       /* after a WAIT short of replicas, the next one this much later */
#define CHG_CRON_MS 100              /* checkpoint, flush, WAIT retry */
#define CHG_PUBLISH_EVERY_MS 1000    /* HSET KEY:positions */
#define CHG_TRIM_EVERY_MS 10000      /* XTRIM MINID */
#define CHG_LAG_SAMPLES 1024         /* lag percentiles over the last N entries of other replicas */
#define CHG_POS_MAX 48               /* "MS-SEQ" text with its NUL */

enum { CHG_OP_SET = 1, CHG_OP_DEL = 2, CHG_OP_MODEL = 3, CHG_OP_DROP = 4 };

/* --- stream ids ---------------------------------------------------------- */

typedef struct chg_id {
    uint64_t ms, seq;
} chg_id;

/* "MS-SEQ" (or "MS", seq 0) -> id. 0, or -1 when malformed. */
int chg_id_parse(const char *s, size_t len, chg_id *out);
/* Writes "MS-SEQ" into buf (CHG_POS_MAX bytes). */
void chg_id_format(chg_id id, char *buf, size_t cap);
int chg_id_cmp(chg_id a, chg_id b);

/* --- records -------------------------------------------------------------- */

typedef struct chg_rec {
    int op;
    const char *key, *disp, *origin, *dict; /* into the decoded fields; dict NULL = default */
    size_t klen, dlen, olen, dictlen;
    double score;
    uint64_t t_us;
    uint64_t mv;     /* model: the model version */
    const char *upd; /* model: the encoded steps (ranking/ftrl_delta.h) */
    size_t ulen;
    const char *pay; /* set in a dictionary: the entry's payload (NULL: none) */
    size_t plen;
} chg_rec;

/* The XADD arguments after "XADD KEY MAXLEN ~ N *": field/value pairs of r,
 * pointing into r and into num (CHG_NUM_BUF bytes, for score and t). Returns
 * the count (<= CHG_REC_MAX_ARGS), or -1 when r is not valid. */
#define CHG_REC_MAX_ARGS 16
#define CHG_NUM_BUF 96
int chg_rec_encode(const chg_rec *r, const char **argv, size_t *argvlen, char *num, size_t numcap);

/* Decodes an entry's flat field list (f[0] name, f[1] value, ...). Returns 0
 * with out pointing into the fields, or -1 with a static reason in *why. */
int chg_rec_decode(const char *const *f, const size_t *flen, size_t nf, chg_rec *out, const char **why);

/* --- the running change log ------------------------------------------------ */

struct eng;
struct eng_stats_snap;
typedef struct chg chg;

typedef struct chg_opts {
    const char *redis;      /* --redis target (HOST:PORT or sentinel://...) */
    const char *key;        /* the stream */
    const char *id;         /* this replica */
    const char *pos_path;   /* JOURNAL.chgpos; NULL without a journal */
    const char *snap_path;  /* INDEX.chgpos */
    const char *model_path; /* the fleet's model checkpoint (INDEX.model); NULL: none */
    const char *outbox_path; /* the outbox on disk (JOURNAL.outbox, changelog_outbox.h); NULL: none */
    uint64_t outbox_max, maxlen, wait_replicas;
} chg_opts;

/* Reads the saved positions and starts both connections on loop. Applies
 * entries through eng_apply_change (engine/cmd.h). NULL with err set. */
chg *chg_new(uv_loop_t *loop, struct eng *e, const chg_opts *o, char *err, size_t errlen);
/* Closes the connections and the timer (pending callbacks run, into nothing);
 * frees once closed. Writes the durable position a last time. */
void chg_close(chg *c);

/* A client's change was applied and journaled (cmd.c's change_done): queue
 * its new state for the stream. disp NULL: a deletion. */
void chg_local_change(chg *c, const char *key, size_t klen, const char *disp, size_t dlen, double score);

/* A client's change to a named dictionary was applied and journaled
 * (cmd_sug.c): op JRN_OP_DSET / DDEL / DDROP as journaled, the entry's new
 * state (DDROP: no key). */
void chg_local_dict(chg *c, int op, const char *name, size_t nlen, const char *key, size_t klen, const char *disp,
                    size_t dlen, const char *pay, size_t plen, double score);

/* The ranker learned from an ACCEPT (eng_rank_fleet_start's publish):
 * queue its steps for the stream. */
void chg_local_model(void *c, uint64_t version, const void *upd, size_t len);

/* A background save forked: the position its image holds is the applied one
 * now. chg_snapshot_saved(ok) writes it to INDEX.chgpos when the save
 * succeeded. */
void chg_snapshot_forked(chg *c);
void chg_snapshot_saved(chg *c, int ok);

/* Its STATS lines (changelog_*). */
void chg_stats(const chg *c, struct eng_stats_snap *snap);

/* Reads a position file ("MS-SEQ\n"). 0 and *id; -1 when absent or malformed. */
int chg_pos_read(const char *path, chg_id *id);
/* Writes it (PATH.tmp, then rename). 0, or -1 with errno. */
int chg_pos_write(const char *path, chg_id id);

#endif
