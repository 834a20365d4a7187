/* config.c -- the settings table of `qac serve` (see config.h).
 *
 * Each row: name, kind (string / port / unsigned number), where it lives in
 * srv_config, its range, and a help line. Numbers accept a k/m suffix for
 * byte sizes (4k = 4096, 16m = 16 MiB).
 */
#include "engine/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/util.h"
#include "trie/trie_words.h"
#include "engine/proto/http.h"
#include "engine/changelog.h"
#include "engine/store/journal.h"
#include "engine/proto/proto.h"
#include "engine/rank/ranker.h"
#include "engine/rank/rclient.h"
#include "ranking/gen.h"
#include "ranking/veclru.h"
#include "ranking/history_redis.h"

enum { K_STR, K_PORT, K_U64, K_BOOL };

typedef struct setting {
    const char *name;
    int kind;
    size_t off;
    uint64_t min, max;
    const char *help;
} setting;

#define OFF(f) offsetof(srv_config, f)
static const setting table[] = {
    {"index", K_STR, OFF(index), 0, 0, "snapshot to serve (-i; required)"},
    {"save", K_STR, OFF(save), 0, 0, "file SAVE writes (default: the index file)"},
    {"bind", K_STR, OFF(bind), 0, 0, "address to listen on (default 127.0.0.1)"},
    {"port", K_PORT, OFF(port), 0, 65535, "text/RESP port (default 7700; 0 = any free port)"},
    {"http-port", K_PORT, OFF(http_port), 0, 65535, "HTTP port (default 7780; 0 disables HTTP)"},
    {"log-level", K_STR, OFF(log_level), 0, 0, "debug, info, warn, error or off (default info)"},
    {"cors-origin", K_STR, OFF(cors_origin), 0, 0, "Access-Control-Allow-Origin value (default none)"},
    {"max-clients", K_U64, OFF(max_clients), 1, 1000000, "connections at once (default 10000)"},
    {"max-line", K_U64, OFF(max_line), 16, 1 << 20, "text request line, bytes (default 4096)"},
    {"max-args", K_U64, OFF(max_args), 2, PROTO_ARGS_CAP, "arguments in one RESP request (default 32)"},
    {"max-bulk", K_U64, OFF(max_bulk), 16, 1 << 20, "one RESP bulk string, bytes (default 4096)"},
    {"output-soft-limit", K_U64, OFF(output_soft), 1024, 1ull << 32,
     "unsent reply bytes at which a client is no longer read (default 1m)"},
    {"output-hard-limit", K_U64, OFF(output_hard), 1024, 1ull << 34,
     "unsent reply bytes at which a client is closed (default 16m)"},
    {"idle-timeout", K_U64, OFF(idle_timeout), 0, 86400 * 365, "seconds before an idle client is closed (default 300; 0 = never)"},
    {"max-k", K_U64, OFF(max_k), 1, SRV_MAX_K, "largest LIMIT / k (default and ceiling 100)"},
    {"http-max-header", K_U64, OFF(http_max_header), 256, HTTP_MAX_HEADER_BYTES_CAP,
     "HTTP request head, bytes (default 8192; over it 431)"},
    {"http-max-url", K_U64, OFF(http_max_url), 64, HTTP_MAX_URL_BYTES_CAP,
     "HTTP request target, bytes (default 4096; over it 414)"},
    {"http-max-body", K_U64, OFF(http_max_body), 64, HTTP_MAX_BODY_BYTES_CAP,
     "HTTP body, bytes (default 65536; over it 413)"},
    {"journal", K_STR, OFF(journal), 0, 0, "append every change to FILE.1, FILE.2, ... and replay them at start"},
    {"fsync", K_STR, OFF(fsync), 0, 0, "journal fsync: always, everysec (default) or no"},
    {"journal-repair", K_BOOL, OFF(journal_repair), 0, 1,
     "start even if a journal is corrupt in the middle, keeping what precedes the damage"},
    {"save-changes", K_U64, OFF(save_changes), 0, UINT64_MAX / 2, "background snapshot after N changes (default 0: off)"},
    {"save-seconds", K_U64, OFF(save_seconds), 0, 86400 * 365,
     "background snapshot T seconds after the first unsaved change (default 0: off)"},
    {"redis", K_STR, OFF(redis), 0, 0,
     "HOST:PORT of Redis for embeddings and history, or sentinel://HOST:PORT[,...]/MASTER to follow the master "
     "Sentinel names (default none: in-process)"},
    {"namespace", K_STR, OFF(ns), 0, 0, "Redis key prefix (default qac; as `qac load --namespace`)"},
    {"model", K_STR, OFF(model), 0, 0, "learned model file (`qac train`); default none: heuristic ranking"},
    {"model-save", K_STR, OFF(model_save), 0, 0, "where SAVE and shutdown write online-learned weights (default: --model)"},
    {"embeddings", K_STR, OFF(embeddings), 0, 0, "EMB file (`qac embed`) for vectors without Redis"},
    {"redis-deadline-ms", K_U64, OFF(redis_deadline_ms), 1, ENG_RANK_MAX_DEADLINE_MS,
     "deadline of a COMPLETE waiting on Redis, ms (default 2); then answered degraded"},
    {"cache-bytes", K_U64, OFF(cache_bytes), RANK_VECLRU_MIN_BYTES, 1ull << 40,
     "in-process embedding cache, bytes (default 64m)"},
    {"candidates", K_U64, OFF(candidates), 1, TRIE_MAX_K, "trie top N the ranker reorders (default 50)"},
    {"gen-candidates", K_U64, OFF(gen_candidates), 0, RANK_MAX_GEN_CANDS,
     "generated completions (a frequent query suffix after the prefix's first words) the ranker adds "
     "per request (default 5; 0 = off; up to 32)"},
    {"gen-suffixes", K_U64, OFF(gen_suffixes), 1, RANK_GEN_MAX_SUFFIXES,
     "suffixes in the index of generated completions, built at start and RELOAD (default 100000)"},
    {"gen-words", K_U64, OFF(gen_words), 0, RANK_GEN_MAX_WORDS,
     "known words that index keeps: a generated completion that keeps another word ranks after every "
     "typo and infix match (default 1000000; 0 = every word counts as known; past it the rarest words "
     "are dropped and count as unknown)"},
    {"gen-copy-slice", K_U64, OFF(gen_copy_slice), 1, RANK_GEN_MAX_COPY_SLICE,
     "key ids that index's build copies per event-loop turn; the longest pause it puts in serving "
     "(default 1024)"},
    {"gen-copy-note-bytes", K_U64, OFF(gen_copy_note_bytes), RANK_GEN_MIN_COPY_NOTE_BYTES, RANK_GEN_MAX_COPY_NOTE_BYTES,
     "memory for the changes noted while that copy runs; past it the copy is dropped and the index "
     "waits for the next RELOAD (default 64m)"},
    {"ngram-bytes", K_U64, OFF(ngram_bytes), 0, ENG_RANK_MAX_NGRAM_BYTES,
     "with --redis: n-gram table held in process to compose vectors of unseen text, at most this many "
     "bytes (default 64m; 0 = off)"},
    {"changelog", K_STR, OFF(changelog), 0, 0,
     "with --redis: send every change to this Redis Stream and apply every replica's changes from it, so "
     "replicas agree; with --model, what the ranker learns too (default none: changes stay on this replica)"},
    {"changelog-id", K_STR, OFF(changelog_id), 0, 0,
     "this replica's name in the change log, 1..64 bytes, stable across restarts (default HOSTNAME:PORT)"},
    {"changelog-outbox-max", K_U64, OFF(changelog_outbox_max), 1, 100000000,
     "changes held for the stream while Redis has not confirmed them (default 100000); past it a change "
     "stays on this replica only"},
    {"changelog-maxlen", K_U64, OFF(changelog_maxlen), 1000, 1ull << 40,
     "entries the stream keeps at most (XADD MAXLEN ~; default 1000000)"},
    {"changelog-wait-replicas", K_U64, OFF(changelog_wait_replicas), 0, 16,
     "an entry leaves the outbox once this many Redis replicas have it (WAIT; default 0: once the primary has "
     "it)"},
    {"fuzzy", K_STR, OFF(fuzzy), 0, 0,
     "typo tolerance of a COMPLETE without FUZZY: 0 (default: exact), 1, 2 or auto (edits by length)"},
    {"fuzzy-auto-one", K_U64, OFF(fuzzy_auto_one), 1, TRIE_MAX_KEY,
     "FUZZY AUTO allows 1 edit from this many code points of prefix (default 4)"},
    {"fuzzy-auto-two", K_U64, OFF(fuzzy_auto_two), 1, TRIE_MAX_KEY,
     "FUZZY AUTO allows 2 edits from this many code points (default 8; >= fuzzy-auto-one)"},
    {"fuzzy-first-any", K_BOOL, OFF(fuzzy_first_any), 0, 1,
     "an edit may change the first character too (default no: it must be typed right, as Lucene's default)"},
    {"infix-index", K_BOOL, OFF(infix_index), 0, 1,
     "keep the word index that COMPLETE ... INFIX needs (default yes; --infix-index=no saves its memory, "
     "STATS infix_index_bytes, and INFIX is refused)"},
    {"infix-max-scan", K_U64, OFF(infix_max_scan), TRIE_WORDS_SCAN_MIN, TRIE_WORDS_SCAN_MAX,
     "work units (postings examined, list steps, dictionary words) one INFIX search may spend (default "
     "20000, a few ms at most; 1000..100000000); past it the answer is the best found, in order, and says so"},
    {"fuzzy-max-work", K_U64, OFF(fuzzy_max_work), 0, UINT64_MAX / 2,
     "work units (children looked at, DP steps, key decodes) one typo search may spend (default 20000, "
     "a few ms; 0 = no limit); past it the answer is cut and says so"},
    {"accept-window", K_U64, OFF(accept.window_s), 1, 86400 * 365,
     "seconds in which one user (or address) raises a query's popularity once (default 86400)"},
    {"accept-user-rate", K_U64, OFF(accept.user_rate), 0, 1000000,
     "ACCEPTs per second one user (or address without USER) may send, sustained (default 2; 0 = no limit)"},
    {"accept-user-burst", K_U64, OFF(accept.user_burst), 1, 1000000,
     "ACCEPTs one user may send at once above that rate (default 20)"},
    {"accept-conn-rate", K_U64, OFF(accept.conn_rate), 0, 100000000,
     "ACCEPTs per second on one connection, all users together (default 500; 0 = no limit)"},
    {"accept-conn-burst", K_U64, OFF(accept.conn_burst), 1, 100000000,
     "ACCEPTs one connection may send at once above that rate (default 2000)"},
    {"accept-learn-max", K_U64, OFF(accept.learn_max), 0, 1000000,
     "online model updates per user per accept-window (default 50; 0 = no online learning)"},
    {"accept-learn-users", K_U64, OFF(accept.learn_users), 1, 1000000,
     "distinct users who must accept a query in the window before it teaches the model (default 3)"},
    {"accept-pairs", K_U64, OFF(accept.pairs), 1, GUARD_MAX_PAIRS,
     "(user, query) pairs remembered per window, 40 bytes each (default 262144; more rotate the window early)"},
    {"accept-actors", K_U64, OFF(accept.actors), 1, GUARD_MAX_ACTORS,
     "users and addresses whose ACCEPT rate is tracked at once, ~48 bytes each (default 65536)"},
    {"requirepass", K_STR, OFF(requirepass), 0, 0,
     "password for changes, SAVE, RELOAD, STATS, CONFIG (AUTH; HTTP Bearer token); default none. "
     "Prefer the config file or $QAC_REQUIREPASS: ps shows flags"},
    {"max-dicts", K_U64, OFF(max_dicts), 0, 1000000,
     "named dictionaries at once (FT.SUGADD keys; default 1000; 0 = none); past it ERR LIMIT"},
    {"dict-max-keys", K_U64, OFF(dict_max_keys), 1, 1ull << 31,
     "entries in one named dictionary (default 1000000); past it ERR LIMIT"},
    {"dict-name-max", K_U64, OFF(dict_name_max), 1, JRN_MAX_NAME,
     "bytes of a dictionary name (default 512, ceiling 1024); past it ERR TOOLONG"},
    {"dict-payload-max", K_U64, OFF(dict_payload_max), 0, JRN_MAX_DATA,
     "bytes of an FT.SUGADD PAYLOAD (default 1024, ceiling 4096); past it ERR TOOLONG"},
    {"sug-max-scan", K_U64, OFF(sug_max_scan), 1, 1ull << 32,
     "keys one FT.SUGGET may score when its best cannot be proved from the most popular matches (default "
     "10000); past it the best of those scored, STATS sug_truncated"},
    {"auth-max-failures", K_U64, OFF(auth_max_failures), 1, 1000000,
     "wrong passwords on one connection before it is closed (default 10)"},
};

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = qmalloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static void set_str(char **slot, const char *v) {
    char *p = xstrdup(v);
    if (!p) {
        LOG_E("config.failed", "error=out_of_memory");
        exit(1);
    }
    qfree(*slot);
    *slot = p;
}

