/* config.h -- settings of `qac serve`: defaults, flags, config file.
 *
 * One table (config.c) names every setting once; the same name is the long
 * flag (--max-clients 100 or --max-clients=100) and the config-file key
 * (`max-clients 100`, one per line, # comments, as redis.conf). The file is
 * read first, flags are applied after it, so flags win. An unknown name or a
 * value out of range is a usage error naming it. `qac serve --help` prints
 * the table (config_usage).
 *
 * Errors: config_* return 0, or -1 after writing a one-line reason into err.
 * Ownership: string settings are heap copies owned by the srv_config and
 * released by config_free.
 */
#ifndef QAC_CONFIG_H
#define QAC_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/guard.h"
#include "trie/trie_fuzzy.h"

#define SRV_DEFAULT_PORT 7700
#define SRV_DEFAULT_HTTP_PORT 7780
#define SRV_MAX_CLIENTS 10000           /* connections; one over gets ERR LIMIT and is closed */
#define SRV_OUTPUT_SOFT (1u << 20)      /* bytes of unsent replies: stop reading the client */
#define SRV_OUTPUT_HARD (16u << 20)     /* bytes of unsent replies: close the client */
#define SRV_IDLE_TIMEOUT 300            /* seconds without a request before closing; 0 = never */
#define SRV_MAX_K 100                   /* largest LIMIT / k */
#define SRV_MAX_DICTS 1000              /* named dictionaries (max-dicts) */
#define SRV_DICT_MAX_KEYS 1000000       /* entries per named dictionary (dict-max-keys) */
#define SRV_SUG_MAX_SCAN 10000          /* keys one FT.SUGGET may score (sug-max-scan) */
#define SRV_DICT_NAME_MAX 512           /* dictionary name bytes (dict-name-max) */
#define SRV_DICT_PAYLOAD_MAX 1024       /* FT.SUGADD PAYLOAD bytes (dict-payload-max) */
#define SRV_DEFAULT_K 10
#define SRV_MAX_ID_LEN 128              /* USER / SESSION ids, bytes */
#define SRV_SHUTDOWN_GRACE_MS 2000      /* SIGTERM: time given to flush replies */
#define SRV_DEFAULT_FSYNC "everysec"    /* journal fsync policy */
#define SRV_SAVE_CHANGES 0              /* automatic snapshot after N changes (0 = off) */
#define SRV_SAVE_SECONDS 0              /* ... or T seconds after the first unsaved change (0 = off) */
/* ranking (engine/rank/ranker.h): --redis-deadline-ms, --cache-bytes, --candidates, --ngram-bytes defaults
 * are ENG_RANK_DEFAULT_DEADLINE_MS, RANK_VECLRU_DEFAULT_BYTES, ENG_RANK_DEFAULT_CANDIDATES,
 * ENG_RANK_DEFAULT_NGRAM_BYTES */
#define SRV_DEFAULT_NAMESPACE "qac"
/* typo tolerance (COMPLETE ... FUZZY, trie/trie_fuzzy.h) */
#define SRV_FUZZY_AUTO 3                /* FUZZY AUTO: edits by the prefix's length */
#define SRV_DEFAULT_FUZZY "0"           /* FUZZY of a COMPLETE that does not say (0, 1, 2 or auto) */
#define SRV_FUZZY_AUTO_ONE TRIE_FUZZY_AUTO_ONE /* AUTO: 1 edit from this many code points ... */
#define SRV_FUZZY_AUTO_TWO TRIE_FUZZY_AUTO_TWO /* ... 2 edits from this many */
#define SRV_FUZZY_MAX_WORK TRIE_FUZZY_MAX_WORK /* work units of one FUZZY search (fuzzy-max-work) */
/* access control (docs/PROTOCOL.md "Access control") */
#define SRV_REQUIREPASS_MAX 512         /* bytes of requirepass; longer is a usage error */
#define SRV_REQUIREPASS_ENV "QAC_REQUIREPASS" /* read after the config file, before the flags */
#define SRV_AUTH_MAX_FAILURES 10        /* wrong AUTH / tokens on one connection before it is closed */

