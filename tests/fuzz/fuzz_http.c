/* fuzz_http.c -- libFuzzer harness for the HTTP request path (engine/proto/http.h).
 *
 * Input: byte 0 picks the limits (defaults, or small ones so 413/414/431 are
 * reached with short inputs), byte 1 seeds the split points; the rest is the
 * byte stream of one connection. It is fed twice, to two http_conn:
 *   whole: one http_conn_feed of every byte;
 *   split: random chunks, each a fresh exact-size heap copy freed right after
 *          the feed (ASan catches a request pointing into an old feed).
 * Each delivered request is checked (NUL-terminated path and params, lengths
 * in range, error_status 0 or 400 with a code) and summarized by a hash;
 * both runs must deliver the same requests and end in the same state (both
 * broken, or both fine with the same idle flag). After a stream error, later feeds must
 * return the same status without calling back. Every request and stream
 * error is also answered through http_write_head / http_write_json_error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "engine/proto/http.h"
#include "tests/fuzz/fuzz_util.h"

#define MAX_REQS 64

typedef struct run {
    uint64_t h[MAX_REQS];
    int n;
    int calls_after_end; /* callbacks after a stream error: must stay 0 */
    int ended;
} run;

static qbuf out;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ull;
    return h;
}
static uint64_t fnv_kv(uint64_t h, const char *p, size_t n) {
    h = fnv(h, &n, sizeof n);
    return n ? fnv(h, p, n) : h;
}

static int on_request(const http_request *r, void *ud) {
    run *rr = ud;
    if (rr->ended) rr->calls_after_end++;
    fuzz_assert(r->path && r->path[r->path_len] == 0);
    fuzz_assert(r->method_name && r->nheaders <= HTTP_MAX_HEADERS && r->nparams <= HTTP_MAX_PARAMS);
    fuzz_assert(r->error_status == 0 || (r->error_status == 400 && r->error_code && r->error_message));
    fuzz_assert(!r->body_len || r->body);
    uint64_t h = 1469598103934665603ull;
    h = fnv(h, &r->method, sizeof r->method);
    h = fnv_kv(h, r->method_name, strlen(r->method_name));
    h = fnv(h, &r->keep_alive, sizeof r->keep_alive);
    h = fnv(h, &r->error_status, sizeof r->error_status);
    if (r->error_code) h = fnv_kv(h, r->error_code, strlen(r->error_code));
    h = fnv_kv(h, r->path, r->path_len);
    h = fnv_kv(h, r->target, r->target_len);
    for (size_t i = 0; i < r->nheaders; i++) {
        h = fnv_kv(h, r->headers[i].name, r->headers[i].name_len);
        h = fnv_kv(h, r->headers[i].value, r->headers[i].value_len);
    }
    for (size_t i = 0; i < r->nparams; i++) {
        const http_kv *kv = &r->params[i];
        fuzz_assert(kv->value[kv->value_len] == 0);
        h = fnv_kv(h, kv->name, kv->name_len);
        h = fnv_kv(h, kv->value, kv->value_len);
    }
    h = fnv_kv(h, r->body, r->body_len);
    const char *v;
    size_t vl;
    if (http_param(r, "q", &v, &vl)) fuzz_assert(v[vl] == 0);
    if (http_header(r, "content-type", &v, &vl)) fuzz_assert(r->content_type != NULL);
    if (r->error_status && qutf8_valid(r->error_message, strlen(r->error_message))) {
        http_resp_opts o = {.keep_alive = r->keep_alive, .cors_origin = "*", .head_only = r->method == HTTP_REQ_HEAD};
        qbuf_reset(&out);
        if (http_write_json_error(&out, r->error_status, r->error_code, r->error_message, &o) < 0) abort();
    }
    if (rr->n < MAX_REQS) rr->h[rr->n++] = h;
    return 0;
}

static void stream_error_reply(http_conn *c, int st) {
    if (st <= 0) return;
    const char *code = http_conn_error_code(c), *msg = http_conn_error(c);
    fuzz_assert(code && msg);
    qbuf_reset(&out);
    http_resp_opts o = {.keep_alive = 0};
    if (qutf8_valid(msg, strlen(msg)) && http_write_json_error(&out, st, code, msg, &o) < 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    http_limits lim;
    http_limits_default(&lim);
    if (data[0] & 1) {
        lim.max_header_bytes = 64 + (size_t)data[0] * 2;
        lim.max_url_bytes = 16 + data[0] % 64;
        lim.max_body_bytes = 1 + data[0] % 32;
    }
    const char *s = (const char *)data + 2;
    size_t n = size - 2;
    static run whole, split;
    memset(&whole, 0, sizeof whole);
    memset(&split, 0, sizeof split);

    http_conn *a = http_conn_new(&lim), *b = http_conn_new(&lim);
    if (!a || !b) abort();
    char *copy = fuzz_dup(s, n);
    int sa = http_conn_feed(a, copy, n, on_request, &whole);
    free(copy);
    fuzz_assert(sa == 0 || (sa >= 400 && sa <= 599));
    stream_error_reply(a, sa);

    fuzz_rng rng;
    fuzz_rng_seed(&rng, data[1]);
    int sb = 0;
    for (size_t off = 0; off < n;) {
        size_t k = fuzz_chunk(&rng, n - off);
        char *chunk = fuzz_dup(s + off, k);
        int st = http_conn_feed(b, chunk, k, on_request, &split);
        free(chunk);
        off += k;
        fuzz_assert(st == 0 || (st >= 400 && st <= 599));
        if (sb) fuzz_assert(st == sb); /* a stream error is sticky */
        if (st && !sb) {
            sb = st;
            split.ended = 1;
            stream_error_reply(b, sb);
        }
    }
    fuzz_assert(split.calls_after_end == 0);
    /* Both broken is agreement: which error is seen first can depend on the
     * split (a URL both over max-url and holding a bad byte is 414 when a
     * chunk ends inside it, 400 when the bad byte arrives in the same feed
     * as the rest: http-parser reports URL bytes at chunk ends). */
    if (!sa != !sb) fuzz_fail("whole feed returned %d, split feeds %d", sa, sb);
    if (whole.n != split.n) fuzz_fail("whole feed delivered %d requests, split feeds %d", whole.n, split.n);
    for (int i = 0; i < whole.n; i++)
        if (whole.h[i] != split.h[i]) fuzz_fail("request %d differs between whole and split feeds", i);
    if (sa) {
        fuzz_assert(http_conn_feed(a, "GET / HTTP/1.1\r\n\r\n", 18, on_request, &whole) == sa);
    } else {
        fuzz_assert(http_conn_idle(a) == http_conn_idle(b));
    }
    http_conn_free(a);
    http_conn_free(b);
    return 0;
}
