/* redis_uv.h -- the hiredis 0.14 <-> libuv adapter (ruv_*).
 *
 * Why not hiredis's adapters/libuv.h: on Debian 12 (hiredis 0.14.1) its poll
 * callback returns early on any poll error, and libuv reports a refused or
 * reset socket exactly that way (status UV_EBADF after EPOLLERR, the poll
 * handle already stopped). hiredis then never learns: no connect callback,
 * no disconnect callback, pending replies wait forever.
 *
 * What this one does: one uv_poll_t per redisAsyncContext, driven by the
 * public ac->ev hooks (addRead/delRead/addWrite/delWrite/cleanup). On a poll
 * error it lets hiredis see the socket error: a context that is not yet
 * connected gets redisAsyncHandleWrite (hiredis reads SO_ERROR, calls the
 * connect callback with REDIS_ERR and frees the context), a connected one
 * gets redisAsyncHandleRead (the read fails: disconnect callback, pending
 * callbacks with a NULL reply). If the context survives that (the error was
 * not visible to hiredis), the adapter sets ac->err to the poll error, calls
 * the connect callback with REDIS_ERR when it never connected, and frees the
 * context with redisAsyncFree, so the owner always hears about it.
 *
 * Lifetimes: the adapter's state (ruv_ev) is allocated by ruv_attach and
 * freed in the uv_close callback of its poll handle, which hiredis triggers
 * through the cleanup hook when it frees the context. After cleanup the poll
 * callback never touches the context (ev->ac is NULL). The loop must run once
 * after the context is freed for the handle to close (uv_loop_close
 * otherwise reports it busy).
 *
 * Errors: ruv_attach returns 0, or a negative libuv error code (UV_ENOMEM,
 * UV_EBUSY when the context already has an event library attached, or
 * uv_poll_init's error); on error nothing is attached and the caller still
 * owns (and must free) the context.
 */
#ifndef QAC_REDIS_UV_H
#define QAC_REDIS_UV_H

#include <hiredis/async.h>
#include <uv.h>

/* Attaches ac (fresh from redisAsyncConnect, ac->err == 0) to loop. */
int ruv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
