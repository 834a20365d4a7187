/* cmd_internal.h -- what the command handlers share (engine/cmd.c: the table,
 * eng_exec and the index commands; the connection commands in
 * engine/cmd_conn.c; the administration commands in engine/cmd_admin.c; the
 * suggestion commands in engine/cmd_sug.c); not for the rest of the engine.
 *
 * A handler gets one cmd_call: the engine, the request's framing (kind), its
 * arguments, and the output buffer. It appends its reply and returns 0, or
 * returns ENG_ERR(code) with c->msg set (eng_exec drops any partial reply and
 * writes the error), or -1000 when an encoder ran out of memory (OOM below;
 * eng_exec then drops the reply and the server closes the connection).
 */
#ifndef QAC_CMD_INTERNAL_H
#define QAC_CMD_INTERNAL_H

#include <string.h>
#include <strings.h>

#include "engine/cmd.h"

typedef struct cmd_call {
    eng *e;
    int kind, argc;
    const proto_arg *argv;
    qbuf *out;
    int flags;
    const char *msg;
} cmd_call;

#define OOM(x) \
    do { \
        if ((x) < 0) return -1000; \
    } while (0)

static inline int arg_is(const proto_arg *a, const char *s) {
    size_t n = strlen(s);
    return a->len == n && !strncasecmp(a->p, s, n);
}

/* engine/cmd_conn.c: the connection's own state */
int cmd_ping(cmd_call *c);
int cmd_quit(cmd_call *c);
int cmd_echo(cmd_call *c);
int cmd_select(cmd_call *c);
int cmd_client(cmd_call *c);
int cmd_auth(cmd_call *c);
int cmd_hello(cmd_call *c);

/* engine/cmd_admin.c: the server as a whole */
int cmd_stats(cmd_call *c);
int cmd_save(cmd_call *c);
int cmd_reload(cmd_call *c);
int cmd_config(cmd_call *c);

/* engine/cmd_sug.c: RediSearch's suggestion commands, Redis key commands */
int cmd_sugadd(cmd_call *c);
int cmd_sugget(cmd_call *c);
int cmd_sugdel(cmd_call *c);
int cmd_suglen(cmd_call *c);
int cmd_exists(cmd_call *c);
int cmd_type(cmd_call *c);
int cmd_keys(cmd_call *c);
int cmd_dbsize(cmd_call *c);
int cmd_flushall(cmd_call *c);
/* DEL over named dictionaries (Redis's DEL; cmd.c decides when: see cmd_sug.c). */
int cmd_del_dicts(cmd_call *c);
/* eng_complete_prepare for COMPLETE ... DICT (ctx->dict set): checks the
 * name, refuses INFIX, folds the prefix into e->norm (dict_fold) and points
 * e->qt at the dictionary's trie. 0, 1 when nothing can match (no such
 * dictionary, prefix too long), or ENG_ERR. */
int eng_dict_prepare(eng *e, const char *prefix, size_t len, const eng_ctx *ctx, const char **msg);
/* Checks a dictionary name (1..dict-name-max bytes; dictionaries on). */
int cmd_dict_name(cmd_call *c, const proto_arg *a);
/* engine/cmd.c, for changes made elsewhere: the journal is writable and has
 * room for one record (call before changing anything); then count the change. */
int cmd_change_begin(eng *e, const char **msg);
void cmd_change_count(eng *e);

#define CMD_STR_(x) #x
#define CMD_STR(x) CMD_STR_(x)
/* INFO's first section (RESP): what Redis clients read. redis_version is the
 * Redis release whose client-facing behaviour qac's Redis commands follow
 * (HELLO 3, CLIENT SETINFO: 7.2); clients pick features by it. */
#define CMD_INFO_SERVER \
    "# Server\r\nredis_version:7.2.0\r\nqac_version:" QAC_VERSION "\r\nredis_mode:standalone\r\n\r\n"

#endif
