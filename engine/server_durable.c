/* server_durable.c -- durability in `qac serve`: journal group commit, the
 * fsync thread, background saves (SAVE and automatic), the ranker's close.
 *
 * Changes append records to the journal batch while requests run (cmd.c);
 * their replies wait in slots (SLOT_WAIT_JOURNAL). srv__on_jcheck runs once per
 * loop iteration after all reads: one write() of the whole batch, then
 *   no / everysec: the records are written -> their replies are released;
 *   always: one fdatasync on a libuv worker thread for everything written so
 *           far (group commit); changes arriving meanwhile form the next
 *           group, synced as soon as this one completes. Replies leave after.
 * everysec: cron starts an fdatasync on the worker once a second.
 * At most one sync job runs; it also syncs and then closes the fd of the
 * generation a snapshot rotated out (old_fd).
 *
 * Saves: srv__save_start rotates the journal (the old fd goes to old_fd, or is
 * closed at once with --fsync no) and forks the snapshot writer; SIGCHLD and
 * cron reap it (srv__save_ended), which releases every SLOT_WAIT_SAVE reply with
 * +OK or the error. At most one child runs (s->child).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "engine/cmd.h"
#include "engine/journal.h"
#include "engine/proto.h"
#include "engine/ranker.h"
#include "engine/server_internal.h"
#include "engine/snapshot.h"

static void release_journal_waiters(srv *s) {
    uint64_t durable = jrn_durable_lsn(s->j);
    while (s->jw_head && s->jw_head->lsn <= durable) {
        srv_slot *sl = s->jw_head;
        s->jw_head = sl->wnext;
        if (!s->jw_head) s->jw_tail = NULL;
        srv__slot_complete(sl);
    }
}

static void sync_work(uv_work_t *w) {
    srv *s = w->data;
    int e = 0;
    if (s->sync_old >= 0 && fdatasync(s->sync_old) < 0) e = errno;
    if (fdatasync(s->sync_fd) < 0) e = errno;
    s->sync_err = e;
}

static void start_sync(srv *s);

static void sync_after(uv_work_t *w, int status) {
    srv *s = w->data;
    s->syncing = 0;
    s->last_sync_ms = uv_now(&s->loop);
    int e = status < 0 ? EIO : s->sync_err;
    if (!e && s->sync_old >= 0) {
        close(s->sync_old);
        if (s->old_fd == s->sync_old) s->old_fd = -1;
    }
    jrn_synced(s->j, s->sync_lsn, e);
    release_journal_waiters(s);
    if (!e && jrn_policy(s->j) == JRN_FSYNC_ALWAYS &&
        (jrn_written_lsn(s->j) > jrn_synced_lsn(s->j) || s->old_fd >= 0))
        start_sync(s); /* the next group: what was written while this one synced */
}

static void start_sync(srv *s) {
    if (s->syncing) return;
    s->syncw.data = s;
    s->sync_fd = jrn_fd(s->j);
    s->sync_old = s->old_fd;
    s->sync_lsn = jrn_written_lsn(s->j);
    if (uv_queue_work(&s->loop, &s->syncw, sync_work, sync_after) == 0) s->syncing = 1;
    else LOG_E("cannot queue a journal fsync");
}

void srv__on_jcheck(uv_check_t *h) {
    srv *s = h->data;
    if (jrn_pending(s->j) && !(jrn_error(s->j) && !strcmp(jrn_error_op(s->j), "write"))) jrn_write(s->j);
    release_journal_waiters(s);
    if (jrn_policy(s->j) == JRN_FSYNC_ALWAYS && !jrn_error(s->j) &&
        (jrn_written_lsn(s->j) > jrn_synced_lsn(s->j) || s->old_fd >= 0))
        start_sync(s);
}

/* Fills and releases every slot waiting on the save. */
static void finish_save_waiters(srv *s, int ok, const char *why) {
    while (s->save_waiters) {
        srv_slot *sl = s->save_waiters;
        s->save_waiters = sl->wnext;
        int rc = ok ? proto_reply_ok(&sl->buf, sl->kind) : proto_reply_error(&sl->buf, sl->kind, ERR_IO, why);
        if (!ok) s->e.stats.errs[ERR_IO]++;
        if (rc < 0) sl->buf.len = 0;
        sl->c->qbytes += sl->buf.len;
        srv__slot_complete(sl);
    }
}

void srv__save_ended(srv *s, int ok, const char *why) {
    uint64_t ms = (now_us() - s->save_start_us) / 1000;
    eng_stats *st = &s->e.stats;
    st->save_in_progress = 0;
    st->last_save_ms = ms;
    st->last_save_ok = ok;
    s->child = 0;
    const char *path = s->cfg->save ? s->cfg->save : s->cfg->index;
    if (ok) {
        st->saves_ok++;
        st->last_save_time = wall_time();
        int removed = s->j ? jrn_remove_before(s->cfg->journal, s->save_gen) : 0;
        LOG_I("background save to %s done in %llu ms (%d old journal files removed)", path,
              (unsigned long long)ms, removed);
    } else {
        st->saves_failed++;
        st->changes_since_save += s->changes_at_fork;
        if (st->changes_since_save) st->dirty_since_ms = now_ns() / 1000000;
        LOG_E("background save to %s failed after %llu ms: %s (the journals since the last save are kept)", path,
              (unsigned long long)ms, why);
    }
    finish_save_waiters(s, ok, why);
}

