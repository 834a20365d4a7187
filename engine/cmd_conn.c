/* cmd_conn.c -- the connection commands Redis clients send around their real
 * work: PING, QUIT, ECHO, SELECT, CLIENT (ID, INFO, GETNAME, SETNAME,
 * SETINFO), AUTH and HELLO, so that redis-py, node-redis, Jedis and redis-cli
 * connect to qac as they connect to Redis (docs/PROTOCOL.md "Redis clients").
 *
 * AUTH and HELLO ... AUTH check the password with eng_auth_check (the HTTP
 * routes use it too) and set e->client->authed; eng_exec (engine/cmd.c)
 * answers NOAUTH before the protected commands run. auth-max-failures
 * wrong passwords close the connection.
 *
 * What they set lives in the connection's eng_client (engine/cmd.h) and ends
 * with it; nothing here is journaled. Names and library fields follow Redis's
 * rule (printable ASCII, no spaces) and are at most ENG_CLIENT_NAME_MAX bytes,
 * so a connection's state stays a fixed size. RESP3 (HELLO 3) changes only
 * the null and map replies (proto_reply_null / proto_reply_map_head).
 */
#include "engine/cmd_internal.h"

#include <stdio.h>

int cmd_echo(cmd_call *c) {
    OOM(proto_reply_bulk(c->out, c->kind, c->argv[1].p, c->argv[1].len));
    return 0;
}

int cmd_select(cmd_call *c) {
    int64_t db;
    if (qparse_i64(c->argv[1].p, c->argv[1].len, &db) < 0) {
        c->msg = "invalid DB index";
        return ENG_ERR(ERR_ARGS);
    }
    if (db != 0) {
        c->msg = "DB index is out of range: qac has one database, 0";
        return ENG_ERR(ERR_ARGS);
    }
    OOM(proto_reply_ok(c->out, c->kind));
    return 0;
}

/* Copies v into dst (ENG_CLIENT_NAME_MAX + 1 bytes) when it is a valid name. */
static int store_name(cmd_call *c, char *dst, const proto_arg *v) {
    if (v->len > ENG_CLIENT_NAME_MAX) {
        c->msg = "client names and library fields are at most " CMD_STR(ENG_CLIENT_NAME_MAX) " bytes";
        return ENG_ERR(ERR_TOOLONG);
    }
    for (size_t i = 0; i < v->len; i++)
        if ((unsigned char)v->p[i] < '!' || (unsigned char)v->p[i] > '~') {
            c->msg = "client names and library fields cannot contain spaces, newlines or special characters";
            return ENG_ERR(ERR_ARGS);
        }
    memcpy(dst, v->p, v->len);
    dst[v->len] = 0;
    return 0;
}

static int cmd_setname(cmd_call *c, const proto_arg *name) { return store_name(c, c->e->client->name, name); }

/* CLIENT INFO's line, in Redis's field=value form (the fields qac has). */
static int client_info(cmd_call *c) {
    const eng_client *cl = c->e->client;
    char line[64 + ENG_ADDR_MAX + 3 * ENG_CLIENT_NAME_MAX];
    int n = snprintf(line, sizeof line, "id=%llu addr=%s name=%s resp=%d lib-name=%s lib-ver=%s\n",
                     (unsigned long long)cl->id, cl->addr, cl->name, cl->resp3 ? 3 : 2, cl->lib_name, cl->lib_ver);
    if (n < 0 || (size_t)n >= sizeof line) n = (int)strlen(line);
    if (c->kind == PROTO_TEXT) n--; /* a text reply is one line: no newline of its own */
    OOM(proto_reply_bulk(c->out, c->kind, line, (size_t)n));
    return 0;
}

int cmd_client(cmd_call *c) {
    eng_client *cl = c->e->client;
    const proto_arg *sub = &c->argv[1];
    int rc;
    if (c->argc == 2 && arg_is(sub, "ID")) {
        OOM(proto_reply_int(c->out, c->kind, (int64_t)cl->id));
    } else if (c->argc == 2 && arg_is(sub, "GETNAME")) {
        if (cl->name[0]) OOM(proto_reply_bulk(c->out, c->kind, cl->name, strlen(cl->name)));
        else OOM(proto_reply_null(c->out, c->kind, cl->resp3));
    } else if (c->argc == 3 && arg_is(sub, "SETNAME")) {
        if ((rc = cmd_setname(c, &c->argv[2])) < 0) return rc;
        OOM(proto_reply_ok(c->out, c->kind));
    } else if (c->argc == 4 && arg_is(sub, "SETINFO") &&
               (arg_is(&c->argv[2], "LIB-NAME") || arg_is(&c->argv[2], "LIB-VER"))) {
        char *dst = arg_is(&c->argv[2], "LIB-NAME") ? cl->lib_name : cl->lib_ver;
        if ((rc = store_name(c, dst, &c->argv[3])) < 0) return rc;
        OOM(proto_reply_ok(c->out, c->kind));
    } else if (c->argc == 2 && arg_is(sub, "INFO")) {
        return client_info(c);
    } else {
        c->msg = "CLIENT takes ID, INFO, GETNAME, SETNAME <name> or SETINFO LIB-NAME|LIB-VER <value>";
        return ENG_ERR(ERR_ARGS);
    }
    return 0;
}

static int pair_str(cmd_call *c, const char *k, const char *v) {
    return proto_reply_item(c->out, c->kind, k, strlen(k)) < 0 || proto_reply_item(c->out, c->kind, v, strlen(v)) < 0
               ? -1
               : 0;
}