void config_defaults(srv_config *c) {
    memset(c, 0, sizeof *c);
    set_str(&c->bind, "127.0.0.1");
    set_str(&c->log_level, "info");
    c->port = SRV_DEFAULT_PORT;
    c->http_port = SRV_DEFAULT_HTTP_PORT;
    c->max_clients = SRV_MAX_CLIENTS;
    c->max_line = PROTO_MAX_LINE;
    c->max_args = PROTO_MAX_ARGS;
    c->max_bulk = PROTO_MAX_BULK;
    c->output_soft = SRV_OUTPUT_SOFT;
    c->output_hard = SRV_OUTPUT_HARD;
    c->idle_timeout = SRV_IDLE_TIMEOUT;
    c->max_k = SRV_MAX_K;
    c->max_dicts = SRV_MAX_DICTS;
    c->dict_max_keys = SRV_DICT_MAX_KEYS;
    c->sug_max_scan = SRV_SUG_MAX_SCAN;
    c->dict_name_max = SRV_DICT_NAME_MAX;
    c->dict_payload_max = SRV_DICT_PAYLOAD_MAX;
    c->http_max_header = HTTP_DEFAULT_MAX_HEADER_BYTES;
    c->http_max_url = HTTP_DEFAULT_MAX_URL_BYTES;
    c->http_max_body = HTTP_DEFAULT_MAX_BODY_BYTES;
    set_str(&c->fsync, SRV_DEFAULT_FSYNC);
    c->save_changes = SRV_SAVE_CHANGES;
    c->save_seconds = SRV_SAVE_SECONDS;
    set_str(&c->ns, SRV_DEFAULT_NAMESPACE);
    c->changelog_outbox_max = CHG_DEFAULT_OUTBOX_MAX;
    c->changelog_maxlen = CHG_DEFAULT_MAXLEN;
    c->redis_deadline_ms = ENG_RANK_DEFAULT_DEADLINE_MS;
    c->cache_bytes = RANK_VECLRU_DEFAULT_BYTES;
    c->candidates = ENG_RANK_DEFAULT_CANDIDATES;
    c->gen_candidates = RANK_GEN_DEFAULT_CANDS;
    c->gen_suffixes = RANK_GEN_DEFAULT_SUFFIXES;
    c->gen_words = RANK_GEN_DEFAULT_WORDS;
    c->gen_copy_slice = RANK_GEN_DEFAULT_COPY_SLICE;
    c->gen_copy_note_bytes = RANK_GEN_DEFAULT_COPY_NOTE_BYTES;
    c->ngram_bytes = ENG_RANK_DEFAULT_NGRAM_BYTES;
    c->auth_max_failures = SRV_AUTH_MAX_FAILURES;
    set_str(&c->fuzzy, SRV_DEFAULT_FUZZY);
    c->fuzzy_mode = config_fuzzy_parse(SRV_DEFAULT_FUZZY, strlen(SRV_DEFAULT_FUZZY));
    c->fuzzy_auto_one = SRV_FUZZY_AUTO_ONE;
    c->fuzzy_auto_two = SRV_FUZZY_AUTO_TWO;
    c->infix_index = 1;
    c->fuzzy_max_work = SRV_FUZZY_MAX_WORK;
    c->infix_max_scan = TRIE_WORDS_MAX_SCAN;
    guard_opts_default(&c->accept);
}

