/* server_durable.c -- durability in `qac serve`: journal group commit, the
 * fsync thread, background saves (SAVE and automatic).
 *
 * Changes append records to the journal batch while requests run (cmd.c);
 * their replies wait in slots (SLOT_WAIT_JOURNAL). on_jcheck runs once per
 * loop iteration after all reads: one write() of the whole batch, then
 *   no / everysec: the records are written -> their replies are released;
 *   always: one fdatasync on a libuv worker thread for everything written so
 *           far (group commit); changes arriving meanwhile form the next
 *           group, synced as soon as this one completes. Replies leave after.
 * everysec: cron starts an fdatasync on the worker once a second.
 * At most one sync job runs; it also syncs and then closes the fd of the
 * generation a snapshot rotated out (old_fd).
 *
 * Saves: save_start (the engine's save_fn) rotates the journal (the old fd
 * goes to old_fd, or is closed at once with --fsync no) and forks the
 * snapshot writer; SIGCHLD and cron reap it (save_ended), which releases
 * every SLOT_WAIT_SAVE reply with +OK or the error. At most one child runs
 * (d->child).
 *
 * All of this state is a srv_durable, opaque to the other files: server.c
 * creates it (srv__durable_new), starts its handles (jcheck, cron, sigchld),
 * hands it the slots that wait (srv__durable_wait), stops the save child when
 * shutdown begins, closes the handles after the last connection and frees it
 * with a final journal write + fdatasync (server_internal.h). It reads the srv
 * it belongs to (d->s: the loop, cfg, the trie, the ranker, stopping) and
 * writes there only the engine's stats and, once, its journal and save_fn.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "engine/changelog.h"
#include "engine/cmd.h"
#include "engine/dict.h"
#include "engine/store/journal.h"
#include "engine/proto/proto.h"
#include "engine/rank/ranker.h"
#include "engine/server_internal.h"
#include "engine/infix.h"
#include "engine/store/bgsave.h"

struct srv_durable {
    srv *s;            /* the server it belongs to (see the top comment) */
    jrn *j;            /* NULL: no journal */
    uv_check_t jcheck; /* after each iteration's I/O: write the batch, start the group fsync */
    uv_timer_t cron;
    uv_signal_t sigchld;
    int have_jcheck, have_cron, have_sigchld;
    uv_work_t syncw; /* the one sync job (syncing): sync_fd, and sync_old when >= 0 */
    int syncing, sync_fd, sync_old, sync_err;
    uint64_t sync_lsn;
    int old_fd; /* rotated-out journal fd awaiting its last fdatasync */
    uint64_t last_sync_ms, last_retry_ms;
    srv_slot *jw_head, *jw_tail; /* waiting on the journal, in LSN order */
    srv_slot *save_waiters;
    pid_t child; /* the snapshot writer of the running save; 0: none */
    uint64_t save_start_us, save_gen, changes_at_fork;
};

static int save_start(void *ud, const char **msg);

srv_durable *srv__durable_new(srv *s, jrn *j) {
    srv_durable *d = qcalloc(1, sizeof *d);
    if (!d) return NULL;
    d->s = s;
    d->j = j;
    d->old_fd = -1;
    s->e.j = j;
    s->e.stats.journal = j;
    s->e.save_fn = save_start;
    s->e.save_ud = d;
    return d;
}

static void release_journal_waiters(srv_durable *d) {
    uint64_t durable = jrn_durable_lsn(d->j);
    while (d->jw_head && d->jw_head->lsn <= durable) {
        srv_slot *sl = d->jw_head;
        d->jw_head = sl->wnext;
        if (!d->jw_head) d->jw_tail = NULL;
        srv__slot_complete(sl);
    }
}

int srv__durable_must_wait(const srv_durable *d, uint64_t lsn) {
    return lsn && d->j && lsn > jrn_durable_lsn(d->j);
}

