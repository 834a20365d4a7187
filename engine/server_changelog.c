/* server_changelog.c -- `qac serve --changelog KEY`: starts and stops the
 * change log (engine/changelog.h) of the server, with its file names (the
 * durable position beside the journal: JOURNAL.chgpos; the snapshot's beside
 * the index SAVE writes: INDEX.chgpos) and its default replica id
 * (HOSTNAME:PORT, stable across restarts of one service).
 */
#include <stdio.h>
#include <unistd.h>

#include "common/log.h"
#include "engine/changelog.h"
#include "engine/server_internal.h"

int srv__changelog_open(srv *s) {
    const srv_config *cfg = s->cfg;
    if (!cfg->changelog) return 0;
    char id[CHG_MAX_ID + 1], host[256] = "qac", pos[4200], snap[4200], model[4200], outbox[4200], err[600];
    if (cfg->changelog_id) {
        snprintf(id, sizeof id, "%s", cfg->changelog_id);
    } else {
        gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = 0;
        snprintf(id, sizeof id, "%.50s:%d", host, cfg->port);
    }
    chg_opts o = {.redis = cfg->redis, .key = cfg->changelog, .id = id,
                  .outbox_max = cfg->changelog_outbox_max, .maxlen = cfg->changelog_maxlen,
                  .wait_replicas = cfg->changelog_wait_replicas};
    if (cfg->journal) {
        snprintf(pos, sizeof pos, "%s.chgpos", cfg->journal);
        o.pos_path = pos;
        snprintf(outbox, sizeof outbox, "%s.outbox", cfg->journal);
        o.outbox_path = outbox;
    }
    snprintf(snap, sizeof snap, "%s.chgpos", cfg->save ? cfg->save : cfg->index);
    o.snap_path = snap;
    snprintf(model, sizeof model, "%s.model", cfg->save ? cfg->save : cfg->index);
    o.model_path = model;
    s->e.chg = chg_new(&s->loop, &s->e, &o, err, sizeof err);
    if (!s->e.chg) {
        LOG_E("server.start_failed", "what=changelog error=%s", err);
        return -1;
    }
    s->e.stats.changelog = s->e.chg;
    return 0;
}

void srv__changelog_close(srv *s) {
    if (!s->e.chg) return;
    chg_close(s->e.chg);
    s->e.chg = NULL;
    s->e.stats.changelog = NULL;
}