typedef struct srv_config {
    char *index;       /* -i: snapshot to load (required) */
    char *save;        /* SAVE target; NULL = the index file */
    char *bind;
    int port;          /* text/RESP */
    int http_port;     /* 0 = no HTTP */
    char *log_level;
    char *cors_origin; /* NULL = no CORS headers */
    uint64_t max_clients;
    uint64_t max_line, max_args, max_bulk;
    uint64_t output_soft, output_hard;
    uint64_t idle_timeout; /* seconds */
    uint64_t max_k;
    /* named dictionaries (engine/dict.h) */
    uint64_t max_dicts, dict_max_keys, dict_name_max, dict_payload_max, sug_max_scan;
    uint64_t http_max_header, http_max_url, http_max_body;
    /* durability (engine/store/journal.h, engine/store/bgsave.h) */
    char *journal;           /* --journal FILE: journals FILE.1, FILE.2, ...; NULL = none */
    char *fsync;             /* always | everysec | no */
    uint64_t journal_repair; /* 1: keep the valid prefix of a corrupt journal */
    uint64_t save_changes;   /* automatic snapshot after this many changes; 0 = off */
    uint64_t save_seconds;   /* automatic snapshot this long after the first unsaved change; 0 = off */
    /* ranking (engine/rank/ranker.h) */
    char *redis;                /* HOST:PORT; NULL = no Redis (in-process history) */
    char *ns;                   /* key namespace (--namespace) */
    char *model;                /* MODEL file (ranking/ftrl.h); NULL = heuristic */
    char *model_save;           /* where SAVE / shutdown write learned weights; NULL = the model file */
    char *embeddings;           /* EMB file (ranking/embed.h); NULL = none */
    uint64_t redis_deadline_ms; /* per-request deadline on Redis */
    uint64_t cache_bytes;       /* in-process vector cache bound */
    uint64_t candidates;        /* trie top N reranked */
    uint64_t gen_candidates;    /* generated completions per ranked request (ranking/gen.h; 0 = off) */
    uint64_t gen_suffixes;      /* suffixes in their index */
    uint64_t gen_words;         /* known words that index keeps (0: every word known) */
    uint64_t gen_copy_slice;    /* key ids their build copies per loop turn */
    uint64_t gen_copy_note_bytes; /* memory for changes noted during that copy */
    uint64_t ngram_bytes;       /* bound of the in-process n-gram table (0 = off) */
    /* the change log on a Redis Stream (engine/changelog.h) */
    char *changelog;                  /* stream key; NULL = off */
    char *changelog_id;               /* this replica's id; NULL = HOSTNAME:PORT */
    uint64_t changelog_outbox_max;    /* unconfirmed changes held while Redis is away */
    uint64_t changelog_maxlen;        /* XADD MAXLEN ~ */
    uint64_t changelog_wait_replicas; /* WAIT N before an entry leaves the outbox; 0 = the XADD reply */
    /* typo tolerance */
    char *fuzzy;                /* 0 | 1 | 2 | auto: FUZZY of a COMPLETE that does not say */
    int fuzzy_mode;             /* the same, parsed (0..2 or SRV_FUZZY_AUTO): what requests read */
    uint64_t fuzzy_auto_one, fuzzy_auto_two; /* AUTO's thresholds, code points */
    uint64_t fuzzy_first_any;   /* 1: an edit may touch the first character too */
    uint64_t infix_index;       /* 1: keep the word index for COMPLETE ... INFIX (engine/infix.h) */
    uint64_t fuzzy_max_work;    /* work units of one typo search (0: no limit); trie_fuzzy.h WORK LIMIT */
    uint64_t infix_max_scan;    /* work units of one INFIX search (trie_words_set_max_scan) */
    /* what ACCEPTs may change (engine/guard.h): accept-window, accept-user-rate, ... */
    guard_opts accept;
    /* access control */
    char *requirepass;          /* NULL or "" = off; else AUTH / Bearer token needed for changes, SAVE, STATS */
    uint64_t auth_max_failures; /* wrong passwords per connection before it is closed */
    int requirepass_from_flag;  /* given on the command line (visible in ps): serve warns */
} srv_config;

void config_defaults(srv_config *c);
/* "0", "1", "2" or "auto" (any case) -> 0..2 or SRV_FUZZY_AUTO; -1 for anything else. */
int config_fuzzy_parse(const char *s, size_t len);
void config_free(srv_config *c);
/* A password as requirepass takes it (at most SRV_REQUIREPASS_MAX bytes, no
 * spaces or control characters); -1 with "<what>: ..." in err. Also the
 * merger's own and its shards' passwords (engine/upstream_serve.c). */
int config_pass_check(const char *what, const char *value, char *err, size_t errlen);
/* Sets one setting by name ("max-clients") from text. */
int config_set(srv_config *c, const char *name, const char *value, char *err, size_t errlen);
/* Reads a config file. */
int config_load_file(srv_config *c, const char *path, char *err, size_t errlen);
/* Parses argv (argv[0] = "serve"): --config FILE first, then the
 * QAC_REQUIREPASS environment variable (when set), then every flag. The value
 * of a --requirepass flag is overwritten with 'x' in argv once copied, so
 * that ps shows it only for the first instants (serve still warns).
 * Sets *help when --help/-h was given. */
int config_parse_args(srv_config *c, int argc, char **argv, int *help, char *err, size_t errlen);
/* Cross-setting checks (soft <= hard, ports differ, index given...). */
int config_validate(const srv_config *c, char *err, size_t errlen);
/* Current value of a setting as text (CONFIG GET); returns 0 or -1 when unknown. */
int config_get(const srv_config *c, const char *name, char *buf, size_t buflen);
/* Calls fn(name) for every setting name, in table order. */
void config_names(void (*fn)(void *ud, const char *name), void *ud);
void config_usage(FILE *f);

#endif