void srv__durable_wait(srv_durable *d, srv_slot *sl) {
    if (sl->wait == SLOT_WAIT_JOURNAL) {
        if (d->jw_tail) d->jw_tail->wnext = sl;
        else d->jw_head = sl;
        d->jw_tail = sl;
    } else if (sl->wait == SLOT_WAIT_SAVE) {
        sl->wnext = d->save_waiters;
        d->save_waiters = sl;
    }
}

static void sync_work(uv_work_t *w) {
    srv_durable *d = w->data;
    int e = 0;
    if (d->sync_old >= 0 && fdatasync(d->sync_old) < 0) e = errno;
    if (fdatasync(d->sync_fd) < 0) e = errno;
    d->sync_err = e;
}

static void start_sync(srv_durable *d);

static void sync_after(uv_work_t *w, int status) {
    srv_durable *d = w->data;
    d->syncing = 0;
    d->last_sync_ms = uv_now(&d->s->loop);
    int e = status < 0 ? EIO : d->sync_err;
    if (!e && d->sync_old >= 0) {
        close(d->sync_old);
        if (d->old_fd == d->sync_old) d->old_fd = -1;
    }
    jrn_synced(d->j, d->sync_lsn, e);
    release_journal_waiters(d);
    if (!e && jrn_policy(d->j) == JRN_FSYNC_ALWAYS &&
        (jrn_written_lsn(d->j) > jrn_synced_lsn(d->j) || d->old_fd >= 0))
        start_sync(d); /* the next group: what was written while this one synced */
}

static void start_sync(srv_durable *d) {
    if (d->syncing) return;
    d->syncw.data = d;
    d->sync_fd = jrn_fd(d->j);
    d->sync_old = d->old_fd;
    d->sync_lsn = jrn_written_lsn(d->j);
    if (uv_queue_work(&d->s->loop, &d->syncw, sync_work, sync_after) == 0) d->syncing = 1;
    else LOG_E("journal.fsync_queue_failed", "msg=\"cannot queue a journal fsync\"");
}

/* uv_check: writes the journal batch, releases the replies it made durable,
 * starts the group fsync (--fsync always). */
static void on_jcheck(uv_check_t *h) {
    srv_durable *d = h->data;
    if (jrn_pending(d->j) && !(jrn_error(d->j) && !strcmp(jrn_error_op(d->j), "write"))) jrn_write(d->j);
    release_journal_waiters(d);
    if (jrn_policy(d->j) == JRN_FSYNC_ALWAYS && !jrn_error(d->j) &&
        (jrn_written_lsn(d->j) > jrn_synced_lsn(d->j) || d->old_fd >= 0))
        start_sync(d);
}

/* Fills and releases every slot waiting on the save. */
static void finish_save_waiters(srv_durable *d, int ok, const char *why) {
    while (d->save_waiters) {
        srv_slot *sl = d->save_waiters;
        d->save_waiters = sl->wnext;
        int rc = ok ? proto_reply_ok(&sl->buf, sl->kind) : proto_reply_error(&sl->buf, sl->kind, ERR_IO, why);
        if (!ok) d->s->e.stats.errs[ERR_IO]++;
        if (rc < 0) sl->buf.len = 0;
        sl->c->qbytes += sl->buf.len;
        srv__slot_complete(sl);
    }
}

/* The background save ended (ok or not, why): stats, log, old journals,
 * the replies waiting on it. */
static void save_ended(srv_durable *d, int ok, const char *why) {
    srv *s = d->s;
    uint64_t ms = (qtime_us() - d->save_start_us) / 1000;
    eng_stats *st = &s->e.stats;
    st->save_in_progress = 0;
    st->last_save_ms = ms;
    st->last_save_ok = ok;
    d->child = 0;
    if (s->e.chg) chg_snapshot_saved(s->e.chg, ok); /* INDEX.chgpos */
    const char *path = s->cfg->save ? s->cfg->save : s->cfg->index;
    if (ok) {
        st->saves_ok++;
        st->last_save_time = qtime_wall();
        int removed = d->j ? jrn_remove_before(s->cfg->journal, d->save_gen) : 0;
        LOG_I("bgsave.done", "path=%s ms=%llu journals_removed=%d", path, (unsigned long long)ms, removed);
    } else {
        st->saves_failed++;
        st->changes_since_save += d->changes_at_fork;
        if (st->changes_since_save) st->dirty_since_ms = qtime_ns() / 1000000;
        LOG_E("bgsave.failed", "path=%s ms=%llu error=%s msg=\"the journals since the last save are kept\"", path,
              (unsigned long long)ms, why);
    }
    finish_save_waiters(d, ok, why);
}

