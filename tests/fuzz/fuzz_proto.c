/* fuzz_proto.c -- libFuzzer harness for the text + RESP request parser
 * (engine/proto/proto.h).
 *
 * Input: byte 0 picks the limits (defaults, or small ones so the limit paths
 * are reached with short inputs), byte 1 seeds the split points; the rest is
 * the byte stream a client sends. The stream is parsed twice, the way the
 * server does (parse, drop `consumed`, parse again):
 *   whole: all bytes in one buffer;
 *   split: bytes arriving in random chunks, each call given a fresh
 *          exact-size copy of the pending bytes (the buffer "moves", as the
 *          header allows, and ASan sees any read past len).
 * Invariants: consumed in 1..len after DONE/ERR, args inside the consumed
 * bytes, argc <= max_args, and the two runs give the same requests -- except
 * that a split run may legitimately stop earlier with the fatal "no newline
 * within max-line" error where the whole run saw a newline later. A fatal
 * error consumes whatever is buffered (the connection closes), so its
 * `consumed` is not compared.
 * Every parsed request is also encoded back through the reply encoders.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "engine/proto/proto.h"
#include "tests/fuzz/fuzz_util.h"

#define MAX_EVENTS 256

typedef struct event {
    int ret, argc, err, fatal;
    size_t consumed;
    uint64_t arghash; /* FNV-1a over every argument (length-prefixed) */
} event;

typedef struct run {
    event ev[MAX_EVENTS];
    int n;
    int ended_fatal;
} run;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

static qbuf out;

/* Checks one DONE/ERR result against buf[0..len) and records it; returns 1
 * when the stream must stop (fatal error or event table full). */
static int record(run *r, proto_parser *p, int ret, const char *buf, size_t len) {
    fuzz_assert(p->consumed >= 1 && p->consumed <= len);
    event e = {.ret = ret, .consumed = p->consumed, .arghash = 1469598103934665603ull};
    if (ret == PROTO_DONE) {
        fuzz_assert(p->argc >= 0 && p->argc <= p->lim.max_args);
        fuzz_assert(p->kind == PROTO_TEXT || p->kind == PROTO_RESP);
        e.argc = p->argc;
        for (int i = 0; i < p->argc; i++) {
            const proto_arg *a = &p->argv[i];
            fuzz_assert(a->p >= buf && a->p + a->len <= buf + p->consumed);
            e.arghash = fnv(e.arghash, &a->len, sizeof a->len);
            e.arghash = fnv(e.arghash, a->p, a->len);
            qbuf_reset(&out);
            if (proto_reply_bulk(&out, p->kind, a->p, a->len) < 0 ||
                proto_reply_item(&out, p->kind, a->p, a->len) < 0 ||
                proto_reply_error_arg(&out, p->kind, ERR_ARGS, "bad", a->p, a->len) < 0)
                abort();
        }
    } else {
        fuzz_assert(ret == PROTO_ERR);
        fuzz_assert(p->err >= 0 && p->err < ERR__COUNT && p->errmsg);
        e.err = p->err;
        e.fatal = p->fatal;
        qbuf_reset(&out);
        if (proto_reply_error(&out, p->kind, p->err, p->errmsg) < 0) abort();
        /* an error reply is one line: no CR or LF inside the message */
        fuzz_assert(out.len >= 2 && !memchr(out.data, '\n', out.len - 1));
    }
    if (r->n < MAX_EVENTS) r->ev[r->n++] = e;
    if (ret == PROTO_ERR && p->fatal) r->ended_fatal = 1;
    return r->ended_fatal || r->n == MAX_EVENTS;
}

static void run_whole(run *r, const proto_limits *lim, proto_arg *argv, const uint8_t *d, size_t n) {
    proto_parser p;
    proto_parser_init(&p, lim, argv);
    char *buf = fuzz_dup(d, n);
    size_t off = 0;
    while (off < n) {
        int ret = proto_parse(&p, buf + off, n - off);
        if (ret == PROTO_MORE) break;
        if (record(r, &p, ret, buf + off, n - off)) break;
        off += p.consumed;
    }
    free(buf);
}

static void run_split(run *r, const proto_limits *lim, proto_arg *argv, const uint8_t *d, size_t n,
                      uint32_t seed) {
    proto_parser p;
    proto_parser_init(&p, lim, argv);
    fuzz_rng rng;
    fuzz_rng_seed(&rng, seed);
    size_t start = 0, avail = 0; /* pending bytes are d[start .. avail) */
    while (avail < n) {
        avail += fuzz_chunk(&rng, n - avail);
        for (;;) {
            size_t len = avail - start;
            if (len == 0) break;
            char *buf = fuzz_dup(d + start, len); /* the buffer moves on every call */
            int ret = proto_parse(&p, buf, len);
            if (ret == PROTO_MORE) {
                free(buf);
                break;
            }
            int stop = record(r, &p, ret, buf, len);
            start += p.consumed;
            free(buf);
            if (stop) return;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    proto_limits lim = {PROTO_MAX_LINE, PROTO_MAX_ARGS, PROTO_MAX_BULK};
    if (data[0] & 1) lim = (proto_limits){8 + data[0] % 32, 1 + data[0] % 5, data[0] % 24};
    proto_arg argv[PROTO_MAX_ARGS];
    static run whole, split;
    memset(&whole, 0, sizeof whole);
    memset(&split, 0, sizeof split);
    run_whole(&whole, &lim, argv, data + 2, size - 2);
    run_split(&split, &lim, argv, data + 2, size - 2, data[1]);
    int n = whole.n < split.n ? whole.n : split.n;
    for (int i = 0; i < n; i++) {
        const event *a = &whole.ev[i], *b = &split.ev[i];
        if (a->ret == b->ret && a->argc == b->argc && a->err == b->err && a->fatal == b->fatal &&
            (a->fatal || a->consumed == b->consumed) && a->arghash == b->arghash)
            continue;
        /* allowed: the split run saw max-line bytes without a newline first */
        if (b->ret == PROTO_ERR && b->fatal && b->err == ERR_TOOLONG && i == split.n - 1) return 0;
        fuzz_fail("request %d differs: whole ret=%d argc=%d err=%d fatal=%d consumed=%zu, "
                  "split ret=%d argc=%d err=%d fatal=%d consumed=%zu", i, a->ret, a->argc, a->err,
                  a->fatal, a->consumed, b->ret, b->argc, b->err, b->fatal, b->consumed);
    }
    if (whole.n != split.n && whole.n < MAX_EVENTS && split.n < MAX_EVENTS) {
        const run *shorter = whole.n < split.n ? &whole : &split;
        /* The whole run ends with a fatal error where the split run may have
         * stopped at the same place with one too (same event); anything else
         * means the two runs saw a different number of requests. */
        if (!(shorter == &split && split.ended_fatal))
            fuzz_fail("whole run has %d requests, split run %d", whole.n, split.n);
    }
    return 0;
}