void config_free(srv_config *c) {
    for (size_t i = 0; i < ARRAY_LEN(table); i++)
        if (table[i].kind == K_STR) {
            char **slot = (char **)((char *)c + table[i].off);
            qfree(*slot);
            *slot = NULL;
        }
}

static void errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int config_fuzzy_parse(const char *s, size_t len) {
    if (len == 1 && s[0] >= '0' && s[0] <= '2') return s[0] - '0';
    if (len == 4 && !strncasecmp(s, "auto", 4)) return SRV_FUZZY_AUTO;
    return -1;
}

static const setting *find(const char *name) {
    for (size_t i = 0; i < ARRAY_LEN(table); i++)
        if (!strcmp(table[i].name, name)) return &table[i];
    return NULL;
}

static int parse_size(const char *v, uint64_t *out) {
    size_t n = strlen(v);
    uint64_t mul = 1;
    if (n > 1 && (v[n - 1] == 'k' || v[n - 1] == 'K')) mul = 1024, n--;
    else if (n > 1 && (v[n - 1] == 'm' || v[n - 1] == 'M')) mul = 1024 * 1024, n--;
    uint64_t x;
    if (qparse_u64(v, n, &x) < 0 || x > UINT64_MAX / mul) return -1;
    *out = x * mul;
    return 0;
}