static void reap_child(srv_durable *d) {
    if (!d->child) return;
    int ok;
    char why[160];
    if (bgsave_reap(d->child, &ok, why, sizeof why) != 0) save_ended(d, ok, why);
}

/* In the save child, the trie snapshot on disk: the word index into
 * SNAPSHOT.words (engine/infix.h; tied to that image, so a crash between the
 * two renames leaves a file the next start refuses and rebuilds: never a
 * wrong index; a failed write only costs that rebuild, so it does not fail
 * the save), then the named dictionaries into SNAPSHOT.dicts
 * (engine/dict.h). */
static int save_dicts(void *ud) {
    srv *s = ud;
    char p[JRN_PATH_MAX + 8];
    const char *snap = s->cfg->save ? s->cfg->save : s->cfg->index;
    if (s->cfg->infix_index) (void)eng_words_save(&s->e, snap);
    if (!s->e.dicts) return 0;
    if (dict_path(p, sizeof p, snap) < 0) return errno = ENAMETOOLONG, -1;
    return dict_save_needed(s->e.dicts, p) ? dict_save(s->e.dicts, p) : 0;
}

/* eng->save_fn (ud: srv_durable), for SAVE and automatic saves: rotates the
 * journal and forks the snapshot writer. 0, or ENG_ERR(...) with a message
 * in *msg (static, valid until the next call). */
static int save_start(void *ud, const char **msg) {
    srv_durable *d = ud;
    srv *s = d->s;
    static char errbuf[300];
    if (d->child) {
        *msg = "a background save is already running; retry when it ends (STATS save_in_progress)";
        return ENG_ERR(ERR_LIMIT);
    }
    if (s->stopping) {
        *msg = "shutting down";
        return ENG_ERR(ERR_IO);
    }
    if (d->j && d->old_fd >= 0) {
        *msg = "the previous journal is still being synced; retry in a moment";
        return ENG_ERR(ERR_LIMIT);
    }
    if (d->j) {
        int old = -1;
        if (jrn_rotate(d->j, &old, errbuf, sizeof errbuf) < 0) {
            LOG_E("bgsave.failed", "what=journal_generation error=%s", errbuf);
            *msg = errbuf;
            return ENG_ERR(ERR_IO);
        }
        if (jrn_policy(d->j) == JRN_FSYNC_NO) close(old);
        else d->old_fd = old; /* synced and closed by the next sync job */
        d->save_gen = jrn_gen(d->j);
        release_journal_waiters(d); /* rotation wrote the batch */
    }
    if (s->rank && eng_rank_save(s->rank, errbuf, sizeof errbuf) < 0) {
        LOG_E("bgsave.failed", "what=model error=%s", errbuf);
        *msg = errbuf;
        return ENG_ERR(ERR_IO);
    }
    const char *path = s->cfg->save ? s->cfg->save : s->cfg->index;
    uint64_t fork_us;
    pid_t pid;
    if (bgsave_fork(s->e.t, path, save_dicts, s, &pid, &fork_us, errbuf, sizeof errbuf) < 0) {
        LOG_E("bgsave.failed", "error=%s", errbuf);
        *msg = errbuf;
        return ENG_ERR(ERR_IO);
    }
    d->child = pid;
    if (s->e.chg) chg_snapshot_forked(s->e.chg); /* the position the image holds */
    d->save_start_us = qtime_us();
    s->e.stats.save_in_progress = 1;
    s->e.stats.last_fork_us = fork_us;
    d->changes_at_fork = s->e.stats.changes_since_save;
    s->e.stats.changes_since_save = 0;
    LOG_I("bgsave.started", "path=%s child=%d fork_us=%llu", path, (int)pid, (unsigned long long)fork_us);
    return 0;
}

