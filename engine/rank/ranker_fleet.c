/* ranker_fleet.c -- the ranker's side of fleet-shared online learning
 * (design: engine/changelog.h "MODEL UPDATES"; the steps: ranking/ftrl_delta.h).
 *
 * Without eng_rank_fleet_start an ACCEPT's steps change the weights at once
 * (rank_learn_accept), as before. With it, they are recorded
 * (rank_ftrl.record), encoded and handed to the change log; the weights
 * change only in eng_rank_fleet_apply, in stream order, on every replica.
 *
 * The version of the weights is rank_ftrl_checksum of the model as loaded
 * from --model: replicas given the same file agree on it without talking.
 * A checkpoint keeps that version beside the weights, so a restarted
 * replica resumes only a checkpoint of the model it was given.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/rank/ranker_internal.h"
#include "ranking/ftrl_delta.h"

#define FLEET_LINE_MAX 160

typedef struct eng_rank_fleet {
    eng_rank_publish_fn publish;
    void *ud;
    uint64_t version;
    int slot; /* the checkpoint slot the sidecar names now (-1: none) */
    rank_fdelta d;
    unsigned char buf[RANK_FDELTA_MAX_BYTES];
} eng_rank_fleet;

uint64_t eng_rank_fleet_start(eng_rank *R, eng_rank_publish_fn publish, void *ud) {
    if (!R->model) return 0;
    if (!R->fleet && !(R->fleet = qcalloc(1, sizeof *R->fleet))) return 0;
    R->fleet->publish = publish;
    R->fleet->ud = ud;
    R->fleet->version = rank_ftrl_checksum(R->model);
    R->fleet->slot = -1;
    return R->fleet->version;
}

uint64_t eng_rank_fleet_version(const eng_rank *R) { return R->fleet && R->model ? R->fleet->version : 0; }

void eng_rank__fleet_free(eng_rank *R) {
    qfree(R->fleet);
    R->fleet = NULL;
}

int eng_rank__learn(eng_rank *R, size_t n, size_t pos) {
    rank_req *rq = &R->req;
    eng_rank_fleet *f = R->fleet;
    if (!f) {
        int steps = rank_learn_accept(R->model, &rq->x, rq->lc, n, pos);
        if (steps > 0) R->learned = 1;
        return steps;
    }
    rank_fdelta_reset(&f->d);
    R->model->record = &f->d;
    int steps = rank_learn_accept(R->model, &rq->x, rq->lc, n, pos);
    R->model->record = NULL;
    size_t len = steps > 0 ? rank_fdelta_encode(&f->d, f->buf, sizeof f->buf) : 0;
    if (!len) return 0;
    f->publish(f->ud, f->version, f->buf, len);
    return steps;
}

int eng_rank_fleet_apply(eng_rank *R, uint64_t version, const void *upd, size_t len, const char **why) {
    if (!R->fleet || !R->model || version != R->fleet->version) return 0;
    return rank_fdelta_apply(R->model, upd, len, why) < 0 ? -1 : 1;
}

int eng_rank__fleet_reloaded(eng_rank *R, rank_ftrl *m) {
    if (!R->fleet) return 0;
    uint64_t v = rank_ftrl_checksum(m);
    if (v == R->fleet->version) {
        rank_ftrl_free(m);
        LOG_I("ranker.fleet_model_kept", "version=%016" PRIx64 " msg=\"the same model file: the weights learned "
              "by the fleet stay\"", v);
        return 1;
    }
    LOG_W("ranker.fleet_model_version", "old=%016" PRIx64 " new=%016" PRIx64 " msg=\"a new model version: "
          "updates of the old one are ignored from now on\"", R->fleet->version, v);
    R->fleet->version = v;
    R->fleet->slot = -1;
    return 0;
}

/* --- checkpoint ------------------------------------------------------------ */

int eng_rank_fleet_save(eng_rank *R, const char *path, const char *pos, int unchanged, char *err, size_t errlen) {
    eng_rank_fleet *f = R->fleet;
    if (!f || !R->model) return 0;
    char mp[4200], line[FLEET_LINE_MAX];
    int slot = unchanged && f->slot >= 0 ? f->slot : f->slot == 0 ? 1 : 0;
    if ((size_t)snprintf(mp, sizeof mp, "%s.%d", path, slot) >= sizeof mp) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    if (slot != f->slot && rank_ftrl_save(R->model, mp, err, errlen)) return -1;
    int n = snprintf(line, sizeof line, "qac-fleet-model 1 version=%016" PRIx64 " position=%s slot=%d\n",
                     f->version, pos, slot);
    if (n < 0 || (size_t)n >= sizeof line) {
        snprintf(err, errlen, "position too long");
        return -1;
    }
    if (qfile_write_atomic(path, line, (size_t)n, err, errlen) < 0) return -1;
    f->slot = slot;
    return 0;
}

int eng_rank_fleet_load(eng_rank *R, const char *path, char *pos, size_t poscap, char *err, size_t errlen) {
    eng_rank_fleet *f = R->fleet;
    if (!f || !R->model) return 0;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char line[FLEET_LINE_MAX], p[FLEET_LINE_MAX];
    uint64_t v;
    int slot, used = 0;
    int ok = fgets(line, sizeof line, fp) != NULL;
    fclose(fp);
    if (!ok || sscanf(line, "qac-fleet-model 1 version=%16" SCNx64 " position=%63s slot=%d%n", &v, p, &slot, &used) != 3 ||
        (slot != 0 && slot != 1) || strlen(p) >= poscap || (line[used] != '\n' && line[used] != 0)) {
        snprintf(err, errlen, "%s: not a model checkpoint line", path);
        return -1;
    }
    if (v != f->version) {
        LOG_W("ranker.fleet_checkpoint_ignored", "path=%s version=%016" PRIx64 " model_version=%016" PRIx64
              " msg=\"a checkpoint of another model: starting from --model\"", path, v, f->version);
        return 0;
    }
    char mp[4200];
    rank_ftrl *m = NULL;
    snprintf(mp, sizeof mp, "%s.%d", path, slot);
    if (rank_ftrl_load(mp, &m, err, errlen)) return -1;
    if (m->o.bits != R->model->o.bits) {
        snprintf(err, errlen, "%s: a table of 2^%u, the model's is 2^%u", mp, m->o.bits, R->model->o.bits);
        rank_ftrl_free(m);
        return -1;
    }
    rank_ftrl_free(R->model);
    R->model = m;
    f->slot = slot;
    snprintf(pos, poscap, "%s", p);
    return 1;
}
