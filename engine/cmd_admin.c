/* cmd_admin.c -- the server's administration commands: STATS (and INFO, its
 * Redis name), SAVE, RELOAD and CONFIG GET (docs/PROTOCOL.md). They read or
 * write the server as a whole, never a key: the index commands are in
 * engine/cmd.c, which also holds the command table and answers NOAUTH for
 * all of these until the connection authenticated (requirepass set).
 *
 * No command takes a file path: SAVE and RELOAD take no argument and use
 * the configured paths only (--save or the index, --model, the word index
 * beside the snapshot). SAVE writes in a background child when the server
 * gives save_fn (the reply is then deferred until the file is on disk);
 * without it (tests, tools) it writes in process. CONFIG GET never shows
 * requirepass.
 */
#include "engine/cmd_internal.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>

#include "common/log.h"
#include "engine/dict.h"
#include "engine/infix.h"
#include "engine/rank/ranker.h"
#include "engine/store/journal.h"

int cmd_stats(cmd_call *c) {
    stats_snapshot(&c->e->stats, c->e->t, &c->e->snap);
    OOM(c->kind == PROTO_RESP ? stats_render_resp(&c->e->snap, arg_is(&c->argv[0], "INFO") ? CMD_INFO_SERVER : NULL, c->out)
                              : stats_render_text(&c->e->snap, c->out));
    return 0;
}

int cmd_save(cmd_call *c) {
    if (c->e->save_fn) {
        int rc = c->e->save_fn(c->e->save_ud, &c->msg);
        if (rc < 0) return rc;
        c->flags |= ENG_DEFER;
        return 0;
    }
    const char *path = c->e->cfg->save ? c->e->cfg->save : c->e->cfg->index;
    uint64_t t0 = qtime_us();
    int rc = trie_save(c->e->t, path);
    if (rc < 0) {
        LOG_E("save.failed", "path=%s error=%s errno=%s", path, trie_strerror(rc), strerror(errno));
        c->msg = rc == TRIE_EIO ? "snapshot write failed (see the server log)" : trie_strerror(rc);
        return ENG_ERR(rc == TRIE_ENOMEM ? ERR_NOMEM : ERR_IO);
    }
    char dpath[JRN_PATH_MAX + 8];
    if (c->e->dicts && (dict_path(dpath, sizeof dpath, path) < 0 ||
                        (dict_save_needed(c->e->dicts, dpath) && dict_save(c->e->dicts, dpath) < 0))) {
        LOG_E("save.failed", "path=%s.dicts errno=%s", path, strerror(errno));
        c->msg = "dictionaries snapshot write failed (see the server log)";
        return ENG_ERR(ERR_IO);
    }
    if (c->e->cfg->infix_index && eng_words_save(c->e, path) < 0) /* costs a rebuild at the next start only */
        LOG_W("save.words_failed", "path=%s.words errno=%s msg=\"the next start builds the word index\"", path,
              strerror(errno));
    LOG_I("save.done", "keys=%llu path=%s ms=%llu", (unsigned long long)trie_count(c->e->t), path,
          (unsigned long long)((qtime_us() - t0) / 1000));
    OOM(proto_reply_ok(c->out, c->kind));
    return 0;
}
/* RELOAD (and SIGHUP: the server calls eng_reload): the model file again
 * (learned weights not saved are dropped) and NS:current re-read; a word
 * index that was dropped after an error is rebuilt (infix.h). */
int eng_reload(eng *e, const char *why, char *err, size_t errlen) {
    if (eng_words_reload(e, why) < 0) {
        snprintf(err, errlen, "the word index (INFIX) could not be rebuilt: see the server log");
        e->stats.reloads_failed++;
        LOG_E("reload.failed", "by=%s error=%s", why, err);
        return -1;
    }
    if (e->rank && eng_rank_reload(e->rank, err, errlen) < 0) {
        e->stats.reloads_failed++;
        LOG_E("reload.failed", "by=%s error=%s", why, err);
        return -1;
    }
    e->stats.reloads_ok++;
    return 0;
}

int cmd_reload(cmd_call *c) {
    if (!c->e->rank && !eng_words_missing(c->e)) {
        c->msg = "no ranker in this server";
        return ENG_ERR(ERR_ARGS);
    }
    if (eng_reload(c->e, "RELOAD", c->e->errbuf, sizeof c->e->errbuf) < 0) {
        c->msg = c->e->errbuf;
        return ENG_ERR(ERR_IO);
    }
    OOM(proto_reply_ok(c->out, c->kind));
    return 0;
}
/* CONFIG GET pattern: [name, value, ...] of matching settings (glob). Also
 * answers "save" and "appendonly", which redis-benchmark asks for. */
typedef struct cfg_match {
    cmd_call *c;
    const char *pat;
    uint64_t n;
    int count_only;
} cfg_match;

static void cfg_each(void *ud, const char *name) {
    cfg_match *m = ud;
    if (!strcmp(name, "requirepass")) return; /* the secret never leaves the process */
    if (fnmatch(m->pat, name, FNM_CASEFOLD) != 0) return;
    m->n++;
    if (m->count_only) return;
    char val[1024];
    config_get(m->c->e->cfg, name, val, sizeof val);
    if (proto_reply_item(m->c->out, m->c->kind, name, strlen(name)) < 0 ||
        proto_reply_item(m->c->out, m->c->kind, val, strlen(val)) < 0)
        m->c->flags |= 0x100; /* OOM, checked below */
}

int cmd_config(cmd_call *c) {
    if (!arg_is(&c->argv[1], "GET") || c->argc != 3) {
        c->msg = "only CONFIG GET <pattern> is supported";
        return ENG_ERR(ERR_ARGS);
    }
    char pat[128];
    size_t pl = c->argv[2].len < sizeof pat - 1 ? c->argv[2].len : sizeof pat - 1;
    memcpy(pat, c->argv[2].p, pl);
    pat[pl] = 0;
    if (memchr(pat, 0, pl)) {
        c->msg = "NUL in pattern";
        return ENG_ERR(ERR_ARGS);
    }
    /* Our settings (one is "save", whose unset value "" is also Redis's
     * "no snapshots"), plus "appendonly", which redis-benchmark asks for. */
    cfg_match m = {c, pat, 0, 1};
    config_names(cfg_each, &m);
    uint64_t extra = fnmatch(pat, "appendonly", FNM_CASEFOLD) == 0;
    OOM(proto_reply_list_head(c->out, c->kind, 2 * (m.n + extra)));
    m.count_only = 0;
    m.n = 0;
    config_names(cfg_each, &m);
    if (fnmatch(pat, "appendonly", FNM_CASEFOLD) == 0) {
        OOM(proto_reply_item(c->out, c->kind, "appendonly", 10));
        OOM(proto_reply_item(c->out, c->kind, "no", 2));
    }
    if (c->flags & 0x100) return -1000;
    return 0;
}