int config_pass_check(const char *what, const char *value, char *err, size_t errlen) {
    size_t n = strlen(value);
    if (n > SRV_REQUIREPASS_MAX) {
        errf(err, errlen, "%s: over %d bytes", what, SRV_REQUIREPASS_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)value[i] <= 0x20 || value[i] == 0x7f) {
            errf(err, errlen, "%s: spaces and control characters are not allowed", what);
            return -1;
        }
    return 0;
}

int config_set(srv_config *c, const char *name, const char *value, char *err, size_t errlen) {
    const setting *s = find(name);
    if (!s) {
        errf(err, errlen, "unknown setting '%s'", name);
        return -1;
    }
    void *slot = (char *)c + s->off;
    if (s->kind == K_STR) {
        if (!strcmp(s->name, "log-level") && log_level_parse(value) < 0) {
            errf(err, errlen, "log-level: '%s' is not one of debug, info, warn, error, off", value);
            return -1;
        }
        if (!strcmp(s->name, "requirepass") && config_pass_check("requirepass", value, err, errlen) < 0) return -1;
        if (!strcmp(s->name, "fuzzy")) {
            int m = config_fuzzy_parse(value, strlen(value));
            if (m < 0) {
                errf(err, errlen, "fuzzy: '%s' is not one of 0, 1, 2, auto", value);
                return -1;
            }
            c->fuzzy_mode = m;
        }
        if (!strcmp(s->name, "fsync") && jrn_policy_parse(value) < 0) {
            errf(err, errlen, "fsync: '%s' is not one of always, everysec, no", value);
            return -1;
        }
        set_str(slot, value);
        return 0;
    }
    uint64_t x;
    if (s->kind == K_BOOL) {
        if (!strcmp(value, "yes") || !strcmp(value, "1")) x = 1;
        else if (!strcmp(value, "no") || !strcmp(value, "0")) x = 0;
        else {
            errf(err, errlen, "%s: '%s' is not yes or no", s->name, value);
            return -1;
        }
        *(uint64_t *)slot = x;
        return 0;
    }
    if (parse_size(value, &x) < 0 || x < s->min || x > s->max) {
        errf(err, errlen, "%s: '%s' is not a number in %llu..%llu", s->name, value,
             (unsigned long long)s->min, (unsigned long long)s->max);
        return -1;
    }
    if (s->kind == K_PORT) *(int *)slot = (int)x;
    else *(uint64_t *)slot = x;
    return 0;
}