/* SIGCHLD: reaps the save child. */
static void on_sigchld(uv_signal_t *h, int signum) { reap_child(h->data); }

/* Cron timer (SRV_CRON_MS): reaps the save child, retries journal errors,
 * the everysec fsync, automatic saves. */
static void on_cron(uv_timer_t *t) {
    srv_durable *d = t->data;
    srv *s = d->s;
    uint64_t now = uv_now(&s->loop);
    reap_child(d);
    if (d->j) {
        if (jrn_error(d->j) && now - d->last_retry_ms >= SRV_JOURNAL_RETRY_MS) {
            d->last_retry_ms = now;
            if (!strcmp(jrn_error_op(d->j), "write")) {
                if (jrn_write(d->j) == 0) release_journal_waiters(d);
            } else if (jrn_policy(d->j) != JRN_FSYNC_NO) {
                start_sync(d);
            }
        }
        if (jrn_policy(d->j) == JRN_FSYNC_EVERYSEC && !d->syncing && now - d->last_sync_ms >= SRV_FSYNC_EVERY_MS &&
            (jrn_written_lsn(d->j) > jrn_synced_lsn(d->j) || d->old_fd >= 0))
            start_sync(d);
    }
    const eng_stats *st = &s->e.stats;
    if (!d->child && !s->stopping && st->changes_since_save &&
        ((s->cfg->save_changes && st->changes_since_save >= s->cfg->save_changes) ||
         (s->cfg->save_seconds && qtime_ns() / 1000000 - st->dirty_since_ms >= s->cfg->save_seconds * 1000))) {
        const char *msg;
        if (save_start(d, &msg) < 0) LOG_W("bgsave.not_started", "by=auto error=%s", msg);
    }
}

void srv__durable_start(srv_durable *d) {
    uv_loop_t *loop = &d->s->loop;
    uv_timer_init(loop, &d->cron);
    d->cron.data = d;
    uv_timer_start(&d->cron, on_cron, SRV_CRON_MS, SRV_CRON_MS);
    d->have_cron = 1;
    uv_signal_init(loop, &d->sigchld);
    d->sigchld.data = d;
    uv_signal_start(&d->sigchld, on_sigchld, SIGCHLD);
    d->have_sigchld = 1;
    if (d->j) {
        uv_check_init(loop, &d->jcheck);
        d->jcheck.data = d;
        uv_check_start(&d->jcheck, on_jcheck);
        d->have_jcheck = 1;
        d->last_sync_ms = uv_now(loop);
    }
}

void srv__durable_stop(srv_durable *d) {
    if (d->child) {
        kill(d->child, SIGKILL);
        waitpid(d->child, NULL, 0);
        save_ended(d, 0, "shutting down: the background save was stopped");
    }
}

void srv__durable_close(srv_durable *d) {
    if (d->have_jcheck) uv_close((uv_handle_t *)&d->jcheck, NULL);
    if (d->have_cron) uv_close((uv_handle_t *)&d->cron, NULL);
    if (d->have_sigchld) uv_close((uv_handle_t *)&d->sigchld, NULL);
    d->have_jcheck = d->have_cron = d->have_sigchld = 0;
}

void srv__durable_free(srv_durable *d) {
    if (!d) return;
    jrn *j = d->j;
    if (j) { /* whatever is still in the batch: written and synced before exit */
        if (jrn_write(j) < 0) LOG_E("journal.write_failed", "at=shutdown error=%s", strerror(jrn_error(j)));
        else if (jrn_policy(j) != JRN_FSYNC_NO && fdatasync(jrn_fd(j)) < 0)
            LOG_E("journal.fsync_failed", "at=shutdown error=%s", strerror(errno));
        if (d->old_fd >= 0) {
            if (jrn_policy(j) != JRN_FSYNC_NO) fdatasync(d->old_fd);
            close(d->old_fd);
        }
    }
    if (d->child) {
        kill(d->child, SIGKILL);
        waitpid(d->child, NULL, 0);
    }
    qfree(d);
}