static void reap_child(srv *s) {
    if (!s->child) return;
    int ok;
    char why[160];
    if (snapshot_reap(s->child, &ok, why, sizeof why) != 0) srv__save_ended(s, ok, why);
}

/* SAVE and automatic saves: rotate the journal, fork the writer child. */
int srv__save_start(void *ud, const char **msg) {
    srv *s = ud;
    static char errbuf[300];
    if (s->child) {
        *msg = "a background save is already running; retry when it ends (STATS save_in_progress)";
        return ENG_ERR(ERR_LIMIT);
    }
    if (s->stopping) {
        *msg = "shutting down";
        return ENG_ERR(ERR_IO);
    }
    if (s->j && s->old_fd >= 0) {
        *msg = "the previous journal is still being synced; retry in a moment";
        return ENG_ERR(ERR_LIMIT);
    }
    if (s->j) {
        int old = -1;
        if (jrn_rotate(s->j, &old, errbuf, sizeof errbuf) < 0) {
            LOG_E("save: cannot start a new journal generation: %s", errbuf);
            *msg = errbuf;
            return ENG_ERR(ERR_IO);
        }
        if (jrn_policy(s->j) == JRN_FSYNC_NO) close(old);
        else s->old_fd = old; /* synced and closed by the next sync job */
        s->save_gen = jrn_gen(s->j);
        release_journal_waiters(s); /* rotation wrote the batch */
    }
    if (s->rank && eng_rank_save(s->rank, errbuf, sizeof errbuf) < 0) {
        LOG_E("save: model: %s", errbuf);
        *msg = errbuf;
        return ENG_ERR(ERR_IO);
    }
    const char *path = s->cfg->save ? s->cfg->save : s->cfg->index;
    uint64_t fork_us;
    pid_t pid;
    if (snapshot_fork(s->e.t, path, &pid, &fork_us, errbuf, sizeof errbuf) < 0) {
        LOG_E("save: %s", errbuf);
        *msg = errbuf;
        return ENG_ERR(ERR_IO);
    }
    s->child = pid;
    s->save_start_us = now_us();
    s->e.stats.save_in_progress = 1;
    s->e.stats.last_fork_us = fork_us;
    s->changes_at_fork = s->e.stats.changes_since_save;
    s->e.stats.changes_since_save = 0;
    LOG_I("background save to %s started (child %d, fork took %llu us)", path, (int)pid,
          (unsigned long long)fork_us);
    return 0;
}

void srv__on_sigchld(uv_signal_t *h, int signum) { reap_child(h->data); }

void srv__on_cron(uv_timer_t *t) {
    srv *s = t->data;
    uint64_t now = uv_now(&s->loop);
    reap_child(s);
    if (s->j) {
        if (jrn_error(s->j) && now - s->last_retry_ms >= SRV_JOURNAL_RETRY_MS) {
            s->last_retry_ms = now;
            if (!strcmp(jrn_error_op(s->j), "write")) {
                if (jrn_write(s->j) == 0) release_journal_waiters(s);
            } else if (jrn_policy(s->j) != JRN_FSYNC_NO) {
                start_sync(s);
            }
        }
        if (jrn_policy(s->j) == JRN_FSYNC_EVERYSEC && !s->syncing && now - s->last_sync_ms >= SRV_FSYNC_EVERY_MS &&
            (jrn_written_lsn(s->j) > jrn_synced_lsn(s->j) || s->old_fd >= 0))
            start_sync(s);
    }
    const eng_stats *st = &s->e.stats;
    if (!s->child && !s->stopping && st->changes_since_save &&
        ((s->cfg->save_changes && st->changes_since_save >= s->cfg->save_changes) ||
         (s->cfg->save_seconds && now_ns() / 1000000 - st->dirty_since_ms >= s->cfg->save_seconds * 1000))) {
        const char *msg;
        if (srv__save_start(s, &msg) < 0) LOG_W("automatic save not started: %s", msg);
    }
}

/* After the last connection closed: the ranker saves what it learned and
 * closes its Redis client and timers (callbacks still pending run now, into
 * no connection: every waiting slot was cancelled with its connection). */
void srv__close_rank(srv *s) {
    if (!s->rank || s->rank_closed) return;
    s->rank_closed = 1;
    s->e.rank = NULL;
    s->e.stats.rank = NULL;
    eng_rank_close(s->rank);
}

void srv__close_durability_handles(srv *s) {
    srv__close_rank(s);
    if (s->have_jcheck) uv_close((uv_handle_t *)&s->jcheck, NULL);
    if (s->have_cron) uv_close((uv_handle_t *)&s->cron, NULL);
    if (s->have_sigchld) uv_close((uv_handle_t *)&s->sigchld, NULL);
    s->have_jcheck = s->have_cron = s->have_sigchld = 0;
}