static int pair_int(cmd_call *c, const char *k, int64_t v) {
    if (proto_reply_item(c->out, c->kind, k, strlen(k)) < 0) return -1;
    if (c->kind == PROTO_RESP) return proto_reply_int(c->out, c->kind, v);
    char num[24];
    int n = snprintf(num, sizeof num, "%lld", (long long)v);
    return proto_reply_item(c->out, c->kind, num, (size_t)n);
}

static int cmd_hello_reply(cmd_call *c) {
    const eng_client *cl = c->e->client;
    OOM(proto_reply_map_head(c->out, c->kind, cl->resp3, 7));
    OOM(pair_str(c, "server", "qac"));
    OOM(pair_str(c, "version", QAC_VERSION));
    OOM(pair_int(c, "proto", cl->resp3 ? 3 : 2));
    OOM(pair_int(c, "id", (int64_t)cl->id));
    OOM(pair_str(c, "mode", "standalone"));
    OOM(pair_str(c, "role", "master"));
    OOM(proto_reply_item(c->out, c->kind, "modules", 7));
    OOM(c->kind == PROTO_RESP ? proto_reply_list_head(c->out, c->kind, 0) : proto_reply_item(c->out, c->kind, "[]", 2));
    return 0;
}

int cmd_ping(cmd_call *c) {
    if (c->argc == 2) OOM(proto_reply_bulk(c->out, c->kind, c->argv[1].p, c->argv[1].len));
    else OOM(proto_reply_status(c->out, c->kind, "PONG"));
    return 0;
}

int cmd_quit(cmd_call *c) {
    c->flags |= ENG_CLOSE;
    OOM(proto_reply_ok(c->out, c->kind));
    return 0;
}

/* Checks a password (and user name: only "default", Redis's) for AUTH and
 * HELLO ... AUTH; 0 and the connection authenticated, or the error. */
static int auth_try(cmd_call *c, const proto_arg *user, const proto_arg *pw) {
    eng *e = c->e;
    int user_ok = !user || (user->len == 7 && !memcmp(user->p, "default", 7));
    int ok = eng_auth_check(e, pw->p, pw->len); /* compared (and counted) whatever the user name */
    if (ok && !user_ok) { /* right password, unknown user: a failure after all */
        e->stats.auth_ok--;
        e->stats.auth_failures++;
        ok = 0;
    }
    if (ok) {
        e->client->authed = 1;
        return 0;
    }
    e->client->auth_fails++;
    if (e->cfg->auth_max_failures && e->client->auth_fails >= e->cfg->auth_max_failures) {
        c->flags |= ENG_CLOSE;
        c->msg = "invalid username-password pair or user is disabled; too many failures, closing the connection";
    } else {
        c->msg = "invalid username-password pair or user is disabled.";
    }
    return ENG_ERR(ERR_WRONGPASS);
}

/* AUTH <password> / AUTH default <password> (Redis 6 form: redis-cli -a
 * sends the first, --user default -a the second). */
int cmd_auth(cmd_call *c) {
    if (!eng_auth_required(c->e)) {
        c->msg = "AUTH <password> called without any password configured (requirepass is not set)";
        return ENG_ERR(ERR_ARGS);
    }
    int rc = auth_try(c, c->argc == 3 ? &c->argv[1] : NULL, &c->argv[c->argc - 1]);
    if (rc < 0) return rc;
    OOM(proto_reply_ok(c->out, c->kind));
    return 0;
}

/* HELLO [2|3 [AUTH user password] [SETNAME name]]: as Redis, nothing changes
 * unless every option holds; without AUTH it needs an authenticated
 * connection when requirepass is set; AUTH with no requirepass is accepted
 * (Redis's default user has no password). */
int cmd_hello(cmd_call *c) {
    eng_client *cl = c->e->client;
    int proto = cl->resp3 ? 3 : 2, i = 1, rc;
    if (c->argc >= 2) {
        int64_t v;
        if (qparse_i64(c->argv[1].p, c->argv[1].len, &v) < 0) {
            c->msg = "Protocol version is not an integer or out of range";
            return ENG_ERR(ERR_ARGS);
        }
        if (v != 2 && v != 3) {
            c->msg = "unsupported protocol version";
            return ENG_ERR(ERR_NOPROTO);
        }
        proto = (int)v;
        i = 2;
    }
    const proto_arg *user = NULL, *pw = NULL, *name = NULL;
    for (; i < c->argc; i++) {
        if (arg_is(&c->argv[i], "AUTH") && i + 2 < c->argc) {
            user = &c->argv[i + 1];
            pw = &c->argv[i + 2];
            i += 2;
        } else if (arg_is(&c->argv[i], "SETNAME") && i + 1 < c->argc) {
            name = &c->argv[++i];
        } else {
            c->msg = "syntax error in HELLO: HELLO [2|3 [AUTH <user> <password>] [SETNAME <name>]]";
            return ENG_ERR(ERR_ARGS);
        }
    }
    if (pw && eng_auth_required(c->e)) {
        if ((rc = auth_try(c, user, pw)) < 0) return rc;
    } else if (!pw && eng_auth_required(c->e) && !cl->authed) {
        c->msg = "HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH "
                 "<user> <pass> option can be used to authenticate the client and select the RESP protocol "
                 "version at the same time";
        c->e->stats.auth_refused++;
        return ENG_ERR(ERR_NOAUTH);
    }
    if (name && (rc = cmd_setname(c, name)) < 0) return rc;
    cl->resp3 = proto == 3;
    return cmd_hello_reply(c); /* fails only out of memory: the connection is then closed */
}