int config_get(const srv_config *c, const char *name, char *buf, size_t buflen) {
    const setting *s = find(name);
    if (!s) return -1;
    const void *slot = (const char *)c + s->off;
    if (s->kind == K_STR) {
        const char *v = *(char *const *)slot;
        snprintf(buf, buflen, "%s", v ? v : "");
    } else if (s->kind == K_PORT) {
        snprintf(buf, buflen, "%d", *(const int *)slot);
    } else if (s->kind == K_BOOL) {
        snprintf(buf, buflen, "%s", *(const uint64_t *)slot ? "yes" : "no");
    } else {
        snprintf(buf, buflen, "%llu", (unsigned long long)*(const uint64_t *)slot);
    }
    return 0;
}

void config_names(void (*fn)(void *ud, const char *name), void *ud) {
    for (size_t i = 0; i < ARRAY_LEN(table); i++) fn(ud, table[i].name);
}

int config_load_file(srv_config *c, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        errf(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            errf(err, errlen, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        while (n && isspace((unsigned char)line[n - 1])) line[--n] = 0;
        char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (!*p || *p == '#') continue;
        char *name = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        if (*p) *p++ = 0;
        while (isspace((unsigned char)*p)) p++;
        if (!*p) {
            errf(err, errlen, "%s:%d: '%s' needs a value", path, lineno, name);
            rc = -1;
            break;
        }
        char sub[512];
        if (config_set(c, name, p, sub, sizeof sub) < 0) {
            errf(err, errlen, "%s:%d: %s", path, lineno, sub);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

int config_parse_args(srv_config *c, int argc, char **argv, int *help, char *err, size_t errlen) {
    *help = 0;
    /* Pass 1: --help and --config. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
            return 0;
        }
        if (!strcmp(a, "--config") || !strncmp(a, "--config=", 9)) {
            const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) {
                errf(err, errlen, "--config needs a value");
                return -1;
            }
            if (config_load_file(c, v, err, errlen) < 0) return -1;
        }
    }
    /* The environment: after the file, before the flags. */
    const char *envpw = getenv(SRV_REQUIREPASS_ENV);
    if (envpw) {
        char sub[200];
        if (config_set(c, "requirepass", envpw, sub, sizeof sub) < 0) {
            errf(err, errlen, "$%s: %s", SRV_REQUIREPASS_ENV, sub);
            return -1;
        }
    }
    /* Pass 2: every other flag. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char name[64];
        const char *v;
        if (!strcmp(a, "-i")) {
            snprintf(name, sizeof name, "index");
            v = i + 1 < argc ? argv[++i] : NULL;
        } else if (!strncmp(a, "--", 2)) {
            const char *eq = strchr(a, '=');
            size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            if (nl >= sizeof name) nl = sizeof name - 1;
            memcpy(name, a + 2, nl);
            name[nl] = 0;
            v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        } else {
            errf(err, errlen, a[0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'", a);
            return -1;
        }
        if (!strcmp(name, "config")) continue;
        const setting *st = find(name);
        if (!st) {
            errf(err, errlen, "unknown option '%s'", a);
            return -1;
        }
        if (st->kind == K_BOOL && !strchr(a, '=')) { /* a bare flag: --journal-repair */
            if (v) i--;
            v = "yes";
        }
        if (!v) {
            errf(err, errlen, "%s needs a value", a);
            return -1;
        }
        if (config_set(c, name, v, err, errlen) < 0) return -1;
        if (!strcmp(name, "requirepass")) {
            c->requirepass_from_flag = 1;
            char *w = argv[i] + (v - argv[i]); /* v points into argv[i] (after '=' or the whole word) */
            memset(w, 'x', strlen(w));         /* hide it from ps */
        }
    }
    return 0;
}

int config_validate(const srv_config *c, char *err, size_t errlen) {
    if (!c->index || !*c->index) {
        errf(err, errlen, "missing -i INDEX");
        return -1;
    }
    if (c->output_soft > c->output_hard) {
        errf(err, errlen, "output-soft-limit (%llu) is above output-hard-limit (%llu)",
             (unsigned long long)c->output_soft, (unsigned long long)c->output_hard);
        return -1;
    }
    if (c->journal && c->save && strcmp(c->save, c->index) != 0) {
        errf(err, errlen, "with --journal, SAVE must write the index it starts from: drop --save (or make it -i)");
        return -1;
    }
    if (c->journal && !*c->journal) {
        errf(err, errlen, "--journal needs a file name");
        return -1;
    }
    if (c->redis) {
        char target[RCL_TARGET_BUF];
        rcl_opts ro;
        if (rcl_parse_target(c->redis, &ro, target, sizeof target) < 0) {
            errf(err, errlen, "--redis wants HOST:PORT or sentinel://HOST:PORT[,HOST:PORT...]/MASTER, not '%s'",
                 c->redis);
            return -1;
        }
    }
    if (!c->ns || !*c->ns || strlen(c->ns) > RANK_RH_MAX_NS || strpbrk(c->ns, ":*?[] \t\r\n")) {
        errf(err, errlen, "namespace wants 1..%d bytes without ':', '*', '?', '[', ']' or spaces", RANK_RH_MAX_NS);
        return -1;
    }
    if (c->changelog && (!c->redis || !*c->changelog || strlen(c->changelog) > CHG_MAX_KEY)) {
        errf(err, errlen, c->redis ? "--changelog wants a stream key of 1..%d bytes" : "--changelog needs --redis",
             CHG_MAX_KEY);
        return -1;
    }
    if (c->changelog_id && (!*c->changelog_id || strlen(c->changelog_id) > CHG_MAX_ID ||
                            strpbrk(c->changelog_id, " \t\r\n"))) {
        errf(err, errlen, "changelog-id wants 1..%d bytes without spaces", CHG_MAX_ID);
        return -1;
    }
    if (c->model_save && !c->model) {
        errf(err, errlen, "--model-save needs --model (the weights it saves are the model's)");
        return -1;
    }
    if (c->fuzzy_auto_one > c->fuzzy_auto_two) {
        errf(err, errlen, "fuzzy-auto-one (%llu) is above fuzzy-auto-two (%llu)",
             (unsigned long long)c->fuzzy_auto_one, (unsigned long long)c->fuzzy_auto_two);
        return -1;
    }
    if (c->port && c->port == c->http_port) {
        errf(err, errlen, "port and http-port are both %d", c->port);
        return -1;
    }
    return 0;
}

void config_usage(FILE *f) {
    fprintf(f,
            "usage: qac serve -i INDEX [--bind ADDR] [--port N] [--http-port N] [--config FILE] [OPTIONS]\n"
            "\n"
            "Serves completions from INDEX over a text/RESP port and an HTTP port.\n"
            "Every option is also a config-file setting (`name value` per line, # comments);\n"
            "flags win over the file. Sizes take a k or m suffix.\n"
            "With --upstreams SPEC it is the shard merger instead, with settings of its own:\n"
            "'qac serve --upstreams x --help' lists them.\n"
            "\n"
            "  --config FILE          read settings from FILE first\n");
    for (size_t i = 0; i < ARRAY_LEN(table); i++) {
        char flag[40];
        snprintf(flag, sizeof flag, "--%s%s", table[i].name,
                 table[i].kind == K_STR ? " S" : table[i].kind == K_BOOL ? "" : " N");
        fprintf(f, "  %-22s %s\n", flag, table[i].help);
    }
}
