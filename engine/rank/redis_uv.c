/* redis_uv.c -- hiredis 0.14 async context driven by a libuv poll handle.
 * See redis_uv.h for why it exists and how errors are delivered.
 *
 * State: ruv_ev { ac, poll handle, events wanted }. `events` mirrors what the
 * hooks asked for; the poll is (re)started with exactly those, or stopped
 * when none. libuv stops the handle itself after a poll error. Attaching
 * asks for a write event at once so that the connect result is reported
 * even before the first command.
 */
#include "engine/rank/redis_uv.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"

typedef struct ruv_ev {
    redisAsyncContext *ac; /* NULL once hiredis called cleanup */
    uv_poll_t poll;
    int events;
} ruv_ev;

static void on_poll(uv_poll_t *h, int status, int events);

static void apply(ruv_ev *p) {
    int rc = 0;
    if (p->events) rc = uv_poll_start(&p->poll, p->events, on_poll);
    else rc = uv_poll_stop(&p->poll);
    /* uv_poll_start only fails for a closing handle or bad flags: both bugs */
    if (rc) LOG_E("redis.poll_failed", "error=%s", uv_strerror(rc));
}

/* A poll error hiredis did not see: make it see one, then free. */
static void force_error(ruv_ev *p, int status) {
    redisAsyncContext *ac = p->ac;
    int was_connected = (ac->c.flags & REDIS_CONNECTED) != 0;
    ac->c.err = REDIS_ERR_IO;
    snprintf(ac->c.errstr, sizeof ac->c.errstr, "poll: %s", uv_strerror(status));
    ac->err = ac->c.err;
    ac->errstr = ac->c.errstr;
    if (!was_connected && ac->onConnect) ac->onConnect(ac, REDIS_ERR);
    redisAsyncFree(ac); /* pending callbacks get NULL; cleanup clears p->ac */
}

static void on_poll(uv_poll_t *h, int status, int events) {
    ruv_ev *p = h->data;
    if (!p->ac) return;
    if (status < 0) {
        p->events = 0; /* libuv already stopped the handle */
        if (!(p->ac->c.flags & REDIS_CONNECTED)) redisAsyncHandleWrite(p->ac); /* connect check: SO_ERROR */
        else redisAsyncHandleRead(p->ac);
        if (p->ac) force_error(p, status);
        return;
    }
    if (events & UV_READABLE) redisAsyncHandleRead(p->ac);
    if (p->ac && (events & UV_WRITABLE)) redisAsyncHandleWrite(p->ac);
}

static void add_read(void *pd) {
    ruv_ev *p = pd;
    if (p->events & UV_READABLE) return;
    p->events |= UV_READABLE;
    apply(p);
}

static void del_read(void *pd) {
    ruv_ev *p = pd;
    if (!(p->events & UV_READABLE)) return;
    p->events &= ~UV_READABLE;
    apply(p);
}

static void add_write(void *pd) {
    ruv_ev *p = pd;
    if (p->events & UV_WRITABLE) return;
    p->events |= UV_WRITABLE;
    apply(p);
}

static void del_write(void *pd) {
    ruv_ev *p = pd;
    if (!(p->events & UV_WRITABLE)) return;
    p->events &= ~UV_WRITABLE;
    apply(p);
}

static void on_close(uv_handle_t *h) { qfree(h->data); }

static void cleanup(void *pd) {
    ruv_ev *p = pd;
    p->ac = NULL;
    p->events = 0;
    uv_close((uv_handle_t *)&p->poll, on_close);
}

int ruv_attach(redisAsyncContext *ac, uv_loop_t *loop) {
    if (ac->ev.data) return UV_EBUSY;
    ruv_ev *p = qcalloc(1, sizeof *p);
    if (!p) return UV_ENOMEM;
    int rc = uv_poll_init(loop, &p->poll, ac->c.fd);
    if (rc) {
        qfree(p);
        return rc;
    }
    p->ac = ac;
    p->poll.data = p;
    ac->ev.data = p;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    /* hiredis 0.14 only notices the connect on the first write event, and
     * asks for one only when a command is queued: ask now, so the connect
     * (or its failure) is reported even on an idle client. */
    add_write(p);
    return 0;
}
